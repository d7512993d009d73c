package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/clock"
)

// RecordAttempts bounds how many times [Log.Record] tries to append one
// entry when other writers keep getting there first (ErrConflict).
const RecordAttempts = 32

// Backoff between conflicting attempts: a random wait of up to
// conflictBaseDelay<<attempt, capped at conflictMaxDelay. It spreads out
// processes that collide on the same head; it is not a deadline, so it uses
// real time rather than the Log's clock.
const (
	conflictBaseDelay = 50 * time.Microsecond
	conflictMaxDelay  = 5 * time.Millisecond
)

// Log records decisions in a [Store] as a hash chain and verifies it. It is
// safe for concurrent use: the Records of one Log run one at a time, and
// Records of several Logs (in several processes) over one store take turns
// through the store's [HeadLocker], or else race and retry on the store's
// conflict check. Create one with [New].
type Log struct {
	store    Store
	clk      clock.Clock
	sem      chan struct{} // serialises Record; a channel so waiting honours ctx
	pageSize int           // entries per Range while verifying
}

// New returns a Log over store that timestamps entries with clk. A nil
// store or clock is an [*ArgumentError] matching [ErrInvalidArgument].
func New(store Store, clk clock.Clock) (*Log, error) {
	if store == nil {
		return nil, &ArgumentError{Name: "store", Reason: "is nil"}
	}
	if clk == nil {
		return nil, &ArgumentError{Name: "clock", Reason: "is nil"}
	}
	return &Log{store: store, clk: clk, sem: make(chan struct{}, 1), pageSize: MaxLimit}, nil
}

// Record appends e to the log and returns it as stored. The caller fills in
// what was decided (ActorID, ActorKind, Action, ResourceKind, ResourceID,
// Jurisdiction, Department, Allowed, Reason); Record sets Seq, Time,
// PrevHash and Hash, ignoring any values given for them.
//
// Action and ResourceKind are required and text must be valid UTF-8
// without NUL bytes; otherwise Record returns an [*EntryError] matching
// [ErrInvalidEntry] and the log is unchanged. ActorID may be empty: a
// denial for want of an actor is still recorded.
//
// Time is the clock's reading in UTC, truncated to microseconds; if that
// is before the head's Time (clocks of several processes disagree), the
// head's Time is used, so Time never decreases along the log.
//
// If the store is a [HeadLocker], the entry is sealed under its head lock.
// Otherwise Record reads the head, seals after it and appends, and when
// another writer appended first (ErrConflict) it waits a moment and tries
// again, up to [RecordAttempts] times, after which the error matches
// [ErrConflict].
func (l *Log) Record(ctx context.Context, e Entry) (Entry, error) {
	e.Seq, e.Time, e.PrevHash, e.Hash = 0, time.Time{}, nil, nil
	if err := e.validateFields(); err != nil {
		return Entry{}, err
	}
	select {
	case l.sem <- struct{}{}:
	case <-ctx.Done():
		return Entry{}, fmt.Errorf("audit: record: %w", ctx.Err())
	}
	defer func() { <-l.sem }()

	var err error
	for attempt := 1; ; attempt++ {
		var sealed Entry
		if sealed, err = l.append(ctx, e); err == nil {
			return sealed, nil
		}
		if !errors.Is(err, ErrConflict) {
			return Entry{}, fmt.Errorf("audit: record: %w", err)
		}
		if attempt == RecordAttempts {
			return Entry{}, fmt.Errorf("audit: record: gave up after %d attempts: %w", attempt, err)
		}
		if werr := wait(ctx, attempt); werr != nil {
			return Entry{}, fmt.Errorf("audit: record: %w", errors.Join(werr, err))
		}
	}
}

// append seals e after the current head and appends it once: under the
// store's head lock if it is a HeadLocker, otherwise optimistically.
func (l *Log) append(ctx context.Context, e Entry) (Entry, error) {
	var sealed Entry
	seal := func(head Entry) (Entry, error) {
		sealed = e
		sealed.Time = NormalizeTime(l.clk.Now())
		if sealed.Time.Before(head.Time) {
			sealed.Time = head.Time
		}
		sealed = Seal(head, sealed)
		return sealed, nil
	}
	if hl, ok := l.store.(HeadLocker); ok {
		if err := hl.AppendNext(ctx, seal); err != nil {
			return Entry{}, err
		}
		return sealed, nil
	}
	head, _, err := l.store.Head(ctx)
	if err != nil {
		return Entry{}, fmt.Errorf("read head: %w", err)
	}
	sealed, _ = seal(head)
	if err := l.store.Append(ctx, sealed); err != nil {
		return Entry{}, err
	}
	return sealed, nil
}

