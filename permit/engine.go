package permit

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/govkit/govkit/bus"
)

// tx is one command on one application: a copy to change, the history and
// the events it writes.
type tx struct {
	s      *Service
	a      *Application
	c      *compiled
	now    time.Time
	actor  string
	events []bus.Message
}

func (t *tx) step(action, item, note string, fields []string) {
	t.a.History = append(t.a.History, Step{Time: t.now, Actor: t.actor, Action: action, Item: item, Note: note, Fields: slices.Clone(fields)})
}

func (t *tx) emit(e Event) {
	a := t.a
	e.Application, e.Template, e.TemplateVersion = a.ID, a.Template, a.TemplateVersion
	if e.Actor == "" {
		e.Actor = t.actor
	}
	if e.Status == "" {
		e.Status = a.Status.String()
	}
	e.Time = t.now
	if err := t.s.appendEvent(&t.events, a.ID.String(), a.Jurisdiction, e); err != nil {
		t.s.log.Error("permit: event not written", "event", e.Event, "err", err) // unreachable: the payload always encodes
	}
}

// update runs fn on a copy of the application and writes the result with
// its events. authz decides who acts, before anything else; a key already
// applied returns the application as it is. With version zero, a
// concurrent change makes it re-read and retry; with a version, the
// caller's view must be current or the call fails with ErrConflict.
func (s *Service) update(ctx context.Context, id uuid.UUID, version int64, key string,
	authz func(a *Application, c *compiled) (string, error), fn func(t *tx) error) (Application, error) {
	if len(key) > 256 {
		return Application{}, badCommand("key", "longer than 256 bytes")
	}
	for attempt := 0; ; attempt++ {
		a, err := s.store.Application(ctx, id)
		if err != nil {
			return Application{}, err
		}
		c, err := s.compiledTemplate(ctx, a.Template, a.TemplateVersion)
		if err != nil {
			return Application{}, err
		}
		actor, err := authz(&a, c)
		if err != nil {
			return Application{}, err
		}
		if a.seen(key) {
			return a, nil
		}
		if version != 0 && a.Version != version {
			return Application{}, fmt.Errorf("%w: application %s is at version %d, not %d", ErrConflict, a.ID, a.Version, version)
		}
		next := a.Clone()
		t := &tx{s: s, a: &next, c: c, now: s.now(), actor: actor}
		if err := fn(t); err != nil {
			return Application{}, err
		}
		next.remember(key)
		next.Version++
		next.refreshNextCheck()
		err = s.store.Apply(ctx, Change{Applications: []Application{next}, Events: t.events})
		if errors.Is(err, ErrConflict) && version == 0 && attempt < 4 {
			continue
		}
		if err != nil {
			return Application{}, err
		}
		s.due.Add(next.ID, next.NextCheck)
		s.flush(ctx)
		return next, nil
	}
}

// refreshNextCheck sets NextCheck to the earliest check of the bundle and
// its items.
func (a *Application) refreshNextCheck() {
	next := a.bundleCheck()
	for _, it := range a.Items {
		if it.Status == ItemInReview && !it.NextCheck.IsZero() && (next.IsZero() || it.NextCheck.Before(next)) {
			next = it.NextCheck
		}
	}
	if !a.Status.Open() {
		next = time.Time{}
	}
	a.NextCheck = next
}

// bundleCheck is when the bundle's own deadline next needs a look: the
// deadline, then once per escalation step.
func (a *Application) bundleCheck() time.Time {
	if a.Deadline.IsZero() || !a.PausedAt.IsZero() {
		return time.Time{}
	}
	return a.BundleCheck
}

func (t *tx) startItem(i int) {
	it, spec := &t.a.Items[i], &t.c.t.Items[i]
	it.Status, it.Round, it.Started = ItemInReview, it.Round+1, t.now
	it.Deadline = spec.SLA.After(t.s.cal, t.now)
	it.NextCheck, it.Escalated, it.EscalateTo = it.Deadline, 0, ""
	it.PausedAt, it.Remaining = time.Time{}, 0
	t.step("item-started", it.Item, "with "+it.Department, nil)
	t.emit(Event{Event: "item-started", Item: it.Item, Department: it.Department, Deadline: it.Deadline})
}

