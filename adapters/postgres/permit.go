package postgres

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/permit"
	"github.com/govkit/govkit/pii"
	"github.com/govkit/govkit/region"
)

//go:embed migrations/permit/*.sql
var permitMigrationFS embed.FS

// PermitComponent is the component under which the permit store's
// migrations are recorded in govkit_schema_migrations.
const PermitComponent = "permit"

// PermitStore is permit.Store on PostgreSQL: bundle templates in
// govkit_permit_template, applications in govkit_permit_application, road
// works in govkit_permit_excavation, govkit_permit_joint and
// govkit_permit_moratorium, and events in the shared outbox govkit_outbox,
// written in the same transaction as the state they announce. It passes
// permittest.Run and is safe for concurrent use.
//
// Each record is stored whole as a JSON document in the store's own
// layout, independent of the Go types' fields and JSON tags, that keeps
// nil and empty slices and maps apart; the fields the store looks records
// up and filters by are copied into indexed columns. Applications hold
// personal data (answers, offers and outputs of the personal field kinds,
// the name and ID number of the person an applicant acts for) as
// pii.Data: it is sealed with the store's pii.Sealer (AES-256-GCM) before
// it reaches the database, so neither the document nor a backup of it
// holds it in clear. Templates, excavations, joint excavations and
// moratoria hold none.
//
// Times come back in UTC at microsecond precision, the precision of
// timestamptz; the permit service writes them so already. Text must be
// UTF-8 without NUL, which PostgreSQL cannot store: a record holding
// other text, or a value JSON cannot hold (a NaN coordinate), is refused
// with an error matching permit.ErrInvalidCommand, and looking such a
// string up finds nothing. A record's Version below 1, or a template
// without ID, is refused the same way before anything is written.
//
// Apply keeps the memory store's rules: records are created at Version 1
// and otherwise update the version before, in the order of the change;
// an application's or excavation's idempotency key (Key, not the command
// keys in Application.Keys) belongs to one record, the one whose current
// version holds it; the first failing record decides the error. A key or
// ID that a concurrent change takes while Apply runs is settled by running
// the change again (up to three times, then ErrConflict), so the answer is
// the same as if the changes had run one after the other.
//
// The outbox is shared with the other stores. Pending and MarkPublished
// see only the messages this store wrote (the table govkit_permit_event
// marks them); a Relay publishes the whole outbox. Event IDs must be UUIDs
// in canonical form and events need a subject (see PermitEventError); an
// event's zero Time is stored as the transaction's time. An event ID is
// taken for as long as its message stays in govkit_outbox, published or
// not.
type PermitStore struct {
	db     *DB
	sealer *pii.Sealer
}

var _ permit.Store = (*PermitStore)(nil)

// NewPermitStore applies the outbox's and the permit store's migrations
// (component PermitComponent) to db and returns a store that seals the
// personal data of applications with sealer. A nil db or sealer is an
// error matching ErrInvalidArgument, returned before touching the
// database.
func NewPermitStore(ctx context.Context, db *DB, sealer *pii.Sealer) (*PermitStore, error) {
	switch {
	case db == nil:
		return nil, fmt.Errorf("%w: NewPermitStore needs a DB", ErrInvalidArgument)
	case sealer == nil:
		return nil, fmt.Errorf("%w: NewPermitStore needs a pii.Sealer: the personal data of applications is stored sealed", ErrInvalidArgument)
	}
	if err := db.MigrateOutbox(ctx); err != nil {
		return nil, err
	}
	migs, err := LoadMigrations(permitMigrationFS, "migrations/permit")
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx, PermitComponent, migs); err != nil {
		return nil, err
	}
	return &PermitStore{db: db, sealer: sealer}, nil
}

// PermitEventError reports an event of a permit.Change that the outbox
// cannot hold: govkit_outbox identifies messages by UUID, so an event's ID
// must be a non-zero UUID in canonical form (as uuid.UUID.String writes
// it), so that it comes back from Pending, and is accepted by
// MarkPublished, unchanged; and it needs a subject. Nothing of the change
// was written.
type PermitEventError struct {
	Index  int    // position in Change.Events
	ID     string // the rejected ID
	Reason string
}

// Error describes the problem.
func (e *PermitEventError) Error() string {
	return fmt.Sprintf("postgres: permit event [%d] id %q: %s", e.Index, e.ID, e.Reason)
}

// Unwrap lets errors.Is match ErrInvalidOutboxMessage and
// permit.ErrInvalidCommand.
func (e *PermitEventError) Unwrap() []error {
	return []error{ErrInvalidOutboxMessage, permit.ErrInvalidCommand}
}

// The unique indexes of idempotency keys.
const (
	permitApplicationKeyIndex = "govkit_permit_application_key_idx"
	permitExcavationKeyIndex  = "govkit_permit_excavation_key_idx"
)

// errPermitRace reports a key or ID taken by a change that committed
// while a statement of Apply ran: the statement waited for it, but its
// snapshot, taken before, cannot name the holder. Running the change
// again, in a new transaction, can.
var errPermitRace = errors.New("postgres: permit: a concurrent change took a key or ID of the change")

// permitRaceAttempts bounds how many times Apply runs a change that keeps
// meeting errPermitRace.
const permitRaceAttempts = 3

// permitRowKind is what a record's statement does.
type permitRowKind int8

const (
	permitTemplateRow permitRowKind = iota // a template version: created once
	permitCreateRow                        // a record at Version 1
	permitUpdateRow                        // a record over its version before
)

// permitRow is one record of a change encoded for its table. Its
// statement returns whether it wrote, the record other than this one
// holding its idempotency key, and the record's version, the last two as
// of the statement's snapshot.
type permitRow struct {
	what    string // "application <id>", for errors
	kind    permitRowKind
	key     string
	version int64
	sql     string
	args    []any
}

// Apply implements permit.Store: the whole change in one transaction
// (DB.InTx), so any error leaves nothing of it behind. Records are encoded
// and personal data sealed first, outside the transaction, so that a
// retry repeats only the statements; the statements, and the marks of the
// change's events, then go in one round trip, and the events in a second
// (WriteOutbox).
func (s *PermitStore) Apply(ctx context.Context, c permit.Change) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(c.Templates)+len(c.Applications)+len(c.Excavations)+len(c.Joints)+len(c.Moratoria)+len(c.Events) == 0 {
		return nil
	}
	rows, err := s.encodeChange(&c)
	if err != nil {
		return err
	}
	events, eventIDs, err := permitOutboxMessages(c.Events)
	if err != nil {
		return err
	}
	for attempt := 1; ; attempt++ {
		err := s.db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
			if err := applyPermitRows(ctx, tx, rows, eventIDs); err != nil {
				return err
			}
			if err := s.db.writeOutbox(ctx, tx, events...); err != nil {
				return permitWriteError("write events", err)
			}
			return nil
		})
		if !errors.Is(err, errPermitRace) {
			return err
		}
		if attempt >= permitRaceAttempts {
			return fmt.Errorf("%w: %w", permit.ErrConflict, err)
		}
	}
}

// applyPermitRows sends every record's statement, and the marks of the
// change's events, in one batch, and reads the results in the order of
// the change: the first record that fails decides the error, as in the
// memory store.
func applyPermitRows(ctx context.Context, tx pgx.Tx, rows []permitRow, eventIDs []uuid.UUID) (err error) {
	batch := &pgx.Batch{}
	for _, r := range rows {
		batch.Queue(r.sql, r.args...)
	}
	outboxView{marker: "govkit_permit_event"}.mark(batch, eventIDs)
	br := tx.SendBatch(ctx, batch)
	defer func() {
		// After a failure the statements left unread may fail too; the
		// first failure is the one to report.
		if cerr := br.Close(); err == nil && cerr != nil {
			err = permitWriteError("apply change", cerr)
		}
	}()
	for i := range rows {
		r := &rows[i]
		var (
			written bool
			holder  *uuid.UUID
			have    *int64
		)
		if err := br.QueryRow().Scan(&written, &holder, &have); err != nil {
			return permitWriteError("write "+r.what, err)
		}
		if err := r.outcome(written, holder, have); err != nil {
			return err
		}
	}
	if len(eventIDs) > 0 {
		if _, err := br.Exec(); err != nil {
			return permitWriteError("write events", err)
		}
	}
	return nil
}

