package sim

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/codes"
	"github.com/govkit/govkit/dispatch"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/incident"
	"github.com/govkit/govkit/risk"
	"github.com/govkit/govkit/sensor"
)

// report takes a report in as actor and does the bookkeeping every report
// needs: what became of it, and, for a person's report or a doubtful
// machine's, the street centre's registration to come.
func (s *system) report(ctx context.Context, actor access.Actor, r incident.Report) {
	s.reports.Add(1)
	rec, err := s.incidents.Report(as(ctx, actor), r)
	switch {
	case err != nil:
		s.refused.Add(1)
		var re *incident.ReportError
		if !errors.As(err, &re) {
			s.fail("report "+r.Key, err)
		}
		return
	case rec.Replayed:
		s.replayed.Add(1)
		return
	case rec.MergedInto != uuid.Nil:
		s.autoMerged.Add(1)
		return
	}
	s.opened.Add(1)
	inc := rec.Incident
	if inc.Status == incident.Reported || inc.Status == incident.Triage {
		key := r.Key + "/register"
		delay := between(s.w.rnd(key), 2*time.Minute, 50*time.Minute)
		if s.w.rnd(key+"/late").Float64() < 0.08 {
			delay = between(s.w.rnd(key+"/late"), 60*time.Minute, 150*time.Minute) // a busy hour at the centre
		}
		s.sched.add(s.clk.Now().Add(delay), key, func(ctx context.Context) error { return s.register(ctx, inc.ID, key) })
	}
}

// register is the street centre's decision on a person's report, or on a
// machine's report in triage: merge it into the case it duplicates,
// register it (立案), or reject it.
func (s *system) register(ctx context.Context, id uuid.UUID, key string) error {
	inc, err := s.incidents.Store().Get(ctx, id)
	if err != nil {
		return err
	}
	if inc.Status != incident.Reported && inc.Status != incident.Triage {
		return nil
	}
	centre := as(ctx, s.w.gridOf(inc.Location.Grid()).street.centre)
	r := s.w.rnd(key)
	if inc.Status == incident.Triage {
		if r.Float64() < 0.35 {
			_, err = s.incidents.Reject(centre, id, "the camera's detection is not confirmed on the video")
			return err
		}
		_, err = s.incidents.Register(centre, id, "confirmed on the video")
		return err
	}
	sugg, err := s.incidents.Suggestions(centre, id)
	if err != nil {
		return err
	}
	if len(sugg) > 0 && sugg[0].Distance < 60 && sugg[0].Incident.Category == inc.Category {
		_, err := s.incidents.Merge(centre, sugg[0].ID, []uuid.UUID{id}, "the same problem, reported again")
		if err == nil || !errors.Is(err, access.ErrDenied) {
			return err
		}
		// The case it duplicates lies in another street: register this one.
	}
	if r.Float64() < 0.04 {
		_, err = s.incidents.Reject(centre, id, "not a matter for the city: referred to the property company")
		return err
	}
	_, err = s.incidents.Register(centre, id, "")
	return err
}

// caseKey returns the idempotency key of the first report of incident id:
// the stable name the simulation derives a case's randomness from.
func (s *system) caseKey(ctx context.Context, id string) (incident.Incident, string, error) {
	uid, err := uuid.Parse(id)
	if err != nil {
		return incident.Incident{}, "", err
	}
	inc, err := s.incidents.Store().Get(ctx, uid)
	if err != nil {
		return incident.Incident{}, "", err
	}
	if len(inc.Keys) == 0 {
		return inc, id, nil
	}
	return inc, inc.Keys[0], nil
}

