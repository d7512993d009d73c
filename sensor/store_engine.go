package sensor

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
)

// The Engine's persistence (EngineOptions.Store): rules written through by
// AddRule and RemoveRule, alarm changes written in batches by flush, and
// the restore of rules and open alarms in NewEngine.

// needFlush reports whether events or alarm writes wait; e.mu is held.
func (e *Engine) needFlush() bool {
	return len(e.outbox) > 0 || len(e.saves) > 0 || e.changed || e.relayOwed
}

// unstored counts the alarms whose last change the store lacks; e.mu is
// held.
func (e *Engine) unstored() int {
	n := 0
	for _, list := range [2][]*alarmRec{e.unsaved, e.saves} {
		for _, rec := range list {
			if rec.a.Version != rec.stored {
				n++
			}
		}
	}
	return n
}

// Sync writes every alarm change the store does not hold yet (after a
// failed write, say), publishes every event that waits (without waiting
// out a retry delay), and returns the first error; nil when the store
// holds every alarm as it stands and the bus has taken every event. Call
// it before a planned shutdown.
func (e *Engine) Sync(ctx context.Context) error {
	e.mu.Lock()
	for e.flushing {
		e.idle.Wait()
	}
	e.flushing = true
	err := e.drain(ctx)
	e.flushing = false
	e.idle.Broadcast()
	e.mu.Unlock()
	return err
}

// storeRule stores a new rule; e.manage is held.
func (e *Engine) storeRule(ctx context.Context, r *ruleC) error {
	e.mu.Lock()
	_, dup := e.ruleByID[r.def.ID]
	closed := e.closed
	e.mu.Unlock()
	switch {
	case closed:
		return errors.New("sensor: engine closed")
	case dup:
		return fmt.Errorf("%w: rule %q", ErrDuplicate, r.def.ID)
	}
	if err := e.store.CreateRule(ctx, r.def); err != nil {
		return fmt.Errorf("sensor: storing rule %q: %w", r.def.ID, err)
	}
	return nil
}

// unstoreRule takes back a rule stored by an AddRule that failed after.
func (e *Engine) unstoreRule(id string) {
	if e.store == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), e.opts.StoreTimeout)
	defer cancel()
	if err := e.store.DeleteRule(ctx, id); err != nil {
		e.log.Error("sensor: deleting the rule of a failed AddRule", "rule", id, "err", err)
	}
}

// deleteRule deletes a rule from the store; a rule the store lacks (added
// before the store was) is no error. e.manage is held.
func (e *Engine) deleteRule(ctx context.Context, id string) error {
	if err := e.store.DeleteRule(ctx, id); err != nil && !errors.Is(err, ErrUnknownRule) {
		return fmt.Errorf("sensor: deleting rule %q: %w", id, err)
	}
	return nil
}

// rateUnknown reports whether a restored state of a Rate rule should
// ignore a reading because the rule cannot yet tell the rate; the state
// is released once it can.
func (e *Engine) rateUnknown(r *ruleC, si uint32, rateOK bool) bool {
	ent := ruleEntry(r.idx, si)
	if _, ok := e.unsure[ent]; !ok {
		return false
	}
	if rateOK {
		delete(e.unsure, ent)
		return false
	}
	return true
}

// takeSaves returns the alarms to write and their writes: those changed
// since the last call, after, with retry, those whose write failed; e.mu
// is held.
func (e *Engine) takeSaves(retry bool) ([]*alarmRec, []AlarmWrite) {
	recs := e.saves
	if retry {
		recs = append(e.unsaved, e.saves...)
		e.unsaved, e.changed = nil, false
	}
	e.saves = nil
	if len(recs) == 0 {
		return nil, nil
	}
	writes := make([]AlarmWrite, 0, len(recs))
	kept := recs[:0]
	for _, rec := range recs {
		rec.saving = false
		switch {
		case rec.a.Version == rec.stored:
			e.queueEvent(rec.events[rec.announced:]...) // nothing to write them with
			rec.events, rec.announced = nil, 0
		case rec.stored == 0 && rec.a.Status == AlarmCancelled: // never stored: nothing to remove
			rec.stored = rec.a.Version
			e.queueEvent(rec.events[rec.announced:]...)
			rec.events, rec.announced = nil, 0
		default:
			writes = append(writes, AlarmWrite{Alarm: rec.a.clone(), Prev: rec.stored, Events: rec.events})
			rec.events, rec.inWrite, rec.announced = nil, rec.announced, 0
			kept = append(kept, rec)
		}
	}
	clear(recs[len(kept):])
	return kept, writes
}

