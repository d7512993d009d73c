package sensor_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/govkit/govkit/region"
	"github.com/govkit/govkit/sensor"
)

const ruleFullJSON = `{
  "id": "main-pressure",
  "name": "Water-main pressure",
  "scope": {"profile": "pipe-pressure", "resource": "pressure", "grid": "500107", "labels": {"network": "potable"}, "asset": "main-7"},
  "raise": [
    {"severity": "critical", "op": "<", "value": 0.15},
    {"severity": "major", "kind": "rate", "op": "<", "value": -0.1, "window": "5m"},
    {"severity": "warning", "kind": "range", "low": 0.2, "high": 0.6, "outside": true}
  ],
  "clear": {"op": ">", "value": 0.3},
  "for": "2m",
  "count": 3,
  "deadband": 0.005,
  "schedule": {"days": ["mon", "tue", "wed", "thu", "fri"], "from": "08:00", "to": "18:00", "zone": "Asia/Shanghai"},
  "correlate": {"by": "asset", "window": "5m", "min_devices": 3}
}`

func TestParseRuleRoundTrip(t *testing.T) {
	r, err := sensor.ParseRule([]byte(ruleFullJSON))
	if err != nil {
		t.Fatal(err)
	}
	want := sensor.Rule{
		ID: "main-pressure", Name: "Water-main pressure",
		Scope: sensor.Scope{Profile: "pipe-pressure", Resource: "pressure", Grid: region.Code("500107"), Labels: map[string]string{"network": "potable"}, Asset: "main-7"},
		Raise: []sensor.Condition{
			{Kind: sensor.Threshold, Severity: sensor.Critical, Op: "<", Value: 0.15},
			{Kind: sensor.Rate, Severity: sensor.Major, Op: "<", Value: -0.1, Window: 5 * time.Minute},
			{Kind: sensor.Range, Severity: sensor.Warning, Low: 0.2, High: 0.6, Outside: true},
		},
		Clear: &sensor.Condition{Kind: sensor.Threshold, Op: ">", Value: 0.3},
		For:   2 * time.Minute, Count: 3, Deadband: 0.005,
		Schedule:  &sensor.Schedule{Days: []time.Weekday{1, 2, 3, 4, 5}, From: "08:00", To: "18:00", Zone: "Asia/Shanghai"},
		Correlate: &sensor.Correlation{By: "asset", Window: 5 * time.Minute, MinDevices: 3},
	}
	if !reflect.DeepEqual(r, want) {
		t.Fatalf("parsed\n%+v\nwant\n%+v", r, want)
	}
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	back, err := sensor.ParseRule(data)
	if err != nil || !reflect.DeepEqual(back, r) {
		t.Fatalf("round trip: %v\n%s", err, data)
	}
	if !strings.Contains(string(data), `"for":"2m0s"`) || !strings.Contains(string(data), `"days":["mon","tue","wed","thu","fri"]`) {
		t.Fatalf("encoding %s", data)
	}

	rules, err := sensor.ParseRules([]byte(`[` + ruleFullJSON + `, {"id": "hb", "scope": {"profile": "p", "resource": "r"}, "raise": [{"kind": "missing", "learn": true}]}]`))
	if err != nil || len(rules) != 2 || rules[1].Raise[0].Kind != sensor.Missing || !rules[1].Raise[0].Learn {
		t.Fatalf("rules %+v %v", rules, err)
	}
}

