package codes_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/govkit/govkit/clock"
	"github.com/govkit/govkit/codes"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func seal(t testing.TB, k *codes.SigningKey, c *codes.Claims) string {
	t.Helper()
	text, err := codes.Seal(k, c)
	require.NoError(t, err)
	return text
}

// requireRefused checks that err is a *VerifyError matching sentinel and
// no other verification sentinel.
func requireRefused(t *testing.T, err error, sentinel error, msgAndArgs ...any) {
	t.Helper()
	require.Error(t, err, msgAndArgs...)
	var ve *codes.VerifyError
	require.True(t, errors.As(err, &ve), "not a *VerifyError: %v", err)
	require.ErrorIs(t, err, sentinel, msgAndArgs...)
	for _, other := range []error{codes.ErrMalformed, codes.ErrBadSignature, codes.ErrUnknownKey, codes.ErrExpired,
		codes.ErrNotYetValid, codes.ErrRevoked, codes.ErrWrongKind, codes.ErrStale} {
		if other != sentinel {
			require.NotErrorIs(t, err, other, "%v also matches %v", err, other)
		}
	}
}

func TestSealAndVerify(t *testing.T) {
	for _, alg := range []codes.Algorithm{codes.EdDSA, codes.ES256} {
		t.Run(alg.String(), func(t *testing.T) {
			k := newKeys(t, alg)
			clk := clock.NewManual(t0.Add(time.Hour))
			v := k.verifier(t, clk)
			c := listingClaims(t, "room-7")
			text := seal(t, k.code, c)
			assert.True(t, strings.HasPrefix(text, codes.Prefix))
			for _, r := range text {
				require.Contains(t, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:", string(r), "QR alphanumeric only")
			}
			got, err := v.Verify(text, codes.Listing)
			require.NoError(t, err)
			assert.True(t, c.Equal(&got.Claims), "claims round-trip:\n%+v\n%+v", c, got.Claims)
			assert.Equal(t, codes.Green, got.Colour)
			assert.Equal(t, k.code.ID(), got.KeyID)
			assert.Equal(t, "listing", got.Spec.Name)
			var lc codes.ListingClaims
			require.NoError(t, got.Claims.Decode(&lc))
			assert.Equal(t, "room-room-7", lc.Room)

			// Decode reads without verifying.
			dc, kid, err := codes.Decode(text)
			require.NoError(t, err)
			assert.Equal(t, k.code.ID(), kid)
			assert.True(t, c.Equal(&dc))
			t.Logf("%s listing code: %d characters", alg, len(text))
		})
	}
}

func TestVerifyFailures(t *testing.T) {
	k := newKeys(t, codes.EdDSA)
	clk := clock.NewManual(t0.Add(time.Hour))
	v := k.verifier(t, clk)
	good := seal(t, k.code, listingClaims(t, "room-1"))
	_, err := v.Verify(good)
	require.NoError(t, err)

	// A key nobody trusts, and a code whose payload was swapped.
	stranger, err := codes.GenerateKey(codes.EdDSA)
	require.NoError(t, err)
	other := seal(t, k.code, listingClaims(t, "room-2"))

	tampered := []byte(good)
	i := len(tampered) - 10
	tampered[i] = map[bool]byte{true: 'A', false: 'B'}[tampered[i] != 'A']

	expired := listingClaims(t, "room-3")
	expired.Expiry = t0.Add(time.Minute)
	early := listingClaims(t, "room-4")
	early.NotBefore = t0.Add(48 * time.Hour)

	badData := listingClaims(t, "room-5")
	badData.Data, err = codes.EncodeData(codes.ListingClaims{Room: "r", Operator: "o", Reviews: []string{"housing"}})
	require.NoError(t, err)

	unknownKind := listingClaims(t, "room-6")
	unknownKind.Kind = 4242

	wrongIssuer := listingClaims(t, "room-7")
	wrongIssuer.Issuer = "500108-codes"

	cases := []struct {
		name string
		text string
		want error
		kind []codes.Kind
	}{
		{"empty", "", codes.ErrMalformed, nil},
		{"no prefix", strings.TrimPrefix(good, codes.Prefix), codes.ErrMalformed, nil},
		{"the EU's prefix", "HC1:" + strings.TrimPrefix(good, codes.Prefix), codes.ErrMalformed, nil},
		{"lower case", strings.ToLower(good), codes.ErrMalformed, nil},
		{"truncated", good[:len(good)-3], codes.ErrMalformed, nil},
		{"too long", codes.Prefix + strings.Repeat("0", codes.MaxCodeLen), codes.ErrMalformed, nil},
		{"not COSE", codes.Prefix + codes.EncodeBase45([]byte{0xa0}), codes.ErrMalformed, nil},
		{"tampered", string(tampered), codes.ErrBadSignature, nil},
		{"unknown key", seal(t, stranger, listingClaims(t, "room-8")), codes.ErrUnknownKey, nil},
		{"list key signs no codes", seal(t, k.list, listingClaims(t, "room-9")), codes.ErrUnknownKey, nil},
		{"another issuer's claims", seal(t, k.code, wrongIssuer), codes.ErrUnknownKey, nil},
		{"expired", seal(t, k.code, expired), codes.ErrExpired, nil},
		{"not yet valid", seal(t, k.code, early), codes.ErrNotYetValid, nil},
		{"wrong kind", other, codes.ErrWrongKind, []codes.Kind{codes.Worker}},
		{"unknown kind", seal(t, k.code, unknownKind), codes.ErrWrongKind, nil},
		{"claims fail the kind's check", seal(t, k.code, badData), codes.ErrMalformed, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := v.Verify(c.text, c.kind...)
			requireRefused(t, err, c.want)
		})
	}
}

