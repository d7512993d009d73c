package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/region"
	"github.com/govkit/govkit/sensor"
)

// SensorStore is sensor.Store on PostgreSQL: profiles in
// govkit_sensor_profile, devices in govkit_sensor_device, rules in
// govkit_sensor_rule, alarms in govkit_sensor_alarm and vital signs in
// govkit_sensor_vital_sign, created by the sensor component's migrations
// (SensorComponent, shared with ReadingSink). It passes sensortest.Run
// and is safe for concurrent use.
//
// Each record is stored whole as a JSON document of every field, with
// copies of the fields that queries filter on in indexed columns, so a
// grid-subtree query is an index range scan. Floats are kept exactly, NaN
// and infinities included (an unbounded resource range is NaN); times
// come back in UTC to the nanosecond, as the engine writes them; nil and
// empty slices and maps stay apart. Keys sort bytewise (collation "C"),
// as Go strings do, so pages come in the order the memory store gives.
//
// A write is one transaction (DB.InTx): WriteAlarms applies every write of
// a call, in order, or none. Versions are checked in the statement that
// writes, so concurrent writers of one record get sensor.ErrConflict,
// never a lost update. Text PostgreSQL cannot hold (NUL, invalid UTF-8)
// is refused with sensor.ErrInvalidRecord; a key holding such text is
// simply not found.
type SensorStore struct {
	db *DB
}

var _ sensor.Store = (*SensorStore)(nil)

// NewSensorStore applies the sensor component's migrations (SensorComponent)
// to db and returns the store. A nil db is an error matching
// ErrInvalidArgument.
func NewSensorStore(ctx context.Context, db *DB) (*SensorStore, error) {
	if db == nil {
		return nil, fmt.Errorf("%w: NewSensorStore needs a DB", ErrInvalidArgument)
	}
	if err := db.MigrateOutbox(ctx); err != nil { // alarm events go to the shared outbox
		return nil, err
	}
	migs, err := LoadMigrations(sensorMigrationFS, "migrations/sensor")
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx, SensorComponent, migs); err != nil {
		return nil, err
	}
	return &SensorStore{db: db}, nil
}

// sensorWriteError maps PostgreSQL's errors to sensor's.
func sensorWriteError(op string, err error) error {
	switch pgCode(err) {
	case sqlstateUniqueViolation:
		return fmt.Errorf("%w: %s: %w", sensor.ErrDuplicate, op, err)
	case sqlstateBadText, sqlstateUntranslatable:
		return fmt.Errorf("%w: %s: text PostgreSQL cannot store: %w", sensor.ErrInvalidRecord, op, err)
	}
	return fmt.Errorf("postgres: sensor: %s: %w", op, err)
}

// sensorText checks text bound for an indexed column.
func sensorText(what string, ss ...string) error {
	for _, s := range ss {
		if !storable(s) {
			return fmt.Errorf("%w: %s holds text PostgreSQL cannot store (NUL or invalid UTF-8)", sensor.ErrInvalidRecord, what)
		}
	}
	return nil
}

// sensorEncode encodes a document, refusing NUL, which jsonb cannot hold.
func sensorEncode(v any, what string) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("%w: encode %s: %w", sensor.ErrInvalidRecord, what, err)
	}
	if jsonHasNUL(b) {
		return "", fmt.Errorf("%w: %s holds a NUL character, which PostgreSQL cannot store", sensor.ErrInvalidRecord, what)
	}
	return string(b), nil
}

// CreateProfile implements sensor.Store.
func (s *SensorStore) CreateProfile(ctx context.Context, p sensor.Profile) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if p.Name == "" {
		return fmt.Errorf("%w: profile without a name", sensor.ErrInvalidRecord)
	}
	what := "profile " + strconv.Quote(p.Name)
	if err := sensorText(what, p.Name); err != nil {
		return err
	}
	doc, err := sensorEncode(profileDocOf(p), what)
	if err != nil {
		return err
	}
	tag, err := s.db.pool.Exec(ctx, `INSERT INTO govkit_sensor_profile (name, doc) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, p.Name, doc)
	if err != nil {
		return sensorWriteError("create "+what, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: %s", sensor.ErrDuplicate, what)
	}
	return nil
}

// Profile implements sensor.Store.
func (s *SensorStore) Profile(ctx context.Context, name string) (sensor.Profile, error) {
	if !storable(name) {
		return sensor.Profile{}, fmt.Errorf("%w: %q", sensor.ErrUnknownProfile, name)
	}
	var d sensorProfileDoc
	if err := s.one(ctx, &d, `SELECT doc FROM govkit_sensor_profile WHERE name = $1`, name); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return sensor.Profile{}, fmt.Errorf("%w: %q", sensor.ErrUnknownProfile, name)
		}
		return sensor.Profile{}, fmt.Errorf("postgres: get profile %q: %w", name, err)
	}
	return d.profile(), nil
}

// Profiles implements sensor.Store.
func (s *SensorStore) Profiles(ctx context.Context) ([]sensor.Profile, error) {
	docs, err := sensorQuery[sensorProfileDoc](ctx, s, `SELECT doc FROM govkit_sensor_profile ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list profiles: %w", err)
	}
	var out []sensor.Profile
	for i := range docs {
		out = append(out, docs[i].profile())
	}
	return out, nil
}

