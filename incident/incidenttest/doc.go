// Package incidenttest is the conformance suite every incident.Store runs,
// so that the in-memory store and the PostgreSQL store in adapters/postgres
// behave alike for the code built on them: the same results, the same
// errors (matching incident.ErrNotFound, ErrConflict, ErrDuplicateID,
// ErrDuplicateKey, ErrInvalidQuery), the same all-or-nothing Apply.
//
// A store's test calls Run with a constructor that returns a fresh, empty
// store for each subtest:
//
//	func TestConformance(t *testing.T) {
//		incidenttest.Run(t, func(t *testing.T) incident.Store {
//			return newMyStore(t)
//		})
//	}
//
// AssertIncidentEqual compares two incidents as the suite does (personal
// data with pii.Data.Equal), for a store's own tests beyond Run.
//
// The fixtures are realistic cases of Chongqing's digital urban
// management: muck trucks, missing manhole covers and street vending in
// grids of Jiulongpo, Yuzhong and Nan'an, reported by hotline callers
// (whose names and phone numbers are pii.Data), grid members and cameras.
// Times are in UTC at microsecond precision, the precision every store
// keeps.
package incidenttest
