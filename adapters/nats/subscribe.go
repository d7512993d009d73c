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

	natsgo "github.com/nats-io/nats.go"
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

	s := &subscription{b: b, group: group, pattern: pattern, h: h, ctx: ctx, work: make(chan jetstream.Msg), quit: make(chan struct{})}
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
		handle, batch := s.dispatch, min(b.opts.MaxAckPending, unkeyedBatch)
		if lanes[i] != unkeyedLane {
			sl := s.keeper.slot()
			handle, batch = func(m jetstream.Msg) { s.handleInline(m, sl) }, keyedBatch
		}
		s.pullers.Go(func() { s.pull(c, lanes[i], batch, handle) })
	}

	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		s.stop()()
		return nil, bus.ErrClosed
	}
	b.subs[s] = struct{}{}
	b.leaving.Add(1) // done once Close has given back what it kept
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

// pullExpiry bounds how long a pull request waits on the server, and so
// how long a closing member waits for its last requests to end. An idle
// lane costs the server one request a second per member.
const pullExpiry = time.Second

// unkeyedBatch bounds one pull request on the unkeyed lane: the messages a
// member may have received and not yet started.
const unkeyedBatch = 512

// keyedBatch is the batch of a keyed lane's pull request. The server sends
// such a lane one message at a time, the next once the last is
// acknowledged, so the batch only sets how often a busy lane asks again.
const keyedBatch = 64

// pullRetry is the wait before a lane asks again after its n-th failure in
// a row: 100 ms doubling, at most 5 s.
func pullRetry(n int) time.Duration {
	return min(100*time.Millisecond<<min(n-1, 6), 5*time.Second)
}

// subscription is one member of a group: a pull subscription on each of the
// group's lane consumers.
type subscription struct {
	b              *Bus
	group, pattern string
	h              bus.Handler
	ctx            context.Context
	keeper         *keeper            // keeps long-running deliveries alive
	pullers        sync.WaitGroup     // one pull loop per lane
	work           chan jetstream.Msg // unkeyed messages for the workers
	workers        sync.WaitGroup
	inline         sync.RWMutex // read-held by keyed handlers, so stop can wait for them
	closing        atomic.Bool
	quit           chan struct{} // closed when closing
	heldMu         sync.Mutex
	held           []jetstream.Msg // received while closing, to give back

	mu        sync.Mutex
	closed    bool
	stopWatch func() bool
}

// dispatch hands an unkeyed message to a worker; it blocks while all are
// busy, which stops the lane from asking for more.
func (s *subscription) dispatch(m jetstream.Msg) {
	if s.closing.Load() {
		s.giveBack(m)
		return
	}
	select {
	case s.work <- m:
	case <-s.quit: // the workers are gone
		s.giveBack(m)
	}
}

// handleInline handles a keyed message on the lane's own goroutine.
func (s *subscription) handleInline(m jetstream.Msg, sl *slot) {
	s.inline.RLock()
	defer s.inline.RUnlock()
	if s.closing.Load() {
		s.giveBack(m)
		return
	}
	s.process(m, true, sl)
}

func (s *subscription) work1(sl *slot) {
	for {
		select {
		case m := <-s.work:
			if s.closing.Load() {
				s.giveBack(m)
				continue
			}
			s.process(m, false, sl)
		case <-s.quit:
			return
		}
	}
}

// giveBack keeps a message this member received but will not handle, for
// stop to return it once the server has stopped sending to this member.
func (s *subscription) giveBack(m jetstream.Msg) {
	s.heldMu.Lock()
	s.held = append(s.held, m)
	s.heldMu.Unlock()
}

// pull feeds one lane's messages to handle, one pull request at a time,
// until the member closes. Each request ends on the server, its batch
// filled or its expiry reached, before the next is sent or the member
// stops. A client that withdraws a request the server still holds (as the
// client library's continuous Consume does when it stops) races the
// server: a message the server sends to it as it goes is counted as
// delivered, yet reaches no one, and waits AckWait for redelivery; in a
// keyed lane, everything behind it waits too.
func (s *subscription) pull(c jetstream.Consumer, lane string, batch int, handle func(jetstream.Msg)) {
	failures, gone := 0, false
	for !s.closing.Load() {
		var err error
		if gone {
			// Deleted by an operator, say: without it the group would hear
			// nothing more. What was published meanwhile is lost to the
			// group, as before its first member.
			var again jetstream.Consumer
			if again, err = s.b.js.CreateOrUpdateConsumer(s.ctx, s.b.opts.Stream, s.b.consumerConfig(s.group, s.pattern, lane)); err == nil {
				s.b.log.Warn("nats: the group's consumer was deleted; created it again", "group", s.group, "pattern", s.pattern, "lane", lane)
				c, gone = again, false
			}
		}
		if err == nil {
			err = s.pullOnce(c, batch, handle)
		}
		switch {
		case err == nil:
			failures = 0
			continue
		case errors.Is(err, natsgo.ErrConnectionClosed):
			s.b.log.Warn("nats: connection closed; member stops pulling", "group", s.group, "pattern", s.pattern, "lane", lane)
			return
		case errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrConsumerNotFound):
			gone = true // created again after the pause, not to race the server still deleting it
		}
		failures++
		s.b.log.Warn("nats: pull failed; asking again", "group", s.group, "pattern", s.pattern, "lane", lane, "err", err)
		select {
		case <-time.After(pullRetry(failures)):
		case <-s.quit:
			return
		}
	}
}

// pullOnce sends one pull request and hands what it brings to handle.
func (s *subscription) pullOnce(c jetstream.Consumer, batch int, handle func(jetstream.Msg)) error {
	start := time.Now()
	mb, err := c.Fetch(batch, jetstream.FetchMaxWait(pullExpiry))
	if err != nil {
		return err
	}
	n := 0
	for m := range mb.Messages() {
		handle(m)
		n++
	}
	if err := mb.Error(); err != nil || n > 0 || time.Since(start) < pullExpiry+pullExpiry/2 {
		return err
	}
	// Not even the server's timeout came: it did not hold the request. It
	// restarted, say (the client buffers requests while it reconnects, so
	// asking again is enough), or the consumer is gone, which only its
	// info tells.
	_, err = c.Info(s.ctx)
	return err
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

// Close stops this member: no handler starts after it returns, and those in
// flight have returned, their answers sent. The messages the member had
// received but not started go back to the group's other or next members
// within about a second, once its last pull requests have ended on the
// server; Bus.Close waits for that. A second Close returns bus.ErrClosed.
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
	finish := s.stop()
	s.b.forget(s)
	go func() {
		defer s.b.leaving.Done()
		finish()
	}()
	return nil
}

// stop ends the member's handling: no handler starts after it returns,
// and those in flight have returned. It returns the rest, which takes up to
// pullExpiry: each lane's last pull request ends on the server, and what
// arrived meanwhile is kept; then the kept messages go back for immediate
// redelivery to the group's other or next members. With no request of this
// member left on the server, none can come back here.
func (s *subscription) stop() (finish func()) {
	s.closing.Store(true)
	close(s.quit)
	s.workers.Wait()
	s.inline.Lock() // the keyed handlers in flight have returned
	s.inline.Unlock()
	s.keeper.close()
	return func() {
		s.pullers.Wait()
		s.heldMu.Lock()
		held := s.held
		s.held = nil
		s.heldMu.Unlock()
		for _, m := range held {
			if err := m.Nak(); err != nil {
				s.b.log.Debug("nats: give back on close", "err", err)
			}
		}
	}
}
