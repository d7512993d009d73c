package calendar

import (
	"fmt"
	"time"
)

// Date is a calendar day with no time zone: a holiday is "2026-10-01"
// wherever the server runs. The zero value is not a valid date.
//
// In JSON and other text encodings a Date is its String form, "2026-10-01".
type Date struct {
	Year  int        // 1 to 9999 for a valid date
	Month time.Month // January to December
	Day   int        // 1 to the length of the month
}

// DateOf returns the date of t in t's own location. Use t.In(loc) first to
// ask about another zone; Calendar methods do that for you.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

// ParseDate parses "YYYY-MM-DD" with exactly four, two and two digits, as
// written in State Council notices converted to ISO 8601. Years run from
// 0001 to 9999.
func ParseDate(s string) (Date, error) {
	bad := func(reason string) (Date, error) {
		return Date{}, &ParseError{Input: s, Reason: reason, Err: ErrInvalidDate}
	}
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return bad(`want the form "YYYY-MM-DD"`)
	}
	y, ok1 := digits(s[0:4])
	m, ok2 := digits(s[5:7])
	d, ok3 := digits(s[8:10])
	if !ok1 || !ok2 || !ok3 {
		return bad(`want the form "YYYY-MM-DD"`)
	}
	date := Date{y, time.Month(m), d}
	if reason := date.invalid(); reason != "" {
		return bad(reason)
	}
	return date, nil
}

// digits parses a string of ASCII digits.
func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// IsValid reports whether d names a real day between 0001-01-01 and
// 9999-12-31.
func (d Date) IsValid() bool { return d.invalid() == "" }

// invalid returns why d is not a valid date, or "".
func (d Date) invalid() string {
	switch {
	case d.Year < 1 || d.Year > 9999:
		return "year out of range 0001-9999"
	case d.Month < time.January || d.Month > time.December:
		return "month out of range 01-12"
	case d.Day < 1 || d.Day > daysIn(d.Year, d.Month):
		return fmt.Sprintf("day out of range for %04d-%02d", d.Year, int(d.Month))
	}
	return ""
}

func daysIn(year int, m time.Month) int {
	switch m {
	case time.February:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case time.April, time.June, time.September, time.November:
		return 30
	}
	return 31
}

// String formats d as "YYYY-MM-DD".
func (d Date) String() string {
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day)
}

// MarshalText encodes d as "YYYY-MM-DD"; it fails for an invalid date so
// that a broken value is never written out.
func (d Date) MarshalText() ([]byte, error) {
	if reason := d.invalid(); reason != "" {
		return nil, &ParseError{Input: d.String(), Reason: reason, Err: ErrInvalidDate}
	}
	return []byte(d.String()), nil
}

// UnmarshalText decodes "YYYY-MM-DD" as ParseDate does.
func (d *Date) UnmarshalText(b []byte) error {
	v, err := ParseDate(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Weekday returns the day of the week of d, which must be valid.
func (d Date) Weekday() time.Weekday { return weekdayOf(d.days()) }

// AddDays returns the date n days after d (before, if n is negative).
func (d Date) AddDays(n int) Date {
	y, m, day := civil(d.days() + int64(n))
	return Date{y, m, day}
}

// Compare returns -1, 0 or +1 as d is before, equal to or after o, for
// slices.SortFunc and friends.
func (d Date) Compare(o Date) int {
	switch {
	case d.Year != o.Year:
		return cmpInt(d.Year, o.Year)
	case d.Month != o.Month:
		return cmpInt(int(d.Month), int(o.Month))
	}
	return cmpInt(d.Day, o.Day)
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// In returns midnight at the start of d in loc.
func (d Date) In(loc *time.Location) time.Time {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, loc)
}

// days returns d as a day number, 0 being 1970-01-01.
func (d Date) days() int64 { return dayNumber(d.Year, d.Month, d.Day) }

// dayNumber converts a proleptic Gregorian date to days since 1970-01-01
// (Howard Hinnant's days_from_civil). Calendars iterate over day numbers so
// that stepping a day costs a few integer operations, not a time.Date call.
func dayNumber(year int, month time.Month, day int) int64 {
	y := int64(year)
	m := int64(month)
	if m <= 2 {
		y--
	}
	era := floorDiv(y, 400)
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + int64(day) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// civil is the inverse of dayNumber (civil_from_days).
func civil(n int64) (int, time.Month, int) {
	n += 719468
	era := floorDiv(n, 146097)
	doe := n - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	return int(y), time.Month(m), int(d)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// weekdayOf returns the weekday of day number n; 1970-01-01 was a Thursday.
func weekdayOf(n int64) time.Weekday {
	return time.Weekday(((n+4)%7 + 7) % 7)
}
