package sensor

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/clock"
	"github.com/govkit/govkit/region"
)

// ErrInvalidVitalSign is matched by every error about a malformed vital
// sign; ErrUnknownVitalSign by lookups of a name not held.
var (
	ErrInvalidVitalSign = errors.New("sensor: invalid vital sign")
	ErrUnknownVitalSign = errors.New("sensor: unknown vital sign")
)

// ResourceVitalSign is the access-layer resource kind of a vital sign;
// adding or removing one needs ActionManageVitals on it within its Area.
const (
	ResourceVitalSign  = "sensor.vital-sign"
	ActionManageVitals = "manage"
)

// Aggregate is how a vital sign folds the readings of its window.
type Aggregate uint8

// The aggregates. AggregateRate is readings per second over the window: how busy a
// group of devices is (alarms a minute from smoke detectors, say).
const (
	AggregateAvg Aggregate = iota + 1
	AggregateMin
	AggregateMax
	AggregateSum
	AggregateCount
	AggregateRate
)

var aggregateNames = [...]string{"", "avg", "min", "max", "sum", "count", "rate"}

// String returns the aggregate's name.
func (a Aggregate) String() string {
	if a > 0 && int(a) < len(aggregateNames) {
		return aggregateNames[a]
	}
	return fmt.Sprintf("Aggregate(%d)", a)
}

// Band colours a vital sign's value: the band whose From is the greatest
// not above the value applies.
type Band struct {
	From   float64 // the lowest value in the band; -Inf for the first
	Colour string  // e.g. "green", "yellow", "orange", "red"
}

// VitalSign is one of a city's vital signs (Chongqing watches 4,476): an
// aggregate of one resource over a window, for the devices of a profile in
// an area and with given labels, evaluated on a schedule and coloured by
// bands. For example the average water-main pressure of a district over
// 15 minutes, every minute, red below 0.2 MPa.
type VitalSign struct {
	Name     string
	Profile  string
	Resource string
	// Area limits the devices to a grid subtree; empty means everywhere
	// (which the access layer lets only city-wide actors manage).
	Area region.Code
	// Labels limit the devices to those carrying every one of them.
	Labels    map[string]string
	Aggregate Aggregate
	// Window is how far back readings count, by their observed time.
	Window time.Duration
	// Every is how often the sign is evaluated (default Window/10).
	Every time.Duration
	// Bands colour the value, in ascending order of From. A sign with no
	// bands has no colour.
	Bands []Band
}

// VitalValue is one evaluation of a vital sign.
type VitalValue struct {
	Name string
	// Value is the aggregate, NaN when no reading fell in the window (for
	// Avg, Min and Max).
	Value   float64
	Colour  string
	Samples int       // readings in the window
	At      time.Time // when it was evaluated; the window ends here
}

// VitalsOptions configures a Vitals evaluator.
type VitalsOptions struct {
	// Authorizer decides who may add and remove vital signs; required
	// (access.AllowAll() for tests and single-user tools).
	Authorizer access.Authorizer
	// OnValue, if set, receives every evaluation, from the clock's timer
	// goroutine.
	OnValue func(VitalValue)
	// Store, if set, keeps the signs across restarts: Add and Remove
	// write through to it (failing, and changing nothing, if it does),
	// and NewVitals starts every stored sign (within 10 s). Register the
	// devices first (LoadRegistry).
	Store Store
}

// Vitals evaluates vital signs. It is an Observer: attach it to ingestion
// and it folds each accepted reading into the window buckets of the signs
// whose devices it belongs to, late readings included (by observed time,
// as long as their bucket is still in the window). Membership is computed
// when a sign is added and by Refresh; devices registered later join at
// the next Refresh. It is safe for concurrent use.
type Vitals struct {
	reg  *Registry
	clk  clock.Clock
	opts VitalsOptions

	mu      sync.RWMutex // guards signs, byName and member
	signs   []*vitalState
	byName  map[string]*vitalState
	member  map[memberKey][]*vitalState
	stopped bool
}

type memberKey struct {
	h        Handle
	resource uint8
}

