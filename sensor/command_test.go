package sensor_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/clock"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/sensor"
)

// sentBox is a bus.Publisher that keeps what it is given, or refuses.
type sentBox struct {
	mu     sync.Mutex
	msgs   []bus.Message
	refuse error
}

func (p *sentBox) Publish(_ context.Context, m bus.Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.refuse != nil {
		return p.refuse
	}
	p.msgs = append(p.msgs, m)
	return nil
}

func (p *sentBox) last(t *testing.T) bus.Message {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.msgs) == 0 {
		t.Fatal("nothing published")
	}
	return p.msgs[len(p.msgs)-1]
}

type commandFixture struct {
	reg     *sensor.Registry
	pub     *sentBox
	clk     *clock.Manual
	cmd     *sensor.Commander
	changes []sensor.CommandRecord
}

// elevatorCity registers two elevator controllers in two districts of
// Chongqing.
func newCommandFixture(t *testing.T, az access.Authorizer, opts sensor.CommanderOptions) *commandFixture {
	t.Helper()
	f := &commandFixture{reg: sensor.NewRegistry(), pub: &sentBox{}, clk: clock.NewManual(time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC))}
	if err := f.reg.AddProfile(sensor.Profile{Name: "elevator-v1", Resources: []sensor.Resource{{Name: "ebike", Unit: "", Min: 0, Max: 1}}}); err != nil {
		t.Fatal(err)
	}
	for _, d := range []sensor.Device{
		{ID: "lift.7.a", Profile: "elevator-v1", Grid: "500107001002003", Location: geo.Point{Lat: 29.50, Lon: 106.50}},
		{ID: "lift-9", Profile: "elevator-v1", Grid: "500103002001001", Location: geo.Point{Lat: 29.55, Lon: 106.55}},
	} {
		if _, err := f.reg.Register(d); err != nil {
			t.Fatal(err)
		}
	}
	opts.Authorizer = az
	opts.OnChange = func(r sensor.CommandRecord) { f.changes = append(f.changes, r) }
	var err error
	f.cmd, err = sensor.NewCommander(f.reg, f.pub, f.clk, opts)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

var operator = access.Actor{ID: "op-1", Kind: access.DistrictStaff, Scope: "500107", Roles: []string{"lift-operator"}}

func operatorCtx() context.Context { return access.WithActor(context.Background(), operator) }

func TestCommandLifecycle(t *testing.T) {
	f := newCommandFixture(t, access.AllowAll(), sensor.CommanderOptions{Timeout: 10 * time.Second})
	rec, err := f.cmd.Send(operatorCtx(), sensor.Command{Device: "lift.7.a", Name: "hold-doors", Params: json.RawMessage(`{"seconds":60}`)})
	if err != nil {
		t.Fatal(err)
	}
	if rec.State != sensor.CommandSent || rec.Actor != "op-1" {
		t.Fatalf("record %+v", rec)
	}
	m := f.pub.last(t)
	if m.Subject != "gov.500000.500107.500107001.sensor.command.lift_7_a" || m.Key != "lift.7.a" || m.ID != rec.ID {
		t.Fatalf("message subject %q key %q id %q", m.Subject, m.Key, m.ID)
	}
	var cm sensor.CommandMessage
	if err := json.Unmarshal(m.Data, &cm); err != nil {
		t.Fatal(err)
	}
	if cm.Device != "lift.7.a" || cm.Name != "hold-doors" || string(cm.Params) != `{"seconds":60}` || !cm.Deadline.Equal(f.clk.Now().Add(10*time.Second)) {
		t.Fatalf("payload %+v", cm)
	}

	f.clk.Advance(2 * time.Second)
	must(t, f.cmd.Reply(sensor.CommandReply{ID: rec.ID, State: "accepted"}))
	must(t, f.cmd.Reply(sensor.CommandReply{ID: rec.ID, State: "accepted"})) // redelivered: absorbed
	must(t, f.cmd.Reply(sensor.CommandReply{ID: rec.ID, State: "succeeded"}))
	got, err := f.cmd.Status(rec.ID)
	must(t, err)
	if got.State != sensor.CommandSucceeded || !got.Updated.Equal(f.clk.Now()) || f.cmd.Open() != 0 {
		t.Fatalf("after success: %+v, open %d", got, f.cmd.Open())
	}
	// The timeout no longer fires.
	f.clk.Advance(time.Minute)
	got, _ = f.cmd.Status(rec.ID)
	if got.State != sensor.CommandSucceeded {
		t.Fatalf("state %v after the deadline passed", got.State)
	}
	// A step back is refused and changes nothing.
	if err := f.cmd.Reply(sensor.CommandReply{ID: rec.ID, State: "failed"}); !errors.Is(err, sensor.ErrInvalidCommand) {
		t.Fatalf("failed after succeeded: %v", err)
	}
	if len(f.changes) != 3 { // sent, accepted, succeeded
		t.Fatalf("%d change notices, want 3", len(f.changes))
	}
	// Finished commands are forgotten after Retain (default 1 h).
	f.clk.Advance(time.Hour)
	if _, err := f.cmd.Status(rec.ID); !errors.Is(err, sensor.ErrUnknownCommand) {
		t.Fatalf("status after Retain: %v", err)
	}
}

