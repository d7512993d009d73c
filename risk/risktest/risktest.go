package risktest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/pii"
	"github.com/govkit/govkit/region"
	"github.com/govkit/govkit/risk"
)

// Run runs every conformance test as a subtest of t, each on a fresh,
// empty store from newStore.
func Run(t *testing.T, newStore func(t *testing.T) risk.Store) {
	t.Helper()
	if newStore == nil {
		t.Fatal("risktest: newStore is nil")
	}
	tests := []struct {
		name string
		fn   func(*testing.T, risk.Store)
	}{
		{"RoundTrip", testRoundTrip},
		{"ReturnsCopies", testReturnsCopies},
		{"NotFound", testNotFound},
		{"DuplicateID", testDuplicateID},
		{"UpdateVersions", testUpdateVersions},
		{"ApplyIsAtomic", testApplyIsAtomic},
		{"PointsFilters", testPointsFilters},
		{"PointsPaging", testPointsPaging},
		{"PointsInvalidQuery", testInvalidQuery},
		{"PointsNear", testPointsNear},
		{"PointsBySensor", testPointsBySensor},
		{"Buildings", testBuildings},
		{"VersionedRecords", testVersionedRecords},
		{"Outbox", testOutbox},
		{"ConcurrentUpdates", testConcurrentUpdates},
		{"CancelledContext", testCancelledContext},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			require.NotNil(t, s, "newStore returned nil")
			tc.fn(t, s)
		})
	}
}

var base = time.Date(2025, 6, 12, 8, 0, 0, 0, time.UTC)

const (
	gridA = region.Code("500107001001001")
	gridB = region.Code("500107002001001")
)

var (
	atA = geo.Point{Lat: 29.5012, Lon: 106.4988}
	atB = geo.Point{Lat: 29.5200, Lon: 106.5200} // about 2.8 km north-east
)

func newID(t *testing.T) uuid.UUID {
	t.Helper()
	id, err := uuid.NewV7()
	require.NoError(t, err)
	return id
}

func dec(s string) risk.Holding {
	return risk.Holding{Substance: "汽油", Quantity: risk.MustDecimal(s)}
}

// point returns a bare point at version 1.
func point(t *testing.T, name string, grid region.Code, at geo.Point) risk.Point {
	return risk.Point{
		ID: newID(t), Name: name, Class: "landslide", Geometry: at, Anchor: at, Grid: grid,
		Path:    []region.Code{"500000", grid[:6], grid[:9], grid[:12], grid},
		Version: 1, Created: base, Updated: base,
	}
}

// fullPoint sets every field.
func fullPoint(t *testing.T) risk.Point {
	t.Helper()
	name, err := pii.NewName("张三")
	require.NoError(t, err)
	phone, err := pii.NewPhone("13812345678")
	require.NoError(t, err)
	poly, err := geo.NewPolygon(geo.Ring{{Lat: 29.50, Lon: 106.49}, {Lat: 29.50, Lon: 106.51}, {Lat: 29.51, Lon: 106.51}, {Lat: 29.51, Lon: 106.49}})
	require.NoError(t, err)
	p := point(t, "伏牛溪油库罐区", gridA, geo.Point{Lat: 29.505, Lon: 106.50})
	p.Class = "hazchem.oil-tank"
	p.Geometry = poly
	p.Enterprise = "ent-oil"
	p.Responsible = []risk.Responsible{{Duty: risk.EnterpriseDuty, ActorID: "u-1", Name: name, Phone: phone}, {Duty: risk.GridDuty, ActorID: "u-2"}}
	p.Controls = []risk.Control{{Kind: "engineering", Name: "液位高高联锁"}}
	p.Sensors = []string{"LT-301", "PT-302"}
	p.Holdings = []risk.Holding{dec("12000.5")}
	res, err := risk.StandardLEC().Assess(risk.Inputs{L: risk.MustDecimal("3"), E: risk.MustDecimal("6"), C: risk.MustDecimal("15")})
	require.NoError(t, err)
	p.Assessment = &risk.Assessment{Result: res, Inputs: risk.Inputs{L: risk.MustDecimal("3"), E: risk.MustDecimal("6"), C: risk.MustDecimal("15"), Exposed: risk.People(12)},
		AssessedAt: base, ValidUntil: base.Add(365 * 24 * time.Hour), Assessor: "admin"}
	p.Signals = []risk.Signal{{Key: "reading:LT-301:level", Kind: "reading", Colour: risk.Red, Reason: "96%", Source: "m-1", From: base, Until: base.Add(time.Hour)}}
	p.Level = risk.Level{Colour: risk.Red, Static: risk.Orange, Reasons: []string{"reading"}, Raised: []string{"reading:LT-301:level"}, At: base}
	return p
}

