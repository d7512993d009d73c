package nats

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/govkit/govkit/bus"
)

// How a bus message travels over JetStream.
//
// The wire subject is "<stream>.<lane>.<subject>": the stream's name first, so
// that two govkit streams on one server never capture each other's messages;
// then the lane, "u" for messages without a key and "k0" … "k<n-1>" for keyed
// ones (the key's FNV-1a hash modulo the stream's key lanes); then the bus
// subject unchanged. A group's consumer for one lane filters on
// "<stream>.<lane>.<pattern>", which matches exactly the subjects the bus
// pattern matches.
//
// Message fields travel in headers: see the Header constants.
const (
	// HeaderID carries Message.ID.
	HeaderID = "Govkit-Id"
	// HeaderKey carries Message.Key when it is not empty.
	HeaderKey = "Govkit-Key"
	// HeaderTime carries Message.Time in RFC 3339 with nanoseconds and the
	// publisher's zone offset.
	HeaderTime = "Govkit-Time"
	// HeaderPrefix precedes each user header name whose value is sent as
	// is: Message.Headers["trace"] travels as "Govkit-H-trace".
	HeaderPrefix = "Govkit-H-"
	// HeaderQuotedPrefix precedes a user header name whose value had to be
	// quoted (strconv.Quote) because NATS headers cannot carry it verbatim:
	// leading or trailing white space, line breaks or other control
	// characters.
	HeaderQuotedPrefix = "Govkit-Q-"
	// HeaderDeadLetterGroup names the consumer group that dead-lettered a
	// message, next to bus.HeaderDeadLetterSubject, bus.HeaderDeadLetterError
	// and bus.HeaderDeadLetterAttempts.
	HeaderDeadLetterGroup = "govkit-dead-letter-group"
)

const unkeyedLane = "u"

// wireSubject returns the NATS subject for a bus subject in a lane.
func wireSubject(stream, lane, subject string) string {
	return stream + "." + lane + "." + subject
}

