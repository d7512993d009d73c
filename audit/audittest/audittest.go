package audittest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/audit"
	"github.com/govkit/govkit/clock"
)

// Harness tells the suite how to make a store and how to tamper with one.
type Harness struct {
	// New returns a new, empty store for one test. Required.
	New func(t *testing.T) audit.Store
	// Tamper, if set, changes the stored contents of entry seq of s (say,
	// its Reason) without updating its hash, bypassing the store's API. The
	// tampering tests are skipped without it.
	Tamper func(t *testing.T, s audit.Store, seq uint64)
}

// t0 is when the suite's logs begin.
var t0 = time.Date(2025, time.January, 6, 8, 0, 0, 0, time.UTC)

// Run runs every conformance test as a subtest of t.
func Run(t *testing.T, h Harness) {
	if h.New == nil {
		t.Fatal("audittest: Harness.New is nil")
	}
	tests := []struct {
		name string
		fn   func(*testing.T, Harness)
	}{
		{"EmptyLog", testEmptyLog},
		{"AppendHeadRange", testAppendHeadRange},
		{"AppendRejectsConflicts", testAppendRejectsConflicts},
		{"AppendRejectsInvalid", testAppendRejectsInvalid},
		{"RoundTrip", testRoundTrip},
		{"Query", testQuery},
		{"ConcurrentRecord", testConcurrentRecord},
		{"TwoLogsOneStore", testTwoLogs},
		{"ConcurrentAppendsNeverFork", testConcurrentAppends},
		{"LockingAndOptimisticWriters", testMixedWriters},
		{"Verify", testVerify},
		{"VerifyDetectsTampering", testTamper},
		{"RecordValidation", testRecordValidation},
		{"AuthorizerRecords", testAuthorizer},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, h) })
	}
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func newLog(t *testing.T, s audit.Store, clk clock.Clock) *audit.Log {
	t.Helper()
	l, err := audit.New(s, clk)
	require.NoError(t, err)
	return l
}

// sample returns the i-th made-up decision, without a seal.
func sample(i int) audit.Entry {
	return audit.Entry{
		ActorID:      fmt.Sprintf("actor-%d", i%3),
		ActorKind:    "street-staff",
		Action:       "read",
		ResourceKind: "incident",
		ResourceID:   fmt.Sprintf("inc-%d", i),
		Jurisdiction: "500107001001001",
		Department:   "city-management",
		Allowed:      i%2 == 0,
		Reason:       fmt.Sprintf("decision %d", i),
		Time:         t0.Add(time.Duration(i) * time.Minute),
	}
}

// appendChain seals and appends n sample entries and returns them.
func appendChain(t *testing.T, s audit.Store, n int) []audit.Entry {
	t.Helper()
	ctx := ctxFor(t)
	head, _, err := s.Head(ctx)
	require.NoError(t, err)
	var out []audit.Entry
	for i := range n {
		e := audit.Seal(head, sample(int(head.Seq)+i+1))
		require.NoError(t, s.Append(ctx, e), "append %d", e.Seq)
		out = append(out, e)
		head = e
	}
	return out
}

// all reads the whole log.
func all(t *testing.T, s audit.Store) []audit.Entry {
	t.Helper()
	ctx := ctxFor(t)
	out := []audit.Entry{}
	for from := uint64(1); ; {
		page, err := s.Range(ctx, from, audit.MaxLimit)
		require.NoError(t, err)
		if len(page) == 0 {
			return out
		}
		out = append(out, page...)
		from = page[len(page)-1].Seq + 1
	}
}

func seqs(es []audit.Entry) []uint64 {
	out := []uint64{}
	for _, e := range es {
		out = append(out, e.Seq)
	}
	return out
}

