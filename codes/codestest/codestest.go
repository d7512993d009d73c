package codestest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/codes"
	"github.com/govkit/govkit/internal/hashchain"
)

// Run runs every conformance test as a subtest of t, each on a fresh,
// empty store from newStore.
func Run(t *testing.T, newStore func(t *testing.T) codes.Store) {
	t.Helper()
	if newStore == nil {
		t.Fatal("codestest: newStore is nil")
	}
	tests := []struct {
		name string
		fn   func(*testing.T, codes.Store)
	}{
		{"CodeRoundTrip", testCodeRoundTrip},
		{"DuplicateCode", testDuplicateCode},
		{"SubjectVersions", testSubjectVersions},
		{"ReturnsCopies", testReturnsCopies},
		{"Ledger", testLedger},
		{"ApplyIsAtomic", testApplyIsAtomic},
		{"Revocations", testRevocations},
		{"PublicKeys", testPublicKeys},
		{"Counters", testCounters},
		{"SubjectQuery", testSubjectQuery},
		{"Outbox", testOutbox},
		{"ConcurrentAppends", testConcurrentAppends},
		{"CancelledContext", testCancelledContext},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			require.NotNil(t, s, "newStore returned nil")
			tc.fn(t, s)
		})
	}
}

// base is when the fixtures happen, at the precision stores keep.
var base = time.Date(2026, 3, 2, 1, 30, 0, 0, time.UTC)

func subject(id string, colour codes.Colour) codes.Subject {
	return codes.Subject{ID: id, Kind: codes.Listing, Jurisdiction: "500107001002003", Created: base, Version: 1,
		Standing: codes.Standing{Score: 100, Colour: colour}}
}

func record(sub string, at time.Time) codes.CodeRecord {
	return codes.CodeRecord{ID: codes.NewRevocationID(), Kind: codes.Listing, Subject: sub, Jurisdiction: "500107001002003",
		Issuer: "500107-housing", KeyID: codes.KeyID{1, 2, 3, 4, 5, 6, 7, 8}, IssuedAt: at, NotBefore: at,
		Expiry: at.Add(365 * 24 * time.Hour), IssuedBy: "li"}
}

// entry returns the next ledger entry after prev (nil for the first),
// chained as the service chains them.
func entry(sub string, prev *codes.Entry, points int64) codes.Entry {
	e := codes.Entry{Subject: sub, Seq: 1, Type: codes.Deduction, Points: points, Rule: "noise",
		Evidence: codes.Evidence{Ref: "photo:" + sub, SHA256: sha256.Sum256([]byte(sub))}, Recorder: "li",
		At: base.Add(time.Hour), Prev: hashchain.Genesis, Key: "report-" + sub, Note: "光线昏暗的楼道"}
	if prev != nil {
		e.Seq, e.Prev, e.At, e.Key = prev.Seq+1, prev.Hash, prev.At.Add(time.Minute), fmt.Sprintf("report-%s-%d", sub, prev.Seq+1)
	}
	e.Hash = e.ComputeHash()
	return e
}

func event(sub string) bus.Message {
	return bus.Message{ID: uuid.Must(uuid.NewV7()).String(), Subject: "gov.500000.500107.500107001.codes.points",
		Key: sub, Time: base, Data: []byte(`{"event":"points"}`), Headers: map[string]string{"govkit-kind": "codes"}}
}

func apply(t *testing.T, s codes.Store, c codes.Change) {
	t.Helper()
	require.NoError(t, s.Apply(t.Context(), c))
}

func testCodeRoundTrip(t *testing.T, s codes.Store) {
	ctx := t.Context()
	a := record("room-1", base)
	b := record("room-1", base.Add(time.Minute))
	b.Kind, b.Steps = codes.Worker, 12
	c := record("room-2", base)
	apply(t, s, codes.Change{Subjects: []codes.Subject{subject("room-1", codes.Green), subject("room-2", codes.Green)}, Codes: []codes.CodeRecord{b, a, c}})
	got, err := s.Code(ctx, a.ID)
	require.NoError(t, err)
	assertRecordEqual(t, a, got)
	got, err = s.Code(ctx, b.ID)
	require.NoError(t, err)
	assertRecordEqual(t, b, got)
	list, err := s.CodesOf(ctx, "room-1")
	require.NoError(t, err)
	require.Len(t, list, 2)
	assertRecordEqual(t, a, list[0]) // issue order
	assertRecordEqual(t, b, list[1])
	list, err = s.CodesOf(ctx, "room-9")
	require.NoError(t, err)
	assert.Empty(t, list)
	_, err = s.Code(ctx, codes.NewRevocationID())
	require.ErrorIs(t, err, codes.ErrNotFound)
}