// resumeItem puts a sent-back item back in review; its clock resumes
// where it stopped.
func (t *tx) resumeItem(i int) {
	it := &t.a.Items[i]
	it.Status, it.Round, it.Started = ItemInReview, it.Round+1, t.now
	at, err := t.s.cal.AddWorkingDuration(t.now, it.Remaining)
	if err != nil {
		at = t.now
	}
	it.Deadline = at.UTC()
	it.NextCheck = it.Deadline
	it.PausedAt, it.Remaining, it.Marks = time.Time{}, 0, nil
	t.step("item-resumed", it.Item, "corrections received; back with "+it.Department, nil)
	t.emit(Event{Event: "item-resumed", Item: it.Item, Department: it.Department, Deadline: it.Deadline})
}

// reopenItem returns an approved item to review because fields it was
// approved on have changed. Its outputs stay until it is approved again.
func (t *tx) reopenItem(i int, fields []string) {
	it, spec := &t.a.Items[i], &t.c.t.Items[i]
	it.Status, it.Round, it.Started, it.Finished, it.Reviewer = ItemInReview, it.Round+1, t.now, time.Time{}, ""
	it.Deadline = spec.SLA.After(t.s.cal, t.now)
	it.NextCheck, it.Escalated, it.EscalateTo = it.Deadline, 0, ""
	for k := range t.a.Checks {
		if slices.Contains(t.a.Checks[k].Items, it.Item) {
			t.a.Checks[k].Confirmed, t.a.Checks[k].By, t.a.Checks[k].At = false, "", time.Time{}
		}
	}
	t.step("item-reopened", it.Item, "corrected fields it was approved on", fields)
	t.emit(Event{Event: "item-reopened", Item: it.Item, Department: it.Department, Deadline: it.Deadline, Fields: fields})
}

func (t *tx) cancelItem(i int, note string) {
	it := &t.a.Items[i]
	it.Status, it.Finished, it.Deadline, it.NextCheck = ItemCancelled, t.now, time.Time{}, time.Time{}
	it.PausedAt, it.Remaining, it.Marks = time.Time{}, 0, nil
	t.step("item-cancelled", it.Item, note, nil)
	t.emit(Event{Event: "item-cancelled", Item: it.Item, Department: it.Department, Note: note})
}

// ready reports whether every output item i needs has been produced.
func (t *tx) ready(i int) bool {
	for _, need := range t.c.t.Items[i].Needs {
		if t.a.Items[t.c.producer[need]].Status != ItemApproved {
			return false
		}
	}
	return true
}

// advance moves the application on after a change: it cancels items whose
// inputs were refused, starts the items whose inputs are ready (a joint
// review once all its waiting members are), issues a joint review's
// held send-backs once no member is still in review, and completes or
// refuses the bundle.
func (t *tx) advance() {
	a, c := t.a, t.c
	if a.Status != InReview && a.Status != Returned {
		return
	}
	for changed := true; changed; {
		changed = false
		for _, i := range c.order {
			if a.Items[i].Status != ItemWaiting {
				continue
			}
			for _, need := range c.t.Items[i].Needs {
				if p := &a.Items[c.producer[need]]; p.Status == ItemRejected || p.Status == ItemCancelled {
					t.cancelItem(i, fmt.Sprintf("input %s will not be produced: item %s was %s", need, p.Item, p.Status))
					changed = true
					break
				}
			}
		}
		for _, i := range c.order {
			it := &a.Items[i]
			if it.Status != ItemWaiting || !t.ready(i) {
				continue
			}
			if it.Joint == "" {
				t.startItem(i)
				changed = true
				continue
			}
			members := c.joints[it.Joint]
			if slices.ContainsFunc(members, func(m int) bool { return a.Items[m].Status == ItemWaiting && !t.ready(m) }) {
				continue // reviewed once: wait for every member
			}
			for _, m := range members {
				if a.Items[m].Status == ItemWaiting {
					t.startItem(m)
				}
			}
			changed = true
		}
	}
	names := make([]string, 0, len(c.joints))
	for name := range c.joints {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		members := c.joints[name]
		if slices.ContainsFunc(members, func(m int) bool { return a.Items[m].Status == ItemInReview }) {
			continue
		}
		var held []int
		for _, m := range members {
			if a.Items[m].Status == ItemSentBack && len(a.Items[m].Marks) > 0 {
				held = append(held, m)
			}
		}
		if len(held) > 0 {
			t.requestCorrection(held)
		}
	}
	t.conclude()
}

