package regiontest_test

import (
	"fmt"

	"github.com/govkit/govkit/region"
	"github.com/govkit/govkit/region/regiontest"
)

func ExampleNew() {
	city, err := regiontest.New(regiontest.Small())
	if err != nil {
		fmt.Println(err)
		return
	}
	grids := 0
	_ = city.Descendants("500000", region.Grid, func(region.Unit) bool { grids++; return true })
	fmt.Println(city.Len(), "units,", grids, "grids")
	// Output: 47 units, 32 grids
}
