package geo

// GeoJSON (RFC 7946) encoding and decoding.
//
// Choices worth knowing:
//   - Positions are [longitude, latitude]. A third element (altitude) is
//     accepted and dropped, since Point has none; four or more elements are
//     rejected, as their meaning is unspecified (RFC 7946 §3.1.1).
//   - Only Point, LineString, Polygon and MultiPolygon are supported;
//     MultiPoint, MultiLineString and GeometryCollection are rejected.
//   - Decoding is strict: rings must be closed with at least four positions,
//     Features must have "geometry" and "properties" members, an "id" must
//     be a string or number, and any "bbox" must be well formed. Foreign
//     members are ignored. Ring winding is not checked (§3.1.6 asks parsers
//     not to reject either winding).
//   - Encoding validates first and writes rings by the right-hand rule that
//     §3.1.6 requires of producers (exterior counterclockwise, holes
//     clockwise), reversing a ring on output where needed. The value itself
//     is not modified, so decoding the output can give rings reversed
//     relative to the value that was encoded, never a different shape.
//   - A FeatureCollection is written with a "bbox" covering its features
//     (omitted when none has a geometry) so that a map client can frame it
//     without a scan; Features and geometries are written without one, and
//     a "bbox" read from input is validated but otherwise ignored.
//   - Decoding counts positions against DecodeOptions.MaxPositions
//     (DefaultMaxPositions unless set), so a hostile upload cannot make a
//     decoder allocate without bound.

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// DefaultMaxPositions is the number of positions a decode accepts unless
// DecodeOptions says otherwise: 10 million, which bounds the decoded
// coordinates at 160 MB (320 MB while the last slice grows). It is far above
// any boundary govkit handles (a detailed national outline has well under a
// million positions).
const DefaultMaxPositions = 10_000_000

// ErrTooManyPositions is matched by the *GeoJSONError returned when input
// holds more positions than the decode limit allows.
var ErrTooManyPositions = errors.New("geo: GeoJSON position limit exceeded")

// GeoJSONError reports why GeoJSON was rejected. Path locates the culprit in
// JSON terms, for example "features[3].geometry.coordinates[0][2]"; it is
// empty when the whole input is at fault. Err, if set, is the underlying
// cause: a *CoordinateError, a *GeometryError, ErrTooManyPositions or an
// encoding/json error.
//
// Decoding returns a *GeoJSONError for every failure. Encoding a Feature or
// FeatureCollection returns one too, to say which feature is at fault.
type GeoJSONError struct {
	Path   string
	Reason string
	Err    error
}

// Error describes the problem, prefixed by its path when there is one.
func (e *GeoJSONError) Error() string {
	msg := "geo: invalid GeoJSON"
	if e.Path != "" {
		msg += " at " + e.Path
	}
	msg += ": " + e.Reason
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap lets errors.Is match ErrInvalidGeoJSON and, through Err, the cause:
// ErrInvalidCoordinate for a bad position, ErrInvalidGeometry for a bad
// shape, ErrTooManyPositions for oversized input.
func (e *GeoJSONError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrInvalidGeoJSON, e.Err}
	}
	return []error{ErrInvalidGeoJSON}
}

// DecodeOptions tunes decoding. The zero value applies the defaults, which
// the package-level UnmarshalGeometry and the UnmarshalJSON methods use.
type DecodeOptions struct {
	// MaxPositions caps the positions decoded from one input, summed over
	// all features; zero or negative means DefaultMaxPositions. Each
	// position costs 16 bytes decoded. Memory for properties, and for the
	// copies of raw JSON the decoder keeps while it works, is proportional
	// to the input instead, so cap the input size as well (for example
	// with http.MaxBytesReader).
	MaxPositions int
}

// UnmarshalGeometry decodes a GeoJSON geometry object with o's limits.
func (o DecodeOptions) UnmarshalGeometry(data []byte) (Geometry, error) {
	return o.decoder().geometry(data, "")
}

// UnmarshalFeature decodes a GeoJSON Feature with o's limits.
func (o DecodeOptions) UnmarshalFeature(data []byte) (Feature, error) {
	return o.decoder().feature(data, "")
}

