package sensortest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/sensor"
)

// Run runs every conformance test as a subtest of t, each on a fresh,
// empty store from newStore. The store is left to the test's cleanup to
// close.
func Run(t *testing.T, newStore func(t *testing.T) sensor.Store) {
	t.Helper()
	if newStore == nil {
		t.Fatal("sensortest: newStore is nil")
	}
	tests := []struct {
		name string
		fn   func(*testing.T, sensor.Store)
	}{
		{"FixturesSetEveryField", testFixturesSetEveryField},
		{"Profiles", testProfiles},
		{"ProfilesReturnCopies", testProfilesReturnCopies},
		{"DevicesRoundTrip", testDevicesRoundTrip},
		{"DevicesReturnCopies", testDevicesReturnCopies},
		{"DeviceVersions", testDeviceVersions},
		{"DevicesFilters", testDevicesFilters},
		{"DevicesFollowUpdates", testDevicesFollowUpdates},
		{"DevicesPaging", testDevicesPaging},
		{"DevicesInvalidQuery", testDevicesInvalidQuery},
		{"Rules", testRules},
		{"RulesReturnCopies", testRulesReturnCopies},
		{"AlarmsRoundTrip", testAlarmsRoundTrip},
		{"AlarmsReturnCopies", testAlarmsReturnCopies},
		{"AlarmVersions", testAlarmVersions},
		{"AlarmWritesInSequence", testAlarmWritesInSequence},
		{"AlarmWritesAreAtomic", testAlarmWritesAreAtomic},
		{"CancelledAlarmsAreRemoved", testCancelledAlarmsAreRemoved},
		{"AlarmEventsOutbox", testAlarmEventsOutbox},
		{"AlarmEventsAreAtomic", testAlarmEventsAreAtomic},
		{"PruneAlarms", testPruneAlarms},
		{"AlarmsFilters", testAlarmsFilters},
		{"AlarmsFollowUpdates", testAlarmsFollowUpdates},
		{"AlarmsPaging", testAlarmsPaging},
		{"AlarmsInvalidQuery", testAlarmsInvalidQuery},
		{"ConcurrentAlarmWrites", testConcurrentAlarmWrites},
		{"ConcurrentCreates", testConcurrentCreates},
		{"VitalSigns", testVitalSigns},
		{"CancelledContext", testCancelledContext},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			require.NotNil(t, s, "newStore returned nil")
			tc.fn(t, s)
		})
	}
}

func putDevice(t *testing.T, s sensor.Store, recs ...sensor.DeviceRecord) {
	t.Helper()
	for _, r := range recs {
		require.NoError(t, s.PutDevice(t.Context(), r), "device %s v%d", r.Device.ID, r.Version)
	}
}

func device(t *testing.T, s sensor.Store, id string) sensor.DeviceRecord {
	t.Helper()
	r, err := s.Device(t.Context(), id)
	require.NoError(t, err, "device %s", id)
	return r
}

func write(t *testing.T, s sensor.Store, writes ...sensor.AlarmWrite) {
	t.Helper()
	require.NoError(t, s.WriteAlarms(t.Context(), writes...))
}

// create writes new alarms.
func create(t *testing.T, s sensor.Store, alarms ...sensor.Alarm) {
	t.Helper()
	writes := make([]sensor.AlarmWrite, len(alarms))
	for i, a := range alarms {
		writes[i] = sensor.AlarmWrite{Alarm: a}
	}
	write(t, s, writes...)
}

func alarm(t *testing.T, s sensor.Store, id string) sensor.Alarm {
	t.Helper()
	a, err := s.Alarm(t.Context(), id)
	require.NoError(t, err, "alarm %s", id)
	return a
}

func requireNoAlarm(t *testing.T, s sensor.Store, id string) {
	t.Helper()
	_, err := s.Alarm(t.Context(), id)
	require.ErrorIs(t, err, sensor.ErrUnknownAlarm, "alarm %s should not be stored", id)
}

// testFixturesSetEveryField keeps the round trips honest: a field added
// to a stored type must be set by the full fixtures, or this fails, so
// that no store can silently drop it.
func testFixturesSetEveryField(t *testing.T, _ sensor.Store) {
	require.Empty(t, unsetFields(fullProfile()), "fullProfile leaves these fields unset")
	require.Empty(t, unsetFields(fullDevice()), "fullDevice leaves these fields unset")
	require.Empty(t, unsetFields(fullRule()), "fullRule leaves these fields unset")
	require.Empty(t, unsetFields(fullAlarm(t)), "fullAlarm leaves these fields unset")
	require.Empty(t, unsetFields(fullVitalSign()), "fullVitalSign leaves these fields unset")
}

// testProfiles: profiles come back exactly (NaN and infinite ranges
// included), listed by name, created once, never replaced.
func testProfiles(t *testing.T, s sensor.Store) {
	ctx := t.Context()
	list, err := s.Profiles(ctx)
	require.NoError(t, err)
	require.Empty(t, list)

	full := fullProfile()
	bare := sensor.Profile{Name: "bare"}
	empty := sensor.Profile{Name: "Empty", Resources: []sensor.Resource{}}
	wrist := sensor.Profile{Name: bandProfile, Resources: []sensor.Resource{{Name: "fall", Min: 0, Max: 1, Interval: 30 * time.Second}}}
	for _, p := range []sensor.Profile{wrist, full, bare, empty} {
		require.NoError(t, s.CreateProfile(ctx, p), p.Name)
	}
	for _, want := range []sensor.Profile{full, bare, empty, wrist} {
		got, err := s.Profile(ctx, want.Name)
		require.NoError(t, err, want.Name)
		require.Empty(t, profileDiff(want, got), want.Name)
	}
	list, err = s.Profiles(ctx)
	require.NoError(t, err)
	want := []sensor.Profile{empty, bare, wrist, full} // by name, bytewise: upper case first
	require.Len(t, list, len(want))
	for i := range want {
		require.Empty(t, profileDiff(want[i], list[i]), "Profiles()[%d]", i)
	}

	again := fullProfile()
	again.Resources = again.Resources[:1]
	require.ErrorIs(t, s.CreateProfile(ctx, again), sensor.ErrDuplicate)
	got, err := s.Profile(ctx, full.Name)
	require.NoError(t, err)
	require.Empty(t, profileDiff(full, got), "a refused create changed the profile")

	for _, name := range []string{"", "PIPE-PRESSURE-V2", "pipe-pressure-v2 ", "pipe-pressure", "pipe%", "x'; --"} {
		_, err := s.Profile(ctx, name)
		require.ErrorIs(t, err, sensor.ErrUnknownProfile, "%q", name)
	}
	require.ErrorIs(t, s.CreateProfile(ctx, sensor.Profile{}), sensor.ErrInvalidRecord)
}

func testProfilesReturnCopies(t *testing.T, s sensor.Store) {
	ctx := t.Context()
	p := fullProfile()
	require.NoError(t, s.CreateProfile(ctx, p))
	p.Resources[0].Name = "changed"
	got, err := s.Profile(ctx, p.Name)
	require.NoError(t, err)
	require.Empty(t, profileDiff(fullProfile(), got), "the store shares the caller's profile")
	got.Resources[0].Unit = "changed"
	list, err := s.Profiles(ctx)
	require.NoError(t, err)
	list[0].Resources[1].Name = "changed"
	got, err = s.Profile(ctx, p.Name)
	require.NoError(t, err)
	require.Empty(t, profileDiff(fullProfile(), got), "the store returned a shared profile")
}

// testDevicesRoundTrip: device records come back field by field through
// every read, and an update replaces every field.
func testDevicesRoundTrip(t *testing.T, s sensor.Store) {
	ctx := t.Context()
	full := fullDevice()
	bare := sensor.DeviceRecord{Device: sensor.Device{ID: "bare"}, Version: 1}
	empty := newDevice("cq-pp-000099", gridJFB)
	empty.Device.Labels = map[string]string{}
	gw := newDevice(gatewayJLP, gridYJP3)
	gw.Device.Labels = nil
	putDevice(t, s, gw, full, bare, empty)

	for _, want := range []sensor.DeviceRecord{full, bare, empty, gw} {
		require.Equal(t, want, device(t, s, want.Device.ID))
	}
	page, err := s.Devices(ctx, sensor.DeviceQuery{})
	require.NoError(t, err)
	require.Equal(t, []sensor.DeviceRecord{bare, gw, full, empty}, page.Devices, "every record, in ID order")
	require.Empty(t, page.Next)

	next := full.Clone()
	next.Version++
	next.Removed, next.Device.OutOfRange = false, false
	next.Device.Admin, next.Device.Operating = sensor.Unlocked, sensor.Up
	next.Device.Gateway, next.Device.Asset = "", ""
	next.Device.Labels = nil
	next.Device.Grid = gridXJP
	putDevice(t, s, next)
	require.Equal(t, next, device(t, s, full.Device.ID))
	nextBare := bare.Clone()
	nextBare.Version++
	nextBare.Device = full.Clone().Device
	nextBare.Device.ID = "bare"
	putDevice(t, s, nextBare)
	require.Equal(t, nextBare, device(t, s, "bare"))

	for _, id := range []string{"", "CQ-PP-000017", "cq-pp-000017 ", "cq-pp-%", "cq-pp-00001", "x'; DROP TABLE x; --"} {
		_, err := s.Device(ctx, id)
		require.ErrorIs(t, err, sensor.ErrUnknownDevice, "%q", id)
	}
}

