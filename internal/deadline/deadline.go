// Package deadline wakes a service when deadlines pass: SLA deadlines of
// incidents, sign-for and completion deadlines of work orders, escalation
// steps. One clock timer waits for the earliest deadline and a heap holds
// the rest, so a hundred thousand open cases cost one timer.
//
// Entries may be stale — the case moved on, or its deadline was extended —
// because the callback re-reads what it is about and decides; nothing here
// needs to be kept exact, and a service that restarts rebuilds the heap
// from its store. A deadline already pending for a key is not added again:
// services re-add a case's unchanged deadline after every change, and the
// heap would otherwise grow with changes rather than with open cases.
package deadline

import (
	"container/heap"
	"sync"
	"time"

	"github.com/govkit/govkit/clock"
)

// Scheduler calls Fire with the key of every deadline that passes, by the
// injected clock. It is safe for concurrent use.
type Scheduler[K comparable] struct {
	clk  clock.Clock
	fire func(K)

	mu      sync.Mutex
	due     dueHeap[K]
	pending map[dueKey[K]]struct{} // what due holds, to add each once

	// earliestOnly keeps one deadline per key (NewEarliest); earliest
	// holds it, and entries of due that differ are superseded.
	earliestOnly bool
	earliest     map[K]time.Time
	timer        clock.Timer
	timerAt      time.Time
	stopped      bool
}

// New returns a scheduler that calls fire, outside its lock, for each key
// whose deadline has passed.
func New[K comparable](clk clock.Clock, fire func(K)) *Scheduler[K] {
	return &Scheduler[K]{clk: clk, fire: fire}
}

// NewEarliest returns a scheduler that keeps one deadline per key, the
// earliest: an Add later than the key's pending deadline is ignored, and
// an earlier one supersedes it. fire must therefore add the key's next
// deadline itself when it finds it moved later — as a risk point's expiry
// does, whose next change moves later with every reading that refreshes a
// signal, and which would otherwise leave one entry per reading.
func NewEarliest[K comparable](clk clock.Clock, fire func(K)) *Scheduler[K] {
	return &Scheduler[K]{clk: clk, fire: fire, earliestOnly: true, earliest: map[K]time.Time{}}
}

type due[K comparable] struct {
	at  time.Time
	key K
}

// dueKey identifies a due entry; the instant, not the time.Time, so that
// one moment in two locations is one deadline.
type dueKey[K comparable] struct {
	key K
	at  int64
}

func (d due[K]) id() dueKey[K] { return dueKey[K]{d.key, d.at.UnixNano()} }

type dueHeap[K comparable] []due[K]

func (h dueHeap[K]) Len() int           { return len(h) }
func (h dueHeap[K]) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h dueHeap[K]) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *dueHeap[K]) Push(x any)        { *h = append(*h, x.(due[K])) }
func (h *dueHeap[K]) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// Add schedules a call for key at at; a zero at, or one already pending
// for key, is ignored.
func (s *Scheduler[K]) Add(key K, at time.Time) {
	if at.IsZero() {
		return
	}
	d := due[K]{at, key}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	switch {
	case s.earliestOnly:
		if cur, ok := s.earliest[key]; ok && !at.Before(cur) {
			return
		}
		s.earliest[key] = at
	default:
		if _, ok := s.pending[d.id()]; ok {
			return
		}
		if s.pending == nil {
			s.pending = map[dueKey[K]]struct{}{}
		}
		s.pending[d.id()] = struct{}{}
	}
	heap.Push(&s.due, d)
	s.arm()
}

// arm sets the timer for the earliest deadline; s.mu is held.
func (s *Scheduler[K]) arm() {
	if len(s.due) == 0 {
		return
	}
	next := s.due[0].at
	if s.timer != nil && !next.Before(s.timerAt) {
		return
	}
	if s.timer != nil {
		s.timer.Stop()
	}
	s.timerAt = next
	s.timer = s.clk.AfterFunc(next.Sub(s.clk.Now()), s.run)
}

// run fires every deadline that has passed, then re-arms.
func (s *Scheduler[K]) run() {
	s.mu.Lock()
	s.timer = nil
	now := s.clk.Now()
	var keys []K
	for len(s.due) > 0 && !s.due[0].at.After(now) {
		d := heap.Pop(&s.due).(due[K])
		if s.earliestOnly {
			if cur, ok := s.earliest[d.key]; !ok || !cur.Equal(d.at) {
				continue // superseded by an earlier deadline, which fired
			}
			delete(s.earliest, d.key)
		} else {
			delete(s.pending, d.id())
		}
		keys = append(keys, d.key)
	}
	s.mu.Unlock()
	for _, k := range keys {
		s.fire(k)
	}
	s.mu.Lock()
	if !s.stopped {
		s.arm()
	}
	s.mu.Unlock()
}

// Stop cancels the timer; later Adds are ignored.
func (s *Scheduler[K]) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopped = true
	if s.timer != nil {
		s.timer.Stop()
	}
	s.due, s.pending, s.earliest = nil, nil, nil
}

// Pending returns how many calls are scheduled.
func (s *Scheduler[K]) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.earliestOnly {
		return len(s.earliest)
	}
	return len(s.due)
}
