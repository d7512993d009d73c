package audit

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/hashicorp/go-memdb"
)

const memTable = "audit"

// MemoryStore is the in-memory [Store] on go-memdb: the embedded default
// for a single process, and the fake that tests run against. Entries are
// indexed by Seq, by actor, by resource kind, by resource (kind and ID) and
// by time, so queries read only what they need. Append checks the head and
// writes in one memdb write transaction, so it is atomic. A MemoryStore is
// safe for concurrent use; create one with [NewMemoryStore]. Its contents
// last as long as the process.
type MemoryStore struct {
	db *memdb.MemDB
}

var (
	_ Store      = (*MemoryStore)(nil)
	_ HeadLocker = (*MemoryStore)(nil)
)

// row is what the store keeps: a normalized copy of an entry and its index
// keys. Rows are never changed once inserted.
type row struct {
	e                                  Entry
	id, actor, kind, resource, timeKey []byte
}

// keyIndexer indexes rows by a key computed when the row is made. Keys end
// in the Seq (see uintKey), so every index is unique and iterates in Seq order
// within a prefix (an actor, a resource...).
type keyIndexer func(*row) []byte

// FromObject returns the row's key.
func (k keyIndexer) FromObject(obj any) (bool, []byte, error) {
	r, ok := obj.(*row)
	if !ok {
		return false, nil, fmt.Errorf("audit: memory store holds %T, not a row", obj)
	}
	return true, k(r), nil
}

// FromArgs takes one key (or key prefix) as a []byte.
func (keyIndexer) FromArgs(args ...any) ([]byte, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("audit: memory index takes 1 argument, got %d", len(args))
	}
	b, ok := args[0].([]byte)
	if !ok {
		return nil, fmt.Errorf("audit: memory index argument is %T, not []byte", args[0])
	}
	return b, nil
}

// NewMemoryStore returns an empty in-memory store.
func NewMemoryStore() *MemoryStore {
	index := func(name string, key func(*row) []byte) *memdb.IndexSchema {
		return &memdb.IndexSchema{Name: name, Unique: true, Indexer: keyIndexer(key)}
	}
	schema := &memdb.DBSchema{Tables: map[string]*memdb.TableSchema{
		memTable: {Name: memTable, Indexes: map[string]*memdb.IndexSchema{
			"id":       index("id", func(r *row) []byte { return r.id }),
			"actor":    index("actor", func(r *row) []byte { return r.actor }),
			"kind":     index("kind", func(r *row) []byte { return r.kind }),
			"resource": index("resource", func(r *row) []byte { return r.resource }),
			"time":     index("time", func(r *row) []byte { return r.timeKey }),
		}},
	}}
	db, err := memdb.NewMemDB(schema)
	if err != nil {
		panic("audit: memory store schema: " + err.Error()) // the schema is a constant
	}
	return &MemoryStore{db: db}
}

// newRow copies e into a row with its index keys.
func newRow(e Entry) *row {
	e = e.clone()
	e.Time = NormalizeTime(e.Time)
	seq := seqKey(e.Seq)
	return &row{
		e:        e,
		id:       seq,
		actor:    concatKey(prefixKey(e.ActorID), seq),
		kind:     concatKey(prefixKey(e.ResourceKind), seq),
		resource: concatKey(prefixKey(e.ResourceKind, e.ResourceID), seq),
		timeKey:  concatKey(timeKey(e), seq),
	}
}

// uintKeyLen is the length of an encoded uint64 key.
const uintKeyLen = 16

// uintKey encodes u in 16 bytes, one per hexadecimal digit, most
// significant first, so that keys sort as numbers. A byte per digit keeps
// the radix tree's nodes at 16 children or fewer: memdb copies the nodes
// along the path on every insert, and with whole bytes the nodes near the
// leaves would hold 256 children each.
func uintKey(u uint64) []byte {
	b := make([]byte, uintKeyLen)
	for i := uintKeyLen - 1; i >= 0; i-- {
		b[i] = byte(u & 0xf)
		u >>= 4
	}
	return b
}

func seqKey(seq uint64) []byte { return uintKey(seq) }

// prefixKey joins text fields, each followed by a NUL, which entries never
// contain: so one field's key is never a prefix of another's.
func prefixKey(fields ...string) []byte {
	var b []byte
	for _, f := range fields {
		b = append(append(b, f...), 0)
	}
	return b
}

func concatKey(a, b []byte) []byte { return append(slices.Clip(a), b...) }

// timeKey orders times as microseconds since the Unix epoch, offset so
// that times before 1970 sort first.
func timeKey(e Entry) []byte { return timeKeyOf(e.Time.UnixMicro()) }

func timeKeyOf(micros int64) []byte { return uintKey(uint64(micros) ^ (1 << 63)) }

// Append implements [Store.Append].
func (s *MemoryStore) Append(ctx context.Context, e Entry) error {
	if err := e.Validate(); err != nil {
		return err
	}
	return s.AppendNext(ctx, func(Entry) (Entry, error) { return e, nil })
}

// AppendNext implements [HeadLocker]: it reads the head, seals and inserts
// in one memdb write transaction, which excludes every other writer.
func (s *MemoryStore) AppendNext(ctx context.Context, seal func(head Entry) (Entry, error)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	txn := s.db.Txn(true)
	defer txn.Abort()
	obj, err := txn.Last(memTable, "id")
	if err != nil {
		return fmt.Errorf("audit: memory store: read head: %w", err)
	}
	var head Entry // the zero Entry stands for an empty log
	if obj != nil {
		head = obj.(*row).e.clone()
	}
	e, err := seal(head)
	if err != nil {
		return err
	}
	if err := e.Validate(); err != nil {
		return err
	}
	if err := follows(head, e); err != nil {
		return err
	}
	if err := txn.Insert(memTable, newRow(e)); err != nil {
		return fmt.Errorf("audit: memory store: insert: %w", err)
	}
	txn.Commit()
	return nil
}

