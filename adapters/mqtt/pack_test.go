package mqtt

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/govkit/govkit/bus"
)

// encodeTestPack builds the payload and PropPack value of a pack of ms,
// numbered seqs under src, as the publisher would.
func encodeTestPack(t testing.TB, ms []bus.Message, src string, seqs []uint64, now time.Time) (string, []byte) {
	t.Helper()
	u := unit{n: len(ms), ends: make([]int, len(ms))}
	for i, m := range ms {
		u.body = appendPacked(u.body, m, now)
		u.ends[i] = len(u.body)
	}
	return strconv.Itoa(len(ms)), packPayload(&u, src, func(i int) uint64 { return seqs[i] })
}

// sameMessage reports how got differs from want as a message delivered
// alone would: every field, the Time's instant and zone offset included.
func sameMessage(got, want bus.Message) string {
	var diffs []string
	if got.ID != want.ID || got.Subject != want.Subject || got.Key != want.Key {
		diffs = append(diffs, fmt.Sprintf("ID/subject/key %q %q %q, want %q %q %q", got.ID, got.Subject, got.Key, want.ID, want.Subject, want.Key))
	}
	if !got.Time.Equal(want.Time) {
		diffs = append(diffs, fmt.Sprintf("time %v, want %v", got.Time, want.Time))
	}
	_, go1 := got.Time.Zone()
	_, wo := want.Time.Zone()
	if go1 != wo {
		diffs = append(diffs, fmt.Sprintf("zone offset %d, want %d", go1, wo))
	}
	if !maps.Equal(got.Headers, want.Headers) && (len(got.Headers) != 0 || len(want.Headers) != 0) {
		diffs = append(diffs, fmt.Sprintf("headers %q, want %q", got.Headers, want.Headers))
	}
	if !bytes.Equal(got.Data, want.Data) {
		diffs = append(diffs, fmt.Sprintf("data %q, want %q", got.Data, want.Data))
	}
	return strings.Join(diffs, "; ")
}

// packTestMessages are messages with every kind of field a pack carries.
func packTestMessages(subject string) []bus.Message {
	cst := time.FixedZone("CST", 8*3600)
	ms := []bus.Message{
		{ID: "0190c6a2-0000-7000-8000-000000000001", Subject: subject, Key: "d-17",
			Time:    time.Date(2024, 3, 5, 18, 35, 0, 123456789, cst),
			Headers: map[string]string{"trace": "00-abc-01", "lines": "a\nb\r\n", "bad": "\xff\x00", "empty": "", "重庆": "渝北"},
			Data:    []byte(`{"t":21.5}`)},
		{ID: "2", Subject: subject, Time: time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC)}, // no key, no data
		{ID: "3", Subject: subject, Key: "k", Time: time.Date(2024, 1, 1, 0, 0, 0, 0, time.FixedZone("", -(3*3600+30*60))),
			Data: []byte("\x00\xff binary\n")},
		{ID: "4", Subject: subject, Key: "k", Data: []byte{}},                                                  // zero time: now
		{ID: "5", Subject: subject, Key: "ä ö", Time: time.Date(2030, 6, 1, 12, 0, 0, 1, time.Local)},          // local zone
		{ID: "6", Subject: subject, Time: time.Date(2024, 5, 5, 5, 5, 5, 0, time.FixedZone("", 5*3600+45*60))}, // +05:45
		{ID: strings.Repeat("i", 300), Subject: subject, Key: strings.Repeat("k", 200), Time: time.Unix(1e9, 0),
			Data: bytes.Repeat([]byte("x"), 5000), Headers: map[string]string{}},
	}
	return ms
}

// A pack decodes to exactly the messages encoded, every field as a
// message travelling alone arrives (a Time's zone as time.Parse would
// give it), with each message's own sequence number and the source.
func TestPackEncodeDecode(t *testing.T) {
	const subject = "gov.500107.sensor"
	now := time.Date(2025, 1, 2, 3, 4, 5, 6, time.FixedZone("", 3600))
	ms := packTestMessages(subject)
	seqs := []uint64{1, 2, 300, 1 << 40, 7, 0, 9}
	count, payload := encodeTestPack(t, ms, "gw-3@abc", seqs, now)
	if count != strconv.Itoa(len(ms)) || payload[0] != packVersion {
		t.Fatalf("count %q, version %d", count, payload[0])
	}
	rs, err := decodePack(subject, count, payload)
	if err != nil {
		t.Fatalf("decodePack: %v", err)
	}
	if len(rs) != len(ms) {
		t.Fatalf("%d messages decoded, want %d", len(rs), len(ms))
	}
	for i, r := range rs {
		want := ms[i]
		if want.Time.IsZero() {
			want.Time = now
		}
		if d := sameMessage(r.msg, want); d != "" {
			t.Errorf("message %d: %s", i, d)
		}
		if r.src != "gw-3@abc" || r.seq != seqs[i] || r.attempt != 0 || r.subject != "" {
			t.Errorf("message %d: src %q seq %d attempt %d subject %q", i, r.src, r.seq, r.attempt, r.subject)
		}
		// The zone is what a message travelling alone would get.
		parsed, err := time.Parse(time.RFC3339Nano, want.Time.Format(time.RFC3339Nano))
		if err != nil {
			t.Fatal(err)
		}
		if r.msg.Time.Location().String() != parsed.Location().String() {
			t.Errorf("message %d: location %q, alone it would be %q", i, r.msg.Time.Location(), parsed.Location())
		}
		if len(want.Data) == 0 && r.msg.Data != nil {
			t.Errorf("message %d: empty data decoded as %q, want nil as alone", i, r.msg.Data)
		}
	}
	// A handler that appends to one message's data cannot overwrite the
	// next message's bytes, which share the payload.
	next := slices.Clone(rs[3].msg.Data)
	_ = append(rs[2].msg.Data, "overwrite"...)
	if !bytes.Equal(rs[3].msg.Data, next) || !bytes.Equal(rs[6].msg.Data, ms[6].Data) {
		t.Fatalf("appending to a message's data changed another's")
	}
	// Every byte counts: the size estimate is an upper bound, and exact
	// but for the sequence number.
	for i, m := range ms {
		if got, want := packedSize(m, now), len(appendPacked(nil, m, now))+binary.MaxVarintLen64; got != want {
			t.Errorf("message %d: packedSize %d, want %d", i, got, want)
		}
	}
}

