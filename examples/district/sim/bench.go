package sim

import (
	"context"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/govkit/govkit/internal/latency"
)

// Bench is the loop of the BenchmarkCreateAndRoute benchmarks, on the
// embedded defaults and on PostgreSQL alike: parallelism × GOMAXPROCS
// goroutines each call in.CreateAndRoute on reports drawn from seed, and
// it reports incidents/s, the 99th percentile latency (p99-ns) and the
// work orders offered per operation (orders/op).
func Bench(b *testing.B, in *Intake, parallelism int, seed uint64) {
	ctx := context.Background()
	var seq, orders atomic.Int64
	var lat latency.Recorder
	b.SetParallelism(parallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := rand.New(rand.NewPCG(uint64(seq.Add(1<<40)), seed))
		var mine []time.Duration
		defer func() { lat.Add(mine) }()
		for pb.Next() {
			rep := in.NewReport(r, seq.Add(1))
			start := time.Now()
			n, err := in.CreateAndRoute(ctx, rep)
			if err != nil {
				b.Error(err)
				return
			}
			mine = append(mine, time.Since(start))
			orders.Add(int64(n))
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "incidents/s")
	lat.ReportP99(b)
	b.ReportMetric(float64(orders.Load())/float64(b.N), "orders/op")
}
