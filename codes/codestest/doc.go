// Package codestest is the conformance suite every codes.Store runs, so
// that the in-memory store and any other (a PostgreSQL one, say) behave
// alike for the service built on them: the same results, the same errors
// (matching codes.ErrNotFound, codes.ErrConflict, codes.ErrInvalid), the
// same all-or-nothing Apply, copies rather than shared memory.
//
// A store's test calls Run with a constructor that returns a fresh, empty
// store for each subtest:
//
//	func TestConformance(t *testing.T) {
//		codestest.Run(t, func(t *testing.T) codes.Store {
//			return newMyStore(t)
//		})
//	}
//
// The fixtures are listing codes for rooms in Shiqiaopu street of
// Jiulongpo district, Chongqing, with points ledgers whose entries are
// chained by hash as the service writes them.
package codestest
