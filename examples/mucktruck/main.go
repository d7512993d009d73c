// Command mucktruck runs scenario S16 of the guide, the cross-district muck
// truck, on govkit's embedded defaults (memdb stores, the in-process bus, a
// manual clock), in well under a second.
//
// At 18:35 on 5 March 2024 a video-AI camera in Banan (500113) catches an
// overloaded muck truck. The report lands in triage; the next morning
// Banan's centre registers it. The truck carries a disposal permit of a
// construction site in Jiulongpo (500107), and an asset rule sends the case
// across the district line: Jiulongpo's transport enforcement detachment
// leads, its city-management bureau co-handles, and Shiqiaopu street's
// enforcement team goes to the site. Their work orders go out under the
// bodies' own jurisdictions, so they reach Jiulongpo's centre and
// Shiqiaopu's, each subscribed to its own subtree of the bus, while Banan's
// centre hears only that its case was disposed. They are signed for,
// handled and done; the detachment records its 2,000 yuan fine on the case
// file (RecordPenalty); the case is disposed, verified by a Banan grid
// member (not the handler), closed and evaluated, and its timeline's hash
// chain verifies.
//
// Incident and dispatch never import each other: two bus subscribers in
// this program carry a registration to dispatch and dispatch's progress
// back to the case file.
//
//	go run ./examples/mucktruck
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/google/uuid"
	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/clock"
	"github.com/govkit/govkit/dispatch"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/incident"
	"github.com/govkit/govkit/pii"
	"github.com/govkit/govkit/region"
)

func main() {
	res, err := run(context.Background(), os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mucktruck:", err)
		os.Exit(1)
	}
	fmt.Println(res.Summary())
}

// Result is what the example's test checks.
type Result struct {
	Incident   uuid.UUID
	ReportedIn region.Code // the district whose camera saw the truck
	Bodies     []string    // bodies given work orders, lead first
	Inbox      []string    // bodies whose offers reached Jiulongpo's centre, on gov.500000.500107.>
	Denied     error       // a handler's attempt on another department's order
	Status     incident.Status
	Resolution incident.Resolution
	Handlers   []string // who took the case in hand
	VerifiedBy string
	Rating     int
	Fine       incident.Penalty // as the case file holds it
	Elapsed    time.Duration    // from the report to closure
	Timeline   []incident.Entry
	// StreetInbox holds the orders offered on Shiqiaopu's subtree,
	// gov.500000.500107.500107001.>, and BananSaw the dispatch events on
	// Banan's, gov.500000.500113.>.
	StreetInbox []uuid.UUID
	BananSaw    []string
	// The stores, for the test to look into.
	Incidents incident.Store
	Orders    dispatch.Store
}

// Summary is a one-line account of the outcome.
func (r Result) Summary() string {
	tl := "timeline verifies"
	if err := incident.VerifyTimeline(r.Timeline); err != nil {
		tl = "timeline BROKEN: " + err.Error()
	}
	return fmt.Sprintf("muck truck seen in %s, handled by %s; closed %s with a fine of %s yuan %dh%02dm after the report; %s, rated %d; %s",
		r.ReportedIn, strings.Join(r.Bodies, ", "), r.Resolution, r.Fine.Amount.Text('f'),
		int(r.Elapsed.Hours()), int(r.Elapsed.Minutes())%60, r.Status, r.Rating, tl)
}

var cst = time.FixedZone("CST", 8*3600)

// The policy: every grant is limited to the actor's scope. Work orders lie
// in the case's grid (Banan), so Jiulongpo's handlers hold a city-wide scope
// narrowed to their own department's orders. Handling the incident itself
// (ActionHandle) lets the detachment's officer record the penalty he
// decided on the case file.
const policy = `{"version": 1, "roles": {
  "camera":   [{"action": "report", "resource": "incident"}],
  "centre":   [{"action": "*", "resource": "incident"}],
  "verifier": [{"action": "verify", "resource": "incident"}, {"action": "read", "resource": "incident"}],
  "bridge":   [{"action": "read", "resource": "incident"}, {"action": "dispatch", "resource": "incident"},
               {"action": "handle", "resource": "incident"},
               {"action": "dispatch", "resource": "work-order"}, {"action": "read", "resource": "work-order"}],
  "handler":  [{"action": "sign-for", "resource": "work-order", "same_department": true},
               {"action": "handle", "resource": "work-order", "same_department": true},
               {"action": "read", "resource": "work-order", "same_department": true},
               {"action": "handle", "resource": "incident"}]}}`

