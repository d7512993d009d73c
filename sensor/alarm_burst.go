package sensor

import (
	"fmt"
	"math"
	"time"

	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/region"
)

// Spatial correlation (S4, a water-main burst): the devices on one asset
// that meet a correlated rule within its window raise one burst alarm.

type alarmBurstKey struct{ ri, asset uint32 }

// alarmBurst is one (rule, asset) and the devices that met the rule on
// it: waiting ones while no alarm is open, then the alarm's.
type alarmBurst struct {
	key     alarmBurstKey
	asset   string
	members []alarmBurstMember
	alarm   *alarmRec
}

type alarmBurstMember struct {
	si     uint32
	lvl    uint8
	active bool // still meets the rule (alarm open) or waiting
	w      float64
	id     string
	grid   region.Code
	at     geo.Point
}

func (b *alarmBurst) find(si uint32) int {
	for i := range b.members {
		if b.members[i].si == si {
			return i
		}
	}
	return -1
}

// burstOf returns the burst a state's device would belong to, creating
// it if create is set; nil for a device without an asset.
func (e *Engine) burstOf(r *ruleC, si uint32, create bool) (*alarmBurst, ruleInfo) {
	info, _ := e.reg.ruleDeviceInfo(r.handle(e, si))
	if info.assetID == 0 {
		return nil, info
	}
	key := alarmBurstKey{r.idx, info.assetID}
	b := e.bursts[key]
	if b == nil && create {
		b = &alarmBurst{key: key, asset: info.asset}
		e.bursts[key] = b
	}
	return b, info
}

// burstJoin hands a state whose qualifiers are met to its asset's burst;
// false if the device has no asset (it alarms on its own).
func (e *Engine) burstJoin(r *ruleC, si uint32, s *ruleState, v, delta float64, now int64) bool {
	b, info := e.burstOf(r, si, true)
	if b == nil {
		return false
	}
	if rec := e.alarmAt(s.alarm); rec != nil && rec.a.Status == AlarmPending {
		// the burst, or the device's own alarm after the window, stands for it
		rec.a.Status = AlarmCancelled
		e.emit(rec, EventAlarmCancelled, "", now)
		e.closeAlarm(rec)
		s.alarm = 0
	}
	lvl := &r.levels[s.lvl-1]
	w := lvl.excess(v, delta)
	if i := b.find(si); i >= 0 { // rejoining an open burst
		b.members[i].active, b.members[i].lvl, b.members[i].w = true, s.lvl, max(b.members[i].w, w)
	} else {
		b.members = append(b.members, alarmBurstMember{si: si, lvl: s.lvl, active: true, w: w, id: info.id, grid: info.grid, at: info.at})
	}
	if b.alarm != nil {
		s.alarm = b.alarm.slot
		s.phase = s.phase&^(rsMask|rsForMet) | rsActive
		e.burstRefresh(b, r)
		e.emit(b.alarm, EventAlarmUpdated, "", now)
		return true
	}
	if len(b.members) < r.corrMin {
		s.phase = s.phase&^(rsMask|rsForMet) | rsWait
		s.due = now + r.corrWin
		e.queue(r, si, s.due, true)
		return true
	}
	rec := e.newAlarm(AlarmBurst, r, "", now)
	rec.burst = b
	rec.a.Asset = b.asset
	rec.a.Status = AlarmActive
	rec.a.Raised = time.Unix(0, now).UTC()
	var since int64 = math.MaxInt64
	for _, m := range b.members {
		ms := &r.st[m.si]
		ms.alarm = rec.slot
		ms.phase = ms.phase&^(rsMask|rsForMet) | rsActive
		since = min(since, ms.since)
	}
	rec.a.Since = time.Unix(0, since).UTC()
	b.alarm = rec
	e.burstRefresh(b, r)
	e.emit(rec, EventAlarmRaised, "", now)
	return true
}

