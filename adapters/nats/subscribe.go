package nats

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/govkit/govkit/bus"
)

// Subscribe adds a member to the group (group, pattern). Each group is a set
// of durable JetStream consumers, one per lane, created on first use and
// kept when members leave, so that messages published meanwhile wait for
// the next member (in any process). A new group receives messages published
// after its first Subscribe.
//
// The handler is called for unkeyed messages from up to
// Options.Concurrency goroutines at once, and for keyed messages from one
// goroutine per key lane, so it must be safe for concurrent use. The
// pattern must lie within Options.Subjects (bus.ErrInvalidSubject
// otherwise). The subscription lasts until ctx ends or it is closed; the
// handler's context is ctx.
func (b *Bus) Subscribe(ctx context.Context, pattern, group string, h bus.Handler) (bus.Subscription, error) {
	if err := bus.ValidatePattern(pattern); err != nil {
		return nil, err
	}
	if err := bus.ValidateGroup(group); err != nil {
		return nil, err
	}
	if h == nil {
		return nil, errors.New("nats: nil handler")
	}
	within := false
	for _, s := range b.opts.Subjects {
		within = within || subsetOf(pattern, s)
	}
	if !within {
		return nil, &bus.SubjectError{Subject: pattern, Reason: fmt.Sprintf("not within the stream's subjects %q", b.opts.Subjects), Err: bus.ErrInvalidSubject}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if b.isClosed() {
		return nil, bus.ErrClosed
	}

	s := &subscription{b: b, group: group, pattern: pattern, h: h, ctx: ctx, work: make(chan jetstream.Msg)}
	lanes := allLanes(b.lanes)
	consumers := make([]jetstream.Consumer, len(lanes))
	errs := make([]error, len(lanes))
	var wg sync.WaitGroup
	for i, lane := range lanes {
		wg.Go(func() {
			consumers[i], errs[i] = b.js.CreateOrUpdateConsumer(ctx, b.opts.Stream, b.consumerConfig(group, pattern, lane))
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("nats: subscribe %s as %s: %w", pattern, group, err)
	}

	s.keeper = newKeeper(b.opts.AckWait)
	for range b.opts.Concurrency {
		sl := s.keeper.slot()
		s.workers.Go(func() { s.work1(sl) })
	}
	for i, c := range consumers {
		keyed := lanes[i] != unkeyedLane
		handle := s.dispatch
		batch := min(b.opts.MaxAckPending, 512)
		if keyed {
			sl := s.keeper.slot()
			handle = func(m jetstream.Msg) { s.inline(m, sl) }
			batch = 4 // the server sends one at a time
		}
		cc, err := c.Consume(handle,
			jetstream.PullMaxMessages(batch),
			jetstream.PullExpiry(pullExpiry),
			jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
				b.log.Warn("nats: consume", "group", group, "pattern", pattern, "lane", lanes[i], "err", err)
			}))
		if err != nil {
			s.stop()
			return nil, fmt.Errorf("nats: subscribe %s as %s: %w", pattern, group, err)
		}
		s.consumes = append(s.consumes, cc)
	}

	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		s.stop()
		return nil, bus.ErrClosed
	}
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	s.mu.Lock() // Close, which the watch may call at once, waits for stopWatch
	s.stopWatch = context.AfterFunc(ctx, func() { _ = s.Close() })
	s.mu.Unlock()
	return s, nil
}

// consumerConfig is the durable consumer of (group, pattern) for a lane.
// Every process derives the same config, so CreateOrUpdateConsumer is
// idempotent.
func (b *Bus) consumerConfig(group, pattern, lane string) jetstream.ConsumerConfig {
	pending := b.opts.MaxAckPending
	if lane != unkeyedLane {
		// One message in flight per keyed lane, over all members: the next
		// is delivered only once this one is acknowledged, and a failed one
		// (kept pending by NakWithDelay) blocks its lane until redelivered.
		pending = 1
	}
	return jetstream.ConsumerConfig{
		Durable:       consumerName(group, pattern, lane),
		Description:   "govkit group " + group + " on " + pattern + ", lane " + lane,
		FilterSubject: wireSubject(b.opts.Stream, lane, pattern),
		DeliverPolicy: jetstream.DeliverNewPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       b.opts.AckWait,
		MaxDeliver:    -1, // dead-lettering is ours: JetStream's limit drops silently
		MaxAckPending: pending,
		ReplayPolicy:  jetstream.ReplayInstantPolicy,
	}
}

// pullExpiry bounds how long a pull request waits on the server; with its
// heartbeats (half of it) it is how soon a member notices a lost request,
// for example after a server restart, and asks again.
const pullExpiry = 2 * time.Second

// giveBackDelay is how long a closing member's returned messages wait
// before redelivery. The server (2.9) hands a redelivery to the oldest
// waiting pull request without checking that its requester still listens,
// so a message returned at once can go to the closing member's own
// withdrawn request and be lost until AckWait; after pullExpiry every such
// request has expired.
const giveBackDelay = pullExpiry + 250*time.Millisecond

