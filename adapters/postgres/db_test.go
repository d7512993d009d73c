package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/govkit/govkit/adapters/postgres"
	"github.com/govkit/govkit/adapters/postgres/pgtest"
)

func TestOpenInvalidDSN(t *testing.T) {
	t.Parallel()
	_, err := postgres.Open(t.Context(), "postgres://user:secretpw@localhost:notaport/db")
	require.ErrorIs(t, err, postgres.ErrInvalidDSN)
	var de *postgres.DSNError
	require.ErrorAs(t, err, &de)
	assert.NotContains(t, err.Error(), "secretpw", "the password must not leak into the error")

	_, err = postgres.Open(t.Context(), "host=localhost sslmode=bogus")
	assert.ErrorIs(t, err, postgres.ErrInvalidDSN)
}

func TestOpenInvalidSchema(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"1x", "a-b", `x"; DROP TABLE y; --`, strings.Repeat("s", 64)} {
		_, err := postgres.Open(t.Context(), "postgres://u@localhost/db", postgres.WithSchema(name))
		assert.ErrorIs(t, err, postgres.ErrInvalidSchema, name)
	}
}

func TestOpenUnreachable(t *testing.T) {
	t.Parallel()
	// Port 1 on loopback refuses connections: Open must report it, not
	// return a pool that fails later.
	_, err := postgres.Open(testCtx(t), "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=5")
	require.Error(t, err)
	assert.NotErrorIs(t, err, postgres.ErrInvalidDSN)
}

func TestOpenWithSchemaSetsSearchPathOnEveryConnection(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t, postgres.WithPoolConfig(func(c *pgxpool.Config) { c.MaxConns = 3 }))
	ctx := testCtx(t)
	require.NotEmpty(t, db.Schema())
	assert.EqualValues(t, 3, db.Pool().Config().MaxConns, "WithPoolConfig applied")

	// Hold three connections at once so they are distinct.
	var conns []*pgxpool.Conn
	for range 3 {
		c, err := db.Pool().Acquire(ctx)
		require.NoError(t, err)
		conns = append(conns, c)
	}
	for _, c := range conns {
		var schema string
		require.NoError(t, c.QueryRow(ctx, "SELECT current_schema()").Scan(&schema))
		assert.Equal(t, db.Schema(), schema)
		c.Release()
	}

	// Unqualified tables land in the schema.
	_, err := db.Pool().Exec(ctx, "CREATE TABLE t (x int)")
	require.NoError(t, err)
	assert.Equal(t, 1, queryInt(t, db,
		"SELECT count(*) FROM pg_tables WHERE schemaname = $1 AND tablename = 't'", db.Schema()))
}

func TestOpenExistingAndMixedCaseSchema(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	ctx := testCtx(t)
	var b [4]byte
	_, _ = rand.Read(b[:])
	schema := "GK_Mixed_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), dsn)
		require.NoError(t, err)
		defer conn.Close(context.Background())
		_, err = conn.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
		require.NoError(t, err)
	})

	db1, err := postgres.Open(ctx, dsn, postgres.WithSchema(schema))
	require.NoError(t, err)
	defer db1.Close()
	require.NoError(t, db1.Setup(ctx))

	// A second process opening the now-existing schema sees the same tables.
	db2, err := postgres.Open(ctx, dsn, postgres.WithSchema(schema))
	require.NoError(t, err)
	defer db2.Close()
	var schemaName string
	require.NoError(t, db2.Pool().QueryRow(ctx, "SELECT current_schema()").Scan(&schemaName))
	assert.Equal(t, schema, schemaName, "case is preserved")
	assert.True(t, tableExists(t, db2, "govkit_outbox"))

	db2.Close()
	db2.Close() // idempotent
}

func TestSetupIsIdempotent(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := testCtx(t)
	require.NoError(t, db.Setup(ctx))
	require.NoError(t, db.Setup(ctx))
	require.NoError(t, db.MigrateOutbox(ctx))
	applied, err := db.AppliedMigrations(ctx, postgres.OutboxComponent)
	require.NoError(t, err)
	require.Len(t, applied, 2)
	assert.Equal(t, "create_outbox", applied[0].Name)
	assert.Equal(t, "create_reject_function", applied[1].Name)
	assert.True(t, tableExists(t, db, "govkit_outbox"))
	assert.Equal(t, 1, queryInt(t, db,
		"SELECT count(*) FROM pg_indexes WHERE schemaname = $1 AND indexname = 'govkit_outbox_unpublished_idx'", db.Schema()))
}
