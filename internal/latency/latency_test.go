package latency

import (
	"testing"
	"time"
)

func TestP99(t *testing.T) {
	var r Recorder
	if _, ok := r.P99(); ok {
		t.Fatal("a percentile of nothing")
	}
	// 200 latencies of 1..200 ms handed over by two goroutines, out of order.
	var a, b []time.Duration
	for i := 200; i >= 1; i-- {
		if i%2 == 0 {
			a = append(a, time.Duration(i)*time.Millisecond)
		} else {
			b = append(b, time.Duration(i)*time.Millisecond)
		}
	}
	r.Add(a)
	r.Add(b)
	if p, ok := r.P99(); !ok || p != 198*time.Millisecond {
		t.Fatalf("p99 %v, want 198ms (index 197 of 200)", p)
	}
}
