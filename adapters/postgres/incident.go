package postgres

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/incident"
	"github.com/govkit/govkit/pii"
	"github.com/govkit/govkit/region"
)

//go:embed migrations/incident/*.sql
var incidentMigrationFS embed.FS

// IncidentComponent is the component under which the incident store's
// migrations are recorded in govkit_schema_migrations.
const IncidentComponent = "incident"

// IncidentStore is incident.Store on PostgreSQL: cases in govkit_incident,
// idempotency keys in govkit_incident_key, timelines in
// govkit_incident_timeline, and events in the shared outbox govkit_outbox,
// written in the same transaction as the state they announce. It passes
// incidenttest.Run and is safe for concurrent use.
//
// Each case is stored whole as a JSON document, with copies of the fields
// that queries filter on in indexed columns. Reporters' names and phone
// numbers and penalties' payers are personal data: they are sealed with
// the store's pii.Sealer (AES-256-GCM) before they reach the database, so
// neither the document nor a backup of it holds them in clear. A
// penalty's amount is kept as its exact decimal text, scale included.
//
// Times come back in UTC at microsecond precision, the precision of
// timestamptz. Idempotency keys, once claimed, stay with their case even
// if a later version drops them, so a retried report never opens a second
// case. Event IDs must be UUIDs in canonical form (see IncidentEventError);
// an event's zero Time is stored as the transaction's time. Pending and
// MarkPublished see only the events this store wrote (the table
// govkit_incident_event marks them); a Relay publishes the whole outbox.
type IncidentStore struct {
	db     *DB
	sealer *pii.Sealer
	writes *txGroup[incidentWrite]
}

var _ incident.Store = (*IncidentStore)(nil)

// NewIncidentStore applies the outbox's and the incident store's
// migrations (component IncidentComponent) to db and returns a store that
// seals reporters' personal data with sealer. A nil db or sealer is an
// error matching ErrInvalidArgument, returned before touching the
// database.
func NewIncidentStore(ctx context.Context, db *DB, sealer *pii.Sealer) (*IncidentStore, error) {
	switch {
	case db == nil:
		return nil, fmt.Errorf("%w: NewIncidentStore needs a DB", ErrInvalidArgument)
	case sealer == nil:
		return nil, fmt.Errorf("%w: NewIncidentStore needs a pii.Sealer: reporters' names and phone numbers are stored sealed", ErrInvalidArgument)
	}
	if err := db.MigrateOutbox(ctx); err != nil {
		return nil, err
	}
	migs, err := LoadMigrations(incidentMigrationFS, "migrations/incident")
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx, IncidentComponent, migs); err != nil {
		return nil, err
	}
	s := &IncidentStore{db: db, sealer: sealer}
	s.writes = newTxGroup(db, writeSlots(db), s.queueWrite)
	return s, nil
}

// IncidentEventError reports an event of an incident.Change that the
// outbox cannot hold: govkit_outbox identifies messages by UUID, so an
// event's ID must be a non-zero UUID in canonical form (as
// uuid.UUID.String writes it), so that it comes back from Pending, and is
// accepted by MarkPublished, unchanged; and it needs a subject. Nothing of
// the change was written.
type IncidentEventError struct {
	Index  int    // position in Change.Events
	ID     string // the rejected ID
	Reason string
}

// Error describes the problem.
func (e *IncidentEventError) Error() string {
	return fmt.Sprintf("postgres: incident event [%d] id %q: %s", e.Index, e.ID, e.Reason)
}

// Unwrap lets errors.Is(err, ErrInvalidOutboxMessage) match.
func (e *IncidentEventError) Unwrap() error { return ErrInvalidOutboxMessage }

// Apply implements incident.Store: the whole change in one transaction,
// so any error leaves nothing of it behind. Encoding and sealing happen
// first, outside the transaction, so that a retry after a deadlock repeats
// only the statements. Changes applied concurrently share transactions
// (see txGroup); each still succeeds or fails on its own.
func (s *IncidentStore) Apply(ctx context.Context, c incident.Change) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var (
		w   incidentWrite
		err error
	)
	if w.creates, err = s.encodeIncidents(c.Create); err != nil {
		return err
	}
	if w.updates, err = s.encodeIncidents(c.Update); err != nil {
		return err
	}
	if w.entries, err = encodeIncidentEntries(c.Timeline); err != nil {
		return err
	}
	w.events, w.eventIDs, err = outboxMessages(c.Events, false, func(i int, id, reason string) error {
		return &IncidentEventError{Index: i, ID: id, Reason: reason}
	})
	if err != nil {
		return err
	}
	err = s.writes.Do(ctx, &w)
	if taken, ok := errors.AsType[*keysTakenError](err); ok {
		return s.keyHolderError(ctx, &w, taken)
	}
	return err
}

// incidentWrite is an incident.Change encoded for the database.
type incidentWrite struct {
	creates, updates []incidentRow
	entries          []incidentEntryRow
	events           []OutboxMessage
	eventIDs         []uuid.UUID
}

