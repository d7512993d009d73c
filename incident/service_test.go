package incident_test

import (
	"context"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/incident"
	"github.com/govkit/govkit/pii"
	"github.com/govkit/govkit/region"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReportAndRegister(t *testing.T) {
	h := newHarness(t)
	phone, err := pii.NewPhone("13812345678")
	require.NoError(t, err)
	r := waste("app-1", inStreet1)
	r.Phone = phone
	rc, err := h.svc.Report(as(zhao), r)
	require.NoError(t, err)
	inc := rc.Incident
	assert.Equal(t, incident.Reported, inc.Status)
	assert.Equal(t, []region.Code{"500000", "500001", "500001001", "500001001002", "500001001002002"}, inc.Location.Path)
	assert.Equal(t, incident.High, inc.Priority, "the category's priority")
	require.Len(t, inc.Reporters, 1)
	assert.Equal(t, "c-zhao", inc.Reporters[0].ActorID)
	assert.Equal(t, "138****5678", inc.Reporters[0].Phone.String())
	assert.True(t, monday10.Add(2*time.Hour).Equal(inc.SLA.Deadline), "register within 2 working hours: %v", inc.SLA.Deadline)

	reg, err := h.svc.Register(as(operator), inc.ID, "confirmed by grid member")
	require.NoError(t, err)
	assert.Equal(t, incident.Registered, reg.Status)
	assert.Equal(t, int64(2), reg.Version)
	assert.True(t, reg.SLA.Deadline.IsZero(), "registration is not timed further by the incident")

	tl, err := h.svc.Timeline(as(operator), inc.ID)
	require.NoError(t, err)
	require.Len(t, tl, 2)
	assert.Equal(t, "register", tl[1].Action)
	assert.Equal(t, "op-liu", tl[1].ActorID)
	assert.False(t, tl[1].Late)
	require.NoError(t, incident.VerifyTimeline(tl))

	assert.Equal(t, []string{incident.EventReported, incident.EventRegistered}, h.eventNames(t, inc.ID))
	h.mu.Lock()
	assert.Equal(t, "gov.500000.500001.500001001.incident.reported", h.subs[0])
	h.mu.Unlock()
}

// keyReads counts the idempotency keys a service looks up.
type keyReads struct {
	incident.Store
	n atomic.Int32
}

func (s *keyReads) ByKey(ctx context.Context, key string) (incident.Incident, error) {
	s.n.Add(1)
	return s.Store.ByKey(ctx, key)
}

// A new report does not look its key up: the store refuses a key that a
// case holds, and that refusal answers a replay, with the case it names.
func TestNewReportReadsNoKey(t *testing.T) {
	store := &keyReads{Store: incident.NewMemoryStore()}
	h := newHarness(t, func(c *incident.Config) { c.Store = store })
	first, err := h.svc.Report(as(zhao), waste("app-7", inStreet1))
	require.NoError(t, err)
	assert.Zero(t, store.n.Load())
	again, err := h.svc.Report(as(zhao), waste("app-7", inStreet1))
	require.NoError(t, err)
	assert.True(t, again.Replayed)
	assert.Equal(t, first.Incident.ID, again.Incident.ID)
	assert.Zero(t, store.n.Load())
	assert.Equal(t, []string{incident.EventReported}, h.eventNames(t, first.Incident.ID), "a replay announces nothing")

	// The replay is answered only to who may report where the case is:
	// not to an operator of the next street, though he may report in his.
	nextStreet := access.Actor{ID: "op-zhou", Kind: access.StreetStaff, Scope: "500001002", Roles: []string{"operator"}}
	_, err = h.svc.Report(as(nextStreet), waste("app-7", inStreet2))
	assert.ErrorIs(t, err, access.ErrDenied)
	own, err := h.svc.Report(as(nextStreet), waste("app-8", inStreet2))
	require.NoError(t, err)
	assert.False(t, own.Replayed)
}

func TestReportIsIdempotent(t *testing.T) {
	h := newHarness(t)
	first, err := h.svc.Report(as(zhao), waste("app-7", inStreet1))
	require.NoError(t, err)
	again, err := h.svc.Report(as(zhao), waste("app-7", inStreet1))
	require.NoError(t, err)
	assert.True(t, again.Replayed)
	assert.Equal(t, first.Incident.ID, again.Incident.ID)

	// The same key from many goroutines at once makes one case.
	var wg sync.WaitGroup
	got := make([]uuid.UUID, 16)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rc, err := h.svc.Report(as(zhao), waste("app-race", inStreet2))
			if assert.NoError(t, err) {
				got[i] = rc.Incident.ID
			}
		}()
	}
	wg.Wait()
	for _, id := range got {
		assert.Equal(t, got[0], id)
	}
	page, err := h.store.Find(context.Background(), incident.Query{})
	require.NoError(t, err)
	assert.Len(t, page.Incidents, 2)
}

