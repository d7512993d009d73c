package incident

import (
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/pii"
	"github.com/govkit/govkit/region"
)

// Report is what arrives from a hotline operator, an app, a grid member's
// phone, a camera or a sensor.
type Report struct {
	// Key makes the report idempotent: the same key twice yields one case.
	// Use the source system's message ID or a client-generated UUID.
	Key         string
	Channel     Channel
	Category    string
	Attributes  map[string][]string // Open311-style answers, by attribute code
	Description string
	Point       geo.Point
	CRS         geo.CRS // the system Point is in; zero means WGS-84
	Address     string
	Accuracy    float64  // metres
	Priority    Priority // zero takes the category's
	Confidence  float64  // 0–1, required for machine channels
	Evidence    []Evidence
	// Anonymous leaves the reporter's actor ID off the case.
	Anonymous bool
	// Name and Phone are the reporter's contact details, if given.
	Name, Phone pii.Data
	// ExternalSystem and ExternalID name the case in the source system.
	ExternalSystem, ExternalID string
}

// maxDescription bounds a report's description.
const maxDescription = 4000

// DefaultMaxSuggestions is Config.MaxSuggestions when unset.
const DefaultMaxSuggestions = 10

// Receipt says what became of a report.
type Receipt struct {
	Incident Incident
	// Replayed is true when the report's key was seen before: Incident is
	// the case that report made, and nothing changed.
	Replayed bool
	// MergedInto is set when the auto-merge policy attached the report to
	// an existing case (Incident) instead of opening a new one.
	MergedInto uuid.UUID
	// Suggestions are open cases that may be the same problem, best first
	// (DuplicateScore), at most Config.MaxSuggestions of them.
	Suggestions []Suggestion
}

// Suggestion is an open case that may duplicate a report.
type Suggestion struct {
	ID       uuid.UUID
	Distance float64       // metres
	Age      time.Duration // how long before the report it was reported
	Score    float64       // DuplicateScore, 0–1: nearer and more recent is higher
	Incident Incident
}

func checkEvidence(ev []Evidence) error {
	for i, e := range ev {
		field := fmt.Sprintf("evidence[%d]", i)
		if strings.TrimSpace(e.URI) == "" || len(e.URI) > 2048 {
			return &ReportError{Field: field + ".uri", Reason: "required, at most 2048 bytes"}
		}
		if b, err := hex.DecodeString(e.SHA256); err != nil || len(b) != 32 {
			return &ReportError{Field: field + ".sha256", Reason: "must be 64 hex digits"}
		}
	}
	return nil
}

// validate checks a report and returns its location in WGS-84.
func (s *Service) validate(r *Report) (geo.Point, []region.Code, error) {
	bad := func(field, reason string, err error) error {
		return &ReportError{Field: field, Reason: reason, Err: err}
	}
	if r.Channel < Hotline || r.Channel > Agency {
		return geo.Point{}, nil, bad("channel", "unknown", nil)
	}
	if len(r.Key) > 256 {
		return geo.Point{}, nil, bad("key", "longer than 256 bytes", nil)
	}
	if err := s.cat.Validate(r.Category, r.Attributes); err != nil {
		field := "category"
		if errors.Is(err, ErrInvalidAttribute) {
			field = "attributes"
		}
		return geo.Point{}, nil, bad(field, "rejected", err)
	}
	if len(r.Description) > maxDescription || !utf8.ValidString(r.Description) {
		return geo.Point{}, nil, bad("description", "longer than 4000 bytes or not UTF-8", nil)
	}
	if len(r.Address) > 512 {
		return geo.Point{}, nil, bad("address", "longer than 512 bytes", nil)
	}
	if r.Accuracy < 0 || r.Accuracy != r.Accuracy {
		return geo.Point{}, nil, bad("accuracy", "must be a non-negative number of metres", nil)
	}
	if r.Priority < 0 || r.Priority > Urgent {
		return geo.Point{}, nil, bad("priority", "unknown", nil)
	}
	if r.Confidence < 0 || r.Confidence > 1 || r.Confidence != r.Confidence {
		return geo.Point{}, nil, bad("confidence", "must be within 0–1", nil)
	}
	if r.Channel.Machine() && r.Confidence == 0 {
		return geo.Point{}, nil, bad("confidence", "a machine report must say how confident it is", nil)
	}
	if err := checkEvidence(r.Evidence); err != nil {
		return geo.Point{}, nil, err
	}
	if (r.ExternalSystem == "") != (r.ExternalID == "") {
		return geo.Point{}, nil, bad("external_id", "system and ID go together", nil)
	}
	crs := r.CRS
	if crs == 0 {
		crs = geo.WGS84
	}
	p, err := geo.Convert(r.Point, crs, geo.WGS84)
	if err != nil {
		return geo.Point{}, nil, bad("point", "invalid", err)
	}
	path, err := s.regions.LocatePath(p)
	if err != nil {
		return geo.Point{}, nil, bad("point", "outside the city's grids", err)
	}
	return p, path, nil
}

