package dispatch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/internal/idlist"
)

func batchOrder(t *testing.T, caseID, body string) WorkOrder {
	t.Helper()
	id, err := uuid.NewV7()
	if err != nil {
		t.Fatal(err)
	}
	return WorkOrder{ID: id, Case: caseID, Body: body, Version: 1, Status: Offered,
		Offered: time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)}
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
// checked against the ones before them in it, and a failing one leaves
// the others and nothing of itself.
func TestBatchChangesSeeEachOther(t *testing.T) {
	ctx := context.Background()
	s := NewMemoryStore()
	o := batchOrder(t, "case-1", "jlp-urban")
	transferred := o.Clone()
	transferred.Version, transferred.Body = 2, "sqp-enforce"
	stale := o.Clone()
	stale.Version = 2
	cf := CaseFile{Case: "case-1", Orders: []uuid.UUID{o.ID}, Version: 1}
	msg := bus.Message{ID: "ev-1", Subject: "gov.dispatch.offered"}
	other := batchOrder(t, "case-2", "jlp-urban")

	errs := applyInOneBatch(t, s,
		Change{Orders: []WorkOrder{o}, Cases: []CaseFile{cf}, Events: []bus.Message{msg}},
		Change{Orders: []WorkOrder{transferred}},                       // sees o
		Change{Orders: []WorkOrder{stale}},                             // conflicts with the transfer
		Change{Cases: []CaseFile{cf}},                                  // case file created twice
		Change{Orders: []WorkOrder{other}, Events: []bus.Message{msg}}, // event taken
		Change{Cases: []CaseFile{{Version: 1}}},                        // no case ID
		Change{Orders: []WorkOrder{other}},
	)
	if errs[0] != nil || errs[1] != nil || !errors.Is(errs[2], ErrConflict) || !errors.Is(errs[3], ErrConflict) ||
		!errors.Is(errs[4], ErrConflict) || !errors.Is(errs[5], ErrInvalidCommand) || errs[6] != nil {
		t.Fatalf("errors %v", errs)
	}
	got, err := s.Order(ctx, o.ID)
	if err != nil || got.Version != 2 || got.Body != "sqp-enforce" {
		t.Fatalf("order = %+v, %v", got, err)
	}
	byBody := func(body string) []uuid.UUID {
		page, err := s.Orders(ctx, OrderQuery{Body: body})
		if err != nil {
			t.Fatal(err)
		}
		var ids []uuid.UUID
		for _, o := range page.Orders {
			ids = append(ids, o.ID)
		}
		return ids
	}
	if fmt.Sprint(byBody("jlp-urban")) != fmt.Sprint([]uuid.UUID{other.ID}) || fmt.Sprint(byBody("sqp-enforce")) != fmt.Sprint([]uuid.UUID{o.ID}) {
		t.Fatalf("by body: jlp-urban %v, sqp-enforce %v", byBody("jlp-urban"), byBody("sqp-enforce"))
	}
	if pending, _ := s.Pending(ctx, 10); len(pending) != 1 {
		t.Fatalf("outbox %v", pending)
	}
}

// TestOrdersOfABodyReadPastChunks pages a sparse filter through a body
// holding more orders than one read of its list copies.
func TestOrdersOfABodyReadPastChunks(t *testing.T) {
	ctx := context.Background()
	s := NewMemoryStore()
	const n = 2*idlist.Chunk + 100
	var want []uuid.UUID
	for i := range n {
		o := batchOrder(t, fmt.Sprintf("case-%d", i), "cq-water")
		if i%500 == 499 {
			o.Status = Done
			want = append(want, o.ID)
		}
		if err := s.Apply(ctx, Change{Orders: []WorkOrder{o}}); err != nil {
			t.Fatal(err)
		}
	}
	var got []uuid.UUID
	q := OrderQuery{Body: "cq-water", Statuses: []OrderStatus{Done}, Limit: 2}
	for pages := 0; ; pages++ {
		page, err := s.Orders(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Orders {
			got = append(got, o.ID)
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
		t.Fatalf("got %v, want %v", got, want)
	}
}
