package sim

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"time"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/dispatch"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/incident"
	"github.com/govkit/govkit/region"
	"github.com/govkit/govkit/region/regiontest"
)

// The city every simulated district belongs to.
const cityCode region.Code = "500000"

// world is the generated district: its hierarchy, bodies, responders,
// rooms and categories. It is built once from the seed and then read only.
type world struct {
	cfg       Config
	regions   *region.Hierarchy
	districts []region.Code
	streets   []*street
	byStreet  map[region.Code]*street
	grids     []*grid
	byGrid    map[region.Code]*grid
	org       *dispatch.Org
	router    *dispatch.Router
	catalogue *incident.Catalogue
	cats      map[string]*category
	bodies    map[string]dispatch.Body
	crews     []crew
	area      geo.BBox
}

// street is one street and what the simulation keeps about it.
type street struct {
	code     region.Code
	name     string
	district region.Code
	grids    []*grid
	rooms    []room
	centre   access.Actor // the street centre's duty officer
}

// grid is one grid: where things happen.
type grid struct {
	code   region.Code
	box    geo.BBox
	path   []region.Code
	street *street
	member access.Actor // its grid member: reports and verifies
}

// room is a short-term rental room with a listing code (S1).
type room struct {
	subject  string
	grid     *grid
	operator string
	point    geo.Point
}

// crew is a responder to register: a person or team of a body.
type crew struct {
	responder dispatch.Responder
	actor     access.Actor
	at        geo.Point
}

// category is one kind of case: its catalogue entry, where it goes, how
// fast, and how long the work takes.
type category struct {
	code, name string
	kind       incident.CategoryKind
	priority   incident.Priority
	register   time.Duration // incident SLA: report → registration
	dispose    time.Duration // incident SLA: dispatch → disposal
	signFor    time.Duration // dispatch policy: offer → sign-for
	complete   time.Duration // dispatch policy: offer → done
	work       [2]time.Duration
	lead       dispatch.Handler
	co         []dispatch.Handler
	hazard     float64 // metres around the case whose risk points it raises; 0 for none
	people     bool    // citizens and grid members report it
}

func streetFn(f string) dispatch.Handler {
	return dispatch.Handler{Function: f, Tier: region.Street}
}

func districtFn(f string) dispatch.Handler {
	return dispatch.Handler{Function: f, Tier: region.District}
}

// Functions bodies serve.
const (
	fnUrban       = "city-management"
	fnHousing     = "housing"
	fnWater       = "water"
	fnFire        = "fire-rescue"
	fnEnforcement = "enforcement"
	fnGrid        = "grid-service"
)

// Category codes, in the manner of the national standard's tree.
const (
	catWaste     = "0101"
	catVending   = "0102"
	catMuckTruck = "0203"
	catManhole   = "0301"
	catLight     = "0302"
	catBurst     = "0401"
	catSmoke     = "0501"
	catFall      = "0502"
	catOffline   = "0503"
	catNoise     = "0601"
	catFireLane  = "0602"
)

