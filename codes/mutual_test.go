package codes_test

import (
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/govkit/govkit/codes"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// s7 is an inspection: the market regulator's inspector and the
// enterprise she visits, each with a holder key.
type s7 struct {
	h                           *harness
	inspectorKey, enterpriseKey ed25519.PrivateKey
	enterprise, enforcement     codes.Code
}

func newS7(t *testing.T) *s7 {
	t.Helper()
	s := &s7{h: newHarness(t)}
	var err error
	_, s.inspectorKey, err = ed25519.GenerateKey(nil)
	require.NoError(t, err)
	_, s.enterpriseKey, err = ed25519.GenerateKey(nil)
	require.NoError(t, err)
	s.enterprise = s.issueEnterprise(t, "ent-1", "500107001002003")
	s.enforcement = s.issueEnforcement(t, "task-88", "ent-1", "500107001", t0, t0.Add(24*time.Hour))
	return s
}

func (s *s7) issueEnterprise(t *testing.T, subject, grid string) codes.Code {
	t.Helper()
	data, err := codes.EncodeData(codes.EnterpriseClaims{CreditCode: "91500107MA5U123456", Name: "重庆某某火锅店"})
	require.NoError(t, err)
	c, err := s.h.svc.Issue(as(qin), codes.IssueRequest{Kind: codes.Enterprise, Subject: subject, Jurisdiction: codeOf(grid),
		Data: data, HolderKey: s.enterpriseKey.Public().(ed25519.PublicKey)})
	require.NoError(t, err)
	return c
}

func (s *s7) issueEnforcement(t *testing.T, task, enterprise, where string, from, until time.Time) codes.Code {
	t.Helper()
	data, err := codes.EncodeData(codes.EnforcementClaims{
		Agency: "500107-market", AgencyName: "九龙坡区市场监督管理局", Inspector: "CQ-50010723-0042",
		Task: task, Enterprise: enterprise, Scope: []string{"food safety", "fire safety"}, Complaint: "12345",
	})
	require.NoError(t, err)
	c, err := s.h.svc.Issue(as(qin), codes.IssueRequest{Kind: codes.Enforcement, Subject: "inspector-42-" + task,
		Jurisdiction: codeOf(where), Data: data, HolderKey: s.inspectorKey.Public().(ed25519.PublicKey), NotBefore: from, Expiry: until})
	require.NoError(t, err)
	return c
}

func TestMutualVerification(t *testing.T) {
	s := newS7(t)
	s.h.clk.Set(t0.Add(2 * time.Hour))
	v := s.h.verifier(t)

	in, err := v.CheckInspection(s.enforcement.Text, s.enterprise.Text)
	require.NoError(t, err)
	assert.Equal(t, "task-88", in.Task)
	assert.Equal(t, "九龙坡区市场监督管理局", in.AgencyName)
	assert.Equal(t, "CQ-50010723-0042", in.Inspector)
	assert.Equal(t, []string{"food safety", "fire safety"}, in.Scope)
	assert.Equal(t, "12345", in.Complaint)
	assert.Equal(t, "重庆某某火锅店", in.EnterpriseName)
	assert.Equal(t, codes.Green, in.EnterpriseColour)

	// Both sign the receipt: the enterprise, then the inspector.
	r := codes.NewReceipt(in, s.h.clk.Now())
	half, err := r.SignAsEnterprise(s.enterpriseKey)
	require.NoError(t, err)
	_, _, err = v.VerifyReceipt(half)
	requireRefused(t, err, codes.ErrMalformed, "one signature is not a receipt")
	_, err = codes.CosignReceipt(half, s.enterpriseKey)
	require.ErrorIs(t, err, codes.ErrInvalid, "only the inspector's key co-signs")
	full, err := codes.CosignReceipt(half, s.inspectorKey)
	require.NoError(t, err)
	got, gotIn, err := v.VerifyReceipt(full)
	require.NoError(t, err)
	assert.Equal(t, r, got)
	assert.Equal(t, "task-88", gotIn.Task)

	// The receipt stays evidence after the task's day is over.
	s.h.clk.Set(t0.Add(30 * 24 * time.Hour))
	_, _, err = v.VerifyReceipt(full)
	require.NoError(t, err)

	// Nobody else can sign for the enterprise.
	_, stranger, _ := ed25519.GenerateKey(nil)
	_, err = r.SignAsEnterprise(stranger)
	require.ErrorIs(t, err, codes.ErrInvalid)
	// A receipt whose signature is broken.
	bad := append([]byte(nil), full...)
	bad[len(bad)-3] ^= 0x40
	_, _, err = v.VerifyReceipt(bad)
	requireRefused(t, err, codes.ErrBadSignature)
	_, _, err = v.VerifyReceipt([]byte{0xa0})
	requireRefused(t, err, codes.ErrMalformed)
}

func TestMutualVerificationRefusals(t *testing.T) {
	s := newS7(t)
	other := s.issueEnterprise(t, "ent-2", "500107001002003")
	elsewhere := s.issueEnterprise(t, "ent-3", "500107002001001")
	wrongPlace := s.issueEnforcement(t, "task-89", "ent-3", "500107001", t0, t0.Add(24*time.Hour))
	tomorrow := s.issueEnforcement(t, "task-90", "ent-1", "500107001", t0.Add(24*time.Hour), t0.Add(48*time.Hour))
	s.h.clk.Set(t0.Add(2 * time.Hour))
	v := s.h.verifier(t)

	// The task names another enterprise.
	_, err := v.CheckInspection(s.enforcement.Text, other.Text)
	require.ErrorIs(t, err, codes.ErrNotAuthorised)
	// The task is authorised in a street the enterprise is not in.
	_, err = v.CheckInspection(wrongPlace.Text, elsewhere.Text)
	require.ErrorIs(t, err, codes.ErrNotAuthorised)
	// The task is for tomorrow.
	_, err = v.CheckInspection(tomorrow.Text, s.enterprise.Text)
	require.ErrorIs(t, err, codes.ErrNotAuthorised)
	require.ErrorIs(t, err, codes.ErrNotYetValid)
	// The codes swapped round.
	_, err = v.CheckInspection(s.enterprise.Text, s.enforcement.Text)
	requireRefused(t, err, codes.ErrWrongKind)
	// Yesterday's task.
	s.h.clk.Set(t0.Add(25 * time.Hour))
	v = s.h.verifier(t)
	_, err = v.CheckInspection(s.enforcement.Text, s.enterprise.Text)
	require.ErrorIs(t, err, codes.ErrNotAuthorised)
	require.ErrorIs(t, err, codes.ErrExpired)
	// A cancelled task: its code is revoked.
	in, err := v.CheckInspection(tomorrow.Text, s.enterprise.Text)
	require.NoError(t, err)
	require.NoError(t, s.h.svc.Revoke(as(qin), tomorrow.Claims.ID, "task cancelled"))
	s.h.refresh(t, v)
	_, err = v.CheckInspection(tomorrow.Text, s.enterprise.Text)
	requireRefused(t, err, codes.ErrRevoked)
	_ = in
}
