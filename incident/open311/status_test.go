package open311_test

import (
	"strings"
	"testing"

	"github.com/govkit/govkit/incident"
	"github.com/govkit/govkit/incident/open311"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var allResolutions = []incident.Resolution{0, incident.Fixed, incident.NotResponsible, incident.Duplicate,
	incident.NoFurtherAction, incident.Referred, incident.Cancelled}

func TestExtendedStatusTable(t *testing.T) {
	open := map[incident.Status]string{
		incident.Reported: open311.Open, incident.Triage: open311.Investigating,
		incident.Registered: open311.Planned, incident.Dispatched: open311.ActionScheduled,
		incident.InProgress: open311.InProgress, incident.Disposed: open311.InProgress,
		incident.Verifying: open311.InProgress, incident.Rejected: open311.Closed,
	}
	for s, want := range open {
		for _, r := range allResolutions { // the resolution of a status that is not closed is ignored
			assert.Equal(t, want, open311.ExtendedStatus(s, r), "%v %v", s, r)
		}
	}
	closed := map[incident.Resolution]string{
		0: open311.Closed, incident.Fixed: open311.Fixed, incident.NoFurtherAction: open311.NoFurtherAction,
		incident.NotResponsible: open311.NotCouncilsResponsibility, incident.Duplicate: open311.Duplicate,
		incident.Referred: open311.InternalReferral, incident.Cancelled: open311.Closed,
	}
	for r, want := range closed {
		assert.Equal(t, want, open311.ExtendedStatus(incident.Closed, r), "closed %v", r)
		assert.Equal(t, want, open311.ExtendedStatus(incident.Evaluated, r), "evaluated %v", r)
	}
	assert.Empty(t, open311.ExtendedStatus(0, 0))
	assert.Empty(t, open311.ExtendedStatus(incident.Evaluated+1, 0))
}

func TestParseExtendedStatus(t *testing.T) {
	tests := []struct {
		in string
		s  incident.Status
		r  incident.Resolution
	}{
		{"OPEN", incident.Reported, 0},
		{"open", incident.Reported, 0},
		{"investigating", incident.Triage, 0},
		{"for_triage", incident.Triage, 0},
		{"PLANNED", incident.Registered, 0},
		{"REOPEN", incident.Registered, 0},
		{"action scheduled", incident.Dispatched, 0},
		{"Action-Scheduled", incident.Dispatched, 0},
		{"in_progress", incident.InProgress, 0},
		{"In Progress", incident.InProgress, 0},
		{" FIXED ", incident.Closed, incident.Fixed},
		{"no_further_action", incident.Closed, incident.NoFurtherAction},
		{"unable to fix", incident.Closed, incident.NoFurtherAction},
		{"NOT_COUNCILS_RESPONSIBILITY", incident.Closed, incident.NotResponsible},
		{"not responsible", incident.Closed, incident.NotResponsible},
		{"duplicate", incident.Closed, incident.Duplicate},
		{"internal_referral", incident.Closed, incident.Referred},
		{"closed", incident.Closed, 0},
		{"CLOSED", incident.Closed, 0},
	}
	for _, tt := range tests {
		s, r, err := open311.ParseExtendedStatus(tt.in)
		require.NoError(t, err, tt.in)
		assert.Equal(t, tt.s, s, tt.in)
		assert.Equal(t, tt.r, r, tt.in)
	}
}

func TestParseExtendedStatusUnknown(t *testing.T) {
	for _, in := range []string{"", " ", "WONTFIX", "fixed - council", "in__progress__x", strings.Repeat("A", 100)} {
		_, _, err := open311.ParseExtendedStatus(in)
		require.ErrorIs(t, err, open311.ErrUnknownStatus, in)
		var se *open311.StatusError
		require.ErrorAs(t, err, &se)
		assert.LessOrEqual(t, len(se.Status), 40)
		assert.NotErrorIs(t, err, open311.ErrInvalidRequest)
	}
}

// The mapping round-trips wherever it is one-to-one, and the lossy cases
// are exactly the documented ones.
func TestStatusRoundTrip(t *testing.T) {
	for _, ext := range []string{open311.Open, open311.Investigating, open311.Planned, open311.ActionScheduled,
		open311.InProgress, open311.Fixed, open311.NoFurtherAction, open311.NotCouncilsResponsibility,
		open311.Duplicate, open311.InternalReferral, open311.Closed} {
		s, r, err := open311.ParseExtendedStatus(ext)
		require.NoError(t, err)
		assert.Equal(t, ext, open311.ExtendedStatus(s, r), ext)
		lower := strings.ToLower(ext) // as FromIncident writes it
		s2, r2, err := open311.ParseExtendedStatus(lower)
		require.NoError(t, err)
		assert.Equal(t, [2]int{int(s), int(r)}, [2]int{int(s2), int(r2)})
	}

	type lc struct {
		s incident.Status
		r incident.Resolution
	}
	lossy := map[lc]lc{
		{incident.Disposed, 0}:                   {incident.InProgress, 0},
		{incident.Verifying, 0}:                  {incident.InProgress, 0},
		{incident.Rejected, 0}:                   {incident.Closed, 0},
		{incident.Closed, incident.Cancelled}:    {incident.Closed, 0},
		{incident.Evaluated, incident.Cancelled}: {incident.Closed, 0},
	}
	for _, r := range allResolutions[1:] {
		if r != incident.Cancelled {
			lossy[lc{incident.Evaluated, r}] = lc{incident.Closed, r}
		}
	}
	var cases []lc
	for s := incident.Reported; s <= incident.Evaluated; s++ {
		if s == incident.Closed || s == incident.Evaluated {
			for _, r := range allResolutions {
				if s == incident.Evaluated && r == 0 {
					continue // an evaluated case always has a resolution
				}
				cases = append(cases, lc{s, r})
			}
			continue
		}
		cases = append(cases, lc{s, 0})
	}
	for _, c := range cases {
		s, r, err := open311.ParseExtendedStatus(open311.ExtendedStatus(c.s, c.r))
		require.NoError(t, err)
		want, isLossy := lossy[c]
		if !isLossy {
			want = c
		}
		assert.Equal(t, want, lc{s, r}, "%v %v (lossy %v)", c.s, c.r, isLossy)
	}
}
