package risk

import (
	"cmp"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/govkit/govkit/geo"
)

// CAPNamespace is the XML namespace of OASIS CAP 1.2.
const CAPNamespace = "urn:oasis:names:tc:emergency:cap:1.2"

// CAPAlert is an OASIS Common Alerting Protocol 1.2 alert, with the
// elements a public warning needs, in the order the CAP 1.2 schema
// requires.
type CAPAlert struct {
	XMLName    xml.Name  `xml:"urn:oasis:names:tc:emergency:cap:1.2 alert"`
	Identifier string    `xml:"identifier"`
	Sender     string    `xml:"sender"`
	Sent       string    `xml:"sent"`
	Status     string    `xml:"status"`  // Actual, Exercise, System, Test, Draft
	MsgType    string    `xml:"msgType"` // Alert, Update, Cancel
	Scope      string    `xml:"scope"`   // Public
	References string    `xml:"references,omitempty"`
	Info       []CAPInfo `xml:"info"`
}

// CAPInfo is a CAP <info> block.
type CAPInfo struct {
	Language    string     `xml:"language,omitempty"`
	Category    []string   `xml:"category"`
	Event       string     `xml:"event"`
	Urgency     string     `xml:"urgency"`
	Severity    string     `xml:"severity"`
	Certainty   string     `xml:"certainty"`
	EventCode   []CAPValue `xml:"eventCode,omitempty"`
	Effective   string     `xml:"effective,omitempty"`
	Onset       string     `xml:"onset,omitempty"`
	Expires     string     `xml:"expires,omitempty"`
	SenderName  string     `xml:"senderName,omitempty"`
	Headline    string     `xml:"headline,omitempty"`
	Description string     `xml:"description,omitempty"`
	Instruction string     `xml:"instruction,omitempty"`
	Parameter   []CAPValue `xml:"parameter,omitempty"`
	Area        []CAPArea  `xml:"area"`
}

// CAPValue is a CAP valueName/value pair.
type CAPValue struct {
	ValueName string `xml:"valueName"`
	Value     string `xml:"value"`
}

// CAPArea is a CAP <area>: a description and polygons, each a
// space-separated list of "lat,lon" pairs whose first and last are equal.
type CAPArea struct {
	AreaDesc string     `xml:"areaDesc"`
	Polygon  []string   `xml:"polygon"`
	Geocode  []CAPValue `xml:"geocode,omitempty"`
}

// CAPOptions are the alert fields a warning does not carry.
type CAPOptions struct {
	Sender    string    // e.g. "cq-gtj@example.gov.cn"; required, no spaces, commas or '<' '&'
	Sent      time.Time // default: the warning's Issued time
	Status    string    // default "Actual"
	Language  string    // default "zh-CN"
	Category  string    // default "Geo" (use "Met", "Safety", "Env", … as fits)
	Urgency   string    // default "Expected"
	Certainty string    // default "Likely"
}

// capTime formats t as CAP requires: seconds precision, with an explicit
// offset ("-00:00" for UTC, never "Z").
func capTime(t time.Time) string {
	s := t.Truncate(time.Second).Format("2006-01-02T15:04:05-07:00")
	return strings.Replace(s, "+00:00", "-00:00", 1)
}

// capSeverity maps the four colours to CAP severities.
func capSeverity(c Colour) string {
	switch c {
	case Red:
		return "Extreme"
	case Orange:
		return "Severe"
	case Yellow:
		return "Moderate"
	case Blue:
		return "Minor"
	}
	return "Unknown"
}

// capPolygon renders a ring as CAP wants it: "lat,lon" pairs.
func capPolygon(r geo.Ring) string {
	parts := make([]string, len(r))
	for i, p := range r {
		parts[i] = fmt.Sprintf("%.6f,%.6f", p.Lat, p.Lon)
	}
	return strings.Join(parts, " ")
}

