package risk_test

import (
	"bytes"
	"encoding/xml"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/govkit/govkit/risk"
)

// The element sequences of the CAP 1.2 schema (OASIS CAP-V1.2, section
// 3.2 and the XML schema), in order.
var capSequence = map[string][]string{
	"alert": {"identifier", "sender", "sent", "status", "msgType", "source", "scope", "restriction", "addresses", "code", "note", "references", "incidents", "info"},
	"info": {"language", "category", "event", "responseType", "urgency", "severity", "certainty", "audience", "eventCode", "effective", "onset",
		"expires", "senderName", "headline", "description", "instruction", "web", "contact", "parameter", "resource", "area"},
	"area":      {"areaDesc", "polygon", "circle", "geocode", "altitude", "ceiling"},
	"eventCode": {"valueName", "value"},
	"parameter": {"valueName", "value"},
	"geocode":   {"valueName", "value"},
}

var capRequired = map[string][]string{
	"alert": {"identifier", "sender", "sent", "status", "msgType", "scope"},
	"info":  {"category", "event", "urgency", "severity", "certainty"},
	"area":  {"areaDesc"},
}

var capEnums = map[string][]string{
	"status":    {"Actual", "Exercise", "System", "Test", "Draft"},
	"msgType":   {"Alert", "Update", "Cancel", "Ack", "Error"},
	"scope":     {"Public", "Restricted", "Private"},
	"category":  {"Geo", "Met", "Safety", "Security", "Rescue", "Fire", "Health", "Env", "Transport", "Infra", "CBRNE", "Other"},
	"urgency":   {"Immediate", "Expected", "Future", "Past", "Unknown"},
	"severity":  {"Extreme", "Severe", "Moderate", "Minor", "Unknown"},
	"certainty": {"Observed", "Likely", "Possible", "Unlikely", "Unknown"},
}

var capDateTime = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[-+]\d\d:\d\d$`)

type node struct {
	XMLName  xml.Name
	Content  string `xml:",chardata"`
	Children []node `xml:",any"`
}

// checkCAP validates n against the sequences, required elements,
// enumerations and formats of CAP 1.2.
func checkCAP(t *testing.T, n node) {
	t.Helper()
	seq, ok := capSequence[n.XMLName.Local]
	if !ok {
		require.Empty(t, n.Children, "%s has no child elements in CAP 1.2", n.XMLName.Local)
		return
	}
	last := -1
	var names []string
	for _, c := range n.Children {
		require.Equal(t, "urn:oasis:names:tc:emergency:cap:1.2", c.XMLName.Space, c.XMLName.Local)
		i := slices.Index(seq, c.XMLName.Local)
		require.GreaterOrEqual(t, i, 0, "<%s> is not a child of <%s> in CAP 1.2", c.XMLName.Local, n.XMLName.Local)
		require.GreaterOrEqual(t, i, last, "<%s> out of order in <%s>", c.XMLName.Local, n.XMLName.Local)
		last = i
		names = append(names, c.XMLName.Local)
		if enum, ok := capEnums[c.XMLName.Local]; ok {
			require.Contains(t, enum, c.Content, c.XMLName.Local)
		}
		switch c.XMLName.Local {
		case "sent", "effective", "onset", "expires":
			require.Regexp(t, capDateTime, c.Content, c.XMLName.Local)
		case "polygon":
			pairs := strings.Fields(c.Content)
			require.GreaterOrEqual(t, len(pairs), 4)
			require.Equal(t, pairs[0], pairs[len(pairs)-1], "a CAP polygon is closed")
			for _, p := range pairs {
				require.Regexp(t, `^-?\d+(\.\d+)?,-?\d+(\.\d+)?$`, p)
			}
		}
		checkCAP(t, c)
	}
	for _, r := range capRequired[n.XMLName.Local] {
		require.Contains(t, names, r, "<%s> needs <%s>", n.XMLName.Local, r)
	}
}

func TestWriteCAPIsValidCAP12(t *testing.T) {
	f := newFixture(t)
	w, err := f.svc.IssueWarning(admin(), landslideWarning())
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, w.WriteCAP(&buf, risk.CAPOptions{Sender: "dzzh@cq.example.gov.cn"}))
	out := buf.String()
	require.True(t, strings.HasPrefix(out, `<?xml version="1.0" encoding="UTF-8"?>`))

	var root node
	require.NoError(t, xml.Unmarshal(buf.Bytes(), &root))
	require.Equal(t, xml.Name{Space: risk.CAPNamespace, Local: "alert"}, root.XMLName)
	checkCAP(t, root)
	require.Contains(t, out, "<identifier>CQ-DZ-20250612-003</identifier>")
	require.Contains(t, out, "<sent>2025-06-12T08:00:00-00:00</sent>")
	require.Contains(t, out, "<severity>Severe</severity>")
	require.Contains(t, out, "<expires>2025-06-13T08:00:00-00:00</expires>")
	require.Contains(t, out, "<polygon>29.500000,106.450000 29.500000,106.489000 29.580000,106.489000 29.580000,106.450000 29.500000,106.450000</polygon>")
	require.Contains(t, out, "<areaDesc>跳磴河小流域</areaDesc>")
	require.Contains(t, out, "<geocode>\n        <valueName>basin</valueName>\n        <value>XLY-0417</value>", "a code without a scheme is a basin's")
	division := landslideWarning()
	division.ID, division.Areas[0].Scheme, division.Areas[0].Code = "CQ-DZ-20250612-004", "GB/T 2260", "500107"
	dw, err := f.svc.IssueWarning(admin(), division)
	require.NoError(t, err)
	ca, err := dw.CAP(risk.CAPOptions{Sender: "dzzh@cq.example.gov.cn"})
	require.NoError(t, err)
	require.Equal(t, []risk.CAPValue{{ValueName: "GB/T 2260", Value: "500107"}}, ca.Info[0].Area[0].Geocode)

	// Cancelling gives a Cancel that references the alert.
	f.clk.Advance(time.Hour)
	w, err = f.svc.CancelWarning(admin(), w.ID)
	require.NoError(t, err)
	a, err := w.CAP(risk.CAPOptions{Sender: "dzzh@cq.example.gov.cn"})
	require.NoError(t, err)
	require.Equal(t, "Cancel", a.MsgType)
	require.Equal(t, "CQ-DZ-20250612-003-cancel", a.Identifier)
	require.Equal(t, "dzzh@cq.example.gov.cn,CQ-DZ-20250612-003,2025-06-12T08:00:00-00:00", a.References)
	raw, err := xml.Marshal(a)
	require.NoError(t, err)
	var again node
	require.NoError(t, xml.Unmarshal(raw, &again))
	checkCAP(t, again)

	_, err = w.CAP(risk.CAPOptions{Sender: "has space"})
	require.ErrorIs(t, err, risk.ErrInvalidInput)
	_, err = landslideWarning().CAP(risk.CAPOptions{Sender: "x"})
	require.ErrorIs(t, err, risk.ErrMissingInput, "an unissued warning needs a sent time")
}
