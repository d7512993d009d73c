package risk_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/region/regiontest"
	"github.com/govkit/govkit/risk"
)

func TestTieringWorkedCases(t *testing.T) {
	tg := risk.DefaultTiering()
	for _, tc := range []struct {
		credit      string
		highest     risk.Colour
		blacklisted bool
		score       string
		want        risk.Tier
	}{
		{"50", risk.Red, false, "80", risk.TierRed},        // 0.4×50 + 0.6×100
		{"100", risk.Red, false, "60", risk.TierRed},       // exactly on the red threshold
		{"100", risk.Yellow, false, "30", risk.TierYellow}, // exactly on the yellow threshold
		{"90", risk.Blue, false, "19", risk.TierGreen},
		{"99.5", risk.None, true, "0.2", risk.TierRed}, // blacklisted
	} {
		e := risk.Enterprise{ID: "e", Credit: d(tc.credit), Blacklisted: tc.blacklisted}
		tier, der, err := tg.Score(&e, tc.highest)
		require.NoError(t, err)
		require.Equal(t, tc.score, der.Score)
		require.Equal(t, tc.want, tier, der.Formula)
	}
	_, _, err := tg.Score(&risk.Enterprise{Credit: d("101")}, risk.None)
	require.ErrorIs(t, err, risk.ErrInvalidInput)
	bad := risk.DefaultTiering()
	bad.RedAt = d("10")
	require.ErrorIs(t, bad.Validate(), risk.ErrInvalidInput)
}

func TestInspectionPlanMergesDepartmentsAndDrawsReproducibly(t *testing.T) {
	f := newFixture(t)
	ctx := admin()
	// An oil company with a red tank: red tier.
	oil, err := f.svc.RegisterEnterprise(ctx, risk.Enterprise{ID: "ent-oil", Name: "伏牛溪油库", Region: streetA, Credit: d("70")})
	require.NoError(t, err)
	p := mustCreate(t, f, ctx, tank("T-1", inA))
	_, err = f.svc.Assess(ctx, p.ID, "matrix", risk.Inputs{Likelihood: 5, Consequence: 5})
	require.NoError(t, err)
	oil, err = f.svc.Retier(ctx, oil.ID)
	require.NoError(t, err)
	require.Equal(t, risk.TierRed, oil.Tier)
	require.Equal(t, "S = 0.4 × (100 − 70) + 0.6 × 100 = 72", oil.TierDerivation.Formula)
	for i, name := range []string{"小餐馆甲", "小诊所乙", "废品站丙", "理发店丁", "小作坊戊"} {
		_, err := f.svc.RegisterEnterprise(ctx, risk.Enterprise{ID: "shop-" + string(rune('a'+i)), Name: name, Region: streetA, Credit: d("95")})
		require.NoError(t, err)
	}
	req := risk.InspectionPlanRequest{
		Region: streetA, Year: 2025, Quarter: 3, Quota: 2, Seed: 20250701,
		Inspectors: []string{"insp-1", "insp-2", "insp-3", "insp-4"},
		Tasks: []risk.Task{
			{Department: "fire", Enterprise: "ent-oil", Subject: "消防安全检查"},
			{Department: "emergency", Enterprise: "ent-oil", Subject: "危化品储存检查"},
			{Department: "market", Enterprise: "shop-a", Subject: "食品安全检查"},
		},
	}
	plan, draw, err := f.svc.PlanInspections(ctx, req)
	require.NoError(t, err)
	byEnt := map[string]risk.Inspection{}
	for _, in := range plan {
		byEnt[in.Enterprise] = in
		require.Len(t, in.Inspectors, 2)
		require.Equal(t, "2025Q3", in.Period)
	}
	// The red tier's visit and two departments' tasks are one joint visit.
	require.Equal(t, []string{"emergency", "fire"}, byEnt["ent-oil"].Departments)
	require.Len(t, byEnt["ent-oil"].Reasons, 3)
	require.Equal(t, []string{"market"}, byEnt["shop-a"].Departments)
	require.Len(t, draw.Picked, 2)
	require.NotContains(t, draw.Picked, "ent-oil")
	require.NotContains(t, draw.Picked, "shop-a")
	require.Len(t, plan, 4)
	// Anyone can re-run the draw.
	again := risk.DrawTargets(req.Seed, draw.Candidates, req.Quota, req.Inspectors, req.PerVisit+2, []string{"ent-oil", "shop-a"})
	require.Equal(t, draw, again)
	other := risk.DrawTargets(req.Seed+1, draw.Candidates, req.Quota, req.Inspectors, 2, []string{"ent-oil", "shop-a"})
	require.NotEqual(t, draw.Inspectors, other.Inspectors)

	_, _, err = f.svc.PlanInspections(ctx, risk.InspectionPlanRequest{Region: streetA, Year: 2025, Quarter: 5})
	require.ErrorIs(t, err, risk.ErrInvalidInput)
	_, _, err = f.svc.PlanInspections(ctx, risk.InspectionPlanRequest{Region: streetA, Year: 2025, Quarter: 1,
		Tasks: []risk.Task{{Department: "fire", Enterprise: "nobody"}}})
	require.ErrorIs(t, err, risk.ErrNotFound)
}

