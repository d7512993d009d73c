package permit

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/govkit/govkit/pii"
	"github.com/govkit/govkit/region"
)

// Status is where an application stands as a whole.
type Status int8

// Application statuses.
const (
	Draft     Status = iota + 1 // being filled in
	InReview                    // submitted; the departments hold it
	Returned                    // sent back: the applicant must correct marked fields
	Completed                   // every required item approved; outputs issued
	Rejected                    // a required item was refused
)

var statusNames = [...]string{Draft: "draft", InReview: "in-review", Returned: "returned", Completed: "completed", Rejected: "rejected"}

// String returns the status name, such as "in-review".
func (s Status) String() string {
	if s < Draft || s > Rejected {
		return fmt.Sprintf("Status(%d)", int8(s))
	}
	return statusNames[s]
}

// Open reports whether the application is still in progress.
func (s Status) Open() bool { return s >= Draft && s <= Returned }

// ItemStatus is where one item stands.
type ItemStatus int8

// Item statuses.
const (
	ItemWaiting   ItemStatus = iota + 1 // waiting for outputs of other items, or for its joint review
	ItemInReview                        // its department holds it; its clock runs
	ItemSentBack                        // returned for corrections; its clock is stopped
	ItemApproved                        // done; its outputs are recorded
	ItemRejected                        // refused, with reasons
	ItemCancelled                       // never reviewed: the bundle was refused, or an input was
)

var itemStatusNames = [...]string{
	ItemWaiting: "waiting", ItemInReview: "in-review", ItemSentBack: "sent-back",
	ItemApproved: "approved", ItemRejected: "rejected", ItemCancelled: "cancelled",
}

// String returns the status name, such as "sent-back".
func (s ItemStatus) String() string {
	if s < ItemWaiting || s > ItemCancelled {
		return fmt.Sprintf("ItemStatus(%d)", int8(s))
	}
	return itemStatusNames[s]
}

// Done reports whether the item is decided one way or another.
func (s ItemStatus) Done() bool { return s >= ItemApproved }

// Application is one bundle applied for: the answers once for all items,
// the state of each item, corrections, checklists and history.
type Application struct {
	ID              uuid.UUID
	Key             string // the idempotency key it was started with
	Template        string
	TemplateVersion int
	Jurisdiction    region.Code // where it is handled
	Applicant       string      // actor ID of whoever applies
	// OnBehalf is set when the applicant acts for someone else.
	OnBehalf *Authorisation
	Status   Status

	Answers   map[string]Answer   // by field ID
	Documents map[string]Document // by document ID
	Offers    map[string]Offer    // prefilled values shown, not yet used
	Consents  []Consent

	Items       []ItemState  // in template order
	Checks      []CheckLine  // review checklists, merged per joint review
	Corrections []Correction // send-backs, oldest first
	Outputs     map[string]Value
	History     []Step

	Created   time.Time
	Submitted time.Time
	Finished  time.Time
	// Deadline is the bundle's SLA deadline; zero when the template sets
	// none, or while the clock is stopped (PausedAt set, Remaining left).
	Deadline    time.Time
	PausedAt    time.Time
	Remaining   time.Duration
	Escalations int       // escalation level of the bundle's own deadline
	BundleCheck time.Time // when the bundle's deadline is next looked at
	NextCheck   time.Time // when the SLA timer next looks at the application

	Keys    []string // idempotency keys of commands applied, most recent last
	Version int64
}

// Answer is the value of one field and where it came from.
type Answer struct {
	Value  Value
	Source string // "applicant", or "registry:<source>" for a prefilled value
	At     time.Time
}

// Offer is a value a registry holds for a field, shown to the applicant
// with consent and used only when the applicant accepts it. Several values
// are offered as choices.
type Offer struct {
	Source string
	Values []Value
	At     time.Time
}

// Consent records that the applicant allowed a registry to be asked.
type Consent struct {
	Source string
	By     string
	At     time.Time
}

// Authorisation records that the applicant acts for someone else: whom, in
// what relationship, on what basis.
type Authorisation struct {
	Principal    string   // pseudonymous ID of the person represented
	Name         pii.Data // the principal's name
	IDNumber     pii.Data // the principal's ID number, if given
	Relationship string   // one of the template's Proxies
	Basis        Document // the power of attorney, guardianship certificate, …
	ValidUntil   time.Time
	RecordedBy   string    // set by the service
	RecordedAt   time.Time // set by the service
}

