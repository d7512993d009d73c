package pii

import (
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
)

// Every way a value leaves a program by accident — fmt, log, log/slog,
// encoding/json, encoding/xml and other encoding.TextMarshaler users —
// goes through one of the methods below, and each shows only Masked.
// Leaving on purpose is Reveal's job; storing is the Sealer's.

// ErrNotSerializable is matched by the errors of the decoders and encoders
// that refuse personal data: UnmarshalJSON, UnmarshalText, GobEncode and
// Value.
var ErrNotSerializable = errors.New("pii: personal data is not serialized")

// String returns the masked form, so that Data prints safely with %v, %s,
// Print and Println.
func (d Data) String() string { return d.Masked() }

// GoString returns a Go-like description holding only the masked form, such
// as pii.Data{phone:"138****5678"}, for %#v.
func (d Data) GoString() string {
	if d.p == nil {
		return "pii.Data{}"
	}
	return "pii.Data{" + d.p.kind.String() + ":" + strconv.Quote(d.p.masked) + "}"
}

// Format prints the masked form for every verb, so that no verb reaches the
// value: %q quotes it, %#v prints GoString, and every other verb (%v, %s,
// %x, %d, …) prints it as %s would, honouring width, precision and flags.
// %x therefore prints the masked text, not its hex encoding.
func (d Data) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'q':
		fmt.Fprintf(f, fmt.FormatString(f, 'q'), d.Masked())
	case verb == 'v' && f.Flag('#'):
		io.WriteString(f, d.GoString())
	default:
		fmt.Fprintf(f, fmt.FormatString(f, 's'), d.Masked())
	}
}

// LogValue makes Data a slog.LogValuer: slog handlers log the masked form.
func (d Data) LogValue() slog.Value { return slog.StringValue(d.Masked()) }

// MarshalJSON encodes the masked form as a JSON string, so that events and
// API responses carry 138****5678, never the number.
func (d Data) MarshalJSON() ([]byte, error) { return json.Marshal(d.Masked()) }

// MarshalText returns the masked form, for encoding/xml, map keys in JSON
// and other encoding.TextMarshaler users.
func (d Data) MarshalText() ([]byte, error) { return []byte(d.Masked()), nil }

// UnmarshalJSON refuses to decode personal data, except for JSON null,
// which leaves d unchanged as encoding/json expects. Data is built with the
// New* constructors from a value the program obtained on purpose. Decoding
// would either read back a masked form written by MarshalJSON, turning
// "138****5678" into corrupt data, or accept raw personal data from an
// untyped source past the constructors' validation.
func (d *Data) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	return fmt.Errorf("%w: decode the raw value and build personal data with NewPhone, NewName, NewIDNumber or NewAddress; JSON holds only masked forms", ErrNotSerializable)
}

// UnmarshalText refuses to decode personal data, for the reasons given at
// UnmarshalJSON.
func (d *Data) UnmarshalText([]byte) error {
	return fmt.Errorf("%w: build personal data with NewPhone, NewName, NewIDNumber or NewAddress", ErrNotSerializable)
}

// GobEncode refuses: gob would carry the raw value to wherever the stream
// goes. Seal the value with a Sealer to store or send it.
func (d Data) GobEncode() ([]byte, error) {
	return nil, fmt.Errorf("%w: gob would carry the raw value; seal it with a Sealer", ErrNotSerializable)
}

// Value makes Data a database/sql/driver.Valuer that refuses, so that a
// Data passed to a database is an error rather than a column silently
// holding its masked form (some drivers store a TextMarshaler's text).
// Store Seal's output and Index's blind index instead.
func (d Data) Value() (driver.Value, error) {
	return nil, fmt.Errorf("%w: store Sealer.Seal's output and Sealer.Index's blind index", ErrNotSerializable)
}