func assertRecordEqual(t *testing.T, want, got codes.CodeRecord) {
	t.Helper()
	assert.True(t, want.IssuedAt.Equal(got.IssuedAt) && want.NotBefore.Equal(got.NotBefore) && want.Expiry.Equal(got.Expiry), "times")
	want.IssuedAt, want.NotBefore, want.Expiry = got.IssuedAt, got.NotBefore, got.Expiry
	assert.Equal(t, want, got)
}

func testDuplicateCode(t *testing.T, s codes.Store) {
	a := record("room-1", base)
	apply(t, s, codes.Change{Subjects: []codes.Subject{subject("room-1", codes.Green)}, Codes: []codes.CodeRecord{a}})
	require.ErrorIs(t, s.Apply(t.Context(), codes.Change{Codes: []codes.CodeRecord{a}}), codes.ErrConflict)
	b := record("room-1", base)
	require.ErrorIs(t, s.Apply(t.Context(), codes.Change{Codes: []codes.CodeRecord{b, b}}), codes.ErrConflict, "twice in one change")
	_, err := s.Code(t.Context(), b.ID)
	require.ErrorIs(t, err, codes.ErrNotFound)
}

func testSubjectVersions(t *testing.T, s codes.Store) {
	ctx := t.Context()
	sub := subject("room-1", codes.Green)
	apply(t, s, codes.Change{Subjects: []codes.Subject{sub}})
	require.ErrorIs(t, s.Apply(ctx, codes.Change{Subjects: []codes.Subject{sub}}), codes.ErrConflict, "created twice")
	next := sub
	next.Version, next.Standing = 2, codes.Standing{Score: 70, Colour: codes.Yellow, Entries: 0}
	apply(t, s, codes.Change{Subjects: []codes.Subject{next}})
	got, err := s.Subject(ctx, "room-1")
	require.NoError(t, err)
	assert.Equal(t, int64(2), got.Version)
	assert.Equal(t, codes.Yellow, got.Standing.Colour)
	assert.True(t, base.Equal(got.Created))
	require.ErrorIs(t, s.Apply(ctx, codes.Change{Subjects: []codes.Subject{next}}), codes.ErrConflict, "stale version")
	ghost := subject("room-9", codes.Green)
	ghost.Version = 3
	require.ErrorIs(t, s.Apply(ctx, codes.Change{Subjects: []codes.Subject{ghost}}), codes.ErrNotFound)
	_, err = s.Subject(ctx, "room-9")
	require.ErrorIs(t, err, codes.ErrNotFound)
	// Created and updated in one change.
	n1 := subject("room-2", codes.Green)
	n2 := n1
	n2.Version = 2
	apply(t, s, codes.Change{Subjects: []codes.Subject{n1, n2}})
	got, err = s.Subject(ctx, "room-2")
	require.NoError(t, err)
	assert.Equal(t, int64(2), got.Version)
}

func testReturnsCopies(t *testing.T, s codes.Store) {
	ctx := t.Context()
	sub := subject("room-1", codes.Green)
	e := entry("room-1", nil, 5)
	sub.Head = slices.Clone(e.Hash)
	apply(t, s, codes.Change{Subjects: []codes.Subject{sub}, Entries: []codes.Entry{e}})
	sub.Head[0] ^= 0xff
	e.Hash[0] ^= 0xff
	got, err := s.Subject(ctx, "room-1")
	require.NoError(t, err)
	assert.NotEqual(t, sub.Head, got.Head, "the store kept the caller's slice")
	got.Head[1] ^= 0xff
	again, err := s.Subject(ctx, "room-1")
	require.NoError(t, err)
	assert.NotEqual(t, got.Head, again.Head, "the store returned its own slice")
	ledger, err := s.Ledger(ctx, "room-1")
	require.NoError(t, err)
	require.NoError(t, codes.VerifyLedger(ledger))
	ledger[0].Hash[0] ^= 0xff
	ledger, err = s.Ledger(ctx, "room-1")
	require.NoError(t, err)
	require.NoError(t, codes.VerifyLedger(ledger))
}

