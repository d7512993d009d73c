package postgres_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/govkit/govkit/adapters/postgres"
	"github.com/govkit/govkit/adapters/postgres/pgtest"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/permit"
	"github.com/govkit/govkit/permit/permittest"
	"github.com/govkit/govkit/pii"
)

func newPermitStore(t testing.TB) (*postgres.PermitStore, *postgres.DB) {
	t.Helper()
	db := pgtest.New(t)
	s, err := postgres.NewPermitStore(testCtx(t), db, incidentSealer(t, "permit"))
	require.NoError(t, err)
	return s, db
}

func TestPermitStoreConformance(t *testing.T) {
	permittest.Run(t, func(t *testing.T) permit.Store {
		s, _ := newPermitStore(t)
		return s
	})
}

// permitAt is the fixtures' clock: UTC at microsecond precision, as the
// permit service stores times.
var permitAt = time.Date(2026, time.March, 2, 10, 0, 0, 123456000, time.UTC)

func mustPII(t testing.TB, parse func(string) (pii.Data, error), s string) pii.Data {
	t.Helper()
	d, err := parse(s)
	require.NoError(t, err)
	return d
}

// A newborn bundle submitted in Jiefangbei by the father, who also acts
// for the grandmother as her guardian: the child's name, the father's
// phone number and the grandmother's name and ID number are personal data.
func newbornApplication(t testing.TB) permit.Application {
	t.Helper()
	id := uuid.Must(uuid.NewV7())
	child := mustPII(t, pii.NewName, "李小满")
	return permit.Application{
		ID: id, Key: "start:" + id.String(), Template: "newborn", TemplateVersion: 2, Jurisdiction: "500103001",
		Applicant: "li-xing",
		OnBehalf: &permit.Authorisation{Principal: "zhang-guilan", Name: mustPII(t, pii.NewName, "张桂兰"),
			IDNumber: mustPII(t, pii.NewIDNumber, "11010519491231002X"), Relationship: "guardian",
			Basis:      permit.Document{URI: "https://docs.example.gov.cn/guardianship", SHA256: strings.Repeat("ab", 32), Name: "监护证明.pdf", Attached: permitAt},
			ValidUntil: permitAt.AddDate(1, 0, 0), RecordedBy: "li-xing", RecordedAt: permitAt},
		Status: permit.InReview,
		Answers: map[string]permit.Answer{
			"child.name":   {Value: permit.Personal(child), Source: "applicant", At: permitAt},
			"father.phone": {Value: permit.Personal(mustPII(t, pii.NewPhone, "138 1234 5678")), Source: "registry:hukou", At: permitAt},
			"child.sex":    {Value: permit.Text("female"), Source: "applicant", At: permitAt},
			"vaccines":     {Value: permit.List("bcg", "hepb"), Source: "applicant", At: permitAt},
		},
		Offers: map[string]permit.Offer{"child.name": {Source: "hukou", Values: []permit.Value{permit.Personal(child)}, At: permitAt}},
		Items: []permit.ItemState{
			{Item: "hukou", Department: "public-security", Joint: "registration", Status: permit.ItemInReview, Round: 1,
				Started: permitAt, Deadline: permitAt.Add(48 * time.Hour), NextCheck: permitAt.Add(48 * time.Hour)},
			{Item: "insurance", Department: "healthcare-security", Joint: "registration", Status: permit.ItemInReview, Round: 1,
				Started: permitAt, Deadline: permitAt.Add(24 * time.Hour)},
			{Item: "card", Department: "hrss", Status: permit.ItemWaiting},
		},
		History:  []permit.Step{{Time: permitAt, Actor: "li-xing", Action: "submitted", Note: "新生儿出生一件事"}},
		Created:  permitAt.Add(-time.Hour),
		Deadline: permitAt.Add(5 * 24 * time.Hour), NextCheck: permitAt.Add(24 * time.Hour),
		Keys: []string{"submit-1"}, Version: 1,
	}
}

func permitEvent(name, key string) bus.Message {
	return bus.Message{
		ID: uuid.Must(uuid.NewV7()).String(), Subject: "gov.500000.500103.500103001.permit." + name, Key: key,
		Headers: map[string]string{"govkit-kind": "permit", "govkit-event": name}, Time: permitAt,
		Data: []byte(`{"event":"` + name + `"}`),
	}
}

func bumpPermitApp(a permit.Application) permit.Application {
	n := a.Clone()
	n.Version++
	n.History = append(n.History, permit.Step{Time: permitAt.Add(time.Duration(n.Version) * time.Minute), Actor: "test", Action: "bumped"})
	return n
}

func TestPermitStoreNeedsDBAndSealer(t *testing.T) {
	_, err := postgres.NewPermitStore(context.Background(), nil, incidentSealer(t, "permit"))
	require.ErrorIs(t, err, postgres.ErrInvalidArgument)

	db := pgtest.New(t)
	_, err = postgres.NewPermitStore(testCtx(t), db, nil)
	require.ErrorIs(t, err, postgres.ErrInvalidArgument)
	require.False(t, tableExists(t, db, "govkit_permit_application"), "nothing is created without a sealer")
}

