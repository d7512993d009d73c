package incident_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/incident"
	"github.com/govkit/govkit/region"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// S16: the case lies in district 500001, and a body of district 500002
// handles it. Its officer, whose scope is his own district, reads the
// case and records his fine on it once the case names his unit among its
// handling units, and may do nothing else there.
func TestHandlersFromAnotherDistrict(t *testing.T) {
	var (
		mu    sync.Mutex
		units = map[uuid.UUID][]region.Code{}
		fail  error
		calls int
	)
	h := newHarness(t, func(c *incident.Config) {
		c.HandlingUnits = func(_ context.Context, id uuid.UUID) ([]region.Code, error) {
			mu.Lock()
			defer mu.Unlock()
			calls++
			return units[id], fail
		}
	})
	id := inProgress(t, h, "x-district", inStreet1)
	officer := access.Actor{ID: "h-far", Kind: access.DepartmentHandler, Scope: "500002", Roles: []string{"handler", "verifier"}}

	_, err := h.svc.RecordPenalty(as(officer), id, fine(t, "渝巴执罚〔2024〕7号", "800"))
	assert.ErrorIs(t, err, access.ErrDenied, "no unit of his handles the case")

	mu.Lock()
	units[id] = []region.Code{"500001", "500002001"} // the case's district bureau and the far street team
	mu.Unlock()
	got, err := h.svc.Get(as(officer), id)
	require.NoError(t, err)
	assert.Equal(t, id, got.ID)
	inc, err := h.svc.RecordPenalty(as(officer), id, fine(t, "渝巴执罚〔2024〕7号", "800"))
	require.NoError(t, err)
	assert.Contains(t, inc.Handlers, "h-far")

	// Verifying, and anything else but reading and handling, stays with
	// the case's grid.
	must[incident.Incident](t)(h.svc.Dispose(as(handler), id, "done"))
	_, err = h.svc.BeginVerification(as(officer), id, "")
	assert.ErrorIs(t, err, access.ErrDenied)

	// Actors whose scope covers the case's grid are not looked up.
	mu.Lock()
	before := calls
	mu.Unlock()
	must[incident.Incident](t)(h.svc.Get(as(handler), id))
	mu.Lock()
	assert.Equal(t, before, calls)
	fail = errors.New("dispatch store unreachable")
	mu.Unlock()

	// A lookup that fails is an error, and the case stays as it was.
	v := must[incident.Incident](t)(h.svc.Get(as(operator), id)).Version
	_, err = h.svc.RecordPenalty(as(officer), id, fine(t, "渝巴执罚〔2024〕8号", "100"))
	assert.ErrorIs(t, err, fail)
	assert.Equal(t, v, must[incident.Incident](t)(h.svc.Get(as(operator), id)).Version)
}
