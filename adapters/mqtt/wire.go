package mqtt

import (
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/eclipse/paho.golang/paho"
	"github.com/google/uuid"

	"github.com/govkit/govkit/bus"
)

// The wire format. A PUBLISH carries Message.Data as its payload and the
// other fields in MQTT v5 user properties. The adapter writes them packed
// into one property, PropMeta, because paho decodes every property string
// with several allocations (a message with five separate properties costs
// about 6 KB of garbage to receive); it reads both that and the separate
// properties below, so that devices and other publishers can set them
// individually (PropKey and PropSeq, with PropSource, give per-device loss
// detection).
//
// PropMeta's value is "g1" followed by seven length-prefixed fields,
// "<decimal length>:<bytes>": the ID, the Key, the Time (RFC 3339 with
// nanoseconds), the source, the sequence number, the attempt and the
// original subject (the last three may be empty), for example
//
//	g1 36:0190c6a2-…-7f2b 4:d-17 30:2024-03-05T18:35:00+08:00 24:gw-3@… 3:412 0: 0:
//
// (without the spaces). Each header travels as its own user property,
// HeaderPrefix plus its name, or HeaderQuotedPrefix plus its name if MQTT
// cannot carry its value verbatim.
const (
	// PropMeta carries the packed fields (see above).
	PropMeta = "govkit"
	// PropID carries Message.ID. A message without an ID (from a foreign
	// publisher) gets a fresh UUIDv7 on every delivery.
	PropID = "id"
	// PropKey carries Message.Key.
	PropKey = "key"
	// PropTime carries Message.Time in RFC 3339 with nanoseconds; absent
	// or malformed, the receiver uses the time of receipt.
	PropTime = "time"
	// PropSeq numbers a publisher's messages per (subject, key) stream:
	// 1, 2, 3, … A subscriber that sees 7 after 5 knows 6 was lost.
	PropSeq = "seq"
	// PropSource names the numbering: the publishing bus's client ID and
	// start time. A restarted publisher starts a new source.
	PropSource = "src"
	// PropAttempt, on a message handed back to its group, is the delivery
	// attempt the next handler call makes.
	PropAttempt = "attempt"
	// PropSubject, on a message handed back to its group, is its original
	// subject (the retry topic replaces its topic).
	PropSubject = "subject"
	// HeaderPrefix precedes each Message.Headers name: header "trace"
	// travels as user property "h:trace".
	HeaderPrefix = "h:"
	// HeaderQuotedPrefix precedes the name of a header whose value MQTT
	// cannot carry verbatim (see mqttString: a line break, for example):
	// the value travels as strconv.Quote(value).
	HeaderQuotedPrefix = "hq:"
)

// maxIDKey bounds len(ID)+len(Key), which travel in PropMeta's one MQTT
// string of at most 65535 bytes.
const maxIDKey = 32 << 10

// mqttString reports whether s can travel as an MQTT UTF-8 string that
// brokers accept: at most 65535 bytes of valid UTF-8 without control
// characters (U+0000–U+001F, U+007F–U+009F) or non-characters, which MQTT
// forbids or discourages and Mosquitto answers by closing the connection.
// paho sends such a string anyway (and truncates a longer one), so a
// message carrying one would be resent on every reconnection and never
// acknowledged.
func mqttString(s string) bool {
	if len(s) > 65535 || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r <= 0x1f || r >= 0x7f && r <= 0x9f || r >= 0xfdd0 && r <= 0xfdef || r&0xfffe == 0xfffe {
			return false
		}
	}
	return true
}

// checkWire reports, wrapping bus.ErrInvalidMessage, fields of m that
// MQTT cannot carry: an ID, Key or header name that is not an mqttString
// (or an empty header name), or a header value too long even quoted.
func checkWire(m bus.Message) error {
	if !mqttString(m.ID) || !mqttString(m.Key) || len(m.ID)+len(m.Key) > maxIDKey {
		return fmt.Errorf("%w: ID and Key must be valid UTF-8 without control characters, together at most %d bytes", bus.ErrInvalidMessage, maxIDKey)
	}
	for k, v := range m.Headers {
		if k == "" || !mqttString(HeaderQuotedPrefix+k) {
			return fmt.Errorf("%w: header name %q: must be non-empty valid UTF-8 without control characters", bus.ErrInvalidMessage, k)
		}
		if !mqttString(v) && len(strconv.Quote(v)) > 65535 {
			return fmt.Errorf("%w: header %q: value too long", bus.ErrInvalidMessage, k)
		}
	}
	return nil
}

// meta is what PropMeta carries besides the message's own fields.
type meta struct {
	src     string
	seq     uint64 // 0: unnumbered
	attempt int    // 0: absent
	subject string // "": absent
}

