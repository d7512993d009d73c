package postgres_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/adapters/postgres"
	"github.com/govkit/govkit/adapters/postgres/pgtest"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/codes"
	"github.com/govkit/govkit/codes/codestest"
	"github.com/govkit/govkit/internal/hashchain"
)

func newCodesStore(t testing.TB) (*postgres.CodesStore, *postgres.DB) {
	t.Helper()
	db := pgtest.New(t)
	s, err := postgres.NewCodesStore(testCtx(t), db)
	require.NoError(t, err)
	return s, db
}

// openCodesTwin opens a second pool on db's schema, standing for a second
// process of the deployment, with its own store.
func openCodesTwin(t testing.TB, db *postgres.DB) (*postgres.CodesStore, *postgres.DB) {
	t.Helper()
	db2, err := postgres.Open(testCtx(t), pgtest.DSN(t), postgres.WithSchema(db.Schema()))
	require.NoError(t, err)
	t.Cleanup(db2.Close)
	s2, err := postgres.NewCodesStore(testCtx(t), db2)
	require.NoError(t, err)
	return s2, db2
}

func TestCodesStoreConformance(t *testing.T) {
	codestest.Run(t, func(t *testing.T) codes.Store {
		s, _ := newCodesStore(t)
		return s
	})
}

func TestCodesStoreNeedsDB(t *testing.T) {
	_, err := postgres.NewCodesStore(context.Background(), nil)
	require.ErrorIs(t, err, postgres.ErrInvalidArgument)
}

// codesAt is when the fixtures happen: a Monday morning in Chongqing.
var codesAt = time.Date(2026, 3, 2, 1, 30, 0, 0, time.UTC)

// A reviewed short-term rental room in Shiqiaopu street, Jiulongpo.
func codesRoom(id string) codes.Subject {
	return codes.Subject{ID: id, Kind: codes.Listing, Jurisdiction: "500107001002003", Created: codesAt, Version: 1,
		Standing: codes.Standing{Score: 100, Colour: codes.Green}}
}

func codesRecord(subject string) codes.CodeRecord {
	return codes.CodeRecord{ID: codes.NewRevocationID(), Kind: codes.Listing, Subject: subject, Jurisdiction: "500107001002003",
		Issuer: "500107-housing", KeyID: codes.KeyID{8, 7, 6, 5, 4, 3, 2, 1}, IssuedAt: codesAt, NotBefore: codesAt,
		Expiry: codesAt.AddDate(1, 0, 0), IssuedBy: "li"}
}

// codesEntry returns the entry after prev (nil for the first), chained as
// the service chains them.
func codesEntry(subject string, prev *codes.Entry, points int64) codes.Entry {
	e := codes.Entry{Subject: subject, Seq: 1, Type: codes.Deduction, Points: points, Rule: "rental-noise-3",
		Evidence: codes.Evidence{Ref: "inspection:" + subject, SHA256: sha256.Sum256([]byte(subject))}, Recorder: "li",
		At: codesAt.Add(time.Hour), Prev: hashchain.Genesis, Key: "report-" + subject + "-1", Note: "夜间噪音投诉"}
	if prev != nil {
		e.Seq, e.Prev, e.At = prev.Seq+1, prev.Hash, prev.At.Add(time.Minute)
		e.Key = fmt.Sprintf("report-%s-%d", subject, e.Seq)
	}
	e.Hash = e.ComputeHash()
	return e
}

func codesEvent(subject string) bus.Message {
	return bus.Message{ID: uuid.Must(uuid.NewV7()).String(), Subject: "gov.500000.500107.500107001.codes.points", Key: subject,
		Time: codesAt, Data: []byte(`{"event":"points"}`), Headers: map[string]string{"govkit-kind": "codes", "govkit-event": "points"}}
}

// Opening the store again, as every process of a deployment does, applies
// nothing twice and loses nothing; processes starting at once apply the
// migration once.
func TestCodesStoreMigrations(t *testing.T) {
	ctx := testCtx(t)
	s, db := newCodesStore(t)
	rec := codesRecord("room-1")
	e := codesEntry("room-1", nil, 5)
	require.NoError(t, s.Apply(ctx, codes.Change{Subjects: []codes.Subject{codesRoom("room-1")}, Codes: []codes.CodeRecord{rec},
		Entries: []codes.Entry{e}, Events: []bus.Message{codesEvent("room-1")}}))

	again, err := postgres.NewCodesStore(ctx, db)
	require.NoError(t, err, "a second store on the same database")
	applied, err := db.AppliedMigrations(ctx, postgres.CodesComponent)
	require.NoError(t, err)
	require.Len(t, applied, 1)
	require.Equal(t, "create_codes", applied[0].Name)
	for _, table := range []string{"govkit_codes_subject", "govkit_codes_code", "govkit_codes_entry", "govkit_codes_revocation",
		"govkit_codes_subject_revocation", "govkit_codes_key", "govkit_codes_counter", "govkit_codes_event", "govkit_outbox"} {
		require.True(t, tableExists(t, db, table), table)
	}
	for _, index := range []string{"govkit_codes_subject_colour_idx", "govkit_codes_code_subject_idx", "govkit_codes_revocation_pkey",
		"govkit_codes_entry_pkey"} {
		require.Equal(t, 1, queryInt(t, db, "SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() AND indexname = $1", index), index)
	}
	got, err := again.Code(ctx, rec.ID)
	require.NoError(t, err)
	require.Equal(t, rec, got)
	ledger, err := again.Ledger(ctx, "room-1")
	require.NoError(t, err)
	require.Equal(t, []codes.Entry{e}, ledger)
	msgs, err := again.Pending(ctx, 10)
	require.NoError(t, err)
	require.Len(t, msgs, 1)

	db2 := pgtest.New(t)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			_, err := postgres.NewCodesStore(ctx, db2)
			errs <- err
		}()
	}
	for range 4 {
		require.NoError(t, <-errs)
	}
	applied, err = db2.AppliedMigrations(ctx, postgres.CodesComponent)
	require.NoError(t, err)
	require.Len(t, applied, 1)
}

