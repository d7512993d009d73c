package mqtt

import (
	"context"
	"testing"
	"time"

	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/bus/bustest"
)

// TestConformance runs the bus conformance suite against the broker at
// GOVKIT_TEST_MQTT.
//
// NoKeyOrder: shared subscriptions deal a group's messages round-robin to
// its members, so two members can handle one key's messages at once, and
// a message handed back after MaxAttempts failures is overtaken by later
// ones. One member handles a key's messages in order as long as none is
// handed back.
//
// Durable groups hold: a closed member's persistent session keeps
// receiving its share, and the next member in the same slot resumes it
// (TestDurableAcrossRestart shows the same across a process restart).
func TestConformance(t *testing.T) {
	server := serverURL(t)
	bustest.Run(t, bustest.Harness{
		New: func(t *testing.T) bus.Bus {
			return newTestBus(t, testOptions(t, server))
		},
		Prefix:     "govkit-mqtt-test",
		NoKeyOrder: true,
	})
}

// TestConformancePacked runs the conformance suite on buses with PackSize
// set, with the promises of TestConformance. The suite publishes with
// Publish, which never packs, so "PackSize" shows that the option changes
// nothing there, and "EveryMessageAPack" sends each of the suite's
// messages as a pack (of one, which PublishBatch would send alone) to run
// the whole suite through the pack path: encoding, unpacking, per-message
// handling and the pack's acknowledgement. TestPackKeyOrder and
// TestPackFailingMessage cover packs of many.
func TestConformancePacked(t *testing.T) {
	server := serverURL(t)
	for name, wrap := range map[string]func(*Bus) bus.Bus{
		"PackSize":          func(b *Bus) bus.Bus { return b },
		"EveryMessageAPack": func(b *Bus) bus.Bus { return packingBus{b} },
	} {
		t.Run(name, func(t *testing.T) {
			bustest.Run(t, bustest.Harness{
				New: func(t *testing.T) bus.Bus {
					o := testOptions(t, server)
					o.PackSize = 32
					return wrap(newTestBus(t, o))
				},
				Prefix:     "govkit-mqtt-test",
				NoKeyOrder: true,
			})
		})
	}
}

// packingBus publishes every message as a pack of one.
type packingBus struct{ *Bus }

// Publish checks m as Bus.Publish does, then sends it as a pack.
func (b packingBus) Publish(ctx context.Context, m bus.Message) error {
	if err := m.Validate(); err != nil {
		return err
	}
	if err := checkWire(m); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if b.isClosed() {
		return bus.ErrClosed
	}
	now := time.Now()
	u := unit{n: 1, body: appendPacked(nil, m, now)}
	u.ends = []int{len(u.body)}
	if packedSize(m, now) > maxPackBytes {
		return b.Bus.Publish(ctx, m) // too big for a pack
	}
	f := &flight{topic: Topic(m.Subject), numbered: true, pack: &packFlight{u: u, ms: []bus.Message{m}}}
	code, err := b.pub.publish(ctx, f)
	return b.count(code, err, 1)
}
