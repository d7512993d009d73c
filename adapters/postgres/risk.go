package postgres

import (
	"bytes"
	"cmp"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/pii"
	"github.com/govkit/govkit/region"
	"github.com/govkit/govkit/risk"
)

//go:embed migrations/risk/*.sql
var riskMigrationFS embed.FS

// RiskComponent is the component under which the risk store's migrations
// are recorded in govkit_schema_migrations.
const RiskComponent = "risk"

// RiskStore is risk.Store on PostgreSQL: risk points in govkit_risk_point,
// buildings in govkit_risk_building, area warnings, enterprises and
// inspections in govkit_risk_warning, govkit_risk_enterprise and
// govkit_risk_inspection, and events in the shared outbox govkit_outbox,
// written in the same transaction as the state they announce. It passes
// risktest.Run and is safe for concurrent use. It needs no PostGIS.
//
// Points, warnings, enterprises and inspections are stored whole as JSON
// documents in a layout of the store's own, with copies of what queries
// filter on in indexed columns. The names and phone numbers of the people
// responsible for a point are personal data: they are sealed with the
// store's pii.Sealer (AES-256-GCM) before they reach the database. What
// comes back equals what the memory store returns: times to the
// nanosecond with their UTC offset (a zone's name is not kept), decimals
// with their exponent, nil and empty slices apart.
//
// Apply locks the stored versions of the records a change names (SELECT
// ... FOR UPDATE, in ID order) and checks the change against them as the
// memory store does, in the same order, so an invalid change fails with
// the same error; records created concurrently are caught by their
// primary keys. PointsNear and BuildingsNear select a bounding box around
// the centre with a GiST index over the anchor's longitude and latitude
// (PostgreSQL's built-in point type), and keep, with geo.Index, exactly
// the hits, and distances, that the memory store's index gives.
//
// PostgreSQL cannot store every Go value. A string holding NUL or invalid
// UTF-8, a time outside years 0–9999, a NaN or infinite number, a
// geometry of a type outside package geo, and a name of several
// kilobytes (the spatial index holds names) are refused with an error
// matching risk.ErrInvalidInput, reported only when the memory store
// would have accepted the change; looking up such a key finds nothing.
//
// The outbox is shared with the other stores. Pending and MarkPublished
// see only the messages this store wrote (the table govkit_risk_event
// marks them); a Relay publishes the whole outbox. Event IDs must be UUIDs
// in canonical form (see RiskEventError), and an ID ever written to the
// outbox, even since published, is a conflict, while the memory store
// forgets published IDs. An event's zero Time is stored as the
// transaction's time; times come back at microsecond precision.
type RiskStore struct {
	db     *DB
	sealer *pii.Sealer
}

var _ risk.Store = (*RiskStore)(nil)

// NewRiskStore applies the outbox's and the risk store's migrations
// (component RiskComponent) to db and returns a store that seals the
// personal data of the people responsible for points with sealer. A nil
// db or sealer is an error matching ErrInvalidArgument, returned before
// touching the database.
func NewRiskStore(ctx context.Context, db *DB, sealer *pii.Sealer) (*RiskStore, error) {
	switch {
	case db == nil:
		return nil, fmt.Errorf("%w: NewRiskStore needs a DB", ErrInvalidArgument)
	case sealer == nil:
		return nil, fmt.Errorf("%w: NewRiskStore needs a pii.Sealer: the names and phone numbers of responsible persons are stored sealed", ErrInvalidArgument)
	}
	if err := db.MigrateOutbox(ctx); err != nil {
		return nil, err
	}
	migs, err := LoadMigrations(riskMigrationFS, "migrations/risk")
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx, RiskComponent, migs); err != nil {
		return nil, err
	}
	return &RiskStore{db: db, sealer: sealer}, nil
}

// RiskEventError reports an event of a risk.Change that the outbox cannot
// hold: govkit_outbox identifies messages by UUID, so an event's ID must be
// a non-zero UUID in canonical form (as uuid.UUID.String writes it), so
// that it comes back from Pending, and is accepted by MarkPublished,
// unchanged; and it needs a subject. (An empty ID is a conflict, as in the
// memory store.) Nothing of the change was written.
type RiskEventError struct {
	Index  int    // position in Change.Events
	ID     string // the rejected ID
	Reason string
}

// Error describes the problem.
func (e *RiskEventError) Error() string {
	return fmt.Sprintf("postgres: risk event [%d] id %q: %s", e.Index, e.ID, e.Reason)
}

// Unwrap lets errors.Is match ErrInvalidOutboxMessage and
// risk.ErrInvalidInput.
func (e *RiskEventError) Unwrap() []error {
	return []error{ErrInvalidOutboxMessage, risk.ErrInvalidInput}
}

// riskWriteError maps PostgreSQL's errors to risk's.
func riskWriteError(op string, err error) error {
	switch pgCode(err) {
	case sqlstateUniqueViolation:
		return fmt.Errorf("%w: %s: %w", risk.ErrConflict, op, err)
	case sqlstateBadText, sqlstateUntranslatable:
		return fmt.Errorf("%w: %s: text PostgreSQL cannot store: %w", risk.ErrInvalidInput, op, err)
	case sqlstateProgramLimit:
		return fmt.Errorf("%w: %s: a value too large for PostgreSQL's index: %w", risk.ErrInvalidInput, op, err)
	}
	return fmt.Errorf("postgres: risk: %s: %w", op, err)
}

// riskChange is a risk.Change encoded for its tables, outside the
// transaction, so that a retry after a deadlock repeats only statements.
type riskChange struct {
	rows     []riskRow // points (creates, then updates), buildings, warnings, enterprises, inspections
	events   []OutboxMessage
	eventIDs []uuid.UUID
	// err is the first value PostgreSQL cannot store, if any: it is
	// reported once the change has passed the memory store's checks, so
	// that every change the memory store refuses fails here the same way.
	err error
}

// riskRow is one statement of a change and what it means when it
// affects no row.
type riskRow struct {
	sql    string
	args   []any
	onNone error // nil: no row affected is fine (a building's upsert)
}

// Apply implements risk.Store: the whole change in one transaction
// (DB.InTx), so any error leaves nothing of it behind.
func (s *RiskStore) Apply(ctx context.Context, c risk.Change) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(c.CreatePoints) == 0 && len(c.UpdatePoints) == 0 && len(c.PutBuildings) == 0 && len(c.PutWarnings) == 0 &&
		len(c.PutEnterprises) == 0 && len(c.PutInspections) == 0 && len(c.Events) == 0 {
		return nil
	}
	enc := s.encodeChange(&c)
	return s.db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		st, err := readRiskState(ctx, tx, &c)
		if err != nil {
			return err
		}
		if err := checkRiskChange(&c, st); err != nil {
			return err
		}
		if enc.err != nil {
			return enc.err
		}
		if err := writeRiskRows(ctx, tx, enc.rows, enc.eventIDs); err != nil {
			return err
		}
		if err := s.db.writeOutbox(ctx, tx, enc.events...); err != nil {
			return riskWriteError("write events", err)
		}
		return nil
	})
}

// riskState is what a change's checks need of the stored records: the
// versions of those it names that exist.
type riskState struct {
	points      map[uuid.UUID]int64
	warnings    map[string]int64
	enterprises map[string]int64
	inspections map[uuid.UUID]int64
}

