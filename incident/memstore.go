package incident

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/internal/memoutbox"
	"github.com/hashicorp/go-memdb"
)

// MemoryStore is the in-memory Store: the embedded default and the fake
// that tests run against.
//
// Incidents live in go-memdb, indexed by ID and by grid (for subtree
// queries), and are read from lock-free snapshots. Idempotency keys, the
// place index for duplicate search, timelines and the outbox sit beside it
// in maps and lists: every memdb index costs microseconds per write, and
// these need no snapshots.
//
// Apply checks a whole change before it writes any of it, then commits the
// memdb transaction and appends to the side lists under one lock, so a
// change is all or nothing to every reader. MemoryStore is safe for
// concurrent use.
type MemoryStore struct {
	db *memdb.MemDB

	mu       sync.RWMutex // held to write; guards everything below
	keys     map[string]uuid.UUID
	nearby   map[string][]uuid.UUID // category + cell → incidents reported there
	timeline map[uuid.UUID][]Entry
	outbox   memoutbox.Outbox
}

// row is what memdb indexes.
type row struct {
	ID   []byte // the UUID's 16 bytes: UUIDv7 sorts in report order
	Grid string
	Inc  *Incident
}

// idIndex indexes a row by its raw ID.
type idIndex struct{}

func (idIndex) FromObject(o any) (bool, []byte, error) { return true, o.(*row).ID, nil }

func (idIndex) FromArgs(args ...any) ([]byte, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("incident: id index takes one argument")
	}
	id, ok := args[0].(uuid.UUID)
	if !ok {
		return nil, fmt.Errorf("incident: id index takes a uuid.UUID, not %T", args[0])
	}
	return id[:], nil
}

var memorySchema = &memdb.DBSchema{Tables: map[string]*memdb.TableSchema{
	"incident": {Name: "incident", Indexes: map[string]*memdb.IndexSchema{
		"id":   {Name: "id", Unique: true, Indexer: idIndex{}},
		"grid": {Name: "grid", AllowMissing: true, Indexer: &memdb.StringFieldIndex{Field: "Grid"}},
	}},
}}

// NewMemoryStore returns an empty in-memory store.
func NewMemoryStore() *MemoryStore {
	db, err := memdb.NewMemDB(memorySchema)
	if err != nil {
		panic(fmt.Sprintf("incident: memdb schema: %v", err)) // a bug in the schema above
	}
	return &MemoryStore{
		db: db, keys: map[string]uuid.UUID{}, nearby: map[string][]uuid.UUID{},
		timeline: map[uuid.UUID][]Entry{},
	}
}

func nearbyKey(category string, cell int64) string { return fmt.Sprintf("%s\x00%d", category, cell) }

func toRow(inc Incident) *row {
	c := inc.Clone()
	return &row{ID: c.ID[:], Grid: string(c.Location.Grid()), Inc: &c}
}

// Apply implements Store.
func (s *MemoryStore) Apply(ctx context.Context, c Change) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	txn := s.db.Txn(true)
	before, err := s.check(txn, c)
	if err != nil {
		txn.Abort()
		return err
	}
	s.write(txn, c)
	txn.Commit()
	s.publish(c, before)
	return nil
}

