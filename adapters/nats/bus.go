package nats

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/govkit/govkit/bus"
)

// Bus is a bus.Bus on NATS JetStream: one connection, one stream, and a set
// of durable pull consumers per consumer group. It is safe for concurrent
// use. See the package documentation for what it promises.
type Bus struct {
	opts  Options
	lanes int // key lanes of the stream
	nc    *natsgo.Conn
	js    jetstream.JetStream
	log   *slog.Logger
	sem   chan struct{} // publishes awaiting acknowledgement
	done  chan struct{} // closed by Close

	mu      sync.Mutex
	closed  bool
	subs    map[*subscription]struct{}
	leaving sync.WaitGroup // subscriptions still giving back what they kept

	published, delivered, acked, nacked, deadLettered, panics atomic.Int64
}

var _ bus.Bus = (*Bus)(nil)

// Stats counts what a Bus has done since Open.
type Stats struct {
	Published    int64 // messages the server acknowledged storing, duplicates included
	Delivered    int64 // handler calls, redeliveries included
	Acked        int64 // handler calls that returned nil
	Nacked       int64 // handler calls that returned an error or panicked
	DeadLettered int64 // messages moved to the dead-letter subject
	Panics       int64 // handler calls that panicked
}

// Open connects to the server, and creates the stream or adds Subjects to
// it. It is idempotent: any number of processes may Open the same stream at
// once. It fails with ErrInvalidOptions for bad options, ErrIncompatibleStream
// when the stream exists with another shape, and a wrapped connection error
// when the server cannot be reached.
func Open(ctx context.Context, opts Options) (*Bus, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	log := o.Logger.With("stream", o.Stream)
	connOpts := []natsgo.Option{
		natsgo.Name("govkit-bus"),
		natsgo.MaxReconnects(-1),
		natsgo.ReconnectWait(o.ReconnectWait),
		natsgo.ReconnectBufSize(32 << 20),
		natsgo.DisconnectErrHandler(func(_ *natsgo.Conn, err error) {
			log.Warn("nats: disconnected", "err", err)
		}),
		natsgo.ReconnectHandler(func(nc *natsgo.Conn) {
			log.Info("nats: reconnected", "server", nc.ConnectedUrlRedacted())
		}),
		natsgo.ErrorHandler(func(_ *natsgo.Conn, s *natsgo.Subscription, err error) {
			log.Warn("nats: async error", "err", err)
		}),
	}
	nc, err := natsgo.Connect(o.URL, append(connOpts, o.NATSOptions...)...)
	if err != nil {
		return nil, fmt.Errorf("nats: connect %s: %w", o.URL, err)
	}
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending(4*o.MaxInFlight),
		jetstream.WithPublishAsyncTimeout(10*time.Second),
	)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("nats: jetstream: %w", err)
	}
	b := &Bus{
		opts: o, nc: nc, js: js, log: log,
		sem:  make(chan struct{}, o.MaxInFlight),
		done: make(chan struct{}),
		subs: map[*subscription]struct{}{},
	}
	if err := b.ensureStream(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	return b, nil
}

// descPrefix starts the description of every stream govkit creates; the
// number of key lanes follows it.
const descPrefix = "govkit bus stream; key-lanes="

const defaultKeyLanes = 8

// ensureStream creates the stream, or checks an existing one and adds our
// subjects to it.
func (b *Bus) ensureStream(ctx context.Context) error {
	o := b.opts
	ours := make([]string, len(o.Subjects))
	for i, s := range o.Subjects {
		ours[i] = o.Stream + ".*." + s
	}
	var createErr error
	for attempt := range 5 {
		s, err := b.js.Stream(ctx, o.Stream)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			lanes := o.KeyLanes
			if lanes == 0 {
				lanes = defaultKeyLanes
			}
			_, err = b.js.CreateStream(ctx, b.streamConfig(lanes, ours))
			if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
				continue // another process created it first: check it
			}
			if isSubjectOverlap(err) {
				// nats-server 2.9 answers a concurrent create of the same
				// stream this way while the first one is being set up; a
				// genuinely overlapping stream gives the same answer every
				// time, and that answer is returned after the last try.
				createErr = err
				if err := sleepCtx(ctx, time.Duration(attempt+1)*20*time.Millisecond); err != nil {
					return fmt.Errorf("nats: create stream %s: %w", o.Stream, err)
				}
				continue
			}
			if err != nil {
				return fmt.Errorf("nats: create stream %s: %w", o.Stream, err)
			}
			b.lanes = lanes
			return nil
		}
		if err != nil {
			return fmt.Errorf("nats: stream %s: %w", o.Stream, err)
		}
		have := s.CachedInfo().Config
		lanes, err := strconv.Atoi(strings.TrimPrefix(have.Description, descPrefix))
		if !strings.HasPrefix(have.Description, descPrefix) || err != nil || lanes < 1 || lanes > maxKeyLanes {
			return fmt.Errorf("%w: stream %s was not created by govkit (description %q)", ErrIncompatibleStream, o.Stream, have.Description)
		}
		if o.KeyLanes != 0 && o.KeyLanes != lanes {
			return fmt.Errorf("%w: stream %s has %d key lanes, options ask for %d", ErrIncompatibleStream, o.Stream, lanes, o.KeyLanes)
		}
		subjects := slices.Clone(have.Subjects)
		for _, s := range ours {
			if !slices.Contains(subjects, s) {
				subjects = append(subjects, s)
			}
		}
		want := b.streamConfig(lanes, subjects)
		if !sameStream(have, want) {
			if _, err := b.js.UpdateStream(ctx, want); err != nil {
				return fmt.Errorf("nats: update stream %s: %w", o.Stream, err)
			}
		}
		b.lanes = lanes
		return nil
	}
	if createErr != nil {
		return fmt.Errorf("nats: create stream %s: %w", o.Stream, createErr)
	}
	return fmt.Errorf("nats: stream %s: created and deleted concurrently; try again", o.Stream)
}

