package sensor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/clock"
	"github.com/govkit/govkit/internal/relay"
	"github.com/govkit/govkit/region"
)

// EngineOptions configures an Engine. Authorizer is required; the rest
// have defaults.
type EngineOptions struct {
	// Authorizer decides who may manage rules and acknowledge and read
	// alarms; required (access.AllowAll() for tests and single-user
	// tools). Observe, the ingestion path, is never authorized per
	// reading.
	Authorizer access.Authorizer
	// Hierarchy, if set, gives each alarm's jurisdiction path for its
	// subject; without it the path is read from the grid code itself
	// (province-level city, district, street).
	Hierarchy *region.Hierarchy
	// Prefix starts every subject (default "gov").
	Prefix string
	// Tick is the resolution of the engine's timers: heartbeat deadlines,
	// durations, storm holds and correlation windows are rounded up to it
	// (default 1 s, at least 1 ms).
	Tick time.Duration
	// History is how many cleared alarms stay listable and acknowledgeable
	// (default 10,000; negative keeps none).
	History int
	// PublishPending publishes pending and cancelled alarms too; by
	// default only raised, updated, cleared and acknowledged alarms are
	// published (pending ones are listable either way).
	PublishPending bool
	// Storm configures storm control of missing heartbeats.
	Storm StormOptions
	// Logger receives publishing failures; nil logs nothing.
	Logger *slog.Logger
	// Store, if set, keeps the engine's rules and alarms across restarts:
	// AddRule and RemoveRule write rules through to it, every alarm
	// change is written after the engine's lock is released, and
	// NewEngine restores the stored rules and open alarms (see Engine,
	// "Persistence"). Register the devices first (LoadRegistry).
	Store Store
	// StoreTimeout bounds each call the engine makes to Store on its own
	// behalf: the restore in NewEngine and the alarm writes (default
	// 10 s). Calls made for a caller (AddRule, Ack...) use its context.
	StoreTimeout time.Duration
	// MaxUnpublished bounds the alarm events an engine without a Store
	// keeps in memory while the publisher refuses them (default 65,536);
	// beyond it the oldest are dropped and counted in
	// EngineStats.EventsDropped. With a Store, events wait in its outbox
	// instead, without a bound and across restarts.
	MaxUnpublished int
}

// StormOptions configures storm control: when the devices behind a gateway,
// or a share of an area's devices, go silent together, one alarm stands for
// them instead of one per device. Only missing-heartbeat rules take part;
// a device counts once however many heartbeat rules watch it.
//
// A silent device that could be part of a storm (it has a gateway, or its
// area is large enough) has its own alarm held back for Hold, so that the
// devices whose timeouts fall a little later can join: when the last one
// goes silent the gateway's alarm is raised, and every held, and later,
// heartbeat alarm behind it is suppressed and counted in the group alarm's
// Suppressed. A group alarm clears when fewer than ClearFraction of its
// devices are silent; the devices still silent then get their own alarms.
type StormOptions struct {
	// Disabled turns storm control off: every missing heartbeat raises
	// its own alarm at once.
	Disabled bool
	// GatewayFraction of the heartbeat-monitored devices behind a gateway
	// must be silent for the gateway's alarm (default 1: all of them).
	GatewayFraction float64
	// AreaLevel is the tier whose units are areas (default region.Street).
	AreaLevel region.Level
	// AreaFraction of an area's monitored devices must be silent for the
	// area's alarm (default 0.8; negative: no area alarms). Silence that
	// gateway alarms already explain does not raise an area alarm.
	AreaFraction float64
	// ClearFraction: a group alarm clears when the silent share falls
	// below it (default half of the group's raising fraction).
	ClearFraction float64
	// MinDevices is the smallest group that can storm (default 3).
	MinDevices int
	// Hold is how long a silent device's own alarm waits for its group to
	// go silent (default: one expected report interval of the device, its
	// heartbeat timeout divided by the rule's Multiple).
	Hold time.Duration
	// Severity of gateway and area alarms (default Major).
	Severity Severity
}

// EngineStats counts what an Engine has done since it was created.
type EngineStats struct {
	Rules int // rules held
	Open  int // open (pending or active) alarms
	// Timers is the number of deadline entries waiting in the timer wheel.
	Timers int
	// Evaluated counts (reading, rule) evaluations; Late the readings a
	// rule ignored as older than one it had seen; Deadbanded those it
	// ignored as within its deadband.
	Evaluated, Late, Deadbanded int64
	// Raised and Cleared count alarm transitions; Suppressed the
	// per-device heartbeat alarms that storm control stood in for.
	Raised, Cleared, Suppressed int64
	// PublishErrors counts failed attempts to publish alarm events; the
	// events are kept and tried again (see Engine, "Events").
	// Unpublished is the number of events waiting in memory for the
	// publisher (events waiting in a Store's outbox are not counted);
	// EventsDropped those dropped beyond EngineOptions.MaxUnpublished.
	PublishErrors int64
	Unpublished   int
	EventsDropped int64
	// StoreErrors counts failed alarm writes to EngineOptions.Store;
	// Unstored is the number of alarms whose last change the store does
	// not hold yet (written at the next change, or by Sync).
	StoreErrors int64
	Unstored    int
}