// A signature moved from one code onto another's payload must fail.
func TestSignatureDoesNotTransfer(t *testing.T) {
	k := newKeys(t, codes.EdDSA)
	v := k.verifier(t, clock.NewManual(t0.Add(time.Hour)))
	a, err := codes.DecodeBase45(strings.TrimPrefix(seal(t, k.code, listingClaims(t, "a")), codes.Prefix))
	require.NoError(t, err)
	b, err := codes.DecodeBase45(strings.TrimPrefix(seal(t, k.code, listingClaims(t, "b")), codes.Prefix))
	require.NoError(t, err)
	// Both end in a 64-byte signature: put a's on b.
	copy(b[len(b)-64:], a[len(a)-64:])
	_, err = v.Verify(codes.Prefix + codes.EncodeBase45(b))
	requireRefused(t, err, codes.ErrBadSignature)
}

func TestStaleness(t *testing.T) {
	k := newKeys(t, codes.EdDSA)
	clk := clock.NewManual(t0.Add(time.Hour))
	text := seal(t, k.code, listingClaims(t, "room-1"))

	// Nothing loaded: nothing can be vouched for.
	v, err := codes.NewVerifier(codes.VerifierConfig{Anchors: k.anchors(), Clock: clk})
	require.NoError(t, err)
	_, err = v.Verify(text)
	requireRefused(t, err, codes.ErrStale)
	require.NoError(t, v.LoadTrustList(k.trustList(t, 1, t0)))
	_, err = v.Verify(text)
	requireRefused(t, err, codes.ErrStale, "no revocation list")
	require.NoError(t, v.LoadRevocationList(k.revocationList(t, 1, t0, nil, nil)))
	_, err = v.Verify(text)
	requireRefused(t, err, codes.ErrStale, "no status list")
	require.NoError(t, v.LoadStatusList(k.statusList(t, 1, t0, nil)))
	_, err = v.Verify(text)
	require.NoError(t, err)

	// A day and a bit later the status and revocation lists are too old.
	clk.Advance(24*time.Hour + time.Second)
	_, err = v.Verify(text)
	requireRefused(t, err, codes.ErrStale)
	assert.Contains(t, err.Error(), "revocation list is")
	require.NoError(t, v.LoadRevocationList(k.revocationList(t, 2, clk.Now(), nil, nil)))
	_, err = v.Verify(text)
	requireRefused(t, err, codes.ErrStale)
	assert.Contains(t, err.Error(), "status list is")
	require.NoError(t, v.LoadStatusList(k.statusList(t, 2, clk.Now(), nil)))
	_, err = v.Verify(text)
	require.NoError(t, err)

	// After a week the trust list is too old.
	clk.Advance(6 * 24 * time.Hour)
	require.NoError(t, v.LoadRevocationList(k.revocationList(t, 3, clk.Now(), nil, nil)))
	require.NoError(t, v.LoadStatusList(k.statusList(t, 3, clk.Now(), nil)))
	_, err = v.Verify(text)
	requireRefused(t, err, codes.ErrStale)
	assert.Contains(t, err.Error(), "trust list is")

	// A code issued at a later status epoch than the list held.
	c := listingClaims(t, "room-2")
	c.StatusEpoch = 9
	require.NoError(t, v.LoadTrustList(k.trustList(t, 2, clk.Now())))
	_, err = v.Verify(seal(t, k.code, c))
	requireRefused(t, err, codes.ErrStale)
	assert.Contains(t, err.Error(), "epoch 3 is older than the code's (9)")
}

