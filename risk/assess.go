package risk

import (
	"fmt"
	"strings"
	"time"

	"github.com/cockroachdb/apd/v3"
)

// Method assesses the static risk of a point from inputs and explains
// itself: every Result carries the Derivation that produced its colour.
// Matrix, LEC and RValue implement it; an application may register its
// own (Config.Methods). Implementations are immutable once built and safe
// for concurrent use.
type Method interface {
	// Name is the key the method is registered under, such as "lec".
	Name() string
	// Assess validates in and computes the result. Bad or missing inputs
	// give an *InputError (matching ErrInvalidInput or ErrMissingInput).
	Assess(in Inputs) (Result, error)
}

// Inputs are what the methods read. Each method reads only its own
// fields and reports a missing one with an error matching ErrMissingInput.
type Inputs struct {
	// Likelihood and Consequence are the matrix's row and column, from 1.
	Likelihood, Consequence int
	// L, E and C are the LEC method's likelihood (事故发生的可能性),
	// exposure (暴露于危险环境的频繁程度) and consequence (后果); zero is
	// missing.
	L, E, C apd.Decimal
	// Holdings are the hazardous chemicals held in the unit, for GB 18218.
	Holdings []Holding
	// Exposed is the number of people living within 500 m of the unit's
	// boundary (GB 18218 α). nil is missing; the Service counts registered
	// occupancy when it is nil and buildings are registered.
	Exposed *int
}

// People returns a pointer to n, for Inputs.Exposed.
func People(n int) *int { return &n }

// clone returns a deep copy of in.
func (in Inputs) clone() Inputs {
	out := in
	out.L, out.E, out.C = cloneDecimal(in.L), cloneDecimal(in.E), cloneDecimal(in.C)
	if in.Holdings != nil {
		out.Holdings = make([]Holding, len(in.Holdings))
		for i, h := range in.Holdings {
			out.Holdings[i] = Holding{Substance: h.Substance, Quantity: cloneDecimal(h.Quantity)}
		}
	}
	if in.Exposed != nil {
		out.Exposed = People(*in.Exposed)
	}
	return out
}

// Result is one assessment: the colour, the score it came from and how.
type Result struct {
	Method string
	Colour Colour
	// Score is the number compared with the thresholds: L×C, D = L×E×C, or
	// R.
	Score apd.Decimal
	// Grade is the GB 18218 major-hazard grade, 1 (highest) to 4; 0 for
	// other methods and for a unit below the major-hazard threshold.
	Grade      int
	Derivation Derivation
}

func (r Result) clone() Result {
	r.Score = cloneDecimal(r.Score)
	r.Derivation = r.Derivation.clone()
	return r
}

// Derivation says why a result came out as it did, in terms anyone can
// check: the inputs with their meaning, the matrix cell or the formula
// with the numbers put in, the thresholds compared against and the band
// that matched. Numbers are decimal strings, exact as computed.
type Derivation struct {
	Method     string
	Inputs     []Term
	Cell       *Cell  // the matrix cell, for a matrix
	Formula    string // e.g. "D = L × E × C = 3 × 6 × 15 = 270"
	Score      string
	Thresholds []Threshold // highest first
	Band       string      // the threshold that matched, e.g. "160 ≤ D < 320 → orange (较大风险)"
	Notes      []string
}

// Term is one named input value.
type Term struct {
	Name    string // e.g. "L", "q(汽油)"
	Value   string
	Meaning string // e.g. "相当可能 (quite possible)"
}

// Cell is a position in a risk matrix, both counted from 1.
type Cell struct{ Likelihood, Consequence int }

// Threshold is one band boundary as the derivation records it.
type Threshold struct {
	Colour Colour
	Min    string // the band holds scores ≥ Min
	Label  string
}

func (d Derivation) clone() Derivation {
	d.Inputs = append([]Term(nil), d.Inputs...)
	d.Thresholds = append([]Threshold(nil), d.Thresholds...)
	d.Notes = append([]string(nil), d.Notes...)
	if d.Cell != nil {
		c := *d.Cell
		d.Cell = &c
	}
	return d
}

