package geo

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Examples from RFC 7946 Appendix A, verbatim apart from indentation.
const (
	rfcPoint      = `{"type": "Point", "coordinates": [100.0, 0.0]}`
	rfcLineString = `{"type": "LineString", "coordinates": [[100.0, 0.0], [101.0, 1.0]]}`
	rfcPolygon    = `{"type": "Polygon", "coordinates": [
		[[100.0, 0.0], [101.0, 0.0], [101.0, 1.0], [100.0, 1.0], [100.0, 0.0]]]}`
	rfcPolygonWithHole = `{"type": "Polygon", "coordinates": [
		[[100.0, 0.0], [101.0, 0.0], [101.0, 1.0], [100.0, 1.0], [100.0, 0.0]],
		[[100.8, 0.8], [100.8, 0.2], [100.2, 0.2], [100.2, 0.8], [100.8, 0.8]]]}`
	rfcMultiPolygon = `{"type": "MultiPolygon", "coordinates": [
		[[[102.0, 2.0], [103.0, 2.0], [103.0, 3.0], [102.0, 3.0], [102.0, 2.0]]],
		[[[100.0, 0.0], [101.0, 0.0], [101.0, 1.0], [100.0, 1.0], [100.0, 0.0]],
		 [[100.2, 0.2], [100.2, 0.8], [100.8, 0.8], [100.8, 0.2], [100.2, 0.2]]]]}`
	// RFC 7946 §1.5.
	rfcFeatureCollection = `{
		"type": "FeatureCollection",
		"features": [{
			"type": "Feature",
			"geometry": {"type": "Point", "coordinates": [102.0, 0.5]},
			"properties": {"prop0": "value0"}
		}, {
			"type": "Feature",
			"geometry": {"type": "LineString", "coordinates": [[102.0, 0.0], [103.0, 1.0], [104.0, 0.0], [105.0, 1.0]]},
			"properties": {"prop0": "value0", "prop1": 0.0}
		}, {
			"type": "Feature",
			"geometry": {"type": "Polygon", "coordinates": [
				[[100.0, 0.0], [101.0, 0.0], [101.0, 1.0], [100.0, 1.0], [100.0, 0.0]]]},
			"properties": {"prop0": "value0", "prop1": {"this": "that"}}
		}]
	}`
)

// gjRFCSquare is the RFC's unit square at 100°E as a ring (lat, lon order).
var gjRFCSquare = Ring{{0, 100}, {0, 101}, {1, 101}, {1, 100}, {0, 100}}

func TestGeoJSONRFCExamples(t *testing.T) {
	cases := []struct {
		name string
		json string
		want Geometry
	}{
		{"A.1 Point", rfcPoint, Point{Lat: 0, Lon: 100}},
		{"A.2 LineString", rfcLineString, LineString{{0, 100}, {1, 101}}},
		{"A.3 Polygon", rfcPolygon, Polygon{gjRFCSquare}},
		{"A.3 Polygon with hole", rfcPolygonWithHole, Polygon{
			gjRFCSquare,
			{{0.8, 100.8}, {0.2, 100.8}, {0.2, 100.2}, {0.8, 100.2}, {0.8, 100.8}},
		}},
		{"A.6 MultiPolygon", rfcMultiPolygon, MultiPolygon{
			{{{2, 102}, {2, 103}, {3, 103}, {3, 102}, {2, 102}}},
			{gjRFCSquare, {{0.2, 100.2}, {0.8, 100.2}, {0.8, 100.8}, {0.2, 100.8}, {0.2, 100.2}}},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g, err := UnmarshalGeometry([]byte(c.json))
			require.NoError(t, err)
			assert.Equal(t, c.want, g)
			require.NoError(t, g.Validate())

			// The RFC's examples follow the right-hand rule, so they are
			// written back unchanged (numbers in shortest form).
			out, err := MarshalGeometry(c.want)
			require.NoError(t, err)
			assert.JSONEq(t, c.json, string(out))
		})
	}
}

func TestGeoJSONHoleContainment(t *testing.T) {
	g, err := UnmarshalGeometry([]byte(rfcPolygonWithHole))
	require.NoError(t, err)
	p := g.(Polygon)
	assert.True(t, p.Contains(Point{0.1, 100.1}), "between the outer ring and the hole")
	assert.False(t, p.Contains(Point{0.5, 100.5}), "in the hole")
	assert.Equal(t, BBox{0, 100, 1, 101}, p.BBox())
}