// A malformed pack is refused with errBadPack, never a panic: an unknown
// version, a count that is not a count or does not match, truncation at
// every byte, trailing bytes, impossible fields, and messages that could
// not have been published.
func TestPackMalformed(t *testing.T) {
	const subject = "gov.x"
	now := time.Now()
	ms := []bus.Message{
		{ID: "a", Subject: subject, Key: "k", Time: now, Headers: map[string]string{"h": "v"}, Data: []byte("one")},
		{ID: "b", Subject: subject, Time: now, Data: []byte("two")},
	}
	count, good := encodeTestPack(t, ms, "src", []uint64{1, 2}, now)
	if _, err := decodePack(subject, count, good); err != nil {
		t.Fatalf("the valid pack is refused: %v", err)
	}
	bad := func(name, count string, data []byte) {
		t.Helper()
		rs, err := decodePack(subject, count, data)
		if !errors.Is(err, errBadPack) || rs != nil {
			t.Errorf("%s: %d messages, %v; want errBadPack", name, len(rs), err)
		}
	}
	with := func(f func([]byte) []byte) []byte { return f(slices.Clone(good)) }
	bad("version 2", count, with(func(b []byte) []byte { b[0] = 2; return b }))
	bad("version 0", count, with(func(b []byte) []byte { b[0] = 0; return b }))
	bad("empty payload", count, nil)
	for _, c := range []string{"", "0", "-1", "1", "3", "02", "+2", " 2", "2 ", "x", "1025", "99999999999999999999"} {
		bad("count "+strconv.Quote(c), c, good)
	}
	for n := 1; n < len(good); n++ {
		bad("truncated to "+strconv.Itoa(n), count, good[:n])
	}
	bad("trailing byte", count, append(slices.Clone(good), 0))
	bad("a third message", count, append(slices.Clone(good), good[len(good)-len(appendPacked(nil, ms[1], now))-1:]...))

	// Hand-made records.
	rec := func(fields ...[]byte) []byte {
		b := []byte{packVersion, 3, 's', 'r', 'c'}
		for _, f := range fields {
			b = append(b, f...)
		}
		return b
	}
	str := func(s string) []byte { return appendStr(nil, s) }
	uv := func(v uint64) []byte { return binary.AppendUvarint(nil, v) }
	sv := func(v int64) []byte { return binary.AppendVarint(nil, v) }
	ok := rec(uv(1), str("id"), str("k"), sv(1), uv(0), sv(0), uv(0), str("d"))
	if rs, err := decodePack(subject, "1", ok); err != nil || len(rs) != 1 || rs[0].msg.ID != "id" {
		t.Fatalf("hand-made pack: %v, %v", rs, err)
	}
	bad("no ID", "1", rec(uv(1), str(""), str("k"), sv(1), uv(0), sv(0), uv(0), str("d")))
	bad("ID with a line break", "1", rec(uv(1), str("a\nb"), str(""), sv(1), uv(0), sv(0), uv(0), str("")))
	bad("key not UTF-8", "1", rec(uv(1), str("id"), str("\xff"), sv(1), uv(0), sv(0), uv(0), str("")))
	bad("empty header name", "1", rec(uv(1), str("id"), str(""), sv(1), uv(0), sv(0), uv(1), str(""), str("v"), str("")))
	bad("nanoseconds 1e9", "1", rec(uv(1), str("id"), str(""), sv(1), uv(1e9), sv(0), uv(0), str("")))
	bad("a billion headers", "1", rec(uv(1), str("id"), str(""), sv(1), uv(0), sv(0), uv(1e9), str("")))
	bad("a field longer than the pack", "1", rec(uv(1), uv(1<<62), []byte("id")))
	bad("an overlong varint", "1", rec(bytes.Repeat([]byte{0xff}, 11)))
	bad("no source", "1", []byte{packVersion})
	bad("source longer than the pack", "1", []byte{packVersion, 9, 's'})
	bad("more messages announced than bytes", "1000", ok)
	big := make([]byte, 0, bus.MaxDataSize+16)
	big = append(big, rec(uv(1), str("id"), str(""), sv(1), uv(0), sv(0), uv(0))...)
	big = append(binary.AppendUvarint(big, bus.MaxDataSize+1), make([]byte, bus.MaxDataSize+1)...)
	bad("data over bus.MaxDataSize", "1", big)
}

