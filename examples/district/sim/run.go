package sim

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"
	"github.com/govkit/govkit/dispatch"
	"github.com/govkit/govkit/incident"
	"github.com/govkit/govkit/region"
)

// Progress is what the simulation reports as the day goes by.
type Progress struct {
	Now      time.Time // the simulated time
	Done     float64   // share of the period simulated, 0–1
	Readings int64
	Alarms   int64
	Reports  int64
	Closed   int64
	Bundles  int64
	Codes    int64
	Waiting  int // actions scheduled and not yet due
}

// Run simulates cfg's period on the backend and returns the summary of
// governance indicators. progress, if not nil, is called every ten
// simulated minutes from Run's goroutine.
func Run(ctx context.Context, cfg Config, back Backend, progress func(Progress)) (Summary, error) {
	began := time.Now()
	cfg, err := cfg.normalize()
	if err != nil {
		return Summary{}, err
	}
	if back.Bus == nil || back.Settle == nil {
		return Summary{}, fmt.Errorf("%w: the backend needs a bus and a way to settle it", ErrInvalidConfig)
	}
	w, err := newWorld(cfg)
	if err != nil {
		return Summary{}, err
	}
	s, err := newSystem(w, back)
	if err != nil {
		return Summary{}, err
	}
	defer s.close()
	if err := s.subscribe(ctx); err != nil {
		return Summary{}, err
	}
	if err := s.setup(ctx); err != nil {
		return Summary{}, fmt.Errorf("sim: setting up the district: %w", err)
	}
	if err := back.Settle(ctx); err != nil {
		return Summary{}, err
	}
	// The day's counts start now: set-up events are not the day's work.
	s.resetCounts()

	tr := &traffic{s: s, r: rand.New(rand.NewPCG(cfg.Seed, hashKey(cfg.RunID+"/arrivals")))}
	iot := as(ctx, actorIoT)
	minutes := cfg.Hours * 60
	report := func(m int) {
		if progress != nil {
			progress(Progress{Now: s.clk.Now(), Done: float64(m) / float64(minutes), Readings: s.readings.Load(), Alarms: s.alarms.Load(),
				Reports: s.reports.Load(), Closed: s.closed.Load(), Bundles: s.bundles.Load(), Codes: s.issued.Load(), Waiting: s.sched.pending()})
		}
	}
	for m := range minutes {
		if err := ctx.Err(); err != nil {
			return Summary{}, err
		}
		t := cfg.Start.Add(time.Duration(m) * time.Minute)
		s.set(t)
		if err := back.Settle(ctx); err != nil {
			return Summary{}, err
		}
		if batch := s.fleet.readings(int32(m), t); len(batch) > 0 {
			res, err := s.ingest.Ingest(iot, batch)
			if err != nil {
				return Summary{}, fmt.Errorf("sim: ingesting readings: %w", err)
			}
			s.readings.Add(int64(res.Accepted))
			if len(res.Rejected) > 0 {
				s.fail("ingest", res.Err())
			}
		}
		tr.minute(t)
		if err := back.Settle(ctx); err != nil {
			return Summary{}, err
		}
		if err := s.runDue(ctx, t.Add(time.Minute)); err != nil {
			return Summary{}, err
		}
		if m%10 == 0 {
			report(m)
		}
		if m%60 == 59 {
			s.sched.forget(t.Add(-time.Hour))
		}
	}
	end := cfg.Start.Add(time.Duration(minutes) * time.Minute)
	s.set(end)
	if err := back.Settle(ctx); err != nil {
		return Summary{}, err
	}
	report(minutes)
	sum, err := s.summary(ctx, end)
	if err != nil {
		return Summary{}, err
	}
	sum.Wall = time.Since(began)
	return sum, nil
}

// set moves the simulated clock to t, firing the timers due by then.
func (s *system) set(t time.Time) {
	if t.After(s.clk.Now()) {
		_ = s.clk.Set(t)
	}
}

