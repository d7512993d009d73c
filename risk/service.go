package risk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/clock"
	"github.com/govkit/govkit/internal/deadline"
	"github.com/govkit/govkit/internal/relay"
	"github.com/govkit/govkit/region"
)

// Resource kinds and actions the Service asks the authorizer about. A risk
// point's jurisdiction is its grid; a warning's, hazard's or plan's is the
// region it is issued for; an enterprise's, its registered region.
const (
	ResourceKind          = "risk-point"
	WarningKind           = "risk-warning"
	BuildingKind          = "building"
	EnterpriseKind        = "enterprise"
	InspectionKind        = "inspection"
	ActionRegister        = "register" // register and update points, buildings and enterprises
	ActionAssess          = "assess"
	ActionSignal          = "signal" // raise and clear live signals
	ActionRead            = "read"
	ActionWarn            = "warn"           // issue and cancel area warnings
	ActionAnalyse         = "analyse-hazard" // hazard impact and evacuation plans
	ActionPlanInspections = "plan-inspections"
	ActionInspect         = "inspect" // record findings
	ActionRectify         = "rectify" // report a rectification done
	ActionVerify          = "verify"  // verify and close a rectification
)

// SystemActor is the actor ID the service records for what it does on its
// own, such as expiring signals.
const SystemActor = "system:risk"

// Config wires a Service. Catalogue, Regions and Authorizer are required.
type Config struct {
	Store      Store             // default: NewMemoryStore()
	Catalogue  *Catalogue        // required: the hazard classes
	Regions    *region.Hierarchy // required: locates points to grids
	Authorizer access.Authorizer // required; access.AllowAll() for an open service
	Bus        bus.Publisher     // where events go; nil keeps none
	Clock      clock.Clock       // default: clock.Real()
	Logger     *slog.Logger      // default: discards

	// Methods are the assessment methods by name. The defaults —
	// DefaultMatrix ("matrix"), StandardLEC ("lec") and StandardRValue
	// ("gb18218") — are always there unless a method given here takes
	// their name.
	Methods []Method
	// DefaultMethod is used when neither the call nor the class names one
	// (default "matrix").
	DefaultMethod string
	// Validity is how long an assessment stands when its class does not
	// say (default one year).
	Validity time.Duration
	// SignalTTL is how long a signal without an end lasts (default 24 h).
	SignalTTL time.Duration
	// ReadingRules turn sensor readings into signals (ObserveReading).
	ReadingRules []ReadingRule
	// Tiering scores enterprises into red, yellow and green (default
	// DefaultTiering()).
	Tiering *Tiering
	// SubjectPrefix is the first token of event subjects (default "gov").
	SubjectPrefix string
	// Checklists are the inspection templates besides the built-in
	// NineSmallPlaces (which one of the same ID replaces): findings must
	// name their items.
	Checklists []Checklist
}

// Service keeps risk points and their levels: registration, explainable
// assessment, live signals and area warnings that raise levels for a
// while, spatial queries and map export, hazard impact and evacuation
// planning, enterprise tiers and inspections. Every method reads the actor
// from the context and asks the Authorizer; every change is written with
// its events atomically. It is safe for concurrent use.
type Service struct {
	store   Store
	cat     *Catalogue
	regions *region.Hierarchy
	az      access.Authorizer
	clk     clock.Clock
	log     *slog.Logger
	cfg     Config
	methods map[string]Method
	rules   map[string][]ReadingRule
	tiering *Tiering
	lists   map[string]Checklist
	expiry  *deadline.Scheduler[uuid.UUID]
	overdue *deadline.Scheduler[uuid.UUID]
	relay   *relay.Relay // nil without a bus
}

