package dispatch

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/govkit/govkit/geo"
)

// ErrInvalidCoverage is matched by every *CoverageError.
var ErrInvalidCoverage = errors.New("dispatch: invalid coverage query")

// CoverageError reports a coverage query that was refused before any work
// was done: a bad box or step, a negative requirement, or a grid of more
// than MaxGapSamples points.
type CoverageError struct {
	Reason  string
	Samples int   // the grid points the query would have sampled, if known
	Err     error // an underlying geometry error, if any
}

// Error describes the problem.
func (e *CoverageError) Error() string {
	msg := "dispatch: invalid coverage query: " + e.Reason
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap lets errors.Is match ErrInvalidCoverage and the underlying error.
func (e *CoverageError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrInvalidCoverage, e.Err}
	}
	return []error{ErrInvalidCoverage}
}

// MaxGapSamples bounds the grid Gaps will sample, so that a step too fine
// for its box is refused instead of holding a server for minutes.
const MaxGapSamples = 1_000_000

// CoverageRequirement is the "1-3-5" rule for a place: how many
// responders must be able to arrive within 1, 3 and 5 minutes (on-site
// self-rescue, mutual aid from nearby, reinforcement from the district).
// Counts are cumulative: someone who arrives within 1 minute also counts
// within 3 and 5, so {1, 2, 3} asks for one responder within a minute, a
// second within three and a third within five.
type CoverageRequirement struct {
	Within1 int
	Within3 int
	Within5 int
}

// DefaultCoverageRequirement is one responder in each band: {1, 1, 1}.
func DefaultCoverageRequirement() CoverageRequirement {
	return CoverageRequirement{Within1: 1, Within3: 1, Within5: 1}
}

func (q CoverageRequirement) at(band int) int {
	return [3]int{q.Within1, q.Within3, q.Within5}[band]
}

func (q CoverageRequirement) clamp() CoverageRequirement {
	return CoverageRequirement{max(0, q.Within1), max(0, q.Within3), max(0, q.Within5)}
}

// bandLimit returns 1, 3 and 5 minutes for bands 0, 1 and 2.
func bandLimit(band int) time.Duration { return time.Duration(2*band+1) * time.Minute }

// CoverageBand is one band of the "1-3-5" rule at a point.
type CoverageBand struct {
	Within   time.Duration // 1, 3 or 5 minutes
	Count    int           // responders arriving within Within, cumulative
	Required int
	Met      bool // Count >= Required
}

// CoverageReport says who can reach a point within 1, 3 and 5 minutes.
type CoverageReport struct {
	Point geo.Point
	Skill string // "" for any skill
	// Responders are those who can take work now and arrive within 5
	// minutes, soonest first; band i's are Responders[:Bands[i].Count].
	Responders []Candidate
	Bands      [3]CoverageBand // 1, 3 and 5 minutes
}

// Met reports whether every band is met.
func (r CoverageReport) Met() bool {
	return r.Bands[0].Met && r.Bands[1].Met && r.Bands[2].Met
}

func makeBands(counts [3]int, req CoverageRequirement) [3]CoverageBand {
	var b [3]CoverageBand
	for i := range b {
		b[i] = CoverageBand{Within: bandLimit(i), Count: counts[i], Required: req.at(i), Met: counts[i] >= req.at(i)}
	}
	return b
}

// Coverage reports who, among responders with skill (empty means any)
// who can take work now and whose position is fresh, can reach p within
// 1, 3 and 5 minutes by the estimator, and whether the registry's
// requirement (WithCoverageRequirement) is met in each band. It fails
// only for an invalid p.
func (rs *Responders) Coverage(p geo.Point, skill string) (CoverageReport, error) {
	rep := CoverageReport{Point: p, Skill: skill}
	if err := p.Validate(); err != nil {
		return rep, err
	}
	cs := rs.within(p, skill, rs.reach(bandLimit(2)), rs.freshCutoff())
	for i := range cs {
		cs[i].ETA = rs.eta(cs[i].State.Position, p, cs[i].Distance)
	}
	cs = slices.DeleteFunc(cs, func(c Candidate) bool { return c.ETA > bandLimit(2) })
	sortCandidates(cs)
	var counts [3]int
	for _, c := range cs {
		for b := range counts {
			if c.ETA <= bandLimit(b) {
				counts[b]++
			}
		}
	}
	rep.Responders = slices.Clip(cs)
	rep.Bands = makeBands(counts, rs.cfg.req)
	return rep, nil
}

// reach returns the search radius in metres for arrivals within d, with a
// metre to spare so that rounding never drops a responder on the edge; the
// ETA then decides.
func (rs *Responders) reach(d time.Duration) float64 {
	if r, ok := rs.cfg.est.(Reacher); ok {
		return r.Reach(d) + 1
	}
	return FallbackReachSpeed*d.Seconds() + 1
}

// within returns snapshots of the responders within metres of p who can
// take work and have skill and a fresh position.
func (rs *Responders) within(p geo.Point, skill string, metres float64, cutoff time.Time) []Candidate {
	rs.mu.RLock()
	defer rs.mu.RUnlock()
	x := rs.index(skill)
	if x == nil {
		return nil
	}
	var out []Candidate
	x.WithinFunc(p, metres, func(h geo.Hit[*responder]) bool {
		if !h.Key.updatedAt.Before(cutoff) {
			out = append(out, Candidate{State: h.Key.snapshot(), Distance: h.Distance})
		}
		return true
	})
	return out
}

