package postgres

import (
	"errors"
	"fmt"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidateMigrations(t *testing.T) {
	t.Parallel()
	ok := func(v int) Migration { return Migration{Version: v, Name: fmt.Sprintf("m%d", v), SQL: "SELECT 1"} }
	cases := []struct {
		name      string
		component string
		migs      []Migration
		index     int
	}{
		{"empty component", "", []Migration{ok(1)}, -1},
		{"blank component", "  ", []Migration{ok(1)}, -1},
		{"no migrations", "c", nil, -1},
		{"starts at 0", "c", []Migration{ok(0), ok(1)}, 0},
		{"starts at 2", "c", []Migration{ok(2)}, 0},
		{"gap", "c", []Migration{ok(1), ok(2), ok(4)}, 2},
		{"duplicate", "c", []Migration{ok(1), ok(1), ok(2)}, 1},
		{"out of order", "c", []Migration{ok(2), ok(1)}, 0},
		{"empty SQL", "c", []Migration{ok(1), {Version: 2, Name: "x", SQL: " \n\t"}}, 1},
		{"empty name", "c", []Migration{ok(1), {Version: 2, SQL: "SELECT 1"}}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := validateMigrations(tc.component, tc.migs)
			require.ErrorIs(t, err, ErrInvalidMigration)
			var le *MigrationListError
			require.ErrorAs(t, err, &le)
			assert.Equal(t, tc.index, le.Index)
			assert.Equal(t, tc.component, le.Component)
		})
	}
	require.NoError(t, validateMigrations("c", []Migration{ok(1), ok(2), ok(3)}))
}

func TestLoadMigrations(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{
		"m/0002_add_index.sql":    {Data: []byte("CREATE INDEX i ON t (x);")},
		"m/0001_create_table.sql": {Data: []byte("CREATE TABLE t (x int);")},
		"m/README.md":             {Data: []byte("not a migration")},
		"m/sub/0009_ignored.sql":  {Data: []byte("SELECT 1")},
	}
	migs, err := LoadMigrations(fsys, "m")
	require.NoError(t, err)
	assert.Equal(t, []Migration{
		{Version: 1, Name: "create_table", SQL: "CREATE TABLE t (x int);"},
		{Version: 2, Name: "add_index", SQL: "CREATE INDEX i ON t (x);"},
	}, migs)

	bad := map[string]fstest.MapFS{
		"bad name":  {"m/create.sql": {Data: []byte("SELECT 1")}},
		"gap":       {"m/0001_a.sql": {Data: []byte("SELECT 1")}, "m/0003_c.sql": {Data: []byte("SELECT 1")}},
		"duplicate": {"m/0001_a.sql": {Data: []byte("SELECT 1")}, "m/1_b.sql": {Data: []byte("SELECT 1")}},
		"empty SQL": {"m/0001_a.sql": {Data: []byte("\n")}},
		"empty dir": {"m/README": {Data: []byte("x")}},
	}
	for name, fsys := range bad {
		_, err := LoadMigrations(fsys, "m")
		assert.ErrorIs(t, err, ErrInvalidMigration, name)
	}
	_, err = LoadMigrations(fstest.MapFS{}, "missing")
	assert.Error(t, err)
}

func TestOutboxMigrationsEmbedded(t *testing.T) {
	t.Parallel()
	migs, err := LoadMigrations(outboxMigrationFS, "migrations/outbox")
	require.NoError(t, err)
	require.NotEmpty(t, migs)
	assert.Equal(t, "create_outbox", migs[0].Name)
	assert.Contains(t, migs[0].SQL, "govkit_outbox")
}

func TestChecksum(t *testing.T) {
	t.Parallel()
	m := Migration{SQL: "SELECT 1"}
	assert.Len(t, m.Checksum(), 64)
	assert.Equal(t, m.Checksum(), Migration{Version: 7, Name: "other", SQL: "SELECT 1"}.Checksum())
	assert.NotEqual(t, m.Checksum(), Migration{SQL: "SELECT 2"}.Checksum())
}

func TestMigrationLockKey(t *testing.T) {
	t.Parallel()
	k := migrationLockKey("public", "outbox")
	assert.Equal(t, k, migrationLockKey("public", "outbox"), "stable")
	assert.NotEqual(t, k, migrationLockKey("public", "audit"))
	assert.NotEqual(t, k, migrationLockKey("other", "outbox"))
	assert.NotEqual(t, migrationLockKey("ab", "c"), migrationLockKey("a", "bc"))
}

func TestIsRetryable(t *testing.T) {
	t.Parallel()
	assert.True(t, IsRetryable(&pgconn.PgError{Code: "40001"}))
	assert.True(t, IsRetryable(&pgconn.PgError{Code: "40P01"}))
	assert.True(t, IsRetryable(fmt.Errorf("wrapped: %w", &pgconn.PgError{Code: "40001"})))
	assert.False(t, IsRetryable(&pgconn.PgError{Code: "23505"}))
	assert.False(t, IsRetryable(errors.New("40001")))
	assert.False(t, IsRetryable(nil))
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	c := txConfig{baseDelay: 10 * time.Millisecond, maxDelay: 80 * time.Millisecond}
	for attempt, ceiling := range map[int]time.Duration{1: 10, 2: 20, 3: 40, 4: 80, 5: 80, 60: 80} {
		ceiling *= time.Millisecond
		for range 50 {
			d := c.backoff(attempt)
			assert.GreaterOrEqual(t, d, ceiling/2, "attempt %d", attempt)
			assert.LessOrEqual(t, d, ceiling, "attempt %d", attempt)
		}
	}
	assert.Zero(t, (&txConfig{}).backoff(3))
}

func TestValidateSchemaName(t *testing.T) {
	t.Parallel()
	for _, good := range []string{"a", "_x", "gk_test_01", "MixedCase", "a123456789012345678901234567890123456789012345678901234567890bc"} {
		assert.NoError(t, validateSchemaName(good), good)
	}
	for _, bad := range []string{"", "1abc", "a-b", "a b", `a"b`, "a;drop", "é", "a1234567890123456789012345678901234567890123456789012345678901234"} {
		assert.ErrorIs(t, validateSchemaName(bad), ErrInvalidSchema, bad)
	}
}
