package risk

import (
	"fmt"

	"github.com/cockroachdb/apd/v3"
)

// decimalContext is the arithmetic every score uses: 34 significant digits
// (IEEE 754 decimal128), half-even rounding, errors on overflow, division
// by zero and invalid operations. Inputs carry a few digits, so results are
// exact in practice.
var decimalContext = func() *apd.Context {
	c := apd.BaseContext.WithPrecision(34)
	c.Rounding = apd.RoundHalfEven
	return c
}()

// ParseDecimal parses s as a finite decimal number, such as "0.5" or
// "1200", with an error matching ErrInvalidInput.
func ParseDecimal(s string) (apd.Decimal, error) {
	var d apd.Decimal
	if _, _, err := d.SetString(s); err != nil {
		return apd.Decimal{}, &InputError{Field: "decimal", Reason: fmt.Sprintf("%q is not a number", s), Err: err}
	}
	if d.Form != apd.Finite {
		return apd.Decimal{}, invalid("decimal", "%q is not a finite number", s)
	}
	return d, nil
}

// MustDecimal is ParseDecimal for constants in code; it panics on bad
// input.
func MustDecimal(s string) apd.Decimal {
	d, err := ParseDecimal(s)
	if err != nil {
		panic(err)
	}
	return d
}

// dec returns the integer n as a decimal.
func dec(n int64) apd.Decimal {
	var d apd.Decimal
	d.SetInt64(n)
	return d
}

// text renders d without exponent and without trailing zeros after the
// point ("270", "2.5", "0.04").
func text(d *apd.Decimal) string {
	var r apd.Decimal
	r.Reduce(d)
	return r.Text('f')
}

// arith runs decimal operations and keeps the first error, so that a
// formula reads as a formula.
type arith struct{ err error }

func (a *arith) mul(x, y *apd.Decimal) apd.Decimal {
	var d apd.Decimal
	if a.err == nil {
		_, a.err = decimalContext.Mul(&d, x, y)
	}
	return d
}

func (a *arith) quo(x, y *apd.Decimal) apd.Decimal {
	var d apd.Decimal
	if a.err == nil {
		_, a.err = decimalContext.Quo(&d, x, y)
	}
	return d
}

func (a *arith) add(x, y *apd.Decimal) apd.Decimal {
	var d apd.Decimal
	if a.err == nil {
		_, a.err = decimalContext.Add(&d, x, y)
	}
	return d
}

// cloneDecimal returns a copy of d that shares no memory with it.
func cloneDecimal(d apd.Decimal) apd.Decimal {
	var c apd.Decimal
	c.Set(&d)
	return c
}
