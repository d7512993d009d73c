package dispatch_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/calendar"
	"github.com/govkit/govkit/clock"
	"github.com/govkit/govkit/dispatch"
	"github.com/govkit/govkit/region"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const dispatchPolicy = `{"version": 1, "roles": {
  "centre": [{"action": "dispatch", "resource": "work-order"}, {"action": "reassign", "resource": "work-order"},
             {"action": "chase-up", "resource": "work-order"}, {"action": "supervise", "resource": "work-order"},
             {"action": "approve-extension", "resource": "work-order"}, {"action": "suspend", "resource": "work-order"},
             {"action": "read", "resource": "work-order"}, {"action": "evaluate", "resource": "work-order"},
             {"action": "offer-volunteer-task", "resource": "work-order"}],
  "binding": [{"action": "assign-binding", "resource": "work-order"}],
  "team":    [{"action": "sign-for", "resource": "work-order", "same_department": true},
              {"action": "handle", "resource": "work-order", "same_department": true},
              {"action": "request-extension", "resource": "work-order", "same_department": true},
              {"action": "read", "resource": "work-order", "same_department": true}],
  "verifier": [{"action": "verify", "resource": "work-order"}, {"action": "read", "resource": "work-order"}],
  "volunteer": [{"action": "sign-for", "resource": "work-order"}, {"action": "handle", "resource": "work-order"},
                {"action": "read", "resource": "work-order"}]
}}`

var (
	jlpCentre = access.Actor{ID: "centre-jlp", Kind: access.DistrictStaff, Scope: "500107", Roles: []string{"centre", "binding"}}
	sqpCentre = access.Actor{ID: "centre-sqp", Kind: access.StreetStaff, Scope: "500107001", Roles: []string{"centre", "binding"}}
	sqpMember = access.Actor{ID: "sqp-wu", Kind: access.DepartmentHandler, Department: "sqp-enforce", Scope: "500107001", Roles: []string{"team"}}
	yjpMember = access.Actor{ID: "yjp-xu", Kind: access.DepartmentHandler, Department: "yjp-enforce", Scope: "500107", Roles: []string{"team"}}
	housing   = access.Actor{ID: "hs-gao", Kind: access.DepartmentHandler, Department: "jlp-housing", Scope: "500107", Roles: []string{"team"}}
	urban     = access.Actor{ID: "urb-ma", Kind: access.DepartmentHandler, Department: "jlp-urban", Scope: "500107", Roles: []string{"team", "verifier"}}
	gridChief = access.Actor{ID: "gm-luo", Kind: access.GridMember, Scope: "500107", Roles: []string{"verifier"}}
	volunteer = access.Actor{ID: "vol-he", Kind: access.Citizen, Scope: "500107", Roles: []string{"volunteer"}}
)

func as(a access.Actor) context.Context { return access.WithActor(context.Background(), a) }

// monday10 is a working Monday morning in Chongqing.
var monday10 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))

type fixture struct {
	svc    *dispatch.Service
	clk    *clock.Manual
	notes  *dispatch.MemoryNotifier
	bus    *bus.Memory
	mu     sync.Mutex
	events []dispatch.OrderEvent
}

func newFixture(t *testing.T, tweak ...func(*dispatch.Config)) *fixture {
	t.Helper()
	p, err := access.ParsePolicy([]byte(dispatchPolicy))
	require.NoError(t, err)
	b, err := bus.NewMemory(bus.MemoryOptions{Partitions: 1})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	f := &fixture{clk: clock.NewManual(monday10), notes: &dispatch.MemoryNotifier{}, bus: b}
	_, err = b.Subscribe(context.Background(), "gov.>", "test", func(ctx context.Context, m bus.Message) error {
		if m.Headers["govkit-kind"] != "dispatch" {
			return nil
		}
		e, err := dispatch.DecodeEvent(m)
		if err != nil {
			return err
		}
		f.mu.Lock()
		f.events = append(f.events, e)
		f.mu.Unlock()
		return nil
	})
	require.NoError(t, err)
	cfg := dispatch.Config{
		Router: router(t), Authorizer: p, Bus: b, Notifier: f.notes, Clock: f.clk, Calendar: calendar.Default(),
		Roster: dispatch.StaticRoster{
			"500107001": {"duty-sqp"}, // the street centre
			"500107":    {"duty-jlp"}, // the district centre
			"500000":    {"duty-cq"},  // the city centre
		},
		Policies: []dispatch.Policy{{Category: "*", SignFor: time.Hour, ReturnWindow: time.Hour, Complete: 4 * time.Hour,
			RemindEvery: 30 * time.Minute, Reminders: 2, EscalateEvery: time.Hour}},
	}
	for _, fn := range tweak {
		fn(&cfg)
	}
	f.svc, err = dispatch.NewService(cfg)
	require.NoError(t, err)
	t.Cleanup(f.svc.Shutdown)
	return f
}

