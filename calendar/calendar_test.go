package calendar_test

import (
	"sync"
	"testing"
	"time"
	_ "time/tzdata" // Europe/Berlin and America/Santiago on machines without a zone database

	"github.com/govkit/govkit/calendar"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// nationalDay is the test calendar of nationalDayJSON, built in Go. The
// dates around it, for the hand-worked expectations below:
//
//	Mon 21 Sep  Tue 22  Wed 23  Thu 24  Fri 25  Sat 26 off  Sun 27 WORKED
//	Mon 28      Tue 29  Wed 30  Thu 1 Oct - Wed 7 Oct HOLIDAY
//	Thu 8       Fri 9   Sat 10 WORKED   Sun 11 off  Mon 12  Tue 13
//
// Hours are 09:00-12:00 and 14:00-18:00: 7 working hours a day.
func nationalDay(t testing.TB) *calendar.Calendar {
	t.Helper()
	c, err := calendar.New(calendar.Config{
		Holidays: []calendar.Date{
			date(2026, 10, 1), date(2026, 10, 2), date(2026, 10, 3), date(2026, 10, 4),
			date(2026, 10, 5), date(2026, 10, 6), date(2026, 10, 7),
		},
		WorkingWeekends: []calendar.Date{date(2026, 9, 27), date(2026, 10, 10)},
	})
	require.NoError(t, err)
	return c
}

func mustLoad(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	require.NoError(t, err)
	return loc
}

func TestIsWorkingDayAndTime(t *testing.T) {
	c := nationalDay(t)
	cst := c.Location()
	at := func(m time.Month, d, h, mi, s, ns int) time.Time { return time.Date(2026, m, d, h, mi, s, ns, cst) }

	days := map[time.Time]bool{
		at(9, 25, 10, 0, 0, 0): true,  // Friday
		at(9, 26, 10, 0, 0, 0): false, // Saturday
		at(9, 27, 10, 0, 0, 0): true,  // Sunday, worked
		at(10, 1, 10, 0, 0, 0): false, // holiday, Thursday
		at(10, 5, 10, 0, 0, 0): false, // holiday, Monday
		at(10, 8, 23, 0, 0, 0): true,  // after hours still counts as a working day
		at(10, 10, 0, 0, 0, 0): true,  // Saturday, worked
		at(10, 11, 0, 0, 0, 0): false, // Sunday
		// 16:30 UTC on 30 September is 00:30 on 1 October in Shanghai.
		time.Date(2026, 9, 30, 16, 30, 0, 0, time.UTC): false,
		time.Date(2026, 9, 30, 15, 59, 0, 0, time.UTC): true,
	}
	for tm, want := range days {
		assert.Equal(t, want, c.IsWorkingDay(tm), "IsWorkingDay(%v)", tm)
	}

	times := map[time.Time]bool{
		at(9, 21, 9, 0, 0, 0):                         true, // opening: start is inclusive
		at(9, 21, 8, 59, 59, 999999999):               false,
		at(9, 21, 11, 59, 59, 999999999):              true,
		at(9, 21, 12, 0, 0, 0):                        false, // end is exclusive
		at(9, 21, 13, 0, 0, 0):                        false, // lunch
		at(9, 21, 14, 0, 0, 0):                        true,
		at(9, 21, 17, 59, 0, 0):                       true,
		at(9, 21, 18, 0, 0, 0):                        false,
		at(9, 21, 0, 0, 0, 0):                         false,
		at(9, 26, 10, 0, 0, 0):                        false, // Saturday
		at(9, 27, 10, 0, 0, 0):                        true,  // worked Sunday
		at(10, 5, 10, 0, 0, 0):                        false, // holiday Monday
		at(10, 10, 15, 0, 0, 0):                       true,  // worked Saturday
		time.Date(2026, 9, 21, 1, 0, 0, 0, time.UTC):  true,  // 09:00 in Shanghai
		time.Date(2026, 9, 21, 0, 59, 0, 0, time.UTC): false,
	}
	for tm, want := range times {
		assert.Equal(t, want, c.IsWorkingTime(tm), "IsWorkingTime(%v)", tm)
	}
}

func TestNextWorkingTime(t *testing.T) {
	c := nationalDay(t)
	cst := c.Location()
	at := func(m time.Month, d, h, mi int) time.Time { return time.Date(2026, m, d, h, mi, 0, 0, cst) }
	tests := []struct{ in, want time.Time }{
		{at(9, 21, 10, 30), at(9, 21, 10, 30)},                           // already working: unchanged
		{at(9, 21, 8, 0), at(9, 21, 9, 0)},                               // before opening
		{at(9, 21, 12, 0), at(9, 21, 14, 0)},                             // end of the morning span
		{at(9, 21, 12, 30), at(9, 21, 14, 0)},                            // lunch
		{at(9, 25, 19, 0), at(9, 27, 9, 0)},                              // Friday evening -> worked Sunday
		{at(9, 30, 18, 0), at(10, 8, 9, 0)},                              // closing time before the holiday
		{at(10, 3, 10, 0), at(10, 8, 9, 0)},                              // inside the holiday
		{at(10, 9, 18, 0), at(10, 10, 9, 0)},                             // Friday close -> worked Saturday
		{at(10, 10, 18, 0), at(10, 12, 9, 0)},                            // worked Saturday close -> Monday
		{time.Date(2026, 9, 30, 12, 0, 0, 0, time.UTC), at(10, 8, 9, 0)}, // 20:00 CST
	}
	for _, tt := range tests {
		got := c.NextWorkingTime(tt.in)
		assert.True(t, tt.want.Equal(got), "NextWorkingTime(%v) = %v, want %v", tt.in, got, tt.want)
		assert.Equal(t, cst, got.Location(), "results are in the calendar's location")
	}
}

func TestAddWorkingDays(t *testing.T) {
	c := nationalDay(t)
	cst := c.Location()
	at := func(m time.Month, d, h, mi int) time.Time { return time.Date(2026, m, d, h, mi, 0, 0, cst) }
	tests := []struct {
		name string
		in   time.Time
		n    int
		want time.Time
	}{
		// Inside hours: same time of day, n working days on.
		{"Monday morning", at(9, 21, 10, 30), 3, at(9, 24, 10, 30)},
		// Lunch: starts 14:00 Monday, due 14:00 Tuesday.
		{"lunch break", at(9, 21, 12, 30), 1, at(9, 22, 14, 0)},
		// Friday 19:00 starts on the worked Sunday 27th at 09:00; working
		// days Mon 28 (1), Tue 29 (2), Wed 30 (3).
		{"Friday evening before the holiday week", at(9, 25, 19, 0), 3, at(9, 30, 9, 0)},
		// Starts Thu 8 Oct 09:00; Fri 9 (1), worked Sat 10 (2), Mon 12 (3).
		{"eve of National Day", at(9, 30, 20, 0), 3, at(10, 12, 9, 0)},
		// 10:30 on the last day before the holiday: next working day is 8 Oct.
		{"across the holiday", at(9, 30, 10, 30), 1, at(10, 8, 10, 30)},
		// Fri 25 (1), Sun 27 (2), Mon 28 (3), Tue 29 (4), Wed 30 (5).
		{"five days over a worked Sunday", at(9, 24, 9, 0), 5, at(9, 30, 9, 0)},
		// 18:00 is closed: starts Sat 10 09:00, one working day on is Mon 12.
		{"at closing time", at(10, 9, 18, 0), 1, at(10, 12, 9, 0)},
		// Ordinary Saturday: starts Sun 27 09:00 (worked), due Mon 28 09:00.
		{"ordinary Saturday", at(9, 26, 10, 0), 1, at(9, 28, 9, 0)},
		{"zero days is the next working time", at(10, 3, 10, 0), 0, at(10, 8, 9, 0)},
		{"zero days inside hours", at(9, 21, 10, 30), 0, at(9, 21, 10, 30)},
		{"sub-second time of day is kept", at(9, 30, 17, 59).Add(59*time.Second + 500*time.Millisecond), 2,
			at(10, 9, 17, 59).Add(59*time.Second + 500*time.Millisecond)},
		// 20:00 UTC on Sunday 27 Sep is 04:00 Monday 28 in Shanghai: starts
		// Mon 28 09:00, due Tue 29 09:00 (not counted from the UTC Sunday).
		{"input in UTC", time.Date(2026, 9, 27, 20, 0, 0, 0, time.UTC), 1, at(9, 29, 9, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.AddWorkingDays(tt.in, tt.n)
			require.NoError(t, err)
			assert.True(t, tt.want.Equal(got), "got %v, want %v", got, tt.want)
			assert.Equal(t, cst, got.Location())
		})
	}

	_, err := c.AddWorkingDays(at(9, 21, 10, 0), -1)
	assert.ErrorIs(t, err, calendar.ErrNegative)
}

func TestAddWorkingDuration(t *testing.T) {
	c := nationalDay(t)
	cst := c.Location()
	at := func(m time.Month, d, h, mi int) time.Time { return time.Date(2026, m, d, h, mi, 0, 0, cst) }
	tests := []struct {
		name string
		in   time.Time
		d    time.Duration
		want time.Time
	}{
		// 17:00-18:00 (1h), then 09:00-10:00 Thursday (1h).
		{"two hours from 17:00", at(9, 23, 17, 0), 2 * time.Hour, at(9, 24, 10, 0)},
		// Uses the afternoon up exactly: due at closing, not next morning.
		{"one hour from 17:00", at(9, 23, 17, 0), time.Hour, at(9, 23, 18, 0)},
		// 11:00-12:00 (1h), lunch free, 14:00-15:00 (1h).
		{"over lunch", at(9, 21, 11, 0), 2 * time.Hour, at(9, 21, 15, 0)},
		{"from lunch", at(9, 21, 12, 30), time.Hour, at(9, 21, 15, 0)},
		// Fri 17-18 (1h), Sat off, Sun 27 09-12 (3h, 4h in all), 14-18 (8h).
		{"a working day over a worked Sunday", at(9, 25, 17, 0), 8 * time.Hour, at(9, 27, 18, 0)},
		// Wed 30 16-18 (2h), holiday, Thu 8 09-10 (3h).
		{"across the holiday", at(9, 30, 16, 0), 3 * time.Hour, at(10, 8, 10, 0)},
		// Sep 30 (7h), Oct 8 (14h), Oct 9 (21h), worked Sat 10 09-12 (24h).
		{"24 working hours", at(9, 30, 9, 0), 24 * time.Hour, at(10, 10, 12, 0)},
		{"from inside the holiday", at(10, 4, 10, 0), 30 * time.Minute, at(10, 8, 9, 30)},
		{"zero is t itself", at(9, 30, 20, 0), 0, at(9, 30, 20, 0)},
		{"a nanosecond at closing", at(9, 21, 18, 0), time.Nanosecond, at(9, 22, 9, 0).Add(time.Nanosecond)},
		// 09:00 UTC is 17:00 in Shanghai.
		{"input in UTC", time.Date(2026, 9, 23, 9, 0, 0, 0, time.UTC), 2 * time.Hour, at(9, 24, 10, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.AddWorkingDuration(tt.in, tt.d)
			require.NoError(t, err)
			assert.True(t, tt.want.Equal(got), "got %v, want %v", got, tt.want)
			assert.Equal(t, cst, got.Location())
			assert.Equal(t, tt.d, c.WorkingDuration(tt.in, got))
		})
	}

	_, err := c.AddWorkingDuration(at(9, 21, 10, 0), -time.Nanosecond)
	assert.ErrorIs(t, err, calendar.ErrNegative)
}

func TestWorkingDuration(t *testing.T) {
	c := nationalDay(t)
	cst := c.Location()
	at := func(y int, m time.Month, d, h, mi int) time.Time { return time.Date(y, m, d, h, mi, 0, 0, cst) }
	tests := []struct {
		name     string
		from, to time.Time
		want     time.Duration
	}{
		// Fri 17-18 (1h) + worked Sun 27 (7h) + Mon 09-10 (1h).
		{"over a weekend", at(2026, 9, 25, 17, 0), at(2026, 9, 28, 10, 0), 9 * time.Hour},
		{"the holiday week", at(2026, 10, 1, 0, 0), at(2026, 10, 8, 0, 0), 0},
		{"the day before and the holiday", at(2026, 9, 30, 0, 0), at(2026, 10, 8, 0, 0), 7 * time.Hour},
		{"inside lunch", at(2026, 9, 21, 12, 10), at(2026, 9, 21, 13, 50), 0},
		{"across lunch", at(2026, 9, 21, 11, 0), at(2026, 9, 21, 15, 30), 2*time.Hour + 30*time.Minute},
		{"equal instants", at(2026, 9, 21, 10, 0), at(2026, 9, 21, 10, 0), 0},
		{"to before from", at(2026, 9, 21, 15, 0), at(2026, 9, 21, 10, 0), 0},
		// 2026 has 261 weekdays (52 weeks and Thursday 31 December); 5 of
		// the holidays are weekdays (1, 2, 5, 6, 7 October); 2 weekend days
		// are worked: 258 days of 7 hours.
		{"the year 2026", at(2026, 1, 1, 0, 0), at(2027, 1, 1, 0, 0), 258 * 7 * time.Hour},
		{"mixed zones", time.Date(2026, 9, 21, 2, 0, 0, 0, time.UTC), at(2026, 9, 21, 12, 0), 2 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, c.WorkingDuration(tt.from, tt.to))
		})
	}
}