func as(ctx context.Context, id string, kind access.Kind, dept string, scope region.Code, role string) context.Context {
	return access.WithActor(ctx, access.Actor{ID: id, Kind: kind, Department: dept, Scope: scope, Roles: []string{role}})
}

func run(ctx context.Context, out io.Writer) (Result, error) {
	var res Result
	log := &logger{out: out}
	clk := clock.NewManual(time.Date(2024, 3, 5, 18, 35, 0, 0, cst))
	regions, err := world()
	if err != nil {
		return res, err
	}
	az, err := access.ParsePolicy([]byte(policy))
	if err != nil {
		return res, err
	}
	b, err := bus.NewMemory(bus.MemoryOptions{})
	if err != nil {
		return res, err
	}
	defer b.Close()

	// The case file, with its catalogue entry for overloaded muck trucks.
	cat, err := incident.NewCatalogue([]incident.Category{{
		Code: "muck-truck-overload", Name: "渣土车超载 overloaded muck truck", Kind: incident.Event, Priority: incident.High,
		SLA: incident.SLA{Register: 2 * time.Hour, Dispose: 16 * time.Hour, Verify: 8 * time.Hour},
		Attributes: []incident.Attribute{
			{Code: "plate", Description: "number plate", Type: incident.String, Required: true, Order: 1},
			{Code: "permit", Description: "disposal permit (处置证)", Type: incident.String, Order: 2},
			{Code: "load-ratio", Description: "estimated load ÷ rated load", Type: incident.Number, Order: 3},
		},
	}})
	if err != nil {
		return res, err
	}
	// Dispatch: by area the Banan detachment would get the case, but the
	// permit names a Jiulongpo site, and ownership overrides area.
	org, err := dispatch.NewOrg([]dispatch.Body{
		{ID: "bn-transport", Name: "Banan Transport Enforcement Detachment", Function: "transport-enforcement", Jurisdiction: "500113"},
		{ID: "jlp-transport", Name: "Jiulongpo Transport Enforcement Detachment", Function: "transport-enforcement", Jurisdiction: "500107"},
		{ID: "jlp-urban", Name: "Jiulongpo City Management Bureau", Function: "city-management", Jurisdiction: "500107"},
		{ID: "sqp-enforce", Name: "Shiqiaopu Street Enforcement Team", Function: "enforcement", Jurisdiction: "500107001"},
	})
	if err != nil {
		return res, err
	}
	router, err := dispatch.NewRouter(org,
		[]dispatch.Rule{{ID: "muck-by-area", Category: "muck-truck-overload", Area: "500000",
			Lead: dispatch.Handler{Function: "transport-enforcement", Tier: region.District}}},
		[]dispatch.AssetRule{{ID: "permit-jlp-0117", Asset: "muck-permit:JLP-2024-0117",
			Lead: dispatch.Handler{Body: "jlp-transport"},
			Co:   []dispatch.Handler{{Body: "jlp-urban"}, {Body: "sqp-enforce"}}}})
	if err != nil {
		return res, err
	}
	// The incident service learns from dispatch's store where the bodies
	// handling a case serve, so that the Jiulongpo detachment's officer may
	// record his fine on a case of Banan's.
	dstore := dispatch.NewMemoryStore()
	incidents, err := incident.NewService(incident.Config{Catalogue: cat, Regions: regions, Authorizer: az, Bus: b, Clock: clk,
		HandlingUnits: handlingUnits(dstore, org)})
	if err != nil {
		return res, err
	}
	defer incidents.Shutdown()

	// Regions places each body, so that its orders go out under its own
	// jurisdiction rather than the case's.
	orders, err := dispatch.NewService(dispatch.Config{Store: dstore, Router: router, Authorizer: az, Bus: b, Clock: clk, Regions: regions,
		Policies: []dispatch.Policy{{Category: "muck-truck-overload", SignFor: time.Hour, ReturnWindow: time.Hour, Complete: 16 * time.Hour,
			RemindEvery: 30 * time.Minute, Reminders: 2, EscalateEvery: 2 * time.Hour}}})
	if err != nil {
		return res, err
	}
	defer orders.Shutdown()

	// The wiring: two subscribers, acting as the city's bridge system.
	bridge := as(ctx, "cq-case-bridge", access.AutomationSystem, "", "500000", "bridge")
	if _, err := b.Subscribe(ctx, "gov.>", "dispatch-bridge", log.handler(func(_ context.Context, m bus.Message) error {
		return toDispatch(bridge, log, incidents, router, orders, m)
	})); err != nil {
		return res, err
	}
	if _, err := incidents.FollowDispatch(bridge, b, "incident-bridge"); err != nil {
		return res, err
	}
	// Three centres' screens, each on its own subtree.
	jlpScreen := &centre{name: "Jiulongpo centre", log: log}
	sqpScreen := &centre{name: "Shiqiaopu centre", log: log}
	bnScreen := &centre{name: "Banan centre", log: log}
	for _, c := range []struct {
		pattern, group string
		screen         *centre
	}{
		{"gov.500000.500107.>", "jlp-centre", jlpScreen},
		{"gov.500000.500107.500107001.>", "sqp-centre", sqpScreen},
		{"gov.500000.500113.>", "bn-centre", bnScreen},
	} {
		if _, err := b.Subscribe(ctx, c.pattern, c.group, log.handler(c.screen.handle)); err != nil {
			return res, err
		}
	}
	settle := func() error {
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := b.Drain(dctx); err != nil {
			return err
		}
		return log.failure()
	}

	// 1. 2024-03-05 18:35: the camera on the Lijiatuo bridge approach sees
	// the truck. Its confidence is below the bar, so the case waits for a person.
	camera := as(ctx, "cam-bn-lijiatuo-0417", access.VideoAISystem, "", "500113", "camera")
	clip := sha256.Sum256([]byte("cam-bn-lijiatuo-0417/20240305T183512.mp4"))
	rc, err := incidents.Report(camera, incident.Report{
		Key: "cam-bn-lijiatuo-0417:20240305T183512", Channel: incident.VideoAI, Category: "muck-truck-overload",
		Point: geo.Point{Lat: 29.4751, Lon: 106.5347}, Address: "李家沱大桥南桥头", Confidence: 0.74,
		Attributes: map[string][]string{"plate": {"渝A·D3721"}, "permit": {"JLP-2024-0117"}, "load-ratio": {"1.6"}},
		Evidence:   []incident.Evidence{{URI: "vms://cam-bn-lijiatuo-0417/20240305T183512.mp4", SHA256: hex.EncodeToString(clip[:]), MediaType: "video/mp4"}},
	})
	if err != nil {
		return res, err
	}
	id := rc.Incident.ID
	res.Incident, res.ReportedIn = id, rc.Incident.Location.Path[1]
	log.printf("%s camera reports an overloaded muck truck in grid %s: %s (confidence %.2f)",
		stamp(clk), rc.Incident.Location.Grid(), rc.Incident.Status, rc.Incident.Confidence)
	if err := settle(); err != nil {
		return res, err
	}

	// 2. Next morning Banan's centre reviews the clip and registers the case;
	// the bridge routes it and Jiulongpo's centre receives the work.
	_ = clk.Set(time.Date(2024, 3, 6, 9, 10, 0, 0, cst))
	banan := as(ctx, "bn-centre-he", access.DistrictStaff, "", "500113", "centre")
	if _, err := incidents.Register(banan, id, "clip reviewed: overloaded, uncovered load"); err != nil {
		return res, err
	}
	log.printf("%s Banan centre registers the case (立案)", stamp(clk))
	if err := settle(); err != nil {
		return res, err
	}

	// 3. Each body signs for its order and starts; a handler cannot touch
	// another department's order. Each acts with the scope of its own
	// district or street: a work order lies where its body serves as well
	// as where its case lies, and the incident service lets the bodies
	// handling a case read and handle it (Config.HandlingUnits).
	staff := map[string]access.Actor{
		"jlp-transport": {ID: "jlp-te-chen", Kind: access.DepartmentHandler, Department: "jlp-transport", Scope: "500107", Roles: []string{"handler"}},
		"jlp-urban":     {ID: "jlp-um-li", Kind: access.DepartmentHandler, Department: "jlp-urban", Scope: "500107", Roles: []string{"handler"}},
		"sqp-enforce":   {ID: "sqp-team-wang", Kind: access.StreetStaff, Department: "sqp-enforce", Scope: "500107001", Roles: []string{"handler"}},
	}
	page, err := orders.Orders(bridge, dispatch.OrderQuery{Case: id.String()})
	if err != nil {
		return res, err
	}
	_ = clk.Set(time.Date(2024, 3, 6, 9, 40, 0, 0, cst))
	for _, o := range page.Orders {
		res.Bodies = append(res.Bodies, o.Body)
		if o.Body == "sqp-enforce" {
			_, res.Denied = orders.SignFor(access.WithActor(ctx, staff["jlp-urban"]), o.ID, "")
			var denied *access.DeniedError
			if !errors.As(res.Denied, &denied) {
				return res, fmt.Errorf("another department's order: want a denial, got %v", res.Denied)
			}
			log.printf("%s the bureau's officer tries to sign for the street team's order: refused (%s)", stamp(clk), denied.Decision.Reason)
		}
		who := access.WithActor(ctx, staff[o.Body])
		if _, err := orders.SignFor(who, o.ID, ""); err != nil {
			return res, err
		}
		if _, err := orders.Start(who, o.ID, ""); err != nil {
			return res, err
		}
	}
	log.printf("%s all three bodies sign for (签收) and start", stamp(clk))
	if err := settle(); err != nil {
		return res, err
	}

	// 4. The next afternoon the work is done: the street team stops the
	// truck at the site gate, the bureau has the site fix its wheel wash, and
	// the detachment decides a 2,000 yuan fine, which its officer records on
	// the case file while the case is still in hand. The operator's name is
	// personal data: it masks itself and stays off the bus.
	_ = clk.Set(time.Date(2024, 3, 7, 16, 0, 0, 0, cst))
	payer, err := pii.NewName("重庆某渣土运输有限公司")
	if err != nil {
		return res, err
	}
	inc, err := incidents.RecordPenalty(access.WithActor(ctx, staff["jlp-transport"]), id, incident.Penalty{
		Decision: "九交执罚〔2024〕0412号", Basis: "《重庆市城市建筑垃圾管理条例》", Payer: payer, Amount: *apd.New(2000, 0),
	})
	if err != nil {
		return res, err
	}
	res.Fine = inc.Penalties[0]
	log.printf("%s %s records penalty %s: %s yuan, payer %v", stamp(clk), res.Fine.DecidedBy, res.Fine.Decision, res.Fine.Amount.Text('f'), res.Fine.Payer)
	notes := map[string]string{
		"sqp-enforce":   "truck 渝A·D3721 stopped at the site gate; weighbridge 1.6× rated load",
		"jlp-urban":     "site JLP-2024-0117: wheel wash and load covers put right",
		"jlp-transport": fmt.Sprintf("penalty decision %s: fine %s yuan", res.Fine.Decision, res.Fine.Amount.Text('f')),
	}
	for _, body := range []string{"sqp-enforce", "jlp-urban", "jlp-transport"} { // the lead finishes last
		for _, o := range page.Orders {
			if o.Body == body {
				if _, err := orders.Complete(access.WithActor(ctx, staff[body]), o.ID, notes[body]); err != nil {
					return res, err
				}
				log.printf("%s %s done: %s", stamp(clk), body, notes[body])
			}
		}
	}
	if err := settle(); err != nil {
		return res, err
	}

	// 5. A Banan grid member, not the handler, checks on site; the case
	// closes with the fine on record, and the centre rates the outcome.
	_ = clk.Set(time.Date(2024, 3, 8, 10, 0, 0, 0, cst))
	if _, err := incidents.BeginVerification(banan, id, "the detachment reports a fine"); err != nil {
		return res, err
	}
	res.VerifiedBy = "bn-grid-liu"
	verifier := as(ctx, res.VerifiedBy, access.GridMember, "", "500113002", "verifier")
	inc, err = incidents.Verify(verifier, id, true, "no overloaded trucks from the site on camera since; fine "+res.Fine.Amount.Text('f')+" yuan")
	if err != nil {
		return res, err
	}
	log.printf("%s verified by %s: %s %s", stamp(clk), res.VerifiedBy, inc.Status, inc.Resolution)
	_ = clk.Set(time.Date(2024, 3, 8, 10, 30, 0, 0, cst))
	if inc, err = incidents.Evaluate(banan, id, 5, "handled across districts in under three days"); err != nil {
		return res, err
	}
	if err := settle(); err != nil {
		return res, err
	}

	res.Status, res.Resolution, res.Handlers, res.Rating = inc.Status, inc.Resolution, inc.Handlers, inc.Rating
	res.Elapsed = inc.Times.Closed.Sub(inc.Times.Reported)
	for _, e := range jlpScreen.events() {
		if e.Event == dispatch.EventOffered {
			res.Inbox = append(res.Inbox, e.Body)
		}
	}
	for _, e := range sqpScreen.events() {
		if e.Event == dispatch.EventOffered {
			res.StreetInbox = append(res.StreetInbox, e.Order)
		}
	}
	for _, e := range bnScreen.events() {
		res.BananSaw = append(res.BananSaw, e.Event)
	}
	if res.Timeline, err = incidents.Timeline(banan, id); err != nil {
		return res, err
	}
	if err := incidents.VerifyTimeline(banan, id); err != nil {
		return res, err
	}
	for _, e := range res.Timeline {
		log.printf("  %d %-19s %-20s %s", e.Seq, e.Action, e.ActorID, e.To)
	}
	res.Incidents, res.Orders = incidents.Store(), orders.Store()
	return res, nil
}

