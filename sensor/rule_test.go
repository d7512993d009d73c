package sensor_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/clock"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/sensor"
)

// t0 is a Thursday, 17:00 in Chongqing.
var ruleT0 = time.Date(2026, 10, 8, 9, 0, 0, 0, time.UTC)

// rulePub records published messages.
type rulePub struct {
	mu   sync.Mutex
	msgs []bus.Message
	fail bool
	seen map[string]bool // message IDs taken, for an idempotent consumer
	dups int             // messages taken again under an ID already seen
}

func (p *rulePub) Publish(_ context.Context, m bus.Message) error {
	if err := m.Validate(); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail {
		return bus.ErrOverloaded
	}
	p.msgs = append(p.msgs, m)
	return nil
}

// take returns the events published since the last call, as a consumer
// sees them: deduplicated by message ID, as the bus contract asks.
func (p *rulePub) take(t *testing.T) []sensor.AlarmEvent {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.seen == nil {
		p.seen = map[string]bool{}
	}
	var out []sensor.AlarmEvent
	for _, m := range p.msgs {
		if p.seen[m.ID] {
			p.dups++
			continue
		}
		p.seen[m.ID] = true
		ev, err := sensor.DecodeAlarmEvent(m)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(m.Subject, ".sensor.alarm."+ev.Event) || m.Key != ev.Alarm.ID {
			t.Fatalf("subject %q / key %q do not match event %+v", m.Subject, m.Key, ev)
		}
		out = append(out, ev)
	}
	p.msgs = nil
	return out
}

func (p *rulePub) subjects() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var s []string
	for _, m := range p.msgs {
		s = append(s, m.Subject)
	}
	return s
}

type ruleFixture struct {
	t   *testing.T
	reg *sensor.Registry
	clk *clock.Manual
	pub *rulePub
	eng *sensor.Engine
	ctx context.Context
}

var rulePipeProfile = sensor.Profile{Name: "pipe-pressure", Resources: []sensor.Resource{
	{Name: "pressure", Unit: "MPa", Min: 0, Max: 2, Interval: time.Minute},
}}

func newRuleFixture(t *testing.T, opts sensor.EngineOptions) *ruleFixture {
	t.Helper()
	f := &ruleFixture{t: t, reg: sensor.NewRegistry(), clk: clock.NewManual(ruleT0), pub: &rulePub{}, ctx: context.Background()}
	if err := f.reg.AddProfile(rulePipeProfile); err != nil {
		t.Fatal(err)
	}
	if opts.Authorizer == nil {
		opts.Authorizer = access.AllowAll()
	}
	var err error
	f.eng, err = sensor.NewEngine(f.reg, f.clk, f.pub, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.eng.Close)
	return f
}

func (f *ruleFixture) device(id string, d sensor.Device) sensor.Handle {
	f.t.Helper()
	d.ID = id
	if d.Profile == "" {
		d.Profile = "pipe-pressure"
	}
	if d.Grid == "" {
		d.Grid = "500107001002003"
	}
	if d.Location == (geo.Point{}) {
		d.Location = geo.Point{Lat: 29.5, Lon: 106.5}
	}
	h, err := f.reg.Register(d)
	if err != nil {
		f.t.Fatal(err)
	}
	return h
}

func (f *ruleFixture) add(r sensor.Rule) {
	f.t.Helper()
	if err := f.eng.AddRule(f.ctx, r); err != nil {
		f.t.Fatal(err)
	}
}

// read observes one reading at the clock's time.
func (f *ruleFixture) read(h sensor.Handle, v float64) {
	f.eng.Observe([]sensor.Reading{{Device: h, Value: v, Observed: f.clk.Now()}})
}

// step advances the clock by d and then observes v.
func (f *ruleFixture) step(d time.Duration, h sensor.Handle, v float64) {
	f.clk.Advance(d)
	f.read(h, v)
}

// events returns the published events since the last call, each as
// "event severity".
func (f *ruleFixture) events() []string {
	f.t.Helper()
	var out []string
	for _, ev := range f.pub.take(f.t) {
		s := ev.Event
		if ev.Alarm.Severity != 0 {
			s += " " + ev.Alarm.Severity.String()
		}
		out = append(out, s)
	}
	return out
}

