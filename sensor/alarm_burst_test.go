package sensor_test

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/region"
	"github.com/govkit/govkit/sensor"
)

// burstRule: pressure falling by more than 0.1 MPa within 5 minutes,
// cleared when restored above 0.3, correlated by asset.
func burstRule() sensor.Rule {
	r := rulePressureRule("main-burst", sensor.Condition{Kind: sensor.Rate, Op: "<", Value: -0.1, Window: 5 * time.Minute})
	r.Clear = &sensor.Condition{Op: ">", Value: 0.3}
	r.Correlate = &sensor.Correlation{By: "asset", Window: 5 * time.Minute}
	return r
}

// burstMain registers six sensors 200 m apart along main-7, west to east,
// and has them report 0.40 MPa every minute for five minutes.
func burstMain(t *testing.T) (*ruleFixture, []sensor.Handle) {
	f := newRuleFixture(t, sensor.EngineOptions{})
	hs := make([]sensor.Handle, 6)
	for i := range hs {
		grid := region.Code("500107001002003")
		if i >= 4 {
			grid = "500107001003001" // the main crosses into the next community
		}
		hs[i] = f.device(fmt.Sprintf("s%d", i), sensor.Device{Asset: "main-7", Grid: grid,
			Location: geo.Point{Lat: 29.5, Lon: 106.500 + 0.002*float64(i)}})
	}
	f.add(burstRule())
	for range 5 {
		for _, h := range hs {
			f.read(h, 0.40)
		}
		f.clk.Advance(time.Minute)
	}
	return f, hs
}

func TestBurstOneAlarmWithLocation(t *testing.T) {
	f, hs := burstMain(t)
	// The main breaks between s2 and s3, nearer s2: pressure drops most
	// there, less further away, hardly at the ends.
	drops := []float64{0.05, 0.12, 0.30, 0.20, 0.11, 0.04}
	for i, h := range hs {
		f.read(h, 0.40-drops[i])
	}
	subjects := f.pub.subjects()
	evs := f.pub.take(t)
	var got []string
	for _, ev := range evs {
		got = append(got, ev.Event)
		if ev.Alarm.ID != evs[0].Alarm.ID {
			t.Fatalf("a second alarm %+v", ev.Alarm)
		}
	}
	if strings.Join(got, ",") != "raised,updated,updated" {
		t.Fatalf("events %v", got)
	}
	all := f.alarms(sensor.AlarmFilter{})
	if len(all) != 1 {
		t.Fatalf("%d alarms", len(all))
	}
	a := all[0]
	// Weighted by the drops of s1..s4 (0.12, 0.30, 0.20, 0.11): the
	// estimate lies between s2 (106.504) and s3 (106.506), nearer s2.
	wantLon := 106.5 + (0.12*0.002+0.30*0.004+0.20*0.006+0.11*0.008)/(0.12+0.30+0.20+0.11)
	if a.Kind != sensor.AlarmBurst || a.Asset != "main-7" || a.Rule != "main-burst" || a.Status != sensor.AlarmActive ||
		strings.Join(a.Devices, ",") != "s1,s2,s3,s4" || math.Abs(a.Location.Lon-wantLon) > 1e-6 || math.Abs(a.Location.Lat-29.5) > 1e-9 ||
		a.Grid != "500107001" || math.Abs(a.Value-0.30) > 1e-9 || a.Device != "" {
		t.Fatalf("burst %+v (want lon %.6f)", a, wantLon)
	}
	if a.Location.Lon <= 106.504 || a.Location.Lon >= 106.505 {
		t.Fatalf("estimate %v not between s2 and the midpoint", a.Location)
	}
	if subjects[0] != "gov.500000.500107.500107001.sensor.alarm.raised" {
		t.Fatal(subjects)
	}

	// Repair: the pressure comes back; the alarm clears when the last of
	// its devices is restored.
	f.clk.Advance(time.Hour)
	for _, h := range hs[:4] {
		f.read(h, 0.40)
	}
	f.expect()
	f.read(hs[4], 0.40)
	f.expect("cleared major")
}

