package nats_test

import (
	"testing"

	"github.com/govkit/govkit/adapters/nats"
	"github.com/govkit/govkit/adapters/nats/natstest"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/bus/bustest"
)

func TestConformance(t *testing.T) {
	natstest.URL(t)
	bustest.Run(t, bustest.Harness{
		New: func(t *testing.T) bus.Bus {
			return natstest.Open(t, nats.Options{Subjects: []string{"bustest.>"}})
		},
		Prefix: "bustest",
	})
}