// requireUnchanged checks that s still holds exactly want.
func requireUnchanged(t *testing.T, s audit.Store, want []audit.Entry) {
	t.Helper()
	head, ok, err := s.Head(ctxFor(t))
	require.NoError(t, err)
	if len(want) == 0 {
		require.False(t, ok, "the log should be empty, head is %d", head.Seq)
		return
	}
	require.True(t, ok)
	require.Equal(t, want[len(want)-1], head)
	require.Equal(t, want, all(t, s))
}

func testEmptyLog(t *testing.T, h Harness) {
	s, ctx := h.New(t), ctxFor(t)
	head, ok, err := s.Head(ctx)
	require.NoError(t, err)
	assert.False(t, ok)
	assert.Zero(t, head.Seq)
	got, err := s.Range(ctx, 1, 10)
	require.NoError(t, err)
	assert.Empty(t, got)
	got, err = s.Query(ctx, audit.Query{})
	require.NoError(t, err)
	assert.Empty(t, got)
	assert.NoError(t, newLog(t, s, clock.NewManual(t0)).Verify(ctx))
}

func testAppendHeadRange(t *testing.T, h Harness) {
	s, ctx := h.New(t), ctxFor(t)
	es := appendChain(t, s, 5)
	head, ok, err := s.Head(ctx)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, es[4], head)

	for _, c := range []struct {
		from  uint64
		limit int
		want  []audit.Entry
	}{
		{1, 0, es}, {0, 0, es}, {1, 100, es}, {3, 2, es[2:4]}, {5, 10, es[4:]},
		{2, 1, es[1:2]}, {6, 10, []audit.Entry{}}, {1 << 62, 1, []audit.Entry{}},
	} {
		got, err := s.Range(ctx, c.from, c.limit)
		require.NoError(t, err)
		assert.Equal(t, c.want, got, "Range(%d, %d)", c.from, c.limit)
	}
	_, err = s.Range(ctx, 1, -1)
	assert.ErrorIs(t, err, audit.ErrInvalidArgument)

	// What the caller does with what it got does not reach the store.
	got, err := s.Range(ctx, 1, 1)
	require.NoError(t, err)
	got[0].Hash[0] ^= 0xff
	got[0].PrevHash[0] ^= 0xff
	requireUnchanged(t, s, es)
}

// reseal returns e with the given Seq and PrevHash and a matching Hash: a
// well-formed entry that may not follow the head.
func reseal(e audit.Entry, seq uint64, prev []byte) audit.Entry {
	e.Seq, e.PrevHash = seq, bytes.Clone(prev)
	e.Hash = e.ComputeHash()
	return e
}

func testAppendRejectsConflicts(t *testing.T, h Harness) {
	s, ctx := h.New(t), ctxFor(t)
	zero := make([]byte, audit.HashSize)
	other := bytes.Repeat([]byte{7}, audit.HashSize)
	conflict := func(e audit.Entry, want []audit.Entry, what string) {
		t.Helper()
		err := s.Append(ctx, e)
		require.ErrorIs(t, err, audit.ErrConflict, what)
		requireUnchanged(t, s, want)
	}

	conflict(reseal(sample(1), 2, zero), nil, "seq 2 on an empty log")
	conflict(reseal(sample(1), 1, other), nil, "seq 1 with a PrevHash that is not zero")

	es := appendChain(t, s, 3)
	conflict(reseal(sample(9), 5, es[2].Hash), es, "a gap")
	conflict(es[2], es, "the head again")
	conflict(es[0], es, "entry 1 again")
	conflict(audit.Seal(es[0], sample(9)), es, "a different entry 2")
	conflict(reseal(sample(9), 4, es[1].Hash), es, "the right seq after the wrong hash")
	conflict(reseal(sample(9), 4, other), es, "the right seq after an unknown hash")
	conflict(reseal(sample(9), 3, es[1].Hash), es, "a fork at the head")

	// The right entry is still accepted afterwards.
	next := audit.Seal(es[2], sample(4))
	require.NoError(t, s.Append(ctx, next))
	requireUnchanged(t, s, append(es, next))
}

