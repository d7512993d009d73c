package dispatch

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/govkit/govkit/region"
)

// Errors of routing.
var (
	// ErrInvalidRules: a rule set cannot be loaded; the error says which
	// rule and why, including ties between rules.
	ErrInvalidRules = errors.New("dispatch: invalid rules")
	// ErrNoRoute: no rule covers the case.
	ErrNoRoute = errors.New("dispatch: no route")
	// ErrUnresolved: a rule names a function that no body serves at the
	// case's place.
	ErrUnresolved = errors.New("dispatch: handler not resolved")
	// ErrInvalidCase: the case to route is malformed.
	ErrInvalidCase = errors.New("dispatch: invalid case")
)

// Handler names who handles one branch of a case: a body by ID, or the
// body of a function that serves the case's unit at a tier ("the
// enforcement team of the case's street"), so that one rule sends every
// street's cases to that street's team.
type Handler struct {
	Body     string       `json:"body,omitempty"`
	Function string       `json:"function,omitempty"`
	Tier     region.Level `json:"tier,omitempty"`
	// Optional branches need not be done for the case to be disposed.
	Optional bool `json:"optional,omitempty"`
}

// String describes the handler, such as "enforcement of the case's street".
func (h Handler) String() string {
	s := h.Body
	if s == "" {
		s = fmt.Sprintf("%s of the case's %s", h.Function, h.Tier)
	}
	if h.Optional {
		s += " (optional)"
	}
	return s
}

// Rule sends cases of a category in an area to a lead handler (主办) and
// co-handlers (协办), who work in parallel.
type Rule struct {
	ID string `json:"id"`
	// Category is a category code, a prefix followed by "*" ("01*" for
	// every code starting 01), or "*" for any category.
	Category string `json:"category"`
	// Area is the subtree the rule covers: a city, district, street,
	// community or grid code.
	Area region.Code `json:"area"`
	Lead Handler     `json:"lead"`
	Co   []Handler   `json:"co,omitempty"`
}

// AssetRule sends cases about an asset — a road, a pipe segment, a bridge —
// to the body that owns it, wherever the case lies: ownership overrides
// area, so a trunk road's pothole near a district boundary still goes to
// the road's owner.
type AssetRule struct {
	ID    string    `json:"id"`
	Asset string    `json:"asset"`
	Lead  Handler   `json:"lead"`
	Co    []Handler `json:"co,omitempty"`
}

// Case is what routing needs to know of an incident.
type Case struct {
	ID       string        // the incident's ID, for the record
	Category string        // its category code
	Path     []region.Code // city … grid, as the incident's location path
	Asset    string        // the asset it concerns, if any
}

// unit returns the deepest unit of the case's path.
func (c *Case) unit() region.Code {
	if len(c.Path) == 0 {
		return ""
	}
	return c.Path[len(c.Path)-1]
}

// Assignment is one resolved branch: which body, through which handler.
type Assignment struct {
	Body     Body
	Handler  Handler
	Optional bool
}

// Decision is where a case goes and why.
type Decision struct {
	Case  Case
	Rule  *Rule      // the rule that won; nil when an asset rule decided
	Asset *AssetRule // the asset rule that decided, if any
	Lead  Assignment
	Co    []Assignment
	// others holds the other rules that matched the case, which the
	// winner is more specific than.
	others [maxMatches]*Rule
	nOther int
}

// maxMatches bounds how many rules can match one case: at most one per
// category pattern per area level, and load-time checks keep the set
// totally ordered.
const maxMatches = 32

// Others returns the rules that also matched and lost.
func (d *Decision) Others() []*Rule { return slices.Clone(d.others[:d.nOther]) }