func testLedger(t *testing.T, s codes.Store) {
	ctx := t.Context()
	apply(t, s, codes.Change{Subjects: []codes.Subject{subject("room-1", codes.Green), subject("room-10", codes.Green)}})
	e1 := entry("room-1", nil, 5)
	e2 := entry("room-1", &e1, 10)
	apply(t, s, codes.Change{Entries: []codes.Entry{e1, e2}})
	e3 := entry("room-1", &e2, 1)
	e3.Type, e3.Points, e3.Target, e3.Evidence = codes.Appeal, 0, 2, codes.Evidence{}
	e3.Hash = e3.ComputeHash()
	apply(t, s, codes.Change{Entries: []codes.Entry{e3}})
	// A prefix of another subject's id is another ledger.
	apply(t, s, codes.Change{Entries: []codes.Entry{entry("room-10", nil, 7)}})

	ledger, err := s.Ledger(ctx, "room-1")
	require.NoError(t, err)
	require.Len(t, ledger, 3)
	require.NoError(t, codes.VerifyLedger(ledger))
	assert.Equal(t, codes.Appeal, ledger[2].Type)
	assert.Equal(t, int64(2), ledger[2].Target)
	assert.Equal(t, e1.Evidence, ledger[0].Evidence)
	assert.Equal(t, e1.Key, ledger[0].Key)
	assert.Equal(t, e1.Note, ledger[0].Note)
	assert.Equal(t, e1.Recorder, ledger[0].Recorder)
	assert.True(t, e1.At.Equal(ledger[0].At))
	other, err := s.Ledger(ctx, "room-10")
	require.NoError(t, err)
	require.Len(t, other, 1)

	// Gaps, repeats and unknown subjects.
	gap := entry("room-1", &e3, 1)
	gap.Seq = 5
	require.ErrorIs(t, s.Apply(ctx, codes.Change{Entries: []codes.Entry{gap}}), codes.ErrConflict)
	require.ErrorIs(t, s.Apply(ctx, codes.Change{Entries: []codes.Entry{e3}}), codes.ErrConflict)
	require.ErrorIs(t, s.Apply(ctx, codes.Change{Entries: []codes.Entry{entry("room-9", nil, 1)}}), codes.ErrNotFound)
	_, err = s.Ledger(ctx, "room-9")
	require.ErrorIs(t, err, codes.ErrNotFound)
	empty, err := s.Ledger(ctx, "room-1x")
	require.ErrorIs(t, err, codes.ErrNotFound)
	assert.Empty(t, empty)
	// A new subject and its first entries in one change.
	n := subject("room-2", codes.Green)
	f1 := entry("room-2", nil, 1)
	f2 := entry("room-2", &f1, 2)
	apply(t, s, codes.Change{Subjects: []codes.Subject{n}, Entries: []codes.Entry{f1, f2}})
	ledger, err = s.Ledger(ctx, "room-2")
	require.NoError(t, err)
	assert.Len(t, ledger, 2)
}

func testApplyIsAtomic(t *testing.T, s codes.Store) {
	ctx := t.Context()
	apply(t, s, codes.Change{Subjects: []codes.Subject{subject("room-1", codes.Green)}})
	stale := subject("room-1", codes.Red) // version 1 again: a conflict
	good := record("room-1", base)
	e := entry("room-1", nil, 50)
	rev := codes.Revocation{Code: codes.NewRevocationID(), Subject: "room-1", Reason: "lost", By: "li", At: base}
	err := s.Apply(ctx, codes.Change{
		Codes: []codes.CodeRecord{good}, Subjects: []codes.Subject{stale}, Entries: []codes.Entry{e},
		Revocations: []codes.Revocation{rev}, Keys: []codes.PublicKey{key(t)},
		Counters: map[string]uint64{codes.CounterStatusEpoch: 1}, Events: []bus.Message{event("room-1")},
	})
	require.ErrorIs(t, err, codes.ErrConflict)
	_, err = s.Code(ctx, good.ID)
	require.ErrorIs(t, err, codes.ErrNotFound)
	ledger, err := s.Ledger(ctx, "room-1")
	require.NoError(t, err)
	assert.Empty(t, ledger)
	n := 0
	require.NoError(t, s.Revocations(ctx, func(codes.Revocation) bool { n++; return true }))
	assert.Zero(t, n)
	keys, err := s.PublicKeys(ctx)
	require.NoError(t, err)
	assert.Empty(t, keys)
	c, err := s.Counter(ctx, codes.CounterStatusEpoch)
	require.NoError(t, err)
	assert.Zero(t, c)
	pending, err := s.Pending(ctx, 10)
	require.NoError(t, err)
	assert.Empty(t, pending)
	got, err := s.Subject(ctx, "room-1")
	require.NoError(t, err)
	assert.Equal(t, codes.Green, got.Standing.Colour)
}

