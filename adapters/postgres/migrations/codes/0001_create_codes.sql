-- govkit codes store (package codes): issued code records, subjects with
-- their append-only, hash-chained points ledgers, revocations, the public
-- keys of the trust list, list counters, and which rows of the shared
-- govkit_outbox this store wrote.
--
-- Identifiers that codes.Store returns "in ID order" compare with
-- COLLATE "C", byte by byte as Go compares strings, whatever the
-- database's collation. Revocation ids (16 random bytes) are stored as
-- uuid: fixed width, compared byte by byte as Go compares them, and a
-- smaller index entry than bytea's.

-- One row per subject: the codes.Subject, replaced whole on every version.
CREATE TABLE govkit_codes_subject (
    id           text COLLATE "C" PRIMARY KEY,
    kind         integer     NOT NULL,
    jurisdiction text        NOT NULL,
    created      timestamptz NOT NULL,
    version      bigint      NOT NULL,
    score        bigint      NOT NULL,
    colour       smallint    NOT NULL,
    on_hold      bigint      NOT NULL,
    appeals      bigint      NOT NULL,
    entries      bigint      NOT NULL,
    head         bytea,      -- NULL when the ledger is empty
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- Subjects of some colours (the yellow and red ones of a status list), a
-- page at a time in ID order.
CREATE INDEX govkit_codes_subject_colour_idx ON govkit_codes_subject (colour, id);

-- One row per issued code (a rotating series is one row). Never updated.
CREATE TABLE govkit_codes_code (
    id           uuid        PRIMARY KEY, -- the revocation id
    subject      text COLLATE "C" NOT NULL,
    kind         integer     NOT NULL,
    jurisdiction text        NOT NULL,
    issuer       text        NOT NULL,
    key_id       bytea       NOT NULL,
    issued_at    timestamptz NOT NULL,
    not_before   timestamptz NOT NULL,
    expiry       timestamptz NOT NULL,
    steps        bigint      NOT NULL,
    issued_by    text        NOT NULL
);

-- A subject's codes in issue order.
CREATE INDEX govkit_codes_code_subject_idx ON govkit_codes_code (subject, issued_at, id);

-- The points ledgers: one row per entry, keyed by subject and sequence
-- number. An entry is inserted only if it follows the last one, so a
-- ledger never forks or skips; the hash chain (prev_hash, hash) is the
-- service's, stored as given.
CREATE TABLE govkit_codes_entry (
    subject         text COLLATE "C" NOT NULL REFERENCES govkit_codes_subject (id),
    seq             bigint      NOT NULL CHECK (seq > 0),
    entry_type      smallint    NOT NULL,
    points          bigint      NOT NULL,
    rule            text        NOT NULL,
    evidence_ref    text        NOT NULL,
    evidence_sha256 bytea       NOT NULL CHECK (octet_length(evidence_sha256) = 32),
    target          bigint      NOT NULL,
    recorder        text        NOT NULL,
    note            text        NOT NULL,
    idempotency_key text        NOT NULL,
    recorded_at     timestamptz NOT NULL,
    prev_hash       bytea,
    hash            bytea,
    PRIMARY KEY (subject, seq)
);

-- Append-only at the database level: UPDATE, DELETE and TRUNCATE fail with
-- SQLSTATE GKA01, as for the audit log, whatever the application does.
CREATE FUNCTION govkit_codes_entry_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'govkit_codes_entry is append-only: % refused', TG_OP
        USING ERRCODE = 'GKA01',
              HINT = 'ledger entries are never changed or removed: append an appeal or a decision instead';
END
$$;

CREATE TRIGGER govkit_codes_entry_append_only
    BEFORE UPDATE OR DELETE ON govkit_codes_entry
    FOR EACH ROW EXECUTE FUNCTION govkit_codes_entry_refuse_change();

CREATE TRIGGER govkit_codes_entry_no_truncate
    BEFORE TRUNCATE ON govkit_codes_entry
    FOR EACH STATEMENT EXECUTE FUNCTION govkit_codes_entry_refuse_change();

-- Revocations of one code each: millions of rows, only ever inserted. The
-- primary key checks that a revocation is new and gives the list its
-- order, a page at a time; it covers every column, so that reading the
-- list is an index-only scan of its leaf pages rather than a random visit
-- of the heap per revocation. (The store keeps a revocation's text short
-- enough for an index entry.)
CREATE TABLE govkit_codes_revocation (
    code       uuid        NOT NULL,
    subject    text        NOT NULL,
    before     timestamptz, -- NULL for none
    reason     text        NOT NULL,
    revoked_by text        NOT NULL,
    revoked_at timestamptz NOT NULL,
    CONSTRAINT govkit_codes_revocation_pkey PRIMARY KEY (code)
        INCLUDE (subject, before, reason, revoked_by, revoked_at)
);

-- Revocations of everything issued to a subject before a time: one per
-- subject, a later one replacing the earlier.
CREATE TABLE govkit_codes_subject_revocation (
    subject    text COLLATE "C" PRIMARY KEY,
    before     timestamptz, -- NULL for none
    reason     text        NOT NULL,
    revoked_by text        NOT NULL,
    revoked_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The public keys of the trust list, by key id. Only the public part is
-- kept: the DER SubjectPublicKeyInfo and what the key may sign.
CREATE TABLE govkit_codes_key (
    id         bytea       PRIMARY KEY CHECK (octet_length(id) = 8),
    algorithm  smallint    NOT NULL,
    spki       bytea,
    issuer     text        NOT NULL,
    usage      smallint    NOT NULL,
    kinds      integer[],  -- NULL for a nil list
    not_before timestamptz, -- NULL for none
    not_after  timestamptz, -- NULL for none
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- List counters (status epoch, revocation sequence). value holds the
-- uint64's bits.
CREATE TABLE govkit_codes_counter (
    name       text        PRIMARY KEY,
    value      bigint      NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The outbox is shared by every store; this table marks the messages the
-- codes store wrote, so that its Pending returns those alone. The key is
-- deferred: the mark is written before the message, in the same
-- transaction. Pruning published messages from govkit_outbox prunes their
-- marks with them.
CREATE TABLE govkit_codes_event (
    id uuid PRIMARY KEY REFERENCES govkit_outbox (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED
);
