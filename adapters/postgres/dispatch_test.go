package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/govkit/govkit/adapters/postgres"
	"github.com/govkit/govkit/adapters/postgres/pgtest"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/dispatch"
	"github.com/govkit/govkit/dispatch/dispatchtest"
	"github.com/govkit/govkit/region"
)

func newDispatchStore(t testing.TB) (*postgres.DispatchStore, *postgres.DB) {
	t.Helper()
	db := pgtest.New(t)
	s, err := postgres.NewDispatchStore(testCtx(t), db)
	require.NoError(t, err)
	return s, db
}

func TestDispatchStoreConformance(t *testing.T) {
	dispatchtest.Run(t, func(t *testing.T) dispatch.Store {
		s, _ := newDispatchStore(t)
		return s
	})
}

// A muck-truck case in Yangjiaping, offered to Jiulongpo's urban
// management bureau.
func muckTruckOrder(t testing.TB) (dispatch.WorkOrder, dispatch.CaseFile, bus.Message) {
	t.Helper()
	at := time.Date(2024, time.March, 5, 0, 35, 12, 345678000, time.UTC)
	caseID := uuid.Must(uuid.NewV7()).String()
	path := []region.Code{"500000", "500107", "500107001", "500107001002", "500107001002003"}
	o := dispatch.WorkOrder{
		ID: uuid.Must(uuid.NewV7()), Case: caseID, Category: "muck-truck-overload", Path: path,
		Kind: dispatch.Duty, Body: "jlp-urban-mgmt", Lead: true, Mandatory: true, Rule: "muck-truck/jiulongpo",
		Status: dispatch.Offered, Offered: at, SignBy: at.Add(30 * time.Minute), Deadline: at.Add(24 * time.Hour),
		History: []dispatch.Step{{Time: at, Actor: "jlp-centre-dispatcher-02", Action: "offer", To: dispatch.Offered, Note: "派单"}},
		Version: 1,
	}
	cf := dispatch.CaseFile{Case: caseID, Category: o.Category, Path: path, Orders: []uuid.UUID{o.ID}, Version: 1}
	m := bus.Message{
		ID: uuid.Must(uuid.NewV7()).String(), Subject: "gov.500000.500107.500107001.dispatch.offered", Key: caseID,
		Headers: map[string]string{"govkit-kind": "dispatch", "govkit-event": "offered"},
		Time:    at, Data: []byte(`{"event":"offered"}`),
	}
	return o, cf, m
}

func TestDispatchStoreNeedsDB(t *testing.T) {
	_, err := postgres.NewDispatchStore(context.Background(), nil)
	require.ErrorIs(t, err, postgres.ErrInvalidArgument)
}

// Opening the store again, as every process of a deployment does, applies
// nothing twice and loses nothing.
func TestDispatchStoreMigrations(t *testing.T) {
	ctx := testCtx(t)
	s, db := newDispatchStore(t)
	o, cf, m := muckTruckOrder(t)
	require.NoError(t, s.Apply(ctx, dispatch.Change{Orders: []dispatch.WorkOrder{o}, Cases: []dispatch.CaseFile{cf}, Events: []bus.Message{m}}))

	again, err := postgres.NewDispatchStore(ctx, db)
	require.NoError(t, err, "a second store on the same database")
	applied, err := db.AppliedMigrations(ctx, postgres.DispatchComponent)
	require.NoError(t, err)
	require.Len(t, applied, 1)
	require.Equal(t, "create_dispatch", applied[0].Name)
	for _, table := range []string{"govkit_dispatch_order", "govkit_dispatch_case", "govkit_dispatch_event", "govkit_outbox"} {
		require.True(t, tableExists(t, db, table), table)
	}
	for _, index := range []string{"govkit_dispatch_order_case_idx", "govkit_dispatch_order_body_idx", "govkit_dispatch_order_grid_idx",
		"govkit_dispatch_order_offered_at_idx", "govkit_dispatch_order_kind_status_idx"} {
		require.Equal(t, 1, queryInt(t, db, "SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() AND indexname = $1", index), index)
	}
	got, err := again.Order(ctx, o.ID)
	require.NoError(t, err)
	require.Equal(t, o, got)
	msgs, err := again.Pending(ctx, 10)
	require.NoError(t, err)
	require.Len(t, msgs, 1)

	// Concurrent starts apply the migration once.
	db2 := pgtest.New(t)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			_, err := postgres.NewDispatchStore(ctx, db2)
			errs <- err
		}()
	}
	for range 4 {
		require.NoError(t, <-errs)
	}
	applied, err = db2.AppliedMigrations(ctx, postgres.DispatchComponent)
	require.NoError(t, err)
	require.Len(t, applied, 1)
}

