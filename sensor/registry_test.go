package sensor_test

import (
	"fmt"
	"math"
	"runtime"
	"strconv"
	"testing"

	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/sensor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var pressure = sensor.Profile{Name: "pipe-pressure-v1", Resources: []sensor.Resource{
	{Name: "pressure", Unit: "MPa", Min: 0, Max: 2.5, Interval: 60e9},
	{Name: "battery", Unit: "%", Min: 0, Max: 100, Interval: 3600e9},
}}

func registry(t testing.TB) *sensor.Registry {
	r := sensor.NewRegistry()
	require.NoError(t, r.AddProfile(pressure))
	return r
}

func TestRegisterAndRead(t *testing.T) {
	r := registry(t)
	gw, err := r.Register(sensor.Device{ID: "gw-17", Profile: "pipe-pressure-v1", Location: geo.Point{Lat: 29.55, Lon: 106.55}})
	require.NoError(t, err)
	d := sensor.Device{
		ID: "pp-0001", Profile: "pipe-pressure-v1", Operating: sensor.Up, Location: geo.Point{Lat: 29.5573101, Lon: 106.5773205},
		Grid: "500107001002003", Asset: "main:DN500-17", Gateway: "gw-17", Labels: map[string]string{"owner": "water", "zone": "west"},
	}
	h, err := r.Register(d)
	require.NoError(t, err)
	got, err := r.Device(h)
	require.NoError(t, err)
	assert.InDelta(t, d.Location.Lat, got.Location.Lat, 1e-6, "micro-degree precision")
	got.Location = d.Location
	assert.Equal(t, d, got)
	h2, err := r.Lookup("pp-0001")
	require.NoError(t, err)
	assert.Equal(t, h, h2)
	assert.Equal(t, []sensor.Handle{h}, r.Behind(gw))

	require.NoError(t, r.SetAdmin(h, sensor.Locked))
	require.NoError(t, r.SetOperating(h, sensor.Down))
	got, _ = r.Device(h)
	assert.Equal(t, sensor.Locked, got.Admin)
	assert.Equal(t, sensor.Down, got.Operating)

	require.NoError(t, r.Remove("pp-0001"))
	_, err = r.Lookup("pp-0001")
	assert.ErrorIs(t, err, sensor.ErrUnknownDevice)
	_, err = r.Device(h)
	assert.ErrorIs(t, err, sensor.ErrUnknownDevice)
	assert.Equal(t, 1, r.Len())
	assert.ErrorIs(t, r.Remove("pp-0001"), sensor.ErrUnknownDevice)
}

func TestRegisterRejectsBadDevices(t *testing.T) {
	r := registry(t)
	ok := sensor.Device{ID: "a", Profile: "pipe-pressure-v1", Location: geo.Point{Lat: 29, Lon: 106}}
	_, err := r.Register(ok)
	require.NoError(t, err)
	cases := map[string]func(d *sensor.Device){
		"empty id":        func(d *sensor.Device) { d.ID = "" },
		"wildcard id":     func(d *sensor.Device) { d.ID = "a/b" },
		"duplicate":       func(d *sensor.Device) {},
		"unknown profile": func(d *sensor.Device) { d.ID, d.Profile = "b", "nope" },
		"bad point":       func(d *sensor.Device) { d.ID, d.Location = "b", geo.Point{Lat: math.NaN()} },
		"bad grid":        func(d *sensor.Device) { d.ID, d.Grid = "b", "5001" },
		"own gateway":     func(d *sensor.Device) { d.ID, d.Gateway = "b", "b" },
		"unknown gateway": func(d *sensor.Device) { d.ID, d.Gateway = "b", "gw-x" },
		"bad state":       func(d *sensor.Device) { d.ID, d.Admin = "b", 7 },
	}
	for name, mutate := range cases {
		d := ok
		mutate(&d)
		_, err := r.Register(d)
		assert.Error(t, err, name)
	}
	assert.Equal(t, 1, r.Len(), "nothing half-registered")
}

func TestProfilesValidate(t *testing.T) {
	r := sensor.NewRegistry()
	for name, p := range map[string]sensor.Profile{
		"no name":      {Resources: pressure.Resources},
		"no resources": {Name: "x"},
		"dup resource": {Name: "x", Resources: []sensor.Resource{{Name: "a"}, {Name: "a"}}},
		"min > max":    {Name: "x", Resources: []sensor.Resource{{Name: "a", Min: 2, Max: 1}}},
	} {
		assert.ErrorIs(t, r.AddProfile(p), sensor.ErrInvalidProfile, name)
	}
	require.NoError(t, r.AddProfile(pressure))
	assert.ErrorIs(t, r.AddProfile(pressure), sensor.ErrDuplicate)
	_, err := r.Profile("nope")
	assert.ErrorIs(t, err, sensor.ErrUnknownProfile)
}

func TestTableGrowsWithoutLosingDevices(t *testing.T) {
	r := registry(t)
	for i := range 10_000 {
		_, err := r.Register(sensor.Device{ID: "d" + strconv.Itoa(i), Profile: "pipe-pressure-v1", Location: geo.Point{Lat: 29, Lon: 106}})
		require.NoError(t, err)
	}
	for i := range 10_000 {
		h, err := r.Lookup("d" + strconv.Itoa(i))
		require.NoError(t, err)
		require.Equal(t, sensor.Handle(i), h)
	}
	_, err := r.Lookup("d10000")
	assert.ErrorIs(t, err, sensor.ErrUnknownDevice)
}

// BenchmarkRegistry registers 1,000,000 devices — 20-byte IDs, a place,
// a grid of 65,600, an asset shared by four devices, a gateway per 100,
// two label sets — and reports the heap they take per device.
func BenchmarkRegistry(b *testing.B) {
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		r := sensor.NewRegistry()
		if err := r.AddProfile(pressure); err != nil {
			b.Fatal(err)
		}
		const n = 1_000_000
		for i := range n {
			d := sensor.Device{
				ID: fmt.Sprintf("cq-pp-%014d", i), Profile: "pipe-pressure-v1",
				Location: geo.Point{Lat: 28.16 + float64(i%4000)/1000, Lon: 105.29 + float64(i/4000%4900)/1000},
				Grid:     "500001001001001", Asset: "main:" + strconv.Itoa(i/4),
				Labels: map[string]string{"owner": []string{"water", "gas"}[i%2]},
			}
			if i%100 != 0 {
				d.Gateway = fmt.Sprintf("cq-pp-%014d", i/100*100)
			}
			if _, err := r.Register(d); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "bytes/device")
		runtime.KeepAlive(r)
	}
}
