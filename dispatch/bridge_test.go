package dispatch_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/dispatch"
	"github.com/govkit/govkit/region"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// incidentEvent builds a message shaped as package incident publishes it.
func incidentEvent(t *testing.T, event, id, category string, p []region.Code) bus.Message {
	data, err := json.Marshal(map[string]any{"event": event, "id": id, "category": category, "path": p, "version": 2})
	require.NoError(t, err)
	m := bus.NewMessage("gov.500000.500107.500107001.incident."+event, data)
	m.Key = id
	m.Headers = map[string]string{"govkit-kind": "incident", "govkit-event": event}
	return m
}

func TestFollowIncidents(t *testing.T) {
	f := newFixture(t, func(c *dispatch.Config) { c.Authorizer = access.AllowAll() })
	system := access.WithActor(context.Background(), access.Actor{ID: "dispatcher", Kind: access.AutomationSystem, Scope: "500000"})
	sub, err := f.svc.FollowIncidents(system, f.bus, "dispatch")
	require.NoError(t, err)
	defer sub.Close()

	ctx := context.Background()
	require.NoError(t, f.bus.Publish(ctx, incidentEvent(t, "reported", "inc-9", "0203", path("500107001002003"))))
	require.NoError(t, f.bus.Publish(ctx, incidentEvent(t, "registered", "inc-9", "0203", path("500107001002003"))))
	require.NoError(t, f.bus.Publish(ctx, incidentEvent(t, "registered", "inc-9", "0203", path("500107001002003"))))  // redelivered
	require.NoError(t, f.bus.Publish(ctx, incidentEvent(t, "registered", "inc-10", "0203", path("510107001001001")))) // Chengdu: no rule
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	require.Eventually(t, func() bool { return f.bus.Drain(dctx) == nil }, 5*time.Second, 10*time.Millisecond)

	cf, err := f.svc.CaseFile(system, "inc-9")
	require.NoError(t, err)
	assert.Len(t, cf.Orders, 3, "dispatched once")
	assert.Equal(t, []string{"no-route"}, f.eventNames(t, "inc-10"))
}

func TestCaseFromIncident(t *testing.T) {
	c, ok, err := dispatch.CaseFromIncident(incidentEvent(t, "registered", "inc-1", "0203", path("500107001002003")))
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, "inc-1", c.ID)
	_, ok, err = dispatch.CaseFromIncident(incidentEvent(t, "closed", "inc-1", "0203", path("500107001002003")))
	assert.NoError(t, err)
	assert.False(t, ok)
	m := incidentEvent(t, "registered", "inc-1", "0203", path("500107001002003"))
	m.Data = []byte("{")
	_, _, err = dispatch.CaseFromIncident(m)
	assert.ErrorIs(t, err, dispatch.ErrInvalidCase)
	m.Data = []byte(`{"event":"registered","id":"x"}`)
	_, _, err = dispatch.CaseFromIncident(m)
	assert.ErrorIs(t, err, dispatch.ErrInvalidCase)
	m.Headers["govkit-kind"] = "sensor"
	_, ok, err = dispatch.CaseFromIncident(m)
	assert.NoError(t, err)
	assert.False(t, ok)

	// The asset comes along, for asset rules.
	m = incidentEvent(t, "registered", "inc-2", "0203", path("500107001002003"))
	m.Data = []byte(`{"event":"registered","id":"inc-2","category":"0203","path":["500000","500107","500107001"],"asset":"main-7"}`)
	c, ok, err = dispatch.CaseFromIncident(m)
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, "main-7", c.Asset)
}

// A service without a bus of its own that follows incidents on another
// leaves nothing in its outbox for a case it cannot route: nobody would
// ever publish it.
func TestNoRouteWithoutABus(t *testing.T) {
	f := newFixture(t, func(c *dispatch.Config) { c.Authorizer, c.Bus = access.AllowAll(), nil })
	system := access.WithActor(context.Background(), access.Actor{ID: "dispatcher", Kind: access.AutomationSystem, Scope: "500000"})
	sub, err := f.svc.FollowIncidents(system, f.bus, "dispatch")
	require.NoError(t, err)
	defer sub.Close()
	ctx := context.Background()
	require.NoError(t, f.bus.Publish(ctx, incidentEvent(t, "registered", "inc-11", "0203", path("510107001001001")))) // Chengdu: no rule
	require.NoError(t, f.bus.Publish(ctx, incidentEvent(t, "registered", "inc-12", "0203", path("500107001002003"))))
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	require.NoError(t, f.bus.Drain(dctx))
	cf, err := f.svc.CaseFile(system, "inc-12")
	require.NoError(t, err)
	assert.Len(t, cf.Orders, 3, "the routable case is dispatched")
	pending, err := f.svc.Store().Pending(ctx, 10)
	require.NoError(t, err)
	assert.Empty(t, pending)
}
