package risk

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/pii"
	"github.com/govkit/govkit/region"
)

// Duty is the level at which a responsible person answers for a risk
// point (包保责任): the enterprise itself, the grid, the street, the
// district.
type Duty string

// The levels of responsibility.
const (
	EnterpriseDuty Duty = "enterprise"
	GridDuty       Duty = "grid"
	StreetDuty     Duty = "street"
	DistrictDuty   Duty = "district"
)

// Responsible is the person answering for a risk point at one level. Name
// and phone are personal data and mask themselves in every output.
type Responsible struct {
	Duty    Duty
	ActorID string   // pseudonymous actor ID, for notifications and access
	Name    pii.Data // optional
	Phone   pii.Data // optional
}

// Control is a measure in place at a risk point (管控措施): an engineering
// control, a management rule, protective equipment, an emergency measure.
type Control struct {
	Kind string // e.g. "engineering", "management", "ppe", "emergency"
	Name string // e.g. "储罐液位高高联锁"
}

// Point is a risk point (风险点): a place or installation that can cause
// harm, with its hazard class, where it is, who owns it and answers for
// it, what controls it, which sensors watch it, its static assessment, the
// live signals that raise it, and the level that results.
type Point struct {
	ID    uuid.UUID
	Name  string
	Class string // a code of the hazard-class catalogue
	// Geometry is a geo.Point, geo.LineString (a pipeline segment),
	// geo.Polygon or geo.MultiPolygon.
	Geometry geo.Geometry
	// Anchor is where the point is indexed and drawn as a marker: the
	// point itself, or a position on the shape (the outer ring's centroid
	// when it lies inside, else a vertex). Computed.
	Anchor geo.Point
	// Grid is the grid the anchor lies in, and Path the codes from the
	// city down to it. Located by the service unless given.
	Grid region.Code
	Path []region.Code
	// Enterprise is the ID of the owning enterprise, if any.
	Enterprise  string
	Responsible []Responsible
	Controls    []Control
	// Sensors are the IDs of devices linked to the point: their readings
	// become signals (Service.ObserveReading).
	Sensors []string
	// Holdings are the hazardous chemicals held, for GB 18218.
	Holdings []Holding
	// Assessment is the latest static assessment; nil before the first.
	Assessment *Assessment
	// Signals are the live signals raising the point, active or not yet
	// pruned.
	Signals []Signal
	// Level is the point's level as of Updated (or the expiry of a signal,
	// which the service applies by timer).
	Level   Level
	Version int64
	Created time.Time
	Updated time.Time
}

// Signal is a live reason to raise a point above its static assessment: a
// tank level over a threshold, an open incident nearby, a meteorological
// warning over its basin. Signals expire: one that is not renewed or
// cleared stops counting at Until.
type Signal struct {
	// Key identifies the signal on the point; raising a signal with the
	// same key replaces it, so repeated events are idempotent. E.g.
	// "reading:T-3:level", "incident:<id>", "warning:<id>".
	Key    string
	Kind   string // "reading", "incident", "warning", or the application's own
	Colour Colour // the level the signal raises the point to, at least
	Reason string // human-readable, e.g. "液位 92% ≥ 90%"
	Source string // provenance: an event ID, a device ID
	From   time.Time
	Until  time.Time // required; the service defaults it to From + Config.SignalTTL
}

// Active reports whether s counts at now.
func (s Signal) Active(now time.Time) bool {
	return !now.Before(s.From) && now.Before(s.Until)
}

// Level is a point's effective level: the maximum of the static
// assessment and the active signals, with the reasons for it.
type Level struct {
	Colour Colour
	// Static is the colour of the current assessment (None if none).
	Static Colour
	// StaticExpired is set when the assessment's validity has passed; its
	// colour still counts until it is redone.
	StaticExpired bool
	// Reasons lists what holds the level at Colour: the assessment and/or
	// the signals that reach it, highest first.
	Reasons []string
	// Raised lists the keys of the active signals above the static
	// colour.
	Raised []string
	At     time.Time
}