func TestCommandTimesOut(t *testing.T) {
	f := newCommandFixture(t, access.AllowAll(), sensor.CommanderOptions{})
	rec, err := f.cmd.Send(operatorCtx(), sensor.Command{Device: "lift-9", Name: "hold-doors", Timeout: 5 * time.Second})
	must(t, err)
	f.clk.Advance(4 * time.Second)
	must(t, f.cmd.Reply(sensor.CommandReply{ID: rec.ID, State: "accepted"}))
	f.clk.Advance(time.Second)
	got, _ := f.cmd.Status(rec.ID)
	if got.State != sensor.CommandTimedOut || f.cmd.Open() != 0 {
		t.Fatalf("state %v, open %d", got.State, f.cmd.Open())
	}
	// A final reply after the timeout is kept, but the state stays.
	must(t, f.cmd.Reply(sensor.CommandReply{ID: rec.ID, State: "failed", Detail: "door obstructed"}))
	got, _ = f.cmd.Status(rec.ID)
	if got.State != sensor.CommandTimedOut || got.LateReply != sensor.CommandFailed || got.Detail != "door obstructed" {
		t.Fatalf("late reply: %+v", got)
	}
	if m := f.pub.last(t); m.Subject != "gov.500000.500103.500103002.sensor.command.lift-9" {
		t.Fatalf("subject %q", m.Subject)
	}
}

