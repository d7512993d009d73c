package geo

import (
	"math"
)

// Circle limits: a circle's polygon is drawn on the sphere of EarthRadius
// and must stay clear of the poles and the antimeridian, which rings in
// plain longitude and latitude cannot cross.
const (
	MaxCircleRadius   = 200_000 // metres
	DefaultCircleSegs = 64
	maxCircleSegs     = 1024
)

// Destination returns the point meters from p along the initial bearing
// (degrees clockwise from north), on the sphere Distance uses.
func Destination(p Point, meters, bearing float64) Point {
	lat, lon := destination(p, meters, bearing)
	return Point{Lat: lat, Lon: math.Remainder(lon, 360)}
}

// destination is Destination with the longitude not wrapped into ±180.
func destination(p Point, meters, bearing float64) (lat, lon float64) {
	d := meters / EarthRadius
	lat1, lon1, b := radians(p.Lat), radians(p.Lon), radians(bearing)
	lat2 := math.Asin(math.Sin(lat1)*math.Cos(d) + math.Cos(lat1)*math.Sin(d)*math.Cos(b))
	lon2 := lon1 + math.Atan2(math.Sin(b)*math.Sin(d)*math.Cos(lat1), math.Cos(d)-math.Sin(lat1)*math.Sin(lat2))
	return lat2 * 180 / math.Pi, lon2 * 180 / math.Pi
}

// Circle returns a regular polygon of segments sides (0 means
// DefaultCircleSegs; at least 8, at most 1024) around center that contains
// the circle of radius meters: its edges touch the circle, so every point
// within radius of center is inside it — what a hazard or evacuation zone
// needs. Its corners lie radius/cos(π/segments) from center, 0.12% further
// with 64 sides. A radius that is not positive and finite or exceeds
// MaxCircleRadius, or a circle that would reach a pole or cross the
// antimeridian, is an error matching ErrInvalidGeometry.
func Circle(center Point, meters float64, segments int) (Polygon, error) {
	bad := func(reason string) (Polygon, error) {
		return nil, &GeometryError{Path: "circle", Reason: reason}
	}
	if err := center.Validate(); err != nil {
		return nil, &GeometryError{Path: "circle.center", Reason: "invalid centre", Err: err}
	}
	if segments == 0 {
		segments = DefaultCircleSegs
	}
	switch {
	case math.IsNaN(meters) || meters <= 0 || meters > MaxCircleRadius:
		return bad("radius must be above 0 and at most 200 km")
	case segments < 8 || segments > maxCircleSegs:
		return bad("segments must be 8–1024")
	}
	corner := meters / math.Cos(math.Pi/float64(segments))
	if math.Abs(center.Lat)+corner/EarthRadius*180/math.Pi >= 89 {
		return bad("the circle reaches a pole")
	}
	ring := make(Ring, 0, segments+1)
	for i := range segments {
		lat, lon := destination(center, corner, 360*float64(i)/float64(segments))
		if lon < -180 || lon > 180 {
			return bad("the circle crosses the antimeridian")
		}
		ring = append(ring, Point{Lat: lat, Lon: lon})
	}
	return NewPolygon(ring)
}