// burstRefresh recomputes a burst alarm from its members: the location is
// the centroid of their positions weighted by each one's excursion past
// the rule (see Alarm.Location), the severity the highest of those still
// meeting it, the grid the deepest unit holding them all.
func (e *Engine) burstRefresh(b *alarmBurst, r *ruleC) {
	rec := b.alarm
	var sw, lat, lon, peak float64
	var sev Severity
	grid := ""
	rec.a.Devices = rec.a.Devices[:0]
	for i, m := range b.members {
		w := m.w
		if w <= 0 || math.IsNaN(w) || math.IsInf(w, 0) {
			w = 1e-9
		}
		sw += w
		lat += w * m.at.Lat
		lon += w * m.at.Lon
		peak = max(peak, m.w)
		if m.active {
			sev = max(sev, r.levels[m.lvl-1].sev)
		}
		rec.a.Devices = append(rec.a.Devices, m.id)
		if i == 0 {
			grid = string(m.grid)
		} else {
			grid = commonGrid(grid, string(m.grid))
		}
	}
	if sw > 0 {
		rec.a.Location = geo.Point{Lat: lat / sw, Lon: lon / sw}
	}
	if sev != 0 {
		rec.a.Severity = sev
	}
	rec.a.Value = peak
	rec.a.Note = fmt.Sprintf("%d devices on %s within %s", len(b.members), b.asset, time.Duration(r.corrWin))
	if region.Code(grid) != rec.a.Grid {
		rec.a.Grid = region.Code(grid)
		rec.subject = e.subjectFor(rec.a.Grid)
	}
}

// commonGrid returns the deepest unit code containing both grids: the
// longest shared prefix cut to a unit length (15, 12, 9 or 6 digits), else
// the province-level code, else "".
func commonGrid(a, b string) string {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	for _, l := range [...]int{15, 12, 9, 6} {
		if n >= l {
			return a[:l]
		}
	}
	if n >= 2 && len(a) >= 6 {
		return a[:2] + "0000"
	}
	return ""
}

// burstLevel records a member's new level.
func (e *Engine) burstLevel(b *alarmBurst, r *ruleC, si uint32, lvl uint8, now int64) {
	if i := b.find(si); i >= 0 {
		b.members[i].lvl = lvl
	}
	old := b.alarm.a.Severity
	e.burstRefresh(b, r)
	if b.alarm.a.Severity != old {
		e.emit(b.alarm, EventAlarmUpdated, "", now)
	}
}

// burstLeave takes a state out of its burst when its condition stops or
// clears; the burst alarm clears when no member still meets the rule.
func (e *Engine) burstLeave(r *ruleC, si uint32, s *ruleState, now int64) {
	var b *alarmBurst
	if rec := e.alarmAt(s.alarm); rec != nil && rec.burst != nil {
		b = rec.burst
	} else {
		b, _ = e.burstOf(r, si, false)
	}
	s.alarm, s.cnt, s.lvl = 0, 0, 0
	s.phase = s.phase&^(rsMask|rsForMet) | rsIdle
	if b == nil {
		return
	}
	i := b.find(si)
	if i < 0 {
		return
	}
	if b.alarm == nil {
		b.members = append(b.members[:i], b.members[i+1:]...)
		if len(b.members) == 0 {
			delete(e.bursts, b.key)
		}
		return
	}
	b.members[i].active = false
	for _, m := range b.members {
		if m.active {
			old := b.alarm.a.Severity
			e.burstRefresh(b, r)
			if b.alarm.a.Severity != old {
				e.emit(b.alarm, EventAlarmUpdated, "", now)
			}
			return
		}
	}
	e.finish(b.alarm, "", now)
	delete(e.bursts, b.key)
}

// burstExpire ends a state's wait: no other device joined within the
// window, so it raises its own alarm.
func (e *Engine) burstExpire(r *ruleC, si uint32, s *ruleState, now int64) {
	if b, _ := e.burstOf(r, si, false); b != nil && b.alarm == nil {
		if i := b.find(si); i >= 0 {
			b.members = append(b.members[:i], b.members[i+1:]...)
		}
		if len(b.members) == 0 {
			delete(e.bursts, b.key)
		}
	}
	e.raiseValue(r, si, s, float64(s.lastV), now)
}
