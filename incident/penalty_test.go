package incident_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/google/uuid"
	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/incident"
	"github.com/govkit/govkit/pii"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The operator of the truck, an enterprise: its name is personal data in
// govkit's sense and must not leave the case file unmasked.
const payerName = "重庆某渣土运输有限公司"

// inProgress reports a case at p and takes it to InProgress: the
// district's operator registers and dispatches it, handler starts it.
func inProgress(t *testing.T, h *harness, key string, p geo.Point) uuid.UUID {
	t.Helper()
	id := must[incident.Receipt](t)(h.svc.Report(as(zhao), waste(key, p))).Incident.ID
	must[incident.Incident](t)(h.svc.Register(as(district), id, ""))
	must[incident.Incident](t)(h.svc.MarkDispatched(as(district), id, ""))
	must[incident.Incident](t)(h.svc.Start(as(handler), id, ""))
	return id
}

func yuan(t *testing.T, s string) apd.Decimal {
	t.Helper()
	d, _, err := apd.NewFromString(s)
	require.NoError(t, err)
	return *d
}

func fine(t *testing.T, decision, amount string) incident.Penalty {
	t.Helper()
	payer, err := pii.NewName(payerName)
	require.NoError(t, err)
	return incident.Penalty{
		Decision: decision, Basis: "《重庆市城市建筑垃圾管理条例》第四十二条",
		Payer: payer, Amount: yuan(t, amount),
	}
}

func TestRecordPenalty(t *testing.T) {
	h := newHarness(t)
	id := inProgress(t, h, "pen-1", inStreet1)
	before := must[incident.Incident](t)(h.svc.Get(as(operator), id))
	h.clk.Advance(30 * time.Minute)

	p := fine(t, "九交执罚〔2024〕0412号", "2000")
	p.DecidedBy, p.DecidedAt = "someone-else", time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC) // ignored
	inc, err := h.svc.RecordPenalty(as(handler), id, p)
	require.NoError(t, err)
	assert.Equal(t, before.Version+1, inc.Version)
	assert.Equal(t, incident.InProgress, inc.Status, "a penalty does not move the case")
	require.Len(t, inc.Penalties, 1)
	got := inc.Penalties[0]
	assert.Equal(t, "九交执罚〔2024〕0412号", got.Decision)
	assert.Equal(t, p.Basis, got.Basis)
	assert.True(t, got.Payer.Equal(p.Payer))
	assert.Equal(t, "2000.00", got.Amount.String(), "kept in yuan and fen")
	assert.Equal(t, "h-chen", got.DecidedBy, "the acting actor, not the caller's value")
	assert.True(t, h.clk.Now().Equal(got.DecidedAt), "the service's clock: %v", got.DecidedAt)
	assert.Equal(t, time.UTC, got.DecidedAt.Location())

	stored := must[incident.Incident](t)(h.svc.Get(as(operator), id))
	require.Len(t, stored.Penalties, 1)
	assert.Equal(t, "2000.00", stored.Penalties[0].Amount.String())
	assert.Equal(t, got.DecidedAt, stored.Penalties[0].DecidedAt)

	tl := must[[]incident.Entry](t)(h.svc.Timeline(as(operator), id))
	last := tl[len(tl)-1]
	assert.Equal(t, "penalty", last.Action)
	assert.Equal(t, "h-chen", last.ActorID)
	assert.Equal(t, incident.InProgress, last.From)
	assert.Equal(t, incident.InProgress, last.To)
	assert.Equal(t, "九交执罚〔2024〕0412号: fine 2000.00 yuan", last.Note)
	require.NoError(t, incident.VerifyTimeline(tl))

	ev := h.lastEvent(t, incident.EventPenalized, id)
	assert.Equal(t, "九交执罚〔2024〕0412号", ev.Decision)
	assert.Equal(t, "2000.00", ev.Fine)
	assert.Equal(t, "h-chen", ev.Actor)
	assert.Equal(t, inc.Version, ev.Version)
	assert.Equal(t, "in-progress", ev.To)
	amount, _, err := apd.NewFromString(ev.Fine)
	require.NoError(t, err)
	assert.Zero(t, amount.Cmp(apd.New(2000, 0)))

	// Further penalties after disposal and under verification, at fen.
	must[incident.Incident](t)(h.svc.Dispose(as(handler), id, "truck stopped"))
	must[incident.Incident](t)(h.svc.RecordPenalty(as(handler), id, fine(t, "九城管罚〔2024〕0077号", "150.5")))
	must[incident.Incident](t)(h.svc.BeginVerification(as(district), id, ""))
	inc = must[incident.Incident](t)(h.svc.RecordPenalty(as(handler), id, fine(t, "九城管罚〔2024〕0078号", "2000.000")))
	require.Len(t, inc.Penalties, 3)
	assert.Equal(t, "150.50", inc.Penalties[1].Amount.String())
	assert.Equal(t, "2000.00", inc.Penalties[2].Amount.String(), "trailing zeros are not fen")
	assert.Equal(t, incident.Verifying, inc.Status)
	assert.Equal(t, []string{
		incident.EventReported, incident.EventRegistered, incident.EventDispatched, incident.EventStarted,
		incident.EventPenalized, incident.EventDisposed, incident.EventPenalized, incident.EventVerifying, incident.EventPenalized,
	}, h.eventNames(t, id))

	// The largest fine is accepted.
	_, err = h.svc.RecordPenalty(as(handler), id, fine(t, "渝执罚〔2024〕1号", "100000000"))
	require.NoError(t, err)
}

