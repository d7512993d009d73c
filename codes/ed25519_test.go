package codes

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/veraison/go-cose"
)

// The fast Ed25519 path must be a drop-in for crypto/ed25519: the same
// signatures, and the same verdict on every signature, good or bad.

func TestEdSignerSignsAsStdlib(t *testing.T) {
	for i := range 20 {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		s, ok := newEdSigner(priv)
		if !ok {
			t.Fatal("an in-memory Ed25519 key got the generic signer")
		}
		msg := bytes.Repeat([]byte{byte(i)}, i*37)
		got, err := s.Sign(nil, msg)
		if err != nil {
			t.Fatal(err)
		}
		if want := ed25519.Sign(priv, msg); !bytes.Equal(got, want) {
			t.Fatalf("message %d: signature %x, crypto/ed25519 gives %x", i, got, want)
		}
	}
}

// opaqueSigner hides the key's type, as an HSM's crypto.Signer does.
type opaqueSigner struct{ key ed25519.PrivateKey }

func (o opaqueSigner) Public() crypto.PublicKey { return o.key.Public() }
func (o opaqueSigner) Sign(r io.Reader, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	return o.key.Sign(r, msg, opts)
}

func TestSealIsTheSameOnBothSigningPaths(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	if _, ok := newEdSigner(opaqueSigner{priv}); ok {
		t.Fatal("an opaque crypto.Signer took the in-memory path")
	}
	fast, err := NewSigningKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	generic, err := NewSigningKey(opaqueSigner{priv})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := generic.signer.(edSigner); ok {
		t.Fatal("the opaque key signs through edSigner")
	}
	c := &Claims{Kind: Listing, Subject: "room-1", Issuer: "500107", ID: NewRevocationID()}
	a, err := Seal(fast, c)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Seal(generic, c)
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Fatalf("the two paths seal differently:\n%s\n%s", a, b)
	}
}

func TestEdVerifierAgreesWithStdlib(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	msg := []byte("a code's Sig_structure")
	sig := ed25519.Sign(priv, msg)

	type tc struct {
		name     string
		pub      ed25519.PublicKey
		msg, sig []byte
	}
	cases := []tc{
		{"good", pub, msg, sig},
		{"other message", pub, []byte("another"), sig},
		{"short", pub, msg, sig[:63]},
		{"long", pub, msg, append(bytes.Clone(sig), 0)},
		{"empty", pub, msg, nil},
	}
	for i := range len(sig) * 8 {
		bad := bytes.Clone(sig)
		bad[i/8] ^= 1 << (i % 8)
		cases = append(cases, tc{fmt.Sprintf("bit %d flipped", i), pub, msg, bad})
	}
	// S + L: the same signature with a non-canonical S, which RFC 8032
	// and crypto/ed25519 refuse.
	l := []byte{0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10}
	nonCanonical := bytes.Clone(sig)
	carry := 0
	for i := range 32 {
		v := int(nonCanonical[32+i]) + int(l[i]) + carry
		nonCanonical[32+i], carry = byte(v), v>>8
	}
	cases = append(cases, tc{"S+L", pub, msg, nonCanonical})
	// The identity as key and as R with S = 0: a small-order key that
	// crypto/ed25519 accepts for any message. The verifier must give the
	// same answer, not a stricter or looser one.
	identity := make([]byte, 32)
	identity[0] = 1
	cases = append(cases, tc{"small-order key", ed25519.PublicKey(identity), msg, append(bytes.Clone(identity), make([]byte, 32)...)})

	for _, c := range cases {
		v, err := newEdVerifier(c.pub)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		want := ed25519.Verify(c.pub, c.msg, c.sig)
		err = v.Verify(c.msg, c.sig)
		if got := err == nil; got != want {
			t.Fatalf("%s: verifier says %v, crypto/ed25519 says %v", c.name, got, want)
		}
		if err != nil && !errors.Is(err, cose.ErrVerification) {
			t.Fatalf("%s: error %v, want cose.ErrVerification", c.name, err)
		}
	}
}

func TestEdVerifierRefusesAKeyThatIsNoPoint(t *testing.T) {
	// y = 2 is not the y of any point on the curve.
	bad := make([]byte, 32)
	bad[0] = 2
	_, err := newEdVerifier(bad)
	var ie *InputError
	if !errors.As(err, &ie) {
		t.Fatalf("error %v, want *InputError", err)
	}
}