// PutDevice implements sensor.Store.
func (s *SensorStore) PutDevice(ctx context.Context, rec sensor.DeviceRecord) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := sensor.ValidateDeviceRecord(&rec); err != nil {
		return err
	}
	d := &rec.Device
	what := "device " + strconv.Quote(d.ID)
	if err := sensorText(what, d.ID, d.Profile, string(d.Grid)); err != nil {
		return err
	}
	doc, err := sensorEncode(deviceDocOf(rec), what)
	if err != nil {
		return err
	}
	if rec.Version == 1 {
		tag, err := s.db.pool.Exec(ctx, `INSERT INTO govkit_sensor_device (id, version, profile, grid, doc)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING`, d.ID, rec.Version, d.Profile, string(d.Grid), doc)
		if err != nil {
			return sensorWriteError("create "+what, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("%w: %s", sensor.ErrDuplicate, what)
		}
		return nil
	}
	var (
		updated bool
		have    *int64
	)
	err = s.db.pool.QueryRow(ctx, `WITH upd AS (
		UPDATE govkit_sensor_device SET version = $2, profile = $3, grid = $4, doc = $5, updated_at = now()
		WHERE id = $1 AND version = $6
		RETURNING 1)
	SELECT EXISTS (SELECT FROM upd), (SELECT version FROM govkit_sensor_device WHERE id = $1)`,
		d.ID, rec.Version, d.Profile, string(d.Grid), doc, rec.Version-1).Scan(&updated, &have)
	if err != nil {
		return sensorWriteError("update "+what, err)
	}
	return sensorVersionError(updated, have, rec.Version-1, what, sensor.ErrUnknownDevice)
}

// sensorVersionError interprets a versioned write: nil when it applied.
// The statement's snapshot shows the version it found: none, the one
// expected (a concurrent writer won the row), or another.
func sensorVersionError(applied bool, have *int64, want int64, what string, missing error) error {
	switch {
	case applied:
		return nil
	case have == nil:
		return fmt.Errorf("%w: %s", missing, what)
	case *have == want:
		return fmt.Errorf("%w: %s changed while the write expected version %d", sensor.ErrConflict, what, want)
	}
	return fmt.Errorf("%w: %s is at version %d, the write expects %d", sensor.ErrConflict, what, *have, want)
}

// Device implements sensor.Store.
func (s *SensorStore) Device(ctx context.Context, id string) (sensor.DeviceRecord, error) {
	if !storable(id) {
		return sensor.DeviceRecord{}, fmt.Errorf("%w: %q", sensor.ErrUnknownDevice, id)
	}
	var d sensorDeviceDoc
	if err := s.one(ctx, &d, `SELECT doc FROM govkit_sensor_device WHERE id = $1`, id); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return sensor.DeviceRecord{}, fmt.Errorf("%w: %q", sensor.ErrUnknownDevice, id)
		}
		return sensor.DeviceRecord{}, fmt.Errorf("postgres: get device %q: %w", id, err)
	}
	return d.record(), nil
}

// sensorWhere builds a query's conditions and arguments.
type sensorWhere struct {
	conds []string
	args  []any
}

func (w *sensorWhere) arg(v any) string {
	w.args = append(w.args, v)
	return "$" + strconv.Itoa(len(w.args))
}

func (w *sensorWhere) add(cond string) { w.conds = append(w.conds, cond) }

// within adds a grid-subtree condition on column. The query was
// validated: the prefix is digits, free of LIKE's wildcards. The range
// repeats the LIKE so that the index serves generic (cached) plans too.
func (w *sensorWhere) within(column string, unit region.Code) {
	prefix := unit.Prefix()
	w.add(column + " LIKE " + w.arg(prefix) + "::text || '%'")
	w.add(column + " >= " + w.arg(prefix))
	w.add(column + " < " + w.arg(incidentPrefixEnd(prefix)))
}

func (w *sensorWhere) sql(table string, limit int) string {
	return "SELECT doc FROM " + table + " WHERE " + strings.Join(w.conds, " AND ") + " ORDER BY id LIMIT " + w.arg(limit+1)
}

