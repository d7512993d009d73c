package incidenttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/incident"
	"github.com/govkit/govkit/region"
)

// Run runs every conformance test as a subtest of t, each on a fresh,
// empty store from newStore. The store is left to the test's cleanup to
// close.
func Run(t *testing.T, newStore func(t *testing.T) incident.Store) {
	t.Helper()
	if newStore == nil {
		t.Fatal("incidenttest: newStore is nil")
	}
	tests := []struct {
		name string
		fn   func(*testing.T, incident.Store)
	}{
		{"RoundTrip", testRoundTrip},
		{"ReturnsCopies", testReturnsCopies},
		{"TimelineReturnsCopies", testTimelineReturnsCopies},
		{"NotFound", testNotFound},
		{"DuplicateID", testDuplicateID},
		{"DuplicateKey", testDuplicateKey},
		{"UpdateVersions", testUpdateVersions},
		{"ApplyIsAtomic", testApplyIsAtomic},
		{"Timeline", testTimeline},
		{"LastEntry", testLastEntry},
		{"TimelineHashChain", testTimelineHashChain},
		{"FindFilters", testFindFilters},
		{"FindPaging", testFindPaging},
		{"FindInvalidQuery", testFindInvalidQuery},
		{"Nearby", testNearby},
		{"NearbyRanksAndLimits", testNearbyRanksAndLimits},
		{"Outbox", testOutbox},
		{"ConcurrentUpdates", testConcurrentUpdates},
		{"ConcurrentCreatesSameKey", testConcurrentCreatesSameKey},
		{"CancelledContext", testCancelledContext},
		{"TimelineOfUnknownIncident", testTimelineOfUnknownIncident},
		{"NearbyFollowsUpdates", testNearbyFollowsUpdates},
		{"FindFollowsMoves", testFindFollowsMoves},
		{"DuplicateEventInOneChange", testDuplicateEventInOneChange},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			require.NotNil(t, s, "newStore returned nil")
			tc.fn(t, s)
		})
	}
}

func apply(t *testing.T, s incident.Store, c incident.Change) {
	t.Helper()
	require.NoError(t, s.Apply(t.Context(), c))
}

func create(t *testing.T, s incident.Store, incs ...incident.Incident) {
	t.Helper()
	apply(t, s, incident.Change{Create: incs})
}

func get(t *testing.T, s incident.Store, id uuid.UUID) incident.Incident {
	t.Helper()
	inc, err := s.Get(t.Context(), id)
	require.NoError(t, err)
	return inc
}

func requireAbsent(t *testing.T, s incident.Store, id uuid.UUID) {
	t.Helper()
	_, err := s.Get(t.Context(), id)
	require.ErrorIs(t, err, incident.ErrNotFound, "incident %s should not exist", id)
}

func pendingIDs(t *testing.T, s incident.Store) []string {
	t.Helper()
	msgs, err := s.Pending(t.Context(), incident.MaxLimit)
	require.NoError(t, err)
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.ID
	}
	return out
}

// bump returns inc as the next version, with a change a command would make.
func bump(inc incident.Incident) incident.Incident {
	inc = inc.Clone()
	inc.Version++
	inc.Handlers = append(inc.Handlers, fmt.Sprintf("handler-v%d", inc.Version))
	return inc
}

// testRoundTrip: what goes in comes out, field by field, through every read.
func testRoundTrip(t *testing.T, s incident.Store) {
	ctx := t.Context()
	full := fullIncident(t)
	// A bare case: nil maps and slices, zero times, no path, no keys.
	bare := incident.Incident{
		ID: newID(t), Channel: incident.SensorAlarm, Category: manhole,
		Location: incident.Location{Point: geo.Point{Lat: 29.5012, Lon: 106.4988}},
		Status:   incident.Triage, Confidence: 0.42,
		Times:   incident.Times{Reported: base.Add(time.Second)},
		Version: 1,
	}
	create(t, s, full, bare)

	AssertIncidentEqual(t, full, get(t, s, full.ID))
	AssertIncidentEqual(t, bare, get(t, s, bare.ID))
	for _, k := range full.Keys {
		got, err := s.ByKey(ctx, k)
		require.NoError(t, err, "ByKey(%q)", k)
		AssertIncidentEqual(t, full, got)
	}

	page, err := s.Find(ctx, incident.Query{})
	require.NoError(t, err)
	require.Equal(t, sortedIDs(full, bare), ids(page.Incidents))
	for _, got := range page.Incidents {
		if got.ID == full.ID {
			AssertIncidentEqual(t, full, got)
		} else {
			AssertIncidentEqual(t, bare, got)
		}
	}

	near, err := s.Nearby(ctx, incident.NearbyQuery{Category: muckTruck, Center: full.Location.Point, Meters: 10, Since: base})
	require.NoError(t, err)
	require.Len(t, near, 1)
	AssertIncidentEqual(t, full, near[0])

	// An update replaces every field.
	next := bump(full)
	next.Status = incident.InProgress
	next.Reporters = append(next.Reporters, incident.Reporter{
		Channel: incident.Hotline, Name: mustName(t, "李四"), Phone: mustPhone(t, "15923456789"),
		ReportedAt: base.Add(time.Hour), ExternalID: "CQ12345-20240305-000311",
	})
	next.Keys = append(next.Keys, "hotline:CQ12345-20240305-000311")
	next.Attributes["plate"] = []string{"渝A12345", "渝B67890"}
	delete(next.ExternalIDs, "cq-smart-city")
	next.SLA = incident.Clock{Phase: incident.InProgress, Deadline: base.Add(48 * time.Hour)}
	next.Location.Accuracy = 3.25
	next.Penalties = append(next.Penalties, incident.Penalty{
		Decision: "九交执罚〔2024〕0413号", Payer: mustName(t, "王五"), Amount: *apd.New(5, 0),
		DecidedBy: "jlp-traffic-02", DecidedAt: base.Add(52*time.Hour + 123456*time.Microsecond),
	})
	next.Penalties[0].Basis = ""
	apply(t, s, incident.Change{Update: []incident.Incident{next}})
	AssertIncidentEqual(t, next, get(t, s, full.ID))
	got, err := s.ByKey(ctx, "hotline:CQ12345-20240305-000311")
	require.NoError(t, err)
	AssertIncidentEqual(t, next, got)
}