// queueWrite queues w's statements and returns how to read their results,
// in order, the first failure deciding. Every check fails its statement on
// the server, so the transaction's COMMIT travels in the same batch.
func (s *IncidentStore) queueWrite(batch *pgx.Batch, w *incidentWrite) (func(pgx.BatchResults) error, error) {
	creates, updates, entries, events, ids := w.creates, w.updates, w.entries, w.events, w.eventIDs
	var steps []func(pgx.BatchResults) error
	for i := range creates {
		r := &creates[i]
		batch.Queue(insertIncidentSQL, r.id, r.version, r.status, r.category, r.grid,
			r.lat, r.lon, r.cell, r.reportedAt, r.overdue, r.doc)
		steps = append(steps, func(br pgx.BatchResults) error {
			_, err := br.Exec()
			switch {
			case pgCode(err) == sqlstateUniqueViolation:
				return fmt.Errorf("%w: %s", incident.ErrDuplicateID, r.id)
			case err != nil:
				return fmt.Errorf("postgres: insert incident %s: %w", r.id, err)
			}
			return nil
		})
		steps = queueKeyClaim(batch, steps, r)
	}
	for i := range updates {
		r := &updates[i]
		batch.Queue(updateIncidentSQL, r.id, r.version, r.status, r.category, r.grid,
			r.lat, r.lon, r.cell, r.reportedAt, r.overdue, r.doc, r.version-1)
		steps = append(steps, func(br pgx.BatchResults) error {
			_, err := br.Exec()
			if have, ok := rejectedVersion(err); ok {
				if have == "" {
					return fmt.Errorf("%w: %s", incident.ErrNotFound, r.id)
				}
				return fmt.Errorf("%w: %s is at version %s, the change expects %d", incident.ErrConflict, r.id, have, r.version-1)
			}
			if err != nil {
				return fmt.Errorf("postgres: update incident %s: %w", r.id, err)
			}
			return nil
		})
		steps = queueKeyClaim(batch, steps, r)
	}
	for _, r := range entries {
		e := r.e
		batch.Queue(insertIncidentEntrySQL, e.Incident, e.Seq, r.at, e.ActorID, e.Action,
			int16(e.From), int16(e.To), e.Note, r.evidence, e.Late, e.PrevHash, e.Hash)
		steps = append(steps, func(br pgx.BatchResults) error {
			_, err := br.Exec()
			switch {
			case pgCode(err) == sqlstateForeignKeyViolation:
				return fmt.Errorf("%w: timeline entry %d for unknown incident %s", incident.ErrNotFound, e.Seq, e.Incident)
			case pgCode(err) == sqlstateUniqueViolation:
				return fmt.Errorf("%w: timeline entry %d of %s already written", incident.ErrConflict, e.Seq, e.Incident)
			case err != nil:
				return fmt.Errorf("postgres: append timeline entry %d of %s: %w", e.Seq, e.Incident, err)
			}
			return nil
		})
	}
	if len(events) > 0 {
		n, err := queueOutbox(batch, events, !s.db.noNotify)
		if err != nil {
			return nil, err
		}
		s.events().mark(batch, ids)
		for range n + 1 { // the inserts, perhaps the wake-up, the marks
			steps = append(steps, func(br pgx.BatchResults) error {
				_, err := br.Exec()
				switch {
				case pgCode(err) == sqlstateUniqueViolation:
					return fmt.Errorf("%w: an event of the change is already in the outbox: %w", incident.ErrConflict, err)
				case err != nil:
					return fmt.Errorf("postgres: write incident events: %w", err)
				}
				return nil
			})
		}
	}
	return readInOrder(steps), nil
}

// incidentRow is an incident encoded for its table.
type incidentRow struct {
	id         uuid.UUID
	version    int64
	status     int16
	category   string
	grid       string
	lat, lon   float64
	cell       int64
	reportedAt time.Time
	overdue    bool
	doc        string
	keys       []string
}

func (s *IncidentStore) encodeIncidents(incs []incident.Incident) ([]incidentRow, error) {
	rows := make([]incidentRow, len(incs))
	for i := range incs {
		inc := &incs[i]
		doc, err := s.encodeIncident(inc)
		if err != nil {
			return nil, err
		}
		rows[i] = incidentRow{
			id: inc.ID, version: inc.Version, status: int16(inc.Status), category: inc.Category,
			grid: string(inc.Location.Grid()), lat: inc.Location.Point.Lat, lon: inc.Location.Point.Lon,
			cell: incident.Cell(inc.Location.Point), reportedAt: incidentTime(inc.Times.Reported),
			overdue: inc.SLA.Overdue, doc: string(doc), keys: inc.Keys,
		}
	}
	return rows, nil
}

const insertIncidentSQL = `INSERT INTO govkit_incident
	(id, version, status, category, grid, lat, lon, cell, reported_at, overdue, doc)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`

