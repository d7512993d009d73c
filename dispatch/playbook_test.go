package dispatch_test

import (
	"context"
	"testing"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/dispatch"
	"github.com/govkit/govkit/region"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// burst is S4's water-main burst: confirm, shut the valve, traffic control
// if a road is affected, protect telecom lines if any, repair, restore the
// road, verify.
func burst(version int) dispatch.Playbook {
	district := func(f string) dispatch.Handler { return dispatch.Handler{Function: f, Tier: region.District} }
	water := dispatch.Handler{Body: "cq-water"}
	road := &dispatch.Condition{Fact: "road", In: []string{"yes"}}
	return dispatch.Playbook{
		ID: "water-main-burst", Version: version, Name: "Water-main burst", Alarms: []string{"pipe-pressure-drop"},
		Steps: []dispatch.PlaybookStep{
			{ID: "confirm", Name: "Confirm the burst on site", Handler: water},
			{ID: "shut-valve", Name: "Shut the upstream valve", Handler: water, After: []string{"confirm"}},
			{ID: "traffic", Name: "Traffic control", Handler: district("traffic-police"), After: []string{"confirm"}, When: road},
			{ID: "telecom", Name: "Protect telecom lines", Handler: dispatch.Handler{Body: "cq-telecom"}, After: []string{"confirm"},
				When: &dispatch.Condition{Fact: "telecom-lines", In: []string{"yes"}}},
			{ID: "repair", Name: "Repair the main", Handler: water, After: []string{"shut-valve"}},
			{ID: "restore-road", Name: "Restore the road surface", Handler: district("city-management"), After: []string{"repair", "traffic"}, When: road},
			{ID: "verify", Name: "Verify and reopen", Handler: district("city-management"), After: []string{"repair", "restore-road", "telecom"}},
		},
	}
}

func burstOrg(t testing.TB) *dispatch.Org {
	o, err := dispatch.NewOrg([]dispatch.Body{
		{ID: "cq-water", Name: "Chongqing Water Group", Function: "water", Jurisdiction: "500000"},
		{ID: "cq-telecom", Name: "Chongqing Telecom", Function: "telecom", Jurisdiction: "500000"},
		{ID: "jlp-traffic", Name: "Jiulongpo Traffic Police", Function: "traffic-police", Jurisdiction: "500107"},
		{ID: "jlp-urban", Name: "Jiulongpo City Management Bureau", Function: "city-management", Jurisdiction: "500107"},
	})
	require.NoError(t, err)
	return o
}

func TestPlaybookRunsStepByStep(t *testing.T) {
	r, err := dispatch.NewRouter(burstOrg(t), nil, nil)
	require.NoError(t, err)
	svc, err := dispatch.NewService(dispatch.Config{Router: r, Authorizer: access.AllowAll(), Playbooks: []dispatch.Playbook{burst(1)}})
	require.NoError(t, err)
	defer svc.Shutdown()
	ctx := access.WithActor(context.Background(), access.Actor{ID: "agent", Kind: access.AutomationSystem, Scope: "500000"})

	c := dispatch.Case{ID: "burst-1", Category: "0501", Path: path("500107001002003")}
	_, orders, err := svc.TriggerAlarm(ctx, c, "pipe-pressure-drop", map[string]string{"road": "yes", "telecom-lines": "no"})
	require.NoError(t, err)
	require.Len(t, orders, 1, "only confirmation waits for nothing")
	assert.Equal(t, "water-main-burst/confirm", orders[0].Playbook)

	finish := func(step string) {
		t.Helper()
		prog, err := svc.Progress(ctx, "burst-1")
		require.NoError(t, err)
		for _, p := range prog {
			if p.Step == step {
				require.Equal(t, "offered", p.State, step)
				for _, call := range []func() (dispatch.WorkOrder, error){
					func() (dispatch.WorkOrder, error) { return svc.SignFor(ctx, p.Order, "") },
					func() (dispatch.WorkOrder, error) { return svc.Start(ctx, p.Order, "") },
					func() (dispatch.WorkOrder, error) { return svc.Complete(ctx, p.Order, "") },
				} {
					_, err := call()
					require.NoError(t, err, step)
				}
				return
			}
		}
		t.Fatalf("no step %s", step)
	}
	states := func() map[string]string {
		prog, err := svc.Progress(ctx, "burst-1")
		require.NoError(t, err)
		m := map[string]string{}
		for _, p := range prog {
			m[p.Step] = p.State
		}
		return m
	}

	finish("confirm")
	assert.Equal(t, map[string]string{"confirm": "done", "shut-valve": "offered", "traffic": "offered", "telecom": "skipped",
		"repair": "waiting", "restore-road": "waiting", "verify": "waiting"}, states())
	finish("shut-valve")
	finish("repair")
	assert.Equal(t, "waiting", states()["restore-road"], "still waiting for traffic control")
	finish("traffic")
	finish("restore-road")
	cf, err := svc.CaseFile(ctx, "burst-1")
	require.NoError(t, err)
	assert.False(t, cf.Disposed)
	finish("verify")
	cf, err = svc.CaseFile(ctx, "burst-1")
	require.NoError(t, err)
	assert.True(t, cf.Disposed)
	assert.Len(t, cf.Orders, 6, "six steps ran, one was skipped")
}

func TestPlaybookVersionsAndTriggers(t *testing.T) {
	r, err := dispatch.NewRouter(burstOrg(t), nil, nil)
	require.NoError(t, err)
	v2 := burst(2)
	v2.Categories = []string{"05*"}
	v2.Steps = v2.Steps[:1] // a trimmed plan
	svc, err := dispatch.NewService(dispatch.Config{Router: r, Authorizer: access.AllowAll(), Playbooks: []dispatch.Playbook{burst(1), v2}})
	require.NoError(t, err)
	defer svc.Shutdown()
	ctx := access.WithActor(context.Background(), access.Actor{ID: "centre", Kind: access.CityStaff, Scope: "500000"})

	// Dispatch of a triggering category runs the newest version.
	cf, orders, err := svc.Dispatch(ctx, dispatch.Case{ID: "burst-2", Category: "0501", Path: path("500107001002003")})
	require.NoError(t, err)
	assert.Equal(t, 2, cf.Playbook.Version)
	require.Len(t, orders, 1)
	_, _, err = svc.StartPlaybook(ctx, dispatch.Case{ID: "x", Category: "0501", Path: path("500107001002003")}, "no-such", nil)
	assert.ErrorIs(t, err, dispatch.ErrInvalidCommand)
	_, _, err = svc.TriggerAlarm(ctx, dispatch.Case{ID: "y", Category: "0501", Path: path("500107001002003")}, "smoke", nil)
	assert.ErrorIs(t, err, dispatch.ErrNoRoute)
	_, err = svc.Progress(ctx, "nothing")
	assert.ErrorIs(t, err, dispatch.ErrNotFound)
}

func TestMalformedPlaybooks(t *testing.T) {
	r, err := dispatch.NewRouter(burstOrg(t), nil, nil)
	require.NoError(t, err)
	water := dispatch.Handler{Body: "cq-water"}
	cases := map[string]dispatch.Playbook{
		"no steps":     {ID: "p", Version: 1},
		"no version":   {ID: "p", Steps: []dispatch.PlaybookStep{{ID: "a", Handler: water}}},
		"cycle":        {ID: "p", Version: 1, Steps: []dispatch.PlaybookStep{{ID: "a", Handler: water, After: []string{"b"}}, {ID: "b", Handler: water, After: []string{"a"}}}},
		"unknown step": {ID: "p", Version: 1, Steps: []dispatch.PlaybookStep{{ID: "a", Handler: water, After: []string{"z"}}}},
		"twice":        {ID: "p", Version: 1, Steps: []dispatch.PlaybookStep{{ID: "a", Handler: water}, {ID: "a", Handler: water}}},
		"bad handler":  {ID: "p", Version: 1, Steps: []dispatch.PlaybookStep{{ID: "a", Handler: dispatch.Handler{Body: "nobody"}}}},
		"empty cond":   {ID: "p", Version: 1, Steps: []dispatch.PlaybookStep{{ID: "a", Handler: water, When: &dispatch.Condition{Fact: "x"}}}},
		"bad category": {ID: "p", Version: 1, Categories: []string{"0*1"}, Steps: []dispatch.PlaybookStep{{ID: "a", Handler: water}}},
	}
	for name, pb := range cases {
		_, err := dispatch.NewService(dispatch.Config{Router: r, Authorizer: access.AllowAll(), Playbooks: []dispatch.Playbook{pb}})
		assert.ErrorIs(t, err, dispatch.ErrInvalidPlaybook, name)
	}
	_, err = dispatch.NewService(dispatch.Config{Router: r, Authorizer: access.AllowAll(), Playbooks: []dispatch.Playbook{burst(1), burst(1)}})
	assert.ErrorIs(t, err, dispatch.ErrInvalidPlaybook, "the same version twice")
	cycle := cases["cycle"]
	_, err = dispatch.NewService(dispatch.Config{Router: r, Authorizer: access.AllowAll(), Playbooks: []dispatch.Playbook{cycle}})
	assert.Contains(t, err.Error(), "a → b → a")
}
