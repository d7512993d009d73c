package sensor_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/clock"
	"github.com/govkit/govkit/sensor"
)

type vitalsFixture struct {
	reg    *sensor.Registry
	clk    *clock.Manual
	v      *sensor.Vitals
	values []sensor.VitalValue
	h      map[string]sensor.Handle
}

var t0 = time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)

// Four pressure gauges: three on mains of Jiulongpo (one of them on a
// trunk main), one in Yuzhong.
func newVitalsFixture(t *testing.T, az access.Authorizer) *vitalsFixture {
	t.Helper()
	f := &vitalsFixture{reg: sensor.NewRegistry(), clk: clock.NewManual(t0), h: map[string]sensor.Handle{}}
	must(t, f.reg.AddProfile(sensor.Profile{Name: "pressure-v1", Resources: []sensor.Resource{
		{Name: "battery", Unit: "%", Min: 0, Max: 100},
		{Name: "pressure", Unit: "MPa", Min: 0, Max: 2},
	}}))
	for _, d := range []sensor.Device{
		{ID: "p1", Profile: "pressure-v1", Grid: "500107001001001", Labels: map[string]string{"main": "trunk"}},
		{ID: "p2", Profile: "pressure-v1", Grid: "500107001001002"},
		{ID: "p3", Profile: "pressure-v1", Grid: "500107002001001"},
		{ID: "y1", Profile: "pressure-v1", Grid: "500103001001001"},
	} {
		h, err := f.reg.Register(d)
		must(t, err)
		f.h[d.ID] = h
	}
	var err error
	f.v, err = sensor.NewVitals(f.reg, f.clk, sensor.VitalsOptions{Authorizer: az, OnValue: func(v sensor.VitalValue) { f.values = append(f.values, v) }})
	must(t, err)
	return f
}

// reading is pressure (resource 1) of a device at an offset from t0.
func (f *vitalsFixture) reading(id string, at time.Duration, v float64) sensor.Reading {
	return sensor.Reading{Device: f.h[id], Resource: 1, Value: v, Observed: t0.Add(at)}
}

var pressureBands = []sensor.Band{{From: math.Inf(-1), Colour: "red"}, {From: 0.2, Colour: "yellow"}, {From: 0.3, Colour: "green"}}

func TestVitalSignAverageOverWindow(t *testing.T) {
	f := newVitalsFixture(t, access.AllowAll())
	ctx := operatorCtx()
	must(t, f.v.Add(ctx, sensor.VitalSign{
		Name: "jiulongpo-pressure", Profile: "pressure-v1", Resource: "pressure", Area: "500107",
		Aggregate: sensor.AggregateAvg, Window: 16 * time.Minute, Every: time.Minute, Bands: pressureBands,
	}))
	f.v.Observe([]sensor.Reading{
		f.reading("p1", 10*time.Second, 0.40),
		f.reading("p2", 20*time.Second, 0.30),
		f.reading("y1", 30*time.Second, 0.01),                                          // another district: not counted
		{Device: f.h["p3"], Resource: 0, Value: 5, Observed: t0.Add(40 * time.Second)}, // battery: not counted
	})
	f.clk.Advance(time.Minute)
	if len(f.values) != 1 {
		t.Fatalf("%d evaluations after one minute, want 1", len(f.values))
	}
	got := f.values[0]
	if got.Samples != 2 || math.Abs(got.Value-0.35) > 1e-9 || got.Colour != "green" || !got.At.Equal(t0.Add(time.Minute)) {
		t.Fatalf("first evaluation %+v", got)
	}

	// Pressure falls; the sign turns red once the low readings dominate.
	for i := range 6 {
		f.v.Observe([]sensor.Reading{f.reading("p3", time.Minute+time.Duration(i)*time.Second, 0.05)})
	}
	f.clk.Advance(time.Minute)
	if got := f.values[1]; got.Samples != 8 || got.Colour != "red" {
		t.Fatalf("second evaluation %+v", got)
	}

	// After the window has passed, the old readings no longer count; a late
	// reading still inside the window does.
	f.clk.Advance(16 * time.Minute)
	f.v.Observe([]sensor.Reading{f.reading("p2", 17*time.Minute+30*time.Second, 0.25)})
	v, err := f.v.Evaluate("jiulongpo-pressure")
	must(t, err)
	if v.Samples != 1 || v.Value != 0.25 || v.Colour != "yellow" {
		t.Fatalf("after the window: %+v", v)
	}
	if last, _ := f.v.Value("jiulongpo-pressure"); last != v {
		t.Fatalf("Value %+v, want the last evaluation %+v", last, v)
	}
}

func TestVitalSignAggregates(t *testing.T) {
	readings := func(f *vitalsFixture) []sensor.Reading {
		return []sensor.Reading{f.reading("p1", time.Second, 0.5), f.reading("p2", 2*time.Second, 0.1), f.reading("p3", 3*time.Second, 0.3)}
	}
	for _, c := range []struct {
		agg  sensor.Aggregate
		want float64
	}{
		{sensor.AggregateMin, 0.1},
		{sensor.AggregateMax, 0.5},
		{sensor.AggregateSum, 0.9},
		{sensor.AggregateCount, 3},
		{sensor.AggregateRate, 3.0 / 60},
	} {
		f := newVitalsFixture(t, access.AllowAll())
		must(t, f.v.Add(operatorCtx(), sensor.VitalSign{Name: "s", Profile: "pressure-v1", Resource: "pressure", Area: "500107", Aggregate: c.agg, Window: time.Minute}))
		f.v.Observe(readings(f))
		f.clk.Advance(10 * time.Second)
		v, err := f.v.Evaluate("s")
		must(t, err)
		if math.Abs(v.Value-c.want) > 1e-9 {
			t.Errorf("%v: %v, want %v", c.agg, v.Value, c.want)
		}
		if len(f.values) != 1 { // Every defaults to Window/10
			t.Errorf("%v: %d scheduled evaluations in 10 s, want 1", c.agg, len(f.values))
		}
	}
	// No readings: no average, no colour.
	f := newVitalsFixture(t, access.AllowAll())
	must(t, f.v.Add(operatorCtx(), sensor.VitalSign{Name: "s", Profile: "pressure-v1", Resource: "pressure", Aggregate: sensor.AggregateAvg, Window: time.Minute, Bands: pressureBands, Area: "500107"}))
	v, _ := f.v.Evaluate("s")
	if !math.IsNaN(v.Value) || v.Colour != "" {
		t.Fatalf("empty window: %+v", v)
	}
}

