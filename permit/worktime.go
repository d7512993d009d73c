package permit

import (
	"fmt"
	"time"

	"github.com/govkit/govkit/calendar"
)

// WorkingTime is an allowance on the business calendar: whole working days
// ("within 5 working days", keeping the time of day), working time ("within
// 4 working hours"), or both, days first. Weekends, holidays and the hours
// outside the calendar's working day do not count.
type WorkingTime struct {
	Days int           `json:"days,omitempty"`
	Time time.Duration `json:"time,omitempty"`
}

// Days returns an allowance of n working days.
func Days(n int) WorkingTime { return WorkingTime{Days: n} }

// Hours returns an allowance of h working hours.
func Hours(h int) WorkingTime { return WorkingTime{Time: time.Duration(h) * time.Hour} }

// IsZero reports whether w allows no time at all.
func (w WorkingTime) IsZero() bool { return w.Days == 0 && w.Time == 0 }

// String formats w, such as "5 working days" or "1 working day 3h0m0s".
func (w WorkingTime) String() string {
	days := fmt.Sprintf("%d working days", w.Days)
	if w.Days == 1 {
		days = "1 working day"
	}
	switch {
	case w.IsZero():
		return "none"
	case w.Time == 0:
		return days
	case w.Days == 0:
		return fmt.Sprintf("%v working time", w.Time)
	}
	return fmt.Sprintf("%s %v", days, w.Time)
}

// problem returns why w is unusable, or "".
func (w WorkingTime) problem() string {
	switch {
	case w.Days < 0 || w.Time < 0:
		return "negative working time"
	case w.Days > 3660:
		return "more than 3660 working days"
	case w.Time > 0 && w.Time < time.Minute:
		return "working time below one minute"
	}
	return ""
}

// After returns the deadline w after t on cal. A zero w returns the zero
// time: not timed.
func (w WorkingTime) After(cal *calendar.Calendar, t time.Time) time.Time {
	if w.IsZero() {
		return time.Time{}
	}
	at := t
	if w.Days > 0 {
		var err error
		if at, err = cal.AddWorkingDays(at, w.Days); err != nil {
			return time.Time{} // unreachable: validated non-negative
		}
	}
	if w.Time > 0 {
		var err error
		if at, err = cal.AddWorkingDuration(at, w.Time); err != nil {
			return time.Time{}
		}
	}
	return at.UTC()
}
