package dispatch

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/govkit/govkit/access"
)

// ErrInvalidPlaybook is matched by every error about a malformed playbook.
var ErrInvalidPlaybook = errors.New("dispatch: invalid playbook")

// Playbook is a versioned graph of work: steps for several departments,
// each waiting for the steps it depends on, some only under conditions.
// S4's water-main burst runs confirm → shut the valve → traffic control and
// protect the telecom lines → repair → restore the road → verify, across
// the water company, traffic police, telecom and city management.
type Playbook struct {
	ID      string
	Version int
	Name    string
	// Categories and Alarms trigger the playbook: a case of a matching
	// category (patterns as in Rule) or an alarm of a listed name.
	Categories []string
	Alarms     []string
	Steps      []PlaybookStep
}

// PlaybookStep is one work order of a playbook.
type PlaybookStep struct {
	ID      string
	Name    string
	Handler Handler
	// After lists the steps that must be finished (or skipped) first.
	After []string
	// When, if set, is a condition on the case's facts; a step whose
	// condition does not hold is skipped, and counts as finished for the
	// steps after it.
	When *Condition
	// Optional steps need not be done for the case to be disposed.
	Optional bool
}

// Condition tests one fact of the case: it holds if the fact's value is one
// of In, or, with Not, if it is none of them.
type Condition struct {
	Fact string
	In   []string
	Not  bool
}

func (c *Condition) holds(facts map[string]string) bool {
	if c == nil {
		return true
	}
	return slices.Contains(c.In, facts[c.Fact]) != c.Not
}

// playbooks is the validated set, by ID and version.
type playbooks struct {
	byID map[string][]*Playbook // versions, ascending
	ids  []string               // the IDs in order, as triggered tries them
}

func newPlaybooks(org *Org, list []Playbook) (playbooks, error) {
	p := playbooks{byID: map[string][]*Playbook{}}
	for i := range list {
		pb := list[i]
		pb.Steps = slices.Clone(pb.Steps)
		if err := checkPlaybook(org, &pb); err != nil {
			return p, err
		}
		for _, other := range p.byID[pb.ID] {
			if other.Version == pb.Version {
				return p, fmt.Errorf("%w: %s version %d given twice", ErrInvalidPlaybook, pb.ID, pb.Version)
			}
		}
		p.byID[pb.ID] = append(p.byID[pb.ID], &pb)
		slices.SortFunc(p.byID[pb.ID], func(a, b *Playbook) int { return a.Version - b.Version })
	}
	p.ids = slices.Sorted(maps.Keys(p.byID))
	return p, nil
}

func checkPlaybook(org *Org, pb *Playbook) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s v%d: %s", ErrInvalidPlaybook, pb.ID, pb.Version, fmt.Sprintf(format, args...))
	}
	if !validToken(pb.ID) || pb.Version < 1 {
		return bad("needs a token ID and a version from 1")
	}
	if len(pb.Steps) == 0 {
		return bad("no steps")
	}
	for _, c := range pb.Categories {
		if err := checkPattern(c); err != nil {
			return bad("%v", err)
		}
	}
	steps := map[string]*PlaybookStep{}
	for i := range pb.Steps {
		st := &pb.Steps[i]
		st.After = slices.Clone(st.After)
		if !validToken(st.ID) {
			return bad("step %d: ID must be a token", i)
		}
		if steps[st.ID] != nil {
			return bad("step %s given twice", st.ID)
		}
		steps[st.ID] = st
		r := Router{org: org}
		if err := r.checkHandlers(pb.ID+"/"+st.ID, st.Handler, nil); err != nil {
			return bad("step %s: %v", st.ID, err)
		}
		if st.When != nil && (st.When.Fact == "" || len(st.When.In) == 0) {
			return bad("step %s: a condition needs a fact and values", st.ID)
		}
	}
	for _, st := range pb.Steps {
		for _, dep := range st.After {
			if steps[dep] == nil {
				return bad("step %s waits for unknown step %s", st.ID, dep)
			}
		}
	}
	// Depth-first search for cycles: a cycle would wait forever.
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(id string, trail []string) error
	visit = func(id string, trail []string) error {
		switch state[id] {
		case 1:
			return bad("steps wait for each other: %s", strings.Join(append(trail, id), " → "))
		case 2:
			return nil
		}
		state[id] = 1
		for _, dep := range steps[id].After {
			if err := visit(dep, append(trail, id)); err != nil {
				return err
			}
		}
		state[id] = 2
		return nil
	}
	for _, st := range pb.Steps {
		if err := visit(st.ID, nil); err != nil {
			return err
		}
	}
	return nil
}

