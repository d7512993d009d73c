package permit_test

import (
	"testing"
	"time"

	"github.com/govkit/govkit/permit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// SLA clocks run on the business calendar and escalate when late, driven
// by the manual clock: no sleeping.
func TestSLAEscalation(t *testing.T) {
	f := newFixture(t)
	a := f.submitNewborn(t)
	ctx := as(liXing)
	// vaccination (1 day) is done in time; the others are not.
	f.approve(t, cdc, a, "vaccination", map[string]permit.Value{"vaccination-record": permit.Text("VR-1")})
	f.pub.reset()

	f.clk.Advance(47 * time.Hour) // Wednesday 09:00: an hour before the 2-day deadlines
	assert.Empty(t, f.pub.names(t))

	f.clk.Advance(time.Hour) // Wednesday 10:00
	assert.Equal(t, []string{"item-escalated:birth-service", "item-escalated:hukou"}, f.pub.names(t))
	a, err := f.svc.Application(ctx, a.ID)
	require.NoError(t, err)
	hk := itemOf(t, a, "hukou")
	assert.Equal(t, 1, hk.Escalated)
	assert.Equal(t, "public-security", hk.EscalateTo, "first to the department's own leadership")
	evs := f.pub.events(t)
	assert.Equal(t, 1, evs[1].Escalation)
	assert.Equal(t, "public-security", evs[1].EscalatedTo)
	tr, err := f.svc.Track(ctx, a.ID)
	require.NoError(t, err)
	assert.True(t, tr.Items[1].Overdue)
	assert.False(t, tr.Overdue, "the bundle still has time")

	// A send-back stops the clock: no escalation while the applicant holds it.
	_, err = f.svc.SendBack(as(health), permit.SendBackRequest{Application: a.ID, Item: "birth-service", Marks: map[string]string{"birth.hospital": "请填写全称"}})
	require.NoError(t, err)
	f.pub.reset()
	f.clk.Advance(24 * time.Hour) // Thursday 10:00: one working day later
	assert.Equal(t, []string{"item-escalated:hukou"}, f.pub.names(t), "hukou escalates again; birth-service, paused, does not")
	a, err = f.svc.Application(ctx, a.ID)
	require.NoError(t, err)
	hk = itemOf(t, a, "hukou")
	assert.Equal(t, 2, hk.Escalated)
	assert.Equal(t, "gov-service-centre", hk.EscalateTo, "then to the bundle's owner")

	f.pub.reset()
	f.clk.Advance(3 * 24 * time.Hour) // Sunday 10:00: Friday's escalation only, the weekend does not count
	assert.Equal(t, []string{"item-escalated:hukou"}, f.pub.names(t))
	f.clk.Advance(30 * 24 * time.Hour)
	a, err = f.svc.Application(ctx, a.ID)
	require.NoError(t, err)
	assert.Equal(t, 3, itemOf(t, a, "hukou").Escalated, "MaxEscalations bounds the levels")
	assert.Zero(t, itemOf(t, a, "hukou").NextCheck)
	assert.Zero(t, a.Escalations, "the bundle's clock is stopped while it is returned")

	// Resubmitted: the bundle's clock resumes with what was left, and
	// escalates when that runs out.
	f.pub.reset()
	a, err = f.svc.Resubmit(ctx, permit.Resubmission{Application: a.ID, Answers: map[string]permit.Value{"birth.hospital": permit.Text("重庆市妇幼保健院（冉家坝院区）")}})
	require.NoError(t, err)
	require.False(t, a.Deadline.IsZero())
	assert.True(t, a.Deadline.After(f.clk.Now()))
	f.clk.Advance(a.Deadline.Sub(f.clk.Now()))
	names := f.pub.names(t)
	assert.Contains(t, names, "bundle-escalated")
	a, err = f.svc.Application(ctx, a.ID)
	require.NoError(t, err)
	assert.Equal(t, 1, a.Escalations)
	assert.Contains(t, actions(a), "bundle-escalated")
}

// Restore re-arms the timers of open applications in a new process.
func TestRestoreSchedulesChecks(t *testing.T) {
	f := newFixture(t)
	a := f.submitNewborn(t)
	f.svc.Shutdown()
	pub := &capture{}
	svc2, err := permit.NewService(permit.Config{Store: f.store, Authorizer: f.svcAuthorizer(t), Bus: pub, Clock: f.clk,
		Lookups: map[string]permit.Lookup{"hukou": f.hukou}})
	require.NoError(t, err)
	defer svc2.Shutdown()
	require.NoError(t, svc2.Restore(t.Context()))
	f.clk.Advance(48 * time.Hour)
	names := pub.names(t)
	assert.Contains(t, names, "item-escalated:hukou")
	got, err := svc2.Application(as(liXing), a.ID)
	require.NoError(t, err)
	assert.Equal(t, 1, itemOf(t, got, "hukou").Escalated)
}

func TestTrack(t *testing.T) {
	f := newFixture(t)
	ctx := as(liXing)
	draft, err := f.svc.Start(ctx, permit.StartRequest{Template: "newborn", Jurisdiction: jiefangbei})
	require.NoError(t, err)
	tr, err := f.svc.Track(ctx, draft.ID)
	require.NoError(t, err)
	// As if submitted now (Monday 10:00): hukou by Wednesday 10:00, then
	// the card's 3 working days to Monday 9 March 10:00.
	assert.Equal(t, time.Date(2026, 3, 9, 2, 0, 0, 0, time.UTC), tr.ExpectedFinish)

	a := f.submitNewborn(t)
	tr, err = f.svc.Track(ctx, a.ID)
	require.NoError(t, err)
	assert.Equal(t, permit.InReview, tr.Status)
	assert.Equal(t, time.Date(2026, 3, 9, 2, 0, 0, 0, time.UTC), tr.Deadline)
	assert.Equal(t, time.Date(2026, 3, 9, 2, 0, 0, 0, time.UTC), tr.ExpectedFinish)
	byItem := map[string]permit.ItemTracking{}
	for _, it := range tr.Items {
		byItem[it.Item] = it
	}
	assert.Equal(t, "public-security", byItem["hukou"].HeldBy)
	assert.Equal(t, time.Date(2026, 3, 4, 2, 0, 0, 0, time.UTC), byItem["hukou"].Deadline)
	card := byItem["social-security-card"]
	assert.Equal(t, "", card.HeldBy)
	assert.Equal(t, []string{"hukou"}, card.WaitingFor)
	assert.Zero(t, card.Deadline)
	assert.Equal(t, time.Date(2026, 3, 9, 2, 0, 0, 0, time.UTC), card.Expected)
	assert.Equal(t, time.Date(2026, 3, 5, 2, 0, 0, 0, time.UTC), byItem["medical-insurance"].Expected)
	assert.NotEmpty(t, tr.History)
	assert.Equal(t, "12.50", tr.Fees.String(), "the bundle's fees: the card's")
	assert.Equal(t, "12.50", card.Fee.String())
	assert.Nil(t, byItem["hukou"].Fee, "a free item")

	// Police decide early (Monday 15:00): the whole bundle is expected
	// sooner.
	f.clk.Advance(5 * time.Hour)
	f.approve(t, police, a, "hukou", map[string]permit.Value{"child-id-number": idValue(t, "50010320260227002")})
	tr, err = f.svc.Track(ctx, a.ID)
	require.NoError(t, err)
	assert.Equal(t, time.Date(2026, 3, 5, 7, 0, 0, 0, time.UTC), tr.ExpectedFinish, "the card's 3 days from Monday 15:00")

	// A joint review starts when every member can: tracked as such.
	r := f.submitRental(t)
	tr, err = f.svc.Track(as(wangFang), r.ID)
	require.NoError(t, err)
	for _, it := range tr.Items {
		assert.Equal(t, "rental-room", it.Joint)
		assert.Equal(t, it.Department, it.HeldBy)
	}
}
