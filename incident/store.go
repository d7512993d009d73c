package incident

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/region"
)

// ErrDuplicateKey is returned by Store.Apply when an idempotency key of a
// written incident is already held by another; DuplicateKeyError says by
// which.
var ErrDuplicateKey = errors.New("incident: duplicate idempotency key")

// DuplicateKeyError names the incident that already holds a key.
type DuplicateKeyError struct {
	Key      string
	Existing uuid.UUID
}

// Error describes the problem.
func (e *DuplicateKeyError) Error() string {
	return fmt.Sprintf("incident: idempotency key %q already used by %s", e.Key, e.Existing)
}

// Unwrap lets errors.Is(err, ErrDuplicateKey) match.
func (e *DuplicateKeyError) Unwrap() error { return ErrDuplicateKey }

// Change is everything one command writes, applied atomically: new and
// updated incidents, their timeline entries, and the events announcing them
// (the outbox), so that state and events never part ways.
type Change struct {
	// Create holds new incidents, at Version 1.
	Create []Incident
	// Update holds changed incidents carrying their new Version; the store
	// applies each only if the stored version is Version-1, else the whole
	// change fails with ErrConflict.
	Update []Incident
	// Timeline holds entries to append, already linked.
	Timeline []Entry
	// Events are stored in the outbox and published after commit.
	Events []bus.Message
}

// Store keeps incidents, timelines and the outbox. The in-memory
// MemoryStore and the PostgreSQL store in adapters/postgres implement it;
// incidenttest is the suite both pass. Implementations return copies, never
// shared slices or maps, and are safe for concurrent use.
type Store interface {
	// Apply writes c atomically. It fails, changing nothing, with an error
	// matching ErrConflict (a stale version), ErrNotFound (an update of an
	// unknown incident), ErrDuplicateID or ErrDuplicateKey (a
	// *DuplicateKeyError naming the holder).
	Apply(ctx context.Context, c Change) error
	// Get returns the incident with id, or ErrNotFound.
	Get(ctx context.Context, id uuid.UUID) (Incident, error)
	// ByKey returns the incident holding idempotency key (among its Keys),
	// or ErrNotFound.
	ByKey(ctx context.Context, key string) (Incident, error)
	// Timeline returns the incident's entries in order, or ErrNotFound.
	Timeline(ctx context.Context, id uuid.UUID) ([]Entry, error)
	// Find returns one page of incidents matching q, in ID order (which,
	// for UUIDv7, is report order).
	Find(ctx context.Context, q Query) (Page, error)
	// Nearby returns the open incidents of q.Category reported at or after
	// q.Since whose point lies within q.Meters of q.Center: the best
	// duplicate candidates first (DuplicateScore, ties in ID order), at
	// most q.Limit of them. It reads in full only the incidents it returns,
	// so a crowded place costs no more than its best few.
	Nearby(ctx context.Context, q NearbyQuery) ([]Incident, error)
	// Pending returns up to limit outbox events not yet marked published,
	// oldest first.
	Pending(ctx context.Context, limit int) ([]bus.Message, error)
	// MarkPublished marks outbox events as published; unknown IDs are
	// ignored.
	MarkPublished(ctx context.Context, ids ...string) error
}

// LastEntryReader is implemented by stores that can read the last entry of
// a timeline without the rest. The Service chains each change's entry to
// the one before it; without this it reads the whole timeline, which for
// a case that hundreds have reported again is hundreds of entries.
type LastEntryReader interface {
	// LastEntry returns the incident's last timeline entry; ok is false
	// when it has none. An unknown incident is ErrNotFound.
	LastEntry(ctx context.Context, id uuid.UUID) (e Entry, ok bool, err error)
}

// MergeLocker is implemented by stores that several processes share. A
// Service with Config.AutoMerge holds the lock of a report's category from
// its search for a duplicate until its case is stored, so that alarms on
// one asset arriving together at two processes still make one case. The
// PostgreSQL store implements it with an advisory lock; the memory store,
// which one process owns, needs none.
type MergeLocker interface {
	// LockMerges waits for, and takes, the lock of category; unlock
	// releases it. It fails only if ctx ends or the store is unreachable.
	LockMerges(ctx context.Context, category string) (unlock func(), err error)
}

// NearbyQuery asks a Store for the open cases that may duplicate a report.
type NearbyQuery struct {
	Category string
	Center   geo.Point
	Meters   float64   // the search radius
	Since    time.Time // reported at or after
	// Now is the report's time, from which the candidates' ages count
	// towards their DuplicateScore; a zero Now ranks by distance alone.
	Now time.Time
	// Limit caps the result; 0 returns every candidate.
	Limit int
}

// Score returns DuplicateScore for a candidate distance metres from the
// centre, reported at reported.
func (q *NearbyQuery) Score(distance float64, reported time.Time) float64 {
	if q.Now.IsZero() {
		return DuplicateScore(distance, q.Meters, 0, 0)
	}
	return DuplicateScore(distance, q.Meters, q.Now.Sub(reported), q.Now.Sub(q.Since))
}

// DuplicateScore rates an open case as a duplicate of a report, from 0 to
// 1: up to 0.6 for nearness (all of it at the report's point, none at the
// radius) and up to 0.4 for recency (all of it when reported together,
// none when reported window before). A non-positive radius or window gives
// its share in full.
func DuplicateScore(distance, radius float64, age, window time.Duration) float64 {
	near, recent := 1.0, 1.0
	if radius > 0 {
		near = 1 - distance/radius
	}
	if window > 0 {
		recent = 1 - float64(max(age, 0))/float64(window)
	}
	return max(0, min(1, 0.6*near+0.4*recent))
}

