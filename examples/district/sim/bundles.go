package sim

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/codes"
	"github.com/govkit/govkit/permit"
	"github.com/govkit/govkit/pii"
	"github.com/govkit/govkit/region"
)

// Bundle templates.
const (
	tplNewborn = "newborn"
	tplRental  = "rental-room"
)

func text(id, label string) permit.Field {
	return permit.Field{ID: id, Label: label, Kind: permit.TextField}
}

// templates are the district's one-thing bundles: S19's newborn bundle,
// five departments, and S1's rental-room registration, reviewed by
// housing, police and fire together.
func templates() []permit.Template {
	return []permit.Template{{
		ID: tplNewborn, Version: 1, Name: "新生儿出生一件事", Jurisdiction: cityCode, Owner: "gov-service-centre", SLA: permit.Days(5),
		Fields: []permit.Field{
			{ID: "mother.name", Label: "母亲姓名", Kind: permit.NameField},
			{ID: "child.name", Label: "新生儿姓名", Kind: permit.NameField},
			{ID: "child.birth-date", Label: "出生日期", Kind: permit.DateField},
			{ID: "card.bank", Label: "社保卡银行", Kind: permit.ChoiceField, Choices: []permit.Choice{{Value: "icbc", Label: "工商银行"}, {Value: "ccb", Label: "建设银行"}}},
			text("birth.hospital", "出生医院"),
		},
		Documents: []permit.DocumentSpec{{ID: "birth-medical-certificate", Name: "出生医学证明"}},
		Items: []permit.Item{
			{ID: "birth-service", Name: "生育服务证登记", Department: "health-commission", SLA: permit.Days(2),
				Fields: []string{"mother.name", "child.birth-date", "birth.hospital"}, Outputs: []permit.Output{{ID: "birth-service-no", Name: "生育服务证号"}}},
			{ID: "hukou", Name: "新生儿户口登记", Department: "public-security", SLA: permit.Days(2),
				Fields: []string{"child.name", "child.birth-date", "mother.name"}, Documents: []string{"birth-medical-certificate"},
				Outputs: []permit.Output{{ID: "child-id-number", Name: "公民身份号码", Kind: permit.IDNumberField}}},
			{ID: "insurance", Name: "医保参保登记", Department: "healthcare-security", SLA: permit.Days(1),
				Fields: []string{"child.name"}, Needs: []string{"child-id-number"}, Outputs: []permit.Output{{ID: "insurance-no", Name: "参保编号"}}},
			{ID: "card", Name: "社保卡申领", Department: "hrss", SLA: permit.Days(3),
				Fields: []string{"child.name", "card.bank"}, Needs: []string{"child-id-number"}, Outputs: []permit.Output{{ID: "card-no", Name: "社保卡号"}}},
			{ID: "vaccination", Name: "预防接种查询", Department: "cdc", SLA: permit.Days(1),
				Fields: []string{"child.name", "child.birth-date", "birth.hospital"}, Outputs: []permit.Output{{ID: "vaccination-record", Name: "接种记录"}}},
		},
	}, {
		ID: tplRental, Version: 1, Name: "网约房房源登记", Jurisdiction: cityCode, Owner: "gov-service-centre", SLA: permit.Days(3),
		Fields: []permit.Field{
			{ID: "operator.name", Label: "经营者", Kind: permit.NameField},
			{ID: "room.address", Label: "房源地址", Kind: permit.AddressField},
			{ID: "room.extinguishers", Label: "灭火器", Kind: permit.ChoiceField, Choices: []permit.Choice{{Value: "1", Label: "1个"}, {Value: "2+", Label: "2个及以上"}}},
		},
		Documents: []permit.DocumentSpec{{ID: "floor-plan", Name: "房间平面图"}},
		Items: []permit.Item{
			{ID: "housing", Name: "住建", Department: "housing", SLA: permit.Days(2), Joint: "room", Fields: []string{"room.address"},
				Documents: []string{"floor-plan"}, Outputs: []permit.Output{{ID: "housing-ok", Name: "住建意见"}},
				Checklist: []permit.Check{{ID: "floor-plan-matches", Text: "平面图与现场一致"}}},
			{ID: "police", Name: "公安", Department: "police", SLA: permit.Days(2), Joint: "room", Fields: []string{"operator.name", "room.address"},
				Documents: []string{"floor-plan"}, Outputs: []permit.Output{{ID: "police-record", Name: "治安登记号"}},
				Checklist: []permit.Check{{ID: "operator-identity", Text: "经营者身份已核验"}, {ID: "floor-plan-matches", Text: "平面图与现场一致"}}},
			{ID: "fire", Name: "消防", Department: "fire", SLA: permit.Days(2), Joint: "room", Fields: []string{"room.address", "room.extinguishers"},
				Outputs: []permit.Output{{ID: "fire-ok", Name: "消防意见"}}, Checklist: []permit.Check{{ID: "extinguishers", Text: "灭火器达标"}}},
		},
	}}
}

