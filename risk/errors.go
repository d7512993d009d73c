package risk

import (
	"errors"
	"fmt"

	"github.com/google/uuid"
)

// Errors every Store and the Service return, whatever the storage. Typed
// errors below unwrap to them, so errors.Is works on every path.
var (
	// ErrNotFound: no risk point, building, warning, enterprise or
	// inspection with that ID.
	ErrNotFound = errors.New("risk: not found")
	// ErrConflict: the record changed since it was read (its version moved
	// on); read it again and retry.
	ErrConflict = errors.New("risk: version conflict")
	// ErrDuplicateID: a record with that ID already exists.
	ErrDuplicateID = errors.New("risk: duplicate ID")
	// ErrInvalidInput: a command, configuration or assessment input is
	// malformed. *InputError says which field.
	ErrInvalidInput = errors.New("risk: invalid input")
	// ErrMissingInput: an assessment method lacks an input it needs.
	ErrMissingInput = errors.New("risk: missing input")
	// ErrUnknownClass: a hazard class is not in the catalogue.
	ErrUnknownClass = errors.New("risk: unknown hazard class")
	// ErrUnknownMethod: no assessment method is registered under that name.
	ErrUnknownMethod = errors.New("risk: unknown assessment method")
	// ErrUnknownSubstance: a substance is not in the GB 18218 table in use.
	ErrUnknownSubstance = errors.New("risk: unknown substance")
	// ErrInvalidQuery: a query is malformed.
	ErrInvalidQuery = errors.New("risk: invalid query")
	// ErrInvalidTransition: the lifecycle of an inspection or a
	// rectification does not allow the step.
	ErrInvalidTransition = errors.New("risk: invalid transition")
)

// InputError names the field of a command or input that is at fault. It
// matches ErrInvalidInput, or ErrMissingInput when Missing is set, and the
// underlying cause (a *geo.CoordinateError, say).
type InputError struct {
	Field   string
	Reason  string
	Missing bool  // the field is required and absent
	Err     error // an underlying cause, if any
}

// Error describes the problem.
func (e *InputError) Error() string {
	kind := "invalid"
	if e.Missing {
		kind = "missing"
	}
	msg := "risk: " + kind + " " + e.Field
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap matches ErrInvalidInput or ErrMissingInput, and the cause.
func (e *InputError) Unwrap() []error {
	first := ErrInvalidInput
	if e.Missing {
		first = ErrMissingInput
	}
	if e.Err != nil {
		return []error{first, e.Err}
	}
	return []error{first}
}

func invalid(field, format string, args ...any) *InputError {
	return &InputError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

func missing(field, reason string) *InputError {
	return &InputError{Field: field, Reason: reason, Missing: true}
}

// ClassError reports a hazard class the catalogue does not know.
type ClassError struct{ Class string }

// Error describes the problem.
func (e *ClassError) Error() string { return fmt.Sprintf("risk: unknown hazard class %q", e.Class) }

// Unwrap lets errors.Is(err, ErrUnknownClass) match.
func (e *ClassError) Unwrap() error { return ErrUnknownClass }

// TransitionError says which step a lifecycle refused.
type TransitionError struct {
	ID       uuid.UUID
	What     string // "inspection", "rectification"
	From, To string
	Reason   string
}

// Error describes the problem.
func (e *TransitionError) Error() string {
	msg := fmt.Sprintf("risk: %s %s cannot go from %s to %s", e.What, e.ID, e.From, e.To)
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	return msg
}

// Unwrap lets errors.Is(err, ErrInvalidTransition) match.
func (e *TransitionError) Unwrap() error { return ErrInvalidTransition }
