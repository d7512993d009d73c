package dispatchtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/dispatch"
	"github.com/govkit/govkit/region"
)

// base is 08:35:12.345678 on a working Tuesday in Chongqing (UTC+8), in
// UTC at microsecond precision, as the dispatch service stores times.
var base = time.Date(2024, time.March, 5, 0, 35, 12, 345678000, time.UTC)

// Grids of the fixtures: two in one community of Yangjiaping street
// (Jiulongpo), one in another street of Jiulongpo, one in Yuzhong, one in
// Nan'an, and one in Chengdu's Jinniu district, outside Chongqing.
const (
	gridYJP3    = "500107001002003"
	gridYJP4    = "500107001002004"
	gridXJP     = "500107002001001"
	gridJFB     = "500103001001001"
	gridNanan   = "500108003002001"
	gridChengdu = "510106001001001"
)

// Bodies of the fixtures.
const (
	jlpUrban   = "jlp-urban-mgmt"
	jlpWater   = "jlp-water-affairs"
	yzUrban    = "yz-urban-mgmt"
	volunteers = "jlp-volunteer-team-3"
)

func newID(t testing.TB) uuid.UUID {
	t.Helper()
	id, err := uuid.NewV7()
	if err != nil {
		t.Fatalf("uuid.NewV7: %v", err)
	}
	return id
}

// pathOf returns the path from the province-level unit down to code:
// 500107001002003 → 500000, 500107, 500107001, 500107001002,
// 500107001002003. Districts of Chongqing sit directly under 500000;
// those of a province sit under their city (510106 under 510100).
func pathOf(code string) []region.Code {
	province := code[:2] + "0000"
	path := []region.Code{region.Code(province)}
	if city := code[:4] + "00"; code[:2] != "50" && city != province {
		path = append(path, region.Code(city))
	}
	for n := 6; n <= len(code); n += 3 {
		path = append(path, region.Code(code[:n]))
	}
	return path
}

// newOrder returns a duty order offered to body at the given time for a
// case in grid, at Version 1, with its first history step.
func newOrder(t testing.TB, caseID, body, grid string, offered time.Time) dispatch.WorkOrder {
	t.Helper()
	o := dispatch.WorkOrder{
		ID: newID(t), Case: caseID, Category: "muck-truck-overload", Kind: dispatch.Duty,
		Body: body, Lead: true, Mandatory: true, Rule: "muck-truck/jiulongpo",
		Status: dispatch.Offered, Offered: offered,
		SignBy: offered.Add(30 * time.Minute), ReturnBy: offered.Add(2 * time.Hour), Deadline: offered.Add(24 * time.Hour),
		NextCheck: offered.Add(30 * time.Minute),
		History:   []dispatch.Step{{Time: offered, Actor: "jlp-centre-dispatcher-02", Action: "offer", To: dispatch.Offered, Note: "派单"}},
		Version:   1,
	}
	if grid != "" {
		o.Path = pathOf(grid)
	}
	return o
}

// newCase returns the case file of caseID for orders, at Version 1.
func newCase(caseID, grid string, orders ...dispatch.WorkOrder) dispatch.CaseFile {
	cf := dispatch.CaseFile{Case: caseID, Category: "muck-truck-overload", Path: pathOf(grid), Version: 1}
	for _, o := range orders {
		cf.Orders = append(cf.Orders, o.ID)
	}
	return cf
}