// buckets splits every window; a reading's bucket is its observed time
// divided by Window/buckets.
const buckets = 16

type vitalState struct {
	sign     VitalSign
	width    int64 // bucket width in nanoseconds
	resource uint8

	mu     sync.Mutex
	bucket [buckets]vitalBucket
	last   VitalValue
	timer  clock.Timer
}

type vitalBucket struct {
	epoch    int64 // observed nanoseconds / width; the bucket is empty unless it matches
	count    int
	sum      float64
	min, max float64
}

// NewVitals returns an evaluator, or an error wrapping ErrInvalidVitalSign
// if a dependency is missing.
func NewVitals(reg *Registry, clk clock.Clock, opts VitalsOptions) (*Vitals, error) {
	if reg == nil || clk == nil || opts.Authorizer == nil {
		return nil, fmt.Errorf("%w: registry, clock and authorizer are required", ErrInvalidVitalSign)
	}
	v := &Vitals{reg: reg, clk: clk, opts: opts, byName: map[string]*vitalState{}, member: map[memberKey][]*vitalState{}}
	if opts.Store != nil {
		if err := v.restore(); err != nil {
			v.Stop()
			return nil, err
		}
	}
	return v, nil
}

// restore starts every stored sign; they were authorized when added.
func (v *Vitals) restore() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	signs, err := v.opts.Store.VitalSigns(ctx)
	if err != nil {
		return fmt.Errorf("sensor: restoring vital signs: %w", err)
	}
	for _, sign := range signs {
		ri, err := sign.validate(v.reg)
		if err != nil {
			return fmt.Errorf("sensor: restoring vital sign %q (register its profile first, see LoadRegistry): %w", sign.Name, err)
		}
		if err := v.install(sign, ri); err != nil {
			return err
		}
	}
	return nil
}

func (s *VitalSign) validate(reg *Registry) (uint8, error) {
	bad := func(format string, args ...any) (uint8, error) {
		return 0, fmt.Errorf("%w %q: %s", ErrInvalidVitalSign, s.Name, fmt.Sprintf(format, args...))
	}
	if !validName(s.Name) {
		return bad("name must be 1-64 characters of letters, digits, '-', '_' or '.'")
	}
	p, err := reg.Profile(s.Profile)
	if err != nil {
		return bad("%v", err)
	}
	ri := p.resource(s.Resource)
	if ri < 0 {
		return bad("profile %s has no resource %q", s.Profile, s.Resource)
	}
	if s.Area != "" {
		if _, err := region.ParseCode(string(s.Area)); err != nil {
			return bad("area: %v", err)
		}
	}
	if s.Aggregate < AggregateAvg || s.Aggregate > AggregateRate {
		return bad("unknown aggregate %d", s.Aggregate)
	}
	if s.Window < buckets*time.Millisecond {
		return bad("window %v is shorter than %v", s.Window, buckets*time.Millisecond)
	}
	if s.Every < 0 {
		return bad("negative schedule")
	}
	for i, b := range s.Bands {
		if math.IsNaN(b.From) || b.Colour == "" {
			return bad("band %d needs a From and a Colour", i)
		}
		if i > 0 && b.From <= s.Bands[i-1].From {
			return bad("bands must ascend: band %d starts at %v", i, b.From)
		}
	}
	return uint8(ri), nil
}

// Add validates a sign, authorizes the actor in ctx to manage it within
// its Area, computes which devices it covers and starts evaluating it
// every sign.Every. A sign with the name of one already held replaces it.
func (v *Vitals) Add(ctx context.Context, sign VitalSign) error {
	sign.Labels = cloneLabels(sign.Labels)
	sign.Bands = slices.Clone(sign.Bands)
	ri, err := sign.validate(v.reg)
	if err != nil {
		return err
	}
	area := sign.Area
	if area == "" {
		area = "000000" // a jurisdiction nobody below the whole country holds
	}
	if err := access.Check(ctx, v.opts.Authorizer, ActionManageVitals, access.Resource{Kind: ResourceVitalSign, ID: sign.Name, Jurisdiction: area}); err != nil {
		return err
	}
	if v.opts.Store != nil {
		if err := v.opts.Store.PutVitalSign(ctx, sign); err != nil {
			return err
		}
	}
	return v.install(sign, ri)
}

