package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"runtime"
	"slices"
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
	"github.com/govkit/govkit/pii"
	"github.com/govkit/govkit/region"
	"github.com/govkit/govkit/risk"
	"github.com/govkit/govkit/risk/risktest"
)

func newRiskStore(t testing.TB) (*postgres.RiskStore, *postgres.DB) {
	t.Helper()
	db := pgtest.New(t)
	s, err := postgres.NewRiskStore(testCtx(t), db, incidentSealer(t, "risk"))
	require.NoError(t, err)
	return s, db
}

func TestRiskStoreConformance(t *testing.T) {
	risktest.Run(t, func(t *testing.T) risk.Store {
		s, _ := newRiskStore(t)
		return s
	})
}

var (
	riskBase  = time.Date(2025, 6, 12, 8, 0, 0, 123456789, time.UTC)
	riskGridA = region.Code("500107001001001")
	riskGridB = region.Code("500107002001001")
	riskAtA   = geo.Point{Lat: 29.5012, Lon: 106.4988}
	riskAtB   = geo.Point{Lat: 29.5200, Lon: 106.5200}
)

// riskPoint returns a bare landslide point at version 1.
func riskPoint(t testing.TB, name string, grid region.Code, at geo.Point) risk.Point {
	t.Helper()
	return risk.Point{
		ID: uuid.Must(uuid.NewV7()), Name: name, Class: "landslide", Geometry: at, Anchor: at, Grid: grid,
		Path:    []region.Code{"500000", grid[:6], grid[:9], grid[:12], grid},
		Version: 1, Created: riskBase, Updated: riskBase,
	}
}

// riskFullPoint is the Funiuxi oil depot's tank farm with every field set:
// a polygon, the people responsible (with name and phone), controls,
// sensors, decimal holdings, an LEC assessment and a live signal.
func riskFullPoint(t testing.TB) risk.Point {
	t.Helper()
	name, err := pii.NewName("张三")
	require.NoError(t, err)
	phone, err := pii.NewPhone("13812345678")
	require.NoError(t, err)
	poly, err := geo.NewPolygon(geo.Ring{{Lat: 29.50, Lon: 106.49}, {Lat: 29.50, Lon: 106.51}, {Lat: 29.51, Lon: 106.51}, {Lat: 29.51, Lon: 106.49}})
	require.NoError(t, err)
	p := riskPoint(t, "伏牛溪油库罐区", riskGridA, geo.Point{Lat: 29.505, Lon: 106.50})
	p.Class, p.Geometry, p.Enterprise = "hazchem.oil-tank", poly, "ent-oil"
	p.Responsible = []risk.Responsible{{Duty: risk.EnterpriseDuty, ActorID: "u-1", Name: name, Phone: phone}, {Duty: risk.GridDuty, ActorID: "u-2"}}
	p.Controls = []risk.Control{{Kind: "engineering", Name: "液位高高联锁"}}
	p.Sensors = []string{"LT-301", "PT-302"}
	p.Holdings = []risk.Holding{{Substance: "汽油", Quantity: risk.MustDecimal("12000.50")}}
	in := risk.Inputs{L: risk.MustDecimal("3"), E: risk.MustDecimal("6"), C: risk.MustDecimal("15"), Exposed: risk.People(12)}
	res, err := risk.StandardLEC().Assess(in)
	require.NoError(t, err)
	p.Assessment = &risk.Assessment{Result: res, Inputs: in, AssessedAt: riskBase, ValidUntil: riskBase.AddDate(1, 0, 0), Assessor: "admin"}
	p.Signals = []risk.Signal{{Key: "reading:LT-301:level", Kind: "reading", Colour: risk.Red, Reason: "液位 96% ≥ 90%", Source: "m-1",
		From: riskBase, Until: riskBase.Add(time.Hour)}}
	p.Level = risk.Level{Colour: risk.Red, Static: risk.Orange, Reasons: []string{"reading"}, Raised: []string{"reading:LT-301:level"}, At: riskBase}
	return p
}

func riskEvent(subject string) bus.Message {
	m := bus.NewMessage(subject, []byte(`{"event":"`+subject[strings.LastIndexByte(subject, '.')+1:]+`"}`))
	m.Key = "k"
	m.Headers = map[string]string{"govkit-kind": "risk"}
	return m
}

func TestRiskStoreNeedsDBAndSealer(t *testing.T) {
	_, err := postgres.NewRiskStore(context.Background(), nil, incidentSealer(t, "risk"))
	require.ErrorIs(t, err, postgres.ErrInvalidArgument)
	db := pgtest.New(t)
	_, err = postgres.NewRiskStore(testCtx(t), db, nil)
	require.ErrorIs(t, err, postgres.ErrInvalidArgument)
	require.False(t, tableExists(t, db, "govkit_risk_point"), "nothing is created without a sealer")
}

// Opening the store again, as every process of a deployment does, applies
// nothing twice and loses nothing; processes starting together apply the
// migration once.
func TestRiskStoreMigrations(t *testing.T) {
	ctx := testCtx(t)
	s, db := newRiskStore(t)
	p := riskFullPoint(t)
	m := riskEvent("gov.500000.500107.risk.point-registered")
	require.NoError(t, s.Apply(ctx, risk.Change{CreatePoints: []risk.Point{p}, Events: []bus.Message{m}}))

	again, err := postgres.NewRiskStore(ctx, db, incidentSealer(t, "risk"))
	require.NoError(t, err, "a second store on the same database")
	applied, err := db.AppliedMigrations(ctx, postgres.RiskComponent)
	require.NoError(t, err)
	require.Len(t, applied, 1)
	require.Equal(t, "create_risk", applied[0].Name)
	for _, table := range []string{"govkit_risk_point", "govkit_risk_building", "govkit_risk_warning", "govkit_risk_enterprise",
		"govkit_risk_inspection", "govkit_risk_event", "govkit_outbox"} {
		require.True(t, tableExists(t, db, table), table)
	}
	for _, index := range []string{"govkit_risk_point_grid_idx", "govkit_risk_point_class_idx", "govkit_risk_point_enterprise_idx",
		"govkit_risk_point_colour_idx", "govkit_risk_point_signalled_idx", "govkit_risk_point_sensors_idx", "govkit_risk_point_anchor_idx",
		"govkit_risk_building_point_idx", "govkit_risk_enterprise_region_idx", "govkit_risk_inspection_enterprise_idx",
		"govkit_risk_inspection_period_idx"} {
		require.Equal(t, 1, queryInt(t, db, "SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() AND indexname = $1", index), index)
	}
	got, err := again.Point(ctx, p.ID)
	require.NoError(t, err)
	risktest.AssertPointEqual(t, p, got)
	msgs, err := again.Pending(ctx, 10)
	require.NoError(t, err)
	require.Len(t, msgs, 1)

	db2 := pgtest.New(t)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			_, err := postgres.NewRiskStore(ctx, db2, incidentSealer(t, "risk"))
			errs <- err
		}()
	}
	for range 4 {
		require.NoError(t, <-errs)
	}
	applied, err = db2.AppliedMigrations(ctx, postgres.RiskComponent)
	require.NoError(t, err)
	require.Len(t, applied, 1)
}

