package nats_test

import (
	"context"
	"fmt"
	"log"

	"github.com/govkit/govkit/adapters/nats"
	"github.com/govkit/govkit/bus"
)

// The examples need a running nats-server with JetStream, so they are
// compiled but not run.

// A street reports an incident; the street, district and city centres each
// receive it in their own consumer group.
func Example() {
	ctx := context.Background()
	b, err := nats.Open(ctx, nats.Options{URL: "nats://127.0.0.1:4222"})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()

	for _, centre := range []struct{ pattern, group string }{
		{"gov.500000.500107.500107001.>", "street-500107001"},
		{"gov.500000.500107.>", "district-500107"},
		{"gov.>", "city-500000"},
	} {
		_, err := b.Subscribe(ctx, centre.pattern, centre.group, func(ctx context.Context, m bus.Message) error {
			fmt.Println(centre.group, "received", m.Subject)
			return nil // acknowledges
		})
		if err != nil {
			log.Fatal(err)
		}
	}

	m := bus.NewMessage("gov.500000.500107.500107001.incident.reported", []byte(`{"category":"road.pothole"}`))
	m.Key = "incident-0193" // the events of one case stay in order
	if err := b.Publish(ctx, m); err != nil {
		log.Fatal(err)
	}
}

// A sensor gateway publishes readings in bulk, packed for throughput, and
// failing messages go to a dead-letter subject after five deliveries.
func ExampleOpen_gateway() {
	ctx := context.Background()
	b, err := nats.Open(ctx, nats.Options{
		Stream:            "SENSORS",
		Subjects:          []string{"gov.>", "dead.>"},
		Replicas:          3, // on a three-node cluster
		PackSize:          64,
		DeadLetterSubject: "dead.sensor",
		MaxDeliver:        5,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	batch := []bus.Message{
		bus.NewMessage("gov.500000.500107.sensor.reading", []byte(`{"device":"p-17","value":0.42}`)),
		bus.NewMessage("gov.500000.500107.sensor.reading", []byte(`{"device":"p-18","value":0.39}`)),
	}
	if err := b.PublishBatch(ctx, batch); err != nil {
		log.Fatal(err) // re-publishing the whole batch is safe
	}
}
