package postgres

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/govkit/govkit/audit"
	"github.com/govkit/govkit/region"
)

//go:embed migrations/audit/*.sql
var auditMigrationFS embed.FS

// AuditComponent is the component name under which the audit log's
// migrations are recorded in govkit_schema_migrations.
const AuditComponent = "audit"

// SQLStateAppendOnly is the SQLSTATE of the error PostgreSQL raises when
// something tries to UPDATE, DELETE or TRUNCATE the audit log table.
const SQLStateAppendOnly = "GKA01"

// IsAppendOnlyViolation reports whether err (or an error it wraps) is
// PostgreSQL refusing to change or remove audit log rows.
func IsAppendOnlyViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == SQLStateAppendOnly
}

// MigrateAudit applies the migrations of the audit log table govkit_audit
// (component [AuditComponent]). [NewAuditStore] calls it.
func (db *DB) MigrateAudit(ctx context.Context) error {
	migs, err := LoadMigrations(auditMigrationFS, "migrations/audit")
	if err != nil {
		return err
	}
	return db.Migrate(ctx, AuditComponent, migs)
}

// AuditStore is an [audit.Store] on PostgreSQL: the table govkit_audit,
// one row per entry. A trigger makes the table append-only: UPDATE, DELETE
// and TRUNCATE fail (see [IsAppendOnlyViolation]). Several processes may
// append to one table at once; each entry is inserted only if it follows
// the head, so the chain never forks or skips. It is safe for concurrent
// use. Create one with [NewAuditStore].
type AuditStore struct {
	db *DB
}

var (
	_ audit.Store      = (*AuditStore)(nil)
	_ audit.HeadLocker = (*AuditStore)(nil)
)

// auditQuerier is what the store needs of a pool or a transaction.
type auditQuerier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// NewAuditStore applies the audit log's migrations ([DB.MigrateAudit]) and
// returns a store on db. It is safe to call from several processes at
// once. A nil db is an error matching [ErrInvalidArgument].
func NewAuditStore(ctx context.Context, db *DB) (*AuditStore, error) {
	if db == nil {
		return nil, fmt.Errorf("%w: NewAuditStore needs a DB", ErrInvalidArgument)
	}
	if err := db.MigrateAudit(ctx); err != nil {
		return nil, err
	}
	return &AuditStore{db: db}, nil
}

const auditColumns = `seq, time, actor_id, actor_kind, action, resource_kind, resource_id,
	jurisdiction, department, allowed, reason, prev_hash, hash`

// appendAudit inserts the entry only if it follows the head, in one
// statement: entry 1 needs an empty table, entry n needs entry n-1 with
// the given hash (rows never change, so that check cannot go stale) and
// no entry n yet (the primary key; ON CONFLICT waits for a concurrent
// insert of n to commit or roll back). No row is inserted otherwise.
const appendAudit = `INSERT INTO govkit_audit (` + auditColumns + `)
SELECT $1::bigint, $2::timestamptz, $3::text, $4::text, $5::text, $6::text, $7::text,
	$8::text, $9::text, $10::boolean, $11::text, $12::bytea, $13::bytea
WHERE $1::bigint = 1
   OR EXISTS (SELECT 1 FROM govkit_audit WHERE seq = $1::bigint - 1 AND hash = $12::bytea)
ON CONFLICT (seq) DO NOTHING`

// lockAudit takes a transaction-scoped advisory lock on the head of this
// govkit_audit table (its OID tells it from the tables of other schemas).
const lockAudit = `SELECT pg_advisory_xact_lock(hashtextextended('govkit.audit', 'govkit_audit'::regclass::oid::bigint))`

// Append implements [audit.Store.Append] with one INSERT that checks the
// head itself, so it needs no lock.
func (s *AuditStore) Append(ctx context.Context, e audit.Entry) error {
	return appendAuditEntry(ctx, s.db.pool, e)
}

// AppendNext implements [audit.HeadLocker]: in one transaction it takes an
// advisory lock on the table's head, reads the head, seals and inserts.
// Writers that use it in any process queue on the lock instead of
// conflicting; appends that do not are still checked by the INSERT.
func (s *AuditStore) AppendNext(ctx context.Context, seal func(head audit.Entry) (audit.Entry, error)) error {
	return s.db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, lockAudit); err != nil {
			return fmt.Errorf("postgres: lock audit head: %w", err)
		}
		head, _, err := auditHead(ctx, tx)
		if err != nil {
			return err
		}
		e, err := seal(head)
		if err != nil {
			return err
		}
		return appendAuditEntry(ctx, tx, e)
	})
}