// Engine evaluates alarm rules. It is an Observer: attach it to ingestion
// and every accepted reading goes through the rules of its device's
// profile and resource, in tens of nanoseconds and without allocating
// unless an alarm changes. Timers re-evaluate between readings: missing
// heartbeats, durations ("for 10 minutes"), storm holds and correlation
// windows, all behind one clock timer. Alarm changes are published on the
// bus and listable with Alarms. It is safe for concurrent use.
//
// # State
//
// Per (rule, device) the engine keeps one 40-byte state, only for the
// devices a rule matches, in a flat slice indexed by the device's position
// among its profile's devices (a rule with no grid, label or asset scope
// needs no index at all); Rate rules add 32 bytes per device for two
// anchors, learned heartbeats 32 bytes for a ring of seven gaps. The
// engine adds 10 bytes per registered device (profile, position, the
// reverse index), and one byte per device once a heartbeat rule exists.
// Devices registered after a rule was added join it at their first
// reading or at the engine's next timer.
//
// # Persistence
//
// With EngineOptions.Store, AddRule stores a rule before it starts
// evaluating it and RemoveRule deletes it before it stops; each fails,
// changing nothing, if the store does. Alarm changes are written in
// batches, never per reading: an engine step (a batch of readings, a
// timer, a management call) marks the alarms it changed, and once the
// engine's lock is released one goroutine at a time (the caller whose
// step changed them; concurrent callers do not wait for it) writes each
// one's latest state in one Store.WriteAlarms call, over the version the
// store holds, so that a write is never lost or applied twice. The events
// announcing the changes travel in the same write, into the store's
// outbox, and are published from there once it commits. A failed write is
// counted in Stats and retried, events included, with the next step, or
// by Sync; call Sync before a planned shutdown. An alarm changed in the store by another writer is
// overwritten with the engine's state: the engine owns its alarms, and a
// store serves one engine (partitioned engines each get their own, such
// as a PostgreSQL schema each; see postgres.WithSchema).
// The store holds each alarm as of its last event.
//
// NewEngine restores the stored rules and every open alarm, re-attached
// to the state of its rule and device (or gateway, area or burst), so
// that a restarted process neither raises a second alarm for a condition
// already alarmed nor loses an acknowledgement: readings clear a restored
// alarm as they would have before. What the store does not hold starts
// afresh: heartbeat timeouts run from the restart, "5 in a row" counts
// from one, a Rate condition needs a window of readings again (until then
// its restored alarms are left as they are), and a gateway's or area's
// alarm counts every heartbeat-monitored device behind it silent until
// it reports. Alarm and Ack find cleared alarms that have left the
// engine's history in the store.
//
// # Events
//
// An alarm event is never dropped because the bus is down. One the
// publisher refuses stays where it waits, in order: in the store's outbox
// with a Store (so a crash loses none either: NewEngine publishes what the
// outbox still holds), in memory without one, up to MaxUnpublished. The
// engine tries again after a second, by a timer or at its next step, and
// Sync tries at once. Events reach the bus at least once: consumers
// deduplicate by Message.ID, as the bus contract requires.
type Engine struct {
	reg  *Registry
	clk  clock.Clock
	pub  bus.Publisher
	az   access.Authorizer
	opts EngineOptions
	log  *slog.Logger

	mu     sync.Mutex
	closed bool
	inFire bool

	// the device index: profile and position among the profile's devices
	prof        []uint16
	loc         []uint32
	profHandles [][]Handle
	mon         []uint8 // heartbeat rules watching each device

	rules     []*ruleC // by index; nil once removed (indexes are not reused)
	ruleByID  map[string]*ruleC
	profRules [][]*ruleC
	dispatch  [][][]*ruleC // profile → resource → rules

	wheel ruleWheel

	open     []*alarmRec // open alarms; states refer to them by index+1
	free     []uint32
	byID     map[string]*alarmRec
	hist     []*alarmRec // cleared alarms, a ring
	histNext int
	seq      uint64
	subjects map[region.Code]string

	silent  map[Handle]*alarmSilent
	gws     map[uint32]*alarmGroup
	areas   map[string]*alarmGroup
	dirty   []*alarmGroup
	missed  []uint64
	held    []uint64
	touched []*alarmRec

	bursts map[alarmBurstKey]*alarmBurst

	outbox, spareOut []bus.Message // events to publish, without a store
	flushing         bool
	relay            *relay.Relay     // publishes from the store's outbox
	relayOwed        bool             // the store's outbox may hold unpublished events
	retryAt          int64            // no publishing before, after a failure
	retryTimer       clock.Timer      // the flush set after a failure
	record           func(AlarmEvent) // set by Backtest instead of publishing

	// persistence (EngineOptions.Store)
	store   Store
	manage  sync.Mutex          // serialises AddRule and RemoveRule with the store
	saves   []*alarmRec         // alarms changed since the last write, in order
	changed bool                // an alarm changed since the last flush (a failed one may be in unsaved)
	unsaved []*alarmRec         // alarms whose write failed, retried first
	unsure  map[uint64]struct{} // restored states of Rate rules awaiting a known rate
	idle    *sync.Cond          // signalled when a flush ends

	stats EngineStats
}

var _ Observer = (*Engine)(nil)

