package permit_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/permit"
)

// cityWorks returns n excavation applications on a street grid of about
// 15 km × 15 km around Jiangbei: 75 × 75 blocks of 200 m, so 11,100
// segments, each application on a random segment (a third of them on a
// part of it), in a random window of 1–30 days during one year; 2% are
// emergencies.
func cityWorks(n int) []permit.Excavation {
	rng := rand.New(rand.NewPCG(6, 2026))
	const blocks, step = 75, 0.0018 // ≈ 200 m of latitude, ≈ 175 m of longitude
	lat0, lon0 := 29.50, 106.45
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
