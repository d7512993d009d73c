package dispatch

import (
	"fmt"
	"slices"
	"time"

	"github.com/govkit/govkit/region"
)

// Policy sets the clocks of work orders of a category at a tier, all in
// working time on the business calendar.
type Policy struct {
	// Category is a pattern as in Rule ("0203", "02*", "*"); Tier limits the
	// policy to bodies of one tier, or every tier when zero.
	Category string
	Tier     region.Level
	// SignFor is how long a body has to sign for (签收) an offered order.
	SignFor time.Duration
	// ReturnWindow is how long after the offer a body may still return
	// (退回) it; afterwards the order is its own.
	ReturnWindow time.Duration
	// Complete is how long the work may take, from the offer.
	Complete time.Duration
	// RemindEvery and Reminders: an order not signed for by its deadline
	// reminds the on-duty supervisor of the body's unit, every RemindEvery,
	// Reminders times.
	RemindEvery time.Duration
	Reminders   int
	// EscalateEvery: an order not done by its deadline escalates one level
	// up the hierarchy (grid → community → street → district → city) at
	// once and then every EscalateEvery, skipping levels with nobody on duty.
	EscalateEvery time.Duration
}

// DefaultPolicy applies where no policy matches: sign for within 2 working
// hours, return within 1, complete within 3 working days of 8 hours,
// 2 reminders 30 minutes apart, escalate every 2 working hours.
var DefaultPolicy = Policy{
	Category: "*", SignFor: 2 * time.Hour, ReturnWindow: time.Hour, Complete: 24 * time.Hour,
	RemindEvery: 30 * time.Minute, Reminders: 2, EscalateEvery: 2 * time.Hour,
}

// policies picks the most specific policy for a category and tier. They
// are filed by pattern and tier, so that a city with a policy per category
// and tier (tens of thousands) finds one in a dozen lookups, not a scan.
type policies map[policyKey]Policy

// policyKey files a policy: its pattern without the "*" ("" for "*"),
// whether it is a prefix, and its tier; a substring of the category then
// finds it without allocating.
type policyKey struct {
	cat    string
	prefix bool
	tier   region.Level
}

func policyKeyOf(pattern string, tier region.Level) policyKey {
	if p, ok := cutStar(pattern); ok {
		return policyKey{p, true, tier}
	}
	return policyKey{pattern, false, tier}
}

func newPolicies(ps []Policy) (policies, error) {
	out := make(policies, len(ps))
	for i, p := range ps {
		if err := checkPattern(p.Category); err != nil {
			return nil, fmt.Errorf("%w: policy %d: %w", ErrInvalidCommand, i, err)
		}
		if p.Tier < 0 || p.Tier > region.Grid {
			return nil, fmt.Errorf("%w: policy %d: unknown tier %d", ErrInvalidCommand, i, p.Tier)
		}
		if p.SignFor <= 0 || p.Complete <= 0 || p.ReturnWindow < 0 || p.RemindEvery < 0 || p.Reminders < 0 || p.EscalateEvery <= 0 {
			return nil, fmt.Errorf("%w: policy %d (%s): SignFor, Complete and EscalateEvery must be positive, the rest not negative", ErrInvalidCommand, i, p.Category)
		}
		k := policyKeyOf(p.Category, p.Tier)
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("%w: two policies for category %s at tier %s", ErrInvalidCommand, p.Category, p.Tier)
		}
		out[k] = p
	}
	return out, nil
}

// For returns the policy for category at tier: the most specific category
// pattern (the category itself, then its prefixes longest first, then
// "*"), and for one pattern a policy for the tier before one for every
// tier; DefaultPolicy when none applies.
func (ps policies) For(category string, tier region.Level) Policy {
	if len(ps) == 0 {
		return DefaultPolicy
	}
	find := func(cat string, prefix bool) (Policy, bool) {
		if p, ok := ps[policyKey{cat, prefix, tier}]; ok && tier != 0 {
			return p, true
		}
		p, ok := ps[policyKey{cat, prefix, 0}]
		return p, ok
	}
	if p, ok := find(category, false); ok {
		return p
	}
	for l := len(category); l >= 0; l-- { // l = 0 is "*"
		if p, ok := find(category[:l], true); ok {
			return p
		}
	}
	return DefaultPolicy
}

func patternMatches(pattern, category string) bool {
	if pattern == "*" {
		return true
	}
	if p, ok := cutStar(pattern); ok {
		return len(category) >= len(p) && category[:len(p)] == p
	}
	return pattern == category
}

func cutStar(pattern string) (string, bool) {
	if len(pattern) > 0 && pattern[len(pattern)-1] == '*' {
		return pattern[:len(pattern)-1], true
	}
	return pattern, false
}

// Roster says who is on duty to supervise a unit: the grid's grid member,
// the street centre's duty officer, the district centre's. Escalation skips
// units where nobody is.
type Roster interface {
	OnDuty(unit region.Code, at time.Time) []string
}

// StaticRoster is a Roster that does not change with time: unit → the actor
// IDs on duty there.
type StaticRoster map[region.Code][]string

// OnDuty implements Roster.
func (r StaticRoster) OnDuty(unit region.Code, _ time.Time) []string { return slices.Clone(r[unit]) }
