package permit

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/govkit/govkit/access"
)

// reviewerAuthz lets the item's department review: ActionReview on the
// application with the item's department, and never the applicant or the
// person applied for (access.ApplicantNotReviewer).
func (s *Service) reviewerAuthz(ctx context.Context, item string) func(a *Application, c *compiled) (string, error) {
	return func(a *Application, c *compiled) (string, error) {
		_, it := a.item(item)
		if it == nil {
			return "", badCommand("item", "application %s has no item %q", a.ID, item)
		}
		r := appResource(a)
		r.Department = it.Department
		actor, err := s.authorize(ctx, ActionReview, r)
		if err != nil {
			return "", err
		}
		applied := []string{a.Applicant}
		if a.OnBehalf != nil {
			applied = append(applied, a.OnBehalf.Principal)
		}
		if err := access.ApplicantNotReviewer.Check(actor, applied...); err != nil {
			return "", err
		}
		return actor, nil
	}
}

func (t *tx) inReview(item, action string) (int, *ItemState, error) {
	i, it := t.a.item(item)
	if it.Status != ItemInReview {
		return 0, nil, &TransitionError{What: fmt.Sprintf("item %s of application %s", item, t.a.ID), State: it.Status.String(), Action: action}
	}
	return i, it, nil
}

// Approval approves one item.
type Approval struct {
	Application uuid.UUID
	Item        string
	// Outputs are the values the item produces: every output the template
	// declares for it, and nothing else.
	Outputs map[string]Value
	// Confirm ticks checklist lines; every line of the item must be ticked
	// by this or an earlier approval (in a joint review, a shared line
	// ticked by one department counts for all).
	Confirm []string
	Note    string
	Key     string
	Version int64
}

// Approve approves an item in review, as its department. Its outputs feed
// the items waiting for them, which then go to their departments; when
// every item is done the bundle completes and all outputs are issued
// together in one "completed" event.
func (s *Service) Approve(ctx context.Context, r Approval) (Application, error) {
	return s.update(ctx, r.Application, r.Version, r.Key, s.reviewerAuthz(ctx, r.Item), func(t *tx) error {
		i, it, err := t.inReview(r.Item, "approve")
		if err != nil {
			return err
		}
		if len(r.Note) > 2000 {
			return badCommand("note", "longer than 2000 bytes")
		}
		spec := &t.c.t.Items[i]
		var errs formErrors
		outputs := map[string]Value{}
		for _, o := range spec.Outputs {
			v, ok := r.Outputs[o.ID]
			if !ok || v.IsZero() {
				errs.add("outputs."+o.ID, "required")
				continue
			}
			f, _ := t.c.outputSpec(o.ID)
			nv, why := normalise(f, v)
			if why != "" {
				errs.add("outputs."+o.ID, "%s", why)
				continue
			}
			outputs[o.ID] = nv
		}
		for _, k := range sortedKeys(r.Outputs) {
			if !slices.ContainsFunc(spec.Outputs, func(o Output) bool { return o.ID == k }) {
				errs.add("outputs."+k, "item %s produces no such output", r.Item)
			}
		}
		if err := errs.err(); err != nil {
			return err
		}
		for _, id := range r.Confirm {
			k := slices.IndexFunc(t.a.Checks, func(l CheckLine) bool { return l.ID == id && slices.Contains(l.Items, r.Item) })
			if k < 0 {
				return badCommand("confirm", "item %s has no checklist line %q", r.Item, id)
			}
			if !t.a.Checks[k].Confirmed {
				t.a.Checks[k].Confirmed, t.a.Checks[k].By, t.a.Checks[k].At = true, t.actor, t.now
			}
		}
		var open []string
		for _, l := range t.a.Checks {
			if slices.Contains(l.Items, r.Item) && !l.Confirmed {
				open = append(open, l.ID)
			}
		}
		if len(open) > 0 {
			return badCommand("confirm", "checklist lines not confirmed: %s", strings.Join(open, ", "))
		}
		it.Status, it.Finished, it.Reviewer, it.Outputs = ItemApproved, t.now, t.actor, outputs
		it.NextCheck, it.Reasons = time.Time{}, nil
		t.step("approved", r.Item, r.Note, nil)
		t.emit(Event{Event: "item-approved", Item: r.Item, Department: it.Department, Note: r.Note})
		t.advance()
		return nil
	})
}

// Rejection refuses one item.
type Rejection struct {
	Application uuid.UUID
	Item        string
	Reasons     []string // at least one, shown to the applicant
	Key         string
	Version     int64
}

// Reject refuses an item in review, with reasons. A required item refused
// refuses the bundle: the other items are cancelled and no output is
// issued. An optional item refused cancels the items that need its
// outputs.
func (s *Service) Reject(ctx context.Context, r Rejection) (Application, error) {
	return s.update(ctx, r.Application, r.Version, r.Key, s.reviewerAuthz(ctx, r.Item), func(t *tx) error {
		_, it, err := t.inReview(r.Item, "reject")
		if err != nil {
			return err
		}
		if len(r.Reasons) == 0 || len(r.Reasons) > 20 {
			return badCommand("reasons", "give 1–20 reasons")
		}
		for k, why := range r.Reasons {
			if !validText(why, 1000) {
				return badCommand(fmt.Sprintf("reasons[%d]", k), "required, at most 1000 bytes, no control characters")
			}
		}
		it.Status, it.Finished, it.Reviewer, it.Reasons = ItemRejected, t.now, t.actor, slices.Clone(r.Reasons)
		it.NextCheck = time.Time{}
		note := strings.Join(r.Reasons, "; ")
		t.step("rejected", r.Item, note, nil)
		t.emit(Event{Event: "item-rejected", Item: r.Item, Department: it.Department, Note: note})
		t.advance()
		return nil
	})
}

