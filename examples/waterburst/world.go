package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/clock"
	"github.com/govkit/govkit/dispatch"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/region"
	"github.com/govkit/govkit/risk"
)

// waterMain is what the water company's asset register says about a main.
type waterMain struct {
	ID       string
	Name     string
	Diameter int         // mm
	Valves   []geo.Point // along the main, west to east
	Road     bool        // laid under a road
}

var mainKY1 = waterMain{ID: "main:JLP-KY1-DN600", Name: "科园一路 DN600 main", Diameter: 600, Road: true,
	Valves: []geo.Point{{Lat: 29.5285, Lon: 106.4620}, {Lat: 29.5285, Lon: 106.4700}, {Lat: 29.5285, Lon: 106.4790}}}

// sensorsOnMain are the pressure sensors pp-1 … pp-5, 300 m apart.
var sensorsOnMain = []geo.Point{
	{Lat: 29.5285, Lon: 106.4650}, {Lat: 29.5285, Lon: 106.4680}, {Lat: 29.5285, Lon: 106.4710},
	{Lat: 29.5285, Lon: 106.4740}, {Lat: 29.5285, Lon: 106.4770},
}

// repairCrews are the water company's repair crews, where they are now.
var repairCrews = []struct {
	id   string
	at   geo.Point
	busy bool
}{
	{"water-crew-huayan", geo.Point{Lat: 29.5100, Lon: 106.4500}, false},
	{"water-crew-keyuan", geo.Point{Lat: 29.5300, Lon: 106.4800}, true}, // nearest, but on another job
	{"water-crew-shiqiaopu", geo.Point{Lat: 29.5350, Lon: 106.4900}, false},
}

// warehouses are the emergency warehouses with pipe-repair materials.
var warehouses = []risk.Site{
	{ID: "华岩应急物资库 Huayan", Point: geo.Point{Lat: 29.5010, Lon: 106.4380}},
	{ID: "石桥铺抢修物资库 Shiqiaopu", Point: geo.Point{Lat: 29.5392, Lon: 106.4880}},
	{ID: "杨家坪物资库 Yangjiaping", Point: geo.Point{Lat: 29.5150, Lon: 106.5100}},
}

// riskService registers the risk points and buildings near the main.
func riskService(ctx context.Context, regions *region.Hierarchy, az access.Authorizer, clk clock.Clock) (*risk.Service, error) {
	cat, err := risk.NewCatalogue([]risk.HazardClass{
		{Code: "water", Name: "供水"},
		{Code: "water.critical-user", Name: "重点用水单位", Parent: "water"},
		{Code: "telecom", Name: "通信"},
		{Code: "telecom.cable-trench", Name: "通信管沟", Parent: "telecom"},
		{Code: "hazchem", Name: "危险化学品"},
		{Code: "hazchem.fuel-station", Name: "加油站", Parent: "hazchem"},
	})
	if err != nil {
		return nil, err
	}
	svc, err := risk.NewService(risk.Config{Catalogue: cat, Regions: regions, Authorizer: az, Clock: clk})
	if err != nil {
		return nil, err
	}
	ops := access.WithActor(ctx, access.Actor{ID: "jlp-emergency-office", Kind: access.DistrictStaff, Scope: "500107"})
	for _, p := range []risk.Point{
		{Name: "九龙坡区中医院 TCM hospital", Class: "water.critical-user", Geometry: geo.Point{Lat: 29.5301, Lon: 106.4752}},
		{Name: "谢家湾小学 Xiejiawan primary school", Class: "water.critical-user", Geometry: geo.Point{Lat: 29.5262, Lon: 106.4728}},
		{Name: "科园加油站 Keyuan fuel station", Class: "hazchem.fuel-station", Geometry: geo.Point{Lat: 29.5360, Lon: 106.4600}},
	} {
		if _, err := svc.Create(ops, p); err != nil {
			svc.Shutdown()
			return nil, err
		}
	}
	for _, bd := range []risk.Building{
		{ID: "KY1-12", Name: "科园一路12号", Point: geo.Point{Lat: 29.5275, Lon: 106.4720}, Occupancy: 860, Kind: "residential"},
		{ID: "KY1-30", Name: "科园一路30号", Point: geo.Point{Lat: 29.5300, Lon: 106.4780}, Occupancy: 1240, Kind: "residential"},
		{ID: "TCM-1", Name: "中医院住院楼", Point: geo.Point{Lat: 29.5301, Lon: 106.4752}, Occupancy: 420, Kind: "hospital"},
		{ID: "XJW-school", Name: "谢家湾小学", Point: geo.Point{Lat: 29.5262, Lon: 106.4728}, Occupancy: 1100, Kind: "school"},
		{ID: "KY2-8", Name: "科园二路8号", Point: geo.Point{Lat: 29.5380, Lon: 106.4600}, Occupancy: 900, Kind: "residential"},
	} {
		if _, err := svc.RegisterBuilding(ops, bd); err != nil {
			svc.Shutdown()
			return nil, err
		}
	}
	return svc, nil
}

