package sensor_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/clock"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/sensor"
)

// ingT0 is the ingestion tests' "now".
var ingT0 = time.Date(2024, 6, 10, 8, 0, 0, 0, time.UTC)

// ingWristband is the ingestion tests' profile: resource 0 is a heart rate,
// 1 a fall flag (an alarm), 2 a heartbeat.
var ingWristband = sensor.Profile{Name: "wristband-v1", Resources: []sensor.Resource{
	{Name: "heart-rate", Unit: "bpm", Min: 20, Max: 250, Interval: time.Minute},
	{Name: "fall", Unit: "", Min: 0, Max: 1},
	{Name: "heartbeat", Unit: "", Min: math.NaN(), Max: math.NaN(), Interval: 5 * time.Minute},
}}

const (
	ingHR uint8 = iota
	ingFall
	ingBeat
)

// ingRegistry is a registry of wristbands wb-0 … wb-(n-1), handles 0 … n-1.
func ingRegistry(t testing.TB, n int) *sensor.Registry {
	t.Helper()
	r := sensor.NewRegistry()
	require.NoError(t, r.AddProfile(ingWristband))
	for i := range n {
		h, err := r.Register(sensor.Device{ID: fmt.Sprintf("wb-%d", i), Profile: ingWristband.Name, Location: geo.Point{Lat: 29.56, Lon: 106.55}})
		require.NoError(t, err)
		require.Equal(t, sensor.Handle(i), h)
	}
	return r
}

// ingRecorder is an observer that keeps copies of what it sees.
type ingRecorder struct {
	mu      sync.Mutex
	batches [][]sensor.Reading
}

func (o *ingRecorder) Observe(batch []sensor.Reading) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.batches = append(o.batches, slices.Clone(batch))
}

func (o *ingRecorder) all() []sensor.Reading {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []sensor.Reading
	for _, b := range o.batches {
		out = append(out, b...)
	}
	return out
}

func ingNew(t testing.TB, reg *sensor.Registry, opts sensor.IngestOptions) *sensor.Ingester {
	t.Helper()
	if opts.Clock == nil {
		opts.Clock = clock.NewManual(ingT0)
	}
	if opts.Authorizer == nil {
		opts.Authorizer, opts.Area = access.AllowAll(), "500000"
	}
	in, err := sensor.NewIngester(reg, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = in.Close(context.Background()) })
	return in
}

func ingRd(h sensor.Handle, res uint8, seq uint64, v float64, at time.Duration) sensor.Reading {
	return sensor.Reading{Device: h, Resource: res, Seq: seq, Value: v, Observed: ingT0.Add(at)}
}

func TestNewIngesterValidates(t *testing.T) {
	reg := ingRegistry(t, 1)
	open := sensor.IngestOptions{Authorizer: access.AllowAll(), Area: "500000"}
	_, err := sensor.NewIngester(nil, open)
	assert.Error(t, err)
	_, err = sensor.NewIngester(reg, open)
	require.NoError(t, err)
	for _, mod := range []func(*sensor.IngestOptions){
		func(o *sensor.IngestOptions) { o.Workers = -1 }, func(o *sensor.IngestOptions) { o.QueueSize = -1 },
		func(o *sensor.IngestOptions) { o.MaxBatch = -1 }, func(o *sensor.IngestOptions) { o.SinkBackoff = -1 },
		func(o *sensor.IngestOptions) { o.Overload = 9 }, func(o *sensor.IngestOptions) { o.Observers = []sensor.Observer{nil} },
		func(o *sensor.IngestOptions) { o.Priority = []string{"bad name"} },
		func(o *sensor.IngestOptions) { o.Authorizer = nil }, func(o *sensor.IngestOptions) { o.Area = "" },
	} {
		o := open
		mod(&o)
		_, err := sensor.NewIngester(reg, o)
		assert.Error(t, err, "%+v", o)
	}
}

