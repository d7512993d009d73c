package risk

import (
	"context"
	"slices"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/region"
)

// readFilter drops the hits the actor may not read. A read of a point is
// decided by its jurisdiction alone (the resource carries no ID, owner or
// department here), so the authorizer is asked once per grid, not once per
// hit: a 5 km query over Chongqing's 330,000 points returns ~120 hits in a
// handful of grids.
func (s *Service) readFilter(ctx context.Context, hits []Hit) []Hit {
	type decision struct {
		grid region.Code
		ok   bool
	}
	var buf [32]decision
	decided := buf[:0]
	return slices.DeleteFunc(hits, func(h Hit) bool {
		for _, d := range decided {
			if d.grid == h.Grid {
				return !d.ok
			}
		}
		ok := s.az.Authorize(ctx, ActionRead, access.Resource{Kind: ResourceKind, Jurisdiction: h.Grid}).Allowed
		decided = append(decided, decision{h.Grid, ok})
		return !ok
	})
}

// Within returns the points within meters of center that the actor may
// read (ActionRead in their grid), nearest first. It reads the spatial
// index only, not the points: a Hit has what a map marker needs.
func (s *Service) Within(ctx context.Context, center geo.Point, meters float64) ([]Hit, error) {
	if _, err := access.ActorFrom(ctx); err != nil {
		return nil, err
	}
	hits, err := s.store.PointsNear(ctx, center, meters)
	if err != nil {
		return nil, err
	}
	return s.readFilter(ctx, hits), nil
}

// InArea returns the points inside area (anchor or a boundary vertex
// inside) that the actor may read, nearest to the area's centre first.
func (s *Service) InArea(ctx context.Context, area geo.MultiPolygon) ([]Hit, error) {
	if _, err := access.ActorFrom(ctx); err != nil {
		return nil, err
	}
	if err := area.Validate(); err != nil {
		return nil, &InputError{Field: "area", Err: err}
	}
	hits, err := s.pointsInArea(ctx, area)
	if err != nil {
		return nil, err
	}
	return s.readFilter(ctx, hits), nil
}

// InRegion returns one page of the points in a unit's subtree (a grid, a
// street, a district) that the actor may read, with q's other filters.
func (s *Service) InRegion(ctx context.Context, unit region.Code, q Query) (Page, error) {
	if _, err := s.regions.Unit(unit); err != nil {
		return Page{}, &InputError{Field: "unit", Err: err}
	}
	q.Within = unit
	return s.Points(ctx, q)
}

// GeoJSON exports the points matching q that the actor may read, up to
// limit (at most 100,000), as a FeatureCollection for a map: each feature
// has the point's geometry and the properties id, name, class, grid,
// colour (red, orange, yellow, blue, none), fill (a CSS hex colour),
// label (重大风险, …), static (the assessment's colour), raised (whether
// live signals hold it above) and reasons.
func (s *Service) GeoJSON(ctx context.Context, q Query, limit int) (geo.FeatureCollection, error) {
	if limit <= 0 || limit > 100_000 {
		return geo.FeatureCollection{}, invalid("limit", "%d outside 1–100,000", limit)
	}
	if _, err := access.ActorFrom(ctx); err != nil {
		return geo.FeatureCollection{}, err
	}
	var fc geo.FeatureCollection
	q.Limit = MaxLimit
	for len(fc.Features) < limit {
		page, err := s.Points(ctx, q)
		if err != nil {
			return geo.FeatureCollection{}, err
		}
		for i := range page.Points {
			if len(fc.Features) == limit {
				break
			}
			fc.Features = append(fc.Features, Feature(&page.Points[i]))
		}
		if page.Next.String() == "00000000-0000-0000-0000-000000000000" {
			break
		}
		q.After = page.Next
	}
	return fc, nil
}

// Feature returns p as a GeoJSON feature with the properties GeoJSON
// documents.
func Feature(p *Point) geo.Feature {
	reasons := make([]any, len(p.Level.Reasons))
	for i, r := range p.Level.Reasons {
		reasons[i] = r
	}
	return geo.Feature{
		ID:       p.ID.String(),
		Geometry: p.Geometry,
		Properties: map[string]any{
			"name": p.Name, "class": p.Class, "grid": string(p.Grid),
			"colour": p.Level.Colour.String(), "fill": p.Level.Colour.Hex(), "label": p.Level.Colour.Label(),
			"static": p.Level.Static.String(), "raised": p.Level.RaisedAbove(), "reasons": reasons,
		},
	}
}
