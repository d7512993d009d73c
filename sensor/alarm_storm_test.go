package sensor_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/govkit/govkit/region"
	"github.com/govkit/govkit/sensor"
)

func missingRule(id string, c sensor.Condition) sensor.Rule {
	c.Kind = sensor.Missing
	return sensor.Rule{ID: id, Scope: sensor.Scope{Profile: "pipe-pressure", Resource: "pressure"}, Raise: []sensor.Condition{c}}
}

func TestRuleHeartbeatFixed(t *testing.T) {
	f := newRuleFixture(t, sensor.EngineOptions{})
	h := f.device("p", sensor.Device{})
	f.add(missingRule("offline", sensor.Condition{})) // 3 × the resource's 1-minute interval
	f.read(h, 0.4)
	f.step(2*time.Minute, h, 0.4)
	f.clk.Advance(3*time.Minute - time.Second)
	f.expect()
	f.clk.Advance(time.Second)
	f.expect("raised major")
	a := f.alarms(sensor.AlarmFilter{})
	if len(a) != 1 || a[0].Device != "p" || !a[0].Since.Equal(ruleT0.Add(2*time.Minute)) ||
		a[0].Note != "no pressure reading for 3m0s (timeout 3m0s)" || a[0].Value != 180 {
		t.Fatalf("alarm %+v", a)
	}
	f.clk.Advance(time.Hour) // no repeats while it stays silent
	f.expect()
	f.read(h, 0.4)
	f.expect("cleared major")
	f.clk.Advance(3 * time.Minute)
	f.expect("raised major")
}

func TestRuleHeartbeatNeverReported(t *testing.T) {
	f := newRuleFixture(t, sensor.EngineOptions{})
	f.device("p", sensor.Device{})
	f.add(missingRule("offline", sensor.Condition{After: 90 * time.Second}))
	f.device("later", sensor.Device{}) // joins at the engine's next timer
	f.clk.Advance(90 * time.Second)
	f.expect("raised major")
	f.clk.Advance(90 * time.Second)
	f.expect("raised major")
	var got []string
	for _, a := range f.alarms(sensor.AlarmFilter{}) {
		got = append(got, a.Device)
	}
	if strings.Join(got, ",") != "p,later" {
		t.Fatalf("alarms for %v", got)
	}
}

func TestRuleHeartbeatLearned(t *testing.T) {
	f := newRuleFixture(t, sensor.EngineOptions{})
	fast := f.device("fast", sensor.Device{})
	slow := f.device("slow", sensor.Device{})
	f.add(missingRule("offline", sensor.Condition{Learn: true, Multiple: 3}))
	// fast reports every 10 s, slow every 50 s: their own cadences, not the
	// profile's one minute.
	for i := range 16 {
		f.read(fast, 0.4)
		if i%5 == 0 {
			f.read(slow, 0.4)
		}
		f.clk.Advance(10 * time.Second)
	}
	// Both last reported at 150 s; now 160 s.
	f.clk.Advance(20 * time.Second) // 180 s: fast's 30 s timeout has passed
	f.expect("raised major")
	if a := f.alarms(sensor.AlarmFilter{}); len(a) != 1 || a[0].Device != "fast" || !a[0].Raised.Equal(ruleT0.Add(180*time.Second)) {
		t.Fatalf("alarms %+v", a)
	}
	f.clk.Advance(119 * time.Second)
	f.expect()
	f.clk.Advance(time.Second) // 300 s: slow's 150 s timeout has passed
	f.expect("raised major")
}

func TestRuleHeartbeatIgnoresRemovedAndLocked(t *testing.T) {
	f := newRuleFixture(t, sensor.EngineOptions{})
	f.device("gone", sensor.Device{})
	locked := f.device("locked", sensor.Device{})
	f.add(missingRule("offline", sensor.Condition{}))
	if err := f.reg.Remove("gone"); err != nil {
		t.Fatal(err)
	}
	if err := f.reg.SetAdmin(locked, sensor.Locked); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(time.Hour)
	f.expect()
}

func TestRuleHeartbeatSchedule(t *testing.T) {
	f := newRuleFixture(t, sensor.EngineOptions{})
	h := f.device("p", sensor.Device{})
	r := missingRule("day-offline", sensor.Condition{})
	r.Schedule = &sensor.Schedule{From: "08:00", To: "18:00", Zone: "Asia/Shanghai"}
	f.add(r)
	for range 58 { // reports every minute until 17:58, then falls silent
		f.step(time.Minute, h, 0.4)
	}
	f.clk.Set(time.Date(2026, 10, 8, 23, 59, 0, 0, time.UTC)) // nothing all night
	f.expect()
	f.clk.Set(time.Date(2026, 10, 9, 0, 0, 0, 0, time.UTC)) // 08:00
	f.expect("raised major")
}

