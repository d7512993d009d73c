// Package memoutbox is the outbox of govkit's in-memory stores: events
// written with a state change and kept, in commit order, until the bus has
// accepted them. Callers guard it with the lock they hold for the state
// change, which is what makes the two atomic.
package memoutbox

import (
	"maps"
	"slices"

	"github.com/govkit/govkit/bus"
)

// Outbox is a list of events in commit order. The zero value is empty and
// ready; it is not safe for concurrent use on its own.
type Outbox struct {
	items   []item // published items leave from the front
	at      map[string]int
	dropped int // items that left the front, to turn at into indexes
}

type item struct {
	msg  bus.Message
	done bool
}

// Has reports whether an event with id is waiting.
func (o *Outbox) Has(id string) bool {
	_, ok := o.at[id]
	return ok
}

// Add appends copies of msgs.
func (o *Outbox) Add(msgs ...bus.Message) {
	if o.at == nil {
		o.at = map[string]int{}
	}
	for _, m := range msgs {
		o.at[m.ID] = o.dropped + len(o.items)
		o.items = append(o.items, item{msg: Clone(m)})
	}
}

// Pending returns copies of up to limit waiting events, oldest first.
func (o *Outbox) Pending(limit int) []bus.Message {
	var out []bus.Message
	for i := 0; i < len(o.items) && len(out) < limit; i++ {
		if !o.items[i].done {
			out = append(out, Clone(o.items[i].msg))
		}
	}
	return out
}

// MarkPublished forgets the events with the given IDs; unknown IDs are
// ignored.
func (o *Outbox) MarkPublished(ids ...string) {
	for _, id := range ids {
		if at, ok := o.at[id]; ok {
			o.items[at-o.dropped].done = true
			delete(o.at, id)
		}
	}
	n := 0
	for n < len(o.items) && o.items[n].done {
		n++
	}
	if n > 0 {
		clear(o.items[:n]) // let the messages be collected
		o.items = o.items[n:]
		o.dropped += n
	}
}

// Len returns how many events are waiting.
func (o *Outbox) Len() int { return len(o.at) }

// Clone returns a copy of m sharing no maps or slices.
func Clone(m bus.Message) bus.Message {
	m.Headers = maps.Clone(m.Headers)
	m.Data = slices.Clone(m.Data)
	return m
}
