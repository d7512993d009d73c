package mqtt

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"

	"github.com/govkit/govkit/bus"
)

// Subscription is one member of a consumer group: one MQTT client with a
// persistent session, subscribed to the group's shared subscription and to
// the group's retry topic. Close pauses the membership (the broker keeps
// the session and queues the member's share of messages for it); Leave
// ends it.
type Subscription struct {
	b              *Bus
	key            groupKey
	slot           int
	clientID       string
	filter, retryF string // shared filters
	retryTopic     string
	h              bus.Handler
	ctx            context.Context // the handler's context: Subscribe's
	tr             *tracker        // nil without loss detection
	sess           *sessionState
	cm             *autopaho.ConnectionManager
	cmCancel       context.CancelFunc
	seed           maphash.Seed

	acks     ackQueue
	lanes    []chan *delivery
	rr       atomic.Uint64
	stop     chan struct{} // closed when Close begins
	workers  sync.WaitGroup
	lastRecv atomic.Int64 // unix nanoseconds of the last PUBLISH received

	first     chan struct{} // closed after the first SUBACK or refusal
	firstOnce sync.Once
	firstErr  error

	mu         sync.Mutex
	closed     bool
	leaving    bool
	endSession atomic.Bool
	stopWatch  func() bool
}

// groupKey identifies a group: bus groups are (name, pattern) pairs.
type groupKey struct{ name, pattern string }

// delivery is one received message on its way through a handler.
type delivery struct {
	r       received
	ack     *ackEntry // nil for QoS 0
	attempt int       // the first handler call's Message.Attempt
}

func (b *Bus) newSubscription(ctx context.Context, key groupKey, slot int, h bus.Handler, tr *tracker) *Subscription {
	o := &b.opts
	s := &Subscription{
		b: b, key: key, slot: slot, h: h, ctx: ctx, tr: tr,
		clientID:   o.ClientID + "-" + key.name + "-" + patternHash(key.pattern)[:8] + "-" + strconv.Itoa(slot),
		filter:     SharedFilter(key.name, key.pattern),
		retryTopic: RetryTopic(key.name, key.pattern),
		sess:       newSessionState(),
		seed:       maphash.MakeSeed(),
		stop:       make(chan struct{}),
		first:      make(chan struct{}),
	}
	s.retryF = "$share/" + key.name + "/" + s.retryTopic
	per := o.ReceiveMaximum + 1
	s.lanes = make([]chan *delivery, o.Concurrency)
	for i := range s.lanes {
		s.lanes[i] = make(chan *delivery, per)
		s.workers.Add(1)
		go s.work(s.lanes[i])
	}
	return s
}

