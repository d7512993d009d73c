package risk

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/region"
)

// CheckItem is one line of a checklist: what is checked, how, by whom,
// and how grave a failure is by default.
type CheckItem struct {
	ID       string
	What     string
	How      string
	Who      string
	Severity Severity
}

// Checklist is an inspection template (检查表) that says who checks what
// and how.
type Checklist struct {
	ID    string
	Name  string
	Items []CheckItem
}

// NineSmallPlaces is the checklist of Chongqing's nine small places (九小
// 场所: small shops, restaurants, clinics, workshops, …) after Tieshanping
// street's application (S17).
func NineSmallPlaces() Checklist {
	return Checklist{ID: "nine-small-places", Name: "九小场所安全检查", Items: []CheckItem{
		{ID: "wiring", What: "电气线路穿管保护", How: "目视检查明敷线路是否穿管或线槽保护", Who: "网格员", Severity: General},
		{ID: "extinguishers", What: "灭火器不少于2具且在有效期内", How: "清点数量，查看压力表与有效期", Who: "网格员", Severity: General},
		{ID: "breaker-cover", What: "空气开关防护壳完好", How: "目视检查配电箱与开关防护", Who: "网格员", Severity: General},
		{ID: "no-residence", What: "经营场所内无人员住宿（三合一）", How: "查看阁楼、隔间有无床铺", Who: "街道安全员", Severity: Major},
		{ID: "exits", What: "安全出口、疏散通道畅通", How: "检查出口是否锁闭、通道是否堆物", Who: "网格员", Severity: Major},
		{ID: "gas", What: "燃气管道与报警器完好", How: "检查软管、阀门与可燃气体报警器", Who: "燃气企业/网格员", Severity: Major},
		{ID: "ebike", What: "无电动自行车室内停放充电", How: "查看室内及门口有无停放充电", Who: "网格员", Severity: General},
	}}
}

// Severity is how grave a finding is: a general hazard (一般隐患) or a
// major one (重大隐患).
type Severity int8

// The severities.
const (
	General Severity = iota + 1
	Major
)

// String returns "general" or "major".
func (s Severity) String() string {
	switch s {
	case General:
		return "general"
	case Major:
		return "major"
	}
	return fmt.Sprintf("Severity(%d)", int8(s))
}

// InspectionStatus is where an inspection stands.
type InspectionStatus int8

// The inspection statuses.
const (
	Planned InspectionStatus = iota + 1
	Inspected
)

// String returns "planned" or "inspected".
func (s InspectionStatus) String() string {
	switch s {
	case Planned:
		return "planned"
	case Inspected:
		return "inspected"
	}
	return fmt.Sprintf("InspectionStatus(%d)", int8(s))
}

// RectificationStatus is where a rectification notice (整改通知) stands.
type RectificationStatus int8

// The rectification statuses: the owner is told (Open), reports the work
// done (Reported), and an inspector verifies it (Closed) or sends it back
// (Open again).
const (
	Open RectificationStatus = iota + 1
	Reported
	Closed
)

// String returns "open", "reported" or "closed".
func (s RectificationStatus) String() string {
	switch s {
	case Open:
		return "open"
	case Reported:
		return "reported"
	case Closed:
		return "closed"
	}
	return fmt.Sprintf("RectificationStatus(%d)", int8(s))
}

// Finding is a hazard found on an inspection, with its rectification
// notice to the owner.
type Finding struct {
	Item     string // the checklist item
	Severity Severity
	Note     string
	Evidence []string // content hashes or URLs of photos
	// The rectification notice.
	Deadline   time.Time
	Status     RectificationStatus
	Overdue    bool
	ReportedAt time.Time
	ReportedBy string
	VerifiedAt time.Time
	VerifiedBy string
}

// Inspection is one visit to one enterprise in one period — a joint visit
// when several departments' tasks were merged (S7).
type Inspection struct {
	ID          uuid.UUID
	Enterprise  string
	Region      region.Code
	Period      string   // e.g. "2025Q1"
	Departments []string // the departments taking part, sorted
	Reasons     []string // why it is planned: tier, random draw, department tasks
	Inspectors  []string // actor IDs
	Checklist   string
	Status      InspectionStatus
	InspectedAt time.Time
	Findings    []Finding
	Version     int64
}

func (in Inspection) clone() Inspection {
	in.Departments = slices.Clone(in.Departments)
	in.Reasons = slices.Clone(in.Reasons)
	in.Inspectors = slices.Clone(in.Inspectors)
	in.Findings = slices.Clone(in.Findings)
	for i := range in.Findings {
		in.Findings[i].Evidence = slices.Clone(in.Findings[i].Evidence)
	}
	return in
}

