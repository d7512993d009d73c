-- govkit audit log: an append-only, hash-chained record of access decisions
-- (see package github.com/govkit/govkit/audit). Each row's hash covers its
-- fields and the previous row's hash; the application verifies the chain.
CREATE TABLE govkit_audit (
    seq           bigint      PRIMARY KEY CHECK (seq > 0),
    time          timestamptz NOT NULL,
    actor_id      text        NOT NULL DEFAULT '',
    actor_kind    text        NOT NULL DEFAULT '',
    action        text        NOT NULL,
    resource_kind text        NOT NULL,
    resource_id   text        NOT NULL DEFAULT '',
    jurisdiction  text        NOT NULL DEFAULT '',
    department    text        NOT NULL DEFAULT '',
    allowed       boolean     NOT NULL,
    reason        text        NOT NULL DEFAULT '',
    prev_hash     bytea       NOT NULL CHECK (octet_length(prev_hash) = 32),
    hash          bytea       NOT NULL CHECK (octet_length(hash) = 32)
);

-- Queries filter by actor, by resource or by time and return rows in seq
-- order; seq ends the first two indexes so that they also give the order.
CREATE INDEX govkit_audit_actor_idx ON govkit_audit (actor_id, seq);
CREATE INDEX govkit_audit_resource_idx ON govkit_audit (resource_kind, resource_id, seq);
CREATE INDEX govkit_audit_time_idx ON govkit_audit (time);

-- Append-only at the database level: UPDATE, DELETE and TRUNCATE fail,
-- whatever the application does. (The table's owner can still disable the
-- triggers; the hash chain is what shows that someone did.)
CREATE FUNCTION govkit_audit_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'govkit_audit is append-only: % refused', TG_OP
        USING ERRCODE = 'GKA01',
              HINT = 'audit entries are never changed or removed';
END
$$;

CREATE TRIGGER govkit_audit_append_only
    BEFORE UPDATE OR DELETE ON govkit_audit
    FOR EACH ROW EXECUTE FUNCTION govkit_audit_refuse_change();

CREATE TRIGGER govkit_audit_no_truncate
    BEFORE TRUNCATE ON govkit_audit
    FOR EACH STATEMENT EXECUTE FUNCTION govkit_audit_refuse_change();