// errCodeSubjectOverlap is JetStream's JSStreamSubjectOverlapErr, which
// nats.go does not name.
const errCodeSubjectOverlap jetstream.ErrorCode = 10065

func isSubjectOverlap(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == errCodeSubjectOverlap
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *Bus) streamConfig(lanes int, subjects []string) jetstream.StreamConfig {
	o := b.opts
	limit := func(n int64) int64 {
		if n == 0 {
			return -1
		}
		return n
	}
	storage := jetstream.FileStorage
	if o.Storage == MemoryStorage {
		storage = jetstream.MemoryStorage
	}
	return jetstream.StreamConfig{
		Name:        o.Stream,
		Description: descPrefix + strconv.Itoa(lanes),
		Subjects:    subjects,
		Retention:   jetstream.InterestPolicy,
		Discard:     jetstream.DiscardNew,
		MaxBytes:    limit(o.MaxBytes),
		MaxMsgs:     limit(o.MaxMsgs),
		MaxAge:      o.MaxAge,
		Storage:     storage,
		Replicas:    o.Replicas,
		Duplicates:  o.DuplicateWindow,
		// Messages are published with a wire subject per lane, so the
		// per-subject limit must stay open.
		MaxMsgsPerSubject: -1,
		MaxConsumers:      -1,
		MaxMsgSize:        -1,
	}
}

func sameStream(a, b jetstream.StreamConfig) bool {
	return a.Description == b.Description && slices.Equal(a.Subjects, b.Subjects) &&
		a.Retention == b.Retention && a.Discard == b.Discard && a.MaxBytes == b.MaxBytes &&
		a.MaxMsgs == b.MaxMsgs && a.MaxAge == b.MaxAge && a.Storage == b.Storage &&
		a.Replicas == b.Replicas && a.Duplicates == b.Duplicates
}

// KeyLanes returns the number of ordered lanes per group for keyed messages,
// as fixed by the stream.
func (b *Bus) KeyLanes() int { return b.lanes }

// Stats returns the bus's counters.
func (b *Bus) Stats() Stats {
	return Stats{
		Published: b.published.Load(), Delivered: b.delivered.Load(), Acked: b.acked.Load(),
		Nacked: b.nacked.Load(), DeadLettered: b.deadLettered.Load(), Panics: b.panics.Load(),
	}
}

// Publish stores m in the stream and returns nil once the server has
// acknowledged it (with Replicas > 1, once a majority has). A message whose
// subject and ID were published before, within DuplicateWindow, is dropped
// by the server and Publish still returns nil, so retrying is always safe.
//
// Across a disconnection or a server restart Publish retries, until ctx
// ends or PublishTimeout passes; the error then wraps the context's error
// and the last failure. Invalid messages fail with bus.ErrInvalidSubject
// (also for subjects outside Options.Subjects) or bus.ErrInvalidMessage; a
// stream at its MaxBytes or MaxMsgs fails with bus.ErrOverloaded; a closed
// bus with bus.ErrClosed.
func (b *Bus) Publish(ctx context.Context, m bus.Message) error {
	msg, err := b.prepare(ctx, m)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, b.opts.PublishTimeout)
	defer cancel()
	if err := b.acquire(ctx); err != nil {
		return fmt.Errorf("nats: publish %s: %w", m.Subject, err)
	}
	defer b.release()
	return b.send(ctx, msg, nil)
}

