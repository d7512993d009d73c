package groupcommit

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// recorder is a store that fails odd numbers and remembers its batches.
type recorder struct {
	mu      sync.Mutex // the store's write lock
	batches [][]int
	applied []int
}

var errOdd = errors.New("odd")

func (r *recorder) apply(items []int) []error {
	r.batches = append(r.batches, append([]int(nil), items...))
	errs := make([]error, len(items))
	for i, n := range items {
		if n%2 == 1 {
			errs[i] = fmt.Errorf("%w: %d", errOdd, n)
			continue
		}
		r.applied = append(r.applied, n)
	}
	return errs
}

// waitFor polls until cond holds, failing the test after a while.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestAloneAppliesAtOnce(t *testing.T) {
	r := &recorder{}
	g := New(&r.mu, r.apply)
	if err := g.Do(2); err != nil {
		t.Fatal(err)
	}
	if err := g.Do(3); !errors.Is(err, errOdd) {
		t.Fatalf("Do(3) = %v, want errOdd", err)
	}
	if len(r.batches) != 2 || len(r.applied) != 1 || r.applied[0] != 2 {
		t.Fatalf("batches %v applied %v", r.batches, r.applied)
	}
	if g.Waiting() != 0 {
		t.Fatalf("Waiting() = %d after all returned", g.Waiting())
	}
}

// start runs Do(n) for every n in items, each in its own goroutine, once
// the previous one is queued, so that arrival order is items' order.
func start(t *testing.T, g *Group[int], items []int) (errs []error, wait func()) {
	errs = make([]error, len(items))
	var wg sync.WaitGroup
	for i, n := range items {
		wg.Go(func() { errs[i] = g.Do(n) })
		waitFor(t, func() bool { return g.Waiting() == i+1 })
	}
	return errs, wg.Wait
}

func TestWritersQueuedBehindTheLockShareABatch(t *testing.T) {
	r := &recorder{}
	g := New(&r.mu, r.apply)
	r.mu.Lock() // a batch in progress
	items := []int{10, 11, 12, 13, 14}
	errs, wait := start(t, g, items)
	r.mu.Unlock()
	wait()

	if len(r.batches) != 1 || fmt.Sprint(r.batches[0]) != fmt.Sprint(items) {
		t.Fatalf("batches %v, want one batch %v in arrival order", r.batches, items)
	}
	for i, n := range items {
		if odd := n%2 == 1; odd != errors.Is(errs[i], errOdd) {
			t.Errorf("Do(%d) = %v: each writer gets its own change's error", n, errs[i])
		}
	}
	if fmt.Sprint(r.applied) != "[10 12 14]" {
		t.Fatalf("applied %v", r.applied)
	}
}

func TestBatchesAreBounded(t *testing.T) {
	r := &recorder{}
	g := New(&r.mu, r.apply)
	r.mu.Lock()
	var wg sync.WaitGroup
	const n = MaxBatch + 10
	for i := range n {
		wg.Go(func() { _ = g.Do(2 * i) })
	}
	// The first batch is sealed only when its leader gets the lock, so
	// every writer is queued once the open batch holds the overflow.
	waitFor(t, func() bool { return g.Waiting() == n-MaxBatch })
	r.mu.Unlock()
	wg.Wait()
	total := 0
	for _, b := range r.batches {
		if len(b) > MaxBatch {
			t.Fatalf("a batch of %d, above MaxBatch", len(b))
		}
		total += len(b)
	}
	if total != n || len(r.applied) != n {
		t.Fatalf("%d changes in batches, %d applied, want %d", total, len(r.applied), n)
	}
}

func TestPanicFailsTheBatchAndReachesItsLeader(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	g := New(&mu, func(items []int) []error {
		calls++
		if calls == 1 {
			panic("store bug")
		}
		return make([]error, len(items))
	})
	mu.Lock()
	leaderPanic := make(chan any, 1)
	go func() {
		defer func() { leaderPanic <- recover() }()
		_ = g.Do(1)
	}()
	waitFor(t, func() bool { return g.Waiting() == 1 })
	followerErr := make(chan error, 1)
	go func() { followerErr <- g.Do(2) }()
	waitFor(t, func() bool { return g.Waiting() == 2 })
	mu.Unlock()

	if p := <-leaderPanic; p != "store bug" {
		t.Fatalf("leader recovered %v, want the apply panic", p)
	}
	if err := <-followerErr; err == nil {
		t.Fatal("a follower of a panicked batch got no error")
	}
	if !mu.TryLock() {
		t.Fatal("the lock is still held after the panic")
	}
	mu.Unlock()
	if err := g.Do(4); err != nil {
		t.Fatalf("the group is unusable after a panic: %v", err)
	}
}

func TestApplyMustAnswerEveryChange(t *testing.T) {
	var mu sync.Mutex
	g := New(&mu, func(items []int) []error { return nil })
	defer func() {
		if recover() == nil {
			t.Fatal("no panic when apply returned too few errors")
		}
	}()
	_ = g.Do(1)
}
