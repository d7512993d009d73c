package main

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/govkit/govkit/adapters/nats"
	"github.com/govkit/govkit/adapters/postgres"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/examples/district/sim"
	"github.com/govkit/govkit/pii"
	"github.com/govkit/govkit/sensor"
)

// deployment is the district's govkit on production backends: every store
// on PostgreSQL, every event on NATS JetStream, and the outbox relay
// between them.
type deployment struct {
	db     *postgres.DB
	pub    *counting
	nc     *natsgo.Conn
	js     jetstream.JetStream
	stream string

	stopRelay context.CancelFunc
	relayDone chan struct{}
	settledAt int64
}

// counting is the bus with a count of what was published through it, so
// that settling can tell at once when nothing happened.
type counting struct {
	bus.Bus
	n atomic.Int64
}

// Publish implements bus.Publisher.
func (c *counting) Publish(ctx context.Context, m bus.Message) error {
	err := c.Bus.Publish(ctx, m)
	if err == nil {
		c.n.Add(1)
	}
	return err
}

// newDeployment wires the backend: it migrates the stores' tables, opens
// a JetStream client on the stream b uses (to see its consumer groups),
// and starts postgres.Relay, which moves whatever the stores' outbox still
// holds onto NATS after commit.
//
// The services publish their events themselves right after each commit
// (each store's own relay); postgres.Relay is the safety net for events a
// process crashed or a broker outage left in the outbox, and runs in every
// process at once without publishing a batch twice in parallel. An event
// both publish is dropped by JetStream's duplicate window, and every
// consumer is idempotent on Message.ID anyway.
func newDeployment(ctx context.Context, db *postgres.DB, b *nats.Bus, natsURL, stream string, sealer *pii.Sealer) (*deployment, sim.Backend, error) {
	d := &deployment{db: db, pub: &counting{Bus: b}, stream: stream, relayDone: make(chan struct{})}
	if err := db.Setup(ctx); err != nil {
		return nil, sim.Backend{}, err
	}
	incidents, err := postgres.NewIncidentStore(ctx, db, sealer)
	if err != nil {
		return nil, sim.Backend{}, err
	}
	orders, err := postgres.NewDispatchStore(ctx, db)
	if err != nil {
		return nil, sim.Backend{}, err
	}
	permits, err := postgres.NewPermitStore(ctx, db, sealer)
	if err != nil {
		return nil, sim.Backend{}, err
	}
	risks, err := postgres.NewRiskStore(ctx, db, sealer)
	if err != nil {
		return nil, sim.Backend{}, err
	}
	codes, err := postgres.NewCodesStore(ctx, db)
	if err != nil {
		return nil, sim.Backend{}, err
	}
	if d.nc, err = natsgo.Connect(natsURL, natsgo.Name("govkit-production-settle")); err != nil {
		return nil, sim.Backend{}, err
	}
	if d.js, err = jetstream.New(d.nc); err != nil {
		d.nc.Close()
		return nil, sim.Backend{}, err
	}
	relay, err := postgres.NewRelay(db, d.pub, postgres.RelayOptions{Poll: 250 * time.Millisecond, Backoff: 250 * time.Millisecond})
	if err != nil {
		d.nc.Close()
		return nil, sim.Backend{}, err
	}
	rctx, cancel := context.WithCancel(context.Background())
	d.stopRelay = cancel
	go func() {
		defer close(d.relayDone)
		_ = relay.Run(rctx)
	}()
	back := sim.Backend{
		Bus: d.pub, Settle: d.settle,
		Incidents: incidents, Dispatch: orders, Permits: permits, Risk: risks, Codes: codes,
		Readings: func(reg *sensor.Registry) (sensor.Sink, error) { return postgres.NewReadingSink(ctx, db, reg) },
	}
	return d, back, nil
}

// close stops the relay and the JetStream client.
func (d *deployment) close() {
	d.stopRelay()
	<-d.relayDone
	d.nc.Close()
}

// settleTimeout bounds one wait for the district's events to be handled.
const settleTimeout = time.Minute

// settle returns once every event published so far has been handled:
// nothing is left unpublished in the outbox, and no consumer group of the
// stream has a message waiting or in a handler — twice in a row, since a
// handler publishes before it acknowledges. It returns at once when
// nothing was published since it last settled.
func (d *deployment) settle(ctx context.Context) error {
	if d.pub.n.Load() == d.settledAt {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, settleTimeout)
	defer cancel()
	quiet := 0
	for {
		n := d.pub.n.Load()
		why, err := d.busy(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			return fmt.Errorf("production: the district's events did not settle (%s): %w", why, ctx.Err())
		case err != nil:
			return err
		case why == "" && n == d.pub.n.Load():
			if quiet++; quiet == 2 {
				d.settledAt = n
				return nil
			}
		default:
			quiet = 0
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("production: the district's events did not settle (%s): %w", why, ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// busy says what is still moving: the outbox or a consumer group; "" when
// nothing is.
func (d *deployment) busy(ctx context.Context) (string, error) {
	var waiting bool
	if err := d.db.Pool().QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM govkit_outbox WHERE published_at IS NULL)`).Scan(&waiting); err != nil {
		return "outbox", err
	}
	if waiting {
		return "outbox", nil
	}
	st, err := d.js.Stream(ctx, d.stream)
	if err != nil {
		return "stream", err
	}
	lister := st.ListConsumers(ctx)
	why := ""
	for ci := range lister.Info() {
		if why == "" && (ci.NumPending > 0 || ci.NumAckPending > 0) {
			why = "consumer " + ci.Name
		}
	}
	if err := lister.Err(); err != nil && !errors.Is(err, jetstream.ErrEndOfData) {
		return "consumers", err
	}
	return why, nil
}
