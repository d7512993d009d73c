package bus

import "strings"

// ValidateSubject reports whether s is a concrete subject to publish on:
// dot-separated, non-empty tokens of ASCII letters, digits, '-' and '_'.
func ValidateSubject(s string) error {
	return validate(s, false, ErrInvalidSubject)
}

// ValidatePattern reports whether p is a subscription pattern: a subject
// whose tokens may also be "*" (any one token) or, as the last token, ">"
// (one or more tokens).
func ValidatePattern(p string) error {
	return validate(p, true, ErrInvalidSubject)
}

// ValidateGroup reports whether g is a group name: one token.
func ValidateGroup(g string) error {
	if err := validate(g, false, ErrInvalidGroup); err != nil {
		return err
	}
	if strings.Contains(g, ".") {
		return &SubjectError{g, "a group is a single token", ErrInvalidGroup}
	}
	return nil
}

// maxSubjectLen keeps subjects within MQTT's and NATS's practical limits.
const maxSubjectLen = 512

func validate(s string, wildcards bool, kind error) error {
	if s == "" {
		return &SubjectError{s, "empty", kind}
	}
	if len(s) > maxSubjectLen {
		return &SubjectError{s[:32] + "…", "longer than 512 bytes", kind}
	}
	tokens := strings.Split(s, ".")
	for i, tok := range tokens {
		if tok == "" {
			return &SubjectError{s, "empty token", kind}
		}
		if wildcards && (tok == "*" || (tok == ">" && i == len(tokens)-1)) {
			continue
		}
		for j := 0; j < len(tok); j++ {
			c := tok[j]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return &SubjectError{s, "token " + quote(tok) + " has a character outside [A-Za-z0-9_-]", kind}
			}
		}
	}
	return nil
}

func quote(s string) string { return `"` + s + `"` }

// Match reports whether subject matches pattern. Both are assumed valid.
func Match(pattern, subject string) bool {
	for {
		pi := strings.IndexByte(pattern, '.')
		si := strings.IndexByte(subject, '.')
		ptok, stok := pattern, subject
		if pi >= 0 {
			ptok = pattern[:pi]
		}
		if si >= 0 {
			stok = subject[:si]
		}
		if ptok == ">" {
			return true // ">" is last and needs at least one token, which stok is
		}
		if ptok != "*" && ptok != stok {
			return false
		}
		if pi < 0 || si < 0 {
			return pi < 0 && si < 0
		}
		pattern, subject = pattern[pi+1:], subject[si+1:]
	}
}