// updateIncidentSQL applies only over the version before: the
// optimistic-concurrency check and the write are one statement, which
// fails if it did not apply, naming the version stored (empty: no such
// incident) as the outer query sees the table before the update.
const updateIncidentSQL = `WITH u AS (UPDATE govkit_incident
	SET version = $2, status = $3, category = $4, grid = $5, lat = $6, lon = $7, cell = $8,
		reported_at = $9, overdue = $10, doc = $11, updated_at = now()
	WHERE id = $1 AND version = $12 RETURNING 1)
	SELECT CASE WHEN EXISTS (SELECT 1 FROM u) THEN true
		ELSE govkit_reject('` + sqlstateRejectVersion + `', (SELECT version FROM govkit_incident WHERE id = $1)::text) END`

// claimKeysSQL makes an incident the holder of the keys nobody holds and
// fails unless it then holds all $3 distinct keys of $1: those it claims
// now and those it held already (an update keeping its keys), which the
// outer query sees as the table stood before the insert. ON CONFLICT DO
// NOTHING waits for a concurrent claim of the same key to commit or roll
// back, so the check sees the winner.
const claimKeysSQL = `WITH claimed AS (INSERT INTO govkit_incident_key (key, incident)
	SELECT k, $2 FROM unnest($1::text[]) AS k
	ON CONFLICT (key) DO NOTHING
	RETURNING key)
	SELECT CASE WHEN count(*) = $3 THEN true ELSE govkit_reject('` + sqlstateRejectKeys + `', NULL) END
	FROM (SELECT key FROM claimed
		UNION SELECT key FROM govkit_incident_key WHERE key = ANY($1::text[]) AND incident = $2) AS held`

// queueKeyClaim queues the claim of r's keys and the step that reads it. A
// key another case holds fails the claim with a *keysTakenError, which
// Apply turns into the holder's name once the transaction is rolled back.
func queueKeyClaim(batch *pgx.Batch, steps []func(pgx.BatchResults) error, r *incidentRow) []func(pgx.BatchResults) error {
	if len(r.keys) == 0 {
		return steps
	}
	distinct := len(slices.Compact(slices.Sorted(slices.Values(r.keys))))
	batch.Queue(claimKeysSQL, r.keys, r.id, distinct)
	return append(steps, func(br pgx.BatchResults) error {
		_, err := br.Exec()
		switch {
		case pgCode(err) == sqlstateRejectKeys:
			return &keysTakenError{id: r.id, keys: r.keys}
		case err != nil:
			return fmt.Errorf("postgres: claim keys of incident %s: %w", r.id, err)
		}
		return nil
	})
}

// keysTakenError is a claim that failed because another case holds one of
// the keys; Apply reads who does.
type keysTakenError struct {
	id   uuid.UUID
	keys []string
}

func (e *keysTakenError) Error() string {
	return fmt.Sprintf("postgres: idempotency keys of incident %s held by another case", e.id)
}

// keyHolderError names the case holding one of the keys that taken's case
// could not claim: a case of the database or one claiming it earlier in
// the same change. Keys are never deleted, so once the claim has failed,
// this read after the rollback finds the holder it lost to.
func (s *IncidentStore) keyHolderError(ctx context.Context, w *incidentWrite, taken *keysTakenError) error {
	rows, err := s.db.pool.Query(ctx, `SELECT key, incident FROM govkit_incident_key WHERE key = ANY($1::text[])`, taken.keys)
	if err != nil {
		return fmt.Errorf("postgres: read key holders: %w", err)
	}
	holders := make(map[string]uuid.UUID, len(taken.keys))
	var (
		key    string
		holder uuid.UUID
	)
	if _, err := pgx.ForEachRow(rows, []any{&key, &holder}, func() error {
		holders[key] = holder
		return nil
	}); err != nil {
		return fmt.Errorf("postgres: read key holders: %w", err)
	}
	// The change's rows claim in the order queueWrite queued them.
	for _, r := range slices.Concat(w.creates, w.updates) {
		if r.id == taken.id {
			break
		}
		for _, k := range r.keys {
			if _, ok := holders[k]; !ok {
				holders[k] = r.id
			}
		}
	}
	for _, k := range taken.keys {
		if h, ok := holders[k]; ok && h != taken.id {
			return &incident.DuplicateKeyError{Key: k, Existing: h}
		}
	}
	return fmt.Errorf("%w: an idempotency key of %s changed hands during the change", incident.ErrConflict, taken.id)
}

// incidentEntryRow is a timeline entry encoded for its table.
type incidentEntryRow struct {
	e        *incident.Entry
	at       time.Time
	evidence string
}

func encodeIncidentEntries(entries []incident.Entry) ([]incidentEntryRow, error) {
	rows := make([]incidentEntryRow, len(entries))
	for i := range entries {
		ev, err := json.Marshal(incidentEvidenceDocs(entries[i].Evidence))
		if err != nil {
			return nil, fmt.Errorf("postgres: encode timeline entry %d of %s: %w", entries[i].Seq, entries[i].Incident, err)
		}
		rows[i] = incidentEntryRow{e: &entries[i], at: incidentTime(entries[i].Time), evidence: string(ev)}
	}
	return rows, nil
}

