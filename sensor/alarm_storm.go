package sensor

import (
	"fmt"
	"time"

	"github.com/govkit/govkit/region"
)

// Storm control. Every device watched by a missing-heartbeat rule counts
// in its gateway's group and its area's group; a device with at least one
// missed heartbeat is silent. Group counters change as devices go silent
// and report again; a group whose silent share reaches its fraction
// raises one alarm, which suppresses the heartbeat alarms of its silent
// devices.

// alarmGroup is a gateway's or an area's devices.
type alarmGroup struct {
	kind    AlarmKind // AlarmGateway or AlarmArea
	gw      uint32    // the gateway's handle+1
	area    string
	total   int // heartbeat-monitored devices
	silent  int
	members map[Handle]struct{} // the silent devices
	alarm   *alarmRec
	dirty   bool
}

// alarmSilent is a silent device: its groups and its missed (rule, state)
// entries.
type alarmSilent struct {
	gw, area *alarmGroup
	entries  []uint64
}

// areaOf returns the area a grid belongs to at the configured level.
func (e *Engine) areaOf(grid string) string {
	switch e.opts.Storm.AreaLevel {
	case region.City:
		if len(grid) >= 6 {
			return grid[:2] + "0000"
		}
		return ""
	case region.District:
		return ruleCut(grid, 6)
	case region.Street:
		return ruleCut(grid, 9)
	case region.Community:
		return ruleCut(grid, 12)
	}
	return ruleCut(grid, 15)
}

func ruleCut(s string, n int) string {
	if len(s) < n {
		return ""
	}
	return s[:n]
}

// groupsFor returns (creating) the groups of a device.
func (e *Engine) groupsFor(gw uint32, grid string) (g, a *alarmGroup) {
	st := &e.opts.Storm
	if st.Disabled {
		return nil, nil
	}
	if gw != 0 {
		if g = e.gws[gw]; g == nil {
			g = &alarmGroup{kind: AlarmGateway, gw: gw, members: map[Handle]struct{}{}}
			e.gws[gw] = g
		}
	}
	if st.AreaFraction > 0 {
		if key := e.areaOf(grid); key != "" {
			if a = e.areas[key]; a == nil {
				a = &alarmGroup{kind: AlarmArea, area: key, members: map[Handle]struct{}{}}
				e.areas[key] = a
			}
		}
	}
	return g, a
}

func (e *Engine) markDirty(g *alarmGroup) {
	if g != nil && !g.dirty {
		g.dirty = true
		e.dirty = append(e.dirty, g)
	}
}

// monitor counts a device in (delta 1) or out of (-1) its groups' totals
// when the first heartbeat rule starts or the last one stops watching it.
func (e *Engine) monitor(h Handle, gw uint32, grid string, delta int) {
	if e.mon == nil {
		e.mon = make([]uint8, len(e.prof))
	}
	for int(h) >= len(e.mon) {
		e.mon = append(e.mon, 0)
	}
	old := e.mon[h]
	switch {
	case delta > 0 && old < 255:
		e.mon[h]++
		if old != 0 {
			return
		}
	case delta < 0 && old > 0:
		e.mon[h]--
		if old != 1 {
			return
		}
	default:
		return
	}
	g, a := e.groupsFor(gw, grid)
	for _, x := range [2]*alarmGroup{g, a} {
		if x != nil {
			x.total += delta
			e.markDirty(x)
		}
	}
}

// monitorState counts a state's device in or out, once.
func (e *Engine) monitorState(r *ruleC, si uint32, h Handle, delta int) {
	s := &r.st[si]
	if (delta > 0) == (s.phase&rsMonitored != 0) {
		return
	}
	s.phase ^= rsMonitored
	e.reg.ruleEach([]Handle{h}, func(h Handle, d *ruleDev) { e.monitor(h, d.gateway, d.grid, delta) })
}

// markSilent records a missed (rule, state) entry of device h.
func (e *Engine) markSilent(h Handle, ent uint64) {
	sd := e.silent[h]
	if sd == nil {
		sd = &alarmSilent{}
		e.reg.ruleEach([]Handle{h}, func(_ Handle, d *ruleDev) { sd.gw, sd.area = e.groupsFor(d.gateway, d.grid) })
		e.silent[h] = sd
		for _, g := range [2]*alarmGroup{sd.gw, sd.area} {
			if g != nil {
				g.silent++
				g.members[h] = struct{}{}
				e.markDirty(g)
			}
		}
	}
	sd.entries = append(sd.entries, ent)
}

// unsilent removes an entry; the device is no longer silent once it has
// none.
func (e *Engine) unsilent(h Handle, ent uint64) {
	sd := e.silent[h]
	if sd == nil {
		return
	}
	for i, x := range sd.entries {
		if x == ent {
			sd.entries = append(sd.entries[:i], sd.entries[i+1:]...)
			break
		}
	}
	if len(sd.entries) > 0 {
		return
	}
	delete(e.silent, h)
	for _, g := range [2]*alarmGroup{sd.gw, sd.area} {
		if g != nil {
			g.silent--
			delete(g.members, h)
			e.markDirty(g)
		}
	}
}