// subscription is one member of a group: a pull subscription on each of the
// group's lane consumers.
type subscription struct {
	b              *Bus
	group, pattern string
	h              bus.Handler
	ctx            context.Context
	keeper         *keeper // keeps long-running deliveries alive
	consumes       []jetstream.ConsumeContext
	work           chan jetstream.Msg // unkeyed messages for the workers
	workers        sync.WaitGroup
	closing        atomic.Bool
	// callbacks is held for reading by every consume callback, so that
	// stop can wait for the last one: the client reports a drained
	// subscription closed while its final callback may still run.
	callbacks sync.RWMutex
	heldMu    sync.Mutex
	held      []jetstream.Msg // received while closing, to give back
	released  bool            // held was given back: later ones go at once

	mu        sync.Mutex
	closed    bool
	stopWatch func() bool
}

// dispatch hands an unkeyed message to a worker; it blocks while all are
// busy, which stops the consumer's prefetch from growing.
func (s *subscription) dispatch(m jetstream.Msg) {
	s.callbacks.RLock()
	defer s.callbacks.RUnlock()
	if s.closing.Load() {
		s.giveBack(m)
		return
	}
	s.work <- m
}

// inline handles a keyed message on the lane's own goroutine.
func (s *subscription) inline(m jetstream.Msg, sl *slot) {
	s.callbacks.RLock()
	defer s.callbacks.RUnlock()
	if s.closing.Load() {
		s.giveBack(m)
		return
	}
	s.process(m, true, sl)
}

func (s *subscription) work1(sl *slot) {
	for m := range s.work {
		if s.closing.Load() {
			s.giveBack(m)
			continue
		}
		s.process(m, false, sl)
	}
}

// giveBack keeps a message this member received but will not handle, for
// stop to return it once the server has stopped sending to this member.
func (s *subscription) giveBack(m jetstream.Msg) {
	s.heldMu.Lock()
	if s.released {
		s.heldMu.Unlock()
		_ = m.NakWithDelay(giveBackDelay)
		return
	}
	s.held = append(s.held, m)
	s.heldMu.Unlock()
}

// process runs the handler on one delivery, a message or a pack, and
// answers the server: ack when every message succeeded or was
// dead-lettered, otherwise nak with a backoff so that the delivery comes
// again. In a keyed lane the messages of a pack run in order and a failure
// stops the rest, which wait for the redelivery behind it.
func (s *subscription) process(jm jetstream.Msg, keyed bool, sl *slot) {
	b := s.b
	md, err := jm.Metadata()
	if err != nil {
		b.log.Error("nats: delivery without metadata; terminating it", "subject", jm.Subject(), "err", err)
		_ = jm.Term()
		return
	}
	ms, err := unpack(b.opts.Stream, jm, md)
	if err != nil {
		b.log.Error("nats: undecodable delivery; terminating it", "subject", jm.Subject(), "seq", md.Sequence.Stream, "err", err)
		_ = jm.Term()
		return
	}

	// Keep the delivery while the handler runs longer than AckWait.
	sl.begin(jm)
	retry, dead := false, 0
	for _, m := range ms {
		err := s.call(m)
		b.delivered.Add(1)
		if err == nil {
			b.acked.Add(1)
			continue
		}
		b.nacked.Add(1)
		if b.opts.DeadLetterSubject != "" && m.Attempt >= b.opts.MaxDeliver {
			derr := s.deadLetter(m, err)
			if derr == nil {
				b.deadLettered.Add(1)
				dead++
				continue
			}
			b.log.Error("nats: dead-lettering failed; redelivering", "subject", m.Subject, "id", m.ID, "err", derr)
		}
		retry = true
		if keyed {
			break
		}
	}
	sl.end()

	switch {
	case retry:
		if err := jm.NakWithDelay(b.backoff(int(md.NumDelivered))); err != nil {
			b.log.Warn("nats: nak failed; redelivery after AckWait", "subject", jm.Subject(), "seq", md.Sequence.Stream, "err", err)
		}
	case dead == len(ms):
		// Terminated rather than acknowledged, so that the server's
		// advisory shows it.
		if err := jm.Term(); err != nil {
			b.log.Warn("nats: term after dead-lettering failed", "subject", jm.Subject(), "seq", md.Sequence.Stream, "err", err)
		}
	default:
		if err := jm.Ack(); err != nil {
			b.log.Warn("nats: ack failed; the delivery will come again", "subject", jm.Subject(), "seq", md.Sequence.Stream, "err", err)
		}
	}
}

// keeper tells the server that deliveries whose handlers run long are
// still being worked on (InProgress), so that they are not redelivered
// after AckWait. Each handler goroutine owns a slot naming its delivery in
// progress; one goroutine looks at the slots every eighth of AckWait and
// signals those started or last signalled a quarter of AckWait ago or
// more, so a signal is never later than 3/8 of AckWait, leaving the rest
// for a busy machine. A delivery costs two uncontended locks, not a timer.
type keeper struct {
	every   time.Duration // a quarter of AckWait
	mu      sync.Mutex
	slots   []*slot
	stop    chan struct{}
	done    chan struct{}
	stopped sync.Once
}

