package dispatch_test

import (
	"testing"
	"time"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/dispatch"
	"github.com/govkit/govkit/region"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// S16 with the access policy on: Banan's centre dispatches a case of its
// own to Jiulongpo's bodies. Shiqiaopu's street team works its order with
// the scope of its own street; its reminders and escalations climb its own
// district, not Banan.
func TestCrossDistrictOrdersAreTheBodysToWork(t *testing.T) {
	p, err := access.ParsePolicy([]byte(dispatchPolicy))
	require.NoError(t, err)
	f := newFixture(t, crossDistrict(t, chongqing(t)), func(c *dispatch.Config) {
		c.Authorizer = p
		c.Roster = dispatch.StaticRoster{
			"500107001": {"duty-sqp"}, "500107": {"duty-jlp"},
			"500113001": {"duty-lzw"}, "500113": {"duty-bn"}, "500000": {"duty-cq"},
		}
	})
	bnCentre := access.Actor{ID: "centre-bn", Kind: access.DistrictStaff, Scope: "500113", Roles: []string{"centre"}}
	_, orders, err := f.svc.Dispatch(as(bnCentre), permitCase("inc-s16"))
	require.NoError(t, err)
	m := byBody(orders)
	team, lead := m["sqp-enforce"].ID, m["jlp-urban"].ID

	// Not signed for within the hour: the reminder goes to Shiqiaopu's
	// centre, the team's own street, not to Banan's street of the case.
	f.clk.Advance(time.Hour)
	assert.Equal(t, 1, countFor(f.notes.For("duty-sqp"), team, dispatch.NotifyReminder))
	assert.Zero(t, countFor(f.notes.For("duty-lzw"), team, dispatch.NotifyReminder))

	// The team signs for, starts and completes with its street's scope.
	must(t)(f.svc.SignFor(as(sqpMember), team, ""))
	must(t)(f.svc.Start(as(sqpMember), team, "on site"))
	// Its own orders are listed by body, wherever their cases lie.
	page, err := f.svc.Orders(as(sqpMember), dispatch.OrderQuery{Body: "sqp-enforce"})
	require.NoError(t, err)
	require.Len(t, page.Orders, 1)
	assert.Equal(t, team, page.Orders[0].ID)

	// Of the same department but serving another street, or of the right
	// street but another department: refused.
	otherStreet := access.Actor{ID: "sqp-lent", Kind: access.DepartmentHandler, Department: "sqp-enforce", Scope: "500107002", Roles: []string{"team"}}
	_, err = f.svc.SignFor(as(otherStreet), lead, "")
	assert.ErrorIs(t, err, access.ErrDenied)
	_, err = f.svc.Order(as(otherStreet), team)
	assert.ErrorIs(t, err, access.ErrDenied, "an order lies in its case's grid and its body's unit, not elsewhere")
	_, err = f.svc.SignFor(as(yjpMember), lead, "")
	assert.ErrorIs(t, err, access.ErrDenied)

	// Not done by 16:00: the team's order escalates to its own district's
	// centre, not to Banan's; the team still completes it.
	require.NoError(t, f.clk.Set(monday10.Add(6*time.Hour)))
	o := must(t)(f.svc.Order(as(bnCentre), team))
	assert.Equal(t, region.Code("500107"), o.EscalatedTo)
	assert.Equal(t, 1, countFor(f.notes.For("duty-jlp"), team, dispatch.NotifyEscalation))
	assert.Zero(t, countFor(f.notes.For("duty-bn"), team, dispatch.NotifyEscalation))
	must(t)(f.svc.Complete(as(sqpMember), team, "truck unloaded"))
}