// readRiskState reads, and locks until the transaction ends, the stored
// versions of the records c names, in one round trip. Rows are locked in
// ID order, table by table, so that two changes naming the same records
// do not deadlock.
func readRiskState(ctx context.Context, tx pgx.Tx, c *risk.Change) (st *riskState, err error) {
	st = &riskState{
		points: map[uuid.UUID]int64{}, warnings: map[string]int64{},
		enterprises: map[string]int64{}, inspections: map[uuid.UUID]int64{},
	}
	var pointIDs, inspectionIDs []uuid.UUID
	var warningIDs, enterpriseIDs []string
	for _, group := range [][]risk.Point{c.CreatePoints, c.UpdatePoints} {
		for i := range group {
			pointIDs = append(pointIDs, group[i].ID)
		}
	}
	// An ID PostgreSQL cannot store is not stored: absent.
	for i := range c.PutWarnings {
		if id := c.PutWarnings[i].ID; storable(id) {
			warningIDs = append(warningIDs, id)
		}
	}
	for i := range c.PutEnterprises {
		if id := c.PutEnterprises[i].ID; storable(id) {
			enterpriseIDs = append(enterpriseIDs, id)
		}
	}
	for i := range c.PutInspections {
		inspectionIDs = append(inspectionIDs, c.PutInspections[i].ID)
	}

	batch := &pgx.Batch{}
	var reads []func(pgx.Rows) error
	readUUIDs := func(table string, ids []uuid.UUID, into map[uuid.UUID]int64) {
		if len(ids) == 0 {
			return
		}
		batch.Queue(`SELECT id, version FROM `+table+` WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE`, ids)
		reads = append(reads, func(rows pgx.Rows) error {
			var (
				id uuid.UUID
				v  int64
			)
			_, err := pgx.ForEachRow(rows, []any{&id, &v}, func() error {
				into[id] = v
				return nil
			})
			return err
		})
	}
	readTexts := func(table string, ids []string, into map[string]int64) {
		if len(ids) == 0 {
			return
		}
		batch.Queue(`SELECT id, version FROM `+table+` WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE`, ids)
		reads = append(reads, func(rows pgx.Rows) error {
			var (
				id string
				v  int64
			)
			_, err := pgx.ForEachRow(rows, []any{&id, &v}, func() error {
				into[id] = v
				return nil
			})
			return err
		})
	}
	readUUIDs("govkit_risk_point", pointIDs, st.points)
	readTexts("govkit_risk_warning", warningIDs, st.warnings)
	readTexts("govkit_risk_enterprise", enterpriseIDs, st.enterprises)
	readUUIDs("govkit_risk_inspection", inspectionIDs, st.inspections)
	if len(reads) == 0 {
		return st, nil
	}
	br := tx.SendBatch(ctx, batch)
	defer func() {
		if cerr := br.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("postgres: risk: read stored versions: %w", cerr)
		}
	}()
	for _, read := range reads {
		rows, err := br.Query()
		if err != nil {
			return nil, fmt.Errorf("postgres: risk: read stored versions: %w", err)
		}
		if err := read(rows); err != nil {
			return nil, fmt.Errorf("postgres: risk: read stored versions: %w", err)
		}
	}
	return st, nil
}

// checkRiskChange validates c against the stored versions exactly as
// risk.MemoryStore does, in the same order, so that a change fails with
// the same error in both stores.
func checkRiskChange(c *risk.Change, st *riskState) error {
	version := map[uuid.UUID]int64{}
	for i := range c.CreatePoints {
		p := &c.CreatePoints[i]
		if p.ID == uuid.Nil {
			return fmt.Errorf("%w: a point needs an ID", risk.ErrInvalidInput)
		}
		if _, ok := st.points[p.ID]; ok {
			return fmt.Errorf("%w: point %s", risk.ErrDuplicateID, p.ID)
		}
		if _, dup := version[p.ID]; dup {
			return fmt.Errorf("%w: point %s", risk.ErrDuplicateID, p.ID)
		}
		if err := p.Anchor.Validate(); err != nil {
			return &risk.InputError{Field: "anchor", Err: err}
		}
		version[p.ID] = p.Version
	}
	for i := range c.UpdatePoints {
		p := &c.UpdatePoints[i]
		have, ok := version[p.ID]
		if !ok {
			if have, ok = st.points[p.ID]; !ok {
				return fmt.Errorf("%w: point %s", risk.ErrNotFound, p.ID)
			}
		}
		if have != p.Version-1 {
			return fmt.Errorf("%w: point %s is at version %d, the change expects %d", risk.ErrConflict, p.ID, have, p.Version-1)
		}
		if err := p.Anchor.Validate(); err != nil {
			return &risk.InputError{Field: "anchor", Err: err}
		}
		version[p.ID] = p.Version
	}
	for _, b := range c.PutBuildings {
		if b.ID == "" {
			return fmt.Errorf("%w: a building needs an ID", risk.ErrInvalidInput)
		}
		if err := b.Point.Validate(); err != nil {
			return &risk.InputError{Field: "building.point", Err: err}
		}
	}
	// A put at Version v needs the stored record at v-1 (absent for v = 1).
	versioned := func(kind, id string, v, stored int64, exists bool) error {
		if id == "" || id == uuid.Nil.String() {
			return fmt.Errorf("%w: a %s needs an ID", risk.ErrInvalidInput, kind)
		}
		if !exists {
			stored = 0
		}
		if stored != v-1 {
			return fmt.Errorf("%w: %s %s is at version %d, the change expects %d", risk.ErrConflict, kind, id, stored, v-1)
		}
		return nil
	}
	seen := map[string]bool{}
	for _, w := range c.PutWarnings {
		stored, ok := st.warnings[w.ID]
		if err := versioned("warning", w.ID, w.Version, stored, ok); err != nil {
			return err
		}
		if seen["w"+w.ID] {
			return fmt.Errorf("%w: warning %s twice in one change", risk.ErrConflict, w.ID)
		}
		seen["w"+w.ID] = true
	}
	for _, e := range c.PutEnterprises {
		stored, ok := st.enterprises[e.ID]
		if err := versioned("enterprise", e.ID, e.Version, stored, ok); err != nil {
			return err
		}
		if seen["e"+e.ID] {
			return fmt.Errorf("%w: enterprise %s twice in one change", risk.ErrConflict, e.ID)
		}
		seen["e"+e.ID] = true
	}
	for _, in := range c.PutInspections {
		stored, ok := st.inspections[in.ID]
		if err := versioned("inspection", in.ID.String(), in.Version, stored, ok); err != nil {
			return err
		}
		if seen["i"+in.ID.String()] {
			return fmt.Errorf("%w: inspection %s twice in one change", risk.ErrConflict, in.ID)
		}
		seen["i"+in.ID.String()] = true
	}
	// An event already in the outbox fails its insert, as a conflict too.
	events := map[string]bool{}
	for _, m := range c.Events {
		if m.ID == "" || events[m.ID] {
			return fmt.Errorf("%w: event %q already in the outbox", risk.ErrConflict, m.ID)
		}
		events[m.ID] = true
	}
	return nil
}

// writeRiskRows sends every statement of the change, and the marks of its
// events, in one round trip. A statement that affects no row where one
// was expected means a concurrent transaction created the record after
// the change's versions were read.
func writeRiskRows(ctx context.Context, tx pgx.Tx, rows []riskRow, eventIDs []uuid.UUID) (err error) {
	batch := &pgx.Batch{}
	for _, r := range rows {
		batch.Queue(r.sql, r.args...)
	}
	outboxView{marker: "govkit_risk_event"}.mark(batch, eventIDs)
	br := tx.SendBatch(ctx, batch)
	defer func() {
		// After a failure the statements left unread may fail too; the
		// first failure is the one to report.
		if cerr := br.Close(); err == nil && cerr != nil {
			err = riskWriteError("apply change", cerr)
		}
	}()
	for _, r := range rows {
		tag, err := br.Exec()
		if err != nil {
			return riskWriteError("apply change", err)
		}
		if tag.RowsAffected() == 0 && r.onNone != nil {
			return r.onNone
		}
	}
	if len(eventIDs) > 0 {
		if _, err := br.Exec(); err != nil {
			return riskWriteError("mark events", err)
		}
	}
	return nil
}

const insertRiskPointSQL = `INSERT INTO govkit_risk_point
	(id, version, name, class, grid, enterprise, colour, signalled, shape, lat, lon, sensors, doc)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
	ON CONFLICT (id) DO NOTHING`

// updateRiskPointSQL applies only over the version before. The row is
// locked already; the condition guards against a mistake, not a race.
const updateRiskPointSQL = `UPDATE govkit_risk_point
	SET version = $2, name = $3, class = $4, grid = $5, enterprise = $6, colour = $7, signalled = $8,
		shape = $9, lat = $10, lon = $11, sensors = $12, doc = $13, updated_at = now()
	WHERE id = $1 AND version = $14`

const upsertRiskBuildingSQL = `INSERT INTO govkit_risk_building (id, name, lat, lon, grid, occupancy, kind)
	VALUES ($1, $2, $3, $4, $5, $6, $7)
	ON CONFLICT (id) DO UPDATE SET name = excluded.name, lat = excluded.lat, lon = excluded.lon,
		grid = excluded.grid, occupancy = excluded.occupancy, kind = excluded.kind, updated_at = now()`