// UnmarshalFeatureCollection decodes a GeoJSON FeatureCollection with o's
// limits.
func (o DecodeOptions) UnmarshalFeatureCollection(data []byte) (FeatureCollection, error) {
	return o.decoder().collection(data)
}

func (o DecodeOptions) decoder() *gjDecoder {
	limit := o.MaxPositions
	if limit <= 0 {
		limit = DefaultMaxPositions
	}
	return &gjDecoder{limit: limit}
}

// UnmarshalGeometry decodes a GeoJSON (RFC 7946) Point, LineString, Polygon
// or MultiPolygon into the value of that type, reading positions as
// [longitude, latitude]. An optional third element (altitude) is accepted
// and dropped; four or more elements are rejected, as their meaning is
// unspecified. Decoding is strict: line strings need two positions, rings
// must be closed with at least four, every coordinate must be in range, and
// any "bbox" must be well formed (it is otherwise ignored, as are foreign
// members). Ring winding is not checked, as RFC 7946 §3.1.6 asks. At most
// DefaultMaxPositions positions are read. Every error is a *GeoJSONError.
func UnmarshalGeometry(data []byte) (Geometry, error) {
	return DecodeOptions{}.UnmarshalGeometry(data)
}

// MarshalGeometry encodes g as a GeoJSON geometry object, with positions as
// [longitude, latitude] in the shortest form that reads back to the same
// float64. It validates g first and returns g's validation error (a
// *CoordinateError or *GeometryError) rather than write invalid GeoJSON.
// Pointers to the four geometry types are accepted too.
func MarshalGeometry(g Geometry) ([]byte, error) {
	return gjAppendGeometry(nil, g)
}

// Feature is a GeoJSON Feature: a geometry with properties.
type Feature struct {
	// ID is the optional "id": nil (omitted), a string or a number. Decoding
	// gives a string or a json.Number, which keeps large integer IDs exact;
	// encoding also accepts Go integer and float types.
	ID any
	// Geometry is nil for a feature without a location ("geometry": null).
	Geometry Geometry
	// Properties holds the decoded "properties" object, with values as
	// encoding/json decodes them into any (numbers become float64). It is
	// nil for "properties": null and encodes as null when nil.
	Properties map[string]any
}

// MarshalJSON encodes f as a GeoJSON Feature. A geometry, ID or property
// that cannot be encoded gives a *GeoJSONError locating it.
func (f Feature) MarshalJSON() ([]byte, error) {
	return f.appendJSON(nil, "")
}

// UnmarshalJSON decodes a GeoJSON Feature with the default limits. Like
// encoding/json itself it treats a JSON null as a no-op.
func (f *Feature) UnmarshalJSON(data []byte) error {
	if gjIsNull(data) {
		return nil
	}
	v, err := DecodeOptions{}.UnmarshalFeature(data)
	if err != nil {
		return err
	}
	*f = v
	return nil
}

// FeatureCollection is a GeoJSON FeatureCollection.
type FeatureCollection struct {
	Features []Feature
}

// MarshalJSON encodes c as a GeoJSON FeatureCollection with a "bbox"
// ([west, south, east, north]) covering every feature's geometry, omitted
// when no feature has one.
func (c FeatureCollection) MarshalJSON() ([]byte, error) {
	box := EmptyBBox()
	for _, f := range c.Features {
		if g := gjDeref(f.Geometry); g != nil {
			box = box.Union(g.BBox())
		}
	}
	b := []byte(`{"type":"FeatureCollection"`)
	if !box.IsEmpty() {
		b = append(b, `,"bbox":[`...)
		b = gjAppendFloat(b, box.MinLon)
		b = append(b, ',')
		b = gjAppendFloat(b, box.MinLat)
		b = append(b, ',')
		b = gjAppendFloat(b, box.MaxLon)
		b = append(b, ',')
		b = gjAppendFloat(b, box.MaxLat)
		b = append(b, ']')
	}
	b = append(b, `,"features":[`...)
	for i, f := range c.Features {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = f.appendJSON(b, fmt.Sprintf("features[%d]", i)); err != nil {
			return nil, err
		}
	}
	return append(b, "]}"...), nil
}

