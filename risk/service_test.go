package risk_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/risk"
)

func TestCreateLocatesAndAnnounces(t *testing.T) {
	f := newFixture(t)
	p := mustCreate(t, f, admin(), tank("T-1", inA))
	require.Equal(t, int64(1), p.Version)
	require.True(t, p.Grid.Within(streetA))
	require.Len(t, p.Path, 5)
	require.Equal(t, inA, p.Anchor)
	require.Equal(t, risk.None, p.Level.Colour)
	ev := f.bus.named(t, risk.EventRegistered)
	require.Len(t, ev, 1)
	require.Equal(t, p.ID, ev[0].Point)
	require.Equal(t, "gov.500000.500001.500001001.risk.point-registered", f.bus.msgs[0].Subject)
}

func TestCreateRejectsBadInputAndChangesNothing(t *testing.T) {
	f := newFixture(t)
	bad := map[string]struct {
		p    risk.Point
		want error
	}{
		"unknown class":  {risk.Point{Name: "x", Class: "nope", Geometry: inA}, risk.ErrUnknownClass},
		"no geometry":    {risk.Point{Name: "x", Class: "landslide"}, risk.ErrMissingInput},
		"bad coordinate": {risk.Point{Name: "x", Class: "landslide", Geometry: geo.Point{Lat: 91, Lon: 106}}, geo.ErrInvalidCoordinate},
		"open polygon":   {risk.Point{Name: "x", Class: "landslide", Geometry: geo.Polygon{{inA, inB, inA}}}, geo.ErrInvalidGeometry},
		"outside grids":  {risk.Point{Name: "x", Class: "landslide", Geometry: geo.Point{Lat: 39.9, Lon: 116.4}}, risk.ErrInvalidInput},
		"no name":        {risk.Point{Class: "landslide", Geometry: inA}, risk.ErrMissingInput},
		"sensor twice":   {risk.Point{Name: "x", Class: "landslide", Geometry: inA, Sensors: []string{"a", "a"}}, risk.ErrInvalidInput},
		"bad duty":       {risk.Point{Name: "x", Class: "landslide", Geometry: inA, Responsible: []risk.Responsible{{Duty: "mayor", ActorID: "u"}}}, risk.ErrInvalidInput},
	}
	for name, tc := range bad {
		_, err := f.svc.Create(admin(), tc.p)
		require.ErrorIs(t, err, tc.want, name)
	}
	page, err := f.store.Points(admin(), risk.Query{})
	require.NoError(t, err)
	require.Empty(t, page.Points)
	require.Empty(t, f.bus.msgs)
}

func TestJurisdictionBoundary(t *testing.T) {
	f := newFixture(t, func(c *risk.Config) { c.Authorizer = policy(t) })
	li := officer("li", streetA)

	a := mustCreate(t, f, li, tank("A", inA))  // allowed: her street
	_, err := f.svc.Create(li, tank("B", inB)) // 1.9 km east, the next street
	require.ErrorIs(t, err, access.ErrDenied)

	b := mustCreate(t, f, officer("wang", streetB), tank("B", inB))
	_, err = f.svc.Assess(li, b.ID, "matrix", risk.Inputs{Likelihood: 2, Consequence: 2})
	require.ErrorIs(t, err, access.ErrDenied)
	_, err = f.svc.Assess(li, a.ID, "matrix", risk.Inputs{Likelihood: 2, Consequence: 2})
	require.NoError(t, err)
	_, err = f.svc.Get(li, b.ID)
	require.ErrorIs(t, err, access.ErrDenied)

	// Reads are filtered: both points lie within 5 km, li sees hers.
	hits, err := f.svc.Within(li, inA, 5000)
	require.NoError(t, err)
	require.Len(t, hits, 1)
	require.Equal(t, a.ID, hits[0].ID)
	hits, err = f.svc.Within(admin(), inA, 5000)
	require.NoError(t, err)
	require.Empty(t, hits, "admin holds no role in the policy")
}