// Task is one department's wish to inspect an enterprise in a period.
type Task struct {
	Department string
	Enterprise string
	Subject    string // e.g. "消防安全检查"
}

// InspectionPlanRequest asks for one quarter's inspections in a region.
type InspectionPlanRequest struct {
	Region  region.Code
	Year    int
	Quarter int // 1–4
	// Tasks are the departments' own tasks; tasks on one enterprise are
	// merged with each other and with the tier's inspection into one joint
	// visit.
	Tasks []Task
	// Quota is how many further enterprises the random draw (双随机)
	// picks among those not otherwise inspected this quarter.
	Quota int
	// Inspectors is the pool the random draw assigns from; each visit gets
	// PerVisit of them (default 2).
	Inspectors []string
	PerVisit   int
	// Seed makes the draw reproducible: publish it with the plan, and
	// anyone can re-run the draw (Draw) and check it.
	Seed      uint64
	Checklist string
}

// Draw is the record of a random draw, enough to re-run and audit it.
type Draw struct {
	Seed uint64
	// Candidates are the enterprise IDs drawn from, sorted;
	// CandidateDigest is the SHA-256 of them joined by newlines.
	Candidates      []string
	CandidateDigest string
	Picked          []string            // in draw order
	Inspectors      map[string][]string // enterprise → inspectors drawn for it
}

// DrawTargets runs the seeded draw of quota targets among candidates and
// of perVisit inspectors for every visit in visits (sorted), with a
// PCG generator seeded by seed. It is what PlanInspections runs, exported
// so that anyone can check a published draw.
func DrawTargets(seed uint64, candidates []string, quota int, inspectors []string, perVisit int, visits []string) Draw {
	cands := slices.Clone(candidates)
	slices.Sort(cands)
	cands = slices.Compact(cands)
	sum := sha256.Sum256([]byte(strings.Join(cands, "\n")))
	d := Draw{Seed: seed, Candidates: cands, CandidateDigest: hex.EncodeToString(sum[:]), Inspectors: map[string][]string{}}
	r := rand.New(rand.NewPCG(seed, 0x6f76_6b69_7472_736b)) // "govkitrsk"
	pool := slices.Clone(cands)
	for range min(quota, len(pool)) {
		i := r.IntN(len(pool))
		d.Picked = append(d.Picked, pool[i])
		pool = slices.Delete(pool, i, i+1)
	}
	insp := slices.Clone(inspectors)
	slices.Sort(insp)
	insp = slices.Compact(insp)
	all := slices.Clone(visits)
	all = append(all, d.Picked...)
	slices.Sort(all)
	all = slices.Compact(all)
	for _, v := range all {
		p := slices.Clone(insp)
		var got []string
		for range min(perVisit, len(p)) {
			i := r.IntN(len(p))
			got = append(got, p[i])
			p = slices.Delete(p, i, i+1)
		}
		slices.Sort(got)
		d.Inspectors[v] = got
	}
	return d
}

// dueQuarter spreads yearly inspections over the year: the quarter an
// enterprise inspected n times a year is due, stable by its ID.
func dueQuarter(id string, perYear, quarter int) bool {
	switch {
	case perYear <= 0:
		return false
	case perYear >= 4:
		return true
	}
	h := fnv.New32a()
	h.Write([]byte(id))
	first := int(h.Sum32() % 4)
	for k := range perYear {
		if (first+k*4/perYear)%4 == quarter-1 {
			return true
		}
	}
	return false
}

