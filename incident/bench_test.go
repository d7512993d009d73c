package incident_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/incident"
	"github.com/govkit/govkit/internal/latency"
	"github.com/govkit/govkit/region/regiontest"
)

// bigCatalogue makes n categories in the shape of the national standard:
// every fifth asks a required number, every seventh a list.
func bigCatalogue(tb testing.TB, n int) *incident.Catalogue {
	cats := make([]incident.Category, n)
	for i := range cats {
		c := incident.Category{
			Code: fmt.Sprintf("%02d%02d%04d", i%20, i%97, i), Name: "Category " + strconv.Itoa(i),
			Kind: incident.Event, Major: fmt.Sprintf("%02d", i%20), Minor: fmt.Sprintf("%02d", i%97),
			SLA: incident.SLA{Register: 2 * time.Hour, Dispose: 24 * time.Hour},
		}
		if i%5 == 0 {
			c.Attributes = append(c.Attributes, incident.Attribute{Code: "volume", Type: incident.Number, Required: true})
		}
		if i%7 == 0 {
			c.Attributes = append(c.Attributes, incident.Attribute{Code: "kind", Type: incident.SingleValueList,
				Values: []incident.AttributeValue{{Key: "a", Name: "A"}, {Key: "b", Name: "B"}}})
		}
		cats[i] = c
	}
	c, err := incident.NewCatalogue(cats)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// BenchmarkCatalogue11k loads 11,000 categories and validates intake.
func BenchmarkCatalogue11k(b *testing.B) {
	b.Run("load", func(b *testing.B) {
		for b.Loop() {
			bigCatalogue(b, 11_000)
		}
	})
	b.Run("validate", func(b *testing.B) {
		c := bigCatalogue(b, 11_000)
		codes := c.Codes()
		attrs := map[string][]string{"volume": {"3.5"}, "kind": {"a"}}
		for i := 0; b.Loop(); i++ {
			code := codes[i%len(codes)]
			cat, _ := c.Category(code)
			a := map[string][]string{}
			for _, at := range cat.Attributes {
				a[at.Code] = attrs[at.Code]
			}
			if err := c.Validate(code, a); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkReport measures intake on the embedded defaults at city scale:
// 11,000 categories, 65,600 grids, a real policy; each report is validated,
// located, checked for duplicates within 250 m, stored with its timeline
// entry and event, and the event published on the in-process bus.
func BenchmarkReport(b *testing.B) {
	o := regiontest.Chongqing()
	city, err := regiontest.New(o)
	if err != nil {
		b.Fatal(err)
	}
	cat := bigCatalogue(b, 11_000)
	codes := slices.DeleteFunc(cat.Codes(), func(code string) bool {
		c, _ := cat.Category(code)
		return len(c.Attributes) > 0 // keep the reports simple to build
	})
	policy, err := access.ParsePolicy([]byte(`{"version":1,"roles":{"reporter":[{"action":"report","resource":"incident"}]}}`))
	if err != nil {
		b.Fatal(err)
	}
	pub, _ := bus.NewMemory(bus.MemoryOptions{})
	defer pub.Close()
	svc, err := incident.NewService(incident.Config{Catalogue: cat, Regions: city, Authorizer: policy, Bus: pub})
	if err != nil {
		b.Fatal(err)
	}
	defer svc.Shutdown()
	ctx := access.WithActor(context.Background(), access.Actor{ID: "gm", Kind: access.GridMember, Scope: "500000", Roles: []string{"reporter"}})

	var seq atomic.Int64
	var lat latency.Recorder
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := rand.New(rand.NewPCG(uint64(seq.Add(1_000_000_000)), 7))
		var mine []time.Duration
		defer func() { lat.Add(mine) }()
		for pb.Next() {
			n := seq.Add(1)
			rep := incident.Report{
				Key: "k" + strconv.FormatInt(n, 10), Channel: incident.GridMember,
				Category: codes[r.IntN(len(codes))],
				Point: geo.Point{
					Lat: o.Area.MinLat + r.Float64()*(o.Area.MaxLat-o.Area.MinLat)*0.99,
					Lon: o.Area.MinLon + r.Float64()*(o.Area.MaxLon-o.Area.MinLon)*0.99,
				},
			}
			start := time.Now()
			if _, err := svc.Report(ctx, rep); err != nil && !isOutside(err) {
				b.Error(err)
				return
			}
			mine = append(mine, time.Since(start))
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "incidents/s")
	lat.ReportP99(b)
}

// isOutside reports a point in the gaps of the synthetic city, where the
// last row of districts is not full.
func isOutside(err error) bool {
	var re *incident.ReportError
	return errors.As(err, &re) && re.Field == "point"
}

// BenchmarkReportCrowded: reports at a place that 5,000 open cases of the
// same category already crowd (a flooded underpass after a storm). With
// the default MaxSuggestions each report reads its best ten candidates;
// "uncapped" reads every one, as intake did before the cap.
func BenchmarkReportCrowded(b *testing.B) {
	for _, v := range []struct {
		name string
		max  int
	}{{"capped", 0}, {"uncapped", 1 << 30}} {
		b.Run(v.name, func(b *testing.B) {
			o := regiontest.Chongqing()
			city, err := regiontest.New(o)
			if err != nil {
				b.Fatal(err)
			}
			svc, err := incident.NewService(incident.Config{Catalogue: bigCatalogue(b, 10), Regions: city,
				Authorizer: access.AllowAll(), MaxSuggestions: v.max})
			if err != nil {
				b.Fatal(err)
			}
			defer svc.Shutdown()
			ctx := access.WithActor(context.Background(), access.Actor{ID: "gm", Kind: access.GridMember, Scope: "500000"})
			centre := geo.Point{Lat: (o.Area.MinLat + o.Area.MaxLat) / 2, Lon: (o.Area.MinLon + o.Area.MaxLon) / 2}
			category := "01010001" // bigCatalogue's category 1: no attributes
			r := rand.New(rand.NewPCG(1, 2))
			for i := range 5000 {
				p := geo.Destination(centre, r.Float64()*200, r.Float64()*360)
				if _, err := svc.Report(ctx, incident.Report{Key: "crowd-" + strconv.Itoa(i), Channel: incident.GridMember, Category: category, Point: p}); err != nil {
					b.Fatal(err)
				}
			}
			for i := 0; b.Loop(); i++ {
				rec, err := svc.Report(ctx, incident.Report{Key: "new-" + strconv.Itoa(i), Channel: incident.GridMember, Category: category, Point: centre})
				if err != nil {
					b.Fatal(err)
				}
				if v.max == 0 && len(rec.Suggestions) != incident.DefaultMaxSuggestions {
					b.Fatalf("%d suggestions", len(rec.Suggestions))
				}
			}
		})
	}
}
