package audittest_test

import (
	"testing"

	"github.com/govkit/govkit/audit"
	"github.com/govkit/govkit/audit/audittest"
)

// A store's test file runs the suite against a fresh store per test.
func ExampleRun() {
	_ = func(t *testing.T) {
		audittest.Run(t, audittest.Harness{
			New: func(t *testing.T) audit.Store { return audit.NewMemoryStore() },
		})
	}
}