func (f *ruleFixture) expect(want ...string) {
	f.t.Helper()
	got := f.events()
	if strings.Join(got, "|") != strings.Join(want, "|") {
		f.t.Fatalf("events %q, want %q", got, want)
	}
}

func (f *ruleFixture) alarms(filter sensor.AlarmFilter) []sensor.Alarm {
	f.t.Helper()
	a, err := f.eng.Alarms(f.ctx, filter)
	if err != nil {
		f.t.Fatal(err)
	}
	return a
}

func ruleThreshold(sev sensor.Severity, op string, v float64) sensor.Condition {
	return sensor.Condition{Kind: sensor.Threshold, Severity: sev, Op: op, Value: v}
}

func rulePressureRule(id string, raise ...sensor.Condition) sensor.Rule {
	return sensor.Rule{ID: id, Scope: sensor.Scope{Profile: "pipe-pressure", Resource: "pressure"}, Raise: raise}
}

func TestRuleThreshold(t *testing.T) {
	f := newRuleFixture(t, sensor.EngineOptions{})
	h := f.device("p1", sensor.Device{})
	other := f.device("p2", sensor.Device{})
	f.add(rulePressureRule("high", ruleThreshold(0, ">", 0.8)))

	f.read(h, 0.5)
	f.read(other, 0.8) // not above
	f.expect()
	f.step(time.Minute, h, 0.9)
	subjects := f.pub.subjects()
	f.expect("raised major")
	if subjects[0] != "gov.500000.500107.500107001.sensor.alarm.raised" {
		t.Fatalf("subject %s", subjects[0])
	}
	a := f.alarms(sensor.AlarmFilter{Status: sensor.AlarmActive})
	if len(a) != 1 || a[0].Device != "p1" || a[0].Value != 0.9 || a[0].Kind != sensor.AlarmDevice || a[0].Rule != "high" ||
		a[0].Grid != "500107001002003" || !a[0].Since.Equal(ruleT0.Add(time.Minute)) || a[0].Note != "pressure > 0.8" {
		t.Fatalf("alarms %+v", a)
	}
	f.step(time.Minute, h, 0.95) // still above: same alarm, no event
	f.expect()
	f.step(time.Minute, h, 0.7)
	f.expect("cleared major")
	if a := f.alarms(sensor.AlarmFilter{Status: sensor.AlarmCleared}); len(a) != 1 || a[0].Value != 0.7 || !a[0].Cleared.Equal(f.clk.Now()) {
		t.Fatalf("cleared %+v", a)
	}
	st := f.eng.Stats()
	if st.Raised != 1 || st.Cleared != 1 || st.Open != 0 || st.Evaluated != 5 || st.Rules != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestRuleThresholdOperators(t *testing.T) {
	for _, tc := range []struct {
		op     string
		at, in float64 // at: value equal to the threshold; in: clearly meets it
		atHits bool
	}{{">", 1, 2, false}, {">=", 1, 2, true}, {"<", 1, 0, false}, {"<=", 1, 0, true}} {
		f := newRuleFixture(t, sensor.EngineOptions{})
		h := f.device("p", sensor.Device{})
		f.add(rulePressureRule("r", ruleThreshold(0, tc.op, 1)))
		f.read(h, tc.at)
		if got := len(f.events()) == 1; got != tc.atHits {
			t.Errorf("%s at the threshold: raised %v", tc.op, got)
		}
		f.step(time.Second, h, tc.in)
		if a := f.alarms(sensor.AlarmFilter{Status: sensor.AlarmActive}); len(a) != 1 {
			t.Errorf("%s: %d active", tc.op, len(a))
		}
	}
}

func TestRuleRange(t *testing.T) {
	f := newRuleFixture(t, sensor.EngineOptions{})
	h := f.device("p", sensor.Device{})
	out := rulePressureRule("outside", sensor.Condition{Kind: sensor.Range, Low: 0.2, High: 0.6, Outside: true})
	in := rulePressureRule("inside", sensor.Condition{Kind: sensor.Range, Severity: sensor.Warning, Low: 0.9, High: 1.1})
	f.add(out)
	f.add(in)
	f.read(h, 0.4) // inside the normal band: neither
	f.expect()
	f.step(time.Second, h, 0.1) // below the band
	f.expect("raised major")
	f.step(time.Second, h, 0.6) // on the bound: inside
	f.expect("cleared major")
	f.step(time.Second, h, 1.0)
	f.expect("raised major", "raised warning") // outside [0.2,0.6] and inside [0.9,1.1]
	f.step(time.Second, h, 1.2)
	f.expect("cleared warning")
}

func TestRuleRate(t *testing.T) {
	f := newRuleFixture(t, sensor.EngineOptions{})
	h := f.device("p", sensor.Device{})
	r := rulePressureRule("drop", sensor.Condition{Kind: sensor.Rate, Op: "<", Value: -0.1, Window: 5 * time.Minute})
	r.Clear = &sensor.Condition{Op: ">", Value: 0.35}
	f.add(r)
	// A slow decline of 0.01 a minute (0.05 per window) is no alarm.
	v := 0.40
	f.read(h, v)
	for range 10 {
		v -= 0.01
		f.step(time.Minute, h, v)
	}
	f.expect()
	// A drop of 0.15 within two minutes is.
	f.step(time.Minute, h, v-0.05)
	f.expect()
	f.step(time.Minute, h, v-0.15)
	f.expect("raised major")
	// The pressure then stays low: the change over the window returns to
	// zero, but the clear condition (pressure restored) keeps the alarm.
	for range 10 {
		f.step(time.Minute, h, v-0.15)
	}
	f.expect()
	f.step(time.Minute, h, 0.4)
	f.expect("cleared major")
}

func TestRuleRateWithoutHistoryDoesNotExtrapolate(t *testing.T) {
	f := newRuleFixture(t, sensor.EngineOptions{})
	h := f.device("p", sensor.Device{})
	f.add(rulePressureRule("drop", sensor.Condition{Kind: sensor.Rate, Op: "<", Value: -0.1, Window: time.Hour}))
	f.read(h, 0.40)
	f.step(time.Second, h, 0.39) // 0.01 in a second is 36 an hour, extrapolated; it is 0.01
	f.expect()
}

func TestRuleDeadband(t *testing.T) {
	f := newRuleFixture(t, sensor.EngineOptions{})
	h := f.device("p", sensor.Device{})
	r := rulePressureRule("high", ruleThreshold(0, ">", 0.8))
	r.Count = 2
	r.Deadband = 0.05
	f.add(r)
	f.read(h, 0.78)
	f.step(time.Second, h, 0.81) // within the deadband of 0.78: ignored
	f.step(time.Second, h, 0.82) // still within it
	f.expect()
	if a := f.alarms(sensor.AlarmFilter{}); len(a) != 0 {
		t.Fatalf("alarms %+v", a)
	}
	f.step(time.Second, h, 0.9) // a real change: 1 of 2
	f.step(time.Second, h, 0.92)
	f.expect() // 0.92 is within the deadband of 0.9: does not count
	f.step(time.Second, h, 0.96)
	f.expect("raised major")
	if st := f.eng.Stats(); st.Deadbanded != 3 {
		t.Fatalf("deadbanded %d", st.Deadbanded)
	}
}

func TestRuleCount(t *testing.T) {
	f := newRuleFixture(t, sensor.EngineOptions{PublishPending: true})
	h := f.device("p", sensor.Device{})
	r := rulePressureRule("high", ruleThreshold(0, ">", 0.8))
	r.Count = 3
	f.add(r)
	for _, v := range []float64{0.9, 0.9, 0.5, 0.9, 0.9} {
		f.step(time.Second, h, v)
	}
	f.expect("pending major", "cancelled major", "pending major")
	f.step(time.Second, h, 0.9)
	f.expect("raised major")
	if a := f.alarms(sensor.AlarmFilter{}); len(a) != 1 || a[0].Note != "pressure > 0.8, 3 in a row" {
		t.Fatalf("alarms %+v", a)
	}
}

func TestRuleDurationMetByReadings(t *testing.T) {
	f := newRuleFixture(t, sensor.EngineOptions{})
	h := f.device("p", sensor.Device{})
	r := rulePressureRule("high", ruleThreshold(0, ">", 0.8))
	r.For = 10 * time.Minute
	f.add(r)
	f.read(h, 0.9)
	if a := f.alarms(sensor.AlarmFilter{Status: sensor.AlarmPending}); len(a) != 1 {
		t.Fatalf("pending %+v", a)
	}
	for range 9 {
		f.step(time.Minute, h, 0.9)
	}
	f.expect()
	f.step(time.Minute, h, 0.9) // ten minutes of event time
	f.expect("raised major")
	a := f.alarms(sensor.AlarmFilter{})
	if len(a) != 1 || !a[0].Since.Equal(ruleT0) || !a[0].Raised.Equal(ruleT0.Add(10*time.Minute)) {
		t.Fatalf("alarm %+v", a)
	}
}

func TestRuleDurationMetByTimer(t *testing.T) {
	f := newRuleFixture(t, sensor.EngineOptions{})
	h := f.device("p", sensor.Device{})
	r := rulePressureRule("high", ruleThreshold(0, ">", 0.8))
	r.For = 10 * time.Minute
	f.add(r)
	f.read(h, 0.9) // one reading, then nothing: the engine's timer decides
	f.clk.Advance(9*time.Minute + 59*time.Second)
	f.expect()
	f.clk.Advance(time.Second)
	f.expect("raised major")
	if a := f.alarms(sensor.AlarmFilter{}); len(a) != 1 || !a[0].Raised.Equal(ruleT0.Add(10*time.Minute)) {
		t.Fatalf("alarm %+v", a)
	}
}

func TestRuleDurationInterrupted(t *testing.T) {
	f := newRuleFixture(t, sensor.EngineOptions{PublishPending: true})
	h := f.device("p", sensor.Device{})
	r := rulePressureRule("high", ruleThreshold(0, ">", 0.8))
	r.For = 10 * time.Minute
	f.add(r)
	f.read(h, 0.9)
	f.step(5*time.Minute, h, 0.7) // interrupted
	f.step(2*time.Minute, h, 0.9) // starts again
	f.clk.Advance(9 * time.Minute)
	f.expect("pending major", "cancelled major", "pending major")
	if a := f.alarms(sensor.AlarmFilter{}); len(a) != 1 || a[0].Status != sensor.AlarmPending || !a[0].Since.Equal(ruleT0.Add(7*time.Minute)) {
		t.Fatalf("alarms %+v", a)
	}
	f.clk.Advance(time.Minute)
	f.expect("raised major")
}

func TestRuleHysteresis(t *testing.T) {
	f := newRuleFixture(t, sensor.EngineOptions{})
	h := f.device("p", sensor.Device{})
	r := rulePressureRule("high", ruleThreshold(0, ">", 0.8))
	r.Clear = &sensor.Condition{Op: "<", Value: 0.6}
	f.add(r)
	for _, v := range []float64{0.81, 0.79, 0.82, 0.78, 0.81, 0.7, 0.61} {
		f.step(time.Second, h, v)
	}
	f.expect("raised major") // no flapping around 0.8
	f.step(time.Second, h, 0.59)
	f.expect("cleared major")
	f.step(time.Second, h, 0.79)
	f.expect()
}

func TestRuleFlapsWithoutClear(t *testing.T) {
	// The contrast: without a clear condition the alarm follows the
	// threshold, which is what hysteresis is for.
	f := newRuleFixture(t, sensor.EngineOptions{})
	h := f.device("p", sensor.Device{})
	f.add(rulePressureRule("high", ruleThreshold(0, ">", 0.8)))
	for _, v := range []float64{0.81, 0.79, 0.82} {
		f.step(time.Second, h, v)
	}
	f.expect("raised major", "cleared major", "raised major")
}

func TestRuleSeverityLadder(t *testing.T) {
	f := newRuleFixture(t, sensor.EngineOptions{})
	h := f.device("p", sensor.Device{})
	r := rulePressureRule("ladder",
		ruleThreshold(sensor.Minor, ">", 0.8), ruleThreshold(sensor.Critical, ">", 1.2), ruleThreshold(sensor.Major, ">", 1.0))
	r.Clear = &sensor.Condition{Op: "<", Value: 0.6}
	f.add(r)
	for _, v := range []float64{0.9, 1.1, 1.3, 1.25, 0.9, 0.7} {
		f.step(time.Second, h, v)
	}
	f.step(time.Second, h, 0.5)
	evs := f.pub.take(t)
	var got []string
	for _, ev := range evs {
		got = append(got, fmt.Sprintf("%s %s v%d", ev.Event, ev.Alarm.Severity, ev.Alarm.Version))
		if ev.Alarm.ID != evs[0].Alarm.ID {
			t.Fatal("the ladder opened a second alarm")
		}
	}
	want := "raised minor v1|updated major v2|updated critical v3|updated minor v4|cleared minor v5"
	if strings.Join(got, "|") != want {
		t.Fatalf("events %q, want %q", got, want)
	}
}

func TestRuleSchedule(t *testing.T) {
	f := newRuleFixture(t, sensor.EngineOptions{})
	h := f.device("p", sensor.Device{})
	r := rulePressureRule("office-hours", ruleThreshold(0, ">", 0.8))
	r.Schedule = &sensor.Schedule{Days: []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday},
		From: "08:00", To: "18:00", Zone: "Asia/Shanghai"}
	f.add(r)
	f.read(h, 0.9) // Thursday 17:00 in Chongqing: active
	f.expect("raised major")
	f.step(30*time.Minute, h, 0.5)
	f.expect("cleared major")
	f.step(time.Hour, h, 0.9) // 18:30: outside
	f.expect()
	f.clk.Set(time.Date(2026, 10, 10, 2, 0, 0, 0, time.UTC)) // Saturday 10:00
	f.read(h, 0.95)
	f.expect()
	f.clk.Set(time.Date(2026, 10, 12, 1, 0, 0, 0, time.UTC)) // Monday 09:00
	f.read(h, 0.95)
	f.expect("raised major")
}