// Devices implements sensor.Store with one parameterised query: each set
// field of q adds a condition on an indexed column.
func (s *SensorStore) Devices(ctx context.Context, q sensor.DeviceQuery) (sensor.DevicePage, error) {
	if err := q.Validate(); err != nil {
		return sensor.DevicePage{}, err
	}
	if !storable(q.Profile) || !storable(q.After) {
		return sensor.DevicePage{}, nil // no stored device holds such text
	}
	var w sensorWhere
	w.add("id > " + w.arg(q.After))
	if q.Profile != "" {
		w.add("profile = " + w.arg(q.Profile))
	}
	if q.Within != "" {
		w.within("grid", q.Within)
	}
	limit := sensor.QueryLimit(q.Limit)
	docs, err := sensorQuery[sensorDeviceDoc](ctx, s, w.sql("govkit_sensor_device", limit), w.args...)
	if err != nil {
		return sensor.DevicePage{}, fmt.Errorf("postgres: find devices: %w", err)
	}
	var p sensor.DevicePage
	for i := range docs {
		if i == limit {
			p.Next = p.Devices[limit-1].Device.ID
			break
		}
		p.Devices = append(p.Devices, docs[i].record())
	}
	return p, nil
}

// CreateRule implements sensor.Store.
func (s *SensorStore) CreateRule(ctx context.Context, r sensor.Rule) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if r.ID == "" {
		return fmt.Errorf("%w: rule without an ID", sensor.ErrInvalidRecord)
	}
	what := "rule " + strconv.Quote(r.ID)
	if err := sensorText(what, r.ID); err != nil {
		return err
	}
	doc, err := sensorEncode(ruleDocOf(r), what)
	if err != nil {
		return err
	}
	tag, err := s.db.pool.Exec(ctx, `INSERT INTO govkit_sensor_rule (id, doc) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`, r.ID, doc)
	if err != nil {
		return sensorWriteError("create "+what, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: %s", sensor.ErrDuplicate, what)
	}
	return nil
}

// DeleteRule implements sensor.Store.
func (s *SensorStore) DeleteRule(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !storable(id) {
		return fmt.Errorf("%w: %q", sensor.ErrUnknownRule, id)
	}
	tag, err := s.db.pool.Exec(ctx, `DELETE FROM govkit_sensor_rule WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("postgres: delete rule %q: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: %q", sensor.ErrUnknownRule, id)
	}
	return nil
}

// Rule implements sensor.Store.
func (s *SensorStore) Rule(ctx context.Context, id string) (sensor.Rule, error) {
	if !storable(id) {
		return sensor.Rule{}, fmt.Errorf("%w: %q", sensor.ErrUnknownRule, id)
	}
	var d sensorRuleDoc
	if err := s.one(ctx, &d, `SELECT doc FROM govkit_sensor_rule WHERE id = $1`, id); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return sensor.Rule{}, fmt.Errorf("%w: %q", sensor.ErrUnknownRule, id)
		}
		return sensor.Rule{}, fmt.Errorf("postgres: get rule %q: %w", id, err)
	}
	return d.rule(), nil
}

// Rules implements sensor.Store.
func (s *SensorStore) Rules(ctx context.Context) ([]sensor.Rule, error) {
	docs, err := sensorQuery[sensorRuleDoc](ctx, s, `SELECT doc FROM govkit_sensor_rule ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list rules: %w", err)
	}
	var out []sensor.Rule
	for i := range docs {
		out = append(out, docs[i].rule())
	}
	return out, nil
}

// sensorAlarmRow is one alarm write encoded for its statement.
type sensorAlarmRow struct {
	what string
	kind int // 0 insert, 1 update, 2 delete, 3 check absent
	prev int64
	sql  string
	args []any
}

const (
	insertSensorAlarmSQL = `INSERT INTO govkit_sensor_alarm (id, version, kind, status, rule, device, asset, grid, acked, doc)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (id) DO NOTHING`
	updateSensorAlarmSQL = `WITH upd AS (
	UPDATE govkit_sensor_alarm SET version = $2, kind = $3, status = $4, rule = $5, device = $6, asset = $7, grid = $8,
		acked = $9, doc = $10, updated_at = now()
	WHERE id = $1 AND version = $11
	RETURNING 1)
SELECT EXISTS (SELECT FROM upd), (SELECT version FROM govkit_sensor_alarm WHERE id = $1)`
	deleteSensorAlarmSQL = `WITH del AS (
	DELETE FROM govkit_sensor_alarm WHERE id = $1 AND version = $2
	RETURNING 1)
SELECT EXISTS (SELECT FROM del), (SELECT version FROM govkit_sensor_alarm WHERE id = $1)`
	absentSensorAlarmSQL = `SELECT EXISTS (SELECT FROM govkit_sensor_alarm WHERE id = $1)`
)

func encodeSensorAlarm(w *sensor.AlarmWrite) (sensorAlarmRow, error) {
	a := &w.Alarm
	r := sensorAlarmRow{what: "alarm " + strconv.Quote(a.ID), prev: w.Prev}
	if err := sensorText(r.what, a.ID, a.Rule, a.Device, a.Asset, string(a.Grid)); err != nil {
		return r, err
	}
	if a.Status == sensor.AlarmCancelled {
		if w.Prev == 0 {
			r.kind, r.sql, r.args = 3, absentSensorAlarmSQL, []any{a.ID}
		} else {
			r.kind, r.sql, r.args = 2, deleteSensorAlarmSQL, []any{a.ID, w.Prev}
		}
		return r, nil
	}
	doc, err := sensorEncode(alarmDocOf(*a), r.what)
	if err != nil {
		return r, err
	}
	r.args = []any{a.ID, a.Version, int16(a.Kind), int16(a.Status), a.Rule, a.Device, a.Asset, string(a.Grid), a.Acked(), doc}
	r.sql = insertSensorAlarmSQL
	if w.Prev > 0 {
		r.kind, r.sql, r.args = 1, updateSensorAlarmSQL, append(r.args, w.Prev)
	}
	return r, nil
}

