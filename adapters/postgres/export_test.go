package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// Querier, BatchTx and BatchCommitTx expose batchTx and batchCommitTx to
// the external tests.
type Querier = querier

func (db *DB) BatchTx(ctx context.Context, queue func(*pgx.Batch) (func(pgx.BatchResults) error, error), then func(context.Context, Querier) error) error {
	return db.batchTx(ctx, queue, then)
}

// SharedWrites counts the changes the store committed in a transaction
// with others.
func (s *IncidentStore) SharedWrites() int64 { return s.writes.shared.Load() }

func (db *DB) BatchCommitTx(ctx context.Context, queue func(*pgx.Batch) (func(pgx.BatchResults) error, error)) error {
	return db.batchCommitTx(ctx, queue)
}
