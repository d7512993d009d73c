package codes

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Kind says what a code identifies. It travels in every code as a small
// integer; a Registry gives it a name, a lifetime, whether it rotates or
// carries a live colour, and a check of its kind-specific claims.
type Kind uint16

// The built-in kinds, from the scenarios govkit carries.
const (
	// Listing is the short-term rental listing code 房源码 (S1): one code
	// per reviewed room, shown and verified by every platform, with a
	// live colour from the room's points ledger. Data: ListingClaims.
	Listing Kind = 1
	// Worker is the gig-worker code 惠新码 (S13): a delivery rider's code
	// that a guard scans at a compound gate. It rotates every few
	// minutes, so that a screenshot soon stops working. Data:
	// WorkerClaims.
	Worker Kind = 2
	// Enforcement is the enforcement code 执法码 (S7): it names an
	// inspection task, the agency, the inspector and the target
	// enterprise, and is valid only on the task's dates. Data:
	// EnforcementClaims.
	Enforcement Kind = 3
	// Enterprise is the enterprise code 企业码 (S7), with the enterprise's
	// live red/yellow/green tier. Data: EnterpriseClaims.
	Enterprise Kind = 4
)

// FirstCustomKind is the smallest Kind an application may register; the
// kinds below it are govkit's.
const FirstCustomKind Kind = 1000

// String returns the built-in kind's name, or "kind(N)" for another; a
// Registry knows the names of the kinds it holds.
func (k Kind) String() string {
	switch k {
	case Listing:
		return "listing"
	case Worker:
		return "worker"
	case Enforcement:
		return "enforcement"
	case Enterprise:
		return "enterprise"
	}
	return fmt.Sprintf("kind(%d)", uint16(k))
}

// KindSpec describes a kind of code.
type KindSpec struct {
	Kind  Kind
	Name  string // short ASCII name, e.g. "listing"; unique in a registry
	Title string // what people call it, e.g. "房源码"
	// Lifetime is how long a code is valid when the request does not say
	// (not used by rotating kinds).
	Lifetime time.Duration
	// Rotation, if set, makes codes of this kind rotate: each code is
	// valid for one step of this length, whose number is signed inside it,
	// so that a screenshot stops working after a step while verification
	// stays offline. At least one minute.
	Rotation time.Duration
	// Status says whether codes of this kind show a live colour, which a
	// verifier takes from a signed status list (never from the code).
	Status bool
	// Validate checks the kind-specific claims (Claims.Data, CBOR) when a
	// code is issued and when it is verified; nil accepts anything.
	Validate func(data []byte) error
}

// maxLifetime bounds every code's validity: a code lives at most this
// long, so that the signing keys can be rotated within it.
const maxLifetime = 5 * 366 * 24 * time.Hour

func (s KindSpec) validate() error {
	switch {
	case s.Kind == 0:
		return invalid("kind", "zero")
	case s.Name == "" || len(s.Name) > 32 || strings.ContainsFunc(s.Name, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-')
	}):
		return invalid("kind name", "%q is not 1–32 of [a-z0-9-]", s.Name)
	case s.Rotation != 0 && (s.Rotation < time.Minute || s.Rotation > 24*time.Hour || s.Rotation%time.Second != 0):
		return invalid("kind rotation", "%v is not whole seconds between 1m and 24h", s.Rotation)
	case s.Rotation == 0 && (s.Lifetime <= 0 || s.Lifetime > maxLifetime):
		return invalid("kind lifetime", "%v is not within (0, 5 years]", s.Lifetime)
	}
	return nil
}

// Registry holds the kinds an issuer or a verifier knows. NewRegistry
// starts it with the built-in kinds; Register adds an application's own.
// It is safe for concurrent use, and lookups take no lock.
type Registry struct {
	mu    sync.Mutex // serialises Register
	specs atomic.Pointer[map[Kind]KindSpec]
}

// NewRegistry returns a registry holding the built-in kinds: Listing
// (one year), Worker (rotating every 5 minutes, with status), Enforcement
// (one day unless the request says otherwise) and Enterprise (one year).
func NewRegistry() *Registry {
	r := &Registry{}
	m := map[Kind]KindSpec{
		Listing: {Kind: Listing, Name: "listing", Title: "房源码", Lifetime: 365 * 24 * time.Hour,
			Status: true, Validate: validateData(func(c *ListingClaims) error { return c.validate() })},
		Worker: {Kind: Worker, Name: "worker", Title: "惠新码", Rotation: 5 * time.Minute,
			Status: true, Validate: validateData(func(c *WorkerClaims) error { return c.validate() })},
		Enforcement: {Kind: Enforcement, Name: "enforcement", Title: "执法码", Lifetime: 24 * time.Hour,
			Validate: validateData(func(c *EnforcementClaims) error { return c.validate() })},
		Enterprise: {Kind: Enterprise, Name: "enterprise", Title: "企业码", Lifetime: 365 * 24 * time.Hour,
			Status: true, Validate: validateData(func(c *EnterpriseClaims) error { return c.validate() })},
	}
	r.specs.Store(&m)
	return r
}

// Register adds an application's kind. Its number must be at least
// FirstCustomKind and, like its name, not yet taken.
func (r *Registry) Register(spec KindSpec) error {
	if err := spec.validate(); err != nil {
		return err
	}
	if spec.Kind < FirstCustomKind {
		return invalid("kind", "%d is below FirstCustomKind (%d), which govkit keeps", spec.Kind, FirstCustomKind)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	old := *r.specs.Load()
	for _, s := range old {
		if s.Kind == spec.Kind || s.Name == spec.Name {
			return &InputError{Field: "kind", Reason: fmt.Sprintf("%d %q is already registered as %d %q", spec.Kind, spec.Name, s.Kind, s.Name), Err: ErrConflict}
		}
	}
	m := maps.Clone(old)
	m[spec.Kind] = spec
	r.specs.Store(&m)
	return nil
}

// Spec returns the kind's description.
func (r *Registry) Spec(k Kind) (KindSpec, bool) {
	s, ok := (*r.specs.Load())[k]
	return s, ok
}

// Kinds returns every registered kind's description, in kind order.
func (r *Registry) Kinds() []KindSpec {
	m := *r.specs.Load()
	out := make([]KindSpec, 0, len(m))
	for _, s := range m {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b KindSpec) int { return int(a.Kind) - int(b.Kind) })
	return out
}

// Name returns the kind's registered name, or Kind.String.
func (r *Registry) Name(k Kind) string {
	if s, ok := r.Spec(k); ok {
		return s.Name
	}
	return k.String()
}

// validateData turns a check of a typed claims struct into a
// KindSpec.Validate.
func validateData[T any](check func(*T) error) func([]byte) error {
	return func(data []byte) error {
		var v T
		if err := DecodeData(data, &v); err != nil {
			return err
		}
		return check(&v)
	}
}

// ValidateData returns a KindSpec.Validate for an application's kind: it
// decodes the claims into a T (a struct with `cbor:"N,keyasint"` tags)
// and, if check is not nil, checks them.
func ValidateData[T any](check func(*T) error) func([]byte) error {
	if check == nil {
		check = func(*T) error { return nil }
	}
	return validateData(check)
}
