package sensor_test

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/clock"

	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/sensor"
)

func ExampleRegistry() {
	r := sensor.NewRegistry()
	_ = r.AddProfile(sensor.Profile{Name: "smoke-detector-v2", Resources: []sensor.Resource{
		{Name: "smoke", Unit: "ppm", Min: 0, Max: 10000, Interval: 300e9},
	}})
	h, err := r.Register(sensor.Device{
		ID: "sd-42", Profile: "smoke-detector-v2", Location: geo.Point{Lat: 29.5630, Lon: 106.5516},
		Grid: "500107001002003", Labels: map[string]string{"building": "old-compound-7"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	d, _ := r.Device(h)
	fmt.Println(d.ID, d.Grid, d.Labels["building"])
	// Output: sd-42 500107001002003 old-compound-7
}

// An e-bike is detected entering an elevator car (S14): the building's
// platform holds the doors open until it is wheeled out, and tracks
// whether the controller obeyed in time.
func ExampleCommander() {
	reg := sensor.NewRegistry()
	_ = reg.AddProfile(sensor.Profile{Name: "lift-controller", Resources: []sensor.Resource{{Name: "ebike", Min: 0, Max: 1}}})
	_, _ = reg.Register(sensor.Device{ID: "lift-12", Profile: "lift-controller", Grid: "500107001002003"})

	clk := clock.NewManual(time.Date(2026, 12, 6, 19, 30, 0, 0, time.UTC))
	b, _ := bus.NewMemory(bus.MemoryOptions{})
	defer b.Close()
	cmd, _ := sensor.NewCommander(reg, b, clk, sensor.CommanderOptions{Authorizer: access.AllowAll(), Timeout: 5 * time.Second})

	ctx := context.Background()
	// The controller, here simulated, receives its commands on its own subject.
	_, _ = b.Subscribe(ctx, "gov.>", "lift-12", func(ctx context.Context, m bus.Message) error {
		var c sensor.CommandMessage
		_ = json.Unmarshal(m.Data, &c)
		fmt.Println("controller:", m.Subject, c.Name, string(c.Params))
		return cmd.Reply(sensor.CommandReply{ID: c.ID, State: "succeeded"})
	})

	actor := access.Actor{ID: "platform-7", Kind: access.AutomationSystem, Scope: "500107"}
	rec, err := cmd.Send(access.WithActor(ctx, actor), sensor.Command{Device: "lift-12", Name: "hold-doors", Params: json.RawMessage(`{"until":"ebike-gone"}`)})
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = b.Drain(ctx)
	got, _ := cmd.Status(rec.ID)
	fmt.Println("command:", got.State)
	// Output:
	// controller: gov.500000.500107.500107001.sensor.command.lift-12 hold-doors {"until":"ebike-gone"}
	// command: succeeded
}