// start connects and waits for the first SUBACK.
func (s *Subscription) start(ctx context.Context) error {
	o := &s.b.opts
	cctx, cancel := context.WithCancel(context.Background())
	s.cmCancel = cancel
	rm := uint16(o.ReceiveMaximum)
	cfg := autopaho.ClientConfig{
		ServerUrls:                    s.b.urls,
		TlsCfg:                        o.TLS,
		KeepAlive:                     uint16(o.KeepAlive / time.Second),
		CleanStartOnInitialConnection: false, // resume the member's session
		SessionExpiryInterval:         uint32(o.SessionExpiry / time.Second),
		ReconnectBackoff: func(n int) time.Duration {
			if n == 0 {
				return 0
			}
			return reconnectDelay(o, n)
		},
		ConnectTimeout: o.ConnectTimeout,
		AttemptConnection: func(ctx context.Context, _ autopaho.ClientConfig, u *url.URL) (net.Conn, error) {
			return dial(ctx, u, o.TLS, false)
		},
		ConnectPacketBuilder: func(cp *paho.Connect, _ *url.URL) (*paho.Connect, error) {
			c := connectPacket(o, s.clientID, cp.CleanStart, rm)
			return c, nil
		},
		DisconnectPacketBuilder: func() *paho.Disconnect {
			if s.endSession.Load() {
				zero := uint32(0)
				return &paho.Disconnect{ReasonCode: 0, Properties: &paho.DisconnectProperties{SessionExpiryInterval: &zero}}
			}
			return &paho.Disconnect{ReasonCode: 0}
		},
		OnConnectionUp: func(cm *autopaho.ConnectionManager, ca *paho.Connack) {
			go s.subscribe(cctx, cm, ca.SessionPresent)
		},
		OnConnectError: func(err error) {
			s.b.log("mqtt: subscription cannot connect", "client", s.clientID, "error", err)
		},
		ClientConfig: paho.ClientConfig{
			ClientID:          s.clientID,
			Session:           s.sess,
			PacketTimeout:     o.ConnectTimeout,
			OnPublishReceived: []func(paho.PublishReceived) (bool, error){s.receive},
			OnClientError: func(err error) {
				s.b.log("mqtt: subscription connection lost", "client", s.clientID, "error", err)
			},
		},
	}
	cm, err := autopaho.NewConnection(cctx, cfg)
	if err != nil {
		cancel()
		return err
	}
	s.cm = cm
	t := time.NewTimer(o.ConnectTimeout)
	defer t.Stop()
	select {
	case <-s.first:
		return s.firstErr
	case <-t.C:
		return fmt.Errorf("mqtt: subscribe %q as %s: not subscribed within %v", s.filter, s.clientID, o.ConnectTimeout)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// subscribe (re)subscribes after every connection: when the broker kept
// the session this changes nothing, when it lost it this restores it.
func (s *Subscription) subscribe(ctx context.Context, cm *autopaho.ConnectionManager, present bool) {
	s.mu.Lock()
	leaving := s.leaving
	s.mu.Unlock()
	if leaving {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, s.b.opts.ConnectTimeout)
	defer cancel()
	sa, err := cm.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{
		{Topic: s.filter, QoS: 1}, {Topic: s.retryF, QoS: 1},
	}})
	if err != nil && sa != nil {
		for i, code := range sa.Reasons {
			if code >= 0x80 {
				topic := s.filter
				if i == 1 {
					topic = s.retryF
				}
				var reason string
				if sa.Properties != nil {
					reason = sa.Properties.ReasonString
				}
				err = &BrokerError{Op: "subscribe", Topic: topic, Code: code, Reason: reason}
				break
			}
		}
		var be *BrokerError
		if errors.As(err, &be) {
			s.firstOnce.Do(func() { s.firstErr = err; close(s.first) })
		}
	}
	if err != nil {
		s.b.log("mqtt: subscribe failed", "client", s.clientID, "filter", s.filter, "error", err)
		return
	}
	if !present {
		s.b.log("mqtt: subscription started a new session", "client", s.clientID)
	}
	s.firstOnce.Do(func() { close(s.first) })
}

// receive is paho's callback for every PUBLISH, in the order received.
func (s *Subscription) receive(pr paho.PublishReceived) (bool, error) {
	p := pr.Packet
	now := time.Now()
	s.lastRecv.Store(now.UnixNano())
	var e *ackEntry
	if p.QoS > 0 {
		e = &ackEntry{gen: s.sess.generation(), id: p.PacketID}
		s.acks.add(e)
	}
	retry := false
	var subject string
	if strings.HasPrefix(p.Topic, retryPrefix) {
		if p.Topic != s.retryTopic {
			s.complete(e) // another group's hand-back, seen through "#"
			return true, nil
		}
		retry = true
	} else {
		subj, err := Subject(p.Topic)
		if err != nil {
			s.b.skipped.Add(1)
			s.b.log("mqtt: skipped a message whose topic is not a subject", "topic", p.Topic, "error", err)
			s.complete(e)
			return true, nil
		}
		if !bus.Match(s.key.pattern, subj) {
			s.complete(e) // "#" matched the parent level, which ">" does not
			return true, nil
		}
		subject = subj
	}
	if count, ok := packProperty(p); ok {
		s.receivePack(p, e, retry, subject, count)
		return true, nil
	}
	r := decode(p, subject, now)
	if !retry {
		// PropSubject belongs to hand-backs: no publisher may relabel a
		// message with another subject than its topic's.
		r.msg.Subject = subject
	}
	if retry && bus.ValidateSubject(r.msg.Subject) != nil {
		s.b.skipped.Add(1)
		s.b.log("mqtt: skipped a handed-back message without a valid subject", "topic", p.Topic)
		s.complete(e)
		return true, nil
	}
	attempt := max(r.attempt, 1)
	if p.Duplicate() {
		attempt++ // sent before on an earlier connection: maybe handled, never acknowledged
		s.b.redelivered.Add(1)
	}
	if !retry && r.seq > 0 && s.tr != nil {
		s.tr.observe(r.src, r.msg.Subject, r.msg.Key, r.seq)
	}
	d := &delivery{r: r, ack: e, attempt: attempt}
	select {
	case s.laneFor(r.msg.Key) <- d:
	case <-s.stop: // closing: left unacknowledged, the session keeps it
	}
	return true, nil
}

