package codes_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"sync"
	"testing"
	"time"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/clock"
	"github.com/govkit/govkit/codes"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const policyJSON = `{"version": 1, "roles": {
  "housing-officer": [
    {"action": "issue",         "resource": "listing-code"},
    {"action": "revoke",        "resource": "listing-code"},
    {"action": "record-points", "resource": "listing-code"},
    {"action": "read",          "resource": "listing-code"}],
  "appeals-officer": [
    {"action": "appeal",        "resource": "listing-code"},
    {"action": "decide-appeal", "resource": "listing-code"},
    {"action": "read",          "resource": "listing-code"}],
  "platform-desk": [
    {"action": "issue",         "resource": "worker-code"},
    {"action": "record-points", "resource": "worker-code"}],
  "market-regulator": [
    {"action": "issue",         "resource": "enforcement-code"},
    {"action": "issue",         "resource": "enterprise-code"},
    {"action": "revoke",        "resource": "enforcement-code"}],
  "list-publisher": [
    {"action": "publish",       "resource": "code-list"}]}}`

var (
	// Li is a housing officer of Shiqiaopu street, Jiulongpo.
	li = access.Actor{ID: "li", Kind: access.StreetStaff, Scope: "500107001", Roles: []string{"housing-officer"}}
	// Wang decides appeals for the whole district.
	wang = access.Actor{ID: "wang", Kind: access.DistrictStaff, Scope: "500107", Roles: []string{"appeals-officer", "housing-officer"}}
	// Zhou publishes the district's lists.
	zhou = access.Actor{ID: "zhou", Kind: access.AutomationSystem, Scope: "500107", Roles: []string{"list-publisher"}}
	// Desk issues riders' codes for the district.
	desk = access.Actor{ID: "desk", Kind: access.DistrictStaff, Scope: "500107", Roles: []string{"platform-desk"}}
	// Qin is a market regulator of the district.
	qin = access.Actor{ID: "qin", Kind: access.DistrictStaff, Scope: "500107", Roles: []string{"market-regulator"}}
)

const (
	gridInStreet1 = "500107001002003" // in Li's street
	gridInStreet2 = "500107002001001" // the next street
)

func as(a access.Actor) context.Context { return access.WithActor(context.Background(), a) }

// recorder is a bus.Publisher that keeps what it is given.
type recorder struct {
	mu   sync.Mutex
	msgs []bus.Message
}

func (r *recorder) Publish(_ context.Context, m bus.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, m)
	return nil
}

func (r *recorder) events(t *testing.T, name string) []codes.EventData {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []codes.EventData
	for _, m := range r.msgs {
		d, err := codes.DecodeEvent(m)
		require.NoError(t, err)
		if d.Event == name {
			out = append(out, d)
		}
	}
	return out
}

type harness struct {
	keys  *keys
	clk   *clock.Manual
	bus   *recorder
	store *codes.MemoryStore
	svc   *codes.Service
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	p, err := access.ParsePolicy([]byte(policyJSON))
	require.NoError(t, err)
	h := &harness{keys: newKeys(t, codes.EdDSA), clk: clock.NewManual(t0), bus: &recorder{}, store: codes.NewMemoryStore()}
	h.svc, err = codes.NewService(codes.Config{
		Store: h.store, Keys: h.keys.ring, Authorizer: p, Bus: h.bus, Clock: h.clk,
		Issuer: issuer, Jurisdiction: "500107",
	})
	require.NoError(t, err)
	return h
}

func (h *harness) issueListing(t *testing.T, subject, grid string) codes.Code {
	t.Helper()
	c, err := h.svc.Issue(as(li), codes.IssueRequest{Kind: codes.Listing, Subject: subject, Jurisdiction: codeOf(grid), Data: listingData(t, subject)})
	require.NoError(t, err)
	return c
}

// verifier loads what the service publishes now into a fresh verifier.
func (h *harness) verifier(t *testing.T) *codes.Verifier {
	t.Helper()
	v, err := codes.NewVerifier(codes.VerifierConfig{Anchors: h.keys.anchors(), Clock: h.clk})
	require.NoError(t, err)
	h.refresh(t, v)
	return v
}

