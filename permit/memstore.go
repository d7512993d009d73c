package permit

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/google/uuid"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/internal/memoutbox"
	"github.com/hashicorp/go-memdb"
	"github.com/tidwall/rtree"
)

// MemoryStore is the in-memory Store on go-memdb: applications indexed by
// ID, idempotency key, applicant and the departments holding them;
// excavations by ID, key and segment, and their sites' bounding boxes in
// an R-tree beside the database (ExcavationQuery.Near); joint excavations
// and moratoria by ID and segment. The outbox and the R-tree sit beside
// the database under the same lock, so a change, its sites and its events
// commit together.
type MemoryStore struct {
	db     *memdb.MemDB
	mu     sync.RWMutex // one writer at a time; guards the outbox and sites
	outbox memoutbox.Outbox
	// sites holds the excavation rows that have a site, by its bounding
	// box. A change edits a copy-on-write copy and swaps it in when it
	// commits, so a failed change leaves the tree as it was.
	sites *rtree.RTreeG[*excavationRow]
}

type row interface {
	rowID() []byte
	rowVersion() int64
}

type templateRow struct {
	Key string // id, NUL, zero-padded version
	ID  string
	T   *Template
}

type applicationRow struct {
	ID        []byte
	Key       string
	Applicant string
	Depts     []string
	A         *Application
}

type excavationRow struct {
	ID      []byte
	Key     string
	Segment string
	E       *Excavation
	box     geo.BBox // the site's, if boxed
	boxed   bool
}

func newExcavationRow(e *Excavation) *excavationRow {
	r := &excavationRow{ID: e.ID[:], Key: e.Key, Segment: e.Segment, E: e}
	r.box, r.boxed = siteBox(e.Site)
	return r
}

func boxCorners(b geo.BBox) (lo, hi [2]float64) {
	return [2]float64{b.MinLon, b.MinLat}, [2]float64{b.MaxLon, b.MaxLat}
}

type jointRow struct {
	ID []byte
	J  *JointExcavation
}

type moratoriumRow struct {
	ID      []byte
	Segment string
	M       *Moratorium
}

func (r *applicationRow) rowID() []byte     { return r.ID }
func (r *applicationRow) rowVersion() int64 { return r.A.Version }
func (r *excavationRow) rowID() []byte      { return r.ID }
func (r *excavationRow) rowVersion() int64  { return r.E.Version }
func (r *jointRow) rowID() []byte           { return r.ID }
func (r *jointRow) rowVersion() int64       { return r.J.Version }
func (r *moratoriumRow) rowID() []byte      { return r.ID }
func (r *moratoriumRow) rowVersion() int64  { return r.M.Version }

type uuidIndex struct{}

func (uuidIndex) FromObject(o any) (bool, []byte, error) { return true, o.(row).rowID(), nil }

func (uuidIndex) FromArgs(args ...any) ([]byte, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("permit: id index takes one argument")
	}
	id, ok := args[0].(uuid.UUID)
	if !ok {
		return nil, fmt.Errorf("permit: id index takes a uuid.UUID, not %T", args[0])
	}
	return id[:], nil
}

func idIndex() *memdb.IndexSchema {
	return &memdb.IndexSchema{Name: "id", Unique: true, Indexer: uuidIndex{}}
}

func strIndex(name, field string, unique bool) *memdb.IndexSchema {
	return &memdb.IndexSchema{Name: name, Unique: unique, AllowMissing: true, Indexer: &memdb.StringFieldIndex{Field: field}}
}

var permitSchema = &memdb.DBSchema{Tables: map[string]*memdb.TableSchema{
	"template": {Name: "template", Indexes: map[string]*memdb.IndexSchema{
		"id":  {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "Key"}},
		"tid": {Name: "tid", Indexer: &memdb.StringFieldIndex{Field: "ID"}},
	}},
	"application": {Name: "application", Indexes: map[string]*memdb.IndexSchema{
		"id": idIndex(), "key": strIndex("key", "Key", true), "applicant": strIndex("applicant", "Applicant", false),
		"dept": {Name: "dept", AllowMissing: true, Indexer: &memdb.StringSliceFieldIndex{Field: "Depts"}},
	}},
	"excavation": {Name: "excavation", Indexes: map[string]*memdb.IndexSchema{
		"id": idIndex(), "key": strIndex("key", "Key", true), "segment": strIndex("segment", "Segment", false),
	}},
	"joint": {Name: "joint", Indexes: map[string]*memdb.IndexSchema{"id": idIndex()}},
	"moratorium": {Name: "moratorium", Indexes: map[string]*memdb.IndexSchema{
		"id": idIndex(), "segment": strIndex("segment", "Segment", false),
	}},
}}

