package nats_test

import (
	"context"
	"encoding/binary"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/govkit/govkit/adapters/nats"
	"github.com/govkit/govkit/adapters/nats/natstest"
	"github.com/govkit/govkit/bus"
)

// payload is a typical sensor reading.
var payload = []byte(`{"device":"wb-500107-000123","kind":"pipe-pressure","value":0.42,"unit":"MPa"}`)

// benchThroughput publishes b.N messages and waits until a group has
// handled (and acknowledged) all of them, reporting msgs/s from the first
// publish to the last acknowledgement.
func benchThroughput(b *testing.B, keyed bool, publishAll func(*nats.Bus, []bus.Message) error) {
	benchThroughputWith(b, nats.Options{MaxAckPending: 8192}, keyed, publishAll)
}

func benchThroughputWith(b *testing.B, opts nats.Options, keyed bool, publishAll func(*nats.Bus, []bus.Message) error) {
	bs := natstest.Open(b, opts)
	var handled atomic.Int64
	done := make(chan struct{})
	target := int64(b.N)
	subscribe := func(ctx context.Context, m bus.Message) error {
		if handled.Add(1) == target {
			close(done)
		}
		return nil
	}
	s, err := bs.Subscribe(context.Background(), "gov.>", "bench", subscribe)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	msgs := make([]bus.Message, b.N)
	for i := range msgs {
		msgs[i] = bus.NewMessage("gov.500000.500107.500107001.sensor.reading", payload)
		if keyed {
			msgs[i].Key = "device-" + strconv.Itoa(i%1000)
		}
	}
	b.ResetTimer()
	start := time.Now()
	if err := publishAll(bs, msgs); err != nil {
		b.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		b.Fatalf("handled %d of %d", handled.Load(), b.N)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
}

// publishBatches publishes from two goroutines in batches of 1,000.
func publishBatches(bs *nats.Bus, msgs []bus.Message) error {
	const publishers, size = 2, 1000
	var wg sync.WaitGroup
	errs := make([]error, publishers)
	for p := range publishers {
		wg.Go(func() {
			for i := p * size; i < len(msgs); i += publishers * size {
				if err := bs.PublishBatch(context.Background(), msgs[i:min(i+size, len(msgs))]); err != nil {
					errs[p] = err
					return
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// publishEach calls Publish from 256 goroutines, each waiting for its
// acknowledgement: many producers each sending one message at a time.
func publishEach(bs *nats.Bus, msgs []bus.Message) error {
	const publishers = 256
	var next atomic.Int64
	var wg sync.WaitGroup
	var first atomic.Value
	for range publishers {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(len(msgs)) {
					return
				}
				if err := bs.Publish(context.Background(), msgs[i]); err != nil {
					first.CompareAndSwap(nil, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err, ok := first.Load().(error); ok {
		return err
	}
	return nil
}

// BenchmarkBusThroughput: unkeyed messages published with PublishBatch,
// consumed by one member with the default Concurrency, each acknowledged.
func BenchmarkBusThroughput(b *testing.B) { benchThroughput(b, false, publishBatches) }

// BenchmarkBusThroughputPacked: as BenchmarkBusThroughput, with PackSize 32.
func BenchmarkBusThroughputPacked(b *testing.B) {
	benchThroughputWith(b, nats.Options{MaxAckPending: 8192, PackSize: 32}, false, publishBatches)
}

// BenchmarkBusThroughputPublish: as BenchmarkBusThroughput, but 256
// goroutines each calling Publish and waiting for the acknowledgement.
func BenchmarkBusThroughputPublish(b *testing.B) { benchThroughput(b, false, publishEach) }

// BenchmarkBusThroughputKeyed: messages of 1,000 keys, so ordered per key:
// one in flight per key lane.
func BenchmarkBusThroughputKeyed(b *testing.B) { benchThroughput(b, true, publishBatches) }

// BenchmarkTierLatency: a street's report travels to the street, district
// and city centres (three groups); each operation is one report, timed from
// the call to Publish until the last of the three has it.
func BenchmarkTierLatency(b *testing.B) {
	bs := natstest.Open(b, nats.Options{})
	received := make([]atomic.Int32, b.N)
	arrived := make(chan int, 3)
	handler := func(ctx context.Context, m bus.Message) error {
		i := int(binary.BigEndian.Uint64(m.Data))
		if received[i].Add(1) == 3 {
			arrived <- i
		}
		return nil
	}
	for _, sub := range []struct{ pattern, group string }{
		{"gov.500000.500107.500107001.>", "street-500107001"},
		{"gov.500000.500107.>", "district-500107"},
		{"gov.500000.>", "city-500000"},
	} {
		s, err := bs.Subscribe(context.Background(), sub.pattern, sub.group, handler)
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
	}
	lat := make([]time.Duration, b.N)
	b.ResetTimer()
	for i := range b.N {
		m := bus.NewMessage("gov.500000.500107.500107001.incident.reported", binary.BigEndian.AppendUint64(nil, uint64(i)))
		start := time.Now()
		if err := bs.Publish(context.Background(), m); err != nil {
			b.Fatal(err)
		}
		select {
		case got := <-arrived:
			if got != i {
				b.Fatalf("report %d arrived while waiting for %d", got, i)
			}
		case <-time.After(10 * time.Second):
			b.Fatalf("report %d did not reach all three tiers", i)
		}
		lat[i] = time.Since(start)
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)*50/100].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[min(len(lat)-1, len(lat)*99/100)].Nanoseconds()), "p99-ns")
}
