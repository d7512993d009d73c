package sensor

import (
	"cmp"
	"context"
	"iter"
	"math"
	"slices"
	"time"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/clock"
)

// BacktestOptions configures Engine.Backtest.
type BacktestOptions struct {
	// Until, if after the last reading, moves the simulated clock on to
	// it at the end, so that durations and heartbeat timeouts due by then
	// fire.
	Until time.Time
}

// BacktestReport is what a rule would have done over stored readings.
type BacktestReport struct {
	Rule string
	// From and To are the simulated clock at the first reading and at the
	// end.
	From, To time.Time
	// Readings counts the readings replayed; Late those the rule ignored
	// as older than one it had already seen for the device.
	Readings int
	Late     int64
	// Raised counts the alarms raised (bursts and storm alarms included).
	Raised int
	// Alarms are every alarm the rule would have raised (or left pending),
	// in the order opened, as they stood at To.
	Alarms []Alarm
	// Events are every change it would have published, in order
	// (pending and cancelled ones included).
	Events []AlarmEvent
}

// Backtest replays stored readings through a rule before it is enabled and
// reports the alarms it would have raised. It needs ActionBacktest on the
// rule (ResourceRule within its Scope.Grid).
//
// The replay runs on a private engine with a simulated clock over the
// engine's registry and options: the clock moves to each reading's
// Observed time (their Received time is taken to be the same), firing the
// timers due on the way, so durations, heartbeats, storm control and
// correlation behave as they would have live. Nothing is published and the
// live engine's rules, alarms and counters are untouched. Readings should
// come in observed-time order, as a history query returns them; one older
// than the device's last is treated as late. A missing-heartbeat rule
// watches every matching device from the first reading on, so devices
// with no readings in the replay raise their alarms too.
func (e *Engine) Backtest(ctx context.Context, rule Rule, readings iter.Seq[Reading], opts BacktestOptions) (BacktestReport, error) {
	r, err := e.compile(rule)
	if err != nil {
		return BacktestReport{}, err
	}
	if err := access.Check(ctx, e.az, ActionBacktest, ruleResource(&r.def)); err != nil {
		return BacktestReport{}, err
	}
	rep := BacktestReport{Rule: r.def.ID}
	var (
		sim *Engine
		clk *clock.Manual
	)
	one := make([]Reading, 1)
	for rd := range readings {
		if rep.Readings&4095 == 0 {
			if err := ctx.Err(); err != nil {
				if sim != nil {
					sim.Close()
				}
				return BacktestReport{}, err
			}
		}
		if rd.Observed.IsZero() {
			continue
		}
		if sim == nil {
			clk = clock.NewManual(rd.Observed)
			o := e.opts
			o.Authorizer, o.Logger, o.History, o.PublishPending = access.AllowAll(), nil, math.MaxInt32, true
			sim, err = NewEngine(e.reg, clk, nil, o)
			if err != nil {
				return BacktestReport{}, err
			}
			sim.record = func(ev AlarmEvent) { rep.Events = append(rep.Events, ev) }
			sim.mu.Lock()
			sim.install(r, rd.Observed.UnixNano())
			sim.mu.Unlock()
			rep.From = rd.Observed
		}
		if rd.Observed.After(clk.Now()) {
			_ = clk.Set(rd.Observed)
		}
		rd.Received = clk.Now()
		one[0] = rd
		sim.Observe(one)
		rep.Readings++
	}
	if sim == nil {
		return rep, nil
	}
	if opts.Until.After(clk.Now()) {
		_ = clk.Set(opts.Until)
	}
	rep.To = clk.Now()
	sim.mu.Lock()
	recs := make([]*alarmRec, 0, len(sim.byID))
	for _, rec := range sim.byID {
		recs = append(recs, rec)
	}
	rep.Late = sim.stats.Late
	sim.mu.Unlock()
	sim.Close()
	slices.SortFunc(recs, func(a, b *alarmRec) int { return cmp.Compare(a.seq, b.seq) })
	for _, rec := range recs {
		rep.Alarms = append(rep.Alarms, rec.a.clone())
		if !rec.a.Raised.IsZero() {
			rep.Raised++
		}
	}
	return rep, nil
}
