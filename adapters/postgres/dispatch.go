package postgres

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/dispatch"
)

//go:embed migrations/dispatch/*.sql
var dispatchMigrationFS embed.FS

// DispatchComponent is the component under which the dispatch store's
// migrations are recorded in govkit_schema_migrations.
const DispatchComponent = "dispatch"

// DispatchStore is dispatch.Store on PostgreSQL: work orders in
// govkit_dispatch_order, case files in govkit_dispatch_case, and events in
// the shared outbox govkit_outbox, written in the same transaction as the
// state they announce. It passes dispatchtest.Run and is safe for
// concurrent use.
//
// Each record is stored whole as a JSON document of all its exported
// fields, so that a field added to WorkOrder or CaseFile later is stored
// without a change here; the fields Orders filters on are copied into
// indexed columns. The document's keys are the Go field names: renaming a
// field needs a new document version.
//
// Times are stored in UTC at microsecond precision, the precision of
// timestamptz, and come back so; the dispatch service writes them so
// already. Strings are stored as UTF-8 text: a string holding NUL, or an
// invalid Case or Body, is refused with an error matching
// dispatch.ErrInvalidCommand; other invalid UTF-8 comes back with U+FFFD,
// as encoding/json writes it.
//
// The outbox is shared with the other stores. Pending and MarkPublished
// see only the messages this store wrote (the table govkit_dispatch_event
// marks them), so the dispatch service's own flush never publishes
// another component's events; a relay over the whole outbox
// (FetchUnpublished) publishes them all, and Pending reflects that. Event
// IDs must be UUIDs in canonical form (see DispatchEventError); an event's
// zero Time is stored as the transaction's time. Pending returns messages
// in the order they were written (Seq): the commit order when changes do
// not overlap in time.
type DispatchStore struct {
	db     *DB
	writes *txGroup[dispatchWrite]
}

var _ dispatch.Store = (*DispatchStore)(nil)

// NewDispatchStore applies the outbox's and the dispatch store's
// migrations (component DispatchComponent) to db and returns the store. A
// nil db is an error matching ErrInvalidArgument.
func NewDispatchStore(ctx context.Context, db *DB) (*DispatchStore, error) {
	if db == nil {
		return nil, fmt.Errorf("%w: NewDispatchStore needs a DB", ErrInvalidArgument)
	}
	if err := db.MigrateOutbox(ctx); err != nil {
		return nil, err
	}
	migs, err := LoadMigrations(dispatchMigrationFS, "migrations/dispatch")
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx, DispatchComponent, migs); err != nil {
		return nil, err
	}
	s := &DispatchStore{db: db}
	s.writes = newTxGroup(db, writeSlots(db), s.queueWrite)
	return s, nil
}

// DispatchEventError reports an event of a dispatch.Change that the outbox
// cannot hold: govkit_outbox identifies messages by UUID, so an event's ID
// must be a non-zero UUID in canonical form (as uuid.UUID.String writes
// it), so that it comes back from Pending, and is accepted by
// MarkPublished, unchanged; and it needs a subject. Nothing of the change
// was written.
type DispatchEventError struct {
	Index  int    // position in Change.Events
	ID     string // the rejected ID
	Reason string
}

// Error describes the problem.
func (e *DispatchEventError) Error() string {
	return fmt.Sprintf("postgres: dispatch event [%d] id %q: %s", e.Index, e.ID, e.Reason)
}

// Unwrap lets errors.Is match ErrInvalidOutboxMessage and
// dispatch.ErrInvalidCommand.
func (e *DispatchEventError) Unwrap() []error {
	return []error{ErrInvalidOutboxMessage, dispatch.ErrInvalidCommand}
}

// dispatchRow is one record of a change encoded for its table.
type dispatchRow struct {
	what    string // "work order <id>" or "case file <id>", for errors
	create  bool
	version int64
	sql     string
	args    []any
}

