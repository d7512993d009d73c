// Package permittest is the conformance suite every permit.Store runs, so
// that the in-memory store and any other (a PostgreSQL store in
// adapters/postgres, when there is one) behave alike for the permit
// service built on them: the same results, the same errors (matching
// permit.ErrNotFound, ErrConflict, ErrDuplicateKey and ErrInvalidQuery),
// the same all-or-nothing Apply, the same outbox.
//
// A store's test calls Run with a constructor that returns a fresh, empty
// store for each subtest:
//
//	func TestConformance(t *testing.T) {
//		permittest.Run(t, func(t *testing.T) permit.Store {
//			return newMyStore(t)
//		})
//	}
//
// The suite covers the whole Store contract: round trips of templates,
// applications (with personal data in answers, offers, outputs and an
// authorisation), excavations, joint excavations and moratoria with every
// field — a subtest fails when a field added to a record is not yet set
// by the suite's fixtures, so no new field escapes the round trip; copies
// in and out; template versions (created once, the latest found by
// number); record versions (a record at Version 1 is created and must not
// exist, any other updates the version before it, records of one ID in a
// change apply in sequence); idempotency keys held by one record; the
// atomicity of a failed change, key and department indexes included;
// every filter of the queries alone and combined, and paging through
// Limit, After and Next; the outbox in commit order; concurrent
// read-modify-write writers and concurrent creates of one key.
//
// The fixtures are Chongqing's: newborn and rental-room applications in
// Yuzhong's Jiefangbei and Chaotianmen streets, road works on Jiangbei's
// Jianxin North Road, and one record in Chengdu to show that a city-level
// query stays inside its city. Times are in UTC at microsecond precision,
// as the service stores them. Comparisons are exact: a nil slice or map
// must come back nil, an empty one empty.
package permittest
