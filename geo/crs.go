package geo

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// CRS names the coordinate reference system a Point's degrees are in.
// Chinese map providers do not serve WGS-84: AMap (Gaode), Tencent and
// Google's China maps use GCJ-02, Baidu uses BD-09, while GPS and Beidou
// receivers report WGS-84 (or CGCS2000, centimetres away). Mixing them puts
// a marker hundreds of metres off, so convert at the boundary of the system
// and keep WGS-84 inside it.
//
// The zero value is deliberately not a valid CRS, so that a forgotten field
// is reported by Convert instead of being read as WGS-84.
type CRS int

// The supported coordinate reference systems.
const (
	// WGS84 is the GPS datum; every other package in govkit assumes it.
	WGS84 CRS = iota + 1
	// GCJ02 is the obfuscated datum mandated for maps published in China,
	// used by AMap/Gaode, Tencent and Google China ("Mars coordinates").
	GCJ02
	// BD09 is Baidu's further offset of GCJ02 ("bd09ll" in Baidu's APIs).
	BD09
)

// ErrUnknownCRS is matched by every error about an unknown or unset CRS.
var ErrUnknownCRS = errors.New("geo: unknown coordinate reference system")

// CRSError reports a CRS name or value that is not supported. Name is the
// text given to ParseCRS or, for a bad CRS value, its String form.
type CRSError struct {
	Name string
}

// Error names the rejected CRS and the accepted ones.
func (e *CRSError) Error() string {
	return fmt.Sprintf("geo: unknown coordinate reference system %q (want wgs84, gcj02 or bd09)", e.Name)
}

// Unwrap lets errors.Is(err, ErrUnknownCRS) match.
func (e *CRSError) Unwrap() error { return ErrUnknownCRS }

// String returns "WGS84", "GCJ02" or "BD09", or "CRS(n)" for other values.
func (c CRS) String() string {
	switch c {
	case WGS84:
		return "WGS84"
	case GCJ02:
		return "GCJ02"
	case BD09:
		return "BD09"
	}
	return fmt.Sprintf("CRS(%d)", int(c))
}

func (c CRS) valid() bool { return c == WGS84 || c == GCJ02 || c == BD09 }

// ParseCRS returns the CRS named s, ignoring case and surrounding space.
// Besides "wgs84", "gcj02" and "bd09" it accepts the hyphenated forms
// ("WGS-84", "GCJ-02", "BD-09") and Baidu's own name "bd09ll". Any other
// name gives a *CRSError.
func ParseCRS(s string) (CRS, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "wgs84", "wgs-84":
		return WGS84, nil
	case "gcj02", "gcj-02":
		return GCJ02, nil
	case "bd09", "bd-09", "bd09ll":
		return BD09, nil
	}
	return 0, &CRSError{Name: s}
}

// MarshalText encodes c as its String form so that a CRS reads naturally in
// JSON and YAML configuration; an invalid c is an error.
func (c CRS) MarshalText() ([]byte, error) {
	if !c.valid() {
		return nil, &CRSError{Name: c.String()}
	}
	return []byte(c.String()), nil
}

