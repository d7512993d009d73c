package permit_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/permit"
	"github.com/govkit/govkit/pii"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPublishTemplate(t *testing.T) {
	f := newFixture(t)
	ctx := as(admin)
	tpl := newbornTemplate()
	_, err := f.svc.PublishTemplate(ctx, tpl)
	assert.ErrorIs(t, err, permit.ErrConflict, "version 1 is published already")
	tpl.Version = 3
	_, err = f.svc.PublishTemplate(ctx, tpl)
	assert.ErrorIs(t, err, permit.ErrConflict, "versions go one at a time")
	tpl.Version = 2
	tpl.Items[2].SLA = permit.Days(2)
	_, err = f.svc.PublishTemplate(as(liXing), tpl)
	assert.ErrorIs(t, err, access.ErrDenied, "citizens do not publish")
	v2, err := f.svc.PublishTemplate(ctx, tpl)
	require.NoError(t, err)
	assert.Equal(t, 2, v2.Version)
	got, err := f.svc.Template(as(liXing), "newborn", 0)
	require.NoError(t, err)
	assert.Equal(t, 2, got.Version)
	v1, err := f.svc.Template(as(liXing), "newborn", 1)
	require.NoError(t, err)
	assert.Equal(t, permit.Days(1), v1.Items[2].SLA, "a published version never changes")
	assert.Equal(t, []string{"template-published"}, f.pub.names(t))

	tpl.Version = 3
	tpl.Fields[0].Source = "civil-affairs"
	_, err = f.svc.PublishTemplate(ctx, tpl)
	assert.ErrorIs(t, err, permit.ErrInvalidTemplate, "a source with no lookup")
	_, err = f.svc.Template(as(liXing), "marriage", 0)
	assert.ErrorIs(t, err, permit.ErrNotFound)
}

func TestStart(t *testing.T) {
	f := newFixture(t)
	ctx := as(liXing)
	a, err := f.svc.Start(ctx, permit.StartRequest{Key: "k-1", Template: "newborn", Jurisdiction: jiefangbei})
	require.NoError(t, err)
	assert.Equal(t, permit.Draft, a.Status)
	assert.Equal(t, "li-xing", a.Applicant)
	assert.Equal(t, 1, a.TemplateVersion)
	for _, it := range a.Items {
		assert.Equal(t, permit.ItemWaiting, it.Status)
	}
	again, err := f.svc.Start(ctx, permit.StartRequest{Key: "k-1", Template: "newborn", Jurisdiction: jiefangbei})
	require.NoError(t, err)
	assert.Equal(t, a.ID, again.ID, "a duplicate start is absorbed")
	_, err = f.svc.Start(as(wangFang), permit.StartRequest{Key: "k-1", Template: "newborn", Jurisdiction: jiefangbei})
	assert.ErrorIs(t, err, access.ErrDenied, "another citizen's key gives nothing away")

	_, err = f.svc.Start(ctx, permit.StartRequest{Template: "rental-room", Jurisdiction: "500107001"})
	var ce *permit.CommandError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "jurisdiction", ce.Field, "the rental template is Yuzhong's")
	_, err = f.svc.Start(ctx, permit.StartRequest{Template: "newborn", Jurisdiction: "5001"})
	assert.ErrorIs(t, err, permit.ErrInvalidCommand)
	_, err = f.svc.Start(ctx, permit.StartRequest{Template: "marriage", Jurisdiction: jiefangbei})
	assert.ErrorIs(t, err, permit.ErrNotFound)
	_, err = f.svc.Start(context0(), permit.StartRequest{Template: "newborn", Jurisdiction: jiefangbei})
	assert.ErrorIs(t, err, access.ErrNoActor)
}

