package mqtt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/internal/wire"
)

// Packs. With Options.PackSize above 1, PublishBatch sends each run of
// consecutive messages with one subject as one QoS 1 PUBLISH on the
// subject's topic, a pack, because Mosquitto's cost is per PUBLISH rather
// than per byte. A pack carries one user property, PropPack, whose value
// is the number of messages in it (decimal), and a binary payload, version
// 1 (packVersion):
//
//	version   byte 1
//	source    string: the PropSource that numbers every message of the pack
//	then per message, in publish order:
//	  seq     uvarint: its PropSeq in its (subject, key) stream
//	  ID      string
//	  Key     string
//	  seconds varint: Time as Unix seconds
//	  nanos   uvarint: Time's nanoseconds within the second, below 1e9
//	  offset  varint: Time's zone offset east of UTC, in seconds
//	  headers uvarint count, then per header its name and value, strings
//	  data    string
//
// A string is a uvarint length and that many bytes; a varint is
// encoding/binary's zig-zag signed varint. Every message has the pack's
// subject (its topic's) and, delivered, Attempt 1, or 2 if the broker
// redelivers the pack. A pack is at most MaxPackSize messages and about
// maxPackBytes; a message too big for a pack travels alone. The format
// changes only with a new version byte: a member that meets a version it
// does not know skips the pack as malformed, and loss detection reports
// its messages missing.
const (
	// PropPack marks a pack: its value is the number of messages in the
	// PUBLISH's payload (see Options.PackSize). It is reserved: a device
	// that sets it has its message skipped as a malformed pack.
	PropPack = "govkit-pack"
	// MaxPackSize is the largest Options.PackSize, and the most messages
	// a subscriber accepts in one pack.
	MaxPackSize = 1024

	// maxPackBytes bounds a pack's messages (sequence numbers included),
	// far below Mosquitto's limits (256 MiB per packet), so that one
	// PUBLISH never holds up a connection for long. The payload adds the
	// version byte and the source, a few dozen bytes.
	maxPackBytes = 256 << 10
	packVersion  = 1
)

// errBadPack reports a pack that cannot be decoded.
var errBadPack = errors.New("mqtt: malformed pack")

// unit is what PublishBatch sends as one PUBLISH: the batch's messages
// first … first+n-1, alone (n == 1) or as a pack.
type unit struct {
	first, n int
	body     []byte // a pack's messages encoded without their sequence numbers
	ends     []int  // where each message ends in body
}

// planUnits splits a batch into PUBLISHes, in the batch's order: runs of
// consecutive messages with one subject become packs of at most size
// messages and maxPackBytes; every other message, and a pack that would
// hold one, travels alone. Messages whose Time is zero are packed with
// now, as Publish would send them.
func planUnits(ms []bus.Message, size int, now time.Time) []unit {
	var units []unit
	for i := 0; i < len(ms); {
		u := unit{first: i, n: 1}
		used := packedSize(ms[i], now)
		if size > 1 && used <= maxPackBytes {
			for j := i + 1; j < len(ms) && u.n < size && ms[j].Subject == ms[i].Subject; j++ {
				sz := packedSize(ms[j], now)
				if used+sz > maxPackBytes {
					break
				}
				used += sz
				u.n++
			}
		}
		if u.n > 1 {
			u.body = make([]byte, 0, used)
			u.ends = make([]int, u.n)
			for k := range u.n {
				u.body = appendPacked(u.body, ms[i+k], now)
				u.ends[k] = len(u.body)
			}
		}
		units = append(units, u)
		i += u.n
	}
	return units
}

// packedSize is the most bytes m takes in a pack, its sequence number
// counted at its largest.
func packedSize(m bus.Message, now time.Time) int {
	t := m.Time
	if t.IsZero() {
		t = now
	}
	_, off := t.Zone()
	n := binary.MaxVarintLen64 + strSize(len(m.ID)) + strSize(len(m.Key)) +
		varintSize(t.Unix()) + uvarintSize(uint64(t.Nanosecond())) + varintSize(int64(off)) +
		uvarintSize(uint64(len(m.Headers))) + strSize(len(m.Data))
	for k, v := range m.Headers {
		n += strSize(len(k)) + strSize(len(v))
	}
	return n
}

func strSize(n int) int { return uvarintSize(uint64(n)) + n }

func uvarintSize(v uint64) int {
	n := 1
	for ; v >= 0x80; v >>= 7 {
		n++
	}
	return n
}