func apply(t *testing.T, s risk.Store, c risk.Change) {
	t.Helper()
	require.NoError(t, s.Apply(t.Context(), c))
}

func get(t *testing.T, s risk.Store, id uuid.UUID) risk.Point {
	t.Helper()
	p, err := s.Point(t.Context(), id)
	require.NoError(t, err)
	return p
}

// AssertPointEqual compares two points as the suite does: decimals by
// value, personal data with pii.Data.Equal, geometry by value.
func AssertPointEqual(t testing.TB, want, got risk.Point) {
	t.Helper()
	require.Equal(t, len(want.Responsible), len(got.Responsible), "responsible")
	for i := range want.Responsible {
		w, g := want.Responsible[i], got.Responsible[i]
		require.True(t, w.Name.Equal(g.Name) && w.Phone.Equal(g.Phone), "responsible[%d] personal data", i)
		require.Equal(t, w.Duty, g.Duty)
		require.Equal(t, w.ActorID, g.ActorID)
	}
	require.Equal(t, len(want.Holdings), len(got.Holdings))
	for i := range want.Holdings {
		require.Equal(t, want.Holdings[i].Substance, got.Holdings[i].Substance)
		require.Zero(t, want.Holdings[i].Quantity.Cmp(&got.Holdings[i].Quantity), "holdings[%d]", i)
	}
	if want.Assessment == nil {
		require.Nil(t, got.Assessment)
	} else {
		require.NotNil(t, got.Assessment)
		w, g := want.Assessment, got.Assessment
		require.Zero(t, w.Score.Cmp(&g.Score), "score")
		require.Equal(t, w.Derivation, g.Derivation)
		require.Equal(t, w.Colour, g.Colour)
		require.Equal(t, w.Grade, g.Grade)
		require.True(t, w.AssessedAt.Equal(g.AssessedAt) && w.ValidUntil.Equal(g.ValidUntil))
		require.Equal(t, w.Assessor, g.Assessor)
		require.Equal(t, fmt.Sprint(w.Inputs.L, w.Inputs.E, w.Inputs.C), fmt.Sprint(g.Inputs.L, g.Inputs.E, g.Inputs.C))
		require.Equal(t, w.Inputs.Exposed == nil, g.Inputs.Exposed == nil)
	}
	strip := func(p risk.Point) risk.Point {
		p.Responsible, p.Holdings, p.Assessment = nil, nil, nil
		return p
	}
	w, g := strip(want), strip(got)
	require.True(t, w.Created.Equal(g.Created) && w.Updated.Equal(g.Updated) && w.Level.At.Equal(g.Level.At))
	w.Created, w.Updated, w.Level.At = time.Time{}, time.Time{}, time.Time{}
	g.Created, g.Updated, g.Level.At = time.Time{}, time.Time{}, time.Time{}
	for i := range w.Signals {
		require.True(t, w.Signals[i].From.Equal(g.Signals[i].From) && w.Signals[i].Until.Equal(g.Signals[i].Until))
		w.Signals[i].From, w.Signals[i].Until, g.Signals[i].From, g.Signals[i].Until = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	}
	require.Equal(t, w, g)
}

