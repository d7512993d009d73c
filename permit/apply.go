package permit

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/pii"
	"github.com/govkit/govkit/region"
)

// StartRequest opens an application for a bundle.
type StartRequest struct {
	// Key makes Start idempotent: the same key again returns the
	// application it started. Use a client-generated UUID.
	Key          string
	Template     string
	Version      int         // 0: the latest published version
	Jurisdiction region.Code // where it is handled; within the template's
	// OnBehalf, when the applicant acts for someone else.
	OnBehalf *Authorisation
}

// Start opens a draft application for a bundle, as the actor in ctx, who
// needs ActionApply in the jurisdiction. Acting for someone else needs a
// relationship the template allows and the document it rests on; the
// authorisation is recorded with the application and in its history.
func (s *Service) Start(ctx context.Context, r StartRequest) (Application, error) {
	if len(r.Key) > 256 {
		return Application{}, badCommand("key", "longer than 256 bytes")
	}
	if r.Key != "" {
		if a, err := s.store.ApplicationByKey(ctx, r.Key); err == nil {
			return s.replayStart(ctx, a)
		} else if !errors.Is(err, ErrNotFound) {
			return Application{}, err
		}
	}
	if !validToken(r.Template, false) {
		return Application{}, badCommand("template", "must name a template")
	}
	if r.Version < 0 {
		return Application{}, badCommand("version", "negative")
	}
	if err := s.knownUnit(r.Jurisdiction, "jurisdiction"); err != nil {
		return Application{}, err
	}
	c, err := s.compiledTemplate(ctx, r.Template, r.Version)
	if err != nil {
		return Application{}, err
	}
	if !r.Jurisdiction.Within(c.t.Jurisdiction) {
		return Application{}, badCommand("jurisdiction", "template %s is offered within %s only", c.t.ID, c.t.Jurisdiction)
	}
	who, _ := access.ActorFrom(ctx)
	actor, err := s.authorize(ctx, ActionApply, access.Resource{Kind: ResourceApplication, Jurisdiction: r.Jurisdiction, Owner: who.ID})
	if err != nil {
		return Application{}, err
	}
	now := s.now()
	var ob *Authorisation
	if r.OnBehalf != nil {
		auth := *r.OnBehalf
		if err := checkAuthorisation(&c.t, &auth, actor, now); err != nil {
			return Application{}, err
		}
		auth.RecordedBy, auth.RecordedAt, auth.Basis.Attached = actor, now, now
		ob = &auth
	}
	a := Application{
		ID: uuid.Must(uuid.NewV7()), Key: r.Key, Template: c.t.ID, TemplateVersion: c.t.Version,
		Jurisdiction: r.Jurisdiction, Applicant: actor, OnBehalf: ob, Status: Draft, Created: now, Version: 1,
	}
	for _, it := range c.t.Items {
		a.Items = append(a.Items, ItemState{Item: it.ID, Department: it.Department, Joint: it.Joint, Optional: it.Optional, Status: ItemWaiting})
	}
	a.Checks = checklist(&c.t)
	t := &tx{s: s, a: &a, c: c, now: now, actor: actor}
	t.step("started", "", fmt.Sprintf("%s version %d", c.t.ID, c.t.Version), nil)
	if ob != nil {
		t.step("authorisation-recorded", "", fmt.Sprintf("acting for %s as %s", ob.Principal, ob.Relationship), nil)
	}
	t.emit(Event{Event: "started"})
	err = s.store.Apply(ctx, Change{Applications: []Application{a}, Events: t.events})
	if errors.Is(err, ErrDuplicateKey) {
		// The same key raced in: absorb the duplicate.
		if held, e := s.store.ApplicationByKey(ctx, r.Key); e == nil {
			return s.replayStart(ctx, held)
		}
	}
	if err != nil {
		return Application{}, err
	}
	s.flush(ctx)
	return a, nil
}

func (s *Service) replayStart(ctx context.Context, a Application) (Application, error) {
	if _, err := s.authorize(ctx, ActionApply, appResource(&a)); err != nil {
		return Application{}, err
	}
	return a, nil
}

// checklist builds the review checklists: one per item, merged (lines
// with the same ID once) for the items of a joint review.
func checklist(t *Template) []CheckLine {
	var out []CheckLine
	at := map[string]int{}
	for _, it := range t.Items {
		for _, ch := range it.Checklist {
			if it.Joint == "" {
				out = append(out, CheckLine{ID: ch.ID, Text: ch.Text, Items: []string{it.ID}})
				continue
			}
			k := it.Joint + "\x00" + ch.ID
			if i, ok := at[k]; ok {
				out[i].Items = append(out[i].Items, it.ID)
				continue
			}
			at[k] = len(out)
			out = append(out, CheckLine{ID: ch.ID, Text: ch.Text, Joint: it.Joint, Items: []string{it.ID}})
		}
	}
	return out
}

