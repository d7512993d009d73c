package risk

import (
	"fmt"
	"slices"
	"strings"

	"github.com/cockroachdb/apd/v3"
)

// Substance is a hazardous chemical as GB 18218 lists it: its critical
// quantity Q (临界量, tonnes) and correction factor β (校正系数).
type Substance struct {
	Name     string      // e.g. "汽油"
	CAS      string      // e.g. "86290-81-5"; optional
	Critical apd.Decimal // Q, tonnes, > 0
	Beta     apd.Decimal // β, > 0
	// Basis says where Q and β come from, e.g. "GB 18218-2018 表1; β 表4 W2".
	Basis string
}

// Holding is a quantity of one substance present in a unit.
type Holding struct {
	Substance string      // a Substance's Name or CAS
	Quantity  apd.Decimal // q, tonnes, ≥ 0: the maximum that may be present (在线量)
}

// AlphaStep is one row of the exposure table: α applies when at least
// MinPeople live within 500 m.
type AlphaStep struct {
	MinPeople int
	Alpha     apd.Decimal
}

// RValueConfig configures the GB 18218 method.
type RValueConfig struct {
	Name       string      // default "gb18218"
	Substances []Substance // default DefaultSubstances()
	Alpha      []AlphaStep // default StandardAlpha(), highest MinPeople first
}

// RValue is the GB 18218-2018 major-hazard grading (危险化学品重大危险源
// 辨识, section 4.2 and Annex): R = α·Σ βᵢ·qᵢ/Qᵢ.
//
// A unit is a major hazard source when Σ qᵢ/Qᵢ ≥ 1 (section 4.1.2). Its
// grade follows Table 6: R ≥ 100 grade 1, 50 ≤ R < 100 grade 2,
// 10 ≤ R < 50 grade 3, R < 10 grade 4; the grades map to red, orange,
// yellow and blue. A unit below the threshold is not graded (Grade 0) and
// is blue, with a note in the derivation.
type RValue struct {
	name  string
	subs  []Substance
	index map[string]int // name or CAS → subs
	alpha []AlphaStep
}

// StandardAlpha is GB 18218-2018 Table 5 (暴露人员校正系数α取值表), by the
// number of people who may be exposed outside the site, counted within
// 500 m of its boundary: 100 or more 2.0; 50–99 1.5; 30–49 1.2; 1–29 1.0;
// none 0.5.
func StandardAlpha() []AlphaStep {
	return []AlphaStep{
		{MinPeople: 100, Alpha: MustDecimal("2.0")},
		{MinPeople: 50, Alpha: MustDecimal("1.5")},
		{MinPeople: 30, Alpha: MustDecimal("1.2")},
		{MinPeople: 1, Alpha: MustDecimal("1.0")},
		{MinPeople: 0, Alpha: MustDecimal("0.5")},
	}
}

// DefaultSubstances returns common substances with their critical
// quantities from GB 18218-2018 Table 1 (危险化学品名称及其临界量) and β
// from Table 3 (毒性气体校正系数: NH₃ 2, CO 2, SO₂ 2, C₂H₄O 2, HCl 3,
// Cl₂ 4, H₂S 5, HF 5, HCN 10, COCl₂ 20) or, for the rest, Table 4 by hazard
// class (flammable gas W2: 1.5; flammable liquid W5.3/W5.4, categories 2
// and 3 in ordinary conditions: 1). β for a flammable liquid depends on
// its class and process conditions (W5.1 — category 1, or categories 2 and
// 3 above their boiling point — is 1.5): give a site's own Substance when
// its classification differs. The values were transcribed from the
// standard's text; check them against the edition your regulator applies.
func DefaultSubstances() []Substance {
	s := func(name, cas, q, beta, basis string) Substance {
		return Substance{Name: name, CAS: cas, Critical: MustDecimal(q), Beta: MustDecimal(beta), Basis: basis}
	}
	return []Substance{
		s("液化石油气", "68476-85-7", "50", "1.5", "GB 18218-2018 表1; β 表4 W2 易燃气体"),
		s("甲烷", "74-82-8", "50", "1.5", "GB 18218-2018 表1 (甲烷，天然气); β 表4 W2"),
		s("氢", "1333-74-0", "5", "1.5", "GB 18218-2018 表1; β 表4 W2"),
		s("汽油", "86290-81-5", "200", "1", "GB 18218-2018 表1; β 表4 W5.3 (易燃液体类别2)"),
		s("柴油", "", "5000", "1", "GB 18218-2018 表1 柴油[闭杯闪点≤60℃]; β 表4 W5.4"),
		s("甲醇", "67-56-1", "500", "1", "GB 18218-2018 表1; β 表4 W5.3"),
		s("苯", "71-43-2", "50", "1", "GB 18218-2018 表1; β 表4 W5.3"),
		s("氨", "7664-41-7", "10", "2", "GB 18218-2018 表1; β 表3"),
		s("氯", "7782-50-5", "5", "4", "GB 18218-2018 表1; β 表3"),
		s("硫化氢", "7783-06-4", "5", "5", "GB 18218-2018 表1; β 表3"),
		s("一氧化碳", "630-08-0", "10", "2", "GB 18218-2018 表1; β 表3"),
		s("二氧化硫", "7446-09-5", "20", "2", "GB 18218-2018 表1; β 表3"),
		s("氯化氢", "7647-01-0", "20", "3", "GB 18218-2018 表1 氯化氢(无水); β 表3"),
		s("环氧乙烷", "75-21-8", "10", "2", "GB 18218-2018 表1; β 表3"),
		s("氟化氢", "7664-39-3", "1", "5", "GB 18218-2018 表1; β 表3"),
		s("氰化氢", "74-90-8", "1", "10", "GB 18218-2018 表1; β 表3"),
		s("光气", "75-44-5", "0.3", "20", "GB 18218-2018 表1; β 表3 碳酰氯"),
	}
}

