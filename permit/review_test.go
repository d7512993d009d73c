package permit_test

import (
	"sync"
	"testing"
	"time"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/permit"
	"github.com/govkit/govkit/pii"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Review happens in the department's own jurisdiction: Yuzhong's police
// review a Yuzhong application; Jiulongpo's police, and Yuzhong's health
// commission, may not.
func TestReviewAtJurisdictionAndDepartmentBoundaries(t *testing.T) {
	f := newFixture(t)
	a := f.submitNewborn(t)
	out := map[string]permit.Value{"child-id-number": idValue(t, "50010320260227002")}

	_, err := f.svc.Approve(as(jlpPolice), permit.Approval{Application: a.ID, Item: "hukou", Outputs: out})
	var de *access.DeniedError
	require.ErrorAs(t, err, &de)
	assert.Equal(t, access.OutOfJurisdiction, de.Decision.Reason, "Jiulongpo's police stop at the district line")
	_, err = f.svc.Approve(as(health), permit.Approval{Application: a.ID, Item: "hukou", Outputs: out})
	require.ErrorAs(t, err, &de)
	assert.Equal(t, access.WrongDepartment, de.Decision.Reason, "the health commission reviews its own item only")
	_, err = f.svc.Approve(as(liXing), permit.Approval{Application: a.ID, Item: "hukou", Outputs: out})
	assert.ErrorIs(t, err, access.ErrDenied, "the applicant does not review")
	_, err = f.svc.Approve(as(police), permit.Approval{Application: a.ID, Item: "passport", Outputs: out})
	assert.ErrorIs(t, err, permit.ErrInvalidCommand)
	got, err := f.svc.Application(as(police), a.ID)
	require.NoError(t, err)
	assert.Equal(t, a.Version, got.Version, "denials change nothing")

	// A police officer who applied for her own child cannot review it.
	mine, err := f.svc.Start(as(policeParent), permit.StartRequest{Template: "newborn", Jurisdiction: jiefangbei})
	require.NoError(t, err)
	_, err = f.svc.Fill(as(policeParent), permit.FillRequest{Application: mine.ID, Answers: newbornAnswers(t), Documents: newbornDocs()})
	require.NoError(t, err)
	_, err = f.svc.Submit(as(policeParent), permit.SubmitRequest{Application: mine.ID})
	require.NoError(t, err)
	_, err = f.svc.Approve(as(policeParent), permit.Approval{Application: mine.ID, Item: "hukou", Outputs: out})
	assert.ErrorIs(t, err, access.ErrSeparationOfDuties)

	_, err = f.svc.Approve(as(police), permit.Approval{Application: a.ID, Item: "hukou", Outputs: out})
	assert.NoError(t, err)

	// Reads: the applicant and the departments; not other citizens, not
	// the next district.
	_, err = f.svc.Track(as(liXing), a.ID)
	assert.NoError(t, err)
	_, err = f.svc.Track(as(cdc), a.ID)
	assert.NoError(t, err)
	_, err = f.svc.Track(as(wangFang), a.ID)
	assert.ErrorIs(t, err, access.ErrDenied)
	_, err = f.svc.Application(as(jlpPolice), a.ID)
	assert.ErrorIs(t, err, access.ErrDenied)
}

func TestWorklist(t *testing.T) {
	f := newFixture(t)
	a := f.submitNewborn(t)
	_ = f.submitRental(t)
	page, err := f.svc.Worklist(as(police), "public-security", yuzhong, 0, [16]byte{})
	require.NoError(t, err)
	assert.Len(t, page.Applications, 2, "the newborn's hukou and the rental room's joint review")
	page, err = f.svc.Worklist(as(hrss), "hrss", yuzhong, 0, [16]byte{})
	require.NoError(t, err)
	assert.Empty(t, page.Applications, "the card waits for the ID number")
	f.approve(t, police, a, "hukou", map[string]permit.Value{"child-id-number": idValue(t, "50010320260227002")})
	page, err = f.svc.Worklist(as(hrss), "hrss", yuzhong, 0, [16]byte{})
	require.NoError(t, err)
	assert.Len(t, page.Applications, 1)
	_, err = f.svc.Worklist(as(jlpPolice), "public-security", yuzhong, 0, [16]byte{})
	assert.ErrorIs(t, err, access.ErrDenied)
	_, err = f.svc.Worklist(as(police), "fire-rescue", yuzhong, 0, [16]byte{})
	assert.ErrorIs(t, err, access.ErrDenied)
	_, err = f.svc.Worklist(as(police), "public-security", "5001", 0, [16]byte{})
	assert.ErrorIs(t, err, permit.ErrInvalidCommand)
}

func TestRejectRequiredItemRefusesTheBundle(t *testing.T) {
	f := newFixture(t)
	a := f.submitNewborn(t)
	_, err := f.svc.Reject(as(police), permit.Rejection{Application: a.ID, Item: "hukou"})
	assert.ErrorIs(t, err, permit.ErrInvalidCommand, "reasons are required")
	_, err = f.svc.Reject(as(police), permit.Rejection{Application: a.ID, Item: "hukou", Reasons: []string{"bad\x00reason"}})
	assert.ErrorIs(t, err, permit.ErrInvalidCommand)
	f.approve(t, health, a, "birth-service", map[string]permit.Value{"birth-service-no": permit.Text("SF-1")}, "marriage-verified")
	f.pub.reset()
	a, err = f.svc.Reject(as(police), permit.Rejection{Application: a.ID, Item: "hukou", Reasons: []string{"出生医学证明与医院记录不符"}})
	require.NoError(t, err)
	assert.Equal(t, permit.Rejected, a.Status)
	assert.Equal(t, map[string]string{
		"birth-service": "approved", "hukou": "rejected", "vaccination": "cancelled",
		"medical-insurance": "cancelled", "social-security-card": "cancelled",
	}, statuses(a))
	assert.Nil(t, a.Outputs, "no output is issued for a refused bundle")
	assert.Zero(t, a.NextCheck)
	names := f.pub.names(t)
	assert.Equal(t, "rejected", names[len(names)-1])
	tr, err := f.svc.Track(as(liXing), a.ID)
	require.NoError(t, err)
	assert.Equal(t, []string{"出生医学证明与医院记录不符"}, tr.Items[1].Reasons)
}

// An optional item refused cancels what needs its output, not the bundle.
func TestOptionalItemRefused(t *testing.T) {
	f := newFixture(t)
	tpl := permit.Template{
		ID: "school-enrolment", Version: 1, Name: "入学一件事", Jurisdiction: yuzhong, Owner: "yz-education",
		Fields: []permit.Field{
			{ID: "child.name", Label: "学生姓名", Kind: permit.NameField},
			{ID: "bus.route", Label: "校车线路", Kind: permit.ChoiceField, Choices: []permit.Choice{{Value: "a", Label: "A线"}}},
		},
		Items: []permit.Item{
			{ID: "enrol", Name: "学位申请", Department: "education", SLA: permit.Days(5), Fields: []string{"child.name"}, Outputs: []permit.Output{{ID: "school", Name: "学校"}}},
			{ID: "bus", Name: "校车申请", Department: "education", SLA: permit.Days(2), Optional: true, Fields: []string{"bus.route"}, Needs: []string{"school"}, Outputs: []permit.Output{{ID: "bus-pass", Name: "乘车证"}}},
			{ID: "bus-card", Name: "乘车卡", Department: "transport", SLA: permit.Days(2), Optional: true, Fields: []string{"child.name"}, Needs: []string{"bus-pass"}, Outputs: []permit.Output{{ID: "bus-card-no", Name: "卡号"}}},
		},
	}
	_, err := f.svc.PublishTemplate(as(admin), tpl)
	require.NoError(t, err)
	edu := reviewer("yz-edu-xu", "education", yuzhong)
	ctx := as(liXing)
	a, err := f.svc.Start(ctx, permit.StartRequest{Template: "school-enrolment", Jurisdiction: jiefangbei})
	require.NoError(t, err)
	_, err = f.svc.Fill(ctx, permit.FillRequest{Application: a.ID, Answers: map[string]permit.Value{"child.name": permit.Text("李小满"), "bus.route": permit.Text("a")}})
	require.NoError(t, err)
	a, err = f.svc.Submit(ctx, permit.SubmitRequest{Application: a.ID})
	require.NoError(t, err)
	a = f.approve(t, edu, a, "enrol", map[string]permit.Value{"school": permit.Text("人和街小学")})
	a, err = f.svc.Reject(as(edu), permit.Rejection{Application: a.ID, Item: "bus", Reasons: []string{"线路已满"}})
	require.NoError(t, err)
	assert.Equal(t, permit.Completed, a.Status, "an optional refusal leaves the bundle whole")
	assert.Equal(t, map[string]string{"enrol": "approved", "bus": "rejected", "bus-card": "cancelled"}, statuses(a))
	assert.Equal(t, map[string]permit.Value{"school": permit.Text("人和街小学")}, a.Outputs)
}

func TestSendBackAndResubmit(t *testing.T) {
	f := newFixture(t)
	a := f.submitNewborn(t)
	f.approve(t, cdc, a, "vaccination", map[string]permit.Value{"vaccination-record": permit.Text("VR-1")})
	f.clk.Advance(2 * time.Hour) // Monday 12:00
	a = f.approve(t, health, a, "birth-service", map[string]permit.Value{"birth-service-no": permit.Text("SF-1")}, "marriage-verified")

	// Only the item's own fields and documents can be marked.
	_, err := f.svc.SendBack(as(police), permit.SendBackRequest{Application: a.ID, Item: "hukou", Marks: map[string]string{"card.bank": "?"}})
	var fe *permit.FormError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, []string{"card.bank"}, fe.Fields())
	_, err = f.svc.SendBack(as(police), permit.SendBackRequest{Application: a.ID, Item: "hukou"})
	assert.ErrorIs(t, err, permit.ErrInvalidCommand)
	_, err = f.svc.SendBack(as(police), permit.SendBackRequest{Application: a.ID, Item: "hukou", Marks: map[string]string{"mother.name": ""}})
	assert.ErrorIs(t, err, permit.ErrInvalidForm, "a mark needs a reason")

	f.clk.Advance(26 * time.Hour) // Tuesday 14:00: 1 working day and 2 hours of the 2 days used
	f.pub.reset()
	a, err = f.svc.SendBack(as(police), permit.SendBackRequest{Application: a.ID, Item: "hukou", Key: "sb-1", Marks: map[string]string{
		"mother.name": "与出生医学证明不一致", "documents.birth-medical-certificate": "扫描件不清晰",
	}})
	require.NoError(t, err)
	assert.Equal(t, permit.Returned, a.Status)
	hk := itemOf(t, a, "hukou")
	assert.Equal(t, permit.ItemSentBack, hk.Status)
	assert.Zero(t, hk.Deadline, "the item's clock stops while the applicant holds it")
	assert.Equal(t, 5*time.Hour, hk.Remaining, "Tuesday 14:00 to Wednesday 10:00 is 5 working hours")
	assert.Zero(t, a.Deadline, "so does the bundle's")
	assert.Equal(t, []string{"item-sent-back:hukou", "returned"}, f.pub.names(t))
	corr, ok := a.OpenCorrection()
	require.True(t, ok)
	assert.Equal(t, []string{"hukou"}, corr.Items)
	assert.Len(t, corr.Marks, 2)
	again, err := f.svc.SendBack(as(police), permit.SendBackRequest{Application: a.ID, Item: "hukou", Key: "sb-1", Marks: map[string]string{"mother.name": "x"}})
	require.NoError(t, err)
	assert.Equal(t, a.Version, again.Version, "a duplicate send-back is absorbed")

	fields, docs, err := f.svc.Form(as(liXing), a.ID)
	require.NoError(t, err)
	for _, ff := range fields {
		if ff.ID == "mother.name" {
			assert.Equal(t, "与出生医学证明不一致", ff.Marked)
			assert.False(t, ff.Locked)
		} else {
			assert.True(t, ff.Locked, "%s is not marked, so it cannot change", ff.ID)
		}
	}
	assert.False(t, docs[1].Locked)
	assert.True(t, docs[0].Locked)

	// Exactly the marked fields, each of them.
	_, err = f.svc.Resubmit(as(liXing), permit.Resubmission{Application: a.ID, Answers: map[string]permit.Value{
		"mother.name": permit.Text("李虹"), "card.bank": permit.Text("cq-rural"),
	}})
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, []string{"card.bank", "documents.birth-medical-certificate"}, fe.Fields())
	_, err = f.svc.Resubmit(as(liXing), permit.Resubmission{Application: a.ID, Answers: map[string]permit.Value{"mother.name": permit.Text("李虹")}})
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, []string{"documents.birth-medical-certificate"}, fe.Fields(), "a marked document not corrected")
	_, err = f.svc.Resubmit(as(police), permit.Resubmission{Application: a.ID})
	assert.ErrorIs(t, err, access.ErrDenied)

	f.clk.Advance(24 * time.Hour) // Wednesday 14:00: the applicant took a day
	f.pub.reset()
	a, err = f.svc.Resubmit(as(liXing), permit.Resubmission{Application: a.ID, Key: "rs-1",
		Answers:   map[string]permit.Value{"mother.name": permit.Text("李虹")},
		Documents: map[string]permit.Document{"birth-medical-certificate": doc("birth-medical-certificate-v2")}})
	require.NoError(t, err)
	assert.Equal(t, permit.InReview, a.Status)
	hk = itemOf(t, a, "hukou")
	assert.Equal(t, permit.ItemInReview, hk.Status)
	assert.Equal(t, 2, hk.Round)
	assert.Equal(t, time.Date(2026, 3, 5, 2, 0, 0, 0, time.UTC), hk.Deadline, "the 5 working hours left, from Wednesday 14:00: Thursday 10:00")
	bs := itemOf(t, a, "birth-service")
	assert.Equal(t, permit.ItemInReview, bs.Status, "the birth-service item was approved on the old name and document: reviewed again")
	assert.Equal(t, 2, bs.Round)
	assert.Equal(t, permit.ItemApproved, itemOf(t, a, "vaccination").Status, "untouched approvals stand")
	assert.Equal(t, []string{"resubmitted", "item-reopened:birth-service", "item-resumed:hukou"}, f.pub.names(t))
	assert.Equal(t, time.Date(2026, 3, 10, 2, 0, 0, 0, time.UTC), a.Deadline, "the bundle's 26 working hours left, from Wednesday 14:00")

	corr = a.Corrections[0]
	assert.False(t, corr.Resolved.IsZero())
	prev := corr.Previous["mother.name"].Value.Personal
	want, _ := pii.NewName("李红")
	assert.True(t, prev.Equal(want), "the replaced answer is kept")
	assert.True(t, containsInOrder(actions(a), "submitted", "sent-back:hukou", "correction-requested:hukou", "resubmitted", "item-resumed:hukou"), "%v", actions(a))
	_, err = f.svc.Resubmit(as(liXing), permit.Resubmission{Application: a.ID})
	assert.ErrorIs(t, err, permit.ErrInvalidTransition)
	dup, err := f.svc.Resubmit(as(liXing), permit.Resubmission{Application: a.ID, Key: "rs-1"})
	require.NoError(t, err)
	assert.Equal(t, a.Version, dup.Version, "a duplicate resubmission is absorbed")
}

