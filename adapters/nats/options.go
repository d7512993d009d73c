package nats

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	natsgo "github.com/nats-io/nats.go"

	"github.com/govkit/govkit/bus"
)

// Errors of this package beyond the bus's own.
var (
	// ErrInvalidOptions: Options hold a value Open cannot use.
	ErrInvalidOptions = errors.New("nats: invalid options")
	// ErrIncompatibleStream: the named stream exists but was not made by
	// govkit, or with a different number of key lanes.
	ErrIncompatibleStream = errors.New("nats: incompatible stream")
)

// Storage says where JetStream keeps a stream's messages.
type Storage int

const (
	// FileStorage keeps messages on disk: they survive a server restart.
	// The default.
	FileStorage Storage = iota
	// MemoryStorage keeps messages in the server's memory only: faster, and
	// lost when the server stops.
	MemoryStorage
)

// String returns "file" or "memory".
func (s Storage) String() string {
	switch s {
	case FileStorage:
		return "file"
	case MemoryStorage:
		return "memory"
	}
	return fmt.Sprintf("Storage(%d)", int(s))
}

// Options configures Open. The zero value connects to a local server with
// the defaults below; every process that shares a stream should use the same
// Stream, Subjects and KeyLanes.
type Options struct {
	// URL is the server, or a comma-separated list of servers of one
	// cluster (default natsgo.DefaultURL, nats://127.0.0.1:4222).
	URL string
	// NATSOptions are passed to nats.Connect after govkit's own (name,
	// endless reconnects), so they can add credentials or TLS, or override.
	NATSOptions []natsgo.Option

	// Stream names the JetStream stream (default "GOVKIT"). It must be one
	// bus token ([A-Za-z0-9_-]): it is also the first token of every wire
	// subject, so that streams never capture each other's messages.
	Stream string
	// Subjects are the bus patterns the stream captures (default
	// ["gov.>"]). Publishing outside them, or subscribing to a pattern not
	// contained in one of them, fails with bus.ErrInvalidSubject. Open adds
	// them to those of an existing stream; it never removes any.
	Subjects []string
	// Replicas is the number of servers of a cluster that store the stream
	// (default 1; use 3 in production clusters).
	Replicas int
	// Storage is FileStorage (default) or MemoryStorage.
	Storage Storage
	// MaxBytes, MaxMsgs and MaxAge bound the stream (0: no bound besides
	// the server's). A message stays until every group whose pattern
	// matches it has acknowledged it; when a bound is reached, Publish
	// fails with bus.ErrOverloaded rather than discarding anything, except
	// that MaxAge does expire old messages.
	MaxBytes, MaxMsgs int64
	// MaxAge is described with MaxBytes.
	MaxAge time.Duration
	// DuplicateWindow is how long JetStream remembers message IDs to drop
	// re-published duplicates (default 2 minutes).
	DuplicateWindow time.Duration
	// KeyLanes is the number of ordered lanes per group for keyed messages
	// (default 8, at most 64). It is fixed when the stream is created and
	// stored with it: zero adopts the stream's, and a different non-zero
	// value fails with ErrIncompatibleStream. It bounds a group's
	// concurrency for keyed messages, whatever its number of members.
	KeyLanes int

	// AckWait is how long the server waits for a handler's answer before
	// redelivering (default 30 s). A handler that runs longer keeps its
	// message by signalling progress automatically, so AckWait matters
	// only when a member dies.
	AckWait time.Duration
	// Backoff is the delay before the first redelivery after a handler
	// error (default 100 ms); it doubles per delivery, with ±20% jitter, up
	// to MaxBackoff (default 30 s).
	Backoff, MaxBackoff time.Duration
	// DeadLetterSubject, when set, receives a message whose handler failed
	// on its MaxDeliver-th delivery, with the headers bus.DeadLetter adds
	// and HeaderDeadLetterGroup; the original is then terminated so that it
	// stops blocking its key. If that publish fails, the message is
	// redelivered as usual: nothing is dropped. It must lie within
	// Subjects.
	DeadLetterSubject string
	// MaxDeliver is the number of deliveries before dead-lettering
	// (default 5 when DeadLetterSubject is set). Without a DeadLetterSubject
	// it must be 0: redelivery then never stops, because JetStream's own
	// limit would drop the message silently.
	MaxDeliver int

	// MaxAckPending bounds the unkeyed messages a group has delivered and
	// not yet acknowledged, over all its members (default 1024).
	MaxAckPending int
	// Concurrency is the number of goroutines per subscription that run
	// the handler for unkeyed messages (default 16). Keyed messages run on
	// one goroutine per lane besides.
	Concurrency int
	// PackSize, when above 1, lets PublishBatch pack up to PackSize
	// consecutive messages of one subject and key lane into one JetStream
	// message (default 0: every message travels alone). Packing multiplies
	// throughput for bulk producers; in exchange a pack is delivered,
	// redelivered and shared between members as a whole, and the server
	// deduplicates whole packs rather than single messages. See the
	// package documentation.
	PackSize int
	// MaxInFlight bounds the publishes awaiting the server's
	// acknowledgement (default 4096); more wait for room.
	MaxInFlight int
	// PublishTimeout bounds one Publish, retries across a reconnect
	// included, when its context has no earlier deadline (default 30 s).
	PublishTimeout time.Duration
	// ReconnectWait is the pause between reconnect attempts (default
	// 250 ms); reconnecting never gives up.
	ReconnectWait time.Duration
	// Logger receives connection events, handler panics and failed
	// acknowledgements; nil logs nothing.
	Logger *slog.Logger
}

