package incident

import (
	"container/heap"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/govkit/govkit/clock"
)

// deadlines wakes the service when an SLA deadline passes: one clock timer
// for the earliest deadline, a heap for the rest. Entries may be stale (the
// case moved on, or its deadline was extended); the callback re-reads the
// case and decides, so nothing here needs to be kept exact.
type deadlines struct {
	clk  clock.Clock
	fire func(id uuid.UUID)

	mu      sync.Mutex
	due     dueHeap
	timer   clock.Timer
	timerAt time.Time
	stopped bool
}

type due struct {
	at time.Time
	id uuid.UUID
}

type dueHeap []due

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h dueHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)        { *h = append(*h, x.(due)) }
func (h *dueHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// add schedules a wake-up for id at at.
func (d *deadlines) add(id uuid.UUID, at time.Time) {
	if at.IsZero() {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		return
	}
	heap.Push(&d.due, due{at, id})
	d.arm()
}

// arm sets the timer for the earliest deadline; d.mu is held.
func (d *deadlines) arm() {
	if len(d.due) == 0 {
		return
	}
	next := d.due[0].at
	if d.timer != nil && !next.Before(d.timerAt) {
		return
	}
	if d.timer != nil {
		d.timer.Stop()
	}
	d.timerAt = next
	d.timer = d.clk.AfterFunc(next.Sub(d.clk.Now()), d.run)
}

// run fires every deadline that has passed, then re-arms.
func (d *deadlines) run() {
	d.mu.Lock()
	d.timer = nil
	now := d.clk.Now()
	var ids []uuid.UUID
	for len(d.due) > 0 && !d.due[0].at.After(now) {
		ids = append(ids, heap.Pop(&d.due).(due).id)
	}
	d.mu.Unlock()
	for _, id := range ids {
		d.fire(id)
	}
	d.mu.Lock()
	if !d.stopped {
		d.arm()
	}
	d.mu.Unlock()
}

// stop cancels the timer; later adds are ignored.
func (d *deadlines) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stopped = true
	if d.timer != nil {
		d.timer.Stop()
	}
	d.due = nil
}

// pending returns how many wake-ups are scheduled.
func (d *deadlines) pending() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.due)
}