// Values travel as parameters, never as SQL: hostile strings are stored
// and found as they are.
func TestDispatchValuesAreParameters(t *testing.T) {
	ctx := testCtx(t)
	s, db := newDispatchStore(t)
	evils := []string{
		"x'; DROP TABLE govkit_dispatch_order; --",
		`jlp-urban-mgmt' OR '1'='1`,
		"%", "_", `\`, `\u0000`, `\\u0000`, "$1", `"); DELETE FROM govkit_outbox; --`,
	}
	for i, evil := range evils {
		o, cf, m := muckTruckOrder(t)
		o.Case, cf.Case, o.Body = evil, evil, evil
		o.History[0].Note = evil
		m.Key, m.Headers["note"], m.Data = evil, evil, []byte(evil)
		require.NoError(t, s.Apply(ctx, dispatch.Change{Orders: []dispatch.WorkOrder{o}, Cases: []dispatch.CaseFile{cf}, Events: []bus.Message{m}}), evil)

		got, err := s.Order(ctx, o.ID)
		require.NoError(t, err)
		require.Equal(t, o, got, evil)
		gotCase, err := s.CaseFile(ctx, evil)
		require.NoError(t, err)
		require.Equal(t, cf, gotCase, evil)
		for _, q := range []dispatch.OrderQuery{{Case: evil}, {Body: evil}, {Case: evil, Body: evil}} {
			page, err := s.Orders(ctx, q)
			require.NoError(t, err)
			require.Equal(t, []dispatch.WorkOrder{o}, page.Orders, "%+v", q)
		}
		msgs, err := s.Pending(ctx, 100)
		require.NoError(t, err)
		require.Len(t, msgs, i+1)
		require.Equal(t, evil, msgs[i].Key)
		require.Equal(t, evil, msgs[i].Headers["note"])
		require.Equal(t, evil, string(msgs[i].Data))
	}
	for _, evil := range []string{"x' OR 1=1 --", "%%", "jlp%"} {
		page, err := s.Orders(ctx, dispatch.OrderQuery{Body: evil})
		require.NoError(t, err)
		require.Empty(t, page.Orders, evil)
		_, err = s.CaseFile(ctx, evil)
		require.ErrorIs(t, err, dispatch.ErrNotFound, evil)
	}
	_, err := s.Orders(ctx, dispatch.OrderQuery{Within: "500107' OR '1'='1"})
	require.ErrorIs(t, err, dispatch.ErrInvalidCommand)
	require.Equal(t, len(evils), queryInt(t, db, "SELECT count(*) FROM govkit_dispatch_order"))
	require.Equal(t, len(evils), queryInt(t, db, "SELECT count(*) FROM govkit_dispatch_case"))
	require.Equal(t, len(evils), queryInt(t, db, "SELECT count(*) FROM govkit_outbox"))
}

// PostgreSQL cannot store NUL or invalid UTF-8 text: such records are
// refused as invalid, and looking them up finds nothing.
func TestDispatchUnstorableText(t *testing.T) {
	ctx := testCtx(t)
	s, db := newDispatchStore(t)
	for name, mutate := range map[string]func(*dispatch.WorkOrder){
		"NUL in a note":         func(o *dispatch.WorkOrder) { o.History[0].Note = "a\x00b" },
		"NUL in the case":       func(o *dispatch.WorkOrder) { o.Case = "case\x00" },
		"invalid UTF-8 in body": func(o *dispatch.WorkOrder) { o.Body = "jlp\xff" },
	} {
		o, _, _ := muckTruckOrder(t)
		mutate(&o)
		err := s.Apply(ctx, dispatch.Change{Orders: []dispatch.WorkOrder{o}})
		require.ErrorIs(t, err, dispatch.ErrInvalidCommand, name)
	}
	_, err := s.CaseFile(ctx, "case\x00")
	require.ErrorIs(t, err, dispatch.ErrNotFound)
	page, err := s.Orders(ctx, dispatch.OrderQuery{Body: "jlp\xff"})
	require.NoError(t, err)
	require.Empty(t, page.Orders)
	require.Equal(t, 0, queryInt(t, db, "SELECT count(*) FROM govkit_dispatch_order"))
}

