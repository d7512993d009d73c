package permittest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/permit"
	"github.com/govkit/govkit/region"
)

// Run runs every conformance test as a subtest of t, each on a fresh,
// empty store from newStore.
func Run(t *testing.T, newStore func(t *testing.T) permit.Store) {
	t.Helper()
	if newStore == nil {
		t.Fatal("permittest: newStore is nil")
	}
	tests := []struct {
		name string
		fn   func(*testing.T, permit.Store)
	}{
		{"FixturesSetEveryField", testFixturesSetEveryField},
		{"RoundTrip", testRoundTrip},
		{"Templates", testTemplates},
		{"ReturnsCopies", testReturnsCopies},
		{"NotFound", testNotFound},
		{"CreateTwice", testCreateTwice},
		{"UpdateVersions", testUpdateVersions},
		{"SameRecordTwiceInOneChange", testSameRecordTwiceInOneChange},
		{"IdempotencyKeys", testIdempotencyKeys},
		{"ApplyIsAtomic", testApplyIsAtomic},
		{"ApplicationQueries", testApplicationQueries},
		{"ApplicationPaging", testApplicationPaging},
		{"ExcavationQueries", testExcavationQueries},
		{"ExcavationsNear", testExcavationsNear},
		{"JointAndMoratoriumQueries", testJointAndMoratoriumQueries},
		{"InvalidQueries", testInvalidQueries},
		{"Outbox", testOutbox},
		{"ConcurrentUpdates", testConcurrentUpdates},
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

func apply(t *testing.T, s permit.Store, c permit.Change) {
	t.Helper()
	require.NoError(t, s.Apply(t.Context(), c))
}

func app(t *testing.T, s permit.Store, id uuid.UUID) permit.Application {
	t.Helper()
	a, err := s.Application(t.Context(), id)
	require.NoError(t, err)
	return a
}

func works(t *testing.T, s permit.Store, id uuid.UUID) permit.Excavation {
	t.Helper()
	e, err := s.Excavation(t.Context(), id)
	require.NoError(t, err)
	return e
}

func joint(t *testing.T, s permit.Store, id uuid.UUID) permit.JointExcavation {
	t.Helper()
	j, err := s.Joint(t.Context(), id)
	require.NoError(t, err)
	return j
}

func moratorium(t *testing.T, s permit.Store, seg string, id uuid.UUID) permit.Moratorium {
	t.Helper()
	p, err := s.Moratoria(t.Context(), permit.MoratoriumQuery{Segment: seg, Limit: permit.MaxLimit})
	require.NoError(t, err)
	for _, m := range p.Moratoria {
		if m.ID == id {
			return m
		}
	}
	t.Fatalf("moratorium %s not found on segment %s", id, seg)
	return permit.Moratorium{}
}

func pendingIDs(t *testing.T, s permit.Store) []string {
	t.Helper()
	msgs, err := s.Pending(t.Context(), 1000)
	require.NoError(t, err)
	var out []string
	for _, m := range msgs {
		out = append(out, m.ID)
	}
	return out
}

// testFixturesSetEveryField keeps the round trip honest: a field added to a
// record must be set by the full fixtures, or this fails.
func testFixturesSetEveryField(t *testing.T, _ permit.Store) {
	require.Empty(t, unsetFields(fullApplication(t)), "fullApplication leaves these fields unset")
	require.Empty(t, unsetFields(fullTemplate("newborn", 1)), "fullTemplate leaves these fields unset")
	require.Empty(t, unsetFields(fullExcavation(t)), "fullExcavation leaves these fields unset")
	require.Empty(t, unsetFields(fullJoint(t)), "fullJoint leaves these fields unset")
	require.Empty(t, unsetFields(fullMoratorium(t)), "fullMoratorium leaves these fields unset")
}

// testRoundTrip: what goes in comes out, field by field, through every
// read; an update replaces every field.
func testRoundTrip(t *testing.T, s permit.Store) {
	ctx := t.Context()
	full := fullApplication(t)
	bare := permit.Application{ID: newID(t), Template: "newborn", TemplateVersion: 1, Jurisdiction: yuzhong, Applicant: "a", Status: permit.Draft, Created: base, Version: 1}
	empty := newApplication(t, jiefangbei, "rental-room", "b", permit.Draft)
	empty.Answers, empty.Documents, empty.Offers, empty.Items, empty.History = map[string]permit.Answer{}, map[string]permit.Document{}, map[string]permit.Offer{}, []permit.ItemState{}, []permit.Step{}
	e, j, m := fullExcavation(t), fullJoint(t), fullMoratorium(t)
	bareWorks := permit.Excavation{ID: newID(t), Promoter: "cq-water", Segment: "s", Site: line(29.6), Jurisdiction: guanyin,
		Window: permit.Window{Start: base, End: at(1)}, Status: permit.ExcavationApplied, Version: 1}
	apply(t, s, permit.Change{Applications: []permit.Application{full, bare, empty}, Excavations: []permit.Excavation{e, bareWorks},
		Joints: []permit.JointExcavation{j}, Moratoria: []permit.Moratorium{m}})

	for _, want := range []permit.Application{full, bare, empty} {
		require.Equal(t, want, app(t, s, want.ID))
	}
	byKey, err := s.ApplicationByKey(ctx, full.Key)
	require.NoError(t, err)
	require.Equal(t, full, byKey)
	require.Equal(t, e, works(t, s, e.ID))
	require.Equal(t, bareWorks, works(t, s, bareWorks.ID))
	byKeyW, err := s.ExcavationByKey(ctx, e.Key)
	require.NoError(t, err)
	require.Equal(t, e, byKeyW)
	require.Equal(t, j, joint(t, s, j.ID))
	require.Equal(t, m, moratorium(t, s, m.Segment, m.ID))

	page, err := s.Applications(ctx, permit.ApplicationQuery{})
	require.NoError(t, err)
	require.Equal(t, sortedIDs(full.ID, bare.ID, empty.ID), appIDs(page.Applications))
	for _, got := range page.Applications {
		switch got.ID {
		case full.ID:
			require.Equal(t, full, got)
		case bare.ID:
			require.Equal(t, bare, got)
		default:
			require.Equal(t, empty, got)
		}
	}
	wp, err := s.Excavations(ctx, permit.ExcavationQuery{Segment: e.Segment})
	require.NoError(t, err)
	require.Equal(t, []permit.Excavation{e}, wp.Excavations)
	jp, err := s.Joints(ctx, permit.JointQuery{})
	require.NoError(t, err)
	require.Equal(t, []permit.JointExcavation{j}, jp.Joints)

	// An update replaces every field, dropping what the new version drops.
	next := bumpApp(full)
	next.OnBehalf, next.Offers, next.Outputs, next.Status = nil, nil, nil, permit.Returned
	next.Items[0].Marks, next.Items[0].Status = nil, permit.ItemApproved
	nextW := bumpWorks(e)
	nextW.Joint, nextW.Emergency, nextW.Status = uuid.Nil, false, permit.ExcavationApplied
	nextJ := bumpJoint(j)
	nextJ.Members, nextJ.Status = nextJ.Members[:1], permit.JointCompleted
	nextM := bumpMoratorium(m)
	apply(t, s, permit.Change{Applications: []permit.Application{next}, Excavations: []permit.Excavation{nextW},
		Joints: []permit.JointExcavation{nextJ}, Moratoria: []permit.Moratorium{nextM}})
	require.Equal(t, next, app(t, s, full.ID))
	require.Equal(t, nextW, works(t, s, e.ID))
	require.Equal(t, nextJ, joint(t, s, j.ID))
	require.Equal(t, nextM, moratorium(t, s, m.Segment, m.ID))
}

func appIDs(as []permit.Application) []uuid.UUID {
	var out []uuid.UUID
	for _, a := range as {
		out = append(out, a.ID)
	}
	return out
}

func worksIDs(es []permit.Excavation) []uuid.UUID {
	var out []uuid.UUID
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}

// testTemplates: versions are kept apart, the latest is found, a version
// is created once.
func testTemplates(t *testing.T, s permit.Store) {
	ctx := t.Context()
	v1, v2, r1 := fullTemplate("newborn", 1), fullTemplate("newborn", 2), fullTemplate("rental-room", 1)
	v2.Name = "新生儿出生一件事（第二版）"
	v10 := fullTemplate("newborn", 10)
	apply(t, s, permit.Change{Templates: []permit.Template{v1, r1}})
	apply(t, s, permit.Change{Templates: []permit.Template{v2}})
	for _, tc := range []struct {
		id      string
		version int
		want    permit.Template
	}{{"newborn", 1, v1}, {"newborn", 2, v2}, {"newborn", 0, v2}, {"rental-room", 0, r1}} {
		got, err := s.Template(ctx, tc.id, tc.version)
		require.NoError(t, err)
		require.Equal(t, tc.want, got, "%s@%d", tc.id, tc.version)
	}
	apply(t, s, permit.Change{Templates: []permit.Template{v10}})
	got, err := s.Template(ctx, "newborn", 0)
	require.NoError(t, err)
	require.Equal(t, 10, got.Version, "versions compare as numbers, not strings")
	all, err := s.Templates(ctx)
	require.NoError(t, err)
	require.Equal(t, []permit.Template{v10, r1}, all, "the latest of each, by ID")

	again := fullTemplate("newborn", 2)
	require.ErrorIs(t, s.Apply(ctx, permit.Change{Templates: []permit.Template{again}}), permit.ErrConflict)
	fresh := fullTemplate("school", 1)
	require.ErrorIs(t, s.Apply(ctx, permit.Change{Templates: []permit.Template{fresh, fresh}}), permit.ErrConflict)
	for _, q := range []struct {
		id string
		v  int
	}{{"newborn", 3}, {"school", 0}, {"", 0}, {"newbor", 0}} {
		_, err := s.Template(ctx, q.id, q.v)
		require.ErrorIs(t, err, permit.ErrNotFound, "%s@%d", q.id, q.v)
	}
}

// testReturnsCopies: neither the caller's input nor what the store returns
// shares memory with the store.
func testReturnsCopies(t *testing.T, s permit.Store) {
	ctx := t.Context()
	a, e, j, tpl := fullApplication(t), fullExcavation(t), fullJoint(t), fullTemplate("newborn", 1)
	wantA, wantE, wantJ, wantT := a.Clone(), e.Clone(), j.Clone(), tpl.Clone()
	m := event(t, "started", a.ID.String())
	wantM := m
	wantM.Headers, wantM.Data = maps.Clone(m.Headers), slices.Clone(m.Data)
	apply(t, s, permit.Change{Applications: []permit.Application{a}, Excavations: []permit.Excavation{e}, Joints: []permit.JointExcavation{j},
		Templates: []permit.Template{tpl}, Events: []bus.Message{m}})

	mutA := func(a *permit.Application) {
		a.Answers["child.sex"] = permit.Answer{Value: permit.Text("changed")}
		a.Answers["pets"].Value.List[0] = "changed"
		a.Items[0].Outputs["x"] = permit.Text("changed")
		a.Items[0].Marks[0].Reason = "changed"
		a.Checks[0].Items[0] = "changed"
		a.Corrections[0].Previous["x"] = permit.Answer{}
		a.History[0].Fields[0] = "changed"
		a.Offers["child.name"].Values[1] = permit.Text("changed")
		a.OnBehalf.Relationship = "changed"
		a.Keys[0] = "changed"
	}
	mutE := func(e *permit.Excavation) { e.Site[0].Lat = 0 }
	mutJ := func(j *permit.JointExcavation) { j.Members[0] = uuid.Nil; j.Segments[0] = "changed" }
	mutT := func(t *permit.Template) {
		t.Items[0].Fields[0] = "changed"
		t.Fields[1].Choices[0].Label = "changed"
		t.Proxies[0] = "changed"
	}
	mutA(&a)
	mutE(&e)
	mutJ(&j)
	mutT(&tpl)
	m.Headers["govkit-event"] = "changed"
	m.Data[0] = 'X'
	require.Equal(t, wantA, app(t, s, wantA.ID), "the store shares the caller's application")
	require.Equal(t, wantE, works(t, s, wantE.ID))
	require.Equal(t, wantJ, joint(t, s, wantJ.ID))
	gotT, err := s.Template(ctx, "newborn", 1)
	require.NoError(t, err)
	require.Equal(t, wantT, gotT)

	got := app(t, s, wantA.ID)
	mutA(&got)
	page, err := s.Applications(ctx, permit.ApplicationQuery{})
	require.NoError(t, err)
	mutA(&page.Applications[0])
	byKey, err := s.ApplicationByKey(ctx, wantA.Key)
	require.NoError(t, err)
	mutA(&byKey)
	gotE := works(t, s, wantE.ID)
	mutE(&gotE)
	gotJ := joint(t, s, wantJ.ID)
	mutJ(&gotJ)
	mutT(&gotT)
	require.Equal(t, wantA, app(t, s, wantA.ID), "the store returned a shared application")
	require.Equal(t, wantE, works(t, s, wantE.ID))
	require.Equal(t, wantJ, joint(t, s, wantJ.ID))
	gotT, err = s.Template(ctx, "newborn", 1)
	require.NoError(t, err)
	require.Equal(t, wantT, gotT)

	msgs, err := s.Pending(ctx, 10)
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	require.Equal(t, normalMessage(wantM), normalMessage(msgs[0]))
	msgs[0].Headers["govkit-event"] = "changed"
	msgs[0].Data[0] = 'X'
	msgs, err = s.Pending(ctx, 10)
	require.NoError(t, err)
	require.Equal(t, normalMessage(wantM), normalMessage(msgs[0]))
}

func testNotFound(t *testing.T, s permit.Store) {
	ctx := t.Context()
	a, e := fullApplication(t), fullExcavation(t)
	apply(t, s, permit.Change{Applications: []permit.Application{a}, Excavations: []permit.Excavation{e}})
	for _, id := range []uuid.UUID{newID(t), uuid.Nil} {
		_, err := s.Application(ctx, id)
		require.ErrorIs(t, err, permit.ErrNotFound)
		_, err = s.Excavation(ctx, id)
		require.ErrorIs(t, err, permit.ErrNotFound)
		_, err = s.Joint(ctx, id)
		require.ErrorIs(t, err, permit.ErrNotFound)
	}
	for _, key := range []string{"", "nope", a.Key + " ", "%", "'; --"} {
		_, err := s.ApplicationByKey(ctx, key)
		require.ErrorIs(t, err, permit.ErrNotFound, "key %q", key)
		_, err = s.ExcavationByKey(ctx, key)
		require.ErrorIs(t, err, permit.ErrNotFound, "key %q", key)
	}
}

// testCreateTwice: a record at Version 1 must not exist yet.
func testCreateTwice(t *testing.T, s permit.Store) {
	ctx := t.Context()
	a, e, j, m := fullApplication(t), fullExcavation(t), fullJoint(t), fullMoratorium(t)
	apply(t, s, permit.Change{Applications: []permit.Application{a}, Excavations: []permit.Excavation{e}, Joints: []permit.JointExcavation{j}, Moratoria: []permit.Moratorium{m}})
	a2, e2, j2, m2 := a.Clone(), e.Clone(), j.Clone(), m
	a2.Applicant, e2.Promoter, j2.Lead, m2.Cause = "x", "x", "x", "x"
	for _, c := range []permit.Change{
		{Applications: []permit.Application{a2}}, {Excavations: []permit.Excavation{e2}},
		{Joints: []permit.JointExcavation{j2}}, {Moratoria: []permit.Moratorium{m2}},
	} {
		require.ErrorIs(t, s.Apply(ctx, c), permit.ErrConflict)
	}
	require.Equal(t, a, app(t, s, a.ID))
	require.Equal(t, e, works(t, s, e.ID))
	require.Equal(t, j, joint(t, s, j.ID))
	require.Equal(t, m, moratorium(t, s, m.Segment, m.ID))

	fresh := newApplication(t, yuzhong, "newborn", "c", permit.Draft)
	require.ErrorIs(t, s.Apply(ctx, permit.Change{Applications: []permit.Application{fresh, fresh}}), permit.ErrConflict)
	_, err := s.Application(ctx, fresh.ID)
	require.ErrorIs(t, err, permit.ErrNotFound)
}

// testUpdateVersions: an update applies only over the version before it.
func testUpdateVersions(t *testing.T, s permit.Store) {
	ctx := t.Context()
	a, e, j, m := fullApplication(t), fullExcavation(t), fullJoint(t), fullMoratorium(t)
	apply(t, s, permit.Change{Applications: []permit.Application{a}, Excavations: []permit.Excavation{e}, Joints: []permit.JointExcavation{j}, Moratoria: []permit.Moratorium{m}})
	a2, e2, j2, m2 := bumpApp(a), bumpWorks(e), bumpJoint(j), bumpMoratorium(m)
	apply(t, s, permit.Change{Applications: []permit.Application{a2}, Excavations: []permit.Excavation{e2}, Joints: []permit.JointExcavation{j2}, Moratoria: []permit.Moratorium{m2}})

	stale := []permit.Change{
		{Applications: []permit.Application{bumpApp(a)}}, {Excavations: []permit.Excavation{bumpWorks(e)}},
		{Joints: []permit.JointExcavation{bumpJoint(j)}}, {Moratoria: []permit.Moratorium{bumpMoratorium(m)}},
		{Applications: []permit.Application{bumpApp(bumpApp(a2))}}, {Excavations: []permit.Excavation{bumpWorks(bumpWorks(e2))}},
	}
	for i, c := range stale {
		require.ErrorIs(t, s.Apply(ctx, c), permit.ErrConflict, "change %d", i)
	}
	ghosts := []permit.Change{
		{Applications: []permit.Application{bumpApp(newApplication(t, yuzhong, "newborn", "g", permit.Draft))}},
		{Excavations: []permit.Excavation{bumpWorks(fullExcavation(t))}},
		{Joints: []permit.JointExcavation{bumpJoint(fullJoint(t))}},
		{Moratoria: []permit.Moratorium{bumpMoratorium(fullMoratorium(t))}},
	}
	for i, c := range ghosts {
		err := s.Apply(ctx, c)
		require.ErrorIs(t, err, permit.ErrNotFound, "ghost %d", i)
		require.NotErrorIs(t, err, permit.ErrConflict)
	}
	for _, v := range []int64{0, -1} {
		bad := bumpApp(a2)
		bad.Version = v
		err := s.Apply(ctx, permit.Change{Applications: []permit.Application{bad}})
		require.Error(t, err)
		require.True(t, errors.Is(err, permit.ErrConflict) || errors.Is(err, permit.ErrNotFound) || errors.Is(err, permit.ErrInvalidCommand), "%v", err)
	}
	require.Equal(t, a2, app(t, s, a.ID))
	require.Equal(t, e2, works(t, s, e.ID))
	require.Equal(t, j2, joint(t, s, j.ID))
	require.Equal(t, m2, moratorium(t, s, m.Segment, m.ID))
}

// testSameRecordTwiceInOneChange: records of one ID in a change apply in
// sequence.
func testSameRecordTwiceInOneChange(t *testing.T, s permit.Store) {
	ctx := t.Context()
	a := newApplication(t, yuzhong, "newborn", "a", permit.Draft)
	a2 := bumpApp(a)
	a3 := bumpApp(a2)
	apply(t, s, permit.Change{Applications: []permit.Application{a, a2, a3}})
	require.Equal(t, a3, app(t, s, a.ID))
	a4 := bumpApp(a3)
	a5 := bumpApp(a4)
	require.ErrorIs(t, s.Apply(ctx, permit.Change{Applications: []permit.Application{a5, a4}}), permit.ErrConflict)
	require.Equal(t, a3, app(t, s, a.ID))
	e := newExcavation(t, "cq-gas", "s1", guanyin, permit.ExcavationApplied, 1, 2)
	apply(t, s, permit.Change{Excavations: []permit.Excavation{e, bumpWorks(e)}})
	require.Equal(t, int64(2), works(t, s, e.ID).Version)
	fresh := newApplication(t, yuzhong, "newborn", "b", permit.Draft)
	require.ErrorIs(t, s.Apply(ctx, permit.Change{Applications: []permit.Application{bumpApp(fresh), fresh}}), permit.ErrNotFound)
}

// testIdempotencyKeys: a key belongs to one application (one
// excavation); another record claiming it is refused with the holder.
func testIdempotencyKeys(t *testing.T, s permit.Store) {
	ctx := t.Context()
	a := newApplication(t, yuzhong, "newborn", "a", permit.Draft)
	a.Key = "start-1"
	apply(t, s, permit.Change{Applications: []permit.Application{a}})
	other := newApplication(t, yuzhong, "newborn", "b", permit.Draft)
	other.Key = "start-1"
	err := s.Apply(ctx, permit.Change{Applications: []permit.Application{other}})
	require.ErrorIs(t, err, permit.ErrDuplicateKey)
	var dk *permit.DuplicateKeyError
	require.ErrorAs(t, err, &dk)
	require.Equal(t, a.ID, dk.Existing)
	require.Equal(t, "start-1", dk.Key)
	_, err = s.Application(ctx, other.ID)
	require.ErrorIs(t, err, permit.ErrNotFound)
	// Its own update keeps the key.
	apply(t, s, permit.Change{Applications: []permit.Application{bumpApp(a)}})
	got, err := s.ApplicationByKey(ctx, "start-1")
	require.NoError(t, err)
	require.Equal(t, a.ID, got.ID)
	// Two new records with one key in one change.
	x, y := newApplication(t, yuzhong, "newborn", "x", permit.Draft), newApplication(t, yuzhong, "newborn", "y", permit.Draft)
	x.Key, y.Key = "start-2", "start-2"
	require.ErrorIs(t, s.Apply(ctx, permit.Change{Applications: []permit.Application{x, y}}), permit.ErrDuplicateKey)
	_, err = s.ApplicationByKey(ctx, "start-2")
	require.ErrorIs(t, err, permit.ErrNotFound)
	// Keys of applications and excavations live apart.
	e := newExcavation(t, "cq-gas", "s1", guanyin, permit.ExcavationApplied, 1, 2)
	e.Key = "start-1"
	apply(t, s, permit.Change{Excavations: []permit.Excavation{e}})
	e2 := newExcavation(t, "cq-gas", "s1", guanyin, permit.ExcavationApplied, 1, 2)
	e2.Key = "start-1"
	require.ErrorIs(t, s.Apply(ctx, permit.Change{Excavations: []permit.Excavation{e2}}), permit.ErrDuplicateKey)
	// Records without keys never clash.
	apply(t, s, permit.Change{Applications: []permit.Application{
		newApplication(t, yuzhong, "newborn", "p", permit.Draft), newApplication(t, yuzhong, "newborn", "q", permit.Draft)}})
}

// testApplyIsAtomic: a change that fails leaves nothing of itself behind.
func testApplyIsAtomic(t *testing.T, s permit.Store) {
	ctx := t.Context()
	held := newApplication(t, yuzhong, "newborn", "held", permit.Draft)
	held.Key = "held-key"
	heldW := newExcavation(t, "cq-gas", "s1", guanyin, permit.ExcavationApplied, 1, 2)
	waiting := event(t, "started", "held")
	apply(t, s, permit.Change{Applications: []permit.Application{held}, Excavations: []permit.Excavation{heldW}, Events: []bus.Message{waiting}})
	tests := []struct {
		name string
		bad  func(c *permit.Change)
		want error
	}{
		{"stale application", func(c *permit.Change) { c.Applications = append(c.Applications, bumpApp(held)) }, permit.ErrConflict},
		{"missing application", func(c *permit.Change) {
			c.Applications = append(c.Applications, bumpApp(newApplication(t, yuzhong, "x", "x", permit.Draft)))
		}, permit.ErrNotFound},
		{"key held", func(c *permit.Change) {
			dup := newApplication(t, yuzhong, "newborn", "dup", permit.Draft)
			dup.Key = "held-key"
			c.Applications = append(c.Applications, dup)
		}, permit.ErrDuplicateKey},
		{"stale excavation", func(c *permit.Change) { c.Excavations = append(c.Excavations, bumpWorks(bumpWorks(heldW))) }, permit.ErrConflict}, // version 3 over 1
		{"joint twice", func(c *permit.Change) { j := fullJoint(t); c.Joints = append(c.Joints, j, j) }, permit.ErrConflict},
		{"template twice", func(c *permit.Change) { c.Templates = append(c.Templates, c.Templates[0]) }, permit.ErrConflict},
		{"event waiting", func(c *permit.Change) { c.Events = append(c.Events, waiting) }, permit.ErrConflict},
		{"event twice", func(c *permit.Change) { c.Events = append(c.Events, c.Events[0]) }, permit.ErrConflict},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := pendingIDs(t, s)
			fresh := newApplication(t, jiefangbei, "fresh", "f", permit.InReview, "public-security")
			fresh.Key = "fresh-key"
			freshW := newExcavation(t, "cq-water", "s9", guanyin, permit.ExcavationApplied, 3, 4)
			freshW.Key = "fresh-works"
			freshM := fullMoratorium(t)
			tpl := fullTemplate("fresh-template", 1)
			c := permit.Change{
				Templates: []permit.Template{tpl}, Applications: []permit.Application{fresh, bumpApp(held)},
				Excavations: []permit.Excavation{freshW}, Moratoria: []permit.Moratorium{freshM},
				Events: []bus.Message{event(t, "started", "fresh")},
			}
			tc.bad(&c)
			require.ErrorIs(t, s.Apply(ctx, c), tc.want)
			_, err := s.Application(ctx, fresh.ID)
			require.ErrorIs(t, err, permit.ErrNotFound)
			_, err = s.ApplicationByKey(ctx, "fresh-key")
			require.ErrorIs(t, err, permit.ErrNotFound, "the failed create is not indexed by key")
			_, err = s.ExcavationByKey(ctx, "fresh-works")
			require.ErrorIs(t, err, permit.ErrNotFound)
			_, err = s.Template(ctx, "fresh-template", 0)
			require.ErrorIs(t, err, permit.ErrNotFound)
			p, err := s.Applications(ctx, permit.ApplicationQuery{Department: "public-security"})
			require.NoError(t, err)
			require.Empty(t, p.Applications)
			mp, err := s.Moratoria(ctx, permit.MoratoriumQuery{})
			require.NoError(t, err)
			require.Empty(t, mp.Moratoria)
			wp, err := s.Excavations(ctx, permit.ExcavationQuery{Near: freshW.Site.BBox()})
			require.NoError(t, err)
			require.Equal(t, []uuid.UUID{heldW.ID}, worksIDs(wp.Excavations), "the failed create is not indexed by site")
			require.Equal(t, held, app(t, s, held.ID))
			require.Equal(t, heldW, works(t, s, heldW.ID))
			require.Equal(t, before, pendingIDs(t, s))
		})
	}
}

