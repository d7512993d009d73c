// Package calendar computes SLA deadlines in working time: "handle within 3
// working days", "sign for within 2 working hours", "how much of the SLA has
// this case used". It knows weekends, public holidays and the adjusted
// working days (调休) on which a weekend day becomes a working day to make up
// for a longer holiday.
//
// # Configuration, not code
//
// The State Council announces each year's holidays and adjusted working days
// late in the previous year, and districts may add local rules, so nothing
// is hard-coded: a Calendar is built from a Config with New, or from a JSON
// document with Parse or Load, and a new year's notice is a configuration
// change. Default gives weekends only, for tests and prototypes.
//
// The JSON format, with every member optional (defaults in Config):
//
//	{
//	  "location": "Asia/Shanghai",
//	  "weekend": ["Saturday", "Sunday"],
//	  "holidays": ["2026-10-01", "2026-10-02", "2026-10-05"],
//	  "working_weekends": ["2026-10-10"],
//	  "hours": [{"start": "09:00", "end": "12:00"}, {"start": "14:00", "end": "18:00"}]
//	}
//
// Dates are "YYYY-MM-DD", times of day "HH:MM" or "HH:MM:SS" (up to
// "24:00"), days of the week English names in any case, and the location an
// IANA zone name. "weekend": [] means no weekend; "hours": [] is an error.
// Unknown members, duplicates, a date that is both a holiday and a working
// weekend, a working weekend that is not a weekend day, and unsorted or
// overlapping hours are all rejected: a *ConfigError names the member
// ("holidays[3]", "hours[1].end") and matches ErrInvalidConfig. A Calendar's
// MarshalJSON writes the same format back.
//
// Asia/Shanghai is loaded from the system's zone database. Where there is
// none (a scratch container), the package does not embed one; it falls back
// to a fixed +08:00 zone named "CST", which is exact for China since 1991.
// Other zones need the database, or an import of time/tzdata in main.
//
// # Working time
//
// An instant is working time when the calendar's wall clock, at that
// instant, shows a working day and a time inside one of the Hours spans;
// each span includes its start and excludes its end. The location of the
// times passed in does not matter, only the instant. IsWorkingDay,
// IsWorkingTime and NextWorkingTime ask about that set; AddWorkingDuration
// and WorkingDuration move along it and measure it, so they agree exactly:
//
//	WorkingDuration(t, AddWorkingDuration(t, d)) == d   for every t and d >= 0
//
// With the default hours (09:00-12:00, 14:00-18:00): 2 working hours from
// 17:00 on a working day is 10:00 on the next working day; from 11:00 it is
// 15:00, lunch not counting. A deadline that uses up a span exactly ends at
// the span's end: 1 working hour from 17:00 is 18:00 the same day.
//
// AddWorkingDays keeps the time of day instead: the case starts at
// NextWorkingTime(t) and is due at the same wall-clock time n working days
// later. A report on the evening of Wednesday 30 September 2026, with 1-7
// October as holidays and Saturday 10 October as a working weekend, starts
// at 09:00 on Thursday 8 October and with 3 working days is due at 09:00 on
// Monday 12 October (Example_nationalDay).
//
// Negative amounts are errors matching ErrNegative rather than deadlines in
// the past. Results are in the calendar's location. Costs grow with the
// number of days crossed, never with the minutes, and nothing is allocated:
// a year's WorkingDuration takes microseconds.
//
// # Suspensions
//
// To stop an SLA clock while a case waits on the citizen, sum
// WorkingDuration over the periods the case was running and compare the sum
// with the allowance; to find the new deadline on resumption, call
// AddWorkingDuration from the resumption time with what is left.
//
// # Daylight saving time
//
// China has none, but a Calendar works in any zone, following the wall
// clock. A wall-clock time that a DST change skips is never working time,
// and one the clock shows twice is working time twice: a 00:00-03:30 span
// in Europe/Berlin lasts 2h30m on the last Sunday of March and 4h30m on the
// last Sunday of October. Zones that change at midnight (Chile, Cuba) are
// handled the same way.
//
// A Calendar is immutable and safe for concurrent use. Its zero value is not
// usable: its methods panic.
package calendar