// A source is authorized once per call or subscription, within the area
// the ingester serves: a district's gateway service feeds its own
// district's ingester, not its neighbour's.
func TestIngestAuthorizesTheSource(t *testing.T) {
	reg := ingRegistry(t, 2)
	policy, err := access.NewPolicy(map[string][]access.Grant{"gateway": {{Action: sensor.ActionIngest, Resource: sensor.ResourceReadings}}})
	require.NoError(t, err)
	gateway := access.Actor{ID: "gw-jiulongpo", Kind: access.SensorSystem, Scope: "500107", Roles: []string{"gateway"}}
	ctx := access.WithActor(t.Context(), gateway)
	batch := []sensor.Reading{ingRd(0, ingHR, 1, 72, time.Second)}

	own := ingNew(t, reg, sensor.IngestOptions{Authorizer: policy, Area: "500107"})
	res, err := own.Ingest(ctx, batch)
	require.NoError(t, err)
	assert.Equal(t, 1, res.Accepted)

	neighbour := ingNew(t, reg, sensor.IngestOptions{Authorizer: policy, Area: "500103"})
	for name, call := range map[string]func(context.Context) error{
		"Ingest": func(ctx context.Context) error { _, err := neighbour.Ingest(ctx, batch); return err },
		"IngestJSON": func(ctx context.Context) error {
			_, err := neighbour.IngestJSON(ctx, []byte(`{"device":"x"}`))
			return err
		},
		"Submit": func(ctx context.Context) error { return neighbour.Submit(ctx, batch) },
		"Subscribe": func(ctx context.Context) error {
			b, err := bus.NewMemory(bus.MemoryOptions{})
			require.NoError(t, err)
			defer b.Close()
			_, err = neighbour.Subscribe(ctx, b, "gov.>", "ingest")
			return err
		},
	} {
		assert.ErrorIs(t, call(ctx), access.ErrDenied, "%s in another district", name)
		assert.ErrorIs(t, call(t.Context()), access.ErrNoActor, "%s without an actor", name)
	}
	st := neighbour.Stats()
	assert.Zero(t, st.Accepted+st.Submitted+st.Messages+st.Malformed, "a refused source changed nothing")
}

func TestIngestKeepsLatest(t *testing.T) {
	reg := ingRegistry(t, 2)
	obs := &ingRecorder{}
	in := ingNew(t, reg, sensor.IngestOptions{Observers: []sensor.Observer{obs}})
	ctx := t.Context()

	_, ok := in.Latest(0, ingHR)
	assert.False(t, ok, "nothing yet")
	res, err := in.Ingest(ctx, []sensor.Reading{
		ingRd(0, ingHR, 1, 72, -2*time.Second),
		{Device: 0, Resource: ingHR, Seq: 2, Value: 75, Unit: "bpm", Observed: ingT0.Add(-time.Second)},
		ingRd(1, ingFall, 0, 1, -time.Second),
	})
	require.NoError(t, err)
	assert.Equal(t, sensor.IngestResult{Accepted: 3}, res)
	assert.NoError(t, res.Err())

	got, ok := in.Latest(0, ingHR)
	require.True(t, ok)
	assert.Equal(t, sensor.Reading{Device: 0, Resource: ingHR, Seq: 2, Value: 75, Unit: "bpm", Observed: ingT0.Add(-time.Second)}, got)
	got, ok = in.Latest(1, ingFall)
	require.True(t, ok)
	assert.Equal(t, 1.0, got.Value)
	assert.Zero(t, got.Seq, "unnumbered")
	_, ok = in.Latest(1, ingHR)
	assert.False(t, ok)
	_, ok = in.Latest(1, 99)
	assert.False(t, ok, "no such resource")
	_, ok = in.Latest(7, ingHR)
	assert.False(t, ok, "no such device")

	seen := obs.all()
	require.Len(t, seen, 3)
	for _, r := range seen {
		assert.Equal(t, sensor.QualityGood, r.Quality)
		assert.Equal(t, ingT0, r.Received, "Received set from the clock")
	}
	assert.Equal(t, []float64{72, 75, 1}, []float64{seen[0].Value, seen[1].Value, seen[2].Value}, "batch order")
	st := in.Stats()
	assert.Equal(t, int64(3), st.Accepted)
	assert.Zero(t, st.RejectedTotal())
}

