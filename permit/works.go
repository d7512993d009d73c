package permit

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/region"
)

// maxWorks bounds the length of one excavation's window.
const maxWorks = 366 * 24 * time.Hour

func (s *Service) network() (*Network, error) {
	if s.cfg.Network == nil {
		return nil, fmt.Errorf("%w: road works need Config.Network", ErrInvalidCommand)
	}
	return s.cfg.Network, nil
}

// ExcavationRequest applies to dig a street.
type ExcavationRequest struct {
	// Key makes the call idempotent: the same key again returns the
	// excavation it created.
	Key      string
	Promoter string // the utility; the actor's department must match it
	Segment  string
	// Site is the stretch to dig; empty means the whole segment. Every
	// point must lie within the clash buffer of the segment.
	Site      geo.LineString
	Window    Window
	Emergency bool
	Purpose   string
}

// ExcavationReceipt says what became of an application to dig.
type ExcavationReceipt struct {
	Excavation Excavation
	Replayed   bool
	// Clashes are the works on file that would dig the same road in the
	// same period: candidates for a joint excavation.
	Clashes []Clash
}

// ApplyExcavation records an application to dig a segment, as a promoter's
// staff (ActionApplyWorks in the segment's jurisdiction, department =
// promoter). Planned works inside a moratorium are refused with a
// *MoratoriumError; emergencies are exempt. The receipt lists the works on
// file it clashes with, read from the store by segment and by place
// (ExcavationQuery.Near) rather than all at once; Coordinate groups them.
func (s *Service) ApplyExcavation(ctx context.Context, r ExcavationRequest) (ExcavationReceipt, error) {
	net, err := s.network()
	if err != nil {
		return ExcavationReceipt{}, err
	}
	if len(r.Key) > 256 {
		return ExcavationReceipt{}, badCommand("key", "longer than 256 bytes")
	}
	if r.Key != "" {
		if e, err := s.store.ExcavationByKey(ctx, r.Key); err == nil {
			return s.replayWorks(ctx, e)
		} else if !errors.Is(err, ErrNotFound) {
			return ExcavationReceipt{}, err
		}
	}
	now := s.now()
	e, err := s.validateWorks(net, r, now)
	if err != nil {
		return ExcavationReceipt{}, err
	}
	actor, err := s.authorize(ctx, ActionApplyWorks, access.Resource{Kind: ResourceRoadWorks, Jurisdiction: e.Jurisdiction, Department: e.Promoter})
	if err != nil {
		return ExcavationReceipt{}, err
	}
	if !e.Emergency {
		mp, err := s.store.Moratoria(ctx, MoratoriumQuery{Segment: e.Segment, During: e.Window, Limit: 1})
		if err != nil {
			return ExcavationReceipt{}, err
		}
		if len(mp.Moratoria) > 0 {
			m := mp.Moratoria[0]
			return ExcavationReceipt{}, &MoratoriumError{Segment: e.Segment, Moratorium: m.ID, Until: m.Until.Format(time.RFC3339), Cause: m.Cause}
		}
	}
	open, err := s.clashCandidates(ctx, &e)
	if err != nil {
		return ExcavationReceipt{}, err
	}
	x, err := NewClashIndex(s.cfg.Clash, open)
	if err != nil {
		return ExcavationReceipt{}, err
	}
	e.ID = uuid.Must(uuid.NewV7())
	e.Applicant, e.Submitted, e.Status, e.Version = actor, now, ExcavationApplied, 1
	clashes, err := x.Clashes(e)
	if err != nil {
		return ExcavationReceipt{}, err
	}
	ch := Change{Excavations: []Excavation{e}}
	note := ""
	if len(clashes) > 0 {
		note = fmt.Sprintf("clashes with %d works on file", len(clashes))
	}
	if err := s.appendEvent(&ch.Events, e.ID.String(), e.Jurisdiction, Event{Event: "works-applied", Excavation: e.ID,
		Segment: e.Segment, Promoter: e.Promoter, Status: e.Status.String(), Actor: actor, Note: note}); err != nil {
		return ExcavationReceipt{}, err
	}
	err = s.store.Apply(ctx, ch)
	if errors.Is(err, ErrDuplicateKey) {
		if held, e2 := s.store.ExcavationByKey(ctx, r.Key); e2 == nil {
			return s.replayWorks(ctx, held)
		}
	}
	if err != nil {
		return ExcavationReceipt{}, err
	}
	s.flush(ctx)
	return ExcavationReceipt{Excavation: e, Clashes: clashes}, nil
}

