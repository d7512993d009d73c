// Command smallplaces runs S17, the nine small places (九小场所) of
// Jiefangbei street, Yuzhong district, Chongqing, on govkit's embedded
// defaults:
//
//  1. The street registers its small shops — restaurants, a clinic, a
//     hotel, an internet café — each with its position (from Beidou) as
//     a risk point, and package risk tiers them red, yellow or green from
//     their credit and their risk.
//  2. It plans the second quarter's inspections: red shops every quarter,
//     yellow once a year, the departments' own tasks merged into joint
//     visits, and a seeded random draw (双随机) that anyone can re-run.
//  3. Grid members inspect on the nine-small-places checklist; each
//     finding is a rectification notice to the owner with a deadline.
//     Owners report work done, and an inspector other than the reporter
//     closes it.
//  4. One notice passes its deadline (the clock moves on 16 days). Risk
//     announces "rectification-overdue"; the street centre's subscriber
//     turns it into an incident, which dispatch routes to the street's
//     safety enforcement team (lead) and the shop's community grid station.
//
// Run it with
//
//	go run ./examples/smallplaces
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/clock"
	"github.com/govkit/govkit/dispatch"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/incident"
	"github.com/govkit/govkit/region"
	"github.com/govkit/govkit/risk"
)

func main() {
	if _, err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "smallplaces:", err)
		os.Exit(1)
	}
}

const street = "500103001" // Jiefangbei street, Yuzhong district

// policy: the street centre runs the registry, plans and cases; grid
// members inspect and verify; owners report their own rectifications; the
// enforcement team works its own orders. Everything else is denied.
const policy = `{"version": 1, "roles": {
  "street-centre": [{"action": "register", "resource": "risk-point"}, {"action": "assess", "resource": "risk-point"},
                    {"action": "read", "resource": "risk-point"}, {"action": "register", "resource": "enterprise"},
                    {"action": "plan-inspections", "resource": "inspection"},
                    {"action": "report", "resource": "incident"}, {"action": "register", "resource": "incident"},
                    {"action": "dispatch", "resource": "incident"}, {"action": "read", "resource": "incident"},
                    {"action": "dispatch", "resource": "work-order"}, {"action": "read", "resource": "work-order"}],
  "inspector":     [{"action": "inspect", "resource": "inspection"}, {"action": "verify", "resource": "inspection"}],
  "owner":         [{"action": "rectify", "resource": "inspection", "own_only": true}],
  "enforcement":   [{"action": "sign-for", "resource": "work-order", "same_department": true},
                    {"action": "read", "resource": "work-order", "same_department": true}]}}`

var centre = access.Actor{ID: "system:jfb-street-centre", Kind: access.AutomationSystem, Scope: street, Roles: []string{"street-centre"}}

func as(ctx context.Context, a access.Actor) context.Context { return access.WithActor(ctx, a) }

func gridMember(id string) access.Actor {
	return access.Actor{ID: id, Kind: access.GridMember, Scope: street, Roles: []string{"inspector"}}
}

// shop is one of the street's small places, as the registry knows it.
type shop struct {
	id, name, kind string
	at             geo.Point // Beidou fix, CGCS2000 ≈ WGS-84
	credit         string
	blacklisted    bool
	gas            int // the gas installation's likelihood on the 5×5 matrix; 0: not assessed
	findings       []risk.FindingInput
}

