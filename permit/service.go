package permit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
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

// Resource kinds and actions the Service asks the authorizer about. An
// application's resource has its jurisdiction, its applicant as Owner and,
// for reviews, the item's department as Department; road works have the
// segment's jurisdiction and the promoter as Department.
const (
	ResourceTemplate    = "permit-template"
	ResourceApplication = "permit-application"
	ResourceRoadWorks   = "road-works"

	ActionPublish       = "publish-template" // publish a template version
	ActionRead          = "read"             // templates, applications, tracking, worklists, reports
	ActionApply         = "apply"            // start, prefill, fill, submit, resubmit
	ActionReview        = "review"           // approve, reject, send back an item
	ActionApplyWorks    = "apply-works"      // apply to dig
	ActionCoordinate    = "coordinate"       // find clashes, agree or dissolve joint works, record resurfacing
	ActionCompleteWorks = "complete-works"   // report works done
)

// SystemActor is the actor ID recorded for what the service does on its
// own, such as escalating overdue items.
const SystemActor = "system:permit"

// Config wires a Service. Authorizer is required: an open service must be
// a visible choice (access.AllowAll).
type Config struct {
	Store      Store              // default: NewMemoryStore()
	Authorizer access.Authorizer  // required
	Bus        bus.Publisher      // where events go; nil keeps none
	Clock      clock.Clock        // default: clock.Real()
	Calendar   *calendar.Calendar // default: calendar.Default()
	// Lookups are the registries that may prefill fields, by the source
	// name fields carry in Field.Source.
	Lookups map[string]Lookup
	// Regions, if set, must know every jurisdiction applications and
	// segments name, and gives event subjects their exact path; without
	// it the path is worked out from the codes.
	Regions *region.Hierarchy
	// EscalateEvery is how long after an escalation an item still overdue
	// escalates again (default 1 working day); MaxEscalations bounds the
	// levels (default 3): the item's department first, then the
	// template's Owner.
	EscalateEvery  WorkingTime
	MaxEscalations int
	// Network is the street segments road works are applied on; road
	// works commands fail without it.
	Network *Network
	// Clash says when road works clash (defaults in ClashRules).
	Clash ClashRules
	// MoratoriumYears: no digging on a segment this long after
	// resurfacing or completed works (default 3).
	MoratoriumYears int
	SubjectPrefix   string       // default "gov"
	Logger          *slog.Logger // default: discards
}

// Service runs bundled applications and road works. Every method takes
// the actor from the context and asks the authorizer; every change is
// written with its history entry and its events in one Store.Apply. It is
// safe for concurrent use.
type Service struct {
	store Store
	az    access.Authorizer
	pub   bus.Publisher
	clk   clock.Clock
	cal   *calendar.Calendar
	cfg   Config
	log   *slog.Logger
	due   *deadline.Scheduler[uuid.UUID]
	relay *relay.Relay

	mu        sync.Mutex
	templates map[string]*compiled // by ID and version
}