// wait sleeps before retry number attempt, or until ctx is done.
func wait(ctx context.Context, attempt int) error {
	d := min(conflictBaseDelay<<min(attempt, 16), conflictMaxDelay)
	t := time.NewTimer(rand.N(d) + 1)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// RecordDecision records an authorizer's decision: who (d.ActorID, and
// ActorKind from the actor in ctx when it is the same actor), what
// (d.Action on d.Resource's kind, ID, jurisdiction and department), the
// outcome (d.Allowed) and d.Explain() as the Reason. See [Log.Record].
func (l *Log) RecordDecision(ctx context.Context, d access.Decision) (Entry, error) {
	e := Entry{
		ActorID:      d.ActorID,
		Action:       d.Action,
		ResourceKind: d.Resource.Kind,
		ResourceID:   d.Resource.ID,
		Jurisdiction: d.Resource.Jurisdiction,
		Department:   d.Resource.Department,
		Allowed:      d.Allowed,
		Reason:       d.Explain(),
	}
	if a, err := access.ActorFrom(ctx); err == nil && a.ID == d.ActorID && a.Kind != 0 {
		e.ActorKind = a.Kind.String()
	}
	return l.Record(ctx, e)
}

// Verify reads the whole log in Seq order, a page at a time, and checks
// that it is an unbroken chain: Seq runs 1, 2, 3... without gaps, every
// entry's Hash matches its contents, and every PrevHash is the previous
// entry's Hash (32 zero bytes for entry 1). At the first problem it returns
// a [*TamperError] matching [ErrTampered]; errors reading the store are
// returned as they are, wrapped. An empty log verifies.
//
// A chain proves that nothing before the head was changed, but not that
// entries were not cut off the end, or the whole log rewritten: keep the
// head somewhere else from time to time and check against it with
// [Log.VerifyFrom].
func (l *Log) Verify(ctx context.Context) error {
	_, err := l.VerifyFrom(ctx, Entry{})
	return err
}

// VerifyFrom verifies the entries after anchor, an entry read earlier from
// this log and kept where the log's writers cannot change it (the zero
// Entry verifies the whole log, like [Log.Verify]). The stored entry
// anchor.Seq must still have anchor's Hash, and the entries after it must
// chain on from it. It returns the last entry it verified, to keep as the
// next anchor; on error it returns the zero Entry. Appends made while it
// runs may or may not be covered.
func (l *Log) VerifyFrom(ctx context.Context, anchor Entry) (Entry, error) {
	last := anchor
	if anchor.Seq > 0 {
		got, err := l.store.Range(ctx, anchor.Seq, 1)
		if err != nil {
			return Entry{}, fmt.Errorf("audit: verify: %w", err)
		}
		switch {
		case len(got) == 0 || got[0].Seq != anchor.Seq:
			return Entry{}, &TamperError{Seq: anchor.Seq, Reason: "the anchor entry is missing"}
		case !bytes.Equal(got[0].Hash, anchor.Hash) || !bytes.Equal(got[0].ComputeHash(), anchor.Hash):
			return Entry{}, &TamperError{Seq: anchor.Seq, Reason: "the entry differs from the anchor"}
		}
		last = got[0]
	}
	for {
		page, err := l.store.Range(ctx, last.Seq+1, l.pageSize)
		if err != nil {
			return Entry{}, fmt.Errorf("audit: verify: %w", err)
		}
		if len(page) == 0 {
			return last, nil
		}
		for _, e := range page {
			if err := checkLink(last, e); err != nil {
				return Entry{}, err
			}
			last = e
		}
	}
}

// checkLink checks that e is a sound entry right after prev (the zero
// Entry before entry 1).
func checkLink(prev, e Entry) error {
	want := prev.Seq + 1
	switch {
	case e.Seq > want:
		return &TamperError{Seq: want, Reason: fmt.Sprintf("the entry is missing; entry %d follows %d", e.Seq, prev.Seq)}
	case e.Seq < want:
		return &TamperError{Seq: e.Seq, Reason: fmt.Sprintf("the entry appears after entry %d", prev.Seq)}
	case len(e.Hash) != HashSize || !bytes.Equal(e.Hash, e.ComputeHash()):
		return &TamperError{Seq: e.Seq, Reason: "the hash does not match the entry's contents"}
	}
	wantPrev := prev.Hash
	if prev.Seq == 0 {
		wantPrev = make([]byte, HashSize)
	}
	if !bytes.Equal(e.PrevHash, wantPrev) {
		return &TamperError{Seq: e.Seq, Reason: fmt.Sprintf("PrevHash is not the hash of entry %d", prev.Seq)}
	}
	return nil
}
