package codes

import (
	"fmt"
	"slices"
	"unicode/utf8"
)

// ListingClaims are the kind-specific claims of a Listing code (房源码).
// They name the room and its operator by pseudonymous ids; the room's
// address is the code's jurisdiction (its grid).
type ListingClaims struct {
	Room     string   `cbor:"1,keyasint"`           // the room's id, the same on every platform
	Operator string   `cbor:"2,keyasint"`           // the operator's pseudonymous id
	Reviews  []string `cbor:"3,keyasint,omitempty"` // departments whose review passed: "housing", "police" and "fire" are required
	Guests   int      `cbor:"4,keyasint,omitempty"` // the most guests the review allows
	Lock     string   `cbor:"5,keyasint,omitempty"` // the smart lock bound to the code: one code, one lock
}

// requiredReviews are the departments whose review a listing must pass
// before its code is issued (S1).
var requiredReviews = [...]string{"housing", "police", "fire"}

func (c *ListingClaims) validate() error {
	if err := idField("room", c.Room, true); err != nil {
		return err
	}
	if err := idField("operator", c.Operator, true); err != nil {
		return err
	}
	for _, d := range requiredReviews {
		if !slices.Contains(c.Reviews, d) {
			return invalid("reviews", "the %s review has not passed", d)
		}
	}
	if c.Guests < 0 {
		return invalid("guests", "negative")
	}
	return idField("lock", c.Lock, false)
}

// WorkerClaims are the kind-specific claims of a Worker code (惠新码).
type WorkerClaims struct {
	Platform string `cbor:"1,keyasint"`           // the delivery platform, e.g. "meituan"
	Station  string `cbor:"2,keyasint,omitempty"` // the rider's station
	Vehicle  string `cbor:"3,keyasint,omitempty"` // e-bike plate, for gates that check it
}

func (c *WorkerClaims) validate() error {
	if err := idField("platform", c.Platform, true); err != nil {
		return err
	}
	if err := idField("station", c.Station, false); err != nil {
		return err
	}
	return idField("vehicle", c.Vehicle, false)
}

// EnforcementClaims are the kind-specific claims of an Enforcement code
// (执法码): what an enterprise sees when it scans the inspector's code.
// The code's validity is the task's dates.
type EnforcementClaims struct {
	Agency     string   `cbor:"1,keyasint"` // the agency's code, e.g. "500107-market"
	AgencyName string   `cbor:"2,keyasint"` // e.g. "九龙坡区市场监督管理局"
	Inspector  string   `cbor:"3,keyasint"` // the inspector's law-enforcement badge number (执法证号), public
	Task       string   `cbor:"4,keyasint"` // the inspection task's id
	Enterprise string   `cbor:"5,keyasint"` // the target enterprise: the subject of its enterprise code
	Scope      []string `cbor:"6,keyasint"` // what the inspection covers, e.g. "fire safety"
	Complaint  string   `cbor:"7,keyasint"` // how to complain, e.g. "12345" or a URL
}

func (c *EnforcementClaims) validate() error {
	for _, f := range []struct{ name, v string }{
		{"agency", c.Agency}, {"inspector", c.Inspector}, {"task", c.Task}, {"enterprise", c.Enterprise},
	} {
		if err := idField(f.name, f.v, true); err != nil {
			return err
		}
	}
	if err := textField("agency name", c.AgencyName, true); err != nil {
		return err
	}
	if err := textField("complaint", c.Complaint, true); err != nil {
		return err
	}
	if len(c.Scope) == 0 || len(c.Scope) > 16 {
		return invalid("scope", "%d items, want 1–16", len(c.Scope))
	}
	for _, s := range c.Scope {
		if err := textField("scope", s, true); err != nil {
			return err
		}
	}
	return nil
}

// EnterpriseClaims are the kind-specific claims of an Enterprise code
// (企业码). An enterprise's name and unified social credit code are
// public registration data, not personal data.
type EnterpriseClaims struct {
	CreditCode string `cbor:"1,keyasint"` // 统一社会信用代码, 18 characters
	Name       string `cbor:"2,keyasint"`
}

func (c *EnterpriseClaims) validate() error {
	if len(c.CreditCode) != 18 {
		return invalid("credit code", "%d characters, want 18", len(c.CreditCode))
	}
	for i := 0; i < len(c.CreditCode); i++ {
		b := c.CreditCode[i]
		if !(b >= '0' && b <= '9' || b >= 'A' && b <= 'Z') {
			return invalid("credit code", "character %d is not 0-9 or A-Z", i+1)
		}
	}
	return textField("name", c.Name, true)
}

// maxField bounds every text field of a code: QR capacity is small.
const maxField = 96

// idField checks an identifier: printable ASCII without spaces.
func idField(name, v string, required bool) error {
	if v == "" {
		if required {
			return invalid(name, "empty")
		}
		return nil
	}
	if len(v) > maxField {
		return invalid(name, "%d bytes, more than %d", len(v), maxField)
	}
	for i := 0; i < len(v); i++ {
		if v[i] <= ' ' || v[i] > '~' {
			return invalid(name, "byte %d is not printable ASCII", i+1)
		}
	}
	return nil
}

// textField checks free text: valid UTF-8 without control characters.
func textField(name, v string, required bool) error {
	if v == "" {
		if required {
			return invalid(name, "empty")
		}
		return nil
	}
	if len(v) > maxField*2 {
		return invalid(name, "%d bytes, more than %d", len(v), maxField*2)
	}
	if !utf8.ValidString(v) {
		return invalid(name, "not UTF-8")
	}
	for _, r := range v {
		if r < ' ' || r == 0x7f {
			return invalid(name, "control character %U", r)
		}
	}
	return nil
}

// EncodeData encodes kind-specific claims for IssueRequest.Data: v is a
// struct with `cbor:"N,keyasint"` tags (integer keys keep codes small).
func EncodeData(v any) ([]byte, error) {
	b, err := encMode.Marshal(v)
	if err != nil {
		return nil, &InputError{Field: "data", Reason: "does not encode as CBOR", Err: err}
	}
	return b, nil
}

// DecodeData decodes kind-specific claims into v, strictly: duplicate map
// keys, indefinite lengths and trailing bytes are errors matching
// ErrMalformed.
func DecodeData(data []byte, v any) error {
	if len(data) == 0 {
		return verr(ErrMalformed, "no kind-specific claims")
	}
	if err := decMode.Unmarshal(data, v); err != nil {
		return &VerifyError{Err: ErrMalformed, Reason: fmt.Sprintf("kind-specific claims: %v", err)}
	}
	return nil
}
