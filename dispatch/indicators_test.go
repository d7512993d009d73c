package dispatch_test

import (
	"testing"
	"time"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/dispatch"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIndicatorsAndFiveColours(t *testing.T) {
	f := newFixture(t, func(c *dispatch.Config) {
		c.Authorizer = access.AllowAll()
	})
	ctx := as(jlpCentre)
	// Case 1: everyone on time, the street team rated 5.
	_, orders, err := f.svc.Dispatch(ctx, muckTruck("inc-1"))
	require.NoError(t, err)
	for _, o := range orders {
		must(t)(f.svc.SignFor(as(sqpMember), o.ID, ""))
		must(t)(f.svc.Start(as(sqpMember), o.ID, ""))
		must(t)(f.svc.Complete(as(sqpMember), o.ID, ""))
	}
	must(t)(f.svc.Evaluate(ctx, byBody(orders)["sqp-enforce"].ID, 5, ""))

	// Case 2: the street team returns it; housing signs late and finishes
	// after a rework.
	_, orders, err = f.svc.Dispatch(ctx, muckTruck("inc-2"))
	require.NoError(t, err)
	m := byBody(orders)
	must(t)(f.svc.Return(as(sqpMember), m["sqp-enforce"].ID, "not ours"))
	f.clk.Advance(2 * time.Hour)
	must(t)(f.svc.SignFor(as(housing), m["jlp-housing"].ID, ""))
	must(t)(f.svc.Start(as(housing), m["jlp-housing"].ID, ""))
	must(t)(f.svc.Complete(as(housing), m["jlp-housing"].ID, ""))
	must(t)(f.svc.Verify(as(gridChief), m["jlp-housing"].ID, false, "incomplete"))
	must(t)(f.svc.Complete(as(housing), m["jlp-housing"].ID, ""))

	ind, err := f.svc.Indicators(ctx, dispatch.ByBody, dispatch.OrderQuery{}, dispatch.DefaultScoring)
	require.NoError(t, err)
	got := map[string]dispatch.Indicators{}
	for _, i := range ind {
		got[i.Key] = i
	}
	sqp := got["sqp-enforce"]
	assert.Equal(t, 2, sqp.Offered)
	assert.Equal(t, 1, sqp.Returned)
	assert.InDelta(t, 0.5, sqp.AccurateDispatchRate, 1e-9)
	assert.InDelta(t, 5.0, sqp.MeanRating, 1e-9)
	// 100 × (0.2×0.5 + 0.2×1 + 0.2×1 + 0.2×1 + 0.2×1) = 90: green, just.
	assert.InDelta(t, 90, sqp.Score, 1e-9)
	assert.Equal(t, dispatch.Green, sqp.Colour)

	hs := got["jlp-housing"]
	assert.Equal(t, 2, hs.Signed)
	assert.Equal(t, 1, hs.SignedOnTime)
	assert.Equal(t, 1, hs.Reworked)
	// 100 × (0.2×1 + 0.2×0.5 + 0.2×1 + 0.2×0.5 + 0.2×1) = 80: blue.
	assert.InDelta(t, 80, hs.Score, 1e-9)
	assert.Equal(t, dispatch.Blue, hs.Colour)
	assert.Equal(t, "jlp-urban", ind[0].Key, "ranked best first")

	byGrid, err := f.svc.Indicators(ctx, dispatch.ByGrid, dispatch.OrderQuery{}, dispatch.DefaultScoring)
	require.NoError(t, err)
	require.Len(t, byGrid, 1)
	assert.Equal(t, "500107001002003", byGrid[0].Key)
	assert.Equal(t, 6, byGrid[0].Offered)

	bad := dispatch.DefaultScoring
	bad.Satisfaction = 0.5
	_, err = f.svc.Indicators(ctx, dispatch.ByBody, dispatch.OrderQuery{}, bad)
	assert.ErrorIs(t, err, dispatch.ErrInvalidCommand)
	_, err = f.svc.Indicators(ctx, 9, dispatch.OrderQuery{}, dispatch.DefaultScoring)
	assert.ErrorIs(t, err, dispatch.ErrInvalidCommand)
}

func TestIndicatorsNeedThePermission(t *testing.T) {
	f := newFixture(t)
	_, err := f.svc.Indicators(as(sqpMember), dispatch.ByBody, dispatch.OrderQuery{}, dispatch.DefaultScoring)
	assert.ErrorIs(t, err, access.ErrDenied)
}
