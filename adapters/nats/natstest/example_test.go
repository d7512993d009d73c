package natstest_test

import (
	"testing"

	"github.com/govkit/govkit/adapters/nats"
	"github.com/govkit/govkit/adapters/nats/natstest"
)

// A test gets a bus on a stream of its own, deleted when the test ends.
func ExampleOpen() {
	_ = func(t *testing.T) {
		b := natstest.Open(t, nats.Options{Subjects: []string{"gov.>"}}) // skips without GOVKIT_TEST_NATS, fails under CI=true
		_ = b
	}
}
