package permittest_test

import (
	"testing"

	"github.com/govkit/govkit/permit"
	"github.com/govkit/govkit/permit/permittest"
)

// A store's test file runs the suite against a fresh store per subtest.
func ExampleRun() {
	_ = func(t *testing.T) {
		permittest.Run(t, func(t *testing.T) permit.Store {
			return permit.NewMemoryStore()
		})
	}
}
