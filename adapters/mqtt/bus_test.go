package mqtt

import (
	"context"
	"errors"
	"math"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/google/uuid"

	"github.com/govkit/govkit/bus"
)

// recorder collects deliveries; safe for concurrent handlers.
type recorder struct {
	mu   sync.Mutex
	msgs []bus.Message
	ids  map[string]int // deliveries per ID
}

func newRecorder() *recorder { return &recorder{ids: map[string]int{}} }

func (r *recorder) handler(_ context.Context, m bus.Message) error {
	r.add(m)
	return nil
}

func (r *recorder) add(m bus.Message) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, m)
	r.ids[m.ID]++
}

func (r *recorder) unique() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.ids)
}

func (r *recorder) has(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ids[id] > 0
}

func (r *recorder) snapshot() []bus.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]bus.Message(nil), r.msgs...)
}

// waitUnique waits until n distinct messages have arrived.
func (r *recorder) waitUnique(t testing.TB, n int, timeout time.Duration) {
	t.Helper()
	waitUntil(t, timeout, func() bool { return r.unique() >= n }, func() string {
		return strconv.Itoa(r.unique()) + " of " + strconv.Itoa(n) + " distinct messages received"
	})
}

// waitUntil polls cond until it holds, failing the test after timeout.
func waitUntil(t testing.TB, timeout time.Duration, cond func() bool, state func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v: %s", timeout, state())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// subscribeT subscribes and closes the subscription when the test ends.
func subscribeT(t testing.TB, b *Bus, pattern, group string, h bus.Handler) bus.Subscription {
	t.Helper()
	s, err := b.Subscribe(context.Background(), pattern, group, h)
	if err != nil {
		t.Fatalf("Subscribe(%q, %q): %v", pattern, group, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// publishT publishes m, failing the test on error.
func publishT(t testing.TB, b *Bus, m bus.Message) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Publish(ctx, m); err != nil {
		t.Fatalf("Publish(%s): %v", m.Subject, err)
	}
}

// testRoot returns a subject prefix unique to one test.
func testRoot() string { return "gkt_" + randomToken() }

// rawClient connects a bare MQTT v5 client, a "foreign device" that is not
// a govkit bus, with a clean session that ends when it disconnects.
func rawClient(t testing.TB, server string) *paho.Client {
	t.Helper()
	u, err := url.Parse(server)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.DialTimeout("tcp", u.Host, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	id := "gkt-raw-" + randomToken()
	cli := paho.NewClient(paho.ClientConfig{ClientID: id, Conn: c})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := cli.Connect(ctx, &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 30}); err != nil {
		t.Fatalf("raw connect: %v", err)
	}
	t.Cleanup(func() { _ = cli.Disconnect(&paho.Disconnect{ReasonCode: 0}) })
	return cli
}

// rawPublish publishes at QoS 1 and returns the PUBACK's reason code.
func rawPublish(t testing.TB, cli *paho.Client, topic string, props paho.UserProperties, payload []byte) byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := cli.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Payload: payload, Properties: &paho.PublishProperties{User: props}})
	if err != nil {
		t.Fatalf("raw publish %q: %v", topic, err)
	}
	return r.ReasonCode
}

