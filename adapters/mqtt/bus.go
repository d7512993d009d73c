package mqtt

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/govkit/govkit/bus"
)

// Bus is a bus.Bus over an MQTT v5 broker. It is safe for concurrent use.
type Bus struct {
	opts Options
	urls []*url.URL
	pub  *publisher

	published, noSubscribers         atomic.Int64
	delivered, acked, nacked, panics atomic.Int64
	handedBack, redelivered, skipped atomic.Int64
	loss                             lossCounters

	mu       sync.Mutex
	closed   bool
	members  map[*Subscription]struct{}
	slots    map[groupKey][]bool
	trackers map[groupKey]*tracker
	used     map[string]struct{} // client IDs of every member so far, for tests
}

var _ bus.Bus = (*Bus)(nil)

// New connects a bus's publisher to the broker and returns the bus, or an
// error if Options are invalid (wrapping ErrInvalidOptions) or no server
// accepts a connection within Options.ConnectTimeout or before ctx ends.
// Once connected, the bus reconnects by itself whenever the connection
// drops.
func New(ctx context.Context, opts Options) (*Bus, error) {
	o, urls, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	b := &Bus{opts: o, urls: urls, members: map[*Subscription]struct{}{}, slots: map[groupKey][]bool{}, trackers: map[groupKey]*tracker{}, used: map[string]struct{}{}}
	b.pub = newPublisher(&b.opts, urls, b.log)
	_, up := b.pub.client()
	t := time.NewTimer(o.ConnectTimeout)
	defer t.Stop()
	select {
	case <-up:
		return b, nil
	case <-t.C:
		err = fmt.Errorf("mqtt: no connection to %v within %v", o.Servers, o.ConnectTimeout)
	case <-ctx.Done():
		err = ctx.Err()
	}
	b.pub.close()
	return nil, err
}

func (b *Bus) log(msg string, args ...any) {
	if b.opts.Logger != nil {
		b.opts.Logger.Warn(msg, args...)
	}
}

func (b *Bus) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

// Publish sends m at QoS 1 and returns nil once the broker has
// acknowledged it (PUBACK). It numbers m in its (subject, key) stream for
// loss detection. If the connection drops, Publish waits for the next one
// and sends again (a duplicate, with the same ID, is possible); it gives
// up only when ctx ends, the bus closes, or the broker refuses the message
// (a *BrokerError; "quota exceeded" and "server busy" also match
// bus.ErrOverloaded). A broker that accepts a message no subscription
// matches drops it: Publish returns nil and Stats counts NoSubscribers,
// unless Options.RequireSubscribers makes that an error (ErrNoSubscribers,
// also matching bus.ErrOverloaded) so that the caller publishes again.
// It refuses, with bus.ErrInvalidMessage, a message whose ID, Key or
// header names MQTT cannot carry (control characters, invalid UTF-8);
// header values that MQTT cannot carry verbatim travel quoted.
func (b *Bus) Publish(ctx context.Context, m bus.Message) error {
	if err := m.Validate(); err != nil {
		return err
	}
	if err := checkWire(m); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if b.isClosed() {
		return bus.ErrClosed
	}
	if m.Time.IsZero() {
		m.Time = time.Now()
	}
	code, err := b.pub.publish(ctx, &flight{topic: Topic(m.Subject), m: m, numbered: true})
	return b.count(code, err, 1)
}

// count records the outcome of a PUBLISH carrying n messages and returns
// its error: with RequireSubscribers, "no matching subscribers" is one.
func (b *Bus) count(code byte, err error, n int) error {
	if err != nil {
		return err
	}
	b.published.Add(int64(n))
	if code == CodeNoMatchingSubscribers {
		b.noSubscribers.Add(int64(n))
		if b.opts.RequireSubscribers {
			return fmt.Errorf("%w: %w", ErrNoSubscribers, bus.ErrOverloaded)
		}
	}
	return nil
}