func TestAssessStoresDerivationAndCountsPeople(t *testing.T) {
	f := newFixture(t)
	p := mustCreate(t, f, admin(), tank("T-1", inA))
	// 120 people registered within 500 m, 40 farther away.
	for _, b := range []risk.Building{
		{ID: "b1", Point: geo.Point{Lat: 29.552, Lon: 106.48}, Occupancy: 80},
		{ID: "b2", Point: geo.Point{Lat: 29.55, Lon: 106.483}, Occupancy: 40},
		{ID: "far", Point: geo.Point{Lat: 29.56, Lon: 106.48}, Occupancy: 40},
	} {
		_, err := f.svc.RegisterBuilding(admin(), b)
		require.NoError(t, err)
	}
	got, err := f.svc.Assess(admin(), p.ID, "", risk.Inputs{}) // the class's method: gb18218
	require.NoError(t, err)
	a := got.Assessment
	require.NotNil(t, a)
	require.Equal(t, "gb18218", a.Method)
	require.Equal(t, 120, *a.Inputs.Exposed)
	require.Equal(t, "3", a.Derivation.Score) // α 2 × 1 × 300/200
	require.Equal(t, 4, a.Grade)
	require.Equal(t, risk.Blue, got.Level.Colour)
	require.Equal(t, base.Add(365*24*time.Hour), a.ValidUntil)
	require.Equal(t, "admin", a.Assessor)
	require.Len(t, f.bus.named(t, risk.EventAssessed), 1)
	require.Len(t, f.bus.named(t, risk.EventLevelChanged), 1)

	// Unknown method and bad inputs change nothing.
	_, err = f.svc.Assess(admin(), p.ID, "fmea", risk.Inputs{})
	require.ErrorIs(t, err, risk.ErrUnknownMethod)
	_, err = f.svc.Assess(admin(), p.ID, "lec", risk.Inputs{L: d("3")})
	require.ErrorIs(t, err, risk.ErrMissingInput)
	again, err := f.svc.Get(admin(), p.ID)
	require.NoError(t, err)
	require.Equal(t, got.Version, again.Version)

	// The expiry of the assessment is noted by timer.
	f.clk.Advance(366 * 24 * time.Hour)
	again, err = f.svc.Get(admin(), p.ID)
	require.NoError(t, err)
	require.True(t, again.Level.StaticExpired)
	require.Equal(t, risk.Blue, again.Level.Colour)
	require.Contains(t, again.Level.Reasons[0], "assessment expired")
}

func TestReadingsRaiseAndExpire(t *testing.T) {
	f := newFixture(t)
	ctx := admin()
	p := mustCreate(t, f, ctx, tank("T-3", inA))
	_, err := f.svc.Assess(ctx, p.ID, "matrix", risk.Inputs{Likelihood: 2, Consequence: 4}) // 8: blue
	require.NoError(t, err)

	changed, err := f.svc.ObserveReading(ctx, risk.Reading{Sensor: "LT-T-3", Metric: "tank-level", Value: 92, At: base})
	require.NoError(t, err)
	require.Len(t, changed, 1)
	lv := changed[0].Level
	require.Equal(t, risk.Orange, lv.Colour)
	require.Equal(t, risk.Blue, lv.Static)
	require.True(t, lv.RaisedAbove())
	require.Equal(t, []string{"reading:LT-T-3:tank-level"}, lv.Raised)
	require.Contains(t, lv.Reasons[0], "LT-T-3 tank-level = 92% ≥ 90%")

	// A later reading replaces it; an older one is ignored.
	f.clk.Advance(time.Minute)
	changed, err = f.svc.ObserveReading(ctx, risk.Reading{Sensor: "LT-T-3", Metric: "tank-level", Value: 96, At: base.Add(time.Minute)})
	require.NoError(t, err)
	require.Equal(t, risk.Red, changed[0].Level.Colour)
	changed, err = f.svc.ObserveReading(ctx, risk.Reading{Sensor: "LT-T-3", Metric: "tank-level", Value: 10, At: base})
	require.NoError(t, err)
	require.Empty(t, changed, "a late reading must not override a newer one")

	// Without new readings the signal expires after the rule's TTL.
	f.clk.Advance(time.Hour)
	got, err := f.svc.Get(ctx, p.ID)
	require.NoError(t, err)
	require.Equal(t, risk.Blue, got.Level.Colour)
	require.Empty(t, got.Signals)
	last := f.bus.named(t, risk.EventLevelChanged)
	require.Equal(t, risk.Blue, last[len(last)-1].Colour)
	require.Equal(t, risk.Red, last[len(last)-1].Previous)

	// A normal reading clears an active signal at once.
	_, err = f.svc.ObserveReading(ctx, risk.Reading{Sensor: "LT-T-3", Metric: "tank-level", Value: 91, At: f.clk.Now()})
	require.NoError(t, err)
	changed, err = f.svc.ObserveReading(ctx, risk.Reading{Sensor: "LT-T-3", Metric: "tank-level", Value: 50, At: f.clk.Now()})
	require.NoError(t, err)
	require.Equal(t, risk.Blue, changed[0].Level.Colour)

	_, err = f.svc.ObserveReading(ctx, risk.Reading{Sensor: "LT-T-3", Metric: "tank-level", At: base})
	require.NoError(t, err) // a zero value is a value
	_, err = f.svc.ObserveReading(ctx, risk.Reading{Sensor: "", Metric: "tank-level", Value: 1, At: base})
	require.ErrorIs(t, err, risk.ErrMissingInput)
}