// outcome turns what a record's statement returned into the memory
// store's answer: the key first (a key held by another record), then the
// version.
func (r *permitRow) outcome(written bool, holder *uuid.UUID, have *int64) error {
	switch {
	case written:
		return nil
	case holder != nil:
		return &permit.DuplicateKeyError{Key: r.key, Existing: *holder}
	case r.kind == permitTemplateRow:
		return fmt.Errorf("%w: %s already exists", permit.ErrConflict, r.what)
	case r.kind == permitCreateRow && have != nil:
		return fmt.Errorf("%w: %s already exists", permit.ErrConflict, r.what)
	case r.kind == permitCreateRow:
		// Neither the ID nor the key is taken as of the snapshot, yet the
		// insert met one: a change that committed meanwhile took it.
		return fmt.Errorf("%w: create %s", errPermitRace, r.what)
	case have == nil:
		return fmt.Errorf("%w: %s", permit.ErrNotFound, r.what)
	case *have == r.version-1: // a concurrent update won the row
		return fmt.Errorf("%w: %s changed while the change expected version %d", permit.ErrConflict, r.what, r.version-1)
	default:
		return fmt.Errorf("%w: %s is at version %d, the change expects %d", permit.ErrConflict, r.what, *have, r.version-1)
	}
}

// permitWriteError maps PostgreSQL's errors to permit's: an idempotency
// key claimed by a change that committed meanwhile calls for another run
// of the change; another taken key (an event ID already in the outbox, or
// twice in the change) is a conflict; text PostgreSQL cannot hold is an
// invalid command. Serialization failures and deadlocks stay reachable
// for DB.InTx to retry.
func permitWriteError(op string, err error) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return fmt.Errorf("postgres: permit: %s: %w", op, err)
	}
	switch pgErr.Code {
	case sqlstateUniqueViolation:
		if pgErr.ConstraintName == permitApplicationKeyIndex || pgErr.ConstraintName == permitExcavationKeyIndex {
			return fmt.Errorf("%w: %s: %w", errPermitRace, op, err)
		}
		return fmt.Errorf("%w: %s: %w", permit.ErrConflict, op, err)
	case sqlstateBadText, sqlstateUntranslatable:
		return fmt.Errorf("%w: %s: text PostgreSQL cannot store: %w", permit.ErrInvalidCommand, op, err)
	}
	return fmt.Errorf("postgres: permit: %s: %w", op, err)
}

// The statements of Apply, which runs them at read committed. Each
// returns (written, key holder, version): the last two from the
// statement's snapshot, which every part of a statement shares and which
// holds what earlier statements of the change wrote, so later statements
// cannot confuse them. An insert waits for a concurrent insert of the same
// ID or key, and then does nothing if that one committed; an update waits
// for a concurrent update of the row, and then applies only if the
// version it expects is still there.
const (
	insertPermitTemplateSQL = `WITH ins AS (
	INSERT INTO govkit_permit_template (id, version, doc) VALUES ($1, $2, $3)
	ON CONFLICT DO NOTHING
	RETURNING 1)
SELECT EXISTS (SELECT FROM ins), NULL::uuid, NULL::bigint`

	insertPermitApplicationSQL = `WITH ins AS (
	INSERT INTO govkit_permit_application
		(id, version, key, template, template_version, jurisdiction, applicant, status, departments, doc)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
	ON CONFLICT DO NOTHING
	RETURNING 1)
SELECT EXISTS (SELECT FROM ins),
	(SELECT id FROM govkit_permit_application WHERE key = $3 AND id <> $1),
	(SELECT version FROM govkit_permit_application WHERE id = $1)`

	// The update applies only over the version before and only if no
	// other application holds the key.
	updatePermitApplicationSQL = `WITH upd AS (
	UPDATE govkit_permit_application
	SET version = $2, key = $3, template = $4, template_version = $5, jurisdiction = $6, applicant = $7,
		status = $8, departments = $9, doc = $10, updated_at = now()
	WHERE id = $1 AND version = $11
		AND NOT EXISTS (SELECT FROM govkit_permit_application h WHERE h.key = $3 AND h.id <> $1)
	RETURNING 1)
SELECT EXISTS (SELECT FROM upd),
	(SELECT id FROM govkit_permit_application WHERE key = $3 AND id <> $1),
	(SELECT version FROM govkit_permit_application WHERE id = $1)`

	insertPermitExcavationSQL = `WITH ins AS (
	INSERT INTO govkit_permit_excavation
		(id, version, key, promoter, segment, jurisdiction, status, joint, window_start, window_end, doc,
		site_min_lat, site_min_lon, site_max_lat, site_max_lon)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
	ON CONFLICT DO NOTHING
	RETURNING 1)
SELECT EXISTS (SELECT FROM ins),
	(SELECT id FROM govkit_permit_excavation WHERE key = $3 AND id <> $1),
	(SELECT version FROM govkit_permit_excavation WHERE id = $1)`

	updatePermitExcavationSQL = `WITH upd AS (
	UPDATE govkit_permit_excavation
	SET version = $2, key = $3, promoter = $4, segment = $5, jurisdiction = $6, status = $7, joint = $8,
		window_start = $9, window_end = $10, doc = $11, site_min_lat = $12, site_min_lon = $13,
		site_max_lat = $14, site_max_lon = $15, updated_at = now()
	WHERE id = $1 AND version = $16
		AND NOT EXISTS (SELECT FROM govkit_permit_excavation h WHERE h.key = $3 AND h.id <> $1)
	RETURNING 1)
SELECT EXISTS (SELECT FROM upd),
	(SELECT id FROM govkit_permit_excavation WHERE key = $3 AND id <> $1),
	(SELECT version FROM govkit_permit_excavation WHERE id = $1)`

	insertPermitJointSQL = `WITH ins AS (
	INSERT INTO govkit_permit_joint (id, version, jurisdiction, status, doc)
	VALUES ($1, $2, $3, $4, $5)
	ON CONFLICT DO NOTHING
	RETURNING 1)
SELECT EXISTS (SELECT FROM ins), NULL::uuid, (SELECT version FROM govkit_permit_joint WHERE id = $1)`

	updatePermitJointSQL = `WITH upd AS (
	UPDATE govkit_permit_joint
	SET version = $2, jurisdiction = $3, status = $4, doc = $5, updated_at = now()
	WHERE id = $1 AND version = $6
	RETURNING 1)
SELECT EXISTS (SELECT FROM upd), NULL::uuid, (SELECT version FROM govkit_permit_joint WHERE id = $1)`

	insertPermitMoratoriumSQL = `WITH ins AS (
	INSERT INTO govkit_permit_moratorium (id, version, segment, jurisdiction, from_at, until_at, doc)
	VALUES ($1, $2, $3, $4, $5, $6, $7)
	ON CONFLICT DO NOTHING
	RETURNING 1)
SELECT EXISTS (SELECT FROM ins), NULL::uuid, (SELECT version FROM govkit_permit_moratorium WHERE id = $1)`

	updatePermitMoratoriumSQL = `WITH upd AS (
	UPDATE govkit_permit_moratorium
	SET version = $2, segment = $3, jurisdiction = $4, from_at = $5, until_at = $6, doc = $7, updated_at = now()
	WHERE id = $1 AND version = $8
	RETURNING 1)
SELECT EXISTS (SELECT FROM upd), NULL::uuid, (SELECT version FROM govkit_permit_moratorium WHERE id = $1)`
)

// encodeChange encodes the records of c in the memory store's order:
// templates, applications, excavations, joint excavations, moratoria.
func (s *PermitStore) encodeChange(c *permit.Change) ([]permitRow, error) {
	rows := make([]permitRow, 0, len(c.Templates)+len(c.Applications)+len(c.Excavations)+len(c.Joints)+len(c.Moratoria))
	add := func(r permitRow, err error) error {
		if err == nil {
			rows = append(rows, r)
		}
		return err
	}
	for i := range c.Templates {
		if err := add(encodePermitTemplate(&c.Templates[i])); err != nil {
			return nil, err
		}
	}
	for i := range c.Applications {
		if err := add(s.encodeApplication(&c.Applications[i])); err != nil {
			return nil, err
		}
	}
	for i := range c.Excavations {
		if err := add(encodePermitExcavation(&c.Excavations[i])); err != nil {
			return nil, err
		}
	}
	for i := range c.Joints {
		if err := add(encodePermitJoint(&c.Joints[i])); err != nil {
			return nil, err
		}
	}
	for i := range c.Moratoria {
		if err := add(encodePermitMoratorium(&c.Moratoria[i])); err != nil {
			return nil, err
		}
	}
	return rows, nil
}

// newPermitRow starts the row of a record at version, choosing the insert
// or the update; the update's arguments end with the version before.
func newPermitRow(what string, version int64, key, insertSQL, updateSQL string, args ...any) (permitRow, error) {
	if version < 1 {
		return permitRow{}, fmt.Errorf("%w: %s has version %d", permit.ErrInvalidCommand, what, version)
	}
	r := permitRow{what: what, kind: permitCreateRow, key: key, version: version, sql: insertSQL, args: args}
	if version > 1 {
		r.kind, r.sql, r.args = permitUpdateRow, updateSQL, append(args, version-1)
	}
	return r, nil
}

