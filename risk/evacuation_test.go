package risk_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/risk"
)

// A line of places along latitude 29.55, where a degree of longitude is
// about 96.86 km.
func east(m float64) geo.Point { return geo.Point{Lat: 29.55, Lon: 106.48 + m/96_860} }

func TestImpactZones(t *testing.T) {
	f := newFixture(t)
	ctx := admin()
	mustCreate(t, f, ctx, tank("T-1", east(0)))
	mustCreate(t, f, ctx, tank("T-2", east(800)))
	mustCreate(t, f, ctx, tank("T-3", east(3000)))
	for _, b := range []risk.Building{
		{ID: "school", Point: east(300), Occupancy: 1200, Kind: "school"},
		{ID: "flats", Point: east(1500), Occupancy: 800},
		{ID: "empty", Point: east(1600), Occupancy: 0},
		{ID: "far", Point: east(5000), Occupancy: 999},
	} {
		_, err := f.svc.RegisterBuilding(ctx, b)
		require.NoError(t, err)
	}
	h := risk.Hazard{ID: "leak-1", Jurisdiction: city, Center: east(0), Zones: []risk.Zone{
		{Name: "lethal", Radius: 500, Colour: risk.Red}, {Name: "injury", Radius: 1000, Colour: risk.Orange}, {Name: "evacuate", Radius: 2000, Colour: risk.Yellow},
	}}
	im, err := f.svc.Impact(ctx, h)
	require.NoError(t, err)
	require.Equal(t, 2, im.RiskPoints)
	require.Equal(t, 3, im.Buildings)
	require.Equal(t, 2000, im.Population)
	require.Len(t, im.Zones[0].RiskPoints, 1)
	require.Len(t, im.Zones[1].RiskPoints, 1)
	require.Equal(t, 1200, im.Zones[0].Population)
	require.Equal(t, 800, im.Zones[2].Population)
	groups := im.Groups()
	require.Equal(t, []risk.Group{{ID: "school", Point: east(300), People: 1200, Rank: 0}, {ID: "flats", Point: east(1500), People: 800, Rank: 2}}, groups)

	// An area hazard: a water outage over the south-west of street A.
	im, err = f.svc.Impact(ctx, risk.Hazard{ID: "outage", Name: "停水区域", Jurisdiction: city, Area: basin})
	require.NoError(t, err)
	require.Len(t, im.Zones, 1)
	require.Equal(t, 2, im.RiskPoints) // T-1 and T-2 lie west of 106.489

	for name, bad := range map[string]risk.Hazard{
		"rings shrink": {Jurisdiction: city, Center: east(0), Zones: []risk.Zone{{Radius: 500}, {Radius: 400}}},
		"bad centre":   {Jurisdiction: city, Center: geo.Point{Lat: 95}, Zones: []risk.Zone{{Radius: 500}}},
		"both":         {Jurisdiction: city, Center: east(0), Zones: []risk.Zone{{Radius: 500}}, Area: basin},
	} {
		_, err := f.svc.Impact(ctx, bad)
		require.ErrorIs(t, err, risk.ErrInvalidInput, name)
	}
	_, err = f.svc.Impact(ctx, risk.Hazard{Jurisdiction: city, Center: east(0)})
	require.ErrorIs(t, err, risk.ErrMissingInput)
}

