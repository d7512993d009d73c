package dispatch_test

import (
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"github.com/govkit/govkit/dispatch"
	"github.com/govkit/govkit/region"
	"github.com/govkit/govkit/region/regiontest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The fixture follows S16: Jiulongpo (500107) with Shiqiaopu (500107001)
// and Yangjiaping (500107002) streets, and Banan (500113).
func org(t testing.TB) *dispatch.Org {
	t.Helper()
	o, err := dispatch.NewOrg([]dispatch.Body{
		{ID: "cq-urban", Name: "Chongqing City Management Bureau", Function: "city-management", Jurisdiction: "500000"},
		{ID: "cq-water", Name: "Chongqing Water Group", Function: "water", Jurisdiction: "500000", Department: "water"},
		{ID: "cq-expressway", Name: "Chongqing Expressway Group", Function: "roads", Jurisdiction: "500000"},
		{ID: "jlp-urban", Name: "Jiulongpo City Management Bureau", Function: "city-management", Jurisdiction: "500107"},
		{ID: "jlp-housing", Name: "Jiulongpo Housing and Construction Committee", Function: "housing", Jurisdiction: "500107"},
		{ID: "bn-urban", Name: "Banan City Management Bureau", Function: "city-management", Jurisdiction: "500113"},
		{ID: "sqp-enforce", Name: "Shiqiaopu Street Enforcement Team", Function: "enforcement", Jurisdiction: "500107001"},
		{ID: "yjp-enforce", Name: "Yangjiaping Street Enforcement Team", Function: "enforcement", Jurisdiction: "500107002"},
	})
	require.NoError(t, err)
	return o
}

var (
	districtUrban = dispatch.Handler{Function: "city-management", Tier: region.District}
	streetTeam    = dispatch.Handler{Function: "enforcement", Tier: region.Street}
)

func rules() []dispatch.Rule {
	return []dispatch.Rule{
		{ID: "any", Category: "*", Area: "500000", Lead: districtUrban},
		{ID: "muck-truck", Category: "0203", Area: "500000", Lead: districtUrban,
			Co: []dispatch.Handler{{Function: "housing", Tier: region.District}, streetTeam}},
		{ID: "water", Category: "05*", Area: "500000", Lead: dispatch.Handler{Body: "cq-water"},
			Co: []dispatch.Handler{{Function: "city-management", Tier: region.District, Optional: true}}},
		{ID: "waste-yjp", Category: "0107", Area: "500107002", Lead: dispatch.Handler{Body: "yjp-enforce"}},
	}
}

func assets() []dispatch.AssetRule {
	return []dispatch.AssetRule{{ID: "g65", Asset: "road:G65", Lead: dispatch.Handler{Body: "cq-expressway"}}}
}

func router(t testing.TB) *dispatch.Router {
	t.Helper()
	r, err := dispatch.NewRouter(org(t), rules(), assets())
	require.NoError(t, err)
	return r
}

func path(grid string) []region.Code {
	return []region.Code{"500000", region.Code(grid[:6]), region.Code(grid[:9]), region.Code(grid[:12]), region.Code(grid)}
}

func TestRouteAcrossDepartmentsAndTiers(t *testing.T) {
	r := router(t)
	// S16: the overloaded muck truck in Shiqiaopu goes across to the
	// district city-management bureau and housing committee and down to
	// the street's enforcement team.
	d, err := r.Route(dispatch.Case{ID: "inc-1", Category: "0203", Path: path("500107001002003")})
	require.NoError(t, err)
	assert.Equal(t, "muck-truck", d.Rule.ID)
	assert.Equal(t, "jlp-urban", d.Lead.Body.ID)
	require.Len(t, d.Co, 2)
	assert.Equal(t, "jlp-housing", d.Co[0].Body.ID)
	assert.Equal(t, "sqp-enforce", d.Co[1].Body.ID)
	require.Len(t, d.Others(), 1)
	assert.Equal(t, "any", d.Others()[0].ID)
	assert.Contains(t, d.Explain(), "rule muck-truck (category 0203 in 500000) matched category 0203 in 500107001002003: lead jlp-urban, co jlp-housing, co sqp-enforce")
	assert.Contains(t, d.Explain(), "any (category * in 500000) lost: broader category")

	// The same rule in the next street picks that street's team.
	d, err = r.Route(dispatch.Case{Category: "0203", Path: path("500107002001001")})
	require.NoError(t, err)
	assert.Equal(t, "yjp-enforce", d.Co[1].Body.ID)
}

func TestMostSpecificWins(t *testing.T) {
	r := router(t)
	d, err := r.Route(dispatch.Case{Category: "0107", Path: path("500107002001001")})
	require.NoError(t, err)
	assert.Equal(t, "waste-yjp", d.Rule.ID, "a street rule beats the city-wide catch-all")
	assert.Contains(t, d.Explain(), "any (category * in 500000) lost: broader category and broader area")

	d, err = r.Route(dispatch.Case{Category: "0107", Path: path("500107001001001")})
	require.NoError(t, err)
	assert.Equal(t, "any", d.Rule.ID, "outside Yangjiaping the catch-all applies")

	d, err = r.Route(dispatch.Case{Category: "0512", Path: path("500113001001001")})
	require.NoError(t, err)
	assert.Equal(t, "water", d.Rule.ID, "a class prefix beats the catch-all")
	assert.Equal(t, "cq-water", d.Lead.Body.ID)
	assert.True(t, d.Co[0].Optional)
	assert.Equal(t, "bn-urban", d.Co[0].Body.ID)
}

func TestAssetOwnershipOverridesArea(t *testing.T) {
	r := router(t)
	d, err := r.Route(dispatch.Case{Category: "0107", Path: path("500107002001001"), Asset: "road:G65"})
	require.NoError(t, err)
	assert.Nil(t, d.Rule)
	assert.Equal(t, "g65", d.Asset.ID)
	assert.Equal(t, "cq-expressway", d.Lead.Body.ID)
	assert.Contains(t, d.Explain(), "ownership overrides area")
	assert.Contains(t, d.Explain(), "waste-yjp (category 0107 in 500107002) lost: the asset's owner decides")

	d, err = r.Route(dispatch.Case{Category: "0107", Path: path("500107002001001"), Asset: "road:S103"})
	require.NoError(t, err)
	assert.Equal(t, "waste-yjp", d.Rule.ID, "an asset nobody owns falls back to the area rules")
}

func TestRouteErrors(t *testing.T) {
	r := router(t)
	_, err := r.Route(dispatch.Case{Category: "0203", Path: path("500113001001001")})
	assert.ErrorIs(t, err, dispatch.ErrUnresolved, "Banan has no housing committee in the fixture")
	_, err = r.Route(dispatch.Case{Category: "0203"})
	assert.ErrorIs(t, err, dispatch.ErrInvalidCase)
	_, err = r.Route(dispatch.Case{Path: path("500107001001001")})
	assert.ErrorIs(t, err, dispatch.ErrInvalidCase)

	narrow, err := dispatch.NewRouter(org(t), []dispatch.Rule{{ID: "w", Category: "05*", Area: "500000", Lead: dispatch.Handler{Body: "cq-water"}}}, nil)
	require.NoError(t, err)
	_, err = narrow.Route(dispatch.Case{Category: "0107", Path: path("500107001001001")})
	assert.ErrorIs(t, err, dispatch.ErrNoRoute)
	_, err = narrow.Route(dispatch.Case{Category: "0107", Path: path("510107001001001")})
	assert.ErrorIs(t, err, dispatch.ErrNoRoute, "Chengdu is outside every area")
}

func TestTiesAreFoundAtLoadTime(t *testing.T) {
	// "01*" in Jiulongpo and "0107" city-wide both match 0107 in
	// Jiulongpo; neither is more specific in both ways.
	tie := []dispatch.Rule{
		{ID: "class-jlp", Category: "01*", Area: "500107", Lead: dispatch.Handler{Body: "jlp-urban"}},
		{ID: "waste-city", Category: "0107", Area: "500000", Lead: dispatch.Handler{Body: "cq-urban"}},
	}
	_, err := dispatch.NewRouter(org(t), tie, nil)
	require.ErrorIs(t, err, dispatch.ErrInvalidRules)
	assert.Contains(t, err.Error(), "rules waste-city (category 0107 in 500000) and class-jlp (category 01* in 500107) tie for category 0107 in 500107")

	// A rule for the overlap settles it.
	settled := append(tie, dispatch.Rule{ID: "waste-jlp", Category: "0107", Area: "500107", Lead: dispatch.Handler{Body: "jlp-urban"}})
	r, err := dispatch.NewRouter(org(t), settled, nil)
	require.NoError(t, err)
	d, err := r.Route(dispatch.Case{Category: "0107", Path: path("500107001001001")})
	require.NoError(t, err)
	assert.Equal(t, "waste-jlp", d.Rule.ID)
	assert.Len(t, d.Others(), 2)
}

func TestMalformedRules(t *testing.T) {
	lead := dispatch.Handler{Body: "cq-urban"}
	cases := map[string]struct {
		rules  []dispatch.Rule
		assets []dispatch.AssetRule
		want   string
	}{
		"duplicate id":      {rules: []dispatch.Rule{{ID: "a", Category: "*", Area: "500000", Lead: lead}, {ID: "a", Category: "01", Area: "500000", Lead: lead}}, want: "duplicate rule ID"},
		"same key":          {rules: []dispatch.Rule{{ID: "a", Category: "01", Area: "500000", Lead: lead}, {ID: "b", Category: "01", Area: "500000", Lead: lead}}, want: "both route category 01"},
		"bad pattern":       {rules: []dispatch.Rule{{ID: "a", Category: "0*1", Area: "500000", Lead: lead}}, want: "must be a code"},
		"empty category":    {rules: []dispatch.Rule{{ID: "a", Category: "", Area: "500000", Lead: lead}}, want: "must be a code"},
		"bad area":          {rules: []dispatch.Rule{{ID: "a", Category: "01", Area: "5000", Lead: lead}}, want: "area"},
		"unknown body":      {rules: []dispatch.Rule{{ID: "a", Category: "01", Area: "500000", Lead: dispatch.Handler{Body: "nobody"}}}, want: "unknown body"},
		"no handler":        {rules: []dispatch.Rule{{ID: "a", Category: "01", Area: "500000"}}, want: "needs a body"},
		"body and func":     {rules: []dispatch.Rule{{ID: "a", Category: "01", Area: "500000", Lead: dispatch.Handler{Body: "cq-urban", Function: "x", Tier: region.City}}}, want: "not both"},
		"optional lead":     {rules: []dispatch.Rule{{ID: "a", Category: "01", Area: "500000", Lead: dispatch.Handler{Body: "cq-urban", Optional: true}}}, want: "cannot be optional"},
		"bad co":            {rules: []dispatch.Rule{{ID: "a", Category: "01", Area: "500000", Lead: lead, Co: []dispatch.Handler{{Function: "x"}}}}, want: "co[0]"},
		"empty asset":       {assets: []dispatch.AssetRule{{ID: "a", Lead: lead}}, want: "empty asset"},
		"asset owned twice": {assets: []dispatch.AssetRule{{ID: "a", Asset: "x", Lead: lead}, {ID: "b", Asset: "x", Lead: lead}}, want: "both own"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := dispatch.NewRouter(org(t), c.rules, c.assets)
			require.ErrorIs(t, err, dispatch.ErrInvalidRules)
			assert.Contains(t, err.Error(), c.want)
		})
	}
	_, err := dispatch.NewRouter(nil, nil, nil)
	assert.ErrorIs(t, err, dispatch.ErrInvalidRules)
}

