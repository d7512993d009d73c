package access

import (
	"context"
	"errors"
	"fmt"

	"github.com/govkit/govkit/region"
)

// ErrDenied is matched by the error of every denied decision.
var ErrDenied = errors.New("access: denied")

// Resource is what an action is about, described by what access depends on.
type Resource struct {
	Kind string // e.g. "incident", "work-order", "listing-code"
	ID   string // for the audit trail; optional
	// Jurisdiction is where the resource lies: a grid for an incident, a
	// street for a small shop. A resource without one is denied to
	// everybody, so give city-wide resources the city's code.
	Jurisdiction region.Code
	Department   string // the department that owns it, if any
	Owner        string // the actor ID that owns it (a citizen's report), if any
}

// Reason says why a decision went the way it did.
type Reason int8

// Reasons. Everything but Granted is a denial.
const (
	Granted           Reason = iota + 1
	NoActor                  // the context carries no actor
	InvalidActor             // the actor has no ID or no valid scope
	NoJurisdiction           // the resource has no jurisdiction
	OutOfJurisdiction        // the resource lies outside the actor's scope
	NoGrant                  // no role of the actor grants the action on the resource kind
	WrongDepartment          // a grant matched but is limited to the actor's department
	NotOwner                 // a grant matched but is limited to the actor's own resources
	AllowAllGranted          // allowed by AllowAll, with no policy consulted
	AuditFailed              // the decision could not be recorded, so it is refused
)

var reasonNames = [...]string{
	Granted: "granted", NoActor: "no actor", InvalidActor: "invalid actor",
	NoJurisdiction: "resource has no jurisdiction", OutOfJurisdiction: "outside the actor's jurisdiction",
	NoGrant: "no grant", WrongDepartment: "another department's resource", NotOwner: "not the actor's own resource",
	AllowAllGranted: "allow-all authorizer", AuditFailed: "the decision could not be audited",
}

// String returns the reason name.
func (r Reason) String() string {
	if r < Granted || r > AuditFailed {
		return fmt.Sprintf("Reason(%d)", int8(r))
	}
	return reasonNames[r]
}

// Decision is an authorizer's answer, with what it needs to explain itself.
type Decision struct {
	Allowed  bool
	Reason   Reason
	Action   string
	Resource Resource
	ActorID  string
	Scope    region.Code // the actor's scope when the decision was made
	Role     string      // the role whose grant decided it, if any
	Grant    *Grant      // that grant; nil when no grant applied
}

// Explain says in one line why the decision went the way it did.
func (d Decision) Explain() string {
	what := fmt.Sprintf("%s %s", d.Action, d.Resource.Kind)
	if d.Resource.ID != "" {
		what += " " + d.Resource.ID
	}
	switch d.Reason {
	case Granted:
		return fmt.Sprintf("allowed %s to %s in %s: role %s grants %s", d.ActorID, what, d.Resource.Jurisdiction, d.Role, d.Grant)
	case AllowAllGranted:
		return fmt.Sprintf("allowed %s to %s: allow-all authorizer", d.ActorID, what)
	case NoActor:
		return "denied " + what + ": no actor in context"
	case OutOfJurisdiction:
		return fmt.Sprintf("denied %s to %s: %s lies outside the actor's jurisdiction %s", d.ActorID, what, d.Resource.Jurisdiction, d.Scope)
	case WrongDepartment:
		return fmt.Sprintf("denied %s to %s: role %s grants %s, but the resource belongs to department %q", d.ActorID, what, d.Role, d.Grant, d.Resource.Department)
	case NotOwner:
		return fmt.Sprintf("denied %s to %s: role %s grants %s, but the resource is owned by someone else", d.ActorID, what, d.Role, d.Grant)
	}
	return fmt.Sprintf("denied %s to %s: %s", d.ActorID, what, d.Reason)
}

// Err returns nil for an allowed decision and a *DeniedError otherwise.
func (d Decision) Err() error {
	if d.Allowed {
		return nil
	}
	return &DeniedError{Decision: d}
}

// DeniedError carries a denial. It matches ErrDenied, and ErrNoActor when
// the context had no actor.
type DeniedError struct{ Decision Decision }

// Error describes the problem.
func (e *DeniedError) Error() string { return "access: " + e.Decision.Explain() }

// Unwrap lets errors.Is match ErrDenied (and ErrNoActor).
func (e *DeniedError) Unwrap() []error {
	if e.Decision.Reason == NoActor {
		return []error{ErrDenied, ErrNoActor}
	}
	return []error{ErrDenied}
}

// Authorizer decides whether the actor in ctx may perform action on r.
// Services take one when constructed and ask it before every change and
// every read of someone else's data.
type Authorizer interface {
	Authorize(ctx context.Context, action string, r Resource) Decision
}

// Check asks az and returns the decision's error: nil when allowed.
func Check(ctx context.Context, az Authorizer, action string, r Resource) error {
	return az.Authorize(ctx, action, r).Err()
}

// Authorize applies the policy: the actor must be in ctx and valid; the
// resource must lie within the actor's scope; and one of the actor's roles
// must grant the action on the resource's kind, with the grant's department
// and ownership limits satisfied. Anything else is denied.
func (p *Policy) Authorize(ctx context.Context, action string, r Resource) Decision {
	d := Decision{Action: action, Resource: r}
	a := actorFrom(ctx)
	if a == nil {
		d.Reason = NoActor
		return d
	}
	d.ActorID, d.Scope = a.ID, a.Scope
	switch {
	case a.ID == "" || a.Scope == "":
		d.Reason = InvalidActor
		return d
	case r.Jurisdiction == "":
		d.Reason = NoJurisdiction
		return d
	case !r.Jurisdiction.Within(a.Scope):
		d.Reason = OutOfJurisdiction
		return d
	}
	d.Reason = NoGrant
	for _, role := range a.Roles {
		if p.decide(&d, a, role, r.Kind, action) ||
			p.wild[role] && (p.decide(&d, a, role, r.Kind, Wildcard) ||
				p.decide(&d, a, role, Wildcard, action) ||
				p.decide(&d, a, role, Wildcard, Wildcard)) {
			return d
		}
	}
	return d
}

// decide tries the grants under one key; it records the closest denial in d
// and reports whether one allowed.
func (p *Policy) decide(d *Decision, a *Actor, role, kind, action string) bool {
	for _, g := range p.index[grantKey{role, kind, action}] {
		switch {
		case g.SameDepartment && d.Resource.Department != a.Department:
			d.Reason, d.Role, d.Grant = WrongDepartment, role, g
		case g.OwnOnly && d.Resource.Owner != a.ID:
			d.Reason, d.Role, d.Grant = NotOwner, role, g
		default:
			d.Allowed, d.Reason, d.Role, d.Grant = true, Granted, role, g
			return true
		}
	}
	return false
}

// allowAll is the authorizer that says yes to everything.
type allowAll struct{}

// AllowAll returns an authorizer that allows every action, still recording
// who acted. It exists for tests and single-user tools, so that an open
// service is always a visible choice in the code that builds it.
func AllowAll() Authorizer { return allowAll{} }

func (allowAll) Authorize(ctx context.Context, action string, r Resource) Decision {
	d := Decision{Allowed: true, Reason: AllowAllGranted, Action: action, Resource: r}
	if a := actorFrom(ctx); a != nil {
		d.ActorID, d.Scope = a.ID, a.Scope
	}
	return d
}