func TestIngestRejectsBadReadings(t *testing.T) {
	reg := ingRegistry(t, 4)
	require.NoError(t, reg.SetAdmin(2, sensor.Locked))
	require.NoError(t, reg.Remove("wb-3"))
	obs := &ingRecorder{}
	in := ingNew(t, reg, sensor.IngestOptions{Observers: []sensor.Observer{obs}})
	ctx := t.Context()
	good := ingRd(0, ingHR, 1, 70, -time.Minute)
	_, err := in.Ingest(ctx, []sensor.Reading{good})
	require.NoError(t, err)

	cases := []struct {
		name string
		r    sensor.Reading
		why  sensor.Reason
		err  error
	}{
		{"unknown device", ingRd(99, ingHR, 5, 80, 0), sensor.ReasonUnknownDevice, sensor.ErrUnknownDevice},
		{"removed device", ingRd(3, ingHR, 5, 80, 0), sensor.ReasonRemoved, sensor.ErrUnknownDevice},
		{"locked device", ingRd(2, ingHR, 5, 80, 0), sensor.ReasonLocked, sensor.ErrLocked},
		{"bad resource index", ingRd(0, 3, 5, 80, 0), sensor.ReasonUnknownResource, sensor.ErrUnknownResource},
		{"wrong unit", sensor.Reading{Device: 0, Resource: ingHR, Seq: 5, Value: 80, Unit: "Hz", Observed: ingT0}, sensor.ReasonWrongUnit, sensor.ErrWrongUnit},
		{"above max", ingRd(0, ingHR, 5, 251, 0), sensor.ReasonOutOfRange, sensor.ErrOutOfRange},
		{"below min", ingRd(0, ingHR, 5, 19.9, 0), sensor.ReasonOutOfRange, sensor.ErrOutOfRange},
		{"NaN", ingRd(0, ingHR, 5, math.NaN(), 0), sensor.ReasonOutOfRange, sensor.ErrOutOfRange},
		{"infinite, unbounded resource", ingRd(0, ingBeat, 5, math.Inf(1), 0), sensor.ReasonOutOfRange, sensor.ErrOutOfRange},
		{"before 1970", sensor.Reading{Device: 0, Resource: ingHR, Seq: 5, Value: 80, Observed: time.Date(1969, 1, 1, 0, 0, 0, 0, time.UTC)}, sensor.ReasonBadTime, sensor.ErrBadTime},
		{"after 2262", sensor.Reading{Device: 0, Resource: ingHR, Seq: 5, Value: 80, Observed: time.Date(2263, 1, 1, 0, 0, 0, 0, time.UTC)}, sensor.ReasonBadTime, sensor.ErrBadTime},
		{"from the future", ingRd(0, ingHR, 5, 80, 6*time.Minute), sensor.ReasonBadTime, sensor.ErrBadTime},
	}
	for i, c := range cases {
		res, err := in.Ingest(ctx, []sensor.Reading{good, c.r})
		require.NoError(t, err, c.name)
		assert.Equal(t, 1, res.Duplicates, c.name)
		require.Len(t, res.Rejected, 1, c.name)
		re := res.Rejected[0]
		assert.Equal(t, sensor.ReadingError{Index: 1, Device: c.r.Device, Resource: c.r.Resource, Reason: c.why}, re, c.name)
		assert.ErrorIs(t, res.Err(), sensor.ErrRejected, c.name)
		assert.ErrorIs(t, res.Err(), c.err, c.name)
		assert.Contains(t, res.Err().Error(), c.why.String(), c.name)
		assert.Equal(t, int64(i+1), in.Stats().RejectedTotal(), c.name)
	}
	st := in.Stats()
	assert.Equal(t, int64(4), st.Rejected[sensor.ReasonOutOfRange])
	assert.Equal(t, int64(3), st.Rejected[sensor.ReasonBadTime])
	assert.Equal(t, int64(1), st.Rejected[sensor.ReasonLocked])
	assert.Equal(t, int64(1), st.Accepted, "only the first good reading")

	// Nothing of the rejected readings changed the state.
	got, ok := in.Latest(0, ingHR)
	require.True(t, ok)
	assert.Equal(t, 70.0, got.Value)
	_, ok = in.Latest(0, ingBeat)
	assert.False(t, ok)
	assert.Len(t, obs.all(), 1)
	assert.Equal(t, "Reason(200)", sensor.Reason(200).String())
	assert.ErrorIs(t, sensor.Reason(200).Err(), sensor.ErrRejected)
}