// heldCodesTx begins a transaction on db that runs sql and stays open,
// standing for another process's change in flight, and returns it with
// its backend's pid.
func heldCodesTx(t *testing.T, db *postgres.DB, sql string, args ...any) (pgx.Tx, int32) {
	t.Helper()
	ctx := testCtx(t)
	tx, err := db.Pool().Begin(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
	var pid int32
	require.NoError(t, tx.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid))
	_, err = tx.Exec(ctx, sql, args...)
	require.NoError(t, err)
	return tx, pid
}

func codesApplyAsync(ctx context.Context, s *postgres.CodesStore, c codes.Change) <-chan error {
	done := make(chan error, 1)
	go func() { done <- s.Apply(ctx, c) }()
	return done
}

// Two processes (two pools) changing the same subject, ledger, counter or
// code: the database lets one change win and the other fails with
// ErrConflict, whether it waited for the winner or ran after it.
func TestCodesConcurrentApplyAcrossConnections(t *testing.T) {
	ctx := testCtx(t)
	s1, db1 := newCodesStore(t)
	s2, db2 := openCodesTwin(t, db1)
	require.NoError(t, s1.Apply(ctx, codes.Change{Subjects: []codes.Subject{codesRoom("room-1")}}))

	t.Run("waits for a change in flight", func(t *testing.T) {
		// The other process has moved room-1 to version 2 and not yet
		// committed: Apply waits for it, then finds its version taken.
		tx, pid := heldCodesTx(t, db2, `UPDATE govkit_codes_subject SET version = 2, colour = 2 WHERE id = 'room-1'`)
		next := codesRoom("room-1")
		next.Version = 2
		done := codesApplyAsync(ctx, s1, codes.Change{Subjects: []codes.Subject{next}, Events: []bus.Message{codesEvent("room-1")}})
		waitForBlocked(t, db1, pid)
		require.NoError(t, tx.Commit(ctx))
		require.ErrorIs(t, <-done, codes.ErrConflict)
		got, err := s1.Subject(ctx, "room-1")
		require.NoError(t, err)
		require.Equal(t, codes.Yellow, got.Standing.Colour, "the other process's version stands")
		pending, err := s1.Pending(ctx, 10)
		require.NoError(t, err)
		require.Empty(t, pending, "the failed change wrote no event")

		// An entry appended by the other process while Apply waits.
		e1 := codesEntry("room-1", nil, 5)
		tx, pid = heldCodesTx(t, db2, `INSERT INTO govkit_codes_entry (subject, seq, entry_type, points, rule, evidence_ref,
			evidence_sha256, target, recorder, note, idempotency_key, recorded_at, prev_hash, hash)
			VALUES ('room-1', 1, 1, 5, 'r', '', $1, 0, 'wang', '', '', now(), NULL, NULL)`, make([]byte, 32))
		done = codesApplyAsync(ctx, s1, codes.Change{Entries: []codes.Entry{e1}})
		waitForBlocked(t, db1, pid)
		require.NoError(t, tx.Commit(ctx))
		require.ErrorIs(t, <-done, codes.ErrConflict)

		// A change in flight that rolls back leaves the version to Apply.
		tx, pid = heldCodesTx(t, db2, `UPDATE govkit_codes_subject SET version = 3 WHERE id = 'room-1'`)
		third := codesRoom("room-1")
		third.Version = 3
		done = codesApplyAsync(ctx, s1, codes.Change{Subjects: []codes.Subject{third}})
		waitForBlocked(t, db1, pid)
		require.NoError(t, tx.Rollback(ctx))
		require.NoError(t, <-done)
	})

	t.Run("racing changes", func(t *testing.T) {
		const racers = 6 // three per process
		stores := []*postgres.CodesStore{s1, s2}
		race := func(change func(i int) codes.Change) (won int, errs []error) {
			arrive := newBarrier(racers)
			results := make(chan error, racers)
			for i := range racers {
				go func() {
					arrive()
					results <- stores[i%2].Apply(ctx, change(i))
				}()
			}
			for range racers {
				if err := <-results; err == nil {
					won++
				} else {
					errs = append(errs, err)
				}
			}
			return won, errs
		}
		const rounds = 3
		for round := range rounds {
			sub, err := s1.Subject(ctx, "room-1")
			require.NoError(t, err)
			ledger, err := s1.Ledger(ctx, "room-1")
			require.NoError(t, err)
			prev := &ledger[len(ledger)-1]
			counter, err := s1.Counter(ctx, codes.CounterStatusEpoch)
			require.NoError(t, err)
			id := codes.NewRevocationID()
			for name, change := range map[string]func(i int) codes.Change{
				"version": func(i int) codes.Change {
					next := sub
					next.Version++
					next.Standing.Score = int64(100 - i)
					return codes.Change{Subjects: []codes.Subject{next}}
				},
				"seq": func(i int) codes.Change {
					return codes.Change{Entries: []codes.Entry{codesEntry("room-1", prev, int64(i+1))}}
				},
				"counter": func(int) codes.Change {
					return codes.Change{Counters: map[string]uint64{codes.CounterStatusEpoch: counter + 1}}
				},
				"code id": func(int) codes.Change {
					rec := codesRecord("room-1")
					rec.ID = id
					return codes.Change{Codes: []codes.CodeRecord{rec}}
				},
				"revocation": func(int) codes.Change {
					return codes.Change{Revocations: []codes.Revocation{{Code: id, Subject: "room-1", Reason: "lost", By: "li", At: codesAt}}}
				},
			} {
				won, errs := race(func(i int) codes.Change {
					c := change(i)
					c.Events = []bus.Message{codesEvent("room-1")}
					return c
				})
				require.Equal(t, 1, won, "round %d, %s: one change wins", round, name)
				for _, err := range errs {
					require.ErrorIs(t, err, codes.ErrConflict, "round %d, %s", round, name)
				}
			}
			got, err := s2.Subject(ctx, "room-1")
			require.NoError(t, err)
			require.Equal(t, sub.Version+1, got.Version)
			v, err := s2.Counter(ctx, codes.CounterStatusEpoch)
			require.NoError(t, err)
			require.Equal(t, counter+1, v)
			after, err := s2.Ledger(ctx, "room-1")
			require.NoError(t, err)
			require.Len(t, after, len(ledger)+1)
		}
		pending, err := s1.Pending(ctx, 100)
		require.NoError(t, err)
		require.Len(t, pending, rounds*5, "one event per winning change, none of the losers'")
	})
}

