package clock_test

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/govkit/govkit/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 10, 8, 9, 0, 0, 0, time.UTC)

// event records which timer fired and what Now said while it ran.
type event struct {
	name string
	now  time.Time
}

type recorder struct {
	mu     sync.Mutex
	events []event
}

func (r *recorder) fn(c *clock.Manual, name string) func() {
	return func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.events = append(r.events, event{name, c.Now()})
	}
}

func (r *recorder) names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, len(r.events))
	for i, e := range r.events {
		out[i] = e.name
	}
	return out
}

func TestManualNowStartsAtStart(t *testing.T) {
	c := clock.NewManual(t0)
	assert.Equal(t, t0, c.Now())
	c.Advance(90 * time.Second)
	assert.Equal(t, t0.Add(90*time.Second), c.Now())
	require.NoError(t, c.Set(t0.Add(time.Hour)))
	assert.Equal(t, t0.Add(time.Hour), c.Now())
}

func TestManualFiresInDeadlineOrderAndObservesDeadline(t *testing.T) {
	c := clock.NewManual(t0)
	var r recorder
	// Created out of deadline order on purpose.
	c.AfterFunc(3*time.Minute, r.fn(c, "c"))
	c.AfterFunc(1*time.Minute, r.fn(c, "a"))
	c.AfterFunc(2*time.Minute, r.fn(c, "b"))
	c.AfterFunc(10*time.Minute, r.fn(c, "late"))
	require.Equal(t, 4, c.Pending())

	c.Advance(5 * time.Minute)
	assert.Equal(t, []event{
		{"a", t0.Add(1 * time.Minute)},
		{"b", t0.Add(2 * time.Minute)},
		{"c", t0.Add(3 * time.Minute)},
	}, r.events)
	assert.Equal(t, t0.Add(5*time.Minute), c.Now(), "settles at the target after the callbacks")
	assert.Equal(t, 1, c.Pending())
}

func TestManualTiesFireInCreationOrder(t *testing.T) {
	c := clock.NewManual(t0)
	var r recorder
	names := []string{"first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth"}
	for _, n := range names {
		c.AfterFunc(time.Minute, r.fn(c, n))
	}
	// A timer with the same deadline created from a different base time
	// still ranks by creation.
	c.Advance(30 * time.Second)
	c.AfterFunc(30*time.Second, r.fn(c, "ninth"))
	c.Advance(time.Minute)
	assert.Equal(t, append(names, "ninth"), r.names())
}

func TestManualDoesNotFireBeforeDeadline(t *testing.T) {
	c := clock.NewManual(t0)
	var fired atomic.Bool
	c.AfterFunc(time.Hour, func() { fired.Store(true) })
	c.Advance(time.Hour - time.Nanosecond)
	assert.False(t, fired.Load())
	c.Advance(time.Nanosecond)
	assert.True(t, fired.Load(), "fires when the clock reaches the deadline exactly")
	c.Advance(time.Hour)
	assert.Equal(t, 0, c.Pending())
}

func TestManualStop(t *testing.T) {
	c := clock.NewManual(t0)
	var fired atomic.Int32
	tm := c.AfterFunc(time.Minute, func() { fired.Add(1) })
	assert.True(t, tm.Stop(), "stopping a pending timer reports true")
	assert.False(t, tm.Stop(), "stopping twice reports false")
	assert.Equal(t, 0, c.Pending())
	c.Advance(time.Hour)
	assert.Zero(t, fired.Load(), "a stopped timer never fires")

	tm = c.AfterFunc(time.Minute, func() { fired.Add(1) })
	c.Advance(time.Minute)
	assert.Equal(t, int32(1), fired.Load())
	assert.False(t, tm.Stop(), "stopping a fired timer reports false")
}

func TestManualStopOneOfMany(t *testing.T) {
	c := clock.NewManual(t0)
	var r recorder
	var timers []clock.Timer
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		timers = append(timers, c.AfterFunc(time.Minute, r.fn(c, n)))
	}
	assert.True(t, timers[2].Stop())
	assert.True(t, timers[0].Stop())
	c.Advance(time.Minute)
	assert.Equal(t, []string{"b", "d", "e"}, r.names())
}

func TestManualCallbackStopsLaterTimer(t *testing.T) {
	c := clock.NewManual(t0)
	var r recorder
	var later clock.Timer
	c.AfterFunc(time.Minute, func() {
		r.fn(c, "canceller")()
		assert.True(t, later.Stop())
	})
	later = c.AfterFunc(2*time.Minute, r.fn(c, "later"))
	c.Advance(time.Hour)
	assert.Equal(t, []string{"canceller"}, r.names())
}

func TestManualNestedScheduling(t *testing.T) {
	c := clock.NewManual(t0)
	var r recorder
	// A heartbeat that re-arms itself every 10 minutes, as a periodic job does.
	var beat func()
	beat = func() {
		r.fn(c, "beat")()
		c.AfterFunc(10*time.Minute, beat)
	}
	c.AfterFunc(10*time.Minute, beat)
	// A callback arming a timer due before another already-pending one:
	// the new one must still fire first.
	c.AfterFunc(5*time.Minute, func() {
		r.fn(c, "outer")()
		c.AfterFunc(time.Minute, r.fn(c, "inner"))   // due at +6m
		c.AfterFunc(0, r.fn(c, "immediate"))         // due at +5m, after outer
		c.AfterFunc(time.Hour, r.fn(c, "next-hour")) // due at +65m, not in this Advance
	})

	c.Advance(30 * time.Minute)
	assert.Equal(t, []event{
		{"outer", t0.Add(5 * time.Minute)},
		{"immediate", t0.Add(5 * time.Minute)},
		{"inner", t0.Add(6 * time.Minute)},
		{"beat", t0.Add(10 * time.Minute)},
		{"beat", t0.Add(20 * time.Minute)},
		{"beat", t0.Add(30 * time.Minute)},
	}, r.events)
	assert.Equal(t, 2, c.Pending(), "the next beat and next-hour")
}

