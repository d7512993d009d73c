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
	"github.com/govkit/govkit/internal/groupcommit"
	"github.com/govkit/govkit/internal/idlist"
	"github.com/govkit/govkit/internal/memoutbox"
	"github.com/govkit/govkit/region"
	"github.com/hashicorp/go-memdb"
)

// MemoryStore is the in-memory Store: the embedded default and the fake
// that tests run against.
//
// Incidents live in go-memdb, indexed by ID, and are read from lock-free
// snapshots. Idempotency keys, the unit index for subtree queries, the
// place index for duplicate search, timelines and the outbox sit beside it
// in maps and lists: every memdb index costs microseconds per write (a
// grid index with its scattered keys cost three times the ID index), and
// these need no snapshots.
//
// Apply checks a whole change before it writes any of it, commits the
// memdb transaction, and only then appends to the side lists, under a lock
// their readers share, so a change is all or nothing to every reader.
// Changes that arrive while a transaction is being written share the next
// one (a group commit): each still succeeds or fails on its own. Readers
// wait only while the side lists take a batch, never while memdb writes
// it. MemoryStore is safe for concurrent use.
type MemoryStore struct {
	db     *memdb.MemDB
	writer sync.Mutex // one batch at a time
	writes *groupcommit.Group[staged]

	mu       sync.RWMutex // held to change what is below; read-held to read it
	keys     map[string]uuid.UUID
	units    map[string][]uuid.UUID   // unit code prefix → incidents in its subtree, in ID order
	nearby   map[placeKey][]nearEntry // open incidents by category and cell, in report order
	timeline map[uuid.UUID][]Entry
	outbox   memoutbox.Outbox
}

// row is what memdb indexes.
type row struct {
	ID  []byte // the UUID's 16 bytes: UUIDv7 sorts in report order
	Inc *Incident
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
		"id": {Name: "id", Unique: true, Indexer: idIndex{}},
	}},
}}

// NewMemoryStore returns an empty in-memory store.
func NewMemoryStore() *MemoryStore {
	db, err := memdb.NewMemDB(memorySchema)
	if err != nil {
		panic(fmt.Sprintf("incident: memdb schema: %v", err)) // a bug in the schema above
	}
	s := &MemoryStore{
		db: db, keys: map[string]uuid.UUID{}, units: map[string][]uuid.UUID{},
		nearby: map[placeKey][]nearEntry{}, timeline: map[uuid.UUID][]Entry{},
	}
	s.writes = groupcommit.New(&s.writer, s.applyBatch)
	return s
}

// placeKey files an incident for duplicate search: its category and cell.
type placeKey struct {
	category string
	cell     int64
}

// nearEntry is an open incident in the place index, with what Nearby
// filters on, so that only real candidates are read from memdb.
type nearEntry struct {
	at    time.Time // reported
	point geo.Point
	id    uuid.UUID
}

func compareNear(a, b nearEntry) int {
	if c := a.at.Compare(b.at); c != 0 {
		return c
	}
	return idlist.Compare(a.id, b.id)
}

// nearbyOf returns where inc sits in the place index; ok is false for a
// case that is no longer open, which duplicate search never returns.
func nearbyOf(inc *Incident) (placeKey, nearEntry, bool) {
	p := inc.Location.Point
	return placeKey{inc.Category, Cell(p)}, nearEntry{at: inc.Times.Reported, point: p, id: inc.ID}, inc.Status.Open()
}

// unitKeys returns the keys under which the units index files an incident
// in grid: its district's and its street's codes. A query for a district
// or a street is one lookup; one for a community or a grid reads its
// street's list and filters. Provinces and cities are left out: their
// lists would hold nearly every incident, which the ID index already does.
func unitKeys(grid region.Code) []string {
	switch {
	case len(grid) >= 9:
		return []string{string(grid[:6]), string(grid[:9])}
	case len(grid) >= 6:
		return []string{string(grid[:6])}
	}
	return nil
}

// unitKey returns the units index key a subtree query for within reads, or
// "" when the ID index serves it better.
func unitKey(within region.Code) string {
	switch p := within.Prefix(); {
	case len(p) >= 9:
		return p[:9]
	case len(p) == 6:
		return p
	}
	return ""
}

func toRow(inc Incident) *row {
	c := inc.Clone()
	return &row{ID: c.ID[:], Inc: &c}
}

// Apply implements Store.
func (s *MemoryStore) Apply(ctx context.Context, c Change) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	st := staged{Change: c}
	for _, list := range [][]Incident{c.Create, c.Update} {
		for _, inc := range list {
			st.rows = append(st.rows, toRow(inc)) // copied before the lock, not under it
		}
	}
	return s.writes.Do(st)
}

// staged is a change and the rows it will write.
type staged struct {
	Change
	rows []*row
}

