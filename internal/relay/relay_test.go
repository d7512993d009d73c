package relay

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/internal/memoutbox"
)

type box struct {
	mu sync.Mutex
	o  memoutbox.Outbox
}

func (b *box) Pending(_ context.Context, limit int) ([]bus.Message, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.o.Pending(limit), nil
}

func (b *box) MarkPublished(_ context.Context, ids ...string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.o.MarkPublished(ids...)
	return nil
}

type pub struct {
	mu     sync.Mutex
	failAt string
	got    []string
}

func (p *pub) Publish(_ context.Context, m bus.Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if m.ID == p.failAt {
		return errors.New("broker down")
	}
	p.got = append(p.got, m.ID)
	return nil
}

func TestFlushInOrderAndStopsAtFailure(t *testing.T) {
	b := &box{}
	for _, id := range []string{"1", "2", "3", "4"} {
		b.o.Add(bus.Message{ID: id, Subject: "s"})
	}
	p := &pub{failAt: "3"}
	r := New(b, p)
	if err := r.Flush(context.Background()); err == nil {
		t.Fatal("no error from a failing publish")
	}
	if len(p.got) != 2 || b.o.Len() != 2 {
		t.Fatalf("published %v, %d left", p.got, b.o.Len())
	}
	p.failAt = ""
	if err := r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []string{"1", "2", "3", "4"}
	for i := range want {
		if p.got[i] != want[i] {
			t.Fatalf("order %v", p.got)
		}
	}
	if b.o.Len() != 0 {
		t.Fatal("outbox not emptied")
	}
}

func TestConcurrentFlushesPublishEverythingOnce(t *testing.T) {
	b := &box{}
	p := &pub{}
	r := New(b, p)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				b.mu.Lock()
				b.o.Add(bus.Message{ID: string(rune('a'+g)) + string(rune('0'+i%10)) + string(rune(i)), Subject: "s"})
				b.mu.Unlock()
				_ = r.Flush(context.Background())
			}
		}()
	}
	wg.Wait()
	_ = r.Flush(context.Background())
	seen := map[string]bool{}
	for _, id := range p.got {
		if seen[id] {
			t.Fatalf("%s published twice", id)
		}
		seen[id] = true
	}
	if len(seen) != 400 {
		t.Fatalf("published %d of 400", len(seen))
	}
}
