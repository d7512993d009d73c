package dispatch

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/govkit/govkit/region"
)

// check runs when an order's NextCheck passes: an order not signed for by
// its SignBy reminds the on-duty supervisor of its body's unit, Reminders
// times; an order not done by its Deadline escalates one level up the
// hierarchy at a time, skipping units with nobody on duty. Everything is
// driven by the injected clock; nobody needs to poll.
func (s *Service) check(id uuid.UUID) {
	ctx := context.Background()
	for range maxAttempts {
		err := s.checkOnce(ctx, id)
		if !errors.Is(err, ErrConflict) {
			if err != nil {
				s.log.Warn("dispatch: escalation check", "order", id, "err", err)
			}
			return
		}
	}
}

func (s *Service) checkOnce(ctx context.Context, id uuid.UUID) error {
	o, err := s.store.Order(ctx, id)
	if err != nil {
		return err
	}
	now := s.now()
	if !o.Status.Open() || o.Suspended || o.NextCheck.IsZero() {
		return nil
	}
	if now.Before(o.NextCheck) {
		s.due.Add(id, o.NextCheck) // moved later by an extension or a resume
		return nil
	}
	body, _ := s.router.org.Body(o.Body)
	p := s.policies.For(o.Category, body.Tier())
	next := o.Clone()
	var (
		event, note string
		notes       []Notification
	)
	overdue := !o.Deadline.IsZero() && !now.Before(o.Deadline)
	switch {
	case overdue:
		unit, who := s.escalationTarget(&o, body)
		if unit == "" {
			next.NextCheck = time.Time{} // nobody left above: the top has been told
			event, note = EventEscalationExhausted, "no unit above has anybody on duty"
			break
		}
		next.EscalationLevel++
		next.EscalatedTo = unit
		next.NextCheck = s.after(now, p.EscalateEvery)
		event = EventEscalated
		note = fmt.Sprintf("not done by %s: escalated to %s (%s)", o.Deadline.Format(time.RFC3339), unit, unit.Level())
		for _, w := range who {
			notes = append(notes, Notification{Kind: NotifyEscalation, To: w, WorkOrder: o.ID.String(), Case: o.Case,
				Subject: fmt.Sprintf("overdue %s work order of %s, category %s", branchName(&o), o.Body, o.Category), Deadline: o.Deadline})
		}
	case o.Status == Offered && o.Reminders < p.Reminders:
		next.Reminders++
		next.NextCheck = s.after(now, p.RemindEvery)
		if next.NextCheck.IsZero() || (!o.Deadline.IsZero() && next.NextCheck.After(o.Deadline)) {
			next.NextCheck = o.Deadline
		}
		event = EventSignForOverdue
		note = fmt.Sprintf("not signed for by %s: reminder %d of %d", o.SignBy.Format(time.RFC3339), next.Reminders, p.Reminders)
		unit, who := s.onDutyFrom(s.bodyPath(&o), body.Jurisdiction, now, true)
		for _, w := range who {
			notes = append(notes, Notification{Kind: NotifyReminder, To: w, WorkOrder: o.ID.String(), Case: o.Case,
				Subject: fmt.Sprintf("%s has not signed for a %s work order (%s)", o.Body, o.Category, unit), Deadline: o.Deadline})
		}
	default:
		next.NextCheck = o.Deadline // reminders spent: wait for the deadline
		if next.NextCheck.Equal(o.NextCheck) {
			return nil
		}
	}
	next.Version++
	if event != "" {
		next.History = append(next.History, Step{Time: now, Actor: SystemActor, Action: event, From: o.Status, To: o.Status, Note: note})
	}
	ch := Change{Orders: []WorkOrder{next}}
	if event != "" {
		if err := s.event(&ch, &next, event, o.Status, SystemActor, note); err != nil {
			return err
		}
	}
	if err := s.store.Apply(ctx, ch); err != nil {
		return err
	}
	s.due.Add(id, next.NextCheck)
	for _, n := range notes {
		s.notify(ctx, n)
	}
	s.flush(ctx)
	return nil
}

// escalationTarget returns the next unit above the order's last escalation
// (or above its body's unit) that has somebody on duty, and who.
func (s *Service) escalationTarget(o *WorkOrder, body Body) (region.Code, []string) {
	from := o.EscalatedTo
	if from == "" {
		from = body.Jurisdiction
	}
	// Up the body's own chain: a street team of another district answers
	// to its district, not to the district of the case.
	return s.onDutyFrom(s.bodyPath(o), from, s.now(), false)
}

// onDutyFrom walks the case's path upwards from unit (including unit itself
// when self is true, otherwise starting one level above it) and returns the
// first unit with somebody on duty.
func (s *Service) onDutyFrom(path []region.Code, unit region.Code, at time.Time, self bool) (region.Code, []string) {
	level := unit.Level()
	for i := len(path) - 1; i >= 0; i-- {
		u := path[i]
		if u.Level() > level || (!self && u.Level() == level) {
			continue
		}
		if who := s.roster.OnDuty(u, at); len(who) > 0 {
			return u, who
		}
	}
	return "", nil
}

// Restore schedules the checks of the open orders in the store and
// publishes events a previous process left in the outbox. Call it once when
// a process starts on an existing store.
func (s *Service) Restore(ctx context.Context) error {
	q := OrderQuery{Statuses: []OrderStatus{Offered, SignedFor, InProgress}, Limit: 1000}
	for {
		p, err := s.store.Orders(ctx, q)
		if err != nil {
			return err
		}
		for _, o := range p.Orders {
			if !o.Suspended {
				s.due.Add(o.ID, o.NextCheck)
			}
		}
		if p.Next == uuid.Nil {
			break
		}
		q.After = p.Next
	}
	return s.Flush(ctx)
}
