// Command waterburst runs scenario S4 of the guide, the water-main burst
// agent, on govkit's embedded defaults (memdb stores, the in-process bus, a
// manual clock), in well under a second.
//
// Five pressure sensors on the DN600 main under Keyuan 1st Road in
// Jiulongpo stream readings through a gateway onto the bus; sensor
// ingestion feeds the rule engine. At 09:00 the main breaks: a rate-of-drop
// rule correlated by asset raises one burst alarm, located between the
// sensors that dropped most, and a low-pressure rule on the worst sensor
// raises a second alarm two minutes later. A subscriber turns alarms into
// incident reports; the second, on the same main, is merged into the first
// case. The burst agent then computes the outage area (the corridor between
// the valves around the break), the risk points and people in it, the
// nearest emergency warehouse and repair crew, and the repair time, and
// starts the burst playbook across the water company, traffic police, road
// authority and street office. The departments work through it; pressure
// comes back, the alarms clear, and the street centre closes the case.
//
//	go run ./examples/waterburst
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/google/uuid"
	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/clock"
	"github.com/govkit/govkit/dispatch"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/incident"
	"github.com/govkit/govkit/sensor"
)

func main() {
	res, err := run(context.Background(), os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "waterburst:", err)
		os.Exit(1)
	}
	fmt.Println(res.Summary())
}

// Result is what the example's test checks.
type Result struct {
	Incident  uuid.UUID
	Alarms    []string // the rules whose alarms opened the case, in order
	Receipts  []incident.Receipt
	Estimate  geo.Point // where the burst alarm put the break
	Plan      burstPlan // what the agent worked out
	Steps     map[string]string
	Finished  time.Time // when the playbook's last step was done
	Status    incident.Status
	OpenAfter int // alarms still open once pressure is back
	Incidents incident.Store
	Orders    dispatch.Store
}

// Summary is a one-line account of the outcome.
func (r Result) Summary() string {
	return fmt.Sprintf("%d alarms, 1 case (%s); outage: %d risk points, %d people; warehouse %s; crew %s; playbook done %s; %d alarms open",
		len(r.Alarms), r.Status, r.Plan.Impact.RiskPoints, r.Plan.Impact.Population, r.Plan.Depot, r.Plan.Crew,
		r.Finished.In(cst).Format("15:04"), r.OpenAfter)
}

var cst = time.FixedZone("CST", 8*3600)