func TestFindingsRectificationAndOverdue(t *testing.T) {
	f := newFixture(t, func(c *risk.Config) { c.Authorizer = policy(t) })
	li := officer("li", streetA)
	_, err := f.svc.RegisterEnterprise(li, risk.Enterprise{ID: "shop-a", Name: "五里坪餐饮店", Region: streetA, Credit: d("80")})
	require.NoError(t, err)
	plan, _, err := f.svc.PlanInspections(li, risk.InspectionPlanRequest{
		Region: streetA, Year: 2025, Quarter: 2, Tasks: []risk.Task{{Department: "street-safety", Enterprise: "shop-a", Subject: "九小场所检查"}},
	})
	require.NoError(t, err)
	require.Len(t, plan, 1)
	id := plan[0].ID

	_, err = f.svc.RecordFindings(officer("wang", streetB), id, nil)
	require.ErrorIs(t, err, access.ErrDenied, "the next street's inspector may not")
	_, err = f.svc.RecordFindings(li, id, []risk.FindingInput{{Item: "sprinkler"}})
	require.ErrorIs(t, err, risk.ErrInvalidInput)
	in, err := f.svc.RecordFindings(li, id, []risk.FindingInput{
		{Item: "extinguishers", Note: "灭火器仅1具", Evidence: []string{"sha256:ab12"}},
		{Item: "no-residence", Note: "阁楼住人"},
	})
	require.NoError(t, err)
	require.Equal(t, risk.Inspected, in.Status)
	require.Equal(t, risk.General, in.Findings[0].Severity)
	require.Equal(t, base.Add(risk.GeneralDeadline), in.Findings[0].Deadline)
	require.Equal(t, risk.Major, in.Findings[1].Severity)
	_, err = f.svc.RecordFindings(li, id, nil)
	require.ErrorIs(t, err, risk.ErrInvalidTransition)

	// The owner reports the extinguishers fixed; the reporter may not
	// verify, another officer may.
	_, err = f.svc.ReportRectified(li, id, 1, []string{"sha256:cd34"})
	require.NoError(t, err)
	_, err = f.svc.VerifyRectification(li, id, 1, true)
	require.ErrorIs(t, err, access.ErrSeparationOfDuties)
	in, err = f.svc.VerifyRectification(officer("zhao", streetA), id, 1, true)
	require.NoError(t, err)
	require.Equal(t, risk.Closed, in.Findings[0].Status)
	_, err = f.svc.VerifyRectification(officer("zhao", streetA), id, 2, true)
	require.ErrorIs(t, err, risk.ErrInvalidTransition, "closing needs a reported rectification")

	// The major hazard passes its deadline unrectified: escalated by event.
	f.clk.Advance(risk.MajorDeadline + time.Minute)
	in, err = f.store.Inspection(li, id)
	require.NoError(t, err)
	require.True(t, in.Findings[1].Overdue)
	require.False(t, in.Findings[0].Overdue)
	due := f.bus.named(t, risk.EventRectificationDue)
	require.Len(t, due, 1)
	require.Equal(t, 2, due[0].Finding)
	require.Equal(t, "shop-a", due[0].Enterprise)
}

