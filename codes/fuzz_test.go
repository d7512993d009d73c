package codes_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/govkit/govkit/clock"
	"github.com/govkit/govkit/codes"
)

// FuzzParse feeds arbitrary text to the code parser and to a verifier:
// neither may panic, and every refusal must be a *VerifyError (for
// Verify, one of the verification sentinels).
func FuzzParse(f *testing.F) {
	k := newKeys(f, codes.EdDSA)
	v := k.verifier(f, clock.NewManual(t0.Add(time.Hour)))
	good, err := codes.Seal(k.code, listingClaims(f, "room-1"))
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		good, good[:len(good)/2], strings.TrimPrefix(good, codes.Prefix), "", codes.Prefix, "HC1:NCFOXN%TS3DH",
		codes.Prefix + codes.EncodeBase45([]byte{0xd2, 0x84, 0x40, 0xa0, 0xf6, 0x40}),
		codes.Prefix + codes.EncodeBase45([]byte{0xd2, 0x84, 0x43, 0xa1, 0x01, 0x27, 0xa0, 0x41, 0xa0, 0x40}),
		codes.Prefix + "GGW",
	} {
		f.Add(s)
	}
	sentinels := []error{codes.ErrMalformed, codes.ErrBadSignature, codes.ErrUnknownKey, codes.ErrExpired,
		codes.ErrNotYetValid, codes.ErrRevoked, codes.ErrWrongKind, codes.ErrStale}
	f.Fuzz(func(t *testing.T, s string) {
		if _, _, err := codes.Decode(s); err != nil {
			var ve *codes.VerifyError
			if !errors.As(err, &ve) {
				t.Fatalf("Decode(%q): %T %v", s, err, err)
			}
		}
		got, err := v.Verify(s)
		if err == nil {
			if got == nil || got.Claims.Subject == "" {
				t.Fatalf("Verify(%q) passed without claims", s)
			}
			return
		}
		matched := 0
		for _, e := range sentinels {
			if errors.Is(err, e) {
				matched++
			}
		}
		if matched != 1 {
			t.Fatalf("Verify(%q): %v matches %d sentinels", s, err, matched)
		}
	})
}

// FuzzLists feeds arbitrary bytes to the list loaders and the receipt
// verifier.
func FuzzLists(f *testing.F) {
	k := newKeys(f, codes.EdDSA)
	v := k.verifier(f, clock.NewManual(t0.Add(time.Hour)))
	f.Add(k.trustList(f, 2, t0))
	f.Add(k.statusList(f, 2, t0, map[string]codes.Colour{"a": codes.Red}))
	f.Add(k.revocationList(f, 2, t0, []codes.RevocationID{codes.NewRevocationID()}, map[string]time.Time{"b": t0}))
	f.Add([]byte{0xd2, 0x84, 0x40, 0xa0, 0x40, 0x40})
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, load := range []func([]byte) error{v.LoadTrustList, v.LoadStatusList, v.LoadRevocationList} {
			if err := load(b); err != nil {
				var ve *codes.VerifyError
				if !errors.As(err, &ve) {
					t.Fatalf("%T %v", err, err)
				}
			}
		}
		if _, _, err := v.VerifyReceipt(b); err == nil {
			t.Fatal("a fuzzed receipt verified")
		}
	})
}

func FuzzBase45(f *testing.F) {
	for _, s := range []string{"BB8", "%69 VD92EX0", "GGW", "A", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := codes.DecodeBase45(s)
		if err != nil {
			return
		}
		if again := codes.EncodeBase45(b); again != s {
			t.Fatalf("%q decodes to %x, which encodes to %q", s, b, again)
		}
	})
}
