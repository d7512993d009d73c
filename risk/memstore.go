package risk

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/google/uuid"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/internal/memoutbox"
	"github.com/govkit/govkit/region"
	"github.com/hashicorp/go-memdb"
)

// MemoryStore is the in-memory Store: the embedded default and the fake
// that tests run against.
//
// Points live in go-memdb, indexed by ID, grid (for subtree queries),
// linked sensor and enterprise, and are read from lock-free snapshots. The
// spatial indexes (geo.Index over point anchors and buildings), buildings,
// warnings, enterprises, inspections and the outbox sit beside it under
// one lock. Apply checks a whole change before it writes any of it, so a
// change is all or nothing to every reader.
type MemoryStore struct {
	db *memdb.MemDB

	mu          sync.RWMutex // held to write; guards everything below
	spatial     geo.Index[int32]
	slots       []hitSlot // by spatial key
	free        []int32
	slotOf      map[uuid.UUID]int32
	buildings   map[string]Building
	buildingIdx geo.Index[string]
	warnings    map[string]AreaWarning
	enterprises map[string]Enterprise
	inspections map[uuid.UUID]Inspection
	outbox      memoutbox.Outbox
}

// hitSlot is what a radius query returns for a point without reading
// memdb.
type hitSlot struct {
	hit  Hit
	used bool
}

type pointRow struct {
	ID         []byte
	Grid       string
	Sensors    []string
	Enterprise string
	P          *Point
}

type uuidIndex struct{}

func (uuidIndex) FromObject(o any) (bool, []byte, error) { return true, o.(*pointRow).ID, nil }

func (uuidIndex) FromArgs(args ...any) ([]byte, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("risk: id index takes one argument")
	}
	id, ok := args[0].(uuid.UUID)
	if !ok {
		return nil, fmt.Errorf("risk: id index takes a uuid.UUID, not %T", args[0])
	}
	return id[:], nil
}

var memorySchema = &memdb.DBSchema{Tables: map[string]*memdb.TableSchema{
	"point": {Name: "point", Indexes: map[string]*memdb.IndexSchema{
		"id":         {Name: "id", Unique: true, Indexer: uuidIndex{}},
		"grid":       {Name: "grid", AllowMissing: true, Indexer: &memdb.StringFieldIndex{Field: "Grid"}},
		"sensor":     {Name: "sensor", AllowMissing: true, Indexer: &memdb.StringSliceFieldIndex{Field: "Sensors"}},
		"enterprise": {Name: "enterprise", AllowMissing: true, Indexer: &memdb.StringFieldIndex{Field: "Enterprise"}},
	}},
}}

// NewMemoryStore returns an empty in-memory store.
func NewMemoryStore() *MemoryStore {
	db, err := memdb.NewMemDB(memorySchema)
	if err != nil {
		panic(fmt.Sprintf("risk: memdb schema: %v", err)) // a bug in the schema above
	}
	return &MemoryStore{
		db: db, slotOf: map[uuid.UUID]int32{}, buildings: map[string]Building{},
		warnings: map[string]AreaWarning{}, enterprises: map[string]Enterprise{}, inspections: map[uuid.UUID]Inspection{},
	}
}

func toPointRow(p Point) *pointRow {
	c := p.Clone()
	return &pointRow{ID: c.ID[:], Grid: string(c.Grid), Sensors: c.Sensors, Enterprise: c.Enterprise, P: &c}
}

func hitOf(p *Point) Hit {
	shape := ""
	if p.Geometry != nil {
		shape = p.Geometry.GeoJSONType()
	}
	return Hit{ID: p.ID, Name: p.Name, Class: p.Class, Anchor: p.Anchor, Grid: p.Grid, Colour: p.Level.Colour, Shape: shape}
}

// Apply implements Store.
func (s *MemoryStore) Apply(ctx context.Context, c Change) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	txn := s.db.Txn(true)
	if err := s.check(txn, c); err != nil {
		txn.Abort()
		return err
	}
	for _, p := range c.CreatePoints {
		if err := txn.Insert("point", toPointRow(p)); err != nil {
			txn.Abort()
			return fmt.Errorf("risk: memdb insert: %w", err)
		}
	}
	for _, p := range c.UpdatePoints {
		if err := txn.Insert("point", toPointRow(p)); err != nil {
			txn.Abort()
			return fmt.Errorf("risk: memdb insert: %w", err)
		}
	}
	txn.Commit()
	for _, group := range [][]Point{c.CreatePoints, c.UpdatePoints} {
		for i := range group {
			s.index(&group[i])
		}
	}
	for _, b := range c.PutBuildings {
		s.buildings[b.ID] = b
		_ = s.buildingIdx.Put(b.ID, b.Point) // validated in check
	}
	for _, w := range c.PutWarnings {
		s.warnings[w.ID] = w.clone()
	}
	for _, e := range c.PutEnterprises {
		s.enterprises[e.ID] = e.clone()
	}
	for _, in := range c.PutInspections {
		s.inspections[in.ID] = in.clone()
	}
	s.outbox.Add(c.Events...)
	return nil
}