func TestMarshalGeometryExactOutput(t *testing.T) {
	out, err := MarshalGeometry(Point{Lat: 29.5630, Lon: 106.5516})
	require.NoError(t, err)
	assert.Equal(t, `{"type":"Point","coordinates":[106.5516,29.563]}`, string(out), "lon first, shortest numbers")

	tenth, fifth := 0.1, 0.2 // variables, so that the sum is rounded as float64
	out, err = MarshalGeometry(LineString{{tenth + fifth, -0.0000001}, {-90, 180}})
	require.NoError(t, err)
	assert.Equal(t, `{"type":"LineString","coordinates":[[-1e-7,0.30000000000000004],[180,-90]]}`, string(out))
}

func TestGeoJSONRoundTripsFloat64Exactly(t *testing.T) {
	tenth, fifth, one := 0.1, 0.2, 1.0
	tricky := []float64{0, 1e-7, -1e-7, 5e-324, tenth + fifth, one / 3, math.Nextafter(90, 0), math.Nextafter(180, 0), -180, 123.456789012345678}
	var line LineString
	for _, f := range tricky {
		line = append(line, Point{Lat: math.Mod(f, 90), Lon: f})
	}
	cases := []Geometry{
		Point{Lat: -33.8688, Lon: 151.2093},
		line,
		BBox{MinLat: 29.1, MinLon: 106.2, MaxLat: 29.9, MaxLon: 106.9}.Rect(),
		MultiPolygon{BBox{0, 0, 1, 1}.Rect(), {gjRFCSquare, {{0.2, 100.2}, {0.8, 100.2}, {0.8, 100.8}, {0.2, 100.8}, {0.2, 100.2}}}},
	}
	for _, g := range cases {
		out, err := MarshalGeometry(g)
		require.NoError(t, err)
		require.True(t, json.Valid(out), string(out))
		back, err := UnmarshalGeometry(out)
		require.NoError(t, err, string(out))
		assert.Equal(t, g, back)
	}
}

func TestMarshalGeometryAcceptsPointers(t *testing.T) {
	p := Polygon{gjRFCSquare}
	want, err := MarshalGeometry(p)
	require.NoError(t, err)
	got, err := MarshalGeometry(&p)
	require.NoError(t, err)
	assert.Equal(t, want, got)
	pt := Point{1, 2}
	_, err = MarshalGeometry(&pt)
	assert.NoError(t, err)
}

func TestMarshalGeometryValidatesFirst(t *testing.T) {
	_, err := MarshalGeometry(nil)
	assert.ErrorIs(t, err, ErrInvalidGeometry)
	_, err = MarshalGeometry((*Polygon)(nil))
	assert.ErrorIs(t, err, ErrInvalidGeometry)
	_, err = MarshalGeometry(Point{Lat: math.NaN()})
	assert.ErrorIs(t, err, ErrInvalidCoordinate)
	_, err = MarshalGeometry(Polygon{gjRFCSquare[:4]})
	assert.ErrorIs(t, err, ErrInvalidGeometry, "open ring")
	_, err = MarshalGeometry(LineString{{1, 1}})
	assert.ErrorIs(t, err, ErrInvalidGeometry)
	_, err = MarshalGeometry(MultiPolygon{})
	assert.ErrorIs(t, err, ErrInvalidGeometry)
}

// RFC 7946 §3.1.6: producers must wind exterior rings counterclockwise and
// holes clockwise; parsers must not reject the other winding.
func TestGeoJSONWinding(t *testing.T) {
	cw := slices.Clone(gjRFCSquare)
	slices.Reverse(cw)
	ccwHole := Ring{{0.2, 100.2}, {0.2, 100.8}, {0.8, 100.8}, {0.8, 100.2}, {0.2, 100.2}}
	p := Polygon{cw, ccwHole}
	require.Greater(t, gjSignedArea(p[1]), 0.0)

	out, err := MarshalGeometry(p)
	require.NoError(t, err)
	back, err := UnmarshalGeometry(out)
	require.NoError(t, err)
	bp := back.(Polygon)
	assert.Greater(t, gjSignedArea(bp[0]), 0.0, "exterior written counterclockwise")
	assert.Less(t, gjSignedArea(bp[1]), 0.0, "hole written clockwise")
	assert.True(t, gjSameShape(p, bp))
	assert.Equal(t, cw, p[0], "the value itself is not modified")

	// Decoding keeps the winding it is given.
	in := `{"type":"Polygon","coordinates":[[[100,0],[100,1],[101,1],[101,0],[100,0]]]}`
	g, err := UnmarshalGeometry([]byte(in))
	require.NoError(t, err)
	assert.Less(t, gjSignedArea(g.(Polygon)[0]), 0.0)
}

