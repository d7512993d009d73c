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
		closed := make(Ring, len(r), len(r)+1)
		copy(closed, r)
		if len(closed) > 0 && closed[0] != closed[len(closed)-1] {
			closed = append(closed, closed[0])
		}
		if err := checkRing(closed); err != nil {
			err.Path = fmt.Sprintf("ring[%d]%s", i, err.Path)
			return nil, err
		}
		p[i] = closed
	}
	return p, nil
}

// checkRing validates r's positions, then its shape.
func checkRing(r Ring) *GeometryError {
	for i, pt := range r {
		if err := pt.Validate(); err != nil {
			return &GeometryError{Path: fmt.Sprintf(".point[%d]", i), Reason: "bad position", Err: err}
		}
	}
	if reason := ringProblem(r); reason != "" {
		return &GeometryError{Reason: reason}
	}
	return nil
}

// ringProblem describes why r is not a valid closed ring, or returns "". It
// allocates nothing, so that validating large boundaries stays cheap.
func ringProblem(r Ring) string {
	if len(r) < 4 {
		return fmt.Sprintf("ring has %d positions, needs at least 4 including the closing one", len(r))
	}
	if r[0] != r[len(r)-1] {
		return "ring is not closed: its first and last positions differ"
	}
	// At least three distinct positions: find two that differ from r[0]
	// and from each other.
	var second Point
	found := false
	for _, p := range r[1:] {
		switch {
		case p == r[0]:
		case !found:
			second, found = p, true
		case p != second:
			return ""
		}
	}
	return "ring has fewer than 3 distinct positions"
}

// Validate checks every polygon of m as Polygon.Validate does.
func (m MultiPolygon) Validate() error {
	if len(m) == 0 {
		return &GeometryError{Reason: "multipolygon has no polygons"}
	}
	for i, p := range m {
		if err := p.Validate(); err != nil {
			if ge, ok := err.(*GeometryError); ok {
				if ge.Path == "" {
					ge.Path = fmt.Sprintf("polygon[%d]", i)
				} else {
					ge.Path = fmt.Sprintf("polygon[%d].%s", i, ge.Path)
				}
			}
			return err
		}
	}
	return nil
}

// Validate checks that p has at least one ring and that every ring is closed
// (GeoJSON input must already be), has valid positions and at least three
// distinct ones.
func (p Polygon) Validate() error {
	if len(p) == 0 {
		return &GeometryError{Reason: "polygon has no rings"}
	}
	for i, r := range p {
		if err := checkRing(r); err != nil {
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