// Ranking picks the best duplicate candidates for a NearbyQuery, as Store
// implementations need: offer it every case found in the cells around the
// centre, and IDs returns those within the radius, best first (ties in ID
// order), at most q.Limit of them. It keeps only the best Limit as it
// goes, so a crowded place costs one comparison per candidate.
type Ranking struct {
	q    NearbyQuery
	best []candidate
}

type candidate struct {
	id    uuid.UUID
	score float64
}

// better orders candidates best first.
func better(a, b candidate) int {
	if a.score != b.score {
		if a.score > b.score {
			return -1
		}
		return 1
	}
	return bytes.Compare(a.id[:], b.id[:])
}

// NewRanking returns an empty Ranking for q.
func NewRanking(q NearbyQuery) *Ranking { return &Ranking{q: q} }

// Offer considers the open case id at point, reported at reported; one
// beyond the radius is ignored.
func (r *Ranking) Offer(id uuid.UUID, point geo.Point, reported time.Time) {
	d := geo.Distance(r.q.Center, point)
	if d > r.q.Meters {
		return
	}
	c := candidate{id, r.q.Score(d, reported)}
	k := r.q.Limit
	if k <= 0 {
		r.best = append(r.best, c)
		return
	}
	if len(r.best) == k && better(c, r.best[k-1]) >= 0 {
		return
	}
	i, _ := slices.BinarySearchFunc(r.best, c, better)
	if len(r.best) == k {
		r.best = r.best[:k-1]
	}
	r.best = slices.Insert(r.best, i, c)
}

// IDs returns the chosen candidates, best first.
func (r *Ranking) IDs() []uuid.UUID {
	if r.q.Limit <= 0 {
		slices.SortFunc(r.best, better)
	}
	ids := make([]uuid.UUID, len(r.best))
	for i, c := range r.best {
		ids[i] = c.id
	}
	return ids
}

// Query selects incidents. Every set field narrows the result.
type Query struct {
	Statuses   []Status    // any of these
	Categories []string    // any of these
	Within     region.Code // in this unit's subtree
	Since      time.Time   // reported at or after
	Until      time.Time   // reported before
	BBox       *geo.BBox   // located inside
	Overdue    bool        // only cases whose SLA clock is overdue
	Limit      int         // page size; 0 means DefaultLimit, at most MaxLimit
	After      uuid.UUID   // continue after this ID (Page.Next)
}

// Page sizes.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Page is one page of a Find.
type Page struct {
	Incidents []Incident
	Next      uuid.UUID // pass as Query.After for the next page; zero at the end
}

// Validate reports a malformed query with an error matching ErrInvalidQuery.
func (q Query) Validate() error {
	bad := func(reason string) error { return fmt.Errorf("%w: %s", ErrInvalidQuery, reason) }
	switch {
	case q.Limit < 0 || q.Limit > MaxLimit:
		return bad(fmt.Sprintf("limit %d outside 0–%d", q.Limit, MaxLimit))
	case !q.Since.IsZero() && !q.Until.IsZero() && !q.Until.After(q.Since):
		return bad("until is not after since")
	}
	for _, s := range q.Statuses {
		if s < Reported || s > Evaluated {
			return bad(fmt.Sprintf("unknown status %d", s))
		}
	}
	if q.Within != "" {
		if _, err := region.ParseCode(string(q.Within)); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidQuery, err)
		}
	}
	if q.BBox != nil {
		b := *q.BBox
		if _, err := geo.NewBBox(geo.Point{Lat: b.MinLat, Lon: b.MinLon}, geo.Point{Lat: b.MaxLat, Lon: b.MaxLon}); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidQuery, err)
		}
	}
	return nil
}

// limit returns the effective page size.
func (q Query) limit() int {
	if q.Limit == 0 {
		return DefaultLimit
	}
	return q.Limit
}

// Matches reports whether inc satisfies every filter of q except paging.
// Stores may use it to filter candidates they fetched by an index.
func (q Query) Matches(inc *Incident) bool {
	if len(q.Statuses) > 0 && !containsStatus(q.Statuses, inc.Status) {
		return false
	}
	if len(q.Categories) > 0 && !containsString(q.Categories, inc.Category) {
		return false
	}
	if q.Within != "" && !inc.Location.Grid().Within(q.Within) {
		return false
	}
	if !q.Since.IsZero() && inc.Times.Reported.Before(q.Since) {
		return false
	}
	if !q.Until.IsZero() && !inc.Times.Reported.Before(q.Until) {
		return false
	}
	if q.BBox != nil && !q.BBox.Contains(inc.Location.Point) {
		return false
	}
	if q.Overdue && !inc.SLA.Overdue {
		return false
	}
	return true
}

func containsStatus(list []Status, s Status) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// CellSize is the side, in degrees, of the cells stores use to find nearby
// incidents: about 1.1 km north–south, so a 250 m duplicate search reads at
// most four cells.
const CellSize = 0.01

// Cell returns the spatial cell of p as a compact key, for stores that
// index incidents by place.
func Cell(p geo.Point) int64 {
	x := int64(math.Floor((p.Lon + 180) / CellSize))
	y := int64(math.Floor((p.Lat + 90) / CellSize))
	return y*100_000 + x
}

// Cells returns the cells that may hold points within meters of center.
func Cells(center geo.Point, meters float64) []int64 {
	b := geo.BBoxAround(center, meters)
	lo, hi := Cell(geo.Point{Lat: b.MinLat, Lon: b.MinLon}), Cell(geo.Point{Lat: b.MaxLat, Lon: b.MaxLon})
	var out []int64
	for y := lo / 100_000; y <= hi/100_000; y++ {
		for x := lo % 100_000; x <= hi%100_000; x++ {
			out = append(out, y*100_000+x)
		}
	}
	return out
}
