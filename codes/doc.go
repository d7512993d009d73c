// Package codes issues and verifies signed QR identity codes whose colour
// — green, yellow or red — is live: the listing code of a short-term
// rental room (房源码), the gig-worker code a rider shows at a compound
// gate (惠新码), the enforcement code an inspector shows an enterprise
// (执法码) and the enterprise's own code (企业码). Applications register
// kinds of their own.
//
// It is modelled on the EU Digital COVID Certificate (a CWT in COSE_Sign1,
// base45 behind a prefix, offline verification against a trust list of
// keys, revocation at scale) and SMART Health Cards (per-card revocation
// ids, "everything issued before time T"), with NYC-restaurant-style
// points behind the colour.
//
// # The wire format
//
// A code's text is Prefix ("GK1:") followed by the base45 (RFC 9285)
// encoding of a tagged COSE_Sign1 (RFC 9052):
//
//	GK1:<base45( 18([ protected: bstr{1: alg, 4: kid}, unprotected: {},
//	                  payload: bstr(claims), signature: bstr ]) )>
//
// alg is EdDSA (-8, Ed25519, the default) or ES256 (-7); kid is 8 bytes,
// the first of the SHA-256 of the key's SubjectPublicKeyInfo. The payload
// is a CWT (RFC 8392) in deterministic CBOR with integer keys: iss (1),
// sub (2, a pseudonymous id, never a name or an ID number), exp (4),
// nbf (5), iat (6), cti (7, the 16-byte revocation id), and govkit's own
// claims in one map under the private key -65537: kind (1), jurisdiction
// (2, a region code as an integer), status epoch (3), rotation step (4),
// holder key (5, an Ed25519 public key for scan receipts) and the
// kind-specific claims (6, a CBOR map with integer keys). Every character
// is in QR alphanumeric mode's set, so a listing code of about 320
// characters fits a version 10–13 symbol. There is no compression: the
// payload is small, mostly a signature and random ids that do not
// compress, and a decompressor is one more thing for hostile input to
// attack.
//
// # Issuing
//
// A Service, built with a KeyRing, an access.Authorizer and a Store,
// issues codes (Issue, IssueSeries), keeps each subject's points ledger
// (Deduct, Add, Appeal, DecideAppeal), revokes (Revoke, RevokeSubject) and
// publishes the signed lists verifiers cache (PublishStatusList,
// PublishRevocationList, PublishKeys for the trust list). Every method
// takes the actor from the context and asks the authorizer, on a resource
// of kind "<kind>-code" in the subject's jurisdiction; every change is
// stored with the bus event announcing it. Seal is the signing step alone.
//
// # Verifying offline
//
// A Verifier is configured with trust anchors and caches three signed
// lists: the trust list (the keys that sign codes, each with its issuer,
// kinds and validity, signed by an anchor), and per issuer a status list
// (the subjects that are not green) and a revocation list (revoked ids, as
// one sorted byte string, and subjects revoked before a time). Verify
// needs no network: it checks the code's form, signature, key, validity,
// rotation step and revocation, and takes the colour from the status list
// — never from the printed code. Each list has a maximum age; past it,
// and for a code newer than the status list, Verify refuses with ErrStale
// rather than vouch for what it cannot know. Every refusal is a
// *VerifyError matching one sentinel: ErrMalformed, ErrBadSignature,
// ErrUnknownKey, ErrExpired, ErrNotYetValid, ErrRevoked, ErrWrongKind or
// ErrStale.
//
// Keys rotate: a ring holds several keys, a new one can be on the trust
// list before it signs (Signer picks the newest valid key), and a retired
// key's codes stay valid until they expire, while anything it signs after
// retirement is refused.
//
// # Rotating codes
//
// Worker codes rotate: each is valid for one step (five minutes by
// default) whose number is inside the signed payload. IssueSeries gives a
// rider's phone the codes of the steps ahead; a screenshot stops working
// after its step, and the gate still verifies offline.
//
// # Status from a points ledger
//
// A subject's ledger is append-only and hash-chained: deductions and
// additions with a rule id, the evidence's reference and SHA-256, and who
// recorded them. An appeal is an entry that puts a deduction on hold; the
// decision is another that lets it stand or voids it, by someone other
// than whoever recorded it. The colour is Thresholds.Standing, a pure
// function of the ledger; a change of colour publishes EventColourChanged,
// and a change into red EventTurnedRed — for a listing, the order to
// suspend it and have platforms delist it, which an application carries
// out with RevokeSubject.
//
// # Mutual verification
//
// The inspector's enforcement code names the task, the agency, the
// inspector's badge, the scope, how to complain and the target enterprise,
// and is valid only on the task's dates. CheckInspection verifies it
// against the enterprise's code and refuses with ErrNotAuthorised a task
// for another enterprise, place or date. Both sides then sign a Receipt
// (a COSE_Sign with two signatures, by the holder keys the codes bind)
// that VerifyReceipt checks as evidence of the visit.
//
// # Rendering
//
// Render lays a code out as a QR symbol in alphanumeric mode at a chosen
// error-correction level; Symbol writes PNG and SVG with black modules on
// white, the quiet zone, and the status colour in a band outside it, never
// in the modules.
//
// # Speed
//
// Ed25519 keys sign and verify through curve25519-voi: the same bytes and
// verdicts as crypto/ed25519, but each trusted key is decompressed once
// with a precomputed table, and AVX2 is used where the CPU has it, which
// about doubles both rates. (ES256 and keys held outside memory, such as
// an HSM's crypto.Signer, go through go-cose and the standard library.)
// BenchmarkVerify and BenchmarkIssue report codes/s in parallel beside the
// raw rates measured in the same run: crypto/ed25519's
// (BenchmarkEd25519Verify, BenchmarkEd25519Sign), the guide's reference,
// and voi's (BenchmarkVoiVerify, BenchmarkVoiSign), which bound them.
// A revocation lookup among ten million ids costs about 150 ns on a quiet
// machine (BenchmarkRevocationLookup), most of it cache misses.
//
// # Storage
//
// Store is what the Service needs; MemoryStore implements it on go-memdb,
// and codestest is the conformance suite every implementation runs.
package codes
