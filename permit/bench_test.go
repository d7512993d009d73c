package permit_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/clock"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/permit"
)

// The street grid of cityWorks: cityBlocks × cityBlocks blocks of
// cityStep degrees (≈ 200 m of latitude, ≈ 175 m of longitude) north and
// east of (cityLat0, cityLon0).
const (
	cityBlocks         = 75
	cityStep           = 0.0018
	cityLat0, cityLon0 = 29.50, 106.45
)

// cityNetwork returns every segment of the grid cityWorks digs: from each
// junction one block east ("s-r-c-true") and one block north
// ("s-r-c-false"), in the street of Guanyin.
func cityNetwork(tb testing.TB) *permit.Network {
	segs := make([]permit.Segment, 0, 2*cityBlocks*cityBlocks)
	for r := range cityBlocks {
		for c := range cityBlocks {
			a := geo.Point{Lat: cityLat0 + float64(r)*cityStep, Lon: cityLon0 + float64(c)*cityStep}
			for _, horizontal := range []bool{true, false} {
				b := a
				if horizontal {
					b.Lon += cityStep
				} else {
					b.Lat += cityStep
				}
				segs = append(segs, permit.Segment{ID: fmt.Sprintf("s-%d-%d-%t", r, c, horizontal), Line: geo.LineString{a, b}, Jurisdiction: guanyin})
			}
		}
	}
	n, err := permit.NewNetwork(segs)
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// cityWorks returns n excavation applications on a street grid of about
// 15 km × 15 km around Jiangbei: 75 × 75 blocks of 200 m, so 11,100
// segments, each application on a random segment (a third of them on a
// part of it), in a random window of 1–30 days during one year; 2% are
// emergencies.
func cityWorks(n int) []permit.Excavation {
	rng := rand.New(rand.NewPCG(6, 2026))
	const blocks, step, lat0, lon0 = cityBlocks, cityStep, cityLat0, cityLon0
	start := time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC)
	promoters := []string{"cq-gas", "cq-water", "china-telecom", "china-mobile", "state-grid", "cq-drainage"}
	out := make([]permit.Excavation, n)
	for i := range out {
		r, c := rng.IntN(blocks), rng.IntN(blocks)
		a := geo.Point{Lat: lat0 + float64(r)*step, Lon: lon0 + float64(c)*step}
		b := a
		horizontal := rng.IntN(2) == 0
		if horizontal {
			b.Lon += step
		} else {
			b.Lat += step
		}
		seg := fmt.Sprintf("s-%d-%d-%t", r, c, horizontal)
		site := geo.LineString{a, b}
		if rng.IntN(3) == 0 { // a part of the segment
			f0, f1 := rng.Float64()*0.5, 0.5+rng.Float64()*0.5
			site = geo.LineString{
				{Lat: a.Lat + (b.Lat-a.Lat)*f0, Lon: a.Lon + (b.Lon-a.Lon)*f0},
				{Lat: a.Lat + (b.Lat-a.Lat)*f1, Lon: a.Lon + (b.Lon-a.Lon)*f1},
			}
		}
		s := start.Add(time.Duration(rng.IntN(365*24)) * time.Hour)
		out[i] = permit.Excavation{
			ID: uuid.Must(uuid.NewV7()), Promoter: promoters[rng.IntN(len(promoters))], Segment: seg, Site: site,
			Window: permit.Window{Start: s, End: s.Add(time.Duration(1+rng.IntN(30)) * 24 * time.Hour)}, Emergency: rng.IntN(50) == 0,
		}
	}
	return out
}

// BenchmarkClash measures clash detection over 10,000 applications with
// the default rules (50 m buffer, 30 days' slack).
//
//   - detect: one op is DetectClashes over all 10,000 (index, every pair,
//     groups); reported as applications/s.
//   - check: one op is the clash check of one application against an
//     index of the 10,000, as ApplyExcavation does; reported as checks/s
//     and p99-ns per check.
func BenchmarkClash(b *testing.B) {
	works := cityWorks(10_000)
	b.Run("detect", func(b *testing.B) {
		var rep permit.ClashReport
		b.ReportAllocs()
		for b.Loop() {
			var err error
			rep, err = permit.DetectClashes(permit.ClashRules{}, works, nil)
			if err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(works))*float64(b.N)/b.Elapsed().Seconds(), "applications/s")
		b.ReportMetric(float64(rep.Clashing())/float64(len(works)), "clashing-share")
	})
	b.Run("check", func(b *testing.B) {
		x, err := permit.NewClashIndex(permit.ClashRules{}, works)
		if err != nil {
			b.Fatal(err)
		}
		lat := make([]time.Duration, 0, 1<<22) // b.N is unknown with b.Loop
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			t0 := time.Now()
			if _, err := x.Clashes(works[i%len(works)]); err != nil {
				b.Fatal(err)
			}
			if len(lat) < cap(lat) {
				lat = append(lat, time.Since(t0))
			}
			i++
		}
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)*99/100]), "p99-ns")
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "checks/s")
	})
}

// BenchmarkApplyExcavation measures applications to dig arriving among
// 10,000 open works spread over the city of cityWorks, on the memory
// store with the default rules: one op is one ApplyExcavation (validation,
// the moratorium check, the clash check, the write and its event). The
// applications are the next 1,000 of cityWorks, in turn; after each
// round the store goes back to the 10,000 (untimed), so it never holds
// more than 11,000. Reported as applications/s, with the clashes found
// per application as a check that the answers stay the same.
func BenchmarkApplyExcavation(b *testing.B) {
	const open, round = 10_000, 1_000
	works := cityWorks(open + round)
	seed, apps := works[:open], works[open:]
	for i := range seed {
		seed[i].Jurisdiction, seed[i].Status, seed[i].Version = guanyin, permit.ExcavationApplied, 1
	}
	net := cityNetwork(b)
	clk := clock.NewManual(time.Date(2025, 12, 31, 8, 0, 0, 0, time.UTC))
	fresh := func() *permit.Service {
		store := permit.NewMemoryStore()
		if err := store.Apply(context.Background(), permit.Change{Excavations: seed}); err != nil {
			b.Fatal(err)
		}
		svc, err := permit.NewService(permit.Config{Store: store, Authorizer: access.AllowAll(), Clock: clk, Network: net})
		if err != nil {
			b.Fatal(err)
		}
		return svc
	}
	svc := fresh()
	ctx := access.WithActor(context.Background(), access.Actor{ID: "bench", Kind: access.DepartmentHandler, Scope: "500000"})
	clashes, i := 0, 0
	b.ReportAllocs()
	for b.Loop() {
		if i > 0 && i%round == 0 {
			b.StopTimer()
			svc.Shutdown()
			svc = fresh()
			b.StartTimer()
		}
		w := apps[i%round]
		rec, err := svc.ApplyExcavation(ctx, permit.ExcavationRequest{Promoter: w.Promoter, Segment: w.Segment, Site: w.Site, Window: w.Window, Emergency: w.Emergency})
		if err != nil {
			b.Fatal(err)
		}
		clashes += len(rec.Clashes)
		i++
	}
	svc.Shutdown()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "applications/s")
	b.ReportMetric(float64(clashes)/float64(b.N), "clashes/application")
}
