package risk_test

import (
	"testing"

	"github.com/govkit/govkit/risk"
	"github.com/govkit/govkit/risk/risktest"
)

func TestMemoryStoreConformance(t *testing.T) {
	risktest.Run(t, func(t *testing.T) risk.Store { return risk.NewMemoryStore() })
}
