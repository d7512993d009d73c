package main

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/clock"
	"github.com/govkit/govkit/dispatch"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/region"
)

// centre is a command centre's screen: subscribed to its own subtree of
// the bus, it keeps the dispatch events it receives.
type centre struct {
	name string
	log  *logger
	mu   sync.Mutex
	seen []dispatch.OrderEvent
}

func (c *centre) handle(_ context.Context, m bus.Message) error {
	if m.Headers["govkit-kind"] != "dispatch" {
		return nil // incident events of the case share Banan's subtree
	}
	e, err := dispatch.DecodeEvent(m)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.seen = append(c.seen, e)
	c.mu.Unlock()
	if e.Event == dispatch.EventOffered {
		c.log.printf("  %s: work for %s, done by %s", c.name, e.Body, e.Deadline.In(cst).Format("01-02 15:04"))
	}
	return nil
}

func (c *centre) events() []dispatch.OrderEvent {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]dispatch.OrderEvent(nil), c.seen...)
}

// logger serialises output from the main goroutine and the subscribers,
// and keeps the first error a subscriber met.
type logger struct {
	out io.Writer
	mu  sync.Mutex
	err error
}

func (l *logger) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.out, format+"\n", args...)
}

// handler acknowledges every message and records the first failure, so
// that run stops with it instead of waiting for redeliveries.
func (l *logger) handler(h bus.Handler) bus.Handler {
	return func(ctx context.Context, m bus.Message) (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("panic: %v", p)
			}
			if err != nil {
				l.mu.Lock()
				if l.err == nil {
					l.err = fmt.Errorf("handling %s: %w", m.Subject, err)
				}
				l.mu.Unlock()
			}
			err = nil
		}()
		return h(ctx, m)
	}
}

func (l *logger) failure() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

func stamp(clk clock.Clock) string { return clk.Now().In(cst).Format("01-02 15:04") }

// world is the part of Chongqing the scenario needs: one grid in Banan's
// Lijiatuo street, where the camera is, and one in Jiulongpo's Shiqiaopu
// street, where the site is.
func world() (*region.Hierarchy, error) {
	grid := func(code, name string, lat, lon float64) region.Unit {
		box := geo.BBox{MinLat: lat, MinLon: lon, MaxLat: lat + 0.01, MaxLon: lon + 0.01}
		return region.Unit{Code: region.Code(code), Name: name, Parent: region.Code(code[:12]), Boundary: geo.MultiPolygon{box.Rect()}}
	}
	return region.New([]region.Unit{
		{Code: "500000", Name: "重庆市 Chongqing"},
		{Code: "500107", Name: "九龙坡区 Jiulongpo", Parent: "500000"},
		{Code: "500107001", Name: "石桥铺街道 Shiqiaopu", Parent: "500107"},
		{Code: "500107001002", Name: "Shiqiaopu community 2", Parent: "500107001"},
		grid("500107001002003", "Shiqiaopu grid 2-3", 29.525, 106.485),
		{Code: "500113", Name: "巴南区 Banan", Parent: "500000"},
		{Code: "500113002", Name: "李家沱街道 Lijiatuo", Parent: "500113"},
		{Code: "500113002001", Name: "Lijiatuo community 1", Parent: "500113002"},
		grid("500113002001004", "Lijiatuo grid 1-4", 29.470, 106.530),
	})
}
