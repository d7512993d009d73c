package sim

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/pii"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfigNormalize(t *testing.T) {
	for in, want := range map[int]int{1: 1, 8: 8, 25: 25, 26: 26, 27: 28, 1025: 1025} {
		c, err := Config{Streets: in}.normalize()
		require.NoError(t, err)
		assert.Equal(t, want, c.Streets, "%d streets", in)
		d, per := c.districts()
		assert.Equal(t, c.Streets, d*per)
		assert.LessOrEqual(t, per, 25)
	}
	for _, c := range []Config{{Streets: -1}, {Streets: MaxStreets + 1}, {Devices: -1}, {Hours: MaxHours + 1}, {RunID: string(make([]byte, 33))}} {
		_, err := c.normalize()
		assert.ErrorIs(t, err, ErrInvalidConfig, "%+v", c)
	}
}

func TestIDNumbersAreValid(t *testing.T) {
	born := time.Date(2026, 2, 27, 0, 0, 0, 0, CST)
	for seq := range 50 {
		_, err := pii.NewIDNumber(idNumber("500001", born, seq))
		require.NoError(t, err)
	}
}

func TestSchedulerOrder(t *testing.T) {
	s := newScheduler()
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, CST)
	var ran []string
	add := func(at time.Time, key string) {
		s.add(at, key, func(context.Context) error { ran = append(ran, key); return nil })
	}
	add(t0.Add(time.Minute), "b")
	add(t0, "z")
	add(t0.Add(time.Minute), "a")
	add(t0, "z") // a redelivered event schedules nothing twice
	for a, ok := s.next(t0.Add(time.Hour)); ok; a, ok = s.next(t0.Add(time.Hour)) {
		require.NoError(t, a.do(context.Background()))
	}
	assert.Equal(t, []string{"z", "a", "b"}, ran)
}

func TestIntake(t *testing.T) {
	mem, err := bus.NewMemory(bus.MemoryOptions{})
	require.NoError(t, err)
	defer mem.Close()
	in, err := NewIntake(Config{Streets: 2}, Backend{Bus: mem})
	require.NoError(t, err)
	defer in.Close()
	assert.Equal(t, 2*64, in.Grids())
	r := rand.New(rand.NewPCG(1, 2))
	for n := range int64(20) {
		orders, err := in.CreateAndRoute(context.Background(), in.NewReport(r, n))
		require.NoError(t, err)
		assert.Positive(t, orders)
	}
}
