package audit_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/audit"
	"github.com/govkit/govkit/audit/audittest"
	"github.com/govkit/govkit/clock"
)

var t0 = time.Date(2025, time.January, 6, 8, 0, 0, 0, time.UTC)

func TestMemoryStoreConformance(t *testing.T) {
	audittest.Run(t, audittest.Harness{
		New: func(t *testing.T) audit.Store { return audit.NewMemoryStore() },
		Tamper: func(t *testing.T, s audit.Store, seq uint64) {
			audit.TamperMemory(t, s.(*audit.MemoryStore), seq, func(e *audit.Entry) {
				e.Reason += " (edited)"
			})
		},
	})
}

func newLog(t testing.TB, s audit.Store, clk clock.Clock) *audit.Log {
	t.Helper()
	l, err := audit.New(s, clk)
	require.NoError(t, err)
	return l
}

func record(t testing.TB, l *audit.Log, n int) []audit.Entry {
	t.Helper()
	var out []audit.Entry
	for i := range n {
		e, err := l.Record(context.Background(), audit.Entry{ActorID: fmt.Sprint("a", i%4), Action: "read",
			ResourceKind: "incident", ResourceID: fmt.Sprint("inc-", i), Allowed: i%3 != 0, Reason: fmt.Sprint("r", i)})
		require.NoError(t, err)
		out = append(out, e)
	}
	return out
}

func TestNewRejectsNil(t *testing.T) {
	_, err := audit.New(nil, clock.Real())
	var ae *audit.ArgumentError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, "store", ae.Name)
	assert.ErrorIs(t, err, audit.ErrInvalidArgument)
	_, err = audit.New(audit.NewMemoryStore(), nil)
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, "clock", ae.Name)
}

func TestHashCoversEveryField(t *testing.T) {
	base := audit.Seal(audit.Entry{}, audit.Entry{Time: t0, ActorID: "li", ActorKind: "street-staff",
		Action: "read", ResourceKind: "incident", ResourceID: "inc-1", Jurisdiction: "500107001",
		Department: "water", Allowed: true, Reason: "ok"})
	require.Len(t, base.Hash, audit.HashSize)
	assert.Equal(t, make([]byte, audit.HashSize), base.PrevHash)
	assert.Equal(t, uint64(1), base.Seq)
	edits := map[string]func(*audit.Entry){
		"Seq":          func(e *audit.Entry) { e.Seq++ },
		"Time":         func(e *audit.Entry) { e.Time = e.Time.Add(time.Microsecond) },
		"ActorID":      func(e *audit.Entry) { e.ActorID += "x" },
		"ActorKind":    func(e *audit.Entry) { e.ActorKind = "citizen" },
		"Action":       func(e *audit.Entry) { e.Action = "verify" },
		"ResourceKind": func(e *audit.Entry) { e.ResourceKind = "permit" },
		"ResourceID":   func(e *audit.Entry) { e.ResourceID = "" },
		"Jurisdiction": func(e *audit.Entry) { e.Jurisdiction = "500107002" },
		"Department":   func(e *audit.Entry) { e.Department = "gas" },
		"Allowed":      func(e *audit.Entry) { e.Allowed = false },
		"Reason":       func(e *audit.Entry) { e.Reason = "ok." },
		"PrevHash":     func(e *audit.Entry) { e.PrevHash = bytes.Repeat([]byte{1}, audit.HashSize) },
		// Moving text from one field to the next must change the hash.
		"boundary": func(e *audit.Entry) { e.ActorID, e.ActorKind = "listreet-staff", "" },
	}
	for name, edit := range edits {
		e := base
		edit(&e)
		assert.NotEqual(t, base.Hash, e.ComputeHash(), name)
	}
	// Below a microsecond, and the time zone, do not matter.
	e := base
	e.Time = e.Time.Add(999 * time.Nanosecond).In(time.FixedZone("CST", 8*3600))
	assert.Equal(t, base.Hash, e.ComputeHash())
	assert.NoError(t, base.Validate())
}

