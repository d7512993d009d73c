package sim

import (
	"errors"
	"fmt"
	"time"
)

// Config sizes the simulated world and the day. The zero value of each
// field takes the default noted on it; Defaults returns them all.
type Config struct {
	// Streets is the number of streets (default 8). Streets are grouped
	// into districts of at most 25, as in Chongqing (1,025 streets in 41
	// districts); the count is rounded up to fill whole districts evenly.
	Streets int
	// Devices is the number of sensing devices (default 50,000): smoke
	// detectors, wristbands of elderly people living alone, manhole-cover
	// tilt sensors and water-main pressure sensors (five per main).
	Devices int
	// Citizens is the population (default 150,000); about one in two
	// hundred reports a problem on a given day.
	Citizens int
	// Hours is how long the simulated period lasts (default 24).
	Hours int
	// Seed makes the world and the day reproducible (default 1).
	Seed uint64
	// Start is when the day begins (default Monday 2 March 2026, 00:00
	// China Standard Time).
	Start time.Time
	// RunID, if set, prefixes every idempotency key, so that several runs
	// can share a persistent store without replaying each other's reports.
	RunID string
}

// CST is China Standard Time, UTC+8, the zone of every wall clock in the
// simulation.
var CST = time.FixedZone("CST", 8*3600)

// Defaults returns the default configuration: a district of eight streets
// for one day.
func Defaults() Config {
	return Config{
		Streets: 8, Devices: 50_000, Citizens: 150_000, Hours: 24, Seed: 1,
		Start: time.Date(2026, 3, 2, 0, 0, 0, 0, CST),
	}
}

// Limits of a Config.
const (
	MaxStreets  = 99 * 25
	MaxDevices  = 20_000_000
	MaxCitizens = 50_000_000
	MaxHours    = 7 * 24
)

// ErrInvalidConfig is matched by every error about a Config.
var ErrInvalidConfig = errors.New("sim: invalid config")

// normalize fills in the defaults and checks the limits.
func (c Config) normalize() (Config, error) {
	d := Defaults()
	if c.Streets == 0 {
		c.Streets = d.Streets
	}
	if c.Devices == 0 {
		c.Devices = d.Devices
	}
	if c.Citizens == 0 {
		c.Citizens = d.Citizens
	}
	if c.Hours == 0 {
		c.Hours = d.Hours
	}
	if c.Seed == 0 {
		c.Seed = d.Seed
	}
	if c.Start.IsZero() {
		c.Start = d.Start
	}
	switch {
	case c.Streets < 1 || c.Streets > MaxStreets:
		return c, fmt.Errorf("%w: streets must be 1 to %d", ErrInvalidConfig, MaxStreets)
	case c.Devices < 0 || c.Devices > MaxDevices:
		return c, fmt.Errorf("%w: devices must be 0 to %d", ErrInvalidConfig, MaxDevices)
	case c.Citizens < 0 || c.Citizens > MaxCitizens:
		return c, fmt.Errorf("%w: citizens must be 0 to %d", ErrInvalidConfig, MaxCitizens)
	case c.Hours < 1 || c.Hours > MaxHours:
		return c, fmt.Errorf("%w: hours must be 1 to %d", ErrInvalidConfig, MaxHours)
	case len(c.RunID) > 32:
		return c, fmt.Errorf("%w: the run ID is at most 32 bytes", ErrInvalidConfig)
	}
	districts := (c.Streets + 24) / 25
	per := (c.Streets + districts - 1) / districts
	c.Streets = districts * per
	c.Start = c.Start.Truncate(time.Second)
	return c, nil
}

// districts returns how the streets are grouped: the number of districts
// and of streets in each.
func (c Config) districts() (int, int) {
	d := (c.Streets + 24) / 25
	return d, c.Streets / d
}
