package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/adapters/postgres"
	"github.com/govkit/govkit/adapters/postgres/pgtest"
	"github.com/govkit/govkit/clock"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/sensor"
	"github.com/govkit/govkit/sensor/sensortest"
)

func newSensorStore(t testing.TB) (*postgres.SensorStore, *postgres.DB) {
	t.Helper()
	db := pgtest.New(t)
	s, err := postgres.NewSensorStore(testCtx(t), db)
	require.NoError(t, err)
	return s, db
}

func TestSensorStoreConformance(t *testing.T) {
	sensortest.Run(t, func(t *testing.T) sensor.Store {
		s, _ := newSensorStore(t)
		return s
	})
}

func TestSensorStoreNeedsDB(t *testing.T) {
	_, err := postgres.NewSensorStore(context.Background(), nil)
	require.ErrorIs(t, err, postgres.ErrInvalidArgument)
}

// Opening the store again, as every process of a deployment does, applies
// nothing twice and loses nothing; the reading sink shares the component.
func TestSensorStoreMigrations(t *testing.T) {
	ctx := testCtx(t)
	s, db := newSensorStore(t)
	a := sensor.Alarm{ID: "0190a1c2-7f3a-7c9e-8b1d-2f4e6a8c0b1d", Kind: sensor.AlarmDevice, Rule: "high", Status: sensor.AlarmActive,
		Device: "cq-pp-000017", Grid: "500107001002003", Version: 1}
	require.NoError(t, s.WriteAlarms(ctx, sensor.AlarmWrite{Alarm: a}))

	again, err := postgres.NewSensorStore(ctx, db)
	require.NoError(t, err, "a second store on the same database")
	_, err = postgres.NewReadingSink(ctx, db, sensor.NewRegistry())
	require.NoError(t, err, "the reading sink on the same component")
	applied, err := db.AppliedMigrations(ctx, postgres.SensorComponent)
	require.NoError(t, err)
	require.Len(t, applied, 3)
	require.Equal(t, "create_sensor_reading", applied[0].Name)
	require.Equal(t, "create_sensor_store", applied[1].Name)
	require.Equal(t, "mark_sensor_events", applied[2].Name)
	for _, table := range []string{"govkit_sensor_reading", "govkit_sensor_profile", "govkit_sensor_device", "govkit_sensor_rule",
		"govkit_sensor_alarm", "govkit_sensor_vital_sign", "govkit_sensor_event"} {
		require.True(t, tableExists(t, db, table), table)
	}
	for _, index := range []string{"govkit_sensor_device_grid_idx", "govkit_sensor_device_profile_idx", "govkit_sensor_alarm_open_idx",
		"govkit_sensor_alarm_status_idx", "govkit_sensor_alarm_rule_idx", "govkit_sensor_alarm_device_idx",
		"govkit_sensor_alarm_asset_idx", "govkit_sensor_alarm_grid_idx"} {
		require.Equal(t, 1, queryInt(t, db, "SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() AND indexname = $1", index), index)
	}
	got, err := again.Alarm(ctx, a.ID)
	require.NoError(t, err)
	require.Equal(t, a, got)

	// A database that has only the reading sink's table gets the rest.
	db2 := pgtest.New(t)
	_, err = postgres.NewReadingSink(ctx, db2, sensor.NewRegistry())
	require.NoError(t, err)
	// Concurrent starts apply each migration once.
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			_, err := postgres.NewSensorStore(ctx, db2)
			errs <- err
		}()
	}
	for range 4 {
		require.NoError(t, <-errs)
	}
	applied, err = db2.AppliedMigrations(ctx, postgres.SensorComponent)
	require.NoError(t, err)
	require.Len(t, applied, 3)
}

