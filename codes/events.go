package codes

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/region"
)

// Event names: the last token of a codes event's subject.
const (
	EventIssued         = "issued"
	EventRevoked        = "revoked"         // one code (or rotating series)
	EventSubjectRevoked = "subject-revoked" // everything issued to a subject before a time
	EventPoints         = "points"          // a ledger entry that left the colour as it was
	EventColourChanged  = "colour-changed"  // a ledger entry moved the colour, not into red
	// EventTurnedRed: a ledger entry moved the colour into red. For a
	// listing this is the order to suspend it and to tell platforms to
	// delist it; applications subscribe to it.
	EventTurnedRed = "turned-red"
)

// EventData is the JSON payload of every codes event. It carries
// pseudonymous ids only.
type EventData struct {
	Event        string      `json:"event"`
	Subject      string      `json:"subject"`
	Kind         string      `json:"kind"`
	Jurisdiction region.Code `json:"jurisdiction"`
	Code         string      `json:"code,omitempty"` // revocation id
	From         string      `json:"from,omitempty"` // colour before
	To           string      `json:"to,omitempty"`   // colour after
	Score        int64       `json:"score,omitempty"`
	Seq          int64       `json:"seq,omitempty"` // the ledger entry
	Rule         string      `json:"rule,omitempty"`
	Before       *time.Time  `json:"before,omitempty"`
	Reason       string      `json:"reason,omitempty"`
	Actor        string      `json:"actor,omitempty"`
	Time         time.Time   `json:"time"`
}

// EventSubject returns the subject a codes event is published on:
// <prefix>.<city>.<district>.<street>.codes.<event>, with as much of the
// path as the jurisdiction gives, so that a street centre subscribes to
// its subtree.
func EventSubject(prefix string, j region.Code, event string) string {
	var b strings.Builder
	b.WriteString(prefix)
	if len(j) >= 6 {
		b.WriteString("." + string(j[:2]) + "0000")
		if j[:2]+"0000" != j[:6] {
			b.WriteString("." + string(j[:6]))
		}
		if len(j) >= 9 {
			b.WriteString("." + string(j[:9]))
		}
	}
	b.WriteString(".codes.")
	b.WriteString(event)
	return b.String()
}

func newEvent(prefix string, d EventData) (bus.Message, error) {
	data, err := json.Marshal(d)
	if err != nil {
		return bus.Message{}, fmt.Errorf("codes: encoding event: %w", err)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return bus.Message{}, err
	}
	return bus.Message{
		ID: id.String(), Subject: EventSubject(prefix, d.Jurisdiction, d.Event), Key: d.Subject,
		Headers: map[string]string{"govkit-kind": "codes", "govkit-event": d.Event},
		Time:    d.Time, Data: data,
	}, nil
}

// DecodeEvent reads the payload of a codes event.
func DecodeEvent(m bus.Message) (EventData, error) {
	var d EventData
	if err := json.Unmarshal(m.Data, &d); err != nil {
		return d, &InputError{Field: "event", Reason: "not a codes event", Err: err}
	}
	return d, nil
}
