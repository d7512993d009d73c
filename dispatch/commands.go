package dispatch

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/region"
)

const maxNote = 4000

func checkNote(field, note string, required bool) error {
	switch {
	case required && strings.TrimSpace(note) == "":
		return fmt.Errorf("%w: %s is required", ErrInvalidCommand, field)
	case len(note) > maxNote:
		return fmt.Errorf("%w: %s longer than 4000 bytes", ErrInvalidCommand, field)
	}
	return nil
}

// outcome is what a command did to one order, for its history and event.
type outcome struct {
	action string
	event  string
	note   string
	cf     *CaseFile // a changed case file to write with the order
	extra  []WorkOrder
	events []OrderEvent              // further events, such as case-disposed
	after  func(ctx context.Context) // runs after a successful write
}

const maxAttempts = 4

// command runs one change of one work order: read, authorize, let mutate
// change a copy, then write the order (and any case file it changed) with
// its history step and event. A concurrent change makes it retry.
func (s *Service) command(ctx context.Context, id uuid.UUID, action string, mutate func(o *WorkOrder, actor string, now time.Time) (outcome, error)) (WorkOrder, error) {
	var err error
	for range maxAttempts {
		var o WorkOrder
		o, err = s.commandOnce(ctx, id, action, mutate)
		if !errors.Is(err, ErrConflict) {
			return o, err
		}
	}
	return WorkOrder{}, err
}

func (s *Service) commandOnce(ctx context.Context, id uuid.UUID, action string, mutate func(o *WorkOrder, actor string, now time.Time) (outcome, error)) (WorkOrder, error) {
	cur, err := s.store.Order(ctx, id)
	if err != nil {
		return WorkOrder{}, err
	}
	actor, err := s.authorize(ctx, action, s.resource(ctx, &cur))
	if err != nil {
		return WorkOrder{}, err
	}
	next := cur.Clone()
	now := s.now()
	out, err := mutate(&next, actor, now)
	if err != nil {
		return WorkOrder{}, err
	}
	next.Version++
	next.History = append(next.History, Step{Time: now, Actor: actor, Action: out.action, From: cur.Status, To: next.Status, Note: out.note})
	ch := Change{Orders: append([]WorkOrder{next}, out.extra...)}
	if err := s.event(&ch, &next, out.event, cur.Status, actor, out.note); err != nil {
		return WorkOrder{}, err
	}
	for i := range out.extra {
		if err := s.event(&ch, &out.extra[i], EventOffered, 0, actor, out.note); err != nil {
			return WorkOrder{}, err
		}
	}
	for _, e := range out.events {
		if err := s.appendEvent(&ch, e.Case, e.Path, e); err != nil {
			return WorkOrder{}, err
		}
	}
	if out.cf != nil {
		ch.Cases = []CaseFile{*out.cf}
	}
	if err := s.store.Apply(ctx, ch); err != nil {
		return WorkOrder{}, err
	}
	s.due.Add(next.ID, next.NextCheck)
	for i := range out.extra {
		s.offered(ctx, &out.extra[i])
	}
	if out.after != nil {
		out.after(ctx)
	}
	s.flush(ctx)
	return next, nil
}

func refuse(o *WorkOrder, action, reason string) error {
	return &TransitionError{Order: o.ID, From: o.Status, Action: action, Reason: reason}
}

// SignFor records that the acting person signs for (签收) an offered order
// on behalf of its body; the person becomes the order's responder. A
// volunteer accepting a listed task signs for it the same way.
func (s *Service) SignFor(ctx context.Context, id uuid.UUID, note string) (WorkOrder, error) {
	if err := checkNote("note", note, false); err != nil {
		return WorkOrder{}, err
	}
	return s.command(ctx, id, ActionSignFor, func(o *WorkOrder, actor string, now time.Time) (outcome, error) {
		if o.Status != Offered {
			return outcome{}, refuse(o, "sign for", "")
		}
		o.Status, o.SignedAt, o.Responder = SignedFor, now, actor
		o.NextCheck = o.Deadline
		return outcome{action: "sign-for", event: EventSignedFor, note: note}, nil
	})
}

