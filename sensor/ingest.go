package sensor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/clock"
	"github.com/govkit/govkit/region"
)

// Errors of ingestion. A rejected reading's *ReadingError matches
// ErrRejected and the sentinel of its Reason.
var (
	// ErrRejected is matched by every *ReadingError.
	ErrRejected = errors.New("sensor: reading rejected")
	// ErrLocked: the device is locked (AdminState Locked): its readings
	// are refused and it takes no commands.
	ErrLocked = errors.New("sensor: device locked")
	// ErrWrongUnit: the reading's unit is not its resource's.
	ErrWrongUnit = errors.New("sensor: wrong unit")
	// ErrOutOfRange: the value is outside its resource's valid range, or
	// not a finite number.
	ErrOutOfRange = errors.New("sensor: value out of range")
	// ErrBadTime: the observed time is before 1970, past 2262, or further
	// in the future than IngestOptions.MaxSkew allows.
	ErrBadTime = errors.New("sensor: bad observed time")
	// ErrSink: the Sink failed to store a batch (see Ingester.Ingest).
	ErrSink = errors.New("sensor: sink failed")
	// ErrBatchTooLarge: Submit was given more readings than a queue lane
	// holds.
	ErrBatchTooLarge = errors.New("sensor: batch too large")
	// ErrClosed: the ingester's queue is closed.
	ErrClosed = errors.New("sensor: ingester closed")
)

// Reason says why ingestion rejected a reading.
type Reason uint8

// Reasons for rejecting a reading, in the order they are checked.
const (
	// ReasonUnknownDevice: the handle was never issued.
	ReasonUnknownDevice Reason = iota
	// ReasonRemoved: the device was removed from service.
	ReasonRemoved
	// ReasonLocked: the device is locked.
	ReasonLocked
	// ReasonUnknownResource: the resource index is past the profile's.
	ReasonUnknownResource
	// ReasonWrongUnit: Unit is neither empty nor the resource's unit.
	ReasonWrongUnit
	// ReasonBadTime: Observed is before 1970, past 2262, or ahead of the
	// ingester's clock by more than MaxSkew. Accepting a reading from the
	// future would make every real one after it "late".
	ReasonBadTime
	// ReasonOutOfRange: the value is outside [Min, Max] or not finite.
	// It also sets the device's quality flag (Device.OutOfRange).
	ReasonOutOfRange

	// NumReasons is the number of reasons, for IngestStats.Rejected.
	NumReasons = int(ReasonOutOfRange) + 1
)

var reasonNames = [NumReasons]string{"unknown-device", "removed", "locked", "unknown-resource", "wrong-unit", "bad-time", "out-of-range"}

// String returns the reason's name, such as "out-of-range".
func (r Reason) String() string {
	if int(r) < NumReasons {
		return reasonNames[r]
	}
	return fmt.Sprintf("Reason(%d)", r)
}

// Err returns the sentinel error of the reason.
func (r Reason) Err() error {
	switch r {
	case ReasonUnknownDevice, ReasonRemoved:
		return ErrUnknownDevice
	case ReasonLocked:
		return ErrLocked
	case ReasonUnknownResource:
		return ErrUnknownResource
	case ReasonWrongUnit:
		return ErrWrongUnit
	case ReasonBadTime:
		return ErrBadTime
	case ReasonOutOfRange:
		return ErrOutOfRange
	}
	return ErrRejected
}

// ReadingError reports a reading that ingestion rejected; nothing of it
// was kept.
type ReadingError struct {
	Index    int // position in the batch
	Device   Handle
	Resource uint8
	Reason   Reason
}

// Error describes the rejection.
func (e *ReadingError) Error() string {
	return fmt.Sprintf("sensor: reading %d (device %d, resource %d) rejected: %s", e.Index, e.Device, e.Resource, e.Reason)
}

// Unwrap lets errors.Is match ErrRejected and the reason's sentinel, such
// as ErrOutOfRange or ErrUnknownDevice.
func (e *ReadingError) Unwrap() []error { return []error{ErrRejected, e.Reason.Err()} }