// Apply implements dispatch.Store: the whole change in one transaction,
// so any error leaves nothing of it behind. Records are encoded first,
// outside the transaction, so that a retry after a deadlock repeats only
// the statements; the statements and events then go in one round trip
// with the transaction's BEGIN and COMMIT. Changes applied concurrently share
// transactions (see txGroup); each still succeeds or fails on its own.
func (s *DispatchStore) Apply(ctx context.Context, c dispatch.Change) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(c.Orders) == 0 && len(c.Cases) == 0 && len(c.Events) == 0 {
		return nil
	}
	rows := make([]dispatchRow, 0, len(c.Orders)+len(c.Cases))
	for i := range c.Orders {
		r, err := encodeDispatchOrder(&c.Orders[i])
		if err != nil {
			return err
		}
		rows = append(rows, r)
	}
	for i := range c.Cases {
		r, err := encodeDispatchCase(&c.Cases[i])
		if err != nil {
			return err
		}
		rows = append(rows, r)
	}
	events, eventIDs, err := dispatchOutboxMessages(c.Events)
	if err != nil {
		return err
	}
	return s.writes.Do(ctx, &dispatchWrite{rows: rows, events: events, eventIDs: eventIDs})
}

// dispatchWrite is a dispatch.Change encoded for the database.
type dispatchWrite struct {
	rows     []dispatchRow
	events   []OutboxMessage
	eventIDs []uuid.UUID
}

func (s *DispatchStore) queueWrite(batch *pgx.Batch, w *dispatchWrite) (func(pgx.BatchResults) error, error) {
	return queueDispatchRows(batch, w.rows, w.events, w.eventIDs, !s.db.noNotify)
}

// queueDispatchRows queues every record's statement, the marks of the
// change's events and the events themselves in one batch, and returns how
// to read the results in the order of the change: the first record that
// fails decides the error, as in the memory store.
func queueDispatchRows(batch *pgx.Batch, rows []dispatchRow, events []OutboxMessage, eventIDs []uuid.UUID, notify bool) (func(pgx.BatchResults) error, error) {
	for _, r := range rows {
		batch.Queue(r.sql, r.args...)
	}
	outboxView{marker: "govkit_dispatch_event"}.mark(batch, eventIDs)
	outbox := 0 // statements queued for the events
	if len(events) > 0 {
		n, err := queueOutbox(batch, events, notify)
		if err != nil {
			return nil, dispatchWriteError("write events", err)
		}
		outbox = n
	}
	return func(br pgx.BatchResults) error { return readDispatchRows(br, rows, eventIDs, outbox) }, nil
}

// readDispatchRows reads every result queueDispatchRows asked for. Each
// check fails its statement on the server, so reading only reports.
func readDispatchRows(br pgx.BatchResults, rows []dispatchRow, eventIDs []uuid.UUID, outbox int) error {
	for _, r := range rows {
		_, err := br.Exec()
		if err == nil {
			continue
		}
		if have, ok := rejectedVersion(err); ok {
			switch have {
			case "":
				return fmt.Errorf("%w: %s", dispatch.ErrNotFound, r.what)
			case strconv.FormatInt(r.version-1, 10): // a concurrent update won the row
				return fmt.Errorf("%w: %s changed while the change expected version %d", dispatch.ErrConflict, r.what, r.version-1)
			}
			return fmt.Errorf("%w: %s is at version %s, the change expects %d", dispatch.ErrConflict, r.what, have, r.version-1)
		}
		if !r.create {
			return dispatchWriteError("update "+r.what, err)
		}
		if pgCode(err) == sqlstateUniqueViolation {
			return fmt.Errorf("%w: %s already exists", dispatch.ErrConflict, r.what)
		}
		return dispatchWriteError("create "+r.what, err)
	}
	if len(eventIDs) > 0 {
		if _, err := br.Exec(); err != nil {
			return dispatchWriteError("write events", err)
		}
	}
	for range outbox {
		if _, err := br.Exec(); err != nil {
			return dispatchWriteError("write events", err)
		}
	}
	return nil
}

// dispatchWriteError maps PostgreSQL's errors to dispatch's: a taken key
// (an event ID already in the outbox, or twice in the change) is a
// conflict; text PostgreSQL cannot hold is an invalid command.
func dispatchWriteError(op string, err error) error {
	switch pgCode(err) {
	case sqlstateUniqueViolation:
		return fmt.Errorf("%w: %s: %w", dispatch.ErrConflict, op, err)
	case sqlstateBadText, sqlstateUntranslatable:
		return fmt.Errorf("%w: %s: text PostgreSQL cannot store: %w", dispatch.ErrInvalidCommand, op, err)
	}
	return fmt.Errorf("postgres: dispatch: %s: %w", op, err)
}

