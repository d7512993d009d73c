package open311_test

import (
	"strings"
	"testing"

	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/incident"
	"github.com/govkit/govkit/incident/open311"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The spec's example response (with service_code 006 made valid JSON),
// FixMyStreet-style string coordinates and extended statuses, and extras.
const specList = `[
  {"service_request_id": 638344, "status": "closed", "status_notes": "Duplicate request.",
   "service_name": "Sidewalk and Curb Issues", "service_code": "006", "description": null,
   "agency_responsible": null, "service_notice": null,
   "requested_datetime": "2010-04-14T06:37:38-08:00", "updated_datetime": "2010-04-14T06:37:38-08:00",
   "expected_datetime": "2010-04-15T06:37:38-08:00", "address": "8TH AVE and JUDAH ST",
   "address_id": 545483, "zipcode": 94122, "lat": 37.762221815, "long": -122.4651145,
   "media_url": "http://city.gov.s3.amazonaws.com/requests/media/638344.jpg "},
  {"service_request_id": "3027031", "status": "not_councils_responsibility", "service_code": 6,
   "lat": "51.5", "long": "-0.12", "interface_used": "Web interface", "comment_count": 2},
  {"service_request_id": "x-1", "status": "IN_PROGRESS", "service_code": "potholes", "address": "High St"}
]`

func TestParseServiceRequests(t *testing.T) {
	got, err := open311.ParseServiceRequests([]byte(specList))
	require.NoError(t, err)
	require.Len(t, got, 3)

	first := got[0]
	assert.Equal(t, "638344", first.ServiceRequestID)
	assert.Equal(t, "006", first.ServiceCode)
	assert.Equal(t, "Duplicate request.", first.StatusNotes)
	assert.Empty(t, first.Description)
	assert.Equal(t, "545483", first.AddressID)
	assert.Equal(t, "94122", first.Zipcode)
	assert.Equal(t, "2010-04-15T06:37:38-08:00", first.ExpectedDatetime)
	assert.Equal(t, "http://city.gov.s3.amazonaws.com/requests/media/638344.jpg", first.MediaURL)
	p, ok := first.Point()
	require.True(t, ok)
	assert.Equal(t, geo.Point{Lat: 37.762221815, Lon: -122.4651145}, p)

	s, r, err := got[1].Lifecycle()
	require.NoError(t, err)
	assert.Equal(t, incident.Closed, s)
	assert.Equal(t, incident.NotResponsible, r)
	assert.Equal(t, "6", got[1].ServiceCode)
	p, ok = got[1].Point()
	require.True(t, ok)
	assert.Equal(t, geo.Point{Lat: 51.5, Lon: -0.12}, p)

	s, _, err = got[2].Lifecycle()
	require.NoError(t, err)
	assert.Equal(t, incident.InProgress, s)
	_, ok = got[2].Point()
	assert.False(t, ok, "an address-only request has no point")
	assert.Nil(t, got[2].Lat)

	wrapped, err := open311.ParseServiceRequests([]byte(`{"service_requests": ` + specList + `}`))
	require.NoError(t, err)
	assert.Equal(t, got, wrapped)

	empty, err := open311.ParseServiceRequests([]byte(` [] `))
	require.NoError(t, err)
	assert.NotNil(t, empty)
	assert.Empty(t, empty)
}

func TestParseServiceRequestsErrors(t *testing.T) {
	item := func(extra string) string {
		return `[{"service_request_id": "1", "status": "open", "service_code": "x"` + extra + `}]`
	}
	tests := []struct {
		name, body, field, reason string
	}{
		{"oversize", `["` + strings.Repeat("x", open311.MaxListBytes) + `"]`, "body", "larger"},
		{"not JSON", `[{]`, "body", "not valid JSON"},
		{"number", `42`, "body", "array"},
		{"object without list", `{"requests": []}`, "body", "array"},
		{"object with wrong list", `{"service_requests": {}}`, "body", "array"},
		{"element not object", `[{"service_request_id": "1", "status": "open", "service_code": "x"}, 7]`, "[1]", "object"},
		{"element null", `[null]`, "[0]", "object"},
		{"no id", `[{"status": "open", "service_code": "x"}]`, "[0].service_request_id", "required"},
		{"no status", `[{"service_request_id": "1", "service_code": "x"}]`, "[0].status", "required"},
		{"no service_code", `[{"service_request_id": "1", "status": "open"}]`, "[0].service_code", "required"},
		{"status number", `[{"service_request_id": "1", "status": 1, "service_code": "x"}]`, "[0].status", "must be a string"},
		{"id bool", `[{"service_request_id": true, "status": "open", "service_code": "x"}]`, "[0].service_request_id", "string or a number"},
		{"lat only", item(`, "lat": 29.5`), "[0].long", "required with lat"},
		{"lat out of range", item(`, "lat": -91, "long": 0`), "[0].lat", "outside"},
		{"long text", item(`, "lat": 1, "long": "west"`), "[0].long", "not a number"},
		{"lat object", item(`, "lat": {}, "long": 1`), "[0].lat", "must be a number"},
		{"bad requested", item(`, "requested_datetime": "2010-04-14 06:37"`), "[0].requested_datetime", "RFC 3339"},
		{"no zone", item(`, "updated_datetime": "2010-04-14T06:37:38"`), "[0].updated_datetime", "RFC 3339"},
		{"bad expected", item(`, "expected_datetime": "tomorrow"`), "[0].expected_datetime", "RFC 3339"},
		{"media script", item(`, "media_url": "javascript:alert(1)"`), "[0].media_url", "http"},
		{"media number", item(`, "media_url": 5`), "[0].media_url", "must be a string"},
		{"agency object", item(`, "agency_responsible": {"recipient": ["A"]}`), "[0].agency_responsible", "string or a number"},
		{"address control", item(`, "address": "a\u001bb"`), "[0].address", "control"},
		{"description too long", item(`, "description": "` + strings.Repeat("x", 16001) + `"`), "[0].description", "longer"},
		{"id too long", `[{"service_request_id": "` + strings.Repeat("1", 257) + `", "status": "open", "service_code": "x"}]`, "[0].service_request_id", "longer"},
		{"second bad", `[{"service_request_id": "1", "status": "open", "service_code": "x"}, {"service_request_id": "2", "status": "open"}]`, "[1].service_code", "required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := open311.ParseServiceRequests([]byte(tt.body))
			assert.Nil(t, got)
			assertFieldError(t, err, tt.field, tt.reason)
		})
	}

	_, err := open311.ParseServiceRequests([]byte(item(`, "status": "wontfix"`)))
	assertFieldError(t, err, "[0].status", "unknown")
	assert.ErrorIs(t, err, open311.ErrUnknownStatus)
}
