package codes

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/clock"
	"github.com/govkit/govkit/internal/hashchain"
	"github.com/govkit/govkit/internal/relay"
	"github.com/govkit/govkit/region"
)

// Actions the Service asks the authorizer about. Codes and ledgers are
// resources of kind "<kind name>-code" (e.g. "listing-code") in their
// subject's jurisdiction; the signed lists are of kind ListResource in the
// service's jurisdiction.
const (
	ActionIssue   = "issue"
	ActionRevoke  = "revoke"
	ActionRecord  = "record-points" // deductions and additions
	ActionAppeal  = "appeal"
	ActionDecide  = "decide-appeal"
	ActionRead    = "read"
	ActionPublish = "publish" // status and revocation lists, public keys

	ListResource = "code-list"
)

// Config wires a Service. Keys, Authorizer, Issuer and Jurisdiction are
// required: an open service must be a visible choice (access.AllowAll).
type Config struct {
	Store        Store             // default NewMemoryStore()
	Keys         *KeyRing          // required: signs codes (UsageCodes) and lists (UsageLists)
	Kinds        *Registry         // default NewRegistry()
	Authorizer   access.Authorizer // required
	Bus          bus.Publisher     // where events go; nil keeps none
	Clock        clock.Clock       // default clock.Real()
	Logger       *slog.Logger      // default discards
	Issuer       string            // required: the CWT issuer of codes and lists, e.g. "500107-housing"
	Jurisdiction region.Code       // required: the issuer's scope, where publishing lists is authorised
	Thresholds   Thresholds        // default DefaultThresholds()
	// SubjectPrefix is the first token of event subjects (default "gov").
	SubjectPrefix string
}

// Service issues codes, keeps the points ledgers that colour them,
// revokes them and publishes the signed lists verifiers cache. Every
// method takes the actor from the context and asks the authorizer first;
// every change is stored with the event announcing it. It is safe for
// concurrent use.
type Service struct {
	cfg   Config
	store Store
	az    access.Authorizer
	clk   clock.Clock
	log   *slog.Logger
	relay *relay.Relay
}