// NewService validates cfg and returns a service. Call Shutdown when done
// to stop its timers.
func NewService(cfg Config) (*Service, error) {
	switch {
	case cfg.Catalogue == nil:
		return nil, missing("config.catalogue", "the hazard-class catalogue is required")
	case cfg.Regions == nil:
		return nil, missing("config.regions", "the region hierarchy is required")
	case cfg.Authorizer == nil:
		return nil, missing("config.authorizer", "an authorizer is required (access.AllowAll() for an open service)")
	case cfg.Validity < 0 || cfg.SignalTTL < 0:
		return nil, invalid("config", "negative validity or signal TTL")
	}
	if cfg.Store == nil {
		cfg.Store = NewMemoryStore()
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.DefaultMethod == "" {
		cfg.DefaultMethod = "matrix"
	}
	if cfg.Validity == 0 {
		cfg.Validity = 365 * 24 * time.Hour
	}
	if cfg.SignalTTL == 0 {
		cfg.SignalTTL = 24 * time.Hour
	}
	if cfg.SubjectPrefix == "" {
		cfg.SubjectPrefix = "gov"
	}
	if err := bus.ValidateSubject(cfg.SubjectPrefix); err != nil {
		return nil, &InputError{Field: "config.subject_prefix", Err: err}
	}
	methods := map[string]Method{}
	for _, m := range []Method{DefaultMatrix(), StandardLEC(), StandardRValue()} {
		methods[m.Name()] = m
	}
	for i, m := range cfg.Methods {
		if m == nil || m.Name() == "" {
			return nil, invalid(fmt.Sprintf("config.methods[%d]", i), "a method needs a name")
		}
		methods[m.Name()] = m
	}
	if _, ok := methods[cfg.DefaultMethod]; !ok {
		return nil, &InputError{Field: "config.default_method", Reason: cfg.DefaultMethod, Err: ErrUnknownMethod}
	}
	lists := map[string]Checklist{}
	nine := NineSmallPlaces()
	lists[nine.ID] = nine
	seenList := map[string]bool{}
	for i, cl := range cfg.Checklists {
		if err := cl.validate(); err != nil {
			var ie *InputError
			if errors.As(err, &ie) {
				ie.Field = fmt.Sprintf("config.checklists[%d].%s", i, ie.Field)
			}
			return nil, err
		}
		if seenList[cl.ID] {
			return nil, invalid(fmt.Sprintf("config.checklists[%d].id", i), "checklist %q given twice", cl.ID)
		}
		seenList[cl.ID] = true
		cl.Items = slices.Clone(cl.Items)
		lists[cl.ID] = cl
	}
	rules := map[string][]ReadingRule{}
	for i, r := range cfg.ReadingRules {
		if err := r.validate(); err != nil {
			var ie *InputError
			if errors.As(err, &ie) {
				ie.Field = fmt.Sprintf("config.reading_rules[%d].%s", i, ie.Field)
			}
			return nil, err
		}
		rules[r.Metric] = append(rules[r.Metric], r.clone())
	}
	if cfg.Tiering == nil {
		cfg.Tiering = DefaultTiering()
	}
	s := &Service{
		store: cfg.Store, cat: cfg.Catalogue, regions: cfg.Regions, az: cfg.Authorizer, clk: cfg.Clock,
		log: cfg.Logger, cfg: cfg, methods: methods, rules: rules, tiering: cfg.Tiering, lists: lists,
	}
	s.expiry = deadline.NewEarliest(s.clk, s.expire) // expire reschedules a point whose next change moved later
	s.overdue = deadline.New(s.clk, s.checkOverdue)
	if cfg.Bus != nil {
		s.relay = relay.New(cfg.Store, cfg.Bus)
	}
	return s, nil
}

// Restore schedules the expiry of the signals and the deadlines of the
// rectifications already in the store, and publishes events a previous
// process left in the outbox. Call it once when a process starts on an
// existing store.
func (s *Service) Restore(ctx context.Context) error {
	now := s.now()
	q := Query{Signalled: true, Limit: MaxLimit}
	for {
		page, err := s.store.Points(ctx, q)
		if err != nil {
			return err
		}
		for i := range page.Points {
			p := &page.Points[i]
			s.expiry.Add(p.ID, now) // prune what expired while no process ran; reschedules the rest
		}
		if page.Next == uuid.Nil {
			break
		}
		q.After = page.Next
	}
	open, err := s.store.Inspections(ctx, InspectionQuery{})
	if err != nil {
		return err
	}
	for i := range open {
		s.scheduleRectifications(&open[i])
	}
	return s.Flush(ctx)
}

// Shutdown stops the service's timers; it must not be used afterwards.
func (s *Service) Shutdown() {
	s.expiry.Stop()
	s.overdue.Stop()
}

// Store returns the service's store.
func (s *Service) Store() Store { return s.store }

// Catalogue returns the hazard-class catalogue.
func (s *Service) Catalogue() *Catalogue { return s.cat }

// Method returns the assessment method registered under name.
func (s *Service) Method(name string) (Method, error) {
	m, ok := s.methods[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownMethod, name)
	}
	return m, nil
}

// now returns the time as stores keep it: UTC, microseconds.
func (s *Service) now() time.Time { return s.clk.Now().UTC().Truncate(time.Microsecond) }

