package mqtt

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"
	"maps"
	"strconv"
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
// the one lane (room for the largest pack), for the test to take.
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
		lanes: []chan *delivery{make(chan *delivery, MaxPackSize)}, stop: make(chan struct{}), seed: maphash.MakeSeed(),
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
		if _, ok := packProperty(p); ok {
			t.Skip("a pack: FuzzPack's") // its invariants are per message, not per PUBLISH
		}

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

// FuzzPack feeds packs, as a publisher with a bug, an older or newer
// version or an attacker might send them (any PropPack value, any
// payload, DUP or not), through the pack decoder and a subscription's
// receive path. It must never panic. A pack the decoder refuses is skipped
// (Stats.Skipped), acknowledged at once and counted nowhere else. A pack
// it accepts has exactly the announced number of messages, each valid and
// able to travel alone (it may be handed back), each re-encoding to
// itself; receive delivers them all, in order, with Attempt 1 (2 if
// DUP), numbered for loss detection; and the pack stays unacknowledged
// until the last of them is handled.
// `go test` runs the seeds; `go test -run '^$' -fuzz FuzzPack` explores.
func FuzzPack(f *testing.F) {
	const subject = "fz.500107.reading"
	now := time.Date(2024, 3, 5, 18, 35, 0, 123456789, time.FixedZone("", 8*3600))
	full := packTestMessages(subject)
	count, payload := encodeTestPack(f, full, "gw-3@xyz", []uint64{1, 2, 3, 4, 5, 6, 7}, now)
	f.Add(count, payload, false)
	f.Add(count, payload, true)
	one, onePayload := encodeTestPack(f, full[1:2], "s", []uint64{0}, now) // unnumbered
	f.Add(one, onePayload, false)
	for _, c := range []string{"", "0", "-1", "8", "6", "1025", "02", "x"} {
		f.Add(c, payload, false)
	}
	f.Add(count, []byte{}, false)
	f.Add(count, []byte{2}, false)
	f.Add(count, payload[:len(payload)/2], false)
	f.Add(count, append(slicesClone(payload), 0), false)
	f.Add("1", []byte{packVersion, 0, 1, 1, 'i', 0, 0, 0, 0, 0, 0}, false)
	f.Add("1", binary.AppendUvarint([]byte{packVersion, 0, 1, 1, 'i', 0, 0}, 1<<63), false)
	f.Add("1", []byte{packVersion, 0, 1, 1, 'i', 0, 0, 0, 0, 200, 1, 0}, false)

	f.Fuzz(func(t *testing.T, count string, payload []byte, dup bool) {
		rs, err := decodePack(subject, count, payload)
		if err == nil {
			if strconv.Itoa(len(rs)) != count {
				t.Fatalf("decoded %d messages, %q announced", len(rs), count)
			}
			ms := make([]bus.Message, len(rs))
			seqs := make([]uint64, len(rs))
			for i, r := range rs {
				if r.msg.Time.IsZero() {
					rs[i].msg.Time, r.msg.Time = time.Time{}, time.Time{} // re-encoded as "now", which is zero too
				}
				if err := r.msg.Validate(); err != nil || checkWire(r.msg) != nil || r.msg.Subject != subject {
					t.Fatalf("decoded a message that cannot travel: %+v (%v, %v)", r.msg, err, checkWire(r.msg))
				}
				if r.src != rs[0].src || r.attempt != 0 || r.subject != "" {
					t.Fatalf("decoded %+v", r)
				}
				ms[i], seqs[i] = r.msg, r.seq
			}
			// It re-encodes to itself.
			c2, p2 := encodeTestPack(t, ms, rs[0].src, seqs, time.Time{})
			rs2, err := decodePack(subject, c2, p2)
			if err != nil || len(rs2) != len(rs) {
				t.Fatalf("re-encoded pack: %d messages, %v", len(rs2), err)
			}
			for i := range rs {
				if d := sameMessage(rs2[i].msg, rs[i].msg); d != "" || rs2[i].seq != rs[i].seq || rs2[i].src != rs[i].src {
					t.Fatalf("message %d changed re-encoded: %s", i, d)
				}
			}
		} else if rs != nil {
			t.Fatalf("decodePack returned messages and %v", err)
		}

		// Through the wire and receive.
		out := &packets.Publish{Topic: Topic(subject), QoS: 1, PacketID: 1, Duplicate: dup, Payload: payload,
			Properties: &packets.Properties{User: []packets.User{{Key: PropPack, Value: count}}}}
		var wire bytes.Buffer
		if _, err := out.WriteTo(&wire); err != nil {
			t.Skip(err)
		}
		cp, err2 := packets.ReadPacket(&wire)
		if err2 != nil {
			t.Skip(err2)
		}
		p := paho.PublishFromPacketPublish(cp.Content.(*packets.Publish))
		if v, _ := packProperty(p); v != count || !bytes.Equal(p.Payload, payload) {
			t.Skip("not carried verbatim") // not what a broker would deliver
		}
		s := fuzzSubscription(t)
		before := s.b.Stats()
		if _, err := s.receive(paho.PublishReceived{Packet: p}); err != nil {
			t.Fatalf("receive: %v", err)
		}
		after := s.b.Stats()
		var ds []*delivery
		for len(s.lanes[0]) > 0 {
			ds = append(ds, <-s.lanes[0])
		}
		if err != nil {
			if len(ds) != 0 || s.acks.outstanding() != 0 || after.Skipped != before.Skipped+1 || after.Received != before.Received {
				t.Fatalf("a malformed pack: %d delivered, %d outstanding, stats %+v", len(ds), s.acks.outstanding(), after)
			}
			return
		}
		if len(ds) != len(rs) || after.Skipped != before.Skipped {
			t.Fatalf("%d of %d messages delivered, stats %+v", len(ds), len(rs), after)
		}
		numbered := 0
		for i, d := range ds {
			want := 1
			if dup {
				want = 2
			}
			if d.r.msg.ID != rs[i].msg.ID || d.attempt != want || d.ack == nil || d.ack != ds[0].ack {
				t.Fatalf("delivery %d: %q attempt %d, want %q attempt %d, one shared acknowledgement", i, d.r.msg.ID, d.attempt, rs[i].msg.ID, want)
			}
			if d.r.seq > 0 {
				numbered++
			}
		}
		if after.Received-before.Received != int64(numbered) {
			t.Fatalf("Received went up by %d for %d numbered messages", after.Received-before.Received, numbered)
		}
		for i, d := range ds {
			if n := s.acks.outstanding(); n != 1 {
				t.Fatalf("%d acknowledgements outstanding with %d of %d messages handled, want 1", n, i, len(ds))
			}
			s.complete(d.ack)
		}
		if n := s.acks.outstanding(); n != 0 {
			t.Fatalf("the pack is unacknowledged after all its messages were handled (%d outstanding)", n)
		}
	})
}

func slicesClone(b []byte) []byte { return append([]byte(nil), b...) }
