package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"sync"

	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/region"
	"github.com/govkit/govkit/risk"
)

// depot is tank farm 1 of the Tiaodeng oil depot.
var depot = geo.Point{Lat: 29.4400, Lon: 106.4600}

// off returns the point north and east metres from the tank farm.
func off(north, east float64) geo.Point {
	return geo.Point{Lat: depot.Lat + north/111_320, Lon: depot.Lon + east/(111_320*math.Cos(depot.Lat*math.Pi/180))}
}

// buildings are where people are registered around the depot.
var buildings = []risk.Building{
	{ID: "油库职工宿舍 depot dormitory", Point: off(150, -150), Occupancy: 120, Kind: "residential"},
	{ID: "康庄美地 Kangzhuang Meidi", Point: off(100, 600), Occupancy: 1800, Kind: "residential"},
	{ID: "跳磴小学 primary school", Point: off(700, 0), Occupancy: 900, Kind: "school"},
	{ID: "石林村 Shilin village", Point: off(0, -1100), Occupancy: 1500, Kind: "residential"},
	{ID: "跳磴镇卫生院 health centre", Point: off(700, 700), Occupancy: 260, Kind: "clinic"},
	{ID: "建桥园区宿舍 park dormitories", Point: off(-1000, 1000), Occupancy: 800, Kind: "residential"},
	{ID: "南城小区 Nancheng estate", Point: off(-1300, 0), Occupancy: 1200, Kind: "residential"},
	{ID: "大渡口新城 Xincheng", Point: off(1900, 300), Occupancy: 2000, Kind: "residential"},
}

// resources are the depot area's emergency resources, as in the seed:
// 5 assembly points, 8 shelters, 5 supply depots and 6 teams of 200
// people. A fresh copy each call, so that a plan can close a shelter.
func resources() risk.Resources {
	return risk.Resources{
		AssemblyPoints: []risk.Site{
			{ID: "疏散点1 north", Point: off(1800, 0)}, {ID: "疏散点2 east", Point: off(0, 1800)},
			{ID: "疏散点3 south", Point: off(-1800, 0)}, {ID: "疏散点4 west", Point: off(0, -1800)},
			{ID: "疏散点5 north-east", Point: off(1300, 1300)},
		},
		Shelters: []risk.Shelter{
			{ID: "大渡口体育中心", Point: off(3000, 200), Capacity: 2500},
			{ID: "跳磴中学体育馆", Point: off(0, 1300), Capacity: 1200}, // inside the evacuation zone
			{ID: "建胜镇文化中心", Point: off(0, -2600), Capacity: 1500},
			{ID: "重庆第三十七中学", Point: off(2200, 1000), Capacity: 1200},
			{ID: "金鳌山公园避难场所", Point: off(2000, -2000), Capacity: 2000},
			{ID: "八桥镇中心小学", Point: off(-2400, 0), Capacity: 1000},
			{ID: "钓鱼嘴文体中心", Point: off(-500, 3500), Capacity: 1500},
			{ID: "中梁山社区中心", Point: off(300, -4000), Capacity: 800},
		},
		Depots: []risk.Site{
			{ID: "物资库 跳磴", Point: off(-2000, -600)}, {ID: "物资库 大渡口", Point: off(2600, 800)},
			{ID: "物资库 建胜", Point: off(200, -3000)}, {ID: "物资库 八桥", Point: off(-3200, 400)},
			{ID: "物资库 钓鱼嘴", Point: off(-800, 4200)},
		},
		Teams: []risk.Team{
			{ID: "大渡口消防站 fire", Point: off(2500, 0), Members: 40},
			{ID: "危化救援队 hazmat", Point: off(-3000, 1500), Members: 40},
			{ID: "区医疗队 medical", Point: off(2800, -900), Members: 30},
			{ID: "派出所 police", Point: off(1500, 1800), Members: 35},
			{ID: "跳磴镇应急分队 town", Point: off(-1600, -400), Members: 25},
			{ID: "民兵应急连 militia", Point: off(-2600, -2600), Members: 30},
		},
		DepotCount: 3, TeamCount: 6,
	}
}

// world is the part of Dadukou the scenario needs: Tiaodeng's community
// around the depot, in 4 × 4 grids of about a kilometre.
func world() (*region.Hierarchy, error) {
	units := []region.Unit{
		{Code: "500000", Name: "重庆市 Chongqing"},
		{Code: "500104", Name: "大渡口区 Dadukou", Parent: "500000"},
		{Code: "500104007", Name: "跳磴镇 Tiaodeng", Parent: "500104"},
		{Code: "500104007001", Name: "Tiaodeng community 1", Parent: "500104007"},
	}
	for r := range 4 {
		for c := range 4 {
			lat, lon := 29.420+0.01*float64(r), 106.440+0.01*float64(c)
			box := geo.BBox{MinLat: lat, MinLon: lon, MaxLat: lat + 0.01, MaxLon: lon + 0.01}
			units = append(units, region.Unit{Code: region.Code(fmt.Sprintf("500104007001%03d", r*4+c+1)),
				Name: fmt.Sprintf("Tiaodeng grid %d", r*4+c+1), Parent: "500104007001", Boundary: geo.MultiPolygon{box.Rect()}})
		}
	}
	return region.New(units)
}

func gridOf(h *region.Hierarchy, p geo.Point) (region.Code, error) {
	u, err := h.Locate(p)
	return u.Code, err
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
