package dispatch

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/internal/groupcommit"
	"github.com/govkit/govkit/internal/idlist"
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

// MemoryStore is the in-memory Store: work orders and case files in
// go-memdb by ID, read from lock-free snapshots; the lists of each case's
// and each body's orders and the outbox sit beside it under a lock their
// readers share (scattered memdb index keys cost several microseconds a
// write). Changes that arrive while a transaction is being written share
// the next one (a group commit), each succeeding or failing on its own.
type MemoryStore struct {
	db     *memdb.MemDB
	writer sync.Mutex // one batch at a time
	writes *groupcommit.Group[stagedChange]

	mu     sync.RWMutex // held to change what is below; read-held to read it
	byCase map[string][]uuid.UUID
	byBody map[string][]uuid.UUID
	outbox memoutbox.Outbox
}

type orderRow struct {
	ID []byte
	O  *WorkOrder
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
	}},
	"case": {Name: "case", Indexes: map[string]*memdb.IndexSchema{
		// The store takes records as they come; memdb treats "" as missing.
		"id": {Name: "id", Unique: true, AllowMissing: true, Indexer: &memdb.StringFieldIndex{Field: "Case"}},
	}},
}}

// NewMemoryStore returns an empty in-memory store.
func NewMemoryStore() *MemoryStore {
	db, err := memdb.NewMemDB(dispatchSchema)
	if err != nil {
		panic(fmt.Sprintf("dispatch: memdb schema: %v", err)) // a bug in the schema above
	}
	s := &MemoryStore{db: db, byCase: map[string][]uuid.UUID{}, byBody: map[string][]uuid.UUID{}}
	s.writes = groupcommit.New(&s.writer, s.applyBatch)
	return s
}

// stagedChange is a change with its records copied, ready to write.
type stagedChange struct {
	Change
	orders []*orderRow
	cases  []*caseRow
}

// Apply implements Store.
func (s *MemoryStore) Apply(ctx context.Context, c Change) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	st := stagedChange{Change: c}
	for _, o := range c.Orders {
		cp := o.Clone() // before the lock, not under it
		st.orders = append(st.orders, &orderRow{ID: cp.ID[:], O: &cp})
	}
	for _, cf := range c.Cases {
		cp := cf.Clone()
		st.cases = append(st.cases, &caseRow{Case: cp.Case, C: &cp})
	}
	return s.writes.Do(st)
}

// filed is where an order sits in the side lists.
type filed struct{ caseID, body string }

// applyBatch writes the changes that pass their checks in one memdb
// transaction, then files their orders and events in order; s.writer is
// held, so the side lists change only here and in MarkPublished.
func (s *MemoryStore) applyBatch(changes []stagedChange) []error {
	errs := make([]error, len(changes))
	moves := make([]map[uuid.UUID]filed, len(changes))
	earlierEvents := map[string]bool{}
	txn := s.db.Txn(true)
	for i, c := range changes {
		s.mu.RLock()
		moves[i], errs[i] = s.check(txn, c, earlierEvents)
		s.mu.RUnlock()
		if errs[i] != nil {
			continue
		}
		for _, r := range c.orders {
			if err := txn.Insert("order", r); err != nil {
				panic(fmt.Sprintf("dispatch: memdb insert: %v", err)) // only a schema bug can cause this
			}
		}
		for _, r := range c.cases {
			if err := txn.Insert("case", r); err != nil {
				panic(fmt.Sprintf("dispatch: memdb insert: %v", err)) // checked: the case ID is set
			}
		}
		for _, m := range c.Events {
			earlierEvents[m.ID] = true
		}
	}
	txn.Commit()
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, c := range changes {
		if errs[i] != nil {
			continue
		}
		for _, r := range c.orders {
			was, updated := moves[i][r.O.ID]
			if !updated || was.caseID != r.O.Case {
				file(s.byCase, was.caseID, r.O.Case, r.O.ID)
			}
			if !updated || was.body != r.O.Body {
				file(s.byBody, was.body, r.O.Body, r.O.ID)
			}
		}
		s.outbox.Add(c.Events...)
	}
	return errs
}