// NewMemoryStore returns an empty in-memory store.
func NewMemoryStore() *MemoryStore {
	db, err := memdb.NewMemDB(permitSchema)
	if err != nil {
		panic(fmt.Sprintf("permit: memdb schema: %v", err)) // a bug in the schema above
	}
	return &MemoryStore{db: db, sites: &rtree.RTreeG[*excavationRow]{}}
}

func templateKey(id string, version int) string { return fmt.Sprintf("%s\x00%010d", id, version) }

// checkVersion applies the Change rule: Version 1 creates, others update.
func checkVersion(what string, want, have int64, exists bool) error {
	switch {
	case want < 1:
		return fmt.Errorf("%w: %s has version %d", ErrInvalidCommand, what, want)
	case want == 1 && exists:
		return fmt.Errorf("%w: %s already exists", ErrConflict, what)
	case want != 1 && !exists:
		return fmt.Errorf("%w: %s", ErrNotFound, what)
	case want != 1 && have != want-1:
		return fmt.Errorf("%w: %s is at version %d, the change expects %d", ErrConflict, what, have, want-1)
	}
	return nil
}

// put checks the version of r against the stored row and inserts it. It
// returns the row r replaces, if any.
func put(txn *memdb.Txn, table, what string, id uuid.UUID, r row) (row, error) {
	cur, err := txn.First(table, "id", id)
	if err != nil {
		return nil, err
	}
	prev, _ := cur.(row)
	have, exists := int64(0), prev != nil
	if exists {
		have = prev.rowVersion()
	}
	if err := checkVersion(what+" "+id.String(), r.rowVersion(), have, exists); err != nil {
		return nil, err
	}
	return prev, txn.Insert(table, r)
}

// claimKey fails if key is held by a record other than id.
func claimKey(txn *memdb.Txn, table, key string, id uuid.UUID) error {
	if key == "" {
		return nil
	}
	cur, err := txn.First(table, "key", key)
	if err != nil || cur == nil {
		return err
	}
	if holder := cur.(row).rowID(); !bytes.Equal(holder, id[:]) {
		return &DuplicateKeyError{Key: key, Existing: uuid.UUID(holder)}
	}
	return nil
}

// Apply implements Store.
func (s *MemoryStore) Apply(ctx context.Context, c Change) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	txn := s.db.Txn(true)
	defer txn.Abort()
	for i := range c.Templates {
		t := c.Templates[i].Clone()
		if t.ID == "" || t.Version < 1 {
			return fmt.Errorf("%w: template %q version %d", ErrInvalidCommand, t.ID, t.Version)
		}
		k := templateKey(t.ID, t.Version)
		if cur, _ := txn.First("template", "id", k); cur != nil {
			return fmt.Errorf("%w: template %s version %d already exists", ErrConflict, t.ID, t.Version)
		}
		if err := txn.Insert("template", &templateRow{Key: k, ID: t.ID, T: &t}); err != nil {
			return err
		}
	}
	for i := range c.Applications {
		a := c.Applications[i].Clone()
		if err := claimKey(txn, "application", a.Key, a.ID); err != nil {
			return err
		}
		r := &applicationRow{ID: a.ID[:], Key: a.Key, Applicant: a.Applicant, Depts: a.reviewDepartments(), A: &a}
		if _, err := put(txn, "application", "application", a.ID, r); err != nil {
			return err
		}
	}
	var sites *rtree.RTreeG[*excavationRow]
	if len(c.Excavations) > 0 {
		sites = s.sites.Copy()
	}
	for i := range c.Excavations {
		e := c.Excavations[i].Clone()
		if err := claimKey(txn, "excavation", e.Key, e.ID); err != nil {
			return err
		}
		r := newExcavationRow(&e)
		old, err := put(txn, "excavation", "excavation", e.ID, r)
		if err != nil {
			return err
		}
		// The row replaced may be one this change wrote: it is in sites.
		if old, _ := old.(*excavationRow); old != nil && old.boxed {
			lo, hi := boxCorners(old.box)
			sites.Delete(lo, hi, old)
		}
		if r.boxed {
			lo, hi := boxCorners(r.box)
			sites.Insert(lo, hi, r)
		}
	}
	for i := range c.Joints {
		j := c.Joints[i].Clone()
		if _, err := put(txn, "joint", "joint excavation", j.ID, &jointRow{ID: j.ID[:], J: &j}); err != nil {
			return err
		}
	}
	for i := range c.Moratoria {
		m := c.Moratoria[i]
		if _, err := put(txn, "moratorium", "moratorium", m.ID, &moratoriumRow{ID: m.ID[:], Segment: m.Segment, M: &m}); err != nil {
			return err
		}
	}
	events := map[string]bool{}
	for _, m := range c.Events {
		if m.ID == "" || s.outbox.Has(m.ID) || events[m.ID] {
			return fmt.Errorf("%w: event %q already in the outbox", ErrConflict, m.ID)
		}
		events[m.ID] = true
	}
	txn.Commit()
	if sites != nil {
		s.sites = sites
	}
	s.outbox.Add(c.Events...)
	return nil
}

