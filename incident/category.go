package incident

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ErrInvalidCategory is matched by every error about a malformed category
// or catalogue.
var ErrInvalidCategory = errors.New("incident: invalid category")

// ErrUnknownCategory is returned for a category code the catalogue lacks.
var ErrUnknownCategory = errors.New("incident: unknown category")

// ErrInvalidAttribute is matched by every error about attribute values on
// intake.
var ErrInvalidAttribute = errors.New("incident: invalid attribute")

// CategoryKind separates the two families of digital urban management:
// things (部件: manhole covers, street lights) and events (事件: dumped
// waste, street vending).
type CategoryKind int8

// Category kinds.
const (
	Asset CategoryKind = iota + 1 // 部件
	Event                         // 事件
)

// String returns the category kind name.
func (k CategoryKind) String() string {
	switch k {
	case Asset:
		return "asset"
	case Event:
		return "event"
	}
	return fmt.Sprintf("CategoryKind(%d)", int8(k))
}

// AttributeType is the type of an attribute's value, as in Open311
// GeoReport v2.
type AttributeType int8

// Attribute types.
const (
	String          AttributeType = iota + 1 // one line of text
	Number                                   // a decimal number
	Datetime                                 // an RFC 3339 time
	Text                                     // free text, several lines
	SingleValueList                          // one key from Values
	MultiValueList                           // one or more keys from Values
)

var attributeTypeNames = [...]string{
	String: "string", Number: "number", Datetime: "datetime", Text: "text",
	SingleValueList: "singlevaluelist", MultiValueList: "multivaluelist",
}

// String returns the Open311 name of the type, such as "singlevaluelist".
func (t AttributeType) String() string {
	if t < String || t > MultiValueList {
		return fmt.Sprintf("AttributeType(%d)", int8(t))
	}
	return attributeTypeNames[t]
}

// ParseAttributeType returns the type with the given Open311 name.
func ParseAttributeType(s string) (AttributeType, error) {
	for t := String; t <= MultiValueList; t++ {
		if attributeTypeNames[t] == s {
			return t, nil
		}
	}
	return 0, fmt.Errorf("%w: unknown attribute type %q", ErrInvalidCategory, s)
}

// AttributeValue is one choice of a list attribute.
type AttributeValue struct {
	Key  string
	Name string
}

// Attribute is a question asked when reporting in a category, such as the
// estimated volume of dumped waste or whether a manhole cover is missing or
// broken.
type Attribute struct {
	Code        string
	Description string
	Type        AttributeType
	Required    bool
	Order       int
	Values      []AttributeValue // for list types
}

// Priority orders the work.
type Priority int8

// Priorities, lowest first.
const (
	Low Priority = iota + 1
	Normal
	High
	Urgent
)

// String returns the priority name.
func (p Priority) String() string {
	switch p {
	case Low:
		return "low"
	case Normal:
		return "normal"
	case High:
		return "high"
	case Urgent:
		return "urgent"
	}
	return fmt.Sprintf("Priority(%d)", int8(p))
}

// SLA gives, in working time on the business calendar, how long each phase
// of a case in the category may take. Zero means the phase is not timed.
type SLA struct {
	Register time.Duration // from report to registration (立案)
	Dispose  time.Duration // from dispatch to disposal
	Verify   time.Duration // from disposal to verification (核查)
}

// Category is one entry of the catalogue: what can be reported, how it is
// classed, what must be asked, and how fast it must be handled.
type Category struct {
	Code         string // unique, e.g. "0102" or "muck-truck-overload"
	Name         string
	Kind         CategoryKind
	Major, Minor string // class codes of the national standard's tree
	StandardCode string // optional code for export to other systems
	Priority     Priority
	SLA          SLA
	Attributes   []Attribute // sorted by Order when the catalogue is built
}

// CategoryError says which category, and which attribute of it, is at fault.
type CategoryError struct {
	Category  string
	Attribute string // empty when the category itself is at fault
	Reason    string
	Err       error // ErrInvalidCategory, ErrUnknownCategory or ErrInvalidAttribute
}

// Error describes the problem.
func (e *CategoryError) Error() string {
	s := "incident: category " + strconv.Quote(e.Category)
	if e.Attribute != "" {
		s += " attribute " + strconv.Quote(e.Attribute)
	}
	return s + ": " + e.Reason
}

// Unwrap returns the sentinel the error belongs to.
func (e *CategoryError) Unwrap() error { return e.Err }

// Catalogue is a validated, immutable set of categories, safe for concurrent
// use. Chongqing routes 11,000+ event types; lookup is a map access.
type Catalogue struct {
	byCode map[string]*Category
	codes  []string
}

// NewCatalogue validates cats and builds a catalogue: codes unique and
// non-empty, names set, known kinds and priorities (Normal if unset),
// non-negative SLAs, attribute codes unique per category with known types,
// list attributes with distinct value keys and non-list ones with none.
// The input is copied.
func NewCatalogue(cats []Category) (*Catalogue, error) {
	c := &Catalogue{byCode: make(map[string]*Category, len(cats)), codes: make([]string, 0, len(cats))}
	for i := range cats {
		cat := cats[i]
		cat.Attributes = slices.Clone(cat.Attributes)
		if err := checkCategory(&cat); err != nil {
			return nil, err
		}
		if _, dup := c.byCode[cat.Code]; dup {
			return nil, &CategoryError{Category: cat.Code, Reason: "duplicate code", Err: ErrInvalidCategory}
		}
		c.byCode[cat.Code] = &cat
		c.codes = append(c.codes, cat.Code)
	}
	slices.Sort(c.codes)
	return c, nil
}

