// Package risktest is the conformance suite every risk.Store runs, so that
// the in-memory store and any other implementation behave alike for the
// code built on them: the same results in the same order, the same errors
// (matching risk.ErrNotFound, ErrConflict, ErrDuplicateID,
// ErrInvalidQuery) and the same all-or-nothing Apply.
//
// A store's test calls Run with a constructor that returns a fresh, empty
// store for each subtest:
//
//	func TestConformance(t *testing.T) {
//		risktest.Run(t, func(t *testing.T) risk.Store { return newMyStore(t) })
//	}
//
// The fixtures are Chongqing-like: oil tanks, a landslide slope and a gas
// pipeline in the grids of Jiulongpo (500107), with decimal quantities,
// personal data of the people responsible, and live signals.
package risktest
