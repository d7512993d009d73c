package sensor_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/clock"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/sensor"
)

// alarmPrinter stands in for the bus: it prints each alarm event's
// subject and what changed.
type alarmPrinter struct{}

func (alarmPrinter) Publish(_ context.Context, m bus.Message) error {
	ev, err := sensor.DecodeAlarmEvent(m)
	if err != nil {
		return err
	}
	who := ev.Alarm.Device
	if ev.Alarm.Kind == sensor.AlarmBurst {
		who = ev.Alarm.Asset
	}
	fmt.Printf("%s: %s %s %s\n", m.Subject, ev.Alarm.Severity, ev.Alarm.Kind, who)
	return nil
}

// A water main bursts (scenario S4). Five pressure sensors watch a 600 mm
// main; a rule as data raises a critical alarm when the pressure falls by
// more than 0.1 MPa within five minutes, cleared only when it is restored
// above 0.3 MPa, and correlated by asset: the sensors that see the drop
// raise one burst alarm whose location, the centroid of their positions
// weighted by the size of each drop, tells the repair crew where to dig.
func Example_waterMainBurst() {
	reg := sensor.NewRegistry()
	_ = reg.AddProfile(sensor.Profile{Name: "pipe-pressure", Resources: []sensor.Resource{
		{Name: "pressure", Unit: "MPa", Min: 0, Max: 2, Interval: time.Minute},
	}})
	var sensors []sensor.Handle
	for i := range 5 { // 300 m apart along the main, west to east
		h, _ := reg.Register(sensor.Device{ID: fmt.Sprintf("pp-%d", i+1), Profile: "pipe-pressure",
			Location: geo.Point{Lat: 29.52850, Lon: 106.46500 + 0.003*float64(i)},
			Grid:     "500107001002003", Asset: "main-DN600-07"})
		sensors = append(sensors, h)
	}
	clk := clock.NewManual(time.Date(2026, 10, 8, 9, 0, 0, 0, time.UTC))
	eng, _ := sensor.NewEngine(reg, clk, alarmPrinter{}, sensor.EngineOptions{Authorizer: access.AllowAll()})
	defer eng.Close()

	rule, err := sensor.ParseRule([]byte(`{
	  "id": "main-burst",
	  "scope": {"profile": "pipe-pressure", "resource": "pressure", "grid": "500107"},
	  "raise": [{"severity": "critical", "kind": "rate", "op": "<", "value": -0.1, "window": "5m"}],
	  "clear": {"op": ">", "value": 0.3},
	  "correlate": {"by": "asset", "window": "5m"}
	}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := eng.AddRule(context.Background(), rule); err != nil {
		fmt.Println(err)
		return
	}

	reading := func(h sensor.Handle, mpa float64) sensor.Reading {
		return sensor.Reading{Device: h, Value: mpa, Observed: clk.Now()}
	}
	for range 5 { // five quiet minutes
		for _, h := range sensors {
			eng.Observe([]sensor.Reading{reading(h, 0.42)})
		}
		clk.Advance(time.Minute)
	}
	// The main breaks between pp-3 and pp-4, nearer pp-3.
	drops := []float64{0.02, 0.14, 0.31, 0.22, 0.06}
	var batch []sensor.Reading
	for i, h := range sensors {
		batch = append(batch, reading(h, 0.42-drops[i]))
	}
	eng.Observe(batch)

	bursts, _ := eng.Alarms(context.Background(), sensor.AlarmFilter{Kind: sensor.AlarmBurst})
	a := bursts[0]
	fmt.Println(len(bursts), "alarm for", strings.Join(a.Devices, ", "))
	fmt.Printf("estimated break at %.5f, %.5f (pp-3 is at 106.47100, pp-4 at 106.47400)\n", a.Location.Lat, a.Location.Lon)
	// Output:
	// gov.500000.500107.500107001.sensor.alarm.raised: critical burst main-DN600-07
	// gov.500000.500107.500107001.sensor.alarm.updated: critical burst main-DN600-07
	// 1 alarm for pp-2, pp-3, pp-4
	// estimated break at 29.52850, 106.47136 (pp-3 is at 106.47100, pp-4 at 106.47400)
}

// An elderly resident living alone wears a wristband (scenario S14): a
// fall flag raises a critical alarm at once, and a wristband that stops
// reporting its pulse raises one too, after three of its own reporting
// intervals, learned from its history. The grid member acknowledges.
func Example_elderlyFallAlarm() {
	reg := sensor.NewRegistry()
	_ = reg.AddProfile(sensor.Profile{Name: "wristband-v1", Resources: []sensor.Resource{
		{Name: "fall", Min: 0, Max: 1},
		{Name: "pulse", Unit: "bpm", Min: 20, Max: 250, Interval: 5 * time.Minute},
	}})
	band, _ := reg.Register(sensor.Device{ID: "wb-0731", Profile: "wristband-v1",
		Grid: "500107001002003", Location: geo.Point{Lat: 29.5301, Lon: 106.4712},
		Labels: map[string]string{"lives": "alone"}})
	clk := clock.NewManual(time.Date(2026, 10, 8, 6, 0, 0, 0, time.UTC))
	eng, _ := sensor.NewEngine(reg, clk, alarmPrinter{}, sensor.EngineOptions{Authorizer: access.AllowAll()})
	defer eng.Close()

	alone := map[string]string{"lives": "alone"}
	fall := sensor.Rule{ID: "fall", Scope: sensor.Scope{Profile: "wristband-v1", Resource: "fall", Labels: alone},
		Raise: []sensor.Condition{{Severity: sensor.Critical, Op: ">=", Value: 1}}}
	offline := sensor.Rule{ID: "wristband-silent", Scope: sensor.Scope{Profile: "wristband-v1", Resource: "pulse", Labels: alone},
		Raise: []sensor.Condition{{Kind: sensor.Missing, Severity: sensor.Major, Learn: true, Multiple: 3}}}
	for _, r := range []sensor.Rule{fall, offline} {
		if err := eng.AddRule(context.Background(), r); err != nil {
			fmt.Println(err)
			return
		}
	}
	const pulse, fallFlag = 1, 0 // resource indexes
	// The band reports its pulse every minute.
	for range 6 {
		eng.Observe([]sensor.Reading{{Device: band, Resource: pulse, Value: 72, Observed: clk.Now()}})
		clk.Advance(time.Minute)
	}
	eng.Observe([]sensor.Reading{{Device: band, Resource: fallFlag, Value: 1, Observed: clk.Now()}})

	member := access.WithActor(context.Background(), access.Actor{ID: "gm-17", Kind: access.GridMember, Scope: "500107001002003"})
	open, _ := eng.Alarms(member, sensor.AlarmFilter{Rule: "fall", Unacked: true})
	acked, _ := eng.Ack(member, open[0].ID)
	fmt.Println("acknowledged by", acked.AckedBy)

	clk.Advance(10 * time.Minute) // the band goes quiet
	silent, _ := eng.Alarms(member, sensor.AlarmFilter{Rule: "wristband-silent"})
	fmt.Println(silent[0].Note)
	// Output:
	// gov.500000.500107.500107001.sensor.alarm.raised: critical device wb-0731
	// gov.500000.500107.500107001.sensor.alarm.acknowledged: critical device wb-0731
	// acknowledged by gm-17
	// gov.500000.500107.500107001.sensor.alarm.raised: major device wb-0731
	// no pulse reading for 3m0s (timeout 3m0s)
}

// A rule is checked before it is enabled: ParseRule names the field at
// fault, and Backtest replays history through it.
func ExampleEngine_Backtest() {
	reg := sensor.NewRegistry()
	_ = reg.AddProfile(sensor.Profile{Name: "tank-level", Resources: []sensor.Resource{{Name: "level", Unit: "m", Min: 0, Max: 20, Interval: time.Minute}}})
	tank, _ := reg.Register(sensor.Device{ID: "tank-53", Profile: "tank-level", Grid: "500107002001001"})
	eng, _ := sensor.NewEngine(reg, clock.Real(), nil, sensor.EngineOptions{Authorizer: access.AllowAll()})
	defer eng.Close()

	_, err := sensor.ParseRule([]byte(`{"id": "overfill", "scope": {"profile": "tank-level", "resource": "level"},
	  "raise": [{"op": "=>", "value": 18}]}`))
	var re *sensor.RuleError
	fmt.Println(errors.As(err, &re), re.Field)

	rule, _ := sensor.ParseRule([]byte(`{"id": "overfill", "scope": {"profile": "tank-level", "resource": "level"},
	  "raise": [{"severity": "critical", "op": ">", "value": 18.5}, {"severity": "major", "op": ">", "value": 18}],
	  "clear": {"op": "<", "value": 17}, "for": "3m"}`))
	// Yesterday's levels: filling to 18.6 m once, touching 18.2 m briefly once.
	day := time.Date(2026, 10, 7, 0, 0, 0, 0, time.UTC)
	var history []sensor.Reading
	for m := range 24 * 60 {
		level := 12.0
		switch {
		case m >= 600 && m < 640:
			level = 18.6
		case m >= 900 && m < 902:
			level = 18.2
		}
		history = append(history, sensor.Reading{Device: tank, Value: level, Observed: day.Add(time.Duration(m) * time.Minute)})
	}
	rep, err := eng.Backtest(context.Background(), rule, slices.Values(history), sensor.BacktestOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(rep.Readings, "readings,", rep.Raised, "alarm")
	for _, a := range rep.Alarms {
		if a.Raised.IsZero() {
			continue
		}
		fmt.Println(a.Severity, a.Raised.Format("15:04"), "to", a.Cleared.Format("15:04"))
	}
	// Output:
	// true raise[0].op
	// 1440 readings, 1 alarm
	// critical 10:03 to 10:40
}
