package permit

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/cockroachdb/apd/v3"

	"github.com/govkit/govkit/region"
)

// Template is a versioned "one thing" bundle: the items of several
// departments that a citizen or enterprise sees as one application, such
// as the newborn bundle (birth-service certificate, household
// registration, medical insurance, social-security card, vaccination
// record).
//
// Items form a graph through their outputs: an item that Needs another's
// output waits for it, items that need nothing of each other run in
// parallel, and an output is never asked of the applicant (no field may
// carry an output's ID). The form is the de-duplicated union of the items'
// fields, drawn from the template's canonical Fields, so a value that
// several departments need is entered once. A published version never
// changes; applications keep the version they started with.
type Template struct {
	ID           string      `json:"id"`      // a lower-case token, e.g. "newborn"
	Version      int         `json:"version"` // 1, 2, …: each publication adds one
	Name         string      `json:"name"`
	Jurisdiction region.Code `json:"jurisdiction"` // where it is offered
	// Owner is the department that coordinates the bundle (a government
	// service centre); overdue items escalate to it after their own
	// department.
	Owner     string         `json:"owner"`
	Fields    []Field        `json:"fields"`    // the canonical fields the items draw on
	Documents []DocumentSpec `json:"documents"` // the canonical evidence the items draw on
	Items     []Item         `json:"items"`
	// SLA is the promise for the whole bundle, from submission, on the
	// business calendar; zero makes none (Track still computes the
	// expected finish from the items').
	SLA WorkingTime `json:"sla,omitzero"`
	// Proxies lists the relationships that may apply for someone else
	// (a relative for a person with a disability): "parent", "spouse",
	// "guardian". Empty: everybody applies for themselves.
	Proxies []string `json:"proxies,omitempty"`
}

// Field is a canonical field: one question, asked once however many items
// need the answer.
type Field struct {
	ID       string    `json:"id"` // e.g. "mother.id-number"
	Label    string    `json:"label"`
	Kind     FieldKind `json:"kind"`
	Choices  []Choice  `json:"choices,omitempty"` // for ChoiceField and MultiChoiceField
	Optional bool      `json:"optional,omitempty"`
	MaxLen   int       `json:"max_len,omitempty"` // text fields; 0 means 200 runes
	// Source names the registry that may prefill the field (a key of
	// Config.Lookups), used only with the applicant's consent.
	Source string `json:"source,omitempty"`
}

// Choice is one offered answer of a choice field.
type Choice struct {
	Value string `json:"value"`
	Label string `json:"label"`
}

func (f *Field) hasChoice(v string) bool {
	return slices.ContainsFunc(f.Choices, func(c Choice) bool { return c.Value == v })
}

// DocumentSpec is a canonical piece of evidence.
type DocumentSpec struct {
	ID       string `json:"id"` // e.g. "birth-medical-certificate"
	Name     string `json:"name"`
	Optional bool   `json:"optional,omitempty"`
}

// Item is one department's part of a bundle.
type Item struct {
	ID         string   `json:"id"` // e.g. "hukou"
	Name       string   `json:"name"`
	Department string   `json:"department"` // the department that reviews it
	Fields     []string `json:"fields"`     // IDs of the template's Fields it needs
	Documents  []string `json:"documents"`  // IDs of the template's Documents it needs
	// Needs lists outputs of other items this item takes as input: it
	// waits until their items are approved.
	Needs   []string    `json:"needs,omitempty"`
	Outputs []Output    `json:"outputs,omitempty"`
	SLA     WorkingTime `json:"sla"`
	// Joint names a joint review: related items with the same Joint are
	// reviewed once, together, with a merged checklist and one merged
	// request for corrections.
	Joint     string  `json:"joint,omitempty"`
	Checklist []Check `json:"checklist,omitempty"`
	// Optional items may be refused without refusing the bundle. No
	// required item may need an optional item's output.
	Optional bool `json:"optional,omitempty"`
	// Fee is what the item costs the applicant, in yuan, as an exact
	// decimal; nil when it is free.
	Fee *apd.Decimal `json:"fee,omitempty"`
}