// UnmarshalJSON decodes a GeoJSON FeatureCollection with the default
// limits. Like encoding/json itself it treats a JSON null as a no-op.
func (c *FeatureCollection) UnmarshalJSON(data []byte) error {
	if gjIsNull(data) {
		return nil
	}
	v, err := DecodeOptions{}.UnmarshalFeatureCollection(data)
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// ---- Encoding ----

// gjDeref returns g with a pointer to a geometry type replaced by the value
// it points to, or nil if g or the pointer is nil.
func gjDeref(g Geometry) Geometry {
	switch v := g.(type) {
	case *Point:
		if v != nil {
			return *v
		}
		return nil
	case *LineString:
		if v != nil {
			return *v
		}
		return nil
	case *Polygon:
		if v != nil {
			return *v
		}
		return nil
	case *MultiPolygon:
		if v != nil {
			return *v
		}
		return nil
	}
	return g
}

func gjAppendGeometry(b []byte, g Geometry) ([]byte, error) {
	g = gjDeref(g)
	if g == nil {
		return nil, &GeometryError{Reason: "nil geometry"}
	}
	if err := g.Validate(); err != nil {
		return nil, err
	}
	switch v := g.(type) {
	case Point:
		b = append(b, `{"type":"Point","coordinates":`...)
		b = gjAppendPosition(b, v)
	case LineString:
		b = append(b, `{"type":"LineString","coordinates":`...)
		b = gjAppendLine(b, v, false)
	case Polygon:
		b = append(b, `{"type":"Polygon","coordinates":`...)
		b = gjAppendPolygon(b, v)
	case MultiPolygon:
		b = append(b, `{"type":"MultiPolygon","coordinates":[`...)
		for i, p := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = gjAppendPolygon(b, p)
		}
		b = append(b, ']')
	default:
		return nil, &GeometryError{Reason: fmt.Sprintf("unsupported geometry type %T", g)}
	}
	return append(b, '}'), nil
}

func gjAppendPolygon(b []byte, p Polygon) []byte {
	b = append(b, '[')
	for i, r := range p {
		if i > 0 {
			b = append(b, ',')
		}
		// Right-hand rule: exterior counterclockwise (positive area), holes
		// clockwise. A zero-area ring is written as given.
		a := gjSignedArea(r)
		reverse := (i == 0 && a < 0) || (i > 0 && a > 0)
		b = gjAppendLine(b, LineString(r), reverse)
	}
	return append(b, ']')
}

// gjSignedArea returns twice the signed area of r in the lon/lat plane:
// positive when r runs counterclockwise. Coordinates are taken relative to
// the first position to limit cancellation.
func gjSignedArea(r Ring) float64 {
	if len(r) < 3 {
		return 0
	}
	x0, y0 := r[0].Lon, r[0].Lat
	var sum float64
	for i := 1; i+1 < len(r); i++ {
		x1, y1 := r[i].Lon-x0, r[i].Lat-y0
		x2, y2 := r[i+1].Lon-x0, r[i+1].Lat-y0
		sum += x1*y2 - x2*y1
	}
	return sum
}

func gjAppendLine(b []byte, l LineString, reverse bool) []byte {
	b = append(b, '[')
	for i := range l {
		if i > 0 {
			b = append(b, ',')
		}
		j := i
		if reverse {
			j = len(l) - 1 - i
		}
		b = gjAppendPosition(b, l[j])
	}
	return append(b, ']')
}

func gjAppendPosition(b []byte, p Point) []byte {
	b = append(b, '[')
	b = gjAppendFloat(b, p.Lon)
	b = append(b, ',')
	b = gjAppendFloat(b, p.Lat)
	return append(b, ']')
}

// gjAppendFloat writes f in the shortest form that parses back to f,
// switching to an exponent for tiny values as encoding/json does, so that
// 1e-300 does not become three hundred zeros.
func gjAppendFloat(b []byte, f float64) []byte {
	if abs := math.Abs(f); abs != 0 && abs < 1e-6 {
		b = strconv.AppendFloat(b, f, 'e', -1, 64)
		// Tidy "e-07" to "e-7".
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
		return b
	}
	return strconv.AppendFloat(b, f, 'f', -1, 64)
}