// testReturnsCopies: neither the caller's input nor what the store returns
// shares memory with the store: incidents and outbox messages.
func testReturnsCopies(t *testing.T, s incident.Store) {
	ctx := t.Context()
	in := fullIncident(t)
	want := in.Clone()
	// A snapshot that does not rely on Clone: a penalty's amount keeps its
	// digits behind a pointer, which a shallow copy would share.
	wantPenalties := penaltyTexts(in)
	m := event(t, in, incident.EventReported, base)
	wantMsg := m
	wantMsg.Headers = maps.Clone(m.Headers)
	wantMsg.Data = slices.Clone(m.Data)
	apply(t, s, incident.Change{Create: []incident.Incident{in}, Events: []bus.Message{m}})

	mutate := func(inc *incident.Incident) {
		inc.ExternalIDs["12345-hotline"] = "changed"
		inc.Reporters[0].ActorID = "changed"
		inc.Attributes["plate"][0] = "changed"
		inc.Location.Path[0] = "110000"
		inc.Evidence[0].URI = "changed"
		inc.Handlers[0] = "changed"
		inc.MergedFrom[0] = uuid.Nil
		inc.Keys[0] = "changed"
		inc.Penalties[0].Decision = "changed"
		inc.Penalties[0].Amount.SetInt64(1)
	}
	mutate(&in)
	m.Headers["govkit-event"] = "changed"
	m.Data[0] = 'X'
	AssertIncidentEqual(t, want, get(t, s, want.ID))
	require.Equal(t, wantPenalties, penaltyTexts(get(t, s, want.ID)), "the store shares the caller's penalties")

	got := get(t, s, want.ID)
	mutate(&got)
	byKey, err := s.ByKey(ctx, want.Keys[1])
	require.NoError(t, err)
	mutate(&byKey)
	page, err := s.Find(ctx, incident.Query{})
	require.NoError(t, err)
	require.Len(t, page.Incidents, 1)
	mutate(&page.Incidents[0])
	near, err := s.Nearby(ctx, incident.NearbyQuery{Category: want.Category, Center: want.Location.Point, Meters: 1, Since: base})
	require.NoError(t, err)
	require.Len(t, near, 1)
	mutate(&near[0])
	AssertIncidentEqual(t, want, get(t, s, want.ID))
	require.Equal(t, wantPenalties, penaltyTexts(get(t, s, want.ID)), "the store returned shared penalties")

	msgs, err := s.Pending(ctx, 10)
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	require.Equal(t, normalMessage(wantMsg), normalMessage(msgs[0]))
	msgs[0].Headers["govkit-event"] = "changed"
	msgs[0].Data[0] = 'X'
	msgs, err = s.Pending(ctx, 10)
	require.NoError(t, err)
	require.Equal(t, normalMessage(wantMsg), normalMessage(msgs[0]))
}

// penaltyTexts returns each penalty of inc as its decision and amount.
func penaltyTexts(inc incident.Incident) []string {
	out := make([]string, len(inc.Penalties))
	for i, p := range inc.Penalties {
		out[i] = p.Decision + " " + p.Amount.String()
	}
	return out
}

// testTimelineReturnsCopies: timeline entries, evidence and hashes
// included, share no memory with the store.
func testTimelineReturnsCopies(t *testing.T, s incident.Store) {
	ctx := t.Context()
	inc := newIncident(t, muckTruck, "500107001002003", yangjiaping, base)
	e := entry(inc, 1, "report", 0, incident.Registered)
	e.Evidence = []incident.Evidence{{URI: "s3://cq-evidence/a.jpg", SHA256: "ab", MediaType: "image/jpeg"}}
	want := e
	want.Evidence = slices.Clone(e.Evidence)
	want.PrevHash = slices.Clone(e.PrevHash)
	want.Hash = slices.Clone(e.Hash)
	apply(t, s, incident.Change{Create: []incident.Incident{inc}, Timeline: []incident.Entry{e}})

	mutate := func(e *incident.Entry) {
		e.Evidence[0].URI = "changed"
		e.PrevHash[0] ^= 0xff
		e.Hash[0] ^= 0xff
	}
	mutate(&e)
	entries, err := s.Timeline(ctx, inc.ID)
	require.NoError(t, err)
	require.Equal(t, []incident.Entry{want}, entries, "the store shares the caller's entry")
	mutate(&entries[0])
	entries, err = s.Timeline(ctx, inc.ID)
	require.NoError(t, err)
	require.Equal(t, []incident.Entry{want}, entries, "the store returned a shared entry")
}

func testNotFound(t *testing.T, s incident.Store) {
	ctx := t.Context()
	create(t, s, newIncident(t, muckTruck, "500107001002003", yangjiaping, base))
	unknown := newID(t)

	_, err := s.Get(ctx, unknown)
	require.ErrorIs(t, err, incident.ErrNotFound)
	_, err = s.Get(ctx, uuid.Nil)
	require.ErrorIs(t, err, incident.ErrNotFound)
	_, err = s.ByKey(ctx, "hotline:CQ12345-19990101-000000")
	require.ErrorIs(t, err, incident.ErrNotFound)
	_, err = s.ByKey(ctx, "")
	require.ErrorIs(t, err, incident.ErrNotFound)
	_, err = s.Timeline(ctx, unknown)
	require.ErrorIs(t, err, incident.ErrNotFound)

	// An existing incident without entries has an empty timeline.
	inc := newIncident(t, manhole, "500107001002004", yangjiaping, base)
	create(t, s, inc)
	entries, err := s.Timeline(ctx, inc.ID)
	require.NoError(t, err)
	require.Empty(t, entries)
}

func testDuplicateID(t *testing.T, s incident.Store) {
	ctx := t.Context()
	a := newIncident(t, muckTruck, "500107001002003", yangjiaping, base)
	create(t, s, a)

	again := newIncident(t, manhole, "500103001001001", yangjiaping, base.Add(time.Hour))
	again.ID = a.ID
	err := s.Apply(ctx, incident.Change{Create: []incident.Incident{again}})
	require.ErrorIs(t, err, incident.ErrDuplicateID)
	AssertIncidentEqual(t, a, get(t, s, a.ID))

	// Twice in one change: neither is written.
	b := newIncident(t, muckTruck, "500107001002003", yangjiaping, base)
	b2 := b.Clone()
	b2.Keys = []string{"video-ai:cam-jlp-0231:evt-78"}
	err = s.Apply(ctx, incident.Change{Create: []incident.Incident{b, b2}})
	require.ErrorIs(t, err, incident.ErrDuplicateID)
	requireAbsent(t, s, b.ID)
	_, err = s.ByKey(ctx, b.Keys[0])
	require.ErrorIs(t, err, incident.ErrNotFound)
}

func requireDuplicateKey(t *testing.T, err error, key string, holder uuid.UUID) {
	t.Helper()
	require.ErrorIs(t, err, incident.ErrDuplicateKey)
	var dk *incident.DuplicateKeyError
	require.ErrorAs(t, err, &dk)
	require.Equal(t, key, dk.Key)
	require.Equal(t, holder, dk.Existing, "DuplicateKeyError.Existing should name the holder")
}