// alarmDesk turns raised alarms into incidents: sensor → incident.
func (s *system) alarmDesk(ctx context.Context, m bus.Message) error {
	ev, err := sensor.DecodeAlarmEvent(m)
	if err != nil || ev.Event != sensor.EventAlarmRaised {
		return nil
	}
	a := ev.Alarm
	s.alarms.Add(1)
	s.count(a.Grid, func(st *streetStats) { st.alarms++ })
	cat, ok := ruleCategory[a.Rule]
	if !ok {
		return nil // gateway and area alarms are watched on the centre's screen
	}
	asset := a.Asset
	if asset == "" {
		asset = "device:" + a.Device
	}
	s.report(ctx, actorIoT, incident.Report{
		Key:     s.cfg.RunID + "alarm/" + a.Rule + "/" + asset + "/" + strconv.FormatInt(a.Since.UnixMilli(), 10),
		Channel: incident.SensorAlarm, Category: cat, Point: a.Location, Confidence: 0.95,
		Attributes:     map[string][]string{attrAsset: {asset}},
		Description:    fmt.Sprintf("%s alarm %s on %s", a.Severity, a.Rule, asset),
		ExternalSystem: "iot-platform", ExternalID: a.ID,
	})
	return nil
}

// dispatchDesk is where bodies see their work: offers are signed for by
// the nearest free responder, returned branches reassigned by the street
// centre, and a disposed case handed back to the incident side.
func (s *system) dispatchDesk(ctx context.Context, m bus.Message) error {
	if m.Headers["govkit-kind"] != "dispatch" {
		return nil
	}
	e, err := dispatch.DecodeEvent(m)
	if err != nil {
		return nil
	}
	switch e.Event {
	case "escalated", "sign-for-overdue":
		s.escalated.Add(1)
	case "offered":
		s.offers.Add(1)
		_, key, err := s.caseKey(ctx, e.Case)
		if err != nil {
			s.fail("offered", err)
			return nil
		}
		cf, err := s.dispatch.Store().CaseFile(ctx, e.Case)
		if err != nil {
			s.fail("offered", err)
			return nil
		}
		okey := fmt.Sprintf("%s/b%d/r%d", key, e.Branch, cf.Returns)
		r := s.w.rnd(okey)
		delay := between(r, time.Minute, 12*time.Minute)
		if c := s.w.cats[e.Category]; c != nil && c.signFor <= 10*time.Minute {
			delay = between(r, 30*time.Second, 4*time.Minute) // an emergency: the duty crew answers at once
		}
		if r.Float64() < 0.06 {
			delay = between(r, 20*time.Minute, 80*time.Minute) // the team is short-handed
		}
		id := e.Order
		s.sched.add(s.clk.Now().Add(delay), okey+"/sign", func(ctx context.Context) error { return s.signFor(ctx, id, okey) })
		if e.Branch == 0 && cf.Returns == 0 {
			caseID := e.Case
			s.sched.add(s.clk.Now(), key+"/dispatched", func(ctx context.Context) error { return s.markDispatched(ctx, caseID, e.Body) })
		}
	case "returned":
		_, key, err := s.caseKey(ctx, e.Case)
		if err != nil {
			s.fail("returned", err)
			return nil
		}
		rkey := fmt.Sprintf("%s/b%d/reassign", key, e.Branch)
		id := e.Order
		s.sched.add(s.clk.Now().Add(between(s.w.rnd(rkey), 10*time.Minute, 40*time.Minute)), rkey,
			func(ctx context.Context) error { return s.reassign(ctx, id) })
	case "case-disposed":
		_, key, err := s.caseKey(ctx, e.Case)
		if err != nil {
			s.fail("disposed", err)
			return nil
		}
		caseID := e.Case
		dkey := key + "/dispose"
		s.sched.add(s.clk.Now().Add(between(s.w.rnd(dkey), time.Minute, 10*time.Minute)), dkey,
			func(ctx context.Context) error { return s.dispose(ctx, caseID, key) })
	}
	return nil
}

// markDispatched records on the case that dispatch has sent it (派遣).
func (s *system) markDispatched(ctx context.Context, caseID, body string) error {
	inc, _, err := s.caseKey(ctx, caseID)
	if err != nil {
		return err
	}
	if inc.Status != incident.Registered {
		return nil
	}
	centre := s.w.gridOf(inc.Location.Grid()).street.centre
	_, err = s.incidents.MarkDispatched(as(ctx, centre), inc.ID, "to "+body)
	return err
}

