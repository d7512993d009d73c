package mqtt

import (
	"sync"
	"sync/atomic"
)

// Gap reports sequence numbers that a group did not receive: messages
// From through To (inclusive) of one stream were skipped. They were lost,
// most often dropped by a broker whose queue for the group was full, unless
// they arrive later (Stats.Reordered then counts them and Stats.Lost goes
// down again).
type Gap struct {
	Group   string // the subscription's group
	Pattern string // the subscription's pattern
	Source  string // the publisher's PropSource
	Subject string
	Key     string
	From    uint64
	To      uint64
}

// Lost returns the number of messages in the gap.
func (g Gap) Lost() uint64 { return g.To - g.From + 1 }

// maxMissing bounds the skipped sequence numbers remembered per stream so
// that a late arrival can be told from a duplicate; beyond it a gap still
// counts as lost but a late arrival counts as a duplicate.
const maxMissing = 4096

type streamKey struct{ src, subject, key string }

type stream struct {
	next    uint64              // the sequence number expected next
	missing map[uint64]struct{} // skipped numbers that may still arrive
}

// lossCounters are shared by every tracker of a bus.
type lossCounters struct {
	received, duplicates, reordered, gaps, lost, resets atomic.Int64
}

// tracker detects gaps per stream for one group within one bus.
type tracker struct {
	group, pattern string
	max            int
	onGap          func(Gap)
	c              *lossCounters

	mu      sync.Mutex
	streams map[streamKey]*stream
}

func newTracker(group, pattern string, maxStreams int, onGap func(Gap), c *lossCounters) *tracker {
	return &tracker{group: group, pattern: pattern, max: maxStreams, onGap: onGap, c: c, streams: map[streamKey]*stream{}}
}

// observe records sequence number seq of a stream, in the order messages
// arrive. The first message of a stream sets its baseline.
func (t *tracker) observe(src, subject, key string, seq uint64) {
	t.c.received.Add(1)
	k := streamKey{src, subject, key}
	t.mu.Lock()
	s := t.streams[k]
	if s == nil {
		if len(t.streams) >= t.max {
			clear(t.streams)
			t.c.resets.Add(1)
		}
		t.streams[k] = &stream{next: seq + 1}
		t.mu.Unlock()
		return
	}
	switch {
	case seq == s.next:
		s.next++
		t.mu.Unlock()
	case seq > s.next:
		from, to := s.next, seq-1
		for n := from; n <= to && len(s.missing) < maxMissing; n++ {
			if s.missing == nil {
				s.missing = map[uint64]struct{}{}
			}
			s.missing[n] = struct{}{}
		}
		s.next = seq + 1
		t.mu.Unlock()
		t.c.gaps.Add(1)
		t.c.lost.Add(int64(to - from + 1))
		if t.onGap != nil {
			t.onGap(Gap{Group: t.group, Pattern: t.pattern, Source: src, Subject: subject, Key: key, From: from, To: to})
		}
	default:
		_, late := s.missing[seq]
		if late {
			delete(s.missing, seq)
			if len(s.missing) == 0 {
				s.missing = nil
			}
		}
		t.mu.Unlock()
		if late {
			t.c.reordered.Add(1)
			t.c.lost.Add(-1)
		} else {
			t.c.duplicates.Add(1)
		}
	}
}
