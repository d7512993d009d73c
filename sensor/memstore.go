package sensor

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/internal/memoutbox"
	"github.com/hashicorp/go-memdb"
)

// MemoryStore is the in-memory Store on go-memdb: the embedded default
// and the fake that tests run against. Device records are indexed by ID,
// grid (for subtree queries) and profile; alarms by ID, status, rule,
// device, asset and grid. Reads use memdb's lock-free snapshots; a write
// is one memdb transaction, checked whole before it commits, so it is all
// or nothing to every reader. It is safe for concurrent use.
//
// A query filtered by grid, profile, status, rule, device or asset reads
// that index and sorts what it finds by ID for paging; an unfiltered one
// walks the ID index from After. Alarm events wait in an outbox beside
// memdb, added under the same lock as the alarm writes that carry them.
type MemoryStore struct {
	db *memdb.MemDB

	mu     sync.Mutex // held by WriteAlarms and the outbox's readers
	outbox memoutbox.Outbox
}

var _ Store = (*MemoryStore)(nil)

type memProfile struct {
	Name string
	P    *Profile
}

type memDevice struct {
	ID      string
	Grid    string
	Profile string
	R       *DeviceRecord
}

type memRule struct {
	ID string
	R  *Rule
}

type memAlarm struct {
	ID     string
	Status string
	Rule   string
	Device string
	Asset  string
	Grid   string
	A      *Alarm
}

type memVital struct {
	Name string
	S    *VitalSign
}

func memIndex(field string, unique bool) *memdb.IndexSchema {
	name := strings.ToLower(field)
	if unique {
		name = "id"
	}
	// memdb treats "" as missing: records are taken as they come.
	return &memdb.IndexSchema{Name: name, Unique: unique, AllowMissing: !unique, Indexer: &memdb.StringFieldIndex{Field: field}}
}

func memTable(name string, indexes ...*memdb.IndexSchema) *memdb.TableSchema {
	t := &memdb.TableSchema{Name: name, Indexes: map[string]*memdb.IndexSchema{}}
	for _, ix := range indexes {
		t.Indexes[ix.Name] = ix
	}
	return t
}

var memSchema = &memdb.DBSchema{Tables: map[string]*memdb.TableSchema{
	"profile": memTable("profile", memIndex("Name", true)),
	"device":  memTable("device", memIndex("ID", true), memIndex("Grid", false), memIndex("Profile", false)),
	"rule":    memTable("rule", memIndex("ID", true)),
	"alarm": memTable("alarm", memIndex("ID", true), memIndex("Status", false), memIndex("Rule", false),
		memIndex("Device", false), memIndex("Asset", false), memIndex("Grid", false)),
	"vital": memTable("vital", memIndex("Name", true)),
}}

// NewMemoryStore returns an empty in-memory store.
func NewMemoryStore() *MemoryStore {
	db, err := memdb.NewMemDB(memSchema)
	if err != nil {
		panic(fmt.Sprintf("sensor: memdb schema: %v", err)) // a bug in the schema above
	}
	return &MemoryStore{db: db}
}

// first returns the record with a unique key, or nil.
func (s *MemoryStore) first(txn *memdb.Txn, table, key string) any {
	if key == "" {
		return nil
	}
	obj, err := txn.First(table, "id", key)
	if err != nil {
		return nil
	}
	return obj
}

// write runs fn in a write transaction and commits it if fn succeeds.
func (s *MemoryStore) write(ctx context.Context, fn func(txn *memdb.Txn) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	txn := s.db.Txn(true)
	defer txn.Abort()
	if err := fn(txn); err != nil {
		return err
	}
	txn.Commit()
	return nil
}

// CreateProfile implements Store.
func (s *MemoryStore) CreateProfile(ctx context.Context, p Profile) error {
	if p.Name == "" {
		return fmt.Errorf("%w: profile without a name", ErrInvalidRecord)
	}
	return s.write(ctx, func(txn *memdb.Txn) error {
		if s.first(txn, "profile", p.Name) != nil {
			return fmt.Errorf("%w: profile %q", ErrDuplicate, p.Name)
		}
		c := cloneProfile(p)
		return txn.Insert("profile", &memProfile{Name: c.Name, P: &c})
	})
}

