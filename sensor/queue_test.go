package sensor_test

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/sensor"
)

// ingGate is an observer that records, and holds the first batch it sees
// until released, so that tests can fill the queue behind a busy worker.
type ingGate struct {
	ingRecorder
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func ingNewGate() *ingGate {
	return &ingGate{entered: make(chan struct{}), release: make(chan struct{})}
}

func (g *ingGate) Observe(batch []sensor.Reading) {
	g.ingRecorder.Observe(batch)
	g.once.Do(func() {
		close(g.entered)
		<-g.release
	})
}

// values returns the heart rates the observer saw, in order.
func (g *ingGate) values() []float64 {
	var out []float64
	for _, r := range g.all() {
		out = append(out, r.Value)
	}
	return out
}

// ingBatch returns n heart-rate readings of device h valued v, v+1, …,
// unnumbered.
func ingBatch(h sensor.Handle, n int, v float64) []sensor.Reading {
	out := make([]sensor.Reading, n)
	for i := range out {
		out[i] = ingRd(h, ingHR, 0, v+float64(i), -time.Minute)
	}
	return out
}

// ingBusyWorker starts an ingester with one worker and a gate observer, and
// submits a first batch (value 20) that the worker takes and holds.
func ingBusyWorker(t *testing.T, opts sensor.IngestOptions) (*sensor.Ingester, *ingGate) {
	t.Helper()
	g := ingNewGate()
	opts.Workers = 1
	opts.Observers = []sensor.Observer{g}
	in := ingNew(t, ingRegistry(t, 2), opts)
	t.Cleanup(func() {
		select {
		case <-g.release:
		default:
			close(g.release)
		}
	})
	require.NoError(t, in.Submit(t.Context(), ingBatch(0, 1, 20)))
	<-g.entered
	return in, g
}

func TestSubmitAndDrain(t *testing.T) {
	reg := ingRegistry(t, 3)
	obs := &ingRecorder{}
	in := ingNew(t, reg, sensor.IngestOptions{Observers: []sensor.Observer{obs}})
	ctx := t.Context()
	batch := []sensor.Reading{ingRd(0, ingHR, 1, 70, -time.Second), ingRd(1, ingHR, 1, 400, -time.Second), ingRd(2, ingHR, 1, 71, -time.Second)}
	for range 10 {
		require.NoError(t, in.Submit(ctx, batch))
	}
	batch[0].Value = 99 // Submit copied the batch
	require.NoError(t, in.Drain(ctx))
	st := in.Stats()
	assert.Equal(t, int64(30), st.Submitted)
	assert.Equal(t, int64(2), st.Accepted, "the rest were duplicates")
	assert.Equal(t, int64(18), st.Duplicates)
	assert.Equal(t, int64(10), st.Rejected[sensor.ReasonOutOfRange])
	assert.Zero(t, st.Queued)
	got, ok := in.Latest(0, ingHR)
	require.True(t, ok)
	assert.Equal(t, 70.0, got.Value)
	assert.NoError(t, in.Submit(ctx, nil))
}

func TestPriorityLaneServedFirst(t *testing.T) {
	in, g := ingBusyWorker(t, sensor.IngestOptions{Priority: []string{"fall", "heartbeat"}})
	ctx := t.Context()
	require.NoError(t, in.Submit(ctx, ingBatch(0, 2, 30))) // bulk
	require.NoError(t, in.Submit(ctx, ingBatch(1, 1, 40))) // bulk
	// A fall alarm and a heartbeat, with telemetry in the same batch: the
	// alarm and heartbeat take the priority lane, the rest waits its turn.
	require.NoError(t, in.Submit(ctx, []sensor.Reading{
		ingRd(1, ingHR, 0, 50, -time.Minute),
		ingRd(1, ingFall, 0, 1, -time.Minute),
		ingRd(0, ingBeat, 0, 7, -time.Minute),
	}))
	close(g.release)
	require.NoError(t, in.Drain(ctx))
	assert.Equal(t, []float64{20, 1, 7, 30, 31, 40, 50}, g.values())
}

func TestOverloadReject(t *testing.T) {
	in, g := ingBusyWorker(t, sensor.IngestOptions{QueueSize: 4, Overload: bus.Reject})
	ctx := t.Context()
	require.NoError(t, in.Submit(ctx, ingBatch(0, 4, 30)))
	err := in.Submit(ctx, ingBatch(0, 1, 40))
	require.ErrorIs(t, err, bus.ErrOverloaded)
	assert.ErrorIs(t, in.Submit(ctx, ingBatch(0, 5, 50)), sensor.ErrBatchTooLarge)
	st := in.Stats()
	assert.Equal(t, int64(1), st.Overloaded)
	assert.Equal(t, int64(5), st.Queued, "four queued, one being ingested")
	close(g.release)
	require.NoError(t, in.Drain(ctx))
	assert.Equal(t, []float64{20, 30, 31, 32, 33}, g.values())
}

func TestOverloadDropOldest(t *testing.T) {
	in, g := ingBusyWorker(t, sensor.IngestOptions{QueueSize: 4, Overload: bus.DropOldest, Priority: []string{"fall"}})
	ctx := t.Context()
	require.NoError(t, in.Submit(ctx, ingBatch(0, 2, 30)))
	require.NoError(t, in.Submit(ctx, ingBatch(0, 2, 40)))
	require.NoError(t, in.Submit(ctx, ingBatch(0, 3, 50))) // drops both older batches
	assert.Equal(t, int64(4), in.Stats().Dropped)

	// Alarms are never dropped: with the priority lane full, Submit waits.
	alarms := []sensor.Reading{ingRd(1, ingFall, 0, 1, -time.Minute)}
	for range 4 {
		require.NoError(t, in.Submit(ctx, alarms))
	}
	waitCtx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- in.Submit(waitCtx, alarms) }()
	cancel()
	assert.ErrorIs(t, <-done, context.Canceled)
	st := in.Stats()
	assert.Equal(t, int64(4), st.Dropped)
	assert.Equal(t, int64(1), st.Overloaded)

	close(g.release)
	require.NoError(t, in.Drain(ctx))
	assert.Equal(t, []float64{20, 1, 1, 1, 1, 50, 51, 52}, g.values())
}