// Every invalid Options value is refused, by withDefaults and so by New,
// with an error matching ErrInvalidOptions, before any network activity.
func TestOptionsValidation(t *testing.T) {
	ok := func() Options { return Options{Servers: []string{"tcp://127.0.0.1:1"}, ClientID: "c"} }
	with := func(f func(*Options)) Options {
		o := ok()
		f(&o)
		return o
	}
	bad := map[string]Options{
		"no servers":              with(func(o *Options) { o.Servers = nil }),
		"unparsable server":       with(func(o *Options) { o.Servers = []string{"://x"} }),
		"http scheme":             with(func(o *Options) { o.Servers = []string{"http://127.0.0.1:1883"} }),
		"no scheme":               with(func(o *Options) { o.Servers = []string{"127.0.0.1:1883"} }),
		"no host":                 with(func(o *Options) { o.Servers = []string{"tcp:///x"} }),
		"second server bad":       with(func(o *Options) { o.Servers = []string{"tcp://a:1", "ws://b:1"} }),
		"empty client ID":         with(func(o *Options) { o.ClientID = "" }),
		"client ID with slash":    with(func(o *Options) { o.ClientID = "a/b" }),
		"client ID with plus":     with(func(o *Options) { o.ClientID = "a+b" }),
		"client ID with hash":     with(func(o *Options) { o.ClientID = "a#" }),
		"negative SessionExpiry":  with(func(o *Options) { o.SessionExpiry = -1 }),
		"negative KeepAlive":      with(func(o *Options) { o.KeepAlive = -1 }),
		"negative ConnectTimeout": with(func(o *Options) { o.ConnectTimeout = -1 }),
		"negative ReconnectMin":   with(func(o *Options) { o.ReconnectMin = -1 }),
		"negative ReconnectMax":   with(func(o *Options) { o.ReconnectMax = -1 }),
		"negative ReceiveMaximum": with(func(o *Options) { o.ReceiveMaximum = -1 }),
		"negative Concurrency":    with(func(o *Options) { o.Concurrency = -1 }),
		"negative MaxAttempts":    with(func(o *Options) { o.MaxAttempts = -1 }),
		"negative Backoff":        with(func(o *Options) { o.Backoff = -1 }),
		"negative MaxBackoff":     with(func(o *Options) { o.MaxBackoff = -1 }),
		"negative MaxStreams":     with(func(o *Options) { o.MaxStreams = -1 }),
		"SessionExpiry under 1s":  with(func(o *Options) { o.SessionExpiry = 999 * time.Millisecond }),
		"SessionExpiry too long":  with(func(o *Options) { o.SessionExpiry = time.Duration(math.MaxUint32) * time.Second }),
		"KeepAlive over 65535s":   with(func(o *Options) { o.KeepAlive = 65536 * time.Second }),
		"ReceiveMaximum > 65535":  with(func(o *Options) { o.ReceiveMaximum = 65536 }),
	}
	for name, o := range bad {
		t.Run(name, func(t *testing.T) {
			if _, _, err := o.withDefaults(); !errors.Is(err, ErrInvalidOptions) {
				t.Fatalf("withDefaults: %v, want ErrInvalidOptions", err)
			}
			b, err := New(context.Background(), o)
			if !errors.Is(err, ErrInvalidOptions) || b != nil {
				t.Fatalf("New: %v, %v; want nil, ErrInvalidOptions", b, err)
			}
		})
	}

	o, urls, err := with(func(o *Options) {
		o.Servers = []string{"TCP://h:1", "mqtt://h:2", "tls://h:3", "ssl://h:4", "mqtts://h:5"}
	}).withDefaults()
	if err != nil {
		t.Fatalf("valid options refused: %v", err)
	}
	if len(urls) != 5 || urls[0].Host != "h:1" || urls[4].Host != "h:5" {
		t.Fatalf("urls %v", urls)
	}
	want := Options{SessionExpiry: 24 * time.Hour, KeepAlive: 30 * time.Second, ConnectTimeout: 10 * time.Second,
		ReconnectMin: 100 * time.Millisecond, ReconnectMax: 10 * time.Second, ReceiveMaximum: 1024, Concurrency: 8,
		MaxAttempts: 3, Backoff: 100 * time.Millisecond, MaxBackoff: 5 * time.Second, MaxStreams: 1 << 20}
	if o.SessionExpiry != want.SessionExpiry || o.KeepAlive != want.KeepAlive || o.ConnectTimeout != want.ConnectTimeout ||
		o.ReconnectMin != want.ReconnectMin || o.ReconnectMax != want.ReconnectMax || o.ReceiveMaximum != want.ReceiveMaximum ||
		o.Concurrency != want.Concurrency || o.MaxAttempts != want.MaxAttempts || o.Backoff != want.Backoff ||
		o.MaxBackoff != want.MaxBackoff || o.MaxStreams != want.MaxStreams {
		t.Fatalf("defaults: got %+v", o)
	}
	// A maximum below its minimum is raised to it; the limits themselves
	// are accepted.
	o, _, err = with(func(o *Options) {
		o.ReconnectMin, o.ReconnectMax = 2*time.Second, time.Second
		o.Backoff, o.MaxBackoff = 3*time.Second, time.Second
		o.SessionExpiry, o.KeepAlive, o.ReceiveMaximum = time.Second, 65535*time.Second, 65535
	}).withDefaults()
	if err != nil {
		t.Fatalf("limits refused: %v", err)
	}
	if o.ReconnectMax != 2*time.Second || o.MaxBackoff != 3*time.Second {
		t.Fatalf("ReconnectMax %v, MaxBackoff %v; want them raised to their minimum", o.ReconnectMax, o.MaxBackoff)
	}
}

