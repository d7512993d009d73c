package open311_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/incident"
	"github.com/govkit/govkit/incident/open311"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFromIncident(t *testing.T) {
	inc := sampleIncident(t)
	sr := open311.FromIncident(inc, catalogue(t), open311.ExportOptions{})
	lat, long := 29.528, 106.4896
	assert.Equal(t, open311.ServiceRequest{
		ServiceRequestID:  "019cacb4-4c00-7000-8000-000000000001",
		Status:            "closed",
		ServiceName:       "Dumped construction waste",
		ServiceCode:       "construction-waste",
		Description:       "rubble on the pavement",
		RequestedDatetime: "2026-03-02T10:00:00+08:00",
		UpdatedDatetime:   "2026-03-02T14:00:00+08:00",
		Address:           "科园一路3号",
		Lat:               &lat,
		Long:              &long,
		MediaURL:          "https://media.example.gov.cn/a.jpg",
	}, sr)

	got, err := json.Marshal(sr)
	require.NoError(t, err)
	assert.JSONEq(t, `{
	  "service_request_id": "019cacb4-4c00-7000-8000-000000000001", "status": "closed",
	  "service_name": "Dumped construction waste", "service_code": "construction-waste",
	  "description": "rubble on the pavement",
	  "requested_datetime": "2026-03-02T10:00:00+08:00", "updated_datetime": "2026-03-02T14:00:00+08:00",
	  "address": "科园一路3号", "lat": 29.528, "long": 106.4896,
	  "media_url": "https://media.example.gov.cn/a.jpg"
	}`, string(got))
}

func TestFromIncidentOptions(t *testing.T) {
	inc := sampleIncident(t)
	inc.Status, inc.Resolution = incident.Dispatched, 0
	inc.Times.Started, inc.Times.Disposed, inc.Times.Verified, inc.Times.Closed = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	inc.SLA = incident.Clock{Phase: incident.Dispatched, Deadline: time.Date(2026, 3, 2, 15, 0, 0, 0, cst)}

	sr := open311.FromIncident(inc, catalogue(t), open311.ExportOptions{
		ExtendedStatuses: true, CRS: geo.GCJ02, Location: time.UTC, OmitMedia: true,
		AgencyResponsible: "九龙坡区城管局", StatusNotes: "sent to the sanitation team, call 13912345678",
		ServiceNotice: "cleared within 4 working hours",
	})
	assert.Equal(t, "action_scheduled", sr.Status)
	assert.Equal(t, "2026-03-02T02:00:00Z", sr.RequestedDatetime)
	assert.Equal(t, "2026-03-02T03:00:00Z", sr.UpdatedDatetime)
	assert.Equal(t, "2026-03-02T07:00:00Z", sr.ExpectedDatetime, "the SLA deadline of an open case")
	assert.Equal(t, "九龙坡区城管局", sr.AgencyResponsible)
	assert.Equal(t, "sent to the sanitation team, call 139****5678", sr.StatusNotes)
	assert.Equal(t, "cleared within 4 working hours", sr.ServiceNotice)
	assert.Empty(t, sr.MediaURL)
	want, err := geo.Convert(inc.Location.Point, geo.WGS84, geo.GCJ02)
	require.NoError(t, err)
	p, ok := sr.Point()
	require.True(t, ok)
	assert.Equal(t, want, p)
	assert.NotEqual(t, inc.Location.Point, p)

	plain := open311.FromIncident(inc, nil, open311.ExportOptions{CRS: geo.CRS(99)})
	assert.Equal(t, "open", plain.Status)
	assert.Equal(t, "construction-waste", plain.ServiceName, "without a catalogue the code names the service")
	p, _ = plain.Point()
	assert.Equal(t, inc.Location.Point, p, "an unknown CRS leaves WGS-84")

	inc.Category = "gone"
	assert.Equal(t, "gone", open311.FromIncident(inc, catalogue(t), open311.ExportOptions{}).ServiceName)
}

func TestFromIncidentStatuses(t *testing.T) {
	inc := sampleIncident(t)
	for s := incident.Reported; s <= incident.Evaluated; s++ {
		inc.Status = s
		plain := open311.FromIncident(inc, nil, open311.ExportOptions{})
		ext := open311.FromIncident(inc, nil, open311.ExportOptions{ExtendedStatuses: true})
		if s.Open() {
			assert.Equal(t, "open", plain.Status, s)
		} else {
			assert.Equal(t, "closed", plain.Status, s)
		}
		assert.Equal(t, strings.ToLower(open311.ExtendedStatus(s, inc.Resolution)), ext.Status, s)
	}
}

