package codes

import (
	"errors"
	"fmt"
)

// base45Alphabet is RFC 9285's: exactly the characters of QR alphanumeric
// mode, so a base45 text fills a QR code at 5.5 bits per character.
const base45Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

var base45Index = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(base45Alphabet); i++ {
		t[base45Alphabet[i]] = int8(i)
	}
	return t
}()

// ErrBase45 is matched by every base45 decoding error.
var ErrBase45 = errors.New("codes: invalid base45")

// AppendBase45 appends the RFC 9285 base45 encoding of src to dst: every
// two bytes become three characters, a final odd byte two.
func AppendBase45(dst, src []byte) []byte {
	for i := 0; i+1 < len(src); i += 2 {
		n := int(src[i])<<8 | int(src[i+1])
		dst = append(dst, base45Alphabet[n%45], base45Alphabet[n/45%45], base45Alphabet[n/2025])
	}
	if len(src)%2 == 1 {
		n := int(src[len(src)-1])
		dst = append(dst, base45Alphabet[n%45], base45Alphabet[n/45])
	}
	return dst
}

// EncodeBase45 returns the RFC 9285 base45 encoding of src.
func EncodeBase45(src []byte) string {
	return string(AppendBase45(make([]byte, 0, Base45Len(len(src))), src))
}

// Base45Len returns the length of the base45 encoding of n bytes.
func Base45Len(n int) int { return n/2*3 + n%2*2 }

// AppendDecodeBase45 appends the bytes that the base45 text src encodes to
// dst. It rejects characters outside the alphabet, a dangling single
// character and groups whose value exceeds what they may encode, with an
// error matching ErrBase45.
func AppendDecodeBase45[S ~string | ~[]byte](dst []byte, src S) ([]byte, error) {
	if len(src)%3 == 1 {
		return dst, fmt.Errorf("%w: length %d leaves a single character", ErrBase45, len(src))
	}
	for i := 0; i < len(src); i += 3 {
		var v [3]int
		n := min(3, len(src)-i)
		for j := 0; j < n; j++ {
			c := base45Index[src[i+j]]
			if c < 0 {
				return dst, fmt.Errorf("%w: character %q at %d is outside the alphabet", ErrBase45, src[i+j], i+j)
			}
			v[j] = int(c)
		}
		x := v[0] + v[1]*45 + v[2]*2025
		if n == 3 {
			if x > 0xFFFF {
				return dst, fmt.Errorf("%w: group at %d encodes %d, more than two bytes", ErrBase45, i, x)
			}
			dst = append(dst, byte(x>>8), byte(x))
		} else {
			if x > 0xFF {
				return dst, fmt.Errorf("%w: final group encodes %d, more than one byte", ErrBase45, x)
			}
			dst = append(dst, byte(x))
		}
	}
	return dst, nil
}

// DecodeBase45 returns the bytes that the base45 text s encodes.
func DecodeBase45(s string) ([]byte, error) {
	return AppendDecodeBase45(make([]byte, 0, len(s)/3*2+1), s)
}
