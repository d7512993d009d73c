package risk

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/region"
)

// Building is a place where people are registered (登记人口): a
// residential block, a school, a hospital, a market. Hazard impact counts
// its occupants; GB 18218's α counts those within 500 m.
type Building struct {
	ID        string // the caller's ID, e.g. a building code; 1–128 bytes
	Name      string
	Point     geo.Point
	Grid      region.Code // located by the service when empty
	Occupancy int         // registered occupants, ≥ 0
	Kind      string      // e.g. "residential", "school", "hospital"
}

// BuildingHit is a building found by a spatial query.
type BuildingHit struct {
	Building Building
	Distance float64 // metres
}

// RegisterBuilding adds or replaces a building. The actor needs
// ActionRegister on a BuildingKind resource in its grid.
func (s *Service) RegisterBuilding(ctx context.Context, b Building) (Building, error) {
	switch {
	case b.ID == "" || len(b.ID) > 128:
		return Building{}, invalid("building.id", "1–128 bytes")
	case b.Occupancy < 0:
		return Building{}, invalid("building.occupancy", "negative")
	}
	if err := b.Point.Validate(); err != nil {
		return Building{}, &InputError{Field: "building.point", Err: err}
	}
	if b.Grid == "" {
		u, err := s.regions.Locate(b.Point)
		if err != nil {
			return Building{}, &InputError{Field: "building.point", Reason: "lies outside every grid", Err: err}
		}
		b.Grid = u.Code
	} else if _, err := s.regions.Unit(b.Grid); err != nil {
		return Building{}, &InputError{Field: "building.grid", Err: err}
	}
	if _, err := s.authorize(ctx, ActionRegister, access.Resource{Kind: BuildingKind, ID: b.ID, Jurisdiction: b.Grid}); err != nil {
		return Building{}, err
	}
	if err := s.store.Apply(ctx, Change{PutBuildings: []Building{b}}); err != nil {
		return Building{}, err
	}
	return b, nil
}

// Zone is one ring of a hazard: everything within Radius metres of the
// centre and outside the ring inside it. Zones of a point hazard are
// given innermost first, e.g. 500 m lethal, 1,000 m injury, 2,000 m
// evacuation.
type Zone struct {
	Name   string
	Radius float64
	Colour Colour // optional, for maps and warnings
}

// Hazard is an event whose impact is assessed: a point with concentric
// zones (a tank leak, an explosion), or an area (a water outage, a
// flood).
type Hazard struct {
	ID           string
	Name         string
	Jurisdiction region.Code // where it is analysed; the actor needs ActionAnalyse there
	Center       geo.Point   // for a point hazard
	Zones        []Zone      // for a point hazard, innermost first
	Area         geo.MultiPolygon
}

// MaxZones bounds the rings of a point hazard.
const MaxZones = 16

func (h *Hazard) validate() error {
	if _, err := region.ParseCode(string(h.Jurisdiction)); err != nil {
		return &InputError{Field: "hazard.jurisdiction", Err: err}
	}
	if h.Area != nil {
		if len(h.Zones) > 0 {
			return invalid("hazard", "give either zones around a centre or an area, not both")
		}
		if err := h.Area.Validate(); err != nil {
			return &InputError{Field: "hazard.area", Err: err}
		}
		return nil
	}
	if err := h.Center.Validate(); err != nil {
		return &InputError{Field: "hazard.center", Err: err}
	}
	if len(h.Zones) == 0 {
		return missing("hazard.zones", "a point hazard needs at least one zone radius (or give an area)")
	}
	if len(h.Zones) > MaxZones {
		return invalid("hazard.zones", "more than %d", MaxZones)
	}
	for i, z := range h.Zones {
		if !(z.Radius > 0) || z.Radius > 100_000 {
			return invalid(fmt.Sprintf("hazard.zones[%d].radius", i), "%v m outside (0, 100 km]", z.Radius)
		}
		if i > 0 && z.Radius <= h.Zones[i-1].Radius {
			return invalid(fmt.Sprintf("hazard.zones[%d].radius", i), "zones go from the innermost out, with growing radii")
		}
	}
	return nil
}

// Contains reports whether p lies in the hazard (its outermost zone, or
// its area).
func (h *Hazard) Contains(p geo.Point) bool {
	if h.Area != nil {
		return h.Area.Contains(p)
	}
	return len(h.Zones) > 0 && geo.Distance(h.Center, p) <= h.Zones[len(h.Zones)-1].Radius
}

// zoneOf returns the index of the innermost zone holding a point at
// distance d, or -1.
func (h *Hazard) zoneOf(d float64) int {
	for i, z := range h.Zones {
		if d <= z.Radius {
			return i
		}
	}
	return -1
}

// ZoneImpact is what lies in one zone (or the whole area of an area
// hazard).
type ZoneImpact struct {
	Zone       Zone
	RiskPoints []Hit
	Buildings  []BuildingHit
	Population int // registered occupants of the buildings
}