func (s *Service) replayWorks(ctx context.Context, e Excavation) (ExcavationReceipt, error) {
	if _, err := s.authorize(ctx, ActionApplyWorks, access.Resource{Kind: ResourceRoadWorks, ID: e.ID.String(), Jurisdiction: e.Jurisdiction, Department: e.Promoter}); err != nil {
		return ExcavationReceipt{}, err
	}
	return ExcavationReceipt{Excavation: e, Replayed: true}, nil
}

func (s *Service) validateWorks(net *Network, r ExcavationRequest, now time.Time) (Excavation, error) {
	if !validToken(r.Promoter, true) {
		return Excavation{}, badCommand("promoter", "required, as a token")
	}
	seg, ok := net.Segment(r.Segment)
	if !ok {
		return Excavation{}, badCommand("segment", "no segment %q in the network", r.Segment)
	}
	if err := s.knownUnit(seg.Jurisdiction, "segment.jurisdiction"); err != nil {
		return Excavation{}, err
	}
	site := slices.Clone(r.Site)
	if len(site) == 0 {
		site = seg.Line
	}
	if err := site.Validate(); err != nil {
		return Excavation{}, &CommandError{Field: "site", Reason: "invalid", Err: err}
	}
	for i, p := range site {
		if d := linesDistance(geo.LineString{p, p}, seg.Line); d > s.cfg.Clash.Buffer {
			return Excavation{}, badCommand(fmt.Sprintf("site[%d]", i), "lies %.0f m from segment %s (more than %.0f m)", d, seg.ID, s.cfg.Clash.Buffer)
		}
	}
	w := r.Window
	switch {
	case w.Start.IsZero() || !w.End.After(w.Start):
		return Excavation{}, badCommand("window", "needs a start before its end")
	case w.Duration() > maxWorks:
		return Excavation{}, badCommand("window", "longer than 366 days")
	case !r.Emergency && w.Start.Before(now.Add(-24*time.Hour)):
		return Excavation{}, badCommand("window.start", "planned works cannot start in the past")
	case len(r.Purpose) > 500 || strings.ContainsFunc(r.Purpose, func(c rune) bool { return c < ' ' }):
		return Excavation{}, badCommand("purpose", "at most 500 bytes, no control characters")
	}
	return Excavation{
		Key: r.Key, Promoter: r.Promoter, Segment: seg.ID, Site: site, Jurisdiction: seg.Jurisdiction,
		Window:    Window{Start: w.Start.UTC().Truncate(time.Microsecond), End: w.End.UTC().Truncate(time.Microsecond)},
		Emergency: r.Emergency, Purpose: r.Purpose,
	}, nil
}

// clashCandidates returns, in ID order, the open works that may clash
// with e: those on its segment, wherever they are, and those whose sites'
// boxes meet nearBox of e's site; of both, those whose windows overlap
// e's stretched by the slack. Every work the clash index would find
// clashing with e among all open works is one of them, so it finds the
// same clashes among these alone.
func (s *Service) clashCandidates(ctx context.Context, e *Excavation) ([]Excavation, error) {
	w := Window{Start: e.Window.Start.Add(-s.cfg.Clash.Slack), End: e.Window.End.Add(s.cfg.Clash.Slack)}
	same, err := s.openWorks(ctx, ExcavationQuery{Segment: e.Segment, During: w})
	if err != nil {
		return nil, err
	}
	near, err := s.openWorks(ctx, ExcavationQuery{Near: nearBox(e.Site, s.cfg.Clash.Buffer), During: w})
	if err != nil {
		return nil, err
	}
	return mergeByID(same, near), nil
}