// Jurisdiction boundary: a citizen whose scope is Jiulongpo may apply
// there, not in Yuzhong.
func TestStartAtJurisdictionBoundary(t *testing.T) {
	f := newFixture(t)
	_, err := f.svc.Start(as(jlpCitizen), permit.StartRequest{Template: "newborn", Jurisdiction: jiefangbei})
	var de *access.DeniedError
	require.ErrorAs(t, err, &de)
	assert.Equal(t, access.OutOfJurisdiction, de.Decision.Reason)
	_, err = f.svc.Start(as(jlpCitizen), permit.StartRequest{Template: "newborn", Jurisdiction: "500107001"})
	assert.NoError(t, err)
}

func TestActingForSomeoneElse(t *testing.T) {
	f := newFixture(t)
	ctx := as(liXing)
	grandma := mustName(t, "张桂兰")
	basis := doc("guardianship")
	cases := []struct {
		name   string
		auth   permit.Authorisation
		fields []string
	}{
		{"nothing", permit.Authorisation{}, []string{"on_behalf.principal", "on_behalf.name", "on_behalf.relationship", "on_behalf.basis"}},
		{"self", permit.Authorisation{Principal: "li-xing", Name: grandma, Relationship: "guardian", Basis: basis}, []string{"on_behalf.principal"}},
		{"relationship not allowed", permit.Authorisation{Principal: "p-1", Name: grandma, Relationship: "neighbour", Basis: basis}, []string{"on_behalf.relationship"}},
		{"expired", permit.Authorisation{Principal: "p-1", Name: grandma, Relationship: "guardian", Basis: basis, ValidUntil: monday10.Add(-time.Hour)}, []string{"on_behalf.valid_until"}},
		{"name is a phone", permit.Authorisation{Principal: "p-1", Name: mustPhone(t), Relationship: "guardian", Basis: basis}, []string{"on_behalf.name"}},
	}
	for _, tc := range cases {
		_, err := f.svc.Start(ctx, permit.StartRequest{Template: "newborn", Jurisdiction: jiefangbei, OnBehalf: &tc.auth})
		var fe *permit.FormError
		require.ErrorAs(t, err, &fe, tc.name)
		assert.Equal(t, tc.fields, fe.Fields(), tc.name)
	}
	_, err := f.svc.Start(as(wangFang), permit.StartRequest{Template: "rental-room", Jurisdiction: jiefangbei,
		OnBehalf: &permit.Authorisation{Principal: "p-1", Name: grandma, Relationship: "guardian", Basis: basis}})
	assert.ErrorIs(t, err, permit.ErrInvalidForm, "the rental template allows no proxies")

	a, err := f.svc.Start(ctx, permit.StartRequest{Template: "newborn", Jurisdiction: jiefangbei,
		OnBehalf: &permit.Authorisation{Principal: "zhang-guilan", Name: grandma, Relationship: "grandparent", Basis: basis}})
	require.NoError(t, err)
	require.NotNil(t, a.OnBehalf)
	assert.Equal(t, "li-xing", a.OnBehalf.RecordedBy)
	assert.Equal(t, monday10.UTC(), a.OnBehalf.RecordedAt)
	assert.Equal(t, []string{"started", "authorisation-recorded"}, actions(a))
	assert.NotContains(t, a.History[1].Note, "张桂兰", "history holds no personal data")

	_, err = f.svc.Prefill(ctx, permit.PrefillRequest{Application: a.ID, Sources: []string{"hukou"}})
	require.NoError(t, err)
	assert.Equal(t, "zhang-guilan", f.hukou.queries[0].Subject, "registries are asked about the person represented")

	// Neither the applicant nor the person represented reviews it.
	grandmaOfficer := access.Actor{ID: "zhang-guilan", Kind: access.DepartmentHandler, Department: "health-commission", Scope: "500000", Roles: []string{"reviewer"}}
	_, err = f.svc.Fill(ctx, permit.FillRequest{Application: a.ID, Answers: newbornAnswers(t), Documents: newbornDocs()})
	require.NoError(t, err)
	_, err = f.svc.Submit(ctx, permit.SubmitRequest{Application: a.ID})
	require.NoError(t, err)
	_, err = f.svc.Approve(as(grandmaOfficer), permit.Approval{Application: a.ID, Item: "birth-service",
		Outputs: map[string]permit.Value{"birth-service-no": permit.Text("SF-1")}, Confirm: []string{"marriage-verified"}})
	assert.ErrorIs(t, err, access.ErrSeparationOfDuties)
}