func (f Feature) appendJSON(b []byte, path string) ([]byte, error) {
	b = append(b, `{"type":"Feature"`...)
	if f.ID != nil {
		id, err := gjEncodeID(f.ID)
		if err != nil {
			return nil, &GeoJSONError{Path: gjJoin(path, "id"), Reason: "cannot encode id", Err: err}
		}
		b = append(b, `,"id":`...)
		b = append(b, id...)
	}
	b = append(b, `,"geometry":`...)
	if f.Geometry == nil {
		b = append(b, "null"...)
	} else {
		var err error
		if b, err = gjAppendGeometry(b, f.Geometry); err != nil {
			return nil, &GeoJSONError{Path: gjJoin(path, "geometry"), Reason: "bad geometry", Err: err}
		}
	}
	props, err := json.Marshal(f.Properties)
	if err != nil {
		return nil, &GeoJSONError{Path: gjJoin(path, "properties"), Reason: "cannot encode properties", Err: err}
	}
	b = append(b, `,"properties":`...)
	b = append(b, props...)
	return append(b, '}'), nil
}

// gjEncodeID encodes a Feature ID, which RFC 7946 §3.2 limits to a string
// or a number.
func gjEncodeID(id any) ([]byte, error) {
	switch v := id.(type) {
	case string, json.Number, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64:
		// json.Marshal rejects malformed json.Number text and NaN or
		// infinite floats.
		return json.Marshal(v)
	}
	return nil, fmt.Errorf("id must be a string or a number, not %T", id)
}

// ---- Decoding ----

// gjDecoder decodes one input, counting positions against limit.
type gjDecoder struct {
	limit int
	count int
}

// gjJoin appends member name to a JSON path.
func gjJoin(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func gjIsNull(raw []byte) bool {
	return strings.TrimSpace(string(raw)) == "null"
}

// gjFirst returns the first byte of a JSON value, skipping whitespace.
func gjFirst(raw []byte) byte {
	for _, c := range raw {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return c
	}
	return 0
}

// gjObject decodes raw as a JSON object into its members, matched by exact
// name (encoding/json would match struct fields case-insensitively, making
// "Type" mean "type"). what names the expected object in errors.
func gjObject(raw []byte, path, what string) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, &GeoJSONError{Path: path, Reason: "not valid JSON", Err: err}
		}
		return nil, &GeoJSONError{Path: path, Reason: what + " must be a JSON object"}
	}
	if m == nil {
		return nil, &GeoJSONError{Path: path, Reason: what + " must be a JSON object, not null"}
	}
	return m, nil
}

// gjType returns the object's "type" member.
func gjType(m map[string]json.RawMessage, path string) (string, error) {
	raw, ok := m["type"]
	if !ok {
		return "", &GeoJSONError{Path: gjJoin(path, "type"), Reason: `missing "type" member`}
	}
	var s string
	if gjFirst(raw) != '"' || json.Unmarshal(raw, &s) != nil {
		return "", &GeoJSONError{Path: gjJoin(path, "type"), Reason: "type must be a string"}
	}
	return s, nil
}

func (d *gjDecoder) geometry(raw []byte, path string) (Geometry, error) {
	m, err := gjObject(raw, path, "geometry")
	if err != nil {
		return nil, err
	}
	typ, err := gjType(m, path)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "Point", "LineString", "Polygon", "MultiPolygon":
	case "MultiPoint", "MultiLineString", "GeometryCollection":
		return nil, &GeoJSONError{Path: gjJoin(path, "type"), Reason: fmt.Sprintf("unsupported geometry type %q", typ)}
	default:
		return nil, &GeoJSONError{Path: gjJoin(path, "type"), Reason: fmt.Sprintf("unknown geometry type %q", typ)}
	}
	coords, ok := m["coordinates"]
	if !ok {
		return nil, &GeoJSONError{Path: gjJoin(path, "coordinates"), Reason: `missing "coordinates" member`}
	}
	s := gjScanner{d: d, buf: coords, prefix: gjJoin(path, "coordinates")}
	var g Geometry
	switch typ {
	case "Point":
		g, err = s.position()
	case "LineString":
		g, err = s.lineString()
	case "Polygon":
		g, err = s.polygon()
	default:
		g, err = s.multiPolygon()
	}
	if err != nil {
		return nil, err
	}
	if err := checkBBoxMember(m, path); err != nil {
		return nil, err
	}
	return g, nil
}

