package postgres_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/adapters/postgres"
	"github.com/govkit/govkit/adapters/postgres/pgtest"
	"github.com/govkit/govkit/audit"
	"github.com/govkit/govkit/audit/audittest"
	"github.com/govkit/govkit/clock"
)

func newAuditStore(t *testing.T, db *postgres.DB) *postgres.AuditStore {
	t.Helper()
	s, err := postgres.NewAuditStore(testCtx(t), db)
	require.NoError(t, err)
	return s
}

// tamperAudit edits a row behind the store's back, as only the table's
// owner can: with the append-only trigger disabled.
func tamperAudit(t *testing.T, db *postgres.DB, seq uint64) {
	t.Helper()
	_, err := db.Pool().Exec(testCtx(t), `
		ALTER TABLE govkit_audit DISABLE TRIGGER govkit_audit_append_only;
		UPDATE govkit_audit SET reason = reason || ' (edited)' WHERE seq = `+fmt.Sprint(seq)+`;
		ALTER TABLE govkit_audit ENABLE TRIGGER govkit_audit_append_only;`)
	require.NoError(t, err)
}

func TestAuditConformance(t *testing.T) {
	var (
		mu  sync.Mutex
		dbs = map[audit.Store]*postgres.DB{}
	)
	audittest.Run(t, audittest.Harness{
		New: func(t *testing.T) audit.Store {
			db := pgtest.New(t)
			s := newAuditStore(t, db)
			mu.Lock()
			dbs[s] = db
			mu.Unlock()
			return s
		},
		Tamper: func(t *testing.T, s audit.Store, seq uint64) {
			mu.Lock()
			db := dbs[s]
			mu.Unlock()
			tamperAudit(t, db, seq)
		},
	})
}

func TestAuditTableIsAppendOnly(t *testing.T) {
	db := pgtest.New(t)
	s := newAuditStore(t, db)
	ctx := testCtx(t)
	l, err := audit.New(s, clock.Real())
	require.NoError(t, err)
	for range 3 {
		_, err := l.Record(ctx, audit.Entry{ActorID: "li", Action: "read", ResourceKind: "incident", Reason: "ok"})
		require.NoError(t, err)
	}
	for _, sql := range []string{
		`UPDATE govkit_audit SET allowed = NOT allowed WHERE seq = 2`,
		`UPDATE govkit_audit SET reason = 'nothing happened'`,
		`DELETE FROM govkit_audit WHERE seq = 3`,
		`DELETE FROM govkit_audit`,
		`TRUNCATE govkit_audit`,
	} {
		_, err := db.Pool().Exec(ctx, sql)
		require.Error(t, err, sql)
		assert.True(t, postgres.IsAppendOnlyViolation(err), "%s: %v", sql, err)
		assert.ErrorContains(t, err, "append-only", sql)
	}
	assert.Equal(t, 3, queryInt(t, db, `SELECT count(*) FROM govkit_audit`))
	require.NoError(t, l.Verify(ctx))

	// The tampering the trigger cannot stop (its owner disabling it) the
	// chain shows.
	tamperAudit(t, db, 2)
	err = l.Verify(ctx)
	var te *audit.TamperError
	require.ErrorAs(t, err, &te)
	assert.Equal(t, uint64(2), te.Seq)
}

// Two pools on one schema stand for two processes appending to one log.
func TestAuditTwoProcesses(t *testing.T) {
	db1 := pgtest.New(t)
	db2, err := postgres.Open(testCtx(t), pgtest.DSN(t), postgres.WithSchema(db1.Schema()))
	require.NoError(t, err)
	t.Cleanup(db2.Close)

	ctx := testCtx(t)
	const procs, workers, n = 2, 4, 15
	var logs []*audit.Log
	for _, db := range []*postgres.DB{db1, db2} {
		s, err := postgres.NewAuditStore(ctx, db) // both migrate: applied once
		require.NoError(t, err)
		l, err := audit.New(s, clock.Real())
		require.NoError(t, err)
		logs = append(logs, l)
	}
	var wg sync.WaitGroup
	errs := make(chan error, procs*workers*n)
	for p, l := range logs {
		for w := range workers {
			wg.Go(func() {
				for i := range n {
					if _, err := l.Record(ctx, audit.Entry{ActorID: fmt.Sprintf("p%d-w%d", p, w),
						Action: "read", ResourceKind: "incident", ResourceID: fmt.Sprint(i)}); err != nil {
						errs <- err
						return
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	assert.Equal(t, procs*workers*n, queryInt(t, db1, `SELECT count(*) FROM govkit_audit`))
	assert.Equal(t, procs*workers*n, queryInt(t, db1, `SELECT max(seq) FROM govkit_audit`))
	for _, l := range logs {
		require.NoError(t, l.Verify(ctx))
	}
	applied, err := db1.AppliedMigrations(ctx, postgres.AuditComponent)
	require.NoError(t, err)
	assert.Len(t, applied, 1)
}

func TestNewAuditStoreRejectsNilDB(t *testing.T) {
	_, err := postgres.NewAuditStore(context.Background(), nil)
	assert.ErrorIs(t, err, postgres.ErrInvalidArgument)
}

// ExampleNewAuditStore keeps the audit log of access decisions in
// PostgreSQL, where the table refuses UPDATE and DELETE.
func ExampleNewAuditStore() {
	ctx := context.Background()
	db, err := postgres.Open(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	store, err := postgres.NewAuditStore(ctx, db) // creates govkit_audit
	if err != nil {
		log.Fatal(err)
	}
	auditLog, err := audit.New(store, clock.Real())
	if err != nil {
		log.Fatal(err)
	}
	az := audit.Authorizer(access.AllowAll(), auditLog) // records every decision
	_ = az
	if err := auditLog.Verify(ctx); err != nil {
		log.Fatal(err) // errors.Is(err, audit.ErrTampered) if rows were edited
	}
}
