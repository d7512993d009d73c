package risk

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/govkit/govkit/geo"
)

// Group is a number of people who evacuate from one place together — the
// registered occupants of a building, say. Rank orders urgency: 0 is the
// innermost zone of the hazard, served first.
type Group struct {
	ID     string
	Point  geo.Point
	People int
	Rank   int
}

// Shelter is a place that takes in evacuees (紧急安置点) up to Capacity
// people. A closed shelter takes nobody.
type Shelter struct {
	ID       string
	Name     string
	Point    geo.Point
	Capacity int
	Closed   bool
}

// Site is a place without a capacity that a plan points people or trucks
// to: an assembly point (集中疏散点) or a supply depot (应急物资调取点).
type Site struct {
	ID     string
	Name   string
	Point  geo.Point
	Closed bool
}

// Team is an emergency response team (应急队伍).
type Team struct {
	ID      string
	Name    string
	Point   geo.Point
	Members int
	Busy    bool
}

// Resources are what an evacuation can use. S12 (an oil-depot area) has 5
// assembly points, 8 shelters, 5 supply depots and 6 teams of 200 people.
type Resources struct {
	AssemblyPoints []Site
	Shelters       []Shelter
	Depots         []Site
	Teams          []Team
	// DepotCount and TeamCount are how many of the nearest open depots and
	// available teams the plan calls on (default 3 each).
	DepotCount, TeamCount int
}

// PlanInput is what Plan reads.
type PlanInput struct {
	Hazard    Hazard // resources inside it are not used; Center (or the area's centre) ranks depots and teams
	Groups    []Group
	Resources Resources
}

// Assignment sends People of a group to a shelter, gathering at an
// assembly point first when there is one.
type Assignment struct {
	Group    string
	Assembly string // the group's nearest usable assembly point, if any
	Shelter  string
	People   int
	Distance float64 // metres from the group to the shelter, great-circle
}

// ShelterLoad is how full a shelter is in a plan.
type ShelterLoad struct {
	Shelter  string
	Capacity int
	Assigned int
	Depot    string // the nearest usable depot, to supply it
}

// Shortfall is the part of a group no shelter had room for.
type Shortfall struct {
	Group  string
	People int
}

// Called is a depot or team the plan calls on, nearest to the hazard
// first.
type Called struct {
	ID       string
	Members  int // for a team
	Distance float64
}

// EvacuationPlan is a value the application can render, publish and diff:
// every slice is in a deterministic order (assignments by group then
// shelter, loads and shortfalls by ID, depots and teams by distance then
// ID), and equal inputs give equal plans.
type EvacuationPlan struct {
	Hazard      string
	Assignments []Assignment
	Loads       []ShelterLoad
	Unplaced    []Shortfall
	Depots      []Called
	Teams       []Called
	People      int // everybody in the groups
	Placed      int // people with a shelter
	// Excluded lists shelters, assembly points and depots not used
	// because they are closed or inside the hazard.
	Excluded []string
}

// MaxPlanPairs bounds groups × shelters for one plan.
const MaxPlanPairs = 20_000_000

