// Package risk keeps a city's risk points (风险点) and tells, for each,
// how dangerous it is now and why: explainable static assessments, live
// signals and area warnings that raise a level for a while, spatial
// queries and coloured maps, hazard impact and evacuation planning, CAP
// 1.2 public warnings, and the tiering and inspection of enterprises.
//
// # Risk points and assessment
//
// A Point has a hazard class from a configurable Catalogue (Chongqing's
// pipeline application uses 1,126), a geometry (a geo.Point, a pipeline
// geo.LineString, or a geo.Polygon), an owning enterprise, the people who
// answer for it at each level (enterprise, grid, street, district; names
// and phones are pii.Data), its controls, its linked sensors and the
// hazardous chemicals it holds. Service.Create validates all of it,
// locates the point to its grid and writes it.
//
// Assessment methods share one interface, Method, and every Result
// carries a Derivation — the inputs with their meaning, the matrix cell or
// the formula with the numbers put in, the thresholds and the band that
// matched — so that anyone can see why a point is red. Scores use
// decimal arithmetic (github.com/cockroachdb/apd/v3), so a score on a
// boundary lands on the right side of it:
//
//   - Matrix: likelihood × consequence (IEC 31010, GB/T 27921), any size
//     from 2×2 to 10×10, default 5×5 with bands on L×C (20–25 red, 15–16
//     orange, 9–12 yellow, 1–8 blue), or an explicit colour per cell.
//   - LEC: D = L × E × C on the standard scales, with the standard bands
//     mapped to colours (D ≥ 320 red, 160–320 orange, 70–160 yellow, below
//     blue).
//   - RValue: GB 18218-2018 major hazard sources, R = α·Σβᵢqᵢ/Qᵢ with α
//     from the people within 500 m (Table 5) and β per substance (Tables
//     3 and 4); grade 1 (R ≥ 100) red, grade 2 (50–100) orange, grade 3
//     (10–50) yellow, grade 4 (< 10) blue; units with Σqᵢ/Qᵢ < 1 are not
//     major hazard sources. The Service counts α's people from registered
//     building occupancy when the caller does not give them.
//
// A stored Assessment has a validity period (per class, default a year);
// an expired one still counts but says so in the level's reasons.
//
// # Dynamic risk and area warnings
//
// A point's Level is the maximum of its static colour and its active
// Signals, with the reasons recorded. Signals come from plain method
// calls with values — ObserveReading (a linked sensor's reading against
// ReadingRules: a tank 92% full is orange), ObserveNearby (an open
// incident within a radius), Raise and Clear — or from the bus through
// Handler, which decodes messages with a function the application
// supplies: this package never imports sensor or incident. Every signal
// expires (Until, default Config.SignalTTL); a clock timer, not a caller's
// polling, lowers the level again and publishes EventLevelChanged. Late
// readings never replace newer ones.
//
// IssueWarning raises every point inside a warning's areas — the small
// river basins of a meteorological geological-hazard warning (S8) — for
// the warning's period, atomically; CancelWarning lifts it early, and
// AreaWarning.WriteCAP publishes it as OASIS CAP 1.2 with its polygons.
//
// # Spatial queries and maps
//
// Within (radius), InArea (polygon) and InRegion (a grid subtree) answer
// from the store's spatial index and return Hits, enough for a marker;
// GeoJSON exports a FeatureCollection whose features carry the colour as a
// name and a CSS fill. Reads are filtered by the authorizer: a street
// officer sees her street's points.
//
// # Hazard impact and evacuation
//
// Impact takes a Hazard — a point with concentric Zones (a tank leak) or
// an area (a water outage) — and counts the risk points, buildings and
// registered population in each zone. Plan assigns the affected groups to
// shelters under capacity limits, nearest first and inner zones first
// (the algorithm is documented on Plan), names each group's assembly
// point, and calls the nearest supply depots and teams; Replan keeps what
// still fits when a shelter fills or closes, and Diff says who moves. The
// plan is a plain value with a deterministic order.
//
// # Enterprises and inspections
//
// RegisterEnterprise tiers an enterprise red, yellow or green from its
// credit and its points' levels with a configurable, decimal Tiering
// (blacklisted enterprises are red). PlanInspections generates a
// quarter's visits from the tiers (red every quarter, yellow once a year),
// adds a seeded, reproducible random draw (双随机: DrawTargets lets anyone
// check it), and merges several departments' tasks on one enterprise into
// one joint visit (S7). Inspections follow checklists such as
// NineSmallPlaces (S17); each finding is a rectification notice with a
// deadline, escalated by EventRectificationDue when it passes, and closed
// only by a verifier other than whoever reported the work done.
//
// # Access, events and storage
//
// Every Service method reads the actor from the context and asks the
// access.Authorizer (ActionRegister, ActionAssess, ActionSignal,
// ActionRead, ActionWarn, ActionAnalyse, …) on the resource's
// jurisdiction. Changes and their events (gov.<city>.<district>.<street>.
// risk.<event>) are written together through the Store's outbox and
// published after commit. MemoryStore (go-memdb with a geo.Index) is the
// embedded default; package risktest is the conformance suite any Store
// runs.
package risk