func TestWorkingDurationSaturates(t *testing.T) {
	c, err := calendar.New(calendar.Config{Weekend: []time.Weekday{}, Hours: []calendar.Span{span(0, 0, 24, 0)}, Location: time.UTC})
	require.NoError(t, err)
	from := time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC)
	assert.Equal(t, time.Duration(1<<63-1), c.WorkingDuration(from, from.AddDate(300, 0, 0)))
}

// TestWallClockHours: working hours are read on the calendar's own wall
// clock, which in a zone with daylight saving time is not a fixed UTC time.
func TestWallClockHours(t *testing.T) {
	berlin := mustLoad(t, "Europe/Berlin")
	c, err := calendar.New(calendar.Config{Location: berlin, Hours: []calendar.Span{span(9, 0, 17, 0)}})
	require.NoError(t, err)

	// Friday 27 March 2026 is winter time (UTC+1), Monday 30 March summer time (UTC+2).
	assert.False(t, c.IsWorkingTime(time.Date(2026, 3, 27, 7, 30, 0, 0, time.UTC)), "08:30 CET")
	assert.True(t, c.IsWorkingTime(time.Date(2026, 3, 27, 8, 0, 0, 0, time.UTC)), "09:00 CET")
	assert.True(t, c.IsWorkingTime(time.Date(2026, 3, 30, 7, 0, 0, 0, time.UTC)), "09:00 CEST")
	assert.False(t, c.IsWorkingTime(time.Date(2026, 3, 30, 15, 0, 0, 0, time.UTC)), "17:00 CEST")

	// One working day from Friday 10:00 is Monday 10:00 on the wall clock,
	// though only 71 real hours pass.
	fri := time.Date(2026, 3, 27, 10, 0, 0, 0, berlin)
	got, err := c.AddWorkingDays(fri, 1)
	require.NoError(t, err)
	assert.Equal(t, time.Date(2026, 3, 30, 10, 0, 0, 0, berlin), got)
	assert.Equal(t, 71*time.Hour, got.Sub(fri))
	// The 8 working hours between them are 8 wall-clock hours.
	assert.Equal(t, 8*time.Hour, c.WorkingDuration(fri, got))
}

