package geo_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/govkit/govkit/geo"
)

// A gas main along Jiulongpo, west to east then north-east.
var gasMain = geo.LineString{{Lat: 29.50, Lon: 106.45}, {Lat: 29.50, Lon: 106.50}, {Lat: 29.53, Lon: 106.53}}

func TestDistanceToLine(t *testing.T) {
	mid := geo.Point{Lat: 29.50, Lon: 106.475}
	for _, tc := range []struct {
		name string
		p    geo.Point
		want float64
	}{
		{"on the line", mid, 0},
		{"at a vertex", gasMain[1], 0},
		{"300 m north of the first segment", geo.Destination(mid, 300, 0), 300},
		{"2 km south of the first segment", geo.Destination(mid, 2000, 180), 2000},
		{"beyond the west end", geo.Destination(gasMain[0], 500, 270), 500},
		{"beyond the last vertex", geo.Destination(gasMain[2], 800, 45), 800},
	} {
		if got := geo.DistanceToLine(tc.p, gasMain); math.Abs(got-tc.want) > 1+tc.want*1e-3 {
			t.Errorf("%s: %.1f m, want %.1f", tc.name, got, tc.want)
		}
	}
	// Against brute force: the nearest of many points along the segments.
	r := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		p := geo.Point{Lat: 29.45 + r.Float64()*0.12, Lon: 106.40 + r.Float64()*0.18}
		brute := math.Inf(1)
		for i := 1; i < len(gasMain); i++ {
			a, b := gasMain[i-1], gasMain[i]
			for k := 0; k <= 4000; k++ {
				f := float64(k) / 4000
				q := geo.Point{Lat: a.Lat + f*(b.Lat-a.Lat), Lon: a.Lon + f*(b.Lon-a.Lon)}
				brute = math.Min(brute, geo.Distance(p, q))
			}
		}
		if got := geo.DistanceToLine(p, gasMain); math.Abs(got-brute) > 2+brute*2e-3 {
			t.Fatalf("%+v: %.1f m, brute force %.1f", p, got, brute)
		}
	}
	if d := geo.DistanceToLine(mid, nil); !math.IsInf(d, 1) {
		t.Errorf("empty line: %v", d)
	}
	if d := geo.DistanceToLine(geo.Destination(mid, 100, 90), geo.LineString{mid}); math.Abs(d-100) > 0.5 {
		t.Errorf("one-point line: %v", d)
	}
}

func TestNearLine(t *testing.T) {
	var ix geo.Index[int]
	r := rand.New(rand.NewPCG(3, 4))
	pts := make([]geo.Point, 20000)
	for i := range pts {
		pts[i] = geo.Point{Lat: 29.40 + r.Float64()*0.25, Lon: 106.35 + r.Float64()*0.30}
		if err := ix.Put(i, pts[i]); err != nil {
			t.Fatal(err)
		}
	}
	const reach = 200.0
	var want []int
	for i, p := range pts {
		if geo.DistanceToLine(p, gasMain) <= reach {
			want = append(want, i)
		}
	}
	hits := ix.NearLine(gasMain, reach)
	var got []int
	for k, h := range hits {
		got = append(got, h.Key)
		if k > 0 && h.Distance < hits[k-1].Distance {
			t.Fatal("not nearest first")
		}
	}
	slices.Sort(got)
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Fatalf("%d hits, want %d", len(got), len(want))
	}
	n := 0
	ix.NearLineFunc(gasMain, reach, func(geo.Hit[int]) bool { n++; return n < 3 })
	if n != 3 {
		t.Fatalf("NearLineFunc went on after false: %d calls", n)
	}
	if hits := ix.NearLine(nil, reach); len(hits) != 0 {
		t.Fatal("an empty line found keys")
	}

	// Just inside reach beyond an end, where a degree of longitude is
	// shorter than one of latitude: the search box must reach that far.
	var ends geo.Index[string]
	_ = ends.Put("west", geo.Destination(gasMain[0], 0.95*reach, 270))
	_ = ends.Put("east", geo.Destination(gasMain[1], 0.95*reach, 90))
	if hits := ends.NearLine(gasMain[:2], reach); len(hits) != 2 {
		t.Fatalf("keys just within reach past the ends: %+v", hits)
	}
}

// Risk points within 200 m of a gas main, the zone third-party digging
// must not enter unsupervised.
func ExampleIndex_NearLine() {
	var points geo.Index[string]
	_ = points.Put("school", geo.Destination(geo.Point{Lat: 29.50, Lon: 106.47}, 150, 0))
	_ = points.Put("market", geo.Destination(geo.Point{Lat: 29.50, Lon: 106.49}, 450, 180))
	_ = points.Put("clinic", geo.Destination(geo.Point{Lat: 29.515, Lon: 106.515}, 60, 135))
	for _, h := range points.NearLine(gasMain, 200) {
		fmt.Printf("%s %.0f m\n", h.Key, h.Distance)
	}
	// Output:
	// clinic 60 m
	// school 150 m
}