// Impact is what a hazard affects, zone by zone.
type Impact struct {
	Hazard     string
	Zones      []ZoneImpact
	RiskPoints int
	Buildings  int
	Population int
	// ByColour counts the affected risk points by their level.
	ByColour map[Colour]int
}

// Impact computes the risk points, buildings and registered population a
// hazard affects, each counted in the innermost zone that holds it (for
// an area hazard, one zone named after the hazard). Only what lies in the
// hazard's jurisdiction counts. The actor needs ActionAnalyse there.
func (s *Service) Impact(ctx context.Context, h Hazard) (Impact, error) {
	if err := h.validate(); err != nil {
		return Impact{}, err
	}
	if _, err := s.authorize(ctx, ActionAnalyse, access.Resource{Kind: WarningKind, ID: h.ID, Jurisdiction: h.Jurisdiction}); err != nil {
		return Impact{}, err
	}
	out := Impact{Hazard: h.ID, ByColour: map[Colour]int{}}
	if h.Area != nil {
		zi := ZoneImpact{Zone: Zone{Name: h.Name}}
		hits, err := s.pointsInArea(ctx, h.Area)
		if err != nil {
			return Impact{}, err
		}
		for _, p := range hits {
			if p.Grid.Within(h.Jurisdiction) {
				zi.RiskPoints = append(zi.RiskPoints, p)
			}
		}
		c, r := circumscribe(h.Area.BBox())
		bs, err := s.store.BuildingsNear(ctx, c, r)
		if err != nil {
			return Impact{}, err
		}
		for _, b := range bs {
			if b.Building.Grid.Within(h.Jurisdiction) && h.Area.Contains(b.Building.Point) {
				zi.Buildings = append(zi.Buildings, b)
				zi.Population += b.Building.Occupancy
			}
		}
		out.Zones = []ZoneImpact{zi}
	} else {
		out.Zones = make([]ZoneImpact, len(h.Zones))
		for i, z := range h.Zones {
			out.Zones[i].Zone = z
		}
		outer := h.Zones[len(h.Zones)-1].Radius
		hits, err := s.store.PointsNear(ctx, h.Center, outer)
		if err != nil {
			return Impact{}, err
		}
		for _, p := range hits {
			if i := h.zoneOf(p.Distance); i >= 0 && p.Grid.Within(h.Jurisdiction) {
				out.Zones[i].RiskPoints = append(out.Zones[i].RiskPoints, p)
			}
		}
		bs, err := s.store.BuildingsNear(ctx, h.Center, outer)
		if err != nil {
			return Impact{}, err
		}
		for _, b := range bs {
			if i := h.zoneOf(b.Distance); i >= 0 && b.Building.Grid.Within(h.Jurisdiction) {
				out.Zones[i].Buildings = append(out.Zones[i].Buildings, b)
				out.Zones[i].Population += b.Building.Occupancy
			}
		}
	}
	for _, z := range out.Zones {
		out.RiskPoints += len(z.RiskPoints)
		out.Buildings += len(z.Buildings)
		out.Population += z.Population
		for _, p := range z.RiskPoints {
			out.ByColour[p.Colour]++
		}
	}
	return out, nil
}

// Groups turns the buildings of an impact into evacuation groups, one per
// building with occupants, ranked by zone (innermost first).
func (im Impact) Groups() []Group {
	var out []Group
	for zi, z := range im.Zones {
		for _, b := range z.Buildings {
			if b.Building.Occupancy > 0 {
				out = append(out, Group{ID: b.Building.ID, Point: b.Building.Point, People: b.Building.Occupancy, Rank: zi})
			}
		}
	}
	return out
}

// PlanEvacuation computes a hazard's impact and plans the evacuation of
// the registered population of the affected buildings to res (see Plan).
// Shelters, assembly points and depots inside the hazard are not used.
// The actor needs ActionAnalyse in the hazard's jurisdiction.
func (s *Service) PlanEvacuation(ctx context.Context, h Hazard, res Resources) (Impact, EvacuationPlan, error) {
	im, err := s.Impact(ctx, h)
	if err != nil {
		return Impact{}, EvacuationPlan{}, err
	}
	in := PlanInput{Hazard: h, Groups: im.Groups(), Resources: res}
	plan, err := Plan(in)
	if err != nil {
		return Impact{}, EvacuationPlan{}, err
	}
	return im, plan, nil
}

func round1(x float64) float64 { return math.Round(x*10) / 10 }

func sortByDistance[T any](xs []T, dist func(T) float64, id func(T) string) {
	slices.SortFunc(xs, func(a, b T) int {
		if c := cmp.Compare(dist(a), dist(b)); c != 0 {
			return c
		}
		return cmp.Compare(id(a), id(b))
	})
}