func checkAuthorisation(t *Template, a *Authorisation, actor string, now time.Time) error {
	var errs formErrors
	switch {
	case len(t.Proxies) == 0:
		errs.add("on_behalf", "template %s does not allow applying for someone else", t.ID)
		return errs.err()
	case strings.TrimSpace(a.Principal) == "" || len(a.Principal) > 128:
		errs.add("on_behalf.principal", "the pseudonymous ID of the person represented is required")
	case a.Principal == actor:
		errs.add("on_behalf.principal", "an applicant cannot act for themselves")
	}
	if a.Name.Kind() != pii.Name {
		errs.add("on_behalf.name", "the name of the person represented is required")
	}
	if !a.IDNumber.IsZero() && a.IDNumber.Kind() != pii.IDNumber {
		errs.add("on_behalf.id_number", "not an ID number")
	}
	if !slices.Contains(t.Proxies, a.Relationship) {
		errs.add("on_behalf.relationship", "must be one of %s", strings.Join(t.Proxies, ", "))
	}
	if p := a.Basis.problem(); p != "" {
		errs.add("on_behalf.basis", "the document the authorisation rests on: %s", p)
	}
	if !a.ValidUntil.IsZero() && !a.ValidUntil.After(now) {
		errs.add("on_behalf.valid_until", "already expired")
	}
	return errs.err()
}

// applicantAuthz lets the applicant act on a draft or returned
// application.
func (s *Service) applicantAuthz(ctx context.Context) func(a *Application, c *compiled) (string, error) {
	return func(a *Application, c *compiled) (string, error) {
		return s.authorize(ctx, ActionApply, appResource(a))
	}
}

func (t *tx) requireStatus(action string, want ...Status) error {
	if slices.Contains(want, t.a.Status) {
		return nil
	}
	return &TransitionError{What: "application " + t.a.ID.String(), State: t.a.Status.String(), Action: action}
}

// PrefillRequest gives consent to ask registries for what they hold.
type PrefillRequest struct {
	Application uuid.UUID
	// Sources are the registries the applicant consents to (keys of
	// Config.Lookups that the template's fields name).
	Sources []string
	Key     string
	Version int64
}

// Prefill records the applicant's consent to the sources named, asks each
// for what it holds on the fields it may fill, and offers the values on
// the form: shown to the applicant, used only once accepted with Fill. No
// registry is asked without consent. Values a registry returns for other
// fields, or that fail validation, are dropped.
func (s *Service) Prefill(ctx context.Context, r PrefillRequest) (Application, error) {
	a, err := s.store.Application(ctx, r.Application)
	if err != nil {
		return Application{}, err
	}
	if _, err := s.authorize(ctx, ActionApply, appResource(&a)); err != nil {
		return Application{}, err
	}
	if a.seen(r.Key) {
		return a, nil
	}
	c, err := s.compiledTemplate(ctx, a.Template, a.TemplateVersion)
	if err != nil {
		return Application{}, err
	}
	if a.Status != Draft {
		return Application{}, &TransitionError{What: "application " + a.ID.String(), State: a.Status.String(), Action: "prefill"}
	}
	if len(r.Sources) == 0 {
		return Application{}, badCommand("sources", "consent to at least one source")
	}
	bySource := map[string][]string{}
	for _, id := range c.form {
		f, _ := c.fieldSpec(id)
		if f.Source != "" {
			bySource[f.Source] = append(bySource[f.Source], id)
		}
	}
	subject := a.Applicant
	if a.OnBehalf != nil {
		subject = a.OnBehalf.Principal
	}
	offers := map[string]Offer{}
	for i, src := range r.Sources {
		switch {
		case slices.Contains(r.Sources[:i], src):
			return Application{}, badCommand(fmt.Sprintf("sources[%d]", i), "source %q named twice", src)
		case len(bySource[src]) == 0:
			return Application{}, badCommand(fmt.Sprintf("sources[%d]", i), "no field of template %s is filled from %q", c.t.ID, src)
		case s.cfg.Lookups[src] == nil:
			return Application{}, badCommand(fmt.Sprintf("sources[%d]", i), "no lookup named %q is configured", src)
		}
		got, err := s.cfg.Lookups[src].Lookup(ctx, LookupQuery{Source: src, Subject: subject, Fields: slices.Clone(bySource[src])})
		if err != nil {
			return Application{}, fmt.Errorf("permit: lookup %s: %w", src, err)
		}
		for _, p := range got {
			if !slices.Contains(bySource[src], p.Field) {
				s.log.Warn("permit: lookup returned a field it may not fill", "source", src, "field", p.Field)
				continue
			}
			f, _ := c.fieldSpec(p.Field)
			var vals []Value
			for _, v := range p.Values {
				nv, why := normalise(f, v)
				if why != "" {
					s.log.Warn("permit: lookup returned an invalid value", "source", src, "field", p.Field, "reason", why)
					continue
				}
				if !slices.ContainsFunc(vals, nv.Equal) && len(vals) < 10 {
					vals = append(vals, nv)
				}
			}
			if len(vals) > 0 {
				offers[p.Field] = Offer{Source: src, Values: vals}
			}
		}
	}
	return s.update(ctx, r.Application, r.Version, r.Key, s.applicantAuthz(ctx), func(t *tx) error {
		if err := t.requireStatus("prefill", Draft); err != nil {
			return err
		}
		if t.a.Offers == nil {
			t.a.Offers = map[string]Offer{}
		}
		for _, src := range r.Sources {
			t.a.Consents = append(t.a.Consents, Consent{Source: src, By: t.actor, At: t.now})
			var fields []string
			for _, f := range bySource[src] {
				if o, ok := offers[f]; ok {
					o.At = t.now
					t.a.Offers[f] = o
					fields = append(fields, f)
				}
			}
			t.step("prefill-consented", "", "registry "+src, fields)
		}
		return nil
	})
}