func TestListsRefuseRollbackForgeryAndConfusion(t *testing.T) {
	k := newKeys(t, codes.EdDSA)
	clk := clock.NewManual(t0.Add(time.Hour))
	v := k.verifier(t, clk)
	red := map[string]codes.Colour{"room-1": codes.Red}
	require.NoError(t, v.LoadTrustList(k.trustList(t, 5, t0)))
	require.NoError(t, v.LoadStatusList(k.statusList(t, 5, t0, red)))
	text := seal(t, k.code, listingClaims(t, "room-1"))
	check := func() {
		t.Helper()
		got, err := v.Verify(text)
		require.NoError(t, err)
		require.Equal(t, codes.Red, got.Colour, "the verifier's state must be unchanged")
	}
	check()

	// Going back is refused.
	requireRefused(t, v.LoadTrustList(k.trustList(t, 4, t0)), codes.ErrStale)
	requireRefused(t, v.LoadStatusList(k.statusList(t, 4, t0, nil)), codes.ErrStale)

	// A trust list signed by anyone but an anchor.
	b, err := codes.SignTrustList(codes.TrustList{Issuer: "x", Seq: 9, IssuedAt: t0, Keys: k.ring.PublicKeys()}, k.code)
	require.NoError(t, err)
	requireRefused(t, v.LoadTrustList(b), codes.ErrUnknownKey)

	// A status list signed by the code key, which has no UsageLists.
	b, err = codes.SignStatusList(codes.StatusList{Issuer: issuer, Epoch: 9, IssuedAt: t0}, k.code)
	require.NoError(t, err)
	requireRefused(t, v.LoadStatusList(b), codes.ErrUnknownKey)

	// A list key of another issuer may not sign this issuer's lists.
	otherList, err := codes.GenerateKey(codes.EdDSA)
	require.NoError(t, err)
	require.NoError(t, k.ring.Add(otherList, codes.PublicKey{Issuer: "500108-codes", Usage: codes.UsageLists}))
	require.NoError(t, v.LoadTrustList(k.trustList(t, 6, t0)))
	b, err = codes.SignStatusList(codes.StatusList{Issuer: issuer, Epoch: 9, IssuedAt: t0}, otherList)
	require.NoError(t, err)
	requireRefused(t, v.LoadStatusList(b), codes.ErrUnknownKey)
	b, err = codes.SignRevocationList(codes.RevocationList{Issuer: issuer, Seq: 9, IssuedAt: t0}, otherList)
	require.NoError(t, err)
	requireRefused(t, v.LoadRevocationList(b), codes.ErrUnknownKey)

	// One kind of list cannot pass for another.
	requireRefused(t, v.LoadTrustList(k.statusList(t, 9, t0, nil)), codes.ErrMalformed)
	requireRefused(t, v.LoadStatusList(k.revocationList(t, 9, t0, nil, nil)), codes.ErrMalformed)
	requireRefused(t, v.LoadRevocationList(k.trustList(t, 9, t0)), codes.ErrMalformed)

	// Lists from the future are refused.
	requireRefused(t, v.LoadStatusList(k.statusList(t, 9, t0.Add(2*time.Hour), nil)), codes.ErrNotYetValid)

	// Corrupt bytes.
	good := k.statusList(t, 9, t0, nil)
	bad := append([]byte(nil), good...)
	bad[len(bad)-70] ^= 1 // inside the payload
	requireRefused(t, v.LoadStatusList(bad), codes.ErrBadSignature)
	requireRefused(t, v.LoadStatusList(good[:len(good)/2]), codes.ErrMalformed)
	requireRefused(t, v.LoadStatusList(nil), codes.ErrMalformed)
	check()
}

