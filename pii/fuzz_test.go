package pii_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/govkit/govkit/pii"
)

// checkAccepted checks what must hold of every accepted value: it is in
// normal form (parsing it again gives the same Data), and its mask differs
// from it but has as many runes.
func checkAccepted(t *testing.T, d pii.Data, parse func(string) (pii.Data, error)) string {
	t.Helper()
	raw := reveal(t, d)
	again, err := parse(raw)
	if err != nil {
		t.Fatalf("accepted value does not parse again: %v", err)
	}
	if !again.Equal(d) || reveal(t, again) != raw {
		t.Fatal("normal form is not stable")
	}
	m := d.Masked()
	if m == raw {
		t.Fatal("masked form equals the raw value")
	}
	if utf8.RuneCountInString(m) != utf8.RuneCountInString(raw) {
		t.Fatalf("masked form has %d runes, raw %d", utf8.RuneCountInString(m), utf8.RuneCountInString(raw))
	}
	for _, out := range []string{d.String(), d.GoString(), d.LogValue().String()} {
		if strings.Contains(out, raw) {
			t.Fatal("an output path shows the raw value")
		}
	}
	return raw
}

// checkRejected checks that an error does not repeat a digit-rich input.
func checkRejected(t *testing.T, err error, s string) {
	t.Helper()
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
	if len(digits) >= 6 && strings.Contains(err.Error(), digits) {
		t.Fatalf("error %q repeats the input's digits", err)
	}
}

func FuzzNewPhone(f *testing.F) {
	for _, s := range []string{"13812345678", "+86 138-1234-5678", "8613812345678", "1381234567",
		"+1 2025550123", "12812345678", "１３８１２３４５６７８", "", "+", "86", "+86"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := pii.NewPhone(s)
		if err != nil {
			checkRejected(t, err, s)
			return
		}
		raw := checkAccepted(t, d, pii.NewPhone)
		if len(raw) != 11 || raw[0] != '1' || raw[1] < '3' || strings.Trim(raw, "0123456789") != "" {
			t.Fatalf("accepted a malformed number of %d bytes", len(raw))
		}
	})
}

func FuzzNewIDNumber(f *testing.F) {
	for _, s := range []string{"11010519491231002X", "11010519491231002x", withCheck("50010719850312471"),
		withCheck("50010720230229123"), "110105194912310021", "", "５0010719850312123X"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := pii.NewIDNumber(s)
		if err != nil {
			checkRejected(t, err, s)
			return
		}
		raw := checkAccepted(t, d, pii.NewIDNumber)
		if len(raw) != 18 || withCheck(raw[:17]) != raw || raw[0] == '0' {
			t.Fatal("accepted a number that fails the check")
		}
	})
}

func FuzzOpen(f *testing.F) {
	s := sealer(f, 1)
	for _, v := range []string{"13812345678", "11010519491231002X"} {
		var d pii.Data
		if v[0] == '1' && len(v) == 11 {
			d, _ = pii.NewPhone(v)
		} else {
			d, _ = pii.NewIDNumber(v)
		}
		b, err := s.Seal(d)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{1, 2})
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := s.Open(b)
		if err != nil {
			if !d.IsZero() {
				t.Fatal("a failed Open returned data")
			}
			return
		}
		// Only genuine sealed values open; they open to valid data.
		again, err := s.Seal(d)
		if err != nil {
			t.Fatal(err)
		}
		back, err := s.Open(again)
		if err != nil || !back.Equal(d) {
			t.Fatalf("a value that opened does not round-trip: %v", err)
		}
	})
}