// SendBackRequest returns an item to the applicant for corrections.
type SendBackRequest struct {
	Application uuid.UUID
	Item        string
	// Marks are the exact fields (or "documents.<id>") to correct, each
	// with the reason; only the item's own fields and documents.
	Marks   map[string]string
	Key     string
	Version int64
}

// SendBack returns an item for corrections of exactly the marked fields.
// The item's clock stops. Outside a joint review the applicant is asked at
// once; in a joint review the marks are held until no member of the
// review is still deciding, and the applicant gets one merged request. A
// request already open with the applicant takes the new marks too, so one
// resubmission answers everything.
func (s *Service) SendBack(ctx context.Context, r SendBackRequest) (Application, error) {
	return s.update(ctx, r.Application, r.Version, r.Key, s.reviewerAuthz(ctx, r.Item), func(t *tx) error {
		i, it, err := t.inReview(r.Item, "send back")
		if err != nil {
			return err
		}
		spec := &t.c.t.Items[i]
		if len(r.Marks) == 0 || len(r.Marks) > 100 {
			return badCommand("marks", "mark 1–100 fields")
		}
		var errs formErrors
		var marks []Mark
		for _, f := range sortedKeys(r.Marks) {
			own := slices.Contains(spec.Fields, f)
			if d, ok := strings.CutPrefix(f, "documents."); ok {
				own = slices.Contains(spec.Documents, d)
			}
			switch {
			case !own:
				errs.add(f, "not a field or document of item %s", r.Item)
			case !validText(r.Marks[f], 500):
				errs.add(f, "the reason is required, at most 500 bytes")
			default:
				marks = append(marks, Mark{Item: r.Item, Field: f, Reason: r.Marks[f], By: t.actor})
			}
		}
		if err := errs.err(); err != nil {
			return err
		}
		it.Status, it.Reviewer, it.Marks = ItemSentBack, t.actor, marks
		it.Remaining = t.s.cal.WorkingDuration(t.now, it.Deadline)
		it.PausedAt, it.Deadline, it.NextCheck = t.now, time.Time{}, time.Time{}
		fields := sortedKeys(r.Marks)
		t.step("sent-back", r.Item, "", fields)
		t.emit(Event{Event: "item-sent-back", Item: r.Item, Department: it.Department, Fields: fields})
		if it.Joint == "" {
			t.requestCorrection([]int{i})
		}
		t.advance()
		return nil
	})
}

// Resubmission answers the open correction.
type Resubmission struct {
	Application uuid.UUID
	// Answers and Documents must cover every marked field and document,
	// and nothing else.
	Answers   map[string]Value
	Documents map[string]Document
	Key       string
	Version   int64
}

// Resubmit applies the corrections: exactly the marked fields and
// documents, each of them, validated. The items that sent them back return
// to review with their clocks resuming where they stopped, the bundle's
// clock resumes, and any approved item whose fields changed is reviewed
// again. The replaced answers are kept with the correction.
func (s *Service) Resubmit(ctx context.Context, r Resubmission) (Application, error) {
	return s.update(ctx, r.Application, r.Version, r.Key, s.applicantAuthz(ctx), func(t *tx) error {
		if err := t.requireStatus("resubmit", Returned); err != nil {
			return err
		}
		k := slices.IndexFunc(t.a.Corrections, func(c Correction) bool { return c.Resolved.IsZero() })
		corr := &t.a.Corrections[k]
		allowed := map[string]bool{}
		for _, m := range corr.Marks {
			allowed[m.Field] = true
		}
		var errs formErrors
		answers, docs := t.validateAnswers(&errs, r.Answers, r.Documents, allowed)
		for _, f := range sortedKeys(allowed) {
			d, isDoc := strings.CutPrefix(f, "documents.")
			if (isDoc && !hasKey(docs, d)) || (!isDoc && !hasKey(answers, f)) {
				errs.add(f, "marked for correction but not corrected")
			}
		}
		if err := errs.err(); err != nil {
			return err
		}
		corr.Previous = map[string]Answer{}
		var changed []string
		for f, v := range answers {
			if old, ok := t.a.Answers[f]; ok {
				corr.Previous[f] = old
			}
			t.a.Answers[f] = Answer{Value: v, Source: "applicant", At: t.now}
			changed = append(changed, f)
		}
		if t.a.Documents == nil {
			t.a.Documents = map[string]Document{}
		}
		for d, doc := range docs {
			t.a.Documents[d] = doc
			changed = append(changed, "documents."+d)
		}
		sort.Strings(changed)
		corr.Resolved = t.now
		t.resumeBundle()
		t.step("resubmitted", "", fmt.Sprintf("correction %d", corr.Seq), changed)
		t.emit(Event{Event: "resubmitted", Fields: changed, Deadline: t.a.Deadline})
		for i := range t.a.Items {
			it := &t.a.Items[i]
			switch {
			case it.Status == ItemSentBack && slices.Contains(corr.Items, it.Item):
				t.resumeItem(i)
			case it.Status == ItemApproved:
				spec := &t.c.t.Items[i]
				var touched []string
				for _, f := range changed {
					d, isDoc := strings.CutPrefix(f, "documents.")
					if (isDoc && slices.Contains(spec.Documents, d)) || (!isDoc && slices.Contains(spec.Fields, f)) {
						touched = append(touched, f)
					}
				}
				if len(touched) > 0 {
					t.reopenItem(i, touched)
				}
			}
		}
		t.advance()
		return nil
	})
}
