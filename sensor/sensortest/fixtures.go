package sensortest

import (
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/region"
	"github.com/govkit/govkit/sensor"
)

// base is 17:00:00.123456789 on a Thursday in Chongqing (UTC+8), in UTC:
// the engine writes times in UTC to the nanosecond, and stores keep them
// so.
var base = time.Date(2026, time.October, 8, 9, 0, 0, 123456789, time.UTC)

// Grids of the fixtures: two in one community of Yangjiaping street
// (Jiulongpo), one in another street of Jiulongpo, one in Yuzhong, one in
// Nan'an, and one in Chengdu's Jinniu district, outside Chongqing.
const (
	gridYJP3    = "500107001002003"
	gridYJP4    = "500107001002004"
	gridXJP     = "500107002001001"
	gridJFB     = "500103001001001"
	gridNanan   = "500108003002001"
	gridChengdu = "510106001001001"
)

// Profiles and assets of the fixtures.
const (
	pipeProfile  = "pipe-pressure"
	bandProfile  = "elder-wristband"
	mainJLP      = "main-jlp-yjp-07" // a DN300 water main under Yangjiaping
	gatewayJLP   = "cq-gw-jlp-0001"
	pressureRule = "main-pressure-low"
)

func newID(t testing.TB) string {
	t.Helper()
	id, err := uuid.NewV7()
	if err != nil {
		t.Fatalf("uuid.NewV7: %v", err)
	}
	return id.String()
}

// fullProfile returns a profile with every field set: a water-main
// pressure sensor, with an unbounded (NaN) and an infinite range among its
// resources, which every store must keep exactly.
func fullProfile() sensor.Profile {
	return sensor.Profile{Name: "pipe-pressure-v2", Resources: []sensor.Resource{
		{Name: "pressure", Unit: "MPa", Min: 0, Max: 1.6, Interval: time.Minute},
		{Name: "flow", Unit: "m³/h", Min: math.NaN(), Max: math.NaN(), Interval: 5 * time.Minute},
		{Name: "temperature", Unit: "°C", Min: math.Inf(-1), Max: math.Inf(1), Interval: 15*time.Minute + 500*time.Millisecond},
		{Name: "leak", Min: -0.5, Max: 1e300},
	}}
}

// newDevice returns a water-main pressure sensor in grid, at Version 1.
func newDevice(id, grid string) sensor.DeviceRecord {
	return sensor.DeviceRecord{Device: sensor.Device{
		ID: id, Profile: pipeProfile, Location: geo.Point{Lat: 29.5012345, Lon: 106.5123456}, Grid: region.Code(grid),
		Asset: mainJLP, Labels: map[string]string{"network": "dn300"},
	}, Version: 1}
}

// fullDevice returns a device record with every field set.
func fullDevice() sensor.DeviceRecord {
	return sensor.DeviceRecord{
		Device: sensor.Device{
			ID: "cq-pp-000017", Profile: pipeProfile, Admin: sensor.Locked, Operating: sensor.Down,
			Location: geo.Point{Lat: 29.50123456789, Lon: 106.51234567891}, Grid: gridYJP3, Asset: mainJLP, Gateway: gatewayJLP,
			Labels:     map[string]string{"network": "dn300", "material": "球墨铸铁", "empty": ""},
			OutOfRange: true,
		},
		Removed: true,
		Version: 1,
	}
}

// fullRule returns a rule with every field set. It need not make sense to
// an engine (a missing-heartbeat level among value levels); it must come
// back whole.
func fullRule() sensor.Rule {
	return sensor.Rule{
		ID: pressureRule, Name: "主管压力低 \"DN300\"",
		Scope: sensor.Scope{Profile: pipeProfile, Resource: "pressure", Grid: "500107",
			Labels: map[string]string{"network": "dn300", "zone": ""}, Asset: mainJLP},
		Raise: []sensor.Condition{
			{Kind: sensor.Threshold, Severity: sensor.Critical, Op: sensor.OpBelow, Value: 0.15},
			{Kind: sensor.Range, Severity: sensor.Major, Low: 0.15, High: 0.25, Outside: true},
			{Kind: sensor.Rate, Severity: sensor.Minor, Op: sensor.OpAtOrBelow, Value: -0.1, Window: 5 * time.Minute},
			{Kind: sensor.Missing, Severity: sensor.Warning, After: 3 * time.Minute, Multiple: 2.5, Learn: true},
		},
		Clear: &sensor.Condition{Kind: sensor.Range, Severity: sensor.Warning, Op: sensor.OpAbove, Value: 0.3, Low: 0.3, High: 1.6,
			Outside: true, Window: 5 * time.Minute, After: time.Second, Multiple: 1.5, Learn: true},
		For:      2*time.Minute + 1,
		Count:    5,
		Deadband: 0.005,
		Schedule: &sensor.Schedule{Days: []time.Weekday{time.Monday, time.Friday, time.Sunday}, From: "22:00", To: "06:00", Zone: "Asia/Shanghai"},
		Correlate: &sensor.Correlation{
			By: "asset", Window: 10 * time.Minute, MinDevices: 3,
		},
	}
}