// signFor has the nearest free responder of the order's body sign for it,
// or return it (退回) as not the body's matter, now and then.
func (s *system) signFor(ctx context.Context, id uuid.UUID, key string) error {
	o, err := s.dispatch.Store().Order(ctx, id)
	if err != nil {
		return err
	}
	if o.Status != dispatch.Offered {
		return nil
	}
	inc, _, err := s.caseKey(ctx, o.Case)
	if err != nil {
		return err
	}
	body := s.w.bodies[o.Body]
	r := s.w.rnd(key)
	cf, err := s.dispatch.Store().CaseFile(ctx, o.Case)
	if err != nil {
		return err
	}
	if o.Playbook == "" && cf.Returns == 0 && body.Function != fnFire && r.Float64() < 0.03 && !s.clk.Now().After(o.ReturnBy) {
		for _, c := range s.w.crews {
			if c.responder.Body == o.Body {
				_, err := s.dispatch.Return(as(ctx, c.actor), id, "not this body's matter: the site belongs to another unit")
				return err
			}
		}
	}
	cands, err := s.responders.Nearest(inc.Location.Point, body.Function, 1, func(st dispatch.ResponderState) bool { return st.Body == o.Body })
	if err != nil {
		return err
	}
	if len(cands) == 0 || s.responders.Assign(cands[0].State.ID) != nil {
		// Everyone is out: look again in ten minutes.
		again := key + "+"
		s.sched.add(s.clk.Now().Add(10*time.Minute), again+"/sign", func(ctx context.Context) error { return s.signFor(ctx, id, again) })
		return nil
	}
	who := cands[0].State.ID
	c := s.crews[who]
	if _, err := s.dispatch.SignFor(as(ctx, c.actor), id, ""); err != nil {
		_ = s.responders.Release(who)
		return err
	}
	arrive := s.clk.Now().Add(cands[0].ETA + 2*time.Minute)
	s.sched.add(arrive, key+"/arrive", func(ctx context.Context) error { return s.arrive(ctx, id, who, inc.Location.Point, key) })
	return nil
}

// stepWork is how long each step of the burst playbook takes.
var stepWork = map[string][2]time.Duration{
	"confirm": {15 * time.Minute, 30 * time.Minute}, "valve": {20 * time.Minute, 40 * time.Minute},
	"traffic": {60 * time.Minute, 120 * time.Minute}, "repair": {90 * time.Minute, 240 * time.Minute},
	"road": {40 * time.Minute, 90 * time.Minute},
}

// arrive: the responder reaches the scene and starts; the lead's start is
// the case's too.
func (s *system) arrive(ctx context.Context, id uuid.UUID, who string, at geo.Point, key string) error {
	c := s.crews[who]
	if err := s.responders.UpdatePosition(who, at, s.clk.Now()); err != nil {
		return err
	}
	o, err := s.dispatch.Start(as(ctx, c.actor), id, "on site")
	if err != nil {
		return err
	}
	if o.Branch == 0 {
		inc, _, err := s.caseKey(ctx, o.Case)
		if err != nil {
			return err
		}
		if inc.Status == incident.Dispatched {
			if _, err := s.incidents.Start(as(ctx, c.actor), inc.ID, "on site"); err != nil {
				return err
			}
		}
	}
	work := s.w.cats[o.Category].work
	if _, step, ok := strings.Cut(o.Playbook, "/"); ok {
		work = stepWork[step]
	}
	done := s.clk.Now().Add(between(s.w.rnd(key+"/work"), work[0], work[1]))
	s.sched.add(done, key+"/done", func(ctx context.Context) error {
		defer func() { _ = s.responders.Release(who) }()
		_, err := s.dispatch.Complete(as(ctx, c.actor), id, "done")
		return err
	})
	return nil
}

