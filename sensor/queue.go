package sensor

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/bus"
)

// Lanes of the queue: the priority lane is always served first.
const (
	ingestLanePriority = 0
	ingestLaneBulk     = 1
)

// ingestLane is a FIFO of queued batches, bounded in readings.
type ingestLane struct {
	items []*[]Reading
	head  int
	n     int // readings queued
}

func (l *ingestLane) push(b *[]Reading) {
	if l.head > 0 && l.head == len(l.items) {
		l.items, l.head = l.items[:0], 0
	} else if l.head > 64 && l.head > len(l.items)/2 {
		k := copy(l.items, l.items[l.head:])
		clear(l.items[k:])
		l.items, l.head = l.items[:k], 0
	}
	l.items = append(l.items, b)
	l.n += len(*b)
}

func (l *ingestLane) pop() *[]Reading {
	if l.head == len(l.items) {
		return nil
	}
	b := l.items[l.head]
	l.items[l.head] = nil
	l.head++
	l.n -= len(*b)
	return b
}

// ingestQueue is Submit's bounded buffer: two lanes of at most capacity
// readings each, served by the ingester's workers.
type ingestQueue struct {
	mu       sync.Mutex
	lanes    [2]ingestLane
	capacity int
	pending  int // readings queued or being ingested
	closed   bool
	aborted  bool
	work     sync.Cond     // a batch was queued, or the queue closed
	room     chan struct{} // closed when room is freed, if roomWait > 0
	roomWait int
	idle     chan struct{} // closed when pending reaches 0, if idleWait > 0
	idleWait int
	workers  sync.WaitGroup
	ctx      context.Context // cancelled when Close gives up
	cancel   context.CancelFunc
	npending atomic.Int64 // pending, for Stats
}

func (q *ingestQueue) init(capacity int) {
	q.capacity = capacity
	q.work.L = &q.mu
	q.room = make(chan struct{})
	q.idle = make(chan struct{})
	q.ctx, q.cancel = context.WithCancel(context.Background())
}

func (q *ingestQueue) pendingCount() int64 { return q.npending.Load() }

// wakeRoom tells blocked submitters that room was freed. The caller holds
// q.mu.
func (q *ingestQueue) wakeRoom() {
	if q.roomWait > 0 {
		close(q.room)
		q.room = make(chan struct{})
		q.roomWait = 0
	}
}

// finished records that n readings left the queue for good. The caller
// holds q.mu.
func (q *ingestQueue) finished(n int) {
	q.pending -= n
	q.npending.Store(int64(q.pending))
	if q.pending == 0 && q.idleWait > 0 {
		close(q.idle)
		q.idle = make(chan struct{})
		q.idleWait = 0
	}
}

// Submit queues a copy of batch for the ingester's workers and returns;
// they ingest it as Ingest does, several queued batches at a time (see
// MaxBatch), retrying a failing sink with backoff.
// Readings of the resources named in IngestOptions.Priority go to the
// priority lane, which the workers empty before taking bulk telemetry;
// the rest to the bulk lane. Order is kept within a lane; across lanes and
// workers it is not, which the event-time rules make harmless.
//
// When a lane is full, the IngestOptions.Overload policy applies to the
// whole batch (ctx only bounds waiting): bus.Block waits for room until
// ctx ends, bus.Reject returns bus.ErrOverloaded at once, bus.DropOldest
// discards the oldest queued bulk batches to make room (counted in
// Stats().Dropped) but waits for room in the priority lane. A refused batch is counted in
// Stats().Overloaded and nothing of it is queued. A batch larger than
// QueueSize is refused with ErrBatchTooLarge; after Close, Submit returns
// ErrClosed.
func (in *Ingester) Submit(ctx context.Context, batch []Reading) error {
	if err := access.Check(ctx, in.opts.Authorizer, ActionIngest, access.Resource{Kind: ResourceReadings, Jurisdiction: in.opts.Area}); err != nil {
		return err
	}
	return in.submit(ctx, batch)
}