// PublishBatch publishes several messages at once, pipelined over the
// connection, and returns nil once the server has stored every one. It is
// the fast path for bulk producers such as a sensor gateway or an outbox
// relay; with Options.PackSize > 1 it also packs runs of messages with the
// same subject and key lane into one JetStream message (see the package
// documentation for what that changes).
//
// Every message is validated first: if one is invalid, none is sent.
// Otherwise a failure reports each message that was not stored
// (errors.Join of errors naming their index); some others may have been
// stored, and re-publishing the whole batch is safe because the server
// drops duplicates. Messages of one key are stored in the batch's order,
// unless a failure and a retry inside the batch reorder them.
func (b *Bus) PublishBatch(ctx context.Context, ms []bus.Message) error {
	checked := make([]bus.Message, len(ms))
	for i, m := range ms {
		c, err := b.check(ctx, m)
		if err != nil {
			return fmt.Errorf("message %d: %w", i, err)
		}
		checked[i] = c
	}
	var units []unit
	if b.opts.PackSize > 1 {
		p := &packer{stream: b.opts.Stream, lanes: b.lanes, size: b.opts.PackSize, open: map[string]int{}}
		for i, m := range checked {
			p.add(i, m)
		}
		units = p.finish(checked)
	} else {
		units = make([]unit, len(checked))
		for i, m := range checked {
			units[i] = unit{msg: encode(b.opts.Stream, b.lanes, m), indexes: []int{i}}
		}
	}

	ctx, cancel := context.WithTimeout(ctx, b.opts.PublishTimeout)
	defer cancel()
	futures := make([]jetstream.PubAckFuture, len(units))
	failed := make([]error, len(units)) // why unit i is not yet stored
	stored := make([]bool, len(units))
	resolve := func(i int) {
		f := futures[i]
		if f == nil {
			return
		}
		defer b.release()
		select {
		case <-f.Ok():
			b.published.Add(int64(len(units[i].indexes)))
			stored[i] = true
		case failed[i] = <-f.Err():
		case <-ctx.Done():
			failed[i] = ctx.Err()
		case <-b.done:
			failed[i] = bus.ErrClosed
		}
	}
	next := 0 // the first unit whose future is not resolved
	for i, u := range units {
		// Take a slot; when none is free, resolve this batch's oldest
		// future first, so that batches never wait for each other.
		var err error
		for acquired := false; !acquired; {
			select {
			case b.sem <- struct{}{}:
				acquired = true
				continue
			default:
			}
			if next < i {
				resolve(next)
				next++
				continue
			}
			if err = b.acquire(ctx); err != nil {
				break
			}
			acquired = true
		}
		if err != nil {
			for j := i; j < len(units); j++ {
				failed[j] = err
			}
			break
		}
		f, err := b.js.PublishMsgAsync(&natsgo.Msg{Subject: u.msg.Subject, Header: u.msg.Header, Data: u.msg.Data})
		if err != nil {
			b.release()
			failed[i] = err
			continue
		}
		futures[i] = f
	}
	for ; next < len(units); next++ {
		resolve(next)
	}
	var errs []error
	for i, u := range units {
		if stored[i] {
			continue
		}
		if err := b.send(ctx, u.msg, failed[i]); err != nil {
			for _, j := range u.indexes {
				errs = append(errs, fmt.Errorf("message %d (id %s): %w", j, ms[j].ID, err))
			}
			continue
		}
		b.published.Add(int64(len(u.indexes) - 1)) // send counted one
	}
	return errors.Join(errs...)
}

// prepare validates m and encodes it.
func (b *Bus) prepare(ctx context.Context, m bus.Message) (*natsgo.Msg, error) {
	m, err := b.check(ctx, m)
	if err != nil {
		return nil, err
	}
	return encode(b.opts.Stream, b.lanes, m), nil
}

// check validates m, and returns it with Time set.
func (b *Bus) check(ctx context.Context, m bus.Message) (bus.Message, error) {
	if err := m.Validate(); err != nil {
		return m, err
	}
	if err := checkFields(m); err != nil {
		return m, err
	}
	if !captured(b.opts.Subjects, m.Subject) {
		return m, &bus.SubjectError{Subject: m.Subject, Reason: fmt.Sprintf("outside the stream's subjects %q", b.opts.Subjects), Err: bus.ErrInvalidSubject}
	}
	if err := ctx.Err(); err != nil {
		return m, err
	}
	if b.isClosed() {
		return m, bus.ErrClosed
	}
	if m.Time.IsZero() {
		m.Time = time.Now()
	}
	return m, nil
}