// eventNames waits for delivery and returns the names of events about case
// c, in order.
func (f *fixture) eventNames(t *testing.T, c string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, f.bus.Drain(ctx))
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, e := range f.events {
		if e.Case == c {
			out = append(out, e.Event)
		}
	}
	return out
}

// muckTruck is S16's case: an overloaded muck truck in Shiqiaopu street.
func muckTruck(id string) dispatch.Case {
	return dispatch.Case{ID: id, Category: "0203", Path: path("500107001002003")}
}

func byBody(orders []dispatch.WorkOrder) map[string]dispatch.WorkOrder {
	m := map[string]dispatch.WorkOrder{}
	for _, o := range orders {
		m[o.Body] = o
	}
	return m
}

func TestDispatchOffersEveryBranch(t *testing.T) {
	f := newFixture(t)
	cf, orders, err := f.svc.Dispatch(as(jlpCentre), muckTruck("inc-1"))
	require.NoError(t, err)
	require.Len(t, orders, 3)
	assert.Len(t, cf.Orders, 3)
	m := byBody(orders)
	assert.True(t, m["jlp-urban"].Lead)
	assert.True(t, m["jlp-housing"].Mandatory)
	assert.Equal(t, 2, m["sqp-enforce"].Branch)
	assert.Equal(t, "muck-truck", m["sqp-enforce"].Rule)
	for _, o := range orders {
		assert.Equal(t, dispatch.Offered, o.Status)
		assert.True(t, monday10.Add(time.Hour).Equal(o.SignBy), "sign for within a working hour")
		// 4 working hours from 10:00 skip the lunch break: 16:00.
		assert.True(t, monday10.Add(6*time.Hour).Equal(o.Deadline), "deadline %v", o.Deadline)
		require.Len(t, f.notes.For(o.Body), 1)
		assert.Equal(t, dispatch.NotifyOffer, f.notes.For(o.Body)[0].Kind)
	}
	assert.Equal(t, []string{"offered", "offered", "offered"}, f.eventNames(t, "inc-1"))

	_, _, err = f.svc.Dispatch(as(jlpCentre), muckTruck("inc-1"))
	assert.ErrorIs(t, err, dispatch.ErrAlreadyDispatched)
	again := muckTruck("inc-1")
	again.Category = "9999" // no rule routes it, yet it was dispatched
	_, _, err = f.svc.Dispatch(as(jlpCentre), again)
	assert.ErrorIs(t, err, dispatch.ErrAlreadyDispatched)
	assert.Equal(t, []string{"offered", "offered", "offered"}, f.eventNames(t, "inc-1"), "a second dispatch offers nothing")
	for _, o := range orders {
		assert.Len(t, f.notes.For(o.Body), 1)
	}
	_, _, err = f.svc.Dispatch(as(sqpCentre), dispatch.Case{ID: "inc-2", Category: "0203", Path: path("500107002001001")})
	assert.ErrorIs(t, err, access.ErrDenied, "a street centre dispatches in its own street only")
	_, _, err = f.svc.Dispatch(as(jlpCentre), dispatch.Case{Category: "0203", Path: path("500107002001001")})
	assert.ErrorIs(t, err, dispatch.ErrInvalidCase)
}

// caseFileReads counts the case files a service reads.
type caseFileReads struct {
	dispatch.Store
	n atomic.Int32
}

func (s *caseFileReads) CaseFile(ctx context.Context, id string) (dispatch.CaseFile, error) {
	s.n.Add(1)
	return s.Store.CaseFile(ctx, id)
}