func TestRevocation(t *testing.T) {
	k := newKeys(t, codes.EdDSA)
	clk := clock.NewManual(t0.Add(time.Hour))
	v := k.verifier(t, clk)
	a := listingClaims(t, "room-1")
	b := listingClaims(t, "room-2")
	later := listingClaims(t, "room-2")
	later.IssuedAt, later.NotBefore = t0.Add(30*time.Minute), t0.Add(30*time.Minute)
	ta, tb, tl := seal(t, k.code, a), seal(t, k.code, b), seal(t, k.code, later)

	require.NoError(t, v.LoadRevocationList(k.revocationList(t, 2, t0, []codes.RevocationID{a.ID},
		map[string]time.Time{"room-2": t0.Add(time.Minute)})))
	_, err := v.Verify(ta)
	requireRefused(t, err, codes.ErrRevoked)
	_, err = v.Verify(tb)
	requireRefused(t, err, codes.ErrRevoked, "issued to room-2 before the cut-off")
	_, err = v.Verify(tl)
	require.NoError(t, err, "issued to room-2 after the cut-off")
}

func TestRevocationSetAtScale(t *testing.T) {
	const n = 2_000_000
	ids := make([]codes.RevocationID, n)
	for i := range ids {
		ids[i] = codes.NewRevocationID()
	}
	set := codes.NewRevocationSet(append(ids, ids[:1000]...)) // duplicates are absorbed
	require.Equal(t, n, set.Len())
	start := time.Now()
	for _, id := range ids[:100_000] {
		require.True(t, set.Contains(id))
	}
	for range 100_000 {
		require.False(t, set.Contains(codes.NewRevocationID()))
	}
	t.Logf("200,000 lookups in a set of %d: %v", n, time.Since(start))
	var nilSet *codes.RevocationSet
	assert.False(t, nilSet.Contains(ids[0]))
	assert.Equal(t, 0, codes.NewRevocationSet(nil).Len())
	// Edge prefixes.
	lo, hi := codes.RevocationID{}, codes.RevocationID{}
	for i := range hi {
		hi[i] = 0xff
	}
	lo[15] = 1
	edge := codes.NewRevocationSet([]codes.RevocationID{lo, hi})
	assert.True(t, edge.Contains(lo))
	assert.True(t, edge.Contains(hi))
	assert.False(t, edge.Contains(codes.RevocationID{}))
}

// A revocation list of a million ids travels as one signed document and
// loads into the verifier.
func TestRevocationListOfAMillion(t *testing.T) {
	k := newKeys(t, codes.EdDSA)
	clk := clock.NewManual(t0.Add(time.Hour))
	v := k.verifier(t, clk)
	ids := make([]codes.RevocationID, 1_000_000)
	for i := range ids {
		ids[i] = codes.NewRevocationID()
	}
	c := listingClaims(t, "room-1")
	ids[777_777] = c.ID
	signed := k.revocationList(t, 2, t0, ids, nil)
	t.Logf("1,000,000 revocation ids: %d bytes signed", len(signed))
	require.NoError(t, v.LoadRevocationList(signed))
	_, err := v.Verify(seal(t, k.code, c))
	requireRefused(t, err, codes.ErrRevoked)
}

func TestKeyRotation(t *testing.T) {
	k := newKeys(t, codes.EdDSA)
	clk := clock.NewManual(t0.Add(time.Hour))
	// A second code key, published now and signing from tomorrow.
	next, err := codes.GenerateKey(codes.EdDSA)
	require.NoError(t, err)
	require.NoError(t, k.ring.Add(next, codes.PublicKey{Issuer: issuer, Usage: codes.UsageCodes, NotBefore: t0.Add(24 * time.Hour)}))
	v := k.verifier(t, clk)

	key, _, err := k.ring.Signer(codes.UsageCodes, codes.Listing, t0.Add(time.Hour))
	require.NoError(t, err)
	assert.Equal(t, k.code.ID(), key.ID(), "the old key signs until the new one begins")
	key, _, err = k.ring.Signer(codes.UsageCodes, codes.Listing, t0.Add(25*time.Hour))
	require.NoError(t, err)
	assert.Equal(t, next.ID(), key.ID(), "then the new one")

	old := seal(t, k.code, listingClaims(t, "room-1"))
	// Retire the old key at t0+24h; its codes stay valid.
	require.NoError(t, k.ring.Retire(k.code.ID(), t0.Add(24*time.Hour)))
	clk.Set(t0.Add(26 * time.Hour))
	require.NoError(t, v.LoadTrustList(k.trustList(t, 2, clk.Now())))
	require.NoError(t, v.LoadStatusList(k.statusList(t, 2, clk.Now(), nil)))
	require.NoError(t, v.LoadRevocationList(k.revocationList(t, 2, clk.Now(), nil, nil)))
	_, err = v.Verify(old)
	require.NoError(t, err, "issued before retirement")

	// A code the old key signs after its retirement is refused, and so is
	// one the new key signed before its validity.
	after := listingClaims(t, "room-2")
	after.IssuedAt, after.NotBefore = t0.Add(25*time.Hour), t0.Add(25*time.Hour)
	_, err = v.Verify(seal(t, k.code, after))
	requireRefused(t, err, codes.ErrUnknownKey)
	_, err = v.Verify(seal(t, next, listingClaims(t, "room-3")))
	requireRefused(t, err, codes.ErrUnknownKey)
	_, err = v.Verify(seal(t, next, after))
	require.NoError(t, err)

	// A key limited to worker codes signs no listings.
	worker, err := codes.GenerateKey(codes.EdDSA)
	require.NoError(t, err)
	require.NoError(t, k.ring.Add(worker, codes.PublicKey{Issuer: issuer, Usage: codes.UsageCodes, Kinds: []codes.Kind{codes.Worker}}))
	require.NoError(t, v.LoadTrustList(k.trustList(t, 3, clk.Now())))
	_, err = v.Verify(seal(t, worker, after))
	requireRefused(t, err, codes.ErrUnknownKey)

	assert.ErrorIs(t, k.ring.Add(next, codes.PublicKey{Usage: codes.UsageCodes}), codes.ErrConflict)
	assert.ErrorIs(t, k.ring.Retire(codes.KeyID{}, t0), codes.ErrNotFound)
}

