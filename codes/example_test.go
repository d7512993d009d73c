package codes_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"strings"
	"time"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/clock"
	"github.com/govkit/govkit/codes"
)

// events is a bus.Publisher that keeps what it is given, for examples.
type events []bus.Message

func (e *events) Publish(_ context.Context, m bus.Message) error {
	*e = append(*e, m)
	return nil
}

// exampleIssuer sets up an issuer: a trust anchor, a key ring with a code
// key and a list key, and a service on a manual clock.
func exampleIssuer(clk clock.Clock, pub bus.Publisher, issuerID string) (*codes.Service, *codes.SigningKey, error) {
	anchor, err := codes.GenerateKey(codes.EdDSA)
	if err != nil {
		return nil, nil, err
	}
	ring := codes.NewKeyRing()
	for _, usage := range []codes.Usage{codes.UsageCodes, codes.UsageLists} {
		k, err := codes.GenerateKey(codes.EdDSA)
		if err != nil {
			return nil, nil, err
		}
		if err := ring.Add(k, codes.PublicKey{Issuer: issuerID, Usage: usage}); err != nil {
			return nil, nil, err
		}
	}
	svc, err := codes.NewService(codes.Config{Keys: ring, Authorizer: access.AllowAll(), Bus: pub, Clock: clk,
		Issuer: issuerID, Jurisdiction: "500107"})
	return svc, anchor, err
}

// refresh is what a platform or a gate does when it has a network: fetch
// the trust list and the issuer's lists, and cache them.
func refresh(ctx context.Context, svc *codes.Service, anchor *codes.SigningKey, v *codes.Verifier, now time.Time) error {
	keys, err := svc.PublishKeys(ctx)
	if err != nil {
		return err
	}
	tl, err := codes.SignTrustList(codes.TrustList{Issuer: "500000-trust", Seq: uint64(now.Unix()), IssuedAt: now, Keys: keys}, anchor)
	if err != nil {
		return err
	}
	sl, _, err := svc.PublishStatusList(ctx)
	if err != nil {
		return err
	}
	rl, _, err := svc.PublishRevocationList(ctx)
	if err != nil {
		return err
	}
	for _, load := range []struct {
		f func([]byte) error
		b []byte
	}{{v.LoadTrustList, tl}, {v.LoadStatusList, sl}, {v.LoadRevocationList, rl}} {
		if err := load.f(load.b); err != nil {
			return err
		}
	}
	return nil
}

// S1: a short-term rental room is reviewed by housing, police and fire,
// gets its listing code, loses points for violations, turns red, and is
// delisted: the platforms' next check refuses its code.
func Example() {
	clk := clock.NewManual(time.Date(2026, 3, 2, 1, 30, 0, 0, time.UTC))
	var bus events
	svc, anchor, err := exampleIssuer(clk, &bus, "500107-housing")
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := access.WithActor(context.Background(), access.Actor{ID: "li", Kind: access.StreetStaff, Scope: "500107001"})

	// The three reviews passed: issue the room's code.
	data, _ := codes.EncodeData(codes.ListingClaims{Room: "cq-jlp-1201", Operator: "op-88",
		Reviews: []string{"housing", "police", "fire"}, Guests: 2, Lock: "lock-5521"})
	code, err := svc.Issue(ctx, codes.IssueRequest{Kind: codes.Listing, Subject: "room-1201",
		Jurisdiction: "500107001002003", Data: data})
	if err != nil {
		fmt.Println(err)
		return
	}

	// A platform verifies it before showing the listing.
	platform, _ := codes.NewVerifier(codes.VerifierConfig{Anchors: []codes.PublicKey{anchor.PublicKey()}, Clock: clk})
	if err := refresh(ctx, svc, anchor, platform, clk.Now()); err != nil {
		fmt.Println(err)
		return
	}
	got, err := platform.Verify(code.Text, codes.Listing)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("listed:", got.Colour)

	// Violations, each with its evidence.
	for _, v := range []struct {
		rule   string
		points int64
	}{{"noise-after-22h", 10}, {"unregistered-guest", 15}, {"fire-exit-blocked", 25}} {
		clk.Advance(24 * time.Hour)
		st, err := svc.Deduct(ctx, codes.Points{Subject: "room-1201", Points: v.points, Rule: v.rule,
			Evidence: codes.Evidence{Ref: "inspection:" + v.rule, SHA256: sha256.Sum256([]byte(v.rule))}})
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s: score %d, %s\n", v.rule, st.Score, st.Colour)
	}

	// Turning red is an event: the application suspends the listing and
	// revokes everything issued to the room so far.
	for _, m := range bus {
		if d, _ := codes.DecodeEvent(m); d.Event == codes.EventTurnedRed {
			fmt.Println("event:", m.Subject)
			if err := svc.RevokeSubject(ctx, d.Subject, time.Time{}, "delisted: score below 60"); err != nil {
				fmt.Println(err)
				return
			}
		}
	}

	// The platform's next refresh, and its check of the same code.
	clk.Advance(time.Minute)
	if err := refresh(ctx, svc, anchor, platform, clk.Now()); err != nil {
		fmt.Println(err)
		return
	}
	_, err = platform.Verify(code.Text, codes.Listing)
	fmt.Println("platform:", err)
	// Output:
	// listed: green
	// noise-after-22h: score 90, green
	// unregistered-guest: score 75, yellow
	// fire-exit-blocked: score 50, red
	// event: gov.500000.500107.500107001.codes.turned-red
	// platform: codes: revoked: everything issued to the subject before 2026-03-05T01:30:01Z is revoked
}

