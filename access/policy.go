package access

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
)

// ErrInvalidPolicy is matched by every error from loading or building a
// policy.
var ErrInvalidPolicy = errors.New("access: invalid policy")

// PolicyError says where in a policy the problem is, e.g.
// `roles["street-officer"][2].action`.
type PolicyError struct {
	Path   string
	Reason string
	Err    error // an underlying JSON error, if any
}

// Error describes the problem.
func (e *PolicyError) Error() string {
	msg := "access: invalid policy"
	if e.Path != "" {
		msg += " at " + e.Path
	}
	msg += ": " + e.Reason
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap lets errors.Is match ErrInvalidPolicy and the JSON cause.
func (e *PolicyError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrInvalidPolicy, e.Err}
	}
	return []error{ErrInvalidPolicy}
}

// Wildcard in a grant's Action or Resource matches any value.
const Wildcard = "*"

// Grant allows one action on one kind of resource, always within the
// actor's jurisdiction, and optionally only within the actor's department
// or only on resources the actor owns.
type Grant struct {
	Action   string `json:"action"`   // e.g. "verify", or "*"
	Resource string `json:"resource"` // e.g. "incident", or "*"
	// SameDepartment limits the grant to resources of the actor's
	// department: a water-company handler works the water company's orders.
	SameDepartment bool `json:"same_department,omitempty"`
	// OwnOnly limits the grant to resources whose Owner is the actor: a
	// citizen reads their own reports.
	OwnOnly bool `json:"own_only,omitempty"`
}

// String describes the grant, such as "read incident (own only)".
func (g Grant) String() string {
	s := g.Action + " " + g.Resource
	if g.SameDepartment {
		s += " (same department)"
	}
	if g.OwnOnly {
		s += " (own only)"
	}
	return s
}

// PolicyVersion is the version of the JSON format ReadPolicy accepts.
const PolicyVersion = 1

// policyDoc is the JSON form:
//
//	{"version": 1, "roles": {"street-officer": [{"action": "assign", "resource": "work-order"}]}}
type policyDoc struct {
	Version int                `json:"version"`
	Roles   map[string][]Grant `json:"roles"`
}

// Policy is a validated, immutable set of grants per role. It is an
// Authorizer and safe for concurrent use.
type Policy struct {
	roles map[string][]Grant
	index map[grantKey][]*Grant // (role, resource, action) → grants
	wild  map[string]bool       // roles with a wildcard grant
}

type grantKey struct{ role, resource, action string }

// ReadPolicy reads a policy from JSON (see policyDoc), rejecting unknown
// fields, a wrong version and every malformed grant with a *PolicyError.
// Input is limited to 4 MiB.
func ReadPolicy(r io.Reader) (*Policy, error) {
	data, err := io.ReadAll(io.LimitReader(r, 4<<20+1))
	if err != nil {
		return nil, &PolicyError{Reason: "read failed", Err: err}
	}
	if len(data) > 4<<20 {
		return nil, &PolicyError{Reason: "larger than 4 MiB"}
	}
	return ParsePolicy(data)
}

// ParsePolicy is ReadPolicy on a byte slice.
func ParsePolicy(data []byte) (*Policy, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var doc policyDoc
	if err := dec.Decode(&doc); err != nil {
		return nil, &PolicyError{Reason: "not a policy document", Err: err}
	}
	if dec.More() {
		return nil, &PolicyError{Reason: "trailing data after the policy document"}
	}
	if doc.Version != PolicyVersion {
		return nil, &PolicyError{Path: "version", Reason: fmt.Sprintf("got %d, want %d", doc.Version, PolicyVersion)}
	}
	return NewPolicy(doc.Roles)
}

// NewPolicy validates roles and builds a policy. Role names, actions and
// resources are lower-case tokens of letters, digits, '-', '_' and '.';
// actions and resources may also be "*". A role may not list the same
// grant twice.
func NewPolicy(roles map[string][]Grant) (*Policy, error) {
	if len(roles) == 0 {
		return nil, &PolicyError{Path: "roles", Reason: "no roles: a policy that allows nothing is a mistake"}
	}
	p := &Policy{roles: make(map[string][]Grant, len(roles)), index: map[grantKey][]*Grant{}, wild: map[string]bool{}}
	names := make([]string, 0, len(roles))
	for name := range roles {
		names = append(names, name)
	}
	sort.Strings(names) // report the first problem deterministically
	for _, role := range names {
		path := fmt.Sprintf("roles[%q]", role)
		if !validToken(role, false) {
			return nil, &PolicyError{Path: path, Reason: "role name must be a lower-case token"}
		}
		grants := slices.Clone(roles[role])
		if len(grants) == 0 {
			return nil, &PolicyError{Path: path, Reason: "role has no grants"}
		}
		seen := map[Grant]bool{}
		for i := range grants {
			g := &grants[i]
			gp := fmt.Sprintf("%s[%d]", path, i)
			if !validToken(g.Action, true) {
				return nil, &PolicyError{Path: gp + ".action", Reason: fmt.Sprintf("%q is not a lower-case token or *", g.Action)}
			}
			if !validToken(g.Resource, true) {
				return nil, &PolicyError{Path: gp + ".resource", Reason: fmt.Sprintf("%q is not a lower-case token or *", g.Resource)}
			}
			if seen[*g] {
				return nil, &PolicyError{Path: gp, Reason: "duplicate grant " + g.String()}
			}
			seen[*g] = true
			k := grantKey{role, g.Resource, g.Action}
			p.index[k] = append(p.index[k], g)
			if g.Action == Wildcard || g.Resource == Wildcard {
				p.wild[role] = true
			}
		}
		p.roles[role] = grants
	}
	return p, nil
}

func validToken(s string, wildcard bool) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	if wildcard && s == Wildcard {
		return true
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// Roles returns the policy's role names, sorted.
func (p *Policy) Roles() []string {
	names := make([]string, 0, len(p.roles))
	for name := range p.roles {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Grants returns a copy of the grants of role.
func (p *Policy) Grants(role string) []Grant { return slices.Clone(p.roles[role]) }

// MarshalJSON writes the policy in the form ReadPolicy reads.
func (p *Policy) MarshalJSON() ([]byte, error) {
	return json.Marshal(policyDoc{Version: PolicyVersion, Roles: p.roles})
}

// String summarises the policy for logs.
func (p *Policy) String() string {
	var b strings.Builder
	for _, role := range p.Roles() {
		fmt.Fprintf(&b, "%s: %d grants; ", role, len(p.roles[role]))
	}
	return strings.TrimSuffix(b.String(), "; ")
}