func testDuplicateKey(t *testing.T, s incident.Store) {
	ctx := t.Context()
	a := newIncident(t, muckTruck, "500107001002003", yangjiaping, base)
	a.Keys = []string{"hotline:CQ12345-20240305-000123", "app:wx-8f3a2c"}
	create(t, s, a)

	// A create reusing a held key.
	b := newIncident(t, muckTruck, "500107001002003", yangjiaping, base.Add(time.Minute))
	b.Keys = []string{"app:wx-0000aa", a.Keys[1]}
	requireDuplicateKey(t, s.Apply(ctx, incident.Change{Create: []incident.Incident{b}}), a.Keys[1], a.ID)
	requireAbsent(t, s, b.ID)
	_, err := s.ByKey(ctx, "app:wx-0000aa")
	require.ErrorIs(t, err, incident.ErrNotFound, "the failed create's other key must not be held")

	// An update taking a held key.
	c := newIncident(t, manhole, "500107001002004", yangjiaping, base.Add(2*time.Minute))
	create(t, s, c)
	c2 := bump(c)
	c2.Keys = append(c2.Keys, a.Keys[0])
	requireDuplicateKey(t, s.Apply(ctx, incident.Change{Update: []incident.Incident{c2}}), a.Keys[0], a.ID)
	AssertIncidentEqual(t, c, get(t, s, c.ID))

	// An update keeping its own keys and adding new ones.
	c3 := bump(c)
	c3.Keys = append(c3.Keys, "hotline:CQ12345-20240305-000311", "video-ai:cam-jlp-0231:evt-78")
	apply(t, s, incident.Change{Update: []incident.Incident{c3}})
	for _, k := range c3.Keys {
		got, err := s.ByKey(ctx, k)
		require.NoError(t, err, "ByKey(%q)", k)
		require.Equal(t, c.ID, got.ID, "ByKey(%q)", k)
		require.EqualValues(t, 2, got.Version)
	}
	for _, k := range a.Keys {
		got, err := s.ByKey(ctx, k)
		require.NoError(t, err)
		require.Equal(t, a.ID, got.ID, "ByKey(%q)", k)
	}

	// Two creates of one change sharing a key: the second names the first.
	d := newIncident(t, streetVend, "500103001001001", yangjiaping, base.Add(3*time.Minute))
	e := newIncident(t, streetVend, "500103001001001", yangjiaping, base.Add(4*time.Minute))
	e.Keys = []string{"app:wx-77aa01", d.Keys[0]}
	requireDuplicateKey(t, s.Apply(ctx, incident.Change{Create: []incident.Incident{d, e}}), d.Keys[0], d.ID)
	requireAbsent(t, s, d.ID)
	requireAbsent(t, s, e.ID)

	// A create and an update of one change claiming the same new key.
	f := newIncident(t, streetVend, "500103001001001", yangjiaping, base.Add(5*time.Minute))
	f.Keys = []string{"app:wx-77aa02"}
	c4 := bump(c3)
	c4.Keys = append(c4.Keys, "app:wx-77aa02")
	err = s.Apply(ctx, incident.Change{Create: []incident.Incident{f}, Update: []incident.Incident{c4}})
	requireDuplicateKey(t, err, "app:wx-77aa02", f.ID)
	requireAbsent(t, s, f.ID)
	require.EqualValues(t, 2, get(t, s, c.ID).Version)
}

func testUpdateVersions(t *testing.T, s incident.Store) {
	ctx := t.Context()
	a := newIncident(t, muckTruck, "500107001002003", yangjiaping, base)
	create(t, s, a)

	v2 := bump(a)
	v2.Status = incident.Dispatched
	apply(t, s, incident.Change{Update: []incident.Incident{v2}})
	AssertIncidentEqual(t, v2, get(t, s, a.ID))

	for _, tc := range []struct {
		name    string
		version int64
	}{
		{"lost update: the stored version again", 2},
		{"an older version", 1},
		{"versions skipped", 5},
		{"zero version", 0},
	} {
		stale := v2.Clone()
		stale.Version = tc.version
		stale.Status = incident.Rejected
		err := s.Apply(ctx, incident.Change{Update: []incident.Incident{stale}})
		require.ErrorIs(t, err, incident.ErrConflict, tc.name)
		require.NotErrorIs(t, err, incident.ErrNotFound, tc.name)
	}
	AssertIncidentEqual(t, v2, get(t, s, a.ID))

	ghost := newIncident(t, muckTruck, "500107001002003", yangjiaping, base)
	ghost.Version = 2
	err := s.Apply(ctx, incident.Change{Update: []incident.Incident{ghost}})
	require.ErrorIs(t, err, incident.ErrNotFound)
	require.NotErrorIs(t, err, incident.ErrConflict)
	requireAbsent(t, s, ghost.ID)
}

// testApplyIsAtomic: when any part of a change fails, none of it is
// applied — incidents, keys, timeline entries nor events — whatever part
// fails.
func testApplyIsAtomic(t *testing.T, s incident.Store) {
	ctx := t.Context()
	held := newIncident(t, muckTruck, "500107001002003", yangjiaping, base)
	other := newIncident(t, manhole, "500107001002004", yangjiaping, base)
	create(t, s, held, other)
	apply(t, s, incident.Change{
		Timeline: []incident.Entry{entry(held, 1, "report", 0, incident.Registered), entry(other, 1, "report", 0, incident.Registered)},
		Events:   []bus.Message{event(t, held, incident.EventReported, base)},
	})
	heldV2 := bump(held)
	apply(t, s, incident.Change{Update: []incident.Incident{heldV2}})

	tests := []struct {
		name string
		bad  func(c *incident.Change)
		want error
	}{
		{"stale update", func(c *incident.Change) {
			c.Update = append(c.Update, bump(held)) // version 2 again
		}, incident.ErrConflict},
		{"update of an unknown incident", func(c *incident.Change) {
			ghost := newIncident(t, muckTruck, "500107001002003", yangjiaping, base)
			ghost.Version = 2
			c.Update = append(c.Update, ghost)
		}, incident.ErrNotFound},
		{"duplicate ID", func(c *incident.Change) {
			dup := newIncident(t, muckTruck, "500107001002003", yangjiaping, base)
			dup.ID = held.ID
			c.Create = append(c.Create, dup)
		}, incident.ErrDuplicateID},
		{"duplicate key", func(c *incident.Change) {
			dup := newIncident(t, muckTruck, "500107001002003", yangjiaping, base)
			dup.Keys = held.Keys
			c.Create = append(c.Create, dup)
		}, incident.ErrDuplicateKey},
		{"duplicate timeline entry", func(c *incident.Change) {
			c.Timeline = append(c.Timeline, entry(held, 1, "report", 0, incident.Registered))
		}, incident.ErrConflict},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := pendingIDs(t, s)
			otherBefore := get(t, s, other.ID)
			fresh := newIncident(t, streetVend, "500103001001001", geo.Point{Lat: 29.5570, Lon: 106.5770}, base)
			otherNext := bump(otherBefore)
			otherNext.Status = incident.Dispatched
			c := incident.Change{
				Create: []incident.Incident{fresh},
				Update: []incident.Incident{otherNext},
				Timeline: []incident.Entry{
					entry(fresh, 1, "report", 0, incident.Registered),
					entry(other, int(otherNext.Version), "dispatch", incident.Registered, incident.Dispatched),
				},
				Events: []bus.Message{event(t, fresh, incident.EventReported, base), event(t, otherNext, incident.EventDispatched, base)},
			}
			tc.bad(&c)
			err := s.Apply(ctx, c)
			require.ErrorIs(t, err, tc.want)

			requireAbsent(t, s, fresh.ID)
			_, err = s.ByKey(ctx, fresh.Keys[0])
			require.ErrorIs(t, err, incident.ErrNotFound, "key of the failed create")
			AssertIncidentEqual(t, otherBefore, get(t, s, other.ID))
			entries, err := s.Timeline(ctx, other.ID)
			require.NoError(t, err)
			require.Len(t, entries, 1, "timeline entry of the failed change")
			entries, err = s.Timeline(ctx, held.ID)
			require.NoError(t, err)
			require.Len(t, entries, 1)
			require.Equal(t, before, pendingIDs(t, s), "events of the failed change")
			AssertIncidentEqual(t, heldV2, get(t, s, held.ID))
		})
	}

	// The same change without the fault applies whole.
	fresh := newIncident(t, streetVend, "500103001001001", geo.Point{Lat: 29.5570, Lon: 106.5770}, base)
	otherNext := bump(other)
	msg := event(t, fresh, incident.EventReported, base)
	apply(t, s, incident.Change{
		Create:   []incident.Incident{fresh},
		Update:   []incident.Incident{otherNext},
		Timeline: []incident.Entry{entry(fresh, 1, "report", 0, incident.Registered), entry(other, 2, "dispatch", incident.Registered, incident.Dispatched)},
		Events:   []bus.Message{msg},
	})
	AssertIncidentEqual(t, fresh, get(t, s, fresh.ID))
	AssertIncidentEqual(t, otherNext, get(t, s, other.ID))
	entries, err := s.Timeline(ctx, other.ID)
	require.NoError(t, err)
	require.Len(t, entries, 2)
	require.Contains(t, pendingIDs(t, s), msg.ID)
}