func TestRecordSetsTheSeal(t *testing.T) {
	s := audit.NewMemoryStore()
	clk := clock.NewManual(t0.Add(1500 * time.Nanosecond))
	l := newLog(t, s, clk)
	e, err := l.Record(t.Context(), audit.Entry{Seq: 99, Hash: []byte("forged"), Action: "read", ResourceKind: "incident"})
	require.NoError(t, err)
	assert.Equal(t, uint64(1), e.Seq, "given seal fields are ignored")
	assert.Equal(t, t0.Add(time.Microsecond), e.Time)
	assert.Equal(t, e.ComputeHash(), e.Hash)

	// A second log whose clock lags (another process) does not make time
	// run backwards along the chain.
	late := newLog(t, s, clock.NewManual(t0.Add(-time.Hour)))
	e2, err := late.Record(t.Context(), audit.Entry{Action: "read", ResourceKind: "incident"})
	require.NoError(t, err)
	assert.Equal(t, uint64(2), e2.Seq)
	assert.Equal(t, e.Time, e2.Time)
	assert.Equal(t, e.Hash, e2.PrevHash)
}

func TestRecordDecision(t *testing.T) {
	l := newLog(t, audit.NewMemoryStore(), clock.NewManual(t0))
	li := access.Actor{ID: "li", Kind: access.StreetStaff, Scope: "500107001"}
	d := access.Decision{Reason: access.OutOfJurisdiction, Action: "read", ActorID: "li", Scope: "500107001",
		Resource: access.Resource{Kind: "incident", ID: "inc-9", Jurisdiction: "500107002001001", Department: "water", Owner: "zhao"}}
	e, err := l.RecordDecision(access.WithActor(t.Context(), li), d)
	require.NoError(t, err)
	assert.Equal(t, "li", e.ActorID)
	assert.Equal(t, "street-staff", e.ActorKind)
	assert.Equal(t, "read", e.Action)
	assert.Equal(t, "incident", e.ResourceKind)
	assert.Equal(t, "inc-9", e.ResourceID)
	assert.EqualValues(t, "500107002001001", e.Jurisdiction)
	assert.Equal(t, "water", e.Department)
	assert.False(t, e.Allowed)
	assert.Equal(t, d.Explain(), e.Reason)

	// The context's actor is someone else: no kind is claimed for li.
	other := access.Actor{ID: "wang", Kind: access.Supervisor, Scope: "500107"}
	e, err = l.RecordDecision(access.WithActor(t.Context(), other), d)
	require.NoError(t, err)
	assert.Empty(t, e.ActorKind)
}

// failingStore refuses every append, as a store whose database is down.
// It embeds the Store interface, not *MemoryStore, so that the memory
// store's HeadLocker method is not promoted.
type failingStore struct {
	audit.Store
	appends atomic.Int32
}

var errDown = errors.New("database is down")

func (f *failingStore) Append(context.Context, audit.Entry) error {
	f.appends.Add(1)
	return errDown
}

func TestAuthorizerFailsClosed(t *testing.T) {
	store := &failingStore{Store: audit.NewMemoryStore()}
	var reported error
	az := audit.Authorizer(access.AllowAll(), newLog(t, store, clock.NewManual(t0)),
		audit.OnRecordError(func(_ context.Context, d access.Decision, err error) {
			assert.True(t, d.Allowed, "the hook sees the original decision")
			reported = err
		}))
	li := access.Actor{ID: "li", Kind: access.StreetStaff, Scope: "500107001"}
	r := access.Resource{Kind: "incident", ID: "inc-1", Jurisdiction: "500107001001001"}
	d := az.Authorize(access.WithActor(t.Context(), li), "close", r)
	assert.False(t, d.Allowed)
	assert.Equal(t, access.AuditFailed, d.Reason)
	assert.Equal(t, "close", d.Action)
	assert.Equal(t, r, d.Resource)
	assert.Equal(t, "li", d.ActorID)
	assert.ErrorIs(t, d.Err(), access.ErrDenied)
	assert.Equal(t, "denied li to close incident inc-1: the decision could not be audited", d.Explain())
	assert.ErrorIs(t, reported, errDown)
	assert.Equal(t, int32(1), store.appends.Load(), "a store error is not a conflict: no retry")
}