func TestDispatchEventIDs(t *testing.T) {
	ctx := testCtx(t)
	s, _ := newDispatchStore(t)
	id := uuid.Must(uuid.NewV7())
	for _, bad := range []string{"evt-0001", "", strings.ToUpper(id.String()), "urn:uuid:" + id.String(), uuid.Nil.String()} {
		o, _, m := muckTruckOrder(t)
		m.ID = bad
		err := s.Apply(ctx, dispatch.Change{Orders: []dispatch.WorkOrder{o}, Events: []bus.Message{m}})
		require.ErrorIs(t, err, postgres.ErrInvalidOutboxMessage, "id %q", bad)
		require.ErrorIs(t, err, dispatch.ErrInvalidCommand, "id %q", bad)
		var ee *postgres.DispatchEventError
		require.ErrorAs(t, err, &ee)
		require.Equal(t, bad, ee.ID)
		_, err = s.Order(ctx, o.ID)
		require.ErrorIs(t, err, dispatch.ErrNotFound, "nothing of the change is written")
	}
	o, _, m := muckTruckOrder(t)
	m.Subject = " "
	err := s.Apply(ctx, dispatch.Change{Orders: []dispatch.WorkOrder{o}, Events: []bus.Message{m}})
	require.ErrorIs(t, err, postgres.ErrInvalidOutboxMessage)
}

// The outbox is shared: the dispatch store's Pending and MarkPublished
// see its own events only, while a relay over the whole outbox publishes
// them all.
func TestDispatchPendingSeesItsOwnEvents(t *testing.T) {
	ctx := testCtx(t)
	s, db := newDispatchStore(t)
	other := postgres.OutboxMessage{ID: uuid.Must(uuid.NewV7()), Subject: "gov.500000.incident.reported", Data: []byte("{}")}
	require.NoError(t, db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		return postgres.WriteOutbox(ctx, tx, other)
	}))
	o, cf, m := muckTruckOrder(t)
	require.NoError(t, s.Apply(ctx, dispatch.Change{Orders: []dispatch.WorkOrder{o}, Cases: []dispatch.CaseFile{cf}, Events: []bus.Message{m}}))

	msgs, err := s.Pending(ctx, 10)
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	require.Equal(t, m, msgs[0])
	require.NoError(t, s.MarkPublished(ctx, other.ID.String()), "another store's event is unknown here")
	require.Equal(t, 2, queryInt(t, db, "SELECT count(*) FROM govkit_outbox WHERE published_at IS NULL"))

	// Another store's event ID is taken all the same.
	o2, _, m2 := muckTruckOrder(t)
	m2.ID = other.ID.String()
	err = s.Apply(ctx, dispatch.Change{Orders: []dispatch.WorkOrder{o2}, Events: []bus.Message{m2}})
	require.ErrorIs(t, err, dispatch.ErrConflict)
	_, err = s.Order(ctx, o2.ID)
	require.ErrorIs(t, err, dispatch.ErrNotFound)

	// So is one already published: consumers de-duplicate on IDs.
	require.NoError(t, s.MarkPublished(ctx, m.ID))
	err = s.Apply(ctx, dispatch.Change{Orders: []dispatch.WorkOrder{o2}, Events: []bus.Message{m}})
	require.ErrorIs(t, err, dispatch.ErrConflict)

	// A relay over the whole outbox publishes dispatch's events too.
	o3, _, m3 := muckTruckOrder(t)
	require.NoError(t, s.Apply(ctx, dispatch.Change{Orders: []dispatch.WorkOrder{o3}, Events: []bus.Message{m3}}))
	require.NoError(t, db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		batch, err := postgres.FetchUnpublished(ctx, tx, 10)
		if err != nil {
			return err
		}
		require.Len(t, batch, 2)
		seqs := []int64{batch[0].Seq, batch[1].Seq}
		return postgres.MarkPublished(ctx, tx, seqs...)
	}))
	msgs, err = s.Pending(ctx, 10)
	require.NoError(t, err)
	require.Empty(t, msgs)

	// Pruning published messages prunes their marks.
	_, err = db.Pool().Exec(ctx, "DELETE FROM govkit_outbox WHERE published_at IS NOT NULL")
	require.NoError(t, err)
	require.Equal(t, 0, queryInt(t, db, "SELECT count(*) FROM govkit_dispatch_event"))
}

