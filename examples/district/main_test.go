package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/govkit/govkit/examples/district/sim"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// small is a district of two streets over a working morning and
// afternoon: enough for every flow — alarms, cases, bundles, codes — to
// happen, quickly.
func small(seed uint64) config {
	c := sim.Defaults()
	c.Streets, c.Devices, c.Citizens, c.Hours, c.Seed = 2, 2_000, 40_000, 10, seed
	c.Start = time.Date(2026, 3, 2, 7, 0, 0, 0, sim.CST)
	return config{Config: c}
}

func TestDistrictDay(t *testing.T) {
	var out bytes.Buffer
	s, err := run(context.Background(), small(7), &out)
	require.NoError(t, err)
	require.Empty(t, s.Errors, "the simulated people's actions failed unexpectedly")
	assert.Contains(t, out.String(), "Total")

	// Every report is accounted for: it opened a case, joined an open case
	// on the same asset, was a replay, or was refused.
	assert.Positive(t, s.Reports)
	assert.Equal(t, s.Reports, s.Opened+s.AutoMerged+s.Replayed+s.Refused)
	// Every case opened stands somewhere, and the incident service's own
	// indicators count the same cases.
	assert.Equal(t, s.Opened, s.Open+s.Closed+s.Rejected+s.Duplicates)
	assert.Equal(t, s.Opened, s.Total.Reported+s.Total.Duplicates)
	assert.Equal(t, s.Closed, s.Total.Closed)

	// Rates are rates; some work got done.
	assert.Greater(t, s.Total.ClosureRate, 0.0)
	assert.LessOrEqual(t, s.Total.ClosureRate, 1.0)
	for _, r := range s.Streets {
		assert.GreaterOrEqual(t, r.ClosureRate, 0.0, r.Name)
		assert.LessOrEqual(t, r.ClosureRate, 1.0, r.Name)
		assert.LessOrEqual(t, r.OnTimeRate, 1.0, r.Name)
	}

	// The streets' figures add up to the city's.
	var sum sim.StreetRow
	for _, r := range s.Streets {
		sum.Reported += r.Reported
		sum.Registered += r.Registered
		sum.Closed += r.Closed
		sum.ClosedOnTime += r.ClosedOnTime
		sum.Duplicates += r.Duplicates
		sum.Alarms += r.Alarms
		sum.Codes += r.Codes
		sum.Delisted += r.Delisted
		sum.BundlesStarted += r.BundlesStarted
		sum.BundlesDone += r.BundlesDone
		sum.RiskRaised += r.RiskRaised
	}
	for name, pair := range map[string][2]int{
		"reported": {sum.Reported, s.Total.Reported}, "registered": {sum.Registered, s.Total.Registered},
		"closed": {sum.Closed, s.Total.Closed}, "on time": {sum.ClosedOnTime, s.Total.ClosedOnTime},
		"duplicates": {sum.Duplicates, s.Total.Duplicates}, "alarms": {sum.Alarms, s.Total.Alarms},
		"codes": {sum.Codes, s.Total.Codes}, "delisted": {sum.Delisted, s.Total.Delisted},
		"bundles": {sum.BundlesDone, s.Total.BundlesDone}, "applied": {sum.BundlesStarted, s.Total.BundlesStarted},
		"risk": {sum.RiskRaised, s.Total.RiskRaised},
	} {
		assert.Equal(t, pair[0], pair[1], name)
	}
	assert.Equal(t, int64(s.Total.Alarms), s.Alarms)

	// Each flow ran: sensors raised alarms, cases closed, bundles finished,
	// listing codes were issued for completed rental rooms.
	assert.Positive(t, s.Readings)
	assert.Positive(t, s.Alarms)
	assert.Positive(t, s.Total.Closed)
	assert.Positive(t, s.Total.BundlesDone)
	assert.Positive(t, s.Total.Codes)
	assert.Positive(t, s.WorkOrders)
	// Orders of city and district bodies go out under shorter subjects
	// than a street team's; the dispatch desk must see them all.
	assert.Equal(t, int64(s.WorkOrders), s.Offers, "offers the dispatch desk received")
	assert.LessOrEqual(t, s.Total.BundlesDone, s.Total.BundlesStarted)
}

// The same seed gives the same day, whatever the goroutines did.
func TestDistrictDeterministic(t *testing.T) {
	a, err := run(context.Background(), small(11), &bytes.Buffer{})
	require.NoError(t, err)
	b, err := run(context.Background(), small(11), &bytes.Buffer{})
	require.NoError(t, err)
	a.Wall, b.Wall = 0, 0
	require.Equal(t, a, b)

	c, err := run(context.Background(), small(12), &bytes.Buffer{})
	require.NoError(t, err)
	c.Wall = 0
	assert.NotEqual(t, a.Total, c.Total, "another seed, another day")
}

func TestBadFlags(t *testing.T) {
	c := small(1)
	c.Streets = -1
	_, err := run(context.Background(), c, &bytes.Buffer{})
	assert.ErrorIs(t, err, sim.ErrInvalidConfig)
}
