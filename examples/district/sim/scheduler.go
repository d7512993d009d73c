package sim

import (
	"cmp"
	"container/heap"
	"context"
	"sync"
	"time"
)

// action is something a person does at a time in the simulated day: sign
// for an order, arrive at a scene, verify a case, review a bundle item.
type action struct {
	at  time.Time
	key string // unique: orders actions at the same instant and derives their randomness
	do  func(ctx context.Context) error
}

// scheduler holds the actions to come. Desks add to it from the bus's
// goroutines; the simulation takes them out, in order of time and key, and
// runs them one at a time, so a run does not depend on the order in which
// concurrent handlers happened to schedule things.
type scheduler struct {
	mu   sync.Mutex
	q    actions
	seen map[string]time.Time // keys scheduled, to absorb redelivered events
}

func newScheduler() *scheduler { return &scheduler{seen: map[string]time.Time{}} }

// add schedules do at t under key, unless key was scheduled before.
func (s *scheduler) add(t time.Time, key string, do func(ctx context.Context) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.seen[key]; dup {
		return
	}
	s.seen[key] = t
	heap.Push(&s.q, action{at: t, key: key, do: do})
}

// next removes and returns the earliest action due before t, if any.
func (s *scheduler) next(t time.Time) (action, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.q) == 0 || !s.q[0].at.Before(t) {
		return action{}, false
	}
	return heap.Pop(&s.q).(action), true
}

// forget drops the keys of actions scheduled before t, which can no longer
// be scheduled twice by a late duplicate worth absorbing.
func (s *scheduler) forget(t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, at := range s.seen {
		if at.Before(t) {
			delete(s.seen, k)
		}
	}
}

// pending returns how many actions wait.
func (s *scheduler) pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.q)
}

type actions []action

func (a actions) Len() int { return len(a) }
func (a actions) Less(i, j int) bool {
	if c := a[i].at.Compare(a[j].at); c != 0 {
		return c < 0
	}
	return cmp.Less(a[i].key, a[j].key)
}
func (a actions) Swap(i, j int) { a[i], a[j] = a[j], a[i] }
func (a *actions) Push(x any)   { *a = append(*a, x.(action)) }
func (a *actions) Pop() any {
	old := *a
	x := old[len(old)-1]
	*a = old[:len(old)-1]
	return x
}
