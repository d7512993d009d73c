package pii_test

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/govkit/govkit/pii"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func keys(seed byte) (enc, idx []byte) {
	enc, idx = make([]byte, pii.KeySize), make([]byte, pii.KeySize)
	for i := range enc {
		enc[i], idx[i] = seed+byte(i), seed+byte(i)+100
	}
	return enc, idx
}

func sealer(t testing.TB, seed byte) *pii.Sealer {
	t.Helper()
	enc, idx := keys(seed)
	s, err := pii.NewSealer(enc, idx)
	require.NoError(t, err)
	return s
}

func TestNewSealerKeys(t *testing.T) {
	enc, idx := keys(1)
	for _, c := range []struct {
		name     string
		enc, idx []byte
		want     string
	}{
		{"short encryption key", enc[:16], idx, "pii: invalid encryption key: 32 bytes expected, got 16"},
		{"long index key", enc, append(idx, 0), "pii: invalid index key: 32 bytes expected, got 33"},
		{"nil", nil, nil, "pii: invalid encryption key: 32 bytes expected, got 0"},
		{"zero key", make([]byte, 32), idx, "pii: invalid encryption key: all zero bytes: an unset key?"},
		{"same keys", enc, bytes.Clone(enc), "pii: invalid index key: the encryption and index keys must differ"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := pii.NewSealer(c.enc, c.idx)
			assert.Nil(t, s)
			require.ErrorIs(t, err, pii.ErrInvalidKey)
			var ke *pii.KeyError
			require.ErrorAs(t, err, &ke)
			assert.Equal(t, c.want, err.Error())
		})
	}
}

func TestSealOpen(t *testing.T) {
	s := sealer(t, 1)
	id, err := pii.NewIDNumber("11010519491231002X")
	require.NoError(t, err)
	name, err := pii.NewName("欧阳娜娜")
	require.NoError(t, err)
	addr, err := pii.NewAddress("重庆市九龙坡区石桥铺街道科园一路3号")
	require.NoError(t, err)
	for _, d := range []pii.Data{mustPhone(t, "13812345678"), id, name, addr} {
		b, err := s.Seal(d)
		require.NoError(t, err)
		assert.Equal(t, byte(1), b[0], "version")
		assert.Equal(t, byte(d.Kind()), b[1], "kind")
		assert.Len(t, b, 2+12+len(reveal(t, d))+16)
		assert.NotContains(t, string(b), reveal(t, d))

		got, err := s.Open(b)
		require.NoError(t, err)
		assert.True(t, got.Equal(d))
		assert.Equal(t, d.Kind(), got.Kind())
		assert.Equal(t, d.Masked(), got.Masked())

		again, err := s.Seal(d)
		require.NoError(t, err)
		assert.NotEqual(t, b, again, "a fresh nonce each time")
	}
	_, err = s.Seal(pii.Data{})
	assert.ErrorIs(t, err, pii.ErrInvalid)
}

func TestOpenRejects(t *testing.T) {
	s := sealer(t, 1)
	d := mustPhone(t, "13812345678")
	b, err := s.Seal(d)
	require.NoError(t, err)

	// Every byte matters: version, kind, nonce, ciphertext, tag.
	for i := range b {
		bad := bytes.Clone(b)
		bad[i] ^= 0x01
		_, err := s.Open(bad)
		require.ErrorIs(t, err, pii.ErrSealed, "byte %d", i)
		var se *pii.SealedError
		require.ErrorAs(t, err, &se)
	}

	// Kind confusion: relabelling a sealed phone number as a name fails
	// authentication rather than opening as a name.
	relabelled := bytes.Clone(b)
	relabelled[1] = byte(pii.Name)
	_, err = s.Open(relabelled)
	assert.EqualError(t, err, "pii: cannot open sealed data: authentication failed: wrong key or altered data")

	other := sealer(t, 2)
	_, err = other.Open(b)
	assert.EqualError(t, err, "pii: cannot open sealed data: authentication failed: wrong key or altered data")

	for _, c := range []struct {
		in   []byte
		want string
	}{
		{nil, "at least 31 bytes expected, got 0"},
		{b[:30], "at least 31 bytes expected, got 30"},
		{append([]byte{2}, b[1:]...), "unknown version 2"},
		{append([]byte{1, 0}, b[2:]...), "unknown kind 0"},
		{append([]byte{1, 5}, b[2:]...), "unknown kind 5"},
		{b[:len(b)-1], "authentication failed: wrong key or altered data"},
		{append(bytes.Clone(b), 0), "authentication failed: wrong key or altered data"},
	} {
		_, err := s.Open(c.in)
		require.ErrorIs(t, err, pii.ErrSealed)
		assert.Equal(t, "pii: cannot open sealed data: "+c.want, err.Error())
	}
}

func TestIndex(t *testing.T) {
	s := sealer(t, 1)
	a := s.Index(mustPhone(t, "138 1234 5678"))
	b := s.Index(mustPhone(t, "+8613812345678"))
	c := s.Index(mustPhone(t, "13812345679"))
	assert.Len(t, a, 32)
	assert.Equal(t, a, b, "equal values, equal indexes")
	assert.NotEqual(t, a, c)

	n, err := pii.NewName("13812345678")
	require.NoError(t, err)
	assert.NotEqual(t, a, s.Index(n), "the kind is part of the index")
	assert.NotEqual(t, a, sealer(t, 2).Index(mustPhone(t, "13812345678")), "another key, another index")
	assert.Nil(t, s.Index(pii.Data{}))
}

func TestSealerPrintsNoKeys(t *testing.T) {
	enc, idx := keys(1)
	s, err := pii.NewSealer(enc, idx)
	require.NoError(t, err)
	for _, f := range allVerbs {
		for _, arg := range []any{s, *s, struct{ s pii.Sealer }{*s}} {
			out := fmt.Sprintf(f, arg)
			assert.NotContains(t, out, "101 102 103", f) // idx as decimal bytes
			assert.NotContains(t, out, fmt.Sprintf("%x", idx[:4]), f)
			assert.NotContains(t, out, fmt.Sprintf("%x", enc[:4]), f)
		}
	}
}

func BenchmarkSealOpen(b *testing.B) {
	enc, idx := make([]byte, 32), make([]byte, 32)
	rand.Read(enc)
	rand.Read(idx)
	s, err := pii.NewSealer(enc, idx)
	require.NoError(b, err)
	d := mustPhone(b, "13812345678")
	for b.Loop() {
		sealed, err := s.Seal(d)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Open(sealed); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkIndex(b *testing.B) {
	s := sealer(b, 1)
	d := mustPhone(b, "13812345678")
	for b.Loop() {
		s.Index(d)
	}
}