// reassign is the street centre's answer to a returned branch: another body.
func (s *system) reassign(ctx context.Context, id uuid.UUID) error {
	o, err := s.dispatch.Store().Order(ctx, id)
	if err != nil {
		return err
	}
	if o.Status != dispatch.Returned {
		return nil
	}
	g := s.w.gridOf(o.Grid())
	to := "urban-" + string(g.street.district)
	if o.Body == to {
		to = "enforce-" + string(g.street.code)
	}
	_, err = s.dispatch.Reassign(as(ctx, g.street.centre), id, to, "reassigned after the return")
	return err
}

// lead returns the lead branch's order of a case and its responder.
func (s *system) lead(ctx context.Context, caseID string) (dispatch.WorkOrder, *crew, error) {
	cf, err := s.dispatch.Store().CaseFile(ctx, caseID)
	if err != nil {
		return dispatch.WorkOrder{}, nil, err
	}
	var lead dispatch.WorkOrder
	for _, oid := range cf.Orders {
		o, err := s.dispatch.Store().Order(ctx, oid)
		if err != nil {
			return dispatch.WorkOrder{}, nil, err
		}
		if o.Branch == 0 && o.Status != dispatch.Cancelled && o.Status != dispatch.Returned {
			lead = o
		}
	}
	c := s.crews[lead.Responder]
	if c == nil {
		return lead, nil, fmt.Errorf("sim: case %s has no lead responder", caseID)
	}
	return lead, c, nil
}

// dispose records on the case that the handlers are done (处置完毕), and
// sends the grid member to verify.
func (s *system) dispose(ctx context.Context, caseID, key string) error {
	inc, _, err := s.caseKey(ctx, caseID)
	if err != nil {
		return err
	}
	_, c, err := s.lead(ctx, caseID)
	if err != nil {
		return err
	}
	hctx := as(ctx, c.actor)
	switch inc.Status {
	case incident.Registered:
		if _, err := s.incidents.MarkDispatched(as(ctx, s.w.gridOf(inc.Location.Grid()).street.centre), inc.ID, ""); err != nil {
			return err
		}
		fallthrough
	case incident.Dispatched:
		if _, err := s.incidents.Start(hctx, inc.ID, ""); err != nil {
			return err
		}
	case incident.InProgress:
	default:
		return nil
	}
	if _, err := s.incidents.Dispose(hctx, inc.ID, "handled: "+s.w.cats[inc.Category].name); err != nil {
		return err
	}
	s.scheduleVerify(inc.ID, key, inc.Reworks)
	return nil
}

func (s *system) scheduleVerify(id uuid.UUID, key string, round int) {
	vkey := fmt.Sprintf("%s/verify%d", key, round)
	s.sched.add(s.clk.Now().Add(between(s.w.rnd(vkey), 15*time.Minute, 90*time.Minute)), vkey,
		func(ctx context.Context) error { return s.verify(ctx, id, key, vkey) })
}