func key(t *testing.T) codes.PublicKey {
	t.Helper()
	k, err := codes.GenerateKey(codes.EdDSA)
	require.NoError(t, err)
	p := k.PublicKey()
	p.Issuer, p.Usage, p.Kinds, p.NotBefore = "500107-housing", codes.UsageCodes, []codes.Kind{codes.Listing}, base
	return p
}

func testRevocations(t *testing.T, s codes.Store) {
	ctx := t.Context()
	ids := []codes.RevocationID{codes.NewRevocationID(), codes.NewRevocationID(), codes.NewRevocationID()}
	var revs []codes.Revocation
	for _, id := range ids {
		revs = append(revs, codes.Revocation{Code: id, Subject: "room-1", Reason: "lock replaced", By: "li", At: base})
	}
	revs = append(revs, codes.Revocation{Subject: "room-2", Before: base, Reason: "delisted", By: "li", At: base})
	apply(t, s, codes.Change{Revocations: revs})
	require.ErrorIs(t, s.Apply(ctx, codes.Change{Revocations: revs[:1]}), codes.ErrConflict, "a code revoked twice")
	// A later subject-wide revocation replaces the earlier.
	apply(t, s, codes.Change{Revocations: []codes.Revocation{{Subject: "room-2", Before: base.Add(time.Hour), Reason: "delisted again", By: "wang", At: base.Add(time.Hour)}}})

	var got []codes.Revocation
	require.NoError(t, s.Revocations(ctx, func(r codes.Revocation) bool { got = append(got, r); return true }))
	require.Len(t, got, 4)
	slices.SortFunc(ids, func(a, b codes.RevocationID) int { return slices.Compare(a[:], b[:]) })
	for i, id := range ids {
		assert.Equal(t, id, got[i].Code, "per-code revocations first, in id order")
	}
	assert.True(t, got[3].Code.IsZero())
	assert.Equal(t, "room-2", got[3].Subject)
	assert.True(t, base.Add(time.Hour).Equal(got[3].Before))
	assert.Equal(t, "wang", got[3].By)
	n := 0
	require.NoError(t, s.Revocations(ctx, func(codes.Revocation) bool { n++; return n < 2 }))
	assert.Equal(t, 2, n, "iteration stops when yield says so")
}

func testPublicKeys(t *testing.T, s codes.Store) {
	ctx := t.Context()
	a, b := key(t), key(t)
	apply(t, s, codes.Change{Keys: []codes.PublicKey{a, b}})
	b.NotAfter = base.Add(24 * time.Hour)
	apply(t, s, codes.Change{Keys: []codes.PublicKey{b}}) // replaced
	got, err := s.PublicKeys(ctx)
	require.NoError(t, err)
	require.Len(t, got, 2)
	byID := map[codes.KeyID]codes.PublicKey{}
	for _, k := range got {
		byID[k.ID] = k
		require.NoError(t, k.Validate())
	}
	assert.True(t, slices.IsSortedFunc(got, func(x, y codes.PublicKey) int { return slices.Compare(x.ID[:], y.ID[:]) }))
	assert.Equal(t, a.SPKI, byID[a.ID].SPKI)
	assert.Equal(t, []codes.Kind{codes.Listing}, byID[a.ID].Kinds)
	assert.True(t, base.Add(24*time.Hour).Equal(byID[b.ID].NotAfter))
}

func testCounters(t *testing.T, s codes.Store) {
	ctx := t.Context()
	v, err := s.Counter(ctx, codes.CounterStatusEpoch)
	require.NoError(t, err)
	assert.Zero(t, v)
	apply(t, s, codes.Change{Counters: map[string]uint64{codes.CounterStatusEpoch: 1}})
	require.ErrorIs(t, s.Apply(ctx, codes.Change{Counters: map[string]uint64{codes.CounterStatusEpoch: 1}}), codes.ErrConflict)
	require.ErrorIs(t, s.Apply(ctx, codes.Change{Counters: map[string]uint64{codes.CounterStatusEpoch: 3}}), codes.ErrConflict)
	apply(t, s, codes.Change{Counters: map[string]uint64{codes.CounterStatusEpoch: 2, codes.CounterRevocationSeq: 1}})
	v, err = s.Counter(ctx, codes.CounterStatusEpoch)
	require.NoError(t, err)
	assert.Equal(t, uint64(2), v)
	v, err = s.Counter(ctx, codes.CounterRevocationSeq)
	require.NoError(t, err)
	assert.Equal(t, uint64(1), v)
}

