// Package groupcommit lets concurrent writers share one transaction.
//
// govkit's in-memory stores sit on go-memdb, whose write transactions are
// serialised and copy the index nodes they touch. A transaction that
// carries many changes copies the nodes the changes share once, so when
// writers queue for the lock it is far cheaper to let the first of them
// apply everything that queued behind it in one transaction than to apply
// each in turn. A writer alone still commits at once: batches form only
// while the lock is busy. The PostgreSQL stores use it too, with a lock
// that several batches may hold at once, to share commits.
package groupcommit

import (
	"fmt"
	"sync"
)

// MaxBatch bounds how many changes one transaction carries, so that one
// batch cannot keep the lock long enough to starve readers and the next
// batch.
const MaxBatch = 256

// Group batches writers. Its zero value is not usable; make one with New.
type Group[T any] struct {
	lock  sync.Locker
	apply func([]T) []error

	mu   sync.Mutex // guards open
	open *batch[T]  // the batch still accepting changes, or nil
}

type batch[T any] struct {
	items []T
	errs  []error
	done  chan struct{}
}

// New returns a Group that applies batches with apply while holding lock.
// apply gets the changes in arrival order and must return one error per
// change (nil for those applied); a change's error must not stop the
// others. Other writers of the same state hold lock too.
func New[T any](lock sync.Locker, apply func([]T) []error) *Group[T] {
	return &Group[T]{lock: lock, apply: apply}
}

// Waiting returns how many changes wait for the lock in the batch that is
// still open.
func (g *Group[T]) Waiting() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.open == nil {
		return 0
	}
	return len(g.open.items)
}

// Do applies item, in a batch with whatever other writers are waiting, and
// returns its error once the batch is applied. It does not return before
// then, even if the caller gives up: an applied change is acknowledged.
func (g *Group[T]) Do(item T) error {
	g.mu.Lock()
	b := g.open
	if b == nil || len(b.items) == MaxBatch {
		b = &batch[T]{done: make(chan struct{})}
		g.open = b
	}
	i := len(b.items)
	b.items = append(b.items, item)
	g.mu.Unlock()
	if i > 0 {
		<-b.done // the batch's first writer applies it
		return b.errs[i]
	}

	g.lock.Lock()
	g.mu.Lock()
	if g.open == b {
		g.open = nil // seal: later writers start the next batch
	}
	g.mu.Unlock()
	defer close(b.done)
	defer g.lock.Unlock()
	g.run(b)
	return b.errs[0]
}

// run applies b. If apply panics, every change of b fails with an error
// (so that no writer waits forever) and the panic goes on in the writer
// that ran the batch.
func (g *Group[T]) run(b *batch[T]) {
	defer func() {
		if r := recover(); r != nil {
			b.errs = make([]error, len(b.items))
			for i := range b.errs {
				b.errs[i] = fmt.Errorf("groupcommit: applying the batch panicked: %v", r)
			}
			panic(r)
		}
	}()
	errs := g.apply(b.items)
	if len(errs) != len(b.items) {
		panic(fmt.Sprintf("groupcommit: apply returned %d errors for %d changes", len(errs), len(b.items)))
	}
	b.errs = errs
}
