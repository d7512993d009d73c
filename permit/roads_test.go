package permit_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/permit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Jiangbei district (500105), where the road-zipper application began.
const (
	jiangbei = "500105"
	guanyin  = "500105001" // a street of Jiangbei
	huaxin   = "500105002"
)

// metresNorth is the latitude offset of d metres.
func metresNorth(d float64) float64 { return d / 111195.08 }

func roadNetwork(t testing.TB) *permit.Network {
	lat := 29.575
	n, err := permit.NewNetwork([]permit.Segment{
		{ID: "jianxin-1", Name: "建新北路 1 段", Jurisdiction: guanyin, Line: geo.LineString{{Lat: lat, Lon: 106.530}, {Lat: lat, Lon: 106.532}}},
		{ID: "jianxin-2", Name: "建新北路 2 段", Jurisdiction: guanyin, Line: geo.LineString{{Lat: lat, Lon: 106.532}, {Lat: lat, Lon: 106.534}}},
		{ID: "lane-30m", Name: "建新北路辅道", Jurisdiction: guanyin, Line: geo.LineString{{Lat: lat + metresNorth(30), Lon: 106.5305}, {Lat: lat + metresNorth(30), Lon: 106.5315}}},
		{ID: "lane-80m", Name: "北城天街支路", Jurisdiction: guanyin, Line: geo.LineString{{Lat: lat + metresNorth(80), Lon: 106.5305}, {Lat: lat + metresNorth(80), Lon: 106.5315}}},
		{ID: "far", Name: "红旗河沟", Jurisdiction: huaxin, Line: geo.LineString{{Lat: lat + 0.01, Lon: 106.530}, {Lat: lat + 0.01, Lon: 106.532}}},
	})
	require.NoError(t, err)
	return n
}

func promoterStaff(id, company, scope string) access.Actor {
	return access.Actor{ID: id, Kind: access.DepartmentHandler, Department: company, Scope: regionOf(scope), Roles: []string{"promoter"}}
}

var (
	gasStaff     = promoterStaff("gas-tang", "cq-gas", jiangbei)
	waterStaff   = promoterStaff("water-xu", "cq-water", jiangbei)
	telecomStaff = promoterStaff("tel-lin", "china-telecom", jiangbei)
	gridStaff    = promoterStaff("grid-ma", "state-grid", jiangbei)
	jlpGasStaff  = promoterStaff("gas-jlp", "cq-gas", jiulongpo)
	roadAdmin    = access.Actor{ID: "jb-roads", Kind: access.DistrictStaff, Scope: jiangbei, Roles: []string{"coordinator"}}
	jlpRoadAdmin = access.Actor{ID: "jlp-roads", Kind: access.DistrictStaff, Scope: jiulongpo, Roles: []string{"coordinator"}}
)

func april(day, hour int) time.Time {
	return time.Date(2026, 4, day, hour, 0, 0, 0, time.FixedZone("CST", 8*3600))
}

func window(fromDay, toDay int) permit.Window {
	return permit.Window{Start: april(fromDay, 8), End: april(toDay, 18)}
}

func newRoadFixture(t *testing.T) *fixture {
	return newFixture(t, func(c *permit.Config) { c.Network = roadNetwork(t) })
}

func (f *fixture) dig(t *testing.T, who access.Actor, r permit.ExcavationRequest) permit.ExcavationReceipt {
	t.Helper()
	if r.Promoter == "" {
		r.Promoter = who.Department
	}
	rec, err := f.svc.ApplyExcavation(as(who), r)
	require.NoError(t, err)
	return rec
}

func TestNewNetworkValidates(t *testing.T) {
	line := geo.LineString{{Lat: 29.5, Lon: 106.5}, {Lat: 29.5, Lon: 106.51}}
	for _, segs := range [][]permit.Segment{
		{{ID: "", Line: line, Jurisdiction: guanyin}},
		{{ID: "a", Line: line, Jurisdiction: guanyin}, {ID: "a", Line: line, Jurisdiction: guanyin}},
		{{ID: "a", Line: line[:1], Jurisdiction: guanyin}},
		{{ID: "a", Line: geo.LineString{{Lat: 91, Lon: 0}, {Lat: 0, Lon: 0}}, Jurisdiction: guanyin}},
		{{ID: "a", Line: line, Jurisdiction: "5001"}},
	} {
		_, err := permit.NewNetwork(segs)
		assert.ErrorIs(t, err, permit.ErrInvalidCommand)
	}
}