func TestRotatingCodes(t *testing.T) {
	k := newKeys(t, codes.EdDSA)
	clk := clock.NewManual(t0.Add(time.Hour))
	v := k.verifier(t, clk)
	data, err := codes.EncodeData(codes.WorkerClaims{Platform: "meituan", Station: "xiejiawan"})
	require.NoError(t, err)
	step := clk.Now().Unix() / 300
	c := &codes.Claims{Issuer: issuer, Subject: "rider-1", IssuedAt: t0, ID: codes.NewRevocationID(),
		Kind: codes.Worker, Jurisdiction: "500107", Step: step, Data: data,
		NotBefore: time.Unix(step*300, 0), Expiry: time.Unix(step*300+300, 0)}
	text := seal(t, k.code, c)
	got, err := v.Verify(text, codes.Worker)
	require.NoError(t, err)
	assert.Equal(t, codes.Green, got.Colour)

	// Within the skew after the step it still passes; then a screenshot
	// is worthless.
	clk.Set(time.Unix(step*300+300, 0).Add(codes.DefaultSkew - time.Second))
	_, err = v.Verify(text)
	require.NoError(t, err)
	clk.Advance(2 * time.Second)
	_, err = v.Verify(text)
	requireRefused(t, err, codes.ErrExpired)
	assert.Contains(t, err.Error(), "rotation step")

	// A rotating code must name a step and keep within it.
	long := *c
	long.Expiry = long.NotBefore.Add(time.Hour)
	_, err = v.Verify(seal(t, k.code, &long))
	requireRefused(t, err, codes.ErrMalformed)
	none := *c
	none.Step = 0
	_, err = v.Verify(seal(t, k.code, &none))
	requireRefused(t, err, codes.ErrMalformed)
	future := *c
	future.Step, future.NotBefore, future.Expiry = step+3, time.Unix((step+3)*300, 0), time.Unix((step+4)*300, 0)
	clk.Set(time.Unix(step*300+300, 0).Add(codes.DefaultSkew + time.Second))
	_, err = v.Verify(seal(t, k.code, &future))
	requireRefused(t, err, codes.ErrNotYetValid)
}

func TestSealRejectsBadInput(t *testing.T) {
	k := newKeys(t, codes.EdDSA)
	c := listingClaims(t, "room-1")
	c.ID = codes.RevocationID{}
	_, err := codes.Seal(k.code, c)
	assert.ErrorIs(t, err, codes.ErrInvalid)
	_, err = codes.Seal(nil, listingClaims(t, "room-1"))
	assert.ErrorIs(t, err, codes.ErrInvalid)
	c = listingClaims(t, "room-1")
	c.Jurisdiction = "5001x7"
	_, err = codes.Seal(k.code, c)
	assert.ErrorIs(t, err, codes.ErrInvalid)
	_, err = codes.GenerateKey(codes.Algorithm(9))
	assert.ErrorIs(t, err, codes.ErrInvalid)
	_, err = codes.NewVerifier(codes.VerifierConfig{})
	assert.ErrorIs(t, err, codes.ErrInvalid)
}
