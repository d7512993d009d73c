package risk

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// HazardClass is one entry of the hazard-class catalogue (风险点分类):
// Chongqing's pipeline application alone uses 1,126 classes, grouped
// under a few top-level categories.
type HazardClass struct {
	// Code identifies the class: letters, digits, '-', '_' and '.', up to
	// 64 bytes, e.g. "gas-pipeline.medium-pressure".
	Code string
	Name string // e.g. "中压燃气管线"
	// Parent is the code of the class above, if any; parents must be in
	// the catalogue.
	Parent string
	// Method is the assessment method used when Assess is given none, e.g.
	// "gb18218" for hazardous-chemical stores.
	Method string
	// Validity is how long an assessment of a point of this class stands
	// before it must be redone (default: Config.Validity, one year).
	Validity time.Duration
}

// Catalogue is a validated, immutable set of hazard classes, safe for
// concurrent use.
type Catalogue struct {
	classes map[string]HazardClass
	codes   []string
}

// MaxClassCode bounds a class code's length.
const MaxClassCode = 64

// NewCatalogue validates classes: unique, well-formed codes, names, known
// parents without cycles, non-negative validity. The input is not
// retained.
func NewCatalogue(classes []HazardClass) (*Catalogue, error) {
	c := &Catalogue{classes: make(map[string]HazardClass, len(classes))}
	for i, hc := range classes {
		field := fmt.Sprintf("classes[%d]", i)
		if err := validToken(hc.Code, MaxClassCode); err != "" {
			return nil, invalid(field+".code", "%q: %s", hc.Code, err)
		}
		if strings.TrimSpace(hc.Name) == "" {
			return nil, missing(field+".name", "class "+hc.Code+" has no name")
		}
		if hc.Validity < 0 {
			return nil, invalid(field+".validity", "negative")
		}
		if _, dup := c.classes[hc.Code]; dup {
			return nil, invalid(field+".code", "%q is listed twice", hc.Code)
		}
		c.classes[hc.Code] = hc
		c.codes = append(c.codes, hc.Code)
	}
	for _, code := range c.codes {
		seen := map[string]bool{code: true}
		for p := c.classes[code].Parent; p != ""; p = c.classes[p].Parent {
			if _, ok := c.classes[p]; !ok {
				return nil, invalid("classes."+code+".parent", "parent %q is not in the catalogue", p)
			}
			if seen[p] {
				return nil, invalid("classes."+code+".parent", "parent chain loops through %q", p)
			}
			seen[p] = true
		}
	}
	slices.SortFunc(c.codes, cmp.Compare[string])
	return c, nil
}

// validToken returns why s is not a code, or "".
func validToken(s string, max int) string {
	if s == "" {
		return "empty"
	}
	if len(s) > max {
		return fmt.Sprintf("longer than %d bytes", max)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return "only letters, digits, '-', '_' and '.' are allowed"
		}
	}
	return ""
}

// Class returns the class with code, or a *ClassError matching
// ErrUnknownClass.
func (c *Catalogue) Class(code string) (HazardClass, error) {
	hc, ok := c.classes[code]
	if !ok {
		return HazardClass{}, &ClassError{Class: code}
	}
	return hc, nil
}

// Len returns the number of classes.
func (c *Catalogue) Len() int { return len(c.codes) }

// Codes returns every class code in order.
func (c *Catalogue) Codes() []string { return slices.Clone(c.codes) }

// Under reports whether class code is ancestor or lies below it.
func (c *Catalogue) Under(code, ancestor string) bool {
	for p := code; p != ""; p = c.classes[p].Parent {
		if p == ancestor {
			return true
		}
	}
	return false
}
