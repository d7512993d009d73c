package sensor_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/sensor"
)

func ingBus(t *testing.T) *bus.Memory {
	t.Helper()
	b, err := bus.NewMemory(bus.MemoryOptions{Backoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func ingPublish(t *testing.T, b bus.Publisher, subject, data string) {
	t.Helper()
	require.NoError(t, b.Publish(t.Context(), bus.NewMessage(subject, []byte(data))))
}

func TestSubscribeFeedsIngestion(t *testing.T) {
	reg := ingRegistry(t, 2)
	in := ingNew(t, reg, sensor.IngestOptions{Priority: []string{"fall"}})
	b := ingBus(t)
	ctx := t.Context()
	sub, err := in.Subscribe(ctx, b, "city.wristband.*.up", "ingest")
	require.NoError(t, err)
	defer sub.Close()

	ingPublish(t, b, "city.wristband.wb-0.up", `{"device":"wb-0","seq":1,"ts":"2024-06-10T07:59:00Z","readings":{"heart-rate":[64,"bpm"]}}`)
	ingPublish(t, b, "city.wristband.wb-1.up", `{"device":"wb-1","seq":9,"readings":{"fall":true,"heart-rate":130}}`)
	ingPublish(t, b, "city.wristband.wb-1.up", `{"device":"wb-1","seq":9,"readings":{"fall":true,"heart-rate":130}}`) // redelivered by the device
	ingPublish(t, b, "city.wristband.wb-0.up", `{"device":"wb-0","readings":`)                                        // malformed
	ingPublish(t, b, "city.wristband.wb-7.up", `{"device":"wb-7","readings":{"fall":true}}`)                          // not registered
	require.NoError(t, b.Drain(ctx))
	require.NoError(t, in.Drain(ctx))

	got, ok := in.Latest(0, ingHR)
	require.True(t, ok)
	assert.Equal(t, 64.0, got.Value)
	assert.Equal(t, time.Date(2024, 6, 10, 7, 59, 0, 0, time.UTC), got.Observed)
	got, ok = in.Latest(1, ingFall)
	require.True(t, ok)
	assert.Equal(t, 1.0, got.Value)

	st := in.Stats()
	assert.Equal(t, int64(3), st.Messages)
	assert.Equal(t, int64(2), st.Malformed)
	assert.Equal(t, int64(3), st.Accepted)
	assert.Equal(t, int64(2), st.Duplicates)
	bs := b.Stats()
	assert.Equal(t, int64(5), bs.Acked, "malformed messages are acknowledged: redelivery cannot fix them")
	assert.Zero(t, bs.Nacked)

	_, err = in.Subscribe(ctx, nil, "x", "g")
	assert.Error(t, err)
	_, err = in.Subscribe(ctx, b, "", "g")
	assert.ErrorIs(t, err, bus.ErrInvalidSubject)
}

// A full queue under the Reject policy makes the handler return
// bus.ErrOverloaded, so the transport redelivers the message later.
func TestHandlerRedeliversWhenOverloaded(t *testing.T) {
	in, g := ingBusyWorker(t, sensor.IngestOptions{QueueSize: 1, Overload: bus.Reject})
	b := ingBus(t)
	ctx := t.Context()
	refused := make(chan error, 16)
	onError := func(next bus.Handler) bus.Handler {
		return func(ctx context.Context, m bus.Message) error {
			err := next(ctx, m)
			if err != nil {
				select {
				case refused <- err:
				default:
				}
			}
			return err
		}
	}
	sub, err := b.Subscribe(ctx, "up.>", "ingest", bus.Chain(in.Handler(), onError))
	require.NoError(t, err)
	defer sub.Close()
	ingPublish(t, b, "up.wb-1", `{"device":"wb-1","seq":1,"readings":{"heart-rate":61}}`)
	ingPublish(t, b, "up.wb-1", `{"device":"wb-1","seq":2,"readings":{"heart-rate":62}}`)
	assert.ErrorIs(t, <-refused, bus.ErrOverloaded)
	close(g.release)
	require.NoError(t, b.Drain(ctx))
	require.NoError(t, in.Drain(ctx))
	assert.ElementsMatch(t, []float64{20, 61, 62}, g.values(), "nothing lost")
	assert.Positive(t, b.Stats().Nacked)
	assert.Positive(t, in.Stats().Overloaded)
}

func TestHandlerAcknowledgesOversizeMessages(t *testing.T) {
	in := ingNew(t, ingRegistry(t, 1), sensor.IngestOptions{QueueSize: 1})
	err := in.Handler()(t.Context(), bus.NewMessage("up.wb-0", []byte(`{"device":"wb-0","readings":{"heart-rate":61,"fall":0}}`)))
	require.NoError(t, err)
	assert.Equal(t, int64(1), in.Stats().Malformed)
}

// SyncHandler acknowledges only what is stored: a sink failure makes the
// transport redeliver, and the redelivery is not absorbed.
func TestSyncHandlerRedeliversOnSinkFailure(t *testing.T) {
	sink := &ingFlakySink{failures: 1}
	obs := &ingRecorder{}
	in := ingNew(t, ingRegistry(t, 1), sensor.IngestOptions{Sink: sink, Observers: []sensor.Observer{obs}})
	b := ingBus(t)
	ctx := t.Context()
	sub, err := b.Subscribe(ctx, "up.>", "ingest", in.SyncHandler())
	require.NoError(t, err)
	defer sub.Close()
	ingPublish(t, b, "up.wb-0", `{"device":"wb-0","seq":3,"readings":{"heart-rate":61,"fall":0}}`)
	ingPublish(t, b, "up.wb-0", `not json`)
	require.NoError(t, b.Drain(ctx))
	assert.Len(t, sink.got(), 2)
	assert.Len(t, obs.all(), 2)
	bs := b.Stats()
	assert.Equal(t, int64(1), bs.Nacked)
	assert.Equal(t, int64(2), bs.Acked)
	st := in.Stats()
	assert.Equal(t, int64(2), st.Accepted)
	assert.Equal(t, int64(1), st.Malformed)
	assert.Equal(t, int64(1), st.SinkErrors)
}
