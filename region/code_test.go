package region

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseCode(t *testing.T) {
	good := map[string]Level{
		"500000":          City,
		"500100":          City,
		"500107":          District,
		"500107001":       Street,
		"500107001002":    Community,
		"500107001002003": Grid,
		"441900001":       Street, // Dongguan has streets directly under the city
	}
	for s, level := range good {
		c, err := ParseCode(s)
		require.NoError(t, err, s)
		assert.Equal(t, level, c.Level(), s)
		assert.Equal(t, s, c.String())
	}
	bad := map[string]string{
		"":                "length",
		"50010":           "length",
		"5001070011":      "length",
		"50010a":          "non-digit at position 6",
		"５00107":          "length", // full-width digit is several bytes
		"000107":          "province",
		"500107000":       "street part",
		"500107001000":    "community part",
		"500107001001000": "grid part",
		" 500107":         "length",
	}
	for s, reason := range bad {
		_, err := ParseCode(s)
		require.Error(t, err, s)
		assert.True(t, errors.Is(err, ErrInvalidCode), s)
		var ce *CodeError
		require.True(t, errors.As(err, &ce))
		assert.Contains(t, ce.Reason, reason, s)
		assert.Equal(t, s, ce.Code)
	}
	assert.Panics(t, func() { MustParseCode("1") })
}

func TestWithin(t *testing.T) {
	cases := []struct {
		code, ancestor string
		want           bool
	}{
		{"500107001002003", "500107001002", true},
		{"500107001002003", "500107001", true},
		{"500107001002003", "500107", true},
		{"500107001002003", "500100", true},
		{"500107001002003", "500000", true},
		{"500107", "500107", true},
		{"500107001002003", "500107001003", false}, // next community
		{"500107002001001", "500107001", false},    // next street
		{"500108001", "500107", false},             // next district
		{"500207", "500100", false},                // a county under 500200
		{"510107", "500000", false},                // Sichuan
		{"500107", "500107001", false},             // a parent is not within its child
		{"500107", "", false},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, Code(c.code).Within(Code(c.ancestor)), "%s within %s", c.code, c.ancestor)
	}
}

func TestPrefix(t *testing.T) {
	assert.Equal(t, "50", Code("500000").Prefix())
	assert.Equal(t, "5001", Code("500100").Prefix())
	assert.Equal(t, "500107", Code("500107").Prefix())
	assert.Equal(t, "500107001", Code("500107001").Prefix())
}

func TestLevelNames(t *testing.T) {
	for l := City; l <= Grid; l++ {
		got, err := ParseLevel(l.String())
		require.NoError(t, err)
		assert.Equal(t, l, got)
	}
	_, err := ParseLevel("province")
	assert.Error(t, err)
	assert.Equal(t, "Level(9)", Level(9).String())
	assert.Equal(t, Level(0), Code("12").Level())
}

func FuzzParseCode(f *testing.F) {
	for _, s := range []string{"500107001002003", "500000", "500107000", "abc", "", "441900001"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCode(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidCode) {
				t.Fatalf("error %v does not match ErrInvalidCode", err)
			}
			return
		}
		if string(c) != s || c.Level() == 0 {
			t.Fatalf("accepted %q as %q at level %v", s, c, c.Level())
		}
		if !c.Within(c) {
			t.Fatalf("%q not within itself", c)
		}
		if p, ok := c.structuralParent(); ok {
			if _, err := ParseCode(string(p)); err != nil {
				t.Fatalf("parent %q of valid %q is invalid: %v", p, c, err)
			}
			if !c.Within(p) || p.Within(c) {
				t.Fatalf("%q and its parent %q disagree on Within", c, p)
			}
		}
	})
}