func TestAuthorizerRecordsDenialsAndFailsClosedOnBadInput(t *testing.T) {
	p, err := access.ParsePolicy([]byte(`{"version":1,"roles":{"officer":[{"action":"read","resource":"incident"}]}}`))
	require.NoError(t, err)
	s := audit.NewMemoryStore()
	l := newLog(t, s, clock.NewManual(t0))
	az := audit.Authorizer(p, l)
	li := access.Actor{ID: "li", Kind: access.StreetStaff, Scope: "500107001", Roles: []string{"officer"}}
	ctx := access.WithActor(t.Context(), li)

	assert.True(t, az.Authorize(ctx, "read", access.Resource{Kind: "incident", Jurisdiction: "500107001001001"}).Allowed)
	d := az.Authorize(ctx, "verify", access.Resource{Kind: "incident", Jurisdiction: "500107001001001"})
	assert.Equal(t, access.NoGrant, d.Reason, "a denial is recorded and returned as it was")
	d = az.Authorize(t.Context(), "read", access.Resource{Kind: "incident", Jurisdiction: "500107001001001"})
	assert.Equal(t, access.NoActor, d.Reason)
	// Without a resource kind the decision cannot be recorded: refused.
	d = az.Authorize(access.WithActor(t.Context(), access.Actor{ID: "root", Kind: access.CityStaff, Scope: "500000"}), "read", access.Resource{})
	assert.Equal(t, access.AuditFailed, d.Reason)

	got, err := s.Range(t.Context(), 1, 0)
	require.NoError(t, err)
	require.Len(t, got, 3)
	assert.Equal(t, []bool{true, false, false}, []bool{got[0].Allowed, got[1].Allowed, got[2].Allowed})
	assert.Contains(t, got[1].Reason, "no grant")
	assert.Contains(t, got[2].Reason, "no actor")

	assert.Panics(t, func() { audit.Authorizer(nil, l) })
	assert.Panics(t, func() { audit.Authorizer(p, nil) })
}

func TestAuthorizerFailsClosedOnCancelledContext(t *testing.T) {
	s := audit.NewMemoryStore()
	az := audit.Authorizer(access.AllowAll(), newLog(t, s, clock.NewManual(t0)))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	assert.Equal(t, access.AuditFailed, az.Authorize(ctx, "read", access.Resource{Kind: "incident"}).Reason)
	_, ok, err := s.Head(t.Context())
	require.NoError(t, err)
	assert.False(t, ok)
}

// conflictingStore loses every race for the head.
type conflictingStore struct {
	audit.Store
	appends int
}

func (c *conflictingStore) Append(_ context.Context, e audit.Entry) error {
	c.appends++
	return &audit.ConflictError{Seq: e.Seq, HeadSeq: e.Seq, Reason: "someone else was faster"}
}

func TestRecordGivesUpAfterBoundedConflicts(t *testing.T) {
	s := &conflictingStore{Store: audit.NewMemoryStore()}
	_, err := newLog(t, s, clock.NewManual(t0)).Record(t.Context(), audit.Entry{Action: "read", ResourceKind: "incident"})
	require.ErrorIs(t, err, audit.ErrConflict)
	var ce *audit.ConflictError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, audit.RecordAttempts, s.appends)
}

func TestVerifyFindsEveryKindOfDamage(t *testing.T) {
	setup := func(t *testing.T) (*audit.MemoryStore, *audit.Log, []audit.Entry) {
		s := audit.NewMemoryStore()
		l := newLog(t, s, clock.NewManual(t0))
		audit.SetPageSize(l, 3) // several pages
		es := record(t, l, 10)
		require.NoError(t, l.Verify(t.Context()))
		return s, l, es
	}
	tamperAt := func(t *testing.T, l *audit.Log, seq uint64) {
		t.Helper()
		err := l.Verify(t.Context())
		var te *audit.TamperError
		require.ErrorAs(t, err, &te)
		assert.ErrorIs(t, err, audit.ErrTampered)
		assert.Equal(t, seq, te.Seq, te.Error())
	}
	t.Run("edited field", func(t *testing.T) {
		s, l, _ := setup(t)
		audit.TamperMemory(t, s, 4, func(e *audit.Entry) { e.Allowed = !e.Allowed })
		tamperAt(t, l, 4)
	})
	t.Run("edited and rehashed", func(t *testing.T) {
		s, l, _ := setup(t)
		audit.TamperMemory(t, s, 6, func(e *audit.Entry) { e.Reason = "nothing to see"; e.Hash = e.ComputeHash() })
		tamperAt(t, l, 7) // entry 7's PrevHash no longer matches
	})
	t.Run("deleted", func(t *testing.T) {
		s, l, _ := setup(t)
		audit.DeleteMemory(t, s, 3)
		tamperAt(t, l, 3)
	})
	t.Run("first deleted", func(t *testing.T) {
		s, l, _ := setup(t)
		audit.DeleteMemory(t, s, 1)
		tamperAt(t, l, 1)
	})
	t.Run("renumbered", func(t *testing.T) {
		s, l, es := setup(t)
		audit.TamperMemory(t, s, 2, func(e *audit.Entry) { *e = es[2]; e.Seq = 2 })
		tamperAt(t, l, 2)
	})
	t.Run("tail cut off", func(t *testing.T) {
		s, l, es := setup(t)
		audit.DeleteMemory(t, s, 10)
		require.NoError(t, l.Verify(t.Context()), "a chain alone cannot show its end was cut")
		_, err := l.VerifyFrom(t.Context(), es[9])
		assert.ErrorIs(t, err, audit.ErrTampered, "an anchor kept elsewhere can")
	})
	t.Run("incremental", func(t *testing.T) {
		_, l, es := setup(t)
		head, err := l.VerifyFrom(t.Context(), es[4])
		require.NoError(t, err)
		assert.Equal(t, es[9], head)
	})
}

