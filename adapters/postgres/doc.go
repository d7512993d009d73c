// Package postgres is govkit's PostgreSQL base: a connection pool, versioned
// schema migrations, transactions that retry serialization failures and
// deadlocks, and a transactional outbox. govkit's PostgreSQL stores
// (incidents, audit, sensor readings, permits, risk points, codes...) are built on it. It uses pgx v5
// and its pool, pgxpool.
//
// # Connecting
//
// [Open] parses a DSN, creates a pool and pings the server:
//
//	db, err := postgres.Open(ctx, "postgres://app@db.example:5432/city?sslmode=verify-full")
//	if err != nil {
//		return err // errors.Is(err, postgres.ErrInvalidDSN) for a malformed DSN
//	}
//	defer db.Close()
//
// The DSN is a URL or keyword/value string as understood by pgxpool.ParseConfig,
// including its pool_* parameters (pool_max_conns=10...). [WithPoolConfig]
// adjusts the parsed configuration in code. [WithSchema] confines govkit to
// one schema: every pooled connection gets it as its search_path, and Open
// creates it if missing. [DB.Pool] exposes the *pgxpool.Pool for queries of
// your own.
//
// # Migrating
//
// Call [DB.Setup] once at start-up to create govkit's base tables (the
// outbox). Stores bring their own migrations, one sequence per component,
// usually embedded files named VERSION_NAME.sql:
//
//	//go:embed migrations/incident/*.sql
//	var incidentFS embed.FS
//
//	migs, err := postgres.LoadMigrations(incidentFS, "migrations/incident")
//	if err != nil {
//		return err
//	}
//	if err := db.Migrate(ctx, "incident", migs); err != nil {
//		return err
//	}
//
// [DB.Migrate] records what it applied, with a SHA-256 checksum of the SQL,
// in the table govkit_schema_migrations. It applies each pending migration in
// its own transaction, under an advisory lock, so several instances starting
// at once apply every version exactly once. A migration that fails is rolled
// back entirely ([ErrMigrationFailed]); an applied migration whose SQL was
// since edited is refused ([ErrMigrationChanged]): add a new version instead.
//
// Because each migration is one transaction, an index it builds is not
// built CONCURRENTLY: writes to that table wait until it is done. Upgrading
// a large database past such a version (incident 0003, the open-case index;
// permit 0002, which also fills the site columns of every excavation) is
// best done in a quiet hour.
//
// # Transactions and the outbox
//
// [DB.InTx] runs a function in a transaction, commits it if the function
// returns nil and rolls it back otherwise. On a serialization failure or a
// deadlock it reruns the whole function, with backoff, a bounded number of
// times, so the function must do nothing outside the transaction that is
// unsafe to repeat. The default isolation level is read committed;
// [Serializable] selects serializable.
//
// The incident and dispatch stores write each change in one transaction
// whose BEGIN and COMMIT travel with its statements, one round trip in
// all: each check of a change (the version it expects, the idempotency
// keys it claims) fails its statement on the server, through a constraint
// or the function govkit_reject (outbox migration 2), so that a failed
// check aborts the transaction before its COMMIT. They let changes
// applied at the same moment share a transaction: when writers queue (more
// than a quarter of the pool's connections' worth), the first writes for
// everyone queued behind it and commits once. A change still succeeds or fails on its own:
// if any change of a shared transaction fails, the transaction is rolled
// back and each change is written alone, in arrival order. Under load this
// took concurrent writes from about 4,000 to 6,500–8,500 a second on the
// development machine. A caller whose context ends once its change has
// joined a shared transaction waits for that transaction's outcome.
//
// A service that changes state and announces it must not lose, nor invent,
// the announcement if it crashes between the two. [WriteOutbox] stores
// messages in the table govkit_outbox within the caller's transaction, so
// they commit or vanish with the state change:
//
//	err := db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
//		var id int64
//		err := tx.QueryRow(ctx,
//			"INSERT INTO incidents (title) VALUES ($1) RETURNING id", title).Scan(&id)
//		if err != nil {
//			return err
//		}
//		return postgres.WriteOutbox(ctx, tx, postgres.OutboxMessage{
//			Subject: "govkit.incident.created",
//			Key:     strconv.FormatInt(id, 10),
//			Data:    payload,
//		})
//	})
//
// A relay then publishes the messages: in a transaction it takes a batch
// with [FetchUnpublished] (FOR UPDATE SKIP LOCKED, so concurrent relays get
// disjoint batches), publishes them, records them with [MarkPublished] and
// commits. A crash before the commit leaves them to be published again, so
// delivery is at least once: consumers de-duplicate by [OutboxMessage].ID.
//
// # Errors
//
// Errors wrap their causes with %w. Each kind of failure has a sentinel
// error for errors.Is ([ErrInvalidDSN], [ErrInvalidMigration],
// [ErrMigrationChanged], [ErrMigrationFailed], [ErrRetriesExhausted],
// [ErrInvalidOutboxMessage]...) and, where details help, a typed error for
// errors.As; PostgreSQL's own errors remain reachable as *pgconn.PgError.
//
// # Testing
//
// Package pgtest opens a [DB] on a fresh schema per test, named by the
// environment variable GOVKIT_TEST_POSTGRES, and drops it afterwards.
package postgres
