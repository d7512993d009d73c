package sensor_test

import (
	"context"
	"fmt"
	"time"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/clock"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/sensor"
)

// A district's sensor process keeps its devices, rules and alarms in a
// Store (here in memory; postgres.NewSensorStore in production). After a
// restart the registry and the engine are rebuilt from it: the alarm
// raised and acknowledged before is the same alarm, still acknowledged,
// and the next reading clears it.
func ExampleLoadRegistry() {
	ctx := context.Background()
	store := sensor.NewMemoryStore()
	clk := clock.NewManual(time.Date(2026, time.October, 8, 9, 0, 0, 0, time.UTC))

	// start is what the process does at start-up.
	start := func() (*sensor.Registry, *sensor.Devices, *sensor.Engine) {
		reg, err := sensor.LoadRegistry(ctx, store)
		if err != nil {
			panic(err)
		}
		devs, err := sensor.NewDevices(reg, store, sensor.DevicesOptions{Authorizer: access.AllowAll()})
		if err != nil {
			panic(err)
		}
		eng, err := sensor.NewEngine(reg, clk, nil, sensor.EngineOptions{Authorizer: access.AllowAll(), Store: store})
		if err != nil {
			panic(err)
		}
		return reg, devs, eng
	}
	read := func(reg *sensor.Registry, eng *sensor.Engine, v float64) {
		h, _ := reg.Lookup("cq-pp-000017")
		eng.Observe([]sensor.Reading{{Device: h, Value: v, Observed: clk.Now()}})
	}

	reg, devs, eng := start()
	_ = devs.AddProfile(ctx, sensor.Profile{Name: "pipe-pressure", Resources: []sensor.Resource{
		{Name: "pressure", Unit: "MPa", Min: 0, Max: 2, Interval: time.Minute}}})
	_, _ = devs.Register(ctx, sensor.Device{ID: "cq-pp-000017", Profile: "pipe-pressure", Grid: "500107001002003",
		Location: geo.Point{Lat: 29.503, Lon: 106.512}, Asset: "main-jlp-yjp-07"})
	_ = eng.AddRule(ctx, sensor.Rule{ID: "main-pressure-high",
		Scope: sensor.Scope{Profile: "pipe-pressure", Resource: "pressure"},
		Raise: []sensor.Condition{{Op: ">", Value: 0.8}}, Clear: &sensor.Condition{Op: "<", Value: 0.6}})
	read(reg, eng, 0.9)
	alarms, _ := eng.Alarms(ctx, sensor.AlarmFilter{})
	clk.Advance(time.Minute)
	_, _ = eng.Ack(access.WithActor(ctx, access.Actor{ID: "jlp-water-duty-02"}), alarms[0].ID)
	eng.Close()

	// The process restarts.
	reg, _, eng = start()
	defer eng.Close()
	restored, _ := eng.Alarms(ctx, sensor.AlarmFilter{})
	a := restored[0]
	fmt.Println(a.ID == alarms[0].ID, a.Status, "acknowledged by", a.AckedBy)
	read(reg, eng, 0.95) // still high: no second alarm
	fmt.Println("open:", eng.Stats().Open, "raised since the restart:", eng.Stats().Raised)
	read(reg, eng, 0.5)
	stored, _ := store.Alarm(ctx, a.ID)
	fmt.Println(stored.Status, "acknowledged by", stored.AckedBy)
	// Output:
	// true active acknowledged by jlp-water-duty-02
	// open: 1 raised since the restart: 0
	// cleared acknowledged by jlp-water-duty-02
}
