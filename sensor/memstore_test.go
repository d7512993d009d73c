package sensor_test

import (
	"testing"

	"github.com/govkit/govkit/sensor"
	"github.com/govkit/govkit/sensor/sensortest"
)

func TestMemoryStoreConformance(t *testing.T) {
	sensortest.Run(t, func(t *testing.T) sensor.Store {
		return sensor.NewMemoryStore()
	})
}
