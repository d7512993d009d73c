package main

import (
	"context"
	crand "crypto/rand"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"
	"time"

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

			var seq, offered atomic.Int64
			lat := make(chan []time.Duration, 256)
			b.SetParallelism(8)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				r := rand.New(rand.NewPCG(uint64(seq.Add(1<<40)), 13))
				var mine []time.Duration
				for pb.Next() {
					rep := in.NewReport(r, seq.Add(1))
					start := time.Now()
					n, err := in.CreateAndRoute(ctx, rep)
					if err != nil {
						b.Error(err)
						return
					}
					mine = append(mine, time.Since(start))
					offered.Add(int64(n))
				}
				lat <- mine
			})
			b.StopTimer()
			close(lat)
			var all []time.Duration
			for l := range lat {
				all = append(all, l...)
			}
			slices.Sort(all)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "incidents/s")
			if len(all) > 0 {
				b.ReportMetric(float64(all[(len(all)-1)*99/100].Nanoseconds()), "p99-ns")
			}
			b.ReportMetric(float64(offered.Load())/float64(b.N), "orders/op")
		})
	}
}