func TestGeoJSONAltitudeIsAcceptedAndDropped(t *testing.T) {
	g, err := UnmarshalGeometry([]byte(`{"type":"LineString","coordinates":[[106.5,29.5,210.5],[106.6,29.6,-3]],"bbox":[106.5,29.5,-3,106.6,29.6,210.5]}`))
	require.NoError(t, err)
	assert.Equal(t, LineString{{29.5, 106.5}, {29.6, 106.6}}, g)
	out, err := MarshalGeometry(g)
	require.NoError(t, err)
	assert.Equal(t, `{"type":"LineString","coordinates":[[106.5,29.5],[106.6,29.6]]}`, string(out))
}

func TestGeoJSONIgnoresForeignMembersAndWhitespace(t *testing.T) {
	g, err := UnmarshalGeometry([]byte(" \n{\"title\": \"x\", \"coordinates\" : [ 1 , 2 ] ,\t\"type\":\"Point\", \"crs\": {\"a\": [1]}}\r\n"))
	require.NoError(t, err)
	assert.Equal(t, Point{Lat: 2, Lon: 1}, g)
}

// gjErrCase is one input that must be rejected, with where and why.
type gjErrCase struct {
	name  string
	json  string
	path  string
	coord bool   // must also match ErrInvalidCoordinate
	geom  bool   // must also match ErrInvalidGeometry
	text  string // must appear in the message
}

func checkGeoJSONError(t *testing.T, c gjErrCase, err error) {
	t.Helper()
	require.Error(t, err)
	var ge *GeoJSONError
	require.True(t, errors.As(err, &ge), "want *GeoJSONError, got %T: %v", err, err)
	assert.ErrorIs(t, err, ErrInvalidGeoJSON)
	assert.Equal(t, c.path, ge.Path, "%v", err)
	assert.Equal(t, c.coord, errors.Is(err, ErrInvalidCoordinate), "ErrInvalidCoordinate: %v", err)
	assert.Equal(t, c.geom, errors.Is(err, ErrInvalidGeometry), "ErrInvalidGeometry: %v", err)
	assert.Contains(t, err.Error(), c.text)
	if c.path != "" {
		assert.Contains(t, err.Error(), " at "+c.path+": ")
	}
}