// The exported JSON carries no reporter's name, phone number (raw or
// masked), actor ID or external ID, nor the case's other systems' IDs.
func TestFromIncidentNoPersonalData(t *testing.T) {
	inc := sampleIncident(t)
	for _, opts := range []open311.ExportOptions{{}, {ExtendedStatuses: true, CRS: geo.BD09}} {
		got, err := json.Marshal(open311.FromIncident(inc, catalogue(t), opts))
		require.NoError(t, err)
		for _, s := range []string{"13812345678", "138****5678", "13987654321", "139****4321", "5678", "4321",
			"张三", "张*", "Li Lei", "L*", "citizen-a", "citizen-b", "app-77", "H-2026-0001", "hotline"} {
			assert.NotContains(t, string(got), s)
		}
	}
}

func TestFromIncidentMasksPhonesInText(t *testing.T) {
	inc := sampleIncident(t)
	inc.Description = "电话13812345678，或 +86 139-1234-5678，或 86 137 1234 5678；电表号 12345678901234"
	inc.Location.Address = "科园一路3号 (13612345678)"
	sr := open311.FromIncident(inc, nil, open311.ExportOptions{})
	assert.Equal(t, "电话138****5678，或 139****5678，或 137****5678；电表号 12345678901234", sr.Description)
	assert.Equal(t, "科园一路3号 (136****5678)", sr.Address)
}

func TestMaskPhones(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"no digits", "no digits"},
		{"13812345678", "138****5678"},
		{"13812345678 13912345678", "138****5678 139****5678"},
		{"138-1234-5678", "138****5678"},
		{"8613812345678", "138****5678"},
		{"+8613812345678.", "138****5678."},
		{"1 13812345678", "1 138****5678"},
		{"12345678901", "12345678901"},     // second digit 2: not a mobile number
		{"138123456789", "138123456789"},   // 12 digits
		{"023-6386-1234", "023-6386-1234"}, // a landline
		{"+", "+"},
		{"+1", "+1"},
		{"a+", "a+"},
		{"138 1234 5678-", "138****5678-"},
	}
	for _, tt := range tests {
		inc := sampleIncident(t)
		inc.Description = tt.in
		assert.Equal(t, tt.want, open311.FromIncident(inc, nil, open311.ExportOptions{}).Description, tt.in)
	}
}

// A case exported, encoded and read back by another govkit city keeps its
// status, category and place.
func TestExportRoundTrip(t *testing.T) {
	c := catalogue(t)
	base := sampleIncident(t)
	type lc struct {
		s incident.Status
		r incident.Resolution
	}
	cases := []lc{
		{incident.Reported, 0}, {incident.Triage, 0}, {incident.Registered, 0}, {incident.Dispatched, 0},
		{incident.InProgress, 0}, {incident.Closed, incident.Fixed}, {incident.Closed, incident.NoFurtherAction},
		{incident.Closed, incident.NotResponsible}, {incident.Closed, incident.Duplicate},
		{incident.Closed, incident.Referred},
	}
	var out []open311.ServiceRequest
	for i, k := range cases {
		inc := base
		inc.Status, inc.Resolution = k.s, k.r
		inc.Location.Point = geo.Point{Lat: 29.5 + float64(i)/1000, Lon: 106.5 - float64(i)/1000}
		out = append(out, open311.FromIncident(inc, c, open311.ExportOptions{ExtendedStatuses: true}))
	}
	body, err := json.Marshal(out)
	require.NoError(t, err)
	back, err := open311.ParseServiceRequests(body)
	require.NoError(t, err)
	require.Equal(t, out, back)
	for i, sr := range back {
		s, r, err := sr.Lifecycle()
		require.NoError(t, err)
		assert.Equal(t, cases[i], lc{s, r})
		assert.Equal(t, "construction-waste", sr.ServiceCode)
		p, ok := sr.Point()
		require.True(t, ok)
		assert.Equal(t, geo.Point{Lat: 29.5 + float64(i)/1000, Lon: 106.5 - float64(i)/1000}, p)
	}

	// The plain statuses keep only open or closed.
	plain, err := json.Marshal([]open311.ServiceRequest{open311.FromIncident(base, c, open311.ExportOptions{})})
	require.NoError(t, err)
	back, err = open311.ParseServiceRequests(plain)
	require.NoError(t, err)
	s, r, err := back[0].Lifecycle()
	require.NoError(t, err)
	assert.Equal(t, lc{incident.Closed, 0}, lc{s, r})
}