const (
	insertRiskWarningSQL = `INSERT INTO govkit_risk_warning (id, version, jurisdiction, valid_from, valid_until, doc)
	VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING`
	updateRiskWarningSQL = `UPDATE govkit_risk_warning
	SET version = $2, jurisdiction = $3, valid_from = $4, valid_until = $5, doc = $6, updated_at = now()
	WHERE id = $1 AND version = $7`
	insertRiskEnterpriseSQL = `INSERT INTO govkit_risk_enterprise (id, version, region, tier, doc)
	VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING`
	updateRiskEnterpriseSQL = `UPDATE govkit_risk_enterprise
	SET version = $2, region = $3, tier = $4, doc = $5, updated_at = now()
	WHERE id = $1 AND version = $6`
	insertRiskInspectionSQL = `INSERT INTO govkit_risk_inspection (id, version, enterprise, region, period, status, doc)
	VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING`
	updateRiskInspectionSQL = `UPDATE govkit_risk_inspection
	SET version = $2, enterprise = $3, region = $4, period = $5, status = $6, doc = $7, updated_at = now()
	WHERE id = $1 AND version = $8`
)

// encodeChange encodes every record of c and its events. It keeps the
// first failure in the result's err rather than returning it: see
// riskChange.
func (s *RiskStore) encodeChange(c *risk.Change) *riskChange {
	enc := &riskChange{}
	keep := func(err error) {
		if enc.err == nil {
			enc.err = err
		}
	}
	for i := range c.CreatePoints {
		r, err := s.encodePoint(&c.CreatePoints[i], true)
		keep(err)
		enc.rows = append(enc.rows, r)
	}
	for i := range c.UpdatePoints {
		r, err := s.encodePoint(&c.UpdatePoints[i], false)
		keep(err)
		enc.rows = append(enc.rows, r)
	}
	for i := range c.PutBuildings {
		b := &c.PutBuildings[i]
		for _, f := range []struct{ name, v string }{{"id", b.ID}, {"name", b.Name}, {"grid", string(b.Grid)}, {"kind", b.Kind}} {
			if !storable(f.v) {
				keep(riskUnstorable("building "+strconv.Quote(b.ID), "its "+f.name))
			}
		}
		enc.rows = append(enc.rows, riskRow{sql: upsertRiskBuildingSQL,
			args: []any{b.ID, b.Name, b.Point.Lat, b.Point.Lon, string(b.Grid), int64(b.Occupancy), b.Kind}})
	}
	for i := range c.PutWarnings {
		w := &c.PutWarnings[i]
		doc, err := riskEncodeDoc(riskWarningToDoc(w), "warning "+strconv.Quote(w.ID))
		keep(err)
		r := riskRow{sql: insertRiskWarningSQL, onNone: riskCreatedConcurrently("warning", w.ID, w.Version),
			args: []any{w.ID, w.Version, string(w.Jurisdiction), riskNullTime(w.From), riskNullTime(w.Until), doc}}
		if w.Version != 1 {
			r.sql, r.args, r.onNone = updateRiskWarningSQL, append(r.args, w.Version-1), riskChangedConcurrently("warning", w.ID, w.Version)
		}
		enc.rows = append(enc.rows, r)
	}
	for i := range c.PutEnterprises {
		e := &c.PutEnterprises[i]
		doc, err := riskEncodeDoc(riskEnterpriseToDoc(e), "enterprise "+strconv.Quote(e.ID))
		keep(err)
		r := riskRow{sql: insertRiskEnterpriseSQL, onNone: riskCreatedConcurrently("enterprise", e.ID, e.Version),
			args: []any{e.ID, e.Version, string(e.Region), string(e.Tier), doc}}
		if e.Version != 1 {
			r.sql, r.args, r.onNone = updateRiskEnterpriseSQL, append(r.args, e.Version-1), riskChangedConcurrently("enterprise", e.ID, e.Version)
		}
		enc.rows = append(enc.rows, r)
	}
	for i := range c.PutInspections {
		in := &c.PutInspections[i]
		doc, err := riskEncodeDoc(riskInspectionToDoc(in), "inspection "+in.ID.String())
		keep(err)
		r := riskRow{sql: insertRiskInspectionSQL, onNone: riskCreatedConcurrently("inspection", in.ID.String(), in.Version),
			args: []any{in.ID, in.Version, in.Enterprise, string(in.Region), in.Period, int16(in.Status), doc}}
		if in.Version != 1 {
			r.sql, r.args, r.onNone = updateRiskInspectionSQL, append(r.args, in.Version-1), riskChangedConcurrently("inspection", in.ID.String(), in.Version)
		}
		enc.rows = append(enc.rows, r)
	}
	events, ids, err := riskOutboxMessages(c.Events)
	keep(err)
	enc.events, enc.eventIDs = events, ids
	return enc
}

func riskCreatedConcurrently(kind, id string, v int64) error {
	return fmt.Errorf("%w: %s %s was created concurrently, the change expects version %d", risk.ErrConflict, kind, id, v-1)
}

func riskChangedConcurrently(kind, id string, v int64) error {
	return fmt.Errorf("%w: %s %s changed concurrently, the change expects version %d", risk.ErrConflict, kind, id, v-1)
}

func riskUnstorable(what, where string) error {
	return fmt.Errorf("%w: %s: %s holds NUL or invalid UTF-8, which PostgreSQL cannot store", risk.ErrInvalidInput, what, where)
}

// riskNullTime returns t for a timestamptz column, nil for the zero time.
func riskNullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// encodePoint encodes p for its row. The document is encoded from
// p.Clone(), so that it keeps what the memory store keeps.
func (s *RiskStore) encodePoint(p *risk.Point, create bool) (riskRow, error) {
	what := "point " + p.ID.String()
	r := riskRow{sql: insertRiskPointSQL, onNone: fmt.Errorf("%w: %s (created concurrently)", risk.ErrDuplicateID, what)}
	if !create {
		r.sql = updateRiskPointSQL
		r.onNone = fmt.Errorf("%w: %s changed concurrently, the change expects version %d", risk.ErrConflict, what, p.Version-1)
	}
	n := p.Clone()
	d, err := s.pointToDoc(&n)
	if err != nil {
		return r, err
	}
	doc, err := riskEncodeDoc(d, what)
	if err != nil {
		return r, err
	}
	shape := ""
	if n.Geometry != nil {
		shape = n.Geometry.GeoJSONType()
	}
	sensors := n.Sensors
	if sensors == nil {
		sensors = []string{}
	}
	r.args = []any{n.ID, n.Version, n.Name, n.Class, string(n.Grid), n.Enterprise, int16(n.Level.Colour),
		len(n.Signals) > 0, shape, n.Anchor.Lat, n.Anchor.Lon, sensors, doc}
	if !create {
		r.args = append(r.args, n.Version-1)
	}
	return r, nil
}

// riskEncodeDoc encodes v, refusing what PostgreSQL or encoding/json would
// not return unchanged: NUL, which jsonb cannot hold, and invalid UTF-8,
// which encoding/json replaces with U+FFFD; NaN and infinities fail in
// json.Marshal.
func riskEncodeDoc(v any, what string) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("%w: %s cannot be stored: %w", risk.ErrInvalidInput, what, err)
	}
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' || i+1 >= len(b) {
			continue
		}
		if b[i+1] == 'u' && i+6 <= len(b) {
			switch string(b[i+2 : i+6]) {
			case "0000", "fffd": // encoding/json escapes a valid U+FFFD never, invalid bytes always
				return "", riskUnstorable(what, "a string")
			}
		}
		i++ // skip the escaped character
	}
	return string(b), nil
}

// Point implements risk.Store.
func (s *RiskStore) Point(ctx context.Context, id uuid.UUID) (risk.Point, error) {
	if err := ctx.Err(); err != nil {
		return risk.Point{}, err
	}
	var doc []byte
	err := s.db.pool.QueryRow(ctx, `SELECT doc FROM govkit_risk_point WHERE id = $1`, id).Scan(&doc)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return risk.Point{}, fmt.Errorf("%w: point %s", risk.ErrNotFound, id)
	case err != nil:
		return risk.Point{}, fmt.Errorf("postgres: get risk point %s: %w", id, err)
	}
	return s.decodePoint(doc)
}