func encodePermitTemplate(t *permit.Template) (permitRow, error) {
	what := fmt.Sprintf("template %s version %d", t.ID, t.Version)
	if t.ID == "" || t.Version < 1 {
		return permitRow{}, fmt.Errorf("%w: template %q version %d", permit.ErrInvalidCommand, t.ID, t.Version)
	}
	doc, err := encodePermitDoc(permitTemplateDocOf(t), what)
	if err != nil {
		return permitRow{}, err
	}
	return permitRow{what: what, kind: permitTemplateRow, version: int64(t.Version), sql: insertPermitTemplateSQL,
		args: []any{t.ID, int64(t.Version), doc}}, nil
}

func (s *PermitStore) encodeApplication(a *permit.Application) (permitRow, error) {
	what := "application " + a.ID.String()
	d, err := s.applicationDocOf(a)
	if err != nil {
		return permitRow{}, fmt.Errorf("postgres: %s: %w", what, err)
	}
	doc, err := encodePermitDoc(d, what)
	if err != nil {
		return permitRow{}, err
	}
	return newPermitRow(what, a.Version, a.Key, insertPermitApplicationSQL, updatePermitApplicationSQL,
		a.ID, a.Version, permitKey(a.Key), a.Template, int64(a.TemplateVersion), string(a.Jurisdiction), a.Applicant,
		int16(a.Status), permitReviewDepartments(a), doc)
}

func encodePermitExcavation(e *permit.Excavation) (permitRow, error) {
	what := "excavation " + e.ID.String()
	d := permitExcavationDocOf(e)
	doc, err := encodePermitDoc(d, what)
	if err != nil {
		return permitRow{}, err
	}
	var joint *uuid.UUID
	if e.Joint != uuid.Nil {
		joint = &e.Joint
	}
	// The site's box, NULL without a site. The document refused NaN and
	// infinite coordinates already.
	var box [4]*float64
	if len(e.Site) > 0 {
		b := e.Site.BBox()
		box = [4]*float64{&b.MinLat, &b.MinLon, &b.MaxLat, &b.MaxLon}
	}
	return newPermitRow(what, e.Version, e.Key, insertPermitExcavationSQL, updatePermitExcavationSQL,
		e.ID, e.Version, permitKey(e.Key), e.Promoter, e.Segment, string(e.Jurisdiction), int16(e.Status), joint,
		d.Window.Start, d.Window.End, doc, box[0], box[1], box[2], box[3])
}

func encodePermitJoint(j *permit.JointExcavation) (permitRow, error) {
	what := "joint excavation " + j.ID.String()
	doc, err := encodePermitDoc(permitJointDocOf(j), what)
	if err != nil {
		return permitRow{}, err
	}
	return newPermitRow(what, j.Version, "", insertPermitJointSQL, updatePermitJointSQL,
		j.ID, j.Version, string(j.Jurisdiction), int16(j.Status), doc)
}

func encodePermitMoratorium(m *permit.Moratorium) (permitRow, error) {
	what := "moratorium " + m.ID.String()
	d := permitMoratoriumDocOf(m)
	doc, err := encodePermitDoc(d, what)
	if err != nil {
		return permitRow{}, err
	}
	return newPermitRow(what, m.Version, "", insertPermitMoratoriumSQL, updatePermitMoratoriumSQL,
		m.ID, m.Version, m.Segment, string(m.Jurisdiction), d.From, d.Until, doc)
}

// permitKey is an idempotency key as stored: NULL for none.
func permitKey(key string) *string {
	if key == "" {
		return nil
	}
	return &key
}

// permitReviewDepartments returns the departments holding an item of a in
// review, each once, as permit.ApplicationQuery.Department selects them.
func permitReviewDepartments(a *permit.Application) []string {
	out := []string{}
	for _, it := range a.Items {
		if it.Status == permit.ItemInReview && !slices.Contains(out, it.Department) {
			out = append(out, it.Department)
		}
	}
	return out
}

// encodePermitDoc encodes v, refusing text PostgreSQL cannot store, which
// encoding/json would otherwise alter silently (invalid UTF-8 becomes
// U+FFFD) or jsonb refuse (NUL). Every string of a record, columns
// included, is in its document, so this one check covers them all.
func encodePermitDoc(v any, what string) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		// A value JSON cannot hold: a NaN coordinate, a year past 9999.
		return "", fmt.Errorf("%w: %s cannot be stored: %w", permit.ErrInvalidCommand, what, err)
	}
	switch permitJSONEscapes(b) {
	case permitNUL:
		return "", fmt.Errorf("%w: %s holds a NUL character, which PostgreSQL cannot store", permit.ErrInvalidCommand, what)
	case permitBadUTF8:
		return "", fmt.Errorf("%w: %s holds text that is not UTF-8", permit.ErrInvalidCommand, what)
	}
	return string(b), nil
}

const (
	permitCleanText = iota
	permitNUL
	permitBadUTF8
)

// permitJSONEscapes scans encoding/json output b for the escapes it writes
// for NUL (\u0000) and for bytes that are not UTF-8 (\ufffd; a real
// U+FFFD is written as itself), skipping other escapes, so that an escaped
// backslash followed by "u0000" is text.
func permitJSONEscapes(b []byte) int {
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' || i+1 >= len(b) {
			continue
		}
		if b[i+1] == 'u' && i+6 <= len(b) {
			switch string(b[i+2 : i+6]) {
			case "0000":
				return permitNUL
			case "fffd":
				return permitBadUTF8
			}
		}
		i++ // skip the escaped character
	}
	return permitCleanText
}

// Template implements permit.Store: version 0 (or below) means the latest.
func (s *PermitStore) Template(ctx context.Context, id string, version int) (permit.Template, error) {
	what := fmt.Sprintf("template %q version %d", id, version)
	sql, args := `SELECT doc FROM govkit_permit_template WHERE id = $1 AND version = $2`, []any{id, int64(version)}
	if version <= 0 {
		what = fmt.Sprintf("template %q", id)
		sql, args = `SELECT doc FROM govkit_permit_template WHERE id = $1 ORDER BY version DESC LIMIT 1`, []any{id}
	}
	if !storable(id) {
		return permit.Template{}, fmt.Errorf("%w: %s", permit.ErrNotFound, what)
	}
	var doc []byte
	err := s.db.pool.QueryRow(ctx, sql, args...).Scan(&doc)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return permit.Template{}, fmt.Errorf("%w: %s", permit.ErrNotFound, what)
	case err != nil:
		return permit.Template{}, fmt.Errorf("postgres: get %s: %w", what, err)
	}
	return decodePermitTemplate(doc)
}