var shops = []shop{
	{id: "92500103MA5UHL0R2K", name: "好又来火锅店", kind: "restaurant", at: geo.Point{Lat: 29.5585, Lon: 106.5745}, credit: "82",
		findings: []risk.FindingInput{{Item: "wiring", Note: "后厨明敷电线未穿管"}, {Item: "extinguishers", Note: "灭火器仅1具"}}},
	{id: "92500103MA5UJM3T8C", name: "民族路便民诊所", kind: "small-clinic", at: geo.Point{Lat: 29.5555, Lon: 106.5752}, credit: "90"},
	{id: "92500103MA5UK22X4D", name: "较场口理发店", kind: "shop", at: geo.Point{Lat: 29.5548, Lon: 106.5810}, credit: "88"},
	{id: "92500103MA5UL7PQ1E", name: "八一路便利店", kind: "shop", at: geo.Point{Lat: 29.5592, Lon: 106.5800}, credit: "20"},
	{id: "92500103MA5UM9W06F", name: "星光网吧", kind: "internet-cafe", at: geo.Point{Lat: 29.5571, Lon: 106.5832}, credit: "45", blacklisted: true},
	{id: "92500103MA5UN4B57G", name: "山城小旅馆", kind: "small-hotel", at: geo.Point{Lat: 29.5560, Lon: 106.5730}, credit: "75",
		findings: []risk.FindingInput{{Item: "exits", Note: "安全出口堆放杂物"}}},
	{id: "92500103MA5UP6C93H", name: "十八梯小面馆", kind: "restaurant", at: geo.Point{Lat: 29.5536, Lon: 106.5795}, credit: "70", gas: 4,
		findings: []risk.FindingInput{{Item: "gas", Note: "燃气软管老化，未装可燃气体报警器"}}},
	{id: "92500103MA5UQ1D28J", name: "邹容路五金店", kind: "shop", at: geo.Point{Lat: 29.5598, Lon: 106.5770}, credit: "95"},
}

// Result is what the scenario produced, for its test.
type Result struct {
	Tiers    map[string]risk.Tier // enterprise → tier
	Plan     []risk.Inspection
	Draw     risk.Draw
	Quota    int
	Pool     []string // the inspectors the draw chose from
	PerVisit int
	Overdue  []Escalation // overdue rectifications turned into incidents
	Orders   []dispatch.WorkOrder
	// The stores, to check outcomes against.
	Risk      risk.Store
	Incidents incident.Store
}

// Escalation is an overdue rectification and the incident it became.
type Escalation struct {
	Inspection uuid.UUID
	Finding    int // from 1
	Enterprise string
	Incident   uuid.UUID
}

