-- govkit transactional outbox: messages written in the same transaction as
-- the state change they describe, published later by a relay.
CREATE TABLE govkit_outbox (
    seq          bigserial   PRIMARY KEY,
    id           uuid        NOT NULL UNIQUE,
    subject      text        NOT NULL,
    key          text        NOT NULL DEFAULT '',
    headers      jsonb       NOT NULL DEFAULT '{}',
    data         bytea       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz NULL
);

-- The relay reads unpublished messages in seq order; published rows are
-- left out of the index so it stays small however long they are kept.
CREATE INDEX govkit_outbox_unpublished_idx
    ON govkit_outbox (seq)
    WHERE published_at IS NULL;