// openSecond opens another pool on db's schema: other connections, as
// another process of the deployment has.
func openSecond(t *testing.T, db *postgres.DB) *postgres.DB {
	t.Helper()
	db2, err := postgres.Open(testCtx(t), pgtest.DSN(t), postgres.WithSchema(db.Schema()))
	require.NoError(t, err)
	t.Cleanup(db2.Close)
	return db2
}

// Two processes update the same point at once, each through its own
// pool: one wins, the others conflict, and the outbox holds the winner's
// event alone.
func TestRiskConcurrentApplyAcrossConnections(t *testing.T) {
	ctx := testCtx(t)
	s1, db := newRiskStore(t)
	s2, err := postgres.NewRiskStore(ctx, openSecond(t, db), incidentSealer(t, "risk"))
	require.NoError(t, err)
	p := riskPoint(t, "黄桷坪滑坡", riskGridA, riskAtA)
	require.NoError(t, s1.Apply(ctx, risk.Change{CreatePoints: []risk.Point{p}}))

	const writers = 8
	start := newBarrier(writers)
	var (
		wg                sync.WaitGroup
		wins, conflicts   atomic.Int32
		unexpected        = make(chan error, writers)
		stores            = []*postgres.RiskStore{s1, s2}
		winnerEvent, name atomic.Value
	)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			next := p.Clone()
			next.Version, next.Name = 2, fmt.Sprintf("writer %d", i)
			m := riskEvent("gov.500000.500107.risk.point-updated")
			start()
			err := stores[i%2].Apply(ctx, risk.Change{UpdatePoints: []risk.Point{next}, Events: []bus.Message{m}})
			switch {
			case err == nil:
				wins.Add(1)
				winnerEvent.Store(m.ID)
				name.Store(next.Name)
			case errors.Is(err, risk.ErrConflict):
				conflicts.Add(1)
			default:
				unexpected <- err
			}
		}()
	}
	wg.Wait()
	close(unexpected)
	for err := range unexpected {
		require.NoError(t, err)
	}
	require.EqualValues(t, 1, wins.Load())
	require.EqualValues(t, writers-1, conflicts.Load())
	got, err := s2.Point(ctx, p.ID)
	require.NoError(t, err)
	require.EqualValues(t, 2, got.Version)
	require.Equal(t, name.Load(), got.Name)
	msgs, err := s1.Pending(ctx, 100)
	require.NoError(t, err)
	require.Len(t, msgs, 1, "only the winner's event")
	require.Equal(t, winnerEvent.Load(), msgs[0].ID)
	require.Equal(t, 1, queryInt(t, db, "SELECT count(*) FROM govkit_outbox"))
	require.Equal(t, 1, queryInt(t, db, "SELECT count(*) FROM govkit_risk_event"))
}

// Apply locks the versions it checks: an update waits for another
// connection's transaction on the point, then sees what it committed.
func TestRiskApplyWaitsForAConcurrentWriter(t *testing.T) {
	ctx := testCtx(t)
	s, db := newRiskStore(t)
	other := openSecond(t, db)
	for _, commit := range []bool{true, false} {
		p := riskPoint(t, "黄桷坪滑坡", riskGridA, riskAtA)
		require.NoError(t, s.Apply(ctx, risk.Change{CreatePoints: []risk.Point{p}}))

		tx, err := other.Pool().Begin(ctx)
		require.NoError(t, err)
		var pid int
		require.NoError(t, tx.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid))
		_, err = tx.Exec(ctx, `UPDATE govkit_risk_point SET version = 2, doc = jsonb_set(doc, '{version}', '2') WHERE id = $1`, p.ID)
		require.NoError(t, err)

		next := p.Clone()
		next.Version = 2
		m := riskEvent("gov.500000.500107.risk.point-updated")
		done := make(chan error, 1)
		go func() { done <- s.Apply(ctx, risk.Change{UpdatePoints: []risk.Point{next}, Events: []bus.Message{m}}) }()
		require.Eventually(t, func() bool {
			return queryInt(t, db, "SELECT count(*) FROM pg_stat_activity WHERE $1::int = ANY(pg_blocking_pids(pid))", pid) == 1
		}, 10*time.Second, 5*time.Millisecond, "Apply waits for the row lock")
		select {
		case err := <-done:
			t.Fatalf("Apply returned %v while the row was locked", err)
		default:
		}

		pending := queryInt(t, db, "SELECT count(*) FROM govkit_outbox WHERE id = $1::uuid", m.ID)
		require.Zero(t, pending)
		if commit {
			require.NoError(t, tx.Commit(ctx))
			require.ErrorIs(t, <-done, risk.ErrConflict, "the other writer's version 2 came first")
			require.Zero(t, queryInt(t, db, "SELECT count(*) FROM govkit_outbox WHERE id = $1::uuid", m.ID), "no event without the change")
		} else {
			require.NoError(t, tx.Rollback(ctx))
			require.NoError(t, <-done, "the other writer rolled back")
			require.Equal(t, 1, queryInt(t, db, "SELECT count(*) FROM govkit_outbox WHERE id = $1::uuid", m.ID))
			require.Equal(t, 1, queryInt(t, db, "SELECT count(*) FROM govkit_risk_event WHERE id = $1::uuid", m.ID))
		}
	}
}