func testDevicesReturnCopies(t *testing.T, s sensor.Store) {
	ctx := t.Context()
	rec := fullDevice()
	want := rec.Clone()
	putDevice(t, s, rec)
	rec.Device.Labels["network"] = "changed"
	require.Equal(t, want, device(t, s, want.Device.ID), "the store shares the caller's labels")
	got := device(t, s, want.Device.ID)
	got.Device.Labels["network"] = "changed"
	page, err := s.Devices(ctx, sensor.DeviceQuery{})
	require.NoError(t, err)
	page.Devices[0].Device.Labels["material"] = "changed"
	require.Equal(t, want, device(t, s, want.Device.ID), "the store returned shared labels")
}

// testDeviceVersions: Version 1 creates, others update over the version
// before.
func testDeviceVersions(t *testing.T, s sensor.Store) {
	ctx := t.Context()
	rec := newDevice("cq-pp-000017", gridYJP3)
	putDevice(t, s, rec)

	again := newDevice("cq-pp-000017", gridJFB)
	require.ErrorIs(t, s.PutDevice(ctx, again), sensor.ErrDuplicate, "created twice")
	require.Equal(t, rec, device(t, s, rec.Device.ID))

	v2 := rec.Clone()
	v2.Version, v2.Device.Admin = 2, sensor.Locked
	putDevice(t, s, v2)
	stale := rec.Clone()
	stale.Version, stale.Device.Operating = 2, sensor.Down
	require.ErrorIs(t, s.PutDevice(ctx, stale), sensor.ErrConflict, "stale")
	skip := v2.Clone()
	skip.Version = 4
	require.ErrorIs(t, s.PutDevice(ctx, skip), sensor.ErrConflict, "version skipped")
	require.Equal(t, v2, device(t, s, rec.Device.ID))

	ghost := newDevice("cq-pp-ghost", gridYJP3)
	ghost.Version = 2
	err := s.PutDevice(ctx, ghost)
	require.ErrorIs(t, err, sensor.ErrUnknownDevice, "update of a missing device")
	require.NotErrorIs(t, err, sensor.ErrConflict)
	_, err = s.Device(ctx, ghost.Device.ID)
	require.ErrorIs(t, err, sensor.ErrUnknownDevice)

	for _, bad := range []sensor.DeviceRecord{
		{Device: sensor.Device{ID: "cq-pp-000017"}, Version: 0},
		{Device: sensor.Device{ID: "cq-pp-000017"}, Version: -1},
		{Device: sensor.Device{}, Version: 1},
	} {
		require.ErrorIs(t, s.PutDevice(ctx, bad), sensor.ErrInvalidRecord, "%+v", bad)
	}
	require.Equal(t, v2, device(t, s, rec.Device.ID))

	v3 := v2.Clone()
	v3.Version, v3.Removed = 3, true
	putDevice(t, s, v3)
	require.Equal(t, v3, device(t, s, rec.Device.ID))
}

// deviceFixtures stores devices across grids and profiles and returns
// them in ID order.
func deviceFixtures(t *testing.T, s sensor.Store) []sensor.DeviceRecord {
	t.Helper()
	specs := []struct{ id, grid, profile string }{
		{"cq-pp-000001", gridYJP3, pipeProfile},
		{"cq-pp-000002", gridYJP3, pipeProfile},
		{"cq-pp-000003", gridYJP4, pipeProfile},
		{"cq-pp-000004", gridXJP, pipeProfile},
		{"cq-pp-000005", gridJFB, pipeProfile},
		{"cq-pp-000006", gridNanan, pipeProfile},
		{"cq-pp-000007", gridChengdu, pipeProfile},
		{"cq-pp-000008", "", pipeProfile},
		{"cq-pp-000009", "500107001", pipeProfile}, // placed at street level only
		{"cq-wb-000001", gridYJP3, bandProfile},
		{"cq-wb-000002", gridJFB, bandProfile},
	}
	var all []sensor.DeviceRecord
	for _, sp := range specs {
		r := newDevice(sp.id, sp.grid)
		r.Device.Profile = sp.profile
		all = append(all, r)
	}
	shuffled := slices.Clone(all)
	slices.Reverse(shuffled)
	putDevice(t, s, shuffled...)
	return all
}

func testDevicesFilters(t *testing.T, s sensor.Store) {
	ctx := t.Context()
	all := deviceFixtures(t, s)
	pick := func(idx ...int) []string {
		var out []string
		for _, i := range idx {
			out = append(out, all[i].Device.ID)
		}
		return out
	}
	tests := []struct {
		name string
		q    sensor.DeviceQuery
		want []string
	}{
		{"none", sensor.DeviceQuery{}, pick(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10)},
		{"within grid", sensor.DeviceQuery{Within: gridYJP3}, pick(0, 1, 9)},
		{"within community", sensor.DeviceQuery{Within: "500107001002"}, pick(0, 1, 2, 9)},
		{"within street", sensor.DeviceQuery{Within: "500107001"}, pick(0, 1, 2, 8, 9)},
		{"within district", sensor.DeviceQuery{Within: "500107"}, pick(0, 1, 2, 3, 8, 9)},
		{"within other district", sensor.DeviceQuery{Within: "500103"}, pick(4, 10)},
		{"within empty district", sensor.DeviceQuery{Within: "500112"}, nil},
		{"within Chongqing", sensor.DeviceQuery{Within: "500000"}, pick(0, 1, 2, 3, 4, 5, 8, 9, 10)},
		{"within Chengdu", sensor.DeviceQuery{Within: "510100"}, pick(6)},
		{"within a grid below the device", sensor.DeviceQuery{Within: "500107001001001"}, nil},
		{"profile", sensor.DeviceQuery{Profile: bandProfile}, pick(9, 10)},
		{"profile is exact", sensor.DeviceQuery{Profile: "elder"}, nil},
		{"unknown profile", sensor.DeviceQuery{Profile: "smoke-detector"}, nil},
		{"profile within district", sensor.DeviceQuery{Profile: bandProfile, Within: "500107"}, pick(9)},
		{"profile within street", sensor.DeviceQuery{Profile: pipeProfile, Within: "500107001", Limit: 1000}, pick(0, 1, 2, 8)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var oracle []string
			for _, r := range all {
				if (tc.q.Within == "" || within(r.Device.Grid, tc.q.Within)) && (tc.q.Profile == "" || r.Device.Profile == tc.q.Profile) {
					oracle = append(oracle, r.Device.ID)
				}
			}
			require.Equal(t, oracle, tc.want, "the test's expectation disagrees with its oracle")
			page, err := s.Devices(ctx, tc.q)
			require.NoError(t, err)
			require.Equal(t, tc.want, deviceIDs(page.Devices))
			require.Empty(t, page.Next)
			for _, got := range page.Devices {
				require.Equal(t, device(t, s, got.Device.ID), got, "Devices returns whole records")
			}
		})
	}
}

// testDevicesFollowUpdates: the filters see a record's current version.
func testDevicesFollowUpdates(t *testing.T, s sensor.Store) {
	ctx := t.Context()
	rec := newDevice("cq-pp-000017", gridYJP3)
	putDevice(t, s, rec)
	next := rec.Clone()
	next.Version++
	next.Device.Grid, next.Device.Profile = gridJFB, bandProfile
	putDevice(t, s, next)
	for _, q := range []sensor.DeviceQuery{{Within: "500107"}, {Profile: pipeProfile}} {
		page, err := s.Devices(ctx, q)
		require.NoError(t, err)
		require.Empty(t, page.Devices, "%+v matches the old version", q)
	}
	for _, q := range []sensor.DeviceQuery{{Within: "500103"}, {Profile: bandProfile}, {}} {
		page, err := s.Devices(ctx, q)
		require.NoError(t, err)
		require.Equal(t, []sensor.DeviceRecord{next}, page.Devices, "%+v", q)
	}
}

