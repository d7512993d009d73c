package permit_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/apd/v3"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/clock"
	"github.com/govkit/govkit/permit"
	"github.com/govkit/govkit/pii"
	"github.com/govkit/govkit/region"
	"github.com/stretchr/testify/require"
)

const policyJSON = `{"version": 1, "roles": {
  "citizen":  [{"action": "apply", "resource": "permit-application", "own_only": true},
               {"action": "read", "resource": "permit-application", "own_only": true},
               {"action": "read", "resource": "permit-template"}],
  "reviewer": [{"action": "review", "resource": "permit-application", "same_department": true},
               {"action": "read", "resource": "permit-application", "same_department": true}],
  "admin":    [{"action": "publish-template", "resource": "permit-template"},
               {"action": "read", "resource": "permit-template"}],
  "promoter": [{"action": "apply-works", "resource": "road-works", "same_department": true},
               {"action": "complete-works", "resource": "road-works", "same_department": true},
               {"action": "read", "resource": "road-works"}],
  "coordinator": [{"action": "coordinate", "resource": "road-works"}, {"action": "read", "resource": "road-works"}]
}}`

// Yuzhong district (500103) and its Jiefangbei street (500103001);
// Jiulongpo (500107) is the district next door.
const (
	yuzhong    = "500103"
	jiefangbei = "500103001"
	jiulongpo  = "500107"
)

var (
	admin      = access.Actor{ID: "admin-cq", Kind: access.CityStaff, Scope: "500000", Roles: []string{"admin"}}
	liXing     = access.Actor{ID: "li-xing", Kind: access.Citizen, Scope: "500000", Roles: []string{"citizen"}}
	wangFang   = access.Actor{ID: "wang-fang", Kind: access.Citizen, Scope: "500000", Roles: []string{"citizen"}}
	jlpCitizen = access.Actor{ID: "zhao-min", Kind: access.Citizen, Scope: jiulongpo, Roles: []string{"citizen"}}
	health     = reviewer("yz-health-chen", "health-commission", yuzhong)
	police     = reviewer("yz-police-liu", "public-security", yuzhong)
	jlpPolice  = reviewer("jlp-police-he", "public-security", jiulongpo)
	medins     = reviewer("yz-medins-sun", "healthcare-security", yuzhong)
	hrss       = reviewer("yz-hrss-zhou", "hrss", yuzhong)
	cdc        = reviewer("yz-cdc-wu", "cdc", yuzhong)
	housing    = reviewer("yz-housing-qian", "housing-committee", yuzhong)
	fire       = reviewer("yz-fire-zheng", "fire-rescue", yuzhong)
	// A police officer applying for her own newborn.
	policeParent = access.Actor{ID: "yz-police-liu", Kind: access.DepartmentHandler, Department: "public-security", Scope: "500000", Roles: []string{"citizen", "reviewer"}}
)

func reviewer(id, dept, scope string) access.Actor {
	return access.Actor{ID: id, Kind: access.DepartmentHandler, Department: dept, Scope: region.Code(scope), Roles: []string{"reviewer"}}
}

func as(a access.Actor) context.Context { return access.WithActor(context.Background(), a) }

// monday10 is a working Monday morning in Chongqing.
var monday10 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))

// idNumber completes 17 digits with the GB 11643 check character.
func idNumber(first17 string) string {
	w := []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i := range 17 {
		sum += int(first17[i]-'0') * w[i]
	}
	return first17 + string("10X98765432"[sum%11])
}

func mustName(t testing.TB, s string) pii.Data {
	d, err := pii.NewName(s)
	require.NoError(t, err)
	return d
}

func doc(name string) permit.Document {
	h := sha256.Sum256([]byte(name))
	return permit.Document{URI: "https://docs.example.gov.cn/" + name, SHA256: hex.EncodeToString(h[:]), Name: name + ".pdf"}
}

// capture is a synchronous publisher that keeps what it is sent.
type capture struct {
	mu   sync.Mutex
	msgs []bus.Message
}

func (c *capture) Publish(_ context.Context, m bus.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.msgs = append(c.msgs, m)
	return nil
}

func (c *capture) events(t testing.TB) []permit.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []permit.Event
	for _, m := range c.msgs {
		e, err := permit.DecodeEvent(m)
		require.NoError(t, err)
		out = append(out, e)
	}
	return out
}

func (c *capture) names(t testing.TB) []string {
	var out []string
	for _, e := range c.events(t) {
		name := e.Event
		if e.Item != "" {
			name += ":" + e.Item
		}
		out = append(out, name)
	}
	return out
}

func (c *capture) reset() {
	c.mu.Lock()
	c.msgs = nil
	c.mu.Unlock()
}