func testSubjectQuery(t *testing.T, s codes.Store) {
	ctx := t.Context()
	var subs []codes.Subject
	for i := range 25 {
		subs = append(subs, subject(fmt.Sprintf("room-%02d", i), []codes.Colour{codes.Green, codes.Yellow, codes.Red}[i%3]))
	}
	apply(t, s, codes.Change{Subjects: subs})
	var ids []string
	q := codes.SubjectQuery{Colours: []codes.Colour{codes.Yellow, codes.Red}, Limit: 4}
	for {
		page, err := s.Subjects(ctx, q)
		require.NoError(t, err)
		for _, p := range page {
			ids = append(ids, p.ID)
			assert.NotEqual(t, codes.Green, p.Standing.Colour)
		}
		if len(page) < q.Limit {
			break
		}
		q.After = page[len(page)-1].ID
	}
	assert.Len(t, ids, 16)
	assert.True(t, slices.IsSorted(ids))
	all, err := s.Subjects(ctx, codes.SubjectQuery{})
	require.NoError(t, err)
	assert.Len(t, all, 25)
	_, err = s.Subjects(ctx, codes.SubjectQuery{Limit: -1})
	require.ErrorIs(t, err, codes.ErrInvalid)
	_, err = s.Subjects(ctx, codes.SubjectQuery{Colours: []codes.Colour{9}})
	require.ErrorIs(t, err, codes.ErrInvalid)
}

func testOutbox(t *testing.T, s codes.Store) {
	ctx := t.Context()
	a, b, c := event("room-1"), event("room-1"), event("room-2")
	apply(t, s, codes.Change{Events: []bus.Message{a, b}})
	apply(t, s, codes.Change{Events: []bus.Message{c}})
	require.ErrorIs(t, s.Apply(ctx, codes.Change{Events: []bus.Message{a}}), codes.ErrConflict)
	pending, err := s.Pending(ctx, 10)
	require.NoError(t, err)
	require.Len(t, pending, 3)
	assert.Equal(t, []string{a.ID, b.ID, c.ID}, []string{pending[0].ID, pending[1].ID, pending[2].ID})
	assert.Equal(t, a.Data, pending[0].Data)
	pending[0].Headers["x"] = "y"
	require.NoError(t, s.MarkPublished(ctx, b.ID, "unknown"))
	pending, err = s.Pending(ctx, 10)
	require.NoError(t, err)
	require.Len(t, pending, 2)
	assert.NotContains(t, pending[0].Headers, "x")
	one, err := s.Pending(ctx, 1)
	require.NoError(t, err)
	assert.Len(t, one, 1)
}

func testConcurrentAppends(t *testing.T, s codes.Store) {
	ctx := t.Context()
	apply(t, s, codes.Change{Subjects: []codes.Subject{subject("room-1", codes.Green)}})
	const writers, each = 4, 10
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				for {
					ledger, err := s.Ledger(ctx, "room-1")
					if err != nil {
						t.Error(err)
						return
					}
					var prev *codes.Entry
					if len(ledger) > 0 {
						prev = &ledger[len(ledger)-1]
					}
					e := entry("room-1", prev, int64(w+1))
					err = s.Apply(ctx, codes.Change{Entries: []codes.Entry{e}})
					if errors.Is(err, codes.ErrConflict) {
						continue
					}
					if err != nil {
						t.Error(err)
					}
					break
				}
			}
		}()
	}
	wg.Wait()
	ledger, err := s.Ledger(ctx, "room-1")
	require.NoError(t, err)
	assert.Len(t, ledger, writers*each, "no append lost")
	require.NoError(t, codes.VerifyLedger(ledger))
}

func testCancelledContext(t *testing.T, s codes.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	require.ErrorIs(t, s.Apply(ctx, codes.Change{Subjects: []codes.Subject{subject("room-1", codes.Green)}}), context.Canceled)
	_, err := s.Subject(ctx, "room-1")
	require.ErrorIs(t, err, context.Canceled)
	_, err = s.Subject(t.Context(), "room-1")
	require.ErrorIs(t, err, codes.ErrNotFound, "nothing written")
}
