package calendar

import (
	"fmt"
	"slices"
	"time"
)

// shanghaiName is the default zone. Mainland China keeps one zone without
// daylight saving time.
const shanghaiName = "Asia/Shanghai"

// Config describes a business calendar. Every field is optional; New fills
// in the defaults noted on each.
type Config struct {
	// Location is the time zone whose wall clock Hours are read in. nil
	// means Asia/Shanghai, loaded with time.LoadLocation; if the zone
	// database is missing (a scratch container without tzdata), New falls
	// back to a fixed +08:00 zone named "CST", which agrees with Shanghai
	// for every instant since 1991. Programs that need other zones on such
	// machines can import _ "time/tzdata".
	Location *time.Location

	// Weekend lists the days of the week that are not working days unless
	// listed in WorkingWeekends. nil means Saturday and Sunday; an empty,
	// non-nil slice means no weekend at all (a 7-day service). At least one
	// day of the week must be a working day.
	Weekend []time.Weekday

	// Holidays are public holidays: never working days, even on a
	// weekday. List every day of a holiday period, weekend days included
	// or not, as the notice does.
	Holidays []Date

	// WorkingWeekends are weekend days that are working days (调休上班),
	// announced together with the holidays they make up for. Each must be
	// a Weekend day and not also a holiday.
	WorkingWeekends []Date

	// Hours are the working hours of every working day, in wall-clock
	// time: non-empty spans, sorted, not overlapping (they may touch),
	// within 00:00-24:00, in whole seconds. nil means 09:00-12:00 and
	// 14:00-18:00; an empty, non-nil slice is an error.
	Hours []Span
}

// DefaultHours are the working hours used when Config.Hours is nil: the
// common government office day, 09:00-12:00 and 14:00-18:00.
func DefaultHours() []Span {
	return []Span{{At(9, 0), At(12, 0)}, {At(14, 0), At(18, 0)}}
}

// DefaultWeekend is the weekend used when Config.Weekend is nil.
func DefaultWeekend() []time.Weekday { return []time.Weekday{time.Saturday, time.Sunday} }

// Calendar answers working-time questions: is this instant inside working
// hours, when does a "3 working days" or "2 working hours" deadline fall, how
// much working time has a case consumed. Build one with New, Parse, Load or
// Default; the zero value is not usable and its methods panic.
//
// A Calendar is immutable and safe for concurrent use.
type Calendar struct {
	loc     *time.Location
	locName string // how Location is written in JSON

	weekend   [7]bool
	overrides map[int64]bool // day number -> working; holidays false, working weekends true
	spans     []Span

	// Kept as configured (normalised and sorted) for Config and MarshalJSON.
	weekendList     []time.Weekday
	holidays        []Date
	workingWeekends []Date
}

