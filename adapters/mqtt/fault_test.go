package mqtt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/govkit/govkit/bus"
)

// faultOptions are testOptions that reconnect quickly.
func faultOptions(t testing.TB, server, suffix string) Options {
	o := testOptions(t, server)
	o.ClientID += suffix
	o.ReconnectMin, o.ReconnectMax = 50*time.Millisecond, 300*time.Millisecond
	return o
}

// dedupConsumer is an idempotent consumer: it applies each message's
// effect once, by ID, however often the message is delivered.
type dedupConsumer struct {
	mu         sync.Mutex
	deliveries map[string]int // deliveries per ID
	effects    map[string]int // effects applied per ID
}

func newDedupConsumer() *dedupConsumer {
	return &dedupConsumer{deliveries: map[string]int{}, effects: map[string]int{}}
}

func (c *dedupConsumer) handle(_ context.Context, m bus.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deliveries[m.ID]++
	if c.effects[m.ID] == 0 {
		c.effects[m.ID]++
	}
	return nil
}

// missing returns the IDs not delivered yet.
func (c *dedupConsumer) missing(ids []string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, id := range ids {
		if c.deliveries[id] == 0 {
			out = append(out, id)
		}
	}
	return out
}

// restartOutcome is what one stream across a broker restart came to.
// Messages whose Publish returned nil are sorted by when they returned,
// before the broker was stopped or after it was started again, and by
// whether the broker certainly matched them to the group.
type restartOutcome struct {
	before, after []string // acknowledged with a matching subscription
	maybeNoSub    []string // acknowledged while NoSubscribers went up: perhaps unmatched
	failed        int      // Publish calls that returned an error (their timeout)

	lostBefore, lostAfter, lostNoSub []string // of those, never consumed
	noSubs                           int64
	redelivered                      int
	sub                              Stats
}