func mustPhone(t testing.TB) pii.Data {
	d, err := pii.NewPhone("13812345678")
	require.NoError(t, err)
	return d
}

func TestPrefillOnlyWithConsent(t *testing.T) {
	f := newFixture(t)
	ctx := as(liXing)
	a, err := f.svc.Start(ctx, permit.StartRequest{Template: "newborn", Jurisdiction: jiefangbei})
	require.NoError(t, err)

	// Without consent: no registry is asked, nothing is offered.
	fields, _, err := f.svc.Form(ctx, a.ID)
	require.NoError(t, err)
	for _, ff := range fields {
		assert.Nil(t, ff.Offer, ff.ID)
		assert.Nil(t, ff.Answer, ff.ID)
	}
	assert.Zero(t, f.hukou.calls(), "no lookup without consent")
	_, err = f.svc.Fill(ctx, permit.FillRequest{Application: a.ID, Accept: map[string]int{"mother.name": 0}})
	var fe *permit.FormError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, []string{"mother.name"}, fe.Fields(), "nothing offered, nothing to accept")

	_, err = f.svc.Prefill(ctx, permit.PrefillRequest{Application: a.ID, Sources: []string{"civil-affairs"}})
	assert.ErrorIs(t, err, permit.ErrInvalidCommand)
	_, err = f.svc.Prefill(as(wangFang), permit.PrefillRequest{Application: a.ID, Sources: []string{"hukou"}})
	assert.ErrorIs(t, err, access.ErrDenied, "only the applicant consents")
	assert.Zero(t, f.hukou.calls())

	// With consent: shown, not used.
	a, err = f.svc.Prefill(ctx, permit.PrefillRequest{Application: a.ID, Sources: []string{"hukou"}, Key: "consent-1"})
	require.NoError(t, err)
	require.Equal(t, 1, f.hukou.calls())
	q := f.hukou.queries[0]
	assert.Equal(t, "li-xing", q.Subject)
	assert.ElementsMatch(t, []string{"mother.name", "mother.id-number", "father.name", "father.id-number", "household.address", "delivery.address"}, q.Fields)
	require.Len(t, a.Consents, 1)
	assert.Equal(t, permit.Consent{Source: "hukou", By: "li-xing", At: monday10.UTC()}, a.Consents[0])
	assert.Empty(t, a.Answers, "offers are not answers until accepted")
	assert.Contains(t, a.Offers, "mother.name")
	assert.NotContains(t, a.Offers, "child.sex", "a field the source may not fill is dropped")
	assert.NotContains(t, a.Offers, "father.id-number", "an invalid value is dropped")
	assert.Equal(t, pii.Name, a.Offers["mother.name"].Values[0].Personal.Kind(), "offered personal data is pii")
	again, err := f.svc.Prefill(ctx, permit.PrefillRequest{Application: a.ID, Sources: []string{"hukou"}, Key: "consent-1"})
	require.NoError(t, err)
	assert.Equal(t, a.Version, again.Version)
	assert.Equal(t, 1, f.hukou.calls(), "a replayed consent asks nobody again")

	fields, _, err = f.svc.Form(ctx, a.ID)
	require.NoError(t, err)
	byID := map[string]permit.FormField{}
	for _, ff := range fields {
		byID[ff.ID] = ff
	}
	require.NotNil(t, byID["mother.name"].Offer)
	assert.Equal(t, "李*", byID["mother.name"].Offer.Values[0].String(), "shown masked in every output")
	addr := byID["household.address"]
	require.Len(t, addr.Choices, 2, "two registered addresses: a choice instead of typing")
	assert.Equal(t, "1", addr.Choices[1].Value)
	assert.Len(t, byID["child.sex"].Choices, 2)

	a, err = f.svc.Fill(ctx, permit.FillRequest{Application: a.ID, Accept: map[string]int{"mother.name": 0, "household.address": 1}})
	require.NoError(t, err)
	assert.Equal(t, "registry:hukou", a.Answers["mother.name"].Source)
	want, _ := pii.NewAddress("重庆市渝中区解放碑街道邹容路2号")
	assert.True(t, a.Answers["household.address"].Value.Personal.Equal(want), "the second registered address, as chosen")
	_, err = f.svc.Fill(ctx, permit.FillRequest{Application: a.ID, Accept: map[string]int{"household.address": 2}})
	assert.ErrorIs(t, err, permit.ErrInvalidForm)
	_, err = f.svc.Fill(ctx, permit.FillRequest{Application: a.ID, Accept: map[string]int{"mother.name": 0},
		Answers: map[string]permit.Value{"mother.name": permit.Text("李红")}})
	assert.ErrorIs(t, err, permit.ErrInvalidForm, "answered and accepted at once")
}

