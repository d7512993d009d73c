package codes

import (
	"context"
	"slices"
	"time"

	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/region"
)

// CodeRecord is what the issuer keeps of a code it issued: enough to
// find, authorise and revoke it, not the signed text (which the holder
// has). A rotating series is one record.
type CodeRecord struct {
	ID           RevocationID
	Kind         Kind
	Subject      string
	Jurisdiction region.Code
	Issuer       string
	KeyID        KeyID
	IssuedAt     time.Time
	NotBefore    time.Time
	Expiry       time.Time
	Steps        int    // for a rotating series: how many steps were issued
	IssuedBy     string // the actor
}

// Subject is a holder of codes — a room, a rider, an inspector, an
// enterprise — by pseudonymous id, with the head of its points ledger.
type Subject struct {
	ID           string
	Kind         Kind        // the kind of code it holds
	Jurisdiction region.Code // where it lies; authorisation is scoped by it
	Created      time.Time
	Version      int64    // 1 when created; every change adds one
	Standing     Standing // what its ledger adds up to
	Head         []byte   // the hash of its last ledger entry (nil when empty)
}

// Revocation revokes one code (Code set) or every code issued to Subject
// before Before (Code zero).
type Revocation struct {
	Code    RevocationID
	Subject string
	Before  time.Time
	Reason  string
	By      string // the actor
	At      time.Time
}

// Change is everything one service call writes, applied atomically: if
// any part fails, nothing is written.
type Change struct {
	// Codes are new records; an ID already stored is ErrConflict.
	Codes []CodeRecord
	// Subjects are new subjects (Version 1; an ID already stored is
	// ErrConflict) or updated ones (Version must be the stored one plus 1,
	// else ErrConflict).
	Subjects []Subject
	// Entries are appended to their subjects' ledgers; each Seq must follow
	// the last stored (or the one before it in the change), else
	// ErrConflict.
	Entries []Entry
	// Revocations are added. A code revoked twice is ErrConflict; a
	// subject-wide revocation replaces the subject's earlier one.
	Revocations []Revocation
	// Keys are public keys to store or replace, by ID.
	Keys []PublicKey
	// Counters are set to new values, each of which must be the stored one
	// plus 1 (a missing counter is 0), else ErrConflict.
	Counters map[string]uint64
	// Events go to the outbox, published after commit.
	Events []bus.Message
}

// Counter names.
const (
	CounterStatusEpoch   = "status-epoch"
	CounterRevocationSeq = "revocation-seq"
)

// SubjectQuery selects subjects for a status list.
type SubjectQuery struct {
	Colours []Colour // any of these; empty for all
	After   string   // continue after this ID
	Limit   int      // 0 means DefaultLimit, at most MaxLimit
}

// Page sizes.
const (
	DefaultLimit = 1000
	MaxLimit     = 10000
)

// Validate reports a malformed query with an error matching ErrInvalid.
func (q SubjectQuery) Validate() error {
	if q.Limit < 0 || q.Limit > MaxLimit {
		return invalid("limit", "%d outside 0–%d", q.Limit, MaxLimit)
	}
	for _, c := range q.Colours {
		if c < Green || c > Red {
			return invalid("colour", "%d", c)
		}
	}
	return nil
}

// EffectiveLimit is the page size the query asks for.
func (q SubjectQuery) EffectiveLimit() int {
	if q.Limit == 0 {
		return DefaultLimit
	}
	return q.Limit
}

// Store keeps codes, subjects with their ledgers, revocations, public keys,
// list counters and the outbox. MemoryStore implements it; codestest is
// the suite every implementation passes. Implementations return copies and
// are safe for concurrent use.
type Store interface {
	// Apply writes c atomically, or fails changing nothing with an error
	// matching ErrConflict (a taken ID, a stale version or sequence) or
	// ErrNotFound (an update or ledger entry of an unknown subject).
	Apply(ctx context.Context, c Change) error
	// Code returns the record with id, or ErrNotFound.
	Code(ctx context.Context, id RevocationID) (CodeRecord, error)
	// CodesOf returns the subject's code records in issue order.
	CodesOf(ctx context.Context, subject string) ([]CodeRecord, error)
	// Subject returns the subject with id, or ErrNotFound.
	Subject(ctx context.Context, id string) (Subject, error)
	// Subjects returns up to q's limit subjects in ID order.
	Subjects(ctx context.Context, q SubjectQuery) ([]Subject, error)
	// Ledger returns the subject's entries in order, or ErrNotFound for an
	// unknown subject.
	Ledger(ctx context.Context, subject string) ([]Entry, error)
	// Revocations calls yield with every revocation until it returns
	// false: per-code ones in ID order, then subject-wide ones in subject
	// order.
	Revocations(ctx context.Context, yield func(Revocation) bool) error
	// PublicKeys returns the stored public keys in ID order.
	PublicKeys(ctx context.Context) ([]PublicKey, error)
	// Counter returns a counter's value (0 if never set).
	Counter(ctx context.Context, name string) (uint64, error)
	// Pending returns up to limit outbox events not yet published, oldest
	// first.
	Pending(ctx context.Context, limit int) ([]bus.Message, error)
	// MarkPublished marks outbox events published; unknown IDs are ignored.
	MarkPublished(ctx context.Context, ids ...string) error
}

func cloneSubject(s Subject) Subject {
	s.Head = slices.Clone(s.Head)
	return s
}

func cloneEntry(e Entry) Entry {
	e.Prev = slices.Clone(e.Prev)
	e.Hash = slices.Clone(e.Hash)
	return e
}