func categories() []*category {
	m := time.Minute
	h := time.Hour
	return []*category{
		{code: catWaste, name: "Dumped construction waste", kind: incident.Event, priority: incident.Normal,
			register: h, dispose: 4 * h, signFor: 30 * m, complete: 4 * h, work: [2]time.Duration{30 * m, 90 * m},
			lead: streetFn(fnEnforcement), people: true},
		{code: catVending, name: "Street vending", kind: incident.Event, priority: incident.Low,
			register: h, dispose: 2 * h, signFor: 30 * m, complete: 2 * h, work: [2]time.Duration{10 * m, 40 * m},
			lead: streetFn(fnEnforcement), people: true},
		{code: catMuckTruck, name: "Overloaded muck truck", kind: incident.Event, priority: incident.High,
			register: h, dispose: 24 * h, signFor: h, complete: 24 * h, work: [2]time.Duration{60 * m, 180 * m},
			lead: districtFn(fnUrban), co: []dispatch.Handler{districtFn(fnHousing), streetFn(fnEnforcement)}},
		{code: catManhole, name: "Manhole cover displaced", kind: incident.Asset, priority: incident.High,
			register: h, dispose: 4 * h, signFor: 20 * m, complete: 4 * h, work: [2]time.Duration{30 * m, 90 * m},
			lead: districtFn(fnUrban), people: true},
		{code: catLight, name: "Street light out", kind: incident.Asset, priority: incident.Normal,
			register: 2 * h, dispose: 24 * h, signFor: h, complete: 24 * h, work: [2]time.Duration{40 * m, 120 * m},
			lead: districtFn(fnUrban), people: true},
		{code: catBurst, name: "Water main burst", kind: incident.Event, priority: incident.Urgent,
			register: 30 * m, dispose: 12 * h, signFor: 15 * m, complete: 8 * h, work: [2]time.Duration{30 * m, 150 * m},
			lead: districtFn(fnWater), hazard: 500},
		{code: catSmoke, name: "Smoke alarm in an old compound", kind: incident.Event, priority: incident.Urgent,
			register: 30 * m, dispose: h, signFor: 5 * m, complete: h, work: [2]time.Duration{15 * m, 40 * m},
			lead: districtFn(fnFire), co: []dispatch.Handler{streetFn(fnGrid)}, hazard: 200},
		{code: catFall, name: "Fall of an elderly person living alone", kind: incident.Event, priority: incident.Urgent,
			register: 30 * m, dispose: h, signFor: 5 * m, complete: h, work: [2]time.Duration{15 * m, 45 * m},
			lead: streetFn(fnGrid)},
		{code: catOffline, name: "Wristband of an elderly person silent", kind: incident.Event, priority: incident.High,
			register: 30 * m, dispose: 2 * h, signFor: 15 * m, complete: 2 * h, work: [2]time.Duration{10 * m, 30 * m},
			lead: streetFn(fnGrid)},
		{code: catNoise, name: "Noise nuisance", kind: incident.Event, priority: incident.Normal,
			register: h, dispose: 4 * h, signFor: 30 * m, complete: 4 * h, work: [2]time.Duration{15 * m, 45 * m},
			lead: streetFn(fnEnforcement), people: true},
		{code: catFireLane, name: "Fire lane blocked", kind: incident.Event, priority: incident.High,
			register: 30 * m, dispose: 2 * h, signFor: 15 * m, complete: 2 * h, work: [2]time.Duration{15 * m, 45 * m},
			lead: streetFn(fnEnforcement), people: true},
	}
}

// Attribute codes the catalogue asks.
const (
	attrAsset = "asset" // the asset a machine report concerns; alarms on one asset merge
	attrRoom  = "room"  // the rental room a noise complaint concerns
)

// hashKey hashes a key for deriving randomness from it.
func hashKey(key string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(key))
	return h.Sum64()
}

// rnd returns a generator for key: the same key under the same seed gives
// the same numbers, whatever happened before.
func (w *world) rnd(key string) *rand.Rand {
	return rand.New(rand.NewPCG(w.cfg.Seed, hashKey(w.cfg.RunID+"/"+key)))
}

// between returns a duration uniformly in [lo, hi).
func between(r *rand.Rand, lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(r.Int64N(int64(hi-lo)))
}

// inside returns a point well inside b.
func inside(r *rand.Rand, b geo.BBox) geo.Point {
	return geo.Point{
		Lat: b.MinLat + (0.05+0.9*r.Float64())*(b.MaxLat-b.MinLat),
		Lon: b.MinLon + (0.05+0.9*r.Float64())*(b.MaxLon-b.MinLon),
	}
}

func bboxOf(mp geo.MultiPolygon) geo.BBox {
	b := geo.EmptyBBox()
	for _, poly := range mp {
		for _, ring := range poly {
			for _, p := range ring {
				b = b.Extend(p)
			}
		}
	}
	return b
}

