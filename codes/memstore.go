package codes

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/internal/memoutbox"
	"github.com/hashicorp/go-memdb"
)

// MemoryStore is the in-memory Store on go-memdb: the embedded default and
// the fake that tests run against. Records live in memdb tables read from
// lock-free snapshots; writes are serialised, checked whole before any is
// made, and committed with the outbox under one lock, so a Change is all
// or nothing to every reader.
type MemoryStore struct {
	db       *memdb.MemDB
	mu       sync.Mutex // held to write
	counters map[string]uint64
	outbox   memoutbox.Outbox
}

type codeRow struct {
	ID      []byte
	Subject string
	Rec     *CodeRecord
}

type subjectRow struct {
	ID  string
	Sub *Subject
}

type entryRow struct {
	Key     string // subject, NUL, 20-digit seq: sorts in ledger order
	Subject string
	Entry   *Entry
}

type revocationRow struct {
	Key string // "c" + code id, or "s" + subject
	Rev *Revocation
}

type keyRow struct {
	ID  []byte
	Key *PublicKey
}

var memSchema = &memdb.DBSchema{Tables: map[string]*memdb.TableSchema{
	"code": {Name: "code", Indexes: map[string]*memdb.IndexSchema{
		"id":      {Name: "id", Unique: true, Indexer: bytesIndex{"ID"}},
		"subject": {Name: "subject", Indexer: &memdb.StringFieldIndex{Field: "Subject"}},
	}},
	"subject": {Name: "subject", Indexes: map[string]*memdb.IndexSchema{
		"id": {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "ID"}},
	}},
	"entry": {Name: "entry", Indexes: map[string]*memdb.IndexSchema{
		"id": {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "Key"}},
	}},
	"revocation": {Name: "revocation", Indexes: map[string]*memdb.IndexSchema{
		"id": {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "Key"}},
	}},
	"key": {Name: "key", Indexes: map[string]*memdb.IndexSchema{
		"id": {Name: "id", Unique: true, Indexer: bytesIndex{"ID"}},
	}},
}}

// bytesIndex indexes a []byte field by its raw bytes.
type bytesIndex struct{ field string }

func (x bytesIndex) FromObject(o any) (bool, []byte, error) {
	switch r := o.(type) {
	case *codeRow:
		return true, r.ID, nil
	case *keyRow:
		return true, r.ID, nil
	}
	return false, nil, fmt.Errorf("codes: bytes index on %T", o)
}

func (x bytesIndex) FromArgs(args ...any) ([]byte, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("codes: bytes index takes one argument")
	}
	b, ok := args[0].([]byte)
	if !ok {
		return nil, fmt.Errorf("codes: bytes index takes []byte, not %T", args[0])
	}
	return b, nil
}

// NewMemoryStore returns an empty in-memory store.
func NewMemoryStore() *MemoryStore {
	db, err := memdb.NewMemDB(memSchema)
	if err != nil {
		panic(fmt.Sprintf("codes: memdb schema: %v", err)) // a bug in the schema above
	}
	return &MemoryStore{db: db, counters: map[string]uint64{}}
}

func entryKey(subject string, seq int64) string { return fmt.Sprintf("%s\x00%020d", subject, seq) }

// Apply implements Store.
func (s *MemoryStore) Apply(ctx context.Context, c Change) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	txn := s.db.Txn(true)
	defer txn.Abort()
	if err := s.check(txn, &c); err != nil {
		return err
	}
	if err := s.write(txn, &c); err != nil {
		return err // a bug: check should have caught it
	}
	txn.Commit()
	for k, v := range c.Counters {
		s.counters[k] = v
	}
	s.outbox.Add(c.Events...)
	return nil
}

