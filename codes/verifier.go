package codes

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/govkit/govkit/clock"
	"github.com/veraison/go-cose"
)

// Default verification policy.
const (
	DefaultMaxTrustListAge  = 7 * 24 * time.Hour
	DefaultMaxStatusAge     = 24 * time.Hour
	DefaultMaxRevocationAge = 24 * time.Hour
	DefaultSkew             = 2 * time.Minute
)

// VerifierConfig configures a Verifier. Anchors is required.
type VerifierConfig struct {
	// Anchors are the keys trusted to sign trust lists: the roots of
	// trust, configured into the verifier rather than downloaded.
	Anchors []PublicKey
	// Kinds knows the kinds of code (default NewRegistry()).
	Kinds *Registry
	// Clock tells the time (default clock.Real()).
	Clock clock.Clock
	// MaxTrustListAge, MaxStatusAge and MaxRevocationAge are how old each
	// cached list may grow before the verifier refuses codes with ErrStale
	// (defaults 7 days, 24 h, 24 h). A gate that is offline for longer
	// must refresh before it can vouch for anyone.
	MaxTrustListAge  time.Duration
	MaxStatusAge     time.Duration
	MaxRevocationAge time.Duration
	// Skew is the clock difference tolerated between issuer and verifier
	// at the edges of validity and of rotation steps (default 2 min).
	Skew time.Duration
}

// Verifier checks codes offline against cached, signed lists: the trust
// list (which keys sign codes), each issuer's status list (the live
// colours) and revocation list. Load the lists whenever the network
// allows; Verify needs none of it. It is safe for concurrent use, and
// Verify takes no lock.
type Verifier struct {
	cfg     VerifierConfig
	anchors map[KeyID]*trustedKey

	mu      sync.Mutex // serialises loads
	trust   atomic.Pointer[trustState]
	status  atomic.Pointer[map[string]*StatusList]
	revoked atomic.Pointer[map[string]*revocationState]
}

type trustedKey struct {
	pub      PublicKey
	verifier cose.Verifier
	// protected is the protected header of the key's codes, encoded and
	// as a map: a code whose header differs in any byte is refused.
	protected cbor.RawMessage
	hdr       cose.ProtectedHeader
}

func newTrustedKey(p PublicKey) (*trustedKey, error) {
	ver, err := p.verifier()
	if err != nil {
		return nil, err
	}
	k := &trustedKey{pub: p, verifier: ver}
	if k.protected, k.hdr, err = codeProtected(p.Algorithm, p.ID); err != nil {
		return nil, err
	}
	return k, nil
}

type trustState struct {
	list TrustList
	keys map[KeyID]*trustedKey
}

type revocationState struct {
	list RevocationList
	set  *RevocationSet
}

// NewVerifier checks cfg and returns a verifier with no lists loaded: it
// refuses every code with ErrStale until LoadTrustList succeeds.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	if len(cfg.Anchors) == 0 {
		return nil, invalid("anchors", "at least one trust anchor is required")
	}
	if cfg.MaxTrustListAge < 0 || cfg.MaxStatusAge < 0 || cfg.MaxRevocationAge < 0 || cfg.Skew < 0 {
		return nil, invalid("verifier config", "negative age or skew")
	}
	if cfg.Kinds == nil {
		cfg.Kinds = NewRegistry()
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real()
	}
	if cfg.MaxTrustListAge == 0 {
		cfg.MaxTrustListAge = DefaultMaxTrustListAge
	}
	if cfg.MaxStatusAge == 0 {
		cfg.MaxStatusAge = DefaultMaxStatusAge
	}
	if cfg.MaxRevocationAge == 0 {
		cfg.MaxRevocationAge = DefaultMaxRevocationAge
	}
	if cfg.Skew == 0 {
		cfg.Skew = DefaultSkew
	}
	v := &Verifier{cfg: cfg, anchors: map[KeyID]*trustedKey{}}
	for i, a := range cfg.Anchors {
		tk, err := newTrustedKey(clonePublicKey(a))
		if err != nil {
			return nil, err
		}
		if keyIDOf(a.SPKI) != a.ID {
			return nil, invalid("anchors", "anchor %d: id %s does not match the key", i, a.ID)
		}
		v.anchors[a.ID] = tk
	}
	v.status.Store(&map[string]*StatusList{})
	v.revoked.Store(&map[string]*revocationState{})
	return v, nil
}

