package region_test

import (
	"slices"
	"time"
)

func p99(d []time.Duration) int64 {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[(len(s)-1)*99/100].Nanoseconds()
}