func TestFillValidatesEveryField(t *testing.T) {
	f := newFixture(t)
	ctx := as(liXing)
	a, err := f.svc.Start(ctx, permit.StartRequest{Template: "newborn", Jurisdiction: jiefangbei})
	require.NoError(t, err)
	_, err = f.svc.Fill(ctx, permit.FillRequest{Application: a.ID,
		Answers: map[string]permit.Value{
			"contact.phone":    permit.Text("12345"),
			"child.sex":        permit.Text("other"),
			"child.birth-date": permit.Text("2026-02-30"),
			"child.nickname":   permit.Text("满满"),
			"mother.id-number": permit.Text("500103199001010021"),
			"birth.hospital":   permit.Text(string(make([]byte, 101))),
			"card.bank":        permit.List("icbc"),
			"father.name":      permit.Personal(mustPhone(t)),
			"child.name":       permit.Text("李小满"),
		},
		Documents: map[string]permit.Document{"marriage-certificate": {URI: "x", SHA256: "zz"}, "passport": doc("passport")},
	})
	var fe *permit.FormError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, []string{"birth.hospital", "card.bank", "child.birth-date", "child.nickname", "child.sex", "contact.phone",
		"father.name", "mother.id-number", "documents.marriage-certificate", "documents.passport"}, fe.Fields())
	assert.NotContains(t, err.Error(), "12345", "errors never repeat values")
	assert.NotContains(t, err.Error(), "500103199001010021")
	got, err := f.svc.Application(ctx, a.ID)
	require.NoError(t, err)
	assert.Equal(t, a.Version, got.Version, "nothing changed")
	assert.Empty(t, got.Answers)

	// Text for a personal field is kept only as pii.Data.
	got, err = f.svc.Fill(ctx, permit.FillRequest{Application: a.ID, Answers: map[string]permit.Value{"contact.phone": permit.Text("+86 138-1234-5678"), "child.birth-date": permit.Text("2026-02-27")}})
	require.NoError(t, err)
	phone := got.Answers["contact.phone"].Value
	assert.Empty(t, phone.Text)
	assert.Equal(t, "138****5678", phone.String())
	// A zero value clears an answer.
	got, err = f.svc.Fill(ctx, permit.FillRequest{Application: a.ID, Answers: map[string]permit.Value{"contact.phone": {}}})
	require.NoError(t, err)
	assert.NotContains(t, got.Answers, "contact.phone")
	assert.Contains(t, got.Answers, "child.birth-date")

	// Optimistic versions: a stale view is refused, not overwritten.
	_, err = f.svc.Fill(ctx, permit.FillRequest{Application: a.ID, Version: a.Version, Answers: map[string]permit.Value{"child.name": permit.Text("李小满")}})
	assert.ErrorIs(t, err, permit.ErrConflict)
	_, err = f.svc.Fill(ctx, permit.FillRequest{Application: a.ID, Version: got.Version, Answers: map[string]permit.Value{"child.name": permit.Text("李小满")}})
	assert.NoError(t, err)
	_, err = f.svc.Fill(as(wangFang), permit.FillRequest{Application: a.ID, Answers: map[string]permit.Value{"child.name": permit.Text("王")}})
	assert.ErrorIs(t, err, access.ErrDenied, "another citizen's application")
	_, err = f.svc.Fill(ctx, permit.FillRequest{Application: uuid.Must(uuid.NewV7())})
	assert.ErrorIs(t, err, permit.ErrNotFound)
}