// toDispatch routes a registered case. Incident events carry no
// attributes, so the bridge reads the case for the truck's permit: the
// asset that decides where the case goes.
func toDispatch(ctx context.Context, log *logger, incidents *incident.Service, router *dispatch.Router, orders *dispatch.Service, m bus.Message) error {
	c, ok, err := dispatch.CaseFromIncident(m)
	if err != nil || !ok {
		return err
	}
	id, err := uuid.Parse(c.ID)
	if err != nil {
		return err
	}
	inc, err := incidents.Get(ctx, id)
	if err != nil {
		return err
	}
	if p := inc.Attributes["permit"]; len(p) > 0 {
		c.Asset = "muck-permit:" + p[0]
	}
	d, err := router.Route(c)
	if err != nil {
		return err
	}
	var co []string
	for _, a := range d.Co {
		co = append(co, a.Body.ID)
	}
	how := "the owner of " + c.Asset
	if d.Rule != nil {
		how = "area rule " + d.Rule.ID
	}
	log.printf("  dispatch: %s → lead %s, co %s", how, d.Lead.Body.ID, strings.Join(co, ", "))
	_, _, err = orders.Dispatch(ctx, c)
	if errors.Is(err, dispatch.ErrAlreadyDispatched) {
		return nil // a redelivery
	}
	return err
}

// handlingUnits tells the incident service where the bodies handling a
// case serve: the jurisdictions of the bodies of its work orders in
// dispatch's store, none before it is dispatched.
func handlingUnits(orders dispatch.Store, org *dispatch.Org) func(context.Context, uuid.UUID) ([]region.Code, error) {
	return func(ctx context.Context, id uuid.UUID) ([]region.Code, error) {
		cf, err := orders.CaseFile(ctx, id.String())
		if errors.Is(err, dispatch.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		var units []region.Code
		for _, oid := range cf.Orders {
			o, err := orders.Order(ctx, oid)
			if err != nil {
				return nil, err
			}
			if body, err := org.Body(o.Body); err == nil {
				units = append(units, body.Jurisdiction)
			}
		}
		return units, nil
	}
}
