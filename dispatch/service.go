package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
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
// ResourceKind whose jurisdiction is the case's grid and whose department
// is the order's body's.
const (
	ResourceKind          = "work-order"
	ActionDispatch        = "dispatch"       // route a case and offer its work orders
	ActionSignFor         = "sign-for"       // sign for or return an offered order
	ActionHandle          = "handle"         // start and complete
	ActionVerify          = "verify"         // verify completed work
	ActionReassign        = "reassign"       // give a branch to another body
	ActionAssignBinding   = "assign-binding" // the tier above's binding assignment
	ActionChaseUp         = "chase-up"       // 催办
	ActionSupervise       = "supervise"      // 督办
	ActionExtend          = "request-extension"
	ActionApproveExtend   = "approve-extension"
	ActionSuspend         = "suspend" // suspend and resume
	ActionEvaluate        = "evaluate"
	ActionRead            = "read"
	ActionReadIndicators  = "read-indicators"
	ActionOfferVolunteers = "offer-volunteer-task"
)

// SystemActor is the actor ID recorded for what the service does by itself,
// such as reminders and escalations.
const SystemActor = "system:dispatch"

// Config wires a Service. Router, Authorizer and Calendar-free defaults are
// as documented per field.
type Config struct {
	Store      Store             // default: NewMemoryStore()
	Router     *Router           // required
	Authorizer access.Authorizer // required; access.AllowAll() for an open service
	Bus        bus.Publisher     // where events go; nil keeps none
	Notifier   Notifier          // offers, reminders, escalations; nil sends none
	Roster     Roster            // who is on duty to supervise; nil: nobody
	Clock      clock.Clock       // default: clock.Real()
	Calendar   *calendar.Calendar
	Policies   []Policy   // SLA and escalation per category and tier
	Playbooks  []Playbook // multi-department plans, by category or alarm
	// MaxReturns is the number of returns of one case after which the
	// tier above must make a binding assignment (default 2): the end of
	// return ping-pong.
	MaxReturns    int
	SubjectPrefix string // default "gov"
	// Regions places each body's jurisdiction in the hierarchy (a
	// *region.Hierarchy will do), so that a work order's events go out
	// under the path of the body it is for, wherever the case lies: the
	// street team of another district, subscribed to its own street, sees
	// the orders addressed to it. NewService refuses a body whose
	// jurisdiction Regions lacks. Without it the service knows only the
	// case's path: an order's events go under that path cut at the body's
	// jurisdiction when the jurisdiction lies on it, and under the whole
	// case path otherwise — so deployments whose rules route across
	// districts (asset rules, named bodies elsewhere) should set it.
	Regions RegionPaths
	Logger  *slog.Logger
}

// RegionPaths gives the path from the top of the hierarchy down to a
// unit, the unit last; *region.Hierarchy implements it.
type RegionPaths interface {
	Path(code region.Code) ([]region.Code, error)
}

// Service runs work orders: it routes cases to bodies, offers the branches,
// times sign-for, return windows and completion on the business calendar,
// reminds and escalates when nobody acts, stops return ping-pong, and tells
// the incident side when a case is disposed. Every command is authorized,
// recorded in the order's history and announced on the bus.
type Service struct {
	store     Store
	router    *Router
	az        access.Authorizer
	pub       bus.Publisher
	notifier  Notifier
	roster    Roster
	clk       clock.Clock
	cal       *calendar.Calendar
	policies  policies
	playbooks playbooks
	cfg       Config
	log       *slog.Logger
	due       *deadline.Scheduler[uuid.UUID]
	bodyPaths map[string][]region.Code // from Config.Regions; nil without it

	relay *relay.Relay // nil without a bus
}