// mergeByID merges two lists in ID order into one, each ID once.
func mergeByID(a, b []Excavation) []Excavation {
	out := make([]Excavation, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		switch c := compareUUID(a[0].ID, b[0].ID); {
		case c < 0:
			out, a = append(out, a[0]), a[1:]
		case c > 0:
			out, b = append(out, b[0]), b[1:]
		default:
			out, a, b = append(out, a[0]), a[1:], b[1:]
		}
	}
	return append(append(out, a...), b...)
}

// openWorks returns the works matching q (paging aside) in the given
// statuses, by default those not yet completed.
func (s *Service) openWorks(ctx context.Context, q ExcavationQuery, statuses ...ExcavationStatus) ([]Excavation, error) {
	if len(statuses) == 0 {
		statuses = []ExcavationStatus{ExcavationApplied, ExcavationProposed, ExcavationMerged}
	}
	q.Statuses, q.Limit = statuses, MaxLimit
	var out []Excavation
	for {
		p, err := s.store.Excavations(ctx, q)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Excavations...)
		if p.Next == uuid.Nil {
			return out, nil
		}
		q.After = p.Next
	}
}

// CoordinateRequest asks for the applied works of a unit and period to be
// coordinated.
type CoordinateRequest struct {
	Within region.Code
	During Window // zero: every open application
}

// Coordination is the outcome of Coordinate.
type Coordination struct {
	Joints       []JointExcavation // proposed, one per group of clashing works
	InMoratorium []MoratoriumHit   // applied works that now fall inside a moratorium
	Report       ClashReport
}

// Coordinate runs clash detection over the works applied for (not yet in a
// joint excavation) within a unit, and proposes a joint excavation for
// each group of clashing works, with a lead promoter: "related approvals
// reviewed once, dug once". It needs ActionCoordinate in the unit. The
// proposals and the members' new status are written atomically.
func (s *Service) Coordinate(ctx context.Context, r CoordinateRequest) (Coordination, error) {
	if err := s.knownUnit(r.Within, "within"); err != nil {
		return Coordination{}, err
	}
	if !r.During.Start.IsZero() && !r.During.End.After(r.During.Start) {
		return Coordination{}, badCommand("during", "needs a start before its end")
	}
	actor, err := s.authorize(ctx, ActionCoordinate, access.Resource{Kind: ResourceRoadWorks, Jurisdiction: r.Within})
	if err != nil {
		return Coordination{}, err
	}
	for attempt := 0; ; attempt++ {
		out, err := s.coordinateOnce(ctx, r, actor)
		if errors.Is(err, ErrConflict) && attempt < 3 {
			continue
		}
		return out, err
	}
}

