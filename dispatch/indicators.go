package dispatch

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/google/uuid"
	"github.com/govkit/govkit/access"
)

// GroupBy chooses what indicators are computed for.
type GroupBy int8

// Groupings.
const (
	ByBody       GroupBy = iota + 1 // each team or department body
	ByDepartment                    // bodies sharing a Department
	ByGrid                          // the grid each case lies in
)

// Colour is a band of the five-colour evaluation map (五色图).
type Colour int8

// The five colours, best first.
const (
	Green Colour = iota + 1
	Blue
	Yellow
	Orange
	Red
)

// String returns the colour's name.
func (c Colour) String() string {
	switch c {
	case Green:
		return "green"
	case Blue:
		return "blue"
	case Yellow:
		return "yellow"
	case Orange:
		return "orange"
	case Red:
		return "red"
	}
	return fmt.Sprintf("Colour(%d)", int8(c))
}

// Scoring turns indicators into a 0–100 score and a colour: each rate is
// weighted (rework counts as 1 − rework rate, satisfaction as the mean
// rating ÷ 5), and the score falls in the first band whose Min it reaches.
type Scoring struct {
	AccurateDispatch, OnTimeSignFor, OnTimeCompletion, NoRework, Satisfaction float64
	// Bands from the best down; a score below every Min is Red.
	Bands []Band
}

// Band is one colour band: scores of at least Min get Colour.
type Band struct {
	Min    float64
	Colour Colour
}

// DefaultScoring weights the five rates equally; green from 90, blue from
// 80, yellow from 70, orange from 60, red below.
var DefaultScoring = Scoring{
	AccurateDispatch: 0.2, OnTimeSignFor: 0.2, OnTimeCompletion: 0.2, NoRework: 0.2, Satisfaction: 0.2,
	Bands: []Band{{90, Green}, {80, Blue}, {70, Yellow}, {60, Orange}},
}

func (sc Scoring) validate() error {
	sum := sc.AccurateDispatch + sc.OnTimeSignFor + sc.OnTimeCompletion + sc.NoRework + sc.Satisfaction
	for _, w := range []float64{sc.AccurateDispatch, sc.OnTimeSignFor, sc.OnTimeCompletion, sc.NoRework, sc.Satisfaction} {
		if w < 0 {
			return fmt.Errorf("%w: negative weight", ErrInvalidCommand)
		}
	}
	if sum < 0.999 || sum > 1.001 {
		return fmt.Errorf("%w: weights add up to %.3f, not 1", ErrInvalidCommand, sum)
	}
	for i := 1; i < len(sc.Bands); i++ {
		if sc.Bands[i].Min >= sc.Bands[i-1].Min {
			return fmt.Errorf("%w: bands must go from the highest Min down", ErrInvalidCommand)
		}
	}
	return nil
}

// Indicators are the evaluation figures of one body, department or grid,
// with the counts behind every rate.
type Indicators struct {
	Key          string // body ID, department or grid code
	Offered      int    // work orders offered
	Returned     int    // returned by the body: a routing miss
	Signed       int
	SignedOnTime int // signed for by the sign-for deadline
	Done         int // completed (done or verified)
	DoneOnTime   int // completed by the deadline
	Reworked     int // completed orders sent back at least once
	Evaluated    int
	RatingSum    int

	AccurateDispatchRate float64 // 1 − Returned ÷ Offered
	OnTimeSignForRate    float64 // SignedOnTime ÷ Signed
	OnTimeCompletionRate float64 // DoneOnTime ÷ Done
	ReworkRate           float64 // Reworked ÷ Done
	MeanRating           float64 // RatingSum ÷ Evaluated, 0 without ratings
	Score                float64 // 0–100 by the Scoring
	Colour               Colour
}

