package access_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/region"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const policyJSON = `{
  "version": 1,
  "roles": {
    "street-officer": [
      {"action": "read",     "resource": "incident"},
      {"action": "register", "resource": "incident"},
      {"action": "assign",   "resource": "work-order"}
    ],
    "district-supervisor": [
      {"action": "read",   "resource": "incident"},
      {"action": "verify", "resource": "incident"}
    ],
    "department-handler": [
      {"action": "handle", "resource": "work-order", "same_department": true}
    ],
    "citizen": [
      {"action": "create", "resource": "incident"},
      {"action": "read",   "resource": "incident", "own_only": true}
    ],
    "auditor": [
      {"action": "read", "resource": "*"}
    ],
    "root": [
      {"action": "*", "resource": "*"}
    ]
  }
}`

func policy(t testing.TB) *access.Policy {
	t.Helper()
	p, err := access.ParsePolicy([]byte(policyJSON))
	require.NoError(t, err)
	return p
}

func as(a access.Actor) context.Context { return access.WithActor(context.Background(), a) }

var (
	// Li is a street officer of street 500107001 (Shiqiaopu, Jiulongpo).
	li = access.Actor{ID: "li", Kind: access.StreetStaff, Scope: "500107001", Roles: []string{"street-officer"}}
	// Wang supervises all of Jiulongpo district.
	wang = access.Actor{ID: "wang", Kind: access.Supervisor, Scope: "500107", Roles: []string{"district-supervisor"}}
	// Zhao is a citizen living anywhere in Chongqing.
	zhao = access.Actor{ID: "zhao", Kind: access.Citizen, Scope: "500000", Roles: []string{"citizen"}}
	// Chen handles orders for the water company across the district.
	chen = access.Actor{ID: "chen", Kind: access.DepartmentHandler, Department: "water", Scope: "500107", Roles: []string{"department-handler"}}
	// Qian audits the city.
	qian = access.Actor{ID: "qian", Kind: access.Auditor, Scope: "500000", Roles: []string{"auditor"}}
)

func incidentIn(grid string) access.Resource {
	return access.Resource{Kind: "incident", ID: "inc-1", Jurisdiction: region.Code(grid)}
}

func TestScopeAtEveryTier(t *testing.T) {
	p := policy(t)
	cases := []struct {
		who      access.Actor
		action   string
		grid     string
		allowed  bool
		reason   access.Reason
		fromRole string
	}{
		{li, "read", "500107001002003", true, access.Granted, "street-officer"},
		{li, "read", "500107001", true, access.Granted, "street-officer"}, // the street itself
		{li, "read", "500107002001001", false, access.OutOfJurisdiction, ""},
		{li, "read", "500107", false, access.OutOfJurisdiction, ""}, // the district above
		{li, "verify", "500107001002003", false, access.NoGrant, ""},
		{wang, "verify", "500107002001001", true, access.Granted, "district-supervisor"},
		{wang, "verify", "500113001001001", false, access.OutOfJurisdiction, ""}, // Banan
		{qian, "read", "500113001001001", true, access.Granted, "auditor"},
		{qian, "delete", "500113001001001", false, access.NoGrant, ""},
		{qian, "read", "510107001001001", false, access.OutOfJurisdiction, ""}, // Chengdu
	}
	for _, c := range cases {
		d := p.Authorize(as(c.who), c.action, incidentIn(c.grid))
		assert.Equal(t, c.allowed, d.Allowed, "%s %s in %s: %s", c.who.ID, c.action, c.grid, d.Explain())
		assert.Equal(t, c.reason, d.Reason, d.Explain())
		assert.Equal(t, c.fromRole, d.Role)
		if c.allowed {
			require.NotNil(t, d.Grant)
			assert.NoError(t, d.Err())
		} else {
			assert.ErrorIs(t, d.Err(), access.ErrDenied)
		}
	}
}

func TestCitizenSeesOnlyOwnReports(t *testing.T) {
	p := policy(t)
	own := incidentIn("500107001002003")
	own.Owner = "zhao"
	other := own
	other.Owner = "someone-else"
	assert.True(t, p.Authorize(as(zhao), "read", own).Allowed)
	d := p.Authorize(as(zhao), "read", other)
	assert.False(t, d.Allowed)
	assert.Equal(t, access.NotOwner, d.Reason)
	assert.Contains(t, d.Explain(), "owned by someone else")
	assert.True(t, p.Authorize(as(zhao), "create", other).Allowed, "anyone may report anywhere in their city")
}

func TestDepartmentLimit(t *testing.T) {
	p := policy(t)
	order := access.Resource{Kind: "work-order", Jurisdiction: "500107001001001", Department: "water"}
	assert.True(t, p.Authorize(as(chen), "handle", order).Allowed)
	order.Department = "gas"
	d := p.Authorize(as(chen), "handle", order)
	assert.Equal(t, access.WrongDepartment, d.Reason)
	assert.Contains(t, d.Explain(), `department "gas"`)
}

func TestWildcardsAndSeveralRoles(t *testing.T) {
	p := policy(t)
	admin := access.Actor{ID: "root", Kind: access.CityStaff, Scope: "500000", Roles: []string{"root"}}
	d := p.Authorize(as(admin), "delete", access.Resource{Kind: "policy", Jurisdiction: "500000"})
	assert.True(t, d.Allowed)
	assert.Equal(t, "root", d.Role)

	// A role that cannot grant does not hide one that can.
	both := li
	both.Roles = []string{"citizen", "street-officer"}
	d = p.Authorize(as(both), "assign", access.Resource{Kind: "work-order", Jurisdiction: "500107001001001"})
	assert.True(t, d.Allowed)
	assert.Equal(t, "street-officer", d.Role)
}

func TestDenialsWithoutActorOrJurisdiction(t *testing.T) {
	p := policy(t)
	d := p.Authorize(context.Background(), "read", incidentIn("500107001002003"))
	assert.Equal(t, access.NoActor, d.Reason)
	assert.ErrorIs(t, d.Err(), access.ErrNoActor)
	assert.ErrorIs(t, d.Err(), access.ErrDenied)

	d = p.Authorize(as(li), "read", access.Resource{Kind: "incident"})
	assert.Equal(t, access.NoJurisdiction, d.Reason)

	d = p.Authorize(as(access.Actor{Kind: access.StreetStaff, Scope: "500107001", Roles: []string{"street-officer"}}), "read", incidentIn("500107001002003"))
	assert.Equal(t, access.InvalidActor, d.Reason)

	nobody := li
	nobody.Roles = nil
	assert.Equal(t, access.NoGrant, p.Authorize(as(nobody), "read", incidentIn("500107001002003")).Reason)
	nobody.Roles = []string{"no-such-role"}
	assert.Equal(t, access.NoGrant, p.Authorize(as(nobody), "read", incidentIn("500107001002003")).Reason)
}

func TestExplanations(t *testing.T) {
	p := policy(t)
	d := p.Authorize(as(li), "read", incidentIn("500107002001001"))
	assert.Equal(t, "denied li to read incident inc-1: 500107002001001 lies outside the actor's jurisdiction 500107001", d.Explain())
	d = p.Authorize(as(li), "read", incidentIn("500107001001001"))
	assert.Equal(t, "allowed li to read incident inc-1 in 500107001001001: role street-officer grants read incident", d.Explain())
	err := access.Check(as(li), p, "verify", incidentIn("500107001001001"))
	var de *access.DeniedError
	require.True(t, errors.As(err, &de))
	assert.Equal(t, access.NoGrant, de.Decision.Reason)
	assert.Contains(t, err.Error(), "no grant")
}

func TestAllowAll(t *testing.T) {
	az := access.AllowAll()
	d := az.Authorize(as(li), "anything", access.Resource{Kind: "x"})
	assert.True(t, d.Allowed)
	assert.Equal(t, "li", d.ActorID)
	assert.Equal(t, access.AllowAllGranted, d.Reason)
	assert.NoError(t, access.Check(context.Background(), az, "anything", access.Resource{}))
}

func TestPolicyRejectsMalformedInput(t *testing.T) {
	cases := map[string]string{
		"not json":         `{"version":1,`,
		"unknown field":    `{"version":1,"roles":{"a":[{"action":"read","resource":"incident"}]},"extra":1}`,
		"unknown in grant": `{"version":1,"roles":{"a":[{"action":"read","resource":"incident","scope":"all"}]}}`,
		"wrong version":    `{"version":2,"roles":{"a":[{"action":"read","resource":"incident"}]}}`,
		"no roles":         `{"version":1,"roles":{}}`,
		"empty role":       `{"version":1,"roles":{"a":[]}}`,
		"bad role name":    `{"version":1,"roles":{"Street Officer":[{"action":"read","resource":"incident"}]}}`,
		"empty action":     `{"version":1,"roles":{"a":[{"action":"","resource":"incident"}]}}`,
		"bad resource":     `{"version":1,"roles":{"a":[{"action":"read","resource":"in cident"}]}}`,
		"duplicate grant":  `{"version":1,"roles":{"a":[{"action":"read","resource":"x"},{"action":"read","resource":"x"}]}}`,
		"trailing data":    `{"version":1,"roles":{"a":[{"action":"read","resource":"x"}]}} {}`,
		"wrong type":       `{"version":"1","roles":{}}`,
	}
	paths := map[string]string{
		"wrong version": "version", "bad role name": `roles["Street Officer"]`,
		"empty action": `roles["a"][0].action`, "bad resource": `roles["a"][0].resource`, "duplicate grant": `roles["a"][1]`,
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			p, err := access.ReadPolicy(strings.NewReader(in))
			require.Error(t, err)
			assert.Nil(t, p)
			assert.ErrorIs(t, err, access.ErrInvalidPolicy)
			var pe *access.PolicyError
			require.True(t, errors.As(err, &pe))
			if want, ok := paths[name]; ok {
				assert.Equal(t, want, pe.Path)
			}
		})
	}
	_, err := access.ReadPolicy(strings.NewReader(`{"version":1,"roles":{"a":[{"action":"read","resource":"` + strings.Repeat("x", 5<<20) + `"}]}}`))
	assert.ErrorContains(t, err, "larger than 4 MiB")
}

func TestPolicyRoundTripAndIsolation(t *testing.T) {
	p := policy(t)
	out, err := json.Marshal(p)
	require.NoError(t, err)
	back, err := access.ParsePolicy(out)
	require.NoError(t, err)
	assert.Equal(t, p.Roles(), back.Roles())
	for _, r := range p.Roles() {
		assert.Equal(t, p.Grants(r), back.Grants(r))
	}
	assert.Contains(t, p.String(), "street-officer: 3 grants")

	// Changing the caller's map after NewPolicy changes nothing.
	roles := map[string][]access.Grant{"a": {{Action: "read", Resource: "incident"}}}
	q, err := access.NewPolicy(roles)
	require.NoError(t, err)
	roles["a"][0].Action = "delete"
	a := access.Actor{ID: "x", Kind: access.CityStaff, Scope: "500000", Roles: []string{"a"}}
	assert.True(t, q.Authorize(as(a), "read", access.Resource{Kind: "incident", Jurisdiction: "500000"}).Allowed)
	assert.False(t, q.Authorize(as(a), "delete", access.Resource{Kind: "incident", Jurisdiction: "500000"}).Allowed)
}

func TestActorContext(t *testing.T) {
	_, err := access.ActorFrom(context.Background())
	assert.ErrorIs(t, err, access.ErrNoActor)
	roles := []string{"street-officer"}
	a := li
	a.Roles = roles
	ctx := access.WithActor(context.Background(), a)
	roles[0] = "root" // the context keeps its own copy
	got, err := access.ActorFrom(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"street-officer"}, got.Roles)
	assert.Equal(t, "street-staff li@500107001", got.String())
}

func TestActorValidate(t *testing.T) {
	assert.NoError(t, li.Validate())
	for _, a := range []access.Actor{
		{Kind: access.Citizen, Scope: "500000"},
		{ID: "x", Scope: "500000"},
		{ID: "x", Kind: access.Citizen, Scope: "5000"},
		{ID: "x", Kind: access.Citizen},
	} {
		assert.ErrorIs(t, a.Validate(), access.ErrInvalidActor, "%+v", a)
	}
	for k := access.Citizen; k <= access.AutomationSystem; k++ {
		got, err := access.ParseKind(k.String())
		require.NoError(t, err)
		assert.Equal(t, k, got)
	}
	_, err := access.ParseKind("mayor")
	assert.ErrorIs(t, err, access.ErrInvalidActor)
	assert.True(t, access.VideoAISystem.IsSystem())
	assert.False(t, access.Inspector.IsSystem())
}

func TestSeparationOfDuties(t *testing.T) {
	assert.NoError(t, access.HandlerNotVerifier.Check("wang", "chen", "li"))
	err := access.HandlerNotVerifier.Check("chen", "chen")
	assert.ErrorIs(t, err, access.ErrSeparationOfDuties)
	var se *access.SeparationError
	require.True(t, errors.As(err, &se))
	assert.Equal(t, "chen", se.ActorID)
	assert.Contains(t, err.Error(), `chen may not verify: they already did "handle"`)
	assert.ErrorIs(t, access.PenaltyNotAppeal.Check(""), access.ErrSeparationOfDuties, "anonymous is refused")
	assert.ErrorIs(t, access.ApplicantNotReviewer.Check("a", "a"), access.ErrSeparationOfDuties)
}

func FuzzParsePolicy(f *testing.F) {
	f.Add([]byte(policyJSON))
	f.Add([]byte(`{"version":1,"roles":{"a":[{"action":"*","resource":"*","own_only":true}]}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := access.ParsePolicy(data)
		if err != nil {
			if !errors.Is(err, access.ErrInvalidPolicy) {
				t.Fatalf("error %v is not ErrInvalidPolicy", err)
			}
			return
		}
		// An accepted policy writes and reads back to the same grants, and
		// denies an actor with none of its roles.
		out, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		back, err := access.ParsePolicy(out)
		if err != nil {
			t.Fatalf("written policy does not read back: %v", err)
		}
		for _, r := range p.Roles() {
			if len(p.Grants(r)) != len(back.Grants(r)) {
				t.Fatalf("role %s changed", r)
			}
		}
		stranger := access.Actor{ID: "s", Kind: access.Citizen, Scope: "500000", Roles: []string{"Not A Role"}}
		if p.Authorize(as(stranger), "read", access.Resource{Kind: "incident", Jurisdiction: "500000"}).Allowed {
			t.Fatal("an actor without a role of the policy was allowed")
		}
	})
}

// BenchmarkAuthorize is one permission check with jurisdiction scope: a
// district supervisor verifying an incident in a grid of her district.
func BenchmarkAuthorize(b *testing.B) {
	p := policy(b)
	ctx := as(wang)
	r := incidentIn("500107002001001")
	b.ReportAllocs()
	for b.Loop() {
		if !p.Authorize(ctx, "verify", r).Allowed {
			b.Fatal("denied")
		}
	}
}
