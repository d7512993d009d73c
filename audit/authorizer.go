package audit

import (
	"context"

	"github.com/govkit/govkit/access"
)

// AuthorizerOption configures [Authorizer].
type AuthorizerOption func(*authorizer)

// OnRecordError registers fn, called with the original decision and the
// error whenever a decision cannot be recorded (and is therefore refused),
// so that the failure can be logged or alerted on. It runs on the
// goroutine that called Authorize.
func OnRecordError(fn func(ctx context.Context, d access.Decision, err error)) AuthorizerOption {
	return func(a *authorizer) { a.onError = fn }
}

type authorizer struct {
	az      access.Authorizer
	log     *Log
	onError func(context.Context, access.Decision, error)
}

// Authorizer returns an access.Authorizer that asks az and records every
// decision, allowed or denied, in log before returning it.
//
// It fails closed: when a decision cannot be recorded (the store is down,
// ctx is cancelled, the decision lacks an action or resource kind) it
// returns a denial with Reason access.AuditFailed instead, keeping the
// original Action, Resource, ActorID and Scope. An action that would leave
// no trace is not taken. Authorizer panics if az or log is nil, a wiring
// mistake best found at start-up.
func Authorizer(az access.Authorizer, log *Log, opts ...AuthorizerOption) access.Authorizer {
	if az == nil || log == nil {
		panic("audit: Authorizer needs an authorizer and a log")
	}
	a := &authorizer{az: az, log: log}
	for _, opt := range opts {
		if opt != nil {
			opt(a)
		}
	}
	return a
}

// Authorize implements access.Authorizer.
func (a *authorizer) Authorize(ctx context.Context, action string, r access.Resource) access.Decision {
	d := a.az.Authorize(ctx, action, r)
	if d.Action == "" {
		d.Action = action
	}
	if d.Resource == (access.Resource{}) {
		d.Resource = r
	}
	if _, err := a.log.RecordDecision(ctx, d); err != nil {
		if a.onError != nil {
			a.onError(ctx, d, err)
		}
		return access.Decision{
			Reason:   access.AuditFailed,
			Action:   d.Action,
			Resource: d.Resource,
			ActorID:  d.ActorID,
			Scope:    d.Scope,
		}
	}
	return d
}
