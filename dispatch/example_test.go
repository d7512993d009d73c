package dispatch_test

import (
	"fmt"

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