// ItemState is where one item of an application stands.
type ItemState struct {
	Item       string
	Department string
	Joint      string
	Optional   bool
	Status     ItemStatus
	Round      int       // 1 for the first review, one more per resubmission
	Started    time.Time // when the current review began
	Deadline   time.Time // zero while waiting or paused
	PausedAt   time.Time // set while sent back
	Remaining  time.Duration
	Finished   time.Time
	Reviewer   string
	Reasons    []string         // why it was refused
	Marks      []Mark           // a joint review's send-back, held until the review concludes
	Outputs    map[string]Value // what it produced
	Escalated  int              // escalation level reached
	EscalateTo string           // who was told last
	NextCheck  time.Time
}

// CheckLine is one line of a review checklist. In a joint review, a line
// several items share appears once.
type CheckLine struct {
	ID        string
	Text      string
	Joint     string
	Items     []string
	Confirmed bool
	By        string
	At        time.Time
}

// Correction is a request, sent to the applicant, to correct marked fields
// and documents.
type Correction struct {
	Seq       int
	Items     []string
	Marks     []Mark
	Requested time.Time
	Resolved  time.Time
	// Previous holds the answers the resubmission replaced.
	Previous map[string]Answer
}

// Mark is one field (or "documents.<id>") a reviewer wants corrected.
type Mark struct {
	Item   string
	Field  string
	Reason string
	By     string
}

// Step is one entry of an application's history.
type Step struct {
	Time   time.Time
	Actor  string
	Action string
	Item   string
	Note   string
	Fields []string
}

// maxKeys bounds the idempotency keys an application remembers.
const maxKeys = 64

func (a *Application) item(id string) (int, *ItemState) {
	for i := range a.Items {
		if a.Items[i].Item == id {
			return i, &a.Items[i]
		}
	}
	return -1, nil
}

func (a *Application) seen(key string) bool { return key != "" && slices.Contains(a.Keys, key) }

func (a *Application) remember(key string) {
	if key == "" {
		return
	}
	a.Keys = append(a.Keys, key)
	if len(a.Keys) > maxKeys {
		a.Keys = slices.Clone(a.Keys[len(a.Keys)-maxKeys:])
	}
}

// OpenCorrection returns the correction awaiting the applicant, if any.
func (a *Application) OpenCorrection() (Correction, bool) {
	for _, c := range a.Corrections {
		if c.Resolved.IsZero() {
			return c, true
		}
	}
	return Correction{}, false
}

// Clone returns a deep copy of a.
func (a Application) Clone() Application {
	if a.OnBehalf != nil {
		ob := *a.OnBehalf
		a.OnBehalf = &ob
	}
	a.Answers = cloneAnswers(a.Answers)
	a.Documents = maps.Clone(a.Documents)
	if a.Offers != nil {
		offers := make(map[string]Offer, len(a.Offers))
		for k, o := range a.Offers {
			o.Values = cloneSlice(o.Values, Value.clone)
			offers[k] = o
		}
		a.Offers = offers
	}
	a.Consents = slices.Clone(a.Consents)
	a.Items = cloneSlice(a.Items, func(it ItemState) ItemState {
		it.Reasons = slices.Clone(it.Reasons)
		it.Marks = slices.Clone(it.Marks)
		it.Outputs = cloneValues(it.Outputs)
		return it
	})
	a.Checks = cloneSlice(a.Checks, func(c CheckLine) CheckLine { c.Items = slices.Clone(c.Items); return c })
	a.Corrections = cloneSlice(a.Corrections, func(c Correction) Correction {
		c.Items = slices.Clone(c.Items)
		c.Marks = slices.Clone(c.Marks)
		c.Previous = cloneAnswers(c.Previous)
		return c
	})
	a.Outputs = cloneValues(a.Outputs)
	a.History = cloneSlice(a.History, func(s Step) Step { s.Fields = slices.Clone(s.Fields); return s })
	a.Keys = slices.Clone(a.Keys)
	return a
}

func cloneAnswers(m map[string]Answer) map[string]Answer {
	if m == nil {
		return nil
	}
	out := make(map[string]Answer, len(m))
	for k, v := range m {
		v.Value = v.Value.clone()
		out[k] = v
	}
	return out
}

func cloneValues(m map[string]Value) map[string]Value {
	if m == nil {
		return nil
	}
	out := make(map[string]Value, len(m))
	for k, v := range m {
		out[k] = v.clone()
	}
	return out
}

// reviewDepartments returns the departments holding an item in review, for
// worklists.
func (a *Application) reviewDepartments() []string {
	var out []string
	for _, it := range a.Items {
		if it.Status == ItemInReview && !slices.Contains(out, it.Department) {
			out = append(out, it.Department)
		}
	}
	return out
}
