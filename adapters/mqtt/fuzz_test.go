package mqtt

import (
	"bytes"
	"hash/maphash"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"

	"github.com/govkit/govkit/bus"
)

const (
	fuzzGroup   = "g"
	fuzzPattern = "fz.>"
)

// fuzzSubscription is a member of group fuzzGroup on fuzzPattern with no
// connection and no handler goroutines: receive puts what it delivers in
// the one lane, for the test to take.
func fuzzSubscription(t *testing.T) *Subscription {
	o, _, err := Options{Servers: []string{"tcp://127.0.0.1:1"}, ClientID: "fz", Concurrency: 1}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	b := &Bus{opts: o}
	key := groupKey{fuzzGroup, fuzzPattern}
	return &Subscription{
		b: b, key: key, retryTopic: RetryTopic(fuzzGroup, fuzzPattern), sess: newSessionState(),
		tr:    newTracker(fuzzGroup, fuzzPattern, o.MaxStreams, nil, &b.loss),
		lanes: []chan *delivery{make(chan *delivery, 1)}, stop: make(chan struct{}), seed: maphash.MakeSeed(),
	}
}

// fuzzProps turns "key\x00value\x00key\x00value…" into user properties.
// MQTT strings cannot hold NUL, so the separator costs no coverage.
func fuzzProps(s string) []packets.User {
	if s == "" {
		return nil
	}
	f := strings.Split(s, "\x00")
	var u []packets.User
	for i := 0; i < len(f); i += 2 {
		p := packets.User{Key: f[i]}
		if i+1 < len(f) {
			p.Value = f[i+1]
		}
		u = append(u, p)
	}
	return u
}

func joinProps(u paho.UserProperties) string {
	var parts []string
	for _, p := range u {
		parts = append(parts, p.Key, p.Value)
	}
	return strings.Join(parts, "\x00")
}

