package sensor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/clock"
	"github.com/govkit/govkit/region"
)

// Errors of device commands.
var (
	// ErrInvalidCommand: a command or reply is malformed.
	ErrInvalidCommand = errors.New("sensor: invalid command")
	// ErrUnknownCommand: no command with that ID is held.
	ErrUnknownCommand = errors.New("sensor: unknown command")
	// ErrTooManyCommands: MaxOpen commands await their replies.
	ErrTooManyCommands = errors.New("sensor: too many open commands")
)

// ResourceDevice is the access-layer resource kind of a device: sending it
// a command needs the action ActionCommand on it, within the device's grid.
const (
	ResourceDevice = "sensor.device"
	ActionCommand  = "command"
)

// CommandState is where a command stands.
type CommandState uint8

// The command states: Sent → Accepted → Succeeded or Failed, or TimedOut
// when no final reply came within the command's timeout.
const (
	CommandSent CommandState = iota + 1
	CommandAccepted
	CommandSucceeded
	CommandFailed
	CommandTimedOut
)

var commandStates = [...]string{"", "sent", "accepted", "succeeded", "failed", "timed-out"}

// String returns the state's name, as used in replies.
func (s CommandState) String() string {
	if int(s) < len(commandStates) && s != 0 {
		return commandStates[s]
	}
	return fmt.Sprintf("CommandState(%d)", s)
}

// Final reports whether the state is an end state.
func (s CommandState) Final() bool { return s >= CommandSucceeded }

// Command asks a device to do something: hold an elevator car while an
// e-bike is inside (S14), close a valve, sound a siren.
type Command struct {
	Device string          // the device's ID
	Name   string          // what to do, e.g. "hold-doors"
	Params json.RawMessage // the device's own parameters, a JSON object; may be empty
	// Timeout is how long the device has to reply with a final state;
	// zero takes CommanderOptions.Timeout.
	Timeout time.Duration
}

// CommandRecord is a command and what became of it.
type CommandRecord struct {
	ID      string // a UUIDv7, carried by the message and the device's replies
	Command Command
	State   CommandState
	Actor   string    // who sent it
	Sent    time.Time // when the transport accepted it
	Updated time.Time // the last change
	// Detail is the device's explanation of a failure, if any.
	Detail string
	// LateReply is set when a final reply came after the command timed out;
	// the state stays CommandTimedOut, since whoever waited has moved on.
	LateReply CommandState
}

// CommandMessage is the payload of a command on the bus: what a device (or
// its gateway) receives.
type CommandMessage struct {
	ID       string          `json:"id"`
	Device   string          `json:"device"`
	Name     string          `json:"name"`
	Params   json.RawMessage `json:"params,omitempty"`
	Deadline time.Time       `json:"deadline"`
}

// CommandReply is what a device sends back: State is "accepted",
// "succeeded" or "failed".
type CommandReply struct {
	ID     string `json:"id"`
	State  string `json:"state"`
	Detail string `json:"detail,omitempty"`
}

// CommanderOptions configures a Commander.
type CommanderOptions struct {
	// Authorizer decides who may command which device; required. Use
	// access.AllowAll() only for tests and single-user tools.
	Authorizer access.Authorizer
	// Hierarchy, if set, gives each device's jurisdiction path for the
	// subject; without it the path is read from the grid code itself
	// (province-level city, district, street).
	Hierarchy *region.Hierarchy
	// Prefix starts every subject (default "gov").
	Prefix string
	// Timeout is the default time a device has to reply (default 30 s).
	Timeout time.Duration
	// MaxOpen bounds the commands awaiting a final reply (default 100,000);
	// more fail with ErrTooManyCommands.
	MaxOpen int
	// Retain is how long a finished command stays queryable (default 1 h).
	Retain time.Duration
	// OnChange, if set, is called after every change of state, outside the
	// Commander's lock. A device that answers before Send returns can have
	// its reply reported before the "sent" notice; order by State.
	OnChange func(CommandRecord)
}