// Explain says which rule decided and why each other matching rule did not.
func (d *Decision) Explain() string {
	var b strings.Builder
	if d.Asset != nil {
		fmt.Fprintf(&b, "asset %s is owned through rule %s: lead %s", d.Asset.Asset, d.Asset.ID, d.Lead.Body.ID)
	} else {
		fmt.Fprintf(&b, "rule %s (category %s in %s) matched category %s in %s: lead %s",
			d.Rule.ID, d.Rule.Category, d.Rule.Area, d.Case.Category, d.Case.unit(), d.Lead.Body.ID)
	}
	for _, a := range d.Co {
		fmt.Fprintf(&b, ", co %s", a.Body.ID)
	}
	if d.Asset != nil && d.nOther > 0 {
		b.WriteString("; area rules ignored because ownership overrides area:")
	}
	for _, o := range d.others[:d.nOther] {
		fmt.Fprintf(&b, "; %s (category %s in %s) lost: ", o.ID, o.Category, o.Area)
		switch {
		case d.Rule == nil:
			b.WriteString("the asset's owner decides")
		case catSpecificity(o.Category) < catSpecificity(d.Rule.Category) && len(o.Area.Prefix()) < len(d.Rule.Area.Prefix()):
			b.WriteString("broader category and broader area")
		case catSpecificity(o.Category) < catSpecificity(d.Rule.Category):
			b.WriteString("broader category")
		default:
			b.WriteString("broader area")
		}
	}
	return b.String()
}

// catSpecificity orders category patterns: "*" < "0*" < "01*" < "01".
func catSpecificity(pattern string) int {
	if pattern == "*" {
		return 0
	}
	if p, ok := strings.CutSuffix(pattern, "*"); ok {
		return 2 * len(p)
	}
	return 2*len(pattern) + 1
}

// ruleKey finds rules by category pattern (without its "*") and area
// prefix, both substrings of the case's own codes, so lookups allocate
// nothing.
type ruleKey struct {
	cat    string
	prefix bool // cat is a prefix pattern
	area   string
}

// Router routes cases by a validated rule set. It is immutable and safe for
// concurrent use; build a new one to change the rules.
type Router struct {
	org      *Org
	rules    []Rule
	assets   map[string]*AssetRule
	byKey    map[ruleKey]*Rule
	exact    map[string]bool // categories with exact rules
	prefixes map[string]bool // prefixes with prefix rules
	maxPre   int             // the longest prefix pattern
	wildcard bool            // some rule has category "*"
}