func TestApplyExcavationValidatesAndAuthorizes(t *testing.T) {
	f := newRoadFixture(t)
	good := permit.ExcavationRequest{Promoter: "cq-gas", Segment: "jianxin-1", Window: window(1, 10), Purpose: "燃气管道改造"}
	cases := []struct {
		name  string
		mod   func(r *permit.ExcavationRequest)
		field string
	}{
		{"no promoter", func(r *permit.ExcavationRequest) { r.Promoter = "" }, "promoter"},
		{"unknown segment", func(r *permit.ExcavationRequest) { r.Segment = "nowhere" }, "segment"},
		{"reversed window", func(r *permit.ExcavationRequest) { r.Window = permit.Window{Start: april(10, 8), End: april(1, 8)} }, "window"},
		{"too long", func(r *permit.ExcavationRequest) { r.Window.End = r.Window.Start.AddDate(2, 0, 0) }, "window"},
		{"in the past", func(r *permit.ExcavationRequest) {
			r.Window = permit.Window{Start: monday10.AddDate(0, 0, -7), End: monday10}
		}, "window.start"},
		{"site off the street", func(r *permit.ExcavationRequest) {
			r.Site = geo.LineString{{Lat: 29.575, Lon: 106.530}, {Lat: 29.577, Lon: 106.531}}
		}, "site[1]"},
		{"bad site", func(r *permit.ExcavationRequest) { r.Site = geo.LineString{{Lat: 29.575, Lon: 106.530}} }, "site"},
		{"control characters", func(r *permit.ExcavationRequest) { r.Purpose = "a\x01" }, "purpose"},
	}
	for _, tc := range cases {
		r := good
		tc.mod(&r)
		_, err := f.svc.ApplyExcavation(as(gasStaff), r)
		var ce *permit.CommandError
		require.ErrorAs(t, err, &ce, tc.name)
		assert.Equal(t, tc.field, ce.Field, tc.name)
	}
	page, err := f.store.Excavations(t.Context(), permit.ExcavationQuery{})
	require.NoError(t, err)
	assert.Empty(t, page.Excavations, "nothing was written")

	// Access: a promoter's staff apply for their own company, in their own
	// district.
	r := good
	r.Promoter = "cq-water"
	_, err = f.svc.ApplyExcavation(as(gasStaff), r)
	var de *access.DeniedError
	require.ErrorAs(t, err, &de)
	assert.Equal(t, access.WrongDepartment, de.Decision.Reason)
	_, err = f.svc.ApplyExcavation(as(jlpGasStaff), good)
	require.ErrorAs(t, err, &de)
	assert.Equal(t, access.OutOfJurisdiction, de.Decision.Reason, "Jiulongpo's gas team cannot apply in Jiangbei")

	good.Key = "gas-2026-04"
	first := f.dig(t, gasStaff, good)
	assert.False(t, first.Replayed)
	assert.Equal(t, permit.ExcavationApplied, first.Excavation.Status)
	assert.Equal(t, permit.Window{Start: april(1, 8).UTC(), End: april(10, 18).UTC()}, first.Excavation.Window)
	again := f.dig(t, gasStaff, good)
	assert.True(t, again.Replayed, "a duplicate application is absorbed")
	assert.Equal(t, first.Excavation.ID, again.Excavation.ID)

	noNet := newFixture(t)
	_, err = noNet.svc.ApplyExcavation(as(gasStaff), good)
	assert.ErrorIs(t, err, permit.ErrInvalidCommand)
}