// Opening the store again, as every process of a deployment does, applies
// nothing twice and loses nothing; processes starting at once apply the
// migration once.
func TestPermitStoreMigrations(t *testing.T) {
	ctx := testCtx(t)
	s, db := newPermitStore(t)
	a := newbornApplication(t)
	m := permitEvent("submitted", a.ID.String())
	require.NoError(t, s.Apply(ctx, permit.Change{Applications: []permit.Application{a}, Events: []bus.Message{m}}))

	again, err := postgres.NewPermitStore(ctx, db, incidentSealer(t, "permit"))
	require.NoError(t, err, "a second store on the same database")
	applied, err := db.AppliedMigrations(ctx, postgres.PermitComponent)
	require.NoError(t, err)
	require.Len(t, applied, 2)
	require.Equal(t, "create_permit", applied[0].Name)
	require.Equal(t, "index_excavation_sites", applied[1].Name)
	for _, table := range []string{"govkit_permit_template", "govkit_permit_application", "govkit_permit_excavation",
		"govkit_permit_joint", "govkit_permit_moratorium", "govkit_permit_event", "govkit_outbox"} {
		require.True(t, tableExists(t, db, table), table)
	}
	for _, index := range []string{"govkit_permit_application_key_idx", "govkit_permit_application_jurisdiction_idx",
		"govkit_permit_application_template_idx", "govkit_permit_application_status_idx", "govkit_permit_application_applicant_idx",
		"govkit_permit_application_departments_idx", "govkit_permit_excavation_key_idx", "govkit_permit_excavation_segment_idx",
		"govkit_permit_excavation_promoter_idx", "govkit_permit_excavation_jurisdiction_idx", "govkit_permit_excavation_joint_idx",
		"govkit_permit_excavation_window_idx", "govkit_permit_excavation_site_idx", "govkit_permit_joint_jurisdiction_idx", "govkit_permit_moratorium_segment_idx",
		"govkit_permit_moratorium_jurisdiction_idx", "govkit_permit_moratorium_until_idx"} {
		require.Equal(t, 1, queryInt(t, db, "SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() AND indexname = $1", index), index)
	}
	got, err := again.Application(ctx, a.ID)
	require.NoError(t, err)
	require.Equal(t, a, got)
	msgs, err := again.Pending(ctx, 10)
	require.NoError(t, err)
	require.Len(t, msgs, 1)

	db2 := pgtest.New(t)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			_, err := postgres.NewPermitStore(ctx, db2, incidentSealer(t, "permit"))
			errs <- err
		}()
	}
	for range 4 {
		require.NoError(t, <-errs)
	}
	applied, err = db2.AppliedMigrations(ctx, postgres.PermitComponent)
	require.NoError(t, err)
	require.Len(t, applied, 2)
}

// permitSiteBox reads the site box columns of an excavation; ok is false
// when they are NULL.
func permitSiteBox(t *testing.T, db *postgres.DB, id uuid.UUID) (box geo.BBox, ok bool) {
	t.Helper()
	var c [4]*float64
	require.NoError(t, db.Pool().QueryRow(testCtx(t), `SELECT site_min_lat, site_min_lon, site_max_lat, site_max_lon
		FROM govkit_permit_excavation WHERE id = $1`, id).Scan(&c[0], &c[1], &c[2], &c[3]))
	if c[0] == nil {
		for _, v := range c {
			require.Nil(t, v, "the box is NULL as a whole")
		}
		return geo.BBox{}, false
	}
	return geo.BBox{MinLat: *c[0], MinLon: *c[1], MaxLat: *c[2], MaxLon: *c[3]}, true
}

// Near reads the GiST index of site boxes, even in a generic plan, rather
// than every open work of the period.
func TestPermitNearUsesTheSiteIndex(t *testing.T) {
	ctx := testCtx(t)
	db := genericPlanDB(t)
	s, err := postgres.NewPermitStore(ctx, db, incidentSealer(t, "permit"))
	require.NoError(t, err)
	var works []permit.Excavation
	for i := range 200 { // a 20 × 10 grid of 200 m blocks
		lat, lon := 29.5+float64(i/10)*0.0018, 106.45+float64(i%10)*0.0018
		works = append(works, permit.Excavation{ID: uuid.Must(uuid.NewV7()), Promoter: "cq-gas", Segment: fmt.Sprint("s", i),
			Site: geo.LineString{{Lat: lat, Lon: lon}, {Lat: lat, Lon: lon + 0.0018}}, Jurisdiction: "500105001",
			Window: permit.Window{Start: permitAt, End: permitAt.Add(24 * time.Hour)}, Status: permit.ExcavationApplied, Version: 1})
	}
	require.NoError(t, s.Apply(ctx, permit.Change{Excavations: works}))
	_, err = db.Pool().Exec(ctx, "ANALYZE govkit_permit_excavation")
	require.NoError(t, err)

	scans := func(index string) int {
		return queryInt(t, db, "SELECT coalesce(sum(idx_scan), 0) FROM pg_stat_user_indexes WHERE schemaname = current_schema() AND indexrelname = $1", index)
	}
	q := permit.ExcavationQuery{Near: works[55].Site.BBox(), Statuses: []permit.ExcavationStatus{permit.ExcavationApplied},
		During: permit.Window{Start: permitAt, End: permitAt.Add(time.Hour)}, Limit: permit.MaxLimit}
	for range 8 { // past the prepared statement's first custom plans
		p, err := s.Excavations(ctx, q)
		require.NoError(t, err)
		require.Len(t, p.Excavations, 3, "the block and those east and west of it, which touch it")
	}
	require.Eventually(t, func() bool { return scans("govkit_permit_excavation_site_idx") >= 8 }, 5*time.Second, 50*time.Millisecond,
		"the site index was not used")
}