func TestManualCallbackMayUseClockWithoutDeadlock(t *testing.T) {
	c := clock.NewManual(t0)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.AfterFunc(time.Second, func() {
			_ = c.Now()
			_ = c.Pending()
			c.AfterFunc(time.Hour, func() {}).Stop()
			assert.ErrorIs(t, c.Set(t0), clock.ErrBackwards)
			c.Advance(0)
		})
		c.Advance(time.Second)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("callback using the clock deadlocked")
	}
}

func TestManualNonPositiveDurationFiresOnNextAdvance(t *testing.T) {
	for _, d := range []time.Duration{0, -time.Hour} {
		c := clock.NewManual(t0)
		var r recorder
		c.AfterFunc(d, r.fn(c, "due"))
		assert.Empty(t, r.names(), "AfterFunc(%v) must not call f inside AfterFunc", d)
		assert.Equal(t, 1, c.Pending())
		c.Advance(0)
		assert.Equal(t, []event{{"due", t0}}, r.events, "Advance(0) fires it, at the time it was armed")
	}

	c := clock.NewManual(t0)
	var r recorder
	c.AfterFunc(0, r.fn(c, "due"))
	require.NoError(t, c.Set(t0), "Set to the current time fires due timers too")
	assert.Equal(t, []string{"due"}, r.names())
}

func TestManualSetFiresDueTimers(t *testing.T) {
	c := clock.NewManual(t0)
	var r recorder
	c.AfterFunc(2*time.Hour, r.fn(c, "b"))
	c.AfterFunc(time.Hour, r.fn(c, "a"))
	c.AfterFunc(3*time.Hour, r.fn(c, "c"))
	require.NoError(t, c.Set(t0.Add(2*time.Hour)))
	assert.Equal(t, []event{{"a", t0.Add(time.Hour)}, {"b", t0.Add(2 * time.Hour)}}, r.events)
	assert.Equal(t, 1, c.Pending())
}

func TestManualSetBackwardsRejected(t *testing.T) {
	c := clock.NewManual(t0)
	var fired atomic.Bool
	c.AfterFunc(0, func() { fired.Store(true) })
	err := c.Set(t0.Add(-time.Nanosecond))
	require.Error(t, err)
	assert.ErrorIs(t, err, clock.ErrBackwards)
	var be *clock.BackwardsError
	require.True(t, errors.As(err, &be))
	assert.Equal(t, t0, be.Now)
	assert.Equal(t, t0.Add(-time.Nanosecond), be.Target)
	assert.Contains(t, err.Error(), "backwards")

	assert.Equal(t, t0, c.Now(), "the clock did not move")
	assert.False(t, fired.Load(), "a rejected Set fires nothing")
	assert.Equal(t, 1, c.Pending())
}

func TestManualAdvanceNegativePanics(t *testing.T) {
	c := clock.NewManual(t0)
	assert.Panics(t, func() { c.Advance(-time.Nanosecond) })
	assert.Equal(t, t0, c.Now())
}

func TestManualAfterFuncNilPanics(t *testing.T) {
	c := clock.NewManual(t0)
	assert.Panics(t, func() { c.AfterFunc(time.Second, nil) })
	assert.Equal(t, 0, c.Pending())
}

// TestManualConcurrent hammers one clock from many goroutines; run with -race.
// Every timer that is not stopped fires exactly once, Stop and firing are
// mutually exclusive, and Now never goes backwards.
func TestManualConcurrent(t *testing.T) {
	c := clock.NewManual(t0)
	const workers, perWorker = 8, 200
	var fired, stopped atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := c.Now()
			for i := range perWorker {
				d := time.Duration((w*perWorker+i)%97) * time.Millisecond
				var once atomic.Bool
				tm := c.AfterFunc(d, func() {
					if !once.CompareAndSwap(false, true) {
						t.Error("timer fired twice")
					}
					fired.Add(1)
					_ = c.Now()
				})
				switch i % 3 {
				case 0:
					if tm.Stop() {
						stopped.Add(1)
					}
				case 1:
					c.Advance(time.Duration(i%5) * time.Millisecond)
				}
				now := c.Now()
				if now.Before(last) {
					t.Errorf("Now went backwards: %v then %v", last, now)
				}
				last = now
				_ = c.Pending()
			}
		}()
	}
	wg.Wait()
	c.Advance(time.Hour) // flush whatever is left
	assert.Equal(t, 0, c.Pending())
	assert.Equal(t, int64(workers*perWorker), fired.Load()+stopped.Load())
}

func TestManualSatisfiesClock(t *testing.T) {
	var c clock.Clock = clock.NewManual(t0)
	assert.Equal(t, t0, c.Now())
}
