package risk

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/cockroachdb/apd/v3"
	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/region"
)

// Tier is an enterprise's supervision tier (分级分类监管): red enterprises
// are inspected most, green ones only by random draw.
type Tier string

// The enterprise tiers.
const (
	TierRed    Tier = "red"
	TierYellow Tier = "yellow"
	TierGreen  Tier = "green"
)

// Enterprise is a supervised business: a chemical store, a restaurant, one
// of a street's nine small places.
type Enterprise struct {
	ID     string // e.g. the unified social credit code; 1–64 bytes
	Name   string
	Region region.Code // where it is registered and supervised (a street or grid)
	// Credit is its credit score, 0–100, higher is better (from the credit
	// system).
	Credit apd.Decimal
	// Blacklisted enterprises (严重失信名单) are red whatever their score.
	Blacklisted bool
	// Kind, e.g. "hazardous-chemicals", "restaurant", "small-clinic".
	Kind string
	// Tier and TierDerivation are set by the service (Tier).
	Tier           Tier
	TierDerivation Derivation
	Version        int64
}

func (e Enterprise) clone() Enterprise {
	e.Credit = cloneDecimal(e.Credit)
	e.TierDerivation = e.TierDerivation.clone()
	return e
}

// Tiering scores enterprises: score = CreditWeight × (100 − credit) +
// RiskWeight × risk, where risk is 100, 75, 50 or 25 for the highest
// level among the enterprise's risk points (red, orange, yellow, blue; 0
// without assessed points). A score at or above RedAt is red, at or above
// YellowAt yellow, else green; blacklisted enterprises are red.
type Tiering struct {
	CreditWeight, RiskWeight apd.Decimal
	RedAt, YellowAt          apd.Decimal
	// PerYear is how many inspections a tier needs each year: red 4 (at
	// least once a quarter), yellow 1, green 0 (random draw only).
	PerYear map[Tier]int
}

// DefaultTiering weighs credit 0.4 and risk 0.6, with red at 60 and yellow
// at 30.
func DefaultTiering() *Tiering {
	return &Tiering{
		CreditWeight: MustDecimal("0.4"), RiskWeight: MustDecimal("0.6"),
		RedAt: dec(60), YellowAt: dec(30),
		PerYear: map[Tier]int{TierRed: 4, TierYellow: 1, TierGreen: 0},
	}
}

// Validate checks the weights are non-negative and the thresholds in
// order.
func (t *Tiering) Validate() error {
	for _, d := range []*apd.Decimal{&t.CreditWeight, &t.RiskWeight, &t.RedAt, &t.YellowAt} {
		if d.Form != apd.Finite || d.Sign() < 0 {
			return invalid("tiering", "weights and thresholds must be non-negative numbers")
		}
	}
	if t.RedAt.Cmp(&t.YellowAt) <= 0 {
		return invalid("tiering", "RedAt must be above YellowAt")
	}
	for tier, n := range t.PerYear {
		if n < 0 || n > 12 {
			return invalid("tiering.per_year", "%s: %d outside 0–12", tier, n)
		}
	}
	return nil
}

var colourRisk = map[Colour]int64{None: 0, Blue: 25, Yellow: 50, Orange: 75, Red: 100}