// application is what the simulation remembers of a bundle it applied for.
type application struct {
	key       string
	template  string
	applicant access.Actor
	grid      *grid
	room      string // for a rental room: the subject its listing code will name
	operator  string
}

// publishTemplates publishes the bundles, unless a previous run on the
// same store already did.
func (s *system) publishTemplates(ctx context.Context) error {
	setup := as(ctx, actorSetup)
	for _, t := range templates() {
		if _, err := s.permits.Template(setup, t.ID, t.Version); err == nil {
			continue
		} else if !errors.Is(err, permit.ErrNotFound) {
			return err
		}
		if _, err := s.permits.PublishTemplate(setup, t); err != nil {
			return err
		}
	}
	return nil
}

var names = []string{"王芳", "李娜", "张伟", "刘洋", "陈静", "杨敏", "赵磊", "黄婷", "周杰", "吴霞", "徐明", "孙丽"}

// corrected are the names given in corrections: never one of names, so a
// correction always changes the answer.
var corrected = []string{"王晓芳", "李晓娜", "张晓伟", "刘晓洋"}

func document(name, version string) permit.Document {
	sum := fmt.Sprintf("%064x", hashKey(name+version))[:64]
	return permit.Document{URI: "https://docs.example.gov.cn/" + name + "-" + version, SHA256: sum}
}

// applyBundle is a citizen applying for a bundle: start, fill the one form,
// submit.
func (s *system) applyBundle(ctx context.Context, tpl string, key string, citizen int, g *grid) error {
	r := s.w.rnd(key)
	who := access.Actor{ID: fmt.Sprintf("cit-%07d", citizen), Kind: access.Citizen, Scope: cityCode, Roles: []string{"citizen"}}
	actx := as(ctx, who)
	jurisdiction := g.street.code
	if tpl == tplRental {
		jurisdiction = g.code // the room's grid: its listing code's jurisdiction
	}
	a, err := s.permits.Start(actx, permit.StartRequest{Key: key, Template: tpl, Jurisdiction: jurisdiction})
	if err != nil {
		return err
	}
	app := &application{key: key, template: tpl, applicant: who, grid: g}
	var answers map[string]permit.Value
	var docs map[string]permit.Document
	switch tpl {
	case tplNewborn:
		birth := s.clk.Now().In(CST).AddDate(0, 0, -1-r.IntN(20)).Format(time.DateOnly)
		answers = map[string]permit.Value{
			"mother.name": permit.Text(names[r.IntN(len(names))]), "child.name": permit.Text(names[r.IntN(len(names))]),
			"child.birth-date": permit.Text(birth), "card.bank": permit.Text([]string{"icbc", "ccb"}[r.IntN(2)]),
			"birth.hospital": permit.Text("重庆市妇幼保健院"),
		}
		docs = map[string]permit.Document{"birth-medical-certificate": document(key, "1")}
	case tplRental:
		app.room = fmt.Sprintf("room-%s-n%s", g.street.code, key[strings.LastIndexByte(key, '/')+1:])
		app.operator = fmt.Sprintf("op-%s-%02d", g.street.code, r.IntN(8)+1)
		answers = map[string]permit.Value{
			"operator.name": permit.Text(names[r.IntN(len(names))]), "room.address": permit.Text(fmt.Sprintf("重庆市%s%d号%d室", g.street.name, 1+r.IntN(200), 101+r.IntN(2000))),
			"room.extinguishers": permit.Text([]string{"1", "2+"}[r.IntN(2)]),
		}
		docs = map[string]permit.Document{"floor-plan": document(key, "1")}
	}
	s.mu.Lock()
	s.apps[a.ID.String()] = app
	s.mu.Unlock()
	if _, err := s.permits.Fill(actx, permit.FillRequest{Application: a.ID, Answers: answers, Documents: docs}); err != nil {
		return err
	}
	s.count(g.code, func(st *streetStats) { st.bundlesStarted++ })
	_, err = s.permits.Submit(actx, permit.SubmitRequest{Application: a.ID})
	return err
}