// testApplicationQueries: every filter alone and combined.
func testApplicationQueries(t *testing.T, s permit.Store) {
	ctx := t.Context()
	all := []permit.Application{
		newApplication(t, jiefangbei, "newborn", "li", permit.InReview, "public-security", "health-commission"),  // 0
		newApplication(t, jiefangbei, "newborn", "wang", permit.Draft),                                           // 1
		newApplication(t, chaotianmen, "newborn", "li", permit.Returned, "hrss"),                                 // 2
		newApplication(t, chaotianmen, "rental-room", "wang", permit.InReview, "public-security", "fire-rescue"), // 3
		newApplication(t, guanyin, "newborn", "zhao", permit.Completed),                                          // 4
		newApplication(t, chengdu, "newborn", "li", permit.InReview, "public-security"),                          // 5
		newApplication(t, yuzhong, "rental-room", "li", permit.Rejected),                                         // 6
	}
	shuffled := slices.Clone(all)
	slices.Reverse(shuffled)
	apply(t, s, permit.Change{Applications: shuffled})
	pick := func(idx ...int) []uuid.UUID {
		var ids []uuid.UUID
		for _, i := range idx {
			ids = append(ids, all[i].ID)
		}
		return sortedIDs(ids...)
	}
	cases := []struct {
		name string
		q    permit.ApplicationQuery
		want []uuid.UUID
	}{
		{"none", permit.ApplicationQuery{}, pick(0, 1, 2, 3, 4, 5, 6)},
		{"within street", permit.ApplicationQuery{Within: jiefangbei}, pick(0, 1)},
		{"within district", permit.ApplicationQuery{Within: yuzhong}, pick(0, 1, 2, 3, 6)},
		{"within Chongqing", permit.ApplicationQuery{Within: "500000"}, pick(0, 1, 2, 3, 4, 6)},
		{"within Chongqing's districts", permit.ApplicationQuery{Within: "500100"}, pick(0, 1, 2, 3, 4, 6)},
		{"within a grid", permit.ApplicationQuery{Within: "500103001001001"}, nil},
		{"template", permit.ApplicationQuery{Template: "rental-room"}, pick(3, 6)},
		{"statuses", permit.ApplicationQuery{Statuses: []permit.Status{permit.InReview, permit.Returned}}, pick(0, 2, 3, 5)},
		{"department in review", permit.ApplicationQuery{Department: "public-security"}, pick(0, 3, 5)},
		{"department waiting is not in review", permit.ApplicationQuery{Department: "waiting-dept"}, nil},
		{"department is exact", permit.ApplicationQuery{Department: "public"}, nil},
		{"applicant", permit.ApplicationQuery{Applicant: "li"}, pick(0, 2, 5, 6)},
		{"combined", permit.ApplicationQuery{Applicant: "li", Within: yuzhong, Statuses: []permit.Status{permit.InReview, permit.Returned}}, pick(0, 2)},
		{"department within", permit.ApplicationQuery{Department: "public-security", Within: yuzhong, Template: "newborn"}, pick(0)},
	}
	for _, tc := range cases {
		p, err := s.Applications(ctx, tc.q)
		require.NoError(t, err, tc.name)
		require.Equal(t, tc.want, appIDs(p.Applications), tc.name)
		require.Equal(t, uuid.Nil, p.Next, tc.name)
	}
	// Queries follow updates: the department index moves with the items.
	moved := bumpApp(all[0])
	moved.Items[0].Status = permit.ItemApproved
	apply(t, s, permit.Change{Applications: []permit.Application{moved}})
	p, err := s.Applications(ctx, permit.ApplicationQuery{Department: "public-security"})
	require.NoError(t, err)
	require.Equal(t, pick(3, 5), appIDs(p.Applications))
	p, err = s.Applications(ctx, permit.ApplicationQuery{Department: "health-commission"})
	require.NoError(t, err)
	require.Equal(t, pick(0), appIDs(p.Applications))
}

