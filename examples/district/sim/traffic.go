package sim

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/incident"
	"github.com/govkit/govkit/pii"
)

// Daily rates of the people and machines that report, and of bundles.
const (
	citizenReportsPerDay = 0.005 // per citizen
	gridReportsPerDay    = 0.8   // per grid member
	cameraReportsPerDay  = 25    // per street: video-AI detections
	newbornPerDay        = 2     // per street
	rentalPerDay         = 3     // per street
	duplicateShare       = 0.08  // citizens' reports of a problem someone reported already
)

// Hourly profiles, hour 0 to 23; each is scaled to average 1.
var (
	citizenHours = hourly(0.2, 0.1, 0.1, 0.1, 0.1, 0.2, 0.5, 1.0, 1.5, 1.8, 1.8, 1.5, 1.2, 1.3, 1.5, 1.6, 1.6, 1.5, 1.4, 1.3, 1.2, 1.0, 0.7, 0.4)
	patrolHours  = hourly(0, 0, 0, 0, 0, 0, 0, 0.5, 1, 1, 1, 1, 0.5, 1, 1, 1, 1, 1, 0.5, 0, 0, 0, 0, 0)
	cameraHours  = hourly(0.3, 0.3, 0.5, 0.5, 0.4, 0.5, 0.8, 1.2, 1.2, 1, 1, 1, 1, 1, 1, 1, 1.1, 1.3, 1.3, 1.2, 1, 0.8, 0.6, 0.4)
	officeHours  = hourly(0, 0, 0, 0, 0, 0, 0, 0.2, 1, 1.5, 1.5, 1, 0.3, 0.8, 1.5, 1.5, 1.2, 0.6, 0.2, 0.1, 0, 0, 0, 0)
)

func hourly(w ...float64) [24]float64 {
	var out [24]float64
	sum := 0.0
	for _, x := range w {
		sum += x
	}
	for i, x := range w {
		out[i] = x * 24 / sum
	}
	return out
}

// citizen categories and their shares of citizens' reports.
var citizenMix = []struct {
	cat   string
	share float64
}{
	{catWaste, 0.18}, {catVending, 0.12}, {catLight, 0.18}, {catManhole, 0.06}, {catNoise, 0.30}, {catFireLane, 0.16},
}

var patrolMix = []string{catWaste, catWaste, catVending, catLight, catManhole, catFireLane}
var cameraMix = []string{catVending, catVending, catMuckTruck, catFireLane, catWaste}

// traffic generates the day's arrivals minute by minute from one
// generator, so that the same seed gives the same day.
type traffic struct {
	s      *system
	r      *rand.Rand
	n      int // arrivals so far, for keys
	recent []recentReport
}

