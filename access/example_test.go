package access_test

import (
	"context"
	"fmt"

	"github.com/govkit/govkit/access"
)

// A street officer may register an incident in her own street and is denied
// in the next one.
func Example() {
	p, err := access.ParsePolicy([]byte(`{"version": 1, "roles": {
		"street-officer": [{"action": "register", "resource": "incident"}]}}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	li := access.Actor{ID: "li", Kind: access.StreetStaff, Scope: "500107001", Roles: []string{"street-officer"}}
	ctx := access.WithActor(context.Background(), li)

	mine := access.Resource{Kind: "incident", ID: "inc-7", Jurisdiction: "500107001002003"}
	next := access.Resource{Kind: "incident", ID: "inc-8", Jurisdiction: "500107002001004"}
	fmt.Println(p.Authorize(ctx, "register", mine).Explain())
	fmt.Println(p.Authorize(ctx, "register", next).Explain())
	// Output:
	// allowed li to register incident inc-7 in 500107001002003: role street-officer grants register incident
	// denied li to register incident inc-8: 500107002001004 lies outside the actor's jurisdiction 500107001
}

func ExampleSeparation_Check() {
	handlers := []string{"chen"}
	fmt.Println(access.HandlerNotVerifier.Check("wang", handlers...))
	fmt.Println(access.HandlerNotVerifier.Check("chen", handlers...))
	// Output:
	// <nil>
	// access: chen may not verify: they already did "handle" on this matter (handler-not-verifier)
}
