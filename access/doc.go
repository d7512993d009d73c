// Package access decides who may do what, where: the actors of city
// governance, jurisdiction-scoped permissions, and separation of duties.
//
// A street centre must not touch another district's cases; a citizen sees
// only their own reports; an inspector acts only on authorised tasks. So
// every govkit service takes an Authorizer when it is built and asks it
// before it acts. Nothing is open by accident: a policy denies by default,
// and the only way to allow everything is to write AllowAll() in the code
// that builds the service.
//
// # Actors
//
// An Actor is the person or system acting: a pseudonymous ID, a Kind
// (citizen, grid member, street staff, department handler, inspector,
// sensor, video AI, …), a department, a jurisdiction Scope (a region.Code:
// the subtree the actor may act in) and policy roles. It travels in the
// context (WithActor, ActorFrom); a call that needs an actor and finds none
// fails with ErrNoActor.
//
// # Policy
//
// A Policy grants (action, resource kind) pairs to roles, optionally only
// within the actor's department or only on resources the actor owns. It is
// data, read from JSON and validated on load:
//
//	{"version": 1, "roles": {
//	  "street-officer": [{"action": "register", "resource": "incident"}],
//	  "citizen":        [{"action": "read", "resource": "incident", "own_only": true}],
//	  "water-handler":  [{"action": "handle", "resource": "work-order", "same_department": true}]}}
//
// Every grant is limited to the actor's jurisdiction: the resource's
// region.Code must lie within the actor's Scope. A check costs about 70 ns
// and allocates nothing (BenchmarkAuthorize).
//
// # Decisions explain themselves
//
// Authorize returns a Decision, not a bool: which role and grant allowed it,
// or the reason it was denied (no actor, outside the jurisdiction, no
// grant, another department's resource, not the actor's own). Explain
// renders it in one line for logs and the audit trail; Err turns a denial
// into a *DeniedError matching ErrDenied.
//
// # Separation of duties
//
// Separation rules such as HandlerNotVerifier (the verifier of a case is
// not its handler) and PenaltyNotAppeal are checked by the services that
// know who did what: rule.Check(actorID, earlierActors...).
package access