func TestMaxSkewNegativeAllowsFuture(t *testing.T) {
	reg := ingRegistry(t, 1)
	in := ingNew(t, reg, sensor.IngestOptions{MaxSkew: -1})
	res, err := in.Ingest(t.Context(), []sensor.Reading{ingRd(0, ingHR, 1, 70, 24*time.Hour)})
	require.NoError(t, err)
	assert.Equal(t, 1, res.Accepted)
}

func ingOutOfRange(t *testing.T, reg *sensor.Registry, h sensor.Handle) bool {
	t.Helper()
	d, err := reg.Device(h)
	require.NoError(t, err)
	return d.OutOfRange
}

func TestOutOfRangeSetsAndClearsQualityFlag(t *testing.T) {
	reg := ingRegistry(t, 2)
	in := ingNew(t, reg, sensor.IngestOptions{})
	ctx := t.Context()
	ingest := func(rs ...sensor.Reading) sensor.IngestResult {
		res, err := in.Ingest(ctx, rs)
		require.NoError(t, err)
		return res
	}

	ingest(ingRd(0, ingHR, 1, 70, -10*time.Second))
	assert.False(t, ingOutOfRange(t, reg, 0))
	ingest(ingRd(0, ingHR, 2, 400, -9*time.Second))
	assert.True(t, ingOutOfRange(t, reg, 0), "set by an out-of-range reading")
	assert.False(t, ingOutOfRange(t, reg, 1), "only that device")

	res := ingest(ingRd(0, ingHR, 3, 71, -time.Hour))
	assert.Equal(t, 1, res.Late)
	assert.True(t, ingOutOfRange(t, reg, 0), "a late reading says nothing about the device now")

	ingest(ingRd(0, ingHR, 4, 72, -8*time.Second))
	assert.False(t, ingOutOfRange(t, reg, 0), "cleared by the next valid reading")

	// Within a batch, the last of the device's readings decides.
	ingest(ingRd(0, ingHR, 5, 500, -7*time.Second), ingRd(0, ingHR, 6, 73, -6*time.Second))
	assert.False(t, ingOutOfRange(t, reg, 0))
	ingest(ingRd(0, ingHR, 7, 74, -5*time.Second), ingRd(0, ingHR, 8, 500, -4*time.Second), ingRd(1, ingHR, 1, 70, 0))
	assert.True(t, ingOutOfRange(t, reg, 0))
	assert.False(t, ingOutOfRange(t, reg, 1))
	got, _ := in.Latest(0, ingHR)
	assert.Equal(t, 74.0, got.Value, "the rejected value never became latest")
}