// NewEngine returns a rule engine for the devices of reg, on clk,
// publishing alarm events to pub (nil publishes nothing). It fails on a
// missing dependency or an invalid option.
func NewEngine(reg *Registry, clk clock.Clock, pub bus.Publisher, opts EngineOptions) (*Engine, error) {
	st := &opts.Storm
	switch {
	case reg == nil || clk == nil:
		return nil, errors.New("sensor: NewEngine needs a registry and a clock")
	case opts.Authorizer == nil:
		return nil, errors.New("sensor: EngineOptions.Authorizer is required (access.AllowAll() to allow everything)")
	case opts.Tick < 0:
		return nil, errors.New("sensor: negative EngineOptions.Tick")
	case st.GatewayFraction < 0 || st.GatewayFraction > 1 || st.AreaFraction > 1 || st.ClearFraction < 0 || st.ClearFraction >= 1:
		return nil, errors.New("sensor: storm fractions must lie within 0-1")
	case st.MinDevices < 0 || st.Hold < 0 || st.Severity > Critical:
		return nil, errors.New("sensor: invalid storm option")
	case st.AreaLevel < 0 || st.AreaLevel > region.Grid:
		return nil, fmt.Errorf("sensor: unknown area level %d", st.AreaLevel)
	case opts.StoreTimeout < 0:
		return nil, errors.New("sensor: negative EngineOptions.StoreTimeout")
	case opts.MaxUnpublished < 0:
		return nil, errors.New("sensor: negative EngineOptions.MaxUnpublished")
	}
	if opts.MaxUnpublished == 0 {
		opts.MaxUnpublished = 1 << 16
	}
	if opts.Prefix == "" {
		opts.Prefix = "gov"
	}
	if err := bus.ValidateSubject(opts.Prefix); err != nil {
		return nil, fmt.Errorf("sensor: EngineOptions.Prefix: %w", err)
	}
	if opts.Tick == 0 {
		opts.Tick = time.Second
	}
	opts.Tick = max(opts.Tick, time.Millisecond)
	if opts.History == 0 {
		opts.History = 10_000
	}
	if st.GatewayFraction == 0 {
		st.GatewayFraction = 1
	}
	if st.AreaFraction == 0 {
		st.AreaFraction = 0.8
	}
	if st.AreaLevel == 0 {
		st.AreaLevel = region.Street
	}
	if st.MinDevices == 0 {
		st.MinDevices = 3
	}
	if st.Severity == 0 {
		st.Severity = Major
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.StoreTimeout == 0 {
		opts.StoreTimeout = 10 * time.Second
	}
	store := opts.Store
	opts.Store = nil // a Backtest's private engine copies the options: it must not write
	e := &Engine{
		reg: reg, clk: clk, pub: pub, az: opts.Authorizer, opts: opts, log: log,
		ruleByID: map[string]*ruleC{}, byID: map[string]*alarmRec{}, subjects: map[region.Code]string{},
		silent: map[Handle]*alarmSilent{}, gws: map[uint32]*alarmGroup{}, areas: map[string]*alarmGroup{},
		bursts: map[alarmBurstKey]*alarmBurst{},
		wheel:  ruleWheel{tick: int64(opts.Tick), buckets: map[int64][]uint64{}},
		store:  store,
	}
	e.idle = sync.NewCond(&e.mu)
	if store != nil && pub != nil {
		e.relay = relay.New(store, pub)
		e.relayOwed = true // a crash may have left events in the outbox: restore's flush sends them
	}
	if store != nil {
		if err := e.restore(); err != nil {
			e.Close()
			return nil, err
		}
	}
	return e, nil
}

// Close stops the engine's timer; Observe then does nothing.
func (e *Engine) Close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = true
	e.wheel.stop()
	if e.retryTimer != nil {
		e.retryTimer.Stop()
		e.retryTimer = nil
	}
}

// Stats returns the engine's counters.
func (e *Engine) Stats() EngineStats {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.stats
	s.Unstored = e.unstored()
	s.Rules = len(e.ruleByID)
	s.Open = len(e.open) - len(e.free)
	s.Timers = e.wheel.n
	s.Unpublished = len(e.outbox)
	for _, list := range [2][]*alarmRec{e.unsaved, e.saves} {
		for _, rec := range list {
			s.Unpublished += len(rec.events)
		}
	}
	return s
}

// Per-(rule, device) state.

// ruleState is one device's state under one rule: 40 bytes.
type ruleState struct {
	lastT int64 // observed time of the last reading evaluated (ns)
	// since: value rules, the event time the current level began to hold;
	// missing rules, when the device was last heard from (engine clock).
	since int64
	due   int64   // engine-clock deadline of a duration, storm hold or correlation wait
	lastV float32 // the last reading evaluated (deadband)
	alarm uint32  // the open alarm, as index+1 into Engine.open
	cnt   uint16  // readings in a row meeting a level
	lvl   uint8   // the level holding, as index+1 into levels
	phase uint8   // rs* phase in the low bits, flags above
}

// Phases and flags of a ruleState.
const (
	rsIdle       uint8 = iota
	rsPending          // a level holds; For or Count not yet met
	rsActive           // alarm raised (or part of a burst)
	rsWait             // correlated: waiting for other devices on the asset
	rsMissed           // missing: timed out, decided at the end of the timer step
	rsHeld             // missing: silent, own alarm held back for storm control
	rsSuppressed       // missing: silent, covered by a gateway or area alarm
	rsMask       = 0x0f
	rsQueued     = 0x10 // an entry for the state waits in the wheel
	rsHasLast    = 0x20 // lastT and lastV are set
	rsForMet     = 0x40 // the For duration elapsed on the engine clock
	rsMonitored  = 0x80 // counted in the storm groups' totals
)

// ruleLevel is a compiled Condition.
type ruleLevel struct {
	kind      ConditionKind
	op        uint8 // 1 >, 2 >=, 3 <, 4 <=
	outside   bool
	sev       Severity
	v, lo, hi float64
	text      string
}

func ruleOp(op string) uint8 {
	switch op {
	case OpAbove:
		return 1
	case OpAtOrAbove:
		return 2
	case OpBelow:
		return 3
	}
	return 4
}

func ruleCompare(op uint8, a, b float64) bool {
	switch op {
	case 1:
		return a > b
	case 2:
		return a >= b
	case 3:
		return a < b
	}
	return a <= b
}

func (l *ruleLevel) holds(v, rate float64, rateOK bool) bool {
	switch l.kind {
	case Threshold:
		return ruleCompare(l.op, v, l.v)
	case Range:
		return (v >= l.lo && v <= l.hi) != l.outside
	case Rate:
		return rateOK && ruleCompare(l.op, rate, l.v)
	}
	return false
}

// excess is how far a reading went past the level: its device's weight in
// a burst's location. For a Rate level it is the size of the change.
func (l *ruleLevel) excess(v, delta float64) float64 {
	switch l.kind {
	case Threshold:
		return math.Abs(v - l.v)
	case Range:
		if l.outside {
			return max(l.lo-v, v-l.hi, 0)
		}
		return max(min(v-l.lo, l.hi-v), 0)
	}
	return math.Abs(delta)
}

func compileLevel(c *Condition, resource string) ruleLevel {
	l := ruleLevel{kind: c.kind(), op: ruleOp(c.Op), outside: c.Outside, sev: c.Severity, v: c.Value, lo: c.Low, hi: c.High}
	if l.sev == 0 {
		l.sev = Major
	}
	g := func(f float64) string { return fmt.Sprintf("%g", f) }
	switch l.kind {
	case Threshold:
		l.text = resource + " " + c.Op + " " + g(c.Value)
	case Range:
		w := "inside"
		if c.Outside {
			w = "outside"
		}
		l.text = fmt.Sprintf("%s %s [%s, %s]", resource, w, g(c.Low), g(c.High))
	case Rate:
		l.text = fmt.Sprintf("change of %s over %s %s %s", resource, c.Window, c.Op, g(c.Value))
	}
	return l
}