// A district registers its own checklist (who checks what, and how):
// inspections planned with it accept findings on its items only, and
// plans naming an unregistered checklist are refused.
func TestRegisteredChecklists(t *testing.T) {
	kitchen := risk.Checklist{ID: "restaurant-kitchen", Name: "餐饮后厨燃气检查", Items: []risk.CheckItem{
		{ID: "gas-alarm", What: "可燃气体报警器联动切断阀", How: "按测试键，查看切断阀动作", Who: "燃气企业", Severity: risk.Major},
		{ID: "hose", What: "燃气软管不超过2米且无老化", How: "目视并测量", Who: "网格员", Severity: risk.General},
	}}
	f := newFixture(t, func(c *risk.Config) { c.Checklists = []risk.Checklist{kitchen} })
	ctx := admin()
	_, err := f.svc.RegisterEnterprise(ctx, risk.Enterprise{ID: "noodles", Name: "小面馆", Region: streetA, Credit: d("90")})
	require.NoError(t, err)
	task := []risk.Task{{Department: "gas", Enterprise: "noodles", Subject: "燃气安全检查"}}

	_, _, err = f.svc.PlanInspections(ctx, risk.InspectionPlanRequest{Region: streetA, Year: 2025, Quarter: 2, Tasks: task, Checklist: "bakery"})
	require.ErrorIs(t, err, risk.ErrInvalidInput, "an unregistered checklist")

	plan, _, err := f.svc.PlanInspections(ctx, risk.InspectionPlanRequest{Region: streetA, Year: 2025, Quarter: 2, Tasks: task, Checklist: kitchen.ID})
	require.NoError(t, err)
	require.Len(t, plan, 1)
	_, err = f.svc.RecordFindings(ctx, plan[0].ID, []risk.FindingInput{{Item: "extinguishers"}})
	require.ErrorIs(t, err, risk.ErrInvalidInput, "an item of another checklist")
	in, err := f.svc.RecordFindings(ctx, plan[0].ID, []risk.FindingInput{{Item: "gas-alarm", Note: "切断阀不动作"}})
	require.NoError(t, err)
	require.Equal(t, risk.Major, in.Findings[0].Severity, "the item's severity")

	for name, c := range map[string]struct {
		lists []risk.Checklist
		want  error
	}{
		"no items":         {[]risk.Checklist{{ID: "x", Name: "X"}}, risk.ErrMissingInput},
		"item without who": {[]risk.Checklist{{ID: "x", Name: "X", Items: []risk.CheckItem{{ID: "a", What: "w", How: "h", Severity: risk.General}}}}, risk.ErrMissingInput},
		"no severity":      {[]risk.Checklist{{ID: "x", Name: "X", Items: []risk.CheckItem{{ID: "a", What: "w", How: "h", Who: "p"}}}}, risk.ErrInvalidInput},
		"twice":            {[]risk.Checklist{kitchen, kitchen}, risk.ErrInvalidInput},
	} {
		h, err := regiontest.New(regiontest.Small())
		require.NoError(t, err)
		_, err = risk.NewService(risk.Config{Catalogue: catalogue(t), Regions: h, Authorizer: access.AllowAll(), Checklists: c.lists})
		require.ErrorIs(t, err, c.want, name)
	}
}
