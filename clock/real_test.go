package clock_test

import (
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/govkit/govkit/clock"
	"github.com/stretchr/testify/assert"
)

// TestReal runs in a synctest bubble, where the time package's clock is fake:
// the hour below passes instantly, and Real must be using that time package.
func TestReal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := clock.Real()
		start := c.Now()
		assert.Equal(t, time.Now(), start)

		var firedAt atomic.Pointer[time.Time]
		c.AfterFunc(time.Hour, func() {
			now := c.Now()
			firedAt.Store(&now)
		})
		var stoppedFired atomic.Bool
		stopped := c.AfterFunc(30*time.Minute, func() { stoppedFired.Store(true) })
		assert.True(t, stopped.Stop(), "Stop before the deadline reports true")

		time.Sleep(59 * time.Minute)
		synctest.Wait()
		assert.Nil(t, firedAt.Load(), "not due yet")

		time.Sleep(time.Minute)
		synctest.Wait()
		if assert.NotNil(t, firedAt.Load()) {
			assert.Equal(t, time.Hour, firedAt.Load().Sub(start))
		}
		assert.False(t, stoppedFired.Load())
		assert.Equal(t, time.Hour, c.Now().Sub(start))

		late := c.AfterFunc(time.Second, func() {})
		time.Sleep(2 * time.Second)
		synctest.Wait()
		assert.False(t, late.Stop(), "Stop after firing reports false")
	})
}