const insertIncidentEntrySQL = `INSERT INTO govkit_incident_timeline
	(incident, seq, at, actor_id, action, from_status, to_status, note, evidence, late, prev_hash, hash)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`

// Get implements incident.Store.
func (s *IncidentStore) Get(ctx context.Context, id uuid.UUID) (incident.Incident, error) {
	var doc []byte
	err := s.db.pool.QueryRow(ctx, `SELECT doc FROM govkit_incident WHERE id = $1`, id).Scan(&doc)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return incident.Incident{}, fmt.Errorf("%w: %s", incident.ErrNotFound, id)
	case err != nil:
		return incident.Incident{}, fmt.Errorf("postgres: get incident %s: %w", id, err)
	}
	return s.decodeIncident(doc)
}

// ByKey implements incident.Store.
func (s *IncidentStore) ByKey(ctx context.Context, key string) (incident.Incident, error) {
	var doc []byte
	err := s.db.pool.QueryRow(ctx, `SELECT i.doc FROM govkit_incident_key k
		JOIN govkit_incident i ON i.id = k.incident WHERE k.key = $1`, key).Scan(&doc)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return incident.Incident{}, fmt.Errorf("%w: key %q", incident.ErrNotFound, key)
	case err != nil:
		return incident.Incident{}, fmt.Errorf("postgres: get incident by key: %w", err)
	}
	return s.decodeIncident(doc)
}

// Timeline implements incident.Store.
func (s *IncidentStore) Timeline(ctx context.Context, id uuid.UUID) ([]incident.Entry, error) {
	return s.readTimeline(ctx, id, "ORDER BY seq")
}

// LastEntry implements incident.LastEntryReader with one indexed read.
func (s *IncidentStore) LastEntry(ctx context.Context, id uuid.UUID) (incident.Entry, bool, error) {
	entries, err := s.readTimeline(ctx, id, "ORDER BY seq DESC LIMIT 1")
	if err != nil || len(entries) == 0 {
		return incident.Entry{}, false, err
	}
	return entries[0], true, nil
}