func (s *MemoryStore) check(txn *memdb.Txn, c *Change) error {
	seen := map[RevocationID]bool{}
	for _, r := range c.Codes {
		if got, _ := txn.First("code", "id", r.ID[:]); got != nil || seen[r.ID] {
			return fmt.Errorf("%w: code %s already exists", ErrConflict, r.ID)
		}
		seen[r.ID] = true
	}
	version := map[string]int64{}
	ledger := map[string]int64{}
	for _, sub := range c.Subjects {
		have, ok := version[sub.ID]
		if !ok {
			got, _ := txn.First("subject", "id", sub.ID)
			if got != nil {
				have = got.(*subjectRow).Sub.Version
				ledger[sub.ID] = got.(*subjectRow).Sub.Standing.Entries
			}
		}
		if sub.Version != have+1 {
			if have == 0 {
				return fmt.Errorf("%w: subject %s", ErrNotFound, sub.ID)
			}
			return fmt.Errorf("%w: subject %s is at version %d, the change expects %d", ErrConflict, sub.ID, have, sub.Version-1)
		}
		version[sub.ID] = sub.Version
	}
	for _, e := range c.Entries {
		n, ok := ledger[e.Subject]
		if !ok {
			if _, known := version[e.Subject]; !known {
				got, _ := txn.First("subject", "id", e.Subject)
				if got == nil {
					return fmt.Errorf("%w: ledger entry for unknown subject %s", ErrNotFound, e.Subject)
				}
			}
			n = ledgerLen(txn, e.Subject)
		}
		if e.Seq != n+1 {
			return fmt.Errorf("%w: ledger of %s has %d entries, the change appends %d", ErrConflict, e.Subject, n, e.Seq)
		}
		ledger[e.Subject] = e.Seq
	}
	codes := map[RevocationID]bool{}
	for _, r := range c.Revocations {
		if !r.Code.IsZero() {
			if got, _ := txn.First("revocation", "id", "c"+string(r.Code[:])); got != nil || codes[r.Code] {
				return fmt.Errorf("%w: code %s is already revoked", ErrConflict, r.Code)
			}
			codes[r.Code] = true
		}
	}
	for k, v := range c.Counters {
		if v != s.counters[k]+1 {
			return fmt.Errorf("%w: counter %s is at %d, the change sets %d", ErrConflict, k, s.counters[k], v)
		}
	}
	events := map[string]bool{}
	for _, m := range c.Events {
		if s.outbox.Has(m.ID) || events[m.ID] {
			return fmt.Errorf("%w: event %s already in the outbox", ErrConflict, m.ID)
		}
		events[m.ID] = true
	}
	return nil
}

// ledgerLen returns the Seq of a subject's last stored entry, 0 if none.
func ledgerLen(txn *memdb.Txn, subject string) int64 {
	it, err := txn.ReverseLowerBound("entry", "id", entryKey(subject, 1<<62))
	if err != nil {
		return 0
	}
	if o := it.Next(); o != nil && o.(*entryRow).Subject == subject {
		return o.(*entryRow).Entry.Seq
	}
	return 0
}

func (s *MemoryStore) write(txn *memdb.Txn, c *Change) error {
	for i := range c.Codes {
		r := c.Codes[i]
		if err := txn.Insert("code", &codeRow{ID: slices.Clone(r.ID[:]), Subject: r.Subject, Rec: &r}); err != nil {
			return err
		}
	}
	for i := range c.Subjects {
		sub := cloneSubject(c.Subjects[i])
		if err := txn.Insert("subject", &subjectRow{ID: sub.ID, Sub: &sub}); err != nil {
			return err
		}
	}
	for i := range c.Entries {
		e := cloneEntry(c.Entries[i])
		if err := txn.Insert("entry", &entryRow{Key: entryKey(e.Subject, e.Seq), Subject: e.Subject, Entry: &e}); err != nil {
			return err
		}
	}
	for i := range c.Revocations {
		r := c.Revocations[i]
		key := "s" + r.Subject
		if !r.Code.IsZero() {
			key = "c" + string(r.Code[:])
		}
		if err := txn.Insert("revocation", &revocationRow{Key: key, Rev: &r}); err != nil {
			return err
		}
	}
	for i := range c.Keys {
		k := clonePublicKey(c.Keys[i])
		if err := txn.Insert("key", &keyRow{ID: slices.Clone(k.ID[:]), Key: &k}); err != nil {
			return err
		}
	}
	return nil
}

