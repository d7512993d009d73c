package sensor_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/sensor"
)

// Alarms gives the oldest alarms the actor may read, up to Limit, skipping
// those of other jurisdictions rather than counting them.
func TestAlarmsLimitCountsWhatTheActorMayRead(t *testing.T) {
	policy, err := access.NewPolicy(map[string][]access.Grant{
		"pipe-ops": {{Action: sensor.ActionManageRules, Resource: sensor.ResourceRule}, {Action: sensor.ActionRead, Resource: sensor.ResourceAlarm}},
	})
	if err != nil {
		t.Fatal(err)
	}
	f := newRuleFixture(t, sensor.EngineOptions{Authorizer: policy})
	jlp := access.WithActor(context.Background(), access.Actor{ID: "jlp-ops", Kind: access.DistrictStaff, Scope: "500107", Roles: []string{"pipe-ops"}})
	city := access.WithActor(context.Background(), access.Actor{ID: "city-ops", Kind: access.CityStaff, Scope: "500000", Roles: []string{"pipe-ops"}})
	own := rulePressureRule("jlp-high", ruleThreshold(0, ">", 0.8))
	own.Scope.Grid = "500107"
	theirs := rulePressureRule("yz-high", ruleThreshold(0, ">", 0.8))
	theirs.Scope.Grid = "500103"
	for _, r := range []sensor.Rule{own, theirs} {
		if err := f.eng.AddRule(city, r); err != nil {
			t.Fatal(err)
		}
	}
	// Alarms raised in turn: yz-1, jlp-1, yz-2, jlp-2, yz-3, jlp-3.
	for _, n := range []string{"1", "2", "3"} {
		f.step(time.Second, f.device("yz-"+n, sensor.Device{Grid: "500103001001001"}), 0.9)
		f.step(time.Second, f.device("jlp-"+n, sensor.Device{Grid: "500107001002003"}), 0.9)
	}
	devices := func(as []sensor.Alarm) []string {
		var out []string
		for _, a := range as {
			out = append(out, a.Device)
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		ctx   context.Context
		limit int
		want  []string
	}{
		{"district, limit 2", jlp, 2, []string{"jlp-1", "jlp-2"}},
		{"district, no limit", jlp, 0, []string{"jlp-1", "jlp-2", "jlp-3"}},
		{"city, limit 3", city, 3, []string{"yz-1", "jlp-1", "yz-2"}},
		{"city, limit above the count", city, 10, []string{"yz-1", "jlp-1", "yz-2", "jlp-2", "yz-3", "jlp-3"}},
	} {
		got, err := f.eng.Alarms(tc.ctx, sensor.AlarmFilter{Limit: tc.limit})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !slices.Equal(devices(got), tc.want) {
			t.Fatalf("%s: %v, want %v", tc.name, devices(got), tc.want)
		}
	}
}
