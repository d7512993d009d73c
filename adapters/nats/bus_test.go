package nats_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/govkit/govkit/adapters/nats"
	"github.com/govkit/govkit/adapters/nats/natstest"
	"github.com/govkit/govkit/bus"
)

// A street's report reaches the street, its district and the city, each a
// group of its own, and not the neighbouring district.
func TestJurisdiction(t *testing.T) {
	b := natstest.Open(t, nats.Options{})
	street, district, city, neighbour := newRecorder(), newRecorder(), newRecorder(), newRecorder()
	subscribe(t, b, "gov.500000.500107.500107001.>", "street-500107001", street.handler)
	subscribe(t, b, "gov.500000.500107.>", "district-500107", district.handler)
	subscribe(t, b, "gov.500000.>", "city-500000", city.handler)
	subscribe(t, b, "gov.500000.500108.>", "district-500108", neighbour.handler)

	m := bus.NewMessage("gov.500000.500107.500107001.incident.reported", []byte(`{"category":"construction-waste"}`))
	publish(t, b, m)
	for _, r := range []*recorder{street, district, city} {
		r.wait(t, 1, 10*time.Second)
	}
	time.Sleep(300 * time.Millisecond)
	for name, r := range map[string]*recorder{"street": street, "district": district, "city": city} {
		got := r.snapshot()
		if len(got) != 1 || got[0].ID != m.ID || got[0].Subject != m.Subject {
			t.Errorf("%s received %+v, want exactly the report", name, got)
		}
	}
	if n := len(neighbour.snapshot()); n != 0 {
		t.Errorf("the neighbouring district received %d messages", n)
	}
}

