package incident

// next lists the statuses each status may move to. Closing is special: a
// case closes as Fixed only after verification, and with any other
// resolution from any open status (see canClose).
var next = map[Status][]Status{
	Reported:   {Triage, Registered, Rejected},
	Triage:     {Registered, Rejected},
	Registered: {Dispatched},
	Dispatched: {InProgress, Registered}, // returned for re-dispatch
	InProgress: {Disposed},
	Disposed:   {Verifying},
	Verifying:  {Closed, InProgress}, // passed, or sent back for rework
	Closed:     {Evaluated, Registered},
	Evaluated:  {Registered}, // reopened
}

// CanMove reports whether the lifecycle allows from → to (closing as
// anything but Fixed is checked by CanClose).
func CanMove(from, to Status) bool {
	for _, s := range next[from] {
		if s == to {
			return true
		}
	}
	return false
}

// CanClose reports whether a case in status from may close with resolution
// r: Fixed only from Verifying; the others from any open status.
func CanClose(from Status, r Resolution) bool {
	if r < Fixed || r > Cancelled {
		return false
	}
	if r == Fixed {
		return from == Verifying
	}
	return from.Open()
}
