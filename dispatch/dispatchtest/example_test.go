package dispatchtest_test

import (
	"testing"

	"github.com/govkit/govkit/dispatch"
	"github.com/govkit/govkit/dispatch/dispatchtest"
)

// A store's test file runs the suite against a fresh store per subtest.
func ExampleRun() {
	_ = func(t *testing.T) {
		dispatchtest.Run(t, func(t *testing.T) dispatch.Store {
			return dispatch.NewMemoryStore()
		})
	}
}