// laneFor returns the lane of a key: "u" for no key, "k<i>" otherwise. The
// hash is fixed (FNV-1a) so that every process agrees.
func laneFor(key string, lanes int) string {
	if key == "" {
		return unkeyedLane
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return keyedLane(int(h.Sum32() % uint32(lanes)))
}

func keyedLane(i int) string { return "k" + strconv.Itoa(i) }

// allLanes lists the lanes of a stream with n key lanes, unkeyed first.
func allLanes(n int) []string {
	l := make([]string, 0, n+1)
	l = append(l, unkeyedLane)
	for i := range n {
		l = append(l, keyedLane(i))
	}
	return l
}

// consumerName names the durable consumer of (group, pattern) for a lane:
// a readable prefix of the group, a hash of group and pattern (patterns hold
// characters consumer names may not), and the lane.
func consumerName(group, pattern, lane string) string {
	sum := sha256.Sum256([]byte(group + "\x00" + pattern))
	g := group
	if len(g) > 40 {
		g = g[:40]
	}
	return g + "_" + hex.EncodeToString(sum[:6]) + "_" + lane
}

// dedupKey is what JetStream deduplicates on (Nats-Msg-Id): the subject and
// the message ID, so that a message re-published to another subject under
// its own ID (as bus.DeadLetter does) is not mistaken for a duplicate.
func dedupKey(subject, id string) string { return subject + " " + id }

// encode turns m into a NATS message on its wire subject.
func encode(stream string, lanes int, m bus.Message) *natsgo.Msg {
	h := make(natsgo.Header, 4+len(m.Headers))
	h[jetstream.MsgIDHeader] = []string{dedupKey(m.Subject, m.ID)}
	h[HeaderID] = []string{m.ID}
	if m.Key != "" {
		h[HeaderKey] = []string{m.Key}
	}
	h[HeaderTime] = []string{m.Time.Format(time.RFC3339Nano)}
	for k, v := range m.Headers {
		if verbatim(v) {
			h[HeaderPrefix+k] = []string{v}
		} else {
			h[HeaderQuotedPrefix+k] = []string{strconv.Quote(v)}
		}
	}
	return &natsgo.Msg{Subject: wireSubject(stream, laneFor(m.Key, lanes), m.Subject), Header: h, Data: m.Data}
}

// checkFields reports fields that NATS headers cannot carry: header names
// must be printable ASCII without ':' or spaces, and the ID and Key may not
// hold line breaks.
func checkFields(m bus.Message) error {
	if strings.ContainsAny(m.ID, "\r\n") {
		return fmt.Errorf("%w: ID holds a line break", bus.ErrInvalidMessage)
	}
	if strings.ContainsAny(m.Key, "\r\n") {
		return fmt.Errorf("%w: Key holds a line break", bus.ErrInvalidMessage)
	}
	for k := range m.Headers {
		if k == "" {
			return fmt.Errorf("%w: empty header name", bus.ErrInvalidMessage)
		}
		for i := 0; i < len(k); i++ {
			if c := k[i]; c <= ' ' || c >= 0x7f || c == ':' {
				return fmt.Errorf("%w: header name %q: only printable ASCII without ':' or spaces", bus.ErrInvalidMessage, k)
			}
		}
	}
	return nil
}

// verbatim reports whether a header value survives NATS's header encoding
// unchanged.
func verbatim(v string) bool {
	if v == "" {
		return true
	}
	if c := v[0]; c == ' ' || c == '\t' {
		return false
	}
	if c := v[len(v)-1]; c == ' ' || c == '\t' {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

// decode turns a delivered NATS message back into a bus message. It never
// fails: a message published by something other than govkit gets its stream
// sequence as ID and no key or time.
func decode(stream string, msg jetstream.Msg, md *jetstream.MsgMetadata) bus.Message {
	m := bus.Message{Data: msg.Data()}
	subject := msg.Subject()
	// Strip "<stream>.<lane>.".
	if rest, ok := strings.CutPrefix(subject, stream+"."); ok {
		if i := strings.IndexByte(rest, '.'); i >= 0 {
			subject = rest[i+1:]
		}
	}
	m.Subject = subject
	if md != nil {
		m.Attempt = int(md.NumDelivered)
	}
	for k, vs := range msg.Headers() {
		if len(vs) == 0 {
			continue
		}
		v := vs[0]
		switch {
		case k == HeaderID:
			m.ID = v
		case k == HeaderKey:
			m.Key = v
		case k == HeaderTime:
			if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
				m.Time = t
			}
		case strings.HasPrefix(k, HeaderPrefix):
			if m.Headers == nil {
				m.Headers = map[string]string{}
			}
			m.Headers[k[len(HeaderPrefix):]] = v
		case strings.HasPrefix(k, HeaderQuotedPrefix):
			if u, err := strconv.Unquote(v); err == nil {
				if m.Headers == nil {
					m.Headers = map[string]string{}
				}
				m.Headers[k[len(HeaderQuotedPrefix):]] = u
			}
		}
	}
	if m.ID == "" && md != nil {
		m.ID = fmt.Sprintf("nats:%s:%d", md.Stream, md.Sequence.Stream)
	}
	return m
}

// subsetOf reports whether every subject matched by pattern p is matched by
// pattern s; both are valid bus patterns. JetStream (2.9) requires a
// consumer's filter to be such a subset of its stream's subjects.
func subsetOf(p, s string) bool {
	pt, st := strings.Split(p, "."), strings.Split(s, ".")
	for i, stok := range st {
		if stok == ">" {
			return i < len(pt)
		}
		if i >= len(pt) {
			return false
		}
		switch ptok := pt[i]; {
		case ptok == ">":
			return false
		case stok == "*":
		case ptok != stok:
			return false
		}
	}
	return len(pt) == len(st)
}
