package permit

import (
	"bytes"
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/region"
	"github.com/tidwall/rtree"
)

// Segment is a stretch of street between two junctions: the unit road
// works are applied for on, and the unit a moratorium protects.
type Segment struct {
	ID           string
	Name         string
	Line         geo.LineString // WGS-84
	Jurisdiction region.Code    // the street (or district) it lies in
}

// Network is the street segments of a city, by ID. Build one with
// NewNetwork; it is immutable and safe for concurrent use.
type Network struct {
	segs map[string]Segment
}

// NewNetwork validates segments (unique token IDs, valid lines and
// jurisdictions) and returns the network.
func NewNetwork(segments []Segment) (*Network, error) {
	n := &Network{segs: make(map[string]Segment, len(segments))}
	for i, s := range segments {
		field := fmt.Sprintf("segments[%d]", i)
		if !validToken(s.ID, true) {
			return nil, badCommand(field+".id", "must be a lower-case token")
		}
		if _, dup := n.segs[s.ID]; dup {
			return nil, badCommand(field+".id", "duplicate segment %q", s.ID)
		}
		if err := s.Line.Validate(); err != nil {
			return nil, &CommandError{Field: field + ".line", Reason: "invalid", Err: err}
		}
		if _, err := region.ParseCode(string(s.Jurisdiction)); err != nil {
			return nil, &CommandError{Field: field + ".jurisdiction", Reason: "invalid", Err: err}
		}
		s.Line = slices.Clone(s.Line)
		n.segs[s.ID] = s
	}
	return n, nil
}

// Segment returns the segment with id.
func (n *Network) Segment(id string) (Segment, bool) {
	s, ok := n.segs[id]
	s.Line = slices.Clone(s.Line)
	return s, ok
}

// Len returns the number of segments.
func (n *Network) Len() int { return len(n.segs) }

// Window is a period of works, from Start to End.
type Window struct {
	Start time.Time
	End   time.Time
}

// Duration returns how long the window lasts.
func (w Window) Duration() time.Duration { return w.End.Sub(w.Start) }

// overlaps reports whether w and o overlap once each is stretched by slack
// at its end: works a fortnight apart still dig the same road twice.
func (w Window) overlaps(o Window, slack time.Duration) bool {
	return w.Start.Before(o.End.Add(slack)) && o.Start.Before(w.End.Add(slack))
}

// ExcavationStatus is where an excavation application stands.
type ExcavationStatus int8

// Excavation statuses.
const (
	ExcavationApplied   ExcavationStatus = iota + 1 // applied for, not yet coordinated
	ExcavationProposed                              // in a proposed joint excavation
	ExcavationMerged                                // in an agreed joint excavation
	ExcavationCompleted                             // dug, reinstated, accepted
)

var excavationStatusNames = [...]string{
	ExcavationApplied: "applied", ExcavationProposed: "proposed", ExcavationMerged: "merged", ExcavationCompleted: "completed",
}

// String returns the status name.
func (s ExcavationStatus) String() string {
	if s < ExcavationApplied || s > ExcavationCompleted {
		return fmt.Sprintf("ExcavationStatus(%d)", int8(s))
	}
	return excavationStatusNames[s]
}

// Excavation is one promoter's application to dig a street: a gas company
// renewing a main, a telecom operator laying ducts.
type Excavation struct {
	ID           uuid.UUID
	Key          string // idempotency key
	Promoter     string // the utility, e.g. "cq-gas"
	Segment      string
	Site         geo.LineString // the stretch dug; the whole segment by default
	Jurisdiction region.Code    // the segment's
	Window       Window
	Emergency    bool // a burst main: exempt from moratoria, never made to wait
	Purpose      string
	Status       ExcavationStatus
	Joint        uuid.UUID // the joint excavation it belongs to, if any
	Applicant    string    // actor ID
	Submitted    time.Time
	Completed    time.Time
	Version      int64
}

// Clone returns a deep copy of e.
func (e Excavation) Clone() Excavation {
	e.Site = slices.Clone(e.Site)
	return e
}

// JointStatus is where a joint excavation stands.
type JointStatus int8

// Joint excavation statuses.
const (
	JointProposed  JointStatus = iota + 1 // found by coordination, awaiting agreement
	JointAgreed                           // one dig, led by the lead promoter
	JointDissolved                        // refused; the members went back to applied
	JointCompleted                        // dug once; a moratorium protects the segments
)

var jointStatusNames = [...]string{JointProposed: "proposed", JointAgreed: "agreed", JointDissolved: "dissolved", JointCompleted: "completed"}

