package permittest

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/permit"
	"github.com/govkit/govkit/pii"
	"github.com/govkit/govkit/region"
)

// base is the suite's clock: UTC, microsecond precision, as the service
// stores times.
var base = time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC)

// Units of Chongqing the fixtures lie in.
const (
	yuzhong     region.Code = "500103"
	jiefangbei  region.Code = "500103001"
	chaotianmen region.Code = "500103002"
	jiangbei    region.Code = "500105"
	guanyin     region.Code = "500105001"
	chengdu     region.Code = "510104001" // a street of Chengdu, outside Chongqing
)

func newID(t testing.TB) uuid.UUID {
	t.Helper()
	id, err := uuid.NewV7()
	require.NoError(t, err)
	return id
}

func at(h int) time.Time { return base.Add(time.Duration(h) * time.Hour) }

func name(t testing.TB, s string) pii.Data {
	d, err := pii.NewName(s)
	require.NoError(t, err)
	return d
}

func idNumber(t testing.TB) pii.Data {
	d, err := pii.NewIDNumber("11010519491231002X")
	require.NoError(t, err)
	return d
}

func phone(t testing.TB) pii.Data {
	d, err := pii.NewPhone("13812345678")
	require.NoError(t, err)
	return d
}

func document(name string) permit.Document {
	return permit.Document{URI: "https://docs.example.gov.cn/" + name, SHA256: "4f3a0b6c1d2e3f405162738495a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e", Name: name + ".pdf", Attached: base}
}

// fullTemplate sets every field of a template.
func fullTemplate(id string, version int) permit.Template {
	return permit.Template{
		ID: id, Version: version, Name: "新生儿出生一件事", Jurisdiction: "500000", Owner: "gov-service-centre",
		Fields: []permit.Field{
			{ID: "child.name", Label: "新生儿姓名", Kind: permit.NameField, Optional: true, Source: "hukou"},
			{ID: "child.sex", Label: "性别", Kind: permit.ChoiceField, Choices: []permit.Choice{{Value: "male", Label: "男"}}},
			{ID: "note", Label: "备注", Kind: permit.TextField, MaxLen: 50},
		},
		Documents: []permit.DocumentSpec{{ID: "birth-medical-certificate", Name: "出生医学证明", Optional: true}},
		Items: []permit.Item{
			{ID: "hukou", Name: "户口登记", Department: "public-security", Fields: []string{"child.name", "child.sex", "note"},
				Documents: []string{"birth-medical-certificate"}, Outputs: []permit.Output{{ID: "child-id-number", Name: "公民身份号码", Kind: permit.IDNumberField}},
				SLA: permit.WorkingTime{Days: 2, Time: time.Hour}, Joint: "registration", Checklist: []permit.Check{{ID: "birth-verified", Text: "出生已核验"}}},
			{ID: "card", Name: "社保卡", Department: "hrss", Fields: []string{"child.name"}, Needs: []string{"child-id-number"},
				SLA: permit.Days(3), Optional: true, Fee: apd.New(1250, -2)},
			{ID: "insurance", Name: "医保", Department: "healthcare-security", Fields: []string{"child.name"}, SLA: permit.Days(1), Joint: "registration"},
		},
		SLA:     permit.WorkingTime{Days: 5, Time: 30 * time.Minute},
		Proxies: []string{"guardian"},
	}
}