func testAppendRejectsInvalid(t *testing.T, h Harness) {
	s, ctx := h.New(t), ctxFor(t)
	es := appendChain(t, s, 2)
	good := audit.Seal(es[1], sample(3))
	for name, e := range map[string]audit.Entry{
		"wrong hash":      func(e audit.Entry) audit.Entry { e.Hash = bytes.Clone(e.Hash); e.Hash[0] ^= 1; return e }(good),
		"edited field":    func(e audit.Entry) audit.Entry { e.Allowed = !e.Allowed; return e }(good),
		"no hash":         func(e audit.Entry) audit.Entry { e.Hash = nil; return e }(good),
		"short prev hash": func(e audit.Entry) audit.Entry { e.PrevHash = e.PrevHash[:8]; e.Hash = e.ComputeHash(); return e }(good),
		"no action":       func(e audit.Entry) audit.Entry { e.Action = ""; e.Hash = e.ComputeHash(); return e }(good),
		"no kind":         func(e audit.Entry) audit.Entry { e.ResourceKind = ""; e.Hash = e.ComputeHash(); return e }(good),
		"zero time":       func(e audit.Entry) audit.Entry { e.Time = time.Time{}; e.Hash = e.ComputeHash(); return e }(good),
		"bad UTF-8":       func(e audit.Entry) audit.Entry { e.Reason = "\xff"; e.Hash = e.ComputeHash(); return e }(good),
		"NUL byte":        func(e audit.Entry) audit.Entry { e.ActorID = "a\x00b"; e.Hash = e.ComputeHash(); return e }(good),
		"seq 0":           func(e audit.Entry) audit.Entry { e.Seq = 0; e.Hash = e.ComputeHash(); return e }(good),
	} {
		err := s.Append(ctx, e)
		require.ErrorIs(t, err, audit.ErrInvalidEntry, name)
		var ee *audit.EntryError
		assert.True(t, errors.As(err, &ee), "%s: %v is not an *audit.EntryError", name, err)
		requireUnchanged(t, s, es)
	}
	require.NoError(t, s.Append(ctx, good))
}

func testRoundTrip(t *testing.T, h Harness) {
	s, ctx := h.New(t), ctxFor(t)
	shanghai := time.FixedZone("CST", 8*3600)
	full := audit.Seal(audit.Entry{}, audit.Entry{
		Time:         time.Date(2025, 3, 14, 9, 26, 53, 589793238, shanghai),
		ActorID:      "0193a5b2-7c1e-7d4f-9a31-2f6e8c0d4b17",
		ActorKind:    "department-handler",
		Action:       "impose-fine",
		ResourceKind: "work-order",
		ResourceID:   "wo/2025/03/14-0007",
		Jurisdiction: "500107001002003",
		Department:   "城市管理局",
		Allowed:      true,
		Reason:       "allowed 李 to impose-fine — \"quoted\", 'single', \\ back\tslash\n" + strings.Repeat("长", 5000),
	})
	require.Equal(t, time.Date(2025, 3, 14, 1, 26, 53, 589793000, time.UTC), full.Time, "Seal normalizes the time")
	require.NoError(t, s.Append(ctx, full))

	// Every optional field empty, and a denial.
	bare := audit.Seal(full, audit.Entry{Time: full.Time, Action: "read", ResourceKind: "incident"})
	require.NoError(t, s.Append(ctx, bare))

	// A time that is not normalized is stored normalized; the hash, taken
	// at microsecond precision, is the same either way.
	third := audit.Seal(bare, sample(3))
	sent := third
	sent.Time = third.Time.Add(999 * time.Nanosecond).In(shanghai)
	require.NoError(t, s.Append(ctx, sent))

	got := all(t, s)
	require.Equal(t, []audit.Entry{full, bare, third}, got)
	for _, e := range got {
		assert.Equal(t, time.UTC, e.Time.Location(), "entry %d", e.Seq)
		assert.Zero(t, e.Time.Nanosecond()%1000, "entry %d", e.Seq)
		assert.NoError(t, e.Validate())
	}
	head, _, err := s.Head(ctx)
	require.NoError(t, err)
	assert.Equal(t, third, head)
	assert.NoError(t, newLog(t, s, clock.NewManual(t0)).Verify(ctx))

	// A Log's own entries survive the trip too, whatever the clock's zone
	// and precision.
	l := newLog(t, s, clock.NewManual(time.Date(2026, 2, 1, 10, 0, 0, 123456789, shanghai)))
	rec, err := l.Record(ctx, sample(4))
	require.NoError(t, err)
	assert.Equal(t, time.Date(2026, 2, 1, 2, 0, 0, 123456000, time.UTC), rec.Time)
	back, err := s.Range(ctx, rec.Seq, 1)
	require.NoError(t, err)
	require.Equal(t, []audit.Entry{rec}, back)
	assert.NoError(t, l.Verify(ctx))
}