// Works written before the site boxes existed get theirs from their
// documents when the store migrates the database, to the last bit, so
// that Near finds them as it finds new ones.
func TestPermitSiteBoxesOfExistingWorks(t *testing.T) {
	ctx := testCtx(t)
	// The store writes the documents, as the release before did.
	s, db := newPermitStore(t)
	odd := math.Nextafter(29.575, 30) // no short decimal
	works := []permit.Excavation{
		{Promoter: "cq-gas", Segment: "jianxin-1", Site: geo.LineString{{Lat: odd, Lon: 106.530}, {Lat: 29.5751, Lon: 106.53 + 1e-13}, {Lat: 29.57, Lon: 106.5325}}},
		{Promoter: "cq-water", Segment: "jianxin-1"}, // no site
		{Promoter: "cq-gas", Segment: "far", Site: geo.LineString{{Lat: -33.9, Lon: 151.2}, {Lat: -33.90000001, Lon: 151.2000001}}},
	}
	for i := range works {
		works[i].ID, works[i].Jurisdiction, works[i].Status, works[i].Version = uuid.Must(uuid.NewV7()), "500105001", permit.ExcavationApplied, 1
		works[i].Window = permit.Window{Start: permitAt, End: permitAt.Add(24 * time.Hour)}
	}
	require.NoError(t, s.Apply(ctx, permit.Change{Excavations: works}))

	// An old database: the first migration only, the rows as it held them.
	old := pgtest.New(t)
	require.NoError(t, old.MigrateOutbox(ctx))
	migs, err := postgres.LoadMigrations(os.DirFS("."), "migrations/permit")
	require.NoError(t, err)
	require.NoError(t, old.Migrate(ctx, postgres.PermitComponent, migs[:1]))
	for _, e := range works {
		var doc string
		require.NoError(t, db.Pool().QueryRow(ctx, `SELECT doc::text FROM govkit_permit_excavation WHERE id = $1`, e.ID).Scan(&doc))
		_, err := old.Pool().Exec(ctx, `INSERT INTO govkit_permit_excavation
			(id, version, promoter, segment, jurisdiction, status, window_start, window_end, doc)
			VALUES ($1, 1, $2, $3, $4, 1, $5, $6, $7::jsonb)`, e.ID, e.Promoter, e.Segment, string(e.Jurisdiction), e.Window.Start, e.Window.End, doc)
		require.NoError(t, err)
	}

	upgraded, err := postgres.NewPermitStore(ctx, old, incidentSealer(t, "permit"))
	require.NoError(t, err)
	for _, e := range works {
		box, ok := permitSiteBox(t, old, e.ID)
		require.Equal(t, len(e.Site) > 0, ok, e.Promoter)
		if ok {
			require.Equal(t, e.Site.BBox(), box, "the box of the stored site, exactly")
			got, err := upgraded.Excavations(ctx, permit.ExcavationQuery{Near: box})
			require.NoError(t, err)
			require.Equal(t, []permit.Excavation{e}, got.Excavations)
		}
	}
	all, err := upgraded.Excavations(ctx, permit.ExcavationQuery{Near: geo.BBox{MinLat: -90, MinLon: -180, MaxLat: 90, MaxLon: 180}})
	require.NoError(t, err)
	require.Len(t, all.Excavations, 2, "a work without a site is near nothing")
}

// Names, phone and ID numbers reach the database only sealed, and open
// only with the key they were sealed with.
func TestPermitPersonalDataIsSealed(t *testing.T) {
	ctx := testCtx(t)
	s, db := newPermitStore(t)
	a := newbornApplication(t)
	a.Outputs = map[string]permit.Value{"child-id-number": permit.Personal(mustPII(t, pii.NewIDNumber, "500103202603020018"))}
	a.Items[0].Outputs = a.Outputs
	a.Corrections = []permit.Correction{{Seq: 1, Items: []string{"hukou"}, Requested: permitAt,
		Previous: map[string]permit.Answer{"child.name": {Value: permit.Personal(mustPII(t, pii.NewName, "李小"))}}}}
	require.NoError(t, s.Apply(ctx, permit.Change{Applications: []permit.Application{a}, Events: []bus.Message{permitEvent("submitted", a.ID.String())}}))

	got, err := s.Application(ctx, a.ID)
	require.NoError(t, err)
	require.Equal(t, a, got)

	var dump strings.Builder
	for _, q := range []string{
		"SELECT t::text FROM govkit_permit_application t",
		"SELECT t::text || convert_from(data, 'UTF8') FROM govkit_outbox t",
	} {
		rows, err := db.Pool().Query(ctx, q)
		require.NoError(t, err)
		texts, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		for _, s := range texts {
			dump.WriteString(s)
		}
	}
	require.NotEmpty(t, dump.String())
	for _, secret := range []string{"李小满", "小满", "张桂兰", "桂兰", "11010519491231002X", "19491231", "13812345678",
		"12345678", "500103202603020018", "20260302"} {
		require.NotContains(t, dump.String(), secret)
	}
	for _, key := range []string{"personal_sealed", "name_sealed", "id_number_sealed"} {
		require.Contains(t, dump.String(), key, "the sealed values are stored")
	}

	// Without the key the data does not open, by any read.
	other, err := postgres.NewPermitStore(ctx, db, incidentSealer(t, "another key"))
	require.NoError(t, err)
	_, err = other.Application(ctx, a.ID)
	require.ErrorIs(t, err, pii.ErrSealed)
	_, err = other.ApplicationByKey(ctx, a.Key)
	require.ErrorIs(t, err, pii.ErrSealed)
	_, err = other.Applications(ctx, permit.ApplicationQuery{})
	require.ErrorIs(t, err, pii.ErrSealed)
}

