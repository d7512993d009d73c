package sensor

import (
	"context"
	"errors"

	"github.com/govkit/govkit/bus"
)

// Handler returns a bus handler that takes device messages (the format of
// DecodeJSON, in Message.Data) into the ingester's queue with Submit, so
// that MQTT topics or NATS subjects feed ingestion through the transport
// adapters. It authorizes nothing itself: Subscribe authorizes the source
// once, and who may publish on the subscribed subjects is the transport's
// concern (wiring Handler directly, the caller answers for the source);
// every reading is
// still checked against the registry (unknown, removed or locked devices
// are rejected and counted).
//
// A message that cannot be decoded is counted in Stats().Malformed, logged
// without its payload, and acknowledged: redelivery cannot repair it, and
// it must not block its key. The handler returns an error, so that the
// transport redelivers the message, only when the queue refuses it for
// now: bus.ErrOverloaded under the Reject policy, ErrClosed after Close,
// or the context's error while Block waits.
//
// Acknowledging a message means its readings are queued in this process:
// call Drain or Close before exiting so that they are ingested. Where a
// message must be ingested before it is acknowledged, use SyncHandler.
func (in *Ingester) Handler() bus.Handler {
	return func(ctx context.Context, m bus.Message) error {
		buf := in.getBuf(16)
		defer in.putBuf(buf)
		rs, ok := in.decodeMessage(m, *buf)
		*buf = rs
		if !ok {
			return nil
		}
		err := in.submit(ctx, rs)
		if errors.Is(err, ErrBatchTooLarge) {
			in.malformed.Add(1)
			in.log("sensor: device message too large for the queue", "subject", m.Subject, "id", m.ID, "err", err)
			return nil
		}
		return err
	}
}

// SyncHandler returns a bus handler like Handler's that ingests each
// message with Ingest before acknowledging it, in the transport's handler
// goroutine and bypassing the queue: a message is acknowledged only once
// its readings are stored by the sink and seen by the observers. It
// returns an error, for redelivery, only when the sink fails (ErrSink) or
// ctx has ended; malformed messages are counted and acknowledged.
func (in *Ingester) SyncHandler() bus.Handler {
	return func(ctx context.Context, m bus.Message) error {
		buf := in.getBuf(16)
		defer in.putBuf(buf)
		rs, ok := in.decodeMessage(m, *buf)
		*buf = rs
		if !ok {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		_, err := in.ingest(ctx, rs, false)
		return err
	}
}

// decodeMessage decodes m's data into dst, counting the message as
// decoded or malformed.
func (in *Ingester) decodeMessage(m bus.Message, dst []Reading) ([]Reading, bool) {
	rs, err := DecodeJSON(in.reg, m.Data, dst)
	if err != nil {
		in.malformed.Add(1)
		in.log("sensor: malformed device message", "subject", m.Subject, "id", m.ID, "err", err)
		return rs, false
	}
	in.counters().messages.Add(1)
	return rs, true
}

// Subscribe subscribes Handler to pattern in group on sub: a bus.Memory,
// or the NATS or MQTT adapter (an MQTT topic "city/pp/17/up" is the
// subject "city.pp.17.up"). Members of one group share the messages, so
// several processes can split a stream of devices. The actor in ctx (the
// feeding platform or gateway service) is authorized once, for the whole
// subscription, never per message or reading.
func (in *Ingester) Subscribe(ctx context.Context, sub bus.Subscriber, pattern, group string) (bus.Subscription, error) {
	if sub == nil {
		return nil, errors.New("sensor: Subscribe needs a subscriber")
	}
	if err := in.authorize(ctx); err != nil {
		return nil, err
	}
	return sub.Subscribe(ctx, pattern, group, in.Handler())
}