func (s *system) app(id uuid.UUID) *application {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.apps[id.String()]
}

// permitDesk routes bundle events: items to their departments' reviewers,
// corrections to the applicant, completions to the listing-code office
// (permit → codes).
func (s *system) permitDesk(ctx context.Context, m bus.Message) error {
	e, err := permit.DecodeEvent(m)
	if err != nil {
		return nil
	}
	app := s.app(e.Application)
	if app == nil {
		return nil // not one of this run's
	}
	stamp := e.Time.UnixNano()
	switch e.Event {
	case "item-started", "item-resumed", "item-reopened":
		key := fmt.Sprintf("%s/%s/%s/%d", app.key, e.Item, e.Event, stamp)
		delay := between(s.w.rnd(key), 20*time.Minute, 3*time.Hour)
		id, item, dept := e.Application, e.Item, e.Department
		s.sched.add(s.clk.Now().Add(delay), key, func(ctx context.Context) error { return s.review(ctx, id, item, dept, key) })
	case "returned":
		key := fmt.Sprintf("%s/resubmit/%d", app.key, stamp)
		id, fields := e.Application, e.Fields
		s.sched.add(s.clk.Now().Add(between(s.w.rnd(key), 30*time.Minute, 4*time.Hour)), key,
			func(ctx context.Context) error { return s.resubmit(ctx, id, fields, key) })
	case "completed":
		s.bundles.Add(1)
		s.count(app.grid.code, func(st *streetStats) { st.bundlesDone++ })
		if app.template == tplRental {
			if err := s.issueListing(ctx, app.room, app.operator, app.grid.code); err != nil {
				s.fail("listing code", err)
			}
		}
	case "rejected":
		s.count(app.grid.code, func(st *streetStats) { st.bundlesRejected++ })
	}
	return nil
}