// testApplicationPaging: Limit, After and Next walk every match once.
func testApplicationPaging(t *testing.T, s permit.Store) {
	ctx := t.Context()
	var ids []uuid.UUID
	var batch []permit.Application
	for i := range 23 {
		a := newApplication(t, jiefangbei, "newborn", fmt.Sprintf("a-%d", i%3), permit.InReview, "public-security")
		ids = append(ids, a.ID)
		batch = append(batch, a)
	}
	apply(t, s, permit.Change{Applications: batch})
	for _, q := range []permit.ApplicationQuery{{Limit: 5}, {Limit: 5, Department: "public-security"}, {Limit: 4, Applicant: "a-1"}} {
		var got []uuid.UUID
		pages := 0
		for {
			p, err := s.Applications(ctx, q)
			require.NoError(t, err)
			require.LessOrEqual(t, len(p.Applications), q.Limit)
			got = append(got, appIDs(p.Applications)...)
			pages++
			if p.Next == uuid.Nil {
				break
			}
			require.Equal(t, p.Applications[len(p.Applications)-1].ID, p.Next)
			q.After = p.Next
			require.Less(t, pages, 30)
		}
		var want []uuid.UUID
		for i, id := range ids {
			if q.Applicant == "" || fmt.Sprintf("a-%d", i%3) == q.Applicant {
				want = append(want, id)
			}
		}
		require.Equal(t, sortedIDs(want...), got)
	}
	p, err := s.Applications(ctx, permit.ApplicationQuery{})
	require.NoError(t, err)
	require.Len(t, p.Applications, 23, "the default page holds 100")
	p, err = s.Applications(ctx, permit.ApplicationQuery{Limit: 23})
	require.NoError(t, err)
	require.Equal(t, uuid.Nil, p.Next, "an exactly full last page has no next")
}

