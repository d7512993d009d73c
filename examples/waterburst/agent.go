package main

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/dispatch"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/incident"
	"github.com/govkit/govkit/risk"
	"github.com/govkit/govkit/sensor"
)

// burstPlan is what the agent worked out for a case.
type burstPlan struct {
	Outage  geo.MultiPolygon
	Impact  risk.Impact
	Depot   string
	Crew    string
	Repair  time.Duration
	Facts   map[string]string
	Started int // work orders offered at once
}

// burstAgent is S4's agent: when a burst case is registered it builds the
// plan and starts the playbook.
type burstAgent struct {
	log       *logger
	incidents *incident.Service
	risks     *risk.Service
	orders    *dispatch.Service
	crews     *dispatch.Responders
	mu        sync.Mutex
	plan      burstPlan
}

func (a *burstAgent) handle(ctx context.Context, m bus.Message) error {
	ev, err := incident.DecodeEvent(m)
	if err != nil || ev.Category != "water-main-burst" {
		return err
	}
	inc, err := a.incidents.Get(ctx, ev.ID)
	if err != nil {
		return err
	}
	if len(inc.Attributes["asset"]) == 0 || inc.Attributes["asset"][0] != mainKY1.ID {
		return fmt.Errorf("unknown main %v", inc.Attributes["asset"])
	}
	var p burstPlan
	// The outage area: 400 m either side of the main between the valves
	// that isolate the break.
	west, east := isolating(mainKY1.Valves, inc.Location.Point)
	p.Outage = corridor(west, east, 400)
	outage := risk.Hazard{ID: "outage-" + ev.ID.String(), Name: "停水区 outage", Jurisdiction: ev.Path[1], Area: p.Outage}
	if p.Impact, err = a.risks.Impact(ctx, outage); err != nil {
		return err
	}
	// The nearest warehouse: risk plans with depots ranked from the area.
	plan, err := risk.Plan(risk.PlanInput{Hazard: outage, Resources: risk.Resources{Depots: warehouses, DepotCount: 1}})
	if err != nil || len(plan.Depots) == 0 {
		return fmt.Errorf("no warehouse: %w", err)
	}
	p.Depot = plan.Depots[0].ID
	// The nearest available repair crew.
	cands, err := a.crews.Nearest(inc.Location.Point, "main-repair", 1, nil)
	if err != nil || len(cands) == 0 {
		return fmt.Errorf("no repair crew: %w", err)
	}
	p.Crew = cands[0].State.ID
	if err := a.crews.Assign(p.Crew); err != nil {
		return err
	}
	p.Repair = time.Duration(mainKY1.Diameter/100) * time.Hour // a DN600 main takes about six hours
	p.Facts = map[string]string{"road": yesNo(mainKY1.Road), "critical-users": "no", "telecom-lines": "no"}
	for _, z := range p.Impact.Zones {
		for _, h := range z.RiskPoints {
			switch h.Class {
			case "water.critical-user":
				p.Facts["critical-users"] = "yes"
			case "telecom.cable-trench":
				p.Facts["telecom-lines"] = "yes"
			}
		}
	}
	c := dispatch.Case{ID: ev.ID.String(), Category: ev.Category, Path: ev.Path, Asset: mainKY1.ID}
	_, offered, err := a.orders.TriggerAlarm(ctx, c, "pipe-burst", p.Facts)
	if err != nil {
		return err
	}
	p.Started = len(offered)
	a.log.printf("agent: outage %d risk points, %d buildings, %d people; warehouse %s (%.0f m); crew %s (%.0f m); repair ~%.0fh",
		p.Impact.RiskPoints, p.Impact.Buildings, p.Impact.Population, p.Depot, plan.Depots[0].Distance,
		p.Crew, cands[0].Distance, p.Repair.Hours())
	a.mu.Lock()
	a.plan = p
	a.mu.Unlock()
	return nil
}

func (a *burstAgent) result() burstPlan {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.plan
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// isolating returns the valves on either side of p along a main laid west
// to east.
func isolating(valves []geo.Point, p geo.Point) (geo.Point, geo.Point) {
	i, _ := slices.BinarySearchFunc(valves, p.Lon, func(v geo.Point, lon float64) int {
		switch {
		case v.Lon < lon:
			return -1
		case v.Lon > lon:
			return 1
		}
		return 0
	})
	i = min(max(i, 1), len(valves)-1)
	return valves[i-1], valves[i]
}

// corridor returns the rectangle within half metres of the segment a–b,
// ends included: a buffer with square caps. (geo has no buffer operation.)
func corridor(a, b geo.Point, half float64) geo.MultiPolygon {
	mLat := 111_320.0
	mLon := mLat * math.Cos(a.Lat*math.Pi/180)
	dx, dy := (b.Lon-a.Lon)*mLon, (b.Lat-a.Lat)*mLat
	l := math.Hypot(dx, dy)
	ux, uy := dx/l*half, dy/l*half // along the main
	at := func(p geo.Point, x, y float64) geo.Point {
		return geo.Point{Lat: p.Lat + y/mLat, Lon: p.Lon + x/mLon}
	}
	ring := geo.Ring{
		at(a, -ux-uy, -uy+ux), at(b, ux-uy, uy+ux), at(b, ux+uy, uy-ux), at(a, -ux+uy, -uy-ux),
	}
	poly, err := geo.NewPolygon(ring)
	if err != nil {
		panic(err) // a–b is a real segment, so the rectangle is valid
	}
	return geo.MultiPolygon{poly}
}

// alarmIntake turns raised alarms into incident reports, one at a time so
// that a second alarm on a main finds the case the first one opened.
type alarmIntake struct {
	log       *logger
	incidents *incident.Service
	ctx       context.Context // the sensor platform, reporting
	mu        sync.Mutex
	receipts  []incident.Receipt
	rules     []string
}

func (a *alarmIntake) handle(_ context.Context, m bus.Message) error {
	ev, err := sensor.DecodeAlarmEvent(m)
	if err != nil {
		return err
	}
	al := ev.Alarm
	a.mu.Lock()
	defer a.mu.Unlock()
	rc, err := a.incidents.Report(a.ctx, incident.Report{
		Key: "alarm:" + al.ID, Channel: incident.SensorAlarm, Category: "water-main-burst",
		Point: al.Location, Confidence: 0.95, ExternalSystem: "sensor", ExternalID: al.ID,
		Attributes:  map[string][]string{"asset": {al.Asset}, "rule": {al.Rule}},
		Description: fmt.Sprintf("%s %s alarm on %s: %.2f", al.Severity, al.Kind, al.Asset, al.Value),
	})
	if err != nil {
		return err
	}
	what := "opens case " + rc.Incident.ID.String()[:8]
	if rc.MergedInto != uuid.Nil {
		what = "is merged into case " + rc.MergedInto.String()[:8]
	}
	a.log.printf("%s %s alarm (%s) at %.5f, %.5f %s", ev.Time.In(cst).Format("15:04"), al.Kind, al.Rule, al.Location.Lat, al.Location.Lon, what)
	a.receipts, a.rules = append(a.receipts, rc), append(a.rules, al.Rule)
	return nil
}

func (a *alarmIntake) results() ([]incident.Receipt, []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]incident.Receipt(nil), a.receipts...), append([]string(nil), a.rules...)
}
