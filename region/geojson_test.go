package region_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/region"
	"github.com/govkit/govkit/region/regiontest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGeoJSONRoundTrip(t *testing.T) {
	h, err := regiontest.New(regiontest.Small())
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, h.WriteGeoJSON(&buf))
	back, err := region.ReadGeoJSON(&buf, 0)
	require.NoError(t, err)
	require.Equal(t, h.Len(), back.Len())
	require.NoError(t, h.Descendants("500000", 0, func(u region.Unit) bool {
		got, err := back.Unit(u.Code)
		require.NoError(t, err)
		assert.Equal(t, u.Name, got.Name)
		assert.Equal(t, u.Parent, got.Parent)
		assert.True(t, got.Boundary.Contains(u.Boundary.BBox().Center()))
		return true
	}))
	p := geo.Point{Lat: 29.53, Lon: 106.50}
	a, err := h.Locate(p)
	require.NoError(t, err)
	b, err := back.Locate(p)
	require.NoError(t, err)
	assert.Equal(t, a.Code, b.Code)
}

func TestReadGeoJSONAcceptsPolygonAndNullGeometry(t *testing.T) {
	in := `{"type":"FeatureCollection","features":[
	 {"type":"Feature","geometry":null,"properties":{"code":"500000","name":"Chongqing"}},
	 {"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[106.4,29.4],[106.6,29.4],[106.6,29.6],[106.4,29.6],[106.4,29.4]]]},
	  "properties":{"code":"500107","name":"Jiulongpo","parent":"500000","level":"district"}}]}`
	h, err := region.ReadGeoJSON(strings.NewReader(in), 0)
	require.NoError(t, err)
	u, err := h.Locate(geo.Point{Lat: 29.5, Lon: 106.5})
	require.NoError(t, err)
	assert.Equal(t, "Jiulongpo", u.Name)
}

func TestReadGeoJSONErrors(t *testing.T) {
	feature := func(geom, props string) string {
		return `{"type":"FeatureCollection","features":[{"type":"Feature","geometry":` + geom + `,"properties":` + props + `}]}`
	}
	cases := []struct {
		name, in string
		is       error
		text     string
	}{
		{"not geojson", `{"type":"Feature"`, geo.ErrInvalidGeoJSON, ""},
		{"bad code", feature("null", `{"code":"5001","name":"x"}`), region.ErrInvalidCode, "features[0]"},
		{"code not string", feature("null", `{"code":500000,"name":"x"}`), region.ErrInvalidUnit, "must be a string"},
		{"level contradicts", feature("null", `{"code":"500000","name":"x","level":"grid"}`), region.ErrInvalidUnit, "contradicts"},
		{"line boundary", feature(`{"type":"LineString","coordinates":[[106,29],[107,30]]}`, `{"code":"500000","name":"x"}`), region.ErrInvalidUnit, "LineString"},
		{"missing parent", feature("null", `{"code":"500107","name":"x","parent":"500000"}`), region.ErrUnknownCode, ""},
		{"too large", feature("null", `{"code":"500000","name":"`+strings.Repeat("x", 600)+`"}`), region.ErrInvalidUnit, "larger than"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, err := region.ReadGeoJSON(strings.NewReader(c.in), 512)
			require.Error(t, err)
			assert.Nil(t, h)
			assert.True(t, errors.Is(err, c.is), "%v does not match %v", err, c.is)
			assert.Contains(t, err.Error(), c.text)
		})
	}
}

func FuzzReadGeoJSON(f *testing.F) {
	h, _ := regiontest.New(regiontest.Small())
	var buf bytes.Buffer
	_ = h.WriteGeoJSON(&buf)
	f.Add(buf.Bytes())
	f.Add([]byte(`{"type":"FeatureCollection","features":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := region.ReadGeoJSON(bytes.NewReader(data), 1<<20)
		if err != nil {
			return
		}
		// Anything accepted must write and read back to the same units.
		var out bytes.Buffer
		if err := h.WriteGeoJSON(&out); err != nil {
			t.Fatalf("accepted hierarchy does not write: %v", err)
		}
		back, err := region.ReadGeoJSON(&out, 0)
		if err != nil {
			t.Fatalf("written hierarchy does not read back: %v", err)
		}
		if back.Len() != h.Len() {
			t.Fatalf("%d units became %d", h.Len(), back.Len())
		}
	})
}
