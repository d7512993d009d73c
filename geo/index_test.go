package geo

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// chongqing is the municipality's bounding box, used to scatter test points.
var chongqing = BBox{MinLat: 28.16, MinLon: 105.29, MaxLat: 32.20, MaxLon: 110.19}

func randomPoint(r *rand.Rand, b BBox) Point {
	return Point{
		Lat: b.MinLat + r.Float64()*(b.MaxLat-b.MinLat),
		Lon: b.MinLon + r.Float64()*(b.MaxLon-b.MinLon),
	}
}

func TestIndexPutRejectsBadPoint(t *testing.T) {
	var x Index[int]
	require.NoError(t, x.Put(1, Point{29, 106}))
	assert.ErrorIs(t, x.Put(1, Point{99, 106}), ErrInvalidCoordinate)
	p, ok := x.Get(1)
	require.True(t, ok)
	assert.Equal(t, Point{29, 106}, p, "a rejected move leaves the key where it was")
	assert.Equal(t, 1, x.Len())
}

func TestIndexMoveAndRemove(t *testing.T) {
	var x Index[string]
	require.NoError(t, x.Put("truck", Point{29.5, 106.5}))
	require.NoError(t, x.Put("truck", Point{29.6, 106.6}))
	require.NoError(t, x.Put("truck", Point{29.6, 106.6}))
	assert.Equal(t, 1, x.Len())
	assert.Empty(t, x.Within(Point{29.5, 106.5}, 1000), "old position is gone")
	require.Len(t, x.Within(Point{29.6, 106.6}, 1000), 1)

	assert.True(t, x.Remove("truck"))
	assert.False(t, x.Remove("truck"))
	assert.Zero(t, x.Len())
	assert.Empty(t, x.Nearest(Point{29.6, 106.6}, 3, nil))
}

// The index must agree with a brute-force scan, for radius and k-nearest,
// including far from the equator where degrees of longitude shrink.
func TestIndexMatchesBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for _, area := range []BBox{chongqing, {MinLat: 68, MinLon: 10, MaxLat: 72, MaxLon: 30}} {
		var x Index[int]
		pts := make([]Point, 5000)
		for i := range pts {
			pts[i] = randomPoint(r, area)
			require.NoError(t, x.Put(i, pts[i]))
		}
		for q := range 200 {
			c := randomPoint(r, area)
			meters := 1000 + r.Float64()*40_000

			var want []int
			for i, p := range pts {
				if Distance(c, p) <= meters {
					want = append(want, i)
				}
			}
			var got []int
			hits := x.Within(c, meters)
			for _, h := range hits {
				got = append(got, h.Key)
				assert.InDelta(t, Distance(c, pts[h.Key]), h.Distance, 1e-6)
			}
			assert.True(t, sort.SliceIsSorted(hits, func(i, j int) bool { return hits[i].Distance < hits[j].Distance }))
			slices.Sort(got)
			require.Equal(t, want, got, "radius query %d", q)

			even := func(k int) bool { return k%2 == 0 }
			near := x.Nearest(c, 7, even)
			var brute []Hit[int]
			for i, p := range pts {
				if even(i) {
					brute = append(brute, Hit[int]{Key: i, Point: p, Distance: Distance(c, p)})
				}
			}
			sortHits(brute)
			require.Len(t, near, 7)
			for i := range near {
				require.InDelta(t, brute[i].Distance, near[i].Distance, 1e-6, "k-nearest query %d rank %d", q, i)
			}
		}
	}
}

func TestBoxLowerBound(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		c := Point{Lat: r.Float64()*178 - 89, Lon: r.Float64()*360 - 180}
		a := Point{Lat: r.Float64()*178 - 89, Lon: r.Float64()*360 - 180}
		size := math.Pow(10, r.Float64()*4-3) // 0.001° to 10°
		b := Point{Lat: a.Lat + r.Float64()*size, Lon: a.Lon + r.Float64()*size}
		if b.Validate() != nil {
			continue
		}
		q := boxQuery{lat: radians(c.Lat), lon: c.Lon, cosLat: math.Cos(radians(c.Lat))}
		lower := metres(q.lowerBound([2]float64{a.Lon, a.Lat}, [2]float64{b.Lon, b.Lat}))
		for range 20 {
			p := Point{Lat: a.Lat + r.Float64()*(b.Lat-a.Lat), Lon: a.Lon + r.Float64()*(b.Lon-a.Lon)}
			if d := Distance(c, p); d < lower-1e-6 {
				t.Fatalf("box %v-%v: point %v at %f m is nearer than bound %f m from %v", a, b, p, d, lower, c)
			}
		}
		if b.Validate() == nil && (BBox{a.Lat, a.Lon, b.Lat, b.Lon}).Contains(c) && lower != 0 {
			t.Fatalf("bound %f for a box containing the query", lower)
		}
	}
}

func TestNearestFuncStopsEarly(t *testing.T) {
	var x Index[int]
	for i := range 100 {
		require.NoError(t, x.Put(i, Point{29 + float64(i)*0.001, 106}))
	}
	var seen []int
	x.NearestFunc(Point{29, 106}, func(h Hit[int]) bool {
		seen = append(seen, h.Key)
		return len(seen) < 3
	})
	assert.Equal(t, []int{0, 1, 2}, seen)
	assert.Nil(t, x.Nearest(Point{29, 106}, 0, nil))
}

// BenchmarkRadius330k measures a 5 km radius query over 330,000 points
// scattered across Chongqing (the guide's S5 risk-point count), reporting the
// 99th-percentile latency of single queries.
func BenchmarkRadius330k(b *testing.B) {
	r := rand.New(rand.NewPCG(330, 5))
	var x Index[int32]
	for i := range int32(330_000) {
		if err := x.Put(i, randomPoint(r, chongqing)); err != nil {
			b.Fatal(err)
		}
	}
	centers := make([]Point, 4096)
	for i := range centers {
		centers[i] = randomPoint(r, chongqing)
	}
	lat := make([]time.Duration, 0, 1<<16)
	hits := 0
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		x.WithinFunc(centers[i%len(centers)], 5000, func(Hit[int32]) bool { hits++; return true })
		lat = append(lat, time.Since(start))
	}
	b.ReportMetric(float64(percentile(lat, 0.99).Nanoseconds()), "p99-ns")
	b.ReportMetric(float64(hits)/float64(len(lat)), "hits/op")
}

// BenchmarkNearest100k measures the nearest of 100,000 points that passes a
// filter rejecting half of them, as dispatch does for available responders.
func BenchmarkNearest100k(b *testing.B) {
	r := rand.New(rand.NewPCG(100, 1))
	var x Index[int32]
	for i := range int32(100_000) {
		if err := x.Put(i, randomPoint(r, chongqing)); err != nil {
			b.Fatal(err)
		}
	}
	available := func(k int32) bool { return k%2 == 0 }
	lat := make([]time.Duration, 0, 1<<16)
	for b.Loop() {
		c := randomPoint(r, chongqing)
		start := time.Now()
		x.NearestFunc(c, func(h Hit[int32]) bool { return !available(h.Key) })
		lat = append(lat, time.Since(start))
	}
	b.ReportMetric(float64(percentile(lat, 0.99).Nanoseconds()), "p99-ns")
}

func percentile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[int(q*float64(len(s)-1))]
}