// ruleAnchors are the two reference readings of a Rate condition.
type ruleAnchors struct {
	t0, t1 int64
	v0, v1 float64
}

// update folds in a reading and returns the change over the window scaled
// to it, the raw change since the reference, and whether there was one.
func (a *ruleAnchors) update(t int64, v float64, w int64) (rate, delta float64, ok bool) {
	if a.t0 != 0 && t-a.t0 > w {
		a.t0, a.v0, a.t1 = a.t1, a.v1, 0
		if a.t0 != 0 && t-a.t0 > w {
			a.t0 = 0
		}
	}
	if a.t0 != 0 && t > a.t0 {
		delta = v - a.v0
		rate = delta
		if age := t - a.t0; age >= w/2 {
			rate = delta * float64(w) / float64(age)
		}
		ok = true
	}
	switch {
	case a.t0 == 0:
		a.t0, a.v0 = t, v
	case a.t1 == 0 && t-a.t0 >= w/2:
		a.t1, a.v1 = t, v
	}
	return rate, delta, ok
}

// ruleGaps is a ring of a device's last seven gaps between readings, in
// milliseconds, for learned heartbeat timeouts.
type ruleGaps struct {
	g    [7]uint32
	n, i uint8
}

func (g *ruleGaps) add(ns int64) {
	ms := ns / int64(time.Millisecond)
	if ms <= 0 {
		return
	}
	g.g[g.i] = uint32(min(ms, math.MaxUint32))
	g.i = (g.i + 1) % uint8(len(g.g))
	if int(g.n) < len(g.g) {
		g.n++
	}
}

// median returns the median gap in nanoseconds.
func (g *ruleGaps) median() int64 {
	a := g.g
	s := a[:g.n]
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return int64(s[len(s)/2]) * int64(time.Millisecond)
}

// ruleC is a compiled rule with its per-device state.
type ruleC struct {
	idx      uint32
	def      Rule
	prof     uint16
	res      uint8
	resName  string
	levels   []ruleLevel // most severe first
	clear    *ruleLevel
	missing  bool
	forNs    int64
	count    uint16
	deadband float64
	rateWin  int64
	sched    *ruleSchedule
	corrWin  int64
	corrMin  int

	hbAfter    int64
	hbMult     float64
	hbLearn    bool
	hbInterval int64

	all   bool               // no scope beyond profile and resource: states indexed by position
	match map[[3]uint32]bool // scope answers by (grid, labels, asset) interned IDs
	slot  []uint32           // !all: position → state index+1, 0 when not matched
	hs    []Handle           // !all: state index → handle
	st    []ruleState        // one per matched device
	anch  []ruleAnchors      // Rate rules
	gaps  []ruleGaps         // learned heartbeats
	open  int                // open alarms of the rule
}

func (r *ruleC) handle(e *Engine, si uint32) Handle {
	if r.all {
		return e.profHandles[r.prof][si]
	}
	return r.hs[si]
}

// level returns the index of the most severe level holding, or -1.
func (r *ruleC) level(v, rate float64, rateOK bool) int {
	for i := range r.levels {
		if r.levels[i].holds(v, rate, rateOK) {
			return i
		}
	}
	return -1
}

func (r *ruleC) qualified(s *ruleState, obs int64) bool {
	return (r.count <= 1 || s.cnt >= r.count) && (r.forNs == 0 || obs-s.since >= r.forNs || s.phase&rsForMet != 0)
}

// timeout is a device's heartbeat timeout.
func (r *ruleC) timeout(si uint32) int64 {
	if r.hbLearn && r.gaps[si].n >= 3 {
		return int64(r.hbMult * float64(r.gaps[si].median()))
	}
	if r.hbAfter > 0 {
		return r.hbAfter
	}
	return int64(r.hbMult * float64(r.hbInterval))
}

// matches reports whether a device lies in the rule's scope.
func (r *ruleC) matches(d *ruleDev) bool {
	k := [3]uint32{d.gridID, d.labelID, d.assetID}
	if ok, seen := r.match[k]; seen {
		return ok
	}
	sc := &r.def.Scope
	ok := (sc.Grid == "" || region.Code(d.grid).Within(sc.Grid)) && (sc.Asset == "" || d.asset == sc.Asset)
	if ok && len(sc.Labels) > 0 {
		have := parseLabels(d.labels)
		for k, v := range sc.Labels {
			if hv, found := have[k]; !found || hv != v {
				ok = false
				break
			}
		}
	}
	r.match[k] = ok
	return ok
}

func cloneRule(r Rule) Rule {
	r.Raise = slices.Clone(r.Raise)
	if r.Clear != nil {
		c := *r.Clear
		r.Clear = &c
	}
	r.Scope.Labels = maps.Clone(r.Scope.Labels)
	if r.Schedule != nil {
		s := *r.Schedule
		s.Days = slices.Clone(s.Days)
		r.Schedule = &s
	}
	if r.Correlate != nil {
		c := *r.Correlate
		r.Correlate = &c
	}
	return r
}

