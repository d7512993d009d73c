// Package bustest is the conformance suite every bus.Bus transport runs, so
// that the in-process bus, NATS JetStream and MQTT behave alike for the code
// built on them. A transport's test calls Run with a Harness:
//
//	func TestConformance(t *testing.T) {
//		bustest.Run(t, bustest.Harness{
//			New: func(t *testing.T) bus.Bus { return newMyBus(t) },
//		})
//	}
package bustest