// IngestResult says what became of a batch.
type IngestResult struct {
	// Accepted counts the readings kept: passed to the sink and the
	// observers. Late ones are included.
	Accepted int
	// Late counts the accepted readings older than the latest held.
	Late int
	// Duplicates counts the readings absorbed as already accepted.
	Duplicates int
	// Rejected lists the rejected readings in batch order; nil when none.
	Rejected []ReadingError
}

// Err returns the first rejection, or nil when none.
func (r IngestResult) Err() error {
	if len(r.Rejected) == 0 {
		return nil
	}
	return &r.Rejected[0]
}

// IngestOptions configures an Ingester. The zero value gives the defaults.
type IngestOptions struct {
	// Authorizer decides who may feed readings in; required
	// (access.AllowAll() for tests and single-user tools). Ingest,
	// IngestJSON, Submit and Subscribe ask it once per call, never per
	// reading, for ActionIngest on ResourceReadings within Area.
	Authorizer access.Authorizer
	// Area is the jurisdiction the ingester serves, a grid subtree such as
	// a district; required. A source (a gateway, a platform, an actor of
	// kind access.SensorSystem) needs a grant reaching it.
	Area region.Code
	// Observers see the accepted readings of every batch, in this order,
	// after the latest-value state has been updated (more can be added
	// with AddObserver). They are called from the goroutine that ingests,
	// so from several at once: they must be safe for concurrent use and
	// quick, and must not keep the slice.
	Observers []Observer
	// Sink, if set, stores every accepted batch before the observers see
	// it.
	Sink Sink
	// Clock sets Received when a reading lacks it and bounds Observed;
	// default clock.Real().
	Clock clock.Clock
	// MaxSkew is how far ahead of the clock a reading's Observed may be
	// (default 5 minutes; negative: no limit).
	MaxSkew time.Duration

	// Workers is the number of goroutines that serve Submit's queue
	// (default GOMAXPROCS). They start at the first Submit.
	Workers int
	// QueueSize bounds each of the two queue lanes, in readings (default
	// 65,536), and so the largest batch Submit takes.
	QueueSize int
	// MaxBatch is the most readings a worker ingests at once (default
	// 4,096): it takes several queued batches of a lane together, so that
	// the sink writes fewer, larger batches, however small the submitted
	// ones (one bus message each, say).
	MaxBatch int
	// Overload is what Submit does when a lane is full: bus.Block waits,
	// bus.Reject refuses the batch with bus.ErrOverloaded, and
	// bus.DropOldest discards the oldest queued bulk batches (the priority
	// lane waits instead: alarms are never dropped). Default bus.Block.
	Overload bus.Overload
	// Priority names the resources whose readings take the priority lane,
	// served before bulk telemetry: alarms and heartbeats, such as "fall",
	// "smoke" or "heartbeat". The names apply to every profile.
	Priority []string
	// SinkBackoff is how long a queue worker waits before retrying a
	// failed Sink.Write (default 100 ms, doubling up to 10 s).
	SinkBackoff time.Duration
	// Logger receives malformed bus messages and sink failures; nil logs
	// nothing.
	Logger *slog.Logger
}

// IngestStats counts what an Ingester has done since it was created.
type IngestStats struct {
	// Accepted counts readings kept (good and late); Late those of them
	// older than the latest held; Duplicates the readings absorbed.
	Accepted, Late, Duplicates int64
	// Rejected counts rejected readings by Reason.
	Rejected [NumReasons]int64
	// Submitted counts readings taken into the queue by Submit; Queued is
	// how many wait there now (both lanes) or are being ingested.
	Submitted, Queued int64
	// Overloaded counts readings Submit refused because the queue was
	// full (Reject) or its context ended while it waited (Block).
	Overloaded int64
	// Dropped counts queued readings discarded: by DropOldest, or by a
	// Close whose context ended first.
	Dropped int64
	// Messages counts device messages decoded from the bus; Malformed
	// those that could not be, and were acknowledged and discarded.
	Messages, Malformed int64
	// SinkErrors counts failed Sink.Write calls.
	SinkErrors int64
}