const insertDispatchOrderSQL = `INSERT INTO govkit_dispatch_order
	(id, version, case_id, body, status, kind, grid, offered_at, doc)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`

// updateDispatchOrderSQL applies only over the version before, and
// otherwise fails, naming in the detail, from its snapshot, the version it
// found: empty for none. Every part of the statement sees the same
// snapshot, so the answer cannot be confused by later statements of the
// change.
const updateDispatchOrderSQL = `WITH upd AS (
	UPDATE govkit_dispatch_order
	SET version = $2, case_id = $3, body = $4, status = $5, kind = $6, grid = $7, offered_at = $8,
		doc = $9, updated_at = now()
	WHERE id = $1 AND version = $10
	RETURNING 1)
SELECT CASE WHEN EXISTS (SELECT FROM upd) THEN true
	ELSE govkit_reject('` + sqlstateRejectVersion + `', (SELECT version FROM govkit_dispatch_order WHERE id = $1)::text) END`

const insertDispatchCaseSQL = `INSERT INTO govkit_dispatch_case (case_id, version, doc)
	VALUES ($1, $2, $3)`

const updateDispatchCaseSQL = `WITH upd AS (
	UPDATE govkit_dispatch_case SET version = $2, doc = $3, updated_at = now()
	WHERE case_id = $1 AND version = $4
	RETURNING 1)
SELECT CASE WHEN EXISTS (SELECT FROM upd) THEN true
	ELSE govkit_reject('` + sqlstateRejectVersion + `', (SELECT version FROM govkit_dispatch_case WHERE case_id = $1)::text) END`

func encodeDispatchOrder(o *dispatch.WorkOrder) (dispatchRow, error) {
	n := normalDispatchOrder(*o)
	doc, err := encodeDispatchDoc(dispatchOrderDoc{V: dispatchDocVersion, Order: dispatchOrderFields(n)}, "work order "+o.ID.String())
	if err != nil {
		return dispatchRow{}, err
	}
	r := dispatchRow{what: "work order " + o.ID.String(), create: o.Version == 1, version: o.Version}
	r.args = []any{o.ID, o.Version, o.Case, o.Body, int16(o.Status), int16(o.Kind), string(o.Grid()), n.Offered, doc}
	r.sql = insertDispatchOrderSQL
	if !r.create {
		r.sql, r.args = updateDispatchOrderSQL, append(r.args, o.Version-1)
	}
	return r, nil
}

func encodeDispatchCase(cf *dispatch.CaseFile) (dispatchRow, error) {
	n := cf.Clone()
	n.DisposedAt = dispatchTime(n.DisposedAt)
	doc, err := encodeDispatchDoc(dispatchCaseDoc{V: dispatchDocVersion, Case: dispatchCaseFields(n)}, "case file "+cf.Case)
	if err != nil {
		return dispatchRow{}, err
	}
	r := dispatchRow{what: "case file " + cf.Case, create: cf.Version == 1, version: cf.Version}
	r.args = []any{cf.Case, cf.Version, doc}
	r.sql = insertDispatchCaseSQL
	if !r.create {
		r.sql, r.args = updateDispatchCaseSQL, append(r.args, cf.Version-1)
	}
	return r, nil
}

// encodeDispatchDoc encodes v, refusing NUL, which jsonb cannot hold,
// before the transaction rather than by failing in it.
func encodeDispatchDoc(v any, what string) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("postgres: encode %s: %w", what, err)
	}
	if jsonHasNUL(b) {
		return "", fmt.Errorf("%w: %s holds a NUL character, which PostgreSQL cannot store", dispatch.ErrInvalidCommand, what)
	}
	return string(b), nil
}

// jsonHasNUL reports whether encoding/json output b holds the escape
// \u0000, skipping other escapes (an escaped backslash followed by
// "u0000" is text, not NUL).
func jsonHasNUL(b []byte) bool {
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' || i+1 >= len(b) {
			continue
		}
		if b[i+1] == 'u' && i+6 <= len(b) && string(b[i+2:i+6]) == "0000" {
			return true
		}
		i++ // skip the escaped character
	}
	return false
}

