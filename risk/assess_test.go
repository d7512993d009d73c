package risk_test

import (
	"testing"

	"github.com/cockroachdb/apd/v3"
	"github.com/stretchr/testify/require"

	"github.com/govkit/govkit/risk"
)

func d(s string) apd.Decimal { return risk.MustDecimal(s) }

func TestMatrixDefaultBands(t *testing.T) {
	m := risk.DefaultMatrix()
	cases := []struct {
		l, c   int
		score  string
		colour risk.Colour
	}{
		{5, 5, "25", risk.Red}, {4, 5, "20", risk.Red}, // 20 is the red boundary
		{4, 4, "16", risk.Orange}, {3, 5, "15", risk.Orange}, // 15 is the orange boundary
		{3, 4, "12", risk.Yellow}, {3, 3, "9", risk.Yellow}, // 9 is the yellow boundary
		{2, 4, "8", risk.Blue}, {1, 1, "1", risk.Blue},
	}
	for _, tc := range cases {
		r, err := m.Assess(risk.Inputs{Likelihood: tc.l, Consequence: tc.c})
		require.NoError(t, err)
		require.Equal(t, tc.colour, r.Colour, "%d×%d", tc.l, tc.c)
		require.Equal(t, tc.score, r.Derivation.Score)
		require.Equal(t, &risk.Cell{Likelihood: tc.l, Consequence: tc.c}, r.Derivation.Cell)
		require.Len(t, r.Derivation.Thresholds, 4)
	}
	r, _ := m.Assess(risk.Inputs{Likelihood: 3, Consequence: 5})
	require.Equal(t, "L × C = 3 × 5 = 15", r.Derivation.Formula)
	require.Equal(t, "15 ≤ L×C < 20 → orange (较大风险)", r.Derivation.Band)
}

func TestMatrixConfigurable(t *testing.T) {
	// A 4×4 matrix with its own banding.
	m, err := risk.NewMatrix(risk.MatrixConfig{Name: "m4", Likelihoods: 4, Consequences: 4, Bands: risk.Bands{
		{Colour: risk.Red, Min: d("12")}, {Colour: risk.Orange, Min: d("8")}, {Colour: risk.Yellow, Min: d("4")}, {Colour: risk.Blue, Min: d("1")},
	}})
	require.NoError(t, err)
	for _, tc := range []struct {
		l, c int
		want risk.Colour
	}{{3, 4, risk.Red}, {2, 4, risk.Orange}, {2, 2, risk.Yellow}, {1, 3, risk.Blue}} {
		r, err := m.Assess(risk.Inputs{Likelihood: tc.l, Consequence: tc.c})
		require.NoError(t, err)
		require.Equal(t, tc.want, r.Colour)
	}
	_, err = m.Assess(risk.Inputs{Likelihood: 5, Consequence: 1})
	require.ErrorIs(t, err, risk.ErrInvalidInput)

	// Explicit cells: an asymmetric 2×3 matrix.
	cells, err := risk.NewMatrix(risk.MatrixConfig{Likelihoods: 2, Consequences: 3, Cells: [][]risk.Colour{
		{risk.Blue, risk.Yellow, risk.Orange}, {risk.Yellow, risk.Orange, risk.Red},
	}})
	require.NoError(t, err)
	r, err := cells.Assess(risk.Inputs{Likelihood: 1, Consequence: 3})
	require.NoError(t, err)
	require.Equal(t, risk.Orange, r.Colour)
	require.Contains(t, r.Derivation.Band, "cell (1, 3) of the 2×3 matrix")

	for name, cfg := range map[string]risk.MatrixConfig{
		"too big":                         {Likelihoods: 11, Consequences: 5},
		"bands not descending":            {Bands: risk.Bands{{Colour: risk.Red, Min: d("10")}, {Colour: risk.Blue, Min: d("10")}}},
		"bands leave a gap at the bottom": {Bands: risk.Bands{{Colour: risk.Red, Min: d("10")}, {Colour: risk.Blue, Min: d("2")}}},
		"colour rises as scores fall":     {Bands: risk.Bands{{Colour: risk.Yellow, Min: d("10")}, {Colour: risk.Red, Min: d("1")}}},
		"ragged cells":                    {Likelihoods: 2, Consequences: 2, Cells: [][]risk.Colour{{risk.Blue}, {risk.Red, risk.Red}}},
	} {
		_, err := risk.NewMatrix(cfg)
		require.ErrorIs(t, err, risk.ErrInvalidInput, name)
	}
	_, err = risk.NewMatrix(risk.MatrixConfig{Likelihoods: 4, Consequences: 4})
	require.ErrorIs(t, err, risk.ErrMissingInput, "a 4×4 matrix has no default bands")
}

