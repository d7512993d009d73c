package geo

import (
	"cmp"
	"math"
	"slices"

	"github.com/tidwall/rtree"
)

// Hit is one result of an index query: the key, where it is, and how far it
// lies from the query point in metres.
type Hit[K comparable] struct {
	Key      K
	Point    Point
	Distance float64
}

// Index is a spatial index over keyed points (responders, risk points,
// devices) answering radius and k-nearest queries by great-circle distance.
//
// It is an R-tree (github.com/tidwall/rtree) over longitude and latitude.
// Each point also keeps its position as a unit vector, so that comparing
// distances is a dot product rather than trigonometry: queries compare
// squared half-chords, which order points exactly as great-circle distance
// does, and convert to metres only for the hits they return.
//
// Reads may run concurrently with each other; a write (Put, Remove) must not
// run concurrently with anything. Callers that mix them guard the index with
// a sync.RWMutex.
//
// The zero value is an empty index ready to use.
type Index[K comparable] struct {
	tree rtree.RTreeG[entry[K]]
	at   map[K]Point
}

// entry is what the R-tree's leaves hold: the key and the unit vector, so
// that a query touches nothing outside the leaf it is reading.
type entry[K comparable] struct {
	key K
	v   vec3
}

// vec3 is a point on the unit sphere.
type vec3 struct{ x, y, z float64 }

func unitVector(p Point) vec3 {
	lat, lon := radians(p.Lat), radians(p.Lon)
	c := math.Cos(lat)
	return vec3{c * math.Cos(lon), c * math.Sin(lon), math.Sin(lat)}
}

// halfChord2 returns sin²(d/2R) for the great-circle distance d between a
// and b: the haversine of their central angle.
func halfChord2(a, b vec3) float64 {
	dx, dy, dz := a.x-b.x, a.y-b.y, a.z-b.z
	return (dx*dx + dy*dy + dz*dz) / 4
}

// metres converts a haversine value back to a distance.
func metres(h float64) float64 {
	return 2 * EarthRadius * math.Asin(math.Sqrt(math.Min(1, h)))
}

func corner(p Point) [2]float64 { return [2]float64{p.Lon, p.Lat} }

func pointOf(c [2]float64) Point { return Point{Lat: c[1], Lon: c[0]} }

// Put places key at p, moving it if it is already indexed. An invalid p is
// rejected with a *CoordinateError and the index is unchanged.
func (x *Index[K]) Put(key K, p Point) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if x.at == nil {
		x.at = make(map[K]Point)
	}
	if old, ok := x.at[key]; ok {
		if old == p {
			return nil
		}
		x.tree.Delete(corner(old), corner(old), entry[K]{key, unitVector(old)})
	}
	x.tree.Insert(corner(p), corner(p), entry[K]{key, unitVector(p)})
	x.at[key] = p
	return nil
}

// Remove deletes key and reports whether it was present.
func (x *Index[K]) Remove(key K) bool {
	p, ok := x.at[key]
	if !ok {
		return false
	}
	x.tree.Delete(corner(p), corner(p), entry[K]{key, unitVector(p)})
	delete(x.at, key)
	return true
}

// Get returns where key is.
func (x *Index[K]) Get(key K) (Point, bool) {
	p, ok := x.at[key]
	return p, ok
}

// Len returns the number of indexed keys.
func (x *Index[K]) Len() int { return len(x.at) }

// WithinFunc calls fn for every key within meters of center, in no particular
// order, until fn returns false. It allocates nothing, for hot paths.
func (x *Index[K]) WithinFunc(center Point, meters float64, fn func(Hit[K]) bool) {
	b := BBoxAround(center, meters)
	limit := math.Pow(math.Sin(math.Min(meters/EarthRadius, math.Pi)/2), 2)
	cv := unitVector(center)
	x.tree.Search([2]float64{b.MinLon, b.MinLat}, [2]float64{b.MaxLon, b.MaxLat},
		func(min, _ [2]float64, e entry[K]) bool {
			if h := halfChord2(cv, e.v); h <= limit {
				return fn(Hit[K]{Key: e.key, Point: pointOf(min), Distance: metres(h)})
			}
			return true
		})
}