// S1: housing, police and fire review a rental room once, together.
func TestJointReview(t *testing.T) {
	f := newFixture(t)
	a := f.submitRental(t)
	assert.Equal(t, map[string]string{"housing": "in-review", "police": "in-review", "fire": "in-review"}, statuses(a))
	var lines []string
	for _, l := range a.Checks {
		lines = append(lines, l.ID)
	}
	assert.Equal(t, []string{"property-verified", "floor-plan-matches", "operator-identity", "fire-exits", "extinguishers"}, lines,
		"one merged checklist; the line housing and police share appears once")
	assert.Equal(t, []string{"housing", "police"}, a.Checks[1].Items)

	// Police send back the floor plan: held while the others decide.
	a, err := f.svc.SendBack(as(police), permit.SendBackRequest{Application: a.ID, Item: "police", Marks: map[string]string{"documents.floor-plan": "未标注消防通道"}})
	require.NoError(t, err)
	assert.Equal(t, permit.InReview, a.Status, "nothing goes to the applicant yet")
	assert.Empty(t, a.Corrections)
	tr, err := f.svc.Track(as(wangFang), a.ID)
	require.NoError(t, err)
	assert.Equal(t, "public-security", tr.Items[1].HeldBy, "held in the joint review")

	// Fire approve, ticking their lines; a line not ticked is refused.
	_, err = f.svc.Approve(as(fire), permit.Approval{Application: a.ID, Item: "fire", Outputs: map[string]permit.Value{"fire-check": permit.Text("XF-1")}, Confirm: []string{"fire-exits"}})
	assert.ErrorIs(t, err, permit.ErrInvalidCommand)
	assert.ErrorContains(t, err, "extinguishers")
	_, err = f.svc.Approve(as(fire), permit.Approval{Application: a.ID, Item: "fire", Outputs: map[string]permit.Value{"fire-check": permit.Text("XF-1")}, Confirm: []string{"property-verified"}})
	assert.ErrorIs(t, err, permit.ErrInvalidCommand, "another department's line")
	a = f.approve(t, fire, a, "fire", map[string]permit.Value{"fire-check": permit.Text("XF-1")}, "fire-exits", "extinguishers")
	assert.Empty(t, a.Corrections)

	// Housing send back too: the review has concluded, one merged request.
	f.pub.reset()
	a, err = f.svc.SendBack(as(housing), permit.SendBackRequest{Application: a.ID, Item: "housing", Marks: map[string]string{"room.floor": "与产权证不符"}})
	require.NoError(t, err)
	assert.Equal(t, permit.Returned, a.Status)
	require.Len(t, a.Corrections, 1)
	assert.Equal(t, []string{"housing", "police"}, a.Corrections[0].Items)
	assert.Equal(t, []string{"item-sent-back:housing", "returned"}, f.pub.names(t))
	evs := f.pub.events(t)
	assert.ElementsMatch(t, []string{"documents.floor-plan", "room.floor"}, evs[1].Fields)

	a, err = f.svc.Resubmit(as(wangFang), permit.Resubmission{Application: a.ID,
		Answers:   map[string]permit.Value{"room.floor": permit.Text("11")},
		Documents: map[string]permit.Document{"floor-plan": doc("floor-plan-v2")}})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"housing": "in-review", "police": "in-review", "fire": "in-review"}, statuses(a),
		"the corrected floor plan is fire's document too: the joint review sits again, once")

	// Police tick the shared line; housing need not tick it again.
	a = f.approve(t, police, a, "police", map[string]permit.Value{"police-record": permit.Text("ZA-9")}, "operator-identity", "floor-plan-matches")
	a = f.approve(t, fire, a, "fire", map[string]permit.Value{"fire-check": permit.Text("XF-2")}, "fire-exits", "extinguishers")
	f.pub.reset()
	a = f.approve(t, housing, a, "housing", map[string]permit.Value{"housing-check": permit.Text("ZJ-3")}, "property-verified")
	assert.Equal(t, permit.Completed, a.Status)
	evs = f.pub.events(t)
	done := evs[len(evs)-1]
	assert.Equal(t, "completed", done.Event)
	assert.Equal(t, map[string]string{"housing-check": "ZJ-3", "police-record": "ZA-9", "fire-check": "XF-2"}, done.Outputs,
		"the wiring issues the listing code on this event")
}