func TestCommandRefusals(t *testing.T) {
	policy, err := access.NewPolicy(map[string][]access.Grant{
		"lift-operator": {{Action: sensor.ActionCommand, Resource: sensor.ResourceDevice}},
	})
	must(t, err)
	f := newCommandFixture(t, policy, sensor.CommanderOptions{MaxOpen: 1})
	ctx := operatorCtx()
	cases := []struct {
		name string
		ctx  context.Context
		cmd  sensor.Command
		want error
	}{
		{"no actor", context.Background(), sensor.Command{Device: "lift.7.a", Name: "hold-doors"}, access.ErrNoActor},
		{"other district", ctx, sensor.Command{Device: "lift-9", Name: "hold-doors"}, access.ErrDenied},
		{"unknown device", ctx, sensor.Command{Device: "lift-404", Name: "hold-doors"}, sensor.ErrUnknownDevice},
		{"no name", ctx, sensor.Command{Device: "lift.7.a"}, sensor.ErrInvalidCommand},
		{"params not an object", ctx, sensor.Command{Device: "lift.7.a", Name: "hold-doors", Params: json.RawMessage(`[1]`)}, sensor.ErrInvalidCommand},
		{"negative timeout", ctx, sensor.Command{Device: "lift.7.a", Name: "hold-doors", Timeout: -1}, sensor.ErrInvalidCommand},
	}
	for _, c := range cases {
		if _, err := f.cmd.Send(c.ctx, c.cmd); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	if len(f.pub.msgs) != 0 || f.cmd.Open() != 0 {
		t.Fatalf("refused commands left %d messages, %d open", len(f.pub.msgs), f.cmd.Open())
	}

	// Within her district the operator may; MaxOpen bounds what waits.
	_, err = f.cmd.Send(ctx, sensor.Command{Device: "lift.7.a", Name: "hold-doors"})
	must(t, err)
	if _, err := f.cmd.Send(ctx, sensor.Command{Device: "lift.7.a", Name: "release-doors"}); !errors.Is(err, sensor.ErrTooManyCommands) {
		t.Fatalf("over MaxOpen: %v", err)
	}

	// A locked device takes no commands.
	h, _ := f.reg.Lookup("lift.7.a")
	must(t, f.reg.SetAdmin(h, sensor.Locked))
	f.clk.Advance(time.Minute) // the first command times out, freeing its slot
	if _, err := f.cmd.Send(ctx, sensor.Command{Device: "lift.7.a", Name: "hold-doors"}); !errors.Is(err, sensor.ErrLocked) {
		t.Fatalf("locked device: %v", err)
	}
}

func TestCommandNotRecordedWhenPublishFails(t *testing.T) {
	f := newCommandFixture(t, access.AllowAll(), sensor.CommanderOptions{})
	f.pub.refuse = bus.ErrOverloaded
	if _, err := f.cmd.Send(operatorCtx(), sensor.Command{Device: "lift.7.a", Name: "hold-doors"}); !errors.Is(err, bus.ErrOverloaded) {
		t.Fatalf("send: %v", err)
	}
	if f.cmd.Open() != 0 || len(f.changes) != 0 {
		t.Fatalf("a refused send left %d open, %d changes", f.cmd.Open(), len(f.changes))
	}
}

func TestCommandRepliesOverTheBus(t *testing.T) {
	b, err := bus.NewMemory(bus.MemoryOptions{})
	must(t, err)
	defer b.Close()
	f := newCommandFixture(t, access.AllowAll(), sensor.CommanderOptions{})
	cmd, err := sensor.NewCommander(f.reg, b, f.clk, sensor.CommanderOptions{Authorizer: access.AllowAll()})
	must(t, err)
	ctx := context.Background()

	// The elevator controller: answers every command it receives.
	_, err = b.Subscribe(ctx, "gov.*.*.*.sensor.command.>", "lifts", func(ctx context.Context, m bus.Message) error {
		var cm sensor.CommandMessage
		if err := json.Unmarshal(m.Data, &cm); err != nil {
			return err
		}
		reply, _ := json.Marshal(sensor.CommandReply{ID: cm.ID, State: "succeeded"})
		return b.Publish(ctx, bus.NewMessage("gov.500000.sensor.reply", reply))
	})
	must(t, err)
	var bad []error
	var mu sync.Mutex
	_, err = b.Subscribe(ctx, "gov.500000.sensor.reply", "commander", cmd.ReplyHandler(func(_ bus.Message, err error) {
		mu.Lock()
		bad = append(bad, err)
		mu.Unlock()
	}))
	must(t, err)
	rec, err := cmd.Send(operatorCtx(), sensor.Command{Device: "lift.7.a", Name: "hold-doors"})
	must(t, err)
	must(t, b.Publish(ctx, bus.NewMessage("gov.500000.sensor.reply", []byte(`{"id":"nope","state":"succeeded"}`))))
	must(t, b.Publish(ctx, bus.NewMessage("gov.500000.sensor.reply", []byte(`not json`))))
	must(t, b.Drain(ctx))

	got, err := cmd.Status(rec.ID)
	must(t, err)
	if got.State != sensor.CommandSucceeded {
		t.Fatalf("state %v", got.State)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bad) != 2 || !errors.Is(bad[0], sensor.ErrUnknownCommand) && !errors.Is(bad[1], sensor.ErrUnknownCommand) {
		t.Fatalf("bad replies reported: %v", bad)
	}
}

func TestNewCommanderValidates(t *testing.T) {
	reg, clk := sensor.NewRegistry(), clock.NewManual(time.Now())
	for _, c := range []struct {
		name string
		opts sensor.CommanderOptions
	}{
		{"no authorizer", sensor.CommanderOptions{}},
		{"negative timeout", sensor.CommanderOptions{Authorizer: access.AllowAll(), Timeout: -time.Second}},
		{"bad prefix", sensor.CommanderOptions{Authorizer: access.AllowAll(), Prefix: "gov..x"}},
	} {
		if _, err := sensor.NewCommander(reg, &sentBox{}, clk, c.opts); !errors.Is(err, sensor.ErrInvalidCommand) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	if _, err := sensor.NewCommander(reg, nil, clk, sensor.CommanderOptions{Authorizer: access.AllowAll()}); !errors.Is(err, sensor.ErrInvalidCommand) {
		t.Errorf("nil publisher: %v", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
