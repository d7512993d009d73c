package dispatch_test

import (
	"testing"

	"github.com/govkit/govkit/dispatch"
	"github.com/govkit/govkit/dispatch/dispatchtest"
)

func TestMemoryStoreConformance(t *testing.T) {
	dispatchtest.Run(t, func(t *testing.T) dispatch.Store {
		return dispatch.NewMemoryStore()
	})
}