// Return declines an offered order (退回) with a reason, within the return
// window and never for a binding assignment. The case waits for the centre
// to reassign the branch; the MaxReturns-th return of a case sends it to the
// tier above the returning body for a binding assignment instead, and the
// working time lost to returns is recorded on the case file.
func (s *Service) Return(ctx context.Context, id uuid.UUID, reason string) (WorkOrder, error) {
	if err := checkNote("reason", reason, true); err != nil {
		return WorkOrder{}, err
	}
	return s.command(ctx, id, ActionSignFor, func(o *WorkOrder, actor string, now time.Time) (outcome, error) {
		switch {
		case o.Status != Offered:
			return outcome{}, refuse(o, "return", "only an order not yet signed for can be returned")
		case o.Binding:
			return outcome{}, refuse(o, "return", "a binding assignment cannot be returned")
		case !o.ReturnBy.IsZero() && now.After(o.ReturnBy):
			return outcome{}, refuse(o, "return", "the return window closed at "+o.ReturnBy.Format(time.RFC3339))
		}
		cf, err := s.store.CaseFile(ctx, o.Case)
		if err != nil {
			return outcome{}, err
		}
		o.Status, o.NextCheck = Returned, time.Time{}
		cf.Returns++
		cf.TimeLost += s.cal.WorkingDuration(o.Offered, now)
		cf.Version++
		out := outcome{action: "return", event: EventReturned, note: reason, cf: &cf}
		if cf.Returns >= s.cfg.MaxReturns {
			cf.BindingUnit = s.unitAbove(o)
			out.event = EventBindingRequired
			unit := cf.BindingUnit
			out.after = func(ctx context.Context) {
				for _, who := range s.roster.OnDuty(unit, now) {
					s.notify(ctx, Notification{Kind: NotifyEscalation, To: who, WorkOrder: o.ID.String(), Case: o.Case,
						Subject: fmt.Sprintf("case returned %d times: make a binding assignment", cf.Returns)})
				}
			}
		}
		return out, nil
	})
}

// unitAbove returns the unit one level above the order's body on the
// case's path: the centre that decides when the body's tier cannot.
func (s *Service) unitAbove(o *WorkOrder) region.Code {
	tier := region.Grid
	if b, err := s.router.org.Body(o.Body); err == nil {
		tier = b.Tier()
	}
	for i := len(o.Path) - 1; i >= 0; i-- {
		if o.Path[i].Level() < tier {
			return o.Path[i]
		}
	}
	return o.Path[0]
}

// Reassign gives a branch to another body: the order is cancelled (or, if
// returned, left as it is) and a new one is offered to body. A case sent up
// for a binding assignment is reassigned only by AssignBinding.
func (s *Service) Reassign(ctx context.Context, id uuid.UUID, body, note string) (WorkOrder, error) {
	return s.reassign(ctx, id, body, note, ActionReassign, false)
}

// AssignBinding is the tier above's decision on a case that was returned
// MaxReturns times: the branch goes to body and cannot be returned again.
// The actor needs ActionAssignBinding in the unit the case was sent to.
func (s *Service) AssignBinding(ctx context.Context, id uuid.UUID, body, note string) (WorkOrder, error) {
	return s.reassign(ctx, id, body, note, ActionAssignBinding, true)
}

