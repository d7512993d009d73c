package dispatch_test

import (
	"fmt"
	"time"

	"github.com/govkit/govkit/clock"
	"github.com/govkit/govkit/dispatch"
	"github.com/govkit/govkit/geo"
)

// S16: a camera spots an overloaded muck truck in Shiqiaopu; the street's
// nearest available enforcement team member is sent. The closest one is
// already on a case, so the next is offered.
func ExampleResponders_Nearest() {
	clk := clock.NewManual(time.Date(2026, 3, 5, 18, 35, 0, 0, time.FixedZone("CST", 8*3600)))
	rs := dispatch.NewResponders(clk)
	team := []struct {
		id, name string
		at       geo.Point
	}{
		{"sqp-01", "Wang Wei", geo.Point{Lat: 29.4960, Lon: 106.4530}},
		{"sqp-02", "Li Na", geo.Point{Lat: 29.4990, Lon: 106.4600}},
		{"sqp-03", "Zhang Qiang", geo.Point{Lat: 29.5100, Lon: 106.4700}},
	}
	for _, m := range team {
		if err := rs.Register(dispatch.Responder{
			ID: m.id, Name: m.name, Body: "sqp-enforce",
			Skills: []string{"enforcement"}, Jurisdiction: "500107001",
		}); err != nil {
			fmt.Println(err)
			return
		}
		if err := rs.UpdatePosition(m.id, m.at, clk.Now()); err != nil {
			fmt.Println(err)
			return
		}
	}
	if err := rs.Assign("sqp-01"); err != nil { // busy with an earlier case
		fmt.Println(err)
		return
	}

	sighting := geo.Point{Lat: 29.4955, Lon: 106.4540}
	cs, err := rs.Nearest(sighting, "enforcement", 1, dispatch.InJurisdiction("500107001002003"))
	if err != nil || len(cs) == 0 {
		fmt.Println("nobody available:", err)
		return
	}
	c := cs[0]
	fmt.Printf("send %s (%s): %.0f m, about %s\n", c.State.Name, c.State.ID, c.Distance, c.ETA.Round(time.Second))
	if err := rs.Assign(c.State.ID); err != nil {
		fmt.Println(err) // another dispatcher was faster: take the next candidate
	}
	// Output:
	// send Li Na (sqp-02): 699 m, about 1m57s
}

// S3, New Year's Eve at Jiefangbei: who can reach the crowd within 1, 3
// and 5 minutes, and is the "1-3-5" rule met? The command centre asks for
// 2, 4 and 6 patrols; with Bayi Road's post busy, the 3- and 5-minute
// bands fall short and reinforcements are moved in.
func ExampleResponders_Coverage() {
	clk := clock.NewManual(time.Date(2026, 12, 31, 23, 30, 0, 0, time.FixedZone("CST", 8*3600)))
	rs := dispatch.NewResponders(clk, dispatch.WithCoverageRequirement(
		dispatch.CoverageRequirement{Within1: 2, Within3: 4, Within5: 6}))
	jiefangbei := geo.Point{Lat: 29.5573, Lon: 106.5773}
	posts := []struct {
		id   string
		lat  float64
		lon  float64
		busy bool
	}{
		{"jfb-post", 29.5575, 106.5770, false},    // at the monument
		{"minzu-rd", 29.5590, 106.5800, false},    // Minzu Road
		{"bayi-rd", 29.5550, 106.5750, true},      // Bayi Road, handling a lost child
		{"chaotianmen", 29.5650, 106.5860, false}, // Chaotianmen
		{"hongyadong", 29.5620, 106.5790, false},  // Hongyadong
		{"jiaochangkou", 29.5480, 106.5700, false},
	}
	for _, p := range posts {
		if err := rs.Register(dispatch.Responder{ID: p.id, Body: "yuzhong-patrol", Skills: []string{"crowd-control"}}); err != nil {
			fmt.Println(err)
			return
		}
		if err := rs.UpdatePosition(p.id, geo.Point{Lat: p.lat, Lon: p.lon}, clk.Now()); err != nil {
			fmt.Println(err)
			return
		}
		if p.busy {
			_ = rs.SetStatus(p.id, dispatch.Busy)
		}
	}

	rep, err := rs.Coverage(jiefangbei, "crowd-control")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range rep.Responders {
		fmt.Printf("%-12s %5.0f m  %s\n", c.State.ID, c.Distance, c.ETA.Round(time.Second))
	}
	for _, b := range rep.Bands {
		fmt.Printf("within %s: %d of %d required, met %t\n", b.Within, b.Count, b.Required, b.Met)
	}
	fmt.Println("1-3-5 met:", rep.Met())
	// Output:
	// jfb-post        37 m  6s
	// minzu-rd       322 m  54s
	// hongyadong     548 m  1m32s
	// chaotianmen   1200 m  3m22s
	// jiaochangkou  1252 m  3m30s
	// within 1m0s: 2 of 2 required, met true
	// within 3m0s: 3 of 4 required, met false
	// within 5m0s: 5 of 6 required, met false
	// 1-3-5 met: false
}
