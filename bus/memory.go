package bus

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Overload says what a bounded buffer does when it is full.
type Overload int

const (
	// Block makes Publish wait for room, or for its context to end.
	Block Overload = iota
	// Reject makes Publish fail at once with ErrOverloaded; no group
	// receives the message.
	Reject
	// DropOldest discards the oldest queued message of the full partition
	// to make room, and counts it in Stats.Dropped. Only for data where the
	// newest value supersedes the old, such as raw telemetry.
	DropOldest
)

// String returns the overload name.
func (o Overload) String() string {
	switch o {
	case Block:
		return "block"
	case Reject:
		return "reject"
	case DropOldest:
		return "drop-oldest"
	}
	return fmt.Sprintf("Overload(%d)", int(o))
}

// ErrHandlerPanic wraps a panic recovered from a handler; the message is
// redelivered as if the handler had returned an error.
var ErrHandlerPanic = errors.New("bus: handler panicked")

// MemoryOptions configures a Memory bus. The zero value gives the defaults.
type MemoryOptions struct {
	// Buffer bounds the messages queued per group (default 1024), split
	// evenly across its partitions.
	Buffer int
	// Partitions is the number of ordered lanes per group (default 8): it
	// bounds the group's concurrency; messages with the same key always
	// take the same lane.
	Partitions int
	// Overload is the policy when a lane is full (default Block).
	Overload Overload
	// Backoff is the delay before the first redelivery (default 100 ms);
	// it doubles per attempt, with ±20% jitter, up to MaxBackoff
	// (default 30 s).
	Backoff, MaxBackoff time.Duration
	// Logger receives handler panics; nil logs nothing.
	Logger *slog.Logger
}

// Stats counts what a Memory bus has done since it was created.
type Stats struct {
	Published int64 // messages accepted by Publish (once per message)
	Delivered int64 // handler calls, redeliveries included
	Acked     int64 // handler calls that returned nil
	Nacked    int64 // handler calls that returned an error or panicked
	Panics    int64 // handler calls that panicked
	Dropped   int64 // messages discarded by DropOldest
	Rejected  int64 // Publish calls refused with ErrOverloaded
	Pending   int64 // messages queued or in flight, over all groups
}

// Memory is the in-process Bus: bounded, at-least-once, with consumer groups,
// ordering per key, redelivery with backoff and an explicit overload policy.
// It is the embedded default and the transport tests use. Nothing survives
// the process: Drain before Close to finish what was accepted.
type Memory struct {
	opts     MemoryOptions
	seed     maphash.Seed
	mu       sync.RWMutex
	rejectMu sync.Mutex // makes Reject all-or-nothing across groups
	groups   map[groupKey]*group
	closed   bool
	done     chan struct{}
	workers  sync.WaitGroup

	published, delivered, acked, nacked, panics, dropped, rejected, pending atomic.Int64
}

type groupKey struct{ name, pattern string }

// NewMemory returns an in-process bus, or an error for negative sizes or an
// unknown overload policy.
func NewMemory(opts MemoryOptions) (*Memory, error) {
	if opts.Buffer < 0 || opts.Partitions < 0 || opts.Backoff < 0 || opts.MaxBackoff < 0 {
		return nil, fmt.Errorf("bus: negative option in %+v", opts)
	}
	if opts.Overload < Block || opts.Overload > DropOldest {
		return nil, fmt.Errorf("bus: unknown overload policy %d", opts.Overload)
	}
	if opts.Buffer == 0 {
		opts.Buffer = 1024
	}
	if opts.Partitions == 0 {
		opts.Partitions = 8
	}
	if opts.Backoff == 0 {
		opts.Backoff = 100 * time.Millisecond
	}
	if opts.MaxBackoff == 0 {
		opts.MaxBackoff = 30 * time.Second
	}
	opts.MaxBackoff = max(opts.MaxBackoff, opts.Backoff)
	return &Memory{opts: opts, seed: maphash.MakeSeed(), groups: map[groupKey]*group{}, done: make(chan struct{})}, nil
}

