package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// OutboxMessage is a message stored in the transactional outbox table
// govkit_outbox until a relay publishes it.
//
// Its fields mirror a bus message (ID, Subject, Key, Headers, Time, Data):
// convert with ID.String() / uuid.Parse and CreatedAt for the time.
type OutboxMessage struct {
	// ID identifies the message, for de-duplication by consumers. If it is
	// the zero UUID, [WriteOutbox] generates a UUIDv7 (time-ordered).
	ID uuid.UUID
	// Subject is where the message is published, e.g.
	// "govkit.incident.created". Required.
	Subject string
	// Key orders or partitions messages, e.g. an aggregate ID. Optional.
	Key string
	// Headers are string metadata, stored as a JSON object. Optional.
	Headers map[string]string
	// Data is the opaque payload. Nil is stored as empty.
	Data []byte
	// CreatedAt is when the message was written. If zero, [WriteOutbox]
	// uses the transaction's start time (now()). Set by [FetchUnpublished].
	CreatedAt time.Time
	// Seq is the position assigned by the database, increasing in commit
	// order within a transaction. Ignored by [WriteOutbox]; set by
	// [FetchUnpublished] and used by [MarkPublished].
	Seq int64
}

const insertOutbox = `INSERT INTO govkit_outbox (id, subject, key, headers, data, created_at)
VALUES ($1, $2, $3, $4, $5, coalesce($6, now()))`

// WriteOutbox inserts msgs into govkit_outbox in the caller's transaction tx,
// so they are committed, or discarded, together with the state change they
// describe. Call it inside [DB.InTx].
//
// All messages are validated before anything is sent: Subject must not be
// blank, otherwise a [*OutboxMessageError] matching [ErrInvalidOutboxMessage]
// is returned and nothing is written. A zero ID is replaced by a new UUIDv7
// in the stored row; msgs itself is not modified, so set ID yourself if you
// need to know it. Messages are inserted in one round trip (a pgx batch), and
// receive increasing Seq values in the order given.
func WriteOutbox(ctx context.Context, tx pgx.Tx, msgs ...OutboxMessage) error {
	if tx == nil {
		return fmt.Errorf("%w: WriteOutbox needs a transaction", ErrInvalidArgument)
	}
	if len(msgs) == 0 {
		return nil
	}
	return writeOutbox(ctx, tx, msgs, true)
}

// writeOutbox is WriteOutbox for govkit's stores, which wake relays unless
// the DB was opened WithoutOutboxNotify.
func (db *DB) writeOutbox(ctx context.Context, tx pgx.Tx, msgs ...OutboxMessage) error {
	return writeOutbox(ctx, tx, msgs, !db.noNotify)
}

func writeOutbox(ctx context.Context, tx pgx.Tx, msgs []OutboxMessage, notify bool) error {
	if len(msgs) == 0 {
		return nil
	}
	batch := &pgx.Batch{}
	if _, err := queueOutbox(batch, msgs, notify); err != nil {
		return err
	}
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return fmt.Errorf("postgres: write outbox: %w", err)
	}
	return nil
}

// queueOutbox validates msgs and queues their inserts, then, with notify,
// the relays' wake-up, in batch, so that a store can write its events in
// the same round trip as its state. It returns how many results it queued.
func queueOutbox(batch *pgx.Batch, msgs []OutboxMessage, notify bool) (int, error) {
	for i := range msgs {
		if strings.TrimSpace(msgs[i].Subject) == "" {
			return 0, &OutboxMessageError{Index: i, Reason: "subject is empty"}
		}
	}
	for _, m := range msgs {
		id := m.ID
		if id == uuid.Nil {
			var err error
			if id, err = uuid.NewV7(); err != nil {
				return 0, fmt.Errorf("postgres: generate outbox message id: %w", err)
			}
		}
		headers := m.Headers
		if headers == nil {
			headers = map[string]string{}
		}
		data := m.Data
		if data == nil {
			data = []byte{}
		}
		var createdAt *time.Time
		if !m.CreatedAt.IsZero() {
			createdAt = &m.CreatedAt
		}
		batch.Queue(insertOutbox, id, m.Subject, m.Key, headers, data, createdAt)
	}
	if !notify {
		return len(msgs), nil
	}
	// Wake relays when the transaction commits (a notification of a
	// rolled-back transaction is never delivered).
	batch.Queue(`SELECT pg_notify($1, '')`, OutboxChannel)
	return len(msgs) + 1, nil
}

// FetchUnpublished returns up to limit unpublished messages in Seq order and
// locks them FOR UPDATE SKIP LOCKED in tx: rows already locked by another
// transaction are skipped rather than waited for, so concurrent relays get
// disjoint sets. Publish them, call [MarkPublished] in the same tx, and
// commit. limit must be positive ([ErrInvalidArgument] otherwise).
//
// With several concurrent fetchers, messages are published in Seq order only
// within each fetched set; [Relay] serialises its batches with an advisory
// lock so that order holds across processes.
func FetchUnpublished(ctx context.Context, tx pgx.Tx, limit int) ([]OutboxMessage, error) {
	if tx == nil {
		return nil, fmt.Errorf("%w: FetchUnpublished needs a transaction", ErrInvalidArgument)
	}
	if limit <= 0 {
		return nil, fmt.Errorf("%w: limit must be positive, got %d", ErrInvalidArgument, limit)
	}
	rows, err := tx.Query(ctx, `SELECT seq, id, subject, key, headers, data, created_at
		FROM govkit_outbox
		WHERE published_at IS NULL
		ORDER BY seq
		LIMIT $1
		FOR UPDATE SKIP LOCKED`, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: fetch unpublished outbox messages: %w", err)
	}
	msgs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (OutboxMessage, error) {
		var m OutboxMessage
		err := r.Scan(&m.Seq, &m.ID, &m.Subject, &m.Key, &m.Headers, &m.Data, &m.CreatedAt)
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: fetch unpublished outbox messages: %w", err)
	}
	return msgs, nil
}

// MarkPublished sets published_at to the transaction's time for the messages
// with the given Seq values, in tx. Seqs that do not exist or are already
// published are ignored. Calling it with no seqs does nothing.
func MarkPublished(ctx context.Context, tx pgx.Tx, seqs ...int64) error {
	if tx == nil {
		return fmt.Errorf("%w: MarkPublished needs a transaction", ErrInvalidArgument)
	}
	if len(seqs) == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, `UPDATE govkit_outbox SET published_at = now()
		WHERE seq = ANY($1) AND published_at IS NULL`, seqs); err != nil {
		return fmt.Errorf("postgres: mark outbox messages published: %w", err)
	}
	return nil
}
