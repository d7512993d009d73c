package open311

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/incident"
	"github.com/govkit/govkit/pii"
)

// ExternalSystem is the Report.ExternalSystem of a request that names
// itself (service_request_id, request_id or token).
const ExternalSystem = "open311"

// postFields are the POST service request fields ParseServiceRequest
// reads, with the JSON types each accepts. Others, such as api_key and
// jurisdiction_id, are ignored.
var postFields = map[string]kind{
	"service_code": textKind, "lat": numberKind, "long": numberKind,
	"address_string": textKind, "address_id": idKind, "description": textKind,
	"email": textKind, "first_name": textKind, "last_name": textKind, "phone": idKind,
	"device_id": idKind, "account_id": idKind, "media_url": textKind,
	// Not in GeoReport v2; see ParseServiceRequest.
	"service_request_id": idKind, "request_id": idKind, "token": idKind, "media_sha256": textKind,
}

// ParseServiceRequest reads the JSON body of a POST service request into
// an incident.Report for Service.Report. The body is an object with the
// spec's form fields as members; the attributes are an object,
//
//	{"service_code": "construction-waste", "lat": 29.528, "long": 106.4896,
//	 "attribute": {"volume": "2.5", "kinds": ["brick", "soil"]}}
//
// or form-style members ("attribute[volume]": "2.5"). Members it does not
// know are ignored, as Open311 clients send extras; a known member of the
// wrong type is an error. Strings, numbers and booleans are accepted as
// attribute values and kept as text.
//
// The Report has Channel CitizenApp, CRS WGS-84, Category service_code,
// Point lat/long, Address address_string, and the attributes, description,
// name (first_name and last_name; see below) and phone number. Optional
// extensions:
//
//   - request_id (or else token): a client's reference for the request.
//     Key becomes "open311:" and the SHA-256 of device_id, account_id and
//     the reference, so that a retried POST opens one case and the stored
//     key does not carry the device or account IDs. Without a reference
//     there is no key: a device's separate reports must not merge.
//   - service_request_id (or else the reference) becomes ExternalID, with
//     ExternalSystem "open311", for requests relayed from another system.
//   - media_sha256, 64 hex digits, makes media_url Evidence. govkit
//     references evidence by content hash; without one, media_url is
//     checked and dropped.
//
// What is lost: address_id (govkit has no address register), email (no
// personal-data kind holds it; it is checked and dropped) and, without a
// hash, media_url. A name is first_name and last_name joined by a space,
// except that two all-Han parts are joined family name first with no
// space (last_name 欧阳, first_name 娜娜 → 欧阳娜娜).
//
// Anonymous is left false: whether the case records the authenticated
// actor (the app's user, or the gateway) is the caller's choice.
//
// Every error is a *FieldError matching ErrInvalidRequest: a body over
// MaxBodyBytes or not a JSON object; service_code missing or not a code;
// no lat and long (address_string and address_id alone are refused, as
// govkit does not geocode); lat or long not a number or out of range; a
// field too long; a phone number that is not a mainland mobile number; a
// name pii.NewName refuses. Errors never repeat the phone number, name or
// email. The attributes are not checked against the catalogue here:
// Service.Report does that.
func ParseServiceRequest(data []byte) (incident.Report, error) {
	if len(data) > MaxBodyBytes {
		return incident.Report{}, &FieldError{Field: "body", Reason: "larger than " + strconv.Itoa(MaxBodyBytes) + " bytes"}
	}
	if !json.Valid(data) {
		return incident.Report{}, &FieldError{Field: "body", Reason: "not valid JSON"}
	}
	m, ok := decodeObject(data)
	if !ok {
		return incident.Report{}, &FieldError{Field: "body", Reason: "must be a JSON object"}
	}
	fields := make(map[string]string, len(postFields))
	for name, k := range postFields {
		raw, present := m[name]
		if !present {
			continue
		}
		s, ok := scalar(raw, k)
		if !ok {
			return incident.Report{}, &FieldError{Field: name, Reason: typeReason[k]}
		}
		fields[name] = s
	}
	attrs := attributes{}
	if raw, present := m["attribute"]; present {
		raw = bytes.TrimSpace(raw)
		if !bytes.Equal(raw, []byte("null")) {
			obj, ok := decodeObject(raw)
			if !ok {
				return incident.Report{}, &FieldError{Field: "attribute", Reason: "must be an object of attribute codes and values"}
			}
			for _, code := range sortedKeys(obj) {
				if err := attrs.addJSON(code, obj[code]); err != nil {
					return incident.Report{}, err
				}
			}
		}
	}
	for _, key := range sortedKeys(m) {
		if !strings.HasPrefix(key, "attribute[") {
			continue
		}
		code, err := attributeKey(key)
		if err != nil {
			return incident.Report{}, err
		}
		if err := attrs.addJSON(code, m[key]); err != nil {
			return incident.Report{}, err
		}
	}
	return build(fields, attrs)
}