// Publish validates m and queues a copy for every group whose pattern matches
// its subject. With the Block policy it waits for room until ctx ends; with
// Reject it fails with ErrOverloaded and no group receives the message.
func (b *Memory) Publish(ctx context.Context, m Message) error {
	if err := m.Validate(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return ErrClosed
	}
	var lanes []chan Message
	for _, g := range b.groups {
		if Match(g.key.pattern, m.Subject) {
			lanes = append(lanes, g.laneFor(m.Key))
		}
	}
	b.mu.RUnlock()

	m.Attempt = 0
	if m.Time.IsZero() {
		m.Time = time.Now()
	}
	switch b.opts.Overload {
	case Reject:
		b.rejectMu.Lock()
		defer b.rejectMu.Unlock()
		for _, l := range lanes {
			if len(l) == cap(l) {
				b.rejected.Add(1)
				return ErrOverloaded
			}
		}
		for _, l := range lanes {
			b.pending.Add(1)
			l <- clone(m) // cannot block: only this goroutine adds while the lock is held
		}
	case DropOldest:
		for _, l := range lanes {
			b.pending.Add(1)
			b.pushDroppingOldest(l, clone(m))
		}
	default:
		for _, l := range lanes {
			b.pending.Add(1)
			select {
			case l <- clone(m):
			case <-ctx.Done():
				b.pending.Add(-1)
				return ctx.Err()
			case <-b.done:
				b.pending.Add(-1)
				return ErrClosed
			}
		}
	}
	b.published.Add(1)
	return nil
}

func (b *Memory) pushDroppingOldest(l chan Message, m Message) {
	for {
		select {
		case l <- m:
			return
		default:
		}
		select {
		case <-l:
			b.dropped.Add(1)
			b.pending.Add(-1)
		default:
		}
	}
}

func clone(m Message) Message {
	m.Headers = maps.Clone(m.Headers)
	m.Data = slices.Clone(m.Data)
	return m
}

// Subscribe adds a member to the group (group, pattern), creating the group
// and its lanes on first use. The handler is called from up to Partitions
// goroutines at once, so it must be safe for concurrent use.
func (b *Memory) Subscribe(ctx context.Context, pattern, group string, h Handler) (Subscription, error) {
	if err := ValidatePattern(pattern); err != nil {
		return nil, err
	}
	if err := ValidateGroup(group); err != nil {
		return nil, err
	}
	if h == nil {
		return nil, errors.New("bus: nil handler")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, ErrClosed
	}
	key := groupKey{group, pattern}
	g, ok := b.groups[key]
	if !ok {
		g = b.newGroup(key)
		b.groups[key] = g
	}
	b.mu.Unlock()

	mb := &member{g: g, h: h, ctx: ctx}
	mb.mu.Lock() // Close, which the watch may call at once, waits for stopWatch
	mb.stopWatch = context.AfterFunc(ctx, func() { _ = mb.Close() })
	mb.mu.Unlock()
	g.join(mb)
	return mb, nil
}

// Stats returns the bus's counters.
func (b *Memory) Stats() Stats {
	return Stats{
		Published: b.published.Load(), Delivered: b.delivered.Load(), Acked: b.acked.Load(),
		Nacked: b.nacked.Load(), Panics: b.panics.Load(), Dropped: b.dropped.Load(),
		Rejected: b.rejected.Load(), Pending: b.pending.Load(),
	}
}

