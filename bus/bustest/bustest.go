package bustest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/govkit/govkit/bus"
)

// Harness tells the suite how to make a bus and what it promises.
type Harness struct {
	// New returns a fresh bus for one test; the suite closes it.
	New func(t *testing.T) bus.Bus
	// Prefix is the first token of every subject the suite uses, so that a
	// shared server's streams can capture them (default "bustest").
	Prefix string
	// NoKeyOrder skips the per-key ordering test, for transports that do not
	// promise it.
	NoKeyOrder bool
	// NoDurableGroups skips the test that messages published while a group
	// has no members reach its next member.
	NoDurableGroups bool
	// Settle is how long to wait after subscribing before publishing, for
	// transports whose subscriptions take effect asynchronously (default 0).
	Settle time.Duration
	// Timeout bounds each wait for deliveries (default 10 s).
	Timeout time.Duration
}

// Run runs every conformance test as a subtest of t.
func Run(t *testing.T, h Harness) {
	if h.New == nil {
		t.Fatal("bustest: Harness.New is nil")
	}
	if h.Prefix == "" {
		h.Prefix = "bustest"
	}
	if h.Timeout == 0 {
		h.Timeout = 10 * time.Second
	}
	tests := []struct {
		name string
		fn   func(*testing.T, *env)
		skip bool
	}{
		{"RoundTrip", testRoundTrip, false},
		{"RejectsBadInput", testRejectsBadInput, false},
		{"Wildcards", testWildcards, false},
		{"NackRedelivers", testNackRedelivers, false},
		{"GroupsFanOut", testGroupsFanOut, false},
		{"MembersShareLoad", testMembersShareLoad, false},
		{"OrderPerKey", testOrderPerKey, h.NoKeyOrder},
		{"CloseStopsDelivery", testCloseStopsDelivery, false},
		{"ContextEndsSubscription", testContextEndsSubscription, false},
		{"DurableGroup", testDurableGroup, h.NoDurableGroups},
		{"ConcurrentPublishers", testConcurrentPublishers, false},
		{"ClosedBus", testClosedBus, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.skip {
				t.Skip("the transport does not promise this")
			}
			b := h.New(t)
			e := &env{t: t, h: h, b: b, root: h.Prefix + "." + token()}
			t.Cleanup(func() { _ = b.Close() })
			tc.fn(t, e)
		})
	}
}

type env struct {
	t    *testing.T
	h    Harness
	b    bus.Bus
	root string // a subject prefix unique to the test
}

func token() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "t" + hex.EncodeToString(b[:])
}

func (e *env) subject(tokens ...string) string {
	s := e.root
	for _, t := range tokens {
		s += "." + t
	}
	return s
}

func (e *env) subscribe(ctx context.Context, pattern, group string, h bus.Handler) bus.Subscription {
	e.t.Helper()
	s, err := e.b.Subscribe(ctx, pattern, group, h)
	if err != nil {
		e.t.Fatalf("Subscribe(%q, %q): %v", pattern, group, err)
	}
	e.t.Cleanup(func() { _ = s.Close() })
	return s
}

func (e *env) settle() {
	if e.h.Settle > 0 {
		time.Sleep(e.h.Settle)
	}
}

func (e *env) publish(m bus.Message) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), e.h.Timeout)
	defer cancel()
	if err := e.b.Publish(ctx, m); err != nil {
		e.t.Fatalf("Publish(%s): %v", m.Subject, err)
	}
}

// recorder collects deliveries, safe for concurrent handlers.
type recorder struct {
	mu   sync.Mutex
	msgs []bus.Message
	ids  map[string]int // deliveries per ID
	more chan struct{}
}

func newRecorder() *recorder {
	return &recorder{ids: map[string]int{}, more: make(chan struct{}, 1)}
}

func (r *recorder) add(m bus.Message) {
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	r.ids[m.ID]++
	r.mu.Unlock()
	select {
	case r.more <- struct{}{}:
	default:
	}
}

func (r *recorder) handler(ctx context.Context, m bus.Message) error {
	r.add(m)
	return nil
}

