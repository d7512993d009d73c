package permit_test

import (
	"testing"

	"github.com/govkit/govkit/permit"
	"github.com/govkit/govkit/permit/permittest"
)

func TestMemoryStoreConformance(t *testing.T) {
	permittest.Run(t, func(t *testing.T) permit.Store {
		return permit.NewMemoryStore()
	})
}