// encode returns the user properties for m.
func encode(m bus.Message, x meta) paho.UserProperties {
	var tb, nb [40]byte
	ts := m.Time.AppendFormat(tb[:0], time.RFC3339Nano)
	v := make([]byte, 0, 48+len(m.ID)+len(m.Key)+len(ts)+len(x.src)+len(x.subject))
	field := func(b []byte) {
		v = strconv.AppendInt(v, int64(len(b)), 10)
		v = append(v, ':')
		v = append(v, b...)
	}
	str := func(s string) {
		v = strconv.AppendInt(v, int64(len(s)), 10)
		v = append(v, ':')
		v = append(v, s...)
	}
	num := func(n uint64) {
		if n == 0 {
			field(nil)
		} else {
			field(strconv.AppendUint(nb[:0], n, 10))
		}
	}
	v = append(v, "g1"...)
	str(m.ID)
	str(m.Key)
	field(ts)
	str(x.src)
	num(x.seq)
	num(uint64(x.attempt))
	str(x.subject)
	props := make(paho.UserProperties, 0, 1+len(m.Headers))
	props = append(props, paho.UserProperty{Key: PropMeta, Value: string(v)})
	for k, val := range m.Headers {
		if mqttString(val) {
			props = append(props, paho.UserProperty{Key: HeaderPrefix + k, Value: val})
		} else {
			props = append(props, paho.UserProperty{Key: HeaderQuotedPrefix + k, Value: strconv.Quote(val)})
		}
	}
	return props
}

// parseMeta unpacks a PropMeta value into r; it reports false if the value
// is malformed.
func parseMeta(v string, r *received) bool {
	if len(v) < 2 || v[:2] != "g1" {
		return false
	}
	v = v[2:]
	next := func() (string, bool) {
		i := 0
		n := 0
		for i < len(v) && v[i] >= '0' && v[i] <= '9' && i < 8 {
			n = n*10 + int(v[i]-'0')
			i++
		}
		if i == 0 || i >= len(v) || v[i] != ':' || len(v)-i-1 < n {
			return "", false
		}
		f := v[i+1 : i+1+n]
		v = v[i+1+n:]
		return f, true
	}
	var f [7]string
	for i := range f {
		s, ok := next()
		if !ok {
			return false
		}
		f[i] = s
	}
	r.msg.ID, r.msg.Key = f[0], f[1]
	if t, err := time.Parse(time.RFC3339Nano, f[2]); err == nil {
		r.msg.Time = t
	}
	r.src = f[3]
	if f[4] != "" {
		r.seq, _ = strconv.ParseUint(f[4], 10, 64)
	}
	if f[5] != "" {
		if n, err := strconv.Atoi(f[5]); err == nil && n > 0 {
			r.attempt = n
		}
	}
	r.subject = f[6]
	return true
}

// received is a decoded PUBLISH.
type received struct {
	msg     bus.Message
	src     string
	seq     uint64 // 0: unnumbered
	attempt int    // PropAttempt, 0 if absent
	subject string // PropSubject, "" if absent
}

// decode reads a PUBLISH's user properties and payload. subject is the
// subject derived from the topic (ignored when PropSubject is present).
func decode(p *paho.Publish, subject string, now time.Time) received {
	r := received{msg: bus.Message{Subject: subject, Data: p.Payload}}
	if p.Properties != nil {
		for _, u := range p.Properties.User {
			switch u.Key {
			case PropMeta:
				parseMeta(u.Value, &r)
			case PropID:
				r.msg.ID = u.Value
			case PropKey:
				r.msg.Key = u.Value
			case PropTime:
				if t, err := time.Parse(time.RFC3339Nano, u.Value); err == nil {
					r.msg.Time = t
				}
			case PropSource:
				r.src = u.Value
			case PropSeq:
				if n, err := strconv.ParseUint(u.Value, 10, 64); err == nil {
					r.seq = n
				}
			case PropAttempt:
				if n, err := strconv.Atoi(u.Value); err == nil && n > 0 {
					r.attempt = n
				}
			case PropSubject:
				r.subject = u.Value
			default:
				if len(u.Key) > len(HeaderPrefix) && u.Key[:len(HeaderPrefix)] == HeaderPrefix {
					if r.msg.Headers == nil {
						r.msg.Headers = map[string]string{}
					}
					r.msg.Headers[u.Key[len(HeaderPrefix):]] = u.Value
				} else if len(u.Key) > len(HeaderQuotedPrefix) && u.Key[:len(HeaderQuotedPrefix)] == HeaderQuotedPrefix {
					if v, err := strconv.Unquote(u.Value); err == nil {
						if r.msg.Headers == nil {
							r.msg.Headers = map[string]string{}
						}
						r.msg.Headers[u.Key[len(HeaderQuotedPrefix):]] = v
					}
				}
			}
		}
	}
	if r.subject != "" {
		r.msg.Subject = r.subject
	}
	if r.msg.ID == "" {
		r.msg.ID = uuid.Must(uuid.NewV7()).String()
	}
	if r.msg.Time.IsZero() {
		r.msg.Time = now
	}
	return r
}
