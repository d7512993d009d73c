package risk

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/region"
)

// Change is everything one command writes, applied atomically: risk
// points, buildings, warnings, enterprises, inspections and the events
// announcing them (the outbox), so that state and events never part ways.
type Change struct {
	// CreatePoints holds new points at Version 1.
	CreatePoints []Point
	// UpdatePoints holds changed points carrying their new Version; each
	// applies only if the stored version is Version-1, else the whole
	// change fails with ErrConflict.
	UpdatePoints []Point
	// PutBuildings creates or replaces buildings by ID (no versions).
	PutBuildings []Building
	// PutWarnings, PutEnterprises and PutInspections create (at Version
	// 1) or replace by ID; a put at Version v applies only if the stored
	// record is at v-1, else the change fails with ErrConflict.
	PutWarnings    []AreaWarning
	PutEnterprises []Enterprise
	PutInspections []Inspection
	// Events are stored in the outbox and published after commit.
	Events []bus.Message
}

// Store keeps risk points, buildings, warnings, enterprises, inspections
// and the outbox. MemoryStore implements it; risktest is the suite every
// implementation passes. Implementations return copies and are safe for
// concurrent use.
type Store interface {
	// Apply writes c atomically. It fails, changing nothing, with an error
	// matching ErrConflict (a stale version or an event already in the
	// outbox), ErrNotFound (an update of an unknown point) or
	// ErrDuplicateID (a create of an existing one).
	Apply(ctx context.Context, c Change) error
	// Point returns the point with id, or ErrNotFound.
	Point(ctx context.Context, id uuid.UUID) (Point, error)
	// Points returns one page of points matching q, in ID order.
	Points(ctx context.Context, q Query) (Page, error)
	// PointsNear returns every point whose anchor lies within meters of
	// center, nearest first (ties in ID order).
	PointsNear(ctx context.Context, center geo.Point, meters float64) ([]Hit, error)
	// PointsBySensor returns the points linked to a sensor, in ID order.
	PointsBySensor(ctx context.Context, sensor string) ([]Point, error)
	// Building returns the building with id, or ErrNotFound.
	Building(ctx context.Context, id string) (Building, error)
	// BuildingsNear returns every building within meters of center,
	// nearest first (ties in ID order).
	BuildingsNear(ctx context.Context, center geo.Point, meters float64) ([]BuildingHit, error)
	// Warning returns the area warning with id, or ErrNotFound.
	Warning(ctx context.Context, id string) (AreaWarning, error)
	// Enterprise returns the enterprise with id, or ErrNotFound.
	Enterprise(ctx context.Context, id string) (Enterprise, error)
	// Enterprises returns the enterprises registered in the region's
	// subtree, in ID order.
	Enterprises(ctx context.Context, within region.Code) ([]Enterprise, error)
	// Inspection returns the inspection with id, or ErrNotFound.
	Inspection(ctx context.Context, id uuid.UUID) (Inspection, error)
	// Inspections returns the inspections matching q, in ID order.
	Inspections(ctx context.Context, q InspectionQuery) ([]Inspection, error)
	// Pending returns up to limit outbox events not yet marked published,
	// oldest first.
	Pending(ctx context.Context, limit int) ([]bus.Message, error)
	// MarkPublished marks outbox events as published; unknown IDs are
	// ignored.
	MarkPublished(ctx context.Context, ids ...string) error
}

// Hit is one result of a spatial query: enough to draw a marker and to
// authorize, without reading the whole point.
type Hit struct {
	ID       uuid.UUID
	Name     string
	Class    string
	Anchor   geo.Point
	Grid     region.Code
	Colour   Colour  // the point's level as stored
	Shape    string  // the GeoJSON type of the point's geometry
	Distance float64 // metres from the query's centre
}

// Query selects points. Every set field narrows the result.
type Query struct {
	Within     region.Code // in this unit's subtree
	Classes    []string    // any of these classes
	Enterprise string      // owned by this enterprise
	MinColour  Colour      // level at least this colour
	Signalled  bool        // only points carrying signals (active or not yet pruned)
	Limit      int         // page size; 0 means DefaultLimit, at most MaxLimit
	After      uuid.UUID   // continue after this ID (Page.Next)
}

// Page sizes.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Page is one page of points.
type Page struct {
	Points []Point
	Next   uuid.UUID // pass as Query.After for the next page; zero at the end
}

// Validate reports a malformed query with an error matching
// ErrInvalidQuery.
func (q Query) Validate() error {
	if q.Limit < 0 || q.Limit > MaxLimit {
		return fmt.Errorf("%w: limit %d outside 0–%d", ErrInvalidQuery, q.Limit, MaxLimit)
	}
	if !q.MinColour.Valid() {
		return fmt.Errorf("%w: unknown colour %d", ErrInvalidQuery, q.MinColour)
	}
	if q.Within != "" {
		if _, err := region.ParseCode(string(q.Within)); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidQuery, err)
		}
	}
	return nil
}

// EffectiveLimit returns the page size q asks for.
func (q Query) EffectiveLimit() int {
	if q.Limit == 0 {
		return DefaultLimit
	}
	return q.Limit
}

// Matches reports whether p satisfies every filter of q except paging.
func (q Query) Matches(p *Point) bool {
	if q.Within != "" && !p.Grid.Within(q.Within) {
		return false
	}
	if len(q.Classes) > 0 && !contains(q.Classes, p.Class) {
		return false
	}
	if q.Enterprise != "" && p.Enterprise != q.Enterprise {
		return false
	}
	if p.Level.Colour < q.MinColour {
		return false
	}
	if q.Signalled && len(p.Signals) == 0 {
		return false
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// InspectionQuery selects inspections. Every set field narrows the
// result.
type InspectionQuery struct {
	Enterprise string
	Period     string // e.g. "2025Q1"
	Status     InspectionStatus
}

// Matches reports whether in satisfies q.
func (q InspectionQuery) Matches(in *Inspection) bool {
	return (q.Enterprise == "" || in.Enterprise == q.Enterprise) &&
		(q.Period == "" || in.Period == q.Period) &&
		(q.Status == 0 || in.Status == q.Status)
}
