package sensortest_test

import (
	"testing"

	"github.com/govkit/govkit/sensor"
	"github.com/govkit/govkit/sensor/sensortest"
)

// A store's test file runs the suite against a fresh store per subtest.
func ExampleRun() {
	_ = func(t *testing.T) {
		sensortest.Run(t, func(t *testing.T) sensor.Store {
			return sensor.NewMemoryStore()
		})
	}
}