// readTimeline reads id's entries in the order and number that order
// (an ORDER BY clause, with a LIMIT or not) gives.
func (s *IncidentStore) readTimeline(ctx context.Context, id uuid.UUID, order string) ([]incident.Entry, error) {
	rows, err := s.db.pool.Query(ctx, `SELECT seq, at, actor_id, action, from_status, to_status, note,
		evidence, late, prev_hash, hash
		FROM govkit_incident_timeline WHERE incident = $1 `+order, id)
	if err != nil {
		return nil, fmt.Errorf("postgres: read timeline of %s: %w", id, err)
	}
	entries, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (incident.Entry, error) {
		e := incident.Entry{Incident: id}
		var (
			from, to int16
			evidence []byte
		)
		if err := r.Scan(&e.Seq, &e.Time, &e.ActorID, &e.Action, &from, &to, &e.Note,
			&evidence, &e.Late, &e.PrevHash, &e.Hash); err != nil {
			return e, err
		}
		e.Time = e.Time.UTC()
		e.From, e.To = incident.Status(from), incident.Status(to)
		var docs []incidentEvidenceDoc
		if err := json.Unmarshal(evidence, &docs); err != nil {
			return e, fmt.Errorf("evidence of entry %d: %w", e.Seq, err)
		}
		e.Evidence = incidentEvidence(docs)
		return e, nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: read timeline of %s: %w", id, err)
	}
	if len(entries) > 0 {
		return entries, nil
	}
	// Entries are never deleted, so an empty timeline needs only this
	// second look to tell an unknown incident.
	var exists bool
	if err := s.db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM govkit_incident WHERE id = $1)`, id).Scan(&exists); err != nil {
		return nil, fmt.Errorf("postgres: read timeline of %s: %w", id, err)
	}
	if !exists {
		return nil, fmt.Errorf("%w: %s", incident.ErrNotFound, id)
	}
	return nil, nil
}

// Find implements incident.Store with one parameterised query: each set
// field of q adds a condition on an indexed column.
func (s *IncidentStore) Find(ctx context.Context, q incident.Query) (incident.Page, error) {
	if err := q.Validate(); err != nil {
		return incident.Page{}, err
	}
	limit := q.Limit
	if limit == 0 {
		limit = incident.DefaultLimit
	}
	var (
		where []string
		args  []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if len(q.Statuses) > 0 {
		st := make([]int16, len(q.Statuses))
		for i, status := range q.Statuses {
			st[i] = int16(status)
		}
		where = append(where, "status = ANY("+arg(st)+"::smallint[])")
	}
	if len(q.Categories) > 0 {
		where = append(where, "category = ANY("+arg(q.Categories)+"::text[])")
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
	if !q.Since.IsZero() {
		where = append(where, "reported_at >= "+arg(q.Since))
	}
	if !q.Until.IsZero() {
		where = append(where, "reported_at < "+arg(q.Until))
	}
	if b := q.BBox; b != nil {
		where = append(where, "lat >= "+arg(b.MinLat), "lat <= "+arg(b.MaxLat),
			"lon >= "+arg(b.MinLon), "lon <= "+arg(b.MaxLon))
	}
	if q.Overdue {
		where = append(where, "overdue")
	}
	if q.After != uuid.Nil {
		where = append(where, "id > "+arg(q.After))
	}
	sql := "SELECT doc FROM govkit_incident"
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	sql += " ORDER BY id LIMIT " + arg(limit+1) // one more tells whether a next page exists

	incs, err := s.queryIncidents(ctx, sql, args...)
	if err != nil {
		return incident.Page{}, fmt.Errorf("postgres: find incidents: %w", err)
	}
	var p incident.Page
	if len(incs) > limit {
		incs = incs[:limit]
		p.Next = incs[limit-1].ID
	}
	p.Incidents = incs
	return p, nil
}

// incidentPrefixEnd returns the least string above every string starting
// with prefix, a string of ASCII digits: "5001" → "5002", "509" → "50:".
func incidentPrefixEnd(prefix string) string {
	b := []byte(prefix)
	b[len(b)-1]++
	return string(b)
}

func (s *IncidentStore) queryIncidents(ctx context.Context, sql string, args ...any) ([]incident.Incident, error) {
	rows, err := s.db.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (incident.Incident, error) {
		var doc []byte
		if err := r.Scan(&doc); err != nil {
			return incident.Incident{}, err
		}
		return s.decodeIncident(doc)
	})
}

// openStatusSQL lists the statuses for which Status.Open holds, as SQL:
// "(1, 2, …)". The queries of open cases name it literally, not as a
// parameter, so that the planner can use the partial index whose predicate
// it is (migration 0003) in a generic plan too.
var openStatusSQL = func() string {
	var parts []string
	for st := incident.Reported; st <= incident.Evaluated; st++ {
		if st.Open() {
			parts = append(parts, strconv.Itoa(int(st)))
		}
	}
	return "(" + strings.Join(parts, ", ") + ")"
}()

// nearbySQL probes the open-case index once per cell. With the cells as
// "cell = ANY($2)" the planner, on a table whose statistics are stale
// (any table in its first minute, before autovacuum analyzes it), bounds
// the index scan by category alone and filters the cells from the heap,
// reading every open case of the category in the city; OFFSET 0 keeps the
// lateral subquery a per-cell probe whatever the statistics say.
var nearbySQL = `SELECT i.id, i.lat, i.lon, i.reported_at FROM unnest($2::bigint[]) AS c(cell)
	CROSS JOIN LATERAL (SELECT id, lat, lon, reported_at FROM govkit_incident
		WHERE category = $1 AND cell = c.cell AND status IN ` + openStatusSQL + ` AND reported_at >= $3
		OFFSET 0) AS i`

// Nearby implements incident.Store: the open-case index narrows the
// search to the cells around the centre, the exact distance, computed here
// from the lat and lon columns, decides, and the candidates are ranked on
// those columns and their report times; a second read fetches the whole
// case of only the best q.Limit.
func (s *IncidentStore) Nearby(ctx context.Context, q incident.NearbyQuery) ([]incident.Incident, error) {
	rank := incident.NewRanking(q)
	var (
		id uuid.UUID
		p  geo.Point
		at time.Time
	)
	rows, err := s.db.pool.Query(ctx, nearbySQL, q.Category, incident.Cells(q.Center, q.Meters), q.Since)
	if err == nil {
		_, err = pgx.ForEachRow(rows, []any{&id, &p.Lat, &p.Lon, &at}, func() error {
			rank.Offer(id, p, at)
			return nil
		})
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: find nearby incidents: %w", err)
	}
	ids := rank.IDs()
	if len(ids) == 0 {
		return nil, nil
	}
	// Only the best are read in full, by ID. A case that closed between
	// the two reads is left out here rather than in SQL: "status IN (open)"
	// in the WHERE lets the planner AND the ID lookups with a scan of the
	// whole open-case index.
	rows, err = s.db.pool.Query(ctx, `SELECT id, status, doc FROM govkit_incident WHERE id = ANY($1::uuid[])`, ids)
	if err != nil {
		return nil, fmt.Errorf("postgres: read nearby incidents: %w", err)
	}
	docs := make(map[uuid.UUID][]byte, len(ids))
	var (
		doc    []byte
		status int16
	)
	if _, err := pgx.ForEachRow(rows, []any{&id, &status, &doc}, func() error {
		if incident.Status(status).Open() {
			docs[id] = slices.Clone(doc)
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("postgres: read nearby incidents: %w", err)
	}
	out := make([]incident.Incident, 0, len(docs))
	for _, id := range ids {
		d, ok := docs[id]
		if !ok {
			continue
		}
		inc, err := s.decodeIncident(d)
		if err != nil {
			return nil, err
		}
		out = append(out, inc)
	}
	return out, nil
}

// Pending implements incident.Store: the unpublished messages this store
// wrote, in the order written (Seq).
func (s *IncidentStore) Pending(ctx context.Context, limit int) ([]bus.Message, error) {
	return s.events().pending(ctx, limit)
}

// MarkPublished implements incident.Store: it sets published_at on the
// outbox messages with the given IDs that this store wrote. Other IDs
// (unknown, another store's, already published, not UUIDs) are ignored.
func (s *IncidentStore) MarkPublished(ctx context.Context, ids ...string) error {
	return s.events().markPublished(ctx, ids...)
}

func (s *IncidentStore) events() outboxView {
	return outboxView{db: s.db, marker: "govkit_incident_event", what: "incident events"}
}

// incidentTime returns t as stored: UTC at microsecond precision.
func incidentTime(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Microsecond)
}

// incidentDocVersion versions the document layout below.
const incidentDocVersion = 1

// incidentDoc is the stored form of an incident: the store's own layout,
// independent of Incident's Go fields, with personal data sealed.
// Incident's own JSON cannot serve: pii.Data encodes masked and refuses to
// decode.
type incidentDoc struct {
	V           int                   `json:"v"`
	ID          uuid.UUID             `json:"id"`
	ExternalIDs map[string]string     `json:"external_ids,omitzero"`
	Channel     int8                  `json:"channel,omitzero"`
	Reporters   []incidentReporterDoc `json:"reporters,omitzero"`
	Category    string                `json:"category"`
	Attributes  map[string][]string   `json:"attributes,omitzero"`
	Description string                `json:"description,omitzero"`
	Location    incidentLocationDoc   `json:"location"`
	Priority    int8                  `json:"priority,omitzero"`
	Confidence  float64               `json:"confidence,omitzero"`
	Evidence    []incidentEvidenceDoc `json:"evidence,omitzero"`
	Status      int8                  `json:"status"`
	Resolution  int8                  `json:"resolution,omitzero"`
	Times       incidentTimesDoc      `json:"times"`
	SLA         incidentClockDoc      `json:"sla"`
	Handlers    []string              `json:"handlers,omitzero"`
	Reworks     int                   `json:"reworks,omitzero"`
	Reopens     int                   `json:"reopens,omitzero"`
	Rating      int                   `json:"rating,omitzero"`
	MergedInto  uuid.UUID             `json:"merged_into,omitzero"`
	MergedFrom  []uuid.UUID           `json:"merged_from,omitzero"`
	SplitFrom   uuid.UUID             `json:"split_from,omitzero"`
	Keys        []string              `json:"keys,omitzero"`
	Penalties   []incidentPenaltyDoc  `json:"penalties,omitzero"`
	Version     int64                 `json:"version"`
}

// incidentPenaltyDoc holds Payer as Sealer.Seal's output and Amount as
// apd's exact text ("2000.00"), which SetString reads back unchanged.
type incidentPenaltyDoc struct {
	Decision  string    `json:"decision"`
	Basis     string    `json:"basis,omitzero"`
	Payer     []byte    `json:"payer_sealed,omitzero"`
	Amount    string    `json:"amount"`
	DecidedBy string    `json:"decided_by,omitzero"`
	DecidedAt time.Time `json:"decided_at,omitzero"`
}

// incidentReporterDoc holds Name and Phone as Sealer.Seal's output
// (base64 in JSON).
type incidentReporterDoc struct {
	ActorID    string    `json:"actor_id,omitzero"`
	Channel    int8      `json:"channel,omitzero"`
	Name       []byte    `json:"name_sealed,omitzero"`
	Phone      []byte    `json:"phone_sealed,omitzero"`
	ReportedAt time.Time `json:"reported_at,omitzero"`
	ExternalID string    `json:"external_id,omitzero"`
}

type incidentLocationDoc struct {
	Lat      float64       `json:"lat"`
	Lon      float64       `json:"lon"`
	Address  string        `json:"address,omitzero"`
	Accuracy float64       `json:"accuracy,omitzero"`
	Path     []region.Code `json:"path,omitzero"`
}

type incidentEvidenceDoc struct {
	URI       string `json:"uri"`
	SHA256    string `json:"sha256"`
	MediaType string `json:"media_type"`
}

type incidentTimesDoc struct {
	Reported   time.Time `json:"reported,omitzero"`
	Registered time.Time `json:"registered,omitzero"`
	Dispatched time.Time `json:"dispatched,omitzero"`
	Started    time.Time `json:"started,omitzero"`
	Disposed   time.Time `json:"disposed,omitzero"`
	Verified   time.Time `json:"verified,omitzero"`
	Closed     time.Time `json:"closed,omitzero"`
	Evaluated  time.Time `json:"evaluated,omitzero"`
}

type incidentClockDoc struct {
	Phase    int8      `json:"phase,omitzero"`
	Deadline time.Time `json:"deadline,omitzero"`
	PausedAt time.Time `json:"paused_at,omitzero"`
	Reason   string    `json:"reason,omitzero"`
	Overdue  bool      `json:"overdue,omitzero"`
}

func incidentEvidenceDocs(ev []incident.Evidence) []incidentEvidenceDoc {
	if ev == nil {
		return nil
	}
	out := make([]incidentEvidenceDoc, len(ev))
	for i, e := range ev {
		out[i] = incidentEvidenceDoc{URI: e.URI, SHA256: e.SHA256, MediaType: e.MediaType}
	}
	return out
}

func incidentEvidence(docs []incidentEvidenceDoc) []incident.Evidence {
	if docs == nil {
		return nil
	}
	out := make([]incident.Evidence, len(docs))
	for i, d := range docs {
		out[i] = incident.Evidence{URI: d.URI, SHA256: d.SHA256, MediaType: d.MediaType}
	}
	return out
}

func (s *IncidentStore) seal(d pii.Data) ([]byte, error) {
	if d.IsZero() {
		return nil, nil
	}
	return s.sealer.Seal(d)
}

func (s *IncidentStore) open(b []byte) (pii.Data, error) {
	if b == nil {
		return pii.Data{}, nil
	}
	return s.sealer.Open(b)
}

func (s *IncidentStore) encodeIncident(inc *incident.Incident) ([]byte, error) {
	d := incidentDoc{
		V: incidentDocVersion, ID: inc.ID, ExternalIDs: inc.ExternalIDs, Channel: int8(inc.Channel),
		Category: inc.Category, Attributes: inc.Attributes, Description: inc.Description,
		Location: incidentLocationDoc{
			Lat: inc.Location.Point.Lat, Lon: inc.Location.Point.Lon, Address: inc.Location.Address,
			Accuracy: inc.Location.Accuracy, Path: inc.Location.Path,
		},
		Priority: int8(inc.Priority), Confidence: inc.Confidence, Evidence: incidentEvidenceDocs(inc.Evidence),
		Status: int8(inc.Status), Resolution: int8(inc.Resolution),
		Times: incidentTimesDoc{
			Reported: incidentTime(inc.Times.Reported), Registered: incidentTime(inc.Times.Registered),
			Dispatched: incidentTime(inc.Times.Dispatched), Started: incidentTime(inc.Times.Started),
			Disposed: incidentTime(inc.Times.Disposed), Verified: incidentTime(inc.Times.Verified),
			Closed: incidentTime(inc.Times.Closed), Evaluated: incidentTime(inc.Times.Evaluated),
		},
		SLA: incidentClockDoc{
			Phase: int8(inc.SLA.Phase), Deadline: incidentTime(inc.SLA.Deadline), PausedAt: incidentTime(inc.SLA.PausedAt),
			Reason: inc.SLA.Reason, Overdue: inc.SLA.Overdue,
		},
		Handlers: inc.Handlers, Reworks: inc.Reworks, Reopens: inc.Reopens, Rating: inc.Rating,
		MergedInto: inc.MergedInto, MergedFrom: inc.MergedFrom, SplitFrom: inc.SplitFrom,
		Keys: inc.Keys, Version: inc.Version,
	}
	if inc.Reporters != nil {
		d.Reporters = make([]incidentReporterDoc, len(inc.Reporters))
	}
	for i, r := range inc.Reporters {
		name, err := s.seal(r.Name)
		if err != nil {
			return nil, fmt.Errorf("postgres: incident %s: seal name of reporter %d: %w", inc.ID, i, err)
		}
		phone, err := s.seal(r.Phone)
		if err != nil {
			return nil, fmt.Errorf("postgres: incident %s: seal phone of reporter %d: %w", inc.ID, i, err)
		}
		d.Reporters[i] = incidentReporterDoc{
			ActorID: r.ActorID, Channel: int8(r.Channel), Name: name, Phone: phone,
			ReportedAt: incidentTime(r.ReportedAt), ExternalID: r.ExternalID,
		}
	}
	if inc.Penalties != nil {
		d.Penalties = make([]incidentPenaltyDoc, len(inc.Penalties))
	}
	for i := range inc.Penalties {
		p := &inc.Penalties[i]
		payer, err := s.seal(p.Payer)
		if err != nil {
			return nil, fmt.Errorf("postgres: incident %s: seal payer of penalty %d: %w", inc.ID, i, err)
		}
		d.Penalties[i] = incidentPenaltyDoc{
			Decision: p.Decision, Basis: p.Basis, Payer: payer, Amount: p.Amount.String(),
			DecidedBy: p.DecidedBy, DecidedAt: incidentTime(p.DecidedAt),
		}
	}
	b, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("postgres: encode incident %s: %w", inc.ID, err)
	}
	return b, nil
}

func (s *IncidentStore) decodeIncident(b []byte) (incident.Incident, error) {
	var d incidentDoc
	if err := json.Unmarshal(b, &d); err != nil {
		return incident.Incident{}, fmt.Errorf("postgres: decode incident: %w", err)
	}
	if d.V != incidentDocVersion {
		return incident.Incident{}, fmt.Errorf("postgres: incident %s: unknown document version %d", d.ID, d.V)
	}
	utc := func(t time.Time) time.Time {
		if t.IsZero() {
			return time.Time{}
		}
		return t.UTC()
	}
	inc := incident.Incident{
		ID: d.ID, ExternalIDs: d.ExternalIDs, Channel: incident.Channel(d.Channel),
		Category: d.Category, Attributes: d.Attributes, Description: d.Description,
		Location: incident.Location{
			Point: geo.Point{Lat: d.Location.Lat, Lon: d.Location.Lon}, Address: d.Location.Address,
			Accuracy: d.Location.Accuracy, Path: d.Location.Path,
		},
		Priority: incident.Priority(d.Priority), Confidence: d.Confidence, Evidence: incidentEvidence(d.Evidence),
		Status: incident.Status(d.Status), Resolution: incident.Resolution(d.Resolution),
		Times: incident.Times{
			Reported: utc(d.Times.Reported), Registered: utc(d.Times.Registered),
			Dispatched: utc(d.Times.Dispatched), Started: utc(d.Times.Started),
			Disposed: utc(d.Times.Disposed), Verified: utc(d.Times.Verified),
			Closed: utc(d.Times.Closed), Evaluated: utc(d.Times.Evaluated),
		},
		SLA: incident.Clock{
			Phase: incident.Status(d.SLA.Phase), Deadline: utc(d.SLA.Deadline), PausedAt: utc(d.SLA.PausedAt),
			Reason: d.SLA.Reason, Overdue: d.SLA.Overdue,
		},
		Handlers: d.Handlers, Reworks: d.Reworks, Reopens: d.Reopens, Rating: d.Rating,
		MergedInto: d.MergedInto, MergedFrom: d.MergedFrom, SplitFrom: d.SplitFrom,
		Keys: d.Keys, Version: d.Version,
	}
	if d.Reporters != nil {
		inc.Reporters = make([]incident.Reporter, len(d.Reporters))
	}
	for i, r := range d.Reporters {
		name, err := s.open(r.Name)
		if err != nil {
			return incident.Incident{}, fmt.Errorf("postgres: incident %s: open name of reporter %d: %w", d.ID, i, err)
		}
		phone, err := s.open(r.Phone)
		if err != nil {
			return incident.Incident{}, fmt.Errorf("postgres: incident %s: open phone of reporter %d: %w", d.ID, i, err)
		}
		inc.Reporters[i] = incident.Reporter{
			ActorID: r.ActorID, Channel: incident.Channel(r.Channel), Name: name, Phone: phone,
			ReportedAt: utc(r.ReportedAt), ExternalID: r.ExternalID,
		}
	}
	if d.Penalties != nil {
		inc.Penalties = make([]incident.Penalty, len(d.Penalties))
	}
	for i, p := range d.Penalties {
		payer, err := s.open(p.Payer)
		if err != nil {
			return incident.Incident{}, fmt.Errorf("postgres: incident %s: open payer of penalty %d: %w", d.ID, i, err)
		}
		pen := incident.Penalty{Decision: p.Decision, Basis: p.Basis, Payer: payer, DecidedBy: p.DecidedBy, DecidedAt: utc(p.DecidedAt)}
		// A fine read back wrong would be worse than an error.
		if _, _, err := pen.Amount.SetString(p.Amount); err != nil {
			return incident.Incident{}, fmt.Errorf("postgres: incident %s: amount of penalty %d: %w", d.ID, i, err)
		}
		inc.Penalties[i] = pen
	}
	return inc, nil
}

var _ incident.MergeLocker = (*IncidentStore)(nil)

// LockMerges implements incident.MergeLocker with a session advisory lock
// on one pooled connection, keyed by the schema and the category: services
// in several processes then decide auto-merges of one category one at a
// time. A process that dies drops its session and so its lock. If the
// unlock fails, the connection is closed, which releases the lock too.
func (s *IncidentStore) LockMerges(ctx context.Context, category string) (func(), error) {
	h := fnv.New64a()
	h.Write([]byte("govkit-incident-merge:" + s.db.schema + ":" + category))
	key := int64(h.Sum64())
	conn, err := s.db.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("postgres: merge lock: %w", err)
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, key); err != nil {
		// The lock may have been granted as the wait was cancelled: end
		// the session rather than return it to the pool holding it.
		_ = conn.Conn().Close(context.Background())
		conn.Release()
		return nil, fmt.Errorf("postgres: merge lock: %w", err)
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, key); err != nil {
			_ = conn.Conn().Close(ctx)
		}
		conn.Release()
	}, nil
}