// Whoever decides the fine handled the case, so may not verify it.
func TestPenaltyDeciderDoesNotVerify(t *testing.T) {
	h := newHarness(t)
	enforcer := access.Actor{ID: "e-ma", Kind: access.DepartmentHandler, Scope: "500001", Roles: []string{"handler", "verifier"}}
	id := runToVerification(t, h, "pen-sod").ID
	inc, err := h.svc.RecordPenalty(as(enforcer), id, fine(t, "九交执罚〔2024〕0413号", "500"))
	require.NoError(t, err)
	assert.Contains(t, inc.Handlers, "e-ma")
	_, err = h.svc.Verify(as(enforcer), id, true, "")
	assert.ErrorIs(t, err, access.ErrSeparationOfDuties)
}

func TestBadPenaltiesChangeNothing(t *testing.T) {
	h := newHarness(t)
	id := inProgress(t, h, "pen-bad", inStreet1)
	must[incident.Incident](t)(h.svc.RecordPenalty(as(handler), id, fine(t, "九交执罚〔2024〕0412号", "2000")))
	before := must[incident.Incident](t)(h.svc.Get(as(operator), id))
	eventsBefore := len(h.eventsOf(t, id))
	phone, err := pii.NewPhone("13812345678")
	require.NoError(t, err)

	cases := map[string]struct {
		field  string
		mutate func(p *incident.Penalty)
	}{
		"empty decision":       {"penalty.decision", func(p *incident.Penalty) { p.Decision = "" }},
		"blank decision":       {"penalty.decision", func(p *incident.Penalty) { p.Decision = " \t" }},
		"long decision":        {"penalty.decision", func(p *incident.Penalty) { p.Decision = strings.Repeat("9", 129) }},
		"decision, line break": {"penalty.decision", func(p *incident.Penalty) { p.Decision = "0412号\nforged line" }},
		"decision, not UTF-8":  {"penalty.decision", func(p *incident.Penalty) { p.Decision = "0412\xff" }},
		"long basis":           {"penalty.basis", func(p *incident.Penalty) { p.Basis = strings.Repeat("条", 1334) }},
		"payer a phone":        {"penalty.payer", func(p *incident.Penalty) { p.Payer = phone }},
		"zero amount":          {"penalty.amount", func(p *incident.Penalty) { p.Amount = apd.Decimal{} }},
		"zero at fen":          {"penalty.amount", func(p *incident.Penalty) { p.Amount = yuan(t, "0.00") }},
		"negative zero":        {"penalty.amount", func(p *incident.Penalty) { p.Amount = yuan(t, "-0") }},
		"negative amount":      {"penalty.amount", func(p *incident.Penalty) { p.Amount = yuan(t, "-2000") }},
		"NaN":                  {"penalty.amount", func(p *incident.Penalty) { p.Amount = apd.Decimal{Form: apd.NaN} }},
		"signalling NaN":       {"penalty.amount", func(p *incident.Penalty) { p.Amount = apd.Decimal{Form: apd.NaNSignaling} }},
		"infinite":             {"penalty.amount", func(p *incident.Penalty) { p.Amount = apd.Decimal{Form: apd.Infinite} }},
		"minus infinity":       {"penalty.amount", func(p *incident.Penalty) { p.Amount = yuan(t, "-Infinity") }},
		"3 decimal places":     {"penalty.amount", func(p *incident.Penalty) { p.Amount = yuan(t, "2000.005") }},
		"less than a fen":      {"penalty.amount", func(p *incident.Penalty) { p.Amount = yuan(t, "0.001") }},
		"too large":            {"penalty.amount", func(p *incident.Penalty) { p.Amount = yuan(t, "100000000.01") }},
		"far too large":        {"penalty.amount", func(p *incident.Penalty) { p.Amount = yuan(t, "1E+40") }},
		"duplicate decision":   {"penalty.decision", func(p *incident.Penalty) { p.Decision = " 九交执罚〔2024〕0412号 " }},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p := fine(t, "九交执罚〔2024〕9999号", "300")
			tc.mutate(&p)
			_, err := h.svc.RecordPenalty(as(handler), id, p)
			require.Error(t, err)
			assert.ErrorIs(t, err, incident.ErrInvalidReport)
			var re *incident.ReportError
			require.True(t, errors.As(err, &re), "%T", err)
			assert.Equal(t, tc.field, re.Field)
			assert.Equal(t, name == "duplicate decision", errors.Is(err, incident.ErrDuplicatePenalty))
			assert.NotContains(t, err.Error(), payerName)
		})
	}
	after := must[incident.Incident](t)(h.svc.Get(as(operator), id))
	assert.Equal(t, before.Version, after.Version)
	require.Len(t, after.Penalties, 1)
	assert.Equal(t, "2000.00", after.Penalties[0].Amount.String())
	assert.Len(t, h.eventsOf(t, id), eventsBefore, "no event for a refused penalty")
}