// A first dispatch does not look for an earlier one: writing the case file
// would fail if there were one. Only a failed dispatch reads.
func TestFirstDispatchReadsNoCaseFile(t *testing.T) {
	store := &caseFileReads{Store: dispatch.NewMemoryStore()}
	f := newFixture(t, func(c *dispatch.Config) { c.Store = store })
	_, _, err := f.svc.Dispatch(as(jlpCentre), muckTruck("inc-1"))
	require.NoError(t, err)
	assert.Zero(t, store.n.Load())
	_, _, err = f.svc.Dispatch(as(jlpCentre), muckTruck("inc-1"))
	require.ErrorIs(t, err, dispatch.ErrAlreadyDispatched)
	assert.EqualValues(t, 1, store.n.Load())
}

func TestCaseIsDisposedWhenEveryMandatoryBranchIsDone(t *testing.T) {
	f := newFixture(t)
	_, orders, err := f.svc.Dispatch(as(jlpCentre), muckTruck("inc-1"))
	require.NoError(t, err)
	m := byBody(orders)
	run := func(who access.Actor, id uuid.UUID) {
		t.Helper()
		must(t)(f.svc.SignFor(as(who), id, ""))
		must(t)(f.svc.Start(as(who), id, ""))
		must(t)(f.svc.Complete(as(who), id, "fined 2,000 yuan"))
	}
	run(urban, m["jlp-urban"].ID)
	run(housing, m["jlp-housing"].ID)
	cf, err := f.svc.CaseFile(as(jlpCentre), "inc-1")
	require.NoError(t, err)
	assert.False(t, cf.Disposed, "the street team's branch is still open")

	run(sqpMember, m["sqp-enforce"].ID)
	cf, err = f.svc.CaseFile(as(jlpCentre), "inc-1")
	require.NoError(t, err)
	assert.True(t, cf.Disposed)
	names := f.eventNames(t, "inc-1")
	assert.Equal(t, "case-disposed", names[len(names)-1])
	count := 0
	for _, n := range names {
		if n == "case-disposed" {
			count++
		}
	}
	assert.Equal(t, 1, count)

	// Verification: not by the person who did it; failing sends it back.
	_, err = f.svc.Verify(as(urban), m["jlp-urban"].ID, true, "")
	assert.ErrorIs(t, err, access.ErrSeparationOfDuties)
	rework, err := f.svc.Verify(as(gridChief), m["sqp-enforce"].ID, false, "truck still parked on the pavement")
	require.NoError(t, err)
	assert.Equal(t, dispatch.InProgress, rework.Status)
	assert.Equal(t, 1, rework.Reworks)
	must(t)(f.svc.Complete(as(sqpMember), rework.ID, "towed"))
	ok, err := f.svc.Verify(as(gridChief), rework.ID, true, "")
	require.NoError(t, err)
	assert.Equal(t, dispatch.Verified, ok.Status)
	rated, err := f.svc.Evaluate(as(jlpCentre), ok.ID, 5, "")
	require.NoError(t, err)
	assert.Equal(t, 5, rated.Rating)
}

func TestIllegalStepsChangeNothing(t *testing.T) {
	f := newFixture(t)
	_, orders, err := f.svc.Dispatch(as(jlpCentre), muckTruck("inc-1"))
	require.NoError(t, err)
	id := byBody(orders)["sqp-enforce"].ID
	for name, call := range map[string]func() error{
		"start unsigned":    func() error { _, err := f.svc.Start(as(sqpMember), id, ""); return err },
		"complete unsigned": func() error { _, err := f.svc.Complete(as(sqpMember), id, ""); return err },
		"verify open":       func() error { _, err := f.svc.Verify(as(gridChief), id, true, ""); return err },
		"evaluate open":     func() error { _, err := f.svc.Evaluate(as(jlpCentre), id, 3, ""); return err },
		"resume running":    func() error { _, err := f.svc.Resume(as(jlpCentre), id, ""); return err },
		"decide no request": func() error { _, err := f.svc.DecideExtension(as(jlpCentre), id, true, ""); return err },
	} {
		assert.ErrorIs(t, call(), dispatch.ErrInvalidTransition, name)
	}
	for name, call := range map[string]func() error{
		"return, no reason":  func() error { _, err := f.svc.Return(as(sqpMember), id, ""); return err },
		"rating 0":           func() error { _, err := f.svc.Evaluate(as(jlpCentre), id, 0, ""); return err },
		"endless extension":  func() error { _, err := f.svc.RequestExtension(as(sqpMember), id, 1000*time.Hour, "x"); return err },
		"reassign to nobody": func() error { _, err := f.svc.Reassign(as(jlpCentre), id, "nobody", ""); return err },
		"supervise, no note": func() error { _, err := f.svc.Supervise(as(jlpCentre), id, ""); return err },
		"suspend, no reason": func() error { _, err := f.svc.Suspend(as(jlpCentre), id, ""); return err },
	} {
		assert.ErrorIs(t, call(), dispatch.ErrInvalidCommand, name)
	}
	o, err := f.svc.Order(as(jlpCentre), id)
	require.NoError(t, err)
	assert.Equal(t, int64(1), o.Version)
	_, err = f.svc.SignFor(as(sqpMember), uuid.New(), "")
	assert.ErrorIs(t, err, dispatch.ErrNotFound)
}

