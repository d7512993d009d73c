package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"time"

	"github.com/govkit/govkit/bus"
	"github.com/jackc/pgx/v5"
)

// OutboxChannel is the PostgreSQL notification channel WriteOutbox signals
// on commit, so that a relay wakes at once instead of waiting for its next
// poll.
const OutboxChannel = "govkit_outbox"

// RelayOptions tunes a Relay. The zero value gives the defaults.
type RelayOptions struct {
	// Batch is how many messages one transaction publishes (default 256).
	Batch int
	// Poll is how long the relay waits for a notification before looking
	// anyway (default 1 s): notifications are a shortcut, not a promise.
	Poll time.Duration
	// Backoff is the pause after a failure, of the database or of the bus
	// (default 1 s).
	Backoff time.Duration
	// Logger receives failures; nil discards them.
	Logger *slog.Logger
}

// Relay publishes what stores wrote to the transactional outbox, after
// commit, through any bus: the step that makes "state changed" and "event
// announced" one fact.
//
// Several processes may run relays on one database. Each batch takes a
// transaction-level advisory lock, so only one batch is in flight at a
// time across all of them: a relay that finds the lock taken waits, and one
// whose process dies releases it with its connection. That keeps events in
// seq order, and so in order per key, through relay, broker and database
// restarts. A batch publishes in seq order and marks published only what
// the bus accepted; a failure leaves the rest for the next batch, so an
// event may be published twice (consumers deduplicate on its ID) but never
// lost.
type Relay struct {
	db   *DB
	pub  bus.Publisher
	opts RelayOptions
	lock int64
}

// NewRelay returns a relay from db's outbox to pub.
func NewRelay(db *DB, pub bus.Publisher, opts RelayOptions) (*Relay, error) {
	if db == nil || pub == nil {
		return nil, fmt.Errorf("%w: a relay needs a database and a publisher", ErrInvalidArgument)
	}
	if opts.Batch < 0 || opts.Poll < 0 || opts.Backoff < 0 {
		return nil, fmt.Errorf("%w: negative relay option", ErrInvalidArgument)
	}
	if opts.Batch == 0 {
		opts.Batch = 256
	}
	if opts.Poll == 0 {
		opts.Poll = time.Second
	}
	if opts.Backoff == 0 {
		opts.Backoff = time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	h := fnv.New64a()
	h.Write([]byte("govkit-outbox-relay:" + db.schema))
	return &Relay{db: db, pub: pub, opts: opts, lock: int64(h.Sum64())}, nil
}

// errBusy reports that another relay holds the batch lock.
var errBusy = errors.New("postgres: another relay is publishing")

// Drain publishes batches until the outbox is empty, another relay is
// busy, or something fails. It returns how many messages it published.
func (r *Relay) Drain(ctx context.Context) (int, error) {
	total := 0
	for {
		n, err := r.batch(ctx)
		total += n
		switch {
		case errors.Is(err, errBusy):
			return total, nil
		case err != nil:
			return total, err
		case n < r.opts.Batch:
			return total, nil
		}
	}
}

// batch publishes one batch in one transaction.
func (r *Relay) batch(ctx context.Context) (int, error) {
	published := 0
	err := r.db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		published = 0
		var ok bool
		if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1)`, r.lock).Scan(&ok); err != nil {
			return err
		}
		if !ok {
			return errBusy
		}
		msgs, err := FetchUnpublished(ctx, tx, r.opts.Batch)
		if err != nil {
			return err
		}
		var done []int64
		var pubErr error
		for _, m := range msgs {
			if pubErr = r.pub.Publish(ctx, toBus(m)); pubErr != nil {
				break
			}
			done = append(done, m.Seq)
		}
		if err := MarkPublished(ctx, tx, done...); err != nil {
			return err
		}
		published = len(done)
		if pubErr != nil {
			// Commit what the bus took; the rest waits for the next batch.
			r.opts.Logger.Warn("postgres: relay: publishing failed", "err", pubErr)
			return nil
		}
		return nil
	})
	return published, err
}

func toBus(m OutboxMessage) bus.Message {
	return bus.Message{ID: m.ID.String(), Subject: m.Subject, Key: m.Key, Headers: m.Headers, Time: m.CreatedAt, Data: m.Data}
}

// Run relays until ctx ends, waking on the outbox's notifications and
// polling as a fallback; it survives database and broker outages by
// backing off and trying again. It returns ctx.Err().
func (r *Relay) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		if err := r.listen(ctx); err != nil && ctx.Err() == nil {
			r.opts.Logger.Warn("postgres: relay: connection lost; retrying", "err", err)
			sleep(ctx, r.opts.Backoff)
		}
	}
	return ctx.Err()
}

// listen holds one connection listening for notifications and drains the
// outbox whenever one arrives or the poll interval passes.
func (r *Relay) listen(ctx context.Context) error {
	conn, err := r.db.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "LISTEN "+OutboxChannel); err != nil {
		return err
	}
	for ctx.Err() == nil {
		n, err := r.Drain(ctx)
		if err != nil {
			r.opts.Logger.Warn("postgres: relay: draining failed", "err", err)
			sleep(ctx, r.opts.Backoff)
			continue
		}
		if n > 0 && n%r.opts.Batch == 0 {
			continue // there may be more
		}
		wctx, cancel := context.WithTimeout(ctx, r.opts.Poll)
		_, err = conn.Conn().WaitForNotification(wctx)
		cancel()
		if err != nil && ctx.Err() == nil && !errors.Is(err, context.DeadlineExceeded) {
			return err // the connection broke
		}
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
