// Command district simulates a day in a district on govkit's embedded
// defaults — go-memdb stores and the in-process bus, no server — and
// prints the governance indicators of each street.
//
// The world is generated but realistic: a grid hierarchy (streets of 8
// communities of 8 grids), thousands of sensing devices, risk points,
// responders of the district's bureaus and the streets' teams, rental
// rooms with listing codes, and citizens. Over the day the packages work
// together through bus events: sensor alarms open incidents; registered
// incidents are routed by dispatch across the district and street tiers
// and handled by the nearest free responders; the grid member verifies
// and the case closes; hazardous cases raise the risk points around them;
// citizens apply for one-thing bundles, and a completed rental-room bundle
// gets its listing code, which verified noise complaints then cost points.
// See package sim for the details.
//
//	go run ./examples/district                      # a district of 8 streets, one day: seconds
//	go run ./examples/district -seed 7 -hours 72    # another world, three days
//	go run ./examples/district -streets 1025 -devices 14000000 -citizens 32000000 -hours 1
//
// The last is Chongqing's size (41 districts, 65,600 grids): an hour of it
// ingests some 200 million readings, in about three minutes and 9 GB on
// two cores. Beyond 30 streets the table sums the streets per district.
//
// The same wiring runs on PostgreSQL and NATS JetStream in
// examples/production.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/examples/district/sim"
)

func main() {
	cfg := sim.Defaults()
	flag.IntVar(&cfg.Streets, "streets", cfg.Streets, "streets (grouped into districts of up to 25; 1025 is Chongqing)")
	flag.IntVar(&cfg.Devices, "devices", cfg.Devices, "sensing devices")
	flag.IntVar(&cfg.Citizens, "citizens", cfg.Citizens, "citizens")
	flag.IntVar(&cfg.Hours, "hours", cfg.Hours, "simulated hours")
	flag.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "seed of the world and the day")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if _, err := run(ctx, config{Config: cfg, Terminal: isTerminal(os.Stdout)}, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "district:", err)
		os.Exit(1)
	}
}

// config is the simulation's configuration and how to show progress.
type config struct {
	sim.Config
	// Terminal redraws one progress line with \r; otherwise a line is
	// printed every two simulated hours.
	Terminal bool
}

// Summary is what a run produces.
type Summary = sim.Summary

// run simulates the day on the embedded defaults, printing progress and
// the summary to out.
func run(ctx context.Context, cfg config, out io.Writer) (Summary, error) {
	mem, err := bus.NewMemory(bus.MemoryOptions{Buffer: 1 << 15})
	if err != nil {
		return Summary{}, err
	}
	defer mem.Close()
	back := sim.MemoryBackend(mem) // the packages' in-memory stores

	c := cfg.Config
	fmt.Fprintf(out, "govkit district demo: %d streets, %d devices, %d citizens, %d hours from %s (seed %d)\n",
		c.Streets, c.Devices, c.Citizens, c.Hours, c.Start.Format("Mon 2 Jan 2006 15:04 MST"), c.Seed)
	var last time.Time
	calls := 0
	progress := func(p sim.Progress) { // every ten simulated minutes
		line := p.String()
		switch {
		case cfg.Terminal:
			if time.Since(last) > 100*time.Millisecond || p.Done >= 1 {
				fmt.Fprintf(out, "\r%-100s", line)
				last = time.Now()
			}
		case calls%12 == 0 || p.Done >= 1: // every two simulated hours
			fmt.Fprintln(out, line)
		}
		calls++
	}
	sum, err := sim.Run(ctx, cfg.Config, back, progress)
	if cfg.Terminal {
		fmt.Fprintln(out)
	}
	if err != nil {
		return sum, err
	}
	sum.WriteTable(out)
	return sum, nil
}

// isTerminal reports whether f is a character device, such as a terminal.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