func (d *gjDecoder) feature(raw []byte, path string) (Feature, error) {
	m, err := gjObject(raw, path, "feature")
	if err != nil {
		return Feature{}, err
	}
	typ, err := gjType(m, path)
	if err != nil {
		return Feature{}, err
	}
	if typ != "Feature" {
		return Feature{}, &GeoJSONError{Path: gjJoin(path, "type"), Reason: fmt.Sprintf(`type is %q, want "Feature"`, typ)}
	}
	var f Feature
	if raw, ok := m["id"]; ok {
		if f.ID, err = gjDecodeID(raw, gjJoin(path, "id")); err != nil {
			return Feature{}, err
		}
	}
	graw, ok := m["geometry"]
	if !ok {
		return Feature{}, &GeoJSONError{Path: gjJoin(path, "geometry"), Reason: `missing "geometry" member (use null for none)`}
	}
	if !gjIsNull(graw) {
		if f.Geometry, err = d.geometry(graw, gjJoin(path, "geometry")); err != nil {
			return Feature{}, err
		}
	}
	praw, ok := m["properties"]
	if !ok {
		return Feature{}, &GeoJSONError{Path: gjJoin(path, "properties"), Reason: `missing "properties" member (use null for none)`}
	}
	if !gjIsNull(praw) {
		if gjFirst(praw) != '{' {
			return Feature{}, &GeoJSONError{Path: gjJoin(path, "properties"), Reason: "properties must be an object or null"}
		}
		if err := json.Unmarshal(praw, &f.Properties); err != nil {
			// For example a number too large for float64.
			return Feature{}, &GeoJSONError{Path: gjJoin(path, "properties"), Reason: "cannot decode properties", Err: err}
		}
	}
	if err := checkBBoxMember(m, path); err != nil {
		return Feature{}, err
	}
	return f, nil
}

// gjDecodeID decodes a Feature "id": a string, or a number kept as its exact
// text in a json.Number.
func gjDecodeID(raw []byte, path string) (any, error) {
	switch c := gjFirst(raw); {
	case c == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, &GeoJSONError{Path: path, Reason: "id must be a string or a number", Err: err}
		}
		return s, nil
	case c == '-' || (c >= '0' && c <= '9'):
		return json.Number(strings.TrimSpace(string(raw))), nil
	}
	return nil, &GeoJSONError{Path: path, Reason: "id must be a string or a number"}
}

func (d *gjDecoder) collection(raw []byte) (FeatureCollection, error) {
	m, err := gjObject(raw, "", "feature collection")
	if err != nil {
		return FeatureCollection{}, err
	}
	typ, err := gjType(m, "")
	if err != nil {
		return FeatureCollection{}, err
	}
	if typ != "FeatureCollection" {
		return FeatureCollection{}, &GeoJSONError{Path: "type", Reason: fmt.Sprintf(`type is %q, want "FeatureCollection"`, typ)}
	}
	fraw, ok := m["features"]
	if !ok {
		return FeatureCollection{}, &GeoJSONError{Path: "features", Reason: `missing "features" member`}
	}
	var items []json.RawMessage
	if gjFirst(fraw) != '[' || json.Unmarshal(fraw, &items) != nil {
		return FeatureCollection{}, &GeoJSONError{Path: "features", Reason: "features must be an array"}
	}
	delete(m, "features") // let the raw copy go as soon as it is split
	c := FeatureCollection{Features: make([]Feature, 0, len(items))}
	for i, item := range items {
		f, err := d.feature(item, fmt.Sprintf("features[%d]", i))
		if err != nil {
			return FeatureCollection{}, err
		}
		c.Features = append(c.Features, f)
		items[i] = nil
	}
	if err := checkBBoxMember(m, ""); err != nil {
		return FeatureCollection{}, err
	}
	return c, nil
}

