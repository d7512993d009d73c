package bus_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/bus/bustest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newMemory(t testing.TB, opts bus.MemoryOptions) *bus.Memory {
	t.Helper()
	b, err := bus.NewMemory(opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func TestMemoryConformance(t *testing.T) {
	bustest.Run(t, bustest.Harness{
		New: func(t *testing.T) bus.Bus {
			b, err := bus.NewMemory(bus.MemoryOptions{Backoff: 5 * time.Millisecond})
			require.NoError(t, err)
			return b
		},
	})
}

func TestNewMemoryRejectsBadOptions(t *testing.T) {
	for _, o := range []bus.MemoryOptions{{Buffer: -1}, {Partitions: -1}, {Backoff: -1}, {Overload: 7}} {
		_, err := bus.NewMemory(o)
		assert.Error(t, err, "%+v", o)
	}
}

// blocked subscribes a handler that holds every message until release is
// closed, so that lanes fill up.
func blocked(t *testing.T, b *bus.Memory, pattern string) (release func(), seen *atomic.Int64) {
	gate := make(chan struct{})
	seen = &atomic.Int64{}
	_, err := b.Subscribe(context.Background(), pattern, "slow", func(ctx context.Context, m bus.Message) error {
		seen.Add(1)
		<-gate
		return nil
	})
	require.NoError(t, err)
	var once sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	t.Cleanup(release)
	return release, seen
}

func TestRejectIsAllOrNothing(t *testing.T) {
	b := newMemory(t, bus.MemoryOptions{Buffer: 2, Partitions: 1, Overload: bus.Reject})
	release, seen := blocked(t, b, "a.>")
	fast := &atomic.Int64{}
	_, err := b.Subscribe(context.Background(), "a.b", "fast", func(context.Context, bus.Message) error {
		fast.Add(1)
		return nil
	})
	require.NoError(t, err)

	ctx := context.Background()
	// One message in the slow handler, two queued: the slow lane is full.
	// The fast group takes each message before the next is published, so
	// that only the slow lane can be full however the goroutines run.
	publish := func(n int64) {
		t.Helper()
		require.NoError(t, b.Publish(ctx, bus.NewMessage("a.b", nil)))
		require.Eventually(t, func() bool { return fast.Load() == n }, 5*time.Second, time.Millisecond)
	}
	publish(1)
	require.Eventually(t, func() bool { return seen.Load() == 1 }, 5*time.Second, time.Millisecond)
	publish(2)
	publish(3)
	err = b.Publish(ctx, bus.NewMessage("a.b", nil))
	require.ErrorIs(t, err, bus.ErrOverloaded)
	time.Sleep(20 * time.Millisecond)
	assert.Equal(t, int64(3), fast.Load(), "the fast group must not see the rejected message")
	st := b.Stats()
	assert.Equal(t, int64(1), st.Rejected)
	assert.Equal(t, int64(3), st.Published)
	release()
	require.NoError(t, b.Drain(ctxTimeout(t)))
}

func TestBlockWaitsForRoomOrContext(t *testing.T) {
	b := newMemory(t, bus.MemoryOptions{Buffer: 1, Partitions: 1})
	release, seen := blocked(t, b, "a")
	require.NoError(t, b.Publish(context.Background(), bus.NewMessage("a", nil)))
	require.Eventually(t, func() bool { return seen.Load() == 1 }, time.Second, time.Millisecond)
	require.NoError(t, b.Publish(context.Background(), bus.NewMessage("a", nil))) // fills the lane

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	err := b.Publish(ctx, bus.NewMessage("a", nil))
	require.ErrorIs(t, err, context.DeadlineExceeded)

	done := make(chan error, 1)
	go func() { done <- b.Publish(context.Background(), bus.NewMessage("a", nil)) }()
	select {
	case err := <-done:
		t.Fatalf("Publish returned %v while the lane was full", err)
	case <-time.After(30 * time.Millisecond):
	}
	release()
	require.NoError(t, <-done)
	require.NoError(t, b.Drain(ctxTimeout(t)))
	assert.Equal(t, int64(3), b.Stats().Acked)
}

func TestDropOldestBoundsMemory(t *testing.T) {
	b := newMemory(t, bus.MemoryOptions{Buffer: 4, Partitions: 1, Overload: bus.DropOldest})
	release, seen := blocked(t, b, "t")
	require.NoError(t, b.Publish(context.Background(), bus.NewMessage("t", []byte("first"))))
	require.Eventually(t, func() bool { return seen.Load() == 1 }, time.Second, time.Millisecond)
	for range 100 {
		require.NoError(t, b.Publish(context.Background(), bus.NewMessage("t", nil)))
	}
	st := b.Stats()
	assert.Equal(t, int64(96), st.Dropped)
	assert.Equal(t, int64(5), st.Pending, "one in flight and a full lane of four")
	release()
	require.NoError(t, b.Drain(ctxTimeout(t)))
	assert.Equal(t, int64(5), b.Stats().Acked)
}

func TestPanicIsRedelivered(t *testing.T) {
	b := newMemory(t, bus.MemoryOptions{Backoff: time.Millisecond})
	var calls atomic.Int64
	_, err := b.Subscribe(context.Background(), "p", "g", func(ctx context.Context, m bus.Message) error {
		if calls.Add(1) == 1 {
			panic("boom")
		}
		return nil
	})
	require.NoError(t, err)
	require.NoError(t, b.Publish(context.Background(), bus.NewMessage("p", nil)))
	require.NoError(t, b.Drain(ctxTimeout(t)))
	st := b.Stats()
	assert.Equal(t, int64(1), st.Panics)
	assert.Equal(t, int64(2), st.Delivered)
	assert.Equal(t, int64(1), st.Acked)
}

func TestPublishCopiesMessage(t *testing.T) {
	b := newMemory(t, bus.MemoryOptions{})
	got := make(chan bus.Message, 1)
	_, err := b.Subscribe(context.Background(), "c", "g", func(ctx context.Context, m bus.Message) error {
		got <- m
		return nil
	})
	require.NoError(t, err)
	m := bus.NewMessage("c", []byte("abc"))
	m.Headers = map[string]string{"h": "1"}
	// Mutate after Publish returns; the handler must see the original.
	require.NoError(t, b.Publish(context.Background(), m))
	m.Data[0] = 'X'
	m.Headers["h"] = "2"
	d := <-got
	assert.Equal(t, "abc", string(d.Data))
	assert.Equal(t, "1", d.Headers["h"])
}

func TestDrainTimesOut(t *testing.T) {
	b := newMemory(t, bus.MemoryOptions{})
	_, _ = blocked(t, b, "d")
	require.NoError(t, b.Publish(context.Background(), bus.NewMessage("d", nil)))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err := b.Drain(ctx)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "1 messages pending")
}

func TestSubscribeRejectsNilHandlerAndDoneContext(t *testing.T) {
	b := newMemory(t, bus.MemoryOptions{})
	_, err := b.Subscribe(context.Background(), "a", "g", nil)
	assert.Error(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = b.Subscribe(ctx, "a", "g", func(context.Context, bus.Message) error { return nil })
	assert.ErrorIs(t, err, context.Canceled)
	s, err := b.Subscribe(context.Background(), "a", "g", func(context.Context, bus.Message) error { return nil })
	require.NoError(t, err)
	require.NoError(t, s.Close())
	assert.ErrorIs(t, s.Close(), bus.ErrClosed)
}

func TestRetryMiddleware(t *testing.T) {
	var calls int
	h := bus.Chain(func(ctx context.Context, m bus.Message) error {
		calls++
		if calls < 3 {
			return errors.New("transient")
		}
		return nil
	}, bus.Retry(3, time.Millisecond))
	require.NoError(t, h(context.Background(), bus.Message{}))
	assert.Equal(t, 3, calls)

	calls = 0
	h = bus.Retry(2, time.Millisecond)(func(context.Context, bus.Message) error { calls++; return errors.New("down") })
	assert.EqualError(t, h(context.Background(), bus.Message{}), "down")
	assert.Equal(t, 2, calls)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	h = bus.Retry(5, time.Hour)(func(context.Context, bus.Message) error { return errors.New("down") })
	assert.ErrorIs(t, h(ctx, bus.Message{}), context.Canceled)
}

func TestDeadLetterAfterMaxAttempts(t *testing.T) {
	b := newMemory(t, bus.MemoryOptions{Backoff: time.Millisecond})
	dead := make(chan bus.Message, 1)
	_, err := b.Subscribe(context.Background(), "dlq.incident", "ops", func(ctx context.Context, m bus.Message) error {
		dead <- m
		return nil
	})
	require.NoError(t, err)
	var attempts atomic.Int64
	failing := func(ctx context.Context, m bus.Message) error {
		attempts.Add(1)
		return errors.New("unknown category")
	}
	_, err = b.Subscribe(context.Background(), "incident.reported", "router",
		bus.Chain(failing, bus.DeadLetter(b, "dlq.incident", 3)))
	require.NoError(t, err)

	m := bus.NewMessage("incident.reported", []byte("x"))
	m.Headers = map[string]string{"trace": "t1"}
	require.NoError(t, b.Publish(context.Background(), m))
	d := <-dead
	require.NoError(t, b.Drain(ctxTimeout(t)))
	assert.Equal(t, int64(3), attempts.Load())
	assert.Equal(t, m.ID, d.ID)
	assert.Equal(t, "incident.reported", d.Headers[bus.HeaderDeadLetterSubject])
	assert.Equal(t, "unknown category", d.Headers[bus.HeaderDeadLetterError])
	assert.Equal(t, "3", d.Headers[bus.HeaderDeadLetterAttempts])
	assert.Equal(t, "t1", d.Headers["trace"])
}

func TestDeadLetterKeepsMessageWhenPublishFails(t *testing.T) {
	failing := func(context.Context, bus.Message) error { return errors.New("handler") }
	pub := publisherFunc(func(context.Context, bus.Message) error { return errors.New("dlq down") })
	h := bus.DeadLetter(pub, "dlq", 1)(failing)
	err := h(context.Background(), bus.Message{Subject: "a", Attempt: 1})
	require.Error(t, err, "the message must be redelivered, not dropped")
	assert.Contains(t, err.Error(), "dlq down")
}

type publisherFunc func(context.Context, bus.Message) error

func (f publisherFunc) Publish(ctx context.Context, m bus.Message) error { return f(ctx, m) }

func ctxTimeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}