// RejectedTotal returns the sum of Rejected.
func (s IngestStats) RejectedTotal() int64 {
	var n int64
	for _, c := range s.Rejected {
		n += c
	}
	return n
}

// Ingester takes readings into govkit: it validates them against the
// registry, absorbs duplicates, keeps the latest value of every (device,
// resource) by event time, and passes what it accepts to a Sink and to
// Observers (the rule engine). Ingest is the synchronous typed API; Submit
// queues batches for worker goroutines, with a priority lane and an
// overload policy; IngestJSON, Handler and Subscribe take device messages
// (see DecodeJSON). It is safe for concurrent use.
//
// Duplicates are found per (device, resource) with O(1) memory: the
// newest sequence number accepted and a 32-bit window of the ones before
// it. A Seq inside the window is a duplicate if its bit is set; one above
// moves the window. One more than 31 below the newest cannot be checked:
// it is absorbed as a replay, unless it was observed after the latest
// reading held, which means the device restarted its numbering (after a
// reboot, say); the window then restarts from it.
//
// "Latest" follows event time: a reading observed before the one held is
// accepted as QualityLate, passed on for history and windows, and never
// replaces it; one observed at the same instant or later replaces it.
// The latest-value state takes 4 bytes per registered device plus 32 per
// resource of each device that has reported, in flat arrays without
// pointers (about 134 bytes per device of four resources).
type Ingester struct {
	reg       *Registry
	opts      IngestOptions
	clock     clock.Clock
	observers atomic.Pointer[[]Observer]
	stripes   []latestStripe // a power of two of them; see latest.go
	shift     uint           // log2(len(stripes))

	q     ingestQueue
	start sync.Once

	// mu serialises AddObserver and filling prio, which caches, per
	// profile index, the mask of the profile's priority resources.
	mu   sync.Mutex
	prio atomic.Pointer[[]uint64]

	hot                   [8]ingestCounters // summed by Stats
	rejected              [NumReasons]atomic.Int64
	overloaded, dropped   atomic.Int64
	malformed, sinkErrors atomic.Int64
	bufs                  sync.Pool // *[]Reading
}

// ingestCounters are the counters every batch or message adds to, spread
// over several cache lines so that ingest goroutines seldom share one.
type ingestCounters struct {
	accepted, late, duplicates, messages, submitted atomic.Int64
	_                                               [88]byte
}

// counters returns one of in.hot at random.
func (in *Ingester) counters() *ingestCounters {
	return &in.hot[rand.Uint32()&uint32(len(in.hot)-1)]
}

// NewIngester returns an ingester for the devices of reg. It fails on a
// nil registry or an invalid option.
func NewIngester(reg *Registry, opts IngestOptions) (*Ingester, error) {
	switch {
	case reg == nil:
		return nil, errors.New("sensor: NewIngester needs a registry")
	case opts.Authorizer == nil:
		return nil, errors.New("sensor: NewIngester needs an Authorizer (access.AllowAll() to allow every source)")
	case opts.Area == "":
		return nil, errors.New("sensor: NewIngester needs the Area it serves")
	case opts.Workers < 0 || opts.QueueSize < 0 || opts.MaxBatch < 0 || opts.SinkBackoff < 0:
		return nil, fmt.Errorf("sensor: negative ingest option")
	case opts.Overload < bus.Block || opts.Overload > bus.DropOldest:
		return nil, fmt.Errorf("sensor: unknown overload policy %v", opts.Overload)
	case slices.Contains(opts.Observers, nil):
		return nil, errors.New("sensor: nil observer")
	}
	for _, n := range opts.Priority {
		if !validName(n) {
			return nil, fmt.Errorf("%w: priority resource %q", ErrInvalidProfile, n)
		}
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real()
	}
	if opts.MaxSkew == 0 {
		opts.MaxSkew = 5 * time.Minute
	}
	if opts.Workers == 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	if opts.QueueSize == 0 {
		opts.QueueSize = 1 << 16
	}
	if opts.MaxBatch == 0 {
		opts.MaxBatch = 4096
	}
	if opts.SinkBackoff == 0 {
		opts.SinkBackoff = 100 * time.Millisecond
	}
	in := &Ingester{reg: reg, opts: opts, clock: opts.Clock}
	obs := slices.Clone(opts.Observers)
	in.observers.Store(&obs)
	in.q.init(opts.QueueSize)
	// Size every stripe's index for the devices registered so far.
	reg.mu.RLock()
	n := len(reg.profile)
	reg.mu.RUnlock()
	in.shift = stripeShift(runtime.GOMAXPROCS(0))
	in.stripes = make([]latestStripe, 1<<in.shift)
	for i := range in.stripes {
		in.stripes[i].base = make([]uint32, n>>in.shift+1)
	}
	return in, nil
}

