// Command oildepot runs scenario S12 of the guide, an oil depot's major
// hazard source, on govkit's embedded defaults (memdb stores, the
// in-process bus, a manual clock), in well under a second.
//
// Tank farm 1 of the Tiaodeng oil depot in Dadukou (500104) holds 6,000 t
// of petrol: GB 18218 grades it a major hazard source of grade 2, orange.
// During a night receipt its level sensors and a gas detector report over
// the bus, which two consumer groups read: sensor ingestion with its rule
// engine, and the risk service, whose reading rules turn the tank level
// into a live signal that lifts the tank farm above its static orange to
// red. When the gas detector sees a leak, the leak alarm starts the
// emergency agent: concentric hazard zones around the tank farm, the people
// registered in each, an evacuation plan over the depot's emergency
// resources (5 assembly points, 8 shelters, 5 supply depots, 6 teams of 200
// people in all), and a public warning in CAP 1.2. At 03:10 the sports
// centre shelter is handed to the fire brigade as a staging area; the plan
// is made again, keeping everyone it can where they were going.
//
//	go run ./examples/oildepot
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/clock"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/risk"
	"github.com/govkit/govkit/sensor"
)

func main() {
	res, err := run(context.Background(), os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "oildepot:", err)
		os.Exit(1)
	}
	fmt.Println(res.Summary())
}

// Result is what the example's test checks.
type Result struct {
	TankFarm uuid.UUID
	Static   risk.Result // the GB 18218 assessment
	Live     risk.Level  // the level once the tank is overfilling
	Leak     sensor.Alarm
	Impact   risk.Impact
	Plan     risk.EvacuationPlan
	Closed   string // the shelter withdrawn at 03:10
	Replan   risk.EvacuationPlan
	Moves    []risk.Move
	Warning  risk.AreaWarning
	CAP      []byte // the warning as a CAP 1.2 document
	Points   risk.Store
}

// Summary is a one-line account of the outcome.
func (r Result) Summary() string {
	return fmt.Sprintf("tank farm static %s (grade %d), live %s; leak: %d people in %d zones, %d placed in %d shelters, %d depots, %d teams; %s closes: %d placed, %d moved; CAP %s",
		r.Static.Colour, r.Static.Grade, r.Live.Colour, r.Impact.Population, len(r.Impact.Zones), r.Plan.Placed,
		used(r.Plan.Loads), len(r.Plan.Depots), len(r.Plan.Teams), r.Closed, r.Replan.Placed, moved(r.Moves), r.Warning.ID)
}

var cst = time.FixedZone("CST", 8*3600)