// S6: the road zipper. Clashing works become one proposed joint
// excavation with a lead promoter; completed works protect the road.
func TestRoadZipper(t *testing.T) {
	f := newRoadFixture(t)
	gas := f.dig(t, gasStaff, permit.ExcavationRequest{Segment: "jianxin-1", Window: window(1, 10), Purpose: "燃气管道改造"})
	assert.Empty(t, gas.Clashes)
	water := f.dig(t, waterStaff, permit.ExcavationRequest{Segment: "jianxin-1", Window: window(20, 25), Purpose: "供水管网更新"})
	require.Len(t, water.Clashes, 1, "ten days apart on the same segment: within the 30-day slack")
	assert.True(t, water.Clashes[0].SameSegment)
	assert.Equal(t, gas.Excavation.ID, water.Clashes[0].B)
	assert.Negative(t, water.Clashes[0].Overlap, "a gap the slack bridged")
	tel := f.dig(t, telecomStaff, permit.ExcavationRequest{Segment: "lane-30m", Window: window(5, 8), Purpose: "光缆敷设"})
	require.Len(t, tel.Clashes, 2, "a lane 30 m away is within the 50 m buffer")
	assert.InDelta(t, 30, tel.Clashes[0].Distance, 1)
	grid := f.dig(t, gridStaff, permit.ExcavationRequest{Segment: "lane-80m", Window: window(5, 8)})
	assert.Empty(t, grid.Clashes, "80 m away is beyond the buffer")
	later := f.dig(t, waterStaff, permit.ExcavationRequest{Segment: "jianxin-2", Window: permit.Window{Start: april(1, 8).AddDate(0, 5, 0), End: april(10, 8).AddDate(0, 5, 0)}})
	assert.Empty(t, later.Clashes, "September is beyond the slack")

	// Coordination is the district's; Jiulongpo cannot coordinate Jiangbei.
	_, err := f.svc.Coordinate(as(jlpRoadAdmin), permit.CoordinateRequest{Within: jiangbei})
	assert.ErrorIs(t, err, access.ErrDenied)
	_, err = f.svc.Coordinate(as(gasStaff), permit.CoordinateRequest{Within: jiangbei})
	assert.ErrorIs(t, err, access.ErrDenied, "promoters do not coordinate")
	f.pub.reset()
	co, err := f.svc.Coordinate(as(roadAdmin), permit.CoordinateRequest{Within: jiangbei})
	require.NoError(t, err)
	require.Len(t, co.Joints, 1)
	j := co.Joints[0]
	assert.Equal(t, permit.JointProposed, j.Status)
	assert.ElementsMatch(t, []uuid.UUID{gas.Excavation.ID, water.Excavation.ID, tel.Excavation.ID}, j.Members)
	assert.Equal(t, "cq-gas", j.Lead, "the promoter with the most works leads")
	assert.Equal(t, []string{"china-telecom", "cq-gas", "cq-water"}, j.Promoters)
	assert.Equal(t, []string{"jianxin-1", "lane-30m"}, j.Segments)
	assert.Equal(t, permit.Window{Start: april(1, 8).UTC(), End: april(25, 18).UTC()}, j.Window)
	assert.Equal(t, guanyin, string(j.Jurisdiction))
	assert.Equal(t, []string{"joint-proposed"}, f.pub.names(t))
	e, err := f.svc.Excavation(as(roadAdmin), water.Excavation.ID)
	require.NoError(t, err)
	assert.Equal(t, permit.ExcavationProposed, e.Status)
	assert.Equal(t, j.ID, e.Joint)
	co2, err := f.svc.Coordinate(as(roadAdmin), permit.CoordinateRequest{Within: jiangbei})
	require.NoError(t, err)
	assert.Empty(t, co2.Joints, "works already coordinated are not proposed twice")

	// Before agreement, nothing is merged.
	rep, err := f.svc.Merged(as(roadAdmin), jiangbei, permit.Window{})
	require.NoError(t, err)
	assert.Equal(t, permit.MergeReport{Applications: 5, InJoint: 3}, rep)

	_, err = f.svc.CompleteJoint(as(gasStaff), j.ID, time.Time{}, 0)
	assert.ErrorIs(t, err, permit.ErrInvalidTransition, "a proposal is not dug")
	agreed, err := f.svc.AcceptJoint(as(roadAdmin), j.ID, j.Version)
	require.NoError(t, err)
	assert.Equal(t, permit.JointAgreed, agreed.Status)
	_, err = f.svc.AcceptJoint(as(roadAdmin), j.ID, j.Version)
	assert.ErrorIs(t, err, permit.ErrConflict, "a stale version")
	_, err = f.svc.DissolveJoint(as(roadAdmin), j.ID, "too late", 0)
	assert.ErrorIs(t, err, permit.ErrInvalidTransition)

	rep, err = f.svc.Merged(as(roadAdmin), jiangbei, permit.Window{})
	require.NoError(t, err)
	assert.Equal(t, permit.MergeReport{Applications: 5, InJoint: 3, Merged: 3, Joints: 1, Share: 0.6, DigsSaved: 2}, rep)
	_, err = f.svc.Merged(as(jlpRoadAdmin), jiangbei, permit.Window{})
	assert.ErrorIs(t, err, access.ErrDenied)

	// Members of a joint excavation complete through it, by the lead.
	_, err = f.svc.CompleteExcavation(as(waterStaff), water.Excavation.ID, time.Time{}, 0)
	assert.ErrorIs(t, err, permit.ErrInvalidTransition)
	f.clk.Set(april(26, 10))
	_, err = f.svc.CompleteJoint(as(telecomStaff), j.ID, time.Time{}, 0)
	assert.ErrorIs(t, err, access.ErrDenied, "the lead promoter reports the joint works")
	_, err = f.svc.CompleteJoint(as(gasStaff), j.ID, april(27, 10), 0)
	assert.ErrorIs(t, err, permit.ErrInvalidCommand, "not in the future")
	f.pub.reset()
	done, err := f.svc.CompleteJoint(as(gasStaff), j.ID, time.Time{}, 0)
	require.NoError(t, err)
	assert.Equal(t, permit.JointCompleted, done.Status)
	assert.Equal(t, []string{"joint-completed", "moratorium-declared", "moratorium-declared"}, f.pub.names(t))
	mp, err := f.store.Moratoria(t.Context(), permit.MoratoriumQuery{Segment: "jianxin-1"})
	require.NoError(t, err)
	require.Len(t, mp.Moratoria, 1)
	assert.Equal(t, april(26, 10).UTC().AddDate(3, 0, 0), mp.Moratoria[0].Until, "three years by default")

	// The road is protected now; emergencies excepted.
	_, err = f.svc.ApplyExcavation(as(waterStaff), permit.ExcavationRequest{Promoter: "cq-water", Segment: "jianxin-1", Window: permit.Window{Start: april(26, 10).AddDate(1, 0, 0), End: april(30, 10).AddDate(1, 0, 0)}})
	var me *permit.MoratoriumError
	require.ErrorAs(t, err, &me)
	assert.ErrorIs(t, err, permit.ErrMoratorium)
	assert.Equal(t, "jianxin-1", me.Segment)
	burst := f.dig(t, waterStaff, permit.ExcavationRequest{Segment: "jianxin-1", Emergency: true, Window: permit.Window{Start: april(26, 9), End: april(27, 9)}, Purpose: "爆管抢修"})
	assert.True(t, burst.Excavation.Emergency)
	f.dig(t, waterStaff, permit.ExcavationRequest{Segment: "jianxin-1", Window: permit.Window{Start: april(26, 10).AddDate(3, 0, 1), End: april(30, 10).AddDate(3, 0, 1)}})
}

