package risk

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/geo"
)

// ReadingRule turns a metric's readings from a point's linked sensors into
// a signal: a tank level of 90% or more raises the tank to orange, 95% to
// red; a main's pressure falling to 0.15 MPa raises it to red (S4).
type ReadingRule struct {
	Metric string // e.g. "tank-level"; readings of other metrics are ignored
	// Classes, if set, limits the rule to points of these hazard classes.
	Classes []string
	// Bands, highest colour first: a reading at or above Threshold (at or
	// below, when Falling) raises the point to Colour. A reading in no band
	// clears the signal.
	Bands   []ReadingBand
	Falling bool
	// TTL is how long one reading holds the signal (default
	// Config.SignalTTL): a sensor that goes quiet does not hold a point up
	// for ever.
	TTL  time.Duration
	Unit string // for reasons, e.g. "%"
}

// ReadingBand is one threshold of a ReadingRule.
type ReadingBand struct {
	Colour    Colour
	Threshold float64
}

func (r ReadingRule) validate() error {
	if validToken(r.Metric, 64) != "" {
		return invalid("metric", "%q is not a metric name", r.Metric)
	}
	if len(r.Bands) == 0 {
		return missing("bands", "a reading rule needs at least one band")
	}
	if r.TTL < 0 {
		return invalid("ttl", "negative")
	}
	for i, b := range r.Bands {
		if b.Colour < Blue || b.Colour > Red || math.IsNaN(b.Threshold) || math.IsInf(b.Threshold, 0) {
			return invalid(fmt.Sprintf("bands[%d]", i), "needs a colour and a finite threshold")
		}
		if i > 0 {
			prev := r.Bands[i-1]
			if b.Colour >= prev.Colour || (!r.Falling && b.Threshold >= prev.Threshold) || (r.Falling && b.Threshold <= prev.Threshold) {
				return invalid(fmt.Sprintf("bands[%d]", i), "list bands from the highest colour down, with thresholds in order")
			}
		}
	}
	return nil
}

func (r ReadingRule) clone() ReadingRule {
	r.Classes = slices.Clone(r.Classes)
	r.Bands = slices.Clone(r.Bands)
	return r
}

// band returns the band v falls in, if any.
func (r *ReadingRule) band(v float64) (ReadingBand, bool) {
	for _, b := range r.Bands {
		if (!r.Falling && v >= b.Threshold) || (r.Falling && v <= b.Threshold) {
			return b, true
		}
	}
	return ReadingBand{}, false
}

// Reading is one measurement of a sensor linked to risk points, as the
// application hands it over from the sensor side (a bus event, typically).
type Reading struct {
	Sensor string
	Metric string
	Value  float64 // raw telemetry
	At     time.Time
	Source string // the event ID, for provenance
}

// ObserveReading applies the rules for r.Metric to every point linked to
// r.Sensor: a reading in a band raises (or replaces) the signal
// "reading:<sensor>:<metric>", one in no band clears it. A reading older
// than the signal it would replace is ignored, so late data never
// overrides newer. A reading in no band on a point without the signal
// writes nothing: a sensor's normal stream costs a read per linked point,
// not a write. It returns the points that changed. The actor — the
// sensor system — needs ActionSignal in each point's grid.
func (s *Service) ObserveReading(ctx context.Context, r Reading) ([]Point, error) {
	switch {
	case r.Sensor == "":
		return nil, missing("reading.sensor", "a reading names its sensor")
	case math.IsNaN(r.Value) || math.IsInf(r.Value, 0):
		return nil, invalid("reading.value", "not a finite number")
	case r.At.IsZero():
		return nil, missing("reading.at", "a reading needs its time")
	}
	rules := s.rules[r.Metric]
	if len(rules) == 0 {
		return nil, nil
	}
	points, err := s.store.PointsBySensor(ctx, r.Sensor)
	if err != nil {
		return nil, err
	}
	at := r.At.UTC().Truncate(time.Microsecond)
	key := "reading:" + r.Sensor + ":" + r.Metric
	var changed []Point
	for i := range points {
		p := &points[i]
		var rule *ReadingRule
		for j := range rules {
			if len(rules[j].Classes) == 0 || contains(rules[j].Classes, p.Class) {
				rule = &rules[j]
				break
			}
		}
		if rule == nil {
			continue
		}
		band, in := rule.band(r.Value)
		next, err := s.change(ctx, p.ID, ActionSignal, "", func(p *Point, _ string, now time.Time) error {
			if i := slices.IndexFunc(p.Signals, func(x Signal) bool { return x.Key == key }); i >= 0 && p.Signals[i].From.After(at) {
				return errLate
			}
			if !in {
				n := len(p.Signals)
				if p.Signals = slices.DeleteFunc(p.Signals, func(x Signal) bool { return x.Key == key }); len(p.Signals) == n {
					return errUnchanged // the usual reading: nothing to write
				}
				return nil
			}
			ttl := rule.TTL
			if ttl == 0 {
				ttl = s.cfg.SignalTTL
			}
			op := "≥"
			if rule.Falling {
				op = "≤"
			}
			s.applySignal(p, Signal{
				Key: key, Kind: "reading", Colour: band.Colour, Source: r.Source, From: at, Until: at.Add(ttl),
				Reason: fmt.Sprintf("%s %s = %s%s %s %s%s", r.Sensor, r.Metric, fmtFloat(r.Value), rule.Unit, op, fmtFloat(band.Threshold), rule.Unit),
			}, now)
			return nil
		})
		switch {
		case errors.Is(err, errLate), errors.Is(err, errUnchanged):
		case err != nil:
			return changed, err
		default:
			changed = append(changed, next)
		}
	}
	return changed, nil
}

