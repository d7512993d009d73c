package postgres

import (
	"context"
	"crypto/x509"
	"embed"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/codes"
	"github.com/govkit/govkit/region"
)

//go:embed migrations/codes/*.sql
var codesMigrationFS embed.FS

// CodesComponent is the component under which the codes store's
// migrations are recorded in govkit_schema_migrations.
const CodesComponent = "codes"

// CodesStore is codes.Store on PostgreSQL: code records in
// govkit_codes_code, subjects in govkit_codes_subject, their points
// ledgers in govkit_codes_entry, revocations in govkit_codes_revocation
// (one code each) and govkit_codes_subject_revocation (everything issued
// to a subject before a time), the trust list's public keys in
// govkit_codes_key, list counters in govkit_codes_counter, and events in
// the shared outbox govkit_outbox, written in the same transaction as the
// state they announce. It passes codestest.Run and is safe for concurrent
// use, by several processes too.
//
// Apply keeps the memory store's rules and answers: code ids and per-code
// revocations are taken once (ErrConflict); a subject is created at
// Version 1 and otherwise updates the version before (ErrConflict for a
// stale version, ErrNotFound for an unknown subject); a ledger entry must
// carry the Seq after the last stored one or the one before it in the
// change (ErrConflict), on a known subject (ErrNotFound); a subject-wide
// revocation replaces the subject's earlier one; keys are stored or
// replaced by ID; a counter moves only from its stored value (0 if none)
// to that plus one (ErrConflict); the first failing part, in the memory
// store's order, decides the error and nothing of the change is written.
// Changes that race for the same version, Seq, counter or id are settled
// by the database: one wins, the others get ErrConflict and, as the
// service does, read again.
//
// Ledgers are append-only: the store only ever inserts entries, and a
// trigger makes UPDATE, DELETE and TRUNCATE of govkit_codes_entry fail
// with SQLSTATE SQLStateAppendOnly (see IsAppendOnlyViolation) whoever
// issues them. Entries are stored with their hash chain as given; the
// service verifies it when it reads a ledger. An entry's idempotency key is
// stored as given and returned with it: the service absorbs a repeated key
// by finding it in the ledger, and a retry that races the first request
// loses on the Seq.
//
// Revocations stay fast at millions: each is one row of a table keyed by
// the revocation id (a uuid column, 16 bytes, compared byte by byte as Go
// compares ids), so revoking is an index probe and an insert, and
// Revocations streams the list in index order a page at a time, from one
// snapshot (a read-only repeatable-read transaction held while it runs),
// so that yield stopping early costs one small page. The primary key
// covers every column, so the list is read by an index-only scan (once
// VACUUM, or autovacuum, has marked the pages all-visible); that is why a
// per-code revocation's subject, reason and actor are refused with
// ErrInvalid beyond 2048 bytes together.
//
// Keys: only the public part is stored, the DER SubjectPublicKeyInfo with
// the key's issuer, usage, kinds and validity; a key whose SPKI parses as a
// private key (PKCS #8, SEC 1 or PKCS #1) is refused with ErrInvalid
// before anything is written. Codes, subjects and ledgers hold
// pseudonymous ids only, so nothing here is sealed.
//
// Times come back in UTC at microsecond precision, the precision of
// timestamptz and of the ledger's hashes. Text must be UTF-8 without NUL,
// which PostgreSQL cannot store: a change holding other text is refused
// with an error matching codes.ErrInvalid, and looking such a string up
// finds nothing.
//
// The outbox is shared with the other stores. Pending and MarkPublished
// see only the messages this store wrote (the table govkit_codes_event
// marks them); a Relay publishes the whole outbox. Event IDs must be UUIDs
// in canonical form and events need a subject (see CodesEventError); an
// event's zero Time is stored as the transaction's time. An event ID is
// taken for as long as its message stays in govkit_outbox, published or
// not.
type CodesStore struct {
	db *DB
}

var _ codes.Store = (*CodesStore)(nil)

// NewCodesStore applies the outbox's and the codes store's migrations
// (component CodesComponent) to db and returns the store. A nil db is an
// error matching ErrInvalidArgument, returned before touching the
// database.
func NewCodesStore(ctx context.Context, db *DB) (*CodesStore, error) {
	if db == nil {
		return nil, fmt.Errorf("%w: NewCodesStore needs a DB", ErrInvalidArgument)
	}
	if err := db.MigrateOutbox(ctx); err != nil {
		return nil, err
	}
	migs, err := LoadMigrations(codesMigrationFS, "migrations/codes")
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx, CodesComponent, migs); err != nil {
		return nil, err
	}
	return &CodesStore{db: db}, nil
}

// CodesEventError reports an event of a codes.Change that the outbox cannot
// hold: govkit_outbox identifies messages by UUID, so an event's ID must be
// a non-zero UUID in canonical form (as uuid.UUID.String writes it), so
// that it comes back from Pending, and is accepted by MarkPublished,
// unchanged; and it needs a subject. Nothing of the change was written.
type CodesEventError struct {
	Index  int    // position in Change.Events
	ID     string // the rejected ID
	Reason string
}

// Error describes the problem.
func (e *CodesEventError) Error() string {
	return fmt.Sprintf("postgres: codes event [%d] id %q: %s", e.Index, e.ID, e.Reason)
}