// Two buses (two processes, in effect) in one group keep each key's order,
// with failures redelivered before later messages of their key.
func TestKeyOrderAcrossProcesses(t *testing.T) {
	stream := natstest.StreamName()
	opts := nats.Options{Stream: stream, Backoff: 10 * time.Millisecond}
	b1 := natstest.Open(t, opts)
	b2 := natstest.Open(t, opts)

	const keys, perKey = 6, 30
	var mu sync.Mutex
	next := map[string]int{}
	var bad []string
	perMember := [2]int{}
	done := newRecorder()
	handler := func(member int) bus.Handler {
		return func(ctx context.Context, m bus.Message) error {
			seq, _ := strconv.Atoi(string(m.Data))
			if seq%5 == 2 && m.Attempt == 1 {
				return errors.New("fail once")
			}
			time.Sleep(time.Duration(seq%3) * time.Millisecond)
			mu.Lock()
			if seq != next[m.Key] {
				bad = append(bad, fmt.Sprintf("key %s: got %d, want %d", m.Key, seq, next[m.Key]))
			}
			next[m.Key] = seq + 1
			perMember[member]++
			mu.Unlock()
			done.add(m)
			return nil
		}
	}
	subscribe(t, b1, "gov.device.>", "ordered", handler(0))
	subscribe(t, b2, "gov.device.>", "ordered", handler(1))

	var batch []bus.Message
	for i := range perKey {
		for k := range keys {
			m := bus.NewMessage("gov.device.d"+strconv.Itoa(k)+".reading", []byte(strconv.Itoa(i)))
			m.Key = "d" + strconv.Itoa(k)
			batch = append(batch, m)
		}
	}
	if err := b1.PublishBatch(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	done.wait(t, keys*perKey, 30*time.Second)
	mu.Lock()
	defer mu.Unlock()
	if len(bad) > 0 {
		t.Fatalf("order broken: %v", bad[:min(5, len(bad))])
	}
	if perMember[0] == 0 || perMember[1] == 0 {
		t.Fatalf("one member did all the work: %v", perMember)
	}
}

// A message that keeps failing is dead-lettered after MaxDeliver deliveries
// with its history in headers, and stops blocking its key.
func TestDeadLetterSubject(t *testing.T) {
	b := natstest.Open(t, nats.Options{DeadLetterSubject: "gov.dead-letter", MaxDeliver: 3, Backoff: 10 * time.Millisecond})
	dead := newRecorder()
	subscribe(t, b, "gov.dead-letter", "dlq", dead.handler)
	var mu sync.Mutex
	var seen []string
	subscribe(t, b, "gov.work.>", "worker", func(ctx context.Context, m bus.Message) error {
		mu.Lock()
		seen = append(seen, fmt.Sprintf("%s#%d", m.Data, m.Attempt))
		mu.Unlock()
		if string(m.Data) == "poison" {
			return errors.New("cannot parse")
		}
		return nil
	})
	for _, data := range []string{"poison", "after"} {
		m := bus.NewMessage("gov.work.case", []byte(data))
		m.Key = "case-1"
		m.Headers = map[string]string{"trace": "t1"}
		publish(t, b, m)
	}
	dead.wait(t, 1, 10*time.Second)
	got := dead.snapshot()[0]
	want := map[string]string{
		bus.HeaderDeadLetterSubject:  "gov.work.case",
		bus.HeaderDeadLetterError:    "cannot parse",
		bus.HeaderDeadLetterAttempts: "3",
		nats.HeaderDeadLetterGroup:   "worker",
		"trace":                      "t1",
	}
	for k, v := range want {
		if got.Headers[k] != v {
			t.Errorf("dead letter header %q = %q, want %q", k, got.Headers[k], v)
		}
	}
	if string(got.Data) != "poison" || got.Key != "case-1" {
		t.Errorf("dead letter %+v", got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		s := fmt.Sprint(seen)
		mu.Unlock()
		if s == "[poison#1 poison#2 poison#3 after#1]" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deliveries %s, want the poison three times then the next message of its key", s)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st := b.Stats(); st.DeadLettered != 1 || st.Nacked != 3 {
		t.Errorf("stats %+v, want 1 dead-lettered and 3 nacked", st)
	}
}

// bus.DeadLetter re-publishes a message under its own ID on another subject;
// the server must not take it for a duplicate.
func TestDeadLetterMiddleware(t *testing.T) {
	b := natstest.Open(t, nats.Options{Backoff: 10 * time.Millisecond})
	dead := newRecorder()
	subscribe(t, b, "gov.dead", "dlq", dead.handler)
	failing := func(context.Context, bus.Message) error { return errors.New("always") }
	subscribe(t, b, "gov.work", "worker", bus.Chain(failing, bus.DeadLetter(b, "gov.dead", 2)))
	m := bus.NewMessage("gov.work", []byte("x"))
	publish(t, b, m)
	dead.wait(t, 1, 10*time.Second)
	if got := dead.snapshot()[0]; got.ID != m.ID || got.Headers[bus.HeaderDeadLetterSubject] != "gov.work" {
		t.Fatalf("dead letter %+v", got)
	}
}

// Re-publishing a message (same subject and ID) is absorbed by the server.
func TestPublishDeduplicates(t *testing.T) {
	b := natstest.Open(t, nats.Options{})
	r := newRecorder()
	subscribe(t, b, "gov.>", "g", r.handler)
	m := bus.NewMessage("gov.x", []byte("once"))
	for range 3 {
		publish(t, b, m)
	}
	if err := b.PublishBatch(context.Background(), []bus.Message{m, m}); err != nil {
		t.Fatal(err)
	}
	r.wait(t, 1, 10*time.Second)
	time.Sleep(300 * time.Millisecond)
	if n := len(r.snapshot()); n != 1 {
		t.Fatalf("%d deliveries, want 1", n)
	}
	if st := b.Stats(); st.Published != 5 {
		t.Fatalf("Published %d, want 5 acknowledgements", st.Published)
	}
}

// A full stream refuses with ErrOverloaded instead of discarding.
func TestStreamFullIsOverload(t *testing.T) {
	b := natstest.Open(t, nats.Options{MaxMsgs: 3})
	s := subscribe(t, b, "gov.>", "slow", func(context.Context, bus.Message) error { return nil })
	if err := s.Close(); err != nil { // the group stays and keeps what it has not read
		t.Fatal(err)
	}
	for i := range 3 {
		publish(t, b, bus.NewMessage("gov.x", []byte(strconv.Itoa(i))))
	}
	err := b.Publish(context.Background(), bus.NewMessage("gov.x", nil))
	if !errors.Is(err, bus.ErrOverloaded) {
		t.Fatalf("Publish to a full stream: %v, want ErrOverloaded", err)
	}
	err = b.PublishBatch(context.Background(), []bus.Message{bus.NewMessage("gov.x", nil)})
	if !errors.Is(err, bus.ErrOverloaded) {
		t.Fatalf("PublishBatch to a full stream: %v, want ErrOverloaded", err)
	}
}

func TestSubjectsOutsideTheStream(t *testing.T) {
	b := natstest.Open(t, nats.Options{Subjects: []string{"gov.>", "alarm.*.raised"}})
	ctx := context.Background()
	if err := b.Publish(ctx, bus.NewMessage("other.x", nil)); !errors.Is(err, bus.ErrInvalidSubject) {
		t.Errorf("Publish outside Subjects: %v", err)
	}
	if err := b.Publish(ctx, bus.NewMessage("alarm.a.b.raised", nil)); !errors.Is(err, bus.ErrInvalidSubject) {
		t.Errorf("Publish outside Subjects: %v", err)
	}
	nop := func(context.Context, bus.Message) error { return nil }
	for _, p := range []string{">", "other.>", "*.x", "alarm.>", "alarm.*.*"} {
		if _, err := b.Subscribe(ctx, p, "g", nop); !errors.Is(err, bus.ErrInvalidSubject) {
			t.Errorf("Subscribe(%q): %v, want ErrInvalidSubject", p, err)
		}
	}
	r := newRecorder()
	subscribe(t, b, "alarm.*.raised", "alarms", r.handler)
	subscribe(t, b, "gov.*.x", "x", nop)
	publish(t, b, bus.NewMessage("alarm.smoke.raised", nil))
	r.wait(t, 1, 10*time.Second)
}

// Everything a message carries comes back, including header values NATS
// cannot carry verbatim.
func TestFieldsRoundTrip(t *testing.T) {
	b := natstest.Open(t, nats.Options{})
	r := newRecorder()
	subscribe(t, b, "gov.>", "g", r.handler)
	m := bus.NewMessage("gov.500000.x", []byte{0, 1, 2, 0xff})
	m.Key = "room 1203, 南岸区"
	m.Time = time.Date(2024, 3, 5, 18, 35, 0, 123456789, time.FixedZone("CST", 8*3600))
	m.Headers = map[string]string{
		"actor": "video-ai", "lead": " x", "trail": "x ", "lines": "a\nb\r\nc", "tab": "a\tb",
		"empty": "", "unicode": "重庆", "Mixed-Case": "v", "quote": `"q"`,
	}
	publish(t, b, m)
	r.wait(t, 1, 10*time.Second)
	got := r.snapshot()[0]
	if got.ID != m.ID || got.Key != m.Key || string(got.Data) != string(m.Data) || !got.Time.Equal(m.Time) {
		t.Fatalf("got %+v, sent %+v", got, m)
	}
	if _, off := got.Time.Zone(); off != 8*3600 {
		t.Errorf("time zone offset %d, want +8h", off)
	}
	if len(got.Headers) != len(m.Headers) {
		t.Errorf("headers %q, want %q", got.Headers, m.Headers)
	}
	for k, v := range m.Headers {
		if got.Headers[k] != v {
			t.Errorf("header %q = %q, want %q", k, got.Headers[k], v)
		}
	}

	ctx := context.Background()
	for name, bad := range map[string]bus.Message{
		"header name with space": {ID: "1", Subject: "gov.x", Headers: map[string]string{"a b": "v"}},
		"header name with colon": {ID: "1", Subject: "gov.x", Headers: map[string]string{"a:b": "v"}},
		"empty header name":      {ID: "1", Subject: "gov.x", Headers: map[string]string{"": "v"}},
		"key with line break":    {ID: "1", Subject: "gov.x", Key: "a\nb"},
		"id with line break":     {ID: "1\r\n2", Subject: "gov.x"},
	} {
		if err := b.Publish(ctx, bad); !errors.Is(err, bus.ErrInvalidMessage) {
			t.Errorf("%s: %v, want ErrInvalidMessage", name, err)
		}
	}
}

// A handler that runs past AckWait keeps its message: the bus signals
// progress, so the server does not hand it to anyone else.
func TestLongHandlerKeepsItsMessage(t *testing.T) {
	b := natstest.Open(t, nats.Options{AckWait: 200 * time.Millisecond})
	r := newRecorder()
	slow := func(ctx context.Context, m bus.Message) error {
		r.add(m)
		time.Sleep(900 * time.Millisecond)
		return nil
	}
	subscribe(t, b, "gov.>", "slow", slow)
	subscribe(t, b, "gov.>", "slow", slow)
	publish(t, b, bus.NewMessage("gov.x", nil))
	r.wait(t, 1, 10*time.Second)
	time.Sleep(1500 * time.Millisecond)
	if got := r.snapshot(); len(got) != 1 || got[0].Attempt != 1 {
		t.Fatalf("deliveries %+v, want one", got)
	}
}

func TestPanicRedelivers(t *testing.T) {
	b := natstest.Open(t, nats.Options{Backoff: 10 * time.Millisecond})
	r := newRecorder()
	subscribe(t, b, "gov.>", "g", func(ctx context.Context, m bus.Message) error {
		if m.Attempt == 1 {
			panic("boom")
		}
		r.add(m)
		return nil
	})
	publish(t, b, bus.NewMessage("gov.x", nil))
	r.wait(t, 1, 10*time.Second)
	if got := r.snapshot()[0]; got.Attempt != 2 {
		t.Fatalf("attempt %d, want 2", got.Attempt)
	}
	// The handler records before the bus counts its answer.
	deadline := time.Now().Add(5 * time.Second)
	for st := b.Stats(); st.Acked != 1 && time.Now().Before(deadline); st = b.Stats() {
		time.Sleep(time.Millisecond)
	}
	if st := b.Stats(); st.Panics != 1 || st.Nacked != 1 || st.Acked != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// Any number of processes may open a stream and join a group at once.
func TestConcurrentOpenAndSubscribe(t *testing.T) {
	url := natstest.URL(t)
	stream := natstest.StreamName()
	t.Cleanup(func() { _ = natstest.DeleteStream(url, stream) })
	const n = 6
	buses := make([]*nats.Bus, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			buses[i], errs[i] = nats.Open(context.Background(), nats.Options{URL: url, Stream: stream})
		})
	}
	wg.Wait()
	r := newRecorder()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Open %d: %v", i, errs[i])
		}
		t.Cleanup(func() { _ = buses[i].Close() })
	}
	for i := range n {
		wg.Go(func() {
			_, errs[i] = buses[i].Subscribe(context.Background(), "gov.>", "shared", r.handler)
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Subscribe %d: %v", i, errs[i])
		}
	}
	for i := range 50 {
		publish(t, buses[i%n], bus.NewMessage("gov.x", nil))
	}
	r.wait(t, 50, 10*time.Second)
	time.Sleep(200 * time.Millisecond)
	if len(r.snapshot()) != 50 {
		t.Fatalf("%d deliveries, want 50", len(r.snapshot()))
	}
}

