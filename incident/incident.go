package incident

import (
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/pii"
	"github.com/govkit/govkit/region"
)

// Channel is how a report reached the city.
type Channel int8

// Channels.
const (
	Hotline     Channel = iota + 1 // 12345 citizen hotline
	CitizenApp                     // mini-program or app
	GridMember                     // a grid member's one-tap report
	VideoAI                        // a camera's AI detection
	SensorAlarm                    // an IoT alarm
	Inspection                     // a planned inspection's finding
	Agency                         // another agency or another district's centre
)

var channelNames = [...]string{
	Hotline: "hotline", CitizenApp: "citizen-app", GridMember: "grid-member", VideoAI: "video-ai",
	SensorAlarm: "sensor-alarm", Inspection: "inspection", Agency: "agency",
}

// String returns the channel name.
func (c Channel) String() string {
	if c < Hotline || c > Agency {
		return fmt.Sprintf("Channel(%d)", int8(c))
	}
	return channelNames[c]
}

// ParseChannel returns the channel with the given name.
func ParseChannel(s string) (Channel, error) {
	for c := Hotline; c <= Agency; c++ {
		if channelNames[c] == s {
			return c, nil
		}
	}
	return 0, fmt.Errorf("%w: unknown channel %q", ErrInvalidReport, s)
}

// Machine reports whether reports from c are made by a machine, whose
// confidence decides between registration and triage.
func (c Channel) Machine() bool { return c == VideoAI || c == SensorAlarm }

// Status is where a case stands in the closed loop of digital urban
// management: collect → register → dispatch → handle → verify → close →
// evaluate.
type Status int8

// Statuses.
const (
	Reported   Status = iota + 1 // received, awaiting registration
	Triage                       // a machine report awaiting a person's judgement
	Registered                   // 立案: accepted as a case
	Rejected                     // 不予立案: not accepted
	Dispatched                   // 派遣: sent to handlers
	InProgress                   // 处置中: a handler is on it
	Disposed                     // 处置完毕: the handler reports it done
	Verifying                    // 核查: someone else checks the result
	Closed                       // 结案
	Evaluated                    // 评价: the reporter rated the outcome
)

var statusNames = [...]string{
	Reported: "reported", Triage: "triage", Registered: "registered", Rejected: "rejected",
	Dispatched: "dispatched", InProgress: "in-progress", Disposed: "disposed", Verifying: "verifying",
	Closed: "closed", Evaluated: "evaluated",
}

// String returns the status name.
func (s Status) String() string {
	if s < Reported || s > Evaluated {
		return fmt.Sprintf("Status(%d)", int8(s))
	}
	return statusNames[s]
}

// ParseStatus returns the status with the given name.
func ParseStatus(name string) (Status, error) {
	for s := Reported; s <= Evaluated; s++ {
		if statusNames[s] == name {
			return s, nil
		}
	}
	return 0, fmt.Errorf("%w: unknown status %q", ErrInvalidQuery, name)
}

// Open reports whether a case in status s still needs work.
func (s Status) Open() bool { return s >= Reported && s <= Verifying && s != Rejected }

// Resolution says how a closed case ended.
type Resolution int8

// Resolutions.
const (
	Fixed          Resolution = iota + 1
	NotResponsible            // not this authority's matter
	Duplicate                 // merged into another case
	NoFurtherAction
	Referred  // handed to another body
	Cancelled // withdrawn by the reporter or raised in error
)

var resolutionNames = [...]string{
	Fixed: "fixed", NotResponsible: "not-responsible", Duplicate: "duplicate",
	NoFurtherAction: "no-further-action", Referred: "referred", Cancelled: "cancelled",
}

// String returns the resolution name.
func (r Resolution) String() string {
	if r < Fixed || r > Cancelled {
		return fmt.Sprintf("Resolution(%d)", int8(r))
	}
	return resolutionNames[r]
}

// ParseResolution returns the resolution with the given name.
func ParseResolution(s string) (Resolution, error) {
	for r := Fixed; r <= Cancelled; r++ {
		if resolutionNames[r] == s {
			return r, nil
		}
	}
	return 0, fmt.Errorf("%w: unknown resolution %q", ErrInvalidReport, s)
}

