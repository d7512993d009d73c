package bus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Errors every transport returns, so that callers can test with errors.Is
// whichever transport is plugged in.
var (
	// ErrInvalidSubject: a subject or pattern is empty or malformed.
	ErrInvalidSubject = errors.New("bus: invalid subject")
	// ErrInvalidGroup: a group name is empty or malformed.
	ErrInvalidGroup = errors.New("bus: invalid group")
	// ErrInvalidMessage: a message lacks an ID or is too large.
	ErrInvalidMessage = errors.New("bus: invalid message")
	// ErrOverloaded: the transport refused a message because a bounded
	// buffer is full; the message was not accepted and may be retried.
	ErrOverloaded = errors.New("bus: overloaded")
	// ErrClosed: the bus or subscription is closed.
	ErrClosed = errors.New("bus: closed")
)

// SubjectError reports which subject or group was rejected and why.
type SubjectError struct {
	Subject string
	Reason  string
	Err     error // ErrInvalidSubject or ErrInvalidGroup
}

// Error describes the problem.
func (e *SubjectError) Error() string {
	return fmt.Sprintf("%v %q: %s", e.Err, e.Subject, e.Reason)
}

// Unwrap returns ErrInvalidSubject or ErrInvalidGroup.
func (e *SubjectError) Unwrap() error { return e.Err }

// Message is one event on the bus.
//
// Subjects are dot-separated tokens of ASCII letters, digits, '-' and '_',
// for example "gov.500000.500107.500107001.incident.reported", so that they
// map onto NATS subjects and MQTT topics alike.
type Message struct {
	// ID identifies the message; transports deduplicate on it and consumers
	// use it to stay idempotent. NewMessage sets a UUIDv7.
	ID string
	// Subject says what happened and where.
	Subject string
	// Key orders delivery: a group receives messages that share a key in
	// the order they were published, each only after the one before it was
	// acknowledged. Empty means no ordering.
	Key string
	// Headers carry metadata such as a trace id or the acting system.
	Headers map[string]string
	// Time is when the event happened, set by the publisher.
	Time time.Time
	// Data is the payload, usually JSON.
	Data []byte
	// Attempt is set by the transport on delivery: 1 the first time, 2 on
	// the first redelivery, and so on. It is ignored on publish.
	Attempt int
}

// MaxDataSize bounds a message's payload, so that one bad producer cannot
// exhaust a consumer's memory. It matches NATS's default max_payload.
const MaxDataSize = 1 << 20

// NewMessage returns a message with a fresh UUIDv7 id, the given subject and
// data, and Time set to now.
func NewMessage(subject string, data []byte) Message {
	return Message{ID: uuid.Must(uuid.NewV7()).String(), Subject: subject, Time: time.Now(), Data: data}
}

// Validate reports why m cannot be published: a malformed subject, an empty
// ID or oversized data.
func (m Message) Validate() error {
	if err := ValidateSubject(m.Subject); err != nil {
		return err
	}
	if m.ID == "" {
		return fmt.Errorf("%w: empty ID", ErrInvalidMessage)
	}
	if len(m.Data) > MaxDataSize {
		return fmt.Errorf("%w: %d bytes of data exceed %d", ErrInvalidMessage, len(m.Data), MaxDataSize)
	}
	return nil
}

// Handler processes one delivered message. Returning nil acknowledges it;
// returning an error asks for redelivery after a backoff. Handlers must be
// idempotent: delivery is at least once.
type Handler func(ctx context.Context, m Message) error

// Publisher sends messages. Publish returns nil once the transport has
// accepted the message (stored it, for a persistent transport); it returns
// ErrOverloaded when a bounded buffer refuses it.
type Publisher interface {
	Publish(ctx context.Context, m Message) error
}

// Subscriber delivers messages whose subject matches pattern to handler.
//
// A pattern may use "*" for exactly one token and a final ">" for one or
// more tokens. Every subscription belongs to a group: each group receives
// every matching message, and the members of one group (subscriptions with
// the same group and pattern) share them, each message going to one member.
// A group outlives its members where the transport allows: messages
// published while it has none wait for the next one.
//
// The subscription lasts until ctx is done or it is closed.
type Subscriber interface {
	Subscribe(ctx context.Context, pattern, group string, h Handler) (Subscription, error)
}

// Subscription is one member's place in a group.
type Subscription interface {
	// Close stops delivery to this member and waits for its handlers in
	// flight to return. Messages it had not acknowledged are redelivered to
	// the group.
	Close() error
}

// Bus is a transport: the in-process Memory bus, or an adapter over NATS
// JetStream or MQTT.
type Bus interface {
	Publisher
	Subscriber
	// Close releases the transport; later calls fail with ErrClosed.
	Close() error
}
