package open311

import (
	"bytes"
	"encoding/json"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/govkit/govkit/geo"
)

// Body limits. Wrap an HTTP request body in http.MaxBytesReader with them
// before reading it, so that an oversize body is not even read into memory.
const (
	// MaxBodyBytes bounds a POST service request, JSON or form-encoded.
	MaxBodyBytes = 1 << 20
	// MaxListBytes bounds a GET requests response read by
	// ParseServiceRequests (the spec's default page is 1000 requests).
	MaxListBytes = 8 << 20
)

// Field limits, in bytes. Those a Report also has are incident's own, so
// that what ParseServiceRequest accepts the Service accepts too.
const (
	maxCode        = 64    // service and attribute codes, as incident.Catalogue
	maxID          = 256   // IDs, tokens, zip codes; incident's bound on Report.Key
	maxAddress     = 512   // incident's bound on Report.Address
	maxDescription = 4000  // incident's bound on Report.Description
	maxEmail       = 254   // RFC 5321's bound on a forward path
	maxURL         = 2048  // incident's bound on an evidence URI
	maxValue       = 4000  // incident's bound on an attribute value
	maxLongText    = 16000 // 4,000 characters of up to 4 bytes, in lists
	maxShortText   = 1024  // names of services and agencies, addresses, in lists
	maxAttributes  = 100   // attribute codes in one request
	maxValues      = 100   // values of one attribute
)

// kind is what JSON types a field accepts.
type kind uint8

const (
	textKind   kind = iota // a string
	idKind                 // a string or a number, e.g. 638344 for an ID
	numberKind             // a number or a string holding one, e.g. "29.5"
	valueKind              // an attribute value: a string, number or boolean
)

// typeReason says what a field of kind k must be.
var typeReason = [...]string{
	textKind:   "must be a string",
	idKind:     "must be a string or a number",
	numberKind: "must be a number",
	valueKind:  "must be a string, number or boolean, or an array of them",
}

// scalar returns the text of a JSON value of kind k: a string's contents,
// a number's literal, "true" or "false"; null gives "". ok is false for a
// type k does not accept.
func scalar(raw json.RawMessage, k kind) (s string, ok bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", false
	}
	switch c := raw[0]; {
	case c == 'n':
		return "", true
	case c == '"':
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", false
		}
		return s, true
	case c == '-' || c >= '0' && c <= '9':
		return string(raw), k != textKind
	case c == 't' || c == 'f':
		return string(raw), k == valueKind
	}
	return "", false
}

// decodeObject decodes a JSON object into its members. Keys are matched
// exactly, as Open311 spells them; of a repeated key the last counts.
func decodeObject(raw []byte) (map[string]json.RawMessage, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return nil, false
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, false
	}
	return m, true
}

// text checks a free-text value: valid UTF-8, at most max bytes, and no
// control characters but, when multiline, tab and line breaks. A control
// character could rewrite a log line or a terminal.
func text(field, s string, max int, multiline bool) error {
	if len(s) > max {
		return &FieldError{Field: field, Reason: "longer than " + strconv.Itoa(max) + " bytes"}
	}
	if !utf8.ValidString(s) {
		return &FieldError{Field: field, Reason: "not valid UTF-8"}
	}
	for _, r := range s {
		if unicode.IsControl(r) && !(multiline && (r == '\n' || r == '\r' || r == '\t')) {
			return &FieldError{Field: field, Reason: "contains a control character"}
		}
	}
	return nil
}

// validCode reports whether s is a code as incident.Catalogue allows: 1-64
// letters, digits, '-', '_' or '.'.
func validCode(s string) bool {
	if s == "" || len(s) > maxCode {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

const codeReason = "must be 1-64 letters, digits, '-', '_' or '.'"

// decimal reports whether s is a plain decimal number: an optional sign,
// digits with an optional fraction, and an optional exponent. It keeps out
// what strconv.ParseFloat also takes: "NaN", "Inf", hexadecimal, '_'.
func decimal(s string) bool {
	i, n := 0, len(s)
	if i < n && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for ; i < n && s[i] >= '0' && s[i] <= '9'; i++ {
		digits++
	}
	if i < n && s[i] == '.' {
		for i++; i < n && s[i] >= '0' && s[i] <= '9'; i++ {
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if i < n && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < n && (s[i] == '+' || s[i] == '-') {
			i++
		}
		exp := 0
		for ; i < n && s[i] >= '0' && s[i] <= '9'; i++ {
			exp++
		}
		if exp == 0 {
			return false
		}
	}
	return i == n
}

// coordinate parses a latitude (max 90) or longitude (max 180).
func coordinate(field, s string, max float64) (float64, error) {
	s = strings.TrimSpace(s)
	if !decimal(s) {
		return 0, &FieldError{Field: field, Reason: "not a number"}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, &FieldError{Field: field, Reason: "not a finite number"}
	}
	if v < -max || v > max {
		return 0, &FieldError{Field: field, Reason: "outside [-" + strconv.Itoa(int(max)) + ", " + strconv.Itoa(int(max)) + "]"}
	}
	return v, nil
}

// point parses lat and long, which go together.
func point(prefix, lat, long string) (geo.Point, bool, error) {
	switch {
	case lat == "" && long == "":
		return geo.Point{}, false, nil
	case lat == "":
		return geo.Point{}, false, &FieldError{Field: prefix + "lat", Reason: "required with long"}
	case long == "":
		return geo.Point{}, false, &FieldError{Field: prefix + "long", Reason: "required with lat"}
	}
	la, err := coordinate(prefix+"lat", lat, 90)
	if err != nil {
		return geo.Point{}, false, err
	}
	lo, err := coordinate(prefix+"long", long, 180)
	if err != nil {
		return geo.Point{}, false, err
	}
	p, err := geo.NewPoint(la, lo)
	if err != nil {
		return geo.Point{}, false, &FieldError{Field: prefix + "lat", Reason: "invalid", Err: err}
	}
	return p, true, nil
}

// mediaURL checks that s is an absolute http or https URL.
func mediaURL(field, s string) error {
	if err := text(field, s, maxURL, false); err != nil {
		return err
	}
	u, err := url.Parse(s)
	if err != nil || (!strings.EqualFold(u.Scheme, "http") && !strings.EqualFold(u.Scheme, "https")) || u.Host == "" {
		return &FieldError{Field: field, Reason: "must be an absolute http or https URL"}
	}
	return nil
}

// datetime checks that s is a w3 date-time with its zone, as the spec
// requires (RFC 3339 is that profile).
func datetime(field, s string) error {
	if _, err := time.Parse(time.RFC3339, s); err != nil {
		return &FieldError{Field: field, Reason: "not an RFC 3339 date-time with a zone"}
	}
	return nil
}
