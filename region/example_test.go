package region_test

import (
	"fmt"

	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/region"
	"github.com/govkit/govkit/region/regiontest"
)

// A street officer's jurisdiction is her street's code: a grid inside it is
// within it, a grid in the next street is not.
func ExampleCode_Within() {
	mine := region.MustParseCode("500107001")
	fmt.Println(region.Code("500107001002003").Within(mine))
	fmt.Println(region.Code("500107002001001").Within(mine))
	// Output:
	// true
	// false
}

func ExampleHierarchy_LocatePath() {
	city, err := regiontest.New(regiontest.Small())
	if err != nil {
		fmt.Println(err)
		return
	}
	path, err := city.LocatePath(geo.Point{Lat: 29.53, Lon: 106.50})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, code := range path {
		u, _ := city.Unit(code)
		fmt.Printf("%-9s %s\n", u.Level(), code)
	}
	// Output:
	// city      500000
	// district  500001
	// street    500001002
	// community 500001002001
	// grid      500001002001002
}

func ExampleHierarchy_Descendants() {
	city, _ := regiontest.New(regiontest.Small())
	n := 0
	_ = city.Descendants("500001001", region.Grid, func(region.Unit) bool { n++; return true })
	fmt.Println(n, "grids in street 500001001")
	// Output: 8 grids in street 500001001
}
