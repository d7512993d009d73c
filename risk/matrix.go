package risk

import (
	"fmt"
	"strconv"

	"github.com/cockroachdb/apd/v3"
)

// MatrixConfig describes a likelihood × consequence matrix (IEC 31010,
// GB/T 27921 风险矩阵): rows are likelihood levels 1…Likelihoods, columns
// consequence levels 1…Consequences, and each cell's colour comes either
// from Cells or from the Bands its product L×C falls in.
type MatrixConfig struct {
	Name         string // default "matrix"
	Likelihoods  int    // rows, 2–10; default 5
	Consequences int    // columns, 2–10; default 5
	// Bands colour the product L×C, highest first. Required unless Cells
	// is given or the matrix is 5×5, whose default is the common Chinese
	// banding: 20–25 red, 15–16 orange, 9–12 yellow, 1–8 blue.
	Bands Bands
	// Cells, if set, colours every cell explicitly: Cells[l-1][c-1]. It
	// overrides Bands, for matrices that are not symmetric in L and C.
	Cells [][]Colour
	// LikelihoodLabels and ConsequenceLabels, if set, name the levels in
	// derivations; one per row and column.
	LikelihoodLabels, ConsequenceLabels []string
}

// Matrix is the likelihood × consequence method. Build one with NewMatrix
// or DefaultMatrix.
type Matrix struct {
	cfg MatrixConfig
}

// DefaultMatrixBands are the bands of the default 5×5 matrix on L×C.
func DefaultMatrixBands() Bands {
	return Bands{
		{Colour: Red, Min: dec(20), Label: "重大风险"},
		{Colour: Orange, Min: dec(15), Label: "较大风险"},
		{Colour: Yellow, Min: dec(9), Label: "一般风险"},
		{Colour: Blue, Min: dec(1), Label: "低风险"},
	}
}

// DefaultMatrix returns the 5×5 matrix with DefaultMatrixBands.
func DefaultMatrix() *Matrix {
	m, err := NewMatrix(MatrixConfig{})
	if err != nil {
		panic(err) // the defaults are valid
	}
	return m
}

// NewMatrix validates cfg and returns the method.
func NewMatrix(cfg MatrixConfig) (*Matrix, error) {
	if cfg.Name == "" {
		cfg.Name = "matrix"
	}
	if cfg.Likelihoods == 0 {
		cfg.Likelihoods = 5
	}
	if cfg.Consequences == 0 {
		cfg.Consequences = 5
	}
	if cfg.Likelihoods < 2 || cfg.Likelihoods > 10 || cfg.Consequences < 2 || cfg.Consequences > 10 {
		return nil, invalid("matrix.size", "%d×%d: each side must be 2–10", cfg.Likelihoods, cfg.Consequences)
	}
	switch {
	case cfg.Cells != nil:
		if len(cfg.Cells) != cfg.Likelihoods {
			return nil, invalid("matrix.cells", "%d rows for %d likelihood levels", len(cfg.Cells), cfg.Likelihoods)
		}
		for i, row := range cfg.Cells {
			if len(row) != cfg.Consequences {
				return nil, invalid(fmt.Sprintf("matrix.cells[%d]", i), "%d cells for %d consequence levels", len(row), cfg.Consequences)
			}
			for j, c := range row {
				if c < Blue || c > Red {
					return nil, invalid(fmt.Sprintf("matrix.cells[%d][%d]", i, j), "%v is not one of the four colours", c)
				}
			}
		}
		cells := make([][]Colour, len(cfg.Cells))
		for i := range cfg.Cells {
			cells[i] = append([]Colour(nil), cfg.Cells[i]...)
		}
		cfg.Cells = cells
		cfg.Bands = cfg.Bands.clone()
	case cfg.Bands == nil && cfg.Likelihoods == 5 && cfg.Consequences == 5:
		cfg.Bands = DefaultMatrixBands()
	default:
		if err := ValidateBands(cfg.Bands, dec(1)); err != nil {
			return nil, err
		}
		cfg.Bands = cfg.Bands.clone()
	}
	if cfg.LikelihoodLabels != nil && len(cfg.LikelihoodLabels) != cfg.Likelihoods {
		return nil, invalid("matrix.likelihood_labels", "%d labels for %d levels", len(cfg.LikelihoodLabels), cfg.Likelihoods)
	}
	if cfg.ConsequenceLabels != nil && len(cfg.ConsequenceLabels) != cfg.Consequences {
		return nil, invalid("matrix.consequence_labels", "%d labels for %d levels", len(cfg.ConsequenceLabels), cfg.Consequences)
	}
	cfg.LikelihoodLabels = append([]string(nil), cfg.LikelihoodLabels...)
	cfg.ConsequenceLabels = append([]string(nil), cfg.ConsequenceLabels...)
	return &Matrix{cfg: cfg}, nil
}