// Output is what an item produces when approved: a certificate number, a
// registration, an electronic licence. Its value is given by the reviewer
// on approval, fed to the items that need it, and issued with the others
// when the bundle completes.
type Output struct {
	ID   string    `json:"id"`
	Name string    `json:"name"`
	Kind FieldKind `json:"kind"` // 0 means TextField; personal kinds are masked in events
}

// Check is one line of a review checklist. Lines with the same ID in the
// items of a joint review are one line of the merged checklist.
type Check struct {
	ID   string `json:"id"`
	Text string `json:"text"`
}

// Clone returns a deep copy of t.
func (t Template) Clone() Template {
	t.Fields = cloneSlice(t.Fields, func(f Field) Field { f.Choices = slices.Clone(f.Choices); return f })
	t.Documents = slices.Clone(t.Documents)
	t.Items = cloneSlice(t.Items, func(it Item) Item {
		it.Fields = slices.Clone(it.Fields)
		it.Documents = slices.Clone(it.Documents)
		it.Needs = slices.Clone(it.Needs)
		it.Outputs = slices.Clone(it.Outputs)
		it.Checklist = slices.Clone(it.Checklist)
		if it.Fee != nil {
			it.Fee = new(apd.Decimal).Set(it.Fee)
		}
		return it
	})
	t.Proxies = slices.Clone(t.Proxies)
	return t
}

func cloneSlice[T any](s []T, f func(T) T) []T {
	if s == nil {
		return nil
	}
	out := make([]T, len(s))
	for i, x := range s {
		out[i] = f(x)
	}
	return out
}

// Validate checks t: identifiers, references between items, fields,
// documents and outputs, SLAs, joint reviews, and that the items' needs
// form no cycle. The error is a *TemplateError naming the first problem.
func (t Template) Validate() error {
	_, err := compile(t)
	return err
}

// Stages returns the items' IDs in dependency stages: the first stage needs
// nothing, each later stage needs outputs of earlier ones. Items of one
// stage run in parallel. It returns a *TemplateError for an invalid t.
func (t Template) Stages() ([][]string, error) {
	c, err := compile(t)
	if err != nil {
		return nil, err
	}
	var out [][]string
	for i, it := range t.Items {
		d := c.depth[i]
		for len(out) <= d {
			out = append(out, nil)
		}
		out[d] = append(out[d], it.ID)
	}
	return out, nil
}

// compiled is a validated template with its graph worked out.
type compiled struct {
	t        Template
	item     map[string]int   // item ID → index
	field    map[string]int   // field ID → index
	doc      map[string]int   // document ID → index
	producer map[string]int   // output ID → index of the item producing it
	output   map[string]int   // output ID → index within its item's Outputs
	depth    []int            // dependency stage of each item
	order    []int            // items in dependency order
	joints   map[string][]int // joint name → member items, in template order
	fieldsOf map[string][]int // field ID → items needing it
	docsOf   map[string][]int // document ID → items needing it
	form     []string         // field IDs in form order
	forms    []string         // document IDs in form order
}

func validToken(s string, dots bool) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
		case c == '.' && dots:
		default:
			return false
		}
	}
	return true
}

func validText(s string, max int) bool {
	return strings.TrimSpace(s) != "" && len(s) <= max && !strings.ContainsFunc(s, func(r rune) bool { return r < ' ' })
}

