package permit

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/google/uuid"
)

// Tracking is what the applicant sees at any time: who holds each item,
// its deadline, when the whole bundle is expected to finish, and the
// history.
type Tracking struct {
	Application uuid.UUID
	Template    string
	Name        string
	Status      Status
	Submitted   time.Time
	// Deadline is the bundle's SLA deadline; zero when the template sets
	// none or while the applicant holds it.
	Deadline time.Time
	// ExpectedFinish is when the bundle should be done if every department
	// takes its full time from now on: finished items count as they
	// finished, items in review at their deadlines, waiting items after
	// the items they need, a joint review when all its members can start.
	// For a draft it assumes submission now; for items sent back, that the
	// applicant answers now.
	ExpectedFinish time.Time
	Overdue        bool
	// Correction is the request awaiting the applicant, if any.
	Correction *Correction
	// Fees is the sum of the fees of the items not refused or cancelled:
	// what the applicant pays for the bundle.
	Fees    apd.Decimal
	Items   []ItemTracking
	History []Step
}

// ItemTracking is where one item stands, for the applicant.
type ItemTracking struct {
	Item       string
	Name       string
	Department string
	Status     ItemStatus
	// HeldBy is who must act now: the department, "applicant" when sent
	// back, "" when decided or waiting.
	HeldBy     string
	WaitingFor []string // items whose outputs it still needs
	Joint      string
	Round      int
	Deadline   time.Time
	Expected   time.Time // expected finish, as for Tracking.ExpectedFinish
	Overdue    bool
	Escalated  int
	Finished   time.Time
	Reasons    []string
	Fee        *apd.Decimal // nil when the item is free
}

// Track returns the applicant's view of an application. The applicant and
// the departments holding its items may read it.
func (s *Service) Track(ctx context.Context, id uuid.UUID) (Tracking, error) {
	a, err := s.Application(ctx, id)
	if err != nil {
		return Tracking{}, err
	}
	c, err := s.compiledTemplate(ctx, a.Template, a.TemplateVersion)
	if err != nil {
		return Tracking{}, err
	}
	now := s.now()
	tr := Tracking{
		Application: a.ID, Template: a.Template, Name: c.t.Name, Status: a.Status, Submitted: a.Submitted,
		Deadline: a.Deadline, History: a.History,
	}
	if corr, ok := a.OpenCorrection(); ok {
		tr.Correction = &corr
	}
	expected := s.expected(&a, c, now)
	for i, it := range a.Items {
		spec := &c.t.Items[i]
		ti := ItemTracking{
			Item: it.Item, Name: spec.Name, Department: it.Department, Status: it.Status, Joint: it.Joint,
			Round: it.Round, Deadline: it.Deadline, Expected: expected[i], Escalated: it.Escalated,
			Finished: it.Finished, Reasons: slices.Clone(it.Reasons),
		}
		switch it.Status {
		case ItemInReview:
			ti.HeldBy = it.Department
			ti.Overdue = !now.Before(it.Deadline)
		case ItemSentBack:
			ti.HeldBy = "applicant"
			if len(it.Marks) > 0 {
				ti.HeldBy = it.Department // held in a joint review that is still deciding
			}
		case ItemWaiting:
			for _, need := range spec.Needs {
				p := a.Items[c.producer[need]].Item
				if a.Items[c.producer[need]].Status != ItemApproved && !slices.Contains(ti.WaitingFor, p) {
					ti.WaitingFor = append(ti.WaitingFor, p)
				}
			}
		}
		if spec.Fee != nil {
			ti.Fee = new(apd.Decimal).Set(spec.Fee)
			if it.Status != ItemRejected && it.Status != ItemCancelled {
				// Adding finite decimals is exact at this precision.
				if _, err := feeContext.Add(&tr.Fees, &tr.Fees, spec.Fee); err != nil {
					return Tracking{}, fmt.Errorf("permit: fees of %s: %w", a.ID, err)
				}
			}
		}
		tr.Items = append(tr.Items, ti)
	}
	switch a.Status {
	case Completed, Rejected:
		tr.ExpectedFinish = a.Finished
	default:
		for i, it := range a.Items {
			if it.Status != ItemCancelled && expected[i].After(tr.ExpectedFinish) {
				tr.ExpectedFinish = expected[i]
			}
		}
	}
	tr.Overdue = !a.Deadline.IsZero() && !now.Before(a.Deadline)
	return tr, nil
}

// expected works out each item's expected finish. Joint reviews couple
// their members' starts, so it iterates to a fixed point; finishes only
// grow, and the graph has no cycles, so it ends.
func (s *Service) expected(a *Application, c *compiled, now time.Time) []time.Time {
	n := len(a.Items)
	fin := make([]time.Time, n)
	start := make([]time.Time, n)
	for i, it := range a.Items {
		switch it.Status {
		case ItemApproved, ItemRejected, ItemCancelled:
			fin[i] = it.Finished
		case ItemInReview:
			fin[i] = maxTime(it.Deadline, now)
		case ItemSentBack:
			at, err := s.cal.AddWorkingDuration(now, it.Remaining)
			if err != nil {
				at = now
			}
			fin[i] = at.UTC()
		}
	}
	for round := 0; round <= n+1; round++ {
		changed := false
		for _, i := range c.order {
			if a.Items[i].Status != ItemWaiting {
				continue
			}
			st := now
			for _, need := range c.t.Items[i].Needs {
				st = maxTime(st, fin[c.producer[need]])
			}
			if j := a.Items[i].Joint; j != "" {
				for _, m := range c.joints[j] {
					if a.Items[m].Status == ItemWaiting {
						st = maxTime(st, start[m])
					}
				}
			}
			if st.After(start[i]) {
				start[i] = st
				fin[i] = c.t.Items[i].SLA.After(s.cal, st)
				changed = true
			}
		}
		if !changed {
			break
		}
	}
	return fin
}

// feeContext adds fees: 34 digits hold any sum of yuan amounts exactly.
var feeContext = apd.Context{Precision: 34, MaxExponent: apd.MaxExponent, MinExponent: apd.MinExponent, Rounding: apd.RoundHalfEven, Traps: apd.DefaultTraps}