// streamAcrossRestart runs publishers (one Publish in flight each) and a
// consumer that deduplicates by ID, on a private broker; when a third of
// the messages are acknowledged it stops the broker with sig and, half a
// second later, starts it again on the same port and persistence
// directory. With online false the consumer's member is closed (its
// session kept) before the stream, publishing ends at the stop, and the
// member comes back after the restart. The consumer handles messages in
// the order received (Concurrency 1), so once a marker published last has
// been handled, everything the broker still had for the member has been.
// It fails the test if the consumer applied a message more than once, or
// if a message acknowledged after the restart with a matching
// subscription was never consumed.
//
// Mosquitto 2.0.11 restores sessions and their queued messages from its
// persistence file but not shared subscriptions ($share/… is not saved):
// until the group's member has reconnected and subscribed again, the
// restarted broker matches no subscription to the group's messages and
// drops them, acknowledging them with reason code 0x10 ("no matching
// subscribers"). Publish returns nil for those, as documented, and Stats
// counts them in NoSubscribers. Bracketing each Publish with Stats tells
// the messages that certainly had a subscriber from those that may not
// have (maybeNoSub); the test counts the latter rather than demand them.
func streamAcrossRestart(t *testing.T, config string, sig syscall.Signal, online bool, publishers, each int) restartOutcome {
	br := startBroker(t, config)
	subOpts := faultOptions(t, br.url(), "-s")
	subOpts.Concurrency = 1
	sub := newTestBus(t, subOpts)
	pub := newTestBus(t, faultOptions(t, br.url(), "-p"))
	consumer := newDedupConsumer()
	root := testRoot()
	member := subscribeT(t, sub, root+".>", "audit", consumer.handle)
	if !online {
		if err := member.Close(); err != nil {
			t.Fatal(err)
		}
	}

	var (
		mu      sync.Mutex
		out     restartOutcome
		ackedN  atomic.Int64
		phase   atomic.Int32 // 0 running, 1 stopping or stopped, 2 restarted
		wg      sync.WaitGroup
		reasons = map[string]int{}
	)
	for p := range publishers {
		wg.Go(func() {
			subject := root + ".500107.sensor.d" + strconv.Itoa(p) + ".reading"
			for i := range each {
				if !online && phase.Load() > 0 {
					return
				}
				m := bus.NewMessage(subject, []byte(strconv.Itoa(p)+"-"+strconv.Itoa(i)))
				if i%2 == 0 {
					m.Key = "device-" + strconv.Itoa(p)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				before := pub.Stats().NoSubscribers
				err := pub.Publish(ctx, m)
				after := pub.Stats().NoSubscribers
				cancel()
				mu.Lock()
				switch {
				case err != nil:
					out.failed++
					reasons[err.Error()]++
				case after != before:
					out.maybeNoSub = append(out.maybeNoSub, m.ID)
				case phase.Load() < 2:
					// The PUBACK came before the broker was stopped.
					out.before = append(out.before, m.ID)
				default:
					out.after = append(out.after, m.ID)
				}
				mu.Unlock()
				if err == nil {
					ackedN.Add(1)
				}
			}
		})
	}
	total := int64(publishers * each)
	waitUntil(t, 60*time.Second, func() bool { return ackedN.Load() >= total/3 }, func() string {
		return fmt.Sprintf("%d of %d acknowledged", ackedN.Load(), total)
	})
	phase.Store(1)
	br.stop(sig)
	stoppedAt := ackedN.Load()
	time.Sleep(500 * time.Millisecond) // the broker stays down a moment
	br.start()
	phase.Store(2)
	restarted := time.Now()
	wg.Wait()
	if online {
		t.Logf("publishers done %v after the restart", time.Since(restarted).Round(time.Millisecond))
	} else {
		subscribeT(t, sub, root+".>", "audit", consumer.handle) // the member comes back
	}
	t.Logf("%d acknowledged when the broker was stopped, %d in all; %d Publish calls failed %v",
		stoppedAt, ackedN.Load(), out.failed, reasons)
	if online && ackedN.Load() <= stoppedAt {
		t.Fatalf("nothing was acknowledged after the restart")
	}

	// Markers, until one is consumed: the member has then handled whatever
	// the broker still held for it.
	deadline := time.Now().Add(60 * time.Second)
	for consumed := false; !consumed; {
		if time.Now().After(deadline) {
			t.Fatalf("no marker consumed within 60 s of the restart")
		}
		m := bus.NewMessage(root+".marker", nil)
		publishT(t, pub, m)
		wait := time.Now().Add(2 * time.Second)
		for !consumed && time.Now().Before(wait) {
			consumed = len(consumer.missing([]string{m.ID})) == 0
			time.Sleep(5 * time.Millisecond)
		}
	}
	t.Logf("the member had everything %v after the restart", time.Since(restarted).Round(time.Millisecond))
	out.lostBefore = consumer.missing(out.before)
	out.lostAfter = consumer.missing(out.after)
	out.lostNoSub = consumer.missing(out.maybeNoSub)
	out.noSubs = pub.Stats().NoSubscribers
	out.sub = sub.Stats()

	consumer.mu.Lock()
	defer consumer.mu.Unlock()
	for id, n := range consumer.deliveries {
		out.redelivered += n - 1
		if consumer.effects[id] != 1 {
			t.Errorf("message %s applied %d times", id, consumer.effects[id])
		}
	}
	t.Logf("matched and acknowledged before the stop: %d, lost %d; after the restart: %d, lost %d; "+
		"\"no matching subscribers\": %d (%d Publish calls saw the count move, %d of them never consumed); "+
		"%d distinct consumed, %d redeliveries absorbed by ID; member stats %+v",
		len(out.before), len(out.lostBefore), len(out.after), len(out.lostAfter),
		out.noSubs, len(out.maybeNoSub), len(out.lostNoSub), len(consumer.deliveries), out.redelivered, out.sub)
	if len(out.lostAfter) > 0 {
		t.Errorf("%d messages acknowledged after the restart with a matching subscription never consumed, e.g. %v",
			len(out.lostAfter), out.lostAfter[:min(5, len(out.lostAfter))])
	}
	if int64(len(out.lostNoSub)) > out.noSubs {
		t.Errorf("%d messages never consumed but only %d acknowledged as unmatched", len(out.lostNoSub), out.noSubs)
	}
	return out
}

// A clean broker shutdown (SIGTERM) saves Mosquitto's state: every message
// the broker acknowledged as matched to the group, before or after the
// restart, is consumed, both by a member connected throughout and by one
// that was away (its messages queued in its session); a consumer that
// deduplicates by ID applies each once.
//
// What the restart does lose is the shared subscription itself (see
// streamAcrossRestart): messages published after the restart and before
// the member has subscribed again are acknowledged "no matching
// subscribers" and dropped. The test counts them; it cannot demand them.
func TestFaultBrokerRestarted(t *testing.T) {
	for _, online := range []bool{true, false} {
		t.Run(map[bool]string{true: "online", false: "away"}[online], func(t *testing.T) {
			out := streamAcrossRestart(t, losslessConfig, syscall.SIGTERM, online, 8, 100)
			if len(out.lostBefore) > 0 {
				t.Fatalf("%d messages acknowledged before a clean shutdown were lost, e.g. %v",
					len(out.lostBefore), out.lostBefore[:min(5, len(out.lostBefore))])
			}
			if len(out.before) == 0 {
				t.Fatalf("nothing acknowledged before the shutdown: the test proved nothing")
			}
		})
	}
}

// With RequireSubscribers, a clean broker restart loses nothing at all: a
// message the restarted broker drops for want of the (not yet restored)
// shared subscription fails its Publish with ErrNoSubscribers, and the
// publisher, as an outbox relay would, publishes it again until a member
// is back. Every message is then consumed, and applied once.
func TestFaultBrokerRestartedRequireSubscribers(t *testing.T) {
	br := startBroker(t, losslessConfig)
	sub := newTestBus(t, faultOptions(t, br.url(), "-s"))
	pubOpts := faultOptions(t, br.url(), "-p")
	pubOpts.RequireSubscribers = true
	pub := newTestBus(t, pubOpts)
	consumer := newDedupConsumer()
	root := testRoot()
	subscribeT(t, sub, root+".>", "audit", consumer.handle)

	const publishers, each = 4, 150
	var (
		mu        sync.Mutex
		ids       []string
		refusals  atomic.Int64
		published atomic.Int64
		wg        sync.WaitGroup
	)
	for p := range publishers {
		wg.Go(func() {
			for i := range each {
				m := bus.NewMessage(root+".500107.sensor.d"+strconv.Itoa(p)+".reading", []byte(strconv.Itoa(i)))
				m.Key = "device-" + strconv.Itoa(p)
				deadline := time.Now().Add(30 * time.Second)
				for {
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					err := pub.Publish(ctx, m)
					cancel()
					if err == nil {
						break
					}
					if errors.Is(err, ErrNoSubscribers) {
						if !errors.Is(err, bus.ErrOverloaded) {
							t.Errorf("ErrNoSubscribers does not match bus.ErrOverloaded: %v", err)
						}
						refusals.Add(1)
					}
					if time.Now().After(deadline) {
						t.Errorf("message %d-%d not published within 30 s: %v", p, i, err)
						return
					}
					time.Sleep(20 * time.Millisecond)
				}
				published.Add(1)
				mu.Lock()
				ids = append(ids, m.ID)
				mu.Unlock()
			}
		})
	}
	waitUntil(t, 60*time.Second, func() bool { return published.Load() >= publishers*each/3 }, func() string {
		return fmt.Sprintf("%d published", published.Load())
	})
	br.stop(syscall.SIGTERM)
	time.Sleep(500 * time.Millisecond)
	br.start()
	wg.Wait()
	waitUntil(t, 60*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(consumer.missing(ids)) == 0
	}, func() string {
		mu.Lock()
		defer mu.Unlock()
		return fmt.Sprintf("%d of %d published messages not consumed", len(consumer.missing(ids)), len(ids))
	})
	consumer.mu.Lock()
	defer consumer.mu.Unlock()
	for id, n := range consumer.effects {
		if n != 1 {
			t.Fatalf("message %s applied %d times", id, n)
		}
	}
	t.Logf("%d messages published and consumed; %d publishes refused for want of a subscriber and repeated", len(ids), refusals.Load())
}