func TestDuplicatesAreAbsorbed(t *testing.T) {
	reg := ingRegistry(t, 1)
	obs := &ingRecorder{}
	in := ingNew(t, reg, sensor.IngestOptions{Observers: []sensor.Observer{obs}})
	ctx := t.Context()
	ingest := func(rs ...sensor.Reading) sensor.IngestResult {
		res, err := in.Ingest(ctx, rs)
		require.NoError(t, err)
		return res
	}

	assert.Equal(t, sensor.IngestResult{Accepted: 1}, ingest(ingRd(0, ingHR, 100, 70, -50*time.Second)))
	assert.Equal(t, sensor.IngestResult{Duplicates: 1}, ingest(ingRd(0, ingHR, 100, 70, -50*time.Second)), "redelivered")
	assert.Equal(t, sensor.IngestResult{Accepted: 1}, ingest(ingRd(0, ingFall, 100, 0, -50*time.Second)), "same seq, other resource")
	assert.Equal(t, sensor.IngestResult{Accepted: 1}, ingest(ingRd(0, ingHR, 110, 71, -40*time.Second)))
	// Out of order but never seen: accepted (late: older than 110's).
	assert.Equal(t, sensor.IngestResult{Accepted: 1, Late: 1}, ingest(ingRd(0, ingHR, 105, 69, -45*time.Second)))
	assert.Equal(t, sensor.IngestResult{Duplicates: 2}, ingest(ingRd(0, ingHR, 105, 69, -45*time.Second), ingRd(0, ingHR, 110, 71, -40*time.Second)))
	// In one batch too.
	assert.Equal(t, sensor.IngestResult{Accepted: 1, Duplicates: 1}, ingest(ingRd(0, ingHR, 111, 72, -39*time.Second), ingRd(0, ingHR, 111, 72, -39*time.Second)))
	// Unnumbered readings are never duplicates.
	assert.Equal(t, sensor.IngestResult{Accepted: 2}, ingest(ingRd(0, ingBeat, 0, 1, -30*time.Second), ingRd(0, ingBeat, 0, 1, -30*time.Second)))

	// Far below the window (111-32): a replay of something old, absorbed.
	assert.Equal(t, sensor.IngestResult{Duplicates: 1}, ingest(ingRd(0, ingHR, 60, 50, -time.Hour)))
	// Far below the window but newer than the latest: the device restarted
	// its numbering.
	assert.Equal(t, sensor.IngestResult{Accepted: 1}, ingest(ingRd(0, ingHR, 1, 80, -20*time.Second)))
	got, _ := in.Latest(0, ingHR)
	assert.Equal(t, uint64(1), got.Seq)
	assert.Equal(t, 80.0, got.Value)
	assert.Equal(t, sensor.IngestResult{Duplicates: 1}, ingest(ingRd(0, ingHR, 1, 80, -20*time.Second)))
	assert.Equal(t, sensor.IngestResult{Accepted: 1}, ingest(ingRd(0, ingHR, 2, 81, -19*time.Second)))

	st := in.Stats()
	assert.Equal(t, int64(6), st.Duplicates)
	for _, r := range obs.all() {
		assert.NotEqual(t, 50.0, r.Value, "absorbed readings never reach observers")
	}
}

func TestDuplicateWindowSlides(t *testing.T) {
	reg := ingRegistry(t, 1)
	in := ingNew(t, reg, sensor.IngestOptions{})
	ctx := t.Context()
	// Seqs 1..40 arrive, odd ones first, then even ones, then all again.
	var odd, even []sensor.Reading
	for s := uint64(1); s <= 40; s++ {
		r := ingRd(0, ingHR, s, 70, time.Duration(s)*time.Second-time.Hour)
		if s%2 == 1 {
			odd = append(odd, r)
		} else {
			even = append(even, r)
		}
	}
	res, err := in.Ingest(ctx, odd)
	require.NoError(t, err)
	assert.Equal(t, 20, res.Accepted)
	res, err = in.Ingest(ctx, even)
	require.NoError(t, err)
	// Evens 2..6 are 32 or more below 39 and older than the latest:
	// taken as replays. 8..38 are in the window (late), 40 moves it.
	assert.Equal(t, 17, res.Accepted)
	assert.Equal(t, 16, res.Late)
	assert.Equal(t, 3, res.Duplicates)
	res, err = in.Ingest(ctx, append(odd, even...))
	require.NoError(t, err)
	assert.Equal(t, 0, res.Accepted)
	assert.Equal(t, 40, res.Duplicates)
	got, _ := in.Latest(0, ingHR)
	assert.Equal(t, uint64(40), got.Seq)
	res, err = in.Ingest(ctx, []sensor.Reading{ingRd(0, ingHR, 1000, 70, -time.Second)})
	require.NoError(t, err)
	assert.Equal(t, 1, res.Accepted, "a jump past the window")
}