// NewRouter validates rules against org and builds a router. It rejects
// malformed rules, handlers naming unknown bodies, and ties: two rules that
// can match the same case where neither is more specific in both category
// and area, unless a third rule covers exactly their overlap. The error
// names the rules.
func NewRouter(org *Org, rules []Rule, assets []AssetRule) (*Router, error) {
	if org == nil {
		return nil, fmt.Errorf("%w: nil organisation", ErrInvalidRules)
	}
	r := &Router{
		org: org, rules: slices.Clone(rules), assets: map[string]*AssetRule{},
		byKey: map[ruleKey]*Rule{}, exact: map[string]bool{}, prefixes: map[string]bool{},
	}
	ids := map[string]bool{}
	for i := range r.rules {
		rule := &r.rules[i]
		rule.Co = slices.Clone(rule.Co)
		if err := r.checkRule(rule.ID, ids); err != nil {
			return nil, err
		}
		if err := checkPattern(rule.Category); err != nil {
			return nil, fmt.Errorf("%w: rule %s: %w", ErrInvalidRules, rule.ID, err)
		}
		if _, err := region.ParseCode(string(rule.Area)); err != nil {
			return nil, fmt.Errorf("%w: rule %s: area: %w", ErrInvalidRules, rule.ID, err)
		}
		if err := r.checkHandlers(rule.ID, rule.Lead, rule.Co); err != nil {
			return nil, err
		}
		k := keyOf(rule.Category, rule.Area)
		if other, dup := r.byKey[k]; dup {
			return nil, fmt.Errorf("%w: rules %s and %s both route category %s in %s", ErrInvalidRules, other.ID, rule.ID, rule.Category, rule.Area)
		}
		r.byKey[k] = rule
		switch {
		case rule.Category == "*":
			r.wildcard = true
		case k.prefix:
			r.prefixes[k.cat] = true
			r.maxPre = max(r.maxPre, len(k.cat))
		default:
			r.exact[k.cat] = true
		}
	}
	for i := range assets {
		a := assets[i]
		a.Co = slices.Clone(a.Co)
		if err := r.checkRule(a.ID, ids); err != nil {
			return nil, err
		}
		if strings.TrimSpace(a.Asset) == "" {
			return nil, fmt.Errorf("%w: asset rule %s: empty asset", ErrInvalidRules, a.ID)
		}
		if other, dup := r.assets[a.Asset]; dup {
			return nil, fmt.Errorf("%w: asset rules %s and %s both own asset %s", ErrInvalidRules, other.ID, a.ID, a.Asset)
		}
		if err := r.checkHandlers(a.ID, a.Lead, a.Co); err != nil {
			return nil, err
		}
		r.assets[a.Asset] = &a
	}
	if err := r.checkTies(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Router) checkRule(id string, ids map[string]bool) error {
	if !validToken(id) {
		return fmt.Errorf("%w: rule ID %q is not a token", ErrInvalidRules, id)
	}
	if ids[id] {
		return fmt.Errorf("%w: duplicate rule ID %s", ErrInvalidRules, id)
	}
	ids[id] = true
	return nil
}

func checkPattern(p string) error {
	if p == "*" {
		return nil
	}
	code := strings.TrimSuffix(p, "*")
	if !validToken(code) || strings.Contains(code, "*") {
		return fmt.Errorf("category %q must be a code, a code prefix followed by *, or *", p)
	}
	return nil
}

func (r *Router) checkHandlers(id string, lead Handler, co []Handler) error {
	all := append([]Handler{lead}, co...)
	for i, h := range all {
		what := "lead"
		if i > 0 {
			what = fmt.Sprintf("co[%d]", i-1)
		}
		switch {
		case h.Body != "" && (h.Function != "" || h.Tier != 0):
			return fmt.Errorf("%w: rule %s %s: name a body or a function at a tier, not both", ErrInvalidRules, id, what)
		case h.Body != "":
			if _, err := r.org.Body(h.Body); err != nil {
				return fmt.Errorf("%w: rule %s %s: %w", ErrInvalidRules, id, what, err)
			}
		case h.Function == "" || h.Tier < region.City || h.Tier > region.Grid:
			return fmt.Errorf("%w: rule %s %s: a handler needs a body, or a function and a tier", ErrInvalidRules, id, what)
		}
		if i == 0 && h.Optional {
			return fmt.Errorf("%w: rule %s: the lead cannot be optional", ErrInvalidRules, id)
		}
	}
	return nil
}

func keyOf(pattern string, area region.Code) ruleKey {
	if pattern == "*" {
		return ruleKey{cat: "", prefix: true, area: area.Prefix()}
	}
	if p, ok := strings.CutSuffix(pattern, "*"); ok {
		return ruleKey{cat: p, prefix: true, area: area.Prefix()}
	}
	return ruleKey{cat: pattern, area: area.Prefix()}
}

// checkTies finds pairs of rules that can match one case where each is
// more specific than the other in one dimension (category or area). Such a
// pair is fine only if a rule with the narrower category and the narrower
// area exists, covering the overlap.
func (r *Router) checkTies() error {
	// Rules by category key, areas sorted, to find rules inside an area.
	byCat := map[ruleKey][]*Rule{}
	for i := range r.rules {
		k := keyOf(r.rules[i].Category, r.rules[i].Area)
		k.area = ""
		byCat[k] = append(byCat[k], &r.rules[i])
	}
	for _, list := range byCat {
		sort.Slice(list, func(i, j int) bool { return list[i].Area.Prefix() < list[j].Area.Prefix() })
	}
	for i := range r.rules {
		narrow := &r.rules[i] // the rule with the narrower category
		nk := keyOf(narrow.Category, narrow.Area)
		area := narrow.Area.Prefix()
		for _, broad := range broaderPatterns(nk) {
			list := byCat[broad]
			start := sort.Search(len(list), func(j int) bool { return list[j].Area.Prefix() >= area })
			for _, other := range list[start:] {
				op := other.Area.Prefix()
				if !strings.HasPrefix(op, area) {
					break
				}
				if op == area {
					continue // same area: the narrower category wins
				}
				// other has a broader category but a narrower area.
				if _, ok := r.byKey[ruleKey{cat: nk.cat, prefix: nk.prefix, area: op}]; !ok {
					return fmt.Errorf("%w: rules %s (category %s in %s) and %s (category %s in %s) tie for category %s in %s: add a rule for that overlap",
						ErrInvalidRules, narrow.ID, narrow.Category, narrow.Area, other.ID, other.Category, other.Area, narrow.Category, other.Area)
				}
			}
		}
	}
	return nil
}

// broaderPatterns returns the category keys (without area) strictly less
// specific than k that match a superset of its categories: for the code
// "0102", the prefixes "0102*", "010*", "01*", "0*" and "*"; for the prefix
// "01*", "0*" and "*".
func broaderPatterns(k ruleKey) []ruleKey {
	if k.prefix && k.cat == "" {
		return nil // "*" is the broadest
	}
	longest := len(k.cat)
	if k.prefix {
		longest--
	}
	out := make([]ruleKey, 0, longest+1)
	for l := longest; l >= 1; l-- {
		out = append(out, ruleKey{cat: k.cat[:l], prefix: true})
	}
	return append(out, ruleKey{cat: "", prefix: true})
}

// Route decides who handles c. Asset ownership decides first; otherwise the
// most specific rule covering the case's category and unit. The decision
// resolves every handler to a body and records the rules that lost.
func (r *Router) Route(c Case) (Decision, error) {
	d := Decision{Case: c}
	unit := c.unit()
	if c.Category == "" || unit == "" {
		return d, fmt.Errorf("%w: a case needs a category and a path", ErrInvalidCase)
	}
	if c.Asset != "" {
		if a, ok := r.assets[c.Asset]; ok {
			d.Asset = a
			r.collect(&d, c.Category, string(unit))
			return d, r.resolve(&d, a.Lead, a.Co)
		}
	}
	r.collect(&d, c.Category, string(unit))
	if d.nOther == 0 {
		return d, fmt.Errorf("%w: no rule covers category %s in %s", ErrNoRoute, c.Category, unit)
	}
	// The winner dominates every other match in both dimensions; the
	// load-time tie check guarantees there is one.
	best := 0
	for i := 1; i < d.nOther; i++ {
		if dominates(d.others[i], d.others[best]) {
			best = i
		}
	}
	d.Rule = d.others[best]
	for i := 0; i < d.nOther; i++ {
		if i != best && !dominates(d.Rule, d.others[i]) {
			return d, fmt.Errorf("%w: rules %s and %s tie for category %s in %s", ErrInvalidRules, d.Rule.ID, d.others[i].ID, c.Category, unit)
		}
	}
	copy(d.others[best:], d.others[best+1:d.nOther])
	d.nOther--
	return d, r.resolve(&d, d.Rule.Lead, d.Rule.Co)
}

func dominates(a, b *Rule) bool {
	return catSpecificity(a.Category) >= catSpecificity(b.Category) && len(a.Area.Prefix()) >= len(b.Area.Prefix())
}

// collect gathers into d every rule matching category in unit: for each
// category pattern that exists, each area prefix of unit.
func (r *Router) collect(d *Decision, category, unit string) {
	add := func(cat string, prefix bool) {
		for _, l := range [...]int{15, 12, 9, 6, 4, 2} {
			if l > len(unit) {
				continue
			}
			if rule, ok := r.byKey[ruleKey{cat: cat, prefix: prefix, area: unit[:l]}]; ok && d.nOther < maxMatches {
				d.others[d.nOther] = rule
				d.nOther++
			}
		}
	}
	if r.exact[category] {
		add(category, false)
	}
	for l := min(len(category), r.maxPre); l >= 1; l-- {
		if r.prefixes[category[:l]] {
			add(category[:l], true)
		}
	}
	if r.wildcard {
		add("", true)
	}
}

// resolve turns handlers into bodies for the case's place.
func (r *Router) resolve(d *Decision, lead Handler, co []Handler) error {
	var err error
	if d.Lead, err = r.assign(&d.Case, lead); err != nil {
		return err
	}
	if len(co) > 0 {
		d.Co = make([]Assignment, len(co))
		for i, h := range co {
			if d.Co[i], err = r.assign(&d.Case, h); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *Router) assign(c *Case, h Handler) (Assignment, error) {
	if h.Body != "" {
		return Assignment{Body: *r.org.bodies[h.Body], Handler: h, Optional: h.Optional}, nil
	}
	for _, u := range c.Path {
		if u.Level() == h.Tier {
			if b, ok := r.org.byFunction[funcKey{h.Function, u}]; ok {
				return Assignment{Body: *b, Handler: h, Optional: h.Optional}, nil
			}
			break
		}
	}
	return Assignment{}, fmt.Errorf("%w: no body serves %s for the case's %s in %s", ErrUnresolved, h.Function, h.Tier, c.unit())
}

// Rules returns a copy of the router's rules.
func (r *Router) Rules() []Rule { return slices.Clone(r.rules) }