func TestOverloadBlock(t *testing.T) {
	in, g := ingBusyWorker(t, sensor.IngestOptions{QueueSize: 4})
	ctx := t.Context()
	require.NoError(t, in.Submit(ctx, ingBatch(0, 4, 30)))

	// A Submit that waits until its context ends is refused and counted.
	waitCtx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- in.Submit(waitCtx, ingBatch(0, 1, 90)) }()
	cancel()
	assert.ErrorIs(t, <-done, context.Canceled)
	assert.Equal(t, int64(1), in.Stats().Overloaded)

	// One that waits gets in once the worker frees room.
	go func() { done <- in.Submit(ctx, ingBatch(0, 4, 40)) }()
	close(g.release)
	require.NoError(t, <-done)
	require.NoError(t, in.Drain(ctx))
	assert.Equal(t, []float64{20, 30, 31, 32, 33, 40, 41, 42, 43}, g.values())
	assert.Zero(t, in.Stats().Dropped)
}

// Flooding a stalled ingester never grows its memory beyond the queue's
// bound: what does not fit is dropped or refused, and counted.
func TestFloodStaysBounded(t *testing.T) {
	for _, policy := range []bus.Overload{bus.DropOldest, bus.Reject} {
		t.Run(policy.String(), func(t *testing.T) {
			const queue, batches, size = 1024, 10_000, 100 // a million readings
			in, g := ingBusyWorker(t, sensor.IngestOptions{QueueSize: queue, Overload: policy})
			ctx := t.Context()
			batch := ingBatch(1, size, 30)
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			refused := 0
			for range batches {
				if err := in.Submit(ctx, batch); err != nil {
					require.ErrorIs(t, err, bus.ErrOverloaded)
					refused++
				}
				require.LessOrEqual(t, in.Stats().Queued, int64(queue+1))
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
			// A million queued readings would be 88 MB.
			assert.Less(t, grown, int64(4<<20), "heap grew by %d bytes", grown)

			st := in.Stats()
			if policy == bus.DropOldest {
				assert.Zero(t, refused)
				assert.Equal(t, int64(batches*size-queue/size*size), st.Dropped)
			} else {
				assert.Equal(t, batches-queue/size, refused)
				assert.Equal(t, int64(refused*size), st.Overloaded)
			}
			close(g.release)
			require.NoError(t, in.Drain(ctx))
			st = in.Stats()
			assert.Equal(t, int64(1+queue/size*size), st.Accepted)
			assert.Equal(t, st.Submitted, st.Accepted+st.Dropped)
			_ = g
		})
	}
}

func TestCloseIngestsWhatWasQueued(t *testing.T) {
	in, g := ingBusyWorker(t, sensor.IngestOptions{})
	ctx := t.Context()
	require.NoError(t, in.Submit(ctx, ingBatch(0, 3, 30)))
	closed := make(chan error)
	go func() { closed <- in.Close(ctx) }()
	close(g.release)
	require.NoError(t, <-closed)
	assert.Equal(t, []float64{20, 30, 31, 32}, g.values(), "nothing accepted is lost")
	assert.ErrorIs(t, in.Submit(ctx, ingBatch(0, 1, 40)), sensor.ErrClosed)
	assert.ErrorIs(t, in.Close(ctx), sensor.ErrClosed)
	// The synchronous path still works.
	res, err := in.Ingest(ctx, ingBatch(1, 1, 50))
	require.NoError(t, err)
	assert.Equal(t, 1, res.Accepted)
}

func TestCloseWakesBlockedSubmit(t *testing.T) {
	in, g := ingBusyWorker(t, sensor.IngestOptions{QueueSize: 1})
	ctx := t.Context()
	require.NoError(t, in.Submit(ctx, ingBatch(0, 1, 30)))
	blocked := make(chan error)
	go func() { blocked <- in.Submit(ctx, ingBatch(0, 1, 40)) }()
	closed := make(chan error)
	go func() { closed <- in.Close(ctx) }()
	assert.ErrorIs(t, <-blocked, sensor.ErrClosed)
	close(g.release)
	require.NoError(t, <-closed)
	assert.Equal(t, []float64{20, 30}, g.values())
}

func TestCloseWithoutSubmit(t *testing.T) {
	in := ingNew(t, ingRegistry(t, 1), sensor.IngestOptions{})
	require.NoError(t, in.Drain(t.Context()))
	require.NoError(t, in.Close(t.Context()))
	assert.ErrorIs(t, in.Submit(t.Context(), ingBatch(0, 1, 30)), sensor.ErrClosed)
}

func TestWorkerRetriesSink(t *testing.T) {
	sink := &ingFlakySink{failures: 2}
	obs := &ingRecorder{}
	in := ingNew(t, ingRegistry(t, 1), sensor.IngestOptions{Sink: sink, Observers: []sensor.Observer{obs}, SinkBackoff: time.Millisecond, Workers: 1})
	ctx := t.Context()
	require.NoError(t, in.Submit(ctx, []sensor.Reading{ingRd(0, ingHR, 1, 70, 0)}))
	require.NoError(t, in.Drain(ctx))
	assert.Len(t, sink.got(), 1)
	assert.Len(t, obs.all(), 1)
	st := in.Stats()
	assert.Equal(t, int64(2), st.SinkErrors)
	assert.Equal(t, int64(1), st.Accepted)
}

// When Close's context ends before the queue is empty (here the sink
// never recovers), the rest is dropped and counted, and the dropped
// readings' sequence numbers are withdrawn so a redelivery is taken.
func TestCloseGivesUp(t *testing.T) {
	sink := &ingFlakySink{failures: 1 << 30}
	reg := ingRegistry(t, 1)
	in := ingNew(t, reg, sensor.IngestOptions{Sink: sink, SinkBackoff: time.Millisecond, Workers: 1})
	ctx := t.Context()
	require.NoError(t, in.Submit(ctx, []sensor.Reading{ingRd(0, ingHR, 1, 70, 0)}))
	require.NoError(t, in.Submit(ctx, []sensor.Reading{ingRd(0, ingHR, 2, 71, 0), ingRd(0, ingHR, 3, 72, 0)}))
	expired, cancel := context.WithCancel(ctx)
	cancel()
	require.ErrorIs(t, in.Close(expired), context.Canceled)
	st := in.Stats()
	assert.Equal(t, int64(3), st.Dropped)
	assert.Zero(t, st.Accepted)
	assert.Zero(t, st.Queued)

	sink.mu.Lock()
	sink.failures = 0
	sink.mu.Unlock()
	res, err := in.Ingest(ctx, []sensor.Reading{ingRd(0, ingHR, 1, 70, 0), ingRd(0, ingHR, 2, 71, 0)})
	require.NoError(t, err)
	assert.Equal(t, 2, res.Accepted, "redelivered readings are not absorbed")
}

func TestDrainHonoursContext(t *testing.T) {
	in, g := ingBusyWorker(t, sensor.IngestOptions{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	assert.ErrorIs(t, in.Drain(ctx), context.Canceled)
	close(g.release)
	require.NoError(t, in.Drain(t.Context()))
}

func TestSubmitFromManyGoroutines(t *testing.T) {
	const goroutines, per = 4, 500
	reg := ingRegistry(t, goroutines)
	in := ingNew(t, reg, sensor.IngestOptions{QueueSize: 64, Workers: 2, MaxSkew: -1})
	ctx := t.Context()
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range per {
				r := ingRd(sensor.Handle(g), ingHR, uint64(i+1), 70, time.Duration(i)*time.Second)
				if !assert.NoError(t, in.Submit(ctx, []sensor.Reading{r})) {
					return
				}
			}
		})
	}
	wg.Wait()
	require.NoError(t, in.Close(ctx))
	st := in.Stats()
	assert.Equal(t, int64(goroutines*per), st.Submitted)
	assert.Equal(t, int64(goroutines*per), st.Accepted+st.Duplicates)
	for g := range sensor.Handle(goroutines) {
		got, ok := in.Latest(g, ingHR)
		require.True(t, ok)
		assert.Equal(t, uint64(per), got.Seq, "the newest wins whatever the order of ingestion")
	}
}

// Small queued batches (a bus message each) reach the sink and the
// observers as larger ones, of at most MaxBatch readings.
func TestWorkerCoalescesBatches(t *testing.T) {
	sink := &ingFlakySink{}
	in, g := ingBusyWorker(t, sensor.IngestOptions{MaxBatch: 5, Sink: sink})
	ctx := t.Context()
	for i := range 6 {
		require.NoError(t, in.Submit(ctx, ingBatch(0, 2, float64(30+10*i))))
	}
	close(g.release)
	require.NoError(t, in.Drain(ctx))
	var sizes []int
	g.mu.Lock()
	for _, b := range g.batches {
		sizes = append(sizes, len(b))
	}
	g.mu.Unlock()
	assert.Equal(t, []int{1, 4, 4, 4}, sizes)
	assert.Equal(t, []float64{20, 30, 31, 40, 41, 50, 51, 60, 61, 70, 71, 80, 81}, g.values())
	assert.Len(t, sink.got(), 13)
	sink.mu.Lock()
	assert.Equal(t, 4, sink.calls)
	sink.mu.Unlock()
}