func testDevicesPaging(t *testing.T, s sensor.Store) {
	ctx := t.Context()
	const n = sensor.DefaultQueryLimit + 7
	var all []sensor.DeviceRecord
	skipped := ""
	for i := range n + 1 {
		grid := fmt.Sprintf("500107001002%03d", i%7+1)
		if i%3 == 0 {
			grid = gridJFB
		}
		r := newDevice(fmt.Sprintf("cq-pp-%06d", i*7%1000), grid)
		if i == 40 { // an ID never stored, between stored ones
			skipped = r.Device.ID
			continue
		}
		all = append(all, r)
	}
	putDevice(t, s, all...)
	slices.SortFunc(all, func(a, b sensor.DeviceRecord) int { return strings.Compare(a.Device.ID, b.Device.ID) })

	pages := func(q sensor.DeviceQuery) ([]string, int) {
		t.Helper()
		var got []string
		count := 0
		limit := sensor.QueryLimit(q.Limit)
		for {
			page, err := s.Devices(ctx, q)
			require.NoError(t, err)
			count++
			require.LessOrEqual(t, len(page.Devices), limit)
			got = append(got, deviceIDs(page.Devices)...)
			if page.Next == "" {
				return got, count
			}
			require.Len(t, page.Devices, limit, "only the last page is short")
			require.Equal(t, page.Devices[len(page.Devices)-1].Device.ID, page.Next)
			require.Less(t, count, n+2, "paging does not end")
			q.After = page.Next
		}
	}
	filtered := func(q sensor.DeviceQuery, after string) []string {
		var out []string
		for _, r := range all {
			if r.Device.ID > after && (q.Within == "" || within(r.Device.Grid, q.Within)) {
				out = append(out, r.Device.ID)
			}
		}
		return out
	}
	want := deviceIDs(all)
	for _, limit := range []int{1, 7, 25, n - 1, n, sensor.MaxQueryLimit} {
		got, count := pages(sensor.DeviceQuery{Limit: limit})
		require.Equal(t, want, got, "limit %d: every device once, in ID order", limit)
		require.Equal(t, (n+limit-1)/limit, count, "limit %d: pages", limit)
	}
	got, count := pages(sensor.DeviceQuery{})
	require.Equal(t, want, got, "default limit")
	require.Equal(t, 2, count, "the default limit is %d", sensor.DefaultQueryLimit)
	for _, q := range []sensor.DeviceQuery{
		{Within: "500107", Limit: 9}, {Within: gridJFB, Limit: 4}, {Within: "500107001002003", Limit: 2},
		{Within: "500000", Profile: pipeProfile},
	} {
		got, _ := pages(q)
		require.Equal(t, filtered(q, ""), got, "paging %+v", q)
	}
	// After need not be a stored ID.
	page, err := s.Devices(ctx, sensor.DeviceQuery{After: skipped, Limit: sensor.MaxQueryLimit})
	require.NoError(t, err)
	require.Equal(t, filtered(sensor.DeviceQuery{}, skipped), deviceIDs(page.Devices))
	page, err = s.Devices(ctx, sensor.DeviceQuery{Within: "500107", After: skipped, Limit: sensor.MaxQueryLimit})
	require.NoError(t, err)
	require.Equal(t, filtered(sensor.DeviceQuery{Within: "500107"}, skipped), deviceIDs(page.Devices))
	page, err = s.Devices(ctx, sensor.DeviceQuery{After: want[len(want)-1]})
	require.NoError(t, err)
	require.Empty(t, page.Devices)
	require.Empty(t, page.Next)
}

func testDevicesInvalidQuery(t *testing.T, s sensor.Store) {
	ctx := t.Context()
	putDevice(t, s, newDevice("cq-pp-000001", gridYJP3))
	for _, q := range []sensor.DeviceQuery{
		{Limit: -1}, {Limit: sensor.MaxQueryLimit + 1}, {Within: "5001"}, {Within: "50010"}, {Within: "5001070010020031"},
		{Within: "50010700100200x"}, {Within: "000000"}, {Within: "500107'; DROP TABLE x; --"}, {Within: "5001%"},
		{Profile: pipeProfile, Within: "abc", Limit: 10},
	} {
		_, err := s.Devices(ctx, q)
		require.ErrorIs(t, err, sensor.ErrInvalidQuery, "%+v", q)
		require.ErrorIs(t, q.Validate(), sensor.ErrInvalidQuery, "the store agrees with Validate: %+v", q)
	}
	for _, q := range []sensor.DeviceQuery{{Limit: 0}, {Limit: 1}, {Limit: sensor.MaxQueryLimit}, {Within: gridYJP3}} {
		page, err := s.Devices(ctx, q)
		require.NoError(t, err, "%+v", q)
		require.Len(t, page.Devices, 1)
	}
}

