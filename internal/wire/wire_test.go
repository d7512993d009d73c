package wire

import (
	"encoding/binary"
	"errors"
	"testing"
)

var errBad = errors.New("bad pack")

func TestReader(t *testing.T) {
	b := binary.AppendUvarint(nil, 300)
	b = binary.AppendVarint(b, -7)
	b = binary.AppendUvarint(b, 3)
	b = append(b, "abc"...)
	b = binary.AppendUvarint(b, 2)
	b = append(b, "xyz"...)
	r := Reader{B: b, Bad: errBad}
	if u, v, s := r.Uvarint(), r.Varint(), r.Text(); u != 300 || v != -7 || s != "abc" || r.Err != nil {
		t.Fatalf("%d %d %q %v", u, v, s, r.Err)
	}
	f := r.Bytes()
	if string(f) != "xy" || cap(f) != 2 || string(r.B) != "z" {
		t.Fatalf("field %q cap %d, left %q", f, cap(f), r.B)
	}
	if r.Text(); !errors.Is(r.Err, errBad) { // 'z' claims 122 bytes
		t.Fatalf("overlong field: %v", r.Err)
	}
	first := r.Err
	if r.Uvarint() != 0 || r.Err != first {
		t.Fatal("a failed reader read on, or lost its first error")
	}
	empty := Reader{Bad: errBad}
	if empty.Varint(); !errors.Is(empty.Err, errBad) {
		t.Fatalf("empty input: %v", empty.Err)
	}
}