func TestUnmarshalGeometryErrors(t *testing.T) {
	const sq = `[[100,0],[101,0],[101,1],[100,1],[100,0]]`
	cases := []gjErrCase{
		{"empty input", ``, "", false, false, "not valid JSON"},
		{"not JSON", `{"type":"Point",`, "", false, false, "not valid JSON"},
		{"trailing garbage", `{"type":"Point","coordinates":[1,2]} x`, "", false, false, "not valid JSON"},
		{"array", `[1,2]`, "", false, false, "must be a JSON object"},
		{"null", `null`, "", false, false, "not null"},
		{"missing type", `{"coordinates":[1,2]}`, "type", false, false, `missing "type"`},
		{"type is case-sensitive", `{"Type":"Point","coordinates":[1,2]}`, "type", false, false, `missing "type"`},
		{"type not a string", `{"type":1,"coordinates":[1,2]}`, "type", false, false, "must be a string"},
		{"unknown type", `{"type":"point","coordinates":[1,2]}`, "type", false, false, `unknown geometry type "point"`},
		{"unsupported type", `{"type":"MultiPoint","coordinates":[[1,2]]}`, "type", false, false, "unsupported"},
		{"feature is not a geometry", `{"type":"Feature","geometry":null,"properties":null}`, "type", false, false, `"Feature"`},
		{"missing coordinates", `{"type":"Point"}`, "coordinates", false, false, `missing "coordinates"`},
		{"coordinates null", `{"type":"Point","coordinates":null}`, "coordinates", false, false, "array of numbers"},
		{"position of one number", `{"type":"Point","coordinates":[1]}`, "coordinates", false, false, "1 element(s)"},
		{"empty position", `{"type":"LineString","coordinates":[[1,2],[]]}`, "coordinates[1]", false, false, "0 element(s)"},
		{"position with a string", `{"type":"Point","coordinates":[1,"2"]}`, "coordinates[1]", false, false, "not a number"},
		{"position with null altitude", `{"type":"Point","coordinates":[1,2,null]}`, "coordinates[2]", false, false, "not a number"},
		{"position of four numbers", `{"type":"Point","coordinates":[1,2,3,4]}`, "coordinates", false, false, "more than 3"},
		{"latitude out of range", `{"type":"Point","coordinates":[10,91]}`, "coordinates", true, false, "latitude outside"},
		{"longitude out of range", `{"type":"Polygon","coordinates":[[[100,0],[101,0],[181,1],[100,1],[100,0]]]}`, "coordinates[0][2]", true, false, "longitude outside"},
		{"number overflows float64", `{"type":"Point","coordinates":[1e400,0]}`, "coordinates", true, false, "infinite"},
		{"line of one position", `{"type":"LineString","coordinates":[[1,2]]}`, "coordinates", false, true, "needs at least 2"},
		{"line of numbers", `{"type":"LineString","coordinates":[1,2]}`, "coordinates[0]", false, false, "position must be an array"},
		{"line not an array", `{"type":"LineString","coordinates":{}}`, "coordinates", false, false, "array of positions"},
		{"ring not closed", `{"type":"Polygon","coordinates":[[[100,0],[101,0],[101,1],[100,1]]]}`, "coordinates[0]", false, true, "not closed"},
		{"hole of three positions", `{"type":"Polygon","coordinates":[` + sq + `,[[100.2,0.2],[100.8,0.2],[100.2,0.2]]]}`, "coordinates[1]", false, true, "needs at least 4"},
		{"ring of two distinct positions", `{"type":"Polygon","coordinates":[[[1,1],[2,2],[1,1],[2,2],[1,1]]]}`, "coordinates[0]", false, true, "fewer than 3 distinct"},
		{"polygon with no rings", `{"type":"Polygon","coordinates":[]}`, "coordinates", false, true, "no rings"},
		{"polygon with empty ring", `{"type":"Polygon","coordinates":[[]]}`, "coordinates[0]", false, true, "0 positions"},
		{"multipolygon with none", `{"type":"MultiPolygon","coordinates":[]}`, "coordinates", false, true, "no polygons"},
		{"multipolygon given polygon coordinates", `{"type":"MultiPolygon","coordinates":[` + sq + `]}`, "coordinates[0][0][0]", false, false, "position must be an array"},
		{"multipolygon deep culprit", `{"type":"MultiPolygon","coordinates":[[` + sq + `],[` + sq + `,[[1,1],[2,2],[3,true],[1,1]]]]}`, "coordinates[1][1][2][1]", false, false, "not a number"},
		{"multipolygon deep bad latitude", `{"type":"MultiPolygon","coordinates":[[` + sq + `],[` + sq + `,[[1,1],[2,2],[3,-90.5],[1,1]]]]}`, "coordinates[1][1][2]", true, false, "latitude"},
		{"bbox too short", `{"type":"Point","coordinates":[1,2],"bbox":[1,2,3]}`, "bbox", false, false, "3 elements"},
		{"bbox not an array", `{"type":"Point","coordinates":[1,2],"bbox":null}`, "bbox", false, false, "array of numbers"},
		{"bbox with a string", `{"type":"Point","coordinates":[1,2],"bbox":[0,0,"1",1]}`, "bbox[2]", false, false, "not a number"},
		{"bbox out of range", `{"type":"Point","coordinates":[1,2],"bbox":[0,-95,1,1]}`, "bbox", true, false, "corner"},
		{"bbox upside down", `{"type":"Point","coordinates":[1,2],"bbox":[0,3,1,1]}`, "bbox", false, false, "south"},
		{"bbox too long", `{"type":"Point","coordinates":[1,2],"bbox":[0,0,0,1,1,1,1]}`, "bbox", false, false, "more than 6"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g, err := UnmarshalGeometry([]byte(c.json))
			assert.Nil(t, g)
			checkGeoJSONError(t, c, err)
		})
	}
}

func TestGeoJSONBBoxAcrossAntimeridianIsAccepted(t *testing.T) {
	// RFC 7946 §5.2: west > east means the box crosses 180°.
	_, err := UnmarshalGeometry([]byte(`{"type":"Point","coordinates":[179,0],"bbox":[177,-1,-178,1]}`))
	assert.NoError(t, err)
}

func TestGeoJSONErrorMessage(t *testing.T) {
	_, err := UnmarshalGeometry([]byte(`{"type":"Polygon","coordinates":[[[100,0],[101,0],[101,91],[100,1],[100,0]]]}`))
	assert.EqualError(t, err, "geo: invalid GeoJSON at coordinates[0][2]: bad position: geo: invalid coordinate (lat 91, lon 101): latitude outside [-90, 90]")
	var ce *CoordinateError
	require.True(t, errors.As(err, &ce))
	assert.Equal(t, 91.0, ce.Lat)
}