func (s *Service) reassign(ctx context.Context, id uuid.UUID, body, note, action string, binding bool) (WorkOrder, error) {
	if err := checkNote("note", note, false); err != nil {
		return WorkOrder{}, err
	}
	if _, err := s.router.org.Body(body); err != nil {
		return WorkOrder{}, fmt.Errorf("%w: %w", ErrInvalidCommand, err)
	}
	var replacement WorkOrder
	_, err := s.command(ctx, id, ActionRead, func(o *WorkOrder, actor string, now time.Time) (outcome, error) {
		cf, err := s.store.CaseFile(ctx, o.Case)
		if err != nil {
			return outcome{}, err
		}
		switch {
		case o.Status != Returned && !o.Status.Open():
			return outcome{}, refuse(o, "reassign", "the branch is finished")
		case binding && cf.BindingUnit == "":
			return outcome{}, refuse(o, "assign bindingly", "the case was not sent up for a binding assignment")
		case !binding && cf.BindingUnit != "":
			return outcome{}, &TransitionError{Order: o.ID, From: o.Status, Action: "reassign",
				Reason: "the case awaits a binding assignment by " + string(cf.BindingUnit)}
		}
		jurisdiction := o.Grid()
		if binding {
			jurisdiction = cf.BindingUnit
		}
		r := s.resource(ctx, o)
		r.Jurisdiction = jurisdiction
		if _, err := s.authorize(ctx, action, r); err != nil {
			return outcome{}, err
		}
		if o.Status != Returned {
			o.Status = Cancelled
		}
		o.NextCheck = time.Time{}
		n := s.newOrder(Case{ID: o.Case, Category: o.Category, Path: o.Path}, body, o.Branch, o.Mandatory, now)
		n.Rule, n.Binding = o.Rule, binding
		n.History = []Step{{Time: now, Actor: actor, Action: "offer", To: Offered, Note: "reassigned from " + o.Body + ": " + note}}
		cf.Orders = append(cf.Orders, n.ID)
		if binding {
			cf.BindingUnit = ""
		}
		cf.Version++
		replacement = n
		return outcome{action: action, event: EventReassigned, note: note, cf: &cf, extra: []WorkOrder{n}}, nil
	})
	if err != nil {
		return WorkOrder{}, err
	}
	return replacement, nil
}

// Start records that the responder has begun the work.
func (s *Service) Start(ctx context.Context, id uuid.UUID, note string) (WorkOrder, error) {
	if err := checkNote("note", note, false); err != nil {
		return WorkOrder{}, err
	}
	return s.command(ctx, id, ActionHandle, func(o *WorkOrder, actor string, now time.Time) (outcome, error) {
		if o.Status != SignedFor {
			return outcome{}, refuse(o, "start", "sign for it first")
		}
		o.Status, o.StartedAt = InProgress, now
		return outcome{action: "start", event: EventStarted, note: note}, nil
	})
}

// Complete records that the branch's work is done. In a playbook case the
// steps waiting for this one are offered in the same write. When every
// mandatory branch (or playbook step) of the case is done, the case file is
// marked disposed and an EventCaseDisposed event tells the incident side.
func (s *Service) Complete(ctx context.Context, id uuid.UUID, note string) (WorkOrder, error) {
	if err := checkNote("note", note, false); err != nil {
		return WorkOrder{}, err
	}
	return s.command(ctx, id, ActionHandle, func(o *WorkOrder, actor string, now time.Time) (outcome, error) {
		if o.Status != InProgress {
			return outcome{}, refuse(o, "complete", "start it first")
		}
		o.Status, o.DoneAt, o.NextCheck = Done, now, time.Time{}
		out := outcome{action: "complete", event: EventDone, note: note}
		if o.Kind == Volunteer {
			return out, nil // a volunteer task has no case file
		}
		cf, err := s.store.CaseFile(ctx, o.Case)
		if err != nil {
			return outcome{}, err
		}
		before := len(cf.Orders)
		if cf.Playbook != nil {
			if err := s.continuePlaybook(ctx, o, &cf, actor, now, &out); err != nil {
				return outcome{}, err
			}
		}
		disposed, err := s.disposed(ctx, o, &cf, out.extra)
		if err != nil {
			return outcome{}, err
		}
		if disposed && !cf.Disposed {
			cf.Disposed, cf.DisposedAt = true, now
			if s.pub != nil {
				out.events = append(out.events, OrderEvent{Event: EventCaseDisposed, Case: cf.Case, Category: cf.Category, Path: cf.Path, Time: now})
			}
		}
		if len(cf.Orders) != before || disposed {
			cf.Version++
			out.cf = &cf
		}
		return out, nil
	})
}

