package geo

// Geometry is one of Point, LineString, Polygon or MultiPolygon: the shapes
// govkit stores and exchanges as GeoJSON. The set is closed so that every
// consumer can handle every case.
type Geometry interface {
	// BBox returns the bounding box of the shape.
	BBox() BBox
	// Validate reports why the shape is unusable, or nil.
	Validate() error
	// GeoJSONType returns the RFC 7946 type name, such as "Polygon".
	GeoJSONType() string
}

// BBox returns the degenerate box holding only p.
func (p Point) BBox() BBox { return BBox{MinLat: p.Lat, MinLon: p.Lon, MaxLat: p.Lat, MaxLon: p.Lon} }

// GeoJSONType returns "Point".
func (Point) GeoJSONType() string { return "Point" }

// GeoJSONType returns "LineString".
func (LineString) GeoJSONType() string { return "LineString" }

// GeoJSONType returns "Polygon".
func (Polygon) GeoJSONType() string { return "Polygon" }

// GeoJSONType returns "MultiPolygon".
func (MultiPolygon) GeoJSONType() string { return "MultiPolygon" }

var (
	_ Geometry = Point{}
	_ Geometry = LineString(nil)
	_ Geometry = Polygon(nil)
	_ Geometry = MultiPolygon(nil)
)