func (b *Bus) isClosed() bool {
	select {
	case <-b.done:
		return true
	default:
		return false
	}
}

func (b *Bus) acquire(ctx context.Context) error {
	select {
	case b.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-b.done:
		return bus.ErrClosed
	}
}

func (b *Bus) release() { <-b.sem }

// send publishes msg until the server acknowledges it, a permanent error
// occurs, or ctx ends. prior, if not nil, is the error of an attempt already
// made.
func (b *Bus) send(ctx context.Context, msg *natsgo.Msg, prior error) error {
	last := prior
	wait := 20 * time.Millisecond
	for attempt := 0; ; attempt++ {
		if last != nil {
			if perm := permanent(last); perm != nil {
				return fmt.Errorf("nats: publish %s: %w", msg.Subject, perm)
			}
			b.log.Debug("nats: publish failed; retrying", "subject", msg.Subject, "err", last, "attempt", attempt)
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return fmt.Errorf("nats: publish %s: %w (last error: %w)", msg.Subject, ctx.Err(), last)
			case <-b.done:
				t.Stop()
				return bus.ErrClosed
			}
			wait = min(2*wait, time.Second)
		}
		// A fresh message each time: the client sets its reply subject.
		f, err := b.js.PublishMsgAsync(&natsgo.Msg{Subject: msg.Subject, Header: msg.Header, Data: msg.Data})
		if err != nil {
			last = err
			continue
		}
		select {
		case <-f.Ok():
			b.published.Add(1)
			return nil
		case last = <-f.Err():
		case <-ctx.Done():
			return fmt.Errorf("nats: publish %s: %w", msg.Subject, ctx.Err())
		case <-b.done:
			return bus.ErrClosed
		}
	}
}

// permanent returns the error to report if err is not worth retrying, or
// nil if it is: disconnections, timeouts, no responders (JetStream
// restarting) and temporary unavailability are retried.
func permanent(err error) error {
	var api *jetstream.APIError
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, bus.ErrClosed):
		return err
	case errors.Is(err, natsgo.ErrConnectionClosed):
		return fmt.Errorf("%w: %w", bus.ErrClosed, err)
	case errors.Is(err, natsgo.ErrMaxPayload), errors.Is(err, natsgo.ErrBadHeaderMsg):
		return fmt.Errorf("%w: %w", bus.ErrInvalidMessage, err)
	case errors.As(err, &api):
		switch {
		case api.ErrorCode == jetstream.JSErrCodeStreamMessageExceedsMaximum:
			return fmt.Errorf("%w: %w", bus.ErrInvalidMessage, err)
		case overloaded(api):
			return fmt.Errorf("%w: %w", bus.ErrOverloaded, err)
		case api.Code == 503 || api.ErrorCode == 10008: // JetStream or its cluster temporarily unavailable
			return nil
		}
		return err
	}
	return nil
}

// JetStream error codes that mean the stream or server is full.
const (
	errCodeInsufficientResources = 10023
	errCodeStoreFailed           = 10077 // wraps "maximum messages/bytes exceeded"
	errCodeStorageResources      = 10047
)

func overloaded(api *jetstream.APIError) bool {
	switch api.ErrorCode {
	case errCodeInsufficientResources, errCodeStorageResources:
		return true
	case errCodeStoreFailed:
		return strings.Contains(api.Description, "maximum")
	}
	return false
}

// backoff returns the delay before redelivering a message that failed on
// delivery n (n ≥ 1).
func (b *Bus) backoff(n int) time.Duration {
	d := b.opts.Backoff
	for i := 1; i < n && d < b.opts.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, b.opts.MaxBackoff)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// Close stops every subscription (waiting for handlers in flight, whose
// answers are sent, and for every subscription, closed now or before, to
// give back what it had received and not started: about a second), flushes
// and closes the connection. Messages not yet
// acknowledged stay in the stream for the groups' other or next members.
// Later calls return bus.ErrClosed.
func (b *Bus) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return bus.ErrClosed
	}
	b.closed = true
	close(b.done)
	subs := make([]*subscription, 0, len(b.subs))
	for s := range b.subs {
		subs = append(subs, s)
	}
	b.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range subs {
		wg.Go(func() { _ = s.Close() })
	}
	wg.Wait()
	b.leaving.Wait()
	if err := b.nc.FlushTimeout(5 * time.Second); err != nil && !errors.Is(err, natsgo.ErrConnectionClosed) {
		b.log.Warn("nats: flush on close", "err", err)
	}
	b.nc.Close()
	return nil
}

func (b *Bus) forget(s *subscription) {
	b.mu.Lock()
	delete(b.subs, s)
	b.mu.Unlock()
}