// Commander sends commands to devices through the bus and tracks their
// replies and timeouts. It is safe for concurrent use.
//
// A command is published on
// <prefix>.<city>.<district>.<street>.sensor.command.<device> (the device
// ID with '.' turned into '_', so that it stays one token), keyed by the
// device so that its commands keep their order. The device answers with
// CommandReply messages, which reach the Commander through ReplyHandler or
// Reply.
type Commander struct {
	reg  *Registry
	pub  bus.Publisher
	clk  clock.Clock
	opts CommanderOptions

	mu   sync.Mutex
	cmds map[string]*commandEntry
	open int
}

type commandEntry struct {
	rec   CommandRecord
	timer clock.Timer
}

// NewCommander returns a Commander, or an error wrapping ErrInvalidCommand
// for missing dependencies or negative options.
func NewCommander(reg *Registry, pub bus.Publisher, clk clock.Clock, opts CommanderOptions) (*Commander, error) {
	switch {
	case reg == nil || pub == nil || clk == nil:
		return nil, fmt.Errorf("%w: registry, publisher and clock are required", ErrInvalidCommand)
	case opts.Authorizer == nil:
		return nil, fmt.Errorf("%w: an Authorizer is required (access.AllowAll() to allow everything)", ErrInvalidCommand)
	case opts.Timeout < 0 || opts.MaxOpen < 0 || opts.Retain < 0:
		return nil, fmt.Errorf("%w: negative option", ErrInvalidCommand)
	}
	if opts.Prefix == "" {
		opts.Prefix = "gov"
	}
	if err := bus.ValidateSubject(opts.Prefix); err != nil {
		return nil, fmt.Errorf("%w: prefix: %v", ErrInvalidCommand, err)
	}
	if opts.Timeout == 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.MaxOpen == 0 {
		opts.MaxOpen = 100_000
	}
	if opts.Retain == 0 {
		opts.Retain = time.Hour
	}
	return &Commander{reg: reg, pub: pub, clk: clk, opts: opts, cmds: map[string]*commandEntry{}}, nil
}

// Send authorizes the actor in ctx, publishes the command and starts its
// timeout. It returns the record once the transport has accepted the
// message; if publishing fails nothing is recorded and the error says why.
func (c *Commander) Send(ctx context.Context, cmd Command) (CommandRecord, error) {
	if err := validateCommand(cmd); err != nil {
		return CommandRecord{}, err
	}
	h, err := c.reg.Lookup(cmd.Device)
	if err != nil {
		return CommandRecord{}, err
	}
	d, err := c.reg.Device(h)
	if err != nil {
		return CommandRecord{}, err
	}
	if err := access.Check(ctx, c.opts.Authorizer, ActionCommand, access.Resource{Kind: ResourceDevice, ID: d.ID, Jurisdiction: d.Grid}); err != nil {
		return CommandRecord{}, err
	}
	actor, _ := access.ActorFrom(ctx) // Check has made sure of it
	if d.Admin == Locked {
		return CommandRecord{}, fmt.Errorf("%w: %s takes no commands", ErrLocked, d.ID)
	}
	if cmd.Timeout == 0 {
		cmd.Timeout = c.opts.Timeout
	}
	subject, err := c.subject(d)
	if err != nil {
		return CommandRecord{}, err
	}

	now := c.clk.Now()
	id, err := uuid.NewV7()
	if err != nil {
		return CommandRecord{}, err
	}
	payload, err := json.Marshal(CommandMessage{ID: id.String(), Device: d.ID, Name: cmd.Name, Params: cmd.Params, Deadline: now.Add(cmd.Timeout).UTC()})
	if err != nil {
		return CommandRecord{}, fmt.Errorf("%w: %v", ErrInvalidCommand, err)
	}

	// Record the command before publishing it, so that a device quick
	// enough to answer before Publish returns finds it; take it back if
	// the transport refuses the message. The slot is reserved in the same
	// step, so that concurrent Sends cannot overshoot MaxOpen.
	e := &commandEntry{rec: CommandRecord{ID: id.String(), Command: cmd, State: CommandSent, Actor: actor.ID, Sent: now, Updated: now}}
	c.mu.Lock()
	if c.open >= c.opts.MaxOpen {
		c.mu.Unlock()
		return CommandRecord{}, fmt.Errorf("%w: %d awaiting replies", ErrTooManyCommands, c.opts.MaxOpen)
	}
	c.open++
	c.cmds[e.rec.ID] = e
	c.mu.Unlock()

	m := bus.NewMessage(subject, payload)
	m.ID, m.Key, m.Time = id.String(), d.ID, now
	m.Headers = map[string]string{"govkit-kind": "sensor.command", "govkit-event": cmd.Name}
	if err := c.pub.Publish(ctx, m); err != nil {
		c.mu.Lock()
		delete(c.cmds, e.rec.ID)
		if !e.rec.State.Final() {
			c.open--
		}
		c.mu.Unlock()
		return CommandRecord{}, fmt.Errorf("sensor: send %s to %s: %w", cmd.Name, d.ID, err)
	}

	c.mu.Lock()
	if !e.rec.State.Final() { // a final reply may already have come
		e.timer = c.clk.AfterFunc(cmd.Timeout, func() { c.timeout(e.rec.ID) })
	}
	sent := e.rec
	sent.State, sent.Updated, sent.Detail = CommandSent, now, ""
	c.mu.Unlock()
	c.changed(sent)
	return sent, nil
}

