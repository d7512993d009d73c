package codestest_test

import (
	"testing"

	"github.com/govkit/govkit/codes"
	"github.com/govkit/govkit/codes/codestest"
)

// A store's test file runs the suite against a fresh store per subtest.
func ExampleRun() {
	_ = func(t *testing.T) {
		codestest.Run(t, func(t *testing.T) codes.Store {
			return codes.NewMemoryStore()
		})
	}
}