func (in *PlanInput) validate() error {
	seen := map[string]bool{}
	for i, g := range in.Groups {
		switch {
		case g.ID == "" || seen[g.ID]:
			return invalid(fmt.Sprintf("groups[%d].id", i), "empty or repeated ID %q", g.ID)
		case g.People < 0:
			return invalid(fmt.Sprintf("groups[%d].people", i), "negative")
		}
		if err := g.Point.Validate(); err != nil {
			return &InputError{Field: fmt.Sprintf("groups[%d].point", i), Err: err}
		}
		seen[g.ID] = true
	}
	seen = map[string]bool{}
	for i, sh := range in.Resources.Shelters {
		switch {
		case sh.ID == "" || seen[sh.ID]:
			return invalid(fmt.Sprintf("shelters[%d].id", i), "empty or repeated ID %q", sh.ID)
		case sh.Capacity < 0:
			return invalid(fmt.Sprintf("shelters[%d].capacity", i), "negative")
		}
		if err := sh.Point.Validate(); err != nil {
			return &InputError{Field: fmt.Sprintf("shelters[%d].point", i), Err: err}
		}
		seen[sh.ID] = true
	}
	for name, sites := range map[string][]Site{"assembly_points": in.Resources.AssemblyPoints, "depots": in.Resources.Depots} {
		seen := map[string]bool{}
		for i, st := range sites {
			if st.ID == "" || seen[st.ID] {
				return invalid(fmt.Sprintf("%s[%d].id", name, i), "empty or repeated ID %q", st.ID)
			}
			if err := st.Point.Validate(); err != nil {
				return &InputError{Field: fmt.Sprintf("%s[%d].point", name, i), Err: err}
			}
			seen[st.ID] = true
		}
	}
	seen = map[string]bool{}
	for i, t := range in.Resources.Teams {
		if t.ID == "" || seen[t.ID] || t.Members < 0 {
			return invalid(fmt.Sprintf("teams[%d]", i), "empty or repeated ID %q, or negative members", t.ID)
		}
		if err := t.Point.Validate(); err != nil {
			return &InputError{Field: fmt.Sprintf("teams[%d].point", i), Err: err}
		}
		seen[t.ID] = true
	}
	if in.Resources.DepotCount < 0 || in.Resources.TeamCount < 0 {
		return invalid("resources", "negative depot or team count")
	}
	if len(in.Groups)*len(in.Resources.Shelters) > MaxPlanPairs {
		return invalid("plan", "%d groups × %d shelters exceed %d pairs: merge groups", len(in.Groups), len(in.Resources.Shelters), MaxPlanPairs)
	}
	if in.Hazard.Area != nil || len(in.Hazard.Zones) > 0 {
		if in.Hazard.Area == nil {
			if err := in.Hazard.Center.Validate(); err != nil {
				return &InputError{Field: "hazard.center", Err: err}
			}
		} else if err := in.Hazard.Area.Validate(); err != nil {
			return &InputError{Field: "hazard.area", Err: err}
		}
	}
	return nil
}

// hazardCentre returns where depots and teams are ranked from.
func (h *Hazard) centre() (geo.Point, bool) {
	switch {
	case h.Area != nil:
		return h.Area.BBox().Center(), true
	case len(h.Zones) > 0:
		return h.Center, true
	}
	return geo.Point{}, false
}

// Plan assigns groups to shelters with capacity limits, picks the nearest
// depots and teams, and returns the plan. It is deterministic and pure.
//
// The algorithm is capacity-aware nearest-first (a greedy transportation
// heuristic): shelters that are closed or inside the hazard are dropped;
// then, urgency rank by rank (innermost zone first), every (group,
// shelter) pair of the rank is sorted by great-circle distance (ties by
// group ID, then shelter ID) and walked once, each pair placing as many of
// the group's remaining people as the shelter has room for. So the
// nearest capacity goes to the nearest people, inner zones before outer
// ones, and a group is split only when its nearest shelter fills. People
// left when every shelter is full are reported in Unplaced, not as an
// error. It costs O(P log P) for P = groups × shelters of a rank. It does
// not minimise total distance as a min-cost flow would; under heavy
// pressure a far group can take a shelter that a min-cost plan would give
// to a nearer one of a later rank, which is the point of ranking.
func Plan(in PlanInput) (EvacuationPlan, error) {
	return plan(in, nil)
}

// Replan plans again after a change — a shelter filled up (its Capacity
// lowered to what it can still take plus what it holds), closed, or
// opened; groups grew or shrank — keeping prev's assignments wherever they
// still fit, so that people already on the move are not sent elsewhere:
// prev's assignments are kept in rank and distance order while the
// shelter is usable and has room, and everybody else is placed as Plan
// places them. Diff(prev, next) says who moves.
func Replan(prev EvacuationPlan, in PlanInput) (EvacuationPlan, error) {
	return plan(in, &prev)
}

type pair struct {
	g, s int32
	d    float64 // squared chord between unit vectors
}

type vec3 struct{ x, y, z float64 }

func unit(p geo.Point) vec3 {
	lat, lon := p.Lat*math.Pi/180, p.Lon*math.Pi/180
	c := math.Cos(lat)
	return vec3{c * math.Cos(lon), c * math.Sin(lon), math.Sin(lat)}
}

func chord2(a, b vec3) float64 {
	dx, dy, dz := a.x-b.x, a.y-b.y, a.z-b.z
	return dx*dx + dy*dy + dz*dz
}

