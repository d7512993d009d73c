package postgres_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/govkit/govkit/adapters/postgres"
)

// testCtx returns a context bounded so that a hung test fails instead of
// blocking the suite.
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// queryInt runs a query returning one integer.
func queryInt(t testing.TB, db *postgres.DB, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, db.Pool().QueryRow(testCtx(t), sql, args...).Scan(&n))
	return n
}

// tableExists reports whether name resolves through the DB's search_path.
func tableExists(t testing.TB, db *postgres.DB, name string) bool {
	t.Helper()
	var ok bool
	require.NoError(t, db.Pool().QueryRow(testCtx(t), "SELECT to_regclass($1) IS NOT NULL", name).Scan(&ok))
	return ok
}

// newBarrier returns a function that blocks until n goroutines have called
// it, or 10 seconds have passed, so a broken test fails instead of hanging.
func newBarrier(n int) func() {
	var arrived sync.WaitGroup
	arrived.Add(n)
	all := make(chan struct{})
	go func() {
		arrived.Wait()
		close(all)
	}()
	return func() {
		arrived.Done()
		select {
		case <-all:
		case <-time.After(10 * time.Second):
		}
	}
}