var (
	errLate      = errors.New("risk: late reading")
	errUnchanged = errors.New("risk: reading changes nothing")
)

func fmtFloat(f float64) string { return strings.TrimSuffix(fmt.Sprintf("%g", f), ".0") }

// Nearby is a live hazard around a place that raises the points near it —
// typically an open incident (a gas leak, a fire) reported on the bus by
// the incident side: points within Radius are raised to Colour until the
// event is closed or Until passes.
type Nearby struct {
	// Key identifies the event, e.g. "incident:<id>"; a later Nearby with
	// the same key replaces it.
	Key    string
	Kind   string // default "incident"
	Point  geo.Point
	Radius float64 // metres, > 0
	Colour Colour
	Reason string
	Source string
	Until  time.Time // default now + Config.SignalTTL
	// Closed clears the signal from the points within Radius.
	Closed bool
}

// ObserveNearby raises (or, for a closed event, clears) the signal Key on
// every point within Radius of Point that the actor may signal; points the
// actor may not touch are skipped. It returns the IDs of the points
// changed, nearest first.
func (s *Service) ObserveNearby(ctx context.Context, n Nearby) ([]uuid.UUID, error) {
	if n.Key == "" {
		return nil, missing("nearby.key", "a nearby event needs a key")
	}
	if err := n.Point.Validate(); err != nil {
		return nil, &InputError{Field: "nearby.point", Err: err}
	}
	if !(n.Radius > 0) || n.Radius > 100_000 {
		return nil, invalid("nearby.radius", "%v m outside (0, 100 km]", n.Radius)
	}
	if !n.Closed && (n.Colour < Blue || n.Colour > Red) {
		return nil, invalid("nearby.colour", "%v is not one of the four colours", n.Colour)
	}
	if n.Kind == "" {
		n.Kind = "incident"
	}
	if _, err := access.ActorFrom(ctx); err != nil {
		return nil, err
	}
	hits, err := s.store.PointsNear(ctx, n.Point, n.Radius)
	if err != nil {
		return nil, err
	}
	var changed []uuid.UUID
	for _, h := range hits {
		if !s.az.Authorize(ctx, ActionSignal, access.Resource{Kind: ResourceKind, ID: h.ID.String(), Jurisdiction: h.Grid}).Allowed {
			continue
		}
		_, err := s.change(ctx, h.ID, ActionSignal, "", func(p *Point, _ string, now time.Time) error {
			if n.Closed {
				p.Signals = slices.DeleteFunc(p.Signals, func(x Signal) bool { return x.Key == n.Key })
				return nil
			}
			s.applySignal(p, Signal{
				Key: n.Key, Kind: n.Kind, Colour: n.Colour, Source: n.Source, Until: n.Until,
				Reason: fmt.Sprintf("%s within %.0f m: %s", n.Kind, h.Distance, n.Reason),
			}, now)
			return nil
		})
		if err != nil {
			return changed, err
		}
		changed = append(changed, h.ID)
	}
	return changed, nil
}

// Observation is what a bus message becomes for the risk side: a sensor
// reading or a nearby event (or both nil, to ignore the message).
type Observation struct {
	Reading *Reading
	Nearby  *Nearby
}

// Handler returns a bus.Handler that decodes each message with decode and
// applies it as actor (the system the events come from, e.g. a
// sensor-system actor). Messages that cannot apply — decode or validation
// errors matching ErrInvalidInput or ErrMissingInput, or a denial — are
// acknowledged and logged, since redelivery cannot fix them; other errors
// (a store failure) ask for redelivery. Applying a message twice gives the same state, as signals
// are keyed.
func (s *Service) Handler(actor access.Actor, decode func(bus.Message) (Observation, error)) bus.Handler {
	return func(ctx context.Context, m bus.Message) error {
		ctx = access.WithActor(ctx, actor)
		o, err := decode(m)
		if err == nil {
			if o.Reading != nil {
				if o.Reading.Source == "" {
					o.Reading.Source = m.ID
				}
				_, err = s.ObserveReading(ctx, *o.Reading)
			}
			if err == nil && o.Nearby != nil {
				if o.Nearby.Source == "" {
					o.Nearby.Source = m.ID
				}
				_, err = s.ObserveNearby(ctx, *o.Nearby)
			}
		}
		if errors.Is(err, ErrInvalidInput) || errors.Is(err, ErrMissingInput) || errors.Is(err, access.ErrDenied) {
			s.log.Warn("risk: dropping a message that cannot apply", "id", m.ID, "subject", m.Subject, "err", err)
			return nil
		}
		return err
	}
}