// New gives up within ConnectTimeout when no server accepts a connection,
// and as soon as its context ends.
func TestNewUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close() // nothing listens there now: connections are refused

	o := Options{Servers: []string{"tcp://" + addr}, ClientID: "gkt-unreachable-" + randomToken(),
		ConnectTimeout: 300 * time.Millisecond, ReconnectMin: 20 * time.Millisecond, ReconnectMax: 50 * time.Millisecond}
	start := time.Now()
	b, err := New(context.Background(), o)
	elapsed := time.Since(start)
	if err == nil || b != nil {
		t.Fatalf("New succeeded without a server")
	}
	if errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("New: %v; an unreachable server is not invalid options", err)
	}
	if elapsed < o.ConnectTimeout || elapsed > o.ConnectTimeout+2*time.Second {
		t.Fatalf("New gave up after %v, want about ConnectTimeout (%v)", elapsed, o.ConnectTimeout)
	}

	o.ConnectTimeout = 20 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start = time.Now()
	if _, err := New(ctx, o); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("New with an ending context: %v, want context.DeadlineExceeded", err)
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Fatalf("New ignored its context for %v", elapsed)
	}
}

// Subjects, patterns and topics map onto each other as documented, and
// topics that are not bus subjects are recognised.
func TestTopicMapping(t *testing.T) {
	for subject, topic := range map[string]string{
		"a":     "a",
		"a.b.c": "a/b/c",
		"gov.500000.500107.500107001.incident.reported": "gov/500000/500107/500107001/incident/reported",
		"A-1._x": "A-1/_x",
	} {
		if got := Topic(subject); got != topic {
			t.Errorf("Topic(%q) = %q, want %q", subject, got, topic)
		}
		if got, err := Subject(topic); err != nil || got != subject {
			t.Errorf("Subject(%q) = %q, %v; want %q", topic, got, err, subject)
		}
	}
	for pattern, filter := range map[string]string{
		"a.b":      "a/b",
		"a.*.c":    "a/+/c",
		"a.>":      "a/#",
		">":        "#",
		"*":        "+",
		"*.b.>":    "+/b/#",
		"gov.*.>":  "gov/+/#",
		"a.b_c-d":  "a/b_c-d",
		"a.*.*.>":  "a/+/+/#",
		"500107.*": "500107/+",
	} {
		if err := bus.ValidatePattern(pattern); err != nil {
			t.Fatalf("bad test pattern %q: %v", pattern, err)
		}
		if got := Filter(pattern); got != filter {
			t.Errorf("Filter(%q) = %q, want %q", pattern, got, filter)
		}
	}
	if got := SharedFilter("district", "gov.500000.>"); got != "$share/district/gov/500000/#" {
		t.Errorf("SharedFilter = %q", got)
	}
	// Topics a foreign publisher may use that are not subjects.
	for _, topic := range []string{"", "/", "a//b", "/a", "a/", "a/b.c", "a.b", "a/b c", "a/é", "a/+", "a/#", "$SYS/broker/load", "a/b\x00"} {
		if s, err := Subject(topic); !errors.Is(err, bus.ErrInvalidSubject) {
			t.Errorf("Subject(%q) = %q, %v; want ErrInvalidSubject", topic, s, err)
		}
	}
	// Retry topics: per group and pattern, stable, and under the root that
	// receive recognises.
	r1, r2 := RetryTopic("g", "a.>"), RetryTopic("g", "a.*")
	if r1 == r2 || r1 == RetryTopic("h", "a.>") || r1 != RetryTopic("g", "a.>") {
		t.Errorf("retry topics not distinct per group and pattern: %q %q", r1, r2)
	}
	if !strings.HasPrefix(r1, retryPrefix) {
		t.Errorf("RetryTopic %q lacks prefix %q", r1, retryPrefix)
	}
	if _, err := Subject(r1); err != nil {
		t.Errorf("retry topic %q is not a valid subject: %v", r1, err)
	}
}

// MQTT's "a/#" also matches "a", which the bus pattern "a.>" does not: the
// adapter drops that delivery (and acknowledges it, so that it is not
// redelivered), while "a.b" is delivered.
func TestParentLevelNotDelivered(t *testing.T) {
	server := serverURL(t)
	b := newTestBus(t, testOptions(t, server))
	root := testRoot()
	r := newRecorder()
	s := subscribeT(t, b, root+".a.>", "parent", r.handler)

	parent := bus.NewMessage(root+".a", []byte("parent"))
	parent.Key = "k"
	child := bus.NewMessage(root+".a.b", []byte("child"))
	child.Key = "k"
	publishT(t, b, parent)
	publishT(t, b, child)
	if st := b.Stats(); st.NoSubscribers != 0 {
		t.Fatalf("the broker matched no subscription: the test would prove nothing (%+v)", st)
	}
	// The broker delivers in order on one subscription: once the child is
	// handled, the parent has been received before it.
	r.waitUnique(t, 1, 10*time.Second)
	if r.has(parent.ID) || !r.has(child.ID) {
		t.Fatalf("delivered %v, want only %s", r.snapshot(), child.Subject)
	}
	// Resuming the session redelivers nothing: the parent was acknowledged.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	subscribeT(t, b, root+".a.>", "parent", r.handler)
	last := bus.NewMessage(root+".a.c", nil)
	last.Key = "k"
	publishT(t, b, last)
	r.waitUnique(t, 2, 10*time.Second)
	if r.has(parent.ID) {
		t.Fatalf("the parent-level message was delivered after resuming the session")
	}
	if n := len(r.snapshot()); n != 2 {
		t.Fatalf("%d deliveries, want 2: %v", n, r.snapshot())
	}
}

