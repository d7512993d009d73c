package region_test

import (
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/region"
	"github.com/govkit/govkit/region/regiontest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func box(minLat, minLon, maxLat, maxLon float64) geo.MultiPolygon {
	return geo.MultiPolygon{geo.BBox{MinLat: minLat, MinLon: minLon, MaxLat: maxLat, MaxLon: maxLon}.Rect()}
}

// smallTree is a province-level city with a city-level unit below it, to
// exercise both kinds of 6-digit parent.
func smallTree() []region.Unit {
	return []region.Unit{
		{Code: "500000", Name: "Chongqing"},
		{Code: "500100", Name: "Municipal districts", Parent: "500000"},
		{Code: "500107", Name: "Jiulongpo", Parent: "500100", Boundary: box(29.40, 106.30, 29.60, 106.55)},
		{Code: "500113", Name: "Banan", Parent: "500100", Boundary: box(29.20, 106.50, 29.40, 106.80)},
		{Code: "500107001", Name: "Shiqiaopu", Parent: "500107", Boundary: box(29.50, 106.45, 29.55, 106.55)},
		{Code: "500107001001", Name: "Community 1", Parent: "500107001", Boundary: box(29.50, 106.45, 29.55, 106.50)},
		{Code: "500107001001001", Name: "Grid 1", Parent: "500107001001", Boundary: box(29.50, 106.45, 29.525, 106.50)},
		{Code: "500107001001002", Name: "Grid 2", Parent: "500107001001", Boundary: box(29.525, 106.45, 29.55, 106.50)},
	}
}

func TestNewRejectsBadUnits(t *testing.T) {
	cases := []struct {
		name   string
		mutate func([]region.Unit) []region.Unit
		reason string
		cause  error
	}{
		{"bad code", func(u []region.Unit) []region.Unit { u[4].Code = "50010700"; return u }, "bad code", region.ErrInvalidCode},
		{"empty name", func(u []region.Unit) []region.Unit { u[3].Name = "  "; return u }, "empty name", nil},
		{"duplicate", func(u []region.Unit) []region.Unit { return append(u, u[3]) }, "duplicate", nil},
		{"missing parent", func(u []region.Unit) []region.Unit { u[4].Parent = "500199"; return u }, "not in the hierarchy", region.ErrUnknownCode},
		{"parent not prefix", func(u []region.Unit) []region.Unit {
			u[5].Parent = "500107001002"
			return append(u, region.Unit{Code: "500107001002", Name: "x", Parent: "500107001"})
		}, "prefix", nil},
		{"district under district", func(u []region.Unit) []region.Unit { u[3].Parent = "500107"; return u }, "cannot contain", nil},
		{"district in another province", func(u []region.Unit) []region.Unit {
			return append(u, region.Unit{Code: "510107", Name: "Chengdu", Parent: "500000"})
		}, "cannot contain", nil},
		{"orphan street", func(u []region.Unit) []region.Unit { u[4].Parent = ""; return u }, "only a city", nil},
		{"open boundary", func(u []region.Unit) []region.Unit {
			open := geo.Ring{{Lat: 29.5, Lon: 106.45}, {Lat: 29.5, Lon: 106.5}, {Lat: 29.52, Lon: 106.5}, {Lat: 29.52, Lon: 106.45}}
			u[6].Boundary = geo.MultiPolygon{{open}}
			return u
		}, "bad boundary", geo.ErrInvalidGeometry},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, err := region.New(c.mutate(smallTree()))
			require.Error(t, err)
			assert.Nil(t, h)
			assert.ErrorIs(t, err, region.ErrInvalidUnit)
			if c.cause != nil {
				assert.ErrorIs(t, err, c.cause)
			}
			var ue *region.UnitError
			require.True(t, errors.As(err, &ue))
			assert.Contains(t, ue.Reason, c.reason)
		})
	}
}

func TestNavigate(t *testing.T) {
	in := smallTree()
	h, err := region.New(in)
	require.NoError(t, err)
	in[0].Name = "changed"
	u, err := h.Unit("500000")
	require.NoError(t, err)
	assert.Equal(t, "Chongqing", u.Name, "New copies its input")
	assert.Equal(t, 8, h.Len())
	assert.Equal(t, []region.Code{"500000"}, h.Roots())

	path, err := h.Path("500107001001002")
	require.NoError(t, err)
	assert.Equal(t, []region.Code{"500000", "500100", "500107", "500107001", "500107001001", "500107001001002"}, path)

	kids, err := h.Children("500100")
	require.NoError(t, err)
	require.Len(t, kids, 2)
	assert.Equal(t, region.Code("500107"), kids[0].Code)
	assert.Equal(t, region.Code("500113"), kids[1].Code)

	var grids []region.Code
	require.NoError(t, h.Descendants("500107", region.Grid, func(u region.Unit) bool {
		grids = append(grids, u.Code)
		return true
	}))
	assert.Equal(t, []region.Code{"500107001001001", "500107001001002"}, grids)

	var all []region.Code
	require.NoError(t, h.Descendants("500000", 0, func(u region.Unit) bool {
		all = append(all, u.Code)
		return len(all) < 3
	}))
	assert.Equal(t, []region.Code{"500100", "500107", "500107001"}, all, "code order, stopping when asked")

	for _, call := range []func() error{
		func() error { _, err := h.Unit("500199"); return err },
		func() error { _, err := h.Path("500199"); return err },
		func() error { _, err := h.Children("500199"); return err },
		func() error { return h.Descendants("500199", 0, func(region.Unit) bool { return true }) },
	} {
		assert.ErrorIs(t, call(), region.ErrUnknownCode)
	}
}

