package open311_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/google/uuid"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/incident"
	"github.com/govkit/govkit/incident/open311"
)

// The body of GET services.json for a catalogue of one category.
func Example() {
	cat, err := incident.NewCatalogue([]incident.Category{{
		Code: "construction-waste", Name: "Dumped construction waste", Kind: incident.Event, Major: "01",
		Attributes: []incident.Attribute{{Code: "volume", Description: "Volume in m³", Type: incident.Number, Required: true}},
	}})
	if err != nil {
		fmt.Println(err)
		return
	}
	body, err := open311.MarshalServices(cat)
	if err != nil {
		fmt.Println(err)
		return
	}
	var out bytes.Buffer
	_ = json.Indent(&out, body, "", "  ")
	fmt.Println(out.String())
	// Output:
	// [
	//   {
	//     "service_code": "construction-waste",
	//     "service_name": "Dumped construction waste",
	//     "description": "Dumped construction waste",
	//     "metadata": true,
	//     "type": "realtime",
	//     "keywords": "event",
	//     "group": "01"
	//   }
	// ]
}

// The questions a category asks, for GET services/construction-waste.json.
func ExampleServiceDefinition() {
	cat, _ := incident.NewCatalogue([]incident.Category{{
		Code: "construction-waste", Name: "Dumped construction waste", Kind: incident.Event,
		Attributes: []incident.Attribute{{
			Code: "kind", Description: "What was dumped", Type: incident.SingleValueList, Required: true,
			Values: []incident.AttributeValue{{Key: "brick", Name: "Bricks"}, {Key: "soil", Name: "Soil"}},
		}},
	}})
	d, err := open311.ServiceDefinition(cat, "construction-waste")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, a := range d.Attributes {
		fmt.Println(a.Order, a.Code, a.Datatype, a.Required, len(a.Values), "values")
	}
	// Output:
	// 1 kind singlevaluelist true 2 values
}

// A citizen app's POST body read into a Report for Service.Report. The
// reporter's phone number is personal data and prints masked.
func ExampleParseServiceRequest() {
	body := []byte(`{
		"api_key": "xyz",
		"service_code": "construction-waste",
		"lat": 29.528, "long": 106.4896,
		"description": "rubble on the pavement",
		"phone": "13812345678",
		"attribute": {"volume": 2.5}
	}`)
	r, err := open311.ParseServiceRequest(body)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Category, r.Point, r.Channel)
	fmt.Println(r.Attributes["volume"], r.Phone)

	// A request located by address alone cannot be taken: govkit does not
	// geocode.
	_, err = open311.ParseServiceRequest([]byte(`{"service_code": "construction-waste", "address_string": "科园一路3号"}`))
	fmt.Println(err)
	// Output:
	// construction-waste 29.528000,106.489600 citizen-app
	// [2.5] 138****5678
	// open311: invalid request: lat: lat and long are required: govkit does not geocode address_string or address_id
}

// The spec's form-encoded POST, with a multivaluelist attribute.
func ExampleParseServiceRequestForm() {
	form, _ := url.ParseQuery("service_code=construction-waste&lat=29.528&long=106.4896" +
		"&attribute[kinds][]=brick&attribute[kinds][]=soil&first_name=John&last_name=Smith")
	r, err := open311.ParseServiceRequestForm(form)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Category, r.Attributes["kinds"], r.Name)
	// Output:
	// construction-waste [brick soil] J*********
}

// A closed case as GET requests.json writes it, with the extended status.
func ExampleFromIncident() {
	cst := time.FixedZone("CST", 8*3600)
	reported := time.Date(2026, 3, 2, 10, 0, 0, 0, cst)
	inc := incident.Incident{
		ID:       uuid.MustParse("019cacb4-4c00-7000-8000-000000000001"),
		Category: "construction-waste", Description: "rubble on the pavement",
		Location: incident.Location{Point: geo.Point{Lat: 29.528, Lon: 106.4896}},
		Status:   incident.Closed, Resolution: incident.Fixed,
		Times: incident.Times{Reported: reported, Closed: reported.Add(4 * time.Hour)},
	}
	sr := open311.FromIncident(inc, nil, open311.ExportOptions{ExtendedStatuses: true})
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(sr)
	// Output:
	// {
	//   "service_request_id": "019cacb4-4c00-7000-8000-000000000001",
	//   "status": "fixed",
	//   "service_name": "construction-waste",
	//   "service_code": "construction-waste",
	//   "description": "rubble on the pavement",
	//   "requested_datetime": "2026-03-02T10:00:00+08:00",
	//   "updated_datetime": "2026-03-02T14:00:00+08:00",
	//   "address": "",
	//   "lat": 29.528,
	//   "long": 106.4896
	// }
}

// Statuses both ways: govkit's lifecycle has more steps than Open311, so
// some are merged.
func ExampleExtendedStatus() {
	fmt.Println(open311.ExtendedStatus(incident.Dispatched, 0))
	fmt.Println(open311.ExtendedStatus(incident.Verifying, 0))
	fmt.Println(open311.ExtendedStatus(incident.Closed, incident.NotResponsible))

	s, r, _ := open311.ParseExtendedStatus("not_councils_responsibility")
	fmt.Println(s, r)
	_, _, err := open311.ParseExtendedStatus("wontfix")
	fmt.Println(err)
	// Output:
	// ACTION_SCHEDULED
	// IN_PROGRESS
	// NOT_COUNCILS_RESPONSIBILITY
	// closed not-responsible
	// open311: unknown status "wontfix" (want open, closed or an extended status such as IN_PROGRESS or FIXED)
}