// Code implements Store.
func (s *MemoryStore) Code(ctx context.Context, id RevocationID) (CodeRecord, error) {
	if err := ctx.Err(); err != nil {
		return CodeRecord{}, err
	}
	got, err := s.db.Txn(false).First("code", "id", id[:])
	if err != nil || got == nil {
		return CodeRecord{}, fmt.Errorf("%w: code %s", ErrNotFound, id)
	}
	return *got.(*codeRow).Rec, nil
}

// CodesOf implements Store.
func (s *MemoryStore) CodesOf(ctx context.Context, subject string) ([]CodeRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	it, err := s.db.Txn(false).Get("code", "subject", subject)
	if err != nil {
		return nil, err
	}
	var out []CodeRecord
	for o := it.Next(); o != nil; o = it.Next() {
		out = append(out, *o.(*codeRow).Rec)
	}
	slices.SortStableFunc(out, func(a, b CodeRecord) int {
		if c := a.IssuedAt.Compare(b.IssuedAt); c != 0 {
			return c
		}
		return bytes.Compare(a.ID[:], b.ID[:])
	})
	return out, nil
}

// Subject implements Store.
func (s *MemoryStore) Subject(ctx context.Context, id string) (Subject, error) {
	if err := ctx.Err(); err != nil {
		return Subject{}, err
	}
	got, err := s.db.Txn(false).First("subject", "id", id)
	if err != nil || got == nil {
		return Subject{}, fmt.Errorf("%w: subject %s", ErrNotFound, id)
	}
	return cloneSubject(*got.(*subjectRow).Sub), nil
}

// Subjects implements Store.
func (s *MemoryStore) Subjects(ctx context.Context, q SubjectQuery) ([]Subject, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := q.Validate(); err != nil {
		return nil, err
	}
	it, err := s.db.Txn(false).LowerBound("subject", "id", q.After)
	if err != nil {
		return nil, err
	}
	var out []Subject
	for o := it.Next(); o != nil && len(out) < q.EffectiveLimit(); o = it.Next() {
		sub := o.(*subjectRow).Sub
		if sub.ID <= q.After && q.After != "" {
			continue
		}
		if len(q.Colours) > 0 && !slices.Contains(q.Colours, sub.Standing.Colour) {
			continue
		}
		out = append(out, cloneSubject(*sub))
	}
	return out, nil
}

// Ledger implements Store.
func (s *MemoryStore) Ledger(ctx context.Context, subject string) ([]Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	txn := s.db.Txn(false)
	if got, _ := txn.First("subject", "id", subject); got == nil {
		return nil, fmt.Errorf("%w: subject %s", ErrNotFound, subject)
	}
	it, err := txn.Get("entry", "id_prefix", subject+"\x00")
	if err != nil {
		return nil, err
	}
	var out []Entry
	for o := it.Next(); o != nil; o = it.Next() {
		out = append(out, cloneEntry(*o.(*entryRow).Entry))
	}
	return out, nil
}

// Revocations implements Store.
func (s *MemoryStore) Revocations(ctx context.Context, yield func(Revocation) bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	it, err := s.db.Txn(false).Get("revocation", "id")
	if err != nil {
		return err
	}
	for o := it.Next(); o != nil; o = it.Next() {
		if !yield(*o.(*revocationRow).Rev) {
			return nil
		}
	}
	return nil
}

// PublicKeys implements Store.
func (s *MemoryStore) PublicKeys(ctx context.Context) ([]PublicKey, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	it, err := s.db.Txn(false).Get("key", "id")
	if err != nil {
		return nil, err
	}
	var out []PublicKey
	for o := it.Next(); o != nil; o = it.Next() {
		out = append(out, clonePublicKey(*o.(*keyRow).Key))
	}
	return out, nil
}

// Counter implements Store.
func (s *MemoryStore) Counter(ctx context.Context, name string) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counters[name], nil
}

// Pending implements Store.
func (s *MemoryStore) Pending(ctx context.Context, limit int) ([]bus.Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
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