func varintSize(v int64) int { return uvarintSize(uint64(v<<1) ^ uint64(v>>63)) }

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// appendPacked encodes m for a pack, all but its sequence number.
func appendPacked(b []byte, m bus.Message, now time.Time) []byte {
	t := m.Time
	if t.IsZero() {
		t = now
	}
	_, off := t.Zone()
	b = appendStr(b, m.ID)
	b = appendStr(b, m.Key)
	b = binary.AppendVarint(b, t.Unix())
	b = binary.AppendUvarint(b, uint64(t.Nanosecond()))
	b = binary.AppendVarint(b, int64(off))
	b = binary.AppendUvarint(b, uint64(len(m.Headers)))
	for k, v := range m.Headers {
		b = appendStr(b, k)
		b = appendStr(b, v)
	}
	b = binary.AppendUvarint(b, uint64(len(m.Data)))
	return append(b, m.Data...)
}

// packPayload assembles a planned pack's payload: the messages of u's
// body, each preceded by its sequence number, under source src.
func packPayload(u *unit, src string, seqs func(i int) uint64) []byte {
	out := make([]byte, 0, 1+binary.MaxVarintLen64+len(src)+len(u.body)+u.n*binary.MaxVarintLen64)
	out = append(out, packVersion)
	out = appendStr(out, src)
	start := 0
	for i, end := range u.ends {
		out = binary.AppendUvarint(out, seqs(i))
		out = append(out, u.body[start:end]...)
		start = end
	}
	return out
}

// packProperty returns the value of p's PropPack, if it has one.
func packProperty(p *paho.Publish) (string, bool) {
	if p.Properties == nil {
		return "", false
	}
	for _, u := range p.Properties.User {
		if u.Key == PropPack {
			return u.Value, true
		}
	}
	return "", false
}

// decodePack decodes a pack's payload into its messages on subject;
// count is PropPack's value. It checks every length and refuses, with an
// error wrapping errBadPack, a pack of an unknown version, a count that
// does not match the messages, truncated or trailing bytes, and messages
// that no publisher could have sent (no ID, fields MQTT cannot carry), so
// that whatever it returns can be handed back as a plain message. It
// never panics, and allocates in proportion to data.
func decodePack(subject, count string, data []byte) ([]received, error) {
	n, err := strconv.Atoi(count)
	if err != nil || n < 1 || n > MaxPackSize || count != strconv.Itoa(n) {
		return nil, fmt.Errorf("%w: count %q", errBadPack, count)
	}
	if len(data) == 0 || data[0] != packVersion {
		return nil, fmt.Errorf("%w: unknown version", errBadPack)
	}
	r := wire.Reader{Bad: errBadPack, B: data[1:]}
	src := r.Text()
	if r.Err == nil && n > len(r.B)/8 {
		// Each message takes at least 8 bytes.
		return nil, fmt.Errorf("%w: %d messages in %d bytes", errBadPack, n, len(r.B))
	}
	out := make([]received, 0, n)
	for r.Err == nil && len(r.B) > 0 {
		if len(out) == n {
			return nil, fmt.Errorf("%w: more than %d messages", errBadPack, n)
		}
		d := received{src: src, msg: bus.Message{Subject: subject}}
		d.seq = r.Uvarint()
		d.msg.ID = r.Text()
		d.msg.Key = r.Text()
		sec := r.Varint()
		nsec := r.Uvarint()
		off := r.Varint()
		if r.Err == nil && nsec >= 1e9 {
			return nil, fmt.Errorf("%w: nanoseconds %d", errBadPack, nsec)
		}
		d.msg.Time = packTime(sec, int64(nsec), int(off))
		h := r.Uvarint()
		if r.Err == nil && h > uint64(len(r.B)/2) { // each header takes at least two bytes
			return nil, fmt.Errorf("%w: %d headers in %d bytes", errBadPack, h, len(r.B))
		}
		if h > 0 && r.Err == nil {
			d.msg.Headers = make(map[string]string, h)
			for range h {
				k := r.Text()
				d.msg.Headers[k] = r.Text()
			}
		}
		if b := r.Bytes(); len(b) > 0 {
			d.msg.Data = b
		}
		if r.Err != nil {
			break
		}
		if d.msg.Validate() != nil || checkWire(d.msg) != nil {
			return nil, fmt.Errorf("%w: message %d cannot travel", errBadPack, len(out))
		}
		out = append(out, d)
	}
	if r.Err != nil {
		return nil, r.Err
	}
	if len(out) != n {
		return nil, fmt.Errorf("%w: %d messages, %d announced", errBadPack, len(out), n)
	}
	return out, nil
}

// packTime rebuilds a Time as time.Parse would from RFC 3339, which is
// how a message travelling alone gets its Time: UTC for offset zero, the
// local zone where it has that offset then, else a fixed unnamed zone.
func packTime(sec, nsec int64, off int) time.Time {
	t := time.Unix(sec, nsec)
	if off == 0 {
		return t.UTC()
	}
	if _, lo := t.Zone(); lo == off {
		return t // time.Unix returns local time
	}
	return t.In(time.FixedZone("", off))
}