func TestRuleScheduleOvernight(t *testing.T) {
	f := newRuleFixture(t, sensor.EngineOptions{})
	h := f.device("p", sensor.Device{})
	r := rulePressureRule("night", ruleThreshold(0, ">", 0.8))
	r.Schedule = &sensor.Schedule{Days: []time.Weekday{time.Friday}, From: "22:00", To: "06:00", Zone: "+08:00"}
	f.add(r)
	f.clk.Set(time.Date(2026, 10, 9, 13, 0, 0, 0, time.UTC)) // Friday 21:00
	f.read(h, 0.9)
	f.expect()
	f.clk.Set(time.Date(2026, 10, 9, 19, 0, 0, 0, time.UTC)) // Saturday 03:00, Friday's night
	f.read(h, 0.9)
	f.expect("raised major")
}

func TestRuleScope(t *testing.T) {
	f := newRuleFixture(t, sensor.EngineOptions{})
	in := f.device("in", sensor.Device{Grid: "500107001002003", Asset: "main-7", Labels: map[string]string{"zone": "north", "x": "1"}})
	otherGrid := f.device("grid", sensor.Device{Grid: "500103001001001", Asset: "main-7", Labels: map[string]string{"zone": "north"}})
	otherLabel := f.device("label", sensor.Device{Asset: "main-7", Labels: map[string]string{"zone": "south"}})
	otherAsset := f.device("asset", sensor.Device{Asset: "main-8", Labels: map[string]string{"zone": "north"}})
	r := rulePressureRule("scoped", ruleThreshold(0, ">", 0.8))
	r.Scope.Grid, r.Scope.Asset, r.Scope.Labels = "500107001", "main-7", map[string]string{"zone": "north"}
	f.add(r)
	later := f.device("later", sensor.Device{Asset: "main-7", Labels: map[string]string{"zone": "north"}})
	for _, h := range []sensor.Handle{in, otherGrid, otherLabel, otherAsset, later} {
		f.read(h, 0.9)
	}
	var got []string
	for _, a := range f.alarms(sensor.AlarmFilter{}) {
		got = append(got, a.Device)
	}
	if strings.Join(got, ",") != "in,later" {
		t.Fatalf("alarms for %v", got)
	}
}