// Events are written to the shared outbox in the transaction of the state
// change: with it when it commits, never without it.
func TestCodesOutboxIsWrittenWithTheChange(t *testing.T) {
	ctx := testCtx(t)
	s, db := newCodesStore(t)
	other := postgres.OutboxMessage{ID: uuid.Must(uuid.NewV7()), Subject: "gov.500000.incident.reported", Data: []byte("{}")}
	require.NoError(t, db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		return postgres.WriteOutbox(ctx, tx, other)
	}))

	issued, points := codesEvent("room-1"), codesEvent("room-1")
	require.NoError(t, s.Apply(ctx, codes.Change{Subjects: []codes.Subject{codesRoom("room-1")}, Codes: []codes.CodeRecord{codesRecord("room-1")},
		Events: []bus.Message{issued, points}}))
	require.Equal(t, 3, queryInt(t, db, "SELECT count(*) FROM govkit_outbox"))
	require.Equal(t, 2, queryInt(t, db, "SELECT count(*) FROM govkit_codes_event"))
	msgs, err := s.Pending(ctx, 10)
	require.NoError(t, err)
	require.Equal(t, []bus.Message{issued, points}, msgs, "its own events, in the order written, as given")

	// Changes that fail write no event: a stale version, a taken code, a
	// ledger gap, a counter skipping, an event ID another store used.
	stale := codesRoom("room-1")
	rec := codesRecord("room-1")
	require.NoError(t, s.Apply(ctx, codes.Change{Codes: []codes.CodeRecord{rec}}))
	gap := codesEntry("room-1", nil, 1)
	gap.Seq = 2
	for name, c := range map[string]codes.Change{
		"stale version":  {Subjects: []codes.Subject{stale}},
		"taken code":     {Codes: []codes.CodeRecord{rec}},
		"ledger gap":     {Entries: []codes.Entry{gap}},
		"counter skips":  {Counters: map[string]uint64{codes.CounterRevocationSeq: 2}},
		"another's ID":   {Subjects: []codes.Subject{codesRoom("room-2")}, Events: []bus.Message{{ID: other.ID.String(), Subject: "gov.x.codes.issued"}}},
		"event repeated": {Subjects: []codes.Subject{codesRoom("room-3")}, Events: []bus.Message{issued}},
	} {
		c.Events = append(c.Events, codesEvent("room-1"))
		require.ErrorIs(t, s.Apply(ctx, c), codes.ErrConflict, name)
	}
	for _, id := range []string{"room-2", "room-3"} {
		_, err = s.Subject(ctx, id)
		require.ErrorIs(t, err, codes.ErrNotFound, "nor the change of an event that failed")
	}
	require.Equal(t, 3, queryInt(t, db, "SELECT count(*) FROM govkit_outbox"))
	require.Equal(t, 2, queryInt(t, db, "SELECT count(*) FROM govkit_codes_event"))

	// Another store's event is not the codes store's to publish.
	require.NoError(t, s.MarkPublished(ctx, other.ID.String(), issued.ID))
	require.Equal(t, 1, queryInt(t, db, "SELECT count(*) FROM govkit_outbox WHERE published_at IS NOT NULL"))
	msgs, err = s.Pending(ctx, 10)
	require.NoError(t, err)
	require.Equal(t, []bus.Message{points}, msgs)

	// A relay over the whole outbox publishes the codes store's events too;
	// pruning published messages prunes their marks.
	require.NoError(t, db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		batch, err := postgres.FetchUnpublished(ctx, tx, 10)
		if err != nil {
			return err
		}
		require.Len(t, batch, 2)
		return postgres.MarkPublished(ctx, tx, batch[0].Seq, batch[1].Seq)
	}))
	msgs, err = s.Pending(ctx, 10)
	require.NoError(t, err)
	require.Empty(t, msgs)
	_, err = db.Pool().Exec(ctx, "DELETE FROM govkit_outbox WHERE published_at IS NOT NULL")
	require.NoError(t, err)
	require.Equal(t, 0, queryInt(t, db, "SELECT count(*) FROM govkit_codes_event"))
}

