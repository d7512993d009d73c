// Package dispatch decides who handles a case, how fast, and what happens
// when they don't: routing across departments and the city, district and
// street tiers, work orders with SLA clocks, escalation, the nearest
// available responder, and multi-department playbooks.
//
// It works on incidents through events and IDs, not by importing package
// incident: an application feeds it the category, place and asset of a
// case (Case) and publishes its decisions on the bus.
package dispatch