// dispatchService knows the departments and the burst playbook: confirm,
// shut the valve, control traffic, tell residents, send a tanker to
// critical users, protect telecom lines, repair, restore the road, verify.
func dispatchService(az access.Authorizer, b bus.Publisher, clk clock.Clock, regions *region.Hierarchy) (*dispatch.Service, error) {
	org, err := dispatch.NewOrg([]dispatch.Body{
		{ID: "cq-water", Name: "Chongqing Water Group, Jiulongpo branch", Function: "water", Jurisdiction: "500107"},
		{ID: "jlp-traffic", Name: "Jiulongpo Traffic Police Detachment", Function: "traffic-police", Jurisdiction: "500107"},
		{ID: "jlp-road", Name: "Jiulongpo Municipal Roads Centre", Function: "road", Jurisdiction: "500107"},
		{ID: "sqp-office", Name: "Shiqiaopu Street Office", Function: "street-office", Jurisdiction: "500107001"},
		{ID: "cq-telecom", Name: "China Telecom Chongqing", Function: "telecom", Jurisdiction: "500000"},
	})
	if err != nil {
		return nil, err
	}
	router, err := dispatch.NewRouter(org, nil, nil)
	if err != nil {
		return nil, err
	}
	water := dispatch.Handler{Body: "cq-water"}
	district := func(f string) dispatch.Handler { return dispatch.Handler{Function: f, Tier: region.District} }
	street := dispatch.Handler{Function: "street-office", Tier: region.Street}
	when := func(fact string) *dispatch.Condition { return &dispatch.Condition{Fact: fact, In: []string{"yes"}} }
	pb := dispatch.Playbook{ID: "water-main-burst", Version: 1, Name: "供水主管爆管处置", Alarms: []string{"pipe-burst"},
		Steps: []dispatch.PlaybookStep{
			{ID: "confirm", Name: "confirm the burst on site", Handler: water},
			{ID: "shut-valve", Name: "shut the isolating valves", Handler: water, After: []string{"confirm"}},
			{ID: "traffic", Name: "close the lane, divert traffic", Handler: district("traffic-police"), After: []string{"confirm"}, When: when("road")},
			{ID: "residents", Name: "tell residents, open water points", Handler: street, After: []string{"confirm"}},
			{ID: "tanker", Name: "tanker water to critical users", Handler: water, After: []string{"confirm"}, When: when("critical-users")},
			{ID: "telecom", Name: "protect telecom lines", Handler: dispatch.Handler{Body: "cq-telecom"}, After: []string{"confirm"}, When: when("telecom-lines")},
			{ID: "repair", Name: "repair the main", Handler: water, After: []string{"shut-valve"}},
			{ID: "restore-road", Name: "restore the road surface", Handler: district("road"), After: []string{"repair", "traffic"}, When: when("road")},
			{ID: "verify", Name: "check supply and reopen", Handler: street, After: []string{"repair", "restore-road", "residents", "tanker", "telecom"}},
		}}
	return dispatch.NewService(dispatch.Config{Router: router, Authorizer: az, Bus: b, Clock: clk, Regions: regions, Playbooks: []dispatch.Playbook{pb},
		Policies: []dispatch.Policy{{Category: "water-main-burst", SignFor: 15 * time.Minute, ReturnWindow: 10 * time.Minute,
			Complete: 12 * time.Hour, RemindEvery: 10 * time.Minute, Reminders: 2, EscalateEvery: time.Hour}}})
}

// world is the part of Jiulongpo the scenario needs: Shiqiaopu street's
// community 1, in 2 × 3 grids.
func world() (*region.Hierarchy, error) {
	units := []region.Unit{
		{Code: "500000", Name: "重庆市 Chongqing"},
		{Code: "500107", Name: "九龙坡区 Jiulongpo", Parent: "500000"},
		{Code: "500107001", Name: "石桥铺街道 Shiqiaopu", Parent: "500107"},
		{Code: "500107001001", Name: "Keyuan community", Parent: "500107001"},
	}
	for r := range 2 {
		for c := range 3 {
			lat, lon := 29.520+0.01*float64(r), 106.455+0.01*float64(c)
			box := geo.BBox{MinLat: lat, MinLon: lon, MaxLat: lat + 0.01, MaxLon: lon + 0.01}
			units = append(units, region.Unit{Code: region.Code(fmt.Sprintf("500107001001%03d", r*3+c+1)),
				Name: fmt.Sprintf("Keyuan grid %d", r*3+c+1), Parent: "500107001001", Boundary: geo.MultiPolygon{box.Rect()}})
		}
	}
	return region.New(units)
}

// logger serialises output and keeps the first error a subscriber met.
type logger struct {
	out io.Writer
	mu  sync.Mutex
	err error
}

func (l *logger) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.out, format+"\n", args...)
}

// handler acknowledges every message and records the first failure (or
// panic), so that run stops with it instead of waiting for redeliveries.
func (l *logger) handler(h bus.Handler) bus.Handler {
	return func(ctx context.Context, m bus.Message) (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("panic: %v", p)
			}
			if err != nil {
				l.mu.Lock()
				if l.err == nil {
					l.err = fmt.Errorf("handling %s: %w", m.Subject, err)
				}
				l.mu.Unlock()
			}
			err = nil
		}()
		return h(ctx, m)
	}
}

func (l *logger) failure() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}