func TestPenaltyOnlyWhileHandling(t *testing.T) {
	h := newHarness(t)
	refused := func(id uuid.UUID, want incident.Status) {
		t.Helper()
		before := must[incident.Incident](t)(h.svc.Get(as(operator), id))
		require.Equal(t, want, before.Status)
		_, err := h.svc.RecordPenalty(as(handler), id, fine(t, "九交执罚〔2024〕0500号", "200"))
		assert.ErrorIs(t, err, incident.ErrInvalidTransition, "%s", want)
		var te *incident.TransitionError
		require.True(t, errors.As(err, &te), "%T", err)
		assert.Equal(t, want, te.From)
		after := must[incident.Incident](t)(h.svc.Get(as(operator), id))
		assert.Equal(t, before.Version, after.Version, "%s", want)
		assert.Empty(t, after.Penalties)
	}
	id := must[incident.Receipt](t)(h.svc.Report(as(zhao), waste("pen-st", inStreet1))).Incident.ID
	refused(id, incident.Reported)
	must[incident.Incident](t)(h.svc.Register(as(operator), id, ""))
	refused(id, incident.Registered)
	must[incident.Incident](t)(h.svc.MarkDispatched(as(operator), id, ""))
	refused(id, incident.Dispatched)

	closed := runToVerification(t, h, "pen-closed").ID
	must[incident.Incident](t)(h.svc.Verify(as(verifier), closed, true, ""))
	refused(closed, incident.Closed)
	must[incident.Incident](t)(h.svc.Evaluate(as(zhao), closed, 5, ""))
	refused(closed, incident.Evaluated)

	rejected := must[incident.Receipt](t)(h.svc.Report(as(zhao), waste("pen-rej", inStreet1))).Incident.ID
	must[incident.Incident](t)(h.svc.Reject(as(operator), rejected, "not ours"))
	refused(rejected, incident.Rejected)

	_, err := h.svc.RecordPenalty(as(handler), uuid.New(), fine(t, "九交执罚〔2024〕0500号", "200"))
	assert.ErrorIs(t, err, incident.ErrNotFound)
}

