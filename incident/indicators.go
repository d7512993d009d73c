package incident

import (
	"context"
	"fmt"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/google/uuid"
	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/region"
)

// RepeatWindow is how long after a case closes that a new report of the
// same category nearby counts as a repeat case (重复案件).
const RepeatWindow = 30 * 24 * time.Hour

// Indicators are the evaluation figures of digital urban management for
// the cases reported in one period in one jurisdiction, computed from their
// timelines. Counts are given with the rates so that anyone can check them.
type Indicators struct {
	Within   region.Code
	From, To time.Time

	Reported   int // cases reported in the period (merged duplicates excluded)
	Duplicates int // reports merged into other cases
	Registered int // accepted as cases (立案)
	// RegisteredOnTime counts registrations before the register deadline.
	RegisteredOnTime int
	Closed           int // registered cases closed (结案), any resolution
	ClosedOnTime     int // closed with no phase late or overdue
	Reworked         int // cases verification sent back at least once
	Reworks          int // rework steps in all
	Reopened         int
	Repeats          int // cases reported within RepeatWindow of a closed case of the same category nearby
	Evaluated        int
	Satisfied        int // rated 4 or 5

	// Penalties counts the administrative penalties recorded on the cases
	// (whenever decided, merged duplicates included: a merge leaves a
	// penalty on the case it was decided on), and Fines sums their amounts
	// in yuan, exactly.
	Penalties int
	Fines     apd.Decimal

	// HandlingTime is the mean working time from registration to closure.
	HandlingTime time.Duration

	OnTimeRegistrationRate float64 // RegisteredOnTime ÷ Registered
	ClosureRate            float64 // Closed ÷ Registered (the cases due)
	OnTimeClosureRate      float64 // ClosedOnTime ÷ Closed
	ReworkRate             float64 // Reworked ÷ Closed
	RepeatRate             float64 // Repeats ÷ Reported
	SatisfactionRate       float64 // Satisfied ÷ Evaluated
	MeanRating             float64
}

// Indicators computes the indicators of the cases reported in [from, to)
// within the subtree of unit. The actor needs ActionIndicators there.
func (s *Service) Indicators(ctx context.Context, within region.Code, from, to time.Time) (Indicators, error) {
	out := Indicators{Within: within, From: from, To: to}
	out.Fines.SetFinite(0, -2) // 0.00 yuan, the scale of every fine
	if !to.After(from) {
		return out, fmt.Errorf("%w: the period must end after it starts", ErrInvalidQuery)
	}
	if d := s.az.Authorize(ctx, ActionIndicators, access.Resource{Kind: ResourceKind, Jurisdiction: within}); !d.Allowed {
		return out, d.Err()
	}
	// Read the period and the RepeatWindow before it, to find repeats.
	q := Query{Within: within, Since: from.Add(-RepeatWindow), Until: to, Limit: MaxLimit}
	closedNear := map[string]*geo.Index[uuid.UUID]{} // category → closed cases
	closedAt := map[uuid.UUID]time.Time{}
	var cohort []Incident
	for {
		page, err := s.store.Find(ctx, q)
		if err != nil {
			return out, err
		}
		for _, inc := range page.Incidents {
			if inc.Resolution != Duplicate && !inc.Times.Closed.IsZero() {
				if closedNear[inc.Category] == nil {
					closedNear[inc.Category] = &geo.Index[uuid.UUID]{}
				}
				_ = closedNear[inc.Category].Put(inc.ID, inc.Location.Point)
				closedAt[inc.ID] = inc.Times.Closed
			}
			if !inc.Times.Reported.Before(from) {
				cohort = append(cohort, inc)
			}
		}
		if page.Next == uuid.Nil {
			break
		}
		q.After = page.Next
	}

	var handling time.Duration
	ratings := 0
	for i := range cohort {
		inc := &cohort[i]
		for j := range inc.Penalties {
			out.Penalties++
			if _, err := fenContext.Add(&out.Fines, &out.Fines, &inc.Penalties[j].Amount); err != nil {
				return out, fmt.Errorf("incident %s: adding fine %s: %w", inc.ID, inc.Penalties[j].Decision, err)
			}
		}
		if inc.Resolution == Duplicate {
			out.Duplicates++
			continue
		}
		out.Reported++
		if s.isRepeat(inc, closedNear[inc.Category], closedAt) {
			out.Repeats++
		}
		tl, err := s.store.Timeline(ctx, inc.ID)
		if err != nil {
			return out, err
		}
		var registered, lateAny bool
		var registeredAt time.Time
		reworks := 0
		for _, e := range tl {
			switch {
			case e.To == Registered && (e.From == 0 || e.From == Reported || e.From == Triage) && !registered:
				registered, registeredAt = true, e.Time
				out.Registered++
				if !e.Late {
					out.RegisteredOnTime++
				}
				continue // its lateness counts for registration, not closure
			case e.Action == "rework":
				reworks++
			case e.Action == "reopen":
				out.Reopened++
			}
			if registered && (e.Late || e.Action == "overdue") {
				lateAny = true
			}
		}
		out.Reworks += reworks
		if !registered {
			continue
		}
		if (inc.Status == Closed || inc.Status == Evaluated) && !inc.Times.Closed.IsZero() {
			out.Closed++
			if !lateAny {
				out.ClosedOnTime++
			}
			if reworks > 0 {
				out.Reworked++
			}
			handling += s.cal.WorkingDuration(registeredAt, inc.Times.Closed)
		}
		if inc.Rating > 0 {
			out.Evaluated++
			ratings += inc.Rating
			if inc.Rating >= 4 {
				out.Satisfied++
			}
		}
	}
	ratio := func(a, b int) float64 {
		if b == 0 {
			return 0
		}
		return float64(a) / float64(b)
	}
	out.OnTimeRegistrationRate = ratio(out.RegisteredOnTime, out.Registered)
	out.ClosureRate = ratio(out.Closed, out.Registered)
	out.OnTimeClosureRate = ratio(out.ClosedOnTime, out.Closed)
	out.ReworkRate = ratio(out.Reworked, out.Closed)
	out.RepeatRate = ratio(out.Repeats, out.Reported)
	out.SatisfactionRate = ratio(out.Satisfied, out.Evaluated)
	out.MeanRating = ratio(ratings, out.Evaluated)
	if out.Closed > 0 {
		out.HandlingTime = handling / time.Duration(out.Closed)
	}
	return out, nil
}

// isRepeat reports whether a case of inc's category closed near it within
// RepeatWindow before it was reported.
func (s *Service) isRepeat(inc *Incident, closed *geo.Index[uuid.UUID], closedAt map[uuid.UUID]time.Time) bool {
	if closed == nil {
		return false
	}
	repeat := false
	closed.WithinFunc(inc.Location.Point, s.cfg.DuplicateRadius, func(h geo.Hit[uuid.UUID]) bool {
		at := closedAt[h.Key]
		if h.Key != inc.ID && at.Before(inc.Times.Reported) && inc.Times.Reported.Sub(at) <= RepeatWindow {
			repeat = true
			return false
		}
		return true
	})
	return repeat
}