// testLastEntry: a store that reads a timeline's last entry alone gives
// what Timeline ends with, however the entries arrived.
func testLastEntry(t *testing.T, s incident.Store) {
	r, ok := s.(incident.LastEntryReader)
	if !ok {
		t.Skip("the store does not implement incident.LastEntryReader")
	}
	ctx := t.Context()
	a := newIncident(t, muckTruck, "500107001002003", yangjiaping, base)
	apply(t, s, incident.Change{Create: []incident.Incident{a}})
	_, ok, err := r.LastEntry(ctx, a.ID)
	require.NoError(t, err)
	require.False(t, ok, "a case without entries")

	e1 := entry(a, 1, "report", 0, incident.Reported)
	a2 := bump(a)
	apply(t, s, incident.Change{Update: []incident.Incident{a2}, Timeline: []incident.Entry{e1}})
	last, ok, err := r.LastEntry(ctx, a.ID)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, e1, last)

	e2 := entry(a, 2, "register", incident.Reported, incident.Registered)
	e3 := entry(a, 3, "dispatch", incident.Registered, incident.Dispatched)
	apply(t, s, incident.Change{Update: []incident.Incident{bump(a2)}, Timeline: []incident.Entry{e3, e2}})
	last, _, err = r.LastEntry(ctx, a.ID)
	require.NoError(t, err)
	require.Equal(t, e3, last)
	tl, err := s.Timeline(ctx, a.ID)
	require.NoError(t, err)
	require.Equal(t, tl[len(tl)-1], last)

	_, _, err = r.LastEntry(ctx, newID(t))
	require.ErrorIs(t, err, incident.ErrNotFound)
}

func testTimeline(t *testing.T, s incident.Store) {
	ctx := t.Context()
	a := newIncident(t, muckTruck, "500107001002003", yangjiaping, base)
	b := newIncident(t, manhole, "500107001002004", yangjiaping, base)
	e1 := entry(a, 1, "report", 0, incident.Reported)
	e1.ActorID = "" // an anonymous report
	e1.Evidence = []incident.Evidence{{URI: "s3://cq-evidence/muck-1.jpg", SHA256: "9f86d081", MediaType: "image/jpeg"}}
	apply(t, s, incident.Change{
		Create:   []incident.Incident{a, b},
		Timeline: []incident.Entry{e1, entry(b, 1, "report", 0, incident.Reported)},
	})

	a2 := bump(a)
	e2 := entry(a, 2, "register", incident.Reported, incident.Registered)
	e3 := entry(a, 3, "dispatch", incident.Registered, incident.Dispatched)
	e3.Late = true
	e3.Note = "超时派遣：待交巡警配合"
	// Given out of order in one change; read back in sequence.
	apply(t, s, incident.Change{Update: []incident.Incident{a2}, Timeline: []incident.Entry{e3, e2}})

	got, err := s.Timeline(ctx, a.ID)
	require.NoError(t, err)
	require.Equal(t, []incident.Entry{e1, e2, e3}, got)
	got, err = s.Timeline(ctx, b.ID)
	require.NoError(t, err)
	require.Equal(t, []incident.Entry{entry(b, 1, "report", 0, incident.Reported)}, got)

	// A second entry 2 is a conflict: someone else appended first.
	dup := entry(a, 2, "reject", incident.Registered, incident.Rejected)
	a3 := bump(a2)
	err = s.Apply(ctx, incident.Change{
		Update:   []incident.Incident{a3},
		Timeline: []incident.Entry{entry(a, 4, "start", incident.Dispatched, incident.InProgress), dup},
	})
	require.ErrorIs(t, err, incident.ErrConflict)
	got, err = s.Timeline(ctx, a.ID)
	require.NoError(t, err)
	require.Equal(t, []incident.Entry{e1, e2, e3}, got)
	require.EqualValues(t, 2, get(t, s, a.ID).Version)

	// Two entries with one sequence number in one change.
	err = s.Apply(ctx, incident.Change{Timeline: []incident.Entry{entry(a, 4, "start", 0, 0), entry(a, 4, "start", 0, 0)}})
	require.ErrorIs(t, err, incident.ErrConflict)
	got, err = s.Timeline(ctx, a.ID)
	require.NoError(t, err)
	require.Len(t, got, 3)
}

// testTimelineHashChain: a chain built as the incident package links it
// still verifies after a round trip, so the store keeps every hashed field
// at the hashed precision.
func testTimelineHashChain(t *testing.T, s incident.Store) {
	ctx := t.Context()
	a := newIncident(t, muckTruck, "500107001002003", yangjiaping, base)
	cst := time.FixedZone("CST", 8*3600)
	// Local times with nanoseconds: linking truncates them to what stores
	// keep.
	at := time.Date(2024, time.March, 5, 8, 35, 12, 345678999, cst)
	e1 := link(nil, incident.Entry{Incident: a.ID, Time: at, Action: "report", To: incident.Reported,
		Note: "市民来电：渣土车抛洒", Evidence: []incident.Evidence{{URI: "s3://cq-evidence/1.jpg", SHA256: "9f86d081", MediaType: "image/jpeg"}}})
	e2 := link(&e1, incident.Entry{Incident: a.ID, Time: at.Add(9 * time.Minute), ActorID: "jlp-urban-mgmt-07",
		Action: "register", From: incident.Reported, To: incident.Registered})
	e3 := link(&e2, incident.Entry{Incident: a.ID, Time: at.Add(3 * time.Hour), ActorID: "jlp-urban-mgmt-07",
		Action: "dispatch", From: incident.Registered, To: incident.Dispatched, Late: true, Note: "派遣至九龙坡区城管执法支队"})
	require.NoError(t, incident.VerifyTimeline([]incident.Entry{e1, e2, e3}), "the suite's link must match the package's")

	apply(t, s, incident.Change{Create: []incident.Incident{a}, Timeline: []incident.Entry{e1}})
	a2 := bump(a)
	apply(t, s, incident.Change{Update: []incident.Incident{a2}, Timeline: []incident.Entry{e2, e3}})

	got, err := s.Timeline(ctx, a.ID)
	require.NoError(t, err)
	require.Equal(t, []incident.Entry{e1, e2, e3}, got)
	require.NoError(t, incident.VerifyTimeline(got))

	// The check is not vacuous: an edited note no longer verifies.
	got[1].Note = "已处置"
	require.ErrorIs(t, incident.VerifyTimeline(got), incident.ErrTampered)
}

// findFixtures is a small city: cases in Jiulongpo, Yuzhong, Nan'an, a
// county of Chongqing outside its urban city (500229 Chengkou), Chengdu in
// Sichuan (510107), and one without a path.
type findFixtures struct {
	yjpMuck, yjpCover, yjpStreet2, yuzhong, nanan, chengkou, chengdu, noPath incident.Incident
}

func (f *findFixtures) all() []incident.Incident {
	return []incident.Incident{f.yjpMuck, f.yjpCover, f.yjpStreet2, f.yuzhong, f.nanan, f.chengkou, f.chengdu, f.noPath}
}

