package codes

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"
)

// Inspection is what an enterprise sees when it scans an inspector's
// enforcement code against its own enterprise code (两码互核, S7): who
// inspects, for which agency, what, and how to complain.
type Inspection struct {
	Task       string
	Agency     string
	AgencyName string
	Inspector  string // badge number
	Scope      []string
	Complaint  string
	// Enterprise is the enterprise's subject id; EnterpriseName and
	// CreditCode are from its code.
	Enterprise     string
	EnterpriseName string
	CreditCode     string
	// EnterpriseColour is the enterprise's live tier from the status list.
	EnterpriseColour Colour
	// From and Until are the dates the task is authorised for.
	From, Until time.Time

	EnforcementCode *Verified
	EnterpriseCode  *Verified
}

// CheckInspection verifies both codes and that they belong together: the
// enforcement code's task names this enterprise, lies in its
// jurisdiction, and is authorised for today. A task for another
// enterprise or another place fails with ErrNotAuthorised; a task outside
// its dates with ErrNotAuthorised and ErrExpired or ErrNotYetValid; a
// code that fails its own checks with that error.
func (v *Verifier) CheckInspection(enforcement, enterprise string) (*Inspection, error) {
	return v.checkInspectionAt(enforcement, enterprise, v.cfg.Clock.Now(), false)
}

func (v *Verifier) checkInspectionAt(enforcement, enterprise string, at time.Time, evidence bool) (*Inspection, error) {
	enf, err := v.verifyAt(enforcement, at, evidence, Enforcement)
	if err != nil {
		var ve *VerifyError
		if errors.As(err, &ve) && (ve.Err == ErrExpired || ve.Err == ErrNotYetValid) {
			return nil, &VerifyError{Err: ErrNotAuthorised, Cause: ve.Err, KeyID: ve.KeyID,
				Reason: "the inspection task is not authorised for this date: " + ve.Reason}
		}
		return nil, err
	}
	ent, err := v.verifyAt(enterprise, at, evidence, Enterprise)
	if err != nil {
		return nil, err
	}
	var ec EnforcementClaims
	if err := enf.Claims.Decode(&ec); err != nil {
		return nil, err
	}
	var pc EnterpriseClaims
	if err := ent.Claims.Decode(&pc); err != nil {
		return nil, err
	}
	if ec.Enterprise != ent.Claims.Subject {
		return nil, verr(ErrNotAuthorised, "task %s is authorised for another enterprise", ec.Task)
	}
	if !ent.Claims.Jurisdiction.Within(enf.Claims.Jurisdiction) {
		return nil, verr(ErrNotAuthorised, "task %s is authorised in %s; the enterprise lies in %s", ec.Task, enf.Claims.Jurisdiction, ent.Claims.Jurisdiction)
	}
	return &Inspection{
		Task: ec.Task, Agency: ec.Agency, AgencyName: ec.AgencyName, Inspector: ec.Inspector,
		Scope: slices.Clone(ec.Scope), Complaint: ec.Complaint,
		Enterprise: ent.Claims.Subject, EnterpriseName: pc.Name, CreditCode: pc.CreditCode, EnterpriseColour: ent.Colour,
		From: enf.Claims.NotBefore, Until: enf.Claims.Expiry,
		EnforcementCode: enf, EnterpriseCode: ent,
	}, nil
}

// Receipt is the record of a visit that both sides sign: the enterprise
// when it has scanned the inspector's code, then the inspector. Each signs
// with the holder key bound into their code, so the receipt proves, to
// anyone with the trust list, that both were there with valid codes.
type Receipt struct {
	Task            string
	Enterprise      string // the enterprise's subject id
	Inspector       string // badge number
	At              time.Time
	EnforcementCode string // both codes' texts, so the receipt checks on its own
	EnterpriseCode  string
}

