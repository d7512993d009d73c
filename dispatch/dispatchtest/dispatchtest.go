package dispatchtest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/dispatch"
	"github.com/govkit/govkit/region"
)

// Run runs every conformance test as a subtest of t, each on a fresh,
// empty store from newStore. The store is left to the test's cleanup to
// close.
func Run(t *testing.T, newStore func(t *testing.T) dispatch.Store) {
	t.Helper()
	if newStore == nil {
		t.Fatal("dispatchtest: newStore is nil")
	}
	tests := []struct {
		name string
		fn   func(*testing.T, dispatch.Store)
	}{
		{"FixturesSetEveryField", testFixturesSetEveryField},
		{"RoundTrip", testRoundTrip},
		{"OrderWithoutBodyOrPath", testOrderWithoutBodyOrPath},
		{"ReturnsCopies", testReturnsCopies},
		{"NotFound", testNotFound},
		{"CreateTwice", testCreateTwice},
		{"UpdateVersions", testUpdateVersions},
		{"SameRecordTwiceInOneChange", testSameRecordTwiceInOneChange},
		{"ApplyIsAtomic", testApplyIsAtomic},
		{"OrdersFilters", testOrdersFilters},
		{"OrdersFollowUpdates", testOrdersFollowUpdates},
		{"OrdersPaging", testOrdersPaging},
		{"OrdersInvalidQuery", testOrdersInvalidQuery},
		{"Outbox", testOutbox},
		{"DuplicateEvent", testDuplicateEvent},
		{"DuplicateEventInOneChange", testDuplicateEventInOneChange},
		{"ConcurrentUpdates", testConcurrentUpdates},
		{"ConcurrentCreates", testConcurrentCreates},
		{"CancelledContext", testCancelledContext},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			require.NotNil(t, s, "newStore returned nil")
			tc.fn(t, s)
		})
	}
}

func apply(t *testing.T, s dispatch.Store, c dispatch.Change) {
	t.Helper()
	require.NoError(t, s.Apply(t.Context(), c))
}

func create(t *testing.T, s dispatch.Store, orders ...dispatch.WorkOrder) {
	t.Helper()
	apply(t, s, dispatch.Change{Orders: orders})
}

func order(t *testing.T, s dispatch.Store, id uuid.UUID) dispatch.WorkOrder {
	t.Helper()
	o, err := s.Order(t.Context(), id)
	require.NoError(t, err)
	return o
}

func caseFile(t *testing.T, s dispatch.Store, id string) dispatch.CaseFile {
	t.Helper()
	cf, err := s.CaseFile(t.Context(), id)
	require.NoError(t, err)
	return cf
}

func requireNoOrder(t *testing.T, s dispatch.Store, id uuid.UUID) {
	t.Helper()
	_, err := s.Order(t.Context(), id)
	require.ErrorIs(t, err, dispatch.ErrNotFound, "work order %s should not exist", id)
}

func requireNoCase(t *testing.T, s dispatch.Store, id string) {
	t.Helper()
	_, err := s.CaseFile(t.Context(), id)
	require.ErrorIs(t, err, dispatch.ErrNotFound, "case file %s should not exist", id)
}

func pending(t *testing.T, s dispatch.Store) []bus.Message {
	t.Helper()
	msgs, err := s.Pending(t.Context(), 1000)
	require.NoError(t, err)
	return msgs
}

func pendingIDs(t *testing.T, s dispatch.Store) []string {
	t.Helper()
	var out []string
	for _, m := range pending(t, s) {
		out = append(out, m.ID)
	}
	return out
}

func requireMessages(t *testing.T, want, got []bus.Message) {
	t.Helper()
	require.Len(t, got, len(want))
	for i := range want {
		require.Equal(t, normalMessage(want[i]), normalMessage(got[i]), "message %d", i)
	}
}

// testFixturesSetEveryField keeps the round trip honest: a field added to
// WorkOrder or CaseFile must be set by the full fixtures below, or this
// fails, so that no store can silently drop it.
func testFixturesSetEveryField(t *testing.T, _ dispatch.Store) {
	require.Empty(t, unsetFields(fullOrder(t)), "fullOrder leaves these fields unset")
	require.Empty(t, unsetFields(fullCase(t)), "fullCase leaves these fields unset")
}

// testRoundTrip: what goes in comes out, field by field, through every read.
func testRoundTrip(t *testing.T, s dispatch.Store) {
	ctx := t.Context()
	full := fullOrder(t)
	// A bare order: nil slices, zero times.
	bare := dispatch.WorkOrder{
		ID: newID(t), Case: "case-bare", Path: pathOf(gridJFB), Kind: dispatch.Duty, Body: yzUrban,
		Status: dispatch.Offered, Offered: base.Add(time.Second), Version: 1,
	}
	// Empty, not nil, slices stay empty.
	empty := newOrder(t, "case-empty", jlpUrban, gridYJP4, base.Add(2*time.Second))
	empty.History, empty.Extensions = []dispatch.Step{}, []dispatch.Extension{}
	cf := fullCase(t, full)
	bareCase := dispatch.CaseFile{Case: "case-bare", Version: 1}
	emptyCase := dispatch.CaseFile{Case: "case-empty", Path: []region.Code{}, Orders: []uuid.UUID{},
		Playbook: &dispatch.PlaybookRun{ID: "rain-storm", Facts: map[string]string{}, Steps: map[string]dispatch.StepRun{}}, Version: 1}
	nilMaps := dispatch.CaseFile{Case: "case-nil-maps", Playbook: &dispatch.PlaybookRun{ID: "rain-storm", Version: 1}, Version: 1}
	apply(t, s, dispatch.Change{Orders: []dispatch.WorkOrder{full, bare, empty}, Cases: []dispatch.CaseFile{cf, bareCase, emptyCase, nilMaps}})

	for _, want := range []dispatch.WorkOrder{full, bare, empty} {
		require.Equal(t, want, order(t, s, want.ID))
	}
	for _, want := range []dispatch.CaseFile{cf, bareCase, emptyCase, nilMaps} {
		require.Equal(t, want, caseFile(t, s, want.Case))
	}
	page, err := s.Orders(ctx, dispatch.OrderQuery{})
	require.NoError(t, err)
	require.Equal(t, sortedIDs(full, bare, empty), ids(page.Orders))
	require.Equal(t, uuid.Nil, page.Next)
	for _, got := range page.Orders {
		switch got.ID {
		case full.ID:
			require.Equal(t, full, got)
		case bare.ID:
			require.Equal(t, bare, got)
		default:
			require.Equal(t, empty, got)
		}
	}

	// An update replaces every field, dropping what the new version drops.
	next := bump(full)
	next.Status, next.Responder, next.Suspended, next.SuspendedAt = dispatch.InProgress, "", false, time.Time{}
	next.Extensions = nil
	next.Path = pathOf(gridXJP)
	nextCase := bumpCase(cf)
	nextCase.Playbook = nil
	nextCase.Disposed, nextCase.DisposedAt = false, time.Time{}
	nextCase.Orders = append(nextCase.Orders, newID(t))
	apply(t, s, dispatch.Change{Orders: []dispatch.WorkOrder{next}, Cases: []dispatch.CaseFile{nextCase}})
	require.Equal(t, next, order(t, s, full.ID))
	require.Equal(t, nextCase, caseFile(t, s, cf.Case))
	nextBare := bump(bare)
	nextBare.Extensions = full.Extensions
	apply(t, s, dispatch.Change{Orders: []dispatch.WorkOrder{nextBare}})
	require.Equal(t, nextBare, order(t, s, bare.ID))
}

