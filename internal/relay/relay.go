// Package relay publishes what a store's outbox holds: the events written
// in the same transaction as the state they announce, sent to the bus after
// commit and marked published once the bus has taken them.
package relay

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/govkit/govkit/bus"
)

// Outbox is the part of a store the relay needs.
type Outbox interface {
	Pending(ctx context.Context, limit int) ([]bus.Message, error)
	MarkPublished(ctx context.Context, ids ...string) error
}

// Relay moves events from an outbox to a publisher, oldest first. It is
// safe for concurrent use.
type Relay struct {
	outbox Outbox
	pub    bus.Publisher
	mu     sync.Mutex  // one flush at a time keeps events in order
	wanted atomic.Bool // events were committed since the flusher last looked
}

// New returns a relay from outbox to pub.
func New(outbox Outbox, pub bus.Publisher) *Relay { return &Relay{outbox: outbox, pub: pub} }

// Flush publishes the waiting events, stopping at the first failure so
// that events of one key never overtake each other; what is left waits for
// the next Flush. One flush runs at a time: a call that finds another
// running leaves the work to it, and the running flush goes round again
// for events committed meanwhile, so busy writers never queue up behind
// the bus.
func (r *Relay) Flush(ctx context.Context) error {
	r.wanted.Store(true)
	for r.wanted.Load() {
		if !r.mu.TryLock() {
			return nil
		}
		r.wanted.Store(false)
		err := r.flushOnce(ctx)
		r.mu.Unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

// flushBatch is how many events flushOnce reads at a time.
const flushBatch = 256

// flushOnce publishes what the outbox holds. A short read is the end: an
// event committed after it comes with a Flush of its own, which sets
// wanted, so reading again to find nothing would only cost the store a
// round trip.
func (r *Relay) flushOnce(ctx context.Context) error {
	for {
		msgs, err := r.outbox.Pending(ctx, flushBatch)
		if err != nil || len(msgs) == 0 {
			return err
		}
		for i, m := range msgs {
			if err := r.pub.Publish(ctx, m); err != nil {
				if i > 0 {
					_ = r.outbox.MarkPublished(ctx, ids(msgs[:i])...)
				}
				return fmt.Errorf("relay: publishing %s: %w", m.Subject, err)
			}
		}
		if err := r.outbox.MarkPublished(ctx, ids(msgs)...); err != nil {
			return err
		}
		if len(msgs) < flushBatch {
			return nil
		}
	}
}

func ids(msgs []bus.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.ID
	}
	return out
}
