package clock

import (
	"errors"
	"fmt"
	"time"
)

// ErrBackwards is matched by every attempt to move a Manual clock to an
// earlier time. Deadlines computed from the clock would otherwise come
// undone, and timers that already fired cannot be unfired.
var ErrBackwards = errors.New("clock: manual clock cannot move backwards")

// BackwardsError reports a rejected Manual.Set: the clock stayed at Now.
type BackwardsError struct {
	Now    time.Time // the clock's time, unchanged
	Target time.Time // the earlier time that was asked for
}

// Error reports both times, to the nanosecond.
func (e *BackwardsError) Error() string {
	return fmt.Sprintf("clock: manual clock cannot move backwards from %s to %s",
		e.Now.Format(time.RFC3339Nano), e.Target.Format(time.RFC3339Nano))
}

// Unwrap lets errors.Is(err, ErrBackwards) match.
func (e *BackwardsError) Unwrap() error { return ErrBackwards }