// testOrderWithoutBodyOrPath: a work order is stored whatever its Body and
// Path; the contract requires neither (a volunteer task waiting for a
// team, an order for a case not yet placed).
func testOrderWithoutBodyOrPath(t *testing.T, s dispatch.Store) {
	ctx := t.Context()
	o := dispatch.WorkOrder{ID: newID(t), Case: "case-open-call", Kind: dispatch.Volunteer, Status: dispatch.Offered, Offered: base, Version: 1}
	create(t, s, o)
	require.Equal(t, o, order(t, s, o.ID))
	page, err := s.Orders(ctx, dispatch.OrderQuery{Kind: dispatch.Volunteer})
	require.NoError(t, err)
	require.Equal(t, []dispatch.WorkOrder{o}, page.Orders)
	page, err = s.Orders(ctx, dispatch.OrderQuery{Within: "500000"})
	require.NoError(t, err)
	require.Empty(t, page.Orders, "an order without a place lies in no unit")
	page, err = s.Orders(ctx, dispatch.OrderQuery{Body: jlpUrban})
	require.NoError(t, err)
	require.Empty(t, page.Orders)
	next := bump(o)
	next.Body = volunteers
	apply(t, s, dispatch.Change{Orders: []dispatch.WorkOrder{next}})
	page, err = s.Orders(ctx, dispatch.OrderQuery{Body: volunteers})
	require.NoError(t, err)
	require.Equal(t, []dispatch.WorkOrder{next}, page.Orders)
}

// testReturnsCopies: neither the caller's input nor what the store returns
// shares memory with the store: orders, case files and outbox messages.
func testReturnsCopies(t *testing.T, s dispatch.Store) {
	ctx := t.Context()
	o := fullOrder(t)
	cf := fullCase(t, o)
	wantOrder, wantCase := o.Clone(), cf.Clone()
	m := event(t, o, "offered", base)
	wantMsg := m
	wantMsg.Headers = maps.Clone(m.Headers)
	wantMsg.Data = slices.Clone(m.Data)
	apply(t, s, dispatch.Change{Orders: []dispatch.WorkOrder{o}, Cases: []dispatch.CaseFile{cf}, Events: []bus.Message{m}})

	mutateOrder := func(o *dispatch.WorkOrder) {
		o.Path[0] = "110000"
		o.Extensions[0].Reason = "changed"
		o.History[0].Note = "changed"
	}
	mutateCase := func(cf *dispatch.CaseFile) {
		cf.Path[0] = "110000"
		cf.Orders[0] = uuid.Nil
		cf.Playbook.ID = "changed"
		cf.Playbook.Facts["road"] = "changed"
		cf.Playbook.Steps["close-road"] = dispatch.StepRun{Skipped: true}
	}
	mutateOrder(&o)
	mutateCase(&cf)
	m.Headers["govkit-event"] = "changed"
	m.Data[0] = 'X'
	require.Equal(t, wantOrder, order(t, s, o.ID), "the store shares the caller's order")
	require.Equal(t, wantCase, caseFile(t, s, cf.Case), "the store shares the caller's case file")

	got := order(t, s, o.ID)
	mutateOrder(&got)
	page, err := s.Orders(ctx, dispatch.OrderQuery{})
	require.NoError(t, err)
	require.Len(t, page.Orders, 1)
	mutateOrder(&page.Orders[0])
	gotCase := caseFile(t, s, cf.Case)
	mutateCase(&gotCase)
	require.Equal(t, wantOrder, order(t, s, o.ID), "the store returned a shared order")
	require.Equal(t, wantCase, caseFile(t, s, cf.Case), "the store returned a shared case file")

	msgs := pending(t, s)
	requireMessages(t, []bus.Message{wantMsg}, msgs)
	msgs[0].Headers["govkit-event"] = "changed"
	msgs[0].Data[0] = 'X'
	requireMessages(t, []bus.Message{wantMsg}, pending(t, s))
}

func testNotFound(t *testing.T, s dispatch.Store) {
	ctx := t.Context()
	o := newOrder(t, "case-1", jlpUrban, gridYJP3, base)
	apply(t, s, dispatch.Change{Orders: []dispatch.WorkOrder{o}, Cases: []dispatch.CaseFile{newCase("case-1", gridYJP3, o)}})

	for _, id := range []uuid.UUID{newID(t), uuid.Nil} {
		_, err := s.Order(ctx, id)
		require.ErrorIs(t, err, dispatch.ErrNotFound, "order %s", id)
	}
	for _, id := range []string{"case-2", "", "CASE-1", "case-1 ", "case-%", "case-1'; --"} {
		_, err := s.CaseFile(ctx, id)
		require.ErrorIs(t, err, dispatch.ErrNotFound, "case %q", id)
	}
}

