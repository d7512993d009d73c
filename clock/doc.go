// Package clock is how govkit reads the time. Every service that starts an
// SLA timer, escalates an overdue case, expects a sensor heartbeat or measures
// how long an alarm has lasted takes a Clock instead of calling time.Now and
// time.AfterFunc, so that its behaviour over hours and days can be tested in
// microseconds.
//
// # Choosing a clock
//
// Production code uses Real, which is the time package itself. Tests use a
// Manual clock and move it explicitly:
//
//	clk := clock.NewManual(time.Date(2026, 10, 8, 9, 0, 0, 0, time.UTC))
//	overdue := false
//	clk.AfterFunc(2*time.Hour, func() { overdue = true }) // as a service arms an SLA timer
//	clk.Advance(2 * time.Hour)                            // fires here, before Advance returns
//	// overdue is true, and no test slept.
//
// Tests that exercise real goroutines and time.Sleep can instead keep Real and
// run inside testing/synctest, whose bubble fakes the time package itself.
//
// # How a Manual clock fires timers
//
// Advance and Set move the clock forward and fire every timer that has come
// due, earliest deadline first and, among equal deadlines, in the order the
// timers were created. While a callback runs, Now reports that timer's
// deadline, exactly as if the process had been woken at that instant; after
// the last due timer, Now reports the target time.
//
// Callbacks run synchronously, in the goroutine that called Advance or Set,
// and without the clock's lock held, so a callback may call Now, AfterFunc or
// Stop (a periodic job re-arms itself this way). A timer armed by a callback
// whose deadline is not after the target also fires within the same Advance.
// When Advance returns, every effect of the due callbacks has happened: there
// is nothing to wait for.
//
// AfterFunc with a duration of zero or less does not call f at once (the
// caller may be holding a lock that f needs); the timer is due at the current
// time and fires on the next Advance or Set, including Advance(0).
//
// A Manual clock never moves backwards: Set to an earlier time returns a
// *BackwardsError (matching ErrBackwards) and changes nothing, and Advance
// with a negative duration panics, since it can only be a mistake in a test.
//
// All methods of both clocks are safe for concurrent use. When several
// goroutines advance one Manual clock at once, every due timer still fires
// exactly once and Now never decreases, but which Advance runs which callback
// is unspecified; let one goroutine drive time when a test depends on it.
package clock
