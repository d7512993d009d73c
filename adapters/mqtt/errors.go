package mqtt

import (
	"errors"
	"fmt"

	"github.com/govkit/govkit/bus"
)

var (
	// ErrRefused: the broker answered with an MQTT reason code of 0x80 or
	// more (see BrokerError for the code).
	ErrRefused = errors.New("mqtt: refused by the broker")
	// ErrPending: Leave could not finish handling or handing back the
	// messages it had received before its context ended; the subscription's
	// session was kept so that nothing is lost.
	ErrPending = errors.New("mqtt: messages still pending")
	// ErrNoSubscribers: with Options.RequireSubscribers, the broker took
	// a message that no subscription matched, so nobody received it. It
	// also matches bus.ErrOverloaded: publish it again later.
	ErrNoSubscribers = errors.New("mqtt: no matching subscribers")
)

// Reason codes the adapter interprets (MQTT v5 §2.4).
const (
	// CodeNoMatchingSubscribers (0x10) in a PUBACK means the broker
	// accepted the message but no subscription matched it, so nobody will
	// receive it. Publish still succeeds (as on the in-process bus) unless
	// Options.RequireSubscribers is set; Stats counts it.
	CodeNoMatchingSubscribers byte = 0x10
	// CodeQuotaExceeded (0x97) means the broker refused the message for
	// lack of room (for example Mosquitto's memory_limit).
	CodeQuotaExceeded byte = 0x97
	// CodeServerBusy (0x89) means the broker is busy.
	CodeServerBusy byte = 0x89
)

// BrokerError is a refusal from the broker: a PUBACK, SUBACK or CONNACK
// with a reason code of 0x80 or more.
type BrokerError struct {
	Op     string // "publish", "subscribe", "unsubscribe"
	Topic  string
	Code   byte
	Reason string // the broker's reason string, if any
}

// Error describes the refusal.
func (e *BrokerError) Error() string {
	s := fmt.Sprintf("mqtt: %s %q refused with reason code %#02x", e.Op, e.Topic, e.Code)
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

// Unwrap returns ErrRefused, and bus.ErrOverloaded as well for "quota
// exceeded" and "server busy", so that callers can retry those later.
func (e *BrokerError) Unwrap() []error {
	if e.Code == CodeQuotaExceeded || e.Code == CodeServerBusy {
		return []error{ErrRefused, bus.ErrOverloaded}
	}
	return []error{ErrRefused}
}

// BatchError reports which messages of a PublishBatch failed. Errs has one
// entry per message, nil for those the broker acknowledged.
type BatchError struct {
	Errs []error
}

// Error summarises the failures.
func (e *BatchError) Error() string {
	n, first := 0, error(nil)
	for _, err := range e.Errs {
		if err != nil {
			if first == nil {
				first = err
			}
			n++
		}
	}
	return fmt.Sprintf("mqtt: %d of %d messages not published; first: %v", n, len(e.Errs), first)
}

// Unwrap returns the failures, so that errors.Is finds any of them.
func (e *BatchError) Unwrap() []error {
	var errs []error
	for _, err := range e.Errs {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}