// Score tiers an enterprise with the given highest risk colour, with the
// derivation.
func (t *Tiering) Score(e *Enterprise, highest Colour) (Tier, Derivation, error) {
	if e.Credit.Form != apd.Finite || e.Credit.Sign() < 0 || e.Credit.Cmp(new(apd.Decimal).SetInt64(100)) > 0 {
		return "", Derivation{}, invalid("enterprise.credit", "%s outside 0–100", text(&e.Credit))
	}
	var a arith
	hundred, risk := dec(100), dec(colourRisk[highest])
	var lack apd.Decimal
	if _, err := decimalContext.Sub(&lack, &hundred, &e.Credit); err != nil {
		return "", Derivation{}, err
	}
	cw := a.mul(&t.CreditWeight, &lack)
	rw := a.mul(&t.RiskWeight, &risk)
	score := a.add(&cw, &rw)
	if a.err != nil {
		return "", Derivation{}, a.err
	}
	d := Derivation{
		Method: "tiering",
		Inputs: []Term{
			{Name: "credit", Value: text(&e.Credit), Meaning: "credit score, 0–100"},
			{Name: "risk", Value: fmt.Sprint(colourRisk[highest]), Meaning: "highest risk point level: " + highest.String()},
		},
		Formula: fmt.Sprintf("S = %s × (100 − %s) + %s × %d = %s", text(&t.CreditWeight), text(&e.Credit), text(&t.RiskWeight), colourRisk[highest], text(&score)),
		Score:   text(&score),
		Thresholds: []Threshold{
			{Colour: Red, Min: text(&t.RedAt), Label: string(TierRed)},
			{Colour: Yellow, Min: text(&t.YellowAt), Label: string(TierYellow)},
		},
	}
	tier := TierGreen
	switch {
	case e.Blacklisted:
		tier = TierRed
		d.Band = "blacklisted → red"
	case score.Cmp(&t.RedAt) >= 0:
		tier = TierRed
		d.Band = fmt.Sprintf("S ≥ %s → red", text(&t.RedAt))
	case score.Cmp(&t.YellowAt) >= 0:
		tier = TierYellow
		d.Band = fmt.Sprintf("%s ≤ S < %s → yellow", text(&t.YellowAt), text(&t.RedAt))
	default:
		d.Band = fmt.Sprintf("S < %s → green", text(&t.YellowAt))
	}
	return tier, d, nil
}

func enterpriseResource(e *Enterprise) access.Resource {
	return access.Resource{Kind: EnterpriseKind, ID: e.ID, Jurisdiction: e.Region}
}

// RegisterEnterprise adds or replaces an enterprise and tiers it from its
// credit and the highest level of its risk points (Point.Enterprise). The
// actor needs ActionRegister on the enterprise's region.
func (s *Service) RegisterEnterprise(ctx context.Context, e Enterprise) (Enterprise, error) {
	e = e.clone()
	switch {
	case e.ID == "" || len(e.ID) > 64 || strings.ContainsAny(e.ID, " \t\n"):
		return Enterprise{}, invalid("enterprise.id", "1–64 bytes without spaces")
	case strings.TrimSpace(e.Name) == "":
		return Enterprise{}, missing("enterprise.name", "an enterprise needs a name")
	}
	if _, err := s.regions.Unit(e.Region); err != nil {
		return Enterprise{}, &InputError{Field: "enterprise.region", Err: err}
	}
	if _, err := s.authorize(ctx, ActionRegister, enterpriseResource(&e)); err != nil {
		return Enterprise{}, err
	}
	if err := s.tier(ctx, &e); err != nil {
		return Enterprise{}, err
	}
	e.Version = 0
	if prev, err := s.store.Enterprise(ctx, e.ID); err == nil {
		e.Version = prev.Version
	} else if !errors.Is(err, ErrNotFound) {
		return Enterprise{}, err
	}
	e.Version++
	if err := s.store.Apply(ctx, Change{PutEnterprises: []Enterprise{e}}); err != nil {
		return Enterprise{}, err
	}
	return e.clone(), nil
}

// tier scores e from its points.
func (s *Service) tier(ctx context.Context, e *Enterprise) error {
	highest := None
	q := Query{Enterprise: e.ID, Limit: MaxLimit}
	for {
		page, err := s.store.Points(ctx, q)
		if err != nil {
			return err
		}
		for _, p := range page.Points {
			highest = Max(highest, p.Level.Colour)
		}
		if page.Next == [16]byte{} {
			break
		}
		q.After = page.Next
	}
	tier, d, err := s.tiering.Score(e, highest)
	if err != nil {
		return err
	}
	e.Tier, e.TierDerivation = tier, d
	return nil
}

// Retier scores an enterprise again (after its points' levels or its
// credit changed). The actor needs ActionRegister on its region.
func (s *Service) Retier(ctx context.Context, id string) (Enterprise, error) {
	e, err := s.store.Enterprise(ctx, id)
	if err != nil {
		return Enterprise{}, err
	}
	return s.RegisterEnterprise(ctx, e)
}