// Order implements dispatch.Store.
func (s *DispatchStore) Order(ctx context.Context, id uuid.UUID) (dispatch.WorkOrder, error) {
	var doc []byte
	err := s.db.pool.QueryRow(ctx, `SELECT doc FROM govkit_dispatch_order WHERE id = $1`, id).Scan(&doc)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return dispatch.WorkOrder{}, fmt.Errorf("%w: work order %s", dispatch.ErrNotFound, id)
	case err != nil:
		return dispatch.WorkOrder{}, fmt.Errorf("postgres: get work order %s: %w", id, err)
	}
	return decodeDispatchOrder(doc)
}

// CaseFile implements dispatch.Store.
func (s *DispatchStore) CaseFile(ctx context.Context, caseID string) (dispatch.CaseFile, error) {
	if !storable(caseID) {
		return dispatch.CaseFile{}, fmt.Errorf("%w: case %q", dispatch.ErrNotFound, caseID)
	}
	var doc []byte
	err := s.db.pool.QueryRow(ctx, `SELECT doc FROM govkit_dispatch_case WHERE case_id = $1`, caseID).Scan(&doc)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return dispatch.CaseFile{}, fmt.Errorf("%w: case %s", dispatch.ErrNotFound, caseID)
	case err != nil:
		return dispatch.CaseFile{}, fmt.Errorf("postgres: get case file %s: %w", caseID, err)
	}
	var d dispatchCaseDoc
	if err := json.Unmarshal(doc, &d); err != nil {
		return dispatch.CaseFile{}, fmt.Errorf("postgres: decode case file %s: %w", caseID, err)
	}
	if d.V != dispatchDocVersion {
		return dispatch.CaseFile{}, fmt.Errorf("postgres: case file %s: unknown document version %d", caseID, d.V)
	}
	return dispatch.CaseFile(d.Case), nil
}

// Orders implements dispatch.Store with one parameterised query: each set
// field of q adds a condition on an indexed column.
func (s *DispatchStore) Orders(ctx context.Context, q dispatch.OrderQuery) (dispatch.OrderPage, error) {
	if err := q.Validate(); err != nil {
		return dispatch.OrderPage{}, err
	}
	if !storable(q.Case) || !storable(q.Body) {
		return dispatch.OrderPage{}, nil // no stored order holds such a string
	}
	limit := q.Limit
	if limit == 0 {
		limit = 100
	}
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	// After is always a bound, as in the memory store: no page holds the
	// zero ID.
	where := []string{"id > " + arg(q.After)}
	if q.Case != "" {
		where = append(where, "case_id = "+arg(q.Case))
	}
	if q.Body != "" {
		where = append(where, "body = "+arg(q.Body))
	}
	if len(q.Statuses) > 0 {
		st := make([]int16, len(q.Statuses))
		for i, status := range q.Statuses {
			st[i] = int16(status)
		}
		where = append(where, "status = ANY("+arg(st)+"::smallint[])")
	}
	if q.Kind != 0 {
		where = append(where, "kind = "+arg(int16(q.Kind)))
	}
	if q.Within != "" {
		// Validate checked the code: the prefix is digits, free of LIKE's
		// wildcards. The range repeats the LIKE so that the
		// text_pattern_ops index serves generic (cached) plans too, where
		// the planner cannot look inside a LIKE parameter.
		prefix := q.Within.Prefix()
		where = append(where, "grid LIKE "+arg(prefix)+"::text || '%'",
			"grid ~>=~ "+arg(prefix), "grid ~<~ "+arg(incidentPrefixEnd(prefix)))
	}
	// offered_at holds whole microseconds: rounding the bounds up keeps
	// ">= Since" and "< Until" exact for bounds between two of them.
	if !q.Since.IsZero() {
		where = append(where, "offered_at >= "+arg(dispatchCeilMicro(q.Since)))
	}
	if !q.Until.IsZero() {
		where = append(where, "offered_at < "+arg(dispatchCeilMicro(q.Until)))
	}
	sql := "SELECT doc FROM govkit_dispatch_order WHERE " + strings.Join(where, " AND ") +
		" ORDER BY id LIMIT " + arg(limit+1) // one more tells whether a next page exists
	rows, err := s.db.pool.Query(ctx, sql, args...)
	if err != nil {
		return dispatch.OrderPage{}, fmt.Errorf("postgres: find work orders: %w", err)
	}
	orders, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (dispatch.WorkOrder, error) {
		var doc []byte
		if err := r.Scan(&doc); err != nil {
			return dispatch.WorkOrder{}, err
		}
		return decodeDispatchOrder(doc)
	})
	if err != nil {
		return dispatch.OrderPage{}, fmt.Errorf("postgres: find work orders: %w", err)
	}
	var p dispatch.OrderPage
	if len(orders) > limit {
		orders = orders[:limit]
		p.Next = orders[limit-1].ID
	}
	if len(orders) > 0 {
		p.Orders = orders
	}
	return p, nil
}