func TestDissolveAndCompleteAlone(t *testing.T) {
	f := newRoadFixture(t)
	a := f.dig(t, gasStaff, permit.ExcavationRequest{Segment: "jianxin-2", Window: window(1, 3)})
	b := f.dig(t, telecomStaff, permit.ExcavationRequest{Segment: "jianxin-2", Window: window(2, 4)})
	co, err := f.svc.Coordinate(as(roadAdmin), permit.CoordinateRequest{Within: guanyin, During: window(1, 30)})
	require.NoError(t, err)
	require.Len(t, co.Joints, 1)
	_, err = f.svc.DissolveJoint(as(roadAdmin), co.Joints[0].ID, "", 0)
	assert.ErrorIs(t, err, permit.ErrInvalidCommand, "a reason is required")
	d, err := f.svc.DissolveJoint(as(roadAdmin), co.Joints[0].ID, "燃气为抢险性质，不宜等待", 0)
	require.NoError(t, err)
	assert.Equal(t, permit.JointDissolved, d.Status)
	e, err := f.svc.Excavation(as(roadAdmin), a.Excavation.ID)
	require.NoError(t, err)
	assert.Equal(t, permit.ExcavationApplied, e.Status)
	assert.Equal(t, uuid.Nil, e.Joint)

	f.clk.Set(april(3, 12))
	_, err = f.svc.CompleteExcavation(as(telecomStaff), a.Excavation.ID, time.Time{}, 0)
	assert.ErrorIs(t, err, access.ErrDenied, "another promoter's works")
	done, err := f.svc.CompleteExcavation(as(gasStaff), a.Excavation.ID, time.Time{}, e.Version)
	require.NoError(t, err)
	assert.Equal(t, permit.ExcavationCompleted, done.Status)
	_, err = f.svc.CompleteExcavation(as(gasStaff), a.Excavation.ID, time.Time{}, 0)
	assert.ErrorIs(t, err, permit.ErrInvalidTransition)
	// b's window started before the moratorium: Coordinate flags it.
	co, err = f.svc.Coordinate(as(roadAdmin), permit.CoordinateRequest{Within: guanyin})
	require.NoError(t, err)
	require.Len(t, co.InMoratorium, 1)
	assert.Equal(t, b.Excavation.ID, co.InMoratorium[0].Excavation)

	m, err := f.svc.Resurface(as(roadAdmin), "lane-80m", time.Time{})
	require.NoError(t, err)
	assert.Equal(t, "resurfaced", m.Cause)
	_, err = f.svc.Resurface(as(jlpRoadAdmin), "lane-80m", time.Time{})
	assert.ErrorIs(t, err, access.ErrDenied)
	_, err = f.svc.Resurface(as(roadAdmin), "lane-80m", april(30, 0))
	assert.ErrorIs(t, err, permit.ErrInvalidCommand)
	_, err = f.svc.ApplyExcavation(as(gridStaff), permit.ExcavationRequest{Promoter: "state-grid", Segment: "lane-80m", Window: window(20, 22)})
	assert.ErrorIs(t, err, permit.ErrMoratorium)
}