func run(ctx context.Context, out io.Writer) (Result, error) {
	res := Result{Steps: map[string]string{}}
	log := &logger{out: out}
	clk := clock.NewManual(time.Date(2025, 9, 4, 8, 55, 0, 0, cst))
	regions, err := world()
	if err != nil {
		return res, err
	}
	az := access.AllowAll() // an open service, as a visible choice: see examples/mucktruck for a policy
	b, err := bus.NewMemory(bus.MemoryOptions{})
	if err != nil {
		return res, err
	}
	defer b.Close()

	// Sensing: the registry, the rule engine and ingestion from the bus.
	reg := sensor.NewRegistry()
	if err := reg.AddProfile(sensor.Profile{Name: "pipe-pressure", Resources: []sensor.Resource{
		{Name: "pressure", Unit: "MPa", Min: 0, Max: 2.5, Interval: time.Minute}}}); err != nil {
		return res, err
	}
	for i, p := range sensorsOnMain {
		grid, err := regions.Locate(p)
		if err != nil {
			return res, err
		}
		if _, err := reg.Register(sensor.Device{ID: fmt.Sprintf("pp-%d", i+1), Profile: "pipe-pressure",
			Location: p, Grid: grid.Code, Asset: mainKY1.ID}); err != nil {
			return res, err
		}
	}
	eng, err := sensor.NewEngine(reg, clk, b, sensor.EngineOptions{Authorizer: az, Hierarchy: regions})
	if err != nil {
		return res, err
	}
	defer eng.Close()
	rules, err := sensor.ParseRules([]byte(`[
	  {"id": "main-burst", "scope": {"profile": "pipe-pressure", "resource": "pressure", "grid": "500107"},
	   "raise": [{"severity": "critical", "kind": "rate", "op": "<", "value": -0.1, "window": "5m"}],
	   "clear": {"op": ">", "value": 0.3}, "correlate": {"by": "asset", "window": "5m"}},
	  {"id": "main-low-pressure", "scope": {"profile": "pipe-pressure", "resource": "pressure", "grid": "500107"},
	   "raise": [{"severity": "major", "op": "<", "value": 0.2}], "clear": {"op": ">", "value": 0.3}, "for": "2m"}]`))
	if err != nil {
		return res, err
	}
	for _, r := range rules {
		if err := eng.AddRule(ctx, r); err != nil {
			return res, err
		}
	}
	in, err := sensor.NewIngester(reg, sensor.IngestOptions{Authorizer: az, Area: "500107", Observers: []sensor.Observer{eng}, Clock: clk})
	if err != nil {
		return res, err
	}
	defer func() { _ = in.Close(ctx) }()
	platform := access.WithActor(ctx, access.Actor{ID: "cq-water-iot", Kind: access.SensorSystem, Scope: "500107"})
	if _, err := in.Subscribe(platform, b, "iot.water.*.up", "ingest"); err != nil {
		return res, err
	}

	// The case file: alarms on one asset are one case.
	cat, err := incident.NewCatalogue([]incident.Category{{
		Code: "water-main-burst", Name: "供水主管爆管 water-main burst", Kind: incident.Asset, Priority: incident.Urgent,
		SLA: incident.SLA{Register: 30 * time.Minute, Dispose: 12 * time.Hour, Verify: 4 * time.Hour},
		Attributes: []incident.Attribute{
			{Code: "asset", Description: "the main", Type: incident.String, Required: true, Order: 1},
			{Code: "rule", Description: "the alarm rule", Type: incident.String, Order: 2},
		},
	}})
	if err != nil {
		return res, err
	}
	incidents, err := incident.NewService(incident.Config{Catalogue: cat, Regions: regions, Authorizer: az, Bus: b, Clock: clk,
		AutoMerge: incident.SameAttribute("asset")})
	if err != nil {
		return res, err
	}
	defer incidents.Shutdown()

	// Risk: the points and registered population around the main.
	risks, err := riskService(ctx, regions, az, clk)
	if err != nil {
		return res, err
	}
	defer risks.Shutdown()

	// Dispatch: the departments and the burst playbook; the repair crews.
	orders, err := dispatchService(az, b, clk, regions)
	if err != nil {
		return res, err
	}
	defer orders.Shutdown()
	crews := dispatch.NewResponders(clk, dispatch.WithMaxPositionAge(time.Hour))
	for _, c := range repairCrews {
		if err := crews.Register(dispatch.Responder{ID: c.id, Body: "cq-water", Skills: []string{"main-repair"}}); err != nil {
			return res, err
		}
		if err := crews.UpdatePosition(c.id, c.at, clk.Now()); err != nil {
			return res, err
		}
		if c.busy {
			_ = crews.SetStatus(c.id, dispatch.Busy)
		}
	}

	// The wiring, through the bus.
	agent := access.WithActor(ctx, access.Actor{ID: "jlp-burst-agent", Kind: access.AutomationSystem, Scope: "500107"})
	intake := &alarmIntake{log: log, incidents: incidents, ctx: platform}
	burst := &burstAgent{log: log, incidents: incidents, risks: risks, orders: orders, crews: crews}
	subs := []struct {
		pattern, group string
		h              bus.Handler
	}{
		{"gov.*.*.*.sensor.alarm.raised", "alarm-intake", intake.handle},
		{"gov.*.*.*.incident.registered", "burst-agent", func(_ context.Context, m bus.Message) error { return burst.handle(agent, m) }},
	}
	for _, s := range subs {
		if _, err := b.Subscribe(ctx, s.pattern, s.group, log.handler(s.h)); err != nil {
			return res, err
		}
	}
	if _, err := incidents.FollowDispatch(agent, b, "incident-bridge"); err != nil {
		return res, err
	}
	settle := func() error {
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		for range 2 { // the bus feeds ingestion, whose alarms feed the bus
			if err := b.Drain(dctx); err != nil {
				return err
			}
			if err := in.Drain(dctx); err != nil {
				return err
			}
		}
		if err := b.Drain(dctx); err != nil {
			return err
		}
		return log.failure()
	}

	// 1. Readings stream in every minute; the main breaks at 09:00 between
	// pp-3 and pp-4, and stays broken.
	normal := []float64{0.42, 0.41, 0.42, 0.43, 0.42}
	broken := []float64{0.41, 0.37, 0.11, 0.23, 0.36}
	for tick := range 9 {
		p := normal
		if clk.Now().Hour() >= 9 {
			p = broken
		}
		if err := publishReadings(ctx, b, clk.Now(), uint64(tick+1), p); err != nil {
			return res, err
		}
		if err := settle(); err != nil {
			return res, err
		}
		clk.Advance(time.Minute)
		if err := settle(); err != nil {
			return res, err
		}
	}
	res.Receipts, res.Alarms = intake.results()
	if len(res.Receipts) == 0 {
		return res, fmt.Errorf("no alarm opened a case")
	}
	res.Incident, res.Estimate = res.Receipts[0].Incident.ID, res.Receipts[0].Incident.Location.Point
	res.Plan = burst.result()

	// 2. The departments work through the playbook, each step taking its
	// time; steps whose predecessors are done are offered at once.
	who := map[string]string{"cq-water": res.Plan.Crew, "jlp-traffic": "jlp-traffic-zhang", "jlp-road": "jlp-road-liu",
		"sqp-office": "sqp-office-huang", "cq-telecom": "cq-telecom-ma"}
	took := map[string]time.Duration{"confirm": 20 * time.Minute, "shut-valve": 25 * time.Minute, "traffic": 15 * time.Minute,
		"residents": 30 * time.Minute, "tanker": 45 * time.Minute, "telecom": time.Hour, "repair": res.Plan.Repair,
		"restore-road": 2 * time.Hour, "verify": 30 * time.Minute}
	caseID := res.Incident.String()
	due := map[uuid.UUID]time.Time{}
	step := map[uuid.UUID]dispatch.StepProgress{}
	for {
		prog, err := orders.Progress(agent, caseID)
		if err != nil {
			return res, err
		}
		for _, p := range prog {
			res.Steps[p.Step] = p.State
			if p.State != "offered" {
				continue
			}
			crew := access.WithActor(ctx, access.Actor{ID: who[p.Body], Kind: access.DepartmentHandler, Department: p.Body, Scope: "500107"})
			if _, err := orders.SignFor(crew, p.Order, ""); err != nil {
				return res, err
			}
			if _, err := orders.Start(crew, p.Order, ""); err != nil {
				return res, err
			}
			due[p.Order], step[p.Order] = clk.Now().Add(took[p.Step]), p
		}
		if len(due) == 0 {
			break
		}
		next := earliest(due)
		_ = clk.Set(due[next])
		delete(due, next)
		p := step[next]
		crew := access.WithActor(ctx, access.Actor{ID: who[p.Body], Kind: access.DepartmentHandler, Department: p.Body, Scope: "500107"})
		if _, err := orders.Complete(crew, next, ""); err != nil {
			return res, err
		}
		log.printf("%s %-12s done: %s (%s)", stamp(clk), p.Step, p.Name, p.Body)
		res.Finished = clk.Now()
		if err := settle(); err != nil {
			return res, err
		}
	}

	for st, state := range res.Steps {
		if state == "skipped" {
			log.printf("      %-12s skipped: its condition does not hold (facts %v)", st, res.Plan.Facts)
		}
	}

	// 3. Pressure comes back; the alarms clear; the street centre checks
	// and closes the case (the verifier is not the handler).
	if err := publishReadings(ctx, b, clk.Now(), 100, normal); err != nil {
		return res, err
	}
	if err := settle(); err != nil {
		return res, err
	}
	open, err := eng.Alarms(platform, sensor.AlarmFilter{Status: sensor.AlarmActive})
	if err != nil {
		return res, err
	}
	res.OpenAfter = len(open)
	centre := access.WithActor(ctx, access.Actor{ID: "sqp-centre-zhou", Kind: access.StreetStaff, Scope: "500107001"})
	if _, err := incidents.BeginVerification(centre, res.Incident, ""); err != nil {
		return res, err
	}
	inc, err := incidents.Verify(centre, res.Incident, true, "pressure 0.42 MPa at pp-3; road reopened")
	if err != nil {
		return res, err
	}
	res.Status = inc.Status
	log.printf("%s pressure back, %d alarms open; case %s by %s", stamp(clk), res.OpenAfter, inc.Status, "sqp-centre-zhou")
	res.Incidents, res.Orders = incidents.Store(), orders.Store()
	return res, nil
}