// AddObserver adds an observer after those already registered.
func (in *Ingester) AddObserver(o Observer) {
	if o == nil {
		return
	}
	in.mu.Lock() // serialises writers; readers load the pointer
	defer in.mu.Unlock()
	obs := append(slices.Clone(*in.observers.Load()), o)
	in.observers.Store(&obs)
}

// Stats returns the ingester's counters.
func (in *Ingester) Stats() IngestStats {
	s := IngestStats{
		Overloaded: in.overloaded.Load(), Dropped: in.dropped.Load(),
		Malformed: in.malformed.Load(), SinkErrors: in.sinkErrors.Load(),
	}
	for i := range in.hot {
		c := &in.hot[i]
		s.Accepted += c.accepted.Load()
		s.Late += c.late.Load()
		s.Duplicates += c.duplicates.Load()
		s.Messages += c.messages.Load()
		s.Submitted += c.submitted.Load()
	}
	for i := range s.Rejected {
		s.Rejected[i] = in.rejected[i].Load()
	}
	s.Queued = in.q.pendingCount()
	return s
}

// Latest returns the newest reading held for resource of device h, by
// observed time: Device, Resource, Value, Unit (the resource's), Observed
// (in UTC) and Seq (0 when the reading was unnumbered). Received is not
// kept. It reports false when the device has no such reading.
func (in *Ingester) Latest(h Handle, resource uint8) (Reading, bool) {
	res, err := in.reg.Resource(h, resource)
	if err != nil {
		return Reading{}, false
	}
	st, local := in.stripe(h)
	st.mu.Lock()
	s := st.peek(local, resource)
	var (
		v   float64
		obs time.Time
		seq uint64
		ok  bool
	)
	if s != nil {
		v, obs, seq, ok = s.latest()
	}
	st.mu.Unlock()
	if !ok {
		return Reading{}, false
	}
	return Reading{Device: h, Resource: resource, Seq: seq, Value: v, Unit: res.Unit, Observed: obs}, true
}

// Unix seconds of the last instant time.UnixNano represents (2262).
const maxUnixSec = 9_223_372_035

type flagOp struct {
	h  Handle
	on bool
}

// Outcomes of the readings of a batch, in ingestScratch.outcome.
const (
	ocGood       = uint8(offerGood)
	ocLate       = uint8(offerLate)
	ocDuplicate  = uint8(offerDuplicate)
	ocRejected   = 3
	ocOutOfRange = 4    // rejected, and sets the quality flag
	ocFlagged    = 0x80 // or'ed in: the device's quality flag was set
)

// ingestCand is a valid reading waiting for its stripe.
type ingestCand struct {
	i     int32  // index in the batch
	n     uint8  // resources of the device's profile
	place uint32 // of the device's slots in its stripe
	obs   int64  // Observed in Unix ns
}

