package dispatch_test

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/dispatch"
	"github.com/govkit/govkit/region"
)

// S16 on the bus: a muck truck filmed in Banan carries a disposal permit of
// a Jiulongpo site, so an asset rule sends the case to Jiulongpo's bureau
// and Shiqiaopu street's enforcement team. With Config.Regions each order
// goes out under its body's own jurisdiction, so Shiqiaopu's centre,
// subscribed to its own street, sees the team's order.
func ExampleConfig_regions() {
	regions, _ := region.New([]region.Unit{
		{Code: "500000", Name: "Chongqing"},
		{Code: "500107", Name: "Jiulongpo", Parent: "500000"},
		{Code: "500107001", Name: "Shiqiaopu", Parent: "500107"},
		{Code: "500113", Name: "Banan", Parent: "500000"},
	})
	org, _ := dispatch.NewOrg([]dispatch.Body{
		{ID: "jlp-urban", Name: "Jiulongpo City Management Bureau", Function: "city-management", Jurisdiction: "500107"},
		{ID: "sqp-enforce", Name: "Shiqiaopu Enforcement Team", Function: "enforcement", Jurisdiction: "500107001"},
	})
	router, _ := dispatch.NewRouter(org, nil, []dispatch.AssetRule{{ID: "permit-jlp-0117", Asset: "muck-permit:JLP-0117",
		Lead: dispatch.Handler{Body: "jlp-urban"}, Co: []dispatch.Handler{{Body: "sqp-enforce"}}}})
	b, _ := bus.NewMemory(bus.MemoryOptions{})
	defer b.Close()
	svc, err := dispatch.NewService(dispatch.Config{Router: router, Authorizer: access.AllowAll(), Bus: b, Regions: regions})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer svc.Shutdown()

	var (
		mu   sync.Mutex
		seen []string
	)
	ctx := context.Background()
	_, _ = b.Subscribe(ctx, "gov.500000.500107.500107001.>", "shiqiaopu-centre", func(_ context.Context, m bus.Message) error {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, m.Subject)
		return nil
	})
	_, orders, err := svc.Dispatch(access.WithActor(ctx, access.Actor{ID: "centre-bn", Kind: access.DistrictStaff, Scope: "500113"}),
		dispatch.Case{ID: "inc-s16", Category: "muck-truck-overload", Asset: "muck-permit:JLP-0117",
			Path: []region.Code{"500000", "500113", "500113001", "500113001001", "500113001001001"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = b.Drain(ctx)
	for _, o := range orders {
		fmt.Println(o.Body)
	}
	mu.Lock()
	slices.Sort(seen)
	fmt.Println(seen)
	mu.Unlock()
	// Output:
	// jlp-urban
	// sqp-enforce
	// [gov.500000.500107.500107001.dispatch.offered]
}