func newFindFixtures(t *testing.T) *findFixtures {
	at := func(h int) time.Time { return base.Add(time.Duration(h) * time.Hour) }
	mk := func(h int, category, grid string, lat, lon float64, status incident.Status, overdue bool) incident.Incident {
		inc := newIncident(t, category, grid, geo.Point{Lat: lat, Lon: lon}, at(h))
		inc.Status = status
		inc.SLA.Overdue = overdue
		return inc
	}
	return &findFixtures{
		yjpMuck:    mk(0, muckTruck, "500107001002003", 29.5050, 106.5120, incident.Registered, false),
		yjpCover:   mk(1, manhole, "500107001002004", 29.5060, 106.5130, incident.Dispatched, true),
		yjpStreet2: mk(2, muckTruck, "500107002001001", 29.4950, 106.5010, incident.Closed, false),
		yuzhong:    mk(3, streetVend, "500103001001001", 29.5570, 106.5770, incident.InProgress, true),
		nanan:      mk(4, muckTruck, "500108003002001", 29.5230, 106.5600, incident.Reported, false),
		chengkou:   mk(5, streetVend, "500229001001001", 31.9470, 108.6640, incident.Registered, true),
		chengdu:    mk(6, muckTruck, "510107001001001", 30.6420, 104.0430, incident.Registered, false),
		noPath:     mk(7, manhole, "", 29.5100, 106.5200, incident.Triage, false),
	}
}

func testFindFilters(t *testing.T, s incident.Store) {
	ctx := t.Context()
	f := newFindFixtures(t)
	all := f.all()
	// Written newest first, over two changes: results must come in ID
	// order, not write order.
	rev := slices.Clone(all)
	slices.Reverse(rev)
	create(t, s, rev[:3]...)
	create(t, s, rev[3:]...)

	at := func(h int) time.Time { return base.Add(time.Duration(h) * time.Hour) }
	urban := &geo.BBox{MinLat: 29.45, MinLon: 106.45, MaxLat: 29.60, MaxLon: 106.60}
	edge := &geo.BBox{MinLat: 29.50, MinLon: 106.50, MaxLat: f.yjpMuck.Location.Point.Lat, MaxLon: f.yjpMuck.Location.Point.Lon}
	open := []incident.Status{incident.Registered, incident.Dispatched, incident.InProgress}
	tests := []struct {
		name string
		q    incident.Query
		want []incident.Incident
	}{
		{"everything", incident.Query{}, all},
		{"one status", incident.Query{Statuses: []incident.Status{incident.Registered}}, []incident.Incident{f.yjpMuck, f.chengkou, f.chengdu}},
		{"two statuses", incident.Query{Statuses: []incident.Status{incident.Dispatched, incident.Registered}}, []incident.Incident{f.yjpMuck, f.yjpCover, f.chengkou, f.chengdu}},
		{"status none has", incident.Query{Statuses: []incident.Status{incident.Evaluated}}, nil},
		{"one category", incident.Query{Categories: []string{muckTruck}}, []incident.Incident{f.yjpMuck, f.yjpStreet2, f.nanan, f.chengdu}},
		{"two categories", incident.Query{Categories: []string{streetVend, manhole}}, []incident.Incident{f.yjpCover, f.yuzhong, f.chengkou, f.noPath}},
		{"unknown category", incident.Query{Categories: []string{"no-such-category"}}, nil},
		{"within Chongqing 500000", incident.Query{Within: "500000"}, []incident.Incident{f.yjpMuck, f.yjpCover, f.yjpStreet2, f.yuzhong, f.nanan, f.chengkou}},
		{"within city-level 500100", incident.Query{Within: "500100"}, []incident.Incident{f.yjpMuck, f.yjpCover, f.yjpStreet2, f.yuzhong, f.nanan}},
		{"within Sichuan 510000", incident.Query{Within: "510000"}, []incident.Incident{f.chengdu}},
		{"within district 500107", incident.Query{Within: "500107"}, []incident.Incident{f.yjpMuck, f.yjpCover, f.yjpStreet2}},
		{"within street 500107001", incident.Query{Within: "500107001"}, []incident.Incident{f.yjpMuck, f.yjpCover}},
		{"within community 500107001002", incident.Query{Within: "500107001002"}, []incident.Incident{f.yjpMuck, f.yjpCover}},
		{"within grid 500107001002003", incident.Query{Within: "500107001002003"}, []incident.Incident{f.yjpMuck}},
		{"within an empty street", incident.Query{Within: "500107009"}, nil},
		{"since", incident.Query{Since: at(5)}, []incident.Incident{f.chengkou, f.chengdu, f.noPath}},
		{"since is inclusive", incident.Query{Since: f.nanan.Times.Reported}, []incident.Incident{f.nanan, f.chengkou, f.chengdu, f.noPath}},
		{"until is exclusive", incident.Query{Until: f.yjpStreet2.Times.Reported}, []incident.Incident{f.yjpMuck, f.yjpCover}},
		{"since and until", incident.Query{Since: at(1), Until: at(4)}, []incident.Incident{f.yjpCover, f.yjpStreet2, f.yuzhong}},
		{"since a microsecond later", incident.Query{Since: f.yjpCover.Times.Reported.Add(time.Microsecond), Until: at(3)}, []incident.Incident{f.yjpStreet2}},
		{"bbox urban Chongqing", incident.Query{BBox: urban}, []incident.Incident{f.yjpMuck, f.yjpCover, f.yjpStreet2, f.yuzhong, f.nanan, f.noPath}},
		{"bbox edges are inside", incident.Query{BBox: edge}, []incident.Incident{f.yjpMuck}},
		{"overdue", incident.Query{Overdue: true}, []incident.Incident{f.yjpCover, f.yuzhong, f.chengkou}},
		{"open overdue in Chongqing", incident.Query{Statuses: open, Within: "500000", Overdue: true}, []incident.Incident{f.yjpCover, f.yuzhong, f.chengkou}},
		{"open overdue manhole covers in Chongqing", incident.Query{Statuses: open, Within: "500000", Overdue: true, Categories: []string{manhole}}, []incident.Incident{f.yjpCover}},
		{"muck trucks in the urban city since 1h", incident.Query{Categories: []string{muckTruck}, Within: "500100", Since: at(1)}, []incident.Incident{f.yjpStreet2, f.nanan}},
		{"registered in the urban box", incident.Query{Statuses: []incident.Status{incident.Registered}, BBox: urban}, []incident.Incident{f.yjpMuck}},
		{"every filter", incident.Query{
			Statuses: []incident.Status{incident.Registered, incident.Dispatched}, Categories: []string{manhole, muckTruck},
			Within: "500107", Since: base, Until: at(2), BBox: urban, Overdue: true, Limit: 10,
		}, []incident.Incident{f.yjpCover}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, inc := range all { // the fixtures themselves must agree
				require.Equal(t, slices.ContainsFunc(tc.want, func(w incident.Incident) bool { return w.ID == inc.ID }),
					tc.q.Matches(&inc), "fixture error: Query.Matches(%s)", inc.Location.Grid())
			}
			page, err := s.Find(ctx, tc.q)
			require.NoError(t, err)
			want := sortedIDs(tc.want...)
			if len(want) == 0 {
				require.Empty(t, page.Incidents)
			} else {
				require.Equal(t, want, ids(page.Incidents))
			}
			require.Equal(t, uuid.Nil, page.Next, "everything fits one page")
		})
	}
}

