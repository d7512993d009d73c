package geo_test

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/govkit/govkit/geo"
)

// Decode a grid boundary uploaded as GeoJSON and test whether an incident
// lies inside it. GeoJSON positions are [longitude, latitude].
func ExampleUnmarshalGeometry() {
	upload := []byte(`{
		"type": "Polygon",
		"coordinates": [[[106.57, 29.55], [106.59, 29.55], [106.59, 29.57], [106.57, 29.57], [106.57, 29.55]]]
	}`)
	g, err := geo.UnmarshalGeometry(upload)
	if err != nil {
		fmt.Println(err)
		return
	}
	grid := g.(geo.Polygon)
	fmt.Println(grid.Contains(geo.Point{Lat: 29.5573, Lon: 106.5773}))
	fmt.Println(grid.Contains(geo.Point{Lat: 29.5800, Lon: 106.5773}))
	// Output:
	// true
	// false
}

// Errors say where the problem is and match the package's sentinels.
func ExampleGeoJSONError() {
	_, err := geo.UnmarshalGeometry([]byte(`{"type":"LineString","coordinates":[[106.5,29.5],[106.6,95]]}`))
	var ge *geo.GeoJSONError
	if errors.As(err, &ge) {
		fmt.Println(ge.Path)
	}
	fmt.Println(errors.Is(err, geo.ErrInvalidGeoJSON), errors.Is(err, geo.ErrInvalidCoordinate))
	// Output:
	// coordinates[1]
	// true true
}

// A FeatureCollection is written with a bbox covering its features.
func ExampleFeatureCollection_MarshalJSON() {
	fc := geo.FeatureCollection{Features: []geo.Feature{{
		ID:         "hydrant-17",
		Geometry:   geo.Point{Lat: 29.5630, Lon: 106.5516},
		Properties: map[string]any{"status": "ok"},
	}}}
	out, err := json.Marshal(fc)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(out))
	// Output:
	// {"type":"FeatureCollection","bbox":[106.5516,29.563,106.5516,29.563],"features":[{"type":"Feature","id":"hydrant-17","geometry":{"type":"Point","coordinates":[106.5516,29.563]},"properties":{"status":"ok"}}]}
}

// A location picked on an AMap (Gaode) map is in GCJ-02; convert it to
// WGS-84 before storing it next to GPS data.
func ExampleConvert() {
	amap := geo.Point{Lat: 39.908823, Lon: 116.397470} // Tiananmen on AMap
	wgs, err := geo.Convert(amap, geo.GCJ02, geo.WGS84)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(wgs)
	fmt.Printf("%.0f m apart\n", geo.Distance(amap, wgs))

	// Baidu uses BD-09; the same place there:
	bd, _ := geo.Convert(amap, geo.GCJ02, geo.BD09)
	fmt.Println(bd)
	// Output:
	// 39.907422,116.391229
	// 555 m apart
	// 39.915166,116.403843
}

// Outside China the GCJ-02 offset does not apply.
func ExampleWGS84ToGCJ02() {
	paris := geo.Point{Lat: 48.8566, Lon: 2.3522}
	fmt.Println(geo.WGS84ToGCJ02(paris) == paris)
	// Output: true
}

// CRS names come from configuration or API parameters.
func ExampleParseCRS() {
	c, err := geo.ParseCRS("bd09ll")
	fmt.Println(c, err)
	_, err = geo.ParseCRS("mars")
	fmt.Println(errors.Is(err, geo.ErrUnknownCRS))
	// Output:
	// BD09 <nil>
	// true
}