// String returns the status name.
func (s JointStatus) String() string {
	if s < JointProposed || s > JointCompleted {
		return fmt.Sprintf("JointStatus(%d)", int8(s))
	}
	return jointStatusNames[s]
}

// JointExcavation is a group of clashing applications made into one dig,
// led by one promoter: the "road zipper" closed once.
type JointExcavation struct {
	ID           uuid.UUID
	Members      []uuid.UUID // excavation IDs, sorted
	Promoters    []string    // distinct, sorted
	Lead         string      // the lead promoter
	Segments     []string    // distinct, sorted
	Window       Window      // from the earliest start to the latest end
	Jurisdiction region.Code // the smallest unit holding every member
	Emergency    bool
	Status       JointStatus
	Note         string
	Created      time.Time
	Decided      time.Time
	Version      int64
}

// Clone returns a deep copy of j.
func (j JointExcavation) Clone() JointExcavation {
	j.Members = slices.Clone(j.Members)
	j.Promoters = slices.Clone(j.Promoters)
	j.Segments = slices.Clone(j.Segments)
	return j
}

// Moratorium forbids digging a segment from From until Until: after
// resurfacing, or after works that reinstated it. Emergencies are exempt.
type Moratorium struct {
	ID           uuid.UUID
	Segment      string
	Jurisdiction region.Code
	From         time.Time
	Until        time.Time
	Cause        string    // "resurfaced" or "works"
	Works        uuid.UUID // the excavation or joint excavation that caused it
	Version      int64
}

// covers reports whether the moratorium forbids works in w.
func (m Moratorium) covers(w Window) bool {
	return w.Start.Before(m.Until) && m.From.Before(w.End)
}

// ClashRules say when two applications dig the same road twice.
type ClashRules struct {
	// Buffer: sites within this many metres of each other clash even on
	// different segments (default 50 m). Applications on the same segment
	// always do.
	Buffer float64
	// Slack: windows this close clash even if they do not overlap
	// (default 30 days).
	Slack time.Duration
}

func (r ClashRules) withDefaults() ClashRules {
	if r.Buffer == 0 {
		r.Buffer = 50
	}
	if r.Slack == 0 {
		r.Slack = 30 * 24 * time.Hour
	}
	return r
}

func (r ClashRules) validate() error {
	switch {
	case r.Buffer < 0 || r.Buffer > 5000 || math.IsNaN(r.Buffer):
		return badCommand("clash.buffer", "must be within 0–5000 m")
	case r.Slack < 0 || r.Slack > 366*24*time.Hour:
		return badCommand("clash.slack", "must be within 0–366 days")
	}
	return nil
}

// Clash is a pair of applications that would dig the same road twice.
type Clash struct {
	A, B        uuid.UUID
	SameSegment bool
	Distance    float64       // metres between the sites
	Overlap     time.Duration // how long the windows overlap; negative: the gap the slack bridged
}

// MoratoriumHit is an application that falls inside a moratorium.
type MoratoriumHit struct {
	Excavation uuid.UUID
	Moratorium uuid.UUID
	Segment    string
}

// ClashGroup is a set of applications connected by clashes, to be dug once.
type ClashGroup struct {
	Members   []uuid.UUID
	Lead      string
	Promoters []string
	Segments  []string
	Window    Window
	Emergency bool
}

// ClashReport is the outcome of clash detection.
type ClashReport struct {
	Applications int
	Clashes      []Clash
	Groups       []ClashGroup
	InMoratorium []MoratoriumHit
}

// Clashing returns how many applications are in a group.
func (r ClashReport) Clashing() int {
	n := 0
	for _, g := range r.Groups {
		n += len(g.Members)
	}
	return n
}

// ClashIndex answers "which applications would dig the same road as this
// one": same segment, or sites within the buffer, with windows that overlap
// once stretched by the slack. It is an R-tree over the sites' bounding
// boxes, grown by the buffer, with the windows and segments kept in
// compact columns beside it. Build one with NewClashIndex; it is immutable
// and safe for concurrent reads.
type ClashIndex struct {
	rules ClashRules
	slack int64 // nanoseconds
	ids   []uuid.UUID
	seg   []int32
	start []int64 // window start, Unix nanoseconds
	end   []int64
	sites []geo.LineString
	boxes []geo.BBox
	tree  rtree.RTreeG[int32]
	segs  map[string]int32 // segment ID → number
	on    [][]int32        // segment number → applications on it
}

