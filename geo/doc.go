// Package geo is govkit's shared spatial vocabulary: WGS-84 points, distances,
// boxes, polygons, GeoJSON, the Chinese map coordinate systems, and a spatial
// index for radius and nearest-neighbour queries.
//
// # Points and validation
//
// A Point holds latitude and longitude in WGS-84 degrees. Input from outside
// (a citizen's app, a sensor, an import) goes through NewPoint or
// Point.Validate, which reject NaN, infinities and out-of-range values with a
// *CoordinateError; errors.Is(err, ErrInvalidCoordinate) matches all of them.
// Beidou receivers report CGCS2000, which for governance purposes equals
// WGS-84 (the datums differ by centimetres).
//
// Maps from Chinese providers do not use WGS-84: AMap (Gaode), Tencent and
// Google China use GCJ-02 and Baidu uses BD-09. Convert between them with
// Convert before storing or comparing positions; govkit stores WGS-84.
//
// # Shapes
//
// Polygon is an outer ring followed by holes; MultiPolygon joins several, as
// a district with an exclave needs; LineString models pipes and roads.
// NewPolygon validates and closes rings. Contains uses the even-odd rule on
// longitude and latitude as plane coordinates, which is exact enough for
// boundaries spanning at most a few hundred kilometres.
//
// # GeoJSON
//
// MarshalGeometry, UnmarshalGeometry, Feature and FeatureCollection read and
// write RFC 7946 GeoJSON (positions in longitude, latitude order; rings written
// by the right-hand rule). Decoding is strict and bounded (DecodeOptions);
// every decoding problem is a *GeoJSONError naming the path of the offending
// member. Encoding validates first and reports a *GeometryError or
// *CoordinateError for a shape that cannot be written.
//
// # Spatial index
//
// Index answers "everything within 5 km" (Within, WithinFunc) and "the
// nearest that passes a test" (Nearest, NearestFunc) by great-circle
// distance over hundreds of thousands of points. It is an R-tree from
// github.com/tidwall/rtree with distances compared as squared chords of unit
// vectors, so that ordering is exact and costs no trigonometry.
package geo
