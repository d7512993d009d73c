package sensor_test

import (
	"context"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/clock"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/region"
	"github.com/govkit/govkit/sensor"
)

const ruleBenchDevices = 1_000_000

var (
	ruleBenchOnce sync.Once
	ruleBenchReg  *sensor.Registry
)

// ruleBenchRegistry returns 1,000,000 water-main pressure sensors in 1,000
// grids, built once per test binary; device i has handle i.
func ruleBenchRegistry() *sensor.Registry {
	ruleBenchOnce.Do(func() {
		r := sensor.NewRegistry()
		if err := r.AddProfile(rulePipeProfile); err != nil {
			panic(err)
		}
		for i := range ruleBenchDevices {
			g := i % 1000
			_, err := r.Register(sensor.Device{
				ID: "cq-pp-" + strconv.Itoa(10_000_000+i), Profile: rulePipeProfile.Name,
				Location: geo.Point{Lat: 29 + float64(g)/1000, Lon: 106 + float64(i/1000)/1000},
				Grid:     region.Code("500107" + strconv.Itoa(100+g/100) + "001" + strconv.Itoa(100+g%100)),
			})
			if err != nil {
				panic(err)
			}
		}
		ruleBenchReg = r
	})
	return ruleBenchReg
}

// BenchmarkRuleObserve is the rule engine's share of the ingestion path:
// batches of 1,024 readings, one per device in turn over 1,000,000
// devices, through one threshold rule with hysteresis (raise > 0.8, clear
// < 0.6). Values stay in the normal band, as nearly all readings do, so
// the figure is the steady-state cost per reading.
func BenchmarkRuleObserve(b *testing.B) {
	reg := ruleBenchRegistry()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	eng, err := sensor.NewEngine(reg, clock.NewManual(ruleT0), nil, sensor.EngineOptions{Authorizer: access.AllowAll()})
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close()
	r := rulePressureRule("high", ruleThreshold(0, ">", 0.8))
	r.Clear = &sensor.Condition{Op: "<", Value: 0.6}
	if err := eng.AddRule(context.Background(), r); err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perDevice := (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / ruleBenchDevices
	const batchSize = 1024
	batch := make([]sensor.Reading, batchSize)
	for i := range batch {
		batch[i] = sensor.Reading{Value: 0.3 + float64(i%40)/100, Observed: ruleT0}
	}
	next := 0
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	n := 0
	for b.Loop() {
		for i := range batch {
			batch[i].Device = sensor.Handle(next)
			if next++; next == ruleBenchDevices {
				next = 0
			}
		}
		eng.Observe(batch)
		n += batchSize
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "readings/s")
	b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(n), "ns/reading")
	b.ReportMetric(perDevice, "engine-bytes/device")
	if st := eng.Stats(); st.Evaluated < int64(n) || st.Raised != 0 {
		b.Fatalf("stats %+v", st)
	}
}

// BenchmarkRuleObserveHeartbeat adds a missing-heartbeat rule on the same
// resource, whose per-reading work is one deadline update.
func BenchmarkRuleObserveHeartbeat(b *testing.B) {
	reg := ruleBenchRegistry()
	clk := clock.NewManual(ruleT0)
	eng, err := sensor.NewEngine(reg, clk, nil, sensor.EngineOptions{Authorizer: access.AllowAll()})
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close()
	r := rulePressureRule("high", ruleThreshold(0, ">", 0.8))
	r.Clear = &sensor.Condition{Op: "<", Value: 0.6}
	for _, rule := range []sensor.Rule{r, missingRule("offline", sensor.Condition{})} {
		if err := eng.AddRule(context.Background(), rule); err != nil {
			b.Fatal(err)
		}
	}
	const batchSize = 1024
	batch := make([]sensor.Reading, batchSize)
	for i := range batch {
		batch[i] = sensor.Reading{Value: 0.3 + float64(i%40)/100, Observed: ruleT0}
	}
	next := 0
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	n := 0
	for b.Loop() {
		for i := range batch {
			batch[i].Device = sensor.Handle(next)
			if next++; next == ruleBenchDevices {
				next = 0
			}
		}
		eng.Observe(batch)
		n += batchSize
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "readings/s")
}
