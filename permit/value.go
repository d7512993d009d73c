package permit

import (
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/govkit/govkit/calendar"
	"github.com/govkit/govkit/pii"
)

// FieldKind is what sort of value a field holds. It decides how answers are
// validated and stored; the personal kinds are held as pii.Data, which masks
// itself in every output.
type FieldKind int8

// Field kinds. Prefer ChoiceField and MultiChoiceField wherever a list can
// replace typing.
const (
	TextField        FieldKind = iota + 1 // free text, at most Field.MaxLen runes
	NumberField                           // a decimal number such as 42 or 3.50
	DateField                             // a calendar date, YYYY-MM-DD
	ChoiceField                           // one of Field.Choices
	MultiChoiceField                      // several of Field.Choices
	BoolField                             // "true" or "false"
	NameField                             // a person's name (pii)
	IDNumberField                         // a resident identity number (pii)
	PhoneField                            // a mobile phone number (pii)
	AddressField                          // a postal address (pii)
)

var fieldKindNames = [...]string{
	TextField: "text", NumberField: "number", DateField: "date", ChoiceField: "choice",
	MultiChoiceField: "multi-choice", BoolField: "bool", NameField: "name", IDNumberField: "id-number",
	PhoneField: "phone", AddressField: "address",
}

// String returns the kind's name, such as "multi-choice".
func (k FieldKind) String() string {
	if k < TextField || k > AddressField {
		return fmt.Sprintf("FieldKind(%d)", int8(k))
	}
	return fieldKindNames[k]
}

func (k FieldKind) valid() bool { return k >= TextField && k <= AddressField }

// Personal reports whether values of kind k are personal data.
func (k FieldKind) Personal() bool { return k >= NameField && k <= AddressField }

func (k FieldKind) piiKind() pii.Kind {
	switch k {
	case NameField:
		return pii.Name
	case IDNumberField:
		return pii.IDNumber
	case PhoneField:
		return pii.Phone
	case AddressField:
		return pii.Address
	}
	return 0
}

// Value is one answer or output. Text holds text, numbers, dates, a single
// choice and booleans; List holds the choices of a multi-choice field;
// Personal holds personal data, which masks itself when printed, logged or
// encoded. The service stores personal answers only as Personal: text given
// for a personal field is validated and converted.
type Value struct {
	Text     string   `json:"text,omitempty"`
	List     []string `json:"list,omitempty"`
	Personal pii.Data `json:"personal,omitzero"`
}

// Text returns a text value.
func Text(s string) Value { return Value{Text: s} }

// List returns the value of a multi-choice field.
func List(choices ...string) Value { return Value{List: slices.Clone(choices)} }

// Personal returns a value holding personal data.
func Personal(d pii.Data) Value { return Value{Personal: d} }

// IsZero reports whether v holds nothing.
func (v Value) IsZero() bool { return v.Text == "" && len(v.List) == 0 && v.Personal.IsZero() }

// Equal reports whether v and o hold the same value.
func (v Value) Equal(o Value) bool {
	return v.Text == o.Text && slices.Equal(v.List, o.List) && v.Personal.Equal(o.Personal)
}

// String returns the value as shown: personal data masked, a list joined
// by commas.
func (v Value) String() string {
	switch {
	case !v.Personal.IsZero():
		return v.Personal.Masked()
	case len(v.List) > 0:
		return strings.Join(v.List, ",")
	}
	return v.Text
}

func (v Value) clone() Value {
	if v.List != nil {
		v.List = slices.Clone(v.List)
	}
	return v
}

// maxText bounds text answers when Field.MaxLen is zero.
const maxText = 200