// PublishBatch's plan: runs of consecutive messages with one subject make
// packs of at most PackSize messages and maxPackBytes; everything else,
// a run of one, and a message too big for a pack travel alone; the
// batch's order is kept; without PackSize nothing is packed.
func TestPlanUnits(t *testing.T) {
	now := time.Now()
	m := func(subject string, size int) bus.Message {
		return bus.Message{ID: "x", Subject: subject, Time: now, Data: make([]byte, size)}
	}
	shape := func(units []unit) string {
		var parts []string
		next := 0
		for _, u := range units {
			if u.first != next {
				t.Fatalf("unit at %d, want %d: order or coverage broken", u.first, next)
			}
			next += u.n
			if u.n > 1 && (len(u.ends) != u.n || u.ends[u.n-1] != len(u.body)) {
				t.Fatalf("pack of %d with %d ends over %d bytes", u.n, len(u.ends), len(u.body))
			}
			if u.n == 1 && u.body != nil {
				t.Fatalf("a single message was encoded for a pack")
			}
			parts = append(parts, strconv.Itoa(u.n))
		}
		return strings.Join(parts, " ")
	}
	batch := []bus.Message{m("a", 1), m("a", 1), m("a", 1), m("b", 1), m("a", 1), m("a", 1), m("a", 1), m("a", 1), m("a", 1), m("c", 1)}
	for _, c := range []struct {
		size int
		want string
	}{
		{0, "1 1 1 1 1 1 1 1 1 1"},
		{1, "1 1 1 1 1 1 1 1 1 1"},
		{2, "2 1 1 2 2 1 1"},
		{3, "3 1 3 2 1"},
		{32, "3 1 5 1"},
	} {
		if got := shape(planUnits(batch, c.size, now)); got != c.want {
			t.Errorf("PackSize %d: units %q, want %q", c.size, got, c.want)
		}
	}
	// The byte bound: three 100 KiB messages make a pack of two and one
	// alone; a message over the bound travels alone and splits its run.
	k100 := 100 << 10
	if got := shape(planUnits([]bus.Message{m("a", k100), m("a", k100), m("a", k100)}, 32, now)); got != "2 1" {
		t.Errorf("100 KiB messages: units %q, want \"2 1\"", got)
	}
	if got := shape(planUnits([]bus.Message{m("a", 1), m("a", 1), m("a", maxPackBytes), m("a", 1), m("a", 1)}, 32, now)); got != "2 1 2" {
		t.Errorf("an oversized message: units %q, want \"2 1 2\"", got)
	}
	for _, u := range planUnits([]bus.Message{m("a", k100), m("a", k100), m("a", 50<<10), m("a", 1)}, 32, now) {
		if n := len(u.body) + u.n*binary.MaxVarintLen64; u.n > 1 && n > maxPackBytes {
			t.Errorf("a pack of %d messages takes %d bytes, over %d", u.n, n, maxPackBytes)
		}
	}
}

// A pack's messages are numbered in their own streams, continuing the
// numbers of messages sent alone, all under one source: when numbering a
// pack would take the publisher past MaxStreams, it starts the new source
// before the pack rather than within it.
func TestPackNumbering(t *testing.T) {
	p := &publisher{opts: &Options{ClientID: "c", MaxStreams: 3}, seqs: map[seqKey]uint64{}, start: "t0", src: "c@t0"}
	now := time.Now()
	pack := func(keys ...string) []received {
		t.Helper()
		var ms []bus.Message
		for _, k := range keys {
			ms = append(ms, bus.Message{ID: "x", Subject: "s", Key: k, Time: now})
		}
		u := planUnits(ms, len(ms), now)[0]
		pub := p.packPublish(&flight{topic: "s", pack: &packFlight{u: u, ms: ms}})
		if v, _ := packProperty(pub); v != strconv.Itoa(len(keys)) || pub.QoS != 1 {
			t.Fatalf("PropPack %q, QoS %d", v, pub.QoS)
		}
		rs, err := decodePack("s", strconv.Itoa(len(keys)), pub.Payload)
		if err != nil {
			t.Fatal(err)
		}
		return rs
	}
	seqs := func(rs []received) (string, []uint64) {
		var out []uint64
		for _, r := range rs {
			if r.src != rs[0].src {
				t.Fatalf("one pack, two sources: %q and %q", rs[0].src, r.src)
			}
			out = append(out, r.seq)
		}
		return rs[0].src, out
	}
	if n := p.nextSeq("s", "a"); n != 1 { // a message alone
		t.Fatalf("first number %d", n)
	}
	if src, got := seqs(pack("a", "b", "a", "a")); src != "c@t0" || !slices.Equal(got, []uint64{2, 1, 3, 4}) {
		t.Fatalf("numbers %v under %q, want [2 1 3 4] under c@t0", got, src)
	}
	if n := p.nextSeq("s", "b"); n != 2 {
		t.Fatalf("a message alone after the pack got %d, want 2", n)
	}
	// Two streams known, room for one more: a pack with two new ones
	// starts a new source first.
	if src, got := seqs(pack("a", "c", "d")); src == "c@t0" || !strings.HasPrefix(src, "c@t0.") || !slices.Equal(got, []uint64{1, 1, 1}) {
		t.Fatalf("numbers %v under %q, want [1 1 1] under a new source", got, src)
	}
	src := p.src
	// A pack of known streams only: no new source, even at the limit.
	if s2, got := seqs(pack("d", "a", "c")); s2 != src || !slices.Equal(got, []uint64{2, 2, 2}) {
		t.Fatalf("numbers %v under %q, want [2 2 2] under %q", got, s2, src)
	}
}

// PackSize is validated like the other options: negative or above
// MaxPackSize is refused; 0, 1 and MaxPackSize are accepted, and 0 is
// the default (no packing).
func TestPackSizeOptions(t *testing.T) {
	for _, n := range []int{-1, MaxPackSize + 1, 1 << 30} {
		o := Options{Servers: []string{"tcp://127.0.0.1:1"}, ClientID: "c", PackSize: n}
		if _, _, err := o.withDefaults(); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("PackSize %d: %v, want ErrInvalidOptions", n, err)
		}
		if b, err := New(context.Background(), o); !errors.Is(err, ErrInvalidOptions) || b != nil {
			t.Errorf("New with PackSize %d: %v", n, err)
		}
	}
	for _, n := range []int{0, 1, 2, MaxPackSize} {
		o, _, err := Options{Servers: []string{"tcp://127.0.0.1:1"}, ClientID: "c", PackSize: n}.withDefaults()
		if err != nil || o.PackSize != n {
			t.Errorf("PackSize %d: %v (got %d)", n, err, o.PackSize)
		}
	}
}