func TestFeatureCollectionRFCExample(t *testing.T) {
	var fc FeatureCollection
	require.NoError(t, json.Unmarshal([]byte(rfcFeatureCollection), &fc))
	require.Len(t, fc.Features, 3)
	assert.Equal(t, Point{Lat: 0.5, Lon: 102}, fc.Features[0].Geometry)
	assert.Equal(t, map[string]any{"prop0": "value0", "prop1": 0.0}, fc.Features[1].Properties)
	assert.Equal(t, map[string]any{"this": "that"}, fc.Features[2].Properties["prop1"])
	assert.Nil(t, fc.Features[0].ID)

	out, err := json.Marshal(fc)
	require.NoError(t, err)
	// The same document plus the computed bbox.
	var want map[string]any
	require.NoError(t, json.Unmarshal([]byte(rfcFeatureCollection), &want))
	want["bbox"] = []any{100.0, 0.0, 105.0, 1.0}
	wantJSON, err := json.Marshal(want)
	require.NoError(t, err)
	assert.JSONEq(t, string(wantJSON), string(out))
}

func TestFeatureRoundTrip(t *testing.T) {
	cases := []struct {
		name string
		f    Feature
		json string
	}{
		{"string id", Feature{ID: "grid-0001", Geometry: Point{29.5, 106.5}, Properties: map[string]any{"name": "解放碑"}},
			`{"type":"Feature","id":"grid-0001","geometry":{"type":"Point","coordinates":[106.5,29.5]},"properties":{"name":"解放碑"}}`},
		{"large numeric id stays exact", Feature{ID: json.Number("500101000000123456789"), Properties: map[string]any{}},
			`{"type":"Feature","id":500101000000123456789,"geometry":null,"properties":{}}`},
		{"no id, geometry or properties", Feature{},
			`{"type":"Feature","geometry":null,"properties":null}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := json.Marshal(c.f)
			require.NoError(t, err)
			assert.Equal(t, c.json, string(out))
			var back Feature
			require.NoError(t, json.Unmarshal(out, &back))
			assert.Equal(t, c.f, back)
		})
	}
}

func TestFeatureIDEncoding(t *testing.T) {
	for _, c := range []struct {
		id   any
		want string
	}{
		{42, "42"}, {int64(-7), "-7"}, {uint8(3), "3"}, {2.5, "2.5"}, {float32(0.5), "0.5"},
		{json.Number("1e3"), "1e3"}, {"", `""`}, {`a"b`, `"a\"b"`},
	} {
		out, err := json.Marshal(Feature{ID: c.id})
		require.NoError(t, err, "%v", c.id)
		assert.Contains(t, string(out), `"id":`+c.want+`,`)
	}
	for _, bad := range []any{true, []int{1}, math.NaN(), math.Inf(1), json.Number("12abc"), struct{}{}} {
		_, err := Feature{ID: bad}.MarshalJSON()
		var ge *GeoJSONError
		require.True(t, errors.As(err, &ge), "%v", bad)
		assert.Equal(t, "id", ge.Path)
	}
	// Decoding gives strings and json.Numbers.
	f, err := DecodeOptions{}.UnmarshalFeature([]byte(`{"type":"Feature","id":-1.5e2,"geometry":null,"properties":null}`))
	require.NoError(t, err)
	assert.Equal(t, json.Number("-1.5e2"), f.ID)
}

func TestFeatureCollectionMarshal(t *testing.T) {
	out, err := json.Marshal(FeatureCollection{})
	require.NoError(t, err)
	assert.Equal(t, `{"type":"FeatureCollection","features":[]}`, string(out), "no bbox without geometries")

	line := LineString{{29.1, 106.1}, {29.9, 106.8}}
	fc := FeatureCollection{Features: []Feature{
		{Geometry: Point{29.5, 106.5}},
		{ID: 2},
		{Geometry: &line},
	}}
	out, err = json.Marshal(fc)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(out), `{"type":"FeatureCollection","bbox":[106.1,29.1,106.8,29.9],"features":[`), string(out))
	var back FeatureCollection
	require.NoError(t, json.Unmarshal(out, &back))
	fc.Features[2].Geometry = line // decoding gives values, not pointers
	fc.Features[1].ID = json.Number("2")
	assert.Equal(t, fc, back)
}

func TestFeatureCollectionMarshalErrorsLocateFeature(t *testing.T) {
	fc := FeatureCollection{Features: []Feature{
		{Geometry: Point{1, 1}},
		{Geometry: Polygon{gjRFCSquare[:4]}},
	}}
	_, err := json.Marshal(fc)
	var ge *GeoJSONError
	require.True(t, errors.As(err, &ge), "%v", err)
	assert.Equal(t, "features[1].geometry", ge.Path)
	assert.ErrorIs(t, err, ErrInvalidGeometry)

	_, err = json.Marshal(FeatureCollection{Features: []Feature{{Properties: map[string]any{"x": math.NaN()}}}})
	require.True(t, errors.As(err, &ge))
	assert.Equal(t, "features[0].properties", ge.Path)

	_, err = json.Marshal(FeatureCollection{Features: []Feature{{Geometry: (*Point)(nil)}}})
	require.True(t, errors.As(err, &ge))
	assert.Equal(t, "features[0].geometry", ge.Path)
}

func TestUnmarshalFeatureCollectionErrors(t *testing.T) {
	const pt = `{"type":"Point","coordinates":[106.5,29.5]}`
	const sq = `[[100,0],[101,0],[101,1],[100,1],[100,0]]`
	ok := `{"type":"Feature","geometry":` + pt + `,"properties":null}`
	fc := func(features ...string) string {
		return `{"type":"FeatureCollection","features":[` + strings.Join(features, ",") + `]}`
	}
	cases := []gjErrCase{
		{"not JSON", `{"type":"FeatureCollection","features":[}`, "", false, false, "not valid JSON"},
		{"wrong type", `{"type":"Feature","features":[]}`, "type", false, false, `want "FeatureCollection"`},
		{"missing features", `{"type":"FeatureCollection"}`, "features", false, false, `missing "features"`},
		{"features null", `{"type":"FeatureCollection","features":null}`, "features", false, false, "must be an array"},
		{"features an object", `{"type":"FeatureCollection","features":{}}`, "features", false, false, "must be an array"},
		{"feature not an object", fc(ok, `7`), "features[1]", false, false, "feature must be a JSON object"},
		{"feature null", fc(`null`), "features[0]", false, false, "not null"},
		{"feature wrong type", fc(ok, `{"type":"Point","coordinates":[1,2]}`), "features[1].type", false, false, `want "Feature"`},
		{"feature missing type", fc(`{"geometry":null,"properties":null}`), "features[0].type", false, false, `missing "type"`},
		{"feature missing geometry", fc(ok, ok, ok, `{"type":"Feature","properties":{}}`), "features[3].geometry", false, false, `missing "geometry"`},
		{"feature missing properties", fc(`{"type":"Feature","geometry":null}`), "features[0].properties", false, false, `missing "properties"`},
		{"properties an array", fc(`{"type":"Feature","geometry":null,"properties":[1]}`), "features[0].properties", false, false, "object or null"},
		{"properties a string", fc(`{"type":"Feature","geometry":null,"properties":"x"}`), "features[0].properties", false, false, "object or null"},
		{"properties number overflows", fc(`{"type":"Feature","geometry":null,"properties":{"n":1e999}}`), "features[0].properties", false, false, "cannot decode"},
		{"id null", fc(`{"type":"Feature","id":null,"geometry":null,"properties":null}`), "features[0].id", false, false, "string or a number"},
		{"id boolean", fc(`{"type":"Feature","id":true,"geometry":null,"properties":null}`), "features[0].id", false, false, "string or a number"},
		{"id object", fc(ok, `{"type":"Feature","id":{"v":1},"geometry":null,"properties":null}`), "features[1].id", false, false, "string or a number"},
		{"geometry not an object", fc(`{"type":"Feature","geometry":[1,2],"properties":null}`), "features[0].geometry", false, false, "geometry must be a JSON object"},
		{"geometry wrong type", fc(`{"type":"Feature","geometry":{"type":"Feature"},"properties":null}`), "features[0].geometry.type", false, false, "unknown geometry type"},
		{"geometry bad position", fc(ok, ok, ok, `{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[100,0],[101,0],[101,100],[100,1],[100,0]]]},"properties":null}`),
			"features[3].geometry.coordinates[0][2]", true, false, "latitude"},
		{"geometry open ring", fc(`{"type":"Feature","geometry":{"type":"MultiPolygon","coordinates":[[` + sq + `],[[[0,0],[1,0],[1,1],[0,1]]]]},"properties":null}`),
			"features[0].geometry.coordinates[1][0]", false, true, "not closed"},
		{"geometry bbox", fc(`{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2],"bbox":[1]},"properties":null}`), "features[0].geometry.bbox", false, false, "1 elements"},
		{"feature bbox", fc(`{"type":"Feature","bbox":[0,0,200,1],"geometry":null,"properties":null}`), "features[0].bbox", true, false, "corner"},
		{"collection bbox", `{"type":"FeatureCollection","bbox":"all","features":[]}`, "bbox", false, false, "array of numbers"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeOptions{}.UnmarshalFeatureCollection([]byte(c.json))
			checkGeoJSONError(t, c, err)
		})
	}
}

func TestFeatureErrorsHaveNoCollectionPrefix(t *testing.T) {
	var f Feature
	err := json.Unmarshal([]byte(`{"type":"Feature","geometry":{"type":"Point","coordinates":[1,95]},"properties":null}`), &f)
	checkGeoJSONError(t, gjErrCase{path: "geometry.coordinates", coord: true, text: "latitude"}, err)
}

func TestUnmarshalJSONNullIsNoOp(t *testing.T) {
	var doc struct {
		Area  FeatureCollection `json:"area"`
		Point Feature           `json:"point"`
	}
	require.NoError(t, json.Unmarshal([]byte(`{"area":null,"point":null}`), &doc))
	assert.Nil(t, doc.Area.Features)

	require.NoError(t, json.Unmarshal([]byte(`{"area":{"type":"FeatureCollection","features":[]},"point":{"type":"Feature","geometry":null,"properties":{}}}`), &doc))
	assert.NotNil(t, doc.Area.Features)
	assert.Equal(t, map[string]any{}, doc.Point.Properties)
}

func TestDecodeLimitsPositions(t *testing.T) {
	ring := `[[100,0],[101,0],[101,1],[100,1],[100,0]]` // 5 positions
	poly := `{"type":"Polygon","coordinates":[` + ring + `]}`

	_, err := DecodeOptions{MaxPositions: 5}.UnmarshalGeometry([]byte(poly))
	require.NoError(t, err)
	_, err = DecodeOptions{MaxPositions: 4}.UnmarshalGeometry([]byte(poly))
	require.ErrorIs(t, err, ErrTooManyPositions)
	checkGeoJSONError(t, gjErrCase{path: "coordinates[0][4]", text: "more than 4 positions"}, err)

	// The limit is for the whole input, not per feature.
	feature := `{"type":"Feature","geometry":` + poly + `,"properties":null}`
	fc := `{"type":"FeatureCollection","features":[` + feature + `,` + feature + `,` + feature + `]}`
	_, err = DecodeOptions{MaxPositions: 15}.UnmarshalFeatureCollection([]byte(fc))
	require.NoError(t, err)
	_, err = DecodeOptions{MaxPositions: 12}.UnmarshalFeatureCollection([]byte(fc))
	require.ErrorIs(t, err, ErrTooManyPositions)
	var ge *GeoJSONError
	require.True(t, errors.As(err, &ge))
	assert.Equal(t, "features[2].geometry.coordinates[0][2]", ge.Path)

	// Zero means the default.
	assert.Equal(t, DefaultMaxPositions, DecodeOptions{}.decoder().limit)
	assert.Equal(t, DefaultMaxPositions, DecodeOptions{MaxPositions: -1}.decoder().limit)
}

// A hostile upload of many positions is refused once it passes the limit,
// before the rest is decoded.
func TestDecodeLimitStopsEarly(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"type":"LineString","coordinates":[`)
	for i := range 100_000 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "[%d,%d]", i%180, i%90)
	}
	b.WriteString(`]}`)
	s := gjScanner{d: &gjDecoder{limit: 1000}}
	m, err := gjObject([]byte(b.String()), "", "geometry")
	require.NoError(t, err)
	s.buf = m["coordinates"]
	_, err = s.lineString()
	require.ErrorIs(t, err, ErrTooManyPositions)
	assert.Equal(t, 1001, s.d.count, "decoding stopped at the first position over the limit")
	assert.Less(t, s.i, len(s.buf)/50, "and read no further")
}