func TestLateReadingNeverOverwritesLatest(t *testing.T) {
	reg := ingRegistry(t, 1)
	obs := &ingRecorder{}
	in := ingNew(t, reg, sensor.IngestOptions{Observers: []sensor.Observer{obs}})
	ctx := t.Context()
	_, err := in.Ingest(ctx, []sensor.Reading{ingRd(0, ingHR, 0, 90, -time.Minute)})
	require.NoError(t, err)
	res, err := in.Ingest(ctx, []sensor.Reading{ingRd(0, ingHR, 0, 60, -2*time.Minute)})
	require.NoError(t, err)
	assert.Equal(t, sensor.IngestResult{Accepted: 1, Late: 1}, res)

	got, _ := in.Latest(0, ingHR)
	assert.Equal(t, 90.0, got.Value)
	assert.Equal(t, ingT0.Add(-time.Minute), got.Observed)
	seen := obs.all()
	require.Len(t, seen, 2)
	assert.Equal(t, sensor.QualityLate, seen[1].Quality, "observed, marked late")
	assert.Equal(t, 60.0, seen[1].Value)
	assert.Equal(t, int64(1), in.Stats().Late)

	// The same observed time is not late: it replaces.
	res, err = in.Ingest(ctx, []sensor.Reading{ingRd(0, ingHR, 0, 91, -time.Minute)})
	require.NoError(t, err)
	assert.Zero(t, res.Late)
	got, _ = in.Latest(0, ingHR)
	assert.Equal(t, 91.0, got.Value)
}

func TestTimesDefault(t *testing.T) {
	reg := ingRegistry(t, 1)
	clk := clock.NewManual(ingT0)
	obs := &ingRecorder{}
	in := ingNew(t, reg, sensor.IngestOptions{Clock: clk, Observers: []sensor.Observer{obs}})
	received := ingT0.Add(-3 * time.Second)
	_, err := in.Ingest(t.Context(), []sensor.Reading{
		{Device: 0, Resource: ingHR, Value: 70},
		{Device: 0, Resource: ingFall, Value: 0, Received: received},
	})
	require.NoError(t, err)
	seen := obs.all()
	require.Len(t, seen, 2)
	assert.Equal(t, ingT0, seen[0].Observed)
	assert.Equal(t, ingT0, seen[0].Received)
	assert.Equal(t, received, seen[1].Observed, "Observed defaults to Received")
	assert.Equal(t, received, seen[1].Received)
}

func TestIngestHonoursContext(t *testing.T) {
	reg := ingRegistry(t, 1)
	in := ingNew(t, reg, sensor.IngestOptions{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := in.Ingest(ctx, []sensor.Reading{ingRd(0, ingHR, 1, 70, 0)})
	assert.ErrorIs(t, err, context.Canceled)
	_, ok := in.Latest(0, ingHR)
	assert.False(t, ok)
}

// ingFlakySink fails its first failures writes, then stores.
type ingFlakySink struct {
	mu       sync.Mutex
	failures int
	calls    int
	stored   []sensor.Reading
}

var ingErrDiskFull = errors.New("disk full")

func (s *ingFlakySink) Write(ctx context.Context, batch []sensor.Reading) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.failures > 0 {
		s.failures--
		return ingErrDiskFull
	}
	s.stored = append(s.stored, batch...)
	return nil
}

func (s *ingFlakySink) got() []sensor.Reading {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.stored)
}

func TestSinkFailureLeavesBatchRetryable(t *testing.T) {
	reg := ingRegistry(t, 1)
	sink := &ingFlakySink{failures: 1}
	obs := &ingRecorder{}
	in := ingNew(t, reg, sensor.IngestOptions{Sink: sink, Observers: []sensor.Observer{obs}})
	ctx := t.Context()
	batch := []sensor.Reading{ingRd(0, ingHR, 1, 70, -2*time.Second), ingRd(0, ingHR, 2, 71, -time.Second)}

	_, err := in.Ingest(ctx, batch)
	require.ErrorIs(t, err, sensor.ErrSink)
	require.ErrorIs(t, err, ingErrDiskFull)
	assert.Empty(t, obs.all(), "observers see only stored batches")
	st := in.Stats()
	assert.Zero(t, st.Accepted)
	assert.Equal(t, int64(1), st.SinkErrors)

	res, err := in.Ingest(ctx, batch)
	require.NoError(t, err)
	assert.Equal(t, 2, res.Accepted, "the retry is not absorbed as duplicates")
	assert.Len(t, sink.got(), 2)
	assert.Len(t, obs.all(), 2)
	res, err = in.Ingest(ctx, batch)
	require.NoError(t, err)
	assert.Equal(t, 2, res.Duplicates, "once stored, it is")
	assert.Len(t, sink.got(), 2)
}

