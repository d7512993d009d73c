package incident_test

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/incident"
	"github.com/govkit/govkit/pii"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// north returns the point meters north of p.
func north(p geo.Point, meters float64) geo.Point {
	return geo.Point{Lat: p.Lat + meters/111_195, Lon: p.Lon}
}

func TestDuplicateSuggestions(t *testing.T) {
	h := newHarness(t)
	first := must[incident.Receipt](t)(h.svc.Report(as(zhao), waste("d-1", inStreet1))).Incident
	near := must[incident.Receipt](t)(h.svc.Report(as(qian), waste("d-2", north(inStreet1, 100))))
	require.Len(t, near.Suggestions, 1)
	assert.Equal(t, first.ID, near.Suggestions[0].ID)
	assert.InDelta(t, 100, near.Suggestions[0].Distance, 1)
	assert.NotEqual(t, first.ID, near.Incident.ID, "without a merge policy the report opens its own case")

	far := must[incident.Receipt](t)(h.svc.Report(as(qian), waste("d-3", north(inStreet1, 300))))
	for _, s := range far.Suggestions {
		assert.NotEqual(t, first.ID, s.ID, "300 m is beyond the 250 m radius")
	}
	other := waste("d-4", north(inStreet1, 50))
	other.Category, other.Attributes = "muck-truck-overload", nil
	assert.Empty(t, must[incident.Receipt](t)(h.svc.Report(as(qian), other)).Suggestions, "another category is not a duplicate")

	// Closed cases are not suggested; newer and nearer rank first.
	must[incident.Incident](t)(h.svc.Close(as(operator), first.ID, incident.Cancelled, "withdrawn"))
	sugg, err := h.svc.Suggestions(as(operator), near.Incident.ID)
	require.NoError(t, err)
	for _, s := range sugg {
		assert.NotEqual(t, first.ID, s.ID)
	}
	// Outside the duplicate window nothing is suggested.
	h.clk.Advance(73 * 3600e9)
	late := must[incident.Receipt](t)(h.svc.Report(as(zhao), waste("d-5", north(inStreet1, 100))))
	assert.Empty(t, late.Suggestions)
}

// Where many report one place, a report gets the best MaxSuggestions
// candidates, nearest and newest first, and the rest are not read.
func TestSuggestionsAreCappedBestFirst(t *testing.T) {
	h := newHarness(t, func(c *incident.Config) { c.MaxSuggestions = 3 })
	var ids []uuid.UUID
	for i := range 8 { // 8 cases, each 20 m nearer than the one before
		r := must[incident.Receipt](t)(h.svc.Report(as(zhao), waste(fmt.Sprintf("crowd-%d", i), north(inStreet1, float64(200-20*i)))))
		ids = append(ids, r.Incident.ID)
		h.clk.Advance(time.Minute)
	}
	r := must[incident.Receipt](t)(h.svc.Report(as(qian), waste("crowd-last", inStreet1)))
	require.Len(t, r.Suggestions, 3)
	assert.Equal(t, []uuid.UUID{ids[7], ids[6], ids[5]}, []uuid.UUID{r.Suggestions[0].ID, r.Suggestions[1].ID, r.Suggestions[2].ID})
	for i, s := range r.Suggestions {
		assert.InDelta(t, 60+20*i, s.Distance, 1)
		assert.Equal(t, s.Incident.ID, s.ID)
		assert.Equal(t, incident.DuplicateScore(s.Distance, 250, s.Age, 72*time.Hour), s.Score)
	}

	// The case itself (the nearest to itself) is never its own candidate,
	// and the cap holds: from ids[7], 20 and 40 m away beat the newest
	// report 60 m away.
	sugg, err := h.svc.Suggestions(as(operator), ids[7])
	require.NoError(t, err)
	require.Len(t, sugg, 3)
	assert.Equal(t, []uuid.UUID{ids[6], ids[5], r.Incident.ID}, []uuid.UUID{sugg[0].ID, sugg[1].ID, sugg[2].ID})
}

func TestNegativeMaxSuggestionsIsRefused(t *testing.T) {
	_, err := incident.NewService(incident.Config{Catalogue: catalogue(t), Regions: mustCity(t), Authorizer: mustPolicy(t), MaxSuggestions: -1})
	require.ErrorContains(t, err, "MaxSuggestions")
}