// A change's events reach the outbox, and are marked as the risk store's,
// exactly when its records are written.
func TestRiskOutboxWrittenOnlyWithTheChange(t *testing.T) {
	ctx := testCtx(t)
	s, db := newRiskStore(t)
	p := riskPoint(t, "a", riskGridA, riskAtA)
	m0 := riskEvent("gov.500000.500107.risk.point-registered")
	require.NoError(t, s.Apply(ctx, risk.Change{CreatePoints: []risk.Point{p}, Events: []bus.Message{m0}}))
	outbox := func() (int, int) {
		return queryInt(t, db, "SELECT count(*) FROM govkit_outbox"), queryInt(t, db, "SELECT count(*) FROM govkit_risk_event")
	}
	n, marks := outbox()
	require.Equal(t, 1, n)
	require.Equal(t, 1, marks)

	stale := p.Clone()
	stale.Version = 5
	bad := riskPoint(t, "bad", riskGridA, geo.Point{Lat: 91})
	withNUL := riskPoint(t, "nul\x00", riskGridA, riskAtA)
	fresh := riskPoint(t, "fresh", riskGridB, riskAtB)
	for name, tc := range map[string]struct {
		c    risk.Change
		want error
	}{
		"stale version":     {risk.Change{UpdatePoints: []risk.Point{stale}}, risk.ErrConflict},
		"duplicate create":  {risk.Change{CreatePoints: []risk.Point{p}}, risk.ErrDuplicateID},
		"unknown point":     {risk.Change{UpdatePoints: []risk.Point{{ID: uuid.Must(uuid.NewV7()), Version: 2, Anchor: riskAtA}}}, risk.ErrNotFound},
		"invalid anchor":    {risk.Change{CreatePoints: []risk.Point{bad}}, risk.ErrInvalidInput},
		"unstorable text":   {risk.Change{CreatePoints: []risk.Point{withNUL}}, risk.ErrInvalidInput},
		"event stored once": {risk.Change{Events: []bus.Message{m0}}, risk.ErrConflict},
		"event twice":       {risk.Change{Events: []bus.Message{riskEvent("gov.500000.risk.x"), m0}}, risk.ErrConflict},
		"stale warning":     {risk.Change{PutWarnings: []risk.AreaWarning{{ID: "W-9", Version: 2}}}, risk.ErrConflict},
	} {
		m := riskEvent("gov.500000.500107.risk.assessed")
		tc.c.Events = append(tc.c.Events, m)
		tc.c.CreatePoints = append(tc.c.CreatePoints, fresh)
		tc.c.PutBuildings = []risk.Building{{ID: "bldg-" + name, Point: riskAtB, Occupancy: 10}}
		err := s.Apply(ctx, tc.c)
		require.ErrorIs(t, err, tc.want, name)
		n, marks := outbox()
		require.Equal(t, 1, n, "%s: no event without its change", name)
		require.Equal(t, 1, marks, name)
		_, err = s.Point(ctx, fresh.ID)
		require.ErrorIs(t, err, risk.ErrNotFound, "%s: nothing of the change", name)
		_, err = s.Building(ctx, "bldg-"+name)
		require.ErrorIs(t, err, risk.ErrNotFound, name)
	}

	// Another store's event ID is taken as well, and its own message stays
	// out of the risk store's Pending.
	other := postgres.OutboxMessage{ID: uuid.Must(uuid.NewV7()), Subject: "gov.500000.incident.reported", Data: []byte("{}")}
	require.NoError(t, db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error { return postgres.WriteOutbox(ctx, tx, other) }))
	taken := riskEvent("gov.500000.risk.assessed")
	taken.ID = other.ID.String()
	require.ErrorIs(t, s.Apply(ctx, risk.Change{CreatePoints: []risk.Point{fresh}, Events: []bus.Message{taken}}), risk.ErrConflict)
	_, err := s.Point(ctx, fresh.ID)
	require.ErrorIs(t, err, risk.ErrNotFound)
	require.NoError(t, s.MarkPublished(ctx, other.ID.String()), "not the risk store's to mark")
	require.Equal(t, 2, queryInt(t, db, "SELECT count(*) FROM govkit_outbox WHERE published_at IS NULL"))

	// A change that succeeds writes its events, in order, with it.
	m1, m2 := riskEvent("gov.500000.500107.risk.assessed"), riskEvent("gov.500000.500107.risk.level-changed")
	require.NoError(t, s.Apply(ctx, risk.Change{CreatePoints: []risk.Point{fresh}, Events: []bus.Message{m1, m2}}))
	msgs, err := s.Pending(ctx, 10)
	require.NoError(t, err)
	require.Equal(t, []string{m0.ID, m1.ID, m2.ID}, []string{msgs[0].ID, msgs[1].ID, msgs[2].ID})
	require.Len(t, msgs, 3)
	require.Equal(t, m1.Key, msgs[1].Key)
	require.Equal(t, m1.Headers, msgs[1].Headers)
	require.Equal(t, m1.Data, msgs[1].Data)
	require.True(t, m1.Time.Truncate(time.Microsecond).Equal(msgs[1].Time))

	// Pruning published messages prunes their marks.
	require.NoError(t, s.MarkPublished(ctx, m0.ID, m1.ID, m2.ID))
	_, err = db.Pool().Exec(ctx, "DELETE FROM govkit_outbox WHERE published_at IS NOT NULL")
	require.NoError(t, err)
	require.Zero(t, queryInt(t, db, "SELECT count(*) FROM govkit_risk_event"))
}

func TestRiskEventIDs(t *testing.T) {
	ctx := testCtx(t)
	s, _ := newRiskStore(t)
	id := uuid.Must(uuid.NewV7())
	for _, bad := range []string{"evt-0001", strings.ToUpper(id.String()), "urn:uuid:" + id.String(), uuid.Nil.String()} {
		p := riskPoint(t, "a", riskGridA, riskAtA)
		m := riskEvent("gov.500000.risk.point-registered")
		m.ID = bad
		err := s.Apply(ctx, risk.Change{CreatePoints: []risk.Point{p}, Events: []bus.Message{m}})
		require.ErrorIs(t, err, postgres.ErrInvalidOutboxMessage, "id %q", bad)
		require.ErrorIs(t, err, risk.ErrInvalidInput, "id %q", bad)
		var ee *postgres.RiskEventError
		require.ErrorAs(t, err, &ee)
		require.Equal(t, bad, ee.ID)
		_, err = s.Point(ctx, p.ID)
		require.ErrorIs(t, err, risk.ErrNotFound, "nothing of the change is written")
	}
	// The memory store's own errors come first; an empty ID is one.
	m := riskEvent("gov.500000.risk.point-registered")
	m.ID = ""
	require.ErrorIs(t, s.Apply(ctx, risk.Change{Events: []bus.Message{m}}), risk.ErrConflict)
	m = riskEvent(" ")
	err := s.Apply(ctx, risk.Change{Events: []bus.Message{m}})
	require.ErrorIs(t, err, postgres.ErrInvalidOutboxMessage, "an empty subject")
}