func (r *recorder) unique() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.ids)
}

func (r *recorder) snapshot() []bus.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]bus.Message(nil), r.msgs...)
}

// waitUnique waits until n distinct messages have arrived.
func (e *env) waitUnique(r *recorder, n int) {
	e.t.Helper()
	deadline := time.NewTimer(e.h.Timeout)
	defer deadline.Stop()
	for r.unique() < n {
		select {
		case <-r.more:
		case <-deadline.C:
			e.t.Fatalf("received %d distinct messages, want %d", r.unique(), n)
		}
	}
}

// quiet asserts that nothing more arrives for a short while.
func (e *env) quiet(r *recorder, have int) {
	e.t.Helper()
	time.Sleep(200*time.Millisecond + e.h.Settle)
	if got := len(r.snapshot()); got != have {
		e.t.Fatalf("got %d deliveries, want exactly %d", got, have)
	}
}

func testRoundTrip(t *testing.T, e *env) {
	r := newRecorder()
	e.subscribe(context.Background(), e.subject("incident", "reported"), "rt", r.handler)
	e.settle()
	sent := bus.NewMessage(e.subject("incident", "reported"), []byte(`{"category":"muck-truck"}`))
	sent.Key = "case-1"
	sent.Headers = map[string]string{"actor": "video-ai", "trace": "abc"}
	sent.Time = time.Date(2024, 3, 5, 18, 35, 0, 0, time.FixedZone("CST", 8*3600))
	e.publish(sent)
	e.waitUnique(r, 1)
	got := r.snapshot()[0]
	if got.ID != sent.ID || got.Subject != sent.Subject || got.Key != sent.Key || string(got.Data) != string(sent.Data) {
		t.Fatalf("delivered %+v, sent %+v", got, sent)
	}
	for k, v := range sent.Headers {
		if got.Headers[k] != v {
			t.Fatalf("header %q = %q, want %q", k, got.Headers[k], v)
		}
	}
	if !got.Time.Equal(sent.Time) {
		t.Fatalf("time %v, want %v", got.Time, sent.Time)
	}
	if got.Attempt != 1 {
		t.Fatalf("first delivery has Attempt %d, want 1", got.Attempt)
	}
	e.quiet(r, 1)
}