func testRoundTrip(t *testing.T, s risk.Store) {
	full := fullPoint(t)
	bare := point(t, "滑坡隐患点", gridB, atB)
	apply(t, s, risk.Change{CreatePoints: []risk.Point{full, bare}})
	AssertPointEqual(t, full, get(t, s, full.ID))
	AssertPointEqual(t, bare, get(t, s, bare.ID))
	page, err := s.Points(t.Context(), risk.Query{})
	require.NoError(t, err)
	require.Len(t, page.Points, 2)
	next := full.Clone()
	next.Version = 2
	next.Name = "伏牛溪油库罐区（扩建）"
	next.Signals = nil
	next.Level = risk.Level{Colour: risk.Orange, Static: risk.Orange, At: base.Add(time.Hour)}
	apply(t, s, risk.Change{UpdatePoints: []risk.Point{next}})
	AssertPointEqual(t, next, get(t, s, full.ID))
}

func testReturnsCopies(t *testing.T, s risk.Store) {
	p := fullPoint(t)
	apply(t, s, risk.Change{CreatePoints: []risk.Point{p}})
	got := get(t, s, p.ID)
	got.Sensors[0] = "changed"
	got.Signals[0].Key = "changed"
	got.Geometry.(geo.Polygon)[0][0] = geo.Point{}
	got.Assessment.Derivation.Inputs[0].Value = "changed"
	got.Level.Reasons[0] = "changed"
	AssertPointEqual(t, p, get(t, s, p.ID))
	// The caller's value is not retained either.
	p2 := point(t, "x", gridA, atA)
	p2.Sensors = []string{"S-1"}
	apply(t, s, risk.Change{CreatePoints: []risk.Point{p2}})
	p2.Sensors[0] = "changed"
	require.Equal(t, []string{"S-1"}, get(t, s, p2.ID).Sensors)
}

func testNotFound(t *testing.T, s risk.Store) {
	ctx := t.Context()
	_, err := s.Point(ctx, newID(t))
	require.ErrorIs(t, err, risk.ErrNotFound)
	err = s.Apply(ctx, risk.Change{UpdatePoints: []risk.Point{{ID: newID(t), Version: 2, Anchor: atA}}})
	require.ErrorIs(t, err, risk.ErrNotFound)
	_, err = s.Building(ctx, "nope")
	require.ErrorIs(t, err, risk.ErrNotFound)
	_, err = s.Warning(ctx, "nope")
	require.ErrorIs(t, err, risk.ErrNotFound)
	_, err = s.Enterprise(ctx, "nope")
	require.ErrorIs(t, err, risk.ErrNotFound)
	_, err = s.Inspection(ctx, newID(t))
	require.ErrorIs(t, err, risk.ErrNotFound)
}

func testDuplicateID(t *testing.T, s risk.Store) {
	p := point(t, "a", gridA, atA)
	apply(t, s, risk.Change{CreatePoints: []risk.Point{p}})
	err := s.Apply(t.Context(), risk.Change{CreatePoints: []risk.Point{p}})
	require.ErrorIs(t, err, risk.ErrDuplicateID)
	q := point(t, "b", gridA, atA)
	err = s.Apply(t.Context(), risk.Change{CreatePoints: []risk.Point{q, q}})
	require.ErrorIs(t, err, risk.ErrDuplicateID)
}

func testUpdateVersions(t *testing.T, s risk.Store) {
	p := point(t, "a", gridA, atA)
	apply(t, s, risk.Change{CreatePoints: []risk.Point{p}})
	stale := p
	stale.Version = 3
	require.ErrorIs(t, s.Apply(t.Context(), risk.Change{UpdatePoints: []risk.Point{stale}}), risk.ErrConflict)
	p.Version = 2
	apply(t, s, risk.Change{UpdatePoints: []risk.Point{p}})
	require.ErrorIs(t, s.Apply(t.Context(), risk.Change{UpdatePoints: []risk.Point{p}}), risk.ErrConflict, "version 2 again")
	// Two updates of one point in one change follow each other.
	p3, p4 := p, p
	p3.Version, p4.Version = 3, 4
	apply(t, s, risk.Change{UpdatePoints: []risk.Point{p3, p4}})
	require.Equal(t, int64(4), get(t, s, p.ID).Version)
}