// RaisedAbove reports whether live signals hold the point above its
// static assessment.
func (l Level) RaisedAbove() bool { return l.Colour > l.Static }

// computeLevel derives p's level at now.
func computeLevel(p *Point, now time.Time) Level {
	l := Level{At: now}
	if a := p.Assessment; a != nil {
		l.Static = a.Colour
		l.StaticExpired = a.Expired(now)
	}
	l.Colour = l.Static
	var active []Signal
	for _, s := range p.Signals {
		if s.Active(now) {
			active = append(active, s)
			l.Colour = Max(l.Colour, s.Colour)
		}
	}
	slices.SortStableFunc(active, func(a, b Signal) int { return int(b.Colour) - int(a.Colour) })
	if p.Assessment != nil && l.Static == l.Colour {
		r := fmt.Sprintf("static %s: %s", p.Assessment.Method, p.Assessment.Derivation.Band)
		if l.StaticExpired {
			r += " (assessment expired " + p.Assessment.ValidUntil.Format(time.RFC3339) + ")"
		}
		l.Reasons = append(l.Reasons, r)
	}
	for _, s := range active {
		if s.Colour > l.Static {
			l.Raised = append(l.Raised, s.Key)
		}
		if s.Colour == l.Colour && l.Colour > None {
			l.Reasons = append(l.Reasons, fmt.Sprintf("%s %s → %s until %s: %s", s.Kind, s.Key, s.Colour, s.Until.Format(time.RFC3339), s.Reason))
		}
	}
	return l
}

// nextChange returns the next time after now at which p's level may
// change by itself — a signal starting or ending, the assessment expiring —
// or zero.
func nextChange(p *Point, now time.Time) time.Time {
	var t time.Time
	consider := func(at time.Time) {
		if at.After(now) && (t.IsZero() || at.Before(t)) {
			t = at
		}
	}
	for _, s := range p.Signals {
		consider(s.From)
		consider(s.Until)
	}
	if p.Assessment != nil {
		consider(p.Assessment.ValidUntil)
	}
	return t
}

// Clone returns a deep copy of p.
func (p Point) Clone() Point {
	p.Geometry = cloneGeometry(p.Geometry)
	p.Path = slices.Clone(p.Path)
	p.Responsible = slices.Clone(p.Responsible)
	p.Controls = slices.Clone(p.Controls)
	p.Sensors = slices.Clone(p.Sensors)
	if p.Holdings != nil {
		h := make([]Holding, len(p.Holdings))
		for i, x := range p.Holdings {
			h[i] = Holding{Substance: x.Substance, Quantity: cloneDecimal(x.Quantity)}
		}
		p.Holdings = h
	}
	if p.Assessment != nil {
		a := p.Assessment.clone()
		p.Assessment = &a
	}
	p.Signals = slices.Clone(p.Signals)
	p.Level.Reasons = slices.Clone(p.Level.Reasons)
	p.Level.Raised = slices.Clone(p.Level.Raised)
	return p
}

func cloneGeometry(g geo.Geometry) geo.Geometry {
	switch v := g.(type) {
	case geo.LineString:
		return slices.Clone(v)
	case geo.Polygon:
		return clonePolygon(v)
	case geo.MultiPolygon:
		out := make(geo.MultiPolygon, len(v))
		for i, p := range v {
			out[i] = clonePolygon(p)
		}
		return out
	}
	return g
}

func clonePolygon(p geo.Polygon) geo.Polygon {
	out := make(geo.Polygon, len(p))
	for i, r := range p {
		out[i] = slices.Clone(r)
	}
	return out
}

// checkGeometry validates g as a risk point's shape.
func checkGeometry(g geo.Geometry) error {
	switch v := g.(type) {
	case nil:
		return missing("geometry", "a risk point needs a point, line or polygon")
	case geo.Point, geo.LineString, geo.Polygon, geo.MultiPolygon:
		if err := v.Validate(); err != nil {
			return &InputError{Field: "geometry", Reason: "invalid " + v.GeoJSONType(), Err: err}
		}
		return nil
	}
	return invalid("geometry", "%T is not a supported shape (use geo.Point, geo.LineString, geo.Polygon or geo.MultiPolygon)", g)
}

