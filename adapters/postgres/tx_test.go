package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/govkit/govkit/adapters/postgres"
	"github.com/govkit/govkit/adapters/postgres/pgtest"
)

// newCounterDB returns a test DB with table counter holding rows (1, 0)
// and (2, 0).
func newCounterDB(t *testing.T) *postgres.DB {
	t.Helper()
	db := pgtest.New(t)
	_, err := db.Pool().Exec(testCtx(t), `
		CREATE TABLE counter (id int PRIMARY KEY, n int NOT NULL);
		INSERT INTO counter VALUES (1, 0), (2, 0);`)
	require.NoError(t, err)
	return db
}

func TestInTxCommits(t *testing.T) {
	t.Parallel()
	db := newCounterDB(t)
	ctx := testCtx(t)
	var stats postgres.TxStats
	err := db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "UPDATE counter SET n = 42 WHERE id = 1")
		return err
	}, postgres.WithTxStats(&stats))
	require.NoError(t, err)
	assert.Equal(t, 1, stats.Attempts)
	assert.Equal(t, 42, queryInt(t, db, "SELECT n FROM counter WHERE id = 1"))
}

func TestInTxRollsBackAndReturnsErrorUnchanged(t *testing.T) {
	t.Parallel()
	db := newCounterDB(t)
	ctx := testCtx(t)
	sentinel := errors.New("business rule violated")
	var stats postgres.TxStats
	retried := false
	err := db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "UPDATE counter SET n = 42 WHERE id = 1"); err != nil {
			return err
		}
		return fmt.Errorf("check: %w", sentinel)
	}, postgres.WithTxStats(&stats), postgres.OnRetry(func(int, error) { retried = true }))
	require.ErrorIs(t, err, sentinel)
	assert.Equal(t, "check: business rule violated", err.Error(), "returned as is")
	assert.Equal(t, 1, stats.Attempts, "not retried")
	assert.False(t, retried)
	assert.Equal(t, 0, queryInt(t, db, "SELECT n FROM counter WHERE id = 1"), "rolled back")
	assert.Zero(t, db.Pool().Stat().AcquiredConns(), "connection released")
}

func TestInTxDoesNotRetryOtherDatabaseErrors(t *testing.T) {
	t.Parallel()
	db := newCounterDB(t)
	var stats postgres.TxStats
	err := db.InTx(testCtx(t), func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO counter VALUES (1, 0)")
		return err
	}, postgres.WithTxStats(&stats))
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr)
	assert.Equal(t, "23505", pgErr.Code, "unique_violation")
	assert.Equal(t, 1, stats.Attempts)
}

func TestInTxIsolationOptions(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := testCtx(t)
	show := func(setting string, opts ...postgres.TxOption) string {
		var v string
		require.NoError(t, db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
			return tx.QueryRow(ctx, "SHOW "+setting).Scan(&v)
		}, opts...))
		return v
	}
	assert.Equal(t, "read committed", show("transaction_isolation"), "default")
	assert.Equal(t, "serializable", show("transaction_isolation", postgres.Serializable()))
	assert.Equal(t, "repeatable read", show("transaction_isolation", postgres.WithIsolation(pgx.RepeatableRead)))
	assert.Equal(t, "on", show("transaction_read_only", postgres.ReadOnly()))
	assert.Equal(t, "off", show("transaction_read_only"))
}