// Indicators computes indicators of the work orders matching q (Within,
// Since and Until on the offer time are the usual filters), grouped by
// body, department or grid, ranked by score, best first. With no
// evaluations, satisfaction counts as full, so units are not punished for
// citizens who did not rate. The actor needs ActionReadIndicators in
// q.Within (default: the actor's scope).
func (s *Service) Indicators(ctx context.Context, by GroupBy, q OrderQuery, sc Scoring) ([]Indicators, error) {
	if by < ByBody || by > ByGrid {
		return nil, fmt.Errorf("%w: unknown grouping %d", ErrInvalidCommand, by)
	}
	if err := sc.validate(); err != nil {
		return nil, err
	}
	if q.Within == "" {
		a, err := access.ActorFrom(ctx)
		if err != nil {
			return nil, (access.Decision{Reason: access.NoActor, Action: ActionReadIndicators}).Err()
		}
		q.Within = a.Scope
	}
	if _, err := s.authorize(ctx, ActionReadIndicators, access.Resource{Kind: ResourceKind, Jurisdiction: q.Within}); err != nil {
		return nil, err
	}
	groups := map[string]*Indicators{}
	q.Limit, q.After = 1000, uuid.Nil
	for {
		p, err := s.store.Orders(ctx, q)
		if err != nil {
			return nil, err
		}
		for i := range p.Orders {
			o := &p.Orders[i]
			if o.Status == Cancelled {
				continue // a reassignment's old order: counted by its replacement
			}
			key := s.groupKey(by, o)
			g := groups[key]
			if g == nil {
				g = &Indicators{Key: key}
				groups[key] = g
			}
			g.count(o)
		}
		if p.Next == uuid.Nil {
			break
		}
		q.After = p.Next
	}
	out := make([]Indicators, 0, len(groups))
	for _, g := range groups {
		g.rate(sc)
		out = append(out, *g)
	}
	slices.SortFunc(out, func(a, b Indicators) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		return cmp.Compare(a.Key, b.Key)
	})
	return out, nil
}

func (s *Service) groupKey(by GroupBy, o *WorkOrder) string {
	switch by {
	case ByDepartment:
		if b, err := s.router.org.Body(o.Body); err == nil && b.Department != "" {
			return b.Department
		}
		return o.Body
	case ByGrid:
		return string(o.Grid())
	}
	return o.Body
}

func (g *Indicators) count(o *WorkOrder) {
	g.Offered++
	if o.Status == Returned {
		g.Returned++
	}
	if !o.SignedAt.IsZero() {
		g.Signed++
		if o.SignBy.IsZero() || !o.SignedAt.After(o.SignBy) {
			g.SignedOnTime++
		}
	}
	if !o.DoneAt.IsZero() && o.Status.Finished() {
		g.Done++
		if o.Deadline.IsZero() || !o.DoneAt.After(o.Deadline) {
			g.DoneOnTime++
		}
		if o.Reworks > 0 {
			g.Reworked++
		}
	}
	if o.Rating > 0 {
		g.Evaluated++
		g.RatingSum += o.Rating
	}
}

func (g *Indicators) rate(sc Scoring) {
	ratio := func(a, b int, none float64) float64 {
		if b == 0 {
			return none
		}
		return float64(a) / float64(b)
	}
	g.AccurateDispatchRate = 1 - ratio(g.Returned, g.Offered, 0)
	g.OnTimeSignForRate = ratio(g.SignedOnTime, g.Signed, 1)
	g.OnTimeCompletionRate = ratio(g.DoneOnTime, g.Done, 1)
	g.ReworkRate = ratio(g.Reworked, g.Done, 0)
	g.MeanRating = ratio(g.RatingSum, g.Evaluated, 0)
	satisfaction := 1.0
	if g.Evaluated > 0 {
		satisfaction = g.MeanRating / 5
	}
	score := 100 * (sc.AccurateDispatch*g.AccurateDispatchRate + sc.OnTimeSignFor*g.OnTimeSignForRate +
		sc.OnTimeCompletion*g.OnTimeCompletionRate + sc.NoRework*(1-g.ReworkRate) + sc.Satisfaction*satisfaction)
	// Rounded to a millionth so that a score of exactly 90 by the rates is
	// not 89.99999999999999 by floating point, and falls in its band.
	g.Score = math.Round(score*1e6) / 1e6
	g.Colour = Red
	for _, b := range sc.Bands {
		if g.Score >= b.Min {
			g.Colour = b.Colour
			break
		}
	}
}
