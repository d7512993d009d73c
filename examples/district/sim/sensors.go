package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/region"
	"github.com/govkit/govkit/sensor"
)

// Device profiles and their resources.
const (
	profSmoke    = "smoke-v1"
	profBand     = "wristband-v1"
	profManhole  = "manhole-v1"
	profPressure = "pipe-pressure"

	resSmoke    = 0 // smoke-v1: smoke (0 or 1)
	resFall     = 0 // wristband-v1: fall (0 or 1)
	resPulse    = 1 // wristband-v1: pulse
	resTilt     = 0 // manhole-v1: tilt
	resPressure = 0 // pipe-pressure: pressure

	sensorsPerMain = 5
)

// Reporting intervals, in minutes.
const (
	everySmoke    = 30
	everyBand     = 5
	everyManhole  = 15
	everyPressure = 1
)

func profiles() []sensor.Profile {
	return []sensor.Profile{
		{Name: profSmoke, Resources: []sensor.Resource{{Name: "smoke", Min: 0, Max: 1, Interval: everySmoke * time.Minute}}},
		{Name: profBand, Resources: []sensor.Resource{
			{Name: "fall", Min: 0, Max: 1, Interval: everyBand * time.Minute},
			{Name: "pulse", Unit: "bpm", Min: 20, Max: 250, Interval: everyBand * time.Minute}}},
		{Name: profManhole, Resources: []sensor.Resource{{Name: "tilt", Unit: "°", Min: 0, Max: 90, Interval: everyManhole * time.Minute}}},
		{Name: profPressure, Resources: []sensor.Resource{{Name: "pressure", Unit: "MPa", Min: 0, Max: 2, Interval: everyPressure * time.Minute}}},
	}
}

// Alarm rules, as data, and the category of incident each opens.
const (
	ruleSmoke   = "smoke"
	ruleFall    = "fall"
	ruleSilent  = "wristband-silent"
	ruleManhole = "manhole-tilt"
	ruleBurst   = "main-burst"
)

var ruleCategory = map[string]string{
	ruleSmoke: catSmoke, ruleFall: catFall, ruleSilent: catOffline, ruleManhole: catManhole, ruleBurst: catBurst,
}

func rules() []sensor.Rule {
	city := cityCode
	return []sensor.Rule{
		{ID: ruleSmoke, Name: "smoke detected", Scope: sensor.Scope{Profile: profSmoke, Resource: "smoke", Grid: city},
			Raise: []sensor.Condition{{Severity: sensor.Critical, Op: sensor.OpAtOrAbove, Value: 1}},
			Clear: &sensor.Condition{Op: sensor.OpAtOrBelow, Value: 0}},
		{ID: ruleFall, Name: "fall of a person living alone", Scope: sensor.Scope{Profile: profBand, Resource: "fall", Grid: city, Labels: map[string]string{"lives": "alone"}},
			Raise: []sensor.Condition{{Severity: sensor.Critical, Op: sensor.OpAtOrAbove, Value: 1}}},
		{ID: ruleSilent, Name: "wristband silent", Scope: sensor.Scope{Profile: profBand, Resource: "pulse", Grid: city},
			Raise: []sensor.Condition{{Kind: sensor.Missing, Severity: sensor.Major, After: 30 * time.Minute}}},
		{ID: ruleManhole, Name: "manhole cover displaced", Scope: sensor.Scope{Profile: profManhole, Resource: "tilt", Grid: city},
			Raise: []sensor.Condition{{Severity: sensor.Major, Op: sensor.OpAbove, Value: 15}},
			Clear: &sensor.Condition{Op: sensor.OpBelow, Value: 5}, Count: 2},
		{ID: ruleBurst, Name: "water main burst", Scope: sensor.Scope{Profile: profPressure, Resource: "pressure", Grid: city},
			Raise: []sensor.Condition{{Kind: sensor.Rate, Severity: sensor.Critical, Op: sensor.OpBelow, Value: -0.1, Window: 5 * time.Minute}},
			Clear: &sensor.Condition{Op: sensor.OpAbove, Value: 0.3}, Correlate: &sensor.Correlation{By: "asset", Window: 5 * time.Minute}},
	}
}

// dev is one device of the fleet: its handle and when in its interval it
// reports.
type dev struct {
	h     sensor.Handle
	phase int32 // minute within the interval
	sec   int32 // second within the minute
}

// waterMain is a water main: five pressure sensors along it.
type waterMain struct {
	id   string
	line geo.LineString
	grid region.Code
	ids  []string
	// A burst, if any: the minutes it lasts and each sensor's drop.
	from, until int32
	drops       [sensorsPerMain]float64
}

// anomaly is something that happens to a device (or a main) at a minute.
type anomaly struct {
	minute int32
	kind   uint8
	idx    int32
	dur    int32
}

const (
	anSmoke uint8 = iota + 1
	anFall
	anSilent
	anManhole
	anBurst
)

// Anomalies per device (or main) and day.
const (
	pSmoke   = 0.003
	pFall    = 0.01
	pSilent  = 0.01
	pManhole = 0.004
	pBurst   = 0.01
)