// latest returns the newest version of a playbook.
func (p playbooks) latest(id string) (*Playbook, bool) {
	v := p.byID[id]
	if len(v) == 0 {
		return nil, false
	}
	return v[len(v)-1], true
}

func (p playbooks) version(id string, version int) (*Playbook, bool) {
	for _, pb := range p.byID[id] {
		if pb.Version == version {
			return pb, true
		}
	}
	return nil, false
}

// triggered returns the newest playbook triggered by a category or an
// alarm; ties go to the lowest ID, so the choice is stable.
func (p playbooks) triggered(category, alarm string) (*Playbook, bool) {
	for _, id := range p.ids {
		pb, _ := p.latest(id)
		if alarm != "" && slices.Contains(pb.Alarms, alarm) {
			return pb, true
		}
		if category != "" && slices.ContainsFunc(pb.Categories, func(c string) bool { return patternMatches(c, category) }) {
			return pb, true
		}
	}
	return nil, false
}

// StartPlaybook runs the newest version of playbook id for a case: it
// offers the steps that wait for nothing, skips those whose condition does
// not hold on facts, and offers the rest as their predecessors finish.
func (s *Service) StartPlaybook(ctx context.Context, c Case, id string, facts map[string]string) (CaseFile, []WorkOrder, error) {
	pb, ok := s.playbooks.latest(id)
	if !ok {
		return CaseFile{}, nil, fmt.Errorf("%w: no playbook %q", ErrInvalidCommand, id)
	}
	return s.startPlaybook(ctx, c, pb, facts)
}

// TriggerAlarm starts the playbook an alarm triggers, such as a pressure
// drop on a water main: S4's agent turns one warning into a plan across
// departments in seconds.
func (s *Service) TriggerAlarm(ctx context.Context, c Case, alarm string, facts map[string]string) (CaseFile, []WorkOrder, error) {
	pb, ok := s.playbooks.triggered("", alarm)
	if !ok {
		return CaseFile{}, nil, fmt.Errorf("%w: no playbook for alarm %q", ErrNoRoute, alarm)
	}
	return s.startPlaybook(ctx, c, pb, facts)
}

func (s *Service) startPlaybook(ctx context.Context, c Case, pb *Playbook, facts map[string]string) (CaseFile, []WorkOrder, error) {
	if c.ID == "" || c.Category == "" || len(c.Path) == 0 {
		return CaseFile{}, nil, fmt.Errorf("%w: a case needs an ID, category and path", ErrInvalidCase)
	}
	actor, err := s.authorize(ctx, ActionDispatch, access.Resource{Kind: ResourceKind, ID: c.ID, Jurisdiction: c.unit()})
	if err != nil {
		return CaseFile{}, nil, err
	}
	if _, err := s.store.CaseFile(ctx, c.ID); err == nil {
		return CaseFile{}, nil, fmt.Errorf("%w: %s", ErrAlreadyDispatched, c.ID)
	} else if !errors.Is(err, ErrNotFound) {
		return CaseFile{}, nil, err
	}
	cf := CaseFile{Case: c.ID, Category: c.Category, Path: c.Path, Version: 1,
		Playbook: &PlaybookRun{ID: pb.ID, Version: pb.Version, Facts: maps.Clone(facts), Steps: map[string]StepRun{}}}
	now := s.now()
	orders, err := s.advance(&cf, pb, nil, actor, now)
	if err != nil {
		return CaseFile{}, nil, err
	}
	ch := Change{Orders: orders, Cases: []CaseFile{cf}}
	for i := range orders {
		if err := s.event(&ch, &ch.Orders[i], EventOffered, 0, actor, "playbook "+pb.ID); err != nil {
			return CaseFile{}, nil, err
		}
	}
	if err := s.store.Apply(ctx, ch); err != nil {
		return CaseFile{}, nil, err
	}
	for i := range orders {
		s.offered(ctx, &orders[i])
	}
	s.flush(ctx)
	return cf, orders, nil
}

