package risk

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/region"
)

// Event names: the last token of a risk event's subject.
const (
	EventRegistered          = "point-registered"
	EventUpdated             = "point-updated"
	EventAssessed            = "assessed"
	EventLevelChanged        = "level-changed"
	EventWarningIssued       = "warning-issued"
	EventWarningCancelled    = "warning-cancelled"
	EventInspectionPlanned   = "inspection-planned"
	EventRectificationIssued = "rectification-issued"
	EventRectificationDue    = "rectification-overdue"
	EventRectificationClosed = "rectification-closed"
)

// EventData is the JSON payload of every risk event. It carries what a
// consumer needs to act — the point, where it is, its level before and
// after and why — and no personal data.
type EventData struct {
	Event    string        `json:"event"`
	Point    uuid.UUID     `json:"point,omitzero"`
	Version  int64         `json:"version,omitempty"`
	Name     string        `json:"name,omitempty"`
	Class    string        `json:"class,omitempty"`
	Grid     region.Code   `json:"grid,omitempty"`
	Path     []region.Code `json:"path,omitempty"`
	Lat      float64       `json:"lat,omitempty"`
	Lon      float64       `json:"lon,omitempty"`
	Colour   Colour        `json:"colour"`
	Previous Colour        `json:"previous"`
	Static   Colour        `json:"static"`
	Reasons  []string      `json:"reasons,omitempty"`
	// Warning, Inspection and Finding identify what an event of theirs is
	// about.
	Warning    string     `json:"warning,omitempty"`
	Inspection uuid.UUID  `json:"inspection,omitzero"`
	Finding    int        `json:"finding,omitempty"`
	Enterprise string     `json:"enterprise,omitempty"`
	Deadline   *time.Time `json:"deadline,omitempty"`
	Actor      string     `json:"actor,omitempty"`
	Time       time.Time  `json:"time"`
}

// Subject returns the subject a risk event is published on:
// <prefix>.<city>.<district>.<street>.risk.<event>, with as much of the
// path as there is, so that a street centre subscribes to its subtree.
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
	b.WriteString(".risk.")
	b.WriteString(event)
	return b.String()
}

// newMessage builds the bus message for d, keyed by key so that events of
// one point keep their order.
func newMessage(prefix string, path []region.Code, key string, d EventData) (bus.Message, error) {
	data, err := json.Marshal(d)
	if err != nil {
		return bus.Message{}, fmt.Errorf("risk: encoding event: %w", err)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return bus.Message{}, err
	}
	return bus.Message{
		ID: id.String(), Subject: Subject(prefix, path, d.Event), Key: key,
		Headers: map[string]string{"govkit-kind": "risk", "govkit-event": d.Event},
		Time:    d.Time, Data: data,
	}, nil
}

// pointEvent describes p for an event.
func pointEvent(event string, p *Point, previous Colour, actor string, at time.Time) EventData {
	return EventData{
		Event: event, Point: p.ID, Version: p.Version, Name: p.Name, Class: p.Class, Grid: p.Grid, Path: p.Path,
		Lat: p.Anchor.Lat, Lon: p.Anchor.Lon, Colour: p.Level.Colour, Previous: previous, Static: p.Level.Static,
		Reasons: p.Level.Reasons, Enterprise: p.Enterprise, Actor: actor, Time: at,
	}
}

// DecodeEvent reads the payload of a risk event.
func DecodeEvent(m bus.Message) (EventData, error) {
	var d EventData
	if err := json.Unmarshal(m.Data, &d); err != nil {
		return d, &InputError{Field: "event", Reason: "not a risk event", Err: err}
	}
	if d.Event == "" {
		return d, invalid("event", "a risk event without a name")
	}
	return d, nil
}