// testRules: rules come back whole, listed by ID, created once, deleted.
func testRules(t *testing.T, s sensor.Store) {
	ctx := t.Context()
	list, err := s.Rules(ctx)
	require.NoError(t, err)
	require.Empty(t, list)

	full := fullRule()
	bare := sensor.Rule{ID: "bare"}
	empty := newRule("Empty")
	empty.Raise, empty.Scope.Labels = []sensor.Condition{}, map[string]string{}
	empty.Schedule = &sensor.Schedule{Days: []time.Weekday{}}
	simple := newRule("bursts")
	for _, r := range []sensor.Rule{simple, full, bare, empty} {
		require.NoError(t, s.CreateRule(ctx, r), r.ID)
	}
	for _, want := range []sensor.Rule{full, bare, empty, simple} {
		got, err := s.Rule(ctx, want.ID)
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
	list, err = s.Rules(ctx)
	require.NoError(t, err)
	require.Equal(t, []sensor.Rule{empty, bare, simple, full}, list, "by ID, bytewise")

	again := newRule(full.ID)
	require.ErrorIs(t, s.CreateRule(ctx, again), sensor.ErrDuplicate)
	got, err := s.Rule(ctx, full.ID)
	require.NoError(t, err)
	require.Equal(t, full, got)

	require.NoError(t, s.DeleteRule(ctx, simple.ID))
	_, err = s.Rule(ctx, simple.ID)
	require.ErrorIs(t, err, sensor.ErrUnknownRule)
	require.ErrorIs(t, s.DeleteRule(ctx, simple.ID), sensor.ErrUnknownRule, "deleted twice")
	list, err = s.Rules(ctx)
	require.NoError(t, err)
	require.Equal(t, []sensor.Rule{empty, bare, full}, list)
	// Deleted, the ID is free again.
	replaced := newRule(simple.ID)
	replaced.Raise[0].Value = 1.4
	require.NoError(t, s.CreateRule(ctx, replaced))
	got, err = s.Rule(ctx, simple.ID)
	require.NoError(t, err)
	require.Equal(t, replaced, got)

	for _, id := range []string{"", "MAIN-PRESSURE-LOW", "main-pressure-low ", "main%", "x'; --"} {
		_, err := s.Rule(ctx, id)
		require.ErrorIs(t, err, sensor.ErrUnknownRule, "%q", id)
		require.ErrorIs(t, s.DeleteRule(ctx, id), sensor.ErrUnknownRule, "%q", id)
	}
	require.ErrorIs(t, s.CreateRule(ctx, sensor.Rule{}), sensor.ErrInvalidRecord)
}

func testRulesReturnCopies(t *testing.T, s sensor.Store) {
	ctx := t.Context()
	r := fullRule()
	require.NoError(t, s.CreateRule(ctx, r))
	mutate := func(r *sensor.Rule) {
		r.Raise[0].Value = 99
		r.Scope.Labels["network"] = "changed"
		r.Clear.Value = 99
		r.Schedule.Days[0] = time.Saturday
		r.Correlate.MinDevices = 99
	}
	mutate(&r)
	got, err := s.Rule(ctx, r.ID)
	require.NoError(t, err)
	require.Equal(t, fullRule(), got, "the store shares the caller's rule")
	mutate(&got)
	list, err := s.Rules(ctx)
	require.NoError(t, err)
	mutate(&list[0])
	got, err = s.Rule(ctx, r.ID)
	require.NoError(t, err)
	require.Equal(t, fullRule(), got, "the store returned a shared rule")
}

// testAlarmsRoundTrip: alarms come back field by field through every
// read; a write replaces every field.
func testAlarmsRoundTrip(t *testing.T, s sensor.Store) {
	ctx := t.Context()
	full := fullAlarm(t)
	bare := sensor.Alarm{ID: newID(t), Version: 1}
	empty := newAlarm(t, pressureRule, "cq-pp-000018", gridYJP3)
	empty.Devices = []string{}
	gw := sensor.Alarm{ID: newID(t), Kind: sensor.AlarmGateway, Status: sensor.AlarmActive, Severity: sensor.Major,
		Device: gatewayJLP, Grid: gridYJP3, Silent: 40, Monitored: 40, Since: base, Raised: base, Updated: base, Version: 3}
	area := sensor.Alarm{ID: newID(t), Kind: sensor.AlarmArea, Status: sensor.AlarmPending, Grid: "500107001",
		Silent: 90, Monitored: 100, Version: 1, Updated: base}
	write(t, s, sensor.AlarmWrite{Alarm: full}, sensor.AlarmWrite{Alarm: bare}, sensor.AlarmWrite{Alarm: empty},
		sensor.AlarmWrite{Alarm: gw}, sensor.AlarmWrite{Alarm: area})
	all := []sensor.Alarm{full, bare, empty, gw, area}
	for _, want := range all {
		require.Equal(t, want, alarm(t, s, want.ID))
	}
	page, err := s.Alarms(ctx, sensor.AlarmQuery{})
	require.NoError(t, err)
	require.Equal(t, all, page.Alarms, "every alarm, in ID order")
	require.Empty(t, page.Next)

	next := cloneAlarm(full)
	next.Version = 9
	next.Status, next.Kind, next.Severity = sensor.AlarmActive, sensor.AlarmDevice, sensor.Warning
	next.Devices, next.AckedBy, next.AckedAt, next.Cleared = nil, "", time.Time{}, time.Time{}
	next.Grid, next.Asset, next.Rule = gridJFB, "", "other-rule"
	write(t, s, sensor.AlarmWrite{Alarm: next, Prev: full.Version})
	require.Equal(t, next, alarm(t, s, full.ID))

	for _, id := range []string{"", strings.ToUpper(full.ID), full.ID + " ", full.ID[:8] + "%", "x'; --", newID(t)} {
		_, err := s.Alarm(ctx, id)
		require.ErrorIs(t, err, sensor.ErrUnknownAlarm, "%q", id)
	}
}

func testAlarmsReturnCopies(t *testing.T, s sensor.Store) {
	ctx := t.Context()
	a := fullAlarm(t)
	want := cloneAlarm(a)
	create(t, s, a)
	a.Devices[0] = "changed"
	require.Equal(t, want, alarm(t, s, a.ID), "the store shares the caller's devices")
	got := alarm(t, s, a.ID)
	got.Devices[1] = "changed"
	page, err := s.Alarms(ctx, sensor.AlarmQuery{Rule: want.Rule})
	require.NoError(t, err)
	page.Alarms[0].Devices[2] = "changed"
	require.Equal(t, want, alarm(t, s, a.ID), "the store returned shared devices")
}

// testAlarmVersions: a write applies only over the version it names.
func testAlarmVersions(t *testing.T, s sensor.Store) {
	ctx := t.Context()
	a := newAlarm(t, pressureRule, "cq-pp-000017", gridYJP3)
	create(t, s, a)

	again := cloneAlarm(a)
	again.Note = "again"
	require.ErrorIs(t, s.WriteAlarms(ctx, sensor.AlarmWrite{Alarm: again}), sensor.ErrDuplicate, "created twice")
	require.Equal(t, a, alarm(t, s, a.ID))

	v2 := bumpAlarm(a)
	write(t, s, sensor.AlarmWrite{Alarm: v2, Prev: 1})
	stale := bumpAlarm(a)
	stale.Note = "stale"
	require.ErrorIs(t, s.WriteAlarms(ctx, sensor.AlarmWrite{Alarm: stale, Prev: 1}), sensor.ErrConflict, "stale")
	ahead := bumpAlarm(bumpAlarm(v2))
	require.ErrorIs(t, s.WriteAlarms(ctx, sensor.AlarmWrite{Alarm: ahead, Prev: 3}), sensor.ErrConflict, "over a version never stored")
	require.Equal(t, v2, alarm(t, s, a.ID))

	// The engine may write only the last of several changes: versions
	// need not follow by one.
	v5 := bumpAlarm(bumpAlarm(bumpAlarm(v2)))
	write(t, s, sensor.AlarmWrite{Alarm: v5, Prev: 2})
	require.Equal(t, v5, alarm(t, s, a.ID))

	ghost := bumpAlarm(newAlarm(t, pressureRule, "cq-pp-ghost", gridYJP3))
	err := s.WriteAlarms(ctx, sensor.AlarmWrite{Alarm: ghost, Prev: 1})
	require.ErrorIs(t, err, sensor.ErrUnknownAlarm, "update of a missing alarm")
	require.NotErrorIs(t, err, sensor.ErrConflict)
	requireNoAlarm(t, s, ghost.ID)

	for _, bad := range []sensor.AlarmWrite{
		{Alarm: bumpAlarm(v5), Prev: -1},
		{Alarm: v5, Prev: 5},              // not above Prev
		{Alarm: bumpAlarm(v5), Prev: 7},   // below Prev
		{Alarm: sensor.Alarm{Version: 1}}, // no ID
		{Alarm: sensor.Alarm{ID: newID(t)}},
	} {
		require.ErrorIs(t, s.WriteAlarms(ctx, bad), sensor.ErrInvalidRecord, "%+v", bad)
		require.ErrorIs(t, bad.Validate(), sensor.ErrInvalidRecord, "the store agrees with Validate: %+v", bad)
	}
	require.Equal(t, v5, alarm(t, s, a.ID))
	require.NoError(t, s.WriteAlarms(ctx), "no writes")
}

// testAlarmWritesInSequence: writes of one alarm in one call apply in
// order, as if in calls of their own.
func testAlarmWritesInSequence(t *testing.T, s sensor.Store) {
	ctx := t.Context()
	a := newAlarm(t, pressureRule, "cq-pp-000017", gridYJP3)
	v2, v3 := bumpAlarm(a), bumpAlarm(bumpAlarm(a))
	write(t, s, sensor.AlarmWrite{Alarm: a}, sensor.AlarmWrite{Alarm: v2, Prev: 1}, sensor.AlarmWrite{Alarm: v3, Prev: 2})
	require.Equal(t, v3, alarm(t, s, a.ID))

	v4, v5 := bumpAlarm(v3), bumpAlarm(bumpAlarm(v3))
	err := s.WriteAlarms(ctx, sensor.AlarmWrite{Alarm: v5, Prev: 4}, sensor.AlarmWrite{Alarm: v4, Prev: 3})
	require.ErrorIs(t, err, sensor.ErrConflict, "out of sequence")
	err = s.WriteAlarms(ctx, sensor.AlarmWrite{Alarm: v4, Prev: 3}, sensor.AlarmWrite{Alarm: v4, Prev: 3})
	require.ErrorIs(t, err, sensor.ErrConflict, "the same write twice")
	require.Equal(t, v3, alarm(t, s, a.ID))

	fresh := newAlarm(t, pressureRule, "cq-pp-000018", gridYJP3)
	err = s.WriteAlarms(ctx, sensor.AlarmWrite{Alarm: bumpAlarm(fresh), Prev: 1}, sensor.AlarmWrite{Alarm: fresh})
	require.ErrorIs(t, err, sensor.ErrUnknownAlarm, "an update before the create")
	requireNoAlarm(t, s, fresh.ID)
}

// testAlarmWritesAreAtomic: a call that fails leaves nothing of itself
// behind, whichever write failed.
func testAlarmWritesAreAtomic(t *testing.T, s sensor.Store) {
	ctx := t.Context()
	held := newAlarm(t, pressureRule, "cq-pp-000001", gridYJP3)
	other := newAlarm(t, pressureRule, "cq-pp-000002", gridYJP4)
	create(t, s, held, other)
	heldV2 := bumpAlarm(held)
	write(t, s, sensor.AlarmWrite{Alarm: heldV2, Prev: 1})

	tests := []struct {
		name string
		bad  sensor.AlarmWrite
		want error
	}{
		{"stale", sensor.AlarmWrite{Alarm: bumpAlarm(held), Prev: 1}, sensor.ErrConflict},
		{"missing", sensor.AlarmWrite{Alarm: bumpAlarm(newAlarm(t, pressureRule, "ghost", gridYJP3)), Prev: 1}, sensor.ErrUnknownAlarm},
		{"created twice", sensor.AlarmWrite{Alarm: held}, sensor.ErrDuplicate},
		{"malformed", sensor.AlarmWrite{Alarm: sensor.Alarm{ID: newID(t)}}, sensor.ErrInvalidRecord},
	}
	for _, tc := range tests {
		for _, first := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s first=%v", tc.name, first), func(t *testing.T) {
				otherBefore := alarm(t, s, other.ID)
				fresh := newAlarm(t, "other-rule", "cq-pp-000003", gridXJP)
				otherNext := bumpAlarm(otherBefore)
				otherNext.Status = sensor.AlarmCleared
				writes := []sensor.AlarmWrite{{Alarm: fresh}, {Alarm: otherNext, Prev: otherBefore.Version}}
				if first {
					writes = append([]sensor.AlarmWrite{tc.bad}, writes...)
				} else {
					writes = append(writes, tc.bad)
				}
				require.ErrorIs(t, s.WriteAlarms(ctx, writes...), tc.want)
				requireNoAlarm(t, s, fresh.ID)
				require.Equal(t, otherBefore, alarm(t, s, other.ID))
				require.Equal(t, heldV2, alarm(t, s, held.ID))
				page, err := s.Alarms(ctx, sensor.AlarmQuery{Rule: "other-rule"})
				require.NoError(t, err)
				require.Empty(t, page.Alarms, "the failed create is not indexed")
			})
		}
	}
}