// A tank's level sensor reports every few seconds and is nearly always in
// no band: those readings must not write the point each time.
func TestNormalReadingsWriteNothing(t *testing.T) {
	f := newFixture(t)
	ctx := admin()
	p := mustCreate(t, f, ctx, tank("T-5", inA))
	before, err := f.svc.Get(ctx, p.ID)
	require.NoError(t, err)
	events := len(f.bus.events(t))
	for range 20 {
		f.clk.Advance(5 * time.Second)
		changed, err := f.svc.ObserveReading(ctx, risk.Reading{Sensor: "LT-T-5", Metric: "tank-level", Value: 40, At: f.clk.Now()})
		require.NoError(t, err)
		require.Empty(t, changed)
	}
	after, err := f.svc.Get(ctx, p.ID)
	require.NoError(t, err)
	require.Equal(t, before.Version, after.Version)
	require.Len(t, f.bus.events(t), events)

	// The first reading in a band still writes, and the next normal one
	// clears it.
	changed, err := f.svc.ObserveReading(ctx, risk.Reading{Sensor: "LT-T-5", Metric: "tank-level", Value: 92, At: f.clk.Now()})
	require.NoError(t, err)
	require.Len(t, changed, 1)
	f.clk.Advance(5 * time.Second)
	changed, err = f.svc.ObserveReading(ctx, risk.Reading{Sensor: "LT-T-5", Metric: "tank-level", Value: 40, At: f.clk.Now()})
	require.NoError(t, err)
	require.Len(t, changed, 1)
	require.Empty(t, changed[0].Signals)
	require.Equal(t, before.Version+2, changed[0].Version)
}

// Readings that keep coming keep the signal: each refreshes its TTL, and
// the point drops only a TTL after the last of them.
func TestRefreshedReadingOutlivesItsFirstTTL(t *testing.T) {
	f := newFixture(t)
	ctx := admin()
	p := mustCreate(t, f, ctx, tank("T-4", inA))
	_, err := f.svc.Assess(ctx, p.ID, "matrix", risk.Inputs{Likelihood: 2, Consequence: 4}) // 8: blue
	require.NoError(t, err)
	for m := range 90 { // one reading a minute for an hour and a half
		_, err := f.svc.ObserveReading(ctx, risk.Reading{Sensor: "LT-T-4", Metric: "tank-level", Value: 96, At: f.clk.Now()})
		require.NoError(t, err)
		got, err := f.svc.Get(ctx, p.ID)
		require.NoError(t, err)
		require.Equal(t, risk.Red, got.Level.Colour, "minute %d", m)
		f.clk.Advance(time.Minute)
	}
	last := f.clk.Now().Add(-time.Minute)
	f.clk.Advance(time.Hour - 2*time.Minute) // just short of the last reading's TTL
	got, err := f.svc.Get(ctx, p.ID)
	require.NoError(t, err)
	require.Equal(t, risk.Red, got.Level.Colour)
	f.clk.Advance(2 * time.Minute)
	got, err = f.svc.Get(ctx, p.ID)
	require.NoError(t, err)
	require.Equal(t, risk.Blue, got.Level.Colour, "a TTL after the last reading at %v", last)
}

