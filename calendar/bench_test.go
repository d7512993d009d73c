package calendar_test

import (
	"testing"
	"time"

	"github.com/govkit/govkit/calendar"
)

// BenchmarkAddWorkingDuration computes deadlines from the eve of the test
// National Day holiday, across it.
func BenchmarkAddWorkingDuration(b *testing.B) {
	c := nationalDay(b)
	start := time.Date(2026, 9, 30, 16, 0, 0, 0, c.Location())
	for _, bc := range []struct {
		name string
		d    time.Duration
	}{
		{"2h", 2 * time.Hour},
		{"3days", 21 * time.Hour},
		{"1year", 1806 * time.Hour},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := c.AddWorkingDuration(start, bc.d); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkWorkingDuration measures SLA consumption over a day, a month and
// a year, in Shanghai and in a zone with DST changes.
func BenchmarkWorkingDuration(b *testing.B) {
	c := nationalDay(b)
	from := time.Date(2026, 1, 1, 10, 0, 0, 0, c.Location())
	for _, bc := range []struct {
		name string
		to   time.Time
	}{
		{"1day", from.AddDate(0, 0, 1)},
		{"1month", from.AddDate(0, 1, 0)},
		{"1year", from.AddDate(1, 0, 0)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				c.WorkingDuration(from, bc.to)
			}
		})
	}
	b.Run("1year-Europe/Berlin", func(b *testing.B) {
		berlin, err := calendar.New(calendar.Config{Location: mustLoad(b, "Europe/Berlin")})
		if err != nil {
			b.Fatal(err)
		}
		from := time.Date(2026, 1, 1, 10, 0, 0, 0, berlin.Location())
		to := from.AddDate(1, 0, 0)
		for b.Loop() {
			berlin.WorkingDuration(from, to)
		}
	})
}