func run(ctx context.Context, out io.Writer) (Result, error) {
	res := Result{Tiers: map[string]risk.Tier{}, Quota: 2, PerVisit: 2,
		Pool: []string{"gm-chen-li", "gm-li-na", "gm-wang-qiang", "gm-zhang-wei"}}
	cst := time.FixedZone("CST", 8*3600)
	clk := clock.NewManual(time.Date(2026, 4, 1, 9, 0, 0, 0, cst)) // Wednesday 1 April
	pol, err := access.ParsePolicy([]byte(policy))
	if err != nil {
		return res, err
	}
	regions, err := jiefangbei()
	if err != nil {
		return res, err
	}
	b, err := bus.NewMemory(bus.MemoryOptions{})
	if err != nil {
		return res, err
	}
	defer b.Close()

	// The three services, wired to one bus and one clock.
	classes, err := risk.NewCatalogue([]risk.HazardClass{{Code: "small-place", Name: "九小场所"}, {Code: "small-place.gas", Name: "九小场所燃气设施", Parent: "small-place"}})
	if err != nil {
		return res, err
	}
	risks, err := risk.NewService(risk.Config{Catalogue: classes, Regions: regions, Authorizer: pol, Bus: b, Clock: clk})
	if err != nil {
		return res, err
	}
	defer risks.Shutdown()
	cases, err := incident.NewCatalogue([]incident.Category{{
		Code: "overdue-rectification", Name: "九小场所逾期未整改", Kind: incident.Event, Priority: incident.High,
		SLA:        incident.SLA{Register: 2 * time.Hour, Dispose: 16 * time.Hour},
		Attributes: []incident.Attribute{{Code: "enterprise", Description: "统一社会信用代码", Type: incident.String, Required: true}},
	}})
	if err != nil {
		return res, err
	}
	incidents, err := incident.NewService(incident.Config{Catalogue: cases, Regions: regions, Authorizer: pol, Bus: b, Clock: clk})
	if err != nil {
		return res, err
	}
	defer incidents.Shutdown()
	org, err := dispatch.NewOrg([]dispatch.Body{
		{ID: "jfb-safety", Name: "解放碑街道安全生产执法中队", Function: "safety-enforcement", Jurisdiction: street},
		{ID: "mzl-grid", Name: "民族路社区网格工作站", Function: "grid-station", Jurisdiction: "500103001001"},
		{ID: "jck-grid", Name: "较场口社区网格工作站", Function: "grid-station", Jurisdiction: "500103001002"},
	})
	if err != nil {
		return res, err
	}
	router, err := dispatch.NewRouter(org, []dispatch.Rule{{ID: "overdue-rectification", Category: "overdue-rectification", Area: "500103",
		Lead: dispatch.Handler{Function: "safety-enforcement", Tier: region.Street},
		Co:   []dispatch.Handler{{Function: "grid-station", Tier: region.Community, Optional: true}}}}, nil)
	if err != nil {
		return res, err
	}
	dispatcher, err := dispatch.NewService(dispatch.Config{Router: router, Authorizer: pol, Bus: b, Clock: clk, Regions: regions})
	if err != nil {
		return res, err
	}
	defer dispatcher.Shutdown()
	res.Risk, res.Incidents = risks.Store(), incidents.Store()

	// The wiring. Dispatch follows registered incidents; the street centre
	// turns overdue rectifications into incidents and marks them
	// dispatched when the lead branch is offered.
	if _, err := dispatcher.FollowIncidents(as(ctx, centre), b, "dispatch"); err != nil {
		return res, err
	}
	var mu sync.Mutex
	overdue := risk.Subject("gov", []region.Code{"500000", "500103", street}, risk.EventRectificationDue)
	if _, err := b.Subscribe(ctx, overdue, "overdue-to-incident", func(hctx context.Context, m bus.Message) error {
		e, err := escalate(as(hctx, centre), risks, incidents, m)
		if err == nil && e.Incident != uuid.Nil {
			mu.Lock()
			res.Overdue = append(res.Overdue, e)
			mu.Unlock()
		}
		return err
	}); err != nil {
		return res, err
	}
	if _, err := b.Subscribe(ctx, dispatch.Subject("gov", []region.Code{"500000", "500103", street}, "offered"), "incident-dispatched", func(hctx context.Context, m bus.Message) error {
		e, err := dispatch.DecodeEvent(m)
		if err != nil || !e.Mandatory || e.Branch != 0 {
			return nil // the lead branch decides
		}
		id, err := uuid.Parse(e.Case)
		if err != nil {
			return nil
		}
		inc, err := incidents.Get(as(hctx, centre), id)
		if err != nil || inc.Status != incident.Registered {
			return err // redelivered or already marked
		}
		_, err = incidents.MarkDispatched(as(hctx, centre), id, "主办: "+e.Body)
		return err
	}); err != nil {
		return res, err
	}

	// 1. Register the shops: their risk points, then the enterprises, tiered.
	sc := as(ctx, centre)
	byID := map[string]shop{}
	for _, s := range shops {
		byID[s.id] = s
		class := "small-place"
		if s.gas > 0 {
			class = "small-place.gas"
		}
		p, err := risks.Create(sc, risk.Point{Name: s.name, Class: class, Geometry: s.at, Enterprise: s.id})
		if err != nil {
			return res, fmt.Errorf("%s: %w", s.name, err)
		}
		if s.gas > 0 {
			if p, err = risks.Assess(sc, p.ID, "matrix", risk.Inputs{Likelihood: s.gas, Consequence: 5}); err != nil {
				return res, err
			}
		}
		e, err := risks.RegisterEnterprise(sc, risk.Enterprise{ID: s.id, Name: s.name, Kind: s.kind, Region: p.Grid,
			Credit: risk.MustDecimal(s.credit), Blacklisted: s.blacklisted})
		if err != nil {
			return res, err
		}
		res.Tiers[s.id] = e.Tier
		fmt.Fprintf(out, "tier %-6s grid %s  %-13s %s (%s)\n", e.Tier, p.Grid, s.kind, s.name, e.TierDerivation.Band)
	}

	// 2. Plan the quarter: tiers, two departments' tasks, the random draw.
	var seed uint64 = 20260401
	res.Plan, res.Draw, err = risks.PlanInspections(sc, risk.InspectionPlanRequest{
		Region: street, Year: 2026, Quarter: 2, Seed: seed, Quota: res.Quota, Inspectors: res.Pool, PerVisit: res.PerVisit,
		Tasks: []risk.Task{
			{Department: "yz-fire-rescue", Enterprise: shops[0].id, Subject: "餐饮场所消防检查"},
			{Department: "jfb-safety", Enterprise: shops[0].id, Subject: "九小场所安全检查"},
			{Department: "yz-fire-rescue", Enterprise: shops[5].id, Subject: "旅馆消防检查"},
		},
	})
	if err != nil {
		return res, err
	}
	fmt.Fprintf(out, "2026Q2 plan: %d visits (seed %d, candidates digest %.12s…)\n", len(res.Plan), seed, res.Draw.CandidateDigest)
	for _, in := range res.Plan {
		fmt.Fprintf(out, "  %s by %v: %v\n", byID[in.Enterprise].name, in.Inspectors, in.Reasons)
	}

	// 3. Inspect on the checklist; findings become rectification notices.
	clk.Advance(7 * 24 * time.Hour) // Wednesday 8 April
	byShop := map[string]uuid.UUID{}
	for _, in := range res.Plan {
		done, err := risks.RecordFindings(as(ctx, gridMember(in.Inspectors[0])), in.ID, byID[in.Enterprise].findings)
		if err != nil {
			return res, err
		}
		byShop[in.Enterprise] = in.ID
		for _, f := range done.Findings {
			fmt.Fprintf(out, "  notice to %s: %s (%s) %s, due %s\n", byID[in.Enterprise].name, f.Item, f.Severity, f.Note, f.Deadline.In(cst).Format("2 Jan"))
		}
	}

	// Owners fix two notices; an inspector other than the reporter closes them.
	for _, fix := range []struct {
		shop    string
		finding int
	}{{shops[0].id, 2}, {shops[5].id, 1}} {
		clk.Advance(3 * 24 * time.Hour)
		id := byShop[fix.shop]
		owner := access.Actor{ID: fix.shop, Kind: access.Citizen, Scope: street, Roles: []string{"owner"}}
		if _, err := risks.ReportRectified(as(ctx, owner), id, fix.finding, []string{"photo:" + fix.shop + "-after.jpg"}); err != nil {
			return res, err
		}
		in, err := risks.VerifyRectification(as(ctx, gridMember("gm-zhang-wei")), id, fix.finding, true)
		if err != nil {
			return res, err
		}
		f := in.Findings[fix.finding-1]
		fmt.Fprintf(out, "%s: %s %s rectified, %s by %s\n", clk.Now().Format("2 Jan"), byID[fix.shop].name, f.Item, f.Status, f.VerifiedBy)
	}

	// 4. Time passes; the restaurant's wiring is still not fixed.
	if err := clk.Set(time.Date(2026, 4, 24, 9, 0, 0, 0, cst)); err != nil {
		return res, err
	}
	if err := settle(ctx, b); err != nil {
		return res, err
	}
	mu.Lock()
	escalated := slices.Clone(res.Overdue)
	mu.Unlock()
	if len(escalated) == 0 {
		return res, errors.New("no overdue rectification was escalated")
	}
	for _, e := range escalated {
		inc, err := incidents.Get(sc, e.Incident)
		if err != nil {
			return res, err
		}
		fmt.Fprintf(out, "%s: overdue rectification at %s → incident %s in grid %s, %s\n",
			clk.Now().Format("2 Jan"), byID[e.Enterprise].name, inc.ID, inc.Location.Grid(), inc.Status)
		cf, err := dispatcher.CaseFile(sc, inc.ID.String())
		if err != nil {
			return res, err
		}
		for _, id := range cf.Orders {
			o, err := dispatcher.Order(sc, id)
			if err != nil {
				return res, err
			}
			res.Orders = append(res.Orders, o)
		}
	}

	// The enforcement team signs for its order.
	for i, o := range res.Orders {
		branch := "co  "
		if o.Lead {
			branch = "lead"
			lead := access.Actor{ID: "jfb-safety-luo", Kind: access.StreetStaff, Department: o.Body, Scope: street, Roles: []string{"enforcement"}}
			if o, err = dispatcher.SignFor(as(ctx, lead), o.ID, "今日上门复查"); err != nil {
				return res, err
			}
			res.Orders[i] = o
		}
		body, _ := org.Body(o.Body)
		fmt.Fprintf(out, "  %s %s: %s, due %s\n", branch, body.Name, o.Status, o.Deadline.In(cst).Format("2 Jan 15:04"))
	}
	fmt.Fprintf(out, "%d inspections, %d overdue rectification escalated, routed to %d bodies\n", len(res.Plan), len(escalated), len(res.Orders))
	return res, nil
}