// ingestScratch is apply's working memory, pooled.
type ingestScratch struct {
	outcome []uint8
	cand    []ingestCand
	order   []int32 // cand indices grouped by stripe
	start   []int32 // per stripe, then the start of each stripe's group
	next    []int32
	touch   uint64 // keeps the loads that prefetch slots
}

var scratchPool = sync.Pool{New: func() any { return new(ingestScratch) }}

// apply validates batch and applies it to the latest-value state,
// appending the accepted readings (Quality, Received and Observed set) to
// out in batch order. Duplicates and rejections are counted in the
// ingester's counters; accepted ones are not, since they only count once
// delivered.
//
// It works in three passes: validation under the registry's read lock;
// the state, one stripe at a time, each stripe's readings under one
// acquisition of its lock; then, in batch order, the output and the
// quality flag changes.
//
// The caller may already hold the registry's read lock (held), which apply
// releases; otherwise apply takes it.
func (in *Ingester) apply(batch []Reading, out []Reading, held bool) ([]Reading, IngestResult) {
	var (
		res   IngestResult
		rej   [NumReasons]int
		now   = in.clock.Now()
		limit = int64(-1)
		sc    = scratchPool.Get().(*ingestScratch)
	)
	if in.opts.MaxSkew >= 0 {
		limit = now.Add(in.opts.MaxSkew).UnixNano()
	}
	sc.outcome = slices.Grow(sc.outcome[:0], len(batch))[:len(batch)]
	sc.cand = slices.Grow(sc.cand[:0], len(batch))
	nst := len(in.stripes)
	sc.start = slices.Grow(sc.start[:0], nst+1)[:nst+1]
	clear(sc.start)
	mask := Handle(nst - 1)
	reject := func(i int, r *Reading, why Reason) {
		rej[why]++
		sc.outcome[i] = ocRejected
		res.Rejected = append(res.Rejected, ReadingError{Index: i, Device: r.Device, Resource: r.Resource, Reason: why})
	}

	reg := in.reg
	if !held {
		reg.mu.RLock()
	}
	var (
		n    = len(reg.profile)
		prev = Handle(math.MaxUint32) // the device of the last reading looked up
		f    uint8
		p    *Profile
	)
	// Load every reading's device flags and profile first: the loop is
	// short, so that their cache misses overlap.
	var touch uint
	for i := range batch {
		if h := batch[i].Device; int(h) < n {
			touch += uint(reg.flags[h]) + uint(reg.profile[h])
		}
	}
	sc.touch += uint64(touch)
	for i := range batch {
		r := &batch[i]
		h := r.Device
		if int(h) >= n {
			reject(i, r, ReasonUnknownDevice)
			continue
		}
		if h != prev { // a device's readings usually come together
			f, p, prev = reg.flags[h], reg.profiles[reg.profile[h]], h
		}
		if f&(flagRemoved|flagLocked) != 0 {
			if f&flagRemoved != 0 {
				reject(i, r, ReasonRemoved)
			} else {
				reject(i, r, ReasonLocked)
			}
			continue
		}
		if int(r.Resource) >= len(p.Resources) {
			reject(i, r, ReasonUnknownResource)
			continue
		}
		rs := &p.Resources[r.Resource]
		if r.Unit != "" && r.Unit != rs.Unit {
			reject(i, r, ReasonWrongUnit)
			continue
		}
		observed := r.Observed
		if observed.IsZero() {
			if observed = r.Received; observed.IsZero() {
				observed = now
			}
		}
		sec := observed.Unix()
		if sec <= 0 || sec >= maxUnixSec {
			reject(i, r, ReasonBadTime)
			continue
		}
		obs := observed.UnixNano()
		if limit >= 0 && obs > limit {
			reject(i, r, ReasonBadTime)
			continue
		}
		flagged := uint8(0)
		if f&flagOutOfRange != 0 {
			flagged = ocFlagged
		}
		if !rs.inRange(r.Value) {
			reject(i, r, ReasonOutOfRange)
			sc.outcome[i] = ocOutOfRange | flagged
			continue
		}
		sc.outcome[i] = flagged
		sc.cand = append(sc.cand, ingestCand{i: int32(i), n: uint8(len(p.Resources)), obs: obs})
		sc.start[h&mask+1]++
	}
	reg.mu.RUnlock()

	// Group the candidates by stripe (a stable counting sort), then take
	// each stripe's lock once.
	if len(sc.cand) > 0 {
		for s := 1; s <= nst; s++ {
			sc.start[s] += sc.start[s-1]
		}
		sc.order = slices.Grow(sc.order[:0], len(sc.cand))[:len(sc.cand)]
		sc.next = append(sc.next[:0], sc.start...)
		for k := range sc.cand {
			s := batch[sc.cand[k].i].Device & mask
			sc.order[sc.next[s]] = int32(k)
			sc.next[s]++
		}
		first := int(rand.Uint32()) // goroutines start at different stripes
		for j := range nst {
			s := (first + j) & int(mask)
			lo, hi := sc.start[s], sc.start[s+1]
			if lo == hi {
				continue
			}
			group := sc.order[lo:hi]
			st := &in.stripes[s]
			st.mu.Lock()
			// First find every device's slots and load from them, so that
			// their cache misses overlap; then apply the readings.
			var (
				prev  = Handle(math.MaxUint32)
				b     uint32
				touch uint64
			)
			for _, k := range group {
				c := &sc.cand[k]
				if h := batch[c.i].Device; h != prev {
					b = st.place(uint32(h>>in.shift), int(c.n))
					touch += st.at(b, 0).top + st.at(b, c.n-1).top
					prev = h
				}
				c.place = b
			}
			for _, k := range group {
				c := &sc.cand[k]
				r := &batch[c.i]
				sc.outcome[c.i] |= uint8(st.at(c.place, r.Resource).offer(r.Seq, c.obs, r.Value))
			}
			st.mu.Unlock()
			sc.touch += touch
		}
	}

	// Output and quality flags, in batch order.
	var (
		opsA [8]flagOp
		ops  = opsA[:0]
		dups int
	)
	for i := range batch {
		oc := sc.outcome[i]
		flagged := oc&ocFlagged != 0
		switch oc &^ ocFlagged {
		case ocRejected:
			continue
		case ocOutOfRange:
			ops = flagChange(ops, batch[i].Device, flagged, true)
			continue
		case ocDuplicate:
			dups++
			continue
		}
		out = append(out, batch[i])
		a := &out[len(out)-1]
		if a.Received.IsZero() {
			a.Received = now
		}
		if a.Observed.IsZero() {
			a.Observed = a.Received
		}
		if oc&^ocFlagged == ocLate {
			a.Quality = QualityLate
			res.Late++
		} else {
			a.Quality = QualityGood
			if flagged || len(ops) > 0 {
				ops = flagChange(ops, a.Device, flagged, false)
			}
		}
	}
	scratchPool.Put(sc)

	for _, op := range ops {
		reg.setOutOfRange(op.h, op.on)
	}
	res.Duplicates = dups
	res.Accepted = len(out)
	if dups > 0 {
		in.counters().duplicates.Add(int64(dups))
	}
	for why, c := range rej {
		if c > 0 {
			in.rejected[why].Add(int64(c))
		}
	}
	return out, res
}