// compile validates t and works out its graph.
func compile(t Template) (*compiled, error) {
	bad := func(path, format string, args ...any) error {
		return &TemplateError{Template: t.ID, Path: path, Reason: fmt.Sprintf(format, args...)}
	}
	switch {
	case !validToken(t.ID, false):
		return nil, bad("id", "must be a lower-case token of at most 64 letters, digits, '-' and '_'")
	case t.Version < 1:
		return nil, bad("version", "must be 1 or more")
	case !validText(t.Name, 256):
		return nil, bad("name", "required, at most 256 bytes, no control characters")
	case t.Owner == "" || !validToken(t.Owner, true):
		return nil, bad("owner", "the coordinating department is required, as a token")
	}
	if _, err := region.ParseCode(string(t.Jurisdiction)); err != nil {
		return nil, bad("jurisdiction", "%v", err)
	}
	if p := t.SLA.problem(); p != "" {
		return nil, bad("sla", "%s", p)
	}
	c := &compiled{
		t: t, item: map[string]int{}, field: map[string]int{}, doc: map[string]int{}, producer: map[string]int{},
		output: map[string]int{}, joints: map[string][]int{}, fieldsOf: map[string][]int{}, docsOf: map[string][]int{},
	}
	for i, f := range t.Fields {
		path := fmt.Sprintf("fields[%d]", i)
		switch {
		case !validToken(f.ID, true):
			return nil, bad(path+".id", "must be a lower-case token (dots allowed)")
		case !validText(f.Label, 256):
			return nil, bad(path+".label", "required, at most 256 bytes")
		case !f.Kind.valid():
			return nil, bad(path+".kind", "unknown kind %d", f.Kind)
		case f.MaxLen < 0 || f.MaxLen > 4000:
			return nil, bad(path+".max_len", "must be within 0–4000")
		case f.MaxLen != 0 && f.Kind != TextField:
			return nil, bad(path+".max_len", "only text fields have a length limit")
		case f.Source != "" && !validToken(f.Source, true):
			return nil, bad(path+".source", "must be a token naming a lookup")
		}
		if _, dup := c.field[f.ID]; dup {
			return nil, bad(path+".id", "duplicate field %q", f.ID)
		}
		c.field[f.ID] = i
		choice := f.Kind == ChoiceField || f.Kind == MultiChoiceField
		if choice && len(f.Choices) == 0 {
			return nil, bad(path+".choices", "a %s field needs choices", f.Kind)
		}
		if !choice && len(f.Choices) > 0 {
			return nil, bad(path+".choices", "only choice fields have choices")
		}
		seen := map[string]bool{}
		for j, ch := range f.Choices {
			if !validText(ch.Value, 128) || !validText(ch.Label, 256) || seen[ch.Value] {
				return nil, bad(fmt.Sprintf("%s.choices[%d]", path, j), "needs a unique value and a label")
			}
			seen[ch.Value] = true
		}
	}
	for i, d := range t.Documents {
		path := fmt.Sprintf("documents[%d]", i)
		switch {
		case !validToken(d.ID, true):
			return nil, bad(path+".id", "must be a lower-case token")
		case !validText(d.Name, 256):
			return nil, bad(path+".name", "required, at most 256 bytes")
		}
		if _, dup := c.doc[d.ID]; dup {
			return nil, bad(path+".id", "duplicate document %q", d.ID)
		}
		c.doc[d.ID] = i
	}
	if len(t.Items) == 0 {
		return nil, bad("items", "a bundle needs at least one item")
	}
	if len(t.Items) > 64 {
		return nil, bad("items", "more than 64 items")
	}
	for i, it := range t.Items {
		path := fmt.Sprintf("items[%d]", i)
		switch {
		case !validToken(it.ID, false):
			return nil, bad(path+".id", "must be a lower-case token")
		case !validText(it.Name, 256):
			return nil, bad(path+".name", "required, at most 256 bytes")
		case !validToken(it.Department, true):
			return nil, bad(path+".department", "the owning department is required, as a token")
		case it.Joint != "" && !validToken(it.Joint, true):
			return nil, bad(path+".joint", "must be a token")
		case it.SLA.IsZero():
			return nil, bad(path+".sla", "every item needs an SLA")
		}
		if p := it.SLA.problem(); p != "" {
			return nil, bad(path+".sla", "%s", p)
		}
		if it.Fee != nil && (it.Fee.Form != apd.Finite || it.Fee.Negative) {
			return nil, bad(path+".fee", "must be a finite amount of at least zero")
		}
		if _, dup := c.item[it.ID]; dup {
			return nil, bad(path+".id", "duplicate item %q", it.ID)
		}
		c.item[it.ID] = i
		seen := map[string]bool{}
		for j, f := range it.Fields {
			if _, ok := c.field[f]; !ok {
				return nil, bad(fmt.Sprintf("%s.fields[%d]", path, j), "unknown field %q", f)
			}
			if seen[f] {
				return nil, bad(fmt.Sprintf("%s.fields[%d]", path, j), "field %q listed twice", f)
			}
			seen[f] = true
			c.fieldsOf[f] = append(c.fieldsOf[f], i)
		}
		seen = map[string]bool{}
		for j, d := range it.Documents {
			if _, ok := c.doc[d]; !ok {
				return nil, bad(fmt.Sprintf("%s.documents[%d]", path, j), "unknown document %q", d)
			}
			if seen[d] {
				return nil, bad(fmt.Sprintf("%s.documents[%d]", path, j), "document %q listed twice", d)
			}
			seen[d] = true
			c.docsOf[d] = append(c.docsOf[d], i)
		}
		for j, o := range it.Outputs {
			op := fmt.Sprintf("%s.outputs[%d]", path, j)
			switch {
			case !validToken(o.ID, true):
				return nil, bad(op+".id", "must be a lower-case token")
			case !validText(o.Name, 256):
				return nil, bad(op+".name", "required")
			case o.Kind != 0 && !o.Kind.valid():
				return nil, bad(op+".kind", "unknown kind %d", o.Kind)
			case o.Kind == ChoiceField || o.Kind == MultiChoiceField:
				return nil, bad(op+".kind", "an output cannot be a choice")
			}
			if _, dup := c.producer[o.ID]; dup {
				return nil, bad(op+".id", "output %q produced twice", o.ID)
			}
			if _, isField := c.field[o.ID]; isField {
				return nil, bad(op+".id", "output %q is also a field: an output is never asked of the applicant", o.ID)
			}
			c.producer[o.ID] = i
			c.output[o.ID] = j
		}
		seen = map[string]bool{}
		for j, ch := range it.Checklist {
			if !validToken(ch.ID, true) || !validText(ch.Text, 512) || seen[ch.ID] {
				return nil, bad(fmt.Sprintf("%s.checklist[%d]", path, j), "needs a unique token ID and a text")
			}
			seen[ch.ID] = true
		}
		if it.Joint != "" {
			c.joints[it.Joint] = append(c.joints[it.Joint], i)
		}
	}
	for f := range c.field {
		if len(c.fieldsOf[f]) == 0 {
			return nil, bad(fmt.Sprintf("fields[%d]", c.field[f]), "field %q is needed by no item", f)
		}
	}
	for d := range c.doc {
		if len(c.docsOf[d]) == 0 {
			return nil, bad(fmt.Sprintf("documents[%d]", c.doc[d]), "document %q is needed by no item", d)
		}
	}
	// Needs: each is another item's output; a required item never waits on
	// an optional one.
	for i, it := range t.Items {
		seen := map[string]bool{}
		for j, n := range it.Needs {
			np := fmt.Sprintf("items[%d].needs[%d]", i, j)
			p, ok := c.producer[n]
			switch {
			case !ok:
				return nil, bad(np, "no item produces %q", n)
			case p == i:
				return nil, bad(np, "item %q needs its own output %q", it.ID, n)
			case seen[n]:
				return nil, bad(np, "output %q needed twice", n)
			case !it.Optional && t.Items[p].Optional:
				return nil, bad(np, "required item %q needs %q of optional item %q", it.ID, n, t.Items[p].ID)
			}
			seen[n] = true
		}
	}
	if err := c.order_(bad); err != nil {
		return nil, err
	}
	for name, members := range c.joints {
		if len(members) < 2 {
			return nil, bad(fmt.Sprintf("items[%d].joint", members[0]), "joint review %q has only one item", name)
		}
		for _, a := range members {
			for _, b := range members {
				if a != b && c.dependsOn(a, b) {
					return nil, bad(fmt.Sprintf("items[%d].joint", a), "item %q of joint review %q needs an output of %q in the same review",
						t.Items[a].ID, name, t.Items[b].ID)
				}
			}
		}
	}
	seenP := map[string]bool{}
	for i, p := range t.Proxies {
		if !validToken(p, false) || seenP[p] {
			return nil, bad(fmt.Sprintf("proxies[%d]", i), "must be a unique lower-case token")
		}
		seenP[p] = true
	}
	// The form: fields and documents in the order the items ask for them,
	// items taken in dependency order.
	seenF, seenD := map[string]bool{}, map[string]bool{}
	for _, i := range c.order {
		for _, f := range t.Items[i].Fields {
			if !seenF[f] {
				seenF[f] = true
				c.form = append(c.form, f)
			}
		}
		for _, d := range t.Items[i].Documents {
			if !seenD[d] {
				seenD[d] = true
				c.forms = append(c.forms, d)
			}
		}
	}
	return c, nil
}

