package dispatch_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/govkit/govkit/dispatch"
)

// A work order is offered to Shiqiaopu street's enforcement team; a test
// double records it, and a redelivery with the same ID is recorded once.
func ExampleMemoryNotifier() {
	var notifier dispatch.MemoryNotifier
	offer := dispatch.Notification{
		ID:        "0195a1b2-7c3d-7e4f-8a5b-6c7d8e9f0a1b",
		Kind:      dispatch.NotifyOffer,
		To:        "sqp-enforce",
		WorkOrder: "wo-42",
		Subject:   "Muck truck spilling on Shiqiaopu Road",
		Deadline:  time.Date(2025, 3, 14, 11, 30, 0, 0, time.UTC),
	}
	ctx := context.Background()
	_ = notifier.Notify(ctx, offer)
	_ = notifier.Notify(ctx, offer) // at-least-once delivery: a retry

	for _, n := range notifier.For("sqp-enforce") {
		fmt.Printf("%s to %s: %s (due %s)\n", n.Kind, n.To, n.Subject, n.Deadline.Format(time.RFC3339))
	}
	fmt.Println("recorded:", len(notifier.Sent()))
	// Output:
	// offer to sqp-enforce: Muck truck spilling on Shiqiaopu Road (due 2025-03-14T11:30:00Z)
	// recorded: 1
}

// A sender signs a payload; the receiver verifies it, and refuses it when
// altered or replayed after the tolerance.
func ExampleVerifySignature() {
	secret := []byte("jiulongpo-webhook-secret-2025")
	sentAt := time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC)
	timestamp := fmt.Sprint(sentAt.Unix()) // the X-Govkit-Timestamp header
	body := []byte(`{"id":"n-1","kind":"chase-up","to":"sqp-enforce"}`)
	signature := dispatch.WebhookSignature(secret, timestamp, body) // the X-Govkit-Signature header
	fmt.Println(timestamp, signature)

	tolerance := 5 * time.Minute
	err := dispatch.VerifySignature(secret, timestamp, body, signature, sentAt.Add(time.Second), tolerance)
	fmt.Println("on arrival:", err)

	altered := []byte(`{"id":"n-1","kind":"chase-up","to":"yjp-enforce"}`)
	err = dispatch.VerifySignature(secret, timestamp, altered, signature, sentAt.Add(time.Second), tolerance)
	fmt.Println("altered:", errors.Is(err, dispatch.ErrInvalidSignature))

	err = dispatch.VerifySignature(secret, timestamp, body, signature, sentAt.Add(time.Hour), tolerance)
	fmt.Println("replayed an hour later:", errors.Is(err, dispatch.ErrStaleSignature))
	// Output:
	// 1741944600 v1=63ee2c229e980f962b5b8c87e796e46f13610dd8006b5924d34303432e7974e3
	// on arrival: <nil>
	// altered: true
	// replayed an hour later: true
}

// A district wires its push gateway's receiver with WebhookHandler and
// sends to it with a Webhook.
func ExampleWebhook() {
	secret := []byte("jiulongpo-webhook-secret-2025")
	var received dispatch.MemoryNotifier // stands in for the push gateway
	srv := httptest.NewServer(dispatch.WebhookHandler(secret, 5*time.Minute, nil, received.Notify))
	defer srv.Close()

	hook, err := dispatch.NewWebhook(dispatch.WebhookConfig{URL: srv.URL, Secret: secret})
	if err != nil {
		fmt.Println(err)
		return
	}
	err = hook.Notify(context.Background(), dispatch.Notification{
		ID:        "0195a1b2-7c3d-7e4f-8a5b-6c7d8e9f0a1c",
		Kind:      dispatch.NotifySupervision,
		To:        "jlp-urban",
		WorkOrder: "wo-42",
		Subject:   "督办: muck truck case overdue",
	})
	fmt.Println("sent:", err)
	for _, n := range received.Sent() {
		fmt.Println(n.Kind, n.To, n.Subject)
	}
	// Output:
	// sent: <nil>
	// supervision jlp-urban 督办: muck truck case overdue
}
