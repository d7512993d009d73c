package incident

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/internal/idlist"
	"github.com/govkit/govkit/region"
)

func batchIncident(t *testing.T, grid string, key string) Incident {
	t.Helper()
	id, err := uuid.NewV7()
	if err != nil {
		t.Fatal(err)
	}
	inc := Incident{
		ID: id, Channel: GridMember, Category: "muck", Status: Registered, Version: 1,
		Location: Location{Point: geo.Point{Lat: 29.505, Lon: 106.512}},
		Times:    Times{Reported: time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)},
	}
	for n := 6; n <= len(grid); n += 3 {
		inc.Location.Path = append(inc.Location.Path, region.Code(grid[:n]))
	}
	if key != "" {
		inc.Keys = []string{key}
	}
	return inc
}

// applyInOneBatch applies changes from goroutines queued, in order, behind
// the store's writer, so that they share one memdb transaction.
func applyInOneBatch(t *testing.T, s *MemoryStore, changes ...Change) []error {
	t.Helper()
	s.writer.Lock()
	errs := make([]error, len(changes))
	var wg sync.WaitGroup
	for i, c := range changes {
		wg.Go(func() { errs[i] = s.Apply(context.Background(), c) })
		for deadline := time.Now().Add(5 * time.Second); s.writes.Waiting() != i+1; {
			if time.Now().After(deadline) {
				t.Fatalf("change %d never queued", i)
			}
			time.Sleep(time.Millisecond)
		}
	}
	s.writer.Unlock()
	wg.Wait()
	return errs
}

// TestBatchChangesSeeEachOther: changes that share a transaction are
// checked against the ones before them in it, exactly as if applied in
// turn, and a failing one leaves the others and nothing of itself.
func TestBatchChangesSeeEachOther(t *testing.T) {
	s := NewMemoryStore()
	a := batchIncident(t, "500107001002003", "hotline:1")
	sameKey := batchIncident(t, "500107001002003", "hotline:1")
	aV2 := a.Clone()
	aV2.Version, aV2.Status = 2, Dispatched
	staleA := a.Clone()
	staleA.Version = 2 // expects version 1, but the batch's update made it 2
	entry := Link(nil, Entry{Incident: a.ID, Action: "report", To: Registered})
	msg := bus.Message{ID: "ev-1", Subject: "gov.incident.reported"}
	b := batchIncident(t, "500108003002001", "hotline:2")

	errs := applyInOneBatch(t, s,
		Change{Create: []Incident{a}, Timeline: []Entry{entry}, Events: []bus.Message{msg}},
		Change{Create: []Incident{sameKey}},                       // key taken by a
		Change{Update: []Incident{aV2}},                           // sees a
		Change{Update: []Incident{staleA}},                        // conflicts with aV2
		Change{Create: []Incident{b}, Timeline: []Entry{entry}},   // entry taken by a
		Change{Create: []Incident{b}, Events: []bus.Message{msg}}, // event taken by a
		Change{Create: []Incident{b}, Events: []bus.Message{{ID: "ev-2", Subject: "s"}}},
	)

	var dup *DuplicateKeyError
	if errs[0] != nil || !errors.As(errs[1], &dup) || dup.Existing != a.ID || errs[2] != nil ||
		!errors.Is(errs[3], ErrConflict) || !errors.Is(errs[4], ErrConflict) || !errors.Is(errs[5], ErrConflict) || errs[6] != nil {
		t.Fatalf("errors %v", errs)
	}
	got, err := s.Get(context.Background(), a.ID)
	if err != nil || got.Version != 2 || got.Status != Dispatched {
		t.Fatalf("a = %+v, %v", got, err)
	}
	if _, err := s.Get(context.Background(), sameKey.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the refused create was stored: %v", err)
	}
	pending, _ := s.Pending(context.Background(), 10)
	if len(pending) != 2 || pending[0].ID != "ev-1" || pending[1].ID != "ev-2" {
		t.Fatalf("outbox %v", pending)
	}
	tl, _ := s.Timeline(context.Background(), a.ID)
	if tl2, _ := s.Timeline(context.Background(), b.ID); len(tl) != 1 || len(tl2) != 0 {
		t.Fatalf("timelines %d and %d entries", len(tl), len(tl2))
	}
	page, err := s.Find(context.Background(), Query{Within: "500108"})
	if err != nil || len(page.Incidents) != 1 || page.Incidents[0].ID != b.ID {
		t.Fatalf("Find in Nan'an = %v, %v", page.Incidents, err)
	}
}

// TestFindInUnitReadsPastChunks pages a sparse filter through a street
// holding more incidents than one read of the units index copies.
func TestFindInUnitReadsPastChunks(t *testing.T) {
	s := NewMemoryStore()
	const n = 2*idlist.Chunk + 100
	var want []uuid.UUID
	for i := range n {
		inc := batchIncident(t, fmt.Sprintf("500107001002%03d", i%9+1), "")
		if i%500 == 499 {
			inc.Status = Closed
			want = append(want, inc.ID)
		}
		if err := s.Apply(context.Background(), Change{Create: []Incident{inc}}); err != nil {
			t.Fatal(err)
		}
	}
	var got []uuid.UUID
	q := Query{Within: "500107001002", Statuses: []Status{Closed}, Limit: 2}
	for pages := 0; ; pages++ {
		page, err := s.Find(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, inc := range page.Incidents {
			got = append(got, inc.ID)
		}
		if page.Next == uuid.Nil {
			break
		}
		if pages > n {
			t.Fatal("paging does not end")
		}
		q.After = page.Next
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %d closed incidents %v, want %d %v", len(got), got, len(want), want)
	}
}

// TestPlaceIndexHoldsOpenCases: duplicate search reads only open cases, so
// closing a case takes it out of the place index and reopening puts it
// back; a change that creates and updates a case files its final state.
func TestPlaceIndexHoldsOpenCases(t *testing.T) {
	ctx := context.Background()
	s := NewMemoryStore()
	inc := batchIncident(t, "500107001002003", "")
	if err := s.Apply(ctx, Change{Create: []Incident{inc}}); err != nil {
		t.Fatal(err)
	}
	placed := func() int {
		s.mu.RLock()
		defer s.mu.RUnlock()
		n := 0
		for _, list := range s.nearby {
			n += len(list)
		}
		return n
	}
	if placed() != 1 {
		t.Fatalf("%d entries after create", placed())
	}
	closed := inc.Clone()
	closed.Version, closed.Status = 2, Closed
	if err := s.Apply(ctx, Change{Update: []Incident{closed}}); err != nil {
		t.Fatal(err)
	}
	if placed() != 0 {
		t.Fatalf("%d entries after close", placed())
	}
	reopened := closed.Clone()
	reopened.Version, reopened.Status = 3, InProgress
	if err := s.Apply(ctx, Change{Update: []Incident{reopened}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Nearby(ctx, NearbyQuery{Category: "muck", Center: inc.Location.Point, Meters: 10}); len(got) != 1 || placed() != 1 {
		t.Fatalf("after reopen: Nearby %d, %d entries", len(got), placed())
	}

	created := batchIncident(t, "500107001002003", "")
	rejected := created.Clone()
	rejected.Version, rejected.Status = 2, Rejected
	if err := s.Apply(ctx, Change{Create: []Incident{created}, Update: []Incident{rejected}}); err != nil {
		t.Fatal(err)
	}
	if placed() != 1 {
		t.Fatalf("a case created and rejected in one change is placed: %d entries", placed())
	}
}
