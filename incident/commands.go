package incident

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/govkit/govkit/access"
)

// maxNote bounds notes and reasons.
const maxNote = 4000

func checkNote(field, note string, required bool) error {
	switch {
	case required && strings.TrimSpace(note) == "":
		return &ReportError{Field: field, Reason: "required"}
	case len(note) > maxNote:
		return &ReportError{Field: field, Reason: "longer than 4000 bytes"}
	}
	return nil
}

// Register accepts a reported or triaged case (立案). A registration after
// the category's register deadline is recorded as late.
func (s *Service) Register(ctx context.Context, id uuid.UUID, note string) (Incident, error) {
	if err := checkNote("note", note, false); err != nil {
		return Incident{}, err
	}
	return s.command(ctx, id, ActionRegister, func(inc *Incident, _ string, now time.Time) (step, error) {
		wasLate := late(inc, now)
		if err := move(inc, Registered, Reported, Triage); err != nil {
			return step{}, err
		}
		inc.Times.Registered = now
		inc.SLA = Clock{Phase: Registered}
		return step{action: "register", event: EventRegistered, note: note, late: wasLate}, nil
	})
}

// Reject declines a reported or triaged case (不予立案), with a reason.
func (s *Service) Reject(ctx context.Context, id uuid.UUID, reason string) (Incident, error) {
	if err := checkNote("reason", reason, true); err != nil {
		return Incident{}, err
	}
	return s.command(ctx, id, ActionRegister, func(inc *Incident, _ string, now time.Time) (step, error) {
		wasLate := late(inc, now)
		if err := move(inc, Rejected, Reported, Triage); err != nil {
			return step{}, err
		}
		inc.SLA = Clock{Phase: Rejected}
		return step{action: "reject", event: EventRejected, note: reason, late: wasLate}, nil
	})
}

// MarkDispatched records that dispatch has sent the case to its handlers
// (派遣); the disposal deadline starts. note says to whom.
func (s *Service) MarkDispatched(ctx context.Context, id uuid.UUID, note string) (Incident, error) {
	if err := checkNote("note", note, false); err != nil {
		return Incident{}, err
	}
	return s.command(ctx, id, ActionDispatch, func(inc *Incident, _ string, now time.Time) (step, error) {
		if err := move(inc, Dispatched, Registered); err != nil {
			return step{}, err
		}
		if inc.Times.Dispatched.IsZero() {
			inc.Times.Dispatched = now
		}
		s.startPhase(inc, now)
		return step{action: "dispatch", event: EventDispatched, note: note}, nil
	})
}

// Return sends a dispatched case back for re-dispatch (退回), with a reason.
func (s *Service) Return(ctx context.Context, id uuid.UUID, reason string) (Incident, error) {
	if err := checkNote("reason", reason, true); err != nil {
		return Incident{}, err
	}
	return s.command(ctx, id, ActionDispatch, func(inc *Incident, _ string, now time.Time) (step, error) {
		if err := move(inc, Registered, Dispatched); err != nil {
			return step{}, err
		}
		inc.SLA = Clock{Phase: Registered}
		return step{action: "return", event: EventReturned, note: reason}, nil
	})
}

// Start records that the acting handler has taken the case in hand.
func (s *Service) Start(ctx context.Context, id uuid.UUID, note string) (Incident, error) {
	if err := checkNote("note", note, false); err != nil {
		return Incident{}, err
	}
	return s.command(ctx, id, ActionHandle, func(inc *Incident, actor string, now time.Time) (step, error) {
		if err := move(inc, InProgress, Dispatched); err != nil {
			return step{}, err
		}
		if inc.Times.Started.IsZero() {
			inc.Times.Started = now
		}
		addHandler(inc, actor)
		inc.SLA.Phase = InProgress // the disposal deadline runs on
		return step{action: "start", event: EventStarted, note: note}, nil
	})
}

func addHandler(inc *Incident, actor string) {
	if actor != "" && !slices.Contains(inc.Handlers, actor) {
		inc.Handlers = append(inc.Handlers, actor)
	}
}

// Dispose records that the handler has finished (处置完毕), with evidence of
// the result; the verification deadline starts.
func (s *Service) Dispose(ctx context.Context, id uuid.UUID, note string, evidence ...Evidence) (Incident, error) {
	if err := checkNote("note", note, false); err != nil {
		return Incident{}, err
	}
	if err := checkEvidence(evidence); err != nil {
		return Incident{}, err
	}
	return s.command(ctx, id, ActionHandle, func(inc *Incident, actor string, now time.Time) (step, error) {
		wasLate := late(inc, now)
		if err := move(inc, Disposed, InProgress); err != nil {
			return step{}, err
		}
		inc.Times.Disposed = now
		inc.Evidence = append(inc.Evidence, evidence...)
		addHandler(inc, actor)
		s.startPhase(inc, now)
		return step{action: "dispose", event: EventDisposed, note: note, evidence: evidence, late: wasLate}, nil
	})
}

