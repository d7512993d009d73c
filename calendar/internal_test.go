package calendar

import (
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDayNumberMatchesTimePackage checks the integer date arithmetic that
// the iteration relies on against the time package, across the whole valid
// range and around the awkward leap years.
func TestDayNumberMatchesTimePackage(t *testing.T) {
	check := func(y int, m time.Month, d int) {
		tm := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
		want := tm.Unix() / 86400 // midnight UTC: exact division
		n := dayNumber(y, m, d)
		require.Equal(t, want, n, "%04d-%02d-%02d", y, m, d)
		gy, gm, gd := civil(n)
		require.Equal(t, []int{y, int(m), d}, []int{gy, int(gm), gd})
		require.Equal(t, tm.Weekday(), weekdayOf(n), "%04d-%02d-%02d", y, m, d)
	}
	for _, y := range []int{1, 4, 100, 1600, 1899, 1900, 1969, 1970, 2000, 2024, 2026, 2100, 2400, 9999} {
		for m := time.January; m <= time.December; m++ {
			check(y, m, 1)
			check(y, m, daysIn(y, m))
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		y := 1 + r.IntN(9999)
		m := time.Month(1 + r.IntN(12))
		check(y, m, 1+r.IntN(daysIn(y, m)))
	}
}

func TestShanghaiFallsBackToFixedCST(t *testing.T) {
	missing := func(string) (*time.Location, error) { return nil, errors.New("no zoneinfo") }
	loc, err := loadLocation(shanghaiName, missing)
	require.NoError(t, err)
	name, offset := time.Date(2026, 7, 1, 12, 0, 0, 0, loc).Zone()
	assert.Equal(t, "CST", name)
	assert.Equal(t, 8*60*60, offset)

	_, err = loadLocation("Europe/Berlin", missing)
	assert.Error(t, err, "only Shanghai has a fallback")

	// A calendar parsed on such a machine still writes its zone by name.
	loc, err = loadLocation(shanghaiName, time.LoadLocation)
	require.NoError(t, err)
	assert.Equal(t, shanghaiName, loc.String())
}

func TestFirstChange(t *testing.T) {
	for _, change := range []int64{1, 2, 3, 1000, 86399, 86400} {
		got := firstChange(0, 86400, func(sec int64) bool { return sec < change })
		assert.Equal(t, change, got)
	}
	// A bound that is already adjacent needs no probing.
	assert.Equal(t, int64(11), firstChange(10, 11, func(int64) bool { panic("probed") }))
}