// publishReadings sends one gateway message with a reading of every sensor
// on the main, as a field gateway does over MQTT.
func publishReadings(ctx context.Context, b bus.Publisher, at time.Time, seq uint64, mpa []float64) error {
	type msg struct {
		Device   string             `json:"device"`
		TS       int64              `json:"ts"`
		Seq      uint64             `json:"seq"`
		Readings map[string]float64 `json:"readings"`
	}
	var batch []msg
	for i, v := range mpa {
		batch = append(batch, msg{Device: fmt.Sprintf("pp-%d", i+1), TS: at.UnixMilli(), Seq: seq, Readings: map[string]float64{"pressure": v}})
	}
	data, err := json.Marshal(batch)
	if err != nil {
		return err
	}
	m := bus.NewMessage("iot.water.gw-ky1.up", data)
	m.Key = "gw-ky1"
	return b.Publish(ctx, m)
}

// earliest returns the order due first, by time and then by ID.
func earliest(due map[uuid.UUID]time.Time) uuid.UUID {
	var best uuid.UUID
	for id, t := range due {
		if best == uuid.Nil || t.Before(due[best]) || t.Equal(due[best]) && id.String() < best.String() {
			best = id
		}
	}
	return best
}

func stamp(clk clock.Clock) string { return clk.Now().In(cst).Format("15:04") }
