package clock

import (
	"container/heap"
	"sync"
	"time"
)

// Manual is a Clock that moves only when told to, for tests. Create one with
// NewManual; the zero value is not usable. See the package documentation for
// how and when its timers fire.
type Manual struct {
	mu     sync.Mutex
	now    time.Time
	seq    uint64    // creation counter; orders timers with equal deadlines
	timers timerHeap // pending timers, earliest deadline first
}

var _ Clock = (*Manual)(nil)

// NewManual returns a Manual clock that reads start until it is moved.
func NewManual(start time.Time) *Manual {
	return &Manual{now: start}
}

// Now returns the clock's current time. Inside a timer's callback it is that
// timer's deadline.
func (c *Manual) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc schedules f to run when the clock reaches Now()+d. If d <= 0 the
// timer is due now and runs on the next Advance or Set (even Advance(0)),
// never inside AfterFunc itself. f must not be nil.
func (c *Manual) AfterFunc(d time.Duration, f func()) Timer {
	if f == nil {
		panic("clock: AfterFunc with nil func")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	when := c.now
	if d > 0 {
		when = when.Add(d)
	}
	t := &manualTimer{clock: c, when: when, seq: c.seq, f: f}
	c.seq++
	heap.Push(&c.timers, t)
	return t
}

// Advance moves the clock forward by d, firing every timer that comes due on
// the way. It panics if d is negative.
func (c *Manual) Advance(d time.Duration) {
	if d < 0 {
		panic("clock: Advance with negative duration " + d.String())
	}
	c.mu.Lock()
	target := c.now.Add(d)
	c.mu.Unlock()
	c.runUntil(target)
}

// Set moves the clock to t, firing every timer due by then. Setting the
// current time again only fires timers that are already due. If t is before
// the current time, Set returns a *BackwardsError and changes nothing.
func (c *Manual) Set(t time.Time) error {
	c.mu.Lock()
	now := c.now
	c.mu.Unlock()
	if t.Before(now) {
		return &BackwardsError{Now: now, Target: t}
	}
	c.runUntil(t)
	return nil
}

// Pending returns the number of timers that have neither fired nor been
// stopped. A callback that is running no longer counts.
func (c *Manual) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// runUntil fires due timers one at a time, releasing the lock around each
// callback so that the callback may use the clock, then settles at target.
// Timers armed by callbacks are seen because the heap is re-read each time.
func (c *Manual) runUntil(target time.Time) {
	for {
		c.mu.Lock()
		if len(c.timers) == 0 || c.timers[0].when.After(target) {
			if target.After(c.now) {
				c.now = target
			}
			c.mu.Unlock()
			return
		}
		t := heap.Pop(&c.timers).(*manualTimer)
		if t.when.After(c.now) {
			c.now = t.when
		}
		f := t.f
		c.mu.Unlock()
		f()
	}
}

// manualTimer is a Timer of a Manual clock. index is its position in the
// heap, or -1 once it has fired or been stopped; it is guarded by clock.mu.
type manualTimer struct {
	clock *Manual
	when  time.Time
	seq   uint64
	f     func()
	index int
}

// Stop removes the timer if it is still pending.
func (t *manualTimer) Stop() bool {
	c := t.clock
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.index < 0 {
		return false
	}
	heap.Remove(&c.timers, t.index)
	return true
}

// timerHeap orders timers by deadline, then creation order.
type timerHeap []*manualTimer

// Len, Less, Swap, Push and Pop implement heap.Interface; Swap, Push and
// Pop keep each timer's index current so that Stop can remove it.
func (h timerHeap) Len() int { return len(h) }

// Less puts the earlier deadline first, then the earlier creation.
func (h timerHeap) Less(i, j int) bool {
	if !h[i].when.Equal(h[j].when) {
		return h[i].when.Before(h[j].when)
	}
	return h[i].seq < h[j].seq
}

// Swap exchanges two timers and their indexes.
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}

// Push appends a timer, recording its index.
func (h *timerHeap) Push(x any) {
	t := x.(*manualTimer)
	t.index = len(*h)
	*h = append(*h, t)
}

// Pop removes the last timer and marks it as no longer pending.
func (h *timerHeap) Pop() any {
	old := *h
	n := len(old)
	t := old[n-1]
	old[n-1] = nil
	t.index = -1
	*h = old[:n-1]
	return t
}