// Templates implements permit.Store: the latest version of every template,
// by ID in byte order.
func (s *PermitStore) Templates(ctx context.Context) ([]permit.Template, error) {
	rows, err := s.db.pool.Query(ctx, `SELECT DISTINCT ON (id) doc FROM govkit_permit_template ORDER BY id, version DESC`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list templates: %w", err)
	}
	var out []permit.Template
	var doc []byte
	_, err = pgx.ForEachRow(rows, []any{&doc}, func() error {
		t, err := decodePermitTemplate(doc)
		if err == nil {
			out = append(out, t)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list templates: %w", err)
	}
	return out, nil
}

// Application implements permit.Store.
func (s *PermitStore) Application(ctx context.Context, id uuid.UUID) (permit.Application, error) {
	return s.getApplication(ctx, "application "+id.String(), `SELECT doc FROM govkit_permit_application WHERE id = $1`, id)
}

// ApplicationByKey implements permit.Store.
func (s *PermitStore) ApplicationByKey(ctx context.Context, key string) (permit.Application, error) {
	what := fmt.Sprintf("application with key %q", key)
	if key == "" || !storable(key) {
		return permit.Application{}, fmt.Errorf("%w: %s", permit.ErrNotFound, what)
	}
	return s.getApplication(ctx, what, `SELECT doc FROM govkit_permit_application WHERE key = $1`, key)
}

func (s *PermitStore) getApplication(ctx context.Context, what, sql string, arg any) (permit.Application, error) {
	var doc []byte
	err := s.db.pool.QueryRow(ctx, sql, arg).Scan(&doc)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return permit.Application{}, fmt.Errorf("%w: %s", permit.ErrNotFound, what)
	case err != nil:
		return permit.Application{}, fmt.Errorf("postgres: get %s: %w", what, err)
	}
	return s.decodeApplication(doc)
}

// Applications implements permit.Store with one parameterised query: each
// set field of q adds a condition on an indexed column.
func (s *PermitStore) Applications(ctx context.Context, q permit.ApplicationQuery) (permit.ApplicationPage, error) {
	if err := q.Validate(); err != nil {
		return permit.ApplicationPage{}, err
	}
	if !storable(q.Template) || !storable(q.Department) || !storable(q.Applicant) {
		return permit.ApplicationPage{Applications: []permit.Application{}}, nil // no stored application holds such a string
	}
	var w permitWhere
	w.within("jurisdiction", q.Within)
	if q.Template != "" {
		w.add("template = " + w.arg(q.Template))
	}
	if len(q.Statuses) > 0 {
		st := make([]int16, len(q.Statuses))
		for i, status := range q.Statuses {
			st[i] = int16(status)
		}
		w.add("status = ANY(" + w.arg(st) + "::smallint[])")
	}
	if q.Department != "" {
		w.add("departments @> " + w.arg([]string{q.Department}) + "::text[]")
	}
	if q.Applicant != "" {
		w.add("applicant = " + w.arg(q.Applicant))
	}
	apps, next, err := permitPage(ctx, s.db, "govkit_permit_application", &w, q.After, q.Limit, s.decodeApplication,
		func(a *permit.Application) uuid.UUID { return a.ID })
	if err != nil {
		return permit.ApplicationPage{}, fmt.Errorf("postgres: find applications: %w", err)
	}
	return permit.ApplicationPage{Applications: apps, Next: next}, nil
}

// Excavation implements permit.Store.
func (s *PermitStore) Excavation(ctx context.Context, id uuid.UUID) (permit.Excavation, error) {
	return s.getExcavation(ctx, "excavation "+id.String(), `SELECT doc FROM govkit_permit_excavation WHERE id = $1`, id)
}

// ExcavationByKey implements permit.Store.
func (s *PermitStore) ExcavationByKey(ctx context.Context, key string) (permit.Excavation, error) {
	what := fmt.Sprintf("excavation with key %q", key)
	if key == "" || !storable(key) {
		return permit.Excavation{}, fmt.Errorf("%w: %s", permit.ErrNotFound, what)
	}
	return s.getExcavation(ctx, what, `SELECT doc FROM govkit_permit_excavation WHERE key = $1`, key)
}

func (s *PermitStore) getExcavation(ctx context.Context, what, sql string, arg any) (permit.Excavation, error) {
	var doc []byte
	err := s.db.pool.QueryRow(ctx, sql, arg).Scan(&doc)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return permit.Excavation{}, fmt.Errorf("%w: %s", permit.ErrNotFound, what)
	case err != nil:
		return permit.Excavation{}, fmt.Errorf("postgres: get %s: %w", what, err)
	}
	return decodePermitExcavation(doc)
}

// Excavations implements permit.Store with one parameterised query.
func (s *PermitStore) Excavations(ctx context.Context, q permit.ExcavationQuery) (permit.ExcavationPage, error) {
	if err := q.Validate(); err != nil {
		return permit.ExcavationPage{}, err
	}
	if !storable(q.Segment) || !storable(q.Promoter) {
		return permit.ExcavationPage{Excavations: []permit.Excavation{}}, nil
	}
	var w permitWhere
	w.within("jurisdiction", q.Within)
	if q.Segment != "" {
		w.add("segment = " + w.arg(q.Segment))
	}
	if q.Promoter != "" {
		w.add("promoter = " + w.arg(q.Promoter))
	}
	if len(q.Statuses) > 0 {
		st := make([]int16, len(q.Statuses))
		for i, status := range q.Statuses {
			st[i] = int16(status)
		}
		w.add("status = ANY(" + w.arg(st) + "::smallint[])")
	}
	if !q.During.Start.IsZero() {
		// Works whose window overlaps During: End after its start and
		// Start before its end.
		w.during("window_end", "window_start", q.During)
	}
	if q.Near != (geo.BBox{}) {
		// The GiST index finds the boxes that overlap Near, give or take
		// its fuzz; the columns decide exactly, edges included.
		minLat, minLon, maxLat, maxLon := w.arg(q.Near.MinLat), w.arg(q.Near.MinLon), w.arg(q.Near.MaxLat), w.arg(q.Near.MaxLon)
		w.add("box(point(site_min_lon, site_min_lat), point(site_max_lon, site_max_lat)) && box(point(" +
			minLon + ", " + minLat + "), point(" + maxLon + ", " + maxLat + "))")
		w.add("site_min_lat <= " + maxLat + "::float8")
		w.add("site_max_lat >= " + minLat + "::float8")
		w.add("site_min_lon <= " + maxLon + "::float8")
		w.add("site_max_lon >= " + minLon + "::float8")
	}
	if q.Joint != uuid.Nil {
		w.add("joint = " + w.arg(q.Joint))
	}
	works, next, err := permitPage(ctx, s.db, "govkit_permit_excavation", &w, q.After, q.Limit, decodePermitExcavation,
		func(e *permit.Excavation) uuid.UUID { return e.ID })
	if err != nil {
		return permit.ExcavationPage{}, fmt.Errorf("postgres: find excavations: %w", err)
	}
	return permit.ExcavationPage{Excavations: works, Next: next}, nil
}

// Joint implements permit.Store.
func (s *PermitStore) Joint(ctx context.Context, id uuid.UUID) (permit.JointExcavation, error) {
	var doc []byte
	err := s.db.pool.QueryRow(ctx, `SELECT doc FROM govkit_permit_joint WHERE id = $1`, id).Scan(&doc)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return permit.JointExcavation{}, fmt.Errorf("%w: joint excavation %s", permit.ErrNotFound, id)
	case err != nil:
		return permit.JointExcavation{}, fmt.Errorf("postgres: get joint excavation %s: %w", id, err)
	}
	return decodePermitJoint(doc)
}

// Joints implements permit.Store with one parameterised query.
func (s *PermitStore) Joints(ctx context.Context, q permit.JointQuery) (permit.JointPage, error) {
	if err := q.Validate(); err != nil {
		return permit.JointPage{}, err
	}
	var w permitWhere
	w.within("jurisdiction", q.Within)
	if len(q.Statuses) > 0 {
		st := make([]int16, len(q.Statuses))
		for i, status := range q.Statuses {
			st[i] = int16(status)
		}
		w.add("status = ANY(" + w.arg(st) + "::smallint[])")
	}
	joints, next, err := permitPage(ctx, s.db, "govkit_permit_joint", &w, q.After, q.Limit, decodePermitJoint,
		func(j *permit.JointExcavation) uuid.UUID { return j.ID })
	if err != nil {
		return permit.JointPage{}, fmt.Errorf("postgres: find joint excavations: %w", err)
	}
	return permit.JointPage{Joints: joints, Next: next}, nil
}

// Moratoria implements permit.Store with one parameterised query.
func (s *PermitStore) Moratoria(ctx context.Context, q permit.MoratoriumQuery) (permit.MoratoriumPage, error) {
	if err := q.Validate(); err != nil {
		return permit.MoratoriumPage{}, err
	}
	if !storable(q.Segment) {
		return permit.MoratoriumPage{Moratoria: []permit.Moratorium{}}, nil
	}
	var w permitWhere
	w.within("jurisdiction", q.Within)
	if q.Segment != "" {
		w.add("segment = " + w.arg(q.Segment))
	}
	if !q.During.Start.IsZero() {
		// In force at some time of During: Until after its start and From
		// before its end.
		w.during("until_at", "from_at", q.During)
	}
	ms, next, err := permitPage(ctx, s.db, "govkit_permit_moratorium", &w, q.After, q.Limit, decodePermitMoratorium,
		func(m *permit.Moratorium) uuid.UUID { return m.ID })
	if err != nil {
		return permit.MoratoriumPage{}, fmt.Errorf("postgres: find moratoria: %w", err)
	}
	return permit.MoratoriumPage{Moratoria: ms, Next: next}, nil
}

// permitWhere collects the conditions and arguments of a query.
type permitWhere struct {
	conds []string
	args  []any
}

func (w *permitWhere) arg(v any) string {
	w.args = append(w.args, v)
	return "$" + strconv.Itoa(len(w.args))
}

func (w *permitWhere) add(cond string) { w.conds = append(w.conds, cond) }

// within selects codes in the subtree of code, if set. Validate checked
// the code: the prefix is digits, free of LIKE's wildcards. The range
// repeats the LIKE so that the text_pattern_ops index serves generic
// (cached) plans too, where the planner cannot look inside a LIKE
// parameter.
func (w *permitWhere) within(column string, code region.Code) {
	if code == "" {
		return
	}
	prefix := code.Prefix()
	w.add(column + " LIKE " + w.arg(prefix) + "::text || '%'")
	w.add(column + " ~>=~ " + w.arg(prefix))
	w.add(column + " ~<~ " + w.arg(incidentPrefixEnd(prefix)))
}

