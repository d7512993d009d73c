package permit_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/clock"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/permit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// metresEast is the longitude offset of d metres at latitude lat.
func metresEast(d, lat float64) float64 { return d / (111195.08 * math.Cos(lat*math.Pi/180)) }

// ApplyExcavation asks the store only for works near the site or on its
// segment, and still finds every clash: a lane 40 m north, a street 45 m
// east (more degrees of longitude than 45 m of latitude: the box is grown
// in metres, not degrees), works 2.8 km away on the same long road; not a
// street 2 km away, nor a lane nearby whose works end too early.
func TestApplyExcavationClashesNearbyAndAlongItsSegment(t *testing.T) {
	lat := 29.575
	net, err := permit.NewNetwork([]permit.Segment{
		{ID: "long", Jurisdiction: guanyin, Line: geo.LineString{{Lat: lat, Lon: 106.500}, {Lat: lat, Lon: 106.531}}}, // ≈ 3 km
		{ID: "lane", Jurisdiction: guanyin, Line: geo.LineString{{Lat: lat + metresNorth(40), Lon: 106.5005}, {Lat: lat + metresNorth(40), Lon: 106.5015}}},
		{ID: "cross", Jurisdiction: guanyin, Line: geo.LineString{{Lat: lat - 0.001, Lon: 106.502 + metresEast(45, lat)}, {Lat: lat + 0.001, Lon: 106.502 + metresEast(45, lat)}}},
		{ID: "far", Jurisdiction: huaxin, Line: geo.LineString{{Lat: lat + metresNorth(2000), Lon: 106.500}, {Lat: lat + metresNorth(2000), Lon: 106.502}}},
	})
	require.NoError(t, err)
	f := newFixture(t, func(c *permit.Config) { c.Network = net })
	west := geo.LineString{{Lat: lat, Lon: 106.500}, {Lat: lat, Lon: 106.502}}
	east := geo.LineString{{Lat: lat, Lon: 106.529}, {Lat: lat, Lon: 106.531}}
	alongLong := f.dig(t, waterStaff, permit.ExcavationRequest{Segment: "long", Site: east, Window: window(1, 10)})
	onLane := f.dig(t, telecomStaff, permit.ExcavationRequest{Segment: "lane", Window: window(3, 6)})
	onCross := f.dig(t, gridStaff, permit.ExcavationRequest{Segment: "cross", Window: window(8, 12)})
	f.dig(t, gridStaff, permit.ExcavationRequest{Segment: "far", Window: window(1, 10)})
	// Ends 30 days and an hour before the gas works start: beyond the slack.
	early := permit.Window{Start: april(2, 8).AddDate(0, 0, -40), End: april(2, 7).AddDate(0, 0, -30)}
	f.dig(t, telecomStaff, permit.ExcavationRequest{Segment: "lane", Window: early, Emergency: true})

	gas := f.dig(t, gasStaff, permit.ExcavationRequest{Segment: "long", Site: west, Window: window(2, 9)})
	got := map[uuid.UUID]permit.Clash{}
	for _, c := range gas.Clashes {
		assert.Equal(t, gas.Excavation.ID, c.A)
		got[c.B] = c
	}
	require.Len(t, got, 3, "%+v", gas.Clashes)
	require.Contains(t, got, alongLong.Excavation.ID)
	assert.True(t, got[alongLong.Excavation.ID].SameSegment, "the same segment clashes however far apart the sites")
	assert.InDelta(t, 2620, got[alongLong.Excavation.ID].Distance, 30)
	require.Contains(t, got, onLane.Excavation.ID)
	assert.False(t, got[onLane.Excavation.ID].SameSegment)
	assert.InDelta(t, 40, got[onLane.Excavation.ID].Distance, 0.5)
	require.Contains(t, got, onCross.Excavation.ID)
	assert.InDelta(t, 45, got[onCross.Excavation.ID].Distance, 0.5)
}