func (h *harness) refresh(t *testing.T, v *codes.Verifier) {
	t.Helper()
	keys, err := h.svc.PublishKeys(as(zhou))
	require.NoError(t, err)
	tl, err := codes.SignTrustList(codes.TrustList{Issuer: "500000-trust", Seq: uint64(h.clk.Now().Unix()), IssuedAt: h.clk.Now(), Keys: keys}, h.keys.anchor)
	require.NoError(t, err)
	require.NoError(t, v.LoadTrustList(tl))
	sl, _, err := h.svc.PublishStatusList(as(zhou))
	require.NoError(t, err)
	require.NoError(t, v.LoadStatusList(sl))
	rl, _, err := h.svc.PublishRevocationList(as(zhou))
	require.NoError(t, err)
	require.NoError(t, v.LoadRevocationList(rl))
}

func evidence(ref string) codes.Evidence {
	return codes.Evidence{Ref: ref, SHA256: sha256.Sum256([]byte(ref))}
}

func TestIssueAuthorisedAtTheJurisdictionBoundary(t *testing.T) {
	h := newHarness(t)
	code := h.issueListing(t, "room-1", gridInStreet1)
	assert.Equal(t, codes.Listing, code.Claims.Kind)
	assert.Equal(t, issuer, code.Claims.Issuer)
	assert.True(t, t0.Equal(code.Claims.IssuedAt))
	assert.True(t, t0.Add(365*24*time.Hour).Equal(code.Claims.Expiry), "the kind's lifetime")

	// The next street is outside Li's jurisdiction: denied, nothing stored.
	_, err := h.svc.Issue(as(li), codes.IssueRequest{Kind: codes.Listing, Subject: "room-2", Jurisdiction: gridInStreet2, Data: listingData(t, "room-2")})
	require.ErrorIs(t, err, access.ErrDenied)
	_, err = h.store.Subject(t.Context(), "room-2")
	require.ErrorIs(t, err, codes.ErrNotFound)
	// No actor, no code.
	_, err = h.svc.Issue(context.Background(), codes.IssueRequest{Kind: codes.Listing, Subject: "room-2", Jurisdiction: gridInStreet1, Data: listingData(t, "room-2")})
	require.ErrorIs(t, err, access.ErrNoActor)
	// A role without the grant.
	_, err = h.svc.Issue(as(zhou), codes.IssueRequest{Kind: codes.Listing, Subject: "room-2", Jurisdiction: gridInStreet1, Data: listingData(t, "room-2")})
	require.ErrorIs(t, err, access.ErrDenied)

	// The ledger too: Li may not deduct in the next street.
	h.issueListingAs(t, wang, "room-3", gridInStreet2)
	_, err = h.svc.Deduct(as(li), codes.Points{Subject: "room-3", Points: 5, Rule: "noise", Evidence: evidence("photo-1")})
	require.ErrorIs(t, err, access.ErrDenied)
	st, err := h.svc.Deduct(as(wang), codes.Points{Subject: "room-3", Points: 5, Rule: "noise", Evidence: evidence("photo-1")})
	require.NoError(t, err)
	assert.Equal(t, int64(95), st.Score)
	_, err = h.svc.Ledger(as(li), "room-3")
	require.ErrorIs(t, err, access.ErrDenied)
	// And revocation.
	require.ErrorIs(t, h.svc.RevokeSubject(as(li), "room-3", time.Time{}, "delisted"), access.ErrDenied)
	require.ErrorIs(t, h.svc.Revoke(as(zhou), code.Claims.ID, "lost"), access.ErrDenied)
	// Publishing lists needs its own grant.
	_, _, err = h.svc.PublishStatusList(as(li))
	require.ErrorIs(t, err, access.ErrDenied)
}

func (h *harness) issueListingAs(t *testing.T, a access.Actor, subject, grid string) codes.Code {
	t.Helper()
	c, err := h.svc.Issue(as(a), codes.IssueRequest{Kind: codes.Listing, Subject: subject, Jurisdiction: codeOf(grid), Data: listingData(t, subject)})
	require.NoError(t, err)
	return c
}

