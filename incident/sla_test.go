package incident_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/incident"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOverdueIsDrivenByTheClock(t *testing.T) {
	h := newHarness(t)
	inc := must[incident.Receipt](t)(h.svc.Report(as(zhao), waste("o-1", inStreet1))).Incident
	// Registration is due within 2 working hours: 12:00 the same day.
	h.clk.Advance(time.Hour + 59*time.Minute)
	got := must[incident.Incident](t)(h.svc.Get(as(operator), inc.ID))
	assert.False(t, got.SLA.Overdue)

	h.clk.Advance(2 * time.Minute) // 12:01: nobody calls anything, the timer fires
	got = must[incident.Incident](t)(h.svc.Get(as(operator), inc.ID))
	assert.True(t, got.SLA.Overdue)
	assert.Equal(t, []string{incident.EventReported, incident.EventOverdue}, h.eventNames(t, inc.ID))
	tl := must[[]incident.Entry](t)(h.svc.Timeline(as(operator), inc.ID))
	assert.Equal(t, incident.SystemActor, tl[1].ActorID)

	page, err := h.svc.Find(as(operator), incident.Query{Overdue: true})
	require.NoError(t, err)
	require.Len(t, page.Incidents, 1)

	// Registering now is recorded as late.
	must[incident.Incident](t)(h.svc.Register(as(operator), inc.ID, ""))
	tl = must[[]incident.Entry](t)(h.svc.Timeline(as(operator), inc.ID))
	assert.True(t, tl[2].Late)
	require.NoError(t, incident.VerifyTimeline(tl))
}

func TestDeadlinesFollowTheBusinessCalendar(t *testing.T) {
	h := newHarness(t)
	// Friday 17:30: 2 working hours end Monday 10:30.
	friday := time.Date(2026, 3, 6, 17, 30, 0, 0, time.FixedZone("CST", 8*3600))
	require.NoError(t, h.clk.Set(friday))
	inc := must[incident.Receipt](t)(h.svc.Report(as(zhao), waste("cal-1", inStreet1))).Incident
	want := time.Date(2026, 3, 9, 10, 30, 0, 0, time.FixedZone("CST", 8*3600))
	assert.True(t, want.Equal(inc.SLA.Deadline), "deadline %v", inc.SLA.Deadline)
	h.clk.Advance(48 * time.Hour) // the weekend passes: not overdue
	assert.False(t, must[incident.Incident](t)(h.svc.Get(as(operator), inc.ID)).SLA.Overdue)
}

func TestPauseMovesTheDeadline(t *testing.T) {
	h := newHarness(t)
	inc := must[incident.Receipt](t)(h.svc.Report(as(zhao), waste("p-1", inStreet1))).Incident
	h.clk.Advance(30 * time.Minute) // 10:30
	paused, err := h.svc.PauseSLA(as(operator), inc.ID, "waiting for the reporter's photo")
	require.NoError(t, err)
	assert.False(t, paused.SLA.PausedAt.IsZero())
	_, err = h.svc.PauseSLA(as(operator), inc.ID, "again")
	assert.ErrorIs(t, err, incident.ErrInvalidTransition)

	h.clk.Advance(3 * time.Hour) // 13:30: past the old 12:00 deadline, but paused
	assert.False(t, must[incident.Incident](t)(h.svc.Get(as(operator), inc.ID)).SLA.Overdue)

	resumed, err := h.svc.ResumeSLA(as(operator), inc.ID, "photo received")
	require.NoError(t, err)
	// Paused 10:30–13:30 is 1.5 working hours (lunch is 12–14), so the
	// deadline moves from 12:00 to 15:30.
	want := time.Date(2026, 3, 2, 15, 30, 0, 0, time.FixedZone("CST", 8*3600))
	assert.True(t, want.Equal(resumed.SLA.Deadline), "deadline %v", resumed.SLA.Deadline)
	h.clk.Advance(2*time.Hour + time.Minute) // 15:31
	assert.True(t, must[incident.Incident](t)(h.svc.Get(as(operator), inc.ID)).SLA.Overdue)
}

func TestRestoreReschedulesAfterRestart(t *testing.T) {
	h := newHarness(t)
	inc := must[incident.Receipt](t)(h.svc.Report(as(zhao), waste("r-1", inStreet1))).Incident
	h.svc.Shutdown() // the process stops; the store survives

	again, err := incident.NewService(incident.Config{
		Store: h.store, Catalogue: catalogue(t), Regions: mustCity(t), Authorizer: mustPolicy(t),
		Clock: h.clk, Bus: h.bus,
	})
	require.NoError(t, err)
	t.Cleanup(again.Shutdown)
	require.NoError(t, again.Restore(context.Background()))
	h.clk.Advance(3 * time.Hour)
	assert.True(t, must[incident.Incident](t)(again.Get(as(operator), inc.ID)).SLA.Overdue)
}

// failingBus refuses messages until healed.
type failingBus struct {
	bus.Publisher
	broken bool
}

func (f *failingBus) Publish(ctx context.Context, m bus.Message) error {
	if f.broken {
		return errors.New("broker down")
	}
	return f.Publisher.Publish(ctx, m)
}

func TestEventsWaitInTheOutboxWhileTheBusIsDown(t *testing.T) {
	fb := &failingBus{broken: true}
	h := newHarness(t, func(c *incident.Config) { fb.Publisher = c.Bus; c.Bus = fb })
	inc := must[incident.Receipt](t)(h.svc.Report(as(zhao), waste("ob-1", inStreet1))).Incident
	must[incident.Incident](t)(h.svc.Register(as(operator), inc.ID, ""))
	pending, err := h.store.Pending(context.Background(), 10)
	require.NoError(t, err)
	assert.Len(t, pending, 2, "the state changed; its events are kept, not lost")
	assert.Empty(t, h.eventNames(t, inc.ID))

	fb.broken = false
	require.NoError(t, h.svc.Flush(context.Background()))
	assert.Equal(t, []string{incident.EventReported, incident.EventRegistered}, h.eventNames(t, inc.ID), "in order")
	pending, err = h.store.Pending(context.Background(), 10)
	require.NoError(t, err)
	assert.Empty(t, pending)
}

func TestTimelineTamperingIsDetected(t *testing.T) {
	h := newHarness(t)
	inc := runToVerification(t, h, "tamper-1")
	tl := must[[]incident.Entry](t)(h.svc.Timeline(as(operator), inc.ID))
	require.NoError(t, incident.VerifyTimeline(tl))

	edits := map[string]func([]incident.Entry) []incident.Entry{
		"note edited":      func(e []incident.Entry) []incident.Entry { e[2].Note = "nothing happened"; return e },
		"actor swapped":    func(e []incident.Entry) []incident.Entry { e[3].ActorID = "someone-else"; return e },
		"entry removed":    func(e []incident.Entry) []incident.Entry { return append(e[:1], e[2:]...) },
		"entries swapped":  func(e []incident.Entry) []incident.Entry { e[1], e[2] = e[2], e[1]; return e },
		"time moved":       func(e []incident.Entry) []incident.Entry { e[4].Time = e[4].Time.Add(-time.Hour); return e },
		"late flag hidden": func(e []incident.Entry) []incident.Entry { e[1].Late = !e[1].Late; return e },
	}
	for name, edit := range edits {
		cp := append([]incident.Entry(nil), tl...)
		err := incident.VerifyTimeline(edit(cp))
		assert.ErrorIs(t, err, incident.ErrTampered, name)
		var te *incident.TamperError
		assert.True(t, errors.As(err, &te), name)
	}
}