// newRule returns a simple threshold rule.
func newRule(id string) sensor.Rule {
	return sensor.Rule{ID: id, Scope: sensor.Scope{Profile: pipeProfile, Resource: "pressure"},
		Raise: []sensor.Condition{{Op: sensor.OpAbove, Value: 1.2}}}
}

// fullAlarm returns an alarm with every field set: a burst on a water
// main, acknowledged and cleared.
func fullAlarm(t testing.TB) sensor.Alarm {
	t.Helper()
	return sensor.Alarm{
		ID: newID(t), Kind: sensor.AlarmBurst, Rule: pressureRule, Status: sensor.AlarmCleared, Severity: sensor.Critical,
		Device: "cq-pp-000017", Asset: mainJLP, Grid: "500107001002",
		Location: geo.Point{Lat: 29.501234567891, Lon: 106.512345678912},
		Value:    -0.13250000000000001,
		Devices:  []string{"cq-pp-000017", "cq-pp-000018", "cq-pp-000023"},
		Silent:   2, Monitored: 40, Suppressed: 17,
		Since:   base.Add(-90 * time.Second),
		Raised:  base,
		Updated: base.Add(2*time.Hour + 1),
		Cleared: base.Add(2 * time.Hour),
		AckedBy: "jlp-water-duty-02",
		AckedAt: base.Add(5*time.Minute + 7*time.Nanosecond),
		Note:    "3 devices on main-jlp-yjp-07 within 10m0s \"爆管\" \\",
		Version: 4,
	}
}

// newAlarm returns an active device alarm of rule on device in grid, at
// Version 1.
func newAlarm(t testing.TB, rule, device, grid string) sensor.Alarm {
	t.Helper()
	return sensor.Alarm{
		ID: newID(t), Kind: sensor.AlarmDevice, Rule: rule, Status: sensor.AlarmActive, Severity: sensor.Major,
		Device: device, Asset: mainJLP, Grid: region.Code(grid), Location: geo.Point{Lat: 29.5, Lon: 106.5},
		Value: 0.12, Since: base, Raised: base, Updated: base, Note: "pressure < 0.15", Version: 1,
	}
}

// bumpAlarm returns a as its next version, with a change an engine makes.
func bumpAlarm(a sensor.Alarm) sensor.Alarm {
	a.Devices = slices.Clone(a.Devices)
	a.Version++
	a.Value += 0.01
	a.Updated = a.Updated.Add(time.Minute)
	a.Note = fmt.Sprintf("update %d", a.Version)
	return a
}

// fullVitalSign returns a vital sign with every field set.
func fullVitalSign() sensor.VitalSign {
	return sensor.VitalSign{
		Name: "jlp-main-pressure-avg", Profile: pipeProfile, Resource: "pressure", Area: "500107",
		Labels: map[string]string{"network": "dn300"}, Aggregate: sensor.AggregateAvg,
		Window: 15 * time.Minute, Every: time.Minute,
		Bands: []sensor.Band{{From: math.Inf(-1), Colour: "red"}, {From: 0.2, Colour: "yellow"}, {From: 0.3, Colour: "green"}},
	}
}

