package incidenttest_test

import (
	"testing"

	"github.com/govkit/govkit/incident"
	"github.com/govkit/govkit/incident/incidenttest"
)

// A store's test file runs the suite against a fresh store per subtest.
func ExampleRun() {
	_ = func(t *testing.T) {
		incidenttest.Run(t, func(t *testing.T) incident.Store {
			return incident.NewMemoryStore()
		})
	}
}
