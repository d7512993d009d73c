package risktest_test

import (
	"testing"

	"github.com/govkit/govkit/risk"
	"github.com/govkit/govkit/risk/risktest"
)

// A store's test file runs the suite against a fresh store per subtest.
func ExampleRun() {
	_ = func(t *testing.T) {
		risktest.Run(t, func(t *testing.T) risk.Store { return risk.NewMemoryStore() })
	}
}
