package dispatch

import (
	"errors"
	"slices"
)

// Difference is a case whose routing a new rule set would change.
type Difference struct {
	Case   Case
	Before *Decision // nil if the old rules could not route it
	After  *Decision // nil if the new rules cannot route it
	// BeforeErr and AfterErr hold the routing errors, if any.
	BeforeErr, AfterErr error
}

// DryRun routes past cases through the current and the proposed rules and
// reports every case whose lead, co-handlers or error would change, so
// that a rule change is reviewed before it goes live.
func DryRun(current, proposed *Router, cases []Case) []Difference {
	var out []Difference
	for _, c := range cases {
		before, berr := current.Route(c)
		after, aerr := proposed.Route(c)
		if sameOutcome(&before, berr, &after, aerr) {
			continue
		}
		d := Difference{Case: c, BeforeErr: berr, AfterErr: aerr}
		if berr == nil {
			d.Before = &before
		}
		if aerr == nil {
			d.After = &after
		}
		out = append(out, d)
	}
	return out
}

func sameOutcome(a *Decision, aerr error, b *Decision, berr error) bool {
	if aerr != nil || berr != nil {
		return aerr != nil && berr != nil && errors.Is(berr, rootCause(aerr))
	}
	return a.Lead.Body.ID == b.Lead.Body.ID && slices.EqualFunc(a.Co, b.Co, func(x, y Assignment) bool {
		return x.Body.ID == y.Body.ID && x.Optional == y.Optional
	})
}

// rootCause returns the sentinel a routing error matches.
func rootCause(err error) error {
	for _, s := range []error{ErrNoRoute, ErrUnresolved, ErrInvalidCase, ErrInvalidRules} {
		if errors.Is(err, s) {
			return s
		}
	}
	return err
}