func TestCodesEventIDs(t *testing.T) {
	ctx := testCtx(t)
	s, db := newCodesStore(t)
	id := uuid.Must(uuid.NewV7())
	for _, bad := range []string{"evt-0001", "", strings.ToUpper(id.String()), "urn:uuid:" + id.String(), uuid.Nil.String()} {
		m := codesEvent("room-1")
		m.ID = bad
		err := s.Apply(ctx, codes.Change{Subjects: []codes.Subject{codesRoom("room-1")}, Events: []bus.Message{m}})
		require.ErrorIs(t, err, postgres.ErrInvalidOutboxMessage, "id %q", bad)
		require.ErrorIs(t, err, codes.ErrInvalid, "id %q", bad)
		var ee *postgres.CodesEventError
		require.ErrorAs(t, err, &ee)
		require.Equal(t, bad, ee.ID)
		_, err = s.Subject(ctx, "room-1")
		require.ErrorIs(t, err, codes.ErrNotFound, "nothing of the change is written")
	}
	m := codesEvent("room-1")
	m.Subject = " "
	require.ErrorIs(t, s.Apply(ctx, codes.Change{Events: []bus.Message{m}}), postgres.ErrInvalidOutboxMessage)
	require.Equal(t, 0, queryInt(t, db, "SELECT count(*) FROM govkit_outbox"))
}

// The ledger is append-only in the database itself: whoever tries to
// change or remove an entry is refused, the store's own work (appends,
// appeals, decisions) never needs to, and the chain still verifies.
func TestCodesLedgerIsAppendOnly(t *testing.T) {
	ctx := testCtx(t)
	s, db := newCodesStore(t)
	e1 := codesEntry("room-1", nil, 30)
	e2 := codesEntry("room-1", &e1, 15)
	appeal := codesEntry("room-1", &e2, 0)
	appeal.Type, appeal.Points, appeal.Target, appeal.Evidence = codes.Appeal, 0, 1, codes.Evidence{}
	appeal.Hash = appeal.ComputeHash()
	granted := codesEntry("room-1", &appeal, 0)
	granted.Type, granted.Points, granted.Target, granted.Evidence, granted.Recorder = codes.AppealGranted, 0, 1, codes.Evidence{}, "wang"
	granted.Hash = granted.ComputeHash()
	require.NoError(t, s.Apply(ctx, codes.Change{Subjects: []codes.Subject{codesRoom("room-1")}, Entries: []codes.Entry{e1, e2}}))
	require.NoError(t, s.Apply(ctx, codes.Change{Entries: []codes.Entry{appeal}}))
	require.NoError(t, s.Apply(ctx, codes.Change{Entries: []codes.Entry{granted}}))

	for _, sql := range []string{
		`UPDATE govkit_codes_entry SET points = 1 WHERE subject = 'room-1' AND seq = 1`,
		`UPDATE govkit_codes_entry SET note = 'nothing happened'`,
		`DELETE FROM govkit_codes_entry WHERE seq = 4`,
		`DELETE FROM govkit_codes_entry`,
		`TRUNCATE govkit_codes_entry`,
		`TRUNCATE govkit_codes_entry CASCADE`,
	} {
		_, err := db.Pool().Exec(ctx, sql)
		require.Error(t, err, sql)
		assert.True(t, postgres.IsAppendOnlyViolation(err), "%s: %v", sql, err)
		assert.ErrorContains(t, err, "append-only", sql)
	}
	// Nor does removing the subject take its ledger along.
	_, err := db.Pool().Exec(ctx, `DELETE FROM govkit_codes_subject WHERE id = 'room-1'`)
	require.Error(t, err)

	ledger, err := s.Ledger(ctx, "room-1")
	require.NoError(t, err)
	require.Equal(t, []codes.Entry{e1, e2, appeal, granted}, ledger)
	require.NoError(t, codes.VerifyLedger(ledger))
	standing := codes.DefaultThresholds().Standing(ledger)
	require.Equal(t, int64(85), standing.Score, "the granted appeal voids the first deduction, by a later entry")

	// Appending again, with the repeat of an entry already there, is a
	// conflict and leaves the ledger as it was.
	require.ErrorIs(t, s.Apply(ctx, codes.Change{Entries: []codes.Entry{granted}}), codes.ErrConflict)
	require.Equal(t, 4, queryInt(t, db, `SELECT count(*) FROM govkit_codes_entry`))
}