// FillRequest answers fields of a draft.
type FillRequest struct {
	Application uuid.UUID
	// Answers by field ID; a zero Value clears the answer. Text given for
	// a personal field is validated and kept only as pii.Data.
	Answers map[string]Value
	// Accept uses registry offers: field ID → index of the offered value.
	Accept map[string]int
	// Documents by document ID; a zero Document removes the attachment.
	Documents map[string]Document
	Key       string
	Version   int64
}

// Fill records answers, accepted offers and documents on a draft. Every
// value is validated for its field; any problem fails the whole call with
// a *FormError listing each field at fault, and nothing changes.
func (s *Service) Fill(ctx context.Context, r FillRequest) (Application, error) {
	return s.update(ctx, r.Application, r.Version, r.Key, s.applicantAuthz(ctx), func(t *tx) error {
		if err := t.requireStatus("fill", Draft); err != nil {
			return err
		}
		var errs formErrors
		answers, docs := t.validateAnswers(&errs, r.Answers, r.Documents, nil)
		accepted := map[string]Answer{}
		for _, f := range sortedKeys(r.Accept) {
			k := r.Accept[f]
			o, ok := t.a.Offers[f]
			switch {
			case !ok:
				errs.add(f, "no registry value was offered")
			case k < 0 || k >= len(o.Values):
				errs.add(f, "no offered value %d", k)
			case hasKey(r.Answers, f):
				errs.add(f, "both answered and accepted from the registry")
			default:
				accepted[f] = Answer{Value: o.Values[k].clone(), Source: "registry:" + o.Source, At: t.now}
			}
		}
		if err := errs.err(); err != nil {
			return err
		}
		if t.a.Answers == nil {
			t.a.Answers = map[string]Answer{}
		}
		if t.a.Documents == nil {
			t.a.Documents = map[string]Document{}
		}
		var changed []string
		for f, v := range answers {
			if v.IsZero() {
				delete(t.a.Answers, f)
			} else {
				t.a.Answers[f] = Answer{Value: v, Source: "applicant", At: t.now}
			}
			changed = append(changed, f)
		}
		for f, ans := range accepted {
			t.a.Answers[f] = ans
			changed = append(changed, f)
		}
		for d, doc := range docs {
			if doc.URI == "" {
				delete(t.a.Documents, d)
			} else {
				t.a.Documents[d] = doc
			}
			changed = append(changed, "documents."+d)
		}
		sort.Strings(changed)
		t.step("filled", "", "", changed)
		return nil
	})
}