// The box of candidates is wide enough for the distance the clash check
// measures: it takes a degree of longitude at the mean latitude of the
// two sites' first points, so a site that starts far north is nearer, by
// that measure, than the metres east of the new site would say. Such a
// work clashed when every open work was checked, and still does.
func TestApplyExcavationCandidatesReachEveryClash(t *testing.T) {
	lat := 29.575
	// The meridian starts at 60°N: against it, a degree of longitude is
	// taken at about 44.8°N, 0.0006° east is ≈ 47 m (< 50 m); at 29.6°N
	// it would be ≈ 58 m.
	lon := 106.502 + 0.0006
	net, err := permit.NewNetwork([]permit.Segment{
		{ID: "road", Jurisdiction: guanyin, Line: geo.LineString{{Lat: lat, Lon: 106.500}, {Lat: lat, Lon: 106.502}}},
		{ID: "meridian", Jurisdiction: guanyin, Line: geo.LineString{{Lat: 60, Lon: lon}, {Lat: lat, Lon: lon}}},
	})
	require.NoError(t, err)
	f := newFixture(t, func(c *permit.Config) { c.Network = net })
	m := f.dig(t, gridStaff, permit.ExcavationRequest{Segment: "meridian", Window: window(1, 10)})
	gas := f.dig(t, gasStaff, permit.ExcavationRequest{Segment: "road", Window: window(1, 10)})
	require.Len(t, gas.Clashes, 1)
	assert.Equal(t, m.Excavation.ID, gas.Clashes[0].B)
	assert.InDelta(t, 47.3, gas.Clashes[0].Distance, 0.5)
	assert.Greater(t, geo.DistanceToLine(geo.Point{Lat: lat, Lon: 106.502}, geo.LineString{{Lat: 60, Lon: lon}, {Lat: lat, Lon: lon}}), 55.0,
		"on the ground it is farther than the buffer")
}

// countingStore counts the works the service reads.
type countingStore struct {
	permit.Store
	read int // not safe for concurrent use
}

func (s *countingStore) Excavations(ctx context.Context, q permit.ExcavationQuery) (permit.ExcavationPage, error) {
	p, err := s.Store.Excavations(ctx, q)
	s.read += len(p.Excavations)
	return p, err
}

// Among 10,000 open works in the city, an application reads the few near
// it and on its segment, not the thousands whose windows overlap it.
func TestApplyExcavationReadsOnlyNearbyWorks(t *testing.T) {
	works := cityWorks(10_001)
	seed, app := works[:10_000], works[10_000]
	for i := range seed {
		seed[i].Jurisdiction, seed[i].Status, seed[i].Version = guanyin, permit.ExcavationApplied, 1
	}
	store := &countingStore{Store: permit.NewMemoryStore()}
	require.NoError(t, store.Apply(t.Context(), permit.Change{Excavations: seed}))
	clk := clock.NewManual(time.Date(2025, 12, 31, 8, 0, 0, 0, time.UTC))
	svc, err := permit.NewService(permit.Config{Store: store, Authorizer: access.AllowAll(), Clock: clk, Network: cityNetwork(t)})
	require.NoError(t, err)
	t.Cleanup(svc.Shutdown)
	rec, err := svc.ApplyExcavation(as(access.Actor{ID: "gas-tang"}), permit.ExcavationRequest{
		Promoter: app.Promoter, Segment: app.Segment, Site: app.Site, Window: app.Window})
	require.NoError(t, err)

	all, err := permit.NewClashIndex(permit.ClashRules{}, seed)
	require.NoError(t, err)
	want, err := all.Clashes(rec.Excavation)
	require.NoError(t, err)
	assert.Equal(t, want, rec.Clashes)
	overlapping := 0
	for _, e := range seed {
		if e.Window.Start.Before(app.Window.End.Add(30*24*time.Hour)) && app.Window.Start.Before(e.Window.End.Add(30*24*time.Hour)) {
			overlapping++
		}
	}
	t.Logf("read %d works of the %d whose windows are within the slack", store.read, overlapping)
	assert.Greater(t, overlapping, 1000)
	assert.Less(t, store.read, 50)
}

// randomLine returns a polyline of 2–4 vertices starting near c, its legs
// 10 m to 5 km long, or one time in ten up to 300 km (reaching other
// latitudes).
func randomLine(rng *rand.Rand, c geo.Point) geo.LineString {
	p := geo.Point{Lat: c.Lat + (rng.Float64()-0.5)*0.1, Lon: c.Lon + (rng.Float64()-0.5)*0.1}
	line := geo.LineString{p}
	for range 1 + rng.IntN(3) {
		d := 10 + rng.Float64()*5000
		if rng.IntN(10) == 0 {
			d = rng.Float64() * 300_000
		}
		p = geo.Destination(p, d, rng.Float64()*360)
		line = append(line, p)
	}
	return line
}