// saveResult is what became of a batch of alarm writes.
type saveResult struct {
	err  error   // the first failure
	done []bool  // written
	prev []int64 // for writes the store refused: the version it holds (-1: unknown)
	drop []bool  // refused for good (a malformed record)
}

// storeRefused reports whether err is a store's definite answer about a
// record, which retrying the same write cannot change.
func storeRefused(err error) bool {
	return errors.Is(err, ErrConflict) || errors.Is(err, ErrDuplicate) || errors.Is(err, ErrUnknownAlarm) ||
		errors.Is(err, ErrInvalidRecord)
}

// writeAlarms writes a batch, outside e.mu. When the store refuses the
// batch because of one alarm (another writer changed it, or it cannot be
// stored), the writes are tried one by one so that the others are not
// held up, and each refused one learns the version the store holds, so
// that the next write of the engine's state supersedes it. Any other
// failure leaves the whole batch for the next flush.
func (e *Engine) writeAlarms(ctx context.Context, writes []AlarmWrite) saveResult {
	call := func(fn func(ctx context.Context) error) error {
		if ctx != nil {
			return fn(ctx)
		}
		c, cancel := context.WithTimeout(context.Background(), e.opts.StoreTimeout)
		defer cancel()
		return fn(c)
	}
	res := saveResult{done: make([]bool, len(writes))}
	err := call(func(ctx context.Context) error { return e.store.WriteAlarms(ctx, writes...) })
	if err == nil {
		for i := range res.done {
			res.done[i] = true
		}
		return res
	}
	res.err = err
	if !storeRefused(err) {
		return res
	}
	res.prev = make([]int64, len(writes))
	res.drop = make([]bool, len(writes))
	for i := range writes {
		res.prev[i] = -1
		w := writes[i]
		if len(writes) > 1 {
			err = call(func(ctx context.Context) error { return e.store.WriteAlarms(ctx, w) })
		}
		switch {
		case err == nil:
			res.done[i] = true
			continue
		case errors.Is(err, ErrInvalidRecord):
			res.drop[i] = true
		case storeRefused(err):
			var cur Alarm
			gerr := call(func(ctx context.Context) (err error) { cur, err = e.store.Alarm(ctx, w.Alarm.ID); return err })
			switch {
			case gerr == nil:
				res.prev[i] = cur.Version
			case errors.Is(gerr, ErrUnknownAlarm):
				res.prev[i] = 0
			}
		default:
			return res // unavailable: the rest waits for the next flush
		}
		e.log.Warn("sensor: the store refused an alarm write", "alarm", w.Alarm.ID, "version", w.Alarm.Version,
			"prev", w.Prev, "err", err)
	}
	return res
}

// settleSaves records what a batch of writes achieved and queues again
// the alarms whose write failed; e.mu is held.
func (e *Engine) settleSaves(recs []*alarmRec, writes []AlarmWrite, res saveResult) error {
	var failed int64
	for i, rec := range recs {
		switch {
		case res.done[i]:
			rec.stored = max(rec.stored, writes[i].Alarm.Version)
			continue
		case res.drop != nil && res.drop[i]:
			rec.stored = rec.a.Version // the store cannot keep it; do not retry this state
			e.log.Error("sensor: an alarm the store cannot keep", "alarm", rec.a.ID, "err", res.err)
			e.queueEvent(writes[i].Events[rec.inWrite:]...) // announced all the same, from memory
			failed++
			continue
		case res.prev != nil && res.prev[i] >= 0:
			// Another writer changed the alarm: the engine's state
			// supersedes it, at a version above the store's.
			rec.stored = res.prev[i]
			rec.a.Version = max(rec.a.Version, rec.stored+1)
		}
		// The events wait with the alarm for its next write, ahead of any
		// emitted meanwhile; an alarm is announced even while the store is
		// down, so they go out from memory now, once.
		evs := writes[i].Events
		e.queueEvent(evs[rec.inWrite:]...)
		rec.events, rec.announced = append(evs, rec.events...), len(evs)
		failed++
		if !rec.saving {
			rec.saving = true
			e.unsaved = append(e.unsaved, rec)
		}
	}
	if failed == 0 {
		return nil
	}
	e.stats.StoreErrors += failed
	if res.err != nil {
		e.log.Error("sensor: writing alarms to the store", "alarms", len(writes), "failed", failed, "err", res.err)
	}
	return fmt.Errorf("sensor: writing %d alarm changes: %w", failed, res.err)
}

