package bustest_test

import (
	"testing"

	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/bus/bustest"
)

// A transport's test file runs the suite against a fresh bus per test.
func ExampleRun() {
	_ = func(t *testing.T) {
		bustest.Run(t, bustest.Harness{
			New: func(t *testing.T) bus.Bus {
				b, err := bus.NewMemory(bus.MemoryOptions{})
				if err != nil {
					t.Fatal(err)
				}
				return b
			},
		})
	}
}