// testCancelledAlarmsAreRemoved: a write of a cancelled alarm removes it,
// after the same version check as any other.
func testCancelledAlarmsAreRemoved(t *testing.T, s sensor.Store) {
	ctx := t.Context()
	a := newAlarm(t, pressureRule, "cq-pp-000017", gridYJP3)
	a.Status, a.Raised = sensor.AlarmPending, time.Time{}
	create(t, s, a)
	cancelled := bumpAlarm(a)
	cancelled.Status = sensor.AlarmCancelled
	stale := bumpAlarm(cancelled)
	require.ErrorIs(t, s.WriteAlarms(ctx, sensor.AlarmWrite{Alarm: stale, Prev: 2}), sensor.ErrConflict)
	require.Equal(t, a, alarm(t, s, a.ID))
	write(t, s, sensor.AlarmWrite{Alarm: cancelled, Prev: 1})
	requireNoAlarm(t, s, a.ID)
	page, err := s.Alarms(ctx, sensor.AlarmQuery{})
	require.NoError(t, err)
	require.Empty(t, page.Alarms)
	for _, st := range []sensor.AlarmStatus{sensor.AlarmPending, sensor.AlarmCancelled} {
		page, err = s.Alarms(ctx, sensor.AlarmQuery{Statuses: []sensor.AlarmStatus{st}})
		require.NoError(t, err)
		require.Empty(t, page.Alarms, st)
	}

	// Opened and cancelled in one call, it never shows.
	b := newAlarm(t, pressureRule, "cq-pp-000018", gridYJP3)
	b.Status = sensor.AlarmPending
	bc := bumpAlarm(b)
	bc.Status = sensor.AlarmCancelled
	write(t, s, sensor.AlarmWrite{Alarm: b}, sensor.AlarmWrite{Alarm: bc, Prev: 1})
	requireNoAlarm(t, s, b.ID)
	// A cancelled alarm the store never held is no error.
	c := newAlarm(t, pressureRule, "cq-pp-000019", gridYJP3)
	c.Status = sensor.AlarmCancelled
	write(t, s, sensor.AlarmWrite{Alarm: c})
	requireNoAlarm(t, s, c.ID)
}

// alarmFixtures stores alarms across statuses, kinds, rules, devices,
// assets, grids and acknowledgement, and returns them in ID order.
func alarmFixtures(t *testing.T, s sensor.Store) []sensor.Alarm {
	t.Helper()
	type spec struct {
		kind          sensor.AlarmKind
		rule, dev     string
		asset, grid   string
		status        sensor.AlarmStatus
		acked         bool
		sev           sensor.Severity
		burstDevices  []string
		silent, total int
	}
	specs := []spec{
		{kind: sensor.AlarmDevice, rule: pressureRule, dev: "cq-pp-000001", asset: mainJLP, grid: gridYJP3, status: sensor.AlarmActive},
		{kind: sensor.AlarmDevice, rule: pressureRule, dev: "cq-pp-000001", asset: mainJLP, grid: gridYJP3, status: sensor.AlarmCleared, acked: true},
		{kind: sensor.AlarmDevice, rule: pressureRule, dev: "cq-pp-000002", asset: mainJLP, grid: gridYJP4, status: sensor.AlarmPending},
		{kind: sensor.AlarmDevice, rule: "pipe-heartbeat", dev: "cq-pp-000003", asset: "main-jlp-xjp-02", grid: gridXJP, status: sensor.AlarmActive, acked: true},
		{kind: sensor.AlarmBurst, rule: pressureRule, asset: mainJLP, grid: "500107001002", status: sensor.AlarmActive, burstDevices: []string{"cq-pp-000001", "cq-pp-000002"}},
		{kind: sensor.AlarmGateway, dev: gatewayJLP, grid: gridYJP3, status: sensor.AlarmActive, silent: 40, total: 40},
		{kind: sensor.AlarmArea, grid: "500103001", status: sensor.AlarmCleared, silent: 3, total: 90},
		{kind: sensor.AlarmDevice, rule: "fall", dev: "cq-wb-000001", grid: gridJFB, status: sensor.AlarmActive, sev: sensor.Critical},
		{kind: sensor.AlarmDevice, rule: "fall", dev: "cq-wb-000002", grid: gridNanan, status: sensor.AlarmCleared},
		{kind: sensor.AlarmDevice, rule: "fall", dev: "cd-wb-000001", grid: gridChengdu, status: sensor.AlarmActive},
		{kind: sensor.AlarmDevice, rule: pressureRule, dev: "cq-pp-000009", asset: mainJLP, grid: "500107001", status: sensor.AlarmActive},
		{kind: sensor.AlarmDevice, rule: "pipe-heartbeat", dev: "cq-pp-000008", status: sensor.AlarmActive}, // a device without a grid
	}
	var all []sensor.Alarm
	for _, sp := range specs {
		a := newAlarm(t, sp.rule, sp.dev, sp.grid)
		a.Kind, a.Asset, a.Status, a.Devices, a.Silent, a.Monitored = sp.kind, sp.asset, sp.status, sp.burstDevices, sp.silent, sp.total
		if sp.sev != 0 {
			a.Severity = sp.sev
		}
		if sp.acked {
			a.AckedBy, a.AckedAt = "jlp-water-duty-02", base.Add(time.Minute)
		}
		all = append(all, a)
	}
	shuffled := slices.Clone(all)
	slices.Reverse(shuffled)
	create(t, s, shuffled...)
	return all
}

// matchesAlarm is the suite's own reading of AlarmQuery's filters,
// independent of AlarmQuery.Matches.
func matchesAlarm(q sensor.AlarmQuery, a sensor.Alarm) bool {
	return (len(q.Statuses) == 0 || slices.Contains(q.Statuses, a.Status)) && (q.Kind == 0 || a.Kind == q.Kind) &&
		(q.Rule == "" || a.Rule == q.Rule) && (q.Device == "" || a.Device == q.Device) &&
		(q.Asset == "" || a.Asset == q.Asset) && (q.Within == "" || within(a.Grid, q.Within)) &&
		(!q.Unacked || a.AckedBy == "")
}