// Flush publishes the events waiting in the outbox, oldest first; what
// fails to publish waits for the next Flush.
func (s *Service) Flush(ctx context.Context) error {
	if s.relay == nil {
		return nil
	}
	return s.relay.Flush(ctx)
}

func (s *Service) after(ctx context.Context) {
	if err := s.Flush(ctx); err != nil {
		s.log.Warn("risk: publishing events failed; they stay in the outbox", "err", err)
	}
}

func pointResource(p *Point) access.Resource {
	return access.Resource{Kind: ResourceKind, ID: p.ID.String(), Jurisdiction: p.Grid, Owner: p.Enterprise}
}

// authorize asks the authorizer and returns the acting actor's ID.
func (s *Service) authorize(ctx context.Context, action string, r access.Resource) (string, error) {
	d := s.az.Authorize(ctx, action, r)
	if !d.Allowed {
		return "", d.Err()
	}
	return d.ActorID, nil
}

// event appends the event for p to c, when there is a bus.
func (s *Service) event(c *Change, name string, p *Point, previous Colour, actor string, now time.Time) error {
	if s.relay == nil {
		return nil
	}
	m, err := newMessage(s.cfg.SubjectPrefix, p.Path, p.ID.String(), pointEvent(name, p, previous, actor, now))
	if err != nil {
		return err
	}
	c.Events = append(c.Events, m)
	return nil
}

// ---- Points ----

// locate validates p's class and geometry, computes its anchor and finds
// its grid and path.
func (s *Service) locate(p *Point) error {
	if err := p.validateFields(); err != nil {
		return err
	}
	if _, err := s.cat.Class(p.Class); err != nil {
		return err
	}
	if err := checkGeometry(p.Geometry); err != nil {
		return err
	}
	p.Anchor = anchorOf(p.Geometry)
	if p.Grid == "" {
		u, err := s.regions.Locate(p.Anchor)
		if err != nil {
			return &InputError{Field: "geometry", Reason: "lies outside every grid", Err: err}
		}
		p.Grid = u.Code
	}
	path, err := s.regions.Path(p.Grid)
	if err != nil {
		return &InputError{Field: "grid", Reason: string(p.Grid), Err: err}
	}
	p.Path = path
	return nil
}

// Create registers a risk point. It reads the descriptive fields of p —
// ID (optional; a UUIDv7 is assigned when zero), Name, Class, Geometry,
// Grid (optional; located from the geometry when empty), Enterprise,
// Responsible, Controls, Sensors, Holdings — and ignores the rest. The
// actor needs ActionRegister in the point's grid.
func (s *Service) Create(ctx context.Context, p Point) (Point, error) {
	np := Point{
		ID: p.ID, Name: p.Name, Class: p.Class, Geometry: p.Geometry, Grid: p.Grid, Enterprise: p.Enterprise,
		Responsible: p.Responsible, Controls: p.Controls, Sensors: p.Sensors, Holdings: p.Holdings,
	}
	np = np.Clone()
	if err := s.locate(&np); err != nil {
		return Point{}, err
	}
	actor, err := s.authorize(ctx, ActionRegister, pointResource(&np))
	if err != nil {
		return Point{}, err
	}
	if np.ID == uuid.Nil {
		if np.ID, err = uuid.NewV7(); err != nil {
			return Point{}, err
		}
	}
	now := s.now()
	np.Version, np.Created, np.Updated = 1, now, now
	np.Level = computeLevel(&np, now)
	c := Change{CreatePoints: []Point{np}}
	if err := s.event(&c, EventRegistered, &np, None, actor, now); err != nil {
		return Point{}, err
	}
	if err := s.store.Apply(ctx, c); err != nil {
		return Point{}, err
	}
	s.after(ctx)
	return np.Clone(), nil
}

// Get returns a point; the actor needs ActionRead in its grid.
func (s *Service) Get(ctx context.Context, id uuid.UUID) (Point, error) {
	p, err := s.store.Point(ctx, id)
	if err != nil {
		return Point{}, err
	}
	if _, err := s.authorize(ctx, ActionRead, pointResource(&p)); err != nil {
		return Point{}, err
	}
	return p, nil
}

// maxAttempts bounds how often a command re-reads a point that changed
// under it before giving up with ErrConflict.
const maxAttempts = 4

// change runs one command on one point: read, authorize, let mutate change
// a copy, validate, recompute the level, then write the point and its
// events atomically, retrying a few times on a concurrent change.
func (s *Service) change(ctx context.Context, id uuid.UUID, action, event string, mutate func(p *Point, actor string, now time.Time) error) (Point, error) {
	var err error
	for range maxAttempts {
		var p Point
		p, err = s.changeOnce(ctx, id, action, event, mutate)
		if !errors.Is(err, ErrConflict) {
			return p, err
		}
	}
	return Point{}, err
}

