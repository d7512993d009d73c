package calendar_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/govkit/govkit/calendar"
	"github.com/stretchr/testify/require"
)

// propertyCase is a calendar and the instants around which to sample it.
type propertyCase struct {
	name string
	cal  *calendar.Calendar
	// hot are instants worth sampling densely: holidays, DST changes.
	hot []time.Time
}

func propertyCases(t *testing.T) []propertyCase {
	t.Helper()
	build := func(cfg calendar.Config) *calendar.Calendar {
		c, err := calendar.New(cfg)
		require.NoError(t, err)
		return c
	}
	shanghai := nationalDay(t)
	berlin := mustLoad(t, "Europe/Berlin")
	// Chile changes its clocks at midnight: on 5 April 2026 24:00 becomes
	// 23:00 (midnight occurs twice) and on 6 September 2026 midnight does
	// not exist. Spans touch midnight here on purpose.
	santiago := mustLoad(t, "America/Santiago")
	minus5 := time.FixedZone("UTC-5", -5*60*60)
	return []propertyCase{
		{"Asia/Shanghai with National Day", shanghai, []time.Time{
			time.Date(2026, 9, 25, 17, 0, 0, 0, shanghai.Location()),
			time.Date(2026, 10, 1, 0, 0, 0, 0, shanghai.Location()),
		}},
		{"Europe/Berlin 7-day with night shift", build(calendar.Config{
			Location: berlin,
			Weekend:  []time.Weekday{},
			Holidays: []calendar.Date{date(2026, 3, 30), date(2026, 12, 25)},
			Hours:    []calendar.Span{span(0, 0, 3, 30), span(9, 0, 24, 0)},
		}), []time.Time{
			time.Date(2026, 3, 28, 20, 0, 0, 0, berlin),
			time.Date(2026, 10, 24, 20, 0, 0, 0, berlin),
			// Leap-year ends past the last listed transition (golang/go#81583).
			time.Date(2028, 12, 29, 20, 0, 0, 0, berlin),
			time.Date(2040, 12, 29, 20, 0, 0, 0, berlin),
		}},
		{"America/Santiago midnight changes", build(calendar.Config{
			Location: santiago,
			Weekend:  []time.Weekday{time.Wednesday},
			Hours:    []calendar.Span{span(0, 0, 1, 30), span(8, 0, 12, 0), span(22, 0, 24, 0)},
		}), []time.Time{
			time.Date(2026, 4, 4, 20, 0, 0, 0, santiago),
			time.Date(2026, 9, 5, 20, 0, 0, 0, santiago),
			time.Date(2040, 12, 29, 20, 0, 0, 0, santiago),
		}},
		{"fixed UTC-5 with seconds and touching spans", build(calendar.Config{
			Location:        minus5,
			Holidays:        []calendar.Date{date(2026, 7, 3)},
			WorkingWeekends: []calendar.Date{date(2026, 7, 11)},
			Hours: []calendar.Span{
				{Start: calendar.TimeOfDay(7*time.Hour + 15*time.Minute + 30*time.Second), End: calendar.At(11, 0)},
				span(11, 0, 11, 45), span(23, 0, 24, 0),
			},
		}), []time.Time{time.Date(2026, 7, 2, 12, 0, 0, 0, minus5)}},
	}
}

// randomInstant returns an instant in 2025-2027, or near a hot instant half
// the time, shown in a random zone: the zone of the input must not matter.
func randomInstant(r *rand.Rand, hot []time.Time) time.Time {
	var t time.Time
	if r.IntN(2) == 0 && len(hot) > 0 {
		t = hot[r.IntN(len(hot))].Add(time.Duration(r.Int64N(int64(96 * time.Hour))))
	} else {
		base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
		t = base.Add(time.Duration(r.Int64N(int64(3 * 365 * 24 * time.Hour))))
	}
	zones := []*time.Location{time.UTC, time.FixedZone("UTC+14", 14*60*60), time.FixedZone("UTC-11", -11*60*60)}
	return t.In(zones[r.IntN(len(zones))])
}

func randomDuration(r *rand.Rand) time.Duration {
	switch r.IntN(4) {
	case 0:
		return time.Duration(r.Int64N(int64(time.Minute))) // tiny, with nanoseconds
	case 1:
		return time.Duration(r.IntN(16)) * 30 * time.Minute // whole half hours
	default:
		return time.Duration(r.Int64N(int64(300 * time.Hour)))
	}
}