// file moves id from list from to list to in lists ("" is no list).
func file(lists map[string][]uuid.UUID, from, to string, id uuid.UUID) {
	if from != "" {
		if l := idlist.Remove(lists[from], id); len(l) > 0 {
			lists[from] = l
		} else {
			delete(lists, from)
		}
	}
	if to != "" {
		lists[to] = idlist.Insert(lists[to], id)
	}
}

// check validates c against the transaction, which holds the earlier
// changes of its batch, and the outbox, without writing. It returns where
// the orders c updates were filed.
func (s *MemoryStore) check(txn *memdb.Txn, c stagedChange, earlierEvents map[string]bool) (map[uuid.UUID]filed, error) {
	moves := map[uuid.UUID]filed{}
	seen := map[uuid.UUID]int64{}
	for i := range c.Orders {
		o := &c.Orders[i]
		have, ok := seen[o.ID]
		if !ok {
			if cur, _ := txn.First("order", "id", o.ID); cur != nil {
				stored := cur.(*orderRow).O
				have, ok = stored.Version, true
				moves[o.ID] = filed{stored.Case, stored.Body}
			}
		}
		if err := checkVersion("work order "+o.ID.String(), o.Version, have, ok); err != nil {
			return nil, err
		}
		seen[o.ID] = o.Version
	}
	cases := map[string]int64{}
	for i := range c.Cases {
		cf := &c.Cases[i]
		if cf.Case == "" {
			return nil, fmt.Errorf("%w: a case file without a case ID", ErrInvalidCommand)
		}
		have, ok := cases[cf.Case]
		if !ok {
			if cur, _ := txn.First("case", "id", cf.Case); cur != nil {
				have, ok = cur.(*caseRow).C.Version, true
			}
		}
		if err := checkVersion("case file "+cf.Case, cf.Version, have, ok); err != nil {
			return nil, err
		}
		cases[cf.Case] = cf.Version
	}
	events := map[string]bool{}
	for _, m := range c.Events {
		if s.outbox.Has(m.ID) || events[m.ID] || earlierEvents[m.ID] {
			return nil, fmt.Errorf("%w: event %s already in the outbox", ErrConflict, m.ID)
		}
		events[m.ID] = true
	}
	return moves, nil
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

// Orders implements Store. A query for a case or a body reads its list
// from After; any other reads the ID index. Both are in ID order, and
// OrderQuery.Matches filters what they hold.
func (s *MemoryStore) Orders(ctx context.Context, q OrderQuery) (OrderPage, error) {
	if err := q.Validate(); err != nil {
		return OrderPage{}, err
	}
	n := q.limit() + 1
	var hits []*WorkOrder
	switch {
	case q.Case != "":
		hits = s.ordersListed(s.byCase, q.Case, q, n)
	case q.Body != "":
		hits = s.ordersListed(s.byBody, q.Body, q, n)
	default:
		it, err := s.db.Txn(false).LowerBound("order", "id", q.After)
		if err != nil {
			return OrderPage{}, err
		}
		for obj := it.Next(); obj != nil && len(hits) < n; obj = it.Next() {
			if o := obj.(*orderRow).O; idlist.Compare(o.ID, q.After) > 0 && q.Matches(o) {
				hits = append(hits, o)
			}
		}
	}
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

// ordersListed returns up to n orders matching q from lists[key], after
// q.After.
func (s *MemoryStore) ordersListed(lists map[string][]uuid.UUID, key string, q OrderQuery, n int) []*WorkOrder {
	var hits []*WorkOrder
	idlist.Walk(s.mu.RLocker(), func() []uuid.UUID { return lists[key] }, q.After, func(chunk []uuid.UUID) bool {
		txn := s.db.Txn(false) // taken after the IDs were read, so it holds them all
		for _, id := range chunk {
			if obj, _ := txn.First("order", "id", id); obj != nil && q.Matches(obj.(*orderRow).O) {
				if hits = append(hits, obj.(*orderRow).O); len(hits) == n {
					return false
				}
			}
		}
		return true
	})
	return hits
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
