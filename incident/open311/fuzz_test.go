package open311_test

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/govkit/govkit/incident"
	"github.com/govkit/govkit/incident/open311"
)

// encode writes r back as a POST body. The client reference fields, which
// a Report keeps only hashed, are copied from the original body.
func encode(t *testing.T, r incident.Report, original map[string]json.RawMessage) []byte {
	t.Helper()
	m := map[string]any{
		"service_code": r.Category,
		"lat":          strconv.FormatFloat(r.Point.Lat, 'g', -1, 64),
		"long":         strconv.FormatFloat(r.Point.Lon, 'g', -1, 64),
	}
	for k, v := range map[string]string{"address_string": r.Address, "description": r.Description} {
		if v != "" {
			m[k] = v
		}
	}
	if !r.Name.IsZero() {
		m["first_name"] = reveal(t, r.Name)
	}
	if !r.Phone.IsZero() {
		m["phone"] = reveal(t, r.Phone)
	}
	for _, k := range []string{"device_id", "account_id", "request_id", "token"} {
		if v, ok := original[k]; ok {
			m[k] = v
		}
	}
	if r.ExternalID != "" {
		m["service_request_id"] = r.ExternalID
	}
	if len(r.Evidence) > 0 {
		m["media_url"], m["media_sha256"] = r.Evidence[0].URI, r.Evidence[0].SHA256
	}
	if r.Attributes != nil {
		m["attribute"] = r.Attributes
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func FuzzParseServiceRequest(f *testing.F) {
	f.Add([]byte(fullBody))
	f.Add([]byte(`{"service_code": "x", "lat": "29.5", "long": 106.5}`))
	f.Add([]byte(`{"service_code": "x", "lat": -0, "long": 1e2, "first_name": "Nana", "last_name": "欧阳", "phone": 13812345678}`))
	f.Add([]byte(`{"service_code": "x", "lat": 29.5, "long": 106.5, "token": 7, "attribute[k][]": [1, true, "a"], "attribute": {"k": "b"}}`))
	f.Add([]byte(`{"service_code": "x", "address_string": "a"}`))
	f.Add([]byte(`{"service_code": "x", "lat": "1e400", "long": "NaN"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := open311.ParseServiceRequest(data)
		if err != nil {
			if r.Category != "" || r.Attributes != nil {
				t.Fatalf("a refused request returned a report: %+v", r)
			}
			return
		}
		if r.Category == "" {
			t.Fatal("accepted without a category")
		}
		if err := r.Point.Validate(); err != nil {
			t.Fatalf("accepted an invalid point: %v", err)
		}
		if r.Channel != incident.CitizenApp {
			t.Fatalf("channel %v", r.Channel)
		}
		if len(r.Key) > 256 || len(r.Description) > 4000 || len(r.Address) > 512 {
			t.Fatal("a field over incident's bounds")
		}
		if (r.ExternalSystem == "") != (r.ExternalID == "") {
			t.Fatal("external system and ID apart")
		}
		var original map[string]json.RawMessage
		if err := json.Unmarshal(data, &original); err != nil {
			t.Fatalf("accepted a body that is not an object: %v", err)
		}
		again, err := open311.ParseServiceRequest(encode(t, r, original))
		if err != nil {
			t.Fatalf("re-encoded report refused: %v", err)
		}
		if !r.Name.Equal(again.Name) || !r.Phone.Equal(again.Phone) {
			t.Fatal("name or phone changed")
		}
		a := r
		a.Name, a.Phone = again.Name, again.Phone
		if !equalReports(a, again) {
			t.Fatalf("report changed on re-encoding:\n%+v\n%+v", r, again)
		}
	})
}

func equalReports(a, b incident.Report) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb) && a.Point == b.Point
}

// The form parser agrees with the JSON one: a form it accepts, written as
// a JSON object with the same members, gives the same report.
func FuzzParseServiceRequestForm(f *testing.F) {
	f.Add("service_code=x&lat=29.5&long=106.5&attribute[a][]=1&attribute[a]=2&phone=13812345678")
	f.Add("service_code=001&lat=37.76524078&long=-122.4212043&address_string=1234+5th+street&attribute[WHISPAWN]=123456")
	f.Add("service_code=x&lat=1&long=2&first_name=%E4%B8%89&last_name=%E5%BC%A0&request_id=r&device_id=d")
	f.Add("service_code=x&address_string=a")
	f.Fuzz(func(t *testing.T, query string) {
		v, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		r, err := open311.ParseServiceRequestForm(v)
		if err != nil {
			return
		}
		if r.Category == "" || r.Point.Validate() != nil {
			t.Fatalf("accepted %+v", r)
		}
		m := map[string]any{}
		for k, vs := range v {
			switch {
			case strings.HasPrefix(k, "attribute["):
				m[k] = vs
			case len(vs) == 1:
				m[k] = vs[0]
			}
		}
		body, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		fromJSON, err := open311.ParseServiceRequest(body)
		if err != nil {
			t.Fatalf("the JSON form of an accepted form is refused: %v", err)
		}
		if !r.Name.Equal(fromJSON.Name) || !r.Phone.Equal(fromJSON.Phone) {
			t.Fatal("name or phone differ")
		}
		a := r
		a.Name, a.Phone = fromJSON.Name, fromJSON.Phone
		if !equalReports(a, fromJSON) {
			t.Fatalf("form and JSON differ:\n%+v\n%+v", r, fromJSON)
		}
	})
}

func FuzzParseServiceRequests(f *testing.F) {
	f.Add([]byte(specList))
	f.Add([]byte(`{"service_requests": [{"service_request_id": 1, "status": "FIXED", "service_code": 2, "lat": "1", "long": "2"}]}`))
	f.Add([]byte(`[{"service_request_id": "1", "status": "open", "service_code": "x", "requested_datetime": "2010-04-14T06:37:38Z"}]`))
	f.Add([]byte(`[null]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		list, err := open311.ParseServiceRequests(data)
		if err != nil {
			if list != nil {
				t.Fatal("a refused list returned requests")
			}
			return
		}
		for _, sr := range list {
			if sr.ServiceRequestID == "" || sr.ServiceCode == "" {
				t.Fatalf("accepted without an ID or code: %+v", sr)
			}
			if _, _, err := sr.Lifecycle(); err != nil {
				t.Fatalf("accepted an unknown status: %v", err)
			}
			if (sr.Lat == nil) != (sr.Long == nil) {
				t.Fatal("lat without long")
			}
			if sr.Lat != nil {
				if _, ok := sr.Point(); !ok {
					t.Fatal("accepted an invalid point")
				}
			}
		}
		// What was accepted survives a round trip unchanged.
		body, err := json.Marshal(list)
		if err != nil {
			t.Fatal(err)
		}
		again, err := open311.ParseServiceRequests(body)
		if err != nil {
			t.Fatalf("re-encoded list refused: %v", err)
		}
		a, _ := json.Marshal(again)
		if !bytes.Equal(a, body) {
			t.Fatalf("list changed on re-encoding:\n%s\n%s", body, a)
		}
	})
}