// TestInTxRetriesSerializationFailure runs two serializable read-modify-write
// transactions that both read the counter before either writes: PostgreSQL
// aborts one with SQLSTATE 40001, InTx reruns it, and no increment is lost.
func TestInTxRetriesSerializationFailure(t *testing.T) {
	t.Parallel()
	db := newCounterDB(t)
	ctx := testCtx(t)

	bothRead := newBarrier(2)
	var retries atomic.Int32
	var retryCodes sync.Map
	increment := func(ctx context.Context, tx pgx.Tx, attempt *int) error {
		*attempt++
		var n int
		if err := tx.QueryRow(ctx, "SELECT n FROM counter WHERE id = 1").Scan(&n); err != nil {
			return err
		}
		if *attempt == 1 {
			// Both first attempts have read before either writes.
			bothRead()
		}
		_, err := tx.Exec(ctx, "UPDATE counter SET n = $1 WHERE id = 1", n+1)
		return err
	}

	var wg sync.WaitGroup
	stats := make([]postgres.TxStats, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Go(func() {
			attempt := 0
			errs[i] = db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
				return increment(ctx, tx, &attempt)
			}, postgres.Serializable(), postgres.WithTxStats(&stats[i]),
				postgres.OnRetry(func(_ int, err error) {
					retries.Add(1)
					var pgErr *pgconn.PgError
					if errors.As(err, &pgErr) {
						retryCodes.Store(pgErr.Code, true)
					}
				}))
		})
	}
	wg.Wait()
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	assert.Equal(t, 2, queryInt(t, db, "SELECT n FROM counter WHERE id = 1"), "no lost update")
	assert.Greater(t, stats[0].Attempts+stats[1].Attempts, 2, "at least one retry")
	assert.Positive(t, retries.Load())
	_, saw40001 := retryCodes.Load("40001")
	assert.True(t, saw40001, "retried because of a serialization failure")
}

// TestInTxRetriesDeadlock locks two rows in opposite orders under the
// default isolation level: PostgreSQL breaks the deadlock (40P01, after
// deadlock_timeout, 1s by default) and InTx reruns the victim.
func TestInTxRetriesDeadlock(t *testing.T) {
	t.Parallel()
	db := newCounterDB(t)
	ctx := testCtx(t)

	bothLocked := newBarrier(2)
	var sawDeadlock atomic.Bool
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, order := range [][2]int{{1, 2}, {2, 1}} {
		wg.Go(func() {
			attempt := 0
			errs[i] = db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
				attempt++
				for j, id := range order {
					if _, err := tx.Exec(ctx, "UPDATE counter SET n = n + 1 WHERE id = $1", id); err != nil {
						return err
					}
					if j == 0 && attempt == 1 {
						bothLocked()
					}
				}
				return nil
			}, postgres.OnRetry(func(_ int, err error) {
				var pgErr *pgconn.PgError
				if errors.As(err, &pgErr) && pgErr.Code == "40P01" {
					sawDeadlock.Store(true)
				}
			}))
		})
	}
	wg.Wait()
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	assert.True(t, sawDeadlock.Load())
	assert.Equal(t, 2, queryInt(t, db, "SELECT n FROM counter WHERE id = 1"))
	assert.Equal(t, 2, queryInt(t, db, "SELECT n FROM counter WHERE id = 2"))
}

func TestInTxGivesUpAfterMaxAttempts(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	var stats postgres.TxStats
	var onRetry []int
	serializationFailure := &pgconn.PgError{Code: "40001", Message: "could not serialize access"}
	calls := 0
	err := db.InTx(testCtx(t), func(ctx context.Context, tx pgx.Tx) error {
		calls++
		return fmt.Errorf("wrapped: %w", serializationFailure)
	}, postgres.WithMaxAttempts(3), postgres.WithRetryBackoff(time.Millisecond, 2*time.Millisecond),
		postgres.WithTxStats(&stats), postgres.OnRetry(func(attempt int, _ error) { onRetry = append(onRetry, attempt) }))
	require.ErrorIs(t, err, postgres.ErrRetriesExhausted)
	require.ErrorIs(t, err, serializationFailure)
	var re *postgres.RetryError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, 3, re.Attempts)
	assert.Equal(t, 3, calls)
	assert.Equal(t, 3, stats.Attempts)
	assert.Equal(t, []int{1, 2}, onRetry)

	calls = 0
	err = db.InTx(testCtx(t), func(context.Context, pgx.Tx) error {
		calls++
		return serializationFailure
	}, postgres.WithMaxAttempts(0))
	require.ErrorIs(t, err, postgres.ErrRetriesExhausted)
	assert.Equal(t, 1, calls, "WithMaxAttempts(0) means a single attempt")
}

