package codes

import (
	"crypto/ed25519"
	"io"

	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
	"github.com/veraison/go-cose"
)

// Ed25519 keys sign and verify through curve25519-voi rather than
// crypto/ed25519. The bytes are the same — Ed25519 is deterministic, and
// verification uses voi's crypto/ed25519-compatible preset — but voi keeps
// each trusted key decompressed with its precomputed table and uses AVX2
// where the CPU has it, which on the reference machine about doubles both
// rates (see BENCHMARKS.md). Offline verification is the hot path of a
// code check, and Ed25519 is nearly all of it.

// stdlibVerify accepts exactly what crypto/ed25519.Verify accepts.
var stdlibVerify = &voi.Options{Verify: voi.VerifyOptionsStdLib}

// edSigner is a cose.Signer for an in-memory Ed25519 private key.
type edSigner struct{ key voi.PrivateKey }

// newEdSigner returns the fast signer for priv, or false when priv is not
// an in-memory Ed25519 key (an HSM's crypto.Signer, say), which then signs
// through go-cose's generic path.
func newEdSigner(priv any) (cose.Signer, bool) {
	k, ok := priv.(ed25519.PrivateKey)
	if !ok || len(k) != ed25519.PrivateKeySize {
		return nil, false
	}
	return edSigner{key: voi.PrivateKey(k)}, true
}

func (edSigner) Algorithm() cose.Algorithm { return cose.AlgorithmEdDSA }

// Sign signs content; Ed25519 needs no randomness.
func (s edSigner) Sign(_ io.Reader, content []byte) ([]byte, error) {
	return voi.Sign(s.key, content), nil
}

// edVerifier is a cose.Verifier holding an expanded Ed25519 public key.
type edVerifier struct{ key *voi.ExpandedPublicKey }

func newEdVerifier(pub ed25519.PublicKey) (cose.Verifier, error) {
	k, err := voi.NewExpandedPublicKey(voi.PublicKey(pub))
	if err != nil {
		return nil, &InputError{Field: "public key", Reason: "not an Ed25519 point", Err: err}
	}
	return edVerifier{key: k}, nil
}

func (edVerifier) Algorithm() cose.Algorithm { return cose.AlgorithmEdDSA }

// Verify reports cose.ErrVerification for any signature crypto/ed25519
// would refuse, a wrong length included.
func (v edVerifier) Verify(content, signature []byte) error {
	if len(signature) != ed25519.SignatureSize || !voi.VerifyExpandedWithOptions(v.key, content, signature, stdlibVerify) {
		return cose.ErrVerification
	}
	return nil
}
