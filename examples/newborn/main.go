// Command newborn runs S19, the newborn "one thing" bundle (新生儿出生一件事)
// of Chongqing, on govkit's embedded defaults: a father in Jiefangbei
// street, Yuzhong district, applies once for the birth-service
// certificate, household registration (hukou), medical insurance, the
// social-security card and the vaccination record.
//
//   - The form is filled once: after he consents, the household registry
//     and the birth-certificate system prefill what they already hold;
//     nothing is asked of a registry before consent.
//   - The departments review in parallel where they can and in order where
//     they must: medical insurance and the social-security card need the
//     child's ID number, which household registration produces.
//   - The police send the hukou item back with one marked field (the
//     child's name does not match the birth certificate); he corrects that
//     field only, and the item is reviewed again.
//   - While it runs, his tracking page shows who holds each item, the
//     deadlines, the expected finish and the fees; when the last item is
//     approved every output is issued together in one "completed" event,
//     which the service centre's delivery desk receives from the bus.
//
// Run it with
//
//	go run ./examples/newborn
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/google/uuid"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/clock"
	"github.com/govkit/govkit/permit"
)

func main() {
	if _, err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "newborn:", err)
		os.Exit(1)
	}
}

// policy: citizens apply for and read their own applications, each
// department reviews and reads only its own items (within Yuzhong), the
// city's service centre publishes bundles. Everything else is denied.
const policy = `{"version": 1, "roles": {
  "citizen":  [{"action": "apply", "resource": "permit-application", "own_only": true},
               {"action": "read", "resource": "permit-application", "own_only": true}],
  "reviewer": [{"action": "review", "resource": "permit-application", "same_department": true},
               {"action": "read", "resource": "permit-application", "same_department": true}],
  "admin":    [{"action": "publish-template", "resource": "permit-template"}]}}`

var (
	admin = access.Actor{ID: "cq-service-centre", Kind: access.CityStaff, Department: "gov-service-centre", Scope: "500000", Roles: []string{"admin"}}
	// Wang Lei, the father, by his pseudonymous id.
	father = access.Actor{ID: "citizen-3c81d2", Kind: access.Citizen, Scope: "500000", Roles: []string{"citizen"}}
)

func reviewer(id, dept string) context.Context {
	return access.WithActor(context.Background(), access.Actor{ID: id, Kind: access.DepartmentHandler, Department: dept, Scope: "500103", Roles: []string{"reviewer"}})
}

// registry is a government registry that answers lookups for the fields
// it holds and counts how often it is asked.
type registry struct {
	mu    sync.Mutex
	calls int
	holds map[string][]permit.Value
}

func (r *registry) Lookup(_ context.Context, q permit.LookupQuery) ([]permit.Prefill, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	var out []permit.Prefill
	for _, f := range q.Fields {
		if v, ok := r.holds[f]; ok {
			out = append(out, permit.Prefill{Field: f, Values: v})
		}
	}
	return out, nil
}

func (r *registry) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls
}

// Result is what the scenario produced, for its test.
type Result struct {
	Application uuid.UUID
	Stages      [][]string
	// Lookups counts registry calls before and after consent.
	LookupsBeforeConsent, LookupsAfterConsent int
	Offered                                   []string // fields offered for prefill, sorted
	// Returned is the father's tracking page while the hukou item was
	// sent back to him; Final the application when done.
	Returned  permit.Tracking
	Final     permit.Application
	Completed []permit.Event // "completed" events the delivery desk received
}