// install starts evaluating a validated sign.
func (v *Vitals) install(sign VitalSign, ri uint8) error {
	if sign.Every == 0 {
		sign.Every = sign.Window / 10
	}
	st := &vitalState{sign: sign, resource: ri, width: int64(sign.Window) / buckets}
	members := v.members(st)

	v.mu.Lock()
	if v.stopped {
		v.mu.Unlock()
		return fmt.Errorf("%w: the evaluator is stopped", ErrInvalidVitalSign)
	}
	if old := v.byName[sign.Name]; old != nil {
		v.remove(old)
	}
	v.signs = append(v.signs, st)
	v.byName[sign.Name] = st
	for _, h := range members {
		k := memberKey{h, ri}
		v.member[k] = append(v.member[k], st)
	}
	st.mu.Lock()
	st.timer = v.clk.AfterFunc(sign.Every, func() { v.tick(st) })
	st.mu.Unlock()
	v.mu.Unlock()
	return nil
}

// members lists the handles of the devices a sign covers.
func (v *Vitals) members(st *vitalState) []Handle {
	var hs []Handle
	v.reg.Devices(st.sign.Area, func(h Handle, d Device) bool {
		if d.Profile != st.sign.Profile {
			return true
		}
		for k, want := range st.sign.Labels {
			if d.Labels[k] != want {
				return true
			}
		}
		hs = append(hs, h)
		return true
	})
	return hs
}

// Remove stops and forgets a sign, after authorizing the actor in ctx.
func (v *Vitals) Remove(ctx context.Context, name string) error {
	v.mu.RLock()
	st := v.byName[name]
	v.mu.RUnlock()
	if st == nil {
		return fmt.Errorf("%w: %q", ErrUnknownVitalSign, name)
	}
	area := st.sign.Area
	if area == "" {
		area = "000000"
	}
	if err := access.Check(ctx, v.opts.Authorizer, ActionManageVitals, access.Resource{Kind: ResourceVitalSign, ID: name, Jurisdiction: area}); err != nil {
		return err
	}
	if v.opts.Store != nil {
		if err := v.opts.Store.DeleteVitalSign(ctx, name); err != nil && !errors.Is(err, ErrUnknownVitalSign) {
			return err
		}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.byName[name] == st {
		v.remove(st)
	}
	return nil
}

// remove drops st; called with v.mu held.
func (v *Vitals) remove(st *vitalState) {
	st.mu.Lock()
	if st.timer != nil {
		st.timer.Stop()
	}
	st.mu.Unlock()
	delete(v.byName, st.sign.Name)
	v.signs = slices.DeleteFunc(v.signs, func(s *vitalState) bool { return s == st })
	for k, list := range v.member {
		if k.resource != st.resource {
			continue
		}
		if list = slices.DeleteFunc(list, func(s *vitalState) bool { return s == st }); len(list) == 0 {
			delete(v.member, k)
		} else {
			v.member[k] = list
		}
	}
}

// Refresh recomputes which devices every sign covers, after devices were
// registered, removed or relabelled.
func (v *Vitals) Refresh() {
	v.mu.RLock()
	signs := slices.Clone(v.signs)
	v.mu.RUnlock()
	member := map[memberKey][]*vitalState{}
	for _, st := range signs {
		for _, h := range v.members(st) {
			k := memberKey{h, st.resource}
			member[k] = append(member[k], st)
		}
	}
	v.mu.Lock()
	v.member = member
	v.mu.Unlock()
}

// Observe folds readings into the windows of the signs that cover their
// devices.
func (v *Vitals) Observe(batch []Reading) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if len(v.member) == 0 {
		return
	}
	for i := range batch {
		r := &batch[i]
		for _, st := range v.member[memberKey{r.Device, r.Resource}] {
			st.add(r.Observed.UnixNano(), r.Value)
		}
	}
}