func TestMachineReportsByConfidence(t *testing.T) {
	h := newHarness(t)
	truck := incident.Report{Channel: incident.VideoAI, Category: "muck-truck-overload", Point: inStreet1, Confidence: 0.97}
	rc, err := h.svc.Report(as(camera), truck)
	require.NoError(t, err)
	assert.Equal(t, incident.Registered, rc.Incident.Status, "confident machine reports are registered at once")

	truck.Confidence = 0.55
	truck.Point = inStreet2
	rc, err = h.svc.Report(as(camera), truck)
	require.NoError(t, err)
	assert.Equal(t, incident.Triage, rc.Incident.Status)
	reg, err := h.svc.Register(as(district), rc.Incident.ID, "the truck is overloaded")
	require.NoError(t, err)
	assert.Equal(t, incident.Registered, reg.Status)
}

func TestBadReportsChangeNothing(t *testing.T) {
	h := newHarness(t)
	base := waste("", inStreet1)
	cases := map[string]func(r *incident.Report){
		"unknown category":   func(r *incident.Report) { r.Category = "alien-landing" },
		"missing attribute":  func(r *incident.Report) { r.Attributes = map[string][]string{"blocking": {"no"}} },
		"bad list value":     func(r *incident.Report) { r.Attributes["blocking"] = []string{"maybe"} },
		"unknown attribute":  func(r *incident.Report) { r.Attributes["colour"] = []string{"red"} },
		"NaN point":          func(r *incident.Report) { r.Point = geo.Point{Lat: math.NaN(), Lon: 106.5} },
		"outside the city":   func(r *incident.Report) { r.Point = geo.Point{Lat: 39.9, Lon: 116.4} },
		"unknown channel":    func(r *incident.Report) { r.Channel = 99 },
		"machine, no score":  func(r *incident.Report) { r.Channel = incident.VideoAI },
		"confidence above 1": func(r *incident.Report) { r.Confidence = 1.5 },
		"bad evidence hash":  func(r *incident.Report) { r.Evidence = []incident.Evidence{{URI: "s3://x", SHA256: "abc"}} },
		"huge description":   func(r *incident.Report) { r.Description = string(make([]byte, 5000)) },
		"half external ID":   func(r *incident.Report) { r.ExternalID = "123" },
		"unknown CRS":        func(r *incident.Report) { r.CRS = 9 },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			r := base
			r.Attributes = map[string][]string{"volume": {"3"}}
			mutate(&r)
			_, err := h.svc.Report(as(zhao), r)
			require.Error(t, err)
			assert.ErrorIs(t, err, incident.ErrInvalidReport)
			var re *incident.ReportError
			assert.True(t, errors.As(err, &re))
		})
	}
	page, err := h.store.Find(context.Background(), incident.Query{})
	require.NoError(t, err)
	assert.Empty(t, page.Incidents)
	pending, err := h.store.Pending(context.Background(), 10)
	require.NoError(t, err)
	assert.Empty(t, pending)
}

func TestGCJ02ReportIsConverted(t *testing.T) {
	h := newHarness(t)
	r := waste("", geo.WGS84ToGCJ02(inStreet1))
	r.CRS = geo.GCJ02
	rc, err := h.svc.Report(as(zhao), r)
	require.NoError(t, err)
	assert.Less(t, geo.Distance(rc.Incident.Location.Point, inStreet1), 0.01)
}

