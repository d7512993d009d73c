package dispatch_test

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/govkit/govkit/clock"
	"github.com/govkit/govkit/dispatch"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/region"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// respT0 is 23:00 on New Year's Eve in Chongqing.
var respT0 = time.Date(2026, 12, 31, 23, 0, 0, 0, time.FixedZone("CST", 8*3600))

// respJiefangbei is the Liberation Monument, the S3 crowd hotspot.
var respJiefangbei = geo.Point{Lat: 29.5573, Lon: 106.5773}

// northOf returns the point m metres due north of p: along a meridian the
// great-circle distance is exactly the latitude difference, so tests can
// place responders at known distances.
func respNorth(p geo.Point, m float64) geo.Point {
	return geo.Point{Lat: p.Lat + m/geo.EarthRadius*180/math.Pi, Lon: p.Lon}
}

// eastOf returns a point about m metres due east of p (exact to well under
// a metre at these distances).
func respEast(p geo.Point, m float64) geo.Point {
	return geo.Point{Lat: p.Lat, Lon: p.Lon + m/(geo.EarthRadius*math.Cos(p.Lat*math.Pi/180))*180/math.Pi}
}

// newRegistry returns a registry on a manual clock at respT0.
func respRegistry(t testing.TB, opts ...dispatch.ResponderOption) (*dispatch.Responders, *clock.Manual) {
	t.Helper()
	clk := clock.NewManual(respT0)
	return dispatch.NewResponders(clk, opts...), clk
}

// place registers r and puts it at p now.
func respPlace(t testing.TB, rs *dispatch.Responders, clk clock.Clock, r dispatch.Responder, p geo.Point) {
	t.Helper()
	require.NoError(t, rs.Register(r))
	require.NoError(t, rs.UpdatePosition(r.ID, p, clk.Now()))
}

func respIDs(cs []dispatch.Candidate) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.State.ID
	}
	return out
}

func respNearestIDs(t *testing.T, rs *dispatch.Responders, skill string, filter func(dispatch.ResponderState) bool) []string {
	t.Helper()
	cs, err := rs.Nearest(respJiefangbei, skill, 10, filter)
	require.NoError(t, err)
	return respIDs(cs)
}

func TestRegisterRejectsBadResponders(t *testing.T) {
	rs, _ := respRegistry(t)
	for name, r := range map[string]dispatch.Responder{
		"empty ID":           {},
		"ID not a token":     {ID: "wang wei"},
		"body not a token":   {ID: "p1", Body: "sqp enforce"},
		"skill not a token":  {ID: "p1", Skills: []string{"first aid"}},
		"empty skill":        {ID: "p1", Skills: []string{""}},
		"repeated skill":     {ID: "p1", Skills: []string{"patrol", "patrol"}},
		"negative capacity":  {ID: "p1", Capacity: -1},
		"bad jurisdiction":   {ID: "p1", Jurisdiction: "5001071"},
		"zero province code": {ID: "p1", Jurisdiction: "000107"},
	} {
		t.Run(name, func(t *testing.T) {
			err := rs.Register(r)
			require.ErrorIs(t, err, dispatch.ErrInvalidResponder)
			var re *dispatch.ResponderError
			require.ErrorAs(t, err, &re)
			assert.Equal(t, "register", re.Op)
			assert.Equal(t, r.ID, re.ID)
		})
	}
	assert.ErrorIs(t, rs.Register(dispatch.Responder{ID: "p1", Jurisdiction: "5001071"}), region.ErrInvalidCode)
	assert.Zero(t, rs.Len(), "nothing registered by a rejected call")

	require.NoError(t, rs.Register(dispatch.Responder{ID: "p1", Skills: []string{"patrol"}}))
	err := rs.Register(dispatch.Responder{ID: "p1"})
	assert.ErrorIs(t, err, dispatch.ErrDuplicateResponder)
	assert.EqualError(t, err, `dispatch: register responder "p1": duplicate responder`)
	s, err := rs.State("p1")
	require.NoError(t, err)
	assert.Equal(t, []string{"patrol"}, s.Skills, "the duplicate did not replace the original")
	assert.Equal(t, 1, s.Capacity, "zero capacity means 1")
	assert.Equal(t, dispatch.Available, s.Status)
	assert.True(t, s.UpdatedAt.IsZero())
	assert.False(t, s.CanTakeWork(), "not offered before the first position")
}

