package dispatch

import (
	"math"
	"time"

	"github.com/govkit/govkit/geo"
)

// TravelEstimator says how long a responder at from needs to reach to.
// Districts plug in real routing (road network, congestion, bridges over
// the Yangtze and Jialing); the default is StraightLine.
//
// Estimators are called without the registry's lock held, so a slow one
// (a routing service) delays only the query that calls it.
type TravelEstimator interface {
	ETA(from, to geo.Point) time.Duration
}

// Reacher is implemented by estimators that can bound how far, in a
// straight line, a responder can be and still arrive within a duration.
// Coverage and Gaps search that radius; an estimator without it is
// searched out to FallbackReachSpeed × duration, so an estimator whose
// responders can be faster than that must implement Reacher or lose them.
type Reacher interface {
	Reach(within time.Duration) float64
}

// Defaults of StraightLine and of coverage searches.
const (
	// DefaultSpeed is an urban patrol's average speed, 30 km/h, in m/s.
	DefaultSpeed = 30 / 3.6
	// DefaultDetour is how much longer a road trip is than the straight
	// line: about 1.4 in a city of rivers, hills and flyovers.
	DefaultDetour = 1.4
	// FallbackReachSpeed, 80 km/h (the urban expressway limit) in m/s,
	// bounds the search radius for estimators that are not Reachers.
	FallbackReachSpeed = 80 / 3.6
)

// StraightLine estimates travel time as great-circle distance × Detour ÷
// Speed. A zero value is ready to use: Speed ≤ 0 (or NaN) means
// DefaultSpeed and Detour < 1 (or NaN) means DefaultDetour, so the default
// needs about 60 s for 357 m, 3 min for 1,071 m and 5 min for 1,786 m.
//
// Its ETA grows with distance, which lets Nearest take exactly the n
// nearest responders instead of over-fetching.
type StraightLine struct {
	Speed  float64 // metres per second
	Detour float64 // road distance ÷ straight-line distance, ≥ 1
}

// ETA returns the estimated travel time from from to to.
func (s StraightLine) ETA(from, to geo.Point) time.Duration {
	return s.eta(geo.Distance(from, to))
}

// Reach returns the straight-line distance in metres coverable within d.
func (s StraightLine) Reach(d time.Duration) float64 {
	speed, detour := s.params()
	return max(0, d.Seconds()) * speed / detour
}

// params applies the defaults.
func (s StraightLine) params() (speed, detour float64) {
	speed, detour = s.Speed, s.Detour
	if !(speed > 0) || math.IsInf(speed, 0) {
		speed = DefaultSpeed
	}
	if !(detour >= 1) || math.IsInf(detour, 0) {
		detour = DefaultDetour
	}
	return speed, detour
}

// eta converts metres to travel time, saturating rather than overflowing.
func (s StraightLine) eta(metres float64) time.Duration {
	speed, detour := s.params()
	ns := metres * detour / speed * float64(time.Second)
	if ns >= math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(ns)
}