func run(ctx context.Context, out io.Writer) (Result, error) {
	var res Result
	cst := time.FixedZone("CST", 8*3600)
	clk := clock.NewManual(time.Date(2026, 3, 2, 9, 0, 0, 0, cst)) // Monday
	pol, err := access.ParsePolicy([]byte(policy))
	if err != nil {
		return res, err
	}
	b, err := bus.NewMemory(bus.MemoryOptions{})
	if err != nil {
		return res, err
	}
	defer b.Close()

	hukouRegistry := &registry{holds: map[string][]permit.Value{
		"mother.name": {permit.Text("陈静")}, "mother.id-number": {permit.Text("50010319920315002X")},
		"father.name": {permit.Text("王磊")}, "father.id-number": {permit.Text("500103199008080011")},
		// Two registered addresses: offered as a choice.
		"household.address": {permit.Text("重庆市渝中区解放碑街道民族路166号"), permit.Text("重庆市渝中区解放碑街道邹容路68号")},
	}}
	birthCerts := &registry{holds: map[string][]permit.Value{
		"child.birth-date": {permit.Text("2026-02-27")}, "child.sex": {permit.Text("female")},
		"birth.hospital": {permit.Text("重庆市妇幼保健院")},
	}}
	svc, err := permit.NewService(permit.Config{
		Authorizer: pol, Bus: b, Clock: clk,
		Lookups: map[string]permit.Lookup{"hukou": hukouRegistry, "birth-cert": birthCerts},
	})
	if err != nil {
		return res, err
	}
	defer svc.Shutdown()
	tpl, err := svc.PublishTemplate(access.WithActor(ctx, admin), newbornBundle())
	if err != nil {
		return res, err
	}
	if res.Stages, err = tpl.Stages(); err != nil {
		return res, err
	}
	fields, _, _ := tpl.Form()
	fmt.Fprintf(out, "bundle %s: %d items on one form of %d fields; stages %v\n", tpl.Name, len(tpl.Items), len(fields), res.Stages)

	// The service centre's delivery desk sends the certificates and cards
	// out when the bundle completes: all outputs in one event.
	var mu sync.Mutex
	_, err = b.Subscribe(ctx, "gov.500000.*.*.permit.completed", "delivery-desk", func(_ context.Context, m bus.Message) error {
		e, err := permit.DecodeEvent(m)
		if err != nil {
			return nil
		}
		mu.Lock()
		res.Completed = append(res.Completed, e)
		mu.Unlock()
		return nil
	})
	if err != nil {
		return res, err
	}

	// 1. The father starts the application; no registry has been asked.
	me := access.WithActor(ctx, father)
	a, err := svc.Start(me, permit.StartRequest{Key: "citizen-3c81d2-newborn-1", Template: "newborn", Jurisdiction: "500103001"})
	if err != nil {
		return res, err
	}
	res.Application = a.ID
	res.LookupsBeforeConsent = hukouRegistry.count() + birthCerts.count()

	// 2. He consents to two registries; their values are offered, shown
	// masked, and used only as he accepts them.
	if a, err = svc.Prefill(me, permit.PrefillRequest{Application: a.ID, Sources: []string{"hukou", "birth-cert"}, Key: "consent-1"}); err != nil {
		return res, err
	}
	res.LookupsAfterConsent = hukouRegistry.count() + birthCerts.count()
	accept := map[string]int{}
	for f := range a.Offers {
		res.Offered = append(res.Offered, f)
		accept[f] = 0
	}
	slices.Sort(res.Offered)
	accept["household.address"] = 1 // of his two registered addresses, the family lives at the second
	fmt.Fprintf(out, "lookups before consent: %d; after: %d, offering %d fields: %s\n",
		res.LookupsBeforeConsent, res.LookupsAfterConsent, len(res.Offered), strings.Join(res.Offered, ", "))
	_, err = svc.Fill(me, permit.FillRequest{Application: a.ID, Accept: accept,
		Answers: map[string]permit.Value{
			"child.name":    permit.Text("王小蔓"), // a slip: the birth certificate says 王小满
			"contact.phone": permit.Text("13908361234"), "insurance.plan": permit.Text("resident"), "card.bank": permit.Text("cq-rural"),
		},
		Documents: map[string]permit.Document{"birth-medical-certificate": document("birth-medical-certificate"), "marriage-certificate": document("marriage-certificate")}})
	if err != nil {
		return res, err
	}
	if a, err = svc.Submit(me, permit.SubmitRequest{Application: a.ID}); err != nil {
		return res, err
	}
	fmt.Fprintf(out, "submitted %s:", clk.Now().Format("Mon 2 Jan 15:04"))
	for _, it := range a.Items {
		fmt.Fprintf(out, " %s=%s", it.Item, it.Status)
	}
	fmt.Fprintln(out)

	// 3. Review in parallel. The police send hukou back: one marked field.
	clk.Advance(2 * time.Hour)
	if _, err = svc.SendBack(reviewer("yz-police-liu", "public-security"), permit.SendBackRequest{Application: a.ID, Item: "hukou",
		Marks: map[string]string{"child.name": "与出生医学证明姓名不一致"}}); err != nil {
		return res, err
	}
	if _, err = svc.Approve(reviewer("yz-health-chen", "health-commission"), permit.Approval{Application: a.ID, Item: "birth-service",
		Outputs: map[string]permit.Value{"birth-service-no": permit.Text("SF-500103-2026-0311")}, Confirm: []string{"marriage-verified"}}); err != nil {
		return res, err
	}
	if res.Returned, err = svc.Track(me, a.ID); err != nil {
		return res, err
	}
	track(out, clk.Now(), res.Returned)

	// 4. He corrects the marked field, and nothing else.
	clk.Advance(time.Hour)
	if _, err = svc.Resubmit(me, permit.Resubmission{Application: a.ID, Answers: map[string]permit.Value{"child.name": permit.Text("王小满")}}); err != nil {
		return res, err
	}
	fmt.Fprintln(out, "corrected child.name and resubmitted")

	// 5. The rest of the reviews: hukou gives the child's ID number, which
	// insurance and the card were waiting for.
	for _, r := range []struct {
		who, dept, item, output, value string
	}{
		{"yz-cdc-wu", "cdc", "vaccination", "vaccination-record", "YM-500103-2026-0227-07"},
		{"yz-police-liu", "public-security", "hukou", "child-id-number", "500103202602270023"},
		{"yz-medins-sun", "healthcare-security", "medical-insurance", "insurance-no", "YB-500103-26-001187"},
		{"yz-hrss-zhou", "hrss", "social-security-card", "card-no", "SB-500103-26-004521"},
	} {
		clk.Advance(time.Hour)
		if a, err = svc.Approve(reviewer(r.who, r.dept), permit.Approval{Application: a.ID, Item: r.item,
			Outputs: map[string]permit.Value{r.output: permit.Text(r.value)}}); err != nil {
			return res, fmt.Errorf("%s: %w", r.item, err)
		}
	}
	if err := settle(ctx, b); err != nil {
		return res, err
	}
	res.Final = a
	mu.Lock()
	defer mu.Unlock()
	if len(res.Completed) != 1 {
		return res, errors.New("the delivery desk did not receive the completed bundle")
	}
	done := res.Completed[0]
	keys := make([]string, 0, len(done.Outputs))
	for k := range done.Outputs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	fmt.Fprintf(out, "%s at %s, issued together:\n", a.Status, a.Finished.In(cst).Format("Mon 2 Jan 15:04"))
	for _, k := range keys {
		fmt.Fprintf(out, "  %-20s %s\n", k, done.Outputs[k])
	}
	fmt.Fprintf(out, "newborn bundle %s: %d outputs in one event, %d correction, %d registry lookups\n",
		a.Status, len(done.Outputs), len(a.Corrections), res.LookupsAfterConsent)
	return res, nil
}

