package geo_test

import (
	"errors"
	"fmt"
	"math"

	"github.com/govkit/govkit/geo"
)

func ExampleNewPoint() {
	_, err := geo.NewPoint(math.NaN(), 106.55)
	fmt.Println(errors.Is(err, geo.ErrInvalidCoordinate))

	p, err := geo.NewPoint(29.5630, 106.5516)
	fmt.Println(p, err)
	// Output:
	// true
	// 29.563000,106.551600 <nil>
}

func ExampleDistance() {
	jiefangbei := geo.Point{Lat: 29.5573, Lon: 106.5773}
	chaotianmen := geo.Point{Lat: 29.5647, Lon: 106.5890}
	fmt.Printf("%.0f m\n", geo.Distance(jiefangbei, chaotianmen))
	// Output: 1399 m
}

func ExampleIndex() {
	// Emergency warehouses around Chongqing's centre.
	var warehouses geo.Index[string]
	_ = warehouses.Put("Yuzhong", geo.Point{Lat: 29.5560, Lon: 106.5680})
	_ = warehouses.Put("Jiangbei", geo.Point{Lat: 29.5750, Lon: 106.5330})
	_ = warehouses.Put("Nan'an", geo.Point{Lat: 29.5230, Lon: 106.5690})

	burst := geo.Point{Lat: 29.5600, Lon: 106.5750}
	for _, h := range warehouses.Within(burst, 3000) {
		fmt.Printf("%s %.0f m\n", h.Key, h.Distance)
	}
	open := func(name string) bool { return name != "Yuzhong" }
	nearest := warehouses.Nearest(burst, 1, open)
	fmt.Println("nearest open:", nearest[0].Key)
	// Output:
	// Yuzhong 810 m
	// nearest open: Nan'an
}

func ExamplePolygon_Contains() {
	street, _ := geo.NewPolygon(geo.Ring{
		{Lat: 29.55, Lon: 106.56}, {Lat: 29.55, Lon: 106.59},
		{Lat: 29.57, Lon: 106.59}, {Lat: 29.57, Lon: 106.56},
	})
	fmt.Println(street.Contains(geo.Point{Lat: 29.56, Lon: 106.57}))
	fmt.Println(street.Contains(geo.Point{Lat: 29.60, Lon: 106.57}))
	// Output:
	// true
	// false
}