// Report takes in a report. It validates it (category, attributes, place,
// evidence), locates it to its grid, asks the authorizer for ActionReport
// in that grid, and then:
//
//   - if the key was seen before, returns the case that report made;
//   - if the auto-merge policy accepts the best duplicate candidate,
//     attaches the report to that case;
//   - otherwise opens a case: registered at once for machine reports at or
//     above the confidence threshold, in triage below it, and reported
//     (awaiting registration) for people's reports.
//
// The receipt lists duplicate suggestions either way.
func (s *Service) Report(ctx context.Context, r Report) (Receipt, error) {
	// A replayed key is not looked up first: the store refuses a second
	// case with the key, and the refusal names the case to answer with
	// (replayed). That spares every new report a read, a round trip on a
	// database. Only attaching to another case looks first (replay).
	p, path, err := s.validate(&r)
	if err != nil {
		return Receipt{}, err
	}
	cat, _ := s.cat.Category(r.Category) // validated above
	now := s.now()
	id, err := uuid.NewV7()
	if err != nil {
		return Receipt{}, err
	}
	inc := Incident{
		ID: id, Channel: r.Channel, Category: r.Category, Attributes: cloneAttrs(r.Attributes),
		Description: r.Description, Priority: cmp.Or(r.Priority, cat.Priority), Confidence: r.Confidence,
		Location: Location{Point: p, Address: r.Address, Accuracy: r.Accuracy, Path: path},
		Evidence: slices.Clone(r.Evidence), Status: Reported, Version: 1,
	}
	inc.Times.Reported = now
	if r.Key != "" {
		inc.Keys = []string{r.Key}
	}
	if r.ExternalSystem != "" {
		inc.ExternalIDs = map[string]string{r.ExternalSystem: r.ExternalID}
	}
	actor, err := s.authorize(ctx, ActionReport, &inc)
	if err != nil {
		return Receipt{}, err
	}
	rep := Reporter{Channel: r.Channel, Name: r.Name, Phone: r.Phone, ReportedAt: now, ExternalID: r.ExternalID}
	if !r.Anonymous {
		rep.ActorID = actor
	}
	inc.Reporters = []Reporter{rep}

	if s.cfg.AutoMerge != nil {
		mu := s.mergeLock(inc.Category)
		mu.Lock()
		defer mu.Unlock()
		if ml, ok := s.store.(MergeLocker); ok {
			unlock, err := ml.LockMerges(ctx, inc.Category)
			if err != nil {
				return Receipt{}, fmt.Errorf("incident: taking the merge lock of %s: %w", inc.Category, err)
			}
			defer unlock()
		}
	}
	suggestions, err := s.suggest(ctx, &inc, now)
	if err != nil {
		return Receipt{}, err
	}
	if len(suggestions) > 0 && s.cfg.AutoMerge != nil && s.cfg.AutoMerge(&inc, suggestions[0]) {
		// The case a replay joined holds its key already, and would
		// take the report twice.
		if rec, ok, err := s.replay(ctx, r.Key); ok || err != nil {
			return rec, err
		}
		merged, err := s.attach(ctx, suggestions[0].ID, &inc, actor, now)
		if err == nil {
			return Receipt{Incident: merged, MergedInto: merged.ID, Suggestions: suggestions}, nil
		}
		if !errors.Is(err, ErrInvalidTransition) && !errors.Is(err, ErrConflict) {
			return s.replayed(ctx, r.Key, err)
		}
		// The candidate closed or kept changing: open a case of its own.
	}

	st := step{action: "report", event: EventReported, note: r.Description, evidence: r.Evidence}
	switch {
	case r.Channel.Machine() && r.Confidence < s.cfg.MinConfidence:
		inc.Status = Triage
	case r.Channel.Machine():
		inc.Status, inc.Times.Registered = Registered, now
		st.action, st.event = "report-and-register", EventRegistered
	}
	if inc.Status == Registered {
		inc.SLA = Clock{Phase: Registered}
	} else {
		s.startPhase(&inc, now)
	}
	c := Change{Create: []Incident{inc}}
	if err := s.record(ctx, &c, &inc, 0, actor, now, st); err != nil {
		return Receipt{}, err
	}
	if err := s.store.Apply(ctx, c); err != nil {
		return s.replayed(ctx, r.Key, err)
	}
	s.after(ctx, &inc)
	return Receipt{Incident: inc, Suggestions: suggestions}, nil
}