func testAlarmsFilters(t *testing.T, s sensor.Store) {
	ctx := t.Context()
	all := alarmFixtures(t, s)
	pick := func(idx ...int) []string {
		var out []string
		for _, i := range idx {
			out = append(out, all[i].ID)
		}
		return out
	}
	open := []sensor.AlarmStatus{sensor.AlarmPending, sensor.AlarmActive}
	tests := []struct {
		name string
		q    sensor.AlarmQuery
		want []string
	}{
		{"none", sensor.AlarmQuery{}, pick(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)},
		{"open", sensor.AlarmQuery{Statuses: open}, pick(0, 2, 3, 4, 5, 7, 9, 10, 11)},
		{"open, statuses repeated", sensor.AlarmQuery{Statuses: []sensor.AlarmStatus{sensor.AlarmActive, sensor.AlarmPending, sensor.AlarmActive}}, pick(0, 2, 3, 4, 5, 7, 9, 10, 11)},
		{"pending", sensor.AlarmQuery{Statuses: []sensor.AlarmStatus{sensor.AlarmPending}}, pick(2)},
		{"cleared", sensor.AlarmQuery{Statuses: []sensor.AlarmStatus{sensor.AlarmCleared}}, pick(1, 6, 8)},
		{"cancelled", sensor.AlarmQuery{Statuses: []sensor.AlarmStatus{sensor.AlarmCancelled}}, nil},
		{"kind burst", sensor.AlarmQuery{Kind: sensor.AlarmBurst}, pick(4)},
		{"kind gateway", sensor.AlarmQuery{Kind: sensor.AlarmGateway}, pick(5)},
		{"kind device", sensor.AlarmQuery{Kind: sensor.AlarmDevice}, pick(0, 1, 2, 3, 7, 8, 9, 10, 11)},
		{"rule", sensor.AlarmQuery{Rule: pressureRule}, pick(0, 1, 2, 4, 10)},
		{"rule is exact", sensor.AlarmQuery{Rule: "main-pressure"}, nil},
		{"device", sensor.AlarmQuery{Device: "cq-pp-000001"}, pick(0, 1)},
		{"gateway as device", sensor.AlarmQuery{Device: gatewayJLP}, pick(5)},
		{"asset", sensor.AlarmQuery{Asset: mainJLP}, pick(0, 1, 2, 4, 10)},
		{"within grid", sensor.AlarmQuery{Within: gridYJP3}, pick(0, 1, 5)},
		{"within community", sensor.AlarmQuery{Within: "500107001002"}, pick(0, 1, 2, 4, 5)},
		{"within street", sensor.AlarmQuery{Within: "500107001"}, pick(0, 1, 2, 4, 5, 10)},
		{"within district", sensor.AlarmQuery{Within: "500107"}, pick(0, 1, 2, 3, 4, 5, 10)},
		{"within Yuzhong", sensor.AlarmQuery{Within: "500103"}, pick(6, 7)},
		{"within Chongqing", sensor.AlarmQuery{Within: "500000"}, pick(0, 1, 2, 3, 4, 5, 6, 7, 8, 10)},
		{"within Chengdu", sensor.AlarmQuery{Within: "510100"}, pick(9)},
		{"within empty district", sensor.AlarmQuery{Within: "500112"}, nil},
		{"unacked", sensor.AlarmQuery{Unacked: true}, pick(0, 2, 4, 5, 6, 7, 8, 9, 10, 11)},
		{"open unacked in a district", sensor.AlarmQuery{Statuses: open, Unacked: true, Within: "500107"}, pick(0, 2, 4, 5, 10)},
		{"rule and device", sensor.AlarmQuery{Rule: pressureRule, Device: "cq-pp-000001", Statuses: open}, pick(0)},
		{"rule and asset", sensor.AlarmQuery{Rule: "pipe-heartbeat", Asset: mainJLP}, nil},
		{"device and within", sensor.AlarmQuery{Device: "cq-pp-000002", Within: "500107001002"}, pick(2)},
		{"kind and statuses", sensor.AlarmQuery{Kind: sensor.AlarmArea, Statuses: []sensor.AlarmStatus{sensor.AlarmCleared}}, pick(6)},
		{"everything", sensor.AlarmQuery{Statuses: open, Kind: sensor.AlarmDevice, Rule: pressureRule, Device: "cq-pp-000009",
			Asset: mainJLP, Within: "500107001", Unacked: true, Limit: sensor.MaxQueryLimit}, pick(10)},
		{"everything, one off", sensor.AlarmQuery{Statuses: open, Kind: sensor.AlarmDevice, Rule: pressureRule, Device: "cq-pp-000009",
			Asset: mainJLP, Within: "500107001002", Unacked: true}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var oracle []string
			for _, a := range all {
				if matchesAlarm(tc.q, a) {
					oracle = append(oracle, a.ID)
				}
			}
			require.Equal(t, oracle, tc.want, "the test's expectation disagrees with its oracle")
			page, err := s.Alarms(ctx, tc.q)
			require.NoError(t, err)
			require.Equal(t, tc.want, alarmIDs(page.Alarms))
			require.Empty(t, page.Next)
			for _, got := range page.Alarms {
				require.Equal(t, alarm(t, s, got.ID), got, "Alarms returns whole alarms")
			}
		})
	}
}

// testAlarmsFollowUpdates: the filters see an alarm's current version.
func testAlarmsFollowUpdates(t *testing.T, s sensor.Store) {
	ctx := t.Context()
	a := newAlarm(t, pressureRule, "cq-pp-000001", gridYJP3)
	create(t, s, a)
	next := bumpAlarm(a)
	next.Status, next.Kind, next.Rule, next.Device, next.Asset, next.Grid = sensor.AlarmCleared, sensor.AlarmBurst, "r2", "d2", "a2", gridJFB
	next.AckedBy, next.AckedAt = "yz-duty-01", base
	write(t, s, sensor.AlarmWrite{Alarm: next, Prev: 1})
	for _, q := range []sensor.AlarmQuery{
		{Statuses: []sensor.AlarmStatus{sensor.AlarmActive}}, {Kind: sensor.AlarmDevice}, {Rule: pressureRule},
		{Device: "cq-pp-000001"}, {Asset: mainJLP}, {Within: "500107"}, {Unacked: true},
	} {
		page, err := s.Alarms(ctx, q)
		require.NoError(t, err)
		require.Empty(t, page.Alarms, "%+v matches the old version", q)
	}
	for _, q := range []sensor.AlarmQuery{
		{Statuses: []sensor.AlarmStatus{sensor.AlarmCleared}}, {Kind: sensor.AlarmBurst}, {Rule: "r2"},
		{Device: "d2"}, {Asset: "a2"}, {Within: "500103"}, {},
	} {
		page, err := s.Alarms(ctx, q)
		require.NoError(t, err)
		require.Equal(t, []sensor.Alarm{next}, page.Alarms, "%+v", q)
	}
}

func testAlarmsPaging(t *testing.T, s sensor.Store) {
	ctx := t.Context()
	const n = sensor.DefaultQueryLimit + 7
	var all []sensor.Alarm
	skipped := ""
	for i := range n + 1 {
		a := newAlarm(t, pressureRule, fmt.Sprintf("cq-pp-%06d", i), fmt.Sprintf("500107001002%03d", i%7+1))
		if i%3 == 0 {
			a.Status = sensor.AlarmCleared
		}
		if i == 40 {
			skipped = a.ID
			continue
		}
		all = append(all, a)
	}
	for chunk := range slices.Chunk(all, 25) {
		create(t, s, chunk...)
	}
	pages := func(q sensor.AlarmQuery) ([]string, int) {
		t.Helper()
		var got []string
		count := 0
		limit := sensor.QueryLimit(q.Limit)
		for {
			page, err := s.Alarms(ctx, q)
			require.NoError(t, err)
			count++
			require.LessOrEqual(t, len(page.Alarms), limit)
			got = append(got, alarmIDs(page.Alarms)...)
			if page.Next == "" {
				return got, count
			}
			require.Len(t, page.Alarms, limit, "only the last page is short")
			require.Equal(t, page.Alarms[len(page.Alarms)-1].ID, page.Next)
			require.Less(t, count, n+2, "paging does not end")
			q.After = page.Next
		}
	}
	filtered := func(q sensor.AlarmQuery, after string) []string {
		var out []string
		for _, a := range all {
			if a.ID > after && matchesAlarm(q, a) {
				out = append(out, a.ID)
			}
		}
		return out
	}
	want := alarmIDs(all)
	for _, limit := range []int{1, 7, n, sensor.MaxQueryLimit} {
		got, count := pages(sensor.AlarmQuery{Limit: limit})
		require.Equal(t, want, got, "limit %d: every alarm once, in ID order", limit)
		require.Equal(t, (n+limit-1)/limit, count, "limit %d: pages", limit)
	}
	got, count := pages(sensor.AlarmQuery{})
	require.Equal(t, want, got)
	require.Equal(t, 2, count)
	for _, q := range []sensor.AlarmQuery{
		{Statuses: []sensor.AlarmStatus{sensor.AlarmActive}, Limit: 9}, {Within: "500107001002003", Limit: 2},
		{Rule: pressureRule, Statuses: []sensor.AlarmStatus{sensor.AlarmCleared}, Limit: 5}, {Asset: mainJLP},
	} {
		got, _ := pages(q)
		require.Equal(t, filtered(q, ""), got, "paging %+v", q)
	}
	for _, q := range []sensor.AlarmQuery{{}, {Statuses: []sensor.AlarmStatus{sensor.AlarmActive}}, {Rule: pressureRule}} {
		q.After, q.Limit = skipped, sensor.MaxQueryLimit
		page, err := s.Alarms(ctx, q)
		require.NoError(t, err)
		q.After = ""
		require.Equal(t, filtered(q, skipped), alarmIDs(page.Alarms), "after an ID never stored: %+v", q)
	}
}

