package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/govkit/govkit/adapters/postgres"
	"github.com/govkit/govkit/adapters/postgres/pgtest"
)

// loggingMigrations returns n migrations: the first creates table
// migration_log, every one (including the first) appends its version to it,
// so a migration applied twice, or out of order, shows in the log.
func loggingMigrations(n int) []postgres.Migration {
	migs := []postgres.Migration{{Version: 1, Name: "create_log", SQL: `
		CREATE TABLE migration_log (id serial PRIMARY KEY, version int NOT NULL);
		INSERT INTO migration_log (version) VALUES (1);`}}
	for v := 2; v <= n; v++ {
		migs = append(migs, postgres.Migration{Version: v, Name: fmt.Sprintf("step_%d", v),
			SQL: fmt.Sprintf("INSERT INTO migration_log (version) VALUES (%d);", v)})
	}
	return migs
}

func migrationLog(t *testing.T, db *postgres.DB) []int {
	t.Helper()
	rows, err := db.Pool().Query(testCtx(t), "SELECT version FROM migration_log ORDER BY id")
	require.NoError(t, err)
	defer rows.Close()
	var got []int
	for rows.Next() {
		var v int
		require.NoError(t, rows.Scan(&v))
		got = append(got, v)
	}
	require.NoError(t, rows.Err())
	return got
}

func TestMigrateOrderAndIdempotency(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := testCtx(t)

	require.NoError(t, db.Migrate(ctx, "comp", loggingMigrations(3)))
	assert.Equal(t, []int{1, 2, 3}, migrationLog(t, db))
	first, err := db.AppliedMigrations(ctx, "comp")
	require.NoError(t, err)
	require.Len(t, first, 3)
	for i, a := range first {
		m := loggingMigrations(3)[i]
		assert.Equal(t, m.Version, a.Version)
		assert.Equal(t, m.Name, a.Name)
		assert.Equal(t, m.Checksum(), a.Checksum)
		assert.Equal(t, "comp", a.Component)
		assert.False(t, a.AppliedAt.IsZero())
	}

	// Second run: nothing applied again.
	require.NoError(t, db.Migrate(ctx, "comp", loggingMigrations(3)))
	assert.Equal(t, []int{1, 2, 3}, migrationLog(t, db))
	again, err := db.AppliedMigrations(ctx, "comp")
	require.NoError(t, err)
	assert.Equal(t, first, again)

	// A longer list applies only the new versions.
	require.NoError(t, db.Migrate(ctx, "comp", loggingMigrations(5)))
	assert.Equal(t, []int{1, 2, 3, 4, 5}, migrationLog(t, db))

	// An older release with a shorter list is tolerated and applies nothing.
	require.NoError(t, db.Migrate(ctx, "comp", loggingMigrations(2)))
	assert.Equal(t, []int{1, 2, 3, 4, 5}, migrationLog(t, db))
}

func TestMigrateComponentsAreIndependent(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := testCtx(t)
	require.NoError(t, db.Migrate(ctx, "a", []postgres.Migration{{Version: 1, Name: "a", SQL: "CREATE TABLE a (x int)"}}))
	require.NoError(t, db.Migrate(ctx, "b", []postgres.Migration{
		{Version: 1, Name: "b", SQL: "CREATE TABLE b (x int)"},
		{Version: 2, Name: "b2", SQL: "ALTER TABLE b ADD COLUMN y int"},
	}))
	a, err := db.AppliedMigrations(ctx, "a")
	require.NoError(t, err)
	b, err := db.AppliedMigrations(ctx, "b")
	require.NoError(t, err)
	assert.Len(t, a, 1)
	assert.Len(t, b, 2)
	none, err := db.AppliedMigrations(ctx, "c")
	require.NoError(t, err)
	assert.Empty(t, none)
}

func TestAppliedMigrationsBeforeAnyMigration(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	applied, err := db.AppliedMigrations(testCtx(t), "x")
	require.NoError(t, err)
	assert.Empty(t, applied)
	assert.False(t, tableExists(t, db, "govkit_schema_migrations"))
}