// mergeLock returns the process's merge lock of category.
func (s *Service) mergeLock(category string) *sync.Mutex {
	if mu, ok := s.merging.Load(category); ok {
		return mu.(*sync.Mutex)
	}
	mu, _ := s.merging.LoadOrStore(category, new(sync.Mutex))
	return mu.(*sync.Mutex)
}

// replay answers a report whose key a case holds already, as the first
// report was answered; ok is false if no case holds key.
func (s *Service) replay(ctx context.Context, key string) (rec Receipt, ok bool, err error) {
	if key == "" {
		return Receipt{}, false, nil
	}
	inc, err := s.store.ByKey(ctx, key)
	switch {
	case errors.Is(err, ErrNotFound):
		return Receipt{}, false, nil
	case err != nil:
		return Receipt{}, false, err
	}
	rec, err = s.replayOf(ctx, inc)
	return rec, err == nil, err
}

// replayed turns a refused key into a replay: another request with the
// same key, earlier or at the same time, created the case.
func (s *Service) replayed(ctx context.Context, key string, err error) (Receipt, error) {
	var dup *DuplicateKeyError
	if key == "" || !errors.As(err, &dup) {
		return Receipt{}, err
	}
	inc, gerr := s.store.Get(ctx, dup.Existing)
	if gerr != nil {
		return Receipt{}, gerr
	}
	return s.replayOf(ctx, inc)
}

// replayOf answers a replayed report with inc, the case its key made.
// Reporting is the permission a replay needs, not reading.
func (s *Service) replayOf(ctx context.Context, inc Incident) (Receipt, error) {
	if _, err := s.authorize(ctx, ActionReport, &inc); err != nil {
		return Receipt{}, err
	}
	return Receipt{Incident: inc, Replayed: true}, nil
}

func cloneAttrs(a map[string][]string) map[string][]string {
	if a == nil {
		return nil
	}
	out := make(map[string][]string, len(a))
	for k, v := range a {
		out[k] = slices.Clone(v)
	}
	return out
}

// suggest ranks the open cases that may duplicate inc: same category,
// within DuplicateRadius, reported within DuplicateWindow.
func (s *Service) suggest(ctx context.Context, inc *Incident, now time.Time) ([]Suggestion, error) {
	q := NearbyQuery{Category: inc.Category, Center: inc.Location.Point, Meters: s.cfg.DuplicateRadius,
		Since: now.Add(-s.cfg.DuplicateWindow), Now: now, Limit: s.cfg.MaxSuggestions + 1}
	near, err := s.store.Nearby(ctx, q)
	if err != nil {
		return nil, err
	}
	out := make([]Suggestion, 0, len(near))
	for _, c := range near {
		if c.ID == inc.ID || len(out) == s.cfg.MaxSuggestions {
			continue // asked for one more, in case the case itself is among them
		}
		d := geo.Distance(inc.Location.Point, c.Location.Point)
		out = append(out, Suggestion{ID: c.ID, Distance: d, Age: max(0, now.Sub(c.Times.Reported)), Score: q.Score(d, c.Times.Reported), Incident: c})
	}
	return out, nil
}

// Suggestions returns the open cases that may duplicate case id, best first.
func (s *Service) Suggestions(ctx context.Context, id uuid.UUID) ([]Suggestion, error) {
	inc, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.suggest(ctx, &inc, s.now())
}

// SameAttribute returns an AutoMerge policy that merges a report into the
// best candidate when both carry the same value of attribute, such as the
// asset ID of a hydrant or a manhole cover: two alarms on one asset are one
// case.
func SameAttribute(attribute string) func(*Incident, Suggestion) bool {
	return func(r *Incident, c Suggestion) bool {
		a, b := r.Attributes[attribute], c.Incident.Attributes[attribute]
		return len(a) > 0 && slices.Equal(a, b)
	}
}

// attach adds the report held in r (not stored) to the open case id, as a
// further reporter with its key, evidence and external ID.
func (s *Service) attach(ctx context.Context, id uuid.UUID, r *Incident, actor string, now time.Time) (Incident, error) {
	return s.command(ctx, id, ActionReport, func(inc *Incident, _ string, _ time.Time) (step, error) {
		if !inc.Status.Open() {
			return step{}, &TransitionError{ID: inc.ID, From: inc.Status, To: inc.Status, Reason: "the case is no longer open"}
		}
		inc.Reporters = append(inc.Reporters, r.Reporters...)
		inc.Keys = append(inc.Keys, r.Keys...)
		inc.Evidence = append(inc.Evidence, r.Evidence...)
		if len(r.ExternalIDs) > 0 && inc.ExternalIDs == nil {
			inc.ExternalIDs = map[string]string{}
		}
		maps.Copy(inc.ExternalIDs, r.ExternalIDs)
		inc.Priority = max(inc.Priority, r.Priority)
		return step{action: "report-again", event: EventReportedAgain, note: r.Description, evidence: r.Evidence}, nil
	})
}