// track prints the applicant's view: who holds each item, until when.
func track(out io.Writer, now time.Time, t permit.Tracking) {
	loc := now.Location()
	fmt.Fprintf(out, "tracking at %s: %s, expected by %s, fees ¥%s\n",
		now.Format("Mon 15:04"), t.Status, t.ExpectedFinish.In(loc).Format("Mon 2 Jan 15:04"), t.Fees.Text('f'))
	for _, it := range t.Items {
		held := it.HeldBy
		switch {
		case it.Status.Done():
			held = "done"
		case len(it.WaitingFor) > 0:
			held = "waiting for " + strings.Join(it.WaitingFor, ", ")
		}
		due := "-"
		if !it.Deadline.IsZero() && !it.Status.Done() {
			due = it.Deadline.In(loc).Format("Mon 2 Jan 15:04")
		}
		fmt.Fprintf(out, "  %-21s %-10s %-28s due %-16s expected %s\n", it.Item, it.Status, held, due, it.Expected.In(loc).Format("Mon 2 Jan 15:04"))
	}
	if c := t.Correction; c != nil {
		for _, m := range c.Marks {
			fmt.Fprintf(out, "  to correct: %s (%s: %s)\n", m.Field, m.Item, m.Reason)
		}
	}
}

// newbornBundle is the city's newborn bundle: five departments' items on
// one form.
func newbornBundle() permit.Template {
	return permit.Template{
		ID: "newborn", Version: 1, Name: "新生儿出生一件事", Jurisdiction: "500000", Owner: "gov-service-centre", SLA: permit.Days(5),
		Fields: []permit.Field{
			{ID: "mother.name", Label: "母亲姓名", Kind: permit.NameField, Source: "hukou"},
			{ID: "mother.id-number", Label: "母亲身份证号", Kind: permit.IDNumberField, Source: "hukou"},
			{ID: "father.name", Label: "父亲姓名", Kind: permit.NameField, Source: "hukou"},
			{ID: "father.id-number", Label: "父亲身份证号", Kind: permit.IDNumberField, Source: "hukou"},
			{ID: "household.address", Label: "户籍地址", Kind: permit.AddressField, Source: "hukou"},
			{ID: "child.name", Label: "新生儿姓名", Kind: permit.NameField},
			{ID: "child.sex", Label: "性别", Kind: permit.ChoiceField, Source: "birth-cert", Choices: []permit.Choice{{Value: "male", Label: "男"}, {Value: "female", Label: "女"}}},
			{ID: "child.birth-date", Label: "出生日期", Kind: permit.DateField, Source: "birth-cert"},
			{ID: "birth.hospital", Label: "出生医院", Kind: permit.TextField, MaxLen: 100, Source: "birth-cert"},
			{ID: "contact.phone", Label: "联系电话", Kind: permit.PhoneField},
			{ID: "insurance.plan", Label: "参保类型", Kind: permit.ChoiceField, Choices: []permit.Choice{{Value: "resident", Label: "城乡居民医保"}}},
			{ID: "card.bank", Label: "社保卡银行", Kind: permit.ChoiceField, Choices: []permit.Choice{{Value: "icbc", Label: "工商银行"}, {Value: "cq-rural", Label: "重庆农商行"}}},
		},
		Documents: []permit.DocumentSpec{{ID: "birth-medical-certificate", Name: "出生医学证明"}, {ID: "marriage-certificate", Name: "结婚证"}},
		Items: []permit.Item{
			{ID: "birth-service", Name: "生育服务登记", Department: "health-commission", SLA: permit.Days(2),
				Fields:    []string{"mother.name", "mother.id-number", "father.name", "father.id-number", "child.birth-date", "birth.hospital", "contact.phone"},
				Documents: []string{"marriage-certificate", "birth-medical-certificate"},
				Outputs:   []permit.Output{{ID: "birth-service-no", Name: "生育服务登记号"}},
				Checklist: []permit.Check{{ID: "marriage-verified", Text: "婚姻状况已核验"}}},
			{ID: "hukou", Name: "出生登记（户口）", Department: "public-security", SLA: permit.Days(2),
				Fields:    []string{"child.name", "child.sex", "child.birth-date", "mother.name", "mother.id-number", "household.address"},
				Documents: []string{"birth-medical-certificate"},
				Outputs:   []permit.Output{{ID: "child-id-number", Name: "公民身份号码", Kind: permit.IDNumberField}}},
			{ID: "medical-insurance", Name: "城乡居民医保参保", Department: "healthcare-security", SLA: permit.Days(1),
				Fields: []string{"child.name", "insurance.plan", "contact.phone"}, Needs: []string{"child-id-number"},
				Outputs: []permit.Output{{ID: "insurance-no", Name: "参保编号"}}},
			{ID: "social-security-card", Name: "社保卡申领", Department: "hrss", SLA: permit.Days(3),
				Fields: []string{"child.name", "card.bank", "household.address"}, Needs: []string{"child-id-number"},
				Outputs: []permit.Output{{ID: "card-no", Name: "社保卡号"}},
				Fee:     apd.New(1000, -2)}, // ¥10.00 to post the card home
			{ID: "vaccination", Name: "预防接种证办理", Department: "cdc", SLA: permit.Days(1), Optional: true,
				Fields: []string{"child.name", "child.birth-date", "birth.hospital"}, Outputs: []permit.Output{{ID: "vaccination-record", Name: "预防接种证编号"}}},
		},
	}
}

// document is a scan in the document store, fixed by its hash.
func document(name string) permit.Document {
	h := sha256.Sum256([]byte(name))
	return permit.Document{URI: "https://docs.cq.example.gov.cn/" + name, SHA256: hex.EncodeToString(h[:]), Name: name + ".pdf"}
}

// settle waits until every handler has acknowledged what the bus holds;
// a handler that keeps failing fails the run instead of hanging it.
func settle(ctx context.Context, b *bus.Memory) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return b.Drain(ctx)
}
