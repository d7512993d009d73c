package bus

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestMatch(t *testing.T) {
	cases := []struct {
		pattern, subject string
		want             bool
	}{
		{"gov.500000.>", "gov.500000.500107.alarm", true},
		{"gov.500000.>", "gov.500000", false},
		{"gov.*.alarm", "gov.500107.alarm", true},
		{"gov.*.alarm", "gov.500107.x.alarm", false},
		{"gov.*", "gov", false},
		{"a.b", "a.b", true},
		{"a.b", "a.bc", false},
		{"a.b", "a", false},
		{"a", "a.b", false},
		{">", "anything.at.all", true},
		{"*.*", "a.b", true},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, Match(c.pattern, c.subject), "%s ~ %s", c.pattern, c.subject)
	}
}

func TestValidate(t *testing.T) {
	assert.NoError(t, ValidateSubject("gov.500000.500107-x.incident_reported"))
	assert.NoError(t, ValidatePattern("gov.*.>"))
	assert.ErrorIs(t, ValidateSubject(strings.Repeat("a", 513)), ErrInvalidSubject)
	assert.ErrorIs(t, ValidateSubject("中文"), ErrInvalidSubject)
	assert.ErrorIs(t, ValidatePattern(">.a"), ErrInvalidSubject)
	assert.ErrorIs(t, ValidateGroup("a.b"), ErrInvalidGroup)
	var se *SubjectError
	assert.True(t, errors.As(ValidateSubject("a..b"), &se))
	assert.Equal(t, "empty token", se.Reason)
}

func FuzzMatch(f *testing.F) {
	f.Add("gov.*.>", "gov.1.2")
	f.Fuzz(func(t *testing.T, pattern, subject string) {
		if ValidatePattern(pattern) != nil || ValidateSubject(subject) != nil {
			return
		}
		got := Match(pattern, subject)
		// Reference: token by token.
		p, s := strings.Split(pattern, "."), strings.Split(subject, ".")
		want := func() bool {
			for i, tok := range p {
				if tok == ">" {
					return len(s) > i
				}
				if i >= len(s) || (tok != "*" && tok != s[i]) {
					return false
				}
			}
			return len(p) == len(s)
		}()
		if got != want {
			t.Fatalf("Match(%q, %q) = %v, want %v", pattern, subject, got, want)
		}
	})
}