func TestUnknownResponder(t *testing.T) {
	rs, clk := respRegistry(t)
	for op, err := range map[string]error{
		"remove":          rs.Remove("ghost"),
		"update position": rs.UpdatePosition("ghost", respJiefangbei, clk.Now()),
		"set status":      rs.SetStatus("ghost", dispatch.Busy),
		"assign":          rs.Assign("ghost"),
		"release":         rs.Release("ghost"),
		"state":           func() error { _, err := rs.State("ghost"); return err }(),
	} {
		assert.ErrorIs(t, err, dispatch.ErrUnknownResponder, op)
		var re *dispatch.ResponderError
		if assert.ErrorAs(t, err, &re, op) {
			assert.Equal(t, op, re.Op)
			assert.Equal(t, "ghost", re.ID)
		}
	}
}

func TestInvalidPoints(t *testing.T) {
	rs, clk := respRegistry(t)
	respPlace(t, rs, clk, dispatch.Responder{ID: "p1"}, respJiefangbei)
	for _, p := range []geo.Point{{Lat: math.NaN(), Lon: 106}, {Lat: 29, Lon: math.Inf(1)}, {Lat: 91, Lon: 106}, {Lat: 29, Lon: -181}} {
		err := rs.UpdatePosition("p1", p, clk.Now())
		assert.ErrorIs(t, err, geo.ErrInvalidCoordinate)
		var ce *geo.CoordinateError
		assert.ErrorAs(t, err, &ce)
		var re *dispatch.ResponderError
		assert.ErrorAs(t, err, &re)

		_, err = rs.Nearest(p, "", 1, nil)
		assert.ErrorIs(t, err, geo.ErrInvalidCoordinate)
		_, err = rs.Coverage(p, "")
		assert.ErrorIs(t, err, geo.ErrInvalidCoordinate)
	}
	s, err := rs.State("p1")
	require.NoError(t, err)
	assert.Equal(t, respJiefangbei, s.Position, "a rejected fix changes nothing")
	assert.ErrorIs(t, rs.UpdatePosition("ghost", geo.Point{Lat: math.NaN()}, clk.Now()), geo.ErrInvalidCoordinate,
		"the point is checked before the ID")
}