func (s *Service) coordinateOnce(ctx context.Context, r CoordinateRequest, actor string) (Coordination, error) {
	works, err := s.openWorks(ctx, ExcavationQuery{During: r.During, Within: r.Within}, ExcavationApplied)
	if err != nil {
		return Coordination{}, err
	}
	var moratoria []Moratorium
	segs := map[string]bool{}
	for _, e := range works {
		if segs[e.Segment] {
			continue
		}
		segs[e.Segment] = true
		q := MoratoriumQuery{Segment: e.Segment, Limit: MaxLimit}
		for {
			p, err := s.store.Moratoria(ctx, q)
			if err != nil {
				return Coordination{}, err
			}
			moratoria = append(moratoria, p.Moratoria...)
			if p.Next == uuid.Nil {
				break
			}
			q.After = p.Next
		}
	}
	rep, err := DetectClashes(s.cfg.Clash, works, moratoria)
	if err != nil {
		return Coordination{}, err
	}
	byID := make(map[uuid.UUID]*Excavation, len(works))
	for i := range works {
		byID[works[i].ID] = &works[i]
	}
	now := s.now()
	var ch Change
	out := Coordination{InMoratorium: rep.InMoratorium, Report: rep}
	for _, g := range rep.Groups {
		j := JointExcavation{
			ID: uuid.Must(uuid.NewV7()), Members: g.Members, Promoters: g.Promoters, Lead: g.Lead, Segments: g.Segments,
			Window: g.Window, Emergency: g.Emergency, Status: JointProposed, Created: now, Version: 1,
		}
		var units []region.Code
		for _, id := range g.Members {
			e := byID[id]
			units = append(units, e.Jurisdiction)
			next := e.Clone()
			next.Status, next.Joint, next.Version = ExcavationProposed, j.ID, e.Version+1
			ch.Excavations = append(ch.Excavations, next)
		}
		j.Jurisdiction = commonUnit(units)
		j.Note = fmt.Sprintf("%d works of %s on %s, led by %s", len(j.Members), strings.Join(j.Promoters, ", "), strings.Join(j.Segments, ", "), j.Lead)
		ch.Joints = append(ch.Joints, j)
		out.Joints = append(out.Joints, j)
		if err := s.appendEvent(&ch.Events, j.ID.String(), j.Jurisdiction, Event{Event: "joint-proposed", Joint: j.ID, Members: j.Members,
			Promoter: j.Lead, Status: j.Status.String(), Actor: actor, Note: j.Note}); err != nil {
			return Coordination{}, err
		}
	}
	for _, h := range rep.InMoratorium {
		e := byID[h.Excavation]
		if err := s.appendEvent(&ch.Events, e.ID.String(), e.Jurisdiction, Event{Event: "works-in-moratorium", Excavation: e.ID,
			Moratorium: h.Moratorium, Segment: e.Segment, Promoter: e.Promoter, Actor: actor}); err != nil {
			return Coordination{}, err
		}
	}
	if len(ch.Joints) == 0 && len(ch.Events) == 0 {
		return out, nil
	}
	if err := s.store.Apply(ctx, ch); err != nil {
		return Coordination{}, err
	}
	s.flush(ctx)
	return out, nil
}

// updateJoint changes a joint excavation and its members in one write.
func (s *Service) updateJoint(ctx context.Context, id uuid.UUID, version int64, action string,
	fn func(j *JointExcavation, members []Excavation, actor string, now time.Time) (Event, []Moratorium, error)) (JointExcavation, error) {
	for attempt := 0; ; attempt++ {
		j, err := s.store.Joint(ctx, id)
		if err != nil {
			return JointExcavation{}, err
		}
		r := access.Resource{Kind: ResourceRoadWorks, ID: j.ID.String(), Jurisdiction: j.Jurisdiction}
		if action == ActionCompleteWorks {
			r.Department = j.Lead
		}
		actor, err := s.authorize(ctx, action, r)
		if err != nil {
			return JointExcavation{}, err
		}
		if version != 0 && j.Version != version {
			return JointExcavation{}, fmt.Errorf("%w: joint excavation %s is at version %d, not %d", ErrConflict, j.ID, j.Version, version)
		}
		members := make([]Excavation, 0, len(j.Members))
		for _, m := range j.Members {
			e, err := s.store.Excavation(ctx, m)
			if err != nil {
				return JointExcavation{}, err
			}
			members = append(members, e)
		}
		next := j.Clone()
		now := s.now()
		ev, moratoria, err := fn(&next, members, actor, now)
		if err != nil {
			return JointExcavation{}, err
		}
		next.Version++
		for i := range members {
			members[i].Version++
		}
		ch := Change{Joints: []JointExcavation{next}, Excavations: members, Moratoria: moratoria}
		ev.Joint, ev.Members, ev.Promoter, ev.Status, ev.Actor = next.ID, next.Members, next.Lead, next.Status.String(), actor
		if err := s.appendEvent(&ch.Events, next.ID.String(), next.Jurisdiction, ev); err != nil {
			return JointExcavation{}, err
		}
		for _, m := range moratoria {
			if err := s.appendEvent(&ch.Events, m.ID.String(), m.Jurisdiction, Event{Event: "moratorium-declared", Moratorium: m.ID,
				Segment: m.Segment, Joint: next.ID, Actor: actor, Note: m.Cause + " until " + m.Until.Format(time.DateOnly)}); err != nil {
				return JointExcavation{}, err
			}
		}
		err = s.store.Apply(ctx, ch)
		if errors.Is(err, ErrConflict) && version == 0 && attempt < 3 {
			continue
		}
		if err != nil {
			return JointExcavation{}, err
		}
		s.flush(ctx)
		return next, nil
	}
}