func TestInTxPanicRollsBackAndRepanics(t *testing.T) {
	t.Parallel()
	db := newCounterDB(t)
	ctx := testCtx(t)
	assert.PanicsWithValue(t, "boom", func() {
		_ = db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "UPDATE counter SET n = 42 WHERE id = 1"); err != nil {
				return err
			}
			panic("boom")
		})
	})
	assert.Equal(t, 0, queryInt(t, db, "SELECT n FROM counter WHERE id = 1"), "rolled back")
	assert.Zero(t, db.Pool().Stat().AcquiredConns(), "connection released")
}

func TestInTxContextCancelled(t *testing.T) {
	t.Parallel()
	db := newCounterDB(t)

	t.Run("before start", func(t *testing.T) {
		ctx, cancel := context.WithCancel(testCtx(t))
		cancel()
		called := false
		err := db.InTx(ctx, func(context.Context, pgx.Tx) error { called = true; return nil })
		require.ErrorIs(t, err, context.Canceled)
		assert.False(t, called)
	})

	t.Run("during backoff", func(t *testing.T) {
		ctx, cancel := context.WithCancel(testCtx(t))
		defer cancel()
		var stats postgres.TxStats
		start := time.Now()
		err := db.InTx(ctx, func(context.Context, pgx.Tx) error {
			return &pgconn.PgError{Code: "40001"}
		}, postgres.WithRetryBackoff(time.Hour, time.Hour), postgres.WithTxStats(&stats),
			postgres.OnRetry(func(int, error) { cancel() }))
		require.ErrorIs(t, err, context.Canceled)
		var pgErr *pgconn.PgError
		require.ErrorAs(t, err, &pgErr, "last attempt's error is kept")
		assert.Equal(t, 1, stats.Attempts)
		assert.Less(t, time.Since(start), 10*time.Second, "did not sleep through the backoff")
	})

	t.Run("during a query", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(testCtx(t), 100*time.Millisecond)
		defer cancel()
		var stats postgres.TxStats
		err := db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "UPDATE counter SET n = 42 WHERE id = 1"); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "SELECT pg_sleep(30)")
			return err
		}, postgres.WithTxStats(&stats))
		require.Error(t, err)
		assert.Equal(t, 1, stats.Attempts)
		assert.Equal(t, 0, queryInt(t, db, "SELECT n FROM counter WHERE id = 1"), "rolled back")
	})
}

func TestInTxCommitFailureIsReported(t *testing.T) {
	t.Parallel()
	db := newCounterDB(t)
	// A deferred constraint fails at COMMIT: InTx must report it, wrapped.
	_, err := db.Pool().Exec(testCtx(t), `CREATE TABLE uniq (x int UNIQUE DEFERRABLE INITIALLY DEFERRED)`)
	require.NoError(t, err)
	err = db.InTx(testCtx(t), func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO uniq VALUES (1), (1)")
		return err
	})
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr)
	assert.Equal(t, "23505", pgErr.Code)
	assert.Contains(t, err.Error(), "commit")
	assert.Equal(t, 0, queryInt(t, db, "SELECT count(*) FROM uniq"))
}

// batchSteps queues sqls and reads their results, the first failure first.
func batchSteps(sqls ...string) func(*pgx.Batch) (func(pgx.BatchResults) error, error) {
	return func(b *pgx.Batch) (func(pgx.BatchResults) error, error) {
		for _, s := range sqls {
			b.Queue(s)
		}
		return func(br pgx.BatchResults) error {
			for range sqls {
				if _, err := br.Exec(); err != nil {
					return err
				}
			}
			return nil
		}, nil
	}
}