func TestNearestHonoursSkillStatusCapacityAndFilter(t *testing.T) {
	rs, clk := respRegistry(t)
	respPlace(t, rs, clk, dispatch.Responder{ID: "a", Body: "sqp-enforce", Skills: []string{"enforcement"}}, respNorth(respJiefangbei, 100))
	respPlace(t, rs, clk, dispatch.Responder{ID: "b", Body: "yjp-enforce", Skills: []string{"enforcement", "first-aid"}}, respNorth(respJiefangbei, 200))
	respPlace(t, rs, clk, dispatch.Responder{ID: "c", Body: "grid", Skills: []string{"first-aid"}}, respNorth(respJiefangbei, 50))
	respPlace(t, rs, clk, dispatch.Responder{ID: "d", Body: "sqp-enforce", Skills: []string{"enforcement"}, Capacity: 2}, respNorth(respJiefangbei, 300))

	cs, err := rs.Nearest(respJiefangbei, "enforcement", 10, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b", "d"}, respIDs(cs), "skill: c lacks enforcement")
	assert.InDelta(t, 100, cs[0].Distance, 0.01)
	// Default StraightLine: 100 m × 1.4 ÷ (30 km/h = 8.333 m/s) = 16.8 s.
	assert.InDelta(t, 16.8, cs[0].ETA.Seconds(), 1e-6)
	assert.Equal(t, []string{"c", "a", "b", "d"}, respNearestIDs(t, rs, "", nil), "empty skill: anyone")
	assert.Equal(t, []string{"c", "b"}, respNearestIDs(t, rs, "first-aid", nil))
	assert.Empty(t, respNearestIDs(t, rs, "drainage", nil), "nobody has the skill")

	cs, err = rs.Nearest(respJiefangbei, "enforcement", 2, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b"}, respIDs(cs), "n bounds the result")
	cs, err = rs.Nearest(respJiefangbei, "enforcement", 0, nil)
	require.NoError(t, err)
	assert.Empty(t, cs)

	// Status: Busy and OffDuty responders are not offered nor assignable.
	require.NoError(t, rs.SetStatus("a", dispatch.Busy))
	assert.Equal(t, []string{"b", "d"}, respNearestIDs(t, rs, "enforcement", nil))
	assert.ErrorIs(t, rs.Assign("a"), dispatch.ErrNotAvailable)
	require.NoError(t, rs.SetStatus("a", dispatch.OffDuty))
	assert.Equal(t, []string{"b", "d"}, respNearestIDs(t, rs, "enforcement", nil))
	require.NoError(t, rs.SetStatus("a", dispatch.Available))
	assert.Equal(t, []string{"a", "b", "d"}, respNearestIDs(t, rs, "enforcement", nil))
	err = rs.SetStatus("a", dispatch.ResponderStatus(0))
	assert.ErrorIs(t, err, dispatch.ErrInvalidStatus)

	// Capacity: b carries one task at most, d two.
	require.NoError(t, rs.Assign("b"))
	assert.Equal(t, []string{"a", "d"}, respNearestIDs(t, rs, "enforcement", nil))
	assert.Equal(t, []string{"c"}, respNearestIDs(t, rs, "first-aid", nil), "out of every skill's index")
	err = rs.Assign("b")
	assert.ErrorIs(t, err, dispatch.ErrOverCapacity)
	assert.EqualError(t, err, `dispatch: assign responder "b": responder at capacity: 1 of 1 tasks`)
	require.NoError(t, rs.Assign("d"))
	assert.Equal(t, []string{"a", "d"}, respNearestIDs(t, rs, "enforcement", nil), "d has room for one more")
	require.NoError(t, rs.Assign("d"))
	assert.Equal(t, []string{"a"}, respNearestIDs(t, rs, "enforcement", nil))
	s, err := rs.State("d")
	require.NoError(t, err)
	assert.Equal(t, 2, s.Load)
	assert.False(t, s.CanTakeWork())

	// Filter: only Shiqiaopu's team.
	sqp := func(s dispatch.ResponderState) bool { return s.Body == "sqp-enforce" }
	require.NoError(t, rs.Release("d"))
	assert.Equal(t, []string{"a", "d"}, respNearestIDs(t, rs, "enforcement", sqp))
	assert.Empty(t, respNearestIDs(t, rs, "first-aid", sqp))
}

func TestReleaseMakesBusyResponderAvailableAgain(t *testing.T) {
	rs, clk := respRegistry(t)
	respPlace(t, rs, clk, dispatch.Responder{ID: "a", Skills: []string{"patrol"}}, respNorth(respJiefangbei, 100))
	respPlace(t, rs, clk, dispatch.Responder{ID: "b", Skills: []string{"patrol"}}, respNorth(respJiefangbei, 900))

	assert.ErrorIs(t, rs.Release("a"), dispatch.ErrNoTask, "nothing to release yet")
	require.NoError(t, rs.Assign("a"))
	assert.Equal(t, []string{"b"}, respNearestIDs(t, rs, "patrol", nil))
	// a moves while on the task: the registry tracks it out of the index...
	require.NoError(t, rs.UpdatePosition("a", respNorth(respJiefangbei, 20), clk.Now()))
	assert.Equal(t, []string{"b"}, respNearestIDs(t, rs, "patrol", nil))
	// ...and offers it where it now is once the task is done.
	require.NoError(t, rs.Release("a"))
	cs, err := rs.Nearest(respJiefangbei, "patrol", 10, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b"}, respIDs(cs))
	assert.InDelta(t, 20, cs[0].Distance, 0.01)
	assert.Equal(t, 0, cs[0].State.Load)
	assert.ErrorIs(t, rs.Release("a"), dispatch.ErrNoTask)

	require.NoError(t, rs.Remove("a"))
	assert.Equal(t, []string{"b"}, respNearestIDs(t, rs, "patrol", nil), "removed from the indexes")
	assert.ErrorIs(t, rs.Remove("a"), dispatch.ErrUnknownResponder)
	assert.Equal(t, 1, rs.Len())
}

func TestOutOfOrderPositionsIgnored(t *testing.T) {
	rs, clk := respRegistry(t)
	require.NoError(t, rs.Register(dispatch.Responder{ID: "a", Skills: []string{"patrol"}}))
	clk.Advance(10 * time.Second)
	p1, p2, p3 := respNorth(respJiefangbei, 100), respNorth(respJiefangbei, 500), respNorth(respJiefangbei, 50)

	require.NoError(t, rs.UpdatePosition("a", p1, respT0.Add(5*time.Second)))
	require.NoError(t, rs.UpdatePosition("a", p2, respT0.Add(3*time.Second)), "an old fix is not an error")
	s, err := rs.State("a")
	require.NoError(t, err)
	assert.Equal(t, p1, s.Position, "the older fix did not move a backwards")
	assert.Equal(t, respT0.Add(5*time.Second), s.UpdatedAt)
	cs, err := rs.Nearest(respJiefangbei, "patrol", 1, nil)
	require.NoError(t, err)
	require.Len(t, cs, 1)
	assert.InDelta(t, 100, cs[0].Distance, 0.01, "nor in the index")

	require.NoError(t, rs.UpdatePosition("a", p3, respT0.Add(7*time.Second)))
	s, _ = rs.State("a")
	assert.Equal(t, p3, s.Position)

	// A fix stamped in the future (a fast terminal clock) counts as now, so
	// it does not lock out the correct fixes that follow it.
	require.NoError(t, rs.UpdatePosition("a", p1, respT0.Add(time.Hour)))
	s, _ = rs.State("a")
	assert.Equal(t, clk.Now(), s.UpdatedAt)
	clk.Advance(time.Second)
	require.NoError(t, rs.UpdatePosition("a", p2, clk.Now()))
	s, _ = rs.State("a")
	assert.Equal(t, p2, s.Position)

	// A zero time means now.
	clk.Advance(time.Second)
	require.NoError(t, rs.UpdatePosition("a", p3, time.Time{}))
	s, _ = rs.State("a")
	assert.Equal(t, p3, s.Position)
	assert.Equal(t, clk.Now(), s.UpdatedAt)
}

func TestStaleUsesInjectedClock(t *testing.T) {
	rs, clk := respRegistry(t)
	respPlace(t, rs, clk, dispatch.Responder{ID: "a", Skills: []string{"patrol"}}, respNorth(respJiefangbei, 100))
	require.NoError(t, rs.Register(dispatch.Responder{ID: "never", Skills: []string{"patrol"}}))
	require.NoError(t, rs.Register(dispatch.Responder{ID: "home"}))
	require.NoError(t, rs.SetStatus("home", dispatch.OffDuty))
	clk.Advance(2 * time.Minute)
	respPlace(t, rs, clk, dispatch.Responder{ID: "b", Skills: []string{"patrol"}}, respNorth(respJiefangbei, 200))
	require.NoError(t, rs.SetStatus("b", dispatch.Busy))

	assert.Equal(t, []string{"never"}, rs.Stale(2*time.Minute), "a is exactly 2 min old: not yet stale")
	clk.Advance(time.Minute) // t0+3m: a is 3 min old, b 1 min
	assert.Equal(t, []string{"a", "never"}, rs.Stale(2*time.Minute), "off-duty responders are not expected to report")
	clk.Advance(2 * time.Minute) // t0+5m: b is 3 min old, and Busy still counts
	assert.Equal(t, []string{"a", "b", "never"}, rs.Stale(2*time.Minute))

	// Nearest stops offering a once its fix is older than 5 minutes.
	require.NoError(t, rs.SetStatus("b", dispatch.Available))
	assert.Equal(t, []string{"a", "b"}, respNearestIDs(t, rs, "patrol", nil), "a is exactly 5 min old")
	clk.Advance(time.Second)
	assert.Equal(t, []string{"b"}, respNearestIDs(t, rs, "patrol", nil))
	rep, err := rs.Coverage(respJiefangbei, "patrol")
	require.NoError(t, err)
	assert.Equal(t, []string{"b"}, respIDs(rep.Responders), "nor does Coverage")
	require.NoError(t, rs.UpdatePosition("a", respNorth(respJiefangbei, 100), clk.Now()))
	assert.Equal(t, []string{"a", "b"}, respNearestIDs(t, rs, "patrol", nil), "a fresh fix brings it back")

	// Without a limit, positions of any age are offered.
	ageless, clk2 := respRegistry(t, dispatch.WithMaxPositionAge(0))
	respPlace(t, ageless, clk2, dispatch.Responder{ID: "a"}, respJiefangbei)
	clk2.Advance(24 * time.Hour)
	assert.Equal(t, []string{"a"}, respNearestIDs(t, ageless, "", nil))
	assert.Equal(t, []string{"a"}, ageless.Stale(time.Hour), "yet Stale still reports it")
}

func TestInJurisdiction(t *testing.T) {
	rs, clk := respRegistry(t)
	respPlace(t, rs, clk, dispatch.Responder{ID: "sqp", Jurisdiction: "500107001"}, respNorth(respJiefangbei, 100))
	respPlace(t, rs, clk, dispatch.Responder{ID: "yjp", Jurisdiction: "500107002"}, respNorth(respJiefangbei, 200))
	respPlace(t, rs, clk, dispatch.Responder{ID: "jlp", Jurisdiction: "500107"}, respNorth(respJiefangbei, 300))
	respPlace(t, rs, clk, dispatch.Responder{ID: "anywhere"}, respNorth(respJiefangbei, 400))
	grid := region.Code("500107001002003")
	assert.Equal(t, []string{"sqp", "jlp", "anywhere"}, respNearestIDs(t, rs, "", dispatch.InJurisdiction(grid)))
}

func TestResponderStatusString(t *testing.T) {
	assert.Equal(t, "available", dispatch.Available.String())
	assert.Equal(t, "busy", dispatch.Busy.String())
	assert.Equal(t, "off-duty", dispatch.OffDuty.String())
	assert.Equal(t, "ResponderStatus(9)", dispatch.ResponderStatus(9).String())
}

func TestStateIsACopy(t *testing.T) {
	rs, clk := respRegistry(t)
	skills := []string{"patrol"}
	respPlace(t, rs, clk, dispatch.Responder{ID: "a", Skills: skills}, respJiefangbei)
	skills[0] = "changed"
	s, _ := rs.State("a")
	s.Skills[0] = "mutated"
	cs, err := rs.Nearest(respJiefangbei, "patrol", 1, nil)
	require.NoError(t, err)
	require.Len(t, cs, 1)
	cs[0].State.Skills[0] = "mutated"
	s, _ = rs.State("a")
	assert.Equal(t, []string{"patrol"}, s.Skills)
}

// respRiver is a road network with a river along a line of longitude
// and one bridge far away: crossing costs ten extra minutes.
type respRiver struct{ river float64 }

func (e respRiver) ETA(from, to geo.Point) time.Duration {
	d := time.Duration(geo.Distance(from, to) / 10 * float64(time.Second))
	if (from.Lon > e.river) != (to.Lon > e.river) {
		d += 10 * time.Minute
	}
	return d
}

func TestCustomEstimatorReordersCandidates(t *testing.T) {
	est := respRiver{river: respJiefangbei.Lon + 0.0005} // about 48 m east
	rs, clk := respRegistry(t, dispatch.WithEstimator(est))
	respPlace(t, rs, clk, dispatch.Responder{ID: "across", Skills: []string{"patrol"}}, respEast(respJiefangbei, 100))
	respPlace(t, rs, clk, dispatch.Responder{ID: "north", Skills: []string{"patrol"}}, respNorth(respJiefangbei, 500))
	plain, clk2 := respRegistry(t)
	respPlace(t, plain, clk2, dispatch.Responder{ID: "across", Skills: []string{"patrol"}}, respEast(respJiefangbei, 100))
	respPlace(t, plain, clk2, dispatch.Responder{ID: "north", Skills: []string{"patrol"}}, respNorth(respJiefangbei, 500))

	assert.Equal(t, []string{"across", "north"}, respNearestIDs(t, plain, "patrol", nil), "straight line: nearest first")
	cs, err := rs.Nearest(respJiefangbei, "patrol", 2, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"north", "across"}, respIDs(cs), "by road the bridge makes across slower")
	// 500 m at 10 m/s = 50 s; across: ~100 m at 10 m/s + 10 min.
	assert.InDelta(t, 50, cs[0].ETA.Seconds(), 0.01)
	assert.InDelta(t, 610, cs[1].ETA.Seconds(), 0.1)
	assert.InDelta(t, 100, cs[1].Distance, 0.5)

	cs, err = rs.Nearest(respJiefangbei, "patrol", 1, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"north"}, respIDs(cs), "n=1 still over-fetches and finds the one by road")

	rep, err := rs.Coverage(respJiefangbei, "patrol")
	require.NoError(t, err)
	assert.Equal(t, []string{"north"}, respIDs(rep.Responders), "across needs over 5 minutes")
	assert.Equal(t, [3]int{1, 1, 1}, [3]int{rep.Bands[0].Count, rep.Bands[1].Count, rep.Bands[2].Count})
}

// TestConcurrentUpdatesAndQueries runs writers and readers together; its
// value is under -race, and in the invariants checked at the end.
func TestConcurrentUpdatesAndQueries(t *testing.T) {
	rs := dispatch.NewResponders(clock.Real())
	skills := []string{"patrol", "enforcement", "first-aid"}
	const n = 300
	for i := range n {
		require.NoError(t, rs.Register(dispatch.Responder{ID: fmt.Sprintf("r%03d", i), Skills: []string{skills[i%3]}, Capacity: 1 + i%2}))
	}
	var wg sync.WaitGroup
	const rounds = 400
	for w := range 6 { // position writers
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for range rounds {
				id := fmt.Sprintf("r%03d", r.IntN(n))
				p := geo.Point{Lat: respJiefangbei.Lat + (r.Float64()-0.5)*0.05, Lon: respJiefangbei.Lon + (r.Float64()-0.5)*0.05}
				assert.NoError(t, rs.UpdatePosition(id, p, time.Time{}))
			}
		})
	}
	for w := range 2 { // dispatchers: find, assign, release
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 2))
			for range rounds {
				cs, err := rs.Nearest(respJiefangbei, skills[r.IntN(3)], 1, nil)
				assert.NoError(t, err)
				if len(cs) == 1 {
					if err := rs.Assign(cs[0].State.ID); err == nil {
						assert.NoError(t, rs.Release(cs[0].State.ID))
					} else {
						assert.True(t, errors.Is(err, dispatch.ErrOverCapacity) || errors.Is(err, dispatch.ErrNotAvailable), err)
					}
				}
				_ = rs.SetStatus(fmt.Sprintf("r%03d", r.IntN(n)), dispatch.ResponderStatus(1+r.IntN(2)))
			}
		})
	}
	for w := range 4 { // readers
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 3))
			for range rounds {
				skill := skills[r.IntN(3)]
				cs, err := rs.Nearest(respJiefangbei, skill, 5, nil)
				assert.NoError(t, err)
				for _, c := range cs {
					assert.True(t, c.State.CanTakeWork())
					assert.Contains(t, c.State.Skills, skill)
				}
				assert.True(t, slices.IsSortedFunc(cs, func(a, b dispatch.Candidate) int { return int(a.ETA - b.ETA) }))
				_, err = rs.Coverage(respJiefangbei, skill)
				assert.NoError(t, err)
				_ = rs.Stale(time.Minute)
			}
		})
	}
	wg.Wait()
	for i := range n {
		s, err := rs.State(fmt.Sprintf("r%03d", i))
		require.NoError(t, err)
		assert.Zero(t, s.Load, "every assignment was released")
	}
}

