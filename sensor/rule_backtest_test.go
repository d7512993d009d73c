package sensor_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/sensor"
)

func TestBacktest(t *testing.T) {
	f := newRuleFixture(t, sensor.EngineOptions{})
	a := f.device("a", sensor.Device{})
	b := f.device("b", sensor.Device{})
	// A day of history, a reading a minute: a has two excursions, b one
	// short blip that the rule's "for 5m" ignores.
	var hist []sensor.Reading
	day := ruleT0.Add(-24 * time.Hour)
	for m := range 24 * 60 {
		at := day.Add(time.Duration(m) * time.Minute)
		va, vb := 0.5, 0.5
		if m >= 100 && m < 130 || m >= 600 && m < 700 {
			va = 0.95
		}
		if m >= 300 && m < 303 {
			vb = 0.95
		}
		hist = append(hist, sensor.Reading{Device: a, Value: va, Observed: at}, sensor.Reading{Device: b, Value: vb, Observed: at})
	}
	// A stale value replayed out of order is late.
	hist = append(hist, sensor.Reading{Device: a, Value: 2, Observed: day})
	r := rulePressureRule("high", ruleThreshold(0, ">", 0.8))
	r.Clear = &sensor.Condition{Op: "<", Value: 0.6}
	r.For = 5 * time.Minute
	rep, err := f.eng.Backtest(f.ctx, r, slices.Values(hist), sensor.BacktestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rule != "high" || rep.Readings != len(hist) || rep.Late != 1 || rep.Raised != 2 || !rep.From.Equal(day) ||
		!rep.To.Equal(day.Add(24*time.Hour-time.Minute)) {
		t.Fatalf("report %+v", rep)
	}
	var got []string
	for _, al := range rep.Alarms {
		got = append(got, al.Device+" "+al.Status.String()+" "+al.Raised.Sub(day).String()+"-"+al.Cleared.Sub(day).String())
	}
	want := "a cleared 1h45m0s-2h10m0s,a cleared 10h5m0s-11h40m0s"
	if strings.Join(got, ",") != want {
		t.Fatalf("alarms %v, want %s", got, want)
	}
	var evs []string
	for _, ev := range rep.Events {
		evs = append(evs, ev.Event)
	}
	if strings.Join(evs, ",") != "pending,raised,cleared,pending,cancelled,pending,raised,cleared" {
		t.Fatalf("events %v", evs)
	}
	// Nothing live changed and nothing was published.
	if st := f.eng.Stats(); st.Rules != 0 || st.Evaluated != 0 || st.Raised != 0 {
		t.Fatalf("live stats %+v", st)
	}
	if n := len(f.pub.take(t)); n != 0 {
		t.Fatalf("%d published", n)
	}
	if a := f.alarms(sensor.AlarmFilter{}); len(a) != 0 {
		t.Fatalf("live alarms %+v", a)
	}
}

func TestBacktestTimersAndUntil(t *testing.T) {
	f := newRuleFixture(t, sensor.EngineOptions{})
	a := f.device("a", sensor.Device{})
	hist := []sensor.Reading{
		{Device: a, Value: 0.4, Observed: ruleT0},
		{Device: a, Value: 0.4, Observed: ruleT0.Add(time.Minute)},
	}
	rep, err := f.eng.Backtest(f.ctx, missingRule("offline", sensor.Condition{}), slices.Values(hist),
		sensor.BacktestOptions{Until: ruleT0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Raised != 1 || len(rep.Alarms) != 1 || !rep.Alarms[0].Raised.Equal(ruleT0.Add(4*time.Minute)) || !rep.To.Equal(ruleT0.Add(time.Hour)) {
		t.Fatalf("report %+v", rep)
	}
	// Empty history, nothing to report.
	rep, err = f.eng.Backtest(f.ctx, missingRule("offline", sensor.Condition{}), slices.Values([]sensor.Reading(nil)), sensor.BacktestOptions{})
	if err != nil || rep.Readings != 0 || len(rep.Alarms) != 0 {
		t.Fatalf("empty: %+v %v", rep, err)
	}
}

func TestBacktestValidatesAndAuthorizes(t *testing.T) {
	policy, err := access.NewPolicy(map[string][]access.Grant{"analyst": {{Action: sensor.ActionBacktest, Resource: sensor.ResourceRule}}})
	if err != nil {
		t.Fatal(err)
	}
	f := newRuleFixture(t, sensor.EngineOptions{Authorizer: policy})
	ctx := access.WithActor(context.Background(), access.Actor{ID: "an-1", Kind: access.DistrictStaff, Scope: "500107", Roles: []string{"analyst"}})
	r := rulePressureRule("high", ruleThreshold(0, ">", 0.8))
	r.Scope.Grid = "500107"
	if _, err := f.eng.Backtest(ctx, r, slices.Values([]sensor.Reading(nil)), sensor.BacktestOptions{}); err != nil {
		t.Fatal(err)
	}
	r.Scope.Grid = "500103"
	if _, err := f.eng.Backtest(ctx, r, slices.Values([]sensor.Reading(nil)), sensor.BacktestOptions{}); !errors.Is(err, access.ErrDenied) {
		t.Fatalf("other district: %v", err)
	}
	r.Scope.Profile = "nope"
	if _, err := f.eng.Backtest(ctx, r, slices.Values([]sensor.Reading(nil)), sensor.BacktestOptions{}); !errors.Is(err, sensor.ErrUnknownProfile) {
		t.Fatalf("unknown profile: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	r.Scope.Profile, r.Scope.Grid = "pipe-pressure", "500107"
	h := f.device("p", sensor.Device{})
	if _, err := f.eng.Backtest(cctx, r, slices.Values([]sensor.Reading{{Device: h, Observed: ruleT0}}), sensor.BacktestOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}