// NewClashIndex validates apps and indexes them. Zero rules take the
// defaults.
func NewClashIndex(rules ClashRules, apps []Excavation) (*ClashIndex, error) {
	rules = rules.withDefaults()
	if err := rules.validate(); err != nil {
		return nil, err
	}
	if len(apps) > math.MaxInt32 {
		return nil, badCommand("applications", "too many")
	}
	n := len(apps)
	x := &ClashIndex{
		rules: rules, slack: int64(rules.Slack), ids: make([]uuid.UUID, n), seg: make([]int32, n),
		start: make([]int64, n), end: make([]int64, n), sites: make([]geo.LineString, n), boxes: make([]geo.BBox, n),
		segs: map[string]int32{},
	}
	for i := range apps {
		e := &apps[i]
		if err := checkWorks(e, fmt.Sprintf("applications[%d]", i)); err != nil {
			return nil, err
		}
		sn, ok := x.segs[e.Segment]
		if !ok {
			sn = int32(len(x.on))
			x.segs[e.Segment] = sn
			x.on = append(x.on, nil)
		}
		x.ids[i], x.seg[i], x.sites[i] = e.ID, sn, e.Site
		x.start[i], x.end[i] = e.Window.Start.UnixNano(), e.Window.End.UnixNano()
		b := grow(e.Site.BBox(), rules.Buffer)
		x.boxes[i] = b
		x.tree.Insert([2]float64{b.MinLon, b.MinLat}, [2]float64{b.MaxLon, b.MaxLat}, int32(i))
		x.on[sn] = append(x.on[sn], int32(i))
	}
	return x, nil
}

func checkWorks(e *Excavation, field string) error {
	if e.Segment == "" {
		return badCommand(field+".segment", "required")
	}
	if err := e.Site.Validate(); err != nil {
		return &CommandError{Field: field + ".site", Reason: "invalid", Err: err}
	}
	if e.Window.Start.IsZero() || !e.Window.End.After(e.Window.Start) {
		return badCommand(field+".window", "needs a start before its end")
	}
	return nil
}

// grow returns b enlarged by metres on every side.
func grow(b geo.BBox, metres float64) geo.BBox {
	return geo.BBoxAround(geo.Point{Lat: b.MinLat, Lon: b.MinLon}, metres).
		Union(geo.BBoxAround(geo.Point{Lat: b.MaxLat, Lon: b.MaxLon}, metres))
}

// nearBox returns a box that holds a point of every site linesDistance
// may find within metres of site, so that asking for the sites whose
// boxes meet it misses none: site's box grown by metres, and one more for
// rounding. In latitude, at linesDistance's scale. In longitude,
// linesDistance takes degrees at the mean latitude of both sites' first
// points, and the other site's first point may lie anywhere, so the box
// grows at the scale of the worst mean, halfway from site's first point
// to the pole: by 1.7 times the buffer east and west at Chongqing's
// latitude, to every longitude at the pole. Too large a box costs a few
// candidates; too small a one would miss a clash.
func nearBox(site geo.LineString, metres float64) geo.BBox {
	m := metres + 1
	ky := geo.EarthRadius * math.Pi / 180 // metres per degree of latitude, as linesDistance
	dLat := m / ky
	worst := (math.Abs(site[0].Lat) + 90) / 2
	dLon := 360.0
	if c := math.Cos(worst * math.Pi / 180); c > 0 {
		dLon = min(dLon, m/(ky*c))
	}
	b := site.BBox()
	return geo.BBox{
		MinLat: max(b.MinLat-dLat, -90), MinLon: max(b.MinLon-dLon, -180),
		MaxLat: min(b.MaxLat+dLat, 90), MaxLon: min(b.MaxLon+dLon, 180),
	}
}

// Len returns the number of indexed applications.
func (x *ClashIndex) Len() int { return len(x.ids) }

// Clashes returns the indexed applications that clash with e (other than
// e itself, by ID), the longest overlap first, then by ID.
func (x *ClashIndex) Clashes(e Excavation) ([]Clash, error) {
	if err := checkWorks(&e, "excavation"); err != nil {
		return nil, err
	}
	sn, ok := x.segs[e.Segment]
	if !ok {
		sn = -1
	}
	q := probe{id: e.ID, seg: sn, start: e.Window.Start.UnixNano(), end: e.Window.End.UnixNano(), site: e.Site}
	var out []Clash
	x.each(&q, grow(e.Site.BBox(), x.rules.Buffer), -1, func(_ int32, c Clash) { out = append(out, c) })
	slices.SortFunc(out, func(a, b Clash) int {
		if c := cmp.Compare(b.Overlap, a.Overlap); c != 0 {
			return c
		}
		return bytes.Compare(a.B[:], b.B[:]) // so that ties do not depend on what else is indexed
	})
	return out, nil
}