// testCreateTwice: a record at Version 1 must not exist yet.
func testCreateTwice(t *testing.T, s dispatch.Store) {
	ctx := t.Context()
	o := newOrder(t, "case-1", jlpUrban, gridYJP3, base)
	cf := newCase("case-1", gridYJP3, o)
	apply(t, s, dispatch.Change{Orders: []dispatch.WorkOrder{o}, Cases: []dispatch.CaseFile{cf}})

	again := o.Clone()
	again.Body = jlpWater
	err := s.Apply(ctx, dispatch.Change{Orders: []dispatch.WorkOrder{again}})
	require.ErrorIs(t, err, dispatch.ErrConflict, "order created twice")
	caseAgain := cf.Clone()
	caseAgain.Category = "changed"
	err = s.Apply(ctx, dispatch.Change{Cases: []dispatch.CaseFile{caseAgain}})
	require.ErrorIs(t, err, dispatch.ErrConflict, "case file created twice")
	require.Equal(t, o, order(t, s, o.ID))
	require.Equal(t, cf, caseFile(t, s, cf.Case))

	// Twice in one change, too.
	fresh := newOrder(t, "case-2", jlpUrban, gridYJP3, base)
	err = s.Apply(ctx, dispatch.Change{Orders: []dispatch.WorkOrder{fresh, fresh}})
	require.ErrorIs(t, err, dispatch.ErrConflict)
	requireNoOrder(t, s, fresh.ID)
	freshCase := newCase("case-2", gridYJP3, fresh)
	err = s.Apply(ctx, dispatch.Change{Cases: []dispatch.CaseFile{freshCase, freshCase}})
	require.ErrorIs(t, err, dispatch.ErrConflict)
	requireNoCase(t, s, freshCase.Case)

	// A create of a stored order is refused whatever it holds.
	next := bump(o)
	next.Version = 1
	err = s.Apply(ctx, dispatch.Change{Orders: []dispatch.WorkOrder{next}})
	require.ErrorIs(t, err, dispatch.ErrConflict)
}

// testUpdateVersions: an update applies only over the version before it.
func testUpdateVersions(t *testing.T, s dispatch.Store) {
	ctx := t.Context()
	o := newOrder(t, "case-1", jlpUrban, gridYJP3, base)
	cf := newCase("case-1", gridYJP3, o)
	apply(t, s, dispatch.Change{Orders: []dispatch.WorkOrder{o}, Cases: []dispatch.CaseFile{cf}})

	v2, c2 := bump(o), bumpCase(cf)
	apply(t, s, dispatch.Change{Orders: []dispatch.WorkOrder{v2}, Cases: []dispatch.CaseFile{c2}})
	require.Equal(t, v2, order(t, s, o.ID))
	require.Equal(t, c2, caseFile(t, s, cf.Case))

	stale := bump(o) // version 2 again, from the old read
	stale.Status = dispatch.Returned
	err := s.Apply(ctx, dispatch.Change{Orders: []dispatch.WorkOrder{stale}})
	require.ErrorIs(t, err, dispatch.ErrConflict, "stale order")
	skip := bump(bump(v2)) // version 4 over version 2
	err = s.Apply(ctx, dispatch.Change{Orders: []dispatch.WorkOrder{skip}})
	require.ErrorIs(t, err, dispatch.ErrConflict, "order version skipped")
	err = s.Apply(ctx, dispatch.Change{Cases: []dispatch.CaseFile{bumpCase(cf)}})
	require.ErrorIs(t, err, dispatch.ErrConflict, "stale case file")
	err = s.Apply(ctx, dispatch.Change{Cases: []dispatch.CaseFile{bumpCase(bumpCase(c2))}})
	require.ErrorIs(t, err, dispatch.ErrConflict, "case file version skipped")
	require.Equal(t, v2, order(t, s, o.ID))
	require.Equal(t, c2, caseFile(t, s, cf.Case))

	ghost := bump(newOrder(t, "case-ghost", jlpUrban, gridYJP3, base))
	err = s.Apply(ctx, dispatch.Change{Orders: []dispatch.WorkOrder{ghost}})
	require.ErrorIs(t, err, dispatch.ErrNotFound, "update of a missing order")
	require.NotErrorIs(t, err, dispatch.ErrConflict)
	ghostCase := bumpCase(newCase("case-ghost", gridYJP3))
	err = s.Apply(ctx, dispatch.Change{Cases: []dispatch.CaseFile{ghostCase}})
	require.ErrorIs(t, err, dispatch.ErrNotFound, "update of a missing case file")
	requireNoOrder(t, s, ghost.ID)
	requireNoCase(t, s, ghostCase.Case)

	// Versions below 1 are neither creates nor valid updates.
	for _, v := range []int64{0, -1} {
		bad := bump(v2)
		bad.Version = v
		err = s.Apply(ctx, dispatch.Change{Orders: []dispatch.WorkOrder{bad}})
		require.Error(t, err, "version %d", v)
		require.True(t, errors.Is(err, dispatch.ErrConflict) || errors.Is(err, dispatch.ErrNotFound) ||
			errors.Is(err, dispatch.ErrInvalidCommand), "version %d: %v", v, err)
	}
	require.Equal(t, v2, order(t, s, o.ID))

	v3 := bump(v2)
	apply(t, s, dispatch.Change{Orders: []dispatch.WorkOrder{v3}})
	require.Equal(t, v3, order(t, s, o.ID))
}

// testSameRecordTwiceInOneChange: records of one ID in a change apply in
// sequence, as if in changes of their own.
func testSameRecordTwiceInOneChange(t *testing.T, s dispatch.Store) {
	ctx := t.Context()
	o := newOrder(t, "case-1", jlpUrban, gridYJP3, base)
	cf := newCase("case-1", gridYJP3, o)
	v2, v3 := bump(o), bump(bump(o))
	c2 := bumpCase(cf)
	apply(t, s, dispatch.Change{Orders: []dispatch.WorkOrder{o, v2, v3}, Cases: []dispatch.CaseFile{cf, c2}})
	require.Equal(t, v3, order(t, s, o.ID))
	require.Equal(t, c2, caseFile(t, s, cf.Case))

	v4, v5 := bump(v3), bump(bump(v3))
	apply(t, s, dispatch.Change{Orders: []dispatch.WorkOrder{v4, v5}})
	require.Equal(t, v5, order(t, s, o.ID))

	// Out of sequence, the change fails whole.
	v6, v7 := bump(v5), bump(bump(v5))
	err := s.Apply(ctx, dispatch.Change{Orders: []dispatch.WorkOrder{v7, v6}})
	require.ErrorIs(t, err, dispatch.ErrConflict)
	err = s.Apply(ctx, dispatch.Change{Orders: []dispatch.WorkOrder{v6, v6}})
	require.ErrorIs(t, err, dispatch.ErrConflict)
	require.Equal(t, v5, order(t, s, o.ID))

	// An update before the create: the record does not exist yet.
	fresh := newOrder(t, "case-2", jlpUrban, gridYJP3, base)
	err = s.Apply(ctx, dispatch.Change{Orders: []dispatch.WorkOrder{bump(fresh), fresh}})
	require.ErrorIs(t, err, dispatch.ErrNotFound)
	requireNoOrder(t, s, fresh.ID)
}

