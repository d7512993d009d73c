package pii

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
)

// ErrInvalidKey is matched by every error about a key NewSealer rejected.
var ErrInvalidKey = errors.New("pii: invalid key")

// ErrSealed is matched by every error from opening sealed data: too short,
// an unknown version, a wrong key, tampering.
var ErrSealed = errors.New("pii: cannot open sealed data")

// KeyError says why NewSealer rejected a key. It never holds the key.
type KeyError struct {
	Key    string // "encryption" or "index"
	Reason string
}

// Error names the key and the problem, never the key's bytes.
func (e *KeyError) Error() string { return "pii: invalid " + e.Key + " key: " + e.Reason }

// Unwrap lets errors.Is(err, ErrInvalidKey) match.
func (e *KeyError) Unwrap() error { return ErrInvalidKey }

// SealedError says why Open rejected its input.
type SealedError struct {
	Reason string
	Err    error // the validation error of a decrypted value, if any
}

// Error says why the input did not open.
func (e *SealedError) Error() string {
	if e.Err != nil {
		return "pii: cannot open sealed data: " + e.Reason + ": " + e.Err.Error()
	}
	return "pii: cannot open sealed data: " + e.Reason
}

// Unwrap lets errors.Is match ErrSealed, and the validation error if any.
func (e *SealedError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrSealed, e.Err}
	}
	return []error{ErrSealed}
}

// KeySize is the length in bytes of each of a Sealer's keys.
const KeySize = 32

// The sealed format: version, kind, then what the AEAD produces (nonce,
// ciphertext, tag). Version and kind are the additional authenticated data.
const (
	sealVersion = 1
	headerSize  = 2
	nonceSize   = 12
	tagSize     = 16
	minSealed   = headerSize + nonceSize + 1 + tagSize // values are never empty
)

// Sealer encrypts personal data for storage and computes blind indexes to
// find it without decrypting. It is safe for concurrent use.
type Sealer struct {
	// Behind pointers, like Data's value, so that printing a Sealer with
	// any verb shows addresses rather than the keys.
	k *sealerKeys
}

type sealerKeys struct {
	aead  cipher.AEAD
	index *[KeySize]byte
}

// NewSealer returns a Sealer that encrypts with encKey (AES-256-GCM) and
// computes blind indexes with indexKey (HMAC-SHA256). Each key must be
// KeySize random bytes, and they must differ: a leaked index key must not
// also decrypt. Keep both out of source code and logs; the Sealer copies
// them, so the caller may clear its slices.
func NewSealer(encKey, indexKey []byte) (*Sealer, error) {
	for _, k := range []struct {
		name string
		b    []byte
	}{{"encryption", encKey}, {"index", indexKey}} {
		switch {
		case len(k.b) != KeySize:
			return nil, &KeyError{k.name, fmt.Sprintf("%d bytes expected, got %d", KeySize, len(k.b))}
		case subtle.ConstantTimeCompare(k.b, make([]byte, KeySize)) == 1:
			return nil, &KeyError{k.name, "all zero bytes: an unset key?"}
		}
	}
	if subtle.ConstantTimeCompare(encKey, indexKey) == 1 {
		return nil, &KeyError{"index", "the encryption and index keys must differ"}
	}
	block, err := aes.NewCipher(encKey)
	if err != nil {
		return nil, &KeyError{"encryption", err.Error()}
	}
	// A random 12-byte nonce per Seal, prepended to the ciphertext. Random
	// nonces are safe for about 2^32 seals under one key; rotate keys well
	// before that.
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, &KeyError{"encryption", err.Error()}
	}
	k := &sealerKeys{aead: aead, index: new([KeySize]byte)}
	copy(k.index[:], indexKey)
	return &Sealer{k}, nil
}

// Seal encrypts d for storage: a version byte, the kind byte, a random
// 12-byte nonce, then the AES-256-GCM ciphertext and tag. The version and
// kind are authenticated, so a sealed phone number cannot be opened as
// another kind. Sealing the same value twice gives different bytes; use
// Index to find equal values. The zero Data cannot be sealed.
func (s *Sealer) Seal(d Data) ([]byte, error) {
	if d.p == nil {
		return nil, fmt.Errorf("%w: the zero Data holds nothing to seal", ErrInvalid)
	}
	hdr := [headerSize]byte{sealVersion, byte(d.p.kind)}
	out := make([]byte, headerSize, headerSize+s.k.aead.Overhead()+len(*d.p.value))
	copy(out, hdr[:])
	return s.k.aead.Seal(out, nil, []byte(*d.p.value), hdr[:]), nil
}

// Open decrypts what Seal produced. Input that is short, of an unknown
// version or kind, encrypted under another key or altered in any byte fails
// with a *SealedError matching ErrSealed. The decrypted value is validated
// again by its kind, so a Data from Open is as sound as one from a
// constructor.
func (s *Sealer) Open(b []byte) (Data, error) {
	switch {
	case len(b) < minSealed:
		return Data{}, &SealedError{Reason: fmt.Sprintf("at least %d bytes expected, got %d", minSealed, len(b))}
	case b[0] != sealVersion:
		return Data{}, &SealedError{Reason: fmt.Sprintf("unknown version %d", b[0])}
	case !Kind(b[1]).valid():
		return Data{}, &SealedError{Reason: fmt.Sprintf("unknown kind %d", b[1])}
	}
	k := Kind(b[1])
	v, err := s.k.aead.Open(nil, nil, b[headerSize:], b[:headerSize])
	if err != nil {
		return Data{}, &SealedError{Reason: "authentication failed: wrong key or altered data"}
	}
	d, err := newOf(k, string(v))
	if err != nil {
		return Data{}, &SealedError{Reason: "the sealed value is not a valid " + k.String(), Err: err}
	}
	return d, nil
}

// Index returns a blind index of d: HMAC-SHA256 under the index key of the
// kind and the normalised value, 32 bytes. Store it beside the sealed value
// to find records by value without decrypting — "all reports from this
// phone number" — since equal values give equal indexes ("138 1234 5678"
// and "+8613812345678" alike).
//
// The index is deterministic, so it links records: anyone who can read the
// indexes sees which records share a value, and anyone who also holds the
// index key can test guesses (a phone number has only about 10^10 values).
// Keep the index key secret and apart from the data. The zero Data has a
// nil index.
func (s *Sealer) Index(d Data) []byte {
	if d.p == nil {
		return nil
	}
	mac := hmac.New(sha256.New, s.k.index[:])
	mac.Write([]byte{byte(d.p.kind)})
	mac.Write([]byte(*d.p.value))
	return mac.Sum(nil)
}
