package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/google/uuid"
	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/dispatch"
	"github.com/govkit/govkit/incident"
	"github.com/govkit/govkit/region"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMuckTruck(t *testing.T) {
	res, err := run(context.Background(), io.Discard)
	require.NoError(t, err)

	// Seen in Banan, handled in Jiulongpo: the asset rule beat the area rule.
	assert.Equal(t, region.Code("500113"), res.ReportedIn)
	assert.Equal(t, []string{"jlp-transport", "jlp-urban", "sqp-enforce"}, res.Bodies, "lead first, then the co-handlers")
	assert.ElementsMatch(t, res.Bodies, res.Inbox, "every offer reached Jiulongpo's centre on its own subtree")
	assert.Equal(t, []string{dispatch.EventCaseDisposed}, res.BananSaw, "Banan's centre is offered none of the work, only told the case is disposed")
	assert.ErrorIs(t, res.Denied, access.ErrDenied, "a handler cannot sign for another department's order")

	// The case file, as stored: closed as fixed, evaluated, verified by
	// someone who did not handle it, within three days.
	inc, err := res.Incidents.Get(context.Background(), res.Incident)
	require.NoError(t, err)
	assert.Equal(t, incident.Evaluated, inc.Status)
	assert.Equal(t, incident.Fixed, inc.Resolution)
	assert.Equal(t, incident.VideoAI, inc.Channel)
	assert.Equal(t, 5, inc.Rating)
	assert.NotContains(t, inc.Handlers, res.VerifiedBy)
	assert.Less(t, inc.Times.Closed.Sub(inc.Times.Reported), 72*time.Hour)
	assert.Equal(t, time.Date(2024, 3, 6, 9, 10, 0, 0, cst), inc.Times.Registered.In(cst), "registered the next morning")

	// The timeline, read from the store, is an unbroken hash chain.
	tl, err := res.Incidents.Timeline(context.Background(), res.Incident)
	require.NoError(t, err)
	require.NoError(t, incident.VerifyTimeline(tl))
	var actions []string
	for _, e := range tl {
		actions = append(actions, e.Action)
	}
	assert.Equal(t, []string{"report", "register", "dispatch", "start", "penalty", "dispose", "begin-verification", "verify", "evaluate"}, actions)
	penalty := tl[slices.IndexFunc(tl, func(e incident.Entry) bool { return e.Action == "penalty" })]
	assert.Equal(t, "jlp-te-chen", penalty.ActorID, "the detachment's officer records it")
	assert.Equal(t, "九交执罚〔2024〕0412号: fine 2000.00 yuan", penalty.Note)
	verify := tl[slices.IndexFunc(tl, func(e incident.Entry) bool { return e.Action == "verify" })]
	assert.Equal(t, res.VerifiedBy, verify.ActorID)

	// Every work order is done, and the dispatch file says disposed.
	cf, err := res.Orders.CaseFile(context.Background(), res.Incident.String())
	require.NoError(t, err)
	assert.True(t, cf.Disposed)
	require.Len(t, cf.Orders, 3)
	for _, id := range cf.Orders {
		o, err := res.Orders.Order(context.Background(), id)
		require.NoError(t, err)
		assert.Equal(t, dispatch.Done, o.Status, o.Body)
		assert.NotEmpty(t, o.Responder, o.Body)
		if o.Body == "sqp-enforce" {
			assert.Equal(t, []uuid.UUID{o.ID}, res.StreetInbox, "the street team's subtree receives the offer of its order, and no other")
		}
	}

	// The fine, in decimals, on the stored case file; its payer masked.
	require.Len(t, inc.Penalties, 1)
	fine := inc.Penalties[0]
	assert.Zero(t, fine.Amount.Cmp(apd.New(2000, 0)), fine.Amount.String())
	assert.Equal(t, "2000.00", fine.Amount.String())
	assert.Equal(t, "九交执罚〔2024〕0412号", fine.Decision)
	assert.Equal(t, "jlp-te-chen", fine.DecidedBy)
	assert.Equal(t, time.Date(2024, 3, 7, 16, 0, 0, 0, cst), fine.DecidedAt.In(cst))
	assert.Equal(t, "重**********", fine.Payer.String())
	assert.Contains(t, inc.Handlers, "jlp-te-chen")
	assert.Zero(t, res.Fine.Amount.Cmp(&fine.Amount), "the result reports the recorded fine")
}

// The scenario from start to finish, summarised in one line.
func Example() {
	res, err := run(context.Background(), io.Discard)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Summary())
	// Output:
	// muck truck seen in 500113, handled by jlp-transport, jlp-urban, sqp-enforce; closed fixed with a fine of 2000.00 yuan 63h25m after the report; evaluated, rated 5; timeline verifies
}