// disposed reports whether, with o done and fresh orders just offered,
// every mandatory branch of the case is finished: for a playbook case,
// every mandatory step finished or skipped.
func (s *Service) disposed(ctx context.Context, o *WorkOrder, cf *CaseFile, fresh []WorkOrder) (bool, error) {
	if cf.Disposed {
		return false, nil
	}
	orders := map[uuid.UUID]*WorkOrder{o.ID: o}
	for i := range fresh {
		orders[fresh[i].ID] = &fresh[i]
	}
	get := func(id uuid.UUID) (*WorkOrder, error) {
		if w, ok := orders[id]; ok {
			return w, nil
		}
		w, err := s.store.Order(ctx, id)
		return &w, err
	}
	if run := cf.Playbook; run != nil {
		pb, ok := s.playbooks.version(run.ID, run.Version)
		if !ok {
			return false, fmt.Errorf("%w: playbook %s v%d is no longer loaded", ErrInvalidPlaybook, run.ID, run.Version)
		}
		for _, st := range pb.Steps {
			sr, seen := run.Steps[st.ID]
			switch {
			case st.Optional || sr.Skipped:
			case !seen:
				return false, nil
			default:
				w, err := get(sr.Order)
				if err != nil {
					return false, err
				}
				if !w.Status.Finished() {
					return false, nil
				}
			}
		}
		return true, nil
	}
	finished, mandatory := map[int]bool{}, map[int]bool{}
	for _, oid := range cf.Orders {
		w, err := get(oid)
		if err != nil {
			return false, err
		}
		if w.Mandatory {
			mandatory[w.Branch] = true
		}
		if w.Status.Finished() {
			finished[w.Branch] = true
		}
	}
	for b := range mandatory {
		if !finished[b] {
			return false, nil
		}
	}
	return true, nil
}

// Verify records a check of completed work: passed marks it verified,
// otherwise it goes back to the responder for rework. The verifier must not
// be the responder.
func (s *Service) Verify(ctx context.Context, id uuid.UUID, passed bool, note string) (WorkOrder, error) {
	if err := checkNote("note", note, !passed); err != nil {
		return WorkOrder{}, err
	}
	return s.command(ctx, id, ActionVerify, func(o *WorkOrder, actor string, now time.Time) (outcome, error) {
		if o.Status != Done {
			return outcome{}, refuse(o, "verify", "only done work can be verified")
		}
		if err := access.HandlerNotVerifier.Check(actor, o.Responder); err != nil {
			return outcome{}, err
		}
		if passed {
			o.Status = Verified
			return outcome{action: "verify", event: EventVerified, note: note}, nil
		}
		o.Status, o.Reworks = InProgress, o.Reworks+1
		o.NextCheck = o.Deadline
		return outcome{action: "rework", event: EventRework, note: note}, nil
	})
}

// ChaseUp sends a chase-up notice (催办) to the order's body: a push that
// changes nothing else.
func (s *Service) ChaseUp(ctx context.Context, id uuid.UUID, note string) (WorkOrder, error) {
	if err := checkNote("note", note, false); err != nil {
		return WorkOrder{}, err
	}
	return s.command(ctx, id, ActionChaseUp, func(o *WorkOrder, actor string, now time.Time) (outcome, error) {
		if !o.Status.Open() {
			return outcome{}, refuse(o, "chase up", "the order is not open")
		}
		o.ChaseUps++
		n := Notification{Kind: NotifyChaseUp, To: o.Body, WorkOrder: o.ID.String(), Case: o.Case, Subject: "chase-up: " + note, Deadline: o.Deadline}
		return outcome{action: "chase-up", event: EventChasedUp, note: note, after: func(ctx context.Context) { s.notify(ctx, n) }}, nil
	})
}

