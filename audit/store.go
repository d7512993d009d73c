package audit

import (
	"context"
	"fmt"
	"time"
)

// Limits on how many entries one read returns.
const (
	// DefaultLimit is used when a limit of 0 is given.
	DefaultLimit = 100
	// MaxLimit caps every read; larger limits are lowered to it. Page
	// through longer results with Range or Query.FromSeq.
	MaxLimit = 1000
)

// Store keeps the entries of one log. It is append-only: no method updates
// or deletes an entry. Implementations must be safe for concurrent use,
// also by several processes sharing one database; package audittest checks
// all of this. [NewMemoryStore] is the embedded implementation, and
// adapters/postgres provides one on PostgreSQL.
type Store interface {
	// Append stores e if it follows the head exactly: e.Seq is the head's
	// Seq plus one (1 for an empty log) and e.PrevHash equals the head's
	// Hash (32 zero bytes for entry 1). Otherwise it returns an error
	// matching ErrConflict and stores nothing. An entry that fails
	// Entry.Validate is refused with an error matching ErrInvalidEntry. The
	// check and the write are atomic. Time is stored as NormalizeTime
	// returns it, which does not change the hash.
	Append(ctx context.Context, e Entry) error
	// Head returns the entry with the highest Seq, and false if the log is
	// empty.
	Head(ctx context.Context) (Entry, bool, error)
	// Range returns up to limit entries with Seq >= fromSeq in Seq order.
	// See NormalizeLimit for the meaning of limit.
	Range(ctx context.Context, fromSeq uint64, limit int) ([]Entry, error)
	// Query returns the entries that match every condition set in q, in Seq
	// order. See Query.
	Query(ctx context.Context, q Query) ([]Entry, error)
}

// HeadLocker is an optional interface of a [Store] that can hold its head
// still while an entry is sealed after it. Writers that use it, in any
// process, take turns instead of racing for the head, so none of them is
// starved by the others' conflicts; [Log.Record] uses it when its store
// has it. Both stores of govkit implement it.
type HeadLocker interface {
	// AppendNext locks the head against every other writer, calls seal
	// with it (the zero Entry for an empty log) and appends the entry seal
	// returns, exactly as Append would (it may still be refused, for
	// instance by ErrConflict from a writer that does not lock); then it
	// releases the lock. If seal returns an error nothing is appended and
	// that error is returned. seal may be called more than once, if the
	// store has to retry; it must not block.
	AppendNext(ctx context.Context, seal func(head Entry) (Entry, error)) error
}

// Query selects entries. Every field is optional; those set are AND-ed.
type Query struct {
	ActorID      string // entries of this actor
	ResourceKind string // entries about resources of this kind
	ResourceID   string // entries about the resource with this ID
	// Since and Until bound Time: Since <= Time < Until, at microsecond
	// precision (both are truncated first). A zero bound is open.
	Since, Until time.Time
	// FromSeq skips entries before it. To page, pass the last Seq seen + 1.
	FromSeq uint64
	// Limit bounds the result; see NormalizeLimit.
	Limit int
}

// Validate reports whether q can be run: Limit must not be negative and
// Until must not come before Since. Errors match [ErrInvalidArgument].
func (q Query) Validate() error {
	if _, err := NormalizeLimit(q.Limit); err != nil {
		return err
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && NormalizeTime(q.Until).Before(NormalizeTime(q.Since)) {
		return &ArgumentError{Name: "Query.Until", Reason: fmt.Sprintf("%s is before Since %s",
			q.Until.Format(time.RFC3339Nano), q.Since.Format(time.RFC3339Nano))}
	}
	return nil
}

// Matches reports whether e satisfies q's conditions (Limit and FromSeq
// aside), for stores that filter in Go.
func (q Query) Matches(e Entry) bool {
	switch {
	case q.ActorID != "" && e.ActorID != q.ActorID,
		q.ResourceKind != "" && e.ResourceKind != q.ResourceKind,
		q.ResourceID != "" && e.ResourceID != q.ResourceID,
		!q.Since.IsZero() && e.Time.Before(NormalizeTime(q.Since)),
		!q.Until.IsZero() && !e.Time.Before(NormalizeTime(q.Until)):
		return false
	}
	return true
}

// NormalizeLimit returns the number of entries a read with the given limit
// returns at most: [DefaultLimit] for 0, [MaxLimit] for anything above it.
// A negative limit is an [*ArgumentError].
func NormalizeLimit(limit int) (int, error) {
	switch {
	case limit < 0:
		return 0, &ArgumentError{Name: "limit", Reason: fmt.Sprintf("%d is negative", limit)}
	case limit == 0:
		return DefaultLimit, nil
	default:
		return min(limit, MaxLimit), nil
	}
}