func TestIssueRejectsBadInputAndChangesNothing(t *testing.T) {
	h := newHarness(t)
	h.issueListing(t, "room-1", gridInStreet1)
	good := codes.IssueRequest{Kind: codes.Listing, Subject: "room-2", Jurisdiction: gridInStreet1, Data: listingData(t, "room-2")}
	unreviewed, err := codes.EncodeData(codes.ListingClaims{Room: "r", Operator: "o", Reviews: []string{"housing", "police"}})
	require.NoError(t, err)
	cases := []struct {
		name string
		edit func(r *codes.IssueRequest)
		want error
	}{
		{"unknown kind", func(r *codes.IssueRequest) { r.Kind = 77 }, codes.ErrUnknownKind},
		{"empty subject", func(r *codes.IssueRequest) { r.Subject = "" }, codes.ErrInvalid},
		{"subject with a space", func(r *codes.IssueRequest) { r.Subject = "room 2" }, codes.ErrInvalid},
		{"bad jurisdiction", func(r *codes.IssueRequest) { r.Jurisdiction = "5001" }, codes.ErrInvalid},
		{"fire review missing", func(r *codes.IssueRequest) { r.Data = unreviewed }, codes.ErrInvalid},
		{"no data", func(r *codes.IssueRequest) { r.Data = nil }, codes.ErrInvalid},
		{"garbage data", func(r *codes.IssueRequest) { r.Data = []byte{0xff, 0x00} }, codes.ErrInvalid},
		{"short holder key", func(r *codes.IssueRequest) { r.HolderKey = make([]byte, 31) }, codes.ErrInvalid},
		{"expiry before start", func(r *codes.IssueRequest) { r.Expiry = t0.Add(-time.Hour) }, codes.ErrInvalid},
		{"six years", func(r *codes.IssueRequest) { r.Expiry = t0.Add(6 * 366 * 24 * time.Hour) }, codes.ErrInvalid},
		{"another kind for the same subject", func(r *codes.IssueRequest) { r.Subject = "room-1"; r.Kind = codes.Worker }, codes.ErrInvalid},
		{"the subject moved", func(r *codes.IssueRequest) { r.Subject = "room-1"; r.Jurisdiction = "500107001002004" }, codes.ErrInvalid},
	}
	for _, c := range cases {
		r := good
		c.edit(&r)
		_, err := h.svc.Issue(as(wang), r)
		require.ErrorIs(t, err, c.want, c.name)
	}
	_, err = h.store.Subject(t.Context(), "room-2")
	require.ErrorIs(t, err, codes.ErrNotFound, "nothing half-written")
	recs, err := h.store.CodesOf(t.Context(), "room-1")
	require.NoError(t, err)
	assert.Len(t, recs, 1)
	assert.Len(t, h.bus.events(t, codes.EventIssued), 1)
}