func TestAccessAtTheBoundary(t *testing.T) {
	f := newFixture(t)
	_, orders, err := f.svc.Dispatch(as(jlpCentre), muckTruck("inc-1"))
	require.NoError(t, err)
	m := byBody(orders)
	_, err = f.svc.SignFor(as(yjpMember), m["sqp-enforce"].ID, "")
	assert.ErrorIs(t, err, access.ErrDenied, "the next street's team cannot sign for Shiqiaopu's order")
	_, err = f.svc.SignFor(as(housing), m["sqp-enforce"].ID, "")
	assert.ErrorIs(t, err, access.ErrDenied, "nor can another department")
	signed, err := f.svc.SignFor(as(sqpMember), m["sqp-enforce"].ID, "")
	require.NoError(t, err)
	assert.Equal(t, "sqp-wu", signed.Responder)

	page, err := f.svc.Orders(as(sqpMember), dispatch.OrderQuery{Case: "inc-1"})
	require.NoError(t, err)
	require.Len(t, page.Orders, 1, "a team sees its own department's orders")
	page, err = f.svc.Orders(as(jlpCentre), dispatch.OrderQuery{Case: "inc-1"})
	require.NoError(t, err)
	assert.Len(t, page.Orders, 3)
}

func TestReturnPingPongEndsInABindingAssignment(t *testing.T) {
	f := newFixture(t)
	_, orders, err := f.svc.Dispatch(as(jlpCentre), muckTruck("inc-1"))
	require.NoError(t, err)
	first := byBody(orders)["sqp-enforce"]

	f.clk.Advance(20 * time.Minute)
	_, err = f.svc.Return(as(sqpMember), first.ID, "the truck was on the expressway, not our street")
	require.NoError(t, err)
	cf := must2(t)(f.svc.CaseFile(as(jlpCentre), "inc-1"))
	assert.Equal(t, 1, cf.Returns)
	assert.Equal(t, 20*time.Minute, cf.TimeLost)

	// The centre gives the branch to Yangjiaping, which returns it too.
	second, err := f.svc.Reassign(as(jlpCentre), first.ID, "yjp-enforce", "try the neighbours")
	require.NoError(t, err)
	assert.Equal(t, dispatch.Offered, second.Status)
	f.clk.Advance(10 * time.Minute)
	_, err = f.svc.Return(as(yjpMember), second.ID, "not ours either")
	require.NoError(t, err)
	cf = must2(t)(f.svc.CaseFile(as(jlpCentre), "inc-1"))
	assert.Equal(t, 2, cf.Returns)
	assert.Equal(t, 30*time.Minute, cf.TimeLost, "time lost adds up")
	assert.Equal(t, region.Code("500107"), cf.BindingUnit, "the tier above the street teams decides")
	assert.Equal(t, []string{"duty-jlp"}, recipients(f.notes.For("duty-jlp")))

	// Only the district, bindingly.
	_, err = f.svc.Reassign(as(jlpCentre), second.ID, "sqp-enforce", "")
	assert.ErrorIs(t, err, dispatch.ErrInvalidTransition)
	_, err = f.svc.AssignBinding(as(sqpCentre), second.ID, "sqp-enforce", "")
	assert.ErrorIs(t, err, access.ErrDenied, "a street centre cannot decide for the district")
	bound, err := f.svc.AssignBinding(as(jlpCentre), second.ID, "sqp-enforce", "caught in Shiqiaopu: Shiqiaopu acts")
	require.NoError(t, err)
	assert.True(t, bound.Binding)
	_, err = f.svc.Return(as(sqpMember), bound.ID, "still not ours")
	assert.ErrorIs(t, err, dispatch.ErrInvalidTransition)
	names := f.eventNames(t, "inc-1")
	assert.Contains(t, names, "binding-required")
	assert.Contains(t, names, "reassigned")
}