// testApplyIsAtomic: a change that fails leaves nothing of itself behind:
// no order, case file or event of it, whichever record failed.
func testApplyIsAtomic(t *testing.T, s dispatch.Store) {
	ctx := t.Context()
	held := newOrder(t, "case-held", jlpUrban, gridYJP3, base)
	heldCase := newCase("case-held", gridYJP3, held)
	other := newOrder(t, "case-other", jlpWater, gridYJP4, base)
	otherCase := newCase("case-other", gridYJP4, other)
	published := event(t, held, "offered", base)
	waiting := event(t, other, "offered", base)
	apply(t, s, dispatch.Change{Orders: []dispatch.WorkOrder{held, other}, Cases: []dispatch.CaseFile{heldCase, otherCase},
		Events: []bus.Message{published, waiting}})
	require.NoError(t, s.MarkPublished(ctx, published.ID))
	heldV2, heldCaseV2 := bump(held), bumpCase(heldCase)
	apply(t, s, dispatch.Change{Orders: []dispatch.WorkOrder{heldV2}, Cases: []dispatch.CaseFile{heldCaseV2}})

	tests := []struct {
		name string
		bad  func(c *dispatch.Change)
		want error
	}{
		{"stale order update", func(c *dispatch.Change) {
			c.Orders = append(c.Orders, bump(held)) // version 2 again
		}, dispatch.ErrConflict},
		{"stale order update first", func(c *dispatch.Change) {
			c.Orders = append([]dispatch.WorkOrder{bump(held)}, c.Orders...)
		}, dispatch.ErrConflict},
		{"update of a missing order", func(c *dispatch.Change) {
			c.Orders = append(c.Orders, bump(newOrder(t, "case-ghost", jlpUrban, gridYJP3, base)))
		}, dispatch.ErrNotFound},
		{"order created twice", func(c *dispatch.Change) {
			dup := newOrder(t, "case-dup", jlpUrban, gridYJP3, base)
			dup.ID = held.ID
			c.Orders = append(c.Orders, dup)
		}, dispatch.ErrConflict},
		{"stale case file update", func(c *dispatch.Change) {
			c.Cases = append(c.Cases, bumpCase(heldCase))
		}, dispatch.ErrConflict},
		{"update of a missing case file", func(c *dispatch.Change) {
			c.Cases = append(c.Cases, bumpCase(newCase("case-ghost", gridYJP3)))
		}, dispatch.ErrNotFound},
		{"case file created twice", func(c *dispatch.Change) {
			c.Cases = append(c.Cases, newCase("case-held", gridYJP3))
		}, dispatch.ErrConflict},
		{"event already waiting", func(c *dispatch.Change) {
			c.Events = append(c.Events, waiting)
		}, dispatch.ErrConflict},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := pendingIDs(t, s)
			otherBefore := order(t, s, other.ID)
			otherCaseBefore := caseFile(t, s, otherCase.Case)
			fresh := newOrder(t, "case-fresh", yzUrban, gridJFB, base)
			freshCase := newCase("case-fresh", gridJFB, fresh)
			otherNext := bump(otherBefore)
			otherNext.Status = dispatch.SignedFor
			otherCaseNext := bumpCase(otherCaseBefore)
			c := dispatch.Change{
				Orders: []dispatch.WorkOrder{fresh, otherNext},
				Cases:  []dispatch.CaseFile{freshCase, otherCaseNext},
				Events: []bus.Message{event(t, fresh, "offered", base), event(t, otherNext, "signed-for", base)},
			}
			tc.bad(&c)
			err := s.Apply(ctx, c)
			require.ErrorIs(t, err, tc.want)

			requireNoOrder(t, s, fresh.ID)
			requireNoCase(t, s, freshCase.Case)
			require.Equal(t, otherBefore, order(t, s, other.ID))
			require.Equal(t, otherCaseBefore, caseFile(t, s, otherCase.Case))
			require.Equal(t, heldV2, order(t, s, held.ID))
			require.Equal(t, heldCaseV2, caseFile(t, s, heldCase.Case))
			require.Equal(t, before, pendingIDs(t, s), "events of the failed change")
			page, err := s.Orders(ctx, dispatch.OrderQuery{Case: "case-fresh"})
			require.NoError(t, err)
			require.Empty(t, page.Orders, "the failed create is not indexed")
		})
	}

	// The same change without the fault applies whole.
	fresh := newOrder(t, "case-fresh", yzUrban, gridJFB, base)
	freshCase := newCase("case-fresh", gridJFB, fresh)
	otherNext, otherCaseNext := bump(other), bumpCase(otherCase)
	msg := event(t, fresh, "offered", base)
	apply(t, s, dispatch.Change{Orders: []dispatch.WorkOrder{fresh, otherNext}, Cases: []dispatch.CaseFile{freshCase, otherCaseNext},
		Events: []bus.Message{msg}})
	require.Equal(t, fresh, order(t, s, fresh.ID))
	require.Equal(t, freshCase, caseFile(t, s, freshCase.Case))
	require.Equal(t, otherNext, order(t, s, other.ID))
	require.Equal(t, otherCaseNext, caseFile(t, s, otherCase.Case))
	require.Equal(t, []string{waiting.ID, msg.ID}, pendingIDs(t, s))
}

