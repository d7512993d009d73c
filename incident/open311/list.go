package open311

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// listFields are the members of a service request in a GET requests
// response, with the JSON types each accepts. IDs and codes may be numbers,
// as in the spec's own examples.
var listFields = []struct {
	name      string
	kind      kind
	max       int
	multiline bool
}{
	{"service_request_id", idKind, maxID, false},
	{"status", textKind, maxCode, false},
	{"status_notes", textKind, maxLongText, true},
	{"service_name", idKind, maxShortText, false},
	{"service_code", idKind, maxID, false},
	{"description", textKind, maxLongText, true},
	{"agency_responsible", idKind, maxShortText, false},
	{"service_notice", textKind, maxLongText, true},
	{"requested_datetime", textKind, maxCode, false},
	{"updated_datetime", textKind, maxCode, false},
	{"expected_datetime", textKind, maxCode, false},
	{"address", textKind, maxShortText, false},
	{"address_id", idKind, maxID, false},
	{"zipcode", idKind, maxID, false},
	{"lat", numberKind, maxCode, false},
	{"long", numberKind, maxCode, false},
	{"media_url", textKind, maxURL, false},
}

// ParseServiceRequests reads the JSON body of a GET requests response from
// another system, to mirror its cases: an array of service requests, or an
// object holding one as "service_requests". Members it does not know are
// ignored.
//
// Each request must have a service_request_id, a service_code and a status
// that ParseExtendedStatus knows (open, closed or an extended status; use
// ServiceRequest.Lifecycle for govkit's terms). lat and long, if given, are
// numbers (or strings holding numbers) within range and come together;
// datetimes are RFC 3339 with a zone; media_url is an absolute http or
// https URL; every field has a length bound and no control characters
// (tab and line breaks are allowed in the description and notes).
//
// Every error is a *FieldError matching ErrInvalidRequest, whose Field
// says which request ("[2].lat"); an unknown status also matches
// ErrUnknownStatus. The whole list is refused for one bad request, so that
// a mirror never applies half a page.
func ParseServiceRequests(data []byte) ([]ServiceRequest, error) {
	if len(data) > MaxListBytes {
		return nil, &FieldError{Field: "body", Reason: "larger than " + strconv.Itoa(MaxListBytes) + " bytes"}
	}
	if !json.Valid(data) {
		return nil, &FieldError{Field: "body", Reason: "not valid JSON"}
	}
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '{' {
		m, _ := decodeObject(data)
		data = bytes.TrimSpace(m["service_requests"])
	}
	var items []json.RawMessage
	if len(data) == 0 || data[0] != '[' || json.Unmarshal(data, &items) != nil {
		return nil, &FieldError{Field: "body", Reason: "must be an array of service requests"}
	}
	out := make([]ServiceRequest, 0, len(items))
	for i, raw := range items {
		sr, err := parseListItem("["+strconv.Itoa(i)+"].", raw)
		if err != nil {
			return nil, err
		}
		out = append(out, sr)
	}
	return out, nil
}

func parseListItem(prefix string, raw json.RawMessage) (ServiceRequest, error) {
	m, ok := decodeObject(raw)
	if !ok {
		return ServiceRequest{}, &FieldError{Field: strings.TrimSuffix(prefix, "."), Reason: "must be an object"}
	}
	f := make(map[string]string, len(listFields))
	for _, lf := range listFields {
		field := prefix + lf.name
		var s string
		if raw, present := m[lf.name]; present {
			var ok bool
			if s, ok = scalar(raw, lf.kind); !ok {
				return ServiceRequest{}, &FieldError{Field: field, Reason: typeReason[lf.kind]}
			}
		}
		if lf.name == "media_url" {
			s = strings.TrimSpace(s)
		}
		if err := text(field, s, lf.max, lf.multiline); err != nil {
			return ServiceRequest{}, err
		}
		f[lf.name] = s
	}
	for _, required := range []string{"service_request_id", "service_code", "status"} {
		if strings.TrimSpace(f[required]) == "" {
			return ServiceRequest{}, &FieldError{Field: prefix + required, Reason: "required"}
		}
	}
	if _, _, err := ParseExtendedStatus(f["status"]); err != nil {
		return ServiceRequest{}, &FieldError{Field: prefix + "status", Reason: "unknown", Err: err}
	}
	for _, name := range []string{"requested_datetime", "updated_datetime", "expected_datetime"} {
		if f[name] != "" {
			if err := datetime(prefix+name, f[name]); err != nil {
				return ServiceRequest{}, err
			}
		}
	}
	if f["media_url"] != "" {
		if err := mediaURL(prefix+"media_url", f["media_url"]); err != nil {
			return ServiceRequest{}, err
		}
	}
	sr := ServiceRequest{
		ServiceRequestID: f["service_request_id"], Status: f["status"], StatusNotes: f["status_notes"],
		ServiceName: f["service_name"], ServiceCode: f["service_code"], Description: f["description"],
		AgencyResponsible: f["agency_responsible"], ServiceNotice: f["service_notice"],
		RequestedDatetime: f["requested_datetime"], UpdatedDatetime: f["updated_datetime"],
		ExpectedDatetime: f["expected_datetime"], Address: f["address"], AddressID: f["address_id"],
		Zipcode: f["zipcode"], MediaURL: f["media_url"],
	}
	p, ok, err := point(prefix, f["lat"], f["long"])
	if err != nil {
		return ServiceRequest{}, err
	}
	if ok {
		sr.Lat, sr.Long = &p.Lat, &p.Lon
	}
	return sr, nil
}