// TestAddAndMeasureAgree is the property that SLA accounting relies on:
// WorkingDuration(t, AddWorkingDuration(t, d)) == d, for any t and d >= 0,
// together with the other relations the methods must keep.
func TestAddAndMeasureAgree(t *testing.T) {
	for _, pc := range propertyCases(t) {
		t.Run(pc.name, func(t *testing.T) {
			c := pc.cal
			r := rand.New(rand.NewPCG(2026, 10))
			for i := range 3000 {
				tm := randomInstant(r, pc.hot)
				d := randomDuration(r)
				msg := fmt.Sprintf("case %d: t=%v d=%v", i, tm, d)

				end, err := c.AddWorkingDuration(tm, d)
				require.NoError(t, err, msg)
				require.False(t, end.Before(tm), msg)
				require.Equal(t, d, c.WorkingDuration(tm, end), msg)
				if d > 0 {
					// The deadline is the earliest such instant: just before
					// it is still working time, so it cannot be moved earlier.
					require.True(t, c.IsWorkingTime(end.Add(-time.Nanosecond)), msg+" end=%v", end)
				}

				// Additivity: splitting an interval does not change its total.
				mid := tm.Add(time.Duration(r.Int64N(int64(200 * time.Hour))))
				far := mid.Add(time.Duration(r.Int64N(int64(200 * time.Hour))))
				require.Equal(t, c.WorkingDuration(tm, far), c.WorkingDuration(tm, mid)+c.WorkingDuration(mid, far), msg)

				next := c.NextWorkingTime(tm)
				require.False(t, next.Before(tm), msg)
				require.True(t, c.IsWorkingTime(next), msg+" next=%v", next)
				require.Zero(t, c.WorkingDuration(tm, next), msg)
				require.Equal(t, c.IsWorkingTime(tm), next.Equal(tm), msg)

				n := r.IntN(6)
				due, err := c.AddWorkingDays(tm, n)
				require.NoError(t, err, msg)
				require.False(t, due.Before(next), msg)
				require.True(t, c.IsWorkingDay(due), msg+" due=%v", due)
			}
		})
	}
}

// TestAgainstBruteForce checks WorkingDuration against an independent,
// minute-by-minute count that reads each minute's wall clock directly. All
// spans and clock changes are on whole minutes, so the counts are exact.
// The spans avoid wall-clock times inside a DST gap or overlap, where "the
// minute 02:30" is not one instant.
func TestAgainstBruteForce(t *testing.T) {
	for _, pc := range propertyCases(t) {
		cfg := pc.cal.Config()
		if cfg.Hours[0].Start%calendar.TimeOfDay(time.Minute) != 0 {
			continue // the fixed-zone case has seconds
		}
		t.Run(pc.name, func(t *testing.T) {
			c := pc.cal
			r := rand.New(rand.NewPCG(7, 2026))
			for i := range 60 {
				from := randomInstant(r, pc.hot).Truncate(time.Minute)
				to := from.Add(time.Duration(r.IntN(4*24*60)) * time.Minute)
				want := bruteForce(cfg, from, to)
				require.Equal(t, want, c.WorkingDuration(from, to), "case %d: %v to %v", i, from, to)
			}
		})
	}
}

func bruteForce(cfg calendar.Config, from, to time.Time) time.Duration {
	special := map[calendar.Date]bool{}
	for _, d := range cfg.Holidays {
		special[d] = false
	}
	for _, d := range cfg.WorkingWeekends {
		special[d] = true
	}
	weekend := map[time.Weekday]bool{}
	for _, wd := range cfg.Weekend {
		weekend[wd] = true
	}
	var n time.Duration
	for m := from; m.Before(to); m = m.Add(time.Minute) {
		local := m.In(cfg.Location)
		day := calendar.DateOf(local)
		working, ok := special[day]
		if !ok {
			working = !weekend[local.Weekday()]
		}
		if !working {
			continue
		}
		h, mi, s := local.Clock()
		tod := calendar.TimeOfDay(time.Duration(h)*time.Hour + time.Duration(mi)*time.Minute + time.Duration(s)*time.Second)
		for _, sp := range cfg.Hours {
			if tod >= sp.Start && tod < sp.End {
				n += time.Minute
				break
			}
		}
	}
	return n
}
