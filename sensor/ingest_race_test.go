//go:build race

package sensor_test

// ingRace reports a -race build, where sync.Pool drops items at random and
// allocation counts mean nothing.
const ingRace = true