// Unwrap lets errors.Is match ErrInvalidOutboxMessage and codes.ErrInvalid.
func (e *CodesEventError) Unwrap() []error {
	return []error{ErrInvalidOutboxMessage, codes.ErrInvalid}
}

// codesEventMarker is the table marking the store's outbox messages.
const codesEventMarker = "govkit_codes_event"

// Revocations reads codesFirstPage revocations first, then pages four
// times larger up to codesPageSize: stopping early costs little, and the
// whole list few round trips.
const (
	codesFirstPage = 1_000
	codesPageSize  = 16_000
)

// codesMaxRevocationText bounds the subject, reason and actor of a
// per-code revocation together, in bytes, so that its row fits an entry of
// the covering index (PostgreSQL's limit is about 2.7 kB). The service's
// own are far shorter (subject 96, reason 192).
const codesMaxRevocationText = 2048

// codesStep is one statement of a change and how to read its one result
// row into the memory store's answer.
type codesStep struct {
	sql  string
	args []any
	read func(row pgx.Row) error
}

// Apply implements codes.Store: the whole change in one transaction
// (DB.InTx), so any error leaves nothing of it behind. The change is
// checked and encoded first, outside the transaction, so that a retry after
// a deadlock repeats only the statements; the statements, and the marks of
// the change's events, then go in one round trip, and the events in a
// second (WriteOutbox).
func (s *CodesStore) Apply(ctx context.Context, c codes.Change) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(c.Codes)+len(c.Subjects)+len(c.Entries)+len(c.Revocations)+len(c.Keys)+len(c.Counters)+len(c.Events) == 0 {
		return nil
	}
	steps, err := encodeCodesChange(&c)
	if err != nil {
		return err
	}
	events, eventIDs, err := codesOutboxMessages(c.Events)
	if err != nil {
		return err
	}
	return s.db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		if err := runCodesSteps(ctx, tx, steps, eventIDs); err != nil {
			return err
		}
		if err := s.db.writeOutbox(ctx, tx, events...); err != nil {
			return codesWriteError("write events", err)
		}
		return nil
	})
}

// runCodesSteps sends every statement, and the marks of the change's
// events, in one batch, and reads the results in order: the first part
// that fails decides the error, as in the memory store.
func runCodesSteps(ctx context.Context, tx pgx.Tx, steps []codesStep, eventIDs []uuid.UUID) (err error) {
	batch := &pgx.Batch{}
	for _, st := range steps {
		batch.Queue(st.sql, st.args...)
	}
	outboxView{marker: codesEventMarker}.mark(batch, eventIDs)
	br := tx.SendBatch(ctx, batch)
	defer func() {
		// After a failure the statements left unread may fail too; the
		// first failure is the one to report.
		if cerr := br.Close(); err == nil && cerr != nil {
			err = codesWriteError("apply change", cerr)
		}
	}()
	for _, st := range steps {
		if err := st.read(br.QueryRow()); err != nil {
			return err
		}
	}
	if len(eventIDs) > 0 {
		if _, err := br.Exec(); err != nil {
			return codesWriteError("write events", err)
		}
	}
	return nil
}

// codesWriteError maps PostgreSQL's errors to codes': a taken key (an
// event ID already in the outbox, or twice in the change) is a conflict;
// text PostgreSQL cannot hold is invalid input. Serialization failures and
// deadlocks stay reachable for DB.InTx to retry.
func codesWriteError(op string, err error) error {
	switch pgCode(err) {
	case sqlstateUniqueViolation:
		return fmt.Errorf("%w: %s: %w", codes.ErrConflict, op, err)
	case sqlstateBadText, sqlstateUntranslatable:
		return fmt.Errorf("%w: %s: text PostgreSQL cannot store: %w", codes.ErrInvalid, op, err)
	}
	return fmt.Errorf("postgres: codes: %s: %w", op, err)
}

// encodeCodesChange checks that c can be stored and turns it into
// statements in the memory store's order of checks: codes, subjects,
// ledger entries, revocations, keys, counters.
func encodeCodesChange(c *codes.Change) ([]codesStep, error) {
	if err := checkCodesText(c); err != nil {
		return nil, err
	}
	var steps []codesStep
	if len(c.Codes) > 0 {
		steps = append(steps, insertCodeRecords(c.Codes))
	}
	for i := range c.Subjects {
		steps = append(steps, writeCodesSubject(&c.Subjects[i]))
	}
	for i := range c.Entries {
		steps = append(steps, appendCodesEntry(&c.Entries[i]))
	}
	steps = append(steps, writeCodesRevocations(c.Revocations)...)
	keys, err := writeCodesKeys(c.Keys)
	if err != nil {
		return nil, err
	}
	steps = append(steps, keys...)
	names := make([]string, 0, len(c.Counters))
	for name := range c.Counters {
		names = append(names, name)
	}
	slices.Sort(names) // a deterministic order, hence a deterministic error
	for _, name := range names {
		steps = append(steps, setCodesCounter(name, c.Counters[name]))
	}
	return steps, nil
}

