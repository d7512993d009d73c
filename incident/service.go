package incident

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/calendar"
	"github.com/govkit/govkit/clock"
	"github.com/govkit/govkit/internal/deadline"
	"github.com/govkit/govkit/internal/relay"
	"github.com/govkit/govkit/region"
)

// Actions the Service asks the authorizer about, on resources of kind
// ResourceKind whose jurisdiction is the case's grid.
const (
	ResourceKind     = "incident"
	ActionReport     = "report"
	ActionRegister   = "register" // register, reject
	ActionDispatch   = "dispatch" // mark dispatched, return for re-dispatch
	ActionHandle     = "handle"   // start, dispose, record a penalty
	ActionVerify     = "verify"   // begin and complete verification
	ActionClose      = "close"
	ActionEvaluate   = "evaluate"
	ActionReopen     = "reopen"
	ActionMerge      = "merge" // merge and split
	ActionPauseSLA   = "pause-sla"
	ActionRead       = "read"
	ActionIndicators = "read-indicators"
)

// SystemActor is the actor ID the service records for what it does on its
// own, such as marking a case overdue.
const SystemActor = "system:incident-sla"

// Config wires a Service. Catalogue, Regions and Authorizer are required:
// an open service must be a visible choice (access.AllowAll).
type Config struct {
	Store      Store              // default: NewMemoryStore()
	Catalogue  *Catalogue         // required
	Regions    *region.Hierarchy  // required: locates reports to grids
	Authorizer access.Authorizer  // required
	Bus        bus.Publisher      // where events go; nil keeps no events
	Clock      clock.Clock        // default: clock.Real()
	Calendar   *calendar.Calendar // default: calendar.Default()
	Logger     *slog.Logger       // default: discards

	// MinConfidence: machine reports (video AI, sensor alarms) at or above
	// it are registered at once, those below go to triage (default 0.8).
	MinConfidence float64
	// DuplicateRadius and DuplicateWindow bound the search for duplicates:
	// open cases of the same category within the radius reported within the
	// window (defaults 250 m, as FixMyStreet, and 72 h).
	DuplicateRadius float64
	DuplicateWindow time.Duration
	// MaxSuggestions caps the duplicate candidates a report is given, best
	// first (default 10): where hundreds report one flooded underpass,
	// each new report reads its best few, not all of them.
	MaxSuggestions int
	// AutoMerge, if set, is asked about the best duplicate candidate of a
	// new report; true attaches the report to that case instead of opening
	// a new one. SameAttribute builds a common policy. A Service decides
	// the reports of one category one at a time, so that alarms arriving
	// together on one asset make one case; across processes sharing a store, the store's
	// MergeLocker (PostgreSQL's) serialises them per category.
	AutoMerge func(report *Incident, candidate Suggestion) bool
	// SubjectPrefix is the first token of event subjects (default "gov").
	SubjectPrefix string
	// HandlingUnits, if set, names the units of the bodies handling case
	// id (in the demo, the jurisdictions of dispatch's work orders for
	// it), nil when there are none. An actor whose scope does not cover
	// the case's grid but covers one of them is checked in that unit for
	// reading and handling (ActionRead, ActionHandle): the enforcement
	// detachment of the district that owns the truck's site records its
	// fine on a case filmed in another district (S16). Every other action
	// stays with the case's grid. It is called only for such actors.
	HandlingUnits func(ctx context.Context, id uuid.UUID) ([]region.Code, error)
}

// Service runs the closed loop of incidents: intake, registration,
// dispatch, handling, verification, closure, evaluation, with SLA clocks on
// the business calendar, duplicate detection, merges and splits, every step
// authorized, timed, recorded on a tamper-evident timeline and announced on
// the bus. It is safe for concurrent use.
type Service struct {
	store   Store
	cat     *Catalogue
	regions *region.Hierarchy
	az      access.Authorizer
	pub     bus.Publisher
	clk     clock.Clock
	cal     *calendar.Calendar
	log     *slog.Logger
	cfg     Config
	due     *deadline.Scheduler[uuid.UUID]

	// merging holds a lock per category that serialises Report's
	// look-for-a-candidate-then-create when AutoMerge is set, so that two
	// alarms on one asset arriving together make one case, not two; a
	// MergeLocker store extends that across processes. Duplicates are of
	// one category, so reports of others need not wait. Holding it while
	// waiting for the store's lock keeps each process to one connection
	// waiting per category.
	merging sync.Map // category → *sync.Mutex

	relay *relay.Relay // nil without a bus
}

