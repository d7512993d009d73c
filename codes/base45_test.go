package codes_test

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/govkit/govkit/codes"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The examples of RFC 9285, sections 4.3 and 4.4.
func TestBase45RFCExamples(t *testing.T) {
	for _, c := range []struct{ in, out string }{
		{"AB", "BB8"},
		{"Hello!!", "%69 VD92EX0"},
		{"base-45", "UJCLQE7W581"},
		{"ietf!", "QED8WEX0"},
		{"", ""},
	} {
		assert.Equal(t, c.out, codes.EncodeBase45([]byte(c.in)), "encode %q", c.in)
		got, err := codes.DecodeBase45(c.out)
		require.NoError(t, err)
		assert.Equal(t, c.in, string(got), "decode %q", c.out)
	}
}

func TestBase45RoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := range 300 {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.UintN(256))
		}
		s := codes.EncodeBase45(b)
		assert.Len(t, s, codes.Base45Len(n))
		got, err := codes.DecodeBase45(s)
		require.NoError(t, err)
		assert.True(t, bytes.Equal(b, got))
	}
	// The extremes of each group.
	for _, b := range [][]byte{{0xff, 0xff}, {0xff}, {0, 0}, {0}} {
		got, err := codes.DecodeBase45(codes.EncodeBase45(b))
		require.NoError(t, err)
		assert.Equal(t, b, got)
	}
}

func TestBase45RejectsBadInput(t *testing.T) {
	for _, s := range []string{
		"A",      // a single dangling character
		"BB8A",   // the same after a good group
		"GGW",    // 16 + 16*45 + 32*2025 = 65536: one more than two bytes hold
		":::",    // 44 + 44*45 + 44*2025 = 91124
		"::",     // a final pair above 255
		"bb8",    // lower case is not in the alphabet
		"BB\x00", // nor NUL
		"ÄÄÄ",
	} {
		_, err := codes.DecodeBase45(s)
		assert.ErrorIs(t, err, codes.ErrBase45, "%q", s)
	}
}