func (st *vitalState) add(at int64, value float64) {
	epoch := floorDiv(at, st.width)
	b := &st.bucket[mod(epoch, buckets)]
	st.mu.Lock()
	defer st.mu.Unlock()
	if b.epoch != epoch || b.count == 0 {
		if b.count > 0 && b.epoch > epoch {
			return // older than the window this slot now holds
		}
		*b = vitalBucket{epoch: epoch, min: value, max: value}
	}
	b.count++
	b.sum += value
	b.min = min(b.min, value)
	b.max = max(b.max, value)
}

// tick evaluates a sign and re-arms its timer.
func (v *Vitals) tick(st *vitalState) {
	val := v.evaluate(st, v.clk.Now())
	v.mu.RLock()
	live := v.byName[st.sign.Name] == st && !v.stopped
	v.mu.RUnlock()
	if !live {
		return
	}
	st.mu.Lock()
	st.timer = v.clk.AfterFunc(st.sign.Every, func() { v.tick(st) })
	st.mu.Unlock()
	if v.opts.OnValue != nil {
		v.opts.OnValue(val)
	}
}

// evaluate folds the buckets of the window ending at now. The window holds
// the buckets whose epoch lies in (end-buckets, end], end being now's.
func (v *Vitals) evaluate(st *vitalState, now time.Time) VitalValue {
	end := floorDiv(now.UnixNano(), st.width)
	st.mu.Lock()
	defer st.mu.Unlock()
	n, sum := 0, 0.0
	lo, hi := math.Inf(1), math.Inf(-1)
	for i := range st.bucket {
		b := &st.bucket[i]
		if b.count == 0 || b.epoch > end || b.epoch <= end-buckets {
			continue
		}
		n += b.count
		sum += b.sum
		lo, hi = min(lo, b.min), max(hi, b.max)
	}
	val := VitalValue{Name: st.sign.Name, Samples: n, At: now}
	switch st.sign.Aggregate {
	case AggregateAvg:
		val.Value = sum / float64(n) // NaN when n is 0
	case AggregateMin:
		val.Value = lo
	case AggregateMax:
		val.Value = hi
	case AggregateSum:
		val.Value = sum
	case AggregateCount:
		val.Value = float64(n)
	case AggregateRate:
		val.Value = float64(n) / st.sign.Window.Seconds()
	}
	if n == 0 && (st.sign.Aggregate == AggregateMin || st.sign.Aggregate == AggregateMax) {
		val.Value = math.NaN()
	}
	val.Colour = colour(st.sign.Bands, val.Value)
	st.last = val
	return val
}

func colour(bands []Band, x float64) string {
	if math.IsNaN(x) {
		return ""
	}
	c := ""
	for _, b := range bands {
		if x >= b.From {
			c = b.Colour
		}
	}
	return c
}

// Value returns a sign's latest evaluation (zero before the first), or
// ErrUnknownVitalSign.
func (v *Vitals) Value(name string) (VitalValue, error) {
	v.mu.RLock()
	st := v.byName[name]
	v.mu.RUnlock()
	if st == nil {
		return VitalValue{}, fmt.Errorf("%w: %q", ErrUnknownVitalSign, name)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.last, nil
}

// Evaluate evaluates a sign now, outside its schedule, and returns the
// value (which also becomes its latest).
func (v *Vitals) Evaluate(name string) (VitalValue, error) {
	v.mu.RLock()
	st := v.byName[name]
	v.mu.RUnlock()
	if st == nil {
		return VitalValue{}, fmt.Errorf("%w: %q", ErrUnknownVitalSign, name)
	}
	return v.evaluate(st, v.clk.Now()), nil
}

// Stop stops every schedule; Observe and Evaluate still work.
func (v *Vitals) Stop() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.stopped = true
	for _, st := range v.signs {
		st.mu.Lock()
		if st.timer != nil {
			st.timer.Stop()
		}
		st.mu.Unlock()
	}
}

func cloneLabels(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func mod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}