func testExcavationQueries(t *testing.T, s permit.Store) {
	ctx := t.Context()
	j := newID(t)
	all := []permit.Excavation{
		newExcavation(t, "cq-gas", "jianxin-1", guanyin, permit.ExcavationApplied, 1, 10),     // 0
		newExcavation(t, "cq-water", "jianxin-1", guanyin, permit.ExcavationProposed, 20, 25), // 1
		newExcavation(t, "china-telecom", "lane", guanyin, permit.ExcavationMerged, 5, 8),     // 2
		newExcavation(t, "cq-gas", "far", "500105002", permit.ExcavationCompleted, 40, 41),    // 3
		newExcavation(t, "cq-gas", "cd-1", chengdu, permit.ExcavationApplied, 1, 2),           // 4
	}
	all[1].Joint, all[2].Joint = j, j
	apply(t, s, permit.Change{Excavations: all})
	pick := func(idx ...int) []uuid.UUID {
		var ids []uuid.UUID
		for _, i := range idx {
			ids = append(ids, all[i].ID)
		}
		return sortedIDs(ids...)
	}
	day := func(d int) time.Time { return at(24 * d) }
	cases := []struct {
		name string
		q    permit.ExcavationQuery
		want []uuid.UUID
	}{
		{"none", permit.ExcavationQuery{}, pick(0, 1, 2, 3, 4)},
		{"within street", permit.ExcavationQuery{Within: guanyin}, pick(0, 1, 2)},
		{"within district", permit.ExcavationQuery{Within: jiangbei}, pick(0, 1, 2, 3)},
		{"segment", permit.ExcavationQuery{Segment: "jianxin-1"}, pick(0, 1)},
		{"promoter", permit.ExcavationQuery{Promoter: "cq-gas"}, pick(0, 3, 4)},
		{"statuses", permit.ExcavationQuery{Statuses: []permit.ExcavationStatus{permit.ExcavationApplied, permit.ExcavationMerged}}, pick(0, 2, 4)},
		{"during", permit.ExcavationQuery{During: permit.Window{Start: day(9), End: day(21)}}, pick(0, 1)},
		{"during touches nothing at the edges", permit.ExcavationQuery{During: permit.Window{Start: day(10), End: day(20)}}, nil},
		{"joint", permit.ExcavationQuery{Joint: j}, pick(1, 2)},
		{"combined", permit.ExcavationQuery{Segment: "jianxin-1", Promoter: "cq-gas", Within: jiangbei}, pick(0)},
	}
	for _, tc := range cases {
		p, err := s.Excavations(ctx, tc.q)
		require.NoError(t, err, tc.name)
		require.Equal(t, tc.want, worksIDs(p.Excavations), tc.name)
	}
	var got []uuid.UUID
	q := permit.ExcavationQuery{Limit: 2}
	for {
		p, err := s.Excavations(ctx, q)
		require.NoError(t, err)
		got = append(got, worksIDs(p.Excavations)...)
		if p.Next == uuid.Nil {
			break
		}
		q.After = p.Next
	}
	require.Equal(t, pick(0, 1, 2, 3, 4), got)
}