func checkCategory(cat *Category) error {
	bad := func(attr, reason string) error {
		return &CategoryError{Category: cat.Code, Attribute: attr, Reason: reason, Err: ErrInvalidCategory}
	}
	switch {
	case !validCode(cat.Code):
		return bad("", "code must be 1-64 characters of letters, digits, '-', '_' or '.'")
	case strings.TrimSpace(cat.Name) == "":
		return bad("", "empty name")
	case cat.Kind != Asset && cat.Kind != Event:
		return bad("", "kind must be asset or event")
	case cat.Priority < 0 || cat.Priority > Urgent:
		return bad("", "unknown priority")
	case cat.SLA.Register < 0 || cat.SLA.Dispose < 0 || cat.SLA.Verify < 0:
		return bad("", "negative SLA")
	}
	if cat.Priority == 0 {
		cat.Priority = Normal
	}
	seen := map[string]bool{}
	for i := range cat.Attributes {
		a := &cat.Attributes[i]
		switch {
		case !validCode(a.Code):
			return bad(a.Code, "attribute code must be 1-64 characters of letters, digits, '-', '_' or '.'")
		case seen[a.Code]:
			return bad(a.Code, "duplicate attribute code")
		case a.Type < String || a.Type > MultiValueList:
			return bad(a.Code, "unknown attribute type")
		}
		seen[a.Code] = true
		isList := a.Type == SingleValueList || a.Type == MultiValueList
		if isList && len(a.Values) == 0 {
			return bad(a.Code, "a list attribute needs values")
		}
		if !isList && len(a.Values) > 0 {
			return bad(a.Code, "only list attributes have values")
		}
		keys := map[string]bool{}
		for _, v := range a.Values {
			if v.Key == "" || keys[v.Key] {
				return bad(a.Code, "value keys must be non-empty and distinct")
			}
			keys[v.Key] = true
		}
		a.Values = slices.Clone(a.Values)
	}
	slices.SortStableFunc(cat.Attributes, func(a, b Attribute) int { return a.Order - b.Order })
	return nil
}

func validCode(s string) bool {
	if s == "" || len(s) > 64 {
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

// Len returns the number of categories.
func (c *Catalogue) Len() int { return len(c.codes) }

// Codes returns every category code, sorted.
func (c *Catalogue) Codes() []string { return slices.Clone(c.codes) }

// Category returns the category with the given code, or an error matching
// ErrUnknownCategory.
func (c *Catalogue) Category(code string) (Category, error) {
	cat, ok := c.byCode[code]
	if !ok {
		return Category{}, &CategoryError{Category: code, Reason: "not in the catalogue", Err: ErrUnknownCategory}
	}
	out := *cat
	out.Attributes = slices.Clone(cat.Attributes)
	return out, nil
}

// maxAttributeText bounds one attribute value, so that a report cannot
// carry a novel.
const maxAttributeText = 4000

// Validate checks attribute values given on intake against the category:
// every required attribute present, no unknown attribute, each value of its
// type (numbers parse, datetimes are RFC 3339, list values are known keys,
// single-valued types have one value). Errors match ErrInvalidAttribute or
// ErrUnknownCategory and name the attribute.
func (c *Catalogue) Validate(code string, attrs map[string][]string) error {
	cat, ok := c.byCode[code]
	if !ok {
		return &CategoryError{Category: code, Reason: "not in the catalogue", Err: ErrUnknownCategory}
	}
	bad := func(attr, reason string) error {
		return &CategoryError{Category: code, Attribute: attr, Reason: reason, Err: ErrInvalidAttribute}
	}
	known := 0
	for i := range cat.Attributes {
		a := &cat.Attributes[i]
		vals, present := attrs[a.Code]
		if !present || len(vals) == 0 {
			if a.Required {
				return bad(a.Code, "required")
			}
			continue
		}
		known++
		if a.Type != MultiValueList && len(vals) != 1 {
			return bad(a.Code, fmt.Sprintf("takes one value, got %d", len(vals)))
		}
		for _, v := range vals {
			if len(v) > maxAttributeText || !utf8.ValidString(v) {
				return bad(a.Code, "value too long or not UTF-8")
			}
			switch a.Type {
			case Number:
				f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
					return bad(a.Code, "not a number")
				}
			case Datetime:
				if _, err := time.Parse(time.RFC3339, v); err != nil {
					return bad(a.Code, "not an RFC 3339 date-time")
				}
			case String:
				if strings.ContainsAny(v, "\r\n") {
					return bad(a.Code, "a string attribute is one line")
				}
			case SingleValueList, MultiValueList:
				if !slices.ContainsFunc(a.Values, func(x AttributeValue) bool { return x.Key == v }) {
					return bad(a.Code, fmt.Sprintf("%q is not one of the listed values", v))
				}
			}
		}
	}
	if known != countPresent(attrs) {
		for name, vals := range attrs {
			if len(vals) > 0 && !slices.ContainsFunc(cat.Attributes, func(a Attribute) bool { return a.Code == name }) {
				return bad(name, "not an attribute of this category")
			}
		}
	}
	return nil
}

func countPresent(attrs map[string][]string) int {
	n := 0
	for _, v := range attrs {
		if len(v) > 0 {
			n++
		}
	}
	return n
}