func TestRuleLateReadings(t *testing.T) {
	f := newRuleFixture(t, sensor.EngineOptions{})
	h := f.device("p", sensor.Device{})
	f.add(rulePressureRule("high", ruleThreshold(0, ">", 0.8)))
	f.step(time.Minute, h, 0.5)
	// A stale high value arrives late: flagged by ingestion, or merely
	// older than what the rule has seen.
	f.eng.Observe([]sensor.Reading{
		{Device: h, Value: 0.95, Observed: ruleT0.Add(30 * time.Second), Quality: sensor.QualityLate},
		{Device: h, Value: 0.95, Observed: ruleT0.Add(40 * time.Second)},
	})
	f.expect()
	if st := f.eng.Stats(); st.Late != 2 {
		t.Fatalf("late %d", st.Late)
	}
	// Nor does a stale low value clear an active alarm.
	f.step(time.Minute, h, 0.9)
	f.expect("raised major")
	f.eng.Observe([]sensor.Reading{{Device: h, Value: 0.1, Observed: ruleT0.Add(90 * time.Second), Quality: sensor.QualityLate}})
	f.expect()
}

func TestRuleLifecycleAndAck(t *testing.T) {
	f := newRuleFixture(t, sensor.EngineOptions{})
	ctx := access.WithActor(context.Background(), access.Actor{ID: "op-1", Kind: access.StreetStaff, Scope: "500107001", Roles: []string{"x"}})
	h := f.device("p", sensor.Device{})
	r := rulePressureRule("high", ruleThreshold(0, ">", 0.8))
	r.For = time.Minute
	f.add(r)
	f.read(h, 0.9)
	pending := f.alarms(sensor.AlarmFilter{})
	if len(pending) != 1 || pending[0].Status != sensor.AlarmPending || !pending[0].Open() {
		t.Fatalf("pending %+v", pending)
	}
	if _, err := f.eng.Ack(ctx, pending[0].ID); !errors.Is(err, sensor.ErrAlarmState) {
		t.Fatalf("ack of a pending alarm: %v", err)
	}
	f.clk.Advance(time.Minute)
	f.expect("raised major")
	a, err := f.eng.Ack(ctx, pending[0].ID)
	if err != nil || a.AckedBy != "op-1" || !a.Acked() || a.Status != sensor.AlarmActive || !a.AckedAt.Equal(f.clk.Now()) {
		t.Fatalf("ack: %+v %v", a, err)
	}
	evs := f.pub.take(t)
	if len(evs) != 1 || evs[0].Event != sensor.EventAlarmAcked || evs[0].Actor != "op-1" {
		t.Fatalf("events %+v", evs)
	}
	if _, err := f.eng.Ack(ctx, a.ID); !errors.Is(err, sensor.ErrAlarmState) {
		t.Fatalf("second ack: %v", err)
	}
	if _, err := f.eng.Ack(ctx, "nope"); !errors.Is(err, sensor.ErrUnknownAlarm) {
		t.Fatalf("unknown: %v", err)
	}
	if n := len(f.alarms(sensor.AlarmFilter{Unacked: true})); n != 0 {
		t.Fatalf("%d unacked", n)
	}
	f.step(time.Minute, h, 0.5)
	f.expect("cleared major")
	got, err := f.eng.Alarm(f.ctx, a.ID)
	if err != nil || got.Status != sensor.AlarmCleared || got.AckedBy != "op-1" || got.Open() || got.Version != 4 {
		t.Fatalf("cleared: %+v %v", got, err)
	}
	// A new episode is a new alarm; a cleared one can still be acked.
	f.step(time.Minute, h, 0.9)
	f.clk.Advance(time.Minute)
	all := f.alarms(sensor.AlarmFilter{})
	if len(all) != 2 || all[1].ID == a.ID || all[1].Status != sensor.AlarmActive {
		t.Fatalf("alarms %+v", all)
	}
	f.step(time.Minute, h, 0.1)
	if _, err := f.eng.Ack(ctx, all[1].ID); err != nil {
		t.Fatal(err)
	}
}