// packOptions are testOptions with PackSize.
func packOptions(t testing.TB, server, suffix string, size int) Options {
	o := testOptions(t, server)
	o.ClientID += suffix
	o.PackSize = size
	return o
}

// observed is one PUBLISH a plain MQTT subscriber saw.
type observed struct {
	topic string
	pack  string // PropPack's value, "" if none
	props paho.UserProperties
}

// observer is a plain (non-shared) MQTT subscriber: it sees each PUBLISH
// as the broker carries it, to tell packs from single messages.
type observer struct {
	mu  sync.Mutex
	got []observed
}

func (o *observer) snapshot() []observed {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.got)
}

func observe(t testing.TB, server, filter string) *observer {
	t.Helper()
	u, err := url.Parse(server)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.DialTimeout("tcp", u.Host, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	o := &observer{}
	id := "gkt-observer-" + randomToken()
	cli := paho.NewClient(paho.ClientConfig{ClientID: id, Conn: c,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			ob := observed{topic: pr.Packet.Topic}
			if pr.Packet.Properties != nil {
				ob.props = pr.Packet.Properties.User
				ob.pack, _ = packProperty(pr.Packet)
			}
			o.mu.Lock()
			o.got = append(o.got, ob)
			o.mu.Unlock()
			return true, nil
		}}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := cli.Connect(ctx, &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 30}); err != nil {
		t.Fatalf("observer connect: %v", err)
	}
	t.Cleanup(func() { _ = cli.Disconnect(&paho.Disconnect{ReasonCode: 0}) })
	if _, err := cli.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: 1}}}); err != nil {
		t.Fatalf("observer subscribe: %v", err)
	}
	return o
}

// Through the broker, PublishBatch with PackSize sends each run of one
// subject as packs of at most PackSize (one PUBLISH each, as a plain MQTT
// subscriber sees), and a member whose own PackSize is 0 delivers every
// message with every field intact, Attempt 1, numbered without gaps.
func TestPackThroughBroker(t *testing.T) {
	server := serverURL(t)
	pub := newTestBus(t, packOptions(t, server, "-p", 4))
	sub := newTestBus(t, testOptions(t, server))
	root := testRoot()
	obs := observe(t, server, Topic(root)+"/#")
	r := newRecorder()
	subscribeT(t, sub, root+".>", "packs", r.handler)

	s1, s2 := root+".500107.gw-1.reading", root+".500107.gw-2.reading"
	var batch []bus.Message
	for i := range 10 {
		m := bus.NewMessage(s1, []byte(strconv.Itoa(i)))
		m.Key = "d" + strconv.Itoa(i%3)
		batch = append(batch, m)
	}
	extra := packTestMessages(s1)
	for i := range extra {
		extra[i].ID += "-" + randomToken()
	}
	batch = append(batch, bus.NewMessage(s2, []byte("alone")))
	batch = append(batch, extra...)
	before := time.Now()
	if err := pub.PublishBatch(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	r.waitUnique(t, len(batch), 10*time.Second)

	// 10 of s1 → 4 4 2; s2 alone; 7 of s1 → 4 3.
	waitUntil(t, 5*time.Second, func() bool { return len(obs.snapshot()) >= 6 }, func() string { return fmt.Sprint(obs.snapshot()) })
	time.Sleep(100 * time.Millisecond)
	var shape []string
	for _, o := range obs.snapshot() {
		if o.pack == "" {
			shape = append(shape, "single")
		} else {
			shape = append(shape, o.pack)
		}
	}
	if want := []string{"4", "4", "2", "single", "4", "3"}; !slices.Equal(shape, want) {
		t.Fatalf("the broker carried %v, want %v", shape, want)
	}

	got := map[string]bus.Message{}
	for _, m := range r.snapshot() {
		got[m.ID] = m
	}
	for i, want := range batch {
		m, ok := got[want.ID]
		if !ok {
			t.Fatalf("message %d never arrived", i)
		}
		if want.Time.IsZero() {
			if m.Time.Before(before.Truncate(time.Nanosecond)) || m.Time.After(after) {
				t.Errorf("message %d without Time got %v, want the publish time", i, m.Time)
			}
			want.Time = m.Time
		}
		if d := sameMessage(m, want); d != "" {
			t.Errorf("message %d: %s", i, d)
		}
		if m.Attempt != 1 {
			t.Errorf("message %d: Attempt %d, want 1", i, m.Attempt)
		}
	}
	if len(r.snapshot()) != len(batch) {
		t.Errorf("%d handler calls for %d messages", len(r.snapshot()), len(batch))
	}
	st, ps := sub.Stats(), pub.Stats()
	if st.Received != int64(len(batch)) || st.Gaps != 0 || st.Duplicates != 0 || st.Acked != int64(len(batch)) || st.Skipped != 0 {
		t.Errorf("subscriber stats %+v, want %d received and acked, no gaps", st, len(batch))
	}
	if ps.Published != int64(len(batch)) || ps.NoSubscribers != 0 {
		t.Errorf("publisher stats %+v, want %d published", ps, len(batch))
	}
}

// memberOf returns the subscription's member, for white-box checks.
func memberOf(t testing.TB, s bus.Subscription) *Subscription {
	t.Helper()
	m, ok := s.(*Subscription)
	if !ok {
		t.Fatalf("subscription is %T", s)
	}
	return m
}

// callLog records every handler call per ID, with its Attempt.
type callLog struct {
	mu    sync.Mutex
	calls map[string][]int
	order []string
}

func newCallLog() *callLog { return &callLog{calls: map[string][]int{}} }

func (l *callLog) add(m bus.Message) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls[m.ID] = append(l.calls[m.ID], m.Attempt)
	l.order = append(l.order, m.ID)
}

func (l *callLog) get(id string) []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.calls[id])
}

func (l *callLog) total() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.order)
}