// Profile implements Store.
func (s *MemoryStore) Profile(ctx context.Context, name string) (Profile, error) {
	obj := s.first(s.db.Txn(false), "profile", name)
	if obj == nil {
		return Profile{}, fmt.Errorf("%w: %q", ErrUnknownProfile, name)
	}
	return cloneProfile(*obj.(*memProfile).P), nil
}

// Profiles implements Store.
func (s *MemoryStore) Profiles(ctx context.Context) ([]Profile, error) {
	it, err := s.db.Txn(false).Get("profile", "id")
	if err != nil {
		return nil, err
	}
	var out []Profile
	for obj := it.Next(); obj != nil; obj = it.Next() {
		out = append(out, cloneProfile(*obj.(*memProfile).P))
	}
	slices.SortFunc(out, func(a, b Profile) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// PutDevice implements Store.
func (s *MemoryStore) PutDevice(ctx context.Context, rec DeviceRecord) error {
	if err := ValidateDeviceRecord(&rec); err != nil {
		return err
	}
	id := rec.Device.ID
	return s.write(ctx, func(txn *memdb.Txn) error {
		cur := s.first(txn, "device", id)
		switch {
		case rec.Version == 1 && cur != nil:
			return fmt.Errorf("%w: device %q", ErrDuplicate, id)
		case rec.Version > 1 && cur == nil:
			return fmt.Errorf("%w: %q", ErrUnknownDevice, id)
		case rec.Version > 1 && cur.(*memDevice).R.Version != rec.Version-1:
			return fmt.Errorf("%w: device %s is at version %d, the write expects %d", ErrConflict, id, cur.(*memDevice).R.Version, rec.Version-1)
		}
		c := rec.Clone()
		return txn.Insert("device", &memDevice{ID: id, Grid: string(c.Device.Grid), Profile: c.Device.Profile, R: &c})
	})
}

// Device implements Store.
func (s *MemoryStore) Device(ctx context.Context, id string) (DeviceRecord, error) {
	obj := s.first(s.db.Txn(false), "device", id)
	if obj == nil {
		return DeviceRecord{}, fmt.Errorf("%w: %q", ErrUnknownDevice, id)
	}
	return obj.(*memDevice).R.Clone(), nil
}

// Devices implements Store.
func (s *MemoryStore) Devices(ctx context.Context, q DeviceQuery) (DevicePage, error) {
	if err := q.Validate(); err != nil {
		return DevicePage{}, err
	}
	txn := s.db.Txn(false)
	var it memdb.ResultIterator
	var err error
	ordered := false
	switch {
	case q.Within != "":
		it, err = txn.Get("device", "grid_prefix", q.Within.Prefix())
	case q.Profile != "":
		it, err = txn.Get("device", "profile", q.Profile)
	default:
		it, err = txn.LowerBound("device", "id", q.After)
		ordered = true
	}
	if err != nil {
		return DevicePage{}, err
	}
	limit := QueryLimit(q.Limit)
	var hits []*DeviceRecord
	for obj := it.Next(); obj != nil; obj = it.Next() {
		r := obj.(*memDevice).R
		if r.Device.ID > q.After && q.Matches(r) {
			hits = append(hits, r)
			if ordered && len(hits) > limit {
				break
			}
		}
	}
	slices.SortFunc(hits, func(a, b *DeviceRecord) int { return strings.Compare(a.Device.ID, b.Device.ID) })
	var p DevicePage
	if len(hits) > limit {
		hits = hits[:limit]
		p.Next = hits[limit-1].Device.ID
	}
	for _, r := range hits {
		p.Devices = append(p.Devices, r.Clone())
	}
	return p, nil
}

// CreateRule implements Store.
func (s *MemoryStore) CreateRule(ctx context.Context, r Rule) error {
	if r.ID == "" {
		return fmt.Errorf("%w: rule without an ID", ErrInvalidRecord)
	}
	return s.write(ctx, func(txn *memdb.Txn) error {
		if s.first(txn, "rule", r.ID) != nil {
			return fmt.Errorf("%w: rule %q", ErrDuplicate, r.ID)
		}
		c := cloneRule(r)
		return txn.Insert("rule", &memRule{ID: c.ID, R: &c})
	})
}

// DeleteRule implements Store.
func (s *MemoryStore) DeleteRule(ctx context.Context, id string) error {
	return s.write(ctx, func(txn *memdb.Txn) error {
		obj := s.first(txn, "rule", id)
		if obj == nil {
			return fmt.Errorf("%w: %q", ErrUnknownRule, id)
		}
		return txn.Delete("rule", obj)
	})
}

// Rule implements Store.
func (s *MemoryStore) Rule(ctx context.Context, id string) (Rule, error) {
	obj := s.first(s.db.Txn(false), "rule", id)
	if obj == nil {
		return Rule{}, fmt.Errorf("%w: %q", ErrUnknownRule, id)
	}
	return cloneRule(*obj.(*memRule).R), nil
}

// Rules implements Store.
func (s *MemoryStore) Rules(ctx context.Context) ([]Rule, error) {
	it, err := s.db.Txn(false).Get("rule", "id")
	if err != nil {
		return nil, err
	}
	var out []Rule
	for obj := it.Next(); obj != nil; obj = it.Next() {
		out = append(out, cloneRule(*obj.(*memRule).R))
	}
	slices.SortFunc(out, func(a, b Rule) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// WriteAlarms implements Store.
func (s *MemoryStore) WriteAlarms(ctx context.Context, writes ...AlarmWrite) error {
	for i := range writes {
		if err := writes[i].Validate(); err != nil {
			return err
		}
	}
	if len(writes) == 0 {
		return ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	events := map[string]bool{}
	for _, w := range writes {
		for _, m := range w.Events {
			if s.outbox.Has(m.ID) || events[m.ID] {
				return fmt.Errorf("%w: event %s already in the outbox", ErrDuplicate, m.ID)
			}
			events[m.ID] = true
		}
	}
	err := s.write(ctx, func(txn *memdb.Txn) error {
		for i := range writes {
			w := &writes[i]
			id := w.Alarm.ID
			obj := s.first(txn, "alarm", id)
			switch {
			case w.Prev == 0 && obj != nil:
				return fmt.Errorf("%w: alarm %s", ErrDuplicate, id)
			case w.Prev > 0 && obj == nil:
				return fmt.Errorf("%w: %q", ErrUnknownAlarm, id)
			case w.Prev > 0 && obj.(*memAlarm).A.Version != w.Prev:
				return fmt.Errorf("%w: alarm %s is at version %d, the write expects %d", ErrConflict, id, obj.(*memAlarm).A.Version, w.Prev)
			}
			if w.Alarm.Status == AlarmCancelled {
				if obj != nil {
					if err := txn.Delete("alarm", obj); err != nil {
						return err
					}
				}
				continue
			}
			a := w.Alarm.clone()
			row := &memAlarm{ID: id, Status: a.Status.String(), Rule: a.Rule, Device: a.Device, Asset: a.Asset, Grid: string(a.Grid), A: &a}
			if err := txn.Insert("alarm", row); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, w := range writes {
		s.outbox.Add(w.Events...)
	}
	return nil
}

// PruneAlarms implements Store.
func (s *MemoryStore) PruneAlarms(ctx context.Context, before time.Time, limit int) (int, error) {
	if err := checkPruneLimit(limit); err != nil {
		return 0, err
	}
	n := 0
	err := s.write(ctx, func(txn *memdb.Txn) error {
		it, err := txn.Get("alarm", "status", AlarmCleared.String())
		if err != nil {
			return err
		}
		var old []*memAlarm
		for obj := it.Next(); obj != nil; obj = it.Next() {
			if r := obj.(*memAlarm); r.A.Updated.Before(before) {
				old = append(old, r)
			}
		}
		slices.SortFunc(old, func(a, b *memAlarm) int { return strings.Compare(a.ID, b.ID) })
		for _, r := range old[:min(limit, len(old))] {
			if err := txn.Delete("alarm", r); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// Pending implements Store.
func (s *MemoryStore) Pending(ctx context.Context, limit int) ([]bus.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.outbox.Pending(limit), nil
}

// MarkPublished implements Store. Published events are forgotten.
func (s *MemoryStore) MarkPublished(ctx context.Context, ids ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outbox.MarkPublished(ids...)
	return nil
}

// Alarm implements Store.
func (s *MemoryStore) Alarm(ctx context.Context, id string) (Alarm, error) {
	obj := s.first(s.db.Txn(false), "alarm", id)
	if obj == nil {
		return Alarm{}, fmt.Errorf("%w: %q", ErrUnknownAlarm, id)
	}
	return obj.(*memAlarm).A.clone(), nil
}

// Alarms implements Store.
func (s *MemoryStore) Alarms(ctx context.Context, q AlarmQuery) (AlarmPage, error) {
	if err := q.Validate(); err != nil {
		return AlarmPage{}, err
	}
	txn := s.db.Txn(false)
	var its []memdb.ResultIterator
	get := func(index string, args ...any) error {
		it, err := txn.Get("alarm", index, args...)
		its = append(its, it)
		return err
	}
	var err error
	ordered := false
	switch {
	case q.Device != "":
		err = get("device", q.Device)
	case q.Rule != "":
		err = get("rule", q.Rule)
	case q.Asset != "":
		err = get("asset", q.Asset)
	case len(q.Statuses) > 0:
		for _, st := range slices.Compact(slices.Sorted(slices.Values(q.Statuses))) {
			if err = get("status", st.String()); err != nil {
				break
			}
		}
	case q.Within != "":
		err = get("grid_prefix", q.Within.Prefix())
	default:
		var it memdb.ResultIterator
		it, err = txn.LowerBound("alarm", "id", q.After)
		its = append(its, it)
		ordered = true
	}
	if err != nil {
		return AlarmPage{}, err
	}
	limit := QueryLimit(q.Limit)
	var hits []*Alarm
	for _, it := range its {
		for obj := it.Next(); obj != nil; obj = it.Next() {
			a := obj.(*memAlarm).A
			if a.ID > q.After && q.Matches(a) {
				hits = append(hits, a)
				if ordered && len(hits) > limit {
					break
				}
			}
		}
	}
	slices.SortFunc(hits, func(a, b *Alarm) int { return strings.Compare(a.ID, b.ID) })
	var p AlarmPage
	if len(hits) > limit {
		hits = hits[:limit]
		p.Next = hits[limit-1].ID
	}
	for _, a := range hits {
		p.Alarms = append(p.Alarms, a.clone())
	}
	return p, nil
}

// PutVitalSign implements Store.
func (s *MemoryStore) PutVitalSign(ctx context.Context, v VitalSign) error {
	if v.Name == "" {
		return fmt.Errorf("%w: vital sign without a name", ErrInvalidRecord)
	}
	return s.write(ctx, func(txn *memdb.Txn) error {
		c := cloneVitalSign(v)
		return txn.Insert("vital", &memVital{Name: c.Name, S: &c})
	})
}

// DeleteVitalSign implements Store.
func (s *MemoryStore) DeleteVitalSign(ctx context.Context, name string) error {
	return s.write(ctx, func(txn *memdb.Txn) error {
		obj := s.first(txn, "vital", name)
		if obj == nil {
			return fmt.Errorf("%w: %q", ErrUnknownVitalSign, name)
		}
		return txn.Delete("vital", obj)
	})
}

// VitalSigns implements Store.
func (s *MemoryStore) VitalSigns(ctx context.Context) ([]VitalSign, error) {
	it, err := s.db.Txn(false).Get("vital", "id")
	if err != nil {
		return nil, err
	}
	var out []VitalSign
	for obj := it.Next(); obj != nil; obj = it.Next() {
		out = append(out, cloneVitalSign(*obj.(*memVital).S))
	}
	slices.SortFunc(out, func(a, b VitalSign) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}
