package sensor_test

import (
	"context"
	"errors"
	"testing"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/sensor"
)

func TestRuleAccessAtJurisdictionBoundary(t *testing.T) {
	policy, err := access.NewPolicy(map[string][]access.Grant{
		"pipe-ops": {
			{Action: sensor.ActionManageRules, Resource: sensor.ResourceRule},
			{Action: sensor.ActionRead, Resource: sensor.ResourceRule},
			{Action: sensor.ActionAck, Resource: sensor.ResourceAlarm},
			{Action: sensor.ActionRead, Resource: sensor.ResourceAlarm},
		},
		"viewer": {{Action: sensor.ActionRead, Resource: sensor.ResourceAlarm}},
	})
	if err != nil {
		t.Fatal(err)
	}
	f := newRuleFixture(t, sensor.EngineOptions{Authorizer: policy})
	// Jiulongpo (500107) operators; the city centre sees everything.
	jlp := access.WithActor(context.Background(), access.Actor{ID: "jlp-ops", Kind: access.DistrictStaff, Scope: "500107", Roles: []string{"pipe-ops"}})
	city := access.WithActor(context.Background(), access.Actor{ID: "city-ops", Kind: access.CityStaff, Scope: "500000", Roles: []string{"pipe-ops"}})
	viewer := access.WithActor(context.Background(), access.Actor{ID: "v", Kind: access.DistrictStaff, Scope: "500107", Roles: []string{"viewer"}})
	mine := f.device("jlp-1", sensor.Device{Grid: "500107001002003"})
	theirs := f.device("yz-1", sensor.Device{Grid: "500103001001001"})

	own := rulePressureRule("jlp-high", ruleThreshold(0, ">", 0.8))
	own.Scope.Grid = "500107001" // a street inside the district: allowed
	other := rulePressureRule("yz-high", ruleThreshold(0, ">", 0.8))
	other.Scope.Grid = "500103" // the neighbouring district: denied
	everywhere := rulePressureRule("all-high", ruleThreshold(0, ">", 0.8))

	if err := f.eng.AddRule(jlp, own); err != nil {
		t.Fatalf("own district: %v", err)
	}
	var de *access.DeniedError
	if err := f.eng.AddRule(jlp, other); !errors.Is(err, access.ErrDenied) || !errors.As(err, &de) || de.Decision.Reason != access.OutOfJurisdiction {
		t.Fatalf("other district: %v", err)
	}
	if err := f.eng.AddRule(jlp, everywhere); !errors.Is(err, access.ErrDenied) {
		t.Fatalf("rule without a grid: %v", err)
	}
	if err := f.eng.AddRule(context.Background(), other); !errors.Is(err, access.ErrNoActor) {
		t.Fatalf("no actor: %v", err)
	}
	if err := f.eng.AddRule(viewer, own); !errors.Is(err, access.ErrDenied) {
		t.Fatalf("viewer: %v", err)
	}
	if err := f.eng.AddRule(city, other); err != nil {
		t.Fatalf("city: %v", err)
	}
	if err := f.eng.RemoveRule(jlp, "yz-high"); !errors.Is(err, access.ErrDenied) {
		t.Fatalf("remove another district's rule: %v", err)
	}

	// Observe is not authorized per reading.
	f.read(mine, 0.9)
	f.read(theirs, 0.9)
	all, err := f.eng.Alarms(city, sensor.AlarmFilter{})
	if err != nil || len(all) != 2 {
		t.Fatalf("city sees %d alarms: %v", len(all), err)
	}
	seen, err := f.eng.Alarms(jlp, sensor.AlarmFilter{})
	if err != nil || len(seen) != 1 || seen[0].Device != "jlp-1" {
		t.Fatalf("district sees %+v: %v", seen, err)
	}
	if _, err := f.eng.Alarms(context.Background(), sensor.AlarmFilter{}); !errors.Is(err, access.ErrNoActor) {
		t.Fatalf("alarms without actor: %v", err)
	}
	var ours, yours string
	for _, a := range all {
		if a.Device == "jlp-1" {
			ours = a.ID
		} else {
			yours = a.ID
		}
	}
	if _, err := f.eng.Ack(jlp, yours); !errors.Is(err, access.ErrDenied) {
		t.Fatalf("ack across the boundary: %v", err)
	}
	if _, err := f.eng.Alarm(jlp, yours); !errors.Is(err, access.ErrDenied) {
		t.Fatalf("read across the boundary: %v", err)
	}
	if _, err := f.eng.Ack(viewer, ours); !errors.Is(err, access.ErrDenied) {
		t.Fatalf("viewer ack: %v", err)
	}
	if a, err := f.eng.Ack(jlp, ours); err != nil || a.AckedBy != "jlp-ops" {
		t.Fatalf("ack: %+v %v", a, err)
	}
	if a, _ := f.eng.Alarm(city, yours); a.Acked() {
		t.Fatal("a denied ack changed the alarm")
	}
	rules, err := f.eng.Rules(jlp)
	if err != nil || len(rules) != 1 || rules[0].ID != "jlp-high" {
		t.Fatalf("rules %+v %v", rules, err)
	}
	if err := f.eng.RemoveRule(jlp, "jlp-high"); err != nil {
		t.Fatal(err)
	}
}
