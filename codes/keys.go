package codes

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"
)

// Algorithm is a signature algorithm codes and lists are signed with.
type Algorithm int8

// Algorithms. EdDSA (Ed25519) is the default: small keys and signatures,
// fast, deterministic. ES256 (ECDSA P-256 with SHA-256) is there for
// verifiers that interoperate with EU DCC tooling and hardware that only
// speaks it.
const (
	EdDSA Algorithm = iota + 1
	ES256
)

// String returns the COSE name of the algorithm.
func (a Algorithm) String() string {
	switch a {
	case EdDSA:
		return "EdDSA"
	case ES256:
		return "ES256"
	}
	return fmt.Sprintf("Algorithm(%d)", int8(a))
}

func (a Algorithm) cose() cose.Algorithm {
	if a == ES256 {
		return cose.AlgorithmES256
	}
	return cose.AlgorithmEdDSA
}

// KeyID names a key in a code's protected header: the first 8 bytes of
// the SHA-256 of the key's SubjectPublicKeyInfo, as the EU DCC does.
type KeyID [8]byte

// String returns the key id as 16 hex digits.
func (k KeyID) String() string { return hex.EncodeToString(k[:]) }

// Usage says what a key may sign.
type Usage uint8

// Usages, combined with |.
const (
	UsageCodes Usage = 1 << iota // codes
	UsageLists                   // status and revocation lists
)

// SigningKey is a private key with its id and algorithm, ready to sign.
// It is safe for concurrent use.
type SigningKey struct {
	id        KeyID
	alg       Algorithm
	private   crypto.Signer
	signer    cose.Signer
	spki      []byte               // the public key, DER SubjectPublicKeyInfo
	protected cbor.RawMessage      // the protected header of codes: {1: alg, 4: kid}
	hdr       cose.ProtectedHeader // the same as a map, read-only
}

// GenerateKey returns a new random key for alg.
func GenerateKey(alg Algorithm) (*SigningKey, error) {
	switch alg {
	case EdDSA:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		return NewSigningKey(priv)
	case ES256:
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		return NewSigningKey(priv)
	}
	return nil, invalid("algorithm", "%v is not supported", alg)
}

// NewSigningKey wraps an existing private key: an ed25519.PrivateKey or an
// *ecdsa.PrivateKey on P-256. (A key in an HSM fits as a crypto.Signer
// whose Public is one of these.)
func NewSigningKey(priv crypto.Signer) (*SigningKey, error) {
	var alg Algorithm
	switch pub := priv.Public().(type) {
	case ed25519.PublicKey:
		alg = EdDSA
	case *ecdsa.PublicKey:
		if pub.Curve != elliptic.P256() {
			return nil, invalid("key", "ECDSA curve %s, want P-256", pub.Curve.Params().Name)
		}
		alg = ES256
	default:
		return nil, invalid("key", "%T is not an Ed25519 or P-256 key", pub)
	}
	spki, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		return nil, &InputError{Field: "key", Reason: "public key does not encode", Err: err}
	}
	signer, fast := newEdSigner(priv)
	if !fast {
		if signer, err = cose.NewSigner(alg.cose(), priv); err != nil {
			return nil, &InputError{Field: "key", Reason: "no COSE signer", Err: err}
		}
	}
	k := &SigningKey{alg: alg, private: priv, signer: signer, spki: spki, id: keyIDOf(spki)}
	if k.protected, k.hdr, err = codeProtected(alg, k.id); err != nil {
		return nil, err
	}
	return k, nil
}

func keyIDOf(spki []byte) KeyID {
	sum := sha256.Sum256(spki)
	var id KeyID
	copy(id[:], sum[:])
	return id
}

// ID returns the key id.
func (k *SigningKey) ID() KeyID { return k.id }

// Algorithm returns the key's algorithm.
func (k *SigningKey) Algorithm() Algorithm { return k.alg }

// PublicKey returns the public part, with no issuer, usage or validity
// set: a KeyRing or the caller fills them in.
func (k *SigningKey) PublicKey() PublicKey {
	return PublicKey{ID: k.id, Algorithm: k.alg, SPKI: slices.Clone(k.spki)}
}

// PublicKey is a key as a trust list publishes it: its public part, whose
// codes it signs and for how long.
type PublicKey struct {
	ID        KeyID
	Algorithm Algorithm
	SPKI      []byte // DER SubjectPublicKeyInfo
	Issuer    string // the issuer whose codes it signs; empty for any
	Usage     Usage  // what it may sign
	Kinds     []Kind // the kinds of code it may sign; empty for every kind
	// NotBefore and NotAfter bound when the key may sign: a code issued
	// outside them is refused (ErrUnknownKey); a code issued within them
	// stays valid after the key retires, until the code expires.
	NotBefore time.Time
	NotAfter  time.Time
}

// Validate checks the key's fields and that its id matches its SPKI.
func (p PublicKey) Validate() error {
	if _, err := p.verifier(); err != nil {
		return err
	}
	switch {
	case keyIDOf(p.SPKI) != p.ID:
		return invalid("public key", "id %s does not match the key", p.ID)
	case p.Usage == 0 || p.Usage&^(UsageCodes|UsageLists) != 0:
		return invalid("public key", "usage %b", p.Usage)
	case !p.NotAfter.IsZero() && !p.NotAfter.After(p.NotBefore):
		return invalid("public key", "not-after is not after not-before")
	}
	return nil
}

