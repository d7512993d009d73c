package sensor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/govkit/govkit/bus"
)

// ErrMalformed is matched by every *DecodeError about a device message
// that is not in the format DecodeJSON reads.
var ErrMalformed = errors.New("sensor: malformed message")

// DecodeError reports why a device message could not be decoded, and
// where. Nothing of the message was decoded.
type DecodeError struct {
	// Offset is the byte offset in the message where the problem was
	// found.
	Offset int
	// Reason says what is wrong, for people.
	Reason string
	// Err is ErrMalformed, ErrUnknownDevice (the device is not registered
	// or was removed) or ErrUnknownResource (the profile has no resource
	// of that name).
	Err error
}

// Error describes the problem and its offset.
func (e *DecodeError) Error() string {
	return fmt.Sprintf("%v at byte %d: %s", e.Err, e.Offset, e.Reason)
}

// Unwrap returns Err.
func (e *DecodeError) Unwrap() error { return e.Err }

// MaxMessageReadings bounds the readings one DecodeJSON call decodes, so
// that a message within bus.MaxDataSize cannot make a huge batch.
const MaxMessageReadings = 8192

// jsonMaxDepth bounds the nesting of unknown values that the decoder skips.
const jsonMaxDepth = 64

// DecodeJSON decodes a device message and appends its readings to dst,
// resolving the device ID and resource names through reg. It returns dst
// unchanged with a *DecodeError when the message is malformed, names an
// unknown device or resource, or is larger than bus.MaxDataSize; checks
// that need the device's state (locked, unit, range, time) are Ingest's.
// It does not allocate for well-formed messages whose strings have no
// escapes, and is safe for concurrent use.
//
// A message is a JSON object:
//
//		{"device":"cq-pp-000017","ts":1718000000123,"seq":42,
//		 "readings":{"pressure":0.42,"flow":[12.5,"m3/h"],"leak":false}}
//
//	  - "device" (required): the registered device ID.
//	  - "readings" (required): resource name → value, where a value is a
//	    number, true or false (1 or 0, for flags such as a fall or smoke
//	    alarm), or an array [value] or [value, "unit"]. A unit given must
//	    be the resource's, or Ingest rejects the reading.
//	  - "ts" (optional): when the values were observed, as Unix
//	    milliseconds or an RFC 3339 string ("2024-06-10T08:15:30.123+08:00").
//	    Absent, Ingest uses the time of receipt.
//	  - "seq" (optional): the device's message sequence number, an integer
//	    from 0 to 2^64-1, given to every reading of the message (duplicates
//	    are detected per device, resource and seq). Absent or 0: the
//	    readings are unnumbered and never taken as duplicates.
//
// Keys may come in any order; other keys are ignored. A gateway may send
// several messages at once as a JSON array of such objects. Each reading
// gets the message's device, seq and time; Quality and Received are left
// for Ingest.
func DecodeJSON(reg *Registry, data []byte, dst []Reading) ([]Reading, error) {
	return decodeJSON(reg, data, dst, false)
}

// decodeJSON is DecodeJSON; held says that the caller holds reg.mu for
// reading.
func decodeJSON(reg *Registry, data []byte, dst []Reading, held bool) ([]Reading, error) {
	d := jsonDecoder{reg: reg, data: data, n0: len(dst), held: held}
	out, err := d.decode(dst)
	if err != nil {
		clear(dst[len(dst):cap(dst)]) // what was decoded, in dst's array
		return dst, err
	}
	return out, nil
}

// IngestJSON decodes a device message (see DecodeJSON) and ingests its
// readings (see Ingest). A message that cannot be decoded is counted in
// Stats().Malformed and its *DecodeError returned; nothing is ingested.
func (in *Ingester) IngestJSON(ctx context.Context, data []byte) (IngestResult, error) {
	if err := in.authorize(ctx); err != nil {
		return IngestResult{}, err
	}
	return in.ingestJSON(ctx, data)
}

