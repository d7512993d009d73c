package risk_test

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/region/regiontest"
	"github.com/govkit/govkit/risk"
)

// chongqing is the municipality's bounding box, as geo's benchmark uses.
var chongqing = geo.BBox{MinLat: 28.16, MinLon: 105.29, MaxLat: 32.20, MaxLon: 110.19}

func randomPoint(r *rand.Rand, b geo.BBox) geo.Point {
	return geo.Point{Lat: b.MinLat + r.Float64()*(b.MaxLat-b.MinLat), Lon: b.MinLon + r.Float64()*(b.MaxLon-b.MinLon)}
}

func percentile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[int(q*float64(len(s)-1))]
}

// BenchmarkRadius330k measures Service.Within — a 5 km radius query with
// an authorization check per hit — over 330,000 risk points scattered
// across Chongqing (S5's count), reporting the 99th-percentile latency of
// single queries.
func BenchmarkRadius330k(b *testing.B) {
	h, err := regiontest.New(regiontest.Chongqing())
	if err != nil {
		b.Fatal(err)
	}
	cat, _ := risk.NewCatalogue([]risk.HazardClass{{Code: "pipeline", Name: "地下管线"}})
	store := risk.NewMemoryStore()
	svc, err := risk.NewService(risk.Config{Store: store, Catalogue: cat, Regions: h, Authorizer: access.AllowAll()})
	if err != nil {
		b.Fatal(err)
	}
	defer svc.Shutdown()
	r := rand.New(rand.NewPCG(330, 5))
	batch := make([]risk.Point, 0, 1000)
	for i := range 330_000 {
		at := randomPoint(r, chongqing)
		u, err := h.Locate(at)
		if err != nil {
			b.Fatal(err)
		}
		id, _ := uuid.NewV7()
		batch = append(batch, risk.Point{ID: id, Name: fmt.Sprintf("管线风险点 %d", i), Class: "pipeline", Geometry: at, Anchor: at,
			Grid: u.Code, Version: 1, Level: risk.Level{Colour: risk.Colour(1 + i%4)}})
		if len(batch) == cap(batch) {
			if err := store.Apply(b.Context(), risk.Change{CreatePoints: batch}); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	runtime.GC() // collect the loading's garbage before measuring queries
	ctx := admin()
	centers := make([]geo.Point, 4096)
	for i := range centers {
		centers[i] = randomPoint(r, chongqing)
	}
	lat := make([]time.Duration, 0, 1<<16)
	hits := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		hs, err := svc.Within(ctx, centers[i%len(centers)], 5000)
		lat = append(lat, time.Since(start))
		if err != nil {
			b.Fatal(err)
		}
		hits += len(hs)
	}
	b.ReportMetric(float64(percentile(lat, 0.99).Nanoseconds()), "p99-ns")
	b.ReportMetric(float64(hits)/float64(len(lat)), "hits/op")
}

// BenchmarkEvacuationPlan50k plans the evacuation of 50,000 people in
// 2,000 buildings (three zones) to 40 shelters holding 55,000, with 10
// depots and 12 teams, reporting plans per second and the
// 99th-percentile latency of one plan.
func BenchmarkEvacuationPlan50k(b *testing.B) {
	r := rand.New(rand.NewPCG(50, 0))
	centre := geo.Point{Lat: 29.48, Lon: 106.49}
	area := geo.BBoxAround(centre, 6000)
	in := risk.PlanInput{Hazard: risk.Hazard{ID: "leak", Center: centre, Zones: []risk.Zone{{Radius: 1000}, {Radius: 2500}, {Radius: 4000}}}}
	for i := range 2000 {
		p := randomPoint(r, geo.BBoxAround(centre, 4000))
		rank := 2
		if d := geo.Distance(centre, p); d <= 1000 {
			rank = 0
		} else if d <= 2500 {
			rank = 1
		}
		in.Groups = append(in.Groups, risk.Group{ID: fmt.Sprintf("bldg-%04d", i), Point: p, People: 25, Rank: rank})
	}
	for i := range 40 {
		var p geo.Point
		for p = randomPoint(r, area); geo.Distance(centre, p) <= 4000; p = randomPoint(r, area) {
		}
		in.Resources.Shelters = append(in.Resources.Shelters, risk.Shelter{ID: fmt.Sprintf("shelter-%02d", i), Point: p, Capacity: 1375})
	}
	for i := range 10 {
		in.Resources.Depots = append(in.Resources.Depots, risk.Site{ID: fmt.Sprintf("depot-%02d", i), Point: randomPoint(r, area)})
	}
	for i := range 12 {
		in.Resources.Teams = append(in.Resources.Teams, risk.Team{ID: fmt.Sprintf("team-%02d", i), Point: randomPoint(r, area), Members: 35})
	}
	lat := make([]time.Duration, 0, 1<<12)
	var plan risk.EvacuationPlan
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		var err error
		plan, err = risk.Plan(in)
		lat = append(lat, time.Since(start))
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if plan.People != 50_000 || plan.Placed != 50_000 {
		b.Fatalf("placed %d of %d", plan.Placed, plan.People)
	}
	var total time.Duration
	for _, d := range lat {
		total += d
	}
	b.ReportMetric(float64(len(lat))/total.Seconds(), "plans/s")
	b.ReportMetric(float64(percentile(lat, 0.99).Nanoseconds()), "p99-ns")
}

// BenchmarkObserveReading: the tank-level readings of 1,000 tanks, each
// linked to its risk point, nearly all in no band (one in a hundred
// crosses the 90% threshold and the next clears it again), as a depot's
// gauges report all day.
func BenchmarkObserveReading(b *testing.B) {
	f := newFixture(b)
	ctx := admin()
	const tanks = 1000
	for i := range tanks {
		mustCreate(b, f, ctx, tank(fmt.Sprintf("B%04d", i), inA))
	}
	r := rand.New(rand.NewPCG(1, 2))
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		level := 40 + r.Float64()*30
		if i%100 == 0 {
			level = 95
		}
		f.clk.Advance(time.Millisecond)
		if _, err := f.svc.ObserveReading(ctx, risk.Reading{Sensor: fmt.Sprintf("LT-B%04d", i%tanks), Metric: "tank-level", Value: level, At: f.clk.Now()}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "readings/s")
}
