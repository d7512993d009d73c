package codes

import (
	"crypto/rand"
	"fmt"
	"strings"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"
)

// Prefix starts every govkit code, like the EU DCC's "HC1:": the "1" is
// the format version. It and the base45 text after it are all QR
// alphanumeric characters.
const Prefix = "GK1:"

// MaxCodeLen is the longest code text accepted: what a version 40 QR code
// holds in alphanumeric mode at error-correction level L. Longer input is
// refused before any decoding.
const MaxCodeLen = 4296

// emptyMap is the CBOR empty map: codes carry no unprotected header.
var emptyMap = []byte{0xa0}

// Seal signs claims with key and encodes them as a code: CBOR claims
// (a CWT) in a tagged COSE_Sign1 whose protected header carries the
// algorithm and key id, base45-encoded behind Prefix. Seal checks the
// shape of the claims but not the kind registry: Service.Issue does.
func Seal(key *SigningKey, c *Claims) (string, error) {
	if key == nil {
		return "", invalid("key", "nil")
	}
	if c.ID.IsZero() {
		return "", invalid("claims", "zero revocation id")
	}
	payload, err := c.marshal()
	if err != nil {
		return "", err
	}
	msg := cose.Sign1Message{
		Headers: cose.Headers{
			RawProtected: key.protected, Protected: key.hdr,
			RawUnprotected: emptyMap, Unprotected: cose.UnprotectedHeader{},
		},
		Payload: payload,
	}
	if err := msg.Sign(rand.Reader, nil, key.signer); err != nil {
		return "", fmt.Errorf("codes: signing: %w", err)
	}
	b, err := msg.MarshalCBOR()
	if err != nil {
		return "", fmt.Errorf("codes: encoding COSE_Sign1: %w", err)
	}
	out := make([]byte, 0, len(Prefix)+Base45Len(len(b)))
	out = append(out, Prefix...)
	return string(AppendBase45(out, b)), nil
}

// headers returns the key's protected header as a map, which go-cose
// consults for the algorithm; it encodes as k.protected.
func (k *SigningKey) headers() cose.ProtectedHeader {
	return cose.ProtectedHeader{cose.HeaderLabelAlgorithm: k.alg.cose(), cose.HeaderLabelKeyID: k.id[:]}
}

// sign1 is a COSE_Sign1's four parts as they travel. The verifier reads
// them with the strict CBOR decoder, then hands them to go-cose as a
// Sign1Message, whose Verify builds the Sig_structure and checks the
// signature.
type sign1 struct {
	_           struct{}        `cbor:",toarray"`
	Protected   cbor.RawMessage // a byte string holding the header map
	Unprotected cbor.RawMessage
	Payload     []byte
	Signature   []byte
}

// protectedHeader is what a code's protected header may say.
type protectedHeader struct {
	Alg int64  `cbor:"1,keyasint"`
	Kid []byte `cbor:"4,keyasint"`
}

// codeProtected returns the protected header every code of a key
// carries: the byte string holding {1: alg, 4: kid}, and the same as a
// map for go-cose.
func codeProtected(alg Algorithm, kid KeyID) (cbor.RawMessage, cose.ProtectedHeader, error) {
	hdr, err := encMode.Marshal(map[int64]any{
		cose.HeaderLabelAlgorithm: int64(alg.cose()),
		cose.HeaderLabelKeyID:     kid[:],
	})
	if err != nil {
		return nil, nil, err
	}
	raw, err := encMode.Marshal(hdr)
	if err != nil {
		return nil, nil, err
	}
	return raw, cose.ProtectedHeader{cose.HeaderLabelAlgorithm: alg.cose(), cose.HeaderLabelKeyID: kid[:]}, nil
}