const insertCodeRecordsSQL = `WITH ins AS (
	INSERT INTO govkit_codes_code
		(id, subject, kind, jurisdiction, issuer, key_id, issued_at, not_before, expiry, steps, issued_by)
	SELECT * FROM unnest($1::uuid[], $2::text[], $3::integer[], $4::text[], $5::text[], $6::bytea[],
		$7::timestamptz[], $8::timestamptz[], $9::timestamptz[], $10::bigint[], $11::text[])
	ON CONFLICT DO NOTHING
	RETURNING id)
SELECT coalesce(array_agg(id), '{}') FROM ins`

// insertCodeRecords inserts every record in one statement: a record whose
// ID is stored, or that comes twice in the change, is not inserted, and
// the change is a conflict.
func insertCodeRecords(recs []codes.CodeRecord) codesStep {
	n := len(recs)
	var (
		ids                                     = make([]uuid.UUID, n)
		subjects, jurisdictions, issuers, actor = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		kinds                                   = make([]int32, n)
		keyIDs                                  = make([][]byte, n)
		issued, notBefore, expiry               = make([]time.Time, n), make([]time.Time, n), make([]time.Time, n)
		steps                                   = make([]int64, n)
	)
	for i, r := range recs {
		ids[i] = uuid.UUID(r.ID)
		subjects[i], jurisdictions[i], issuers[i], actor[i] = r.Subject, string(r.Jurisdiction), r.Issuer, r.IssuedBy
		kinds[i] = int32(r.Kind)
		keyIDs[i] = slices.Clone(r.KeyID[:])
		issued[i], notBefore[i], expiry[i] = r.IssuedAt, r.NotBefore, r.Expiry
		steps[i] = int64(r.Steps)
	}
	return codesStep{
		sql:  insertCodeRecordsSQL,
		args: []any{ids, subjects, kinds, jurisdictions, issuers, keyIDs, issued, notBefore, expiry, steps, actor},
		read: func(row pgx.Row) error {
			var inserted []uuid.UUID
			if err := row.Scan(&inserted); err != nil {
				return codesWriteError("insert codes", err)
			}
			if len(inserted) == n {
				return nil
			}
			return fmt.Errorf("%w: code %s already exists", codes.ErrConflict, codesFirstNotTaken(ids, inserted))
		},
	}
}

// codesFirstNotTaken returns the first of ids that the statement did not
// insert, or that the change holds twice, for the error message.
func codesFirstNotTaken(ids, inserted []uuid.UUID) codes.RevocationID {
	ok := make(map[uuid.UUID]bool, len(inserted))
	for _, id := range inserted {
		ok[id] = true
	}
	for _, id := range ids {
		if !ok[id] {
			return codes.RevocationID(id)
		}
		delete(ok, id) // a second occurrence was not inserted
	}
	return codes.RevocationID{}
}

// The statements of subjects. Each returns (written, version): the version
// from the statement's snapshot, which every part of a statement shares and
// which holds what earlier statements of the change wrote. An insert waits
// for a concurrent insert of the same ID and then does nothing if that one
// committed; an update waits for a concurrent update of the row and then
// applies only if the version it expects is still there.
const (
	insertCodesSubjectSQL = `WITH ins AS (
	INSERT INTO govkit_codes_subject
		(id, kind, jurisdiction, created, version, score, colour, on_hold, appeals, entries, head)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
	ON CONFLICT DO NOTHING
	RETURNING 1)
SELECT EXISTS (SELECT FROM ins), (SELECT version FROM govkit_codes_subject WHERE id = $1)`

	updateCodesSubjectSQL = `WITH upd AS (
	UPDATE govkit_codes_subject
	SET kind = $2, jurisdiction = $3, created = $4, version = $5, score = $6, colour = $7, on_hold = $8,
		appeals = $9, entries = $10, head = $11, updated_at = now()
	WHERE id = $1 AND version = $12
	RETURNING 1)
SELECT EXISTS (SELECT FROM upd), (SELECT version FROM govkit_codes_subject WHERE id = $1)`
)

// writeCodesSubject creates the subject (Version 1) or updates it over the
// version before (any other Version, which the memory store treats the
// same way: an unknown subject is not found, a known one conflicts).
func writeCodesSubject(sub *codes.Subject) codesStep {
	args := []any{sub.ID, int32(sub.Kind), string(sub.Jurisdiction), sub.Created, sub.Version,
		sub.Standing.Score, int16(sub.Standing.Colour), sub.Standing.OnHold, int64(sub.Standing.Appeals),
		sub.Standing.Entries, codesBytes(sub.Head)}
	id, version := sub.ID, sub.Version
	create := version == 1
	sql := insertCodesSubjectSQL
	if !create {
		sql, args = updateCodesSubjectSQL, append(args, version-1)
	}
	return codesStep{sql: sql, args: args, read: func(row pgx.Row) error {
		var (
			written bool
			have    *int64
		)
		if err := row.Scan(&written, &have); err != nil {
			return codesWriteError("write subject "+id, err)
		}
		switch {
		case written:
			return nil
		case create:
			return fmt.Errorf("%w: subject %s already exists", codes.ErrConflict, id)
		case have == nil:
			return fmt.Errorf("%w: subject %s", codes.ErrNotFound, id)
		case *have == version-1: // a concurrent update won the row
			return fmt.Errorf("%w: subject %s changed while the change expected version %d", codes.ErrConflict, id, version-1)
		default:
			return fmt.Errorf("%w: subject %s is at version %d, the change expects %d", codes.ErrConflict, id, *have, version-1)
		}
	}}
}