// TestNearestMatchesBruteForce checks the expanding-radius search against
// sorting everyone by distance, over a dense core and a sparse hinterland,
// with responders busy, stale or filtered out.
func TestNearestMatchesBruteForce(t *testing.T) {
	rs, clk := respRegistry(t)
	r := rand.New(rand.NewPCG(7, 7))
	core := geo.BBox{MinLat: 29.55, MinLon: 106.56, MaxLat: 29.57, MaxLon: 106.59}
	wide := geo.BBox{MinLat: 29.0, MinLon: 106.0, MaxLat: 30.5, MaxLon: 107.5}
	type rec struct {
		id     string
		p      geo.Point
		skills []string
		ok     bool // can take work with a fresh position
	}
	var all []rec
	for i := range 3000 {
		box := wide
		if i%2 == 0 {
			box = core
		}
		rc := rec{id: fmt.Sprintf("r%04d", i), p: respRandomIn(r, box), skills: []string{respBenchSkills[r.IntN(5)]}, ok: true}
		require.NoError(t, rs.Register(dispatch.Responder{ID: rc.id, Skills: rc.skills}))
		at := clk.Now()
		if r.IntN(10) == 0 {
			at = at.Add(-10 * time.Minute) // stale
			rc.ok = false
		}
		require.NoError(t, rs.UpdatePosition(rc.id, rc.p, at))
		if r.IntN(3) == 0 {
			require.NoError(t, rs.SetStatus(rc.id, dispatch.Busy))
			rc.ok = false
		}
		all = append(all, rc)
	}
	odd := func(s dispatch.ResponderState) bool { return s.ID[len(s.ID)-1]%2 == 1 }
	for q := range 300 {
		p := respRandomIn(r, wide)
		if q%2 == 0 {
			p = respRandomIn(r, core)
		}
		skill := []string{"", "patrol", "traffic"}[q%3]
		n := []int{1, 3, 20}[q%3]
		var filter func(dispatch.ResponderState) bool
		if q%4 == 0 {
			filter = odd
		}
		var want []rec
		for _, rc := range all {
			if rc.ok && (skill == "" || rc.skills[0] == skill) && (filter == nil || rc.id[len(rc.id)-1]%2 == 1) {
				want = append(want, rc)
			}
		}
		slices.SortFunc(want, func(a, b rec) int { return cmp.Compare(geo.Distance(p, a.p), geo.Distance(p, b.p)) })
		want = want[:min(n, len(want))]
		got, err := rs.Nearest(p, skill, n, filter)
		require.NoError(t, err)
		require.Len(t, got, len(want), "query %d", q)
		for i := range want {
			assert.Equal(t, want[i].id, got[i].State.ID, "query %d rank %d", q, i)
			assert.InDelta(t, geo.Distance(p, want[i].p), got[i].Distance, 1e-3)
		}
	}
}