func TestVitalSignLabelsAndRefresh(t *testing.T) {
	f := newVitalsFixture(t, access.AllowAll())
	must(t, f.v.Add(operatorCtx(), sensor.VitalSign{Name: "trunk", Profile: "pressure-v1", Resource: "pressure", Area: "500107", Labels: map[string]string{"main": "trunk"}, Aggregate: sensor.AggregateCount, Window: time.Minute}))
	h, err := f.reg.Register(sensor.Device{ID: "p4", Profile: "pressure-v1", Grid: "500107001001003", Labels: map[string]string{"main": "trunk"}})
	must(t, err)
	f.h["p4"] = h
	batch := []sensor.Reading{f.reading("p1", time.Second, 0.4), f.reading("p2", time.Second, 0.4), f.reading("p4", time.Second, 0.4)}
	f.v.Observe(batch)
	if v, _ := f.v.Evaluate("trunk"); v.Value != 1 {
		t.Fatalf("before Refresh: %v readings, want 1 (p1; p4 not yet a member)", v.Value)
	}
	f.v.Refresh()
	f.v.Observe(batch)
	if v, _ := f.v.Evaluate("trunk"); v.Value != 3 {
		t.Fatalf("after Refresh: %v readings, want 3", v.Value)
	}
}

func TestVitalSignManagement(t *testing.T) {
	policy, err := access.NewPolicy(map[string][]access.Grant{"lift-operator": {{Action: sensor.ActionManageVitals, Resource: sensor.ResourceVitalSign}}})
	must(t, err)
	f := newVitalsFixture(t, policy)
	ctx := operatorCtx() // scope 500107
	good := sensor.VitalSign{Name: "s", Profile: "pressure-v1", Resource: "pressure", Area: "500107001", Aggregate: sensor.AggregateAvg, Window: time.Minute}

	for _, c := range []struct {
		name string
		ctx  context.Context
		mod  func(*sensor.VitalSign)
		want error
	}{
		{"bad name", ctx, func(s *sensor.VitalSign) { s.Name = "" }, sensor.ErrInvalidVitalSign},
		{"unknown profile", ctx, func(s *sensor.VitalSign) { s.Profile = "nope" }, sensor.ErrInvalidVitalSign},
		{"unknown resource", ctx, func(s *sensor.VitalSign) { s.Resource = "flow" }, sensor.ErrInvalidVitalSign},
		{"no aggregate", ctx, func(s *sensor.VitalSign) { s.Aggregate = 0 }, sensor.ErrInvalidVitalSign},
		{"tiny window", ctx, func(s *sensor.VitalSign) { s.Window = time.Millisecond }, sensor.ErrInvalidVitalSign},
		{"bands out of order", ctx, func(s *sensor.VitalSign) {
			s.Bands = []sensor.Band{{From: 1, Colour: "red"}, {From: 0, Colour: "green"}}
		}, sensor.ErrInvalidVitalSign},
		{"bad area", ctx, func(s *sensor.VitalSign) { s.Area = "50x" }, sensor.ErrInvalidVitalSign},
		{"other district", ctx, func(s *sensor.VitalSign) { s.Area = "500103" }, access.ErrDenied},
		{"whole city", ctx, func(s *sensor.VitalSign) { s.Area = "" }, access.ErrDenied},
		{"no actor", context.Background(), func(*sensor.VitalSign) {}, access.ErrNoActor},
	} {
		s := good
		c.mod(&s)
		if err := f.v.Add(c.ctx, s); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	if _, err := f.v.Value("s"); !errors.Is(err, sensor.ErrUnknownVitalSign) {
		t.Fatalf("a refused sign was kept: %v", err)
	}
	must(t, f.v.Add(ctx, good))
	if err := f.v.Remove(context.Background(), "s"); !errors.Is(err, access.ErrNoActor) {
		t.Fatalf("remove without actor: %v", err)
	}
	must(t, f.v.Remove(ctx, "s"))
	if err := f.v.Remove(ctx, "s"); !errors.Is(err, sensor.ErrUnknownVitalSign) {
		t.Fatalf("second remove: %v", err)
	}
	f.clk.Advance(time.Hour)
	if len(f.values) != 0 {
		t.Fatalf("a removed sign was evaluated %d times", len(f.values))
	}
}

func TestVitalsStop(t *testing.T) {
	f := newVitalsFixture(t, access.AllowAll())
	must(t, f.v.Add(operatorCtx(), sensor.VitalSign{Name: "s", Profile: "pressure-v1", Resource: "pressure", Area: "500107", Aggregate: sensor.AggregateCount, Window: time.Minute}))
	f.clk.Advance(12 * time.Second)
	f.v.Stop()
	f.clk.Advance(time.Hour)
	if len(f.values) != 2 {
		t.Fatalf("%d evaluations, want 2 before Stop and none after", len(f.values))
	}
}