func jointState(j *JointExcavation, action string, want JointStatus) error {
	if j.Status != want {
		return &TransitionError{What: "joint excavation " + j.ID.String(), State: j.Status.String(), Action: action}
	}
	return nil
}

// AcceptJoint agrees a proposed joint excavation: its members are merged
// into one dig led by the lead promoter. It needs ActionCoordinate.
func (s *Service) AcceptJoint(ctx context.Context, id uuid.UUID, version int64) (JointExcavation, error) {
	return s.updateJoint(ctx, id, version, ActionCoordinate, func(j *JointExcavation, ms []Excavation, actor string, now time.Time) (Event, []Moratorium, error) {
		if err := jointState(j, "accept", JointProposed); err != nil {
			return Event{}, nil, err
		}
		j.Status, j.Decided = JointAgreed, now
		for i := range ms {
			ms[i].Status = ExcavationMerged
		}
		return Event{Event: "joint-agreed", Note: j.Note}, nil, nil
	})
}

// DissolveJoint refuses a proposed joint excavation, with a reason; its
// members go back to applied, each on its own.
func (s *Service) DissolveJoint(ctx context.Context, id uuid.UUID, reason string, version int64) (JointExcavation, error) {
	if !validText(reason, 1000) {
		return JointExcavation{}, badCommand("reason", "required, at most 1000 bytes")
	}
	return s.updateJoint(ctx, id, version, ActionCoordinate, func(j *JointExcavation, ms []Excavation, actor string, now time.Time) (Event, []Moratorium, error) {
		if err := jointState(j, "dissolve", JointProposed); err != nil {
			return Event{}, nil, err
		}
		j.Status, j.Decided, j.Note = JointDissolved, now, reason
		for i := range ms {
			ms[i].Status, ms[i].Joint = ExcavationApplied, uuid.Nil
		}
		return Event{Event: "joint-dissolved", Note: reason}, nil, nil
	})
}

// CompleteJoint records an agreed joint excavation as done and reinstated
// at at (zero: now), as the lead promoter; every segment it dug gets a
// moratorium of Config.MoratoriumYears at once.
func (s *Service) CompleteJoint(ctx context.Context, id uuid.UUID, at time.Time, version int64) (JointExcavation, error) {
	return s.updateJoint(ctx, id, version, ActionCompleteWorks, func(j *JointExcavation, ms []Excavation, actor string, now time.Time) (Event, []Moratorium, error) {
		if err := jointState(j, "complete", JointAgreed); err != nil {
			return Event{}, nil, err
		}
		done, err := s.completedAt(at, j.Window.Start, now)
		if err != nil {
			return Event{}, nil, err
		}
		j.Status, j.Decided = JointCompleted, done
		var units = map[string]region.Code{}
		for i := range ms {
			ms[i].Status, ms[i].Completed = ExcavationCompleted, done
			units[ms[i].Segment] = ms[i].Jurisdiction
		}
		var out []Moratorium
		for _, seg := range j.Segments {
			out = append(out, s.moratorium(seg, units[seg], done, "works", j.ID))
		}
		return Event{Event: "joint-completed"}, out, nil
	})
}