func TestDuplicateScore(t *testing.T) {
	for _, tc := range []struct {
		d, radius   float64
		age, window time.Duration
		want        float64
	}{
		{0, 250, 0, time.Hour, 1},
		{250, 250, time.Hour, time.Hour, 0},
		{125, 250, 0, time.Hour, 0.7},
		{0, 250, 30 * time.Minute, time.Hour, 0.8},
		{0, 250, -time.Minute, time.Hour, 1},    // reported after: as new
		{300, 250, 2 * time.Hour, time.Hour, 0}, // beyond both: never below 0
		{50, 0, 0, 0, 1},                        // no radius or window: full shares
	} {
		assert.InDelta(t, tc.want, incident.DuplicateScore(tc.d, tc.radius, tc.age, tc.window), 1e-9, "%+v", tc)
	}
}

func TestAutoMergeSameAsset(t *testing.T) {
	h := newHarness(t, func(c *incident.Config) { c.AutoMerge = incident.SameAttribute("asset") })
	alarm := func(key, asset string, p geo.Point) incident.Report {
		return incident.Report{Key: key, Channel: incident.SensorAlarm, Category: "smoke-alarm", Confidence: 0.99,
			Attributes: map[string][]string{"asset": {asset}}, Point: p}
	}
	first := must[incident.Receipt](t)(h.svc.Report(as(camera), alarm("sd-42-a", "sd-42", inStreet1)))
	again := must[incident.Receipt](t)(h.svc.Report(as(camera), alarm("sd-42-b", "sd-42", north(inStreet1, 5))))
	assert.Equal(t, first.Incident.ID, again.MergedInto)
	assert.Len(t, again.Incident.Reporters, 2)
	assert.ElementsMatch(t, []string{"sd-42-a", "sd-42-b"}, again.Incident.Keys)

	// Replaying the merged report returns the case it joined.
	replay := must[incident.Receipt](t)(h.svc.Report(as(camera), alarm("sd-42-b", "sd-42", north(inStreet1, 5))))
	assert.True(t, replay.Replayed)
	assert.Equal(t, first.Incident.ID, replay.Incident.ID)

	// Another detector nearby is another case.
	other := must[incident.Receipt](t)(h.svc.Report(as(camera), alarm("sd-43-a", "sd-43", north(inStreet1, 5))))
	assert.Equal(t, uuid.Nil, other.MergedInto)
	assert.NotEqual(t, first.Incident.ID, other.Incident.ID)
	assert.Contains(t, h.eventNames(t, first.Incident.ID), incident.EventReportedAgain)
}

// Alarms on one asset arriving at the same moment still make one case.
func TestAutoMergeConcurrentAlarms(t *testing.T) {
	h := newHarness(t, func(c *incident.Config) { c.AutoMerge = incident.SameAttribute("asset") })
	const n = 64
	receipts := make([]incident.Receipt, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r := incident.Report{Key: fmt.Sprintf("main-7-%d", i), Channel: incident.SensorAlarm, Category: "smoke-alarm", Confidence: 0.99,
				Attributes: map[string][]string{"asset": {"main-7"}}, Point: north(inStreet1, float64(i))}
			rc, err := h.svc.Report(as(camera), r)
			assert.NoError(t, err)
			receipts[i] = rc
		})
	}
	wg.Wait()
	cases := map[uuid.UUID]bool{}
	for _, rc := range receipts {
		cases[rc.Incident.ID] = true
	}
	assert.Len(t, cases, 1, "one case for one asset")
}

func TestMergeKeepsEveryReporter(t *testing.T) {
	h := newHarness(t)
	phone, _ := pii.NewPhone("13912345678")
	r := waste("m-1", inStreet1)
	r.Phone = phone
	target := must[incident.Receipt](t)(h.svc.Report(as(zhao), r)).Incident
	dup := must[incident.Receipt](t)(h.svc.Report(as(qian), waste("m-2", north(inStreet1, 40)))).Incident
	anon := waste("m-3", north(inStreet1, 60))
	anon.Anonymous = true
	dup2 := must[incident.Receipt](t)(h.svc.Report(as(qian), anon)).Incident

	merged, err := h.svc.Merge(as(operator), target.ID, []uuid.UUID{dup.ID, dup2.ID}, "same pile")
	require.NoError(t, err)
	assert.Len(t, merged.Reporters, 3)
	assert.Equal(t, []uuid.UUID{dup.ID, dup2.ID}, merged.MergedFrom)
	assert.True(t, merged.Reporters[2].Anonymous())
	for _, id := range []uuid.UUID{dup.ID, dup2.ID} {
		d, err := h.svc.Get(as(operator), id)
		require.NoError(t, err)
		assert.Equal(t, incident.Closed, d.Status)
		assert.Equal(t, incident.Duplicate, d.Resolution)
		assert.Equal(t, target.ID, d.MergedInto)
		require.NoError(t, h.svc.VerifyTimeline(as(operator), id))
	}
	// The reporters of the merged cases hear the outcome.
	must[incident.Incident](t)(h.svc.Close(as(operator), target.ID, incident.NoFurtherAction, "private land, owner notified"))
	closed := h.lastEvent(t, incident.EventClosed, target.ID)
	assert.Equal(t, target.ID, closed.ID)
	assert.ElementsMatch(t, []string{"c-zhao", "c-qian"}, closed.Reporters)

	// A merged duplicate cannot be merged again, reopened or merged into itself.
	_, err = h.svc.Merge(as(operator), dup.ID, []uuid.UUID{dup2.ID}, "")
	assert.ErrorIs(t, err, incident.ErrInvalidTransition)
	_, err = h.svc.Reopen(as(operator), dup.ID, "x")
	assert.ErrorIs(t, err, incident.ErrInvalidTransition)
	_, err = h.svc.Merge(as(operator), target.ID, []uuid.UUID{target.ID}, "")
	assert.ErrorIs(t, err, incident.ErrInvalidReport)
	_, err = h.svc.Merge(as(operator), target.ID, nil, "")
	assert.ErrorIs(t, err, incident.ErrInvalidReport)
}

