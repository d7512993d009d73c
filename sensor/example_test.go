package sensor_test

import (
	"fmt"

	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/sensor"
)

func ExampleRegistry() {
	r := sensor.NewRegistry()
	_ = r.AddProfile(sensor.Profile{Name: "smoke-detector-v2", Resources: []sensor.Resource{
		{Name: "smoke", Unit: "ppm", Min: 0, Max: 10000, Interval: 300e9},
	}})
	h, err := r.Register(sensor.Device{
		ID: "sd-42", Profile: "smoke-detector-v2", Location: geo.Point{Lat: 29.5630, Lon: 106.5516},
		Grid: "500107001002003", Labels: map[string]string{"building": "old-compound-7"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	d, _ := r.Device(h)
	fmt.Println(d.ID, d.Grid, d.Labels["building"])
	// Output: sd-42 500107001002003 old-compound-7
}