func TestSubmitNeedsEveryRequiredFieldAndDocument(t *testing.T) {
	f := newFixture(t)
	ctx := as(liXing)
	a, err := f.svc.Start(ctx, permit.StartRequest{Template: "newborn", Jurisdiction: jiefangbei})
	require.NoError(t, err)
	answers := newbornAnswers(t)
	delete(answers, "card.bank")
	_, err = f.svc.Fill(ctx, permit.FillRequest{Application: a.ID, Answers: answers,
		Documents: map[string]permit.Document{"marriage-certificate": doc("marriage-certificate")}})
	require.NoError(t, err)
	_, err = f.svc.Submit(ctx, permit.SubmitRequest{Application: a.ID})
	var fe *permit.FormError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, []string{"card.bank", "documents.birth-medical-certificate"}, fe.Fields(),
		"a required document missing keeps it out of review; the optional photo is not asked for")
	got, err := f.svc.Application(ctx, a.ID)
	require.NoError(t, err)
	assert.Equal(t, permit.Draft, got.Status)

	_, err = f.svc.Fill(ctx, permit.FillRequest{Application: a.ID, Answers: map[string]permit.Value{"card.bank": permit.Text("icbc")}, Documents: newbornDocs()})
	require.NoError(t, err)
	sub, err := f.svc.Submit(ctx, permit.SubmitRequest{Application: a.ID, Key: "submit-1"})
	require.NoError(t, err)
	assert.Equal(t, permit.InReview, sub.Status)
	dup, err := f.svc.Submit(ctx, permit.SubmitRequest{Application: a.ID, Key: "submit-1"})
	require.NoError(t, err, "a duplicate submission is absorbed")
	assert.Equal(t, sub.Version, dup.Version)
	_, err = f.svc.Submit(ctx, permit.SubmitRequest{Application: a.ID})
	assert.ErrorIs(t, err, permit.ErrInvalidTransition, "a new submission of a submitted application")
	_, err = f.svc.Fill(ctx, permit.FillRequest{Application: a.ID, Answers: map[string]permit.Value{"card.bank": permit.Text("cq-rural")}})
	assert.ErrorIs(t, err, permit.ErrInvalidTransition, "answers are frozen in review")
	_, err = f.svc.Prefill(ctx, permit.PrefillRequest{Application: a.ID, Sources: []string{"hukou"}})
	assert.ErrorIs(t, err, permit.ErrInvalidTransition)
}