// newWorld builds the hierarchy, the bodies and rules, the responders and
// the rental rooms.
func newWorld(cfg Config) (*world, error) {
	w := &world{cfg: cfg, byStreet: map[region.Code]*street{}, byGrid: map[region.Code]*grid{}, cats: map[string]*category{}, bodies: map[string]dispatch.Body{}}
	nd, per := cfg.districts()
	// Each district covers about 11 × 11 km, tiled around Chongqing's
	// centre.
	cols := int(math.Ceil(math.Sqrt(float64(nd))))
	rows := (nd + cols - 1) / cols
	const dLat, dLon = 0.10, 0.115
	w.area = geo.BBox{
		MinLat: 29.55 - dLat*float64(rows)/2, MaxLat: 29.55 + dLat*float64(rows)/2,
		MinLon: 106.50 - dLon*float64(cols)/2, MaxLon: 106.50 + dLon*float64(cols)/2,
	}
	units, err := regiontest.Units(regiontest.Options{
		City: cityCode, Name: "Chongqing", Area: w.area,
		Districts: nd, StreetsPerDistrict: per, CommunitiesPerStreet: 8, GridsPerCommunity: 8,
	})
	if err != nil {
		return nil, err
	}
	if w.regions, err = region.New(units); err != nil {
		return nil, err
	}
	bodies := []dispatch.Body{{ID: "city-urban", Name: "City Digital Urban Management Centre", Function: fnUrban, Jurisdiction: cityCode}}
	for _, u := range units {
		switch u.Level() {
		case region.District:
			w.districts = append(w.districts, u.Code)
			d := string(u.Code)
			bodies = append(bodies,
				dispatch.Body{ID: "urban-" + d, Name: u.Name + " City Management Bureau", Function: fnUrban, Jurisdiction: u.Code},
				dispatch.Body{ID: "housing-" + d, Name: u.Name + " Housing Committee", Function: fnHousing, Jurisdiction: u.Code},
				dispatch.Body{ID: "water-" + d, Name: u.Name + " Water Company", Function: fnWater, Jurisdiction: u.Code},
				dispatch.Body{ID: "fire-" + d, Name: u.Name + " Fire and Rescue", Function: fnFire, Jurisdiction: u.Code})
		case region.Street:
			s := &street{code: u.Code, name: u.Name, district: u.Parent,
				centre: access.Actor{ID: "centre-" + string(u.Code), Kind: access.StreetStaff, Scope: u.Code, Roles: []string{"centre"}}}
			w.streets = append(w.streets, s)
			w.byStreet[u.Code] = s
			bodies = append(bodies,
				dispatch.Body{ID: "enforce-" + string(u.Code), Name: u.Name + " Enforcement Team", Function: fnEnforcement, Jurisdiction: u.Code},
				dispatch.Body{ID: "grid-" + string(u.Code), Name: u.Name + " Community Workers", Function: fnGrid, Jurisdiction: u.Code})
		case region.Grid:
			path, err := w.regions.Path(u.Code)
			if err != nil {
				return nil, err
			}
			g := &grid{code: u.Code, box: bboxOf(u.Boundary), path: path,
				member: access.Actor{ID: "gm-" + string(u.Code), Kind: access.GridMember, Scope: u.Code, Roles: []string{"grid-member"}}}
			w.grids = append(w.grids, g)
			w.byGrid[u.Code] = g
		}
	}
	for _, g := range w.grids {
		g.street = w.byStreet[g.path[2]]
		g.street.grids = append(g.street.grids, g)
	}
	for _, b := range bodies {
		w.bodies[b.ID] = b
	}
	if w.org, err = dispatch.NewOrg(bodies); err != nil {
		return nil, err
	}

	var cats []incident.Category
	var rules []dispatch.Rule
	for _, c := range categories() {
		w.cats[c.code] = c
		attrs := []incident.Attribute{{Code: attrAsset, Description: "the asset concerned", Type: incident.String, Order: 1}}
		if c.code == catNoise {
			attrs = append(attrs, incident.Attribute{Code: attrRoom, Description: "the rental room concerned", Type: incident.String, Order: 2})
		}
		cats = append(cats, incident.Category{
			Code: c.code, Name: c.name, Kind: c.kind, Major: c.code[:2], Minor: c.code[2:], Priority: c.priority,
			SLA: incident.SLA{Register: c.register, Dispose: c.dispose, Verify: 2 * time.Hour}, Attributes: attrs,
		})
		if c.code != catBurst { // bursts run the playbook
			rules = append(rules, dispatch.Rule{ID: "r" + c.code, Category: c.code, Area: cityCode, Lead: c.lead, Co: c.co})
		}
	}
	rules = append(rules, dispatch.Rule{ID: "catch-all", Category: "*", Area: cityCode, Lead: dispatch.Handler{Body: "city-urban"}})
	if w.catalogue, err = incident.NewCatalogue(cats); err != nil {
		return nil, err
	}
	if w.router, err = dispatch.NewRouter(w.org, rules, nil); err != nil {
		return nil, err
	}

	r := w.rnd("world")
	w.crews = w.makeCrews(r, per)
	for _, s := range w.streets {
		for i := range roomsPerStreet {
			g := s.grids[r.IntN(len(s.grids))]
			s.rooms = append(s.rooms, room{subject: fmt.Sprintf("room-%s-%02d", s.code, i+1), grid: g,
				operator: fmt.Sprintf("op-%s-%02d", s.code, r.IntN(8)+1), point: inside(r, g.box)})
		}
	}
	return w, nil
}

