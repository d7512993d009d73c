// Package permit runs "one thing" bundled applications (一件事一次办), their
// joint review by several departments, and the coordination of road works
// that keeps a street from being dug twice (the "road zipper", 马路拉链).
//
// # Bundles
//
// A Template is a versioned graph of items, one per department: the
// newborn bundle of Chongqing's S19 scenario joins the birth-service
// certificate (health commission), household registration (public
// security), medical insurance (healthcare security), the social-security
// card (human resources) and the vaccination record (CDC). Each Item
// names its department, the canonical Fields and Documents it needs, the
// Outputs it produces and its SLA in working time. An item that Needs
// another's output waits until that item is approved; items that need
// nothing of each other are reviewed in parallel (Template.Stages shows
// the stages); and an output is never asked of the applicant — a template
// in which a field carries an output's ID is refused, as are cycles,
// references to nothing, joint reviews whose members depend on each other
// and required items that need optional ones. PublishTemplate stores each
// version once; applications keep the version they started with.
//
// # One form
//
// The form is the de-duplicated union of the items' fields (Template.Form,
// Service.Form): the mother's ID number is entered once though four
// departments need it. Fields are typed (FieldKind); names, ID numbers,
// phone numbers and addresses are held as pii.Data, which masks itself in
// every log, event and error. Where a list can replace typing, a choice
// field offers it, and a registry that holds several values for a field
// (two registered addresses) offers them as choices.
//
// Registries prefill fields through the pluggable Lookup, once-only: a
// field names its Source, Prefill records the applicant's consent to a
// source and only then asks it, and the values it returns are shown as
// Offers on the form and used only when the applicant accepts them in
// Fill. No consent, no lookup.
//
// A relative may apply for a person with a disability: StartRequest's
// OnBehalf records the principal, the relationship (one the template
// allows) and the document it rests on; lookups then ask about the
// principal, and neither the applicant nor the principal may review.
//
// Fill and Submit validate every value for its field and report all
// problems at once as a *FormError with a Problem per field (never
// repeating the value). Submit refuses a draft with a required field or
// document missing: nothing enters review incomplete.
//
// # Review
//
// Each item is reviewed by its department (ActionReview with the item's
// department, so a same-department grant confines a reviewer to her own
// items, and jurisdiction scoping to her own district). Reviewers Approve
// (giving the item's outputs and ticking its checklist), Reject with
// reasons, or SendBack the exact fields and documents to correct. The
// applicant then corrects those and only those (Resubmit); the replaced
// answers are kept with the Correction and every step in the History.
// Approved items whose fields were corrected are reviewed again.
//
// Items with the same Item.Joint form one joint review — "related
// approvals reviewed once": they start together, share a merged
// checklist (a line several departments need is ticked once), and their
// send-backs are held until every member has decided, so the applicant
// gets one merged request and resubmits once.
//
// Every item in review has a deadline on the business calendar, and the
// bundle one from submission; both clocks stop while the applicant holds
// the application and resume where they stopped. A clock timer (never a
// sleep or a poll) escalates an overdue item to its department's
// leadership, then to the template's Owner, every EscalateEvery up to
// MaxEscalations, and the bundle the same way. Track gives the applicant,
// at any time, who holds each item, its deadline, the expected finish of
// the whole bundle, and the history.
//
// When every item is done the bundle completes and its outputs are issued
// together, in one "completed" event; the application's wiring acts on it
// — in S1, housing, police and fire approve a rental room and a listing
// code is issued by the codes package. A refused required item refuses
// the bundle and no output is issued.
//
// # Road works
//
// ApplyExcavation records a promoter's application to dig a Segment of
// the Network in a Window. Planned works inside a Moratorium — no
// digging for Config.MoratoriumYears after resurfacing or completed
// works — are refused with a *MoratoriumError; emergencies are exempt.
// Two applications clash when they are on the same segment or their
// sites lie within ClashRules.Buffer of each other, and their windows
// overlap once stretched by ClashRules.Slack. ClashIndex (an R-tree over
// the sites) answers this per application. ApplyExcavation builds one
// over the candidates alone: the open works on the new application's
// segment, and those whose sites' boxes meet the new site's box grown by
// the buffer (ExcavationQuery.Near, which each store answers from a
// spatial index). So the cost of an application grows with the works
// near it and on its segment, not with those open across the city, and
// it finds exactly the clashes a check against every open work would.
// DetectClashes groups
// applications connected by clashes, flags those inside a moratorium, and
// names a lead promoter (an emergency's, else the one with the most
// works). Coordinate turns each group into a proposed JointExcavation;
// AcceptJoint merges its members into one dig; CompleteJoint and
// CompleteExcavation create the moratoria at once; Merged reports the
// share of applications merged (S6 reports more than 70%).
//
// # Events and storage
//
// Every change is written with its history and its events in one
// Store.Apply: events go to the store's outbox and are published after
// commit, on subjects gov.<city>.<district>.<street>.permit.<event>
// ("started", "submitted", "item-started", "item-approved",
// "item-sent-back", "returned", "resubmitted", "item-escalated",
// "completed", "rejected", "works-applied", "joint-proposed",
// "moratorium-declared", …), each carrying an Event as JSON.
//
// Bad input gets a typed error (*FormError, *CommandError,
// *TemplateError, *TransitionError, *MoratoriumError) and changes nothing.
// Commands carry idempotency keys (a key applied before returns the
// current state) and optional expected versions (a stale one fails with
// ErrConflict; without one, a concurrent change is retried on fresh
// state). Store is the package's own interface; MemoryStore (go-memdb) is
// the embedded default, and package permittest is the conformance suite
// every implementation runs.
package permit
