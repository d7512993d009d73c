package open311

import (
	"strings"

	"github.com/govkit/govkit/incident"
)

// The extended statuses of mySociety's FixMyStreet Open311 extension, in
// the upper-case form FixMyStreet sends them (POST servicerequestupdates).
// Open311 GeoReport v2 itself knows only "open" and "closed".
//
// Sources: the status a FixMyStreet problem state becomes on the wire is
// set in _populate_service_request_update_params of perllib/Open311.pm in
// github.com/mysociety/fixmystreet (FIXED, IN_PROGRESS, ACTION_SCHEDULED
// for "action scheduled" and "planned", INVESTIGATING, DUPLICATE,
// NOT_COUNCILS_RESPONSIBILITY, NO_FURTHER_ACTION for "unable to fix",
// INTERNAL_REFERRAL, REOPEN, else OPEN or CLOSED); the lower-case
// enumeration mySociety's open311-adapter serves is in
// perllib/Open311/Endpoint/Service/Request/Update/mySociety.pm of
// github.com/mysociety/open311-adapter (open, closed, fixed, in_progress,
// planned, action_scheduled, investigating, duplicate,
// not_councils_responsibility, no_further_action, internal_referral,
// reopen, for_triage).
const (
	Open                      = "OPEN"
	Investigating             = "INVESTIGATING"
	Planned                   = "PLANNED"
	ActionScheduled           = "ACTION_SCHEDULED"
	InProgress                = "IN_PROGRESS"
	Fixed                     = "FIXED"
	NoFurtherAction           = "NO_FURTHER_ACTION"
	NotCouncilsResponsibility = "NOT_COUNCILS_RESPONSIBILITY"
	Duplicate                 = "DUPLICATE"
	InternalReferral          = "INTERNAL_REFERRAL"
	Closed                    = "CLOSED"
)

// ExtendedStatus returns the extended status of a case in status s with
// resolution r (r matters only for Closed and Evaluated):
//
//	govkit status           resolution        extended status
//	Reported                                  OPEN
//	Triage                                    INVESTIGATING
//	Registered              (立案)            PLANNED
//	Dispatched              (派遣)            ACTION_SCHEDULED
//	InProgress                                IN_PROGRESS
//	Disposed, Verifying                       IN_PROGRESS        lossy
//	Rejected                (不予立案)        CLOSED             lossy
//	Closed, Evaluated       Fixed             FIXED
//	Closed, Evaluated       NoFurtherAction   NO_FURTHER_ACTION
//	Closed, Evaluated       NotResponsible    NOT_COUNCILS_RESPONSIBILITY
//	Closed, Evaluated       Duplicate         DUPLICATE
//	Closed, Evaluated       Referred          INTERNAL_REFERRAL
//	Closed, Evaluated       Cancelled         CLOSED             lossy
//	Closed, Evaluated       none              CLOSED
//
// Evaluated is exported as Closed with its resolution (the rating has no
// Open311 form). A rejection gives CLOSED rather than
// NOT_COUNCILS_RESPONSIBILITY because a case is declined for other reasons
// too (a false or unclear report); the reason is on the timeline. An
// unknown status gives "".
func ExtendedStatus(s incident.Status, r incident.Resolution) string {
	switch s {
	case incident.Reported:
		return Open
	case incident.Triage:
		return Investigating
	case incident.Registered:
		return Planned
	case incident.Dispatched:
		return ActionScheduled
	case incident.InProgress, incident.Disposed, incident.Verifying:
		return InProgress
	case incident.Rejected:
		return Closed
	case incident.Closed, incident.Evaluated:
		switch r {
		case incident.Fixed:
			return Fixed
		case incident.NoFurtherAction:
			return NoFurtherAction
		case incident.NotResponsible:
			return NotCouncilsResponsibility
		case incident.Duplicate:
			return Duplicate
		case incident.Referred:
			return InternalReferral
		}
		return Closed
	}
	return ""
}

type lifecycle struct {
	status     incident.Status
	resolution incident.Resolution
}

// imported maps a normalised extended status to govkit's terms.
var imported = map[string]lifecycle{
	Open:                      {incident.Reported, 0},
	Investigating:             {incident.Triage, 0},
	"FOR_TRIAGE":              {incident.Triage, 0},
	Planned:                   {incident.Registered, 0},
	"REOPEN":                  {incident.Registered, 0},
	ActionScheduled:           {incident.Dispatched, 0},
	InProgress:                {incident.InProgress, 0},
	Fixed:                     {incident.Closed, incident.Fixed},
	NoFurtherAction:           {incident.Closed, incident.NoFurtherAction},
	"UNABLE_TO_FIX":           {incident.Closed, incident.NoFurtherAction},
	NotCouncilsResponsibility: {incident.Closed, incident.NotResponsible},
	"NOT_RESPONSIBLE":         {incident.Closed, incident.NotResponsible},
	Duplicate:                 {incident.Closed, incident.Duplicate},
	InternalReferral:          {incident.Closed, incident.Referred},
	Closed:                    {incident.Closed, 0},
}

// ParseExtendedStatus returns the govkit status and resolution of an Open311
// status, plain ("open", "closed") or extended ("IN_PROGRESS",
// "not_councils_responsibility", "action scheduled"): case is ignored, and
// spaces, hyphens and underscores are alike. Besides the constants of this
// package it accepts the aliases FixMyStreet uses: FOR_TRIAGE (Triage),
// REOPEN (Registered, where a reopened case goes), UNABLE_TO_FIX and
// NOT_RESPONSIBLE (its problem states).
//
//	extended status                    govkit status   resolution
//	OPEN                               Reported
//	INVESTIGATING, FOR_TRIAGE          Triage
//	PLANNED, REOPEN                    Registered
//	ACTION_SCHEDULED                   Dispatched
//	IN_PROGRESS                        InProgress
//	FIXED                              Closed          Fixed
//	NO_FURTHER_ACTION, UNABLE_TO_FIX   Closed          NoFurtherAction
//	NOT_COUNCILS_RESPONSIBILITY        Closed          NotResponsible
//	DUPLICATE                          Closed          Duplicate
//	INTERNAL_REFERRAL                  Closed          Referred
//	CLOSED                             Closed          none (0)
//
// CLOSED says the case is closed and not how, so the resolution is zero and
// the caller decides; a plain "closed" from a server without extended
// statuses usually means resolved (FixMyStreet reads it as fixed), which
// only the caller can know. Every mapping in this table round-trips
// through ExtendedStatus except the aliases.
//
// An unknown status gives a *StatusError matching ErrUnknownStatus.
func ParseExtendedStatus(s string) (incident.Status, incident.Resolution, error) {
	if lc, ok := imported[normalizeStatus(s)]; ok {
		return lc.status, lc.resolution, nil
	}
	if len(s) > 40 {
		s = s[:40]
	}
	return 0, 0, &StatusError{Status: s}
}

// normalizeStatus upper-cases s and joins its words with single
// underscores, so that "in progress", "In-Progress" and "IN_PROGRESS" meet.
func normalizeStatus(s string) string {
	if len(s) > 64 {
		return ""
	}
	return strings.Join(strings.FieldsFunc(strings.ToUpper(s), func(r rune) bool {
		return r == ' ' || r == '-' || r == '_' || r == '\t'
	}), "_")
}

// plainStatus returns the GeoReport v2 status of s: open or closed.
func plainStatus(s incident.Status) string {
	if s.Open() {
		return "open"
	}
	return "closed"
}