// roomsPerStreet is how many rental rooms each street has listed when the
// day begins.
const roomsPerStreet = 20

// makeCrews staffs the bodies: street teams, district crews and a few city
// crews, each responder with the function of their body as skill.
func (w *world) makeCrews(r *rand.Rand, perDistrict int) []crew {
	scale := max(1, (perDistrict+7)/8) // district crews grow with the streets they serve
	staff := map[string]int{fnEnforcement: 8, fnGrid: 8, fnUrban: 24 * scale, fnHousing: 4 * scale, fnWater: 8 * scale, fnFire: 8 * scale}
	var out []crew
	for _, b := range w.org.Bodies() {
		n := staff[b.Function]
		if b.ID == "city-urban" {
			n = 4
		}
		var grids []*grid
		switch b.Tier() {
		case region.Street:
			grids = w.byStreet[b.Jurisdiction].grids
		case region.District:
			for _, s := range w.streets {
				if s.district == b.Jurisdiction {
					grids = append(grids, s.grids...)
				}
			}
		default:
			grids = w.grids
		}
		for i := range n {
			id := fmt.Sprintf("%s-%02d", b.ID, i+1)
			kind := access.DepartmentHandler
			if b.Tier() == region.Street {
				kind = access.StreetStaff
			}
			out = append(out, crew{
				responder: dispatch.Responder{ID: id, Name: b.Name + " " + fmt.Sprint(i+1), Body: b.ID, Skills: []string{b.Function}, Capacity: 2, Jurisdiction: b.Jurisdiction},
				actor:     access.Actor{ID: id, Kind: kind, Department: b.ID, Scope: b.Jurisdiction, Roles: []string{"responder"}},
				at:        inside(r, grids[r.IntN(len(grids))].box),
			})
		}
	}
	return out
}

// randomGrid returns a grid chosen uniformly.
func (w *world) randomGrid(r *rand.Rand) *grid { return w.grids[r.IntN(len(w.grids))] }

// gridOf returns the grid with code c, or nil.
func (w *world) gridOf(c region.Code) *grid { return w.byGrid[c] }