// NewService validates cfg and returns a service; call Shutdown to stop
// its timers.
func NewService(cfg Config) (*Service, error) {
	switch {
	case cfg.Router == nil:
		return nil, fmt.Errorf("%w: Config.Router is required", ErrInvalidCommand)
	case cfg.Authorizer == nil:
		return nil, fmt.Errorf("%w: Config.Authorizer is required (access.AllowAll() for an open service)", ErrInvalidCommand)
	case cfg.MaxReturns < 0:
		return nil, fmt.Errorf("%w: negative MaxReturns", ErrInvalidCommand)
	}
	ps, err := newPolicies(cfg.Policies)
	if err != nil {
		return nil, err
	}
	pbs, err := newPlaybooks(cfg.Router.org, cfg.Playbooks)
	if err != nil {
		return nil, err
	}
	bodyPaths, err := newBodyPaths(cfg.Router.org, cfg.Regions)
	if err != nil {
		return nil, err
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
	if cfg.Roster == nil {
		cfg.Roster = StaticRoster{}
	}
	if cfg.MaxReturns == 0 {
		cfg.MaxReturns = 2
	}
	if cfg.SubjectPrefix == "" {
		cfg.SubjectPrefix = "gov"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{
		store: cfg.Store, router: cfg.Router, az: cfg.Authorizer, pub: cfg.Bus, notifier: cfg.Notifier,
		roster: cfg.Roster, clk: cfg.Clock, cal: cfg.Calendar, policies: ps, playbooks: pbs, cfg: cfg, log: cfg.Logger,
		bodyPaths: bodyPaths,
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

// after adds working time d to t on the calendar; zero d gives zero time
// (not timed).
func (s *Service) after(t time.Time, d time.Duration) time.Time {
	if d <= 0 {
		return time.Time{}
	}
	at, err := s.cal.AddWorkingDuration(t, d)
	if err != nil {
		return time.Time{}
	}
	return at
}

func (s *Service) resource(ctx context.Context, o *WorkOrder) access.Resource {
	r := access.Resource{Kind: ResourceKind, ID: o.ID.String(), Jurisdiction: o.Grid(), Owner: o.Responder}
	b, err := s.router.org.Body(o.Body)
	if err != nil {
		return r
	}
	r.Department = b.Department
	if r.Department == "" {
		r.Department = b.ID
	}
	// A work order lies where its case lies and where its body serves: the
	// street team of another district, whose scope is its own street,
	// handles the orders routed to it across the district line (S16).
	if a, err := access.ActorFrom(ctx); err == nil && !r.Jurisdiction.Within(a.Scope) && b.Jurisdiction.Within(a.Scope) {
		r.Jurisdiction = b.Jurisdiction
	}
	return r
}

func (s *Service) authorize(ctx context.Context, action string, r access.Resource) (string, error) {
	d := s.az.Authorize(ctx, action, r)
	if !d.Allowed {
		return "", d.Err()
	}
	return d.ActorID, nil
}

// Dispatch routes a case and offers its work orders: one for the lead
// handler and one per co-handler, in parallel. A category that triggers a
// playbook runs the playbook instead (StartPlaybook). A case is dispatched
// once; later changes go through Reassign.
func (s *Service) Dispatch(ctx context.Context, c Case) (CaseFile, []WorkOrder, error) {
	if c.ID == "" || len(c.ID) > 128 {
		return CaseFile{}, nil, fmt.Errorf("%w: a case needs an ID of at most 128 bytes", ErrInvalidCase)
	}
	if pb, ok := s.playbooks.triggered(c.Category, ""); ok {
		return s.startPlaybook(ctx, c, pb, nil)
	}
	actor, err := s.authorize(ctx, ActionDispatch, access.Resource{Kind: ResourceKind, ID: c.ID, Jurisdiction: c.unit()})
	if err != nil {
		return CaseFile{}, nil, err
	}
	// A case dispatched before already has a case file, so writing a new
	// one fails; only then is it read, which spares every first dispatch a
	// read (a round trip on a database).
	d, err := s.router.Route(c)
	if err != nil {
		return CaseFile{}, nil, s.dispatchedBefore(ctx, c.ID, err)
	}
	now := s.now()
	cf := CaseFile{Case: c.ID, Category: c.Category, Path: c.Path, Version: 1}
	var ch Change
	branches := append([]Assignment{d.Lead}, d.Co...)
	ruleID := "asset:" + c.Asset
	if d.Rule != nil {
		ruleID = d.Rule.ID
	}
	for i, a := range branches {
		o := s.newOrder(c, a.Body.ID, i, !a.Optional, now)
		o.Rule = ruleID
		o.History = []Step{{Time: now, Actor: actor, Action: "offer", To: Offered, Note: d.Explain()}}
		cf.Orders = append(cf.Orders, o.ID)
		ch.Orders = append(ch.Orders, o)
		if err := s.event(&ch, &o, EventOffered, 0, actor, ""); err != nil {
			return CaseFile{}, nil, err
		}
	}
	ch.Cases = []CaseFile{cf}
	if err := s.store.Apply(ctx, ch); err != nil {
		if errors.Is(err, ErrConflict) {
			err = s.dispatchedBefore(ctx, c.ID, err)
		}
		return CaseFile{}, nil, err
	}
	for i := range ch.Orders {
		s.offered(ctx, &ch.Orders[i])
	}
	s.flush(ctx)
	return cf, ch.Orders, nil
}

// dispatchedBefore returns ErrAlreadyDispatched if case id has a case
// file, and err otherwise.
func (s *Service) dispatchedBefore(ctx context.Context, id string, err error) error {
	if _, ferr := s.store.CaseFile(ctx, id); ferr == nil {
		return fmt.Errorf("%w: %s", ErrAlreadyDispatched, id)
	}
	return err
}

// newOrder builds an offered order for body on branch, with its clocks.
func (s *Service) newOrder(c Case, body string, branch int, mandatory bool, now time.Time) WorkOrder {
	tier := region.Level(0)
	if b, err := s.router.org.Body(body); err == nil {
		tier = b.Tier()
	}
	p := s.policies.For(c.Category, tier)
	o := WorkOrder{
		ID: uuid.Must(uuid.NewV7()), Case: c.ID, Category: c.Category, Path: c.Path, Kind: Duty,
		Body: body, Branch: branch, Lead: branch == 0, Mandatory: mandatory, Status: Offered, Offered: now,
		SignBy: s.after(now, p.SignFor), ReturnBy: s.after(now, p.ReturnWindow), Deadline: s.after(now, p.Complete),
		Version: 1,
	}
	o.NextCheck = o.SignBy
	return o
}

// offered notifies the body of a new order and schedules its checks.
func (s *Service) offered(ctx context.Context, o *WorkOrder) {
	s.notify(ctx, Notification{
		Kind: NotifyOffer, To: o.Body, WorkOrder: o.ID.String(), Case: o.Case,
		Subject: fmt.Sprintf("new %s work order, category %s", branchName(o), o.Category), Deadline: o.SignBy,
	})
	s.due.Add(o.ID, o.NextCheck)
}

func branchName(o *WorkOrder) string {
	if o.Lead {
		return "lead"
	}
	return "co-handling"
}

func (s *Service) notify(ctx context.Context, n Notification) {
	if s.notifier == nil {
		return
	}
	if n.ID == "" {
		n.ID = uuid.Must(uuid.NewV7()).String()
	}
	if n.Time.IsZero() {
		n.Time = s.now()
	}
	if err := s.notifier.Notify(ctx, n); err != nil {
		s.log.Warn("dispatch: notification failed", "kind", n.Kind.String(), "to", n.To, "err", err)
	}
}

// Dispatch events: OrderEvent.Event and the last token of the subject.
// Most tell what happened to one work order; EventCaseDisposed (every
// mandatory branch done) and EventNoRoute (no rule placed the case) are
// about the case.
const (
	EventOffered             = "offered"
	EventSignedFor           = "signed-for"
	EventReturned            = "returned"
	EventBindingRequired     = "binding-required"
	EventReassigned          = "reassigned"
	EventStarted             = "started"
	EventDone                = "done"
	EventCaseDisposed        = "case-disposed"
	EventVerified            = "verified"
	EventRework              = "rework"
	EventChasedUp            = "chased-up"
	EventSupervised          = "supervised"
	EventExtensionRequested  = "extension-requested"
	EventExtensionApproved   = "extension-approved"
	EventExtensionRefused    = "extension-refused"
	EventSuspended           = "suspended"
	EventResumed             = "resumed"
	EventEvaluated           = "evaluated"
	EventSignForOverdue      = "sign-for-overdue"
	EventEscalated           = "escalated"
	EventEscalationExhausted = "escalation-exhausted"
	EventNoRoute             = "no-route"
)

// OrderEvent is the JSON payload of dispatch events.
type OrderEvent struct {
	Event     string        `json:"event"`
	Order     uuid.UUID     `json:"order,omitzero"`
	Case      string        `json:"case"`
	Body      string        `json:"body,omitempty"`
	Branch    int           `json:"branch"`
	Mandatory bool          `json:"mandatory"`
	Status    string        `json:"status,omitempty"`
	From      string        `json:"from,omitempty"`
	Actor     string        `json:"actor,omitempty"`
	Category  string        `json:"category"`
	Path      []region.Code `json:"path"`
	Deadline  time.Time     `json:"deadline,omitzero"`
	Unit      region.Code   `json:"unit,omitempty"` // escalation or binding unit
	Note      string        `json:"note,omitempty"`
	Time      time.Time     `json:"time"`
}

// Subject returns the subject of a dispatch event:
// <prefix>.<city>.<district>.<street>.dispatch.<event> from the first
// three codes of path, fewer when path is shorter. The Service publishes
// a work order's events under the path of the body the order is for (see
// Config.Regions): a district bureau's as <prefix>.<city>.<district>.dispatch.<event>,
// a city department's as <prefix>.<city>.dispatch.<event>. Events about a
// whole case (EventCaseDisposed, EventNoRoute) go under the case's path.
// To receive every dispatch event, subscribe to <prefix>.> and read the
// "govkit-kind" header: <prefix>.*.*.*.dispatch.> misses the shorter
// subjects.
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
	b.WriteString(".dispatch.")
	b.WriteString(event)
	return b.String()
}

// event appends the event announcing a change of o to ch.
func (s *Service) event(ch *Change, o *WorkOrder, name string, from OrderStatus, actor, note string) error {
	if s.pub == nil {
		return nil
	}
	e := OrderEvent{
		Event: name, Order: o.ID, Case: o.Case, Body: o.Body, Branch: o.Branch, Mandatory: o.Mandatory,
		Status: o.Status.String(), Actor: actor, Category: o.Category, Path: o.Path, Deadline: o.Deadline,
		Unit: o.EscalatedTo, Note: note, Time: s.now(),
	}
	if from != 0 && from != o.Status {
		e.From = from.String()
	}
	return s.appendEvent(ch, o.Case, s.bodyPath(o), e)
}

// newBodyPaths looks up every body's path in regions once, so that
// publishing an event needs no lookup.
func newBodyPaths(org *Org, regions RegionPaths) (map[string][]region.Code, error) {
	if regions == nil {
		return nil, nil
	}
	bodies := org.Bodies()
	paths := make(map[string][]region.Code, len(bodies))
	for _, b := range bodies {
		p, err := regions.Path(b.Jurisdiction)
		if err != nil {
			return nil, fmt.Errorf("%w: body %q: jurisdiction %s is not in Config.Regions: %w", ErrInvalidCommand, b.ID, b.Jurisdiction, err)
		}
		if len(p) == 0 || p[len(p)-1] != b.Jurisdiction {
			return nil, fmt.Errorf("%w: body %q: Config.Regions gives path %v for %s, which does not end there", ErrInvalidCommand, b.ID, p, b.Jurisdiction)
		}
		paths[b.ID] = p
	}
	return paths, nil
}

// bodyPath returns the region path of the body o is for now (after a
// reassignment, the new order's body): its events go out under it, so the
// body's own centre sees its work, and its escalations climb it. Without
// Config.Regions it is the case's path, cut at the body's jurisdiction
// when that lies on it. OrderEvent.Path stays the case's.
func (s *Service) bodyPath(o *WorkOrder) []region.Code {
	if p, ok := s.bodyPaths[o.Body]; ok {
		return p
	}
	b, err := s.router.org.Body(o.Body)
	if err != nil {
		return o.Path // a body of an older organisation: all we know is the case
	}
	if i := slices.Index(o.Path, b.Jurisdiction); i >= 0 {
		return o.Path[:i+1]
	}
	return o.Path
}

// appendEvent appends e to ch under path: the body's for an order's
// events, the case's for a case's.
func (s *Service) appendEvent(ch *Change, key string, path []region.Code, e OrderEvent) error {
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("dispatch: encoding event: %w", err)
	}
	ch.Events = append(ch.Events, bus.Message{
		ID: uuid.Must(uuid.NewV7()).String(), Subject: Subject(s.cfg.SubjectPrefix, path, e.Event),
		Key: key, Headers: map[string]string{"govkit-kind": "dispatch", "govkit-event": e.Event},
		Time: e.Time, Data: data,
	})
	return nil
}

// DecodeEvent reads the payload of a dispatch event.
func DecodeEvent(m bus.Message) (OrderEvent, error) {
	var e OrderEvent
	if err := json.Unmarshal(m.Data, &e); err != nil {
		return e, fmt.Errorf("%w: not a dispatch event: %w", ErrInvalidCommand, err)
	}
	if e.Event == "" || e.Case == "" {
		return e, fmt.Errorf("%w: dispatch event without name or case", ErrInvalidCommand)
	}
	return e, nil
}

// flush publishes the outbox; one flush runs at a time and a call that
// finds another running leaves the work to it.
func (s *Service) flush(ctx context.Context) {
	if err := s.Flush(ctx); err != nil {
		s.log.Warn("dispatch: publishing events failed; they stay in the outbox", "err", err)
	}
}

// Flush publishes the events waiting in the outbox, oldest first, stopping
// at the first failure so that events of one case stay in order.
func (s *Service) Flush(ctx context.Context) error {
	if s.relay == nil {
		return nil
	}
	return s.relay.Flush(ctx)
}