// compile validates rule against the registry and compiles it.
func (e *Engine) compile(rule Rule) (*ruleC, error) {
	if err := rule.Validate(); err != nil {
		return nil, err
	}
	rule = cloneRule(rule)
	pi, prof, ok := e.reg.ruleProfile(rule.Scope.Profile)
	if !ok {
		return nil, &RuleError{Rule: rule.ID, Field: "scope.profile", Reason: fmt.Sprintf("no profile %q is registered", rule.Scope.Profile), Err: ErrUnknownProfile}
	}
	ri := prof.resource(rule.Scope.Resource)
	if ri < 0 {
		return nil, &RuleError{Rule: rule.ID, Field: "scope.resource", Reason: fmt.Sprintf("profile %s has no resource %q", prof.Name, rule.Scope.Resource)}
	}
	res := prof.Resources[ri]
	r := &ruleC{
		def: rule, prof: pi, res: uint8(ri), resName: res.Name, forNs: int64(rule.For), count: uint16(rule.Count),
		deadband: rule.Deadband, match: map[[3]uint32]bool{},
		all: rule.Scope.Grid == "" && len(rule.Scope.Labels) == 0 && rule.Scope.Asset == "",
	}
	for i := range rule.Raise {
		c := &rule.Raise[i]
		r.levels = append(r.levels, compileLevel(c, res.Name))
		if c.kind() == Rate {
			r.rateWin = int64(c.Window)
		}
		if c.kind() == Missing {
			r.missing = true
			r.hbAfter, r.hbMult, r.hbLearn, r.hbInterval = int64(c.After), c.Multiple, c.Learn, int64(res.Interval)
			if r.hbMult == 0 {
				r.hbMult = 3
			}
			if c.After == 0 && res.Interval == 0 {
				return nil, &RuleError{Rule: rule.ID, Field: "raise[0].after", Reason: fmt.Sprintf("resource %s of profile %s has no Interval: give after", res.Name, prof.Name)}
			}
			r.levels[i].text = "no " + res.Name + " reading"
		}
	}
	slices.SortStableFunc(r.levels, func(a, b ruleLevel) int { return int(b.sev) - int(a.sev) })
	if rule.Clear != nil {
		l := compileLevel(rule.Clear, res.Name)
		r.clear = &l
		if rule.Clear.kind() == Rate {
			r.rateWin = int64(rule.Clear.Window)
		}
	}
	if rule.Schedule != nil {
		r.sched, _ = compileSchedule(rule.Schedule) // validated
	}
	if c := rule.Correlate; c != nil {
		r.corrWin, r.corrMin = int64(c.Window), c.MinDevices
		if r.corrMin == 0 {
			r.corrMin = 2
		}
	}
	return r, nil
}

// AddRule validates rule against the registry, authorizes the actor in ctx
// (ActionManageRules on ResourceRule within rule.Scope.Grid) and starts
// evaluating it for every matching device. A rule with the same ID gives
// ErrDuplicate: remove it first. A missing-heartbeat rule starts every
// device's timeout now, so a device that never reports raises its alarm.
func (e *Engine) AddRule(ctx context.Context, rule Rule) error {
	r, err := e.compile(rule)
	if err != nil {
		return err
	}
	if err := access.Check(ctx, e.az, ActionManageRules, ruleResource(&r.def)); err != nil {
		return err
	}
	if e.store != nil {
		e.manage.Lock()
		defer e.manage.Unlock()
		if err := e.storeRule(ctx, r); err != nil {
			return err
		}
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		e.unstoreRule(r.def.ID)
		return errors.New("sensor: engine closed")
	}
	if _, dup := e.ruleByID[rule.ID]; dup {
		e.mu.Unlock()
		return fmt.Errorf("%w: rule %q", ErrDuplicate, rule.ID)
	}
	e.install(r, e.clk.Now().UnixNano())
	pending := e.needFlush()
	e.mu.Unlock()
	if pending {
		e.flush()
	}
	return nil
}

func ruleResource(r *Rule) access.Resource {
	return access.Resource{Kind: ResourceRule, ID: r.ID, Jurisdiction: r.Scope.Grid}
}

// install adds a compiled rule and builds its states; e.mu is held.
func (e *Engine) install(r *ruleC, now int64) {
	r.idx = uint32(len(e.rules))
	e.rules = append(e.rules, r)
	e.ruleByID[r.def.ID] = r
	e.syncDevices(now)
	for int(r.prof) >= len(e.profHandles) {
		e.profHandles = append(e.profHandles, nil)
	}
	hs := e.profHandles[r.prof]
	if r.all {
		r.st = make([]ruleState, 0, len(hs))
	} else {
		r.slot = make([]uint32, 0, len(hs))
	}
	e.inFire = true // arm once, below
	e.reg.ruleEach(hs, func(h Handle, d *ruleDev) { e.attach(r, h, d, now) })
	e.inFire = false
	e.wheel.arm(e.clk, now, e.fire)
	for int(r.prof) >= len(e.profRules) {
		e.profRules = append(e.profRules, nil)
	}
	e.profRules[r.prof] = append(e.profRules[r.prof], r)
	e.rebuildDispatch(r.prof)
}

func (e *Engine) rebuildDispatch(p uint16) {
	for int(p) >= len(e.dispatch) {
		e.dispatch = append(e.dispatch, nil)
	}
	var byRes [][]*ruleC
	for _, r := range e.profRules[p] {
		for int(r.res) >= len(byRes) {
			byRes = append(byRes, nil)
		}
		byRes[r.res] = append(byRes[r.res], r)
	}
	e.dispatch[p] = byRes
}

// attach gives the device at the next position of r's profile a state if
// it matches; e.mu is held and devices come in position order.
func (e *Engine) attach(r *ruleC, h Handle, d *ruleDev, now int64) {
	var si uint32
	if r.all {
		si = uint32(len(r.st))
	} else {
		if !r.matches(d) {
			r.slot = append(r.slot, 0)
			return
		}
		si = uint32(len(r.st))
		r.hs = append(r.hs, h)
		r.slot = append(r.slot, si+1)
	}
	r.st = append(r.st, ruleState{})
	if r.rateWin > 0 {
		r.anch = append(r.anch, ruleAnchors{})
	}
	if r.hbLearn {
		r.gaps = append(r.gaps, ruleGaps{})
	}
	if r.missing && d.flags&(flagRemoved|flagLocked) == 0 {
		s := &r.st[si]
		s.since = now
		s.phase |= rsMonitored
		e.monitor(h, d.gateway, d.grid, 1)
		e.queueHeartbeat(r, si, s)
	}
}

// syncDevices indexes devices registered since the last call and attaches
// them to the rules of their profile; e.mu is held.
func (e *Engine) syncDevices(now int64) {
	if e.reg.ruleLen() == len(e.prof) {
		return
	}
	e.reg.ruleScan(len(e.prof), func(h Handle, d *ruleDev) {
		p := d.prof
		for int(p) >= len(e.profHandles) {
			e.profHandles = append(e.profHandles, nil)
		}
		e.prof = append(e.prof, p)
		e.loc = append(e.loc, uint32(len(e.profHandles[p])))
		e.profHandles[p] = append(e.profHandles[p], h)
		if e.mon != nil {
			e.mon = append(e.mon, 0)
		}
		if int(p) < len(e.profRules) {
			for _, r := range e.profRules[p] {
				e.attach(r, h, d, now)
			}
		}
	})
}