// openPermitTwin opens a second pool on db's schema, as a second process
// of a deployment would, and a store on it.
func openPermitTwin(t *testing.T, db *postgres.DB) (*postgres.PermitStore, *postgres.DB) {
	t.Helper()
	db2, err := postgres.Open(testCtx(t), pgtest.DSN(t), postgres.WithSchema(db.Schema()))
	require.NoError(t, err)
	t.Cleanup(db2.Close)
	s2, err := postgres.NewPermitStore(testCtx(t), db2, incidentSealer(t, "permit"))
	require.NoError(t, err)
	return s2, db2
}

// Two processes, each with its own pool, updating one application from
// the same version: one wins, the other gets ErrConflict, every time; and
// two creating applications with one idempotency key: one wins, the other
// is told which application holds the key.
func TestPermitConcurrentApplyAcrossConnections(t *testing.T) {
	ctx := testCtx(t)
	s1, db := newPermitStore(t)
	s2, _ := openPermitTwin(t, db)
	stores := []*postgres.PermitStore{s1, s2}

	a := newbornApplication(t)
	require.NoError(t, s1.Apply(ctx, permit.Change{Applications: []permit.Application{a}}))
	for round := range 20 {
		cur, err := s1.Application(ctx, a.ID)
		require.NoError(t, err)
		next := []permit.Application{bumpPermitApp(cur), bumpPermitApp(cur)}
		next[1].Applicant = "someone-else"
		start := newBarrier(2)
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i, s := range stores {
			wg.Go(func() {
				start()
				errs[i] = s.Apply(ctx, permit.Change{Applications: []permit.Application{next[i]},
					Events: []bus.Message{permitEvent("bumped", a.ID.String())}})
			})
		}
		wg.Wait()
		won := -1
		for i, err := range errs {
			if err == nil {
				require.Equal(t, -1, won, "round %d: both updates of version %d succeeded", round, cur.Version)
				won = i
				continue
			}
			require.ErrorIs(t, err, permit.ErrConflict, "round %d", round)
		}
		require.NotEqual(t, -1, won, "round %d: no update succeeded: %v", round, errs)
		got, err := s2.Application(ctx, a.ID)
		require.NoError(t, err)
		require.Equal(t, next[won], got, "round %d", round)
	}
	require.Equal(t, 20, queryInt(t, db, "SELECT count(*) FROM govkit_permit_event"), "one event per winning change only")

	for round := range 20 {
		key := fmt.Sprintf("start:race-%d", round)
		apps := []permit.Application{newbornApplication(t), newbornApplication(t)}
		apps[0].Key, apps[1].Key = key, key
		start := newBarrier(2)
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i, s := range stores {
			wg.Go(func() {
				start()
				errs[i] = s.Apply(ctx, permit.Change{Applications: []permit.Application{apps[i]}})
			})
		}
		wg.Wait()
		won := -1
		for i, err := range errs {
			if err == nil {
				require.Equal(t, -1, won, "round %d: both creates with key %q succeeded", round, key)
				won = i
			}
		}
		require.NotEqual(t, -1, won, "round %d: no create succeeded: %v", round, errs)
		var dk *permit.DuplicateKeyError
		require.ErrorAs(t, errs[1-won], &dk, "round %d", round)
		require.Equal(t, apps[won].ID, dk.Existing)
		require.Equal(t, key, dk.Key)
	}
}

// heldPermitTx runs sql in a transaction of db2 that stays open, as a
// concurrent change in the middle of its Apply, and returns it with its
// backend's process ID.
func heldPermitTx(t *testing.T, db2 *postgres.DB, sql string, args ...any) (pgx.Tx, int32) {
	t.Helper()
	ctx := testCtx(t)
	tx, err := db2.Pool().Begin(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
	var pid int32
	require.NoError(t, tx.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid))
	tag, err := tx.Exec(ctx, sql, args...)
	require.NoError(t, err)
	require.EqualValues(t, 1, tag.RowsAffected())
	return tx, pid
}

// waitForBlocked waits until some backend waits for a lock held by pid.
func waitForBlocked(t *testing.T, db *postgres.DB, pid int32) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if queryInt(t, db, "SELECT count(*) FROM pg_stat_activity WHERE $1::int = ANY(pg_blocking_pids(pid))", pid) > 0 {
			return
		}
	}
	t.Fatal("the change never waited for the held transaction")
}

// applyAsync runs Apply on a goroutine and returns where its error comes.
func applyAsync(ctx context.Context, s *postgres.PermitStore, c permit.Change) <-chan error {
	done := make(chan error, 1)
	go func() { done <- s.Apply(ctx, c) }()
	return done
}

