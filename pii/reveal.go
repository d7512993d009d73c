package pii

import (
	"context"

	"github.com/govkit/govkit/access"
)

// ActionReveal is the action a policy grants to let an actor read personal
// data in full, e.g. {"action": "reveal-personal-data", "resource":
// "incident"} for the street officers who call reporters back.
const ActionReveal = "reveal-personal-data"

// Reveal returns the raw value if az allows the actor in ctx to perform
// ActionReveal on owner, the resource the data belongs to (the incident a
// citizen reported, in its grid), so that the policy's jurisdiction,
// department and ownership limits apply to personal data as to the
// resource itself. Otherwise it returns the denial's *access.DeniedError,
// which matches access.ErrDenied. A nil az denies.
//
// Reveal is the only way to the raw value; keep what it returns out of logs.
func (d Data) Reveal(ctx context.Context, az access.Authorizer, owner access.Resource) (string, error) {
	if az == nil {
		// Denied as a policy with no grants would deny it.
		dec := access.Decision{Reason: access.NoActor, Action: ActionReveal, Resource: owner}
		if a, err := access.ActorFrom(ctx); err == nil {
			dec.Reason, dec.ActorID, dec.Scope = access.NoGrant, a.ID, a.Scope
		}
		return "", dec.Err()
	}
	if err := access.Check(ctx, az, ActionReveal, owner); err != nil {
		return "", err
	}
	if d.p == nil {
		return "", nil
	}
	return *d.p.value, nil
}
