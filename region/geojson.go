package region

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/govkit/govkit/geo"
)

// GeoJSON property names used by ReadGeoJSON and WriteGeoJSON. Each unit is
// one Feature whose geometry is its boundary (a Polygon or MultiPolygon, or
// null) and whose properties are:
//
//	{"code": "500107001", "name": "Shiqiaopu", "level": "street", "parent": "500107"}
//
// "level" is written for readers' convenience and checked on input against
// the code; "parent" is omitted for a top-level city.
const (
	PropCode   = "code"
	PropName   = "name"
	PropLevel  = "level"
	PropParent = "parent"
)

// WriteGeoJSON writes h as a GeoJSON FeatureCollection, units in code order.
func (h *Hierarchy) WriteGeoJSON(w io.Writer) error {
	fc := geo.FeatureCollection{Features: make([]geo.Feature, len(h.units))}
	for i, u := range h.units {
		props := map[string]any{PropCode: string(u.Code), PropName: u.Name, PropLevel: u.Level().String()}
		if u.Parent != "" {
			props[PropParent] = string(u.Parent)
		}
		f := geo.Feature{ID: string(u.Code), Properties: props}
		if u.Boundary != nil {
			f.Geometry = u.Boundary
		}
		fc.Features[i] = f
	}
	return json.NewEncoder(w).Encode(fc)
}

// ReadGeoJSON reads a FeatureCollection written by WriteGeoJSON (or by a GIS
// tool using the same properties) and builds a hierarchy with New. Input is
// limited to limit bytes (0 means 512 MiB) so that an upload cannot exhaust
// memory; errors say which feature is at fault.
func ReadGeoJSON(r io.Reader, limit int64) (*Hierarchy, error) {
	if limit <= 0 {
		limit = 512 << 20
	}
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("region: reading GeoJSON: %w", err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w: GeoJSON larger than %d bytes", ErrInvalidUnit, limit)
	}
	fc, err := geo.DecodeOptions{}.UnmarshalFeatureCollection(data)
	if err != nil {
		return nil, err
	}
	units := make([]Unit, 0, len(fc.Features))
	for i, f := range fc.Features {
		u, err := unitFromFeature(f)
		if err != nil {
			return nil, fmt.Errorf("features[%d]: %w", i, err)
		}
		units = append(units, u)
	}
	return New(units)
}

func unitFromFeature(f geo.Feature) (Unit, error) {
	str := func(name string) (string, error) {
		v, ok := f.Properties[name]
		if !ok || v == nil {
			return "", nil
		}
		s, ok := v.(string)
		if !ok {
			return "", fmt.Errorf("property %q must be a string, not %T", name, v)
		}
		return s, nil
	}
	var u Unit
	code, err := str(PropCode)
	if err != nil {
		return u, &UnitError{Reason: err.Error()}
	}
	if u.Code, err = ParseCode(code); err != nil {
		return u, &UnitError{Code: code, Reason: "bad code property", Err: err}
	}
	if u.Name, err = str(PropName); err != nil {
		return u, &UnitError{Code: code, Reason: err.Error()}
	}
	parent, err := str(PropParent)
	if err != nil {
		return u, &UnitError{Code: code, Reason: err.Error()}
	}
	u.Parent = Code(parent)
	level, err := str(PropLevel)
	if err != nil {
		return u, &UnitError{Code: code, Reason: err.Error()}
	}
	if level != "" && level != u.Level().String() {
		return u, &UnitError{Code: code, Reason: fmt.Sprintf("level %q contradicts the code, which is a %s", level, u.Level())}
	}
	switch g := f.Geometry.(type) {
	case nil:
	case geo.Polygon:
		u.Boundary = geo.MultiPolygon{g}
	case geo.MultiPolygon:
		u.Boundary = g
	default:
		return u, &UnitError{Code: code, Reason: fmt.Sprintf("boundary must be a Polygon or MultiPolygon, not %s", g.GeoJSONType())}
	}
	return u, nil
}