// batchTx commits in the batch: what succeeds is committed, and a
// statement that fails, govkit_reject's or a constraint's, undoes the
// statements before it, COMMIT being skipped with the rest of the batch.
func TestBatchTxCommitsAndRollsBack(t *testing.T) {
	t.Parallel()
	db := newCounterDB(t)
	ctx := testCtx(t)
	require.NoError(t, db.MigrateOutbox(ctx)) // govkit_reject
	require.NoError(t, db.BatchTx(ctx, batchSteps("UPDATE counter SET n = 1 WHERE id = 1", "UPDATE counter SET n = 2 WHERE id = 2")))
	assert.Equal(t, 3, queryInt(t, db, "SELECT sum(n) FROM counter"))

	err := db.BatchTx(ctx, batchSteps("UPDATE counter SET n = 10 WHERE id = 1",
		"SELECT CASE WHEN n = 0 THEN true ELSE govkit_reject('GK001', n::text) END FROM counter WHERE id = 2",
		"UPDATE counter SET n = 20 WHERE id = 2"))
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr)
	assert.Equal(t, "GK001", pgErr.Code)
	assert.Equal(t, "2", pgErr.Detail, "the rejection's detail")
	assert.Equal(t, 3, queryInt(t, db, "SELECT sum(n) FROM counter"), "the update before the rejection is undone")

	// A reader that stops early: the failure still aborts the transaction.
	lazy := func(b *pgx.Batch) (func(pgx.BatchResults) error, error) {
		b.Queue("UPDATE counter SET n = 10 WHERE id = 1")
		b.Queue("UPDATE counter SET n = 1/0 WHERE id = 2")
		return func(br pgx.BatchResults) error { _, err := br.Exec(); return err }, nil
	}
	require.ErrorAs(t, db.BatchTx(ctx, lazy), &pgErr)
	assert.Equal(t, "22012", pgErr.Code)
	assert.Equal(t, 3, queryInt(t, db, "SELECT sum(n) FROM counter"))

	// A constraint deferred to COMMIT fails there.
	_, err = db.Pool().Exec(ctx, `CREATE TABLE uniq (x int UNIQUE DEFERRABLE INITIALLY DEFERRED)`)
	require.NoError(t, err)
	err = db.BatchTx(ctx, batchSteps("INSERT INTO uniq VALUES (1), (1)"))
	require.ErrorAs(t, err, &pgErr)
	assert.Equal(t, "23505", pgErr.Code)
	assert.Contains(t, err.Error(), "commit")
	assert.Zero(t, queryInt(t, db, "SELECT count(*) FROM uniq"))

	// A deadlock is retried, the whole batch queued again.
	var attempts atomic.Int32
	retried := func(b *pgx.Batch) (func(pgx.BatchResults) error, error) {
		stmts := []string{"UPDATE counter SET n = n + 1 WHERE id = 1"}
		if attempts.Add(1) == 1 {
			stmts = append(stmts, "SELECT govkit_reject('40P01', 'as if deadlocked')")
		}
		return batchSteps(stmts...)(b)
	}
	require.NoError(t, db.BatchTx(ctx, retried))
	assert.Equal(t, int32(2), attempts.Load())
	assert.Equal(t, 2, queryInt(t, db, "SELECT n FROM counter WHERE id = 1"), "the first attempt left nothing")

	assert.Zero(t, db.Pool().Stat().AcquiredConns(), "connections released")
	assert.Equal(t, 1, queryInt(t, db, "SELECT 1"), "the pool's connections are usable")
}

// A connection that dies inside the transaction cannot be rolled back:
// the write fails, nothing of it is kept, and the pool drops the
// connection instead of handing it out again.
func TestBatchTxConnectionLostMidTransaction(t *testing.T) {
	t.Parallel()
	db := newCounterDB(t)
	ctx := testCtx(t)
	err := db.BatchTx(ctx, batchSteps("UPDATE counter SET n = 10 WHERE id = 1", "SELECT pg_terminate_backend(pg_backend_pid())"))
	require.Error(t, err)
	assert.Equal(t, 0, queryInt(t, db, "SELECT n FROM counter WHERE id = 1"), "the update is not kept")
	assert.Zero(t, db.Pool().Stat().AcquiredConns(), "connection released")
	require.NoError(t, db.BatchTx(ctx, batchSteps("UPDATE counter SET n = n + 1 WHERE id = 2")), "the pool works on")
	assert.Equal(t, 1, queryInt(t, db, "SELECT n FROM counter WHERE id = 2"))
}
