package incident_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/google/uuid"
	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/clock"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/incident"
	"github.com/govkit/govkit/pii"
	"github.com/govkit/govkit/region"
	"github.com/govkit/govkit/region/regiontest"
)

// exampleService builds a service on the embedded defaults, open to all (a
// visible choice), on a manual clock at Monday 10:00.
func exampleService() (*incident.Service, *clock.Manual) {
	city, _ := regiontest.New(regiontest.Small())
	cat, _ := incident.NewCatalogue([]incident.Category{{
		Code: "construction-waste", Name: "Dumped construction waste", Kind: incident.Event,
		SLA: incident.SLA{Register: 2 * time.Hour, Dispose: 4 * time.Hour},
	}})
	clk := clock.NewManual(time.Date(2026, 3, 2, 10, 0, 0, 0, time.FixedZone("CST", 8*3600)))
	svc, _ := incident.NewService(incident.Config{
		Catalogue: cat, Regions: city, Authorizer: access.AllowAll(), Clock: clk,
	})
	return svc, clk
}

func actor(id string) context.Context {
	return access.WithActor(context.Background(), access.Actor{ID: id, Kind: access.GridMember, Scope: "500000"})
}

// A grid member's one-tap report of dumped construction waste, registered
// and taken round the loop.
func Example() {
	svc, _ := exampleService()
	defer svc.Shutdown()

	rc, err := svc.Report(actor("grid-member-7"), incident.Report{
		Key: "tap-20260302-0001", Channel: incident.GridMember, Category: "construction-waste",
		Point: geo.Point{Lat: 29.528, Lon: 106.4896}, Description: "rubble on the pavement",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	id := rc.Incident.ID
	fmt.Println(rc.Incident.Status, "in grid", rc.Incident.Location.Grid())

	_, _ = svc.Register(actor("operator"), id, "")
	_, _ = svc.MarkDispatched(actor("operator"), id, "street sanitation team")
	_, _ = svc.Start(actor("team-lead"), id, "")
	_, _ = svc.Dispose(actor("team-lead"), id, "cleared")
	_, _ = svc.BeginVerification(actor("operator"), id, "")
	inc, _ := svc.Verify(actor("grid-member-7"), id, true, "checked on site")
	fmt.Println(inc.Status, inc.Resolution)

	tl, _ := svc.Timeline(actor("operator"), id)
	for _, e := range tl {
		fmt.Printf("%d %-18s %s\n", e.Seq, e.Action, e.ActorID)
	}
	fmt.Println("timeline verifies:", incident.VerifyTimeline(tl) == nil)
	// Output:
	// reported in grid 500001001002002
	// closed fixed
	// 1 report             grid-member-7
	// 2 register           operator
	// 3 dispatch           operator
	// 4 start              team-lead
	// 5 dispose            team-lead
	// 6 begin-verification operator
	// 7 verify             grid-member-7
	// timeline verifies: true
}

// Two citizens report the same pile; the second report comes with the first
// as a suggestion, and the operator merges them so both hear the outcome.
func ExampleService_Merge() {
	svc, _ := exampleService()
	defer svc.Shutdown()
	report := func(who string, lat float64) incident.Receipt {
		rc, _ := svc.Report(actor(who), incident.Report{
			Channel: incident.CitizenApp, Category: "construction-waste", Point: geo.Point{Lat: lat, Lon: 106.4896},
		})
		return rc
	}
	first := report("citizen-a", 29.5280)
	second := report("citizen-b", 29.5285) // about 55 m north
	s := second.Suggestions[0]
	fmt.Printf("suggested %v at %.0f m\n", s.ID == first.Incident.ID, s.Distance)

	merged, _ := svc.Merge(actor("operator"), first.Incident.ID, []uuid.UUID{second.Incident.ID}, "same pile")
	for _, r := range merged.Reporters {
		fmt.Println("reporter", r.ActorID)
	}
	dup, _ := svc.Get(actor("operator"), second.Incident.ID)
	fmt.Println(dup.Status, dup.Resolution)
	// Output:
	// suggested true at 56 m
	// reporter citizen-a
	// reporter citizen-b
	// closed duplicate
}

// A case not registered within 2 working hours is marked overdue by the
// clock, and the indicators show it.
func ExampleService_Indicators() {
	svc, clk := exampleService()
	defer svc.Shutdown()
	start := clk.Now()
	rc, _ := svc.Report(actor("citizen-a"), incident.Report{
		Channel: incident.Hotline, Category: "construction-waste", Point: geo.Point{Lat: 29.528, Lon: 106.4896},
	})
	clk.Advance(3 * time.Hour) // lunch is not working time: the deadline was 12:00
	inc, _ := svc.Get(actor("operator"), rc.Incident.ID)
	fmt.Println("overdue:", inc.SLA.Overdue)

	_, _ = svc.Register(actor("operator"), inc.ID, "")
	ind, _ := svc.Indicators(actor("analyst"), "500000", start, start.Add(24*time.Hour))
	fmt.Printf("registered %d, on time %d (%.0f%%)\n", ind.Registered, ind.RegisteredOnTime, 100*ind.OnTimeRegistrationRate)
	// Output:
	// overdue: true
	// registered 1, on time 0 (0%)
}

// The handler records the fine decided on a muck truck's operator. The
// case file keeps the decision, the amount in yuan and fen and who decided
// it; the operator's name masks itself, and the timeline and the event
// name the decision and the fine only.
func ExampleService_RecordPenalty() {
	svc, _ := exampleService()
	defer svc.Shutdown()
	rc, _ := svc.Report(actor("grid-member-7"), incident.Report{
		Channel: incident.GridMember, Category: "construction-waste",
		Point: geo.Point{Lat: 29.528, Lon: 106.4896}, Description: "a muck truck dumped its load",
	})
	id := rc.Incident.ID
	_, _ = svc.Register(actor("operator"), id, "")
	_, _ = svc.MarkDispatched(actor("operator"), id, "transport enforcement")
	_, _ = svc.Start(actor("officer-chen"), id, "")

	payer, _ := pii.NewName("重庆某渣土运输有限公司")
	inc, err := svc.RecordPenalty(actor("officer-chen"), id, incident.Penalty{
		Decision: "九交执罚〔2024〕0412号",
		Basis:    "《重庆市城市建筑垃圾管理条例》",
		Payer:    payer,
		Amount:   *apd.New(2000, 0),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	p := inc.Penalties[0]
	fmt.Println(p.Decision, p.Amount.String(), "yuan, paid by", p.Payer, "decided by", p.DecidedBy)

	tl, _ := svc.Timeline(actor("operator"), id)
	fmt.Println(tl[len(tl)-1].Action, "|", tl[len(tl)-1].Note)

	_, err = svc.RecordPenalty(actor("officer-chen"), id, incident.Penalty{Decision: "九交执罚〔2024〕0413号", Amount: *apd.New(12345, -3)})
	fmt.Println(err)
	// Output:
	// 九交执罚〔2024〕0412号 2000.00 yuan, paid by 重********** decided by officer-chen
	// penalty | 九交执罚〔2024〕0412号: fine 2000.00 yuan
	// incident: invalid penalty.amount: finer than a fen (more than two decimal places)
}

// A store ranks duplicate candidates with a Ranking: offer it every open
// case found near the report, and it keeps the best Limit, nearest and
// newest first.
func ExampleNewRanking() {
	now := time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC)
	underpass := geo.Point{Lat: 29.5128, Lon: 106.5035}
	q := incident.NearbyQuery{Category: "waterlogging", Center: underpass, Meters: 250,
		Since: now.Add(-72 * time.Hour), Now: now, Limit: 2}
	rank := incident.NewRanking(q)
	cases := map[uuid.UUID]string{}
	for _, c := range []struct {
		name   string
		meters float64
		age    time.Duration
	}{
		{"at the underpass, this morning", 20, 2 * time.Hour},
		{"down the road, yesterday", 150, 26 * time.Hour},
		{"at the underpass, last week", 10, 80 * time.Hour}, // before Since: not offered by a store
		{"round the corner, just now", 60, 10 * time.Minute},
		{"across the river", 900, time.Hour},
	} {
		id := uuid.New()
		cases[id] = c.name
		if c.age <= 72*time.Hour {
			rank.Offer(id, geo.Destination(underpass, c.meters, 45), now.Add(-c.age))
		}
	}
	for _, id := range rank.IDs() {
		fmt.Println(cases[id])
	}
	fmt.Printf("score at 20 m, 2 h old: %.3f\n", incident.DuplicateScore(20, 250, 2*time.Hour, 72*time.Hour))
	// Output:
	// at the underpass, this morning
	// round the corner, just now
	// score at 20 m, 2 h old: 0.941
}

// S16: a case filmed in district 500001 is handled by the enforcement
// detachment of district 500002. The application tells the service which
// units handle the case (here a map; in a deployment, dispatch's work
// orders), so the detachment's officer, whose scope is his own district,
// may read the case and record his fine on it, but not verify it.
func ExampleConfig_handlingUnits() {
	city, _ := regiontest.New(regiontest.Small())
	cat, _ := incident.NewCatalogue([]incident.Category{{Code: "muck-truck-overload", Name: "Overloaded muck truck", Kind: incident.Event}})
	policy, _ := access.ParsePolicy([]byte(`{"version": 1, "roles": {
	  "centre":  [{"action": "report", "resource": "incident"}, {"action": "register", "resource": "incident"},
	              {"action": "dispatch", "resource": "incident"}, {"action": "handle", "resource": "incident"},
	              {"action": "read", "resource": "incident"}],
	  "handler": [{"action": "handle", "resource": "incident"}, {"action": "read", "resource": "incident"},
	              {"action": "verify", "resource": "incident"}]}}`))
	handling := map[uuid.UUID][]region.Code{}
	svc, _ := incident.NewService(incident.Config{Catalogue: cat, Regions: city, Authorizer: policy,
		HandlingUnits: func(_ context.Context, id uuid.UUID) ([]region.Code, error) { return handling[id], nil }})
	defer svc.Shutdown()

	centre := access.WithActor(context.Background(), access.Actor{ID: "centre-01", Kind: access.DistrictStaff, Scope: "500001", Roles: []string{"centre"}})
	officer := access.WithActor(context.Background(), access.Actor{ID: "officer-chen", Kind: access.DepartmentHandler, Scope: "500002", Roles: []string{"handler"}})
	rc, _ := svc.Report(centre, incident.Report{Channel: incident.Hotline, Category: "muck-truck-overload", Point: geo.Point{Lat: 29.528, Lon: 106.4896}})
	id := rc.Incident.ID
	_, _ = svc.Register(centre, id, "")
	_, _ = svc.MarkDispatched(centre, id, "to district 500002's detachment")
	_, _ = svc.Start(centre, id, "")

	fine := func() error {
		_, err := svc.RecordPenalty(officer, id, incident.Penalty{Decision: "渝执罚〔2026〕17号", Amount: *apd.New(2000, 0)})
		return err
	}
	fmt.Println("before dispatch names his unit:", errors.Is(fine(), access.ErrDenied))
	handling[id] = []region.Code{"500002"}
	fmt.Println("after:", fine())
	_, _ = svc.Dispose(centre, id, "truck unloaded at the site")
	_, err := svc.BeginVerification(officer, id, "")
	fmt.Println("verifying stays with the case's district:", errors.Is(err, access.ErrDenied))
	// Output:
	// before dispatch names his unit: true
	// after: <nil>
	// verifying stays with the case's district: true
}