func recipients(ns []dispatch.Notification) []string {
	var out []string
	for _, n := range ns {
		out = append(out, n.To)
	}
	return out
}

func TestReturnWindowAndSignFor(t *testing.T) {
	f := newFixture(t)
	_, orders, err := f.svc.Dispatch(as(jlpCentre), muckTruck("inc-1"))
	require.NoError(t, err)
	m := byBody(orders)
	f.clk.Advance(61 * time.Minute)
	_, err = f.svc.Return(as(sqpMember), m["sqp-enforce"].ID, "late return")
	assert.ErrorIs(t, err, dispatch.ErrInvalidTransition, "the return window is one working hour")
	must(t)(f.svc.SignFor(as(housing), m["jlp-housing"].ID, ""))
	_, err = f.svc.Return(as(housing), m["jlp-housing"].ID, "changed my mind")
	assert.ErrorIs(t, err, dispatch.ErrInvalidTransition, "a signed order is not returned")
}

func TestRemindersThenEscalationUpTheHierarchy(t *testing.T) {
	f := newFixture(t)
	_, orders, err := f.svc.Dispatch(as(jlpCentre), muckTruck("inc-1"))
	require.NoError(t, err)
	m := byBody(orders)
	id := m["sqp-enforce"].ID
	// The district branches are signed for and finished: only the street
	// team's order runs late.
	for body, who := range map[string]access.Actor{"jlp-urban": urban, "jlp-housing": housing} {
		must(t)(f.svc.SignFor(as(who), m[body].ID, ""))
		must(t)(f.svc.Start(as(who), m[body].ID, ""))
		must(t)(f.svc.Complete(as(who), m[body].ID, ""))
	}

	// 11:00: not signed for; the street centre's duty officer is reminded,
	// again at 11:30, then no more.
	f.clk.Advance(time.Hour)
	assert.Equal(t, 1, countFor(f.notes.For("duty-sqp"), id, dispatch.NotifyReminder))
	f.clk.Advance(30 * time.Minute)
	assert.Equal(t, 2, countFor(f.notes.For("duty-sqp"), id, dispatch.NotifyReminder))
	f.clk.Advance(30 * time.Minute) // 12:00
	assert.Equal(t, 2, countFor(f.notes.For("duty-sqp"), id, dispatch.NotifyReminder))
	o := must(t)(f.svc.Order(as(jlpCentre), id))
	assert.Equal(t, 2, o.Reminders)

	// 16:00: not done. Community and grid have nobody on duty and the
	// street team's own level is skipped: the district centre is told.
	require.NoError(t, f.clk.Set(monday10.Add(6*time.Hour)))
	o = must(t)(f.svc.Order(as(jlpCentre), id))
	assert.Equal(t, region.Code("500107"), o.EscalatedTo)
	assert.Equal(t, 1, o.EscalationLevel)
	assert.Equal(t, 1, countFor(f.notes.For("duty-jlp"), id, dispatch.NotifyEscalation))

	// An hour later, the city; then nobody is left above.
	f.clk.Advance(time.Hour)
	o = must(t)(f.svc.Order(as(jlpCentre), id))
	assert.Equal(t, region.Code("500000"), o.EscalatedTo)
	assert.Equal(t, 1, countFor(f.notes.For("duty-cq"), id, dispatch.NotifyEscalation))
	f.clk.Advance(time.Hour)
	o = must(t)(f.svc.Order(as(jlpCentre), id))
	assert.True(t, o.NextCheck.IsZero())
	sent := len(f.notes.Sent())
	f.clk.Advance(48 * time.Hour)
	assert.Equal(t, sent, len(f.notes.Sent()), "finished branches and an exhausted escalation stay quiet")

	names := f.eventNames(t, "inc-1")
	assert.Contains(t, names, "sign-for-overdue")
	assert.Contains(t, names, "escalated")
	assert.Contains(t, names, "escalation-exhausted")
}

func countFor(ns []dispatch.Notification, order uuid.UUID, kind dispatch.NotificationKind) int {
	n := 0
	for _, x := range ns {
		if x.WorkOrder == order.String() && x.Kind == kind {
			n++
		}
	}
	return n
}

