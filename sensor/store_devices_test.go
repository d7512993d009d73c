package sensor_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/region"
	"github.com/govkit/govkit/sensor"
)

func newDevices(t *testing.T, az access.Authorizer, area string) (*sensor.Devices, *sensor.Registry, *sensor.MemoryStore) {
	t.Helper()
	reg := sensor.NewRegistry()
	store := sensor.NewMemoryStore()
	devs, err := sensor.NewDevices(reg, store, sensor.DevicesOptions{Authorizer: az, Area: region.Code(area)})
	require.NoError(t, err)
	return devs, reg, store
}

func TestDevicesAccessAtJurisdictionBoundary(t *testing.T) {
	policy, err := access.NewPolicy(map[string][]access.Grant{
		"device-admin": {
			{Action: sensor.ActionManageDevices, Resource: sensor.ResourceDevice},
			{Action: sensor.ActionManageDevices, Resource: sensor.ResourceProfile},
		},
		"viewer": {{Action: sensor.ActionRead, Resource: sensor.ResourceAlarm}},
	})
	require.NoError(t, err)
	devs, reg, store := newDevices(t, policy, "500000")
	ctx := context.Background()
	// Jiulongpo's (500107) device administrators; the city's see all.
	jlp := access.WithActor(ctx, access.Actor{ID: "jlp-admin", Kind: access.DistrictStaff, Scope: "500107", Roles: []string{"device-admin"}})
	city := access.WithActor(ctx, access.Actor{ID: "city-admin", Kind: access.CityStaff, Scope: "500000", Roles: []string{"device-admin"}})
	viewer := access.WithActor(ctx, access.Actor{ID: "v", Kind: access.DistrictStaff, Scope: "500107", Roles: []string{"viewer"}})

	// Profiles belong to the city.
	var de *access.DeniedError
	err = devs.AddProfile(jlp, rulePipeProfile)
	require.ErrorIs(t, err, access.ErrDenied)
	require.ErrorAs(t, err, &de)
	require.Equal(t, access.OutOfJurisdiction, de.Decision.Reason)
	require.NoError(t, devs.AddProfile(city, rulePipeProfile))

	mine := sensor.Device{ID: "jlp-1", Profile: "pipe-pressure", Grid: "500107001002003", Location: geo.Point{Lat: 29.5, Lon: 106.5}}
	theirs := sensor.Device{ID: "yz-1", Profile: "pipe-pressure", Grid: "500103001001001", Location: geo.Point{Lat: 29.56, Lon: 106.57}}
	_, err = devs.Register(jlp, mine)
	require.NoError(t, err, "own district")
	_, err = devs.Register(jlp, theirs)
	require.ErrorIs(t, err, access.ErrDenied, "the neighbouring district")
	require.ErrorAs(t, err, &de)
	require.Equal(t, access.OutOfJurisdiction, de.Decision.Reason)
	_, err = reg.Lookup("yz-1")
	require.ErrorIs(t, err, sensor.ErrUnknownDevice, "a denied registration registers nothing")
	_, err = store.Device(ctx, "yz-1")
	require.ErrorIs(t, err, sensor.ErrUnknownDevice, "a denied registration stores nothing")
	_, err = devs.Register(ctx, theirs)
	require.ErrorIs(t, err, access.ErrNoActor)
	other := mine
	other.ID = "jlp-2"
	_, err = devs.Register(viewer, other)
	require.ErrorIs(t, err, access.ErrDenied, "a role without the grant")
	_, err = devs.Register(city, theirs)
	require.NoError(t, err)

	require.ErrorIs(t, devs.SetAdmin(jlp, "yz-1", sensor.Locked), access.ErrDenied)
	require.ErrorIs(t, devs.SetOperating(jlp, "yz-1", sensor.Down), access.ErrDenied)
	require.ErrorIs(t, devs.Remove(jlp, "yz-1"), access.ErrDenied)
	h, err := reg.Lookup("yz-1")
	require.NoError(t, err)
	d, err := reg.Device(h)
	require.NoError(t, err)
	require.Equal(t, sensor.Unlocked, d.Admin, "a denied change changed nothing")
	rec, err := store.Device(ctx, "yz-1")
	require.NoError(t, err)
	require.EqualValues(t, 1, rec.Version)

	require.NoError(t, devs.SetAdmin(jlp, "jlp-1", sensor.Locked))
	require.NoError(t, devs.SetAdmin(city, "yz-1", sensor.Locked))
	require.NoError(t, devs.Remove(jlp, "jlp-1"))
	require.ErrorIs(t, devs.Remove(jlp, "jlp-1"), sensor.ErrUnknownDevice)
}