// StandardRValue returns the method with DefaultSubstances and
// StandardAlpha.
func StandardRValue() *RValue {
	m, err := NewRValue(RValueConfig{})
	if err != nil {
		panic(err)
	}
	return m
}

// NewRValue validates cfg and returns the method: substances need a name,
// Q > 0 and β > 0, unique names and CAS numbers; the α table needs
// strictly decreasing MinPeople ending at 0 and positive α.
func NewRValue(cfg RValueConfig) (*RValue, error) {
	if cfg.Name == "" {
		cfg.Name = "gb18218"
	}
	if cfg.Substances == nil {
		cfg.Substances = DefaultSubstances()
	}
	if cfg.Alpha == nil {
		cfg.Alpha = StandardAlpha()
	}
	m := &RValue{name: cfg.Name, index: map[string]int{}}
	for i, s := range cfg.Substances {
		field := fmt.Sprintf("substances[%d]", i)
		switch {
		case strings.TrimSpace(s.Name) == "":
			return nil, missing(field+".name", "a substance needs a name")
		case s.Critical.Form != apd.Finite || s.Critical.Sign() <= 0:
			return nil, invalid(field+".critical", "%s: the critical quantity must be positive", s.Name)
		case s.Beta.Form != apd.Finite || s.Beta.Sign() <= 0:
			return nil, invalid(field+".beta", "%s: β must be positive", s.Name)
		}
		for _, key := range []string{s.Name, s.CAS} {
			if key == "" {
				continue
			}
			if _, dup := m.index[key]; dup {
				return nil, invalid(field, "%q is listed twice", key)
			}
			m.index[key] = len(m.subs)
		}
		m.subs = append(m.subs, Substance{Name: s.Name, CAS: s.CAS, Critical: cloneDecimal(s.Critical), Beta: cloneDecimal(s.Beta), Basis: s.Basis})
	}
	if len(cfg.Alpha) == 0 || cfg.Alpha[len(cfg.Alpha)-1].MinPeople != 0 {
		return nil, invalid("alpha", "the α table must end with the row for 0 people")
	}
	for i, st := range cfg.Alpha {
		if i > 0 && st.MinPeople >= cfg.Alpha[i-1].MinPeople {
			return nil, invalid(fmt.Sprintf("alpha[%d]", i), "list rows by decreasing MinPeople")
		}
		if st.Alpha.Form != apd.Finite || st.Alpha.Sign() <= 0 {
			return nil, invalid(fmt.Sprintf("alpha[%d]", i), "α must be positive")
		}
		m.alpha = append(m.alpha, AlphaStep{MinPeople: st.MinPeople, Alpha: cloneDecimal(st.Alpha)})
	}
	return m, nil
}

// Name returns the registered name ("gb18218" by default).
func (m *RValue) Name() string { return m.name }

// Substance returns the substance named by name or CAS number.
func (m *RValue) Substance(key string) (Substance, bool) {
	i, ok := m.index[key]
	if !ok {
		return Substance{}, false
	}
	s := m.subs[i]
	s.Critical, s.Beta = cloneDecimal(s.Critical), cloneDecimal(s.Beta)
	return s, true
}

// Alpha returns α for n exposed people.
func (m *RValue) Alpha(n int) apd.Decimal {
	for _, st := range m.alpha {
		if n >= st.MinPeople {
			return cloneDecimal(st.Alpha)
		}
	}
	return cloneDecimal(m.alpha[len(m.alpha)-1].Alpha)
}

// gradeBands is GB 18218-2018 Table 6 (重大危险源级别和R值的对应关系).
func gradeBands() Bands {
	return Bands{
		{Colour: Red, Min: dec(100), Label: "一级重大危险源"},
		{Colour: Orange, Min: dec(50), Label: "二级重大危险源"},
		{Colour: Yellow, Min: dec(10), Label: "三级重大危险源"},
		{Colour: Blue, Min: dec(0), Label: "四级重大危险源"},
	}
}