// S13: a delivery rider's phone holds a day of rotating codes; the guard's
// scanner verifies offline in a moment, and a screenshot passed on to
// someone else stops working after its step.
func Example_riderAtTheGate() {
	clk := clock.NewManual(time.Date(2026, 3, 2, 1, 30, 0, 0, time.UTC)) // 09:30 in Chongqing
	svc, anchor, err := exampleIssuer(clk, nil, "500107-workers")
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := access.WithActor(context.Background(), access.Actor{ID: "desk", Kind: access.DistrictStaff, Scope: "500107"})
	riderPub, _, _ := ed25519.GenerateKey(nil)
	data, _ := codes.EncodeData(codes.WorkerClaims{Platform: "meituan", Station: "xiejiawan"})
	series, err := svc.IssueSeries(ctx, codes.IssueRequest{Kind: codes.Worker, Subject: "rider-7",
		Jurisdiction: "500107", Data: data, HolderKey: riderPub}, 12*12) // twelve hours of five-minute steps
	if err != nil {
		fmt.Println(err)
		return
	}
	// The gate refreshed its lists in the morning and is offline since.
	gate, _ := codes.NewVerifier(codes.VerifierConfig{Anchors: []codes.PublicKey{anchor.PublicKey()}, Clock: clk})
	if err := refresh(ctx, svc, anchor, gate, clk.Now()); err != nil {
		fmt.Println(err)
		return
	}
	show := func(at time.Time) string { // what the phone shows at a time
		for _, c := range series {
			if !at.Before(c.Claims.NotBefore) && at.Before(c.Claims.Expiry) {
				return c.Text
			}
		}
		return ""
	}
	clk.Set(time.Date(2026, 3, 2, 1, 32, 0, 0, time.UTC))
	screenshot := show(clk.Now())
	got, err := gate.Verify(screenshot, codes.Worker)
	if err != nil {
		fmt.Println(err)
		return
	}
	var w codes.WorkerClaims
	_ = got.Claims.Decode(&w)
	fmt.Printf("09:32 %s (%s): %s, let in\n", got.Claims.Subject, w.Platform, got.Colour)

	clk.Set(time.Date(2026, 3, 2, 1, 45, 0, 0, time.UTC))
	_, err = gate.Verify(screenshot, codes.Worker)
	fmt.Println("09:45 screenshot:", strings.Contains(err.Error(), "rotation step"), err == nil)
	got, err = gate.Verify(show(clk.Now()), codes.Worker)
	fmt.Println("09:45 phone:", got.Colour, err)
	// Output:
	// 09:32 rider-7 (meituan): green, let in
	// 09:45 screenshot: true false
	// 09:45 phone: green <nil>
}

