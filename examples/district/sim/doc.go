// Package sim simulates a day in a district on govkit: a generated but
// realistic world — a grid hierarchy, thousands of sensing devices,
// risk points, responders, rental rooms and citizens — and the packages
// working together on it through bus events.
//
// What happens, all through the bus:
//
//   - Devices report readings (smoke detectors, elderly people's wristbands,
//     manhole-cover tilt sensors, water-main pressure sensors); the rule
//     engine raises alarms, and the alarm desk turns them into incidents
//     (sensor → incident).
//   - Citizens, grid members and video-AI cameras report problems; the street
//     centre registers, merges or rejects people's reports, and machine
//     reports above the confidence threshold are registered at once.
//   - Every registered case is routed by dispatch across the district and
//     street tiers (a burst water main runs a multi-department playbook);
//     responders — the nearest available of the body — sign for, travel,
//     handle and complete their work orders; the case is disposed, verified
//     by the grid member (sometimes sent back for rework), closed and rated.
//   - Hazardous cases raise the level of the risk points around them until
//     they close (incident → risk).
//   - Citizens apply for one-thing bundles (the newborn bundle of S19 and the
//     rental-room registration of S1); departments review, send back and
//     approve; a completed rental-room bundle gets a listing code (permit →
//     codes), and verified noise complaints about a listed room deduct points
//     from its ledger until it turns red and is delisted (incident → codes).
//
// Time is a clock.Manual moved by the simulation, so a day runs in seconds
// and every SLA timer, escalation and heartbeat fires as it would. People's
// actions are scheduled in simulated time with randomness derived from the
// seed and the case's own key, so a run is deterministic for a seed: the
// same world, the same cases, the same figures.
//
// Run takes a Backend: the stores and the bus. The district demo
// (examples/district) runs it on the embedded defaults (go-memdb stores and
// bus.Memory); examples/production runs the same wiring on PostgreSQL and
// NATS JetStream.
package sim