// respChongqing is the municipality's bounding box.
var respChongqing = geo.BBox{MinLat: 28.16, MinLon: 105.29, MaxLat: 32.20, MaxLon: 110.19}

var respBenchSkills = []string{"patrol", "enforcement", "first-aid", "drainage", "traffic"}

// benchRegistry registers n responders scattered uniformly over Chongqing,
// each with one of five skills and half of them with a second, about half
// of them available (the rest busy or off duty).
func respBenchRegistry(b *testing.B, n int) (*dispatch.Responders, *clock.Manual, []string, *rand.Rand) {
	return respBenchRegistryIn(b, n, respChongqing)
}

func respBenchRegistryIn(b *testing.B, n int, box geo.BBox) (*dispatch.Responders, *clock.Manual, []string, *rand.Rand) {
	b.Helper()
	r := rand.New(rand.NewPCG(100_000, 5))
	rs, clk := respRegistry(b)
	idList := make([]string, n)
	for i := range n {
		id := fmt.Sprintf("r%06d", i)
		idList[i] = id
		skills := []string{respBenchSkills[i%5]}
		if r.IntN(2) == 0 {
			skills = append(skills, respBenchSkills[(i+1+r.IntN(4))%5])
		}
		require.NoError(b, rs.Register(dispatch.Responder{ID: id, Body: "team", Skills: skills}))
		require.NoError(b, rs.UpdatePosition(id, respRandomIn(r, box), clk.Now()))
		if r.IntN(2) == 0 {
			require.NoError(b, rs.SetStatus(id, dispatch.ResponderStatus(2+r.IntN(2))))
		}
	}
	return rs, clk, idList, r
}