func testApplyIsAtomic(t *testing.T, s risk.Store) {
	p := point(t, "a", gridA, atA)
	apply(t, s, risk.Change{CreatePoints: []risk.Point{p}})
	fresh := point(t, "b", gridB, atB)
	stale := p
	stale.Version = 5
	m := bus.NewMessage("gov.500000.risk.assessed", []byte(`{}`))
	err := s.Apply(t.Context(), risk.Change{
		CreatePoints: []risk.Point{fresh}, UpdatePoints: []risk.Point{stale}, Events: []bus.Message{m},
		PutBuildings: []risk.Building{{ID: "b1", Point: atB, Grid: gridB, Occupancy: 10}},
	})
	require.ErrorIs(t, err, risk.ErrConflict)
	_, err = s.Point(t.Context(), fresh.ID)
	require.ErrorIs(t, err, risk.ErrNotFound)
	_, err = s.Building(t.Context(), "b1")
	require.ErrorIs(t, err, risk.ErrNotFound)
	pending, err := s.Pending(t.Context(), 10)
	require.NoError(t, err)
	require.Empty(t, pending)
	hits, err := s.PointsNear(t.Context(), atB, 10)
	require.NoError(t, err)
	require.Empty(t, hits)
}

func testPointsFilters(t *testing.T, s risk.Store) {
	a := point(t, "a", gridA, atA)
	a.Class, a.Enterprise = "hazchem.oil-tank", "ent-oil"
	a.Level.Colour = risk.Red
	b := point(t, "b", gridB, atB)
	b.Level.Colour = risk.Yellow
	b.Signals = []risk.Signal{{Key: "k", Colour: risk.Yellow, From: base, Until: base.Add(time.Hour)}}
	apply(t, s, risk.Change{CreatePoints: []risk.Point{a, b}})
	ctx := t.Context()
	for name, tc := range map[string]struct {
		q    risk.Query
		want []uuid.UUID
	}{
		"all":              {risk.Query{}, []uuid.UUID{a.ID, b.ID}},
		"district subtree": {risk.Query{Within: "500107"}, []uuid.UUID{a.ID, b.ID}},
		"street":           {risk.Query{Within: "500107002"}, []uuid.UUID{b.ID}},
		"city":             {risk.Query{Within: "500000"}, []uuid.UUID{a.ID, b.ID}},
		"other district":   {risk.Query{Within: "500108"}, nil},
		"class":            {risk.Query{Classes: []string{"hazchem.oil-tank"}}, []uuid.UUID{a.ID}},
		"enterprise":       {risk.Query{Enterprise: "ent-oil"}, []uuid.UUID{a.ID}},
		"min colour":       {risk.Query{MinColour: risk.Orange}, []uuid.UUID{a.ID}},
		"signalled":        {risk.Query{Signalled: true}, []uuid.UUID{b.ID}},
		"street and class": {risk.Query{Within: "500107002", Classes: []string{"hazchem.oil-tank"}}, nil},
	} {
		page, err := s.Points(ctx, tc.q)
		require.NoError(t, err, name)
		var ids []uuid.UUID
		for _, p := range page.Points {
			ids = append(ids, p.ID)
		}
		require.Equal(t, tc.want, ids, name)
	}
}

func testPointsPaging(t *testing.T, s risk.Store) {
	var want []uuid.UUID
	var ps []risk.Point
	for i := range 7 {
		p := point(t, fmt.Sprint(i), gridA, atA)
		ps = append(ps, p)
		want = append(want, p.ID)
	}
	apply(t, s, risk.Change{CreatePoints: ps})
	for _, q := range []risk.Query{{Limit: 3}, {Limit: 3, Within: "500107"}} {
		var got []uuid.UUID
		for {
			page, err := s.Points(t.Context(), q)
			require.NoError(t, err)
			for _, p := range page.Points {
				got = append(got, p.ID)
			}
			if page.Next == uuid.Nil {
				break
			}
			require.Len(t, page.Points, 3)
			q.After = page.Next
		}
		require.Equal(t, want, got)
	}
}

func testInvalidQuery(t *testing.T, s risk.Store) {
	for _, q := range []risk.Query{{Limit: -1}, {Limit: risk.MaxLimit + 1}, {Within: "12"}, {MinColour: 9}} {
		_, err := s.Points(t.Context(), q)
		require.ErrorIs(t, err, risk.ErrInvalidQuery, "%+v", q)
	}
	_, err := s.PointsNear(t.Context(), geo.Point{Lat: 91}, 10)
	require.ErrorIs(t, err, risk.ErrInvalidQuery)
	_, err = s.PointsNear(t.Context(), atA, -1)
	require.ErrorIs(t, err, risk.ErrInvalidQuery)
}

