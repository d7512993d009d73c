package main

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/govkit/govkit/risk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOilDepot(t *testing.T) {
	res, err := run(context.Background(), io.Discard)
	require.NoError(t, err)

	// GB 18218: 6,000 t of petrol with over 100 people within 500 m is
	// grade 2, orange; the overfilling tank's readings lift it to red.
	assert.Equal(t, risk.Orange, res.Static.Colour)
	assert.Equal(t, 2, res.Static.Grade)
	assert.Equal(t, risk.Red, res.Live.Colour)
	assert.Equal(t, risk.Orange, res.Live.Static)
	assert.True(t, res.Live.RaisedAbove())
	assert.Equal(t, []string{"reading:LT-101:level"}, res.Live.Raised, "raised by the level readings alone")

	// The leak alarm, and the concentric zones around it.
	assert.Equal(t, "tank-farm-leak", res.Leak.Rule)
	assert.Equal(t, "GD-101", res.Leak.Device)
	require.Len(t, res.Impact.Zones, 3)
	assert.Equal(t, []int{120, 2700, 3760}, []int{res.Impact.Zones[0].Population, res.Impact.Zones[1].Population, res.Impact.Zones[2].Population})
	assert.Equal(t, 6580, res.Impact.Population, "Xincheng, 1.9 km out, is not evacuated")
	assert.Len(t, res.Impact.Zones[0].RiskPoints, 1, "the tank farm itself")

	// The plan: everybody placed, within capacity, nobody sent to the
	// shelter inside the zone; the nearest depots and all six teams called.
	checkPlan(t, res.Plan)
	assert.Equal(t, []string{"跳磴中学体育馆"}, res.Plan.Excluded)
	assert.Len(t, res.Plan.Depots, 3)
	require.Len(t, res.Plan.Teams, 6)
	members := 0
	for _, tm := range res.Plan.Teams {
		members += tm.Members
	}
	assert.Equal(t, 200, members)
	for _, a := range res.Plan.Assignments {
		assert.NotEmpty(t, a.Assembly, "every group gathers at an assembly point first")
	}

	// The re-plan without the sports centre: still everybody placed, and
	// only the people who were going there move.
	checkPlan(t, res.Replan)
	for _, a := range res.Replan.Assignments {
		assert.NotEqual(t, res.Closed, a.Shelter)
	}
	require.NotEmpty(t, res.Moves)
	before := map[string]int{}
	for _, a := range res.Plan.Assignments {
		if a.Shelter == res.Closed {
			before[a.Group] += a.People
		}
	}
	movedOut := map[string]int{}
	for _, m := range res.Moves {
		if m.Shelter == res.Closed {
			movedOut[m.Group] += m.Before - m.After
		} else {
			assert.Contains(t, before, m.Group, "%s moved though its shelter stayed open", m.Group)
		}
	}
	assert.Equal(t, before, movedOut)

	// The warning, as CAP 1.2, and its effect on the stored tank farm.
	var alert risk.CAPAlert
	require.NoError(t, xml.Unmarshal(res.CAP, &alert))
	assert.Equal(t, risk.CAPNamespace, alert.XMLName.Space)
	assert.Equal(t, "Alert", alert.MsgType)
	require.Len(t, alert.Info, 1)
	assert.Equal(t, "Extreme", alert.Info[0].Severity)
	assert.Equal(t, "Immediate", alert.Info[0].Urgency)
	require.Len(t, alert.Info[0].Area, 1)
	poly := strings.Fields(alert.Info[0].Area[0].Polygon[0])
	assert.Equal(t, poly[0], poly[len(poly)-1], "a CAP polygon is closed")
	farm, err := res.Points.Point(context.Background(), res.TankFarm)
	require.NoError(t, err)
	assert.Equal(t, risk.Red, farm.Level.Colour)
	assert.Contains(t, farm.Level.Raised, "warning:"+res.Warning.ID)
}

// checkPlan checks that a plan places everybody within the capacities.
func checkPlan(t *testing.T, p risk.EvacuationPlan) {
	t.Helper()
	assert.Equal(t, 6580, p.People)
	assert.Equal(t, p.People, p.Placed)
	assert.Empty(t, p.Unplaced)
	for _, l := range p.Loads {
		assert.LessOrEqual(t, l.Assigned, l.Capacity, l.Shelter)
	}
	sum := 0
	for _, a := range p.Assignments {
		sum += a.People
	}
	assert.Equal(t, p.Placed, sum)
}

// The scenario from start to finish, summarised in one line.
func Example() {
	res, err := run(context.Background(), io.Discard)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Summary())
	// Output:
	// tank farm static orange (grade 2), live red; leak: 6580 people in 3 zones, 6580 placed in 6 shelters, 3 depots, 6 teams; 大渡口体育中心 closes: 6580 placed, 880 moved; CAP CQ-DDK-20250612-0225
}
