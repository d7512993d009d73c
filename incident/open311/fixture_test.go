package open311_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/clock"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/incident"
	"github.com/govkit/govkit/pii"
	"github.com/govkit/govkit/region"
	"github.com/govkit/govkit/region/regiontest"
	"github.com/stretchr/testify/require"
)

// categories is a small catalogue: an event with a required number and a
// multi-value list (declared out of order), and an asset with none.
func categories() []incident.Category {
	return []incident.Category{
		{
			Code: "construction-waste", Name: "Dumped construction waste", Kind: incident.Event,
			Major: "01", Minor: "0102", SLA: incident.SLA{Register: 2 * time.Hour, Dispose: 4 * time.Hour},
			Attributes: []incident.Attribute{
				{Code: "volume", Description: "Estimated volume in cubic metres", Type: incident.Number, Required: true, Order: 5},
				{Code: "kinds", Description: "What is in the pile", Type: incident.MultiValueList, Order: 1,
					Values: []incident.AttributeValue{{Key: "brick", Name: "Bricks"}, {Key: "soil", Name: "Soil"}}},
			},
		},
		{Code: "manhole-cover", Name: "Missing manhole cover", Kind: incident.Asset, Major: "02", StandardCode: "0201"},
	}
}

func catalogue(t testing.TB) *incident.Catalogue {
	t.Helper()
	c, err := incident.NewCatalogue(categories())
	require.NoError(t, err)
	return c
}

var cst = time.FixedZone("CST", 8*3600)

// service builds a real incident service on the embedded defaults, open to
// all, on a manual clock at Monday 10:00 in Chongqing.
func service(t testing.TB) (*incident.Service, *clock.Manual) {
	t.Helper()
	city, err := regiontest.New(regiontest.Small())
	require.NoError(t, err)
	clk := clock.NewManual(time.Date(2026, 3, 2, 10, 0, 0, 0, cst))
	svc, err := incident.NewService(incident.Config{
		Catalogue: catalogue(t), Regions: city, Authorizer: access.AllowAll(), Clock: clk,
	})
	require.NoError(t, err)
	t.Cleanup(svc.Shutdown)
	return svc, clk
}

func citizen(id string) context.Context {
	return access.WithActor(context.Background(), access.Actor{ID: id, Kind: access.Citizen, Scope: "500000"})
}

// reveal returns the raw value of d, for tests only.
func reveal(t testing.TB, d pii.Data) string {
	t.Helper()
	v, err := d.Reveal(citizen("test"), access.AllowAll(), access.Resource{Kind: "incident", ID: "test"})
	require.NoError(t, err)
	return v
}

// sampleIncident is a closed case with reporters who left their details.
func sampleIncident(t testing.TB) incident.Incident {
	t.Helper()
	name, err := pii.NewName("张三")
	require.NoError(t, err)
	phone, err := pii.NewPhone("13812345678")
	require.NoError(t, err)
	name2, err := pii.NewName("Li Lei")
	require.NoError(t, err)
	phone2, err := pii.NewPhone("+86 139-8765-4321")
	require.NoError(t, err)
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, cst)
	return incident.Incident{
		ID:          uuid.MustParse("019cacb4-4c00-7000-8000-000000000001"),
		ExternalIDs: map[string]string{"hotline": "H-2026-0001"},
		Channel:     incident.CitizenApp,
		Reporters: []incident.Reporter{
			{ActorID: "citizen-a", Channel: incident.CitizenApp, Name: name, Phone: phone, ReportedAt: at, ExternalID: "app-77"},
			{ActorID: "citizen-b", Channel: incident.Hotline, Name: name2, Phone: phone2, ReportedAt: at.Add(time.Hour)},
		},
		Category:    "construction-waste",
		Attributes:  map[string][]string{"volume": {"2.5"}},
		Description: "rubble on the pavement",
		Location: incident.Location{
			Point: geo.Point{Lat: 29.528, Lon: 106.4896}, Address: "科园一路3号",
			Path: []region.Code{"500000", "500001"},
		},
		Priority: incident.Normal,
		Evidence: []incident.Evidence{{URI: "https://media.example.gov.cn/a.jpg", SHA256: "ab"}},
		Status:   incident.Closed, Resolution: incident.Fixed,
		Times: incident.Times{
			Reported: at, Registered: at.Add(30 * time.Minute), Dispatched: at.Add(time.Hour),
			Started: at.Add(2 * time.Hour), Disposed: at.Add(3 * time.Hour), Verified: at.Add(4 * time.Hour),
			Closed: at.Add(4 * time.Hour),
		},
		Version: 9,
	}
}