// The names and phone numbers of the people responsible reach the
// database only sealed.
func TestRiskPersonalDataIsSealed(t *testing.T) {
	ctx := testCtx(t)
	s, db := newRiskStore(t)
	p := riskFullPoint(t)
	require.NoError(t, s.Apply(ctx, risk.Change{CreatePoints: []risk.Point{p}}))
	got, err := s.Point(ctx, p.ID)
	require.NoError(t, err)
	risktest.AssertPointEqual(t, p, got)

	rows, err := db.Pool().Query(ctx, "SELECT t::text FROM govkit_risk_point t")
	require.NoError(t, err)
	texts, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	dump := strings.Join(texts, "\n")
	require.Contains(t, dump, "伏牛溪油库罐区")
	for _, secret := range []string{"13812345678", "138 1234 5678", "张三"} {
		require.NotContains(t, dump, secret)
	}
	require.Contains(t, dump, "phone_sealed")

	other, err := postgres.NewRiskStore(ctx, db, incidentSealer(t, "another key"))
	require.NoError(t, err)
	_, err = other.Point(ctx, p.ID)
	require.ErrorIs(t, err, pii.ErrSealed, "without the key the data does not open")
}

// riskTwins applies the same changes to a memory store and a PostgreSQL
// store, and compares what they answer.
type riskTwins struct {
	t   *testing.T
	mem *risk.MemoryStore
	pg  *postgres.RiskStore
}

func newRiskTwins(t *testing.T) *riskTwins {
	s, _ := newRiskStore(t)
	return &riskTwins{t: t, mem: risk.NewMemoryStore(), pg: s}
}

// apply applies c to both and requires the same outcome, to the message.
func (tw *riskTwins) apply(c risk.Change) error {
	tw.t.Helper()
	memErr := tw.mem.Apply(tw.t.Context(), c)
	pgErr := tw.pg.Apply(tw.t.Context(), c)
	if memErr == nil {
		require.NoError(tw.t, pgErr)
		return nil
	}
	require.Error(tw.t, pgErr, "the memory store refused: %v", memErr)
	require.Equal(tw.t, memErr.Error(), pgErr.Error())
	for _, sentinel := range []error{risk.ErrNotFound, risk.ErrConflict, risk.ErrDuplicateID, risk.ErrInvalidInput} {
		require.Equal(tw.t, errors.Is(memErr, sentinel), errors.Is(pgErr, sentinel), "%v", sentinel)
	}
	return pgErr
}