// appendCodesEntrySQL inserts an entry only on a known subject and only
// right after the ledger's last entry, and returns (written, subject
// known, last Seq) from the statement's snapshot. Two changes appending the
// same Seq meet on the primary key: the second waits for the first and
// inserts nothing if it committed. So a ledger never forks or skips.
const appendCodesEntrySQL = `WITH last AS (
	SELECT coalesce(max(seq), 0) AS seq FROM govkit_codes_entry WHERE subject = $1),
known AS (
	SELECT EXISTS (SELECT FROM govkit_codes_subject WHERE id = $1) AS known),
ins AS (
	INSERT INTO govkit_codes_entry
		(subject, seq, entry_type, points, rule, evidence_ref, evidence_sha256, target, recorder, note,
		idempotency_key, recorded_at, prev_hash, hash)
	SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14
	WHERE (SELECT known FROM known) AND (SELECT seq FROM last) = $15
	ON CONFLICT DO NOTHING
	RETURNING 1)
SELECT EXISTS (SELECT FROM ins), (SELECT known FROM known), (SELECT seq FROM last)`

func appendCodesEntry(e *codes.Entry) codesStep {
	subject, seq := e.Subject, e.Seq
	return codesStep{
		sql: appendCodesEntrySQL,
		args: []any{e.Subject, e.Seq, int16(e.Type), e.Points, e.Rule, e.Evidence.Ref, slices.Clone(e.Evidence.SHA256[:]),
			e.Target, e.Recorder, e.Note, e.Key, e.At, codesBytes(e.Prev), codesBytes(e.Hash), e.Seq - 1},
		read: func(row pgx.Row) error {
			var (
				written, known bool
				last           int64
			)
			if err := row.Scan(&written, &known, &last); err != nil {
				return codesWriteError(fmt.Sprintf("append entry %d to the ledger of %s", seq, subject), err)
			}
			switch {
			case written:
				return nil
			case !known:
				return fmt.Errorf("%w: ledger entry for unknown subject %s", codes.ErrNotFound, subject)
			case last == seq-1: // a concurrent change appended it first
				return fmt.Errorf("%w: ledger of %s moved on while the change appended %d", codes.ErrConflict, subject, seq)
			default:
				return fmt.Errorf("%w: ledger of %s has %d entries, the change appends %d", codes.ErrConflict, subject, last, seq)
			}
		},
	}
}

const (
	insertCodesRevocationsSQL = `WITH ins AS (
	INSERT INTO govkit_codes_revocation (code, subject, before, reason, revoked_by, revoked_at)
	SELECT * FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::text[], $5::text[], $6::timestamptz[])
	ON CONFLICT DO NOTHING
	RETURNING code)
SELECT coalesce(array_agg(code), '{}') FROM ins`

	upsertCodesSubjectRevocationsSQL = `WITH ups AS (
	INSERT INTO govkit_codes_subject_revocation (subject, before, reason, revoked_by, revoked_at)
	SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::timestamptz[])
	ON CONFLICT (subject) DO UPDATE
	SET before = excluded.before, reason = excluded.reason, revoked_by = excluded.revoked_by,
		revoked_at = excluded.revoked_at, updated_at = now()
	RETURNING 1)
SELECT count(*) FROM ups`
)

// writeCodesRevocations inserts the per-code revocations in one statement
// (a code already revoked, or twice in the change, is a conflict) and
// stores the subject-wide ones in another, each replacing the subject's
// earlier one (the last in the change wins).
func writeCodesRevocations(revs []codes.Revocation) []codesStep {
	var (
		ids                   []uuid.UUID
		subjects, reasons, by []string
		before                []*time.Time
		at                    []time.Time
		wide                  []codes.Revocation
		wideAt                = map[string]int{}
		steps                 []codesStep
	)
	for _, r := range revs {
		if r.Code.IsZero() {
			if i, ok := wideAt[r.Subject]; ok {
				wide[i] = r
				continue
			}
			wideAt[r.Subject] = len(wide)
			wide = append(wide, r)
			continue
		}
		ids = append(ids, uuid.UUID(r.Code))
		subjects, reasons, by = append(subjects, r.Subject), append(reasons, r.Reason), append(by, r.By)
		before, at = append(before, codesNullTime(r.Before)), append(at, r.At)
	}
	if n := len(ids); n > 0 {
		steps = append(steps, codesStep{
			sql:  insertCodesRevocationsSQL,
			args: []any{ids, subjects, before, reasons, by, at},
			read: func(row pgx.Row) error {
				var inserted []uuid.UUID
				if err := row.Scan(&inserted); err != nil {
					return codesWriteError("revoke codes", err)
				}
				if len(inserted) == n {
					return nil
				}
				return fmt.Errorf("%w: code %s is already revoked", codes.ErrConflict, codesFirstNotTaken(ids, inserted))
			},
		})
	}
	if len(wide) > 0 {
		subjects, reasons, by, before, at = nil, nil, nil, nil, nil
		for _, r := range wide {
			subjects, reasons, by = append(subjects, r.Subject), append(reasons, r.Reason), append(by, r.By)
			before, at = append(before, codesNullTime(r.Before)), append(at, r.At)
		}
		steps = append(steps, codesStep{
			sql:  upsertCodesSubjectRevocationsSQL,
			args: []any{subjects, before, reasons, by, at},
			read: func(row pgx.Row) error {
				var n int64
				if err := row.Scan(&n); err != nil {
					return codesWriteError("revoke subjects", err)
				}
				return nil
			},
		})
	}
	return steps
}