// testExcavationsNear: Near selects the works whose site's bounding box
// meets the box, edges included, alone, combined with the other filters
// and through pages; updates move a work; works without a site are never
// near anything.
func testExcavationsNear(t *testing.T, s permit.Store) {
	ctx := t.Context()
	// box is about 220 m × 390 m on Jianxin North Road.
	box := geo.BBox{MinLat: 29.574, MinLon: 106.529, MaxLat: 29.576, MaxLon: 106.533}
	site := func(lat1, lon1, lat2, lon2 float64) geo.LineString {
		return geo.LineString{{Lat: lat1, Lon: lon1}, {Lat: lat2, Lon: lon2}}
	}
	beyond := math.Nextafter // the next float64 that way: no fuzz at the edges
	type work struct {
		promoter, segment string
		unit              region.Code
		status            permit.ExcavationStatus
		from, to          int
		site              geo.LineString
		near              bool // its box meets box
	}
	applied, drainage := permit.ExcavationApplied, "cq-drainage"
	fixtures := []work{
		{"cq-gas", "a", guanyin, applied, 1, 10, site(29.575, 106.530, 29.575, 106.532), true},                                                                      // 0 inside
		{"cq-gas", "a", guanyin, applied, 1, 10, site(29.600, 106.530, 29.600, 106.532), false},                                                                     // 1 2.7 km north
		{"cq-water", "b", guanyin, permit.ExcavationProposed, 20, 25, site(29.575, 106.533, 29.575, 106.535), true},                                                 // 2 starts on the east edge
		{"cq-water", "b", guanyin, applied, 20, 25, site(29.575, beyond(106.533, 180), 29.575, 106.535), false},                                                     // 3 starts just east of it
		{"china-telecom", "a", "500105002", applied, 5, 8, site(29.575, 106.520, 29.575, 106.540), true},                                                            // 4 crosses it, no vertex inside
		{"china-mobile", "c", chengdu, permit.ExcavationCompleted, 1, 2, site(29.577, 106.532, 29.575, 106.5345), true},                                             // 5 diagonal passing north-east of it
		{"state-grid", "b", guanyin, applied, 40, 41, nil, false},                                                                                                   // 6 no site
		{"state-grid", "b", guanyin, applied, 40, 41, site(29.576, 106.533, 29.578, 106.535), true},                                                                 // 7 touches the north-east corner
		{drainage, "d", guanyin, applied, 1, 10, site(29.570, 106.530, beyond(29.574, -90), 106.531), false},                                                        // 8 ends just south of it
		{drainage, "d", guanyin, applied, 1, 10, site(29.580, 106.520, 29.570, 106.530), true},                                                                      // 9 diagonal passing west of it
		{drainage, "d", guanyin, applied, 1, 10, site(29.570, 106.531, 29.580, 106.531), true},                                                                      // 10 crosses it north to south
		{drainage, "d", guanyin, applied, 1, 10, site(29.575, 106.529, 29.575, 106.529), true},                                                                      // 11 a point on the west edge
		{drainage, "d", guanyin, applied, 1, 10, site(beyond(29.576, 90), 106.530, beyond(29.576, 90), 106.530), false},                                             // 12 a point just north of it
		{drainage, "d", guanyin, applied, 1, 10, site(29.575, 106.400, 29.575, 106.410), false},                                                                     // 13 far west
		{drainage, "d", guanyin, applied, 1, 10, site(29.574, 106.529, 29.576, 106.533), true},                                                                      // 14 its diagonal
		{drainage, "d", guanyin, applied, 1, 10, geo.LineString{{Lat: 29.570, Lon: 106.525}, {Lat: 29.580, Lon: 106.525}, {Lat: 29.580, Lon: 106.540}}, true},       // 15 around it
		{drainage, "d", guanyin, applied, 1, 10, geo.LineString{{Lat: 29.5745, Lon: 106.5295}, {Lat: 29.5755, Lon: 106.5305}, {Lat: 29.5745, Lon: 106.5315}}, true}, // 16 inside
		{drainage, "d", guanyin, applied, 1, 10, site(29.575, 106.520, 29.575, beyond(106.529, -180)), false},                                                       // 17 ends just west of it
		{drainage, "d", guanyin, applied, 1, 10, site(29.574, 106.530, 29.560, 106.530), true},                                                                      // 18 ends on the south edge
		{drainage, "d", guanyin, applied, 1, 10, site(beyond(29.576, 90), beyond(106.533, 180), 29.580, 106.540), false},                                            // 19 just north-east of the corner
		{drainage, "d", guanyin, applied, 1, 10, site(29.570, 106.534, 29.580, 106.534), false},                                                                     // 20 east of it, its whole height
		{drainage, "d", guanyin, applied, 1, 10, site(29.577, 106.520, 29.577, 106.540), false},                                                                     // 21 north of it, its whole width
		{drainage, "d", guanyin, applied, 1, 10, site(29.576, 106.530, 29.579, 106.531), true},                                                                      // 22 starts on the north edge
		{drainage, "d", guanyin, applied, 1, 10, site(29.5735, 106.5325, 29.5745, 106.5335), true},                                                                  // 23 crosses the south-east corner
	}
	all := make([]permit.Excavation, len(fixtures))
	for i, f := range fixtures {
		all[i] = newExcavation(t, f.promoter, f.segment, f.unit, f.status, f.from, f.to)
		all[i].Site = f.site
	}
	apply(t, s, permit.Change{Excavations: all})
	// where returns the IDs of the works for which keep holds, in ID order.
	where := func(keep func(i int, f work) bool) []uuid.UUID {
		var ids []uuid.UUID
		for i, f := range fixtures {
			if keep(i, f) {
				ids = append(ids, all[i].ID)
			}
		}
		return sortedIDs(ids...)
	}
	pick := func(idx ...int) []uuid.UUID {
		return where(func(i int, _ work) bool { return slices.Contains(idx, i) })
	}
	near := where(func(_ int, f work) bool { return f.near })
	day := func(d int) time.Time { return at(24 * d) }
	point := func(lat, lon float64) geo.BBox { return geo.BBox{MinLat: lat, MinLon: lon, MaxLat: lat, MaxLon: lon} }
	cases := []struct {
		name string
		q    permit.ExcavationQuery
		want []uuid.UUID
	}{
		{"near", permit.ExcavationQuery{Near: box}, near},
		{"near nothing", permit.ExcavationQuery{Near: geo.BBox{MinLat: 30.0, MinLon: 107.0, MaxLat: 30.1, MaxLon: 107.1}}, nil},
		{"a point", permit.ExcavationQuery{Near: point(29.575, 106.531)}, pick(0, 4, 10, 14, 15, 16)},
		{"a point at the end of sites", permit.ExcavationQuery{Near: point(29.575, 106.535)}, pick(2, 3, 4, 15)},
		{"the world", permit.ExcavationQuery{Near: geo.BBox{MinLat: -90, MinLon: -180, MaxLat: 90, MaxLon: 180}},
			where(func(_ int, f work) bool { return f.site != nil })},
		{"near and statuses", permit.ExcavationQuery{Near: box, Statuses: []permit.ExcavationStatus{permit.ExcavationProposed, permit.ExcavationCompleted}}, pick(2, 5)},
		{"near and during", permit.ExcavationQuery{Near: box, During: permit.Window{Start: day(9), End: day(21)}},
			where(func(_ int, f work) bool { return f.near && f.from < 21 && f.to > 9 })},
		{"near and within", permit.ExcavationQuery{Near: box, Within: chengdu}, pick(5)},
		{"near, within a district and promoter", permit.ExcavationQuery{Near: box, Within: jiangbei, Promoter: "cq-gas"}, pick(0)},
		{"near and segment", permit.ExcavationQuery{Near: box, Segment: "a"}, pick(0, 4)},
		{"near, segment and status", permit.ExcavationQuery{Near: box, Segment: "b", Statuses: []permit.ExcavationStatus{applied}}, pick(7)},
		{"near, within and during", permit.ExcavationQuery{Near: box, Within: guanyin, During: permit.Window{Start: day(39), End: day(42)}}, pick(7)},
	}
	for _, tc := range cases {
		p, err := s.Excavations(ctx, tc.q)
		require.NoError(t, err, tc.name)
		require.Equal(t, tc.want, worksIDs(p.Excavations), tc.name)
		require.Equal(t, uuid.Nil, p.Next, tc.name)
	}

	// Pages of the filter, in ID order.
	var got []uuid.UUID
	q := permit.ExcavationQuery{Near: box, Limit: 3}
	for pages := 0; ; pages++ {
		require.Less(t, pages, len(near), "paging does not end")
		p, err := s.Excavations(ctx, q)
		require.NoError(t, err)
		require.LessOrEqual(t, len(p.Excavations), 3)
		got = append(got, worksIDs(p.Excavations)...)
		if p.Next == uuid.Nil {
			break
		}
		require.Equal(t, got[len(got)-1], p.Next)
		q.After = p.Next
	}
	require.Equal(t, near, got)
	p, err := s.Excavations(ctx, permit.ExcavationQuery{Near: box, Limit: 2, After: near[3]})
	require.NoError(t, err)
	require.Equal(t, near[4:6], worksIDs(p.Excavations))
	require.Equal(t, near[5], p.Next)
	p, err = s.Excavations(ctx, permit.ExcavationQuery{Near: box, Limit: len(near)})
	require.NoError(t, err)
	require.Equal(t, near, worksIDs(p.Excavations))
	require.Equal(t, uuid.Nil, p.Next, "an exactly full last page has no next")
	proposedOrDone := []permit.ExcavationStatus{permit.ExcavationProposed, permit.ExcavationCompleted}
	p, err = s.Excavations(ctx, permit.ExcavationQuery{Near: box, Statuses: proposedOrDone, Limit: 1})
	require.NoError(t, err)
	require.Equal(t, pick(2, 5)[:1], worksIDs(p.Excavations), "filters and paging together")
	p, err = s.Excavations(ctx, permit.ExcavationQuery{Near: box, Statuses: proposedOrDone, Limit: 1, After: p.Next})
	require.NoError(t, err)
	require.Equal(t, pick(2, 5)[1:], worksIDs(p.Excavations))
	require.Equal(t, uuid.Nil, p.Next)

	// An update moves a work in or out; what comes back is whole.
	in, out := bumpWorks(all[1]), bumpWorks(all[0])
	in.Site, out.Site = fixtures[0].site, fixtures[1].site
	apply(t, s, permit.Change{Excavations: []permit.Excavation{in, out}})
	p, err = s.Excavations(ctx, permit.ExcavationQuery{Near: box, Segment: "a"})
	require.NoError(t, err)
	require.Equal(t, pick(1, 4), worksIDs(p.Excavations))
	p, err = s.Excavations(ctx, permit.ExcavationQuery{Near: box, Promoter: "cq-gas"})
	require.NoError(t, err)
	require.Equal(t, []permit.Excavation{in}, p.Excavations)
	p, err = s.Excavations(ctx, permit.ExcavationQuery{Near: out.Site.BBox()})
	require.NoError(t, err)
	require.Equal(t, []permit.Excavation{out}, p.Excavations)
	// Losing its site takes a work out of every box.
	bare := bumpWorks(in)
	bare.Site = nil
	apply(t, s, permit.Change{Excavations: []permit.Excavation{bare}})
	p, err = s.Excavations(ctx, permit.ExcavationQuery{Near: box, Promoter: "cq-gas"})
	require.NoError(t, err)
	require.Empty(t, p.Excavations)

	// Records of one ID in a change: the last one's site counts.
	moved := newExcavation(t, "cq-gas", "e", guanyin, applied, 1, 2)
	moved.Site = fixtures[0].site
	away := bumpWorks(moved)
	away.Site = fixtures[13].site
	apply(t, s, permit.Change{Excavations: []permit.Excavation{moved, away}})
	p, err = s.Excavations(ctx, permit.ExcavationQuery{Near: box, Promoter: "cq-gas"})
	require.NoError(t, err)
	require.Empty(t, p.Excavations)
	p, err = s.Excavations(ctx, permit.ExcavationQuery{Near: away.Site.BBox(), Promoter: "cq-gas"})
	require.NoError(t, err)
	require.Equal(t, []permit.Excavation{away}, p.Excavations)
}

