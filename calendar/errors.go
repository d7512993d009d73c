package calendar

import (
	"errors"
	"fmt"
)

// ErrInvalidConfig is matched by every error from New, Parse and Load about
// the configuration itself, so callers can tell a bad calendar file from an
// I/O failure.
var ErrInvalidConfig = errors.New("calendar: invalid config")

// ErrInvalidDate is matched by every error about text that is not a valid
// "YYYY-MM-DD" date.
var ErrInvalidDate = errors.New("calendar: invalid date")

// ErrInvalidTimeOfDay is matched by every error about text that is not a
// valid "HH:MM" or "HH:MM:SS" time of day.
var ErrInvalidTimeOfDay = errors.New("calendar: invalid time of day")

// ErrNegative is returned by AddWorkingDays and AddWorkingDuration for a
// negative amount. Deadlines only count forwards; a negative SLA is a
// misconfiguration that should surface rather than yield a date in the past.
var ErrNegative = errors.New("calendar: negative working time")

// ConfigError reports what is wrong with a calendar configuration.
type ConfigError struct {
	// Field locates the offending value by its JSON member name, with an
	// index for list elements: "holidays[3]", "hours[1].end". It is empty
	// when the problem is the document as a whole (malformed JSON).
	Field string
	// Reason says what is wrong, for people.
	Reason string
	// Err is the underlying cause, if any: a *ParseError, a JSON decoding
	// error, or the error from time.LoadLocation.
	Err error
}

// Error reads "calendar: invalid config: FIELD: REASON: CAUSE", omitting
// what is empty.
func (e *ConfigError) Error() string {
	msg := "calendar: invalid config"
	if e.Field != "" {
		msg += ": " + e.Field
	}
	msg += ": " + e.Reason
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap lets errors.Is match ErrInvalidConfig and, through Err, the cause
// (ErrInvalidDate, a *json.SyntaxError, ...).
func (e *ConfigError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrInvalidConfig, e.Err}
	}
	return []error{ErrInvalidConfig}
}

// ParseError reports text that ParseDate or ParseTimeOfDay rejected.
type ParseError struct {
	Input  string // the text as given
	Reason string // what is wrong, for people
	Err    error  // ErrInvalidDate or ErrInvalidTimeOfDay
}

// Error reads like: calendar: invalid date "2026-02-30": day out of range for 2026-02.
func (e *ParseError) Error() string {
	return fmt.Sprintf("%v %q: %s", e.Err, e.Input, e.Reason)
}

// Unwrap lets errors.Is(err, ErrInvalidDate) or ErrInvalidTimeOfDay match.
func (e *ParseError) Unwrap() error { return e.Err }
