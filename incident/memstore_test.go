package incident_test

import (
	"testing"

	"github.com/govkit/govkit/incident"
	"github.com/govkit/govkit/incident/incidenttest"
)

func TestMemoryStoreConformance(t *testing.T) {
	incidenttest.Run(t, func(t *testing.T) incident.Store { return incident.NewMemoryStore() })
}