func testQuery(t *testing.T, h Harness) {
	s, ctx := h.New(t), ctxFor(t)
	clk := clock.NewManual(t0)
	l := newLog(t, s, clk)
	record := func(actor, action, kind, id string, allowed bool) audit.Entry {
		t.Helper()
		e, err := l.Record(ctx, audit.Entry{ActorID: actor, Action: action, ResourceKind: kind,
			ResourceID: id, Jurisdiction: "500107001001001", Allowed: allowed, Reason: action + " " + id})
		require.NoError(t, err)
		clk.Advance(time.Minute)
		return e
	}
	es := []audit.Entry{
		record("li", "read", "incident", "inc-1", true),        // 1 at t0
		record("wang", "verify", "incident", "inc-1", true),    // 2 at t0+1m
		record("li", "assign", "work-order", "wo-1", true),     // 3 at t0+2m
		record("zhao", "read", "incident", "inc-2", false),     // 4 at t0+3m
		record("li", "read", "incident", "inc-2", true),        // 5 at t0+4m
		record("", "read", "incident", "inc-1", false),         // 6 at t0+5m
		record("li", "read", "incident-report", "inc-1", true), // 7 at t0+6m
	}
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	for _, c := range []struct {
		name string
		q    audit.Query
		want []uint64
	}{
		{"everything", audit.Query{}, []uint64{1, 2, 3, 4, 5, 6, 7}},
		{"limit", audit.Query{Limit: 3}, []uint64{1, 2, 3}},
		{"from seq", audit.Query{FromSeq: 6}, []uint64{6, 7}},
		{"actor", audit.Query{ActorID: "li"}, []uint64{1, 3, 5, 7}},
		{"actor limit", audit.Query{ActorID: "li", Limit: 2}, []uint64{1, 3}},
		{"actor from seq", audit.Query{ActorID: "li", FromSeq: 2}, []uint64{3, 5, 7}},
		{"actor is not a prefix", audit.Query{ActorID: "l"}, []uint64{}},
		{"kind", audit.Query{ResourceKind: "incident"}, []uint64{1, 2, 4, 5, 6}},
		{"kind and id", audit.Query{ResourceKind: "incident", ResourceID: "inc-1"}, []uint64{1, 2, 6}},
		{"id alone", audit.Query{ResourceID: "inc-2"}, []uint64{4, 5}},
		{"window", audit.Query{Since: at(1), Until: at(4)}, []uint64{2, 3, 4}},
		{"since", audit.Query{Since: at(4)}, []uint64{5, 6, 7}},
		{"until", audit.Query{Until: at(1)}, []uint64{1}},
		{"window limit", audit.Query{Since: at(1), Limit: 2}, []uint64{2, 3}},
		{"window from seq", audit.Query{Since: at(1), Until: at(5), FromSeq: 4}, []uint64{4, 5}},
		{"since within a microsecond", audit.Query{Since: at(1).Add(500 * time.Nanosecond)}, []uint64{2, 3, 4, 5, 6, 7}},
		{"bounds in another zone", audit.Query{Since: at(1).In(time.FixedZone("X", -5*3600)), Until: at(2).In(time.FixedZone("Y", 3600))}, []uint64{2}},
		{"actor in window", audit.Query{ActorID: "li", Since: at(1), Until: at(5)}, []uint64{3, 5}},
		{"all conditions", audit.Query{ActorID: "li", ResourceKind: "incident", ResourceID: "inc-2", Since: at(2)}, []uint64{5}},
		{"unknown actor", audit.Query{ActorID: "nobody"}, []uint64{}},
		{"unknown kind", audit.Query{ResourceKind: "permit"}, []uint64{}},
		{"kind with another's id", audit.Query{ResourceKind: "work-order", ResourceID: "inc-1"}, []uint64{}},
		{"after the last", audit.Query{Since: at(60)}, []uint64{}},
		{"empty window", audit.Query{Since: at(2), Until: at(2)}, []uint64{}},
		{"before the first", audit.Query{Until: at(0)}, []uint64{}},
		{"from beyond", audit.Query{FromSeq: 8}, []uint64{}},
	} {
		got, err := s.Query(ctx, c.q)
		require.NoError(t, err, c.name)
		assert.Equal(t, c.want, seqs(got), c.name)
		for _, e := range got {
			assert.Equal(t, es[e.Seq-1], e, "%s: entry %d", c.name, e.Seq)
		}
	}
	_, err := s.Query(ctx, audit.Query{Since: at(2), Until: at(1)})
	assert.ErrorIs(t, err, audit.ErrInvalidArgument)
	_, err = s.Query(ctx, audit.Query{Limit: -1})
	assert.ErrorIs(t, err, audit.ErrInvalidArgument)
}

