package sensor

import (
	"math"
	"sync"
	"time"
)

// The latest-value state of every (device, resource) lives in stripes: a
// device's state is in stripe h mod len(stripes), under that stripe's
// lock. Ingest sorts a batch by stripe and takes each stripe's lock once
// per batch, so that the cache misses of one stripe's readings overlap
// instead of queueing behind a lock each; two goroutines rarely want the
// same stripe at once. Within a stripe, base maps the device's local
// index (h / len(stripes)) to its profile's slots, which are contiguous
// in one chunk of at most latestChunkMax 32-byte slots, allocated the
// first time the device reports. Chunks never move or grow, so memory
// stays within one partly filled chunk per stripe of the 4 bytes per
// registered device plus 32 bytes per resource of each device that has
// reported (see BenchmarkIngestTyped's state-bytes/device), and there are
// no pointers in them for the garbage collector to scan.
const (
	latestChunkBits = 13
	latestChunkMax  = 1 << latestChunkBits // slots
	latestChunkMin  = 64
)

// stripeShift returns log2 of the number of stripes for procs
// goroutines: four stripes per processor, at least 8 and at most 256.
// Fewer, larger stripes let more of a batch's cache misses overlap; more
// keep ingest goroutines from meeting.
func stripeShift(procs int) uint {
	shift := uint(3)
	for 1<<shift < 4*procs && shift < 8 {
		shift++
	}
	return shift
}

// stripe returns the stripe of device h and its index there.
func (in *Ingester) stripe(h Handle) (*latestStripe, uint32) {
	return &in.stripes[h&Handle(len(in.stripes)-1)], uint32(h >> in.shift)
}

// dupWindow is the number of sequence numbers per (device, resource) that
// duplicate detection remembers, counting back from the newest.
const dupWindow = 32

// latestLagNone marks a latest reading without a usable sequence number.
const latestLagNone = math.MaxUint32

// latestSlot is the state of one (device, resource).
type latestSlot struct {
	value    float64
	observed int64 // the latest reading's Observed, in Unix ns; 0 while none
	// top is the newest sequence number of the duplicate window (0 while
	// no numbered reading was accepted), and bit i of win says whether
	// top-i was accepted.
	top uint64
	win uint32
	// lag is top minus the latest reading's Seq, or latestLagNone.
	lag uint32
}

type latestStripe struct {
	mu sync.Mutex
	// base maps a local index to (chunk+1)<<latestChunkBits | offset of
	// the device's first slot; 0 until the device reports.
	base   []uint32
	chunks [][]latestSlot
	_      [8]byte // keeps stripes on separate cache lines
}

// place returns where the slots of the device with local index local,
// whose profile has n resources, are: (chunk+1)<<latestChunkBits |
// offset, allocating them on first use. The caller holds st.mu.
func (st *latestStripe) place(local uint32, n int) uint32 {
	if int(local) >= len(st.base) {
		grown := make([]uint32, max(int(local)+1, 2*len(st.base), 64))
		copy(grown, st.base)
		st.base = grown
	}
	b := st.base[local]
	if b == 0 {
		last := len(st.chunks) - 1
		if last < 0 || len(st.chunks[last])+n > cap(st.chunks[last]) {
			size := min(latestChunkMin<<min(len(st.chunks), 16), latestChunkMax)
			st.chunks = append(st.chunks, make([]latestSlot, 0, size))
			last++
		}
		c := st.chunks[last]
		b = uint32(last+1)<<latestChunkBits | uint32(len(c))
		st.chunks[last] = c[:len(c)+n]
		st.base[local] = b
	}
	return b
}

// at returns slot res of the device placed at b. The caller holds st.mu.
func (st *latestStripe) at(b uint32, res uint8) *latestSlot {
	return &st.chunks[b>>latestChunkBits-1][int(b&(latestChunkMax-1))+int(res)]
}

// peek returns the state of resource res of the device with local index
// local, or nil while the device has never reported. The caller holds
// st.mu.
func (st *latestStripe) peek(local uint32, res uint8) *latestSlot {
	if int(local) >= len(st.base) || st.base[local] == 0 {
		return nil
	}
	return st.at(st.base[local], res)
}

// offerOutcome is the result of offering a reading to a slot.
type offerOutcome uint8

const (
	offerGood offerOutcome = iota
	offerLate
	offerDuplicate
)

// offer applies one reading (seq, observed in Unix ns, value) to s:
// duplicate detection first, then the event-time rule for "latest".
//
// The window holds the newest sequence number seen (top) and the 31
// before it. A seq above top moves the window; one inside it is a
// duplicate if its bit is set. One below the window cannot be checked: it
// is taken as a replay and absorbed, unless it was observed after the
// latest reading held, which means the device restarted its numbering; the
// window then restarts from it.
func (s *latestSlot) offer(seq uint64, obs int64, v float64) offerOutcome {
	if seq != 0 {
		switch {
		case s.top == 0:
			s.top, s.win = seq, 1
		case seq > s.top:
			d := seq - s.top
			if d >= dupWindow {
				s.win = 1
			} else {
				s.win = s.win<<d | 1
			}
			s.top = seq
			if s.lag != latestLagNone {
				if uint64(s.lag)+d >= latestLagNone {
					s.lag = latestLagNone
				} else {
					s.lag += uint32(d)
				}
			}
		default:
			d := s.top - seq
			switch {
			case d < dupWindow && s.win&(1<<d) != 0:
				return offerDuplicate
			case d < dupWindow:
				s.win |= 1 << d
			case s.observed != 0 && obs > s.observed:
				s.top, s.win = seq, 1 // the device restarted its numbering
			default:
				return offerDuplicate
			}
		}
	}
	if s.observed != 0 && obs < s.observed {
		return offerLate
	}
	s.value, s.observed = v, obs
	if seq == 0 {
		s.lag = latestLagNone
	} else {
		s.lag = uint32(s.top - seq) // < window: seq was just placed in it
	}
	return offerGood
}

// forget withdraws seq from the duplicate window, so that a redelivery
// of a reading whose storage failed is not absorbed.
func (s *latestSlot) forget(seq uint64) {
	if seq != 0 && seq <= s.top && s.top-seq < dupWindow {
		s.win &^= 1 << (s.top - seq)
	}
}

// latest returns the value, observed time and sequence number held.
func (s *latestSlot) latest() (v float64, obs time.Time, seq uint64, ok bool) {
	if s.observed == 0 {
		return 0, time.Time{}, 0, false
	}
	if s.lag != latestLagNone {
		seq = s.top - uint64(s.lag)
	}
	return s.value, time.Unix(0, s.observed).UTC(), seq, true
}
