package main

import (
	"testing"

	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/examples/district/sim"
)

// BenchmarkCreateAndRoute measures the district's intake path on the
// embedded defaults: each operation reports an incident to the incident
// service on go-memdb (validated, located to its grid, checked for
// duplicates within 250 m, stored with its timeline entry and outbox
// event, published on bus.Memory), routes it with dispatch's Router and
// offers its work orders through the dispatch service on go-memdb (stored
// with their events, published). Reporters work in parallel, as a
// district's cameras, hotlines and grid members do: 4 × GOMAXPROCS
// goroutines. Latency is measured per operation.
//
//	go test -run '^$' -bench CreateAndRoute -benchtime 200000x ./examples/district
//
// "district" is the demo's district (8 streets, 512 grids); "city" a
// Chongqing-sized city (1,025 streets, 65,600 grids). The reports spread
// over the whole area, so the open cases a duplicate search meets stay
// realistic at city scale; in the district they pile up with b.N.
func BenchmarkCreateAndRoute(b *testing.B) {
	for _, size := range []struct {
		name    string
		streets int
	}{{"district", 8}, {"city", 1025}} {
		b.Run(size.name, func(b *testing.B) {
			mem, err := bus.NewMemory(bus.MemoryOptions{})
			if err != nil {
				b.Fatal(err)
			}
			defer mem.Close()
			cfg := sim.Defaults()
			cfg.Streets = size.streets
			in, err := sim.NewIntake(cfg, sim.Backend{Bus: mem}) // nil stores: memdb
			if err != nil {
				b.Fatal(err)
			}
			defer in.Close()
			sim.Bench(b, in, 4, 11)
		})
	}
}
