-- govkit incident store: cases, their idempotency keys and their
-- hash-chained timelines. Events go to the shared govkit_outbox.

-- One row per case. doc holds the whole case (reporters' names and phone
-- numbers sealed with AES-GCM); the other columns copy what queries filter
-- on, so they can be indexed.
CREATE TABLE govkit_incident (
    id          uuid             PRIMARY KEY,
    version     bigint           NOT NULL,
    status      smallint         NOT NULL,
    category    text             NOT NULL,
    grid        text             NOT NULL,
    lat         double precision NOT NULL,
    lon         double precision NOT NULL,
    cell        bigint           NOT NULL,
    reported_at timestamptz      NOT NULL,
    overdue     boolean          NOT NULL,
    doc         jsonb            NOT NULL,
    updated_at  timestamptz      NOT NULL DEFAULT now()
);

-- Find: subtree of a grid code (grid LIKE '500107%'), status, category,
-- report time, overdue cases. Nearby: category and spatial cell.
CREATE INDEX govkit_incident_grid_idx ON govkit_incident (grid text_pattern_ops);
CREATE INDEX govkit_incident_status_idx ON govkit_incident (status);
CREATE INDEX govkit_incident_category_idx ON govkit_incident (category);
CREATE INDEX govkit_incident_reported_at_idx ON govkit_incident (reported_at);
CREATE INDEX govkit_incident_overdue_idx ON govkit_incident (id) WHERE overdue;
CREATE INDEX govkit_incident_nearby_idx ON govkit_incident (category, cell);

-- Idempotency keys: the primary key makes a key belong to one case.
CREATE TABLE govkit_incident_key (
    key      text PRIMARY KEY,
    incident uuid NOT NULL REFERENCES govkit_incident (id)
);
CREATE INDEX govkit_incident_key_incident_idx ON govkit_incident_key (incident);

-- Timelines, append-only: (incident, seq) is unique, so two writers cannot
-- both append entry n.
CREATE TABLE govkit_incident_timeline (
    incident    uuid        NOT NULL REFERENCES govkit_incident (id),
    seq         integer     NOT NULL,
    at          timestamptz NOT NULL,
    actor_id    text        NOT NULL,
    action      text        NOT NULL,
    from_status smallint    NOT NULL,
    to_status   smallint    NOT NULL,
    note        text        NOT NULL,
    evidence    jsonb       NOT NULL,
    late        boolean     NOT NULL,
    prev_hash   bytea,
    hash        bytea,
    PRIMARY KEY (incident, seq)
);