// The broker is killed (SIGKILL) mid-stream and restarted on the same port
// and persistence directory while publishers run: messages acknowledged
// after the restart are all consumed, the deduplicating consumer applies
// each message exactly once, and the crash loses at most the messages of
// Mosquitto's last event-loop pass, which is at most one per publisher
// (each has one Publish in flight). The loss is measured and logged.
//
// Mosquitto 2.0.11 cannot be made crash-safe: even with crashSafeConfig
// (autosave_on_changes true, autosave_interval 1) it writes its snapshot
// at the end of an event-loop pass, after the PUBACKs of that pass have
// gone out, so a SIGKILL in between loses messages already acknowledged to
// their publishers. Measured on this machine with the member away (its
// messages queued): about one kill in three lost one message of some 300
// acknowledged; without autosave_on_changes (losslessConfig alone, which
// saves every 30 min and on clean shutdown) a kill lost all of them. With
// the member connected and keeping up, the broker has written each
// message to the member's socket before acknowledging it, and no loss was
// seen. On top of that the restart drops the messages published before
// the member subscribes again (see streamAcrossRestart).
func TestFaultBrokerKilledMidStream(t *testing.T) {
	const publishers = 8
	for _, online := range []bool{true, false} {
		t.Run(map[bool]string{true: "online", false: "away"}[online], func(t *testing.T) {
			out := streamAcrossRestart(t, crashSafeConfig, syscall.SIGKILL, online, publishers, 100)
			if len(out.lostBefore) > publishers {
				t.Fatalf("the crash lost %d acknowledged messages, more than Mosquitto's last pass can hold (%d), e.g. %v",
					len(out.lostBefore), publishers, out.lostBefore[:min(5, len(out.lostBefore))])
			}
			if len(out.before) == 0 {
				t.Fatalf("nothing acknowledged before the crash: the test proved nothing")
			}
		})
	}
}