// normalise validates v as a value of f and returns it in stored form; a
// non-empty reason says what is wrong, without repeating the value.
func normalise(f *Field, v Value) (Value, string) {
	if f.Kind.Personal() {
		if len(v.List) > 0 {
			return Value{}, "a " + f.Kind.String() + " field takes one value"
		}
		d := v.Personal
		if d.IsZero() {
			var err error
			switch f.Kind {
			case NameField:
				d, err = pii.NewName(v.Text)
			case IDNumberField:
				d, err = pii.NewIDNumber(v.Text)
			case PhoneField:
				d, err = pii.NewPhone(v.Text)
			case AddressField:
				d, err = pii.NewAddress(v.Text)
			}
			if err != nil {
				var pe *pii.Error
				if errors.As(err, &pe) {
					return Value{}, pe.Reason
				}
				return Value{}, "not a valid " + f.Kind.String()
			}
		} else if v.Text != "" {
			return Value{}, "give the value as text or as personal data, not both"
		}
		if d.Kind() != f.Kind.piiKind() {
			return Value{}, fmt.Sprintf("personal data of kind %s where %s is wanted", d.Kind(), f.Kind.piiKind())
		}
		return Value{Personal: d}, ""
	}
	if !v.Personal.IsZero() {
		return Value{}, "personal data in a " + f.Kind.String() + " field"
	}
	if f.Kind == MultiChoiceField {
		if v.Text != "" {
			return Value{}, "a multi-choice field takes a list"
		}
		seen := map[string]bool{}
		for _, c := range v.List {
			if !f.hasChoice(c) {
				return Value{}, "not one of the offered choices"
			}
			if seen[c] {
				return Value{}, "a choice given twice"
			}
			seen[c] = true
		}
		return Value{List: slices.Clone(v.List)}, ""
	}
	if len(v.List) > 0 {
		return Value{}, "a " + f.Kind.String() + " field takes one value"
	}
	s := v.Text
	switch f.Kind {
	case TextField:
		max := f.MaxLen
		if max == 0 {
			max = maxText
		}
		if !utf8.ValidString(s) {
			return Value{}, "not UTF-8"
		}
		if n := utf8.RuneCountInString(s); n > max {
			return Value{}, fmt.Sprintf("longer than %d characters", max)
		}
		if strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) && r != '\n' }) {
			return Value{}, "contains control characters"
		}
		if strings.TrimSpace(s) == "" {
			return Value{}, "blank"
		}
	case NumberField:
		if !isDecimal(s) {
			return Value{}, "not a decimal number"
		}
	case DateField:
		d, err := calendar.ParseDate(s)
		if err != nil {
			return Value{}, "not a date (YYYY-MM-DD)"
		}
		s = d.String()
	case ChoiceField:
		if !f.hasChoice(s) {
			return Value{}, "not one of the offered choices"
		}
	case BoolField:
		if s != "true" && s != "false" {
			return Value{}, `must be "true" or "false"`
		}
	}
	return Value{Text: s}, ""
}

// isDecimal accepts an optional minus sign, digits and an optional
// fraction: 42, -3.50, 0.125. At most 32 characters.
func isDecimal(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	s = strings.TrimPrefix(s, "-")
	whole, frac, dot := strings.Cut(s, ".")
	digits := func(p string) bool {
		if p == "" {
			return false
		}
		for i := 0; i < len(p); i++ {
			if p[i] < '0' || p[i] > '9' {
				return false
			}
		}
		return true
	}
	return digits(whole) && (!dot || digits(frac))
}

// Document is a piece of evidence attached to an application: a scan, a
// photo, an electronic licence. Only its location and content hash are
// kept; the file lives in the district's document store.
type Document struct {
	URI      string    `json:"uri"`
	SHA256   string    `json:"sha256"` // 64 hex digits of the content's SHA-256
	Name     string    `json:"name,omitempty"`
	Attached time.Time `json:"attached,omitzero"` // set by the service
}

func (d Document) problem() string {
	switch {
	case strings.TrimSpace(d.URI) == "" || len(d.URI) > 2048:
		return "uri required, at most 2048 bytes"
	case len(d.Name) > 256 || !utf8.ValidString(d.Name):
		return "name longer than 256 bytes or not UTF-8"
	}
	if b, err := hex.DecodeString(d.SHA256); err != nil || len(b) != 32 {
		return "sha256 must be 64 hex digits"
	}
	return ""
}