func (s *Service) completedAt(at, start, now time.Time) (time.Time, error) {
	if at.IsZero() {
		return now, nil
	}
	at = at.UTC().Truncate(time.Microsecond)
	if at.After(now) || at.Before(start) {
		return time.Time{}, badCommand("at", "works complete after they start and not in the future")
	}
	return at, nil
}

func (s *Service) moratorium(seg string, unit region.Code, from time.Time, cause string, works uuid.UUID) Moratorium {
	return Moratorium{
		ID: uuid.Must(uuid.NewV7()), Segment: seg, Jurisdiction: unit, From: from,
		Until: from.AddDate(s.cfg.MoratoriumYears, 0, 0), Cause: cause, Works: works, Version: 1,
	}
}

// CompleteExcavation records works dug on their own (not in a joint
// excavation) as done and reinstated at at (zero: now), as the promoter;
// the segment gets a moratorium of Config.MoratoriumYears at once.
func (s *Service) CompleteExcavation(ctx context.Context, id uuid.UUID, at time.Time, version int64) (Excavation, error) {
	for attempt := 0; ; attempt++ {
		e, err := s.store.Excavation(ctx, id)
		if err != nil {
			return Excavation{}, err
		}
		actor, err := s.authorize(ctx, ActionCompleteWorks, access.Resource{Kind: ResourceRoadWorks, ID: e.ID.String(), Jurisdiction: e.Jurisdiction, Department: e.Promoter})
		if err != nil {
			return Excavation{}, err
		}
		if version != 0 && e.Version != version {
			return Excavation{}, fmt.Errorf("%w: excavation %s is at version %d, not %d", ErrConflict, e.ID, e.Version, version)
		}
		if e.Status != ExcavationApplied {
			reason := ""
			if e.Joint != uuid.Nil {
				reason = "it belongs to joint excavation " + e.Joint.String() + "; complete that"
			}
			return Excavation{}, &TransitionError{What: "excavation " + e.ID.String(), State: e.Status.String(), Action: "complete", Reason: reason}
		}
		now := s.now()
		done, err := s.completedAt(at, e.Window.Start, now)
		if err != nil {
			return Excavation{}, err
		}
		next := e.Clone()
		next.Status, next.Completed, next.Version = ExcavationCompleted, done, e.Version+1
		m := s.moratorium(e.Segment, e.Jurisdiction, done, "works", e.ID)
		ch := Change{Excavations: []Excavation{next}, Moratoria: []Moratorium{m}}
		if err := s.appendEvent(&ch.Events, e.ID.String(), e.Jurisdiction, Event{Event: "works-completed", Excavation: e.ID,
			Segment: e.Segment, Promoter: e.Promoter, Status: next.Status.String(), Actor: actor}); err != nil {
			return Excavation{}, err
		}
		if err := s.appendEvent(&ch.Events, m.ID.String(), m.Jurisdiction, Event{Event: "moratorium-declared", Moratorium: m.ID,
			Segment: m.Segment, Excavation: e.ID, Actor: actor, Note: "works until " + m.Until.Format(time.DateOnly)}); err != nil {
			return Excavation{}, err
		}
		err = s.store.Apply(ctx, ch)
		if errors.Is(err, ErrConflict) && version == 0 && attempt < 3 {
			continue
		}
		if err != nil {
			return Excavation{}, err
		}
		s.flush(ctx)
		return next, nil
	}
}

