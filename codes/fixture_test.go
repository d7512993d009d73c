package codes_test

import (
	"testing"
	"time"

	"github.com/govkit/govkit/clock"
	"github.com/govkit/govkit/codes"
	"github.com/govkit/govkit/region"
	"github.com/stretchr/testify/require"
)

// t0 is a Monday morning in Chongqing, in UTC.
var t0 = time.Date(2026, 3, 2, 1, 30, 0, 0, time.UTC)

const issuer = "500107-codes"

// keys is an issuer's key material: a trust anchor, a code-signing key
// and a list-signing key.
type keys struct {
	anchor, code, list *codes.SigningKey
	ring               *codes.KeyRing
}

func newKeys(t testing.TB, alg codes.Algorithm) *keys {
	t.Helper()
	k := &keys{ring: codes.NewKeyRing()}
	var err error
	k.anchor, err = codes.GenerateKey(codes.EdDSA)
	require.NoError(t, err)
	k.code, err = codes.GenerateKey(alg)
	require.NoError(t, err)
	k.list, err = codes.GenerateKey(codes.EdDSA)
	require.NoError(t, err)
	require.NoError(t, k.ring.Add(k.code, codes.PublicKey{Issuer: issuer, Usage: codes.UsageCodes, NotBefore: t0.Add(-time.Hour)}))
	require.NoError(t, k.ring.Add(k.list, codes.PublicKey{Issuer: issuer, Usage: codes.UsageLists, NotBefore: t0.Add(-time.Hour)}))
	return k
}

func (k *keys) anchors() []codes.PublicKey { return []codes.PublicKey{k.anchor.PublicKey()} }

func (k *keys) trustList(t testing.TB, seq uint64, at time.Time) []byte {
	t.Helper()
	b, err := codes.SignTrustList(codes.TrustList{Issuer: "500000-trust", Seq: seq, IssuedAt: at, Keys: k.ring.PublicKeys()}, k.anchor)
	require.NoError(t, err)
	return b
}

func (k *keys) statusList(t testing.TB, epoch uint64, at time.Time, colours map[string]codes.Colour) []byte {
	t.Helper()
	b, err := codes.SignStatusList(codes.StatusList{Issuer: issuer, Epoch: epoch, IssuedAt: at, Colours: colours}, k.list)
	require.NoError(t, err)
	return b
}

func (k *keys) revocationList(t testing.TB, seq uint64, at time.Time, ids []codes.RevocationID, subjects map[string]time.Time) []byte {
	t.Helper()
	b, err := codes.SignRevocationList(codes.RevocationList{Issuer: issuer, Seq: seq, IssuedAt: at, IDs: ids, Subjects: subjects}, k.list)
	require.NoError(t, err)
	return b
}

// verifier returns a verifier with the trust list, an empty status list
// and an empty revocation list loaded, all signed at t0.
func (k *keys) verifier(t testing.TB, clk clock.Clock) *codes.Verifier {
	t.Helper()
	v, err := codes.NewVerifier(codes.VerifierConfig{Anchors: k.anchors(), Clock: clk})
	require.NoError(t, err)
	require.NoError(t, v.LoadTrustList(k.trustList(t, 1, t0)))
	require.NoError(t, v.LoadStatusList(k.statusList(t, 1, t0, nil)))
	require.NoError(t, v.LoadRevocationList(k.revocationList(t, 1, t0, nil, nil)))
	return v
}

func listingData(t testing.TB, room string) []byte {
	t.Helper()
	b, err := codes.EncodeData(codes.ListingClaims{Room: room, Operator: "op-17", Reviews: []string{"housing", "police", "fire"}, Guests: 2})
	require.NoError(t, err)
	return b
}

// listingClaims returns the claims of a listing code valid for a year
// from t0.
func listingClaims(t testing.TB, subject string) *codes.Claims {
	return &codes.Claims{
		Issuer: issuer, Subject: subject, IssuedAt: t0, NotBefore: t0, Expiry: t0.Add(365 * 24 * time.Hour),
		ID: codes.NewRevocationID(), Kind: codes.Listing, Jurisdiction: "500107001002003", StatusEpoch: 1,
		Data: listingData(t, "room-"+subject),
	}
}

func codeOf(s string) region.Code { return region.Code(s) }