// PlanInspections generates a quarter's inspections in a region: every
// enterprise whose tier is due (red every quarter, yellow once a year in a
// quarter fixed by its ID, green never), the departments' tasks, and a
// seeded random draw of Quota more among the rest; inspectors are drawn
// for every visit. Tasks and tier visits on one enterprise merge into one
// joint inspection listing every department. The plan and the draw record
// are returned; the inspections are stored (planning a quarter twice adds
// a second set). The actor needs ActionPlanInspections in the region.
func (s *Service) PlanInspections(ctx context.Context, req InspectionPlanRequest) ([]Inspection, Draw, error) {
	switch {
	case req.Quarter < 1 || req.Quarter > 4:
		return nil, Draw{}, invalid("plan.quarter", "%d outside 1–4", req.Quarter)
	case req.Year < 2000 || req.Year > 2200:
		return nil, Draw{}, invalid("plan.year", "%d", req.Year)
	case req.Quota < 0 || req.PerVisit < 0:
		return nil, Draw{}, invalid("plan", "negative quota or inspectors per visit")
	}
	if req.PerVisit == 0 {
		req.PerVisit = 2
	}
	if req.Checklist == "" {
		req.Checklist = NineSmallPlaces().ID
	}
	if _, ok := s.checklist(req.Checklist); !ok {
		return nil, Draw{}, invalid("plan.checklist", "no checklist %q is registered", req.Checklist)
	}
	if _, err := region.ParseCode(string(req.Region)); err != nil {
		return nil, Draw{}, &InputError{Field: "plan.region", Err: err}
	}
	actor, err := s.authorize(ctx, ActionPlanInspections, access.Resource{Kind: InspectionKind, Jurisdiction: req.Region})
	if err != nil {
		return nil, Draw{}, err
	}
	ents, err := s.store.Enterprises(ctx, req.Region)
	if err != nil {
		return nil, Draw{}, err
	}
	byID := map[string]*Enterprise{}
	for i := range ents {
		byID[ents[i].ID] = &ents[i]
	}
	for i, t := range req.Tasks {
		if t.Department == "" {
			return nil, Draw{}, missing(fmt.Sprintf("plan.tasks[%d].department", i), "a task names its department")
		}
		if byID[t.Enterprise] == nil {
			return nil, Draw{}, &InputError{Field: fmt.Sprintf("plan.tasks[%d].enterprise", i), Reason: fmt.Sprintf("%q is not registered in %s", t.Enterprise, req.Region), Err: ErrNotFound}
		}
	}
	period := fmt.Sprintf("%dQ%d", req.Year, req.Quarter)
	type visit struct {
		depts   map[string]bool
		reasons []string
	}
	visits := map[string]*visit{}
	add := func(ent, dept, reason string) {
		v := visits[ent]
		if v == nil {
			v = &visit{depts: map[string]bool{}}
			visits[ent] = v
		}
		if dept != "" {
			v.depts[dept] = true
		}
		v.reasons = append(v.reasons, reason)
	}
	for _, e := range ents {
		if dueQuarter(e.ID, s.tiering.PerYear[e.Tier], req.Quarter) {
			add(e.ID, "", fmt.Sprintf("tier %s: %d a year", e.Tier, s.tiering.PerYear[e.Tier]))
		}
	}
	for _, t := range req.Tasks {
		add(t.Enterprise, t.Department, fmt.Sprintf("%s: %s", t.Department, t.Subject))
	}
	var fixed, rest []string
	for _, e := range ents {
		if visits[e.ID] != nil {
			fixed = append(fixed, e.ID)
		} else {
			rest = append(rest, e.ID)
		}
	}
	draw := DrawTargets(req.Seed, rest, req.Quota, req.Inspectors, req.PerVisit, fixed)
	for i, id := range draw.Picked {
		add(id, "", fmt.Sprintf("random draw %s #%d (seed %d)", period, i+1, req.Seed))
	}
	ids := make([]string, 0, len(visits))
	for id := range visits {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	now := s.now()
	var out []Inspection
	c := Change{}
	for _, id := range ids {
		v := visits[id]
		depts := make([]string, 0, len(v.depts))
		for d := range v.depts {
			depts = append(depts, d)
		}
		slices.Sort(depts)
		iid, err := uuid.NewV7()
		if err != nil {
			return nil, Draw{}, err
		}
		in := Inspection{
			ID: iid, Enterprise: id, Region: byID[id].Region, Period: period, Departments: depts,
			Reasons: v.reasons, Inspectors: draw.Inspectors[id], Checklist: req.Checklist, Status: Planned, Version: 1,
		}
		out = append(out, in)
		c.PutInspections = append(c.PutInspections, in)
		if err := s.inspectionEvent(&c, EventInspectionPlanned, &in, -1, actor, now); err != nil {
			return nil, Draw{}, err
		}
	}
	if err := s.store.Apply(ctx, c); err != nil {
		return nil, Draw{}, err
	}
	s.after(ctx)
	return out, draw, nil
}

func (s *Service) inspectionEvent(c *Change, name string, in *Inspection, finding int, actor string, now time.Time) error {
	if s.relay == nil {
		return nil
	}
	path, err := s.regions.Path(in.Region)
	if err != nil {
		path = []region.Code{in.Region}
	}
	d := EventData{Event: name, Inspection: in.ID, Enterprise: in.Enterprise, Grid: in.Region, Path: path, Actor: actor, Time: now}
	if finding >= 0 {
		f := in.Findings[finding]
		d.Finding = finding + 1
		dl := f.Deadline
		d.Deadline = &dl
		d.Reasons = []string{fmt.Sprintf("%s hazard on %s: %s", f.Severity, f.Item, f.Note)}
	}
	m, err := newMessage(s.cfg.SubjectPrefix, path, "inspection:"+in.ID.String(), d)
	if err != nil {
		return err
	}
	c.Events = append(c.Events, m)
	return nil
}

// FindingInput is a hazard an inspector records.
type FindingInput struct {
	Item     string   // a checklist item ID
	Severity Severity // default: the item's
	Note     string
	Evidence []string
}

// RectifierNotVerifier: whoever reports a rectification done does not
// verify it.
var RectifierNotVerifier = access.Separation{Name: "rectifier-not-verifier", First: "rectify", Second: "verify"}

// errNoChange tells inspectionCommand that a mutation had nothing to do.
var errNoChange = errors.New("risk: no change")

// Rectification deadlines by severity.
const (
	GeneralDeadline = 15 * 24 * time.Hour
	MajorDeadline   = 60 * 24 * time.Hour
)

// checklist returns the registered checklist with id (NineSmallPlaces is
// built in).
func (s *Service) checklist(id string) (Checklist, bool) {
	cl, ok := s.lists[id]
	return cl, ok
}

// validate reports what makes a checklist unusable: every item needs an
// ID, what is checked, how and by whom, and a severity.
func (cl Checklist) validate() error {
	if cl.ID == "" || cl.Name == "" {
		return missing("id", "a checklist needs an ID and a name")
	}
	if len(cl.Items) == 0 {
		return missing("items", "a checklist needs items")
	}
	seen := map[string]bool{}
	for i, it := range cl.Items {
		field := fmt.Sprintf("items[%d]", i)
		switch {
		case it.ID == "" || seen[it.ID]:
			return invalid(field+".id", "item IDs must be present and unique")
		case it.What == "" || it.How == "" || it.Who == "":
			return missing(field, "an item says what is checked, how and by whom")
		case it.Severity != General && it.Severity != Major:
			return invalid(field+".severity", "general or major")
		}
		seen[it.ID] = true
	}
	return nil
}

// inspectionCommand runs one change of one inspection, retrying on a
// concurrent change.
func (s *Service) inspectionCommand(ctx context.Context, id uuid.UUID, action string, mutate func(in *Inspection, actor string, now time.Time) (event string, finding int, err error)) (Inspection, error) {
	var err error
	for range maxAttempts {
		var cur Inspection
		cur, err = s.store.Inspection(ctx, id)
		if err != nil {
			return Inspection{}, err
		}
		r := access.Resource{Kind: InspectionKind, ID: id.String(), Jurisdiction: cur.Region, Owner: cur.Enterprise}
		var actor string
		if action == "" {
			actor = SystemActor
		} else if actor, err = s.authorize(ctx, action, r); err != nil {
			return Inspection{}, err
		}
		next := cur.clone()
		now := s.now()
		event, finding, err := mutate(&next, actor, now)
		if errors.Is(err, errNoChange) {
			return cur, nil
		}
		if err != nil {
			return Inspection{}, err
		}
		next.Version++
		c := Change{PutInspections: []Inspection{next}}
		if event != "" {
			if err := s.inspectionEvent(&c, event, &next, finding, actor, now); err != nil {
				return Inspection{}, err
			}
		}
		if err = s.store.Apply(ctx, c); errors.Is(err, ErrConflict) {
			continue
		} else if err != nil {
			return Inspection{}, err
		}
		s.scheduleRectifications(&next)
		s.after(ctx)
		return next.clone(), nil
	}
	return Inspection{}, err
}

// RecordFindings completes a planned inspection with its findings; each
// finding becomes a rectification notice to the owner due in 15 days
// (general) or 60 days (major), announced with EventRectificationIssued.
// The actor needs ActionInspect in the enterprise's region.
func (s *Service) RecordFindings(ctx context.Context, id uuid.UUID, findings []FindingInput) (Inspection, error) {
	return s.inspectionCommand(ctx, id, ActionInspect, func(in *Inspection, actor string, now time.Time) (string, int, error) {
		if in.Status != Planned {
			return "", 0, &TransitionError{ID: in.ID, What: "inspection", From: in.Status.String(), To: Inspected.String(), Reason: "findings are recorded once"}
		}
		cl, ok := s.checklist(in.Checklist)
		for i, f := range findings {
			var item CheckItem
			if ok {
				j := slices.IndexFunc(cl.Items, func(it CheckItem) bool { return it.ID == f.Item })
				if j < 0 {
					return "", 0, invalid(fmt.Sprintf("findings[%d].item", i), "%q is not on checklist %s", f.Item, cl.ID)
				}
				item = cl.Items[j]
			} else if f.Item == "" {
				return "", 0, missing(fmt.Sprintf("findings[%d].item", i), "a finding names what failed")
			}
			sev := f.Severity
			if sev == 0 {
				sev = item.Severity
			}
			if sev != General && sev != Major {
				return "", 0, invalid(fmt.Sprintf("findings[%d].severity", i), "%v", sev)
			}
			due := GeneralDeadline
			if sev == Major {
				due = MajorDeadline
			}
			in.Findings = append(in.Findings, Finding{
				Item: f.Item, Severity: sev, Note: f.Note, Evidence: slices.Clone(f.Evidence),
				Deadline: now.Add(due), Status: Open,
			})
		}
		in.Status, in.InspectedAt = Inspected, now
		in.Inspectors = appendUnique(in.Inspectors, actor)
		return EventRectificationIssued, -1, nil
	})
}

func appendUnique(list []string, s string) []string {
	if s == "" || slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// ReportRectified records the owner's report that finding n (from 1) is
// fixed. The actor needs ActionRectify on the inspection (an OwnOnly
// grant lets an enterprise actor whose ID is the enterprise's report its
// own).
func (s *Service) ReportRectified(ctx context.Context, id uuid.UUID, n int, evidence []string) (Inspection, error) {
	return s.findingCommand(ctx, id, n, ActionRectify, func(f *Finding, actor string, now time.Time) (string, error) {
		if f.Status != Open {
			return "", &TransitionError{ID: id, What: "rectification", From: f.Status.String(), To: Reported.String()}
		}
		f.Status, f.ReportedAt, f.ReportedBy = Reported, now, actor
		f.Evidence = append(f.Evidence, evidence...)
		return "", nil
	})
}

// VerifyRectification closes finding n (from 1) when pass, or sends it
// back to the owner; closing needs a reported rectification and a verifier
// other than the reporter. The actor needs ActionVerify.
func (s *Service) VerifyRectification(ctx context.Context, id uuid.UUID, n int, pass bool) (Inspection, error) {
	return s.findingCommand(ctx, id, n, ActionVerify, func(f *Finding, actor string, now time.Time) (string, error) {
		if f.Status != Reported {
			return "", &TransitionError{ID: id, What: "rectification", From: f.Status.String(), To: Closed.String(), Reason: "closing needs a reported rectification"}
		}
		if err := (RectifierNotVerifier).Check(actor, f.ReportedBy); err != nil {
			return "", err
		}
		if !pass {
			f.Status, f.ReportedAt, f.ReportedBy = Open, time.Time{}, ""
			return "", nil
		}
		f.Status, f.VerifiedAt, f.VerifiedBy = Closed, now, actor
		return EventRectificationClosed, nil
	})
}

func (s *Service) findingCommand(ctx context.Context, id uuid.UUID, n int, action string, mutate func(f *Finding, actor string, now time.Time) (string, error)) (Inspection, error) {
	return s.inspectionCommand(ctx, id, action, func(in *Inspection, actor string, now time.Time) (string, int, error) {
		if n < 1 || n > len(in.Findings) {
			return "", 0, invalid("finding", "%d outside 1–%d", n, len(in.Findings))
		}
		ev, err := mutate(&in.Findings[n-1], actor, now)
		return ev, n - 1, err
	})
}

// scheduleRectifications sets a timer at the deadline of every open
// rectification of in.
func (s *Service) scheduleRectifications(in *Inspection) {
	for _, f := range in.Findings {
		if f.Status != Closed && !f.Overdue {
			s.overdue.Add(in.ID, f.Deadline)
		}
	}
}

// checkOverdue marks rectifications past their deadline overdue and
// escalates each with EventRectificationDue.
func (s *Service) checkOverdue(id uuid.UUID) {
	ctx := context.Background()
	for {
		var hit bool
		_, err := s.inspectionCommand(ctx, id, "", func(in *Inspection, _ string, now time.Time) (string, int, error) {
			for i := range in.Findings {
				f := &in.Findings[i]
				if f.Status != Closed && !f.Overdue && !now.Before(f.Deadline) {
					f.Overdue = true
					hit = true
					return EventRectificationDue, i, nil
				}
			}
			return "", 0, errNoChange
		})
		if err != nil && !errors.Is(err, ErrNotFound) {
			s.log.Warn("risk: marking a rectification overdue failed", "inspection", id, "err", err)
		}
		if !hit || err != nil {
			return
		}
	}
}