// gjSameShape reports whether a and b are the same geometry, allowing any
// ring to be reversed (encoding enforces the right-hand rule).
func gjSameShape(a, b Geometry) bool {
	switch a := a.(type) {
	case Polygon:
		b, ok := b.(Polygon)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			rev := slices.Clone(b[i])
			slices.Reverse(rev)
			if !slices.Equal(a[i], b[i]) && !slices.Equal(a[i], rev) {
				return false
			}
		}
		return true
	case MultiPolygon:
		b, ok := b.(MultiPolygon)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !gjSameShape(a[i], b[i]) {
				return false
			}
		}
		return true
	case LineString:
		b, ok := b.(LineString)
		return ok && slices.Equal(a, b)
	}
	return a == b
}

func gjFuzzSeeds(f *testing.F) {
	for _, s := range []string{
		rfcPoint, rfcLineString, rfcPolygon, rfcPolygonWithHole, rfcMultiPolygon,
		`{"type":"Point","coordinates":[-0,1e-320,7]}`,
		`{"type":"Point","coordinates":[1,2],"bbox":[1,2,1,2]}`,
		`{"type":"Polygon","coordinates":[[[100,0],[100,1],[101,1],[101,0],[100,0]]]}`,
		`{"type":"Polygon","coordinates":[[[1,1],[2,2],[1,1],[2,2],[1,1]]]}`,
		`{"type":"LineString","coordinates":[[1,2],[1,2]]}`,
		`{"type":"MultiPolygon","coordinates":[[[[1,1],[2,2],[3,true],[1,1]]]]}`,
		`{"type":"Point","coordinates":[1e400,0]}`,
		`{"type":"GeometryCollection","geometries":[]}`,
		`[`, `null`, `{}`,
	} {
		f.Add([]byte(s))
	}
}