// during selects periods that overlap win, given the columns of their end
// and start: end > win.Start and start < win.End. The columns hold whole
// microseconds, so truncating the first bound and rounding the second up
// keeps both comparisons exact for bounds between two microseconds.
func (w *permitWhere) during(endColumn, startColumn string, win permit.Window) {
	w.add(endColumn + " > " + w.arg(win.Start.Truncate(time.Microsecond)))
	w.add(startColumn + " < " + w.arg(permitCeilMicro(win.End)))
}

// permitPage reads one page of table in ID order. After is always a
// bound, as in the memory store: no page holds the zero ID.
func permitPage[T any](ctx context.Context, db *DB, table string, w *permitWhere, after uuid.UUID, limit int,
	decode func([]byte) (T, error), id func(*T) uuid.UUID) ([]T, uuid.UUID, error) {
	n := permit.PageLimit(limit)
	w.add("id > " + w.arg(after))
	sql := "SELECT doc FROM " + table + " WHERE " + strings.Join(w.conds, " AND ") +
		" ORDER BY id LIMIT " + w.arg(n+1) // one more tells whether a next page exists
	rows, err := db.pool.Query(ctx, sql, w.args...)
	if err != nil {
		return nil, uuid.Nil, err
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (T, error) {
		var doc []byte
		if err := r.Scan(&doc); err != nil {
			var zero T
			return zero, err
		}
		return decode(doc)
	})
	if err != nil {
		return nil, uuid.Nil, err
	}
	var next uuid.UUID
	if len(out) > n {
		out = out[:n]
		next = id(&out[n-1])
	}
	return out, next, nil
}

// Pending implements permit.Store: the unpublished messages this store
// wrote, in the order written (Seq).
func (s *PermitStore) Pending(ctx context.Context, limit int) ([]bus.Message, error) {
	return s.events().pending(ctx, limit)
}

// MarkPublished implements permit.Store: it sets published_at on the
// outbox messages with the given IDs that this store wrote. Other IDs
// (unknown, another store's, already published, not UUIDs) are ignored.
func (s *PermitStore) MarkPublished(ctx context.Context, ids ...string) error {
	return s.events().markPublished(ctx, ids...)
}

func (s *PermitStore) events() outboxView {
	return outboxView{db: s.db, marker: "govkit_permit_event", what: "permit events"}
}

// permitTime returns t as stored: UTC at microsecond precision.
func permitTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

