package dispatch_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/dispatch"
	"github.com/govkit/govkit/region"
	"github.com/govkit/govkit/region/regiontest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// chongqing is the part of the hierarchy the fixture's bodies serve.
func chongqing(t *testing.T) *region.Hierarchy {
	t.Helper()
	h, err := region.New([]region.Unit{
		{Code: "500000", Name: "Chongqing"},
		{Code: "500107", Name: "Jiulongpo", Parent: "500000"},
		{Code: "500107001", Name: "Shiqiaopu", Parent: "500107"},
		{Code: "500107002", Name: "Yangjiaping", Parent: "500107"},
		{Code: "500113", Name: "Banan", Parent: "500000"},
		{Code: "500113001", Name: "Longzhouwan", Parent: "500113"},
	})
	require.NoError(t, err)
	return h
}

// permitCase is S16 as it happened: a muck truck filmed in Banan whose
// disposal permit belongs to a Jiulongpo site, so an asset rule sends it
// to Jiulongpo's bureau and Shiqiaopu's street team, with the city's
// bureau co-handling.
func permitCase(id string) dispatch.Case {
	return dispatch.Case{ID: id, Category: "0203", Path: path("500113001001001"), Asset: "muck-permit:JLP-1"}
}

// crossDistrict sets a router with permitCase's asset rule and lets every
// actor act, so that the tests are about subjects, not access.
func crossDistrict(t *testing.T, regions dispatch.RegionPaths) func(*dispatch.Config) {
	r, err := dispatch.NewRouter(org(t), rules(), append(assets(), dispatch.AssetRule{ID: "permit-jlp-1", Asset: "muck-permit:JLP-1",
		Lead: dispatch.Handler{Body: "jlp-urban"}, Co: []dispatch.Handler{{Body: "sqp-enforce"}, {Body: "cq-urban"}}}))
	require.NoError(t, err)
	return func(c *dispatch.Config) {
		c.Router, c.Authorizer, c.Regions = r, access.AllowAll(), regions
	}
}

// sighting is a dispatch event as a subscriber receives it.
type sighting struct {
	subject string
	dispatch.OrderEvent
}

// centre records the dispatch events under pattern, as a centre
// subscribed to its subtree sees them.
type centre struct {
	f   *fixture
	mu  sync.Mutex
	got []sighting
}

func subscribe(t *testing.T, f *fixture, pattern, group string) *centre {
	t.Helper()
	c := &centre{f: f}
	_, err := f.bus.Subscribe(context.Background(), pattern, group, func(_ context.Context, m bus.Message) error {
		if m.Headers["govkit-kind"] != "dispatch" {
			return nil
		}
		e, err := dispatch.DecodeEvent(m)
		if err != nil {
			return err
		}
		c.mu.Lock()
		c.got = append(c.got, sighting{m.Subject, e})
		c.mu.Unlock()
		return nil
	})
	require.NoError(t, err)
	return c
}

// seen waits for delivery and returns what the centre has received.
func (c *centre) seen(t *testing.T) []sighting {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, c.f.bus.Drain(ctx))
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.got)
}

// subject returns the subject of the one event named event about order.
func (c *centre) subject(t *testing.T, order uuid.UUID, event string) string {
	t.Helper()
	var subjects []string
	for _, s := range c.seen(t) {
		if s.Order == order && s.Event == event {
			subjects = append(subjects, s.subject)
		}
	}
	require.Len(t, subjects, 1, "%s events of order %s", event, order)
	return subjects[0]
}

func (c *centre) events(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, s := range c.seen(t) {
		out = append(out, s.Body+" "+s.Event)
	}
	return out
}

