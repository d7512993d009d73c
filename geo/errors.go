package geo

import (
	"errors"
	"fmt"
)

// ErrInvalidCoordinate is matched by every error about a latitude or longitude
// that is NaN, infinite or out of range.
var ErrInvalidCoordinate = errors.New("geo: invalid coordinate")

// ErrInvalidGeometry is matched by every error about a shape that cannot be
// built: a ring with too few positions, an open ring, an empty polygon.
var ErrInvalidGeometry = errors.New("geo: invalid geometry")

// ErrInvalidGeoJSON is matched by every error from decoding GeoJSON.
var ErrInvalidGeoJSON = errors.New("geo: invalid GeoJSON")

// CoordinateError reports which coordinate was rejected and why.
type CoordinateError struct {
	Lat, Lon float64
	Reason   string
}

// Error describes the problem.
func (e *CoordinateError) Error() string {
	return fmt.Sprintf("geo: invalid coordinate (lat %v, lon %v): %s", e.Lat, e.Lon, e.Reason)
}

// Unwrap lets errors.Is(err, ErrInvalidCoordinate) match.
func (e *CoordinateError) Unwrap() error { return ErrInvalidCoordinate }

// GeometryError reports a shape that cannot be built. Path locates the
// offending part, for example "polygon[0].ring[1]".
type GeometryError struct {
	Path   string
	Reason string
	Err    error // an underlying *CoordinateError, if any
}

// Error describes the problem.
func (e *GeometryError) Error() string {
	msg := "geo: invalid geometry"
	if e.Path != "" {
		msg += " at " + e.Path
	}
	msg += ": " + e.Reason
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap lets errors.Is match both ErrInvalidGeometry and, when the cause was
// a coordinate, ErrInvalidCoordinate.
func (e *GeometryError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrInvalidGeometry, e.Err}
	}
	return []error{ErrInvalidGeometry}
}
