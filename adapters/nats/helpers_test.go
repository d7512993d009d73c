package nats_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/govkit/govkit/bus"
)

// recorder collects deliveries, safe for concurrent handlers.
type recorder struct {
	mu   sync.Mutex
	msgs []bus.Message
	ids  map[string]int
	more chan struct{}
}

func newRecorder() *recorder {
	return &recorder{ids: map[string]int{}, more: make(chan struct{}, 1)}
}

func (r *recorder) add(m bus.Message) {
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	r.ids[m.ID]++
	r.mu.Unlock()
	select {
	case r.more <- struct{}{}:
	default:
	}
}

func (r *recorder) handler(_ context.Context, m bus.Message) error {
	r.add(m)
	return nil
}

func (r *recorder) snapshot() []bus.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]bus.Message(nil), r.msgs...)
}

func (r *recorder) unique() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.ids)
}

// wait waits until n distinct messages have arrived.
func (r *recorder) wait(t *testing.T, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for r.unique() < n {
		select {
		case <-r.more:
		case <-deadline.C:
			t.Fatalf("received %d distinct messages, want %d", r.unique(), n)
		}
	}
}

func subscribe(t *testing.T, b bus.Subscriber, pattern, group string, h bus.Handler) bus.Subscription {
	t.Helper()
	s, err := b.Subscribe(context.Background(), pattern, group, h)
	if err != nil {
		t.Fatalf("Subscribe(%q, %q): %v", pattern, group, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func publish(t *testing.T, b bus.Publisher, m bus.Message) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Publish(ctx, m); err != nil {
		t.Fatalf("Publish(%s): %v", m.Subject, err)
	}
}
