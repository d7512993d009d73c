package calendar_test

import (
	"errors"
	"testing"
	"time"

	"github.com/govkit/govkit/calendar"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func date(y int, m time.Month, d int) calendar.Date { return calendar.Date{Year: y, Month: m, Day: d} }

func span(h1, m1, h2, m2 int) calendar.Span {
	return calendar.Span{Start: calendar.At(h1, m1), End: calendar.At(h2, m2)}
}

// requireConfigError asserts err is a *ConfigError for field whose message
// mentions reason, and that it matches ErrInvalidConfig.
func requireConfigError(t *testing.T, err error, field, reason string) *calendar.ConfigError {
	t.Helper()
	require.Error(t, err)
	assert.ErrorIs(t, err, calendar.ErrInvalidConfig)
	var ce *calendar.ConfigError
	require.True(t, errors.As(err, &ce), "want *ConfigError, got %T: %v", err, err)
	assert.Equal(t, field, ce.Field, "%v", err)
	assert.Contains(t, ce.Reason, reason, "%v", err)
	assert.Contains(t, err.Error(), "calendar: invalid config")
	return ce
}

func TestNewRejectsInvalidConfig(t *testing.T) {
	tests := []struct {
		name   string
		cfg    calendar.Config
		field  string
		reason string
		cause  error // also matched by errors.Is, if set
	}{
		{"weekday out of range", calendar.Config{Weekend: []time.Weekday{time.Saturday, 7}},
			"weekend[1]", "not a day of the week", nil},
		{"negative weekday", calendar.Config{Weekend: []time.Weekday{-1}},
			"weekend[0]", "not a day of the week", nil},
		{"weekday twice", calendar.Config{Weekend: []time.Weekday{time.Sunday, time.Saturday, time.Sunday}},
			"weekend[2]", "Sunday is listed twice", nil},
		{"no working weekday", calendar.Config{Weekend: []time.Weekday{0, 1, 2, 3, 4, 5, 6}},
			"weekend", "every day of the week", nil},
		{"invalid holiday", calendar.Config{Holidays: []calendar.Date{date(2026, 10, 1), date(2026, 2, 29)}},
			"holidays[1]", "2026-02-29 is not a valid date", calendar.ErrInvalidDate},
		{"zero holiday", calendar.Config{Holidays: []calendar.Date{{}}},
			"holidays[0]", "not a valid date", calendar.ErrInvalidDate},
		{"holiday twice", calendar.Config{Holidays: []calendar.Date{date(2026, 10, 1), date(2026, 10, 2), date(2026, 10, 1)}},
			"holidays[2]", "2026-10-01 is listed twice", nil},
		{"invalid working weekend", calendar.Config{WorkingWeekends: []calendar.Date{date(2026, 9, 31)}},
			"working_weekends[0]", "not a valid date", calendar.ErrInvalidDate},
		{"working weekend twice", calendar.Config{WorkingWeekends: []calendar.Date{date(2026, 10, 10), date(2026, 10, 10)}},
			"working_weekends[1]", "listed twice", nil},
		{"working weekend on a weekday", calendar.Config{WorkingWeekends: []calendar.Date{date(2026, 10, 9)}},
			"working_weekends[0]", "2026-10-09 is a Friday, not a weekend day", nil},
		{"working weekend not in custom weekend", calendar.Config{
			Weekend: []time.Weekday{time.Sunday}, WorkingWeekends: []calendar.Date{date(2026, 10, 10)}},
			"working_weekends[0]", "Saturday, not a weekend day", nil},
		{"both holiday and working weekend", calendar.Config{
			Holidays: []calendar.Date{date(2026, 10, 3)}, WorkingWeekends: []calendar.Date{date(2026, 10, 3)}},
			"working_weekends[0]", "also listed as a holiday", nil},
		{"empty hours", calendar.Config{Hours: []calendar.Span{}},
			"hours", "no working hours", nil},
		{"start before midnight", calendar.Config{Hours: []calendar.Span{{Start: -calendar.At(1, 0), End: calendar.At(9, 0)}}},
			"hours[0].start", "outside 00:00-24:00", nil},
		{"end after midnight", calendar.Config{Hours: []calendar.Span{span(9, 0, 12, 0), span(22, 0, 25, 0)}},
			"hours[1].end", "outside 00:00-24:00", nil},
		{"fractional second", calendar.Config{Hours: []calendar.Span{{Start: calendar.At(9, 0) + calendar.TimeOfDay(time.Millisecond), End: calendar.At(12, 0)}}},
			"hours[0].start", "not a whole second", nil},
		{"fractional end", calendar.Config{Hours: []calendar.Span{{Start: calendar.At(9, 0), End: calendar.At(12, 0) + 1}}},
			"hours[0].end", "not a whole second", nil},
		{"empty span", calendar.Config{Hours: []calendar.Span{span(9, 0, 9, 0)}},
			"hours[0]", "span 09:00-09:00 is empty", nil},
		{"reversed span", calendar.Config{Hours: []calendar.Span{span(12, 0, 9, 0)}},
			"hours[0]", "empty", nil},
		{"overlapping spans", calendar.Config{Hours: []calendar.Span{span(9, 0, 12, 0), span(11, 0, 13, 0)}},
			"hours[1]", "overlaps", nil},
		{"unsorted spans", calendar.Config{Hours: []calendar.Span{span(14, 0, 18, 0), span(9, 0, 12, 0)}},
			"hours[1]", "must be sorted", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := calendar.New(tt.cfg)
			assert.Nil(t, c)
			requireConfigError(t, err, tt.field, tt.reason)
			if tt.cause != nil {
				assert.ErrorIs(t, err, tt.cause)
			}
		})
	}
}