// ingestJSON is IngestJSON once the source was authorized.
func (in *Ingester) ingestJSON(ctx context.Context, data []byte) (IngestResult, error) {
	buf := in.getBuf(16)
	defer in.putBuf(buf)
	// One read lock of the registry serves the lookups of decoding and
	// the checks of ingestion.
	in.reg.mu.RLock()
	rs, err := decodeJSON(in.reg, data, *buf, true)
	*buf = rs
	if err != nil {
		in.reg.mu.RUnlock()
		in.malformed.Add(1)
		return IngestResult{}, err
	}
	in.counters().messages.Add(1)
	return in.ingest(ctx, rs, true)
}

type jsonDecoder struct {
	reg  *Registry
	held bool // the caller holds reg.mu for reading
	data []byte
	pos  int
	n0   int // len(dst) on entry
}

func (d *jsonDecoder) fail(off int, err error, format string, args ...any) error {
	return &DecodeError{Offset: off, Reason: fmt.Sprintf(format, args...), Err: err}
}

func (d *jsonDecoder) ws() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// peek returns the byte at pos, or 0 at the end.
func (d *jsonDecoder) peek() byte {
	if d.pos < len(d.data) {
		return d.data[d.pos]
	}
	return 0
}

func (d *jsonDecoder) expect(c byte, what string) error {
	if d.peek() != c {
		return d.unexpected(what)
	}
	d.pos++
	return nil
}

func (d *jsonDecoder) unexpected(what string) error {
	if d.pos >= len(d.data) {
		return d.fail(d.pos, ErrMalformed, "unexpected end of message; expected %s", what)
	}
	return d.fail(d.pos, ErrMalformed, "unexpected %q; expected %s", d.data[d.pos], what)
}

func (d *jsonDecoder) decode(dst []Reading) ([]Reading, error) {
	if len(d.data) > bus.MaxDataSize {
		return dst, d.fail(0, ErrMalformed, "message of %d bytes exceeds %d", len(d.data), bus.MaxDataSize)
	}
	var err error
	d.ws()
	switch d.peek() {
	case '{':
		if dst, err = d.message(dst); err != nil {
			return dst, err
		}
	case '[':
		d.pos++
		d.ws()
		if d.peek() == ']' {
			d.pos++
			break
		}
		for {
			d.ws()
			if d.peek() != '{' {
				return dst, d.unexpected("a message object")
			}
			if dst, err = d.message(dst); err != nil {
				return dst, err
			}
			d.ws()
			if d.peek() == ',' {
				d.pos++
				continue
			}
			if err := d.expect(']', "',' or ']'"); err != nil {
				return dst, err
			}
			break
		}
	default:
		return dst, d.unexpected("'{' or '['")
	}
	d.ws()
	if d.pos != len(d.data) {
		return dst, d.fail(d.pos, ErrMalformed, "data after the message")
	}
	return dst, nil
}

// Keys of a message, as bits, to refuse a key given twice.
const (
	jsonKeyDevice = 1 << iota
	jsonKeyTS
	jsonKeySeq
	jsonKeyReadings
)

// message decodes one message object, at '{'.
func (d *jsonDecoder) message(dst []Reading) ([]Reading, error) {
	start := d.pos
	d.pos++
	var (
		h        Handle
		p        *Profile
		observed time.Time
		seq      uint64
		seen     int
		deferred = -1 // offset of a readings object met before the device
		first    = len(dst)
		err      error
	)
	d.ws()
	if d.peek() == '}' {
		d.pos++
	} else {
		for {
			d.ws()
			keyOff := d.pos
			key, esc, err := d.str()
			if err != nil {
				return dst, err
			}
			if esc {
				key = jsonUnescape(key)
			}
			d.ws()
			if err := d.expect(':', "':'"); err != nil {
				return dst, err
			}
			d.ws()
			bit := 0
			switch string(key) {
			case "device":
				bit = jsonKeyDevice
			case "ts":
				bit = jsonKeyTS
			case "seq":
				bit = jsonKeySeq
			case "readings":
				bit = jsonKeyReadings
			}
			if seen&bit != 0 {
				return dst, d.fail(keyOff, ErrMalformed, "key %q given twice", key)
			}
			seen |= bit
			switch bit {
			case jsonKeyDevice:
				if h, p, err = d.device(); err != nil {
					return dst, err
				}
			case jsonKeyTS:
				if observed, err = d.timestamp(); err != nil {
					return dst, err
				}
			case jsonKeySeq:
				if seq, err = d.uint(); err != nil {
					return dst, err
				}
			case jsonKeyReadings:
				if p != nil {
					dst, err = d.readings(dst, p)
				} else {
					deferred = d.pos
					err = d.skip(0)
				}
				if err != nil {
					return dst, err
				}
			default:
				if err := d.skip(0); err != nil {
					return dst, err
				}
			}
			d.ws()
			if d.peek() == ',' {
				d.pos++
				continue
			}
			if err := d.expect('}', "',' or '}'"); err != nil {
				return dst, err
			}
			break
		}
	}
	switch {
	case seen&jsonKeyDevice == 0:
		return dst, d.fail(start, ErrMalformed, `message has no "device"`)
	case seen&jsonKeyReadings == 0:
		return dst, d.fail(start, ErrMalformed, `message has no "readings"`)
	}
	if deferred >= 0 {
		end := d.pos
		d.pos = deferred
		if dst, err = d.readings(dst, p); err != nil {
			return dst, err
		}
		d.pos = end
	}
	for i := first; i < len(dst); i++ {
		r := &dst[i]
		r.Device, r.Seq, r.Observed = h, seq, observed
	}
	return dst, nil
}

