package regiontest

import (
	"fmt"
	"math"
	"strconv"

	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/region"
)

// Options sizes a synthetic city.
type Options struct {
	City                 region.Code // a city-level code such as "500000"
	Name                 string      // the city's name
	Area                 geo.BBox    // the rectangle the city covers
	Districts            int
	StreetsPerDistrict   int
	CommunitiesPerStreet int
	GridsPerCommunity    int
}

// Chongqing sizes a city like the guide's: 41 districts of 25 streets
// (1,025 streets, against Chongqing's 1,031), each street of 8 communities
// of 8 grids: 65,600 grids over the municipality's bounding box.
func Chongqing() Options {
	return Options{
		City: "500000", Name: "Chongqing",
		Area:      geo.BBox{MinLat: 28.16, MinLon: 105.29, MaxLat: 32.20, MaxLon: 110.19},
		Districts: 41, StreetsPerDistrict: 25, CommunitiesPerStreet: 8, GridsPerCommunity: 8,
	}
}

// Small sizes a city for examples and quick tests: 2 districts of 2 streets
// of 2 communities of 4 grids (32 grids) around Chongqing's centre.
func Small() Options {
	return Options{
		City: "500000", Name: "Chongqing",
		Area:      geo.BBox{MinLat: 29.50, MinLon: 106.45, MaxLat: 29.62, MaxLon: 106.61},
		Districts: 2, StreetsPerDistrict: 2, CommunitiesPerStreet: 2, GridsPerCommunity: 4,
	}
}

// Units returns the units of the city described by o. Districts are numbered
// from the city's code plus 1 (500001, 500002, … for 500000); streets,
// communities and grids from 001 within their parent. Names read
// "District 01", "District 01 Street 02" and so on.
func Units(o Options) ([]region.Unit, error) {
	if _, err := region.ParseCode(string(o.City)); err != nil || o.City.Level() != region.City {
		return nil, fmt.Errorf("regiontest: %q is not a city-level code", o.City)
	}
	if o.Districts < 1 || o.Districts > 99 || o.StreetsPerDistrict < 1 || o.StreetsPerDistrict > 999 ||
		o.CommunitiesPerStreet < 1 || o.CommunitiesPerStreet > 999 || o.GridsPerCommunity < 1 || o.GridsPerCommunity > 999 {
		return nil, fmt.Errorf("regiontest: counts must be 1–99 districts and 1–999 of the rest: %+v", o)
	}
	if o.Area.IsEmpty() || o.Area.MinLat == o.Area.MaxLat || o.Area.MinLon == o.Area.MaxLon {
		return nil, fmt.Errorf("regiontest: empty area %+v", o.Area)
	}
	name := o.Name
	if name == "" {
		name = "City " + string(o.City)
	}
	base, _ := strconv.Atoi(string(o.City))
	units := []region.Unit{{Code: o.City, Name: name, Boundary: rect(o.Area)}}
	for d, db := range split(o.Area, o.Districts) {
		dc := region.Code(fmt.Sprintf("%06d", base+d+1))
		dn := fmt.Sprintf("District %02d", d+1)
		units = append(units, region.Unit{Code: dc, Name: dn, Parent: o.City, Boundary: rect(db)})
		for s, sb := range split(db, o.StreetsPerDistrict) {
			sc := region.Code(fmt.Sprintf("%s%03d", dc, s+1))
			sn := fmt.Sprintf("%s Street %02d", dn, s+1)
			units = append(units, region.Unit{Code: sc, Name: sn, Parent: dc, Boundary: rect(sb)})
			for c, cb := range split(sb, o.CommunitiesPerStreet) {
				cc := region.Code(fmt.Sprintf("%s%03d", sc, c+1))
				cn := fmt.Sprintf("%s Community %02d", sn, c+1)
				units = append(units, region.Unit{Code: cc, Name: cn, Parent: sc, Boundary: rect(cb)})
				for g, gb := range split(cb, o.GridsPerCommunity) {
					gc := region.Code(fmt.Sprintf("%s%03d", cc, g+1))
					gn := fmt.Sprintf("%s Grid %02d", cn, g+1)
					units = append(units, region.Unit{Code: gc, Name: gn, Parent: cc, Boundary: rect(gb)})
				}
			}
		}
	}
	return units, nil
}

// New builds the hierarchy described by o.
func New(o Options) (*region.Hierarchy, error) {
	units, err := Units(o)
	if err != nil {
		return nil, err
	}
	return region.New(units)
}

// split tiles b into n cells of a near-square grid, row by row from the
// south-west; when n is not a product of the grid's sides the last row is
// partly empty.
func split(b geo.BBox, n int) []geo.BBox {
	cols := int(math.Ceil(math.Sqrt(float64(n))))
	rows := (n + cols - 1) / cols
	w := (b.MaxLon - b.MinLon) / float64(cols)
	h := (b.MaxLat - b.MinLat) / float64(rows)
	out := make([]geo.BBox, n)
	for i := range out {
		r, c := i/cols, i%cols
		out[i] = geo.BBox{
			MinLat: b.MinLat + float64(r)*h, MaxLat: b.MinLat + float64(r+1)*h,
			MinLon: b.MinLon + float64(c)*w, MaxLon: b.MinLon + float64(c+1)*w,
		}
	}
	return out
}

func rect(b geo.BBox) geo.MultiPolygon { return geo.MultiPolygon{b.Rect()} }
