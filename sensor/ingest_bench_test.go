package sensor_test

import (
	"context"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/sensor"
)

// ingStation is the profile of the benchmarks' devices: a pumping-ingStation
// meter reporting four values.
var ingStation = sensor.Profile{Name: "pipe-ingStation-v1", Resources: []sensor.Resource{
	{Name: "pressure", Unit: "MPa", Min: 0, Max: 2.5, Interval: time.Minute},
	{Name: "flow", Unit: "m3/h", Min: 0, Max: 5000, Interval: time.Minute},
	{Name: "temperature", Unit: "°C", Min: -40, Max: 80, Interval: time.Minute},
	{Name: "battery", Unit: "%", Min: 0, Max: 100, Interval: time.Hour},
}}

const ingBenchDevices = 1_000_000

var (
	ingBenchOnce sync.Once
	ingBenchReg  *sensor.Registry
)

// ingBenchRegistry returns a registry of 1,000,000 ingStation devices, built
// once per test binary; device i has handle i and ID ingBenchID(i).
func ingBenchRegistry(b *testing.B) *sensor.Registry {
	ingBenchOnce.Do(func() {
		r := sensor.NewRegistry()
		if err := r.AddProfile(ingStation); err != nil {
			panic(err)
		}
		for i := range ingBenchDevices {
			_, err := r.Register(sensor.Device{ID: ingBenchID(i), Profile: ingStation.Name,
				Location: geo.Point{Lat: 29 + float64(i%1000)/1000, Lon: 106 + float64(i/1000)/1000}})
			if err != nil {
				panic(err)
			}
		}
		ingBenchReg = r
	})
	return ingBenchReg
}

func ingBenchID(i int) string {
	return "cq-ps-" + strconv.Itoa(10_000_000+i)
}

// ingCountObserver stands in for the rule engine, which is built and
// benchmarked separately: it looks at every reading and counts the
// batches, one atomic add per batch.
type ingCountObserver struct {
	batches atomic.Int64
	sum     atomic.Uint64
}

func (o *ingCountObserver) Observe(batch []sensor.Reading) {
	var late uint64
	for i := range batch {
		if batch[i].Quality == sensor.QualityLate {
			late++
		}
	}
	o.batches.Add(1)
	if late > 0 {
		o.sum.Add(late)
	}
}

