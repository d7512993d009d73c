-- govkit dispatch store: work orders, case files, and which rows of the
-- shared govkit_outbox this store wrote.

-- One row per work order. doc holds the whole order; the other columns
-- copy what Orders filters on, so they can be indexed.
CREATE TABLE govkit_dispatch_order (
    id         uuid        PRIMARY KEY,
    version    bigint      NOT NULL,
    case_id    text        NOT NULL,
    body       text        NOT NULL,
    status     smallint    NOT NULL,
    kind       smallint    NOT NULL,
    grid       text        NOT NULL,
    offered_at timestamptz NOT NULL,
    doc        jsonb       NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Orders: a case's branches, a body's queue, a subtree of a grid code
-- (grid LIKE '500107%', with text_pattern_ops so that LIKE and the range
-- operators use it whatever the collation), an offer-time window, and the
-- volunteer tasks waiting for a volunteer (kind and status).
CREATE INDEX govkit_dispatch_order_case_idx ON govkit_dispatch_order (case_id);
CREATE INDEX govkit_dispatch_order_body_idx ON govkit_dispatch_order (body);
CREATE INDEX govkit_dispatch_order_grid_idx ON govkit_dispatch_order (grid text_pattern_ops);
CREATE INDEX govkit_dispatch_order_offered_at_idx ON govkit_dispatch_order (offered_at);
CREATE INDEX govkit_dispatch_order_kind_status_idx ON govkit_dispatch_order (kind, status);

-- One row per case: dispatch's view of it, whole in doc.
CREATE TABLE govkit_dispatch_case (
    case_id    text        PRIMARY KEY,
    version    bigint      NOT NULL,
    doc        jsonb       NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The outbox is shared by every store; this table marks the messages the
-- dispatch store wrote, so that its Pending returns those alone. The key
-- is deferred: the mark is written before the message, in the same
-- transaction. Pruning published messages from govkit_outbox prunes their
-- marks with them.
CREATE TABLE govkit_dispatch_event (
    id uuid PRIMARY KEY REFERENCES govkit_outbox (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED
);
