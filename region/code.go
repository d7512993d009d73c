package region

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidCode is matched by every error about a malformed unit code.
var ErrInvalidCode = errors.New("region: invalid code")

// CodeError reports a code that ParseCode rejected and why.
type CodeError struct {
	Code   string
	Reason string
}

// Error describes the problem.
func (e *CodeError) Error() string {
	return fmt.Sprintf("region: invalid code %q: %s", e.Code, e.Reason)
}

// Unwrap lets errors.Is(err, ErrInvalidCode) match.
func (e *CodeError) Unwrap() error { return ErrInvalidCode }

// Level is a tier of the hierarchy, from the city down to the grid.
type Level int8

// The tiers of Chinese digital urban management. A county-level unit is a
// District; a town or township is a Street; a village is a Community.
const (
	City Level = iota + 1
	District
	Street
	Community
	Grid
)

var levelNames = [...]string{City: "city", District: "district", Street: "street", Community: "community", Grid: "grid"}

// String returns the lower-case name of the level, such as "street".
func (l Level) String() string {
	if l < City || l > Grid {
		return fmt.Sprintf("Level(%d)", int8(l))
	}
	return levelNames[l]
}

// ParseLevel returns the level named by s ("city", "district", "street",
// "community" or "grid").
func ParseLevel(s string) (Level, error) {
	for l := City; l <= Grid; l++ {
		if levelNames[l] == s {
			return l, nil
		}
	}
	return 0, fmt.Errorf("region: unknown level %q", s)
}

// Code identifies a unit: the 6-digit administrative division code (GB/T
// 2260) of its city or district, then 3 digits each for street, community and
// grid, as in Chinese digital urban management. For example 500107 is
// Jiulongpo district of Chongqing, 500107001 a street in it, and
// 500107001002003 grid 3 of community 2 of that street.
//
// A 6-digit code ending in "00" is a city-level unit (500100) and one ending
// in "0000" a province-level one (500000, Chongqing itself); both have Level
// City and contain every code that starts with their significant digits.
type Code string

// ParseCode validates s as a unit code.
func ParseCode(s string) (Code, error) {
	if !(len(s) == 6 || len(s) == 9 || len(s) == 12 || len(s) == 15) {
		return "", &CodeError{s, "length must be 6, 9, 12 or 15 digits"}
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return "", &CodeError{s, fmt.Sprintf("non-digit at position %d", i+1)}
		}
	}
	if s[:2] == "00" {
		return "", &CodeError{s, "province digits cannot be 00"}
	}
	for i := 6; i < len(s); i += 3 {
		if s[i:i+3] == "000" {
			return "", &CodeError{s, fmt.Sprintf("%s part cannot be 000", Level(Street+Level((i-6)/3)))}
		}
	}
	return Code(s), nil
}

// MustParseCode is ParseCode for constants in programs and tests; it panics
// on a malformed code.
func MustParseCode(s string) Code {
	c, err := ParseCode(s)
	if err != nil {
		panic(err)
	}
	return c
}

// Level returns the tier the code names, or 0 for a malformed code.
func (c Code) Level() Level {
	switch len(c) {
	case 6:
		if c[4:] == "00" {
			return City
		}
		return District
	case 9:
		return Street
	case 12:
		return Community
	case 15:
		return Grid
	}
	return 0
}

// Prefix returns the digits every code inside c starts with: the whole code
// for districts and below, "5001" for the city-level 500100 and "50" for the
// province-level 500000. Stores use it for subtree queries (LIKE '5001%').
func (c Code) Prefix() string { return c.significant() }

// significant returns the prefix that every code inside c starts with.
func (c Code) significant() string {
	s := string(c)
	if len(s) == 6 {
		for len(s) > 2 && strings.HasSuffix(s, "00") {
			s = s[:len(s)-2]
		}
	}
	return s
}

// Within reports whether c is ancestor itself or lies inside it: a grid in
// its street, a district in its city. Jurisdiction checks rest on it.
func (c Code) Within(ancestor Code) bool {
	if ancestor == "" {
		return false
	}
	return strings.HasPrefix(string(c), ancestor.significant())
}

// structuralParent returns the code of the unit directly above c for streets
// and below, where the code says it: the first 6, 9 or 12 digits.
func (c Code) structuralParent() (Code, bool) {
	if len(c) > 6 {
		return c[:len(c)-3], true
	}
	return "", false
}

// String returns the code's digits.
func (c Code) String() string { return string(c) }
