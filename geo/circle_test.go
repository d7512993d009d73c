package geo_test

import (
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/govkit/govkit/geo"
)

var tiaodengDepot = geo.Point{Lat: 29.4310, Lon: 106.4720}

func TestDestinationRoundTrips(t *testing.T) {
	for _, bearing := range []float64{0, 45, 90, 180, 270, 359} {
		for _, m := range []float64{10, 1500, 50_000} {
			p := geo.Destination(tiaodengDepot, m, bearing)
			if d := geo.Distance(tiaodengDepot, p); math.Abs(d-m) > m*1e-9+1e-6 {
				t.Errorf("%v m at %v°: %v m away", m, bearing, d)
			}
		}
	}
	if north := geo.Destination(tiaodengDepot, 1000, 0); north.Lat <= tiaodengDepot.Lat || math.Abs(north.Lon-tiaodengDepot.Lon) > 1e-12 {
		t.Errorf("due north: %+v", north)
	}
	if east := geo.Destination(geo.Point{Lat: 0, Lon: 179.99}, 5000, 90); east.Lon > -179 || east.Lon < -180 {
		t.Errorf("east across the antimeridian wraps: %+v", east)
	}
}

// The polygon contains the circle: every point within the radius is
// inside, and the corners lie just outside it.
func TestCircleContainsTheCircle(t *testing.T) {
	const radius = 1500
	for _, segs := range []int{0, 8, 36, 64, 1024} {
		c, err := geo.Circle(tiaodengDepot, radius, segs)
		if err != nil {
			t.Fatal(err)
		}
		want := segs
		if want == 0 {
			want = geo.DefaultCircleSegs
		}
		if len(c) != 1 || len(c[0]) != want+1 {
			t.Fatalf("%d segments: %d rings, %d positions", segs, len(c), len(c[0]))
		}
		for i := range 720 {
			bearing := float64(i) / 2
			if p := geo.Destination(tiaodengDepot, radius*0.9999, bearing); !c.Contains(p) {
				t.Fatalf("%d segments: a point at %v° within the radius is outside", segs, bearing)
			}
			if p := geo.Destination(tiaodengDepot, radius*1.001/math.Cos(math.Pi/float64(want)), bearing); c.Contains(p) {
				t.Fatalf("%d segments: a point at %v° beyond the corners is inside", segs, bearing)
			}
		}
	}
}

func TestCircleRefusesWhatItCannotDraw(t *testing.T) {
	for name, tc := range map[string]struct {
		c      geo.Point
		radius float64
		segs   int
	}{
		"zero radius":          {tiaodengDepot, 0, 0},
		"negative radius":      {tiaodengDepot, -5, 0},
		"NaN radius":           {tiaodengDepot, math.NaN(), 0},
		"infinite radius":      {tiaodengDepot, math.Inf(1), 0},
		"over 200 km":          {tiaodengDepot, 200_001, 0},
		"too few segments":     {tiaodengDepot, 100, 7},
		"too many segments":    {tiaodengDepot, 100, 1025},
		"negative segments":    {tiaodengDepot, 100, -1},
		"bad centre":           {geo.Point{Lat: 91, Lon: 0}, 100, 0},
		"reaches the pole":     {geo.Point{Lat: 88.5, Lon: 0}, 150_000, 0},
		"crosses antimeridian": {geo.Point{Lat: 0, Lon: 179.99}, 5_000, 0},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := geo.Circle(tc.c, tc.radius, tc.segs); !errors.Is(err, geo.ErrInvalidGeometry) {
				t.Fatalf("err = %v, want ErrInvalidGeometry", err)
			}
		})
	}
}

// A 1.5 km evacuation zone around an oil depot.
func ExampleCircle() {
	zone, err := geo.Circle(tiaodengDepot, 1500, 36)
	if err != nil {
		panic(err)
	}
	school := geo.Destination(tiaodengDepot, 1200, 60)
	farm := geo.Destination(tiaodengDepot, 1800, 60)
	fmt.Println(len(zone[0])-1, "sides;", "school inside:", zone.Contains(school), "farm inside:", zone.Contains(farm))
	// Output: 36 sides; school inside: true farm inside: false
}
