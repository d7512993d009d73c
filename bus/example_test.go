package bus_test

import (
	"context"
	"fmt"

	"github.com/govkit/govkit/bus"
)

// A street's alarm reaches the district centre, which subscribes to its
// whole subtree, and not the neighbouring district.
func Example() {
	ctx := context.Background()
	b, _ := bus.NewMemory(bus.MemoryOptions{})
	defer b.Close()

	seen := make(chan string, 2)
	_, _ = b.Subscribe(ctx, "gov.500000.500107.>", "jiulongpo-centre", func(ctx context.Context, m bus.Message) error {
		seen <- "Jiulongpo got " + m.Subject
		return nil
	})
	_, _ = b.Subscribe(ctx, "gov.500000.500113.>", "banan-centre", func(ctx context.Context, m bus.Message) error {
		seen <- "Banan got " + m.Subject
		return nil
	})

	alarm := bus.NewMessage("gov.500000.500107.500107001.smoke.alarm", []byte(`{"device":"sd-42"}`))
	alarm.Key = "sd-42"
	if err := b.Publish(ctx, alarm); err != nil {
		fmt.Println(err)
	}
	_ = b.Drain(ctx)
	fmt.Println(<-seen)
	fmt.Println(len(seen), "more")
	// Output:
	// Jiulongpo got gov.500000.500107.500107001.smoke.alarm
	// 0 more
}

// A handler that fails is retried; after three deliveries the message goes
// to a dead-letter subject instead of blocking its key forever.
func ExampleDeadLetter() {
	ctx := context.Background()
	b, _ := bus.NewMemory(bus.MemoryOptions{Backoff: 1})
	defer b.Close()

	dead := make(chan bus.Message, 1)
	_, _ = b.Subscribe(ctx, "dlq.router", "ops", func(ctx context.Context, m bus.Message) error {
		dead <- m
		return nil
	})
	route := func(ctx context.Context, m bus.Message) error {
		return fmt.Errorf("no rule for category %s", m.Data)
	}
	_, _ = b.Subscribe(ctx, "incident.reported", "router", bus.Chain(route, bus.DeadLetter(b, "dlq.router", 3)))

	_ = b.Publish(ctx, bus.NewMessage("incident.reported", []byte("9999")))
	m := <-dead
	fmt.Println(m.Headers[bus.HeaderDeadLetterError], "after", m.Headers[bus.HeaderDeadLetterAttempts], "attempts")
	// Output: no rule for category 9999 after 3 attempts
}