// Drain waits until every accepted message has been acknowledged (or
// dropped), or ctx ends. Publishing during Drain is allowed; stop publishers
// first for Drain to finish.
func (b *Memory) Drain(ctx context.Context) error {
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for b.pending.Load() > 0 {
		select {
		case <-ctx.Done():
			return fmt.Errorf("bus: drain: %d messages pending: %w", b.pending.Load(), ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// Close stops the lanes, waits for handlers in flight and discards what is
// still queued. Later calls return ErrClosed.
func (b *Memory) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrClosed
	}
	b.closed = true
	close(b.done)
	b.mu.Unlock()
	b.workers.Wait()
	return nil
}

// backoff returns the delay before delivery attempt n (n ≥ 2).
func (b *Memory) backoff(n int) time.Duration {
	d := b.opts.Backoff
	for i := 2; i < n && d < b.opts.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, b.opts.MaxBackoff)
	jitter := 0.8 + 0.4*rand.Float64()
	return time.Duration(float64(d) * jitter)
}

// group is one consumer group: its lanes and its current members.
type group struct {
	b     *Memory
	key   groupKey
	lanes []chan Message
	next  atomic.Uint64 // round-robin lane for unkeyed messages

	mu      sync.Mutex
	members []*member
	joined  chan struct{} // closed and replaced whenever a member joins
}

func (b *Memory) newGroup(key groupKey) *group {
	n := b.opts.Partitions
	per := max(1, (b.opts.Buffer+n-1)/n)
	g := &group{b: b, key: key, lanes: make([]chan Message, n), joined: make(chan struct{})}
	for i := range g.lanes {
		g.lanes[i] = make(chan Message, per)
		b.workers.Add(1)
		go g.run(i)
	}
	return g
}

func (g *group) laneFor(key string) chan Message {
	if key == "" {
		return g.lanes[g.next.Add(1)%uint64(len(g.lanes))]
	}
	return g.lanes[maphash.String(g.b.seed, key)%uint64(len(g.lanes))]
}

func (g *group) join(mb *member) {
	g.mu.Lock()
	g.members = append(g.members, mb)
	close(g.joined)
	g.joined = make(chan struct{})
	g.mu.Unlock()
}

func (g *group) leave(mb *member) {
	g.mu.Lock()
	g.members = slices.DeleteFunc(g.members, func(x *member) bool { return x == mb })
	g.mu.Unlock()
}

// memberFor returns the member serving lane i, waiting for one to join; nil
// once the bus closes.
func (g *group) memberFor(i int) *member {
	for {
		g.mu.Lock()
		if n := len(g.members); n > 0 {
			mb := g.members[i%n]
			g.mu.Unlock()
			return mb
		}
		joined := g.joined
		g.mu.Unlock()
		select {
		case <-joined:
		case <-g.b.done:
			return nil
		}
	}
}

// run serves lane i: one message at a time, redelivering a failed message
// before taking the next, so that order per key holds.
func (g *group) run(i int) {
	defer g.b.workers.Done()
	b := g.b
	for {
		var m Message
		select {
		case m = <-g.lanes[i]:
		case <-b.done:
			return
		}
		for attempt := 1; ; {
			mb := g.memberFor(i)
			if mb == nil {
				return
			}
			m.Attempt = attempt
			err, ok := mb.deliver(m)
			if !ok {
				continue // the member left before the call; pick another
			}
			b.delivered.Add(1)
			if err == nil {
				b.acked.Add(1)
				b.pending.Add(-1)
				break
			}
			b.nacked.Add(1)
			attempt++
			t := time.NewTimer(b.backoff(attempt))
			select {
			case <-t.C:
			case <-b.done:
				t.Stop()
				return
			}
		}
	}
}

// member is one subscription.
type member struct {
	g         *group
	h         Handler
	ctx       context.Context
	stopWatch func() bool

	mu       sync.Mutex
	closed   bool
	inflight sync.WaitGroup
}

// deliver calls the handler unless the member has closed; ok is false if it
// had.
func (mb *member) deliver(m Message) (err error, ok bool) {
	mb.mu.Lock()
	if mb.closed {
		mb.mu.Unlock()
		return nil, false
	}
	mb.inflight.Add(1)
	mb.mu.Unlock()
	defer mb.inflight.Done()
	defer func() {
		if r := recover(); r != nil {
			mb.g.b.panics.Add(1)
			err, ok = fmt.Errorf("%w: %v", ErrHandlerPanic, r), true
			if l := mb.g.b.opts.Logger; l != nil {
				l.Error("bus handler panicked", "subject", m.Subject, "id", m.ID, "group", mb.g.key.name, "panic", r)
			}
		}
	}()
	return mb.h(mb.ctx, m), true
}

// Close removes the member from its group and waits for its handlers in
// flight; unacknowledged messages go to the remaining or next member.
func (mb *member) Close() error {
	mb.mu.Lock()
	if mb.closed {
		mb.mu.Unlock()
		return ErrClosed
	}
	mb.closed = true
	stop := mb.stopWatch
	mb.mu.Unlock()
	stop()
	mb.g.leave(mb)
	mb.inflight.Wait()
	return nil
}
