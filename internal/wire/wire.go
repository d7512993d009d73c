// Package wire reads the varint-framed binary in which the transport
// adapters pack several bus messages into one broker message.
package wire

import (
	"encoding/binary"
	"fmt"
)

// Reader reads varints and length-prefixed fields from B, remembering the
// first failure in Err, which wraps Bad (the caller's "malformed" error),
// so that a decoder can read a whole record and check once.
type Reader struct {
	B   []byte // what is left to read
	Bad error  // wrapped by every failure
	Err error  // the first failure
}

func (r *Reader) fail(format string, args ...any) {
	r.Err = fmt.Errorf("%w: "+format, append([]any{r.Bad}, args...)...)
}

// Uvarint reads an unsigned varint.
func (r *Reader) Uvarint() uint64 {
	if r.Err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.B)
	if n <= 0 {
		r.fail("truncated varint")
		return 0
	}
	r.B = r.B[n:]
	return v
}

// Varint reads a signed varint.
func (r *Reader) Varint() int64 {
	if r.Err != nil {
		return 0
	}
	v, n := binary.Varint(r.B)
	if n <= 0 {
		r.fail("truncated varint")
		return 0
	}
	r.B = r.B[n:]
	return v
}

// Bytes reads a length-prefixed field. Its capacity is capped, so that
// appending to it cannot overwrite the next field.
func (r *Reader) Bytes() []byte {
	n := r.Uvarint()
	if r.Err != nil {
		return nil
	}
	if n > uint64(len(r.B)) {
		r.fail("a field of %d bytes in %d", n, len(r.B))
		return nil
	}
	v := r.B[:n:n]
	r.B = r.B[n:]
	return v
}

// Text reads a length-prefixed field as a string.
func (r *Reader) Text() string { return string(r.Bytes()) }
