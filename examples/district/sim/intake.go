package sim

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"
	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/calendar"
	"github.com/govkit/govkit/clock"
	"github.com/govkit/govkit/dispatch"
	"github.com/govkit/govkit/incident"
)

// Intake is the district's intake path on its own: the incident service
// and dispatch on a backend's stores and bus, with the district's
// catalogue, hierarchy, bodies, routing rules and access policy, on the
// real clock. BenchmarkCreateAndRoute drives it.
type Intake struct {
	w         *world
	incidents *incident.Service
	dispatch  *dispatch.Service
	camera    access.Actor
	reporters []incident.Channel
	cats      []string
}

// NewIntake builds the intake path of the world cfg describes (only its
// Streets and Seed matter) on back's incident and dispatch stores, and
// its bus if it has one.
func NewIntake(cfg Config, back Backend) (*Intake, error) {
	cfg, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	w, err := newWorld(cfg)
	if err != nil {
		return nil, err
	}
	pol, err := access.ParsePolicy([]byte(policy))
	if err != nil {
		return nil, err
	}
	cal, err := calendar.New(calendar.Config{Location: CST, Weekend: []time.Weekday{}, Hours: []calendar.Span{{Start: 0, End: calendar.EndOfDay}}})
	if err != nil {
		return nil, err
	}
	in := &Intake{w: w, camera: access.Actor{ID: "video-ai-platform", Kind: access.VideoAISystem, Scope: cityCode, Roles: []string{"camera-ai"}}}
	var pub = back.Bus
	in.incidents, err = incident.NewService(incident.Config{Store: back.Incidents, Catalogue: w.catalogue, Regions: w.regions,
		Authorizer: pol, Bus: pub, Clock: clock.Real(), Calendar: cal})
	if err != nil {
		return nil, err
	}
	var policies []dispatch.Policy
	for _, c := range w.cats {
		policies = append(policies, dispatch.Policy{Category: c.code, SignFor: c.signFor, ReturnWindow: 15 * time.Minute,
			Complete: c.complete, RemindEvery: 10 * time.Minute, Reminders: 2, EscalateEvery: time.Hour})
	}
	in.dispatch, err = dispatch.NewService(dispatch.Config{Store: back.Dispatch, Router: w.router, Authorizer: pol, Bus: pub,
		Clock: clock.Real(), Calendar: cal, Policies: policies, Playbooks: []dispatch.Playbook{burstPlaybook()}, Regions: w.regions})
	if err != nil {
		in.incidents.Shutdown()
		return nil, err
	}
	for _, c := range categories() {
		if c.code != catBurst {
			in.cats = append(in.cats, c.code)
		}
	}
	return in, nil
}

// Close stops the services' timers.
func (in *Intake) Close() {
	in.incidents.Shutdown()
	in.dispatch.Shutdown()
}

// Grids returns the number of grids reports are spread over.
func (in *Intake) Grids() int { return len(in.w.grids) }

// NewReport returns the n-th synthetic report: a video-AI detection, sure
// enough to be registered at once, of a random category at a random place
// of the city, drawn from r.
func (in *Intake) NewReport(r *rand.Rand, n int64) incident.Report {
	g := in.w.randomGrid(r)
	return incident.Report{
		Key: fmt.Sprintf("%sbench/%d", in.w.cfg.RunID, n), Channel: incident.VideoAI,
		Category: in.cats[r.IntN(len(in.cats))], Point: inside(r, g.box), Confidence: 0.9,
	}
}

// CreateAndRoute takes rep in — validated, located to its grid, checked for
// duplicates within 250 m, stored with its timeline entry and event — and
// dispatches the case: routed by the district's rules to its lead and
// co-handling bodies, one work order each, stored with their events. It
// returns the number of work orders offered.
func (in *Intake) CreateAndRoute(ctx context.Context, rep incident.Report) (int, error) {
	rec, err := in.incidents.Report(access.WithActor(ctx, in.camera), rep)
	if err != nil {
		return 0, err
	}
	inc := rec.Incident
	if rec.Replayed || rec.MergedInto != uuid.Nil || inc.Status != incident.Registered {
		return 0, nil
	}
	_, orders, err := in.dispatch.Dispatch(access.WithActor(ctx, actorDispatcher),
		dispatch.Case{ID: inc.ID.String(), Category: inc.Category, Path: inc.Location.Path})
	return len(orders), err
}
