package dispatch

import (
	"context"
	"fmt"

	"github.com/govkit/govkit/access"
)

// OfferTask collects a task for volunteers (S15): it is listed for the
// volunteer team body to see (Tasks), a volunteer accepts it with SignFor
// and carries it out with Start and Complete, and the requester evaluates
// it with Evaluate — the same loop and clocks as any work order.
func (s *Service) OfferTask(ctx context.Context, c Case, team, note string) (WorkOrder, error) {
	if c.ID == "" || c.Category == "" || len(c.Path) == 0 {
		return WorkOrder{}, fmt.Errorf("%w: a task needs a case ID, category and path", ErrInvalidCase)
	}
	if err := checkNote("note", note, true); err != nil {
		return WorkOrder{}, err
	}
	if _, err := s.router.org.Body(team); err != nil {
		return WorkOrder{}, fmt.Errorf("%w: %w", ErrInvalidCommand, err)
	}
	actor, err := s.authorize(ctx, ActionOfferVolunteers, access.Resource{Kind: ResourceKind, ID: c.ID, Jurisdiction: c.unit()})
	if err != nil {
		return WorkOrder{}, err
	}
	now := s.now()
	o := s.newOrder(c, team, 0, true, now)
	o.Kind, o.Rule = Volunteer, "volunteer"
	o.History = []Step{{Time: now, Actor: actor, Action: "offer", To: Offered, Note: note}}
	ch := Change{Orders: []WorkOrder{o}}
	if err := s.event(&ch, &o, EventOffered, 0, actor, note); err != nil {
		return WorkOrder{}, err
	}
	if err := s.store.Apply(ctx, ch); err != nil {
		return WorkOrder{}, err
	}
	s.offered(ctx, &o)
	s.flush(ctx)
	return o, nil
}

// Tasks lists the volunteer tasks waiting for a volunteer within the
// actor's jurisdiction, or within q.Within.
func (s *Service) Tasks(ctx context.Context, q OrderQuery) (OrderPage, error) {
	q.Kind, q.Statuses = Volunteer, []OrderStatus{Offered}
	return s.Orders(ctx, q)
}