// fullOrder returns a work order with every field set, so that a round
// trip shows what a store drops. The values need not make sense together
// (a verified order with a pending extension); they must all come back.
func fullOrder(t testing.TB) dispatch.WorkOrder {
	t.Helper()
	return dispatch.WorkOrder{
		ID:        newID(t),
		Case:      "0190a1c2-7f3a-7c9e-8b1d-2f4e6a8c0b1d",
		Category:  "manhole-cover-missing",
		Path:      pathOf(gridYJP3),
		Kind:      dispatch.Volunteer,
		Body:      jlpWater,
		Responder: "jlp-water-inspector-李明",
		Branch:    2,
		Lead:      true,
		Mandatory: true,
		Binding:   true,
		Rule:      "manhole/jiulongpo/water",
		Playbook:  "flood-response/step-3",
		Status:    dispatch.Verified,
		Offered:   base,
		SignedAt:  base.Add(12 * time.Minute),
		StartedAt: base.Add(40 * time.Minute),
		DoneAt:    base.Add(3*time.Hour + 7*time.Microsecond),
		SignBy:    base.Add(30 * time.Minute),
		ReturnBy:  base.Add(2 * time.Hour),
		Deadline:  base.Add(26 * time.Hour),

		Suspended:       true,
		SuspendedAt:     base.Add(time.Hour),
		Reminders:       2,
		EscalationLevel: 1,
		EscalatedTo:     "500107",
		NextCheck:       base.Add(90 * time.Minute),
		ChaseUps:        3,
		Supervised:      true,
		SupervisedBy:    "cq-city-centre-督办-01",
		Extensions: []dispatch.Extension{
			{
				ID: newID(t), RequestedAt: base.Add(50 * time.Minute), RequestedBy: "jlp-water-inspector-李明",
				Extra: 4 * time.Hour, Reason: "需要吊车更换井盖", Decided: true, Approved: true,
				DecidedBy: "jlp-centre-chief", DecidedAt: base.Add(55 * time.Minute), Note: "同意延期",
			},
			{ID: newID(t), RequestedAt: base.Add(5 * time.Hour), RequestedBy: "jlp-water-inspector-李明", Extra: 30 * time.Minute, Reason: "雨天"},
		},
		Reworks: 1,
		Rating:  4,
		History: []dispatch.Step{
			{Time: base, Actor: "jlp-centre-dispatcher-02", Action: "offer", To: dispatch.Offered, Note: "派单"},
			{Time: base.Add(12 * time.Minute), Actor: "jlp-water-inspector-李明", Action: "sign-for", From: dispatch.Offered, To: dispatch.SignedFor},
			{Time: base.Add(3 * time.Hour), Actor: "jlp-water-inspector-李明", Action: "done", From: dispatch.InProgress, To: dispatch.Done, Note: "井盖已更换 \"quoted\" \\ 'single'"},
		},
		Version: 1,
	}
}

// fullCase returns a case file with every field set, its playbook run
// included.
func fullCase(t testing.TB, orders ...dispatch.WorkOrder) dispatch.CaseFile {
	t.Helper()
	cf := dispatch.CaseFile{
		Case:        "0190a1c2-7f3a-7c9e-8b1d-2f4e6a8c0b1d",
		Category:    "manhole-cover-missing",
		Path:        pathOf(gridYJP3),
		Orders:      []uuid.UUID{newID(t), newID(t)},
		Returns:     3,
		TimeLost:    5*time.Hour + 17*time.Minute,
		BindingUnit: "500107",
		Disposed:    true,
		DisposedAt:  base.Add(6 * time.Hour),
		Playbook: &dispatch.PlaybookRun{
			ID: "flood-response", Version: 3,
			Facts: map[string]string{"water-depth-cm": "35", "road": "杨家坪正街", "empty": ""},
			Steps: map[string]dispatch.StepRun{
				"close-road":  {Order: newID(t)},
				"pump-water":  {Order: newID(t)},
				"notify-bank": {Skipped: true},
			},
		},
		Version: 1,
	}
	for _, o := range orders {
		cf.Orders = append(cf.Orders, o.ID)
	}
	return cf
}