// anchorOf returns where a valid geometry is indexed.
func anchorOf(g geo.Geometry) geo.Point {
	switch v := g.(type) {
	case geo.Point:
		return v
	case geo.LineString:
		return v[len(v)/2]
	case geo.Polygon:
		return polygonAnchor(v)
	case geo.MultiPolygon:
		return polygonAnchor(v[0])
	}
	return geo.Point{}
}

// polygonAnchor returns the outer ring's area centroid if it lies inside
// the polygon (holes included), else the first vertex.
func polygonAnchor(p geo.Polygon) geo.Point {
	r := p[0]
	var a, cx, cy float64
	for i := 0; i+1 < len(r); i++ {
		x0, y0, x1, y1 := r[i].Lon, r[i].Lat, r[i+1].Lon, r[i+1].Lat
		f := x0*y1 - x1*y0
		a += f
		cx += (x0 + x1) * f
		cy += (y0 + y1) * f
	}
	if a != 0 {
		c := geo.Point{Lat: cy / (3 * a), Lon: cx / (3 * a)}
		if c.Validate() == nil && p.Contains(c) {
			return c
		}
	}
	return r[0]
}

// vertices returns the positions of g that an area test looks at: the
// anchor and every vertex of the outer boundary.
func vertices(g geo.Geometry) []geo.Point {
	switch v := g.(type) {
	case geo.Point:
		return []geo.Point{v}
	case geo.LineString:
		return v
	case geo.Polygon:
		return v[0]
	case geo.MultiPolygon:
		var out []geo.Point
		for _, p := range v {
			out = append(out, p[0]...)
		}
		return out
	}
	return nil
}

// Limits on a point's descriptive fields.
const (
	MaxNameLen   = 200
	MaxListItems = 256
)

// validate checks p's descriptive fields (not geometry or class).
func (p *Point) validateFields() error {
	if strings.TrimSpace(p.Name) == "" {
		return missing("name", "a risk point needs a name")
	}
	if len(p.Name) > MaxNameLen {
		return invalid("name", "longer than %d bytes", MaxNameLen)
	}
	if len(p.Responsible) > MaxListItems || len(p.Controls) > MaxListItems || len(p.Sensors) > MaxListItems || len(p.Holdings) > MaxListItems {
		return invalid("point", "more than %d responsible persons, controls, sensors or holdings", MaxListItems)
	}
	for i, r := range p.Responsible {
		switch r.Duty {
		case EnterpriseDuty, GridDuty, StreetDuty, DistrictDuty:
		default:
			return invalid(fmt.Sprintf("responsible[%d].duty", i), "unknown duty %q", r.Duty)
		}
		if r.ActorID == "" && r.Name.IsZero() {
			return missing(fmt.Sprintf("responsible[%d]", i), "a responsible person needs an actor ID or a name")
		}
	}
	for i, c := range p.Controls {
		if strings.TrimSpace(c.Name) == "" {
			return missing(fmt.Sprintf("controls[%d].name", i), "a control needs a name")
		}
	}
	seen := map[string]bool{}
	for i, s := range p.Sensors {
		if s == "" || len(s) > 128 {
			return invalid(fmt.Sprintf("sensors[%d]", i), "a sensor ID is 1–128 bytes")
		}
		if seen[s] {
			return invalid(fmt.Sprintf("sensors[%d]", i), "sensor %q linked twice", s)
		}
		seen[s] = true
	}
	for i, h := range p.Holdings {
		if h.Substance == "" {
			return missing(fmt.Sprintf("holdings[%d].substance", i), "a holding names its substance")
		}
		if h.Quantity.Sign() < 0 {
			return invalid(fmt.Sprintf("holdings[%d].quantity", i), "negative")
		}
	}
	return nil
}