func testFindPaging(t *testing.T, s incident.Store) {
	ctx := t.Context()
	const n = incident.DefaultLimit + 5
	var all []incident.Incident
	var skipped uuid.UUID
	for i := range n + 1 {
		inc := newIncident(t, muckTruck, fmt.Sprintf("500107001002%03d", i%7+1), yangjiaping, base.Add(time.Duration(i)*time.Minute))
		if i%3 == 0 {
			inc.Status = incident.Dispatched
		}
		if i == 40 { // an ID that is never stored, between stored ones
			skipped = inc.ID
			continue
		}
		all = append(all, inc)
	}
	shuffled := slices.Clone(all)
	slices.Reverse(shuffled)
	create(t, s, shuffled...)

	// pages reads every page of q, checking each.
	pages := func(q incident.Query) ([]uuid.UUID, int) {
		t.Helper()
		var got []uuid.UUID
		count := 0
		for {
			page, err := s.Find(ctx, q)
			require.NoError(t, err)
			count++
			limit := q.Limit
			if limit == 0 {
				limit = incident.DefaultLimit
			}
			require.LessOrEqual(t, len(page.Incidents), limit)
			got = append(got, ids(page.Incidents)...)
			if page.Next == uuid.Nil {
				return got, count
			}
			require.Len(t, page.Incidents, limit, "only the last page is short")
			require.Equal(t, page.Incidents[len(page.Incidents)-1].ID, page.Next)
			require.Less(t, count, n+2, "paging does not end")
			q.After = page.Next
		}
	}
	want := sortedIDs(all...)
	for _, limit := range []int{1, 7, 5, 35, n, incident.MaxLimit} {
		got, count := pages(incident.Query{Limit: limit})
		require.Equal(t, want, got, "limit %d: every incident once, in ID order", limit)
		require.Equal(t, (n+limit-1)/limit, count, "limit %d: pages", limit)
	}
	got, count := pages(incident.Query{})
	require.Equal(t, want, got, "default limit")
	require.Equal(t, 2, count, "default limit is %d", incident.DefaultLimit)

	var dispatched []incident.Incident
	for _, inc := range all {
		if inc.Status == incident.Dispatched {
			dispatched = append(dispatched, inc)
		}
	}
	got, _ = pages(incident.Query{Statuses: []incident.Status{incident.Dispatched}, Within: "500107001", Limit: 4})
	require.Equal(t, sortedIDs(dispatched...), got, "paging a filtered query")

	// After need not be a stored ID.
	page, err := s.Find(ctx, incident.Query{After: skipped, Limit: incident.MaxLimit})
	require.NoError(t, err)
	var after []uuid.UUID
	for _, id := range want {
		if compareIDs(id, skipped) > 0 {
			after = append(after, id)
		}
	}
	require.Equal(t, after, ids(page.Incidents))
	page, err = s.Find(ctx, incident.Query{After: want[len(want)-1]})
	require.NoError(t, err)
	require.Empty(t, page.Incidents)
	require.Equal(t, uuid.Nil, page.Next)
}

func testFindInvalidQuery(t *testing.T, s incident.Store) {
	ctx := t.Context()
	create(t, s, newIncident(t, muckTruck, "500107001002003", yangjiaping, base))
	tests := []struct {
		name string
		q    incident.Query
	}{
		{"negative limit", incident.Query{Limit: -1}},
		{"limit above MaxLimit", incident.Query{Limit: incident.MaxLimit + 1}},
		{"bbox corners swapped", incident.Query{BBox: &geo.BBox{MinLat: 29.6, MinLon: 106.4, MaxLat: 29.4, MaxLon: 106.6}}},
		{"bbox latitude out of range", incident.Query{BBox: &geo.BBox{MinLat: 29.4, MinLon: 106.4, MaxLat: 95, MaxLon: 106.6}}},
		{"code of bad length", incident.Query{Within: "5001"}},
		{"code with letters", incident.Query{Within: "50010A"}},
		{"code with a 000 street", incident.Query{Within: "500107000"}},
		{"until equals since", incident.Query{Since: base, Until: base}},
		{"until before since", incident.Query{Since: base, Until: base.Add(-time.Hour)}},
		{"unknown status", incident.Query{Statuses: []incident.Status{incident.Evaluated + 1}}},
		{"zero status", incident.Query{Statuses: []incident.Status{0}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.ErrorIs(t, tc.q.Validate(), incident.ErrInvalidQuery)
			page, err := s.Find(ctx, tc.q)
			require.ErrorIs(t, err, incident.ErrInvalidQuery)
			require.Empty(t, page.Incidents)
		})
	}
	// The bounds themselves are valid.
	for _, q := range []incident.Query{{Limit: incident.MaxLimit}, {Limit: 0}, {Since: base}, {Until: base}} {
		_, err := s.Find(ctx, q)
		require.NoError(t, err, "%+v", q)
	}
}

func testNearby(t *testing.T, s incident.Store) {
	ctx := t.Context()
	// The centre sits a few metres south-west of a corner where four cells
	// meet (29.50N 106.50E), so a search reads all four.
	corner := geo.Point{Lat: 29.50, Lon: 106.50}
	center := destination(corner, 7, 225)
	since := base
	at := func(m, bearing float64) geo.Point {
		p := destination(center, m, bearing)
		require.InDelta(t, m, geo.Distance(center, p), 0.01, "fixture geometry")
		return p
	}
	mk := func(category string, p geo.Point, status incident.Status, reported time.Time) incident.Incident {
		inc := newIncident(t, category, "500107001002003", p, reported)
		inc.Status = status
		return inc
	}
	var (
		near100  = mk(muckTruck, at(100, 45), incident.InProgress, since.Add(time.Hour))
		near240  = mk(muckTruck, at(240, 200), incident.Triage, since.Add(2*time.Hour))
		far260   = mk(muckTruck, at(260, 90), incident.Registered, since.Add(time.Hour))
		atSince  = mk(muckTruck, at(150, 300), incident.Verifying, since)
		beside   = mk(muckTruck, at(30, 135), incident.Disposed, since.Add(time.Minute))
		other    = mk(manhole, at(50, 10), incident.Registered, since.Add(time.Hour))
		closed   = mk(muckTruck, at(30, 0), incident.Closed, since.Add(time.Hour))
		rejected = mk(muckTruck, at(30, 90), incident.Rejected, since.Add(time.Hour))
		rated    = mk(muckTruck, at(30, 180), incident.Evaluated, since.Add(time.Hour))
		old      = mk(muckTruck, at(20, 270), incident.Registered, since.Add(-time.Microsecond))
		reported = mk(muckTruck, at(60, 330), incident.Reported, since.Add(3*time.Hour))
		remote   = mk(muckTruck, geo.Point{Lat: 29.5570, Lon: 106.5770}, incident.Registered, since.Add(time.Hour))
	)
	cells := map[int64]bool{}
	for _, inc := range []incident.Incident{near100, near240, atSince, beside, reported} {
		cells[incident.Cell(inc.Location.Point)] = true
	}
	require.GreaterOrEqual(t, len(cells), 3, "fixture error: the hits should straddle cell boundaries")
	create(t, s, near100, near240, far260, atSince, beside, other, closed, rejected, rated, old, reported, remote)

	tests := []struct {
		name     string
		category string
		center   geo.Point
		meters   float64
		since    time.Time
		want     []incident.Incident
	}{
		{"250 m", muckTruck, center, 250, since, []incident.Incident{near100, near240, atSince, beside, reported}},
		{"120 m", muckTruck, center, 120, since, []incident.Incident{near100, beside, reported}},
		{"300 m", muckTruck, center, 300, since, []incident.Incident{near100, near240, far260, atSince, beside, reported}},
		{"since later", muckTruck, center, 250, since.Add(90 * time.Minute), []incident.Incident{near240, reported}},
		{"earlier since takes old", muckTruck, center, 250, since.Add(-time.Hour), []incident.Incident{near100, near240, atSince, beside, reported, old}},
		{"other category", manhole, center, 250, since, []incident.Incident{other}},
		{"unknown category", "no-such-category", center, 250, since, nil},
		{"far away", muckTruck, geo.Point{Lat: 29.60, Lon: 106.40}, 250, since, nil},
		{"from a hit", muckTruck, remote.Location.Point, 1, since, []incident.Incident{remote}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := incident.NearbyQuery{Category: tc.category, Center: tc.center, Meters: tc.meters, Since: tc.since}
			got, err := s.Nearby(ctx, q)
			require.NoError(t, err)
			if len(tc.want) == 0 {
				require.Empty(t, got)
				return
			}
			require.ElementsMatch(t, sortedIDs(tc.want...), ids(got))
			for i, inc := range got {
				require.True(t, inc.Status.Open(), "Nearby returned a %s case", inc.Status)
				if i > 0 {
					prev := got[i-1]
					require.GreaterOrEqual(t, q.Score(geo.Distance(tc.center, prev.Location.Point), prev.Times.Reported),
						q.Score(geo.Distance(tc.center, inc.Location.Point), inc.Times.Reported), "not best first")
				}
			}
		})
	}
}