// Supervise puts the order under supervision (督办) by the acting superior:
// the body keeps the work, and knows it is watched. Supervision is not
// reassignment.
func (s *Service) Supervise(ctx context.Context, id uuid.UUID, note string) (WorkOrder, error) {
	if err := checkNote("note", note, true); err != nil {
		return WorkOrder{}, err
	}
	return s.command(ctx, id, ActionSupervise, func(o *WorkOrder, actor string, now time.Time) (outcome, error) {
		if !o.Status.Open() {
			return outcome{}, refuse(o, "supervise", "the order is not open")
		}
		o.Supervised, o.SupervisedBy = true, actor
		n := Notification{Kind: NotifySupervision, To: o.Body, WorkOrder: o.ID.String(), Case: o.Case, Subject: "supervision: " + note, Deadline: o.Deadline}
		return outcome{action: "supervise", event: EventSupervised, note: note, after: func(ctx context.Context) { s.notify(ctx, n) }}, nil
	})
}

// RequestExtension asks for extra working time on the deadline; a
// supervisor decides with DecideExtension.
func (s *Service) RequestExtension(ctx context.Context, id uuid.UUID, extra time.Duration, reason string) (WorkOrder, error) {
	if extra <= 0 || extra > 30*24*time.Hour {
		return WorkOrder{}, fmt.Errorf("%w: an extension is between 0 and 30 days of working time", ErrInvalidCommand)
	}
	if err := checkNote("reason", reason, true); err != nil {
		return WorkOrder{}, err
	}
	return s.command(ctx, id, ActionExtend, func(o *WorkOrder, actor string, now time.Time) (outcome, error) {
		if !o.Status.Open() {
			return outcome{}, refuse(o, "request an extension", "the order is not open")
		}
		for _, e := range o.Extensions {
			if !e.Decided {
				return outcome{}, refuse(o, "request an extension", "an earlier request is still pending")
			}
		}
		o.Extensions = append(o.Extensions, Extension{ID: uuid.Must(uuid.NewV7()), RequestedAt: now, RequestedBy: actor, Extra: extra, Reason: reason})
		return outcome{action: "request-extension", event: EventExtensionRequested, note: reason}, nil
	})
}

// DecideExtension approves or refuses the pending extension request. An
// approval moves the deadline by the extra working time. Whoever asked may
// not decide.
func (s *Service) DecideExtension(ctx context.Context, id uuid.UUID, approve bool, note string) (WorkOrder, error) {
	if err := checkNote("note", note, !approve); err != nil {
		return WorkOrder{}, err
	}
	return s.command(ctx, id, ActionApproveExtend, func(o *WorkOrder, actor string, now time.Time) (outcome, error) {
		i := slices.IndexFunc(o.Extensions, func(e Extension) bool { return !e.Decided })
		if i < 0 {
			return outcome{}, refuse(o, "decide an extension", "no request is pending")
		}
		e := &o.Extensions[i]
		if actor == "" || actor == e.RequestedBy {
			return outcome{}, &access.SeparationError{Rule: access.Separation{Name: "requester-not-approver", First: "request-extension", Second: "approve-extension"}, ActorID: actor}
		}
		e.Decided, e.Approved, e.DecidedBy, e.DecidedAt, e.Note = true, approve, actor, now, note
		event := EventExtensionRefused
		if approve {
			event = EventExtensionApproved
			o.Deadline = s.after(o.Deadline, e.Extra)
			if o.Status != Offered {
				o.NextCheck = o.Deadline
			}
		}
		return outcome{action: event, event: event, note: note}, nil
	})
}

// Suspend stops the order's clocks (挂起), for example while the road may
// not be dug in a storm; Resume moves every deadline on by the working time
// suspended.
func (s *Service) Suspend(ctx context.Context, id uuid.UUID, reason string) (WorkOrder, error) {
	if err := checkNote("reason", reason, true); err != nil {
		return WorkOrder{}, err
	}
	return s.command(ctx, id, ActionSuspend, func(o *WorkOrder, actor string, now time.Time) (outcome, error) {
		if !o.Status.Open() || o.Suspended {
			return outcome{}, refuse(o, "suspend", "only an open, running order can be suspended")
		}
		o.Suspended, o.SuspendedAt, o.NextCheck = true, now, time.Time{}
		return outcome{action: "suspend", event: EventSuspended, note: reason}, nil
	})
}