// filterFixtures stores orders across grids, bodies, cases, statuses,
// kinds and offer times, and returns them.
func filterFixtures(t *testing.T, s dispatch.Store) []dispatch.WorkOrder {
	t.Helper()
	type spec struct {
		caseID, body, grid string
		status             dispatch.OrderStatus
		kind               dispatch.OrderKind
		hours              int
	}
	specs := []spec{
		{"case-a", jlpUrban, gridYJP3, dispatch.Offered, dispatch.Duty, 0},
		{"case-a", jlpWater, gridYJP3, dispatch.SignedFor, dispatch.Duty, 1},
		{"case-a", volunteers, gridYJP3, dispatch.Offered, dispatch.Volunteer, 2},
		{"case-b", jlpUrban, gridYJP4, dispatch.InProgress, dispatch.Duty, 3},
		{"case-b", jlpUrban, gridYJP4, dispatch.Returned, dispatch.Duty, 4},
		{"case-c", jlpUrban, gridXJP, dispatch.Done, dispatch.Duty, 5},
		{"case-c", volunteers, gridXJP, dispatch.Verified, dispatch.Volunteer, 6},
		{"case-d", yzUrban, gridJFB, dispatch.Offered, dispatch.Duty, 7},
		{"case-d", yzUrban, gridJFB, dispatch.Cancelled, dispatch.Duty, 8},
		{"case-e", "nanan-urban-mgmt", gridNanan, dispatch.SignedFor, dispatch.Duty, 9},
		{"case-f", "cd-jinniu-urban", gridChengdu, dispatch.Offered, dispatch.Duty, 10},
		{"case-g", jlpUrban, "", dispatch.Offered, dispatch.Duty, 11},
		{"case-h", jlpUrban, "500107001", dispatch.Offered, dispatch.Duty, 12}, // placed at street level only
	}
	var all []dispatch.WorkOrder
	for _, sp := range specs {
		o := newOrder(t, sp.caseID, sp.body, sp.grid, base.Add(time.Duration(sp.hours)*time.Hour))
		o.Status, o.Kind = sp.status, sp.kind
		all = append(all, o)
	}
	shuffled := slices.Clone(all)
	slices.Reverse(shuffled)
	create(t, s, shuffled...)
	return all
}

func testOrdersFilters(t *testing.T, s dispatch.Store) {
	ctx := t.Context()
	all := filterFixtures(t, s)
	at := func(h int) time.Time { return base.Add(time.Duration(h) * time.Hour) }
	pick := func(idx ...int) []uuid.UUID {
		var out []dispatch.WorkOrder
		for _, i := range idx {
			out = append(out, all[i])
		}
		return sortedIDs(out...)
	}
	everything := make([]int, len(all))
	for i := range everything {
		everything[i] = i
	}
	tests := []struct {
		name string
		q    dispatch.OrderQuery
		want []uuid.UUID
	}{
		{"none", dispatch.OrderQuery{}, pick(everything...)},
		{"case", dispatch.OrderQuery{Case: "case-a"}, pick(0, 1, 2)},
		{"unknown case", dispatch.OrderQuery{Case: "case-z"}, nil},
		{"case is exact", dispatch.OrderQuery{Case: "case-"}, nil},
		{"body", dispatch.OrderQuery{Body: jlpUrban}, pick(0, 3, 4, 5, 11, 12)},
		{"body is exact", dispatch.OrderQuery{Body: "jlp"}, nil},
		{"one status", dispatch.OrderQuery{Statuses: []dispatch.OrderStatus{dispatch.Offered}}, pick(0, 2, 7, 10, 11, 12)},
		{"statuses", dispatch.OrderQuery{Statuses: []dispatch.OrderStatus{dispatch.Done, dispatch.Verified, dispatch.Cancelled}}, pick(5, 6, 8)},
		{"volunteer", dispatch.OrderQuery{Kind: dispatch.Volunteer}, pick(2, 6)},
		{"duty", dispatch.OrderQuery{Kind: dispatch.Duty}, pick(0, 1, 3, 4, 5, 7, 8, 9, 10, 11, 12)},
		{"within grid", dispatch.OrderQuery{Within: gridYJP3}, pick(0, 1, 2)},
		{"within community", dispatch.OrderQuery{Within: "500107001002"}, pick(0, 1, 2, 3, 4)},
		{"within street", dispatch.OrderQuery{Within: "500107001"}, pick(0, 1, 2, 3, 4, 12)},
		{"within district", dispatch.OrderQuery{Within: "500107"}, pick(0, 1, 2, 3, 4, 5, 6, 12)},
		{"within other district", dispatch.OrderQuery{Within: "500103"}, pick(7, 8)},
		{"within empty district", dispatch.OrderQuery{Within: "500112"}, nil},
		{"within Chongqing", dispatch.OrderQuery{Within: "500000"}, pick(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 12)},
		{"within Sichuan", dispatch.OrderQuery{Within: "510000"}, pick(10)},
		{"within Chengdu", dispatch.OrderQuery{Within: "510100"}, pick(10)},
		{"within a grid below the order", dispatch.OrderQuery{Within: "500107001001001"}, nil},
		{"since", dispatch.OrderQuery{Since: at(9)}, pick(9, 10, 11, 12)},
		{"since between", dispatch.OrderQuery{Since: at(9).Add(-time.Microsecond)}, pick(9, 10, 11, 12)},
		{"since just after", dispatch.OrderQuery{Since: at(9).Add(time.Microsecond)}, pick(10, 11, 12)},
		{"until", dispatch.OrderQuery{Until: at(2)}, pick(0, 1)},
		{"until just after", dispatch.OrderQuery{Until: at(2).Add(time.Microsecond)}, pick(0, 1, 2)},
		{"window", dispatch.OrderQuery{Since: at(3), Until: at(6)}, pick(3, 4, 5)},
		{"empty window", dispatch.OrderQuery{Since: at(6), Until: at(6)}, nil},
		{"case and status", dispatch.OrderQuery{Case: "case-a", Statuses: []dispatch.OrderStatus{dispatch.Offered}}, pick(0, 2)},
		{"case and body", dispatch.OrderQuery{Case: "case-b", Body: jlpUrban}, pick(3, 4)},
		{"body, kind and place", dispatch.OrderQuery{Body: volunteers, Kind: dispatch.Volunteer, Within: "500107002"}, pick(6)},
		{"open volunteer tasks in a district", dispatch.OrderQuery{Kind: dispatch.Volunteer, Statuses: []dispatch.OrderStatus{dispatch.Offered}, Within: "500107"}, pick(2)},
		{"place, time and status", dispatch.OrderQuery{Within: "500000", Since: at(1), Until: at(9),
			Statuses: []dispatch.OrderStatus{dispatch.SignedFor, dispatch.InProgress, dispatch.Offered}}, pick(1, 2, 3, 7)},
		{"everything", dispatch.OrderQuery{Case: "case-d", Body: yzUrban, Kind: dispatch.Duty, Within: "500103001001",
			Statuses: []dispatch.OrderStatus{dispatch.Offered}, Since: at(7), Until: at(8), Limit: 1000}, pick(7)},
		{"everything, one off", dispatch.OrderQuery{Case: "case-d", Body: yzUrban, Kind: dispatch.Duty, Within: "500103001001",
			Statuses: []dispatch.OrderStatus{dispatch.Offered}, Since: at(7), Until: at(7)}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var oracle []dispatch.WorkOrder
			for _, o := range all {
				if matches(tc.q, o) {
					oracle = append(oracle, o)
				}
			}
			require.Equal(t, sortedIDs(oracle...), tc.want, "the test's expectation disagrees with its oracle")
			page, err := s.Orders(ctx, tc.q)
			require.NoError(t, err)
			if len(tc.want) == 0 {
				require.Empty(t, page.Orders)
			} else {
				require.Equal(t, tc.want, ids(page.Orders))
			}
			require.Equal(t, uuid.Nil, page.Next)
			for _, got := range page.Orders {
				require.Equal(t, order(t, s, got.ID), got, "Orders returns whole orders")
			}
		})
	}
}

