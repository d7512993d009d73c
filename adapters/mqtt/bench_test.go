package mqtt

import (
	"context"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/govkit/govkit/bus"
)

// BenchmarkBusThroughput measures publish → broker → consume → ack at
// QoS 1 over loopback: one publishing bus (PublishBatch from several
// goroutines, so that many messages are in flight) and one subscribing bus
// (one member, default Concurrency), with the broker, all on the same
// machine. It reports msgs/s (messages handled and acknowledged per second,
// end to end) and lost (sequence gaps the subscriber counted: the figure
// is valid only when lost is 0).
//
// The broker is GOVKIT_TEST_MQTT; with GOVKIT_BENCH_OWN_BROKER=1 the
// benchmark starts its own Mosquitto with the lossless settings and
// set_tcp_nodelay instead (see the package documentation, "Packs").
func BenchmarkBusThroughput(b *testing.B) { benchThroughput(b, 0) }

// BenchmarkBusThroughputPacked is BenchmarkBusThroughput with PackSize 32
// on the publishing bus, and batches as gateways send them: the 1,000
// devices report through 40 gateways, each gateway's readings on the
// gateway's subject with the device as Key, and each batch of 128 comes
// from one gateway (the gateways take turns). Every batch thus travels as
// four packs of 32, each spread over the member's handler goroutines by
// key; the 1,000 device streams are numbered and checked as before.
func BenchmarkBusThroughputPacked(b *testing.B) { benchThroughput(b, 32) }

// benchThroughput runs the throughput benchmarks; packSize 0 publishes
// each device's readings on its own subject, as one message per PUBLISH.
func benchThroughput(b *testing.B, packSize int) {
	keys := make([]string, devices)
	for i := range keys {
		keys[i] = "d" + strconv.Itoa(i)
	}
	pb, sb, root, subjects, brokerCPU := benchBuses(b, packSize, keys)

	var handled atomic.Int64
	target := int64(b.N)
	done := make(chan struct{})
	_, err := sb.Subscribe(context.Background(), root+".>", "bench", func(ctx context.Context, m bus.Message) error {
		if handled.Add(1) == target {
			close(done)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	payload := []byte(`{"device":"d-000","t":21.5,"rh":0.43}`)
	b.ResetTimer()
	cpu0, bcpu0 := cpuTime(), brokerCPU()
	start := time.Now()
	publishAll(b, pb, packSize, func(i int64, d int) bus.Message {
		m := bus.NewMessage(subjects[d], payload)
		m.Key = keys[d]
		return m
	})
	select {
	case <-done:
	case <-time.After(30 * time.Second):
	}
	elapsed := time.Since(start)
	cpu, bcpu := cpuTime()-cpu0, brokerCPU()-bcpu0
	b.StopTimer()
	st := sb.Stats()
	b.ReportMetric(float64(handled.Load())/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(st.Lost), "lost")
	b.ReportMetric(float64(st.Duplicates), "dups")
	b.ReportMetric(float64(cpu.Microseconds())/float64(max(handled.Load(), 1)), "client-cpu-µs/msg")
	if bcpu > 0 {
		b.ReportMetric(float64(bcpu.Microseconds())/float64(max(handled.Load(), 1)), "broker-cpu-µs/msg")
	}
	if handled.Load() < target || st.Lost > 0 {
		b.Errorf("invalid figure: handled %d of %d, %d lost (the broker dropped messages; use the lossless settings)", handled.Load(), target, st.Lost)
	}
}

// The load the throughput benchmarks publish: 1,000 devices behind 40
// gateways, in batches of 128 from 4 goroutines.
const (
	publishers = 4
	batch      = 128
	devices    = 1000
	gateways   = 40
)

// benchBuses returns the publishing bus (with packSize) and the
// subscribing bus of a throughput benchmark, on GOVKIT_TEST_MQTT or, with
// GOVKIT_BENCH_OWN_BROKER=1, on a broker of its own with the lossless
// settings and set_tcp_nodelay, whose CPU time brokerCPU reports (zero on
// the shared broker). subjects[d] is device d's subject, the device's or
// with packs its gateway's, under root, the benchmark's own.
func benchBuses(b *testing.B, packSize int, devices []string) (pb, sb *Bus, root string, subjects []string, brokerCPU func() time.Duration) {
	var server string
	brokerCPU = func() time.Duration { return 0 }
	if os.Getenv("GOVKIT_BENCH_OWN_BROKER") == "1" {
		br := startBroker(b, losslessConfig+"set_tcp_nodelay true\n")
		server, brokerCPU = br.url(), br.cpuTime
	} else {
		server = serverURL(b)
	}
	pubOpts := testOptions(b, server)
	pubOpts.ClientID += "-p"
	pubOpts.PackSize = packSize
	subOpts := testOptions(b, server)
	subOpts.ClientID += "-s"
	root = "govkit-bench." + randomToken()
	subjects = make([]string, len(devices))
	for i, d := range devices {
		subjects[i] = root + ".sensor." + d + ".up"
		if packSize > 0 {
			subjects[i] = root + ".gateway.g" + strconv.Itoa(i%gateways) + ".up"
		}
	}
	return newTestBus(b, pubOpts), newTestBus(b, subOpts), root, subjects, brokerCPU
}

// publishAll publishes b.N messages through pb from the publishing
// goroutines, each batch with PublishBatch; msg builds message i for
// device d. Unpacked, message i comes from device i mod 1,000; packed,
// each batch comes from one gateway (the gateways take turns) and its
// messages from that gateway's devices in turn.
func publishAll(b *testing.B, pb *Bus, packSize int, msg func(i int64, d int) bus.Message) {
	ctx := context.Background()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range publishers {
		wg.Go(func() {
			msgs := make([]bus.Message, 0, batch)
			for {
				first := next.Add(batch) - batch
				if first >= int64(b.N) {
					return
				}
				msgs = msgs[:0]
				for i := first; i < min(first+batch, int64(b.N)); i++ {
					d := int(i % devices)
					if packSize > 0 {
						g, n := int(first/batch%gateways), int(i-first)
						d = g + gateways*(n%(devices/gateways))
					}
					msgs = append(msgs, msg(i, d))
				}
				if err := pb.PublishBatch(ctx, msgs); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// cpuTime returns the CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