// storm sets up a gateway with n devices behind it, all watched by a
// missing-heartbeat rule, each reporting once at t0 + i*jitter.
func stormFixture(t *testing.T, n int, jitter time.Duration, opts sensor.EngineOptions) (*ruleFixture, []sensor.Handle) {
	f := newRuleFixture(t, opts)
	if err := f.reg.AddProfile(sensor.Profile{Name: "gateway", Resources: []sensor.Resource{{Name: "uplink", Interval: time.Minute}}}); err != nil {
		t.Fatal(err)
	}
	f.device("gw-1", sensor.Device{Profile: "gateway"})
	hs := make([]sensor.Handle, n)
	for i := range hs {
		hs[i] = f.device(fmt.Sprintf("p-%04d", i), sensor.Device{Gateway: "gw-1"})
	}
	f.add(missingRule("offline", sensor.Condition{}))
	for i, h := range hs {
		f.eng.Observe([]sensor.Reading{{Device: h, Value: 0.4, Observed: ruleT0.Add(time.Duration(i) * jitter)}})
	}
	f.clk.Advance(time.Duration(n) * jitter)
	return f, hs
}

func TestStormGatewayOneAlarm(t *testing.T) {
	// 1,000 devices behind a gateway that dies right after their last
	// reports, which are spread over most of a minute.
	f, hs := stormFixture(t, 1000, 59*time.Millisecond, sensor.EngineOptions{})
	f.clk.Advance(time.Hour)
	evs := f.pub.take(t)
	if len(evs) == 0 {
		t.Fatal("no alarm")
	}
	for _, ev := range evs {
		if ev.Alarm.ID != evs[0].Alarm.ID {
			t.Fatalf("a second alarm: %+v", ev.Alarm)
		}
	}
	all := f.alarms(sensor.AlarmFilter{})
	if len(all) != 1 {
		t.Fatalf("%d alarms", len(all))
	}
	a := all[0]
	if a.Kind != sensor.AlarmGateway || a.Device != "gw-1" || a.Status != sensor.AlarmActive || a.Suppressed != 1000 ||
		a.Silent != 1000 || a.Monitored != 1000 || a.Rule != "" || a.Grid != "500107001002003" {
		t.Fatalf("alarm %+v", a)
	}
	// One raise, then an update each time another tenth is suppressed.
	if evs[0].Event != sensor.EventAlarmRaised || len(evs) > 11 || evs[len(evs)-1].Alarm.Suppressed < 900 {
		t.Fatalf("%d events: first %s, last suppressed %d", len(evs), evs[0].Event, evs[len(evs)-1].Alarm.Suppressed)
	}
	if st := f.eng.Stats(); st.Suppressed != 1000 || st.Raised != 1 {
		t.Fatalf("stats %+v", st)
	}

	// The gateway comes back: its devices report over a minute. The
	// alarm clears once most are back, and the stragglers, given a
	// moment, report before anything more is raised.
	for i, h := range hs {
		if i%10 == 0 {
			f.clk.Advance(500 * time.Millisecond)
		}
		f.read(h, 0.4)
	}
	f.clk.Advance(10 * time.Second)
	evs = f.pub.take(t)
	if len(evs) == 0 || len(evs) > 6 || evs[len(evs)-1].Event != sensor.EventAlarmCleared {
		t.Fatalf("%d recovery events", len(evs))
	}
	for _, ev := range evs {
		if ev.Alarm.ID != a.ID {
			t.Fatalf("recovery raised %+v", ev.Alarm)
		}
	}
	if st := f.eng.Stats(); st.Open != 0 || st.Raised != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestStormStragglerAfterRecovery(t *testing.T) {
	f, hs := stormFixture(t, 10, time.Second, sensor.EngineOptions{})
	f.clk.Advance(10 * time.Minute)
	if a := f.alarms(sensor.AlarmFilter{Kind: sensor.AlarmGateway, Status: sensor.AlarmActive}); len(a) != 1 {
		t.Fatalf("gateway alarms %+v", a)
	}
	f.pub.take(t)
	for _, h := range hs[:9] { // one device stays silent: it is broken
		f.read(h, 0.4)
	}
	// A small group publishes every change of its count; the alarm clears
	// when fewer than half are silent.
	f.expect("updated major", "updated major", "updated major", "updated major", "updated major", "cleared major")
	f.clk.Advance(59 * time.Second)
	f.expect()
	f.clk.Advance(time.Second) // after a hold of one interval, its own alarm
	f.expect("raised major")
	if a := f.alarms(sensor.AlarmFilter{Status: sensor.AlarmActive}); len(a) != 1 || a[0].Device != "p-0009" {
		t.Fatalf("alarms %+v", a)
	}
}

func TestStormPartialGatewaySilence(t *testing.T) {
	f, hs := stormFixture(t, 10, 0, sensor.EngineOptions{})
	// Seven keep reporting; three fall silent: each gets its own alarm,
	// one interval late.
	for range 10 {
		f.clk.Advance(time.Minute)
		for _, h := range hs[3:] {
			f.read(h, 0.4)
		}
	}
	var got []string
	for _, a := range f.alarms(sensor.AlarmFilter{}) {
		got = append(got, a.Kind.String()+" "+a.Device)
		if a.Kind == sensor.AlarmDevice && !a.Raised.Equal(ruleT0.Add(4*time.Minute)) {
			t.Errorf("raised at %s", a.Raised)
		}
	}
	if strings.Join(got, ",") != "device p-0000,device p-0001,device p-0002" {
		t.Fatalf("alarms %v", got)
	}
}

func TestStormDisabled(t *testing.T) {
	f, _ := stormFixture(t, 50, 0, sensor.EngineOptions{Storm: sensor.StormOptions{Disabled: true}})
	f.clk.Advance(3 * time.Minute)
	if a := f.alarms(sensor.AlarmFilter{}); len(a) != 50 {
		t.Fatalf("%d alarms", len(a))
	}
}

func TestStormArea(t *testing.T) {
	f := newRuleFixture(t, sensor.EngineOptions{Storm: sensor.StormOptions{AreaFraction: 0.5, Hold: 30 * time.Second}})
	var street, elsewhere []sensor.Handle
	for i := range 20 {
		street = append(street, f.device(fmt.Sprintf("s-%02d", i), sensor.Device{Grid: region.Code(fmt.Sprintf("500107001002%03d", i%4+1))}))
	}
	for i := range 4 {
		elsewhere = append(elsewhere, f.device(fmt.Sprintf("e-%d", i), sensor.Device{Grid: "500107002001001"}))
	}
	f.add(missingRule("offline", sensor.Condition{}))
	// A power cut takes 12 of the street's 20 devices and one elsewhere
	// silent; the rest keep reporting.
	for range 10 {
		for i, h := range street {
			if i >= 12 {
				f.read(h, 0.4)
			}
		}
		for _, h := range elsewhere[1:] {
			f.read(h, 0.4)
		}
		f.clk.Advance(time.Minute)
	}
	var got []string
	for _, a := range f.alarms(sensor.AlarmFilter{}) {
		got = append(got, fmt.Sprintf("%s %s %s silent=%d/%d suppressed=%d", a.Kind, a.Grid, a.Device, a.Silent, a.Monitored, a.Suppressed))
	}
	want := "area 500107001  silent=12/20 suppressed=12,device 500107002001001 e-0 silent=0/0 suppressed=0"
	if strings.Join(got, ",") != want {
		t.Fatalf("alarms\n%s\nwant\n%s", strings.Join(got, "\n"), strings.ReplaceAll(want, ",", "\n"))
	}
	subjects := f.pub.subjects()
	if !strings.HasPrefix(subjects[0], "gov.500000.500107.500107001.sensor.alarm.") {
		t.Fatalf("area alarm subject %s", subjects[0])
	}
}

func TestStormRemoveRule(t *testing.T) {
	f, _ := stormFixture(t, 10, 0, sensor.EngineOptions{})
	f.clk.Advance(10 * time.Minute)
	if a := f.alarms(sensor.AlarmFilter{Status: sensor.AlarmActive}); len(a) != 1 || a[0].Kind != sensor.AlarmGateway {
		t.Fatalf("alarms %+v", a)
	}
	f.pub.take(t)
	if err := f.eng.RemoveRule(f.ctx, "offline"); err != nil {
		t.Fatal(err)
	}
	f.expect("cleared major") // nothing is watched any more: its devices are no longer silent
	f.clk.Advance(time.Hour)  // the removed rule's wheel entries come due and are dropped
	f.expect()
	if st := f.eng.Stats(); st.Open != 0 || st.Timers != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestStormAreaLevels(t *testing.T) {
	for _, tc := range []struct {
		level region.Level
		want  region.Code
	}{
		{region.City, "500000"}, {region.District, "500107"}, {region.Community, "500107001002"}, {region.Grid, "500107001002003"},
	} {
		f := newRuleFixture(t, sensor.EngineOptions{Storm: sensor.StormOptions{AreaLevel: tc.level, Hold: time.Second}})
		for i := range 5 {
			f.device(fmt.Sprintf("p%d", i), sensor.Device{})
		}
		f.add(missingRule("offline", sensor.Condition{}))
		f.clk.Advance(5 * time.Minute)
		a := f.alarms(sensor.AlarmFilter{})
		if len(a) != 1 || a[0].Kind != sensor.AlarmArea || a[0].Grid != tc.want || a[0].Suppressed != 5 {
			t.Errorf("%s: %+v", tc.level, a)
		}
	}
}
