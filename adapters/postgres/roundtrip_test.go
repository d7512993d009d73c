package postgres_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/govkit/govkit/adapters/postgres"
	"github.com/govkit/govkit/adapters/postgres/pgtest"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/dispatch"
	"github.com/govkit/govkit/incident"
)

// roundTrips counts what a pool's connections send to the server: each
// batch and each query or command outside a batch is one round trip.
type roundTrips struct{ batches, queries atomic.Int64 }

func (r *roundTrips) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	r.queries.Add(1)
	return ctx
}
func (r *roundTrips) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (r *roundTrips) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	r.batches.Add(1)
	return ctx
}
func (r *roundTrips) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (r *roundTrips) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

// count returns the round trips fn made.
func (r *roundTrips) count(fn func()) int64 {
	b, q := r.batches.Load(), r.queries.Load()
	fn()
	return r.batches.Load() - b + r.queries.Load() - q
}

func tracedDB(t *testing.T) (*postgres.DB, *roundTrips) {
	rt := &roundTrips{}
	db := pgtest.New(t, postgres.WithPoolConfig(func(c *pgxpool.Config) { c.ConnConfig.Tracer = rt }))
	return db, rt
}

// A change that succeeds costs one round trip: BEGIN, its statements and
// COMMIT travel in one batch. Across a network that is the write's whole
// latency.
func TestWritesAreOneRoundTrip(t *testing.T) {
	ctx := testCtx(t)
	db, rt := tracedDB(t)

	incidents, err := postgres.NewIncidentStore(ctx, db, incidentSealer(t, "a"))
	require.NoError(t, err)
	inc := hotlineReport(t)
	event := func(key string) bus.Message {
		return bus.Message{ID: uuid.Must(uuid.NewV7()).String(), Subject: "gov.500000.500107.incident.reported", Key: key, Data: []byte(`{}`)}
	}
	create := incident.Change{
		Create:   []incident.Incident{inc},
		Timeline: []incident.Entry{incident.Link(nil, incident.Entry{Incident: inc.ID, Time: time.Now(), Action: "report", To: inc.Status})},
		Events:   []bus.Message{event(inc.ID.String())},
	}
	assert.EqualValues(t, 1, rt.count(func() { require.NoError(t, incidents.Apply(ctx, create)) }), "incident create")
	next := inc.Clone()
	next.Version++
	next.Keys = append(next.Keys, "app:wx-roundtrip")
	update := incident.Change{Update: []incident.Incident{next}, Events: []bus.Message{event(inc.ID.String())}}
	assert.EqualValues(t, 1, rt.count(func() { require.NoError(t, incidents.Apply(ctx, update)) }), "incident update")
	got, err := incidents.ByKey(ctx, "app:wx-roundtrip")
	require.NoError(t, err)
	assert.EqualValues(t, 2, got.Version)

	orders, err := postgres.NewDispatchStore(ctx, db)
	require.NoError(t, err)
	o, cf, m := muckTruckOrder(t)
	assert.EqualValues(t, 1, rt.count(func() {
		require.NoError(t, orders.Apply(ctx, dispatch.Change{Orders: []dispatch.WorkOrder{o}, Cases: []dispatch.CaseFile{cf}, Events: []bus.Message{m}}))
	}), "dispatch create")
	o.Version++
	assert.EqualValues(t, 1, rt.count(func() { require.NoError(t, orders.Apply(ctx, dispatch.Change{Orders: []dispatch.WorkOrder{o}})) }), "dispatch update")
	stored, err := orders.Order(ctx, o.ID)
	require.NoError(t, err)
	assert.EqualValues(t, 2, stored.Version)
}