func TestDevicesWriteThrough(t *testing.T) {
	devs, reg, store := newDevices(t, access.AllowAll(), "")
	ctx := context.Background()
	require.NoError(t, devs.AddProfile(ctx, rulePipeProfile))
	require.ErrorIs(t, devs.AddProfile(ctx, rulePipeProfile), sensor.ErrDuplicate)
	require.ErrorIs(t, devs.AddProfile(ctx, sensor.Profile{Name: "no resources"}), sensor.ErrInvalidProfile)
	p, err := store.Profile(ctx, "pipe-pressure")
	require.NoError(t, err)
	require.Equal(t, rulePipeProfile, p)

	d := sensor.Device{ID: "cq-pp-000017", Profile: "pipe-pressure", Grid: "500107001002003", Asset: "main-7",
		Location: geo.Point{Lat: 29.5, Lon: 106.5}, Labels: map[string]string{"network": "dn300"}}
	_, err = devs.Register(ctx, d)
	require.NoError(t, err)
	_, err = devs.Register(ctx, d)
	require.ErrorIs(t, err, sensor.ErrDuplicate)
	bad := d
	bad.ID, bad.Profile = "cq-pp-000018", "no-such-profile"
	_, err = devs.Register(ctx, bad)
	require.ErrorIs(t, err, sensor.ErrUnknownProfile)
	_, err = store.Device(ctx, bad.ID)
	require.ErrorIs(t, err, sensor.ErrUnknownDevice, "a refused device is not stored")

	require.NoError(t, devs.SetAdmin(ctx, d.ID, sensor.Locked))
	require.NoError(t, devs.SetOperating(ctx, d.ID, sensor.Up))
	require.ErrorIs(t, devs.SetAdmin(ctx, d.ID, 7), sensor.ErrInvalidDevice)
	require.ErrorIs(t, devs.SetOperating(ctx, d.ID, 9), sensor.ErrInvalidDevice)
	rec, err := store.Device(ctx, d.ID)
	require.NoError(t, err)
	want := d
	want.Admin, want.Operating = sensor.Locked, sensor.Up
	require.Equal(t, sensor.DeviceRecord{Device: want, Version: 3}, rec)

	// A device registered on the registry directly, before the store was
	// in use, is stored whole at its first change.
	direct := sensor.Device{ID: "cq-pp-000019", Profile: "pipe-pressure", Grid: "500107001002004", Location: geo.Point{Lat: 29.5, Lon: 106.5}}
	_, err = reg.Register(direct)
	require.NoError(t, err)
	require.NoError(t, devs.SetOperating(ctx, direct.ID, sensor.Down))
	rec, err = store.Device(ctx, direct.ID)
	require.NoError(t, err)
	direct.Operating = sensor.Down
	require.Equal(t, sensor.DeviceRecord{Device: direct, Version: 1}, rec)

	require.NoError(t, devs.Remove(ctx, d.ID))
	rec, err = store.Device(ctx, d.ID)
	require.NoError(t, err)
	require.True(t, rec.Removed)
	require.EqualValues(t, 4, rec.Version)
	require.ErrorIs(t, devs.SetAdmin(ctx, d.ID, sensor.Unlocked), sensor.ErrUnknownDevice)

	_, err = sensor.NewDevices(reg, nil, sensor.DevicesOptions{Authorizer: access.AllowAll()})
	require.ErrorIs(t, err, sensor.ErrInvalidDevice)
	_, err = sensor.NewDevices(reg, store, sensor.DevicesOptions{})
	require.ErrorIs(t, err, sensor.ErrInvalidDevice)
	_, err = sensor.NewDevices(reg, store, sensor.DevicesOptions{Authorizer: access.AllowAll(), Area: "5001"})
	require.ErrorIs(t, err, sensor.ErrInvalidDevice)
}

// failingDevices refuses device writes.
type failingDevices struct{ sensor.Store }