// advance offers every step of the run whose predecessors are finished or
// skipped, skipping those whose condition fails, until nothing more moves.
// finished holds the steps whose orders are finished. It updates cf and
// returns the new orders.
func (s *Service) advance(cf *CaseFile, pb *Playbook, finished map[string]bool, actor string, now time.Time) ([]WorkOrder, error) {
	run := cf.Playbook
	var out []WorkOrder
	c := Case{ID: cf.Case, Category: cf.Category, Path: cf.Path}
	for moved := true; moved; {
		moved = false
		for i, st := range pb.Steps {
			if _, seen := run.Steps[st.ID]; seen {
				continue
			}
			ready := true
			for _, dep := range st.After {
				d := run.Steps[dep]
				if !d.Skipped && !finished[dep] {
					ready = false
					break
				}
			}
			if !ready {
				continue
			}
			moved = true
			if !st.When.holds(run.Facts) {
				run.Steps[st.ID] = StepRun{Skipped: true}
				continue
			}
			a, err := s.router.assign(&c, st.Handler)
			if err != nil {
				return nil, fmt.Errorf("playbook %s step %s: %w", pb.ID, st.ID, err)
			}
			o := s.newOrder(c, a.Body.ID, i, !st.Optional, now)
			o.Rule, o.Playbook = "playbook:"+pb.ID, pb.ID+"/"+st.ID
			o.History = []Step{{Time: now, Actor: actor, Action: "offer", To: Offered, Note: st.Name}}
			run.Steps[st.ID] = StepRun{Order: o.ID}
			cf.Orders = append(cf.Orders, o.ID)
			out = append(out, o)
		}
	}
	return out, nil
}

// continuePlaybook runs when order o of a playbook case finishes: it offers
// the steps that were waiting for it, in the same write.
func (s *Service) continuePlaybook(ctx context.Context, o *WorkOrder, cf *CaseFile, actor string, now time.Time, out *outcome) error {
	run := cf.Playbook
	pb, ok := s.playbooks.version(run.ID, run.Version)
	if !ok {
		return fmt.Errorf("%w: case %s runs playbook %s v%d, which is no longer loaded", ErrInvalidPlaybook, cf.Case, run.ID, run.Version)
	}
	finished := map[string]bool{}
	for stepID, sr := range run.Steps {
		if sr.Order == o.ID {
			finished[stepID] = true
			continue
		}
		if sr.Order != uuid.Nil {
			other, err := s.store.Order(ctx, sr.Order)
			if err != nil {
				return err
			}
			finished[stepID] = other.Status.Finished()
		}
	}
	next, err := s.advance(cf, pb, finished, actor, now)
	if err != nil {
		return err
	}
	out.extra = append(out.extra, next...)
	return nil
}

// StepProgress is where one step of a case's playbook stands.
type StepProgress struct {
	Step   string
	Name   string
	State  string // "waiting", "skipped", or the order's status
	Order  uuid.UUID
	Body   string
	After  []string
	Signed time.Time
	Done   time.Time
}

// Progress shows a playbook case step by step: which steps wait, which
// were skipped, and how far each offered step's order has got.
func (s *Service) Progress(ctx context.Context, caseID string) ([]StepProgress, error) {
	cf, err := s.CaseFile(ctx, caseID)
	if err != nil {
		return nil, err
	}
	if cf.Playbook == nil {
		return nil, fmt.Errorf("%w: case %s runs no playbook", ErrInvalidCommand, caseID)
	}
	pb, ok := s.playbooks.version(cf.Playbook.ID, cf.Playbook.Version)
	if !ok {
		return nil, fmt.Errorf("%w: playbook %s v%d is no longer loaded", ErrInvalidPlaybook, cf.Playbook.ID, cf.Playbook.Version)
	}
	out := make([]StepProgress, len(pb.Steps))
	for i, st := range pb.Steps {
		p := StepProgress{Step: st.ID, Name: st.Name, State: "waiting", After: slices.Clone(st.After)}
		sr, seen := cf.Playbook.Steps[st.ID]
		switch {
		case seen && sr.Skipped:
			p.State = "skipped"
		case seen:
			o, err := s.store.Order(ctx, sr.Order)
			if err != nil {
				return nil, err
			}
			p.State, p.Order, p.Body, p.Signed, p.Done = o.Status.String(), o.ID, o.Body, o.SignedAt, o.DoneAt
		}
		out[i] = p
	}
	return out, nil
}
