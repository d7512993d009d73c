package calendar_test

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/govkit/govkit/calendar"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseDate(t *testing.T) {
	d, err := calendar.ParseDate("2026-10-01")
	require.NoError(t, err)
	assert.Equal(t, calendar.Date{Year: 2026, Month: time.October, Day: 1}, d)
	assert.Equal(t, "2026-10-01", d.String())
	assert.Equal(t, time.Thursday, d.Weekday())

	for _, s := range []string{"2024-02-29", "0001-01-01", "9999-12-31", "2000-02-29"} {
		d, err := calendar.ParseDate(s)
		require.NoError(t, err, s)
		assert.Equal(t, s, d.String())
		assert.True(t, d.IsValid())
	}

	for _, s := range []string{
		"", "2026-1-01", "2026-10-1", "26-10-01", "2026/10/01", "2026-10-01T00:00:00Z",
		"2026-13-01", "2026-00-10", "2026-02-29", "2100-02-29", "2026-04-31", "0000-01-01",
		"2026-10-00", "20a6-10-01", "+026-10-01", "2026-1a-01", "2026-10-0x", " 2026-10-01",
	} {
		_, err := calendar.ParseDate(s)
		require.Error(t, err, "%q", s)
		assert.ErrorIs(t, err, calendar.ErrInvalidDate, "%q", s)
		var pe *calendar.ParseError
		require.True(t, errors.As(err, &pe), "%q", s)
		assert.Equal(t, s, pe.Input)
		assert.NotEmpty(t, pe.Reason)
	}
}

func TestDateTextAndJSON(t *testing.T) {
	type notice struct {
		Day calendar.Date `json:"day"`
	}
	b, err := json.Marshal(notice{calendar.Date{Year: 2026, Month: 9, Day: 27}})
	require.NoError(t, err)
	assert.JSONEq(t, `{"day":"2026-09-27"}`, string(b))

	var n notice
	require.NoError(t, json.Unmarshal([]byte(`{"day":"2026-10-10"}`), &n))
	assert.Equal(t, calendar.Date{Year: 2026, Month: 10, Day: 10}, n.Day)

	err = json.Unmarshal([]byte(`{"day":"2026-10-32"}`), &n)
	assert.ErrorIs(t, err, calendar.ErrInvalidDate)

	_, err = json.Marshal(notice{calendar.Date{Year: 2026, Month: 2, Day: 30}})
	assert.ErrorIs(t, err, calendar.ErrInvalidDate, "an invalid date is never written")
	_, err = json.Marshal(notice{})
	assert.ErrorIs(t, err, calendar.ErrInvalidDate, "the zero Date is invalid")
}

func TestDateArithmetic(t *testing.T) {
	d := calendar.Date{Year: 2026, Month: 9, Day: 30}
	assert.Equal(t, calendar.Date{Year: 2026, Month: 10, Day: 1}, d.AddDays(1))
	assert.Equal(t, calendar.Date{Year: 2027, Month: 1, Day: 1}, calendar.Date{Year: 2026, Month: 12, Day: 31}.AddDays(1))
	assert.Equal(t, calendar.Date{Year: 2024, Month: 2, Day: 29}, calendar.Date{Year: 2024, Month: 3, Day: 1}.AddDays(-1))
	assert.Equal(t, d, d.AddDays(365).AddDays(-365))
	assert.Equal(t, calendar.Date{Year: 2026, Month: 10, Day: 7}, d.AddDays(7))

	assert.Equal(t, 0, d.Compare(d))
	assert.Equal(t, -1, d.Compare(d.AddDays(1)))
	assert.Equal(t, 1, d.Compare(d.AddDays(-1)))
	assert.Equal(t, -1, d.Compare(calendar.Date{Year: 2027, Month: 1, Day: 1}))
	assert.Equal(t, 1, d.Compare(calendar.Date{Year: 2026, Month: 8, Day: 31}))

	ds := []calendar.Date{{2026, 10, 7}, {2025, 12, 31}, {2026, 1, 1}, {2026, 9, 30}}
	slices.SortFunc(ds, calendar.Date.Compare)
	assert.Equal(t, []calendar.Date{{2025, 12, 31}, {2026, 1, 1}, {2026, 9, 30}, {2026, 10, 7}}, ds)

	tokyo := time.FixedZone("JST", 9*60*60)
	assert.Equal(t, time.Date(2026, 9, 30, 0, 0, 0, 0, tokyo), d.In(tokyo))
	// DateOf reads the date in the time's own zone.
	late := time.Date(2026, 9, 30, 20, 0, 0, 0, time.UTC)
	assert.Equal(t, d, calendar.DateOf(late))
	assert.Equal(t, d.AddDays(1), calendar.DateOf(late.In(tokyo)))
}

func TestTimeOfDay(t *testing.T) {
	for s, want := range map[string]time.Duration{
		"09:00":    9 * time.Hour,
		"13:30":    13*time.Hour + 30*time.Minute,
		"00:00":    0,
		"24:00":    24 * time.Hour,
		"24:00:00": 24 * time.Hour,
		"07:15:30": 7*time.Hour + 15*time.Minute + 30*time.Second,
		"23:59:59": 24*time.Hour - time.Second,
	} {
		got, err := calendar.ParseTimeOfDay(s)
		require.NoError(t, err, s)
		assert.Equal(t, calendar.TimeOfDay(want), got, s)
		txt, err := got.MarshalText()
		require.NoError(t, err)
		if s == "24:00:00" {
			s = "24:00"
		}
		assert.Equal(t, s, string(txt))
	}
	assert.Equal(t, calendar.TimeOfDay(13*time.Hour+30*time.Minute), calendar.At(13, 30))
	assert.Equal(t, calendar.EndOfDay, calendar.At(24, 0))

	for _, s := range []string{"", "9:00", "09:0", "0900", "09-00", "25:00", "24:01", "24:00:01", "12:60", "12:00:60",
		"12:00:5", "1a:00", "12:0b", "12:00:0c", "12:00:00.5", " 12:00"} {
		_, err := calendar.ParseTimeOfDay(s)
		require.Error(t, err, "%q", s)
		assert.ErrorIs(t, err, calendar.ErrInvalidTimeOfDay, "%q", s)
		var pe *calendar.ParseError
		require.True(t, errors.As(err, &pe))
		assert.Equal(t, s, pe.Input)
	}

	for _, bad := range []calendar.TimeOfDay{-1, calendar.EndOfDay + 1, calendar.TimeOfDay(time.Millisecond)} {
		assert.False(t, bad.IsValid(), "%d", bad)
		_, err := bad.MarshalText()
		assert.ErrorIs(t, err, calendar.ErrInvalidTimeOfDay)
		assert.Contains(t, bad.String(), "TimeOfDay(")
	}

	var tod calendar.TimeOfDay
	require.NoError(t, tod.UnmarshalText([]byte("17:30")))
	assert.Equal(t, calendar.At(17, 30), tod)
	assert.ErrorIs(t, tod.UnmarshalText([]byte("17h30")), calendar.ErrInvalidTimeOfDay)
	assert.Equal(t, calendar.At(17, 30), tod, "a failed UnmarshalText leaves the value")

	sp := calendar.Span{Start: calendar.At(13, 30), End: calendar.At(17, 30)}
	assert.Equal(t, 4*time.Hour, sp.Duration())
	assert.Equal(t, "13:30-17:30", sp.String())
	b, err := json.Marshal(sp)
	require.NoError(t, err)
	assert.JSONEq(t, `{"start":"13:30","end":"17:30"}`, string(b))
}
