package incidenttest

import (
	"encoding/json"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"

	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/incident"
	"github.com/govkit/govkit/pii"
	"github.com/govkit/govkit/region"
)

// Categories of the fixtures.
const (
	muckTruck   = "muck-truck-overload"
	manhole     = "manhole-cover-missing"
	streetVend  = "illegal-street-vending"
	eventPrefix = "gov"
)

// base is 08:35:12.345678 on a working Tuesday in Chongqing (UTC+8), in
// UTC at microsecond precision as stores return it.
var base = time.Date(2024, time.March, 5, 0, 35, 12, 345678000, time.UTC)

// yangjiaping is a point in Jiulongpo district, near 29.5N 106.5E.
var yangjiaping = geo.Point{Lat: 29.5050, Lon: 106.5120}

func newID(t testing.TB) uuid.UUID {
	t.Helper()
	id, err := uuid.NewV7()
	if err != nil {
		t.Fatalf("uuid.NewV7: %v", err)
	}
	return id
}

// pathOf returns the path from the province-level unit down to code:
// 500107001002003 → 500000, 500107, 500107001, 500107001002,
// 500107001002003. Districts of Chongqing sit directly under 500000;
// those of a province sit under their city (510107 under 510100).
func pathOf(code string) []region.Code {
	province := code[:2] + "0000"
	path := []region.Code{region.Code(province)}
	if city := code[:4] + "00"; code[:2] != "50" && city != province {
		path = append(path, region.Code(city))
	}
	for n := 6; n <= len(code); n += 3 {
		path = append(path, region.Code(code[:n]))
	}
	return path
}

// newIncident returns a registered grid-member report at p in grid,
// reported at, at Version 1, with one idempotency key.
func newIncident(t testing.TB, category, grid string, p geo.Point, at time.Time) incident.Incident {
	t.Helper()
	id := newID(t)
	inc := incident.Incident{
		ID:      id,
		Channel: incident.GridMember,
		Reporters: []incident.Reporter{{
			ActorID: "grid-member-0427", Channel: incident.GridMember, ReportedAt: at,
		}},
		Category: category,
		Location: incident.Location{Point: p, Address: "杨家坪正街", Accuracy: 5},
		Priority: incident.Normal,
		Status:   incident.Registered,
		Times:    incident.Times{Reported: at, Registered: at.Add(7 * time.Minute)},
		Keys:     []string{"grid-member:" + id.String()},
		Version:  1,
	}
	if grid != "" {
		inc.Location.Path = pathOf(grid)
	}
	return inc
}

func mustName(t testing.TB, s string) pii.Data {
	t.Helper()
	d, err := pii.NewName(s)
	if err != nil {
		t.Fatalf("pii.NewName: %v", err)
	}
	return d
}

func mustPhone(t testing.TB, s string) pii.Data {
	t.Helper()
	d, err := pii.NewPhone(s)
	if err != nil {
		t.Fatalf("pii.NewPhone: %v", err)
	}
	return d
}

