// Package dispatchtest is the conformance suite every dispatch.Store runs,
// so that the in-memory store and the PostgreSQL store in
// adapters/postgres behave alike for the dispatch service built on them:
// the same results, the same errors (matching dispatch.ErrNotFound,
// ErrConflict and ErrInvalidCommand), the same all-or-nothing Apply, the
// same outbox.
//
// A store's test calls Run with a constructor that returns a fresh, empty
// store for each subtest:
//
//	func TestConformance(t *testing.T) {
//		dispatchtest.Run(t, func(t *testing.T) dispatch.Store {
//			return newMyStore(t)
//		})
//	}
//
// The suite covers the whole Store contract: round trips of work orders
// and case files with every field (a subtest fails when a field added to
// WorkOrder or CaseFile is not yet set by the suite's fixtures, so no new
// field escapes the round trip); copies in and out; versions (a record at
// Version 1 is created and must not exist, any other updates the version
// before it, records of one ID in a change apply in sequence); atomicity
// of a failed change; every filter of OrderQuery alone and combined, and
// paging through Limit, After and Next; the outbox in commit order,
// MarkPublished, and duplicate event IDs; concurrent read-modify-write
// writers and concurrent creates.
//
// The fixtures are work orders of Chongqing's digital urban management:
// muck trucks and missing manhole covers in grids of Jiulongpo, Yuzhong
// and Nan'an, offered to district departments and volunteer teams, with
// one case in Chengdu to show that a city-level query stays inside its
// city. Times are in UTC at microsecond precision, as the dispatch service
// stores them and every store keeps them. Comparisons are exact: a nil
// slice or map must come back nil, an empty one empty.
package dispatchtest