// PublishBatch publishes ms in order with all of them in flight at once,
// then waits for every PUBACK: much faster than calling Publish in turn.
// It validates every message first and publishes none if one is invalid.
// It returns nil if the broker acknowledged them all, else a *BatchError
// saying which failed (those may be published again; the others must not
// be, or they are duplicated).
//
// With Options.PackSize above 1, each run of consecutive messages with
// one subject travels as one PUBLISH, a pack (see the package
// documentation, "Packs"): its messages succeed or fail together, as one
// message does, and RequireSubscribers makes every one of them fail with
// ErrNoSubscribers if the broker matched no subscription.
func (b *Bus) PublishBatch(ctx context.Context, ms []bus.Message) error {
	for i, m := range ms {
		if err := m.Validate(); err != nil {
			return fmt.Errorf("message %d: %w", i, err)
		}
		if err := checkWire(m); err != nil {
			return fmt.Errorf("message %d: %w", i, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if b.isClosed() {
		return bus.ErrClosed
	}
	now := time.Now()
	units := planUnits(ms, b.opts.PackSize, now)
	flights := make([]*flight, len(units))
	errs := make([]error, len(ms))
	failed := false
	for i, u := range units {
		f := &flight{topic: Topic(ms[u.first].Subject), numbered: true}
		if u.n > 1 {
			f.pack = &packFlight{u: u, ms: ms[u.first : u.first+u.n]}
		} else {
			f.m = ms[u.first]
			if f.m.Time.IsZero() {
				f.m.Time = now
			}
		}
		if err := b.pub.send(ctx, f); err != nil {
			for j := u.first; j < len(ms); j++ {
				errs[j] = err
			}
			failed = true
			break
		}
		flights[i] = f
	}
	for i, f := range flights {
		if f == nil {
			continue
		}
		u := units[i]
		code, err := b.pub.wait(ctx, f)
		if err = b.count(code, err, u.n); err != nil {
			for j := u.first; j < u.first+u.n; j++ {
				errs[j] = err
			}
			failed = true
		}
	}
	if failed {
		return &BatchError{Errs: errs}
	}
	return nil
}

// Subscribe adds a member to the group (group, pattern): an MQTT client
// with a persistent session, subscribed at QoS 1 to the shared
// subscription "$share/<group>/<filter>" and to the group's retry topic.
// It returns once the broker has confirmed the subscription. The member's
// identity, and so its session, is Options.ClientID, the group, the
// pattern and the lowest slot number not used by another live member of
// the group on this bus: the same subscriptions made again by the same
// process, or by the process restarted, resume the same sessions and
// receive what was queued for them.
//
// The handler runs on Options.Concurrency goroutines, messages with one
// Key on one goroutine in order; it must be safe for concurrent use.
func (b *Bus) Subscribe(ctx context.Context, pattern, group string, h bus.Handler) (bus.Subscription, error) {
	if err := bus.ValidatePattern(pattern); err != nil {
		return nil, err
	}
	if err := bus.ValidateGroup(group); err != nil {
		return nil, err
	}
	if h == nil {
		return nil, errors.New("mqtt: nil handler")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	key := groupKey{group, pattern}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, bus.ErrClosed
	}
	slots := b.slots[key]
	slot := slices.Index(slots, false)
	if slot < 0 {
		slot = len(slots)
		slots = append(slots, true)
	} else {
		slots[slot] = true
	}
	b.slots[key] = slots
	tr := b.trackers[key]
	if tr == nil && !b.opts.DisableLossDetection {
		tr = newTracker(group, pattern, b.opts.MaxStreams, b.opts.OnGap, &b.loss)
		b.trackers[key] = tr
	}
	s := b.newSubscription(ctx, key, slot, h, tr)
	b.members[s] = struct{}{}
	b.used[s.clientID] = struct{}{}
	b.mu.Unlock()

	if err := s.start(ctx); err != nil {
		_ = s.Close()
		return nil, err
	}
	s.mu.Lock()
	s.stopWatch = context.AfterFunc(ctx, func() { _ = s.Close() })
	s.mu.Unlock()
	return s, nil
}

// release frees a closed member's slot.
func (b *Bus) release(s *Subscription) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.members[s]; !ok {
		return
	}
	delete(b.members, s)
	if slots := b.slots[s.key]; s.slot < len(slots) {
		slots[s.slot] = false
	}
}

// Close closes every subscription (keeping their sessions, as
// Subscription.Close does) and then the publisher; Publish calls still
// waiting fail with bus.ErrClosed (their messages may or may not have
// reached the broker). Later calls fail with bus.ErrClosed.
func (b *Bus) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return bus.ErrClosed
	}
	b.closed = true
	members := make([]*Subscription, 0, len(b.members))
	for s := range b.members {
		members = append(members, s)
	}
	b.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = s.Close()
		}()
	}
	wg.Wait()
	b.pub.close()
	return nil
}

// Stats counts what a Bus has done since New.
type Stats struct {
	// Published counts messages the broker acknowledged to Publish or
	// PublishBatch; NoSubscribers counts those it acknowledged with "no
	// matching subscribers", which nobody receives. A pack counts as its
	// messages.
	Published, NoSubscribers int64
	// Delivered counts handler calls, retries included; Acked those that
	// returned nil; Nacked those that returned an error or panicked;
	// Panics those that panicked.
	Delivered, Acked, Nacked, Panics int64
	// HandedBack counts messages republished to their group's retry topic
	// after MaxAttempts failed calls.
	HandedBack int64
	// Redelivered counts messages the broker sent again after a
	// reconnection (MQTT's DUP flag); a pack counts as its messages.
	Redelivered int64
	// Skipped counts messages dropped, and acknowledged, because they
	// cannot be decoded: their topic is not a bus subject, a hand-back
	// lacks a valid subject, or a pack is malformed (one count per pack:
	// its messages are unknown; loss detection reports them missing).
	Skipped int64
	// Loss detection, summed over the bus's groups. Received counts the
	// numbered messages seen; Duplicates those whose number a group had
	// already seen; Reordered those that arrived after a later one (they
	// filled a gap); Gaps the gaps seen; Lost the numbers skipped and not
	// received since; TrackerResets how often a group exceeded
	// MaxStreams and started afresh.
	Received, Duplicates, Reordered, Gaps, Lost, TrackerResets int64
}

// Stats returns the bus's counters.
func (b *Bus) Stats() Stats {
	return Stats{
		Published: b.published.Load(), NoSubscribers: b.noSubscribers.Load(),
		Delivered: b.delivered.Load(), Acked: b.acked.Load(), Nacked: b.nacked.Load(), Panics: b.panics.Load(),
		HandedBack: b.handedBack.Load(), Redelivered: b.redelivered.Load(), Skipped: b.skipped.Load(),
		Received: b.loss.received.Load(), Duplicates: b.loss.duplicates.Load(), Reordered: b.loss.reordered.Load(),
		Gaps: b.loss.gaps.Load(), Lost: b.loss.lost.Load(), TrackerResets: b.loss.resets.Load(),
	}
}