func TestDetectClashes(t *testing.T) {
	net := roadNetwork(t)
	seg := func(id string) geo.LineString { s, _ := net.Segment(id); return s.Line }
	mk := func(promoter, segment string, w permit.Window, emergency bool) permit.Excavation {
		return permit.Excavation{ID: uuid.Must(uuid.NewV7()), Promoter: promoter, Segment: segment, Site: seg(segment), Window: w, Emergency: emergency}
	}
	// A chain: a clashes with b (same segment), b with c (adjacent
	// segment touching at the junction), a and c not at all in time.
	a := mk("cq-gas", "jianxin-1", window(1, 5), false)
	b := mk("cq-water", "jianxin-1", permit.Window{Start: april(1, 8).AddDate(0, 0, 30), End: april(1, 8).AddDate(0, 0, 35)}, false)
	c := mk("china-telecom", "jianxin-2", permit.Window{Start: april(1, 8).AddDate(0, 0, 60), End: april(1, 8).AddDate(0, 0, 64)}, false)
	alone := mk("state-grid", "far", window(1, 5), false)
	emergency := mk("cq-water", "lane-80m", window(2, 3), true)
	near := mk("china-mobile", "lane-80m", window(4, 6), false)
	blocked := mk("china-unicom", "lane-30m", window(1, 30), false)
	mor := permit.Moratorium{ID: uuid.Must(uuid.NewV7()), Segment: "lane-30m", From: april(1, 0).AddDate(-1, 0, 0), Until: april(1, 0).AddDate(2, 0, 0)}

	rep, err := permit.DetectClashes(permit.ClashRules{}, []permit.Excavation{a, b, c, alone, emergency, near, blocked}, []permit.Moratorium{mor})
	require.NoError(t, err)
	assert.Equal(t, 7, rep.Applications)
	assert.Equal(t, []permit.MoratoriumHit{{Excavation: blocked.ID, Moratorium: mor.ID, Segment: "lane-30m"}}, rep.InMoratorium)
	require.Len(t, rep.Groups, 2)
	assert.ElementsMatch(t, []uuid.UUID{a.ID, b.ID, c.ID}, rep.Groups[0].Members, "clashes connect: one dig")
	assert.ElementsMatch(t, []uuid.UUID{emergency.ID, near.ID}, rep.Groups[1].Members)
	assert.True(t, rep.Groups[1].Emergency)
	assert.Equal(t, "cq-water", rep.Groups[1].Lead, "an emergency's promoter leads")
	assert.Equal(t, 5, rep.Clashing())
	assert.Len(t, rep.Clashes, 3)

	// The buffer decides across segments: 30 m clashes at 50, not at 20.
	tel := mk("china-telecom", "lane-30m", window(1, 2), false)
	rep, err = permit.DetectClashes(permit.ClashRules{Buffer: 20}, []permit.Excavation{a, tel}, nil)
	require.NoError(t, err)
	assert.Empty(t, rep.Groups)
	rep, err = permit.DetectClashes(permit.ClashRules{Buffer: 31}, []permit.Excavation{a, tel}, nil)
	require.NoError(t, err)
	require.Len(t, rep.Groups, 1)
	assert.InDelta(t, 30, rep.Clashes[0].Distance, 0.5)
	// The slack decides across time.
	rep, err = permit.DetectClashes(permit.ClashRules{Slack: time.Hour}, []permit.Excavation{a, b}, nil)
	require.NoError(t, err)
	assert.Empty(t, rep.Groups)

	_, err = permit.DetectClashes(permit.ClashRules{Buffer: -1}, nil, nil)
	assert.ErrorIs(t, err, permit.ErrInvalidCommand)
	bad := a
	bad.Window = permit.Window{}
	_, err = permit.DetectClashes(permit.ClashRules{}, []permit.Excavation{bad}, nil)
	assert.ErrorIs(t, err, permit.ErrInvalidCommand)
	x, err := permit.NewClashIndex(permit.ClashRules{}, []permit.Excavation{a, b, c})
	require.NoError(t, err)
	cl, err := x.Clashes(b)
	require.NoError(t, err)
	assert.Len(t, cl, 2, "b clashes with a and c, never with itself")
	_, err = x.Clashes(bad)
	assert.ErrorIs(t, err, permit.ErrInvalidCommand)
}