// device decodes the device ID string and resolves it.
func (d *jsonDecoder) device() (Handle, *Profile, error) {
	off := d.pos
	id, esc, err := d.str()
	if err != nil {
		return 0, nil, err
	}
	if esc {
		id = jsonUnescape(id)
	}
	reg := d.reg
	if !d.held {
		reg.mu.RLock()
	}
	h, ok := reg.findBytes(id)
	var p *Profile
	if ok && reg.flags[h]&flagRemoved == 0 {
		p = reg.profiles[reg.profile[h]]
	}
	if !d.held {
		reg.mu.RUnlock()
	}
	if p == nil {
		return 0, nil, d.fail(off, ErrUnknownDevice, "device %q is not registered", id)
	}
	return h, p, nil
}

// readings decodes the readings object, at '{', for a device of profile p.
func (d *jsonDecoder) readings(dst []Reading, p *Profile) ([]Reading, error) {
	if err := d.expect('{', `an object of readings`); err != nil {
		return dst, err
	}
	d.ws()
	if d.peek() == '}' {
		d.pos++
		return dst, nil
	}
	for {
		d.ws()
		nameOff := d.pos
		name, esc, err := d.str()
		if err != nil {
			return dst, err
		}
		if esc {
			name = jsonUnescape(name)
		}
		idx := -1
		for i := range p.Resources {
			if p.Resources[i].Name == string(name) {
				idx = i
				break
			}
		}
		if idx < 0 {
			return dst, d.fail(nameOff, ErrUnknownResource, "profile %q has no resource %q", p.Name, name)
		}
		d.ws()
		if err := d.expect(':', "':'"); err != nil {
			return dst, err
		}
		d.ws()
		var (
			v    float64
			unit string
		)
		if d.peek() == '[' {
			d.pos++
			d.ws()
			if v, err = d.value(); err != nil {
				return dst, err
			}
			d.ws()
			if d.peek() == ',' {
				d.pos++
				d.ws()
				u, esc, err := d.str()
				if err != nil {
					return dst, err
				}
				if esc {
					u = jsonUnescape(u)
				}
				if string(u) == p.Resources[idx].Unit {
					unit = p.Resources[idx].Unit
				} else {
					unit = string(u) // Ingest rejects it
				}
				d.ws()
			}
			if err := d.expect(']', "']' after the value and unit"); err != nil {
				return dst, err
			}
		} else if v, err = d.value(); err != nil {
			return dst, err
		}
		if len(dst)-d.n0 >= MaxMessageReadings {
			return dst, d.fail(nameOff, ErrMalformed, "more than %d readings", MaxMessageReadings)
		}
		dst = append(dst, Reading{Resource: uint8(idx), Value: v, Unit: unit})
		d.ws()
		if d.peek() == ',' {
			d.pos++
			continue
		}
		if err := d.expect('}', "',' or '}'"); err != nil {
			return dst, err
		}
		return dst, nil
	}
}