// The service on PostgreSQL: a repeated deduction (the same idempotency
// key), sent to two processes at once, is recorded once; revocations reach
// the signed list.
func TestCodesServiceOnPostgres(t *testing.T) {
	ctx := testCtx(t)
	s1, db := newCodesStore(t)
	s2, _ := openCodesTwin(t, db)
	ring := codes.NewKeyRing()
	codeKey, err := codes.GenerateKey(codes.EdDSA)
	require.NoError(t, err)
	listKey, err := codes.GenerateKey(codes.EdDSA)
	require.NoError(t, err)
	require.NoError(t, ring.Add(codeKey, codes.PublicKey{Issuer: "500107-housing", Usage: codes.UsageCodes, NotBefore: codesAt.Add(-time.Hour)}))
	require.NoError(t, ring.Add(listKey, codes.PublicKey{Issuer: "500107-housing", Usage: codes.UsageLists, NotBefore: codesAt.Add(-time.Hour)}))
	var services []*codes.Service
	for _, st := range []codes.Store{s1, s2} {
		svc, err := codes.NewService(codes.Config{Store: st, Keys: ring, Authorizer: access.AllowAll(),
			Issuer: "500107-housing", Jurisdiction: "500107"})
		require.NoError(t, err)
		services = append(services, svc)
	}
	li := access.WithActor(ctx, access.Actor{ID: "li", Kind: access.StreetStaff, Scope: "500107001"})
	data, err := codes.EncodeData(codes.ListingClaims{Room: "room-1", Operator: "op-17", Reviews: []string{"housing", "police", "fire"}, Guests: 2})
	require.NoError(t, err)
	code, err := services[0].Issue(li, codes.IssueRequest{Kind: codes.Listing, Subject: "room-1", Jurisdiction: "500107001002003", Data: data})
	require.NoError(t, err)

	evidence := codes.Evidence{Ref: "inspection:2026-03-02/17", SHA256: sha256.Sum256([]byte("photo"))}
	const repeats = 4
	var wg sync.WaitGroup
	standings := make([]codes.Standing, repeats)
	errs := make([]error, repeats)
	for i := range repeats {
		wg.Add(1)
		go func() {
			defer wg.Done()
			standings[i], errs[i] = services[i%2].Deduct(li, codes.Points{Subject: "room-1", Points: 30, Rule: "rental-noise-3",
				Evidence: evidence, Key: "hotline-20260302-0042"})
		}()
	}
	wg.Wait()
	for i := range repeats {
		require.NoError(t, errs[i])
		require.Equal(t, int64(70), standings[i].Score, "request %d", i)
	}
	ledger, err := s2.Ledger(ctx, "room-1")
	require.NoError(t, err)
	require.Len(t, ledger, 1, "the repeats are absorbed")
	require.NoError(t, codes.VerifyLedger(ledger))
	sub, err := s1.Subject(ctx, "room-1")
	require.NoError(t, err)
	require.Equal(t, codes.Yellow, sub.Standing.Colour)
	require.Equal(t, ledger[0].Hash, sub.Head)

	require.NoError(t, services[1].Revoke(li, code.Claims.ID, "lock replaced"))
	require.ErrorIs(t, services[0].Revoke(li, code.Claims.ID, "lock replaced"), codes.ErrConflict)
	_, list, err := services[0].PublishRevocationList(li)
	require.NoError(t, err)
	require.Equal(t, []codes.RevocationID{code.Claims.ID}, list.IDs)
	require.Equal(t, uint64(1), list.Seq)
	pending, err := s1.Pending(ctx, 10)
	require.NoError(t, err)
	require.Len(t, pending, 3, "issued, colour-changed, revoked")
}

