package permit

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/google/uuid"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/region"
)

// Change is everything one command writes, atomically. Templates are only
// ever created: a template whose ID and Version are stored already is a
// conflict. Other records at Version 1 are created and must not exist yet;
// any other is an update that applies only if the stored version is
// Version-1. Records of one ID in a change apply in sequence.
type Change struct {
	Templates    []Template
	Applications []Application
	Excavations  []Excavation
	Joints       []JointExcavation
	Moratoria    []Moratorium
	Events       []bus.Message // the outbox, published after commit
}

// Store keeps templates, applications, road works and the outbox.
// MemoryStore is the embedded default; permittest is the suite every
// implementation passes. Implementations return copies, match the
// package's errors (ErrNotFound, ErrConflict, ErrDuplicateKey,
// ErrInvalidQuery) and are safe for concurrent use.
type Store interface {
	// Apply writes c atomically, or nothing with an error matching
	// ErrConflict (a stale version, a record or event created twice),
	// ErrNotFound (an update of a record that does not exist) or
	// ErrDuplicateKey (a *DuplicateKeyError: an idempotency key held by
	// another application or excavation).
	Apply(ctx context.Context, c Change) error

	// Template returns a template version; version 0 means the latest.
	Template(ctx context.Context, id string, version int) (Template, error)
	// Templates returns the latest version of every template, by ID.
	Templates(ctx context.Context) ([]Template, error)

	// Application returns an application, or ErrNotFound.
	Application(ctx context.Context, id uuid.UUID) (Application, error)
	// ApplicationByKey returns the application started with an idempotency
	// key, or ErrNotFound.
	ApplicationByKey(ctx context.Context, key string) (Application, error)
	// Applications returns one page of applications matching q, in ID order.
	Applications(ctx context.Context, q ApplicationQuery) (ApplicationPage, error)

	// Excavation returns an excavation application, or ErrNotFound.
	Excavation(ctx context.Context, id uuid.UUID) (Excavation, error)
	// ExcavationByKey returns the excavation applied for with an
	// idempotency key, or ErrNotFound.
	ExcavationByKey(ctx context.Context, key string) (Excavation, error)
	// Excavations returns one page of excavations matching q, in ID order.
	Excavations(ctx context.Context, q ExcavationQuery) (ExcavationPage, error)

	// Joint returns a joint excavation, or ErrNotFound.
	Joint(ctx context.Context, id uuid.UUID) (JointExcavation, error)
	// Joints returns one page of joint excavations matching q, in ID order.
	Joints(ctx context.Context, q JointQuery) (JointPage, error)

	// Moratoria returns one page of moratoria matching q, in ID order.
	Moratoria(ctx context.Context, q MoratoriumQuery) (MoratoriumPage, error)

	// Pending returns up to limit unpublished events, oldest first.
	Pending(ctx context.Context, limit int) ([]bus.Message, error)
	// MarkPublished marks events published; unknown IDs are ignored.
	MarkPublished(ctx context.Context, ids ...string) error
}

// Page limits: 0 means DefaultLimit; more than MaxLimit is an error.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

func checkPage(limit int, within region.Code) error {
	if limit < 0 || limit > MaxLimit {
		return fmt.Errorf("%w: limit %d outside 0–%d", ErrInvalidQuery, limit, MaxLimit)
	}
	if within != "" {
		if _, err := region.ParseCode(string(within)); err != nil {
			return fmt.Errorf("%w: within: %w", ErrInvalidQuery, err)
		}
	}
	return nil
}

// PageLimit returns the number of records a page with limit holds.
func PageLimit(limit int) int {
	if limit == 0 {
		return DefaultLimit
	}
	return limit
}

// ApplicationQuery selects applications; every set field narrows the
// result.
type ApplicationQuery struct {
	Within     region.Code // the application's jurisdiction lies in this unit
	Template   string
	Statuses   []Status
	Department string // an item is in review with this department
	Applicant  string
	Limit      int       // 0 means DefaultLimit, at most MaxLimit
	After      uuid.UUID // continue after this ID
}

// ApplicationPage is one page of Applications.
type ApplicationPage struct {
	Applications []Application
	Next         uuid.UUID // zero at the end
}

// Validate reports a malformed query.
func (q ApplicationQuery) Validate() error { return checkPage(q.Limit, q.Within) }

// Matches reports whether a satisfies every filter of q but paging.
func (q ApplicationQuery) Matches(a *Application) bool {
	switch {
	case q.Within != "" && !a.Jurisdiction.Within(q.Within),
		q.Template != "" && a.Template != q.Template,
		len(q.Statuses) > 0 && !slices.Contains(q.Statuses, a.Status),
		q.Department != "" && !slices.Contains(a.reviewDepartments(), q.Department),
		q.Applicant != "" && a.Applicant != q.Applicant:
		return false
	}
	return true
}

