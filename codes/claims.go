package codes

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/govkit/govkit/region"
)

// RevocationID identifies a code for revocation, in the manner of SMART
// Health Cards' rid: 16 random bytes that say nothing about the holder. A
// rotating series shares one, so that revoking it stops every step.
type RevocationID [16]byte

// NewRevocationID returns a random revocation id.
func NewRevocationID() RevocationID {
	var id RevocationID
	_, _ = rand.Read(id[:]) // crypto/rand.Read never fails
	return id
}

// ParseRevocationID reads the 32 hex digits String writes.
func ParseRevocationID(s string) (RevocationID, error) {
	var id RevocationID
	if len(s) != 32 {
		return id, invalid("revocation id", "%d characters, want 32 hex digits", len(s))
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, &InputError{Field: "revocation id", Reason: "not hex", Err: err}
	}
	return id, nil
}

// String returns the id as 32 hex digits.
func (id RevocationID) String() string { return hex.EncodeToString(id[:]) }

// IsZero reports whether id is the zero id, which no code carries.
func (id RevocationID) IsZero() bool { return id == RevocationID{} }

// Claims is what a code says, signed. It is a CWT (RFC 8392): the
// standard claims under their registered keys, govkit's own in one map
// under the private key -65537.
type Claims struct {
	Issuer    string       // CWT iss (1): who issued it, e.g. "500107-housing"
	Subject   string       // CWT sub (2): the holder's pseudonymous id, never a name or ID number
	Expiry    time.Time    // CWT exp (4)
	NotBefore time.Time    // CWT nbf (5)
	IssuedAt  time.Time    // CWT iat (6)
	ID        RevocationID // CWT cti (7): the revocation id

	Kind         Kind        // govkit 1
	Jurisdiction region.Code // govkit 2: where the subject lies (a room's grid, a rider's district)
	// StatusEpoch (govkit 3) is the status-list epoch when the code was
	// issued: a verifier whose status list is older cannot vouch for it.
	StatusEpoch uint64
	// Step (govkit 4) is the rotation step of a rotating code: the code is
	// valid from Step×Rotation to (Step+1)×Rotation after the Unix epoch.
	Step int64
	// HolderKey (govkit 5) is the holder's Ed25519 public key (32 bytes),
	// with which the holder signs scan receipts (mutual verification).
	HolderKey []byte
	// Data (govkit 6) holds the kind-specific claims, CBOR with integer
	// keys (EncodeData, DecodeData).
	Data []byte
}

// Decode decodes the kind-specific claims into v (see DecodeData).
func (c *Claims) Decode(v any) error { return DecodeData(c.Data, v) }

// govKey is the private CWT claim key under which govkit's claims sit.
const govKey = -65537

type wireClaims struct {
	Issuer    string        `cbor:"1,keyasint,omitempty"`
	Subject   string        `cbor:"2,keyasint,omitempty"`
	Expiry    int64         `cbor:"4,keyasint,omitempty"`
	NotBefore int64         `cbor:"5,keyasint,omitempty"`
	IssuedAt  int64         `cbor:"6,keyasint,omitempty"`
	ID        []byte        `cbor:"7,keyasint,omitempty"`
	Gov       *wireGovClaim `cbor:"-65537,keyasint,omitempty"`
}

type wireGovClaim struct {
	Kind         uint16          `cbor:"1,keyasint"`
	Jurisdiction uint64          `cbor:"2,keyasint,omitempty"`
	StatusEpoch  uint64          `cbor:"3,keyasint,omitempty"`
	Step         int64           `cbor:"4,keyasint,omitempty"`
	HolderKey    []byte          `cbor:"5,keyasint,omitempty"`
	Data         cbor.RawMessage `cbor:"6,keyasint,omitempty"`
}

// CBOR modes: deterministic encoding (RFC 8949 core), strict decoding with
// bounds, so that a hostile payload costs little.
var (
	encMode cbor.EncMode
	decMode cbor.DecMode // codes: small
	// listDecMode reads signed lists, which may hold millions of entries.
	listDecMode cbor.DecMode
)

func init() {
	var err error
	encMode, err = cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		panic(err)
	}
	opts := cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		IndefLength:      cbor.IndefLengthForbidden,
		TagsMd:           cbor.TagsForbidden,
		MaxNestedLevels:  8,
		MaxArrayElements: 64,
		MaxMapPairs:      64,
		IntDec:           cbor.IntDecConvertSigned,
		UTF8:             cbor.UTF8RejectInvalid,
	}
	if decMode, err = opts.DecMode(); err != nil {
		panic(err)
	}
	opts.MaxArrayElements = 1 << 26
	opts.MaxMapPairs = 1 << 26
	if listDecMode, err = opts.DecMode(); err != nil {
		panic(err)
	}
}