const upsertCodesKeySQL = `WITH ups AS (
	INSERT INTO govkit_codes_key (id, algorithm, spki, issuer, usage, kinds, not_before, not_after)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
	ON CONFLICT (id) DO UPDATE
	SET algorithm = excluded.algorithm, spki = excluded.spki, issuer = excluded.issuer, usage = excluded.usage,
		kinds = excluded.kinds, not_before = excluded.not_before, not_after = excluded.not_after, updated_at = now()
	RETURNING 1)
SELECT count(*) FROM ups`

// writeCodesKeys stores or replaces each key by ID; when the change holds
// one ID twice, the last wins, as in the memory store. A private key is
// refused.
func writeCodesKeys(keys []codes.PublicKey) ([]codesStep, error) {
	var steps []codesStep
	at := map[codes.KeyID]int{}
	for _, k := range keys {
		if codesLooksPrivate(k.SPKI) {
			return nil, &codes.InputError{Field: "public key",
				Reason: "the SPKI of key " + k.ID.String() + " is a private key: the store keeps public keys only"}
		}
		var kinds []int32
		if k.Kinds != nil {
			kinds = make([]int32, len(k.Kinds))
			for i, kind := range k.Kinds {
				kinds[i] = int32(kind)
			}
		}
		id := k.ID.String()
		st := codesStep{
			sql: upsertCodesKeySQL,
			args: []any{slices.Clone(k.ID[:]), int16(k.Algorithm), codesBytes(k.SPKI), k.Issuer, int16(k.Usage), kinds,
				codesNullTime(k.NotBefore), codesNullTime(k.NotAfter)},
			read: func(row pgx.Row) error {
				var n int64
				if err := row.Scan(&n); err != nil {
					return codesWriteError("store key "+id, err)
				}
				return nil
			},
		}
		if i, ok := at[k.ID]; ok {
			steps[i] = st
			continue
		}
		at[k.ID] = len(steps)
		steps = append(steps, st)
	}
	return steps, nil
}

// codesLooksPrivate reports whether der parses as a private key, which a
// PublicKey's SPKI must never hold.
func codesLooksPrivate(der []byte) bool {
	if len(der) == 0 {
		return false
	}
	if _, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		return true
	}
	if _, err := x509.ParseECPrivateKey(der); err == nil {
		return true
	}
	_, err := x509.ParsePKCS1PrivateKey(der)
	return err == nil
}

// The statements of counters. value holds the uint64's bits, so a counter
// goes to 2^64-1 (and wraps to 0, as the memory store's uint64 does). A
// counter moving from 0 may be missing: the insert waits for a concurrent
// insert and then updates only the value it expects.
const (
	setCodesCounterFromZeroSQL = `WITH ups AS (
	INSERT INTO govkit_codes_counter (name, value) VALUES ($1, $2)
	ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = now()
	WHERE govkit_codes_counter.value = 0
	RETURNING 1)
SELECT EXISTS (SELECT FROM ups), (SELECT value FROM govkit_codes_counter WHERE name = $1)`

	setCodesCounterSQL = `WITH upd AS (
	UPDATE govkit_codes_counter SET value = $2, updated_at = now()
	WHERE name = $1 AND value = $3
	RETURNING 1)
SELECT EXISTS (SELECT FROM upd), (SELECT value FROM govkit_codes_counter WHERE name = $1)`
)

func setCodesCounter(name string, v uint64) codesStep {
	prev := v - 1
	st := codesStep{sql: setCodesCounterSQL, args: []any{name, int64(v), int64(prev)}}
	if prev == 0 {
		st.sql, st.args = setCodesCounterFromZeroSQL, st.args[:2]
	}
	st.read = func(row pgx.Row) error {
		var (
			written bool
			have    *int64
		)
		if err := row.Scan(&written, &have); err != nil {
			return codesWriteError("set counter "+name, err)
		}
		if written {
			return nil
		}
		var stored uint64
		if have != nil {
			stored = uint64(*have)
		}
		return fmt.Errorf("%w: counter %s is at %d, the change sets %d", codes.ErrConflict, name, stored, v)
	}
	return st
}