// A change that commits while Apply waits for it: an update of the same
// version is a conflict; a key it takes is named as held, whether Apply
// creates a record with that key or updates one to it; a key it gives up
// by rolling back is Apply's.
func TestPermitApplyWaitsForConcurrentChanges(t *testing.T) {
	ctx := testCtx(t)
	s, db := newPermitStore(t)
	_, db2 := openPermitTwin(t, db)
	x, y := newbornApplication(t), newbornApplication(t)
	x.Key, y.Key = "", ""
	require.NoError(t, s.Apply(ctx, permit.Change{Applications: []permit.Application{x, y}}))

	t.Run("version", func(t *testing.T) {
		tx, pid := heldPermitTx(t, db2, `UPDATE govkit_permit_application
			SET version = version + 1, doc = jsonb_set(doc, '{version}', to_jsonb(version + 1)) WHERE id = $1`, x.ID)
		done := applyAsync(ctx, s, permit.Change{Applications: []permit.Application{bumpPermitApp(x)}})
		waitForBlocked(t, db, pid)
		require.NoError(t, tx.Commit(ctx))
		err := <-done
		require.ErrorIs(t, err, permit.ErrConflict)
		got, err := s.Application(ctx, x.ID)
		require.NoError(t, err)
		require.EqualValues(t, 2, got.Version, "the other change's version stays")
		x = got
	})

	takeKey := func(t *testing.T, key string) (pgx.Tx, int32) {
		return heldPermitTx(t, db2, `UPDATE govkit_permit_application
			SET key = $2, doc = jsonb_set(doc, '{key}', to_jsonb($2::text)) WHERE id = $1`, x.ID, key)
	}
	t.Run("key of a create", func(t *testing.T) {
		tx, pid := takeKey(t, "start:create-race")
		fresh := newbornApplication(t)
		fresh.Key = "start:create-race"
		done := applyAsync(ctx, s, permit.Change{Applications: []permit.Application{fresh}})
		waitForBlocked(t, db, pid)
		require.NoError(t, tx.Commit(ctx))
		var dk *permit.DuplicateKeyError
		require.ErrorAs(t, <-done, &dk)
		require.Equal(t, x.ID, dk.Existing)
		_, err := s.Application(ctx, fresh.ID)
		require.ErrorIs(t, err, permit.ErrNotFound)
	})
	t.Run("key of an update", func(t *testing.T) {
		tx, pid := takeKey(t, "start:update-race")
		next := bumpPermitApp(y)
		next.Key = "start:update-race"
		done := applyAsync(ctx, s, permit.Change{Applications: []permit.Application{next}})
		waitForBlocked(t, db, pid)
		require.NoError(t, tx.Commit(ctx))
		var dk *permit.DuplicateKeyError
		require.ErrorAs(t, <-done, &dk)
		require.Equal(t, x.ID, dk.Existing)
		got, err := s.Application(ctx, y.ID)
		require.NoError(t, err)
		require.Equal(t, y, got)
	})
	t.Run("key given up", func(t *testing.T) {
		tx, pid := takeKey(t, "start:rolled-back")
		fresh := newbornApplication(t)
		fresh.Key = "start:rolled-back"
		done := applyAsync(ctx, s, permit.Change{Applications: []permit.Application{fresh}})
		waitForBlocked(t, db, pid)
		require.NoError(t, tx.Rollback(ctx))
		require.NoError(t, <-done)
		got, err := s.ApplicationByKey(ctx, "start:rolled-back")
		require.NoError(t, err)
		require.Equal(t, fresh.ID, got.ID)
	})
}

// Events are written to the shared outbox in the transaction of the state
// change: with it when it commits, never without it.
func TestPermitOutboxIsWrittenWithTheChange(t *testing.T) {
	ctx := testCtx(t)
	s, db := newPermitStore(t)
	other := postgres.OutboxMessage{ID: uuid.Must(uuid.NewV7()), Subject: "gov.500000.incident.reported", Data: []byte("{}")}
	require.NoError(t, db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		return postgres.WriteOutbox(ctx, tx, other)
	}))

	a := newbornApplication(t)
	started, submitted := permitEvent("started", a.ID.String()), permitEvent("submitted", a.ID.String())
	require.NoError(t, s.Apply(ctx, permit.Change{Applications: []permit.Application{a}, Events: []bus.Message{started, submitted}}))
	require.Equal(t, 3, queryInt(t, db, "SELECT count(*) FROM govkit_outbox"))
	require.Equal(t, 2, queryInt(t, db, "SELECT count(*) FROM govkit_permit_event"))
	msgs, err := s.Pending(ctx, 10)
	require.NoError(t, err)
	require.Equal(t, []bus.Message{started, submitted}, msgs, "its own events, in the order written, as given")

	// Changes that fail write no event.
	stale := permitEvent("stale", a.ID.String())
	err = s.Apply(ctx, permit.Change{Applications: []permit.Application{a}, Events: []bus.Message{stale}})
	require.ErrorIs(t, err, permit.ErrConflict)
	b := newbornApplication(t)
	err = s.Apply(ctx, permit.Change{Applications: []permit.Application{b},
		Events: []bus.Message{permitEvent("started", b.ID.String()), {ID: other.ID.String(), Subject: "gov.500000.permit.started"}}})
	require.ErrorIs(t, err, permit.ErrConflict, "an event ID another store used")
	_, err = s.Application(ctx, b.ID)
	require.ErrorIs(t, err, permit.ErrNotFound, "nor the change of an event that failed")
	require.Equal(t, 3, queryInt(t, db, "SELECT count(*) FROM govkit_outbox"))
	require.Equal(t, 2, queryInt(t, db, "SELECT count(*) FROM govkit_permit_event"))

	// Another store's event is not the permit store's to publish.
	require.NoError(t, s.MarkPublished(ctx, other.ID.String(), started.ID))
	require.Equal(t, 1, queryInt(t, db, "SELECT count(*) FROM govkit_outbox WHERE published_at IS NOT NULL"))
	msgs, err = s.Pending(ctx, 10)
	require.NoError(t, err)
	require.Equal(t, []bus.Message{submitted}, msgs)
	// A published event's ID stays taken while its message is kept.
	err = s.Apply(ctx, permit.Change{Events: []bus.Message{started}})
	require.ErrorIs(t, err, permit.ErrConflict)

	// A relay over the whole outbox publishes the permit store's events too;
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
	require.Equal(t, 0, queryInt(t, db, "SELECT count(*) FROM govkit_permit_event"))
}