// Within returns every key within meters of center, nearest first.
func (x *Index[K]) Within(center Point, meters float64) []Hit[K] {
	var hits []Hit[K]
	x.WithinFunc(center, meters, func(h Hit[K]) bool {
		hits = append(hits, h)
		return true
	})
	sortHits(hits)
	return hits
}

// NearestFunc visits keys in order of increasing distance from center,
// calling fn for each until fn returns false. Use it to find the nearest key
// that passes a test (an available responder, an open shelter) without
// materialising the rest.
func (x *Index[K]) NearestFunc(center Point, fn func(Hit[K]) bool) {
	cv := unitVector(center)
	q := boxQuery{lat: radians(center.Lat), lon: center.Lon, cosLat: math.Cos(radians(center.Lat))}
	x.tree.Nearby(
		func(min, max [2]float64, e entry[K], item bool) float64 {
			if item {
				return halfChord2(cv, e.v)
			}
			return q.lowerBound(min, max)
		},
		func(min, _ [2]float64, e entry[K], h float64) bool {
			return fn(Hit[K]{Key: e.key, Point: pointOf(min), Distance: metres(h)})
		})
}

// Nearest returns up to k keys nearest to center for which accept returns
// true (a nil accept takes every key), nearest first.
func (x *Index[K]) Nearest(center Point, k int, accept func(K) bool) []Hit[K] {
	if k <= 0 {
		return nil
	}
	hits := make([]Hit[K], 0, min(k, 16))
	x.NearestFunc(center, func(h Hit[K]) bool {
		if accept == nil || accept(h.Key) {
			hits = append(hits, h)
		}
		return len(hits) < k
	})
	return hits
}

// boxQuery holds what a best-first search needs of its query point.
type boxQuery struct {
	lat, lon, cosLat float64 // lat in radians, lon in degrees
}

// lowerBound returns a value no greater than the haversine sin²(d/2R) from
// the query to any point of the box [min, max] (in lon, lat degrees), without
// trigonometry. The haversine is sin²(Δφ/2) + cos φ₁ cos φ₂ sin²(Δλ/2); each
// term is bounded below on its own: the smallest latitude and longitude gaps
// to the box, sin x ≥ x − x³/6 and cos x ≥ 1 − x²/2. A true lower bound keeps
// the R-tree's best-first search exact.
func (q boxQuery) lowerBound(min, max [2]float64) float64 {
	minLat, maxLat := radians(min[1]), radians(max[1])
	var dLat float64
	if q.lat < minLat {
		dLat = minLat - q.lat
	} else if q.lat > maxLat {
		dLat = q.lat - maxLat
	}
	var dLon float64
	if q.lon < min[0] || q.lon > max[0] {
		dLon = radians(math.Min(angleBetween(q.lon, min[0]), angleBetween(q.lon, max[0])))
	}
	far := math.Max(math.Abs(minLat), math.Abs(maxLat))
	cosFar := math.Max(0, 1-far*far/2)
	sLat, sLon := sinBelow(dLat/2), sinBelow(dLon/2)
	return sLat*sLat + q.cosLat*cosFar*sLon*sLon
}

// sinBelow returns a lower bound of sin x for 0 ≤ x ≤ π/2.
func sinBelow(x float64) float64 { return math.Max(0, x-x*x*x/6) }

// angleBetween returns the absolute longitude difference in degrees, taking
// the short way round.
func angleBetween(a, b float64) float64 {
	d := math.Abs(a - b)
	if d > 180 {
		d = 360 - d
	}
	return d
}

func sortHits[K comparable](hits []Hit[K]) {
	slices.SortStableFunc(hits, func(a, b Hit[K]) int { return cmp.Compare(a.Distance, b.Distance) })
}
