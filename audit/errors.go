package audit

import (
	"errors"
	"fmt"
)

// ErrConflict is matched by the error a [Store] returns when an appended
// entry does not follow the log's head exactly: its Seq is not the head's
// plus one, or its PrevHash is not the head's Hash. Nothing was stored. See
// [ConflictError].
var ErrConflict = errors.New("audit: entry does not follow the head of the log")

// ErrTampered is matched by the error [Log.Verify] returns when the stored
// chain is broken: an entry was edited, removed, inserted or reordered. See
// [TamperError].
var ErrTampered = errors.New("audit: log has been tampered with")

// ErrInvalidEntry is matched by every error about an entry that is rejected
// before anything is stored: a missing Action or ResourceKind, text that is
// not valid UTF-8, or (at [Store.Append]) a malformed seal. See [EntryError].
var ErrInvalidEntry = errors.New("audit: invalid entry")

// ErrInvalidArgument is matched by errors about an argument that cannot be
// used: a nil store or clock given to [New], a negative limit, a time window
// that ends before it starts. See [ArgumentError].
var ErrInvalidArgument = errors.New("audit: invalid argument")

// ConflictError reports an entry that a [Store] refused because it does not
// follow the head. Seq is the entry's, HeadSeq the head's at the time (0 for
// an empty log, or when the store could not tell).
type ConflictError struct {
	Seq     uint64
	HeadSeq uint64
	Reason  string
}

// Error describes the conflict.
func (e *ConflictError) Error() string {
	return fmt.Sprintf("audit: entry %d does not follow head %d: %s", e.Seq, e.HeadSeq, e.Reason)
}

// Unwrap lets errors.Is(err, ErrConflict) match.
func (e *ConflictError) Unwrap() error { return ErrConflict }

// TamperError reports the first place where [Log.Verify] found the chain
// broken. Seq is the sequence number at which the problem shows: the edited
// entry, or the number that is missing.
type TamperError struct {
	Seq    uint64
	Reason string
}

// Error describes the problem.
func (e *TamperError) Error() string {
	return fmt.Sprintf("audit: log tampered at entry %d: %s", e.Seq, e.Reason)
}

// Unwrap lets errors.Is(err, ErrTampered) match.
func (e *TamperError) Unwrap() error { return ErrTampered }

// EntryError reports why an entry was rejected. Field names the Entry field
// at fault. Seq is the entry's sequence number, 0 when it had none yet (an
// entry given to [Log.Record]).
type EntryError struct {
	Seq    uint64
	Field  string
	Reason string
}

// Error describes the problem.
func (e *EntryError) Error() string {
	if e.Seq == 0 {
		return fmt.Sprintf("audit: invalid entry: %s %s", e.Field, e.Reason)
	}
	return fmt.Sprintf("audit: invalid entry %d: %s %s", e.Seq, e.Field, e.Reason)
}

// Unwrap lets errors.Is(err, ErrInvalidEntry) match.
func (e *EntryError) Unwrap() error { return ErrInvalidEntry }

// ArgumentError reports an argument that cannot be used. Name is the
// parameter or field, such as "store" or "Query.Limit".
type ArgumentError struct {
	Name   string
	Reason string
}

// Error describes the problem.
func (e *ArgumentError) Error() string {
	return fmt.Sprintf("audit: invalid argument %s: %s", e.Name, e.Reason)
}

// Unwrap lets errors.Is(err, ErrInvalidArgument) match.
func (e *ArgumentError) Unwrap() error { return ErrInvalidArgument }