func TestMergeIsAtomic(t *testing.T) {
	h := newHarness(t)
	target := must[incident.Receipt](t)(h.svc.Report(as(zhao), waste("a-1", inStreet1))).Incident
	open := must[incident.Receipt](t)(h.svc.Report(as(zhao), waste("a-2", inStreet1))).Incident
	closed := must[incident.Receipt](t)(h.svc.Report(as(zhao), waste("a-3", inStreet1))).Incident
	must[incident.Incident](t)(h.svc.Close(as(operator), closed.ID, incident.Cancelled, "withdrawn"))
	_, err := h.svc.Merge(as(operator), target.ID, []uuid.UUID{open.ID, closed.ID}, "")
	assert.ErrorIs(t, err, incident.ErrInvalidTransition)
	got, err := h.svc.Get(as(operator), open.ID)
	require.NoError(t, err)
	assert.Equal(t, incident.Reported, got.Status, "the open one was not merged either")
	got, err = h.svc.Get(as(operator), target.ID)
	require.NoError(t, err)
	assert.Empty(t, got.MergedFrom)
}

func TestSplit(t *testing.T) {
	h := newHarness(t)
	orig := must[incident.Receipt](t)(h.svc.Report(as(zhao), waste("s-1", inStreet1))).Incident
	must[incident.Incident](t)(h.svc.Register(as(operator), orig.ID, ""))
	after, parts, err := h.svc.Split(as(operator), orig.ID, []incident.Part{
		{Category: "muck-truck-overload", Description: "the truck that dumped it"},
	}, "two problems")
	require.NoError(t, err)
	require.Len(t, parts, 1)
	assert.Equal(t, orig.ID, parts[0].SplitFrom)
	assert.Equal(t, incident.Registered, parts[0].Status)
	assert.Equal(t, orig.Reporters[0].ActorID, parts[0].Reporters[0].ActorID)
	assert.Equal(t, orig.Location.Path, parts[0].Location.Path)
	assert.Empty(t, parts[0].Keys, "the report's key stays with the original")
	assert.Equal(t, int64(3), after.Version)
	require.NoError(t, h.svc.VerifyTimeline(as(operator), parts[0].ID))
	assert.Equal(t, []string{incident.EventRegistered}, h.eventNames(t, parts[0].ID))
	split := h.lastEvent(t, incident.EventSplit, orig.ID)
	assert.Equal(t, []uuid.UUID{parts[0].ID}, split.Related)

	_, _, err = h.svc.Split(as(operator), orig.ID, []incident.Part{{Category: "alien-landing"}}, "")
	assert.ErrorIs(t, err, incident.ErrInvalidReport)
	_, _, err = h.svc.Split(as(operator), orig.ID, nil, "")
	assert.ErrorIs(t, err, incident.ErrInvalidReport)
	page, err := h.store.Find(context.Background(), incident.Query{})
	require.NoError(t, err)
	assert.Len(t, page.Incidents, 2, "failed splits created nothing")
}

// lockingStore is a store shared by processes: it records the merge locks
// taken, and can fail to take them.
type lockingStore struct {
	*incident.MemoryStore
	mu     sync.Mutex
	locked []string
	held   int
	fail   error
}

func (s *lockingStore) LockMerges(ctx context.Context, category string) (func(), error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return nil, s.fail
	}
	s.locked = append(s.locked, category)
	s.held++
	return func() { s.mu.Lock(); s.held--; s.mu.Unlock() }, nil
}