// fleet is the district's devices, what will happen to them, and the state
// the simulation keeps to produce their readings.
type fleet struct {
	reg                            *sensor.Registry
	smoke, band, manhole, pressure []dev
	mains                          []*waterMain
	events                         []anomaly // by minute
	next                           int       // the next event to apply

	smokeUntil, silentUntil, manholeUntil []int32
	fallAt                                []int32 // minute of a fall to report, or -1
	mainOf                                []int32 // pressure sensor → main
	batch                                 []sensor.Reading
}

// newFleet registers the devices and plans their anomalies over the day.
func newFleet(w *world, minutes int) (*fleet, error) {
	f := &fleet{reg: sensor.NewRegistry()}
	for _, p := range profiles() {
		if err := f.reg.AddProfile(p); err != nil {
			return nil, err
		}
	}
	r := w.rnd("fleet")
	n := w.cfg.Devices
	nPressure := n * 15 / 100 / sensorsPerMain * sensorsPerMain
	nManhole := n * 25 / 100
	nBand := n * 15 / 100
	nSmoke := n - nPressure - nManhole - nBand
	register := func(d sensor.Device, every int) (dev, error) {
		h, err := f.reg.Register(d)
		if err != nil {
			return dev{}, err
		}
		k := hashKey(d.ID)
		return dev{h: h, phase: int32(k % uint64(every)), sec: int32(k >> 32 % 60)}, nil
	}
	for i := range nSmoke {
		g := w.randomGrid(r)
		d, err := register(sensor.Device{ID: fmt.Sprintf("sd-%07d", i+1), Profile: profSmoke, Location: inside(r, g.box), Grid: g.code}, everySmoke)
		if err != nil {
			return nil, err
		}
		f.smoke = append(f.smoke, d)
	}
	alone := map[string]string{"lives": "alone"}
	for i := range nBand {
		g := w.randomGrid(r)
		d, err := register(sensor.Device{ID: fmt.Sprintf("wb-%07d", i+1), Profile: profBand, Location: inside(r, g.box), Grid: g.code, Labels: alone}, everyBand)
		if err != nil {
			return nil, err
		}
		f.band = append(f.band, d)
	}
	for i := range nManhole {
		g := w.randomGrid(r)
		id := fmt.Sprintf("mh-%07d", i+1)
		d, err := register(sensor.Device{ID: id, Profile: profManhole, Location: inside(r, g.box), Grid: g.code, Asset: "manhole:" + id}, everyManhole)
		if err != nil {
			return nil, err
		}
		f.manhole = append(f.manhole, d)
	}
	for m := range nPressure / sensorsPerMain {
		// Five sensors 250 m apart along a main, east–west or north–south,
		// all inside one street's grids (a street's box has gaps where its
		// communities do not fill the tiling).
		var line [sensorsPerMain]geo.Point
		var grids [sensorsPerMain]region.Code
		for placed := false; !placed; {
			g := w.randomGrid(r)
			start := inside(r, g.box)
			const spacing = 250.0 // metres between sensors
			dLat, dLon := spacing/111_195, 0.0
			if r.IntN(2) == 0 {
				dLat, dLon = 0, spacing/(111_195*math.Cos(start.Lat*math.Pi/180))
			}
			if r.IntN(2) == 0 {
				dLat, dLon = -dLat, -dLon
			}
			placed = true
			for k := range sensorsPerMain {
				line[k] = geo.Point{Lat: start.Lat + float64(k)*dLat, Lon: start.Lon + float64(k)*dLon}
				u, err := w.regions.Locate(line[k])
				if err != nil || u.Level() != region.Grid || !u.Code.Within(g.street.code) {
					placed = false
					break
				}
				grids[k] = u.Code
			}
		}
		mn := &waterMain{id: fmt.Sprintf("main-%05d", m+1), grid: grids[sensorsPerMain/2]}
		for k, p := range line {
			id := fmt.Sprintf("pp-%07d", len(f.pressure)+1)
			d, err := register(sensor.Device{ID: id, Profile: profPressure, Location: p, Grid: grids[k], Asset: mn.id}, everyPressure)
			if err != nil {
				return nil, err
			}
			mn.line = append(mn.line, p)
			mn.ids = append(mn.ids, id)
			f.pressure = append(f.pressure, d)
			f.mainOf = append(f.mainOf, int32(m))
		}
		mn.from, mn.until = -1, -1
		f.mains = append(f.mains, mn)
	}
	f.smokeUntil = make([]int32, len(f.smoke))
	f.silentUntil = make([]int32, len(f.band))
	f.fallAt = make([]int32, len(f.band))
	for i := range f.fallAt {
		f.fallAt[i] = -1
	}
	f.manholeUntil = make([]int32, len(f.manhole))

	// What will happen, device by device: a Poisson number of events over
	// the period, at uniform minutes.
	day := float64(minutes) / (24 * 60)
	plan := func(kind uint8, count int, p float64, dur [2]int32) {
		r := w.rnd(fmt.Sprintf("anomalies/%d", kind))
		expected := float64(count) * p * day
		events := poisson(r, expected)
		for range events {
			f.events = append(f.events, anomaly{minute: int32(r.IntN(minutes)), kind: kind, idx: int32(r.IntN(max(count, 1))),
				dur: dur[0] + int32(r.IntN(int(dur[1]-dur[0]+1)))})
		}
	}
	if len(f.smoke) > 0 {
		plan(anSmoke, len(f.smoke), pSmoke, [2]int32{20, 60})
	}
	if len(f.band) > 0 {
		plan(anFall, len(f.band), pFall, [2]int32{0, 0})
		plan(anSilent, len(f.band), pSilent, [2]int32{60, 240})
	}
	if len(f.manhole) > 0 {
		plan(anManhole, len(f.manhole), pManhole, [2]int32{120, 360})
	}
	if len(f.mains) > 0 {
		plan(anBurst, len(f.mains), pBurst, [2]int32{120, 300})
	}
	slices.SortStableFunc(f.events, func(a, b anomaly) int {
		if a.minute != b.minute {
			return int(a.minute - b.minute)
		}
		if a.kind != b.kind {
			return int(a.kind) - int(b.kind)
		}
		return int(a.idx - b.idx)
	})
	return f, nil
}