// Every field of a message survives the trip through a real broker,
// header values with spaces, newlines and non-ASCII included.
func TestWireRoundTrip(t *testing.T) {
	server := serverURL(t)
	b := newTestBus(t, testOptions(t, server))
	root := testRoot()
	r := newRecorder()
	subscribeT(t, b, root+".>", "wire", r.handler)

	sent := bus.NewMessage(root+".500107.incident.reported", []byte("{\"a\":1}\x00\xff binary"))
	sent.Key = "case 17/ä:1"
	sent.Time = time.Date(2024, 3, 5, 18, 35, 0, 123456789, time.FixedZone("CST", 8*3600))
	sent.Headers = map[string]string{
		"trace":        "00-abc-01",
		"with space":   "a value with spaces",
		"multi":        "line 1\nline 2\r\n\tline 3",
		"unicode":      "重庆市 渝北区",
		"empty":        "",
		"punct":        "k=v; x:y, \"q\" 'z' 1:2:",
		"h:nested":     "looks like a prefix",
		PropMeta:       "g1 not meta",
		"id":           "not the id",
		"trailing ws ": " value ",
	}
	sent.Attempt = 9 // ignored on publish
	publishT(t, b, sent)

	bare := bus.Message{ID: "bare-" + randomToken(), Subject: root + ".bare"} // zero Time, no data, no headers
	before := time.Now()
	publishT(t, b, bare)
	after := time.Now()

	r.waitUnique(t, 2, 10*time.Second)
	var got, gotBare bus.Message
	for _, m := range r.snapshot() {
		switch m.ID {
		case sent.ID:
			got = m
		case bare.ID:
			gotBare = m
		}
	}
	if got.ID != sent.ID || got.Subject != sent.Subject || got.Key != sent.Key || string(got.Data) != string(sent.Data) {
		t.Fatalf("delivered %+v\nsent %+v", got, sent)
	}
	if !got.Time.Equal(sent.Time) {
		t.Errorf("Time %v, want %v", got.Time, sent.Time)
	}
	if _, off := got.Time.Zone(); off != 8*3600 {
		t.Errorf("Time zone offset %d, want the publisher's %d", off, 8*3600)
	}
	if len(got.Headers) != len(sent.Headers) {
		t.Errorf("headers %q, want %q", got.Headers, sent.Headers)
	}
	for k, v := range sent.Headers {
		if g, ok := got.Headers[k]; !ok || g != v {
			t.Errorf("header %q = %q (present %v), want %q", k, g, ok, v)
		}
	}
	if got.Attempt != 1 {
		t.Errorf("Attempt %d, want 1", got.Attempt)
	}
	if gotBare.Subject != bare.Subject || len(gotBare.Data) != 0 || len(gotBare.Headers) != 0 || gotBare.Key != "" {
		t.Errorf("bare message delivered as %+v", gotBare)
	}
	if gotBare.Time.Before(before.Truncate(time.Nanosecond)) || gotBare.Time.After(after) {
		t.Errorf("a message without Time got %v, want the publish time in [%v, %v]", gotBare.Time, before, after)
	}
}

