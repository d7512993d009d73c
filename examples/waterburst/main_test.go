package main

import (
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/google/uuid"
	"github.com/govkit/govkit/dispatch"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/incident"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWaterBurst(t *testing.T) {
	ctx := context.Background()
	res, err := run(ctx, io.Discard)
	require.NoError(t, err)

	// Two alarms on one main: the burst opened the case, the low-pressure
	// alarm was merged into it.
	assert.Equal(t, []string{"main-burst", "main-low-pressure"}, res.Alarms)
	require.Len(t, res.Receipts, 2)
	assert.Equal(t, uuid.Nil, res.Receipts[0].MergedInto)
	assert.Equal(t, res.Incident, res.Receipts[1].MergedInto)
	page, err := res.Incidents.Find(ctx, incident.Query{Categories: []string{"water-main-burst"}})
	require.NoError(t, err)
	require.Len(t, page.Incidents, 1, "one case for one main")
	inc := page.Incidents[0]
	assert.Len(t, inc.Reporters, 2)
	assert.Len(t, inc.Keys, 2)
	assert.Equal(t, []string{mainKY1.ID}, inc.Attributes["asset"])

	// The break was placed between pp-3 and pp-4, which dropped most.
	assert.Greater(t, res.Estimate.Lon, sensorsOnMain[2].Lon)
	assert.Less(t, res.Estimate.Lon, sensorsOnMain[3].Lon)

	// The outage corridor between the isolating valves holds the hospital
	// and the school, and four of the five buildings.
	assert.True(t, res.Plan.Outage.Contains(res.Estimate))
	assert.False(t, res.Plan.Outage.Contains(geo.Point{Lat: 29.5380, Lon: 106.4600}), "KY2-8 is outside")
	assert.Equal(t, 2, res.Plan.Impact.RiskPoints)
	assert.Equal(t, 4, res.Plan.Impact.Buildings)
	assert.Equal(t, 860+1240+420+1100, res.Plan.Impact.Population)
	assert.Equal(t, "石桥铺抢修物资库 Shiqiaopu", res.Plan.Depot)
	assert.Equal(t, "water-crew-shiqiaopu", res.Plan.Crew, "the nearest crew is busy")
	assert.Equal(t, map[string]string{"road": "yes", "critical-users": "yes", "telecom-lines": "no"}, res.Plan.Facts)

	// The playbook ran to completion: every step done but the telecom
	// one, whose condition did not hold; the case file is disposed.
	for step, state := range res.Steps {
		want := "done"
		if step == "telecom" {
			want = "skipped"
		}
		assert.Equal(t, want, state, step)
	}
	assert.Len(t, res.Steps, 9)
	cf, err := res.Orders.CaseFile(ctx, res.Incident.String())
	require.NoError(t, err)
	assert.True(t, cf.Disposed)
	assert.Len(t, cf.Orders, 8)
	bodies := map[string]bool{}
	for _, id := range cf.Orders {
		o, err := res.Orders.Order(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, dispatch.Done, o.Status)
		bodies[o.Body] = true
	}
	assert.Equal(t, map[string]bool{"cq-water": true, "jlp-traffic": true, "jlp-road": true, "sqp-office": true}, bodies)

	// Pressure came back, the alarms cleared, the case closed.
	assert.Zero(t, res.OpenAfter)
	inc, err = res.Incidents.Get(ctx, res.Incident)
	require.NoError(t, err)
	assert.Equal(t, incident.Closed, inc.Status)
	assert.Equal(t, incident.Fixed, inc.Resolution)
	tl, err := res.Incidents.Timeline(ctx, res.Incident)
	require.NoError(t, err)
	assert.NoError(t, incident.VerifyTimeline(tl))
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
	// 2 alarms, 1 case (closed); outage: 2 risk points, 3620 people; warehouse 石桥铺抢修物资库 Shiqiaopu; crew water-crew-shiqiaopu; playbook done 18:19; 0 alarms open
}
