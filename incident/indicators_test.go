package incident_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/incident"
	"github.com/govkit/govkit/region"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIndicators(t *testing.T) {
	h := newHarness(t)
	report := func(key string, meters float64) uuid.UUID {
		return must[incident.Receipt](t)(h.svc.Report(as(zhao), waste(key, north(inStreet1, meters)))).Incident.ID
	}
	handle := func(id uuid.UUID) {
		must[incident.Incident](t)(h.svc.MarkDispatched(as(operator), id, ""))
		must[incident.Incident](t)(h.svc.Start(as(handler), id, ""))
		must[incident.Incident](t)(h.svc.Dispose(as(handler), id, ""))
		must[incident.Incident](t)(h.svc.BeginVerification(as(district), id, ""))
	}

	// A: registered on time, handled on time, rated 5. D duplicates it.
	a := report("A", 0)
	d := report("D", 30)
	must[incident.Incident](t)(h.svc.Merge(as(operator), a, []uuid.UUID{d}, ""))
	must[incident.Incident](t)(h.svc.Register(as(operator), a, ""))
	handle(a)
	must[incident.Incident](t)(h.svc.Verify(as(verifier), a, true, ""))
	must[incident.Incident](t)(h.svc.Evaluate(as(zhao), a, 5, ""))

	// B: registered late, disposed late, reworked once, rated 3.
	b := report("B", 2000)
	h.clk.Advance(3 * time.Hour) // 13:00 > 12:00 register deadline
	must[incident.Incident](t)(h.svc.Register(as(operator), b, ""))
	must[incident.Incident](t)(h.svc.MarkDispatched(as(operator), b, ""))
	must[incident.Incident](t)(h.svc.Start(as(handler), b, ""))
	h.clk.Advance(24 * time.Hour) // past the 4-working-hour disposal deadline
	must[incident.Incident](t)(h.svc.Dispose(as(handler), b, ""))
	must[incident.Incident](t)(h.svc.BeginVerification(as(district), b, ""))
	must[incident.Incident](t)(h.svc.Verify(as(verifier), b, false, "not finished"))
	must[incident.Incident](t)(h.svc.Dispose(as(handler), b, ""))
	must[incident.Incident](t)(h.svc.BeginVerification(as(district), b, ""))
	must[incident.Incident](t)(h.svc.Verify(as(verifier), b, true, ""))
	must[incident.Incident](t)(h.svc.Evaluate(as(zhao), b, 3, ""))

	// C: reported, never registered. E: the problem at A's place again.
	report("C", 4000)
	report("E", 20)

	from := monday10.Add(-time.Hour)
	ind, err := h.svc.Indicators(as(analyst), "500000", from, from.Add(7*24*time.Hour))
	require.NoError(t, err)
	assert.Equal(t, 4, ind.Reported, "A, B, C, E")
	assert.Equal(t, 1, ind.Duplicates)
	assert.Equal(t, 2, ind.Registered)
	assert.Equal(t, 1, ind.RegisteredOnTime)
	assert.Equal(t, 2, ind.Closed)
	assert.Equal(t, 1, ind.ClosedOnTime)
	assert.Equal(t, 1, ind.Reworked)
	assert.Equal(t, 1, ind.Reworks)
	assert.Equal(t, 1, ind.Repeats, "E came back where A was fixed")
	assert.Equal(t, 2, ind.Evaluated)
	assert.Equal(t, 1, ind.Satisfied)
	assert.InDelta(t, 0.5, ind.OnTimeRegistrationRate, 1e-9)
	assert.InDelta(t, 1.0, ind.ClosureRate, 1e-9)
	assert.InDelta(t, 0.5, ind.OnTimeClosureRate, 1e-9)
	assert.InDelta(t, 0.25, ind.RepeatRate, 1e-9)
	assert.InDelta(t, 4.0, ind.MeanRating, 1e-9)
	assert.Greater(t, ind.HandlingTime, time.Duration(0))

	// Another district's numbers are empty; the analyst may read them, a
	// street operator may not read the city's.
	other, err := h.svc.Indicators(as(analyst), "500002", from, from.Add(7*24*time.Hour))
	require.NoError(t, err)
	assert.Zero(t, other.Reported)
	_, err = h.svc.Indicators(as(operator), "500000", from, from.Add(time.Hour))
	assert.ErrorIs(t, err, access.ErrDenied)
	_, err = h.svc.Indicators(as(analyst), "500000", from, from)
	assert.ErrorIs(t, err, incident.ErrInvalidQuery)
}

// Penalties and fines are counted for the cases reported in the period in
// the subtree, exactly, merged duplicates included.
func TestIndicatorsCountPenalties(t *testing.T) {
	h := newHarness(t)
	penalize := func(id uuid.UUID, decision, amount string) {
		must[incident.Incident](t)(h.svc.RecordPenalty(as(handler), id, fine(t, decision, amount)))
	}
	a := inProgress(t, h, "ind-a", inStreet1)
	penalize(a, "A-1", "2000")
	penalize(a, "A-2", "150.5")
	b := inProgress(t, h, "ind-b", inStreet2)
	penalize(b, "B-1", "300.25")
	d := inProgress(t, h, "ind-d", north(inStreet1, 30))
	penalize(d, "D-1", "0.01")
	must[incident.Incident](t)(h.svc.Merge(as(operator), a, []uuid.UUID{d}, "same truck"))
	inProgress(t, h, "ind-none", inStreet1) // no penalty

	// After the period: not counted.
	h.clk.Advance(3 * 24 * time.Hour)
	penalize(inProgress(t, h, "ind-late", inStreet1), "L-1", "99.99")

	from := monday10.Add(-time.Hour)
	to := from.Add(48 * time.Hour)
	for _, tc := range []struct {
		within    string
		penalties int
		fines     string
	}{
		{"500000", 4, "2450.76"},
		{"500001001", 3, "2150.51"},
		{"500001002", 1, "300.25"},
		{"500002", 0, "0.00"},
	} {
		ind, err := h.svc.Indicators(as(analyst), region.Code(tc.within), from, to)
		require.NoError(t, err)
		assert.Equal(t, tc.penalties, ind.Penalties, tc.within)
		assert.Equal(t, tc.fines, ind.Fines.String(), tc.within)
	}
	all, err := h.svc.Indicators(as(analyst), "500000", from, from.Add(7*24*time.Hour))
	require.NoError(t, err)
	assert.Equal(t, 5, all.Penalties)
	assert.Equal(t, "2550.75", all.Fines.String())
}
