package incident_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/incident"
	"github.com/stretchr/testify/require"
)

// bridge is the system that carries dispatch's progress back: it may
// dispatch (operator) and handle.
var bridge = access.Actor{ID: "case-bridge", Kind: access.AutomationSystem, Scope: "500000", Roles: []string{"operator", "handler"}}

// dispatchBus returns a function publishing a dispatch event as package
// dispatch does, on a bus on which the harness's service follows
// dispatch, and one that waits until the bus has delivered everything.
func dispatchBus(t *testing.T, h *harness) (publish func(event, caseID string), drain func()) {
	t.Helper()
	b, err := bus.NewMemory(bus.MemoryOptions{Backoff: time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	_, err = h.svc.FollowDispatch(as(bridge), b, "incident-follows-dispatch")
	require.NoError(t, err)
	drain = func() {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, b.Drain(ctx))
	}
	return func(event, caseID string) {
		t.Helper()
		data, err := json.Marshal(map[string]any{
			"event": event, "order": uuid.Must(uuid.NewV7()), "case": caseID, "body": "sqp-enforce", "branch": 0,
			"mandatory": true, "actor": "h-chen", "category": "muck-truck-overload",
			"path": []string{"500000", "500001", "500001001", "500001001002", "500001001002002"}, "time": monday10,
		})
		require.NoError(t, err)
		require.NoError(t, b.Publish(context.Background(), bus.Message{
			ID: uuid.Must(uuid.NewV7()).String(), Subject: "gov.500000.500001.500001001.dispatch." + event, Key: caseID,
			Headers: map[string]string{"govkit-kind": "dispatch", "govkit-event": event}, Data: data,
		}))
	}, drain
}

// waitStatus waits for the incident to reach want.
func waitStatus(t *testing.T, h *harness, id uuid.UUID, want incident.Status) incident.Incident {
	t.Helper()
	var inc incident.Incident
	require.Eventually(t, func() bool {
		var err error
		inc, err = h.svc.Get(as(bridge), id)
		require.NoError(t, err)
		return inc.Status == want
	}, 5*time.Second, time.Millisecond, "status %v, want %v", inc.Status, want)
	return inc
}

func registeredCase(t *testing.T, h *harness) uuid.UUID {
	t.Helper()
	rec, err := h.svc.Report(as(camera), incident.Report{Channel: incident.VideoAI, Category: "muck-truck-overload", Point: inStreet1, Confidence: 0.97})
	require.NoError(t, err)
	require.Equal(t, incident.Registered, rec.Incident.Status)
	return rec.Incident.ID
}

func TestFollowDispatchCarriesProgressBack(t *testing.T) {
	h := newHarness(t)
	publish, drain := dispatchBus(t, h)
	id := registeredCase(t, h)

	publish("offered", id.String())
	waitStatus(t, h, id, incident.Dispatched)
	publish("offered", id.String()) // a co-handler's order, or a redelivery
	publish("signed-for", id.String())
	publish("started", id.String())
	waitStatus(t, h, id, incident.InProgress)
	publish("case-disposed", id.String())
	inc := waitStatus(t, h, id, incident.Disposed)
	require.Equal(t, int64(4), inc.Version, "one change per step: the second offer changed nothing")

	tl, err := h.svc.Timeline(as(bridge), id)
	require.NoError(t, err)
	var actions []string
	for _, e := range tl {
		actions = append(actions, e.Action)
	}
	require.Equal(t, []string{"report-and-register", "dispatch", "start", "dispose"}, actions)
	require.Equal(t, "started by sqp-enforce (h-chen)", tl[2].Note)
	require.NoError(t, incident.VerifyTimeline(tl))

	publish("started", id.String()) // late: the case is past it
	publish("case-disposed", id.String())
	drain()
	again, err := h.svc.Get(as(bridge), id)
	require.NoError(t, err)
	require.Equal(t, inc.Version, again.Version, "late and repeated events change nothing")
}

// Events that arrive out of order take the case through the states between.
func TestFollowDispatchCatchesUp(t *testing.T) {
	h := newHarness(t)
	publish, _ := dispatchBus(t, h)
	id := registeredCase(t, h)
	publish("case-disposed", id.String())
	inc := waitStatus(t, h, id, incident.Disposed)
	require.Equal(t, int64(4), inc.Version)
}

// Events of other cases and other kinds are acknowledged and ignored.
func TestFollowDispatchIgnoresOthers(t *testing.T) {
	h := newHarness(t)
	publish, drain := dispatchBus(t, h)
	id := registeredCase(t, h)
	publish("started", uuid.Must(uuid.NewV7()).String()) // no such incident
	publish("started", "PERMIT-2026-0001")               // not an incident's case
	publish("no-route", id.String())                     // not progress
	publish("offered", id.String())
	waitStatus(t, h, id, incident.Dispatched)
	drain() // every event handled, none of the others changed the case
	inc, err := h.svc.Get(as(bridge), id)
	require.NoError(t, err)
	require.Equal(t, int64(2), inc.Version)
	_, err = h.svc.FollowDispatch(as(bridge), nil, "g")
	require.Error(t, err)
}

// An event names the case's asset, so that dispatch can route by it from
// the bus alone; a case without one leaves it out.
func TestEventsCarryTheAsset(t *testing.T) {
	h := newHarness(t)
	rec, err := h.svc.Report(as(camera), incident.Report{Channel: incident.SensorAlarm, Category: "smoke-alarm", Confidence: 0.99,
		Attributes: map[string][]string{incident.AssetAttribute: {"bldg-7-floor-3"}}, Point: inStreet1})
	require.NoError(t, err)
	require.Equal(t, "bldg-7-floor-3", h.lastEvent(t, incident.EventRegistered, rec.Incident.ID).Asset)
	id := registeredCase(t, h)
	require.Empty(t, h.lastEvent(t, incident.EventRegistered, id).Asset)
}