// ackStored acknowledges an alarm the engine no longer holds (cleared
// before the history's reach, or before a restart) in the store: the write
// is made for the caller, with its context, before the event is published.
func (e *Engine) ackStored(ctx context.Context, alarmID string) (Alarm, error) {
	a, err := e.store.Alarm(ctx, alarmID)
	if err != nil {
		return Alarm{}, err
	}
	d := e.az.Authorize(ctx, ActionAck, alarmResource(&a))
	if !d.Allowed {
		return Alarm{}, d.Err()
	}
	actor := d.ActorID
	if actor == "" {
		actor = "unknown"
	}
	switch {
	case a.Status == AlarmPending || a.Status == AlarmCancelled:
		return Alarm{}, fmt.Errorf("%w: alarm %s is %s, not yet raised", ErrAlarmState, alarmID, a.Status)
	case a.Acked():
		return Alarm{}, fmt.Errorf("%w: alarm %s was acknowledged by %s", ErrAlarmState, alarmID, a.AckedBy)
	}
	now := e.clk.Now().UnixNano()
	at := time.Unix(0, now).UTC()
	next := a.clone()
	next.AckedBy, next.AckedAt, next.Updated = actor, at, at
	next.Version++
	if err := e.store.WriteAlarms(ctx, AlarmWrite{Alarm: next, Prev: a.Version}); err != nil {
		return Alarm{}, err
	}
	e.mu.Lock()
	rec := &alarmRec{a: a, subject: e.subjectFor(a.Grid), stored: next.Version}
	rec.a.AckedBy, rec.a.AckedAt = actor, at
	e.emit(rec, EventAlarmAcked, actor, now) // rec.a is now next: nothing more to write
	pending := e.needFlush()
	e.mu.Unlock()
	if pending {
		e.flush()
	}
	return next, nil
}

// restore loads the stored rules and open alarms into a new engine.
func (e *Engine) restore() error {
	ctx, cancel := context.WithTimeout(context.Background(), e.opts.StoreTimeout)
	defer cancel()
	rules, err := e.store.Rules(ctx)
	if err != nil {
		return fmt.Errorf("sensor: restoring rules: %w", err)
	}
	compiled := make([]*ruleC, 0, len(rules))
	for _, rule := range rules {
		r, err := e.compile(rule)
		if err != nil {
			return fmt.Errorf("sensor: restoring rule %q (register its profile first, see LoadRegistry): %w", rule.ID, err)
		}
		compiled = append(compiled, r)
	}
	var open []Alarm
	q := AlarmQuery{Statuses: []AlarmStatus{AlarmPending, AlarmActive}, Limit: MaxQueryLimit}
	for {
		page, err := e.store.Alarms(ctx, q)
		if err != nil {
			return fmt.Errorf("sensor: restoring alarms: %w", err)
		}
		open = append(open, page.Alarms...)
		if page.Next == "" {
			break
		}
		q.After = page.Next
	}

	e.mu.Lock()
	now := e.clk.Now().UnixNano()
	for _, r := range compiled {
		e.install(r, now)
	}
	groups := restoredGroups{gws: map[uint32]bool{}, areas: map[string]bool{}}
	for i := range open {
		e.reopen(&open[i], now, &groups)
	}
	if len(groups.gws) > 0 || len(groups.areas) > 0 {
		e.silenceRestored(&groups)
	}
	if len(e.dirty) > 0 {
		e.settleGroups(now)
	}
	e.announce(now)
	pending := e.needFlush()
	e.mu.Unlock()
	if pending {
		e.flush()
	}
	return nil
}

// restoredGroups are the gateways (handle+1) and areas whose alarms were
// restored.
type restoredGroups struct {
	gws   map[uint32]bool
	areas map[string]bool
}

