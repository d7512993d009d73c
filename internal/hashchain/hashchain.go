// Package hashchain hashes records into tamper-evident chains: each record's
// hash covers its fields and the previous record's hash, so editing,
// removing or reordering any record breaks every hash after it. The audit
// log and incident timelines use it.
package hashchain

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"time"
)

// Size is the length of a hash in bytes.
const Size = sha256.Size

// Genesis is the previous hash of a chain's first record.
var Genesis = make([]byte, Size)

// Hasher writes fields unambiguously: every field is length-prefixed, so
// ("ab", "c") and ("a", "bc") hash differently.
type Hasher struct {
	h   hash.Hash
	buf [8]byte
}

// New starts the hash of a record in a chain of the given format version,
// following prev.
func New(version byte, prev []byte) *Hasher {
	h := &Hasher{h: sha256.New()}
	h.h.Write([]byte{version})
	h.Bytes(prev)
	return h
}

// Bytes adds a byte field.
func (h *Hasher) Bytes(b []byte) {
	h.Uint(uint64(len(b)))
	h.h.Write(b)
}

// String adds a text field.
func (h *Hasher) String(s string) {
	h.Uint(uint64(len(s)))
	h.h.Write([]byte(s))
}

// Uint adds an unsigned integer field.
func (h *Hasher) Uint(u uint64) {
	binary.BigEndian.PutUint64(h.buf[:], u)
	h.h.Write(h.buf[:])
}

// Int adds a signed integer field.
func (h *Hasher) Int(i int64) { h.Uint(uint64(i)) }

// Bool adds a boolean field.
func (h *Hasher) Bool(b bool) {
	if b {
		h.Uint(1)
	} else {
		h.Uint(0)
	}
}

// Time adds a time field at the precision Truncate keeps.
func (h *Hasher) Time(t time.Time) {
	if t.IsZero() {
		h.Int(0)
		return
	}
	h.Int(Truncate(t).UnixMicro())
}

// Sum returns the record's hash.
func (h *Hasher) Sum() []byte { return h.h.Sum(nil) }

// Truncate returns t in UTC at microsecond precision, the precision
// PostgreSQL's timestamptz keeps: records must be hashed as they will read
// back from any store.
func Truncate(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Microsecond)
}