// order_ sorts the items topologically (Kahn), stable in template order,
// and fails on a cycle, naming it.
func (c *compiled) order_(bad func(path, format string, args ...any) error) error {
	t := c.t
	n := len(t.Items)
	indeg := make([]int, n)
	next := make([][]int, n)
	for i, it := range t.Items {
		for _, need := range it.Needs {
			p := c.producer[need]
			next[p] = append(next[p], i)
			indeg[i]++
		}
	}
	c.depth = make([]int, n)
	var ready []int
	for i := range n {
		if indeg[i] == 0 {
			ready = append(ready, i)
		}
	}
	for len(ready) > 0 {
		slices.Sort(ready)
		i := ready[0]
		ready = ready[1:]
		c.order = append(c.order, i)
		for _, j := range next[i] {
			c.depth[j] = max(c.depth[j], c.depth[i]+1)
			if indeg[j]--; indeg[j] == 0 {
				ready = append(ready, j)
			}
		}
	}
	if len(c.order) == n {
		// Stage by stage, template order within a stage.
		slices.SortStableFunc(c.order, func(a, b int) int { return cmp.Or(cmp.Compare(c.depth[a], c.depth[b]), cmp.Compare(a, b)) })
		return nil
	}
	// Name one cycle: walk needs from an unsorted item until one repeats.
	done := map[int]bool{}
	for _, i := range c.order {
		done[i] = true
	}
	start := 0
	for done[start] {
		start++
	}
	var path []string
	at := map[int]int{}
	for i := start; ; {
		if k, ok := at[i]; ok {
			cycle := append(path[k:], t.Items[i].ID)
			return bad(fmt.Sprintf("items[%d].needs", i), "cycle: %s", strings.Join(cycle, " needs "))
		}
		at[i] = len(path)
		path = append(path, t.Items[i].ID)
		for _, need := range t.Items[i].Needs {
			if p := c.producer[need]; !done[p] {
				i = p
				break
			}
		}
	}
}