// probe is the application a query is about.
type probe struct {
	id         uuid.UUID
	seg        int32 // -1: a segment nothing indexed is on
	start, end int64
	site       geo.LineString
}

func (x *ClashIndex) probeOf(i int32) probe {
	return probe{id: x.ids[i], seg: x.seg[i], start: x.start[i], end: x.end[i], site: x.sites[i]}
}

// each calls fn for every indexed application clashing with q whose
// position is above skip (to visit each pair once): those on q's segment
// come from the segment's list, the others from the tree.
func (x *ClashIndex) each(q *probe, box geo.BBox, skip int32, fn func(int32, Clash)) {
	try := func(j int32, same bool) {
		if j <= skip || q.start >= x.end[j]+x.slack || x.start[j] >= q.end+x.slack || x.ids[j] == q.id {
			return
		}
		d := linesDistance(q.site, x.sites[j])
		if !same && d > x.rules.Buffer {
			return
		}
		overlap := time.Duration(min(q.end, x.end[j]) - max(q.start, x.start[j]))
		fn(j, Clash{A: q.id, B: x.ids[j], SameSegment: same, Distance: d, Overlap: overlap})
	}
	if q.seg >= 0 {
		for _, j := range x.on[q.seg] {
			try(j, true)
		}
	}
	x.tree.Search([2]float64{box.MinLon, box.MinLat}, [2]float64{box.MaxLon, box.MaxLat}, func(_, _ [2]float64, j int32) bool {
		if x.seg[j] != q.seg {
			try(j, false)
		}
		return true
	})
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// DetectClashes finds every clash among apps, flags those inside a
// moratorium on their segment (emergencies excepted; flagged applications
// join no group), and groups the rest: applications connected by clashes
// form one group, to be dug once under a lead promoter (an emergency's
// promoter if there is one, otherwise the promoter with the most works by
// length × duration). Zero rules take the defaults.
func DetectClashes(rules ClashRules, apps []Excavation, moratoria []Moratorium) (ClashReport, error) {
	rep := ClashReport{Applications: len(apps)}
	bySeg := map[string][]int{}
	for i, m := range moratoria {
		bySeg[m.Segment] = append(bySeg[m.Segment], i)
	}
	free := make([]Excavation, 0, len(apps))
	for _, e := range apps {
		hit := false
		if !e.Emergency {
			for _, i := range bySeg[e.Segment] {
				if moratoria[i].covers(e.Window) {
					rep.InMoratorium = append(rep.InMoratorium, MoratoriumHit{Excavation: e.ID, Moratorium: moratoria[i].ID, Segment: e.Segment})
					hit = true
					break
				}
			}
		}
		if !hit {
			free = append(free, e)
		}
	}
	x, err := NewClashIndex(rules, free)
	if err != nil {
		return ClashReport{}, err
	}
	parent := make([]int32, len(free))
	for i := range parent {
		parent[i] = int32(i)
	}
	var find func(i int32) int32
	find = func(i int32) int32 {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	for i := range free {
		q := x.probeOf(int32(i))
		x.each(&q, x.boxes[i], int32(i), func(j int32, c Clash) {
			rep.Clashes = append(rep.Clashes, c)
			if a, b := find(int32(i)), find(j); a != b {
				parent[max(a, b)] = min(a, b)
			}
		})
	}
	groups := map[int32][]int{}
	for i := range free {
		r := find(int32(i))
		groups[r] = append(groups[r], i)
	}
	for _, members := range groups {
		if len(members) < 2 {
			continue
		}
		es := make([]*Excavation, len(members))
		for k, i := range members {
			es[k] = &free[i]
		}
		rep.Groups = append(rep.Groups, groupOf(es))
	}
	slices.SortFunc(rep.Groups, func(a, b ClashGroup) int {
		return cmp.Or(a.Window.Start.Compare(b.Window.Start), compareUUID(a.Members[0], b.Members[0]))
	})
	return rep, nil
}

func compareUUID(a, b uuid.UUID) int { return strings.Compare(string(a[:]), string(b[:])) }

// groupOf describes clashing applications as one dig.
func groupOf(es []*Excavation) ClashGroup {
	g := ClashGroup{Window: es[0].Window}
	work := map[string]float64{}
	var emergency *Excavation
	for _, e := range es {
		g.Members = append(g.Members, e.ID)
		if !slices.Contains(g.Promoters, e.Promoter) {
			g.Promoters = append(g.Promoters, e.Promoter)
		}
		if !slices.Contains(g.Segments, e.Segment) {
			g.Segments = append(g.Segments, e.Segment)
		}
		g.Window.Start = minTime(g.Window.Start, e.Window.Start)
		g.Window.End = maxTime(g.Window.End, e.Window.End)
		work[e.Promoter] += lineLength(e.Site) * e.Window.Duration().Hours() / 24
		if e.Emergency && (emergency == nil || e.Window.Start.Before(emergency.Window.Start)) {
			emergency = e
		}
	}
	slices.SortFunc(g.Members, compareUUID)
	slices.Sort(g.Promoters)
	slices.Sort(g.Segments)
	if emergency != nil {
		g.Lead, g.Emergency = emergency.Promoter, true
		return g
	}
	for _, p := range g.Promoters { // sorted: ties go to the first name
		if g.Lead == "" || work[p] > work[g.Lead] {
			g.Lead = p
		}
	}
	return g
}

// lineLength returns the length of l in metres.
func lineLength(l geo.LineString) float64 {
	var sum float64
	for i := 1; i < len(l); i++ {
		sum += geo.Distance(l[i-1], l[i])
	}
	return sum
}

// linesDistance returns the shortest distance in metres between two
// polylines, on a local plane around them (exact to well under a metre at
// the scale of a street).
func linesDistance(a, b geo.LineString) float64 {
	lat0 := (a[0].Lat + b[0].Lat) / 2
	kx := math.Cos(lat0*math.Pi/180) * geo.EarthRadius * math.Pi / 180
	ky := geo.EarthRadius * math.Pi / 180
	lon0 := a[0].Lon
	proj := func(p geo.Point) [2]float64 { return [2]float64{(p.Lon - lon0) * kx, (p.Lat - lat0) * ky} }
	best := math.Inf(1)
	for i := 1; i < len(a); i++ {
		p1, p2 := proj(a[i-1]), proj(a[i])
		for j := 1; j < len(b); j++ {
			d := segmentsDistance(p1, p2, proj(b[j-1]), proj(b[j]))
			if d < best {
				best = d
				if d == 0 {
					return 0
				}
			}
		}
	}
	return best
}

func segmentsDistance(p1, p2, q1, q2 [2]float64) float64 {
	if segmentsCross(p1, p2, q1, q2) {
		return 0
	}
	return min(pointSegment(p1, q1, q2), pointSegment(p2, q1, q2), pointSegment(q1, p1, p2), pointSegment(q2, p1, p2))
}

func cross(o, a, b [2]float64) float64 {
	return (a[0]-o[0])*(b[1]-o[1]) - (a[1]-o[1])*(b[0]-o[0])
}

func segmentsCross(p1, p2, q1, q2 [2]float64) bool {
	d1, d2 := cross(q1, q2, p1), cross(q1, q2, p2)
	d3, d4 := cross(p1, p2, q1), cross(p1, p2, q2)
	return ((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) && ((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0))
}

func pointSegment(p, a, b [2]float64) float64 {
	dx, dy := b[0]-a[0], b[1]-a[1]
	t := 0.0
	if l2 := dx*dx + dy*dy; l2 > 0 {
		t = math.Max(0, math.Min(1, ((p[0]-a[0])*dx+(p[1]-a[1])*dy)/l2))
	}
	ex, ey := a[0]+t*dx-p[0], a[1]+t*dy-p[1]
	return math.Hypot(ex, ey)
}

// commonUnit returns the smallest unit that holds every code, by the
// structure of the codes.
func commonUnit(codes []region.Code) region.Code {
	if len(codes) == 0 {
		return ""
	}
	prefix := string(codes[0])
	for _, c := range codes[1:] {
		s := string(c)
		n := 0
		for n < len(prefix) && n < len(s) && prefix[n] == s[n] {
			n++
		}
		prefix = prefix[:n]
	}
	switch {
	case len(prefix) >= 15:
		return region.Code(prefix[:15])
	case len(prefix) >= 12:
		return region.Code(prefix[:12])
	case len(prefix) >= 9:
		return region.Code(prefix[:9])
	case len(prefix) >= 6:
		return region.Code(prefix[:6])
	case len(prefix) >= 4:
		return region.Code(prefix[:4] + "00")
	case len(prefix) >= 2:
		return region.Code(prefix[:2] + "0000")
	}
	return ""
}