// appendAuditEntry validates e and inserts it if it follows the head.
func appendAuditEntry(ctx context.Context, q auditQuerier, e audit.Entry) error {
	if err := e.Validate(); err != nil {
		return err
	}
	if e.Seq > math.MaxInt64 {
		return &audit.EntryError{Seq: e.Seq, Field: "Seq", Reason: "does not fit a PostgreSQL bigint"}
	}
	if e.Seq == 1 && !bytes.Equal(e.PrevHash, make([]byte, audit.HashSize)) {
		return auditConflict(ctx, q, e, "PrevHash of entry 1 is not zero")
	}
	tag, err := q.Exec(ctx, appendAudit,
		int64(e.Seq), audit.NormalizeTime(e.Time), e.ActorID, e.ActorKind, e.Action, e.ResourceKind,
		e.ResourceID, string(e.Jurisdiction), e.Department, e.Allowed, e.Reason, e.PrevHash, e.Hash)
	if err != nil {
		return fmt.Errorf("postgres: append audit entry %d: %w", e.Seq, err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	return auditConflict(ctx, q, e, "")
}

// auditConflict builds the ConflictError for e, reading the head for
// details.
func auditConflict(ctx context.Context, q auditQuerier, e audit.Entry, reason string) error {
	head, _, err := auditHead(ctx, q)
	switch {
	case reason != "":
	case err != nil:
		reason = "the head could not be read: " + err.Error()
	case e.Seq != head.Seq+1:
		reason = "the next Seq is " + strconv.FormatUint(head.Seq+1, 10)
	default:
		reason = "PrevHash is not the head's Hash"
	}
	return &audit.ConflictError{Seq: e.Seq, HeadSeq: head.Seq, Reason: reason}
}

// Head implements [audit.Store.Head].
func (s *AuditStore) Head(ctx context.Context) (audit.Entry, bool, error) {
	return auditHead(ctx, s.db.pool)
}

func auditHead(ctx context.Context, q auditQuerier) (audit.Entry, bool, error) {
	rows, err := q.Query(ctx, `SELECT `+auditColumns+` FROM govkit_audit ORDER BY seq DESC LIMIT 1`)
	if err != nil {
		return audit.Entry{}, false, fmt.Errorf("postgres: read audit head: %w", err)
	}
	es, err := collectAudit(rows)
	if err != nil {
		return audit.Entry{}, false, fmt.Errorf("postgres: read audit head: %w", err)
	}
	if len(es) == 0 {
		return audit.Entry{}, false, nil
	}
	return es[0], true, nil
}

// Range implements [audit.Store.Range].
func (s *AuditStore) Range(ctx context.Context, fromSeq uint64, limit int) ([]audit.Entry, error) {
	return s.Query(ctx, audit.Query{FromSeq: fromSeq, Limit: limit})
}

// Query implements [audit.Store.Query] with one SELECT, which the indexes
// on (actor_id, seq), (resource_kind, resource_id, seq) and time serve.
func (s *AuditStore) Query(ctx context.Context, q audit.Query) ([]audit.Entry, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	limit, _ := audit.NormalizeLimit(q.Limit)
	if q.FromSeq > math.MaxInt64 {
		return []audit.Entry{}, nil
	}
	var (
		where []string
		args  []any
	)
	cond := func(sql string, arg any) {
		args = append(args, arg)
		where = append(where, fmt.Sprintf(sql, len(args)))
	}
	if q.FromSeq > 1 {
		cond("seq >= $%d", int64(q.FromSeq))
	}
	if q.ActorID != "" {
		cond("actor_id = $%d", q.ActorID)
	}
	if q.ResourceKind != "" {
		cond("resource_kind = $%d", q.ResourceKind)
	}
	if q.ResourceID != "" {
		cond("resource_id = $%d", q.ResourceID)
	}
	if !q.Since.IsZero() {
		cond("time >= $%d", audit.NormalizeTime(q.Since))
	}
	if !q.Until.IsZero() {
		cond("time < $%d", audit.NormalizeTime(q.Until))
	}
	sql := `SELECT ` + auditColumns + ` FROM govkit_audit`
	if len(where) > 0 {
		sql += ` WHERE ` + strings.Join(where, " AND ")
	}
	args = append(args, limit)
	sql += fmt.Sprintf(` ORDER BY seq LIMIT $%d`, len(args))

	rows, err := s.db.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: query audit log: %w", err)
	}
	es, err := collectAudit(rows)
	if err != nil {
		return nil, fmt.Errorf("postgres: query audit log: %w", err)
	}
	return es, nil
}

// collectAudit reads rows of auditColumns, with times in UTC.
func collectAudit(rows pgx.Rows) ([]audit.Entry, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (audit.Entry, error) {
		var (
			e            audit.Entry
			seq          int64
			jurisdiction string
		)
		err := r.Scan(&seq, &e.Time, &e.ActorID, &e.ActorKind, &e.Action, &e.ResourceKind, &e.ResourceID,
			&jurisdiction, &e.Department, &e.Allowed, &e.Reason, &e.PrevHash, &e.Hash)
		if err != nil {
			return audit.Entry{}, err
		}
		e.Seq, e.Jurisdiction, e.Time = uint64(seq), region.Code(jurisdiction), e.Time.UTC()
		return e, nil
	})
}