func plan(in PlanInput, prev *EvacuationPlan) (EvacuationPlan, error) {
	if err := in.validate(); err != nil {
		return EvacuationPlan{}, err
	}
	out := EvacuationPlan{Hazard: in.Hazard.ID}
	hazardous := in.Hazard.Area != nil || len(in.Hazard.Zones) > 0
	usable := func(id string, p geo.Point, closed bool) bool {
		if closed || (hazardous && in.Hazard.Contains(p)) {
			out.Excluded = append(out.Excluded, id)
			return false
		}
		return true
	}
	var shelters []Shelter
	for _, sh := range in.Resources.Shelters {
		if usable(sh.ID, sh.Point, sh.Closed) {
			shelters = append(shelters, sh)
		}
	}
	var assembly, depots []Site
	for _, st := range in.Resources.AssemblyPoints {
		if usable(st.ID, st.Point, st.Closed) {
			assembly = append(assembly, st)
		}
	}
	for _, st := range in.Resources.Depots {
		if usable(st.ID, st.Point, st.Closed) {
			depots = append(depots, st)
		}
	}
	slices.Sort(out.Excluded)

	groups := slices.Clone(in.Groups)
	slices.SortFunc(groups, func(a, b Group) int { return cmp.Compare(a.ID, b.ID) })
	slices.SortFunc(shelters, func(a, b Shelter) int { return cmp.Compare(a.ID, b.ID) })
	// Pairs are ordered by squared chord between unit vectors, which
	// orders them exactly as great-circle distance does without
	// trigonometry; groups and shelters are sorted by ID, so index order
	// breaks ties by ID.
	gv := make([]vec3, len(groups))
	for i, g := range groups {
		gv[i] = unit(g.Point)
	}
	sv := make([]vec3, len(shelters))
	for i, sh := range shelters {
		sv[i] = unit(sh.Point)
	}
	left := make([]int, len(groups))
	for i, g := range groups {
		left[i] = g.People
		out.People += g.People
	}
	room := make([]int, len(shelters))
	for i, sh := range shelters {
		room[i] = sh.Capacity
	}
	gIndex := make(map[string]int, len(groups))
	for i, g := range groups {
		gIndex[g.ID] = i
	}
	sIndex := make(map[string]int, len(shelters))
	for i, sh := range shelters {
		sIndex[sh.ID] = i
	}
	placed := map[[2]int]int{}
	place := func(g, s, n int) {
		left[g] -= n
		room[s] -= n
		placed[[2]int{g, s}] += n
	}
	// Keep what still fits of the previous plan, most urgent first.
	if prev != nil {
		kept := slices.Clone(prev.Assignments)
		slices.SortFunc(kept, func(a, b Assignment) int {
			ga, oka := gIndex[a.Group]
			gb, okb := gIndex[b.Group]
			ra, rb := math.MaxInt, math.MaxInt
			if oka {
				ra = groups[ga].Rank
			}
			if okb {
				rb = groups[gb].Rank
			}
			if c := cmp.Compare(ra, rb); c != 0 {
				return c
			}
			if c := cmp.Compare(a.Distance, b.Distance); c != 0 {
				return c
			}
			if c := cmp.Compare(a.Group, b.Group); c != 0 {
				return c
			}
			return cmp.Compare(a.Shelter, b.Shelter)
		})
		for _, a := range kept {
			g, okg := gIndex[a.Group]
			s, oks := sIndex[a.Shelter]
			if !okg || !oks {
				continue
			}
			if n := min(a.People, left[g], room[s]); n > 0 {
				place(g, s, n)
			}
		}
	}
	// Nearest-first, rank by rank.
	ranks := map[int][]int{}
	for i, g := range groups {
		ranks[g.Rank] = append(ranks[g.Rank], i)
	}
	order := make([]int, 0, len(ranks))
	for r := range ranks {
		order = append(order, r)
	}
	slices.Sort(order)
	var pairs []pair
	for _, r := range order {
		pairs = pairs[:0]
		for _, g := range ranks[r] {
			if left[g] == 0 {
				continue
			}
			for s := range shelters {
				if room[s] > 0 {
					pairs = append(pairs, pair{int32(g), int32(s), chord2(gv[g], sv[s])})
				}
			}
		}
		slices.SortFunc(pairs, func(a, b pair) int {
			if a.d != b.d {
				return cmp.Compare(a.d, b.d)
			}
			if a.g != b.g {
				return cmp.Compare(a.g, b.g)
			}
			return cmp.Compare(a.s, b.s)
		})
		for _, p := range pairs {
			if n := min(left[p.g], room[p.s]); n > 0 {
				place(int(p.g), int(p.s), n)
			}
		}
	}
	// Assemble the plan.
	nearestSite := func(p geo.Point, sites []Site) (string, float64) {
		best, bestD := "", math.Inf(1)
		for _, st := range sites {
			d := geo.Distance(p, st.Point)
			if d < bestD || (d == bestD && st.ID < best) {
				best, bestD = st.ID, d
			}
		}
		return best, bestD
	}
	assemblyOf := make([]string, len(groups))
	for gi, g := range groups {
		assemblyOf[gi], _ = nearestSite(g.Point, assembly)
	}
	for k, n := range placed {
		g, s := k[0], k[1]
		out.Assignments = append(out.Assignments, Assignment{
			Group: groups[g].ID, Assembly: assemblyOf[g], Shelter: shelters[s].ID, People: n,
			Distance: round1(geo.Distance(groups[g].Point, shelters[s].Point)),
		})
		out.Placed += n
	}
	slices.SortFunc(out.Assignments, func(a, b Assignment) int {
		if c := cmp.Compare(a.Group, b.Group); c != 0 {
			return c
		}
		return cmp.Compare(a.Shelter, b.Shelter)
	})
	for i, sh := range shelters {
		depot, _ := nearestSite(sh.Point, depots)
		out.Loads = append(out.Loads, ShelterLoad{Shelter: sh.ID, Capacity: sh.Capacity, Assigned: sh.Capacity - room[i], Depot: depot})
	}
	slices.SortFunc(out.Loads, func(a, b ShelterLoad) int { return cmp.Compare(a.Shelter, b.Shelter) })
	for i, g := range groups {
		if left[i] > 0 {
			out.Unplaced = append(out.Unplaced, Shortfall{Group: g.ID, People: left[i]})
		}
	}
	if c, ok := in.Hazard.centre(); ok {
		want := in.Resources.DepotCount
		if want == 0 {
			want = 3
		}
		for _, st := range depots {
			out.Depots = append(out.Depots, Called{ID: st.ID, Distance: round1(geo.Distance(c, st.Point))})
		}
		sortByDistance(out.Depots, func(x Called) float64 { return x.Distance }, func(x Called) string { return x.ID })
		out.Depots = out.Depots[:min(want, len(out.Depots))]
		want = in.Resources.TeamCount
		if want == 0 {
			want = 3
		}
		for _, t := range in.Resources.Teams {
			if !t.Busy {
				out.Teams = append(out.Teams, Called{ID: t.ID, Members: t.Members, Distance: round1(geo.Distance(c, t.Point))})
			}
		}
		sortByDistance(out.Teams, func(x Called) float64 { return x.Distance }, func(x Called) string { return x.ID })
		out.Teams = out.Teams[:min(want, len(out.Teams))]
	}
	return out, nil
}

// Move is how one group's allocation to one shelter changed between two
// plans.
type Move struct {
	Group   string
	Shelter string
	Before  int
	After   int
}

// Diff returns how allocations changed from a to b, by group then
// shelter: people sent to a shelter they were not sent to before, or sent
// there no more. Equal plans give no moves.
func Diff(a, b EvacuationPlan) []Move {
	type key struct{ g, s string }
	m := map[key]*Move{}
	for _, x := range a.Assignments {
		k := key{x.Group, x.Shelter}
		if m[k] == nil {
			m[k] = &Move{Group: x.Group, Shelter: x.Shelter}
		}
		m[k].Before += x.People
	}
	for _, x := range b.Assignments {
		k := key{x.Group, x.Shelter}
		if m[k] == nil {
			m[k] = &Move{Group: x.Group, Shelter: x.Shelter}
		}
		m[k].After += x.People
	}
	var out []Move
	for _, mv := range m {
		if mv.Before != mv.After {
			out = append(out, *mv)
		}
	}
	slices.SortFunc(out, func(a, b Move) int {
		if c := cmp.Compare(a.Group, b.Group); c != 0 {
			return c
		}
		return cmp.Compare(a.Shelter, b.Shelter)
	})
	return out
}