// applyBatch writes the changes that passed their checks in one memdb
// transaction, then publishes their side data in order; s.writer is held,
// so the side data changes only here and in MarkPublished.
func (s *MemoryStore) applyBatch(changes []staged) []error {
	errs := make([]error, len(changes))
	befores := make([]map[uuid.UUID]*Incident, len(changes))
	txn := s.db.Txn(true)
	var earlier written
	for i, c := range changes {
		s.mu.RLock()
		befores[i], errs[i] = s.check(txn, c.Change, &earlier)
		s.mu.RUnlock()
		if errs[i] == nil {
			s.write(txn, c.rows)
			if i < len(changes)-1 {
				earlier.add(c.Change)
			}
		}
	}
	txn.Commit()
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, c := range changes {
		if errs[i] == nil {
			s.publish(c.Change, befores[i])
		}
	}
	return errs
}

// written is what the earlier changes of a batch claim: the memdb
// transaction shows their incidents, this their side data.
type written struct {
	keys    map[string]uuid.UUID
	entries map[uuid.UUID]map[int]bool
	events  map[string]bool
}

func (w *written) add(c Change) {
	if w.keys == nil {
		w.keys, w.entries, w.events = map[string]uuid.UUID{}, map[uuid.UUID]map[int]bool{}, map[string]bool{}
	}
	for _, list := range [][]Incident{c.Create, c.Update} {
		for _, inc := range list {
			for _, k := range inc.Keys {
				w.keys[k] = inc.ID
			}
		}
	}
	for _, e := range c.Timeline {
		if w.entries[e.Incident] == nil {
			w.entries[e.Incident] = map[int]bool{}
		}
		w.entries[e.Incident][e.Seq] = true
	}
	for _, m := range c.Events {
		w.events[m.ID] = true
	}
}