// slot is one handler goroutine's delivery in progress.
type slot struct {
	mu    sync.Mutex
	msg   jetstream.Msg // nil when idle
	since time.Time     // started, or last signalled
}

func (sl *slot) begin(m jetstream.Msg) {
	now := time.Now()
	sl.mu.Lock()
	sl.msg, sl.since = m, now
	sl.mu.Unlock()
}

func (sl *slot) end() {
	sl.mu.Lock()
	sl.msg = nil
	sl.mu.Unlock()
}

func newKeeper(ackWait time.Duration) *keeper {
	k := &keeper{every: ackWait / 4, stop: make(chan struct{}), done: make(chan struct{})}
	go k.run()
	return k
}

// slot adds a slot for a handler goroutine.
func (k *keeper) slot() *slot {
	sl := &slot{}
	k.mu.Lock()
	k.slots = append(k.slots, sl)
	k.mu.Unlock()
	return sl
}

func (k *keeper) run() {
	defer close(k.done)
	t := time.NewTicker(max(k.every/2, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-k.stop:
			return
		case now := <-t.C:
			k.mu.Lock()
			slots := k.slots
			k.mu.Unlock()
			for _, sl := range slots {
				// Signalled under the slot's lock, so that none goes
				// out after the handler has answered the delivery.
				sl.mu.Lock()
				if sl.msg != nil && now.Sub(sl.since) >= k.every {
					_ = sl.msg.InProgress()
					sl.since = now
				}
				sl.mu.Unlock()
			}
		}
	}
}

// close stops the keeper once its handlers have returned.
func (k *keeper) close() {
	k.stopped.Do(func() { close(k.stop) })
	<-k.done
}

// call runs the handler, turning a panic into an error.
func (s *subscription) call(m bus.Message) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.b.panics.Add(1)
			err = fmt.Errorf("%w: %v", bus.ErrHandlerPanic, r)
			s.b.log.Error("nats: handler panicked", "subject", m.Subject, "id", m.ID, "group", s.group, "panic", r)
		}
	}()
	return s.h(s.ctx, m)
}

// deadLetter publishes m to the dead-letter subject, as bus.DeadLetter
// would, naming the group. Its deduplication key includes the group, so
// that two groups giving up on one message leave two dead letters, while a
// redelivery that fails again after an unacknowledged Term leaves one.
func (s *subscription) deadLetter(m bus.Message, cause error) error {
	b := s.b
	dead := m
	dead.Subject = b.opts.DeadLetterSubject
	dead.Attempt = 0
	dead.Headers = maps.Clone(m.Headers)
	if dead.Headers == nil {
		dead.Headers = map[string]string{}
	}
	dead.Headers[bus.HeaderDeadLetterSubject] = m.Subject
	dead.Headers[bus.HeaderDeadLetterError] = cause.Error()
	dead.Headers[bus.HeaderDeadLetterAttempts] = strconv.Itoa(m.Attempt)
	dead.Headers[HeaderDeadLetterGroup] = s.group
	if dead.Time.IsZero() {
		dead.Time = time.Now()
	}
	if err := checkFields(dead); err != nil {
		return err
	}
	msg := encode(b.opts.Stream, b.lanes, dead)
	msg.Header.Set(jetstream.MsgIDHeader, dedupKey(dead.Subject, m.ID)+" "+s.group)
	ctx, cancel := context.WithTimeout(context.Background(), min(b.opts.PublishTimeout, 10*time.Second))
	defer cancel()
	if err := b.acquire(ctx); err != nil {
		return err
	}
	defer b.release()
	return b.send(ctx, msg, nil)
}

// Close stops this member: it stops pulling, gives back the messages it had
// received but not started, and waits for its handlers in flight, whose
// answers are sent. Unacknowledged messages go to the group's other or next
// members. A second Close returns bus.ErrClosed.
func (s *subscription) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return bus.ErrClosed
	}
	s.closed = true
	stop := s.stopWatch
	s.mu.Unlock()
	if stop != nil {
		stop()
	}
	s.stop()
	s.b.forget(s)
	return nil
}

// stop drains the pull subscriptions, so that the server stops sending and
// the messages already received are collected, waits for the workers, and
// only then gives the collected messages back for immediate redelivery to
// other members. Giving them back earlier would let the server send them
// straight back to this member's pull request before it is withdrawn, and
// lose them until AckWait.
func (s *subscription) stop() {
	s.closing.Store(true)
	for _, cc := range s.consumes {
		cc.Drain()
	}
	for _, cc := range s.consumes {
		select {
		case <-cc.Closed():
		case <-time.After(10 * time.Second):
			s.b.log.Warn("nats: consumer did not drain in time", "group", s.group, "pattern", s.pattern)
			cc.Stop()
		}
	}
	s.callbacks.Lock() // the last callbacks have returned; the workers took their messages
	s.callbacks.Unlock()
	close(s.work)
	s.workers.Wait()
	s.keeper.close()
	s.heldMu.Lock()
	held := s.held
	s.held, s.released = nil, true
	s.heldMu.Unlock()
	for _, m := range held {
		if err := m.NakWithDelay(giveBackDelay); err != nil {
			s.b.log.Debug("nats: give back on close", "err", err)
		}
	}
}
