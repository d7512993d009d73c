package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/calendar"
	"github.com/govkit/govkit/clock"
	"github.com/govkit/govkit/codes"
	"github.com/govkit/govkit/dispatch"
	"github.com/govkit/govkit/incident"
	"github.com/govkit/govkit/permit"
	"github.com/govkit/govkit/region"
	"github.com/govkit/govkit/risk"
	"github.com/govkit/govkit/sensor"
)

// Backend is where the simulation keeps its state and how its events
// travel. Nil stores take the packages' in-memory defaults.
type Backend struct {
	// Bus carries every event between the services and the desks.
	Bus bus.Bus
	// Settle returns once every event published so far, and every event
	// their handlers published in turn, has been handled: bus.Memory's
	// Drain, or a check of the broker's consumers and the outbox.
	Settle func(ctx context.Context) error

	Incidents incident.Store
	Dispatch  dispatch.Store
	Permits   permit.Store
	Risk      risk.Store
	Codes     codes.Store
	// Readings, if set, returns the sink that stores every accepted
	// sensor reading of the registry (the PostgreSQL sink, which batches
	// them with COPY); it is called once the devices are registered.
	Readings func(*sensor.Registry) (sensor.Sink, error)
	// Logger receives what the services log; nil discards it.
	Logger *slog.Logger
}

// policy is the district's access policy: who may do what, always within
// their jurisdiction. Nothing runs on access.AllowAll.
const policy = `{"version": 1, "roles": {
  "setup":        [{"action": "*", "resource": "*"}],
  "centre":       [{"action": "register", "resource": "incident"}, {"action": "dispatch", "resource": "incident"},
                   {"action": "merge", "resource": "incident"}, {"action": "close", "resource": "incident"},
                   {"action": "read", "resource": "incident"}, {"action": "read-indicators", "resource": "incident"},
                   {"action": "reassign", "resource": "work-order"}, {"action": "read", "resource": "work-order"},
                   {"action": "read-indicators", "resource": "work-order"}],
  "dispatcher":   [{"action": "dispatch", "resource": "work-order"}],
  "responder":    [{"action": "sign-for", "resource": "work-order", "same_department": true},
                   {"action": "handle", "resource": "work-order", "same_department": true},
                   {"action": "read", "resource": "work-order", "same_department": true},
                   {"action": "handle", "resource": "incident"}, {"action": "read", "resource": "incident"}],
  "grid-member":  [{"action": "report", "resource": "incident"}, {"action": "verify", "resource": "incident"},
                   {"action": "read", "resource": "incident"}, {"action": "verify", "resource": "work-order"}],
  "citizen":      [{"action": "report", "resource": "incident"},
                   {"action": "evaluate", "resource": "incident", "own_only": true},
                   {"action": "read", "resource": "incident", "own_only": true},
                   {"action": "apply", "resource": "permit-application", "own_only": true},
                   {"action": "read", "resource": "permit-application", "own_only": true}],
  "sensor-system": [{"action": "report", "resource": "incident"}, {"action": "ingest", "resource": "sensor.readings"}],
  "camera-ai":    [{"action": "report", "resource": "incident"}],
  "risk-system":  [{"action": "signal", "resource": "risk-point"}, {"action": "read", "resource": "risk-point"}],
  "reviewer":     [{"action": "review", "resource": "permit-application", "same_department": true},
                   {"action": "read", "resource": "permit-application", "same_department": true}],
  "codes-officer": [{"action": "issue", "resource": "listing-code"}, {"action": "record-points", "resource": "listing-code"},
                   {"action": "revoke", "resource": "listing-code"}, {"action": "read", "resource": "listing-code"},
                   {"action": "publish", "resource": "code-list"}]
}}`

