package nats_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/govkit/govkit/adapters/nats"
	"github.com/govkit/govkit/adapters/nats/natstest"
	"github.com/govkit/govkit/bus"
)

// natsServer is a nats-server process of the test's own, on a loopback port
// and store directory that survive restarts.
type natsServer struct {
	t    *testing.T
	bin  string
	port int
	dir  string
	cmd  *exec.Cmd
}

// startNATSServer starts a JetStream server for fault tests. Like every NATS
// test it needs GOVKIT_TEST_NATS (it is skipped without, and fails under
// CI=true), and the nats-server binary (GOVKIT_NATS_SERVER, or on PATH, or
// /usr/sbin/nats-server).
func startNATSServer(t *testing.T) *natsServer {
	t.Helper()
	natstest.URL(t)
	bin := os.Getenv("GOVKIT_NATS_SERVER")
	if bin == "" {
		bin, _ = exec.LookPath("nats-server")
	}
	if bin == "" {
		bin = "/usr/sbin/nats-server"
	}
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("nats-server binary not found (%v); set GOVKIT_NATS_SERVER", err)
		}
		t.Skipf("nats-server binary not found: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	s := &natsServer{t: t, bin: bin, port: port, dir: t.TempDir()}
	s.start()
	t.Cleanup(s.kill)
	return s
}

func (s *natsServer) url() string { return "nats://127.0.0.1:" + strconv.Itoa(s.port) }

// start runs the server and waits until JetStream answers.
func (s *natsServer) start() {
	s.t.Helper()
	log, err := os.OpenFile(filepath.Join(s.dir, "server.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		s.t.Fatal(err)
	}
	defer log.Close()
	s.cmd = exec.Command(s.bin, "-js", "-a", "127.0.0.1", "-p", strconv.Itoa(s.port), "-sd", filepath.Join(s.dir, "store"))
	s.cmd.Stdout, s.cmd.Stderr = log, log
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start nats-server: %v", err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		if nc, err := natsgo.Connect(s.url(), natsgo.Timeout(time.Second)); err == nil {
			js, _ := jetstream.New(nc)
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_, err = js.AccountInfo(ctx)
			cancel()
			nc.Close()
			if err == nil {
				return
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("nats-server on port %d did not become ready", s.port)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill ends the server with SIGKILL: no shutdown, no flush.
func (s *natsServer) kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	_ = s.cmd.Wait()
	s.cmd = nil
}

// dedupConsumer is an idempotent consumer: it applies each message's effect
// once, by ID, however often the message is delivered.
type dedupConsumer struct {
	mu         sync.Mutex
	deliveries map[string]int // deliveries per ID
	effects    map[string]int // effects applied per ID
	more       chan struct{}
}

func newDedupConsumer() *dedupConsumer {
	return &dedupConsumer{deliveries: map[string]int{}, effects: map[string]int{}, more: make(chan struct{}, 1)}
}

func (c *dedupConsumer) handle(_ context.Context, m bus.Message) error {
	c.mu.Lock()
	c.deliveries[m.ID]++
	if c.effects[m.ID] == 0 {
		c.effects[m.ID]++
	}
	c.mu.Unlock()
	select {
	case c.more <- struct{}{}:
	default:
	}
	return nil
}

// missing returns the acknowledged IDs not yet delivered.
func (c *dedupConsumer) missing(acked []string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, id := range acked {
		if c.deliveries[id] == 0 {
			out = append(out, id)
		}
	}
	return out
}

// Every message whose Publish returned nil is delivered, even though the
// broker is killed (SIGKILL) and restarted while publishers and a consumer
// run; a consumer that deduplicates by ID applies each exactly once.
func TestFaultBrokerKilledMidStream(t *testing.T) {
	srv := startNATSServer(t)
	ctx := context.Background()
	opts := nats.Options{Logger: slog.New(slog.NewTextHandler(t.Output(), nil)), URL: srv.url(), Stream: "FAULT", AckWait: 2 * time.Second, ReconnectWait: 50 * time.Millisecond, Backoff: 50 * time.Millisecond}
	pub, err := nats.Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	sub, err := nats.Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	consumer := newDedupConsumer()
	if _, err := sub.Subscribe(ctx, "gov.>", "audit", consumer.handle); err != nil {
		t.Fatal(err)
	}

	const publishers, each = 8, 500
	var (
		mu        sync.Mutex
		acked     []string
		failed    int
		ackedN    atomic.Int64
		wg        sync.WaitGroup
		firstFail = map[string]int{}
	)
	for p := range publishers {
		wg.Go(func() {
			for i := range each {
				m := bus.NewMessage("gov.500000.500107.sensor.reading", []byte(fmt.Sprintf("%d-%d", p, i)))
				if i%2 == 0 {
					m.Key = "device-" + strconv.Itoa(p)
				}
				pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
				err := pub.Publish(pctx, m)
				cancel()
				mu.Lock()
				if err == nil {
					acked = append(acked, m.ID)
					ackedN.Add(1)
				} else {
					failed++
					msg := err.Error()
					firstFail[msg[:min(len(msg), 90)]]++
				}
				mu.Unlock()
			}
		})
	}
	// Kill the broker a third of the way in, and restart it on the same
	// port and store.
	for ackedN.Load() < publishers*each/3 {
		time.Sleep(time.Millisecond)
	}
	srv.kill()
	killedAt := ackedN.Load()
	time.Sleep(500 * time.Millisecond)
	srv.start()
	restarted := time.Now()
	wg.Wait()
	t.Logf("publishers done %v after the restart", time.Since(restarted).Round(time.Millisecond))
	defer func() { t.Logf("all delivered %v after the restart", time.Since(restarted).Round(time.Millisecond)) }()

	mu.Lock()
	defer mu.Unlock()
	t.Logf("killed after %d acknowledged; %d acknowledged in all, %d publishes failed %v", killedAt, len(acked), failed, firstFail)
	if len(acked) <= int(killedAt) {
		t.Fatalf("nothing was acknowledged after the restart")
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		missing := consumer.missing(acked)
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d acknowledged messages never delivered, e.g. %v", len(missing), missing[:min(5, len(missing))])
		}
		select {
		case <-consumer.more:
		case <-time.After(100 * time.Millisecond):
		}
	}
	consumer.mu.Lock()
	defer consumer.mu.Unlock()
	redelivered := 0
	for id, n := range consumer.deliveries {
		redelivered += n - 1
		if consumer.effects[id] != 1 {
			t.Fatalf("message %s applied %d times", id, consumer.effects[id])
		}
	}
	t.Logf("%d distinct messages delivered (%d redeliveries absorbed by ID)", len(consumer.deliveries), redelivered)
}

// connKiller dials for a NATS client and can cut its connections, as if the
// process had died.
type connKiller struct {
	mu    sync.Mutex
	conns []net.Conn
}

func (d *connKiller) Dial(network, address string) (net.Conn, error) {
	c, err := net.Dial(network, address)
	if err == nil {
		d.mu.Lock()
		d.conns = append(d.conns, c)
		d.mu.Unlock()
	}
	return c, err
}

func (d *connKiller) kill() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.conns {
		_ = c.Close()
	}
}