func TestMatrixMissingInputs(t *testing.T) {
	_, err := risk.DefaultMatrix().Assess(risk.Inputs{Likelihood: 3})
	require.ErrorIs(t, err, risk.ErrMissingInput)
	var ie *risk.InputError
	require.ErrorAs(t, err, &ie)
	require.Equal(t, "consequence", ie.Field)
}

func TestLEC(t *testing.T) {
	m := risk.StandardLEC()
	r, err := m.Assess(risk.Inputs{L: d("3"), E: d("6"), C: d("15")})
	require.NoError(t, err)
	require.Equal(t, risk.Orange, r.Colour)
	require.Equal(t, "270", r.Derivation.Score)
	require.Equal(t, "D = L × E × C = 3 × 6 × 15 = 270", r.Derivation.Formula)
	require.Equal(t, "160 ≤ D < 320 → orange (较大风险)", r.Derivation.Band)
	require.Equal(t, "可能，但不经常 (unusual but possible)", r.Derivation.Inputs[0].Meaning)
	require.Equal(t, "每天工作时间内暴露 (daily)", r.Derivation.Inputs[1].Meaning)

	for _, tc := range []struct {
		l, e, c string
		score   string
		want    risk.Colour
	}{
		{"10", "6", "40", "2400", risk.Red},
		{"1", "10", "7", "70", risk.Yellow}, // exactly on the yellow boundary
		{"0.5", "6", "15", "45", risk.Blue},
		{"0.1", "0.5", "1", "0.05", risk.Blue}, // the smallest standard D
	} {
		r, err := m.Assess(risk.Inputs{L: d(tc.l), E: d(tc.e), C: d(tc.c)})
		require.NoError(t, err)
		require.Equal(t, tc.score, r.Derivation.Score)
		require.Equal(t, tc.want, r.Colour, "D=%s", tc.score)
	}
	// Off-scale values need AnyValues; then the exact boundaries hold.
	_, err = m.Assess(risk.Inputs{L: d("4"), E: d("8"), C: d("10")})
	require.ErrorIs(t, err, risk.ErrInvalidInput)
	anyv, err := risk.NewLEC(risk.LECConfig{AnyValues: true})
	require.NoError(t, err)
	for _, tc := range []struct {
		l, e, c string
		want    risk.Colour
	}{
		{"4", "8", "10", risk.Red},       // 320
		{"3.99", "8", "10", risk.Orange}, // 319.2
		{"2", "8", "10", risk.Orange},    // 160
		{"1.99", "8", "10", risk.Yellow}, // 159.2
		{"0.7", "10", "10", risk.Yellow}, // 70
		{"0.69", "10", "10", risk.Blue},  // 69
	} {
		r, err := anyv.Assess(risk.Inputs{L: d(tc.l), E: d(tc.e), C: d(tc.c)})
		require.NoError(t, err)
		require.Equal(t, tc.want, r.Colour, "D=%s", r.Derivation.Score)
	}
	_, err = m.Assess(risk.Inputs{L: d("3"), C: d("15")})
	require.ErrorIs(t, err, risk.ErrMissingInput)
	_, err = anyv.Assess(risk.Inputs{L: d("11"), E: d("1"), C: d("1")})
	require.ErrorIs(t, err, risk.ErrInvalidInput)
}

func TestRValueWorkedExample(t *testing.T) {
	// An oil depot: 300 t of gasoline (Q 200 t, β 1) and 60 t of LPG
	// (Q 50 t, β 1.5), 120 people within 500 m (α 2).
	r, err := risk.StandardRValue().Assess(risk.Inputs{
		Holdings: []risk.Holding{{Substance: "汽油", Quantity: d("300")}, {Substance: "液化石油气", Quantity: d("60")}},
		Exposed:  risk.People(120),
	})
	require.NoError(t, err)
	require.Equal(t, "6.6", r.Derivation.Score)
	require.Equal(t, "R = α·Σβᵢqᵢ/Qᵢ = 2 × (1×300/200 + 1.5×60/50) = 2 × (1.5 + 1.8) = 6.6", r.Derivation.Formula)
	require.Equal(t, 4, r.Grade)
	require.Equal(t, risk.Blue, r.Colour)
	require.Contains(t, r.Derivation.Notes, "Σqᵢ/Qᵢ = 2.7")
}

