package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/govkit/govkit/adapters/postgres"
)

// EnvDSN is the environment variable holding the test database's DSN.
const EnvDSN = "GOVKIT_TEST_POSTGRES"

// cleanupTimeout bounds dropping a test's schema.
const cleanupTimeout = 30 * time.Second

// decision is what a test should do given the environment.
type decision int

const (
	useDSN decision = iota
	skipTest
	failTest
)

// decide is the rule applied by [DSN]: use the DSN when set, otherwise
// skip, unless ci is "true" (CI=true), where a missing DSN is a failure.
func decide(dsn, ci string) decision {
	switch {
	case strings.TrimSpace(dsn) != "":
		return useDSN
	case strings.EqualFold(strings.TrimSpace(ci), "true"):
		return failTest
	default:
		return skipTest
	}
}

// DSN returns the test database's DSN from GOVKIT_TEST_POSTGRES. When it is
// unset, DSN skips the test, or fails it if CI=true.
func DSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(EnvDSN)
	switch decide(dsn, os.Getenv("CI")) {
	case failTest:
		t.Fatal(EnvDSN + " must be set when CI=true")
	case skipTest:
		t.Skip(EnvDSN + " is not set; skipping PostgreSQL test")
	}
	return dsn
}

// New opens a [postgres.DB] on the test database (see [DSN]) whose pool uses
// a new, uniquely named schema as its search_path. No table is created:
// call Setup or Migrate as the test needs. When the test ends, the pool is
// closed and the schema dropped with everything in it. Further options (for
// example postgres.WithPoolConfig) are passed to [postgres.Open]; a
// WithSchema among them is overridden.
func New(t testing.TB, opts ...postgres.Option) *postgres.DB {
	t.Helper()
	dsn := DSN(t)
	schema := schemaName(t)

	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	opts = append(opts[:len(opts):len(opts)], postgres.WithSchema(schema))
	db, err := postgres.Open(ctx, dsn, opts...)
	if err != nil {
		t.Fatalf("pgtest: open %s with schema %s: %v", EnvDSN, schema, err)
	}
	t.Cleanup(func() {
		db.Close()
		if err := dropSchema(dsn, schema); err != nil {
			t.Errorf("pgtest: drop schema %s: %v", schema, err)
		}
	})
	return db
}

// schemaName returns a new schema name for t: "gk_", a lower-cased prefix
// of the test's name, and 12 random hex digits, within PostgreSQL's 63
// character limit.
func schemaName(t testing.TB) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("pgtest: random schema name: %v", err)
	}
	var name strings.Builder
	for _, r := range strings.ToLower(t.Name()) {
		if name.Len() >= 40 {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			name.WriteRune(r)
		default:
			name.WriteByte('_')
		}
	}
	return "gk_" + name.String() + "_" + hex.EncodeToString(b[:])
}

// dropSchema drops schema over a connection of its own, since the test's
// pool is closed by then (and t.Context is already cancelled).
func dropSchema(dsn, schema string) error {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, fmt.Sprintf("DROP SCHEMA IF EXISTS %s CASCADE",
		pgx.Identifier{schema}.Sanitize())); err != nil {
		return err
	}
	return nil
}