// System actors.
var (
	actorSetup      = access.Actor{ID: "district-setup", Kind: access.AutomationSystem, Scope: cityCode, Roles: []string{"setup"}}
	actorDispatcher = access.Actor{ID: "dispatcher", Kind: access.AutomationSystem, Scope: cityCode, Roles: []string{"dispatcher"}}
	actorIoT        = access.Actor{ID: "iot-platform", Kind: access.SensorSystem, Scope: cityCode, Roles: []string{"sensor-system"}}
	actorRisk       = access.Actor{ID: "risk-board", Kind: access.AutomationSystem, Scope: cityCode, Roles: []string{"risk-system"}}
	actorCodes      = access.Actor{ID: "listing-code-office", Kind: access.DistrictStaff, Scope: cityCode, Roles: []string{"codes-officer"}}
)

// system is the district's govkit: every service, wired to the backend
// and to each other through the bus, and the simulation's bookkeeping.
type system struct {
	w      *world
	cfg    Config
	clk    *clock.Manual
	cal    *calendar.Calendar
	back   Backend
	policy *access.Policy

	incidents  *incident.Service
	dispatch   *dispatch.Service
	responders *dispatch.Responders
	risk       *risk.Service
	permits    *permit.Service
	codes      *codes.Service
	fleet      *fleet
	ingest     *sensor.Ingester
	engine     *sensor.Engine
	notices    *counter

	subs       []bus.Subscription
	riskPoints int
	sched      *scheduler
	crews      map[string]*crew

	mu         sync.Mutex
	apps       map[string]*application // permit application ID → what the applicant knows
	streets    map[region.Code]*streetStats
	errs       []string
	errCount   int
	reports    atomic.Int64
	opened     atomic.Int64
	autoMerged atomic.Int64
	replayed   atomic.Int64
	refused    atomic.Int64
	readings   atomic.Int64
	alarms     atomic.Int64
	escalated  atomic.Int64
	offers     atomic.Int64
	closed     atomic.Int64
	bundles    atomic.Int64
	issued     atomic.Int64
	events     atomic.Int64
}

// streetStats are what the desks count per street as events pass.
type streetStats struct {
	alarms, codes, delisted, bundlesStarted, bundlesDone, bundlesRejected, riskRaised int
}

// counter is a dispatch.Notifier that counts what it is given: offers,
// reminders and escalations would go to terminals and SMS gateways.
type counter struct{ n atomic.Int64 }

// Notify implements dispatch.Notifier.
func (c *counter) Notify(ctx context.Context, n dispatch.Notification) error {
	if err := n.Validate(); err != nil {
		return err
	}
	c.n.Add(1)
	return nil
}

func as(ctx context.Context, a access.Actor) context.Context { return access.WithActor(ctx, a) }