func FuzzUnmarshalGeometry(f *testing.F) {
	gjFuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := UnmarshalGeometry(data)
		if err != nil {
			var ge *GeoJSONError
			if !errors.As(err, &ge) || !errors.Is(err, ErrInvalidGeoJSON) {
				t.Fatalf("error is not a *GeoJSONError: %T %v", err, err)
			}
			if g != nil {
				t.Fatalf("got %v with error %v", g, err)
			}
			return
		}
		if err := g.Validate(); err != nil {
			t.Fatalf("accepted invalid geometry %#v: %v", g, err)
		}
		out, err := MarshalGeometry(g)
		if err != nil {
			t.Fatalf("cannot re-encode %#v: %v", g, err)
		}
		back, err := UnmarshalGeometry(out)
		if err != nil {
			t.Fatalf("cannot decode own output %s: %v", out, err)
		}
		if !gjSameShape(g, back) {
			t.Fatalf("round trip changed the geometry:\n%#v\n%#v", g, back)
		}
		// Re-encoding is not compared byte for byte: a ring whose area is
		// at rounding level has no meaningful winding and may flip.
	})
}

func FuzzUnmarshalFeatureCollection(f *testing.F) {
	gjFuzzSeeds(f)
	f.Add([]byte(rfcFeatureCollection))
	f.Add([]byte(`{"type":"FeatureCollection","bbox":[0,0,1,1],"features":[{"type":"Feature","id":1e2,"geometry":null,"properties":{"a":[1,{"b":null}],"":"\u00e9\ud800"}}]}`))
	f.Add([]byte(`{"type":"FeatureCollection","features":[{"type":"Feature","id":"x","geometry":{"type":"Point","coordinates":[1,2]},"properties":{}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fc, err := DecodeOptions{}.UnmarshalFeatureCollection(data)
		if err != nil {
			var ge *GeoJSONError
			if !errors.As(err, &ge) || !errors.Is(err, ErrInvalidGeoJSON) {
				t.Fatalf("error is not a *GeoJSONError: %T %v", err, err)
			}
			return
		}
		for i, f := range fc.Features {
			if f.Geometry != nil {
				if err := f.Geometry.Validate(); err != nil {
					t.Fatalf("feature %d: accepted invalid geometry: %v", i, err)
				}
			}
		}
		out, err := json.Marshal(fc)
		if err != nil {
			t.Fatalf("cannot re-encode: %v", err)
		}
		back, err := DecodeOptions{}.UnmarshalFeatureCollection(out)
		if err != nil {
			t.Fatalf("cannot decode own output %s: %v", out, err)
		}
		if len(back.Features) != len(fc.Features) {
			t.Fatalf("feature count changed: %d to %d", len(fc.Features), len(back.Features))
		}
		for i := range fc.Features {
			a, b := fc.Features[i], back.Features[i]
			if (a.Geometry == nil) != (b.Geometry == nil) || (a.Geometry != nil && !gjSameShape(a.Geometry, b.Geometry)) {
				t.Fatalf("feature %d geometry changed:\n%#v\n%#v", i, a.Geometry, b.Geometry)
			}
			a.Geometry, b.Geometry = nil, nil
			assert.Equal(t, a, b, "feature %d", i)
		}
	})
}
