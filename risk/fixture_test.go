package risk_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/clock"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/region"
	"github.com/govkit/govkit/region/regiontest"
	"github.com/govkit/govkit/risk"
)

// The synthetic city of regiontest.Small: street 500001001 covers
// longitudes 106.45–106.49, street 500001002 106.49–106.53, both latitudes
// 29.50–29.62.
const (
	streetA = region.Code("500001001")
	streetB = region.Code("500001002")
	city    = region.Code("500000")
)

var (
	inA  = geo.Point{Lat: 29.55, Lon: 106.48} // street A, near the boundary
	inB  = geo.Point{Lat: 29.55, Lon: 106.50} // street B, 1.9 km east
	base = time.Date(2025, 6, 12, 8, 0, 0, 0, time.UTC)
)

func catalogue(t testing.TB) *risk.Catalogue {
	t.Helper()
	cat, err := risk.NewCatalogue([]risk.HazardClass{
		{Code: "hazchem", Name: "危险化学品"},
		{Code: "hazchem.oil-tank", Name: "油气储罐", Parent: "hazchem", Method: "gb18218"},
		{Code: "gas-pipeline", Name: "燃气管线", Method: "lec"},
		{Code: "landslide", Name: "地质灾害隐患点"},
		{Code: "small-place", Name: "九小场所", Validity: 90 * 24 * time.Hour},
	})
	require.NoError(t, err)
	return cat
}

// recorder is a bus.Publisher that keeps what it is given.
type recorder struct {
	mu   sync.Mutex
	msgs []bus.Message
}

func (r *recorder) Publish(_ context.Context, m bus.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, m)
	return nil
}

func (r *recorder) events(t testing.TB) []risk.EventData {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []risk.EventData
	for _, m := range r.msgs {
		d, err := risk.DecodeEvent(m)
		require.NoError(t, err)
		out = append(out, d)
	}
	return out
}

func (r *recorder) named(t testing.TB, name string) []risk.EventData {
	var out []risk.EventData
	for _, e := range r.events(t) {
		if e.Event == name {
			out = append(out, e)
		}
	}
	return out
}

type fixture struct {
	svc   *risk.Service
	clk   *clock.Manual
	bus   *recorder
	store *risk.MemoryStore
}

func newFixture(t testing.TB, mod ...func(*risk.Config)) *fixture {
	t.Helper()
	h, err := regiontest.New(regiontest.Small())
	require.NoError(t, err)
	f := &fixture{clk: clock.NewManual(base), bus: &recorder{}, store: risk.NewMemoryStore()}
	cfg := risk.Config{
		Store: f.store, Catalogue: catalogue(t), Regions: h, Authorizer: access.AllowAll(),
		Bus: f.bus, Clock: f.clk,
		ReadingRules: []risk.ReadingRule{{
			Metric: "tank-level", Unit: "%", TTL: time.Hour,
			Bands: []risk.ReadingBand{{Colour: risk.Red, Threshold: 95}, {Colour: risk.Orange, Threshold: 90}},
		}},
	}
	for _, m := range mod {
		m(&cfg)
	}
	f.svc, err = risk.NewService(cfg)
	require.NoError(t, err)
	t.Cleanup(f.svc.Shutdown)
	return f
}

// admin acts city-wide.
func admin() context.Context {
	return access.WithActor(context.Background(), access.Actor{ID: "admin", Kind: access.CityStaff, Scope: city})
}

// policy grants street officers everything on risk resources in their
// scope.
func policy(t testing.TB) access.Authorizer {
	t.Helper()
	var grants []access.Grant
	for _, kind := range []string{risk.ResourceKind, risk.WarningKind, risk.BuildingKind, risk.EnterpriseKind, risk.InspectionKind} {
		grants = append(grants, access.Grant{Action: "*", Resource: kind})
	}
	p, err := access.NewPolicy(map[string][]access.Grant{"risk-officer": grants})
	require.NoError(t, err)
	return p
}

func officer(id string, scope region.Code) context.Context {
	return access.WithActor(context.Background(), access.Actor{ID: id, Kind: access.StreetStaff, Scope: scope, Roles: []string{"risk-officer"}})
}

func tank(name string, at geo.Point) risk.Point {
	return risk.Point{
		Name: name, Class: "hazchem.oil-tank", Geometry: at, Enterprise: "ent-oil",
		Sensors:  []string{"LT-" + name},
		Holdings: []risk.Holding{{Substance: "汽油", Quantity: risk.MustDecimal("300")}},
		Controls: []risk.Control{{Kind: "engineering", Name: "液位高高联锁"}},
	}
}

func mustCreate(t testing.TB, f *fixture, ctx context.Context, p risk.Point) risk.Point {
	t.Helper()
	got, err := f.svc.Create(ctx, p)
	require.NoError(t, err)
	return got
}
