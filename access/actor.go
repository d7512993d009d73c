package access

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/govkit/govkit/region"
)

// ErrNoActor is returned where a call needs to know who is acting and the
// context carries no actor.
var ErrNoActor = errors.New("access: no actor in context")

// ErrInvalidActor is matched by every error about a malformed actor.
var ErrInvalidActor = errors.New("access: invalid actor")

// Kind is what sort of person or system an actor is.
type Kind int8

// Actor kinds: people in governance roles, citizens, and the systems that
// report or act on their own.
const (
	Citizen Kind = iota + 1
	GridMember
	StreetStaff
	DistrictStaff
	CityStaff
	DepartmentHandler
	Inspector
	Supervisor
	PlatformOperator // a rental or delivery platform, say, that must verify codes
	Auditor
	SensorSystem
	VideoAISystem
	AutomationSystem
)

var kindNames = [...]string{
	Citizen: "citizen", GridMember: "grid-member", StreetStaff: "street-staff",
	DistrictStaff: "district-staff", CityStaff: "city-staff", DepartmentHandler: "department-handler",
	Inspector: "inspector", Supervisor: "supervisor", PlatformOperator: "platform-operator",
	Auditor: "auditor", SensorSystem: "sensor-system", VideoAISystem: "video-ai-system",
	AutomationSystem: "automation-system",
}

// String returns the kind's name, such as "grid-member".
func (k Kind) String() string {
	if k < Citizen || k > AutomationSystem {
		return fmt.Sprintf("Kind(%d)", int8(k))
	}
	return kindNames[k]
}

// ParseKind returns the kind named s.
func ParseKind(s string) (Kind, error) {
	for k := Citizen; k <= AutomationSystem; k++ {
		if kindNames[k] == s {
			return k, nil
		}
	}
	return 0, fmt.Errorf("%w: unknown kind %q", ErrInvalidActor, s)
}

// IsSystem reports whether k is a machine rather than a person.
func (k Kind) IsSystem() bool { return k >= SensorSystem && k <= AutomationSystem }

// Actor is the person or system on whose behalf a call is made. It carries
// no personal data: ID is pseudonymous, and services that need a name or a
// phone number look it up under a permission.
type Actor struct {
	ID         string      // pseudonymous and stable, e.g. a UUID
	Kind       Kind        // what sort of actor
	Department string      // e.g. "city-management"; empty if none
	Scope      region.Code // the jurisdiction subtree the actor may act in
	Roles      []string    // the policy roles the actor holds
}

// Validate reports whether a is usable: an ID, a known kind and a valid
// scope code.
func (a Actor) Validate() error {
	switch {
	case a.ID == "":
		return fmt.Errorf("%w: empty ID", ErrInvalidActor)
	case a.Kind < Citizen || a.Kind > AutomationSystem:
		return fmt.Errorf("%w %s: unknown kind %d", ErrInvalidActor, a.ID, a.Kind)
	}
	if _, err := region.ParseCode(string(a.Scope)); err != nil {
		return fmt.Errorf("%w %s: scope: %w", ErrInvalidActor, a.ID, err)
	}
	return nil
}

// String identifies the actor for logs, without personal data.
func (a Actor) String() string {
	return fmt.Sprintf("%s %s@%s", a.Kind, a.ID, a.Scope)
}

type actorKey struct{}

// WithActor returns a context carrying a. Services read it with ActorFrom.
func WithActor(ctx context.Context, a Actor) context.Context {
	a.Roles = slices.Clone(a.Roles) // the caller's slice may change later
	return context.WithValue(ctx, actorKey{}, &a)
}

// ActorFrom returns the actor carried by ctx, or ErrNoActor.
func ActorFrom(ctx context.Context) (Actor, error) {
	if a, ok := ctx.Value(actorKey{}).(*Actor); ok {
		return *a, nil
	}
	return Actor{}, ErrNoActor
}

// actorFrom is ActorFrom without the copy, for the authorizer's hot path.
func actorFrom(ctx context.Context) *Actor {
	a, _ := ctx.Value(actorKey{}).(*Actor)
	return a
}