// checkBBoxMember validates an object's optional "bbox": 4 numbers (or 6,
// with altitudes) giving valid corners, south not north of north. West may
// exceed east: RFC 7946 §5.2 uses that for boxes crossing the antimeridian.
func checkBBoxMember(m map[string]json.RawMessage, path string) error {
	raw, ok := m["bbox"]
	if !ok {
		return nil
	}
	s := gjScanner{buf: raw, prefix: gjJoin(path, "bbox")}
	var v [6]float64
	n := 0
	if err := s.open("bbox must be an array of numbers"); err != nil {
		return err
	}
	for {
		more, err := s.next(n)
		if err != nil {
			return err
		}
		if !more {
			break
		}
		if n == len(v) {
			return s.fail(0, "bbox has more than 6 elements", nil)
		}
		if v[n], err = s.number("bbox element is not a number"); err != nil {
			return err
		}
		n++
	}
	var sw, ne Point
	switch n {
	case 4:
		sw, ne = Point{Lat: v[1], Lon: v[0]}, Point{Lat: v[3], Lon: v[2]}
	case 6:
		sw, ne = Point{Lat: v[1], Lon: v[0]}, Point{Lat: v[4], Lon: v[3]}
	default:
		return s.fail(0, fmt.Sprintf("bbox has %d elements, want 4 (or 6 with altitudes)", n), nil)
	}
	for _, p := range [...]Point{sw, ne} {
		if err := p.Validate(); err != nil {
			return s.fail(0, "bad bbox corner", err)
		}
	}
	if sw.Lat > ne.Lat {
		return s.fail(0, "bbox south edge is north of its north edge", nil)
	}
	return nil
}

// gjScanner reads the nested arrays of a "coordinates" (or "bbox") member.
// encoding/json has already checked that the bytes are valid JSON; the
// scanner checks the shape and builds the path of a culprit only on error.
type gjScanner struct {
	d      *gjDecoder // nil when positions are not counted
	buf    []byte
	i      int
	prefix string
	idx    [4]int // element index at each open array level
	depth  int    // open array levels
}

// path returns the path of the element at the given depth: prefix followed
// by the first levels indices.
func (s *gjScanner) path(levels int) string {
	var b strings.Builder
	b.WriteString(s.prefix)
	for k := range levels {
		b.WriteByte('[')
		b.WriteString(strconv.Itoa(s.idx[k]))
		b.WriteByte(']')
	}
	return b.String()
}

func (s *gjScanner) fail(levels int, reason string, err error) error {
	return &GeoJSONError{Path: s.path(levels), Reason: reason, Err: err}
}