func TestLedgerColoursAndAppeals(t *testing.T) {
	h := newHarness(t)
	h.issueListing(t, "room-1", gridInStreet1)
	ded := func(points int64, rule string) codes.Standing {
		t.Helper()
		h.clk.Advance(time.Hour)
		st, err := h.svc.Deduct(as(li), codes.Points{Subject: "room-1", Points: points, Rule: rule, Evidence: evidence(rule)})
		require.NoError(t, err)
		return st
	}
	assert.Equal(t, codes.Green, ded(10, "noise").Colour)               // 90, seq 1
	assert.Equal(t, codes.Yellow, ded(15, "unregistered-guest").Colour) // 75, seq 2
	assert.Len(t, h.bus.events(t, codes.EventColourChanged), 1)

	// The operator appeals the second deduction: on hold, green again.
	st, err := h.svc.Appeal(as(wang), "room-1", 2, "the guest was registered at 21:04")
	require.NoError(t, err)
	assert.Equal(t, codes.Standing{Score: 90, Colour: codes.Green, OnHold: 15, Appeals: 1, Entries: 3}, st)
	// A second appeal of the same deduction, an appeal of an addition or
	// of nothing are refused and change nothing.
	_, err = h.svc.Appeal(as(wang), "room-1", 2, "again")
	require.ErrorIs(t, err, codes.ErrInvalid)
	_, err = h.svc.Appeal(as(wang), "room-1", 9, "")
	require.ErrorIs(t, err, codes.ErrNotFound)
	_, err = h.svc.DecideAppeal(as(wang), "room-1", 1, true, "no appeal open")
	require.ErrorIs(t, err, codes.ErrInvalid)

	// Li recorded the deduction, so Li may not decide its appeal.
	liToo := li
	liToo.Roles = append(liToo.Roles, "appeals-officer")
	_, err = h.svc.DecideAppeal(as(liToo), "room-1", 2, true, "")
	require.ErrorIs(t, err, access.ErrSeparationOfDuties)

	// Wang upholds it: the deduction stands.
	st, err = h.svc.DecideAppeal(as(wang), "room-1", 2, true, "hotel register shows no entry")
	require.NoError(t, err)
	assert.Equal(t, codes.Standing{Score: 75, Colour: codes.Yellow, Entries: 4}, st)

	// Into red: the event that suspends the listing.
	st = ded(20, "fire-exit-blocked") // 55
	assert.Equal(t, codes.Red, st.Colour)
	red := h.bus.events(t, codes.EventTurnedRed)
	require.Len(t, red, 1)
	assert.Equal(t, "room-1", red[0].Subject)
	assert.Equal(t, "yellow", red[0].From)
	assert.Equal(t, int64(55), red[0].Score)
	assert.Equal(t, "gov.500000.500107.500107001.codes.turned-red", h.bus.msgs[len(h.bus.msgs)-1].Subject)
	// Staying red publishes points, not another turned-red.
	ded(1, "noise")
	assert.Len(t, h.bus.events(t, codes.EventTurnedRed), 1)

	// A granted appeal voids a deduction.
	_, err = h.svc.Appeal(as(wang), "room-1", 6, "")
	require.NoError(t, err)
	st, err = h.svc.DecideAppeal(as(wang), "room-1", 6, false, "wrong room")
	require.NoError(t, err)
	assert.Equal(t, int64(55), st.Score)

	// The colour is a pure function of the ledger, which chains.
	ledger, err := h.svc.Ledger(as(li), "room-1")
	require.NoError(t, err)
	require.Len(t, ledger, 8)
	assert.Equal(t, st, h.svc.Thresholds().Standing(ledger))
	assert.Equal(t, "li", ledger[0].Recorder)
	assert.Equal(t, codes.AppealGranted, ledger[7].Type)
	require.NoError(t, codes.VerifyLedger(ledger))
	ledger[2].Note = "edited"
	require.ErrorIs(t, codes.VerifyLedger(ledger), codes.ErrConflict)

	// Bad ledger input.
	for _, p := range []codes.Points{
		{Subject: "room-1", Points: 0, Rule: "noise", Evidence: evidence("x")},
		{Subject: "room-1", Points: 5, Rule: "", Evidence: evidence("x")},
		{Subject: "room-1", Points: 5, Rule: "noise"}, // no evidence
	} {
		_, err := h.svc.Deduct(as(li), p)
		require.ErrorIs(t, err, codes.ErrInvalid)
	}
	_, err = h.svc.Deduct(as(li), codes.Points{Subject: "room-9", Points: 5, Rule: "noise", Evidence: evidence("x")})
	require.ErrorIs(t, err, codes.ErrNotFound)
	after, err := h.svc.Ledger(as(li), "room-1")
	require.NoError(t, err)
	assert.Len(t, after, 8, "refused entries leave the ledger as it was")
}

