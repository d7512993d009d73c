package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/govkit/govkit/adapters/postgres"
	"github.com/govkit/govkit/adapters/postgres/pgtest"
)

// newOutboxDB returns a test DB with the outbox table.
func newOutboxDB(t *testing.T) *postgres.DB {
	t.Helper()
	db := pgtest.New(t)
	require.NoError(t, db.Setup(testCtx(t)))
	return db
}

func writeMessages(t *testing.T, db *postgres.DB, msgs ...postgres.OutboxMessage) {
	t.Helper()
	require.NoError(t, db.InTx(testCtx(t), func(ctx context.Context, tx pgx.Tx) error {
		return postgres.WriteOutbox(ctx, tx, msgs...)
	}))
}

func numbered(n int) []postgres.OutboxMessage {
	msgs := make([]postgres.OutboxMessage, n)
	for i := range msgs {
		msgs[i] = postgres.OutboxMessage{Subject: "test.numbered", Key: fmt.Sprint(i), Data: []byte(fmt.Sprint(i))}
	}
	return msgs
}

func seqsOf(msgs []postgres.OutboxMessage) []int64 {
	seqs := make([]int64, len(msgs))
	for i, m := range msgs {
		seqs[i] = m.Seq
	}
	return seqs
}

// fetch reads up to limit unpublished messages in a transaction of its own.
func fetch(t *testing.T, db *postgres.DB, limit int) []postgres.OutboxMessage {
	t.Helper()
	var msgs []postgres.OutboxMessage
	require.NoError(t, db.InTx(testCtx(t), func(ctx context.Context, tx pgx.Tx) error {
		var err error
		msgs, err = postgres.FetchUnpublished(ctx, tx, limit)
		return err
	}))
	return msgs
}

func TestWriteOutboxRoundTrip(t *testing.T) {
	t.Parallel()
	db := newOutboxDB(t)
	ctx := testCtx(t)
	explicitID := uuid.MustParse("0191d7a8-7c3e-7000-8000-000000000001")
	created := time.Date(2025, 3, 1, 12, 30, 0, 123456000, time.UTC)
	in := []postgres.OutboxMessage{
		{ID: explicitID, Subject: "govkit.incident.created", Key: "incident-7",
			Headers: map[string]string{"content-type": "application/json", "trace": "abc"},
			Data:    []byte(`{"id":7}`), CreatedAt: created},
		{Subject: "govkit.incident.updated"},
		{Subject: "govkit.incident.closed", Data: []byte{0, 1, 2, 255}},
	}
	var txTime time.Time
	require.NoError(t, db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, "SELECT now()").Scan(&txTime); err != nil {
			return err
		}
		return postgres.WriteOutbox(ctx, tx, in...)
	}))
	assert.Equal(t, uuid.Nil, in[1].ID, "caller's messages are not modified")

	out := fetch(t, db, 10)
	require.Len(t, out, 3)
	for i := 1; i < len(out); i++ {
		assert.Greater(t, out[i].Seq, out[i-1].Seq, "seq follows the order given")
	}

	assert.Equal(t, explicitID, out[0].ID)
	assert.Equal(t, "govkit.incident.created", out[0].Subject)
	assert.Equal(t, "incident-7", out[0].Key)
	assert.Equal(t, in[0].Headers, out[0].Headers)
	assert.Equal(t, []byte(`{"id":7}`), out[0].Data)
	assert.True(t, created.Equal(out[0].CreatedAt), "explicit CreatedAt kept: %v", out[0].CreatedAt)

	assert.NotEqual(t, uuid.Nil, out[1].ID)
	assert.EqualValues(t, 7, out[1].ID.Version(), "generated IDs are UUIDv7")
	assert.NotEqual(t, out[1].ID, out[2].ID)
	assert.Equal(t, "", out[1].Key)
	assert.Empty(t, out[1].Headers)
	assert.Empty(t, out[1].Data)
	assert.True(t, txTime.Equal(out[1].CreatedAt), "zero CreatedAt becomes the transaction's now()")
	assert.Equal(t, []byte{0, 1, 2, 255}, out[2].Data)
	assert.Equal(t, 1, queryInt(t, db, "SELECT count(*) FROM govkit_outbox WHERE headers = '{}'::jsonb AND seq = $1",
		out[1].Seq), "nil headers stored as an empty JSON object")
}