// Concurrent reviewers of different items never lose each other's
// decisions: the service retries a version conflict on fresh state.
func TestConcurrentReviews(t *testing.T) {
	f := newFixture(t)
	a := f.submitRental(t)
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for _, r := range []struct {
		who     access.Actor
		item    string
		out     string
		confirm []string
	}{
		{housing, "housing", "housing-check", []string{"property-verified", "floor-plan-matches"}},
		{police, "police", "police-record", []string{"operator-identity"}},
		{fire, "fire", "fire-check", []string{"fire-exits", "extinguishers"}},
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.svc.Approve(as(r.who), permit.Approval{Application: a.ID, Item: r.item,
				Outputs: map[string]permit.Value{r.out: permit.Text("ok")}, Confirm: r.confirm})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			// The police approval may race ahead of housing's tick of the
			// shared line; that is the only acceptable refusal.
			assert.ErrorIs(t, err, permit.ErrInvalidCommand)
		}
	}
	got, err := f.svc.Application(as(wangFang), a.ID)
	require.NoError(t, err)
	approved := 0
	for _, it := range got.Items {
		if it.Status == permit.ItemApproved {
			approved++
		}
	}
	assert.GreaterOrEqual(t, approved, 2)
	assert.Equal(t, int64(approved)+a.Version, got.Version, "one version per decision, none lost")
}
