package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/region"
)

// incidentEvent is the part of an incident event dispatch reads. Dispatch
// does not import package incident: the two meet on the bus.
type incidentEvent struct {
	Event    string        `json:"event"`
	ID       string        `json:"id"`
	Category string        `json:"category"`
	Path     []region.Code `json:"path"`
	Asset    string        `json:"asset"`
}

// CaseFromIncident reads a case from an incident event's payload. ok is
// false for events that are not registrations (the moment a case becomes
// the city's to handle), which a subscriber ignores.
func CaseFromIncident(m bus.Message) (c Case, ok bool, err error) {
	if m.Headers["govkit-kind"] != "incident" {
		return Case{}, false, nil
	}
	var e incidentEvent
	if err := json.Unmarshal(m.Data, &e); err != nil {
		return Case{}, false, fmt.Errorf("%w: incident event: %w", ErrInvalidCase, err)
	}
	if e.Event != "registered" {
		return Case{}, false, nil
	}
	if e.ID == "" || e.Category == "" || len(e.Path) == 0 {
		return Case{}, false, fmt.Errorf("%w: incident event without id, category or path", ErrInvalidCase)
	}
	return Case{ID: e.ID, Category: e.Category, Path: e.Path, Asset: e.Asset}, true, nil
}

// FollowIncidents subscribes to incident events under the service's
// subject prefix and dispatches every registered case, as the acting
// system in ctx (whose actor the authorizer must allow to dispatch). A case
// already dispatched is acknowledged, so redelivery is harmless; a case no
// rule covers is acknowledged too and left to the centre, which the
// EventNoRoute event tells. Other errors are returned for redelivery.
func (s *Service) FollowIncidents(ctx context.Context, sub bus.Subscriber, group string) (bus.Subscription, error) {
	return sub.Subscribe(ctx, s.cfg.SubjectPrefix+".>", group, func(hctx context.Context, m bus.Message) error {
		c, ok, err := CaseFromIncident(m)
		if err != nil || !ok {
			if err != nil {
				s.log.Warn("dispatch: unreadable incident event", "subject", m.Subject, "err", err)
			}
			return nil // a malformed event will not improve with redelivery
		}
		_, _, err = s.Dispatch(ctx, c)
		switch {
		case err == nil, errors.Is(err, ErrAlreadyDispatched):
			return nil
		case errors.Is(err, ErrNoRoute), errors.Is(err, ErrUnresolved):
			return s.noRoute(ctx, c, err)
		}
		return err
	})
}

// noRoute announces a case the rules could not place, for the centre to
// assign by hand.
func (s *Service) noRoute(ctx context.Context, c Case, cause error) error {
	if s.pub == nil {
		return nil // nobody would ever publish it: keep it out of the outbox
	}
	var ch Change
	if err := s.appendEvent(&ch, c.ID, c.Path, OrderEvent{Event: EventNoRoute, Case: c.ID, Category: c.Category, Path: c.Path, Note: cause.Error(), Time: s.now()}); err != nil {
		return err
	}
	if err := s.store.Apply(ctx, ch); err != nil {
		return err
	}
	s.flush(ctx)
	return nil
}
