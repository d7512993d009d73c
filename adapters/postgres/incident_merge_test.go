package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/adapters/postgres"
	"github.com/govkit/govkit/adapters/postgres/pgtest"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/incident"
	"github.com/govkit/govkit/region/regiontest"
)

// Two processes sharing the database take alarms on one asset at the same
// moment: the store's merge lock makes them one case, as the in-process
// lock does within one service.
func TestIncidentAutoMergeAcrossProcesses(t *testing.T) {
	ctx := testCtx(t)
	db := pgtest.New(t)
	city, err := regiontest.New(regiontest.Small())
	require.NoError(t, err)
	cat, err := incident.NewCatalogue([]incident.Category{{Code: "smoke-alarm", Name: "Smoke alarm", Kind: incident.Asset,
		Major: "05", Minor: "01", Attributes: []incident.Attribute{{Code: incident.AssetAttribute, Type: incident.String, Required: true}}}})
	require.NoError(t, err)
	process := func() *incident.Service {
		store, err := postgres.NewIncidentStore(ctx, db, incidentSealer(t, "merge"))
		require.NoError(t, err)
		svc, err := incident.NewService(incident.Config{Store: store, Catalogue: cat, Regions: city, Authorizer: access.AllowAll(),
			AutoMerge: incident.SameAttribute(incident.AssetAttribute)})
		require.NoError(t, err)
		t.Cleanup(svc.Shutdown)
		return svc
	}
	processes := []*incident.Service{process(), process()}
	gateway := access.WithActor(ctx, access.Actor{ID: "iot-gw", Kind: access.SensorSystem, Scope: "500000"})

	const n = 16
	cases := make([]uuid.UUID, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			rc, err := processes[i%2].Report(gateway, incident.Report{
				Key: fmt.Sprintf("smoke-7-%d", i), Channel: incident.SensorAlarm, Category: "smoke-alarm", Confidence: 0.99,
				Attributes: map[string][]string{incident.AssetAttribute: {"bldg-7"}},
				Point:      geo.Point{Lat: 29.528 + float64(i)*0.00001, Lon: 106.4896},
			})
			require.NoError(t, err)
			cases[i] = rc.Incident.ID
		})
	}
	wg.Wait()
	distinct := map[uuid.UUID]bool{}
	for _, id := range cases {
		distinct[id] = true
	}
	require.Len(t, distinct, 1, "one case for one asset across processes")
	got, err := processes[0].Get(gateway, cases[0])
	require.NoError(t, err)
	require.Len(t, got.Reporters, n)

	// The lock is released: a report whose context has ended fails without
	// taking it, and the next report of the category goes through.
	cancelled, cancel := context.WithCancel(gateway)
	cancel()
	_, err = processes[1].Report(cancelled, incident.Report{Channel: incident.SensorAlarm, Category: "smoke-alarm", Confidence: 0.99,
		Attributes: map[string][]string{incident.AssetAttribute: {"bldg-8"}}, Point: geo.Point{Lat: 29.528, Lon: 106.4896}})
	require.ErrorIs(t, err, context.Canceled)
	rc, err := processes[1].Report(gateway, incident.Report{Channel: incident.SensorAlarm, Category: "smoke-alarm", Confidence: 0.99,
		Attributes: map[string][]string{incident.AssetAttribute: {"bldg-8"}}, Point: geo.Point{Lat: 29.528, Lon: 106.4896}})
	require.NoError(t, err)
	require.NotEqual(t, cases[0], rc.Incident.ID, "another asset, another case")
}