func TestRuleHistoryBounded(t *testing.T) {
	f := newRuleFixture(t, sensor.EngineOptions{History: 3})
	h := f.device("p", sensor.Device{})
	f.add(rulePressureRule("high", ruleThreshold(0, ">", 0.8)))
	var first string
	for i := range 5 {
		f.step(time.Second, h, 0.9)
		if i == 0 {
			first = f.alarms(sensor.AlarmFilter{})[0].ID
		}
		f.step(time.Second, h, 0.1)
	}
	if n := len(f.alarms(sensor.AlarmFilter{})); n != 3 {
		t.Fatalf("%d alarms kept", n)
	}
	if _, err := f.eng.Alarm(f.ctx, first); !errors.Is(err, sensor.ErrUnknownAlarm) {
		t.Fatalf("evicted alarm: %v", err)
	}
}

func TestRuleRemoveClearsAlarms(t *testing.T) {
	f := newRuleFixture(t, sensor.EngineOptions{})
	h := f.device("p", sensor.Device{})
	f.add(rulePressureRule("high", ruleThreshold(0, ">", 0.8)))
	f.read(h, 0.9)
	f.expect("raised major")
	if err := f.eng.RemoveRule(f.ctx, "high"); err != nil {
		t.Fatal(err)
	}
	f.expect("cleared major")
	if a := f.alarms(sensor.AlarmFilter{}); len(a) != 1 || a[0].Note != "rule removed" {
		t.Fatalf("alarms %+v", a)
	}
	f.step(time.Second, h, 0.95)
	f.expect()
	if err := f.eng.RemoveRule(f.ctx, "high"); !errors.Is(err, sensor.ErrUnknownRule) {
		t.Fatalf("second remove: %v", err)
	}
	// The ID is free again.
	f.add(rulePressureRule("high", ruleThreshold(0, ">", 0.8)))
	if err := f.eng.AddRule(f.ctx, rulePressureRule("high", ruleThreshold(0, ">", 0.8))); !errors.Is(err, sensor.ErrDuplicate) {
		t.Fatalf("duplicate: %v", err)
	}
	rules, err := f.eng.Rules(f.ctx)
	if err != nil || len(rules) != 1 || rules[0].ID != "high" {
		t.Fatalf("rules %+v %v", rules, err)
	}
}