func testJointAndMoratoriumQueries(t *testing.T, s permit.Store) {
	ctx := t.Context()
	j1, j2, j3 := fullJoint(t), fullJoint(t), fullJoint(t)
	j2.Status, j3.Jurisdiction = permit.JointProposed, chengdu
	m1, m2, m3 := fullMoratorium(t), fullMoratorium(t), fullMoratorium(t)
	m2.Segment = "lane"
	m3.Jurisdiction, m3.From, m3.Until = chengdu, at(0), at(24)
	apply(t, s, permit.Change{Joints: []permit.JointExcavation{j1, j2, j3}, Moratoria: []permit.Moratorium{m1, m2, m3}})
	jp, err := s.Joints(ctx, permit.JointQuery{Within: jiangbei})
	require.NoError(t, err)
	require.Len(t, jp.Joints, 2)
	jp, err = s.Joints(ctx, permit.JointQuery{Statuses: []permit.JointStatus{permit.JointProposed}})
	require.NoError(t, err)
	require.Equal(t, []permit.JointExcavation{j2}, jp.Joints)
	jp, err = s.Joints(ctx, permit.JointQuery{Limit: 1})
	require.NoError(t, err)
	require.Len(t, jp.Joints, 1)
	require.NotEqual(t, uuid.Nil, jp.Next)

	mids := func(p permit.MoratoriumPage) []uuid.UUID {
		var out []uuid.UUID
		for _, m := range p.Moratoria {
			out = append(out, m.ID)
		}
		return out
	}
	mp, err := s.Moratoria(ctx, permit.MoratoriumQuery{Segment: "jianxin-1"})
	require.NoError(t, err)
	require.Equal(t, sortedIDs(m1.ID, m3.ID), mids(mp))
	mp, err = s.Moratoria(ctx, permit.MoratoriumQuery{Within: jiangbei})
	require.NoError(t, err)
	require.Equal(t, sortedIDs(m1.ID, m2.ID), mids(mp))
	mp, err = s.Moratoria(ctx, permit.MoratoriumQuery{Segment: "jianxin-1", During: permit.Window{Start: at(24 * 100), End: at(24 * 101)}})
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{m1.ID}, mids(mp), "only those in force then")
	mp, err = s.Moratoria(ctx, permit.MoratoriumQuery{During: permit.Window{Start: at(24 * 10), End: at(24 * 11)}})
	require.NoError(t, err)
	require.Empty(t, mp.Moratoria)
}

