package open311

import (
	"errors"
	"strconv"
)

// ErrInvalidRequest is matched by every error about a malformed Open311
// body: a POST service request or a list of service requests.
var ErrInvalidRequest = errors.New("open311: invalid request")

// ErrUnknownStatus is matched by every error about a status that is
// neither open/closed nor one of the extended statuses.
var ErrUnknownStatus = errors.New("open311: unknown status")

// FieldError names the Open311 field at fault and why. Field is the name
// the client used ("service_code", "lat", "attribute[volume]"), "body" for
// the body as a whole, or an index and a name ("[3].status") in a list.
//
// Reason never repeats a value sent in phone, first_name, last_name or
// email: such values are personal data, and an error ends up in logs. Err,
// when set, is a cause that obeys the same rule (a *pii.Error, a
// *geo.CoordinateError, a *StatusError).
type FieldError struct {
	Field  string
	Reason string
	Err    error
}

// Error describes the problem, e.g. "open311: invalid request: lat: not a number".
func (e *FieldError) Error() string {
	msg := "open311: invalid request: " + e.Field + ": " + e.Reason
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap matches ErrInvalidRequest and the cause, if any.
func (e *FieldError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrInvalidRequest, e.Err}
	}
	return []error{ErrInvalidRequest}
}

// StatusError reports a status ParseExtendedStatus does not know.
type StatusError struct {
	Status string // as given, cut to 40 bytes
}

// Error names the status and the accepted ones.
func (e *StatusError) Error() string {
	return "open311: unknown status " + strconv.Quote(e.Status) +
		" (want open, closed or an extended status such as IN_PROGRESS or FIXED)"
}

// Unwrap lets errors.Is(err, ErrUnknownStatus) match.
func (e *StatusError) Unwrap() error { return ErrUnknownStatus }
