package region

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/govkit/govkit/geo"
	"github.com/tidwall/rtree"
)

// ErrInvalidUnit is matched by every error about a unit that cannot join a
// hierarchy.
var ErrInvalidUnit = errors.New("region: invalid unit")

// ErrUnknownCode is returned for a well-formed code that names no unit.
var ErrUnknownCode = errors.New("region: unknown code")

// ErrNotLocated is returned by Locate for a point outside every boundary.
var ErrNotLocated = errors.New("region: point lies outside every unit")

// UnitError reports a unit that New rejected and why.
type UnitError struct {
	Code   string
	Reason string
	Err    error // the underlying code or geometry error, if any
}

// Error describes the problem.
func (e *UnitError) Error() string {
	msg := fmt.Sprintf("region: invalid unit %q: %s", e.Code, e.Reason)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap lets errors.Is match ErrInvalidUnit and the underlying cause.
func (e *UnitError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrInvalidUnit, e.Err}
	}
	return []error{ErrInvalidUnit}
}

// Unit is one city, district, street, community or grid.
type Unit struct {
	Code Code
	Name string
	// Parent is the unit directly above; empty only for a city at the top.
	// For streets and below it must be the code's own prefix.
	Parent Code
	// Boundary is where the unit lies. Optional, but Locate only finds units
	// that have one, so grids normally do.
	Boundary geo.MultiPolygon
}

// Level returns the unit's tier.
func (u Unit) Level() Level { return u.Code.Level() }

// Hierarchy is a validated, immutable tree of units with a spatial index of
// their boundaries. It is safe for concurrent use. Build one with New or
// ReadGeoJSON.
type Hierarchy struct {
	units    []Unit         // sorted by code, so every subtree is a contiguous run
	byCode   map[Code]int32 // index into units
	paths    [][]Code       // root-to-unit path of units[i]
	children map[Code][]int32
	tree     rtree.RTreeG[int32]
	roots    []Code
}

// New validates units and builds a hierarchy. Every unit needs a valid code,
// a name and, unless it is a top-level city, a parent in the set whose code
// contains its own (streets and below: exactly the code's prefix; a district
// may sit under a city-level unit such as 500100 that itself sits under the
// province-level 500000). Boundaries, where given, must be valid. The input is not retained.
func New(units []Unit) (*Hierarchy, error) {
	h := &Hierarchy{
		units:  make([]Unit, len(units)),
		byCode: make(map[Code]int32, len(units)),
	}
	copy(h.units, units)
	for _, u := range h.units {
		if _, err := ParseCode(string(u.Code)); err != nil {
			return nil, &UnitError{Code: string(u.Code), Reason: "bad code", Err: err}
		}
		if strings.TrimSpace(u.Name) == "" {
			return nil, &UnitError{Code: string(u.Code), Reason: "empty name"}
		}
		if u.Boundary != nil {
			if err := u.Boundary.Validate(); err != nil {
				return nil, &UnitError{Code: string(u.Code), Reason: "bad boundary", Err: err}
			}
		}
	}
	slices.SortFunc(h.units, func(a, b Unit) int { return strings.Compare(string(a.Code), string(b.Code)) })
	for i, u := range h.units {
		if _, dup := h.byCode[u.Code]; dup {
			return nil, &UnitError{Code: string(u.Code), Reason: "duplicate code"}
		}
		h.byCode[u.Code] = int32(i)
	}
	h.paths = make([][]Code, len(h.units))
	h.children = make(map[Code][]int32)
	for i, u := range h.units {
		if err := h.checkParent(u); err != nil {
			return nil, err
		}
		if u.Parent == "" {
			h.roots = append(h.roots, u.Code)
		} else {
			h.children[u.Parent] = append(h.children[u.Parent], int32(i))
		}
		if u.Boundary != nil {
			b := u.Boundary.BBox()
			h.tree.Insert([2]float64{b.MinLon, b.MinLat}, [2]float64{b.MaxLon, b.MaxLat}, int32(i))
		}
	}
	for i := range h.units {
		h.paths[i] = h.buildPath(i)
	}
	return h, nil
}