// hukouRegistry is a fake household-registration registry that counts
// its lookups.
type hukouRegistry struct {
	mu      sync.Mutex
	queries []permit.LookupQuery
}

func (h *hukouRegistry) Lookup(_ context.Context, q permit.LookupQuery) ([]permit.Prefill, error) {
	h.mu.Lock()
	h.queries = append(h.queries, q)
	h.mu.Unlock()
	out := []permit.Prefill{
		{Field: "mother.name", Values: []permit.Value{permit.Text("李红")}},
		{Field: "mother.id-number", Values: []permit.Value{permit.Text(idNumber("50010319900101002"))}},
		{Field: "household.address", Values: []permit.Value{
			permit.Text("重庆市渝中区解放碑街道民族路1号"), permit.Text("重庆市渝中区解放碑街道邹容路2号"),
		}},
		{Field: "child.sex", Values: []permit.Value{permit.Text("unknown-sex")}}, // not this source's field
		{Field: "father.id-number", Values: []permit.Value{permit.Text("123")}},  // invalid: dropped
	}
	return out, nil
}

func (h *hukouRegistry) calls() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.queries)
}

func newbornTemplate() permit.Template {
	return permit.Template{
		ID: "newborn", Version: 1, Name: "新生儿出生一件事", Jurisdiction: "500000", Owner: "gov-service-centre",
		SLA: permit.Days(5),
		Fields: []permit.Field{
			{ID: "mother.name", Label: "母亲姓名", Kind: permit.NameField, Source: "hukou"},
			{ID: "mother.id-number", Label: "母亲身份证号", Kind: permit.IDNumberField, Source: "hukou"},
			{ID: "father.name", Label: "父亲姓名", Kind: permit.NameField, Source: "hukou"},
			{ID: "father.id-number", Label: "父亲身份证号", Kind: permit.IDNumberField, Source: "hukou"},
			{ID: "child.name", Label: "新生儿姓名", Kind: permit.NameField},
			{ID: "child.sex", Label: "性别", Kind: permit.ChoiceField, Choices: []permit.Choice{{Value: "male", Label: "男"}, {Value: "female", Label: "女"}}},
			{ID: "child.birth-date", Label: "出生日期", Kind: permit.DateField},
			{ID: "birth.hospital", Label: "出生医院", Kind: permit.TextField, MaxLen: 100},
			{ID: "household.address", Label: "户籍地址", Kind: permit.AddressField, Source: "hukou"},
			{ID: "contact.phone", Label: "联系电话", Kind: permit.PhoneField},
			{ID: "insurance.plan", Label: "参保类型", Kind: permit.ChoiceField, Choices: []permit.Choice{{Value: "resident", Label: "城乡居民医保"}}},
			{ID: "card.bank", Label: "社保卡银行", Kind: permit.ChoiceField, Choices: []permit.Choice{{Value: "icbc", Label: "工商银行"}, {Value: "cq-rural", Label: "重庆农商行"}}},
			{ID: "delivery.address", Label: "邮寄地址", Kind: permit.AddressField, Source: "hukou"},
		},
		Documents: []permit.DocumentSpec{
			{ID: "birth-medical-certificate", Name: "出生医学证明"},
			{ID: "marriage-certificate", Name: "结婚证"},
			{ID: "child-photo", Name: "新生儿照片", Optional: true},
		},
		Items: []permit.Item{
			{ID: "birth-service", Name: "生育服务证登记", Department: "health-commission", SLA: permit.Days(2),
				Fields:    []string{"mother.name", "mother.id-number", "father.name", "father.id-number", "child.birth-date", "birth.hospital", "contact.phone"},
				Documents: []string{"marriage-certificate", "birth-medical-certificate"},
				Outputs:   []permit.Output{{ID: "birth-service-no", Name: "生育服务证编号"}},
				Checklist: []permit.Check{{ID: "marriage-verified", Text: "婚姻状况已核验"}}},
			{ID: "hukou", Name: "新生儿户口登记", Department: "public-security", SLA: permit.Days(2),
				Fields:    []string{"child.name", "child.sex", "child.birth-date", "mother.name", "mother.id-number", "household.address"},
				Documents: []string{"birth-medical-certificate"},
				Outputs:   []permit.Output{{ID: "child-id-number", Name: "公民身份号码", Kind: permit.IDNumberField}}},
			{ID: "medical-insurance", Name: "医保参保登记", Department: "healthcare-security", SLA: permit.Days(1),
				Fields: []string{"child.name", "insurance.plan", "contact.phone"}, Needs: []string{"child-id-number"},
				Outputs: []permit.Output{{ID: "insurance-no", Name: "参保编号"}}},
			{ID: "social-security-card", Name: "社保卡申领", Department: "hrss", SLA: permit.Days(3),
				Fields: []string{"child.name", "card.bank", "delivery.address"}, Documents: []string{"child-photo"},
				Needs: []string{"child-id-number"}, Outputs: []permit.Output{{ID: "card-no", Name: "社保卡号"}},
				Fee: mustFee("12.50")}, // a card with the photo printed, say
			{ID: "vaccination", Name: "预防接种查询", Department: "cdc", SLA: permit.Days(1), Optional: true,
				Fields: []string{"child.name", "child.birth-date", "birth.hospital"}, Outputs: []permit.Output{{ID: "vaccination-record", Name: "预防接种记录"}}},
		},
		Proxies: []string{"guardian", "grandparent"},
	}
}