// Values travel as parameters, never as SQL; text PostgreSQL cannot hold
// is refused before the transaction, and a key holding it is not found.
func TestSensorStoreHostileText(t *testing.T) {
	ctx := testCtx(t)
	s, _ := newSensorStore(t)
	for _, evil := range []string{"x'; DROP TABLE govkit_sensor_alarm; --", `' OR '1'='1`, "%", "_", `\`, `\u0000`, "$1"} {
		rec := sensor.DeviceRecord{Device: sensor.Device{ID: evil, Profile: evil, Grid: "500107001002003", Labels: map[string]string{evil: evil}}, Version: 1}
		require.NoError(t, s.PutDevice(ctx, rec), evil)
		got, err := s.Device(ctx, evil)
		require.NoError(t, err)
		require.Equal(t, rec, got)
		page, err := s.Devices(ctx, sensor.DeviceQuery{Profile: evil})
		require.NoError(t, err)
		require.Equal(t, []sensor.DeviceRecord{rec}, page.Devices, evil)
		a := sensor.Alarm{ID: evil, Rule: evil, Device: evil, Asset: evil, Note: evil, Version: 1}
		require.NoError(t, s.WriteAlarms(ctx, sensor.AlarmWrite{Alarm: a}))
		ap, err := s.Alarms(ctx, sensor.AlarmQuery{Rule: evil, Device: evil, Asset: evil})
		require.NoError(t, err)
		require.Equal(t, []sensor.Alarm{a}, ap.Alarms, evil)
	}
	for _, bad := range []string{"nul\x00", "bad-utf8-\xff"} {
		err := s.PutDevice(ctx, sensor.DeviceRecord{Device: sensor.Device{ID: bad}, Version: 1})
		require.ErrorIs(t, err, sensor.ErrInvalidRecord, "%q", bad)
		err = s.WriteAlarms(ctx, sensor.AlarmWrite{Alarm: sensor.Alarm{ID: "ok", Note: "nul\x00", Version: 1}})
		require.ErrorIs(t, err, sensor.ErrInvalidRecord, "%q", bad)
		require.ErrorIs(t, s.CreateRule(ctx, sensor.Rule{ID: bad}), sensor.ErrInvalidRecord)
		require.ErrorIs(t, s.CreateProfile(ctx, sensor.Profile{Name: bad}), sensor.ErrInvalidRecord)
		require.ErrorIs(t, s.PutVitalSign(ctx, sensor.VitalSign{Name: bad}), sensor.ErrInvalidRecord)
		_, err = s.Device(ctx, bad)
		require.ErrorIs(t, err, sensor.ErrUnknownDevice)
		_, err = s.Alarm(ctx, bad)
		require.ErrorIs(t, err, sensor.ErrUnknownAlarm)
		_, err = s.Rule(ctx, bad)
		require.ErrorIs(t, err, sensor.ErrUnknownRule)
		_, err = s.Profile(ctx, bad)
		require.ErrorIs(t, err, sensor.ErrUnknownProfile)
		page, err := s.Alarms(ctx, sensor.AlarmQuery{Device: bad})
		require.NoError(t, err)
		require.Empty(t, page.Alarms)
	}
	_, err := s.Alarm(ctx, "ok")
	require.ErrorIs(t, err, sensor.ErrUnknownAlarm, "a refused write wrote nothing")
}

// A restarted process on PostgreSQL keeps its alarm and its
// acknowledgement: the registry and the engine are rebuilt from the store.
func TestSensorStoreEngineRestart(t *testing.T) {
	ctx := testCtx(t)
	s, _ := newSensorStore(t)
	clk := clock.NewManual(time.Date(2026, time.October, 8, 9, 0, 0, 0, time.UTC))
	start := func() (*sensor.Registry, *sensor.Devices, *sensor.Engine) {
		reg, err := sensor.LoadRegistry(ctx, s)
		require.NoError(t, err)
		devs, err := sensor.NewDevices(reg, s, sensor.DevicesOptions{Authorizer: access.AllowAll()})
		require.NoError(t, err)
		eng, err := sensor.NewEngine(reg, clk, nil, sensor.EngineOptions{Authorizer: access.AllowAll(), Store: s})
		require.NoError(t, err)
		t.Cleanup(eng.Close)
		return reg, devs, eng
	}
	reg, devs, eng := start()
	require.NoError(t, devs.AddProfile(ctx, sensor.Profile{Name: "pipe-pressure", Resources: []sensor.Resource{
		{Name: "pressure", Unit: "MPa", Min: 0, Max: 2, Interval: time.Minute}}}))
	_, err := devs.Register(ctx, sensor.Device{ID: "cq-pp-000017", Profile: "pipe-pressure", Grid: "500107001002003",
		Location: geo.Point{Lat: 29.5, Lon: 106.5}, Asset: "main-7"})
	require.NoError(t, err)
	rule := sensor.Rule{ID: "high", Scope: sensor.Scope{Profile: "pipe-pressure", Resource: "pressure"},
		Raise: []sensor.Condition{{Op: ">", Value: 0.8}}, Clear: &sensor.Condition{Op: "<", Value: 0.6}}
	require.NoError(t, eng.AddRule(ctx, rule))
	read := func(reg *sensor.Registry, eng *sensor.Engine, v float64) {
		h, err := reg.Lookup("cq-pp-000017")
		require.NoError(t, err)
		eng.Observe([]sensor.Reading{{Device: h, Value: v, Observed: clk.Now()}})
	}
	read(reg, eng, 0.9)
	alarms, err := eng.Alarms(ctx, sensor.AlarmFilter{})
	require.NoError(t, err)
	require.Len(t, alarms, 1)
	clk.Advance(time.Minute)
	acked, err := eng.Ack(access.WithActor(ctx, access.Actor{ID: "jlp-water-duty-02"}), alarms[0].ID)
	require.NoError(t, err)

	eng.Close()
	reg, _, eng = start()
	got, err := eng.Alarms(ctx, sensor.AlarmFilter{})
	require.NoError(t, err)
	require.Equal(t, []sensor.Alarm{acked}, got)
	read(reg, eng, 0.95)
	require.Equal(t, 1, eng.Stats().Open)
	require.Zero(t, eng.Stats().Raised, "no duplicate raised")
	clk.Advance(time.Minute)
	read(reg, eng, 0.5)
	cleared, err := s.Alarm(ctx, acked.ID)
	require.NoError(t, err)
	require.Equal(t, sensor.AlarmCleared, cleared.Status)
	require.Equal(t, "jlp-water-duty-02", cleared.AckedBy)
	require.Zero(t, eng.Stats().StoreErrors)
}