// receivePack delivers a pack's messages one by one, as if each had
// arrived alone: in the pack's order, on their keys' lanes, each
// numbered for loss detection, retried and handed back by itself. The
// pack's acknowledgement e waits for all of them (ackEntry.parts). A
// malformed pack is skipped like any message that cannot be decoded:
// acknowledged, counted in Stats.Skipped and logged. Packs are never
// handed back, so one on the retry topic is malformed too.
//
// A pack can put up to MaxPackSize messages on one lane, whose buffer
// holds ReceiveMaximum+1: a full lane holds up receive, and so the
// member's later messages, until its handler catches up. That is
// backpressure, not a deadlock: handlers never wait for receive.
func (s *Subscription) receivePack(p *paho.Publish, e *ackEntry, retry bool, subject, count string) {
	var rs []received
	var err error
	if retry {
		err = fmt.Errorf("%w: on the retry topic", errBadPack)
	} else {
		rs, err = decodePack(subject, count, p.Payload)
	}
	if err != nil {
		s.b.skipped.Add(1)
		s.b.log("mqtt: skipped a malformed pack", "topic", p.Topic, "client", s.clientID, "error", err)
		s.complete(e)
		return
	}
	attempt := 1
	if p.Duplicate() {
		attempt++ // sent before on an earlier connection: maybe handled, never acknowledged
		s.b.redelivered.Add(int64(len(rs)))
	}
	if s.tr != nil {
		for i := range rs {
			if rs[i].seq > 0 {
				s.tr.observe(rs[i].src, subject, rs[i].msg.Key, rs[i].seq)
			}
		}
	}
	if e != nil {
		e.parts.Store(int32(len(rs)))
	}
	for i := range rs {
		d := &delivery{r: rs[i], ack: e, attempt: attempt}
		select {
		case s.laneFor(d.r.msg.Key) <- d:
		case <-s.stop: // closing: the pack stays unacknowledged, the session keeps it
			return
		}
	}
}

func (s *Subscription) laneFor(key string) chan *delivery {
	n := uint64(len(s.lanes))
	if key == "" {
		return s.lanes[s.rr.Add(1)%n]
	}
	return s.lanes[maphash.String(s.seed, key)%n]
}

// work runs one lane's deliveries, one at a time.
func (s *Subscription) work(lane chan *delivery) {
	defer s.workers.Done()
	for {
		select {
		case <-s.stop:
			return
		default:
		}
		select {
		case d := <-lane:
			s.handle(d)
		case <-s.stop:
			return
		}
	}
}

// handle calls the handler until it succeeds, retrying in place up to
// MaxAttempts calls, then hands the message back to the group; it
// acknowledges only after success or a confirmed hand-back.
func (s *Subscription) handle(d *delivery) {
	b, o := s.b, &s.b.opts
	attempt := d.attempt
	for calls := 1; ; calls++ {
		d.r.msg.Attempt = attempt
		err := s.call(d.r.msg)
		b.delivered.Add(1)
		if err == nil {
			b.acked.Add(1)
			s.complete(d.ack)
			return
		}
		b.nacked.Add(1)
		if calls >= o.MaxAttempts && s.handBack(d, attempt+1) {
			b.handedBack.Add(1)
			s.complete(d.ack)
			return
		}
		attempt++
		t := time.NewTimer(retryDelay(o, attempt))
		select {
		case <-t.C:
		case <-s.stop:
			t.Stop()
			return // unacknowledged: the session keeps it for this member
		}
	}
}

func (s *Subscription) call(m bus.Message) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.b.panics.Add(1)
			err = fmt.Errorf("%w: %v", bus.ErrHandlerPanic, r)
			s.b.log("mqtt: handler panicked", "subject", m.Subject, "id", m.ID, "group", s.key.name, "panic", r)
		}
	}()
	return s.h(s.ctx, m)
}

// handBack republishes d to the group's retry topic with the next attempt
// number; it reports whether the broker took it for at least one member.
func (s *Subscription) handBack(d *delivery, next int) bool {
	ctx, cancel := context.WithTimeout(context.Background(), s.b.opts.ConnectTimeout)
	defer cancel()
	m := d.r.msg
	m.Attempt = 0
	f := &flight{topic: s.retryTopic, m: m, x: meta{attempt: next, subject: m.Subject}}
	code, err := s.b.pub.publish(ctx, f)
	if err != nil || code == CodeNoMatchingSubscribers {
		s.b.log("mqtt: could not hand a failing message back to its group; retrying in place",
			"id", m.ID, "group", s.key.name, "error", err, "code", code)
		return false
	}
	return true
}