func TestPermitEventIDs(t *testing.T) {
	ctx := testCtx(t)
	s, db := newPermitStore(t)
	id := uuid.Must(uuid.NewV7())
	for _, bad := range []string{"evt-0001", "", strings.ToUpper(id.String()), "urn:uuid:" + id.String(), uuid.Nil.String()} {
		a := newbornApplication(t)
		m := permitEvent("started", a.ID.String())
		m.ID = bad
		err := s.Apply(ctx, permit.Change{Applications: []permit.Application{a}, Events: []bus.Message{m}})
		require.ErrorIs(t, err, postgres.ErrInvalidOutboxMessage, "id %q", bad)
		require.ErrorIs(t, err, permit.ErrInvalidCommand, "id %q", bad)
		var ee *postgres.PermitEventError
		require.ErrorAs(t, err, &ee)
		require.Equal(t, bad, ee.ID)
		_, err = s.Application(ctx, a.ID)
		require.ErrorIs(t, err, permit.ErrNotFound, "nothing of the change is written")
	}
	m := permitEvent("started", "k")
	m.Subject = " "
	require.ErrorIs(t, s.Apply(ctx, permit.Change{Events: []bus.Message{m}}), postgres.ErrInvalidOutboxMessage)
	require.Equal(t, 0, queryInt(t, db, "SELECT count(*) FROM govkit_outbox"))
}