// poisson draws from a Poisson distribution with the given mean (normal
// approximation above 50).
func poisson(r *rand.Rand, mean float64) int {
	if mean <= 0 {
		return 0
	}
	if mean > 50 {
		return max(0, int(math.Round(mean+math.Sqrt(mean)*r.NormFloat64())))
	}
	l, k, p := math.Exp(-mean), 0, 1.0
	for {
		p *= r.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// noise is a small deterministic jitter in [-1, 1) for a device at a minute.
func noise(h sensor.Handle, minute int32) float64 {
	x := uint64(h)*0x9E3779B97F4A7C15 ^ uint64(minute)*0xBF58476D1CE4E5B9
	x ^= x >> 31
	x *= 0x94D049BB133111EB
	x ^= x >> 29
	return float64(x>>11)/float64(1<<52) - 1
}

// readings returns the readings of minute m, observed from at on: the
// anomalies that begin then, and every device whose turn it is.
func (f *fleet) readings(m int32, at time.Time) []sensor.Reading {
	b := f.batch[:0]
	obs := func(d dev) time.Time { return at.Add(time.Duration(d.sec) * time.Second) }
	for ; f.next < len(f.events) && f.events[f.next].minute <= m; f.next++ {
		e := f.events[f.next]
		switch e.kind {
		case anSmoke:
			f.smokeUntil[e.idx] = m + e.dur
			b = append(b, sensor.Reading{Device: f.smoke[e.idx].h, Resource: resSmoke, Value: 1, Observed: at})
		case anFall:
			if f.silentUntil[e.idx] <= m {
				f.fallAt[e.idx] = m
				b = append(b, sensor.Reading{Device: f.band[e.idx].h, Resource: resFall, Value: 1, Observed: at})
			}
		case anSilent:
			f.silentUntil[e.idx] = m + e.dur
		case anManhole:
			f.manholeUntil[e.idx] = m + e.dur
		case anBurst:
			mn := f.mains[e.idx]
			if mn.until > m {
				continue // already burst
			}
			mn.from, mn.until = m, m+e.dur
			brk := 4 * noise(sensor.Handle(e.idx), m) // where along the main, −4…4 → folded below
			brk = math.Abs(brk)
			for k := range sensorsPerMain {
				d := float64(k) - brk
				mn.drops[k] = 0.32 / (1 + d*d)
			}
		}
	}
	for i, d := range f.smoke {
		if m%everySmoke != d.phase {
			continue
		}
		v := 0.0
		if f.smokeUntil[i] > m {
			v = 1
		}
		b = append(b, sensor.Reading{Device: d.h, Resource: resSmoke, Value: v, Observed: obs(d)})
	}
	for i, d := range f.band {
		if m%everyBand != d.phase || f.silentUntil[i] > m || f.fallAt[i] == m {
			continue
		}
		f.fallAt[i] = -1
		b = append(b,
			sensor.Reading{Device: d.h, Resource: resFall, Value: 0, Observed: obs(d)},
			sensor.Reading{Device: d.h, Resource: resPulse, Value: 72 + 8*noise(d.h, m), Observed: obs(d)})
	}
	for i, d := range f.manhole {
		if m%everyManhole != d.phase {
			continue
		}
		v := 2 + noise(d.h, m)
		if f.manholeUntil[i] > m {
			v = 30 + 3*noise(d.h, m)
		}
		b = append(b, sensor.Reading{Device: d.h, Resource: resTilt, Value: v, Observed: obs(d)})
	}
	for i, d := range f.pressure {
		v := 0.42 + 0.004*noise(d.h, m)
		if mn := f.mains[f.mainOf[i]]; mn.from >= 0 && m >= mn.from && m < mn.until {
			v -= mn.drops[i%sensorsPerMain]
		}
		b = append(b, sensor.Reading{Device: d.h, Resource: resPressure, Value: v, Observed: obs(d)})
	}
	f.batch = b
	return b
}
