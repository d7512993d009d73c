// Package idlist keeps IDs in sorted slices: the secondary indexes that
// govkit's memory stores keep beside go-memdb (a unit's incidents, a
// body's work orders), where a memdb index would cost microseconds a
// write. UUIDv7 IDs arrive nearly in order, so inserts mostly append.
package idlist

import (
	"bytes"
	"slices"
	"sync"

	"github.com/google/uuid"
)

// Compare orders IDs bytewise, which for UUIDv7 is creation order.
func Compare(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) }

// Insert adds id to the sorted ids, once.
func Insert(ids []uuid.UUID, id uuid.UUID) []uuid.UUID {
	if len(ids) == 0 || Compare(ids[len(ids)-1], id) < 0 {
		return append(ids, id)
	}
	i, found := slices.BinarySearchFunc(ids, id, Compare)
	if found {
		return ids
	}
	return slices.Insert(ids, i, id)
}

// Remove takes id out of the sorted ids.
func Remove(ids []uuid.UUID, id uuid.UUID) []uuid.UUID {
	if i, found := slices.BinarySearchFunc(ids, id, Compare); found {
		return slices.Delete(ids, i, i+1)
	}
	return ids
}

// Chunk is how many IDs Walk copies per hold of the read lock.
const Chunk = 1024

// Walk calls visit with the IDs of list() that come after after, in
// order, Chunk at a time, each chunk copied while holding rl, so that a
// long read never keeps writers waiting for long and visit may take any
// lock it likes. It stops when visit returns false or the list ends.
func Walk(rl sync.Locker, list func() []uuid.UUID, after uuid.UUID, visit func(chunk []uuid.UUID) bool) {
	for {
		rl.Lock()
		ids := list()
		i, found := slices.BinarySearchFunc(ids, after, Compare)
		if found {
			i++
		}
		chunk := slices.Clone(ids[i:min(i+Chunk, len(ids))])
		rl.Unlock()
		if len(chunk) == 0 || !visit(chunk) {
			return
		}
		after = chunk[len(chunk)-1]
	}
}
