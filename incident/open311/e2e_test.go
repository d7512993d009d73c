package open311_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/incident"
	"github.com/govkit/govkit/incident/open311"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A citizen's app posts a request; the service opens a case from it; a
// retry opens none; the case goes out on GET requests without the
// citizen's details.
func TestEndToEnd(t *testing.T) {
	svc, clk := service(t)
	body := []byte(`{
		"api_key": "k", "service_code": "construction-waste", "lat": 29.528, "long": 106.4896,
		"address_string": "科园一路3号", "description": "rubble on the pavement",
		"first_name": "三", "last_name": "张", "phone": "138 1234 5678",
		"device_id": "phone-1", "account_id": "acct-9", "request_id": "2026-03-02-0001",
		"media_url": "https://media.example.cn/a.jpg", "media_sha256": "` + strings.Repeat("ab", 32) + `",
		"attribute": {"volume": 2.5, "kinds": ["brick", "soil"]}
	}`)
	report, err := open311.ParseServiceRequest(body)
	require.NoError(t, err)

	rc, err := svc.Report(citizen("citizen-a"), report)
	require.NoError(t, err)
	inc := rc.Incident
	assert.False(t, rc.Replayed)
	assert.Equal(t, incident.Reported, inc.Status)
	assert.Equal(t, incident.CitizenApp, inc.Channel)
	assert.Equal(t, "construction-waste", inc.Category)
	assert.Equal(t, map[string][]string{"volume": {"2.5"}, "kinds": {"brick", "soil"}}, inc.Attributes)
	assert.Equal(t, geo.Point{Lat: 29.528, Lon: 106.4896}, inc.Location.Point)
	assert.Equal(t, "科园一路3号", inc.Location.Address)
	assert.NotEmpty(t, inc.Location.Grid())
	assert.Equal(t, "rubble on the pavement", inc.Description)
	assert.Equal(t, []string{report.Key}, inc.Keys)
	assert.Equal(t, map[string]string{"open311": "2026-03-02-0001"}, inc.ExternalIDs)
	require.Len(t, inc.Evidence, 1)
	assert.Equal(t, "https://media.example.cn/a.jpg", inc.Evidence[0].URI)
	require.Len(t, inc.Reporters, 1)
	rep := inc.Reporters[0]
	assert.Equal(t, "citizen-a", rep.ActorID)
	assert.Equal(t, "张三", reveal(t, rep.Name))
	assert.Equal(t, "13812345678", reveal(t, rep.Phone))

	// The app retries the same POST, form-encoded this time.
	form := url.Values{
		"service_code": {"construction-waste"}, "lat": {"29.528"}, "long": {"106.4896"},
		"device_id": {"phone-1"}, "account_id": {"acct-9"}, "request_id": {"2026-03-02-0001"},
		"attribute[volume]": {"2.5"}, "attribute[kinds][]": {"brick", "soil"},
	}
	again, err := open311.ParseServiceRequestForm(form)
	require.NoError(t, err)
	rc2, err := svc.Report(citizen("citizen-a"), again)
	require.NoError(t, err)
	assert.True(t, rc2.Replayed)
	assert.Equal(t, inc.ID, rc2.Incident.ID)

	// A request in a category the catalogue lacks, or missing a required
	// attribute, is refused by the service, not by the parser.
	unknown, err := open311.ParseServiceRequest([]byte(`{"service_code": "potholes", "lat": 29.528, "long": 106.4896}`))
	require.NoError(t, err)
	_, err = svc.Report(citizen("citizen-a"), unknown)
	assert.ErrorIs(t, err, incident.ErrUnknownCategory)
	missing, err := open311.ParseServiceRequest([]byte(`{"service_code": "construction-waste", "lat": 29.528, "long": 106.4896}`))
	require.NoError(t, err)
	_, err = svc.Report(citizen("citizen-a"), missing)
	assert.ErrorIs(t, err, incident.ErrInvalidAttribute)

	// GET requests.
	clk.Advance(time.Hour)
	inc, err = svc.Register(citizen("operator"), inc.ID, "")
	require.NoError(t, err)
	sr := open311.FromIncident(inc, catalogue(t), open311.ExportOptions{ExtendedStatuses: true, Location: cst})
	assert.Equal(t, inc.ID.String(), sr.ServiceRequestID)
	assert.Equal(t, "planned", sr.Status)
	assert.Equal(t, "Dumped construction waste", sr.ServiceName)
	assert.Equal(t, "2026-03-02T10:00:00+08:00", sr.RequestedDatetime)
	assert.Equal(t, "2026-03-02T11:00:00+08:00", sr.UpdatedDatetime)
	assert.Equal(t, "https://media.example.cn/a.jpg", sr.MediaURL)
	out, err := json.Marshal([]open311.ServiceRequest{sr})
	require.NoError(t, err)
	for _, s := range []string{"13812345678", "138****5678", "5678", "张三", "张*", "citizen-a", "phone-1", "acct-9"} {
		assert.NotContains(t, string(out), s)
	}
}