// Messages from foreign MQTT publishers: the separate properties are read,
// a message without an ID gets a fresh UUIDv7, topics that are not subjects
// are skipped (and acknowledged), and a publisher cannot relabel a message
// with another subject than its topic's.
func TestForeignPublisher(t *testing.T) {
	server := serverURL(t)
	opts := testOptions(t, server)
	var gapMu sync.Mutex
	var gaps []Gap
	opts.OnGap = func(g Gap) {
		gapMu.Lock()
		gaps = append(gaps, g)
		gapMu.Unlock()
	}
	b := newTestBus(t, opts)
	root := testRoot()
	r := newRecorder()
	subscribeT(t, b, root+".district.>", "foreign", r.handler)
	dev := rawClient(t, server)
	ts := "2024-03-05T18:35:00.5+08:00"
	prop := func(kv ...string) paho.UserProperties {
		var p paho.UserProperties
		for i := 0; i < len(kv); i += 2 {
			p = append(p, paho.UserProperty{Key: kv[i], Value: kv[i+1]})
		}
		return p
	}
	if code := rawPublish(t, dev, root+"/district/dev1/reading",
		prop(PropID, "dev1-1", PropKey, "dev1", PropTime, ts, PropSource, "dev1@boot", PropSeq, "1", HeaderPrefix+"fw", "1.2.3", "other", "ignored"),
		[]byte("21.5")); code >= 0x80 {
		t.Fatalf("raw publish refused: %#x", code)
	}
	// Not subjects: skipped, never delivered.
	rawPublish(t, dev, root+"/district/dev.1/reading", prop(PropID, "bad-dot"), nil)
	rawPublish(t, dev, root+"/district//reading", prop(PropID, "bad-empty"), nil)
	rawPublish(t, dev, root+"/district/dev 1", prop(PropID, "bad-space"), nil)
	// A spoofed subject: the topic says district, the property says city.
	rawPublish(t, dev, root+"/district/dev1/alarm", prop(PropID, "spoof", PropSubject, root+".city.secret"), nil)
	// No ID, no time; sequence 3 after 1 is a gap of one.
	rawPublish(t, dev, root+"/district/dev1/reading", prop(PropKey, "dev1", PropSource, "dev1@boot", PropSeq, "3"), []byte("22"))

	r.waitUnique(t, 3, 10*time.Second)
	byData := map[string]bus.Message{}
	for _, m := range r.snapshot() {
		if strings.HasPrefix(m.ID, "bad-") {
			t.Errorf("message on a topic that is not a subject delivered: %+v", m)
		}
		byData[string(m.Data)] = m
		if !bus.Match(root+".district.>", m.Subject) {
			t.Errorf("delivered subject %q does not match the subscription's pattern", m.Subject)
		}
	}
	first := byData["21.5"]
	wantTime, _ := time.Parse(time.RFC3339Nano, ts)
	if first.ID != "dev1-1" || first.Key != "dev1" || !first.Time.Equal(wantTime) || first.Headers["fw"] != "1.2.3" ||
		len(first.Headers) != 1 || first.Subject != root+".district.dev1.reading" {
		t.Errorf("first foreign message decoded as %+v", first)
	}
	third := byData["22"]
	if u, err := uuid.Parse(third.ID); err != nil || u.Version() != 7 {
		t.Errorf("message without ID got ID %q (%v), want a UUIDv7", third.ID, err)
	}
	if third.Time.IsZero() || time.Since(third.Time) > time.Minute {
		t.Errorf("message without Time got %v, want the time of receipt", third.Time)
	}
	for _, m := range r.snapshot() {
		if m.ID == "spoof" && m.Subject != root+".district.dev1.alarm" {
			t.Errorf("a publisher relabelled its message: topic %s delivered as subject %q", root+"/district/dev1/alarm", m.Subject)
		}
	}
	if st := b.Stats(); st.Skipped != 3 {
		t.Errorf("Skipped = %d, want 3", st.Skipped)
	}
	gapMu.Lock()
	defer gapMu.Unlock()
	if len(gaps) != 1 || gaps[0].Source != "dev1@boot" || gaps[0].Key != "dev1" || gaps[0].From != 2 || gaps[0].To != 2 ||
		gaps[0].Subject != root+".district.dev1.reading" {
		t.Errorf("gaps %+v, want one: message 2 of dev1@boot", gaps)
	}
}

