// Command rentalcode runs S1, the short-term rental listing code (房源码) of
// Yuzhong district, Chongqing, on govkit's embedded defaults:
//
//  1. An operator registers a room in Jiefangbei street as one permit
//     bundle that housing, police and fire review together (a joint review
//     with one merged checklist).
//  2. When the bundle completes, permit's "completed" event reaches the
//     district's listing desk over the bus, and the desk issues the room's
//     listing code with package codes.
//  3. A booking platform caches the signed trust, status and revocation
//     lists and verifies the code offline: green. The code is rendered as
//     a PNG with its colour band.
//  4. Inspectors record violations on the room's points ledger; when the
//     score falls below 60 the codes service announces "turned-red", and
//     the delisting desk revokes everything issued to the room so far.
//  5. The platform's next refresh refuses the old code as revoked.
//
// Run it with
//
//	go run ./examples/rentalcode
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/clock"
	"github.com/govkit/govkit/codes"
	"github.com/govkit/govkit/permit"
)

func main() {
	if _, err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "rentalcode:", err)
		os.Exit(1)
	}
}

// Yuzhong district, Jiefangbei street, and the grid the room lies in
// (Minzu Road community, grid 2).
const (
	yuzhong = "500103"
	grid    = "500103001001002"
	issuer  = "500103-listing" // the CWT issuer of Yuzhong's listing codes
)

// policy is the district's access policy: operators apply for their own
// rooms, each department reviews only its own items, the listing desk
// reads completed bundles and issues, revokes and publishes codes, and
// inspectors record points. Everything else is denied.
const policy = `{"version": 1, "roles": {
  "admin":     [{"action": "publish-template", "resource": "permit-template"}],
  "operator":  [{"action": "apply", "resource": "permit-application", "own_only": true},
                {"action": "read", "resource": "permit-application", "own_only": true}],
  "reviewer":  [{"action": "review", "resource": "permit-application", "same_department": true},
                {"action": "read", "resource": "permit-application", "same_department": true}],
  "listing-desk": [{"action": "read", "resource": "permit-application"},
                   {"action": "issue", "resource": "listing-code"},
                   {"action": "revoke", "resource": "listing-code"},
                   {"action": "read", "resource": "listing-code"},
                   {"action": "publish", "resource": "code-list"}],
  "inspector": [{"action": "record-points", "resource": "listing-code"}]}}`

var (
	admin    = access.Actor{ID: "yz-admin-service", Kind: access.DistrictStaff, Department: "yz-admin-service", Scope: yuzhong, Roles: []string{"admin"}}
	operator = access.Actor{ID: "op-7f3a91", Kind: access.Citizen, Scope: yuzhong, Roles: []string{"operator"}}
	desk     = access.Actor{ID: "system:yz-listing-desk", Kind: access.AutomationSystem, Scope: yuzhong, Roles: []string{"listing-desk"}}
	police   = access.Actor{ID: "yz-police-liu", Kind: access.DepartmentHandler, Department: "police", Scope: yuzhong, Roles: []string{"reviewer", "inspector"}}
	housing  = access.Actor{ID: "yz-housing-qian", Kind: access.DepartmentHandler, Department: "housing", Scope: yuzhong, Roles: []string{"reviewer"}}
	fire     = access.Actor{ID: "yz-fire-zheng", Kind: access.DepartmentHandler, Department: "fire", Scope: yuzhong, Roles: []string{"reviewer", "inspector"}}
)

func as(ctx context.Context, a access.Actor) context.Context { return access.WithActor(ctx, a) }

// Result is what the scenario produced, for its test.
type Result struct {
	Application uuid.UUID
	Bundle      permit.Status // the registration bundle's final status
	Room        string        // the listing code's subject
	Code        string        // the listing code's text
	PNG         []byte        // the code rendered with its colour band
	Listed      *codes.Verified
	Colours     []codes.Colour   // the room's colour after each violation
	TurnedRed   []string         // subjects of the turned-red events the delisting desk acted on
	Status      codes.StatusList // the last status list published
	// Anchor is the trust anchor verifiers are configured with; AtListing
	// and AtDelisting are the signed lists a platform cached then.
	Anchor                 codes.PublicKey
	ListedAt, DelistedAt   time.Time
	AtListing, AtDelisting Lists
	Delisted               error         // the platform's verdict on the old code after delisting
	Ledger                 []codes.Entry // the room's points ledger, hash-chained
}

// Lists are the signed lists a verifier caches: trust, status, revocation.
type Lists struct{ Trust, Status, Revocation []byte }