// Assess computes R from in.Holdings and in.Exposed. Holdings of the same
// substance are added up, as the standard counts each substance once per
// unit.
func (m *RValue) Assess(in Inputs) (Result, error) {
	if len(in.Holdings) == 0 {
		return Result{}, missing("holdings", "GB 18218 needs the quantities of hazardous chemicals held")
	}
	if in.Exposed == nil {
		return Result{}, missing("exposed", "GB 18218 needs the number of people within 500 m (α)")
	}
	if *in.Exposed < 0 {
		return Result{}, invalid("exposed", "%d people", *in.Exposed)
	}
	// Aggregate by substance, in the order first seen.
	type agg struct {
		sub Substance
		q   apd.Decimal
	}
	var order []*agg
	bySub := map[int]*agg{}
	var a arith
	for i, h := range in.Holdings {
		idx, ok := m.index[h.Substance]
		if !ok {
			return Result{}, &InputError{Field: fmt.Sprintf("holdings[%d].substance", i), Reason: fmt.Sprintf("%q is not in the substance table", h.Substance), Err: ErrUnknownSubstance}
		}
		if h.Quantity.Form != apd.Finite || h.Quantity.Sign() < 0 {
			return Result{}, invalid(fmt.Sprintf("holdings[%d].quantity", i), "%s: the quantity must be zero or more tonnes", h.Substance)
		}
		if g := bySub[idx]; g != nil {
			g.q = a.add(&g.q, &h.Quantity)
			continue
		}
		g := &agg{sub: m.subs[idx], q: cloneDecimal(h.Quantity)}
		bySub[idx] = g
		order = append(order, g)
	}
	alpha := m.Alpha(*in.Exposed)
	d := Derivation{Method: m.name}
	d.Inputs = append(d.Inputs, Term{Name: "exposed", Value: fmt.Sprint(*in.Exposed), Meaning: "people within 500 m of the boundary (厂外暴露人员)"},
		Term{Name: "α", Value: text(&alpha), Meaning: "GB 18218-2018 表5"})
	var sumRatio, sumWeighted apd.Decimal
	var parts, nums []string
	for _, g := range order {
		ratio := a.quo(&g.q, &g.sub.Critical)
		w := a.mul(&g.sub.Beta, &ratio)
		sumRatio = a.add(&sumRatio, &ratio)
		sumWeighted = a.add(&sumWeighted, &w)
		d.Inputs = append(d.Inputs,
			Term{Name: "q(" + g.sub.Name + ")", Value: text(&g.q), Meaning: "tonnes present"},
			Term{Name: "Q(" + g.sub.Name + ")", Value: text(&g.sub.Critical), Meaning: "critical quantity, " + g.sub.Basis},
			Term{Name: "β(" + g.sub.Name + ")", Value: text(&g.sub.Beta), Meaning: "correction factor"})
		parts = append(parts, fmt.Sprintf("%s×%s/%s", text(&g.sub.Beta), text(&g.q), text(&g.sub.Critical)))
		nums = append(nums, text(&w))
	}
	r := a.mul(&alpha, &sumWeighted)
	if a.err != nil {
		return Result{}, &InputError{Field: "holdings", Reason: "arithmetic", Err: a.err}
	}
	d.Formula = fmt.Sprintf("R = α·Σβᵢqᵢ/Qᵢ = %s × (%s) = %s × (%s) = %s",
		text(&alpha), strings.Join(parts, " + "), text(&alpha), strings.Join(nums, " + "), text(&r))
	d.Score = text(&r)
	d.Notes = append(d.Notes, fmt.Sprintf("Σqᵢ/Qᵢ = %s", text(&sumRatio)))
	one := dec(1)
	if sumRatio.Cmp(&one) < 0 {
		d.Notes = append(d.Notes, "Σqᵢ/Qᵢ < 1: not a major hazard source (GB 18218-2018 4.1.2), not graded")
		gradeBands().classify(&r, "R", &d) // records the thresholds
		d.Band = fmt.Sprintf("Σqᵢ/Qᵢ = %s < 1 → blue (%s)", text(&sumRatio), Blue.Label())
		return Result{Method: m.name, Colour: Blue, Score: r, Derivation: d}, nil
	}
	bands := gradeBands()
	band := bands.classify(&r, "R", &d)
	grade := slices.IndexFunc(bands, func(b Band) bool { return b.Colour == band.Colour }) + 1
	d.Notes = append(d.Notes, fmt.Sprintf("grade %d (%s)", grade, band.Label))
	return Result{Method: m.name, Colour: band.Colour, Score: r, Grade: grade, Derivation: d}, nil
}