// escalate turns one overdue rectification into a registered incident at
// the shop, idempotently: a redelivered event finds the same case by its key.
func escalate(ctx context.Context, risks *risk.Service, incidents *incident.Service, m bus.Message) (Escalation, error) {
	d, err := risk.DecodeEvent(m)
	if err != nil {
		return Escalation{}, nil // unreadable: redelivery would not help
	}
	e := Escalation{Inspection: d.Inspection, Finding: d.Finding, Enterprise: d.Enterprise}
	page, err := risks.Points(ctx, risk.Query{Enterprise: d.Enterprise, Limit: 1})
	if err != nil {
		return e, err
	}
	if len(page.Points) == 0 {
		return e, fmt.Errorf("%w: no position registered for %s", risk.ErrNotFound, d.Enterprise)
	}
	at := page.Points[0]
	note := "逾期未整改"
	if len(d.Reasons) > 0 {
		note += ": " + d.Reasons[0]
	}
	rc, err := incidents.Report(ctx, incident.Report{
		Key: fmt.Sprintf("rectification-overdue:%s:%d", d.Inspection, d.Finding), Channel: incident.Inspection,
		Category: "overdue-rectification", Point: at.Anchor, Address: at.Name, Description: note,
		Attributes:     map[string][]string{"enterprise": {d.Enterprise}},
		ExternalSystem: "risk-inspection", ExternalID: fmt.Sprintf("%s#%d", d.Inspection, d.Finding),
	})
	if err != nil {
		return e, err
	}
	e.Incident = rc.Incident.ID
	if rc.Incident.Status == incident.Reported {
		_, err = incidents.Register(ctx, rc.Incident.ID, "整改期限已过，立案")
	}
	return e, err
}

