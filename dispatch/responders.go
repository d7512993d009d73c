package dispatch

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/govkit/govkit/clock"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/region"
)

// Errors of the responder registry. Each is wrapped in a *ResponderError
// saying which operation and responder it concerns.
var (
	// ErrInvalidResponder: a registration is malformed; the error says why.
	ErrInvalidResponder = errors.New("dispatch: invalid responder")
	// ErrDuplicateResponder: a responder with that ID is already registered.
	ErrDuplicateResponder = errors.New("dispatch: duplicate responder")
	// ErrUnknownResponder: no responder has that ID.
	ErrUnknownResponder = errors.New("dispatch: unknown responder")
	// ErrInvalidStatus: a status other than Available, Busy or OffDuty.
	ErrInvalidStatus = errors.New("dispatch: invalid responder status")
	// ErrNotAvailable: a task was assigned to a responder who is Busy or
	// OffDuty.
	ErrNotAvailable = errors.New("dispatch: responder not available")
	// ErrOverCapacity: a task was assigned to a responder already carrying
	// Capacity tasks.
	ErrOverCapacity = errors.New("dispatch: responder at capacity")
	// ErrNoTask: a task was released by a responder carrying none.
	ErrNoTask = errors.New("dispatch: responder has no task to release")
)

// ResponderError reports a rejected registry operation. Err is a sentinel
// above, possibly wrapped with detail, or a *geo.CoordinateError for a bad
// position, so errors.Is and errors.As see through it.
type ResponderError struct {
	Op  string // "register", "update position", "assign", …
	ID  string // the responder's ID as given
	Err error
}

// Error names the operation and responder, then the cause.
func (e *ResponderError) Error() string {
	return fmt.Sprintf("dispatch: %s responder %q: %s", e.Op, e.ID, strings.TrimPrefix(e.Err.Error(), "dispatch: "))
}

// Unwrap returns the cause.
func (e *ResponderError) Unwrap() error { return e.Err }

// Responder is a person or crew that can be sent to a place: a grid
// member, a patrol officer, a street enforcement team member, a repair
// crew.
type Responder struct {
	ID   string
	Name string
	// Body is the ID of the body or team the responder belongs to.
	Body string
	// Skills are tokens ("enforcement", "first-aid", "drainage") that
	// Nearest and Coverage select on.
	Skills []string
	// Capacity is how many tasks the responder can carry at once; zero
	// means 1.
	Capacity int
	// Jurisdiction, if set, is where the responder may be sent; see
	// InJurisdiction.
	Jurisdiction region.Code
}

// ResponderStatus says whether a responder takes work. The zero value is
// not a valid status.
type ResponderStatus int8

// Responder statuses.
const (
	// Available responders take tasks up to their capacity.
	Available ResponderStatus = iota + 1
	// Busy responders are on duty but take no new tasks (at a scene that
	// is not a govkit task, in a meeting, refuelling).
	Busy
	// OffDuty responders are neither offered nor expected to report
	// positions.
	OffDuty
)

// String returns "available", "busy" or "off-duty".
func (s ResponderStatus) String() string {
	switch s {
	case Available:
		return "available"
	case Busy:
		return "busy"
	case OffDuty:
		return "off-duty"
	}
	return fmt.Sprintf("ResponderStatus(%d)", int8(s))
}

// ResponderState is a snapshot of a responder: who, where, and how busy.
type ResponderState struct {
	Responder
	// Position is the last accepted fix; meaningless while UpdatedAt is
	// zero (no fix yet).
	Position  geo.Point
	Status    ResponderStatus
	Load      int       // tasks being carried
	UpdatedAt time.Time // when Position was fixed
}

// CanTakeWork reports whether the responder would be offered by Nearest,
// position age aside: Available, below capacity, and located.
func (s ResponderState) CanTakeWork() bool {
	return s.Status == Available && s.Load < s.Capacity && !s.UpdatedAt.IsZero()
}

// Candidate is a responder offered for a place, with how far away and how
// soon they can be there.
type Candidate struct {
	State    ResponderState
	Distance float64 // great-circle metres
	ETA      time.Duration
}

