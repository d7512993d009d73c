package idlist

import (
	"slices"
	"sync"
	"testing"

	"github.com/google/uuid"
)

func ids(n int) []uuid.UUID {
	out := make([]uuid.UUID, n)
	for i := range out {
		out[i] = uuid.Must(uuid.NewV7())
	}
	slices.SortFunc(out, Compare)
	return out
}

func TestInsertRemove(t *testing.T) {
	all := ids(6)
	var l []uuid.UUID
	for _, i := range []int{0, 2, 5, 1, 4, 3, 2} { // out of order, one twice
		l = Insert(l, all[i])
	}
	if !slices.Equal(l, all) {
		t.Fatalf("insert: %v, want %v", l, all)
	}
	l = Remove(l, all[3])
	l = Remove(l, uuid.Must(uuid.NewV7())) // absent
	if want := append(slices.Clone(all[:3]), all[4:]...); !slices.Equal(l, want) {
		t.Fatalf("remove: %v, want %v", l, want)
	}
}

func TestWalkReadsPastChunksAndStops(t *testing.T) {
	all := ids(2*Chunk + 7)
	var mu sync.RWMutex
	list := func() []uuid.UUID { return all }
	var got []uuid.UUID
	calls := 0
	Walk(mu.RLocker(), list, uuid.Nil, func(c []uuid.UUID) bool {
		calls++
		got = append(got, c...)
		return true
	})
	if calls != 3 || !slices.Equal(got, all) {
		t.Fatalf("%d chunks, %d IDs; want 3 and %d", calls, len(got), len(all))
	}
	got = nil
	Walk(mu.RLocker(), list, all[10], func(c []uuid.UUID) bool {
		got = append(got, c...)
		return false
	})
	if len(got) != Chunk || got[0] != all[11] {
		t.Fatalf("after all[10], stopping after one chunk: %d IDs from %v", len(got), got[0])
	}
}