// Invalid messages are refused before anything is sent, with the bus's
// errors; a batch with one invalid message sends none of them.
func TestPublishInvalid(t *testing.T) {
	server := serverURL(t)
	b := newTestBus(t, testOptions(t, server))
	root := testRoot()
	ctx := context.Background()
	for _, s := range []string{"", "a..b", ".a", "a.", "a b", "a.*", "a.>", "a/b", "a.#", "a.+", "a.é", strings.Repeat("a", 513)} {
		if err := b.Publish(ctx, bus.Message{ID: "x", Subject: s}); !errors.Is(err, bus.ErrInvalidSubject) {
			t.Errorf("Publish on %q: %v, want ErrInvalidSubject", s, err)
		}
	}
	if err := b.Publish(ctx, bus.Message{Subject: root + ".x"}); !errors.Is(err, bus.ErrInvalidMessage) {
		t.Errorf("Publish without ID: %v, want ErrInvalidMessage", err)
	}
	if err := b.Publish(ctx, bus.NewMessage(root+".x", make([]byte, bus.MaxDataSize+1))); !errors.Is(err, bus.ErrInvalidMessage) {
		t.Errorf("Publish of oversized data: %v, want ErrInvalidMessage", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := b.Publish(cancelled, bus.NewMessage(root+".x", nil)); !errors.Is(err, context.Canceled) {
		t.Errorf("Publish with a cancelled context: %v", err)
	}
	nop := func(context.Context, bus.Message) error { return nil }
	if _, err := b.Subscribe(ctx, root+".a.>.b", "g", nop); !errors.Is(err, bus.ErrInvalidSubject) {
		t.Errorf("Subscribe to a bad pattern: %v", err)
	}
	if _, err := b.Subscribe(ctx, root+".>", "a.b", nop); !errors.Is(err, bus.ErrInvalidGroup) {
		t.Errorf("Subscribe with a bad group: %v", err)
	}
	if _, err := b.Subscribe(ctx, root+".>", "g", nil); err == nil {
		t.Errorf("Subscribe with a nil handler succeeded")
	}

	r := newRecorder()
	subscribeT(t, b, root+".>", "batch", r.handler)
	msg := func(subject, data string) bus.Message {
		m := bus.NewMessage(subject, []byte(data))
		m.Key = "k" // one stream and one handler lane: deliveries in publish order
		return m
	}
	batch := []bus.Message{msg(root+".x", "1"), msg(root+".x", "2"), msg(root+".x y", "bad"), msg(root+".x", "4")}
	err := b.PublishBatch(ctx, batch)
	if !errors.Is(err, bus.ErrInvalidSubject) {
		t.Fatalf("PublishBatch with an invalid subject: %v, want ErrInvalidSubject", err)
	}
	if !strings.Contains(err.Error(), "message 2") {
		t.Errorf("PublishBatch error %q does not say which message", err)
	}
	noID := []bus.Message{msg(root+".x", "1"), {Subject: root + ".x"}}
	if err := b.PublishBatch(ctx, noID); !errors.Is(err, bus.ErrInvalidMessage) {
		t.Fatalf("PublishBatch with a message without ID: %v, want ErrInvalidMessage", err)
	}
	if st := b.Stats(); st.Published != 0 {
		t.Fatalf("Published = %d after refused batches, want 0", st.Published)
	}
	// A valid batch: all of it arrives, after nothing of the refused ones.
	good := []bus.Message{msg(root+".x", "a"), msg(root+".x", "b"), msg(root+".x", "c")}
	if err := b.PublishBatch(ctx, good); err != nil {
		t.Fatal(err)
	}
	r.waitUnique(t, 3, 10*time.Second)
	got := r.snapshot()
	if len(got) != 3 || string(got[0].Data) != "a" || string(got[1].Data) != "b" || string(got[2].Data) != "c" {
		t.Fatalf("delivered %v, want exactly a, b, c in order", got)
	}
	if st := b.Stats(); st.Published != 3 || st.Gaps != 0 || st.Received != 3 {
		// A refused batch must not use up sequence numbers either.
		t.Fatalf("stats %+v, want 3 published, 3 received, no gaps", st)
	}
}

// After Close every operation fails with bus.ErrClosed, and so does a
// Publish that was waiting for a connection.
func TestClosed(t *testing.T) {
	br := startBroker(t, "")
	opts := testOptions(t, br.url())
	opts.ReconnectMin, opts.ReconnectMax = 20*time.Millisecond, 50*time.Millisecond
	b, err := New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	ctx := context.Background()
	root := testRoot()
	s, err := b.Subscribe(ctx, root+".>", "g", func(context.Context, bus.Message) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Subscription.Close: %v", err)
	}
	if err := s.Close(); !errors.Is(err, bus.ErrClosed) {
		t.Fatalf("second Subscription.Close: %v, want ErrClosed", err)
	}

	br.stop(syscall.SIGKILL) // the publisher loses its connection; Publish waits for the next
	waiting := make(chan error, 1)
	go func() { waiting <- b.Publish(ctx, bus.NewMessage(root+".x", nil)) }()
	select {
	case err := <-waiting:
		t.Fatalf("Publish without a broker returned %v before Close", err)
	case <-time.After(200 * time.Millisecond):
	}
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-waiting:
		if !errors.Is(err, bus.ErrClosed) {
			t.Fatalf("waiting Publish: %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a waiting Publish did not return after Close")
	}
	if err := b.Publish(ctx, bus.NewMessage(root+".x", nil)); !errors.Is(err, bus.ErrClosed) {
		t.Errorf("Publish after Close: %v", err)
	}
	if err := b.PublishBatch(ctx, []bus.Message{bus.NewMessage(root+".x", nil)}); !errors.Is(err, bus.ErrClosed) {
		t.Errorf("PublishBatch after Close: %v", err)
	}
	if _, err := b.Subscribe(ctx, root+".>", "g", func(context.Context, bus.Message) error { return nil }); !errors.Is(err, bus.ErrClosed) {
		t.Errorf("Subscribe after Close: %v", err)
	}
	if err := b.Close(); !errors.Is(err, bus.ErrClosed) {
		t.Errorf("second Close: %v", err)
	}
}

// Jurisdiction: an event a street publishes reaches the groups of the
// street, its district and its city, and no sibling's.
func TestJurisdiction(t *testing.T) {
	server := serverURL(t)
	streetOpts := testOptions(t, server)
	streetOpts.ClientID += "-street"
	street := newTestBus(t, streetOpts)
	centres := newTestBus(t, testOptions(t, server))
	gov := "gov_" + randomToken()
	type group struct {
		name, pattern string
		r             *recorder
		gets          bool
	}
	groups := []*group{
		{"street", gov + ".500000.500107.500107001.>", newRecorder(), true},
		{"district", gov + ".500000.500107.>", newRecorder(), true},
		{"city", gov + ".500000.>", newRecorder(), true},
		{"reported", gov + ".500000.*.*.incident.reported", newRecorder(), true},
		{"otherstreet", gov + ".500000.500107.500107002.>", newRecorder(), false},
		{"otherdistrict", gov + ".500000.500108.>", newRecorder(), false},
		{"othercity", gov + ".510000.>", newRecorder(), false},
	}
	for _, g := range groups {
		subscribeT(t, centres, g.pattern, g.name, g.r.handler)
	}
	// One key for all: one handler lane per member, so each group handles
	// them in the order published. The markers, published after the
	// incident, tell the groups that must not receive it when it would
	// have arrived.
	m := bus.NewMessage(gov+".500000.500107.500107001.incident.reported", []byte(`{"category":"muck-truck"}`))
	sent := []bus.Message{m,
		bus.NewMessage(gov+".500000.500107.500107002.marker", nil),
		bus.NewMessage(gov+".500000.500108.marker", nil),
		bus.NewMessage(gov+".510000.marker", nil),
	}
	for _, s := range sent {
		s.Key = "incident-1"
		publishT(t, street, s)
	}
	for _, g := range groups {
		want := map[string]bool{}
		for _, s := range sent {
			if bus.Match(g.pattern, s.Subject) {
				want[s.ID] = true
			}
		}
		if want[m.ID] != g.gets {
			t.Fatalf("test bug: group %s: pattern %s", g.name, g.pattern)
		}
		if len(want) == 0 {
			t.Fatalf("test bug: group %s expects nothing, so the test cannot tell", g.name)
		}
		g.r.waitUnique(t, len(want), 10*time.Second)
		got := g.r.snapshot()
		ok := len(got) == len(want)
		for _, d := range got {
			ok = ok && want[d.ID]
		}
		if !ok {
			var subjects []string
			for _, d := range got {
				subjects = append(subjects, d.Subject)
			}
			t.Errorf("group %s (%s) got %v; receives the incident: %v", g.name, g.pattern, subjects, g.gets)
		}
	}
}

// acknowledgements leave in the order the messages arrived, whatever the
// order handlers finish in, and never for an earlier connection's messages.
func TestAckQueueOrder(t *testing.T) {
	var q ackQueue
	var sent []uint16
	send := func(e *ackEntry) { sent = append(sent, e.id) }
	e := make([]*ackEntry, 5)
	for i := range e {
		e[i] = &ackEntry{gen: 1, id: uint16(i + 1)}
		q.add(e[i])
	}
	q.complete(e[2], send)
	q.complete(e[1], send)
	if len(sent) != 0 || q.outstanding() != 5 {
		t.Fatalf("acks sent %v before the first message was handled", sent)
	}
	q.complete(e[0], send)
	if want := []uint16{1, 2, 3}; !slices.Equal(sent, want) || q.outstanding() != 2 {
		t.Fatalf("acks %v, outstanding %d; want %v, 2", sent, q.outstanding(), want)
	}
	// A new connection: the old, unacknowledged entries are dropped.
	n := &ackEntry{gen: 2, id: 1}
	q.add(n)
	if q.outstanding() != 1 {
		t.Fatalf("outstanding %d after reconnecting, want 1", q.outstanding())
	}
	q.complete(e[3], send) // an old message handled late: no ack
	q.complete(n, send)
	if want := []uint16{1, 2, 3, 1}; !slices.Equal(sent, want) || q.outstanding() != 0 {
		t.Fatalf("acks %v, outstanding %d; want %v, 0", sent, q.outstanding(), want)
	}
}

// Strings MQTT cannot carry verbatim: header values with line breaks,
// tabs or invalid UTF-8 (a dead letter's multi-line error, say) arrive
// intact; an ID, Key or header name that MQTT cannot carry is refused with
// bus.ErrInvalidMessage. Either way the bus goes on publishing: the broker
// closes the connection of a client that sends such a string, and a
// message it never acknowledges would otherwise be resent on every
// reconnection, blocking every later Publish.
func TestUnsafeStrings(t *testing.T) {
	br := startBroker(t, "")
	b := newTestBus(t, testOptions(t, br.url()))
	root := testRoot()
	r := newRecorder()
	subscribeT(t, b, root+".>", "unsafe", r.handler)
	ctx := func() context.Context {
		c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		t.Cleanup(cancel)
		return c
	}

	for name, m := range map[string]bus.Message{
		"key with line break":    {ID: "1", Subject: root + ".x", Key: "a\nb"},
		"key not UTF-8":          {ID: "1", Subject: root + ".x", Key: "a\xffb"},
		"id with NUL":            {ID: "1\x002", Subject: root + ".x"},
		"id with C1 control":     {ID: "1\u00852", Subject: root + ".x"},
		"id with non-character":  {ID: "1\uffff", Subject: root + ".x"},
		"oversized id":           {ID: strings.Repeat("i", maxIDKey+1), Subject: root + ".x"},
		"header name with tab":   {ID: "1", Subject: root + ".x", Headers: map[string]string{"a\tb": "v"}},
		"empty header name":      {ID: "1", Subject: root + ".x", Headers: map[string]string{"": "v"}},
		"oversized header value": {ID: "1", Subject: root + ".x", Headers: map[string]string{"big": strings.Repeat("v", 70000)}},
	} {
		if err := b.Publish(ctx(), m); !errors.Is(err, bus.ErrInvalidMessage) {
			t.Errorf("%s: Publish: %v, want ErrInvalidMessage", name, err)
		}
		if err := b.PublishBatch(ctx(), []bus.Message{bus.NewMessage(root+".x", nil), m}); !errors.Is(err, bus.ErrInvalidMessage) {
			t.Errorf("%s: PublishBatch: %v, want ErrInvalidMessage", name, err)
		}
	}

	m := bus.NewMessage(root+".x", nil)
	m.Headers = map[string]string{
		"lines":    "line 1\nline 2\r\n",
		"tab":      "a\tb",
		"binary":   "\x00\x01\xff\xfe",
		"c1":       "\u0085",
		"nonchar":  "\ufdd0\uffff",
		"quoted":   `"already quoted"`,
		"ordinary": "重庆 ok",
	}
	if err := b.Publish(ctx(), m); err != nil {
		t.Fatalf("Publish with unsafe header values: %v", err)
	}
	next := bus.NewMessage(root+".y", nil)
	if err := b.Publish(ctx(), next); err != nil {
		t.Fatalf("Publish after one with unsafe header values: %v", err)
	}
	r.waitUnique(t, 2, 10*time.Second)
	for _, got := range r.snapshot() {
		if got.ID != m.ID {
			continue
		}
		if len(got.Headers) != len(m.Headers) {
			t.Errorf("headers %q, want %q", got.Headers, m.Headers)
		}
		for k, v := range m.Headers {
			if got.Headers[k] != v {
				t.Errorf("header %q = %q, want %q", k, got.Headers[k], v)
			}
		}
	}

	// bus.DeadLetter puts the handler's error in a header; errors.Join
	// makes it span lines.
	dead := newRecorder()
	subscribeT(t, b, root+".dead", "dead", dead.handler)
	failing := bus.DeadLetter(b, root+".dead", 1)(func(context.Context, bus.Message) error {
		return errors.Join(errors.New("cannot parse"), errors.New("field \"x\": bad"))
	})
	subscribeT(t, b, root+".work", "worker", failing)
	work := bus.NewMessage(root+".work", nil)
	if err := b.Publish(ctx(), work); err != nil {
		t.Fatal(err)
	}
	dead.waitUnique(t, 1, 10*time.Second)
	if got := dead.snapshot()[0]; got.ID != work.ID || got.Headers[bus.HeaderDeadLetterError] != "cannot parse\nfield \"x\": bad" {
		t.Fatalf("dead letter %+v", got)
	}
}
