package permit

import (
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
)

// Errors every Store and the Service return, whatever the storage. Typed
// errors below unwrap to them, so errors.Is works everywhere.
var (
	// ErrNotFound: no record with that ID (or key).
	ErrNotFound = errors.New("permit: not found")
	// ErrConflict: the record changed since it was read (its version moved
	// on), or a record was created twice; read it again and retry.
	ErrConflict = errors.New("permit: version conflict")
	// ErrDuplicateKey: an idempotency key is already held by another record.
	ErrDuplicateKey = errors.New("permit: duplicate idempotency key")
	// ErrInvalidTemplate: a bundle template is malformed.
	ErrInvalidTemplate = errors.New("permit: invalid template")
	// ErrInvalidForm: answers or documents failed validation; a *FormError
	// lists every field at fault.
	ErrInvalidForm = errors.New("permit: invalid form")
	// ErrInvalidCommand: a request is malformed (missing ID, unknown item,
	// bad window, …).
	ErrInvalidCommand = errors.New("permit: invalid command")
	// ErrInvalidTransition: the state of the application, item or works
	// does not allow the command.
	ErrInvalidTransition = errors.New("permit: invalid transition")
	// ErrInvalidQuery: a store query is malformed.
	ErrInvalidQuery = errors.New("permit: invalid query")
	// ErrMoratorium: road works fall inside a moratorium on the segment.
	ErrMoratorium = errors.New("permit: segment under moratorium")
)

// TemplateError names the part of a template that is at fault, as a path
// such as "items[2].needs[0]".
type TemplateError struct {
	Template string
	Path     string
	Reason   string
}

// Error describes the problem.
func (e *TemplateError) Error() string {
	return fmt.Sprintf("permit: invalid template %q: %s: %s", e.Template, e.Path, e.Reason)
}

// Unwrap lets errors.Is(err, ErrInvalidTemplate) match.
func (e *TemplateError) Unwrap() error { return ErrInvalidTemplate }

// Problem is one field or document at fault. Field is a field ID, or
// "documents.<id>" for a document, or a request member such as
// "on_behalf.relationship". Reasons never repeat the value, which may be
// personal data.
type Problem struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// FormError lists every problem found in a form, so that an applicant can
// fix them all at once. Nothing was changed.
type FormError struct {
	Problems []Problem
}

// Error describes the problems.
func (e *FormError) Error() string {
	var b strings.Builder
	b.WriteString("permit: invalid form:")
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(" ")
		b.WriteString(p.Field)
		b.WriteString(": ")
		b.WriteString(p.Reason)
	}
	return b.String()
}

// Unwrap lets errors.Is(err, ErrInvalidForm) match.
func (e *FormError) Unwrap() error { return ErrInvalidForm }

// Fields returns the IDs of the fields at fault, in order.
func (e *FormError) Fields() []string {
	out := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		out[i] = p.Field
	}
	return out
}

// formErrors collects problems.
type formErrors []Problem

func (f *formErrors) add(field, format string, args ...any) {
	*f = append(*f, Problem{Field: field, Reason: fmt.Sprintf(format, args...)})
}

func (f formErrors) err() error {
	if len(f) == 0 {
		return nil
	}
	return &FormError{Problems: f}
}

// CommandError names the member of a request that is at fault.
type CommandError struct {
	Field  string
	Reason string
	Err    error // an underlying cause, e.g. a geo or region error
}

// Error describes the problem.
func (e *CommandError) Error() string {
	msg := "permit: invalid " + e.Field + ": " + e.Reason
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap matches ErrInvalidCommand and the cause.
func (e *CommandError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrInvalidCommand, e.Err}
	}
	return []error{ErrInvalidCommand}
}

func badCommand(field, format string, args ...any) error {
	return &CommandError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// TransitionError says which command the state refused, and why.
type TransitionError struct {
	What   string // "application 0190…", "item hukou of application 0190…"
	State  string // the state it is in
	Action string // what was attempted
	Reason string
}

// Error describes the problem.
func (e *TransitionError) Error() string {
	msg := fmt.Sprintf("permit: cannot %s %s in state %s", e.Action, e.What, e.State)
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	return msg
}

// Unwrap lets errors.Is(err, ErrInvalidTransition) match.
func (e *TransitionError) Unwrap() error { return ErrInvalidTransition }

// DuplicateKeyError names the record that already holds an idempotency key.
type DuplicateKeyError struct {
	Key      string
	Existing uuid.UUID
}

// Error describes the problem.
func (e *DuplicateKeyError) Error() string {
	return fmt.Sprintf("permit: idempotency key %q already used by %s", e.Key, e.Existing)
}

// Unwrap lets errors.Is(err, ErrDuplicateKey) match.
func (e *DuplicateKeyError) Unwrap() error { return ErrDuplicateKey }

// MoratoriumError says which moratorium refused road works.
type MoratoriumError struct {
	Segment    string
	Moratorium uuid.UUID
	Until      string // RFC 3339
	Cause      string
}

// Error describes the problem.
func (e *MoratoriumError) Error() string {
	return fmt.Sprintf("permit: segment %s is under a moratorium until %s (%s); only emergency works may dig",
		e.Segment, e.Until, e.Cause)
}

// Unwrap lets errors.Is(err, ErrMoratorium) match.
func (e *MoratoriumError) Unwrap() error { return ErrMoratorium }