func TestRValueGradeBoundaries(t *testing.T) {
	// Chlorine: Q 5 t, β 4; with 100+ people α = 2, so R = 1.6 q exactly.
	m := risk.StandardRValue()
	for _, tc := range []struct {
		q      string
		r      string
		grade  int
		colour risk.Colour
	}{
		{"62.5", "100", 1, risk.Red},
		{"62.49", "99.984", 2, risk.Orange},
		{"31.25", "50", 2, risk.Orange},
		{"31.24", "49.984", 3, risk.Yellow},
		{"6.25", "10", 3, risk.Yellow},
		{"6.24", "9.984", 4, risk.Blue},
		{"5", "8", 4, risk.Blue}, // Σq/Q = 1 exactly: a major hazard source
	} {
		r, err := m.Assess(risk.Inputs{Holdings: []risk.Holding{{Substance: "氯", Quantity: d(tc.q)}}, Exposed: risk.People(100)})
		require.NoError(t, err)
		require.Equal(t, tc.r, r.Derivation.Score, "q=%s", tc.q)
		require.Equal(t, tc.grade, r.Grade, "q=%s R=%s", tc.q, tc.r)
		require.Equal(t, tc.colour, r.Colour)
	}
	// Below the identification threshold: not graded.
	r, err := m.Assess(risk.Inputs{Holdings: []risk.Holding{{Substance: "7782-50-5", Quantity: d("4.99")}}, Exposed: risk.People(500)})
	require.NoError(t, err)
	require.Equal(t, 0, r.Grade)
	require.Equal(t, risk.Blue, r.Colour)
	require.Contains(t, r.Derivation.Band, "< 1")
}

func TestRValueAlphaTable(t *testing.T) {
	m := risk.StandardRValue()
	for n, want := range map[int]string{0: "0.5", 1: "1", 29: "1", 30: "1.2", 49: "1.2", 50: "1.5", 99: "1.5", 100: "2", 5000: "2"} {
		a := m.Alpha(n)
		var r apd.Decimal
		r.Reduce(&a)
		require.Equal(t, want, r.Text('f'), "%d people", n)
	}
}

func TestRValueErrors(t *testing.T) {
	m := risk.StandardRValue()
	_, err := m.Assess(risk.Inputs{Exposed: risk.People(3)})
	require.ErrorIs(t, err, risk.ErrMissingInput)
	_, err = m.Assess(risk.Inputs{Holdings: []risk.Holding{{Substance: "汽油", Quantity: d("1")}}})
	require.ErrorIs(t, err, risk.ErrMissingInput)
	_, err = m.Assess(risk.Inputs{Holdings: []risk.Holding{{Substance: "unobtainium", Quantity: d("1")}}, Exposed: risk.People(0)})
	require.ErrorIs(t, err, risk.ErrUnknownSubstance)
	_, err = m.Assess(risk.Inputs{Holdings: []risk.Holding{{Substance: "汽油", Quantity: d("-1")}}, Exposed: risk.People(0)})
	require.ErrorIs(t, err, risk.ErrInvalidInput)

	// Two tanks of one substance count as one holding.
	r, err := m.Assess(risk.Inputs{Holdings: []risk.Holding{{Substance: "汽油", Quantity: d("150")}, {Substance: "汽油", Quantity: d("150")}}, Exposed: risk.People(0)})
	require.NoError(t, err)
	require.Equal(t, "0.75", r.Derivation.Score) // 0.5 × 1 × 300/200

	_, err = risk.NewRValue(risk.RValueConfig{Substances: []risk.Substance{{Name: "x", Critical: d("0"), Beta: d("1")}}})
	require.ErrorIs(t, err, risk.ErrInvalidInput)
	_, err = risk.NewRValue(risk.RValueConfig{Alpha: []risk.AlphaStep{{MinPeople: 10, Alpha: d("1")}}})
	require.ErrorIs(t, err, risk.ErrInvalidInput)
}

func TestCatalogueValidation(t *testing.T) {
	_, err := risk.NewCatalogue([]risk.HazardClass{{Code: "a", Name: "A"}, {Code: "a", Name: "again"}})
	require.ErrorIs(t, err, risk.ErrInvalidInput)
	_, err = risk.NewCatalogue([]risk.HazardClass{{Code: "a b", Name: "A"}})
	require.ErrorIs(t, err, risk.ErrInvalidInput)
	_, err = risk.NewCatalogue([]risk.HazardClass{{Code: "a", Name: "A", Parent: "missing"}})
	require.ErrorIs(t, err, risk.ErrInvalidInput)
	_, err = risk.NewCatalogue([]risk.HazardClass{{Code: "a", Name: "A", Parent: "b"}, {Code: "b", Name: "B", Parent: "a"}})
	require.ErrorIs(t, err, risk.ErrInvalidInput)
	_, err = risk.NewCatalogue([]risk.HazardClass{{Code: "a"}})
	require.ErrorIs(t, err, risk.ErrMissingInput)
	cat := catalogue(t)
	require.True(t, cat.Under("hazchem.oil-tank", "hazchem"))
	_, err = cat.Class("nope")
	require.ErrorIs(t, err, risk.ErrUnknownClass)
}