// TestDSTInsideASpan: a span containing a clock change lasts the real time
// that passes, and AddWorkingDuration agrees.
func TestDSTInsideASpan(t *testing.T) {
	berlin := mustLoad(t, "Europe/Berlin")
	c, err := calendar.New(calendar.Config{Location: berlin, Weekend: []time.Weekday{}, Hours: []calendar.Span{span(0, 0, 3, 30)}})
	require.NoError(t, err)
	day := func(m time.Month, d int) time.Duration {
		from := time.Date(2026, m, d, 0, 0, 0, 0, berlin)
		return c.WorkingDuration(from, from.AddDate(0, 0, 1))
	}
	assert.Equal(t, 3*time.Hour+30*time.Minute, day(3, 28))
	assert.Equal(t, 2*time.Hour+30*time.Minute, day(3, 29), "02:00 CET jumps to 03:00 CEST")
	assert.Equal(t, 4*time.Hour+30*time.Minute, day(10, 25), "03:00 CEST falls back to 02:00 CET")

	// 2h30m on 29 March, then 30 minutes on the 30th.
	got, err := c.AddWorkingDuration(time.Date(2026, 3, 29, 0, 0, 0, 0, berlin), 3*time.Hour)
	require.NoError(t, err)
	assert.Equal(t, time.Date(2026, 3, 30, 0, 30, 0, 0, berlin), got)
	// From 00:00 CEST (22:00 UTC) 4 real hours reach 03:00 CET (02:00 UTC).
	got, err = c.AddWorkingDuration(time.Date(2026, 10, 25, 0, 0, 0, 0, berlin), 4*time.Hour)
	require.NoError(t, err)
	assert.True(t, got.Equal(time.Date(2026, 10, 25, 2, 0, 0, 0, time.UTC)), "%v", got)
	assert.True(t, c.IsWorkingTime(time.Date(2026, 10, 25, 2, 15, 0, 0, berlin)))
}