// A pack holds one message whose handler fails until it has been handed
// back: the others are handled once each; the failing one is called
// MaxAttempts times in place, then handed back alone (one plain PUBLISH
// on the group's retry topic, not the pack) and delivered from there with
// the next Attempt; the pack is acknowledged, and nothing is lost or
// delivered again.
func TestPackFailingMessage(t *testing.T) {
	server := serverURL(t)
	pub := newTestBus(t, packOptions(t, server, "-p", 16))
	subOpts := testOptions(t, server)
	subOpts.MaxAttempts = 3
	sub := newTestBus(t, subOpts)
	root := testRoot()
	pattern, group := root+".>", "failing"
	retried := observe(t, server, RetryTopic(group, pattern))
	carried := observe(t, server, Topic(root)+"/#")

	var batch []bus.Message
	for i := range 6 {
		m := bus.NewMessage(root+".work", []byte(strconv.Itoa(i)))
		m.Key = "k" + strconv.Itoa(i)
		m.Headers = map[string]string{"n": strconv.Itoa(i), "multi": "line 1\nline 2"}
		batch = append(batch, m)
	}
	bad := batch[2]
	calls := newCallLog()
	var mu sync.Mutex
	var back bus.Message // the failing message as it came back
	s := subscribeT(t, sub, pattern, group, func(_ context.Context, m bus.Message) error {
		calls.add(m)
		if m.ID == bad.ID && m.Attempt <= subOpts.MaxAttempts {
			return errors.New("cannot handle it yet")
		}
		if m.ID == bad.ID {
			mu.Lock()
			back = m
			mu.Unlock()
		}
		return nil
	})
	if err := pub.PublishBatch(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, func() bool { return len(calls.get(bad.ID)) >= 4 && calls.total() >= 9 }, func() string {
		return fmt.Sprintf("calls %v", calls.calls)
	})
	member := memberOf(t, s)
	waitUntil(t, 5*time.Second, func() bool { return member.acks.outstanding() == 0 }, func() string {
		return fmt.Sprintf("%d acknowledgements outstanding", member.acks.outstanding())
	})
	waitUntil(t, 5*time.Second, func() bool { return len(carried.snapshot()) > 0 && len(retried.snapshot()) > 0 }, func() string {
		return fmt.Sprintf("observed %d packs, %d hand-backs", len(carried.snapshot()), len(retried.snapshot()))
	})
	time.Sleep(300 * time.Millisecond) // anything more would show now

	if o := carried.snapshot(); len(o) != 1 || o[0].pack != "6" {
		t.Fatalf("the broker carried %+v, want one pack of 6", o) // the retry topic is not under root
	}
	if got := calls.get(bad.ID); !slices.Equal(got, []int{1, 2, 3, 4}) {
		t.Errorf("the failing message was called with attempts %v, want [1 2 3 4]", got)
	}
	mu.Lock()
	if d := sameMessage(back, bad); d != "" {
		t.Errorf("the handed-back message came back changed: %s", d)
	}
	mu.Unlock()
	for _, m := range batch {
		if m.ID == bad.ID {
			continue
		}
		if got := calls.get(m.ID); !slices.Equal(got, []int{1}) {
			t.Errorf("message %s was called with attempts %v, want [1] (handled once)", m.Data, got)
		}
	}
	// Exactly one hand-back, of the failing message alone, with Attempt 4.
	rb := retried.snapshot()
	if len(rb) != 1 || rb[0].pack != "" {
		t.Fatalf("the retry topic carried %+v, want one plain message", rb)
	}
	var r received
	for _, u := range rb[0].props {
		if u.Key == PropMeta && !parseMeta(u.Value, &r) {
			t.Fatalf("hand-back meta %q", u.Value)
		}
	}
	if r.msg.ID != bad.ID || r.attempt != 4 || r.subject != bad.Subject {
		t.Errorf("handed back %q with attempt %d, subject %q; want %q, 4, %q", r.msg.ID, r.attempt, r.subject, bad.ID, bad.Subject)
	}
	st := sub.Stats()
	if st.HandedBack != 1 || st.Nacked != 3 || st.Acked != 6 || st.Delivered != 9 || st.Redelivered != 0 || st.Received != 6 || st.Gaps != 0 {
		t.Errorf("stats %+v, want 1 handed back, 3 nacked, 6 acked, 9 delivered, 6 received", st)
	}
	// The pack was acknowledged: the member's session holds nothing more.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	again := newRecorder()
	subscribeT(t, sub, pattern, group, again.handler)
	time.Sleep(500 * time.Millisecond)
	if n := len(again.snapshot()); n != 0 {
		t.Fatalf("%d messages delivered again after the pack was handled: %v", n, again.snapshot())
	}
}