// testNearbyRanksAndLimits: the best duplicate candidates come first —
// near and recent — and Limit keeps only the best.
func testNearbyRanksAndLimits(t *testing.T, s incident.Store) {
	ctx := t.Context()
	now := base.Add(72 * time.Hour)
	mk := func(meters float64, age time.Duration) incident.Incident {
		inc := newIncident(t, muckTruck, "500107001002003", destination(yangjiaping, meters, 90), now.Add(-age))
		inc.Status = incident.Registered
		return inc
	}
	// Scores at radius 250 m over a 72 h window: near 0.97, recent 0.76,
	// stale 0.59, edge 0.52.
	near := mk(10, time.Hour)
	recent := mk(100, 10*time.Minute)
	stale := mk(10, 70*time.Hour)
	edge := mk(200, time.Minute)
	closed := mk(1, time.Minute)
	closed.Status = incident.Closed
	create(t, s, edge, stale, recent, near, closed)

	q := incident.NearbyQuery{Category: muckTruck, Center: yangjiaping, Meters: 250, Since: base, Now: now}
	all, err := s.Nearby(ctx, q)
	require.NoError(t, err)
	require.Equal(t, ids([]incident.Incident{near, recent, stale, edge}), ids(all))

	q.Limit = 2
	best, err := s.Nearby(ctx, q)
	require.NoError(t, err)
	require.Equal(t, ids([]incident.Incident{near, recent}), ids(best))
	AssertIncidentEqual(t, near, best[0])

	// Without Now, distance alone ranks; equals keep ID order.
	q.Now, q.Limit = time.Time{}, 0
	byDistance, err := s.Nearby(ctx, q)
	require.NoError(t, err)
	first, second := near, stale
	if bytes.Compare(stale.ID[:], near.ID[:]) < 0 {
		first, second = stale, near
	}
	require.Equal(t, ids([]incident.Incident{first, second, recent, edge}), ids(byDistance))
}

func testOutbox(t *testing.T, s incident.Store) {
	ctx := t.Context()
	empty, err := s.Pending(ctx, 10)
	require.NoError(t, err)
	require.Empty(t, empty)

	a := newIncident(t, muckTruck, "500107001002003", yangjiaping, base)
	a2 := bump(a)
	a2.Status = incident.Dispatched
	b := newIncident(t, manhole, "500107001002004", yangjiaping, base)
	e1 := event(t, a, incident.EventReported, base)
	e2 := event(t, a, incident.EventRegistered, base.Add(time.Millisecond+time.Microsecond))
	e3 := event(t, a2, incident.EventDispatched, base.Add(time.Hour))
	e3.Headers = nil // optional
	e4 := event(t, b, incident.EventReported, base.Add(2*time.Hour))
	e4.Key = ""
	apply(t, s, incident.Change{Create: []incident.Incident{a}, Events: []bus.Message{e1, e2}})
	apply(t, s, incident.Change{Update: []incident.Incident{a2}, Events: []bus.Message{e3}})
	// A failed change's events never reach the outbox.
	lost := event(t, a2, incident.EventClosed, base.Add(3*time.Hour))
	err = s.Apply(ctx, incident.Change{Update: []incident.Incident{a2}, Events: []bus.Message{lost}})
	require.ErrorIs(t, err, incident.ErrConflict)
	// Events alone are a change too.
	apply(t, s, incident.Change{Create: []incident.Incident{b}})
	apply(t, s, incident.Change{Events: []bus.Message{e4}})

	requireMessages := func(want []bus.Message, got []bus.Message) {
		t.Helper()
		require.Len(t, got, len(want))
		for i := range want {
			require.Equal(t, normalMessage(want[i]), normalMessage(got[i]), "message %d", i)
		}
	}
	got, err := s.Pending(ctx, 10)
	require.NoError(t, err)
	requireMessages([]bus.Message{e1, e2, e3, e4}, got)
	got, err = s.Pending(ctx, 2)
	require.NoError(t, err)
	requireMessages([]bus.Message{e1, e2}, got)
	got, err = s.Pending(ctx, 0)
	require.NoError(t, err)
	require.Empty(t, got)

	require.NoError(t, s.MarkPublished(ctx, e2.ID, newID(t).String(), "not-a-message-id"))
	got, err = s.Pending(ctx, 10)
	require.NoError(t, err)
	requireMessages([]bus.Message{e1, e3, e4}, got)
	require.NoError(t, s.MarkPublished(ctx))
	require.NoError(t, s.MarkPublished(ctx, e2.ID), "marking twice is harmless")
	require.NoError(t, s.MarkPublished(ctx, e1.ID, e3.ID, e4.ID))
	got, err = s.Pending(ctx, 10)
	require.NoError(t, err)
	require.Empty(t, got)

	e5 := event(t, b, incident.EventRegistered, base.Add(4*time.Hour))
	apply(t, s, incident.Change{Events: []bus.Message{e5}})
	got, err = s.Pending(ctx, 10)
	require.NoError(t, err)
	requireMessages([]bus.Message{e5}, got)
}

