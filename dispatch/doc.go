// Package dispatch decides who handles a case, how fast, and what happens
// when they don't: routing across departments and the city, district and
// street tiers, work orders with SLA clocks, escalation, the nearest
// available responder, multi-department playbooks and evaluation.
//
// It works on incidents through events and IDs, not by importing package
// incident: a Case is a category, a place (the region path) and perhaps an
// asset; FollowIncidents dispatches every case an incident service
// registers, and its events (EventOffered, EventStarted, EventCaseDisposed
// when every mandatory branch is done, …) let the incident side follow
// (incident's FollowDispatch).
//
// # Routing
//
// An Org holds the bodies — departments and teams at each tier — with the
// function each serves ("city-management", "enforcement") where. A Router
// sends a category in an area (any subtree) to a lead handler (主办) and
// co-handlers (协办) in parallel; a Handler names a body, or "the
// enforcement team of the case's street", resolved per case. The most
// specific rule wins in both category (code > prefix* > *) and area;
// rules that tie are refused when loaded, not found at dispatch time. Asset
// ownership (AssetRule) overrides area. Every Decision explains which rule
// won and why the others lost; DryRun shows what a new rule set would
// change. Routing runs at about a million cases a second over 11,000
// categories and 65,000 grids.
//
// # Work orders
//
// Each branch is a WorkOrder with its own clocks on the business calendar
// (Policy): offered → signed for (签收) or returned (退回, with a reason,
// within the return window) → in progress → done → verified, or back for
// rework. Extensions need a supervisor's approval, suspension pauses the
// clocks, chase-ups (催办) and supervision (督办) press without
// reassigning. Returns cannot ping-pong: the MaxReturns-th return of a case
// sends it to the tier above for a binding assignment, and the working time
// lost is recorded on its CaseFile.
//
// An order not signed for in time reminds the on-duty supervisor (Roster);
// one not done in time escalates up the hierarchy — grid, community,
// street, district, city — skipping levels with nobody on duty. The
// injected clock drives all of it: nobody polls.
//
// Volunteer tasks follow the same loop: OfferTask collects one, Tasks
// lists what awaits a volunteer, SignFor accepts, Evaluate rates.
//
// # Playbooks
//
// A Playbook is a versioned graph of steps with dependencies and
// conditions, started by category or by an alarm (TriggerAlarm): S4's
// water-main burst confirms, shuts the valve, controls traffic and protects
// telecom lines if needed, repairs, restores the road and verifies, across
// departments, with Progress showing each step.
//
// # Responders
//
// Responders tracks grid members, patrols and teams: position, status,
// skills, capacity. Nearest finds the nearest available responder with a
// skill; Coverage and Gaps check S3's "1-3-5" rule — someone within 1, 3
// and 5 minutes. A TravelEstimator lets a district plug in real routing.
//
// # Evaluation, events and notices
//
// Indicators rates bodies, departments and grids on accurate dispatch,
// on-time sign-for and completion, rework and satisfaction, ranked in five
// colours. Every change is published on the bus under
// gov.<city>.<district>.<street>.dispatch.<event>, so city, district and
// street centres can run as separate deployments, each subscribed to its
// own subtree. A work order's events go under the jurisdiction of the
// body it is for — gov.<city>.<district>.dispatch.<event> for a district
// bureau, gov.<city>.dispatch.<event> for a city department — so that in
// S16 the street team of the district that owns the truck's site sees the
// order for a case filmed in another district; events about a whole case
// (EventCaseDisposed, EventNoRoute) go under the case's place, and every
// payload's Path is the case's. Config.Regions gives the bodies' places;
// without it only the case's path is known (see its field). Notifier
// offers work and sends reminders (MemoryNotifier; Webhook with signed
// payloads and retries). Every command asks the access layer's authorizer.
// A work order lies where its case lies and where its body serves: an
// actor whose scope covers neither is refused, one whose scope covers only
// the body's unit (S16's street team, working a case of another district)
// is checked there. Reminders and escalations climb the body's own chain
// of units, and Orders with a Body lists that body's orders wherever their
// cases lie.
package dispatch
