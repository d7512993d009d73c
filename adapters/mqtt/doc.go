// Package mqtt is a govkit bus.Bus over an MQTT v5 broker, with QoS 1,
// persistent sessions and shared subscriptions. It is how sensors,
// gateways and field devices reach govkit, and how a district spreads the
// handling of their messages over several processes.
//
// # Mapping
//
// A bus subject maps to a topic level by level ("gov.500000.500107.sensor"
// becomes "gov/500000/500107/sensor"; see Topic, Filter and Subject). A
// consumer group is an MQTT shared subscription, "$share/<group>/<filter>":
// the broker deals the group's messages out to its members, and every
// group receives every matching message. Message fields other than Data
// travel as MQTT v5 user properties (see PropMeta); devices that publish
// plain MQTT are accepted too, each delivery getting a fresh ID.
//
// # Sessions
//
// Every member is an MQTT client with a persistent session (clean start
// off, Options.SessionExpiry), named from Options.ClientID, the group, the
// pattern and a slot. While a member is away, through a network failure,
// a Close or a restart of its process, the broker keeps its subscription
// and queues its share of the group's messages; the member comes back
// under the same name and receives them. Reconnection is automatic, with
// backoff, and re-subscribes when the broker lost the session (for
// example, a broker restarted without persistence). Leave ends a
// membership for good.
//
// # Acknowledgement
//
// A message is acknowledged (PUBACK) only after its handler returned nil,
// in the order received as MQTT requires. MQTT has no negative
// acknowledgement, so a failing handler is retried in place, with
// backoff, up to Options.MaxAttempts calls; then the message is handed
// back: republished to the group's retry topic (RetryTopic) with the next
// Attempt number and acknowledged only once the broker has taken the copy.
// Nothing is dropped; a crash between the two steps causes a duplicate,
// which handlers absorb by Message.ID as the bus contract requires.
// Within one member, messages with the same Key run in order on one
// goroutine; across members, and after a hand-back, MQTT cannot order a
// key, so this adapter does not promise per-key order for a group (use the
// NATS adapter where that matters).
//
// # Loss detection
//
// Publishers number their messages per (subject, key) stream (PropSeq,
// PropSource); each group tracks the numbers and reports gaps through
// Options.OnGap and Stats (Gaps, Lost, Reordered, Duplicates). A device
// that sets PropKey, PropSeq and PropSource itself gets the same checks.
// Gaps are how a deployment learns that its broker drops messages.
//
// # Packs
//
// Mosquitto spends its CPU per PUBLISH, not per byte: one broker thread
// carries some 25,000 QoS 1 messages a second, however small. A producer
// that publishes in batches, a gateway forwarding its devices' readings
// or an outbox relay, sets Options.PackSize and calls PublishBatch: each
// run of consecutive messages with one subject (at most PackSize of them
// and 256 KiB) then travels as one PUBLISH on the subject's topic, a
// pack, marked by PropPack. With packs of 32 the broker's cost per
// message falls from about 40 µs to about 2 µs, and
// BenchmarkBusThroughputPacked runs more than ten times as fast as
// BenchmarkBusThroughput (see below for Mosquitto's Nagle). Publish always
// sends one message alone, and devices that publish plain MQTT are
// unaffected; a plain MQTT client that subscribes to a packed topic,
// though, receives the pack, not its messages.
//
// Members unpack a pack and handle each message exactly as if it had
// arrived alone: on its key's goroutine in order, retried in place, and
// after MaxAttempts handed back by itself, so that only the messages that
// failed come back through the retry topic; loss detection checks each
// message's own sequence number. What changes is what the broker sees: a
// pack is published, acknowledged, queued and dropped as a unit.
// PublishBatch reports a pack's messages failed or published together. A
// member acknowledges a pack once every message in it has been handled or
// handed back, so a slow message holds up the acknowledgement of its pack
// and of everything received after it, and a member that goes away
// before then receives the whole pack again from its session (Attempt 2;
// handlers deduplicate by ID). A broker that drops messages, or loses
// them in a crash, drops or loses whole packs, and redelivers whole packs.
// Mosquitto's limits (max_queued_messages, max_inflight_messages) count
// packs, not messages. A member skips a malformed pack (an unknown
// version, truncated, a wrong count) as it skips any message it cannot
// decode: it acknowledges it and counts it in Stats.Skipped, and loss
// detection reports its messages missing.
//
// A packing publisher has few PUBLISHes in flight and nothing to send
// while it waits for their PUBACKs. Mosquitto leaves Nagle's algorithm on
// for its clients' connections unless mosquitto.conf says
// "set_tcp_nodelay true", so it would hold all but the first of those
// PUBACKs until the client's delayed TCP acknowledgement, tens of
// milliseconds later. On Linux the publishing connection of a bus with
// PackSize acknowledges at once (TCP_QUICKACK), which removes the stall on
// a broker at its defaults: measured here with packs of 32, 27,000
// messages a second without it, 560,000 with it, as with set_tcp_nodelay.
// Elsewhere, set set_tcp_nodelay. Quick acknowledgements cost a system
// call per read, so a bus without packs does not use them.
//
// # A lossless Mosquitto
//
// Left at its defaults Mosquitto silently discards QoS 1 messages: it
// queues at most 1,000 messages and 20 in flight per client and drops the
// rest (measured on a fast stream here: most of it never arrived). A
// deployment that must not lose data sets, in mosquitto.conf:
//
//	max_queued_messages 0      # or a bound larger than any backlog
//	max_queued_bytes 0
//	max_inflight_messages 0
//	max_inflight_bytes 0
//	persistence true
//	persistence_location /var/lib/mosquitto/
//	autosave_interval 60       # see below
//
// Mosquitto writes its state to disk on a clean shutdown and every
// autosave_interval seconds, not per message: a crash (kill -9, power loss)
// loses what arrived since the last save. "autosave_on_changes true" with
// "autosave_interval 1" saves after every event-loop pass, at a large cost
// in throughput; measured here, a kill then lost at most one acknowledged
// message per publisher (the last pass's), and none while the members kept
// up. Where a crash must lose nothing acknowledged, put the NATS adapter,
// whose JetStream stores before it acknowledges, behind the devices' MQTT.
//
// Mosquitto 2.0 does not persist shared subscriptions: after a restart it
// drops a group's messages as "no matching subscribers" until a member has
// reconnected. Publishers whose every message has a group waiting (an
// outbox relay, a gateway) set Options.RequireSubscribers, so that such a
// message fails with ErrNoSubscribers and is published again.
//
// # Scaling
//
// Mosquitto is one thread: one broker carries tens of thousands of QoS 1
// messages a second (see BENCHMARKS.md). Consumers scale by adding members
// to a group, in any process. Beyond one broker, partition devices over
// several brokers (by district, say) with a Bus per broker, or run a
// clustered MQTT broker that supports shared subscriptions across nodes.
package mqtt