// ExcavationQuery selects excavation applications; every set field
// narrows the result.
type ExcavationQuery struct {
	Within   region.Code
	Segment  string
	Promoter string
	Statuses []ExcavationStatus
	// During selects works whose window overlaps it; zero selects all.
	During Window
	// Near selects works whose site's bounding box intersects it, edges
	// included: boxes, not lines, so a site that crosses Near without a
	// vertex in it is selected, and so is a diagonal site that passes by
	// it inside its own box. Works without a site are never selected. The
	// zero box selects all; any other must be a valid box (corners within
	// range, the south-west one south and west of the north-east one), or
	// the query fails with ErrInvalidQuery and the *geo.GeometryError.
	// Stores answer it from a spatial index, so that finding what lies
	// near a place does not read the city.
	Near  geo.BBox
	Joint uuid.UUID
	Limit int
	After uuid.UUID
}

// ExcavationPage is one page of Excavations.
type ExcavationPage struct {
	Excavations []Excavation
	Next        uuid.UUID
}

// Validate reports a malformed query.
func (q ExcavationQuery) Validate() error {
	if !q.During.Start.IsZero() && !q.During.End.After(q.During.Start) {
		return fmt.Errorf("%w: during: start not before end", ErrInvalidQuery)
	}
	if q.Near != (geo.BBox{}) {
		sw, ne := geo.Point{Lat: q.Near.MinLat, Lon: q.Near.MinLon}, geo.Point{Lat: q.Near.MaxLat, Lon: q.Near.MaxLon}
		if _, err := geo.NewBBox(sw, ne); err != nil {
			return fmt.Errorf("%w: near: %w", ErrInvalidQuery, err)
		}
	}
	return checkPage(q.Limit, q.Within)
}

// Matches reports whether e satisfies every filter of q but paging.
func (q ExcavationQuery) Matches(e *Excavation) bool {
	switch {
	case q.Within != "" && !e.Jurisdiction.Within(q.Within),
		q.Segment != "" && e.Segment != q.Segment,
		q.Promoter != "" && e.Promoter != q.Promoter,
		len(q.Statuses) > 0 && !slices.Contains(q.Statuses, e.Status),
		!q.During.Start.IsZero() && !q.During.overlaps(e.Window, 0),
		q.Near != (geo.BBox{}) && !siteMeets(e.Site, q.Near),
		q.Joint != uuid.Nil && e.Joint != q.Joint:
		return false
	}
	return true
}

// siteBox returns the bounding box of a site, or false for a site that
// ExcavationQuery.Near never selects: an empty one, or one with a NaN or
// infinite coordinate (which only the memory store can even hold).
func siteBox(site geo.LineString) (geo.BBox, bool) {
	if len(site) == 0 {
		return geo.BBox{}, false
	}
	b := site.BBox()
	for _, v := range [...]float64{b.MinLat, b.MinLon, b.MaxLat, b.MaxLon} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return geo.BBox{}, false
		}
	}
	return b, true
}

// siteMeets reports whether the bounding box of site intersects box.
func siteMeets(site geo.LineString, box geo.BBox) bool {
	b, ok := siteBox(site)
	return ok && b.Intersects(box)
}

// JointQuery selects joint excavations.
type JointQuery struct {
	Within   region.Code
	Statuses []JointStatus
	Limit    int
	After    uuid.UUID
}

// JointPage is one page of Joints.
type JointPage struct {
	Joints []JointExcavation
	Next   uuid.UUID
}

// Validate reports a malformed query.
func (q JointQuery) Validate() error { return checkPage(q.Limit, q.Within) }

// Matches reports whether j satisfies every filter of q but paging.
func (q JointQuery) Matches(j *JointExcavation) bool {
	return (q.Within == "" || j.Jurisdiction.Within(q.Within)) &&
		(len(q.Statuses) == 0 || slices.Contains(q.Statuses, j.Status))
}

// MoratoriumQuery selects moratoria.
type MoratoriumQuery struct {
	Within  region.Code
	Segment string
	// During selects moratoria in force at some time of it; zero selects all.
	During Window
	Limit  int
	After  uuid.UUID
}

// MoratoriumPage is one page of Moratoria.
type MoratoriumPage struct {
	Moratoria []Moratorium
	Next      uuid.UUID
}

// Validate reports a malformed query.
func (q MoratoriumQuery) Validate() error {
	if !q.During.Start.IsZero() && !q.During.End.After(q.During.Start) {
		return fmt.Errorf("%w: during: start not before end", ErrInvalidQuery)
	}
	return checkPage(q.Limit, q.Within)
}

// Matches reports whether m satisfies every filter of q but paging.
func (q MoratoriumQuery) Matches(m *Moratorium) bool {
	return (q.Within == "" || m.Jurisdiction.Within(q.Within)) &&
		(q.Segment == "" || m.Segment == q.Segment) &&
		(q.During.Start.IsZero() || m.covers(q.During))
}