// check validates c against the committed state and the earlier changes
// of its batch without writing. It returns the stored versions of the
// incidents c updates.
func (s *MemoryStore) check(txn *memdb.Txn, c Change, earlier *written) (map[uuid.UUID]*Incident, error) {
	before := map[uuid.UUID]*Incident{}
	claimed := map[string]uuid.UUID{}
	checkKeys := func(inc *Incident) error {
		for _, k := range inc.Keys {
			holder, held := s.keys[k]
			if !held {
				holder, held = earlier.keys[k]
			}
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
		if seen[e.Incident][e.Seq] || earlier.entries[e.Incident][e.Seq] || s.hasEntry(e.Incident, e.Seq) {
			return nil, fmt.Errorf("%w: timeline entry %d of %s already written", ErrConflict, e.Seq, e.Incident)
		}
		seen[e.Incident][e.Seq] = true
	}
	events := map[string]bool{}
	for _, m := range c.Events {
		if s.outbox.Has(m.ID) || events[m.ID] || earlier.events[m.ID] {
			return nil, fmt.Errorf("%w: event %s already in the outbox", ErrConflict, m.ID)
		}
		events[m.ID] = true
	}
	return before, nil
}

// hasEntry reports whether id's timeline, kept in Seq order, has entry
// seq; s.mu is held.
func (s *MemoryStore) hasEntry(id uuid.UUID, seq int) bool {
	_, found := slices.BinarySearchFunc(s.timeline[id], seq, func(e Entry, seq int) int { return e.Seq - seq })
	return found
}

// write puts a checked change into the transaction.
func (s *MemoryStore) write(txn *memdb.Txn, rows []*row) {
	for _, r := range rows {
		if err := txn.Insert("incident", r); err != nil {
			panic(fmt.Sprintf("incident: memdb insert: %v", err)) // only a schema bug can cause this
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
	// Index each incident as the change leaves it, against how it was.
	final := map[uuid.UUID]*Incident{}
	var order []uuid.UUID
	for _, list := range [][]Incident{c.Create, c.Update} {
		for i := range list {
			if _, seen := final[list[i].ID]; !seen {
				order = append(order, list[i].ID)
			}
			final[list[i].ID] = &list[i]
		}
	}
	for _, id := range order {
		s.reindex(before[id], final[id])
	}
	for _, e := range c.Timeline {
		tl := s.timeline[e.Incident]
		i := len(tl) // entries arrive in order, so this is nearly always the place
		if i > 0 && tl[i-1].Seq > e.Seq {
			i, _ = slices.BinarySearchFunc(tl, e.Seq, func(e Entry, seq int) int { return e.Seq - seq })
		}
		s.timeline[e.Incident] = slices.Insert(tl, i, e.clone())
	}
	s.outbox.Add(c.Events...)
}

// reindex moves cur in the units and place indexes from where old (nil for
// a new incident) had it; s.mu is held.
func (s *MemoryStore) reindex(old, cur *Incident) {
	var oldGrid region.Code
	if old != nil {
		oldGrid = old.Location.Grid()
	}
	if newGrid := cur.Location.Grid(); old == nil || oldGrid != newGrid {
		for _, k := range unitKeys(oldGrid) {
			s.units[k] = idlist.Remove(s.units[k], cur.ID)
		}
		for _, k := range unitKeys(newGrid) {
			s.units[k] = idlist.Insert(s.units[k], cur.ID)
		}
	}
	to, toEntry, indexed := nearbyOf(cur)
	if old != nil {
		from, fromEntry, was := nearbyOf(old)
		if was && indexed && from == to && fromEntry == toEntry {
			return
		}
		if was {
			s.unplace(from, fromEntry)
		}
	}
	if indexed {
		list := s.nearby[to]
		i, found := slices.BinarySearchFunc(list, toEntry, compareNear)
		if !found {
			s.nearby[to] = slices.Insert(list, i, toEntry)
		}
	}
}

// unplace takes e out of the place index.
func (s *MemoryStore) unplace(k placeKey, e nearEntry) {
	list := s.nearby[k]
	if i, found := slices.BinarySearchFunc(list, e, compareNear); found {
		list = slices.Delete(list, i, i+1)
	}
	if len(list) == 0 {
		delete(s.nearby, k)
	} else {
		s.nearby[k] = list
	}
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

// LastEntry implements LastEntryReader.
func (s *MemoryStore) LastEntry(ctx context.Context, id uuid.UUID) (Entry, bool, error) {
	if r, _ := s.db.Txn(false).First("incident", "id", id); r == nil {
		return Entry{}, false, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	tl := s.timeline[id]
	if len(tl) == 0 {
		return Entry{}, false, nil
	}
	return tl[len(tl)-1].clone(), true, nil
}

// Find implements Store. A query with Within walks the units index from
// After, any other the ID index; both are in ID order, and Query.Matches
// filters what they hold.
func (s *MemoryStore) Find(ctx context.Context, q Query) (Page, error) {
	if err := q.Validate(); err != nil {
		return Page{}, err
	}
	limit := q.limit()
	var hits []*Incident
	var err error
	if unitKey(q.Within) == "" {
		hits, err = s.findByID(ctx, q, limit+1)
	} else {
		hits, err = s.findInUnit(ctx, q, limit+1)
	}
	if err != nil {
		return Page{}, err
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

// findByID returns up to n incidents matching q after q.After.
func (s *MemoryStore) findByID(ctx context.Context, q Query, n int) ([]*Incident, error) {
	it, err := s.db.Txn(false).LowerBound("incident", "id", q.After)
	if err != nil {
		return nil, err
	}
	var hits []*Incident
	for obj := it.Next(); obj != nil && len(hits) < n; obj = it.Next() {
		r := obj.(*row)
		if bytes.Compare(r.ID, q.After[:]) <= 0 || !q.Matches(r.Inc) {
			continue
		}
		hits = append(hits, r.Inc)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	return hits, nil
}

// findInUnit returns up to n incidents matching q after q.After, read
// through the units index.
func (s *MemoryStore) findInUnit(ctx context.Context, q Query, n int) ([]*Incident, error) {
	key := unitKey(q.Within)
	var hits []*Incident
	idlist.Walk(s.mu.RLocker(), func() []uuid.UUID { return s.units[key] }, q.After, func(chunk []uuid.UUID) bool {
		// A snapshot taken after the IDs were read holds every one of them.
		txn := s.db.Txn(false)
		for _, id := range chunk {
			obj, _ := txn.First("incident", "id", id)
			if obj != nil && q.Matches(obj.(*row).Inc) {
				if hits = append(hits, obj.(*row).Inc); len(hits) == n {
					return false
				}
			}
		}
		return ctx.Err() == nil
	})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return hits, nil
}

// Nearby implements Store. The place index holds open incidents by
// category and cell in report order, with their points and report times,
// so candidates are ranked there and only the best are read, and checked
// again, from memdb.
func (s *MemoryStore) Nearby(ctx context.Context, q NearbyQuery) ([]Incident, error) {
	rank := NewRanking(q)
	s.mu.RLock()
	for _, cell := range Cells(q.Center, q.Meters) {
		list := s.nearby[placeKey{q.Category, cell}]
		i, _ := slices.BinarySearchFunc(list, q.Since, func(e nearEntry, t time.Time) int { return e.at.Compare(t) })
		for _, e := range list[i:] {
			rank.Offer(e.id, e.point, e.at)
		}
	}
	s.mu.RUnlock()
	// Only the best are read and copied: a crowded place (a flooded
	// underpass, reported by hundreds) costs no more than its first few.
	txn := s.db.Txn(false)
	var out []Incident
	for _, id := range rank.IDs() {
		obj, _ := txn.First("incident", "id", id)
		if obj == nil {
			continue
		}
		inc := obj.(*row).Inc
		if inc.Category == q.Category && inc.Status.Open() && !inc.Times.Reported.Before(q.Since) && geo.Distance(q.Center, inc.Location.Point) <= q.Meters {
			out = append(out, inc.Clone())
		}
	}
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