// verify is the grid member's check on site (核查): passed closes the case;
// otherwise the lead goes back for rework.
func (s *system) verify(ctx context.Context, id uuid.UUID, key, vkey string) error {
	inc, err := s.incidents.Store().Get(ctx, id)
	if err != nil {
		return err
	}
	if inc.Status != incident.Disposed {
		return nil
	}
	gm := as(ctx, s.w.gridOf(inc.Location.Grid()).member)
	if _, err := s.incidents.BeginVerification(gm, id, ""); err != nil {
		return err
	}
	passed := inc.Reworks > 0 || s.w.rnd(vkey).Float64() < 0.92
	note := "checked on site"
	if !passed {
		note = "the problem is still there"
	}
	if inc, err = s.incidents.Verify(gm, id, passed, note); err != nil {
		return err
	}
	if !passed {
		lead, c, err := s.lead(ctx, id.String())
		if err != nil {
			return err
		}
		if _, err := s.dispatch.Verify(gm, lead.ID, false, note); err != nil && !ignorable(err) {
			return err
		}
		rkey := vkey + "/rework"
		s.sched.add(s.clk.Now().Add(between(s.w.rnd(rkey), 30*time.Minute, 90*time.Minute)), rkey, func(ctx context.Context) error {
			hctx := as(ctx, c.actor)
			if _, err := s.dispatch.Complete(hctx, lead.ID, "reworked"); err != nil && !ignorable(err) {
				return err
			}
			inc, err := s.incidents.Dispose(hctx, id, "reworked")
			if err != nil {
				return err
			}
			s.scheduleVerify(id, key, inc.Reworks)
			return nil
		})
		return nil
	}
	s.closed.Add(1)
	cf, err := s.dispatch.Store().CaseFile(ctx, id.String())
	if err != nil {
		return err
	}
	for _, oid := range cf.Orders {
		o, err := s.dispatch.Store().Order(ctx, oid)
		if err != nil {
			return err
		}
		if o.Status == dispatch.Done {
			if _, err := s.dispatch.Verify(gm, oid, true, ""); err != nil {
				return err
			}
		}
	}
	// The citizen who reported it rates the outcome, often.
	if rep := inc.Reporters[0]; rep.Channel == incident.CitizenApp || rep.Channel == incident.Hotline {
		ekey := key + "/evaluate"
		r := s.w.rnd(ekey)
		if r.Float64() < 0.6 {
			rating := []int{5, 5, 5, 4, 4, 4, 3, 2}[r.IntN(8)]
			citizen := access.Actor{ID: rep.ActorID, Kind: access.Citizen, Scope: cityCode, Roles: []string{"citizen"}}
			s.sched.add(s.clk.Now().Add(between(r, 30*time.Minute, 4*time.Hour)), ekey, func(ctx context.Context) error {
				_, err := s.incidents.Evaluate(as(ctx, citizen), id, rating, "")
				return err
			})
		}
	}
	// A verified noise complaint about a listed room costs the room points:
	// incident → codes.
	if rooms := inc.Attributes[attrRoom]; inc.Category == catNoise && len(rooms) == 1 {
		sum := sha256.Sum256([]byte("incident:" + id.String()))
		_, err := s.codes.Deduct(as(ctx, actorCodes), codes.Points{Subject: rooms[0], Points: 15, Rule: "rental-noise",
			Evidence: codes.Evidence{Ref: "incident:" + id.String(), SHA256: sum}, Key: "incident:" + id.String(),
			Note: "verified noise complaint"})
		return err
	}
	return nil
}

// decodeHazard turns an incident event into a risk signal: a hazardous case
// raises the risk points within its radius to orange while it is open.
func (s *system) decodeHazard(m bus.Message) (risk.Observation, error) {
	if m.Headers["govkit-kind"] != "incident" {
		return risk.Observation{}, nil
	}
	ev := m.Headers["govkit-event"]
	if ev != incident.EventRegistered && ev != incident.EventClosed {
		return risk.Observation{}, nil
	}
	e, err := incident.DecodeEvent(m)
	if err != nil {
		return risk.Observation{}, nil
	}
	c := s.w.cats[e.Category]
	if c == nil || c.hazard == 0 {
		return risk.Observation{}, nil
	}
	return risk.Observation{Nearby: &risk.Nearby{
		Key: "incident:" + e.ID.String(), Point: geo.Point{Lat: e.Lat, Lon: e.Lon}, Radius: c.hazard,
		Colour: risk.Orange, Reason: c.name + " nearby", Closed: e.Event == incident.EventClosed,
		Until: e.Time.Add(24 * time.Hour),
	}}, nil
}

// riskBoard counts the risk points that live signals raise.
func (s *system) riskBoard(ctx context.Context, m bus.Message) error {
	e, err := risk.DecodeEvent(m)
	if err != nil || e.Colour <= e.Previous || len(e.Path) < 3 {
		return nil
	}
	s.count(e.Path[2], func(st *streetStats) { st.riskRaised++ })
	return nil
}
