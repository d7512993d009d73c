// Package incident is the case file of city governance: every problem
// reported by a citizen, a grid member, a camera or a sensor, from the
// report to the citizen's rating, in the closed loop of Chinese digital
// urban management (collect → register 立案 → dispatch → handle → verify
// 核查 → close 结案 → evaluate).
//
// # The model
//
// An Incident has a UUIDv7 ID, its reporters (several after a merge;
// anonymous allowed; contact details are pii.Data and mask themselves), a
// category from the Catalogue with Open311-style typed attributes, a
// Location resolved to its grid path through region.Hierarchy, a priority,
// evidence referenced by content hash, the time each phase began, an SLA
// Clock, a Version for optimistic concurrency, and a Resolution when
// closed. The lifecycle is fixed (CanMove, CanClose); an illegal step
// returns a *TransitionError and changes nothing.
//
// # The service
//
// Service does everything through the access layer: each method reads the
// actor from the context and asks the Authorizer for an action (ActionReport,
// ActionRegister, ActionVerify, …) on the case, whose jurisdiction is its
// grid — a street operator acts in her street only. Bodies handling a case
// from another district (S16) read and handle it from their own units when
// Config.HandlingUnits names them. Each change is written atomically with:
//
//   - a timeline Entry (who, when, from → to, note, evidence) chained by
//     hash to the one before, so VerifyTimeline detects any edit;
//   - an event in the store's outbox, published on the bus after commit on
//     the subject gov.<city>.<district>.<street>.incident.<event>, so that
//     dispatch and other packages react, and nothing is lost if the broker
//     is down (Flush, Restore).
//
// The two meet only on the bus: dispatch's FollowIncidents routes every
// registered case, and FollowDispatch brings the handling back, marking
// the incident dispatched, in progress and disposed as work orders are
// offered, started and completed.
//
// Report is idempotent on Report.Key, sends low-confidence machine reports
// to triage, and ranks duplicate suggestions (same category, 250 m, 72 h by
// default) by DuplicateScore, nearer and newer first, giving each report
// the best Config.MaxSuggestions (10): where hundreds report one flooded
// underpass, a report reads its best few candidates, not all of them
// (BenchmarkReportCrowded). An AutoMerge policy such as
// SameAttribute("asset") folds alarms on one asset into one case. Merge and Split keep provenance, and every
// reporter of a merged case hears the outcome (EventData.Reporters).
//
// SLA deadlines are counted in working time on a calendar.Calendar, per
// category and phase (SLA.Register, Dispose, Verify), with PauseSLA and
// ResumeSLA; a clock timer — not a caller's polling — marks a case overdue
// the moment its deadline passes. Indicators computes on-time
// registration, closure, on-time closure, handling time, rework, repeat
// cases and satisfaction for any grid subtree and period.
//
// # Penalties
//
// A case often ends in an administrative penalty (行政处罚): the muck
// truck's operator fined 2,000 yuan. RecordPenalty puts it on the case
// file while the case is in progress, disposed or under verification, as
// a Penalty: the decision's number (unique per case), its legal basis,
// the payer as pii.Data, the fine as an apd.Decimal in whole fen, and who
// decided it when, taken from the actor and the clock. Like every step it
// goes on the hash-chained timeline and is announced, as EventPenalized
// with the decision and the fine but not the payer; Indicators counts
// penalties and sums fines. Split leaves penalties on the original.
//
// # Storage
//
// Store is the package's own interface. MemoryStore (go-memdb) is the
// embedded default and the fake for tests; adapters/postgres has the
// PostgreSQL store, which writes events to the transactional outbox.
// Package incidenttest is the conformance suite both pass.
package incident