// newSystem builds every service on the backend.
func newSystem(w *world, back Backend) (*system, error) {
	s := &system{
		w: w, cfg: w.cfg, back: back, clk: clock.NewManual(w.cfg.Start),
		sched: newScheduler(), crews: map[string]*crew{}, apps: map[string]*application{},
		streets: map[region.Code]*streetStats{}, notices: &counter{},
	}
	for _, st := range w.streets {
		s.streets[st.code] = &streetStats{}
	}
	var err error
	if s.policy, err = access.ParsePolicy([]byte(policy)); err != nil {
		return nil, err
	}
	// The command centres work around the clock: every hour of every day
	// is working time, so SLAs are wall-clock hours.
	if s.cal, err = calendar.New(calendar.Config{Location: CST, Weekend: []time.Weekday{},
		Hours: []calendar.Span{{Start: 0, End: calendar.EndOfDay}}}); err != nil {
		return nil, err
	}
	log := back.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	pub := back.Bus

	if s.incidents, err = incident.NewService(incident.Config{
		Store: back.Incidents, Catalogue: w.catalogue, Regions: w.regions, Authorizer: s.policy, Bus: pub,
		Clock: s.clk, Calendar: s.cal, Logger: log, AutoMerge: incident.SameAttribute(attrAsset),
	}); err != nil {
		return nil, err
	}

	var policies []dispatch.Policy
	for _, c := range w.cats {
		policies = append(policies, dispatch.Policy{Category: c.code, SignFor: c.signFor, ReturnWindow: 15 * time.Minute,
			Complete: c.complete, RemindEvery: 10 * time.Minute, Reminders: 2, EscalateEvery: time.Hour})
	}
	roster := dispatch.StaticRoster{cityCode: {"duty-city"}}
	for _, d := range w.districts {
		roster[d] = []string{"duty-" + string(d)}
	}
	for _, st := range w.streets {
		roster[st.code] = []string{st.centre.ID}
	}
	if s.dispatch, err = dispatch.NewService(dispatch.Config{
		Store: back.Dispatch, Router: w.router, Authorizer: s.policy, Bus: pub, Notifier: s.notices, Roster: roster,
		Clock: s.clk, Calendar: s.cal, Policies: policies, Playbooks: []dispatch.Playbook{burstPlaybook()}, Regions: w.regions, Logger: log,
	}); err != nil {
		return nil, err
	}
	// Positions change only when a responder goes to a scene: the
	// terminals' periodic fixes are not simulated, so no fix grows stale.
	s.responders = dispatch.NewResponders(s.clk, dispatch.WithMaxPositionAge(0))

	riskCat, err := risk.NewCatalogue(hazardClasses())
	if err != nil {
		return nil, err
	}
	if s.risk, err = risk.NewService(risk.Config{
		Store: back.Risk, Catalogue: riskCat, Regions: w.regions, Authorizer: s.policy, Bus: pub, Clock: s.clk, Logger: log,
	}); err != nil {
		return nil, err
	}

	if s.permits, err = permit.NewService(permit.Config{
		Store: back.Permits, Authorizer: s.policy, Bus: pub, Clock: s.clk, Calendar: s.cal, Regions: w.regions, Logger: log,
	}); err != nil {
		return nil, err
	}

	ring := codes.NewKeyRing()
	for _, usage := range []codes.Usage{codes.UsageCodes, codes.UsageLists} {
		k, err := codes.GenerateKey(codes.EdDSA)
		if err != nil {
			return nil, err
		}
		if err := ring.Add(k, codes.PublicKey{Issuer: "500000-housing", Usage: usage}); err != nil {
			return nil, err
		}
	}
	if s.codes, err = codes.NewService(codes.Config{
		Store: back.Codes, Keys: ring, Authorizer: s.policy, Bus: pub, Clock: s.clk, Logger: log,
		Issuer: "500000-housing", Jurisdiction: cityCode,
	}); err != nil {
		return nil, err
	}

	minutes := w.cfg.Hours * 60
	if s.fleet, err = newFleet(w, minutes); err != nil {
		return nil, err
	}
	if s.engine, err = sensor.NewEngine(s.fleet.reg, s.clk, pub, sensor.EngineOptions{
		Authorizer: s.policy, Hierarchy: w.regions, Logger: log,
	}); err != nil {
		return nil, err
	}
	var sink sensor.Sink
	if back.Readings != nil {
		if sink, err = back.Readings(s.fleet.reg); err != nil {
			return nil, err
		}
	}
	if s.ingest, err = sensor.NewIngester(s.fleet.reg, sensor.IngestOptions{
		Authorizer: s.policy, Area: cityCode, Observers: []sensor.Observer{s.engine}, Sink: sink,
		Clock: s.clk, Logger: log,
	}); err != nil {
		return nil, err
	}
	return s, nil
}

// burstPlaybook is S4's plan for a burst water main: confirm, shut the
// valves and control the traffic, repair, restore the road.
func burstPlaybook() dispatch.Playbook {
	water := districtFn(fnWater)
	return dispatch.Playbook{ID: "water-main-burst", Version: 1, Name: "Water main burst", Categories: []string{catBurst},
		Steps: []dispatch.PlaybookStep{
			{ID: "confirm", Name: "Confirm the burst and the outage area", Handler: water},
			{ID: "valve", Name: "Shut the valves", Handler: water, After: []string{"confirm"}},
			{ID: "traffic", Name: "Control traffic around the site", Handler: streetFn(fnEnforcement), After: []string{"confirm"}},
			{ID: "repair", Name: "Repair the main", Handler: water, After: []string{"valve"}},
			{ID: "road", Name: "Restore the road", Handler: districtFn(fnUrban), After: []string{"repair", "traffic"}},
		}}
}

