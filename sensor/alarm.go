package sensor

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/region"
)

// Access-layer resource kinds and actions of rules and alarms. Adding and
// removing a rule needs ActionManageRules on ResourceRule within the rule's
// Scope.Grid; backtesting one needs ActionBacktest there; acknowledging an
// alarm needs ActionAck on ResourceAlarm within the alarm's Grid; listing
// rules and alarms shows those the actor may ActionRead.
const (
	ResourceRule      = "sensor.rule"
	ResourceAlarm     = "sensor.alarm"
	ActionManageRules = "manage"
	ActionBacktest    = "backtest"
	ActionAck         = "ack"
	ActionRead        = "read"
)

// Alarm events: the last token of an alarm event's subject,
// <prefix>.<city>.<district>.<street>.sensor.alarm.<event>.
const (
	EventAlarmPending   = "pending"   // only with EngineOptions.PublishPending
	EventAlarmCancelled = "cancelled" // a pending alarm dropped; only with PublishPending
	EventAlarmRaised    = "raised"
	EventAlarmUpdated   = "updated" // severity, members or counts changed
	EventAlarmCleared   = "cleared"
	EventAlarmAcked     = "acknowledged"
)

// AlarmKind says what an alarm is about.
type AlarmKind uint8

// Alarm kinds.
const (
	// AlarmDevice: one device met a rule.
	AlarmDevice AlarmKind = iota + 1
	// AlarmGateway: the devices behind a gateway went silent (storm
	// control); it stands for their heartbeat alarms.
	AlarmGateway
	// AlarmArea: a share of the devices of an area went silent.
	AlarmArea
	// AlarmBurst: several devices on one asset met a correlated rule
	// within its window (a water-main burst, S4).
	AlarmBurst
)

var alarmKindNames = [...]string{"", "device", "gateway", "area", "burst"}

// String returns "device", "gateway", "area" or "burst".
func (k AlarmKind) String() string {
	if int(k) < len(alarmKindNames) && k > 0 {
		return alarmKindNames[k]
	}
	return fmt.Sprintf("AlarmKind(%d)", uint8(k))
}