// checkCodesText refuses text PostgreSQL cannot store (invalid UTF-8, NUL)
// anywhere in c, before the transaction rather than by failing in it.
func checkCodesText(c *codes.Change) error {
	type field struct{ name, v string }
	var fields []field
	for _, r := range c.Codes {
		fields = append(fields, field{"code subject", r.Subject}, field{"code jurisdiction", string(r.Jurisdiction)},
			field{"code issuer", r.Issuer}, field{"code issued by", r.IssuedBy})
	}
	for _, s := range c.Subjects {
		fields = append(fields, field{"subject", s.ID}, field{"subject jurisdiction", string(s.Jurisdiction)})
	}
	for _, e := range c.Entries {
		fields = append(fields, field{"entry subject", e.Subject}, field{"entry rule", e.Rule},
			field{"evidence", e.Evidence.Ref}, field{"entry recorder", e.Recorder}, field{"entry note", e.Note},
			field{"entry key", e.Key})
	}
	for _, r := range c.Revocations {
		fields = append(fields, field{"revocation subject", r.Subject}, field{"revocation reason", r.Reason},
			field{"revocation by", r.By})
	}
	for _, k := range c.Keys {
		fields = append(fields, field{"key issuer", k.Issuer})
	}
	for name := range c.Counters {
		fields = append(fields, field{"counter", name})
	}
	for _, m := range c.Events {
		fields = append(fields, field{"event subject", m.Subject}, field{"event key", m.Key})
		for k, v := range m.Headers {
			fields = append(fields, field{"event header", k}, field{"event header", v})
		}
	}
	for _, f := range fields {
		if !storable(f.v) {
			return &codes.InputError{Field: f.name, Reason: fmt.Sprintf("%q is not UTF-8 without NUL, which PostgreSQL cannot store", f.v)}
		}
	}
	for _, r := range c.Revocations {
		if n := len(r.Subject) + len(r.Reason) + len(r.By); !r.Code.IsZero() && n > codesMaxRevocationText {
			return &codes.InputError{Field: "revocation",
				Reason: fmt.Sprintf("subject, reason and actor of %d bytes, more than %d", n, codesMaxRevocationText)}
		}
	}
	return nil
}

// codesBytes keeps nil and empty apart: nil is stored as NULL.
func codesBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return slices.Clone(b)
}

// codesNullTime stores a zero time, which means "none", as NULL.
func codesNullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// codesTimeOf returns a stored time in UTC, and NULL as the zero time.
func codesTimeOf(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

const codeRecordColumns = `id, subject, kind, jurisdiction, issuer, key_id, issued_at, not_before, expiry, steps, issued_by`

func scanCodeRecord(row pgx.Row) (codes.CodeRecord, error) {
	var (
		r            codes.CodeRecord
		id           uuid.UUID
		kind         int32
		jurisdiction string
		keyID        []byte
		steps        int64
	)
	if err := row.Scan(&id, &r.Subject, &kind, &jurisdiction, &r.Issuer, &keyID, &r.IssuedAt, &r.NotBefore,
		&r.Expiry, &steps, &r.IssuedBy); err != nil {
		return r, err
	}
	if len(keyID) != len(r.KeyID) {
		return r, fmt.Errorf("postgres: code %s: key id of %d bytes", codes.RevocationID(id), len(keyID))
	}
	r.ID, r.Kind, r.Jurisdiction, r.Steps = codes.RevocationID(id), codes.Kind(kind), region.Code(jurisdiction), int(steps)
	copy(r.KeyID[:], keyID)
	r.IssuedAt, r.NotBefore, r.Expiry = r.IssuedAt.UTC(), r.NotBefore.UTC(), r.Expiry.UTC()
	return r, nil
}

// Code implements codes.Store.
func (s *CodesStore) Code(ctx context.Context, id codes.RevocationID) (codes.CodeRecord, error) {
	if err := ctx.Err(); err != nil {
		return codes.CodeRecord{}, err
	}
	r, err := scanCodeRecord(s.db.pool.QueryRow(ctx,
		`SELECT `+codeRecordColumns+` FROM govkit_codes_code WHERE id = $1`, uuid.UUID(id)))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return codes.CodeRecord{}, fmt.Errorf("%w: code %s", codes.ErrNotFound, id)
	case err != nil:
		return codes.CodeRecord{}, fmt.Errorf("postgres: get code %s: %w", id, err)
	}
	return r, nil
}

// CodesOf implements codes.Store: the subject's records in issue order
// (then by ID), from the index on (subject, issued_at, id).
func (s *CodesStore) CodesOf(ctx context.Context, subject string) ([]codes.CodeRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !storable(subject) {
		return nil, nil
	}
	rows, err := s.db.pool.Query(ctx, `SELECT `+codeRecordColumns+` FROM govkit_codes_code
		WHERE subject = $1 ORDER BY issued_at, id`, subject)
	if err != nil {
		return nil, fmt.Errorf("postgres: codes of %s: %w", subject, err)
	}
	recs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (codes.CodeRecord, error) { return scanCodeRecord(r) })
	if err != nil {
		return nil, fmt.Errorf("postgres: codes of %s: %w", subject, err)
	}
	if len(recs) == 0 {
		return nil, nil
	}
	return recs, nil
}

const codesSubjectColumns = `id, kind, jurisdiction, created, version, score, colour, on_hold, appeals, entries, head`

func scanCodesSubject(row pgx.Row) (codes.Subject, error) {
	var (
		sub          codes.Subject
		kind         int32
		jurisdiction string
		colour       int16
		appeals      int64
	)
	err := row.Scan(&sub.ID, &kind, &jurisdiction, &sub.Created, &sub.Version, &sub.Standing.Score, &colour,
		&sub.Standing.OnHold, &appeals, &sub.Standing.Entries, &sub.Head)
	sub.Kind, sub.Jurisdiction, sub.Created = codes.Kind(kind), region.Code(jurisdiction), sub.Created.UTC()
	sub.Standing.Colour, sub.Standing.Appeals = codes.Colour(colour), int(appeals)
	return sub, err
}

