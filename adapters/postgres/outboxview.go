package postgres

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/govkit/govkit/bus"
	"github.com/jackc/pgx/v5"
)

// outboxView is one store's view of the shared outbox: the messages the
// store wrote, which it records in a marker table of its own (id uuid
// referencing govkit_outbox). A service's own flush then never publishes
// another component's events; a Relay over the whole outbox publishes them
// all, and every view reflects that.
type outboxView struct {
	db     *DB
	marker string // table name, a constant of the store
	what   string // for errors, e.g. "incident events"
}

// mark queues the marking of ids in batch, inside the store's transaction.
func (v outboxView) mark(batch *pgx.Batch, ids []uuid.UUID) {
	if len(ids) > 0 {
		batch.Queue(`INSERT INTO `+v.marker+` (id) SELECT unnest($1::uuid[])`, ids)
	}
}

// pending returns up to limit unpublished messages of the view, in the
// order written (Seq). It does not lock; a relay that runs several
// instances uses Relay.
func (v outboxView) pending(ctx context.Context, limit int) ([]bus.Message, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := v.db.pool.Query(ctx, `SELECT o.id, o.subject, o.key, o.headers, o.data, o.created_at
		FROM govkit_outbox o JOIN `+v.marker+` m ON m.id = o.id
		WHERE o.published_at IS NULL ORDER BY o.seq LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: read pending %s: %w", v.what, err)
	}
	msgs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (bus.Message, error) {
		var (
			m  bus.Message
			id uuid.UUID
		)
		if err := r.Scan(&id, &m.Subject, &m.Key, &m.Headers, &m.Data, &m.Time); err != nil {
			return m, err
		}
		m.ID, m.Time = id.String(), m.Time.UTC()
		// The outbox stores absent headers and data as empty.
		if len(m.Headers) == 0 {
			m.Headers = nil
		}
		if len(m.Data) == 0 {
			m.Data = nil
		}
		return m, nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: read pending %s: %w", v.what, err)
	}
	return msgs, nil
}

// markPublished sets published_at on the view's messages with the given
// IDs; others (unknown, another store's, already published, not UUIDs) are
// ignored.
func (v outboxView) markPublished(ctx context.Context, ids ...string) error {
	uuids := make([]uuid.UUID, 0, len(ids))
	for _, id := range ids {
		if u, err := uuid.Parse(id); err == nil {
			uuids = append(uuids, u)
		}
	}
	if len(uuids) == 0 {
		return nil
	}
	if _, err := v.db.pool.Exec(ctx, `UPDATE govkit_outbox SET published_at = now()
		WHERE id = ANY($1::uuid[]) AND published_at IS NULL
			AND id IN (SELECT id FROM `+v.marker+` WHERE id = ANY($1::uuid[]))`, uuids); err != nil {
		return fmt.Errorf("postgres: mark %s published: %w", v.what, err)
	}
	return nil
}