// event returns the message announcing name for o, as the dispatch service
// builds it.
func event(t testing.TB, o dispatch.WorkOrder, name string, at time.Time) bus.Message {
	t.Helper()
	data, err := json.Marshal(map[string]any{"event": name, "order": o.ID, "case": o.Case, "body": o.Body, "time": at})
	if err != nil {
		t.Fatalf("encoding event: %v", err)
	}
	subject := "gov"
	for i, c := range o.Path {
		if i == 3 {
			break
		}
		subject += "." + string(c)
	}
	return bus.Message{
		ID:      newID(t).String(),
		Subject: subject + ".dispatch." + name,
		Key:     o.Case,
		Headers: map[string]string{
			"govkit-kind": "dispatch", "govkit-event": name,
			"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		},
		Time: at,
		Data: data,
	}
}

// bump returns o as its next version, with a step a command would add.
func bump(o dispatch.WorkOrder) dispatch.WorkOrder {
	o = o.Clone()
	o.Version++
	o.ChaseUps++
	o.History = append(o.History, dispatch.Step{
		Time: base.Add(time.Duration(o.Version) * time.Minute), Actor: "jlp-centre-dispatcher-02",
		Action: "chase-up", From: o.Status, To: o.Status, Note: fmt.Sprintf("催办 %d", o.ChaseUps),
	})
	return o
}

// bumpCase returns cf as its next version, with one more return.
func bumpCase(cf dispatch.CaseFile) dispatch.CaseFile {
	cf = cf.Clone()
	cf.Version++
	cf.Returns++
	cf.TimeLost += time.Hour
	return cf
}

// unsetFields lists the fields of v, a dispatch struct, that are zero in
// every value reachable from it (every element of a slice or map counts),
// such as "WorkOrder.History[].Note". The suite requires the full fixtures
// to have none, so that a field added to WorkOrder or CaseFile later is
// covered by the round trip as soon as the fixture sets it.
func unsetFields(v any) []string {
	set := map[string]bool{}
	var walk func(v reflect.Value, path string)
	walk = func(v reflect.Value, path string) {
		switch v.Kind() {
		case reflect.Pointer:
			if !v.IsNil() {
				walk(v.Elem(), path)
			}
		case reflect.Slice:
			for i := range v.Len() {
				walk(v.Index(i), path+"[]")
			}
		case reflect.Map:
			for it := v.MapRange(); it.Next(); {
				walk(it.Value(), path+"[]")
			}
		case reflect.Struct:
			if v.Type().PkgPath() != reflect.TypeFor[dispatch.WorkOrder]().PkgPath() {
				return // time.Time and the like are leaves
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

// ids returns the IDs of orders in order, nil for none.
func ids(orders []dispatch.WorkOrder) []uuid.UUID {
	if len(orders) == 0 {
		return nil
	}
	out := make([]uuid.UUID, len(orders))
	for i, o := range orders {
		out[i] = o.ID
	}
	return out
}

// sortedIDs returns the IDs of orders in ID order, the order of Orders.
func sortedIDs(orders ...dispatch.WorkOrder) []uuid.UUID {
	out := ids(orders)
	slices.SortFunc(out, compareIDs)
	return out
}

// compareIDs orders UUIDs by their bytes, as their canonical strings sort.
func compareIDs(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) }

// matches is the suite's own reading of OrderQuery's filters, independent
// of OrderQuery.Matches, to check stores against.
func matches(q dispatch.OrderQuery, o dispatch.WorkOrder) bool {
	if q.Case != "" && o.Case != q.Case || q.Body != "" && o.Body != q.Body ||
		q.Kind != 0 && o.Kind != q.Kind ||
		len(q.Statuses) > 0 && !slices.Contains(q.Statuses, o.Status) {
		return false
	}
	if q.Within != "" {
		if len(o.Path) == 0 {
			return false
		}
		prefix := string(q.Within)
		if len(prefix) == 6 { // a province, city or district: drop its trailing "00" pairs
			for len(prefix) > 2 && strings.HasSuffix(prefix, "00") {
				prefix = prefix[:len(prefix)-2]
			}
		}
		if !strings.HasPrefix(string(o.Path[len(o.Path)-1]), prefix) {
			return false
		}
	}
	return (q.Since.IsZero() || !o.Offered.Before(q.Since)) && (q.Until.IsZero() || o.Offered.Before(q.Until))
}

// normalMessage returns m as compared by the suite: empty headers and data
// count as absent, since a store may not tell nil from empty, and Attempt
// is the transport's business.
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