// DefaultMaxPositionAge is how old a position may be before Nearest,
// Coverage and Gaps stop offering its responder. Patrol terminals report
// every 10–30 s; five minutes of silence at patrol speed is 2.5 km of
// uncertainty, more than the whole 5-minute band.
const DefaultMaxPositionAge = 5 * time.Minute

// ResponderOption configures NewResponders.
type ResponderOption func(*responderConfig)

type responderConfig struct {
	est      TravelEstimator
	line     StraightLine // the estimator, when monotone
	monotone bool         // ETA grows with distance
	maxAge   time.Duration
	req      CoverageRequirement
}

// WithEstimator sets how travel times are estimated; nil keeps the
// default StraightLine{}.
func WithEstimator(e TravelEstimator) ResponderOption {
	return func(c *responderConfig) {
		if e != nil {
			c.est = e
		}
	}
}

// WithMaxPositionAge sets how old a position may be, by the clock, before
// its responder is no longer offered (default DefaultMaxPositionAge). Zero
// or negative offers positions of any age: do that only where devices are
// known to report while stationary.
func WithMaxPositionAge(d time.Duration) ResponderOption {
	return func(c *responderConfig) { c.maxAge = max(0, d) }
}

// WithCoverageRequirement sets the requirement that Coverage checks
// (default DefaultCoverageRequirement); negative counts count as zero.
func WithCoverageRequirement(req CoverageRequirement) ResponderOption {
	return func(c *responderConfig) { c.req = req.clamp() }
}

// Responders is the live registry of responders: who they are, where they
// are and whether they take work. It is safe for concurrent use.
//
// For speed it keeps a spatial index per skill, plus one for all skills,
// holding only responders that can take work now: Available, below
// capacity and located. "Nearest available with skill" is then a plain
// nearest-neighbour query that never wades through busy responders, and a
// status or load change moves the responder in or out of its indexes.
// Position age is checked at query time instead, since it changes with
// the clock rather than with any event. A position update moves an
// indexed responder in 1 + len(Skills) indexes and touches no index for
// one that cannot take work.
type Responders struct {
	clk clock.Clock
	cfg responderConfig

	mu      sync.RWMutex
	byID    map[string]*responder
	all     geo.Index[*responder]             // can take work, any skill
	bySkill map[string]*geo.Index[*responder] // can take work, by skill
}

// responder is the registry's record; guarded by Responders.mu. The index
// keys are pointers to it, so a query's hit is the record itself.
type responder struct {
	Responder // Skills is owned and never modified
	pos       geo.Point
	status    ResponderStatus
	load      int
	updatedAt time.Time
	indexed   bool
}

// NewResponders returns an empty registry reading the time from clk (nil
// means clock.Real()).
func NewResponders(clk clock.Clock, opts ...ResponderOption) *Responders {
	if clk == nil {
		clk = clock.Real()
	}
	cfg := responderConfig{est: StraightLine{}, maxAge: DefaultMaxPositionAge, req: DefaultCoverageRequirement()}
	for _, o := range opts {
		o(&cfg)
	}
	switch e := cfg.est.(type) {
	case StraightLine:
		cfg.line, cfg.monotone = e, true
	case *StraightLine:
		if e != nil {
			cfg.line, cfg.monotone = *e, true
		}
	}
	return &Responders{clk: clk, cfg: cfg, byID: map[string]*responder{}, bySkill: map[string]*geo.Index[*responder]{}}
}