func (h *Hierarchy) checkParent(u Unit) error {
	if u.Parent == "" {
		if u.Level() != City {
			return &UnitError{Code: string(u.Code), Reason: "only a city may have no parent"}
		}
		return nil
	}
	pi, ok := h.byCode[u.Parent]
	if !ok {
		return &UnitError{Code: string(u.Code), Reason: fmt.Sprintf("parent %s is not in the hierarchy", u.Parent), Err: ErrUnknownCode}
	}
	parent := h.units[pi]
	if want, ok := u.Code.structuralParent(); ok && want != u.Parent {
		return &UnitError{Code: string(u.Code), Reason: fmt.Sprintf("parent must be %s, the code's prefix, not %s", want, u.Parent)}
	}
	// A parent's significant prefix is strictly shorter than its child's:
	// this also lets a city-level 500100 sit under the province-level 500000.
	if len(parent.Code.significant()) >= len(u.Code.significant()) || !u.Code.Within(parent.Code) {
		return &UnitError{Code: string(u.Code), Reason: fmt.Sprintf("%s %s cannot contain %s %s", parent.Level(), parent.Code, u.Level(), u.Code)}
	}
	return nil
}

func (h *Hierarchy) buildPath(i int) []Code {
	var rev []Code
	for c := h.units[i].Code; c != ""; c = h.units[h.byCode[c]].Parent {
		rev = append(rev, c)
	}
	slices.Reverse(rev)
	return slices.Clip(rev)
}

// Len returns the number of units.
func (h *Hierarchy) Len() int { return len(h.units) }

// Roots returns the codes of the top-level cities.
func (h *Hierarchy) Roots() []Code { return slices.Clone(h.roots) }

// Unit returns the unit with the given code.
func (h *Hierarchy) Unit(code Code) (Unit, error) {
	i, ok := h.byCode[code]
	if !ok {
		return Unit{}, fmt.Errorf("%w: %q", ErrUnknownCode, string(code))
	}
	return h.units[i], nil
}

// Path returns the codes from the top-level city down to code, inclusive:
// the "resolved grid path" that incidents and devices carry.
func (h *Hierarchy) Path(code Code) ([]Code, error) {
	i, ok := h.byCode[code]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownCode, string(code))
	}
	return slices.Clone(h.paths[i]), nil
}

// Children returns the units directly below code, in code order.
func (h *Hierarchy) Children(code Code) ([]Unit, error) {
	if _, ok := h.byCode[code]; !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownCode, string(code))
	}
	out := make([]Unit, len(h.children[code]))
	for k, i := range h.children[code] {
		out[k] = h.units[i]
	}
	return out, nil
}

// Descendants calls fn, in code order, for every unit strictly below code
// whose level is level (or every level, if level is 0), until fn returns
// false. "All grids under a street" is Descendants(street, Grid, fn).
func (h *Hierarchy) Descendants(code Code, level Level, fn func(Unit) bool) error {
	i, ok := h.byCode[code]
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownCode, string(code))
	}
	prefix := code.significant()
	// Units are sorted by code, so the subtree is the run of codes sharing
	// the prefix; it begins at the first code not below the prefix.
	start := sort.Search(len(h.units), func(j int) bool { return string(h.units[j].Code) >= prefix })
	for j := start; j < len(h.units) && strings.HasPrefix(string(h.units[j].Code), prefix); j++ {
		u := h.units[j]
		if j == int(i) || (level != 0 && u.Level() != level) || !h.below(j, code) {
			continue
		}
		if !fn(u) {
			break
		}
	}
	return nil
}

// below reports whether units[j] has code among its ancestors. The prefix
// rule alone is not enough where a hierarchy holds both a province-level and
// a city-level unit (500000 and 500100).
func (h *Hierarchy) below(j int, code Code) bool {
	return slices.Contains(h.paths[j], code)
}

// Locate returns the deepest unit whose boundary contains p, normally a grid,
// or ErrNotLocated. Where boundaries of one level overlap (a data error) the
// unit with the lowest code wins, so the answer is stable.
func (h *Hierarchy) Locate(p geo.Point) (Unit, error) {
	if err := p.Validate(); err != nil {
		return Unit{}, err
	}
	best := int32(-1)
	h.tree.Search([2]float64{p.Lon, p.Lat}, [2]float64{p.Lon, p.Lat}, func(_, _ [2]float64, i int32) bool {
		u := &h.units[i]
		if best >= 0 {
			b := &h.units[best]
			if u.Level() < b.Level() || (u.Level() == b.Level() && u.Code > b.Code) {
				return true
			}
		}
		if u.Boundary.Contains(p) {
			best = i
		}
		return true
	})
	if best < 0 {
		return Unit{}, fmt.Errorf("%w: %v", ErrNotLocated, p)
	}
	return h.units[best], nil
}

// LocatePath is Locate followed by Path.
func (h *Hierarchy) LocatePath(p geo.Point) ([]Code, error) {
	u, err := h.Locate(p)
	if err != nil {
		return nil, err
	}
	return slices.Clone(h.paths[h.byCode[u.Code]]), nil
}