func run(ctx context.Context, out io.Writer) (Result, error) {
	var res Result
	cst := time.FixedZone("CST", 8*3600)
	clk := clock.NewManual(time.Date(2026, 5, 11, 9, 30, 0, 0, cst)) // a Monday
	pol, err := access.ParsePolicy([]byte(policy))
	if err != nil {
		return res, err
	}
	b, err := bus.NewMemory(bus.MemoryOptions{})
	if err != nil {
		return res, err
	}
	defer b.Close()

	// The permit service runs the registration bundle.
	permits, err := permit.NewService(permit.Config{Authorizer: pol, Bus: b, Clock: clk})
	if err != nil {
		return res, err
	}
	defer permits.Shutdown()
	if _, err := permits.PublishTemplate(as(ctx, admin), rentalRoom()); err != nil {
		return res, err
	}

	// The codes service signs with the district's code and list keys; the
	// city's trust anchor signs the trust list that names them.
	anchor, err := codes.GenerateKey(codes.EdDSA)
	if err != nil {
		return res, err
	}
	res.Anchor = anchor.PublicKey()
	ring := codes.NewKeyRing()
	for _, usage := range []codes.Usage{codes.UsageCodes, codes.UsageLists} {
		k, err := codes.GenerateKey(codes.EdDSA)
		if err != nil {
			return res, err
		}
		if err := ring.Add(k, codes.PublicKey{Issuer: issuer, Usage: usage, Kinds: []codes.Kind{codes.Listing}}); err != nil {
			return res, err
		}
	}
	listing, err := codes.NewService(codes.Config{Keys: ring, Authorizer: pol, Bus: b, Clock: clk, Issuer: issuer, Jurisdiction: yuzhong})
	if err != nil {
		return res, err
	}

	// The listing desk: a completed rental-room bundle gets its code.
	var mu sync.Mutex
	issued := map[string]codes.Code{} // room → code, handed to the operator
	_, err = b.Subscribe(ctx, "gov.500000.500103.*.permit.completed", "listing-desk", func(hctx context.Context, m bus.Message) error {
		e, err := permit.DecodeEvent(m)
		if err != nil || e.Template != "rental-room" {
			return nil // not ours; redelivery would not help
		}
		// The event carries ids, never answers: read the application
		// under the desk's permission for what the code needs.
		a, err := permits.Application(as(hctx, desk), e.Application)
		if err != nil {
			return err
		}
		room := "room-" + a.Outputs["room-no"].Text
		if recs, err := listing.Store().CodesOf(hctx, room); err == nil && len(recs) > 0 {
			return nil // issued already: a redelivery
		}
		data, err := codes.EncodeData(codes.ListingClaims{
			Room: room, Operator: a.Applicant, Reviews: []string{"housing", "police", "fire"},
			Guests: guests(a.Answers["room.guests"].Value.Text), Lock: a.Answers["room.lock"].Value.Text,
		})
		if err != nil {
			return err
		}
		code, err := listing.Issue(as(hctx, desk), codes.IssueRequest{Kind: codes.Listing, Subject: room, Jurisdiction: e.Jurisdiction, Data: data})
		if err != nil {
			return err
		}
		mu.Lock()
		issued[room] = code
		mu.Unlock()
		return nil
	})
	if err != nil {
		return res, err
	}

	// The delisting desk: a room that turns red is suspended and every
	// code issued to it so far revoked; platforms drop it at their next
	// refresh.
	_, err = b.Subscribe(ctx, "gov.500000.500103.*.codes.turned-red", "delisting-desk", func(hctx context.Context, m bus.Message) error {
		d, err := codes.DecodeEvent(m)
		if err != nil {
			return nil
		}
		if err := listing.RevokeSubject(as(hctx, desk), d.Subject, time.Time{}, fmt.Sprintf("delisted: score %d below 60", d.Score)); err != nil {
			return err
		}
		mu.Lock()
		res.TurnedRed = append(res.TurnedRed, d.Subject)
		mu.Unlock()
		return nil
	})
	if err != nil {
		return res, err
	}

	// 1. The operator registers the room.
	op := as(ctx, operator)
	a, err := permits.Start(op, permit.StartRequest{Key: "op-7f3a91-room-1203", Template: "rental-room", Jurisdiction: grid})
	if err != nil {
		return res, err
	}
	res.Application = a.ID
	_, err = permits.Fill(op, permit.FillRequest{Application: a.ID,
		Answers: map[string]permit.Value{
			"operator.name": permit.Text("王芳"), "operator.phone": permit.Text("13983451203"),
			"room.address": permit.Text("重庆市渝中区解放碑街道民族路166号1203室"),
			"room.guests":  permit.Text("2"), "room.extinguishers": permit.Text("2+"), "room.lock": permit.Text("DS-LOCK-88123"),
		},
		Documents: map[string]permit.Document{"floor-plan": document("floor-plan-1203"), "property-certificate": document("property-1203")}})
	if err != nil {
		return res, err
	}
	if a, err = permits.Submit(op, permit.SubmitRequest{Application: a.ID}); err != nil {
		return res, err
	}
	fmt.Fprintf(out, "room 1203 submitted: %s, reviewed jointly by", a.Status)
	for _, it := range a.Items {
		fmt.Fprintf(out, " %s (%s)", it.Department, it.Status)
	}
	fmt.Fprintf(out, "\n  merged checklist: %d lines for %d departments\n", len(a.Checks), len(a.Items))

	// 2. The three departments review; the shared line is ticked once.
	clk.Advance(3 * time.Hour)
	for _, r := range []struct {
		who          access.Actor
		item, output string
		value        string
		confirm      []string
	}{
		{fire, "fire", "fire-check", "XF-500103-2026-0412", []string{"extinguishers", "fire-exits"}},
		{police, "police", "police-record", "ZA-500103-2026-1203", []string{"operator-identity", "floor-plan-matches"}},
		{housing, "housing", "room-no", "500103001-001203", []string{"property-verified"}},
	} {
		a, err = permits.Approve(as(ctx, r.who), permit.Approval{Application: a.ID, Item: r.item,
			Outputs: map[string]permit.Value{r.output: permit.Text(r.value)}, Confirm: r.confirm})
		if err != nil {
			return res, fmt.Errorf("%s review: %w", r.item, err)
		}
		fmt.Fprintf(out, "  %-7s approved by %s\n", r.item, r.who.ID)
	}
	res.Bundle = a.Status
	if err := settle(ctx, b); err != nil { // the listing desk acts on "completed"
		return res, err
	}
	res.Room = "room-" + a.Outputs["room-no"].Text
	mu.Lock()
	code, ok := issued[res.Room]
	mu.Unlock()
	if !ok {
		return res, errors.New("no listing code was issued for the completed bundle")
	}
	res.Code = code.Text
	fmt.Fprintf(out, "bundle %s → listing code for %s in grid %s (%d characters)\n", a.Status, res.Room, code.Claims.Jurisdiction, len(code.Text))

	// 3. A platform refreshes its lists and verifies the code offline.
	platform, err := codes.NewVerifier(codes.VerifierConfig{Anchors: []codes.PublicKey{res.Anchor}, Clock: clk})
	if err != nil {
		return res, err
	}
	trustSeq := uint64(0)
	refresh := func() (Lists, error) {
		var l Lists
		keys, err := listing.PublishKeys(as(ctx, desk))
		if err != nil {
			return l, err
		}
		trustSeq++
		if l.Trust, err = codes.SignTrustList(codes.TrustList{Issuer: "500000-trust", Seq: trustSeq, IssuedAt: clk.Now(), Keys: keys}, anchor); err != nil {
			return l, err
		}
		if l.Status, res.Status, err = listing.PublishStatusList(as(ctx, desk)); err != nil {
			return l, err
		}
		if l.Revocation, _, err = listing.PublishRevocationList(as(ctx, desk)); err != nil {
			return l, err
		}
		return l, errors.Join(platform.LoadTrustList(l.Trust), platform.LoadStatusList(l.Status), platform.LoadRevocationList(l.Revocation))
	}
	clk.Advance(time.Minute)
	if res.AtListing, err = refresh(); err != nil {
		return res, err
	}
	res.ListedAt = clk.Now()
	if res.Listed, err = platform.Verify(res.Code, codes.Listing); err != nil {
		return res, err
	}
	var claims codes.ListingClaims
	if err := res.Listed.Claims.Decode(&claims); err != nil {
		return res, err
	}
	fmt.Fprintf(out, "platform verifies offline: %s, reviews %v, up to %d guests, lock %s\n", res.Listed.Colour, claims.Reviews, claims.Guests, claims.Lock)
	if res.PNG, err = codes.RenderPNG(res.Code, codes.RenderOptions{Level: codes.ECMedium, Colour: res.Listed.Colour}); err != nil {
		return res, err
	}
	fmt.Fprintf(out, "rendered as a %d-byte PNG with a %s band\n", len(res.PNG), res.Listed.Colour)

	// 4. Violations, each with the evidence it rests on.
	for _, v := range []struct {
		who    access.Actor
		rule   string
		points int64
		note   string
	}{
		{police, "unregistered-guest", 10, "住客未实名登记"},
		{police, "noise-after-22h", 15, "22时后噪音扰民，邻居投诉"},
		{fire, "fire-exit-blocked", 20, "疏散通道堆放杂物"},
	} {
		clk.Advance(7 * 24 * time.Hour)
		record := "inspection-" + v.rule + "-" + clk.Now().Format("20060102")
		st, err := listing.Deduct(as(ctx, v.who), codes.Points{Subject: res.Room, Points: v.points, Rule: v.rule, Note: v.note,
			Evidence: codes.Evidence{Ref: "record:" + record, SHA256: sha256.Sum256([]byte(record))}, Key: record})
		if err != nil {
			return res, err
		}
		res.Colours = append(res.Colours, st.Colour)
		fmt.Fprintf(out, "  -%d %-18s score %3d %s\n", v.points, v.rule, st.Score, st.Colour)
	}
	if err := settle(ctx, b); err != nil { // the delisting desk acts on "turned-red"
		return res, err
	}

	// 5. The platform's next refresh: the room is red and its code revoked.
	clk.Advance(time.Minute)
	if res.AtDelisting, err = refresh(); err != nil {
		return res, err
	}
	res.DelistedAt = clk.Now()
	if res.Ledger, err = listing.Ledger(as(ctx, desk), res.Room); err != nil {
		return res, err
	}
	_, res.Delisted = platform.Verify(res.Code, codes.Listing)
	fmt.Fprintf(out, "status list: %s is %s; platform refuses the old code: %v\n", res.Room, res.Status.Colours[res.Room], errors.Is(res.Delisted, codes.ErrRevoked))
	fmt.Fprintf(out, "listed green, turned red after %d violations, delisted: %v\n", len(res.Colours), errors.Is(res.Delisted, codes.ErrRevoked))
	return res, nil
}

