package postgres

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Migration is one versioned schema change of a component. Versions of a
// component start at 1 and increase by one; once applied, a migration's SQL
// must never change (its SHA-256 checksum is recorded and verified).
//
// SQL may hold several statements. It runs inside a transaction, so it must
// not contain statements that cannot (such as CREATE INDEX CONCURRENTLY) nor
// its own BEGIN/COMMIT. Unqualified names resolve through the connection's
// search_path (see [WithSchema]).
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Checksum returns the hex-encoded SHA-256 of m.SQL, as recorded in
// govkit_schema_migrations.
func (m Migration) Checksum() string {
	sum := sha256.Sum256([]byte(m.SQL))
	return hex.EncodeToString(sum[:])
}

// AppliedMigration is a row of govkit_schema_migrations.
type AppliedMigration struct {
	Component string
	Version   int
	Name      string
	Checksum  string
	AppliedAt time.Time
}

//go:embed migrations/outbox/*.sql
var outboxMigrationFS embed.FS

// OutboxComponent is the component name under which the outbox migrations
// are recorded in govkit_schema_migrations.
const OutboxComponent = "outbox"

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS govkit_schema_migrations (
	component  text        NOT NULL,
	version    integer     NOT NULL,
	name       text        NOT NULL,
	checksum   text        NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (component, version)
)`

// MigrateOutbox applies the migrations of the transactional outbox table
// govkit_outbox (component [OutboxComponent]). [DB.Setup] calls it.
func (db *DB) MigrateOutbox(ctx context.Context) error {
	migs, err := LoadMigrations(outboxMigrationFS, "migrations/outbox")
	if err != nil {
		return err
	}
	return db.Migrate(ctx, OutboxComponent, migs)
}

// Migrate applies the migrations of component that are not yet recorded in
// govkit_schema_migrations (which it creates if needed), in version order.
//
// The list is validated first, without touching the database: component
// must be non-empty and versions must be 1, 2, 3... in order, each with a
// non-empty name and SQL; otherwise a [*MigrationListError] matching
// [ErrInvalidMigration] is returned.
//
// Each migration runs in its own transaction together with the row that
// records it, so a failing migration leaves no trace and is reported as a
// [*MigrationError] (matching [ErrMigrationFailed]) naming its version;
// migrations before it stay applied. Every transaction first takes a
// transaction-scoped advisory lock derived from the current schema and the
// component, then re-reads what is applied: processes migrating the same
// component at the same time therefore apply each version exactly once,
// while different components and different schemas do not wait for each
// other.
//
// Before applying anything, the checksum of every already-applied version
// is compared with the given SQL; a difference yields a
// [*MigrationChangedError] matching [ErrMigrationChanged] and nothing is
// applied. Applied versions beyond the end of the list (a newer release
// migrated this database) are tolerated, so an older release can keep
// running during a rolling deployment.
//
// Migrate is idempotent: once everything is applied it only reads.
func (db *DB) Migrate(ctx context.Context, component string, migrations []Migration) error {
	if err := validateMigrations(component, migrations); err != nil {
		return err
	}
	if err := db.bootstrapMigrations(ctx); err != nil {
		return err
	}
	for {
		done, err := db.applyNext(ctx, component, migrations)
		if err != nil || done {
			return err
		}
	}
}

// AppliedMigrations returns the migrations recorded for component, in
// version order. It returns an empty list if nothing was ever migrated.
func (db *DB) AppliedMigrations(ctx context.Context, component string) ([]AppliedMigration, error) {
	var exists bool
	if err := db.pool.QueryRow(ctx,
		"SELECT to_regclass('govkit_schema_migrations') IS NOT NULL").Scan(&exists); err != nil {
		return nil, fmt.Errorf("postgres: read applied migrations: %w", err)
	}
	if !exists {
		return []AppliedMigration{}, nil
	}
	rows, err := db.pool.Query(ctx, `SELECT component, version, name, checksum, applied_at
		FROM govkit_schema_migrations WHERE component = $1 ORDER BY version`, component)
	if err != nil {
		return nil, fmt.Errorf("postgres: read applied migrations: %w", err)
	}
	applied, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (AppliedMigration, error) {
		var a AppliedMigration
		err := r.Scan(&a.Component, &a.Version, &a.Name, &a.Checksum, &a.AppliedAt)
		return a, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: read applied migrations: %w", err)
	}
	return applied, nil
}

// bootstrapMigrations creates govkit_schema_migrations if needed, under its
// own advisory lock because concurrent CREATE TABLE IF NOT EXISTS can fail.
func (db *DB) bootstrapMigrations(ctx context.Context) error {
	return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if err := lockMigrations(ctx, tx, "\x00bootstrap"); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, createMigrationsTable); err != nil {
			return fmt.Errorf("postgres: create govkit_schema_migrations: %w", err)
		}
		return nil
	})
}

// applyNext applies, in one transaction, the lowest-numbered pending
// migration. It reports done when nothing is pending.
func (db *DB) applyNext(ctx context.Context, component string, migrations []Migration) (done bool, err error) {
	err = pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if err := lockMigrations(ctx, tx, component); err != nil {
			return err
		}
		rows, err := tx.Query(ctx,
			"SELECT version, checksum FROM govkit_schema_migrations WHERE component = $1", component)
		if err != nil {
			return fmt.Errorf("postgres: read applied migrations of %q: %w", component, err)
		}
		applied := make(map[int]string)
		var (
			v   int
			sum string
		)
		_, err = pgx.ForEachRow(rows, []any{&v, &sum}, func() error {
			applied[v] = sum
			return nil
		})
		if err != nil {
			return fmt.Errorf("postgres: read applied migrations of %q: %w", component, err)
		}

		var next *Migration
		for i := range migrations {
			m := &migrations[i]
			got, ok := applied[m.Version]
			if !ok {
				if next == nil {
					next = m
				}
				continue
			}
			if want := m.Checksum(); got != want {
				return &MigrationChangedError{Component: component, Version: m.Version, Name: m.Name,
					AppliedChecksum: got, Checksum: want}
			}
		}
		if next == nil {
			done = true
			return nil
		}
		if _, err := tx.Exec(ctx, next.SQL); err != nil {
			return &MigrationError{Component: component, Version: next.Version, Name: next.Name, Err: err}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO govkit_schema_migrations (component, version, name, checksum)
			VALUES ($1, $2, $3, $4)`, component, next.Version, next.Name, next.Checksum()); err != nil {
			return &MigrationError{Component: component, Version: next.Version, Name: next.Name, Err: err}
		}
		return nil
	})
	if err != nil {
		var me *MigrationError
		var ce *MigrationChangedError
		if !errors.As(err, &me) && !errors.As(err, &ce) {
			err = fmt.Errorf("postgres: migrate %q: %w", component, err)
		}
		return false, err
	}
	return done, nil
}