// maxKeyLanes bounds KeyLanes: each lane is a consumer per group.
const maxKeyLanes = 64

// withDefaults validates o and fills in defaults.
func (o Options) withDefaults() (Options, error) {
	bad := func(format string, args ...any) (Options, error) {
		return o, fmt.Errorf("%w: "+format, append([]any{ErrInvalidOptions}, args...)...)
	}
	if o.URL == "" {
		o.URL = natsgo.DefaultURL
	}
	if o.Stream == "" {
		o.Stream = "GOVKIT"
	}
	if err := bus.ValidateGroup(o.Stream); err != nil {
		return bad("Stream %q must be one token of [A-Za-z0-9_-]", o.Stream)
	}
	if len(o.Subjects) == 0 {
		o.Subjects = []string{"gov.>"}
	}
	o.Subjects = append([]string(nil), o.Subjects...)
	for _, s := range o.Subjects {
		if err := bus.ValidatePattern(s); err != nil {
			return bad("Subjects: %v", err)
		}
	}
	if o.Replicas < 0 || o.Replicas > 5 {
		return bad("Replicas %d not in 0..5", o.Replicas)
	}
	if o.Replicas == 0 {
		o.Replicas = 1
	}
	if o.Storage != FileStorage && o.Storage != MemoryStorage {
		return bad("unknown Storage %d", int(o.Storage))
	}
	if o.MaxBytes < 0 || o.MaxMsgs < 0 || o.MaxAge < 0 || o.DuplicateWindow < 0 || o.AckWait < 0 ||
		o.Backoff < 0 || o.MaxBackoff < 0 || o.MaxDeliver < 0 || o.MaxAckPending < 0 || o.Concurrency < 0 ||
		o.MaxInFlight < 0 || o.PackSize < 0 || o.PublishTimeout < 0 || o.ReconnectWait < 0 || o.KeyLanes < 0 {
		return bad("negative value")
	}
	if o.KeyLanes > maxKeyLanes {
		return bad("KeyLanes %d exceeds %d", o.KeyLanes, maxKeyLanes)
	}
	if o.PackSize > maxPackCount {
		return bad("PackSize %d exceeds %d", o.PackSize, maxPackCount)
	}
	if o.DuplicateWindow == 0 {
		o.DuplicateWindow = 2 * time.Minute
	}
	if o.MaxAge > 0 && o.DuplicateWindow > o.MaxAge {
		o.DuplicateWindow = o.MaxAge
	}
	if o.AckWait == 0 {
		o.AckWait = 30 * time.Second
	}
	if o.AckWait < 100*time.Millisecond {
		return bad("AckWait %v is below 100ms", o.AckWait)
	}
	if o.Backoff == 0 {
		o.Backoff = 100 * time.Millisecond
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = 30 * time.Second
	}
	o.MaxBackoff = max(o.MaxBackoff, o.Backoff)
	if o.DeadLetterSubject != "" {
		if err := bus.ValidateSubject(o.DeadLetterSubject); err != nil {
			return bad("DeadLetterSubject: %v", err)
		}
		if !captured(o.Subjects, o.DeadLetterSubject) {
			return bad("DeadLetterSubject %q is outside Subjects %q", o.DeadLetterSubject, o.Subjects)
		}
		if o.MaxDeliver == 0 {
			o.MaxDeliver = 5
		}
	} else if o.MaxDeliver != 0 {
		return bad("MaxDeliver without DeadLetterSubject would drop messages")
	}
	if o.MaxAckPending == 0 {
		o.MaxAckPending = 1024
	}
	if o.Concurrency == 0 {
		o.Concurrency = 16
	}
	if o.MaxInFlight == 0 {
		o.MaxInFlight = 4096
	}
	if o.PublishTimeout == 0 {
		o.PublishTimeout = 30 * time.Second
	}
	if o.ReconnectWait == 0 {
		o.ReconnectWait = 250 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// captured reports whether a subject lies within one of the patterns.
func captured(patterns []string, subject string) bool {
	for _, p := range patterns {
		if bus.Match(p, subject) {
			return true
		}
	}
	return false
}