// randomSite returns the whole of line or a stretch of one of its legs.
func randomSite(rng *rand.Rand, line geo.LineString) geo.LineString {
	if rng.IntN(2) == 0 {
		return line
	}
	i := rng.IntN(len(line) - 1)
	a, b := line[i], line[i+1]
	at := func(f float64) geo.Point {
		return geo.Point{Lat: a.Lat + (b.Lat-a.Lat)*f, Lon: a.Lon + (b.Lon-a.Lon)*f}
	}
	f0 := rng.Float64() * 0.5
	return geo.LineString{at(f0), at(f0 + rng.Float64()*(1-f0))}
}

// Property: for random cities, rules and works, the clashes ApplyExcavation
// reports from the candidates the store gives it are exactly those of a
// ClashIndex over every open work, as it used to build — same works, same
// distances, same order.
func TestApplyExcavationClashesAsAmongAllOpenWorks(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ctx := as(access.Actor{ID: "promoter"})
	var total, across, read, open int
	for seed := range uint64(40) {
		rng := rand.New(rand.NewPCG(seed, 2026))
		centre := geo.Point{Lat: (rng.Float64() - 0.5) * 140, Lon: (rng.Float64() - 0.5) * 300}
		segs := make([]permit.Segment, 40)
		for i := range segs {
			segs[i] = permit.Segment{ID: fmt.Sprintf("s%d", i), Jurisdiction: guanyin, Line: randomLine(rng, centre)}
		}
		net, err := permit.NewNetwork(segs)
		require.NoError(t, err)
		rules := permit.ClashRules{
			Buffer: []float64{5, 50, 300, 2000, 5000}[rng.IntN(5)],
			Slack:  time.Duration(rng.IntN(60)) * 24 * time.Hour,
		}
		randomWindow := func() permit.Window {
			s := start.Add(time.Duration(rng.IntN(365*24)) * time.Hour)
			return permit.Window{Start: s, End: s.Add(time.Duration(1+rng.IntN(30*24)) * time.Hour)}
		}
		store := &countingStore{Store: permit.NewMemoryStore()}
		var seedWorks []permit.Excavation
		for range 150 {
			s := segs[rng.IntN(len(segs))]
			seedWorks = append(seedWorks, permit.Excavation{
				ID: uuid.Must(uuid.NewV7()), Promoter: "cq-gas", Segment: s.ID, Site: randomSite(rng, s.Line), Jurisdiction: guanyin,
				Window: randomWindow(), Status: permit.ExcavationStatus(1 + rng.IntN(4)), Version: 1,
			})
		}
		require.NoError(t, store.Apply(t.Context(), permit.Change{Excavations: seedWorks}))
		svc, err := permit.NewService(permit.Config{Store: store, Authorizer: access.AllowAll(), Network: net, Clash: rules,
			Clock: clock.NewManual(start.Add(-time.Hour))})
		require.NoError(t, err)
		for range 25 {
			s := segs[rng.IntN(len(segs))]
			store.read = 0
			rec, err := svc.ApplyExcavation(ctx, permit.ExcavationRequest{Promoter: "cq-water", Segment: s.ID,
				Site: randomSite(rng, s.Line), Window: randomWindow(), Emergency: rng.IntN(10) == 0})
			require.NoError(t, err)
			read += store.read
			all := openWorks(t, store)
			open += len(all) - 1
			x, err := permit.NewClashIndex(rules, all)
			require.NoError(t, err)
			want, err := x.Clashes(rec.Excavation)
			require.NoError(t, err)
			require.Equal(t, want, rec.Clashes, "seed %d, %s", seed, s.ID)
			total += len(want)
			for _, c := range want {
				if !c.SameSegment {
					across++
				}
			}
		}
		svc.Shutdown()
	}
	t.Logf("%d clashes, %d across segments; the applications read %d works, %d were open", total, across, read, open)
	require.Greater(t, across, 100, "the cases exercise clashes across segments")
	require.Greater(t, total-across, 100, "and along segments")
}

// openWorks returns every work not yet completed, as ApplyExcavation
// used to read them.
func openWorks(t *testing.T, s permit.Store) []permit.Excavation {
	q := permit.ExcavationQuery{Statuses: []permit.ExcavationStatus{permit.ExcavationApplied, permit.ExcavationProposed, permit.ExcavationMerged}, Limit: permit.MaxLimit}
	var out []permit.Excavation
	for {
		p, err := s.Excavations(t.Context(), q)
		require.NoError(t, err)
		out = append(out, p.Excavations...)
		if p.Next == uuid.Nil {
			return out
		}
		q.After = p.Next
	}
}