func TestThresholdsArePure(t *testing.T) {
	th := codes.Thresholds{Start: 12, Max: 12, Yellow: 9, Red: 4}
	require.NoError(t, th.Validate())
	assert.Equal(t, codes.Standing{Score: 12, Colour: codes.Green}, th.Standing(nil))
	e := []codes.Entry{
		{Seq: 1, Type: codes.Deduction, Points: 3},
		{Seq: 2, Type: codes.Addition, Points: 10}, // capped at Max
		{Seq: 3, Type: codes.Deduction, Points: 9},
	}
	assert.Equal(t, codes.Standing{Score: 3, Colour: codes.Red, Entries: 3}, th.Standing(e))
	assert.Equal(t, codes.Yellow, th.Colour(8))
	assert.Equal(t, codes.Green, th.Colour(9))
	assert.ErrorIs(t, codes.Thresholds{Start: 1, Max: 1, Yellow: 5, Red: 0}.Validate(), codes.ErrInvalid)
}

func TestVerifierTakesTheColourFromTheStatusList(t *testing.T) {
	h := newHarness(t)
	code := h.issueListing(t, "room-1", gridInStreet1)
	v := h.verifier(t)
	got, err := v.Verify(code.Text, codes.Listing)
	require.NoError(t, err)
	assert.Equal(t, codes.Green, got.Colour)

	for i := range 3 {
		_, err := h.svc.Deduct(as(li), codes.Points{Subject: "room-1", Points: 15, Rule: "noise", Evidence: evidence(string(rune('a' + i)))})
		require.NoError(t, err)
	}
	// The printed code has not changed, but the colour has: once the
	// verifier loads the next status list.
	got, err = v.Verify(code.Text)
	require.NoError(t, err)
	assert.Equal(t, codes.Green, got.Colour, "until the verifier refreshes")
	h.clk.Advance(time.Minute)
	h.refresh(t, v)
	got, err = v.Verify(code.Text)
	require.NoError(t, err)
	assert.Equal(t, codes.Red, got.Colour)

	// A code issued now carries the epoch of the last list published; a
	// verifier holding that list or a newer one vouches for it.
	fresh := h.issueListing(t, "room-2", gridInStreet1)
	assert.Equal(t, uint64(2), fresh.Claims.StatusEpoch)
	got, err = v.Verify(fresh.Text)
	require.NoError(t, err)
	assert.Equal(t, codes.Green, got.Colour)
}

func TestRevokeThroughTheService(t *testing.T) {
	h := newHarness(t)
	a := h.issueListing(t, "room-1", gridInStreet1)
	b := h.issueListing(t, "room-2", gridInStreet1)
	require.NoError(t, h.svc.Revoke(as(li), a.Claims.ID, "lock replaced"))
	require.ErrorIs(t, h.svc.Revoke(as(li), a.Claims.ID, "again"), codes.ErrConflict)
	require.ErrorIs(t, h.svc.Revoke(as(li), codes.NewRevocationID(), "unknown"), codes.ErrNotFound)
	require.ErrorIs(t, h.svc.Revoke(as(li), b.Claims.ID, ""), codes.ErrInvalid)

	h.clk.Advance(time.Hour)
	require.NoError(t, h.svc.RevokeSubject(as(li), "room-2", time.Time{}, "delisted"))
	h.clk.Advance(time.Second)
	c := h.issueListing(t, "room-2", gridInStreet1) // re-issued after rectification

	v := h.verifier(t)
	_, err := v.Verify(a.Text)
	requireRefused(t, err, codes.ErrRevoked)
	_, err = v.Verify(b.Text)
	requireRefused(t, err, codes.ErrRevoked)
	_, err = v.Verify(c.Text)
	require.NoError(t, err)
	assert.Len(t, h.bus.events(t, codes.EventRevoked), 1)
	assert.Len(t, h.bus.events(t, codes.EventSubjectRevoked), 1)
}