func TestMigrateConcurrentlyAppliesEachVersionOnce(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := testCtx(t)
	const versions = 6

	// Half the migrators share db's pool, half have a pool of their own
	// on the same schema, as separate processes would.
	dbs := []*postgres.DB{db}
	for range 3 {
		other, err := postgres.Open(ctx, pgtest.DSN(t), postgres.WithSchema(db.Schema()))
		require.NoError(t, err)
		t.Cleanup(other.Close)
		dbs = append(dbs, other)
	}

	const migrators = 8
	start := make(chan struct{})
	errs := make(chan error, migrators)
	var wg sync.WaitGroup
	for i := range migrators {
		wg.Go(func() {
			<-start
			errs <- dbs[i%len(dbs)].Migrate(ctx, "race", loggingMigrations(versions))
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Equal(t, []int{1, 2, 3, 4, 5, 6}, migrationLog(t, db), "each version exactly once, in order")
	applied, err := db.AppliedMigrations(ctx, "race")
	require.NoError(t, err)
	assert.Len(t, applied, versions)
}

func TestMigrateDetectsChangedMigration(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := testCtx(t)
	require.NoError(t, db.Migrate(ctx, "comp", loggingMigrations(2)))

	changed := loggingMigrations(3)
	changed[1].SQL = "INSERT INTO migration_log (version) VALUES (20);"
	err := db.Migrate(ctx, "comp", changed)
	require.ErrorIs(t, err, postgres.ErrMigrationChanged)
	var ce *postgres.MigrationChangedError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "comp", ce.Component)
	assert.Equal(t, 2, ce.Version)
	assert.Equal(t, loggingMigrations(2)[1].Checksum(), ce.AppliedChecksum)
	assert.Equal(t, changed[1].Checksum(), ce.Checksum)

	// Version 3 was not applied either: the check precedes any change.
	assert.Equal(t, []int{1, 2}, migrationLog(t, db))
	// Whitespace counts: checksums are of the exact SQL.
	changed = loggingMigrations(2)
	changed[0].SQL += "\n"
	assert.ErrorIs(t, db.Migrate(ctx, "comp", changed), postgres.ErrMigrationChanged)
}

func TestMigrateRejectsBadListWithoutTouchingDB(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := testCtx(t)
	bad := map[string]struct {
		component string
		migs      []postgres.Migration
	}{
		"empty component": {"", loggingMigrations(1)},
		"empty list":      {"comp", nil},
		"gap":             {"comp", append(loggingMigrations(2), postgres.Migration{Version: 4, Name: "x", SQL: "SELECT 1"})},
		"not from 1":      {"comp", loggingMigrations(3)[1:]},
		"empty SQL":       {"comp", append(loggingMigrations(1), postgres.Migration{Version: 2, Name: "x"})},
	}
	for name, tc := range bad {
		err := db.Migrate(ctx, tc.component, tc.migs)
		assert.ErrorIs(t, err, postgres.ErrInvalidMigration, name)
	}
	assert.False(t, tableExists(t, db, "govkit_schema_migrations"), "no bookkeeping table created")
	assert.False(t, tableExists(t, db, "migration_log"), "no migration ran")

	// On a closed pool any database access fails differently, so getting
	// ErrInvalidMigration proves validation happens first.
	closed := pgtest.New(t)
	closed.Close()
	for name, tc := range bad {
		err := closed.Migrate(ctx, tc.component, tc.migs)
		assert.ErrorIs(t, err, postgres.ErrInvalidMigration, name)
	}
}

func TestMigrateFailureLeavesNoPartialState(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := testCtx(t)
	migs := append(loggingMigrations(1),
		postgres.Migration{Version: 2, Name: "half_broken", SQL: `
			CREATE TABLE half (x int);
			INSERT INTO migration_log (version) VALUES (2);
			INSERT INTO no_such_table VALUES (1);`},
		postgres.Migration{Version: 3, Name: "after", SQL: "INSERT INTO migration_log (version) VALUES (3);"},
	)
	err := db.Migrate(ctx, "comp", migs)
	require.ErrorIs(t, err, postgres.ErrMigrationFailed)
	var me *postgres.MigrationError
	require.ErrorAs(t, err, &me)
	assert.Equal(t, 2, me.Version)
	assert.Equal(t, "half_broken", me.Name)
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr)
	assert.Equal(t, "42P01", pgErr.Code, "undefined_table")

	assert.False(t, tableExists(t, db, "half"), "migration 2 rolled back entirely")
	assert.Equal(t, []int{1}, migrationLog(t, db), "version 1 stays, 3 never ran")
	applied, err := db.AppliedMigrations(ctx, "comp")
	require.NoError(t, err)
	require.Len(t, applied, 1)

	// Fixing the unapplied migration lets the run complete.
	migs[1].SQL = "CREATE TABLE half (x int); INSERT INTO migration_log (version) VALUES (2);"
	require.NoError(t, db.Migrate(ctx, "comp", migs))
	assert.Equal(t, []int{1, 2, 3}, migrationLog(t, db))
}

func TestMigrateHonoursContext(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx, cancel := context.WithCancel(testCtx(t))
	cancel()
	err := db.Migrate(ctx, "comp", loggingMigrations(1))
	require.ErrorIs(t, err, context.Canceled)
	assert.False(t, tableExists(t, db, "migration_log"))
}

func TestMigrateEmbeddedFiles(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := testCtx(t)
	migs, err := postgres.LoadMigrations(incidentMigrations, "testdata/migrations/incident")
	require.NoError(t, err)
	require.Len(t, migs, 2)
	assert.Equal(t, "add_district", migs[1].Name)
	require.NoError(t, db.Migrate(ctx, "incident", migs))
	_, err = db.Pool().Exec(ctx, "INSERT INTO incidents (title, district) VALUES ('Pothole', 'north')")
	require.NoError(t, err)
}