// A member that dies holding messages (its handlers hang, then its
// connection is cut) loses none: after AckWait they go to another member.
func TestFaultConsumerDies(t *testing.T) {
	url := natstest.URL(t)
	stream := natstest.StreamName()
	dialer := &connKiller{}
	dying := natstest.Open(t, nats.Options{Stream: stream, AckWait: time.Second,
		NATSOptions: []natsgo.Option{natsgo.SetCustomDialer(dialer), natsgo.MaxReconnects(0)}})
	healthy := natstest.Open(t, nats.Options{URL: url, Stream: stream, AckWait: time.Second})

	hang := make(chan struct{})
	held := newRecorder()
	s, err := dying.Subscribe(context.Background(), "gov.>", "workers", func(ctx context.Context, m bus.Message) error {
		held.add(m)
		<-hang
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	const n = 120
	var batch []bus.Message
	for i := range n {
		m := bus.NewMessage("gov.work", []byte(strconv.Itoa(i)))
		if i%3 == 0 {
			m.Key = "case-" + strconv.Itoa(i%9)
		}
		batch = append(batch, m)
	}
	if err := healthy.PublishBatch(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	held.wait(t, 10, 10*time.Second)
	dialer.kill()

	done := newRecorder()
	subscribe(t, healthy, "gov.>", "workers", done.handler)
	done.wait(t, n, 30*time.Second)
	byID := map[string]bus.Message{}
	for _, m := range done.snapshot() {
		byID[m.ID] = m
	}
	for _, m := range held.snapshot() {
		if got := byID[m.ID]; got.Attempt < 2 {
			t.Errorf("message %s held by the dead member came back with Attempt %d", m.ID, got.Attempt)
		}
	}
	t.Logf("the dead member held %d messages; all %d were handled by the other", held.unique(), n)
	close(hang)
	_ = s.Close()
}

// A member that closes mid-batch finishes what it started and hands back
// what it had prefetched within seconds, not after AckWait: the other member
// handles the rest, and nothing is handled twice.
func TestFaultMemberClosesMidBatch(t *testing.T) {
	stream := natstest.StreamName()
	a := natstest.Open(t, nats.Options{Stream: stream})
	b := natstest.Open(t, nats.Options{Stream: stream})
	all := newRecorder()
	var byA atomic.Int64
	sa := subscribe(t, a, "gov.>", "workers", func(ctx context.Context, m bus.Message) error {
		byA.Add(1)
		time.Sleep(5 * time.Millisecond)
		all.add(m)
		return nil
	})
	const n = 300
	var batch []bus.Message
	for i := range n {
		m := bus.NewMessage("gov.job", []byte(strconv.Itoa(i)))
		if i%2 == 0 {
			m.Key = "k" + strconv.Itoa(i%10)
		}
		batch = append(batch, m)
	}
	if err := b.PublishBatch(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	for byA.Load() < 20 {
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	if err := sa.Close(); err != nil {
		t.Fatal(err)
	}
	handledByA := all.unique()
	subscribe(t, b, "gov.>", "workers", all.handler)
	all.wait(t, n, 10*time.Second) // well under the default AckWait of 30 s
	time.Sleep(300 * time.Millisecond)
	if got := len(all.snapshot()); got != n {
		t.Fatalf("%d deliveries for %d messages", got, n)
	}
	t.Logf("A handled %d before closing; B took over the rest in %v", handledByA, time.Since(start).Round(time.Millisecond))
}

// Members that close while messages are being published leave none waiting
// for AckWait: every message reaches the group's next member within
// seconds, keyed lanes included. (A member that withdrew a pull request the
// server still held lost, now and then, a message the server was sending it
// as it went, until AckWait; a keyed lane stalled behind it.)
func TestFaultMembersCloseWhilePublishing(t *testing.T) {
	stream := natstest.StreamName()
	pub := natstest.Open(t, nats.Options{Stream: stream})
	leave := natstest.Open(t, nats.Options{Stream: stream})
	all := newRecorder()
	published := 0
	for cycle := range 5 {
		s, err := leave.Subscribe(context.Background(), "gov.>", "workers", all.handler)
		if err != nil {
			t.Fatal(err)
		}
		// Publish from 50 ms before Close is called until 50 ms after, at
		// most 4,000 messages a round, so that a fast machine does not
		// leave the last member more than it can handle in the test's time.
		closed := make(chan error, 1)
		go func() {
			time.Sleep(50 * time.Millisecond)
			closed <- s.Close()
		}()
		for start := time.Now(); time.Since(start) < 100*time.Millisecond && published < (cycle+1)*4000; {
			var batch []bus.Message
			for i := range 50 {
				m := bus.NewMessage("gov.job", []byte(strconv.Itoa(published+i)))
				if i%2 == 0 {
					m.Key = "k" + strconv.Itoa(i%16)
				}
				batch = append(batch, m)
			}
			if err := pub.PublishBatch(context.Background(), batch); err != nil {
				t.Fatal(err)
			}
			published += len(batch)
		}
		if err := <-closed; err != nil {
			t.Fatal(err)
		}
	}
	stay := natstest.Open(t, nats.Options{Stream: stream})
	subscribe(t, stay, "gov.>", "workers", all.handler)
	all.wait(t, published, 10*time.Second) // the default AckWait is 30 s
	t.Logf("%d messages, all handled", published)
}

// A member whose consumers are deleted under it (by an operator, say)
// creates them again and goes on receiving what is published after.
func TestFaultConsumerDeletedIsCreatedAgain(t *testing.T) {
	stream := natstest.StreamName()
	b := natstest.Open(t, nats.Options{Stream: stream})
	got := newRecorder()
	subscribe(t, b, "gov.>", "workers", got.handler)

	nc, err := natsgo.Connect(natstest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	names := st.ConsumerNames(context.Background())
	deleted := 0
	for name := range names.Name() {
		if err := st.DeleteConsumer(context.Background(), name); err != nil {
			t.Fatal(err)
		}
		deleted++
	}
	if err := names.Err(); err != nil || deleted == 0 {
		t.Fatalf("deleted %d consumers: %v", deleted, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := 0
		for range st.ConsumerNames(context.Background()).Name() {
			n++
		}
		if n == deleted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d consumers created again", n, deleted)
		}
		time.Sleep(50 * time.Millisecond)
	}
	publish(t, b, bus.NewMessage("gov.after", []byte("unkeyed")))
	keyed := bus.NewMessage("gov.after", []byte("keyed"))
	keyed.Key = "case-1"
	publish(t, b, keyed)
	got.wait(t, 2, 10*time.Second)
}
