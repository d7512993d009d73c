package dispatch

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/internal/memoutbox"
	"github.com/govkit/govkit/region"
	"github.com/hashicorp/go-memdb"
)

// Change is everything one command writes, atomically. A record at
// Version 1 is created and must not exist yet; any other is an update that
// applies only if the stored version is Version-1.
type Change struct {
	Orders []WorkOrder
	Cases  []CaseFile
	Events []bus.Message // the outbox, published after commit
}

// Store keeps work orders, case files and the outbox. MemoryStore is the
// embedded default; adapters/postgres has the PostgreSQL one; dispatchtest
// is the suite both pass. Implementations return copies and are safe for
// concurrent use.
type Store interface {
	// Apply writes c atomically, or nothing with an error matching
	// ErrConflict (a stale version, or a record created twice) or
	// ErrNotFound (an update of a record that does not exist).
	Apply(ctx context.Context, c Change) error
	// Order returns a work order, or ErrNotFound.
	Order(ctx context.Context, id uuid.UUID) (WorkOrder, error)
	// CaseFile returns a case's file, or ErrNotFound.
	CaseFile(ctx context.Context, caseID string) (CaseFile, error)
	// Orders returns one page of work orders matching q, in ID order.
	Orders(ctx context.Context, q OrderQuery) (OrderPage, error)
	// Pending returns up to limit unpublished events, oldest first.
	Pending(ctx context.Context, limit int) ([]bus.Message, error)
	// MarkPublished marks events published; unknown IDs are ignored.
	MarkPublished(ctx context.Context, ids ...string) error
}

// OrderQuery selects work orders; every set field narrows the result.
type OrderQuery struct {
	Case     string
	Body     string
	Statuses []OrderStatus
	Kind     OrderKind
	Within   region.Code // the case lies in this unit's subtree
	Since    time.Time   // offered at or after
	Until    time.Time   // offered before
	Limit    int         // 0 means 100, at most 1000
	After    uuid.UUID   // continue after this ID
}

// OrderPage is one page of Orders.
type OrderPage struct {
	Orders []WorkOrder
	Next   uuid.UUID // zero at the end
}

// Validate reports a malformed query.
func (q OrderQuery) Validate() error {
	if q.Limit < 0 || q.Limit > 1000 {
		return fmt.Errorf("%w: limit %d outside 0–1000", ErrInvalidCommand, q.Limit)
	}
	if q.Within != "" {
		if _, err := region.ParseCode(string(q.Within)); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidCommand, err)
		}
	}
	return nil
}

// Matches reports whether o satisfies every filter of q but paging.
func (q OrderQuery) Matches(o *WorkOrder) bool {
	switch {
	case q.Case != "" && o.Case != q.Case,
		q.Body != "" && o.Body != q.Body,
		len(q.Statuses) > 0 && !slices.Contains(q.Statuses, o.Status),
		q.Kind != 0 && o.Kind != q.Kind,
		q.Within != "" && !o.Grid().Within(q.Within),
		!q.Since.IsZero() && o.Offered.Before(q.Since),
		!q.Until.IsZero() && !o.Offered.Before(q.Until):
		return false
	}
	return true
}

func (q OrderQuery) limit() int {
	if q.Limit == 0 {
		return 100
	}
	return q.Limit
}

// MemoryStore is the in-memory Store on go-memdb, indexed by order ID,
// case and body; the outbox sits beside it under the same lock.
type MemoryStore struct {
	db     *memdb.MemDB
	mu     sync.RWMutex
	outbox memoutbox.Outbox
}

type orderRow struct {
	ID   []byte
	Case string
	Body string
	O    *WorkOrder
}

type caseRow struct {
	Case string
	C    *CaseFile
}

type uuidIndex struct{}

func (uuidIndex) FromObject(o any) (bool, []byte, error) { return true, o.(*orderRow).ID, nil }

func (uuidIndex) FromArgs(args ...any) ([]byte, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("dispatch: id index takes one argument")
	}
	id, ok := args[0].(uuid.UUID)
	if !ok {
		return nil, fmt.Errorf("dispatch: id index takes a uuid.UUID, not %T", args[0])
	}
	return id[:], nil
}

