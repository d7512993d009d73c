package main

import (
	"context"
	crand "crypto/rand"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/govkit/govkit/adapters/nats"
	"github.com/govkit/govkit/adapters/nats/natstest"
	"github.com/govkit/govkit/adapters/postgres"
	"github.com/govkit/govkit/adapters/postgres/pgtest"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/examples/district/sim"
	"github.com/govkit/govkit/pii"
)

// BenchmarkCreateAndRoute measures the district's intake path on
// PostgreSQL: each operation reports an incident to the incident service
// on the PostgreSQL store (validated, located, checked for duplicates in
// the database, stored with its key, timeline entry and outbox event in
// one transaction), routes it with dispatch's Router and offers its work
// orders through the dispatch service on the PostgreSQL store (orders,
// case file and events in one transaction). 8 × GOMAXPROCS reporters work
// in parallel over a pool of 32 connections; fsync is on. The database
// is opened WithoutOutboxNotify, as main does: the services publish their
// own events and the relay polls.
//
// "nats" is the production wiring: after each commit the services publish
// their events to NATS JetStream (file storage). "outbox" publishes them
// to an in-process bus with no subscriber instead, which isolates what
// PostgreSQL costs.
//
//	GOVKIT_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432/test?sslmode=disable \
//	GOVKIT_TEST_NATS=nats://127.0.0.1:4222 \
//	go test -run '^$' -bench CreateAndRoute -benchtime 20000x ./examples/production
func BenchmarkCreateAndRoute(b *testing.B) {
	for _, v := range []string{"outbox", "nats"} {
		b.Run(v, func(b *testing.B) {
			ctx := context.Background()
			db := pgtest.New(b, postgres.WithPoolConfig(func(c *pgxpool.Config) { c.MaxConns = 32 }), postgres.WithoutOutboxNotify())
			if err := db.Setup(ctx); err != nil {
				b.Fatal(err)
			}
			enc, idx := make([]byte, pii.KeySize), make([]byte, pii.KeySize)
			_, _ = crand.Read(enc)
			_, _ = crand.Read(idx)
			sealer, err := pii.NewSealer(enc, idx)
			if err != nil {
				b.Fatal(err)
			}
			incidents, err := postgres.NewIncidentStore(ctx, db, sealer)
			if err != nil {
				b.Fatal(err)
			}
			orders, err := postgres.NewDispatchStore(ctx, db)
			if err != nil {
				b.Fatal(err)
			}
			var pub bus.Bus
			if v == "nats" {
				pub = natstest.Open(b, nats.Options{})
			} else {
				mem, err := bus.NewMemory(bus.MemoryOptions{})
				if err != nil {
					b.Fatal(err)
				}
				defer mem.Close()
				pub = mem
			}
			in, err := sim.NewIntake(sim.Defaults(), sim.Backend{Bus: pub, Incidents: incidents, Dispatch: orders})
			if err != nil {
				b.Fatal(err)
			}
			defer in.Close()

			sim.Bench(b, in, 8, 13)
		})
	}
}
