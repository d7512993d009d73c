// Package bus is govkit's event transport: how a sensor alarm reaches the
// incident desk, how an incident reaches dispatch, how a street centre's
// events reach the district and the city.
//
// # The contract
//
// Publisher and Subscriber are small on purpose so that any transport can
// carry them: the in-process Memory bus (the embedded default, and the one
// tests use), and the NATS JetStream and MQTT adapters under adapters/.
//
//   - Delivery is at least once. A handler that returns nil acknowledges the
//     message; one that returns an error (or panics) has it redelivered after
//     a backoff, with Message.Attempt counting the deliveries. Handlers are
//     therefore idempotent, usually by remembering Message.ID.
//   - Every subscription belongs to a consumer group. Each group receives
//     every matching message; the members of a group share them. A district
//     centre and a city centre are two groups; three replicas of the
//     district's router are three members of one.
//   - Messages with the same Key reach a group in publish order, and a
//     failed one is redelivered before any later one with its key is
//     delivered: the events of one case or one device never overtake each
//     other.
//   - Subjects are dot-separated tokens; patterns add "*" for one token and
//     a final ">" for the rest. Put the jurisdiction in the subject
//     (gov.500000.500107.500107001.incident.reported) so that a street
//     subscribes to its subtree and the city to everything.
//
// # Bounded buffers
//
// Memory never grows without bound: each group holds at most
// MemoryOptions.Buffer messages, and a full lane either blocks the publisher
// (Block, the default), refuses the message with ErrOverloaded (Reject), or
// discards the oldest queued message and counts it (DropOldest, for
// telemetry where the newest value supersedes the old). Stats reports every
// count.
//
// # Middleware
//
// Retry retries a handler in place for brief failures; DeadLetter moves a
// message that keeps failing to a dead-letter subject so that it stops
// blocking its key, and never drops it if that publish fails. Chain composes
// them.
//
// # Conformance
//
// Package bustest is the suite every transport runs.
package bus