// Records come back as the memory store returns them: times to the
// nanosecond, decimals with their exponent, nil and empty slices apart.
func TestRiskRecordsMatchMemoryStore(t *testing.T) {
	tw := newRiskTwins(t)
	ctx := t.Context()
	cst := time.FixedZone("CST", 8*3600)
	full := riskFullPoint(t)
	full.Created = full.Created.In(cst)
	empty := riskPoint(t, "空", riskGridB, riskAtB)
	empty.Path, empty.Controls, empty.Sensors, empty.Signals = []region.Code{}, []risk.Control{}, []string{}, []risk.Signal{}
	empty.Responsible, empty.Holdings = []risk.Responsible{}, []risk.Holding{}
	empty.Level.Reasons, empty.Level.Raised = []string{}, []string{}
	empty.Assessment = &risk.Assessment{Inputs: risk.Inputs{Holdings: []risk.Holding{}}, Result: risk.Result{Derivation: risk.Derivation{
		Inputs: []risk.Term{}, Notes: []string{}}}}
	line := riskPoint(t, "天然气管线", riskGridA, riskAtA)
	line.Geometry = geo.LineString{riskAtA, riskAtB, {Lat: 29.53, Lon: 106.53}}
	line.Anchor = riskAtB
	multi := riskPoint(t, "两处厂区", riskGridA, riskAtA)
	multi.Geometry = geo.MultiPolygon{full.Geometry.(geo.Polygon), geo.Polygon{geo.Ring{}}}
	bare := riskPoint(t, "无形", riskGridA, riskAtA)
	bare.Geometry, bare.Path = nil, nil
	tiny := riskPoint(t, "微小", riskGridA, geo.Point{Lat: -0.000000123, Lon: 1e-300})
	points := []risk.Point{full, empty, line, multi, bare, tiny}
	require.NoError(t, tw.apply(risk.Change{CreatePoints: points}))
	for _, p := range points {
		want, err := tw.mem.Point(ctx, p.ID)
		require.NoError(t, err)
		got, err := tw.pg.Point(ctx, p.ID)
		require.NoError(t, err)
		risktest.AssertPointEqual(t, want, got)
		require.Equal(t, want.Holdings, got.Holdings, "decimals as the memory store keeps them")
		require.Equal(t, want.Assessment, got.Assessment, "assessment as the memory store keeps it")
		_, wantOffset := want.Created.Zone()
		_, gotOffset := got.Created.Zone()
		require.Equal(t, wantOffset, gotOffset, "times keep their offset")
	}

	w := risk.AreaWarning{ID: "CQ-DZ-20250612-003", Kind: "geological-hazard", Event: "地质灾害气象风险预警", Colour: risk.Orange,
		Jurisdiction: "500107", Headline: "橙色预警", Sender: "重庆市规划和自然资源局", From: riskBase, Until: riskBase.Add(24 * time.Hour),
		Issued: riskBase, Raised: []uuid.UUID{full.ID}, Version: 1,
		Areas: []risk.WarningArea{{Code: "B-1", Scheme: "basin", Name: "跳蹬河小流域", Area: geo.MultiPolygon{full.Geometry.(geo.Polygon)}}, {Code: "B-2"}}}
	e := risk.Enterprise{ID: "91500107MA5U000000", Name: "油库", Region: "500107001", Credit: risk.MustDecimal("72.50"), Tier: risk.TierRed,
		Kind: "hazardous-chemicals", Version: 1, TierDerivation: full.Assessment.Derivation}
	in := risk.Inspection{ID: uuid.Must(uuid.NewV7()), Enterprise: e.ID, Region: "500107001", Period: "2025Q3", Status: risk.Inspected,
		Departments: []string{"emergency", "fire"}, Reasons: []string{}, InspectedAt: riskBase, Version: 1,
		Findings: []risk.Finding{{Item: "exits", Severity: risk.Major, Status: risk.Reported, Deadline: riskBase, Evidence: []string{"sha256:ab"},
			ReportedAt: riskBase, ReportedBy: "owner"}}}
	require.NoError(t, tw.apply(risk.Change{PutWarnings: []risk.AreaWarning{w}, PutEnterprises: []risk.Enterprise{e}, PutInspections: []risk.Inspection{in},
		PutBuildings: []risk.Building{{ID: "b-1", Name: "石油路小区1栋", Point: riskAtA, Grid: riskGridA, Occupancy: 120, Kind: "residential"}}}))
	wm, err := tw.mem.Warning(ctx, w.ID)
	require.NoError(t, err)
	wp, err := tw.pg.Warning(ctx, w.ID)
	require.NoError(t, err)
	require.Equal(t, wm, wp)
	em, err := tw.mem.Enterprise(ctx, e.ID)
	require.NoError(t, err)
	ep, err := tw.pg.Enterprise(ctx, e.ID)
	require.NoError(t, err)
	require.Equal(t, em, ep)
	im, err := tw.mem.Inspection(ctx, in.ID)
	require.NoError(t, err)
	ip, err := tw.pg.Inspection(ctx, in.ID)
	require.NoError(t, err)
	require.Equal(t, im, ip)
	bm, err := tw.mem.Building(ctx, "b-1")
	require.NoError(t, err)
	bp, err := tw.pg.Building(ctx, "b-1")
	require.NoError(t, err)
	require.Equal(t, bm, bp)

	for _, within := range []region.Code{"500000", "500100", "500107", "500107001", "500107002", "500108"} {
		em, err := tw.mem.Enterprises(ctx, within)
		require.NoError(t, err)
		ep, err := tw.pg.Enterprises(ctx, within)
		require.NoError(t, err)
		require.Equal(t, em, ep, within)
	}
	_, err = tw.pg.Enterprises(ctx, "5001")
	require.ErrorIs(t, err, risk.ErrInvalidQuery)
	for _, q := range []risk.InspectionQuery{{}, {Enterprise: e.ID}, {Period: "2025Q3", Status: risk.Inspected}, {Status: risk.Planned}, {Enterprise: "x\xff"}} {
		im, err := tw.mem.Inspections(ctx, q)
		require.NoError(t, err)
		ip, err := tw.pg.Inspections(ctx, q)
		require.NoError(t, err)
		require.Equal(t, im, ip, "%+v", q)
	}
	for _, q := range []risk.Query{{}, {Within: "500107001"}, {Classes: []string{"landslide", "x\x00"}}, {Enterprise: "ent-oil"},
		{MinColour: risk.Red}, {Signalled: true}, {Limit: 2}, {Limit: 2, After: points[2].ID}} {
		pm, err := tw.mem.Points(ctx, q)
		require.NoError(t, err)
		pp, err := tw.pg.Points(ctx, q)
		require.NoError(t, err)
		require.Equal(t, pm.Next, pp.Next, "%+v", q)
		require.Equal(t, len(pm.Points), len(pp.Points), "%+v", q)
		for i := range pm.Points {
			risktest.AssertPointEqual(t, pm.Points[i], pp.Points[i])
		}
	}
}

// Changes the memory store refuses are refused here with the same error,
// to the message: the checks run in the same order against the stored
// versions.
func TestRiskRefusalsMatchMemoryStore(t *testing.T) {
	tw := newRiskTwins(t)
	a := riskPoint(t, "a", riskGridA, riskAtA)
	require.NoError(t, tw.apply(risk.Change{CreatePoints: []risk.Point{a},
		PutWarnings:    []risk.AreaWarning{{ID: "W-1", Version: 1}},
		PutEnterprises: []risk.Enterprise{{ID: "E-1", Version: 1}}}))
	b := riskPoint(t, "b", riskGridB, riskAtB)
	a2, a3, a5 := a.Clone(), a.Clone(), a.Clone()
	a2.Version, a3.Version, a5.Version = 2, 3, 5
	nan := b.Clone()
	nan.Anchor = geo.Point{Lat: math.NaN()}
	nilID := b.Clone()
	nilID.ID = uuid.Nil
	in := risk.Inspection{ID: uuid.Must(uuid.NewV7()), Version: 1}
	for _, c := range []risk.Change{
		{CreatePoints: []risk.Point{b, a}},
		{CreatePoints: []risk.Point{b, b}},
		{CreatePoints: []risk.Point{nilID}},
		{CreatePoints: []risk.Point{nan}},
		{CreatePoints: []risk.Point{a}, UpdatePoints: []risk.Point{a5}}, // the create is checked first
		{UpdatePoints: []risk.Point{a3}},
		{UpdatePoints: []risk.Point{a2, a2}},
		{UpdatePoints: []risk.Point{{ID: b.ID, Version: 2}}},
		{UpdatePoints: []risk.Point{a2}, PutBuildings: []risk.Building{{ID: ""}}},
		{PutBuildings: []risk.Building{{ID: "x", Point: geo.Point{Lon: 181}}}},
		{PutWarnings: []risk.AreaWarning{{ID: "W-1", Version: 1}}},
		{PutWarnings: []risk.AreaWarning{{ID: "W-2", Version: 1}, {ID: "W-2", Version: 1}}},
		{PutWarnings: []risk.AreaWarning{{ID: "", Version: 1}}},
		{PutEnterprises: []risk.Enterprise{{ID: uuid.Nil.String(), Version: 1}}},
		{PutEnterprises: []risk.Enterprise{{ID: "E-1", Version: 3}}},
		{PutEnterprises: []risk.Enterprise{{ID: "E-2", Version: 0}}},
		{PutInspections: []risk.Inspection{in, in}},
		{PutInspections: []risk.Inspection{{ID: in.ID, Version: 2}}},
		{PutWarnings: []risk.AreaWarning{{ID: "W-1", Version: 2}}, Events: []bus.Message{{ID: ""}}},
		// What the memory store refuses comes before what only
		// PostgreSQL cannot store.
		{CreatePoints: []risk.Point{riskPoint(t, "nul\x00", riskGridA, riskAtA), a}},
		{PutWarnings: []risk.AreaWarning{{ID: "W\x00", Version: 2}}},
	} {
		require.Error(t, tw.apply(c), "%+v", c)
	}
	// Two updates of one point in one change follow each other; a create
	// and an update of a new point too.
	require.NoError(t, tw.apply(risk.Change{UpdatePoints: []risk.Point{a2, a3}}))
	b2 := b.Clone()
	b2.Version = 2
	require.NoError(t, tw.apply(risk.Change{CreatePoints: []risk.Point{b}, UpdatePoints: []risk.Point{b2}}))
	got, err := tw.pg.Point(t.Context(), b.ID)
	require.NoError(t, err)
	require.EqualValues(t, 2, got.Version)
}