// idNumber returns a valid resident identity number (GB 11643) for a
// child born in district on date, with sequence seq.
func idNumber(district region.Code, born time.Time, seq int) string {
	s := fmt.Sprintf("%s%s%03d", district[:6], born.Format("20060102"), seq%1000)
	weights := [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i, w := range weights {
		sum += int(s[i]-'0') * w
	}
	return s + string("10X98765432"[sum%11])
}

// review is a department's decision on one item: mostly approved, now and
// then sent back for a correction, rarely refused.
func (s *system) review(ctx context.Context, id uuid.UUID, item, dept, key string) error {
	a, err := s.permits.Store().Application(ctx, id)
	if err != nil {
		return err
	}
	var st *permit.ItemState
	for i := range a.Items {
		if a.Items[i].Item == item {
			st = &a.Items[i]
		}
	}
	if st == nil || st.Status != permit.ItemInReview {
		return nil
	}
	app := s.app(id)
	reviewer := access.Actor{ID: "rev-" + dept + "-" + string(app.grid.street.district), Kind: access.DepartmentHandler,
		Department: dept, Scope: app.grid.street.district, Roles: []string{"reviewer"}}
	rctx := as(ctx, reviewer)
	tpl, err := s.permits.Template(as(ctx, actorSetup), a.Template, a.TemplateVersion)
	if err != nil {
		return err
	}
	var it permit.Item
	for _, x := range tpl.Items {
		if x.ID == item {
			it = x
		}
	}
	r := s.w.rnd(key)
	if st.Round == 1 {
		switch x := r.Float64(); {
		case x < 0.08 && len(it.Fields) > 0:
			mark := it.Fields[r.IntN(len(it.Fields))]
			if len(it.Documents) > 0 && r.IntN(2) == 0 {
				mark = "documents." + it.Documents[0]
			}
			_, err := s.permits.SendBack(rctx, permit.SendBackRequest{Application: id, Item: item, Marks: map[string]string{mark: "please correct: it does not match the records"}})
			return err
		case x < 0.09:
			_, err := s.permits.Reject(rctx, permit.Rejection{Application: id, Item: item, Reasons: []string{"the supporting documents do not establish the claim"}})
			return err
		}
	}
	outputs := map[string]permit.Value{}
	for _, o := range it.Outputs {
		switch o.Kind {
		case permit.IDNumberField:
			born, err := time.ParseInLocation(time.DateOnly, a.Answers["child.birth-date"].Value.Text, CST)
			if err != nil {
				born = s.clk.Now()
			}
			outputs[o.ID] = permit.Text(idNumber(app.grid.street.district, born, int(hashKey(key)%1000)))
		default:
			outputs[o.ID] = permit.Text(fmt.Sprintf("%s-%06d", strings.ToUpper(o.ID[:2]), hashKey(key)%1_000_000))
		}
	}
	var confirm []string
	for _, c := range it.Checklist {
		confirm = append(confirm, c.ID)
	}
	_, err = s.permits.Approve(rctx, permit.Approval{Application: id, Item: item, Outputs: outputs, Confirm: confirm})
	return err
}

// resubmit is the applicant correcting exactly what was marked.
func (s *system) resubmit(ctx context.Context, id uuid.UUID, fields []string, key string) error {
	app := s.app(id)
	a, err := s.permits.Store().Application(ctx, id)
	if err != nil {
		return err
	}
	corr, open := a.OpenCorrection()
	if !open {
		return nil
	}
	// The request may have grown since it was announced: answer every mark.
	fields = fields[:0:0]
	for _, m := range corr.Marks {
		if !slices.Contains(fields, m.Field) {
			fields = append(fields, m.Field)
		}
	}
	answers := map[string]permit.Value{}
	docs := map[string]permit.Document{}
	for _, f := range fields {
		if d, ok := strings.CutPrefix(f, "documents."); ok {
			docs[d] = document(key, "2")
			continue
		}
		prev := a.Answers[f].Value
		switch {
		case f == "child.birth-date":
			d, err := time.Parse(time.DateOnly, prev.Text)
			if err != nil {
				d = s.clk.Now().In(CST)
			}
			answers[f] = permit.Text(d.AddDate(0, 0, -1).Format(time.DateOnly))
		case f == "card.bank" && prev.Text == "ccb":
			answers[f] = permit.Text("icbc")
		case f == "card.bank":
			answers[f] = permit.Text("ccb")
		case f == "room.extinguishers" && prev.Text == "2+":
			answers[f] = permit.Text("1")
		case f == "room.extinguishers":
			answers[f] = permit.Text("2+")
		case strings.HasSuffix(f, ".name"):
			answers[f] = differing(prev, pii.NewName, append(corrected, names...))
		case f == "room.address":
			answers[f] = differing(prev, pii.NewAddress, []string{
				fmt.Sprintf("重庆市%s%d号", app.grid.street.name, 1+hashKey(key)%300),
				fmt.Sprintf("重庆市%s%d号附%d号", app.grid.street.name, 1+hashKey(key)%300, 1+hashKey(key)%9)})
		default:
			answers[f] = permit.Text(prev.Text + "（更正）")
		}
	}
	_, err = s.permits.Resubmit(as(ctx, app.applicant), permit.Resubmission{Application: id, Answers: answers, Documents: docs})
	return err
}

// differing returns the first of candidates, as personal data of the kind
// make builds, that differs from prev: a correction must change the answer.
func differing(prev permit.Value, make func(string) (pii.Data, error), candidates []string) permit.Value {
	for _, c := range candidates {
		d, err := make(c)
		if err == nil && !prev.Equal(permit.Personal(d)) {
			return permit.Personal(d)
		}
	}
	return permit.Text(candidates[0])
}

// issueListing gives a reviewed room its listing code (房源码).
func (s *system) issueListing(ctx context.Context, room, operator string, g region.Code) error {
	data, err := codes.EncodeData(codes.ListingClaims{Room: room, Operator: operator, Reviews: []string{"housing", "police", "fire"}, Guests: 2,
		Lock: "lock-" + room})
	if err != nil {
		return err
	}
	if _, err := s.codes.Issue(as(ctx, actorCodes), codes.IssueRequest{Kind: codes.Listing, Subject: room, Jurisdiction: g, Data: data}); err != nil {
		return err
	}
	s.issued.Add(1)
	s.count(g, func(st *streetStats) { st.codes++ })
	return nil
}

// listingDesk delists a room whose listing turned red: every code issued
// to it so far stops verifying.
func (s *system) listingDesk(ctx context.Context, m bus.Message) error {
	e, err := codes.DecodeEvent(m)
	if err != nil || e.Event != codes.EventTurnedRed {
		return nil
	}
	if err := s.codes.RevokeSubject(as(ctx, actorCodes), e.Subject, time.Time{}, "delisted: score below the red line"); err != nil {
		s.fail("delist", err)
		return nil
	}
	s.count(e.Jurisdiction, func(st *streetStats) { st.delisted++ })
	return nil
}
