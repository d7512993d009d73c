// Package nats is a govkit bus.Bus on NATS JetStream: the transport a
// district uses to run ingestion, incident handling and dispatch in several
// processes, on several machines, and to let a street's events reach its
// district and the city.
//
// # What it promises
//
// It keeps the bus contract (see package bus) across processes and server
// restarts:
//
//   - Publish returns nil only once the server has stored the message (with
//     Replicas > 1, once a majority has). Retrying is always safe: the
//     server drops a message whose subject and ID it has seen within
//     Options.DuplicateWindow.
//   - Every consumer group is a set of durable pull consumers, created or
//     updated idempotently by whichever process subscribes first. Members
//     in any number of processes share the group's messages; messages
//     published while a group has no member wait for the next one. A
//     member whose consumer is deleted under it creates it again (what was
//     published while it was gone does not reach the group).
//   - A handler's nil acknowledges; an error or a panic naks with an
//     exponential backoff, so the message comes again with a higher
//     Message.Attempt. With Options.DeadLetterSubject set, a message that
//     fails on its MaxDeliver-th delivery is published there (with the
//     dead-letter headers of bus.DeadLetter and HeaderDeadLetterGroup) and
//     stops blocking its key. JetStream's own delivery limit is never used,
//     because it drops messages silently.
//   - Messages with the same Key reach a group in publish order, one at a
//     time: keys are hashed onto Options.KeyLanes ordered lanes, each a
//     consumer with one message in flight. Unkeyed messages run with
//     Options.Concurrency handlers per member.
//   - A member that dies keeps nothing: what it held is redelivered after
//     AckWait. Closing a member returns once its handlers in flight have
//     finished; what it received but did not start goes back to the group
//     within about a second, once its last pull requests have ended on
//     the server, without waiting for AckWait. Bus.Close waits for that.
//
// # Subjects and jurisdiction
//
// Bus subjects carry the jurisdiction, gov.<city>.<district>.<street>.…, so
// a street centre subscribes to gov.500000.500107.500107001.> and the city
// to gov.>; both groups receive a street's report. On the wire a subject is
// prefixed with the stream name and the lane ("GOVKIT.u.gov.…"), so that
// several govkit streams can share one server; Options.Subjects bounds what
// a stream captures, and publishing or subscribing outside it fails with
// bus.ErrInvalidSubject.
//
// # Packs
//
// A JetStream message costs the server a store, a delivery and an
// acknowledgement whatever its size, so one member tops out at tens of
// thousands of messages a second on two cores. A bulk producer (a sensor
// gateway, an outbox relay) that sets Options.PackSize and calls
// PublishBatch sends runs of messages with one subject and lane as one
// JetStream message; throughput rises several-fold (see BENCHMARKS.md). The
// price: a pack is delivered, redelivered and dead-lettered as a whole, the
// server deduplicates whole packs, and consumers must run this package.
// Handlers still see one bus.Message at a time.
//
// # Deploying
//
// One nats-server with JetStream (-js -sd <dir>) suits a district: file
// storage survives restarts, and every process opens the same stream. To
// scale past one machine, run a three-node JetStream cluster and set
// Replicas to 3: a stored message survives the loss of a node, and clients
// list every node in Options.URL to fail over. Consumption scales by adding
// members to a group, in any process: unkeyed messages spread over all of
// them, keyed ones over the KeyLanes partitions (raise KeyLanes, at stream
// creation, for more parallel keyed consumers). A city can give each
// district its own stream (Options.Stream) on a shared cluster.
//
// Package natstest opens buses on throwaway streams for tests.
package nats