func TestOrderEventsGoUnderTheBodysJurisdiction(t *testing.T) {
	f := newFixture(t, crossDistrict(t, chongqing(t)))
	all := subscribe(t, f, "gov.>", "all")
	shiqiaopu := subscribe(t, f, "gov.500000.500107.500107001.>", "shiqiaopu-centre")
	banan := subscribe(t, f, "gov.500000.500113.>", "banan-centre")

	c := permitCase("inc-s16")
	_, orders, err := f.svc.Dispatch(as(jlpCentre), c)
	require.NoError(t, err)
	m := byBody(orders)
	require.Len(t, m, 3)
	assert.Equal(t, "gov.500000.500107.dispatch.offered", all.subject(t, m["jlp-urban"].ID, dispatch.EventOffered), "a district bureau: its district")
	assert.Equal(t, "gov.500000.500107.500107001.dispatch.offered", all.subject(t, m["sqp-enforce"].ID, dispatch.EventOffered), "a street team: its street")
	assert.Equal(t, "gov.500000.dispatch.offered", all.subject(t, m["cq-urban"].ID, dispatch.EventOffered), "a city department: the city")
	for _, s := range all.seen(t) {
		assert.Equal(t, c.Path, s.Path, "the payload keeps the case's place")
	}
	assert.Equal(t, []string{"sqp-enforce offered"}, shiqiaopu.events(t), "the street team's centre sees its order, and only its own")
	assert.Empty(t, banan.seen(t), "Banan's centre is not offered work that is not its own")

	// The work is done; the disposed case is announced where it happened.
	for _, o := range orders {
		must(t)(f.svc.SignFor(as(urban), o.ID, ""))
		must(t)(f.svc.Start(as(urban), o.ID, ""))
		must(t)(f.svc.Complete(as(urban), o.ID, ""))
	}
	assert.Equal(t, "gov.500000.500107.500107001.dispatch.done", all.subject(t, m["sqp-enforce"].ID, dispatch.EventDone))
	assert.Equal(t, []string{"sqp-enforce offered", "sqp-enforce signed-for", "sqp-enforce started", "sqp-enforce done"}, shiqiaopu.events(t))
	got := banan.seen(t)
	require.Len(t, got, 1)
	assert.Equal(t, dispatch.EventCaseDisposed, got[0].Event)
	assert.Equal(t, dispatch.Subject("gov", c.Path, dispatch.EventCaseDisposed), got[0].subject, "a case's event stays under the case's path")
}

func TestOrderEventsFollowTheCurrentBody(t *testing.T) {
	f := newFixture(t, crossDistrict(t, chongqing(t)))
	all := subscribe(t, f, "gov.>", "all")
	_, orders, err := f.svc.Dispatch(as(jlpCentre), permitCase("inc-s16"))
	require.NoError(t, err)
	old := byBody(orders)["sqp-enforce"]

	// Shiqiaopu's centre hands the branch to Yangjiaping's team: the
	// cancelled order is announced where it was, the new one where it goes.
	n := must(t)(f.svc.Reassign(as(sqpCentre), old.ID, "yjp-enforce", "the site gate is in Yangjiaping"))
	assert.Equal(t, "gov.500000.500107.500107001.dispatch.reassigned", all.subject(t, old.ID, dispatch.EventReassigned))
	assert.Equal(t, "gov.500000.500107.500107002.dispatch.offered", all.subject(t, n.ID, dispatch.EventOffered))

	// The reminder the clock raises, and the sign-for, follow the new body.
	f.clk.Advance(time.Hour)
	assert.Equal(t, "gov.500000.500107.500107002.dispatch.sign-for-overdue", all.subject(t, n.ID, dispatch.EventSignForOverdue))
	must(t)(f.svc.SignFor(as(yjpMember), n.ID, ""))
	assert.Equal(t, "gov.500000.500107.500107002.dispatch.signed-for", all.subject(t, n.ID, dispatch.EventSignedFor))

	// Back across the line, to Banan's bureau: its district.
	lead := byBody(orders)["jlp-urban"]
	back := must(t)(f.svc.Reassign(as(jlpCentre), lead.ID, "bn-urban", "Banan takes it after all"))
	assert.Equal(t, "gov.500000.500113.dispatch.offered", all.subject(t, back.ID, dispatch.EventOffered))
}