// Name returns the registered name ("matrix" by default).
func (m *Matrix) Name() string { return m.cfg.Name }

// Size returns the number of likelihood and consequence levels.
func (m *Matrix) Size() (likelihoods, consequences int) {
	return m.cfg.Likelihoods, m.cfg.Consequences
}

// Assess colours the cell (in.Likelihood, in.Consequence). The score is
// the product L×C.
func (m *Matrix) Assess(in Inputs) (Result, error) {
	switch {
	case in.Likelihood == 0:
		return Result{}, missing("likelihood", "the matrix needs a likelihood level")
	case in.Consequence == 0:
		return Result{}, missing("consequence", "the matrix needs a consequence level")
	case in.Likelihood < 0 || in.Likelihood > m.cfg.Likelihoods:
		return Result{}, invalid("likelihood", "%d is outside 1–%d", in.Likelihood, m.cfg.Likelihoods)
	case in.Consequence < 0 || in.Consequence > m.cfg.Consequences:
		return Result{}, invalid("consequence", "%d is outside 1–%d", in.Consequence, m.cfg.Consequences)
	}
	score := dec(int64(in.Likelihood * in.Consequence))
	d := Derivation{
		Method: m.cfg.Name,
		Inputs: []Term{
			{Name: "L", Value: strconv.Itoa(in.Likelihood), Meaning: label(m.cfg.LikelihoodLabels, in.Likelihood)},
			{Name: "C", Value: strconv.Itoa(in.Consequence), Meaning: label(m.cfg.ConsequenceLabels, in.Consequence)},
		},
		Cell:    &Cell{Likelihood: in.Likelihood, Consequence: in.Consequence},
		Formula: fmt.Sprintf("L × C = %d × %d = %d", in.Likelihood, in.Consequence, in.Likelihood*in.Consequence),
		Score:   text(&score),
	}
	var colour Colour
	if m.cfg.Cells != nil {
		colour = m.cfg.Cells[in.Likelihood-1][in.Consequence-1]
		d.Band = fmt.Sprintf("cell (%d, %d) of the %d×%d matrix → %s (%s)", in.Likelihood, in.Consequence,
			m.cfg.Likelihoods, m.cfg.Consequences, colour, colour.Label())
	} else {
		colour = m.cfg.Bands.classify(&score, "L×C", &d).Colour
	}
	return Result{Method: m.cfg.Name, Colour: colour, Score: score, Derivation: d}, nil
}

func label(labels []string, level int) string {
	if level >= 1 && level <= len(labels) {
		return labels[level-1]
	}
	return ""
}

// ---- LEC ----

// LECConfig configures the LEC method (作业条件危险性评价法, after Graham
// and Kinney): D = L × E × C.
type LECConfig struct {
	Name string // default "lec"
	// Bands on D, highest first. Default: the standard LEC bands mapped to
	// the four colours as China's dual-prevention (双重预防) guidance does:
	// D ≥ 320 red (极其危险), 160 ≤ D < 320 orange (高度危险), 70 ≤ D < 160
	// yellow (显著危险), D < 70 blue (一般危险 20–70 and 稍有危险 < 20).
	Bands Bands
	// AnyValues accepts any L in (0, 10], E in (0, 10] and C in (0, 100];
	// by default only the standard scale values are accepted (L: 10, 6, 3,
	// 1, 0.5, 0.2, 0.1; E: 10, 6, 3, 2, 1, 0.5; C: 100, 40, 15, 7, 3, 1).
	AnyValues bool
}

// LEC is the L × E × C method. Build one with NewLEC or StandardLEC.
type LEC struct {
	cfg LECConfig
}

type scaleValue struct {
	value   string
	meaning string
}

