// Package audittest is the conformance suite every audit.Store runs, so
// that the in-memory store and the PostgreSQL one keep a log alike: the
// same appends accepted and refused, the same entries read back bit for
// bit, the same chains verified. A store's test calls Run with a Harness:
//
//	func TestAuditConformance(t *testing.T) {
//		audittest.Run(t, audittest.Harness{
//			New: func(t *testing.T) audit.Store { return newMyStore(t) },
//			// Optional: edit entry seq behind the store's back, so that
//			// the suite can check that Verify notices.
//			Tamper: func(t *testing.T, s audit.Store, seq uint64) { ... },
//		})
//	}
//
// Stores offer no way to change an entry, so Tamper reaches under the API:
// the memory store's own tests use an unexported hook, the PostgreSQL
// store's tests disable the table's append-only trigger and UPDATE a row.
package audittest