// Template implements Store.
func (s *MemoryStore) Template(ctx context.Context, id string, version int) (Template, error) {
	txn := s.db.Txn(false)
	if version > 0 {
		r, _ := txn.First("template", "id", templateKey(id, version))
		if r == nil {
			return Template{}, fmt.Errorf("%w: template %q version %d", ErrNotFound, id, version)
		}
		return r.(*templateRow).T.Clone(), nil
	}
	r, _ := txn.Last("template", "tid", id)
	if r == nil {
		return Template{}, fmt.Errorf("%w: template %q", ErrNotFound, id)
	}
	return r.(*templateRow).T.Clone(), nil
}

// Templates implements Store.
func (s *MemoryStore) Templates(ctx context.Context) ([]Template, error) {
	it, err := s.db.Txn(false).Get("template", "id_prefix", "")
	if err != nil {
		return nil, err
	}
	var out []Template
	for obj := it.Next(); obj != nil; obj = it.Next() {
		t := obj.(*templateRow).T
		if n := len(out); n > 0 && out[n-1].ID == t.ID {
			out[n-1] = t.Clone() // keys sort by ID, then version
			continue
		}
		out = append(out, t.Clone())
	}
	return out, nil
}

// Application implements Store.
func (s *MemoryStore) Application(ctx context.Context, id uuid.UUID) (Application, error) {
	r, _ := s.db.Txn(false).First("application", "id", id)
	if r == nil {
		return Application{}, fmt.Errorf("%w: application %s", ErrNotFound, id)
	}
	return r.(*applicationRow).A.Clone(), nil
}

// ApplicationByKey implements Store.
func (s *MemoryStore) ApplicationByKey(ctx context.Context, key string) (Application, error) {
	if key == "" {
		return Application{}, fmt.Errorf("%w: application with an empty key", ErrNotFound)
	}
	r, _ := s.db.Txn(false).First("application", "key", key)
	if r == nil {
		return Application{}, fmt.Errorf("%w: application with key %q", ErrNotFound, key)
	}
	return r.(*applicationRow).A.Clone(), nil
}

// Applications implements Store.
func (s *MemoryStore) Applications(ctx context.Context, q ApplicationQuery) (ApplicationPage, error) {
	if err := q.Validate(); err != nil {
		return ApplicationPage{}, err
	}
	index, arg := "id", any(nil)
	switch {
	case q.Department != "":
		index, arg = "dept", q.Department
	case q.Applicant != "":
		index, arg = "applicant", q.Applicant
	}
	out, next, err := page(s.db.Txn(false), "application", index, arg, q.After, q.Limit,
		func(r any) *Application { return r.(*applicationRow).A }, q.Matches, Application.Clone,
		func(a *Application) uuid.UUID { return a.ID })
	return ApplicationPage{Applications: out, Next: next}, err
}

// Excavation implements Store.
func (s *MemoryStore) Excavation(ctx context.Context, id uuid.UUID) (Excavation, error) {
	r, _ := s.db.Txn(false).First("excavation", "id", id)
	if r == nil {
		return Excavation{}, fmt.Errorf("%w: excavation %s", ErrNotFound, id)
	}
	return r.(*excavationRow).E.Clone(), nil
}

// ExcavationByKey implements Store.
func (s *MemoryStore) ExcavationByKey(ctx context.Context, key string) (Excavation, error) {
	if key == "" {
		return Excavation{}, fmt.Errorf("%w: excavation with an empty key", ErrNotFound)
	}
	r, _ := s.db.Txn(false).First("excavation", "key", key)
	if r == nil {
		return Excavation{}, fmt.Errorf("%w: excavation with key %q", ErrNotFound, key)
	}
	return r.(*excavationRow).E.Clone(), nil
}