func respRandomIn(r *rand.Rand, b geo.BBox) geo.Point {
	return geo.Point{Lat: b.MinLat + r.Float64()*(b.MaxLat-b.MinLat), Lon: b.MinLon + r.Float64()*(b.MaxLon-b.MinLon)}
}

// BenchmarkNearestResponder100k: one op is "the nearest available
// responder with skill X" to a random point of Chongqing among 100,000.
func BenchmarkNearestResponder100k(b *testing.B) {
	rs, _, _, r := respBenchRegistry(b, 100_000)
	points := make([]geo.Point, 4096)
	skills := make([]string, len(points))
	for i := range points {
		points[i], skills[i] = respRandomIn(r, respChongqing), respBenchSkills[r.IntN(5)]
	}
	lat := make([]time.Duration, 0, 1<<20)
	found := 0
	for i := 0; b.Loop(); i++ {
		p, skill := points[i%len(points)], skills[i%len(skills)]
		start := time.Now()
		cs, _ := rs.Nearest(p, skill, 1, nil)
		lat = append(lat, time.Since(start))
		found += len(cs)
	}
	if found != len(lat) {
		b.Fatalf("found %d of %d", found, len(lat))
	}
	b.ReportMetric(float64(respPercentile(lat, 0.99).Nanoseconds()), "p99-ns")
	b.ReportMetric(float64(len(lat))/b.Elapsed().Seconds(), "queries/s")
}