func (p *rulePub) setFail(on bool) {
	p.mu.Lock()
	p.fail = on
	p.mu.Unlock()
}

// A refused event keeps its alarm and waits, in order, for the publisher:
// a timer tries again after a second.
func TestRulePublishFailureKeepsEvents(t *testing.T) {
	f := newRuleFixture(t, sensor.EngineOptions{})
	h := f.device("p", sensor.Device{})
	h2 := f.device("q", sensor.Device{})
	f.add(rulePressureRule("high", ruleThreshold(0, ">", 0.8)))
	f.pub.setFail(true)
	f.read(h, 0.9)
	f.read(h2, 0.95) // within the retry delay: not even tried
	if st := f.eng.Stats(); st.PublishErrors != 1 || st.Open != 2 || st.Unpublished != 2 {
		t.Fatalf("stats %+v", st)
	}
	f.pub.setFail(false)
	f.clk.Advance(time.Second) // the retry timer
	evs := f.pub.take(t)
	if len(evs) != 2 || evs[0].Alarm.Device != "p" || evs[1].Alarm.Device != "q" || evs[0].Event != sensor.EventAlarmRaised {
		t.Fatalf("after the retry: %+v", evs)
	}
	if st := f.eng.Stats(); st.Unpublished != 0 || st.EventsDropped != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// Sync publishes what waits at once, and says when it cannot.
func TestRuleSyncPublishesWaitingEvents(t *testing.T) {
	f := newRuleFixture(t, sensor.EngineOptions{})
	h := f.device("p", sensor.Device{})
	f.add(rulePressureRule("high", ruleThreshold(0, ">", 0.8)))
	f.pub.setFail(true)
	f.read(h, 0.9)
	if err := f.eng.Sync(f.ctx); !errors.Is(err, bus.ErrOverloaded) {
		t.Fatalf("Sync with the bus refusing: %v", err)
	}
	f.pub.setFail(false)
	if err := f.eng.Sync(f.ctx); err != nil {
		t.Fatal(err)
	}
	if evs := f.pub.take(t); len(evs) != 1 || evs[0].Alarm.Device != "p" {
		t.Fatalf("after Sync: %+v", evs)
	}
}

// Without a store, at most MaxUnpublished events wait; the oldest go.
func TestRuleMaxUnpublished(t *testing.T) {
	f := newRuleFixture(t, sensor.EngineOptions{MaxUnpublished: 2})
	f.add(rulePressureRule("high", ruleThreshold(0, ">", 0.8)))
	f.pub.setFail(true)
	for _, id := range []string{"p", "q", "r"} {
		f.read(f.device(id, sensor.Device{}), 0.9)
	}
	if st := f.eng.Stats(); st.Unpublished != 2 || st.EventsDropped != 1 {
		t.Fatalf("stats %+v", st)
	}
	f.pub.setFail(false)
	if err := f.eng.Sync(f.ctx); err != nil {
		t.Fatal(err)
	}
	if evs := f.pub.take(t); len(evs) != 2 || evs[0].Alarm.Device != "q" || evs[1].Alarm.Device != "r" {
		t.Fatalf("after Sync: %+v", evs)
	}
	if _, err := sensor.NewEngine(f.reg, f.clk, nil, sensor.EngineOptions{Authorizer: access.AllowAll(), MaxUnpublished: -1}); err == nil {
		t.Fatal("negative MaxUnpublished accepted")
	}
}

func TestRuleEngineOptions(t *testing.T) {
	reg := sensor.NewRegistry()
	clk := clock.NewManual(ruleT0)
	for _, o := range []sensor.EngineOptions{
		{},
		{Authorizer: access.AllowAll(), Tick: -1},
		{Authorizer: access.AllowAll(), Prefix: "a b"},
		{Authorizer: access.AllowAll(), Storm: sensor.StormOptions{GatewayFraction: 2}},
		{Authorizer: access.AllowAll(), Storm: sensor.StormOptions{AreaLevel: 9}},
	} {
		if _, err := sensor.NewEngine(reg, clk, nil, o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	if _, err := sensor.NewEngine(nil, clk, nil, sensor.EngineOptions{Authorizer: access.AllowAll()}); err == nil {
		t.Error("nil registry accepted")
	}
	// A nil publisher publishes nothing but alarms are still kept.
	e, err := sensor.NewEngine(reg, clk, nil, sensor.EngineOptions{Authorizer: access.AllowAll()})
	if err != nil {
		t.Fatal(err)
	}
	_ = reg.AddProfile(rulePipeProfile)
	h, _ := reg.Register(sensor.Device{ID: "p", Profile: "pipe-pressure"})
	if err := e.AddRule(context.Background(), rulePressureRule("r", ruleThreshold(0, ">", 1))); err != nil {
		t.Fatal(err)
	}
	e.Observe([]sensor.Reading{{Device: h, Value: 1.5, Observed: ruleT0}, {Device: 99, Value: 1}})
	if st := e.Stats(); st.Open != 1 {
		t.Fatalf("stats %+v", st)
	}
	e.Close()
	e.Observe([]sensor.Reading{{Device: h, Value: 0, Observed: ruleT0.Add(time.Second)}})
	if st := e.Stats(); st.Open != 1 || st.Evaluated != 1 {
		t.Fatalf("observed after close: %+v", st)
	}
}

func TestRuleUnknownDevicesAndResources(t *testing.T) {
	f := newRuleFixture(t, sensor.EngineOptions{})
	h := f.device("p", sensor.Device{})
	f.add(rulePressureRule("high", ruleThreshold(0, ">", 0.8)))
	f.eng.Observe([]sensor.Reading{
		{Device: h + 100, Value: 1}, {Device: h, Resource: 3, Value: 1}, {Device: h, Value: math.NaN(), Observed: ruleT0},
	})
	f.expect()
}

// Ingestion calls Observe from several goroutines while timers fire and
// people acknowledge and list alarms; run with -race.
func TestRuleConcurrentUse(t *testing.T) {
	f := newRuleFixture(t, sensor.EngineOptions{})
	var hs []sensor.Handle
	for i := range 64 {
		hs = append(hs, f.device(fmt.Sprintf("p%d", i), sensor.Device{}))
	}
	r := rulePressureRule("high", ruleThreshold(0, ">", 0.8))
	r.Clear = &sensor.Condition{Op: "<", Value: 0.6}
	r.For = 30 * time.Second
	f.add(r)
	f.add(missingRule("offline", sensor.Condition{}))
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				h := hs[(g*16+i)%len(hs)]
				v := 0.5
				if i%7 < 3 {
					v = 0.9
				}
				f.eng.Observe([]sensor.Reading{{Device: h, Value: v, Observed: f.clk.Now()}})
			}
		}()
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 200 {
			f.clk.Advance(time.Second)
			for _, a := range f.alarms(sensor.AlarmFilter{Status: sensor.AlarmActive, Unacked: true}) {
				_, _ = f.eng.Ack(f.ctx, a.ID)
			}
		}
	}()
	wg.Wait()
	<-done
	f.clk.Advance(time.Hour)
	if st := f.eng.Stats(); st.Evaluated != 2*4*2000 {
		t.Fatalf("stats %+v", st)
	}
}