// TestAddWorkingDaysOverClockChanges: the due time of day may not exist, or
// may occur twice, on the due date. America/Santiago moves its clocks at
// midnight: 00:00-01:00 on Sunday 6 September 2026 does not exist, and
// 23:00-24:00 on Saturday 4 April 2026 happens twice.
func TestAddWorkingDaysOverClockChanges(t *testing.T) {
	santiago := mustLoad(t, "America/Santiago")
	c, err := calendar.New(calendar.Config{Location: santiago, Weekend: []time.Weekday{},
		Hours: []calendar.Span{span(0, 0, 1, 30), span(22, 0, 24, 0)}})
	require.NoError(t, err)

	// 00:30 on 6 September is skipped: due when the clock jumps to 01:00.
	got, err := c.AddWorkingDays(time.Date(2026, 9, 5, 0, 30, 0, 0, santiago), 1)
	require.NoError(t, err)
	assert.True(t, got.Equal(time.Date(2026, 9, 6, 4, 0, 0, 0, time.UTC)), "%v", got)
	assert.Equal(t, "2026-09-06 01:00:00 -03", got.Format("2006-01-02 15:04:05 -07"))

	// 23:30 on 4 April happens twice: due at the first.
	got, err = c.AddWorkingDays(time.Date(2026, 4, 3, 23, 30, 0, 0, santiago), 1)
	require.NoError(t, err)
	assert.True(t, got.Equal(time.Date(2026, 4, 5, 2, 30, 0, 0, time.UTC)), "%v", got)

	// The repeated hour is working time both times it is shown: 22:00-24:00
	// on 4 April lasts three real hours.
	from := time.Date(2026, 4, 4, 12, 0, 0, 0, santiago)
	to := time.Date(2026, 4, 5, 0, 0, 0, 0, santiago) // after the repeat
	assert.Equal(t, 13*time.Hour, to.Sub(from), "12 hours of wall clock and the repeated hour")
	assert.Equal(t, 3*time.Hour, c.WorkingDuration(from, to))
	// The skipped hour is not: 5 September 22:00 to 6 September 01:30 is
	// 2h (22:00-24:00) and 30m (01:00-01:30).
	from = time.Date(2026, 9, 5, 12, 0, 0, 0, santiago)
	assert.Equal(t, 2*time.Hour+30*time.Minute, c.WorkingDuration(from, from.Add(24*time.Hour)))
}

