// Package sensor is the city's nerve endings: the devices on street lights,
// bins, bridges, water mains, gas lines, tanks, elevators and wristbands,
// what they report, the alarms their readings raise, the vital signs a city
// centre watches, and the commands sent back to them. It is built for
// Chongqing's scale, 14 million devices on one machine.
//
// # Registry
//
// A Profile describes a kind of device: its resources, each with a unit, a
// valid range and an expected report interval. The Registry holds devices
// in columns rather than one struct each (about 85 bytes a device), and
// gives each a dense Handle so that the hot paths hash no strings. A
// device has an admin state (a locked device's readings are refused), an
// operating state, a place and grid, the asset it watches (a pipe segment,
// a tank) and the gateway it reports through.
//
// # Ingestion
//
// An Ingester takes readings in typed batches (Ingest), as JSON device
// messages (IngestJSON, DecodeJSON), or from a bus subscription, so that
// MQTT topics and NATS subjects feed it through the transport adapters.
// Every reading is checked against its device and profile: unknown,
// removed or locked devices, unknown resources, wrong units and values
// outside the valid range are rejected with a Reason and counted, and an
// out-of-range value sets the device's quality flag until a valid reading
// clears it. Duplicates (the same device, resource and sequence number)
// are absorbed. Event time rules: a reading older than the latest held
// never replaces it; it is accepted as QualityLate, for history and for
// windowed aggregates. Accepted readings go to the Observers (the rule
// Engine, Vitals) and to a Sink for raw history (adapters/postgres has
// one that batches with COPY).
//
// Submit is the asynchronous front: bounded queues with an explicit
// overload policy (block, reject or drop the oldest), a priority lane for
// alarms and heartbeats that is served first, and counters for everything
// dropped or rejected. Memory never grows without bound.
//
// # Rules and alarms
//
// Rules are data (ParseRule reads JSON): a scope (profile, resource, grid
// subtree, labels, asset) and conditions — thresholds, ranges, rates of
// change, missing heartbeats with a fixed or learned interval — qualified
// by a duration ("for 10 minutes") or a count ("5 in a row"), with a
// deadband, a separate clear condition for hysteresis, a severity ladder
// and a schedule. The Engine observes readings and keeps one alarm per
// rule and device, pending → active → cleared, acknowledged separately,
// updated in place when its severity changes, and re-evaluated on timers
// as well as on readings. Storm control raises one alarm for a silent
// gateway or area instead of thousands for its devices; correlation by
// asset turns pressure drops along one main into one burst alarm with an
// estimated location (S4). Backtest replays stored readings through a rule
// before it goes live. Alarm events are published on the bus under the
// device's jurisdiction, gov.<city>.<district>.<street>.sensor.alarm.…;
// with a Store they are written to its outbox with the alarm and published
// from there, and one the bus refuses waits and is sent again, never
// dropped (see Engine, "Events").
//
// # Vital signs
//
// Vitals evaluates a city's vital signs: an aggregate (average, minimum,
// maximum, sum, count or rate) of one resource over a window, for the
// devices of a profile in an area and with given labels, on a schedule,
// coloured by bands.
//
// # Commands
//
// A Commander sends commands to devices through the bus — hold an elevator
// car's doors while an e-bike is inside (S14), close a valve — and tracks
// their acknowledgement, result and timeout.
//
// # Storage
//
// A Store keeps what must survive a restart: profiles, devices, rules,
// alarms and vital-sign definitions (readings go to a Sink). MemoryStore,
// on go-memdb, is the embedded default and the fake for tests;
// adapters/postgres has the PostgreSQL store; package sensortest is the
// conformance suite both pass.
//
// The Registry stays an in-memory table whose hot paths never touch a
// store. Devices is the management service in front of it: it writes
// every new profile and device, and every change of a device's state,
// through to the store before applying it to the registry, and
// LoadRegistry rebuilds the registry from the store at start-up. An Engine
// given EngineOptions.Store writes its rules through, writes alarm changes
// in batches after its lock is released (never per reading), and restores
// its rules and open alarms in NewEngine, so that a restarted process
// neither raises an alarm twice nor loses an acknowledgement; Vitals
// given VitalsOptions.Store keeps its signs the same way. A start-up
// therefore reads: LoadRegistry, NewDevices, NewEngine, NewVitals,
// NewIngester.
//
// # Access
//
// Management calls (devices, profiles, rules, alarms, vital signs,
// commands) take the actor from the context and ask the access layer's
// authorizer, within the grid of the device or rule (profiles within
// DevicesOptions.Area). Ingestion authorizes its source once per
// subscription or batch, never per reading.
package sensor
