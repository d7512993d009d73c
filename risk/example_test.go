package risk_test

import (
	"context"
	"fmt"
	"time"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/clock"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/region/regiontest"
	"github.com/govkit/govkit/risk"
)

// The oil-depot scenario (S12): a major hazard source graded by GB 18218,
// raised by a tank-level reading, a leak's impact zone, and an evacuation
// plan over shelters with limited room.
func Example() {
	regions, _ := regiontest.New(regiontest.Small())
	cat, _ := risk.NewCatalogue([]risk.HazardClass{{Code: "oil-depot", Name: "油气储存", Method: "gb18218"}})
	svc, _ := risk.NewService(risk.Config{
		Catalogue: cat, Regions: regions, Authorizer: access.AllowAll(),
		Clock: clock.NewManual(time.Date(2025, 6, 12, 8, 0, 0, 0, time.UTC)),
		ReadingRules: []risk.ReadingRule{{Metric: "level", Unit: "%", Bands: []risk.ReadingBand{
			{Colour: risk.Red, Threshold: 95}, {Colour: risk.Orange, Threshold: 90}}}},
	})
	defer svc.Shutdown()
	ctx := access.WithActor(context.Background(), access.Actor{ID: "district-ops", Kind: access.DistrictStaff, Scope: "500000"})

	depot := geo.Point{Lat: 29.55, Lon: 106.48}
	p, _ := svc.Create(ctx, risk.Point{
		Name: "伏牛溪油库 3号罐区", Class: "oil-depot", Geometry: depot, Sensors: []string{"LT-301"},
		Holdings: []risk.Holding{{Substance: "汽油", Quantity: risk.MustDecimal("12000")}, {Substance: "液化石油气", Quantity: risk.MustDecimal("800")}},
	})
	p, err := svc.Assess(ctx, p.ID, "", risk.Inputs{Exposed: risk.People(350)})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(p.Assessment.Derivation.Formula)
	fmt.Println("grade", p.Assessment.Grade, "→", p.Level.Colour)

	changed, _ := svc.ObserveReading(ctx, risk.Reading{Sensor: "LT-301", Metric: "level", Value: 96.5, At: time.Date(2025, 6, 12, 8, 0, 0, 0, time.UTC)})
	fmt.Println(changed[0].Level.Colour, "—", changed[0].Level.Reasons[1])

	east := func(m float64) geo.Point { return geo.Point{Lat: 29.55, Lon: 106.48 + m/96_860} }
	for i, occ := range []int{900, 600, 400} {
		_, _ = svc.RegisterBuilding(ctx, risk.Building{ID: fmt.Sprintf("bldg-%d", i+1), Point: east(float64(300 + 400*i)), Occupancy: occ})
	}
	leak := risk.Hazard{ID: "leak-301", Jurisdiction: "500000", Center: depot, Zones: []risk.Zone{{Name: "危险区", Radius: 500}, {Name: "疏散区", Radius: 1500}}}
	im, plan, _ := svc.PlanEvacuation(ctx, leak, risk.Resources{
		AssemblyPoints: []risk.Site{{ID: "集中疏散点1", Point: east(1700)}},
		Shelters: []risk.Shelter{
			{ID: "安置点A", Point: east(2000), Capacity: 1000},
			{ID: "安置点B", Point: east(-2500), Capacity: 1500},
		},
		Depots: []risk.Site{{ID: "物资点1", Point: east(3000)}},
		Teams:  []risk.Team{{ID: "应急队1", Point: east(-4000), Members: 35}},
	})
	fmt.Println("affected:", im.Population, "people in", im.Buildings, "buildings")
	for _, a := range plan.Assignments {
		fmt.Printf("%s → %s via %s: %d\n", a.Group, a.Shelter, a.Assembly, a.People)
	}
	fmt.Println("depots", plan.Depots[0].ID, "teams", plan.Teams[0].ID)
	// Output:
	// R = α·Σβᵢqᵢ/Qᵢ = 2 × (1×12000/200 + 1.5×800/50) = 2 × (60 + 24) = 168
	// grade 1 → red
	// red — reading reading:LT-301:level → red until 2025-06-13T08:00:00Z: LT-301 level = 96.5% ≥ 95%
	// affected: 1900 people in 3 buildings
	// bldg-1 → 安置点A via 集中疏散点1: 900
	// bldg-2 → 安置点B via 集中疏散点1: 600
	// bldg-3 → 安置点A via 集中疏散点1: 100
	// bldg-3 → 安置点B via 集中疏散点1: 300
	// depots 物资点1 teams 应急队1
}

// The nine small places (S17): a street inspects a restaurant on the
// nine-small-places checklist, and each finding becomes a rectification
// notice with a deadline.
func Example_nineSmallPlaces() {
	regions, _ := regiontest.New(regiontest.Small())
	cat, _ := risk.NewCatalogue([]risk.HazardClass{{Code: "small-place", Name: "九小场所"}})
	svc, _ := risk.NewService(risk.Config{
		Catalogue: cat, Regions: regions, Authorizer: access.AllowAll(),
		Clock: clock.NewManual(time.Date(2024, 4, 23, 9, 0, 0, 0, time.UTC)),
	})
	defer svc.Shutdown()
	ctx := access.WithActor(context.Background(), access.Actor{ID: "yang", Kind: access.StreetStaff, Scope: "500001001"})

	_, _ = svc.RegisterEnterprise(ctx, risk.Enterprise{ID: "91500105MA5U000001", Name: "五里坪社区餐饮店", Region: "500001001", Credit: risk.MustDecimal("85")})
	plan, _, _ := svc.PlanInspections(ctx, risk.InspectionPlanRequest{
		Region: "500001001", Year: 2024, Quarter: 2,
		Tasks: []risk.Task{{Department: "street-safety", Enterprise: "91500105MA5U000001", Subject: "九小场所安全检查"}},
	})
	in, _ := svc.RecordFindings(ctx, plan[0].ID, []risk.FindingInput{
		{Item: "extinguishers", Note: "灭火器少于2台"},
		{Item: "breaker-cover", Note: "空气开关防护壳缺失"},
	})
	for _, f := range in.Findings {
		fmt.Println(f.Item, f.Severity, f.Status, "due", f.Deadline.Format("2006-01-02"))
	}
	for _, item := range risk.NineSmallPlaces().Items[:3] {
		fmt.Println(item.Who, "checks", item.What)
	}
	// Output:
	// extinguishers general open due 2024-05-08
	// breaker-cover general open due 2024-05-08
	// 网格员 checks 电气线路穿管保护
	// 网格员 checks 灭火器不少于2具且在有效期内
	// 网格员 checks 空气开关防护壳完好
}

// An LEC assessment explains itself.
func ExampleLEC_Assess() {
	r, _ := risk.StandardLEC().Assess(risk.Inputs{L: risk.MustDecimal("3"), E: risk.MustDecimal("6"), C: risk.MustDecimal("15")})
	fmt.Println(r.Derivation)
	// Output:
	// method lec
	//   L = 3 (可能，但不经常 (unusual but possible))
	//   E = 6 (每天工作时间内暴露 (daily))
	//   C = 15 (非常严重，一人死亡 (very serious, one death))
	//   D = L × E × C = 3 × 6 × 15 = 270
	//   band: 160 ≤ D < 320 → orange (较大风险)
}
