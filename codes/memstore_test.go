package codes_test

import (
	"testing"

	"github.com/govkit/govkit/codes"
	"github.com/govkit/govkit/codes/codestest"
)

func TestMemoryStoreConformance(t *testing.T) {
	codestest.Run(t, func(t *testing.T) codes.Store { return codes.NewMemoryStore() })
}
