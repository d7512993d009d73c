package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Defaults of [DB.InTx]; see [WithMaxAttempts] and [WithRetryBackoff].
const (
	DefaultMaxAttempts    = 10
	DefaultRetryBaseDelay = 5 * time.Millisecond
	DefaultRetryMaxDelay  = 500 * time.Millisecond
)

const (
	// rollbackTimeout bounds a rollback, which runs even if ctx is done.
	rollbackTimeout = 5 * time.Second
	// SQLSTATEs after which a transaction is retried.
	sqlstateSerialization  = "40001"
	sqlstateDeadlockDetect = "40P01"
)

// TxOption configures [DB.InTx].
type TxOption func(*txConfig)

type txConfig struct {
	txOptions   pgx.TxOptions
	maxAttempts int
	baseDelay   time.Duration
	maxDelay    time.Duration
	onRetry     func(attempt int, err error)
	stats       *TxStats
}

// TxStats receives what happened in one [DB.InTx] call; see [WithTxStats].
type TxStats struct {
	// Attempts is how many times the function was started: 1 when it ran
	// once, more when the transaction was retried.
	Attempts int
}

// WithIsolation sets the isolation level. The default is read committed
// (PostgreSQL's own default).
func WithIsolation(level pgx.TxIsoLevel) TxOption {
	return func(c *txConfig) { c.txOptions.IsoLevel = level }
}

// Serializable is WithIsolation(pgx.Serializable): PostgreSQL then
// guarantees the transaction behaves as if run alone, failing with a
// serialization error otherwise, which [DB.InTx] retries.
func Serializable() TxOption { return WithIsolation(pgx.Serializable) }

// ReadOnly starts the transaction READ ONLY.
func ReadOnly() TxOption {
	return func(c *txConfig) { c.txOptions.AccessMode = pgx.ReadOnly }
}

// WithMaxAttempts bounds how many times the function runs in total (values
// below 1 mean 1, i.e. no retry). The default is [DefaultMaxAttempts].
func WithMaxAttempts(n int) TxOption {
	return func(c *txConfig) { c.maxAttempts = max(n, 1) }
}

// WithRetryBackoff sets the delay before a retry: before retry n (n = 1, 2,
// ...) InTx waits a random duration between d/2 and d, where d = base*2^(n-1)
// capped at maxDelay. Zero base means no delay. The defaults are
// [DefaultRetryBaseDelay] and [DefaultRetryMaxDelay].
func WithRetryBackoff(base, maxDelay time.Duration) TxOption {
	return func(c *txConfig) {
		c.baseDelay = max(base, 0)
		c.maxDelay = max(maxDelay, c.baseDelay)
	}
}

// OnRetry registers fn, called before each retry with the number of the
// attempt that failed (1 for the first) and its error, for logging or
// metrics. It runs on the goroutine that called InTx.
func OnRetry(fn func(attempt int, err error)) TxOption {
	return func(c *txConfig) { c.onRetry = fn }
}

// WithTxStats makes InTx record into *stats how many attempts it made, even
// when it returns an error.
func WithTxStats(stats *TxStats) TxOption {
	return func(c *txConfig) { c.stats = stats }
}

// IsRetryable reports whether err (or an error it wraps) is a PostgreSQL
// serialization failure (SQLSTATE 40001) or detected deadlock (40P01): the
// errors after which rerunning the whole transaction may succeed.
func IsRetryable(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	return pgErr.Code == sqlstateSerialization || pgErr.Code == sqlstateDeadlockDetect
}

// InTx runs fn in a transaction and commits it if fn returns nil.
//
// If fn returns an error, the transaction is rolled back and that error is
// returned as is, so errors.Is and errors.As see it unchanged. If fn panics,
// the transaction is rolled back and the panic continues. Errors starting
// or committing the transaction are wrapped with %w.
//
// When fn or the commit fails with a serialization failure or a deadlock
// (see [IsRetryable]), the transaction is rolled back and the whole of fn
// runs again in a new transaction, after a jittered exponential backoff, up
// to [WithMaxAttempts] times in total; if every attempt fails that way the
// last error is returned in a [*RetryError] matching [ErrRetriesExhausted].
// fn must therefore have no effect outside tx that is unsafe to repeat, and
// must use the ctx and tx it is given.
//
// The default isolation level is read committed, PostgreSQL's default:
// deadlocks are still retried there. Pass [Serializable] when the
// transaction's correctness depends on what it read (check-then-write).
//
// InTx honours ctx: it stops retrying as soon as ctx is done and returns an
// error matching ctx.Err() (and the last attempt's error).
func (db *DB) InTx(ctx context.Context, fn func(ctx context.Context, tx pgx.Tx) error, opts ...TxOption) error {
	cfg := txConfig{
		txOptions:   pgx.TxOptions{IsoLevel: pgx.ReadCommitted},
		maxAttempts: DefaultMaxAttempts,
		baseDelay:   DefaultRetryBaseDelay,
		maxDelay:    DefaultRetryMaxDelay,
	}
	for _, opt := range opts {
		if opt != nil {
			opt(&cfg)
		}
	}
	return cfg.retry(ctx, func() error { return db.runTx(ctx, cfg.txOptions, fn) })
}