// TestLeapYearEndPastLastTransition is a regression test for a hang found
// by FuzzParse: on 31 December (UTC) of a leap year after a zone's last
// listed transition, time.Time.ZoneBounds reports an end before the
// instant (golang/go#81583), and walking zone segments by it never advanced.
// 2040 is such a year for Europe/Berlin. Monday 31 December 2040 and
// Wednesday 2 January 2041 are working days; 1 January is a holiday.
func TestLeapYearEndPastLastTransition(t *testing.T) {
	berlin := mustLoad(t, "Europe/Berlin")
	c, err := calendar.New(calendar.Config{Location: berlin, Holidays: []calendar.Date{date(2041, 1, 1)}})
	require.NoError(t, err)
	fri := time.Date(2040, 12, 28, 17, 0, 0, 0, berlin)

	done := make(chan struct{})
	go func() {
		defer close(done)
		// Fri 17-18 (1h), Mon 31 09-12 and 14-18 (8h in all), holiday,
		// Wed 2 January 09-10 (9h).
		due, err := c.AddWorkingDuration(fri, 9*time.Hour)
		assert.NoError(t, err)
		assert.Equal(t, time.Date(2041, 1, 2, 10, 0, 0, 0, berlin), due)
		assert.Equal(t, 9*time.Hour, c.WorkingDuration(fri, due))
		assert.True(t, c.IsWorkingTime(time.Date(2040, 12, 31, 9, 0, 0, 0, time.UTC)), "10:00 CET")
		assert.False(t, c.IsWorkingTime(time.Date(2040, 12, 31, 11, 30, 0, 0, time.UTC)), "12:30 CET")
		next := c.NextWorkingTime(time.Date(2040, 12, 31, 17, 0, 0, 0, time.UTC)) // 18:00 CET
		assert.Equal(t, time.Date(2041, 1, 2, 9, 0, 0, 0, berlin), next)
		day, err := c.AddWorkingDays(fri, 1)
		assert.NoError(t, err)
		assert.Equal(t, time.Date(2040, 12, 31, 17, 0, 0, 0, berlin), day)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("working-time queries across 31 December 2040 did not return")
	}
}

// TestConcurrentUse runs queries on one Calendar from many goroutines; under
// -race it shows that queries never write shared state.
func TestConcurrentUse(t *testing.T) {
	c := nationalDay(t)
	start := time.Date(2026, 9, 20, 8, 0, 0, 0, c.Location())
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				tm := start.Add(time.Duration(g*200+i) * 17 * time.Minute)
				d := time.Duration(i%40) * 30 * time.Minute
				end, err := c.AddWorkingDuration(tm, d)
				assert.NoError(t, err)
				assert.Equal(t, d, c.WorkingDuration(tm, end))
				_, _ = c.AddWorkingDays(tm, i%5)
				c.IsWorkingTime(tm)
				c.NextWorkingTime(tm)
				_, _ = c.MarshalJSON()
			}
		}()
	}
	wg.Wait()
}