// Pending implements dispatch.Store: the unpublished messages this store
// wrote, in the order written (Seq).
func (s *DispatchStore) Pending(ctx context.Context, limit int) ([]bus.Message, error) {
	return s.events().pending(ctx, limit)
}

// MarkPublished implements dispatch.Store: it sets published_at on the
// outbox messages with the given IDs that this store wrote. Other IDs
// (unknown, another store's, already published, not UUIDs) are ignored.
func (s *DispatchStore) MarkPublished(ctx context.Context, ids ...string) error {
	return s.events().markPublished(ctx, ids...)
}

func (s *DispatchStore) events() outboxView {
	return outboxView{db: s.db, marker: "govkit_dispatch_event", what: "dispatch events"}
}

// dispatchTime returns t as stored: UTC at microsecond precision.
func dispatchTime(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Microsecond)
}

// dispatchCeilMicro returns the first whole microsecond at or after t.
func dispatchCeilMicro(t time.Time) time.Time {
	if r := t.Truncate(time.Microsecond); r.Before(t) {
		return r.Add(time.Microsecond)
	}
	return t
}

// normalDispatchOrder returns a copy of o with its times as stored, so
// that the document and the offered_at column agree.
func normalDispatchOrder(o dispatch.WorkOrder) dispatch.WorkOrder {
	o = o.Clone()
	for _, t := range []*time.Time{&o.Offered, &o.SignedAt, &o.StartedAt, &o.DoneAt, &o.SignBy,
		&o.ReturnBy, &o.Deadline, &o.SuspendedAt, &o.NextCheck} {
		*t = dispatchTime(*t)
	}
	for i := range o.Extensions {
		e := &o.Extensions[i]
		e.RequestedAt, e.DecidedAt = dispatchTime(e.RequestedAt), dispatchTime(e.DecidedAt)
	}
	for i := range o.History {
		o.History[i].Time = dispatchTime(o.History[i].Time)
	}
	return o
}

// dispatchDocVersion versions the document layout below.
const dispatchDocVersion = 1

// dispatchOrderFields and dispatchCaseFields have the fields of WorkOrder
// and CaseFile but none of their methods, so that a MarshalJSON added to
// them for an API cannot change what is stored. Every exported field is
// stored, under its Go name, and nil and empty slices and maps stay apart
// (null and []).
type (
	dispatchOrderFields dispatch.WorkOrder
	dispatchCaseFields  dispatch.CaseFile
)

// dispatchOrderDoc is the stored form of a work order.
type dispatchOrderDoc struct {
	V     int                 `json:"v"`
	Order dispatchOrderFields `json:"order"`
}

// dispatchCaseDoc is the stored form of a case file.
type dispatchCaseDoc struct {
	V    int                `json:"v"`
	Case dispatchCaseFields `json:"case"`
}

func decodeDispatchOrder(b []byte) (dispatch.WorkOrder, error) {
	var d dispatchOrderDoc
	if err := json.Unmarshal(b, &d); err != nil {
		return dispatch.WorkOrder{}, fmt.Errorf("postgres: decode work order: %w", err)
	}
	if d.V != dispatchDocVersion {
		return dispatch.WorkOrder{}, fmt.Errorf("postgres: work order %s: unknown document version %d", d.Order.ID, d.V)
	}
	return dispatch.WorkOrder(d.Order), nil
}

// dispatchOutboxMessages converts events for WriteOutbox, rejecting them as
// DispatchEventErrors.
func dispatchOutboxMessages(msgs []bus.Message) ([]OutboxMessage, []uuid.UUID, error) {
	return outboxMessages(msgs, false, func(i int, id, reason string) error {
		return &DispatchEventError{Index: i, ID: id, Reason: reason}
	})
}
