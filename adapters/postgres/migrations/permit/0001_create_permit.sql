-- govkit permit store: bundle templates, applications, road works
-- (excavations, joint excavations, moratoria), and which rows of the
-- shared govkit_outbox this store wrote.
--
-- Every record is stored whole in doc (jsonb, the store's own layout);
-- the other columns copy what the store looks records up and filters by,
-- so that they can be indexed. Text compared by prefix (jurisdiction) has
-- a text_pattern_ops index, so that LIKE and the range operators use it
-- whatever the database's collation.

-- Templates: created once per (id, version), never updated. The id sorts
-- bytewise (COLLATE "C"), as Templates lists them, so the primary key
-- serves both the lookup of a version, the latest version (a backward scan)
-- and the listing.
CREATE TABLE govkit_permit_template (
    id         text COLLATE "C" NOT NULL,
    version    bigint           NOT NULL,
    doc        jsonb            NOT NULL,
    created_at timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (id, version)
);

-- Applications. key is the idempotency key the application was started
-- with, NULL for none; the unique index makes a key belong to one
-- application. departments lists the departments holding an item in
-- review (the worklists of ApplicationQuery.Department), so it changes
-- with every update. Personal data (answers, offers, outputs, the
-- principal of an authorisation) is sealed inside doc.
CREATE TABLE govkit_permit_application (
    id               uuid        PRIMARY KEY,
    version          bigint      NOT NULL,
    key              text,
    template         text        NOT NULL,
    template_version bigint      NOT NULL,
    jurisdiction     text        NOT NULL,
    applicant        text        NOT NULL,
    status           smallint    NOT NULL,
    departments      text[]      NOT NULL,
    doc              jsonb       NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX govkit_permit_application_key_idx ON govkit_permit_application (key);
CREATE INDEX govkit_permit_application_jurisdiction_idx ON govkit_permit_application (jurisdiction text_pattern_ops);
CREATE INDEX govkit_permit_application_template_idx ON govkit_permit_application (template);
CREATE INDEX govkit_permit_application_status_idx ON govkit_permit_application (status);
CREATE INDEX govkit_permit_application_applicant_idx ON govkit_permit_application (applicant);
CREATE INDEX govkit_permit_application_departments_idx ON govkit_permit_application USING gin (departments);

-- Excavation applications: idempotency key as for applications; segment,
-- promoter, jurisdiction, the joint excavation (NULL for none) and the
-- works' window, which ExcavationQuery.During compares with
-- (window_end > start AND window_start < end).
CREATE TABLE govkit_permit_excavation (
    id           uuid        PRIMARY KEY,
    version      bigint      NOT NULL,
    key          text,
    promoter     text        NOT NULL,
    segment      text        NOT NULL,
    jurisdiction text        NOT NULL,
    status       smallint    NOT NULL,
    joint        uuid,
    window_start timestamptz NOT NULL,
    window_end   timestamptz NOT NULL,
    doc          jsonb       NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX govkit_permit_excavation_key_idx ON govkit_permit_excavation (key);
CREATE INDEX govkit_permit_excavation_segment_idx ON govkit_permit_excavation (segment);
CREATE INDEX govkit_permit_excavation_promoter_idx ON govkit_permit_excavation (promoter);
CREATE INDEX govkit_permit_excavation_jurisdiction_idx ON govkit_permit_excavation (jurisdiction text_pattern_ops);
CREATE INDEX govkit_permit_excavation_joint_idx ON govkit_permit_excavation (joint) WHERE joint IS NOT NULL;
CREATE INDEX govkit_permit_excavation_window_idx ON govkit_permit_excavation (window_start, window_end);

-- Joint excavations: found by jurisdiction and status.
CREATE TABLE govkit_permit_joint (
    id           uuid        PRIMARY KEY,
    version      bigint      NOT NULL,
    jurisdiction text        NOT NULL,
    status       smallint    NOT NULL,
    doc          jsonb       NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX govkit_permit_joint_jurisdiction_idx ON govkit_permit_joint (jurisdiction text_pattern_ops);

-- Moratoria: found by segment, jurisdiction and the period in force
-- (until_at > start AND from_at < end).
CREATE TABLE govkit_permit_moratorium (
    id           uuid        PRIMARY KEY,
    version      bigint      NOT NULL,
    segment      text        NOT NULL,
    jurisdiction text        NOT NULL,
    from_at      timestamptz NOT NULL,
    until_at     timestamptz NOT NULL,
    doc          jsonb       NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX govkit_permit_moratorium_segment_idx ON govkit_permit_moratorium (segment, until_at);
CREATE INDEX govkit_permit_moratorium_jurisdiction_idx ON govkit_permit_moratorium (jurisdiction text_pattern_ops);
CREATE INDEX govkit_permit_moratorium_until_idx ON govkit_permit_moratorium (until_at);

-- The outbox is shared by every store; this table marks the messages the
-- permit store wrote, so that its Pending returns those alone. The key is
-- deferred: the mark is written before the message, in the same
-- transaction. Pruning published messages from govkit_outbox prunes their
-- marks with them.
CREATE TABLE govkit_permit_event (
    id uuid PRIMARY KEY REFERENCES govkit_outbox (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED
);
