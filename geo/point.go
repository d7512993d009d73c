package geo

import (
	"fmt"
	"math"
)

// EarthRadius is the mean Earth radius in metres (IUGG), used for
// great-circle distances.
const EarthRadius = 6371008.8

// Point is a position in WGS-84 degrees (also good for CGCS2000, which Beidou
// uses and which differs from WGS-84 by centimetres). The zero value is the
// point (0, 0) in the Gulf of Guinea, which is valid; use NewPoint or Validate
// for input from outside.
type Point struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

// NewPoint returns the point at latitude lat and longitude lon, or a
// *CoordinateError if either is NaN, infinite or out of range.
func NewPoint(lat, lon float64) (Point, error) {
	p := Point{Lat: lat, Lon: lon}
	if err := p.Validate(); err != nil {
		return Point{}, err
	}
	return p, nil
}

// Validate reports whether p lies within [-90, 90] latitude and [-180, 180]
// longitude; the error is a *CoordinateError.
func (p Point) Validate() error {
	switch {
	case math.IsNaN(p.Lat) || math.IsNaN(p.Lon):
		return &CoordinateError{p.Lat, p.Lon, "NaN"}
	case math.IsInf(p.Lat, 0) || math.IsInf(p.Lon, 0):
		return &CoordinateError{p.Lat, p.Lon, "infinite"}
	case p.Lat < -90 || p.Lat > 90:
		return &CoordinateError{p.Lat, p.Lon, "latitude outside [-90, 90]"}
	case p.Lon < -180 || p.Lon > 180:
		return &CoordinateError{p.Lat, p.Lon, "longitude outside [-180, 180]"}
	}
	return nil
}

// String formats p as "lat,lon" with 6 decimals (about 0.1 m).
func (p Point) String() string {
	return fmt.Sprintf("%.6f,%.6f", p.Lat, p.Lon)
}

func radians(deg float64) float64 { return deg * math.Pi / 180 }

// Distance returns the great-circle distance between a and b in metres
// (haversine on a sphere of EarthRadius; within 0.5% of the ellipsoid).
func Distance(a, b Point) float64 {
	lat1, lat2 := radians(a.Lat), radians(b.Lat)
	dLat := lat2 - lat1
	dLon := radians(b.Lon - a.Lon)
	s := math.Sin(dLat / 2)
	t := math.Sin(dLon / 2)
	h := s*s + math.Cos(lat1)*math.Cos(lat2)*t*t
	if h > 1 {
		h = 1
	}
	return 2 * EarthRadius * math.Asin(math.Sqrt(h))
}
