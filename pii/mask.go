package pii

import (
	"strings"
	"unicode/utf8"
)

// mask hides most of a validated value v of kind k. The formats follow
// common practice for Chinese personal data (GB/T 35273 de-identification):
// enough stays to tell records apart, not enough to identify a person.
func mask(k Kind, v string) string {
	switch k {
	case Phone: // 138****5678: the carrier prefix and the last four
		return v[:3] + "****" + v[7:]
	case IDNumber: // 110***********002X: the birth date goes
		return v[:3] + strings.Repeat("*", 11) + v[14:]
	case Name: // 张*, 欧***; a one-rune name is all hidden
		_, size := utf8.DecodeRuneInString(v)
		n := utf8.RuneCountInString(v)
		if n == 1 {
			return "*"
		}
		return v[:size] + strings.Repeat("*", n-1)
	case Address: // 重庆市九龙坡****: the district, not the door
		// Keep 6 runes, or half of a shorter address, so that a mask never
		// shows most of what it hides.
		keep := min(6, utf8.RuneCountInString(v)/2)
		i := 0
		for range keep {
			_, size := utf8.DecodeRuneInString(v[i:])
			i += size
		}
		return v[:i] + "****"
	}
	return ""
}