func TestWriteOutboxCommitsOnlyWithTransaction(t *testing.T) {
	t.Parallel()
	db := newOutboxDB(t)
	ctx := testCtx(t)
	_, err := db.Pool().Exec(ctx, "CREATE TABLE incidents (id int PRIMARY KEY)")
	require.NoError(t, err)

	rejected := errors.New("rejected")
	err = db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "INSERT INTO incidents VALUES (1)"); err != nil {
			return err
		}
		if err := postgres.WriteOutbox(ctx, tx, numbered(3)...); err != nil {
			return err
		}
		return rejected
	})
	require.ErrorIs(t, err, rejected)
	assert.Equal(t, 0, queryInt(t, db, "SELECT count(*) FROM govkit_outbox"), "rollback leaves no message")
	assert.Equal(t, 0, queryInt(t, db, "SELECT count(*) FROM incidents"))

	require.NoError(t, db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "INSERT INTO incidents VALUES (1)"); err != nil {
			return err
		}
		return postgres.WriteOutbox(ctx, tx, numbered(3)...)
	}))
	assert.Equal(t, 3, queryInt(t, db, "SELECT count(*) FROM govkit_outbox"), "commit keeps state and messages")
	assert.Equal(t, 1, queryInt(t, db, "SELECT count(*) FROM incidents"))
}

func TestWriteOutboxValidates(t *testing.T) {
	t.Parallel()
	db := newOutboxDB(t)
	ctx := testCtx(t)
	msgs := append(numbered(2), postgres.OutboxMessage{Subject: "  "})
	require.NoError(t, db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		err := postgres.WriteOutbox(ctx, tx, msgs...)
		require.ErrorIs(t, err, postgres.ErrInvalidOutboxMessage)
		var me *postgres.OutboxMessageError
		require.ErrorAs(t, err, &me)
		assert.Equal(t, 2, me.Index)
		require.NoError(t, postgres.WriteOutbox(ctx, tx), "no messages is a no-op")
		return nil // commit: the valid messages must not have been written
	}))
	assert.Equal(t, 0, queryInt(t, db, "SELECT count(*) FROM govkit_outbox"))

	assert.ErrorIs(t, postgres.WriteOutbox(ctx, nil, numbered(1)...), postgres.ErrInvalidArgument)
}

func TestWriteOutboxDuplicateID(t *testing.T) {
	t.Parallel()
	db := newOutboxDB(t)
	id := uuid.Must(uuid.NewV7())
	writeMessages(t, db, postgres.OutboxMessage{ID: id, Subject: "a"})
	err := db.InTx(testCtx(t), func(ctx context.Context, tx pgx.Tx) error {
		return postgres.WriteOutbox(ctx, tx, postgres.OutboxMessage{ID: id, Subject: "b"})
	})
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr)
	assert.Equal(t, "23505", pgErr.Code)
	assert.Equal(t, 1, queryInt(t, db, "SELECT count(*) FROM govkit_outbox"))
}

func TestWriteOutboxManyMessages(t *testing.T) {
	t.Parallel()
	db := newOutboxDB(t)
	writeMessages(t, db, numbered(500)...)
	out := fetch(t, db, 1000)
	require.Len(t, out, 500)
	for i, m := range out {
		assert.Equal(t, fmt.Sprint(i), m.Key, "order kept")
	}
}

func TestFetchUnpublishedSkipLockedGivesDisjointSets(t *testing.T) {
	t.Parallel()
	db := newOutboxDB(t)
	ctx := testCtx(t)
	writeMessages(t, db, numbered(10)...)
	all := seqsOf(fetch(t, db, 100))
	require.Len(t, all, 10)

	// Two relays' transactions open at the same time.
	tx1, err := db.Pool().Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx1.Rollback(ctx) }()
	tx2, err := db.Pool().Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx2.Rollback(ctx) }()

	// SKIP LOCKED: the second fetch must not block on the first's rows.
	fetchCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	got1, err := postgres.FetchUnpublished(fetchCtx, tx1, 4)
	require.NoError(t, err)
	got2, err := postgres.FetchUnpublished(fetchCtx, tx2, 4)
	require.NoError(t, err)
	assert.Equal(t, all[0:4], seqsOf(got1))
	assert.Equal(t, all[4:8], seqsOf(got2), "disjoint, next in seq order")

	// Relay 1 publishes and commits; relay 2 crashes (rolls back).
	require.NoError(t, postgres.MarkPublished(ctx, tx1, seqsOf(got1)...))
	require.NoError(t, tx1.Commit(ctx))
	require.NoError(t, tx2.Rollback(ctx))

	// Relay 2's messages are handed out again.
	assert.Equal(t, all[4:], seqsOf(fetch(t, db, 100)))
}