// index places p's anchor in the spatial index; s.mu is held.
func (s *MemoryStore) index(p *Point) {
	slot, ok := s.slotOf[p.ID]
	if !ok {
		if n := len(s.free); n > 0 {
			slot, s.free = s.free[n-1], s.free[:n-1]
		} else {
			slot = int32(len(s.slots))
			s.slots = append(s.slots, hitSlot{})
		}
		s.slotOf[p.ID] = slot
	}
	s.slots[slot] = hitSlot{hit: hitOf(p), used: true}
	_ = s.spatial.Put(slot, p.Anchor) // validated by the service; a bad anchor stays unindexed
}

// check validates c against the committed state without writing.
func (s *MemoryStore) check(txn *memdb.Txn, c Change) error {
	version := map[uuid.UUID]int64{}
	for i := range c.CreatePoints {
		p := &c.CreatePoints[i]
		if p.ID == uuid.Nil {
			return fmt.Errorf("%w: a point needs an ID", ErrInvalidInput)
		}
		if existing, _ := txn.First("point", "id", p.ID); existing != nil {
			return fmt.Errorf("%w: point %s", ErrDuplicateID, p.ID)
		}
		if _, dup := version[p.ID]; dup {
			return fmt.Errorf("%w: point %s", ErrDuplicateID, p.ID)
		}
		if err := p.Anchor.Validate(); err != nil {
			return &InputError{Field: "anchor", Err: err}
		}
		version[p.ID] = p.Version
	}
	for i := range c.UpdatePoints {
		p := &c.UpdatePoints[i]
		have, ok := version[p.ID]
		if !ok {
			existing, _ := txn.First("point", "id", p.ID)
			if existing == nil {
				return fmt.Errorf("%w: point %s", ErrNotFound, p.ID)
			}
			have = existing.(*pointRow).P.Version
		}
		if have != p.Version-1 {
			return fmt.Errorf("%w: point %s is at version %d, the change expects %d", ErrConflict, p.ID, have, p.Version-1)
		}
		if err := p.Anchor.Validate(); err != nil {
			return &InputError{Field: "anchor", Err: err}
		}
		version[p.ID] = p.Version
	}
	for _, b := range c.PutBuildings {
		if b.ID == "" {
			return fmt.Errorf("%w: a building needs an ID", ErrInvalidInput)
		}
		if err := b.Point.Validate(); err != nil {
			return &InputError{Field: "building.point", Err: err}
		}
	}
	// Warnings, enterprises and inspections carry versions too: a put at
	// Version v needs the stored one at v-1 (absent for v = 1).
	versioned := func(kind, id string, v int64, stored int64, exists bool) error {
		if id == "" || id == uuid.Nil.String() {
			return fmt.Errorf("%w: a %s needs an ID", ErrInvalidInput, kind)
		}
		if !exists {
			stored = 0
		}
		if stored != v-1 {
			return fmt.Errorf("%w: %s %s is at version %d, the change expects %d", ErrConflict, kind, id, stored, v-1)
		}
		return nil
	}
	seenIDs := map[string]bool{}
	for _, w := range c.PutWarnings {
		prev, ok := s.warnings[w.ID]
		if err := versioned("warning", w.ID, w.Version, prev.Version, ok); err != nil {
			return err
		}
		if seenIDs["w"+w.ID] {
			return fmt.Errorf("%w: warning %s twice in one change", ErrConflict, w.ID)
		}
		seenIDs["w"+w.ID] = true
	}
	for _, e := range c.PutEnterprises {
		prev, ok := s.enterprises[e.ID]
		if err := versioned("enterprise", e.ID, e.Version, prev.Version, ok); err != nil {
			return err
		}
		if seenIDs["e"+e.ID] {
			return fmt.Errorf("%w: enterprise %s twice in one change", ErrConflict, e.ID)
		}
		seenIDs["e"+e.ID] = true
	}
	for _, in := range c.PutInspections {
		prev, ok := s.inspections[in.ID]
		if err := versioned("inspection", in.ID.String(), in.Version, prev.Version, ok); err != nil {
			return err
		}
		if seenIDs["i"+in.ID.String()] {
			return fmt.Errorf("%w: inspection %s twice in one change", ErrConflict, in.ID)
		}
		seenIDs["i"+in.ID.String()] = true
	}
	seen := map[string]bool{}
	for _, m := range c.Events {
		if m.ID == "" || s.outbox.Has(m.ID) || seen[m.ID] {
			return fmt.Errorf("%w: event %q already in the outbox", ErrConflict, m.ID)
		}
		seen[m.ID] = true
	}
	return nil
}