// requestCorrection sends the marks of items to the applicant, adding them
// to the open correction if there is one, and stops the bundle's clock.
func (t *tx) requestCorrection(items []int) {
	a := t.a
	k := slices.IndexFunc(a.Corrections, func(c Correction) bool { return c.Resolved.IsZero() })
	if k < 0 {
		a.Corrections = append(a.Corrections, Correction{Seq: len(a.Corrections) + 1, Requested: t.now})
		k = len(a.Corrections) - 1
	}
	corr := &a.Corrections[k]
	var fields []string
	for _, i := range items {
		it := &a.Items[i]
		if !slices.Contains(corr.Items, it.Item) {
			corr.Items = append(corr.Items, it.Item)
		}
		corr.Marks = append(corr.Marks, it.Marks...)
		for _, m := range it.Marks {
			if !slices.Contains(fields, m.Field) {
				fields = append(fields, m.Field)
			}
		}
		it.Marks = nil
	}
	if a.Status != Returned {
		a.Status = Returned
		if !a.Deadline.IsZero() {
			a.Remaining = t.s.cal.WorkingDuration(t.now, a.Deadline)
			a.PausedAt, a.Deadline = t.now, time.Time{}
		}
	}
	t.step("correction-requested", strings.Join(corr.Items, ","), fmt.Sprintf("correction %d", corr.Seq), fields)
	t.emit(Event{Event: "returned", Fields: fields, Note: fmt.Sprintf("correction %d: %s", corr.Seq, strings.Join(corr.Items, ", "))})
}

// resumeBundle restarts the bundle's clock when the applicant resubmits.
func (t *tx) resumeBundle() {
	a := t.a
	a.Status = InReview
	if a.PausedAt.IsZero() {
		return
	}
	at, err := t.s.cal.AddWorkingDuration(t.now, a.Remaining)
	if err != nil {
		at = t.now
	}
	a.Deadline, a.PausedAt, a.Remaining = at.UTC(), time.Time{}, 0
	if a.Escalations == 0 || a.BundleCheck.Before(a.Deadline) {
		a.BundleCheck = a.Deadline
	}
}

// conclude completes the bundle when every item is done and every required
// one approved, issuing all outputs together, or refuses it as soon as a
// required item is refused.
func (t *tx) conclude() {
	a := t.a
	var refused []string
	done := true
	for _, it := range a.Items {
		if it.Status == ItemRejected && !it.Optional {
			refused = append(refused, it.Item+": "+strings.Join(it.Reasons, "; "))
		}
		if !it.Status.Done() {
			done = false
		}
	}
	switch {
	case len(refused) > 0:
		for i := range a.Items {
			if !a.Items[i].Status.Done() {
				t.cancelItem(i, "the bundle was refused")
			}
		}
		a.Status, a.Finished = Rejected, t.now
		a.Deadline, a.BundleCheck, a.PausedAt, a.Remaining = time.Time{}, time.Time{}, time.Time{}, 0
		for k := range a.Corrections {
			if a.Corrections[k].Resolved.IsZero() {
				a.Corrections[k].Resolved = t.now // moot
			}
		}
		note := strings.Join(refused, " | ")
		t.step("rejected", "", note, nil)
		t.emit(Event{Event: "rejected", Note: note})
	case done:
		a.Outputs = map[string]Value{}
		for _, it := range a.Items {
			if it.Status == ItemApproved {
				for k, v := range it.Outputs {
					a.Outputs[k] = v.clone()
				}
			}
		}
		a.Status, a.Finished = Completed, t.now
		a.Deadline, a.BundleCheck = time.Time{}, time.Time{}
		ids := make([]string, 0, len(a.Outputs))
		for k := range a.Outputs {
			ids = append(ids, k)
		}
		sort.Strings(ids)
		t.step("completed", "", "outputs issued together: "+strings.Join(ids, ", "), nil)
		shown := make(map[string]string, len(a.Outputs))
		for k, v := range a.Outputs {
			shown[k] = v.String()
		}
		t.emit(Event{Event: "completed", Outputs: shown})
	}
}
