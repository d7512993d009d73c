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
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/region"
)

// WarningArea is one area a warning covers, such as a small river basin
// (小流域: Chongqing issues geological-hazard warnings for 4,208 of them).
type WarningArea struct {
	Code string // e.g. the basin's code
	// Scheme names the scheme Code belongs to, the CAP geocode's
	// valueName: "basin" (the default) for a small-basin code, say, or
	// "GB/T 2260" for an administrative division.
	Scheme string
	Name   string
	Area   geo.MultiPolygon
}

// AreaWarning is a warning for a set of areas over a period — a
// meteorological geological-hazard warning (地质灾害气象风险预警) for
// small basins, say — that raises every risk point inside the areas to
// Colour for its duration (S8), and can be published as CAP 1.2.
type AreaWarning struct {
	ID     string // e.g. "CQ-DZ-20250612-003"; 1–128 bytes
	Kind   string // e.g. "geological-hazard"
	Event  string // e.g. "地质灾害气象风险预警"
	Colour Colour
	// Jurisdiction is the region the warning is issued for: only points in
	// it are raised, and the actor needs ActionWarn there.
	Jurisdiction region.Code
	Areas        []WarningArea
	Headline     string
	Description  string
	Instruction  string
	Sender       string // the issuing body, e.g. "重庆市规划和自然资源局"
	From, Until  time.Time
	// Computed by the service.
	Issued    time.Time
	Cancelled time.Time   // zero while in force
	Raised    []uuid.UUID // the points the warning raised
	Version   int64
}

func (w AreaWarning) clone() AreaWarning {
	w.Areas = slices.Clone(w.Areas)
	for i := range w.Areas {
		m := make(geo.MultiPolygon, len(w.Areas[i].Area))
		for j, p := range w.Areas[i].Area {
			m[j] = clonePolygon(p)
		}
		w.Areas[i].Area = m
	}
	w.Raised = slices.Clone(w.Raised)
	return w
}

// MaxWarningAreas bounds the areas of one warning.
const MaxWarningAreas = 10_000

func (w *AreaWarning) validate() error {
	switch {
	case w.ID == "" || len(w.ID) > 128 || strings.ContainsAny(w.ID, " \t\n,"):
		return invalid("warning.id", "1–128 bytes without spaces or commas")
	case w.Colour < Blue || w.Colour > Red:
		return invalid("warning.colour", "%v is not one of the four colours", w.Colour)
	case len(w.Areas) == 0:
		return missing("warning.areas", "a warning covers at least one area")
	case len(w.Areas) > MaxWarningAreas:
		return invalid("warning.areas", "more than %d", MaxWarningAreas)
	case w.From.IsZero() || w.Until.IsZero():
		return missing("warning.period", "a warning needs its start and end")
	case !w.Until.After(w.From):
		return invalid("warning.until", "not after from")
	}
	if _, err := region.ParseCode(string(w.Jurisdiction)); err != nil {
		return &InputError{Field: "warning.jurisdiction", Err: err}
	}
	for i, a := range w.Areas {
		if err := a.Area.Validate(); err != nil {
			return &InputError{Field: fmt.Sprintf("warning.areas[%d]", i), Reason: "invalid area " + a.Code, Err: err}
		}
	}
	return nil
}

// areaContains reports whether p lies in area: its anchor or a vertex of
// its outer boundary inside.
func areaContains(area geo.MultiPolygon, p *Point) bool {
	if area.Contains(p.Anchor) {
		return true
	}
	for _, v := range vertices(p.Geometry) {
		if area.Contains(v) {
			return true
		}
	}
	return false
}

// circumscribe returns a centre and radius whose circle covers b.
func circumscribe(b geo.BBox) (geo.Point, float64) {
	c := b.Center()
	r := 0.0
	for _, corner := range []geo.Point{{Lat: b.MinLat, Lon: b.MinLon}, {Lat: b.MinLat, Lon: b.MaxLon}, {Lat: b.MaxLat, Lon: b.MinLon}, {Lat: b.MaxLat, Lon: b.MaxLon}} {
		r = math.Max(r, geo.Distance(c, corner))
	}
	return c, r + 1
}

