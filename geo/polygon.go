package geo

import "fmt"

// Ring is a closed line of points: the first and last points are equal, as
// GeoJSON requires. NewPolygon closes a ring that is given open.
type Ring []Point

// Polygon is an outer ring followed by zero or more holes. Build one with
// NewPolygon, which validates it; Contains on an unvalidated polygon follows
// the same even-odd rule but makes no promise about malformed rings.
type Polygon []Ring

// MultiPolygon is a set of polygons treated as one area, such as a district
// with an exclave.
type MultiPolygon []Polygon

// LineString is an open line of two or more points, such as a pipe segment
// or a road.
type LineString []Point

// NewPolygon validates outer and holes, closes any open ring and returns the
// polygon. Each ring needs at least three distinct positions.
func NewPolygon(outer Ring, holes ...Ring) (Polygon, error) {
	rings := append([]Ring{outer}, holes...)
	p := make(Polygon, len(rings))
	for i, r := range rings {
		closed, err := closeRing(r)
		if err != nil {
			err.Path = fmt.Sprintf("ring[%d]%s", i, err.Path)
			return nil, err
		}
		p[i] = closed
	}
	return p, nil
}

// closeRing validates r and returns a closed copy.
func closeRing(r Ring) (Ring, *GeometryError) {
	for i, pt := range r {
		if err := pt.Validate(); err != nil {
			return nil, &GeometryError{Path: fmt.Sprintf(".point[%d]", i), Reason: "bad position", Err: err}
		}
	}
	out := make(Ring, len(r), len(r)+1)
	copy(out, r)
	if len(out) > 0 && out[0] != out[len(out)-1] {
		out = append(out, out[0])
	}
	if len(out) < 4 {
		return nil, &GeometryError{Reason: fmt.Sprintf("ring has %d positions, needs at least 4 including the closing one", len(out))}
	}
	distinct := map[Point]struct{}{}
	for _, pt := range out {
		distinct[pt] = struct{}{}
	}
	if len(distinct) < 3 {
		return nil, &GeometryError{Reason: "ring has fewer than 3 distinct positions"}
	}
	return out, nil
}

// Validate checks every polygon of m as NewPolygon would, without closing
// rings: GeoJSON input must already be closed.
func (m MultiPolygon) Validate() error {
	if len(m) == 0 {
		return &GeometryError{Reason: "multipolygon has no polygons"}
	}
	for i, p := range m {
		if err := p.Validate(); err != nil {
			if ge, ok := err.(*GeometryError); ok {
				ge.Path = fmt.Sprintf("polygon[%d].%s", i, ge.Path)
			}
			return err
		}
	}
	return nil
}

// Validate checks that p has at least one ring and that every ring is closed,
// has valid positions and at least three distinct ones.
func (p Polygon) Validate() error {
	if len(p) == 0 {
		return &GeometryError{Reason: "polygon has no rings"}
	}
	for i, r := range p {
		if len(r) > 0 && r[0] != r[len(r)-1] {
			return &GeometryError{Path: fmt.Sprintf("ring[%d]", i), Reason: "ring is not closed"}
		}
		if _, err := closeRing(r); err != nil {
			err.Path = fmt.Sprintf("ring[%d]%s", i, err.Path)
			return err
		}
	}
	return nil
}

// Validate checks that l has at least two positions, all valid.
func (l LineString) Validate() error {
	if len(l) < 2 {
		return &GeometryError{Reason: fmt.Sprintf("line has %d positions, needs at least 2", len(l))}
	}
	for i, pt := range l {
		if err := pt.Validate(); err != nil {
			return &GeometryError{Path: fmt.Sprintf("point[%d]", i), Reason: "bad position", Err: err}
		}
	}
	return nil
}

// Contains reports whether pt lies inside r by the even-odd rule, treating
// longitude and latitude as plane coordinates (exact enough for the grid and
// district boundaries govkit deals with, which span at most a few hundred
// kilometres).
func (r Ring) Contains(pt Point) bool {
	in := false
	n := len(r)
	for i, j := 0, n-1; i < n; j, i = i, i+1 {
		a, b := r[i], r[j]
		if (a.Lat > pt.Lat) != (b.Lat > pt.Lat) {
			x := (b.Lon-a.Lon)*(pt.Lat-a.Lat)/(b.Lat-a.Lat) + a.Lon
			if pt.Lon < x {
				in = !in
			}
		}
	}
	return in
}

// Contains reports whether pt lies inside the outer ring of p and outside
// every hole.
func (p Polygon) Contains(pt Point) bool {
	if len(p) == 0 || !p[0].Contains(pt) {
		return false
	}
	for _, hole := range p[1:] {
		if hole.Contains(pt) {
			return false
		}
	}
	return true
}

// Contains reports whether any polygon of m contains pt.
func (m MultiPolygon) Contains(pt Point) bool {
	for _, p := range m {
		if p.Contains(pt) {
			return true
		}
	}
	return false
}

// BBox returns the bounding box of r.
func (r Ring) BBox() BBox {
	b := EmptyBBox()
	for _, pt := range r {
		b = b.Extend(pt)
	}
	return b
}

// BBox returns the bounding box of p's outer ring.
func (p Polygon) BBox() BBox {
	if len(p) == 0 {
		return EmptyBBox()
	}
	return p[0].BBox()
}

// BBox returns the bounding box of every polygon of m.
func (m MultiPolygon) BBox() BBox {
	b := EmptyBBox()
	for _, p := range m {
		b = b.Union(p.BBox())
	}
	return b
}

// BBox returns the bounding box of l.
func (l LineString) BBox() BBox { return Ring(l).BBox() }

// Rect returns the closed rectangular polygon covering b, handy for grid cells.
func (b BBox) Rect() Polygon {
	return Polygon{Ring{
		{b.MinLat, b.MinLon}, {b.MinLat, b.MaxLon}, {b.MaxLat, b.MaxLon}, {b.MaxLat, b.MinLon}, {b.MinLat, b.MinLon},
	}}
}
