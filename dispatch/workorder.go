package dispatch

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/govkit/govkit/region"
)

// Errors of work orders, the same whatever the store.
var (
	// ErrNotFound: no work order or case file with that ID.
	ErrNotFound = errors.New("dispatch: not found")
	// ErrConflict: the record changed since it was read.
	ErrConflict = errors.New("dispatch: version conflict")
	// ErrInvalidTransition: the work-order lifecycle does not allow the step.
	ErrInvalidTransition = errors.New("dispatch: invalid transition")
	// ErrInvalidCommand: a command's arguments are malformed.
	ErrInvalidCommand = errors.New("dispatch: invalid command")
	// ErrAlreadyDispatched: the case already has work orders.
	ErrAlreadyDispatched = errors.New("dispatch: case already dispatched")
)

// OrderStatus is where a work order stands.
type OrderStatus int8

// Work-order statuses: offered → signed for (签收) or returned (退回) →
// in progress → done → verified, or back to in progress for rework.
const (
	Offered OrderStatus = iota + 1
	SignedFor
	Returned
	InProgress
	Done
	Verified
	Cancelled // replaced by a reassignment
)

var orderStatusNames = [...]string{
	Offered: "offered", SignedFor: "signed-for", Returned: "returned", InProgress: "in-progress",
	Done: "done", Verified: "verified", Cancelled: "cancelled",
}

// String returns the status name, such as "signed-for".
func (s OrderStatus) String() string {
	if s < Offered || s > Cancelled {
		return fmt.Sprintf("OrderStatus(%d)", int8(s))
	}
	return orderStatusNames[s]
}

// Open reports whether an order in status s still needs work.
func (s OrderStatus) Open() bool { return s == Offered || s == SignedFor || s == InProgress }

// Finished reports whether the order's work is complete.
func (s OrderStatus) Finished() bool { return s == Done || s == Verified }

// OrderKind separates the work of departments from volunteer tasks, which
// follow the same loop: collect → accept → assign → list → evaluate.
type OrderKind int8

// Order kinds.
const (
	Duty      OrderKind = iota + 1 // a department's or team's work
	Volunteer                      // a task listed for volunteers to accept
)

// String returns "duty" or "volunteer".
func (k OrderKind) String() string {
	switch k {
	case Duty:
		return "duty"
	case Volunteer:
		return "volunteer"
	}
	return fmt.Sprintf("OrderKind(%d)", int8(k))
}

// Step is one entry of a work order's history.
type Step struct {
	Time   time.Time
	Actor  string
	Action string // "offer", "sign-for", "return", "chase-up", "escalate", …
	From   OrderStatus
	To     OrderStatus
	Note   string
}

// Extension is a request for more time, and its decision.
type Extension struct {
	ID          uuid.UUID
	RequestedAt time.Time
	RequestedBy string
	Extra       time.Duration // working time asked for
	Reason      string
	Decided     bool
	Approved    bool
	DecidedBy   string
	DecidedAt   time.Time
	Note        string
}

// WorkOrder is one branch of a case: a body's (or a volunteer's) part of
// the work, with its own SLA clock on the business calendar.
type WorkOrder struct {
	ID        uuid.UUID
	Case      string // the incident's ID
	Category  string
	Path      []region.Code // the case's place, city … grid
	Kind      OrderKind
	Body      string // the body that owns the branch
	Responder string // the person who signed for it, if any
	Branch    int    // 0 for the lead's branch (主办), 1… for co-handlers (协办), in rule order
	Lead      bool   // Branch == 0
	Mandatory bool   // the case is disposed only when every mandatory branch is done
	Binding   bool   // assigned by the tier above after repeated returns: cannot be returned
	Rule      string // the routing rule that made it, for indicators and audits
	Playbook  string // the playbook step that made it, if any

	Status    OrderStatus
	Offered   time.Time
	SignedAt  time.Time
	StartedAt time.Time
	DoneAt    time.Time
	// Deadlines, in absolute time, computed in working time.
	SignBy   time.Time // sign for by then
	ReturnBy time.Time // returns are accepted until then
	Deadline time.Time // complete by then
	// Suspension pauses the clock; resuming moves the deadlines on.
	Suspended   bool
	SuspendedAt time.Time
	// Escalation bookkeeping.
	Reminders       int         // sign-for reminders sent
	EscalationLevel int         // levels escalated above the body's tier
	EscalatedTo     region.Code // the unit last escalated to
	NextCheck       time.Time   // when the escalation engine looks again
	// Attention from above.
	ChaseUps     int
	Supervised   bool // 督办: the tier above is watching; distinct from reassignment
	SupervisedBy string
	Extensions   []Extension
	Reworks      int
	Rating       int // 1–5 for evaluated volunteer tasks and branches
	History      []Step
	Version      int64
}

// Clone returns a deep copy.
func (o WorkOrder) Clone() WorkOrder {
	o.Path = slices.Clone(o.Path)
	o.Extensions = slices.Clone(o.Extensions)
	o.History = slices.Clone(o.History)
	return o
}

// Grid returns the deepest unit of the order's place.
func (o *WorkOrder) Grid() region.Code {
	if len(o.Path) == 0 {
		return ""
	}
	return o.Path[len(o.Path)-1]
}

// CaseFile is dispatch's view of one case: its branches, how often it has
// been returned and how much time that cost, and whether the tier above must
// make a binding assignment.
type CaseFile struct {
	Case     string
	Category string
	Path     []region.Code
	Orders   []uuid.UUID
	Returns  int
	// TimeLost is the working time between offers and the returns that
	// undid them: the cost of return ping-pong.
	TimeLost time.Duration
	// BindingUnit is set when repeated returns sent the case up for a
	// binding assignment; it names the unit whose centre must decide.
	BindingUnit region.Code
	Disposed    bool
	DisposedAt  time.Time
	// Playbook is set when the case runs a playbook: which version, the
	// facts its conditions read, and what became of each step.
	Playbook *PlaybookRun
	Version  int64
}

// PlaybookRun is a case's progress through a playbook.
type PlaybookRun struct {
	ID      string
	Version int
	Facts   map[string]string
	// Steps maps each step ID to its state: the work order offered for it,
	// or skipped because its condition did not hold.
	Steps map[string]StepRun
}

// StepRun is one step's state in a playbook run.
type StepRun struct {
	Order   uuid.UUID // zero until offered
	Skipped bool      // its condition did not hold
}

// Clone returns a deep copy.
func (c CaseFile) Clone() CaseFile {
	c.Path = slices.Clone(c.Path)
	c.Orders = slices.Clone(c.Orders)
	if c.Playbook != nil {
		p := *c.Playbook
		p.Facts = maps.Clone(p.Facts)
		p.Steps = maps.Clone(p.Steps)
		c.Playbook = &p
	}
	return c
}

// TransitionError says which step the lifecycle refused.
type TransitionError struct {
	Order    uuid.UUID
	From     OrderStatus
	Action   string
	Reason   string
	Sentinel error // ErrInvalidTransition unless said otherwise
}

// Error describes the problem.
func (e *TransitionError) Error() string {
	msg := fmt.Sprintf("dispatch: work order %s: cannot %s while %s", e.Order, e.Action, e.From)
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	return msg
}

// Unwrap lets errors.Is(err, ErrInvalidTransition) match.
func (e *TransitionError) Unwrap() error {
	if e.Sentinel != nil {
		return e.Sentinel
	}
	return ErrInvalidTransition
}
