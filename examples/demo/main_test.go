package main

import (
	"context"
	"io"
	"testing"

	"github.com/govkit/govkit/region"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDemo(t *testing.T) {
	res, err := run(context.Background(), io.Discard)
	require.NoError(t, err)
	assert.Equal(t, []region.Code{"500000", "500001", "500001001", "500001001002", "500001001002002"}, res.Path)
	assert.Equal(t, "gov.500000.500001.500001001.incident.reported", res.Subject)
	for _, centre := range []string{"city centre", "district 01 centre", "street 01-01 centre"} {
		assert.Equal(t, []string{res.Subject}, res.Received[centre], centre)
	}
	for _, centre := range []string{"district 02 centre", "street 01-02 centre"} {
		assert.Empty(t, res.Received[centre], centre)
	}
	assert.Equal(t, "crew A", res.Crew, "crew B is nearer but busy")
	assert.InDelta(t, 1928, res.CrewDist, 5)
}