// runToVerification takes a new case through registration, dispatch,
// handling and disposal.
func runToVerification(t *testing.T, h *harness, key string) incident.Incident {
	t.Helper()
	rc := must[incident.Receipt](t)(h.svc.Report(as(zhao), waste(key, inStreet1)))
	id := rc.Incident.ID
	must[incident.Incident](t)(h.svc.Register(as(operator), id, ""))
	must[incident.Incident](t)(h.svc.MarkDispatched(as(operator), id, "city management, street team"))
	must[incident.Incident](t)(h.svc.Start(as(handler), id, "on my way"))
	must[incident.Incident](t)(h.svc.Dispose(as(handler), id, "cleared", incident.Evidence{URI: "s3://photos/after.jpg", SHA256: sha("after")}))
	return must[incident.Incident](t)(h.svc.BeginVerification(as(district), id, ""))
}

func TestLifecycleWithReworkAndSeparationOfDuties(t *testing.T) {
	h := newHarness(t)
	inc := runToVerification(t, h, "life-1")
	id := inc.ID
	assert.Equal(t, incident.Verifying, inc.Status)
	assert.Equal(t, []string{"h-chen"}, inc.Handlers)

	// The handler may not verify his own work.
	_, err := h.svc.Verify(as(handler), id, true, "")
	assert.ErrorIs(t, err, access.ErrSeparationOfDuties)

	rework, err := h.svc.Verify(as(verifier), id, false, "waste still on the corner")
	require.NoError(t, err)
	assert.Equal(t, incident.InProgress, rework.Status)
	assert.Equal(t, 1, rework.Reworks)
	// 4 working hours from 10:00: 10–12 and 14–16, around the lunch break.
	assert.True(t, monday10.Add(6*time.Hour).Equal(rework.SLA.Deadline), "a fresh disposal deadline: %v", rework.SLA.Deadline)

	must[incident.Incident](t)(h.svc.Dispose(as(handler), id, "corner cleared too"))
	must[incident.Incident](t)(h.svc.BeginVerification(as(district), id, ""))
	closed, err := h.svc.Verify(as(verifier), id, true, "clean")
	require.NoError(t, err)
	assert.Equal(t, incident.Closed, closed.Status)
	assert.Equal(t, incident.Fixed, closed.Resolution)

	// Only the reporter may rate it.
	_, err = h.svc.Evaluate(as(qian), id, 1, "")
	assert.ErrorIs(t, err, access.ErrDenied)
	rated, err := h.svc.Evaluate(as(zhao), id, 5, "quick")
	require.NoError(t, err)
	assert.Equal(t, incident.Evaluated, rated.Status)

	reopened, err := h.svc.Reopen(as(operator), id, "dumped again the next day")
	require.NoError(t, err)
	assert.Equal(t, incident.Registered, reopened.Status)
	assert.Equal(t, 1, reopened.Reopens)
	assert.Zero(t, reopened.Resolution)

	assert.Equal(t, []string{
		incident.EventReported, incident.EventRegistered, incident.EventDispatched, incident.EventStarted,
		incident.EventDisposed, incident.EventVerifying, incident.EventReworked, incident.EventDisposed,
		incident.EventVerifying, incident.EventClosed, incident.EventEvaluated, incident.EventReopened,
	}, h.eventNames(t, id))
	require.NoError(t, h.svc.VerifyTimeline(as(operator), id))
}

