package pii

import (
	"crypto/subtle"
	"fmt"
)

// Kind is what sort of personal data a Data holds. It decides how the value
// is validated, normalised and masked.
type Kind int8

// The kinds of personal data govkit handles.
const (
	Name     Kind = iota + 1 // a person's name, e.g. 张三
	Phone                    // a Chinese mainland mobile number
	IDNumber                 // an 18-character resident identity number (GB 11643-1999)
	Address                  // a postal or street address
)

// String returns the kind's name: "name", "phone", "id-number" or "address".
func (k Kind) String() string {
	switch k {
	case Name:
		return "name"
	case Phone:
		return "phone"
	case IDNumber:
		return "id-number"
	case Address:
		return "address"
	}
	return fmt.Sprintf("Kind(%d)", int8(k))
}

func (k Kind) valid() bool { return k >= Name && k <= Address }

// Data is one piece of personal data: a name, phone number, ID number or
// address. It masks itself on every output path (fmt, log/slog, JSON, text)
// and is revealed only by Reveal, under a permission.
//
// Build one with NewName, NewPhone, NewIDNumber or NewAddress. The zero Data
// is empty: IsZero reports true and it masks to "". Compare with Equal, not
// ==, which compares identity rather than value. A Data is immutable and
// safe to share between goroutines.
type Data struct {
	// The value sits two pointers away, not in a string field. When a Data
	// is in an unexported field of a caller's struct, fmt may not call its
	// methods and prints it by reflection. Reflection prints a nested
	// pointer as an address, except that for a verb invalid for pointers
	// (%s, %q, %t, …) fmt reports the bad verb by printing the pointer
	// again at the top level, where it dereferences one level: so *datum
	// may show, but datum.value is one more pointer and shows as an address.
	// TestUnexportedFieldPrintsPointer pins this for every verb.
	p *datum
}

// datum is the value and its precomputed mask. It is never exposed.
type datum struct {
	kind   Kind
	masked string  // computed once: logging is the hot path
	value  *string // validated and normalised; a pointer, see Data
}

func newData(k Kind, v string) Data {
	return Data{&datum{kind: k, masked: mask(k, v), value: &v}}
}

// IsZero reports whether d is the zero Data, holding nothing.
func (d Data) IsZero() bool { return d.p == nil }

// Kind returns the kind of data d holds, or 0 for the zero Data.
func (d Data) Kind() Kind {
	if d.p == nil {
		return 0
	}
	return d.p.kind
}

// Masked returns the value with most of it hidden, as every output path
// shows it: 138****5678, 110***********002X, 张*, 重庆市九龙坡****. The zero
// Data masks to "".
func (d Data) Masked() string {
	if d.p == nil {
		return ""
	}
	return d.p.masked
}

// Equal reports whether d and other hold the same kind and value. The
// values are compared in constant time (for equal lengths), so that timing
// does not tell an attacker how much of a guess was right. Two zero Data are
// equal.
func (d Data) Equal(other Data) bool {
	if d.p == nil || other.p == nil {
		return d.p == other.p
	}
	return d.p.kind == other.p.kind &&
		subtle.ConstantTimeCompare([]byte(*d.p.value), []byte(*other.p.value)) == 1
}
