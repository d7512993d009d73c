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

// BenchmarkEd25519Verify is the raw rate of the signature check alone, in
// parallel, on a message the size of a code's Sig_structure: the ceiling
// for BenchmarkVerify on the same machine in the same run.
func BenchmarkEd25519Verify(b *testing.B) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	msg := make([]byte, 200)
	sig := ed25519.Sign(priv, msg)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if !ed25519.Verify(pub, msg, sig) {
				b.Error("verify failed")
				return
			}
		}
	})
	rate(b, start)
}

// BenchmarkEd25519Sign is the raw rate of signing alone, the ceiling for
// BenchmarkIssue.
func BenchmarkEd25519Sign(b *testing.B) {
	_, priv, _ := ed25519.GenerateKey(nil)
	msg := make([]byte, 200)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			ed25519.Sign(priv, msg)
		}
	})
	rate(b, start)
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
