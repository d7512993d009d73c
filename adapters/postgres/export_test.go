package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// BatchTx exposes batchTx to the external tests.
func (db *DB) BatchTx(ctx context.Context, queue func(*pgx.Batch) (func(pgx.BatchResults) error, error)) error {
	return db.batchTx(ctx, queue)
}

// SharedWrites counts the changes the store committed in a transaction
// with others.
func (s *IncidentStore) SharedWrites() int64 { return s.writes.shared.Load() }