// fullIncident returns a case with every field of Incident set, so that a
// round trip shows what a store drops. The values need not make sense
// together (a dispatched case with a rating); they must all come back.
func fullIncident(t testing.TB) incident.Incident {
	t.Helper()
	id := newID(t)
	return incident.Incident{
		ID: id,
		ExternalIDs: map[string]string{
			"12345-hotline": "CQ12345-20240305-000123",
			"cq-smart-city": "JLP-2024-0305-0042",
		},
		Channel: incident.Hotline,
		Reporters: []incident.Reporter{
			{
				ActorID: "citizen-7f3a9c", Channel: incident.Hotline,
				Name: mustName(t, "张三丰"), Phone: mustPhone(t, "13812345678"),
				ReportedAt: base, ExternalID: "CQ12345-20240305-000123",
			},
			{Channel: incident.CitizenApp, Phone: mustPhone(t, "+86 139 0000 1111"), ReportedAt: base.Add(3 * time.Minute)},
			{ActorID: "cam-jlp-0231", Channel: incident.VideoAI, ReportedAt: base.Add(4 * time.Minute), ExternalID: "evt-77"},
		},
		Category: muckTruck,
		Attributes: map[string][]string{
			"plate":      {"渝A12345"},
			"violations": {"overload", "spillage"},
			"empty":      {},
		},
		Description: "渣土车超载，沿途抛洒，杨家坪转盘方向",
		Location: incident.Location{
			Point: yangjiaping, Address: "九龙坡区杨家坪步行街 12 号", Accuracy: 8.5,
			Path: pathOf("500107001002003"),
		},
		Priority:   incident.High,
		Confidence: 0.87,
		Evidence: []incident.Evidence{
			{URI: "s3://cq-evidence/2024/03/05/muck-1.jpg", SHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", MediaType: "image/jpeg"},
			{URI: "s3://cq-evidence/2024/03/05/muck-1.mp4", SHA256: "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752", MediaType: "video/mp4"},
		},
		Status:     incident.Dispatched,
		Resolution: incident.Duplicate,
		Times: incident.Times{
			Reported: base, Registered: base.Add(9 * time.Minute), Dispatched: base.Add(21 * time.Minute),
			Started: base.Add(40 * time.Minute), Disposed: base.Add(2 * time.Hour), Verified: base.Add(3 * time.Hour),
			Closed: base.Add(4 * time.Hour), Evaluated: base.Add(26 * time.Hour),
		},
		SLA: incident.Clock{
			Phase: incident.Dispatched, Deadline: base.Add(4*time.Hour + 30*time.Minute),
			PausedAt: base.Add(time.Hour), Reason: "awaiting traffic police", Overdue: true,
		},
		Handlers:   []string{"jlp-urban-mgmt-07", "jlp-traffic-02"},
		Reworks:    1,
		Reopens:    2,
		Rating:     4,
		MergedInto: newID(t),
		MergedFrom: []uuid.UUID{newID(t), newID(t)},
		SplitFrom:  newID(t),
		Keys:       []string{"hotline:CQ12345-20240305-000123", "app:wx-8f3a2c"},
		Penalties: []incident.Penalty{
			{
				Decision: "九交执罚〔2024〕0412号", Basis: "《重庆市城市建筑垃圾管理条例》第四十二条",
				Payer: mustName(t, "重庆某渣土运输有限公司"), Amount: *apd.New(200000, -2), // 2000.00: the scale must survive
				DecidedBy: "jlp-traffic-02", DecidedAt: base.Add(50 * time.Hour),
			},
			{Decision: "九城管罚〔2024〕0077号", Amount: *apd.New(1505, -1), DecidedBy: "jlp-urban-mgmt-07", DecidedAt: base.Add(51 * time.Hour)}, // 150.5
		},
		Version: 1,
	}
}

// entry returns timeline entry seq of inc. Seq, PrevHash and Hash need
// not verify for store tests; chain builds entries that do.
func entry(inc incident.Incident, seq int, action string, from, to incident.Status) incident.Entry {
	return incident.Entry{
		Incident: inc.ID, Seq: seq, Time: base.Add(time.Duration(seq) * time.Minute),
		ActorID: "jlp-urban-mgmt-07", Action: action, From: from, To: to,
		Note:     "现场核实，渣土车已驶离",
		PrevHash: []byte{byte(seq - 1), 0xaa}, Hash: []byte{byte(seq), 0xbb},
	}
}

// link makes e follow prev (nil for the first entry).
func link(prev *incident.Entry, e incident.Entry) incident.Entry { return incident.Link(prev, e) }

// event returns the message announcing name for inc, as the incident
// service builds it.
func event(t testing.TB, inc incident.Incident, name string, at time.Time) bus.Message {
	t.Helper()
	data, err := json.Marshal(incident.EventData{
		Event: name, ID: inc.ID, Version: inc.Version, To: inc.Status.String(),
		Category: inc.Category, Priority: inc.Priority.String(), Grid: inc.Location.Grid(),
		Path: inc.Location.Path, Lat: inc.Location.Point.Lat, Lon: inc.Location.Point.Lon,
		Actor: "jlp-urban-mgmt-07", Time: at,
	})
	if err != nil {
		t.Fatalf("encoding event: %v", err)
	}
	return bus.Message{
		ID:      newID(t).String(),
		Subject: incident.Subject(eventPrefix, inc.Location.Path, name),
		Key:     inc.ID.String(),
		Headers: map[string]string{
			"govkit-kind": "incident", "govkit-event": name,
			"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		},
		Time: at,
		Data: data,
	}
}

// destination returns the point meters from p on the initial bearing
// (degrees clockwise from north), on the sphere geo.Distance uses.
func destination(p geo.Point, meters, bearing float64) geo.Point {
	rad := math.Pi / 180
	d := meters / geo.EarthRadius
	θ := bearing * rad
	φ1, λ1 := p.Lat*rad, p.Lon*rad
	φ2 := math.Asin(math.Sin(φ1)*math.Cos(d) + math.Cos(φ1)*math.Sin(d)*math.Cos(θ))
	λ2 := λ1 + math.Atan2(math.Sin(θ)*math.Sin(d)*math.Cos(φ1), math.Cos(d)-math.Sin(φ1)*math.Sin(φ2))
	return geo.Point{Lat: φ2 / rad, Lon: λ2 / rad}
}

// AssertIncidentEqual reports, through t, any difference between want and
// got: every field compared exactly, personal data (reporters' names and
// phones, penalties' payers) with pii.Data.Equal (== compares identity, not
// value), and penalties' amounts by their text, which holds the value and
// the scale: 2000.00 must not come back as 2000, which Cmp would accept,
// nor fail on an apd.Decimal's internal form, which reflection compares.
// It returns whether they are equal. Store tests use it for store-specific
// checks beyond Run.
func AssertIncidentEqual(t testing.TB, want, got incident.Incident) bool {
	t.Helper()
	ok := true
	if assert.Len(t, got.Reporters, len(want.Reporters), "incident %s: reporters", want.ID) {
		for i := range want.Reporters {
			w, g := want.Reporters[i], got.Reporters[i]
			ok = assert.Truef(t, w.Name.Equal(g.Name), "incident %s: reporter %d: name %s, want %s", want.ID, i, g.Name, w.Name) && ok
			ok = assert.Truef(t, w.Phone.Equal(g.Phone), "incident %s: reporter %d: phone %s, want %s", want.ID, i, g.Phone, w.Phone) && ok
		}
	} else {
		ok = false
	}
	if assert.Len(t, got.Penalties, len(want.Penalties), "incident %s: penalties", want.ID) {
		for i := range want.Penalties {
			w, g := &want.Penalties[i], &got.Penalties[i]
			ok = assert.Truef(t, w.Payer.Equal(g.Payer), "incident %s: penalty %d: payer %s, want %s", want.ID, i, g.Payer, w.Payer) && ok
			ok = assert.Equalf(t, w.Amount.String(), g.Amount.String(), "incident %s: penalty %d: amount", want.ID, i) && ok
		}
	} else {
		ok = false
	}
	want, got = withoutPersonalData(want), withoutPersonalData(got)
	return assert.Equal(t, want, got, "incident %s", want.ID) && ok
}

// withoutPersonalData returns a copy of inc with reporters' names and
// phones and penalties' payers and amounts cleared, for comparison by
// reflection; AssertIncidentEqual compares those itself.
func withoutPersonalData(inc incident.Incident) incident.Incident {
	inc = inc.Clone()
	for i := range inc.Reporters {
		inc.Reporters[i].Name, inc.Reporters[i].Phone = pii.Data{}, pii.Data{}
	}
	for i := range inc.Penalties {
		inc.Penalties[i].Payer, inc.Penalties[i].Amount = pii.Data{}, apd.Decimal{}
	}
	return inc
}

// ids returns the IDs of incs in order.
func ids(incs []incident.Incident) []uuid.UUID {
	out := make([]uuid.UUID, len(incs))
	for i, inc := range incs {
		out[i] = inc.ID
	}
	return out
}

// sortedIDs returns the IDs of incs in ID order, the order of Find and
// Nearby.
func sortedIDs(incs ...incident.Incident) []uuid.UUID {
	out := ids(incs)
	slices.SortFunc(out, func(a, b uuid.UUID) int { return compareIDs(a, b) })
	return out
}

func compareIDs(a, b uuid.UUID) int {
	switch as, bs := a.String(), b.String(); {
	case as < bs:
		return -1
	case as > bs:
		return 1
	}
	return 0
}

// normalMessage returns m as compared by the suite: empty headers and data
// count as absent, since a store may not tell nil from empty, and Attempt
// is the transport's business.
func normalMessage(m bus.Message) bus.Message {
	if len(m.Headers) == 0 {
		m.Headers = nil
	}
	if len(m.Data) == 0 {
		m.Data = nil
	}
	m.Attempt = 0
	return m
}