func TestPenaltyAuthorization(t *testing.T) {
	h := newHarness(t)
	id := inProgress(t, h, "pen-az", inStreet1) // street 500001001
	before := must[incident.Incident](t)(h.svc.Get(as(operator), id))
	nextStreet := access.Actor{ID: "h-zhou", Kind: access.DepartmentHandler, Scope: "500001002", Roles: []string{"handler"}}

	for _, tc := range []struct {
		who    access.Actor
		reason access.Reason
	}{
		{nextStreet, access.OutOfJurisdiction}, // handles, but in the next street
		{operator, access.NoGrant},             // in the street, but does not handle
		{zhao, access.NoGrant},                 // the reporter
	} {
		_, err := h.svc.RecordPenalty(as(tc.who), id, fine(t, "九交执罚〔2024〕0600号", "200"))
		assert.ErrorIs(t, err, access.ErrDenied, tc.who.ID)
		var de *access.DeniedError
		if assert.True(t, errors.As(err, &de), tc.who.ID) {
			assert.Equal(t, tc.reason, de.Decision.Reason, tc.who.ID)
		}
	}
	_, err := h.svc.RecordPenalty(context.Background(), id, fine(t, "九交执罚〔2024〕0600号", "200"))
	assert.ErrorIs(t, err, access.ErrNoActor)
	after := must[incident.Incident](t)(h.svc.Get(as(operator), id))
	assert.Equal(t, before.Version, after.Version, "denied calls changed nothing")
	assert.Empty(t, after.Penalties)

	// The district's handler covers the street.
	inc, err := h.svc.RecordPenalty(as(handler), id, fine(t, "九交执罚〔2024〕0600号", "200"))
	require.NoError(t, err)
	assert.Len(t, inc.Penalties, 1)
}

// The payer is on the case file, masked in every output, and never on the
// bus: not in the event's data, not in its note, not in the timeline.
func TestPenaltyPayerStaysOffTheBus(t *testing.T) {
	h := newHarness(t)
	var (
		mu  sync.Mutex
		raw []bus.Message
	)
	_, err := h.bus.Subscribe(context.Background(), "gov.>", "raw", func(_ context.Context, m bus.Message) error {
		mu.Lock()
		raw = append(raw, m)
		mu.Unlock()
		return nil
	})
	require.NoError(t, err)
	id := inProgress(t, h, "pen-pii", inStreet1)
	p := fine(t, "九交执罚〔2024〕0412号", "2000")
	masked := p.Payer.Masked()
	require.NotEqual(t, payerName, masked)
	inc := must[incident.Incident](t)(h.svc.RecordPenalty(as(handler), id, p))

	ev := h.lastEvent(t, incident.EventPenalized, id)
	mu.Lock()
	defer mu.Unlock()
	var msg *bus.Message
	for i := range raw {
		if raw[i].Headers["govkit-event"] == incident.EventPenalized {
			msg = &raw[i]
		}
	}
	require.NotNil(t, msg, "the penalized event reached the bus")
	outputs := []string{
		string(msg.Data), fmt.Sprintf("%v", *msg), fmt.Sprintf("%+v", *msg), fmt.Sprintf("%#v", *msg),
		fmt.Sprintf("%+v", ev), fmt.Sprintf("%#v", ev),
	}
	for i, out := range outputs {
		assert.NotContains(t, out, payerName, "output %d", i)
		assert.NotContains(t, out, masked, "output %d: not even masked", i)
		assert.NotContains(t, out, "payer", "output %d", i)
	}
	assert.Contains(t, string(msg.Data), `"fine":"2000.00"`)

	tl := must[[]incident.Entry](t)(h.svc.Timeline(as(operator), id))
	assert.NotContains(t, fmt.Sprintf("%+v", tl), masked)

	// On the case file the payer masks itself.
	js, err := json.Marshal(inc)
	require.NoError(t, err)
	for i, out := range []string{string(js), fmt.Sprintf("%v", inc), fmt.Sprintf("%+v", inc), fmt.Sprintf("%#v", inc)} {
		assert.NotContains(t, out, payerName, "output %d", i)
	}
	assert.Contains(t, string(js), masked)
}

// Split makes new cases from the original's file; the penalties stay on
// the original, or every fine would count twice.
func TestSplitLeavesPenaltiesOnTheOriginal(t *testing.T) {
	h := newHarness(t)
	id := inProgress(t, h, "pen-split", inStreet1)
	must[incident.Incident](t)(h.svc.RecordPenalty(as(handler), id, fine(t, "九交执罚〔2024〕0700号", "800")))
	orig, parts, err := h.svc.Split(as(operator), id, []incident.Part{{Category: "muck-truck-overload"}}, "")
	require.NoError(t, err)
	assert.Len(t, orig.Penalties, 1)
	require.Len(t, parts, 1)
	assert.Empty(t, parts[0].Penalties)
	stored := must[incident.Incident](t)(h.svc.Get(as(operator), parts[0].ID))
	assert.Empty(t, stored.Penalties)
}