// Sub-microsecond query bounds select as they do in the memory store,
// although offered_at holds whole microseconds.
func TestDispatchOrdersSubMicrosecondBounds(t *testing.T) {
	ctx := testCtx(t)
	s, _ := newDispatchStore(t)
	mem := dispatch.NewMemoryStore()
	o, _, _ := muckTruckOrder(t)
	require.NoError(t, s.Apply(ctx, dispatch.Change{Orders: []dispatch.WorkOrder{o}}))
	require.NoError(t, mem.Apply(ctx, dispatch.Change{Orders: []dispatch.WorkOrder{o}}))
	for _, d := range []time.Duration{-time.Microsecond, -500, -1, 0, 1, 500, time.Microsecond} {
		for _, q := range []dispatch.OrderQuery{{Since: o.Offered.Add(d)}, {Until: o.Offered.Add(d)}} {
			want, err := mem.Orders(ctx, q)
			require.NoError(t, err)
			got, err := s.Orders(ctx, q)
			require.NoError(t, err)
			require.Equal(t, len(want.Orders), len(got.Orders), "%+v", q)
		}
	}
}

// The document keeps every field, including ones a query never reads, and
// the columns copy the filtered ones.
func TestDispatchDocumentAndColumns(t *testing.T) {
	ctx := testCtx(t)
	s, db := newDispatchStore(t)
	o, cf, _ := muckTruckOrder(t)
	o.Offered = o.Offered.In(time.FixedZone("CST", 8*3600)).Add(789) // 789ns past a microsecond, in Beijing time
	require.NoError(t, s.Apply(ctx, dispatch.Change{Orders: []dispatch.WorkOrder{o}, Cases: []dispatch.CaseFile{cf}}))
	got, err := s.Order(ctx, o.ID)
	require.NoError(t, err)
	require.Equal(t, o.Offered.UTC().Truncate(time.Microsecond), got.Offered, "UTC at microsecond precision")
	var (
		caseID, body, grid string
		status, kind       int16
		offered            time.Time
		version            int64
	)
	require.NoError(t, db.Pool().QueryRow(ctx, `SELECT case_id, body, grid, status, kind, offered_at, version
		FROM govkit_dispatch_order WHERE id = $1`, o.ID).Scan(&caseID, &body, &grid, &status, &kind, &offered, &version))
	require.Equal(t, o.Case, caseID)
	require.Equal(t, o.Body, body)
	require.Equal(t, "500107001002003", grid)
	require.EqualValues(t, dispatch.Offered, status)
	require.EqualValues(t, dispatch.Duty, kind)
	require.True(t, got.Offered.Equal(offered))
	require.EqualValues(t, 1, version)
	require.Equal(t, 1, queryInt(t, db, `SELECT count(*) FROM govkit_dispatch_order WHERE doc->>'v' = '1' AND doc->'order'->>'Rule' = $1`, o.Rule))
}

// BenchmarkDispatchApply measures offering work: each operation creates one
// work order, its case file and its "offered" event, in one transaction,
// from several goroutines sharing the pool.
func BenchmarkDispatchApply(b *testing.B) {
	ctx := testCtx(b)
	db := pgtest.New(b)
	s, err := postgres.NewDispatchStore(ctx, db)
	require.NoError(b, err)
	template, caseTemplate, msgTemplate := muckTruckOrder(b)
	var n atomic.Int64

	b.SetParallelism(4) // 4×GOMAXPROCS writers, more than the pool has connections
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			o := template.Clone()
			o.ID = uuid.Must(uuid.NewV7())
			o.Case = fmt.Sprintf("case-%d", n.Add(1))
			cf := caseTemplate.Clone()
			cf.Case, cf.Orders = o.Case, []uuid.UUID{o.ID}
			m := msgTemplate
			m.ID, m.Key = uuid.Must(uuid.NewV7()).String(), o.Case
			if err := s.Apply(ctx, dispatch.Change{Orders: []dispatch.WorkOrder{o}, Cases: []dispatch.CaseFile{cf}, Events: []bus.Message{m}}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "orders/s")
}
