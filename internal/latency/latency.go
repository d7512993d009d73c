// Package latency gathers per-operation latencies from a parallel
// benchmark's goroutines and reports their 99th percentile in the unit the
// guide names (p99-ns).
package latency

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// Recorder collects the latencies that each goroutine measured on its own
// and hands over once, so that measuring costs no synchronisation.
type Recorder struct {
	mu  sync.Mutex
	all []time.Duration
}

// Add hands over one goroutine's latencies.
func (r *Recorder) Add(d []time.Duration) {
	r.mu.Lock()
	r.all = append(r.all, d...)
	r.mu.Unlock()
}

// P99 returns the 99th percentile of what was added, and false if nothing
// was.
func (r *Recorder) P99() (time.Duration, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.all) == 0 {
		return 0, false
	}
	slices.Sort(r.all)
	return r.all[(len(r.all)-1)*99/100], true
}

// ReportP99 reports the 99th percentile to b as p99-ns, if there is one.
func (r *Recorder) ReportP99(b *testing.B) {
	if p, ok := r.P99(); ok {
		b.ReportMetric(float64(p.Nanoseconds()), "p99-ns")
	}
}
