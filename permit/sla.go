package permit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// check runs when an application's NextCheck passes: each item still in
// review past its deadline escalates — first to its own department's
// leadership, then to the template's Owner — again every EscalateEvery,
// up to MaxEscalations levels; the bundle's own deadline escalates to the
// Owner the same way. Driven by the injected clock; nobody polls.
func (s *Service) check(id uuid.UUID) {
	ctx := context.Background()
	for range 5 {
		err := s.checkOnce(ctx, id)
		if !errors.Is(err, ErrConflict) {
			if err != nil && !errors.Is(err, ErrNotFound) {
				s.log.Warn("permit: SLA check", "application", id, "err", err)
			}
			return
		}
	}
}

func (s *Service) checkOnce(ctx context.Context, id uuid.UUID) error {
	a, err := s.store.Application(ctx, id)
	if err != nil {
		return err
	}
	now := s.now()
	if !a.Status.Open() || a.NextCheck.IsZero() {
		return nil
	}
	if now.Before(a.NextCheck) {
		return nil // moved later meanwhile; the change that moved it scheduled it
	}
	c, err := s.compiledTemplate(ctx, a.Template, a.TemplateVersion)
	if err != nil {
		return err
	}
	next := a.Clone()
	t := &tx{s: s, a: &next, c: c, now: now, actor: SystemActor}
	changed := false
	for i := range next.Items {
		it := &next.Items[i]
		if it.Status != ItemInReview || it.NextCheck.IsZero() || now.Before(it.NextCheck) {
			continue
		}
		changed = true
		if now.Before(it.Deadline) { // a stale check: the clock was restarted
			it.NextCheck = it.Deadline
			continue
		}
		it.Escalated++
		it.EscalateTo = it.Department
		if it.Escalated > 1 {
			it.EscalateTo = c.t.Owner
		}
		it.NextCheck = time.Time{}
		if it.Escalated < s.cfg.MaxEscalations {
			it.NextCheck = s.cfg.EscalateEvery.After(s.cal, now)
		}
		note := fmt.Sprintf("not decided by %s: escalation %d to %s", it.Deadline.Format(time.RFC3339), it.Escalated, it.EscalateTo)
		t.step("item-escalated", it.Item, note, nil)
		t.emit(Event{Event: "item-escalated", Item: it.Item, Department: it.Department, Deadline: it.Deadline,
			Escalation: it.Escalated, EscalatedTo: it.EscalateTo, Note: note})
	}
	if bc := next.bundleCheck(); !bc.IsZero() && !now.Before(bc) {
		changed = true
		if now.Before(next.Deadline) {
			next.BundleCheck = next.Deadline
		} else {
			next.Escalations++
			next.BundleCheck = time.Time{}
			if next.Escalations < s.cfg.MaxEscalations {
				next.BundleCheck = s.cfg.EscalateEvery.After(s.cal, now)
			}
			note := fmt.Sprintf("bundle not done by %s: escalation %d to %s", next.Deadline.Format(time.RFC3339), next.Escalations, c.t.Owner)
			t.step("bundle-escalated", "", note, nil)
			t.emit(Event{Event: "bundle-escalated", Deadline: next.Deadline, Escalation: next.Escalations, EscalatedTo: c.t.Owner, Note: note})
		}
	}
	if !changed {
		return nil
	}
	next.Version++
	next.refreshNextCheck()
	if err := s.store.Apply(ctx, Change{Applications: []Application{next}, Events: t.events}); err != nil {
		return err
	}
	s.due.Add(id, next.NextCheck)
	s.flush(ctx)
	return nil
}
