// Package audit keeps an append-only, tamper-evident log of access
// decisions: who asked to do what, to which resource, when, whether it was
// allowed, and why.
//
// Governance decides fines, inspections and delistings. When a decision is
// challenged, months later, the question is not only what the rules said
// but who was allowed to act and who was refused. The log answers that, and
// shows whether anyone has since edited the answer.
//
// # What is recorded
//
// Every [Entry] holds the actor (pseudonymous ID and kind), the action, the
// resource (kind, ID, jurisdiction, department), the outcome and a Reason
// for people to read, normally access.Decision.Explain():
//
//	denied li to read incident inc-2: 500107002001001 lies outside the actor's jurisdiction 500107001
//
// Wrap the authorizer a service uses with [Authorizer] and every decision
// is recorded; [Log.RecordDecision] and [Log.Record] record one directly.
// No personal data goes in: actors are pseudonymous IDs.
//
// # The chain
//
// Entries are numbered 1, 2, 3... (Seq). Each carries the SHA-256 of its
// own contents (Hash) and the Hash of the entry before it (PrevHash; 32
// zero bytes for entry 1). The hash covers an unambiguous encoding of every
// field — a version byte, then each field length-prefixed in a fixed order
// (see [Entry.ComputeHash]) — so editing any field of any entry, removing
// an entry or reordering two breaks the chain at that point, and mending
// it means rewriting every hash after it.
//
// Time is kept in UTC at microsecond precision, PostgreSQL's, and truncated
// before it is hashed: an entry verifies the same after a round trip
// through any store.
//
// A [Store] only appends, and only an entry that follows its head exactly;
// anything else is [ErrConflict]. Several processes can therefore share one
// log: [Log.Record] seals each entry after the head. Stores that can lock
// their head ([HeadLocker]: both of govkit's) let writers in all processes
// take turns; with others, Record appends optimistically and, if another
// process got there first, reads the new head and tries again. [NewMemoryStore] keeps the log in memory (go-memdb);
// adapters/postgres keeps it in a table whose trigger refuses UPDATE and
// DELETE. Package audittest is the conformance suite both pass.
//
// # Fail closed
//
// An authorizer wrapped by [Authorizer] refuses what it cannot record: if
// the store is down, the decision is replaced by a denial with Reason
// access.AuditFailed. A fine imposed while auditing was off would be a fine
// nobody can account for, so the service stops instead of acting
// unaccountably. [OnRecordError] reports such failures for alerting.
//
// # Verifying
//
// [Log.Verify] walks the whole log in pages and recomputes every hash and
// link; the first problem is a [*TamperError] naming the Seq where the
// chain breaks, matching [ErrTampered]. A chain cannot show that entries
// were cut off its end or that it was rewritten from the start, so keep
// the head (its Seq and Hash) elsewhere from time to time — a printed
// report, another system — and verify against it with [Log.VerifyFrom],
// which also checks only what was added since.
//
//	if err := log.Verify(ctx); errors.Is(err, audit.ErrTampered) {
//		var te *audit.TamperError
//		errors.As(err, &te) // te.Seq, te.Reason
//	}
package audit