func TestBurstClearsWhenAllRestored(t *testing.T) {
	f, hs := burstMain(t)
	f.read(hs[2], 0.10)
	f.read(hs[3], 0.15)
	f.expect("raised major")
	f.clk.Advance(time.Minute)
	f.read(hs[2], 0.35)
	f.expect()
	f.read(hs[3], 0.35)
	f.expect("cleared major")
}

func TestBurstLoneDeviceAlarmsAfterWindow(t *testing.T) {
	f, hs := burstMain(t)
	f.read(hs[0], 0.20) // one sensor drops: a faulty sensor, or a small leak
	f.expect()
	f.clk.Advance(5*time.Minute - time.Second)
	f.expect()
	f.clk.Advance(time.Second)
	f.expect("raised major")
	a := f.alarms(sensor.AlarmFilter{})
	if len(a) != 1 || a[0].Kind != sensor.AlarmDevice || a[0].Device != "s0" {
		t.Fatalf("alarms %+v", a)
	}
}

func TestBurstWaitingDeviceRecovers(t *testing.T) {
	f, hs := burstMain(t)
	f.read(hs[0], 0.20)
	f.clk.Advance(time.Minute)
	f.read(hs[0], 0.40) // the change no longer holds: s0 leaves before anyone joins
	f.read(hs[1], 0.20) // so s1 waits alone
	f.expect()
	f.clk.Advance(5 * time.Minute)
	f.expect("raised major")
	if a := f.alarms(sensor.AlarmFilter{}); len(a) != 1 || a[0].Kind != sensor.AlarmDevice || a[0].Device != "s1" {
		t.Fatalf("alarms %+v", a)
	}
}

func TestBurstDevicesWithoutAssetAlarmAlone(t *testing.T) {
	f := newRuleFixture(t, sensor.EngineOptions{})
	h := f.device("lone", sensor.Device{})
	f.add(burstRule())
	f.read(h, 0.4)
	f.step(time.Minute, h, 0.1)
	f.expect("raised major")
}

func TestBurstSeverityFollowsItsDevices(t *testing.T) {
	f := newRuleFixture(t, sensor.EngineOptions{})
	var hs []sensor.Handle
	for i := range 3 {
		hs = append(hs, f.device(fmt.Sprintf("s%d", i), sensor.Device{Asset: "main-9", Location: geo.Point{Lat: 29.5, Lon: 106.5 + 0.001*float64(i)}}))
	}
	r := rulePressureRule("ladder",
		sensor.Condition{Kind: sensor.Range, Severity: sensor.Major, Low: 0, High: 0.25},
		sensor.Condition{Kind: sensor.Range, Severity: sensor.Critical, Low: 0, High: 0.1})
	r.Clear = &sensor.Condition{Op: ">", Value: 0.3}
	r.Correlate = &sensor.Correlation{By: "asset", Window: time.Minute}
	f.add(r)
	f.read(hs[0], 0.2)
	f.read(hs[1], 0.2)
	f.expect("raised major")
	f.step(time.Second, hs[1], 0.05)
	f.expect("updated critical")
	f.step(time.Second, hs[1], 0.35) // the critical one recovers
	f.expect("updated major")
	f.read(hs[2], 0.2) // joins the open burst
	f.expect("updated major")
	a := f.alarms(sensor.AlarmFilter{Kind: sensor.AlarmBurst})
	if len(a) != 1 || strings.Join(a[0].Devices, ",") != "s0,s1,s2" {
		t.Fatalf("burst %+v", a)
	}
	if err := f.eng.RemoveRule(f.ctx, "ladder"); err != nil {
		t.Fatal(err)
	}
	f.expect("cleared major")
	if st := f.eng.Stats(); st.Open != 0 {
		t.Fatalf("stats %+v", st)
	}
}