func validateCommand(cmd Command) error {
	bad := func(why string) error { return fmt.Errorf("%w: %s", ErrInvalidCommand, why) }
	switch {
	case cmd.Device == "":
		return bad("no device")
	case !validName(cmd.Name):
		return bad("name must be 1-64 characters of letters, digits, '-', '_' or '.'")
	case cmd.Timeout < 0:
		return bad("negative timeout")
	case len(cmd.Params) > 64<<10:
		return bad("params over 64 KiB")
	}
	if len(cmd.Params) > 0 {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(cmd.Params, &obj); err != nil || obj == nil {
			return bad("params must be a JSON object")
		}
	}
	return nil
}

// subject returns the command subject of d.
func (c *Commander) subject(d Device) (string, error) {
	path, err := jurisdiction(c.opts.Hierarchy, d.Grid)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString(c.opts.Prefix)
	for _, code := range path {
		b.WriteByte('.')
		b.WriteString(string(code))
	}
	b.WriteString(".sensor.command.")
	b.WriteString(strings.ReplaceAll(d.ID, ".", "_"))
	return b.String(), nil
}

// jurisdiction returns the city, district and street of a grid: from the
// hierarchy when there is one, otherwise from the code's digits (the
// province-level code, the 6-digit division, the 9-digit street).
func jurisdiction(h *region.Hierarchy, grid region.Code) ([]region.Code, error) {
	if grid == "" {
		return nil, nil
	}
	if h != nil {
		path, err := h.Path(grid)
		if err != nil {
			return nil, err
		}
		return path[:min(len(path), 3)], nil
	}
	path := codePath(grid)
	if path == nil {
		return nil, fmt.Errorf("%w: grid %q is shorter than a division code", ErrInvalidDevice, grid)
	}
	return path, nil
}

// codePath reads a grid's city, district and street from its digits: the
// province-level code, the 6-digit division, the 9-digit street. It
// returns nil for a code shorter than a division code.
func codePath(grid region.Code) []region.Code {
	s := string(grid)
	if len(s) < 6 {
		return nil
	}
	path := []region.Code{region.Code(s[:2] + "0000")}
	if s[:6] != s[:2]+"0000" {
		path = append(path, region.Code(s[:6]))
	}
	if len(s) >= 9 {
		path = append(path, region.Code(s[:9]))
	}
	return path
}