// Clone copies a penalty's amount, whose digits live behind a pointer.
func TestCloneCopiesPenalties(t *testing.T) {
	big := yuan(t, "123456789012345678901234567890123456789.01") // beyond apd's inline digits
	inc := incident.Incident{Penalties: []incident.Penalty{{Decision: "A", Amount: big}}}
	c := inc.Clone()
	c.Penalties[0].Decision = "B"
	_, err := apd.BaseContext.Add(&c.Penalties[0].Amount, &c.Penalties[0].Amount, apd.New(1, 0))
	require.NoError(t, err)
	assert.Equal(t, "A", inc.Penalties[0].Decision)
	assert.Equal(t, "123456789012345678901234567890123456789.01", inc.Penalties[0].Amount.String())
	assert.Equal(t, "123456789012345678901234567890123456790.01", c.Penalties[0].Amount.String())
	assert.Nil(t, incident.Incident{}.Clone().Penalties)
	assert.NotNil(t, incident.Incident{Penalties: []incident.Penalty{}}.Clone().Penalties)
}

// A handler whose call timed out after the penalty was stored repeats it:
// the repeat is answered with the case, not an error, and records nothing.
// Only a true repeat is: another amount, basis or payer under the same
// decision number, or the same penalty from someone else, is a duplicate.
func TestRecordPenaltyRetry(t *testing.T) {
	h := newHarness(t)
	id := inProgress(t, h, "pen-retry", inStreet1)
	first := must[incident.Incident](t)(h.svc.RecordPenalty(as(handler), id, fine(t, "九交执罚〔2024〕0601号", "2000")))
	events := len(h.eventsOf(t, id))

	again, err := h.svc.RecordPenalty(as(handler), id, fine(t, " 九交执罚〔2024〕0601号", "2000.00"))
	require.NoError(t, err)
	assert.Equal(t, first.Version, again.Version)
	require.Len(t, again.Penalties, 1)
	assert.Len(t, h.eventsOf(t, id), events, "a retry publishes nothing")

	other := access.Actor{ID: "h-li", Kind: access.DepartmentHandler, Scope: "500001", Roles: []string{"handler"}}
	differs := map[string]struct {
		as access.Actor
		p  func(*incident.Penalty)
	}{
		"amount":      {handler, func(p *incident.Penalty) { p.Amount = yuan(t, "2000.01") }},
		"basis":       {handler, func(p *incident.Penalty) { p.Basis = "另一条款" }},
		"no payer":    {handler, func(p *incident.Penalty) { p.Payer = pii.Data{} }},
		"another one": {other, func(*incident.Penalty) {}},
		"other payer": {handler, func(p *incident.Penalty) { p.Payer, _ = pii.NewName("另一家公司") }},
	}
	for name, tc := range differs {
		p := fine(t, "九交执罚〔2024〕0601号", "2000")
		tc.p(&p)
		_, err := h.svc.RecordPenalty(as(tc.as), id, p)
		assert.ErrorIs(t, err, incident.ErrDuplicatePenalty, name)
	}

	// The case moved on; the retry still finds its penalty.
	must[incident.Incident](t)(h.svc.Dispose(as(handler), id, "truck stopped"))
	must[incident.Incident](t)(h.svc.BeginVerification(as(district), id, ""))
	must[incident.Incident](t)(h.svc.Verify(as(verifier), id, true, ""))
	closed, err := h.svc.RecordPenalty(as(handler), id, fine(t, "九交执罚〔2024〕0601号", "2000"))
	require.NoError(t, err)
	assert.Equal(t, incident.Closed, closed.Status)
	_, err = h.svc.RecordPenalty(as(handler), id, fine(t, "九交执罚〔2024〕0602号", "2000"))
	assert.ErrorIs(t, err, incident.ErrInvalidTransition, "a new penalty on a closed case")
	after := must[incident.Incident](t)(h.svc.Get(as(operator), id))
	assert.Len(t, after.Penalties, 1)
}
