package incident

import (
	"context"
	"iter"

	"github.com/google/uuid"
	"github.com/govkit/govkit/access"
)

// Get returns case id if the actor may read it.
func (s *Service) Get(ctx context.Context, id uuid.UUID) (Incident, error) {
	inc, err := s.store.Get(ctx, id)
	if err != nil {
		return Incident{}, err
	}
	if _, err := s.authorize(ctx, ActionRead, &inc); err != nil {
		return Incident{}, err
	}
	return inc, nil
}

// Timeline returns case id's timeline if the actor may read the case.
func (s *Service) Timeline(ctx context.Context, id uuid.UUID) ([]Entry, error) {
	if _, err := s.Get(ctx, id); err != nil {
		return nil, err
	}
	return s.store.Timeline(ctx, id)
}

// VerifyTimeline reads case id's timeline and checks its hash chain; the
// error matches ErrTampered if anything was edited.
func (s *Service) VerifyTimeline(ctx context.Context, id uuid.UUID) error {
	tl, err := s.Timeline(ctx, id)
	if err != nil {
		return err
	}
	return VerifyTimeline(tl)
}

// scope narrows q to what the actor may read: a query without Within gets
// the actor's whole jurisdiction; one outside it is denied.
func (s *Service) scope(ctx context.Context, q Query) (Query, error) {
	if err := q.Validate(); err != nil {
		return q, err
	}
	if q.Within == "" {
		a, err := access.ActorFrom(ctx)
		if err != nil {
			return q, (access.Decision{Reason: access.NoActor, Action: ActionRead}).Err()
		}
		q.Within = a.Scope
	}
	d := s.az.Authorize(ctx, ActionRead, access.Resource{Kind: ResourceKind, Jurisdiction: q.Within})
	if !d.Allowed && d.Reason != access.NotOwner {
		return q, d.Err()
	}
	return q, nil
}

// Find returns one page of the cases matching q that the actor may read,
// in report order. Without q.Within it searches the actor's jurisdiction.
// Cases the actor may not read (a citizen's view of others' reports) are
// left out, so a page may hold fewer than q.Limit; follow Page.Next.
func (s *Service) Find(ctx context.Context, q Query) (Page, error) {
	q, err := s.scope(ctx, q)
	if err != nil {
		return Page{}, err
	}
	p, err := s.store.Find(ctx, q)
	if err != nil {
		return Page{}, err
	}
	kept := p.Incidents[:0]
	for i := range p.Incidents {
		if _, err := s.authorize(ctx, ActionRead, &p.Incidents[i]); err == nil {
			kept = append(kept, p.Incidents[i])
		}
	}
	p.Incidents = kept
	return p, nil
}

// All streams every case matching q that the actor may read, page by page,
// for exports and indicators over long periods. It stops at the first
// error, which it yields.
func (s *Service) All(ctx context.Context, q Query) iter.Seq2[Incident, error] {
	return func(yield func(Incident, error) bool) {
		for {
			p, err := s.Find(ctx, q)
			if err != nil {
				yield(Incident{}, err)
				return
			}
			for _, inc := range p.Incidents {
				if !yield(inc, nil) {
					return
				}
			}
			if p.Next == uuid.Nil {
				return
			}
			q.After = p.Next
		}
	}
}