// Points implements risk.Store with one parameterised query: each set
// field of q adds a condition on an indexed column.
func (s *RiskStore) Points(ctx context.Context, q risk.Query) (risk.Page, error) {
	if err := ctx.Err(); err != nil {
		return risk.Page{}, err
	}
	if err := q.Validate(); err != nil {
		return risk.Page{}, err
	}
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	// After is always a bound: no point has the zero ID. The colour bound
	// is always set too, as the memory store compares it always.
	where := []string{"id > " + arg(q.After), "colour >= " + arg(int16(q.MinColour))}
	if q.Within != "" {
		// Validate checked the code: the prefix is digits, and in the "C"
		// collation the range holds exactly the codes starting with it.
		prefix := q.Within.Prefix()
		where = append(where, "grid >= "+arg(prefix), "grid < "+arg(incidentPrefixEnd(prefix)))
	}
	if len(q.Classes) > 0 {
		classes := make([]string, 0, len(q.Classes))
		for _, c := range q.Classes {
			if storable(c) { // no stored point has another
				classes = append(classes, c)
			}
		}
		if len(classes) == 0 {
			return risk.Page{}, nil
		}
		where = append(where, "class = ANY("+arg(classes)+"::text[])")
	}
	if q.Enterprise != "" {
		if !storable(q.Enterprise) {
			return risk.Page{}, nil
		}
		where = append(where, "enterprise = "+arg(q.Enterprise))
	}
	if q.Signalled {
		where = append(where, "signalled")
	}
	limit := q.EffectiveLimit()
	sql := "SELECT doc FROM govkit_risk_point WHERE " + strings.Join(where, " AND ") +
		" ORDER BY id LIMIT " + arg(limit+1) // one more tells whether a next page exists
	points, err := s.queryPoints(ctx, sql, args...)
	if err != nil {
		return risk.Page{}, fmt.Errorf("postgres: find risk points: %w", err)
	}
	var p risk.Page
	if len(points) > limit {
		points = points[:limit]
		p.Next = points[limit-1].ID
	}
	if len(points) > 0 {
		p.Points = points
	}
	return p, nil
}