// UnmarshalText decodes a name accepted by ParseCRS.
func (c *CRS) UnmarshalText(text []byte) error {
	v, err := ParseCRS(string(text))
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// Convert returns p, given in from, expressed in to. It fails with a
// *CoordinateError if p is invalid or the result falls outside the valid
// range (BD-09 shifts every point by up to ~0.007°, which can push a point
// at the pole or the antimeridian over the edge), and with a *CRSError if
// from or to is not one of WGS84, GCJ02 and BD09.
//
// See WGS84ToGCJ02 for where the GCJ-02 offset applies and how accurate the
// inverse conversions are.
func Convert(p Point, from, to CRS) (Point, error) {
	if err := p.Validate(); err != nil {
		return Point{}, err
	}
	for _, c := range [...]CRS{from, to} {
		if !c.valid() {
			return Point{}, &CRSError{Name: c.String()}
		}
	}
	var q Point
	switch {
	case from == to:
		return p, nil
	case from == WGS84 && to == GCJ02:
		q = WGS84ToGCJ02(p)
	case from == GCJ02 && to == WGS84:
		q = GCJ02ToWGS84(p)
	case from == GCJ02 && to == BD09:
		q = GCJ02ToBD09(p)
	case from == BD09 && to == GCJ02:
		q = BD09ToGCJ02(p)
	case from == WGS84 && to == BD09:
		q = WGS84ToBD09(p)
	default: // BD09 to WGS84
		q = BD09ToWGS84(p)
	}
	if q.Validate() != nil {
		return Point{}, &CoordinateError{Lat: q.Lat, Lon: q.Lon, Reason: fmt.Sprintf("%v to %v result is out of range", from, to)}
	}
	return q, nil
}

// The rough bounding box of China within which GCJ-02 offsets positions.
// Every published implementation of the algorithm uses this box, so points
// outside it must be left alone to agree with the providers.
const (
	gcjMinLon = 72.004
	gcjMaxLon = 137.8347
	gcjMinLat = 0.8293
	gcjMaxLat = 55.8271
)

// Parameters of the Krasovsky 1940 ellipsoid, on which GCJ-02 is defined.
const (
	gcjA  = 6378245.0
	gcjEE = 0.00669342162296594323
)

// gcjInBox reports whether the GCJ-02 offset applies at p. NaN is outside,
// so the direct conversions pass it through instead of looping on it.
func gcjInBox(p Point) bool {
	return p.Lon >= gcjMinLon && p.Lon <= gcjMaxLon && p.Lat >= gcjMinLat && p.Lat <= gcjMaxLat
}

// gcjOffset returns the GCJ-02 offset in degrees at WGS-84 position (lat,
// lon): the published polynomial-plus-sines distortion, evaluated relative
// to (35°N, 105°E) and scaled from metres on the Krasovsky ellipsoid.
func gcjOffset(lat, lon float64) (dLat, dLon float64) {
	x, y := lon-105, lat-35
	// The sine terms shared by both axes.
	common := (20*math.Sin(6*x*math.Pi) + 20*math.Sin(2*x*math.Pi)) * 2 / 3
	dy := -100 + 2*x + 3*y + 0.2*y*y + 0.1*x*y + 0.2*math.Sqrt(math.Abs(x)) + common +
		(20*math.Sin(y*math.Pi)+40*math.Sin(y/3*math.Pi))*2/3 +
		(160*math.Sin(y/12*math.Pi)+320*math.Sin(y*math.Pi/30))*2/3
	dx := 300 + x + 2*y + 0.1*x*x + 0.1*x*y + 0.1*math.Sqrt(math.Abs(x)) + common +
		(20*math.Sin(x*math.Pi)+40*math.Sin(x/3*math.Pi))*2/3 +
		(150*math.Sin(x/12*math.Pi)+300*math.Sin(x/30*math.Pi))*2/3

	rad := lat / 180 * math.Pi
	s := math.Sin(rad)
	magic := 1 - gcjEE*s*s
	sqrtMagic := math.Sqrt(magic)
	dLat = dy * 180 / ((gcjA * (1 - gcjEE)) / (magic * sqrtMagic) * math.Pi)
	dLon = dx * 180 / (gcjA / sqrtMagic * math.Cos(rad) * math.Pi)
	return dLat, dLon
}

// Iteration limits for the inverse conversions. The offsets change by under
// 0.3% per degree of position, so each fixed-point step gains more than two
// decimal digits: 1e-12° (0.1 µm) takes four or five steps. The cap only
// matters near 105°E, where a square-root term of the offset is not smooth
// and convergence stalls around 1e-12° anyway.
const (
	inverseTolerance = 1e-12
	inverseMaxSteps  = 20
)

// WGS84ToGCJ02 converts a WGS-84 point to GCJ-02 (AMap, Tencent).
//
// The offset, 100–700 m, applies only inside the rough box of China that all
// implementations use (longitude 72.004–137.8347°E, latitude
// 0.8293–55.8271°N); outside it the conversion is the identity. The box also
// covers Mongolia, Korea, western Japan and much of South-East Asia, where
// providers do not actually offset, so do not convert points known to be
// abroad. The direct conversions do not validate p; use Convert for input
// from outside.
func WGS84ToGCJ02(p Point) Point {
	if !gcjInBox(p) {
		return p
	}
	dLat, dLon := gcjOffset(p.Lat, p.Lon)
	return Point{Lat: p.Lat + dLat, Lon: p.Lon + dLon}
}

// GCJ02ToWGS84 converts a GCJ-02 point to WGS-84. It inverts WGS84ToGCJ02 by
// fixed-point iteration to within 1e-12° (far below a millimetre), unlike the
// common one-step approximation, which is off by up to 5 m.
//
// Round trips are exact except within a kilometre of the edge of the China
// box (see WGS84ToGCJ02), where a point and its image can lie on different
// sides of the edge; no such point is in China.
func GCJ02ToWGS84(p Point) Point {
	if !gcjInBox(p) {
		return p
	}
	// Solve w + offset(w) = p by w ← p − offset(w), starting from w = p.
	w := p
	for range inverseMaxSteps {
		dLat, dLon := gcjOffset(w.Lat, w.Lon)
		next := Point{Lat: p.Lat - dLat, Lon: p.Lon - dLon}
		step := math.Max(math.Abs(next.Lat-w.Lat), math.Abs(next.Lon-w.Lon))
		w = next
		if step < inverseTolerance {
			break
		}
	}
	return w
}

// xPi is π·3000/180, the frequency of Baidu's BD-09 distortion.
const xPi = math.Pi * 3000 / 180

// GCJ02ToBD09 converts a GCJ-02 point to BD-09 (Baidu) with Baidu's
// published formula. Unlike GCJ-02, BD-09 is applied everywhere, as every
// implementation does.
func GCJ02ToBD09(p Point) Point {
	x, y := p.Lon, p.Lat
	z := math.Sqrt(x*x+y*y) + 0.00002*math.Sin(y*xPi)
	theta := math.Atan2(y, x) + 0.000003*math.Cos(x*xPi)
	return Point{Lat: z*math.Sin(theta) + 0.006, Lon: z*math.Cos(theta) + 0.0065}
}

// bd09ToGCJ02Approx is the standard closed-form inverse of GCJ02ToBD09. It
// drops second-order terms, so within China it is off by up to 2e-6°
// (0.23 m).
func bd09ToGCJ02Approx(p Point) Point {
	x, y := p.Lon-0.0065, p.Lat-0.006
	z := math.Sqrt(x*x+y*y) - 0.00002*math.Sin(y*xPi)
	theta := math.Atan2(y, x) - 0.000003*math.Cos(x*xPi)
	return Point{Lat: z * math.Sin(theta), Lon: z * math.Cos(theta)}
}

// BD09ToGCJ02 converts a BD-09 point to GCJ-02. It refines the standard
// closed-form inverse, which is off by up to 0.23 m, by fixed-point
// iteration, so GCJ02ToBD09(BD09ToGCJ02(p)) equals p to within 1e-12°.
// Results therefore differ from other libraries' by up to that 0.23 m.
func BD09ToGCJ02(p Point) Point {
	g := bd09ToGCJ02Approx(p)
	for range inverseMaxSteps {
		b := GCJ02ToBD09(g)
		dLat, dLon := b.Lat-p.Lat, b.Lon-p.Lon
		g = Point{Lat: g.Lat - dLat, Lon: g.Lon - dLon}
		if !(math.Max(math.Abs(dLat), math.Abs(dLon)) >= inverseTolerance) { // also stops on NaN
			break
		}
	}
	return g
}

// WGS84ToBD09 converts a WGS-84 point to BD-09 through GCJ-02.
func WGS84ToBD09(p Point) Point { return GCJ02ToBD09(WGS84ToGCJ02(p)) }

// BD09ToWGS84 converts a BD-09 point to WGS-84 through GCJ-02.
func BD09ToWGS84(p Point) Point { return GCJ02ToWGS84(BD09ToGCJ02(p)) }