// coverer returns the group alarm that stands for a silent device: its
// gateway's, its own (when it is a gateway), or its area's.
func (e *Engine) coverer(h Handle, sd *alarmSilent) *alarmGroup {
	if sd != nil && sd.gw != nil && sd.gw.alarm != nil {
		return sd.gw
	}
	if g := e.gws[uint32(h)+1]; g != nil && g.alarm != nil {
		return g
	}
	if sd != nil && sd.area != nil && sd.area.alarm != nil {
		return sd.area
	}
	return nil
}

func (e *Engine) eligible(sd *alarmSilent) bool {
	least := e.opts.Storm.MinDevices
	return sd != nil && (sd.gw != nil && sd.gw.total >= least || sd.area != nil && sd.area.total >= least)
}

func (e *Engine) entryState(ent uint64) (*ruleC, uint32, *ruleState) {
	r := e.rules[ent>>32]
	si := uint32(ent)
	return r, si, &r.st[si]
}

// stormDecide settles the heartbeats that timed out, and the holds that
// ended, in this timer step: first every newly silent device is counted,
// so that a gateway whose devices all time out in one step raises its
// alarm before any of theirs; then each device's own alarm is suppressed,
// held or raised.
func (e *Engine) stormDecide(now int64) {
	if len(e.missed) == 0 && len(e.held) == 0 {
		return
	}
	for _, ent := range e.missed {
		r, si, _ := e.entryState(ent)
		e.markSilent(r.handle(e, si), ent)
	}
	if len(e.dirty) > 0 {
		e.settleGroups(now)
	}
	for _, ent := range e.missed {
		if r, si, s := e.entryState(ent); s.phase&rsMask == rsMissed {
			e.decideMissing(r, si, s, now, true)
		}
	}
	for _, ent := range e.held {
		if r, si, s := e.entryState(ent); s.phase&rsMask == rsHeld {
			e.decideMissing(r, si, s, now, false)
		}
	}
	e.missed, e.held = e.missed[:0], e.held[:0]
}

// decideMissing suppresses, holds or raises a silent device's alarm.
func (e *Engine) decideMissing(r *ruleC, si uint32, s *ruleState, now int64, first bool) {
	h := r.handle(e, si)
	sd := e.silent[h]
	if g := e.coverer(h, sd); g != nil {
		s.phase = s.phase&^rsMask | rsSuppressed
		g.alarm.a.Suppressed++
		e.stats.Suppressed++
		e.touch(g.alarm, EventAlarmUpdated)
		return
	}
	if first && !e.opts.Storm.Disabled && e.eligible(sd) && e.hold(r, si, s, now) {
		return
	}
	e.raiseMissing(r, si, s, now)
}

// hold holds back a silent device's own alarm; false when the hold is
// zero.
func (e *Engine) hold(r *ruleC, si uint32, s *ruleState, now int64) bool {
	hold := int64(e.opts.Storm.Hold)
	if hold == 0 {
		hold = int64(float64(r.timeout(si)) / r.hbMult)
	}
	if hold <= 0 {
		return false
	}
	s.phase = s.phase&^rsMask | rsHeld
	s.due = now + hold
	e.queue(r, si, s.due, s.phase&rsQueued != 0)
	return true
}

func (e *Engine) raiseMissing(r *ruleC, si uint32, s *ruleState, now int64) {
	rec := e.deviceAlarm(r, si, now)
	rec.a.Status = AlarmActive
	rec.a.Severity = r.levels[0].sev
	rec.a.Since = time.Unix(0, s.since).UTC()
	rec.a.Raised = time.Unix(0, now).UTC()
	rec.a.Value = time.Duration(now - s.since).Seconds()
	rec.a.Note = fmt.Sprintf("%s for %s (timeout %s)", r.levels[0].text, time.Duration(now-s.since).Round(time.Second), time.Duration(r.timeout(si)).Round(time.Millisecond))
	s.alarm = rec.slot
	s.phase = s.phase&^rsMask | rsActive
	e.emit(rec, EventAlarmRaised, "", now)
}

// settleGroups raises and clears group alarms for the groups whose counts
// changed: gateways first, so that an area's alarm can see which of its
// silence gateway alarms explain.
func (e *Engine) settleGroups(now int64) {
	for _, kind := range [2]AlarmKind{AlarmGateway, AlarmArea} {
		for _, g := range e.dirty {
			if g.kind == kind {
				e.settle(g, now)
			}
		}
	}
	for _, g := range e.dirty {
		g.dirty = false
		if g.total <= 0 && g.silent <= 0 && g.alarm == nil {
			if g.kind == AlarmGateway {
				delete(e.gws, g.gw)
			} else {
				delete(e.areas, g.area)
			}
		}
	}
	clear(e.dirty)
	e.dirty = e.dirty[:0]
}

