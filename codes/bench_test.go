package codes_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/clock"
	"github.com/govkit/govkit/codes"
	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

// rate reports the parallel throughput of a benchmark in codes/s.
func rate(b *testing.B, start time.Time) {
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "codes/s")
}

// BenchmarkIssue: sign and encode listing codes in parallel (CBOR claims,
// COSE_Sign1 with Ed25519, base45), the bar being 100,000 codes/s.
func BenchmarkIssue(b *testing.B) {
	k := newKeys(b, codes.EdDSA)
	c := listingClaims(b, "subject-1")
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		c := *c
		for pb.Next() {
			if _, err := codes.Seal(k.code, &c); err != nil {
				b.Error(err)
				return
			}
		}
	})
	rate(b, start)
}

// BenchmarkVerify: verify listing codes in parallel — parse, signature,
// claims, validity, a revocation set of 1,000,000 ids, colour from a
// status list of 100,000 subjects — the bar being 50,000 codes/s.
func BenchmarkVerify(b *testing.B) {
	k := newKeys(b, codes.EdDSA)
	clk := clock.NewManual(t0.Add(time.Hour))
	v, err := codes.NewVerifier(codes.VerifierConfig{Anchors: k.anchors(), Clock: clk})
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]codes.RevocationID, 1_000_000)
	for i := range ids {
		ids[i] = codes.NewRevocationID()
	}
	colours := make(map[string]codes.Colour, 100_000)
	for i := range 100_000 {
		colours[fmt.Sprintf("subject-%d", i)] = codes.Yellow + codes.Colour(i%2)
	}
	for _, err := range []error{
		v.LoadTrustList(k.trustList(b, 1, t0)),
		v.LoadStatusList(k.statusList(b, 1, t0, colours)),
		v.LoadRevocationList(k.revocationList(b, 1, t0, ids, nil)),
	} {
		if err != nil {
			b.Fatal(err)
		}
	}
	texts := make([]string, 1024)
	for i := range texts {
		texts[i], err = codes.Seal(k.code, listingClaims(b, fmt.Sprintf("subject-%d", i*150)))
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := v.Verify(texts[i%len(texts)], codes.Listing); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
	rate(b, start)
}

// rawRate runs op in parallel and reports its rate in codes/s; op
// reports false when a signature does not verify.
func rawRate(b *testing.B, op func() bool) {
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if !op() {
				b.Error("verify failed")
				return
			}
		}
	})
	rate(b, start)
}

// rawKey returns a fresh Ed25519 key pair, a message the size of a code's
// Sig_structure, and its signature.
func rawKey() (ed25519.PublicKey, ed25519.PrivateKey, []byte, []byte) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	msg := make([]byte, 200)
	return pub, priv, msg, ed25519.Sign(priv, msg)
}

// BenchmarkEd25519Verify is the raw rate of crypto/ed25519's signature
// check alone, in parallel: the reference the guide's bar is set against.
func BenchmarkEd25519Verify(b *testing.B) {
	pub, _, msg, sig := rawKey()
	rawRate(b, func() bool { return ed25519.Verify(pub, msg, sig) })
}

// BenchmarkEd25519Sign is crypto/ed25519's raw rate of signing alone.
func BenchmarkEd25519Sign(b *testing.B) {
	_, priv, msg, _ := rawKey()
	rawRate(b, func() bool { return len(ed25519.Sign(priv, msg)) == ed25519.SignatureSize })
}

// BenchmarkVoiVerify is the raw rate of the check codes makes itself:
// curve25519-voi with the key expanded once, as a trusted key holds it —
// the ceiling for BenchmarkVerify.
func BenchmarkVoiVerify(b *testing.B) {
	pub, _, msg, sig := rawKey()
	key, err := voi.NewExpandedPublicKey(voi.PublicKey(pub))
	if err != nil {
		b.Fatal(err)
	}
	opts := &voi.Options{Verify: voi.VerifyOptionsStdLib}
	rawRate(b, func() bool { return voi.VerifyExpandedWithOptions(key, msg, sig, opts) })
}

// BenchmarkVoiSign is the raw rate of the signing codes does itself, the
// ceiling for BenchmarkIssue.
func BenchmarkVoiSign(b *testing.B) {
	_, priv, msg, _ := rawKey()
	rawRate(b, func() bool { return len(voi.Sign(voi.PrivateKey(priv), msg)) == ed25519.SignatureSize })
}

// BenchmarkRevocationLookup: one lookup in a set of 10,000,000 revoked
// ids (160 MB), half of them hits.
func BenchmarkRevocationLookup(b *testing.B) {
	ids := make([]codes.RevocationID, 10_000_000)
	for i := range ids {
		ids[i] = codes.NewRevocationID()
	}
	set := codes.NewRevocationSet(ids)
	probe := make([]codes.RevocationID, 4096)
	for i := range probe {
		if i%2 == 0 {
			probe[i] = ids[i*997]
		} else {
			probe[i] = codes.NewRevocationID()
		}
	}
	b.ResetTimer()
	hits := 0
	for i := 0; b.Loop(); i++ {
		if set.Contains(probe[i%len(probe)]) {
			hits++
		}
	}
	if hits == 0 {
		b.Fatal("no hits")
	}
}

// BenchmarkServiceIssue is the whole issuing path for information (no
// bar): authorise, read the subject, sign, encode, and store the record
// and its event in the memdb store.
func BenchmarkServiceIssue(b *testing.B) {
	k := newKeys(b, codes.EdDSA)
	svc, err := codes.NewService(codes.Config{Keys: k.ring, Authorizer: access.AllowAll(), Issuer: issuer,
		Jurisdiction: "500107", Clock: clock.NewManual(t0)})
	if err != nil {
		b.Fatal(err)
	}
	ctx := access.WithActor(context.Background(), access.Actor{ID: "li", Kind: access.StreetStaff, Scope: "500107"})
	data := listingData(b, "room")
	var n atomic.Int64
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			sub := fmt.Sprintf("room-%d", n.Add(1))
			if _, err := svc.Issue(ctx, codes.IssueRequest{Kind: codes.Listing, Subject: sub, Jurisdiction: "500107001002003", Data: data}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	rate(b, start)
}