// retryDelay is the wait before delivery attempt n ≥ 2.
func retryDelay(o *Options, n int) time.Duration {
	d := o.Backoff
	for i := 2; i < n && d < o.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, o.MaxBackoff)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// complete marks e handled and sends the acknowledgements now due. For
// a pack it marks one of its messages handled (or handed back), and e
// only with the last of them.
func (s *Subscription) complete(e *ackEntry) {
	if e == nil {
		return
	}
	if e.parts.Load() > 0 && e.parts.Add(-1) > 0 {
		return
	}
	s.acks.complete(e, func(x *ackEntry) { s.sess.ack(x.gen, x.id) })
}

// Close ends this member's delivery and waits for its handlers in flight;
// it keeps the member's session on the broker for Options.SessionExpiry.
// Messages it had received but not acknowledged, and the share of the
// group's messages that the broker goes on assigning to it, wait in that
// session for the next Subscribe with the same ClientID, group and
// pattern (this bus, or the process restarted). To stop being a member
// for good, call Leave instead.
func (s *Subscription) Close() error {
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
	close(s.stop)
	s.workers.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), s.b.opts.ConnectTimeout)
	defer cancel()
	if s.cm != nil {
		_ = s.cm.Disconnect(ctx) // the acknowledgements queued so far go out before the DISCONNECT
	}
	if s.cmCancel != nil {
		s.cmCancel()
	}
	s.b.release(s)
	return nil
}

// leaveQuiet is how long Leave waits after the last message before it
// concludes that the broker has nothing more queued for the member.
const leaveQuiet = 250 * time.Millisecond

// Leave ends this membership for good: it unsubscribes, so that the
// broker assigns the member no more messages, handles (or hands back) the
// messages already assigned to it as they arrive, and once none has come
// for a moment and all are acknowledged, disconnects ending its session.
// If ctx ends first, Leave returns an error wrapping ErrPending and closes
// the subscription keeping its session, so nothing is lost.
func (s *Subscription) Leave(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return bus.ErrClosed
	}
	s.leaving = true
	s.mu.Unlock()
	if _, err := s.cm.Unsubscribe(ctx, &paho.Unsubscribe{Topics: []string{s.filter, s.retryF}}); err != nil {
		s.mu.Lock()
		s.leaving = false
		s.mu.Unlock()
		return fmt.Errorf("mqtt: leave %s: %w", s.clientID, err)
	}
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for s.acks.outstanding() > 0 || time.Since(time.Unix(0, s.lastRecv.Load())) < leaveQuiet {
		select {
		case <-t.C:
		case <-ctx.Done():
			_ = s.Close()
			return fmt.Errorf("%w: leave %s: %d unacknowledged: %v", ErrPending, s.clientID, s.acks.outstanding(), ctx.Err())
		}
	}
	s.endSession.Store(true)
	return s.Close()
}

// ClientID returns the MQTT client ID of this member's session.
func (s *Subscription) ClientID() string { return s.clientID }

// ackEntry is one received QoS 1 PUBLISH awaiting its PUBACK.
type ackEntry struct {
	gen   uint64       // connection generation that delivered it
	id    uint16       // packet identifier
	done  bool         // guarded by ackQueue.mu
	parts atomic.Int32 // for a pack: its messages not yet handled or handed back
}

// ackQueue releases PUBACKs in the order the messages arrived, as MQTT
// requires, however the handlers finish.
type ackQueue struct {
	mu   sync.Mutex
	q    []*ackEntry
	head int
}

func (a *ackQueue) add(e *ackEntry) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if n := len(a.q); n > a.head && a.q[n-1].gen != e.gen {
		// a new connection: the older entries' PUBACKs can no longer be
		// sent (the broker redelivers those messages), so drop them
		clear(a.q)
		a.q, a.head = a.q[:0], 0
	}
	a.q = append(a.q, e)
}

func (a *ackQueue) complete(e *ackEntry, send func(*ackEntry)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	e.done = true
	for a.head < len(a.q) && a.q[a.head].done {
		send(a.q[a.head])
		a.q[a.head] = nil
		a.head++
	}
	if a.head == len(a.q) {
		a.q, a.head = a.q[:0], 0
	} else if a.head > 1024 && a.head*2 > len(a.q) {
		n := copy(a.q, a.q[a.head:])
		clear(a.q[n:])
		a.q, a.head = a.q[:n], 0
	}
}

func (a *ackQueue) outstanding() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.q) - a.head
}
