package geo

import "math"

// BBox is an axis-aligned box in degrees. It does not wrap across the
// antimeridian, which no Chinese jurisdiction needs.
type BBox struct {
	MinLat, MinLon, MaxLat, MaxLon float64
}

// EmptyBBox returns a box that contains nothing and that Extend grows.
func EmptyBBox() BBox {
	return BBox{MinLat: math.Inf(1), MinLon: math.Inf(1), MaxLat: math.Inf(-1), MaxLon: math.Inf(-1)}
}

// NewBBox returns the box with corners sw (south-west) and ne (north-east).
// It fails if a corner is invalid or sw lies north or east of ne.
func NewBBox(sw, ne Point) (BBox, error) {
	if err := sw.Validate(); err != nil {
		return BBox{}, &GeometryError{Path: "sw", Reason: "bad corner", Err: err}
	}
	if err := ne.Validate(); err != nil {
		return BBox{}, &GeometryError{Path: "ne", Reason: "bad corner", Err: err}
	}
	if sw.Lat > ne.Lat || sw.Lon > ne.Lon {
		return BBox{}, &GeometryError{Reason: "south-west corner is north or east of north-east corner"}
	}
	return BBox{MinLat: sw.Lat, MinLon: sw.Lon, MaxLat: ne.Lat, MaxLon: ne.Lon}, nil
}

// IsEmpty reports whether b contains no point.
func (b BBox) IsEmpty() bool { return b.MinLat > b.MaxLat || b.MinLon > b.MaxLon }

// Contains reports whether p lies inside b or on its edge.
func (b BBox) Contains(p Point) bool {
	return p.Lat >= b.MinLat && p.Lat <= b.MaxLat && p.Lon >= b.MinLon && p.Lon <= b.MaxLon
}

// Intersects reports whether b and o share at least one point.
func (b BBox) Intersects(o BBox) bool {
	return b.MinLat <= o.MaxLat && o.MinLat <= b.MaxLat && b.MinLon <= o.MaxLon && o.MinLon <= b.MaxLon
}

// Extend returns the smallest box containing b and p.
func (b BBox) Extend(p Point) BBox {
	return BBox{
		MinLat: math.Min(b.MinLat, p.Lat), MinLon: math.Min(b.MinLon, p.Lon),
		MaxLat: math.Max(b.MaxLat, p.Lat), MaxLon: math.Max(b.MaxLon, p.Lon),
	}
}

// Union returns the smallest box containing b and o.
func (b BBox) Union(o BBox) BBox {
	if o.IsEmpty() {
		return b
	}
	return b.Extend(Point{o.MinLat, o.MinLon}).Extend(Point{o.MaxLat, o.MaxLon})
}

// Center returns the midpoint of b in degrees.
func (b BBox) Center() Point {
	return Point{Lat: (b.MinLat + b.MaxLat) / 2, Lon: (b.MinLon + b.MaxLon) / 2}
}

// BBoxAround returns a box that contains every point within meters of c by
// great-circle distance. Near the poles the box spans all longitudes.
func BBoxAround(c Point, meters float64) BBox {
	if meters < 0 {
		meters = 0
	}
	dLat := meters / EarthRadius * 180 / math.Pi
	minLat, maxLat := c.Lat-dLat, c.Lat+dLat
	if minLat <= -90 || maxLat >= 90 {
		return BBox{MinLat: math.Max(minLat, -90), MinLon: -180, MaxLat: math.Min(maxLat, 90), MaxLon: 180}
	}
	// The widest longitude span is at the latitude farthest from the equator.
	cosLat := math.Cos(radians(math.Max(math.Abs(minLat), math.Abs(maxLat))))
	ratio := math.Sin(meters/EarthRadius/2) / cosLat
	if ratio >= 1 {
		return BBox{MinLat: minLat, MinLon: -180, MaxLat: maxLat, MaxLon: 180}
	}
	dLon := 2 * math.Asin(ratio) * 180 / math.Pi
	return BBox{
		MinLat: minLat, MinLon: math.Max(c.Lon-dLon, -180),
		MaxLat: maxLat, MaxLon: math.Min(c.Lon+dLon, 180),
	}
}