// NewService checks cfg and returns a service.
func NewService(cfg Config) (*Service, error) {
	switch {
	case cfg.Keys == nil:
		return nil, invalid("config", "Keys is required")
	case cfg.Authorizer == nil:
		return nil, invalid("config", "Authorizer is required (access.AllowAll() for an open service)")
	}
	if err := idField("issuer", cfg.Issuer, true); err != nil {
		return nil, err
	}
	if _, err := region.ParseCode(string(cfg.Jurisdiction)); err != nil {
		return nil, &InputError{Field: "jurisdiction", Reason: "not a region code", Err: err}
	}
	if cfg.Thresholds == (Thresholds{}) {
		cfg.Thresholds = DefaultThresholds()
	}
	if err := cfg.Thresholds.Validate(); err != nil {
		return nil, err
	}
	if cfg.Store == nil {
		cfg.Store = NewMemoryStore()
	}
	if cfg.Kinds == nil {
		cfg.Kinds = NewRegistry()
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.SubjectPrefix == "" {
		cfg.SubjectPrefix = "gov"
	}
	if err := bus.ValidateSubject(cfg.SubjectPrefix); err != nil {
		return nil, &InputError{Field: "subject prefix", Reason: "not a subject", Err: err}
	}
	s := &Service{cfg: cfg, store: cfg.Store, az: cfg.Authorizer, clk: cfg.Clock, log: cfg.Logger}
	if cfg.Bus != nil {
		s.relay = relay.New(cfg.Store, cfg.Bus)
	}
	return s, nil
}

// Store returns the service's store.
func (s *Service) Store() Store { return s.store }

// Thresholds returns the thresholds colours are computed with.
func (s *Service) Thresholds() Thresholds { return s.cfg.Thresholds }

// now is the time in the form stores keep: UTC, microseconds.
func (s *Service) now() time.Time { return hashchain.Truncate(s.clk.Now()) }

// Flush publishes the events waiting in the outbox, oldest first. The
// service flushes after every change; call Flush when a process starts on
// an existing store, or after a bus outage.
func (s *Service) Flush(ctx context.Context) error {
	if s.relay == nil {
		return nil
	}
	return s.relay.Flush(ctx)
}

func (s *Service) after(ctx context.Context) {
	if err := s.Flush(ctx); err != nil {
		s.log.Warn("codes: publishing events failed; they stay in the outbox", "err", err)
	}
}

func (s *Service) resource(kind Kind, id string, j region.Code) access.Resource {
	return access.Resource{Kind: s.cfg.Kinds.Name(kind) + "-code", ID: id, Jurisdiction: j}
}

func (s *Service) authorize(ctx context.Context, action string, r access.Resource) (string, error) {
	d := s.az.Authorize(ctx, action, r)
	if !d.Allowed {
		return "", d.Err()
	}
	return d.ActorID, nil
}

// maxAttempts bounds how often a call re-reads records that changed under
// it before giving up with ErrConflict.
const maxAttempts = 4

func retry(f func() error) error {
	var err error
	for range maxAttempts {
		if err = f(); !errors.Is(err, ErrConflict) {
			return err
		}
	}
	return err
}

// IssueRequest asks for a code.
type IssueRequest struct {
	Kind         Kind
	Subject      string      // the holder's pseudonymous id: printable ASCII, at most 96 bytes
	Jurisdiction region.Code // where the subject lies (a room's grid)
	Data         []byte      // the kind-specific claims (EncodeData), checked by the kind's Validate
	// HolderKey, if set, binds the holder's Ed25519 key into the code, so
	// that the holder can sign scan receipts (mutual verification).
	HolderKey ed25519.PublicKey
	// NotBefore and Expiry bound validity (defaults: now, and NotBefore
	// plus the kind's lifetime). Rotating kinds ignore them.
	NotBefore time.Time
	Expiry    time.Time
}

// Code is an issued code: the text to put in a QR code and its claims.
type Code struct {
	Text   string
	Claims Claims
}

// Issue signs a code for req. For a rotating kind it is the code of the
// current step; IssueSeries gives a holder's device the steps ahead. The
// subject is created on its first code, with the code's kind and
// jurisdiction, which later codes must share.
func (s *Service) Issue(ctx context.Context, req IssueRequest) (Code, error) {
	out, err := s.issue(ctx, req, 1)
	if err != nil {
		return Code{}, err
	}
	return out[0], nil
}

// maxSteps bounds a rotating series.
const maxSteps = 2048

// IssueSeries signs a rotating kind's codes for steps consecutive steps
// from the current one, sharing one revocation id: what a rider's phone
// downloads to show a fresh code every few minutes, offline. A screenshot
// of one works for one step only.
func (s *Service) IssueSeries(ctx context.Context, req IssueRequest, steps int) ([]Code, error) {
	spec, ok := s.cfg.Kinds.Spec(req.Kind)
	if !ok {
		return nil, fmt.Errorf("%w: %d", ErrUnknownKind, req.Kind)
	}
	if spec.Rotation == 0 {
		return nil, invalid("kind", "%s codes do not rotate", spec.Name)
	}
	if steps < 1 || steps > maxSteps {
		return nil, invalid("steps", "%d, want 1–%d", steps, maxSteps)
	}
	return s.issue(ctx, req, steps)
}

func (s *Service) checkIssue(req *IssueRequest) (KindSpec, error) {
	spec, ok := s.cfg.Kinds.Spec(req.Kind)
	if !ok {
		return spec, fmt.Errorf("%w: %d", ErrUnknownKind, req.Kind)
	}
	if err := idField("subject", req.Subject, true); err != nil {
		return spec, err
	}
	if _, err := region.ParseCode(string(req.Jurisdiction)); err != nil {
		return spec, &InputError{Field: "jurisdiction", Reason: "not a region code", Err: err}
	}
	if len(req.HolderKey) != 0 && len(req.HolderKey) != ed25519.PublicKeySize {
		return spec, invalid("holder key", "%d bytes, want %d", len(req.HolderKey), ed25519.PublicKeySize)
	}
	if len(req.Data) > 1024 {
		return spec, invalid("data", "%d bytes, more than 1024", len(req.Data))
	}
	if spec.Validate != nil {
		if err := spec.Validate(req.Data); err != nil {
			return spec, &InputError{Field: "data", Reason: "the " + spec.Name + " claims do not check", Err: err}
		}
	}
	return spec, nil
}

func (s *Service) issue(ctx context.Context, req IssueRequest, steps int) ([]Code, error) {
	spec, err := s.checkIssue(&req)
	if err != nil {
		return nil, err
	}
	actor, err := s.authorize(ctx, ActionIssue, s.resource(req.Kind, req.Subject, req.Jurisdiction))
	if err != nil {
		return nil, err
	}
	var out []Code
	err = retry(func() error {
		var err error
		out, err = s.issueOnce(ctx, &req, spec, steps, actor)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.after(ctx)
	return out, nil
}

func (s *Service) issueOnce(ctx context.Context, req *IssueRequest, spec KindSpec, steps int, actor string) ([]Code, error) {
	var c Change
	sub, err := s.store.Subject(ctx, req.Subject)
	switch {
	case errors.Is(err, ErrNotFound):
		c.Subjects = []Subject{{ID: req.Subject, Kind: req.Kind, Jurisdiction: req.Jurisdiction, Created: s.now(), Version: 1,
			Standing: s.cfg.Thresholds.Standing(nil)}}
	case err != nil:
		return nil, err
	case sub.Kind != req.Kind:
		return nil, invalid("subject", "%s holds %s codes, not %s", req.Subject, s.cfg.Kinds.Name(sub.Kind), spec.Name)
	case sub.Jurisdiction != req.Jurisdiction:
		return nil, invalid("jurisdiction", "subject %s lies in %s, not %s", req.Subject, sub.Jurisdiction, req.Jurisdiction)
	}
	now := s.clk.Now().UTC().Truncate(time.Second)
	key, _, err := s.cfg.Keys.Signer(UsageCodes, req.Kind, now)
	if err != nil {
		return nil, err
	}
	epoch, err := s.store.Counter(ctx, CounterStatusEpoch)
	if err != nil {
		return nil, err
	}
	claims := Claims{
		Issuer: s.cfg.Issuer, Subject: req.Subject, IssuedAt: now, ID: NewRevocationID(),
		Kind: req.Kind, Jurisdiction: req.Jurisdiction, StatusEpoch: epoch,
		HolderKey: slices.Clone([]byte(req.HolderKey)), Data: slices.Clone(req.Data),
	}
	rec := CodeRecord{ID: claims.ID, Kind: req.Kind, Subject: req.Subject, Jurisdiction: req.Jurisdiction,
		Issuer: s.cfg.Issuer, KeyID: key.ID(), IssuedAt: now, IssuedBy: actor}
	out := make([]Code, 0, steps)
	if spec.Rotation > 0 {
		period := int64(spec.Rotation / time.Second)
		first := now.Unix() / period
		for i := range int64(steps) {
			cl := claims
			cl.Step = first + i
			cl.NotBefore = time.Unix(cl.Step*period, 0).UTC()
			cl.Expiry = cl.NotBefore.Add(spec.Rotation)
			if cl.NotBefore.Before(now) { // the current step began before issue
				cl.NotBefore = now
			}
			text, err := Seal(key, &cl)
			if err != nil {
				return nil, err
			}
			out = append(out, Code{Text: text, Claims: cl})
		}
		rec.NotBefore, rec.Expiry, rec.Steps = out[0].Claims.NotBefore, out[len(out)-1].Claims.Expiry, steps
	} else {
		nbf, exp := req.NotBefore.UTC().Truncate(time.Second), req.Expiry.UTC().Truncate(time.Second)
		if req.NotBefore.IsZero() {
			nbf = now
		}
		if req.Expiry.IsZero() {
			exp = nbf.Add(spec.Lifetime)
		}
		switch {
		case !exp.After(nbf):
			return nil, invalid("expiry", "not after not-before")
		case exp.Sub(nbf) > maxLifetime:
			return nil, invalid("expiry", "validity of %v is longer than 5 years", exp.Sub(nbf))
		case !exp.After(now):
			return nil, invalid("expiry", "already past")
		}
		claims.NotBefore, claims.Expiry = nbf, exp
		text, err := Seal(key, &claims)
		if err != nil {
			return nil, err
		}
		out = append(out, Code{Text: text, Claims: claims})
		rec.NotBefore, rec.Expiry = nbf, exp
	}
	c.Codes = []CodeRecord{rec}
	ev, err := newEvent(s.cfg.SubjectPrefix, EventData{Event: EventIssued, Subject: req.Subject, Kind: spec.Name,
		Jurisdiction: req.Jurisdiction, Code: rec.ID.String(), Actor: actor, Time: s.now()})
	if err != nil {
		return nil, err
	}
	c.Events = []bus.Message{ev}
	if err := s.store.Apply(ctx, c); err != nil {
		return nil, err
	}
	return out, nil
}

// Revoke revokes one code (or rotating series) by its revocation id. It
// takes effect at verifiers when they load the next revocation list.
func (s *Service) Revoke(ctx context.Context, id RevocationID, reason string) error {
	if err := textField("reason", reason, true); err != nil {
		return err
	}
	rec, err := s.store.Code(ctx, id)
	if err != nil {
		return err
	}
	actor, err := s.authorize(ctx, ActionRevoke, s.resource(rec.Kind, rec.Subject, rec.Jurisdiction))
	if err != nil {
		return err
	}
	now := s.now()
	ev, err := newEvent(s.cfg.SubjectPrefix, EventData{Event: EventRevoked, Subject: rec.Subject, Kind: s.cfg.Kinds.Name(rec.Kind),
		Jurisdiction: rec.Jurisdiction, Code: id.String(), Reason: reason, Actor: actor, Time: now})
	if err != nil {
		return err
	}
	err = s.store.Apply(ctx, Change{
		Revocations: []Revocation{{Code: id, Subject: rec.Subject, Reason: reason, By: actor, At: now}},
		Events:      []bus.Message{ev},
	})
	if err != nil {
		return err
	}
	s.after(ctx)
	return nil
}

// RevokeSubject revokes every code issued to subject before before (now,
// if zero): what delisting a room needs. Codes issued later, after the
// matter is settled, are valid again.
func (s *Service) RevokeSubject(ctx context.Context, subject string, before time.Time, reason string) error {
	if err := textField("reason", reason, true); err != nil {
		return err
	}
	sub, err := s.store.Subject(ctx, subject)
	if err != nil {
		return err
	}
	actor, err := s.authorize(ctx, ActionRevoke, s.resource(sub.Kind, sub.ID, sub.Jurisdiction))
	if err != nil {
		return err
	}
	now := s.now()
	if before.IsZero() {
		// Codes carry whole seconds: the next second covers everything
		// issued up to now.
		before = now.Truncate(time.Second).Add(time.Second)
	}
	b := before.UTC()
	ev, err := newEvent(s.cfg.SubjectPrefix, EventData{Event: EventSubjectRevoked, Subject: sub.ID, Kind: s.cfg.Kinds.Name(sub.Kind),
		Jurisdiction: sub.Jurisdiction, Before: &b, Reason: reason, Actor: actor, Time: now})
	if err != nil {
		return err
	}
	err = s.store.Apply(ctx, Change{
		Revocations: []Revocation{{Subject: sub.ID, Before: b, Reason: reason, By: actor, At: now}},
		Events:      []bus.Message{ev},
	})
	if err != nil {
		return err
	}
	s.after(ctx)
	return nil
}

// Points asks for a deduction or an addition.
type Points struct {
	Subject  string
	Points   int64  // > 0
	Rule     string // the rule's id
	Evidence Evidence
	Note     string
	// Key, if set, is an idempotency key: a repeated request with the same
	// key is absorbed and returns the current standing.
	Key string
}

// Deduct records a deduction on the subject's ledger and returns the new
// standing. Moving the colour publishes EventColourChanged, or
// EventTurnedRed when it moves into red.
func (s *Service) Deduct(ctx context.Context, p Points) (Standing, error) {
	return s.append(ctx, ActionRecord, p.Subject, Entry{Type: Deduction, Points: p.Points, Rule: p.Rule, Evidence: p.Evidence, Note: p.Note, Key: p.Key})
}

// Add records an addition (points back, for volunteering say).
func (s *Service) Add(ctx context.Context, p Points) (Standing, error) {
	return s.append(ctx, ActionRecord, p.Subject, Entry{Type: Addition, Points: p.Points, Rule: p.Rule, Evidence: p.Evidence, Note: p.Note, Key: p.Key})
}

// Appeal puts the deduction seq on hold until DecideAppeal: its points
// are not counted meanwhile.
func (s *Service) Appeal(ctx context.Context, subject string, seq int64, note string) (Standing, error) {
	return s.append(ctx, ActionAppeal, subject, Entry{Type: Appeal, Target: seq, Note: note})
}

// DecideAppeal decides the open appeal against deduction seq: upheld, the
// deduction stands; otherwise it is void. Whoever recorded the deduction
// may not decide its appeal (access.PenaltyNotAppeal).
func (s *Service) DecideAppeal(ctx context.Context, subject string, seq int64, upheld bool, note string) (Standing, error) {
	t := AppealGranted
	if upheld {
		t = AppealUpheld
	}
	return s.append(ctx, ActionDecide, subject, Entry{Type: t, Target: seq, Note: note})
}

func (s *Service) append(ctx context.Context, action, subject string, e Entry) (Standing, error) {
	var out Standing
	err := retry(func() error {
		var err error
		out, err = s.appendOnce(ctx, action, subject, e)
		return err
	})
	if err != nil {
		return Standing{}, err
	}
	s.after(ctx)
	return out, nil
}

func (s *Service) appendOnce(ctx context.Context, action, subject string, e Entry) (Standing, error) {
	sub, err := s.store.Subject(ctx, subject)
	if err != nil {
		return Standing{}, err
	}
	actor, err := s.authorize(ctx, action, s.resource(sub.Kind, sub.ID, sub.Jurisdiction))
	if err != nil {
		return Standing{}, err
	}
	ledger, err := s.store.Ledger(ctx, subject)
	if err != nil {
		return Standing{}, err
	}
	if int64(len(ledger)) != sub.Standing.Entries {
		return Standing{}, fmt.Errorf("%w: ledger of %s moved on", ErrConflict, subject)
	}
	if e.Key != "" {
		for i := range ledger {
			if ledger[i].Key == e.Key {
				return sub.Standing, nil // a repeat: absorbed
			}
		}
	}
	if err := checkAppend(ledger, &e); err != nil {
		return Standing{}, err
	}
	if action == ActionDecide {
		if err := access.PenaltyNotAppeal.Check(actor, ledger[e.Target-1].Recorder); err != nil {
			return Standing{}, err
		}
	}
	e.Subject, e.Seq, e.Recorder, e.At = subject, int64(len(ledger))+1, actor, s.now()
	e.Prev = hashchain.Genesis
	if len(ledger) > 0 {
		e.Prev = ledger[len(ledger)-1].Hash
	}
	e.Hash = e.ComputeHash()
	before := sub.Standing
	sub.Standing = s.cfg.Thresholds.Standing(append(ledger, e))
	sub.Version++
	sub.Head = e.Hash
	event := EventPoints
	switch {
	case sub.Standing.Colour == before.Colour:
	case sub.Standing.Colour == Red:
		event = EventTurnedRed
	default:
		event = EventColourChanged
	}
	d := EventData{Event: event, Subject: subject, Kind: s.cfg.Kinds.Name(sub.Kind), Jurisdiction: sub.Jurisdiction,
		From: before.Colour.String(), To: sub.Standing.Colour.String(), Score: sub.Standing.Score, Seq: e.Seq, Rule: e.Rule,
		Actor: actor, Time: e.At}
	ev, err := newEvent(s.cfg.SubjectPrefix, d)
	if err != nil {
		return Standing{}, err
	}
	if err := s.store.Apply(ctx, Change{Subjects: []Subject{sub}, Entries: []Entry{e}, Events: []bus.Message{ev}}); err != nil {
		return Standing{}, err
	}
	return sub.Standing, nil
}

// Standing returns the subject's standing as its ledger gives it.
func (s *Service) Standing(ctx context.Context, subject string) (Standing, error) {
	sub, err := s.store.Subject(ctx, subject)
	if err != nil {
		return Standing{}, err
	}
	if _, err := s.authorize(ctx, ActionRead, s.resource(sub.Kind, sub.ID, sub.Jurisdiction)); err != nil {
		return Standing{}, err
	}
	return sub.Standing, nil
}

// Ledger returns the subject's ledger, after checking its hash chain.
func (s *Service) Ledger(ctx context.Context, subject string) ([]Entry, error) {
	sub, err := s.store.Subject(ctx, subject)
	if err != nil {
		return nil, err
	}
	if _, err := s.authorize(ctx, ActionRead, s.resource(sub.Kind, sub.ID, sub.Jurisdiction)); err != nil {
		return nil, err
	}
	ledger, err := s.store.Ledger(ctx, subject)
	if err != nil {
		return nil, err
	}
	if err := VerifyLedger(ledger); err != nil {
		return nil, err
	}
	return ledger, nil
}

func (s *Service) listResource() access.Resource {
	return access.Resource{Kind: ListResource, ID: s.cfg.Issuer, Jurisdiction: s.cfg.Jurisdiction}
}

// PublishKeys records the ring's public keys in the store and returns
// them, for the trust list that the trust anchor's holder signs
// (SignTrustList).
func (s *Service) PublishKeys(ctx context.Context) ([]PublicKey, error) {
	if _, err := s.authorize(ctx, ActionPublish, s.listResource()); err != nil {
		return nil, err
	}
	keys := s.cfg.Keys.PublicKeys()
	if err := s.store.Apply(ctx, Change{Keys: keys}); err != nil {
		return nil, err
	}
	return keys, nil
}

// PublishStatusList signs a status list of every subject that is not
// green, at the next epoch, and returns it signed and as data. Codes
// issued from now on carry the new epoch.
func (s *Service) PublishStatusList(ctx context.Context) ([]byte, StatusList, error) {
	if _, err := s.authorize(ctx, ActionPublish, s.listResource()); err != nil {
		return nil, StatusList{}, err
	}
	var signed []byte
	var l StatusList
	err := retry(func() error {
		epoch, err := s.store.Counter(ctx, CounterStatusEpoch)
		if err != nil {
			return err
		}
		l = StatusList{Issuer: s.cfg.Issuer, Epoch: epoch + 1, IssuedAt: s.clk.Now().UTC().Truncate(time.Second), Colours: map[string]Colour{}}
		q := SubjectQuery{Colours: []Colour{Yellow, Red}, Limit: MaxLimit}
		for {
			page, err := s.store.Subjects(ctx, q)
			if err != nil {
				return err
			}
			for _, sub := range page {
				l.Colours[sub.ID] = sub.Standing.Colour
			}
			if len(page) < q.Limit {
				break
			}
			q.After = page[len(page)-1].ID
		}
		key, _, err := s.cfg.Keys.Signer(UsageLists, 0, l.IssuedAt)
		if err != nil {
			return err
		}
		if signed, err = SignStatusList(l, key); err != nil {
			return err
		}
		return s.store.Apply(ctx, Change{Counters: map[string]uint64{CounterStatusEpoch: l.Epoch}})
	})
	if err != nil {
		return nil, StatusList{}, err
	}
	return signed, l, nil
}

// PublishRevocationList signs a revocation list of every revocation
// stored, at the next sequence number.
func (s *Service) PublishRevocationList(ctx context.Context) ([]byte, RevocationList, error) {
	if _, err := s.authorize(ctx, ActionPublish, s.listResource()); err != nil {
		return nil, RevocationList{}, err
	}
	var signed []byte
	var l RevocationList
	err := retry(func() error {
		seq, err := s.store.Counter(ctx, CounterRevocationSeq)
		if err != nil {
			return err
		}
		l = RevocationList{Issuer: s.cfg.Issuer, Seq: seq + 1, IssuedAt: s.clk.Now().UTC().Truncate(time.Second), Subjects: map[string]time.Time{}}
		err = s.store.Revocations(ctx, func(r Revocation) bool {
			if r.Code.IsZero() {
				l.Subjects[r.Subject] = r.Before
			} else {
				l.IDs = append(l.IDs, r.Code)
			}
			return true
		})
		if err != nil {
			return err
		}
		key, _, err := s.cfg.Keys.Signer(UsageLists, 0, l.IssuedAt)
		if err != nil {
			return err
		}
		if signed, err = SignRevocationList(l, key); err != nil {
			return err
		}
		return s.store.Apply(ctx, Change{Counters: map[string]uint64{CounterRevocationSeq: l.Seq}})
	})
	if err != nil {
		return nil, RevocationList{}, err
	}
	return signed, l, nil
}