// Point implements Store.
func (s *MemoryStore) Point(ctx context.Context, id uuid.UUID) (Point, error) {
	if err := ctx.Err(); err != nil {
		return Point{}, err
	}
	raw, err := s.db.Txn(false).First("point", "id", id)
	if err != nil {
		return Point{}, err
	}
	if raw == nil {
		return Point{}, fmt.Errorf("%w: point %s", ErrNotFound, id)
	}
	return raw.(*pointRow).P.Clone(), nil
}

// Points implements Store.
func (s *MemoryStore) Points(ctx context.Context, q Query) (Page, error) {
	if err := ctx.Err(); err != nil {
		return Page{}, err
	}
	if err := q.Validate(); err != nil {
		return Page{}, err
	}
	txn := s.db.Txn(false)
	limit := q.EffectiveLimit()
	var page Page
	var candidates []*Point
	switch {
	case q.Within != "":
		it, err := txn.Get("point", "grid_prefix", region.Code(q.Within).Prefix())
		if err != nil {
			return Page{}, err
		}
		for raw := it.Next(); raw != nil; raw = it.Next() {
			candidates = append(candidates, raw.(*pointRow).P)
		}
		slices.SortFunc(candidates, func(a, b *Point) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	case q.Enterprise != "":
		it, err := txn.Get("point", "enterprise", q.Enterprise)
		if err != nil {
			return Page{}, err
		}
		for raw := it.Next(); raw != nil; raw = it.Next() {
			candidates = append(candidates, raw.(*pointRow).P)
		}
		slices.SortFunc(candidates, func(a, b *Point) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	default:
		var it memdb.ResultIterator
		var err error
		if q.After != uuid.Nil {
			it, err = txn.LowerBound("point", "id", q.After)
		} else {
			it, err = txn.Get("point", "id")
		}
		if err != nil {
			return Page{}, err
		}
		for raw := it.Next(); raw != nil; raw = it.Next() {
			p := raw.(*pointRow).P
			if p.ID == q.After || !q.Matches(p) {
				continue
			}
			if len(page.Points) == limit {
				page.Next = page.Points[limit-1].ID
				break
			}
			page.Points = append(page.Points, p.Clone())
		}
		return page, nil
	}
	for _, p := range candidates {
		if q.After != uuid.Nil && bytes.Compare(p.ID[:], q.After[:]) <= 0 || !q.Matches(p) {
			continue
		}
		if len(page.Points) == limit {
			page.Next = page.Points[limit-1].ID
			break
		}
		page.Points = append(page.Points, p.Clone())
	}
	return page, nil
}

// PointsNear implements Store.
func (s *MemoryStore) PointsNear(ctx context.Context, center geo.Point, meters float64) ([]Hit, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkRadius(center, meters); err != nil {
		return nil, err
	}
	// Collect keys into a pooled scratch buffer, then copy the hits out in
	// one allocation of the exact size: a query allocates once.
	sc := scratchPool.Get().(*scratch)
	sc.keys = sc.keys[:0]
	s.mu.RLock()
	s.spatial.WithinFunc(center, meters, func(h geo.Hit[int32]) bool {
		sc.keys = append(sc.keys, keyDist{h.Key, h.Distance})
		return true
	})
	var hits []Hit
	if len(sc.keys) > 0 {
		hits = make([]Hit, len(sc.keys))
		for i, k := range sc.keys {
			hits[i] = s.slots[k.key].hit
			hits[i].Distance = k.d
		}
	}
	s.mu.RUnlock()
	scratchPool.Put(sc)
	sortHits(hits)
	return hits, nil
}

type keyDist struct {
	key int32
	d   float64
}

type scratch struct{ keys []keyDist }

var scratchPool = sync.Pool{New: func() any { return &scratch{keys: make([]keyDist, 0, 256)} }}

func sortHits(hits []Hit) {
	slices.SortFunc(hits, func(a, b Hit) int {
		if c := cmp.Compare(a.Distance, b.Distance); c != 0 {
			return c
		}
		return bytes.Compare(a.ID[:], b.ID[:])
	})
}

func checkRadius(center geo.Point, meters float64) error {
	if err := center.Validate(); err != nil {
		return fmt.Errorf("%w: centre: %w", ErrInvalidQuery, err)
	}
	if !(meters >= 0) || meters > 2_000_000 {
		return fmt.Errorf("%w: radius %v m outside 0–2,000 km", ErrInvalidQuery, meters)
	}
	return nil
}

// PointsBySensor implements Store.
func (s *MemoryStore) PointsBySensor(ctx context.Context, sensor string) ([]Point, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	it, err := s.db.Txn(false).Get("point", "sensor", sensor)
	if err != nil {
		return nil, err
	}
	var out []Point
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, raw.(*pointRow).P.Clone())
	}
	slices.SortFunc(out, func(a, b Point) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	return out, nil
}

// Building implements Store.
func (s *MemoryStore) Building(ctx context.Context, id string) (Building, error) {
	if err := ctx.Err(); err != nil {
		return Building{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	b, ok := s.buildings[id]
	if !ok {
		return Building{}, fmt.Errorf("%w: building %q", ErrNotFound, id)
	}
	return b, nil
}

// BuildingsNear implements Store.
func (s *MemoryStore) BuildingsNear(ctx context.Context, center geo.Point, meters float64) ([]BuildingHit, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkRadius(center, meters); err != nil {
		return nil, err
	}
	s.mu.RLock()
	var out []BuildingHit
	s.buildingIdx.WithinFunc(center, meters, func(h geo.Hit[string]) bool {
		out = append(out, BuildingHit{Building: s.buildings[h.Key], Distance: h.Distance})
		return true
	})
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b BuildingHit) int {
		if c := cmp.Compare(a.Distance, b.Distance); c != 0 {
			return c
		}
		return cmp.Compare(a.Building.ID, b.Building.ID)
	})
	return out, nil
}

// Warning implements Store.
func (s *MemoryStore) Warning(ctx context.Context, id string) (AreaWarning, error) {
	if err := ctx.Err(); err != nil {
		return AreaWarning{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	w, ok := s.warnings[id]
	if !ok {
		return AreaWarning{}, fmt.Errorf("%w: warning %q", ErrNotFound, id)
	}
	return w.clone(), nil
}

// Enterprise implements Store.
func (s *MemoryStore) Enterprise(ctx context.Context, id string) (Enterprise, error) {
	if err := ctx.Err(); err != nil {
		return Enterprise{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, ok := s.enterprises[id]
	if !ok {
		return Enterprise{}, fmt.Errorf("%w: enterprise %q", ErrNotFound, id)
	}
	return e.clone(), nil
}

// Enterprises implements Store.
func (s *MemoryStore) Enterprises(ctx context.Context, within region.Code) ([]Enterprise, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if _, err := region.ParseCode(string(within)); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidQuery, err)
	}
	s.mu.RLock()
	var out []Enterprise
	for _, e := range s.enterprises {
		if e.Region.Within(within) {
			out = append(out, e.clone())
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b Enterprise) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// Inspection implements Store.
func (s *MemoryStore) Inspection(ctx context.Context, id uuid.UUID) (Inspection, error) {
	if err := ctx.Err(); err != nil {
		return Inspection{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	in, ok := s.inspections[id]
	if !ok {
		return Inspection{}, fmt.Errorf("%w: inspection %s", ErrNotFound, id)
	}
	return in.clone(), nil
}

// Inspections implements Store.
func (s *MemoryStore) Inspections(ctx context.Context, q InspectionQuery) ([]Inspection, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	var out []Inspection
	for _, in := range s.inspections {
		if q.Matches(&in) {
			out = append(out, in.clone())
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b Inspection) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	return out, nil
}

// Pending implements Store.
func (s *MemoryStore) Pending(ctx context.Context, limit int) ([]bus.Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.outbox.Pending(limit), nil
}

// MarkPublished implements Store.
func (s *MemoryStore) MarkPublished(ctx context.Context, ids ...string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outbox.MarkPublished(ids...)
	return nil
}

var _ Store = (*MemoryStore)(nil)