// flagChange records that device h's quality flag should become on, in
// batch order, unless that is already its state: flagged is the flag when
// the batch began, and earlier changes in ops override it.
func flagChange(ops []flagOp, h Handle, flagged, on bool) []flagOp {
	cur := flagged
	for i := len(ops) - 1; i >= 0; i-- {
		if ops[i].h == h {
			cur = ops[i].on
			break
		}
	}
	if cur == on {
		return ops
	}
	return append(ops, flagOp{h, on})
}

// forget withdraws the sequence numbers of readings whose storage failed
// from the duplicate windows, so that their redelivery is not absorbed.
func (in *Ingester) forget(acc []Reading) {
	for i := range acc {
		r := &acc[i]
		if r.Seq == 0 {
			continue
		}
		st, local := in.stripe(r.Device)
		st.mu.Lock()
		if s := st.peek(local, r.Resource); s != nil {
			s.forget(r.Seq)
		}
		st.mu.Unlock()
	}
}

// deliver stores acc in the sink, then shows it to the observers and
// counts it.
func (in *Ingester) deliver(ctx context.Context, acc []Reading, late int) error {
	if len(acc) == 0 {
		return nil
	}
	if in.opts.Sink != nil {
		if err := in.opts.Sink.Write(ctx, acc); err != nil {
			in.sinkErrors.Add(1)
			return fmt.Errorf("%w: %w", ErrSink, err)
		}
	}
	for _, o := range *in.observers.Load() {
		o.Observe(acc)
	}
	c := in.counters()
	c.accepted.Add(int64(len(acc)))
	if late > 0 {
		c.late.Add(int64(late))
	}
	return nil
}