func TestRiderSeries(t *testing.T) {
	h := newHarness(t)
	data, err := codes.EncodeData(codes.WorkerClaims{Platform: "meituan"})
	require.NoError(t, err)
	_, rider, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	req := codes.IssueRequest{Kind: codes.Worker, Subject: "rider-1", Jurisdiction: "500107", Data: data, HolderKey: rider.Public().(ed25519.PublicKey)}
	h.clk.Set(t0.Add(2 * time.Minute)) // mid-step
	series, err := h.svc.IssueSeries(as(desk), req, 12)
	require.NoError(t, err)
	require.Len(t, series, 12)
	for i, c := range series {
		assert.Equal(t, series[0].Claims.ID, c.Claims.ID, "one revocation id for the series")
		assert.Equal(t, series[0].Claims.Step+int64(i), c.Claims.Step)
	}
	assert.True(t, t0.Add(2*time.Minute).Equal(series[0].Claims.NotBefore))
	assert.True(t, t0.Add(5*time.Minute).Equal(series[0].Claims.Expiry))
	v := h.verifier(t)
	_, err = v.Verify(series[0].Text, codes.Worker)
	require.NoError(t, err)
	_, err = v.Verify(series[5].Text, codes.Worker)
	requireRefused(t, err, codes.ErrNotYetValid)
	h.clk.Set(t0.Add(26 * time.Minute))
	_, err = v.Verify(series[5].Text, codes.Worker)
	require.NoError(t, err)
	_, err = v.Verify(series[0].Text, codes.Worker)
	requireRefused(t, err, codes.ErrExpired, "yesterday's screenshot")

	_, err = h.svc.IssueSeries(as(desk), req, 0)
	require.ErrorIs(t, err, codes.ErrInvalid)
	lreq := codes.IssueRequest{Kind: codes.Listing, Subject: "room-1", Jurisdiction: gridInStreet1, Data: listingData(t, "room-1")}
	_, err = h.svc.IssueSeries(as(li), lreq, 2)
	require.ErrorIs(t, err, codes.ErrInvalid, "listings do not rotate")
}

func TestCustomKind(t *testing.T) {
	type volunteer struct {
		Team  string `cbor:"1,keyasint"`
		Hours int    `cbor:"2,keyasint"`
	}
	r := codes.NewRegistry()
	spec := codes.KindSpec{Kind: codes.FirstCustomKind, Name: "volunteer", Title: "志愿者码", Lifetime: 30 * 24 * time.Hour,
		Validate: codes.ValidateData(func(v *volunteer) error {
			if v.Team == "" {
				return &codes.InputError{Field: "team", Reason: "empty"}
			}
			return nil
		})}
	require.NoError(t, r.Register(spec))
	require.ErrorIs(t, r.Register(spec), codes.ErrConflict)
	bad := spec
	bad.Kind, bad.Name = 3, "mine"
	require.ErrorIs(t, r.Register(bad), codes.ErrInvalid)
	bad = spec
	bad.Kind, bad.Name = 1001, "Bad Name"
	require.ErrorIs(t, r.Register(bad), codes.ErrInvalid)
	assert.Equal(t, "volunteer", r.Name(codes.FirstCustomKind))
	assert.Len(t, r.Kinds(), 5)

	k := newKeys(t, codes.EdDSA)
	p, err := access.ParsePolicy([]byte(`{"version": 1, "roles": {"v": [{"action": "issue", "resource": "volunteer-code"}]}}`))
	require.NoError(t, err)
	svc, err := codes.NewService(codes.Config{Keys: k.ring, Kinds: r, Authorizer: p, Issuer: issuer, Jurisdiction: "500107", Clock: clock.NewManual(t0)})
	require.NoError(t, err)
	ctx := as(access.Actor{ID: "v1", Kind: access.StreetStaff, Scope: "500107", Roles: []string{"v"}})
	data, err := codes.EncodeData(volunteer{Team: "xiejiawan-red-vests", Hours: 12})
	require.NoError(t, err)
	code, err := svc.Issue(ctx, codes.IssueRequest{Kind: codes.FirstCustomKind, Subject: "vol-1", Jurisdiction: "500107001", Data: data})
	require.NoError(t, err)
	empty, err := codes.EncodeData(volunteer{})
	require.NoError(t, err)
	_, err = svc.Issue(ctx, codes.IssueRequest{Kind: codes.FirstCustomKind, Subject: "vol-2", Jurisdiction: "500107001", Data: empty})
	require.ErrorIs(t, err, codes.ErrInvalid)

	v, err := codes.NewVerifier(codes.VerifierConfig{Anchors: k.anchors(), Kinds: r, Clock: clock.NewManual(t0.Add(time.Hour))})
	require.NoError(t, err)
	require.NoError(t, v.LoadTrustList(k.trustList(t, 1, t0)))
	require.NoError(t, v.LoadRevocationList(k.revocationList(t, 1, t0, nil, nil)))
	got, err := v.Verify(code.Text, codes.FirstCustomKind)
	require.NoError(t, err)
	assert.Zero(t, got.Colour, "no status for this kind")
	var vol volunteer
	require.NoError(t, got.Claims.Decode(&vol))
	assert.Equal(t, 12, vol.Hours)
	// A verifier that does not know the kind refuses it.
	plain := k.verifier(t, clock.NewManual(t0.Add(time.Hour)))
	_, err = plain.Verify(code.Text)
	requireRefused(t, err, codes.ErrWrongKind)
}

