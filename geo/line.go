package geo

import "math"

// DistanceToLine returns the shortest distance in metres from p to the
// polyline line: to the nearest point of any of its segments, or to its
// only point. It measures on a plane tangent at p, which is within 0.1% of
// the great-circle distance up to some 50 km — the scale of a pipeline's
// or a road's neighbourhood. An empty line is infinitely far.
func DistanceToLine(p Point, line LineString) float64 {
	if len(line) == 0 {
		return math.Inf(1)
	}
	// Local plane around p, in metres: x east, y north.
	ky := EarthRadius * math.Pi / 180
	kx := ky * math.Cos(radians(p.Lat))
	xy := func(q Point) (float64, float64) {
		dLon := math.Remainder(q.Lon-p.Lon, 360) // the short way round
		return dLon * kx, (q.Lat - p.Lat) * ky
	}
	ax, ay := xy(line[0])
	best := math.Hypot(ax, ay)
	for _, q := range line[1:] {
		bx, by := xy(q)
		dx, dy := bx-ax, by-ay
		t := 0.0
		if l2 := dx*dx + dy*dy; l2 > 0 {
			t = math.Max(0, math.Min(1, -(ax*dx+ay*dy)/l2))
		}
		best = math.Min(best, math.Hypot(ax+t*dx, ay+t*dy))
		ax, ay = bx, by
	}
	return best
}

// NearLineFunc calls fn for every key within meters of line (a pipeline,
// a road), its Distance the distance to the line, in no particular order,
// until fn returns false. Candidates come from the R-tree over the line's
// box grown by meters, so a long diagonal line reads more of the index
// than it returns; split such a line into shorter runs. The line must not
// cross the antimeridian.
func (x *Index[K]) NearLineFunc(line LineString, meters float64, fn func(Hit[K]) bool) {
	if len(line) == 0 || !(meters >= 0) {
		return
	}
	lo, hi := line[0], line[0]
	for _, q := range line[1:] {
		lo.Lat, lo.Lon = math.Min(lo.Lat, q.Lat), math.Min(lo.Lon, q.Lon)
		hi.Lat, hi.Lon = math.Max(hi.Lat, q.Lat), math.Max(hi.Lon, q.Lon)
	}
	// Grow the box by meters, in longitude at the latitude where a degree
	// is shortest, so that no key within reach falls outside it.
	dLat := meters / EarthRadius * 180 / math.Pi
	far := math.Min(89.9, math.Max(math.Abs(lo.Lat), math.Abs(hi.Lat))+dLat)
	dLon := math.Min(360, dLat/math.Cos(radians(far)))
	x.tree.Search([2]float64{lo.Lon - dLon, lo.Lat - dLat}, [2]float64{hi.Lon + dLon, hi.Lat + dLat},
		func(min, _ [2]float64, e entry[K]) bool {
			p := pointOf(min)
			if d := DistanceToLine(p, line); d <= meters {
				return fn(Hit[K]{Key: e.key, Point: p, Distance: d})
			}
			return true
		})
}

// NearLine returns every key within meters of line, nearest first.
func (x *Index[K]) NearLine(line LineString, meters float64) []Hit[K] {
	var hits []Hit[K]
	x.NearLineFunc(line, meters, func(h Hit[K]) bool {
		hits = append(hits, h)
		return true
	})
	sortHits(hits)
	return hits
}