func (in *Ingester) getBuf(n int) *[]Reading {
	if p, _ := in.bufs.Get().(*[]Reading); p != nil && cap(*p) >= n {
		return p
	}
	b := make([]Reading, 0, max(n, 64))
	return &b
}

func (in *Ingester) putBuf(p *[]Reading) {
	if cap(*p) > 1<<16 {
		return // let an outsize buffer go
	}
	clear(*p) // drop Unit strings; users of a buffer leave nothing past len
	*p = (*p)[:0]
	in.bufs.Put(p)
}

// Ingest takes a batch of readings synchronously. For each reading, in
// order, it checks the device (known, in service, unlocked), the resource
// index, the unit (empty or the resource's), the observed time and the
// valid range, rejecting the reading with a *ReadingError in the result
// otherwise; an out-of-range reading also sets the device's quality flag,
// which the next accepted reading that becomes the latest clears.
//
// A valid reading whose (device, resource, Seq) was already accepted is
// absorbed as a duplicate (Seq 0 never is; see Ingester for the window).
// The others are accepted: Received is set to the clock's
// time when zero, Observed to Received when zero, and Quality to
// QualityLate when an already held reading was observed later (the latest
// value is then left alone) or QualityGood when it becomes the latest.
//
// The accepted readings go to the sink and then, if it succeeds, to the
// observers, in batch order. The error is non-nil only when ctx has ended
// before anything was done, or when the sink fails: then it matches
// ErrSink, nothing of the batch counts as accepted, the observers are not
// called, and the readings' sequence numbers are withdrawn from the
// duplicate windows so that retrying the batch stores them (the latest
// values may already show them; a retry leaves them so).
func (in *Ingester) Ingest(ctx context.Context, batch []Reading) (IngestResult, error) {
	if err := in.authorize(ctx); err != nil {
		return IngestResult{}, err
	}
	return in.ingest(ctx, batch, false)
}

// The access-layer names ingestion asks about.
const (
	ActionIngest     = "ingest"
	ResourceReadings = "sensor.readings"
)

// authorize checks ctx and asks whether its actor may feed readings into
// the ingester's Area.
func (in *Ingester) authorize(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return access.Check(ctx, in.opts.Authorizer, ActionIngest, access.Resource{Kind: ResourceReadings, Jurisdiction: in.opts.Area})
}

// ingest is Ingest once ctx was checked; held says that the caller holds
// the registry's read lock, which it releases.
func (in *Ingester) ingest(ctx context.Context, batch []Reading, held bool) (IngestResult, error) {
	buf := in.getBuf(len(batch))
	acc, res := in.apply(batch, *buf, held)
	err := in.deliver(ctx, acc, res.Late)
	if err != nil {
		in.forget(acc)
		in.log("sensor: ingest: sink failed", "readings", len(acc), "err", err)
	}
	*buf = acc
	in.putBuf(buf)
	return res, err
}

func (in *Ingester) log(msg string, args ...any) {
	if in.opts.Logger != nil {
		in.opts.Logger.Warn(msg, args...)
	}
}