// RemoveRule stops evaluating a rule, after authorizing the actor in ctx
// as AddRule does. Its open alarms are cleared (pending ones cancelled)
// with the note "rule removed".
func (e *Engine) RemoveRule(ctx context.Context, id string) error {
	e.mu.Lock()
	r, ok := e.ruleByID[id]
	e.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownRule, id)
	}
	if err := access.Check(ctx, e.az, ActionManageRules, ruleResource(&r.def)); err != nil {
		return err
	}
	if e.store != nil {
		e.manage.Lock()
		defer e.manage.Unlock()
		if err := e.deleteRule(ctx, id); err != nil {
			return err
		}
	}
	e.mu.Lock()
	if e.ruleByID[id] != r {
		e.mu.Unlock()
		return fmt.Errorf("%w: %q", ErrUnknownRule, id)
	}
	now := e.clk.Now().UnixNano()
	e.uninstall(r, now)
	pending := e.needFlush()
	e.mu.Unlock()
	if pending {
		e.flush()
	}
	return nil
}

func (e *Engine) uninstall(r *ruleC, now int64) {
	var unmon []Handle
	for si := range r.st {
		s := &r.st[si]
		if rec := e.alarmAt(s.alarm); rec != nil && rec.burst == nil {
			e.finish(rec, "rule removed", now)
		}
		if r.missing {
			h := r.handle(e, uint32(si))
			switch s.phase & rsMask {
			case rsActive, rsHeld, rsSuppressed, rsMissed:
				e.unsilent(h, ruleEntry(r.idx, uint32(si)))
			}
			if s.phase&rsMonitored != 0 {
				unmon = append(unmon, h)
			}
		}
	}
	for k, b := range e.bursts {
		if k.ri == r.idx {
			if b.alarm != nil {
				e.finish(b.alarm, "rule removed", now)
			}
			delete(e.bursts, k)
		}
	}
	e.reg.ruleEach(unmon, func(h Handle, d *ruleDev) { e.monitor(h, d.gateway, d.grid, -1) })
	e.rules[r.idx] = nil
	delete(e.ruleByID, r.def.ID)
	e.profRules[r.prof] = slices.DeleteFunc(e.profRules[r.prof], func(x *ruleC) bool { return x == r })
	e.rebuildDispatch(r.prof)
	r.st, r.slot, r.hs, r.anch, r.gaps = nil, nil, nil, nil, nil
	if len(e.dirty) > 0 {
		e.settleGroups(now)
	}
	e.announce(now)
}

// finish clears an open alarm (cancels a pending one) with a note.
func (e *Engine) finish(rec *alarmRec, note string, now int64) {
	if rec.a.Status == AlarmPending {
		rec.a.Status = AlarmCancelled
		e.emit(rec, EventAlarmCancelled, "", now)
	} else {
		rec.a.Status = AlarmCleared
		rec.a.Cleared = time.Unix(0, now).UTC()
		if note != "" {
			rec.a.Note = note
		}
		e.emit(rec, EventAlarmCleared, "", now)
	}
	e.closeAlarm(rec)
}

// Rules returns the rules the actor in ctx may read (ActionRead), by ID.
func (e *Engine) Rules(ctx context.Context) ([]Rule, error) {
	e.mu.Lock()
	all := make([]Rule, 0, len(e.ruleByID))
	for _, r := range e.ruleByID {
		all = append(all, cloneRule(r.def))
	}
	e.mu.Unlock()
	slices.SortFunc(all, func(a, b Rule) int { return strings.Compare(a.ID, b.ID) })
	out := all[:0]
	for i := range all {
		d := e.az.Authorize(ctx, ActionRead, ruleResource(&all[i]))
		if d.Reason == access.NoActor {
			return nil, d.Err()
		}
		if d.Allowed {
			out = append(out, all[i])
		}
	}
	return out, nil
}