func run(ctx context.Context, out io.Writer) (Result, error) {
	var res Result
	log := &logger{out: out}
	clk := clock.NewManual(time.Date(2025, 6, 12, 2, 0, 0, 0, cst))
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
	office := access.WithActor(ctx, access.Actor{ID: "ddk-emergency-office", Kind: access.DistrictStaff, Scope: "500104"})

	// Risk: the tank farm, graded by GB 18218, and the people around it.
	cat, err := risk.NewCatalogue([]risk.HazardClass{
		{Code: "hazchem", Name: "危险化学品"},
		{Code: "hazchem.oil-tank", Name: "油气储罐区", Parent: "hazchem", Method: "gb18218"},
	})
	if err != nil {
		return res, err
	}
	risks, err := risk.NewService(risk.Config{Catalogue: cat, Regions: regions, Authorizer: az, Bus: b, Clock: clk,
		ReadingRules: []risk.ReadingRule{{Metric: "level", Unit: "%", Classes: []string{"hazchem.oil-tank"}, TTL: time.Hour,
			Bands: []risk.ReadingBand{{Colour: risk.Red, Threshold: 95}, {Colour: risk.Orange, Threshold: 90}}}}})
	if err != nil {
		return res, err
	}
	defer risks.Shutdown()
	for _, bd := range buildings {
		if _, err := risks.RegisterBuilding(office, bd); err != nil {
			return res, err
		}
	}
	farm, err := risks.Create(office, risk.Point{Name: "跳磴油库 1号罐区 tank farm 1", Class: "hazchem.oil-tank", Geometry: depot,
		Enterprise: "91500104MA5EXAMPLE", Sensors: []string{"LT-101", "LT-102"},
		Holdings: []risk.Holding{{Substance: "汽油", Quantity: risk.MustDecimal("6000")}},
		Controls: []risk.Control{{Kind: "engineering", Name: "储罐液位高高联锁"}, {Kind: "engineering", Name: "可燃气体检测报警"}}})
	if err != nil {
		return res, err
	}
	if farm, err = risks.Assess(office, farm.ID, "", risk.Inputs{}); err != nil { // α counts the registered people within 500 m
		return res, err
	}
	res.TankFarm, res.Static = farm.ID, farm.Assessment.Result
	log.printf("%s tank farm 1: %s → grade %d, %s", stamp(clk), farm.Assessment.Derivation.Formula, farm.Assessment.Grade, farm.Level.Colour)

	// Sensing: level sensors and a gas detector; the leak rule.
	reg := sensor.NewRegistry()
	for _, p := range []sensor.Profile{
		{Name: "tank-level", Resources: []sensor.Resource{{Name: "level", Unit: "%", Min: 0, Max: 100, Interval: 5 * time.Minute}}},
		{Name: "gas-detector", Resources: []sensor.Resource{{Name: "lel", Unit: "%LEL", Min: 0, Max: 100, Interval: 5 * time.Minute}}},
	} {
		if err := reg.AddProfile(p); err != nil {
			return res, err
		}
	}
	for _, d := range []sensor.Device{
		{ID: "LT-101", Profile: "tank-level", Location: depot, Asset: "tank:T-101"},
		{ID: "LT-102", Profile: "tank-level", Location: depot, Asset: "tank:T-102"},
		{ID: "GD-101", Profile: "gas-detector", Location: depot, Asset: "tank-farm:1"},
	} {
		if d.Grid, err = gridOf(regions, d.Location); err != nil {
			return res, err
		}
		if _, err := reg.Register(d); err != nil {
			return res, err
		}
	}
	eng, err := sensor.NewEngine(reg, clk, b, sensor.EngineOptions{Authorizer: az, Hierarchy: regions})
	if err != nil {
		return res, err
	}
	defer eng.Close()
	leakRule, err := sensor.ParseRule([]byte(`{"id": "tank-farm-leak", "name": "可燃气体泄漏",
	  "scope": {"profile": "gas-detector", "resource": "lel", "grid": "500104"},
	  "raise": [{"severity": "critical", "op": ">=", "value": 25}], "clear": {"op": "<", "value": 10}, "count": 2}`))
	if err != nil {
		return res, err
	}
	if err := eng.AddRule(ctx, leakRule); err != nil {
		return res, err
	}
	in, err := sensor.NewIngester(reg, sensor.IngestOptions{Authorizer: az, Area: "500104", Observers: []sensor.Observer{eng}, Clock: clk})
	if err != nil {
		return res, err
	}
	defer func() { _ = in.Close(ctx) }()

	// The wiring: telemetry feeds ingestion and, as a second consumer group,
	// the risk service's live signals; the leak alarm feeds the agent.
	platform := access.WithActor(ctx, access.Actor{ID: "ddk-iot-platform", Kind: access.SensorSystem, Scope: "500104"})
	if _, err := in.Subscribe(platform, b, "iot.oil.*.up", "ingest"); err != nil {
		return res, err
	}
	sensorSystem := access.Actor{ID: "ddk-iot-platform", Kind: access.SensorSystem, Scope: "500104"}
	if _, err := b.Subscribe(ctx, "iot.oil.*.up", "risk-live", log.handler(risks.Handler(sensorSystem, levelReadings(reg)))); err != nil {
		return res, err
	}
	agent := &leakAgent{log: log, risks: risks, ctx: office}
	if _, err := b.Subscribe(ctx, "gov.*.*.*.sensor.alarm.raised", "leak-agent", log.handler(agent.handle)); err != nil {
		return res, err
	}
	settle := func() error {
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		for range 2 {
			if err := b.Drain(dctx); err != nil {
				return err
			}
			if err := in.Drain(dctx); err != nil {
				return err
			}
		}
		return log.failure()
	}

	// 1. A night receipt overfills tank T-101; at 02:25 the gas detector at
	// the tank farm reads a leak twice in a row.
	level := []float64{88.0, 89.6, 91.2, 93.0, 95.3, 96.1}
	lel := []float64{0, 1, 0, 2, 31, 47}
	for i := range level {
		for _, r := range []struct {
			dev, res string
			v        float64
		}{{"LT-101", "level", level[i]}, {"LT-102", "level", 61.0}, {"GD-101", "lel", lel[i]}} {
			if err := publish(ctx, b, r.dev, r.res, r.v, clk.Now(), uint64(i+1)); err != nil {
				return res, err
			}
		}
		if err := settle(); err != nil {
			return res, err
		}
		p, err := risks.Get(office, farm.ID)
		if err != nil {
			return res, err
		}
		log.printf("%s T-101 level %.1f%%, gas %.0f%% LEL → tank farm %s (static %s)", stamp(clk), level[i], lel[i], p.Level.Colour, p.Level.Static)
		if agent.result().alarm.ID == "" {
			res.Live = p.Level // raised by the readings alone, before the leak's warning
		}
		if i < len(level)-1 {
			clk.Advance(5 * time.Minute)
		}
	}
	plan := agent.result()
	if plan.alarm.ID == "" {
		return res, fmt.Errorf("no leak alarm")
	}
	res.Leak, res.Impact, res.Plan, res.Warning, res.CAP = plan.alarm, plan.impact, plan.plan, plan.warning, plan.cap
	for _, a := range res.Plan.Assignments {
		log.printf("      %-28s → %-22s via %-14s %5d people, %4.1f km", a.Group, a.Shelter, a.Assembly, a.People, a.Distance/1000)
	}
	log.printf("      not used (closed or inside the hazard): %s", strings.Join(res.Plan.Excluded, ", "))
	log.printf("      depots %s; teams %s", called(res.Plan.Depots), called(res.Plan.Teams))

	// 2. At 03:10 the sports centre goes to the fire brigade: plan again,
	// keeping everyone who can stay where they were going.
	_ = clk.Set(time.Date(2025, 6, 12, 3, 10, 0, 0, cst))
	res.Closed = "大渡口体育中心"
	now := resources()
	for i := range now.Shelters {
		now.Shelters[i].Closed = now.Shelters[i].ID == res.Closed
	}
	if res.Replan, err = risk.Replan(res.Plan, risk.PlanInput{Hazard: plan.hazard, Groups: res.Impact.Groups(), Resources: now}); err != nil {
		return res, err
	}
	res.Moves = risk.Diff(res.Plan, res.Replan)
	log.printf("%s %s withdrawn: plan again, %d of %d placed, %d unplaced", stamp(clk), res.Closed, res.Replan.Placed, res.Replan.People, len(res.Replan.Unplaced))
	for _, m := range res.Moves {
		log.printf("      %-28s %-22s %5d → %d", m.Group, m.Shelter, m.Before, m.After)
	}
	if err := settle(); err != nil {
		return res, err
	}
	res.Points = risks.Store()
	return res, nil
}