// New validates cfg and builds a Calendar. Every problem is a *ConfigError
// naming the offending field; errors.Is(err, ErrInvalidConfig) matches all.
func New(cfg Config) (*Calendar, error) {
	c := &Calendar{loc: cfg.Location}
	if c.loc == nil {
		loc, err := loadLocation(shanghaiName, time.LoadLocation)
		if err != nil { // unreachable: loadLocation falls back for Shanghai
			return nil, &ConfigError{Field: "location", Reason: "cannot load " + shanghaiName, Err: err}
		}
		c.loc, c.locName = loc, shanghaiName
	} else {
		c.locName = c.loc.String()
	}

	weekend := cfg.Weekend
	if weekend == nil {
		weekend = DefaultWeekend()
	}
	for i, wd := range weekend {
		field := fmt.Sprintf("weekend[%d]", i)
		if wd < time.Sunday || wd > time.Saturday {
			return nil, &ConfigError{Field: field, Reason: fmt.Sprintf("%d is not a day of the week", int(wd))}
		}
		if c.weekend[wd] {
			return nil, &ConfigError{Field: field, Reason: wd.String() + " is listed twice"}
		}
		c.weekend[wd] = true
	}
	if len(weekend) == 7 {
		// Without a working weekday, searching for the next working time
		// could run past every listed working weekend and never end.
		return nil, &ConfigError{Field: "weekend", Reason: "every day of the week is a weekend day"}
	}
	c.weekendList = slices.Clone(weekend)
	slices.SortFunc(c.weekendList, func(a, b time.Weekday) int { return isoWeekday(a) - isoWeekday(b) })

	c.overrides = make(map[int64]bool, len(cfg.Holidays)+len(cfg.WorkingWeekends))
	for i, d := range cfg.Holidays {
		field := fmt.Sprintf("holidays[%d]", i)
		if err := checkDate(field, d); err != nil {
			return nil, err
		}
		if _, dup := c.overrides[d.days()]; dup {
			return nil, &ConfigError{Field: field, Reason: d.String() + " is listed twice"}
		}
		c.overrides[d.days()] = false
	}
	for i, d := range cfg.WorkingWeekends {
		field := fmt.Sprintf("working_weekends[%d]", i)
		if err := checkDate(field, d); err != nil {
			return nil, err
		}
		working, dup := c.overrides[d.days()]
		switch {
		case dup && !working:
			return nil, &ConfigError{Field: field, Reason: d.String() + " is also listed as a holiday"}
		case dup:
			return nil, &ConfigError{Field: field, Reason: d.String() + " is listed twice"}
		case !c.weekend[d.Weekday()]:
			// Almost always a typo: the date would change nothing.
			return nil, &ConfigError{Field: field, Reason: fmt.Sprintf("%s is a %s, not a weekend day", d, d.Weekday())}
		}
		c.overrides[d.days()] = true
	}
	c.holidays = sortedDates(cfg.Holidays)
	c.workingWeekends = sortedDates(cfg.WorkingWeekends)

	hours := cfg.Hours
	if hours == nil {
		hours = DefaultHours()
	}
	if len(hours) == 0 {
		return nil, &ConfigError{Field: "hours", Reason: "no working hours"}
	}
	for i, sp := range hours {
		if r := sp.Start.invalid(); r != "" {
			return nil, &ConfigError{Field: fmt.Sprintf("hours[%d].start", i), Reason: fmt.Sprintf("%v is %s", time.Duration(sp.Start), r)}
		}
		if r := sp.End.invalid(); r != "" {
			return nil, &ConfigError{Field: fmt.Sprintf("hours[%d].end", i), Reason: fmt.Sprintf("%v is %s", time.Duration(sp.End), r)}
		}
		if sp.End <= sp.Start {
			return nil, &ConfigError{Field: fmt.Sprintf("hours[%d]", i), Reason: fmt.Sprintf("span %s is empty", sp)}
		}
		if i > 0 && sp.Start < hours[i-1].End {
			return nil, &ConfigError{Field: fmt.Sprintf("hours[%d]", i),
				Reason: fmt.Sprintf("span %s overlaps or precedes %s; spans must be sorted and not overlap", sp, hours[i-1])}
		}
	}
	c.spans = slices.Clone(hours)
	return c, nil
}

// Default returns the calendar with no holidays: Saturday and Sunday off,
// 09:00-12:00 and 14:00-18:00, Asia/Shanghai. Real deployments load the
// year's holidays with Parse or Load.
func Default() *Calendar {
	c, err := New(Config{})
	if err != nil {
		panic(err) // unreachable: the defaults are valid
	}
	return c
}

// Config returns the configuration c was built from, with defaults filled
// in and lists sorted; New(c.Config()) behaves exactly like c. The slices
// are copies.
func (c *Calendar) Config() Config {
	c.mustInit()
	return Config{
		Location:        c.loc,
		Weekend:         slices.Clone(c.weekendList),
		Holidays:        slices.Clone(c.holidays),
		WorkingWeekends: slices.Clone(c.workingWeekends),
		Hours:           slices.Clone(c.spans),
	}
}

// Location returns the time zone whose wall clock the working hours use.
func (c *Calendar) Location() *time.Location {
	c.mustInit()
	return c.loc
}

func (c *Calendar) mustInit() {
	if c.loc == nil {
		panic("calendar: use of an uninitialised Calendar; build one with New, Parse, Load or Default")
	}
}

// loadLocation loads a zone by name, falling back to a fixed +08:00 "CST"
// for Asia/Shanghai when the zone database is unavailable. The loader is a
// parameter so that the fallback can be tested.
func loadLocation(name string, load func(string) (*time.Location, error)) (*time.Location, error) {
	loc, err := load(name)
	if err != nil && name == shanghaiName {
		return time.FixedZone("CST", 8*60*60), nil
	}
	return loc, err
}

func checkDate(field string, d Date) error {
	if reason := d.invalid(); reason != "" {
		return &ConfigError{Field: field, Reason: fmt.Sprintf("%s is not a valid date", d),
			Err: &ParseError{Input: d.String(), Reason: reason, Err: ErrInvalidDate}}
	}
	return nil
}

func sortedDates(ds []Date) []Date {
	out := slices.Clone(ds)
	if out == nil {
		out = []Date{}
	}
	slices.SortFunc(out, Date.Compare)
	return out
}

// isoWeekday numbers Monday 1 to Sunday 7, the order Chinese calendars use.
func isoWeekday(wd time.Weekday) int {
	if wd == time.Sunday {
		return 7
	}
	return int(wd)
}
