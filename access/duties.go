package access

import (
	"errors"
	"fmt"
	"slices"
)

// ErrSeparationOfDuties is matched when one actor would perform two duties
// that must be done by different people.
var ErrSeparationOfDuties = errors.New("access: separation of duties")

// Separation names two duties on one matter that one actor may not both
// perform: who handles a case does not verify it; who records a penalty
// does not decide its appeal.
type Separation struct {
	Name   string
	First  string // the duty performed earlier, e.g. "handle"
	Second string // the duty about to be performed, e.g. "verify"
}

// The separations govkit's packages enforce.
var (
	// HandlerNotVerifier: the verifier (核查) of a case is not its handler.
	HandlerNotVerifier = Separation{Name: "handler-not-verifier", First: "handle", Second: "verify"}
	// PenaltyNotAppeal: whoever records a penalty does not decide its appeal.
	PenaltyNotAppeal = Separation{Name: "penalty-not-appeal", First: "record-penalty", Second: "decide-appeal"}
	// ApplicantNotReviewer: nobody reviews an application they submitted.
	ApplicantNotReviewer = Separation{Name: "applicant-not-reviewer", First: "apply", Second: "review"}
)

// SeparationError says which separation was broken, and by whom.
type SeparationError struct {
	Rule    Separation
	ActorID string
}

// Error describes the problem.
func (e *SeparationError) Error() string {
	return fmt.Sprintf("access: %s may not %s: they already did %q on this matter (%s)",
		e.ActorID, e.Rule.Second, e.Rule.First, e.Rule.Name)
}

// Unwrap lets errors.Is(err, ErrSeparationOfDuties) match.
func (e *SeparationError) Unwrap() error { return ErrSeparationOfDuties }

// Check returns a *SeparationError if actorID, about to perform s.Second,
// is among firstActors, those who performed s.First on the same matter.
// An empty actorID is refused too: an anonymous second duty cannot be
// shown to be separate.
func (s Separation) Check(actorID string, firstActors ...string) error {
	if actorID == "" || slices.Contains(firstActors, actorID) {
		return &SeparationError{Rule: s, ActorID: actorID}
	}
	return nil
}