// follows returns a *ConflictError unless e comes right after head (the
// zero Entry for an empty log).
func follows(head, e Entry) error {
	if e.Seq != head.Seq+1 {
		return &ConflictError{Seq: e.Seq, HeadSeq: head.Seq, Reason: fmt.Sprintf("the next Seq is %d", head.Seq+1)}
	}
	want := head.Hash
	if head.Seq == 0 {
		want = make([]byte, HashSize)
	}
	if !bytes.Equal(e.PrevHash, want) {
		return &ConflictError{Seq: e.Seq, HeadSeq: head.Seq, Reason: "PrevHash is not the head's Hash"}
	}
	return nil
}

// Head implements [Store.Head].
func (s *MemoryStore) Head(ctx context.Context) (Entry, bool, error) {
	if err := ctx.Err(); err != nil {
		return Entry{}, false, err
	}
	head, err := s.db.Txn(false).Last(memTable, "id")
	if err != nil {
		return Entry{}, false, fmt.Errorf("audit: memory store: read head: %w", err)
	}
	if head == nil {
		return Entry{}, false, nil
	}
	return head.(*row).e.clone(), true, nil
}

// Range implements [Store.Range].
func (s *MemoryStore) Range(ctx context.Context, fromSeq uint64, limit int) ([]Entry, error) {
	return s.Query(ctx, Query{FromSeq: fromSeq, Limit: limit})
}

// Query implements [Store.Query]. It walks the index that narrows the
// search most: the actor's entries, the resource's, the resource kind's,
// the time window's, or all entries from FromSeq.
func (s *MemoryStore) Query(ctx context.Context, q Query) ([]Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := q.Validate(); err != nil {
		return nil, err
	}
	limit, _ := NormalizeLimit(q.Limit)
	txn := s.db.Txn(false)
	from := seqKey(max(q.FromSeq, 1))
	switch {
	case q.ActorID != "":
		return s.scan(txn, "actor", prefixKey(q.ActorID), from, q, limit)
	case q.ResourceKind != "" && q.ResourceID != "":
		return s.scan(txn, "resource", prefixKey(q.ResourceKind, q.ResourceID), from, q, limit)
	case q.ResourceKind != "":
		return s.scan(txn, "kind", prefixKey(q.ResourceKind), from, q, limit)
	case !q.Since.IsZero() || !q.Until.IsZero():
		return s.scanTime(txn, q, limit)
	default:
		return s.scan(txn, "id", nil, from, q, limit)
	}
}

// scan walks index from prefix+from while keys keep prefix, keeping the
// entries that match q, until it has limit of them. Within a prefix the
// keys end in the Seq, so the result is in Seq order.
func (s *MemoryStore) scan(txn *memdb.Txn, index string, prefix, from []byte, q Query, limit int) ([]Entry, error) {
	it, err := txn.LowerBound(memTable, index, concatKey(prefix, from))
	if err != nil {
		return nil, fmt.Errorf("audit: memory store: query %s: %w", index, err)
	}
	out := []Entry{}
	for obj := it.Next(); obj != nil && len(out) < limit; obj = it.Next() {
		r := obj.(*row)
		if !bytes.HasPrefix(indexKey(r, index), prefix) {
			break
		}
		if q.Matches(r.e) {
			out = append(out, r.e.clone())
		}
	}
	return out, nil
}

func indexKey(r *row, index string) []byte {
	switch index {
	case "actor":
		return r.actor
	case "resource":
		return r.resource
	case "kind":
		return r.kind
	case "time":
		return r.timeKey
	}
	return r.id
}

// scanTime walks the time index over [Since, Until). Times need not grow
// with Seq (entries may be appended with any time), so it keeps the limit
// matching entries of lowest Seq, in order.
func (s *MemoryStore) scanTime(txn *memdb.Txn, q Query, limit int) ([]Entry, error) {
	lower := timeKeyOf(NormalizeTime(q.Since).UnixMicro())
	if q.Since.IsZero() {
		lower = nil
	}
	var upper []byte
	if !q.Until.IsZero() {
		upper = timeKeyOf(NormalizeTime(q.Until).UnixMicro())
	}
	it, err := txn.LowerBound(memTable, "time", lower)
	if err != nil {
		return nil, fmt.Errorf("audit: memory store: query time: %w", err)
	}
	var best []*row // sorted by Seq, at most limit long
	for obj := it.Next(); obj != nil; obj = it.Next() {
		r := obj.(*row)
		if upper != nil && bytes.Compare(r.timeKey[:uintKeyLen], upper) >= 0 {
			break
		}
		if r.e.Seq < q.FromSeq || !q.Matches(r.e) {
			continue
		}
		if len(best) == limit && r.e.Seq > best[len(best)-1].e.Seq {
			continue
		}
		i, _ := slices.BinarySearchFunc(best, r.e.Seq, func(x *row, seq uint64) int {
			return cmp.Compare(x.e.Seq, seq)
		})
		best = slices.Insert(best, i, r)
		if len(best) > limit {
			best = best[:limit]
		}
	}
	out := make([]Entry, len(best))
	for i, r := range best {
		out[i] = r.e.clone()
	}
	return out, nil
}