// NewService validates cfg and returns a service. Call Shutdown to stop
// its SLA timers.
func NewService(cfg Config) (*Service, error) {
	switch {
	case cfg.Authorizer == nil:
		return nil, fmt.Errorf("%w: Config.Authorizer is required (access.AllowAll() for an open service)", ErrInvalidCommand)
	case cfg.MaxEscalations < 0:
		return nil, fmt.Errorf("%w: negative MaxEscalations", ErrInvalidCommand)
	case cfg.MoratoriumYears < 0 || cfg.MoratoriumYears > 50:
		return nil, fmt.Errorf("%w: MoratoriumYears must be within 0–50", ErrInvalidCommand)
	}
	if p := cfg.EscalateEvery.problem(); p != "" {
		return nil, fmt.Errorf("%w: EscalateEvery: %s", ErrInvalidCommand, p)
	}
	cfg.Clash = cfg.Clash.withDefaults()
	if err := cfg.Clash.validate(); err != nil {
		return nil, err
	}
	for name, l := range cfg.Lookups {
		if !validToken(name, true) || l == nil {
			return nil, fmt.Errorf("%w: lookup %q: a token name and a non-nil Lookup", ErrInvalidCommand, name)
		}
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
	if cfg.EscalateEvery.IsZero() {
		cfg.EscalateEvery = Days(1)
	}
	if cfg.MaxEscalations == 0 {
		cfg.MaxEscalations = 3
	}
	if cfg.MoratoriumYears == 0 {
		cfg.MoratoriumYears = 3
	}
	if cfg.SubjectPrefix == "" {
		cfg.SubjectPrefix = "gov"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{
		store: cfg.Store, az: cfg.Authorizer, pub: cfg.Bus, clk: cfg.Clock, cal: cfg.Calendar, cfg: cfg, log: cfg.Logger,
		templates: map[string]*compiled{},
	}
	s.due = deadline.New(s.clk, s.check)
	if cfg.Bus != nil {
		s.relay = relay.New(cfg.Store, cfg.Bus)
	}
	return s, nil
}

// Shutdown stops the service's timers.
func (s *Service) Shutdown() { s.due.Stop() }

// Store returns the service's store.
func (s *Service) Store() Store { return s.store }

func (s *Service) now() time.Time { return s.clk.Now().UTC().Truncate(time.Microsecond) }

func (s *Service) authorize(ctx context.Context, action string, r access.Resource) (string, error) {
	d := s.az.Authorize(ctx, action, r)
	if !d.Allowed {
		return "", d.Err()
	}
	if d.ActorID == "" {
		// An allow-all authorizer with no actor: nobody to record.
		return "", fmt.Errorf("%w: the context carries no actor", access.ErrNoActor)
	}
	return d.ActorID, nil
}

func appResource(a *Application) access.Resource {
	return access.Resource{Kind: ResourceApplication, ID: a.ID.String(), Jurisdiction: a.Jurisdiction, Owner: a.Applicant}
}

// authorizeRead allows the applicant (through an own-only grant) and any
// department holding an item of the application.
func (s *Service) authorizeRead(ctx context.Context, a *Application) error {
	r := appResource(a)
	d := s.az.Authorize(ctx, ActionRead, r)
	if d.Allowed {
		return nil
	}
	first := d.Err()
	tried := map[string]bool{}
	for _, it := range a.Items {
		if tried[it.Department] {
			continue
		}
		tried[it.Department] = true
		r.Department = it.Department
		if s.az.Authorize(ctx, ActionRead, r).Allowed {
			return nil
		}
	}
	return first
}

// compiledTemplate returns a template version, compiled, from the cache or
// the store.
func (s *Service) compiledTemplate(ctx context.Context, id string, version int) (*compiled, error) {
	key := fmt.Sprintf("%s@%d", id, version)
	s.mu.Lock()
	c, ok := s.templates[key]
	s.mu.Unlock()
	if ok {
		return c, nil
	}
	t, err := s.store.Template(ctx, id, version)
	if err != nil {
		return nil, err
	}
	if c, err = compile(t); err != nil {
		return nil, err
	}
	if version == 0 {
		return c, nil // the latest moves on; cache versions only
	}
	s.mu.Lock()
	s.templates[key] = c
	s.mu.Unlock()
	return c, nil
}

// PublishTemplate validates t and stores it as the next version of its ID:
// t.Version must be one more than the latest published (1 for a new
// template), or the call fails with ErrConflict. Fields naming a Source
// need a configured lookup of that name. Published versions never change.
func (s *Service) PublishTemplate(ctx context.Context, t Template) (Template, error) {
	t = t.Clone()
	c, err := compile(t)
	if err != nil {
		return Template{}, err
	}
	for i, f := range t.Fields {
		if f.Source != "" && s.cfg.Lookups[f.Source] == nil {
			return Template{}, &TemplateError{Template: t.ID, Path: fmt.Sprintf("fields[%d].source", i), Reason: fmt.Sprintf("no lookup named %q is configured", f.Source)}
		}
	}
	if err := s.knownUnit(t.Jurisdiction, "jurisdiction"); err != nil {
		return Template{}, err
	}
	if _, err := s.authorize(ctx, ActionPublish, access.Resource{Kind: ResourceTemplate, ID: t.ID, Jurisdiction: t.Jurisdiction, Department: t.Owner}); err != nil {
		return Template{}, err
	}
	latest := 0
	if cur, err := s.store.Template(ctx, t.ID, 0); err == nil {
		latest = cur.Version
	} else if !errors.Is(err, ErrNotFound) {
		return Template{}, err
	}
	if t.Version != latest+1 {
		return Template{}, fmt.Errorf("%w: template %s is at version %d; the next to publish is %d, not %d", ErrConflict, t.ID, latest, latest+1, t.Version)
	}
	ch := Change{Templates: []Template{t}}
	if err := s.appendEvent(&ch.Events, t.ID, t.Jurisdiction, Event{Event: "template-published", Template: t.ID, TemplateVersion: t.Version, Jurisdiction: t.Jurisdiction}); err != nil {
		return Template{}, err
	}
	if err := s.store.Apply(ctx, ch); err != nil {
		return Template{}, err
	}
	s.mu.Lock()
	s.templates[fmt.Sprintf("%s@%d", t.ID, t.Version)] = c
	s.mu.Unlock()
	s.flush(ctx)
	return t.Clone(), nil
}

// Template returns a published template version (0 for the latest).
func (s *Service) Template(ctx context.Context, id string, version int) (Template, error) {
	t, err := s.store.Template(ctx, id, version)
	if err != nil {
		return Template{}, err
	}
	if _, err := s.authorize(ctx, ActionRead, access.Resource{Kind: ResourceTemplate, ID: t.ID, Jurisdiction: t.Jurisdiction}); err != nil {
		return Template{}, err
	}
	return t, nil
}

// knownUnit checks a jurisdiction code, and that Regions knows it if set.
func (s *Service) knownUnit(c region.Code, field string) error {
	if _, err := region.ParseCode(string(c)); err != nil {
		return &CommandError{Field: field, Reason: "invalid", Err: err}
	}
	if s.cfg.Regions != nil {
		if _, err := s.cfg.Regions.Unit(c); err != nil {
			return &CommandError{Field: field, Reason: "unknown unit", Err: err}
		}
	}
	return nil
}

// Event is the JSON payload of every permit event. It carries IDs, never
// answers; outputs appear as shown, personal data masked (a consumer that
// needs a value reads the application under a permission).
type Event struct {
	Event           string            `json:"event"`
	Application     uuid.UUID         `json:"application,omitzero"`
	Template        string            `json:"template,omitempty"`
	TemplateVersion int               `json:"template_version,omitempty"`
	Item            string            `json:"item,omitempty"`
	Department      string            `json:"department,omitempty"`
	Status          string            `json:"status,omitempty"`
	Fields          []string          `json:"fields,omitempty"`
	Outputs         map[string]string `json:"outputs,omitempty"` // as shown: personal data masked
	Excavation      uuid.UUID         `json:"excavation,omitzero"`
	Joint           uuid.UUID         `json:"joint,omitzero"`
	Members         []uuid.UUID       `json:"members,omitempty"`
	Moratorium      uuid.UUID         `json:"moratorium,omitzero"`
	Segment         string            `json:"segment,omitempty"`
	Promoter        string            `json:"promoter,omitempty"`
	Escalation      int               `json:"escalation,omitempty"`
	EscalatedTo     string            `json:"escalated_to,omitempty"`
	Deadline        time.Time         `json:"deadline,omitzero"`
	Jurisdiction    region.Code       `json:"jurisdiction"`
	Actor           string            `json:"actor,omitempty"`
	Note            string            `json:"note,omitempty"`
	Time            time.Time         `json:"time"`
}

// DecodeEvent reads the payload of a permit event.
func DecodeEvent(m bus.Message) (Event, error) {
	var e Event
	if err := json.Unmarshal(m.Data, &e); err != nil {
		return e, fmt.Errorf("%w: not a permit event: %w", ErrInvalidCommand, err)
	}
	if e.Event == "" {
		return e, fmt.Errorf("%w: permit event without a name", ErrInvalidCommand)
	}
	return e, nil
}

// municipalities are the province-level cities, whose city code is the
// province's: Beijing, Tianjin, Shanghai, Chongqing.
var municipalities = map[string]bool{"11": true, "12": true, "31": true, "50": true}

// path returns the city, district and street codes above and at c.
func (s *Service) path(c region.Code) []region.Code {
	if s.cfg.Regions != nil {
		if p, err := s.cfg.Regions.Path(c); err == nil {
			return p
		}
	}
	str := string(c)
	if len(str) < 6 {
		return nil
	}
	city := str[:4] + "00"
	if municipalities[str[:2]] {
		city = str[:2] + "0000"
	}
	out := []region.Code{region.Code(city)}
	if str[:6] != city {
		out = append(out, region.Code(str[:6]))
	}
	if len(str) >= 9 {
		out = append(out, region.Code(str[:9]))
	}
	return out
}

// Subject returns the subject of a permit event:
// <prefix>.<city>.<district>.<street>.permit.<event>, with as many levels
// as the jurisdiction has.
func Subject(prefix string, path []region.Code, event string) string {
	var b strings.Builder
	b.WriteString(prefix)
	for i, c := range path {
		if i == 3 {
			break
		}
		b.WriteByte('.')
		b.WriteString(string(c))
	}
	b.WriteString(".permit.")
	b.WriteString(event)
	return b.String()
}

func (s *Service) appendEvent(out *[]bus.Message, key string, where region.Code, e Event) error {
	if s.pub == nil {
		return nil
	}
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	e.Jurisdiction = where
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("permit: encoding event: %w", err)
	}
	*out = append(*out, bus.Message{
		ID: uuid.Must(uuid.NewV7()).String(), Subject: Subject(s.cfg.SubjectPrefix, s.path(where), e.Event),
		Key: key, Headers: map[string]string{"govkit-kind": "permit", "govkit-event": e.Event},
		Time: e.Time, Data: data,
	})
	return nil
}

func (s *Service) flush(ctx context.Context) {
	if err := s.Flush(ctx); err != nil {
		s.log.Warn("permit: publishing events failed; they stay in the outbox", "err", err)
	}
}

// Flush publishes the events waiting in the outbox, oldest first, stopping
// at the first failure so that the events of one application stay in
// order.
func (s *Service) Flush(ctx context.Context) error {
	if s.relay == nil {
		return nil
	}
	return s.relay.Flush(ctx)
}

// Restore schedules the SLA checks of the open applications in the store
// and publishes events a previous process left in the outbox. Call it once
// when a process starts on an existing store.
func (s *Service) Restore(ctx context.Context) error {
	q := ApplicationQuery{Statuses: []Status{InReview, Returned}, Limit: MaxLimit}
	for {
		p, err := s.store.Applications(ctx, q)
		if err != nil {
			return err
		}
		for _, a := range p.Applications {
			s.due.Add(a.ID, a.NextCheck)
		}
		if p.Next == uuid.Nil {
			break
		}
		q.After = p.Next
	}
	return s.Flush(ctx)
}