// Reporter is one person or system that reported the case. Contact details
// are personal data and mask themselves in every output.
type Reporter struct {
	ActorID    string // pseudonymous; empty when anonymous
	Channel    Channel
	Name       pii.Data
	Phone      pii.Data
	ReportedAt time.Time
	ExternalID string // the case's ID in the reporter's system, if any
}

// Anonymous reports whether the reporter left no identity.
func (r Reporter) Anonymous() bool { return r.ActorID == "" && r.Name.IsZero() && r.Phone.IsZero() }

// Location is where the case is.
type Location struct {
	Point    geo.Point     // WGS-84
	Address  string        // as reported; not personal data (it names a place, not a person)
	Accuracy float64       // metres, 0 if unknown
	Path     []region.Code // city … grid, resolved from Point
}

// Grid returns the deepest unit of the path, usually a grid.
func (l Location) Grid() region.Code {
	if len(l.Path) == 0 {
		return ""
	}
	return l.Path[len(l.Path)-1]
}

// Evidence is a photo, video or document kept elsewhere, referenced with a
// content hash so that a swapped file is detected.
type Evidence struct {
	URI       string
	SHA256    string // hex
	MediaType string
}

// Times records when each phase began; zero until it has.
type Times struct {
	Reported, Registered, Dispatched, Started, Disposed, Verified, Closed, Evaluated time.Time
}

// Clock is a case's running SLA clock: the phase being timed, its deadline
// on the business calendar and pause bookkeeping.
type Clock struct {
	Phase    Status    // the status whose duration is timed, e.g. Registered
	Deadline time.Time // zero when the phase is not timed
	PausedAt time.Time // non-zero while paused
	Reason   string    // why it is paused
	Overdue  bool      // the deadline passed before the phase ended
}

// Incident is the case file.
type Incident struct {
	ID          uuid.UUID
	ExternalIDs map[string]string // source system → its ID
	Channel     Channel           // of the first report
	Reporters   []Reporter
	Category    string
	Attributes  map[string][]string
	Description string
	Location    Location
	Priority    Priority
	Confidence  float64 // 0–1 for machine reports, 0 for people
	Evidence    []Evidence
	Status      Status
	Resolution  Resolution // set when closed
	Times       Times
	SLA         Clock
	Handlers    []string // actor IDs who took it in hand
	Reworks     int      // times verification sent it back
	Reopens     int
	Rating      int // 1–5 when evaluated
	MergedInto  uuid.UUID
	MergedFrom  []uuid.UUID
	SplitFrom   uuid.UUID
	Keys        []string  // idempotency keys of the reports that make up the case
	Penalties   []Penalty // administrative penalties decided while handling it (RecordPenalty)
	Version     int64     // bumped by every change; for optimistic concurrency
}

// Clone returns a deep copy, so that stores and callers never share slices
// or maps.
func (inc Incident) Clone() Incident {
	out := inc
	if inc.ExternalIDs != nil {
		out.ExternalIDs = make(map[string]string, len(inc.ExternalIDs))
		for k, v := range inc.ExternalIDs {
			out.ExternalIDs[k] = v
		}
	}
	out.Reporters = slices.Clone(inc.Reporters)
	if inc.Attributes != nil {
		out.Attributes = make(map[string][]string, len(inc.Attributes))
		for k, v := range inc.Attributes {
			out.Attributes[k] = slices.Clone(v)
		}
	}
	out.Location.Path = slices.Clone(inc.Location.Path)
	out.Evidence = slices.Clone(inc.Evidence)
	out.Handlers = slices.Clone(inc.Handlers)
	out.MergedFrom = slices.Clone(inc.MergedFrom)
	out.Keys = slices.Clone(inc.Keys)
	if inc.Penalties != nil {
		out.Penalties = make([]Penalty, len(inc.Penalties))
		for i := range inc.Penalties {
			out.Penalties[i] = inc.Penalties[i].clone()
		}
	}
	return out
}