// fullApplication sets every field of an application, some of them
// personal data.
func fullApplication(t testing.TB) permit.Application {
	return permit.Application{
		ID: newID(t), Key: "full-" + newID(t).String(), Template: "newborn", TemplateVersion: 2, Jurisdiction: jiefangbei,
		Applicant: "li-xing",
		OnBehalf: &permit.Authorisation{Principal: "zhang-guilan", Name: name(t, "张桂兰"), IDNumber: idNumber(t), Relationship: "guardian",
			Basis: document("guardianship"), ValidUntil: at(24 * 365), RecordedBy: "li-xing", RecordedAt: base},
		Status:    permit.InReview,
		Answers:   map[string]permit.Answer{"child.name": {Value: permit.Personal(name(t, "李小满")), Source: "applicant", At: base}, "child.sex": {Value: permit.Text("female"), Source: "registry:hukou", At: at(1)}, "pets": {Value: permit.List("cat", "dog"), Source: "applicant", At: at(1)}},
		Documents: map[string]permit.Document{"birth-medical-certificate": document("bmc")},
		Offers:    map[string]permit.Offer{"child.name": {Source: "hukou", Values: []permit.Value{permit.Personal(name(t, "李小满")), permit.Text("x"), permit.List("a", "b")}, At: base}},
		Consents:  []permit.Consent{{Source: "hukou", By: "li-xing", At: base}},
		Items: []permit.ItemState{
			{Item: "hukou", Department: "public-security", Joint: "registration", Optional: true, Status: permit.ItemSentBack, Round: 2,
				Started: at(1), Deadline: at(49), PausedAt: at(2), Remaining: 3 * time.Hour, Finished: at(3), Reviewer: "yz-police-liu",
				Reasons: []string{"不清晰"}, Marks: []permit.Mark{{Item: "hukou", Field: "child.name", Reason: "有误", By: "yz-police-liu"}},
				Outputs: map[string]permit.Value{"child-id-number": permit.Personal(idNumber(t)), "no": permit.Text("1"), "list": permit.List("a")}, Escalated: 1, EscalateTo: "public-security", NextCheck: at(50)},
		},
		Checks: []permit.CheckLine{{ID: "birth-verified", Text: "出生已核验", Joint: "registration", Items: []string{"hukou", "insurance"}, Confirmed: true, By: "yz-police-liu", At: at(2)}},
		Corrections: []permit.Correction{{Seq: 1, Items: []string{"hukou"}, Marks: []permit.Mark{{Item: "hukou", Field: "child.name", Reason: "有误", By: "yz-police-liu"}},
			Requested: at(2), Resolved: at(3), Previous: map[string]permit.Answer{
				"child.name": {Value: permit.Personal(name(t, "李小")), Source: "applicant", At: base},
				"note":       {Value: permit.Text("x")}, "pets": {Value: permit.List("cat")}}}},
		Outputs:     map[string]permit.Value{"child-id-number": permit.Personal(idNumber(t)), "no": permit.Text("1"), "list": permit.List("a")},
		History:     []permit.Step{{Time: base, Actor: "li-xing", Action: "started", Item: "hukou", Note: "newborn version 2", Fields: []string{"child.name"}}},
		Created:     base,
		Submitted:   at(1),
		Finished:    at(100),
		Deadline:    at(120),
		PausedAt:    at(2),
		Remaining:   90 * time.Minute,
		Escalations: 1,
		BundleCheck: at(121),
		NextCheck:   at(50),
		Keys:        []string{"submit-1", "fill-2"},
		Version:     1,
	}
}

// newApplication is a bare application for queries.
func newApplication(t testing.TB, unit region.Code, template, applicant string, status permit.Status, inReview ...string) permit.Application {
	a := permit.Application{ID: newID(t), Template: template, TemplateVersion: 1, Jurisdiction: unit, Applicant: applicant,
		Status: status, Created: base, Version: 1}
	for _, d := range inReview {
		a.Items = append(a.Items, permit.ItemState{Item: "item-" + d, Department: d, Status: permit.ItemInReview})
	}
	a.Items = append(a.Items, permit.ItemState{Item: "waiting", Department: "waiting-dept", Status: permit.ItemWaiting})
	return a
}

func line(lat float64) geo.LineString {
	return geo.LineString{{Lat: lat, Lon: 106.530}, {Lat: lat, Lon: 106.532}}
}

func fullExcavation(t testing.TB) permit.Excavation {
	return permit.Excavation{
		ID: newID(t), Key: "gas-" + newID(t).String(), Promoter: "cq-gas", Segment: "jianxin-1", Site: line(29.575), Jurisdiction: guanyin,
		Window: permit.Window{Start: at(24 * 30), End: at(24 * 40)}, Emergency: true, Purpose: "燃气管道改造",
		Status: permit.ExcavationMerged, Joint: newID(t), Applicant: "gas-tang", Submitted: base, Completed: at(24 * 41), Version: 1,
	}
}

func newExcavation(t testing.TB, promoter, segment string, unit region.Code, status permit.ExcavationStatus, fromDay, toDay int) permit.Excavation {
	return permit.Excavation{ID: newID(t), Promoter: promoter, Segment: segment, Site: line(29.575), Jurisdiction: unit,
		Window: permit.Window{Start: at(24 * fromDay), End: at(24 * toDay)}, Status: status, Submitted: base, Version: 1}
}