// reopen re-creates a stored open alarm and links it to the state it
// stands for; e.mu is held.
func (e *Engine) reopen(a *Alarm, now int64, groups *restoredGroups) {
	if _, dup := e.byID[a.ID]; dup {
		return
	}
	e.seq++
	rec := &alarmRec{a: a.clone(), seq: e.seq, subject: e.subjectFor(a.Grid), stored: a.Version}
	if n := len(e.free); n > 0 {
		rec.slot, e.free = e.free[n-1], e.free[:n-1]
		e.open[rec.slot-1] = rec
	} else {
		e.open = append(e.open, rec)
		rec.slot = uint32(len(e.open))
	}
	e.byID[rec.a.ID] = rec
	var r *ruleC
	if a.Kind == AlarmDevice || a.Kind == AlarmBurst {
		if r = e.ruleByID[a.Rule]; r == nil {
			// its rule is gone: RemoveRule's clearing did not reach the store
			e.finish(rec, "rule removed", now)
			return
		}
		rec.rule = r
		r.open++
	}
	var ok bool
	switch a.Kind {
	case AlarmDevice:
		ok = e.relinkDevice(rec, r, now)
	case AlarmBurst:
		ok = e.relinkBurst(rec, r)
	case AlarmGateway, AlarmArea:
		ok = e.relinkGroup(rec, now, groups)
	}
	if !ok {
		e.log.Warn("sensor: a restored alarm has no device state to follow (its device is not registered, or no longer in its rule's scope): it stays open",
			"alarm", a.ID, "kind", a.Kind, "device", a.Device, "rule", a.Rule)
	}
}

// stateOf returns the index of h's state under r.
func (e *Engine) stateOf(r *ruleC, h Handle) (uint32, bool) {
	if int(h) >= len(e.loc) || e.prof[h] != r.prof {
		return 0, false
	}
	loc := e.loc[h]
	if r.all {
		return loc, int(loc) < len(r.st)
	}
	if int(loc) >= len(r.slot) || r.slot[loc] == 0 {
		return 0, false
	}
	return r.slot[loc] - 1, true
}

// levelOf returns the level of r with severity sev, as index+1.
func (r *ruleC) levelOf(sev Severity) uint8 {
	for i := range r.levels {
		if r.levels[i].sev == sev {
			return uint8(i + 1)
		}
	}
	return 1
}

// relinkDevice links a restored device alarm to its (rule, device) state.
func (e *Engine) relinkDevice(rec *alarmRec, r *ruleC, now int64) bool {
	a := &rec.a
	h, err := e.reg.Lookup(a.Device)
	if err != nil {
		return false
	}
	si, ok := e.stateOf(r, h)
	if !ok {
		return false
	}
	s := &r.st[si]
	if s.alarm != 0 || s.phase&rsMask != rsIdle {
		// the store held two open alarms for one (rule, device)
		e.finish(rec, "duplicate after restart", now)
		return true
	}
	rec.si = si
	s.alarm = rec.slot
	s.lvl = r.levelOf(a.Severity)
	if r.missing {
		if a.Status != AlarmActive {
			e.finish(rec, "", now)
			return true
		}
		s.phase = s.phase&^rsMask | rsActive
		e.markSilent(h, ruleEntry(r.idx, si))
		return true
	}
	s.since = a.Since.UnixNano()
	if r.rateWin > 0 {
		e.unsureState(r, si)
	}
	if a.Status == AlarmActive {
		s.phase = s.phase&^(rsMask|rsForMet) | rsActive
		return true
	}
	// Pending: the count starts again; the For deadline is the one set
	// when it became pending (its last event).
	s.phase = s.phase&^(rsMask|rsForMet) | rsPending | rsHasLast
	s.cnt = 1
	s.lastT, s.lastV = s.since, float32(a.Value)
	if r.forNs > 0 {
		s.due = a.Updated.UnixNano() + r.forNs
		e.queue(r, si, s.due, s.phase&rsQueued != 0)
	}
	return true
}

func (e *Engine) unsureState(r *ruleC, si uint32) {
	if e.unsure == nil {
		e.unsure = map[uint64]struct{}{}
	}
	e.unsure[ruleEntry(r.idx, si)] = struct{}{}
}