type wireReceipt struct {
	Task            string `cbor:"1,keyasint"`
	Enterprise      string `cbor:"2,keyasint"`
	Inspector       string `cbor:"3,keyasint"`
	At              int64  `cbor:"4,keyasint"`
	EnforcementCode string `cbor:"5,keyasint"`
	EnterpriseCode  string `cbor:"6,keyasint"`
}

// NewReceipt returns the receipt of the inspection in, at time at (whole
// seconds).
func NewReceipt(in *Inspection, at time.Time) Receipt {
	return Receipt{
		Task: in.Task, Enterprise: in.Enterprise, Inspector: in.Inspector, At: at.UTC().Truncate(time.Second),
		EnforcementCode: in.EnforcementCode.text, EnterpriseCode: in.EnterpriseCode.text,
	}
}

func holderKID(pub []byte) []byte {
	sum := sha256.Sum256(pub)
	return sum[:8]
}

func holderSignature(priv ed25519.PrivateKey, bodyProtected cbor.RawMessage, payload []byte) (*cose.Signature, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return nil, invalid("holder key", "%d bytes, want an Ed25519 private key", len(priv))
	}
	signer, err := cose.NewSigner(cose.AlgorithmEdDSA, priv)
	if err != nil {
		return nil, err
	}
	sig := cose.NewSignature()
	sig.Headers.Protected.SetAlgorithm(cose.AlgorithmEdDSA)
	sig.Headers.Protected[cose.HeaderLabelKeyID] = holderKID(priv.Public().(ed25519.PublicKey))
	if err := sig.Sign(rand.Reader, signer, bodyProtected, payload, nil); err != nil {
		return nil, fmt.Errorf("codes: signing receipt: %w", err)
	}
	return sig, nil
}

// SignAsEnterprise encodes the receipt as a COSE_Sign message and adds the
// enterprise's signature, made with the private half of the holder key in
// its enterprise code. Pass the result to the inspector's CosignReceipt.
func (r Receipt) SignAsEnterprise(enterpriseKey ed25519.PrivateKey) ([]byte, error) {
	ent, _, err := Decode(r.EnterpriseCode)
	if err != nil {
		return nil, err
	}
	if len(enterpriseKey) != ed25519.PrivateKeySize || !slices.Equal(ent.HolderKey, []byte(enterpriseKey.Public().(ed25519.PublicKey))) {
		return nil, invalid("holder key", "not the key bound into the enterprise code")
	}
	msg := cose.NewSignMessage()
	if _, err := msg.Headers.Protected.SetType(typReceipt); err != nil {
		return nil, err
	}
	if msg.Payload, err = encMode.Marshal(wireReceipt{Task: r.Task, Enterprise: r.Enterprise, Inspector: r.Inspector,
		At: r.At.Unix(), EnforcementCode: r.EnforcementCode, EnterpriseCode: r.EnterpriseCode}); err != nil {
		return nil, err
	}
	body, err := msg.Headers.MarshalProtected()
	if err != nil {
		return nil, err
	}
	sig, err := holderSignature(enterpriseKey, body, msg.Payload)
	if err != nil {
		return nil, err
	}
	msg.Signatures = []*cose.Signature{sig}
	return msg.MarshalCBOR()
}

// CosignReceipt adds the inspector's signature to a receipt the
// enterprise signed, after checking that the enterprise's signature is
// good and that inspectorKey is the holder key of the receipt's
// enforcement code.
func CosignReceipt(signed []byte, inspectorKey ed25519.PrivateKey) ([]byte, error) {
	msg, r, err := parseReceipt(signed)
	if err != nil {
		return nil, err
	}
	if len(msg.Signatures) != 1 {
		return nil, verr(ErrMalformed, "receipt has %d signatures, want the enterprise's alone", len(msg.Signatures))
	}
	enf, _, err := Decode(r.EnforcementCode)
	if err != nil {
		return nil, err
	}
	ent, _, err := Decode(r.EnterpriseCode)
	if err != nil {
		return nil, err
	}
	if err := verifyHolder(msg, 0, ent.HolderKey); err != nil {
		return nil, err
	}
	if len(inspectorKey) != ed25519.PrivateKeySize || !slices.Equal(enf.HolderKey, []byte(inspectorKey.Public().(ed25519.PublicKey))) {
		return nil, invalid("holder key", "not the key bound into the enforcement code")
	}
	body, err := msg.Headers.MarshalProtected()
	if err != nil {
		return nil, err
	}
	sig, err := holderSignature(inspectorKey, body, msg.Payload)
	if err != nil {
		return nil, err
	}
	msg.Signatures = append(msg.Signatures, sig)
	return msg.MarshalCBOR()
}