// testOrdersFollowUpdates: the filters see an order's current version.
func testOrdersFollowUpdates(t *testing.T, s dispatch.Store) {
	ctx := t.Context()
	o := newOrder(t, "case-1", jlpUrban, gridYJP3, base)
	create(t, s, o)
	next := bump(o)
	next.Case, next.Body, next.Status, next.Kind = "case-2", jlpWater, dispatch.InProgress, dispatch.Volunteer
	next.Path, next.Offered = pathOf(gridJFB), base.Add(48*time.Hour)
	apply(t, s, dispatch.Change{Orders: []dispatch.WorkOrder{next}})
	for _, q := range []dispatch.OrderQuery{
		{Case: "case-1"}, {Body: jlpUrban}, {Statuses: []dispatch.OrderStatus{dispatch.Offered}},
		{Kind: dispatch.Duty}, {Within: "500107"}, {Until: base.Add(time.Hour)},
	} {
		page, err := s.Orders(ctx, q)
		require.NoError(t, err)
		require.Empty(t, page.Orders, "%+v matches the old version", q)
	}
	for _, q := range []dispatch.OrderQuery{
		{Case: "case-2"}, {Body: jlpWater}, {Statuses: []dispatch.OrderStatus{dispatch.InProgress}},
		{Kind: dispatch.Volunteer}, {Within: "500103"}, {Since: base.Add(47 * time.Hour)},
	} {
		page, err := s.Orders(ctx, q)
		require.NoError(t, err)
		require.Equal(t, []dispatch.WorkOrder{next}, page.Orders, "%+v", q)
	}
}

func testOrdersPaging(t *testing.T, s dispatch.Store) {
	ctx := t.Context()
	const n = 100 + 7 // the default limit, and then some
	var all []dispatch.WorkOrder
	var skipped uuid.UUID
	for i := range n + 1 {
		caseID := "case-big"
		if i%4 == 0 {
			caseID = fmt.Sprintf("case-small-%d", i)
		}
		body := jlpUrban
		if i%3 == 0 {
			body = jlpWater
		}
		o := newOrder(t, caseID, body, fmt.Sprintf("500107001002%03d", i%7+1), base.Add(time.Duration(i)*time.Minute))
		if i == 40 { // an ID that is never stored, between stored ones
			skipped = o.ID
			continue
		}
		all = append(all, o)
	}
	shuffled := slices.Clone(all)
	slices.Reverse(shuffled)
	for chunk := range slices.Chunk(shuffled, 25) {
		create(t, s, chunk...)
	}

	// pages reads every page of q, checking each, and returns the IDs in
	// the order read and the number of pages.
	pages := func(q dispatch.OrderQuery) ([]uuid.UUID, int) {
		t.Helper()
		var got []uuid.UUID
		count := 0
		limit := q.Limit
		if limit == 0 {
			limit = 100
		}
		for {
			page, err := s.Orders(ctx, q)
			require.NoError(t, err)
			count++
			require.LessOrEqual(t, len(page.Orders), limit)
			got = append(got, ids(page.Orders)...)
			if page.Next == uuid.Nil {
				return got, count
			}
			require.Len(t, page.Orders, limit, "only the last page is short")
			require.Equal(t, page.Orders[len(page.Orders)-1].ID, page.Next)
			require.Less(t, count, n+2, "paging does not end")
			q.After = page.Next
		}
	}
	filtered := func(q dispatch.OrderQuery) []uuid.UUID {
		var out []dispatch.WorkOrder
		for _, o := range all {
			if matches(q, o) {
				out = append(out, o)
			}
		}
		return sortedIDs(out...)
	}
	want := sortedIDs(all...)
	require.Len(t, want, n)
	for _, limit := range []int{1, 7, 25, n - 1, n, 1000} {
		got, count := pages(dispatch.OrderQuery{Limit: limit})
		require.Equal(t, want, got, "limit %d: every order once, in ID order", limit)
		require.Equal(t, (n+limit-1)/limit, count, "limit %d: pages", limit)
	}
	got, count := pages(dispatch.OrderQuery{})
	require.Equal(t, want, got, "default limit")
	require.Equal(t, 2, count, "the default limit is 100")

	// Filtered paging, on every filter a store may drive the query with.
	for _, q := range []dispatch.OrderQuery{
		{Case: "case-big", Limit: 9},
		{Body: jlpWater, Limit: 4},
		{Body: jlpUrban, Within: "500107001002003", Limit: 2},
		{Within: "500107001", Since: base.Add(30 * time.Minute), Until: base.Add(90 * time.Minute), Limit: 6},
		{Case: "case-big", Body: jlpUrban, Limit: 100},
		{Case: "case-big"},
	} {
		wantQ := filtered(q)
		require.NotEmpty(t, wantQ)
		got, _ := pages(q)
		require.Equal(t, wantQ, got, "paging %+v", q)
	}

	// After need not be a stored ID.
	afterID := func(list []uuid.UUID, id uuid.UUID) []uuid.UUID {
		var out []uuid.UUID
		for _, x := range list {
			if compareIDs(x, id) > 0 {
				out = append(out, x)
			}
		}
		return out
	}
	page, err := s.Orders(ctx, dispatch.OrderQuery{After: skipped, Limit: 1000})
	require.NoError(t, err)
	require.Equal(t, afterID(want, skipped), ids(page.Orders))
	byCase := dispatch.OrderQuery{Case: "case-big", Limit: 1000}
	page, err = s.Orders(ctx, dispatch.OrderQuery{Case: byCase.Case, Limit: byCase.Limit, After: skipped})
	require.NoError(t, err)
	require.Equal(t, afterID(filtered(byCase), skipped), ids(page.Orders))
	page, err = s.Orders(ctx, dispatch.OrderQuery{After: want[len(want)-1]})
	require.NoError(t, err)
	require.Empty(t, page.Orders)
	require.Equal(t, uuid.Nil, page.Next)
	byBody := dispatch.OrderQuery{Body: jlpUrban}
	page, err = s.Orders(ctx, dispatch.OrderQuery{Body: byBody.Body, After: want[len(want)-3]})
	require.NoError(t, err)
	if w := afterID(filtered(byBody), want[len(want)-3]); len(w) == 0 {
		require.Empty(t, page.Orders)
	} else {
		require.Equal(t, w, ids(page.Orders))
	}
}