// submit is Submit once the source was authorized.
func (in *Ingester) submit(ctx context.Context, batch []Reading) error {
	if len(batch) == 0 {
		return nil
	}
	if len(batch) > in.q.capacity {
		return fmt.Errorf("%w: %d readings; a lane holds %d", ErrBatchTooLarge, len(batch), in.q.capacity)
	}
	in.start.Do(in.startWorkers)
	prio, bulk := in.split(batch)
	err := in.q.push(ctx, prio, bulk, in.opts.Overload, &in.dropped, in)
	if err != nil {
		in.overloaded.Add(int64(len(batch)))
		if prio != nil {
			in.putBuf(prio)
		}
		if bulk != nil {
			in.putBuf(bulk)
		}
		return err
	}
	in.counters().submitted.Add(int64(len(batch)))
	return nil
}

// split copies batch into a priority and a bulk buffer; either is nil when
// it would be empty.
func (in *Ingester) split(batch []Reading) (prio, bulk *[]Reading) {
	if len(in.opts.Priority) == 0 {
		bulk = in.getBuf(len(batch))
		*bulk = append(*bulk, batch...)
		return nil, bulk
	}
	reg := in.reg
	reg.mu.RLock()
	masks := in.prioMasks()
	isPrio := func(r *Reading) bool {
		if int(r.Device) >= len(reg.profile) || r.Resource >= 64 {
			return false
		}
		pi := reg.profile[r.Device]
		return int(pi) < len(masks) && masks[pi]&(1<<r.Resource) != 0
	}
	np := 0
	for i := range batch {
		if isPrio(&batch[i]) {
			np++
		}
	}
	switch np {
	case 0:
		bulk = in.getBuf(len(batch))
		*bulk = append(*bulk, batch...)
	case len(batch):
		prio = in.getBuf(len(batch))
		*prio = append(*prio, batch...)
	default:
		prio, bulk = in.getBuf(np), in.getBuf(len(batch)-np)
		for i := range batch {
			if isPrio(&batch[i]) {
				*prio = append(*prio, batch[i])
			} else {
				*bulk = append(*bulk, batch[i])
			}
		}
	}
	reg.mu.RUnlock()
	return prio, bulk
}

