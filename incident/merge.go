package incident

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/google/uuid"
)

// Merge folds duplicate cases into target (NENA EIDO's merge, with
// direction): each duplicate closes with resolution Duplicate and
// MergedInto set, and the target gains their reporters, keys, evidence and
// external IDs, so that every reporter stays attached and is told of the
// outcome. All cases change in one atomic write, each with its timeline
// entry and event.
func (s *Service) Merge(ctx context.Context, target uuid.UUID, duplicates []uuid.UUID, note string) (Incident, error) {
	if len(duplicates) == 0 {
		return Incident{}, &ReportError{Field: "duplicates", Reason: "nothing to merge"}
	}
	if slices.Contains(duplicates, target) {
		return Incident{}, &ReportError{Field: "duplicates", Reason: "a case cannot be merged into itself"}
	}
	if err := checkNote("note", note, false); err != nil {
		return Incident{}, err
	}
	seen := map[uuid.UUID]bool{}
	for _, d := range duplicates {
		if seen[d] {
			return Incident{}, &ReportError{Field: "duplicates", Reason: "listed twice: " + d.String()}
		}
		seen[d] = true
	}
	var err error
	for range maxAttempts {
		var out Incident
		out, err = s.mergeOnce(ctx, target, duplicates, note)
		if !errors.Is(err, ErrConflict) {
			return out, err
		}
	}
	return Incident{}, err
}

func (s *Service) mergeOnce(ctx context.Context, targetID uuid.UUID, dupIDs []uuid.UUID, note string) (Incident, error) {
	cur, err := s.store.Get(ctx, targetID)
	if err != nil {
		return Incident{}, err
	}
	actor, err := s.authorize(ctx, ActionMerge, &cur)
	if err != nil {
		return Incident{}, err
	}
	if !cur.Status.Open() {
		return Incident{}, &TransitionError{ID: cur.ID, From: cur.Status, To: cur.Status, Reason: "cannot merge into a case that is not open"}
	}
	now := s.now()
	target := cur.Clone()
	var c Change
	var closed []*Incident
	for _, id := range dupIDs {
		d, err := s.store.Get(ctx, id)
		if err != nil {
			return Incident{}, err
		}
		if _, err := s.authorize(ctx, ActionMerge, &d); err != nil {
			return Incident{}, err
		}
		if !d.Status.Open() {
			return Incident{}, &TransitionError{ID: d.ID, From: d.Status, To: Closed, Reason: "only open cases can be merged"}
		}
		from := d.Status
		dup := d.Clone()
		dup.Status, dup.Resolution, dup.MergedInto, dup.Times.Closed = Closed, Duplicate, target.ID, now
		dup.SLA = Clock{Phase: Closed}
		dup.Version++
		target.Reporters = append(target.Reporters, dup.Reporters...)
		target.Evidence = append(target.Evidence, dup.Evidence...)
		target.MergedFrom = append(target.MergedFrom, dup.ID)
		target.Priority = max(target.Priority, dup.Priority)
		if len(dup.ExternalIDs) > 0 {
			if target.ExternalIDs == nil {
				target.ExternalIDs = map[string]string{}
			}
			maps.Copy(target.ExternalIDs, dup.ExternalIDs)
		}
		c.Update = append(c.Update, dup)
		closed = append(closed, &c.Update[len(c.Update)-1])
		st := step{action: "merged-into", event: EventClosed, note: note, related: []uuid.UUID{target.ID}}
		if err := s.record(ctx, &c, &c.Update[len(c.Update)-1], from, actor, now, st); err != nil {
			return Incident{}, err
		}
	}
	target.Version++
	c.Update = append(c.Update, target)
	st := step{action: "merge", event: EventMerged, note: mergeNote(note, dupIDs), related: dupIDs}
	if err := s.record(ctx, &c, &c.Update[len(c.Update)-1], cur.Status, actor, now, st); err != nil {
		return Incident{}, err
	}
	if err := s.store.Apply(ctx, c); err != nil {
		return Incident{}, err
	}
	s.after(ctx, append(closed, &target)...)
	return target, nil
}

