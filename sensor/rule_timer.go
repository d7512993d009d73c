package sensor

import (
	"container/heap"
	"time"

	"github.com/govkit/govkit/clock"
)

// ruleWheel holds the engine's deadlines: heartbeat timeouts, "for"
// durations, storm holds and correlation windows, for every (rule, device)
// state at once, behind a single clock timer.
//
// Deadlines are rounded up to the engine's tick and kept in one bucket per
// tick (a slice of packed (rule, state) entries); a min-heap orders the
// buckets and one clock timer waits for the earliest. A state has at most
// one entry, flagged in the state itself: a reading that pushes a heartbeat
// deadline later does not touch the wheel, and when the old entry fires the
// state is found not yet due and re-entered at its new deadline. So a
// device reporting every minute with a three-minute timeout costs one wheel
// operation every three minutes, not one per reading, and a million
// devices cost a million 8-byte entries and one timer.
type ruleWheel struct {
	tick    int64
	buckets map[int64][]uint64
	keys    ruleKeyHeap
	spare   [][]uint64
	timer   clock.Timer
	timerAt int64 // bucket key the timer waits for
	n       int   // entries held
}

func ruleEntry(ri, si uint32) uint64 { return uint64(ri)<<32 | uint64(si) }

func (w *ruleWheel) key(at int64) int64 {
	k := at / w.tick
	if at%w.tick > 0 {
		k++
	}
	return k
}

// add files an entry for the deadline at (Unix nanoseconds) and reports
// whether its bucket is earlier than the one the timer waits for.
func (w *ruleWheel) add(entry uint64, at int64) bool {
	k := w.key(at)
	b, ok := w.buckets[k]
	if !ok {
		heap.Push(&w.keys, k)
		if n := len(w.spare); n > 0 {
			b, w.spare = w.spare[n-1], w.spare[:n-1]
		}
	}
	w.buckets[k] = append(b, entry)
	w.n++
	return w.timer == nil || k < w.timerAt
}

// due pops the earliest bucket if its time has come.
func (w *ruleWheel) due(now int64) ([]uint64, bool) {
	if len(w.keys) == 0 || w.keys[0]*w.tick > now {
		return nil, false
	}
	k := heap.Pop(&w.keys).(int64)
	b := w.buckets[k]
	delete(w.buckets, k)
	w.n -= len(b)
	return b, true
}

// recycle returns a processed bucket's slice for reuse.
func (w *ruleWheel) recycle(b []uint64) {
	if cap(b) <= 1<<16 && len(w.spare) < 64 {
		w.spare = append(w.spare, b[:0])
	}
}

// arm sets the clock timer for the earliest bucket; fire is the callback.
func (w *ruleWheel) arm(clk clock.Clock, now int64, fire func()) {
	if len(w.keys) == 0 {
		if w.timer != nil {
			w.timer.Stop()
			w.timer = nil
		}
		return
	}
	k := w.keys[0]
	if w.timer != nil && w.timerAt == k {
		return
	}
	if w.timer != nil {
		w.timer.Stop()
	}
	w.timerAt = k
	w.timer = clk.AfterFunc(time.Duration(k*w.tick-now), fire)
}

func (w *ruleWheel) stop() {
	if w.timer != nil {
		w.timer.Stop()
		w.timer = nil
	}
}

type ruleKeyHeap []int64

func (h ruleKeyHeap) Len() int           { return len(h) }
func (h ruleKeyHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h ruleKeyHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *ruleKeyHeap) Push(x any)        { *h = append(*h, x.(int64)) }
func (h *ruleKeyHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
