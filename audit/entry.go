package audit

import (
	"bytes"
	"crypto/sha256"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/govkit/govkit/internal/hashchain"
	"github.com/govkit/govkit/region"
)

// HashSize is the length in bytes of an entry's Hash and PrevHash (SHA-256).
const HashSize = sha256.Size

// hashVersion is the first byte of every hashed encoding. A change to the
// encoding gets a new version, so old entries keep verifying.
const hashVersion byte = 1

// Entry is one recorded decision. The fields from ActorID to Reason say who
// asked to do what to which resource and how it was decided; Seq, Time,
// PrevHash and Hash place it in the chain and are set by [Log.Record].
type Entry struct {
	// Seq is the entry's position in the log: 1, 2, 3... without gaps.
	Seq uint64
	// Time is when the decision was recorded, in UTC at microsecond
	// precision (what PostgreSQL's timestamptz keeps).
	Time time.Time
	// ActorID is the pseudonymous ID of who asked; empty when no actor was
	// known (a denial for want of one).
	ActorID string
	// ActorKind is the actor's access.Kind name ("street-staff"); optional.
	ActorKind string
	// Action is what was asked, such as "verify". Required.
	Action string
	// ResourceKind is what sort of thing it was asked about, such as
	// "incident". Required.
	ResourceKind string
	// ResourceID identifies the resource; optional.
	ResourceID string
	// Jurisdiction is where the resource lies; optional.
	Jurisdiction region.Code
	// Department owns the resource, if any.
	Department string
	// Allowed is the outcome.
	Allowed bool
	// Reason explains the outcome for people, typically
	// access.Decision.Explain().
	Reason string
	// PrevHash is the Hash of entry Seq-1, or 32 zero bytes for entry 1.
	PrevHash []byte
	// Hash is the SHA-256 of the entry's canonical encoding, which covers
	// every other field, PrevHash included.
	Hash []byte
}

// ComputeHash returns the SHA-256 of e's canonical encoding: a version byte,
// PrevHash, then Seq, Time (as microseconds since the Unix epoch), ActorID,
// ActorKind, Action, ResourceKind, ResourceID, Jurisdiction, Department,
// Allowed and Reason, each length-prefixed or fixed-size, so that no two
// different entries encode alike. e.Hash itself is not covered. Time is
// taken at microsecond precision, so a Time that is not yet truncated
// hashes as it will read back from any store.
func (e Entry) ComputeHash() []byte {
	h := hashchain.New(hashVersion, e.PrevHash)
	h.Uint(e.Seq)
	h.Time(e.Time)
	h.String(e.ActorID)
	h.String(e.ActorKind)
	h.String(e.Action)
	h.String(e.ResourceKind)
	h.String(e.ResourceID)
	h.String(string(e.Jurisdiction))
	h.String(e.Department)
	h.Bool(e.Allowed)
	h.String(e.Reason)
	return h.Sum()
}

// Seal returns e placed right after head (the zero Entry for an empty log):
// Seq is head.Seq+1, PrevHash is head.Hash (32 zero bytes after the zero
// Entry), Time is converted to UTC and truncated to microseconds, and Hash
// is computed last. [Log.Record] seals the entries it appends; stores'
// tests use Seal to build chains by hand.
func Seal(head, e Entry) Entry {
	e.Seq = head.Seq + 1
	if head.Seq == 0 {
		e.PrevHash = make([]byte, HashSize)
	} else {
		e.PrevHash = bytes.Clone(head.Hash)
	}
	e.Time = NormalizeTime(e.Time)
	e.Hash = e.ComputeHash()
	return e
}

// NormalizeTime returns t in UTC, truncated to microseconds and without a
// monotonic clock reading: the form in which entries are hashed and stored.
// The zero time stays zero.
func NormalizeTime(t time.Time) time.Time { return hashchain.Truncate(t) }

// Validate reports whether e is a well-formed, sealed entry, as every
// [Store] checks before appending it: the fields [Log.Record] requires,
// Seq of at least 1, a non-zero Time, 32-byte PrevHash and Hash, and Hash
// equal to [Entry.ComputeHash]. Whether e follows the head of a particular
// log (PrevHash included) is the store's business. Errors
// are [*EntryError] values matching [ErrInvalidEntry].
func (e Entry) Validate() error {
	if err := e.validateFields(); err != nil {
		return err
	}
	bad := func(field, reason string) error { return &EntryError{Seq: e.Seq, Field: field, Reason: reason} }
	switch {
	case e.Seq == 0:
		return bad("Seq", "is 0; the first entry is 1")
	case e.Time.IsZero():
		return bad("Time", "is zero")
	case len(e.PrevHash) != HashSize:
		return bad("PrevHash", "is not 32 bytes")
	case len(e.Hash) != HashSize:
		return bad("Hash", "is not 32 bytes")
	case !bytes.Equal(e.Hash, e.ComputeHash()):
		return bad("Hash", "does not match the entry's contents")
	}
	return nil
}

// validateFields checks the fields a caller of Log.Record provides: Action
// and ResourceKind are required, and text must be valid UTF-8 without NUL
// bytes, so that every store (PostgreSQL's text included) keeps it exactly.
func (e Entry) validateFields() error {
	bad := func(field, reason string) error { return &EntryError{Seq: e.Seq, Field: field, Reason: reason} }
	if strings.TrimSpace(e.Action) == "" {
		return bad("Action", "is empty")
	}
	if strings.TrimSpace(e.ResourceKind) == "" {
		return bad("ResourceKind", "is empty")
	}
	for _, f := range [...]struct{ name, value string }{
		{"ActorID", e.ActorID}, {"ActorKind", e.ActorKind}, {"Action", e.Action},
		{"ResourceKind", e.ResourceKind}, {"ResourceID", e.ResourceID},
		{"Jurisdiction", string(e.Jurisdiction)}, {"Department", e.Department}, {"Reason", e.Reason},
	} {
		if !utf8.ValidString(f.value) {
			return bad(f.name, "is not valid UTF-8")
		}
		if strings.IndexByte(f.value, 0) >= 0 {
			return bad(f.name, "contains a NUL byte")
		}
	}
	return nil
}

// clone returns e with its own copies of the hash slices, so that a store
// and its callers never share memory.
func (e Entry) clone() Entry {
	e.PrevHash = bytes.Clone(e.PrevHash)
	e.Hash = bytes.Clone(e.Hash)
	return e
}