// check validates c against the committed state without writing. It
// returns the stored versions of the incidents c updates.
func (s *MemoryStore) check(txn *memdb.Txn, c Change) (map[uuid.UUID]*Incident, error) {
	before := map[uuid.UUID]*Incident{}
	claimed := map[string]uuid.UUID{}
	checkKeys := func(inc *Incident) error {
		for _, k := range inc.Keys {
			holder, held := s.keys[k]
			if !held {
				holder, held = claimed[k]
			}
			if held && holder != inc.ID {
				return &DuplicateKeyError{Key: k, Existing: holder}
			}
			claimed[k] = inc.ID
		}
		return nil
	}
	// Versions as this change leaves them, so that a change may create a
	// case and update it, or update it twice.
	version := map[uuid.UUID]int64{}
	for i := range c.Create {
		inc := &c.Create[i]
		if existing, _ := txn.First("incident", "id", inc.ID); existing != nil {
			return nil, fmt.Errorf("%w: %s", ErrDuplicateID, inc.ID)
		}
		if _, dup := version[inc.ID]; dup {
			return nil, fmt.Errorf("%w: %s", ErrDuplicateID, inc.ID)
		}
		version[inc.ID] = inc.Version
		if err := checkKeys(inc); err != nil {
			return nil, err
		}
	}
	for i := range c.Update {
		inc := &c.Update[i]
		have, ok := version[inc.ID]
		if !ok {
			existing, _ := txn.First("incident", "id", inc.ID)
			if existing == nil {
				return nil, fmt.Errorf("%w: %s", ErrNotFound, inc.ID)
			}
			have = existing.(*row).Inc.Version
			before[inc.ID] = existing.(*row).Inc
		}
		if have != inc.Version-1 {
			return nil, fmt.Errorf("%w: %s is at version %d, the change expects %d", ErrConflict, inc.ID, have, inc.Version-1)
		}
		version[inc.ID] = inc.Version
		if err := checkKeys(inc); err != nil {
			return nil, err
		}
	}
	seen := map[uuid.UUID]map[int]bool{}
	for _, e := range c.Timeline {
		if _, ok := version[e.Incident]; !ok {
			if existing, _ := txn.First("incident", "id", e.Incident); existing == nil {
				return nil, fmt.Errorf("%w: timeline entry for unknown incident %s", ErrNotFound, e.Incident)
			}
		}
		if seen[e.Incident] == nil {
			seen[e.Incident] = map[int]bool{}
		}
		if seen[e.Incident][e.Seq] || s.hasEntry(e.Incident, e.Seq) {
			return nil, fmt.Errorf("%w: timeline entry %d of %s already written", ErrConflict, e.Seq, e.Incident)
		}
		seen[e.Incident][e.Seq] = true
	}
	events := map[string]bool{}
	for _, m := range c.Events {
		if s.outbox.Has(m.ID) || events[m.ID] {
			return nil, fmt.Errorf("%w: event %s already in the outbox", ErrConflict, m.ID)
		}
		events[m.ID] = true
	}
	return before, nil
}

func (s *MemoryStore) hasEntry(id uuid.UUID, seq int) bool {
	for _, e := range s.timeline[id] {
		if e.Seq == seq {
			return true
		}
	}
	return false
}

// write puts a checked change into the transaction.
func (s *MemoryStore) write(txn *memdb.Txn, c Change) {
	for _, list := range [][]Incident{c.Create, c.Update} {
		for i := range list {
			if err := txn.Insert("incident", toRow(list[i])); err != nil {
				panic(fmt.Sprintf("incident: memdb insert: %v", err)) // only a schema bug can cause this
			}
		}
	}
}

// publish makes a committed change's side data visible; s.mu is held.
// before holds the previous versions of updated incidents.
func (s *MemoryStore) publish(c Change, before map[uuid.UUID]*Incident) {
	for _, list := range [][]Incident{c.Create, c.Update} {
		for _, inc := range list {
			for _, k := range inc.Keys {
				s.keys[k] = inc.ID
			}
		}
	}
	for _, inc := range c.Create {
		nk := nearbyKey(inc.Category, Cell(inc.Location.Point))
		s.nearby[nk] = append(s.nearby[nk], inc.ID)
	}
	for _, inc := range c.Update {
		old, ok := before[inc.ID]
		if !ok {
			continue // created by this change, indexed above
		}
		from, to := nearbyKey(old.Category, Cell(old.Location.Point)), nearbyKey(inc.Category, Cell(inc.Location.Point))
		if from != to {
			s.nearby[from] = slices.DeleteFunc(s.nearby[from], func(id uuid.UUID) bool { return id == inc.ID })
			s.nearby[to] = append(s.nearby[to], inc.ID)
		}
	}
	for _, e := range c.Timeline {
		tl := append(s.timeline[e.Incident], e.clone())
		slices.SortFunc(tl, func(a, b Entry) int { return a.Seq - b.Seq })
		s.timeline[e.Incident] = tl
	}
	s.outbox.Add(c.Events...)
}