type recentReport struct {
	cat string
	at  geo.Point
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// minute schedules the arrivals of the minute beginning at t.
func (tr *traffic) minute(t time.Time) {
	s := tr.s
	h := t.In(CST).Hour()
	streets := float64(len(s.w.streets))
	perMinute := func(daily float64, profile [24]float64) int {
		return poisson(tr.r, daily*profile[h]/(24*60))
	}
	at := func() time.Time { return t.Add(time.Duration(tr.r.IntN(60)) * time.Second) }
	key := func(kind string) string {
		tr.n++
		return fmt.Sprintf("%s%s/%d", s.cfg.RunID, kind, tr.n)
	}
	for range perMinute(float64(s.cfg.Citizens)*citizenReportsPerDay, citizenHours) {
		k, when := key("citizen"), at()
		rep, who := tr.citizenReport(k)
		s.sched.add(when, k, func(ctx context.Context) error { s.report(ctx, who, rep); return nil })
	}
	for range perMinute(float64(len(s.w.grids))*gridReportsPerDay, patrolHours) {
		k, when := key("patrol"), at()
		g := s.w.randomGrid(tr.r)
		rep := incident.Report{Key: k, Channel: incident.GridMember, Category: pick(tr.r, patrolMix), Point: inside(tr.r, g.box),
			Description: "seen on patrol"}
		s.sched.add(when, k, func(ctx context.Context) error { s.report(ctx, g.member, rep); return nil })
	}
	for range perMinute(streets*cameraReportsPerDay, cameraHours) {
		k, when := key("camera"), at()
		g := s.w.randomGrid(tr.r)
		camera := access.Actor{ID: "video-ai-" + string(g.street.district), Kind: access.VideoAISystem, Scope: g.street.district, Roles: []string{"camera-ai"}}
		rep := incident.Report{Key: k, Channel: incident.VideoAI, Category: pick(tr.r, cameraMix), Point: inside(tr.r, g.box),
			Confidence: 0.55 + 0.44*tr.r.Float64(), Description: "detected by camera " + fmt.Sprintf("cam-%s-%02d", g.code, tr.r.IntN(6)+1),
			ExternalSystem: "video-ai", ExternalID: k}
		s.sched.add(when, k, func(ctx context.Context) error { s.report(ctx, camera, rep); return nil })
	}
	for _, b := range []struct {
		tpl   string
		daily float64
	}{{tplNewborn, newbornPerDay}, {tplRental, rentalPerDay}} {
		for range perMinute(streets*b.daily, officeHours) {
			k, when := key("bundle-"+b.tpl), at()
			g, citizen := s.w.randomGrid(tr.r), tr.r.IntN(max(s.cfg.Citizens, 1))
			tpl := b.tpl
			s.sched.add(when, k, func(ctx context.Context) error { return s.applyBundle(ctx, tpl, k, citizen, g) })
		}
	}
}

// citizenReport makes a citizen's report: sometimes of a problem someone
// reported a little earlier, and for noise, often about a rental room.
func (tr *traffic) citizenReport(key string) (incident.Report, access.Actor) {
	s, r := tr.s, tr.r
	n := r.IntN(max(s.cfg.Citizens, 1))
	who := access.Actor{ID: fmt.Sprintf("cit-%07d", n), Kind: access.Citizen, Scope: cityCode, Roles: []string{"citizen"}}
	phone, _ := pii.NewPhone(fmt.Sprintf("13%d%08d", 5+n%5, n))
	rep := incident.Report{Key: key, Channel: incident.CitizenApp, Phone: phone}
	if r.IntN(10) < 3 {
		rep.Channel = incident.Hotline
	}
	if len(tr.recent) > 0 && r.Float64() < duplicateShare {
		prev := tr.recent[r.IntN(len(tr.recent))]
		rep.Category = prev.cat
		rep.Point = geo.Point{Lat: prev.at.Lat + (r.Float64()-0.5)*0.0004, Lon: prev.at.Lon + (r.Float64()-0.5)*0.0004}
		rep.Description = "reported again"
		return fromApp(rep), who
	}
	x, cat := r.Float64(), citizenMix[len(citizenMix)-1].cat
	for _, m := range citizenMix {
		if x < m.share {
			cat = m.cat
			break
		}
		x -= m.share
	}
	g := s.w.randomGrid(r)
	rep.Category, rep.Point = cat, inside(r, g.box)
	if cat == catNoise && len(g.street.rooms) > 0 && r.IntN(2) == 0 {
		// Complaints about rental rooms gather on a few of them.
		rooms := g.street.rooms
		i := int(math.Floor(math.Pow(r.Float64(), 3) * float64(len(rooms))))
		rm := rooms[i]
		rep.Point = geo.Point{Lat: rm.point.Lat + (r.Float64()-0.5)*0.0002, Lon: rm.point.Lon + (r.Float64()-0.5)*0.0002}
		rep.Attributes = map[string][]string{attrRoom: {s.cfg.RunID + rm.subject}}
		rep.Description = "noise from a short-term rental room after 22:00"
	}
	if len(tr.recent) < 256 {
		tr.recent = append(tr.recent, recentReport{cat: rep.Category, at: rep.Point})
	} else {
		tr.recent[tr.n%256] = recentReport{cat: rep.Category, at: rep.Point}
	}
	return fromApp(rep), who
}

// fromApp gives a report made in a map app its coordinates as the app
// sends them: in China, AMap and Tencent Maps use GCJ-02, which the
// incident service converts back to WGS-84.
func fromApp(rep incident.Report) incident.Report {
	if rep.Channel == incident.CitizenApp {
		rep.Point, rep.CRS = geo.WGS84ToGCJ02(rep.Point), geo.GCJ02
	}
	return rep
}