func TestIllegalTransitionsChangeNothing(t *testing.T) {
	h := newHarness(t)
	rc := must[incident.Receipt](t)(h.svc.Report(as(zhao), waste("ill-1", inStreet1)))
	id := rc.Incident.ID
	calls := map[string]func() error{
		"dispose before dispatch": func() error { _, err := h.svc.Dispose(as(handler), id, ""); return err },
		"verify before disposal":  func() error { _, err := h.svc.Verify(as(verifier), id, true, ""); return err },
		"evaluate an open case":   func() error { _, err := h.svc.Evaluate(as(zhao), id, 4, ""); return err },
		"reopen an open case":     func() error { _, err := h.svc.Reopen(as(operator), id, "x"); return err },
		"dispatch unregistered":   func() error { _, err := h.svc.MarkDispatched(as(operator), id, ""); return err },
		"resume unpaused clock":   func() error { _, err := h.svc.ResumeSLA(as(operator), id, ""); return err },
	}
	for name, call := range calls {
		err := call()
		assert.ErrorIs(t, err, incident.ErrInvalidTransition, name)
		var te *incident.TransitionError
		assert.True(t, errors.As(err, &te), name)
	}
	for name, call := range map[string]func() error{
		"close as fixed":     func() error { _, err := h.svc.Close(as(operator), id, incident.Fixed, "x"); return err },
		"close without note": func() error { _, err := h.svc.Close(as(operator), id, incident.Cancelled, ""); return err },
		"reject, no reason":  func() error { _, err := h.svc.Reject(as(operator), id, " "); return err },
		"rating of 6":        func() error { _, err := h.svc.Evaluate(as(zhao), id, 6, ""); return err },
	} {
		assert.ErrorIs(t, call(), incident.ErrInvalidReport, name)
	}
	got, err := h.svc.Get(as(operator), id)
	require.NoError(t, err)
	assert.Equal(t, int64(1), got.Version)
	assert.Equal(t, incident.Reported, got.Status)
	_, err = h.svc.Register(as(operator), uuid.New(), "")
	assert.ErrorIs(t, err, incident.ErrNotFound)
}

func TestCloseWithoutFix(t *testing.T) {
	h := newHarness(t)
	rc := must[incident.Receipt](t)(h.svc.Report(as(zhao), waste("nr-1", inStreet1)))
	inc, err := h.svc.Close(as(operator), rc.Incident.ID, incident.NotResponsible, "railway land: referred to the railway bureau")
	require.NoError(t, err)
	assert.Equal(t, incident.Closed, inc.Status)
	assert.Equal(t, incident.NotResponsible, inc.Resolution)
	_, err = h.svc.Close(as(operator), rc.Incident.ID, incident.Cancelled, "again")
	assert.ErrorIs(t, err, incident.ErrInvalidTransition)
}

func TestJurisdictionBoundary(t *testing.T) {
	h := newHarness(t)
	mine := must[incident.Receipt](t)(h.svc.Report(as(zhao), waste("j-1", inStreet1))).Incident
	next := must[incident.Receipt](t)(h.svc.Report(as(zhao), waste("j-2", inStreet2))).Incident

	_, err := h.svc.Register(as(operator), mine.ID, "")
	assert.NoError(t, err, "the street operator registers in her street")
	_, err = h.svc.Register(as(operator), next.ID, "")
	assert.ErrorIs(t, err, access.ErrDenied, "and not in the next street")
	var de *access.DeniedError
	require.True(t, errors.As(err, &de))
	assert.Equal(t, access.OutOfJurisdiction, de.Decision.Reason)
	got, err := h.svc.Get(as(district), next.ID)
	require.NoError(t, err)
	assert.Equal(t, incident.Reported, got.Status, "the denied call changed nothing")

	// Citizens read their own reports only; Find filters the rest out.
	other := must[incident.Receipt](t)(h.svc.Report(as(qian), waste("j-3", inStreet1))).Incident
	_, err = h.svc.Get(as(zhao), other.ID)
	assert.ErrorIs(t, err, access.ErrDenied)
	page, err := h.svc.Find(as(zhao), incident.Query{})
	require.NoError(t, err)
	require.Len(t, page.Incidents, 2)
	for _, inc := range page.Incidents {
		assert.Equal(t, "c-zhao", inc.Reporters[0].ActorID)
	}
	// A street operator's search is limited to her street.
	page, err = h.svc.Find(as(operator), incident.Query{})
	require.NoError(t, err)
	assert.Len(t, page.Incidents, 2)
	_, err = h.svc.Find(as(operator), incident.Query{Within: "500001002"})
	assert.ErrorIs(t, err, access.ErrDenied)
	_, err = h.svc.Find(context.Background(), incident.Query{})
	assert.ErrorIs(t, err, access.ErrNoActor)
}

func sha(s string) string {
	const hexdigits = "0123456789abcdef"
	b := make([]byte, 64)
	for i := range b {
		b[i] = hexdigits[(int(s[i%len(s)])+i)%16]
	}
	return string(b)
}