// Excavations implements Store. A query with Near and no Segment reads
// the R-tree of sites; one with a segment, that segment's works.
func (s *MemoryStore) Excavations(ctx context.Context, q ExcavationQuery) (ExcavationPage, error) {
	if err := q.Validate(); err != nil {
		return ExcavationPage{}, err
	}
	if q.Near != (geo.BBox{}) && q.Segment == "" {
		var hits []*Excavation
		lo, hi := boxCorners(q.Near)
		s.mu.RLock()
		s.sites.Search(lo, hi, func(_, _ [2]float64, r *excavationRow) bool {
			if bytes.Compare(r.ID, q.After[:]) > 0 && q.Matches(r.E) {
				hits = append(hits, r.E)
			}
			return true
		})
		s.mu.RUnlock()
		out, next := pageOf(hits, false, q.Limit, Excavation.Clone, func(e *Excavation) uuid.UUID { return e.ID })
		return ExcavationPage{Excavations: out, Next: next}, nil
	}
	index, arg := "id", any(nil)
	if q.Segment != "" {
		index, arg = "segment", q.Segment
	}
	out, next, err := page(s.db.Txn(false), "excavation", index, arg, q.After, q.Limit,
		func(r any) *Excavation { return r.(*excavationRow).E }, q.Matches, Excavation.Clone,
		func(e *Excavation) uuid.UUID { return e.ID })
	return ExcavationPage{Excavations: out, Next: next}, err
}

// Joint implements Store.
func (s *MemoryStore) Joint(ctx context.Context, id uuid.UUID) (JointExcavation, error) {
	r, _ := s.db.Txn(false).First("joint", "id", id)
	if r == nil {
		return JointExcavation{}, fmt.Errorf("%w: joint excavation %s", ErrNotFound, id)
	}
	return r.(*jointRow).J.Clone(), nil
}

// Joints implements Store.
func (s *MemoryStore) Joints(ctx context.Context, q JointQuery) (JointPage, error) {
	if err := q.Validate(); err != nil {
		return JointPage{}, err
	}
	out, next, err := page(s.db.Txn(false), "joint", "id", nil, q.After, q.Limit,
		func(r any) *JointExcavation { return r.(*jointRow).J }, q.Matches, JointExcavation.Clone,
		func(j *JointExcavation) uuid.UUID { return j.ID })
	return JointPage{Joints: out, Next: next}, err
}

// Moratoria implements Store.
func (s *MemoryStore) Moratoria(ctx context.Context, q MoratoriumQuery) (MoratoriumPage, error) {
	if err := q.Validate(); err != nil {
		return MoratoriumPage{}, err
	}
	index, arg := "id", any(nil)
	if q.Segment != "" {
		index, arg = "segment", q.Segment
	}
	out, next, err := page(s.db.Txn(false), "moratorium", index, arg, q.After, q.Limit,
		func(r any) *Moratorium { return r.(*moratoriumRow).M }, q.Matches, func(m Moratorium) Moratorium { return m },
		func(m *Moratorium) uuid.UUID { return m.ID })
	return MoratoriumPage{Moratoria: out, Next: next}, err
}

// page reads one page of a table in ID order: through the ID index from
// after when arg is nil, otherwise through index = arg, sorting the hits.
func page[T any](txn *memdb.Txn, table, index string, arg any, after uuid.UUID, limit int,
	rec func(any) *T, match func(*T) bool, clone func(T) T, id func(*T) uuid.UUID) ([]T, uuid.UUID, error) {
	n := PageLimit(limit)
	var (
		it  memdb.ResultIterator
		err error
	)
	ordered := arg == nil
	if ordered {
		it, err = txn.LowerBound(table, "id", after)
	} else {
		it, err = txn.Get(table, index, arg)
	}
	if err != nil {
		return nil, uuid.Nil, err
	}
	var hits []*T
	for obj := it.Next(); obj != nil; obj = it.Next() {
		r := rec(obj)
		if rid := id(r); bytes.Compare(rid[:], after[:]) > 0 && match(r) {
			hits = append(hits, r)
			if ordered && len(hits) > n {
				break
			}
		}
	}
	out, next := pageOf(hits, ordered, limit, clone, id)
	return out, next, nil
}

// pageOf makes a page of the records after the page's bound that match
// its query, sorting them by ID unless they are in order already.
func pageOf[T any](hits []*T, ordered bool, limit int, clone func(T) T, id func(*T) uuid.UUID) ([]T, uuid.UUID) {
	n := PageLimit(limit)
	if !ordered {
		sortByID(hits, id)
	}
	var next uuid.UUID
	if len(hits) > n {
		hits = hits[:n]
		next = id(hits[n-1])
	}
	out := make([]T, len(hits))
	for i, r := range hits {
		out[i] = clone(*r)
	}
	return out, next
}

func sortByID[T any](hits []*T, id func(*T) uuid.UUID) {
	slices.SortFunc(hits, func(a, b *T) int { x, y := id(a), id(b); return bytes.Compare(x[:], y[:]) })
}

// Pending implements Store.
func (s *MemoryStore) Pending(ctx context.Context, limit int) ([]bus.Message, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.outbox.Pending(limit), nil
}

// MarkPublished implements Store.
func (s *MemoryStore) MarkPublished(ctx context.Context, ids ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outbox.MarkPublished(ids...)
	return nil
}