func TestNearbyIncidentAndBusHandler(t *testing.T) {
	f := newFixture(t)
	ctx := admin()
	near := mustCreate(t, f, ctx, tank("near", inA))
	far := mustCreate(t, f, ctx, tank("far", inB))

	sensorSys := access.Actor{ID: "bridge", Kind: access.AutomationSystem, Scope: city}
	h := f.svc.Handler(sensorSys, func(m bus.Message) (risk.Observation, error) {
		var n risk.Nearby
		if err := json.Unmarshal(m.Data, &n); err != nil {
			return risk.Observation{}, &risk.InputError{Field: "message", Err: err}
		}
		return risk.Observation{Nearby: &n}, nil
	})
	open, _ := json.Marshal(risk.Nearby{Key: "incident:gas-leak-7", Point: geo.Point{Lat: 29.5505, Lon: 106.4805}, Radius: 300, Colour: risk.Red, Reason: "燃气泄漏"})
	require.NoError(t, h(ctx, bus.Message{ID: "m1", Subject: "gov.x.incident.registered", Data: open}))
	require.NoError(t, h(ctx, bus.Message{ID: "m1", Subject: "gov.x.incident.registered", Data: open}), "redelivery is harmless")
	require.NoError(t, h(ctx, bus.Message{ID: "m2", Subject: "gov.x.incident.registered", Data: []byte("{")}), "malformed messages are acknowledged")

	got, err := f.svc.Get(ctx, near.ID)
	require.NoError(t, err)
	require.Equal(t, risk.Red, got.Level.Colour)
	require.Len(t, got.Signals, 1)
	require.Equal(t, "m1", got.Signals[0].Source)
	other, err := f.svc.Get(ctx, far.ID)
	require.NoError(t, err)
	require.Equal(t, risk.None, other.Level.Colour)

	closed, _ := json.Marshal(risk.Nearby{Key: "incident:gas-leak-7", Point: geo.Point{Lat: 29.5505, Lon: 106.4805}, Radius: 300, Closed: true})
	require.NoError(t, h(ctx, bus.Message{ID: "m3", Subject: "gov.x.incident.closed", Data: closed}))
	got, err = f.svc.Get(ctx, near.ID)
	require.NoError(t, err)
	require.Equal(t, risk.None, got.Level.Colour)
}

// basin is a small river basin covering the south-west of street A only.
var basin = geo.MultiPolygon{{{
	{Lat: 29.50, Lon: 106.45}, {Lat: 29.50, Lon: 106.489}, {Lat: 29.58, Lon: 106.489}, {Lat: 29.58, Lon: 106.45}, {Lat: 29.50, Lon: 106.45},
}}}

func landslideWarning() risk.AreaWarning {
	return risk.AreaWarning{
		ID: "CQ-DZ-20250612-003", Kind: "geological-hazard", Event: "地质灾害气象风险预警", Colour: risk.Orange,
		Jurisdiction: city, Areas: []risk.WarningArea{{Code: "XLY-0417", Name: "跳磴河小流域", Area: basin}},
		Headline: "橙色预警", Description: "预计未来24小时发生地质灾害的风险较高", Instruction: "转移危险区群众",
		Sender: "重庆市规划和自然资源局", From: base, Until: base.Add(24 * time.Hour),
	}
}

func TestAreaWarningRaisesPointsInsideForItsDuration(t *testing.T) {
	f := newFixture(t)
	ctx := admin()
	slope := mustCreate(t, f, ctx, risk.Point{Name: "滑坡隐患点 1", Class: "landslide", Geometry: geo.Point{Lat: 29.53, Lon: 106.47}})
	// A slope polygon whose anchor lies outside the basin but a corner inside.
	edge := mustCreate(t, f, ctx, risk.Point{Name: "滑坡隐患点 2", Class: "landslide", Geometry: geo.Polygon{{
		{Lat: 29.53, Lon: 106.4885}, {Lat: 29.53, Lon: 106.5}, {Lat: 29.54, Lon: 106.5}, {Lat: 29.54, Lon: 106.4885}, {Lat: 29.53, Lon: 106.4885},
	}}})
	outside := mustCreate(t, f, ctx, risk.Point{Name: "滑坡隐患点 3", Class: "landslide", Geometry: inB})
	_, err := f.svc.Assess(ctx, slope.ID, "matrix", risk.Inputs{Likelihood: 3, Consequence: 3})
	require.NoError(t, err)

	w, err := f.svc.IssueWarning(ctx, landslideWarning())
	require.NoError(t, err)
	require.ElementsMatch(t, []any{slope.ID, edge.ID}, toAny(w.Raised))
	for _, c := range []struct {
		id   risk.Point
		want risk.Colour
	}{{slope, risk.Orange}, {edge, risk.Orange}, {outside, risk.None}} {
		p, err := f.svc.Get(ctx, c.id.ID)
		require.NoError(t, err)
		require.Equal(t, c.want, p.Level.Colour, p.Name)
	}
	require.Len(t, f.bus.named(t, risk.EventWarningIssued), 1)

	// After the warning's end the slope is yellow again, by timer.
	f.clk.Advance(24 * time.Hour)
	p, err := f.svc.Get(ctx, slope.ID)
	require.NoError(t, err)
	require.Equal(t, risk.Yellow, p.Level.Colour)

	// A bad warning is refused whole.
	bad := landslideWarning()
	bad.ID = "W2"
	bad.Areas[0].Area = geo.MultiPolygon{{{inA, inB, inA}}}
	_, err = f.svc.IssueWarning(ctx, bad)
	require.ErrorIs(t, err, geo.ErrInvalidGeometry)
	_, err = f.store.Warning(ctx, "W2")
	require.ErrorIs(t, err, risk.ErrNotFound)
}