func testOrdersInvalidQuery(t *testing.T, s dispatch.Store) {
	ctx := t.Context()
	create(t, s, newOrder(t, "case-1", jlpUrban, gridYJP3, base))
	for _, q := range []dispatch.OrderQuery{
		{Limit: -1},
		{Limit: 1001},
		{Within: "5001"},
		{Within: "50010"},
		{Within: "5001070010020031"},
		{Within: "50010700100200x"},
		{Within: "000000"},
		{Within: "500107'; DROP TABLE x; --"},
		{Within: "5001%"},
		{Case: "case-1", Within: "abc", Limit: 10},
	} {
		_, err := s.Orders(ctx, q)
		require.ErrorIs(t, err, dispatch.ErrInvalidCommand, "%+v", q)
		require.ErrorIs(t, q.Validate(), dispatch.ErrInvalidCommand, "the store agrees with Validate: %+v", q)
	}
	for _, q := range []dispatch.OrderQuery{{Limit: 0}, {Limit: 1}, {Limit: 1000}, {Within: "500107001002003"}} {
		page, err := s.Orders(ctx, q)
		require.NoError(t, err, "%+v", q)
		require.Len(t, page.Orders, 1)
	}
}

func testOutbox(t *testing.T, s dispatch.Store) {
	ctx := t.Context()
	require.Empty(t, pending(t, s))

	a := newOrder(t, "case-a", jlpUrban, gridYJP3, base)
	a2 := bump(a)
	a2.Status = dispatch.SignedFor
	b := newOrder(t, "case-b", yzUrban, gridJFB, base)
	e1 := event(t, a, "offered", base)
	e2 := event(t, a, "reminded", base.Add(time.Millisecond+time.Microsecond))
	e3 := event(t, a2, "signed-for", base.Add(time.Hour))
	e3.Headers = nil // optional
	e4 := event(t, b, "offered", base.Add(2*time.Hour))
	e4.Key, e4.Data = "", nil
	apply(t, s, dispatch.Change{Orders: []dispatch.WorkOrder{a}, Cases: []dispatch.CaseFile{newCase("case-a", gridYJP3, a)}, Events: []bus.Message{e1, e2}})
	apply(t, s, dispatch.Change{Orders: []dispatch.WorkOrder{a2}, Events: []bus.Message{e3}})
	// A failed change's events never reach the outbox.
	lost := event(t, a2, "returned", base.Add(3*time.Hour))
	err := s.Apply(ctx, dispatch.Change{Orders: []dispatch.WorkOrder{a2}, Events: []bus.Message{lost}})
	require.ErrorIs(t, err, dispatch.ErrConflict)
	lostToo := event(t, b, "offered", base.Add(3*time.Hour))
	err = s.Apply(ctx, dispatch.Change{Cases: []dispatch.CaseFile{bumpCase(newCase("case-b", gridJFB))}, Events: []bus.Message{lostToo}})
	require.ErrorIs(t, err, dispatch.ErrNotFound)
	// Events alone are a change too.
	create(t, s, b)
	apply(t, s, dispatch.Change{Events: []bus.Message{e4}})

	requireMessages(t, []bus.Message{e1, e2, e3, e4}, pending(t, s))
	got, err := s.Pending(ctx, 2)
	require.NoError(t, err)
	requireMessages(t, []bus.Message{e1, e2}, got)
	for _, limit := range []int{0, -1} {
		got, err = s.Pending(ctx, limit)
		require.NoError(t, err)
		require.Empty(t, got, "limit %d", limit)
	}

	require.NoError(t, s.MarkPublished(ctx, e2.ID, newID(t).String(), "not-a-message-id", ""))
	requireMessages(t, []bus.Message{e1, e3, e4}, pending(t, s))
	got, err = s.Pending(ctx, 1)
	require.NoError(t, err)
	requireMessages(t, []bus.Message{e1}, got)
	require.NoError(t, s.MarkPublished(ctx))
	require.NoError(t, s.MarkPublished(ctx, e2.ID), "marking twice is harmless")
	require.NoError(t, s.MarkPublished(ctx, e1.ID, e3.ID, e4.ID))
	require.Empty(t, pending(t, s))

	e5 := event(t, b, "signed-for", base.Add(4*time.Hour))
	apply(t, s, dispatch.Change{Events: []bus.Message{e5}})
	requireMessages(t, []bus.Message{e5}, pending(t, s))

	// Many events keep their order across changes.
	var want []bus.Message
	for i := range 30 {
		var batch []bus.Message
		for j := range i%3 + 1 {
			batch = append(batch, event(t, b, fmt.Sprintf("note-%d-%d", i, j), base.Add(time.Duration(i)*time.Second)))
		}
		apply(t, s, dispatch.Change{Events: batch})
		want = append(want, batch...)
	}
	require.NoError(t, s.MarkPublished(ctx, e5.ID))
	requireMessages(t, want, pending(t, s))
}