// Observe evaluates a batch of accepted readings (it implements
// Observer). Readings of devices, resources and profiles no rule watches
// cost a few slice lookups. Late readings (QualityLate, or older than one
// the rule has already evaluated for the device) are counted and
// ignored: a stale value never raises, clears or changes an alarm. It does
// not authorize: ingestion authorizes its sources.
func (e *Engine) Observe(batch []Reading) {
	if len(batch) == 0 {
		return
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	now := e.clk.Now().UnixNano()
	for i := range batch {
		rd := &batch[i]
		h := int(rd.Device)
		if h >= len(e.prof) {
			e.syncDevices(now)
			if h >= len(e.prof) {
				continue
			}
		}
		p := int(e.prof[h])
		if p >= len(e.dispatch) {
			continue
		}
		byRes := e.dispatch[p]
		if int(rd.Resource) >= len(byRes) {
			continue
		}
		loc := e.loc[h]
		for _, r := range byRes[rd.Resource] {
			si := loc
			if !r.all {
				si = r.slot[loc]
				if si == 0 {
					continue
				}
				si--
			}
			e.stats.Evaluated++
			if r.missing {
				e.heartbeat(r, si, Handle(h), rd, now)
			} else {
				e.evaluate(r, si, rd, now)
			}
		}
	}
	if len(e.dirty) > 0 {
		e.settleGroups(now)
	}
	if len(e.touched) > 0 {
		e.announce(now)
	}
	pending := e.needFlush()
	e.mu.Unlock()
	if pending {
		e.flush()
	}
}

// ruleSample is one reading as a rule sees it.
type ruleSample struct {
	v, rate, delta float64
	rateOK         bool
	obs            int64
}

// evaluate runs one reading through a value rule: the hot path.
func (e *Engine) evaluate(r *ruleC, si uint32, rd *Reading, now int64) {
	s := &r.st[si]
	obs := now
	if !rd.Observed.IsZero() {
		obs = rd.Observed.UnixNano()
	}
	if rd.Quality == QualityLate || obs < s.lastT {
		e.stats.Late++
		return
	}
	v := rd.Value
	if r.deadband > 0 && s.phase&rsHasLast != 0 && math.Abs(v-float64(s.lastV)) < r.deadband {
		s.lastT = obs
		e.stats.Deadbanded++
		return
	}
	smp := ruleSample{v: v, obs: obs}
	if r.rateWin > 0 {
		smp.rate, smp.delta, smp.rateOK = r.anch[si].update(obs, v, r.rateWin)
	}
	s.lastT, s.lastV = obs, float32(v)
	s.phase |= rsHasLast
	if len(e.unsure) > 0 && r.rateWin > 0 && e.rateUnknown(r, si, smp.rateOK) {
		return
	}
	lvl := r.level(v, smp.rate, smp.rateOK)
	if lvl < 0 && s.phase&rsMask == rsIdle {
		return
	}
	e.step(r, si, s, lvl, &smp, now)
}

// step moves a value rule's state after a reading that a level meets or
// that finds the state not idle.
func (e *Engine) step(r *ruleC, si uint32, s *ruleState, lvl int, smp *ruleSample, now int64) {
	raise := lvl
	if raise >= 0 && r.sched != nil && !r.sched.active(smp.obs) {
		raise = -1
	}
	switch s.phase & rsMask {
	case rsIdle:
		if raise < 0 {
			return
		}
		s.cnt, s.since, s.lvl = 1, smp.obs, uint8(raise+1)
		s.phase = s.phase&^(rsMask|rsForMet) | rsPending
		if r.qualified(s, smp.obs) {
			e.activate(r, si, s, smp.v, smp.delta, now)
			return
		}
		e.pend(r, si, s, smp.v, now)
	case rsPending:
		if raise < 0 {
			e.cancel(s, now)
			return
		}
		if s.cnt < math.MaxUint16 {
			s.cnt++
		}
		if uint8(raise+1) != s.lvl {
			s.lvl = uint8(raise + 1)
			if rec := e.alarmAt(s.alarm); rec != nil {
				rec.a.Severity = r.levels[raise].sev
			}
		}
		if r.qualified(s, smp.obs) {
			e.activate(r, si, s, smp.v, smp.delta, now)
		}
	case rsWait:
		if raise < 0 {
			e.burstLeave(r, si, s, now)
			return
		}
		s.lvl = uint8(raise + 1)
	case rsActive:
		cleared := lvl < 0
		if r.clear != nil {
			cleared = lvl < 0 && r.clear.holds(smp.v, smp.rate, smp.rateOK)
		}
		if cleared {
			e.clearValue(r, si, s, smp.v, now)
			return
		}
		if lvl >= 0 && uint8(lvl+1) != s.lvl {
			s.lvl = uint8(lvl + 1)
			e.severityChanged(r, si, s, smp.v, now)
		}
	}
}

// pend opens the pending alarm of a state and arms its For deadline.
func (e *Engine) pend(r *ruleC, si uint32, s *ruleState, v float64, now int64) {
	rec := e.deviceAlarm(r, si, now)
	rec.a.Status = AlarmPending
	rec.a.Severity = r.levels[s.lvl-1].sev
	rec.a.Since = time.Unix(0, s.since).UTC()
	rec.a.Value = v
	rec.a.Note = e.note(r, s)
	s.alarm = rec.slot
	e.emit(rec, EventAlarmPending, "", now)
	if r.forNs > 0 {
		s.due = now + r.forNs
		e.queue(r, si, s.due, false)
	}
}

func (e *Engine) note(r *ruleC, s *ruleState) string {
	n := r.levels[max(s.lvl, 1)-1].text
	if r.count > 1 {
		n += fmt.Sprintf(", %d in a row", r.count)
	}
	if r.forNs > 0 {
		n += fmt.Sprintf(", for %s", time.Duration(r.forNs))
	}
	return n
}

// deviceAlarm opens an alarm record for the device of a state.
func (e *Engine) deviceAlarm(r *ruleC, si uint32, now int64) *alarmRec {
	info, _ := e.reg.ruleDeviceInfo(r.handle(e, si))
	rec := e.newAlarm(AlarmDevice, r, info.grid, now)
	rec.si = si
	rec.a.Device, rec.a.Asset, rec.a.Location = info.id, info.asset, info.at
	return rec
}

// cancel drops a pending alarm whose condition stopped.
func (e *Engine) cancel(s *ruleState, now int64) {
	if rec := e.alarmAt(s.alarm); rec != nil {
		rec.a.Status = AlarmCancelled
		e.emit(rec, EventAlarmCancelled, "", now)
		e.closeAlarm(rec)
	}
	s.alarm, s.cnt, s.lvl = 0, 0, 0
	s.phase = s.phase&^(rsMask|rsForMet) | rsIdle
}

// activate raises the alarm of a state whose qualifiers are met, or hands
// it to correlation.
func (e *Engine) activate(r *ruleC, si uint32, s *ruleState, v, delta float64, now int64) {
	if r.corrWin > 0 && e.burstJoin(r, si, s, v, delta, now) {
		return
	}
	e.raiseValue(r, si, s, v, now)
}

func (e *Engine) raiseValue(r *ruleC, si uint32, s *ruleState, v float64, now int64) {
	rec := e.alarmAt(s.alarm)
	if rec == nil {
		rec = e.deviceAlarm(r, si, now)
		rec.a.Since = time.Unix(0, s.since).UTC()
		rec.a.Note = e.note(r, s)
		s.alarm = rec.slot
	}
	rec.a.Status = AlarmActive
	rec.a.Severity = r.levels[s.lvl-1].sev
	rec.a.Raised = time.Unix(0, now).UTC()
	rec.a.Value = v
	s.phase = s.phase&^(rsMask|rsForMet) | rsActive
	e.emit(rec, EventAlarmRaised, "", now)
}

// clearValue clears the alarm of an active state.
func (e *Engine) clearValue(r *ruleC, si uint32, s *ruleState, v float64, now int64) {
	rec := e.alarmAt(s.alarm)
	switch {
	case rec == nil:
	case rec.burst != nil:
		e.burstLeave(r, si, s, now)
		return
	default:
		rec.a.Value = v
		e.finish(rec, "", now)
	}
	s.alarm, s.cnt, s.lvl = 0, 0, 0
	s.phase = s.phase&^(rsMask|rsForMet) | rsIdle
}

func (e *Engine) severityChanged(r *ruleC, si uint32, s *ruleState, v float64, now int64) {
	rec := e.alarmAt(s.alarm)
	if rec == nil {
		return
	}
	if rec.burst != nil {
		e.burstLevel(rec.burst, r, si, s.lvl, now)
		return
	}
	rec.a.Severity = r.levels[s.lvl-1].sev
	rec.a.Value = v
	rec.a.Note = e.note(r, s)
	e.emit(rec, EventAlarmUpdated, "", now)
}

// heartbeat records a reading for a missing-heartbeat rule.
func (e *Engine) heartbeat(r *ruleC, si uint32, h Handle, rd *Reading, now int64) {
	s := &r.st[si]
	obs := now
	if !rd.Observed.IsZero() {
		obs = rd.Observed.UnixNano()
	}
	if rd.Quality == QualityLate || obs < s.lastT {
		e.stats.Late++
		return
	}
	if r.hbLearn && s.phase&rsHasLast != 0 {
		r.gaps[si].add(obs - s.lastT)
	}
	s.lastT = obs
	s.phase |= rsHasLast
	seen := now
	if !rd.Received.IsZero() {
		seen = min(rd.Received.UnixNano(), now)
	}
	s.since = max(s.since, seen)
	if s.phase&rsMonitored == 0 {
		e.monitorState(r, si, h, 1)
	}
	switch s.phase & rsMask {
	case rsActive, rsHeld, rsSuppressed:
		e.recover(r, si, s, h, now)
	}
	e.queueHeartbeat(r, si, s)
}

// queueHeartbeat files a heartbeat deadline unless an earlier-or-equal one
// is filed; a learned timeout that shrank files an earlier one.
func (e *Engine) queueHeartbeat(r *ruleC, si uint32, s *ruleState) {
	due := s.since + r.timeout(si)
	if queued := s.phase&rsQueued != 0; !queued || due < s.due {
		s.due = due
		e.queue(r, si, due, queued)
	}
}

// recover ends a silent device's silence at its reading.
func (e *Engine) recover(r *ruleC, si uint32, s *ruleState, h Handle, now int64) {
	if rec := e.alarmAt(s.alarm); rec != nil && s.phase&rsMask == rsActive {
		rec.a.Note = "reported again"
		e.finish(rec, rec.a.Note, now)
	}
	s.alarm = 0
	s.phase = s.phase&^rsMask | rsIdle
	e.unsilent(h, ruleEntry(r.idx, si))
}

// queue files a deadline for a state unless one is already filed (force
// files another, for a deadline that may be earlier than the filed one).
func (e *Engine) queue(r *ruleC, si uint32, at int64, force bool) {
	s := &r.st[si]
	if s.phase&rsQueued != 0 && !force {
		return
	}
	s.phase |= rsQueued
	if e.wheel.add(ruleEntry(r.idx, si), at) && !e.inFire {
		e.wheel.arm(e.clk, e.clk.Now().UnixNano(), e.fire)
	}
}

// fire runs every deadline that has come, then re-arms the timer.
func (e *Engine) fire() {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	e.wheel.timer = nil
	e.inFire = true
	now := e.clk.Now().UnixNano()
	e.syncDevices(now)
	for {
		b, ok := e.wheel.due(now)
		if !ok {
			break
		}
		for _, ent := range b {
			e.wake(ent, now)
		}
		e.wheel.recycle(b)
	}
	e.stormDecide(now)
	if len(e.dirty) > 0 {
		e.settleGroups(now)
	}
	e.announce(now)
	e.inFire = false
	e.wheel.arm(e.clk, now, e.fire)
	pending := e.needFlush()
	e.mu.Unlock()
	if pending {
		e.flush()
	}
}

// wake handles one wheel entry.
func (e *Engine) wake(ent uint64, now int64) {
	ri, si := uint32(ent>>32), uint32(ent)
	if int(ri) >= len(e.rules) || e.rules[ri] == nil {
		return
	}
	r := e.rules[ri]
	if int(si) >= len(r.st) {
		return
	}
	s := &r.st[si]
	if s.phase&rsQueued == 0 {
		return // a stale duplicate
	}
	s.phase &^= rsQueued
	ph := s.phase & rsMask
	if r.missing {
		switch ph {
		case rsIdle:
			if due := s.since + r.timeout(si); due > now {
				s.due = due
				e.queue(r, si, due, false)
				return
			}
			h := r.handle(e, si)
			if e.reg.ruleFlags(h)&(flagRemoved|flagLocked) != 0 {
				e.monitorState(r, si, h, -1) // until it reports again
				return
			}
			if r.sched != nil && !r.sched.active(now) {
				if next := r.sched.next(time.Unix(0, now)); !next.IsZero() {
					s.due = next.UnixNano()
					e.queue(r, si, s.due, false)
				}
				return
			}
			s.phase = s.phase&^rsMask | rsMissed
			e.missed = append(e.missed, ent)
		case rsHeld:
			if s.due > now {
				e.queue(r, si, s.due, false)
				return
			}
			e.held = append(e.held, ent)
		}
		return
	}
	switch ph {
	case rsPending:
		if s.due > now {
			e.queue(r, si, s.due, false)
			return
		}
		if r.sched != nil && !r.sched.active(now) {
			e.cancel(s, now)
			return
		}
		s.phase |= rsForMet
		if r.qualified(s, s.lastT) {
			e.activate(r, si, s, float64(s.lastV), e.lastDelta(r, si, s), now)
		}
	case rsWait:
		if s.due > now {
			e.queue(r, si, s.due, false)
			return
		}
		e.burstExpire(r, si, s, now)
	}
}

// lastDelta is the change of a state's last reading from its Rate
// reference, for a burst weight computed on a timer.
func (e *Engine) lastDelta(r *ruleC, si uint32, s *ruleState) float64 {
	if r.rateWin == 0 || r.anch[si].t0 == 0 {
		return 0
	}
	return float64(s.lastV) - r.anch[si].v0
}