// Reply records a device's answer. It fails with ErrUnknownCommand for an
// ID it does not hold (never sent, or finished longer ago than Retain) and
// ErrInvalidCommand for an unknown state or a step back (accepted after
// succeeded); the record is then unchanged. A final reply after the
// timeout is kept in LateReply.
func (c *Commander) Reply(r CommandReply) error {
	var to CommandState
	switch r.State {
	case "accepted":
		to = CommandAccepted
	case "succeeded":
		to = CommandSucceeded
	case "failed":
		to = CommandFailed
	default:
		return fmt.Errorf("%w: reply state %q is not accepted, succeeded or failed", ErrInvalidCommand, r.State)
	}
	c.mu.Lock()
	e, ok := c.cmds[r.ID]
	if !ok {
		c.mu.Unlock()
		return fmt.Errorf("%w: %q", ErrUnknownCommand, r.ID)
	}
	from := e.rec.State
	switch {
	case from == CommandTimedOut && to.Final() && e.rec.LateReply == 0:
		e.rec.LateReply = to
		e.rec.Detail = r.Detail
	case from == to:
		c.mu.Unlock()
		return nil // a repeated reply: delivery is at least once
	case from.Final() || to < from:
		c.mu.Unlock()
		return fmt.Errorf("%w: %s after %s", ErrInvalidCommand, to, from)
	default:
		e.rec.State = to
		e.rec.Detail = r.Detail
		if to.Final() {
			c.finish(e)
		}
	}
	e.rec.Updated = c.clk.Now()
	rec := e.rec
	c.mu.Unlock()
	c.changed(rec)
	return nil
}

// ReplyHandler returns a bus handler for device replies: subscribe it to
// the subject where devices answer. A malformed or unknown reply is
// acknowledged, not redelivered, since redelivery cannot mend it; it is
// passed to onBad when that is not nil.
func (c *Commander) ReplyHandler(onBad func(bus.Message, error)) bus.Handler {
	return func(ctx context.Context, m bus.Message) error {
		var r CommandReply
		err := json.Unmarshal(m.Data, &r)
		if err != nil {
			err = fmt.Errorf("%w: %v", ErrInvalidCommand, err)
		} else {
			err = c.Reply(r)
		}
		if err != nil && onBad != nil {
			onBad(m, err)
		}
		return nil
	}
}

// timeout ends a command that got no final reply in time.
func (c *Commander) timeout(id string) {
	c.mu.Lock()
	e, ok := c.cmds[id]
	if !ok || e.rec.State.Final() {
		c.mu.Unlock()
		return
	}
	e.rec.State = CommandTimedOut
	e.rec.Updated = c.clk.Now()
	c.finish(e)
	rec := e.rec
	c.mu.Unlock()
	c.changed(rec)
}

// finish frees the command's slot and forgets it after Retain. Called with
// the lock held.
func (c *Commander) finish(e *commandEntry) {
	c.open--
	if e.timer != nil {
		e.timer.Stop()
	}
	id := e.rec.ID
	e.timer = c.clk.AfterFunc(c.opts.Retain, func() {
		c.mu.Lock()
		delete(c.cmds, id)
		c.mu.Unlock()
	})
}

func (c *Commander) changed(rec CommandRecord) {
	if c.opts.OnChange != nil {
		c.opts.OnChange(rec)
	}
}

// Status returns a command's record, or ErrUnknownCommand.
func (c *Commander) Status(id string) (CommandRecord, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.cmds[id]
	if !ok {
		return CommandRecord{}, fmt.Errorf("%w: %q", ErrUnknownCommand, id)
	}
	return e.rec, nil
}

// Open returns the number of commands awaiting a final reply.
func (c *Commander) Open() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.open
}
