package calendar

import (
	"fmt"
	"iter"
	"math"
	"time"
)

// The model behind every query: an instant is working time when the
// calendar's wall clock, at that instant, shows a working day and a time
// inside one of the Hours spans. Working time is therefore a set of
// half-open intervals of real time, and every method below searches or
// measures that one set, which is why WorkingDuration and AddWorkingDuration
// agree exactly.
//
// The intervals are found by walking the location's zone segments, the
// stretches of time with a constant UTC offset (usually one per half year,
// or one for ever in Asia/Shanghai). Inside a segment the wall clock is the
// instant plus the offset, so each working day's spans map to instants by
// integer arithmetic, with no time.Date call per day. A wall-clock time
// skipped by a DST change is simply never shown, and one shown twice is
// working time twice: a span containing a change lasts the real time that
// passes while the clock shows it.

const secondsPerDay = 24 * 60 * 60

// interval is a stretch of working time [start, end), in Unix seconds: span
// bounds and zone offsets are whole seconds, so the bounds are too.
type interval struct {
	start, end int64
	day        int64 // the working day whose wall clock it is, as a day number
}

// isWorking reports whether day number n is a working day.
func (c *Calendar) isWorking(n int64) bool {
	if len(c.overrides) > 0 {
		if working, ok := c.overrides[n]; ok {
			return working
		}
	}
	return !c.weekend[weekdayOf(n)]
}

// intervals yields, in time order and for ever, the working intervals from
// the Unix second from on, the first one cut to start no earlier than from;
// callers stop when they have their answer. New guarantees a working
// weekday, so the next interval is never far away.
func (c *Calendar) intervals(from int64) iter.Seq[interval] {
	return func(yield func(interval) bool) {
		for x := from; ; {
			// The segment [x, segEnd) has a constant offset, so the wall
			// clock runs from wallStart to wallEnd within it.
			off, segEnd := c.segment(x)
			wallStart, wallEnd := x+off, int64(math.MaxInt64)
			if segEnd != math.MaxInt64 {
				wallEnd = segEnd + off
			}
			for day := floorDiv(wallStart, secondsPerDay); day*secondsPerDay < wallEnd; day++ {
				if !c.isWorking(day) {
					continue
				}
				base := day * secondsPerDay
				for _, sp := range c.spans {
					s := max(base+int64(sp.Start.seconds()), wallStart)
					e := min(base+int64(sp.End.seconds()), wallEnd)
					if e <= s {
						continue
					}
					if !yield(interval{start: s - off, end: e - off, day: day}) {
						return
					}
				}
			}
			x = segEnd
		}
	}
}

// segment returns the UTC offset in effect at Unix second x and the first
// second after x at which it may change (math.MaxInt64 for never).
//
// Time.ZoneBounds is only a hint here. Past a zone's last listed transition
// the time package bounds zones by UTC years of 365 days, so on 31 December
// of a leap year it reports an end at or before t (golang/go#81583, open at
// the time of writing); walking by it would never advance. The segment is
// then cut at the end of that UTC day. Whatever the bound, the offset just
// before it is checked, and a change the bound missed is found by bisection,
// so a wrong bound can cost a few lookups but not a wrong wall clock.
func (c *Calendar) segment(x int64) (off, end int64) {
	t := time.Unix(x, 0).In(c.loc)
	_, o := t.Zone()
	_, next := t.ZoneBounds()
	if next.IsZero() {
		return int64(o), math.MaxInt64
	}
	end = next.Unix()
	if end <= x {
		end = (floorDiv(x, secondsPerDay) + 1) * secondsPerDay
	}
	if c.offsetAt(end-1) != o {
		end = firstChange(x, end-1, func(sec int64) bool { return c.offsetAt(sec) == o })
	}
	return int64(o), end
}