// recordConcurrently runs workers goroutines per log, each recording n
// entries, and returns the Seqs they got.
func recordConcurrently(t *testing.T, logs []*audit.Log, workers, n int) []uint64 {
	ctx := ctxFor(t)
	var (
		mu   sync.Mutex
		got  []uint64
		wg   sync.WaitGroup
		errs = make(chan error, len(logs)*workers*n)
	)
	for li, l := range logs {
		for w := range workers {
			wg.Go(func() {
				for i := range n {
					e, err := l.Record(ctx, audit.Entry{ActorID: fmt.Sprintf("log%d-worker%d", li, w),
						Action: "read", ResourceKind: "incident", ResourceID: fmt.Sprint(i), Reason: "concurrent"})
					if err != nil {
						errs <- err
						return
					}
					mu.Lock()
					got = append(got, e.Seq)
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Record: %v", err)
	}
	return got
}

// requireGapless checks that s holds entries 1..n forming a valid chain
// and that the Records returned exactly those Seqs.
func requireGapless(t *testing.T, s audit.Store, l *audit.Log, recorded []uint64, n int) {
	t.Helper()
	stored := all(t, s)
	require.Len(t, stored, n)
	seen := make(map[uint64]bool, n)
	for _, seq := range recorded {
		require.False(t, seen[seq], "seq %d returned twice", seq)
		seen[seq] = true
	}
	for i, e := range stored {
		require.Equal(t, uint64(i+1), e.Seq)
		require.True(t, seen[e.Seq], "seq %d stored but returned to no Record", e.Seq)
		if i > 0 {
			require.False(t, e.Time.Before(stored[i-1].Time), "time goes backwards at %d", e.Seq)
		}
	}
	require.NoError(t, l.Verify(ctxFor(t)))
}

func testConcurrentRecord(t *testing.T, h Harness) {
	s := h.New(t)
	l := newLog(t, s, clock.Real())
	const workers, n = 8, 25
	requireGapless(t, s, l, recordConcurrently(t, []*audit.Log{l}, workers, n), workers*n)
}

// Two Logs over one store stand for two processes sharing a database:
// their Records collide on the head and must retry.
func testTwoLogs(t *testing.T, h Harness) {
	s := h.New(t)
	a, b := newLog(t, s, clock.Real()), newLog(t, s, clock.Real())
	const workers, n = 4, 20
	requireGapless(t, s, a, recordConcurrently(t, []*audit.Log{a, b}, workers, n), 2*workers*n)
	assert.NoError(t, b.Verify(ctxFor(t)))
}

// Appends racing for the head: some lose with ErrConflict, but the log
// never forks or skips a number.
func testConcurrentAppends(t *testing.T, h Harness) {
	s, ctx := h.New(t), ctxFor(t)
	const workers, target = 8, 60
	var (
		wg       sync.WaitGroup
		won      sync.Map
		failures = make(chan error, workers)
	)
	for w := range workers {
		wg.Go(func() {
			for {
				head, _, err := s.Head(ctx)
				if err != nil {
					failures <- err
					return
				}
				if head.Seq >= target {
					return
				}
				e := audit.Seal(head, sample(w))
				switch err := s.Append(ctx, e); {
				case err == nil:
					if _, dup := won.LoadOrStore(e.Seq, w); dup {
						failures <- fmt.Errorf("two appends of entry %d succeeded", e.Seq)
						return
					}
				case !errors.Is(err, audit.ErrConflict):
					failures <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(failures)
	for err := range failures {
		t.Error(err)
	}
	stored := all(t, s)
	require.Len(t, stored, target)
	require.Equal(t, uint64(target), stored[target-1].Seq)
	require.NoError(t, newLog(t, s, clock.Real()).Verify(ctx))
}

// optimistic hides a store's HeadLocker, so that a Log over it races for
// the head and retries on ErrConflict.
type optimistic struct{ audit.Store }

// A writer that locks the head and one that does not (say, another
// implementation of the Log) share a store.
func testMixedWriters(t *testing.T, h Harness) {
	s := h.New(t)
	if _, ok := s.(audit.HeadLocker); !ok {
		t.Skip("the store is not a HeadLocker; TwoLogsOneStore covers optimistic writers")
	}
	a, b := newLog(t, s, clock.Real()), newLog(t, optimistic{s}, clock.Real())
	const workers, n = 2, 10
	requireGapless(t, s, a, recordConcurrently(t, []*audit.Log{a, b}, workers, n), 2*workers*n)
}

func testVerify(t *testing.T, h Harness) {
	s, ctx := h.New(t), ctxFor(t)
	l := newLog(t, s, clock.NewManual(t0))
	es := appendChain(t, s, 5)
	require.NoError(t, l.Verify(ctx))

	head, err := l.VerifyFrom(ctx, audit.Entry{})
	require.NoError(t, err)
	assert.Equal(t, es[4], head)
	head, err = l.VerifyFrom(ctx, es[2])
	require.NoError(t, err)
	assert.Equal(t, es[4], head)
	head, err = l.VerifyFrom(ctx, es[4])
	require.NoError(t, err)
	assert.Equal(t, es[4], head)

	// An anchor that the log no longer agrees with: a different entry 3,
	// or an entry beyond the end (the log was cut short).
	wrong := es[2]
	wrong.Hash = bytes.Repeat([]byte{1}, audit.HashSize)
	_, err = l.VerifyFrom(ctx, wrong)
	var te *audit.TamperError
	require.ErrorAs(t, err, &te)
	assert.Equal(t, uint64(3), te.Seq)
	beyond := audit.Seal(es[4], sample(6))
	beyond = audit.Seal(beyond, sample(7))
	_, err = l.VerifyFrom(ctx, beyond)
	require.ErrorIs(t, err, audit.ErrTampered)
	require.ErrorAs(t, err, &te)
	assert.Equal(t, uint64(7), te.Seq)
}

func testTamper(t *testing.T, h Harness) {
	if h.Tamper == nil {
		t.Skip("the harness has no Tamper hook")
	}
	for _, seq := range []uint64{1, 3, 5} {
		t.Run(fmt.Sprint("entry", seq), func(t *testing.T) {
			s, ctx := h.New(t), ctxFor(t)
			l := newLog(t, s, clock.NewManual(t0))
			es := appendChain(t, s, 5)
			require.NoError(t, l.Verify(ctx))
			h.Tamper(t, s, seq)

			stored := all(t, s)
			require.Len(t, stored, 5)
			require.NotEqual(t, es[seq-1], stored[seq-1], "Tamper did not change entry %d", seq)

			err := l.Verify(ctx)
			require.ErrorIs(t, err, audit.ErrTampered)
			var te *audit.TamperError
			require.ErrorAs(t, err, &te)
			assert.Equal(t, seq, te.Seq)
			assert.NotEmpty(t, te.Reason)
			_, err = l.VerifyFrom(ctx, es[seq-1])
			assert.ErrorIs(t, err, audit.ErrTampered, "the anchor no longer matches")
		})
	}
}

func testRecordValidation(t *testing.T, h Harness) {
	s, ctx := h.New(t), ctxFor(t)
	l := newLog(t, s, clock.NewManual(t0))
	bad := []struct {
		e     audit.Entry
		field string
	}{
		{audit.Entry{ResourceKind: "incident"}, "Action"},
		{audit.Entry{Action: "  ", ResourceKind: "incident"}, "Action"},
		{audit.Entry{Action: "read"}, "ResourceKind"},
		{audit.Entry{Action: "read", ResourceKind: "incident", Reason: "bad \xff"}, "Reason"},
		{audit.Entry{Action: "read", ResourceKind: "incident", ActorID: "a\x00"}, "ActorID"},
	}
	check := func(want []audit.Entry) {
		t.Helper()
		for _, c := range bad {
			_, err := l.Record(ctx, c.e)
			require.ErrorIs(t, err, audit.ErrInvalidEntry)
			var ee *audit.EntryError
			require.ErrorAs(t, err, &ee)
			assert.Equal(t, c.field, ee.Field)
			requireUnchanged(t, s, want)
		}
	}
	check(nil)
	// No actor is fine: a denial for want of one is recorded too.
	e, err := l.Record(ctx, audit.Entry{Action: "read", ResourceKind: "incident", Reason: "denied read incident: no actor in context"})
	require.NoError(t, err)
	assert.Equal(t, uint64(1), e.Seq)
	check([]audit.Entry{e})
}

func testAuthorizer(t *testing.T, h Harness) {
	s, ctx := h.New(t), ctxFor(t)
	l := newLog(t, s, clock.NewManual(t0))
	az := audit.Authorizer(access.AllowAll(), l)
	li := access.Actor{ID: "li", Kind: access.StreetStaff, Scope: "500107001", Roles: []string{"street-officer"}}
	r := access.Resource{Kind: "incident", ID: "inc-1", Jurisdiction: "500107001002003", Department: "city-management"}
	d := az.Authorize(access.WithActor(ctx, li), "read", r)
	require.True(t, d.Allowed)
	anon := az.Authorize(ctx, "read", r)
	require.True(t, anon.Allowed)

	got := all(t, s)
	require.Len(t, got, 2)
	want := audit.Entry{Seq: 1, Time: t0, ActorID: "li", ActorKind: "street-staff", Action: "read",
		ResourceKind: "incident", ResourceID: "inc-1", Jurisdiction: "500107001002003",
		Department: "city-management", Allowed: true, Reason: d.Explain()}
	want.PrevHash, want.Hash = got[0].PrevHash, got[0].Hash
	assert.Equal(t, want, got[0])
	assert.Equal(t, "", got[1].ActorID)
	assert.Equal(t, "", got[1].ActorKind)
	assert.NoError(t, l.Verify(ctx))
}