// Register adds a responder: Available, carrying no task, and not offered
// until its first position arrives. IDs, Body and Skills must be tokens
// (letters, digits, '-', '_', '.'), Skills without repeats, Capacity not
// negative and Jurisdiction, if set, a valid code.
func (rs *Responders) Register(r Responder) error {
	if err := checkResponder(&r); err != nil {
		return &ResponderError{Op: "register", ID: r.ID, Err: err}
	}
	rec := &responder{Responder: r, status: Available}
	rec.Skills = slices.Clip(slices.Clone(r.Skills))
	if rec.Capacity == 0 {
		rec.Capacity = 1
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if _, dup := rs.byID[r.ID]; dup {
		return &ResponderError{Op: "register", ID: r.ID, Err: ErrDuplicateResponder}
	}
	rs.byID[r.ID] = rec
	return nil
}

func checkResponder(r *Responder) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidResponder, fmt.Sprintf(format, args...))
	}
	switch {
	case r.ID == "":
		return bad("empty ID")
	case !validToken(r.ID):
		return bad("ID must be a token of letters, digits, '-', '_' or '.'")
	case r.Body != "" && !validToken(r.Body):
		return bad("body %q is not a token", r.Body)
	case r.Capacity < 0:
		return bad("negative capacity %d", r.Capacity)
	}
	for i, s := range r.Skills {
		if !validToken(s) {
			return bad("skill %q is not a token", s)
		}
		if slices.Contains(r.Skills[:i], s) {
			return bad("skill %q repeated", s)
		}
	}
	if r.Jurisdiction != "" {
		if _, err := region.ParseCode(string(r.Jurisdiction)); err != nil {
			return fmt.Errorf("%w: jurisdiction: %w", ErrInvalidResponder, err)
		}
	}
	return nil
}

// Remove deletes a responder from the registry and its indexes.
func (rs *Responders) Remove(id string) error {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	r, ok := rs.byID[id]
	if !ok {
		return &ResponderError{Op: "remove", ID: id, Err: ErrUnknownResponder}
	}
	rs.unindex(r)
	delete(rs.byID, id)
	return nil
}

// Len returns the number of registered responders.
func (rs *Responders) Len() int {
	rs.mu.RLock()
	defer rs.mu.RUnlock()
	return len(rs.byID)
}

