package incident_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/calendar"
	"github.com/govkit/govkit/clock"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/incident"
	"github.com/govkit/govkit/region"
	"github.com/govkit/govkit/region/regiontest"
	"github.com/stretchr/testify/require"
)

// The fixture city is regiontest.Small(): districts 500001 and 500002 of
// "Chongqing" 500000, two streets each, 32 grids around 29.5–29.62 N,
// 106.45–106.61 E. Street 500001001 covers the south-west corner.

var (
	// inStreet1 lies in grid 500001001002002 of street 500001001.
	inStreet1 = geo.Point{Lat: 29.528, Lon: 106.4896}
	// inStreet2 lies in street 500001002, the next street of district 500001.
	inStreet2 = geo.Point{Lat: 29.53, Lon: 106.50}
)

const policyJSON = `{"version": 1, "roles": {
  "operator":  [{"action": "report", "resource": "incident"}, {"action": "register", "resource": "incident"},
                {"action": "dispatch", "resource": "incident"}, {"action": "close", "resource": "incident"},
                {"action": "merge", "resource": "incident"}, {"action": "pause-sla", "resource": "incident"},
                {"action": "reopen", "resource": "incident"}, {"action": "read", "resource": "incident"}],
  "handler":   [{"action": "handle", "resource": "incident"}, {"action": "read", "resource": "incident"}],
  "verifier":  [{"action": "verify", "resource": "incident"}, {"action": "read", "resource": "incident"}],
  "citizen":   [{"action": "report", "resource": "incident"},
                {"action": "read", "resource": "incident", "own_only": true},
                {"action": "evaluate", "resource": "incident", "own_only": true}],
  "camera":    [{"action": "report", "resource": "incident"}],
  "analyst":   [{"action": "read-indicators", "resource": "incident"}]
}}`

// Actors of the fixture.
var (
	operator = access.Actor{ID: "op-liu", Kind: access.StreetStaff, Scope: "500001001", Roles: []string{"operator"}}
	district = access.Actor{ID: "op-he", Kind: access.DistrictStaff, Scope: "500001", Roles: []string{"operator", "verifier"}}
	handler  = access.Actor{ID: "h-chen", Kind: access.DepartmentHandler, Scope: "500001", Roles: []string{"handler", "verifier"}}
	verifier = access.Actor{ID: "v-wang", Kind: access.GridMember, Scope: "500001", Roles: []string{"verifier"}}
	zhao     = access.Actor{ID: "c-zhao", Kind: access.Citizen, Scope: "500000", Roles: []string{"citizen"}}
	qian     = access.Actor{ID: "c-qian", Kind: access.Citizen, Scope: "500000", Roles: []string{"citizen"}}
	camera   = access.Actor{ID: "cam-17", Kind: access.VideoAISystem, Scope: "500000", Roles: []string{"camera"}}
	analyst  = access.Actor{ID: "an-sun", Kind: access.CityStaff, Scope: "500000", Roles: []string{"analyst"}}
)

func as(a access.Actor) context.Context { return access.WithActor(context.Background(), a) }

// monday10 is Monday 2 March 2026, 10:00 in Chongqing: a working morning.
var monday10 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))

func catalogue(t testing.TB) *incident.Catalogue {
	t.Helper()
	c, err := incident.NewCatalogue([]incident.Category{
		{Code: "construction-waste", Name: "Dumped construction waste", Kind: incident.Event, Major: "01", Minor: "07",
			Priority: incident.High, SLA: incident.SLA{Register: 2 * time.Hour, Dispose: 4 * time.Hour, Verify: 2 * time.Hour},
			Attributes: []incident.Attribute{
				{Code: "volume", Type: incident.Number, Required: true, Order: 1, Description: "Estimated volume, m³"},
				{Code: "blocking", Type: incident.SingleValueList, Order: 2, Values: []incident.AttributeValue{{Key: "yes", Name: "Blocks the road"}, {Key: "no", Name: "Does not"}}},
			}},
		{Code: "muck-truck-overload", Name: "Overloaded muck truck", Kind: incident.Event, Major: "02", Minor: "03",
			SLA: incident.SLA{Register: time.Hour, Dispose: 8 * time.Hour}},
		{Code: "smoke-alarm", Name: "Smoke alarm", Kind: incident.Asset, Major: "05", Minor: "01", Priority: incident.Urgent,
			Attributes: []incident.Attribute{{Code: "asset", Type: incident.String, Required: true}}},
	})
	require.NoError(t, err)
	return c
}