func TestNewAcceptsEdgeCases(t *testing.T) {
	c, err := calendar.New(calendar.Config{
		Weekend: []time.Weekday{}, // a 7-day service
		Hours:   []calendar.Span{span(0, 0, 8, 0), span(8, 0, 16, 0), span(16, 0, 24, 0)},
	})
	require.NoError(t, err, "touching spans and a full day are fine")
	sat := time.Date(2026, 10, 10, 23, 59, 0, 0, c.Location())
	assert.True(t, c.IsWorkingTime(sat))
	assert.Equal(t, 24*time.Hour, c.WorkingDuration(sat.Add(-24*time.Hour), sat))

	// A holiday on a weekend day is allowed: notices list whole periods.
	_, err = calendar.New(calendar.Config{Holidays: []calendar.Date{date(2026, 10, 3), date(2026, 10, 4)}})
	require.NoError(t, err)

	// Six weekend days still leave one working weekday.
	_, err = calendar.New(calendar.Config{Weekend: []time.Weekday{0, 1, 2, 3, 4, 5}})
	require.NoError(t, err)
}

func TestDefault(t *testing.T) {
	c := calendar.Default()
	assert.Equal(t, "Asia/Shanghai", c.Location().String())
	cfg := c.Config()
	assert.Equal(t, []time.Weekday{time.Saturday, time.Sunday}, cfg.Weekend)
	assert.Equal(t, calendar.DefaultHours(), cfg.Hours)
	assert.Equal(t, []calendar.Span{span(9, 0, 12, 0), span(14, 0, 18, 0)}, cfg.Hours)
	assert.Empty(t, cfg.Holidays)
	assert.Empty(t, cfg.WorkingWeekends)

	// 2026-10-01 is a Thursday: a working day without holidays configured.
	assert.True(t, c.IsWorkingDay(time.Date(2026, 10, 1, 10, 0, 0, 0, c.Location())))
	assert.False(t, c.IsWorkingDay(time.Date(2026, 10, 3, 10, 0, 0, 0, c.Location())))
}

func TestConfigRoundTripsAndIsACopy(t *testing.T) {
	in := calendar.Config{
		Location:        time.UTC,
		Weekend:         []time.Weekday{time.Sunday, time.Friday},
		Holidays:        []calendar.Date{date(2026, 10, 7), date(2026, 10, 1)},
		WorkingWeekends: []calendar.Date{date(2026, 10, 11), date(2026, 9, 27)},
		Hours:           []calendar.Span{span(8, 0, 16, 0)},
	}
	c, err := calendar.New(in)
	require.NoError(t, err)
	in.Holidays[0] = date(2030, 1, 1) // the caller's slices are not kept
	in.Hours[0] = span(1, 0, 2, 0)

	out := c.Config()
	assert.Equal(t, time.UTC, out.Location)
	assert.Equal(t, []time.Weekday{time.Friday, time.Sunday}, out.Weekend, "Monday-first order")
	assert.Equal(t, []calendar.Date{date(2026, 10, 1), date(2026, 10, 7)}, out.Holidays, "sorted")
	assert.Equal(t, []calendar.Date{date(2026, 9, 27), date(2026, 10, 11)}, out.WorkingWeekends)
	assert.Equal(t, []calendar.Span{span(8, 0, 16, 0)}, out.Hours)

	out.Holidays[0] = date(2030, 1, 1)
	assert.Equal(t, date(2026, 10, 1), c.Config().Holidays[0], "Config returns copies")

	again, err := calendar.New(out)
	require.NoError(t, err)
	assert.Equal(t, c.Config().Weekend, again.Config().Weekend)

	// An empty weekend survives the round trip as "no weekend", not the default.
	c, err = calendar.New(calendar.Config{Weekend: []time.Weekday{}})
	require.NoError(t, err)
	again, err = calendar.New(c.Config())
	require.NoError(t, err)
	assert.Empty(t, again.Config().Weekend)
	assert.NotNil(t, again.Config().Weekend)
}

func TestZeroCalendarPanics(t *testing.T) {
	var c calendar.Calendar
	now := time.Date(2026, 10, 8, 10, 0, 0, 0, time.UTC)
	for name, f := range map[string]func(){
		"IsWorkingTime":      func() { c.IsWorkingTime(now) },
		"IsWorkingDay":       func() { c.IsWorkingDay(now) },
		"IsWorkingDate":      func() { c.IsWorkingDate(date(2026, 10, 8)) },
		"NextWorkingTime":    func() { c.NextWorkingTime(now) },
		"AddWorkingDays":     func() { _, _ = c.AddWorkingDays(now, 1) },
		"AddWorkingDuration": func() { _, _ = c.AddWorkingDuration(now, time.Hour) },
		"WorkingDuration":    func() { c.WorkingDuration(now, now.Add(time.Hour)) },
		"Config":             func() { c.Config() },
		"Location":           func() { c.Location() },
		"MarshalJSON":        func() { _, _ = c.MarshalJSON() },
	} {
		assert.PanicsWithValue(t,
			"calendar: use of an uninitialised Calendar; build one with New, Parse, Load or Default", f, name)
	}
}
