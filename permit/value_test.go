package permit_test

import (
	"testing"
	"time"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/permit"
	"github.com/govkit/govkit/region"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every kind of field, right and wrong.
func TestValueKinds(t *testing.T) {
	f := newFixture(t)
	tpl := permit.Template{
		ID: "disability-aid", Version: 1, Name: "扶残助困一件事", Jurisdiction: yuzhong, Owner: "yz-disabled-federation",
		Fields: []permit.Field{
			{ID: "needs", Label: "需求", Kind: permit.MultiChoiceField, Choices: []permit.Choice{{Value: "wheelchair", Label: "轮椅"}, {Value: "care", Label: "护理补贴"}, {Value: "job", Label: "就业"}}},
			{ID: "level", Label: "残疾等级", Kind: permit.ChoiceField, Choices: []permit.Choice{{Value: "1", Label: "一级"}, {Value: "2", Label: "二级"}}},
			{ID: "income", Label: "月收入", Kind: permit.NumberField},
			{ID: "lives-alone", Label: "独居", Kind: permit.BoolField},
			{ID: "address", Label: "住址", Kind: permit.AddressField},
			{ID: "note", Label: "说明", Kind: permit.TextField, Optional: true, MaxLen: 10},
		},
		Items: []permit.Item{
			{ID: "subsidy", Name: "补贴", Department: "civil-affairs", SLA: permit.Hours(8), Fields: []string{"needs", "level", "income", "lives-alone", "address", "note"}},
		},
		Proxies: []string{"parent", "spouse", "child", "sibling"},
	}
	_, err := f.svc.PublishTemplate(as(admin), tpl)
	require.NoError(t, err)
	ctx := as(liXing)
	a, err := f.svc.Start(ctx, permit.StartRequest{Template: "disability-aid", Jurisdiction: jiefangbei, OnBehalf: &permit.Authorisation{
		Principal: "li-father", Name: mustName(t, "李建国"), Relationship: "child", Basis: doc("household-register"), ValidUntil: monday10.Add(2 * time.Hour)}})
	require.NoError(t, err)
	bad := map[string]permit.Value{
		"needs":       permit.List("wheelchair", "wheelchair"),
		"level":       permit.List("1"),
		"income":      permit.Text("3,000"),
		"lives-alone": permit.Text("yes"),
		"address":     permit.Value{Text: "重庆市渝中区", Personal: mustName(t, "李建国")},
		"note":        permit.Text("说明文字超过了十个字的限制啊"),
	}
	_, err = f.svc.Fill(ctx, permit.FillRequest{Application: a.ID, Answers: bad})
	var fe *permit.FormError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, []string{"address", "income", "level", "lives-alone", "needs", "note"}, fe.Fields())
	for _, v := range []permit.Value{permit.Text("wheelchair"), permit.List("bike")} {
		_, err = f.svc.Fill(ctx, permit.FillRequest{Application: a.ID, Answers: map[string]permit.Value{"needs": v}})
		assert.ErrorIs(t, err, permit.ErrInvalidForm)
	}
	for _, v := range []string{"-", "1.", ".5", "1e3", ""} {
		_, err = f.svc.Fill(ctx, permit.FillRequest{Application: a.ID, Answers: map[string]permit.Value{"income": permit.Text(v + "x")}})
		assert.ErrorIs(t, err, permit.ErrInvalidForm, v)
	}
	_, err = f.svc.Fill(ctx, permit.FillRequest{Application: a.ID, Answers: map[string]permit.Value{"note": permit.Text("  ")}})
	assert.ErrorIs(t, err, permit.ErrInvalidForm, "blank")
	_, err = f.svc.Fill(ctx, permit.FillRequest{Application: a.ID, Answers: map[string]permit.Value{"note": permit.Text("a\x07")}})
	assert.ErrorIs(t, err, permit.ErrInvalidForm, "control character")

	a, err = f.svc.Fill(ctx, permit.FillRequest{Application: a.ID, Answers: map[string]permit.Value{
		"needs": permit.List("care", "wheelchair"), "level": permit.Text("1"), "income": permit.Text("-12.50"),
		"lives-alone": permit.Text("true"), "address": permit.Text("重庆市渝中区解放碑街道民族路1号"),
	}})
	require.NoError(t, err)
	assert.Equal(t, "care,wheelchair", a.Answers["needs"].Value.String())
	fields, _, err := f.svc.Form(ctx, a.ID)
	require.NoError(t, err)
	assert.Len(t, fields[3].Choices, 2, "a yes/no question is a choice")

	// The authorisation expires before submission.
	f.clk.Advance(3 * time.Hour)
	_, err = f.svc.Submit(ctx, permit.SubmitRequest{Application: a.ID})
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, []string{"on_behalf.valid_until"}, fe.Fields())
}

func TestNewServiceValidates(t *testing.T) {
	for _, cfg := range []permit.Config{
		{},
		{Authorizer: access.AllowAll(), MaxEscalations: -1},
		{Authorizer: access.AllowAll(), MoratoriumYears: 51},
		{Authorizer: access.AllowAll(), EscalateEvery: permit.Days(-1)},
		{Authorizer: access.AllowAll(), Clash: permit.ClashRules{Buffer: 10_000}},
		{Authorizer: access.AllowAll(), Lookups: map[string]permit.Lookup{"Bad Name": permit.LookupFunc(nil)}},
		{Authorizer: access.AllowAll(), Lookups: map[string]permit.Lookup{"hukou": nil}},
	} {
		_, err := permit.NewService(cfg)
		assert.ErrorIs(t, err, permit.ErrInvalidCommand)
	}
}

func TestWorkingTime(t *testing.T) {
	assert.Equal(t, "5 working days", permit.Days(5).String())
	assert.Equal(t, "2h0m0s working time", permit.Hours(2).String())
	assert.Equal(t, "1 working day 30m0s", permit.WorkingTime{Days: 1, Time: 30 * time.Minute}.String())
	assert.Equal(t, "none", permit.WorkingTime{}.String())
}

// With Config.Regions, jurisdictions must be known units, and event
// subjects follow the hierarchy's path.
func TestRegionsConfigured(t *testing.T) {
	h, err := region.New([]region.Unit{
		{Code: "500000", Name: "重庆市"},
		{Code: "500103", Name: "渝中区", Parent: "500000"},
		{Code: "500103001", Name: "解放碑街道", Parent: "500103"},
	})
	require.NoError(t, err)
	f := newFixture(t, func(c *permit.Config) { c.Regions = h; c.SubjectPrefix = "cq" })
	ctx := as(liXing)
	_, err = f.svc.Start(ctx, permit.StartRequest{Template: "newborn", Jurisdiction: "500103002"})
	var ce *permit.CommandError
	require.ErrorAs(t, err, &ce)
	assert.ErrorIs(t, err, region.ErrUnknownCode)
	_, err = f.svc.Start(ctx, permit.StartRequest{Template: "newborn", Jurisdiction: jiefangbei})
	require.NoError(t, err)
	f.pub.mu.Lock()
	defer f.pub.mu.Unlock()
	assert.Equal(t, "cq.500000.500103.500103001.permit.started", f.pub.msgs[len(f.pub.msgs)-1].Subject)
}

func TestSubject(t *testing.T) {
	assert.Equal(t, "gov.510100.510104.510104001.permit.completed",
		permit.Subject("gov", []region.Code{"510100", "510104", "510104001", "510104001001"}, "completed"))
}