// PostgreSQL cannot store NUL, invalid UTF-8, NaN, or times beyond year
// 9999: such changes are refused as invalid input, whole, and such keys
// are simply not found.
func TestRiskUnstorableValues(t *testing.T) {
	ctx := testCtx(t)
	s, db := newRiskStore(t)
	for name, c := range map[string]risk.Change{
		"NUL in a name":          {CreatePoints: []risk.Point{riskPoint(t, "a\x00b", riskGridA, riskAtA)}},
		"invalid UTF-8 in class": {CreatePoints: []risk.Point{func() risk.Point { p := riskPoint(t, "a", riskGridA, riskAtA); p.Class = "\xff"; return p }()}},
		"invalid UTF-8 deep":     {CreatePoints: []risk.Point{func() risk.Point { p := riskFullPoint(t); p.Controls[0].Name = "阀\xe9"; return p }()}},
		"NaN in a geometry": {CreatePoints: []risk.Point{func() risk.Point {
			p := riskPoint(t, "a", riskGridA, riskAtA)
			p.Geometry = geo.LineString{riskAtA, {Lat: math.NaN()}}
			return p
		}()}},
		"year 10000": {CreatePoints: []risk.Point{func() risk.Point {
			p := riskPoint(t, "a", riskGridA, riskAtA)
			p.Created = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
			return p
		}()}},
		"NUL in a building ID":     {PutBuildings: []risk.Building{{ID: "b\x00", Point: riskAtA}}},
		"invalid UTF-8 warning ID": {PutWarnings: []risk.AreaWarning{{ID: "W-\xff", Version: 1}}},
		"invalid UTF-8 event key": {Events: []bus.Message{func() bus.Message {
			m := riskEvent("gov.500000.risk.assessed")
			m.Key = "\xff"
			return m
		}()}},
		"a name too large for the index": {CreatePoints: []risk.Point{riskPoint(t, riskNoise(20_000), riskGridA, riskAtA)}},
	} {
		c.PutBuildings = append(c.PutBuildings, risk.Building{ID: "ok", Point: riskAtA})
		err := s.Apply(ctx, c)
		t.Logf("%s: %v", name, err)
		require.ErrorIs(t, err, risk.ErrInvalidInput, name)
	}
	for _, table := range []string{"govkit_risk_point", "govkit_risk_building", "govkit_risk_warning", "govkit_outbox"} {
		require.Zero(t, queryInt(t, db, "SELECT count(*) FROM "+table), table)
	}
	_, err := s.Building(ctx, "b\x00")
	require.ErrorIs(t, err, risk.ErrNotFound)
	_, err = s.Warning(ctx, "W-\xff")
	require.ErrorIs(t, err, risk.ErrNotFound)
	_, err = s.Enterprise(ctx, "\x00")
	require.ErrorIs(t, err, risk.ErrNotFound)
	got, err := s.PointsBySensor(ctx, "\xff")
	require.NoError(t, err)
	require.Empty(t, got)
	page, err := s.Points(ctx, risk.Query{Enterprise: "\x00"})
	require.NoError(t, err)
	require.Empty(t, page.Points)
}

// riskNoise returns n random CJK characters, which do not compress.
func riskNoise(n int) string {
	r := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	for range n {
		b.WriteRune(rune(0x4e00 + r.IntN(0x5000)))
	}
	return b.String()
}

// Values travel as parameters, never as SQL: hostile strings are stored
// and found as they are.
func TestRiskValuesAreParameters(t *testing.T) {
	ctx := testCtx(t)
	s, db := newRiskStore(t)
	evils := []string{"x'; DROP TABLE govkit_risk_point; --", `ent' OR '1'='1`, "%", "_", `\`, `\u0000`, "$1", `"); DELETE FROM govkit_outbox; --`,
		"\uFFFD is a valid character"}
	for _, evil := range evils {
		p := riskPoint(t, evil, riskGridA, riskAtA)
		p.Class, p.Enterprise, p.Sensors = evil, evil, []string{evil}
		require.NoError(t, s.Apply(ctx, risk.Change{CreatePoints: []risk.Point{p},
			PutBuildings:   []risk.Building{{ID: evil, Name: evil, Point: riskAtA}},
			PutEnterprises: []risk.Enterprise{{ID: evil, Region: "500107001", Version: 1}},
			PutWarnings:    []risk.AreaWarning{{ID: evil, Version: 1}}}), evil)
		got, err := s.Point(ctx, p.ID)
		require.NoError(t, err)
		risktest.AssertPointEqual(t, p, got)
		for _, q := range []risk.Query{{Classes: []string{evil}}, {Enterprise: evil}} {
			page, err := s.Points(ctx, q)
			require.NoError(t, err)
			require.Len(t, page.Points, 1, "%+v", q)
		}
		bySensor, err := s.PointsBySensor(ctx, evil)
		require.NoError(t, err)
		require.Len(t, bySensor, 1)
		b, err := s.Building(ctx, evil)
		require.NoError(t, err)
		require.Equal(t, evil, b.Name)
		_, err = s.Enterprise(ctx, evil)
		require.NoError(t, err)
		_, err = s.Warning(ctx, evil)
		require.NoError(t, err)
	}
	page, err := s.Points(ctx, risk.Query{Enterprise: "ent%"})
	require.NoError(t, err)
	require.Empty(t, page.Points)
	require.Equal(t, len(evils), queryInt(t, db, "SELECT count(*) FROM govkit_risk_point"))
}