// WriteAlarms implements sensor.Store: every write in one transaction, sent
// in one round trip and read back in order, so that the first that fails
// decides the error and nothing of the call is applied.
func (s *SensorStore) WriteAlarms(ctx context.Context, writes ...sensor.AlarmWrite) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	rows := make([]sensorAlarmRow, len(writes))
	var events []bus.Message
	for i := range writes {
		if err := writes[i].Validate(); err != nil {
			return err
		}
		r, err := encodeSensorAlarm(&writes[i])
		if err != nil {
			return err
		}
		rows[i] = r
		events = append(events, writes[i].Events...)
	}
	msgs, ids, err := outboxMessages(events, false, func(i int, id, reason string) error {
		return fmt.Errorf("%w: alarm event %d (%q): %s", sensor.ErrInvalidRecord, i, id, reason)
	})
	if err != nil {
		return err
	}
	if len(rows) == 0 {
		return nil
	}
	return s.db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) (err error) {
		batch := &pgx.Batch{}
		for _, r := range rows {
			batch.Queue(r.sql, r.args...)
		}
		br := tx.SendBatch(ctx, batch)
		defer func() {
			if cerr := br.Close(); err == nil && cerr != nil {
				err = sensorWriteError("write alarms", cerr)
			}
		}()
		for _, r := range rows {
			switch r.kind {
			case 0:
				tag, err := br.Exec()
				if err != nil {
					return sensorWriteError("create "+r.what, err)
				}
				if tag.RowsAffected() == 0 {
					return fmt.Errorf("%w: %s", sensor.ErrDuplicate, r.what)
				}
			case 3:
				var exists bool
				if err := br.QueryRow().Scan(&exists); err != nil {
					return sensorWriteError("check "+r.what, err)
				}
				if exists {
					return fmt.Errorf("%w: %s", sensor.ErrDuplicate, r.what)
				}
			default:
				var (
					applied bool
					have    *int64
				)
				if err := br.QueryRow().Scan(&applied, &have); err != nil {
					return sensorWriteError("write "+r.what, err)
				}
				if err := sensorVersionError(applied, have, r.prev, r.what, sensor.ErrUnknownAlarm); err != nil {
					return err
				}
			}
		}
		if len(msgs) == 0 {
			return nil
		}
		if err := br.Close(); err != nil {
			return sensorWriteError("write alarms", err)
		}
		if err := s.db.writeOutbox(ctx, tx, msgs...); err != nil {
			return sensorWriteError("write alarm events", err)
		}
		mark := &pgx.Batch{}
		s.events().mark(mark, ids)
		if err := tx.SendBatch(ctx, mark).Close(); err != nil {
			return sensorWriteError("mark alarm events", err)
		}
		return nil
	})
}

