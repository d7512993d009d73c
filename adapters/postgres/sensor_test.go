package postgres_test

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/adapters/postgres"
	"github.com/govkit/govkit/adapters/postgres/pgtest"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/sensor"
)

// sensorRegistry registers devices pp-0 … pp-(n-1) of a two-resource
// pressure profile.
func sensorRegistry(t testing.TB, n int) *sensor.Registry {
	t.Helper()
	reg := sensor.NewRegistry()
	require.NoError(t, reg.AddProfile(sensor.Profile{Name: "pipe-pressure-v1", Resources: []sensor.Resource{
		{Name: "pressure", Unit: "MPa", Min: 0, Max: 2.5, Interval: time.Minute},
		{Name: "battery", Unit: "%", Min: 0, Max: 100, Interval: time.Hour},
	}}))
	for i := range n {
		_, err := reg.Register(sensor.Device{ID: fmt.Sprintf("pp-%d", i), Profile: "pipe-pressure-v1", Location: geo.Point{Lat: 29.5, Lon: 106.5}})
		require.NoError(t, err)
	}
	return reg
}

type storedReading struct {
	Device, Resource, Unit string
	Value                  float64
	Observed, Received     time.Time
	Seq                    int64
	Quality                int16
}

func storedReadings(t testing.TB, db *postgres.DB) []storedReading {
	t.Helper()
	rows, err := db.Pool().Query(testCtx(t), `SELECT device_id, resource, unit, value, observed, received, seq, quality
		FROM govkit_sensor_reading ORDER BY device_id, resource, observed`)
	require.NoError(t, err)
	defer rows.Close()
	var out []storedReading
	for rows.Next() {
		var s storedReading
		require.NoError(t, rows.Scan(&s.Device, &s.Resource, &s.Unit, &s.Value, &s.Observed, &s.Received, &s.Seq, &s.Quality))
		s.Observed, s.Received = s.Observed.UTC(), s.Received.UTC()
		out = append(out, s)
	}
	require.NoError(t, rows.Err())
	return out
}

func TestReadingSinkWritesAndReadsBack(t *testing.T) {
	ctx := testCtx(t)
	db := pgtest.New(t)
	reg := sensorRegistry(t, 2)
	sink, err := postgres.NewReadingSink(ctx, db, reg)
	require.NoError(t, err)
	_, err = postgres.NewReadingSink(ctx, db, reg) // migrations apply once
	require.NoError(t, err)

	at := time.Date(2024, 6, 10, 8, 15, 30, 123456789, time.UTC)
	rec := at.Add(2 * time.Second)
	require.NoError(t, sink.Write(ctx, []sensor.Reading{
		{Device: 0, Resource: 0, Seq: 41, Value: 0.42, Unit: "MPa", Observed: at, Received: rec},
		{Device: 0, Resource: 0, Seq: 40, Value: 0.43, Observed: at.Add(-time.Minute), Received: rec, Quality: sensor.QualityLate},
		{Device: 0, Resource: 1, Value: 87, Observed: at, Received: rec},
		{Device: 1, Resource: 0, Seq: math.MaxUint64, Value: 1.5, Observed: at, Received: rec},
	}))
	require.NoError(t, sink.Write(ctx, nil))
	usec, recUsec := at.Truncate(time.Microsecond), rec.Truncate(time.Microsecond)
	assert.Equal(t, []storedReading{
		{"pp-0", "battery", "%", 87, usec, recUsec, 0, 0},
		{"pp-0", "pressure", "MPa", 0.43, usec.Add(-time.Minute), recUsec, 40, 1},
		{"pp-0", "pressure", "MPa", 0.42, usec, recUsec, 41, 0},
		{"pp-1", "pressure", "MPa", 1.5, usec, recUsec, -1, 0},
	}, storedReadings(t, db))
}