// pointsInArea returns the points inside area, in ID order, fetching the
// whole point where the anchor alone cannot tell.
func (s *Service) pointsInArea(ctx context.Context, area geo.MultiPolygon) ([]Hit, error) {
	c, r := circumscribe(area.BBox())
	cands, err := s.store.PointsNear(ctx, c, r)
	if err != nil {
		return nil, err
	}
	var out []Hit
	for _, h := range cands {
		if area.Contains(h.Anchor) {
			out = append(out, h)
			continue
		}
		if h.Shape == "Point" {
			continue
		}
		p, err := s.store.Point(ctx, h.ID)
		if err != nil {
			if errors.Is(err, ErrNotFound) {
				continue
			}
			return nil, err
		}
		if areaContains(area, &p) {
			out = append(out, h)
		}
	}
	return out, nil
}

// IssueWarning records an area warning and raises every point inside its
// areas and its jurisdiction with the signal "warning:<ID>" for the
// warning's period, atomically: the warning, every raised point and their
// events are written together, or nothing is. Issuing the same ID again
// replaces the warning (an update, e.g. extended or upgraded): points it
// no longer covers are cleared. The actor needs ActionWarn in the
// jurisdiction.
func (s *Service) IssueWarning(ctx context.Context, w AreaWarning) (AreaWarning, error) {
	w = w.clone()
	w.From, w.Until = w.From.UTC().Truncate(time.Microsecond), w.Until.UTC().Truncate(time.Microsecond)
	if err := w.validate(); err != nil {
		return AreaWarning{}, err
	}
	if w.Kind == "" {
		w.Kind = "warning"
	}
	actor, err := s.authorize(ctx, ActionWarn, access.Resource{Kind: WarningKind, ID: w.ID, Jurisdiction: w.Jurisdiction})
	if err != nil {
		return AreaWarning{}, err
	}
	for range maxAttempts {
		var out AreaWarning
		out, err = s.issueOnce(ctx, w, actor)
		if !errors.Is(err, ErrConflict) {
			return out, err
		}
	}
	return AreaWarning{}, err
}