// parseCode decodes a code's text down to its COSE_Sign1 parts and key
// id, without verifying anything. Codes are strict: tagged, an empty
// unprotected header, a protected header of the algorithm and key id.
func parseCode(text string) (*sign1, KeyID, error) {
	var kid KeyID
	if len(text) > MaxCodeLen {
		return nil, kid, verr(ErrMalformed, "%d characters, more than %d", len(text), MaxCodeLen)
	}
	body, ok := strings.CutPrefix(text, Prefix)
	if !ok {
		return nil, kid, verr(ErrMalformed, "no %q prefix", Prefix)
	}
	raw, err := AppendDecodeBase45(make([]byte, 0, len(body)/3*2+1), body)
	if err != nil {
		return nil, kid, &VerifyError{Err: ErrMalformed, Reason: err.Error()}
	}
	if len(raw) < 2 || raw[0] != 0xd2 || raw[1] != 0x84 { // tag 18, array of 4
		return nil, kid, verr(ErrMalformed, "not a tagged COSE_Sign1")
	}
	var m sign1
	if err := decMode.Unmarshal(raw[1:], &m); err != nil {
		return nil, kid, verr(ErrMalformed, "COSE_Sign1: %v", err)
	}
	if len(m.Unprotected) != 1 || m.Unprotected[0] != 0xa0 {
		return nil, kid, verr(ErrMalformed, "COSE_Sign1: the unprotected header is not empty")
	}
	var hdrBytes []byte
	var hdr protectedHeader
	if err := decMode.Unmarshal(m.Protected, &hdrBytes); err != nil {
		return nil, kid, verr(ErrMalformed, "protected header: %v", err)
	}
	if err := decMode.Unmarshal(hdrBytes, &hdr); err != nil {
		return nil, kid, verr(ErrMalformed, "protected header: %v", err)
	}
	if len(hdr.Kid) != len(kid) {
		return nil, kid, verr(ErrMalformed, "protected header has no %d-byte key id", len(kid))
	}
	copy(kid[:], hdr.Kid)
	if m.Payload == nil || len(m.Signature) == 0 {
		return nil, kid, verr(ErrMalformed, "COSE_Sign1 without payload or signature")
	}
	return &m, kid, nil
}

// keyIDFrom reads the key id of a protected header.
func keyIDFrom(h cose.ProtectedHeader) (KeyID, error) {
	var kid KeyID
	b, ok := h[cose.HeaderLabelKeyID].([]byte)
	if !ok || len(b) != len(kid) {
		return kid, verr(ErrMalformed, "protected header has no %d-byte key id", len(kid))
	}
	copy(kid[:], b)
	return kid, nil
}

// Decode reads a code's claims without verifying its signature, for
// display and debugging: nothing in the result can be trusted. Use a
// Verifier to check a code.
func Decode(text string) (Claims, KeyID, error) {
	var c Claims
	msg, kid, err := parseCode(text)
	if err != nil {
		return c, kid, err
	}
	if err := unmarshalClaims(msg.Payload, &c); err != nil {
		return c, kid, err
	}
	return c, kid, nil
}

// Document types of the signed lists, in their protected header's "typ"
// (16), so that no list can pass for another or for a code.
const (
	typTrustList      = "application/govkit-trust-list+cbor"
	typStatusList     = "application/govkit-status-list+cbor"
	typRevocationList = "application/govkit-revocation-list+cbor"
	typReceipt        = "application/govkit-scan-receipt+cbor"
)

// signDoc signs v (CBOR-encoded) as a tagged COSE_Sign1 of type typ.
func signDoc(key *SigningKey, typ string, v any) ([]byte, error) {
	if key == nil {
		return nil, invalid("key", "nil")
	}
	payload, err := encMode.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("codes: encoding %s: %w", typ, err)
	}
	h := key.headers()
	h[cose.HeaderLabelType] = typ
	return cose.Sign1(rand.Reader, key.signer, cose.Headers{Protected: h, Unprotected: cose.UnprotectedHeader{}}, payload, nil)
}

// openDoc checks a signed document's type and signature with the key
// that lookup finds for its key id, and returns the payload and that key.
func openDoc(data []byte, typ string, lookup func(KeyID) (*trustedKey, bool)) ([]byte, *trustedKey, error) {
	var msg cose.Sign1Message
	if err := msg.UnmarshalCBOR(data); err != nil {
		return nil, nil, verr(ErrMalformed, "%s: COSE_Sign1: %v", typ, err)
	}
	if got, _ := msg.Headers.Protected[cose.HeaderLabelType].(string); got != typ {
		return nil, nil, verr(ErrMalformed, "document of type %q, want %q", got, typ)
	}
	kid, err := keyIDFrom(msg.Headers.Protected)
	if err != nil {
		return nil, nil, err
	}
	k, ok := lookup(kid)
	if !ok {
		return nil, nil, &VerifyError{Err: ErrUnknownKey, Reason: typ + " signed by an untrusted key", KeyID: kid}
	}
	if err := msg.Verify(nil, k.verifier); err != nil {
		return nil, nil, &VerifyError{Err: ErrBadSignature, Reason: typ + ": " + err.Error(), KeyID: kid}
	}
	return msg.Payload, k, nil
}