// ParseServiceRequestForm reads an application/x-www-form-urlencoded POST
// service request, as the spec sends it (parse the body with
// url.ParseQuery after bounding it with MaxBodyBytes):
//
//	service_code=construction-waste&lat=29.528&long=106.4896&attribute[volume]=2.5
//
// A multivaluelist attribute repeats its key, attribute[code]=v1&
// attribute[code]=v2, or uses the spec's attribute[code][]=v1 form. Every
// other field may be given once. It builds the Report and checks the
// fields as ParseServiceRequest does.
func ParseServiceRequestForm(values url.Values) (incident.Report, error) {
	size := 0
	for k, vs := range values {
		for _, v := range vs {
			size += len(k) + len(v) + 2
		}
	}
	if size > MaxBodyBytes {
		return incident.Report{}, &FieldError{Field: "body", Reason: "larger than " + strconv.Itoa(MaxBodyBytes) + " bytes"}
	}
	fields := make(map[string]string, len(postFields))
	for name := range postFields {
		vs := values[name]
		switch {
		case len(vs) > 1:
			return incident.Report{}, &FieldError{Field: name, Reason: "given more than once"}
		case len(vs) == 1:
			fields[name] = vs[0]
		}
	}
	if _, present := values["attribute"]; present {
		return incident.Report{}, &FieldError{Field: "attribute", Reason: "give each attribute as attribute[code]=value"}
	}
	attrs := attributes{}
	for _, key := range sortedKeys(values) {
		if !strings.HasPrefix(key, "attribute[") {
			continue
		}
		code, err := attributeKey(key)
		if err != nil {
			return incident.Report{}, err
		}
		for _, v := range values[key] {
			if err := attrs.add(code, v); err != nil {
				return incident.Report{}, err
			}
		}
	}
	return build(fields, attrs)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// attributeKey returns the code of a form-style key, attribute[code] or
// attribute[code][].
func attributeKey(key string) (string, error) {
	rest := strings.TrimPrefix(key, "attribute[")
	rest = strings.TrimSuffix(rest, "[]")
	code, ok := strings.CutSuffix(rest, "]")
	if !ok || !validCode(code) {
		return "", &FieldError{Field: "attribute", Reason: "a key is attribute[code] or attribute[code][], and a code " + codeReason}
	}
	return code, nil
}

// attributes gathers attribute values by code, in the order given.
type attributes map[string][]string

// addJSON adds a JSON value or array of values.
func (a attributes) addJSON(code string, raw json.RawMessage) error {
	if !validCode(code) {
		return &FieldError{Field: "attribute", Reason: "a code " + codeReason}
	}
	field := "attribute[" + code + "]"
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '[' {
		var list []json.RawMessage
		if err := json.Unmarshal(raw, &list); err != nil {
			return &FieldError{Field: field, Reason: typeReason[valueKind]}
		}
		for _, item := range list {
			s, ok := scalar(item, valueKind)
			if !ok || bytes.Equal(bytes.TrimSpace(item), []byte("null")) {
				return &FieldError{Field: field, Reason: "an array holds strings, numbers or booleans"}
			}
			if err := a.add(code, s); err != nil {
				return err
			}
		}
		return nil
	}
	s, ok := scalar(raw, valueKind)
	if !ok {
		return &FieldError{Field: field, Reason: typeReason[valueKind]}
	}
	return a.add(code, s)
}

// add adds one value; an empty one counts as not given, as the spec says
// of optional arguments.
func (a attributes) add(code, v string) error {
	field := "attribute[" + code + "]"
	if v == "" {
		return nil
	}
	if err := text(field, v, maxValue, true); err != nil {
		return err
	}
	if _, seen := a[code]; !seen && len(a) >= maxAttributes {
		return &FieldError{Field: "attribute", Reason: "more than " + strconv.Itoa(maxAttributes) + " attributes"}
	}
	if len(a[code]) >= maxValues {
		return &FieldError{Field: field, Reason: "more than " + strconv.Itoa(maxValues) + " values"}
	}
	a[code] = append(a[code], v)
	return nil
}

// build checks the fields of a POST service request, whichever its
// encoding, and makes the Report.
func build(f map[string]string, attrs attributes) (incident.Report, error) {
	r := incident.Report{Channel: incident.CitizenApp, CRS: geo.WGS84}

	r.Category = strings.TrimSpace(f["service_code"])
	switch {
	case r.Category == "":
		return incident.Report{}, &FieldError{Field: "service_code", Reason: "required"}
	case !validCode(r.Category):
		return incident.Report{}, &FieldError{Field: "service_code", Reason: codeReason}
	}

	p, ok, err := point("", f["lat"], f["long"])
	if err != nil {
		return incident.Report{}, err
	}
	if !ok {
		if f["address_string"] != "" || f["address_id"] != "" {
			return incident.Report{}, &FieldError{Field: "lat", Reason: "lat and long are required: govkit does not geocode address_string or address_id"}
		}
		return incident.Report{}, &FieldError{Field: "lat", Reason: "a location is required as lat and long"}
	}
	r.Point = p

	checks := []struct {
		field     string
		max       int
		multiline bool
	}{
		{"address_string", maxAddress, false}, {"address_id", maxID, false},
		{"description", maxDescription, true}, {"email", maxEmail, false},
		{"device_id", maxID, false}, {"account_id", maxID, false},
		{"service_request_id", maxID, false}, {"request_id", maxID, false}, {"token", maxID, false},
	}
	for _, c := range checks {
		if err := text(c.field, f[c.field], c.max, c.multiline); err != nil {
			return incident.Report{}, err
		}
	}
	r.Address, r.Description = f["address_string"], f["description"]

	if r.Name, err = name(f["first_name"], f["last_name"]); err != nil {
		return incident.Report{}, err
	}
	if phone := f["phone"]; phone != "" {
		if r.Phone, err = pii.NewPhone(phone); err != nil {
			return incident.Report{}, &FieldError{Field: "phone", Reason: "not a Chinese mainland mobile number", Err: err}
		}
	}

	ref := f["request_id"]
	if ref == "" {
		ref = f["token"]
	}
	if ref != "" {
		r.Key = idempotencyKey(f["device_id"], f["account_id"], ref)
	}
	if r.ExternalID = f["service_request_id"]; r.ExternalID == "" {
		r.ExternalID = ref
	}
	if r.ExternalID != "" {
		r.ExternalSystem = ExternalSystem
	}

	media, sum := strings.TrimSpace(f["media_url"]), strings.TrimSpace(f["media_sha256"])
	if media != "" {
		if err := mediaURL("media_url", media); err != nil {
			return incident.Report{}, err
		}
	}
	if sum != "" {
		if b, err := hex.DecodeString(sum); err != nil || len(b) != sha256.Size {
			return incident.Report{}, &FieldError{Field: "media_sha256", Reason: "must be 64 hex digits"}
		}
		if media == "" {
			return incident.Report{}, &FieldError{Field: "media_sha256", Reason: "given without media_url"}
		}
		r.Evidence = []incident.Evidence{{URI: media, SHA256: strings.ToLower(sum)}}
	}

	if len(attrs) > 0 {
		r.Attributes = attrs
	}
	return r, nil
}

// name makes the reporter's name from its two parts; see
// ParseServiceRequest. Errors name the part at fault and never its value.
func name(first, last string) (pii.Data, error) {
	first, last = strings.TrimSpace(first), strings.TrimSpace(last)
	for _, part := range []struct{ field, value string }{{"first_name", first}, {"last_name", last}} {
		if part.value == "" {
			continue
		}
		if _, err := pii.NewName(part.value); err != nil {
			return pii.Data{}, &FieldError{Field: part.field, Reason: "not a name", Err: err}
		}
	}
	var full string
	switch {
	case first == "" && last == "":
		return pii.Data{}, nil
	case first == "" || last == "":
		full = first + last
	case han(first) && han(last):
		full = last + first
	default:
		full = first + " " + last
	}
	d, err := pii.NewName(full)
	if err != nil {
		return pii.Data{}, &FieldError{Field: "first_name", Reason: "with last_name, not a name", Err: err}
	}
	return d, nil
}

// han reports whether s is written in Chinese characters only.
func han(s string) bool {
	for _, r := range s {
		if !unicode.Is(unicode.Han, r) && r != '·' {
			return false
		}
	}
	return s != ""
}

// idempotencyKey hashes the request's origin and the client's reference,
// each length-prefixed so that no two triples collide.
func idempotencyKey(device, account, ref string) string {
	h := sha256.New()
	for _, s := range []string{device, account, ref} {
		_ = binary.Write(h, binary.BigEndian, uint64(len(s)))
		h.Write([]byte(s))
	}
	return "open311:" + hex.EncodeToString(h.Sum(nil))
}
