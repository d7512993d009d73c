package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// Querier and BatchTx expose batchTx to the external tests.
type Querier = querier

func (db *DB) BatchTx(ctx context.Context, queue func(*pgx.Batch) (func(pgx.BatchResults) error, error), then func(context.Context, Querier) error) error {
	return db.batchTx(ctx, queue, then)
}

// SharedWrites counts the changes the store committed in a transaction
// with others.
func (s *IncidentStore) SharedWrites() int64 { return s.writes.shared.Load() }