func testPointsNear(t *testing.T, s risk.Store) {
	a := point(t, "a", gridA, atA)
	a.Level.Colour = risk.Orange
	b := point(t, "b", gridB, atB)
	apply(t, s, risk.Change{CreatePoints: []risk.Point{b, a}})
	hits, err := s.PointsNear(t.Context(), atA, 5000)
	require.NoError(t, err)
	require.Len(t, hits, 2)
	require.Equal(t, a.ID, hits[0].ID)
	require.Equal(t, risk.Orange, hits[0].Colour)
	require.Equal(t, gridA, hits[0].Grid)
	require.Equal(t, "Point", hits[0].Shape)
	require.InDelta(t, geo.Distance(atA, atB), hits[1].Distance, 0.5)
	// The index follows updates.
	a.Version, a.Anchor, a.Geometry = 2, atB, atB
	apply(t, s, risk.Change{UpdatePoints: []risk.Point{a}})
	hits, err = s.PointsNear(t.Context(), atA, 100)
	require.NoError(t, err)
	require.Empty(t, hits)
	hits, err = s.PointsNear(t.Context(), atB, 100)
	require.NoError(t, err)
	require.Len(t, hits, 2)
	require.Less(t, string(hits[0].ID[:]), string(hits[1].ID[:]), "ties in ID order")
}

func testPointsBySensor(t *testing.T, s risk.Store) {
	a := point(t, "a", gridA, atA)
	a.Sensors = []string{"S-1", "S-2"}
	b := point(t, "b", gridB, atB)
	b.Sensors = []string{"S-2"}
	apply(t, s, risk.Change{CreatePoints: []risk.Point{a, b}})
	got, err := s.PointsBySensor(t.Context(), "S-2")
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Equal(t, a.ID, got[0].ID)
	a.Version, a.Sensors = 2, nil
	apply(t, s, risk.Change{UpdatePoints: []risk.Point{a}})
	got, err = s.PointsBySensor(t.Context(), "S-1")
	require.NoError(t, err)
	require.Empty(t, got)
}

func testBuildings(t *testing.T, s risk.Store) {
	apply(t, s, risk.Change{PutBuildings: []risk.Building{
		{ID: "b-near", Name: "石油路小区1栋", Point: atA, Grid: gridA, Occupancy: 120, Kind: "residential"},
		{ID: "b-far", Point: atB, Grid: gridB, Occupancy: 30},
	}})
	b, err := s.Building(t.Context(), "b-near")
	require.NoError(t, err)
	require.Equal(t, 120, b.Occupancy)
	hits, err := s.BuildingsNear(t.Context(), atA, 5000)
	require.NoError(t, err)
	require.Len(t, hits, 2)
	require.Equal(t, "b-near", hits[0].Building.ID)
	// Replacing moves it.
	apply(t, s, risk.Change{PutBuildings: []risk.Building{{ID: "b-near", Point: atB, Grid: gridB, Occupancy: 5}}})
	hits, err = s.BuildingsNear(t.Context(), atA, 100)
	require.NoError(t, err)
	require.Empty(t, hits)
	require.ErrorIs(t, s.Apply(t.Context(), risk.Change{PutBuildings: []risk.Building{{ID: "bad", Point: geo.Point{Lat: 99}}}}), risk.ErrInvalidInput)
}