// BeginVerification hands a disposed case to a verifier (核查).
func (s *Service) BeginVerification(ctx context.Context, id uuid.UUID, note string) (Incident, error) {
	if err := checkNote("note", note, false); err != nil {
		return Incident{}, err
	}
	return s.command(ctx, id, ActionVerify, func(inc *Incident, _ string, now time.Time) (step, error) {
		if err := move(inc, Verifying, Disposed); err != nil {
			return step{}, err
		}
		inc.SLA.Phase = Verifying // the verification deadline runs on
		return step{action: "begin-verification", event: EventVerifying, note: note}, nil
	})
}

// Verify records the verifier's finding. Passed closes the case as Fixed;
// otherwise it goes back to the handlers for rework with a fresh disposal
// deadline. The verifier must not be one of the case's handlers.
func (s *Service) Verify(ctx context.Context, id uuid.UUID, passed bool, note string, evidence ...Evidence) (Incident, error) {
	if err := checkNote("note", note, !passed); err != nil {
		return Incident{}, err
	}
	if err := checkEvidence(evidence); err != nil {
		return Incident{}, err
	}
	return s.command(ctx, id, ActionVerify, func(inc *Incident, actor string, now time.Time) (step, error) {
		if inc.Status != Verifying {
			return step{}, &TransitionError{ID: inc.ID, From: inc.Status, To: Closed, Reason: "only a case under verification can be verified"}
		}
		if err := access.HandlerNotVerifier.Check(actor, inc.Handlers...); err != nil {
			return step{}, err
		}
		wasLate := late(inc, now)
		inc.Times.Verified = now
		inc.Evidence = append(inc.Evidence, evidence...)
		if !passed {
			inc.Status = InProgress
			inc.Reworks++
			s.startPhase(inc, now) // a fresh disposal deadline
			return step{action: "rework", event: EventReworked, note: note, evidence: evidence, late: wasLate}, nil
		}
		inc.Status, inc.Resolution, inc.Times.Closed = Closed, Fixed, now
		inc.SLA = Clock{Phase: Closed}
		return step{action: "verify", event: EventClosed, note: note, evidence: evidence, late: wasLate}, nil
	})
}

// Close ends an open case with a resolution other than Fixed (which only
// verification gives) or Duplicate (which only Merge gives): not this
// authority's matter, no further action, referred elsewhere, cancelled.
func (s *Service) Close(ctx context.Context, id uuid.UUID, r Resolution, note string) (Incident, error) {
	if r == Fixed || r == Duplicate || r < Fixed || r > Cancelled {
		return Incident{}, &ReportError{Field: "resolution", Reason: "close with not-responsible, no-further-action, referred or cancelled; fixed comes from verification and duplicate from merging"}
	}
	if err := checkNote("note", note, true); err != nil {
		return Incident{}, err
	}
	return s.command(ctx, id, ActionClose, func(inc *Incident, _ string, now time.Time) (step, error) {
		if !CanClose(inc.Status, r) {
			return step{}, &TransitionError{ID: inc.ID, From: inc.Status, To: Closed, Reason: "the case is not open"}
		}
		inc.Status, inc.Resolution, inc.Times.Closed = Closed, r, now
		inc.SLA = Clock{Phase: Closed}
		return step{action: "close", event: EventClosed, note: note}, nil
	})
}

// Evaluate records the reporter's rating of the outcome, 1 (very
// dissatisfied) to 5 (very satisfied).
func (s *Service) Evaluate(ctx context.Context, id uuid.UUID, rating int, note string) (Incident, error) {
	if rating < 1 || rating > 5 {
		return Incident{}, &ReportError{Field: "rating", Reason: "must be 1 to 5"}
	}
	if err := checkNote("note", note, false); err != nil {
		return Incident{}, err
	}
	return s.command(ctx, id, ActionEvaluate, func(inc *Incident, _ string, now time.Time) (step, error) {
		if err := move(inc, Evaluated, Closed); err != nil {
			return step{}, err
		}
		inc.Rating, inc.Times.Evaluated = rating, now
		return step{action: "evaluate", event: EventEvaluated, note: note}, nil
	})
}