func toAny[T any](xs []T) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

func TestCancelWarning(t *testing.T) {
	f := newFixture(t)
	ctx := admin()
	slope := mustCreate(t, f, ctx, risk.Point{Name: "滑坡隐患点", Class: "landslide", Geometry: geo.Point{Lat: 29.53, Lon: 106.47}})
	_, err := f.svc.IssueWarning(ctx, landslideWarning())
	require.NoError(t, err)
	w, err := f.svc.CancelWarning(ctx, "CQ-DZ-20250612-003")
	require.NoError(t, err)
	require.False(t, w.Cancelled.IsZero())
	p, err := f.svc.Get(ctx, slope.ID)
	require.NoError(t, err)
	require.Equal(t, risk.None, p.Level.Colour)
	require.Empty(t, p.Signals)

	// Officers of one street may not warn the city.
	f2 := newFixture(t, func(c *risk.Config) { c.Authorizer = policy(t) })
	_, err = f2.svc.IssueWarning(officer("li", streetA), landslideWarning())
	require.ErrorIs(t, err, access.ErrDenied)
	w2 := landslideWarning()
	w2.Jurisdiction = streetA
	_, err = f2.svc.IssueWarning(officer("li", streetA), w2)
	require.NoError(t, err)
}

func TestSpatialQueriesAndGeoJSON(t *testing.T) {
	f := newFixture(t)
	ctx := admin()
	a := mustCreate(t, f, ctx, tank("A", inA))
	b := mustCreate(t, f, ctx, tank("B", inB))
	_, err := f.svc.Assess(ctx, a.ID, "matrix", risk.Inputs{Likelihood: 5, Consequence: 5})
	require.NoError(t, err)

	hits, err := f.svc.Within(ctx, inA, 1000)
	require.NoError(t, err)
	require.Len(t, hits, 1)
	require.Equal(t, risk.Red, hits[0].Colour)
	hits, err = f.svc.Within(ctx, inA, 2500)
	require.NoError(t, err)
	require.Len(t, hits, 2)
	require.Equal(t, a.ID, hits[0].ID, "nearest first")
	require.InDelta(t, 1935, hits[1].Distance, 5)

	hits, err = f.svc.InArea(ctx, basin)
	require.NoError(t, err)
	require.Len(t, hits, 1)

	page, err := f.svc.InRegion(ctx, streetB, risk.Query{})
	require.NoError(t, err)
	require.Len(t, page.Points, 1)
	require.Equal(t, b.ID, page.Points[0].ID)
	_, err = f.svc.InRegion(ctx, "500009", risk.Query{})
	require.ErrorIs(t, err, risk.ErrInvalidInput)
	_, err = f.svc.Within(ctx, geo.Point{Lat: 100}, 10)
	require.ErrorIs(t, err, risk.ErrInvalidQuery)

	fc, err := f.svc.GeoJSON(ctx, risk.Query{Within: city}, 100)
	require.NoError(t, err)
	require.Len(t, fc.Features, 2)
	raw, err := json.Marshal(fc)
	require.NoError(t, err)
	require.Contains(t, string(raw), `"fill":"#e53935"`)
	require.Contains(t, string(raw), `"colour":"red"`)
	require.Contains(t, string(raw), `"colour":"none"`)
}

func TestUpdateRelocatesAndValidates(t *testing.T) {
	f := newFixture(t)
	ctx := admin()
	p := mustCreate(t, f, ctx, tank("T", inA))
	moved, err := f.svc.Update(ctx, p.ID, func(p *risk.Point) error {
		p.Geometry = inB
		p.Version = 99 // ignored
		return nil
	})
	require.NoError(t, err)
	require.True(t, moved.Grid.Within(streetB))
	require.Equal(t, int64(2), moved.Version)
	_, err = f.svc.Update(ctx, p.ID, func(p *risk.Point) error { p.Class = "nope"; return nil })
	require.ErrorIs(t, err, risk.ErrUnknownClass)
	got, err := f.svc.Get(ctx, p.ID)
	require.NoError(t, err)
	require.Equal(t, int64(2), got.Version)
	hits, err := f.svc.Within(ctx, inB, 10)
	require.NoError(t, err)
	require.Len(t, hits, 1, "the spatial index follows the move")
}
