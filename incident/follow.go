package incident

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/govkit/govkit/bus"
)

// dispatchEvent is the part of a dispatch event (package dispatch's
// OrderEvent) that FollowDispatch reads. Incident does not import
// dispatch: the two meet on the bus.
type dispatchEvent struct {
	Event string `json:"event"`
	Case  string `json:"case"`
	Body  string `json:"body"`
	Actor string `json:"actor"`
}

// FollowDispatch subscribes to dispatch events under the service's subject
// prefix and carries the handling of each case back to its incident, as
// the acting system in ctx (whose actor the authorizer must allow to
// dispatch and handle): the first work order offered marks it dispatched,
// the first started puts it in progress, and "case-disposed" (every
// mandatory branch done) disposes of it, passing through the states
// between when events arrive late or out of order. It is the counterpart
// of dispatch's FollowIncidents.
//
// Events for cases that are not incidents of this store, and events the
// incident has already moved past, are acknowledged and change nothing, so
// redelivery is harmless. Other errors are returned for redelivery.
func (s *Service) FollowDispatch(ctx context.Context, sub bus.Subscriber, group string) (bus.Subscription, error) {
	if sub == nil {
		return nil, errors.New("incident: FollowDispatch needs a subscriber")
	}
	return sub.Subscribe(ctx, s.cfg.SubjectPrefix+".>", group, func(_ context.Context, m bus.Message) error {
		if m.Headers["govkit-kind"] != "dispatch" {
			return nil
		}
		var e dispatchEvent
		if err := json.Unmarshal(m.Data, &e); err != nil {
			s.log.Warn("incident: unreadable dispatch event", "subject", m.Subject, "err", err)
			return nil // a malformed event will not improve with redelivery
		}
		return s.followDispatch(ctx, e)
	})
}

// followDispatch moves the incident of e's case as far as e says.
func (s *Service) followDispatch(ctx context.Context, e dispatchEvent) error {
	var target Status
	switch e.Event {
	case "offered":
		target = Dispatched
	case "started":
		target = InProgress
	case "case-disposed":
		target = Disposed
	default:
		return nil
	}
	id, err := uuid.Parse(e.Case)
	if err != nil {
		return nil // not an incident's case
	}
	inc, err := s.store.Get(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	by := e.Body
	if e.Actor != "" {
		by = fmt.Sprintf("%s (%s)", e.Body, e.Actor)
	}
	for inc.Status != target {
		switch {
		case inc.Status == Registered:
			inc, err = s.MarkDispatched(ctx, id, "offered to "+e.Body)
		case inc.Status == Dispatched && target != Dispatched:
			inc, err = s.Start(ctx, id, "started by "+by)
		case inc.Status == InProgress && target == Disposed:
			inc, err = s.Dispose(ctx, id, "every mandatory work order done")
		default:
			return nil // already past what e says, or not the city's to handle yet
		}
		if errors.Is(err, ErrInvalidTransition) {
			return nil // another event moved it meanwhile
		}
		if err != nil {
			return err
		}
	}
	return nil
}