func testInvalidQueries(t *testing.T, s permit.Store) {
	ctx := t.Context()
	for _, limit := range []int{-1, permit.MaxLimit + 1} {
		_, err := s.Applications(ctx, permit.ApplicationQuery{Limit: limit})
		require.ErrorIs(t, err, permit.ErrInvalidQuery)
		_, err = s.Excavations(ctx, permit.ExcavationQuery{Limit: limit})
		require.ErrorIs(t, err, permit.ErrInvalidQuery)
		_, err = s.Joints(ctx, permit.JointQuery{Limit: limit})
		require.ErrorIs(t, err, permit.ErrInvalidQuery)
		_, err = s.Moratoria(ctx, permit.MoratoriumQuery{Limit: limit})
		require.ErrorIs(t, err, permit.ErrInvalidQuery)
	}
	_, err := s.Applications(ctx, permit.ApplicationQuery{Within: region.Code("5001")})
	require.ErrorIs(t, err, permit.ErrInvalidQuery)
	_, err = s.Excavations(ctx, permit.ExcavationQuery{During: permit.Window{Start: at(2), End: at(1)}})
	require.ErrorIs(t, err, permit.ErrInvalidQuery)
	held := newExcavation(t, "cq-gas", "s1", guanyin, permit.ExcavationApplied, 1, 2)
	apply(t, s, permit.Change{Excavations: []permit.Excavation{held}})
	good := geo.BBox{MinLat: 29.5, MinLon: 106.5, MaxLat: 29.6, MaxLon: 106.6}
	for name, bad := range map[string]func(b *geo.BBox){
		"reversed latitudes":   func(b *geo.BBox) { b.MinLat, b.MaxLat = b.MaxLat, b.MinLat },
		"reversed longitudes":  func(b *geo.BBox) { b.MinLon, b.MaxLon = b.MaxLon, b.MinLon },
		"NaN":                  func(b *geo.BBox) { b.MaxLon = math.NaN() },
		"infinite":             func(b *geo.BBox) { b.MinLat = math.Inf(-1) },
		"latitude beyond 90":   func(b *geo.BBox) { b.MaxLat = 90.5 },
		"longitude below -180": func(b *geo.BBox) { b.MinLon = -181 },
		"empty":                func(b *geo.BBox) { *b = geo.EmptyBBox() },
	} {
		near := good
		bad(&near)
		for _, q := range []permit.ExcavationQuery{{Near: near}, {Near: near, Segment: "s1"}} {
			_, err := s.Excavations(ctx, q)
			require.ErrorIs(t, err, permit.ErrInvalidQuery, name)
			var ge *geo.GeometryError
			require.ErrorAs(t, err, &ge, name)
		}
	}
	p, err := s.Excavations(ctx, permit.ExcavationQuery{Near: good})
	require.NoError(t, err)
	require.Equal(t, []permit.Excavation{held}, p.Excavations, "a refused query changes nothing")
	_, err = s.Moratoria(ctx, permit.MoratoriumQuery{During: permit.Window{Start: at(2)}})
	require.ErrorIs(t, err, permit.ErrInvalidQuery)
}