func (s *Service) issueOnce(ctx context.Context, w AreaWarning, actor string) (AreaWarning, error) {
	now := s.now()
	w.Version = 0
	prev, err := s.store.Warning(ctx, w.ID)
	switch {
	case errors.Is(err, ErrNotFound):
	case err != nil:
		return AreaWarning{}, err
	default:
		w.Version = prev.Version
		w.Issued = prev.Issued // the first issue, which updates reference
	}
	inside := map[uuid.UUID]bool{}
	for _, a := range w.Areas {
		hits, err := s.pointsInArea(ctx, a.Area)
		if err != nil {
			return AreaWarning{}, err
		}
		for _, h := range hits {
			if h.Grid.Within(w.Jurisdiction) {
				inside[h.ID] = true
			}
		}
	}
	touched := map[uuid.UUID]bool{}
	for id := range inside {
		touched[id] = true
	}
	for _, id := range prev.Raised {
		touched[id] = true
	}
	ids := make([]uuid.UUID, 0, len(touched))
	for id := range touched {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	key := "warning:" + w.ID
	c := Change{}
	var scheduled []*Point
	w.Raised = nil
	for _, id := range ids {
		cur, err := s.store.Point(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		} else if err != nil {
			return AreaWarning{}, err
		}
		next := cur.Clone()
		next.Signals = slices.DeleteFunc(next.Signals, func(x Signal) bool { return x.Key == key || !x.Until.After(now) })
		if inside[id] {
			s.applySignal(&next, Signal{
				Key: key, Kind: w.Kind, Colour: w.Colour, Source: w.ID, From: w.From, Until: w.Until,
				Reason: fmt.Sprintf("%s %s", w.Event, w.Headline),
			}, now)
			w.Raised = append(w.Raised, id)
		}
		next.Level = computeLevel(&next, now)
		next.Version++
		next.Updated = now
		c.UpdatePoints = append(c.UpdatePoints, next)
		if next.Level.Colour != cur.Level.Colour {
			if err := s.event(&c, EventLevelChanged, &next, cur.Level.Colour, actor, now); err != nil {
				return AreaWarning{}, err
			}
		}
	}
	for i := range c.UpdatePoints {
		scheduled = append(scheduled, &c.UpdatePoints[i])
	}
	if w.Issued.IsZero() {
		w.Issued = now
	}
	w.Cancelled = time.Time{}
	w.Version++
	c.PutWarnings = []AreaWarning{w}
	if err := s.warningEvent(&c, EventWarningIssued, &w, actor, now); err != nil {
		return AreaWarning{}, err
	}
	if err := s.store.Apply(ctx, c); err != nil {
		return AreaWarning{}, err
	}
	for _, p := range scheduled {
		s.expiry.Add(p.ID, nextChange(p, now))
	}
	s.after(ctx)
	return w.clone(), nil
}

func (s *Service) warningEvent(c *Change, name string, w *AreaWarning, actor string, now time.Time) error {
	if s.relay == nil {
		return nil
	}
	path, err := s.regions.Path(w.Jurisdiction)
	if err != nil {
		path = []region.Code{w.Jurisdiction}
	}
	m, err := newMessage(s.cfg.SubjectPrefix, path, "warning:"+w.ID, EventData{
		Event: name, Warning: w.ID, Colour: w.Colour, Grid: w.Jurisdiction, Path: path, Actor: actor, Time: now,
		Reasons: []string{fmt.Sprintf("%s %s: %d points raised until %s", w.Event, w.Headline, len(w.Raised), w.Until.Format(time.RFC3339))},
	})
	if err != nil {
		return err
	}
	c.Events = append(c.Events, m)
	return nil
}

// CancelWarning lifts a warning before its end: its signal is removed from
// every point it raised, atomically. The actor needs ActionWarn in the
// warning's jurisdiction.
func (s *Service) CancelWarning(ctx context.Context, id string) (AreaWarning, error) {
	var err error
	for range maxAttempts {
		var w AreaWarning
		w, err = s.cancelOnce(ctx, id)
		if !errors.Is(err, ErrConflict) {
			return w, err
		}
	}
	return AreaWarning{}, err
}

func (s *Service) cancelOnce(ctx context.Context, id string) (AreaWarning, error) {
	w, err := s.store.Warning(ctx, id)
	if err != nil {
		return AreaWarning{}, err
	}
	actor, err := s.authorize(ctx, ActionWarn, access.Resource{Kind: WarningKind, ID: w.ID, Jurisdiction: w.Jurisdiction})
	if err != nil {
		return AreaWarning{}, err
	}
	if !w.Cancelled.IsZero() {
		return w, nil
	}
	now := s.now()
	key := "warning:" + w.ID
	c := Change{}
	for _, pid := range w.Raised {
		cur, err := s.store.Point(ctx, pid)
		if errors.Is(err, ErrNotFound) {
			continue
		} else if err != nil {
			return AreaWarning{}, err
		}
		next := cur.Clone()
		next.Signals = slices.DeleteFunc(next.Signals, func(x Signal) bool { return x.Key == key || !x.Until.After(now) })
		next.Level = computeLevel(&next, now)
		next.Version++
		next.Updated = now
		c.UpdatePoints = append(c.UpdatePoints, next)
		if next.Level.Colour != cur.Level.Colour {
			if err := s.event(&c, EventLevelChanged, &next, cur.Level.Colour, actor, now); err != nil {
				return AreaWarning{}, err
			}
		}
	}
	w.Cancelled = now
	w.Version++
	c.PutWarnings = []AreaWarning{w}
	if err := s.warningEvent(&c, EventWarningCancelled, &w, actor, now); err != nil {
		return AreaWarning{}, err
	}
	if err := s.store.Apply(ctx, c); err != nil {
		return AreaWarning{}, err
	}
	s.after(ctx)
	return w.clone(), nil
}