// Reopen brings a closed case back for re-dispatch, with a reason: the
// problem came back, or the rating revealed it was never fixed.
func (s *Service) Reopen(ctx context.Context, id uuid.UUID, reason string) (Incident, error) {
	if err := checkNote("reason", reason, true); err != nil {
		return Incident{}, err
	}
	return s.command(ctx, id, ActionReopen, func(inc *Incident, _ string, now time.Time) (step, error) {
		if inc.Resolution == Duplicate {
			return step{}, &TransitionError{ID: inc.ID, From: inc.Status, To: Registered, Reason: "a merged duplicate is reopened through the case it was merged into"}
		}
		if err := move(inc, Registered, Closed, Evaluated); err != nil {
			return step{}, err
		}
		inc.Reopens++
		inc.Resolution, inc.Rating = 0, 0
		inc.Times.Closed, inc.Times.Evaluated = time.Time{}, time.Time{}
		inc.SLA = Clock{Phase: Registered}
		return step{action: "reopen", event: EventReopened, note: reason}, nil
	})
}

// PauseSLA stops the case's SLA clock, for instance while waiting for the
// citizen or during an approved extension; the working time paused is
// added to the deadline on ResumeSLA.
func (s *Service) PauseSLA(ctx context.Context, id uuid.UUID, reason string) (Incident, error) {
	if err := checkNote("reason", reason, true); err != nil {
		return Incident{}, err
	}
	return s.command(ctx, id, ActionPauseSLA, func(inc *Incident, _ string, now time.Time) (step, error) {
		switch {
		case !inc.Status.Open():
			return step{}, &TransitionError{ID: inc.ID, From: inc.Status, To: inc.Status, Reason: "a closed case has no SLA clock"}
		case !inc.SLA.PausedAt.IsZero():
			return step{}, &TransitionError{ID: inc.ID, From: inc.Status, To: inc.Status, Reason: "the SLA clock is already paused"}
		}
		inc.SLA.PausedAt, inc.SLA.Reason = now, reason
		return step{action: "pause-sla", event: EventPaused, note: reason}, nil
	})
}

// ResumeSLA restarts a paused SLA clock, moving the deadline by the working
// time that passed while it was paused.
func (s *Service) ResumeSLA(ctx context.Context, id uuid.UUID, note string) (Incident, error) {
	if err := checkNote("note", note, false); err != nil {
		return Incident{}, err
	}
	return s.command(ctx, id, ActionPauseSLA, func(inc *Incident, _ string, now time.Time) (step, error) {
		if inc.SLA.PausedAt.IsZero() {
			return step{}, &TransitionError{ID: inc.ID, From: inc.Status, To: inc.Status, Reason: "the SLA clock is not paused"}
		}
		if paused := s.cal.WorkingDuration(inc.SLA.PausedAt, now); paused > 0 && !inc.SLA.Deadline.IsZero() && !inc.SLA.Overdue {
			inc.SLA.Deadline = s.deadline(inc.SLA.Deadline, paused)
		}
		inc.SLA.PausedAt, inc.SLA.Reason = time.Time{}, ""
		return step{action: "resume-sla", event: EventResumed, note: note}, nil
	})
}

// checkOverdue runs when a deadline may have passed: it marks the case
// overdue, records it on the timeline and announces it, unless the case
// has moved on, is paused, or its deadline was extended.
func (s *Service) checkOverdue(id uuid.UUID) {
	ctx := context.Background()
	for range maxAttempts {
		cur, err := s.store.Get(ctx, id)
		if err != nil {
			s.log.Warn("incident: overdue check", "id", id, "err", err)
			return
		}
		now := s.now()
		dl := cur.SLA.Deadline
		if !cur.Status.Open() || dl.IsZero() || cur.SLA.Overdue || !cur.SLA.PausedAt.IsZero() {
			return
		}
		if now.Before(dl) {
			s.due.Add(id, dl) // the deadline moved later
			return
		}
		next := cur.Clone()
		next.SLA.Overdue = true
		next.Version++
		c := Change{Update: []Incident{next}}
		st := step{action: "overdue", event: EventOverdue, note: "deadline " + dl.Format(time.RFC3339) + " passed"}
		if err := s.record(ctx, &c, &next, cur.Status, SystemActor, now, st); err != nil {
			s.log.Warn("incident: overdue check", "id", id, "err", err)
			return
		}
		err = s.store.Apply(ctx, c)
		if err == nil {
			s.after(ctx, &next)
			return
		}
		if !errors.Is(err, ErrConflict) {
			s.log.Warn("incident: marking overdue", "id", id, "err", err)
			return
		}
	}
}