// dependsOn reports whether item a needs, directly or through others, an
// output of item b.
func (c *compiled) dependsOn(a, b int) bool {
	seen := map[int]bool{}
	var walk func(i int) bool
	walk = func(i int) bool {
		for _, need := range c.t.Items[i].Needs {
			p := c.producer[need]
			if p == b {
				return true
			}
			if !seen[p] {
				seen[p] = true
				if walk(p) {
					return true
				}
			}
		}
		return false
	}
	return walk(a)
}

// fieldSpec returns the field with id.
func (c *compiled) fieldSpec(id string) (*Field, bool) {
	i, ok := c.field[id]
	if !ok {
		return nil, false
	}
	return &c.t.Fields[i], true
}

// outputSpec returns the output with id, as a field for validation.
func (c *compiled) outputSpec(id string) (*Field, bool) {
	p, ok := c.producer[id]
	if !ok {
		return nil, false
	}
	o := c.t.Items[p].Outputs[c.output[id]]
	k := o.Kind
	if k == 0 {
		k = TextField
	}
	return &Field{ID: o.ID, Label: o.Name, Kind: k, MaxLen: 1000}, true
}

// documentRequired reports whether a document must be attached before the
// application may enter review.
func (c *compiled) documentRequired(id string) bool {
	return !c.t.Documents[c.doc[id]].Optional
}

// Form returns the template's form: every field once, with the items that
// need it, in the order the items ask; then every document once.
func (t Template) Form() ([]FormField, []FormDocument, error) {
	c, err := compile(t)
	if err != nil {
		return nil, nil, err
	}
	fs, ds := c.formOf(nil)
	return fs, ds, nil
}
