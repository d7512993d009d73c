package postgres_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/incident"
)

// Changes written at once share transactions, and each still gets the
// answer it would have had alone: of several reports with one key, one
// opens the case and the others are told who holds the key; of several
// updates from one version, one wins; a failure leaves nothing of its
// change behind, and takes nothing of the others with it.
func TestIncidentGroupedWrites(t *testing.T) {
	s, db := newIncidentStore(t)
	ctx := testCtx(t)
	existing := hotlineReport(t)
	existing.Keys = nil
	require.NoError(t, s.Apply(ctx, incident.Change{Create: []incident.Incident{existing}}))

	change := func(inc incident.Incident, seq int) incident.Change {
		return incident.Change{
			Timeline: []incident.Entry{incident.Link(nil, incident.Entry{Incident: inc.ID, Time: time.Now(), Action: "report", To: inc.Status})},
			Events: []bus.Message{{ID: uuid.Must(uuid.NewV7()).String(), Subject: "gov.500000.500107.incident.reported",
				Key: inc.ID.String(), Data: []byte(`{}`)}},
		}
	}
	for round := range 5 {
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			created []uuid.UUID // distinct keys: all must succeed
			keyWins []uuid.UUID
			keyLost []error
			updWins int
			updLost []error
		)
		sharedKey := fmt.Sprintf("app:round-%d", round)
		for i := range 48 {
			wg.Go(func() {
				inc := hotlineReport(t)
				inc.ID = uuid.Must(uuid.NewV7())
				switch {
				case i%6 == 0: // one key, many reports
					inc.Keys = []string{sharedKey}
					c := change(inc, 1)
					c.Create = []incident.Incident{inc}
					err := s.Apply(ctx, c)
					mu.Lock()
					if err == nil {
						keyWins = append(keyWins, inc.ID)
					} else {
						keyLost = append(keyLost, err)
					}
					mu.Unlock()
				case i%6 == 1: // one version, many updates
					upd := existing.Clone()
					upd.Version = existing.Version + 1
					upd.Description = fmt.Sprint("round ", round, " writer ", i)
					err := s.Apply(ctx, incident.Change{Update: []incident.Incident{upd}})
					mu.Lock()
					if err == nil {
						updWins++
					} else {
						updLost = append(updLost, err)
					}
					mu.Unlock()
				default:
					inc.Keys = []string{fmt.Sprintf("app:round-%d-%d", round, i)}
					c := change(inc, 1)
					c.Create = []incident.Incident{inc}
					if err := s.Apply(ctx, c); err != nil {
						t.Errorf("a change of its own failed: %v", err)
						return
					}
					mu.Lock()
					created = append(created, inc.ID)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		require.Len(t, created, 32)
		require.Len(t, keyWins, 1, "one report opens the case of the shared key")
		require.Len(t, keyLost, 7)
		for _, err := range keyLost {
			var dup *incident.DuplicateKeyError
			require.ErrorAs(t, err, &dup)
			assert.Equal(t, keyWins[0], dup.Existing)
		}
		require.Equal(t, 1, updWins, "one update from the version wins")
		for _, err := range updLost {
			require.ErrorIs(t, err, incident.ErrConflict)
		}
		existing.Version++
		for _, id := range append(created, keyWins...) {
			tl, err := s.Timeline(ctx, id)
			require.NoError(t, err)
			require.Len(t, tl, 1)
		}
	}
	// Nothing of the losers was written: 1 + 5 × 33 cases, each with one
	// entry and one event except the first.
	assert.Equal(t, 1+5*33, queryInt(t, db, "SELECT count(*) FROM govkit_incident"))
	assert.Equal(t, 5*33, queryInt(t, db, "SELECT count(*) FROM govkit_incident_timeline"))
	assert.Equal(t, 5*33, queryInt(t, db, "SELECT count(*) FROM govkit_incident_event"))

	// Without a conflict among them, writes that queue share commits.
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() {
			inc := hotlineReport(t)
			inc.ID, inc.Keys = uuid.Must(uuid.NewV7()), []string{fmt.Sprint("app:calm-", i)}
			c := change(inc, 1)
			c.Create = []incident.Incident{inc}
			assert.NoError(t, s.Apply(ctx, c))
		})
	}
	wg.Wait()
	assert.Equal(t, 1+5*33+64, queryInt(t, db, "SELECT count(*) FROM govkit_incident"))
	assert.Positive(t, s.SharedWrites(), "the writes shared transactions")
	t.Logf("%d changes committed in shared transactions", s.SharedWrites())
}