// subscribe wires the desks to the bus: how the packages work together.
func (s *system) subscribe(ctx context.Context) error {
	b := s.back.Bus
	type sub struct {
		pattern, group string
		h              bus.Handler
	}
	subs := []sub{
		// Sensor alarms become incidents.
		{"gov.*.*.*.sensor.alarm.raised", "alarm-desk", s.alarmDesk},
		// Dispatch events: offers to sign for, returns, disposed cases.
		// An order's events go under its body's jurisdiction, which for a
		// district bureau or the city centre is shorter than a street's:
		// the desk takes everything and keeps what its header says is
		// dispatch's.
		{"gov.>", "dispatch-desk", s.dispatchDesk},
		// Hazardous cases raise the risk points around them (incident → risk).
		{"gov.*.*.*.incident.>", "risk-watch", s.risk.Handler(actorRisk, s.decodeHazard)},
		{"gov.*.*.*.risk.level-changed", "risk-board", s.riskBoard},
		// Bundles: reviews, corrections, completions (permit → codes).
		{"gov.*.*.*.permit.>", "permit-desk", s.permitDesk},
		// A listing turning red is delisted.
		{"gov.*.*.*.codes.turned-red", "listing-desk", s.listingDesk},
		// The city centre's screen sees everything under the city; a
		// district's would subscribe to gov.500000.<district>.>.
		{"gov." + string(cityCode) + ".>", "city-centre", func(context.Context, bus.Message) error { s.events.Add(1); return nil }},
	}
	for _, x := range subs {
		sb, err := b.Subscribe(ctx, x.pattern, x.group, x.h)
		if err != nil {
			return fmt.Errorf("sim: subscribing %s: %w", x.group, err)
		}
		s.subs = append(s.subs, sb)
	}
	// Registered cases are routed and their work orders offered.
	sb, err := s.dispatch.FollowIncidents(as(ctx, actorDispatcher), b, "dispatch")
	if err != nil {
		return err
	}
	s.subs = append(s.subs, sb)
	return nil
}

// close stops the subscriptions and the services' timers.
func (s *system) close() {
	for _, sb := range s.subs {
		_ = sb.Close()
	}
	s.engine.Close()
	s.incidents.Shutdown()
	s.dispatch.Shutdown()
	s.risk.Shutdown()
	s.permits.Shutdown()
}

// fail records an unexpected error of an action or a desk. The simulation
// goes on; the summary lists them.
func (s *system) fail(where string, err error) {
	if err == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errCount++
	if len(s.errs) < 20 {
		s.errs = append(s.errs, where+": "+err.Error())
	}
}

// street returns the stats of the street c lies in, or nil.
func (s *system) street(c region.Code) *streetStats {
	if len(c) < 9 {
		return nil
	}
	return s.streets[c[:9]]
}

// count adds to a street's stats under the lock.
func (s *system) count(c region.Code, f func(*streetStats)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.street(c); st != nil {
		f(st)
	}
}

// ignorable reports errors that only say the world moved on: the case or
// order is no longer in the state the action expected.
func ignorable(err error) bool {
	return errors.Is(err, incident.ErrInvalidTransition) || errors.Is(err, dispatch.ErrInvalidTransition) ||
		errors.Is(err, permit.ErrInvalidTransition)
}

// MemoryBackend returns a backend on the embedded defaults: the packages'
// in-memory stores and mem, settled by waiting until nothing is queued or
// in flight on it.
func MemoryBackend(mem *bus.Memory) Backend {
	return Backend{Bus: mem, Settle: func(ctx context.Context) error {
		for i := 0; mem.Stats().Pending > 0; i++ {
			if err := ctx.Err(); err != nil {
				return err
			}
			if i < 200 {
				runtime.Gosched()
			} else {
				time.Sleep(20 * time.Microsecond)
			}
		}
		return nil
	}}
}
