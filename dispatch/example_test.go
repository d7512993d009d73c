package dispatch_test

import (
	"context"
	"fmt"
	"time"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/clock"
	"github.com/govkit/govkit/dispatch"
	"github.com/govkit/govkit/region"
)

// S16: an overloaded muck truck caught on camera in Shiqiaopu street goes
// across to Jiulongpo's city-management bureau and housing committee and
// down to the street's enforcement team.
func ExampleRouter_Route() {
	org, _ := dispatch.NewOrg([]dispatch.Body{
		{ID: "jlp-urban", Name: "Jiulongpo City Management Bureau", Function: "city-management", Jurisdiction: "500107"},
		{ID: "jlp-housing", Name: "Jiulongpo Housing Committee", Function: "housing", Jurisdiction: "500107"},
		{ID: "sqp-enforce", Name: "Shiqiaopu Enforcement Team", Function: "enforcement", Jurisdiction: "500107001"},
	})
	router, err := dispatch.NewRouter(org, []dispatch.Rule{{
		ID: "muck-truck", Category: "0203", Area: "500000",
		Lead: dispatch.Handler{Function: "city-management", Tier: region.District},
		Co: []dispatch.Handler{
			{Function: "housing", Tier: region.District},
			{Function: "enforcement", Tier: region.Street},
		},
	}}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	d, err := router.Route(dispatch.Case{
		ID: "inc-20240305-1835", Category: "0203",
		Path: []region.Code{"500000", "500107", "500107001", "500107001002", "500107001002003"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("lead:", d.Lead.Body.Name)
	for _, co := range d.Co {
		fmt.Println("co:  ", co.Body.Name)
	}
	// Output:
	// lead: Jiulongpo City Management Bureau
	// co:   Jiulongpo Housing Committee
	// co:   Shiqiaopu Enforcement Team
}

// S16 in full: a camera in Banan catches an overloaded muck truck from a
// Jiulongpo site. The truck's registration decides (an asset rule), so the
// case goes across to Jiulongpo's bureau and housing committee and down to
// Shiqiaopu's enforcement team; the branches are signed for, done, and the
// case is disposed.
func ExampleService() {
	org, _ := dispatch.NewOrg([]dispatch.Body{
		{ID: "jlp-urban", Name: "Jiulongpo City Management Bureau", Function: "city-management", Jurisdiction: "500107"},
		{ID: "jlp-housing", Name: "Jiulongpo Housing Committee", Function: "housing", Jurisdiction: "500107"},
		{ID: "sqp-enforce", Name: "Shiqiaopu Enforcement Team", Function: "enforcement", Jurisdiction: "500107001"},
	})
	router, _ := dispatch.NewRouter(org, nil, []dispatch.AssetRule{{
		ID: "truck-yu-a12345", Asset: "muck-truck:渝A12345",
		Lead: dispatch.Handler{Body: "jlp-urban"},
		Co:   []dispatch.Handler{{Body: "jlp-housing"}, {Body: "sqp-enforce"}},
	}})
	clk := clock.NewManual(time.Date(2024, 3, 6, 9, 0, 0, 0, time.FixedZone("CST", 8*3600)))
	svc, _ := dispatch.NewService(dispatch.Config{Router: router, Authorizer: access.AllowAll(), Clock: clk})
	defer svc.Shutdown()
	ctx := access.WithActor(context.Background(), access.Actor{ID: "jlp-centre", Kind: access.DistrictStaff, Scope: "500000"})

	banan := []region.Code{"500000", "500113", "500113002", "500113002001", "500113002001004"}
	_, orders, err := svc.Dispatch(ctx, dispatch.Case{ID: "inc-20240305-1835", Category: "0203", Path: banan, Asset: "muck-truck:渝A12345"})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, o := range orders {
		_, _ = svc.SignFor(ctx, o.ID, "")
		_, _ = svc.Start(ctx, o.ID, "")
		_, _ = svc.Complete(ctx, o.ID, "")
		fmt.Println(o.Body, "done")
	}
	cf, _ := svc.CaseFile(ctx, "inc-20240305-1835")
	fmt.Println("disposed:", cf.Disposed)
	// Output:
	// jlp-urban done
	// jlp-housing done
	// sqp-enforce done
	// disposed: true
}
