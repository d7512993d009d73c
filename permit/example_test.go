package permit_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/clock"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/permit"
)

// printer is a publisher that prints the events it is given, as a
// subscriber on the bus would see them.
type printer struct{ only []string }

func (p printer) Publish(_ context.Context, m bus.Message) error {
	e, err := permit.DecodeEvent(m)
	if err != nil || (len(p.only) > 0 && !slices.Contains(p.only, e.Event)) {
		return err
	}
	line := "event " + e.Event
	if e.Item != "" {
		line += " " + e.Item
	}
	if len(e.Outputs) > 0 {
		keys := make([]string, 0, len(e.Outputs))
		for k, v := range e.Outputs {
			keys = append(keys, k+"="+v)
		}
		slices.Sort(keys)
		line += " " + strings.Join(keys, " ")
	}
	fmt.Println(line)
	return nil
}

func actor(id, dept string) context.Context {
	return access.WithActor(context.Background(), access.Actor{ID: id, Kind: access.DepartmentHandler, Department: dept, Scope: "500000"})
}

// S19: Li Xing registers his newborn daughter in one application: the
// birth-service certificate, household registration, medical insurance, the
// social-security card and the vaccination record. Registration gives the
// child her ID number, which insurance and the card need: they wait for
// it, and it is never asked of Li Xing.
func ExampleService_newborn() {
	clk := clock.NewManual(time.Date(2026, 3, 2, 10, 0, 0, 0, time.FixedZone("CST", 8*3600)))
	svc, _ := permit.NewService(permit.Config{
		Authorizer: access.AllowAll(), // a real service passes its access.Policy
		Clock:      clk, Bus: printer{only: []string{"completed"}},
	})
	defer svc.Shutdown()
	admin := actor("admin", "gov-service-centre")
	text := func(id, label string) permit.Field { return permit.Field{ID: id, Label: label, Kind: permit.TextField} }
	tpl, err := svc.PublishTemplate(admin, permit.Template{
		ID: "newborn", Version: 1, Name: "新生儿出生一件事", Jurisdiction: "500000", Owner: "gov-service-centre", SLA: permit.Days(5),
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
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	stages, _ := tpl.Stages()
	fmt.Println("stages:", stages)
	fields, _, _ := tpl.Form()
	fmt.Println("one form of", len(fields), "fields for", len(tpl.Items), "items")

	li := access.WithActor(context.Background(), access.Actor{ID: "li-xing", Kind: access.Citizen, Scope: "500000"})
	a, _ := svc.Start(li, permit.StartRequest{Key: "li-xing-newborn", Template: "newborn", Jurisdiction: "500103001"})
	_, err = svc.Fill(li, permit.FillRequest{Application: a.ID, Answers: map[string]permit.Value{
		"mother.name": permit.Text("李红"), "child.name": permit.Text("李小满"), "child.birth-date": permit.Text("2026-02-27"),
		"card.bank": permit.Text("icbc"), "birth.hospital": permit.Text("重庆市妇幼保健院"),
	}})
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = svc.Submit(li, permit.SubmitRequest{Application: a.ID})
	fmt.Println("submit:", err)
	_, _ = svc.Fill(li, permit.FillRequest{Application: a.ID, Documents: map[string]permit.Document{
		"birth-medical-certificate": {URI: "https://docs.example.gov.cn/bmc-0227", SHA256: strings.Repeat("ab", 32)},
	}})
	a, _ = svc.Submit(li, permit.SubmitRequest{Application: a.ID})
	for _, it := range a.Items {
		fmt.Printf("  %-13s %s\n", it.Item, it.Status)
	}
	tr, _ := svc.Track(li, a.ID)
	fmt.Println("expected by:", tr.ExpectedFinish.In(clk.Now().Location()).Format("Mon 2 Jan 15:04"))

	approve := func(who, dept, item, output string, v permit.Value) {
		got, err := svc.Approve(actor(who, dept), permit.Approval{Application: a.ID, Item: item, Outputs: map[string]permit.Value{output: v}})
		if err != nil {
			fmt.Println(err)
			return
		}
		a = got
	}
	clk.Advance(4 * time.Hour)
	approve("liu", "public-security", "hukou", "child-id-number", permit.Text("500103202602270020")) // a typo
	approve("liu", "public-security", "hukou", "child-id-number", permit.Text("500103202602270023"))
	fmt.Println("after hukou:", a.Items[2].Item, a.Items[2].Status, "/", a.Items[3].Item, a.Items[3].Status)
	approve("chen", "health-commission", "birth-service", "birth-service-no", permit.Text("SF-500103-0001"))
	approve("wu", "cdc", "vaccination", "vaccination-record", permit.Text("VR-2026-77"))
	approve("sun", "healthcare-security", "insurance", "insurance-no", permit.Text("YB-0099"))
	approve("zhou", "hrss", "card", "card-no", permit.Text("SB-12345"))
	fmt.Println("status:", a.Status)
	// Output:
	// stages: [[birth-service hukou vaccination] [insurance card]]
	// one form of 5 fields for 5 items
	// submit: permit: invalid form: documents.birth-medical-certificate: required document missing
	//   birth-service in-review
	//   hukou         in-review
	//   insurance     waiting
	//   card          waiting
	//   vaccination   in-review
	// expected by: Mon 9 Mar 10:00
	// permit: invalid form: outputs.child-id-number: the check character does not match
	// after hukou: insurance in-review / card in-review
	// event completed birth-service-no=SF-500103-0001 card-no=SB-12345 child-id-number=500***********0023 insurance-no=YB-0099 vaccination-record=VR-2026-77
	// status: completed
}

// S1: an operator declares a rental room; housing, police and fire review
// it once, together, with one merged checklist. Police want a better floor
// plan: the request reaches the operator only when the joint review has
// decided, and once corrected the room is approved. The "completed" event
// is where the application's wiring issues the room's listing code with
// the codes package.
func ExampleService_rentalRoom() {
	clk := clock.NewManual(time.Date(2026, 5, 11, 9, 30, 0, 0, time.FixedZone("CST", 8*3600)))
	svc, _ := permit.NewService(permit.Config{Authorizer: access.AllowAll(), Clock: clk, Bus: printer{only: []string{"returned", "completed"}}})
	defer svc.Shutdown()
	_, err := svc.PublishTemplate(actor("admin", "yz-admin-service"), permit.Template{
		ID: "rental-room", Version: 1, Name: "网约房房源登记", Jurisdiction: "500103", Owner: "yz-admin-service",
		Fields: []permit.Field{
			{ID: "operator.name", Label: "经营者", Kind: permit.NameField},
			{ID: "room.address", Label: "房源地址", Kind: permit.AddressField},
			{ID: "room.extinguishers", Label: "灭火器", Kind: permit.ChoiceField, Choices: []permit.Choice{{Value: "0", Label: "无"}, {Value: "1", Label: "1个"}, {Value: "2+", Label: "2个及以上"}}},
		},
		Documents: []permit.DocumentSpec{{ID: "floor-plan", Name: "房间平面图"}},
		Items: []permit.Item{
			{ID: "housing", Name: "住建", Department: "housing", SLA: permit.Days(3), Joint: "room", Fields: []string{"room.address"},
				Documents: []string{"floor-plan"}, Outputs: []permit.Output{{ID: "housing-ok", Name: "住建意见"}},
				Checklist: []permit.Check{{ID: "floor-plan-matches", Text: "平面图与现场一致"}}},
			{ID: "police", Name: "公安", Department: "police", SLA: permit.Days(3), Joint: "room", Fields: []string{"operator.name", "room.address"},
				Documents: []string{"floor-plan"}, Outputs: []permit.Output{{ID: "police-record", Name: "治安登记号"}},
				Checklist: []permit.Check{{ID: "operator-identity", Text: "经营者身份已核验"}, {ID: "floor-plan-matches", Text: "平面图与现场一致"}}},
			{ID: "fire", Name: "消防", Department: "fire", SLA: permit.Days(3), Joint: "room", Fields: []string{"room.address", "room.extinguishers"},
				Outputs: []permit.Output{{ID: "fire-ok", Name: "消防意见"}}, Checklist: []permit.Check{{ID: "extinguishers", Text: "灭火器达标"}}},
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	op := access.WithActor(context.Background(), access.Actor{ID: "wang-fang", Kind: access.Citizen, Scope: "500103"})
	plan := func(v string) permit.Document {
		return permit.Document{URI: "https://docs.example.gov.cn/plan-" + v, SHA256: strings.Repeat("c"+v, 32)}
	}
	a, _ := svc.Start(op, permit.StartRequest{Template: "rental-room", Jurisdiction: "500103001"})
	_, _ = svc.Fill(op, permit.FillRequest{Application: a.ID,
		Answers:   map[string]permit.Value{"operator.name": permit.Text("王芳"), "room.address": permit.Text("重庆市渝中区八一路9号1203室"), "room.extinguishers": permit.Text("1")},
		Documents: map[string]permit.Document{"floor-plan": plan("1")}})
	a, _ = svc.Submit(op, permit.SubmitRequest{Application: a.ID})
	for _, l := range a.Checks {
		fmt.Printf("check %-18s %v\n", l.ID, l.Items)
	}
	_, _ = svc.SendBack(actor("liu", "police"), permit.SendBackRequest{Application: a.ID, Item: "police", Marks: map[string]string{"documents.floor-plan": "未标注疏散通道"}})
	fmt.Println("after police:", a.Status)
	_, _ = svc.Approve(actor("zheng", "fire"), permit.Approval{Application: a.ID, Item: "fire", Outputs: map[string]permit.Value{"fire-ok": permit.Text("XF-1")}, Confirm: []string{"extinguishers"}})
	a, _ = svc.Approve(actor("qian", "housing"), permit.Approval{Application: a.ID, Item: "housing", Outputs: map[string]permit.Value{"housing-ok": permit.Text("ZJ-1")}, Confirm: []string{"floor-plan-matches"}})
	fmt.Println("after all three:", a.Status)
	_, err = svc.Resubmit(op, permit.Resubmission{Application: a.ID, Answers: map[string]permit.Value{"room.extinguishers": permit.Text("2+")}})
	fmt.Println("resubmit:", err)
	a, _ = svc.Resubmit(op, permit.Resubmission{Application: a.ID, Documents: map[string]permit.Document{"floor-plan": plan("2")}})
	for _, it := range a.Items {
		fmt.Printf("  %-7s %s (round %d)\n", it.Item, it.Status, it.Round)
	}
	// The plan is housing's document too: housing reviews again; the line
	// it shares with police is ticked once.
	_, _ = svc.Approve(actor("liu", "police"), permit.Approval{Application: a.ID, Item: "police", Outputs: map[string]permit.Value{"police-record": permit.Text("ZA-500103-77")}, Confirm: []string{"operator-identity", "floor-plan-matches"}})
	a, err = svc.Approve(actor("qian", "housing"), permit.Approval{Application: a.ID, Item: "housing", Outputs: map[string]permit.Value{"housing-ok": permit.Text("ZJ-2")}})
	fmt.Println(a.Status, err)
	// Output:
	// check floor-plan-matches [housing police]
	// check operator-identity  [police]
	// check extinguishers      [fire]
	// after police: in-review
	// event returned
	// after all three: returned
	// resubmit: permit: invalid form: room.extinguishers: not marked for correction; documents.floor-plan: marked for correction but not corrected
	//   housing in-review (round 2)
	//   police  in-review (round 2)
	//   fire    approved (round 1)
	// event completed fire-ok=XF-1 housing-ok=ZJ-2 police-record=ZA-500103-77
	// completed <nil>
}

// S6: the road zipper. Gas, water and telecom each apply to dig Jianxin
// North Road in April; coordination finds they clash and proposes one
// joint excavation led by the gas company. Once dug, the road is protected
// by a moratorium, and only an emergency may open it.
func ExampleService_roadWorks() {
	cst := time.FixedZone("CST", 8*3600)
	clk := clock.NewManual(time.Date(2026, 3, 2, 10, 0, 0, 0, cst))
	net, _ := permit.NewNetwork([]permit.Segment{
		{ID: "jianxin-1", Name: "建新北路 1 段", Jurisdiction: "500105001", Line: geo.LineString{{Lat: 29.575, Lon: 106.530}, {Lat: 29.575, Lon: 106.532}}},
		{ID: "jianxin-lane", Name: "建新北路辅道", Jurisdiction: "500105001", Line: geo.LineString{{Lat: 29.5753, Lon: 106.5305}, {Lat: 29.5753, Lon: 106.5315}}},
	})
	svc, _ := permit.NewService(permit.Config{Authorizer: access.AllowAll(), Clock: clk, Network: net})
	defer svc.Shutdown()
	day := func(d, h int) time.Time { return time.Date(2026, 4, d, h, 0, 0, 0, cst) }
	apply := func(promoter, segment string, from, to int) permit.ExcavationReceipt {
		rec, err := svc.ApplyExcavation(actor(promoter+"-staff", promoter), permit.ExcavationRequest{
			Key: promoter + "-" + segment, Promoter: promoter, Segment: segment, Window: permit.Window{Start: day(from, 8), End: day(to, 18)}})
		if err != nil {
			fmt.Println(err)
		}
		return rec
	}
	apply("cq-gas", "jianxin-1", 1, 10)
	water := apply("cq-water", "jianxin-1", 20, 25)
	tel := apply("china-telecom", "jianxin-lane", 5, 8)
	fmt.Println("water clashes with", len(water.Clashes), "on file; telecom with", len(tel.Clashes))

	roads := actor("jb-roads", "jiangbei-roads")
	co, _ := svc.Coordinate(roads, permit.CoordinateRequest{Within: "500105"})
	j := co.Joints[0]
	fmt.Println("joint:", len(j.Members), "works of", j.Promoters, "led by", j.Lead, "on", j.Segments)
	j, _ = svc.AcceptJoint(roads, j.ID, j.Version)
	rep, _ := svc.Merged(roads, "500105", permit.Window{})
	fmt.Printf("merged %d of %d applications (%.0f%%), %d digs saved\n", rep.Merged, rep.Applications, rep.Share*100, rep.DigsSaved)

	_ = clk.Set(day(26, 10))
	_, _ = svc.CompleteJoint(actor("gas-staff", "cq-gas"), j.ID, time.Time{}, 0)
	_, err := svc.ApplyExcavation(actor("cq-water-staff", "cq-water"), permit.ExcavationRequest{
		Promoter: "cq-water", Segment: "jianxin-1", Window: permit.Window{Start: day(10, 8).AddDate(1, 0, 0), End: day(12, 18).AddDate(1, 0, 0)}})
	fmt.Println(err)
	burst, _ := svc.ApplyExcavation(actor("cq-water-staff", "cq-water"), permit.ExcavationRequest{
		Promoter: "cq-water", Segment: "jianxin-1", Emergency: true, Window: permit.Window{Start: day(26, 11), End: day(27, 11)}, Purpose: "爆管抢修"})
	fmt.Println("emergency:", burst.Excavation.Status)
	// Output:
	// water clashes with 1 on file; telecom with 2
	// joint: 3 works of [china-telecom cq-gas cq-water] led by cq-gas on [jianxin-1 jianxin-lane]
	// merged 3 of 3 applications (100%), 2 digs saved
	// permit: segment jianxin-1 is under a moratorium until 2029-04-26T02:00:00Z (works); only emergency works may dig
	// emergency: applied
}
