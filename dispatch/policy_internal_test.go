package dispatch

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/govkit/govkit/region"
)

// byScan is the rule For implements, as a scan: the most specific
// category pattern wins, and for one pattern a policy for the tier beats
// one for every tier.
func byScan(ps []Policy, category string, tier region.Level) Policy {
	best, bestScore := DefaultPolicy, -1
	for _, p := range ps {
		if !patternMatches(p.Category, category) || (p.Tier != 0 && p.Tier != tier) {
			continue
		}
		score := catSpecificity(p.Category) * 2
		if p.Tier != 0 {
			score++
		}
		if score > bestScore {
			best, bestScore = p, score
		}
	}
	return best
}

// The indexed lookup picks what a scan of every policy would.
func TestPoliciesForMatchesAScan(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	tiers := []region.Level{0, region.City, region.District, region.Street, region.Grid}
	for trial := range 200 {
		var list []Policy
		seen := map[policyKey]bool{}
		for i := range r.IntN(40) {
			code := strconv.Itoa(100000 + r.IntN(900000))[:1+r.IntN(6)]
			pattern := code
			switch r.IntN(3) {
			case 0:
				pattern += "*"
			case 1:
				if r.IntN(4) == 0 {
					pattern = "*"
				}
			}
			tier := tiers[r.IntN(len(tiers))]
			if seen[policyKeyOf(pattern, tier)] {
				continue
			}
			seen[policyKeyOf(pattern, tier)] = true
			list = append(list, Policy{Category: pattern, Tier: tier, SignFor: time.Duration(i+1) * time.Minute,
				Complete: time.Hour, EscalateEvery: time.Hour})
		}
		ps, err := newPolicies(list)
		if err != nil {
			t.Fatal(err)
		}
		for range 50 {
			category := strconv.Itoa(100000 + r.IntN(900000))
			tier := tiers[r.IntN(len(tiers))]
			if got, want := ps.For(category, tier), byScan(list, category, tier); got != want {
				t.Fatalf("trial %d: For(%s, %v) = %+v, a scan gives %+v", trial, category, tier, got, want)
			}
		}
	}
}