func testAlarmsInvalidQuery(t *testing.T, s sensor.Store) {
	ctx := t.Context()
	create(t, s, newAlarm(t, pressureRule, "cq-pp-000001", gridYJP3))
	for _, q := range []sensor.AlarmQuery{
		{Limit: -1}, {Limit: sensor.MaxQueryLimit + 1}, {Within: "5001"}, {Within: "50010700100200x"}, {Within: "000000"},
		{Within: "500107'; --"}, {Statuses: []sensor.AlarmStatus{0}}, {Statuses: []sensor.AlarmStatus{sensor.AlarmActive, 9}},
		{Kind: 9}, {Rule: pressureRule, Within: "abc"},
	} {
		_, err := s.Alarms(ctx, q)
		require.ErrorIs(t, err, sensor.ErrInvalidQuery, "%+v", q)
		require.ErrorIs(t, q.Validate(), sensor.ErrInvalidQuery, "the store agrees with Validate: %+v", q)
	}
	for _, q := range []sensor.AlarmQuery{{Limit: 1}, {Limit: sensor.MaxQueryLimit}, {Within: gridYJP3}, {Kind: sensor.AlarmDevice}} {
		page, err := s.Alarms(ctx, q)
		require.NoError(t, err, "%+v", q)
		require.Len(t, page.Alarms, 1)
	}
}

// testConcurrentAlarmWrites: writers racing on one alarm with
// read-modify-write and retry on ErrConflict lose nothing.
func testConcurrentAlarmWrites(t *testing.T, s sensor.Store) {
	ctx := t.Context()
	const writers, each = 6, 5
	a := newAlarm(t, pressureRule, "cq-pp-000001", gridYJP3)
	a.Devices = nil
	create(t, s, a)
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		errs      []error
		conflicts int
	)
	start := make(chan struct{})
	for w := range writers {
		wg.Go(func() {
			<-start
			for i := 0; i < each; {
				cur, err := s.Alarm(ctx, a.ID)
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				next := cloneAlarm(cur)
				next.Version++
				next.Devices = append(next.Devices, fmt.Sprintf("writer-%d/%d", w, i))
				err = s.WriteAlarms(ctx, sensor.AlarmWrite{Alarm: next, Prev: cur.Version})
				switch {
				case errors.Is(err, sensor.ErrConflict):
					mu.Lock()
					conflicts++
					mu.Unlock()
				case err != nil:
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				default:
					i++
				}
			}
		})
	}
	close(start)
	wg.Wait()
	require.Empty(t, errs)
	final := alarm(t, s, a.ID)
	require.EqualValues(t, 1+writers*each, final.Version, "every successful write counted once")
	require.Len(t, final.Devices, writers*each, "no write lost")
	seen := map[string]bool{}
	for _, d := range final.Devices {
		require.False(t, seen[d], "write %s applied twice", d)
		seen[d] = true
	}
	t.Logf("%d writes, %d conflicts retried", writers*each, conflicts)
}