func testVersionedRecords(t *testing.T, s risk.Store) {
	ctx := t.Context()
	w := risk.AreaWarning{ID: "W-1", Colour: risk.Orange, Jurisdiction: "500107", Version: 1, Raised: []uuid.UUID{newID(t)}}
	e := risk.Enterprise{ID: "ent-oil", Name: "油库", Region: "500107001", Credit: risk.MustDecimal("72.5"), Tier: risk.TierRed, Version: 1}
	in := risk.Inspection{ID: newID(t), Enterprise: "ent-oil", Region: "500107001", Period: "2025Q3", Status: risk.Planned, Version: 1,
		Departments: []string{"emergency", "fire"}, Findings: []risk.Finding{{Item: "exits", Severity: risk.Major, Status: risk.Open, Deadline: base}}}
	apply(t, s, risk.Change{PutWarnings: []risk.AreaWarning{w}, PutEnterprises: []risk.Enterprise{e}, PutInspections: []risk.Inspection{in}})
	gw, err := s.Warning(ctx, "W-1")
	require.NoError(t, err)
	require.Equal(t, w.Raised, gw.Raised)
	ge, err := s.Enterprise(ctx, "ent-oil")
	require.NoError(t, err)
	require.Zero(t, ge.Credit.Cmp(&e.Credit))
	gi, err := s.Inspection(ctx, in.ID)
	require.NoError(t, err)
	require.Equal(t, in.Departments, gi.Departments)
	require.Equal(t, risk.Major, gi.Findings[0].Severity)

	// Versions: a second create, or a skipped version, conflicts.
	require.ErrorIs(t, s.Apply(ctx, risk.Change{PutWarnings: []risk.AreaWarning{w}}), risk.ErrConflict)
	e.Version = 3
	require.ErrorIs(t, s.Apply(ctx, risk.Change{PutEnterprises: []risk.Enterprise{e}}), risk.ErrConflict)
	in.Version = 2
	in.Status = risk.Inspected
	apply(t, s, risk.Change{PutInspections: []risk.Inspection{in}})

	ents, err := s.Enterprises(ctx, "500107")
	require.NoError(t, err)
	require.Len(t, ents, 1)
	ents, err = s.Enterprises(ctx, "500108")
	require.NoError(t, err)
	require.Empty(t, ents)
	list, err := s.Inspections(ctx, risk.InspectionQuery{Enterprise: "ent-oil", Period: "2025Q3", Status: risk.Inspected})
	require.NoError(t, err)
	require.Len(t, list, 1)
	list, err = s.Inspections(ctx, risk.InspectionQuery{Status: risk.Planned})
	require.NoError(t, err)
	require.Empty(t, list)
}

func testOutbox(t *testing.T, s risk.Store) {
	ctx := t.Context()
	m1 := bus.NewMessage("gov.500000.500107.risk.assessed", []byte(`{"event":"assessed"}`))
	m2 := bus.NewMessage("gov.500000.500107.risk.level-changed", []byte(`{"event":"level-changed"}`))
	apply(t, s, risk.Change{CreatePoints: []risk.Point{point(t, "a", gridA, atA)}, Events: []bus.Message{m1}})
	apply(t, s, risk.Change{Events: []bus.Message{m2}})
	got, err := s.Pending(ctx, 10)
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Equal(t, m1.ID, got[0].ID)
	require.Equal(t, m1.Data, got[0].Data)
	require.ErrorIs(t, s.Apply(ctx, risk.Change{Events: []bus.Message{m1}}), risk.ErrConflict, "an event is stored once")
	require.NoError(t, s.MarkPublished(ctx, m1.ID, "unknown"))
	got, err = s.Pending(ctx, 10)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, m2.ID, got[0].ID)
}

func testConcurrentUpdates(t *testing.T, s risk.Store) {
	p := point(t, "a", gridA, atA)
	apply(t, s, risk.Change{CreatePoints: []risk.Point{p}})
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, conflicts := 0, 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			next := p
			next.Version = 2
			err := s.Apply(context.Background(), risk.Change{UpdatePoints: []risk.Point{next}})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.Is(err, risk.ErrConflict):
				conflicts++
			}
		}()
	}
	wg.Wait()
	require.Equal(t, 1, wins)
	require.Equal(t, 7, conflicts)
}

func testCancelledContext(t *testing.T, s risk.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	require.ErrorIs(t, s.Apply(ctx, risk.Change{CreatePoints: []risk.Point{point(t, "a", gridA, atA)}}), context.Canceled)
	_, err := s.Point(ctx, newID(t))
	require.ErrorIs(t, err, context.Canceled)
	_, err = s.Points(ctx, risk.Query{})
	require.ErrorIs(t, err, context.Canceled)
	_, err = s.PointsNear(ctx, atA, 10)
	require.ErrorIs(t, err, context.Canceled)
}
