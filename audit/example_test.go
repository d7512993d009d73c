package audit_test

import (
	"context"
	"fmt"
	"time"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/audit"
	"github.com/govkit/govkit/clock"
)

// A street officer reads an incident in her street, then one in the next
// street: both decisions go into the log, which then verifies.
func Example() {
	ctx := context.Background()
	policy, err := access.ParsePolicy([]byte(`{"version": 1, "roles": {
		"street-officer": [{"action": "read", "resource": "incident"}]}}`))
	if err != nil {
		panic(err)
	}
	store := audit.NewMemoryStore()
	log, err := audit.New(store, clock.NewManual(time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)))
	if err != nil {
		panic(err)
	}
	az := audit.Authorizer(policy, log) // every decision is recorded

	li := access.Actor{ID: "li", Kind: access.StreetStaff, Scope: "500107001", Roles: []string{"street-officer"}}
	ctx = access.WithActor(ctx, li)
	az.Authorize(ctx, "read", access.Resource{Kind: "incident", ID: "inc-1", Jurisdiction: "500107001001001"})
	az.Authorize(ctx, "read", access.Resource{Kind: "incident", ID: "inc-2", Jurisdiction: "500107002001001"})

	if err := log.Verify(ctx); err != nil {
		panic(err)
	}
	entries, err := store.Range(ctx, 1, 0)
	if err != nil {
		panic(err)
	}
	for _, e := range entries {
		fmt.Println(e.Seq, e.Time.Format(time.TimeOnly), e.Allowed, e.Reason)
	}
	// Output:
	// 1 09:00:00 true allowed li to read incident inc-1 in 500107001001001: role street-officer grants read incident
	// 2 09:00:00 false denied li to read incident inc-2: 500107002001001 lies outside the actor's jurisdiction 500107001
}
