package main

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/govkit/govkit/clock"
	"github.com/govkit/govkit/codes"
	"github.com/govkit/govkit/permit"
)

// verifier is a platform that was offline since it cached lists at t.
func verifier(t *testing.T, res Result, at time.Time, l Lists) *codes.Verifier {
	t.Helper()
	v, err := codes.NewVerifier(codes.VerifierConfig{Anchors: []codes.PublicKey{res.Anchor}, Clock: clock.NewManual(at)})
	require.NoError(t, err)
	require.NoError(t, v.LoadTrustList(l.Trust))
	require.NoError(t, v.LoadStatusList(l.Status))
	require.NoError(t, v.LoadRevocationList(l.Revocation))
	return v
}

func TestRentalCode(t *testing.T) {
	res, err := run(context.Background(), io.Discard)
	require.NoError(t, err)

	// The joint review completed and its completion issued one code.
	assert.Equal(t, permit.Completed, res.Bundle)
	assert.Equal(t, "room-500103001-001203", res.Room)
	require.True(t, strings.HasPrefix(res.Code, codes.Prefix), res.Code)

	// The code verifies offline, against nothing but the signed lists a
	// platform cached at listing time: green, a listing, the room's grid,
	// all three reviews.
	v := verifier(t, res, res.ListedAt, res.AtListing)
	got, err := v.Verify(res.Code, codes.Listing)
	require.NoError(t, err)
	assert.Equal(t, codes.Green, got.Colour)
	assert.Equal(t, res.Room, got.Claims.Subject)
	assert.Equal(t, issuer, got.Claims.Issuer)
	assert.EqualValues(t, grid, got.Claims.Jurisdiction)
	var claims codes.ListingClaims
	require.NoError(t, got.Claims.Decode(&claims))
	assert.Equal(t, []string{"housing", "police", "fire"}, claims.Reviews)
	assert.Equal(t, "op-7f3a91", claims.Operator, "the operator by pseudonymous id")
	assert.Equal(t, "DS-LOCK-88123", claims.Lock, "one code, one lock")
	assert.Equal(t, codes.Green, res.Listed.Colour)

	img, err := png.Decode(bytes.NewReader(res.PNG))
	require.NoError(t, err)
	assert.Greater(t, img.Bounds().Dx(), 100)

	// Violations took the room through yellow into red; the ledger holds
	// them, chained; turning red was announced and acted on.
	assert.Equal(t, []codes.Colour{codes.Green, codes.Yellow, codes.Red}, res.Colours)
	require.Len(t, res.Ledger, 3)
	require.NoError(t, codes.VerifyLedger(res.Ledger))
	assert.Equal(t, []string{res.Room}, res.TurnedRed)
	assert.Equal(t, codes.Red, res.Status.Colours[res.Room])

	// Delisted: the old code no longer verifies, for the run's platform
	// and for any platform holding the newer lists.
	assert.ErrorIs(t, res.Delisted, codes.ErrRevoked)
	_, err = verifier(t, res, res.DelistedAt, res.AtDelisting).Verify(res.Code, codes.Listing)
	assert.ErrorIs(t, err, codes.ErrRevoked)
}

// The scenario end to end; its last line is the outcome.
func Example() {
	var buf strings.Builder
	if _, err := run(context.Background(), &buf); err != nil {
		fmt.Println(err)
		return
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	fmt.Println(lines[len(lines)-1])
	// Output: listed green, turned red after 3 violations, delisted: true
}
