package codes

import (
	"errors"
	"fmt"
)

// Verification failures. Every error Verify returns matches exactly one
// of them (through a *VerifyError), so that a gate, a platform or an
// enterprise can say why a code was refused without parsing messages.
// CheckInspection and VerifyReceipt add ErrNotAuthorised, which a task
// outside its dates matches together with ErrExpired or ErrNotYetValid.
var (
	// ErrMalformed: the text is not a govkit code: wrong prefix, bad
	// base45, not COSE_Sign1, claims that do not decode or miss a field.
	ErrMalformed = errors.New("codes: malformed code")
	// ErrBadSignature: the signature does not verify with the key named.
	ErrBadSignature = errors.New("codes: bad signature")
	// ErrUnknownKey: the key id is not on the trust list, or the key was
	// not valid for this code (another issuer, another kind, retired
	// before the code was issued).
	ErrUnknownKey = errors.New("codes: unknown key")
	// ErrExpired: the code's validity (or its rotation step) has ended.
	ErrExpired = errors.New("codes: expired")
	// ErrNotYetValid: the code's validity has not begun.
	ErrNotYetValid = errors.New("codes: not yet valid")
	// ErrRevoked: the code's revocation id is revoked, or everything
	// issued to its subject before a time after its issue is.
	ErrRevoked = errors.New("codes: revoked")
	// ErrWrongKind: the code is of another kind than the one asked for, of
	// a kind the verifier does not know, or names another party than the
	// one it is checked against.
	ErrWrongKind = errors.New("codes: wrong kind")
	// ErrStale: the verifier's cached trust list, status list or
	// revocation list is missing or older than its policy allows, or older
	// than the code; it cannot vouch for the code until it refreshes.
	ErrStale = errors.New("codes: verification data too stale")
	// ErrNotAuthorised: in mutual verification, the inspection task is not
	// authorised for this enterprise or this date.
	ErrNotAuthorised = errors.New("codes: task not authorised")
)

// Errors of the Service, the stores and the constructors.
var (
	// ErrInvalid: a request, a key, a list or an option is malformed. The
	// *InputError says which field.
	ErrInvalid = errors.New("codes: invalid input")
	// ErrNotFound: no such code, subject, ledger entry or key.
	ErrNotFound = errors.New("codes: not found")
	// ErrConflict: the record changed since it was read (an optimistic
	// version moved on), or an id is already taken; read again and retry.
	ErrConflict = errors.New("codes: conflict")
	// ErrUnknownKind: the kind is not registered.
	ErrUnknownKind = errors.New("codes: unknown kind")
)

// VerifyError says why a code, a list or a receipt was refused. It
// matches its sentinel (ErrMalformed, ErrBadSignature, …) with errors.Is.
type VerifyError struct {
	Err    error  // the sentinel
	Reason string // what exactly, for logs; never personal data
	KeyID  KeyID  // the key named by the code, when it got that far
	// Cause is a second sentinel some failures also match: a task outside
	// its dates is ErrNotAuthorised with Cause ErrExpired or ErrNotYetValid.
	Cause error
}

// Error describes the problem.
func (e *VerifyError) Error() string {
	if e.Reason == "" {
		return e.Err.Error()
	}
	return e.Err.Error() + ": " + e.Reason
}

// Unwrap returns the sentinel, and the cause if there is one.
func (e *VerifyError) Unwrap() []error {
	if e.Cause != nil {
		return []error{e.Err, e.Cause}
	}
	return []error{e.Err}
}

func verr(sentinel error, format string, args ...any) *VerifyError {
	return &VerifyError{Err: sentinel, Reason: fmt.Sprintf(format, args...)}
}

// InputError names the field of a request that is at fault.
type InputError struct {
	Field  string
	Reason string
	Err    error // an underlying cause, if any
}

// Error describes the problem.
func (e *InputError) Error() string {
	msg := "codes: invalid " + e.Field + ": " + e.Reason
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap matches ErrInvalid and the cause.
func (e *InputError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrInvalid, e.Err}
	}
	return []error{ErrInvalid}
}

func invalid(field, format string, args ...any) *InputError {
	return &InputError{Field: field, Reason: fmt.Sprintf(format, args...)}
}