func TestNewServiceValidates(t *testing.T) {
	k := newKeys(t, codes.EdDSA)
	for _, cfg := range []codes.Config{
		{Authorizer: access.AllowAll(), Issuer: issuer, Jurisdiction: "500107"},
		{Keys: k.ring, Issuer: issuer, Jurisdiction: "500107"},
		{Keys: k.ring, Authorizer: access.AllowAll(), Jurisdiction: "500107"},
		{Keys: k.ring, Authorizer: access.AllowAll(), Issuer: issuer},
		{Keys: k.ring, Authorizer: access.AllowAll(), Issuer: issuer, Jurisdiction: "500107", Thresholds: codes.Thresholds{Start: 1, Red: 5}},
		{Keys: k.ring, Authorizer: access.AllowAll(), Issuer: issuer, Jurisdiction: "500107", SubjectPrefix: "a b"},
	} {
		_, err := codes.NewService(cfg)
		assert.ErrorIs(t, err, codes.ErrInvalid)
	}
}

// Concurrent deductions on one ledger are all kept, in one unbroken chain.
func TestConcurrentDeductions(t *testing.T) {
	h := newHarness(t)
	h.issueListing(t, "room-1", gridInStreet1)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := h.svc.Deduct(as(li), codes.Points{Subject: "room-1", Points: 1, Rule: "noise", Evidence: evidence(string(rune('a' + i)))})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	kept := 0
	for err := range errs {
		if err == nil {
			kept++
		} else {
			require.ErrorIs(t, err, codes.ErrConflict, "only a conflict that outlasted the retries may fail")
		}
	}
	ledger, err := h.svc.Ledger(as(li), "room-1")
	require.NoError(t, err)
	assert.Len(t, ledger, kept)
	st, err := h.svc.Standing(as(li), "room-1")
	require.NoError(t, err)
	assert.Equal(t, int64(100-kept), st.Score)
	assert.Positive(t, kept)
}

// A client that retries a deduction with the same idempotency key does
// not deduct twice.
func TestDeductionIsIdempotent(t *testing.T) {
	h := newHarness(t)
	h.issueListing(t, "room-1", gridInStreet1)
	p := codes.Points{Subject: "room-1", Points: 10, Rule: "noise", Evidence: evidence("photo-9"), Key: "inspection-2026-0302-9"}
	first, err := h.svc.Deduct(as(li), p)
	require.NoError(t, err)
	again, err := h.svc.Deduct(as(li), p)
	require.NoError(t, err)
	assert.Equal(t, first, again)
	ledger, err := h.svc.Ledger(as(li), "room-1")
	require.NoError(t, err)
	require.Len(t, ledger, 1)
	assert.Equal(t, "inspection-2026-0302-9", ledger[0].Key)
	assert.Len(t, h.bus.events(t, codes.EventPoints), 1)
	p.Key = "bad key"
	_, err = h.svc.Deduct(as(li), p)
	require.ErrorIs(t, err, codes.ErrInvalid)
}