// Subject implements codes.Store.
func (s *CodesStore) Subject(ctx context.Context, id string) (codes.Subject, error) {
	if err := ctx.Err(); err != nil {
		return codes.Subject{}, err
	}
	if !storable(id) {
		return codes.Subject{}, fmt.Errorf("%w: subject %q", codes.ErrNotFound, id)
	}
	sub, err := scanCodesSubject(s.db.pool.QueryRow(ctx,
		`SELECT `+codesSubjectColumns+` FROM govkit_codes_subject WHERE id = $1`, id))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return codes.Subject{}, fmt.Errorf("%w: subject %s", codes.ErrNotFound, id)
	case err != nil:
		return codes.Subject{}, fmt.Errorf("postgres: get subject %s: %w", id, err)
	}
	return sub, nil
}

// Subjects implements codes.Store: a page in ID order (bytes, COLLATE
// "C"), after q.After, of the colours asked for.
func (s *CodesStore) Subjects(ctx context.Context, q codes.SubjectQuery) ([]codes.Subject, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := q.Validate(); err != nil {
		return nil, err
	}
	var (
		where []string
		args  []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if q.After != "" {
		where = append(where, codesAfter(q.After, arg))
	}
	if len(q.Colours) > 0 {
		colours := make([]int16, len(q.Colours))
		for i, c := range q.Colours {
			colours[i] = int16(c)
		}
		where = append(where, "colour = ANY("+arg(colours)+"::smallint[])")
	}
	sql := `SELECT ` + codesSubjectColumns + ` FROM govkit_codes_subject`
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	sql += " ORDER BY id LIMIT " + arg(q.EffectiveLimit())
	rows, err := s.db.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: find subjects: %w", err)
	}
	subs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (codes.Subject, error) { return scanCodesSubject(r) })
	if err != nil {
		return nil, fmt.Errorf("postgres: find subjects: %w", err)
	}
	if len(subs) == 0 {
		return nil, nil
	}
	return subs, nil
}

// codesAfter returns the condition "id > after" in Go's byte order for any
// after. Stored IDs hold no NUL, so after cut at its first NUL bounds the
// same IDs; after in invalid UTF-8 is compared as bytes, without the index
// (no stored ID is such, and the service's never are).
func codesAfter(after string, arg func(any) string) string {
	if i := strings.IndexByte(after, 0); i >= 0 {
		after = after[:i]
	}
	if utf8.ValidString(after) {
		return "id > " + arg(after)
	}
	return "convert_to(id, 'UTF8') > " + arg([]byte(after))
}

const codesEntryColumns = `subject, seq, entry_type, points, rule, evidence_ref, evidence_sha256, target, recorder, note,
	idempotency_key, recorded_at, prev_hash, hash`

