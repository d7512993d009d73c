package dispatch_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/govkit/govkit/dispatch"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNotificationValidate(t *testing.T) {
	require.NoError(t, whOffer().Validate())
	atLimit := whOffer()
	atLimit.Subject = strings.Repeat("办", dispatch.MaxSubjectBytes/3) + "ab" // 512 bytes
	atLimit.Data = map[string]string{"k": strings.Repeat("v", dispatch.MaxDataBytes-1)}
	require.NoError(t, atLimit.Validate())

	for name, tc := range map[string]struct {
		mod   func(*dispatch.Notification)
		field string
	}{
		"empty ID":        {func(n *dispatch.Notification) { n.ID = "" }, "id"},
		"ID with newline": {func(n *dispatch.Notification) { n.ID = "n-1\r\nX-Evil: 1" }, "id"},
		"ID too long":     {func(n *dispatch.Notification) { n.ID = strings.Repeat("a", dispatch.MaxNotifyIDBytes+1) }, "id"},
		"empty To":        {func(n *dispatch.Notification) { n.To = "" }, "to"},
		"zero kind":       {func(n *dispatch.Notification) { n.Kind = 0 }, "kind"},
		"unknown kind":    {func(n *dispatch.Notification) { n.Kind = dispatch.NotifyReminder + 1 }, "kind"},
		"subject 513 bytes": {func(n *dispatch.Notification) {
			n.Subject = strings.Repeat("a", dispatch.MaxSubjectBytes+1)
		}, "subject"},
		"data over 8 KiB": {func(n *dispatch.Notification) {
			n.Data = map[string]string{"k": strings.Repeat("v", dispatch.MaxDataBytes)}
		}, "data"},
		"work order too long": {func(n *dispatch.Notification) { n.WorkOrder = strings.Repeat("w", dispatch.MaxRefBytes+1) }, "work_order"},
	} {
		t.Run(name, func(t *testing.T) {
			n := whOffer()
			tc.mod(&n)
			err := n.Validate()
			require.ErrorIs(t, err, dispatch.ErrInvalidNotification)
			var ne *dispatch.NotificationError
			require.ErrorAs(t, err, &ne)
			assert.Equal(t, tc.field, ne.Field)
			assert.Equal(t, n.ID, ne.ID)
		})
	}
}

func TestNotificationKind(t *testing.T) {
	names := map[dispatch.NotificationKind]string{
		dispatch.NotifyOffer:       "offer",
		dispatch.NotifyChaseUp:     "chase-up",
		dispatch.NotifySupervision: "supervision",
		dispatch.NotifyEscalation:  "escalation",
		dispatch.NotifyReminder:    "reminder",
	}
	for k, name := range names {
		assert.Equal(t, name, k.String())
		b, err := json.Marshal(k)
		require.NoError(t, err)
		assert.Equal(t, `"`+name+`"`, string(b))
		var back dispatch.NotificationKind
		require.NoError(t, json.Unmarshal(b, &back))
		assert.Equal(t, k, back)
	}
	assert.Equal(t, "NotificationKind(0)", dispatch.NotificationKind(0).String())
	_, err := json.Marshal(dispatch.NotificationKind(0))
	assert.ErrorIs(t, err, dispatch.ErrInvalidNotification)
	var k dispatch.NotificationKind
	assert.ErrorIs(t, json.Unmarshal([]byte(`"gossip"`), &k), dispatch.ErrInvalidNotification)
	assert.ErrorIs(t, json.Unmarshal([]byte(`""`), &k), dispatch.ErrInvalidNotification)
}

func TestNotificationJSONRoundTrip(t *testing.T) {
	n := whOffer()
	b, err := json.Marshal(n)
	require.NoError(t, err)
	assert.JSONEq(t, `{"id":"0195a1b2-offer-1","kind":"offer","to":"sqp-enforce","work_order":"wo-42",
		"case":"case-7","subject":"Muck truck spilling on Shiqiaopu Road","deadline":"2025-03-14T11:30:00Z",
		"data":{"category":"0203"},"time":"2025-03-14T09:30:00Z"}`, string(b))
	var back dispatch.Notification
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, n, back)

	b, err = json.Marshal(dispatch.Notification{ID: "n", Kind: dispatch.NotifyReminder, To: "x"})
	require.NoError(t, err)
	assert.JSONEq(t, `{"id":"n","kind":"reminder","to":"x"}`, string(b), "optional fields are omitted")
}

func TestMemoryNotifierDeduplicatesByID(t *testing.T) {
	var m dispatch.MemoryNotifier
	ctx := context.Background()
	n := whOffer()
	require.NoError(t, m.Notify(ctx, n))
	again := n
	again.Subject = "resent"
	require.NoError(t, m.Notify(ctx, again), "a duplicate is accepted")
	chase := dispatch.Notification{ID: "chase-1", Kind: dispatch.NotifyChaseUp, To: "sqp-enforce", WorkOrder: "wo-42"}
	other := dispatch.Notification{ID: "offer-2", Kind: dispatch.NotifyOffer, To: "yjp-enforce"}
	require.NoError(t, m.Notify(ctx, chase))
	require.NoError(t, m.Notify(ctx, other))

	assert.Equal(t, []dispatch.Notification{n, chase, other}, m.Sent(), "but recorded once")
	assert.Equal(t, []dispatch.Notification{n, chase}, m.For("sqp-enforce"))
	assert.Empty(t, m.For("nobody"))

	m.Reset()
	assert.Empty(t, m.Sent())
	require.NoError(t, m.Notify(ctx, n))
	assert.Len(t, m.Sent(), 1, "Reset forgets the IDs too")
}

func TestMemoryNotifierKeepsItsOwnCopy(t *testing.T) {
	var m dispatch.MemoryNotifier
	n := whOffer()
	require.NoError(t, m.Notify(context.Background(), n))
	n.Data["category"] = "changed"
	m.Sent()[0].Data["category"] = "changed too"
	assert.Equal(t, "0203", m.Sent()[0].Data["category"])
}

func TestMemoryNotifierFailHook(t *testing.T) {
	outage := errors.New("SMS gateway down")
	down := true
	m := &dispatch.MemoryNotifier{Fail: func(n dispatch.Notification) error {
		if down {
			return fmt.Errorf("send %s: %w", n.ID, outage)
		}
		return nil
	}}
	n := whOffer()
	require.ErrorIs(t, m.Notify(context.Background(), n), outage)
	assert.Empty(t, m.Sent(), "a failed notification is not recorded")
	down = false
	require.NoError(t, m.Notify(context.Background(), n), "the retry after the outage goes through")
	assert.Len(t, m.Sent(), 1)
}

func TestMemoryNotifierRejectsInvalidAndCancelled(t *testing.T) {
	var m dispatch.MemoryNotifier
	require.ErrorIs(t, m.Notify(context.Background(), dispatch.Notification{ID: "x", Kind: dispatch.NotifyOffer}), dispatch.ErrInvalidNotification)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, m.Notify(ctx, whOffer()), context.Canceled)
	assert.Empty(t, m.Sent())
}

func TestMemoryNotifierConcurrent(t *testing.T) {
	var m dispatch.MemoryNotifier
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 20 {
				n := dispatch.Notification{ID: fmt.Sprintf("n-%d", i), Kind: dispatch.NotifyReminder, To: fmt.Sprintf("team-%d", i%4)}
				assert.NoError(t, m.Notify(context.Background(), n), "goroutine %d", g)
				_ = m.For("team-0")
			}
		})
	}
	wg.Wait()
	assert.Len(t, m.Sent(), 20)
	assert.Len(t, m.For("team-1"), 5)
}
