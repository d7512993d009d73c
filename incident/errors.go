package incident

import (
	"errors"
	"fmt"

	"github.com/google/uuid"
)

// Errors every Store and the Service return, whatever the storage.
var (
	// ErrNotFound: no incident with that ID.
	ErrNotFound = errors.New("incident: not found")
	// ErrConflict: the incident changed since it was read (its version
	// moved on); read it again and retry.
	ErrConflict = errors.New("incident: version conflict")
	// ErrDuplicateID: an incident with that ID already exists.
	ErrDuplicateID = errors.New("incident: duplicate ID")
	// ErrInvalidReport: a report or command is malformed.
	ErrInvalidReport = errors.New("incident: invalid report")
	// ErrInvalidTransition: the lifecycle does not allow the change.
	ErrInvalidTransition = errors.New("incident: invalid transition")
	// ErrInvalidQuery: a query is malformed.
	ErrInvalidQuery = errors.New("incident: invalid query")
	// ErrTampered: a timeline's hash chain does not verify.
	ErrTampered = errors.New("incident: timeline tampered")
)

// TransitionError says which change the lifecycle refused.
type TransitionError struct {
	ID       uuid.UUID
	From, To Status
	Reason   string
}

// Error describes the problem.
func (e *TransitionError) Error() string {
	msg := fmt.Sprintf("incident %s: cannot go from %s to %s", e.ID, e.From, e.To)
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	return msg
}

// Unwrap lets errors.Is(err, ErrInvalidTransition) match.
func (e *TransitionError) Unwrap() error { return ErrInvalidTransition }

// ReportError names the field of a report or command that is at fault.
type ReportError struct {
	Field  string
	Reason string
	Err    error // an underlying cause, e.g. a geo or pii error
}

// Error describes the problem.
func (e *ReportError) Error() string {
	msg := "incident: invalid " + e.Field + ": " + e.Reason
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap matches ErrInvalidReport and the cause.
func (e *ReportError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrInvalidReport, e.Err}
	}
	return []error{ErrInvalidReport}
}