// prioMasks returns, per profile index, the bit mask of the profile's
// priority resources. The caller holds in.reg.mu for reading.
func (in *Ingester) prioMasks() []uint64 {
	if p := in.prio.Load(); p != nil && len(*p) == len(in.reg.profiles) {
		return *p
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	masks := make([]uint64, len(in.reg.profiles))
	for i, p := range in.reg.profiles {
		for j, r := range p.Resources {
			for _, name := range in.opts.Priority {
				if r.Name == name {
					masks[i] |= 1 << j
				}
			}
		}
	}
	in.prio.Store(&masks)
	return masks
}

// push queues prio and bulk (either may be nil) under the overload
// policy, all or nothing.
func (q *ingestQueue) push(ctx context.Context, prio, bulk *[]Reading, policy bus.Overload, dropped *atomic.Int64, in *Ingester) error {
	np, nb := 0, 0
	if prio != nil {
		np = len(*prio)
	}
	if bulk != nil {
		nb = len(*bulk)
	}
	q.mu.Lock()
	for {
		if q.closed {
			q.mu.Unlock()
			return ErrClosed
		}
		fitsP := np == 0 || q.lanes[ingestLanePriority].n+np <= q.capacity
		fitsB := nb == 0 || q.lanes[ingestLaneBulk].n+nb <= q.capacity
		if policy == bus.DropOldest && fitsP && !fitsB {
			l := &q.lanes[ingestLaneBulk]
			for l.n+nb > q.capacity {
				old := l.pop()
				dropped.Add(int64(len(*old)))
				q.finished(len(*old))
				in.putBuf(old)
			}
			fitsB = true
		}
		if fitsP && fitsB {
			break
		}
		if policy == bus.Reject {
			q.mu.Unlock()
			return bus.ErrOverloaded
		}
		ch := q.room
		q.roomWait++
		q.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
		q.mu.Lock()
	}
	if prio != nil {
		q.lanes[ingestLanePriority].push(prio)
	}
	if bulk != nil {
		q.lanes[ingestLaneBulk].push(bulk)
	}
	q.pending += np + nb
	q.npending.Store(int64(q.pending))
	q.work.Broadcast()
	q.mu.Unlock()
	return nil
}

// pop waits for queued batches and appends to dst those a worker takes
// at once: from the priority lane if it has any, else from the bulk lane;
// as many as fit in max readings, and at least one. It returns dst
// unchanged once the queue is closed and empty, or aborted.
func (q *ingestQueue) pop(max int, dst []*[]Reading) []*[]Reading {
	q.mu.Lock()
	defer q.mu.Unlock()
	for {
		if q.aborted {
			return dst
		}
		for i := range q.lanes {
			l := &q.lanes[i]
			if l.head == len(l.items) {
				continue
			}
			n := 0
			for l.head < len(l.items) && (n == 0 || n+len(*l.items[l.head]) <= max) {
				b := l.pop()
				n += len(*b)
				dst = append(dst, b)
			}
			q.wakeRoom()
			return dst
		}
		if q.closed {
			return dst
		}
		q.work.Wait()
	}
}

func (in *Ingester) startWorkers() {
	in.q.workers.Add(in.opts.Workers)
	for range in.opts.Workers {
		go in.work()
	}
}

// work is one worker: it ingests queued batches until the queue closes.
func (in *Ingester) work() {
	defer in.q.workers.Done()
	q := &in.q
	var taken []*[]Reading
	for {
		taken = q.pop(in.opts.MaxBatch, taken[:0])
		if len(taken) == 0 {
			return
		}
		// Several small batches (one per bus message, say) are ingested
		// as one, so that the sink writes fewer, larger batches.
		batch := taken[0]
		if len(taken) > 1 {
			n := 0
			for _, b := range taken {
				n += len(*b)
			}
			batch = in.getBuf(n)
			for _, b := range taken {
				*batch = append(*batch, *b...)
				in.putBuf(b)
			}
		}
		clear(taken)
		n := len(*batch)
		out := in.getBuf(n)
		acc, res := in.apply(*batch, *out, false)
		wait := in.opts.SinkBackoff
		for {
			err := in.deliver(q.ctx, acc, res.Late)
			if err == nil {
				break
			}
			in.log("sensor: queued batch: sink failed; retrying", "readings", len(acc), "backoff", wait, "err", err)
			t := time.NewTimer(wait)
			select {
			case <-t.C:
				wait = min(2*wait, 10*time.Second)
				continue
			case <-q.ctx.Done():
				t.Stop()
				in.forget(acc)
				in.dropped.Add(int64(len(acc)))
			}
			break
		}
		*out = acc
		in.putBuf(out)
		in.putBuf(batch)
		q.mu.Lock()
		q.finished(n)
		q.mu.Unlock()
	}
}

// Drain waits until every batch Submit has queued so far has been
// ingested (or dropped under DropOldest), or ctx ends. Stop submitting
// first for Drain to finish under load.
func (in *Ingester) Drain(ctx context.Context) error {
	q := &in.q
	q.mu.Lock()
	for q.pending > 0 {
		ch := q.idle
		q.idleWait++
		q.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			q.mu.Lock()
			n := q.pending
			q.mu.Unlock()
			return fmt.Errorf("sensor: drain: %d readings pending: %w", n, ctx.Err())
		}
		q.mu.Lock()
	}
	q.mu.Unlock()
	return nil
}

// Close stops Submit (it returns ErrClosed from now on, and a Submit
// waiting for room is woken with it), lets the workers ingest everything
// already queued, and stops them. If ctx ends first, the readings still
// queued, and those whose sink write is being retried, are discarded and
// counted in Stats().Dropped, and Close returns ctx's error. Ingest keeps
// working after Close. A second Close returns ErrClosed.
func (in *Ingester) Close(ctx context.Context) error {
	q := &in.q
	in.start.Do(func() {}) // no worker starts after this
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return ErrClosed
	}
	q.closed = true
	close(q.room) // every waiting Submit sees closed
	q.room = make(chan struct{})
	q.roomWait = 0
	q.work.Broadcast()
	q.mu.Unlock()

	done := make(chan struct{})
	go func() {
		q.workers.Wait()
		close(done)
	}()
	select {
	case <-done:
		q.cancel()
		return nil
	case <-ctx.Done():
	}
	q.mu.Lock()
	q.aborted = true
	for i := range q.lanes {
		for b := q.lanes[i].pop(); b != nil; b = q.lanes[i].pop() {
			in.dropped.Add(int64(len(*b)))
			q.finished(len(*b))
		}
	}
	q.work.Broadcast()
	q.mu.Unlock()
	q.cancel()
	<-done
	return fmt.Errorf("sensor: close: %w", ctx.Err())
}