// NewService validates cfg and returns a service. Call Shutdown when done
// to stop its SLA timers.
func NewService(cfg Config) (*Service, error) {
	switch {
	case cfg.Catalogue == nil:
		return nil, errors.New("incident: Config.Catalogue is required")
	case cfg.Regions == nil:
		return nil, errors.New("incident: Config.Regions is required")
	case cfg.Authorizer == nil:
		return nil, errors.New("incident: Config.Authorizer is required (access.AllowAll() for an open service)")
	case cfg.MinConfidence < 0 || cfg.MinConfidence > 1:
		return nil, errors.New("incident: Config.MinConfidence must be within 0–1")
	case cfg.DuplicateRadius < 0 || cfg.DuplicateWindow < 0:
		return nil, errors.New("incident: negative duplicate radius or window")
	case cfg.MaxSuggestions < 0:
		return nil, errors.New("incident: negative Config.MaxSuggestions")
	}
	if cfg.Store == nil {
		cfg.Store = NewMemoryStore()
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real()
	}
	if cfg.Calendar == nil {
		cfg.Calendar = calendar.Default()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MinConfidence == 0 {
		cfg.MinConfidence = 0.8
	}
	if cfg.DuplicateRadius == 0 {
		cfg.DuplicateRadius = 250
	}
	if cfg.DuplicateWindow == 0 {
		cfg.DuplicateWindow = 72 * time.Hour
	}
	if cfg.MaxSuggestions == 0 {
		cfg.MaxSuggestions = DefaultMaxSuggestions
	}
	if cfg.SubjectPrefix == "" {
		cfg.SubjectPrefix = "gov"
	}
	if err := bus.ValidateSubject(cfg.SubjectPrefix); err != nil {
		return nil, fmt.Errorf("incident: Config.SubjectPrefix: %w", err)
	}
	s := &Service{
		store: cfg.Store, cat: cfg.Catalogue, regions: cfg.Regions, az: cfg.Authorizer, pub: cfg.Bus,
		clk: cfg.Clock, cal: cfg.Calendar, log: cfg.Logger, cfg: cfg,
	}
	s.due = deadline.New(s.clk, s.checkOverdue)
	if cfg.Bus != nil {
		s.relay = relay.New(cfg.Store, cfg.Bus)
	}
	return s, nil
}

// Restore schedules the SLA deadlines of the open cases already in the
// store and publishes events a previous process left in the outbox. Call it
// once when a process starts on an existing store.
func (s *Service) Restore(ctx context.Context) error {
	q := Query{Statuses: []Status{Reported, Triage, Registered, Dispatched, InProgress, Disposed, Verifying}, Limit: MaxLimit}
	for {
		page, err := s.store.Find(ctx, q)
		if err != nil {
			return err
		}
		for i := range page.Incidents {
			inc := &page.Incidents[i]
			if !inc.SLA.Overdue && inc.SLA.PausedAt.IsZero() {
				s.due.Add(inc.ID, inc.SLA.Deadline)
			}
		}
		if page.Next == uuid.Nil {
			break
		}
		q.After = page.Next
	}
	return s.Flush(ctx)
}

// Shutdown stops the SLA timers; the service must not be used afterwards.
func (s *Service) Shutdown() { s.due.Stop() }

// Store returns the service's store.
func (s *Service) Store() Store { return s.store }

// now returns the time in the form every store keeps: UTC, microseconds.
func (s *Service) now() time.Time { return s.clk.Now().UTC().Truncate(time.Microsecond) }

// resource describes inc for the authorizer. The owner is the acting
// reporter when the actor reported the case, so that a citizen's "own
// reports" grant covers merged cases they reported too.
func (s *Service) resource(ctx context.Context, inc *Incident) access.Resource {
	r := access.Resource{Kind: ResourceKind, ID: inc.ID.String(), Jurisdiction: inc.Location.Grid()}
	actor, _ := access.ActorFrom(ctx)
	for _, rep := range inc.Reporters {
		if rep.ActorID != "" && (r.Owner == "" || rep.ActorID == actor.ID) {
			r.Owner = rep.ActorID
		}
	}
	return r
}

// authorize asks the authorizer and returns the acting actor's ID.
func (s *Service) authorize(ctx context.Context, action string, inc *Incident) (string, error) {
	r := s.resource(ctx, inc)
	if err := s.handledFrom(ctx, action, inc, &r); err != nil {
		return "", err
	}
	d := s.az.Authorize(ctx, action, r)
	if !d.Allowed {
		return "", d.Err()
	}
	return d.ActorID, nil
}

// handledFrom moves r to a unit of a body handling inc (Config.HandlingUnits)
// when the actor reads or handles a case outside its scope from a unit
// inside it; otherwise r stays in the case's grid, where the authorizer
// refuses or allows as usual.
func (s *Service) handledFrom(ctx context.Context, action string, inc *Incident, r *access.Resource) error {
	if s.cfg.HandlingUnits == nil || (action != ActionHandle && action != ActionRead) {
		return nil
	}
	a, err := access.ActorFrom(ctx)
	if err != nil || r.Jurisdiction.Within(a.Scope) {
		return nil
	}
	units, err := s.cfg.HandlingUnits(ctx, inc.ID)
	if err != nil {
		return fmt.Errorf("incident: the units handling %s: %w", inc.ID, err)
	}
	for _, u := range units {
		if u.Within(a.Scope) {
			r.Jurisdiction = u
			return nil
		}
	}
	return nil
}

// step is what a command does to one case, for the timeline and the event.
type step struct {
	action   string // timeline action
	event    string // event name
	note     string
	evidence []Evidence
	late     bool
	related  []uuid.UUID
	decision string // of a penalty, for its event
	fine     string
}

// maxAttempts bounds how often a command re-reads a case that changed
// under it before giving up with ErrConflict.
const maxAttempts = 4

// command runs one change of one case: read, authorize, let mutate change a
// copy, then write the case, its timeline entry and its event atomically.
// A concurrent change makes it re-read and re-check, a few times.
func (s *Service) command(ctx context.Context, id uuid.UUID, action string, mutate func(inc *Incident, actor string, now time.Time) (step, error)) (Incident, error) {
	var err error
	for range maxAttempts {
		var inc Incident
		inc, err = s.commandOnce(ctx, id, action, mutate)
		if !errors.Is(err, ErrConflict) {
			return inc, err
		}
	}
	return Incident{}, err
}

func (s *Service) commandOnce(ctx context.Context, id uuid.UUID, action string, mutate func(inc *Incident, actor string, now time.Time) (step, error)) (Incident, error) {
	cur, err := s.store.Get(ctx, id)
	if err != nil {
		return Incident{}, err
	}
	actor, err := s.authorize(ctx, action, &cur)
	if err != nil {
		return Incident{}, err
	}
	next := cur.Clone()
	now := s.now()
	st, err := mutate(&next, actor, now)
	if err != nil {
		return Incident{}, err
	}
	next.Version++
	c := Change{Update: []Incident{next}}
	if err := s.record(ctx, &c, &next, cur.Status, actor, now, st); err != nil {
		return Incident{}, err
	}
	if err := s.store.Apply(ctx, c); err != nil {
		return Incident{}, err
	}
	s.after(ctx, &next)
	return next, nil
}

// lastEntry returns the last entry of id's timeline in the store, reading
// only that one where the store can.
func (s *Service) lastEntry(ctx context.Context, id uuid.UUID) (Entry, bool, error) {
	if r, ok := s.store.(LastEntryReader); ok {
		return r.LastEntry(ctx, id)
	}
	tl, err := s.store.Timeline(ctx, id)
	if err != nil || len(tl) == 0 {
		return Entry{}, false, err
	}
	return tl[len(tl)-1], true, nil
}

// record appends to c the timeline entry and event for one step of inc.
func (s *Service) record(ctx context.Context, c *Change, inc *Incident, from Status, actor string, now time.Time, st step) error {
	var prev *Entry
	for i := range c.Timeline { // entries of this change come after the store's
		if c.Timeline[i].Incident == inc.ID {
			prev = &c.Timeline[i]
		}
	}
	if prev == nil && inc.Version > 1 {
		last, ok, err := s.lastEntry(ctx, inc.ID)
		if err != nil {
			return err
		}
		if ok {
			prev = &last
		}
	}
	c.Timeline = append(c.Timeline, Link(prev, Entry{
		Incident: inc.ID, Time: now, ActorID: actor, Action: st.action,
		From: from, To: inc.Status, Note: st.note, Evidence: st.evidence, Late: st.late,
	}))
	if s.pub == nil {
		return nil
	}
	ev, err := newEvent(s.cfg.SubjectPrefix, &st, inc, from, actor, now)
	if err != nil {
		return err
	}
	c.Events = append(c.Events, ev)
	return nil
}

// after runs once a change is stored: schedule the case's deadline and
// publish what is in the outbox.
func (s *Service) after(ctx context.Context, incs ...*Incident) {
	for _, inc := range incs {
		if inc.Status.Open() && !inc.SLA.Overdue && inc.SLA.PausedAt.IsZero() {
			s.due.Add(inc.ID, inc.SLA.Deadline)
		}
	}
	if err := s.Flush(ctx); err != nil {
		// The events stay in the outbox; the next Flush or Start sends them.
		s.log.Warn("incident: publishing events failed; they stay in the outbox", "err", err)
	}
}

// Flush publishes the events waiting in the outbox, oldest first, marking
// each published once the bus has accepted it. It stops at the first
// failure, so events of one case never overtake each other; the rest wait
// for the next Flush (or Restore).
func (s *Service) Flush(ctx context.Context) error {
	if s.relay == nil {
		return nil
	}
	return s.relay.Flush(ctx)
}

// deadline returns when a phase that starts at start and may take sla of
// working time must end; zero when the phase is not timed.
func (s *Service) deadline(start time.Time, sla time.Duration) time.Time {
	if sla <= 0 {
		return time.Time{}
	}
	t, err := s.cal.AddWorkingDuration(start, sla)
	if err != nil {
		return time.Time{} // sla > 0, so this cannot happen
	}
	return t
}

// startPhase starts the SLA clock of the phase inc has just entered.
func (s *Service) startPhase(inc *Incident, now time.Time) {
	cat, err := s.cat.Category(inc.Category)
	var sla time.Duration
	if err == nil {
		switch inc.Status {
		case Reported, Triage:
			sla = cat.SLA.Register
		case Dispatched, InProgress:
			sla = cat.SLA.Dispose
		case Disposed, Verifying:
			sla = cat.SLA.Verify
		}
	}
	inc.SLA = Clock{Phase: inc.Status, Deadline: s.deadline(now, sla)}
}

// late reports whether the phase timed by inc's clock ended after its
// deadline.
func late(inc *Incident, now time.Time) bool {
	return inc.SLA.Overdue || (!inc.SLA.Deadline.IsZero() && now.After(inc.SLA.Deadline))
}

// move applies a status change if the case is in one of the statuses the
// command starts from and the lifecycle allows the step: the lifecycle
// alone cannot tell a registration from a reopening, which both lead to
// Registered.
func move(inc *Incident, to Status, from ...Status) error {
	ok := CanMove(inc.Status, to)
	if ok && len(from) > 0 {
		ok = slices.Contains(from, inc.Status)
	}
	if !ok {
		return &TransitionError{ID: inc.ID, From: inc.Status, To: to}
	}
	inc.Status = to
	return nil
}