// verifier parses the SPKI into a COSE verifier for the key's algorithm.
func (p PublicKey) verifier() (cose.Verifier, error) {
	pub, err := x509.ParsePKIXPublicKey(p.SPKI)
	if err != nil {
		return nil, &InputError{Field: "public key", Reason: "SPKI does not parse", Err: err}
	}
	switch k := pub.(type) {
	case ed25519.PublicKey:
		if p.Algorithm != EdDSA {
			return nil, invalid("public key", "an Ed25519 key declared as %v", p.Algorithm)
		}
		return newEdVerifier(k)
	case *ecdsa.PublicKey:
		if p.Algorithm != ES256 || k.Curve != elliptic.P256() {
			return nil, invalid("public key", "an ECDSA key declared as %v", p.Algorithm)
		}
	default:
		return nil, invalid("public key", "unsupported key type %T", pub)
	}
	v, err := cose.NewVerifier(p.Algorithm.cose(), pub)
	if err != nil {
		return nil, &InputError{Field: "public key", Reason: "no COSE verifier", Err: err}
	}
	return v, nil
}

// may reports whether the key may sign a code of kind issued at iat by
// issuer, and if not, why.
func (p *PublicKey) may(kind Kind, issuer string, iat time.Time) string {
	switch {
	case p.Usage&UsageCodes == 0:
		return "the key does not sign codes"
	case p.Issuer != "" && p.Issuer != issuer:
		return fmt.Sprintf("the key signs for %q, not %q", p.Issuer, issuer)
	case len(p.Kinds) > 0 && !slices.Contains(p.Kinds, kind):
		return fmt.Sprintf("the key does not sign %s codes", kind)
	case !p.NotBefore.IsZero() && iat.Before(p.NotBefore.Truncate(time.Second)):
		return "the code was issued before the key's validity"
	case !p.NotAfter.IsZero() && !iat.Before(p.NotAfter):
		return "the code was issued after the key retired"
	}
	return ""
}

func clonePublicKey(p PublicKey) PublicKey {
	p.SPKI = slices.Clone(p.SPKI)
	p.Kinds = slices.Clone(p.Kinds)
	return p
}

// KeyRing holds an issuer's signing keys: several may be active at once,
// so that a new key can be published on the trust list before it signs
// and an old one kept there until its codes expire. It is safe for
// concurrent use.
type KeyRing struct {
	mu   sync.RWMutex
	keys []ringKey
}

type ringKey struct {
	key *SigningKey
	pub PublicKey
}

// NewKeyRing returns an empty ring.
func NewKeyRing() *KeyRing { return &KeyRing{} }

// Add puts k on the ring with the issuer, usage, kinds and validity in
// meta (whose ID, Algorithm and SPKI are taken from k).
func (r *KeyRing) Add(k *SigningKey, meta PublicKey) error {
	if k == nil {
		return invalid("key", "nil")
	}
	meta.ID, meta.Algorithm, meta.SPKI = k.id, k.alg, slices.Clone(k.spki)
	meta.Kinds = slices.Clone(meta.Kinds)
	if err := meta.Validate(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.keys {
		if e.pub.ID == meta.ID {
			return &InputError{Field: "key", Reason: "key " + meta.ID.String() + " is already on the ring", Err: ErrConflict}
		}
	}
	r.keys = append(r.keys, ringKey{key: k, pub: meta})
	return nil
}

// Retire ends the key's signing at t: it signs nothing from then on, and
// codes it signed before stay valid.
func (r *KeyRing) Retire(id KeyID, t time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range r.keys {
		if r.keys[i].pub.ID == id {
			if !t.After(r.keys[i].pub.NotBefore) {
				return invalid("retire", "%v is not after the key's not-before", t)
			}
			r.keys[i].pub.NotAfter = t
			return nil
		}
	}
	return fmt.Errorf("%w: key %s", ErrNotFound, id)
}

// Signer returns the key that signs for usage and kind at t: of the keys
// valid then, the one whose validity began last, so that adding a key
// with a future NotBefore switches to it then.
func (r *KeyRing) Signer(usage Usage, kind Kind, t time.Time) (*SigningKey, PublicKey, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	best := -1
	for i := range r.keys {
		p := &r.keys[i].pub
		if p.Usage&usage == 0 || (kind != 0 && len(p.Kinds) > 0 && !slices.Contains(p.Kinds, kind)) {
			continue
		}
		if t.Before(p.NotBefore) || (!p.NotAfter.IsZero() && !t.Before(p.NotAfter)) {
			continue
		}
		if best < 0 || p.NotBefore.After(r.keys[best].pub.NotBefore) {
			best = i
		}
	}
	if best < 0 {
		return nil, PublicKey{}, fmt.Errorf("%w: no key on the ring signs %v for %s at %s", ErrNotFound, usage, kind, t.Format(time.RFC3339))
	}
	return r.keys[best].key, clonePublicKey(r.keys[best].pub), nil
}

// PublicKeys returns the public parts of every key on the ring, for the
// trust list.
func (r *KeyRing) PublicKeys() []PublicKey {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]PublicKey, len(r.keys))
	for i, e := range r.keys {
		out[i] = clonePublicKey(e.pub)
	}
	return out
}