// proxy forwards TCP connections to a broker until cut, after which it
// refuses new ones: to the bus behind it, the network (or the process) has
// died, while the broker sees its connections close.
type proxy struct {
	l      net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
	cut    bool
}

func startProxy(t testing.TB, target string) *proxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{l: l, target: target}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	t.Cleanup(p.kill)
	return p
}

func (p *proxy) url() string { return "tcp://" + p.l.Addr().String() }

func (p *proxy) serve(c net.Conn) {
	u, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = c.Close()
		return
	}
	p.mu.Lock()
	if p.cut {
		p.mu.Unlock()
		_ = c.Close()
		_ = u.Close()
		return
	}
	p.conns = append(p.conns, c, u)
	p.mu.Unlock()
	go func() { _, _ = io.Copy(u, c); _ = u.Close() }()
	_, _ = io.Copy(c, u)
	_ = c.Close()
}

// kill closes the listener and every connection.
func (p *proxy) kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	_ = p.l.Close()
	for _, c := range p.conns {
		_ = c.Close()
	}
}

// A member that dies holding messages (its handlers hang, nothing is
// acknowledged, then its connections are cut and cannot come back) loses
// none: the next member with the same identity (ClientID, group and
// pattern, so the same persistent session) receives every message the
// dead one held, flagged as redelivered.
//
// The adapter dials by itself (conn.go has no hook), so the dying bus
// reaches the broker through a proxy that the test cuts.
func TestFaultConsumerDies(t *testing.T) {
	server := serverURL(t)
	px := startProxy(t, hostPort(t, server))
	opts := faultOptions(t, server, "")
	dyingOpts := opts
	dyingOpts.Servers = []string{px.url()}
	dying := newTestBus(t, dyingOpts)
	pub := newTestBus(t, faultOptions(t, server, "-p"))
	root := testRoot()

	hang := make(chan struct{})
	held := newRecorder()
	subscribeT(t, dying, root+".>", "workers", func(ctx context.Context, m bus.Message) error {
		held.add(m)
		<-hang
		return nil
	})
	t.Cleanup(func() { close(hang) }) // before the dying bus closes: Close waits for its handlers

	const n = 60
	var batch []bus.Message
	for i := range n {
		m := bus.NewMessage(root+".work", []byte(strconv.Itoa(i)))
		if i%3 == 0 {
			m.Key = "case-" + strconv.Itoa(i%9)
		}
		batch = append(batch, m)
	}
	if err := pub.PublishBatch(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	// Every message has reached the dying member, which acknowledges none.
	waitUntil(t, 10*time.Second, func() bool { return dying.Stats().Received == n && held.unique() > 0 }, func() string {
		return fmt.Sprintf("%+v", dying.Stats())
	})
	px.kill()

	// The process restarted: the same ClientID, the same subscription.
	next := newTestBus(t, opts)
	got := newRecorder()
	subscribeT(t, next, root+".>", "workers", got.handler)
	got.waitUnique(t, n, 20*time.Second)
	for _, m := range got.snapshot() {
		if m.Attempt < 2 {
			t.Errorf("message %s, which the dead member held, came back with Attempt %d", m.Data, m.Attempt)
		}
	}
	if st := next.Stats(); st.Redelivered < n {
		t.Errorf("Redelivered = %d, want %d", st.Redelivered, n)
	}
	t.Logf("the dead member held %d messages in its handlers and %d in all; the next took all %d over",
		held.unique(), dying.Stats().Received, n)
}

func hostPort(t testing.TB, server string) string {
	u, err := url.Parse(server)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// A subscriber process that closes (Close keeps its sessions) and comes
// back with the same ClientID and the same subscription receives every
// message published while it was away, once each, and not the one it had
// acknowledged before.
func TestDurableAcrossRestart(t *testing.T) {
	server := serverURL(t)
	opts := faultOptions(t, server, "")
	pub := newTestBus(t, faultOptions(t, server, "-p"))
	root := testRoot()

	first := newTestBus(t, opts)
	r1 := newRecorder()
	subscribeT(t, first, root+".>", "durable", r1.handler)
	before := bus.NewMessage(root+".x", []byte("before"))
	publishT(t, pub, before)
	r1.waitUnique(t, 1, 10*time.Second)
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	const n = 50
	var ids []string
	for i := range n {
		m := bus.NewMessage(root+".x."+strconv.Itoa(i%5), []byte(strconv.Itoa(i)))
		if i%2 == 0 {
			m.Key = "k" + strconv.Itoa(i%3)
		}
		publishT(t, pub, m)
		ids = append(ids, m.ID)
	}
	if st := pub.Stats(); st.NoSubscribers != 0 {
		t.Fatalf("the broker matched no subscription while the member was away: %+v", st)
	}

	second := newTestBus(t, opts)
	r2 := newRecorder()
	subscribeT(t, second, root+".>", "durable", r2.handler)
	r2.waitUnique(t, n, 10*time.Second)
	for _, id := range ids {
		if !r2.has(id) {
			t.Errorf("message %s published while away never arrived", id)
		}
	}
	for _, m := range r2.snapshot() {
		if m.ID == before.ID {
			t.Errorf("the message acknowledged before the restart was delivered again")
		}
	}
	// A message the broker sent just before it saw the member go was
	// never handled, but comes back flagged as a redelivery (Attempt 2):
	// only the handler-call count is exact.
	if got := len(r2.snapshot()); got != n {
		t.Errorf("%d handler calls for %d messages", got, n)
	}
	if st := second.Stats(); st.Gaps != 0 || st.Lost != 0 {
		t.Errorf("loss detected across the restart: %+v", st)
	}
}

// A broker without persistence restarts and forgets every session: the
// subscription reconnects and subscribes again by itself, and messages
// published after the restart are delivered.
func TestFaultResubscribeAfterBrokerRestart(t *testing.T) {
	br := startBroker(t, "") // no persistence
	sub := newTestBus(t, faultOptions(t, br.url(), "-s"))
	pub := newTestBus(t, faultOptions(t, br.url(), "-p"))
	root := testRoot()
	r := newRecorder()
	subscribeT(t, sub, root+".>", "g", r.handler)
	publishT(t, pub, bus.NewMessage(root+".before", nil))
	r.waitUnique(t, 1, 10*time.Second)

	br.stop(syscall.SIGTERM)
	br.start()

	// Until the subscription is back, the broker matches nothing: probe
	// until a message published after the restart arrives.
	var probes []string
	deadline := time.Now().Add(20 * time.Second)
	for !slices.ContainsFunc(probes, r.has) {
		if time.Now().After(deadline) {
			t.Fatalf("no message published after the restart arrived (%d probes; publisher %+v)", len(probes), pub.Stats())
		}
		m := bus.NewMessage(root+".probe", nil)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := pub.Publish(ctx, m)
		cancel()
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Publish after the restart: %v", err)
		}
		probes = append(probes, m.ID)
		time.Sleep(20 * time.Millisecond)
	}
	const n = 30
	var ids []string
	for i := range n {
		m := bus.NewMessage(root+".after."+strconv.Itoa(i), nil)
		publishT(t, pub, m)
		ids = append(ids, m.ID)
	}
	waitUntil(t, 10*time.Second, func() bool { return !slices.ContainsFunc(ids, func(id string) bool { return !r.has(id) }) },
		func() string { return fmt.Sprintf("%d distinct received", r.unique()) })
	t.Logf("resubscribed after %d probes (%d unmatched)", len(probes), pub.Stats().NoSubscribers)
}