func TestOrgValidation(t *testing.T) {
	for name, bodies := range map[string][]dispatch.Body{
		"empty id":        {{Name: "x", Jurisdiction: "500000"}},
		"empty name":      {{ID: "a", Jurisdiction: "500000"}},
		"bad code":        {{ID: "a", Name: "x", Jurisdiction: "50"}},
		"duplicate":       {{ID: "a", Name: "x", Jurisdiction: "500000"}, {ID: "a", Name: "y", Jurisdiction: "500000"}},
		"function served": {{ID: "a", Name: "x", Function: "f", Jurisdiction: "500000"}, {ID: "b", Name: "y", Function: "f", Jurisdiction: "500000"}},
	} {
		_, err := dispatch.NewOrg(bodies)
		assert.ErrorIs(t, err, dispatch.ErrInvalidOrg, name)
	}
	o := org(t)
	_, err := o.Body("nobody")
	assert.ErrorIs(t, err, dispatch.ErrUnknownBody)
	b, ok := o.Serving("enforcement", "500107001")
	require.True(t, ok)
	assert.Equal(t, region.Street, b.Tier())
}

// BenchmarkRoute routes random cases of 11,000 categories over the 65,600
// grids of a Chongqing-sized city. The rule set has a city-wide rule per
// category, class rules, district overrides for 200 categories in every
// district and a catch-all; handlers are resolved to district and street
// bodies by function.
func BenchmarkRoute(b *testing.B) {
	units, err := regiontest.Units(regiontest.Chongqing())
	if err != nil {
		b.Fatal(err)
	}
	var bodies []dispatch.Body
	var grids []region.Code
	for _, u := range units {
		switch u.Level() {
		case region.City:
			bodies = append(bodies, dispatch.Body{ID: "city-urban", Name: "city", Function: "city-management", Jurisdiction: u.Code})
		case region.District:
			bodies = append(bodies,
				dispatch.Body{ID: "urban-" + string(u.Code), Name: "urban", Function: "city-management", Jurisdiction: u.Code},
				dispatch.Body{ID: "housing-" + string(u.Code), Name: "housing", Function: "housing", Jurisdiction: u.Code})
		case region.Street:
			bodies = append(bodies, dispatch.Body{ID: "team-" + string(u.Code), Name: "team", Function: "enforcement", Jurisdiction: u.Code})
		case region.Grid:
			grids = append(grids, u.Code)
		}
	}
	o, err := dispatch.NewOrg(bodies)
	if err != nil {
		b.Fatal(err)
	}
	cats := make([]string, 11_000)
	var rs []dispatch.Rule
	for i := range cats {
		cats[i] = fmt.Sprintf("%02d%02d%03d", i%20, i/20%50, i%997)
		rs = append(rs, dispatch.Rule{ID: "c" + cats[i], Category: cats[i], Area: "500000", Lead: districtUrban, Co: []dispatch.Handler{streetTeam}})
	}
	for class := range 20 {
		rs = append(rs, dispatch.Rule{ID: fmt.Sprintf("class%02d", class), Category: fmt.Sprintf("%02d*", class), Area: "500000", Lead: districtUrban})
	}
	for d := 1; d <= 41; d++ {
		for i := 0; i < 200; i++ {
			rs = append(rs, dispatch.Rule{ID: fmt.Sprintf("d%d-%s", d, cats[i*50]), Category: cats[i*50], Area: region.Code(fmt.Sprintf("5000%02d", d)),
				Lead: districtUrban, Co: []dispatch.Handler{{Function: "housing", Tier: region.District}, streetTeam}})
		}
	}
	rs = append(rs, dispatch.Rule{ID: "any", Category: "*", Area: "500000", Lead: dispatch.Handler{Body: "city-urban"}})
	r, err := dispatch.NewRouter(o, rs, nil)
	if err != nil {
		b.Fatal(err)
	}
	paths := make([][]region.Code, len(grids))
	for i, g := range grids {
		paths[i] = path(string(g))
	}
	var seed atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rnd := rand.New(rand.NewPCG(seed.Add(1), 9))
		for pb.Next() {
			c := dispatch.Case{Category: cats[rnd.IntN(len(cats))], Path: paths[rnd.IntN(len(paths))]}
			if _, err := r.Route(c); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "routes/s")
}

