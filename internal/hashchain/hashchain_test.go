package hashchain

import (
	"bytes"
	"testing"
	"time"
)

func sum(fields ...string) []byte {
	h := New(1, Genesis)
	for _, f := range fields {
		h.String(f)
	}
	return h.Sum()
}

func TestFieldsAreUnambiguous(t *testing.T) {
	if bytes.Equal(sum("ab", "c"), sum("a", "bc")) {
		t.Fatal("length prefixes missing")
	}
	if !bytes.Equal(sum("a", "b"), sum("a", "b")) {
		t.Fatal("not deterministic")
	}
}

func TestPrevAndVersionMatter(t *testing.T) {
	a, b := New(1, Genesis), New(1, sum("x"))
	a.String("r")
	b.String("r")
	if bytes.Equal(a.Sum(), b.Sum()) {
		t.Fatal("previous hash ignored")
	}
	c := New(2, Genesis)
	c.String("r")
	if bytes.Equal(New(1, Genesis).Sum(), c.Sum()) {
		t.Fatal("version ignored")
	}
}

func TestTimeAtMicroseconds(t *testing.T) {
	base := time.Date(2024, 3, 5, 18, 35, 0, 123456789, time.FixedZone("CST", 8*3600))
	h1, h2 := New(1, Genesis), New(1, Genesis)
	h1.Time(base)
	h2.Time(base.UTC().Truncate(time.Microsecond))
	if !bytes.Equal(h1.Sum(), h2.Sum()) {
		t.Fatal("a time and its stored form hash differently")
	}
	if got := Truncate(base); got.Location() != time.UTC || got.Nanosecond() != 123456000 {
		t.Fatalf("Truncate = %v", got)
	}
	if !Truncate(time.Time{}).IsZero() {
		t.Fatal("zero time changed")
	}
}