func mergeNote(note string, ids []uuid.UUID) string {
	var b strings.Builder
	b.WriteString("merged ")
	for i, id := range ids {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(id.String())
	}
	if note != "" {
		b.WriteString(": " + note)
	}
	return b.String()
}

// Part is one of the cases a split makes: what differs from the original.
type Part struct {
	Category    string
	Attributes  map[string][]string
	Description string
}

// Split divides a case that turned out to be several problems (a burst
// main and the road collapse it caused): each part becomes a new case,
// registered, with SplitFrom naming the original and the original's
// reporters, place and evidence; the original continues as the first
// problem. Everything is written at once.
func (s *Service) Split(ctx context.Context, id uuid.UUID, parts []Part, note string) (Incident, []Incident, error) {
	if len(parts) == 0 {
		return Incident{}, nil, &ReportError{Field: "parts", Reason: "nothing to split off"}
	}
	if err := checkNote("note", note, false); err != nil {
		return Incident{}, nil, err
	}
	for i, p := range parts {
		if err := s.cat.Validate(p.Category, p.Attributes); err != nil {
			return Incident{}, nil, &ReportError{Field: fmt.Sprintf("parts[%d]", i), Reason: "rejected", Err: err}
		}
		if len(p.Description) > maxDescription {
			return Incident{}, nil, &ReportError{Field: fmt.Sprintf("parts[%d].description", i), Reason: "longer than 4000 bytes"}
		}
	}
	cur, err := s.store.Get(ctx, id)
	if err != nil {
		return Incident{}, nil, err
	}
	actor, err := s.authorize(ctx, ActionMerge, &cur)
	if err != nil {
		return Incident{}, nil, err
	}
	if !cur.Status.Open() {
		return Incident{}, nil, &TransitionError{ID: cur.ID, From: cur.Status, To: cur.Status, Reason: "only an open case can be split"}
	}
	now := s.now()
	var c Change
	var made []uuid.UUID
	for _, p := range parts {
		nid, err := uuid.NewV7()
		if err != nil {
			return Incident{}, nil, err
		}
		cat, _ := s.cat.Category(p.Category)
		n := cur.Clone()
		n.ID, n.Category, n.Attributes, n.Description = nid, p.Category, cloneAttrs(p.Attributes), p.Description
		n.Priority, n.SplitFrom, n.Keys, n.MergedFrom, n.Handlers = cat.Priority, cur.ID, nil, nil, nil
		n.Penalties = nil // decided on the original; a copy would count each fine twice
		n.Status, n.Resolution, n.Version, n.Reworks, n.Reopens, n.Rating = Registered, 0, 1, 0, 0, 0
		n.Times = Times{Reported: cur.Times.Reported, Registered: now}
		n.SLA = Clock{Phase: Registered}
		c.Create = append(c.Create, n)
		made = append(made, nid)
		st := step{action: "split-from", event: EventRegistered, note: "split from " + cur.ID.String(), related: []uuid.UUID{cur.ID}}
		if err := s.record(ctx, &c, &c.Create[len(c.Create)-1], 0, actor, now, st); err != nil {
			return Incident{}, nil, err
		}
	}
	orig := cur.Clone()
	orig.Version++
	c.Update = []Incident{orig}
	st := step{action: "split", event: EventSplit, note: note, related: made}
	if err := s.record(ctx, &c, &c.Update[0], cur.Status, actor, now, st); err != nil {
		return Incident{}, nil, err
	}
	if err := s.store.Apply(ctx, c); err != nil {
		return Incident{}, nil, err
	}
	created := make([]*Incident, len(c.Create))
	for i := range c.Create {
		created[i] = &c.Create[i]
	}
	s.after(ctx, append(created, &orig)...)
	return orig, c.Create, nil
}