// value decodes a reading's value: a number, true or false.
func (d *jsonDecoder) value() (float64, error) {
	switch c := d.peek(); {
	case c == 't' && bytes.HasPrefix(d.data[d.pos:], []byte("true")):
		d.pos += 4
		return 1, nil
	case c == 'f' && bytes.HasPrefix(d.data[d.pos:], []byte("false")):
		d.pos += 5
		return 0, nil
	case c == '-' || c >= '0' && c <= '9':
		return d.number()
	}
	return 0, d.unexpected("a number, true or false")
}

// scanNumber checks the JSON number grammar at pos and returns its end.
func (d *jsonDecoder) scanNumber() (end int, integer bool, err error) {
	data, i := d.data, d.pos
	digits := func() bool {
		s := i
		for i < len(data) && data[i] >= '0' && data[i] <= '9' {
			i++
		}
		return i > s
	}
	if i < len(data) && data[i] == '-' {
		i++
	}
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case !digits():
		return 0, false, d.fail(i, ErrMalformed, "bad number")
	}
	integer = true
	if i < len(data) && data[i] == '.' {
		i++
		integer = false
		if !digits() {
			return 0, false, d.fail(i, ErrMalformed, "bad number: no digit after '.'")
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		integer = false
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if !digits() {
			return 0, false, d.fail(i, ErrMalformed, "bad number: no digit in the exponent")
		}
	}
	return i, integer, nil
}

func (d *jsonDecoder) number() (float64, error) {
	end, _, err := d.scanNumber()
	if err != nil {
		return 0, err
	}
	v, perr := strconv.ParseFloat(string(d.data[d.pos:end]), 64)
	if perr != nil {
		return 0, d.fail(d.pos, ErrMalformed, "number out of range")
	}
	d.pos = end
	return v, nil
}

// uint decodes a non-negative integer up to 2^64-1.
func (d *jsonDecoder) uint() (uint64, error) {
	start := d.pos
	end, integer, err := d.scanNumber()
	if err != nil {
		return 0, err
	}
	if !integer || d.data[start] == '-' {
		return 0, d.fail(start, ErrMalformed, "expected a non-negative integer")
	}
	var n uint64
	for _, c := range d.data[start:end] {
		dv := uint64(c - '0')
		if n > (math.MaxUint64-dv)/10 {
			return 0, d.fail(start, ErrMalformed, "integer larger than 2^64-1")
		}
		n = 10*n + dv
	}
	d.pos = end
	return n, nil
}

// timestamp decodes "ts": Unix milliseconds or an RFC 3339 string.
func (d *jsonDecoder) timestamp() (time.Time, error) {
	off := d.pos
	if d.peek() == '"' {
		s, esc, err := d.str()
		if err != nil {
			return time.Time{}, err
		}
		if esc {
			s = jsonUnescape(s)
		}
		t, ok := parseRFC3339(s)
		if !ok {
			return time.Time{}, d.fail(off, ErrMalformed, "ts %q is not an RFC 3339 time", s)
		}
		return t, nil
	}
	ms, err := d.uint()
	if err != nil {
		return time.Time{}, err
	}
	if ms >= maxUnixSec*1000 {
		return time.Time{}, d.fail(off, ErrMalformed, "ts %d is out of range", ms)
	}
	return time.UnixMilli(int64(ms)).UTC(), nil
}

// str scans a string at pos and returns its raw contents, and whether it
// holds escapes (which unescape resolves).
func (d *jsonDecoder) str() (raw []byte, escaped bool, err error) {
	if d.peek() != '"' {
		return nil, false, d.unexpected("a string")
	}
	data := d.data
	for i := d.pos + 1; i < len(data); i++ {
		switch c := data[i]; {
		case c == '"':
			raw = data[d.pos+1 : i]
			d.pos = i + 1
			return raw, escaped, nil
		case c == '\\':
			escaped = true
			i++
			if i >= len(data) {
				break
			}
			switch data[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(data) || !jsonIsHex(data[i+1]) || !jsonIsHex(data[i+2]) || !jsonIsHex(data[i+3]) || !jsonIsHex(data[i+4]) {
					return nil, false, d.fail(i-1, ErrMalformed, `bad \u escape`)
				}
				i += 4
			default:
				return nil, false, d.fail(i-1, ErrMalformed, "bad escape %q", data[i])
			}
		case c < 0x20:
			return nil, false, d.fail(i, ErrMalformed, "control character in string")
		}
	}
	return nil, false, d.fail(d.pos, ErrMalformed, "unterminated string")
}

func jsonIsHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func jsonHexVal(b []byte) rune {
	var r rune
	for _, c := range b {
		r <<= 4
		switch {
		case c <= '9':
			r |= rune(c - '0')
		case c >= 'a':
			r |= rune(c - 'a' + 10)
		default:
			r |= rune(c - 'A' + 10)
		}
	}
	return r
}

// jsonUnescape resolves the escapes of a string that str has checked.
func jsonUnescape(raw []byte) []byte {
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		switch raw[i] {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r := jsonHexVal(raw[i+1 : i+5])
			i += 4
			if utf16.IsSurrogate(r) && i+6 < len(raw) && raw[i+1] == '\\' && raw[i+2] == 'u' {
				if r2 := utf16.DecodeRune(r, jsonHexVal(raw[i+3:i+7])); r2 != utf8.RuneError {
					r = r2
					i += 6
				}
			}
			out = utf8.AppendRune(out, r) // a lone surrogate becomes U+FFFD
		default: // '"', '\\', '/'
			out = append(out, raw[i])
		}
	}
	return out
}

// skip checks and skips any JSON value.
func (d *jsonDecoder) skip(depth int) error {
	if depth > jsonMaxDepth {
		return d.fail(d.pos, ErrMalformed, "nested deeper than %d", jsonMaxDepth)
	}
	switch c := d.peek(); c {
	case '"':
		_, _, err := d.str()
		return err
	case '{', '[':
		end := byte('}')
		if c == '[' {
			end = ']'
		}
		d.pos++
		d.ws()
		if d.peek() == end {
			d.pos++
			return nil
		}
		for {
			d.ws()
			if c == '{' {
				if _, _, err := d.str(); err != nil {
					return err
				}
				d.ws()
				if err := d.expect(':', "':'"); err != nil {
					return err
				}
				d.ws()
			}
			if err := d.skip(depth + 1); err != nil {
				return err
			}
			d.ws()
			if d.peek() == ',' {
				d.pos++
				continue
			}
			if end == '}' {
				return d.expect(end, "',' or '}'")
			}
			return d.expect(end, "',' or ']'")
		}
	case 't', 'f', 'n':
		for _, lit := range []string{"true", "false", "null"} {
			if bytes.HasPrefix(d.data[d.pos:], []byte(lit)) {
				d.pos += len(lit)
				return nil
			}
		}
	default:
		if c == '-' || c >= '0' && c <= '9' {
			end, _, err := d.scanNumber()
			if err == nil {
				d.pos = end
			}
			return err
		}
	}
	return d.unexpected("a value")
}

// parseRFC3339 parses an RFC 3339 date-time such as
// "2024-06-10T08:15:30.123456789+08:00" into UTC, without allocating.
func parseRFC3339(b []byte) (time.Time, bool) {
	num := func(s []byte) (int, bool) {
		n := 0
		for _, c := range s {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = 10*n + int(c-'0')
		}
		return n, true
	}
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != 't') || b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	year, ok1 := num(b[0:4])
	month, ok2 := num(b[5:7])
	day, ok3 := num(b[8:10])
	hour, ok4 := num(b[11:13])
	minute, ok5 := num(b[14:16])
	sec, ok6 := num(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 ||
		day > daysInMonth(year, month) || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	i, nsec := 19, 0
	if b[i] == '.' {
		i++
		s := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			if i-s < 9 {
				nsec = 10*nsec + int(b[i]-'0')
			}
			i++
		}
		if i == s {
			return time.Time{}, false
		}
		for k := i - s; k < 9; k++ {
			nsec *= 10
		}
	}
	offset := 0
	switch {
	case i == len(b)-1 && (b[i] == 'Z' || b[i] == 'z'):
	case i == len(b)-6 && (b[i] == '+' || b[i] == '-') && b[i+3] == ':':
		oh, ok1 := num(b[i+1 : i+3])
		om, ok2 := num(b[i+4 : i+6])
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return time.Time{}, false
		}
		offset = (oh*60 + om) * 60
		if b[i] == '-' {
			offset = -offset
		}
	default:
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	return t.Add(-time.Duration(offset) * time.Second), true
}

func daysInMonth(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
