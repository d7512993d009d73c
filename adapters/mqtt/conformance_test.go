package mqtt

import (
	"testing"

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