// With AutoMerge, a report holds its store's merge lock while it decides,
// and a store that cannot lock fails the report, storing nothing.
func TestAutoMergeTakesTheStoreLock(t *testing.T) {
	store := &lockingStore{MemoryStore: incident.NewMemoryStore()}
	h := newHarness(t, func(c *incident.Config) {
		c.Store = store
		c.AutoMerge = incident.SameAttribute(incident.AssetAttribute)
	})
	alarm := incident.Report{Key: "smoke-1", Channel: incident.SensorAlarm, Category: "smoke-alarm", Confidence: 0.99,
		Attributes: map[string][]string{incident.AssetAttribute: {"bldg-7"}}, Point: inStreet1}
	_, err := h.svc.Report(as(camera), alarm)
	require.NoError(t, err)
	assert.Equal(t, []string{"smoke-alarm"}, store.locked)
	assert.Zero(t, store.held, "released")

	store.fail = errors.New("connection refused")
	alarm.Key = "smoke-2"
	_, err = h.svc.Report(as(camera), alarm)
	require.ErrorIs(t, err, store.fail)
	_, err = store.ByKey(context.Background(), "smoke-2")
	require.ErrorIs(t, err, incident.ErrNotFound)
}

// gateStore is a shared store whose merge lock of one category waits for
// a gate, as a PostgreSQL advisory lock held by another process would.
type gateStore struct {
	*incident.MemoryStore
	blocked string
	gate    chan struct{}
	entered chan string
}

func (s *gateStore) LockMerges(ctx context.Context, category string) (func(), error) {
	s.entered <- category
	if category == s.blocked {
		<-s.gate
	}
	return func() {}, nil
}

// Duplicates are of one category, so a report waiting for the merge lock
// of its category does not hold up reports of another.
func TestAutoMergeLocksPerCategory(t *testing.T) {
	store := &gateStore{MemoryStore: incident.NewMemoryStore(), blocked: "smoke-alarm",
		gate: make(chan struct{}), entered: make(chan string, 4)}
	h := newHarness(t, func(c *incident.Config) {
		c.Store = store
		c.AutoMerge = incident.SameAttribute(incident.AssetAttribute)
	})
	alarm := incident.Report{Key: "smoke-9", Channel: incident.SensorAlarm, Category: "smoke-alarm", Confidence: 0.99,
		Attributes: map[string][]string{incident.AssetAttribute: {"bldg-9"}}, Point: inStreet1}
	first := make(chan error, 1)
	go func() {
		_, err := h.svc.Report(as(camera), alarm)
		first <- err
	}()
	require.Equal(t, "smoke-alarm", <-store.entered)

	other := make(chan error, 1)
	go func() {
		_, err := h.svc.Report(as(zhao), waste("w-9", inStreet1))
		other <- err
	}()
	select {
	case err := <-other:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("a report of another category waited for the smoke alarm's merge lock")
	}
	close(store.gate)
	require.NoError(t, <-first)
}

// Ranking keeps the same best few that sorting every candidate would,
// whatever order they are offered in.
func TestRankingKeepsTheBest(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	now := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	for trial := range 50 {
		q := incident.NearbyQuery{Center: inStreet1, Meters: 250, Since: now.Add(-72 * time.Hour), Now: now, Limit: trial % 12}
		type offer struct {
			id    uuid.UUID
			p     geo.Point
			at    time.Time
			score float64
		}
		var offers []offer
		for range 200 {
			o := offer{id: uuid.New(), p: geo.Destination(inStreet1, r.Float64()*300, r.Float64()*360),
				at: now.Add(-time.Duration(r.IntN(72*60)) * time.Minute)}
			if trial%5 == 0 { // many equal scores: ties go by ID
				o.p, o.at = north(inStreet1, float64(r.IntN(3))*50), now
			}
			d := geo.Distance(inStreet1, o.p)
			o.score = q.Score(d, o.at)
			offers = append(offers, o)
		}
		rank := incident.NewRanking(q)
		for _, o := range offers {
			rank.Offer(o.id, o.p, o.at)
		}
		var want []uuid.UUID
		sorted := slices.Clone(offers)
		slices.SortFunc(sorted, func(a, b offer) int {
			if c := cmp.Compare(b.score, a.score); c != 0 {
				return c
			}
			return bytes.Compare(a.id[:], b.id[:])
		})
		for _, o := range sorted {
			if geo.Distance(inStreet1, o.p) <= q.Meters && (q.Limit == 0 || len(want) < q.Limit) {
				want = append(want, o.id)
			}
		}
		require.Equal(t, want, rank.IDs(), "trial %d, limit %d", trial, q.Limit)
	}
}