func TestDependencyOrderingAndParallelItems(t *testing.T) {
	f := newFixture(t)
	a := f.submitNewborn(t)
	assert.Equal(t, map[string]string{
		"birth-service": "in-review", "hukou": "in-review", "vaccination": "in-review",
		"medical-insurance": "waiting", "social-security-card": "waiting",
	}, statuses(a), "the first stage goes to three departments at once; the second waits for the ID number")
	for _, id := range []string{"birth-service", "hukou", "vaccination"} {
		it := itemOf(t, a, id)
		assert.Equal(t, monday10.UTC(), it.Started, id)
		assert.Equal(t, 1, it.Round)
	}
	assert.Equal(t, time.Date(2026, 3, 4, 2, 0, 0, 0, time.UTC), itemOf(t, a, "hukou").Deadline, "2 working days: Wednesday 10:00 CST")
	assert.Equal(t, time.Date(2026, 3, 9, 2, 0, 0, 0, time.UTC), a.Deadline, "the bundle's 5 working days")
	assert.Equal(t, []string{"submitted", "item-started:birth-service", "item-started:hukou", "item-started:vaccination"}, f.pub.names(t)[1:])

	// Outputs must be given on approval, valid, and only the item's.
	_, err := f.svc.Approve(as(police), permit.Approval{Application: a.ID, Item: "hukou", Outputs: map[string]permit.Value{"card-no": permit.Text("1")}})
	var fe *permit.FormError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, []string{"outputs.child-id-number", "outputs.card-no"}, fe.Fields())
	_, err = f.svc.Approve(as(police), permit.Approval{Application: a.ID, Item: "hukou", Outputs: map[string]permit.Value{"child-id-number": permit.Text("123")}})
	assert.ErrorIs(t, err, permit.ErrInvalidForm)
	_, err = f.svc.Approve(as(hrss), permit.Approval{Application: a.ID, Item: "social-security-card", Outputs: map[string]permit.Value{"card-no": permit.Text("1")}})
	assert.ErrorIs(t, err, permit.ErrInvalidTransition, "a waiting item cannot be decided")

	f.clk.Advance(3 * time.Hour) // Monday 13:00, the lunch break
	a = f.approve(t, police, a, "hukou", map[string]permit.Value{"child-id-number": idValue(t, "50010320260227002")})
	assert.Equal(t, "in-review", statuses(a)["medical-insurance"])
	assert.Equal(t, "in-review", statuses(a)["social-security-card"])
	ins := itemOf(t, a, "medical-insurance")
	assert.Equal(t, monday10.Add(3*time.Hour).UTC(), ins.Started, "the second stage starts when its input is produced")
	assert.Equal(t, time.Date(2026, 3, 3, 6, 0, 0, 0, time.UTC), ins.Deadline, "1 working day from the lunch break: Tuesday 14:00 CST")
	assert.Equal(t, "in-review", statuses(a)["birth-service"], "the others go on in parallel")

	// The bundle completes when every item is done; all outputs together.
	f.pub.reset()
	a = f.approve(t, health, a, "birth-service", map[string]permit.Value{"birth-service-no": permit.Text("SF-500103-0001")}, "marriage-verified")
	a = f.approve(t, cdc, a, "vaccination", map[string]permit.Value{"vaccination-record": permit.Text("VR-2026-77")})
	a = f.approve(t, medins, a, "medical-insurance", map[string]permit.Value{"insurance-no": permit.Text("YB-0099")})
	assert.Equal(t, permit.InReview, a.Status)
	assert.Nil(t, a.Outputs, "nothing is issued before the last item")
	a = f.approve(t, hrss, a, "social-security-card", map[string]permit.Value{"card-no": permit.Text("SB-12345")})
	assert.Equal(t, permit.Completed, a.Status)
	assert.Len(t, a.Outputs, 5)
	assert.Equal(t, "500***********0029"[:3], a.Outputs["child-id-number"].String()[:3])
	assert.Zero(t, a.NextCheck)
	evs := f.pub.events(t)
	last := evs[len(evs)-1]
	assert.Equal(t, "completed", last.Event)
	assert.Len(t, last.Outputs, 5, "one event issues every output")
	assert.NotContains(t, string(f.pub.msgs[len(f.pub.msgs)-1].Data), "50010320260227002", "personal outputs are masked on the bus")
	assert.Equal(t, "gov.500000.500103.500103001.permit.completed", f.pub.msgs[len(f.pub.msgs)-1].Subject)
	_, err = f.svc.Approve(as(hrss), permit.Approval{Application: a.ID, Item: "social-security-card", Outputs: map[string]permit.Value{"card-no": permit.Text("SB-12345")}})
	assert.ErrorIs(t, err, permit.ErrInvalidTransition)
}

func context0() context.Context { return context.Background() }
