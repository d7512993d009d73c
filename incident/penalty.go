package incident

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/cockroachdb/apd/v3"
	"github.com/google/uuid"
	"github.com/govkit/govkit/pii"
)

// Penalty is an administrative penalty (行政处罚) decided while a case was
// handled: an overloaded muck truck's operator fined 2,000 yuan. The fine
// carries legal weight, so it is a decimal, never a float.
type Penalty struct {
	// Decision is the penalty decision's number, e.g. 九交执罚〔2024〕0412号:
	// required, at most 128 bytes, unique within the case.
	Decision string
	// Basis is the legal basis cited, optional, at most 4000 bytes.
	Basis string
	// Payer is the party fined: a person's or an enterprise's name
	// (pii.NewName), personal data that masks itself. Optional.
	Payer pii.Data
	// Amount is the fine in yuan: finite, positive, a whole number of fen
	// and at most MaxFine. The Service keeps it at two decimal places.
	Amount apd.Decimal
	// DecidedBy and DecidedAt are set by the Service from the acting actor
	// and its clock; whatever the caller puts there is ignored.
	DecidedBy string
	DecidedAt time.Time
}

// MaxFine is the largest fine, in yuan, that RecordPenalty accepts: a
// bound against a slipped digit, well above what a city's enforcement
// decides.
const MaxFine = 100_000_000

// ErrDuplicatePenalty: the case already holds a different penalty with that
// decision number (another amount, basis or payer, or recorded by someone
// else). RecordPenalty returns it inside a *ReportError. Repeating a call
// that succeeded is not a duplicate: it returns the case as it is.
var ErrDuplicatePenalty = errors.New("incident: penalty decision already recorded")

// errPenaltyRecorded stops a command whose penalty the case already holds,
// recorded by the same actor: the call is a retry.
var errPenaltyRecorded = errors.New("incident: penalty already recorded by this call")

// Limits of a penalty's text fields, in bytes.
const (
	maxDecision = 128
	maxBasis    = 4000
)

var (
	maxFine = apd.New(MaxFine, 0)
	// fenContext quantizes and adds amounts: 34 digits hold any sum of
	// fines exactly.
	fenContext = apd.Context{Precision: 34, MaxExponent: apd.MaxExponent, MinExponent: apd.MinExponent,
		Rounding: apd.RoundHalfEven, Traps: apd.DefaultTraps}
)

// clone returns a copy of p that shares no memory with it: an apd.Decimal
// holds a big.Int behind a pointer, which a plain copy would share. A
// pii.Data is immutable and may be shared.
func (p Penalty) clone() Penalty {
	out := p
	out.Amount = apd.Decimal{}
	out.Amount.Set(&p.Amount)
	return out
}

// fine returns the amount as yuan with two decimal places, as notes and
// events show it.
func (p *Penalty) fine() string { return p.Amount.Text('f') }

// checkPenalty validates p and returns it normalised: the decision without
// surrounding white space, the amount at exactly two decimal places, and
// DecidedBy and DecidedAt cleared for the Service to set.
func checkPenalty(p Penalty) (Penalty, error) {
	bad := func(field, reason string) (Penalty, error) {
		return Penalty{}, &ReportError{Field: "penalty." + field, Reason: reason}
	}
	p.Decision = strings.TrimSpace(p.Decision)
	switch {
	case p.Decision == "":
		return bad("decision", "required")
	case len(p.Decision) > maxDecision:
		return bad("decision", "longer than 128 bytes")
	case !utf8.ValidString(p.Decision) || strings.ContainsFunc(p.Decision, unicode.IsControl):
		// It goes into notes, events and logs: no line breaks or escapes.
		return bad("decision", "not UTF-8 or holds control characters")
	case len(p.Basis) > maxBasis || !utf8.ValidString(p.Basis):
		return bad("basis", "longer than 4000 bytes or not UTF-8")
	case !p.Payer.IsZero() && p.Payer.Kind() != pii.Name:
		return bad("payer", "must be a person's or an enterprise's name (pii.NewName)")
	}
	a := &p.Amount
	switch {
	case a.Form != apd.Finite:
		return bad("amount", "must be a finite number of yuan")
	case a.Sign() <= 0:
		return bad("amount", "must be positive")
	case a.Cmp(maxFine) > 0:
		return bad("amount", "more than 100000000 yuan")
	}
	var reduced apd.Decimal
	if reduced.Reduce(a); reduced.Exponent < -2 {
		return bad("amount", "finer than a fen (more than two decimal places)")
	}
	var fen apd.Decimal
	if cond, err := fenContext.Quantize(&fen, a, -2); err != nil || cond.Inexact() {
		return bad("amount", "cannot be held at two decimal places")
	}
	p.Amount = fen
	p.DecidedBy, p.DecidedAt = "", time.Time{}
	return p, nil
}

// RecordPenalty records an administrative penalty decided on case id by
// the handling department. The acting actor needs ActionHandle on the case
// and becomes one of its handlers, so that whoever decided the fine does
// not also verify the case. Penalties are recorded while the case is in
// progress, disposed or under verification; in any other status the call
// returns a *TransitionError. A malformed penalty, or another penalty with
// a decision number the case already holds (ErrDuplicatePenalty), returns
// a *ReportError. Either way the case is unchanged.
//
// RecordPenalty is safe to retry: when the case already holds the same
// penalty (decision, amount, basis and payer), recorded by the same actor,
// it returns the case unchanged and nil, whatever the case's status now,
// with no second timeline entry or event.
//
// The penalty goes on the timeline (action "penalty", with the decision and
// the fine in the note) and is announced as EventPenalized, whose
// EventData carries Decision and Fine but never the payer.
func (s *Service) RecordPenalty(ctx context.Context, id uuid.UUID, p Penalty) (Incident, error) {
	p, err := checkPenalty(p)
	if err != nil {
		return Incident{}, err
	}
	var held Incident // the case, when it holds this penalty already
	inc, err := s.command(ctx, id, ActionHandle, func(inc *Incident, actor string, now time.Time) (step, error) {
		if i := slices.IndexFunc(inc.Penalties, func(q Penalty) bool { return q.Decision == p.Decision }); i >= 0 {
			if !inc.Penalties[i].sameAs(&p, actor) {
				return step{}, &ReportError{Field: "penalty.decision", Reason: "already recorded on this case", Err: ErrDuplicatePenalty}
			}
			held = *inc
			return step{}, errPenaltyRecorded
		}
		switch inc.Status {
		case InProgress, Disposed, Verifying:
		default:
			return step{}, &TransitionError{ID: inc.ID, From: inc.Status, To: inc.Status,
				Reason: "penalties are recorded while the case is in progress, disposed or under verification"}
		}
		rec := p.clone() // a retry after a conflict runs this again
		rec.DecidedBy, rec.DecidedAt = actor, now
		inc.Penalties = append(inc.Penalties, rec)
		addHandler(inc, actor)
		return step{
			action: "penalty", event: EventPenalized, note: rec.Decision + ": fine " + rec.fine() + " yuan",
			decision: rec.Decision, fine: rec.fine(),
		}, nil
	})
	if errors.Is(err, errPenaltyRecorded) {
		return held, nil
	}
	return inc, err
}

// sameAs reports whether q, as stored, is the penalty p (normalised by
// checkPenalty) that actor records.
func (q *Penalty) sameAs(p *Penalty, actor string) bool {
	return q.Decision == p.Decision && q.Basis == p.Basis && q.Payer.Equal(p.Payer) &&
		q.Amount.Cmp(&p.Amount) == 0 && q.DecidedBy == actor
}