// retry runs attempt until it succeeds, fails for good, or the attempts or
// ctx run out.
func (cfg *txConfig) retry(ctx context.Context, attempt func() error) error {
	if cfg.stats != nil {
		*cfg.stats = TxStats{}
	}
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("postgres: transaction not started: %w", err)
		}
		if cfg.stats != nil {
			cfg.stats.Attempts = n
		}
		err := attempt()
		if err == nil || !IsRetryable(err) {
			return err
		}
		if n >= cfg.maxAttempts {
			return &RetryError{Attempts: n, Err: err}
		}
		if cfg.onRetry != nil {
			cfg.onRetry(n, err)
		}
		if werr := wait(ctx, cfg.backoff(n)); werr != nil {
			return fmt.Errorf("postgres: transaction abandoned after %d attempts: %w", n, errors.Join(werr, err))
		}
	}
}

// batchTx is InTx, read committed and with its retries, for a transaction
// that is one batch of statements: BEGIN, the statements and COMMIT travel
// together, one round trip in all, where InTx spends one on BEGIN, one per
// statement and one on COMMIT. queue fills the batch and returns how to
// read its results, in order, stopping at the first failure; it runs
// again on each attempt.
//
// The server commits before read sees any result, so every check a write
// makes must fail one of its statements on the server (a constraint, or
// govkit_reject): a failed statement aborts the transaction, and the
// server skips the rest of the batch, COMMIT with it. read must report
// only the statements' own failures, never refuse a result that
// succeeded.
func (db *DB) batchTx(ctx context.Context, queue func(*pgx.Batch) (read func(pgx.BatchResults) error, err error)) error {
	cfg := txConfig{maxAttempts: DefaultMaxAttempts, baseDelay: DefaultRetryBaseDelay, maxDelay: DefaultRetryMaxDelay}
	return cfg.retry(ctx, func() error { return db.runBatchTx(ctx, queue) })
}

// readInOrder reads a batch's results with each of reads in turn, stopping
// at the first failure.
func readInOrder(reads []func(pgx.BatchResults) error) func(pgx.BatchResults) error {
	return func(br pgx.BatchResults) error {
		for _, read := range reads {
			if err := read(br); err != nil {
				return err
			}
		}
		return nil
	}
}

func (db *DB) runBatchTx(ctx context.Context, queue func(*pgx.Batch) (func(pgx.BatchResults) error, error)) (err error) {
	batch := &pgx.Batch{}
	batch.Queue("begin isolation level read committed")
	read, err := queue(batch)
	if err != nil {
		return err
	}
	batch.Queue("commit")
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: begin transaction: %w", err)
	}
	defer conn.Release() // the pool drops a connection left inside a transaction
	committed := false
	defer func() {
		if !committed { // an error, a panic or runtime.Goexit
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
			defer cancel()
			_, _ = conn.Exec(rctx, "rollback")
		}
	}()
	br := conn.SendBatch(ctx, batch)
	if _, err = br.Exec(); err != nil {
		err = fmt.Errorf("postgres: begin transaction: %w", err)
	} else if err = read(br); err == nil {
		err = commitResult(br.Exec())
		committed = err == nil
	}
	// After a failure the statements left unread may fail too; the first
	// failure is the one to report. Once COMMIT has answered, the change
	// is written whatever the connection does next.
	if cerr := br.Close(); err == nil && cerr != nil && !committed {
		err = fmt.Errorf("postgres: batch: %w", cerr)
	}
	return err
}

// commitResult is the answer to a COMMIT: a failure, such as a deferred
// constraint's, or a ROLLBACK tag for a transaction a failure had aborted.
func commitResult(tag pgconn.CommandTag, err error) error {
	if err != nil {
		return fmt.Errorf("postgres: commit: %w", err)
	}
	if tag.String() == "ROLLBACK" { // a failure read missed aborted it
		return fmt.Errorf("postgres: commit: %w", pgx.ErrTxCommitRollback)
	}
	return nil
}

// runTx runs one attempt.
func (db *DB) runTx(ctx context.Context, txOptions pgx.TxOptions, fn func(context.Context, pgx.Tx) error) error {
	tx, err := db.pool.BeginTx(ctx, txOptions)
	if err != nil {
		return fmt.Errorf("postgres: begin transaction: %w", err)
	}
	finished := false
	defer func() {
		// Reached without finishing when fn panics or calls runtime.Goexit
		// (t.FailNow): roll back so the connection returns to the pool.
		if !finished {
			rollback(ctx, tx)
		}
	}()
	if err := fn(ctx, tx); err != nil {
		finished = true
		rollback(ctx, tx)
		return err
	}
	finished = true
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: commit: %w", err)
	}
	return nil
}

// rollback rolls tx back even when ctx is already done. Its error is
// ignored: if it fails, pgx closes the connection, which also ends the
// transaction on the server.
func rollback(ctx context.Context, tx pgx.Tx) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
	defer cancel()
	_ = tx.Rollback(rctx)
}

// backoff returns the delay before retry number attempt (1-based).
func (c *txConfig) backoff(attempt int) time.Duration {
	if c.baseDelay <= 0 {
		return 0
	}
	d := c.baseDelay
	for i := 1; i < attempt && d < c.maxDelay; i++ {
		d *= 2
	}
	d = min(d, c.maxDelay)
	half := d / 2
	return half + rand.N(d-half+1)
}

// wait sleeps for d or until ctx is done, whichever comes first.
func wait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