// A pack is acknowledged only when every message in it has been handled:
// a member that closes while one is still in its handler leaves the pack
// unacknowledged in its session, and the next member with that session
// receives the whole pack again (Attempt 2); a consumer that deduplicates
// by ID applies each message once.
func TestPackAckAfterAll(t *testing.T) {
	server := serverURL(t)
	pub := newTestBus(t, packOptions(t, server, "-p", 16))
	subOpts := testOptions(t, server)
	subOpts.Backoff, subOpts.MaxBackoff = 5*time.Second, 5*time.Second // a failed call waits, and sees Close
	sub := newTestBus(t, subOpts)
	root := testRoot()
	pattern, group := root+".>", "halfway"
	carried := observe(t, server, Topic(root)+"/#")

	// Without keys, the pack's six messages go round-robin to six of the
	// member's eight handler goroutines: none waits behind the slow one.
	var batch []bus.Message
	for i := range 6 {
		batch = append(batch, bus.NewMessage(root+".work", []byte(strconv.Itoa(i))))
	}
	slow := batch[3]
	consumer := newDedupConsumer()
	started, release := make(chan struct{}), make(chan struct{})
	var once, releaseOnce sync.Once
	s := subscribeT(t, sub, pattern, group, func(ctx context.Context, m bus.Message) error {
		if m.ID == slow.ID {
			once.Do(func() { close(started) })
			<-release
			return errors.New("interrupted") // not handled
		}
		return consumer.handle(ctx, m)
	})
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) }) // before the subscription closes
	if err := pub.PublishBatch(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range batch {
		if m.ID != slow.ID {
			ids = append(ids, m.ID)
		}
	}
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the slow message never reached its handler")
	}
	waitUntil(t, 10*time.Second, func() bool { return len(consumer.missing(ids)) == 0 }, func() string {
		return fmt.Sprintf("%d not handled", len(consumer.missing(ids)))
	})
	waitUntil(t, 5*time.Second, func() bool { return len(carried.snapshot()) > 0 }, func() string { return "the observer saw nothing" })
	member := memberOf(t, s)
	time.Sleep(200 * time.Millisecond)
	if o := carried.snapshot(); len(o) != 1 || o[0].pack != "6" {
		t.Fatalf("the broker carried %+v, want one pack of 6", o)
	}
	if n := member.acks.outstanding(); n != 1 {
		t.Fatalf("%d acknowledgements outstanding with one message of the pack in its handler, want 1 (the pack)", n)
	}

	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	time.Sleep(100 * time.Millisecond) // Close has begun: the failed call's backoff sees it
	releaseOnce.Do(func() { close(release) })
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
	if st := sub.Stats(); st.Acked != 5 || st.Nacked != 1 || st.HandedBack != 0 {
		t.Fatalf("stats %+v before the next member", st)
	}

	// The next member resumes the session and gets the whole pack again.
	calls := newCallLog()
	next := subscribeT(t, sub, pattern, group, func(ctx context.Context, m bus.Message) error {
		calls.add(m)
		return consumer.handle(ctx, m)
	})
	if memberOf(t, next).clientID != member.clientID {
		t.Fatalf("the next member is %s, not %s: not the same session", memberOf(t, next).clientID, member.clientID)
	}
	waitUntil(t, 10*time.Second, func() bool { return calls.total() >= len(batch) }, func() string {
		return fmt.Sprintf("%d of %d redelivered", calls.total(), len(batch))
	})
	waitUntil(t, 5*time.Second, func() bool { return memberOf(t, next).acks.outstanding() == 0 }, func() string {
		return "the redelivered pack was not acknowledged"
	})
	time.Sleep(200 * time.Millisecond)
	for _, m := range batch {
		if got := calls.get(m.ID); !slices.Equal(got, []int{2}) {
			t.Errorf("message %s redelivered with attempts %v, want [2]", m.Data, got)
		}
	}
	consumer.mu.Lock()
	for _, m := range batch {
		if consumer.effects[m.ID] != 1 {
			t.Errorf("message %s applied %d times, want once", m.Data, consumer.effects[m.ID])
		}
	}
	consumer.mu.Unlock()
	if st := sub.Stats(); st.Redelivered != int64(len(batch)) || st.Duplicates != int64(len(batch)) {
		t.Errorf("stats %+v: want the %d messages counted redelivered, and seen twice by loss detection", st, len(batch))
	}
}

