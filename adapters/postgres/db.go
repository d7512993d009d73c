package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// maxIdentifierLen is PostgreSQL's NAMEDATALEN-1: longer names are truncated
// by the server, which would make two schema names silently collide.
const maxIdentifierLen = 63

// DB is a connection pool to PostgreSQL together with the settings govkit's
// stores share. It is safe for concurrent use; create one per process with
// [Open] and release it with [DB.Close].
type DB struct {
	pool     *pgxpool.Pool
	schema   string
	noNotify bool // the stores' outbox writes do not wake relays
}

// Option configures [Open].
type Option func(*openConfig)

type openConfig struct {
	schema    string
	configure []func(*pgxpool.Config)
	noNotify  bool
}

// WithSchema makes every pooled connection use the given schema as its
// search_path (and only that schema), so govkit's tables are created and
// found there. [Open] creates the schema if it does not exist. The name must
// be 1 to 63 characters of ASCII letters, digits and underscores, not
// starting with a digit; it is used case-sensitively (quoted). Tests use this
// to isolate themselves; see package pgtest.
func WithSchema(name string) Option {
	return func(c *openConfig) { c.schema = name }
}

// WithoutOutboxNotify stops govkit's stores from waking relays (NOTIFY)
// when they write events to the outbox; relays then find the events by
// polling (RelayOptions.Poll). PostgreSQL serialises the commits of every
// transaction that notifies, which cost a fifth of the intake's
// throughput in BenchmarkCreateAndRoute; a deployment whose services
// publish their own events after commit, as govkit's do, keeps a relay
// only as the backstop for a failed publish, and that can wait for a poll.
// WriteOutbox, for applications' own stores, always notifies.
func WithoutOutboxNotify() Option {
	return func(c *openConfig) { c.noNotify = true }
}

// WithPoolConfig lets the caller adjust the parsed pool configuration (pool
// size, lifetimes, hooks, tracers...) before the pool is created. It runs
// after the settings of the other options have been applied, so it can
// override them. Several WithPoolConfig options run in order.
func WithPoolConfig(fn func(*pgxpool.Config)) Option {
	return func(c *openConfig) {
		if fn != nil {
			c.configure = append(c.configure, fn)
		}
	}
}

// Open parses dsn (a URL such as "postgres://user@host:5432/db?sslmode=disable"
// or a keyword/value string, as accepted by [pgxpool.ParseConfig]), creates a
// pool, creates the [WithSchema] schema if one was given and missing, and
// pings the server. A DSN that cannot be parsed yields a [*DSNError]
// matching [ErrInvalidDSN]; nothing is dialled in that case.
//
// Open does not create any table: call [DB.Setup] (or [DB.Migrate]) for that.
func Open(ctx context.Context, dsn string, opts ...Option) (*DB, error) {
	var oc openConfig
	for _, opt := range opts {
		if opt != nil {
			opt(&oc)
		}
	}
	if oc.schema != "" {
		if err := validateSchemaName(oc.schema); err != nil {
			return nil, err
		}
	}

	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, &DSNError{Err: err}
	}
	if oc.schema != "" {
		cfg.ConnConfig.RuntimeParams["search_path"] = quoteIdent(oc.schema)
	}
	for _, fn := range oc.configure {
		fn(cfg)
	}
	afterConnect := cfg.AfterConnect
	cfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		registerUUID(conn.TypeMap())
		if afterConnect != nil {
			return afterConnect(ctx, conn)
		}
		return nil
	}

	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: create pool: %w", err)
	}
	db := &DB{pool: pool, schema: oc.schema, noNotify: oc.noNotify}

	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: ping: %w", err)
	}
	if oc.schema != "" {
		if err := db.ensureSchema(ctx); err != nil {
			pool.Close()
			return nil, err
		}
	}
	return db, nil
}

// ensureSchema creates db.schema unless it exists. It checks first so that a
// role without CREATE privilege on the database can still use a schema that
// an administrator created for it.
func (db *DB) ensureSchema(ctx context.Context) error {
	var exists bool
	err := db.pool.QueryRow(ctx,
		"SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1)", db.schema).Scan(&exists)
	if err != nil {
		return fmt.Errorf("postgres: look up schema %q: %w", db.schema, err)
	}
	if exists {
		return nil
	}
	_, err = db.pool.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+quoteIdent(db.schema))
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == "23505" || pgErr.Code == "42P06") {
		// Another process created it between our check and our CREATE:
		// IF NOT EXISTS does not cover that race in PostgreSQL.
		return nil
	}
	if err != nil {
		return fmt.Errorf("postgres: create schema %q: %w", db.schema, err)
	}
	return nil
}

// Close closes every connection in the pool, waiting for acquired ones to be
// released. It is safe to call more than once.
func (db *DB) Close() { db.pool.Close() }

// Pool returns the underlying pgx pool, for queries that govkit does not wrap.
// Its connections use the [WithSchema] search_path, if one was set.
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// Schema returns the name given to [WithSchema], or "" if none was.
func (db *DB) Schema() string { return db.schema }

// Setup applies every migration of govkit's base tables (currently the
// transactional outbox, see [DB.MigrateOutbox]). It is idempotent and safe to
// call from several processes at once; call it once at start-up, after
// [Open] and before using [WriteOutbox].
func (db *DB) Setup(ctx context.Context) error {
	return db.MigrateOutbox(ctx)
}

func validateSchemaName(name string) error {
	if len(name) == 0 || len(name) > maxIdentifierLen {
		return fmt.Errorf("%w: %q: must be 1 to %d characters", ErrInvalidSchema, name, maxIdentifierLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '_', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return fmt.Errorf("%w: %q: only ASCII letters, digits and underscores, not starting with a digit",
				ErrInvalidSchema, name)
		}
	}
	return nil
}

// quoteIdent quotes a PostgreSQL identifier.
func quoteIdent(name string) string {
	return pgx.Identifier{name}.Sanitize()
}