// runDue runs the actions due before t, one at a time in order of time
// and key, settling the bus after each, so that the handlers of its events
// run at the action's instant and schedule what follows before the next
// action runs: the run does not depend on how goroutines interleave.
func (s *system) runDue(ctx context.Context, t time.Time) error {
	for {
		a, ok := s.sched.next(t)
		if !ok {
			return nil
		}
		if a.at.After(s.clk.Now()) {
			s.set(a.at) // may fire timers: SLA deadlines, escalations, heartbeats
			if err := s.back.Settle(ctx); err != nil {
				return err
			}
		}
		if err := a.do(ctx); err != nil && !ignorable(err) {
			s.fail(a.key, err)
		}
		if err := s.back.Settle(ctx); err != nil {
			return err
		}
	}
}

// resetCounts zeroes what the desks counted during set-up.
func (s *system) resetCounts() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.streets {
		s.streets[c] = &streetStats{}
	}
	s.issued.Store(0)
	s.alarms.Store(0)
	s.events.Store(0)
}

// Summary is the day's governance indicators, per street and in total,
// and how every report was accounted for.
type Summary struct {
	Config  Config        // as run, defaults filled in
	From    time.Time     // the simulated period
	To      time.Time     //
	Streets []StreetRow   // in code order
	Total   StreetRow     // the whole city: every street's figures add up to it
	Wall    time.Duration // how long the run took

	// The world.
	Districts, Grids, Devices, Responders, RiskPoints, Rooms int

	// Reports made by citizens, grid members, cameras and alarms, and what
	// became of them: every report opened a case, was merged into an open
	// one on the same asset, was a replay of one already taken, or was
	// refused (a place outside every grid).
	Reports, Opened, AutoMerged, Replayed, Refused int
	// Cases opened, by where they stand at the end.
	Open, Closed, Rejected, Duplicates int

	Events        int64 // events on the bus under the city, as its centre saw them
	Readings      int64 // sensor readings ingested
	Alarms        int64 // alarms raised
	WorkOrders    int   // work orders offered
	Offers        int64 // offers the dispatch desk received: all of them, at every tier
	Escalations   int64 // reminders and escalations of late work orders
	Notifications int64 // offers, reminders and escalations sent to bodies

	// Bodies is the five-colour evaluation of the bodies that handled
	// work: how many are green, blue, yellow, orange and red.
	Bodies map[string]int

	// Errors are unexpected failures of the simulated people's actions
	// (the first 20), and how many there were.
	Errors     []string
	ErrorCount int
}

// StreetRow is one street's figures: cases from the incident service's
// indicators, the rest as the desks counted them.
type StreetRow struct {
	Code region.Code
	Name string
	// Cases reported in the period (merged duplicates excluded), accepted
	// (立案), closed (结案), closed with no phase late, and rejected.
	Reported, Registered, Closed, ClosedOnTime, Duplicates int
	// ClosureRate is Closed ÷ Registered; OnTimeRate ClosedOnTime ÷ Closed.
	ClosureRate, OnTimeRate float64
	Satisfied, Evaluated    int
	Alarms                  int // sensor alarms raised
	Codes                   int // listing codes issued
	Delisted                int // listings turned red and revoked
	BundlesStarted          int // one-thing bundles applied for
	BundlesDone             int // bundles completed, every output issued
	RiskRaised              int // times a live signal raised a risk point's level
}