// LoadTrustList checks a signed trust list against the anchors and, if it
// is no older than the one held, makes it the one codes are checked
// against. A list that fails leaves the verifier as it was.
func (v *Verifier) LoadTrustList(signed []byte) error {
	payload, _, err := openDoc(signed, typTrustList, func(id KeyID) (*trustedKey, bool) {
		k, ok := v.anchors[id]
		return k, ok
	})
	if err != nil {
		return err
	}
	l, err := decodeTrustList(payload)
	if err != nil {
		return err
	}
	if err := v.checkIssuedAt("trust list", l.IssuedAt); err != nil {
		return err
	}
	st := &trustState{list: l, keys: make(map[KeyID]*trustedKey, len(l.Keys))}
	for _, k := range l.Keys {
		tk, err := newTrustedKey(k)
		if err != nil {
			return verr(ErrMalformed, "trust list: key %s: %v", k.ID, err)
		}
		st.keys[k.ID] = tk
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if cur := v.trust.Load(); cur != nil && l.Seq < cur.list.Seq {
		return verr(ErrStale, "trust list %d is older than the one held (%d)", l.Seq, cur.list.Seq)
	}
	v.trust.Store(st)
	return nil
}

func (v *Verifier) checkIssuedAt(what string, t time.Time) error {
	if t.After(v.cfg.Clock.Now().Add(v.cfg.Skew)) {
		return verr(ErrNotYetValid, "%s issued in the future (%s)", what, t.Format(time.RFC3339))
	}
	return nil
}

// listKey finds the key of a status or revocation list: on the trust list,
// allowed to sign lists for the list's issuer.
func (v *Verifier) listKey(id KeyID) (*trustedKey, bool) {
	st := v.trust.Load()
	if st == nil {
		return nil, false
	}
	k, ok := st.keys[id]
	if !ok || k.pub.Usage&UsageLists == 0 {
		return nil, false
	}
	return k, true
}

// LoadStatusList checks a signed status list (its key must be on the
// trust list with UsageLists, for the list's issuer) and, if its epoch is
// no older than the one held for that issuer, takes it.
func (v *Verifier) LoadStatusList(signed []byte) error {
	payload, k, err := openDoc(signed, typStatusList, v.listKey)
	if err != nil {
		return err
	}
	l, err := decodeStatusList(payload)
	if err != nil {
		return err
	}
	if k.pub.Issuer != "" && k.pub.Issuer != l.Issuer {
		return &VerifyError{Err: ErrUnknownKey, Reason: fmt.Sprintf("status list of %q signed by a key of %q", l.Issuer, k.pub.Issuer), KeyID: k.pub.ID}
	}
	if err := v.checkIssuedAt("status list", l.IssuedAt); err != nil {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	old := *v.status.Load()
	if cur := old[l.Issuer]; cur != nil && l.Epoch < cur.Epoch {
		return verr(ErrStale, "status list epoch %d is older than the one held (%d)", l.Epoch, cur.Epoch)
	}
	m := maps.Clone(old)
	m[l.Issuer] = &l
	v.status.Store(&m)
	return nil
}

// LoadRevocationList checks a signed revocation list as LoadStatusList
// does and, if its sequence number is no older, takes it.
func (v *Verifier) LoadRevocationList(signed []byte) error {
	payload, k, err := openDoc(signed, typRevocationList, v.listKey)
	if err != nil {
		return err
	}
	l, set, err := decodeRevocationList(payload)
	if err != nil {
		return err
	}
	if k.pub.Issuer != "" && k.pub.Issuer != l.Issuer {
		return &VerifyError{Err: ErrUnknownKey, Reason: fmt.Sprintf("revocation list of %q signed by a key of %q", l.Issuer, k.pub.Issuer), KeyID: k.pub.ID}
	}
	if err := v.checkIssuedAt("revocation list", l.IssuedAt); err != nil {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	old := *v.revoked.Load()
	if cur := old[l.Issuer]; cur != nil && l.Seq < cur.list.Seq {
		return verr(ErrStale, "revocation list %d is older than the one held (%d)", l.Seq, cur.list.Seq)
	}
	m := maps.Clone(old)
	m[l.Issuer] = &revocationState{list: l, set: set}
	v.revoked.Store(&m)
	return nil
}

// TrustList returns the trust list held, if any.
func (v *Verifier) TrustList() (TrustList, bool) {
	st := v.trust.Load()
	if st == nil {
		return TrustList{}, false
	}
	l := st.list
	l.Keys = slices.Clone(l.Keys)
	return l, true
}

// Verified is a code that passed every check, with the colour taken from
// the signed status list.
type Verified struct {
	Claims Claims
	// Colour is the subject's live colour from the issuer's status list,
	// or 0 for kinds without a status. The colour printed beside a QR code
	// is decoration: this is the one to act on.
	Colour Colour
	KeyID  KeyID
	Spec   KindSpec // the kind's description
	// StatusAt is when the status list that gave the colour was signed.
	StatusAt time.Time

	text string // the code as scanned
}

// Verify checks a code offline: its form, its signature with a key on the
// trust list, that the key may sign this issuer's codes of this kind
// issued then, its validity (and rotation step) against the clock, that it
// is not revoked, and, for kinds with a status, takes its colour from the
// issuer's status list. With want, the code must be of one of those kinds.
// Every failure is a *VerifyError matching one of ErrMalformed,
// ErrBadSignature, ErrUnknownKey, ErrExpired, ErrNotYetValid, ErrRevoked,
// ErrWrongKind or ErrStale.
func (v *Verifier) Verify(text string, want ...Kind) (*Verified, error) {
	return v.verifyAt(text, v.cfg.Clock.Now(), false, want...)
}

// verifyAt verifies text as of now. In evidence mode (checking a scan
// receipt after the fact) it checks the signature, the key and the
// validity at that time, but not the lists' freshness, revocations since
// or the colour.
func (v *Verifier) verifyAt(text string, now time.Time, evidence bool, want ...Kind) (*Verified, error) {
	msg, kid, err := parseCode(text)
	if err != nil {
		return nil, err
	}
	st := v.trust.Load()
	if st == nil {
		return nil, &VerifyError{Err: ErrStale, Reason: "no trust list loaded", KeyID: kid}
	}
	if age := now.Sub(st.list.IssuedAt); age > v.cfg.MaxTrustListAge && !evidence {
		return nil, &VerifyError{Err: ErrStale, Reason: fmt.Sprintf("trust list is %v old, more than %v", age.Round(time.Second), v.cfg.MaxTrustListAge), KeyID: kid}
	}
	k, ok := st.keys[kid]
	if !ok {
		return nil, &VerifyError{Err: ErrUnknownKey, Reason: "key is not on the trust list", KeyID: kid}
	}
	if !bytes.Equal(msg.Protected, k.protected) {
		return nil, &VerifyError{Err: ErrBadSignature, Reason: "the protected header is not the key's (another algorithm, or extra parameters)", KeyID: kid}
	}
	cm := cose.Sign1Message{
		Headers: cose.Headers{RawProtected: msg.Protected, Protected: k.hdr, RawUnprotected: emptyMap},
		Payload: msg.Payload, Signature: msg.Signature,
	}
	if err := cm.Verify(nil, k.verifier); err != nil {
		return nil, &VerifyError{Err: ErrBadSignature, Reason: err.Error(), KeyID: kid}
	}
	out := &Verified{KeyID: kid, text: text}
	c := &out.Claims
	if err := unmarshalClaims(msg.Payload, c); err != nil {
		var ve *VerifyError
		if errors.As(err, &ve) {
			ve.KeyID = kid
		}
		return nil, err
	}
	fail := func(sentinel error, format string, args ...any) (*Verified, error) {
		return nil, &VerifyError{Err: sentinel, Reason: fmt.Sprintf(format, args...), KeyID: kid}
	}
	spec, ok := v.cfg.Kinds.Spec(c.Kind)
	if !ok {
		return fail(ErrWrongKind, "unknown kind %d", c.Kind)
	}
	out.Spec = spec
	if len(want) > 0 && !slices.Contains(want, c.Kind) {
		return fail(ErrWrongKind, "a %s code, want %v", spec.Name, want)
	}
	if why := k.pub.may(c.Kind, c.Issuer, c.IssuedAt); why != "" {
		return fail(ErrUnknownKey, "%s", why)
	}
	if spec.Validate != nil {
		if err := spec.Validate(c.Data); err != nil {
			return fail(ErrMalformed, "%s claims: %v", spec.Name, err)
		}
	}
	skew := v.cfg.Skew
	if spec.Rotation > 0 {
		period := int64(spec.Rotation / time.Second)
		start := time.Unix(c.Step*period, 0)
		switch {
		case c.Step == 0:
			return fail(ErrMalformed, "a rotating code without a step")
		case c.Expiry.Sub(c.NotBefore) > spec.Rotation || c.NotBefore.Before(start) || c.Expiry.After(start.Add(spec.Rotation)):
			return fail(ErrMalformed, "validity is not within step %d", c.Step)
		case now.Add(skew).Before(start):
			return fail(ErrNotYetValid, "rotation step %d has not begun", c.Step)
		case !now.Add(-skew).Before(start.Add(spec.Rotation)):
			return fail(ErrExpired, "rotation step %d ended at %s", c.Step, start.Add(spec.Rotation).UTC().Format(time.RFC3339))
		}
	}
	if now.Add(skew).Before(c.NotBefore) {
		return fail(ErrNotYetValid, "valid from %s", c.NotBefore.Format(time.RFC3339))
	}
	if !now.Add(-skew).Before(c.Expiry) {
		return fail(ErrExpired, "expired at %s", c.Expiry.Format(time.RFC3339))
	}
	if evidence {
		return out, nil
	}
	rs := (*v.revoked.Load())[c.Issuer]
	if rs == nil {
		return fail(ErrStale, "no revocation list of %q loaded", c.Issuer)
	}
	if age := now.Sub(rs.list.IssuedAt); age > v.cfg.MaxRevocationAge {
		return fail(ErrStale, "revocation list is %v old, more than %v", age.Round(time.Second), v.cfg.MaxRevocationAge)
	}
	if rs.set.Contains(c.ID) {
		return fail(ErrRevoked, "code %s is revoked", c.ID)
	}
	if before, ok := rs.list.Subjects[c.Subject]; ok && c.IssuedAt.Before(before) {
		return fail(ErrRevoked, "everything issued to the subject before %s is revoked", before.Format(time.RFC3339))
	}
	if spec.Status {
		sl := (*v.status.Load())[c.Issuer]
		switch {
		case sl == nil:
			return fail(ErrStale, "no status list of %q loaded", c.Issuer)
		case now.Sub(sl.IssuedAt) > v.cfg.MaxStatusAge:
			return fail(ErrStale, "status list is %v old, more than %v", now.Sub(sl.IssuedAt).Round(time.Second), v.cfg.MaxStatusAge)
		case sl.Epoch < c.StatusEpoch:
			return fail(ErrStale, "status list epoch %d is older than the code's (%d)", sl.Epoch, c.StatusEpoch)
		}
		out.Colour = Green
		if col, ok := sl.Colours[c.Subject]; ok {
			out.Colour = col
		}
		out.StatusAt = sl.IssuedAt
	}
	return out, nil
}