// Ledger implements codes.Store: the subject's entries in Seq order, or
// ErrNotFound for an unknown subject.
func (s *CodesStore) Ledger(ctx context.Context, subject string) ([]codes.Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !storable(subject) {
		return nil, fmt.Errorf("%w: subject %q", codes.ErrNotFound, subject)
	}
	rows, err := s.db.pool.Query(ctx, `SELECT `+codesEntryColumns+` FROM govkit_codes_entry
		WHERE subject = $1 ORDER BY seq`, subject)
	if err != nil {
		return nil, fmt.Errorf("postgres: read ledger of %s: %w", subject, err)
	}
	entries, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (codes.Entry, error) {
		var (
			e      codes.Entry
			typ    int16
			digest []byte
		)
		if err := r.Scan(&e.Subject, &e.Seq, &typ, &e.Points, &e.Rule, &e.Evidence.Ref, &digest, &e.Target,
			&e.Recorder, &e.Note, &e.Key, &e.At, &e.Prev, &e.Hash); err != nil {
			return e, err
		}
		if len(digest) != len(e.Evidence.SHA256) {
			return e, fmt.Errorf("evidence hash of %d bytes", len(digest))
		}
		copy(e.Evidence.SHA256[:], digest)
		e.Type, e.At = codes.EntryType(typ), e.At.UTC()
		return e, nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: read ledger of %s: %w", subject, err)
	}
	if len(entries) > 0 {
		return entries, nil // entries exist only for known subjects, which are never removed
	}
	var known bool
	if err := s.db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT FROM govkit_codes_subject WHERE id = $1)`, subject).Scan(&known); err != nil {
		return nil, fmt.Errorf("postgres: read ledger of %s: %w", subject, err)
	}
	if !known {
		return nil, fmt.Errorf("%w: subject %s", codes.ErrNotFound, subject)
	}
	return nil, nil
}

// Revocations implements codes.Store: per-code revocations in ID order,
// then subject-wide ones in subject order, read a page at a time in index
// order from one snapshot, a read-only repeatable-read transaction kept
// open until yield returns false or the list ends. yield runs between
// pages' queries, so it may use the store.
func (s *CodesStore) Revocations(ctx context.Context, yield func(codes.Revocation) bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	tx, err := s.db.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("postgres: read revocations: %w", err)
	}
	defer rollback(ctx, tx)

	more, err := codesRevocationPages(ctx, tx, yield,
		`SELECT code, subject, before, reason, revoked_by, revoked_at FROM govkit_codes_revocation
			ORDER BY code LIMIT $1`,
		`SELECT code, subject, before, reason, revoked_by, revoked_at FROM govkit_codes_revocation
			WHERE code > $2 ORDER BY code LIMIT $1`,
		func(r *codes.Revocation) any { return uuid.UUID(r.Code) })
	if err != nil || !more {
		return err
	}
	_, err = codesRevocationPages(ctx, tx, yield,
		`SELECT NULL::uuid, subject, before, reason, revoked_by, revoked_at FROM govkit_codes_subject_revocation
			ORDER BY subject LIMIT $1`,
		`SELECT NULL::uuid, subject, before, reason, revoked_by, revoked_at FROM govkit_codes_subject_revocation
			WHERE subject > $2 ORDER BY subject LIMIT $1`,
		func(r *codes.Revocation) any { return r.Subject })
	return err
}

// codesRevocationPages yields the rows of first, then of next after the
// last row's key, a page at a time, until a page is short or yield
// returns false (more is then false).
func codesRevocationPages(ctx context.Context, tx pgx.Tx, yield func(codes.Revocation) bool,
	first, next string, key func(*codes.Revocation) any) (more bool, err error) {
	page := make([]codes.Revocation, 0, codesPageSize)
	limit := codesFirstPage
	for sql, args := first, []any{limit}; ; sql = next {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		rows, err := tx.Query(ctx, sql, args...)
		if err != nil {
			return false, fmt.Errorf("postgres: read revocations: %w", err)
		}
		page = page[:0]
		var (
			r      codes.Revocation
			code   *uuid.UUID
			before *time.Time
		)
		_, err = pgx.ForEachRow(rows, []any{&code, &r.Subject, &before, &r.Reason, &r.By, &r.At}, func() error {
			r.Code = codes.RevocationID{}
			if code != nil {
				r.Code = codes.RevocationID(*code)
			}
			r.Before, r.At = codesTimeOf(before), r.At.UTC()
			page = append(page, r)
			return nil
		})
		if err != nil {
			return false, fmt.Errorf("postgres: read revocations: %w", err)
		}
		for i := range page {
			if !yield(page[i]) {
				return false, nil
			}
		}
		if len(page) < limit {
			return true, nil
		}
		limit = min(limit*4, codesPageSize)
		args = []any{limit, key(&page[len(page)-1])}
	}
}

// PublicKeys implements codes.Store: the stored keys in ID order.
func (s *CodesStore) PublicKeys(ctx context.Context) ([]codes.PublicKey, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rows, err := s.db.pool.Query(ctx, `SELECT id, algorithm, spki, issuer, usage, kinds, not_before, not_after
		FROM govkit_codes_key ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("postgres: read public keys: %w", err)
	}
	keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (codes.PublicKey, error) {
		var (
			k                   codes.PublicKey
			id                  []byte
			alg, usage          int16
			kinds               []int32
			notBefore, notAfter *time.Time
		)
		if err := r.Scan(&id, &alg, &k.SPKI, &k.Issuer, &usage, &kinds, &notBefore, &notAfter); err != nil {
			return k, err
		}
		if len(id) != len(k.ID) {
			return k, fmt.Errorf("key id of %d bytes", len(id))
		}
		copy(k.ID[:], id)
		k.Algorithm, k.Usage = codes.Algorithm(alg), codes.Usage(usage)
		if kinds != nil {
			k.Kinds = make([]codes.Kind, len(kinds))
			for i, kind := range kinds {
				k.Kinds[i] = codes.Kind(kind)
			}
		}
		k.NotBefore, k.NotAfter = codesTimeOf(notBefore), codesTimeOf(notAfter)
		return k, nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: read public keys: %w", err)
	}
	if len(keys) == 0 {
		return nil, nil
	}
	return keys, nil
}

// Counter implements codes.Store: the counter's value, 0 if never set.
func (s *CodesStore) Counter(ctx context.Context, name string) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if !storable(name) {
		return 0, nil
	}
	var v int64
	err := s.db.pool.QueryRow(ctx, `SELECT value FROM govkit_codes_counter WHERE name = $1`, name).Scan(&v)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("postgres: read counter %s: %w", name, err)
	}
	return uint64(v), nil
}

// Pending implements codes.Store: the unpublished messages this store
// wrote, in the order written (Seq).
func (s *CodesStore) Pending(ctx context.Context, limit int) ([]bus.Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return s.events().pending(ctx, limit)
}

// MarkPublished implements codes.Store: it sets published_at on the outbox
// messages with the given IDs that this store wrote. Other IDs (unknown,
// another store's, already published, not UUIDs) are ignored.
func (s *CodesStore) MarkPublished(ctx context.Context, ids ...string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.events().markPublished(ctx, ids...)
}

func (s *CodesStore) events() outboxView {
	return outboxView{db: s.db, marker: codesEventMarker, what: "codes events"}
}

// codesOutboxMessages converts events for WriteOutbox, rejecting them as
// CodesEventErrors.
func codesOutboxMessages(msgs []bus.Message) ([]OutboxMessage, []uuid.UUID, error) {
	return outboxMessages(msgs, false, func(i int, id, reason string) error {
		return &CodesEventError{Index: i, ID: id, Reason: reason}
	})
}
