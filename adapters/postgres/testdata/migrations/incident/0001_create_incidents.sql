CREATE TABLE incidents (
    id         bigserial   PRIMARY KEY,
    title      text        NOT NULL,
    status     text        NOT NULL DEFAULT 'open',
    created_at timestamptz NOT NULL DEFAULT now()
);