// PointsNear and BuildingsNear agree with the memory store to the last
// bit: the same hits, at the same distances, in the same order, including
// points on the circle, ties, a zero radius, the poles and the
// antimeridian.
func TestRiskSpatialMatchesMemoryStore(t *testing.T) {
	tw := newRiskTwins(t)
	ctx := t.Context()
	r := rand.New(rand.NewPCG(7, 11))
	area := geo.BBoxAround(geo.Point{Lat: 29.56, Lon: 106.55}, 15_000)
	random := func() geo.Point {
		return geo.Point{Lat: area.MinLat + r.Float64()*(area.MaxLat-area.MinLat), Lon: area.MinLon + r.Float64()*(area.MaxLon-area.MinLon)}
	}
	var (
		points    []risk.Point
		buildings []risk.Building
		anchors   []geo.Point
	)
	edge := []geo.Point{{Lat: 90, Lon: 0}, {Lat: 89.9995, Lon: 120}, {Lat: -89.9999, Lon: -45}, {Lat: 0.1, Lon: 180}, {Lat: 0.1, Lon: -179.9999}, {Lat: 0, Lon: 0}}
	for i := range 2000 {
		at := random()
		switch {
		case i < len(edge):
			at = edge[i]
		case i%50 == 0: // ties: several points at one place
			at = anchors[len(anchors)-1]
		}
		anchors = append(anchors, at)
		p := riskPoint(t, fmt.Sprintf("p%d", i), riskGridA, at)
		p.Level.Colour = risk.Colour(i % 5)
		points = append(points, p)
		if i%3 == 0 {
			buildings = append(buildings, risk.Building{ID: fmt.Sprintf("b-%04d", i), Point: at, Grid: riskGridA, Occupancy: i})
		}
	}
	for i := 0; i < len(points); i += 500 {
		require.NoError(t, tw.apply(risk.Change{CreatePoints: points[i:min(i+500, len(points))]}))
	}
	require.NoError(t, tw.apply(risk.Change{PutBuildings: buildings}))

	type query struct {
		c geo.Point
		m float64
	}
	var queries []query
	for range 150 {
		queries = append(queries, query{random(), r.Float64() * 6000})
	}
	for i := range 50 { // exactly on the circle of a point, and at a point
		p := anchors[len(edge)+r.IntN(len(anchors)-len(edge))]
		c := geo.Point{Lat: p.Lat + (r.Float64()-0.5)*0.05, Lon: p.Lon + (r.Float64()-0.5)*0.05}
		queries = append(queries, query{c, geo.Distance(c, p)}, query{p, 0})
		if i < len(edge) {
			queries = append(queries, query{edge[i], 50_000}, query{edge[i], 2_000_000})
		}
	}
	compare := func() {
		t.Helper()
		for _, q := range queries {
			hm, err := tw.mem.PointsNear(ctx, q.c, q.m)
			require.NoError(t, err)
			hp, err := tw.pg.PointsNear(ctx, q.c, q.m)
			require.NoError(t, err)
			require.Equal(t, hm, hp, "points within %v m of %v", q.m, q.c)
			bm, err := tw.mem.BuildingsNear(ctx, q.c, q.m)
			require.NoError(t, err)
			bp, err := tw.pg.BuildingsNear(ctx, q.c, q.m)
			require.NoError(t, err)
			require.Equal(t, bm, bp, "buildings within %v m of %v", q.m, q.c)
		}
	}
	compare()

	// Moves follow.
	var moves []risk.Point
	for i := 0; i < len(points); i += 7 {
		p := points[i].Clone()
		p.Version++
		p.Anchor = random()
		p.Geometry = p.Anchor
		moves = append(moves, p)
	}
	require.NoError(t, tw.apply(risk.Change{UpdatePoints: moves}))
	compare()
}

// The queries use the indexes the migration creates.
func TestRiskQueriesUseIndexes(t *testing.T) {
	ctx := testCtx(t)
	s, db := newRiskStore(t)
	p := riskFullPoint(t)
	require.NoError(t, s.Apply(ctx, risk.Change{CreatePoints: []risk.Point{p}}))
	tx, err := db.Pool().Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	_, err = tx.Exec(ctx, "SET LOCAL enable_seqscan = off")
	require.NoError(t, err)
	for index, sql := range map[string]string{
		"govkit_risk_point_anchor_idx": `SELECT id, lat, lon, name, class, grid, colour, shape FROM govkit_risk_point
			WHERE point(lon, lat) <@ box(point(106.4::float8, 29.4::float8), point(106.6::float8, 29.6::float8))`,
		"govkit_risk_building_point_idx": `SELECT id FROM govkit_risk_building
			WHERE point(lon, lat) <@ box(point(106.4::float8, 29.4::float8), point(106.6::float8, 29.6::float8))`,
		"govkit_risk_point_sensors_idx":     `SELECT doc FROM govkit_risk_point WHERE sensors @> ARRAY['LT-301'::text]`,
		"govkit_risk_point_grid_idx":        `SELECT doc FROM govkit_risk_point WHERE grid >= '500107' AND grid < '500108'`,
		"govkit_risk_enterprise_region_idx": `SELECT doc FROM govkit_risk_enterprise WHERE region >= '500107' AND region < '500108' ORDER BY region`,
	} {
		rows, err := tx.Query(ctx, "EXPLAIN "+sql)
		require.NoError(t, err)
		plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		require.Contains(t, strings.Join(plan, "\n"), index)
	}
}