// PruneAlarms implements sensor.Store with one DELETE of the oldest
// matching IDs. The alarm's Updated lives in its document; the status
// index narrows the scan to cleared alarms.
func (s *SensorStore) PruneAlarms(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit < 1 || limit > sensor.MaxQueryLimit {
		return 0, fmt.Errorf("%w: prune limit %d outside 1–%d", sensor.ErrInvalidQuery, limit, sensor.MaxQueryLimit)
	}
	tag, err := s.db.pool.Exec(ctx, `DELETE FROM govkit_sensor_alarm WHERE id IN (
		SELECT id FROM govkit_sensor_alarm
		WHERE status = $1 AND (doc->>'updated')::timestamptz < $2
		ORDER BY id LIMIT $3)`, int16(sensor.AlarmCleared), before, limit)
	if err != nil {
		return 0, fmt.Errorf("postgres: prune alarms: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// Pending implements sensor.Store: the alarm events this store wrote to
// the shared outbox and nobody marked published, oldest first.
func (s *SensorStore) Pending(ctx context.Context, limit int) ([]bus.Message, error) {
	return s.events().pending(ctx, limit)
}

// MarkPublished implements sensor.Store: it sets published_at on the
// outbox messages with the given IDs that this store wrote; others are
// ignored.
func (s *SensorStore) MarkPublished(ctx context.Context, ids ...string) error {
	return s.events().markPublished(ctx, ids...)
}

func (s *SensorStore) events() outboxView {
	return outboxView{db: s.db, marker: "govkit_sensor_event", what: "alarm events"}
}

// Alarm implements sensor.Store.
func (s *SensorStore) Alarm(ctx context.Context, id string) (sensor.Alarm, error) {
	if !storable(id) {
		return sensor.Alarm{}, fmt.Errorf("%w: %q", sensor.ErrUnknownAlarm, id)
	}
	var d sensorAlarmDoc
	if err := s.one(ctx, &d, `SELECT doc FROM govkit_sensor_alarm WHERE id = $1`, id); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return sensor.Alarm{}, fmt.Errorf("%w: %q", sensor.ErrUnknownAlarm, id)
		}
		return sensor.Alarm{}, fmt.Errorf("postgres: get alarm %q: %w", id, err)
	}
	return d.alarm(), nil
}

// Alarms implements sensor.Store with one parameterised query: each set
// field of q adds a condition on an indexed column.
func (s *SensorStore) Alarms(ctx context.Context, q sensor.AlarmQuery) (sensor.AlarmPage, error) {
	if err := q.Validate(); err != nil {
		return sensor.AlarmPage{}, err
	}
	for _, t := range []string{q.Rule, q.Device, q.Asset, q.After} {
		if !storable(t) {
			return sensor.AlarmPage{}, nil // no stored alarm holds such text
		}
	}
	var w sensorWhere
	w.add("id > " + w.arg(q.After))
	if len(q.Statuses) > 0 {
		st := make([]int16, len(q.Statuses))
		for i, status := range q.Statuses {
			st[i] = int16(status)
		}
		w.add("status = ANY(" + w.arg(st) + "::smallint[])")
	}
	if q.Kind != 0 {
		w.add("kind = " + w.arg(int16(q.Kind)))
	}
	for _, f := range []struct{ column, value string }{{"rule", q.Rule}, {"device", q.Device}, {"asset", q.Asset}} {
		if f.value != "" {
			w.add(f.column + " = " + w.arg(f.value))
		}
	}
	if q.Within != "" {
		w.within("grid", q.Within)
	}
	if q.Unacked {
		w.add("NOT acked")
	}
	limit := sensor.QueryLimit(q.Limit)
	docs, err := sensorQuery[sensorAlarmDoc](ctx, s, w.sql("govkit_sensor_alarm", limit), w.args...)
	if err != nil {
		return sensor.AlarmPage{}, fmt.Errorf("postgres: find alarms: %w", err)
	}
	var p sensor.AlarmPage
	for i := range docs {
		if i == limit {
			p.Next = p.Alarms[limit-1].ID
			break
		}
		p.Alarms = append(p.Alarms, docs[i].alarm())
	}
	return p, nil
}

// PutVitalSign implements sensor.Store.
func (s *SensorStore) PutVitalSign(ctx context.Context, v sensor.VitalSign) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if v.Name == "" {
		return fmt.Errorf("%w: vital sign without a name", sensor.ErrInvalidRecord)
	}
	what := "vital sign " + strconv.Quote(v.Name)
	if err := sensorText(what, v.Name); err != nil {
		return err
	}
	doc, err := sensorEncode(vitalDocOf(v), what)
	if err != nil {
		return err
	}
	if _, err := s.db.pool.Exec(ctx, `INSERT INTO govkit_sensor_vital_sign (name, doc) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET doc = excluded.doc`, v.Name, doc); err != nil {
		return sensorWriteError("put "+what, err)
	}
	return nil
}