func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func fromUnix(s int64) time.Time {
	if s == 0 {
		return time.Time{}
	}
	return time.Unix(s, 0).UTC()
}

// marshal encodes the claims as the CWT payload.
func (c *Claims) marshal() ([]byte, error) {
	w := wireClaims{
		Issuer: c.Issuer, Subject: c.Subject,
		Expiry: unix(c.Expiry), NotBefore: unix(c.NotBefore), IssuedAt: unix(c.IssuedAt),
		ID: c.ID[:],
		Gov: &wireGovClaim{
			Kind: uint16(c.Kind), StatusEpoch: c.StatusEpoch, Step: c.Step,
			HolderKey: c.HolderKey, Data: c.Data,
		},
	}
	if c.Jurisdiction != "" {
		j, err := strconv.ParseUint(string(c.Jurisdiction), 10, 64)
		if err != nil {
			return nil, &InputError{Field: "jurisdiction", Reason: "not digits", Err: err}
		}
		w.Gov.Jurisdiction = j
	}
	return encMode.Marshal(&w)
}

// unmarshalClaims decodes and checks the shape of a CWT payload.
func unmarshalClaims(b []byte, c *Claims) error {
	var w wireClaims
	if err := decMode.Unmarshal(b, &w); err != nil {
		return verr(ErrMalformed, "claims: %v", err)
	}
	switch {
	case w.Gov == nil:
		return verr(ErrMalformed, "claims: no govkit claims")
	case w.Gov.Kind == 0:
		return verr(ErrMalformed, "claims: no kind")
	case len(w.ID) != len(RevocationID{}):
		return verr(ErrMalformed, "claims: revocation id of %d bytes", len(w.ID))
	case w.Issuer == "" || w.Subject == "":
		return verr(ErrMalformed, "claims: no issuer or subject")
	case w.IssuedAt <= 0 || w.Expiry <= 0 || w.NotBefore < 0:
		return verr(ErrMalformed, "claims: missing or negative times")
	case w.Expiry <= w.NotBefore || w.Expiry <= w.IssuedAt:
		return verr(ErrMalformed, "claims: expiry before validity begins")
	case len(w.Gov.HolderKey) != 0 && len(w.Gov.HolderKey) != 32:
		return verr(ErrMalformed, "claims: holder key of %d bytes", len(w.Gov.HolderKey))
	case w.Gov.Step < 0:
		return verr(ErrMalformed, "claims: negative step")
	}
	*c = Claims{
		Issuer: w.Issuer, Subject: w.Subject,
		Expiry: fromUnix(w.Expiry), NotBefore: fromUnix(w.NotBefore), IssuedAt: fromUnix(w.IssuedAt),
		Kind: Kind(w.Gov.Kind), StatusEpoch: w.Gov.StatusEpoch, Step: w.Gov.Step,
		HolderKey: w.Gov.HolderKey, Data: w.Gov.Data,
	}
	copy(c.ID[:], w.ID)
	if w.Gov.Jurisdiction != 0 {
		code, err := region.ParseCode(strconv.FormatUint(w.Gov.Jurisdiction, 10))
		if err != nil {
			return &VerifyError{Err: ErrMalformed, Reason: "claims: jurisdiction: " + err.Error()}
		}
		c.Jurisdiction = code
	}
	return nil
}

// Equal reports whether two claims are the same, times to the second.
func (c *Claims) Equal(o *Claims) bool {
	return c.Issuer == o.Issuer && c.Subject == o.Subject && c.Expiry.Equal(o.Expiry) &&
		c.NotBefore.Equal(o.NotBefore) && c.IssuedAt.Equal(o.IssuedAt) && c.ID == o.ID &&
		c.Kind == o.Kind && c.Jurisdiction == o.Jurisdiction && c.StatusEpoch == o.StatusEpoch &&
		c.Step == o.Step && bytes.Equal(c.HolderKey, o.HolderKey) && bytes.Equal(c.Data, o.Data)
}

// String describes the claims for logs: kind, revocation id and validity,
// not the subject.
func (c *Claims) String() string {
	return fmt.Sprintf("%s code %s valid %s–%s", c.Kind, c.ID, c.NotBefore.Format(time.RFC3339), c.Expiry.Format(time.RFC3339))
}