func rentalTemplate() permit.Template {
	return permit.Template{
		ID: "rental-room", Version: 1, Name: "网约房房源登记", Jurisdiction: yuzhong, Owner: "yz-admin-service",
		Fields: []permit.Field{
			{ID: "operator.name", Label: "经营者姓名", Kind: permit.NameField},
			{ID: "operator.id-number", Label: "经营者身份证号", Kind: permit.IDNumberField},
			{ID: "operator.phone", Label: "联系电话", Kind: permit.PhoneField},
			{ID: "room.address", Label: "房源地址", Kind: permit.AddressField},
			{ID: "room.floor", Label: "楼层", Kind: permit.NumberField},
			{ID: "room.beds", Label: "床位数", Kind: permit.NumberField},
			{ID: "room.extinguishers", Label: "灭火器", Kind: permit.ChoiceField, Choices: []permit.Choice{{Value: "0", Label: "无"}, {Value: "1", Label: "1个"}, {Value: "2+", Label: "2个及以上"}}},
			{ID: "room.smoke-detector", Label: "烟感报警器", Kind: permit.BoolField},
		},
		Documents: []permit.DocumentSpec{{ID: "floor-plan", Name: "房间平面图"}, {ID: "property-certificate", Name: "产权证明"}},
		Items: []permit.Item{
			{ID: "housing", Name: "住建审核", Department: "housing-committee", SLA: permit.Days(3), Joint: "rental-room",
				Fields: []string{"room.address", "room.floor", "operator.name"}, Documents: []string{"property-certificate"},
				Outputs:   []permit.Output{{ID: "housing-check", Name: "住建审核意见"}},
				Checklist: []permit.Check{{ID: "property-verified", Text: "产权已核验"}, {ID: "floor-plan-matches", Text: "平面图与现场一致"}}},
			{ID: "police", Name: "公安审核", Department: "public-security", SLA: permit.Days(3), Joint: "rental-room",
				Fields:    []string{"operator.name", "operator.id-number", "operator.phone", "room.address", "room.beds"},
				Documents: []string{"floor-plan"}, Outputs: []permit.Output{{ID: "police-record", Name: "治安登记号"}},
				Checklist: []permit.Check{{ID: "operator-identity", Text: "经营者身份已核验"}, {ID: "floor-plan-matches", Text: "平面图与现场一致"}}},
			{ID: "fire", Name: "消防审核", Department: "fire-rescue", SLA: permit.Days(3), Joint: "rental-room",
				Fields: []string{"room.address", "room.extinguishers", "room.smoke-detector"}, Documents: []string{"floor-plan"},
				Outputs:   []permit.Output{{ID: "fire-check", Name: "消防检查记录"}},
				Checklist: []permit.Check{{ID: "fire-exits", Text: "疏散通道畅通"}, {ID: "extinguishers", Text: "灭火器配置达标"}}},
		},
	}
}

type fixture struct {
	svc   *permit.Service
	store *permit.MemoryStore
	clk   *clock.Manual
	pub   *capture
	hukou *hukouRegistry
}

func newFixture(t *testing.T, mods ...func(*permit.Config)) *fixture {
	t.Helper()
	pol, err := access.ParsePolicy([]byte(policyJSON))
	require.NoError(t, err)
	f := &fixture{store: permit.NewMemoryStore(), clk: clock.NewManual(monday10), pub: &capture{}, hukou: &hukouRegistry{}}
	cfg := permit.Config{
		Store: f.store, Authorizer: pol, Bus: f.pub, Clock: f.clk,
		Lookups: map[string]permit.Lookup{"hukou": f.hukou},
	}
	for _, m := range mods {
		m(&cfg)
	}
	f.svc, err = permit.NewService(cfg)
	require.NoError(t, err)
	t.Cleanup(f.svc.Shutdown)
	for _, tpl := range []permit.Template{newbornTemplate(), rentalTemplate()} {
		_, err := f.svc.PublishTemplate(as(admin), tpl)
		require.NoError(t, err)
	}
	f.pub.reset()
	return f
}

