package pii

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// ErrInvalid is matched by every error about a value a constructor rejected.
var ErrInvalid = errors.New("pii: invalid personal data")

// Sentinels for each kind; each also matches ErrInvalid.
var (
	ErrInvalidName     = fmt.Errorf("%w: name", ErrInvalid)
	ErrInvalidPhone    = fmt.Errorf("%w: phone", ErrInvalid)
	ErrInvalidIDNumber = fmt.Errorf("%w: id-number", ErrInvalid)
	ErrInvalidAddress  = fmt.Errorf("%w: address", ErrInvalid)
)

// Error reports a value that a constructor rejected, and why. It never
// contains the value itself, which may be personal data even when it is
// malformed (a phone number with a digit missing): Reason says what was
// wrong in general terms, such as "11 digits expected, got 10".
type Error struct {
	Kind   Kind
	Reason string
}

// Error says which kind was rejected and why, e.g.
// "pii: invalid phone: 11 digits expected, got 10".
func (e *Error) Error() string { return "pii: invalid " + e.Kind.String() + ": " + e.Reason }

// Unwrap lets errors.Is match the kind's sentinel (ErrInvalidPhone, …) and
// through it ErrInvalid.
func (e *Error) Unwrap() error {
	switch e.Kind {
	case Name:
		return ErrInvalidName
	case Phone:
		return ErrInvalidPhone
	case IDNumber:
		return ErrInvalidIDNumber
	case Address:
		return ErrInvalidAddress
	}
	return ErrInvalid
}

func invalid(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Reason: fmt.Sprintf(format, args...)}
}

// Length limits, in runes.
const (
	maxNameRunes    = 64
	maxAddressRunes = 256
)

// newOf builds a Data of kind k from s, validating and normalising it.
func newOf(k Kind, s string) (Data, error) {
	switch k {
	case Name:
		return NewName(s)
	case Phone:
		return NewPhone(s)
	case IDNumber:
		return NewIDNumber(s)
	case Address:
		return NewAddress(s)
	}
	return Data{}, &Error{Kind: k, Reason: "unknown kind"}
}

// NewName returns a person's name: surrounding white space is trimmed, and
// the rest must be 1 to 64 runes of valid UTF-8 with no control characters.
func NewName(s string) (Data, error) {
	v, err := text(Name, s, maxNameRunes)
	if err != nil {
		return Data{}, err
	}
	return newData(Name, v), nil
}

// NewAddress returns an address: surrounding white space is trimmed, and
// the rest must be 1 to 256 runes of valid UTF-8 with no control
// characters.
func NewAddress(s string) (Data, error) {
	v, err := text(Address, s, maxAddressRunes)
	if err != nil {
		return Data{}, err
	}
	return newData(Address, v), nil
}

func text(k Kind, s string, maxRunes int) (string, error) {
	if !utf8.ValidString(s) {
		return "", invalid(k, "not valid UTF-8")
	}
	s = strings.TrimSpace(s)
	n := 0
	for _, r := range s {
		n++
		if unicode.IsControl(r) {
			// A control character could rewrite a log line or a terminal.
			return "", invalid(k, "control character at rune %d", n)
		}
	}
	switch {
	case n == 0:
		return "", invalid(k, "empty")
	case n > maxRunes:
		return "", invalid(k, "at most %d characters allowed, got %d", maxRunes, n)
	}
	return s, nil
}

// NewPhone returns a Chinese mainland mobile number, normalised to its 11
// digits. Spaces and hyphens are removed and a leading "+86" or "86" country
// code is dropped, so "+86 138-1234-5678" and "13812345678" are the same
// number; the rest must be 11 digits, the first 1 and the second 3 to 9.
// Landlines and foreign numbers are rejected.
func NewPhone(s string) (Data, error) {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != ' ' && c != '-' {
			b = append(b, c)
		}
	}
	switch {
	case len(b) > 0 && b[0] == '+':
		if len(b) < 3 || b[1] != '8' || b[2] != '6' {
			return Data{}, invalid(Phone, "only the +86 country code is accepted")
		}
		b = b[3:]
	case len(b) == 13 && b[0] == '8' && b[1] == '6':
		b = b[2:]
	}
	for i, c := range b {
		if c < '0' || c > '9' {
			return Data{}, invalid(Phone, "non-digit at position %d", i+1)
		}
	}
	switch {
	case len(b) != 11:
		return Data{}, invalid(Phone, "11 digits expected, got %d", len(b))
	case b[0] != '1':
		return Data{}, invalid(Phone, "a mobile number starts with 1")
	case b[1] < '3':
		return Data{}, invalid(Phone, "the second digit of a mobile number is 3 to 9")
	}
	return newData(Phone, string(b)), nil
}

// idCheckChars maps the weighted sum mod 11 to the check character.
const idCheckChars = "10X98765432"

// idCheck returns the check character of the 17 digits in s.
func idCheck(s string) byte {
	// The ISO 7064 MOD 11-2 weights of characters 1 to 17: 2^(18-i) mod 11.
	weights := [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i, w := range weights {
		sum += int(s[i]-'0') * w
	}
	return idCheckChars[sum%11]
}

// NewIDNumber returns an 18-character resident identity number (GB
// 11643-1999), with a lower-case check character x normalised to X and
// surrounding white space trimmed. It checks the form (17 digits and a
// digit or X), that the 6-digit area code does not start with 0, that the
// birth date in characters 7 to 14 is a real date in 1900 or later, and the
// ISO 7064 MOD 11-2 check character. It does not check that the area code
// exists or that the birth date is in the past.
func NewIDNumber(s string) (Data, error) {
	s = strings.TrimSpace(s)
	if n := utf8.RuneCountInString(s); n != 18 || len(s) != 18 {
		return Data{}, invalid(IDNumber, "18 characters expected, got %d", n)
	}
	for i := 0; i < 17; i++ {
		if s[i] < '0' || s[i] > '9' {
			return Data{}, invalid(IDNumber, "non-digit at position %d", i+1)
		}
	}
	last := s[17]
	switch {
	case last == 'x':
		s = s[:17] + "X"
		last = 'X'
	case last != 'X' && (last < '0' || last > '9'):
		return Data{}, invalid(IDNumber, "the check character is a digit or X")
	}
	if s[0] == '0' {
		return Data{}, invalid(IDNumber, "the area code does not start with 0")
	}
	if !realDate(s[6:14]) {
		return Data{}, invalid(IDNumber, "the birth date is not a real date in 1900 or later")
	}
	if idCheck(s) != last {
		return Data{}, invalid(IDNumber, "the check character does not match")
	}
	return newData(IDNumber, s), nil
}

// realDate reports whether the 8 digits of s are a calendar date YYYYMMDD
// with a year of 1900 or later.
func realDate(s string) bool {
	num := func(t string) int {
		n := 0
		for i := 0; i < len(t); i++ {
			n = n*10 + int(t[i]-'0')
		}
		return n
	}
	y, m, d := num(s[:4]), num(s[4:6]), num(s[6:])
	if y < 1900 || m < 1 || m > 12 || d < 1 {
		return false
	}
	// Day 0 of the next month is the last day of this one.
	return d <= time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}