// relinkBurst re-creates a restored burst from its devices. Their weights
// are not stored: each gets the burst's largest excursion, so that a
// later change locates the burst at their centroid until they report.
func (e *Engine) relinkBurst(rec *alarmRec, r *ruleC) bool {
	a := &rec.a
	var b *alarmBurst
	lvl := r.levelOf(a.Severity)
	for _, id := range a.Devices {
		h, err := e.reg.Lookup(id)
		if err != nil {
			continue
		}
		si, ok := e.stateOf(r, h)
		if !ok {
			continue
		}
		s := &r.st[si]
		info, _ := e.reg.ruleDeviceInfo(h)
		if s.alarm != 0 || info.assetID == 0 {
			continue
		}
		if b == nil {
			key := alarmBurstKey{r.idx, info.assetID}
			if e.bursts[key] != nil {
				e.finish(rec, "duplicate after restart", e.clk.Now().UnixNano())
				return true
			}
			b = &alarmBurst{key: key, asset: info.asset, alarm: rec}
			e.bursts[key] = b
			rec.burst = b
		}
		w := a.Value
		if math.IsNaN(w) || math.IsInf(w, 0) {
			w = 0
		}
		b.members = append(b.members, alarmBurstMember{si: si, lvl: lvl, active: true, w: w, id: info.id, grid: info.grid, at: info.at})
		s.alarm, s.lvl, s.since = rec.slot, lvl, a.Since.UnixNano()
		s.phase = s.phase&^(rsMask|rsForMet) | rsActive
		if r.rateWin > 0 {
			e.unsureState(r, si)
		}
	}
	return b != nil
}

// relinkGroup links a restored gateway or area alarm to its group; the
// devices it covers are marked silent by silenceRestored.
func (e *Engine) relinkGroup(rec *alarmRec, now int64, groups *restoredGroups) bool {
	a := &rec.a
	if e.opts.Storm.Disabled {
		e.finish(rec, "storm control is off", now)
		return true
	}
	var g *alarmGroup
	if a.Kind == AlarmGateway {
		h, err := e.reg.Lookup(a.Device)
		if err != nil {
			return false
		}
		key := uint32(h) + 1
		if g = e.gws[key]; g == nil {
			g = &alarmGroup{kind: AlarmGateway, gw: key, members: map[Handle]struct{}{}}
			e.gws[key] = g
		}
		groups.gws[key] = true
	} else {
		key := string(a.Grid)
		if e.opts.Storm.AreaFraction < 0 || key == "" {
			e.finish(rec, "area alarms are off", now)
			return true
		}
		if g = e.areas[key]; g == nil {
			g = &alarmGroup{kind: AlarmArea, area: key, members: map[Handle]struct{}{}}
			e.areas[key] = g
		}
		groups.areas[key] = true
	}
	if g.alarm != nil {
		e.finish(rec, "duplicate after restart", now)
		return true
	}
	g.alarm, rec.group = rec, g
	rec.pubSilent, rec.pubSuppressed = a.Silent, a.Suppressed
	e.markDirty(g)
	return true
}

// silenceRestored marks the heartbeat-monitored devices behind restored
// gateway alarms, and in restored area alarms, silent and suppressed, as
// they stood before the restart (as far as the store knows); each is heard
// again at its next reading.
func (e *Engine) silenceRestored(groups *restoredGroups) {
	var hs []Handle
	var ents []uint64
	for _, r := range e.rules {
		if r == nil || !r.missing {
			continue
		}
		for si := range r.st {
			s := &r.st[si]
			if s.phase&rsMonitored == 0 || s.phase&rsMask != rsIdle {
				continue
			}
			hs = append(hs, r.handle(e, uint32(si)))
			ents = append(ents, ruleEntry(r.idx, uint32(si)))
		}
	}
	var quiet []int
	i := 0
	e.reg.ruleEach(hs, func(h Handle, d *ruleDev) {
		if groups.gws[d.gateway] || groups.gws[uint32(h)+1] || groups.areas[e.areaOf(d.grid)] {
			quiet = append(quiet, i)
		}
		i++
	})
	for _, k := range quiet {
		r, si, s := e.entryState(ents[k])
		s.phase = s.phase&^rsMask | rsSuppressed
		e.markSilent(r.handle(e, si), ents[k])
	}
}
