package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/govkit/govkit/dispatch"
	"github.com/govkit/govkit/incident"
	"github.com/govkit/govkit/risk"
)

func TestSmallPlaces(t *testing.T) {
	ctx := context.Background()
	res, err := run(ctx, io.Discard)
	require.NoError(t, err)
	restaurant, hotel, noodles := shops[0].id, shops[5].id, shops[6].id

	// Tiers from credit and risk: blacklisted and high-risk shops are red.
	assert.Equal(t, risk.TierRed, res.Tiers[shops[4].id], "blacklisted")
	assert.Equal(t, risk.TierRed, res.Tiers[noodles], "a red gas installation")
	assert.Equal(t, risk.TierYellow, res.Tiers[shops[3].id], "poor credit")
	assert.Equal(t, risk.TierGreen, res.Tiers[restaurant])

	// The plan: red shops every quarter, departments' tasks merged into one
	// joint visit, and a draw anyone can re-run from the published seed.
	planned := map[string]risk.Inspection{}
	for _, in := range res.Plan {
		planned[in.Enterprise] = in
		assert.Len(t, in.Inspectors, res.PerVisit, in.Enterprise)
	}
	assert.Contains(t, planned, shops[4].id)
	assert.Contains(t, planned, noodles)
	assert.Equal(t, []string{"jfb-safety", "yz-fire-rescue"}, planned[restaurant].Departments, "one joint visit")
	require.Len(t, res.Draw.Picked, res.Quota)
	var fixed []string
	for _, in := range res.Plan {
		if !slices.Contains(res.Draw.Picked, in.Enterprise) {
			fixed = append(fixed, in.Enterprise)
		}
	}
	again := risk.DrawTargets(res.Draw.Seed, res.Draw.Candidates, res.Quota, res.Pool, res.PerVisit, fixed)
	assert.Equal(t, res.Draw, again, "the published draw re-runs to the same result")

	// Rectification notices: two closed by a verifier, the restaurant's
	// wiring overdue, the noodle shop's major hazard still within its time.
	finding := func(shop, item string) risk.Finding {
		in, err := res.Risk.Inspection(ctx, planned[shop].ID)
		require.NoError(t, err)
		for _, f := range in.Findings {
			if f.Item == item {
				return f
			}
		}
		t.Fatalf("%s has no finding %s", shop, item)
		return risk.Finding{}
	}
	wiring := finding(restaurant, "wiring")
	assert.Equal(t, risk.Open, wiring.Status)
	assert.True(t, wiring.Overdue)
	for _, f := range []risk.Finding{finding(restaurant, "extinguishers"), finding(hotel, "exits")} {
		assert.Equal(t, risk.Closed, f.Status, f.Item)
		assert.NotEqual(t, f.ReportedBy, f.VerifiedBy, f.Item)
		assert.False(t, f.Overdue, f.Item)
	}
	gas := finding(noodles, "gas")
	assert.Equal(t, risk.Major, gas.Severity)
	assert.False(t, gas.Overdue)

	// The overdue notice became one incident at the restaurant, routed to
	// the street's enforcement team and the community's grid station.
	require.Len(t, res.Overdue, 1)
	e := res.Overdue[0]
	assert.Equal(t, restaurant, e.Enterprise)
	assert.Equal(t, planned[restaurant].ID, e.Inspection)
	assert.Equal(t, 1, e.Finding)
	inc, err := res.Incidents.Get(ctx, e.Incident)
	require.NoError(t, err)
	assert.Equal(t, "overdue-rectification", inc.Category)
	assert.Equal(t, incident.Inspection, inc.Channel)
	assert.Equal(t, incident.Dispatched, inc.Status)
	assert.EqualValues(t, "500103001001002", inc.Location.Grid())
	assert.Equal(t, []string{restaurant}, inc.Attributes["enterprise"])

	require.Len(t, res.Orders, 2)
	bodies := map[string]dispatch.WorkOrder{}
	for _, o := range res.Orders {
		assert.Equal(t, inc.ID.String(), o.Case)
		bodies[o.Body] = o
	}
	assert.True(t, bodies["jfb-safety"].Lead)
	assert.Equal(t, dispatch.SignedFor, bodies["jfb-safety"].Status)
	assert.Equal(t, dispatch.Offered, bodies["mzl-grid"].Status, "the shop's own community")
}

// The scenario end to end; its last line is the outcome.
func Example() {
	var buf strings.Builder
	if _, err := run(context.Background(), &buf); err != nil {
		fmt.Println(err)
		return
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	fmt.Println(lines[len(lines)-1])
	// Output: 7 inspections, 1 overdue rectification escalated, routed to 2 bodies
}
