package dispatch_test

import (
	"math"
	"testing"
	"time"

	"github.com/govkit/govkit/dispatch"
	"github.com/govkit/govkit/geo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// respTenMPS makes ETAs easy to do by hand: seconds = metres ÷ 10,
// so the 1, 3 and 5 minute bands end at 600, 1,800 and 3,000 m.
var respTenMPS = dispatch.StraightLine{Speed: 10, Detour: 1}

func respBandCounts(r dispatch.CoverageReport) [3]int {
	return [3]int{r.Bands[0].Count, r.Bands[1].Count, r.Bands[2].Count}
}

func respBandsMet(bands [3]dispatch.CoverageBand) [3]bool {
	return [3]bool{bands[0].Met, bands[1].Met, bands[2].Met}
}

func TestCoverageBandsExact(t *testing.T) {
	setup := func(opts ...dispatch.ResponderOption) *dispatch.Responders {
		rs, clk := respRegistry(t, append([]dispatch.ResponderOption{dispatch.WithEstimator(respTenMPS)}, opts...)...)
		patrol := []string{"patrol"}
		for _, r := range []struct {
			id string
			m  float64
		}{
			{"r500", 500},   // 50 s: 1-minute band
			{"r599", 599},   // 59.9 s: just inside 1 minute
			{"r601", 601},   // 60.1 s: just outside, so 3-minute band
			{"r1500", 1500}, // 150 s: 3-minute band
			{"r2900", 2900}, // 290 s: 5-minute band
			{"r3100", 3100}, // 310 s: too far
		} {
			respPlace(t, rs, clk, dispatch.Responder{ID: r.id, Skills: patrol}, respNorth(respJiefangbei, r.m))
		}
		respPlace(t, rs, clk, dispatch.Responder{ID: "busy400", Skills: patrol}, respNorth(respJiefangbei, 400))
		require.NoError(t, rs.SetStatus("busy400", dispatch.Busy))
		respPlace(t, rs, clk, dispatch.Responder{ID: "drain300", Skills: []string{"drainage"}}, respNorth(respJiefangbei, 300))
		return rs
	}

	rs := setup()
	rep, err := rs.Coverage(respJiefangbei, "patrol")
	require.NoError(t, err)
	assert.Equal(t, respJiefangbei, rep.Point)
	assert.Equal(t, "patrol", rep.Skill)
	assert.Equal(t, []string{"r500", "r599", "r601", "r1500", "r2900"}, respIDs(rep.Responders))
	for i, want := range []float64{50, 59.9, 60.1, 150, 290} {
		assert.InDelta(t, want, rep.Responders[i].ETA.Seconds(), 1e-6, rep.Responders[i].State.ID)
	}
	assert.Equal(t, [3]int{2, 4, 5}, respBandCounts(rep), "cumulative: within 1, 3, 5 minutes")
	assert.Equal(t, [3]time.Duration{time.Minute, 3 * time.Minute, 5 * time.Minute},
		[3]time.Duration{rep.Bands[0].Within, rep.Bands[1].Within, rep.Bands[2].Within})
	assert.Equal(t, [3]bool{true, true, true}, respBandsMet(rep.Bands), "default requirement 1/1/1")
	assert.Equal(t, 1, rep.Bands[2].Required)
	assert.True(t, rep.Met())

	rep, err = rs.Coverage(respJiefangbei, "")
	require.NoError(t, err)
	assert.Equal(t, "drain300", rep.Responders[0].State.ID, "any skill")
	assert.Equal(t, [3]int{3, 5, 6}, respBandCounts(rep))

	rep, err = rs.Coverage(respJiefangbei, "rescue")
	require.NoError(t, err)
	assert.Empty(t, rep.Responders)
	assert.Equal(t, [3]bool{false, false, false}, respBandsMet(rep.Bands), "nobody with the skill")
	assert.False(t, rep.Met())

	strict := setup(dispatch.WithCoverageRequirement(dispatch.CoverageRequirement{Within1: 3, Within3: 4, Within5: 6}))
	rep, err = strict.Coverage(respJiefangbei, "patrol")
	require.NoError(t, err)
	assert.Equal(t, [3]bool{false, true, false}, respBandsMet(rep.Bands), "2 < 3, 4 ≥ 4, 5 < 6")
	assert.Equal(t, 3, rep.Bands[0].Required)
	assert.False(t, rep.Met())
}

func TestCoverageDefaultEstimator(t *testing.T) {
	// Default: 30 km/h = 8.333 m/s with detour 1.4, so seconds = metres ×
	// 1.4 ÷ 8.333 = metres × 0.168.
	rs, clk := respRegistry(t)
	for id, m := range map[string]float64{
		"a": 350,  // 58.8 s
		"b": 365,  // 61.32 s
		"c": 1780, // 299.04 s
		"d": 1790, // 300.72 s: out
	} {
		respPlace(t, rs, clk, dispatch.Responder{ID: id}, respNorth(respJiefangbei, m))
	}
	rep, err := rs.Coverage(respJiefangbei, "")
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b", "c"}, respIDs(rep.Responders))
	assert.InDelta(t, 58.8, rep.Responders[0].ETA.Seconds(), 1e-6)
	assert.InDelta(t, 61.32, rep.Responders[1].ETA.Seconds(), 1e-6)
	assert.InDelta(t, 299.04, rep.Responders[2].ETA.Seconds(), 1e-6)
	assert.Equal(t, [3]int{1, 2, 3}, respBandCounts(rep))

	line := dispatch.StraightLine{}
	assert.InDelta(t, 357.14, line.Reach(time.Minute), 0.01)
	assert.Equal(t, line.ETA(respJiefangbei, respNorth(respJiefangbei, 350)),
		dispatch.StraightLine{Speed: -1, Detour: 0.5}.ETA(respJiefangbei, respNorth(respJiefangbei, 350)), "bad parameters mean the defaults")
}

func TestGaps(t *testing.T) {
	// A 4 × 4 grid of 1,200 m cells; the only responder stands at the
	// centre of the south-west cell (0, 0). A cell (i, j) centre lies
	// 1,200·√(i²+j²) m away, i.e. 120·√(i²+j²) s at 10 m/s.
	rs, clk := respRegistry(t, dispatch.WithEstimator(respTenMPS))
	sw := respJiefangbei
	ne := geo.Point{Lat: respNorth(sw, 4799).Lat, Lon: respEast(sw, 4799).Lon}
	area := geo.BBox{MinLat: sw.Lat, MinLon: sw.Lon, MaxLat: ne.Lat, MaxLon: ne.Lon}
	home := geo.Point{Lat: sw.Lat + (ne.Lat-sw.Lat)/8, Lon: sw.Lon + (ne.Lon-sw.Lon)/8}
	respPlace(t, rs, clk, dispatch.Responder{ID: "grid-01", Skills: []string{"patrol"}}, home)

	gaps, err := rs.Gaps(area, 1200, "patrol", dispatch.DefaultCoverageRequirement())
	require.NoError(t, err)
	require.Len(t, gaps, 15, "every cell but the responder's own")
	failing := map[[2]int][3]bool{}
	for _, g := range gaps {
		i := int((g.Point.Lat - sw.Lat) / (ne.Lat - sw.Lat) * 4)
		j := int((g.Point.Lon - sw.Lon) / (ne.Lon - sw.Lon) * 4)
		assert.True(t, g.Cell.Contains(g.Point))
		assert.InDelta(t, 1200, geo.Distance(geo.Point{Lat: g.Cell.MinLat, Lon: g.Cell.MinLon}, geo.Point{Lat: g.Cell.MaxLat, Lon: g.Cell.MinLon}), 1)
		met := respBandsMet(g.Bands)
		failing[[2]int{i, j}] = [3]bool{!met[0], !met[1], !met[2]}
	}
	assert.Equal(t, [2]float64{sw.Lat, sw.Lon + (ne.Lon-sw.Lon)/4}, [2]float64{gaps[0].Cell.MinLat, gaps[0].Cell.MinLon},
		"south-west first, row by row: the first gap is cell (0, 1)")
	assert.NotContains(t, failing, [2]int{0, 0})
	onlyOne := [3]bool{true, false, false}    // ≤ 1,800 m: 3 min met
	oneAndThree := [3]bool{true, true, false} // ≤ 3,000 m: 5 min met
	all := [3]bool{true, true, true}
	assert.Equal(t, map[[2]int][3]bool{
		{0, 1}: onlyOne, {1, 0}: onlyOne, {1, 1}: onlyOne, // 1,200 m, 1,697 m
		{0, 2}: oneAndThree, {2, 0}: oneAndThree, {1, 2}: oneAndThree, {2, 1}: oneAndThree, // 2,400 m, 2,683 m
		{2, 2}: all, {0, 3}: all, {3, 0}: all, {1, 3}: all, {3, 1}: all, {2, 3}: all, {3, 2}: all, {3, 3}: all, // ≥ 3,394 m
	}, failing)
	for _, g := range gaps {
		if g.Bands[1].Met {
			assert.Equal(t, 1, g.Bands[1].Count)
			assert.Equal(t, 0, g.Bands[0].Count)
		}
	}

	gaps, err = rs.Gaps(area, 1200, "drainage", dispatch.DefaultCoverageRequirement())
	require.NoError(t, err)
	assert.Len(t, gaps, 16, "nobody has the skill")
	gaps, err = rs.Gaps(area, 1200, "patrol", dispatch.CoverageRequirement{Within5: 1})
	require.NoError(t, err)
	assert.Len(t, gaps, 8, "only the 5-minute band required")
	gaps, err = rs.Gaps(area, 1200, "patrol", dispatch.CoverageRequirement{})
	require.NoError(t, err)
	assert.Empty(t, gaps, "nothing required")

	require.NoError(t, rs.SetStatus("grid-01", dispatch.Busy))
	gaps, err = rs.Gaps(area, 1200, "patrol", dispatch.DefaultCoverageRequirement())
	require.NoError(t, err)
	assert.Len(t, gaps, 16, "a busy responder covers nothing")

	// A box that is a single point is one sample.
	require.NoError(t, rs.SetStatus("grid-01", dispatch.Available))
	gaps, err = rs.Gaps(geo.BBox{MinLat: home.Lat, MinLon: home.Lon, MaxLat: home.Lat, MaxLon: home.Lon}, 100, "patrol", dispatch.DefaultCoverageRequirement())
	require.NoError(t, err)
	assert.Empty(t, gaps)
}

func TestGapsCustomEstimator(t *testing.T) {
	est := respRiver{river: respJiefangbei.Lon + 0.0005}
	rs, clk := respRegistry(t, dispatch.WithEstimator(est))
	respPlace(t, rs, clk, dispatch.Responder{ID: "across"}, respEast(respJiefangbei, 100))
	box := geo.BBox{MinLat: respJiefangbei.Lat, MinLon: respJiefangbei.Lon, MaxLat: respJiefangbei.Lat, MaxLon: respJiefangbei.Lon}
	gaps, err := rs.Gaps(box, 100, "", dispatch.DefaultCoverageRequirement())
	require.NoError(t, err)
	require.Len(t, gaps, 1, "100 m away but 10 minutes by road")
	assert.Equal(t, [3]bool{false, false, false}, respBandsMet(gaps[0].Bands))
	respPlace(t, rs, clk, dispatch.Responder{ID: "near"}, respNorth(respJiefangbei, 100))
	gaps, err = rs.Gaps(box, 100, "", dispatch.DefaultCoverageRequirement())
	require.NoError(t, err)
	assert.Empty(t, gaps)
}

func TestGapsRejectsBadQueries(t *testing.T) {
	rs, _ := respRegistry(t)
	area := geo.BBox{MinLat: 29.55, MinLon: 106.57, MaxLat: 29.56, MaxLon: 106.58}
	req := dispatch.DefaultCoverageRequirement()
	for name, q := range map[string]struct {
		area geo.BBox
		step float64
		req  dispatch.CoverageRequirement
	}{
		"zero step":            {area, 0, req},
		"negative step":        {area, -100, req},
		"NaN step":             {area, math.NaN(), req},
		"infinite step":        {area, math.Inf(1), req},
		"inverted box":         {geo.BBox{MinLat: 29.56, MinLon: 106.57, MaxLat: 29.55, MaxLon: 106.58}, 100, req},
		"NaN corner":           {geo.BBox{MinLat: math.NaN(), MinLon: 106.57, MaxLat: 29.56, MaxLon: 106.58}, 100, req},
		"negative requirement": {area, 100, dispatch.CoverageRequirement{Within1: -1}},
	} {
		t.Run(name, func(t *testing.T) {
			gaps, err := rs.Gaps(q.area, q.step, "", q.req)
			assert.ErrorIs(t, err, dispatch.ErrInvalidCoverage)
			var ce *dispatch.CoverageError
			assert.ErrorAs(t, err, &ce)
			assert.Nil(t, gaps)
		})
	}
	_, err := rs.Gaps(geo.BBox{MinLat: 29.56, MinLon: 106.57, MaxLat: 29.55, MaxLon: 106.58}, 100, "", req)
	assert.ErrorIs(t, err, geo.ErrInvalidGeometry, "the geometry error shows through")

	// All of Chongqing at 100 m would be about 21.6 million samples.
	start := time.Now()
	_, err = rs.Gaps(respChongqing, 100, "", req)
	var ce *dispatch.CoverageError
	require.ErrorAs(t, err, &ce)
	assert.InDelta(t, 21.6e6, float64(ce.Samples), 0.2e6)
	assert.Less(t, time.Since(start), time.Second, "refused before any work")
	_, err = rs.Gaps(respChongqing, 1e-300, "", req)
	require.ErrorAs(t, err, &ce, "no overflow on absurd steps")
	assert.Greater(t, ce.Samples, dispatch.MaxGapSamples)
}
