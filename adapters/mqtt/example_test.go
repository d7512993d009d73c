package mqtt_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"

	"github.com/govkit/govkit/adapters/mqtt"
	"github.com/govkit/govkit/bus"
)

// The examples need a running MQTT broker, so they are compiled but not
// run.

// An ingestion service consumes the readings of a district's sensors as
// one member of the group "ingest": start it in several processes, each
// with its own stable ClientID, and the broker shares the readings out.
func Example() {
	ctx := context.Background()
	b, err := mqtt.New(ctx, mqtt.Options{
		Servers:  []string{"tcp://127.0.0.1:1883"},
		ClientID: "ingest-1", // stable across restarts: the session resumes
		OnGap: func(g mqtt.Gap) {
			slog.Warn("broker dropped readings", "device", g.Key, "lost", g.Lost())
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()

	_, err = b.Subscribe(ctx, "gov.500000.500107.>", "ingest", func(ctx context.Context, m bus.Message) error {
		fmt.Println("reading from", m.Key, string(m.Data))
		return nil // acknowledged only now
	})
	if err != nil {
		log.Fatal(err)
	}

	m := bus.NewMessage("gov.500000.500107.sensor.pressure", []byte(`{"value":0.42,"unit":"MPa"}`))
	m.Key = "p-17" // numbered per device, so that a lost reading shows as a gap
	if err := b.Publish(ctx, m); err != nil {
		log.Fatal(err)
	}
}