// permitUTC returns a decoded time in UTC, the zero time as the zero Time.
func permitUTC(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

// permitCeilMicro returns the first whole microsecond at or after t.
func permitCeilMicro(t time.Time) time.Time {
	if r := t.Truncate(time.Microsecond); r.Before(t) {
		return r.Add(time.Microsecond)
	}
	return t
}

// permitSlice maps a slice, keeping nil and empty apart.
func permitSlice[T, U any](in []T, f func(T) U) []U {
	if in == nil {
		return nil
	}
	out := make([]U, len(in))
	for i, x := range in {
		out[i] = f(x)
	}
	return out
}

// permitMap maps a map's values, keeping nil and empty apart.
func permitMap[T, U any](in map[string]T, f func(T) U) map[string]U {
	if in == nil {
		return nil
	}
	out := make(map[string]U, len(in))
	for k, v := range in {
		out[k] = f(v)
	}
	return out
}

// The documents below are the stored forms of permit's records: the
// store's own layout, independent of the Go types' fields and JSON tags
// (Template's omit empty slices; pii.Data encodes masked and refuses to
// decode). Every slice and map is omitted when nil and written when empty
// (omitzero), so that both come back as they were; times are stored as
// permitTime returns them. permitDocVersion versions the layout.
const permitDocVersion = 1

type permitTemplateDoc struct {
	V            int                  `json:"v"`
	ID           string               `json:"id"`
	Version      int                  `json:"version"`
	Name         string               `json:"name,omitzero"`
	Jurisdiction region.Code          `json:"jurisdiction,omitzero"`
	Owner        string               `json:"owner,omitzero"`
	Fields       []permitFieldDoc     `json:"fields,omitzero"`
	Documents    []permitDocSpecDoc   `json:"documents,omitzero"`
	Items        []permitItemDoc      `json:"items,omitzero"`
	SLA          permitWorkingTimeDoc `json:"sla,omitzero"`
	Proxies      []string             `json:"proxies,omitzero"`
}

type permitFieldDoc struct {
	ID       string            `json:"id"`
	Label    string            `json:"label,omitzero"`
	Kind     int8              `json:"kind,omitzero"`
	Choices  []permitChoiceDoc `json:"choices,omitzero"`
	Optional bool              `json:"optional,omitzero"`
	MaxLen   int               `json:"max_len,omitzero"`
	Source   string            `json:"source,omitzero"`
}

type permitChoiceDoc struct {
	Value string `json:"value"`
	Label string `json:"label,omitzero"`
}

type permitDocSpecDoc struct {
	ID       string `json:"id"`
	Name     string `json:"name,omitzero"`
	Optional bool   `json:"optional,omitzero"`
}

type permitItemDoc struct {
	ID         string               `json:"id"`
	Name       string               `json:"name,omitzero"`
	Department string               `json:"department,omitzero"`
	Fields     []string             `json:"fields,omitzero"`
	Documents  []string             `json:"documents,omitzero"`
	Needs      []string             `json:"needs,omitzero"`
	Outputs    []permitOutputDoc    `json:"outputs,omitzero"`
	SLA        permitWorkingTimeDoc `json:"sla,omitzero"`
	Joint      string               `json:"joint,omitzero"`
	Checklist  []permitCheckDoc     `json:"checklist,omitzero"`
	Optional   bool                 `json:"optional,omitzero"`
	Fee        string               `json:"fee,omitzero"` // the decimal's text, exact
}

type permitOutputDoc struct {
	ID   string `json:"id"`
	Name string `json:"name,omitzero"`
	Kind int8   `json:"kind,omitzero"`
}

type permitCheckDoc struct {
	ID   string `json:"id"`
	Text string `json:"text,omitzero"`
}

type permitWorkingTimeDoc struct {
	Days int           `json:"days,omitzero"`
	Time time.Duration `json:"time,omitzero"`
}

func permitWorkingTimeDocOf(w permit.WorkingTime) permitWorkingTimeDoc {
	return permitWorkingTimeDoc{Days: w.Days, Time: w.Time}
}

func permitWorkingTimeOf(w permitWorkingTimeDoc) permit.WorkingTime {
	return permit.WorkingTime{Days: w.Days, Time: w.Time}
}

func permitTemplateDocOf(t *permit.Template) permitTemplateDoc {
	return permitTemplateDoc{
		V: permitDocVersion, ID: t.ID, Version: t.Version, Name: t.Name, Jurisdiction: t.Jurisdiction, Owner: t.Owner,
		Fields: permitSlice(t.Fields, func(f permit.Field) permitFieldDoc {
			return permitFieldDoc{
				ID: f.ID, Label: f.Label, Kind: int8(f.Kind), Optional: f.Optional, MaxLen: f.MaxLen, Source: f.Source,
				Choices: permitSlice(f.Choices, func(c permit.Choice) permitChoiceDoc { return permitChoiceDoc{Value: c.Value, Label: c.Label} }),
			}
		}),
		Documents: permitSlice(t.Documents, func(d permit.DocumentSpec) permitDocSpecDoc {
			return permitDocSpecDoc{ID: d.ID, Name: d.Name, Optional: d.Optional}
		}),
		Items: permitSlice(t.Items, func(it permit.Item) permitItemDoc {
			return permitItemDoc{
				ID: it.ID, Name: it.Name, Department: it.Department, Fields: it.Fields, Documents: it.Documents, Needs: it.Needs,
				Outputs: permitSlice(it.Outputs, func(o permit.Output) permitOutputDoc {
					return permitOutputDoc{ID: o.ID, Name: o.Name, Kind: int8(o.Kind)}
				}),
				SLA: permitWorkingTimeDocOf(it.SLA), Joint: it.Joint, Optional: it.Optional,
				Checklist: permitSlice(it.Checklist, func(c permit.Check) permitCheckDoc { return permitCheckDoc{ID: c.ID, Text: c.Text} }),
				Fee:       permitFeeText(it.Fee),
			}
		}),
		SLA: permitWorkingTimeDocOf(t.SLA), Proxies: t.Proxies,
	}
}

func decodePermitTemplate(b []byte) (permit.Template, error) {
	var d permitTemplateDoc
	if err := json.Unmarshal(b, &d); err != nil {
		return permit.Template{}, fmt.Errorf("postgres: decode template: %w", err)
	}
	if d.V != permitDocVersion {
		return permit.Template{}, fmt.Errorf("postgres: template %s version %d: unknown document version %d", d.ID, d.Version, d.V)
	}
	return permit.Template{
		ID: d.ID, Version: d.Version, Name: d.Name, Jurisdiction: d.Jurisdiction, Owner: d.Owner,
		Fields: permitSlice(d.Fields, func(f permitFieldDoc) permit.Field {
			return permit.Field{
				ID: f.ID, Label: f.Label, Kind: permit.FieldKind(f.Kind), Optional: f.Optional, MaxLen: f.MaxLen, Source: f.Source,
				Choices: permitSlice(f.Choices, func(c permitChoiceDoc) permit.Choice { return permit.Choice{Value: c.Value, Label: c.Label} }),
			}
		}),
		Documents: permitSlice(d.Documents, func(s permitDocSpecDoc) permit.DocumentSpec {
			return permit.DocumentSpec{ID: s.ID, Name: s.Name, Optional: s.Optional}
		}),
		Items: permitSlice(d.Items, func(it permitItemDoc) permit.Item {
			return permit.Item{
				ID: it.ID, Name: it.Name, Department: it.Department, Fields: it.Fields, Documents: it.Documents, Needs: it.Needs,
				Outputs: permitSlice(it.Outputs, func(o permitOutputDoc) permit.Output {
					return permit.Output{ID: o.ID, Name: o.Name, Kind: permit.FieldKind(o.Kind)}
				}),
				SLA: permitWorkingTimeOf(it.SLA), Joint: it.Joint, Optional: it.Optional,
				Checklist: permitSlice(it.Checklist, func(c permitCheckDoc) permit.Check { return permit.Check{ID: c.ID, Text: c.Text} }),
				Fee:       permitFee(it.Fee),
			}
		}),
		SLA: permitWorkingTimeOf(d.SLA), Proxies: d.Proxies,
	}, nil
}

// permitApplicationDoc is the stored form of an application. Personal
// data is held as Sealer.Seal's output (base64 in JSON), under keys
// ending in "_sealed".
type permitApplicationDoc struct {
	V               int                          `json:"v"`
	ID              uuid.UUID                    `json:"id"`
	Key             string                       `json:"key,omitzero"`
	Template        string                       `json:"template"`
	TemplateVersion int                          `json:"template_version"`
	Jurisdiction    region.Code                  `json:"jurisdiction"`
	Applicant       string                       `json:"applicant"`
	OnBehalf        *permitAuthorisationDoc      `json:"on_behalf,omitzero"`
	Status          int8                         `json:"status"`
	Answers         map[string]permitAnswerDoc   `json:"answers,omitzero"`
	Documents       map[string]permitDocumentDoc `json:"documents,omitzero"`
	Offers          map[string]permitOfferDoc    `json:"offers,omitzero"`
	Consents        []permitConsentDoc           `json:"consents,omitzero"`
	Items           []permitItemStateDoc         `json:"items,omitzero"`
	Checks          []permitCheckLineDoc         `json:"checks,omitzero"`
	Corrections     []permitCorrectionDoc        `json:"corrections,omitzero"`
	Outputs         map[string]permitValueDoc    `json:"outputs,omitzero"`
	History         []permitStepDoc              `json:"history,omitzero"`
	Created         time.Time                    `json:"created,omitzero"`
	Submitted       time.Time                    `json:"submitted,omitzero"`
	Finished        time.Time                    `json:"finished,omitzero"`
	Deadline        time.Time                    `json:"deadline,omitzero"`
	PausedAt        time.Time                    `json:"paused_at,omitzero"`
	Remaining       time.Duration                `json:"remaining,omitzero"`
	Escalations     int                          `json:"escalations,omitzero"`
	BundleCheck     time.Time                    `json:"bundle_check,omitzero"`
	NextCheck       time.Time                    `json:"next_check,omitzero"`
	Keys            []string                     `json:"keys,omitzero"`
	Version         int64                        `json:"version"`
}

type permitValueDoc struct {
	Text     string   `json:"text,omitzero"`
	List     []string `json:"list,omitzero"`
	Personal []byte   `json:"personal_sealed,omitzero"`
}

type permitAnswerDoc struct {
	Value  permitValueDoc `json:"value,omitzero"`
	Source string         `json:"source,omitzero"`
	At     time.Time      `json:"at,omitzero"`
}

type permitDocumentDoc struct {
	URI      string    `json:"uri"`
	SHA256   string    `json:"sha256"`
	Name     string    `json:"name,omitzero"`
	Attached time.Time `json:"attached,omitzero"`
}

type permitOfferDoc struct {
	Source string           `json:"source,omitzero"`
	Values []permitValueDoc `json:"values,omitzero"`
	At     time.Time        `json:"at,omitzero"`
}

type permitConsentDoc struct {
	Source string    `json:"source"`
	By     string    `json:"by,omitzero"`
	At     time.Time `json:"at,omitzero"`
}

type permitAuthorisationDoc struct {
	Principal    string            `json:"principal,omitzero"`
	Name         []byte            `json:"name_sealed,omitzero"`
	IDNumber     []byte            `json:"id_number_sealed,omitzero"`
	Relationship string            `json:"relationship,omitzero"`
	Basis        permitDocumentDoc `json:"basis,omitzero"`
	ValidUntil   time.Time         `json:"valid_until,omitzero"`
	RecordedBy   string            `json:"recorded_by,omitzero"`
	RecordedAt   time.Time         `json:"recorded_at,omitzero"`
}

type permitItemStateDoc struct {
	Item       string                    `json:"item"`
	Department string                    `json:"department,omitzero"`
	Joint      string                    `json:"joint,omitzero"`
	Optional   bool                      `json:"optional,omitzero"`
	Status     int8                      `json:"status,omitzero"`
	Round      int                       `json:"round,omitzero"`
	Started    time.Time                 `json:"started,omitzero"`
	Deadline   time.Time                 `json:"deadline,omitzero"`
	PausedAt   time.Time                 `json:"paused_at,omitzero"`
	Remaining  time.Duration             `json:"remaining,omitzero"`
	Finished   time.Time                 `json:"finished,omitzero"`
	Reviewer   string                    `json:"reviewer,omitzero"`
	Reasons    []string                  `json:"reasons,omitzero"`
	Marks      []permitMarkDoc           `json:"marks,omitzero"`
	Outputs    map[string]permitValueDoc `json:"outputs,omitzero"`
	Escalated  int                       `json:"escalated,omitzero"`
	EscalateTo string                    `json:"escalate_to,omitzero"`
	NextCheck  time.Time                 `json:"next_check,omitzero"`
}

type permitMarkDoc struct {
	Item   string `json:"item,omitzero"`
	Field  string `json:"field,omitzero"`
	Reason string `json:"reason,omitzero"`
	By     string `json:"by,omitzero"`
}

type permitCheckLineDoc struct {
	ID        string    `json:"id"`
	Text      string    `json:"text,omitzero"`
	Joint     string    `json:"joint,omitzero"`
	Items     []string  `json:"items,omitzero"`
	Confirmed bool      `json:"confirmed,omitzero"`
	By        string    `json:"by,omitzero"`
	At        time.Time `json:"at,omitzero"`
}

type permitCorrectionDoc struct {
	Seq       int                        `json:"seq"`
	Items     []string                   `json:"items,omitzero"`
	Marks     []permitMarkDoc            `json:"marks,omitzero"`
	Requested time.Time                  `json:"requested,omitzero"`
	Resolved  time.Time                  `json:"resolved,omitzero"`
	Previous  map[string]permitAnswerDoc `json:"previous,omitzero"`
}

type permitStepDoc struct {
	Time   time.Time `json:"time,omitzero"`
	Actor  string    `json:"actor,omitzero"`
	Action string    `json:"action,omitzero"`
	Item   string    `json:"item,omitzero"`
	Note   string    `json:"note,omitzero"`
	Fields []string  `json:"fields,omitzero"`
}

// permitSeal seals personal data for a document, keeping the first error.
type permitSeal struct {
	sealer *pii.Sealer
	err    error
}

func (p *permitSeal) data(d pii.Data) []byte {
	if d.IsZero() || p.err != nil {
		return nil
	}
	b, err := p.sealer.Seal(d)
	if err != nil {
		p.err = fmt.Errorf("seal personal data: %w", err)
	}
	return b
}

func (p *permitSeal) value(v permit.Value) permitValueDoc {
	return permitValueDoc{Text: v.Text, List: v.List, Personal: p.data(v.Personal)}
}

func (p *permitSeal) answer(a permit.Answer) permitAnswerDoc {
	return permitAnswerDoc{Value: p.value(a.Value), Source: a.Source, At: permitTime(a.At)}
}

func permitDocumentDocOf(d permit.Document) permitDocumentDoc {
	return permitDocumentDoc{URI: d.URI, SHA256: d.SHA256, Name: d.Name, Attached: permitTime(d.Attached)}
}

func permitMarkDocOf(m permit.Mark) permitMarkDoc {
	return permitMarkDoc{Item: m.Item, Field: m.Field, Reason: m.Reason, By: m.By}
}

func (s *PermitStore) applicationDocOf(a *permit.Application) (permitApplicationDoc, error) {
	p := &permitSeal{sealer: s.sealer}
	d := permitApplicationDoc{
		V: permitDocVersion, ID: a.ID, Key: a.Key, Template: a.Template, TemplateVersion: a.TemplateVersion,
		Jurisdiction: a.Jurisdiction, Applicant: a.Applicant, Status: int8(a.Status),
		Answers:   permitMap(a.Answers, p.answer),
		Documents: permitMap(a.Documents, permitDocumentDocOf),
		Offers: permitMap(a.Offers, func(o permit.Offer) permitOfferDoc {
			return permitOfferDoc{Source: o.Source, Values: permitSlice(o.Values, p.value), At: permitTime(o.At)}
		}),
		Consents: permitSlice(a.Consents, func(c permit.Consent) permitConsentDoc {
			return permitConsentDoc{Source: c.Source, By: c.By, At: permitTime(c.At)}
		}),
		Items: permitSlice(a.Items, func(it permit.ItemState) permitItemStateDoc {
			return permitItemStateDoc{
				Item: it.Item, Department: it.Department, Joint: it.Joint, Optional: it.Optional, Status: int8(it.Status),
				Round: it.Round, Started: permitTime(it.Started), Deadline: permitTime(it.Deadline),
				PausedAt: permitTime(it.PausedAt), Remaining: it.Remaining, Finished: permitTime(it.Finished),
				Reviewer: it.Reviewer, Reasons: it.Reasons, Marks: permitSlice(it.Marks, permitMarkDocOf),
				Outputs: permitMap(it.Outputs, p.value), Escalated: it.Escalated, EscalateTo: it.EscalateTo,
				NextCheck: permitTime(it.NextCheck),
			}
		}),
		Checks: permitSlice(a.Checks, func(c permit.CheckLine) permitCheckLineDoc {
			return permitCheckLineDoc{ID: c.ID, Text: c.Text, Joint: c.Joint, Items: c.Items, Confirmed: c.Confirmed,
				By: c.By, At: permitTime(c.At)}
		}),
		Corrections: permitSlice(a.Corrections, func(c permit.Correction) permitCorrectionDoc {
			return permitCorrectionDoc{Seq: c.Seq, Items: c.Items, Marks: permitSlice(c.Marks, permitMarkDocOf),
				Requested: permitTime(c.Requested), Resolved: permitTime(c.Resolved), Previous: permitMap(c.Previous, p.answer)}
		}),
		Outputs: permitMap(a.Outputs, p.value),
		History: permitSlice(a.History, func(s permit.Step) permitStepDoc {
			return permitStepDoc{Time: permitTime(s.Time), Actor: s.Actor, Action: s.Action, Item: s.Item, Note: s.Note, Fields: s.Fields}
		}),
		Created: permitTime(a.Created), Submitted: permitTime(a.Submitted), Finished: permitTime(a.Finished),
		Deadline: permitTime(a.Deadline), PausedAt: permitTime(a.PausedAt), Remaining: a.Remaining,
		Escalations: a.Escalations, BundleCheck: permitTime(a.BundleCheck), NextCheck: permitTime(a.NextCheck),
		Keys: a.Keys, Version: a.Version,
	}
	if ob := a.OnBehalf; ob != nil {
		d.OnBehalf = &permitAuthorisationDoc{
			Principal: ob.Principal, Name: p.data(ob.Name), IDNumber: p.data(ob.IDNumber), Relationship: ob.Relationship,
			Basis: permitDocumentDocOf(ob.Basis), ValidUntil: permitTime(ob.ValidUntil), RecordedBy: ob.RecordedBy,
			RecordedAt: permitTime(ob.RecordedAt),
		}
	}
	return d, p.err
}

// permitOpen opens sealed personal data of a document, keeping the first
// error.
type permitOpen struct {
	sealer *pii.Sealer
	err    error
}

func (p *permitOpen) data(b []byte) pii.Data {
	if b == nil || p.err != nil {
		return pii.Data{}
	}
	d, err := p.sealer.Open(b)
	if err != nil {
		p.err = fmt.Errorf("open personal data: %w", err)
	}
	return d
}

func (p *permitOpen) value(v permitValueDoc) permit.Value {
	return permit.Value{Text: v.Text, List: v.List, Personal: p.data(v.Personal)}
}

func (p *permitOpen) answer(a permitAnswerDoc) permit.Answer {
	return permit.Answer{Value: p.value(a.Value), Source: a.Source, At: permitUTC(a.At)}
}

func permitDocumentOf(d permitDocumentDoc) permit.Document {
	return permit.Document{URI: d.URI, SHA256: d.SHA256, Name: d.Name, Attached: permitUTC(d.Attached)}
}

func permitMarkOf(m permitMarkDoc) permit.Mark {
	return permit.Mark{Item: m.Item, Field: m.Field, Reason: m.Reason, By: m.By}
}

func (s *PermitStore) decodeApplication(b []byte) (permit.Application, error) {
	var d permitApplicationDoc
	if err := json.Unmarshal(b, &d); err != nil {
		return permit.Application{}, fmt.Errorf("postgres: decode application: %w", err)
	}
	if d.V != permitDocVersion {
		return permit.Application{}, fmt.Errorf("postgres: application %s: unknown document version %d", d.ID, d.V)
	}
	p := &permitOpen{sealer: s.sealer}
	a := permit.Application{
		ID: d.ID, Key: d.Key, Template: d.Template, TemplateVersion: d.TemplateVersion, Jurisdiction: d.Jurisdiction,
		Applicant: d.Applicant, Status: permit.Status(d.Status),
		Answers:   permitMap(d.Answers, p.answer),
		Documents: permitMap(d.Documents, permitDocumentOf),
		Offers: permitMap(d.Offers, func(o permitOfferDoc) permit.Offer {
			return permit.Offer{Source: o.Source, Values: permitSlice(o.Values, p.value), At: permitUTC(o.At)}
		}),
		Consents: permitSlice(d.Consents, func(c permitConsentDoc) permit.Consent {
			return permit.Consent{Source: c.Source, By: c.By, At: permitUTC(c.At)}
		}),
		Items: permitSlice(d.Items, func(it permitItemStateDoc) permit.ItemState {
			return permit.ItemState{
				Item: it.Item, Department: it.Department, Joint: it.Joint, Optional: it.Optional,
				Status: permit.ItemStatus(it.Status), Round: it.Round, Started: permitUTC(it.Started),
				Deadline: permitUTC(it.Deadline), PausedAt: permitUTC(it.PausedAt), Remaining: it.Remaining,
				Finished: permitUTC(it.Finished), Reviewer: it.Reviewer, Reasons: it.Reasons,
				Marks: permitSlice(it.Marks, permitMarkOf), Outputs: permitMap(it.Outputs, p.value),
				Escalated: it.Escalated, EscalateTo: it.EscalateTo, NextCheck: permitUTC(it.NextCheck),
			}
		}),
		Checks: permitSlice(d.Checks, func(c permitCheckLineDoc) permit.CheckLine {
			return permit.CheckLine{ID: c.ID, Text: c.Text, Joint: c.Joint, Items: c.Items, Confirmed: c.Confirmed,
				By: c.By, At: permitUTC(c.At)}
		}),
		Corrections: permitSlice(d.Corrections, func(c permitCorrectionDoc) permit.Correction {
			return permit.Correction{Seq: c.Seq, Items: c.Items, Marks: permitSlice(c.Marks, permitMarkOf),
				Requested: permitUTC(c.Requested), Resolved: permitUTC(c.Resolved), Previous: permitMap(c.Previous, p.answer)}
		}),
		Outputs: permitMap(d.Outputs, p.value),
		History: permitSlice(d.History, func(s permitStepDoc) permit.Step {
			return permit.Step{Time: permitUTC(s.Time), Actor: s.Actor, Action: s.Action, Item: s.Item, Note: s.Note, Fields: s.Fields}
		}),
		Created: permitUTC(d.Created), Submitted: permitUTC(d.Submitted), Finished: permitUTC(d.Finished),
		Deadline: permitUTC(d.Deadline), PausedAt: permitUTC(d.PausedAt), Remaining: d.Remaining,
		Escalations: d.Escalations, BundleCheck: permitUTC(d.BundleCheck), NextCheck: permitUTC(d.NextCheck),
		Keys: d.Keys, Version: d.Version,
	}
	if ob := d.OnBehalf; ob != nil {
		a.OnBehalf = &permit.Authorisation{
			Principal: ob.Principal, Name: p.data(ob.Name), IDNumber: p.data(ob.IDNumber), Relationship: ob.Relationship,
			Basis: permitDocumentOf(ob.Basis), ValidUntil: permitUTC(ob.ValidUntil), RecordedBy: ob.RecordedBy,
			RecordedAt: permitUTC(ob.RecordedAt),
		}
	}
	if p.err != nil {
		return permit.Application{}, fmt.Errorf("postgres: application %s: %w", d.ID, p.err)
	}
	return a, nil
}

type permitWindowDoc struct {
	Start time.Time `json:"start,omitzero"`
	End   time.Time `json:"end,omitzero"`
}

func permitWindowDocOf(w permit.Window) permitWindowDoc {
	return permitWindowDoc{Start: permitTime(w.Start), End: permitTime(w.End)}
}

func permitWindowOf(w permitWindowDoc) permit.Window {
	return permit.Window{Start: permitUTC(w.Start), End: permitUTC(w.End)}
}

type permitPointDoc struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

type permitExcavationDoc struct {
	V            int              `json:"v"`
	ID           uuid.UUID        `json:"id"`
	Key          string           `json:"key,omitzero"`
	Promoter     string           `json:"promoter"`
	Segment      string           `json:"segment"`
	Site         []permitPointDoc `json:"site,omitzero"`
	Jurisdiction region.Code      `json:"jurisdiction"`
	Window       permitWindowDoc  `json:"window"`
	Emergency    bool             `json:"emergency,omitzero"`
	Purpose      string           `json:"purpose,omitzero"`
	Status       int8             `json:"status"`
	Joint        uuid.UUID        `json:"joint,omitzero"`
	Applicant    string           `json:"applicant,omitzero"`
	Submitted    time.Time        `json:"submitted,omitzero"`
	Completed    time.Time        `json:"completed,omitzero"`
	Version      int64            `json:"version"`
}

func permitExcavationDocOf(e *permit.Excavation) permitExcavationDoc {
	return permitExcavationDoc{
		V: permitDocVersion, ID: e.ID, Key: e.Key, Promoter: e.Promoter, Segment: e.Segment,
		Site:         permitSlice(e.Site, func(p geo.Point) permitPointDoc { return permitPointDoc{Lat: p.Lat, Lon: p.Lon} }),
		Jurisdiction: e.Jurisdiction, Window: permitWindowDocOf(e.Window), Emergency: e.Emergency, Purpose: e.Purpose,
		Status: int8(e.Status), Joint: e.Joint, Applicant: e.Applicant, Submitted: permitTime(e.Submitted),
		Completed: permitTime(e.Completed), Version: e.Version,
	}
}

func decodePermitExcavation(b []byte) (permit.Excavation, error) {
	var d permitExcavationDoc
	if err := json.Unmarshal(b, &d); err != nil {
		return permit.Excavation{}, fmt.Errorf("postgres: decode excavation: %w", err)
	}
	if d.V != permitDocVersion {
		return permit.Excavation{}, fmt.Errorf("postgres: excavation %s: unknown document version %d", d.ID, d.V)
	}
	var site geo.LineString
	if d.Site != nil {
		site = make(geo.LineString, len(d.Site))
		for i, p := range d.Site {
			site[i] = geo.Point{Lat: p.Lat, Lon: p.Lon}
		}
	}
	return permit.Excavation{
		ID: d.ID, Key: d.Key, Promoter: d.Promoter, Segment: d.Segment, Site: site, Jurisdiction: d.Jurisdiction,
		Window: permitWindowOf(d.Window), Emergency: d.Emergency, Purpose: d.Purpose,
		Status: permit.ExcavationStatus(d.Status), Joint: d.Joint, Applicant: d.Applicant,
		Submitted: permitUTC(d.Submitted), Completed: permitUTC(d.Completed), Version: d.Version,
	}, nil
}

type permitJointDoc struct {
	V            int             `json:"v"`
	ID           uuid.UUID       `json:"id"`
	Members      []uuid.UUID     `json:"members,omitzero"`
	Promoters    []string        `json:"promoters,omitzero"`
	Lead         string          `json:"lead,omitzero"`
	Segments     []string        `json:"segments,omitzero"`
	Window       permitWindowDoc `json:"window"`
	Jurisdiction region.Code     `json:"jurisdiction"`
	Emergency    bool            `json:"emergency,omitzero"`
	Status       int8            `json:"status"`
	Note         string          `json:"note,omitzero"`
	Created      time.Time       `json:"created,omitzero"`
	Decided      time.Time       `json:"decided,omitzero"`
	Version      int64           `json:"version"`
}

func permitJointDocOf(j *permit.JointExcavation) permitJointDoc {
	return permitJointDoc{
		V: permitDocVersion, ID: j.ID, Members: j.Members, Promoters: j.Promoters, Lead: j.Lead, Segments: j.Segments,
		Window: permitWindowDocOf(j.Window), Jurisdiction: j.Jurisdiction, Emergency: j.Emergency, Status: int8(j.Status),
		Note: j.Note, Created: permitTime(j.Created), Decided: permitTime(j.Decided), Version: j.Version,
	}
}

func decodePermitJoint(b []byte) (permit.JointExcavation, error) {
	var d permitJointDoc
	if err := json.Unmarshal(b, &d); err != nil {
		return permit.JointExcavation{}, fmt.Errorf("postgres: decode joint excavation: %w", err)
	}
	if d.V != permitDocVersion {
		return permit.JointExcavation{}, fmt.Errorf("postgres: joint excavation %s: unknown document version %d", d.ID, d.V)
	}
	return permit.JointExcavation{
		ID: d.ID, Members: d.Members, Promoters: d.Promoters, Lead: d.Lead, Segments: d.Segments,
		Window: permitWindowOf(d.Window), Jurisdiction: d.Jurisdiction, Emergency: d.Emergency,
		Status: permit.JointStatus(d.Status), Note: d.Note, Created: permitUTC(d.Created), Decided: permitUTC(d.Decided),
		Version: d.Version,
	}, nil
}

type permitMoratoriumDoc struct {
	V            int         `json:"v"`
	ID           uuid.UUID   `json:"id"`
	Segment      string      `json:"segment"`
	Jurisdiction region.Code `json:"jurisdiction"`
	From         time.Time   `json:"from,omitzero"`
	Until        time.Time   `json:"until,omitzero"`
	Cause        string      `json:"cause,omitzero"`
	Works        uuid.UUID   `json:"works,omitzero"`
	Version      int64       `json:"version"`
}

func permitMoratoriumDocOf(m *permit.Moratorium) permitMoratoriumDoc {
	return permitMoratoriumDoc{
		V: permitDocVersion, ID: m.ID, Segment: m.Segment, Jurisdiction: m.Jurisdiction, From: permitTime(m.From),
		Until: permitTime(m.Until), Cause: m.Cause, Works: m.Works, Version: m.Version,
	}
}

func decodePermitMoratorium(b []byte) (permit.Moratorium, error) {
	var d permitMoratoriumDoc
	if err := json.Unmarshal(b, &d); err != nil {
		return permit.Moratorium{}, fmt.Errorf("postgres: decode moratorium: %w", err)
	}
	if d.V != permitDocVersion {
		return permit.Moratorium{}, fmt.Errorf("postgres: moratorium %s: unknown document version %d", d.ID, d.V)
	}
	return permit.Moratorium{
		ID: d.ID, Segment: d.Segment, Jurisdiction: d.Jurisdiction, From: permitUTC(d.From), Until: permitUTC(d.Until),
		Cause: d.Cause, Works: d.Works, Version: d.Version,
	}, nil
}

// permitFeeText is a fee's exact decimal text, "" for none.
func permitFeeText(d *apd.Decimal) string {
	if d == nil {
		return ""
	}
	return d.String()
}

// permitFee parses a fee written by permitFeeText; text that is not a
// decimal (which the store never writes) reads as no fee.
func permitFee(s string) *apd.Decimal {
	if s == "" {
		return nil
	}
	d, _, err := apd.NewFromString(s)
	if err != nil {
		return nil
	}
	return d
}

// permitOutboxMessages converts events for WriteOutbox, rejecting them as
// PermitEventErrors.
func permitOutboxMessages(msgs []bus.Message) ([]OutboxMessage, []uuid.UUID, error) {
	return outboxMessages(msgs, false, func(i int, id, reason string) error {
		return &PermitEventError{Index: i, ID: id, Reason: reason}
	})
}