var dispatchSchema = &memdb.DBSchema{Tables: map[string]*memdb.TableSchema{
	"order": {Name: "order", Indexes: map[string]*memdb.IndexSchema{
		"id": {Name: "id", Unique: true, Indexer: uuidIndex{}},
		// The store takes records as they come; memdb treats "" as missing.
		"case": {Name: "case", AllowMissing: true, Indexer: &memdb.StringFieldIndex{Field: "Case"}},
		"body": {Name: "body", AllowMissing: true, Indexer: &memdb.StringFieldIndex{Field: "Body"}},
	}},
	"case": {Name: "case", Indexes: map[string]*memdb.IndexSchema{
		"id": {Name: "id", Unique: true, AllowMissing: true, Indexer: &memdb.StringFieldIndex{Field: "Case"}},
	}},
}}

// NewMemoryStore returns an empty in-memory store.
func NewMemoryStore() *MemoryStore {
	db, err := memdb.NewMemDB(dispatchSchema)
	if err != nil {
		panic(fmt.Sprintf("dispatch: memdb schema: %v", err)) // a bug in the schema above
	}
	return &MemoryStore{db: db}
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
	seen := map[uuid.UUID]int64{}
	for i := range c.Orders {
		o := &c.Orders[i]
		have, ok := seen[o.ID]
		if !ok {
			if cur, _ := txn.First("order", "id", o.ID); cur != nil {
				have, ok = cur.(*orderRow).O.Version, true
			}
		}
		if err := checkVersion("work order "+o.ID.String(), o.Version, have, ok); err != nil {
			return err
		}
		seen[o.ID] = o.Version
		cp := o.Clone()
		if err := txn.Insert("order", &orderRow{ID: cp.ID[:], Case: cp.Case, Body: cp.Body, O: &cp}); err != nil {
			return err
		}
	}
	cases := map[string]int64{}
	for i := range c.Cases {
		cf := &c.Cases[i]
		have, ok := cases[cf.Case]
		if !ok {
			if cur, _ := txn.First("case", "id", cf.Case); cur != nil {
				have, ok = cur.(*caseRow).C.Version, true
			}
		}
		if err := checkVersion("case file "+cf.Case, cf.Version, have, ok); err != nil {
			return err
		}
		cases[cf.Case] = cf.Version
		cp := cf.Clone()
		if err := txn.Insert("case", &caseRow{Case: cp.Case, C: &cp}); err != nil {
			return err
		}
	}
	events := map[string]bool{}
	for _, m := range c.Events {
		if s.outbox.Has(m.ID) || events[m.ID] {
			return fmt.Errorf("%w: event %s already in the outbox", ErrConflict, m.ID)
		}
		events[m.ID] = true
	}
	txn.Commit()
	s.outbox.Add(c.Events...)
	return nil
}

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

// Order implements Store.
func (s *MemoryStore) Order(ctx context.Context, id uuid.UUID) (WorkOrder, error) {
	r, _ := s.db.Txn(false).First("order", "id", id)
	if r == nil {
		return WorkOrder{}, fmt.Errorf("%w: work order %s", ErrNotFound, id)
	}
	return r.(*orderRow).O.Clone(), nil
}

// CaseFile implements Store.
func (s *MemoryStore) CaseFile(ctx context.Context, caseID string) (CaseFile, error) {
	r, _ := s.db.Txn(false).First("case", "id", caseID)
	if r == nil {
		return CaseFile{}, fmt.Errorf("%w: case %s", ErrNotFound, caseID)
	}
	return r.(*caseRow).C.Clone(), nil
}

// Orders implements Store.
func (s *MemoryStore) Orders(ctx context.Context, q OrderQuery) (OrderPage, error) {
	if err := q.Validate(); err != nil {
		return OrderPage{}, err
	}
	txn := s.db.Txn(false)
	var it memdb.ResultIterator
	var err error
	ordered := false
	switch {
	case q.Case != "":
		it, err = txn.Get("order", "case", q.Case)
	case q.Body != "":
		it, err = txn.Get("order", "body", q.Body)
	default:
		it, err = txn.LowerBound("order", "id", q.After)
		ordered = true
	}
	if err != nil {
		return OrderPage{}, err
	}
	var hits []*WorkOrder
	for obj := it.Next(); obj != nil; obj = it.Next() {
		o := obj.(*orderRow).O
		if bytes.Compare(o.ID[:], q.After[:]) > 0 && q.Matches(o) {
			hits = append(hits, o)
			if ordered && len(hits) > q.limit() {
				break
			}
		}
	}
	slices.SortFunc(hits, func(a, b *WorkOrder) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	var p OrderPage
	if n := q.limit(); len(hits) > n {
		hits = hits[:n]
		p.Next = hits[n-1].ID
	}
	for _, o := range hits {
		p.Orders = append(p.Orders, o.Clone())
	}
	return p, nil
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