// jiefangbei is the slice of Chongqing's hierarchy the street needs:
// Yuzhong district, Jiefangbei street, two communities of two grids each.
func jiefangbei() (*region.Hierarchy, error) {
	box := func(minLat, minLon, maxLat, maxLon float64) geo.MultiPolygon {
		return geo.MultiPolygon{geo.BBox{MinLat: minLat, MinLon: minLon, MaxLat: maxLat, MaxLon: maxLon}.Rect()}
	}
	units := []region.Unit{
		{Code: "500000", Name: "重庆市", Boundary: box(28.16, 105.29, 32.20, 110.19)},
		{Code: "500103", Name: "渝中区", Parent: "500000", Boundary: box(29.53, 106.50, 29.58, 106.60)},
		{Code: street, Name: "解放碑街道", Parent: "500103", Boundary: box(29.553, 106.571, 29.561, 106.585)},
	}
	for c, community := range []string{"民族路社区", "较场口社区"} {
		cc := region.Code(fmt.Sprintf("%s%03d", street, c+1))
		minLon := 106.571 + 0.007*float64(c)
		units = append(units, region.Unit{Code: cc, Name: community, Parent: street, Boundary: box(29.553, minLon, 29.561, minLon+0.007)})
		for g := range 2 {
			minLat := 29.553 + 0.004*float64(g)
			units = append(units, region.Unit{Code: region.Code(fmt.Sprintf("%s%03d", cc, g+1)), Name: fmt.Sprintf("%s第%d网格", community, g+1),
				Parent: cc, Boundary: box(minLat, minLon, minLat+0.004, minLon+0.007)})
		}
	}
	return region.New(units)
}

// settle waits until every handler has acknowledged what the bus holds;
// a handler that keeps failing fails the run instead of hanging it.
func settle(ctx context.Context, b *bus.Memory) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return b.Drain(ctx)
}
