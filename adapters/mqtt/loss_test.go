package mqtt

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/govkit/govkit/bus"
)

// gapLog collects OnGap calls.
type gapLog struct {
	mu   sync.Mutex
	gaps []Gap
}

func (l *gapLog) add(g Gap) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.gaps = append(l.gaps, g)
}

func (l *gapLog) snapshot() []Gap {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.gaps)
}

// lossRun publishes one (subject, key) stream as fast as the broker
// acknowledges it to a slow subscriber (one handler goroutine, two
// messages in flight, 2 ms per message), then keeps publishing markers in
// the same stream until one arrives: the last message published is then
// one the subscriber received, so every message missing was seen missing.
type lossRun struct {
	published int          // messages in the stream, markers included
	handled   map[int]bool // stream positions (sequence numbers) handled
	handledN  int          // handler calls
	gaps      []Gap
	stats     Stats
	subject   string
	key       string
	group     string
	pattern   string
	pubID     string
}

func runLossStream(t *testing.T, brokerConfig string, n int) lossRun {
	t.Helper()
	br := startBroker(t, brokerConfig)
	root := testRoot()
	run := lossRun{handled: map[int]bool{}, subject: root + ".500107.sensor.d-17.reading", key: "d-17",
		group: "monitor", pattern: root + ".>"}

	gaps := &gapLog{}
	subOpts := testOptions(t, br.url())
	subOpts.ClientID += "-s"
	subOpts.Concurrency, subOpts.ReceiveMaximum, subOpts.OnGap = 1, 2, gaps.add
	pubOpts := testOptions(t, br.url())
	pubOpts.ClientID += "-p"
	run.pubID = pubOpts.ClientID
	sub, pub := newTestBus(t, subOpts), newTestBus(t, pubOpts)

	var mu sync.Mutex
	subscribeT(t, sub, run.pattern, run.group, func(ctx context.Context, m bus.Message) error {
		pos, err := strconv.Atoi(string(m.Data))
		if err != nil {
			t.Errorf("payload %q", m.Data)
		}
		mu.Lock()
		run.handled[pos] = true
		run.handledN++
		mu.Unlock()
		time.Sleep(2 * time.Millisecond) // slow: the broker's queue for it fills
		return nil
	})
	publish := func(pos int) {
		m := bus.NewMessage(run.subject, []byte(strconv.Itoa(pos)))
		m.Key = run.key
		publishT(t, pub, m)
	}
	// The publisher numbers the stream 1, 2, 3, … in publish order: the
	// payload is the message's sequence number.
	for pos := 1; pos <= n; pos++ {
		publish(pos)
	}
	run.published = n
	for {
		run.published++
		publish(run.published)
		deadline := time.Now().Add(time.Second)
		for time.Now().Before(deadline) {
			mu.Lock()
			got := run.handled[run.published]
			mu.Unlock()
			if got {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		mu.Lock()
		got := run.handled[run.published]
		mu.Unlock()
		if got {
			break
		}
		if run.published > n+20 {
			t.Fatalf("no marker arrived after %d", run.published-n)
		}
	}
	if st := pub.Stats(); st.Published != int64(run.published) || st.NoSubscribers != 0 {
		t.Fatalf("publisher stats %+v, want %d published to a subscriber", st, run.published)
	}
	mu.Lock()
	defer mu.Unlock()
	run.stats = sub.Stats()
	run.gaps = gaps.snapshot()
	return run
}

// A broker that drops messages (Mosquitto's per-client queue is full: it
// acknowledges them to the publisher and discards them) is caught by the
// subscriber's sequence tracking: Stats counts the gaps and the messages
// lost, exactly, and OnGap names every lost range, which are exactly the
// messages never delivered. With the lossless settings nothing is lost.
func TestLossDetection(t *testing.T) {
	const n = 300

	t.Run("lossy", func(t *testing.T) {
		run := runLossStream(t, "max_queued_messages 10\nmax_inflight_messages 2\n", n)
		st := run.stats
		t.Logf("published %d, handled %d, stats %+v, %d gaps", run.published, len(run.handled), st, len(run.gaps))
		if st.Lost == 0 || st.Gaps == 0 {
			t.Fatalf("the broker's queue of 10 did not overflow, or loss went unnoticed: %+v", st)
		}
		// One member, one connection, one stream: no duplicates, no
		// reordering, so the promise is exact. The tracker saw numbers 1
		// to the last, each received or lost.
		if st.Duplicates != 0 || st.Reordered != 0 || st.Redelivered != 0 || st.TrackerResets != 0 {
			t.Fatalf("unexpected duplicates, reordering or resets: %+v", st)
		}
		if st.Received != int64(len(run.handled)) || run.handledN != len(run.handled) {
			t.Fatalf("Received %d, handled %d distinct in %d calls", st.Received, len(run.handled), run.handledN)
		}
		if st.Received+st.Lost != int64(run.published) {
			t.Fatalf("Received %d + Lost %d != %d published", st.Received, st.Lost, run.published)
		}
		if st.Gaps != int64(len(run.gaps)) {
			t.Fatalf("Gaps = %d but OnGap called %d times", st.Gaps, len(run.gaps))
		}
		// Every gap is plausible, they are disjoint and in order, and
		// together they are exactly the messages never handled.
		inGap := map[int]bool{}
		var sum uint64
		last := uint64(0)
		for _, g := range run.gaps {
			if g.Group != run.group || g.Pattern != run.pattern || g.Subject != run.subject || g.Key != run.key ||
				!strings.HasPrefix(g.Source, run.pubID+"@") {
				t.Fatalf("gap %+v does not name the stream (group %s, pattern %s, subject %s, key %s, source %s@…)",
					g, run.group, run.pattern, run.subject, run.key, run.pubID)
			}
			if g.From < 2 || g.To < g.From || g.To >= uint64(run.published) || g.From <= last+1 && last > 0 {
				t.Fatalf("implausible gap %+v (after %d, %d published)", g, last, run.published)
			}
			last = g.To
			sum += g.Lost()
			for s := g.From; s <= g.To; s++ {
				inGap[int(s)] = true
			}
		}
		if sum != uint64(st.Lost) {
			t.Fatalf("gaps add up to %d lost, Stats says %d", sum, st.Lost)
		}
		for pos := 1; pos <= run.published; pos++ {
			if run.handled[pos] == inGap[pos] {
				t.Fatalf("message %d: handled %v, in a gap %v", pos, run.handled[pos], inGap[pos])
			}
		}
	})

	t.Run("lossless", func(t *testing.T) {
		run := runLossStream(t, losslessConfig, n)
		st := run.stats
		if st.Lost != 0 || st.Gaps != 0 || len(run.gaps) != 0 {
			t.Fatalf("lossless settings lost messages: %+v, gaps %+v", st, run.gaps)
		}
		if len(run.handled) != run.published || st.Received != int64(run.published) {
			t.Fatalf("handled %d of %d published, stats %+v", len(run.handled), run.published, st)
		}
	})
}

// newTestTracker returns a tracker with its own counters and gap log.
func newTestTracker(maxStreams int) (*tracker, *lossCounters, *gapLog) {
	c := &lossCounters{}
	l := &gapLog{}
	return newTracker("g", "p.>", maxStreams, l.add, c), c, l
}

type counts struct{ received, duplicates, reordered, gaps, lost, resets int64 }

func (c *lossCounters) counts() counts {
	return counts{c.received.Load(), c.duplicates.Load(), c.reordered.Load(), c.gaps.Load(), c.lost.Load(), c.resets.Load()}
}

func TestTrackerInOrder(t *testing.T) {
	tr, c, l := newTestTracker(10)
	for seq := uint64(1); seq <= 5; seq++ {
		tr.observe("src", "p.a", "k", seq)
	}
	// The first message seen sets the baseline, whatever its number: a
	// member that joins late has not lost what came before.
	for seq := uint64(40); seq <= 42; seq++ {
		tr.observe("src", "p.b", "k", seq)
	}
	if got := c.counts(); got != (counts{received: 8}) || len(l.snapshot()) != 0 {
		t.Fatalf("counts %+v, gaps %v", got, l.snapshot())
	}
}

func TestTrackerDuplicate(t *testing.T) {
	tr, c, _ := newTestTracker(10)
	for _, seq := range []uint64{1, 2, 2, 3, 1, 3} {
		tr.observe("src", "p.a", "", seq)
	}
	if got := c.counts(); got != (counts{received: 6, duplicates: 3}) {
		t.Fatalf("counts %+v", got)
	}
}

func TestTrackerGapAndLateFill(t *testing.T) {
	tr, c, l := newTestTracker(10)
	for _, seq := range []uint64{1, 2, 6} {
		tr.observe("src", "p.a", "k", seq)
	}
	want := Gap{Group: "g", Pattern: "p.>", Source: "src", Subject: "p.a", Key: "k", From: 3, To: 5}
	if g := l.snapshot(); len(g) != 1 || g[0] != want || g[0].Lost() != 3 {
		t.Fatalf("gaps %+v, want %+v", g, want)
	}
	if got := c.counts(); got != (counts{received: 3, gaps: 1, lost: 3}) {
		t.Fatalf("counts %+v", got)
	}
	tr.observe("src", "p.a", "k", 4) // late: fills part of the gap
	if got := c.counts(); got != (counts{received: 4, gaps: 1, lost: 2, reordered: 1}) {
		t.Fatalf("after a late arrival: %+v", got)
	}
	tr.observe("src", "p.a", "k", 4) // again: now a duplicate
	tr.observe("src", "p.a", "k", 3)
	tr.observe("src", "p.a", "k", 5)
	tr.observe("src", "p.a", "k", 7)
	if got := c.counts(); got != (counts{received: 8, gaps: 1, lost: 0, reordered: 3, duplicates: 1}) {
		t.Fatalf("after filling the gap: %+v", got)
	}
	tr.observe("src", "p.a", "k", 5) // the gap is closed: a duplicate
	if got := c.counts(); got.duplicates != 2 || got.lost != 0 {
		t.Fatalf("after the gap closed: %+v", got)
	}
	if len(l.snapshot()) != 1 {
		t.Fatalf("gaps %+v, want one", l.snapshot())
	}
}

// A publisher that restarts numbers from 1 under a new source: a new
// stream, neither a gap nor duplicates. Streams of other keys, subjects
// and sources are independent.
func TestTrackerNewSource(t *testing.T) {
	tr, c, l := newTestTracker(10)
	for seq := uint64(1); seq <= 3; seq++ {
		tr.observe("pub@1", "p.a", "k", seq)
	}
	for seq := uint64(1); seq <= 3; seq++ {
		tr.observe("pub@2", "p.a", "k", seq)  // restarted publisher
		tr.observe("pub@1", "p.a", "k2", seq) // another key
		tr.observe("pub@1", "p.b", "k", seq)  // another subject
	}
	tr.observe("pub@1", "p.a", "k", 4) // the old source continues where it was
	if got := c.counts(); got != (counts{received: 13}) || len(l.snapshot()) != 0 {
		t.Fatalf("counts %+v, gaps %+v", got, l.snapshot())
	}
	tr.observe("pub@2", "p.a", "k", 5)
	if g := l.snapshot(); len(g) != 1 || g[0].Source != "pub@2" || g[0].From != 4 || g[0].To != 4 {
		t.Fatalf("gaps %+v, want message 4 of pub@2", g)
	}
}

// Beyond MaxStreams the tracker starts afresh: a stream seen again gets a
// new baseline (a gap across the reset goes unnoticed, as documented)
// rather than memory growing without bound.
func TestTrackerMaxStreams(t *testing.T) {
	tr, c, l := newTestTracker(2)
	tr.observe("s", "p.a", "", 1)
	tr.observe("s", "p.b", "", 1)
	tr.observe("s", "p.a", "", 2) // known stream: no reset
	if got := c.counts(); got.resets != 0 {
		t.Fatalf("reset with 2 streams of 2: %+v", got)
	}
	tr.observe("s", "p.c", "", 1) // a third: reset
	if got := c.counts(); got.resets != 1 {
		t.Fatalf("counts %+v, want one reset", got)
	}
	tr.observe("s", "p.a", "", 9) // a baseline again, not a gap of 6
	tr.observe("s", "p.a", "", 2) // and this one is below it: a duplicate
	if got := c.counts(); got != (counts{received: 6, resets: 1, duplicates: 1}) || len(l.snapshot()) != 0 {
		t.Fatalf("counts %+v, gaps %+v", got, l.snapshot())
	}
	tr.observe("s", "p.d", "", 1) // p.a and p.c: full again
	if got := c.counts(); got.resets != 2 {
		t.Fatalf("counts %+v, want a second reset", got)
	}
}

// A gap longer than maxMissing still counts in full, but only the first
// maxMissing numbers are remembered: a later one arriving late counts as
// a duplicate and the loss stands.
func TestTrackerHugeGap(t *testing.T) {
	tr, c, l := newTestTracker(10)
	tr.observe("s", "p.a", "", 1)
	tr.observe("s", "p.a", "", 10_002)
	if g := l.snapshot(); len(g) != 1 || g[0].From != 2 || g[0].To != 10_001 || g[0].Lost() != 10_000 {
		t.Fatalf("gaps %+v", g)
	}
	tr.observe("s", "p.a", "", 2)            // remembered: late
	tr.observe("s", "p.a", "", 2+maxMissing) // beyond the memory: duplicate
	if got := c.counts(); got != (counts{received: 4, gaps: 1, lost: 9_999, reordered: 1, duplicates: 1}) {
		t.Fatalf("counts %+v", got)
	}
}

// The members of a group on one bus share its tracker, from their own
// receiving goroutines; the counters are exact under concurrency.
func TestTrackerConcurrent(t *testing.T) {
	tr, c, l := newTestTracker(1 << 10)
	const streams, each = 8, 500
	var wg sync.WaitGroup
	for s := range streams {
		wg.Go(func() {
			key := "k" + strconv.Itoa(s)
			for seq := uint64(1); seq <= each; seq++ {
				if seq%10 == 5 {
					continue // lost
				}
				tr.observe("src", "p.a", key, seq)
				if seq%50 == 0 {
					tr.observe("src", "p.a", key, seq) // duplicated
				}
			}
		})
	}
	wg.Wait()
	perStream := int64(each - each/10)
	want := counts{received: streams * (perStream + each/50), duplicates: streams * each / 50,
		gaps: streams * each / 10, lost: streams * each / 10}
	if got := c.counts(); got != want {
		t.Fatalf("counts %+v, want %+v", got, want)
	}
	if len(l.snapshot()) != streams*each/10 {
		t.Fatalf("%d gaps reported, want %d", len(l.snapshot()), streams*each/10)
	}
}

// The publisher numbers each (subject, key) stream 1, 2, 3, …; beyond
// MaxStreams it starts a new source, so that subscribers take its
// restarted numbering for a new stream rather than duplicates.
func TestPublisherNumbering(t *testing.T) {
	p := &publisher{opts: &Options{ClientID: "c", MaxStreams: 2}, seqs: map[seqKey]uint64{}, start: "t0", src: "c@t0"}
	next := func(subject, key string) uint64 { return p.nextSeq(subject, key) }
	if a, b, c, d := next("s", ""), next("s", ""), next("s", "k"), next("s", ""); a != 1 || b != 2 || c != 1 || d != 3 {
		t.Fatalf("numbers %d %d %d %d, want 1 2 1 3", a, b, c, d)
	}
	if p.src != "c@t0" {
		t.Fatalf("source changed to %q within MaxStreams", p.src)
	}
	if n := next("t", ""); n != 1 || p.src == "c@t0" || !strings.HasPrefix(p.src, "c@t0") {
		t.Fatalf("a third stream got %d under source %q, want 1 under a new source", n, p.src)
	}
	src := p.src
	if n := next("s", ""); n != 1 || p.src != src {
		t.Fatalf("after the new source, stream s got %d (source %q), want 1 (%q)", n, p.src, src)
	}
}