// harness is a service on a manual clock with a recording bus.
type harness struct {
	svc    *incident.Service
	store  *incident.MemoryStore
	clk    *clock.Manual
	bus    *bus.Memory
	mu     sync.Mutex
	events []incident.EventData
	subs   []string
}

type options func(*incident.Config)

func newHarness(t *testing.T, opts ...options) *harness {
	t.Helper()
	city, err := regiontest.New(regiontest.Small())
	require.NoError(t, err)
	p, err := access.ParsePolicy([]byte(policyJSON))
	require.NoError(t, err)
	b, err := bus.NewMemory(bus.MemoryOptions{Backoff: time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	h := &harness{store: incident.NewMemoryStore(), clk: clock.NewManual(monday10), bus: b}
	_, err = b.Subscribe(context.Background(), "gov.>", "test", func(ctx context.Context, m bus.Message) error {
		d, err := incident.DecodeEvent(m)
		if err != nil {
			return err
		}
		h.mu.Lock()
		h.events = append(h.events, d)
		h.subs = append(h.subs, m.Subject)
		h.mu.Unlock()
		return nil
	})
	require.NoError(t, err)
	cfg := incident.Config{
		Store: h.store, Catalogue: catalogue(t), Regions: city, Authorizer: p, Bus: b,
		Clock: h.clk, Calendar: calendar.Default(),
	}
	for _, o := range opts {
		o(&cfg)
	}
	h.svc, err = incident.NewService(cfg)
	require.NoError(t, err)
	t.Cleanup(h.svc.Shutdown)
	return h
}

// eventsOf waits for the bus to deliver everything and returns the
// events seen for id, in order.
func (h *harness) eventsOf(t *testing.T, id uuid.UUID) []incident.EventData {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, h.bus.Drain(ctx))
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []incident.EventData
	for _, e := range h.events {
		if e.ID == id {
			out = append(out, e)
		}
	}
	return out
}

// eventNames returns the names of the events seen for id, in order.
func (h *harness) eventNames(t *testing.T, id uuid.UUID) []string {
	t.Helper()
	var names []string
	for _, e := range h.eventsOf(t, id) {
		names = append(names, e.Event)
	}
	return names
}

// lastEvent returns the last event called name about id (any case if id
// is zero). Events of different cases may arrive in any order.
func (h *harness) lastEvent(t *testing.T, name string, id ...uuid.UUID) incident.EventData {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, h.bus.Drain(ctx))
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := len(h.events) - 1; i >= 0; i-- {
		if h.events[i].Event == name && (len(id) == 0 || h.events[i].ID == id[0]) {
			return h.events[i]
		}
	}
	t.Fatalf("no %s event", name)
	return incident.EventData{}
}

// waste is a citizen's report of dumped construction waste.
func waste(key string, p geo.Point) incident.Report {
	return incident.Report{
		Key: key, Channel: incident.CitizenApp, Category: "construction-waste",
		Attributes:  map[string][]string{"volume": {"12.5"}, "blocking": {"yes"}},
		Description: "Bags of rubble dumped on the pavement", Point: p,
	}
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		require.NoError(t, err)
		return v
	}
}

func mustCity(t *testing.T) *region.Hierarchy {
	t.Helper()
	city, err := regiontest.New(regiontest.Small())
	require.NoError(t, err)
	return city
}

func mustPolicy(t *testing.T) *access.Policy {
	t.Helper()
	p, err := access.ParsePolicy([]byte(policyJSON))
	require.NoError(t, err)
	return p
}