func TestExtensionsSuspensionChaseUpSupervision(t *testing.T) {
	f := newFixture(t)
	_, orders, err := f.svc.Dispatch(as(jlpCentre), muckTruck("inc-1"))
	require.NoError(t, err)
	id := byBody(orders)["sqp-enforce"].ID
	must(t)(f.svc.SignFor(as(sqpMember), id, ""))

	must(t)(f.svc.RequestExtension(as(sqpMember), id, 2*time.Hour, "the truck owner is out of town"))
	_, err = f.svc.RequestExtension(as(sqpMember), id, time.Hour, "again")
	assert.ErrorIs(t, err, dispatch.ErrInvalidTransition, "one request at a time")
	approved, err := f.svc.DecideExtension(as(jlpCentre), id, true, "granted")
	require.NoError(t, err)
	// 16:00 + 2 working hours = 18:00.
	assert.True(t, monday10.Add(8*time.Hour).Equal(approved.Deadline), "deadline %v", approved.Deadline)

	must(t)(f.svc.RequestExtension(as(sqpMember), id, time.Hour, "more"))
	_, err = f.svc.DecideExtension(as(sqpMember), id, true, "")
	assert.ErrorIs(t, err, access.ErrDenied, "a team member cannot approve")
	refused, err := f.svc.DecideExtension(as(jlpCentre), id, false, "no")
	require.NoError(t, err)
	assert.True(t, approved.Deadline.Equal(refused.Deadline))

	// Suspended from 10:00 to 11:00: one working hour later.
	sus, err := f.svc.Suspend(as(jlpCentre), id, "typhoon warning")
	require.NoError(t, err)
	assert.True(t, sus.Suspended)
	f.clk.Advance(time.Hour)
	res, err := f.svc.Resume(as(jlpCentre), id, "")
	require.NoError(t, err)
	assert.True(t, monday10.Add(9*time.Hour).Add(15*time.Hour).Equal(res.Deadline), "18:00 + 1 working hour is Tuesday 10:00: %v", res.Deadline)

	must(t)(f.svc.ChaseUp(as(jlpCentre), id, "the reporter called again"))
	sup, err := f.svc.Supervise(as(jlpCentre), id, "district leader watching")
	require.NoError(t, err)
	assert.True(t, sup.Supervised)
	assert.Equal(t, "sqp-enforce", sup.Body, "supervision is not reassignment")
	kinds := map[dispatch.NotificationKind]int{}
	for _, n := range f.notes.For("sqp-enforce") {
		kinds[n.Kind]++
	}
	assert.Equal(t, 1, kinds[dispatch.NotifyChaseUp])
	assert.Equal(t, 1, kinds[dispatch.NotifySupervision])
}

func TestVolunteerTasks(t *testing.T) {
	f := newFixture(t)
	task, err := f.svc.OfferTask(as(jlpCentre), dispatch.Case{ID: "help-1", Category: "9901", Path: path("500107001002003")},
		"sqp-enforce", "carry groceries for an elderly resident living alone")
	require.NoError(t, err)
	assert.Equal(t, dispatch.Volunteer, task.Kind)
	listed, err := f.svc.Tasks(as(volunteer), dispatch.OrderQuery{})
	require.NoError(t, err)
	require.Len(t, listed.Orders, 1)
	must(t)(f.svc.SignFor(as(volunteer), task.ID, "on my way"))
	listed, err = f.svc.Tasks(as(volunteer), dispatch.OrderQuery{})
	require.NoError(t, err)
	assert.Empty(t, listed.Orders, "an accepted task leaves the list")
	must(t)(f.svc.Start(as(volunteer), task.ID, ""))
	must(t)(f.svc.Complete(as(volunteer), task.ID, ""))
	rated, err := f.svc.Evaluate(as(jlpCentre), task.ID, 5, "very kind")
	require.NoError(t, err)
	assert.Equal(t, 5, rated.Rating)
}

func must(t *testing.T) func(dispatch.WorkOrder, error) dispatch.WorkOrder {
	return func(o dispatch.WorkOrder, err error) dispatch.WorkOrder {
		t.Helper()
		require.NoError(t, err)
		return o
	}
}

func must2(t *testing.T) func(dispatch.CaseFile, error) dispatch.CaseFile {
	return func(c dispatch.CaseFile, err error) dispatch.CaseFile {
		t.Helper()
		require.NoError(t, err)
		return c
	}
}