// validateAnswers normalises answers and documents for the form; allowed,
// if not nil, limits which fields and documents may be given. Problems
// are added to errs.
func (t *tx) validateAnswers(errs *formErrors, in map[string]Value, docsIn map[string]Document, allowed map[string]bool) (map[string]Value, map[string]Document) {
	out := map[string]Value{}
	for _, f := range sortedKeys(in) {
		spec, ok := t.c.fieldSpec(f)
		switch {
		case !ok:
			errs.add(f, "no such field in template %s", t.c.t.ID)
			continue
		case allowed != nil && !allowed[f]:
			errs.add(f, "not marked for correction")
			continue
		}
		v := in[f]
		if v.IsZero() {
			if allowed != nil {
				errs.add(f, "a correction needs a value")
			}
			out[f] = Value{}
			continue
		}
		nv, why := normalise(spec, v)
		if why != "" {
			errs.add(f, "%s", why)
			continue
		}
		out[f] = nv
	}
	docs := map[string]Document{}
	for _, d := range sortedKeys(docsIn) {
		key := "documents." + d
		_, ok := t.c.doc[d]
		switch {
		case !ok:
			errs.add(key, "no such document in template %s", t.c.t.ID)
			continue
		case allowed != nil && !allowed[key]:
			errs.add(key, "not marked for correction")
			continue
		}
		doc := docsIn[d]
		if doc == (Document{}) {
			if allowed != nil {
				errs.add(key, "a correction needs a document")
			}
			docs[d] = Document{}
			continue
		}
		if p := doc.problem(); p != "" {
			errs.add(key, "%s", p)
			continue
		}
		doc.Attached = t.now
		docs[d] = doc
	}
	if len(in) > 500 || len(docsIn) > 100 {
		errs.add("form", "too many answers or documents in one call")
	}
	return out, docs
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func hasKey[V any](m map[string]V, k string) bool {
	_, ok := m[k]
	return ok
}

// SubmitRequest sends a draft to review.
type SubmitRequest struct {
	Application uuid.UUID
	Key         string
	Version     int64
}

// Submit checks the draft is complete — every required field answered,
// every required document attached, an authorisation still valid — and
// sends it to review: the bundle's clock starts, and every item whose
// inputs are ready goes to its department at once (in parallel; a joint
// review's items together). An incomplete draft gets a *FormError listing
// every gap, and stays a draft.
func (s *Service) Submit(ctx context.Context, r SubmitRequest) (Application, error) {
	return s.update(ctx, r.Application, r.Version, r.Key, s.applicantAuthz(ctx), func(t *tx) error {
		if err := t.requireStatus("submit", Draft); err != nil {
			return err
		}
		var errs formErrors
		for _, f := range t.c.form {
			spec, _ := t.c.fieldSpec(f)
			if _, ok := t.a.Answers[f]; !ok && !spec.Optional {
				errs.add(f, "required")
			}
		}
		for _, d := range t.c.forms {
			if _, ok := t.a.Documents[d]; !ok && t.c.documentRequired(d) {
				errs.add("documents."+d, "required document missing")
			}
		}
		if ob := t.a.OnBehalf; ob != nil && !ob.ValidUntil.IsZero() && !ob.ValidUntil.After(t.now) {
			errs.add("on_behalf.valid_until", "the authorisation has expired")
		}
		if err := errs.err(); err != nil {
			return err
		}
		t.a.Status, t.a.Submitted = InReview, t.now
		t.a.Deadline = t.c.t.SLA.After(t.s.cal, t.now)
		t.a.BundleCheck = t.a.Deadline
		t.step("submitted", "", "", nil)
		t.emit(Event{Event: "submitted", Deadline: t.a.Deadline})
		t.advance()
		return nil
	})
}

// Application returns an application, to its applicant or to a department
// holding one of its items.
func (s *Service) Application(ctx context.Context, id uuid.UUID) (Application, error) {
	a, err := s.store.Application(ctx, id)
	if err != nil {
		return Application{}, err
	}
	if err := s.authorizeRead(ctx, &a); err != nil {
		return Application{}, err
	}
	return a, nil
}

// Form returns an application's form: every field once with its answer,
// registry offer, choices and correction marks; then every document.
func (s *Service) Form(ctx context.Context, id uuid.UUID) ([]FormField, []FormDocument, error) {
	a, err := s.Application(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	c, err := s.compiledTemplate(ctx, a.Template, a.TemplateVersion)
	if err != nil {
		return nil, nil, err
	}
	fs, ds := c.formOf(&a)
	return fs, ds, nil
}

// Worklist returns one page of the applications with an item in review by
// department within a unit: the department's queue. The actor needs
// ActionRead on the department's applications in that unit.
func (s *Service) Worklist(ctx context.Context, department string, within region.Code, limit int, after uuid.UUID) (ApplicationPage, error) {
	if !validToken(department, true) {
		return ApplicationPage{}, badCommand("department", "required, as a token")
	}
	if err := s.knownUnit(within, "within"); err != nil {
		return ApplicationPage{}, err
	}
	if _, err := s.authorize(ctx, ActionRead, access.Resource{Kind: ResourceApplication, Jurisdiction: within, Department: department}); err != nil {
		return ApplicationPage{}, err
	}
	return s.store.Applications(ctx, ApplicationQuery{Department: department, Within: within, Statuses: []Status{InReview, Returned}, Limit: limit, After: after})
}