// firstChange returns a second in (lo, hi] at which same turns false right
// after being true, given same(lo) and !same(hi): the first one if same
// changes only once in between.
func firstChange(lo, hi int64, same func(int64) bool) int64 {
	for hi-lo > 1 {
		if mid := lo + (hi-lo)/2; same(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}

func (c *Calendar) offsetAt(sec int64) int {
	_, o := time.Unix(sec, 0).In(c.loc).Zone()
	return o
}

// IsWorkingDay reports whether t falls on a working day: its date on the
// calendar's wall clock is neither a holiday nor a weekend day, or is a
// working weekend. The time of day does not matter.
func (c *Calendar) IsWorkingDay(t time.Time) bool {
	c.mustInit()
	y, m, d := t.In(c.loc).Date()
	return c.isWorking(dayNumber(y, m, d))
}

// IsWorkingDate reports whether d is a working day. It returns false for an
// invalid date.
func (c *Calendar) IsWorkingDate(d Date) bool {
	c.mustInit()
	return d.IsValid() && c.isWorking(d.days())
}

// IsWorkingTime reports whether t is inside working hours on a working day.
// Spans include their start and exclude their end: with hours ending at
// 18:00, 17:59:59 is working time and 18:00 is not.
func (c *Calendar) IsWorkingTime(t time.Time) bool {
	c.mustInit()
	// Interval bounds are whole seconds, so comparing t's whole seconds is exact.
	sec := t.Unix()
	for iv := range c.intervals(sec) {
		return iv.start == sec
	}
	panic("unreachable: intervals never ends")
}

// NextWorkingTime returns t itself if it is working time, and otherwise the
// start of the next working span: 12:30 during a 12:00-14:00 lunch break
// gives 14:00 the same day; Friday 19:00 gives Monday 09:00, or the first
// working day after a holiday. The result is in the calendar's location.
func (c *Calendar) NextWorkingTime(t time.Time) time.Time {
	c.mustInit()
	start, _ := c.next(t)
	return start.In(c.loc)
}

// next returns the first working instant at or after t and the working day
// it belongs to.
func (c *Calendar) next(t time.Time) (time.Time, int64) {
	sec := t.Unix()
	for iv := range c.intervals(sec) {
		if iv.start == sec {
			return t, iv.day // t is inside; keep its fraction of a second
		}
		return time.Unix(iv.start, 0), iv.day
	}
	panic("unreachable: intervals never ends")
}

// AddWorkingDays returns the deadline for "within n working days" of t: the
// same wall-clock time of day n working days after the case starts, where
// the case starts at NextWorkingTime(t).
//
// With hours 09:00-12:00 and 14:00-18:00, for n = 3:
//   - Monday 10:30 is due Thursday 10:30;
//   - Monday 12:30 (lunch) starts at 14:00 and is due Thursday 14:00;
//   - Friday 19:00 starts Monday 09:00 and is due Thursday 09:00;
//   - Wednesday 30 September 2026 at 20:00, with 1-7 October as holidays
//     and Saturday 10 October a working weekend, starts Thursday 8 October
//     at 09:00 and is due Monday 12 October at 09:00 (the 9th, the 10th
//     and the 12th are the three working days).
//
// If a DST change skips that time of day on the due date, the deadline is
// the instant the clock jumps past it. n = 0 gives NextWorkingTime(t). A
// negative n returns an error matching ErrNegative. The result is in the
// calendar's location.
func (c *Calendar) AddWorkingDays(t time.Time, n int) (time.Time, error) {
	c.mustInit()
	if n < 0 {
		return time.Time{}, fmt.Errorf("%w: %d working days", ErrNegative, n)
	}
	start, day := c.next(t)
	if n == 0 {
		return start.In(c.loc), nil
	}
	hh, mm, ss := start.In(c.loc).Clock()
	for left := n; left > 0; {
		day++
		if c.isWorking(day) {
			left--
		}
	}
	wall := day*secondsPerDay + int64(hh*3600+mm*60+ss)
	return c.fromWall(wall, start.Nanosecond()).In(c.loc), nil
}

// fromWall returns the first instant at which the calendar's wall clock
// shows wall (seconds since 1970-01-01 00:00 on the wall clock) plus nsec,
// or, if the clock skips that reading, the instant it jumps past it.
func (c *Calendar) fromWall(wall int64, nsec int) time.Time {
	// No zone is more than a day from UTC, so an instant two days earlier
	// shows an earlier wall time; walk forward through the segments.
	for x := wall - 2*secondsPerDay; ; {
		off, end := c.segment(x)
		switch {
		case wall < x+off: // the segment starts after wall: skipped by a change
			return time.Unix(x, 0)
		case end == math.MaxInt64 || wall < end+off:
			return time.Unix(wall-off, int64(nsec))
		}
		x = end
	}
}

// AddWorkingDuration returns the earliest instant by which d of working
// time has passed since t: the deadline for "within 2 working hours".
// Non-working time does not count. With hours ending at 18:00 and starting
// at 09:00, 2 working hours from 17:00 is 10:00 on the next working day,
// and 1 working hour from 17:00 is 18:00 the same day (a deadline that uses
// a span up exactly lands at its end, not at the next opening).
//
// d = 0 gives t. A negative d returns an error matching ErrNegative. For
// every t and d >= 0, WorkingDuration(t, AddWorkingDuration(t, d)) == d.
// The result is in the calendar's location.
func (c *Calendar) AddWorkingDuration(t time.Time, d time.Duration) (time.Time, error) {
	c.mustInit()
	if d < 0 {
		return time.Time{}, fmt.Errorf("%w: %v of working time", ErrNegative, d)
	}
	if d == 0 {
		return t.In(c.loc), nil
	}
	sec := t.Unix()
	left := d
	for iv := range c.intervals(sec) {
		s := t
		if iv.start > sec {
			s = time.Unix(iv.start, 0)
		}
		if avail := time.Unix(iv.end, 0).Sub(s); left > avail {
			left -= avail
			continue
		}
		return s.Add(left).In(c.loc), nil
	}
	panic("unreachable: intervals never ends")
}

// WorkingDuration returns the working time between from and to: how much
// of an SLA a case has consumed, or, summed over the periods a case was
// open, the time it ran while suspensions stopped the clock. It is 0 if to
// is not after from, and saturates at the largest time.Duration. It visits
// each day in between once.
func (c *Calendar) WorkingDuration(from, to time.Time) time.Duration {
	c.mustInit()
	if !to.After(from) {
		return 0
	}
	fromSec, toSec := from.Unix(), to.Unix()
	var sum time.Duration
	for iv := range c.intervals(fromSec) {
		if iv.start > toSec || (iv.start == toSec && to.Nanosecond() == 0) {
			break
		}
		s, e := time.Unix(iv.start, 0), time.Unix(iv.end, 0)
		if s.Before(from) {
			s = from
		}
		if e.After(to) {
			e = to
		}
		part := e.Sub(s)
		if sum > math.MaxInt64-part {
			return math.MaxInt64
		}
		sum += part
	}
	return sum
}