// Values travel as parameters, never as SQL; text PostgreSQL cannot store
// is refused as invalid rather than altered, and looking it up finds
// nothing.
func TestCodesTextIsStoredAsItIs(t *testing.T) {
	ctx := testCtx(t)
	s, db := newCodesStore(t)
	evils := []string{"x'; DROP TABLE govkit_codes_entry; --", `room' OR '1'='1`, "%", "_", `\`, `\u0000`, "\ufffd", "$1", "房源码"}
	for _, evil := range evils {
		sub := codesRoom(evil)
		e := codesEntry(evil, nil, 3)
		e.Note, e.Rule, e.Key, e.Evidence.Ref = evil, evil, evil, evil
		e.Hash = e.ComputeHash()
		rec := codesRecord(evil)
		rec.Issuer = evil
		rev := codes.Revocation{Subject: evil, Before: codesAt, Reason: evil, By: evil, At: codesAt}
		require.NoError(t, s.Apply(ctx, codes.Change{Subjects: []codes.Subject{sub}, Entries: []codes.Entry{e}, Codes: []codes.CodeRecord{rec},
			Revocations: []codes.Revocation{rev}, Counters: map[string]uint64{evil: 1}}), evil)
		got, err := s.Subject(ctx, evil)
		require.NoError(t, err)
		require.Equal(t, sub, got)
		ledger, err := s.Ledger(ctx, evil)
		require.NoError(t, err)
		require.Equal(t, []codes.Entry{e}, ledger)
		recs, err := s.CodesOf(ctx, evil)
		require.NoError(t, err)
		require.Equal(t, []codes.CodeRecord{rec}, recs)
		v, err := s.Counter(ctx, evil)
		require.NoError(t, err)
		require.Equal(t, uint64(1), v)
	}
	require.Equal(t, len(evils), queryInt(t, db, "SELECT count(*) FROM govkit_codes_subject"))
	require.Equal(t, len(evils), queryInt(t, db, "SELECT count(*) FROM govkit_codes_subject_revocation"))

	for name, c := range map[string]func() codes.Change{
		"NUL in a note": func() codes.Change {
			e := codesEntry("room-1", nil, 1)
			e.Note = "a\x00b"
			return codes.Change{Subjects: []codes.Subject{codesRoom("room-1")}, Entries: []codes.Entry{e}}
		},
		"invalid UTF-8 in a subject": func() codes.Change { return codes.Change{Subjects: []codes.Subject{codesRoom("room\xff")}} },
		"NUL in a reason": func() codes.Change {
			return codes.Change{Revocations: []codes.Revocation{{Code: codes.NewRevocationID(), Subject: "s", Reason: "\x00"}}}
		},
		"NUL in a counter":    func() codes.Change { return codes.Change{Counters: map[string]uint64{"epoch\x00": 1}} },
		"NUL in a key issuer": func() codes.Change { return codes.Change{Keys: []codes.PublicKey{{Issuer: "x\x00"}}} },
		"NUL in an event key": func() codes.Change {
			m := codesEvent("s")
			m.Key = "s\x00"
			return codes.Change{Events: []bus.Message{m}}
		},
		"bad UTF-8 in headers": func() codes.Change {
			m := codesEvent("s")
			m.Headers["x"] = "\xc3"
			return codes.Change{Events: []bus.Message{m}}
		},
	} {
		require.ErrorIs(t, s.Apply(ctx, c()), codes.ErrInvalid, name)
	}
	require.Equal(t, len(evils), queryInt(t, db, "SELECT count(*) FROM govkit_codes_subject"))
	require.Equal(t, 0, queryInt(t, db, "SELECT count(*) FROM govkit_outbox"))

	for _, bad := range []string{"room\x00", "room\xff"} {
		_, err := s.Subject(ctx, bad)
		require.ErrorIs(t, err, codes.ErrNotFound)
		_, err = s.Ledger(ctx, bad)
		require.ErrorIs(t, err, codes.ErrNotFound)
		recs, err := s.CodesOf(ctx, bad)
		require.NoError(t, err)
		require.Empty(t, recs)
		v, err := s.Counter(ctx, bad)
		require.NoError(t, err)
		require.Zero(t, v)
	}
}

// Subjects come in Go's byte order, whatever the database's collation, and
// pages continue after any ID, as in the memory store.
func TestCodesSubjectOrderIsBytewise(t *testing.T) {
	ctx := testCtx(t)
	s, _ := newCodesStore(t)
	mem := codes.NewMemoryStore()
	ids := []string{"room-b", "Room-a", "room-a", "room_a", "room-10", "room-9", "房源-1", "Éclair", "eclair", "z", "room"}
	var subs []codes.Subject
	for i, id := range ids {
		sub := codesRoom(id)
		sub.Standing.Colour = []codes.Colour{codes.Green, codes.Yellow, codes.Red}[i%3]
		subs = append(subs, sub)
	}
	for _, st := range []codes.Store{s, mem} {
		require.NoError(t, st.Apply(ctx, codes.Change{Subjects: subs}))
	}
	for _, q := range []codes.SubjectQuery{
		{}, {Limit: 3}, {After: "room"}, {After: "room-a"}, {After: "room\x00"}, {After: "room-a\x00z"}, {After: "\xff"},
		{After: "room\xff"}, {After: "Z"}, {Colours: []codes.Colour{codes.Yellow, codes.Red}, Limit: 2, After: "eclair"},
	} {
		want, err := mem.Subjects(ctx, q)
		require.NoError(t, err)
		got, err := s.Subjects(ctx, q)
		require.NoError(t, err)
		require.Equal(t, want, got, "%#v", q)
	}
	var wantIDs []string
	for _, sub := range subs {
		wantIDs = append(wantIDs, sub.ID)
	}
	slices.Sort(wantIDs)
	all, err := s.Subjects(ctx, codes.SubjectQuery{})
	require.NoError(t, err)
	var gotIDs []string
	for _, sub := range all {
		gotIDs = append(gotIDs, sub.ID)
	}
	require.Equal(t, wantIDs, gotIDs)
}

// Counters keep all 64 bits of a uint64, past the largest bigint.
func TestCodesCountersUseAllBits(t *testing.T) {
	ctx := testCtx(t)
	s, db := newCodesStore(t)
	_, err := db.Pool().Exec(ctx, `INSERT INTO govkit_codes_counter (name, value) VALUES ('revocation-seq', $1)`, int64(math.MaxInt64))
	require.NoError(t, err)
	require.NoError(t, s.Apply(ctx, codes.Change{Counters: map[string]uint64{codes.CounterRevocationSeq: math.MaxInt64 + 1}}))
	v, err := s.Counter(ctx, codes.CounterRevocationSeq)
	require.NoError(t, err)
	require.Equal(t, uint64(math.MaxInt64+1), v)
	require.ErrorIs(t, s.Apply(ctx, codes.Change{Counters: map[string]uint64{codes.CounterRevocationSeq: math.MaxInt64 + 1}}), codes.ErrConflict)
	require.NoError(t, s.Apply(ctx, codes.Change{Counters: map[string]uint64{codes.CounterRevocationSeq: math.MaxInt64 + 2}}))
}

// Only public keys are kept: the table has no column for anything else,
// and a private key passed off as an SPKI is refused.
func TestCodesKeysArePublic(t *testing.T) {
	ctx := testCtx(t)
	s, db := newCodesStore(t)
	rows, err := db.Pool().Query(ctx, `SELECT column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = 'govkit_codes_key' ORDER BY ordinal_position`)
	require.NoError(t, err)
	columns, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Equal(t, []string{"id", "algorithm", "spki", "issuer", "usage", "kinds", "not_before", "not_after", "updated_at"}, columns)

	_, edPriv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	ecPriv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	pkcs8, err := x509.MarshalPKCS8PrivateKey(edPriv)
	require.NoError(t, err)
	sec1, err := x509.MarshalECPrivateKey(ecPriv)
	require.NoError(t, err)
	for name, der := range map[string][]byte{"PKCS #8": pkcs8, "SEC 1": sec1} {
		k, err := codes.GenerateKey(codes.EdDSA)
		require.NoError(t, err)
		p := k.PublicKey()
		p.Usage, p.SPKI = codes.UsageCodes, der
		require.ErrorIs(t, s.Apply(ctx, codes.Change{Keys: []codes.PublicKey{p}}), codes.ErrInvalid, name)
	}
	require.Equal(t, 0, queryInt(t, db, "SELECT count(*) FROM govkit_codes_key"))

	// The trust list's keys round-trip, nil and empty kinds apart.
	k1, err := codes.GenerateKey(codes.EdDSA)
	require.NoError(t, err)
	k2, err := codes.GenerateKey(codes.ES256)
	require.NoError(t, err)
	p1, p2 := k1.PublicKey(), k2.PublicKey()
	p1.Issuer, p1.Usage, p1.Kinds, p1.NotBefore = "500107-housing", codes.UsageCodes, []codes.Kind{codes.Listing, codes.FirstCustomKind + 40000}, codesAt
	p2.Usage, p2.Kinds, p2.NotAfter = codes.UsageLists, []codes.Kind{}, codesAt
	require.NoError(t, s.Apply(ctx, codes.Change{Keys: []codes.PublicKey{p1, p2}}))
	got, err := s.PublicKeys(ctx)
	require.NoError(t, err)
	want := []codes.PublicKey{p1, p2}
	slices.SortFunc(want, func(a, b codes.PublicKey) int { return slices.Compare(a.ID[:], b.ID[:]) })
	require.Equal(t, want, got)
}

// Revocations come a page at a time in index order: per-code ones in ID
// order across page boundaries, then subject-wide ones in subject order,
// from one snapshot; stopping at any point stops; yield may use the store.
func TestCodesRevocationsInPages(t *testing.T) {
	ctx := testCtx(t)
	s, db := newCodesStore(t)
	const n = 1_000 + 4_000 + 700 // three pages of per-code revocations
	var ids []codes.RevocationID
	revs := make([]codes.Revocation, 0, n)
	for i := range n {
		id := codes.NewRevocationID()
		ids = append(ids, id)
		revs = append(revs, codes.Revocation{Code: id, Subject: fmt.Sprintf("room-%04d", i), Reason: "lock replaced", By: "li", At: codesAt})
	}
	wide := []string{"room-b", "Room-a", "房源-1", "room-a"}
	for _, sub := range wide {
		revs = append(revs, codes.Revocation{Subject: sub, Before: codesAt, Reason: "delisted", By: "wang", At: codesAt})
	}
	require.NoError(t, s.Apply(ctx, codes.Change{Revocations: revs}))
	slices.SortFunc(ids, func(a, b codes.RevocationID) int { return slices.Compare(a[:], b[:]) })
	slices.Sort(wide)

	var got []codes.Revocation
	require.NoError(t, s.Revocations(ctx, func(r codes.Revocation) bool {
		if len(got) == 0 {
			// Written after the list began: not in it.
			require.NoError(t, s.Apply(ctx, codes.Change{Revocations: []codes.Revocation{{Code: codes.NewRevocationID(), Subject: "late", At: codesAt}}}))
			_, err := s.Code(ctx, r.Code) // the store is usable from yield
			require.ErrorIs(t, err, codes.ErrNotFound)
		}
		got = append(got, r)
		return true
	}))
	require.Len(t, got, n+len(wide))
	for i, id := range ids {
		require.Equal(t, id, got[i].Code, "revocation %d", i)
	}
	for i, sub := range wide {
		r := got[n+i]
		require.True(t, r.Code.IsZero())
		require.Equal(t, codes.Revocation{Subject: sub, Before: codesAt, Reason: "delisted", By: "wang", At: codesAt}, r)
	}
	for _, stop := range []int{1, 999, 1_000, 1_001, 5_000, n, n + 1} {
		seen := 0
		require.NoError(t, s.Revocations(ctx, func(codes.Revocation) bool { seen++; return seen < stop }))
		require.Equal(t, stop, seen)
	}

	// The list is read from the covering primary key, not sorted.
	_, err := db.Pool().Exec(ctx, "VACUUM ANALYZE govkit_codes_revocation")
	require.NoError(t, err)
	rows, err := db.Pool().Query(ctx, `EXPLAIN SELECT code, subject, before, reason, revoked_by, revoked_at
		FROM govkit_codes_revocation WHERE code > $1 ORDER BY code LIMIT 16000`, uuid.UUID(ids[0]))
	require.NoError(t, err)
	plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Contains(t, strings.Join(plan, "\n"), "Index Only Scan using govkit_codes_revocation_pkey")

	// A revocation too long for an index entry is refused before writing.
	long := codes.Revocation{Code: codes.NewRevocationID(), Subject: "room-1", Reason: strings.Repeat("长", 700), By: "li", At: codesAt}
	require.ErrorIs(t, s.Apply(ctx, codes.Change{Revocations: []codes.Revocation{long}}), codes.ErrInvalid)
	long.Reason = strings.Repeat("长", 600)
	require.NoError(t, s.Apply(ctx, codes.Change{Revocations: []codes.Revocation{long}}))
}

// BenchmarkCodesRevocations measures revocations with 1,000,000 revoked
// codes stored (loaded through Apply, 10,000 per change): revoking one
// more (an index probe and an insert, with its event), refusing a repeat
// (the probe alone: lookups/s), streaming the whole list as
// PublishRevocationList does (ids/s), and stopping after the first
// revocation (which costs a page, not the list).
func BenchmarkCodesRevocations(b *testing.B) {
	const stored, perChange = 1_000_000, 10_000
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	db := pgtest.New(b)
	s, err := postgres.NewCodesStore(ctx, db)
	require.NoError(b, err)
	revoked := make([]codes.RevocationID, 0, stored)
	for len(revoked) < stored {
		revs := make([]codes.Revocation, perChange)
		for i := range revs {
			id := codes.NewRevocationID()
			revoked = append(revoked, id)
			revs[i] = codes.Revocation{Code: id, Subject: fmt.Sprintf("room-%07d", len(revoked)), Reason: "lock replaced", By: "li", At: codesAt}
		}
		require.NoError(b, s.Apply(ctx, codes.Change{Revocations: revs}))
	}
	_, err = db.Pool().Exec(ctx, "VACUUM ANALYZE govkit_codes_revocation")
	require.NoError(b, err)

	b.Run("Revoke", func(b *testing.B) {
		b.SetParallelism(4)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				rev := codes.Revocation{Code: codes.NewRevocationID(), Subject: "room-x", Reason: "lost", By: "li", At: codesAt}
				if err := s.Apply(ctx, codes.Change{Revocations: []codes.Revocation{rev}, Events: []bus.Message{codesEvent("room-x")}}); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "revocations/s")
	})
	b.Run("Lookup", func(b *testing.B) {
		var n atomic.Int64
		b.SetParallelism(4)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				id := revoked[int(n.Add(7919))%len(revoked)]
				err := s.Apply(ctx, codes.Change{Revocations: []codes.Revocation{{Code: id, Subject: "room-x", By: "li", At: codesAt}}})
				if !errors.Is(err, codes.ErrConflict) {
					b.Errorf("revoking %s again: %v", id, err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
	})
	b.Run("Scan", func(b *testing.B) {
		total := 0
		for b.Loop() {
			n, last := 0, codes.RevocationID{}
			err := s.Revocations(ctx, func(r codes.Revocation) bool {
				if slices.Compare(r.Code[:], last[:]) <= 0 && !r.Code.IsZero() {
					b.Fatalf("revocation %s after %s", r.Code, last)
				}
				last = r.Code
				n++
				return true
			})
			require.NoError(b, err)
			require.GreaterOrEqual(b, n, stored)
			total += n
		}
		b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "ids/s")
	})
	b.Run("First", func(b *testing.B) {
		for b.Loop() {
			require.NoError(b, s.Revocations(ctx, func(codes.Revocation) bool { return false }))
		}
	})
}