func (s *Service) changeOnce(ctx context.Context, id uuid.UUID, action, event string, mutate func(p *Point, actor string, now time.Time) error) (Point, error) {
	cur, err := s.store.Point(ctx, id)
	if err != nil {
		return Point{}, err
	}
	var actor string
	if action == "" { // the service acting on its own
		actor = SystemActor
	} else if actor, err = s.authorize(ctx, action, pointResource(&cur)); err != nil {
		return Point{}, err
	}
	next := cur.Clone()
	now := s.now()
	if err := mutate(&next, actor, now); err != nil {
		return Point{}, err
	}
	next.Signals = slices.DeleteFunc(next.Signals, func(sig Signal) bool { return !sig.Until.After(now) })
	next.Level = computeLevel(&next, now)
	next.Version++
	next.Updated = now
	c := Change{UpdatePoints: []Point{next}}
	if event != "" {
		if err := s.event(&c, event, &next, cur.Level.Colour, actor, now); err != nil {
			return Point{}, err
		}
	}
	if next.Level.Colour != cur.Level.Colour && event != EventLevelChanged {
		if err := s.event(&c, EventLevelChanged, &next, cur.Level.Colour, actor, now); err != nil {
			return Point{}, err
		}
	}
	if err := s.store.Apply(ctx, c); err != nil {
		return Point{}, err
	}
	s.expiry.Add(next.ID, nextChange(&next, now))
	s.after(ctx)
	return next.Clone(), nil
}

// Update changes a point's descriptive fields: edit receives a copy and
// may change Name, Class, Geometry, Grid, Enterprise, Responsible,
// Controls, Sensors and Holdings; anything else it changes is discarded.
// The result is validated (and relocated when the geometry moved) before
// anything is written. The actor needs ActionRegister in the point's grid.
func (s *Service) Update(ctx context.Context, id uuid.UUID, edit func(p *Point) error) (Point, error) {
	return s.change(ctx, id, ActionRegister, EventUpdated, func(p *Point, _ string, _ time.Time) error {
		e := p.Clone()
		if err := edit(&e); err != nil {
			return err
		}
		if !sameGeometry(e.Geometry, p.Geometry) && e.Grid == p.Grid {
			e.Grid = "" // moved: locate again
		}
		p.Name, p.Class, p.Geometry, p.Grid, p.Enterprise = e.Name, e.Class, e.Geometry, e.Grid, e.Enterprise
		p.Responsible, p.Controls, p.Sensors, p.Holdings = e.Responsible, e.Controls, e.Sensors, e.Holdings
		return s.locate(p)
	})
}

func sameGeometry(a, b interface{ GeoJSONType() string }) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	if a.GeoJSONType() != b.GeoJSONType() {
		return false
	}
	return fmt.Sprint(a) == fmt.Sprint(b)
}

// Assess runs an assessment method on a point and stores the result as its
// static assessment, valid for the class's validity (or Config.Validity).
// method may be empty: the class's method, then Config.DefaultMethod. For
// GB 18218, in.Holdings defaults to the point's holdings and in.Exposed to
// the registered occupancy within 500 m of the point's shape. The actor
// needs ActionAssess in the point's grid.
func (s *Service) Assess(ctx context.Context, id uuid.UUID, method string, in Inputs) (Point, error) {
	return s.change(ctx, id, ActionAssess, EventAssessed, func(p *Point, actor string, now time.Time) error {
		class, err := s.cat.Class(p.Class)
		if err != nil {
			return err
		}
		if method == "" {
			method = class.Method
		}
		if method == "" {
			method = s.cfg.DefaultMethod
		}
		m, err := s.Method(method)
		if err != nil {
			return err
		}
		in = in.clone()
		if _, isR := m.(*RValue); isR {
			if in.Holdings == nil {
				in.Holdings = p.Clone().Holdings
			}
			if in.Exposed == nil {
				n, counted, err := s.exposedWithin(ctx, p, 500)
				if err != nil {
					return err
				}
				if counted {
					in.Exposed = &n
				}
			}
		}
		res, err := m.Assess(in)
		if err != nil {
			return err
		}
		validity := class.Validity
		if validity == 0 {
			validity = s.cfg.Validity
		}
		p.Assessment = &Assessment{Result: res, Inputs: in, AssessedAt: now, ValidUntil: now.Add(validity), Assessor: actor}
		return nil
	})
}