// testOutbox: events wait in commit order until marked published.
func testOutbox(t *testing.T, s permit.Store) {
	ctx := t.Context()
	var want []string
	for i := range 5 {
		a := newApplication(t, yuzhong, "newborn", fmt.Sprint(i), permit.Draft)
		m1, m2 := event(t, "started", a.ID.String()), event(t, "submitted", a.ID.String())
		apply(t, s, permit.Change{Applications: []permit.Application{a}, Events: []bus.Message{m1, m2}})
		want = append(want, m1.ID, m2.ID)
	}
	require.Equal(t, want, pendingIDs(t, s))
	msgs, err := s.Pending(ctx, 3)
	require.NoError(t, err)
	require.Len(t, msgs, 3)
	require.NoError(t, s.MarkPublished(ctx, want[1], "unknown-id"))
	require.Equal(t, append([]string{want[0]}, want[2:]...), pendingIDs(t, s))
	require.NoError(t, s.MarkPublished(ctx, want...))
	require.Empty(t, pendingIDs(t, s))
	require.NoError(t, s.MarkPublished(ctx))
	// A published ID may not be reused while waiting; a waiting one may not.
	m := event(t, "x", "k")
	apply(t, s, permit.Change{Events: []bus.Message{m}})
	require.ErrorIs(t, s.Apply(ctx, permit.Change{Events: []bus.Message{m}}), permit.ErrConflict)
}

// testConcurrentUpdates: read-modify-write writers that retry on conflict
// lose nothing.
func testConcurrentUpdates(t *testing.T, s permit.Store) {
	ctx := t.Context()
	a := newApplication(t, yuzhong, "newborn", "a", permit.Draft)
	apply(t, s, permit.Change{Applications: []permit.Application{a}})
	const writers, each = 4, 10
	var wg sync.WaitGroup
	var conflicts sync.Map
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; {
				cur, err := s.Application(ctx, a.ID)
				if err != nil {
					t.Error(err)
					return
				}
				next := cur.Clone()
				next.Version++
				next.Keys = append(next.Keys, fmt.Sprintf("w%d-%d", w, i))
				switch err := s.Apply(ctx, permit.Change{Applications: []permit.Application{next}}); {
				case err == nil:
					i++
				case errors.Is(err, permit.ErrConflict):
					conflicts.Store(w, true)
				default:
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	got := app(t, s, a.ID)
	require.Equal(t, int64(1+writers*each), got.Version)
	require.Len(t, got.Keys, writers*each, "no update lost")

	// Concurrent creates of one key: one wins.
	var wins sync.Map
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x := newApplication(t, yuzhong, "newborn", fmt.Sprint(w), permit.Draft)
			x.Key = "race"
			if err := s.Apply(ctx, permit.Change{Applications: []permit.Application{x}}); err == nil {
				wins.Store(w, x.ID)
			} else if !errors.Is(err, permit.ErrDuplicateKey) {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	n := 0
	wins.Range(func(_, _ any) bool { n++; return true })
	require.Equal(t, 1, n)
}

func testCancelledContext(t *testing.T, s permit.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	a := newApplication(t, yuzhong, "newborn", "a", permit.Draft)
	require.Error(t, s.Apply(ctx, permit.Change{Applications: []permit.Application{a}}))
	_, err := s.Application(t.Context(), a.ID)
	require.ErrorIs(t, err, permit.ErrNotFound)
}