func TestIncompatibleStream(t *testing.T) {
	url := natstest.URL(t)
	ctx := context.Background()
	stream := natstest.StreamName()
	t.Cleanup(func() { _ = natstest.DeleteStream(url, stream) })
	b, err := nats.Open(ctx, nats.Options{URL: url, Stream: stream, KeyLanes: 4})
	if err != nil {
		t.Fatal(err)
	}
	if b.KeyLanes() != 4 {
		t.Fatalf("KeyLanes %d", b.KeyLanes())
	}
	_ = b.Close()
	if _, err := nats.Open(ctx, nats.Options{URL: url, Stream: stream, KeyLanes: 8}); !errors.Is(err, nats.ErrIncompatibleStream) {
		t.Fatalf("Open with other key lanes: %v", err)
	}
	b, err = nats.Open(ctx, nats.Options{URL: url, Stream: stream, Subjects: []string{"alarm.>"}})
	if err != nil {
		t.Fatal(err)
	}
	if b.KeyLanes() != 4 {
		t.Fatalf("KeyLanes %d, want the stream's 4", b.KeyLanes())
	}
	_ = b.Close()

	// A stream someone else made is left alone.
	nc, err := natsgo.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	foreign := natstest.StreamName()
	t.Cleanup(func() { _ = natstest.DeleteStream(url, foreign) })
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: foreign, Subjects: []string{foreign + ".>"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := nats.Open(ctx, nats.Options{URL: url, Stream: foreign}); !errors.Is(err, nats.ErrIncompatibleStream) {
		t.Fatalf("Open on a foreign stream: %v", err)
	}

	// A foreign stream that already takes a new stream's subjects makes
	// Open fail with the server's answer, after its retries.
	claimed := natstest.StreamName()
	squatter := natstest.StreamName()
	t.Cleanup(func() { _ = natstest.DeleteStream(url, squatter) })
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: squatter, Subjects: []string{claimed + ".>"}}); err != nil {
		t.Fatal(err)
	}
	_, err = nats.Open(ctx, nats.Options{URL: url, Stream: claimed})
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode != 10065 {
		t.Fatalf("Open over a foreign stream's subjects: %v, want the subject-overlap API error", err)
	}
}

func TestOpenRejectsBadOptions(t *testing.T) {
	ctx := context.Background()
	for name, o := range map[string]nats.Options{
		"stream with dot":             {Stream: "a.b"},
		"bad subject":                 {Subjects: []string{"gov..x"}},
		"negative ack wait":           {AckWait: -1},
		"tiny ack wait":               {AckWait: time.Millisecond},
		"too many lanes":              {KeyLanes: 65},
		"replicas":                    {Replicas: 7},
		"storage":                     {Storage: 9},
		"max deliver, no dead letter": {MaxDeliver: 3},
		"dead letter outside":         {DeadLetterSubject: "other.dead"},
		"dead letter pattern":         {DeadLetterSubject: "gov.>"},
	} {
		if _, err := nats.Open(ctx, o); !errors.Is(err, nats.ErrInvalidOptions) {
			t.Errorf("%s: %v, want ErrInvalidOptions", name, err)
		}
	}
}

func TestOpenWithoutServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	if _, err := nats.Open(context.Background(), nats.Options{URL: "nats://" + addr}); err == nil {
		t.Fatal("Open without a server succeeded")
	}
}