func TestPlanUnderCapacityPressure(t *testing.T) {
	h := risk.Hazard{ID: "leak", Center: east(0), Zones: []risk.Zone{{Name: "inner", Radius: 500}, {Name: "outer", Radius: 1500}}}
	in := risk.PlanInput{
		Hazard: h,
		Groups: []risk.Group{
			{ID: "g-inner", Point: east(200), People: 300, Rank: 0},
			{ID: "g-outer", Point: east(1400), People: 300, Rank: 1},
		},
		Resources: risk.Resources{
			Shelters: []risk.Shelter{
				{ID: "s-near", Point: east(2000), Capacity: 400}, // nearest to both
				{ID: "s-far", Point: east(4000), Capacity: 150},
				{ID: "s-inside", Point: east(1000), Capacity: 1000}, // inside the hazard: unusable
				{ID: "s-closed", Point: east(2100), Capacity: 1000, Closed: true},
			},
			AssemblyPoints: []risk.Site{{ID: "a-1", Point: east(1800)}, {ID: "a-2", Point: east(-1800)}},
			Depots:         []risk.Site{{ID: "d-1", Point: east(3000)}, {ID: "d-2", Point: east(-3000)}, {ID: "d-3", Point: east(6000)}, {ID: "d-4", Point: east(9000)}},
			Teams:          []risk.Team{{ID: "t-1", Point: east(-2500), Members: 40}, {ID: "t-2", Point: east(2500), Members: 30, Busy: true}, {ID: "t-3", Point: east(7000), Members: 35}},
			DepotCount:     2,
		},
	}
	plan, err := risk.Plan(in)
	require.NoError(t, err)
	// The inner group is served first: all 300 to the nearest shelter; the
	// outer group gets the 100 places left there and 150 at the far one;
	// 50 people have no place.
	require.Equal(t, []risk.Assignment{
		{Group: "g-inner", Assembly: "a-1", Shelter: "s-near", People: 300, Distance: 1800},
		{Group: "g-outer", Assembly: "a-1", Shelter: "s-far", People: 150, Distance: 2600},
		{Group: "g-outer", Assembly: "a-1", Shelter: "s-near", People: 100, Distance: 600},
	}, roundDistances(plan.Assignments))
	require.Equal(t, []risk.Shortfall{{Group: "g-outer", People: 50}}, plan.Unplaced)
	require.Equal(t, 600, plan.People)
	require.Equal(t, 550, plan.Placed)
	require.Equal(t, []string{"s-closed", "s-inside"}, plan.Excluded)
	require.Equal(t, []string{"d-1", "d-2"}, ids(plan.Depots))
	require.Equal(t, []string{"t-1", "t-3"}, ids(plan.Teams))
	require.Equal(t, "d-1", plan.Loads[0].Depot)

	again, err := risk.Plan(in)
	require.NoError(t, err)
	require.Equal(t, plan, again, "deterministic")

	// The near shelter closes: its people move, the rest stay.
	in.Resources.Shelters[0].Closed = true
	in.Resources.Shelters = append(in.Resources.Shelters, risk.Shelter{ID: "s-new", Point: east(-2000), Capacity: 500})
	next, err := risk.Replan(plan, in)
	require.NoError(t, err)
	require.Equal(t, []risk.Move{
		{Group: "g-inner", Shelter: "s-near", Before: 300, After: 0},
		{Group: "g-inner", Shelter: "s-new", Before: 0, After: 300},
		{Group: "g-outer", Shelter: "s-near", Before: 100, After: 0},
		{Group: "g-outer", Shelter: "s-new", Before: 0, After: 150},
	}, risk.Diff(plan, next))
	require.Empty(t, next.Unplaced)
	require.Empty(t, risk.Diff(next, next))

	_, err = risk.Plan(risk.PlanInput{Groups: []risk.Group{{ID: "g", Point: east(0), People: -1}}})
	require.ErrorIs(t, err, risk.ErrInvalidInput)
	_, err = risk.Plan(risk.PlanInput{Groups: []risk.Group{{ID: "g", Point: east(0)}, {ID: "g", Point: east(0)}}})
	require.ErrorIs(t, err, risk.ErrInvalidInput)
}

func roundDistances(as []risk.Assignment) []risk.Assignment {
	out := make([]risk.Assignment, len(as))
	for i, a := range as {
		a.Distance = float64(int((a.Distance+50)/100) * 100)
		out[i] = a
	}
	return out
}

func ids(cs []risk.Called) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	return out
}