func TestDryRun(t *testing.T) {
	current := router(t)
	proposed := rules()
	// Move muck trucks to the city bureau alone and drop the Yangjiaping
	// rule.
	proposed[1].Lead, proposed[1].Co = dispatch.Handler{Body: "cq-urban"}, nil
	proposed = proposed[:3]
	next, err := dispatch.NewRouter(org(t), proposed, assets())
	require.NoError(t, err)

	past := []dispatch.Case{
		{ID: "a", Category: "0203", Path: path("500107001002003")},                    // lead changes
		{ID: "b", Category: "0107", Path: path("500107002001001")},                    // rule removed: falls to the catch-all
		{ID: "c", Category: "0512", Path: path("500107001001001")},                    // unchanged
		{ID: "d", Category: "0107", Path: path("500107002001001"), Asset: "road:G65"}, // unchanged: the asset decides
		{ID: "e", Category: "0203", Path: path("500113001001001")},                    // unresolved before, resolves now
	}
	diff := dispatch.DryRun(current, next, past)
	require.Len(t, diff, 3)
	assert.Equal(t, "a", diff[0].Case.ID)
	assert.Equal(t, "jlp-urban", diff[0].Before.Lead.Body.ID)
	assert.Equal(t, "cq-urban", diff[0].After.Lead.Body.ID)
	assert.Equal(t, "b", diff[1].Case.ID)
	assert.Equal(t, "waste-yjp", diff[1].Before.Rule.ID)
	assert.Equal(t, "any", diff[1].After.Rule.ID)
	assert.Equal(t, "e", diff[2].Case.ID)
	assert.ErrorIs(t, diff[2].BeforeErr, dispatch.ErrUnresolved)
	assert.NoError(t, diff[2].AfterErr)
}