// MarshalText writes the name.
func (k AlarmKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText reads a name.
func (k *AlarmKind) UnmarshalText(b []byte) error {
	for i, n := range alarmKindNames {
		if i > 0 && n == string(b) {
			*k = AlarmKind(i)
			return nil
		}
	}
	return fmt.Errorf("sensor: unknown alarm kind %q", b)
}

// AlarmStatus is where an alarm stands. Acknowledgement is separate: an
// active or a cleared alarm may be acknowledged.
type AlarmStatus uint8

// Alarm statuses.
const (
	// AlarmPending: a level holds but the rule's For or Count is not yet
	// met.
	AlarmPending AlarmStatus = iota + 1
	// AlarmActive: raised.
	AlarmActive
	// AlarmCleared: its clear condition held, the device reported again,
	// or its rule was removed.
	AlarmCleared
	// AlarmCancelled: pending, then the condition stopped before the alarm
	// was raised. Cancelled alarms are not kept.
	AlarmCancelled
)

var alarmStatusNames = [...]string{"", "pending", "active", "cleared", "cancelled"}

// String returns "pending", "active", "cleared" or "cancelled".
func (s AlarmStatus) String() string {
	if int(s) < len(alarmStatusNames) && s > 0 {
		return alarmStatusNames[s]
	}
	return fmt.Sprintf("AlarmStatus(%d)", uint8(s))
}

// MarshalText writes the name.
func (s AlarmStatus) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a name.
func (s *AlarmStatus) UnmarshalText(b []byte) error {
	for i, n := range alarmStatusNames {
		if i > 0 && n == string(b) {
			*s = AlarmStatus(i)
			return nil
		}
	}
	return fmt.Errorf("sensor: unknown alarm status %q", b)
}

// Alarm is an alarm raised by the rule engine. There is at most one open
// (pending or active) alarm per (rule, device), per gateway, per area and
// per (rule, asset) burst; changes update it in place and raise its
// Version.
type Alarm struct {
	ID       string      `json:"id"` // a UUIDv7
	Kind     AlarmKind   `json:"kind"`
	Rule     string      `json:"rule,omitempty"` // empty for gateway and area alarms
	Status   AlarmStatus `json:"status"`
	Severity Severity    `json:"severity"`
	// Device is the device's ID (the gateway's, for a gateway alarm).
	Device string `json:"device,omitempty"`
	// Asset is the device's asset, or the burst's.
	Asset string `json:"asset,omitempty"`
	// Grid is the alarm's jurisdiction: the device's grid, the area, or
	// for a burst the deepest unit containing all its devices.
	Grid region.Code `json:"grid,omitempty"`
	// Location is the device's position; for a burst, the estimate of
	// where the asset broke: the centroid of the devices' positions
	// weighted by the size of each one's excursion past the condition
	// (the drop, for a Rate condition), since pressure falls most near a
	// break. With sensors on both sides of the break it falls between
	// them, nearer the one that dropped more; its accuracy is bounded by
	// sensor spacing. Zero for an area alarm.
	Location geo.Point `json:"location"`
	// Value is the reading at the alarm's last change; for a missing
	// heartbeat, the seconds of silence when raised; for a burst, the
	// largest excursion; for a gateway or area alarm, the silent devices.
	Value float64 `json:"value"`
	// Devices are a burst's devices, in the order they joined.
	Devices []string `json:"devices,omitempty"`
	// Silent and Monitored count a gateway's or area's silent and
	// heartbeat-monitored devices; Suppressed the per-device heartbeat
	// alarms it stood in for.
	Silent     int `json:"silent,omitempty"`
	Monitored  int `json:"monitored,omitempty"`
	Suppressed int `json:"suppressed,omitempty"`
	// Since is when the condition began: the first reading that met it
	// (event time), or a silent device's last report.
	Since time.Time `json:"since"`
	// Raised, Updated and Cleared are engine-clock times.
	Raised  time.Time `json:"raised,omitzero"`
	Updated time.Time `json:"updated"`
	Cleared time.Time `json:"cleared,omitzero"`
	// AckedBy and AckedAt record the acknowledgement.
	AckedBy string    `json:"acked_by,omitempty"`
	AckedAt time.Time `json:"acked_at,omitzero"`
	Note    string    `json:"note,omitempty"`
	Version int64     `json:"version"`
}

// Acked reports whether the alarm has been acknowledged.
func (a *Alarm) Acked() bool { return a.AckedBy != "" }

// Open reports whether the alarm is pending or active.
func (a *Alarm) Open() bool { return a.Status == AlarmPending || a.Status == AlarmActive }

func (a *Alarm) clone() Alarm {
	c := *a
	c.Devices = slices.Clone(a.Devices)
	return c
}

// AlarmEvent is the JSON payload of every alarm event: the event's name,
// the alarm as it stands after the change, who made it (for an
// acknowledgement) and when.
type AlarmEvent struct {
	Event string    `json:"event"`
	Alarm Alarm     `json:"alarm"`
	Actor string    `json:"actor,omitempty"`
	Time  time.Time `json:"time"`
}

// DecodeAlarmEvent reads the payload of an alarm event.
func DecodeAlarmEvent(m bus.Message) (AlarmEvent, error) {
	var ev AlarmEvent
	if err := json.Unmarshal(m.Data, &ev); err != nil {
		return ev, fmt.Errorf("sensor: not an alarm event: %w", err)
	}
	if ev.Event == "" || ev.Alarm.ID == "" {
		return ev, fmt.Errorf("sensor: alarm event without a name or an alarm id")
	}
	return ev, nil
}

// AlarmFilter selects alarms; zero fields match everything.
type AlarmFilter struct {
	Rule   string
	Kind   AlarmKind
	Status AlarmStatus
	Device string
	Asset  string
	// Grid selects alarms whose grid lies within this subtree.
	Grid region.Code
	// Unacked selects alarms not yet acknowledged.
	Unacked bool
	// Limit bounds the answer (0: no bound).
	Limit int
}

func (f *AlarmFilter) match(a *Alarm) bool {
	return (f.Rule == "" || a.Rule == f.Rule) && (f.Kind == 0 || a.Kind == f.Kind) &&
		(f.Status == 0 || a.Status == f.Status) && (f.Device == "" || a.Device == f.Device) &&
		(f.Asset == "" || a.Asset == f.Asset) && (f.Grid == "" || a.Grid.Within(f.Grid)) &&
		(!f.Unacked || !a.Acked())
}

// alarmRec is an alarm held by the engine.
type alarmRec struct {
	a       Alarm
	seq     uint64
	slot    uint32 // index+1 in Engine.open; 0 once closed
	rule    *ruleC // device and burst alarms
	si      uint32 // device alarms: the rule state
	group   *alarmGroup
	burst   *alarmBurst
	subject string // prefix and jurisdiction path
	// deferred marks a group alarm whose raise or update is announced at
	// the end of the engine step that changed it.
	deferred string
	// pubSilent and pubSuppressed are a group alarm's counts as last
	// published.
	pubSilent, pubSuppressed int
	// stored is the version EngineOptions.Store holds (0: none); saving
	// marks the record queued in Engine.saves or Engine.unsaved.
	stored int64
	saving bool
	// events announce changes not yet written to the store; they are
	// written with the alarm, into the store's outbox. The first
	// announced of them were published from memory already, when a write
	// failed (the outbox sends them again: consumers deduplicate by ID);
	// inWrite is that count for the events in the write under way.
	events             []bus.Message
	announced, inWrite int
}

// newAlarm opens an alarm record.
func (e *Engine) newAlarm(kind AlarmKind, rule *ruleC, grid region.Code, now int64) *alarmRec {
	e.seq++
	rec := &alarmRec{seq: e.seq, rule: rule, subject: e.subjectFor(grid)}
	rec.a = Alarm{ID: uuid.Must(uuid.NewV7()).String(), Kind: kind, Grid: grid, Updated: time.Unix(0, now).UTC()}
	if rule != nil {
		rec.a.Rule = rule.def.ID
		rule.open++
	}
	if n := len(e.free); n > 0 {
		rec.slot, e.free = e.free[n-1], e.free[:n-1]
		e.open[rec.slot-1] = rec
	} else {
		e.open = append(e.open, rec)
		rec.slot = uint32(len(e.open))
	}
	e.byID[rec.a.ID] = rec
	return rec
}

// closeAlarm takes a record out of the open table: into the history, or
// forgotten when cancelled.
func (e *Engine) closeAlarm(rec *alarmRec) {
	if rec.slot == 0 {
		return
	}
	e.open[rec.slot-1] = nil
	e.free = append(e.free, rec.slot)
	rec.slot = 0
	if rec.rule != nil {
		rec.rule.open--
	}
	if rec.a.Status == AlarmCancelled {
		delete(e.byID, rec.a.ID)
		return
	}
	if e.opts.History <= 0 {
		delete(e.byID, rec.a.ID)
		return
	}
	if len(e.hist) < e.opts.History {
		e.hist = append(e.hist, rec)
		return
	}
	old := e.hist[e.histNext]
	delete(e.byID, old.a.ID)
	e.hist[e.histNext] = rec
	e.histNext = (e.histNext + 1) % len(e.hist)
}

func (e *Engine) alarmAt(slot uint32) *alarmRec {
	if slot == 0 || int(slot) > len(e.open) {
		return nil
	}
	return e.open[slot-1]
}

// emit records a change of rec and queues its event.
func (e *Engine) emit(rec *alarmRec, event, actor string, now int64) {
	rec.a.Version++
	rec.a.Updated = time.Unix(0, now).UTC()
	if e.store != nil {
		e.changed = true
		if !rec.saving {
			rec.saving = true
			e.saves = append(e.saves, rec)
		}
	}
	switch event {
	case EventAlarmRaised:
		e.stats.Raised++
	case EventAlarmCleared:
		e.stats.Cleared++
	}
	if (event == EventAlarmPending || event == EventAlarmCancelled) && !e.opts.PublishPending {
		return
	}
	ev := AlarmEvent{Event: event, Alarm: rec.a.clone(), Actor: actor, Time: rec.a.Updated}
	if e.record != nil {
		e.record(ev)
		return
	}
	if e.pub == nil {
		return
	}
	data, err := json.Marshal(ev)
	if err != nil {
		e.log.Error("sensor: encoding alarm event", "alarm", rec.a.ID, "err", err)
		return
	}
	m := bus.Message{
		ID: uuid.Must(uuid.NewV7()).String(), Subject: rec.subject + ".sensor.alarm." + event, Key: rec.a.ID,
		Headers: map[string]string{"govkit-kind": ResourceAlarm, "govkit-event": event},
		Time:    ev.Time, Data: data,
	}
	if e.store != nil {
		rec.events = append(rec.events, m) // written to the store's outbox with the alarm
		return
	}
	e.queueEvent(m)
}

// queueEvent queues m for publishing without a store, dropping the oldest
// waiting events beyond MaxUnpublished; e.mu is held.
func (e *Engine) queueEvent(msgs ...bus.Message) {
	e.outbox = append(e.outbox, msgs...)
	if n := len(e.outbox) - e.opts.MaxUnpublished; n > 0 {
		clear(e.outbox[:n])
		e.outbox = e.outbox[n:]
		e.stats.EventsDropped += int64(n)
		e.log.Error("sensor: alarm events dropped: the publisher has been failing and MaxUnpublished are waiting", "dropped", n)
	}
}

// subjectFor returns the subject prefix of alarms in grid:
// <prefix>.<city>.<district>.<street>, with as much of the path as the
// grid has; cached per grid.
func (e *Engine) subjectFor(grid region.Code) string {
	if s, ok := e.subjects[grid]; ok {
		return s
	}
	var b strings.Builder
	b.WriteString(e.opts.Prefix)
	for _, c := range alarmPath(e.opts.Hierarchy, grid) {
		b.WriteByte('.')
		b.WriteString(string(c))
	}
	s := b.String()
	if len(e.subjects) < 1<<16 {
		e.subjects[grid] = s
	}
	return s
}

// alarmPath returns the city, district and street of a grid: from the
// hierarchy when it knows the grid, otherwise from the code's digits (the
// province-level code, the 6-digit division, the 9-digit street), as the
// Commander does.
func alarmPath(h *region.Hierarchy, grid region.Code) []region.Code {
	if grid == "" {
		return nil
	}
	if h != nil {
		if path, err := h.Path(grid); err == nil {
			return path[:min(len(path), 3)]
		}
	}
	return codePath(grid)
}

// flush writes changed alarms to the store and then publishes queued
// events, in order, outside the engine's lock. One goroutine flushes at a
// time and keeps going until nothing is queued; a flush called meanwhile
// (from another goroutine, or from a publisher that calls back into the
// engine) leaves its work to it.
func (e *Engine) flush() {
	e.mu.Lock()
	if e.flushing {
		e.mu.Unlock()
		return
	}
	e.flushing = true
	_ = e.drain(nil)
	e.flushing = false
	e.idle.Broadcast()
	e.mu.Unlock()
}

// publishRetry is how long the engine waits after a failed publish before
// it tries the bus again (a Sync tries at once).
const publishRetry = time.Second

// drain is flush's loop; e.mu is held, and e.flushing set, on entry and on
// return. Store writes use ctx, or StoreTimeout each when ctx is nil. With
// a store, events travel in the alarm writes and are published from the
// store's outbox; without one, from the engine's queue. Events that the
// publisher refuses stay where they are and are tried again after
// publishRetry (by a timer, or by the next engine step) or by Sync, which
// (ctx set) does not wait. The error is the first write's or publish's
// that failed.
func (e *Engine) drain(ctx context.Context) error {
	var failure error
	// Each round takes the alarms changed since the last; those whose
	// write failed wait for a later flush rather than spin here.
	for first := true; first || len(e.saves) > 0 || len(e.outbox) > 0; first = false {
		recs, writes := e.takeSaves(first)
		now := e.clk.Now().UnixNano()
		mayPublish := ctx != nil || now >= e.retryAt
		var out []bus.Message
		if len(e.outbox) > 0 && mayPublish {
			out = e.outbox
			e.outbox, e.spareOut = e.spareOut, nil
		}
		relayNow := e.relay != nil && mayPublish && (e.relayOwed || carriesEvents(writes))
		if len(writes) == 0 && len(out) == 0 && !relayNow {
			return failure
		}
		e.mu.Unlock()
		var res saveResult
		if len(writes) > 0 {
			res = e.writeAlarms(ctx, writes)
		}
		sent, pubErr := e.publishQueued(out)
		var relayErr error
		if relayNow {
			relayErr = e.flushRelay(ctx)
		}
		e.mu.Lock()
		if len(out) > 0 {
			clear(out[:sent])
			if sent == len(out) {
				e.spareOut = out[:0]
			} else {
				e.outbox = append(out[sent:], e.outbox...) // ahead of events queued meanwhile
				e.queueEvent()                             // and within MaxUnpublished
			}
		}
		if relayNow {
			e.relayOwed = relayErr != nil
		} else if carriesEvents(writes) {
			e.relayOwed = true // written while the bus is backed off from
		}
		if len(writes) > 0 {
			if err := e.settleSaves(recs, writes, res); err != nil && failure == nil {
				failure = err
			}
		}
		if err := cmp.Or(pubErr, relayErr); err != nil {
			e.stats.PublishErrors++
			e.retryAt = now + int64(publishRetry)
			if e.retryTimer == nil && !e.closed {
				e.retryTimer = e.clk.AfterFunc(publishRetry, e.retryPublish)
			}
			if failure == nil {
				failure = err
			}
			return failure // the rest waits for the retry
		}
	}
	return failure
}

// carriesEvents reports whether any of writes carries events.
func carriesEvents(writes []AlarmWrite) bool {
	for i := range writes {
		if len(writes[i].Events) > 0 {
			return true
		}
	}
	return false
}

// publishQueued publishes out in order, stopping at the first refusal; it
// returns how many were sent.
func (e *Engine) publishQueued(out []bus.Message) (int, error) {
	for i := range out {
		if err := e.pub.Publish(context.Background(), out[i]); err != nil {
			e.log.Error("sensor: publishing alarm event; it waits for a retry", "subject", out[i].Subject, "err", err)
			return i, fmt.Errorf("sensor: publishing alarm event %s: %w", out[i].Subject, err)
		}
	}
	return len(out), nil
}

// flushRelay publishes what the store's outbox holds.
func (e *Engine) flushRelay(ctx context.Context) error {
	if ctx == nil {
		c, cancel := context.WithTimeout(context.Background(), e.opts.StoreTimeout)
		defer cancel()
		ctx = c
	}
	if err := e.relay.Flush(ctx); err != nil {
		e.log.Error("sensor: publishing alarm events from the store's outbox; they wait for a retry", "err", err)
		return fmt.Errorf("sensor: publishing alarm events: %w", err)
	}
	return nil
}

// retryPublish is the timer set after a failed publish.
func (e *Engine) retryPublish() {
	e.mu.Lock()
	e.retryTimer = nil
	e.mu.Unlock()
	e.flush()
}

// alarmResource describes an alarm for the authorizer.
func alarmResource(a *Alarm) access.Resource {
	return access.Resource{Kind: ResourceAlarm, ID: a.ID, Jurisdiction: a.Grid}
}

// Ack acknowledges an alarm on behalf of the actor in ctx, who needs
// ActionAck on it. Active and cleared alarms can be acknowledged, once;
// a pending one, or one already acknowledged, gives ErrAlarmState.
func (e *Engine) Ack(ctx context.Context, alarmID string) (Alarm, error) {
	e.mu.Lock()
	rec, ok := e.byID[alarmID]
	var a Alarm
	if ok {
		a = rec.a.clone()
	}
	e.mu.Unlock()
	if !ok && e.store != nil {
		return e.ackStored(ctx, alarmID)
	}
	if !ok {
		return Alarm{}, fmt.Errorf("%w: %q", ErrUnknownAlarm, alarmID)
	}
	d := e.az.Authorize(ctx, ActionAck, alarmResource(&a))
	if !d.Allowed {
		return Alarm{}, d.Err()
	}
	actor := d.ActorID
	if actor == "" {
		actor = "unknown"
	}
	e.mu.Lock()
	if cur, ok := e.byID[alarmID]; !ok || cur != rec {
		e.mu.Unlock()
		return Alarm{}, fmt.Errorf("%w: %q", ErrUnknownAlarm, alarmID)
	}
	switch {
	case rec.a.Status == AlarmPending || rec.a.Status == AlarmCancelled:
		e.mu.Unlock()
		return Alarm{}, fmt.Errorf("%w: alarm %s is %s, not yet raised", ErrAlarmState, alarmID, rec.a.Status)
	case rec.a.Acked():
		e.mu.Unlock()
		return Alarm{}, fmt.Errorf("%w: alarm %s was acknowledged by %s", ErrAlarmState, alarmID, rec.a.AckedBy)
	}
	now := e.clk.Now().UnixNano()
	rec.a.AckedBy, rec.a.AckedAt = actor, time.Unix(0, now).UTC()
	e.emit(rec, EventAlarmAcked, actor, now)
	a = rec.a.clone()
	pending := e.needFlush()
	e.mu.Unlock()
	if pending {
		e.flush()
	}
	return a, nil
}

// Alarm returns one alarm, if the actor in ctx may read it.
func (e *Engine) Alarm(ctx context.Context, alarmID string) (Alarm, error) {
	e.mu.Lock()
	rec, ok := e.byID[alarmID]
	var a Alarm
	if ok {
		a = rec.a.clone()
	}
	e.mu.Unlock()
	if !ok && e.store != nil {
		var err error
		if a, err = e.store.Alarm(ctx, alarmID); err != nil {
			return Alarm{}, err
		}
		ok = true
	}
	if !ok {
		return Alarm{}, fmt.Errorf("%w: %q", ErrUnknownAlarm, alarmID)
	}
	if err := access.Check(ctx, e.az, ActionRead, alarmResource(&a)); err != nil {
		return Alarm{}, err
	}
	return a, nil
}

// Alarms lists the alarms that match f and that the actor in ctx may read
// (ActionRead), open and kept history alike, oldest first. Without an
// actor it fails with access.ErrNoActor.
//
// The engine's lock, which ingestion needs, is held only to find the
// matches and, once authorization and f.Limit have chosen among them, to
// copy those: a dashboard polling for the latest few does not copy the
// whole history while readings wait.
func (e *Engine) Alarms(ctx context.Context, f AlarmFilter) ([]Alarm, error) {
	type hit struct {
		rec *alarmRec
		seq uint64
		res access.Resource
	}
	e.mu.Lock()
	hits := make([]hit, 0, 16)
	for _, rec := range e.open {
		if rec != nil && f.match(&rec.a) {
			hits = append(hits, hit{rec, rec.seq, alarmResource(&rec.a)})
		}
	}
	for _, rec := range e.hist {
		if f.match(&rec.a) {
			hits = append(hits, hit{rec, rec.seq, alarmResource(&rec.a)})
		}
	}
	e.mu.Unlock()
	slices.SortFunc(hits, func(a, b hit) int { return cmp.Compare(a.seq, b.seq) })
	kept := hits[:0]
	for _, h := range hits {
		if f.Limit > 0 && len(kept) == f.Limit {
			break
		}
		d := e.az.Authorize(ctx, ActionRead, h.res)
		if d.Reason == access.NoActor {
			return nil, d.Err()
		}
		if d.Allowed {
			kept = append(kept, h)
		}
	}
	out := make([]Alarm, 0, len(kept))
	e.mu.Lock()
	for _, h := range kept {
		if f.match(&h.rec.a) { // it may have moved on meanwhile
			out = append(out, h.rec.a.clone())
		}
	}
	e.mu.Unlock()
	return out, nil
}