func testRejectsBadInput(t *testing.T, e *env) {
	ctx := context.Background()
	for _, s := range []string{"", "a..b", ".a", "a.", "a b", "a.*", "a.>", "a/b", "a.#", "a.+"} {
		if err := e.b.Publish(ctx, bus.Message{ID: "x", Subject: s}); !errors.Is(err, bus.ErrInvalidSubject) {
			t.Errorf("Publish on %q: %v, want ErrInvalidSubject", s, err)
		}
	}
	if err := e.b.Publish(ctx, bus.Message{Subject: e.subject("x")}); !errors.Is(err, bus.ErrInvalidMessage) {
		t.Errorf("Publish without ID: %v, want ErrInvalidMessage", err)
	}
	big := bus.NewMessage(e.subject("x"), make([]byte, bus.MaxDataSize+1))
	if err := e.b.Publish(ctx, big); !errors.Is(err, bus.ErrInvalidMessage) {
		t.Errorf("Publish of oversized data: %v, want ErrInvalidMessage", err)
	}
	nop := func(context.Context, bus.Message) error { return nil }
	for _, p := range []string{"", "a.>.b", "a..b", "a.#", "a/+"} {
		if _, err := e.b.Subscribe(ctx, p, "g", nop); !errors.Is(err, bus.ErrInvalidSubject) {
			t.Errorf("Subscribe to %q: %v, want ErrInvalidSubject", p, err)
		}
	}
	for _, g := range []string{"", "a.b", "a b", "*"} {
		if _, err := e.b.Subscribe(ctx, e.subject(">"), g, nop); !errors.Is(err, bus.ErrInvalidGroup) {
			t.Errorf("Subscribe with group %q: %v, want ErrInvalidGroup", g, err)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := e.b.Publish(cancelled, bus.NewMessage(e.subject("x"), nil)); !errors.Is(err, context.Canceled) {
		t.Errorf("Publish with a cancelled context: %v, want context.Canceled", err)
	}
}

func testWildcards(t *testing.T, e *env) {
	street := newRecorder()
	district := newRecorder()
	one := newRecorder()
	e.subscribe(context.Background(), e.subject("500107", "500107001", ">"), "street", street.handler)
	e.subscribe(context.Background(), e.subject("500107", ">"), "district", district.handler)
	e.subscribe(context.Background(), e.subject("500107", "*", "alarm"), "one", one.handler)
	e.settle()
	e.publish(bus.NewMessage(e.subject("500107", "500107001", "alarm"), nil))
	e.publish(bus.NewMessage(e.subject("500107", "500107002", "alarm"), nil))
	e.publish(bus.NewMessage(e.subject("500107", "500107001", "x", "alarm"), nil))
	e.publish(bus.NewMessage(e.subject("500108", "500108001", "alarm"), nil))
	e.waitUnique(district, 3)
	e.waitUnique(street, 2)
	e.waitUnique(one, 2)
	e.quiet(district, 3)
	e.quiet(street, 2)
	e.quiet(one, 2)
}

func testNackRedelivers(t *testing.T, e *env) {
	r := newRecorder()
	fails := 2
	e.subscribe(context.Background(), e.subject("work"), "nack", func(ctx context.Context, m bus.Message) error {
		r.add(m)
		if m.Attempt <= fails {
			return errors.New("not yet")
		}
		return nil
	})
	e.settle()
	sent := bus.NewMessage(e.subject("work"), []byte("payload"))
	e.publish(sent)
	deadline := time.Now().Add(e.h.Timeout)
	for len(r.snapshot()) < fails+1 {
		if time.Now().After(deadline) {
			t.Fatalf("got %d deliveries, want %d", len(r.snapshot()), fails+1)
		}
		time.Sleep(5 * time.Millisecond)
	}
	e.quiet(r, fails+1)
	for i, m := range r.snapshot() {
		if m.ID != sent.ID || string(m.Data) != "payload" || m.Attempt != i+1 {
			t.Fatalf("delivery %d: id %s attempt %d data %q", i, m.ID, m.Attempt, m.Data)
		}
	}
}

func testGroupsFanOut(t *testing.T, e *env) {
	a, b := newRecorder(), newRecorder()
	e.subscribe(context.Background(), e.subject(">"), "district-centre", a.handler)
	e.subscribe(context.Background(), e.subject(">"), "city-centre", b.handler)
	e.settle()
	for i := range 20 {
		e.publish(bus.NewMessage(e.subject("event", strconv.Itoa(i)), nil))
	}
	e.waitUnique(a, 20)
	e.waitUnique(b, 20)
	e.quiet(a, 20)
	e.quiet(b, 20)
}

func testMembersShareLoad(t *testing.T, e *env) {
	all := newRecorder()
	counts := make([]int, 2)
	var mu sync.Mutex
	for i := range counts {
		e.subscribe(context.Background(), e.subject("job"), "workers", func(ctx context.Context, m bus.Message) error {
			mu.Lock()
			counts[i]++
			mu.Unlock()
			all.add(m)
			time.Sleep(time.Millisecond) // long enough that one member cannot take everything
			return nil
		})
	}
	e.settle()
	const n = 200
	for i := range n {
		m := bus.NewMessage(e.subject("job"), nil)
		m.Key = "k" + strconv.Itoa(i)
		e.publish(m)
	}
	e.waitUnique(all, n)
	e.quiet(all, n)
	mu.Lock()
	defer mu.Unlock()
	if counts[0] == 0 || counts[1] == 0 {
		t.Fatalf("one member got everything: %v", counts)
	}
}

func testOrderPerKey(t *testing.T, e *env) {
	const keys, perKey = 4, 40
	var mu sync.Mutex
	next := map[string]int{}
	var bad []string
	done := newRecorder()
	handler := func(ctx context.Context, m bus.Message) error {
		seq, _ := strconv.Atoi(string(m.Data))
		if seq%7 == 3 && m.Attempt == 1 {
			return errors.New("fail once") // a redelivery must not let later messages overtake
		}
		mu.Lock()
		if seq != next[m.Key] {
			bad = append(bad, fmt.Sprintf("key %s: got %d, want %d", m.Key, seq, next[m.Key]))
		}
		next[m.Key] = seq + 1
		mu.Unlock()
		done.add(m)
		return nil
	}
	e.subscribe(context.Background(), e.subject("device", ">"), "ordered", handler)
	e.subscribe(context.Background(), e.subject("device", ">"), "ordered", handler)
	e.settle()
	for i := range perKey {
		for k := range keys {
			m := bus.NewMessage(e.subject("device", "d"+strconv.Itoa(k)), []byte(strconv.Itoa(i)))
			m.Key = "d" + strconv.Itoa(k)
			e.publish(m)
		}
	}
	e.waitUnique(done, keys*perKey)
	mu.Lock()
	defer mu.Unlock()
	if len(bad) > 0 {
		t.Fatalf("order broken: %v", bad[:min(5, len(bad))])
	}
}

func testCloseStopsDelivery(t *testing.T, e *env) {
	r := newRecorder()
	s := e.subscribe(context.Background(), e.subject("x"), "closing", r.handler)
	e.settle()
	e.publish(bus.NewMessage(e.subject("x"), nil))
	e.waitUnique(r, 1)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	e.publish(bus.NewMessage(e.subject("x"), nil))
	e.quiet(r, 1)
}

func testContextEndsSubscription(t *testing.T, e *env) {
	r := newRecorder()
	ctx, cancel := context.WithCancel(context.Background())
	e.subscribe(ctx, e.subject("x"), "ctx", r.handler)
	e.settle()
	e.publish(bus.NewMessage(e.subject("x"), nil))
	e.waitUnique(r, 1)
	cancel()
	time.Sleep(50 * time.Millisecond)
	e.publish(bus.NewMessage(e.subject("x"), nil))
	e.quiet(r, 1)
}

func testDurableGroup(t *testing.T, e *env) {
	first := newRecorder()
	s := e.subscribe(context.Background(), e.subject("x"), "durable", first.handler)
	e.settle()
	e.publish(bus.NewMessage(e.subject("x"), []byte("1")))
	e.waitUnique(first, 1)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	e.publish(bus.NewMessage(e.subject("x"), []byte("2")))
	e.publish(bus.NewMessage(e.subject("x"), []byte("3")))
	second := newRecorder()
	e.subscribe(context.Background(), e.subject("x"), "durable", second.handler)
	e.waitUnique(second, 2)
	for _, m := range second.snapshot() {
		if string(m.Data) == "1" {
			t.Fatalf("acknowledged message redelivered to the next member")
		}
	}
}

func testConcurrentPublishers(t *testing.T, e *env) {
	r := newRecorder()
	e.subscribe(context.Background(), e.subject(">"), "many", r.handler)
	e.settle()
	const publishers, each = 8, 50
	var wg sync.WaitGroup
	errs := make(chan error, publishers)
	for p := range publishers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				m := bus.NewMessage(e.subject("p"+strconv.Itoa(p)), []byte(strconv.Itoa(i)))
				if err := e.b.Publish(context.Background(), m); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Publish: %v", err)
	}
	e.waitUnique(r, publishers*each)
}

func testClosedBus(t *testing.T, e *env) {
	if err := e.b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := e.b.Publish(context.Background(), bus.NewMessage(e.subject("x"), nil)); !errors.Is(err, bus.ErrClosed) {
		t.Fatalf("Publish after Close: %v, want ErrClosed", err)
	}
	_, err := e.b.Subscribe(context.Background(), e.subject("x"), "g", func(context.Context, bus.Message) error { return nil })
	if !errors.Is(err, bus.ErrClosed) {
		t.Fatalf("Subscribe after Close: %v, want ErrClosed", err)
	}
}