// rentalRoom is Yuzhong's registration bundle for a short-term rental
// room: housing, police and fire review it jointly.
func rentalRoom() permit.Template {
	return permit.Template{
		ID: "rental-room", Version: 1, Name: "网约房房源登记", Jurisdiction: yuzhong, Owner: "yz-admin-service",
		Fields: []permit.Field{
			{ID: "operator.name", Label: "经营者姓名", Kind: permit.NameField},
			{ID: "operator.phone", Label: "联系电话", Kind: permit.PhoneField},
			{ID: "room.address", Label: "房源地址", Kind: permit.AddressField},
			{ID: "room.guests", Label: "最多入住人数", Kind: permit.NumberField},
			{ID: "room.extinguishers", Label: "灭火器", Kind: permit.ChoiceField, Choices: []permit.Choice{{Value: "0", Label: "无"}, {Value: "1", Label: "1个"}, {Value: "2+", Label: "2个及以上"}}},
			{ID: "room.lock", Label: "智能门锁编号", Kind: permit.TextField, MaxLen: 40},
		},
		Documents: []permit.DocumentSpec{{ID: "floor-plan", Name: "房间平面图"}, {ID: "property-certificate", Name: "产权证明"}},
		Items: []permit.Item{
			{ID: "housing", Name: "住建审核", Department: "housing", SLA: permit.Days(3), Joint: "rental-room",
				Fields: []string{"room.address", "operator.name"}, Documents: []string{"property-certificate", "floor-plan"},
				Outputs:   []permit.Output{{ID: "room-no", Name: "房源编号"}},
				Checklist: []permit.Check{{ID: "property-verified", Text: "产权已核验"}, {ID: "floor-plan-matches", Text: "平面图与现场一致"}}},
			{ID: "police", Name: "公安审核", Department: "police", SLA: permit.Days(3), Joint: "rental-room",
				Fields: []string{"operator.name", "operator.phone", "room.address", "room.guests", "room.lock"}, Documents: []string{"floor-plan"},
				Outputs:   []permit.Output{{ID: "police-record", Name: "治安登记号"}},
				Checklist: []permit.Check{{ID: "operator-identity", Text: "经营者身份已核验"}, {ID: "floor-plan-matches", Text: "平面图与现场一致"}}},
			{ID: "fire", Name: "消防审核", Department: "fire", SLA: permit.Days(3), Joint: "rental-room",
				Fields: []string{"room.address", "room.extinguishers"}, Documents: []string{"floor-plan"},
				Outputs:   []permit.Output{{ID: "fire-check", Name: "消防检查记录"}},
				Checklist: []permit.Check{{ID: "fire-exits", Text: "疏散通道畅通"}, {ID: "extinguishers", Text: "灭火器配置达标"}}},
		},
	}
}

// document is a scan in the district's document store, fixed by its hash.
func document(name string) permit.Document {
	h := sha256.Sum256([]byte(name))
	return permit.Document{URI: "https://docs.yuzhong.example.gov.cn/" + name, SHA256: hex.EncodeToString(h[:]), Name: name + ".pdf"}
}

// guests reads the number of guests the review allows.
func guests(s string) int {
	var n int
	_, _ = fmt.Sscan(s, &n)
	return n
}

// settle waits until every handler has acknowledged what the bus holds;
// a handler that keeps failing fails the run instead of hanging it.
func settle(ctx context.Context, b *bus.Memory) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return b.Drain(ctx)
}
