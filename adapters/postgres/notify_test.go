package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/govkit/govkit/adapters/postgres"
	"github.com/govkit/govkit/adapters/postgres/pgtest"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/dispatch"
)

// A store's events wake listening relays, unless the DB was opened
// WithoutOutboxNotify; the events reach the outbox either way.
func TestWithoutOutboxNotify(t *testing.T) {
	for _, quiet := range []bool{false, true} {
		t.Run(map[bool]string{false: "notifies", true: "quiet"}[quiet], func(t *testing.T) {
			ctx := testCtx(t)
			var opts []postgres.Option
			if quiet {
				opts = append(opts, postgres.WithoutOutboxNotify())
			}
			db := pgtest.New(t, opts...)
			store, err := postgres.NewDispatchStore(ctx, db)
			require.NoError(t, err)
			conn, err := db.Pool().Acquire(ctx)
			require.NoError(t, err)
			defer conn.Release()
			_, err = conn.Exec(ctx, "LISTEN "+postgres.OutboxChannel)
			require.NoError(t, err)

			ev := bus.Message{ID: uuid.Must(uuid.NewV7()).String(), Subject: "gov.500000.500107.500107001.dispatch.offered", Data: []byte("{}")}
			require.NoError(t, store.Apply(ctx, dispatch.Change{Events: []bus.Message{ev}}))
			wait, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
			defer cancel()
			_, err = conn.Conn().WaitForNotification(wait)
			if quiet {
				require.True(t, errors.Is(err, context.DeadlineExceeded), "a quiet DB woke a relay: %v", err)
			} else {
				require.NoError(t, err, "the relay was not woken")
			}
			pending, err := store.Pending(ctx, 10)
			require.NoError(t, err)
			require.Len(t, pending, 1)
			require.Equal(t, ev.ID, pending[0].ID)
		})
	}
}