func (failingDevices) PutDevice(context.Context, sensor.DeviceRecord) error {
	return errors.New("connection refused")
}

func TestDevicesStoreFailureChangesNothing(t *testing.T) {
	reg := sensor.NewRegistry()
	store := failingDevices{sensor.NewMemoryStore()}
	devs, err := sensor.NewDevices(reg, store, sensor.DevicesOptions{Authorizer: access.AllowAll()})
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, devs.AddProfile(ctx, rulePipeProfile))
	_, err = devs.Register(ctx, sensor.Device{ID: "cq-pp-000017", Profile: "pipe-pressure", Grid: "500107001002003"})
	require.Error(t, err)
	require.Zero(t, reg.Len())
	h, err := reg.Register(sensor.Device{ID: "cq-pp-000017", Profile: "pipe-pressure", Grid: "500107001002003"})
	require.NoError(t, err)
	require.Error(t, devs.SetAdmin(ctx, "cq-pp-000017", sensor.Locked))
	d, err := reg.Device(h)
	require.NoError(t, err)
	require.Equal(t, sensor.Unlocked, d.Admin)
}

// LoadRegistry rebuilds what Devices wrote: profiles, devices with every
// field the registry keeps, gateways listed after the devices behind them,
// removed devices (and the devices behind a removed gateway).
func TestLoadRegistry(t *testing.T) {
	devs, _, store := newDevices(t, access.AllowAll(), "")
	ctx := context.Background()
	gwProfile := sensor.Profile{Name: "gateway", Resources: []sensor.Resource{{Name: "uplink", Interval: time.Minute}}}
	require.NoError(t, devs.AddProfile(ctx, rulePipeProfile))
	require.NoError(t, devs.AddProfile(ctx, gwProfile))
	at := geo.Point{Lat: 29.501234, Lon: 106.512345}
	all := []sensor.Device{
		{ID: "zz-gw-1", Profile: "gateway", Grid: "500107001002003", Location: at},
		{ID: "zz-gw-2", Profile: "gateway", Grid: "500107001002003", Location: at, Gateway: "zz-gw-1"}, // a gateway behind a gateway
		{ID: "aa-1", Profile: "pipe-pressure", Grid: "500107001002003", Location: at, Gateway: "zz-gw-2", Asset: "main-7",
			Labels: map[string]string{"network": "dn300"}},
		{ID: "aa-2", Profile: "pipe-pressure", Grid: "500103001001001", Location: at, Gateway: "zz-gw-1", Admin: sensor.Locked, Operating: sensor.Down},
		{ID: "mm-3", Profile: "pipe-pressure", Location: at},
	}
	for _, d := range all {
		_, err := devs.Register(ctx, d)
		require.NoError(t, err, d.ID)
	}
	require.NoError(t, devs.Remove(ctx, "zz-gw-1"))
	require.NoError(t, devs.SetOperating(ctx, "mm-3", sensor.Up))
	all[4].Operating = sensor.Up

	reg, err := sensor.LoadRegistry(ctx, store)
	require.NoError(t, err)
	p, err := reg.Profile("gateway")
	require.NoError(t, err)
	require.Equal(t, gwProfile, p)
	require.Equal(t, 4, reg.Len())
	_, err = reg.Lookup("zz-gw-1")
	require.ErrorIs(t, err, sensor.ErrUnknownDevice, "removed")
	for _, want := range all[1:] {
		h, err := reg.Lookup(want.ID)
		require.NoError(t, err, want.ID)
		got, err := reg.Device(h)
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
	gw, err := reg.Lookup("zz-gw-2")
	require.NoError(t, err)
	aa1, err := reg.Lookup("aa-1")
	require.NoError(t, err)
	require.Equal(t, []sensor.Handle{aa1}, reg.Behind(gw))

	// A device naming a gateway the store lacks fails the load.
	require.NoError(t, store.PutDevice(ctx, sensor.DeviceRecord{Device: sensor.Device{ID: "orphan", Profile: "pipe-pressure", Gateway: "nowhere"}, Version: 1}))
	_, err = sensor.LoadRegistry(ctx, store)
	require.ErrorIs(t, err, sensor.ErrUnknownDevice)
	_, err = sensor.LoadRegistry(ctx, nil)
	require.ErrorIs(t, err, sensor.ErrInvalidDevice)
}