// FuzzReceive feeds PUBLISH packets as a foreign device might send them
// (any topic, any user properties, any payload, DUP and QoS 0 or 1) through
// the wire encoding and a subscription's receive path. It must never
// panic; it must acknowledge (complete) everything it does not deliver, or
// the member's later acknowledgements would be held up behind it; what it
// delivers must be a valid message on a subject its pattern matches (the
// topic's subject, or for the group's own retry topic a valid original
// subject); and what it delivers must survive encode and decode unchanged.
// `go test` runs the seeds; `go test -run '^$' -fuzz FuzzReceive` explores.
func FuzzReceive(f *testing.F) {
	full := bus.Message{ID: "0190c6a2-0000-7000-8000-000000000001", Subject: "fz.500107.incident", Key: "d-17",
		Time:    time.Date(2024, 3, 5, 18, 35, 0, 123456789, time.FixedZone("", 8*3600)),
		Headers: map[string]string{"trace": "abc", "lines": "a\nb", "bad": "\xff"}}
	valid := joinProps(encode(full, meta{src: "gw-3@xyz", seq: 412}))
	handBack := joinProps(encode(full, meta{attempt: 4, subject: "fz.500107.incident"}))
	retry := "_govkit/retry/" + fuzzGroup + "/" + patternHash(fuzzPattern)
	for _, s := range []struct {
		topic, props string
		payload      []byte
		dup, qos0    bool
	}{
		{"fz/500107/incident", valid, []byte(`{"a":1}`), false, false},
		{"fz/500107/incident", valid, nil, true, false},
		{"fz/a", "id\x00x\x00key\x00k\x00time\x002024-03-05T18:35:00+08:00\x00src\x00dev\x00seq\x007\x00h:fw\x001.2", []byte("1"), false, true},
		{"fz/a", "subject\x00other.secret", nil, false, false}, // a relabelling attempt
		{"fz/a", "hq:x\x00\"a\\nb\"\x00hq:y\x00not quoted\x00h:\x00\x00hq:\x00\"\"", nil, false, false},
		{retry, handBack, []byte("x"), false, false},
		{retry, "subject\x00not a subject", nil, false, false},
		{retry, "attempt\x00-3", nil, true, false},
		{"_govkit/retry/other/x", valid, nil, false, false},
		{"fz", valid, nil, false, false}, // "#" matches the parent level
		{"", "", nil, false, false},
		{"fz/a.b", "", nil, false, false},
		{"fz//a", "", nil, false, false},
		{"other/x", valid, nil, false, false},
		{"fz/a", PropMeta + "\x00g1", nil, false, false},
		{"fz/a", PropMeta + "\x00g10:0:0:0:0:0:0:", nil, false, false},
		{"fz/a", PropMeta + "\x00g199999999:x", nil, false, false},
		{"fz/a", PropMeta + "\x00g1-1:", nil, false, false},
		{"fz/a", PropMeta + "\x00g13:abc3:def5:xxxxx0:20:99999999999999999999990:0:", nil, false, false},
		{"fz/a", PropMeta + "\x00g11:a0:5:bogus0:1:50:4:fz.x", nil, false, false},
		{"fz/a", "seq\x0018446744073709551615\x00src\x00s", nil, false, false},
		{"fz/a", "seq\x0018446744073709551616\x00time\x00garbage\x00attempt\x002147483648", nil, false, false},
	} {
		f.Add(s.topic, s.props, s.payload, s.dup, s.qos0)
	}

	f.Fuzz(func(t *testing.T, topic, props string, payload []byte, dup, qos0 bool) {
		qos := byte(1)
		if qos0 {
			qos = 0
		}
		out := &packets.Publish{Topic: topic, QoS: qos, Duplicate: dup && !qos0, Payload: payload,
			Properties: &packets.Properties{User: fuzzProps(props)}}
		if qos > 0 {
			out.PacketID = 1
		}
		var wire bytes.Buffer
		if _, err := out.WriteTo(&wire); err != nil {
			t.Skip(err) // not a packet paho can write, so not one that can arrive
		}
		cp, err := packets.ReadPacket(&wire)
		if err != nil {
			t.Skip(err)
		}
		in, ok := cp.Content.(*packets.Publish)
		if !ok {
			t.Fatalf("read back %T", cp.Content)
		}
		p := paho.PublishFromPacketPublish(in)

		s := fuzzSubscription(t)
		before := s.b.Stats()
		if _, err := s.receive(paho.PublishReceived{Packet: p}); err != nil {
			t.Fatalf("receive: %v", err)
		}
		var d *delivery
		select {
		case d = <-s.lanes[0]:
		default:
		}
		after := s.b.Stats()
		if d == nil {
			if n := s.acks.outstanding(); n != 0 {
				t.Fatalf("a message not delivered was left unacknowledged (%d outstanding)", n)
			}
			if after.Received != before.Received {
				t.Fatalf("a message not delivered was counted as received")
			}
			return
		}
		if n := s.acks.outstanding(); n != int(qos) {
			t.Fatalf("%d acknowledgements outstanding for a delivered QoS %d message", n, qos)
		}
		m := d.r.msg
		retry := p.Topic == s.retryTopic
		if err := bus.ValidateSubject(m.Subject); err != nil {
			t.Fatalf("delivered an invalid subject: %v", err)
		}
		if !retry {
			want, err := Subject(p.Topic)
			if err != nil || m.Subject != want || !bus.Match(fuzzPattern, m.Subject) {
				t.Fatalf("topic %q delivered as subject %q (%v)", p.Topic, m.Subject, err)
			}
		}
		if m.ID == "" || m.Time.IsZero() || !bytes.Equal(m.Data, payload) || d.attempt < 1 || (p.Duplicate() && d.attempt < 2) {
			t.Fatalf("delivered %+v, attempt %d (DUP %v)", m, d.attempt, p.Duplicate())
		}
		if numbered := !retry && d.r.seq > 0; (after.Received-before.Received == 1) != numbered {
			t.Fatalf("Received went from %d to %d for seq %d (retry %v)", before.Received, after.Received, d.r.seq, retry)
		}

		// What was accepted re-encodes, and decodes to the same.
		x := meta{src: d.r.src, seq: d.r.seq, attempt: d.r.attempt, subject: d.r.subject}
		props2 := encode(m, x)
		topicSubject := m.Subject
		if retry {
			topicSubject = ""
		}
		r2 := decode(&paho.Publish{Topic: p.Topic, Payload: p.Payload, Properties: &paho.PublishProperties{User: props2}},
			topicSubject, time.Time{})
		if !retry {
			r2.msg.Subject = topicSubject
		}
		m2 := r2.msg
		if m2.ID != m.ID || m2.Key != m.Key || m2.Subject != m.Subject || !m2.Time.Equal(m.Time) ||
			!maps.Equal(m2.Headers, m.Headers) || !bytes.Equal(m2.Data, m.Data) ||
			r2.src != d.r.src || r2.seq != d.r.seq || r2.attempt != d.r.attempt || r2.subject != d.r.subject {
			t.Fatalf("re-encoding changed the message:\n got %+v %+v\nwant %+v %+v", m2, r2, m, d.r)
		}
		// Header properties can travel whenever the header's name can:
		// values MQTT cannot carry verbatim are quoted (the hand-back path
		// sends them on to the broker).
		for _, u := range props2[1:] {
			name, ok := strings.CutPrefix(u.Key, HeaderQuotedPrefix)
			if !ok {
				name = strings.TrimPrefix(u.Key, HeaderPrefix)
			}
			if mqttString(HeaderQuotedPrefix+name) && !mqttString(u.Key) || len(u.Value) <= 65535 && !mqttString(u.Value) {
				t.Fatalf("header property %q=%q cannot travel", u.Key, u.Value)
			}
		}
	})
}