func TestLocate(t *testing.T) {
	h, err := region.New(smallTree())
	require.NoError(t, err)

	u, err := h.Locate(geo.Point{Lat: 29.51, Lon: 106.47})
	require.NoError(t, err)
	assert.Equal(t, region.Code("500107001001001"), u.Code)

	path, err := h.LocatePath(geo.Point{Lat: 29.54, Lon: 106.47})
	require.NoError(t, err)
	assert.Equal(t, region.Code("500107001001002"), path[len(path)-1])
	assert.Len(t, path, 6)

	// Inside the street but outside any grid: the street is the deepest.
	u, err = h.Locate(geo.Point{Lat: 29.52, Lon: 106.52})
	require.NoError(t, err)
	assert.Equal(t, region.Code("500107001"), u.Code)

	u, err = h.Locate(geo.Point{Lat: 29.30, Lon: 106.60})
	require.NoError(t, err)
	assert.Equal(t, region.Code("500113"), u.Code)

	_, err = h.Locate(geo.Point{Lat: 39.9, Lon: 116.4})
	assert.ErrorIs(t, err, region.ErrNotLocated)
	_, err = h.LocatePath(geo.Point{Lat: 39.9, Lon: 116.4})
	assert.ErrorIs(t, err, region.ErrNotLocated)
	_, err = h.Locate(geo.Point{Lat: 100, Lon: 106})
	assert.ErrorIs(t, err, geo.ErrInvalidCoordinate)
}

func TestLocateRespectsHoles(t *testing.T) {
	outer := geo.BBox{MinLat: 29, MinLon: 106, MaxLat: 30, MaxLon: 107}.Rect()[0]
	hole := geo.BBox{MinLat: 29.4, MinLon: 106.4, MaxLat: 29.6, MaxLon: 106.6}.Rect()[0]
	h, err := region.New([]region.Unit{
		{Code: "500000", Name: "Chongqing"},
		{Code: "500107", Name: "Ring district", Parent: "500000", Boundary: geo.MultiPolygon{{outer, hole}}},
		{Code: "500108", Name: "Enclave", Parent: "500000", Boundary: geo.MultiPolygon{{hole}}},
	})
	require.NoError(t, err)
	u, err := h.Locate(geo.Point{Lat: 29.5, Lon: 106.5})
	require.NoError(t, err)
	assert.Equal(t, region.Code("500108"), u.Code)
	u, err = h.Locate(geo.Point{Lat: 29.2, Lon: 106.5})
	require.NoError(t, err)
	assert.Equal(t, region.Code("500107"), u.Code)
}

func TestSyntheticChongqing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 65,600 grids")
	}
	h, err := regiontest.New(regiontest.Chongqing())
	require.NoError(t, err)
	grids := 0
	require.NoError(t, h.Descendants("500000", region.Grid, func(region.Unit) bool { grids++; return true }))
	assert.Equal(t, 65_600, grids)

	// Every located point lies in its grid, and its path runs city to grid.
	o := regiontest.Chongqing()
	var wg sync.WaitGroup
	for g := range 4 { // concurrent readers, for the race detector
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(1, uint64(g)))
			for range 500 {
				p := geo.Point{Lat: o.Area.MinLat + r.Float64()*(o.Area.MaxLat-o.Area.MinLat), Lon: o.Area.MinLon + r.Float64()*(o.Area.MaxLon-o.Area.MinLon)}
				u, err := h.Locate(p)
				if err != nil {
					continue // gaps where districts do not fill the last row
				}
				path, _ := h.Path(u.Code)
				if u.Level() == region.Grid && (!u.Boundary.Contains(p) || len(path) != 5) {
					t.Errorf("point %v located to %s with path %v", p, u.Code, path)
				}
			}
		}()
	}
	wg.Wait()
}

func TestRegiontestRejectsBadOptions(t *testing.T) {
	o := regiontest.Small()
	o.City = "500107"
	_, err := regiontest.New(o)
	assert.Error(t, err)
	o = regiontest.Small()
	o.GridsPerCommunity = 0
	_, err = regiontest.New(o)
	assert.Error(t, err)
	o = regiontest.Small()
	o.Area = geo.EmptyBBox()
	_, err = regiontest.New(o)
	assert.Error(t, err)
}

// BenchmarkLocate65k locates random points among the 65,600 grids of a
// Chongqing-sized city.
func BenchmarkLocate65k(b *testing.B) {
	o := regiontest.Chongqing()
	h, err := regiontest.New(o)
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(65, 0))
	pts := make([]geo.Point, 4096)
	for i := range pts {
		pts[i] = geo.Point{Lat: o.Area.MinLat + r.Float64()*(o.Area.MaxLat-o.Area.MinLat), Lon: o.Area.MinLon + r.Float64()*(o.Area.MaxLon-o.Area.MinLon)}
	}
	lat := make([]time.Duration, 0, 1<<16)
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		_, _ = h.Locate(pts[i%len(pts)])
		lat = append(lat, time.Since(start))
	}
	b.ReportMetric(float64(p99(lat)), "p99-ns")
}
