// Command demo runs a small district scenario on govkit's embedded defaults,
// with no server: a grid member reports dumped construction waste from a
// map app, govkit locates the report in the grid hierarchy, announces it on
// the bus under its jurisdiction, and the street, district and city centres
// each see it while the neighbouring district does not; the nearest free
// clean-up crew is picked.
//
//	go run ./examples/demo
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/region"
	"github.com/govkit/govkit/region/regiontest"
)

func main() {
	if _, err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

// outcome is what the demo's test checks.
type outcome struct {
	Path     []region.Code       // where the report was located, city to grid
	Subject  string              // the subject it was announced on
	Received map[string][]string // centre name → subjects it received
	Crew     string              // the crew sent
	CrewDist float64             // metres from the report
}

func run(ctx context.Context, out io.Writer) (outcome, error) {
	var res outcome

	// 1. The city: 2 districts × 2 streets × 2 communities × 4 grids.
	city, err := regiontest.New(regiontest.Small())
	if err != nil {
		return res, err
	}
	fmt.Fprintf(out, "city loaded: %d units\n", city.Len())

	// 2. The report arrives from a mini-program on AMap, in GCJ-02.
	amap := geo.Point{Lat: 29.5253, Lon: 106.4935}
	at, err := geo.Convert(amap, geo.GCJ02, geo.WGS84)
	if err != nil {
		return res, err
	}
	fmt.Fprintf(out, "report at %v (GCJ-02) = %v (WGS-84), %.0f m apart\n", amap, at, geo.Distance(amap, at))

	res.Path, err = city.LocatePath(at)
	if err != nil {
		return res, err
	}
	grid, _ := city.Unit(res.Path[len(res.Path)-1])
	fmt.Fprintf(out, "located in %s (%s)\n", grid.Name, strings.Join(codes(res.Path), " > "))

	// 3. Centres subscribe to their jurisdiction's subtree of subjects.
	b, err := bus.NewMemory(bus.MemoryOptions{})
	if err != nil {
		return res, err
	}
	defer b.Close()
	var mu sync.Mutex
	res.Received = map[string][]string{}
	centres := map[string]string{
		"city centre":         "gov.500000.>",
		"district 01 centre":  "gov.500000.500001.>",
		"street 01-01 centre": "gov.500000.500001.500001001.>",
		"district 02 centre":  "gov.500000.500002.>",
		"street 01-02 centre": "gov.500000.500001.500001002.>",
	}
	for name, pattern := range centres {
		group := strings.ReplaceAll(name, " ", "-")
		_, err := b.Subscribe(ctx, pattern, group, func(ctx context.Context, m bus.Message) error {
			mu.Lock()
			res.Received[name] = append(res.Received[name], m.Subject)
			mu.Unlock()
			return nil
		})
		if err != nil {
			return res, err
		}
	}

	// 4. Announce the report under city.district.street.
	res.Subject = "gov." + strings.Join(codes(res.Path[:3]), ".") + ".incident.reported"
	msg := bus.NewMessage(res.Subject, []byte(`{"category":"construction-waste","grid":"`+string(grid.Code)+`"}`))
	msg.Key = string(grid.Code)
	if err := b.Publish(ctx, msg); err != nil {
		return res, err
	}
	if err := b.Drain(ctx); err != nil {
		return res, err
	}
	names := make([]string, 0, len(centres))
	for name := range centres {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		fmt.Fprintf(out, "%-20s received %d\n", name, len(res.Received[name]))
	}

	// 5. The nearest free crew, by great-circle distance.
	var crews geo.Index[string]
	for name, p := range map[string]geo.Point{
		"crew A": {Lat: 29.531, Lon: 106.470},
		"crew B": {Lat: 29.520, Lon: 106.492},
		"crew C": {Lat: 29.600, Lon: 106.600},
	} {
		if err := crews.Put(name, p); err != nil {
			return res, err
		}
	}
	busy := map[string]bool{"crew B": true}
	nearest := crews.Nearest(at, 1, func(c string) bool { return !busy[c] })
	if len(nearest) == 0 {
		return res, fmt.Errorf("no free crew")
	}
	res.Crew, res.CrewDist = nearest[0].Key, nearest[0].Distance
	fmt.Fprintf(out, "sent %s (%.0f m away; crew B is busy)\n", res.Crew, res.CrewDist)
	return res, nil
}

func codes(cs []region.Code) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = string(c)
	}
	return out
}