func TestParseRuleErrors(t *testing.T) {
	base := func(mod string) string {
		return strings.Replace(`{"id": "r", "scope": {"profile": "p", "resource": "v"}, "raise": [{"op": ">", "value": 1}]MOD}`, "MOD", mod, 1)
	}
	for _, tc := range []struct {
		name, json, field string
	}{
		{"syntax", `{"id": `, ""},
		{"not an object", `[]`, ""},
		{"unknown field", base(`, "clearr": {"op": "<", "value": 0}`), "clearr"},
		{"unknown scope field", strings.Replace(base(""), `"resource": "v"`, `"resource": "v", "gird": "500107"`, 1), "scope.gird"},
		{"wrong type", base(`, "count": "three"`), "count"},
		{"bad window", `{"id": "r", "scope": {"profile": "p", "resource": "v"}, "raise": [{"kind": "rate", "op": "<", "value": -1, "window": "soon"}]}`, "raise[0].window"},
		{"bad correlation window", base(`, "correlate": {"by": "asset", "window": "5"}`), "correlate.window"},
		{"unknown condition field", `{"id": "r", "scope": {"profile": "p", "resource": "v"}, "raise": [{"op": ">", "vale": 1}]}`, "raise[0].vale"},
		{"bad id", strings.Replace(base(""), `"id": "r"`, `"id": "a b"`, 1), "id"},
		{"no profile", strings.Replace(base(""), `"profile": "p"`, `"profile": ""`, 1), "scope.profile"},
		{"bad grid", strings.Replace(base(""), `"resource": "v"`, `"resource": "v", "grid": "12"`, 1), "scope.grid"},
		{"no raise", `{"id": "r", "scope": {"profile": "p", "resource": "v"}, "raise": []}`, "raise"},
		{"bad op", strings.Replace(base(""), `">"`, `"=>"`, 1), "raise[0].op"},
		{"bad kind", strings.Replace(base(""), `"op"`, `"kind": "spike", "op"`, 1), "raise[0].kind"},
		{"bad severity", strings.Replace(base(""), `"op"`, `"severity": "dire", "op"`, 1), "raise[0].severity"},
		{"same severity twice", `{"id": "r", "scope": {"profile": "p", "resource": "v"}, "raise": [{"op": ">", "value": 1}, {"op": ">", "value": 2}]}`, "raise[1].severity"},
		{"range without bounds in order", `{"id": "r", "scope": {"profile": "p", "resource": "v"}, "raise": [{"kind": "range", "low": 2, "high": 1}]}`, "raise[0].low"},
		{"range with op", `{"id": "r", "scope": {"profile": "p", "resource": "v"}, "raise": [{"kind": "range", "op": ">", "low": 0, "high": 1}]}`, "raise[0]"},
		{"rate without window", `{"id": "r", "scope": {"profile": "p", "resource": "v"}, "raise": [{"kind": "rate", "op": "<", "value": -1}]}`, "raise[0].window"},
		{"rates with two windows", `{"id": "r", "scope": {"profile": "p", "resource": "v"}, "raise": [{"kind": "rate", "op": "<", "value": -1, "window": "1m"}], "clear": {"kind": "rate", "op": ">", "value": 0, "window": "2m"}}`, "clear.window"},
		{"window on a threshold", strings.Replace(base(""), `"value": 1`, `"value": 1, "window": "1m"`, 1), "raise[0].window"},
		{"bad duration", base(`, "for": "ten minutes"`), "for"},
		{"negative duration", base(`, "for": "-1m"`), "for"},
		{"negative count", base(`, "count": -1`), "count"},
		{"negative deadband", base(`, "deadband": -1`), "deadband"},
		{"missing with others", `{"id": "r", "scope": {"profile": "p", "resource": "v"}, "raise": [{"kind": "missing"}, {"severity": "minor", "op": ">", "value": 1}]}`, "raise"},
		{"missing with for", `{"id": "r", "scope": {"profile": "p", "resource": "v"}, "raise": [{"kind": "missing"}], "for": "1m"}`, "raise[0]"},
		{"missing with clear", `{"id": "r", "scope": {"profile": "p", "resource": "v"}, "raise": [{"kind": "missing"}], "clear": {"op": "<", "value": 1}}`, "clear"},
		{"missing multiple below 1", `{"id": "r", "scope": {"profile": "p", "resource": "v"}, "raise": [{"kind": "missing", "multiple": 0.5}]}`, "raise[0].multiple"},
		{"clear missing", base(`, "clear": {"kind": "missing"}`), "clear.kind"},
		{"clear with severity", base(`, "clear": {"severity": "minor", "op": "<", "value": 0}`), "clear.severity"},
		{"bad day", base(`, "schedule": {"days": ["someday"]}`), "schedule.days[0]"},
		{"bad time", base(`, "schedule": {"from": "8am", "to": "18:00"}`), "schedule"},
		{"half a schedule", base(`, "schedule": {"from": "08:00"}`), "schedule"},
		{"bad zone", base(`, "schedule": {"zone": "Mars/Olympus"}`), "schedule"},
		{"correlate by grid", base(`, "correlate": {"by": "grid", "window": "5m"}`), "correlate.by"},
		{"correlate without window", base(`, "correlate": {"by": "asset"}`), "correlate.window"},
		{"correlate one device", base(`, "correlate": {"by": "asset", "window": "5m", "min_devices": 1}`), "correlate.min_devices"},
		{"trailing data", base("") + `{}`, ""},
	} {
		_, err := sensor.ParseRule([]byte(tc.json))
		var re *sensor.RuleError
		if !errors.Is(err, sensor.ErrInvalidRule) || !errors.As(err, &re) {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if re.Field != tc.field {
			t.Errorf("%s: field %q, want %q (%v)", tc.name, re.Field, tc.field, err)
		}
	}
	_, err := sensor.ParseRules([]byte(`[` + base("") + `, ` + base("") + `]`))
	if !errors.Is(err, sensor.ErrDuplicate) || !strings.Contains(err.Error(), "[1].id") {
		t.Errorf("duplicate ids: %v", err)
	}
	_, err = sensor.ParseRules([]byte(`[` + base("") + `, ` + strings.Replace(base(""), `">"`, `"?"`, 1) + `]`))
	var re *sensor.RuleError
	if !errors.As(err, &re) || re.Field != "[1].raise[0].op" {
		t.Errorf("second rule bad: %v", err)
	}
}

func TestAddRuleRegistryErrors(t *testing.T) {
	f := newRuleFixture(t, sensor.EngineOptions{})
	r := rulePressureRule("r", ruleThreshold(0, ">", 1))
	r.Scope.Profile = "nope"
	err := f.eng.AddRule(f.ctx, r)
	var re *sensor.RuleError
	if !errors.Is(err, sensor.ErrUnknownProfile) || !errors.Is(err, sensor.ErrInvalidRule) || !errors.As(err, &re) || re.Field != "scope.profile" {
		t.Fatalf("unknown profile: %v", err)
	}
	r = rulePressureRule("r", ruleThreshold(0, ">", 1))
	r.Scope.Resource = "flow"
	if err := f.eng.AddRule(f.ctx, r); !errors.As(err, &re) || re.Field != "scope.resource" {
		t.Fatalf("unknown resource: %v", err)
	}
	if err := f.reg.AddProfile(sensor.Profile{Name: "no-interval", Resources: []sensor.Resource{{Name: "v"}}}); err != nil {
		t.Fatal(err)
	}
	hb := sensor.Rule{ID: "hb", Scope: sensor.Scope{Profile: "no-interval", Resource: "v"}, Raise: []sensor.Condition{{Kind: sensor.Missing}}}
	if err := f.eng.AddRule(f.ctx, hb); !errors.As(err, &re) || re.Field != "raise[0].after" {
		t.Fatalf("heartbeat without an interval: %v", err)
	}
	hb.Raise[0].After = time.Minute
	if err := f.eng.AddRule(f.ctx, hb); err != nil {
		t.Fatal(err)
	}
	if st := f.eng.Stats(); st.Rules != 1 {
		t.Fatalf("rules %d", st.Rules)
	}
}

// FuzzParseRule: rules come from files and APIs; whatever the bytes,
// ParseRule returns a valid rule or a *RuleError, and a rule it accepts
// survives a round trip.
func FuzzParseRule(f *testing.F) {
	f.Add([]byte(ruleFullJSON))
	f.Add([]byte(`{"id": "hb", "scope": {"profile": "p", "resource": "r"}, "raise": [{"kind": "missing", "learn": true}]}`))
	f.Add([]byte(`{"id": "x", "raise": [{"kind": "range", "low": 1, "high": 0}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := sensor.ParseRule(data)
		if err != nil {
			var re *sensor.RuleError
			if !errors.As(err, &re) || !errors.Is(err, sensor.ErrInvalidRule) {
				t.Fatalf("%T %v", err, err)
			}
			return
		}
		out, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		back, err := sensor.ParseRule(out)
		if err != nil {
			t.Fatalf("round trip of %s: %v", out, err)
		}
		if again, _ := json.Marshal(back); string(again) != string(out) {
			t.Fatalf("round trip changed %s into %s", out, again)
		}
	})
}