// BenchmarkNearestResponderDense: 100,000 responders packed into the
// Yuzhong peninsula's 2 × 3 km, the other extreme from the uniform spread.
func BenchmarkNearestResponderDense(b *testing.B) {
	core := geo.BBox{MinLat: 29.55, MinLon: 106.56, MaxLat: 29.57, MaxLon: 106.59}
	rs, _, _, r := respBenchRegistryIn(b, 100_000, core)
	lat := make([]time.Duration, 0, 1<<20)
	for b.Loop() {
		p, skill := respRandomIn(r, core), respBenchSkills[r.IntN(5)]
		start := time.Now()
		_, _ = rs.Nearest(p, skill, 1, nil)
		lat = append(lat, time.Since(start))
	}
	b.ReportMetric(float64(respPercentile(lat, 0.99).Nanoseconds()), "p99-ns")
}

// BenchmarkUpdatePosition: one op moves a random one of 100,000 responders
// by up to about 50 m, as a terminal's GPS fix does.
func BenchmarkUpdatePosition(b *testing.B) {
	rs, clk, idList, r := respBenchRegistry(b, 100_000)
	type move struct {
		id string
		p  geo.Point
	}
	moves := make([]move, 1<<16)
	for i := range moves {
		id := idList[r.IntN(len(idList))]
		s, err := rs.State(id)
		require.NoError(b, err)
		moves[i] = move{id, geo.Point{Lat: s.Position.Lat + (r.Float64()-0.5)*0.0009, Lon: s.Position.Lon + (r.Float64()-0.5)*0.0009}}
	}
	now := clk.Now()
	ops := 0
	for i := 0; b.Loop(); i++ {
		m := moves[i%len(moves)]
		if err := rs.UpdatePosition(m.id, m.p, now); err != nil {
			b.Fatal(err)
		}
		ops++
	}
	b.ReportMetric(float64(ops)/b.Elapsed().Seconds(), "updates/s")
}

func respPercentile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[int(q*float64(len(s)-1))]
}