func (r *StreetRow) add(o StreetRow) {
	r.Reported += o.Reported
	r.Registered += o.Registered
	r.Closed += o.Closed
	r.ClosedOnTime += o.ClosedOnTime
	r.Duplicates += o.Duplicates
	r.Satisfied += o.Satisfied
	r.Evaluated += o.Evaluated
	r.Alarms += o.Alarms
	r.Codes += o.Codes
	r.Delisted += o.Delisted
	r.BundlesStarted += o.BundlesStarted
	r.BundlesDone += o.BundlesDone
	r.RiskRaised += o.RiskRaised
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// summary gathers the figures at the end of the period.
func (s *system) summary(ctx context.Context, end time.Time) (Summary, error) {
	admin := as(ctx, actorSetup)
	sum := Summary{
		Config: s.cfg, From: s.cfg.Start, To: end, Districts: len(s.w.districts), Grids: len(s.w.grids),
		Devices: s.fleet.reg.Len(), Responders: s.responders.Len(),
		Reports: int(s.reports.Load()), Opened: int(s.opened.Load()), AutoMerged: int(s.autoMerged.Load()),
		Replayed: int(s.replayed.Load()), Refused: int(s.refused.Load()),
		Events: s.events.Load(), Readings: s.readings.Load(), Alarms: s.alarms.Load(), Escalations: s.escalated.Load(), Offers: s.offers.Load(), Notifications: s.notices.n.Load(),
		Bodies: map[string]int{},
	}
	for _, st := range s.w.streets {
		sum.Rooms += len(st.rooms)
	}
	sum.RiskPoints = s.riskPoints
	for _, st := range s.w.streets {
		ind, err := s.incidents.Indicators(admin, st.code, s.cfg.Start, end)
		if err != nil {
			return sum, err
		}
		c := s.streets[st.code]
		row := StreetRow{Code: st.code, Name: st.name,
			Reported: ind.Reported, Registered: ind.Registered, Closed: ind.Closed, ClosedOnTime: ind.ClosedOnTime, Duplicates: ind.Duplicates,
			Satisfied: ind.Satisfied, Evaluated: ind.Evaluated,
			Alarms: c.alarms, Codes: c.codes, Delisted: c.delisted, BundlesStarted: c.bundlesStarted, BundlesDone: c.bundlesDone, RiskRaised: c.riskRaised}
		row.ClosureRate, row.OnTimeRate = ratio(row.Closed, row.Registered), ratio(row.ClosedOnTime, row.Closed)
		sum.Streets = append(sum.Streets, row)
	}
	// The city's own indicators, computed over the whole subtree, are the
	// total; the per-street rows must add up to them.
	ind, err := s.incidents.Indicators(admin, cityCode, s.cfg.Start, end)
	if err != nil {
		return sum, err
	}
	sum.Total = StreetRow{Code: cityCode, Name: "Total", Reported: ind.Reported, Registered: ind.Registered, Closed: ind.Closed,
		ClosedOnTime: ind.ClosedOnTime, Duplicates: ind.Duplicates, Satisfied: ind.Satisfied, Evaluated: ind.Evaluated}
	for _, row := range sum.Streets {
		sum.Total.Alarms += row.Alarms
		sum.Total.Codes += row.Codes
		sum.Total.Delisted += row.Delisted
		sum.Total.BundlesStarted += row.BundlesStarted
		sum.Total.BundlesDone += row.BundlesDone
		sum.Total.RiskRaised += row.RiskRaised
	}
	sum.Total.ClosureRate, sum.Total.OnTimeRate = ratio(sum.Total.Closed, sum.Total.Registered), ratio(sum.Total.ClosedOnTime, sum.Total.Closed)

	// Where every case opened in the period stands.
	q := incident.Query{Within: cityCode, Since: s.cfg.Start, Until: end, Limit: incident.MaxLimit}
	for {
		page, err := s.incidents.Find(admin, q)
		if err != nil {
			return sum, err
		}
		for _, inc := range page.Incidents {
			switch {
			case inc.Resolution == incident.Duplicate:
				sum.Duplicates++
			case inc.Status == incident.Rejected:
				sum.Rejected++
			case inc.Status.Open():
				sum.Open++
			default:
				sum.Closed++
			}
		}
		if page.Next == uuid.Nil {
			break
		}
		q.After = page.Next
	}
	inds, err := s.dispatch.Indicators(admin, dispatch.ByBody, dispatch.OrderQuery{Within: cityCode, Since: s.cfg.Start, Until: end}, dispatch.DefaultScoring)
	if err != nil {
		return sum, err
	}
	for _, in := range inds {
		sum.WorkOrders += in.Offered
		sum.Bodies[in.Colour.String()]++
	}
	s.mu.Lock()
	sum.Errors, sum.ErrorCount = append([]string(nil), s.errs...), s.errCount
	s.mu.Unlock()
	return sum, nil
}