// lockMigrations takes a transaction-scoped advisory lock for migrating
// component in the transaction's current schema.
func lockMigrations(ctx context.Context, tx pgx.Tx, component string) error {
	var schema string
	if err := tx.QueryRow(ctx, "SELECT coalesce(current_schema(), '')").Scan(&schema); err != nil {
		return fmt.Errorf("postgres: read current schema: %w", err)
	}
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLockKey(schema, component)); err != nil {
		return fmt.Errorf("postgres: take migration lock: %w", err)
	}
	return nil
}

// migrationLockKey derives a stable 64-bit advisory lock key.
func migrationLockKey(schema, component string) int64 {
	sum := sha256.Sum256([]byte("govkit.migrate\x00" + schema + "\x00" + component))
	return int64(binary.BigEndian.Uint64(sum[:8]))
}

func validateMigrations(component string, migrations []Migration) error {
	if strings.TrimSpace(component) == "" {
		return &MigrationListError{Component: component, Index: -1, Reason: "component name is empty"}
	}
	if len(migrations) == 0 {
		return &MigrationListError{Component: component, Index: -1, Reason: "no migrations"}
	}
	for i, m := range migrations {
		switch {
		case i > 0 && m.Version == migrations[i-1].Version:
			return &MigrationListError{Component: component, Index: i, Version: m.Version, Reason: "duplicate version"}
		case m.Version != i+1:
			reason := fmt.Sprintf("version must be %d: versions start at 1 and increase by one", i+1)
			return &MigrationListError{Component: component, Index: i, Version: m.Version, Reason: reason}
		case strings.TrimSpace(m.Name) == "":
			return &MigrationListError{Component: component, Index: i, Version: m.Version, Reason: "name is empty"}
		case strings.TrimSpace(m.SQL) == "":
			return &MigrationListError{Component: component, Index: i, Version: m.Version, Reason: "SQL is empty"}
		}
	}
	return nil
}

var migrationFileName = regexp.MustCompile(`^([0-9]+)_([A-Za-z0-9_-]+)\.sql$`)

// LoadMigrations reads the migrations in directory dir of fsys (typically an
// [embed.FS]). Every file ending in ".sql" must be named VERSION_NAME.sql,
// for example "0001_create_outbox.sql" (version 1, name "create_outbox");
// other files and subdirectories are ignored. The result is sorted by
// version and validated as [DB.Migrate] would (versions 1, 2, 3... without
// gaps or duplicates, non-empty SQL); errors match [ErrInvalidMigration].
func LoadMigrations(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("postgres: read migrations directory %q: %w", dir, err)
	}
	var migs []Migration
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		match := migrationFileName.FindStringSubmatch(e.Name())
		if match == nil {
			return nil, &MigrationListError{Component: dir, Index: -1,
				Reason: fmt.Sprintf("file %q is not named VERSION_NAME.sql", e.Name())}
		}
		version, err := strconv.Atoi(match[1])
		if err != nil {
			return nil, &MigrationListError{Component: dir, Index: -1,
				Reason: fmt.Sprintf("file %q: version out of range", e.Name())}
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("postgres: read migration %q: %w", e.Name(), err)
		}
		migs = append(migs, Migration{Version: version, Name: match[2], SQL: string(b)})
	}
	sort.SliceStable(migs, func(i, j int) bool { return migs[i].Version < migs[j].Version })
	if err := validateMigrations(dir, migs); err != nil {
		return nil, err
	}
	return migs, nil
}