func parseReceipt(signed []byte) (*cose.SignMessage, Receipt, error) {
	var msg cose.SignMessage
	if err := msg.UnmarshalCBOR(signed); err != nil {
		return nil, Receipt{}, verr(ErrMalformed, "receipt: COSE_Sign: %v", err)
	}
	if typ, _ := msg.Headers.Protected[cose.HeaderLabelType].(string); typ != typReceipt {
		return nil, Receipt{}, verr(ErrMalformed, "document of type %q, want a receipt", typ)
	}
	var w wireReceipt
	if err := decMode.Unmarshal(msg.Payload, &w); err != nil {
		return nil, Receipt{}, verr(ErrMalformed, "receipt: %v", err)
	}
	if w.At <= 0 {
		return nil, Receipt{}, verr(ErrMalformed, "receipt without a time")
	}
	return &msg, Receipt{Task: w.Task, Enterprise: w.Enterprise, Inspector: w.Inspector, At: fromUnix(w.At),
		EnforcementCode: w.EnforcementCode, EnterpriseCode: w.EnterpriseCode}, nil
}

// verifyHolder checks signature i of msg with the holder key pub.
func verifyHolder(msg *cose.SignMessage, i int, pub []byte) error {
	if len(pub) != ed25519.PublicKeySize {
		return verr(ErrMalformed, "the code binds no holder key")
	}
	ver, err := cose.NewVerifier(cose.AlgorithmEdDSA, ed25519.PublicKey(pub))
	if err != nil {
		return err
	}
	body, err := msg.Headers.MarshalProtected()
	if err != nil {
		return verr(ErrMalformed, "receipt: %v", err)
	}
	if err := msg.Signatures[i].Verify(ver, body, msg.Payload, nil); err != nil {
		who := "enterprise"
		if i == 1 {
			who = "inspector"
		}
		return verr(ErrBadSignature, "the %s's signature on the receipt: %v", who, err)
	}
	return nil
}

// VerifyReceipt checks a receipt both sides signed: both codes verify (as
// of the receipt's time, so an old receipt stays evidence after the codes
// expire), they belong together as CheckInspection requires, the receipt
// matches them, and both signatures verify with the holder keys the codes
// bind — the enterprise's first, the inspector's second.
func (v *Verifier) VerifyReceipt(signed []byte) (Receipt, *Inspection, error) {
	msg, r, err := parseReceipt(signed)
	if err != nil {
		return Receipt{}, nil, err
	}
	if len(msg.Signatures) != 2 {
		return Receipt{}, nil, verr(ErrMalformed, "receipt has %d signatures, want 2", len(msg.Signatures))
	}
	in, err := v.checkInspectionAt(r.EnforcementCode, r.EnterpriseCode, r.At, true)
	if err != nil {
		return Receipt{}, nil, err
	}
	if r.Task != in.Task || r.Enterprise != in.Enterprise || r.Inspector != in.Inspector {
		return Receipt{}, nil, verr(ErrMalformed, "the receipt does not match its codes")
	}
	if err := verifyHolder(msg, 0, in.EnterpriseCode.Claims.HolderKey); err != nil {
		return Receipt{}, nil, err
	}
	if err := verifyHolder(msg, 1, in.EnforcementCode.Claims.HolderKey); err != nil {
		return Receipt{}, nil, err
	}
	return r, in, nil
}