// Gap is a cell of a Gaps grid where the requirement is not met.
type Gap struct {
	Cell  geo.BBox        // the sampled cell
	Point geo.Point       // its centre, where coverage was measured
	Bands [3]CoverageBand // counts at Point; the failing bands have Met false
}

// Gaps samples coverage over area on a grid of cells about step metres on
// a side (no larger) and returns the cells whose centres do not meet req
// for skill (empty means any), south-west first, row by row. It refuses,
// with a *CoverageError, an invalid or empty box, a step that is not
// positive, a negative requirement, and a grid of more than MaxGapSamples
// cells.
//
// Each sample takes the read lock on its own, so that position updates
// go on during a large scan; the result is not one instant's snapshot.
func (rs *Responders) Gaps(area geo.BBox, step float64, skill string, req CoverageRequirement) ([]Gap, error) {
	rows, cols, err := gapGrid(area, step)
	if err != nil {
		return nil, err
	}
	if req.Within1 < 0 || req.Within3 < 0 || req.Within5 < 0 {
		return nil, &CoverageError{Reason: fmt.Sprintf("negative requirement %+v", req)}
	}
	if req == (CoverageRequirement{}) {
		return nil, nil // nothing is required anywhere
	}
	dLat := (area.MaxLat - area.MinLat) / float64(rows)
	dLon := (area.MaxLon - area.MinLon) / float64(cols)
	radius := rs.reach(bandLimit(2))
	cutoff := rs.freshCutoff()
	var gaps []Gap
	var buf []geo.Point
	for i := range rows {
		for j := range cols {
			cell := geo.BBox{
				MinLat: area.MinLat + float64(i)*dLat, MinLon: area.MinLon + float64(j)*dLon,
				MaxLat: area.MinLat + float64(i+1)*dLat, MaxLon: area.MinLon + float64(j+1)*dLon,
			}
			c := cell.Center()
			var counts [3]int
			counts, buf = rs.countAt(c, skill, radius, cutoff, req, buf)
			if !met(counts, req) {
				gaps = append(gaps, Gap{Cell: cell, Point: c, Bands: makeBands(counts, req)})
			}
		}
	}
	return gaps, nil
}

// gapGrid validates a Gaps query's box and step and sizes its grid.
func gapGrid(area geo.BBox, step float64) (rows, cols int, err error) {
	if _, err := geo.NewBBox(geo.Point{Lat: area.MinLat, Lon: area.MinLon}, geo.Point{Lat: area.MaxLat, Lon: area.MaxLon}); err != nil {
		return 0, 0, &CoverageError{Reason: "bad area", Err: err}
	}
	if !(step > 0) || math.IsInf(step, 0) {
		return 0, 0, &CoverageError{Reason: fmt.Sprintf("step %v m is not a positive distance", step)}
	}
	const mPerDeg = geo.EarthRadius * math.Pi / 180
	// Cells are sized where the box is widest, nearest the equator.
	nearEq := 0.0
	if area.MinLat > 0 || area.MaxLat < 0 {
		nearEq = math.Min(math.Abs(area.MinLat), math.Abs(area.MaxLat))
	}
	fr := math.Max(1, math.Ceil((area.MaxLat-area.MinLat)*mPerDeg/step))
	fc := math.Max(1, math.Ceil((area.MaxLon-area.MinLon)*mPerDeg*math.Cos(nearEq*math.Pi/180)/step))
	if fr*fc > MaxGapSamples {
		return 0, 0, &CoverageError{
			Reason:  fmt.Sprintf("step %v m needs %.0f samples, more than %d", step, fr*fc, MaxGapSamples),
			Samples: int(math.Min(fr*fc, math.MaxInt32)),
		}
	}
	return int(fr), int(fc), nil
}

func met(counts [3]int, req CoverageRequirement) bool {
	return counts[0] >= req.Within1 && counts[1] >= req.Within3 && counts[2] >= req.Within5
}

// countAt counts the responders reaching p in each band, stopping as soon
// as req is met. buf is scratch space for positions, returned for reuse.
func (rs *Responders) countAt(p geo.Point, skill string, radius float64, cutoff time.Time, req CoverageRequirement, buf []geo.Point) ([3]int, []geo.Point) {
	var counts [3]int
	add := func(eta time.Duration) bool {
		for b := range counts {
			if eta <= bandLimit(b) {
				counts[b]++
			}
		}
		return !met(counts, req)
	}
	buf = buf[:0]
	rs.mu.RLock()
	if x := rs.index(skill); x != nil {
		x.WithinFunc(p, radius, func(h geo.Hit[*responder]) bool {
			if h.Key.updatedAt.Before(cutoff) {
				return true
			}
			if rs.cfg.monotone {
				return add(rs.cfg.line.eta(h.Distance))
			}
			buf = append(buf, h.Point)
			return true
		})
	}
	rs.mu.RUnlock()
	// A custom estimator runs outside the lock.
	for _, from := range buf {
		if !add(rs.cfg.est.ETA(from, p)) {
			break
		}
	}
	return counts, buf
}