// levelReadings decodes device messages for the risk side: a reading of a
// tank's level becomes a risk.Reading of the sensor, others are ignored.
func levelReadings(reg *sensor.Registry) func(bus.Message) (risk.Observation, error) {
	return func(m bus.Message) (risk.Observation, error) {
		rs, err := sensor.DecodeJSON(reg, m.Data, nil)
		if err != nil {
			return risk.Observation{}, fmt.Errorf("%w: %w", risk.ErrInvalidInput, err)
		}
		for _, r := range rs {
			res, err := reg.Resource(r.Device, r.Resource)
			if err == nil && res.Name == "level" {
				return risk.Observation{Reading: &risk.Reading{Sensor: reg.ID(r.Device), Metric: "level", Value: r.Value, At: r.Observed}}, nil
			}
		}
		return risk.Observation{}, nil
	}
}

// publish sends one device message, as the depot's gateway does.
func publish(ctx context.Context, b bus.Publisher, device, resource string, v float64, at time.Time, seq uint64) error {
	data, err := json.Marshal(map[string]any{"device": device, "ts": at.UnixMilli(), "seq": seq, "readings": map[string]float64{resource: v}})
	if err != nil {
		return err
	}
	m := bus.NewMessage("iot.oil."+device+".up", data)
	m.Key = device
	return b.Publish(ctx, m)
}

// leakPlan is what the agent made of a leak alarm.
type leakPlan struct {
	alarm   sensor.Alarm
	hazard  risk.Hazard
	impact  risk.Impact
	plan    risk.EvacuationPlan
	warning risk.AreaWarning
	cap     []byte
}

