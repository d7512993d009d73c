package sim

import (
	"context"
	"fmt"

	"github.com/govkit/govkit/codes"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/risk"
)

// hazardClasses are the district's classes of risk points.
func hazardClasses() []risk.HazardClass {
	return []risk.HazardClass{
		{Code: "fire", Name: "火灾风险"},
		{Code: "fire.old-compound", Name: "老旧小区", Parent: "fire"},
		{Code: "fire.market", Name: "农贸市场", Parent: "fire"},
		{Code: "gas", Name: "燃气"},
		{Code: "gas.station", Name: "加油加气站", Parent: "gas"},
		{Code: "geo", Name: "地质灾害"},
		{Code: "geo.slope", Name: "边坡", Parent: "geo"},
		{Code: "works", Name: "施工"},
		{Code: "works.site", Name: "建筑工地", Parent: "works"},
		{Code: "crowd", Name: "人员密集"},
		{Code: "crowd.school", Name: "学校", Parent: "crowd"},
		{Code: "pipeline", Name: "地下管线"},
		{Code: "pipeline.water-main", Name: "供水主管", Parent: "pipeline"},
	}
}

// pointsPerStreet are the risk points of each class in every street,
// besides the water mains.
var pointsPerStreet = []struct {
	class, name string
	n           int
}{
	{"fire.old-compound", "老旧小区", 10}, {"fire.market", "农贸市场", 3}, {"gas.station", "加油站", 2},
	{"geo.slope", "边坡", 4}, {"works.site", "建筑工地", 4}, {"crowd.school", "学校", 3},
}

// mainsPerStreet bounds the water mains of a street registered as risk
// points: at city scale there are hundreds of thousands of mains.
const mainsPerStreet = 100

// setup prepares the world's state before the day: alarm rules, risk
// points and their assessments, responders on duty, the bundles on offer,
// and the rental rooms already listed with their codes.
func (s *system) setup(ctx context.Context) error {
	setup := as(ctx, actorSetup)
	for _, r := range rules() {
		if err := s.engine.AddRule(setup, r); err != nil {
			return err
		}
	}
	for _, c := range s.w.crews {
		if err := s.responders.Register(c.responder); err != nil {
			return err
		}
		if err := s.responders.UpdatePosition(c.responder.ID, c.at, s.clk.Now()); err != nil {
			return err
		}
		s.crews[c.responder.ID] = &c
	}
	r := s.w.rnd("risk")
	create := func(p risk.Point) error {
		p, err := s.risk.Create(setup, p)
		if err != nil {
			return err
		}
		_, err = s.risk.Assess(setup, p.ID, "matrix", risk.Inputs{Likelihood: 1 + r.IntN(4), Consequence: 1 + r.IntN(5)})
		return err
	}
	for _, st := range s.w.streets {
		for _, k := range pointsPerStreet {
			s.riskPoints += k.n
			for i := range k.n {
				g := st.grids[r.IntN(len(st.grids))]
				if err := create(risk.Point{Name: fmt.Sprintf("%s %s %d", st.name, k.name, i+1), Class: k.class, Geometry: inside(r, g.box), Grid: g.code}); err != nil {
					return err
				}
			}
		}
	}
	perStreet := map[*street]int{}
	for _, mn := range s.fleet.mains {
		st := s.w.gridOf(mn.grid).street
		if perStreet[st] == mainsPerStreet {
			continue
		}
		perStreet[st]++
		if err := create(risk.Point{Name: "供水主管 " + mn.id, Class: "pipeline.water-main", Geometry: geo.LineString(mn.line), Grid: mn.grid, Sensors: mn.ids}); err != nil {
			return err
		}
		s.riskPoints++
	}
	if err := s.publishTemplates(ctx); err != nil {
		return err
	}
	codesCtx := as(ctx, actorCodes)
	for _, st := range s.w.streets {
		for _, rm := range st.rooms {
			data, err := codes.EncodeData(codes.ListingClaims{Room: rm.subject, Operator: rm.operator,
				Reviews: []string{"housing", "police", "fire"}, Guests: 2, Lock: "lock-" + rm.subject})
			if err != nil {
				return err
			}
			if _, err := s.codes.Issue(codesCtx, codes.IssueRequest{Kind: codes.Listing, Subject: s.cfg.RunID + rm.subject, Jurisdiction: rm.grid.code, Data: data}); err != nil {
				return err
			}
		}
	}
	return nil
}