func TestAddObserver(t *testing.T) {
	reg := ingRegistry(t, 1)
	a, b := &ingRecorder{}, &ingRecorder{}
	in := ingNew(t, reg, sensor.IngestOptions{Observers: []sensor.Observer{a}})
	in.AddObserver(b)
	in.AddObserver(nil)
	_, err := in.Ingest(t.Context(), []sensor.Reading{ingRd(0, ingHR, 1, 70, 0)})
	require.NoError(t, err)
	assert.Len(t, a.all(), 1)
	assert.Len(t, b.all(), 1)
}

func TestRegistryAccessors(t *testing.T) {
	reg := ingRegistry(t, 2)
	assert.Equal(t, "wb-1", reg.ID(1))
	assert.Equal(t, "", reg.ID(2))
	r, err := reg.Resource(1, ingHR)
	require.NoError(t, err)
	assert.Equal(t, "heart-rate", r.Name)
	_, err = reg.Resource(1, 3)
	assert.ErrorIs(t, err, sensor.ErrUnknownResource)
	_, err = reg.Resource(5, 0)
	assert.ErrorIs(t, err, sensor.ErrUnknownDevice)
	i, err := reg.ResourceIndex(1, "fall")
	require.NoError(t, err)
	assert.Equal(t, ingFall, i)
	_, err = reg.ResourceIndex(1, "nope")
	assert.ErrorIs(t, err, sensor.ErrUnknownResource)
	_, err = reg.ResourceIndex(9, "fall")
	assert.ErrorIs(t, err, sensor.ErrUnknownDevice)
	require.NoError(t, reg.Remove("wb-1"))
	assert.Equal(t, "wb-1", reg.ID(1), "removed devices keep their ID")
	_, err = reg.ResourceIndex(1, "fall")
	assert.ErrorIs(t, err, sensor.ErrUnknownDevice)
}

// Several goroutines ingest readings of the same devices in random order:
// the latest is always the newest by observed time, and every reading is
// accounted for once.
func TestConcurrentIngest(t *testing.T) {
	const devices, goroutines, per = 500, 4, 3000 // 24 seqs per device, within the window
	reg := ingRegistry(t, devices)
	in := ingNew(t, reg, sensor.IngestOptions{MaxSkew: -1})
	ctx := t.Context()
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			batch := make([]sensor.Reading, 0, 64)
			for i := range per {
				// Reading k of device d has seq k+1 and is observed at k
				// seconds; goroutine g sends k ≡ g (mod goroutines).
				k := i*goroutines + g
				d := sensor.Handle(k % devices)
				seq := uint64(k/devices + 1)
				batch = append(batch, ingRd(d, ingHR, seq, float64(20+seq), time.Duration(seq)*time.Second))
				if len(batch) == cap(batch) || i == per-1 {
					_, err := in.Ingest(ctx, batch)
					if !assert.NoError(t, err) {
						return
					}
					batch = batch[:0]
				}
			}
			_, _ = in.Latest(sensor.Handle(g), ingHR) // reads race with writes
		})
	}
	wg.Wait()
	st := in.Stats()
	assert.Equal(t, int64(goroutines*per), st.Accepted)
	maxSeq := uint64(goroutines * per / devices)
	for d := range sensor.Handle(devices) {
		got, ok := in.Latest(d, ingHR)
		require.True(t, ok)
		assert.Equal(t, maxSeq, got.Seq, "device %d", d)
		assert.Equal(t, float64(20+maxSeq), got.Value)
	}
}

func TestIngestDoesNotAllocate(t *testing.T) {
	if ingRace {
		t.Skip("allocation counts are meaningless under -race")
	}
	reg := ingRegistry(t, 64)
	in := ingNew(t, reg, sensor.IngestOptions{Observers: []sensor.Observer{&ingCountObserver{}}})
	ctx := t.Context()
	batch := make([]sensor.Reading, 64)
	seq := uint64(0)
	ingest := func() {
		seq++
		for i := range batch {
			batch[i] = ingRd(sensor.Handle(i), ingHR, seq, 70, time.Duration(seq)*time.Millisecond-time.Hour)
		}
		if _, err := in.Ingest(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	ingest() // allocates the state
	assert.Zero(t, testing.AllocsPerRun(100, ingest))
}