// unsetFields lists the fields of v, a sensor struct, that are zero in
// every value reachable from it (every element of a slice or map counts),
// such as "Rule.Raise[].Learn". The suite requires the full fixtures to
// have none, so that a field added to a stored type later is covered by
// the round trip as soon as the fixture sets it.
func unsetFields(v any) []string {
	set := map[string]bool{}
	var walk func(v reflect.Value, path string)
	walk = func(v reflect.Value, path string) {
		switch v.Kind() {
		case reflect.Pointer:
			if !v.IsNil() {
				walk(v.Elem(), path)
			}
		case reflect.Slice:
			for i := range v.Len() {
				walk(v.Index(i), path+"[]")
			}
		case reflect.Map:
			for it := v.MapRange(); it.Next(); {
				walk(it.Value(), path+"[]")
			}
		case reflect.Struct:
			pkg := v.Type().PkgPath()
			if pkg != reflect.TypeFor[sensor.Rule]().PkgPath() && pkg != reflect.TypeFor[geo.Point]().PkgPath() {
				return // time.Time and the like are leaves
			}
			for i := range v.NumField() {
				f := v.Type().Field(i)
				if !f.IsExported() {
					continue
				}
				p := path + "." + f.Name
				set[p] = set[p] || !v.Field(i).IsZero()
				walk(v.Field(i), p)
			}
		}
	}
	rv := reflect.ValueOf(v)
	walk(rv, rv.Type().Name())
	var out []string
	for p, ok := range set {
		if !ok {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// sameFloat reports whether two floats are the same value, NaN included.
func sameFloat(a, b float64) bool {
	return a == b && math.Signbit(a) == math.Signbit(b) || math.IsNaN(a) && math.IsNaN(b)
}

// profileDiff describes how got differs from want, NaN being equal to
// NaN; empty when they are the same. A nil Resources differs from an
// empty one.
func profileDiff(want, got sensor.Profile) string {
	if want.Name != got.Name {
		return fmt.Sprintf("name %q, want %q", got.Name, want.Name)
	}
	if (want.Resources == nil) != (got.Resources == nil) || len(want.Resources) != len(got.Resources) {
		return fmt.Sprintf("resources %#v, want %#v", got.Resources, want.Resources)
	}
	for i, w := range want.Resources {
		g := got.Resources[i]
		if w.Name != g.Name || w.Unit != g.Unit || w.Interval != g.Interval || !sameFloat(w.Min, g.Min) || !sameFloat(w.Max, g.Max) {
			return fmt.Sprintf("resource %d: %#v, want %#v", i, g, w)
		}
	}
	return ""
}

// cloneRule returns a deep copy of r, for the suite's own bookkeeping.
func cloneRule(r sensor.Rule) sensor.Rule {
	r.Raise = slices.Clone(r.Raise)
	r.Scope.Labels = maps.Clone(r.Scope.Labels)
	if r.Clear != nil {
		c := *r.Clear
		r.Clear = &c
	}
	if r.Schedule != nil {
		s := *r.Schedule
		s.Days = slices.Clone(s.Days)
		r.Schedule = &s
	}
	if r.Correlate != nil {
		c := *r.Correlate
		r.Correlate = &c
	}
	return r
}

// cloneAlarm returns a deep copy of a.
func cloneAlarm(a sensor.Alarm) sensor.Alarm {
	a.Devices = slices.Clone(a.Devices)
	return a
}

// cloneVital returns a deep copy of s.
func cloneVital(s sensor.VitalSign) sensor.VitalSign {
	s.Labels = maps.Clone(s.Labels)
	s.Bands = slices.Clone(s.Bands)
	return s
}

// within is the suite's own reading of a subtree filter, independent of
// region.Code.Within: a 6-digit province, city or district code drops its
// trailing "00" pairs, and the grid must start with what is left.
func within(grid region.Code, unit region.Code) bool {
	if grid == "" {
		return false
	}
	prefix := string(unit)
	if len(prefix) == 6 {
		for len(prefix) > 2 && strings.HasSuffix(prefix, "00") {
			prefix = prefix[:len(prefix)-2]
		}
	}
	return strings.HasPrefix(string(grid), prefix)
}

// deviceIDs returns the IDs of records in order, nil for none.
func deviceIDs(recs []sensor.DeviceRecord) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.Device.ID)
	}
	return out
}

// alarmIDs returns the IDs of alarms in order, nil for none.
func alarmIDs(alarms []sensor.Alarm) []string {
	var out []string
	for _, a := range alarms {
		out = append(out, a.ID)
	}
	return out
}