// CAP builds the CAP 1.2 alert for a warning: one <info> with the
// warning's event, headline, description, instruction, period and colour
// (red Extreme, orange Severe, yellow Moderate, blue Minor; the colour also
// as the parameter "colour"), and one <area> per warning area with the
// outer ring of each of its polygons (CAP polygons have no holes). A
// re-issued warning (Version > 1) gives msgType Update and a cancelled one
// Cancel, each with its own identifier and references to the first alert
// (whose sent time is taken as the warning's Issued time).
func (w AreaWarning) CAP(o CAPOptions) (CAPAlert, error) {
	if err := w.validate(); err != nil {
		return CAPAlert{}, err
	}
	if o.Sender == "" || strings.ContainsAny(o.Sender, " ,<&") {
		return CAPAlert{}, invalid("cap.sender", "required, without spaces, commas, '<' or '&'")
	}
	def := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	def(&o.Status, "Actual")
	def(&o.Language, "zh-CN")
	def(&o.Category, "Geo")
	def(&o.Urgency, "Expected")
	def(&o.Certainty, "Likely")
	if o.Sent.IsZero() {
		o.Sent = w.Issued
	}
	if o.Sent.IsZero() {
		return CAPAlert{}, missing("cap.sent", "the warning has not been issued; give CAPOptions.Sent")
	}
	msgType := "Alert"
	if !w.Cancelled.IsZero() {
		msgType = "Cancel"
	} else if w.Version > 1 {
		msgType = "Update"
	}
	info := CAPInfo{
		Language: o.Language, Category: []string{o.Category}, Event: w.Event, Urgency: o.Urgency,
		Severity: capSeverity(w.Colour), Certainty: o.Certainty,
		EventCode: []CAPValue{{ValueName: "govkit-kind", Value: w.Kind}},
		Effective: capTime(w.From), Onset: capTime(w.From), Expires: capTime(w.Until),
		SenderName: w.Sender, Headline: w.Headline, Description: w.Description, Instruction: w.Instruction,
		Parameter: []CAPValue{{ValueName: "colour", Value: w.Colour.String()}, {ValueName: "level", Value: w.Colour.Label()}},
	}
	if info.Event == "" {
		info.Event = w.Kind
	}
	for _, a := range w.Areas {
		ca := CAPArea{AreaDesc: a.Name}
		if ca.AreaDesc == "" {
			ca.AreaDesc = a.Code
		}
		for _, p := range a.Area {
			ca.Polygon = append(ca.Polygon, capPolygon(p[0]))
		}
		if a.Code != "" {
			ca.Geocode = []CAPValue{{ValueName: cmp.Or(a.Scheme, "basin"), Value: a.Code}}
		}
		info.Area = append(info.Area, ca)
	}
	alert := CAPAlert{
		Identifier: w.ID, Sender: o.Sender, Sent: capTime(o.Sent), Status: o.Status, MsgType: msgType,
		Scope: "Public", Info: []CAPInfo{info},
	}
	// An update or cancellation is a message of its own that references
	// the warning's first alert (identifier w.ID, sent when first issued).
	switch msgType {
	case "Update":
		alert.Identifier = fmt.Sprintf("%s-v%d", w.ID, w.Version)
	case "Cancel":
		alert.Identifier = w.ID + "-cancel"
		alert.Sent = capTime(w.Cancelled)
	}
	if msgType != "Alert" {
		alert.References = fmt.Sprintf("%s,%s,%s", o.Sender, w.ID, capTime(w.Issued))
	}
	return alert, nil
}

// WriteCAP writes the warning as a CAP 1.2 XML document.
func (w AreaWarning) WriteCAP(out io.Writer, o CAPOptions) error {
	a, err := w.CAP(o)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(out, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(out)
	enc.Indent("", "  ")
	if err := enc.Encode(a); err != nil {
		return err
	}
	_, err = io.WriteString(out, "\n")
	return err
}
