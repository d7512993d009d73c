package calendar

import (
	"fmt"
	"time"
)

// TimeOfDay is a wall-clock time within a day, as the time elapsed on a
// clock face since midnight: 09:00 is TimeOfDay(9 * time.Hour). Valid values
// are whole seconds from 00:00 to 24:00 inclusive; 24:00 is the end of the
// day, for working hours that run to midnight.
//
// In JSON and other text encodings a TimeOfDay is "HH:MM", or "HH:MM:SS" when
// it has seconds.
type TimeOfDay time.Duration

// EndOfDay is 24:00, the latest valid TimeOfDay.
const EndOfDay = TimeOfDay(24 * time.Hour)

// At returns the time of day hour:minute, for literals such as At(13, 30).
func At(hour, minute int) TimeOfDay {
	return TimeOfDay(time.Duration(hour)*time.Hour + time.Duration(minute)*time.Minute)
}

// ParseTimeOfDay parses "HH:MM" or "HH:MM:SS" with two digits each, hours
// 00-24 (24 only as 24:00 or 24:00:00).
func ParseTimeOfDay(s string) (TimeOfDay, error) {
	bad := func(reason string) (TimeOfDay, error) {
		return 0, &ParseError{Input: s, Reason: reason, Err: ErrInvalidTimeOfDay}
	}
	if (len(s) != 5 && len(s) != 8) || s[2] != ':' || (len(s) == 8 && s[5] != ':') {
		return bad(`want the form "HH:MM" or "HH:MM:SS"`)
	}
	h, ok1 := digits(s[0:2])
	m, ok2 := digits(s[3:5])
	sec, ok3 := 0, true
	if len(s) == 8 {
		sec, ok3 = digits(s[6:8])
	}
	if !ok1 || !ok2 || !ok3 {
		return bad(`want the form "HH:MM" or "HH:MM:SS"`)
	}
	switch {
	case h > 24 || (h == 24 && (m != 0 || sec != 0)):
		return bad("hour out of range 00-24 (24 only as 24:00)")
	case m > 59:
		return bad("minute out of range 00-59")
	case sec > 59:
		return bad("second out of range 00-59")
	}
	return TimeOfDay(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(sec)*time.Second), nil
}

// IsValid reports whether t is a whole second from 00:00 to 24:00.
func (t TimeOfDay) IsValid() bool { return t.invalid() == "" }

func (t TimeOfDay) invalid() string {
	switch {
	case t < 0 || t > EndOfDay:
		return "outside 00:00-24:00"
	case time.Duration(t)%time.Second != 0:
		return "not a whole second"
	}
	return ""
}

// String formats t as "HH:MM" or "HH:MM:SS"; an invalid value is shown as a
// duration, for instance "TimeOfDay(-1h0m0s)".
func (t TimeOfDay) String() string {
	if !t.IsValid() {
		return fmt.Sprintf("TimeOfDay(%v)", time.Duration(t))
	}
	secs := int(time.Duration(t) / time.Second)
	h, m, s := secs/3600, secs/60%60, secs%60
	if s != 0 {
		return fmt.Sprintf("%02d:%02d:%02d", h, m, s)
	}
	return fmt.Sprintf("%02d:%02d", h, m)
}

// seconds returns t in whole seconds; t must be valid.
func (t TimeOfDay) seconds() int { return int(time.Duration(t) / time.Second) }

// MarshalText encodes t as String does; it fails for an invalid value.
func (t TimeOfDay) MarshalText() ([]byte, error) {
	if reason := t.invalid(); reason != "" {
		return nil, &ParseError{Input: t.String(), Reason: reason, Err: ErrInvalidTimeOfDay}
	}
	return []byte(t.String()), nil
}

// UnmarshalText decodes "HH:MM" or "HH:MM:SS" as ParseTimeOfDay does.
func (t *TimeOfDay) UnmarshalText(b []byte) error {
	v, err := ParseTimeOfDay(string(b))
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// Span is a stretch of working hours within each working day, from Start
// (inclusive) to End (exclusive), in the calendar's wall-clock time:
// Span{At(9, 0), At(12, 0)} is the morning shift.
type Span struct {
	Start TimeOfDay `json:"start"` // first working instant of the span
	End   TimeOfDay `json:"end"`   // first instant after it; at most EndOfDay
}

// Duration is the nominal length of s. On a day when the clocks change
// inside s, the working time it contributes is the real elapsed time,
// which differs by the shift.
func (s Span) Duration() time.Duration { return time.Duration(s.End - s.Start) }

// String formats s as "09:00-12:00".
func (s Span) String() string { return s.Start.String() + "-" + s.End.String() }