func TestNoRouteStaysUnderTheCasePath(t *testing.T) {
	f := newFixture(t, crossDistrict(t, chongqing(t)))
	all := subscribe(t, f, "gov.>", "all")
	system := access.WithActor(context.Background(), access.Actor{ID: "dispatcher", Kind: access.AutomationSystem, Scope: "500000"})
	sub, err := f.svc.FollowIncidents(system, f.bus, "dispatch")
	require.NoError(t, err)
	defer sub.Close()
	chengdu := []region.Code{"510000", "510107", "510107001", "510107001001", "510107001001001"} // no rule covers it
	require.NoError(t, f.bus.Publish(context.Background(), incidentEvent(t, "registered", "inc-cd", "0203", chengdu)))

	var got []sighting
	for _, s := range all.seen(t) {
		if s.Case == "inc-cd" {
			got = append(got, s)
		}
	}
	require.Len(t, got, 1)
	assert.Equal(t, dispatch.EventNoRoute, got[0].Event)
	assert.Equal(t, "gov.510000.510107.510107001.dispatch.no-route", got[0].subject)
}

func TestSubjectsWithoutRegions(t *testing.T) {
	f := newFixture(t, crossDistrict(t, nil))
	all := subscribe(t, f, "gov.>", "all")

	// A case in Shiqiaopu, routed within its district: every body's
	// jurisdiction lies on the case's path, which is cut there.
	_, orders, err := f.svc.Dispatch(as(jlpCentre), muckTruck("inc-sqp"))
	require.NoError(t, err)
	m := byBody(orders)
	assert.Equal(t, "gov.500000.500107.dispatch.offered", all.subject(t, m["jlp-urban"].ID, dispatch.EventOffered))
	assert.Equal(t, "gov.500000.500107.dispatch.offered", all.subject(t, m["jlp-housing"].ID, dispatch.EventOffered))
	assert.Equal(t, "gov.500000.500107.500107001.dispatch.offered", all.subject(t, m["sqp-enforce"].ID, dispatch.EventOffered))

	// A case in Banan sent to Jiulongpo: without the hierarchy the other
	// district's bodies can only be placed at the case; the city's bureau
	// is on every path.
	c := permitCase("inc-bn")
	_, orders, err = f.svc.Dispatch(as(jlpCentre), c)
	require.NoError(t, err)
	m = byBody(orders)
	atCase := dispatch.Subject("gov", c.Path, dispatch.EventOffered)
	assert.Equal(t, "gov.500000.500113.500113001.dispatch.offered", atCase)
	assert.Equal(t, atCase, all.subject(t, m["jlp-urban"].ID, dispatch.EventOffered))
	assert.Equal(t, atCase, all.subject(t, m["sqp-enforce"].ID, dispatch.EventOffered))
	assert.Equal(t, "gov.500000.dispatch.offered", all.subject(t, m["cq-urban"].ID, dispatch.EventOffered))
}

// pathsOf is a RegionPaths that answers from a map.
type pathsOf map[region.Code][]region.Code

func (p pathsOf) Path(code region.Code) ([]region.Code, error) {
	if path, ok := p[code]; ok {
		return path, nil
	}
	return nil, region.ErrUnknownCode
}

func TestNewServiceChecksBodiesAgainstRegions(t *testing.T) {
	cfg := func(regions dispatch.RegionPaths) dispatch.Config {
		return dispatch.Config{Router: router(t), Authorizer: access.AllowAll(), Regions: regions}
	}
	// The synthetic city numbers its districts 500001…: Banan's bureau,
	// first in ID order, serves a unit it lacks.
	small, err := regiontest.New(regiontest.Small())
	require.NoError(t, err)
	_, err = dispatch.NewService(cfg(small))
	require.ErrorIs(t, err, dispatch.ErrInvalidCommand)
	assert.ErrorIs(t, err, region.ErrUnknownCode)
	assert.Contains(t, err.Error(), `body "bn-urban": jurisdiction 500113 is not in Config.Regions`)

	// A path that does not lead to the body's unit would misplace its events.
	h := chongqing(t)
	bad := pathsOf{}
	for _, b := range org(t).Bodies() {
		p, err := h.Path(b.Jurisdiction)
		require.NoError(t, err)
		bad[b.Jurisdiction] = p
	}
	bad["500107001"] = []region.Code{"500000", "500107"}
	_, err = dispatch.NewService(cfg(bad))
	require.ErrorIs(t, err, dispatch.ErrInvalidCommand)
	assert.Contains(t, err.Error(), `body "sqp-enforce"`)

	svc, err := dispatch.NewService(cfg(h))
	require.NoError(t, err, "every body's unit is in the hierarchy")
	svc.Shutdown()
}