// Get implements Store.
func (s *MemoryStore) Get(ctx context.Context, id uuid.UUID) (Incident, error) {
	r, _ := s.db.Txn(false).First("incident", "id", id)
	if r == nil {
		return Incident{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return r.(*row).Inc.Clone(), nil
}

// ByKey implements Store.
func (s *MemoryStore) ByKey(ctx context.Context, key string) (Incident, error) {
	s.mu.RLock()
	id, ok := s.keys[key]
	s.mu.RUnlock()
	if !ok || key == "" {
		return Incident{}, fmt.Errorf("%w: key %q", ErrNotFound, key)
	}
	return s.Get(ctx, id)
}

// Timeline implements Store.
func (s *MemoryStore) Timeline(ctx context.Context, id uuid.UUID) ([]Entry, error) {
	if r, _ := s.db.Txn(false).First("incident", "id", id); r == nil {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Entry, len(s.timeline[id]))
	for i, e := range s.timeline[id] {
		out[i] = e.clone()
	}
	return out, nil
}

// Find implements Store. A query with Within reads the grid index's
// subtree; any other reads in ID order from After. Query.Matches filters
// the rest.
func (s *MemoryStore) Find(ctx context.Context, q Query) (Page, error) {
	if err := q.Validate(); err != nil {
		return Page{}, err
	}
	txn := s.db.Txn(false)
	limit := q.limit()
	var (
		it  memdb.ResultIterator
		err error
	)
	ordered := q.Within == ""
	if ordered {
		it, err = txn.LowerBound("incident", "id", q.After)
	} else {
		it, err = txn.Get("incident", "grid_prefix", q.Within.Prefix())
	}
	if err != nil {
		return Page{}, err
	}
	var hits []*Incident
	for obj := it.Next(); obj != nil; obj = it.Next() {
		r := obj.(*row)
		if bytes.Compare(r.ID, q.After[:]) <= 0 || !q.Matches(r.Inc) {
			continue
		}
		hits = append(hits, r.Inc)
		if ordered && len(hits) > limit {
			break
		}
		if err := ctx.Err(); err != nil {
			return Page{}, err
		}
	}
	if !ordered {
		slices.SortFunc(hits, func(a, b *Incident) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	}
	var p Page
	if len(hits) > limit {
		hits = hits[:limit]
		p.Next = hits[limit-1].ID
	}
	p.Incidents = make([]Incident, len(hits))
	for i, inc := range hits {
		p.Incidents[i] = inc.Clone()
	}
	return p, nil
}

// Nearby implements Store.
func (s *MemoryStore) Nearby(ctx context.Context, category string, center geo.Point, meters float64, since time.Time) ([]Incident, error) {
	var ids []uuid.UUID
	s.mu.RLock()
	for _, cell := range Cells(center, meters) {
		ids = append(ids, s.nearby[nearbyKey(category, cell)]...)
	}
	s.mu.RUnlock()
	txn := s.db.Txn(false)
	var out []Incident
	for _, id := range ids {
		obj, _ := txn.First("incident", "id", id)
		if obj == nil {
			continue
		}
		inc := obj.(*row).Inc
		if inc.Status.Open() && !inc.Times.Reported.Before(since) && geo.Distance(center, inc.Location.Point) <= meters {
			out = append(out, inc.Clone())
		}
	}
	slices.SortFunc(out, func(a, b Incident) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	return out, nil
}

// Pending implements Store.
func (s *MemoryStore) Pending(ctx context.Context, limit int) ([]bus.Message, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.outbox.Pending(limit), nil
}

// MarkPublished implements Store. Published events are forgotten: the
// in-memory outbox only holds what is still to be sent.
func (s *MemoryStore) MarkPublished(ctx context.Context, ids ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outbox.MarkPublished(ids...)
	return nil
}