// DeleteVitalSign implements sensor.Store.
func (s *SensorStore) DeleteVitalSign(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !storable(name) {
		return fmt.Errorf("%w: %q", sensor.ErrUnknownVitalSign, name)
	}
	tag, err := s.db.pool.Exec(ctx, `DELETE FROM govkit_sensor_vital_sign WHERE name = $1`, name)
	if err != nil {
		return fmt.Errorf("postgres: delete vital sign %q: %w", name, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: %q", sensor.ErrUnknownVitalSign, name)
	}
	return nil
}

// VitalSigns implements sensor.Store.
func (s *SensorStore) VitalSigns(ctx context.Context) ([]sensor.VitalSign, error) {
	docs, err := sensorQuery[sensorVitalDoc](ctx, s, `SELECT doc FROM govkit_sensor_vital_sign ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list vital signs: %w", err)
	}
	var out []sensor.VitalSign
	for i := range docs {
		out = append(out, docs[i].vitalSign())
	}
	return out, nil
}

// one reads one document into dst; pgx.ErrNoRows when there is none.
func (s *SensorStore) one(ctx context.Context, dst sensorDoc, sql string, args ...any) error {
	var doc []byte
	if err := s.db.pool.QueryRow(ctx, sql, args...).Scan(&doc); err != nil {
		return err
	}
	return decodeSensorDoc(doc, dst)
}

// sensorQuery reads the documents a query returns.
func sensorQuery[D any, P interface {
	*D
	sensorDoc
}](ctx context.Context, s *SensorStore, sql string, args ...any) ([]D, error) {
	rows, err := s.db.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (D, error) {
		var d D
		var doc []byte
		if err := r.Scan(&doc); err != nil {
			return d, err
		}
		err := decodeSensorDoc(doc, P(&d))
		return d, err
	})
}

// The stored documents. They spell out every field of the sensor types,
// with enums as numbers and floats as sensorFloat, so that neither a
// MarshalJSON added to a sensor type for an API nor NaN can change or
// break what is stored. sensorDocVersion versions their layout.
const sensorDocVersion = 1

type sensorDoc interface{ version() int }

func decodeSensorDoc(b []byte, dst sensorDoc) error {
	if err := json.Unmarshal(b, dst); err != nil {
		return fmt.Errorf("decode sensor document: %w", err)
	}
	if v := dst.version(); v != sensorDocVersion {
		return fmt.Errorf("sensor document of unknown version %d", v)
	}
	return nil
}

// sensorFloat is a float64 in JSON that keeps NaN, the infinities and
// negative zero, which JSON numbers cannot hold, as strings.
type sensorFloat float64

// MarshalJSON writes the shortest exact form, or "NaN", "+Inf", "-Inf",
// "-0".
func (f sensorFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	switch {
	case math.IsNaN(v):
		return []byte(`"NaN"`), nil
	case math.IsInf(v, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Inf"`), nil
	case v == 0 && math.Signbit(v):
		return []byte(`"-0"`), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

// UnmarshalJSON reads what MarshalJSON writes.
func (f *sensorFloat) UnmarshalJSON(b []byte) error {
	s := string(b)
	if uq, err := strconv.Unquote(s); err == nil {
		s = uq
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("not a float: %s", b)
	}
	*f = sensorFloat(v)
	return nil
}

// sensorTime returns t as stored: in UTC.
func sensorTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

type sensorResourceDoc struct {
	Name     string        `json:"name"`
	Unit     string        `json:"unit"`
	Min      sensorFloat   `json:"min"`
	Max      sensorFloat   `json:"max"`
	Interval time.Duration `json:"interval"`
}

type sensorProfileDoc struct {
	V         int                 `json:"v"`
	Name      string              `json:"name"`
	Resources []sensorResourceDoc `json:"resources"`
}

func (d *sensorProfileDoc) version() int { return d.V }

func profileDocOf(p sensor.Profile) sensorProfileDoc {
	d := sensorProfileDoc{V: sensorDocVersion, Name: p.Name}
	if p.Resources != nil {
		d.Resources = make([]sensorResourceDoc, len(p.Resources))
	}
	for i, r := range p.Resources {
		d.Resources[i] = sensorResourceDoc{Name: r.Name, Unit: r.Unit, Min: sensorFloat(r.Min), Max: sensorFloat(r.Max), Interval: r.Interval}
	}
	return d
}

func (d *sensorProfileDoc) profile() sensor.Profile {
	p := sensor.Profile{Name: d.Name}
	if d.Resources != nil {
		p.Resources = make([]sensor.Resource, len(d.Resources))
	}
	for i, r := range d.Resources {
		p.Resources[i] = sensor.Resource{Name: r.Name, Unit: r.Unit, Min: float64(r.Min), Max: float64(r.Max), Interval: r.Interval}
	}
	return p
}

type sensorDeviceDoc struct {
	V          int               `json:"v"`
	ID         string            `json:"id"`
	Profile    string            `json:"profile"`
	Admin      uint8             `json:"admin"`
	Operating  uint8             `json:"operating"`
	Lat        sensorFloat       `json:"lat"`
	Lon        sensorFloat       `json:"lon"`
	Grid       string            `json:"grid"`
	Asset      string            `json:"asset"`
	Gateway    string            `json:"gateway"`
	Labels     map[string]string `json:"labels"`
	OutOfRange bool              `json:"out_of_range"`
	Removed    bool              `json:"removed"`
	Version    int64             `json:"version"`
}

func (d *sensorDeviceDoc) version() int { return d.V }

func deviceDocOf(r sensor.DeviceRecord) sensorDeviceDoc {
	d := &r.Device
	return sensorDeviceDoc{
		V: sensorDocVersion, ID: d.ID, Profile: d.Profile, Admin: uint8(d.Admin), Operating: uint8(d.Operating),
		Lat: sensorFloat(d.Location.Lat), Lon: sensorFloat(d.Location.Lon), Grid: string(d.Grid), Asset: d.Asset,
		Gateway: d.Gateway, Labels: d.Labels, OutOfRange: d.OutOfRange, Removed: r.Removed, Version: r.Version,
	}
}

func (d *sensorDeviceDoc) record() sensor.DeviceRecord {
	return sensor.DeviceRecord{
		Device: sensor.Device{
			ID: d.ID, Profile: d.Profile, Admin: sensor.AdminState(d.Admin), Operating: sensor.OperatingState(d.Operating),
			Location: geo.Point{Lat: float64(d.Lat), Lon: float64(d.Lon)}, Grid: region.Code(d.Grid), Asset: d.Asset,
			Gateway: d.Gateway, Labels: d.Labels, OutOfRange: d.OutOfRange,
		},
		Removed: d.Removed, Version: d.Version,
	}
}

type sensorConditionDoc struct {
	Kind     uint8         `json:"kind"`
	Severity uint8         `json:"severity"`
	Op       string        `json:"op"`
	Value    sensorFloat   `json:"value"`
	Low      sensorFloat   `json:"low"`
	High     sensorFloat   `json:"high"`
	Outside  bool          `json:"outside"`
	Window   time.Duration `json:"window"`
	After    time.Duration `json:"after"`
	Multiple sensorFloat   `json:"multiple"`
	Learn    bool          `json:"learn"`
}

func conditionDocOf(c sensor.Condition) sensorConditionDoc {
	return sensorConditionDoc{
		Kind: uint8(c.Kind), Severity: uint8(c.Severity), Op: c.Op, Value: sensorFloat(c.Value), Low: sensorFloat(c.Low),
		High: sensorFloat(c.High), Outside: c.Outside, Window: c.Window, After: c.After, Multiple: sensorFloat(c.Multiple), Learn: c.Learn,
	}
}

func (c *sensorConditionDoc) condition() sensor.Condition {
	return sensor.Condition{
		Kind: sensor.ConditionKind(c.Kind), Severity: sensor.Severity(c.Severity), Op: c.Op, Value: float64(c.Value),
		Low: float64(c.Low), High: float64(c.High), Outside: c.Outside, Window: c.Window, After: c.After,
		Multiple: float64(c.Multiple), Learn: c.Learn,
	}
}

type sensorScheduleDoc struct {
	Days []time.Weekday `json:"days"`
	From string         `json:"from"`
	To   string         `json:"to"`
	Zone string         `json:"zone"`
}

type sensorCorrelationDoc struct {
	By         string        `json:"by"`
	Window     time.Duration `json:"window"`
	MinDevices int           `json:"min_devices"`
}

type sensorRuleDoc struct {
	V         int                   `json:"v"`
	ID        string                `json:"id"`
	Name      string                `json:"name"`
	Profile   string                `json:"profile"`
	Resource  string                `json:"resource"`
	Grid      string                `json:"grid"`
	Labels    map[string]string     `json:"labels"`
	Asset     string                `json:"asset"`
	Raise     []sensorConditionDoc  `json:"raise"`
	Clear     *sensorConditionDoc   `json:"clear"`
	For       time.Duration         `json:"for"`
	Count     int                   `json:"count"`
	Deadband  sensorFloat           `json:"deadband"`
	Schedule  *sensorScheduleDoc    `json:"schedule"`
	Correlate *sensorCorrelationDoc `json:"correlate"`
}

func (d *sensorRuleDoc) version() int { return d.V }

func ruleDocOf(r sensor.Rule) sensorRuleDoc {
	d := sensorRuleDoc{
		V: sensorDocVersion, ID: r.ID, Name: r.Name, Profile: r.Scope.Profile, Resource: r.Scope.Resource,
		Grid: string(r.Scope.Grid), Labels: r.Scope.Labels, Asset: r.Scope.Asset, For: r.For, Count: r.Count,
		Deadband: sensorFloat(r.Deadband),
	}
	if r.Raise != nil {
		d.Raise = make([]sensorConditionDoc, len(r.Raise))
	}
	for i, c := range r.Raise {
		d.Raise[i] = conditionDocOf(c)
	}
	if r.Clear != nil {
		c := conditionDocOf(*r.Clear)
		d.Clear = &c
	}
	if sc := r.Schedule; sc != nil {
		d.Schedule = &sensorScheduleDoc{Days: sc.Days, From: sc.From, To: sc.To, Zone: sc.Zone}
	}
	if c := r.Correlate; c != nil {
		d.Correlate = &sensorCorrelationDoc{By: c.By, Window: c.Window, MinDevices: c.MinDevices}
	}
	return d
}

func (d *sensorRuleDoc) rule() sensor.Rule {
	r := sensor.Rule{
		ID: d.ID, Name: d.Name,
		Scope: sensor.Scope{Profile: d.Profile, Resource: d.Resource, Grid: region.Code(d.Grid), Labels: d.Labels, Asset: d.Asset},
		For:   d.For, Count: d.Count, Deadband: float64(d.Deadband),
	}
	if d.Raise != nil {
		r.Raise = make([]sensor.Condition, len(d.Raise))
	}
	for i := range d.Raise {
		r.Raise[i] = d.Raise[i].condition()
	}
	if d.Clear != nil {
		c := d.Clear.condition()
		r.Clear = &c
	}
	if sc := d.Schedule; sc != nil {
		r.Schedule = &sensor.Schedule{Days: sc.Days, From: sc.From, To: sc.To, Zone: sc.Zone}
	}
	if c := d.Correlate; c != nil {
		r.Correlate = &sensor.Correlation{By: c.By, Window: c.Window, MinDevices: c.MinDevices}
	}
	return r
}

type sensorAlarmDoc struct {
	V          int         `json:"v"`
	ID         string      `json:"id"`
	Kind       uint8       `json:"kind"`
	Rule       string      `json:"rule"`
	Status     uint8       `json:"status"`
	Severity   uint8       `json:"severity"`
	Device     string      `json:"device"`
	Asset      string      `json:"asset"`
	Grid       string      `json:"grid"`
	Lat        sensorFloat `json:"lat"`
	Lon        sensorFloat `json:"lon"`
	Value      sensorFloat `json:"value"`
	Devices    []string    `json:"devices"`
	Silent     int         `json:"silent"`
	Monitored  int         `json:"monitored"`
	Suppressed int         `json:"suppressed"`
	Since      time.Time   `json:"since"`
	Raised     time.Time   `json:"raised"`
	Updated    time.Time   `json:"updated"`
	Cleared    time.Time   `json:"cleared"`
	AckedBy    string      `json:"acked_by"`
	AckedAt    time.Time   `json:"acked_at"`
	Note       string      `json:"note"`
	Version    int64       `json:"version"`
}

func (d *sensorAlarmDoc) version() int { return d.V }

func alarmDocOf(a sensor.Alarm) sensorAlarmDoc {
	return sensorAlarmDoc{
		V: sensorDocVersion, ID: a.ID, Kind: uint8(a.Kind), Rule: a.Rule, Status: uint8(a.Status), Severity: uint8(a.Severity),
		Device: a.Device, Asset: a.Asset, Grid: string(a.Grid), Lat: sensorFloat(a.Location.Lat), Lon: sensorFloat(a.Location.Lon),
		Value: sensorFloat(a.Value), Devices: a.Devices, Silent: a.Silent, Monitored: a.Monitored, Suppressed: a.Suppressed,
		Since: sensorTime(a.Since), Raised: sensorTime(a.Raised), Updated: sensorTime(a.Updated), Cleared: sensorTime(a.Cleared),
		AckedBy: a.AckedBy, AckedAt: sensorTime(a.AckedAt), Note: a.Note, Version: a.Version,
	}
}

func (d *sensorAlarmDoc) alarm() sensor.Alarm {
	return sensor.Alarm{
		ID: d.ID, Kind: sensor.AlarmKind(d.Kind), Rule: d.Rule, Status: sensor.AlarmStatus(d.Status), Severity: sensor.Severity(d.Severity),
		Device: d.Device, Asset: d.Asset, Grid: region.Code(d.Grid), Location: geo.Point{Lat: float64(d.Lat), Lon: float64(d.Lon)},
		Value: float64(d.Value), Devices: d.Devices, Silent: d.Silent, Monitored: d.Monitored, Suppressed: d.Suppressed,
		Since: d.Since, Raised: d.Raised, Updated: d.Updated, Cleared: d.Cleared, AckedBy: d.AckedBy, AckedAt: d.AckedAt,
		Note: d.Note, Version: d.Version,
	}
}

type sensorBandDoc struct {
	From   sensorFloat `json:"from"`
	Colour string      `json:"colour"`
}

type sensorVitalDoc struct {
	V         int               `json:"v"`
	Name      string            `json:"name"`
	Profile   string            `json:"profile"`
	Resource  string            `json:"resource"`
	Area      string            `json:"area"`
	Labels    map[string]string `json:"labels"`
	Aggregate uint8             `json:"aggregate"`
	Window    time.Duration     `json:"window"`
	Every     time.Duration     `json:"every"`
	Bands     []sensorBandDoc   `json:"bands"`
}

func (d *sensorVitalDoc) version() int { return d.V }

func vitalDocOf(v sensor.VitalSign) sensorVitalDoc {
	d := sensorVitalDoc{
		V: sensorDocVersion, Name: v.Name, Profile: v.Profile, Resource: v.Resource, Area: string(v.Area), Labels: v.Labels,
		Aggregate: uint8(v.Aggregate), Window: v.Window, Every: v.Every,
	}
	if v.Bands != nil {
		d.Bands = make([]sensorBandDoc, len(v.Bands))
	}
	for i, b := range v.Bands {
		d.Bands[i] = sensorBandDoc{From: sensorFloat(b.From), Colour: b.Colour}
	}
	return d
}

func (d *sensorVitalDoc) vitalSign() sensor.VitalSign {
	v := sensor.VitalSign{
		Name: d.Name, Profile: d.Profile, Resource: d.Resource, Area: region.Code(d.Area), Labels: d.Labels,
		Aggregate: sensor.Aggregate(d.Aggregate), Window: d.Window, Every: d.Every,
	}
	if d.Bands != nil {
		v.Bands = make([]sensor.Band, len(d.Bands))
	}
	for i, b := range d.Bands {
		v.Bands[i] = sensor.Band{From: float64(b.From), Colour: b.Colour}
	}
	return v
}
