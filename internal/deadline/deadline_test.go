package deadline

import (
	"sync"
	"testing"
	"time"

	"github.com/govkit/govkit/clock"
)

var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

func TestFiresInOrderWhenDue(t *testing.T) {
	clk := clock.NewManual(t0)
	var fired []string
	s := New(clk, func(k string) { fired = append(fired, k) })
	s.Add("c", t0.Add(3*time.Hour))
	s.Add("a", t0.Add(time.Hour))
	s.Add("b", t0.Add(2*time.Hour))
	s.Add("ignored", time.Time{})
	if s.Pending() != 3 {
		t.Fatalf("pending %d", s.Pending())
	}
	clk.Advance(90 * time.Minute)
	if len(fired) != 1 || fired[0] != "a" {
		t.Fatalf("after 1.5 h fired %v", fired)
	}
	clk.Advance(2 * time.Hour)
	if len(fired) != 3 || fired[1] != "b" || fired[2] != "c" {
		t.Fatalf("fired %v", fired)
	}
}

func TestEarlierDeadlineRearms(t *testing.T) {
	clk := clock.NewManual(t0)
	var fired []int
	s := New(clk, func(k int) { fired = append(fired, k) })
	s.Add(1, t0.Add(time.Hour))
	s.Add(2, t0.Add(time.Minute)) // earlier than the armed timer
	clk.Advance(2 * time.Minute)
	if len(fired) != 1 || fired[0] != 2 {
		t.Fatalf("fired %v", fired)
	}
}

func TestFireMayReschedule(t *testing.T) {
	clk := clock.NewManual(t0)
	var s *Scheduler[string]
	n := 0
	s = New(clk, func(k string) {
		n++
		if n < 3 {
			s.Add(k, clk.Now().Add(time.Minute)) // a deadline that moved later
		}
	})
	s.Add("x", t0.Add(time.Minute))
	clk.Advance(10 * time.Minute)
	if n != 3 {
		t.Fatalf("fired %d times", n)
	}
}

func TestStop(t *testing.T) {
	clk := clock.NewManual(t0)
	fired := 0
	s := New(clk, func(string) { fired++ })
	s.Add("x", t0.Add(time.Minute))
	s.Stop()
	s.Add("y", t0.Add(time.Minute))
	clk.Advance(time.Hour)
	if fired != 0 || s.Pending() != 0 {
		t.Fatalf("fired %d, pending %d after Stop", fired, s.Pending())
	}
}

func TestConcurrentAdds(t *testing.T) {
	clk := clock.NewManual(t0)
	var mu sync.Mutex
	fired := 0
	s := New(clk, func(int) { mu.Lock(); fired++; mu.Unlock() })
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				s.Add(g*100+i, t0.Add(time.Duration(i+1)*time.Second))
			}
		}()
	}
	wg.Wait()
	clk.Advance(time.Hour)
	if fired != 800 {
		t.Fatalf("fired %d of 800", fired)
	}
}

// A deadline re-added unchanged, as services do after every change of a
// case, is held and fired once; another deadline of the same key is its
// own, and a deadline that has fired can be added again.
func TestSameDeadlineIsHeldOnce(t *testing.T) {
	clk := clock.NewManual(t0)
	var fired []string
	s := New(clk, func(k string) { fired = append(fired, k) })
	for range 1000 {
		s.Add("case-1", t0.Add(time.Hour))
	}
	s.Add("case-1", t0.Add(time.Hour).In(time.FixedZone("CST", 8*3600))) // the same instant
	s.Add("case-1", t0.Add(2*time.Hour))                                 // extended: a deadline of its own
	s.Add("case-2", t0.Add(time.Hour))
	if s.Pending() != 3 {
		t.Fatalf("pending %d, want 3", s.Pending())
	}
	clk.Advance(90 * time.Minute)
	if len(fired) != 2 {
		t.Fatalf("fired %v", fired)
	}
	s.Add("case-1", t0.Add(100*time.Minute))
	s.Add("case-1", t0.Add(100*time.Minute))
	clk.Advance(time.Hour)
	ones := 0
	for _, k := range fired {
		if k == "case-1" {
			ones++
		}
	}
	if len(fired) != 4 || ones != 3 {
		t.Fatalf("fired %v: want case-1 at 1 h, 100 min and 2 h, case-2 at 1 h", fired)
	}
	if s.Pending() != 0 {
		t.Fatalf("pending %d after all fired", s.Pending())
	}
}

// NewEarliest keeps one deadline per key: later ones are left to the
// callback, an earlier one supersedes the pending one, which then does not
// fire.
func TestEarliestKeepsOnePerKey(t *testing.T) {
	clk := clock.NewManual(t0)
	var s *Scheduler[string]
	var fired []time.Duration
	latest := t0.Add(10 * time.Minute) // what the callback finds when it looks
	s = NewEarliest(clk, func(k string) {
		now := clk.Now()
		fired = append(fired, now.Sub(t0))
		if latest.After(now) {
			s.Add(k, latest) // moved later meanwhile: the callback reschedules
		}
	})
	for m := 5; m <= 10; m++ { // a deadline moving later with every reading
		s.Add("point", t0.Add(time.Duration(m)*time.Minute))
	}
	if s.Pending() != 1 {
		t.Fatalf("pending %d, want 1", s.Pending())
	}
	clk.Advance(5 * time.Minute)
	clk.Advance(5 * time.Minute)
	if len(fired) != 2 || fired[0] != 5*time.Minute || fired[1] != 10*time.Minute {
		t.Fatalf("fired at %v, want 5m then 10m", fired)
	}

	// An earlier deadline supersedes the pending one.
	fired = nil
	latest = time.Time{}
	s.Add("point", t0.Add(30*time.Minute))
	s.Add("point", t0.Add(20*time.Minute))
	clk.Advance(time.Hour)
	if len(fired) != 1 || fired[0] != 20*time.Minute {
		t.Fatalf("fired at %v, want 20m alone", fired)
	}
	if s.Pending() != 0 {
		t.Fatalf("pending %d after all fired", s.Pending())
	}
}