// leakAgent turns a leak alarm into hazard zones, an evacuation plan and a
// public warning.
type leakAgent struct {
	log   *logger
	risks *risk.Service
	ctx   context.Context // the district's emergency office
	mu    sync.Mutex
	last  leakPlan
}

func (a *leakAgent) handle(_ context.Context, m bus.Message) error {
	ev, err := sensor.DecodeAlarmEvent(m)
	if err != nil || ev.Alarm.Rule != "tank-farm-leak" {
		return err
	}
	al := ev.Alarm
	at := al.Raised.In(cst)
	h := risk.Hazard{ID: "leak-" + al.ID, Name: "跳磴油库 1号罐区 汽油泄漏", Jurisdiction: "500104", Center: al.Location,
		Zones: []risk.Zone{{Name: "核心区 core", Radius: 300, Colour: risk.Red}, {Name: "危险区 danger", Radius: 800, Colour: risk.Orange},
			{Name: "疏散区 evacuation", Radius: 1500, Colour: risk.Yellow}}}
	im, plan, err := a.risks.PlanEvacuation(a.ctx, h, resources())
	if err != nil {
		return err
	}
	a.log.printf("%s leak alarm on %s (%.0f%% LEL): %d people in %d buildings within 1.5 km", at.Format("15:04"), al.Device, al.Value, im.Population, im.Buildings)
	for _, z := range im.Zones {
		a.log.printf("      %-18s ≤ %4.0f m: %5d people, %d risk points", z.Zone.Name, z.Zone.Radius, z.Population, len(z.RiskPoints))
	}
	zone, err := geo.Circle(al.Location, 1500, 36) // holds the whole 1.5 km circle
	if err != nil {
		return err
	}
	w, err := a.risks.IssueWarning(a.ctx, risk.AreaWarning{ID: "CQ-DDK-" + at.Format("20060102-1504"), Kind: "hazmat-leak",
		Event: "危险化学品泄漏疏散 hazardous chemical leak, evacuate", Colour: risk.Red, Jurisdiction: "500104",
		Areas:       []risk.WarningArea{{Code: "evac-1500", Name: "跳磴油库周边1.5公里", Area: geo.MultiPolygon{zone}}},
		Headline:    "跳磴油库汽油泄漏，周边1.5公里居民请立即疏散",
		Description: fmt.Sprintf("%s 跳磴油库1号罐区可燃气体浓度 %.0f%% LEL。", at.Format("15:04"), al.Value),
		Instruction: "按网格员指引前往集中疏散点，勿使用明火，关闭门窗。", Sender: "大渡口区应急管理局",
		From: al.Raised, Until: al.Raised.Add(12 * time.Hour)})
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := w.WriteCAP(&buf, risk.CAPOptions{Sender: "yjj@ddk.cq.gov.cn", Category: "Safety", Urgency: "Immediate", Certainty: "Observed"}); err != nil {
		return err
	}
	a.log.printf("%s warning %s issued, %d risk points raised; CAP 1.2, %d bytes; plan: %d of %d people placed",
		at.Format("15:04"), w.ID, len(w.Raised), buf.Len(), plan.Placed, plan.People)
	a.mu.Lock()
	a.last = leakPlan{alarm: al, hazard: h, impact: im, plan: plan, warning: w, cap: buf.Bytes()}
	a.mu.Unlock()
	return nil
}

// result returns the agent's plan; call it once the bus has drained.
func (a *leakAgent) result() leakPlan {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.last
}

func called(cs []risk.Called) string {
	var s []string
	for _, c := range cs {
		if c.Members > 0 {
			s = append(s, fmt.Sprintf("%s (%d)", c.ID, c.Members))
		} else {
			s = append(s, c.ID)
		}
	}
	return strings.Join(s, ", ")
}

func used(loads []risk.ShelterLoad) int {
	n := 0
	for _, l := range loads {
		if l.Assigned > 0 {
			n++
		}
	}
	return n
}

func moved(ms []risk.Move) int {
	n := 0
	for _, m := range ms {
		n += max(m.After-m.Before, 0)
	}
	return n
}

func stamp(clk clock.Clock) string { return clk.Now().In(cst).Format("15:04") }