func TestVerifyReportsStoreErrors(t *testing.T) {
	l := newLog(t, audit.NewMemoryStore(), clock.Real())
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := l.Verify(ctx)
	assert.ErrorIs(t, err, context.Canceled)
	assert.NotErrorIs(t, err, audit.ErrTampered)
}

func TestLimits(t *testing.T) {
	s := audit.NewMemoryStore()
	l := newLog(t, s, clock.Real())
	record(t, l, audit.MaxLimit+5)
	got, err := s.Range(t.Context(), 1, audit.MaxLimit+100)
	require.NoError(t, err)
	assert.Len(t, got, audit.MaxLimit)
	got, err = s.Range(t.Context(), 1, 0)
	require.NoError(t, err)
	assert.Len(t, got, audit.DefaultLimit)
	got, err = s.Query(t.Context(), audit.Query{Since: t0, Limit: 5000})
	require.NoError(t, err)
	assert.Len(t, got, audit.MaxLimit)
	assert.Equal(t, uint64(audit.MaxLimit), got[len(got)-1].Seq)
	require.NoError(t, l.Verify(t.Context()))
}

// In the time index, entries are in time order; Query still answers in
// Seq order, and Limit keeps the lowest Seqs, when times do not grow with
// Seq (entries appended directly to the store).
func TestMemoryTimeQueryWithUnorderedTimes(t *testing.T) {
	s := audit.NewMemoryStore()
	var head audit.Entry
	for _, minute := range []int{5, 1, 4, 2, 3, -30} {
		head = audit.Seal(head, audit.Entry{Time: t0.Add(time.Duration(minute) * time.Minute), Action: "read", ResourceKind: "incident"})
		require.NoError(t, s.Append(t.Context(), head))
	}
	got, err := s.Query(t.Context(), audit.Query{Since: t0.Add(-time.Hour), Limit: 3})
	require.NoError(t, err)
	assert.Equal(t, []uint64{1, 2, 3}, []uint64{got[0].Seq, got[1].Seq, got[2].Seq})
	got, err = s.Query(t.Context(), audit.Query{Since: t0.Add(2 * time.Minute), Until: t0.Add(5 * time.Minute)})
	require.NoError(t, err)
	require.Len(t, got, 3)
	assert.Equal(t, []uint64{3, 4, 5}, []uint64{got[0].Seq, got[1].Seq, got[2].Seq})
	got, err = s.Query(t.Context(), audit.Query{Until: t0})
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, uint64(6), got[0].Seq, "times before 1970 and before t0 sort first")
}

// BenchmarkRecord is one decision recorded in the in-memory log: read the
// head, seal (SHA-256) and append in one memdb transaction.
func BenchmarkRecord(b *testing.B) {
	l := newLog(b, audit.NewMemoryStore(), clock.Real())
	ctx := context.Background()
	e := audit.Entry{ActorID: "li", ActorKind: "street-staff", Action: "verify", ResourceKind: "incident",
		ResourceID: "inc-1", Jurisdiction: "500107001001001", Allowed: true,
		Reason: "allowed li to verify incident inc-1 in 500107001001001: role district-supervisor grants verify incident"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.Record(ctx, e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerify checks a chain of 10,000 entries.
func BenchmarkVerify(b *testing.B) {
	l := newLog(b, audit.NewMemoryStore(), clock.Real())
	record(b, l, 10_000)
	b.ReportAllocs()
	for b.Loop() {
		if err := l.Verify(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}
