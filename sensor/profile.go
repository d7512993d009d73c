package sensor

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// ErrInvalidProfile is matched by every error about a malformed profile.
var ErrInvalidProfile = errors.New("sensor: invalid profile")

// Resource is one thing a device reports: pressure, level, temperature, a
// fall flag. Readings of it are float64 telemetry.
type Resource struct {
	Name string
	Unit string // e.g. "MPa", "m", "°C"; readings in another unit are rejected
	// Min and Max bound valid readings; a reading outside is rejected with a
	// reason and flags the device's quality. NaN means unbounded.
	Min, Max float64
	// Interval is how often the device is expected to report it; missing
	// heartbeat rules use it.
	Interval time.Duration
}

// Profile describes a kind of device: what it reports.
type Profile struct {
	Name      string
	Resources []Resource
}

// maxResources bounds a profile: telemetry devices report a handful.
const maxResources = 64

func (p *Profile) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w %q: %s", ErrInvalidProfile, p.Name, fmt.Sprintf(format, args...))
	}
	if !validName(p.Name) {
		return bad("name must be 1-64 characters of letters, digits, '-', '_' or '.'")
	}
	if len(p.Resources) == 0 || len(p.Resources) > maxResources {
		return bad("needs 1 to %d resources", maxResources)
	}
	seen := map[string]bool{}
	for i, r := range p.Resources {
		switch {
		case !validName(r.Name):
			return bad("resource %d: bad name %q", i, r.Name)
		case seen[r.Name]:
			return bad("resource %s given twice", r.Name)
		case len(r.Unit) > 16:
			return bad("resource %s: unit longer than 16 bytes", r.Name)
		case !math.IsNaN(r.Min) && !math.IsNaN(r.Max) && r.Min > r.Max:
			return bad("resource %s: min above max", r.Name)
		case math.IsInf(r.Min, 1) || math.IsInf(r.Max, -1):
			return bad("resource %s: empty range", r.Name)
		case r.Interval < 0:
			return bad("resource %s: negative interval", r.Name)
		}
		seen[r.Name] = true
	}
	return nil
}

// resource returns the index of the named resource, or -1.
func (p *Profile) resource(name string) int {
	for i := range p.Resources {
		if p.Resources[i].Name == name {
			return i
		}
	}
	return -1
}

// inRange reports whether v is a valid reading of r.
func (r *Resource) inRange(v float64) bool {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return false
	}
	return (math.IsNaN(r.Min) || v >= r.Min) && (math.IsNaN(r.Max) || v <= r.Max)
}

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	return strings.IndexFunc(s, func(c rune) bool {
		return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.')
	}) < 0
}