// newbornAnswers is a complete newborn form, but for documents.
func newbornAnswers(t testing.TB) map[string]permit.Value {
	return map[string]permit.Value{
		"mother.name": permit.Text("李红"), "mother.id-number": permit.Text(idNumber("50010319900101002")),
		"father.name": permit.Text("李兴"), "father.id-number": permit.Text(idNumber("50010319880202003")),
		"child.name": permit.Text("李小满"), "child.sex": permit.Text("female"), "child.birth-date": permit.Text("2026-02-27"),
		"birth.hospital": permit.Text("重庆市妇幼保健院"), "household.address": permit.Text("重庆市渝中区解放碑街道民族路1号"),
		"contact.phone": permit.Text("13812345678"), "insurance.plan": permit.Text("resident"), "card.bank": permit.Text("icbc"),
		"delivery.address": permit.Text("重庆市渝中区解放碑街道民族路1号"),
	}
}

func newbornDocs() map[string]permit.Document {
	return map[string]permit.Document{"birth-medical-certificate": doc("birth-medical-certificate"), "marriage-certificate": doc("marriage-certificate")}
}

// submitNewborn starts, fills and submits a newborn application as Li Xing.
func (f *fixture) submitNewborn(t *testing.T) permit.Application {
	t.Helper()
	ctx := as(liXing)
	a, err := f.svc.Start(ctx, permit.StartRequest{Template: "newborn", Jurisdiction: jiefangbei})
	require.NoError(t, err)
	_, err = f.svc.Fill(ctx, permit.FillRequest{Application: a.ID, Answers: newbornAnswers(t), Documents: newbornDocs()})
	require.NoError(t, err)
	a, err = f.svc.Submit(ctx, permit.SubmitRequest{Application: a.ID})
	require.NoError(t, err)
	return a
}

func rentalAnswers() map[string]permit.Value {
	return map[string]permit.Value{
		"operator.name": permit.Text("王芳"), "operator.id-number": permit.Text(idNumber("50010319850505004")),
		"operator.phone": permit.Text("13900001111"), "room.address": permit.Text("重庆市渝中区解放碑街道八一路9号1203室"),
		"room.floor": permit.Text("12"), "room.beds": permit.Text("2"), "room.extinguishers": permit.Text("1"),
		"room.smoke-detector": permit.Text("true"),
	}
}

func (f *fixture) submitRental(t *testing.T) permit.Application {
	t.Helper()
	ctx := as(wangFang)
	a, err := f.svc.Start(ctx, permit.StartRequest{Template: "rental-room", Jurisdiction: jiefangbei})
	require.NoError(t, err)
	_, err = f.svc.Fill(ctx, permit.FillRequest{Application: a.ID, Answers: rentalAnswers(),
		Documents: map[string]permit.Document{"floor-plan": doc("floor-plan"), "property-certificate": doc("property-certificate")}})
	require.NoError(t, err)
	a, err = f.svc.Submit(ctx, permit.SubmitRequest{Application: a.ID})
	require.NoError(t, err)
	return a
}

func itemOf(t testing.TB, a permit.Application, id string) permit.ItemState {
	t.Helper()
	for _, it := range a.Items {
		if it.Item == id {
			return it
		}
	}
	t.Fatalf("no item %s", id)
	return permit.ItemState{}
}

func statuses(a permit.Application) map[string]string {
	out := map[string]string{}
	for _, it := range a.Items {
		out[it.Item] = it.Status.String()
	}
	return out
}

func actions(a permit.Application) []string {
	var out []string
	for _, s := range a.History {
		x := s.Action
		if s.Item != "" {
			x += ":" + s.Item
		}
		out = append(out, x)
	}
	return out
}

func containsInOrder(have []string, want ...string) bool {
	i := 0
	for _, h := range have {
		if i < len(want) && h == want[i] {
			i++
		}
	}
	return i == len(want)
}

func idValue(t testing.TB, first17 string) permit.Value {
	d, err := pii.NewIDNumber(idNumber(first17))
	require.NoError(t, err)
	return permit.Personal(d)
}

func (f *fixture) approve(t *testing.T, who access.Actor, a permit.Application, item string, outputs map[string]permit.Value, confirm ...string) permit.Application {
	t.Helper()
	got, err := f.svc.Approve(as(who), permit.Approval{Application: a.ID, Item: item, Outputs: outputs, Confirm: confirm})
	require.NoError(t, err, "approve %s", item)
	return got
}

func (f *fixture) svcAuthorizer(t testing.TB) access.Authorizer {
	pol, err := access.ParsePolicy([]byte(policyJSON))
	require.NoError(t, err)
	return pol
}

func regionOf(s string) region.Code { return region.Code(s) }

func mustFee(s string) *apd.Decimal {
	d, _, err := apd.NewFromString(s)
	if err != nil {
		panic(err)
	}
	return d
}
