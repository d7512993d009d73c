package sensor_test

import (
	"context"
	"fmt"
	"time"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/sensor"
)

// exampleRegistry registers one water-main pressure sensor, pp-17.
func exampleRegistry() (*sensor.Registry, sensor.Handle) {
	reg := sensor.NewRegistry()
	_ = reg.AddProfile(sensor.Profile{Name: "pipe-pressure-v1", Resources: []sensor.Resource{
		{Name: "pressure", Unit: "MPa", Min: 0, Max: 2.5, Interval: time.Minute},
		{Name: "battery", Unit: "%", Min: 0, Max: 100, Interval: time.Hour},
	}})
	h, _ := reg.Register(sensor.Device{ID: "pp-17", Profile: "pipe-pressure-v1",
		Location: geo.Point{Lat: 29.5573, Lon: 106.5773}, Asset: "main:DN500-17"})
	return reg, h
}

// printer is an observer: the rule engine takes this place.
type printer struct{}

func (printer) Observe(batch []sensor.Reading) {
	for _, r := range batch {
		fmt.Printf("observed seq %d: %.2f %s (%s)\n", r.Seq, r.Value, r.Unit, r.Quality)
	}
}

// Typed ingestion: a duplicate is absorbed, a late reading is observed but
// never becomes the latest, and an out-of-range one is rejected with a
// reason and flags the device.
func ExampleIngester() {
	reg, pp17 := exampleRegistry()
	in, _ := sensor.NewIngester(reg, sensor.IngestOptions{Authorizer: access.AllowAll(), Area: "500107", Observers: []sensor.Observer{printer{}}})
	const pressure = 0
	at := time.Now().Add(-time.Hour)
	res, err := in.Ingest(context.Background(), []sensor.Reading{
		{Device: pp17, Resource: pressure, Seq: 41, Value: 0.42, Unit: "MPa", Observed: at},
		{Device: pp17, Resource: pressure, Seq: 42, Value: 0.18, Observed: at.Add(time.Minute)},
		{Device: pp17, Resource: pressure, Seq: 42, Value: 0.18, Observed: at.Add(time.Minute)},  // resent
		{Device: pp17, Resource: pressure, Seq: 40, Value: 0.43, Observed: at.Add(-time.Minute)}, // late
		{Device: pp17, Resource: pressure, Seq: 43, Value: 9.7, Observed: at.Add(2 * time.Minute)},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("accepted %d, late %d, duplicates %d\n", res.Accepted, res.Late, res.Duplicates)
	fmt.Println(res.Err())
	latest, _ := in.Latest(pp17, pressure)
	fmt.Printf("latest: %.2f %s, seq %d\n", latest.Value, latest.Unit, latest.Seq)
	d, _ := reg.Device(pp17)
	fmt.Println("out of range:", d.OutOfRange)
	// Output:
	// observed seq 41: 0.42 MPa (good)
	// observed seq 42: 0.18  (good)
	// observed seq 40: 0.43  (late)
	// accepted 3, late 1, duplicates 1
	// sensor: reading 4 (device 0, resource 0) rejected: out-of-range
	// latest: 0.18 MPa, seq 42
	// out of range: true
}

// A device message in the JSON format DecodeJSON reads.
func ExampleDecodeJSON() {
	reg, _ := exampleRegistry()
	msg := []byte(`{"device":"pp-17","seq":42,"ts":"2024-06-10T08:15:30+08:00",
		"readings":{"pressure":[0.18,"MPa"],"battery":87}}`)
	readings, err := sensor.DecodeJSON(reg, msg, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range readings {
		fmt.Println(r.Device, r.Resource, r.Seq, r.Value, r.Unit, r.Observed.Format(time.RFC3339))
	}
	_, err = sensor.DecodeJSON(reg, []byte(`{"device":"pp-17","readings":{"presure":0.2}}`), nil)
	fmt.Println(err)
	// Output:
	// 0 0 42 0.18 MPa 2024-06-10T00:15:30Z
	// 0 1 42 87  2024-06-10T00:15:30Z
	// sensor: unknown resource at byte 30: profile "pipe-pressure-v1" has no resource "presure"
}

// Devices publish on the bus (through the MQTT adapter, say); an ingestion
// group subscribes, and its queue feeds the latest-value state.
func ExampleIngester_Subscribe() {
	reg, pp17 := exampleRegistry()
	in, _ := sensor.NewIngester(reg, sensor.IngestOptions{Authorizer: access.AllowAll(), Area: "500107", Overload: bus.Reject})
	b, _ := bus.NewMemory(bus.MemoryOptions{})
	defer b.Close()
	ctx := context.Background()

	sub, err := in.Subscribe(ctx, b, "city.water.*.up", "ingest")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sub.Close()
	_ = b.Publish(ctx, bus.NewMessage("city.water.pp-17.up", []byte(`{"device":"pp-17","seq":7,"readings":{"pressure":0.39}}`)))
	_ = b.Publish(ctx, bus.NewMessage("city.water.pp-17.up", []byte(`{"device":"pp-17",`)))
	_ = b.Drain(ctx)  // every message handled…
	_ = in.Close(ctx) // …and every queued reading ingested

	latest, _ := in.Latest(pp17, 0)
	st := in.Stats()
	fmt.Printf("pressure %.2f MPa; %d message, %d malformed\n", latest.Value, st.Messages, st.Malformed)
	// Output: pressure 0.39 MPa; 1 message, 1 malformed
}