// Values travel as parameters, never as SQL; text PostgreSQL cannot store
// is refused as invalid rather than altered, and looking it up finds
// nothing.
func TestPermitTextIsStoredAsItIs(t *testing.T) {
	ctx := testCtx(t)
	s, db := newPermitStore(t)
	evils := []string{
		"x'; DROP TABLE govkit_permit_application; --", `public-security' OR '1'='1`,
		"%", "_", `\`, `\u0000`, `\\u0000`, `\ufffd`, "\ufffd", "$1", `"); DELETE FROM govkit_outbox; --`,
	}
	for _, evil := range evils {
		a := newbornApplication(t)
		a.Key, a.Applicant, a.Template, a.Items[0].Department = evil, evil, evil, evil
		a.History[0].Note = evil
		a.Answers[evil] = permit.Answer{Value: permit.Text(evil)}
		e := permit.Excavation{ID: uuid.Must(uuid.NewV7()), Key: evil, Promoter: evil, Segment: evil, Jurisdiction: "500105001",
			Window: permit.Window{Start: permitAt, End: permitAt.Add(time.Hour)}, Status: permit.ExcavationApplied, Version: 1}
		tpl := permit.Template{ID: evil, Version: 1, Name: evil}
		require.NoError(t, s.Apply(ctx, permit.Change{Templates: []permit.Template{tpl}, Applications: []permit.Application{a},
			Excavations: []permit.Excavation{e}}), evil)

		got, err := s.ApplicationByKey(ctx, evil)
		require.NoError(t, err, evil)
		require.Equal(t, a, got, evil)
		gotT, err := s.Template(ctx, evil, 0)
		require.NoError(t, err, evil)
		require.Equal(t, tpl, gotT, evil)
		gotE, err := s.ExcavationByKey(ctx, evil)
		require.NoError(t, err, evil)
		require.Equal(t, e, gotE, evil)
		for _, q := range []permit.ApplicationQuery{{Applicant: evil}, {Template: evil}, {Department: evil}} {
			p, err := s.Applications(ctx, q)
			require.NoError(t, err)
			require.Equal(t, []permit.Application{a}, p.Applications, "%+v", q)
		}
		for _, q := range []permit.ExcavationQuery{{Segment: evil}, {Promoter: evil}} {
			p, err := s.Excavations(ctx, q)
			require.NoError(t, err)
			require.Equal(t, []permit.Excavation{e}, p.Excavations, "%+v", q)
		}
	}
	require.Equal(t, len(evils), queryInt(t, db, "SELECT count(*) FROM govkit_permit_application"))

	for name, c := range map[string]func() permit.Change{
		"NUL in a note": func() permit.Change {
			a := newbornApplication(t)
			a.History[0].Note = "a\x00b"
			return permit.Change{Applications: []permit.Application{a}}
		},
		"invalid UTF-8 in the applicant": func() permit.Change {
			a := newbornApplication(t)
			a.Applicant = "li\xff"
			return permit.Change{Applications: []permit.Application{a}}
		},
		"NUL in a field ID": func() permit.Change {
			a := newbornApplication(t)
			a.Answers["child\x00name"] = permit.Answer{Value: permit.Text("x")}
			return permit.Change{Applications: []permit.Application{a}}
		},
		"invalid UTF-8 in a template": func() permit.Change {
			return permit.Change{Templates: []permit.Template{{ID: "newborn", Version: 1, Name: "新生儿\xe5"}}}
		},
		"NaN in a site": func() permit.Change {
			e := permit.Excavation{ID: uuid.Must(uuid.NewV7()), Segment: "s", Site: geo.LineString{{Lat: math.NaN()}}, Version: 1}
			return permit.Change{Excavations: []permit.Excavation{e}}
		},
		"NUL in a segment": func() permit.Change {
			return permit.Change{Moratoria: []permit.Moratorium{{ID: uuid.Must(uuid.NewV7()), Segment: "s\x00", Version: 1}}}
		},
		"NUL in an event subject": func() permit.Change {
			a := newbornApplication(t)
			m := permitEvent("started", a.ID.String())
			m.Subject += "\x00"
			return permit.Change{Applications: []permit.Application{a}, Events: []bus.Message{m}}
		},
	} {
		require.ErrorIs(t, s.Apply(ctx, c()), permit.ErrInvalidCommand, name)
	}
	require.Equal(t, len(evils), queryInt(t, db, "SELECT count(*) FROM govkit_permit_application"))
	require.Equal(t, 0, queryInt(t, db, "SELECT count(*) FROM govkit_outbox"))

	for _, bad := range []string{"k\x00", "k\xff"} {
		_, err := s.ApplicationByKey(ctx, bad)
		require.ErrorIs(t, err, permit.ErrNotFound)
		_, err = s.ExcavationByKey(ctx, bad)
		require.ErrorIs(t, err, permit.ErrNotFound)
		_, err = s.Template(ctx, bad, 0)
		require.ErrorIs(t, err, permit.ErrNotFound)
		p, err := s.Applications(ctx, permit.ApplicationQuery{Department: bad})
		require.NoError(t, err)
		require.Empty(t, p.Applications)
		w, err := s.Excavations(ctx, permit.ExcavationQuery{Segment: bad})
		require.NoError(t, err)
		require.Empty(t, w.Excavations)
		m, err := s.Moratoria(ctx, permit.MoratoriumQuery{Segment: bad})
		require.NoError(t, err)
		require.Empty(t, m.Moratoria)
	}
}

// The columns copy what the store filters by; times are stored in UTC at
// microsecond precision, in the document and the columns alike.
func TestPermitDocumentAndColumns(t *testing.T) {
	ctx := testCtx(t)
	s, db := newPermitStore(t)
	cst := time.FixedZone("CST", 8*3600)
	a := newbornApplication(t)
	a.Created = a.Created.In(cst).Add(789) // 789ns past a microsecond, in Beijing time
	e := permit.Excavation{ID: uuid.Must(uuid.NewV7()), Promoter: "cq-gas", Segment: "jianxin-1", Jurisdiction: "500105001",
		Site:   geo.LineString{{Lat: 29.575, Lon: 106.530}, {Lat: 29.575, Lon: 106.532}},
		Window: permit.Window{Start: permitAt.In(cst).Add(1), End: permitAt.Add(24 * time.Hour)}, Status: permit.ExcavationApplied, Version: 1}
	require.NoError(t, s.Apply(ctx, permit.Change{Applications: []permit.Application{a}, Excavations: []permit.Excavation{e}}))

	got, err := s.Application(ctx, a.ID)
	require.NoError(t, err)
	require.Equal(t, a.Created.UTC().Truncate(time.Microsecond), got.Created, "UTC at microsecond precision")
	gotE, err := s.Excavation(ctx, e.ID)
	require.NoError(t, err)
	require.Equal(t, permitAt, gotE.Window.Start)

	var (
		key, template, jurisdiction, applicant string
		status                                 int16
		departments                            []string
		version, templateVersion               int64
	)
	require.NoError(t, db.Pool().QueryRow(ctx, `SELECT key, template, template_version, jurisdiction, applicant, status,
		departments, version FROM govkit_permit_application WHERE id = $1`, a.ID).Scan(
		&key, &template, &templateVersion, &jurisdiction, &applicant, &status, &departments, &version))
	require.Equal(t, a.Key, key)
	require.Equal(t, "newborn", template)
	require.EqualValues(t, 2, templateVersion)
	require.Equal(t, "500103001", jurisdiction)
	require.Equal(t, "li-xing", applicant)
	require.EqualValues(t, permit.InReview, status)
	require.Equal(t, []string{"public-security", "healthcare-security"}, departments, "the departments holding an item in review")
	require.EqualValues(t, 1, version)
	require.Equal(t, 1, queryInt(t, db, `SELECT count(*) FROM govkit_permit_application WHERE doc->>'v' = '1' AND doc->>'template' = 'newborn'`))

	var (
		start, end time.Time
		joint      *uuid.UUID
		eKey       *string
	)
	require.NoError(t, db.Pool().QueryRow(ctx, `SELECT window_start, window_end, joint, key FROM govkit_permit_excavation WHERE id = $1`, e.ID).
		Scan(&start, &end, &joint, &eKey))
	require.True(t, permitAt.Equal(start))
	require.True(t, e.Window.End.Equal(end))
	require.Nil(t, joint, "no joint excavation is NULL")
	require.Nil(t, eKey, "no idempotency key is NULL")
	box, ok := permitSiteBox(t, db, e.ID)
	require.True(t, ok)
	require.Equal(t, e.Site.BBox(), box)
	// An update moves the box with the site, and a work without a site has none.
	e2 := e.Clone()
	e2.Version, e2.Site = 2, geo.LineString{{Lat: 29.58, Lon: 106.54}, {Lat: 29.57, Lon: 106.55}}
	require.NoError(t, s.Apply(ctx, permit.Change{Excavations: []permit.Excavation{e2}}))
	box, ok = permitSiteBox(t, db, e.ID)
	require.True(t, ok)
	require.Equal(t, geo.BBox{MinLat: 29.57, MinLon: 106.54, MaxLat: 29.58, MaxLon: 106.55}, box)
	e3 := e2.Clone()
	e3.Version, e3.Site = 3, nil
	require.NoError(t, s.Apply(ctx, permit.Change{Excavations: []permit.Excavation{e3}}))
	_, ok = permitSiteBox(t, db, e.ID)
	require.False(t, ok)
}