// testConcurrentUpdates: writers racing on one case with read-modify-write
// and retry lose nothing.
func testConcurrentUpdates(t *testing.T, s incident.Store) {
	ctx := t.Context()
	const writers, each = 6, 5
	inc := newIncident(t, muckTruck, "500107001002003", yangjiaping, base)
	inc.Handlers = nil
	apply(t, s, incident.Change{Create: []incident.Incident{inc}, Timeline: []incident.Entry{entry(inc, 1, "report", 0, incident.Registered)}})

	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		errs      []error
		conflicts int
	)
	start := make(chan struct{})
	for w := range writers {
		wg.Go(func() {
			<-start
			for i := 0; i < each; {
				cur, err := s.Get(ctx, inc.ID)
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				next := cur.Clone()
				next.Version++
				next.Handlers = append(next.Handlers, fmt.Sprintf("writer-%d-update-%d", w, i))
				e := entry(next, int(next.Version), "note", next.Status, next.Status)
				err = s.Apply(ctx, incident.Change{Update: []incident.Incident{next}, Timeline: []incident.Entry{e}})
				switch {
				case errors.Is(err, incident.ErrConflict):
					mu.Lock()
					conflicts++
					mu.Unlock()
				case err != nil:
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
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

	final := get(t, s, inc.ID)
	require.EqualValues(t, 1+writers*each, final.Version, "every successful update counted once")
	require.Len(t, final.Handlers, writers*each, "no update lost")
	seen := map[string]bool{}
	for _, h := range final.Handlers {
		require.False(t, seen[h], "update %s applied twice", h)
		seen[h] = true
	}
	entries, err := s.Timeline(ctx, inc.ID)
	require.NoError(t, err)
	require.Len(t, entries, 1+writers*each)
	for i, e := range entries {
		require.Equal(t, i+1, e.Seq)
	}
	t.Logf("%d updates, %d conflicts retried", writers*each, conflicts)
}

// testConcurrentCreatesSameKey: of several reports of one event racing with
// the same idempotency key, exactly one case is created.
func testConcurrentCreatesSameKey(t *testing.T, s incident.Store) {
	ctx := t.Context()
	const racers = 8
	const key = "hotline:CQ12345-20240305-000123"
	incs := make([]incident.Incident, racers)
	events := make([]bus.Message, racers)
	for i := range incs {
		incs[i] = newIncident(t, muckTruck, "500107001002003", yangjiaping, base)
		incs[i].Keys = []string{fmt.Sprintf("app:wx-racer-%d", i), key}
		events[i] = event(t, incs[i], incident.EventReported, base)
	}
	errs := make([]error, racers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range incs {
		wg.Go(func() {
			<-start
			errs[i] = s.Apply(ctx, incident.Change{
				Create: []incident.Incident{incs[i]},
				Events: []bus.Message{events[i]},
			})
		})
	}
	close(start)
	wg.Wait()

	winner := -1
	for i, err := range errs {
		if err == nil {
			require.Equal(t, -1, winner, "two creates with one key succeeded")
			winner = i
		}
	}
	require.NotEqual(t, -1, winner, "no create succeeded: %v", errs)
	for i, err := range errs {
		if i != winner {
			requireDuplicateKey(t, err, key, incs[winner].ID)
			requireAbsent(t, s, incs[i].ID)
		}
	}
	got, err := s.ByKey(ctx, key)
	require.NoError(t, err)
	AssertIncidentEqual(t, incs[winner], got)
	require.Len(t, pendingIDs(t, s), 1, "only the winner's event")
}

func testCancelledContext(t *testing.T, s incident.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	inc := newIncident(t, muckTruck, "500107001002003", yangjiaping, base)
	err := s.Apply(ctx, incident.Change{
		Create:   []incident.Incident{inc},
		Timeline: []incident.Entry{entry(inc, 1, "report", 0, incident.Registered)},
		Events:   []bus.Message{event(t, inc, incident.EventReported, base)},
	})
	if err == nil {
		t.Skip("the store does not check the context before writing")
	}
	require.ErrorIs(t, err, context.Canceled)
	requireAbsent(t, s, inc.ID)
	_, err = s.ByKey(t.Context(), inc.Keys[0])
	require.ErrorIs(t, err, incident.ErrNotFound)
	require.Empty(t, pendingIDs(t, s))
}

// testTimelineOfUnknownIncident: a timeline entry needs its incident, stored
// or created by the same change.
func testTimelineOfUnknownIncident(t *testing.T, s incident.Store) {
	ctx := t.Context()
	ghost := newIncident(t, muckTruck, "500107001002003", yangjiaping, base)
	err := s.Apply(ctx, incident.Change{Timeline: []incident.Entry{entry(ghost, 1, "report", 0, incident.Reported)}})
	require.ErrorIs(t, err, incident.ErrNotFound)
	apply(t, s, incident.Change{Create: []incident.Incident{ghost}, Timeline: []incident.Entry{entry(ghost, 1, "report", 0, incident.Reported)}})
	entries, err := s.Timeline(ctx, ghost.ID)
	require.NoError(t, err)
	require.Len(t, entries, 1)
}

// testNearbyFollowsUpdates: a case whose category or place changes is found
// where it now is, and no longer where it was.
func testNearbyFollowsUpdates(t *testing.T, s incident.Store) {
	ctx := t.Context()
	inc := newIncident(t, muckTruck, "500107001002003", yangjiaping, base)
	inc.Status = incident.Registered
	apply(t, s, incident.Change{Create: []incident.Incident{inc}})
	moved := bump(inc)
	moved.Category = manhole
	moved.Location.Point = destination(yangjiaping, 5000, 90)
	apply(t, s, incident.Change{Update: []incident.Incident{moved}})

	was, err := s.Nearby(ctx, incident.NearbyQuery{Category: muckTruck, Center: yangjiaping, Meters: 250, Since: base})
	require.NoError(t, err)
	require.Empty(t, was)
	now, err := s.Nearby(ctx, incident.NearbyQuery{Category: manhole, Center: moved.Location.Point, Meters: 250, Since: base})
	require.NoError(t, err)
	require.Len(t, now, 1)
	require.Equal(t, inc.ID, now[0].ID)
}

// testFindFollowsMoves: an update that moves a case to another grid moves
// it between subtrees, at every level a query can name.
func testFindFollowsMoves(t *testing.T, s incident.Store) {
	ctx := t.Context()
	stays := newIncident(t, muckTruck, "500107001002003", yangjiaping, base)
	inc := newIncident(t, muckTruck, "500107001002003", yangjiaping, base.Add(time.Minute))
	apply(t, s, incident.Change{Create: []incident.Incident{stays, inc}})
	moved := bump(inc)
	moved.Location.Path = pathOf("500108003002001") // to Nan'an
	apply(t, s, incident.Change{Update: []incident.Incident{moved}})

	within := func(code region.Code) []uuid.UUID {
		t.Helper()
		page, err := s.Find(ctx, incident.Query{Within: code})
		require.NoError(t, err)
		return ids(page.Incidents)
	}
	for _, code := range []region.Code{"500107", "500107001", "500107001002", "500107001002003"} {
		require.Equal(t, []uuid.UUID{stays.ID}, within(code), "left %s", code)
	}
	for _, code := range []region.Code{"500108", "500108003", "500108003002", "500108003002001"} {
		require.Equal(t, []uuid.UUID{inc.ID}, within(code), "arrived in %s", code)
	}
	require.Equal(t, sortedIDs(stays, inc), within("500100"), "still in the city")

	back := bump(moved)
	back.Location.Path = pathOf("500107001002004")
	apply(t, s, incident.Change{Update: []incident.Incident{back}})
	require.Equal(t, sortedIDs(stays, inc), within("500107001"), "moved back, listed once")
	require.Empty(t, within("500108"))
}

// testDuplicateEventInOneChange: two events with one ID in a change are a
// conflict, and nothing is written.
func testDuplicateEventInOneChange(t *testing.T, s incident.Store) {
	ctx := t.Context()
	inc := newIncident(t, muckTruck, "500107001002003", yangjiaping, base)
	m := event(t, inc, incident.EventReported, base)
	err := s.Apply(ctx, incident.Change{Create: []incident.Incident{inc}, Events: []bus.Message{m, m}})
	require.ErrorIs(t, err, incident.ErrConflict)
	requireAbsent(t, s, inc.ID)
	pending, err := s.Pending(ctx, 10)
	require.NoError(t, err)
	require.Empty(t, pending)
}