// testDuplicateEvent: an event ID already in the outbox is a conflict, and
// the change that repeats it applies no part of itself.
func testDuplicateEvent(t *testing.T, s dispatch.Store) {
	ctx := t.Context()
	a := newOrder(t, "case-a", jlpUrban, gridYJP3, base)
	e := event(t, a, "offered", base)
	apply(t, s, dispatch.Change{Orders: []dispatch.WorkOrder{a}, Events: []bus.Message{e}})

	b := newOrder(t, "case-b", jlpUrban, gridYJP3, base)
	again := event(t, b, "offered", base)
	again.ID = e.ID
	err := s.Apply(ctx, dispatch.Change{Orders: []dispatch.WorkOrder{b}, Cases: []dispatch.CaseFile{newCase("case-b", gridYJP3, b)},
		Events: []bus.Message{event(t, b, "offered", base), again}})
	require.ErrorIs(t, err, dispatch.ErrConflict)
	requireNoOrder(t, s, b.ID)
	requireNoCase(t, s, "case-b")
	requireMessages(t, []bus.Message{e}, pending(t, s))
}

// testDuplicateEventInOneChange: two events of one ID in one change are a
// conflict too; otherwise the outbox would hold an event twice, and
// marking it published could not tell the copies apart.
func testDuplicateEventInOneChange(t *testing.T, s dispatch.Store) {
	ctx := t.Context()
	a := newOrder(t, "case-a", jlpUrban, gridYJP3, base)
	e := event(t, a, "offered", base)
	err := s.Apply(ctx, dispatch.Change{Orders: []dispatch.WorkOrder{a}, Events: []bus.Message{e, e}})
	require.ErrorIs(t, err, dispatch.ErrConflict)
	requireNoOrder(t, s, a.ID)
	require.Empty(t, pending(t, s))
}

// testConcurrentUpdates: writers racing on one order and its case file
// with read-modify-write and retry on ErrConflict lose nothing.
func testConcurrentUpdates(t *testing.T, s dispatch.Store) {
	ctx := t.Context()
	const writers, each = 6, 5
	o := newOrder(t, "case-race", jlpUrban, gridYJP3, base)
	o.History = nil
	cf := newCase("case-race", gridYJP3, o)
	apply(t, s, dispatch.Change{Orders: []dispatch.WorkOrder{o}, Cases: []dispatch.CaseFile{cf}})

	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		errs      []error
		conflicts int
	)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	start := make(chan struct{})
	for w := range writers {
		wg.Go(func() {
			<-start
			for i := 0; i < each; {
				cur, err := s.Order(ctx, o.ID)
				if err != nil {
					fail(err)
					return
				}
				curCase, err := s.CaseFile(ctx, cf.Case)
				if err != nil {
					fail(err)
					return
				}
				next := cur.Clone()
				next.Version++
				next.History = append(next.History, dispatch.Step{Time: base, Actor: fmt.Sprintf("writer-%d", w), Action: "chase-up", Note: fmt.Sprintf("update-%d", i)})
				nextCase := bumpCase(curCase)
				err = s.Apply(ctx, dispatch.Change{
					Orders: []dispatch.WorkOrder{next}, Cases: []dispatch.CaseFile{nextCase},
					Events: []bus.Message{event(t, next, "chased-up", base)},
				})
				switch {
				case errors.Is(err, dispatch.ErrConflict):
					mu.Lock()
					conflicts++
					mu.Unlock()
				case err != nil:
					fail(err)
					return
				default:
					i++
				}
			}
		})
	}
	close(start)
	wg.Wait()
	require.Empty(t, errs)

	final := order(t, s, o.ID)
	require.EqualValues(t, 1+writers*each, final.Version, "every successful update counted once")
	require.Len(t, final.History, writers*each, "no update lost")
	seen := map[string]bool{}
	for _, st := range final.History {
		key := st.Actor + "/" + st.Note
		require.False(t, seen[key], "update %s applied twice", key)
		seen[key] = true
	}
	finalCase := caseFile(t, s, cf.Case)
	require.EqualValues(t, 1+writers*each, finalCase.Version)
	require.Equal(t, writers*each, finalCase.Returns)
	require.Len(t, pending(t, s), writers*each, "one event per successful update, none of a failed one")
	t.Logf("%d updates, %d conflicts retried", writers*each, conflicts)
}

// testConcurrentCreates: of several writers creating the same order and
// case file at once, exactly one wins; the others get ErrConflict.
func testConcurrentCreates(t *testing.T, s dispatch.Store) {
	ctx := t.Context()
	const racers = 8
	id := newID(t)
	orders := make([]dispatch.WorkOrder, racers)
	events := make([]bus.Message, racers)
	for i := range orders {
		orders[i] = newOrder(t, "case-race", fmt.Sprintf("body-%d", i), gridYJP3, base)
		orders[i].ID = id
		events[i] = event(t, orders[i], "offered", base)
	}
	errs := make([]error, racers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range racers {
		wg.Go(func() {
			<-start
			errs[i] = s.Apply(ctx, dispatch.Change{
				Orders: []dispatch.WorkOrder{orders[i]}, Cases: []dispatch.CaseFile{newCase("case-race", gridYJP3, orders[i])},
				Events: []bus.Message{events[i]},
			})
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		if err == nil {
			require.Equal(t, -1, winner, "two creates of one order won")
			winner = i
			continue
		}
		require.ErrorIs(t, err, dispatch.ErrConflict, "racer %d", i)
	}
	require.NotEqual(t, -1, winner, "no create won")
	require.Equal(t, orders[winner], order(t, s, id))
	require.Equal(t, newCase("case-race", gridYJP3, orders[winner]), caseFile(t, s, "case-race"))
	requireMessages(t, []bus.Message{events[winner]}, pending(t, s))
	page, err := s.Orders(ctx, dispatch.OrderQuery{Case: "case-race"})
	require.NoError(t, err)
	require.Equal(t, []dispatch.WorkOrder{orders[winner]}, page.Orders)
}

// testCancelledContext: a store that checks the context writes nothing
// under a cancelled one.
func testCancelledContext(t *testing.T, s dispatch.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	o := newOrder(t, "case-1", jlpUrban, gridYJP3, base)
	err := s.Apply(ctx, dispatch.Change{
		Orders: []dispatch.WorkOrder{o}, Cases: []dispatch.CaseFile{newCase("case-1", gridYJP3, o)},
		Events: []bus.Message{event(t, o, "offered", base)},
	})
	if err == nil {
		t.Skip("the store does not check the context before writing")
	}
	require.ErrorIs(t, err, context.Canceled)
	requireNoOrder(t, s, o.ID)
	requireNoCase(t, s, "case-1")
	require.Empty(t, pending(t, s))
}