func fullJoint(t testing.TB) permit.JointExcavation {
	return permit.JointExcavation{
		ID: newID(t), Members: []uuid.UUID{newID(t), newID(t)}, Promoters: []string{"cq-gas", "cq-water"}, Lead: "cq-gas",
		Segments: []string{"jianxin-1"}, Window: permit.Window{Start: at(24 * 30), End: at(24 * 45)}, Jurisdiction: guanyin,
		Emergency: true, Status: permit.JointAgreed, Note: "2 works", Created: base, Decided: at(5), Version: 1,
	}
}

func fullMoratorium(t testing.TB) permit.Moratorium {
	return permit.Moratorium{ID: newID(t), Segment: "jianxin-1", Jurisdiction: guanyin, From: at(24 * 50), Until: at(24*50).AddDate(3, 0, 0),
		Cause: "works", Works: newID(t), Version: 1}
}

func event(t testing.TB, name string, key string) bus.Message {
	data, err := json.Marshal(map[string]string{"event": name})
	require.NoError(t, err)
	return bus.Message{ID: newID(t).String(), Subject: "gov.500000.500103.500103001.permit." + name, Key: key,
		Headers: map[string]string{"govkit-kind": "permit", "govkit-event": name}, Time: base, Data: data}
}

func bumpApp(a permit.Application) permit.Application {
	n := a.Clone()
	n.Version++
	n.History = append(n.History, permit.Step{Time: at(int(n.Version)), Actor: "test", Action: "bumped"})
	return n
}

func bumpWorks(e permit.Excavation) permit.Excavation {
	n := e.Clone()
	n.Version++
	n.Purpose += "+"
	return n
}

func bumpJoint(j permit.JointExcavation) permit.JointExcavation {
	n := j.Clone()
	n.Version++
	n.Note += "+"
	return n
}

func bumpMoratorium(m permit.Moratorium) permit.Moratorium {
	m.Version++
	m.Until = m.Until.AddDate(1, 0, 0)
	return m
}

// unsetFields lists the fields of v, a permit struct, that are zero in
// every value reachable from it (every element of a slice or map counts),
// such as "Application.History[].Note". The suite requires the full
// fixtures to have none, so that a field added later is covered by the
// round trip as soon as the fixture sets it.
func unsetFields(v any) []string {
	set := map[string]bool{}
	pkg := reflect.TypeFor[permit.Application]().PkgPath()
	var walk func(v reflect.Value, path string)
	walk = func(v reflect.Value, path string) {
		switch v.Kind() {
		case reflect.Pointer:
			if !v.IsNil() {
				walk(v.Elem(), path)
			}
		case reflect.Slice:
			if v.Type().Elem().Kind() == reflect.Uint8 {
				return
			}
			for i := range v.Len() {
				walk(v.Index(i), path+"[]")
			}
		case reflect.Map:
			for it := v.MapRange(); it.Next(); {
				walk(it.Value(), path+"[]")
			}
		case reflect.Struct:
			if v.Type().PkgPath() != pkg {
				return // time.Time, pii.Data and the like are leaves
			}
			for i := range v.NumField() {
				f := v.Type().Field(i)
				if !f.IsExported() {
					continue
				}
				p := path + "." + f.Name
				set[p] = set[p] || !v.Field(i).IsZero()
				walk(v.Field(i), p)
			}
		}
	}
	rv := reflect.ValueOf(v)
	walk(rv, rv.Type().Name())
	var out []string
	for p, ok := range set {
		if !ok {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

func compareIDs(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) }

func sortedIDs(ids ...uuid.UUID) []uuid.UUID {
	out := slices.Clone(ids)
	slices.SortFunc(out, compareIDs)
	if len(out) == 0 {
		return nil
	}
	return out
}

// normalMessage returns m as compared by the suite: empty headers and data
// count as absent, and Attempt is the transport's business.
func normalMessage(m bus.Message) bus.Message {
	if len(m.Headers) == 0 {
		m.Headers = nil
	}
	if len(m.Data) == 0 {
		m.Data = nil
	}
	m.Attempt = 0
	return m
}