// Sub-microsecond bounds of During select as they do in the memory store,
// although the columns hold whole microseconds.
func TestPermitDuringSubMicrosecondBounds(t *testing.T) {
	ctx := testCtx(t)
	s, _ := newPermitStore(t)
	mem := permit.NewMemoryStore()
	w := permit.Window{Start: permitAt, End: permitAt.Add(time.Hour)}
	e := permit.Excavation{ID: uuid.Must(uuid.NewV7()), Promoter: "cq-water", Segment: "s", Jurisdiction: "500105001", Window: w,
		Status: permit.ExcavationApplied, Version: 1}
	m := permit.Moratorium{ID: uuid.Must(uuid.NewV7()), Segment: "s", Jurisdiction: "500105001", From: w.Start, Until: w.End, Version: 1}
	for _, st := range []permit.Store{s, mem} {
		require.NoError(t, st.Apply(ctx, permit.Change{Excavations: []permit.Excavation{e}, Moratoria: []permit.Moratorium{m}}))
	}
	for _, d := range []time.Duration{-time.Microsecond, -500, -1, 0, 1, 500, time.Microsecond} {
		for _, during := range []permit.Window{
			{Start: w.End.Add(d), End: w.End.Add(time.Hour)},      // starts around the end
			{Start: w.Start.Add(-time.Hour), End: w.Start.Add(d)}, // ends around the start
		} {
			want, err := mem.Excavations(ctx, permit.ExcavationQuery{During: during})
			require.NoError(t, err)
			got, err := s.Excavations(ctx, permit.ExcavationQuery{During: during})
			require.NoError(t, err)
			require.Equal(t, len(want.Excavations), len(got.Excavations), "%+v", during)
			wantM, err := mem.Moratoria(ctx, permit.MoratoriumQuery{During: during})
			require.NoError(t, err)
			gotM, err := s.Moratoria(ctx, permit.MoratoriumQuery{During: during})
			require.NoError(t, err)
			require.Equal(t, len(wantM.Moratoria), len(gotM.Moratoria), "%+v", during)
		}
	}
}

// BenchmarkPermitApply measures submissions: each operation creates one
// newborn application (its personal data sealed, an idempotency key, two
// departments' worklists) and its "submitted" event, in one transaction,
// from several goroutines sharing the pool.
func BenchmarkPermitApply(b *testing.B) {
	ctx := testCtx(b)
	db := pgtest.New(b)
	s, err := postgres.NewPermitStore(ctx, db, incidentSealer(b, "bench"))
	require.NoError(b, err)
	template := newbornApplication(b)
	var n atomic.Int64

	b.SetParallelism(4) // 4×GOMAXPROCS writers, more than the pool has connections
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			a := template.Clone()
			a.ID = uuid.Must(uuid.NewV7())
			a.Key = fmt.Sprintf("start:bench-%d", n.Add(1))
			c := permit.Change{Applications: []permit.Application{a}, Events: []bus.Message{permitEvent("submitted", a.ID.String())}}
			if err := s.Apply(ctx, c); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "applications/s")
}

// A district's program opens the store once at start-up and hands it to
// the permit service.
func ExampleNewPermitStore() {
	ctx := context.Background()
	db, err := postgres.Open(ctx, "postgres://govkit@db.example:5432/city?sslmode=verify-full")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()
	// Both keys come from a secret store, never from source code.
	var encKey, indexKey []byte
	sealer, err := pii.NewSealer(encKey, indexKey)
	if err != nil {
		fmt.Println(err)
		return
	}
	store, err := postgres.NewPermitStore(ctx, db, sealer)
	if err != nil {
		fmt.Println(err)
		return
	}
	var _ permit.Store = store
}