// S7: an inspector shows her enforcement code; the enterprise scans it
// against its own enterprise code, sees who is inspecting what and how to
// complain, and both sign a receipt of the visit.
func Example_inspection() {
	clk := clock.NewManual(time.Date(2026, 3, 2, 1, 30, 0, 0, time.UTC))
	svc, anchor, err := exampleIssuer(clk, nil, "500107-market")
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := access.WithActor(context.Background(), access.Actor{ID: "qin", Kind: access.DistrictStaff, Scope: "500107"})
	inspectorPub, inspectorKey, _ := ed25519.GenerateKey(nil)
	enterprisePub, enterpriseKey, _ := ed25519.GenerateKey(nil)

	ent, _ := codes.EncodeData(codes.EnterpriseClaims{CreditCode: "91500107MA5U123456", Name: "重庆某某火锅店"})
	enterprise, err := svc.Issue(ctx, codes.IssueRequest{Kind: codes.Enterprise, Subject: "ent-3307",
		Jurisdiction: "500107001002003", Data: ent, HolderKey: enterprisePub})
	if err != nil {
		fmt.Println(err)
		return
	}
	task, _ := codes.EncodeData(codes.EnforcementClaims{Agency: "500107-market", AgencyName: "九龙坡区市场监督管理局",
		Inspector: "CQ-50010723-0042", Task: "2026-0302-017", Enterprise: "ent-3307",
		Scope: []string{"food safety", "fire safety"}, Complaint: "12345"})
	day := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	enforcement, err := svc.Issue(ctx, codes.IssueRequest{Kind: codes.Enforcement, Subject: "insp-42-2026-0302-017",
		Jurisdiction: "500107001", Data: task, HolderKey: inspectorPub, NotBefore: day, Expiry: day.Add(24 * time.Hour)})
	if err != nil {
		fmt.Println(err)
		return
	}

	scanner, _ := codes.NewVerifier(codes.VerifierConfig{Anchors: []codes.PublicKey{anchor.PublicKey()}, Clock: clk})
	if err := refresh(ctx, svc, anchor, scanner, clk.Now()); err != nil {
		fmt.Println(err)
		return
	}
	in, err := scanner.CheckInspection(enforcement.Text, enterprise.Text)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(in.AgencyName, in.Inspector)
	fmt.Println("task", in.Task, "for", in.EnterpriseName, in.Scope)
	fmt.Println("complaints:", in.Complaint)

	signed, err := codes.NewReceipt(in, clk.Now()).SignAsEnterprise(enterpriseKey)
	if err != nil {
		fmt.Println(err)
		return
	}
	both, err := codes.CosignReceipt(signed, inspectorKey)
	if err != nil {
		fmt.Println(err)
		return
	}
	r, _, err := scanner.VerifyReceipt(both)
	fmt.Println("receipt:", r.Task, r.At.Format(time.RFC3339), err)

	// The next day the same code no longer opens the door.
	clk.Advance(24 * time.Hour)
	_, err = scanner.CheckInspection(enforcement.Text, enterprise.Text)
	fmt.Println(err != nil, strings.HasPrefix(err.Error(), "codes: task not authorised"))
	// Output:
	// 九龙坡区市场监督管理局 CQ-50010723-0042
	// task 2026-0302-017 for 重庆某某火锅店 [food safety fire safety]
	// complaints: 12345
	// receipt: 2026-0302-017 2026-03-02T01:30:00Z <nil>
	// true true
}

// A code as a PNG with a red band and high error correction.
func ExampleRender() {
	k, _ := codes.GenerateKey(codes.EdDSA)
	c := &codes.Claims{Issuer: "500107-housing", Subject: "room-1201", Kind: codes.Listing, Jurisdiction: "500107001002003",
		IssuedAt: time.Unix(1772415000, 0), NotBefore: time.Unix(1772415000, 0), Expiry: time.Unix(1803951000, 0),
		ID: codes.NewRevocationID()}
	c.Data, _ = codes.EncodeData(codes.ListingClaims{Room: "cq-jlp-1201", Operator: "op-88", Reviews: []string{"housing", "police", "fire"}})
	text, err := codes.Seal(k, c)
	if err != nil {
		fmt.Println(err)
		return
	}
	s, err := codes.Render(text, codes.RenderOptions{Level: codes.ECHigh, Colour: codes.Red})
	if err != nil {
		fmt.Println(err)
		return
	}
	var png strings.Builder
	if err := s.WritePNG(&png); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s.Opts.Level, s.Size > 21, png.Len() > 0)
	// Output: H true true
}