// The stored layout names every field of risk's records: a field added to
// one of them must be added to the store's documents too, or it would be
// dropped silently.
func TestRiskDocumentsCoverEveryField(t *testing.T) {
	for typ, fields := range map[reflect.Type]string{
		reflect.TypeFor[risk.Point](): "ID Name Class Geometry Anchor Grid Path Enterprise Responsible Controls Sensors Holdings " +
			"Assessment Signals Level Version Created Updated",
		reflect.TypeFor[risk.Responsible](): "Duty ActorID Name Phone",
		reflect.TypeFor[risk.Control]():     "Kind Name",
		reflect.TypeFor[risk.Holding]():     "Substance Quantity",
		reflect.TypeFor[risk.Assessment]():  "Result Inputs AssessedAt ValidUntil Assessor",
		reflect.TypeFor[risk.Result]():      "Method Colour Score Grade Derivation",
		reflect.TypeFor[risk.Inputs]():      "Likelihood Consequence L E C Holdings Exposed",
		reflect.TypeFor[risk.Derivation]():  "Method Inputs Cell Formula Score Thresholds Band Notes",
		reflect.TypeFor[risk.Term]():        "Name Value Meaning",
		reflect.TypeFor[risk.Cell]():        "Likelihood Consequence",
		reflect.TypeFor[risk.Threshold]():   "Colour Min Label",
		reflect.TypeFor[risk.Signal]():      "Key Kind Colour Reason Source From Until",
		reflect.TypeFor[risk.Level]():       "Colour Static StaticExpired Reasons Raised At",
		reflect.TypeFor[risk.Building]():    "ID Name Point Grid Occupancy Kind",
		reflect.TypeFor[risk.AreaWarning](): "ID Kind Event Colour Jurisdiction Areas Headline Description Instruction Sender From Until " +
			"Issued Cancelled Raised Version",
		reflect.TypeFor[risk.WarningArea](): "Code Scheme Name Area",
		reflect.TypeFor[risk.Enterprise]():  "ID Name Region Credit Blacklisted Kind Tier TierDerivation Version",
		reflect.TypeFor[risk.Inspection](): "ID Enterprise Region Period Departments Reasons Inspectors Checklist Status InspectedAt " +
			"Findings Version",
		reflect.TypeFor[risk.Finding](): "Item Severity Note Evidence Deadline Status Overdue ReportedAt ReportedBy VerifiedAt VerifiedBy",
		reflect.TypeFor[risk.Hit]():     "ID Name Class Anchor Grid Colour Shape Distance",
	} {
		var got []string
		for i := range typ.NumField() {
			got = append(got, typ.Field(i).Name)
		}
		require.Equal(t, strings.Fields(fields), got, "%v gained or lost a field: update risk.go's documents", typ)
	}
}

// riskPercentile returns the q-quantile of d.
func riskPercentile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[int(q*float64(len(s)-1))]
}

// BenchmarkRiskPointsNear measures 5 km radius queries over 330,000 risk
// points scattered across Chongqing's bounding box (S5's count; about 120
// hits a query, as in risk's BenchmarkRadius330k), reporting the
// 99th-percentile latency of one query and queries per second, from one
// goroutine (serial) and from 4×GOMAXPROCS sharing the pool (parallel).
// The points are loaded through Apply, 1,000 a change, and the table is
// vacuumed, as autovacuum would after such a load, so that the box is
// answered by an index-only scan.
func BenchmarkRiskPointsNear(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	db := pgtest.New(b)
	s, err := postgres.NewRiskStore(ctx, db, incidentSealer(b, "bench"))
	require.NoError(b, err)
	chongqing := geo.BBox{MinLat: 28.16, MinLon: 105.29, MaxLat: 32.20, MaxLon: 110.19}
	randomPoint := func(r *rand.Rand) geo.Point {
		return geo.Point{Lat: chongqing.MinLat + r.Float64()*(chongqing.MaxLat-chongqing.MinLat),
			Lon: chongqing.MinLon + r.Float64()*(chongqing.MaxLon-chongqing.MinLon)}
	}
	const total, perChange, loaders = 330_000, 1000, 4
	var next atomic.Int64
	var wg sync.WaitGroup
	loadStart := time.Now()
	for l := range loaders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(330, uint64(l)))
			for {
				first := next.Add(perChange) - perChange
				if first >= total {
					return
				}
				batch := make([]risk.Point, 0, perChange)
				for i := first; i < min(first+perChange, total); i++ {
					at := randomPoint(r)
					batch = append(batch, risk.Point{ID: uuid.Must(uuid.NewV7()), Name: fmt.Sprintf("管线风险点 %d", i), Class: "pipeline",
						Geometry: at, Anchor: at, Grid: riskGridA, Version: 1, Level: risk.Level{Colour: risk.Colour(1 + i%4)}})
				}
				if err := s.Apply(ctx, risk.Change{CreatePoints: batch}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if b.Failed() {
		return
	}
	_, err = db.Pool().Exec(ctx, "VACUUM (ANALYZE) govkit_risk_point")
	require.NoError(b, err)
	b.Logf("loaded %d points through Apply in %v", total, time.Since(loadStart).Round(time.Millisecond))
	runtime.GC()

	centers := make([]geo.Point, 4096)
	r := rand.New(rand.NewPCG(5, 330))
	for i := range centers {
		centers[i] = randomPoint(r)
	}
	b.Run("serial", func(b *testing.B) {
		lat := make([]time.Duration, 0, 1<<16)
		hits := 0
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			start := time.Now()
			hs, err := s.PointsNear(ctx, centers[i%len(centers)], 5000)
			lat = append(lat, time.Since(start))
			if err != nil {
				b.Fatal(err)
			}
			hits += len(hs)
		}
		var sum time.Duration
		for _, d := range lat {
			sum += d
		}
		b.ReportMetric(float64(riskPercentile(lat, 0.99).Nanoseconds()), "p99-ns")
		b.ReportMetric(float64(len(lat))/sum.Seconds(), "queries/s")
		b.ReportMetric(float64(hits)/float64(len(lat)), "hits/op")
	})
	b.Run("parallel", func(b *testing.B) {
		var (
			mu   sync.Mutex
			lat  []time.Duration
			seed atomic.Uint64
		)
		b.SetParallelism(4)
		b.ReportAllocs()
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			r := rand.New(rand.NewPCG(seed.Add(1), 5))
			mine := make([]time.Duration, 0, 1<<12)
			for pb.Next() {
				t0 := time.Now()
				if _, err := s.PointsNear(ctx, centers[r.IntN(len(centers))], 5000); err != nil {
					b.Error(err)
					return
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
		b.ReportMetric(float64(riskPercentile(lat, 0.99).Nanoseconds()), "p99-ns")
		b.ReportMetric(float64(len(lat))/time.Since(start).Seconds(), "queries/s")
	})
}

// A district's program opens the store once at start-up and hands it to
// the risk service.
func ExampleNewRiskStore() {
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
	store, err := postgres.NewRiskStore(ctx, db, sealer)
	if err != nil {
		fmt.Println(err)
		return
	}
	var _ risk.Store = store // risk.Config{Store: store, ...}
}