// String renders the derivation in a few lines, for a map's pop-up or an
// audit note.
func (d Derivation) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "method %s", d.Method)
	for _, t := range d.Inputs {
		fmt.Fprintf(&b, "\n  %s = %s", t.Name, t.Value)
		if t.Meaning != "" {
			fmt.Fprintf(&b, " (%s)", t.Meaning)
		}
	}
	if d.Cell != nil {
		fmt.Fprintf(&b, "\n  cell: likelihood %d, consequence %d", d.Cell.Likelihood, d.Cell.Consequence)
	}
	if d.Formula != "" {
		fmt.Fprintf(&b, "\n  %s", d.Formula)
	}
	if d.Band != "" {
		fmt.Fprintf(&b, "\n  band: %s", d.Band)
	}
	for _, n := range d.Notes {
		fmt.Fprintf(&b, "\n  note: %s", n)
	}
	return b.String()
}

// Band is one range of scores and its colour: a band holds the scores at
// or above Min and below the Min of the band above it.
type Band struct {
	Colour Colour
	Min    apd.Decimal
	Label  string // optional, e.g. "较大风险"
}

// Bands are a method's thresholds, highest first. Validate them with
// ValidateBands.
type Bands []Band

// ValidateBands checks that b is non-empty, its Mins strictly decrease,
// its colours are real colours that never rise as scores fall, and the
// lowest Min is at most floor (the smallest score the method can give), so
// every score falls in a band.
func ValidateBands(b Bands, floor apd.Decimal) error {
	if len(b) == 0 {
		return missing("bands", "a method needs at least one band")
	}
	for i, band := range b {
		if band.Colour < Blue || band.Colour > Red {
			return invalid(fmt.Sprintf("bands[%d].colour", i), "%v is not one of the four colours", band.Colour)
		}
		if band.Min.Form != apd.Finite {
			return invalid(fmt.Sprintf("bands[%d].min", i), "not a finite number")
		}
		if i > 0 {
			if band.Min.Cmp(&b[i-1].Min) >= 0 {
				return invalid(fmt.Sprintf("bands[%d].min", i), "%s is not below the band above (%s): list bands highest first", text(&band.Min), text(&b[i-1].Min))
			}
			if band.Colour > b[i-1].Colour {
				return invalid(fmt.Sprintf("bands[%d].colour", i), "%v is above the colour of a higher band (%v)", band.Colour, b[i-1].Colour)
			}
		}
	}
	last := b[len(b)-1].Min
	if last.Cmp(&floor) > 0 {
		return invalid("bands", "the lowest band starts at %s, above the smallest possible score %s", text(&last), text(&floor))
	}
	return nil
}

func (b Bands) clone() Bands {
	out := make(Bands, len(b))
	for i, x := range b {
		out[i] = Band{Colour: x.Colour, Min: cloneDecimal(x.Min), Label: x.Label}
	}
	return out
}

// classify returns the band holding score and records the thresholds and
// the matching band in d, with sym naming the score ("D", "R", "L×C").
func (b Bands) classify(score *apd.Decimal, sym string, d *Derivation) Band {
	d.Thresholds = make([]Threshold, len(b))
	for i, band := range b {
		d.Thresholds[i] = Threshold{Colour: band.Colour, Min: text(&band.Min), Label: band.Label}
	}
	for i, band := range b {
		if score.Cmp(&band.Min) >= 0 {
			rng := fmt.Sprintf("%s ≥ %s", sym, text(&band.Min))
			if i > 0 {
				rng = fmt.Sprintf("%s ≤ %s < %s", text(&band.Min), sym, text(&b[i-1].Min))
			}
			d.Band = fmt.Sprintf("%s → %s (%s)", rng, band.Colour, band.Colour.Label())
			return band
		}
	}
	// ValidateBands makes this unreachable for scores the method produces.
	last := b[len(b)-1]
	d.Band = fmt.Sprintf("%s < %s → %s (%s)", sym, text(&last.Min), last.Colour, last.Colour.Label())
	return last
}

// Assessment is a stored result: who assessed the point, when, with what
// inputs, and until when the result stands.
type Assessment struct {
	Result
	Inputs     Inputs
	AssessedAt time.Time
	ValidUntil time.Time
	Assessor   string // actor ID
}

// Expired reports whether the assessment's validity has passed at now.
func (a Assessment) Expired(now time.Time) bool {
	return !a.ValidUntil.IsZero() && !now.Before(a.ValidUntil)
}

func (a Assessment) clone() Assessment {
	a.Result = a.Result.clone()
	a.Inputs = a.Inputs.clone()
	return a
}
