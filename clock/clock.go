package clock

import "time"

// Clock tells the time and schedules callbacks. Components that depend on
// the passage of time take a Clock so that tests can substitute a Manual one.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// AfterFunc arranges for f to be called once d has elapsed and returns a
	// Timer that can cancel the call. Real calls f in its own goroutine;
	// Manual calls it from Advance or Set.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending call scheduled by Clock.AfterFunc.
type Timer interface {
	// Stop prevents the call if it has not started yet. It reports true if
	// it stopped the timer, false if the timer had already fired or been
	// stopped, like time.Timer.Stop.
	Stop() bool
}

// Real returns the wall clock: Now is time.Now and AfterFunc is
// time.AfterFunc, whose *time.Timer is the returned Timer.
func Real() Clock { return realClock{} }

type realClock struct{}

// Now returns time.Now().
func (realClock) Now() time.Time { return time.Now() }

// AfterFunc returns time.AfterFunc(d, f).
func (realClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