func (e *Engine) settle(g *alarmGroup, now int64) {
	st := &e.opts.Storm
	frac := st.GatewayFraction
	if g.kind == AlarmArea {
		frac = st.AreaFraction
	}
	clearFrac := st.ClearFraction
	if clearFrac == 0 {
		clearFrac = frac / 2
	}
	if g.alarm == nil {
		if g.total < st.MinDevices || g.silent == 0 || float64(g.silent) < frac*float64(g.total) {
			return
		}
		if g.kind == AlarmArea && !e.unexplained(g) {
			return
		}
		e.raiseGroup(g, now)
		return
	}
	rec := g.alarm
	if g.silent == 0 || float64(g.silent) < clearFrac*float64(g.total) {
		rec.a.Silent, rec.a.Monitored, rec.a.Value = g.silent, g.total, float64(g.silent)
		if rec.deferred == EventAlarmRaised {
			rec.deferred = "" // raised and cleared in one step: announce both
			e.emit(rec, EventAlarmRaised, "", now)
		}
		e.finish(rec, fmt.Sprintf("%d of %d devices silent", g.silent, g.total), now)
		g.alarm = nil
		e.release(g, now)
		return
	}
	if rec.a.Silent != g.silent || rec.a.Monitored != g.total {
		e.touch(rec, EventAlarmUpdated)
	}
}

// unexplained reports whether some of an area's silent devices are not
// covered by a gateway alarm.
func (e *Engine) unexplained(g *alarmGroup) bool {
	for h := range g.members {
		sd := e.silent[h]
		if sd == nil || sd.gw == nil || sd.gw.alarm == nil {
			if gg := e.gws[uint32(h)+1]; gg == nil || gg.alarm == nil {
				return true
			}
		}
	}
	return false
}

func (e *Engine) raiseGroup(g *alarmGroup, now int64) {
	var rec *alarmRec
	if g.kind == AlarmGateway {
		info, _ := e.reg.ruleDeviceInfo(Handle(g.gw - 1))
		rec = e.newAlarm(AlarmGateway, nil, info.grid, now)
		rec.a.Device, rec.a.Location = info.id, info.at
		rec.a.Note = fmt.Sprintf("gateway %s: devices behind it silent", info.id)
	} else {
		rec = e.newAlarm(AlarmArea, nil, region.Code(g.area), now)
		rec.a.Note = fmt.Sprintf("area %s: devices silent", g.area)
	}
	rec.group = g
	rec.a.Status = AlarmActive
	rec.a.Severity = e.opts.Storm.Severity
	rec.a.Since = time.Unix(0, now).UTC()
	rec.a.Raised = rec.a.Since
	g.alarm = rec
	e.touch(rec, EventAlarmRaised)
}

// release hands the devices a cleared group alarm stood for, and that no
// other group alarm covers, back to their own alarms: after a hold, so that
// those merely slower to report after the outage do not raise a storm of
// their own.
func (e *Engine) release(g *alarmGroup, now int64) {
	for h := range g.members {
		sd := e.silent[h]
		if sd == nil || e.coverer(h, sd) != nil {
			continue
		}
		for _, ent := range sd.entries {
			if r, si, s := e.entryState(ent); s.phase&rsMask == rsSuppressed && !e.hold(r, si, s, now) {
				e.raiseMissing(r, si, s, now)
			}
		}
	}
}

// touch defers the announcement of a group alarm's change to the end of
// the step, so that a storm publishes one event per group, not one per
// device.
func (e *Engine) touch(rec *alarmRec, event string) {
	switch rec.deferred {
	case "":
		rec.deferred = event
		e.touched = append(e.touched, rec)
	case EventAlarmUpdated:
		if event == EventAlarmRaised {
			rec.deferred = event
		}
	}
}

// announce publishes the deferred changes of group alarms.
func (e *Engine) announce(now int64) {
	for _, rec := range e.touched {
		ev := rec.deferred
		rec.deferred = ""
		if ev == "" || rec.slot == 0 {
			continue
		}
		g := rec.group
		if g == nil {
			e.emit(rec, ev, "", now)
			continue
		}
		rec.a.Silent, rec.a.Monitored, rec.a.Value = g.silent, g.total, float64(g.silent)
		if g.kind == AlarmGateway {
			rec.a.Note = fmt.Sprintf("gateway %s: %d of %d devices silent", rec.a.Device, g.silent, g.total)
		} else {
			rec.a.Note = fmt.Sprintf("area %s: %d of %d devices silent", g.area, g.silent, g.total)
		}
		// Counts move device by device in a storm and its recovery: the
		// record follows them, events only every tenth of the group.
		step := max(1, g.total/10)
		if ev == EventAlarmUpdated && alarmAbs(g.silent-rec.pubSilent) < step && rec.a.Suppressed-rec.pubSuppressed < step {
			continue
		}
		rec.pubSilent, rec.pubSuppressed = g.silent, rec.a.Suppressed
		e.emit(rec, ev, "", now)
	}
	clear(e.touched)
	e.touched = e.touched[:0]
}

func alarmAbs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
