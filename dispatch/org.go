package dispatch

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/govkit/govkit/region"
)

// ErrInvalidOrg is matched by every error about a malformed organisation.
var ErrInvalidOrg = errors.New("dispatch: invalid organisation")

// ErrUnknownBody is returned for a body ID the organisation lacks.
var ErrUnknownBody = errors.New("dispatch: unknown body")

// Body is a department or team that handles work: the district city
// management bureau, the housing committee, Shiqiaopu street's enforcement
// team, a community's grid team, the water company's repair crew.
type Body struct {
	ID   string
	Name string
	// Function says what the body does ("city-management", "water",
	// "enforcement", "traffic-police"); rules can name a function and let
	// the case's place pick the body (see Handler).
	Function string
	// Jurisdiction is the unit the body serves. Its level is the body's
	// tier: a street's enforcement team serves the street.
	Jurisdiction region.Code
	// Department groups bodies for access control and indicators, such as
	// all bodies of the water company; empty means the body is its own.
	Department string
}

// Tier returns the level of the unit the body serves.
func (b Body) Tier() region.Level { return b.Jurisdiction.Level() }

// Org is the validated, immutable set of bodies of a city, safe for
// concurrent use.
type Org struct {
	bodies     map[string]*Body
	ids        []string
	byFunction map[funcKey]*Body // function at a unit → the body serving it
}

type funcKey struct {
	function string
	unit     region.Code
}

// NewOrg validates bodies: unique non-empty IDs, names, valid jurisdiction
// codes, and at most one body of a function per unit (otherwise a rule
// naming the function could not choose).
func NewOrg(bodies []Body) (*Org, error) {
	o := &Org{bodies: make(map[string]*Body, len(bodies)), byFunction: map[funcKey]*Body{}}
	for i := range bodies {
		b := bodies[i]
		bad := func(reason string) error {
			return fmt.Errorf("%w: body %q: %s", ErrInvalidOrg, b.ID, reason)
		}
		switch {
		case !validToken(b.ID):
			return nil, bad("ID must be a token of letters, digits, '-', '_' or '.'")
		case strings.TrimSpace(b.Name) == "":
			return nil, bad("empty name")
		case b.Function != "" && !validToken(b.Function):
			return nil, bad("function must be a token")
		}
		if _, err := region.ParseCode(string(b.Jurisdiction)); err != nil {
			return nil, fmt.Errorf("%w: body %q: %w", ErrInvalidOrg, b.ID, err)
		}
		if _, dup := o.bodies[b.ID]; dup {
			return nil, bad("duplicate ID")
		}
		o.bodies[b.ID] = &b
		o.ids = append(o.ids, b.ID)
		if b.Function != "" {
			k := funcKey{b.Function, b.Jurisdiction}
			if other, dup := o.byFunction[k]; dup {
				return nil, bad(fmt.Sprintf("%s already serves function %q in %s", other.ID, b.Function, b.Jurisdiction))
			}
			o.byFunction[k] = &b
		}
	}
	slices.Sort(o.ids)
	return o, nil
}

func validToken(s string) bool {
	if s == "" || len(s) > 128 {
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

// Body returns the body with the given ID.
func (o *Org) Body(id string) (Body, error) {
	b, ok := o.bodies[id]
	if !ok {
		return Body{}, fmt.Errorf("%w: %q", ErrUnknownBody, id)
	}
	return *b, nil
}

// Bodies returns every body, in ID order.
func (o *Org) Bodies() []Body {
	out := make([]Body, len(o.ids))
	for i, id := range o.ids {
		out[i] = *o.bodies[id]
	}
	return out
}

// Serving returns the body of function that serves unit, if any.
func (o *Org) Serving(function string, unit region.Code) (Body, bool) {
	b, ok := o.byFunction[funcKey{function, unit}]
	if !ok {
		return Body{}, false
	}
	return *b, true
}