// exposedWithin counts the registered occupants of buildings within meters
// of p's shape (of its vertices, for a line or polygon), and reports
// whether any building is registered near enough to count.
func (s *Service) exposedWithin(ctx context.Context, p *Point, meters float64) (int, bool, error) {
	seen := map[string]bool{}
	total := 0
	for _, v := range vertices(p.Geometry) {
		hits, err := s.store.BuildingsNear(ctx, v, meters)
		if err != nil {
			return 0, false, err
		}
		for _, h := range hits {
			if !seen[h.Building.ID] {
				seen[h.Building.ID] = true
				total += h.Building.Occupancy
			}
		}
	}
	return total, len(seen) > 0, nil
}

// Raise adds or replaces (by Key) a live signal on a point. A signal with
// a zero From starts now; a zero Until ends after Config.SignalTTL. The
// point's level becomes the maximum of its static assessment and its
// active signals, with the reason recorded. The actor needs ActionSignal in
// the point's grid.
func (s *Service) Raise(ctx context.Context, id uuid.UUID, sig Signal) (Point, error) {
	if err := checkSignal(&sig); err != nil {
		return Point{}, err
	}
	return s.change(ctx, id, ActionSignal, "", func(p *Point, _ string, now time.Time) error {
		s.applySignal(p, sig, now)
		return nil
	})
}

func checkSignal(sig *Signal) error {
	switch {
	case sig.Key == "" || len(sig.Key) > 256:
		return invalid("signal.key", "a signal needs a key of 1–256 bytes")
	case sig.Colour < Blue || sig.Colour > Red:
		return invalid("signal.colour", "%v is not one of the four colours", sig.Colour)
	case !sig.Until.IsZero() && !sig.From.IsZero() && !sig.Until.After(sig.From):
		return invalid("signal.until", "not after from")
	}
	if sig.Kind == "" {
		sig.Kind = "signal"
	}
	return nil
}

func (s *Service) applySignal(p *Point, sig Signal, now time.Time) {
	if sig.From.IsZero() {
		sig.From = now
	}
	if sig.Until.IsZero() {
		sig.Until = sig.From.Add(s.cfg.SignalTTL)
	}
	sig.From, sig.Until = sig.From.UTC().Truncate(time.Microsecond), sig.Until.UTC().Truncate(time.Microsecond)
	if i := slices.IndexFunc(p.Signals, func(x Signal) bool { return x.Key == sig.Key }); i >= 0 {
		p.Signals[i] = sig
	} else {
		p.Signals = append(p.Signals, sig)
	}
}

// Clear removes the signal with key from a point; clearing a key the point
// does not carry changes nothing and is not an error. The actor needs
// ActionSignal in the point's grid.
func (s *Service) Clear(ctx context.Context, id uuid.UUID, key string) (Point, error) {
	return s.change(ctx, id, ActionSignal, "", func(p *Point, _ string, _ time.Time) error {
		p.Signals = slices.DeleteFunc(p.Signals, func(x Signal) bool { return x.Key == key })
		return nil
	})
}

// expire runs when a point's level may change by itself (a signal starts
// or ends, the assessment expires): it prunes expired signals and records
// the level that results.
func (s *Service) expire(id uuid.UUID) {
	ctx := context.Background()
	p, err := s.store.Point(ctx, id)
	if err != nil {
		return
	}
	now := s.now()
	stale := slices.ContainsFunc(p.Signals, func(x Signal) bool { return !x.Until.After(now) })
	l := computeLevel(&p, now)
	if !stale && l.Colour == p.Level.Colour && l.StaticExpired == p.Level.StaticExpired && slices.Equal(l.Reasons, p.Level.Reasons) {
		s.expiry.Add(id, nextChange(&p, now))
		return
	}
	if _, err := s.change(ctx, id, "", "", func(*Point, string, time.Time) error { return nil }); err != nil {
		s.log.Warn("risk: expiring signals failed", "point", id, "err", err)
	}
}

// Points returns one page of points matching q that the actor may read
// (ActionRead in each point's grid); points the actor may not read are
// left out, so a page may be short while Next is set.
func (s *Service) Points(ctx context.Context, q Query) (Page, error) {
	page, err := s.store.Points(ctx, q)
	if err != nil {
		return Page{}, err
	}
	page.Points = slices.DeleteFunc(page.Points, func(p Point) bool {
		return !s.az.Authorize(ctx, ActionRead, pointResource(&p)).Allowed
	})
	return page, nil
}