// One member handles a key's messages in order when they arrive in packs,
// in-place retries included: a pack's messages go to their keys' lanes in
// the pack's order, as single messages do.
func TestPackKeyOrder(t *testing.T) {
	server := serverURL(t)
	pub := newTestBus(t, packOptions(t, server, "-p", 16))
	subOpts := testOptions(t, server)
	subOpts.Concurrency = 4
	sub := newTestBus(t, subOpts)
	root := testRoot()
	const keys, perKey = 5, 60
	var mu sync.Mutex
	next := map[string]int{}
	var broken []string
	done := newRecorder()
	subscribeT(t, sub, root+".>", "ordered", func(_ context.Context, m bus.Message) error {
		seq, _ := strconv.Atoi(string(m.Data))
		if seq%7 == 3 && m.Attempt == 1 {
			return errors.New("fail once") // a retry must not let later messages overtake
		}
		mu.Lock()
		if seq != next[m.Key] {
			broken = append(broken, fmt.Sprintf("key %s: got %d, want %d", m.Key, seq, next[m.Key]))
		}
		next[m.Key] = seq + 1
		mu.Unlock()
		done.add(m)
		return nil
	})
	var batch []bus.Message
	for i := range perKey {
		for k := range keys {
			m := bus.NewMessage(root+".device.readings", []byte(strconv.Itoa(i)))
			m.Key = "d" + strconv.Itoa(k)
			batch = append(batch, m)
		}
		if len(batch) >= 50 {
			if err := pub.PublishBatch(context.Background(), batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	done.waitUnique(t, keys*perKey, 20*time.Second)
	mu.Lock()
	defer mu.Unlock()
	if len(broken) > 0 {
		t.Fatalf("order broken: %v", broken[:min(5, len(broken))])
	}
	if st := sub.Stats(); st.Received != keys*perKey || st.Gaps != 0 || st.HandedBack != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// RequireSubscribers applies to a pack as to one message: a pack the
// broker matched to no subscription fails, every message of it with
// ErrNoSubscribers (also bus.ErrOverloaded), while the batch's other
// PUBLISHes succeed; without RequireSubscribers it succeeds and Stats
// counts its messages in NoSubscribers.
func TestPackRequireSubscribers(t *testing.T) {
	server := serverURL(t)
	for _, require := range []bool{true, false} {
		t.Run(map[bool]string{true: "required", false: "not required"}[require], func(t *testing.T) {
			opts := packOptions(t, server, "-p", 8)
			opts.RequireSubscribers = require
			pub := newTestBus(t, opts)
			sub := newTestBus(t, testOptions(t, server))
			root := testRoot()
			r := newRecorder()
			subscribeT(t, sub, root+".heard.>", "g", r.handler)
			var batch []bus.Message
			for i := range 9 {
				subject := root + ".heard.x"
				if i >= 3 && i < 7 {
					subject = root + ".unheard.x" // a pack of 4 nobody receives
				}
				batch = append(batch, bus.NewMessage(subject, []byte(strconv.Itoa(i))))
			}
			err := pub.PublishBatch(context.Background(), batch)
			st := pub.Stats()
			if st.Published != 9 || st.NoSubscribers != 4 {
				t.Errorf("stats %+v, want 9 published, 4 unmatched", st)
			}
			if !require {
				if err != nil {
					t.Fatalf("PublishBatch: %v", err)
				}
				r.waitUnique(t, 5, 10*time.Second)
				return
			}
			var be *BatchError
			if !errors.As(err, &be) || len(be.Errs) != len(batch) {
				t.Fatalf("PublishBatch: %v, want a *BatchError for %d messages", err, len(batch))
			}
			for i, e := range be.Errs {
				unheard := i >= 3 && i < 7
				if unheard != (e != nil) || unheard && (!errors.Is(e, ErrNoSubscribers) || !errors.Is(e, bus.ErrOverloaded)) {
					t.Errorf("message %d: %v (unheard %v)", i, e, unheard)
				}
			}
			r.waitUnique(t, 5, 10*time.Second)
		})
	}
}

// Loss detection sees every packed message's own sequence number: a
// number skipped between packs (a message the broker lost) or inside a
// pack is reported as a gap of that message, a late one as reordered, a
// repeated one as a duplicate, exactly as for messages travelling alone.
func TestPackLossDetection(t *testing.T) {
	server := serverURL(t)
	gaps := &gapLog{}
	subOpts := testOptions(t, server)
	subOpts.OnGap = gaps.add
	sub := newTestBus(t, subOpts)
	pubOpts := packOptions(t, server, "-p", 8)
	pub := newTestBus(t, pubOpts)
	root := testRoot()
	r := newRecorder()
	subscribeT(t, sub, root+".>", "loss", r.handler)
	subject := root + ".gw.reading"
	batch := func() {
		var ms []bus.Message
		for i := range 4 {
			m := bus.NewMessage(subject, nil)
			m.Key = "k" // one stream: 1..4
			if i%2 == 1 {
				m.Key = "other" // another stream, without gaps
			}
			ms = append(ms, m)
		}
		if err := pub.PublishBatch(context.Background(), ms); err != nil {
			t.Fatal(err)
		}
	}
	batch() // k: 1, 2
	pub.pub.mu.Lock()
	lost := pub.pub.nextSeq(subject, "k") // k: 3, never sent: lost on the way
	src := pub.pub.src
	pub.pub.mu.Unlock()
	batch() // k: 4, 5
	r.waitUnique(t, 8, 10*time.Second)
	waitUntil(t, 5*time.Second, func() bool { return sub.Stats().Received == 8 }, func() string { return fmt.Sprintf("%+v", sub.Stats()) })
	want := Gap{Group: "loss", Pattern: root + ".>", Source: src, Subject: subject, Key: "k", From: lost, To: lost}
	if g := gaps.snapshot(); len(g) != 1 || g[0] != want || lost != 3 {
		t.Fatalf("gaps %+v, want %+v", g, want)
	}
	if st := sub.Stats(); st.Gaps != 1 || st.Lost != 1 || st.Received != 8 || st.Duplicates != 0 {
		t.Fatalf("stats %+v, want 1 gap of 1 in 8 received", st)
	}

	// Inside packs, as a gateway numbering its own devices would send
	// them: 1 2 4 | 3 5 5 | 7 6.
	dev := rawClient(t, server)
	rawPack := func(seqs ...uint64) {
		var ms []bus.Message
		for range seqs {
			ms = append(ms, bus.NewMessage(root+".dev.reading", nil))
		}
		for i := range ms {
			ms[i].Key = "dev-1"
		}
		count, payload := encodeTestPack(t, ms, "dev-1@boot", seqs, time.Now())
		if code := rawPublish(t, dev, Topic(root+".dev.reading"), paho.UserProperties{{Key: PropPack, Value: count}}, payload); code >= 0x80 {
			t.Fatalf("raw pack refused: %#x", code)
		}
	}
	base := sub.Stats()
	rawPack(1, 2, 4)
	rawPack(3, 5, 5)
	rawPack(7, 6)
	r.waitUnique(t, 16, 10*time.Second)
	waitUntil(t, 5*time.Second, func() bool { return sub.Stats().Received-base.Received == 8 }, func() string { return fmt.Sprintf("%+v", sub.Stats()) })
	st := sub.Stats()
	if st.Gaps-base.Gaps != 2 || st.Lost-base.Lost != 0 || st.Reordered-base.Reordered != 2 || st.Duplicates-base.Duplicates != 1 {
		t.Fatalf("stats %+v after %+v: want 2 gaps (3; 6), both filled late (2 reordered, none lost), 1 duplicate", st, base)
	}
	g := gaps.snapshot()
	if len(g) != 3 || g[1].Source != "dev-1@boot" || g[1].From != 3 || g[1].To != 3 || g[2].From != 6 || g[2].To != 6 {
		t.Fatalf("gaps %+v, want message 3 then message 6 of dev-1@boot", g)
	}
}

// A broker that drops messages drops whole packs, and the members see
// it: with Mosquitto's queue for a slow member limited to a few packs,
// some packs are acknowledged to the publisher and discarded, and loss
// detection reports exactly the messages never delivered, in gaps that
// begin and end on pack boundaries.
func TestPackLossDetectionDroppedPacks(t *testing.T) {
	br := startBroker(t, "max_queued_messages 3\nmax_inflight_messages 1\n")
	gaps := &gapLog{}
	subOpts := testOptions(t, br.url())
	subOpts.ClientID += "-s"
	subOpts.Concurrency, subOpts.ReceiveMaximum, subOpts.OnGap = 1, 1, gaps.add
	sub := newTestBus(t, subOpts)
	pub := newTestBus(t, packOptions(t, br.url(), "-p", 8))
	root := testRoot()
	subject := root + ".gw.reading"
	var mu sync.Mutex
	handled := map[int]bool{}
	subscribeT(t, sub, root+".>", "slow", func(_ context.Context, m bus.Message) error {
		pos, _ := strconv.Atoi(string(m.Data))
		mu.Lock()
		handled[pos] = true
		mu.Unlock()
		time.Sleep(2 * time.Millisecond) // 16 ms a pack
		return nil
	})
	// One stream: the payload is the sequence number. A pack every 2 ms
	// or so: the broker's queue fills, then takes a pack each time the
	// member has handled one, dropping those in between.
	const packs = 60
	pos := 0
	for range packs {
		var ms []bus.Message
		for range 8 {
			pos++
			m := bus.NewMessage(subject, []byte(strconv.Itoa(pos)))
			m.Key = "k"
			ms = append(ms, m)
		}
		if err := pub.PublishBatch(context.Background(), ms); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	// Markers, until one arrives: every message missing was seen missing.
	for {
		pos++
		m := bus.NewMessage(subject, []byte(strconv.Itoa(pos)))
		m.Key = "k"
		publishT(t, pub, m)
		deadline := time.Now().Add(time.Second)
		arrived := false
		for !arrived && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
			mu.Lock()
			arrived = handled[pos]
			mu.Unlock()
		}
		if arrived {
			break
		}
		if pos > packs*8+20 {
			t.Fatal("no marker arrived")
		}
	}
	mu.Lock()
	defer mu.Unlock()
	st := sub.Stats()
	t.Logf("published %d, handled %d, stats %+v, %d gaps", pos, len(handled), st, len(gaps.snapshot()))
	if st.Lost == 0 {
		t.Fatalf("the broker's queue of 3 did not overflow, or loss went unnoticed: %+v", st)
	}
	if st.Received != int64(len(handled)) || st.Received+st.Lost != int64(pos) || st.Duplicates != 0 || st.Reordered != 0 {
		t.Fatalf("Received %d + Lost %d != %d published, or duplicates/reordering: %+v", st.Received, st.Lost, pos, st)
	}
	inGap := map[int]bool{}
	within := 0 // gaps between packs received
	for _, g := range gaps.snapshot() {
		for s := g.From; s <= g.To; s++ {
			inGap[int(s)] = true
		}
		if g.To <= packs*8 {
			within++
			if g.From%8 != 1 || g.To%8 != 0 {
				t.Errorf("gap %d–%d does not fall on pack boundaries: not whole packs", g.From, g.To)
			}
		}
	}
	if within < 2 {
		t.Errorf("%d gaps between received packs: too few to tell whole packs were dropped (gaps %+v)", within, gaps.snapshot())
	}
	for p := 1; p <= pos; p++ {
		if handled[p] == inGap[p] {
			t.Fatalf("message %d: handled %v, in a gap %v", p, handled[p], inGap[p])
		}
	}
}

// A malformed pack neither crashes nor wedges the member: like any
// message that cannot be decoded it is skipped, counted in Stats.Skipped
// and acknowledged (so not delivered again), and the member goes on
// handling what follows. A pack on the retry topic (hand-backs are never
// packs) is malformed too.
func TestPackMalformedReceived(t *testing.T) {
	server := serverURL(t)
	sub := newTestBus(t, testOptions(t, server))
	root := testRoot()
	pattern, group := root+".>", "robust"
	r := newRecorder()
	s := subscribeT(t, sub, pattern, group, r.handler)
	dev := rawClient(t, server)
	topic := Topic(root + ".dev.reading")
	ms := []bus.Message{bus.NewMessage(root+".dev.reading", []byte("a")), bus.NewMessage(root+".dev.reading", []byte("b"))}
	count, good := encodeTestPack(t, ms, "dev@1", []uint64{1, 2}, time.Now())
	prop := func(v string) paho.UserProperties { return paho.UserProperties{{Key: PropPack, Value: v}} }

	rawPublish(t, dev, topic, prop("2"), []byte("garbage"))
	rawPublish(t, dev, topic, prop(count), append([]byte{9}, good[1:]...)) // unknown version
	rawPublish(t, dev, topic, prop("3"), good)                             // count mismatch
	rawPublish(t, dev, topic, prop(count), good[:len(good)-1])             // truncated
	rawPublish(t, dev, RetryTopic(group, pattern), prop(count), good)      // a pack handed back
	rawPublish(t, dev, topic, prop(count), good)
	plain := bus.NewMessage(root+".dev.reading", []byte("plain"))
	publishT(t, sub, plain)

	r.waitUnique(t, 3, 10*time.Second)
	member := memberOf(t, s)
	waitUntil(t, 5*time.Second, func() bool { return member.acks.outstanding() == 0 && sub.Stats().Skipped >= 5 }, func() string {
		return fmt.Sprintf("%d acknowledgements outstanding, stats %+v", member.acks.outstanding(), sub.Stats())
	})
	if st := sub.Stats(); st.Skipped != 5 || st.Acked != 3 {
		t.Fatalf("stats %+v, want 5 skipped, 3 handled", st)
	}
	for _, m := range append(ms, plain) {
		if !r.has(m.ID) {
			t.Errorf("message %s not delivered", m.Data)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	again := newRecorder()
	subscribeT(t, sub, pattern, group, again.handler)
	time.Sleep(500 * time.Millisecond)
	if n := len(again.snapshot()); n != 0 {
		t.Fatalf("%d messages delivered again: the malformed packs were not acknowledged", n)
	}
}