func TestReadingSinkRefusesUnknownHandles(t *testing.T) {
	ctx := testCtx(t)
	db := pgtest.New(t)
	reg := sensorRegistry(t, 1)
	sink, err := postgres.NewReadingSink(ctx, db, reg)
	require.NoError(t, err)
	now := time.Now()
	err = sink.Write(ctx, []sensor.Reading{{Device: 0, Value: 1, Observed: now, Received: now}, {Device: 5, Observed: now, Received: now}})
	assert.ErrorIs(t, err, postgres.ErrInvalidArgument)
	assert.ErrorIs(t, err, sensor.ErrUnknownDevice)
	err = sink.Write(ctx, []sensor.Reading{{Device: 0, Resource: 2, Observed: now, Received: now}})
	assert.ErrorIs(t, err, sensor.ErrUnknownResource)
	assert.Empty(t, storedReadings(t, db), "nothing of a refused batch is written")

	_, err = postgres.NewReadingSink(ctx, nil, reg)
	assert.ErrorIs(t, err, postgres.ErrInvalidArgument)
	_, err = postgres.NewReadingSink(ctx, db, nil)
	assert.ErrorIs(t, err, postgres.ErrInvalidArgument)
}

// cancelFirst passes its first write to the sink with a cancelled
// context, so that the write fails as if the connection dropped.
type cancelFirst struct {
	sensor.Sink
	calls atomic.Int32
}

func (c *cancelFirst) Write(ctx context.Context, batch []sensor.Reading) error {
	if c.calls.Add(1) == 1 {
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		ctx = cancelled
	}
	return c.Sink.Write(ctx, batch)
}

// The sink behind an ingester: what is accepted is stored, duplicates are
// not, and a write that fails leaves the batch to be retried.
func TestReadingSinkBehindIngester(t *testing.T) {
	ctx := testCtx(t)
	db := pgtest.New(t)
	reg := sensorRegistry(t, 3)
	sink, err := postgres.NewReadingSink(ctx, db, reg)
	require.NoError(t, err)
	in, err := sensor.NewIngester(reg, sensor.IngestOptions{Authorizer: access.AllowAll(), Area: "500000", Sink: &cancelFirst{Sink: sink}, Workers: 2})
	require.NoError(t, err)
	at := time.Now().Add(-time.Minute)
	batch := []sensor.Reading{
		{Device: 0, Resource: 0, Seq: 1, Value: 0.4, Observed: at},
		{Device: 1, Resource: 0, Seq: 1, Value: 9, Observed: at}, // out of range
		{Device: 2, Resource: 1, Seq: 1, Value: 50, Observed: at},
	}

	_, err = in.Ingest(ctx, batch)
	require.ErrorIs(t, err, sensor.ErrSink)
	require.ErrorIs(t, err, context.Canceled)
	assert.Empty(t, storedReadings(t, db))

	require.NoError(t, in.Submit(ctx, batch)) // redelivered, through the queue
	require.NoError(t, in.Submit(ctx, batch)) // and once more
	require.NoError(t, in.Close(ctx))

	got := storedReadings(t, db)
	require.Len(t, got, 2)
	assert.Equal(t, "pp-0", got[0].Device)
	assert.Equal(t, "pp-2", got[1].Device)
	assert.Equal(t, "battery", got[1].Resource)
	st := in.Stats()
	assert.Equal(t, int64(2), st.Accepted)
	assert.Equal(t, int64(2), st.Duplicates)
	assert.Equal(t, int64(1), st.SinkErrors)
}

// BenchmarkReadingSink writes batches of 1,000 readings of 10,000 devices
// from 2×GOMAXPROCS goroutines sharing the pool, and reports readings/s.
func BenchmarkReadingSink(b *testing.B) {
	ctx := testCtx(b)
	db := pgtest.New(b)
	const devices, size = 10_000, 1000
	reg := sensorRegistry(b, devices)
	sink, err := postgres.NewReadingSink(ctx, db, reg)
	require.NoError(b, err)
	var next atomic.Int64
	b.SetParallelism(2)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		batch := make([]sensor.Reading, size)
		for pb.Next() {
			k := next.Add(1)
			now := time.Now()
			for i := range batch {
				batch[i] = sensor.Reading{Device: sensor.Handle((int(k)*size + i) % devices), Resource: uint8(i & 1),
					Seq: uint64(k), Value: 0.5, Observed: now.Add(-time.Second), Received: now}
			}
			if err := sink.Write(ctx, batch); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)*size/b.Elapsed().Seconds(), "readings/s")
}