// The standard LEC scales.
var (
	lecL = []scaleValue{{"10", "完全可以预料 (expected)"}, {"6", "相当可能 (quite possible)"}, {"3", "可能，但不经常 (unusual but possible)"},
		{"1", "可能性小，完全意外 (remotely possible)"}, {"0.5", "很不可能，可以设想 (conceivable)"}, {"0.2", "极不可能 (practically impossible)"}, {"0.1", "实际不可能 (virtually impossible)"}}
	lecE = []scaleValue{{"10", "连续暴露 (continuous)"}, {"6", "每天工作时间内暴露 (daily)"}, {"3", "每周一次或偶然暴露 (weekly or occasional)"},
		{"2", "每月一次暴露 (monthly)"}, {"1", "每年几次暴露 (a few times a year)"}, {"0.5", "非常罕见地暴露 (very rare)"}}
	lecC = []scaleValue{{"100", "大灾难，许多人死亡 (catastrophe, many deaths)"}, {"40", "灾难，数人死亡 (disaster, several deaths)"},
		{"15", "非常严重，一人死亡 (very serious, one death)"}, {"7", "严重，重伤 (serious injury)"}, {"3", "重大，致残 (disabling injury)"},
		{"1", "引人注目，需要救护 (noticeable, first aid)"}}
)

// StandardLECBands are the default LEC bands on D.
func StandardLECBands() Bands {
	return Bands{
		{Colour: Red, Min: dec(320), Label: "极其危险，不能继续作业"},
		{Colour: Orange, Min: dec(160), Label: "高度危险，要立即整改"},
		{Colour: Yellow, Min: dec(70), Label: "显著危险，需要整改"},
		{Colour: Blue, Min: dec(0), Label: "一般或稍有危险"},
	}
}

// StandardLEC returns the LEC method with the standard scales and bands.
func StandardLEC() *LEC {
	m, err := NewLEC(LECConfig{})
	if err != nil {
		panic(err)
	}
	return m
}

// NewLEC validates cfg and returns the method.
func NewLEC(cfg LECConfig) (*LEC, error) {
	if cfg.Name == "" {
		cfg.Name = "lec"
	}
	if cfg.Bands == nil {
		cfg.Bands = StandardLECBands()
	}
	// The smallest standard D is 0.1 × 0.5 × 1 = 0.05; with AnyValues any
	// positive D, so the lowest band must reach down to (near) zero.
	floor := MustDecimal("0.05")
	if cfg.AnyValues {
		floor = MustDecimal("0.001")
	}
	if err := ValidateBands(cfg.Bands, floor); err != nil {
		return nil, err
	}
	cfg.Bands = cfg.Bands.clone()
	return &LEC{cfg: cfg}, nil
}

// Name returns the registered name ("lec" by default).
func (m *LEC) Name() string { return m.cfg.Name }

// Assess computes D = L × E × C and colours it by the bands.
func (m *LEC) Assess(in Inputs) (Result, error) {
	terms := make([]Term, 0, 3)
	for _, f := range []struct {
		name  string
		v     *apd.Decimal
		scale []scaleValue
		max   int64
	}{{"L", &in.L, lecL, 10}, {"E", &in.E, lecE, 10}, {"C", &in.C, lecC, 100}} {
		if f.v.IsZero() {
			return Result{}, missing(f.name, "the LEC method needs L, E and C")
		}
		meaning, err := m.check(f.name, f.v, f.scale, f.max)
		if err != nil {
			return Result{}, err
		}
		terms = append(terms, Term{Name: f.name, Value: text(f.v), Meaning: meaning})
	}
	var a arith
	le := a.mul(&in.L, &in.E)
	d := a.mul(&le, &in.C)
	if a.err != nil {
		return Result{}, &InputError{Field: "lec", Reason: "arithmetic", Err: a.err}
	}
	der := Derivation{
		Method:  m.cfg.Name,
		Inputs:  terms,
		Formula: fmt.Sprintf("D = L × E × C = %s × %s × %s = %s", text(&in.L), text(&in.E), text(&in.C), text(&d)),
		Score:   text(&d),
	}
	band := m.cfg.Bands.classify(&d, "D", &der)
	return Result{Method: m.cfg.Name, Colour: band.Colour, Score: d, Derivation: der}, nil
}

func (m *LEC) check(name string, v *apd.Decimal, scale []scaleValue, max int64) (string, error) {
	if v.Form != apd.Finite || v.Sign() <= 0 {
		return "", invalid(name, "%s must be a positive number", text(v))
	}
	limit := dec(max)
	if v.Cmp(&limit) > 0 {
		return "", invalid(name, "%s exceeds the scale's maximum %d", text(v), max)
	}
	for _, s := range scale {
		sv := MustDecimal(s.value)
		if v.Cmp(&sv) == 0 {
			return s.meaning, nil
		}
	}
	if m.cfg.AnyValues {
		return "", nil
	}
	vals := make([]string, len(scale))
	for i, s := range scale {
		vals[i] = s.value
	}
	return "", invalid(name, "%s is not on the standard scale %v (LECConfig.AnyValues accepts values between)", text(v), vals)
}