// Resurface records that a segment was resurfaced at at (zero: now) and
// declares a moratorium of Config.MoratoriumYears on it. It needs
// ActionCoordinate in the segment's jurisdiction.
func (s *Service) Resurface(ctx context.Context, segment string, at time.Time) (Moratorium, error) {
	net, err := s.network()
	if err != nil {
		return Moratorium{}, err
	}
	seg, ok := net.Segment(segment)
	if !ok {
		return Moratorium{}, badCommand("segment", "no segment %q in the network", segment)
	}
	actor, err := s.authorize(ctx, ActionCoordinate, access.Resource{Kind: ResourceRoadWorks, ID: seg.ID, Jurisdiction: seg.Jurisdiction})
	if err != nil {
		return Moratorium{}, err
	}
	now := s.now()
	if at.IsZero() {
		at = now
	}
	at = at.UTC().Truncate(time.Microsecond)
	if at.After(now) {
		return Moratorium{}, badCommand("at", "resurfacing cannot be in the future")
	}
	m := s.moratorium(seg.ID, seg.Jurisdiction, at, "resurfaced", uuid.Nil)
	ch := Change{Moratoria: []Moratorium{m}}
	if err := s.appendEvent(&ch.Events, m.ID.String(), m.Jurisdiction, Event{Event: "moratorium-declared", Moratorium: m.ID,
		Segment: m.Segment, Actor: actor, Note: "resurfaced until " + m.Until.Format(time.DateOnly)}); err != nil {
		return Moratorium{}, err
	}
	if err := s.store.Apply(ctx, ch); err != nil {
		return Moratorium{}, err
	}
	s.flush(ctx)
	return m, nil
}

// MergeReport is the road zipper's figure: how many applications to dig
// were merged into joint excavations.
type MergeReport struct {
	Applications int // excavation applications in the unit and period
	Emergencies  int
	InJoint      int // in a joint excavation, proposed or agreed or done
	Merged       int // in an agreed or completed joint excavation
	Joints       int // agreed or completed joint excavations
	// Share is Merged / Applications: the share of applications merged.
	Share float64
	// DigsSaved is Merged - Joints: the times the road was not opened.
	DigsSaved int
}

// Merged reports the share of applications merged into joint excavations
// among the works within a unit whose windows overlap during (zero: all).
// It needs ActionRead on road works in the unit.
func (s *Service) Merged(ctx context.Context, within region.Code, during Window) (MergeReport, error) {
	if err := s.knownUnit(within, "within"); err != nil {
		return MergeReport{}, err
	}
	if !during.Start.IsZero() && !during.End.After(during.Start) {
		return MergeReport{}, badCommand("during", "needs a start before its end")
	}
	if _, err := s.authorize(ctx, ActionRead, access.Resource{Kind: ResourceRoadWorks, Jurisdiction: within}); err != nil {
		return MergeReport{}, err
	}
	works, err := s.openWorks(ctx, ExcavationQuery{During: during, Within: within}, ExcavationApplied, ExcavationProposed, ExcavationMerged, ExcavationCompleted)
	if err != nil {
		return MergeReport{}, err
	}
	var rep MergeReport
	joints := map[uuid.UUID]JointStatus{}
	for _, e := range works {
		rep.Applications++
		if e.Emergency {
			rep.Emergencies++
		}
		if e.Joint == uuid.Nil {
			continue
		}
		st, ok := joints[e.Joint]
		if !ok {
			j, err := s.store.Joint(ctx, e.Joint)
			if err != nil {
				return MergeReport{}, err
			}
			st = j.Status
			joints[e.Joint] = st
			if st == JointAgreed || st == JointCompleted {
				rep.Joints++
			}
		}
		rep.InJoint++
		if st == JointAgreed || st == JointCompleted {
			rep.Merged++
		}
	}
	if rep.Applications > 0 {
		rep.Share = float64(rep.Merged) / float64(rep.Applications)
	}
	rep.DigsSaved = rep.Merged - rep.Joints
	return rep, nil
}

// Excavation returns an excavation application to anyone with ActionRead
// on road works in its jurisdiction.
func (s *Service) Excavation(ctx context.Context, id uuid.UUID) (Excavation, error) {
	e, err := s.store.Excavation(ctx, id)
	if err != nil {
		return Excavation{}, err
	}
	if _, err := s.authorize(ctx, ActionRead, access.Resource{Kind: ResourceRoadWorks, ID: e.ID.String(), Jurisdiction: e.Jurisdiction}); err != nil {
		return Excavation{}, err
	}
	return e, nil
}
