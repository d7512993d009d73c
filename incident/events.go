package incident

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/region"
)

// Event names: the last token of an incident event's subject.
const (
	EventReported      = "reported"
	EventRegistered    = "registered"
	EventRejected      = "rejected"
	EventTriaged       = "triaged"
	EventDispatched    = "dispatched"
	EventReturned      = "returned"
	EventStarted       = "started"
	EventDisposed      = "disposed"
	EventVerifying     = "verifying"
	EventReworked      = "reworked"
	EventClosed        = "closed"
	EventEvaluated     = "evaluated"
	EventReopened      = "reopened"
	EventMerged        = "merged"
	EventSplit         = "split"
	EventOverdue       = "overdue"
	EventPaused        = "sla-paused"
	EventResumed       = "sla-resumed"
	EventReportedAgain = "reported-again" // a further report auto-merged into the case
	EventPenalized     = "penalized"      // an administrative penalty was recorded (RecordPenalty)
)

// EventData is the JSON payload of every incident event. Consumers such as
// dispatch decode it with DecodeEvent; it carries what they need to act
// without reading the store, and no personal data.
type EventData struct {
	Event    string        `json:"event"`
	ID       uuid.UUID     `json:"id"`
	Version  int64         `json:"version"`
	From     string        `json:"from,omitempty"`
	To       string        `json:"to"`
	Category string        `json:"category"`
	Priority string        `json:"priority"`
	Grid     region.Code   `json:"grid"`
	Path     []region.Code `json:"path"`
	Lat      float64       `json:"lat"`
	Lon      float64       `json:"lon"`
	// Asset is the asset the case concerns (its AssetAttribute), so that
	// dispatch can route by asset from the event alone.
	Asset      string      `json:"asset,omitempty"`
	Actor      string      `json:"actor,omitempty"`
	Resolution string      `json:"resolution,omitempty"`
	Deadline   *time.Time  `json:"deadline,omitempty"`
	Related    []uuid.UUID `json:"related,omitempty"` // merged or split cases
	// Reporters are the actor IDs of everyone who reported the case, so
	// that each can be told of the outcome, merged reports included.
	Reporters []string `json:"reporters,omitempty"`
	// Decision and Fine describe the penalty an EventPenalized announces:
	// the decision's number and the fine in yuan as a decimal string
	// ("2000.00"), exact, for apd.Decimal.SetString. The payer stays out.
	Decision string    `json:"decision,omitempty"`
	Fine     string    `json:"fine,omitempty"`
	Note     string    `json:"note,omitempty"`
	Time     time.Time `json:"time"`
}

// AssetAttribute is the attribute code by which a category names the
// asset a case concerns (a pipe segment, a road, a bridge): events carry
// its value as EventData.Asset, and SameAttribute(AssetAttribute) merges
// alarms on one asset into one case.
const AssetAttribute = "asset"

// Subject returns the subject an incident event is published on:
// <prefix>.<city>.<district>.<street>.incident.<event>, with as much of the
// path as the case has, so that a street centre subscribes to
// "gov.500000.500107.500107001.>" and the city to "gov.500000.>".
func Subject(prefix string, path []region.Code, event string) string {
	var b strings.Builder
	b.WriteString(prefix)
	for i, c := range path {
		if i == 3 {
			break
		}
		b.WriteByte('.')
		b.WriteString(string(c))
	}
	b.WriteString(".incident.")
	b.WriteString(event)
	return b.String()
}

// newEvent builds the bus message announcing step st of inc.
func newEvent(prefix string, st *step, inc *Incident, from Status, actor string, at time.Time) (bus.Message, error) {
	event := st.event
	d := EventData{
		Event: event, ID: inc.ID, Version: inc.Version, To: inc.Status.String(),
		Category: inc.Category, Priority: inc.Priority.String(),
		Grid: inc.Location.Grid(), Path: inc.Location.Path, Lat: inc.Location.Point.Lat, Lon: inc.Location.Point.Lon,
		Actor: actor, Related: st.related, Decision: st.decision, Fine: st.fine, Note: st.note, Time: at,
	}
	if v := inc.Attributes[AssetAttribute]; len(v) > 0 {
		d.Asset = v[0]
	}
	if from != 0 && from != inc.Status {
		d.From = from.String()
	}
	if inc.Resolution != 0 {
		d.Resolution = inc.Resolution.String()
	}
	if !inc.SLA.Deadline.IsZero() {
		dl := inc.SLA.Deadline
		d.Deadline = &dl
	}
	for _, r := range inc.Reporters {
		if r.ActorID != "" {
			d.Reporters = append(d.Reporters, r.ActorID)
		}
	}
	data, err := json.Marshal(d)
	if err != nil {
		return bus.Message{}, fmt.Errorf("incident: encoding event: %w", err)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return bus.Message{}, err
	}
	return bus.Message{
		ID: id.String(), Subject: Subject(prefix, inc.Location.Path, event), Key: inc.ID.String(),
		Headers: map[string]string{"govkit-kind": "incident", "govkit-event": event},
		Time:    at, Data: data,
	}, nil
}

// DecodeEvent reads the payload of an incident event.
func DecodeEvent(m bus.Message) (EventData, error) {
	var d EventData
	if err := json.Unmarshal(m.Data, &d); err != nil {
		return d, fmt.Errorf("%w: not an incident event: %w", ErrInvalidReport, err)
	}
	if d.ID == uuid.Nil || d.Event == "" {
		return d, fmt.Errorf("%w: incident event without id or name", ErrInvalidReport)
	}
	return d, nil
}