// testConcurrentCreates: of several writers creating the same alarm,
// device or rule at once, exactly one wins; the others get ErrDuplicate.
func testConcurrentCreates(t *testing.T, s sensor.Store) {
	ctx := t.Context()
	const racers = 8
	id := newID(t)
	race := func(what string, fn func(i int) error) int {
		errs := make([]error, racers)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range racers {
			wg.Go(func() {
				<-start
				errs[i] = fn(i)
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			if err == nil {
				require.Equal(t, -1, winner, "%s: two creates won", what)
				winner = i
				continue
			}
			require.ErrorIs(t, err, sensor.ErrDuplicate, "%s: racer %d", what, i)
		}
		require.NotEqual(t, -1, winner, "%s: no create won", what)
		return winner
	}
	alarms := make([]sensor.Alarm, racers)
	for i := range alarms {
		alarms[i] = newAlarm(t, pressureRule, fmt.Sprintf("cq-pp-%06d", i), gridYJP3)
		alarms[i].ID = id
	}
	w := race("alarm", func(i int) error { return s.WriteAlarms(ctx, sensor.AlarmWrite{Alarm: alarms[i]}) })
	require.Equal(t, alarms[w], alarm(t, s, id))

	devices := make([]sensor.DeviceRecord, racers)
	for i := range devices {
		devices[i] = newDevice("cq-pp-race", fmt.Sprintf("500107001002%03d", i+1))
	}
	w = race("device", func(i int) error { return s.PutDevice(ctx, devices[i]) })
	require.Equal(t, devices[w], device(t, s, "cq-pp-race"))

	w = race("rule", func(i int) error {
		r := newRule("race")
		r.Name = fmt.Sprintf("racer %d", i)
		return s.CreateRule(ctx, r)
	})
	got, err := s.Rule(ctx, "race")
	require.NoError(t, err)
	require.Equal(t, fmt.Sprintf("racer %d", w), got.Name)

	race("profile", func(i int) error {
		return s.CreateProfile(ctx, sensor.Profile{Name: "race", Resources: []sensor.Resource{{Name: fmt.Sprintf("r%d", i)}}})
	})
}

// testVitalSigns: vital signs come back whole, listed by name, replaced
// by name, deleted.
func testVitalSigns(t *testing.T, s sensor.Store) {
	ctx := t.Context()
	list, err := s.VitalSigns(ctx)
	require.NoError(t, err)
	require.Empty(t, list)

	full := fullVitalSign()
	bare := sensor.VitalSign{Name: "bare"}
	empty := sensor.VitalSign{Name: "Empty", Labels: map[string]string{}, Bands: []sensor.Band{}}
	for _, v := range []sensor.VitalSign{full, bare, empty} {
		require.NoError(t, s.PutVitalSign(ctx, v))
	}
	list, err = s.VitalSigns(ctx)
	require.NoError(t, err)
	require.Equal(t, []sensor.VitalSign{empty, bare, full}, list)

	replaced := cloneVital(full)
	replaced.Window, replaced.Bands, replaced.Labels = time.Hour, nil, nil
	require.NoError(t, s.PutVitalSign(ctx, replaced))
	list, err = s.VitalSigns(ctx)
	require.NoError(t, err)
	require.Equal(t, []sensor.VitalSign{empty, bare, replaced}, list)

	// Copies in and out.
	mine := cloneVital(full)
	mine.Name = "mine"
	require.NoError(t, s.PutVitalSign(ctx, mine))
	mine.Labels["network"], mine.Bands[0].Colour = "changed", "changed"
	list, err = s.VitalSigns(ctx)
	require.NoError(t, err)
	want := cloneVital(full)
	want.Name = "mine"
	require.Equal(t, want, list[3], "the store shares the caller's sign")
	list[3].Labels["network"], list[3].Bands[1].Colour = "changed", "changed"
	list, err = s.VitalSigns(ctx)
	require.NoError(t, err)
	require.Equal(t, want, list[3], "the store returned a shared sign")

	require.NoError(t, s.DeleteVitalSign(ctx, bare.Name))
	require.ErrorIs(t, s.DeleteVitalSign(ctx, bare.Name), sensor.ErrUnknownVitalSign, "deleted twice")
	for _, name := range []string{"", "EMPTY", "jlp%", "x'; --"} {
		require.ErrorIs(t, s.DeleteVitalSign(ctx, name), sensor.ErrUnknownVitalSign, "%q", name)
	}
	list, err = s.VitalSigns(ctx)
	require.NoError(t, err)
	require.Equal(t, []sensor.VitalSign{empty, replaced, want}, list)
	require.ErrorIs(t, s.PutVitalSign(ctx, sensor.VitalSign{}), sensor.ErrInvalidRecord)
}

// testCancelledContext: a store that checks the context writes nothing
// under a cancelled one.
func testCancelledContext(t *testing.T, s sensor.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	a := newAlarm(t, pressureRule, "cq-pp-000001", gridYJP3)
	err := s.WriteAlarms(ctx, sensor.AlarmWrite{Alarm: a})
	if err == nil {
		t.Skip("the store does not check the context before writing")
	}
	require.ErrorIs(t, err, context.Canceled)
	requireNoAlarm(t, s, a.ID)
	for what, err := range map[string]error{
		"device":  s.PutDevice(ctx, newDevice("cq-pp-000001", gridYJP3)),
		"rule":    s.CreateRule(ctx, newRule("r")),
		"profile": s.CreateProfile(ctx, fullProfile()),
		"vital":   s.PutVitalSign(ctx, fullVitalSign()),
	} {
		require.ErrorIs(t, err, context.Canceled, what)
	}
	_, err = s.Device(t.Context(), "cq-pp-000001")
	require.ErrorIs(t, err, sensor.ErrUnknownDevice)
	_, err = s.Rule(t.Context(), "r")
	require.ErrorIs(t, err, sensor.ErrUnknownRule)
	_, err = s.Profile(t.Context(), fullProfile().Name)
	require.ErrorIs(t, err, sensor.ErrUnknownProfile)
	signs, err := s.VitalSigns(t.Context())
	require.NoError(t, err)
	require.Empty(t, signs)
}

// alarmEvent returns an event announcing a as an engine would.
func alarmEvent(t *testing.T, a sensor.Alarm, event string) bus.Message {
	t.Helper()
	return bus.Message{
		ID: newID(t), Subject: "gov.500000.500107.500107001.sensor.alarm." + event, Key: a.ID,
		Headers: map[string]string{"govkit-kind": "alarm", "govkit-event": event},
		Time:    a.Updated, Data: []byte(`{"event":"` + event + `","alarm":"` + a.ID + `"}`),
	}
}

// normalEvent returns m as the suite compares it: empty headers and data
// count as absent, Attempt is the transport's business, and a store may
// keep Time to the microsecond, as PostgreSQL does.
func normalEvent(m bus.Message) bus.Message {
	if len(m.Headers) == 0 {
		m.Headers = nil
	}
	if len(m.Data) == 0 {
		m.Data = nil
	}
	m.Attempt = 0
	m.Time = m.Time.UTC().Truncate(time.Microsecond)
	return m
}

func requireEvents(t *testing.T, want, got []bus.Message) {
	t.Helper()
	require.Len(t, got, len(want))
	for i := range want {
		require.Equal(t, normalEvent(want[i]), normalEvent(got[i]), "event %d", i)
	}
}

// testAlarmEventsOutbox: events written with alarms wait in the outbox in
// the order written, every field kept, until marked published.
func testAlarmEventsOutbox(t *testing.T, s sensor.Store) {
	ctx := t.Context()
	empty, err := s.Pending(ctx, 10)
	require.NoError(t, err)
	require.Empty(t, empty)

	a := newAlarm(t, pressureRule, "cq-pp-000001", gridYJP3)
	b := newAlarm(t, pressureRule, "cq-pp-000002", gridYJP4)
	raisedA, raisedB := alarmEvent(t, a, "raised"), alarmEvent(t, b, "raised")
	raisedB.Headers, raisedB.Key = nil, "" // optional fields
	write(t, s, sensor.AlarmWrite{Alarm: a, Events: []bus.Message{raisedA}}, sensor.AlarmWrite{Alarm: b, Events: []bus.Message{raisedB}})
	a2 := bumpAlarm(a)
	a2.Status = sensor.AlarmCleared
	cleared, acked := alarmEvent(t, a2, "cleared"), alarmEvent(t, a2, "acknowledged")
	write(t, s, sensor.AlarmWrite{Alarm: a2, Prev: 1, Events: []bus.Message{cleared, acked}})
	write(t, s, sensor.AlarmWrite{Alarm: bumpAlarm(b), Prev: 1}) // no events

	got, err := s.Pending(ctx, 10)
	require.NoError(t, err)
	requireEvents(t, []bus.Message{raisedA, raisedB, cleared, acked}, got)
	got[0].Data[0], got[0].Headers["govkit-event"] = 'X', "changed"
	got, err = s.Pending(ctx, 2)
	require.NoError(t, err)
	requireEvents(t, []bus.Message{raisedA, raisedB}, got) // and a copy was returned

	require.NoError(t, s.MarkPublished(ctx, raisedB.ID, newID(t), "not-an-event-id"))
	got, err = s.Pending(ctx, 10)
	require.NoError(t, err)
	requireEvents(t, []bus.Message{raisedA, cleared, acked}, got)
	require.NoError(t, s.MarkPublished(ctx))
	require.NoError(t, s.MarkPublished(ctx, raisedB.ID), "marking twice is harmless")
	require.NoError(t, s.MarkPublished(ctx, raisedA.ID, cleared.ID, acked.ID))
	got, err = s.Pending(ctx, 10)
	require.NoError(t, err)
	require.Empty(t, got)
}

// testAlarmEventsAreAtomic: a write that fails leaves no event in the
// outbox, and malformed or repeated events fail the whole write.
func testAlarmEventsAreAtomic(t *testing.T, s sensor.Store) {
	ctx := t.Context()
	held := newAlarm(t, pressureRule, "cq-pp-000001", gridYJP3)
	first := alarmEvent(t, held, "raised")
	write(t, s, sensor.AlarmWrite{Alarm: held, Events: []bus.Message{first}})

	fresh := newAlarm(t, pressureRule, "cq-pp-000002", gridYJP4)
	withEvent := func(e bus.Message) sensor.AlarmWrite {
		return sensor.AlarmWrite{Alarm: fresh, Events: []bus.Message{e}}
	}
	noSubject, badID := alarmEvent(t, fresh, "raised"), alarmEvent(t, fresh, "raised")
	noSubject.Subject, badID.ID = "", "event-1"
	repeated := alarmEvent(t, fresh, "raised")
	tests := []struct {
		name   string
		writes []sensor.AlarmWrite
		want   error
	}{
		{"stale alarm", []sensor.AlarmWrite{withEvent(alarmEvent(t, fresh, "raised")), {Alarm: bumpAlarm(bumpAlarm(bumpAlarm(held))), Prev: 3, Events: []bus.Message{alarmEvent(t, held, "cleared")}}}, sensor.ErrConflict},
		{"event already in the outbox", []sensor.AlarmWrite{withEvent(first)}, sensor.ErrDuplicate},
		{"one event twice", []sensor.AlarmWrite{{Alarm: fresh, Events: []bus.Message{repeated, repeated}}}, sensor.ErrDuplicate},
		{"event without a subject", []sensor.AlarmWrite{withEvent(noSubject)}, sensor.ErrInvalidRecord},
		{"event ID not a UUID", []sensor.AlarmWrite{withEvent(badID)}, sensor.ErrInvalidRecord},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.ErrorIs(t, s.WriteAlarms(ctx, tc.writes...), tc.want)
			requireNoAlarm(t, s, fresh.ID)
			got, err := s.Pending(ctx, 10)
			require.NoError(t, err)
			requireEvents(t, []bus.Message{first}, got)
		})
	}
}

// testPruneAlarms: retention deletes cleared alarms last updated before
// the cut, lowest IDs first and at most limit a call, and never an open
// one.
func testPruneAlarms(t *testing.T, s sensor.Store) {
	ctx := t.Context()
	cut := base.Add(24 * time.Hour)
	mk := func(device string, status sensor.AlarmStatus, updated time.Time) sensor.Alarm {
		a := newAlarm(t, pressureRule, device, gridYJP3)
		a.Status, a.Updated = status, updated
		create(t, s, a)
		return a
	}
	old1 := mk("cq-pp-000001", sensor.AlarmCleared, cut.Add(-3*time.Hour))
	old2 := mk("cq-pp-000002", sensor.AlarmCleared, cut.Add(-2*time.Hour))
	old3 := mk("cq-pp-000003", sensor.AlarmCleared, cut.Add(-time.Millisecond))
	atCut := mk("cq-pp-000004", sensor.AlarmCleared, cut)
	recent := mk("cq-pp-000005", sensor.AlarmCleared, cut.Add(time.Hour))
	active := mk("cq-pp-000006", sensor.AlarmActive, cut.Add(-48*time.Hour))
	pending := mk("cq-pp-000007", sensor.AlarmPending, cut.Add(-48*time.Hour))

	n, err := s.PruneAlarms(ctx, cut, 2)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	requireNoAlarm(t, s, old1.ID)
	requireNoAlarm(t, s, old2.ID)
	alarm(t, s, old3.ID) // the third waits for the next call
	n, err = s.PruneAlarms(ctx, cut, 2)
	require.NoError(t, err)
	require.Equal(t, 1, n, "the last old one; fewer than limit means done")
	requireNoAlarm(t, s, old3.ID)
	n, err = s.PruneAlarms(ctx, cut, 2)
	require.NoError(t, err)
	require.Zero(t, n)
	for _, a := range []sensor.Alarm{atCut, recent, active, pending} {
		require.Equal(t, a, alarm(t, s, a.ID), "kept: %s", a.Device)
	}
	page, err := s.Alarms(ctx, sensor.AlarmQuery{Statuses: []sensor.AlarmStatus{sensor.AlarmCleared}})
	require.NoError(t, err)
	require.Len(t, page.Alarms, 2)

	for _, limit := range []int{0, -1, sensor.MaxQueryLimit + 1} {
		_, err := s.PruneAlarms(ctx, cut.Add(time.Hour*100), limit)
		require.ErrorIs(t, err, sensor.ErrInvalidQuery, "limit %d", limit)
	}
	require.Equal(t, recent, alarm(t, s, recent.ID), "a refused prune deletes nothing")
}