func (s *gjScanner) skipSpace() {
	for s.i < len(s.buf) {
		switch s.buf[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// open consumes the '[' starting an array at the current level, or fails
// with reason, blaming the current element.
func (s *gjScanner) open(reason string) error {
	s.skipSpace()
	if s.i >= len(s.buf) || s.buf[s.i] != '[' || s.depth == len(s.idx) {
		return s.fail(s.depth, reason, nil)
	}
	s.i++
	s.depth++
	return nil
}

// next moves to element n of the innermost open array and reports whether
// there is one; at the closing ']' it closes the array.
func (s *gjScanner) next(n int) (bool, error) {
	s.skipSpace()
	if s.i < len(s.buf) && s.buf[s.i] == ']' {
		s.i++
		s.depth--
		return false, nil
	}
	if n > 0 {
		if s.i >= len(s.buf) || s.buf[s.i] != ',' {
			return false, s.fail(s.depth-1, "malformed array", nil)
		}
		s.i++
	}
	s.idx[s.depth-1] = n
	return true, nil
}

// number reads a JSON number at the current element.
func (s *gjScanner) number(reason string) (float64, error) {
	s.skipSpace()
	start := s.i
	for s.i < len(s.buf) {
		c := s.buf[s.i]
		if (c < '0' || c > '9') && c != '-' && c != '+' && c != '.' && c != 'e' && c != 'E' {
			break
		}
		s.i++
	}
	if start == s.i {
		return 0, s.fail(s.depth, reason, nil)
	}
	f, err := strconv.ParseFloat(string(s.buf[start:s.i]), 64)
	// Out of range parses to ±Inf, which Validate then rejects as a bad
	// coordinate rather than as bad syntax.
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, s.fail(s.depth, reason, nil)
	}
	return f, nil
}

// position reads one [lon, lat] or [lon, lat, alt] position.
func (s *gjScanner) position() (Point, error) {
	level := s.depth
	if err := s.open("position must be an array of numbers"); err != nil {
		return Point{}, err
	}
	if s.d != nil {
		// Count before decoding so that the limit holds even if the caller
		// keeps going.
		if s.d.count++; s.d.count > s.d.limit {
			return Point{}, s.fail(level, fmt.Sprintf("more than %d positions", s.d.limit), ErrTooManyPositions)
		}
	}
	var v [2]float64
	n := 0
	for {
		more, err := s.next(n)
		if err != nil {
			return Point{}, err
		}
		if !more {
			break
		}
		if n == 3 {
			return Point{}, s.fail(level, "position has more than 3 elements (longitude, latitude, altitude)", nil)
		}
		f, err := s.number("position element is not a number")
		if err != nil {
			return Point{}, err
		}
		if n < 2 {
			v[n] = f
		}
		n++
	}
	if n < 2 {
		return Point{}, s.fail(level, fmt.Sprintf("position has %d element(s), needs longitude and latitude", n), nil)
	}
	p := Point{Lat: v[1], Lon: v[0]}
	if err := p.Validate(); err != nil {
		return Point{}, s.fail(level, "bad position", err)
	}
	return p, nil
}

// positions reads an array of positions.
func (s *gjScanner) positions() ([]Point, error) {
	if err := s.open("expected an array of positions"); err != nil {
		return nil, err
	}
	var pts []Point
	for n := 0; ; n++ {
		more, err := s.next(n)
		if err != nil {
			return nil, err
		}
		if !more {
			return pts, nil
		}
		p, err := s.position()
		if err != nil {
			return nil, err
		}
		pts = append(pts, p)
	}
}

func (s *gjScanner) lineString() (LineString, error) {
	level := s.depth
	pts, err := s.positions()
	if err != nil {
		return nil, err
	}
	if len(pts) < 2 {
		return nil, s.fail(level, "bad line string",
			&GeometryError{Reason: fmt.Sprintf("line has %d positions, needs at least 2", len(pts))})
	}
	return LineString(pts), nil
}

// ring reads a linear ring and checks it as Polygon.Validate would, but
// without allocating: rings can hold millions of positions.
func (s *gjScanner) ring() (Ring, error) {
	level := s.depth
	pts, err := s.positions()
	if err != nil {
		return nil, err
	}
	r := Ring(pts)
	if reason := ringProblem(r); reason != "" {
		return nil, s.fail(level, "bad ring", &GeometryError{Reason: reason})
	}
	return r, nil
}

func (s *gjScanner) polygon() (Polygon, error) {
	level := s.depth
	if err := s.open("expected an array of rings"); err != nil {
		return nil, err
	}
	var p Polygon
	for n := 0; ; n++ {
		more, err := s.next(n)
		if err != nil {
			return nil, err
		}
		if !more {
			break
		}
		r, err := s.ring()
		if err != nil {
			return nil, err
		}
		p = append(p, r)
	}
	if len(p) == 0 {
		return nil, s.fail(level, "bad polygon", &GeometryError{Reason: "polygon has no rings"})
	}
	return p, nil
}

func (s *gjScanner) multiPolygon() (MultiPolygon, error) {
	if err := s.open("expected an array of polygons"); err != nil {
		return nil, err
	}
	var m MultiPolygon
	for n := 0; ; n++ {
		more, err := s.next(n)
		if err != nil {
			return nil, err
		}
		if !more {
			break
		}
		p, err := s.polygon()
		if err != nil {
			return nil, err
		}
		m = append(m, p)
	}
	if len(m) == 0 {
		return nil, s.fail(0, "bad multipolygon", &GeometryError{Reason: "multipolygon has no polygons"})
	}
	return m, nil
}