func (s *RiskStore) queryPoints(ctx context.Context, sql string, args ...any) ([]risk.Point, error) {
	rows, err := s.db.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	var (
		out []risk.Point
		doc []byte
	)
	_, err = pgx.ForEachRow(rows, []any{&doc}, func() error {
		p, err := s.decodePoint(doc)
		if err != nil {
			return err
		}
		out = append(out, p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// checkRiskRadius validates a radius query as the memory store does.
func checkRiskRadius(center geo.Point, meters float64) error {
	if err := center.Validate(); err != nil {
		return fmt.Errorf("%w: centre: %w", risk.ErrInvalidQuery, err)
	}
	if !(meters >= 0) || meters > 2_000_000 {
		return fmt.Errorf("%w: radius %v m outside 0–2,000 km", risk.ErrInvalidQuery, meters)
	}
	return nil
}

// riskBoxMargin widens the SQL bounding box, in degrees (about 0.1 mm),
// so that rounding can never drop a candidate; the exact test is in Go.
const riskBoxMargin = 1e-9

// riskBox returns the query box around center: geo.BBoxAround, which the
// memory store's index searches, widened by riskBoxMargin.
func riskBox(center geo.Point, meters float64) geo.BBox {
	b := geo.BBoxAround(center, meters)
	return geo.BBox{MinLat: b.MinLat - riskBoxMargin, MinLon: b.MinLon - riskBoxMargin,
		MaxLat: b.MaxLat + riskBoxMargin, MaxLon: b.MaxLon + riskBoxMargin}
}

// riskPointsInBoxSQL is answered from govkit_risk_point_anchor_idx alone
// (an index-only scan once the table is vacuumed): the expression must
// stay point(lon, lat) for the index to serve it.
const riskPointsInBoxSQL = `SELECT id, lat, lon, name, class, grid, colour, shape FROM govkit_risk_point
	WHERE point(lon, lat) <@ box(point($1::float8, $2::float8), point($3::float8, $4::float8))`

// PointsNear implements risk.Store: the GiST index over the anchors
// selects the bounding box around center, and geo.Index, over those
// candidates, keeps the points within meters by great-circle distance —
// the same test and the same distances as the memory store's index. Once
// the table is vacuumed (autovacuum does it), the box is read from the
// index alone.
func (s *RiskStore) PointsNear(ctx context.Context, center geo.Point, meters float64) ([]risk.Hit, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkRiskRadius(center, meters); err != nil {
		return nil, err
	}
	b := riskBox(center, meters)
	rows, err := s.db.pool.Query(ctx, riskPointsInBoxSQL, b.MinLon, b.MinLat, b.MaxLon, b.MaxLat)
	if err != nil {
		return nil, fmt.Errorf("postgres: find risk points near %s: %w", center, err)
	}
	// Candidates and matches go to pooled buffers, and the hits are copied
	// out in one allocation of the exact size, as in the memory store.
	sc := riskScratchPool.Get().(*riskScratch)
	defer sc.release()
	var (
		h      risk.Hit
		id     pgtype.UUID // scanned without a detour through text, as uuid.UUID's Scan would take
		colour int16
		grid   string
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &h.Anchor.Lat, &h.Anchor.Lon, &h.Name, &h.Class, &grid, &colour, &h.Shape}, func() error {
		h.ID, h.Grid, h.Colour = id.Bytes, region.Code(grid), risk.Colour(colour)
		sc.cands = append(sc.cands, h)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: find risk points near %s: %w", center, err)
	}
	riskWithin(center, meters, len(sc.cands), func(i int) geo.Point { return sc.cands[i].Anchor }, func(i int, d float64) {
		sc.found = append(sc.found, riskFound{int32(i), d})
	})
	if len(sc.found) == 0 {
		return nil, nil
	}
	hits := make([]risk.Hit, len(sc.found))
	for k, f := range sc.found {
		hits[k] = sc.cands[f.i]
		hits[k].Distance = f.d
	}
	slices.SortFunc(hits, func(a, b risk.Hit) int {
		if c := cmp.Compare(a.Distance, b.Distance); c != 0 {
			return c
		}
		return bytes.Compare(a.ID[:], b.ID[:])
	})
	return hits, nil
}

// riskScratch holds a PointsNear query's candidates and matches.
type riskScratch struct {
	cands []risk.Hit
	found []riskFound
}

type riskFound struct {
	i int32
	d float64
}

// riskScratchKeep bounds the buffers kept for reuse: a query over a whole
// province does not pin its candidates.
const riskScratchKeep = 1 << 14

var riskScratchPool = sync.Pool{New: func() any { return new(riskScratch) }}

func (sc *riskScratch) release() {
	if cap(sc.cands) > riskScratchKeep {
		return
	}
	clear(sc.cands) // drop the strings
	sc.cands, sc.found = sc.cands[:0], sc.found[:0]
	riskScratchPool.Put(sc)
}

// riskWithin calls hit for each of n candidates within meters of center,
// with its distance, using geo.Index as the memory store does, so that
// both stores agree to the last bit on what is inside and how far.
func riskWithin(center geo.Point, meters float64, n int, at func(int) geo.Point, hit func(i int, d float64)) {
	if n == 0 {
		return
	}
	var idx geo.Index[int32]
	for i := range n {
		_ = idx.Put(int32(i), at(i)) // stored positions were validated
	}
	idx.WithinFunc(center, meters, func(h geo.Hit[int32]) bool {
		hit(int(h.Key), h.Distance)
		return true
	})
}

// PointsBySensor implements risk.Store with the GIN index over the linked
// sensors.
func (s *RiskStore) PointsBySensor(ctx context.Context, sensor string) ([]risk.Point, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// The memory store's index skips empty sensor IDs.
	if sensor == "" || !storable(sensor) {
		return nil, nil
	}
	points, err := s.queryPoints(ctx, `SELECT doc FROM govkit_risk_point WHERE sensors @> ARRAY[$1::text] ORDER BY id`, sensor)
	if err != nil {
		return nil, fmt.Errorf("postgres: find risk points of sensor %q: %w", sensor, err)
	}
	return points, nil
}

// Building implements risk.Store.
func (s *RiskStore) Building(ctx context.Context, id string) (risk.Building, error) {
	if err := ctx.Err(); err != nil {
		return risk.Building{}, err
	}
	if !storable(id) {
		return risk.Building{}, fmt.Errorf("%w: building %q", risk.ErrNotFound, id)
	}
	var (
		b    risk.Building
		grid string
		occ  int64
	)
	err := s.db.pool.QueryRow(ctx, `SELECT id, name, lat, lon, grid, occupancy, kind FROM govkit_risk_building WHERE id = $1`, id).
		Scan(&b.ID, &b.Name, &b.Point.Lat, &b.Point.Lon, &grid, &occ, &b.Kind)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return risk.Building{}, fmt.Errorf("%w: building %q", risk.ErrNotFound, id)
	case err != nil:
		return risk.Building{}, fmt.Errorf("postgres: get building %q: %w", id, err)
	}
	b.Grid, b.Occupancy = region.Code(grid), int(occ)
	return b, nil
}

const riskBuildingsInBoxSQL = `SELECT id, name, lat, lon, grid, occupancy, kind FROM govkit_risk_building
	WHERE point(lon, lat) <@ box(point($1::float8, $2::float8), point($3::float8, $4::float8))`

// BuildingsNear implements risk.Store as PointsNear does.
func (s *RiskStore) BuildingsNear(ctx context.Context, center geo.Point, meters float64) ([]risk.BuildingHit, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkRiskRadius(center, meters); err != nil {
		return nil, err
	}
	b := riskBox(center, meters)
	rows, err := s.db.pool.Query(ctx, riskBuildingsInBoxSQL, b.MinLon, b.MinLat, b.MaxLon, b.MaxLat)
	if err != nil {
		return nil, fmt.Errorf("postgres: find buildings near %s: %w", center, err)
	}
	var (
		cands []risk.Building
		bd    risk.Building
		grid  string
		occ   int64
	)
	_, err = pgx.ForEachRow(rows, []any{&bd.ID, &bd.Name, &bd.Point.Lat, &bd.Point.Lon, &grid, &occ, &bd.Kind}, func() error {
		bd.Grid, bd.Occupancy = region.Code(grid), int(occ)
		cands = append(cands, bd)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: find buildings near %s: %w", center, err)
	}
	var out []risk.BuildingHit
	riskWithin(center, meters, len(cands), func(i int) geo.Point { return cands[i].Point }, func(i int, d float64) {
		out = append(out, risk.BuildingHit{Building: cands[i], Distance: d})
	})
	slices.SortFunc(out, func(a, b risk.BuildingHit) int {
		if c := cmp.Compare(a.Distance, b.Distance); c != 0 {
			return c
		}
		return cmp.Compare(a.Building.ID, b.Building.ID)
	})
	return out, nil
}

// Warning implements risk.Store.
func (s *RiskStore) Warning(ctx context.Context, id string) (risk.AreaWarning, error) {
	var d riskWarningDoc
	if err := s.getDoc(ctx, "govkit_risk_warning", "warning "+strconv.Quote(id), id, storable(id), &d); err != nil {
		return risk.AreaWarning{}, err
	}
	return riskWarningFromDoc(&d), nil
}

// Enterprise implements risk.Store.
func (s *RiskStore) Enterprise(ctx context.Context, id string) (risk.Enterprise, error) {
	var d riskEnterpriseDoc
	if err := s.getDoc(ctx, "govkit_risk_enterprise", "enterprise "+strconv.Quote(id), id, storable(id), &d); err != nil {
		return risk.Enterprise{}, err
	}
	return riskEnterpriseFromDoc(&d)
}

// Inspection implements risk.Store.
func (s *RiskStore) Inspection(ctx context.Context, id uuid.UUID) (risk.Inspection, error) {
	var d riskInspectionDoc
	if err := s.getDoc(ctx, "govkit_risk_inspection", "inspection "+id.String(), id, true, &d); err != nil {
		return risk.Inspection{}, err
	}
	return riskInspectionFromDoc(&d), nil
}

// getDoc reads the document of the record with id from table into dst;
// what names the record in errors.
func (s *RiskStore) getDoc(ctx context.Context, table, what string, id any, storable bool, dst riskDoc) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !storable {
		return fmt.Errorf("%w: %s", risk.ErrNotFound, what)
	}
	var doc []byte
	err := s.db.pool.QueryRow(ctx, `SELECT doc FROM `+table+` WHERE id = $1`, id).Scan(&doc)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("%w: %s", risk.ErrNotFound, what)
	case err != nil:
		return fmt.Errorf("postgres: get %s: %w", what, err)
	}
	return riskDecodeDoc(doc, dst, what)
}

// Enterprises implements risk.Store: a range of region codes, in ID order.
func (s *RiskStore) Enterprises(ctx context.Context, within region.Code) ([]risk.Enterprise, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if _, err := region.ParseCode(string(within)); err != nil {
		return nil, fmt.Errorf("%w: %w", risk.ErrInvalidQuery, err)
	}
	prefix := within.Prefix()
	rows, err := s.db.pool.Query(ctx, `SELECT doc FROM govkit_risk_enterprise WHERE region >= $1 AND region < $2 ORDER BY id`,
		prefix, incidentPrefixEnd(prefix))
	if err != nil {
		return nil, fmt.Errorf("postgres: find enterprises in %s: %w", within, err)
	}
	var (
		out []risk.Enterprise
		raw []byte
	)
	_, err = pgx.ForEachRow(rows, []any{&raw}, func() error {
		var d riskEnterpriseDoc
		if err := riskDecodeDoc(raw, &d, "enterprise"); err != nil {
			return err
		}
		e, err := riskEnterpriseFromDoc(&d)
		if err != nil {
			return err
		}
		out = append(out, e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: find enterprises in %s: %w", within, err)
	}
	return out, nil
}

// Inspections implements risk.Store.
func (s *RiskStore) Inspections(ctx context.Context, q risk.InspectionQuery) ([]risk.Inspection, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !storable(q.Enterprise) || !storable(q.Period) {
		return nil, nil // no stored inspection holds such a string
	}
	var (
		args  []any
		where = []string{"true"}
	)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if q.Enterprise != "" {
		where = append(where, "enterprise = "+arg(q.Enterprise))
	}
	if q.Period != "" {
		where = append(where, "period = "+arg(q.Period))
	}
	if q.Status != 0 {
		where = append(where, "status = "+arg(int16(q.Status)))
	}
	rows, err := s.db.pool.Query(ctx, "SELECT doc FROM govkit_risk_inspection WHERE "+strings.Join(where, " AND ")+" ORDER BY id", args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: find inspections: %w", err)
	}
	var (
		out []risk.Inspection
		raw []byte
	)
	_, err = pgx.ForEachRow(rows, []any{&raw}, func() error {
		var d riskInspectionDoc
		if err := riskDecodeDoc(raw, &d, "inspection"); err != nil {
			return err
		}
		out = append(out, riskInspectionFromDoc(&d))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: find inspections: %w", err)
	}
	return out, nil
}

// Pending implements risk.Store: the unpublished messages this store
// wrote, in the order written (Seq).
func (s *RiskStore) Pending(ctx context.Context, limit int) ([]bus.Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return s.events().pending(ctx, limit)
}

// MarkPublished implements risk.Store: it sets published_at on the outbox
// messages with the given IDs that this store wrote. Other IDs (unknown,
// another store's, already published, not UUIDs) are ignored.
func (s *RiskStore) MarkPublished(ctx context.Context, ids ...string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.events().markPublished(ctx, ids...)
}

func (s *RiskStore) events() outboxView {
	return outboxView{db: s.db, marker: "govkit_risk_event", what: "risk events"}
}

// riskDocVersion versions the document layouts below.
const riskDocVersion = 1

// The stored forms of risk's records: the store's own layout, independent
// of the Go field names, with colours and statuses as numbers, decimals as
// their exact text (apd's String and SetString) and personal data sealed.
// Slices are omitted when nil and written when empty (omitzero), so that
// nil and empty come back apart, as the memory store keeps them; the
// derivation's lists are omitted when empty (omitempty), as
// Derivation's copy drops empty ones.
type (
	riskPointDoc struct {
		V           int                  `json:"v"`
		ID          uuid.UUID            `json:"id"`
		Name        string               `json:"name,omitzero"`
		Class       string               `json:"class,omitzero"`
		Geometry    *riskGeometryDoc     `json:"geometry,omitzero"`
		Anchor      geo.Point            `json:"anchor"`
		Grid        region.Code          `json:"grid,omitzero"`
		Path        []region.Code        `json:"path,omitzero"`
		Enterprise  string               `json:"enterprise,omitzero"`
		Responsible []riskResponsibleDoc `json:"responsible,omitzero"`
		Controls    []riskControlDoc     `json:"controls,omitzero"`
		Sensors     []string             `json:"sensors,omitzero"`
		Holdings    []riskHoldingDoc     `json:"holdings,omitzero"`
		Assessment  *riskAssessmentDoc   `json:"assessment,omitzero"`
		Signals     []riskSignalDoc      `json:"signals,omitzero"`
		Level       riskLevelDoc         `json:"level"`
		Version     int64                `json:"version"`
		Created     time.Time            `json:"created,omitzero"`
		Updated     time.Time            `json:"updated,omitzero"`
	}
	// riskGeometryDoc holds one of package geo's shapes under its type.
	riskGeometryDoc struct {
		Type         string           `json:"type"`
		Point        *geo.Point       `json:"point,omitzero"`
		LineString   geo.LineString   `json:"line,omitzero"`
		Polygon      geo.Polygon      `json:"polygon,omitzero"`
		MultiPolygon geo.MultiPolygon `json:"multi,omitzero"`
	}
	// riskResponsibleDoc holds Name and Phone as Sealer.Seal's output
	// (base64 in JSON).
	riskResponsibleDoc struct {
		Duty    string `json:"duty"`
		ActorID string `json:"actor_id,omitzero"`
		Name    []byte `json:"name_sealed,omitzero"`
		Phone   []byte `json:"phone_sealed,omitzero"`
	}
	riskControlDoc struct {
		Kind string `json:"kind,omitzero"`
		Name string `json:"name,omitzero"`
	}
	riskHoldingDoc struct {
		Substance string `json:"substance,omitzero"`
		Quantity  string `json:"quantity"`
	}
	riskAssessmentDoc struct {
		Method     string            `json:"method,omitzero"`
		Colour     int8              `json:"colour"`
		Score      string            `json:"score"`
		Grade      int               `json:"grade,omitzero"`
		Derivation riskDerivationDoc `json:"derivation"`
		Inputs     riskInputsDoc     `json:"inputs"`
		AssessedAt time.Time         `json:"assessed_at,omitzero"`
		ValidUntil time.Time         `json:"valid_until,omitzero"`
		Assessor   string            `json:"assessor,omitzero"`
	}
	riskInputsDoc struct {
		Likelihood  int              `json:"likelihood,omitzero"`
		Consequence int              `json:"consequence,omitzero"`
		L           string           `json:"l"`
		E           string           `json:"e"`
		C           string           `json:"c"`
		Holdings    []riskHoldingDoc `json:"holdings,omitzero"`
		Exposed     *int             `json:"exposed,omitzero"`
	}
	riskDerivationDoc struct {
		Method     string             `json:"method,omitzero"`
		Inputs     []riskTermDoc      `json:"inputs,omitempty"`
		Cell       *riskCellDoc       `json:"cell,omitzero"`
		Formula    string             `json:"formula,omitzero"`
		Score      string             `json:"score,omitzero"`
		Thresholds []riskThresholdDoc `json:"thresholds,omitempty"`
		Band       string             `json:"band,omitzero"`
		Notes      []string           `json:"notes,omitempty"`
	}
	riskTermDoc struct {
		Name    string `json:"name,omitzero"`
		Value   string `json:"value,omitzero"`
		Meaning string `json:"meaning,omitzero"`
	}
	riskCellDoc struct {
		Likelihood  int `json:"likelihood"`
		Consequence int `json:"consequence"`
	}
	riskThresholdDoc struct {
		Colour int8   `json:"colour"`
		Min    string `json:"min,omitzero"`
		Label  string `json:"label,omitzero"`
	}
	riskSignalDoc struct {
		Key    string    `json:"key,omitzero"`
		Kind   string    `json:"kind,omitzero"`
		Colour int8      `json:"colour"`
		Reason string    `json:"reason,omitzero"`
		Source string    `json:"source,omitzero"`
		From   time.Time `json:"from,omitzero"`
		Until  time.Time `json:"until,omitzero"`
	}
	riskLevelDoc struct {
		Colour        int8      `json:"colour"`
		Static        int8      `json:"static"`
		StaticExpired bool      `json:"static_expired,omitzero"`
		Reasons       []string  `json:"reasons,omitzero"`
		Raised        []string  `json:"raised,omitzero"`
		At            time.Time `json:"at,omitzero"`
	}
	riskWarningDoc struct {
		V            int                  `json:"v"`
		ID           string               `json:"id"`
		Kind         string               `json:"kind,omitzero"`
		Event        string               `json:"event,omitzero"`
		Colour       int8                 `json:"colour"`
		Jurisdiction region.Code          `json:"jurisdiction,omitzero"`
		Areas        []riskWarningAreaDoc `json:"areas,omitzero"`
		Headline     string               `json:"headline,omitzero"`
		Description  string               `json:"description,omitzero"`
		Instruction  string               `json:"instruction,omitzero"`
		Sender       string               `json:"sender,omitzero"`
		From         time.Time            `json:"from,omitzero"`
		Until        time.Time            `json:"until,omitzero"`
		Issued       time.Time            `json:"issued,omitzero"`
		Cancelled    time.Time            `json:"cancelled,omitzero"`
		Raised       []uuid.UUID          `json:"raised,omitzero"`
		Version      int64                `json:"version"`
	}
	riskWarningAreaDoc struct {
		Code   string           `json:"code,omitzero"`
		Scheme string           `json:"scheme,omitzero"`
		Name   string           `json:"name,omitzero"`
		Area   geo.MultiPolygon `json:"area"`
	}
	riskEnterpriseDoc struct {
		V              int               `json:"v"`
		ID             string            `json:"id"`
		Name           string            `json:"name,omitzero"`
		Region         region.Code       `json:"region,omitzero"`
		Credit         string            `json:"credit"`
		Blacklisted    bool              `json:"blacklisted,omitzero"`
		Kind           string            `json:"kind,omitzero"`
		Tier           string            `json:"tier,omitzero"`
		TierDerivation riskDerivationDoc `json:"tier_derivation"`
		Version        int64             `json:"version"`
	}
	riskInspectionDoc struct {
		V           int              `json:"v"`
		ID          uuid.UUID        `json:"id"`
		Enterprise  string           `json:"enterprise,omitzero"`
		Region      region.Code      `json:"region,omitzero"`
		Period      string           `json:"period,omitzero"`
		Departments []string         `json:"departments,omitzero"`
		Reasons     []string         `json:"reasons,omitzero"`
		Inspectors  []string         `json:"inspectors,omitzero"`
		Checklist   string           `json:"checklist,omitzero"`
		Status      int8             `json:"status"`
		InspectedAt time.Time        `json:"inspected_at,omitzero"`
		Findings    []riskFindingDoc `json:"findings,omitzero"`
		Version     int64            `json:"version"`
	}
	riskFindingDoc struct {
		Item       string    `json:"item,omitzero"`
		Severity   int8      `json:"severity"`
		Note       string    `json:"note,omitzero"`
		Evidence   []string  `json:"evidence,omitzero"`
		Deadline   time.Time `json:"deadline,omitzero"`
		Status     int8      `json:"status"`
		Overdue    bool      `json:"overdue,omitzero"`
		ReportedAt time.Time `json:"reported_at,omitzero"`
		ReportedBy string    `json:"reported_by,omitzero"`
		VerifiedAt time.Time `json:"verified_at,omitzero"`
		VerifiedBy string    `json:"verified_by,omitzero"`
	}
)

// riskDoc is a top-level document, which carries its layout version.
type riskDoc interface{ version() int }

func (d *riskPointDoc) version() int      { return d.V }
func (d *riskWarningDoc) version() int    { return d.V }
func (d *riskEnterpriseDoc) version() int { return d.V }
func (d *riskInspectionDoc) version() int { return d.V }

func riskDecodeDoc(b []byte, dst riskDoc, kind string) error {
	if err := json.Unmarshal(b, dst); err != nil {
		return fmt.Errorf("postgres: decode %s: %w", kind, err)
	}
	if v := dst.version(); v != riskDocVersion {
		return fmt.Errorf("postgres: %s: unknown document version %d", kind, v)
	}
	return nil
}

func (s *RiskStore) seal(d pii.Data) ([]byte, error) {
	if d.IsZero() {
		return nil, nil
	}
	return s.sealer.Seal(d)
}

func (s *RiskStore) open(b []byte) (pii.Data, error) {
	if b == nil {
		return pii.Data{}, nil
	}
	return s.sealer.Open(b)
}

// pointToDoc converts p, which should be a copy from Point.Clone.
func (s *RiskStore) pointToDoc(p *risk.Point) (*riskPointDoc, error) {
	geom, err := riskGeometryToDoc(p.Geometry)
	if err != nil {
		return nil, err
	}
	d := &riskPointDoc{
		V: riskDocVersion, ID: p.ID, Name: p.Name, Class: p.Class, Geometry: geom, Anchor: p.Anchor,
		Grid: p.Grid, Path: p.Path, Enterprise: p.Enterprise, Sensors: p.Sensors,
		Holdings: riskHoldingsToDoc(p.Holdings), Version: p.Version, Created: p.Created, Updated: p.Updated,
		Level: riskLevelDoc{
			Colour: int8(p.Level.Colour), Static: int8(p.Level.Static), StaticExpired: p.Level.StaticExpired,
			Reasons: p.Level.Reasons, Raised: p.Level.Raised, At: p.Level.At,
		},
	}
	if p.Responsible != nil {
		d.Responsible = make([]riskResponsibleDoc, len(p.Responsible))
	}
	for i, r := range p.Responsible {
		name, err := s.seal(r.Name)
		if err != nil {
			return nil, fmt.Errorf("%w: point %s: seal name of responsible[%d]: %w", risk.ErrInvalidInput, p.ID, i, err)
		}
		phone, err := s.seal(r.Phone)
		if err != nil {
			return nil, fmt.Errorf("%w: point %s: seal phone of responsible[%d]: %w", risk.ErrInvalidInput, p.ID, i, err)
		}
		d.Responsible[i] = riskResponsibleDoc{Duty: string(r.Duty), ActorID: r.ActorID, Name: name, Phone: phone}
	}
	if p.Controls != nil {
		d.Controls = make([]riskControlDoc, len(p.Controls))
		for i, c := range p.Controls {
			d.Controls[i] = riskControlDoc{Kind: c.Kind, Name: c.Name}
		}
	}
	if p.Signals != nil {
		d.Signals = make([]riskSignalDoc, len(p.Signals))
		for i, sg := range p.Signals {
			d.Signals[i] = riskSignalDoc{Key: sg.Key, Kind: sg.Kind, Colour: int8(sg.Colour), Reason: sg.Reason,
				Source: sg.Source, From: sg.From, Until: sg.Until}
		}
	}
	if a := p.Assessment; a != nil {
		d.Assessment = &riskAssessmentDoc{
			Method: a.Method, Colour: int8(a.Colour), Score: a.Score.String(), Grade: a.Grade,
			Derivation: riskDerivationToDoc(&a.Derivation),
			Inputs: riskInputsDoc{
				Likelihood: a.Inputs.Likelihood, Consequence: a.Inputs.Consequence,
				L: a.Inputs.L.String(), E: a.Inputs.E.String(), C: a.Inputs.C.String(),
				Holdings: riskHoldingsToDoc(a.Inputs.Holdings), Exposed: a.Inputs.Exposed,
			},
			AssessedAt: a.AssessedAt, ValidUntil: a.ValidUntil, Assessor: a.Assessor,
		}
	}
	return d, nil
}

func (s *RiskStore) decodePoint(b []byte) (risk.Point, error) {
	var d riskPointDoc
	if err := riskDecodeDoc(b, &d, "risk point"); err != nil {
		return risk.Point{}, err
	}
	geom, err := riskGeometryFromDoc(d.Geometry)
	if err != nil {
		return risk.Point{}, fmt.Errorf("postgres: risk point %s: %w", d.ID, err)
	}
	holdings, err := riskHoldingsFromDoc(d.Holdings)
	if err != nil {
		return risk.Point{}, fmt.Errorf("postgres: risk point %s: %w", d.ID, err)
	}
	p := risk.Point{
		ID: d.ID, Name: d.Name, Class: d.Class, Geometry: geom, Anchor: d.Anchor, Grid: d.Grid, Path: d.Path,
		Enterprise: d.Enterprise, Sensors: d.Sensors, Holdings: holdings,
		Level: risk.Level{
			Colour: risk.Colour(d.Level.Colour), Static: risk.Colour(d.Level.Static), StaticExpired: d.Level.StaticExpired,
			Reasons: d.Level.Reasons, Raised: d.Level.Raised, At: d.Level.At,
		},
		Version: d.Version, Created: d.Created, Updated: d.Updated,
	}
	if d.Responsible != nil {
		p.Responsible = make([]risk.Responsible, len(d.Responsible))
	}
	for i, r := range d.Responsible {
		name, err := s.open(r.Name)
		if err != nil {
			return risk.Point{}, fmt.Errorf("postgres: risk point %s: open name of responsible[%d]: %w", d.ID, i, err)
		}
		phone, err := s.open(r.Phone)
		if err != nil {
			return risk.Point{}, fmt.Errorf("postgres: risk point %s: open phone of responsible[%d]: %w", d.ID, i, err)
		}
		p.Responsible[i] = risk.Responsible{Duty: risk.Duty(r.Duty), ActorID: r.ActorID, Name: name, Phone: phone}
	}
	if d.Controls != nil {
		p.Controls = make([]risk.Control, len(d.Controls))
		for i, c := range d.Controls {
			p.Controls[i] = risk.Control{Kind: c.Kind, Name: c.Name}
		}
	}
	if d.Signals != nil {
		p.Signals = make([]risk.Signal, len(d.Signals))
		for i, sg := range d.Signals {
			p.Signals[i] = risk.Signal{Key: sg.Key, Kind: sg.Kind, Colour: risk.Colour(sg.Colour), Reason: sg.Reason,
				Source: sg.Source, From: sg.From, Until: sg.Until}
		}
	}
	if a := d.Assessment; a != nil {
		as := &risk.Assessment{
			Result: risk.Result{Method: a.Method, Colour: risk.Colour(a.Colour), Grade: a.Grade,
				Derivation: riskDerivationFromDoc(&a.Derivation)},
			Inputs: risk.Inputs{Likelihood: a.Inputs.Likelihood, Consequence: a.Inputs.Consequence,
				Exposed: a.Inputs.Exposed},
			AssessedAt: a.AssessedAt, ValidUntil: a.ValidUntil, Assessor: a.Assessor,
		}
		for _, f := range []struct {
			name, text string
			set        func(string) error
		}{
			{"score", a.Score, func(s string) error { _, _, err := as.Score.SetString(s); return err }},
			{"L", a.Inputs.L, func(s string) error { _, _, err := as.Inputs.L.SetString(s); return err }},
			{"E", a.Inputs.E, func(s string) error { _, _, err := as.Inputs.E.SetString(s); return err }},
			{"C", a.Inputs.C, func(s string) error { _, _, err := as.Inputs.C.SetString(s); return err }},
		} {
			if err := f.set(f.text); err != nil {
				return risk.Point{}, fmt.Errorf("postgres: risk point %s: assessment %s %q: %w", d.ID, f.name, f.text, err)
			}
		}
		if as.Inputs.Holdings, err = riskHoldingsFromDoc(a.Inputs.Holdings); err != nil {
			return risk.Point{}, fmt.Errorf("postgres: risk point %s: assessment: %w", d.ID, err)
		}
		p.Assessment = as
	}
	return p, nil
}

func riskGeometryToDoc(g geo.Geometry) (*riskGeometryDoc, error) {
	switch v := g.(type) {
	case nil:
		return nil, nil
	case geo.Point:
		return &riskGeometryDoc{Type: v.GeoJSONType(), Point: &v}, nil
	case geo.LineString:
		return &riskGeometryDoc{Type: v.GeoJSONType(), LineString: v}, nil
	case geo.Polygon:
		return &riskGeometryDoc{Type: v.GeoJSONType(), Polygon: v}, nil
	case geo.MultiPolygon:
		return &riskGeometryDoc{Type: v.GeoJSONType(), MultiPolygon: v}, nil
	}
	return nil, &risk.InputError{Field: "geometry", Reason: fmt.Sprintf("%T cannot be stored: use geo.Point, geo.LineString, geo.Polygon or geo.MultiPolygon", g)}
}

func riskGeometryFromDoc(d *riskGeometryDoc) (geo.Geometry, error) {
	if d == nil {
		return nil, nil
	}
	switch d.Type {
	case "Point":
		if d.Point == nil {
			return nil, errors.New("a Point geometry without its position")
		}
		return *d.Point, nil
	case "LineString":
		return d.LineString, nil
	case "Polygon":
		return d.Polygon, nil
	case "MultiPolygon":
		return d.MultiPolygon, nil
	}
	return nil, fmt.Errorf("unknown geometry type %q", d.Type)
}

func riskHoldingsToDoc(hs []risk.Holding) []riskHoldingDoc {
	if hs == nil {
		return nil
	}
	out := make([]riskHoldingDoc, len(hs))
	for i := range hs {
		out[i] = riskHoldingDoc{Substance: hs[i].Substance, Quantity: hs[i].Quantity.String()}
	}
	return out
}

func riskHoldingsFromDoc(ds []riskHoldingDoc) ([]risk.Holding, error) {
	if ds == nil {
		return nil, nil
	}
	out := make([]risk.Holding, len(ds))
	for i, d := range ds {
		out[i].Substance = d.Substance
		if _, _, err := out[i].Quantity.SetString(d.Quantity); err != nil {
			return nil, fmt.Errorf("holding %d quantity %q: %w", i, d.Quantity, err)
		}
	}
	return out, nil
}

func riskDerivationToDoc(d *risk.Derivation) riskDerivationDoc {
	out := riskDerivationDoc{Method: d.Method, Formula: d.Formula, Score: d.Score, Band: d.Band, Notes: d.Notes}
	for _, t := range d.Inputs {
		out.Inputs = append(out.Inputs, riskTermDoc{Name: t.Name, Value: t.Value, Meaning: t.Meaning})
	}
	if d.Cell != nil {
		out.Cell = &riskCellDoc{Likelihood: d.Cell.Likelihood, Consequence: d.Cell.Consequence}
	}
	for _, t := range d.Thresholds {
		out.Thresholds = append(out.Thresholds, riskThresholdDoc{Colour: int8(t.Colour), Min: t.Min, Label: t.Label})
	}
	return out
}

func riskDerivationFromDoc(d *riskDerivationDoc) risk.Derivation {
	out := risk.Derivation{Method: d.Method, Formula: d.Formula, Score: d.Score, Band: d.Band, Notes: d.Notes}
	for _, t := range d.Inputs {
		out.Inputs = append(out.Inputs, risk.Term{Name: t.Name, Value: t.Value, Meaning: t.Meaning})
	}
	if d.Cell != nil {
		out.Cell = &risk.Cell{Likelihood: d.Cell.Likelihood, Consequence: d.Cell.Consequence}
	}
	for _, t := range d.Thresholds {
		out.Thresholds = append(out.Thresholds, risk.Threshold{Colour: risk.Colour(t.Colour), Min: t.Min, Label: t.Label})
	}
	return out
}

// riskPolygon copies p as the memory store's copy does: never nil, rings
// as they are.
func riskPolygon(p geo.Polygon) geo.Polygon {
	out := make(geo.Polygon, len(p))
	for i, r := range p {
		out[i] = slices.Clone(r)
	}
	return out
}

func riskWarningToDoc(w *risk.AreaWarning) *riskWarningDoc {
	d := &riskWarningDoc{
		V: riskDocVersion, ID: w.ID, Kind: w.Kind, Event: w.Event, Colour: int8(w.Colour), Jurisdiction: w.Jurisdiction,
		Headline: w.Headline, Description: w.Description, Instruction: w.Instruction, Sender: w.Sender,
		From: w.From, Until: w.Until, Issued: w.Issued, Cancelled: w.Cancelled, Raised: w.Raised, Version: w.Version,
	}
	if w.Areas != nil {
		d.Areas = make([]riskWarningAreaDoc, len(w.Areas))
	}
	for i, a := range w.Areas {
		m := make(geo.MultiPolygon, len(a.Area)) // never nil, as in the memory store's copy
		for j, p := range a.Area {
			m[j] = riskPolygon(p)
		}
		d.Areas[i] = riskWarningAreaDoc{Code: a.Code, Scheme: a.Scheme, Name: a.Name, Area: m}
	}
	return d
}

func riskWarningFromDoc(d *riskWarningDoc) risk.AreaWarning {
	w := risk.AreaWarning{
		ID: d.ID, Kind: d.Kind, Event: d.Event, Colour: risk.Colour(d.Colour), Jurisdiction: d.Jurisdiction,
		Headline: d.Headline, Description: d.Description, Instruction: d.Instruction, Sender: d.Sender,
		From: d.From, Until: d.Until, Issued: d.Issued, Cancelled: d.Cancelled, Raised: d.Raised, Version: d.Version,
	}
	if d.Areas != nil {
		w.Areas = make([]risk.WarningArea, len(d.Areas))
	}
	for i, a := range d.Areas {
		m := make(geo.MultiPolygon, len(a.Area))
		for j, p := range a.Area {
			m[j] = riskPolygon(p)
		}
		w.Areas[i] = risk.WarningArea{Code: a.Code, Scheme: a.Scheme, Name: a.Name, Area: m}
	}
	return w
}

func riskEnterpriseToDoc(e *risk.Enterprise) *riskEnterpriseDoc {
	return &riskEnterpriseDoc{
		V: riskDocVersion, ID: e.ID, Name: e.Name, Region: e.Region, Credit: e.Credit.String(), Blacklisted: e.Blacklisted,
		Kind: e.Kind, Tier: string(e.Tier), TierDerivation: riskDerivationToDoc(&e.TierDerivation), Version: e.Version,
	}
}

func riskEnterpriseFromDoc(d *riskEnterpriseDoc) (risk.Enterprise, error) {
	e := risk.Enterprise{
		ID: d.ID, Name: d.Name, Region: d.Region, Blacklisted: d.Blacklisted, Kind: d.Kind, Tier: risk.Tier(d.Tier),
		TierDerivation: riskDerivationFromDoc(&d.TierDerivation), Version: d.Version,
	}
	if _, _, err := e.Credit.SetString(d.Credit); err != nil {
		return risk.Enterprise{}, fmt.Errorf("postgres: enterprise %q: credit %q: %w", d.ID, d.Credit, err)
	}
	return e, nil
}

func riskInspectionToDoc(in *risk.Inspection) *riskInspectionDoc {
	d := &riskInspectionDoc{
		V: riskDocVersion, ID: in.ID, Enterprise: in.Enterprise, Region: in.Region, Period: in.Period,
		Departments: in.Departments, Reasons: in.Reasons, Inspectors: in.Inspectors, Checklist: in.Checklist,
		Status: int8(in.Status), InspectedAt: in.InspectedAt, Version: in.Version,
	}
	if in.Findings != nil {
		d.Findings = make([]riskFindingDoc, len(in.Findings))
	}
	for i, f := range in.Findings {
		d.Findings[i] = riskFindingDoc{
			Item: f.Item, Severity: int8(f.Severity), Note: f.Note, Evidence: f.Evidence, Deadline: f.Deadline,
			Status: int8(f.Status), Overdue: f.Overdue, ReportedAt: f.ReportedAt, ReportedBy: f.ReportedBy,
			VerifiedAt: f.VerifiedAt, VerifiedBy: f.VerifiedBy,
		}
	}
	return d
}

func riskInspectionFromDoc(d *riskInspectionDoc) risk.Inspection {
	in := risk.Inspection{
		ID: d.ID, Enterprise: d.Enterprise, Region: d.Region, Period: d.Period,
		Departments: d.Departments, Reasons: d.Reasons, Inspectors: d.Inspectors, Checklist: d.Checklist,
		Status: risk.InspectionStatus(d.Status), InspectedAt: d.InspectedAt, Version: d.Version,
	}
	if d.Findings != nil {
		in.Findings = make([]risk.Finding, len(d.Findings))
	}
	for i, f := range d.Findings {
		in.Findings[i] = risk.Finding{
			Item: f.Item, Severity: risk.Severity(f.Severity), Note: f.Note, Evidence: f.Evidence, Deadline: f.Deadline,
			Status: risk.RectificationStatus(f.Status), Overdue: f.Overdue, ReportedAt: f.ReportedAt, ReportedBy: f.ReportedBy,
			VerifiedAt: f.VerifiedAt, VerifiedBy: f.VerifiedBy,
		}
	}
	return in
}

// riskOutboxMessages converts events for WriteOutbox, rejecting them as
// RiskEventErrors.
func riskOutboxMessages(msgs []bus.Message) ([]OutboxMessage, []uuid.UUID, error) {
	return outboxMessages(msgs, true, func(i int, id, reason string) error {
		return &RiskEventError{Index: i, ID: id, Reason: reason}
	})
}