// Resume restarts a suspended order's clocks.
func (s *Service) Resume(ctx context.Context, id uuid.UUID, note string) (WorkOrder, error) {
	if err := checkNote("note", note, false); err != nil {
		return WorkOrder{}, err
	}
	return s.command(ctx, id, ActionSuspend, func(o *WorkOrder, actor string, now time.Time) (outcome, error) {
		if !o.Suspended {
			return outcome{}, refuse(o, "resume", "the order is not suspended")
		}
		if paused := s.cal.WorkingDuration(o.SuspendedAt, now); paused > 0 {
			for _, t := range []*time.Time{&o.SignBy, &o.ReturnBy, &o.Deadline} {
				if !t.IsZero() {
					*t = s.after(*t, paused)
				}
			}
		}
		o.Suspended, o.SuspendedAt = false, time.Time{}
		o.NextCheck = o.Deadline
		if o.Status == Offered {
			o.NextCheck = o.SignBy
		}
		return outcome{action: "resume", event: EventResumed, note: note}, nil
	})
}

// Evaluate rates finished work from 1 to 5, as citizens rate volunteers'
// tasks and centres rate departments' branches.
func (s *Service) Evaluate(ctx context.Context, id uuid.UUID, rating int, note string) (WorkOrder, error) {
	if rating < 1 || rating > 5 {
		return WorkOrder{}, fmt.Errorf("%w: a rating is 1 to 5", ErrInvalidCommand)
	}
	if err := checkNote("note", note, false); err != nil {
		return WorkOrder{}, err
	}
	return s.command(ctx, id, ActionEvaluate, func(o *WorkOrder, actor string, now time.Time) (outcome, error) {
		if !o.Status.Finished() {
			return outcome{}, refuse(o, "evaluate", "only finished work can be rated")
		}
		o.Rating = rating
		return outcome{action: "evaluate", event: EventEvaluated, note: note}, nil
	})
}

// Order returns a work order the actor may read.
func (s *Service) Order(ctx context.Context, id uuid.UUID) (WorkOrder, error) {
	o, err := s.store.Order(ctx, id)
	if err != nil {
		return WorkOrder{}, err
	}
	if _, err := s.authorize(ctx, ActionRead, s.resource(ctx, &o)); err != nil {
		return WorkOrder{}, err
	}
	return o, nil
}

// CaseFile returns a case's dispatch file if the actor may read it.
func (s *Service) CaseFile(ctx context.Context, caseID string) (CaseFile, error) {
	cf, err := s.store.CaseFile(ctx, caseID)
	if err != nil {
		return CaseFile{}, err
	}
	if _, err := s.authorize(ctx, ActionRead, access.Resource{Kind: ResourceKind, ID: caseID, Jurisdiction: cf.Path[len(cf.Path)-1]}); err != nil {
		return CaseFile{}, err
	}
	return cf, nil
}

// Orders returns one page of the work orders matching q that the actor may
// read; without q.Within it searches the actor's jurisdiction, except that
// the orders of a body serving within it (q.Body) are listed wherever
// their cases lie.
func (s *Service) Orders(ctx context.Context, q OrderQuery) (OrderPage, error) {
	if err := q.Validate(); err != nil {
		return OrderPage{}, err
	}
	if q.Within == "" {
		a, err := access.ActorFrom(ctx)
		if err != nil {
			return OrderPage{}, (access.Decision{Reason: access.NoActor, Action: ActionRead}).Err()
		}
		if b, err := s.router.org.Body(q.Body); q.Body == "" || err != nil || !b.Jurisdiction.Within(a.Scope) {
			q.Within = a.Scope
		}
	}
	p, err := s.store.Orders(ctx, q)
	if err != nil {
		return OrderPage{}, err
	}
	kept := p.Orders[:0]
	for i := range p.Orders {
		if _, err := s.authorize(ctx, ActionRead, s.resource(ctx, &p.Orders[i])); err == nil {
			kept = append(kept, p.Orders[i])
		}
	}
	p.Orders = kept
	return p, nil
}