// ingWarm gives every (device, resource) one reading, so that all latest
// state is allocated, and returns the heap it took per device.
func ingWarm(b *testing.B, in *sensor.Ingester, before runtime.MemStats) float64 {
	ctx := context.Background()
	batch := make([]sensor.Reading, 0, 1024)
	start := time.Now().Add(-24 * time.Hour)
	for h := range ingBenchDevices {
		for res := range uint8(len(ingStation.Resources)) {
			batch = append(batch, sensor.Reading{Device: sensor.Handle(h), Resource: res, Seq: 1, Value: 1, Observed: start})
		}
		if len(batch) >= 1020 {
			if _, err := in.Ingest(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if _, err := in.Ingest(ctx, batch); err != nil {
		b.Fatal(err)
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	return float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / ingBenchDevices
}

// BenchmarkIngestTyped ingests batches of 512 typed readings from
// GOMAXPROCS goroutines: 128 devices picked at random among 1,000,000,
// each reporting its four resources (as a device message does), every
// reading numbered and newer than the last of its device, with an
// observer attached. The observer does trivial work: the rule engine is
// built and benchmarked on its own. It reports readings/s, and the heap
// the latest-value state of the 1,000,000 devices takes as
// state-bytes/device.
func BenchmarkIngestTyped(b *testing.B) {
	reg := ingBenchRegistry(b)
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	obs := &ingCountObserver{}
	in, err := sensor.NewIngester(reg, sensor.IngestOptions{Authorizer: access.AllowAll(), Area: "500000", Observers: []sensor.Observer{obs}})
	if err != nil {
		b.Fatal(err)
	}
	stateBytes := ingWarm(b, in, before)

	const size = 512
	var seq atomic.Uint64
	seq.Store(1)
	start := time.Now().Add(-time.Hour)
	var goroutine atomic.Uint64
	ctx := context.Background()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rng := rand.New(rand.NewPCG(goroutine.Add(1), 7))
		batch := make([]sensor.Reading, size)
		for pb.Next() {
			s := seq.Add(1)
			obsT := start.Add(time.Duration(s) * time.Millisecond)
			var h sensor.Handle
			for i := range batch {
				if i&3 == 0 {
					h = sensor.Handle(rng.IntN(ingBenchDevices))
				}
				batch[i] = sensor.Reading{Device: h, Resource: uint8(i & 3),
					Seq: s, Value: 0.3 + float64(i&15)/100, Observed: obsT}
			}
			if res, err := in.Ingest(ctx, batch); err != nil || len(res.Rejected) > 0 {
				b.Error(err, res.Err())
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)*size/b.Elapsed().Seconds(), "readings/s")
	b.ReportMetric(stateBytes, "state-bytes/device")
	st := in.Stats()
	if st.Accepted+st.Duplicates < int64(b.N)*size {
		b.Fatalf("stats %+v", st)
	}
}

// ingJSONMessages returns 1,024 device messages of four readings each for
// random devices among the benchmarks' 1,000,000, and a function that
// gives message i a new seq and ts, rewriting the template's fixed-width
// fields in place.
func ingJSONMessages(rng *rand.Rand, seq *atomic.Uint64, start int64) ([][]byte, func(m []byte)) {
	var msgs [][]byte
	for range 1024 {
		msgs = append(msgs, []byte(`{"device":"`+ingBenchID(rng.IntN(ingBenchDevices))+`","seq":1000000000,"ts":1700000000000,`+
			`"readings":{"pressure":0.42,"flow":[12.5,"m3/h"],"temperature":17.25,"battery":88}}`))
	}
	seqAt := len(`{"device":"cq-ps-10000000","seq":`)
	tsAt := seqAt + len(`1000000000,"ts":`)
	return msgs, func(m []byte) {
		s := seq.Add(1)
		strconv.AppendUint(m[:seqAt], s, 10)
		strconv.AppendInt(m[:tsAt], start+int64(s-1_000_000_000), 10)
	}
}

// BenchmarkIngestJSON decodes device messages of four readings each
// ({"device":…,"seq":…,"ts":…,"readings":{…}}) for random devices among
// the same 1,000,000, sixteen messages into one batch (DecodeJSON appends),
// and ingests each batch, from GOMAXPROCS goroutines, with the observer
// attached. It reports readings/s.
func BenchmarkIngestJSON(b *testing.B) {
	reg := ingBenchRegistry(b)
	in, err := sensor.NewIngester(reg, sensor.IngestOptions{Authorizer: access.AllowAll(), Area: "500000", Observers: []sensor.Observer{&ingCountObserver{}}})
	if err != nil {
		b.Fatal(err)
	}
	const perBatch = 16
	var seq atomic.Uint64
	seq.Store(1_000_000_000)
	start := time.Now().Add(-24 * time.Hour).UnixMilli() // one message per ms stays in the past
	var goroutine atomic.Uint64
	ctx := context.Background()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		msgs, renumber := ingJSONMessages(rand.New(rand.NewPCG(goroutine.Add(1), 9)), &seq, start)
		batch := make([]sensor.Reading, 0, 4*perBatch)
		i := 0
		for pb.Next() {
			batch = batch[:0]
			for range perBatch {
				m := msgs[i&1023]
				i++
				renumber(m)
				if batch, err = sensor.DecodeJSON(reg, m, batch); err != nil {
					b.Error(err)
					return
				}
			}
			if res, err := in.Ingest(ctx, batch); err != nil || len(res.Rejected) > 0 {
				b.Error(err, res.Err())
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)*4*perBatch/b.Elapsed().Seconds(), "readings/s")
}

// BenchmarkIngestJSONEach is BenchmarkIngestJSON one message at a time:
// an IngestJSON call per message.
func BenchmarkIngestJSONEach(b *testing.B) {
	reg := ingBenchRegistry(b)
	in, err := sensor.NewIngester(reg, sensor.IngestOptions{Authorizer: access.AllowAll(), Area: "500000", Observers: []sensor.Observer{&ingCountObserver{}}})
	if err != nil {
		b.Fatal(err)
	}
	var seq atomic.Uint64
	seq.Store(1_000_000_000)
	start := time.Now().Add(-24 * time.Hour).UnixMilli()
	var goroutine atomic.Uint64
	ctx := context.Background()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		msgs, renumber := ingJSONMessages(rand.New(rand.NewPCG(goroutine.Add(1), 9)), &seq, start)
		i := 0
		for pb.Next() {
			m := msgs[i&1023]
			i++
			renumber(m)
			if res, err := in.IngestJSON(ctx, m); err != nil || len(res.Rejected) > 0 {
				b.Error(err, res.Err(), string(m))
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)*4/b.Elapsed().Seconds(), "readings/s")
}

// BenchmarkIngestQueuedJSON is BenchmarkIngestJSON through the queue:
// GOMAXPROCS goroutines call the bus handler (Ingester.Handler) with
// device messages as a transport would, the handler decodes each and
// Submits it, and the workers ingest them in coalesced batches. The clock
// stops once the queue has drained. It reports readings/s.
func BenchmarkIngestQueuedJSON(b *testing.B) {
	reg := ingBenchRegistry(b)
	obs := &ingCountObserver{}
	in, err := sensor.NewIngester(reg, sensor.IngestOptions{Authorizer: access.AllowAll(), Area: "500000", Observers: []sensor.Observer{obs}})
	if err != nil {
		b.Fatal(err)
	}
	h := in.Handler()
	var seq atomic.Uint64
	seq.Store(1_000_000_000)
	start := time.Now().Add(-24 * time.Hour).UnixMilli()
	var goroutine atomic.Uint64
	ctx := context.Background()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		msgs, renumber := ingJSONMessages(rand.New(rand.NewPCG(goroutine.Add(1), 11)), &seq, start)
		m := bus.Message{ID: "bench", Subject: "city.water.up"}
		i := 0
		for pb.Next() {
			m.Data = msgs[i&1023]
			i++
			renumber(m.Data)
			if err := h(ctx, m); err != nil {
				b.Error(err)
				return
			}
		}
	})
	if err := in.Drain(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)*4/b.Elapsed().Seconds(), "readings/s")
	b.StopTimer()
	_ = in.Close(ctx)
	if st := in.Stats(); st.Accepted+st.Duplicates != int64(b.N)*4 {
		b.Fatalf("stats %+v", st)
	}
}