func TestFetchUnpublishedConcurrentRelays(t *testing.T) {
	t.Parallel()
	db := newOutboxDB(t)
	ctx := testCtx(t)
	const total = 60
	writeMessages(t, db, numbered(total)...)

	// Three relays loop fetch/publish until the outbox is drained, each
	// holding its batch until all have fetched at least once.
	const relays = 3
	firstRound := newBarrier(relays)
	published := make([][]int64, relays)
	errs := make(chan error, relays)
	for r := range relays {
		go func() {
			first := true
			for {
				var batch []postgres.OutboxMessage
				err := db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
					var err error
					if batch, err = postgres.FetchUnpublished(ctx, tx, 5); err != nil {
						return err
					}
					if first {
						first = false
						firstRound()
					}
					return postgres.MarkPublished(ctx, tx, seqsOf(batch)...)
				})
				if err != nil || len(batch) == 0 {
					errs <- err
					return
				}
				published[r] = append(published[r], seqsOf(batch)...)
			}
		}()
	}
	seen := map[int64]int{}
	for range relays {
		require.NoError(t, <-errs)
	}
	for r := range relays {
		for _, s := range published[r] {
			seen[s]++
		}
	}
	assert.Len(t, seen, total)
	for s, n := range seen {
		assert.Equal(t, 1, n, "seq %d published by %d relays", s, n)
	}
	assert.Equal(t, 0, queryInt(t, db, "SELECT count(*) FROM govkit_outbox WHERE published_at IS NULL"))
}

func TestMarkPublished(t *testing.T) {
	t.Parallel()
	db := newOutboxDB(t)
	ctx := testCtx(t)
	writeMessages(t, db, numbered(5)...)
	all := seqsOf(fetch(t, db, 10))

	require.NoError(t, db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		if err := postgres.MarkPublished(ctx, tx); err != nil { // no seqs: no-op
			return err
		}
		return postgres.MarkPublished(ctx, tx, all[1], all[3], 999999)
	}))
	assert.Equal(t, []int64{all[0], all[2], all[4]}, seqsOf(fetch(t, db, 10)))
	assert.Equal(t, 2, queryInt(t, db, "SELECT count(*) FROM govkit_outbox WHERE published_at IS NOT NULL"))

	// Marking again keeps the first publication time.
	var before time.Time
	require.NoError(t, db.Pool().QueryRow(ctx, "SELECT published_at FROM govkit_outbox WHERE seq = $1", all[1]).Scan(&before))
	time.Sleep(10 * time.Millisecond)
	require.NoError(t, db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		return postgres.MarkPublished(ctx, tx, all[1])
	}))
	var after time.Time
	require.NoError(t, db.Pool().QueryRow(ctx, "SELECT published_at FROM govkit_outbox WHERE seq = $1", all[1]).Scan(&after))
	assert.True(t, before.Equal(after))

	// Fetch limits and arguments.
	assert.Len(t, fetch(t, db, 2), 2)
	require.NoError(t, db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		_, err := postgres.FetchUnpublished(ctx, tx, 0)
		assert.ErrorIs(t, err, postgres.ErrInvalidArgument)
		return nil
	}))
	_, err := postgres.FetchUnpublished(ctx, nil, 1)
	assert.ErrorIs(t, err, postgres.ErrInvalidArgument)
	assert.ErrorIs(t, postgres.MarkPublished(ctx, nil, 1), postgres.ErrInvalidArgument)
}

func TestOutboxRequiresSetup(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t) // no Setup
	err := db.InTx(testCtx(t), func(ctx context.Context, tx pgx.Tx) error {
		return postgres.WriteOutbox(ctx, tx, numbered(1)...)
	})
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr)
	assert.Equal(t, "42P01", pgErr.Code, "undefined_table")
}