// UpdatePosition records that responder id was at p at time at (zero
// means now by the clock). A fix older than the last accepted one is
// ignored without error: GPS fixes arrive out of order over mobile
// networks, and an old one must not move a responder backwards. A fix
// stamped after the clock's now is taken as now, so that one fix from a
// terminal whose clock runs fast cannot block the correct fixes behind it.
func (rs *Responders) UpdatePosition(id string, p geo.Point, at time.Time) error {
	if err := p.Validate(); err != nil {
		return &ResponderError{Op: "update position", ID: id, Err: err}
	}
	now := rs.clk.Now()
	if at.IsZero() || at.After(now) {
		at = now
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	r, ok := rs.byID[id]
	if !ok {
		return &ResponderError{Op: "update position", ID: id, Err: ErrUnknownResponder}
	}
	if at.Before(r.updatedAt) {
		return nil
	}
	r.pos, r.updatedAt = p, at
	if r.indexed {
		// Put moves the key; p is valid, so it cannot fail.
		_ = rs.all.Put(r, p)
		for _, s := range r.Skills {
			_ = rs.bySkill[s].Put(r, p)
		}
		return nil
	}
	rs.reindex(r)
	return nil
}

// SetStatus changes a responder's status, offering or withdrawing them.
func (rs *Responders) SetStatus(id string, status ResponderStatus) error {
	if status < Available || status > OffDuty {
		return &ResponderError{Op: "set status", ID: id, Err: fmt.Errorf("%w: %d", ErrInvalidStatus, status)}
	}
	return rs.modify("set status", id, func(r *responder) error {
		r.status = status
		return nil
	})
}

// Assign records that responder id took a task. It fails with
// ErrNotAvailable unless the responder is Available and with
// ErrOverCapacity when they already carry Capacity tasks, so that a
// dispatcher who found them with Nearest and lost a race to another
// dispatcher learns it here and takes the next candidate.
func (rs *Responders) Assign(id string) error {
	return rs.modify("assign", id, func(r *responder) error {
		if r.status != Available {
			return fmt.Errorf("%w: %s", ErrNotAvailable, r.status)
		}
		if r.load >= r.Capacity {
			return fmt.Errorf("%w: %d of %d tasks", ErrOverCapacity, r.load, r.Capacity)
		}
		r.load++
		return nil
	})
}

// Release records that responder id finished a task, offering them again
// if they are Available. It fails with ErrNoTask if they carry none.
func (rs *Responders) Release(id string) error {
	return rs.modify("release", id, func(r *responder) error {
		if r.load == 0 {
			return ErrNoTask
		}
		r.load--
		return nil
	})
}

// modify applies f to responder id under the write lock and re-indexes.
func (rs *Responders) modify(op, id string, f func(*responder) error) error {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	r, ok := rs.byID[id]
	if !ok {
		return &ResponderError{Op: op, ID: id, Err: ErrUnknownResponder}
	}
	if err := f(r); err != nil {
		return &ResponderError{Op: op, ID: id, Err: err}
	}
	rs.reindex(r)
	return nil
}

// reindex puts r into its indexes or takes it out, as its state says.
func (rs *Responders) reindex(r *responder) {
	if r.status != Available || r.load >= r.Capacity || r.updatedAt.IsZero() {
		rs.unindex(r)
		return
	}
	_ = rs.all.Put(r, r.pos)
	for _, s := range r.Skills {
		x := rs.bySkill[s]
		if x == nil {
			x = &geo.Index[*responder]{}
			rs.bySkill[s] = x
		}
		_ = x.Put(r, r.pos)
	}
	r.indexed = true
}

func (rs *Responders) unindex(r *responder) {
	if !r.indexed {
		return
	}
	rs.all.Remove(r)
	for _, s := range r.Skills {
		rs.bySkill[s].Remove(r)
	}
	r.indexed = false
}

// State returns a snapshot of responder id.
func (rs *Responders) State(id string) (ResponderState, error) {
	rs.mu.RLock()
	defer rs.mu.RUnlock()
	r, ok := rs.byID[id]
	if !ok {
		return ResponderState{}, &ResponderError{Op: "state", ID: id, Err: ErrUnknownResponder}
	}
	return r.snapshot(), nil
}

// view returns r's state sharing its Skills, for filters under the lock.
func (r *responder) view() ResponderState {
	return ResponderState{Responder: r.Responder, Position: r.pos, Status: r.status, Load: r.load, UpdatedAt: r.updatedAt}
}

// snapshot returns r's state with its own copy of Skills.
func (r *responder) snapshot() ResponderState {
	s := r.view()
	s.Skills = slices.Clone(s.Skills)
	return s
}

// Stale returns, in ID order, the on-duty (Available or Busy) responders
// whose last position is more than maxAge old by the clock, and those who
// have never reported one. Off-duty responders are left out: their
// terminals are expected to fall silent. This is the registry's offline
// detection; nothing is inferred from silence beyond it, except that
// Nearest and Coverage skip positions older than the WithMaxPositionAge
// limit.
func (rs *Responders) Stale(maxAge time.Duration) []string {
	cutoff := rs.clk.Now().Add(-max(0, maxAge))
	rs.mu.RLock()
	var out []string
	for id, r := range rs.byID {
		if r.status != OffDuty && (r.updatedAt.IsZero() || r.updatedAt.Before(cutoff)) {
			out = append(out, id)
		}
	}
	rs.mu.RUnlock()
	slices.Sort(out)
	return out
}

// InJurisdiction returns a Nearest filter that accepts responders who may
// be sent to unit: those without a jurisdiction and those whose
// jurisdiction contains unit.
func InJurisdiction(unit region.Code) func(ResponderState) bool {
	return func(s ResponderState) bool {
		return s.Jurisdiction == "" || unit.Within(s.Jurisdiction)
	}
}

// freshCutoff returns the oldest acceptable fix time; the zero time when
// positions never expire.
func (rs *Responders) freshCutoff() time.Time {
	if rs.cfg.maxAge <= 0 {
		return time.Time{}
	}
	return rs.clk.Now().Add(-rs.cfg.maxAge)
}

// index returns the index for skill ("" for any), or nil if no responder
// with the skill can take work.
func (rs *Responders) index(skill string) *geo.Index[*responder] {
	if skill == "" {
		return &rs.all
	}
	return rs.bySkill[skill]
}

// Nearest returns up to n responders who can take work now, have skill
// (empty means any) and pass filter (nil passes all), soonest first by
// ETA, then distance, then ID. Responders whose position is older than the
// WithMaxPositionAge limit are skipped. It fails only for an invalid p.
//
// With the default StraightLine estimator ETA grows with distance, so the
// n nearest are exactly the n soonest. With another estimator Nearest
// takes the max(4n, 16) nearest by distance and orders them by ETA: a
// responder farther away than those but faster by road (across a bridge,
// say) is missed, in exchange for a bounded number of estimator calls.
//
// filter is called under the registry's read lock: it must be quick and
// must not call the registry, and must not modify the state's Skills.
func (rs *Responders) Nearest(p geo.Point, skill string, n int, filter func(ResponderState) bool) ([]Candidate, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if n <= 0 {
		return nil, nil
	}
	k := n
	if !rs.cfg.monotone {
		k = max(4*n, 16)
	}
	out := rs.nearest(p, skill, k, rs.freshCutoff(), filter)
	// ETAs are computed outside the lock: a routing estimator may be slow.
	for i := range out {
		out[i].ETA = rs.eta(out[i].State.Position, p, out[i].Distance)
	}
	sortCandidates(out)
	return slices.Clip(out[:min(n, len(out))]), nil
}

// nearest returns the k nearest responders in skill's index that are fresh
// and pass filter, nearest first.
//
// It searches circles of 25 m, 100 m, 400 m … until one holds k accepted
// responders (then nobody outside it can be nearer) or the whole index.
// That beats the index's best-first NearestFunc by two to three times at
// 100,000 responders, sparse or dense, because best-first search pushes
// every child of every node it opens onto a heap, while a small circle
// touches a few leaves; each empty round costs a few hundred nanoseconds.
func (rs *Responders) nearest(p geo.Point, skill string, k int, cutoff time.Time, filter func(ResponderState) bool) []Candidate {
	rs.mu.RLock()
	defer rs.mu.RUnlock() // deferred: filter may panic
	x := rs.index(skill)
	if x == nil || x.Len() == 0 {
		return nil
	}
	type hit struct {
		r *responder
		d float64
	}
	best := make([]hit, 0, min(k, 16)) // the k nearest accepted, sorted
	for radius := firstRadius; ; radius *= radiusGrowth {
		best = best[:0]
		seen := 0
		x.WithinFunc(p, radius, func(h geo.Hit[*responder]) bool {
			seen++
			if len(best) == k && h.Distance >= best[k-1].d {
				return true // cannot make the cut: skip the filter
			}
			r := h.Key
			if r.updatedAt.Before(cutoff) || filter != nil && !filter(r.view()) {
				return true
			}
			i, _ := slices.BinarySearchFunc(best, h.Distance, func(e hit, d float64) int { return cmp.Compare(e.d, d) })
			if len(best) < k {
				best = append(best, hit{})
			}
			copy(best[i+1:], best[i:len(best)-1])
			best[i] = hit{r, h.Distance}
			return true
		})
		if len(best) == k || seen == x.Len() || radius > maxRadius {
			break
		}
	}
	out := make([]Candidate, len(best))
	for i, h := range best {
		out[i] = Candidate{State: h.r.snapshot(), Distance: h.d}
	}
	return out
}

// The expanding search of nearest: each round's circle covers 16 times the
// area of the last, so a round past the nearest responder finds about 16
// times what was needed, and the rounds' total work is dominated by the last.
const (
	firstRadius  = 25.0 // metres: a GPS fix's uncertainty
	radiusGrowth = 4
	maxRadius    = math.Pi * geo.EarthRadius // the whole sphere
)

// eta estimates the trip from a responder at from, metres away, to to.
func (rs *Responders) eta(from, to geo.Point, metres float64) time.Duration {
	if rs.cfg.monotone {
		return rs.cfg.line.eta(metres) // skips recomputing the distance
	}
	return rs.cfg.est.ETA(from, to)
}

func sortCandidates(cs []Candidate) {
	slices.SortFunc(cs, func(a, b Candidate) int {
		return cmp.Or(cmp.Compare(a.ETA, b.ETA), cmp.Compare(a.Distance, b.Distance), strings.Compare(a.State.ID, b.State.ID))
	})
}
