package open311

import (
	"strings"
	"time"

	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/incident"
	"github.com/govkit/govkit/pii"
)

// ServiceRequest is one entry of the GET requests response. FromIncident
// builds one from a case; ParseServiceRequests reads them from another
// system. Lat and Long are nil when a request has no coordinates; the
// datetimes are in the spec's w3 format (RFC 3339 with a zone).
type ServiceRequest struct {
	ServiceRequestID  string   `json:"service_request_id"`
	Status            string   `json:"status"`
	StatusNotes       string   `json:"status_notes,omitempty"`
	ServiceName       string   `json:"service_name"`
	ServiceCode       string   `json:"service_code"`
	Description       string   `json:"description"`
	AgencyResponsible string   `json:"agency_responsible,omitempty"`
	ServiceNotice     string   `json:"service_notice,omitempty"`
	RequestedDatetime string   `json:"requested_datetime"`
	UpdatedDatetime   string   `json:"updated_datetime"`
	ExpectedDatetime  string   `json:"expected_datetime,omitempty"`
	Address           string   `json:"address"`
	AddressID         string   `json:"address_id,omitempty"`
	Zipcode           string   `json:"zipcode,omitempty"`
	Lat               *float64 `json:"lat,omitempty"`
	Long              *float64 `json:"long,omitempty"`
	MediaURL          string   `json:"media_url,omitempty"`
}

// Lifecycle returns the govkit status and resolution of r's status (see
// ParseExtendedStatus). Requests from ParseServiceRequests always have a
// known status.
func (r ServiceRequest) Lifecycle() (incident.Status, incident.Resolution, error) {
	return ParseExtendedStatus(r.Status)
}

// Point returns r's position, and false when r has no valid lat and long.
// The point is in the CRS r was written in: WGS-84 unless the exporter
// chose otherwise (ExportOptions.CRS).
func (r ServiceRequest) Point() (geo.Point, bool) {
	if r.Lat == nil || r.Long == nil {
		return geo.Point{}, false
	}
	p, err := geo.NewPoint(*r.Lat, *r.Long)
	return p, err == nil
}

// ExportOptions tune FromIncident. The zero value writes the spec's plain
// open/closed statuses and WGS-84 coordinates.
type ExportOptions struct {
	// ExtendedStatuses writes the FixMyStreet extended status (see
	// ExtendedStatus) in lower case in the status field, as mySociety's
	// open311-adapter serves it, instead of plain open or closed.
	ExtendedStatuses bool
	// CRS converts lat and long from WGS-84, for clients drawing on AMap
	// (GCJ02) or Baidu (BD09) maps. The spec says WGS-84; zero keeps it, and
	// so does a conversion that fails.
	CRS geo.CRS
	// Location, if set, expresses the datetimes in that zone; otherwise
	// each keeps the zone it was recorded in.
	Location *time.Location
	// AgencyResponsible, StatusNotes and ServiceNotice fill the fields of
	// the same names, which the spec says may not be returned.
	AgencyResponsible string
	StatusNotes       string
	ServiceNotice     string
	// OmitMedia leaves media_url out, for evidence kept at URIs the public
	// must not see.
	OmitMedia bool
}

// FromIncident returns inc as an Open311 service request:
//
//	service_request_id   the case ID
//	status               open/closed (Status.Open), or the extended status
//	service_code, _name  the category code and its name in c
//	description          the description, with mobile numbers masked
//	requested_datetime   Times.Reported
//	updated_datetime     the latest time in Times
//	expected_datetime    the SLA deadline of an open case, if timed
//	address, lat, long   the location (lat/long converted if opts.CRS)
//	media_url            the first evidence URI
//
// It never writes the reporters: no name, phone number, actor ID or
// external ID of theirs appears in the result, and a mobile number typed
// into the description, address or status notes is masked
// (138****5678). A category missing from c (or a nil c) is named by its
// code.
func FromIncident(inc incident.Incident, c *incident.Catalogue, opts ExportOptions) ServiceRequest {
	sr := ServiceRequest{
		ServiceRequestID:  inc.ID.String(),
		Status:            plainStatus(inc.Status),
		StatusNotes:       maskPhones(opts.StatusNotes),
		ServiceName:       inc.Category,
		ServiceCode:       inc.Category,
		Description:       maskPhones(inc.Description),
		AgencyResponsible: opts.AgencyResponsible,
		ServiceNotice:     opts.ServiceNotice,
		Address:           maskPhones(inc.Location.Address),
	}
	if opts.ExtendedStatuses {
		sr.Status = strings.ToLower(ExtendedStatus(inc.Status, inc.Resolution))
	}
	if c != nil {
		if cat, err := c.Category(inc.Category); err == nil {
			sr.ServiceName = cat.Name
		}
	}
	format := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		if opts.Location != nil {
			t = t.In(opts.Location)
		}
		return t.Format(time.RFC3339)
	}
	sr.RequestedDatetime = format(inc.Times.Reported)
	sr.UpdatedDatetime = format(latest(inc.Times))
	if inc.Status.Open() {
		sr.ExpectedDatetime = format(inc.SLA.Deadline)
	}
	p := inc.Location.Point
	if opts.CRS != 0 {
		if q, err := geo.Convert(p, geo.WGS84, opts.CRS); err == nil {
			p = q
		}
	}
	sr.Lat, sr.Long = &p.Lat, &p.Lon
	if len(inc.Evidence) > 0 && !opts.OmitMedia {
		sr.MediaURL = inc.Evidence[0].URI
	}
	return sr
}

// latest returns the latest phase time of t.
func latest(t incident.Times) time.Time {
	out := t.Reported
	for _, x := range []time.Time{t.Registered, t.Dispatched, t.Started, t.Disposed, t.Verified, t.Closed, t.Evaluated} {
		if x.After(out) {
			out = x
		}
	}
	return out
}

// maskPhones replaces every Chinese mainland mobile number in s (11 digits,
// possibly grouped by spaces or hyphens, possibly after +86) with its
// masked form, so that a number a citizen typed into free text is not
// published.
func maskPhones(s string) string {
	type group struct{ start, end, digits int }
	isDigit := func(c byte) bool { return c >= '0' && c <= '9' }
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); {
		if !isDigit(s[i]) && (s[i] != '+' || i+1 >= len(s) || !isDigit(s[i+1])) {
			i++
			continue
		}
		// A run of digit groups joined by single spaces or hyphens.
		var groups []group
		j := i
		for {
			g := group{start: j}
			if s[j] == '+' {
				j++
			}
			for j < len(s) && isDigit(s[j]) {
				j++
				g.digits++
			}
			g.end = j
			groups = append(groups, g)
			if j+1 < len(s) && (s[j] == ' ' || s[j] == '-') && isDigit(s[j+1]) {
				j++
				continue
			}
			break
		}
		for a := 0; a < len(groups); {
			next := a + 1
			for z, n := a, 0; z < len(groups) && n < 13; z++ {
				n += groups[z].digits
				if n != 11 && n != 13 {
					continue
				}
				if p, err := pii.NewPhone(s[groups[a].start:groups[z].end]); err == nil {
					b.WriteString(s[last:groups[a].start])
					b.WriteString(p.Masked())
					last = groups[z].end
					next = z + 1
					break
				}
			}
			a = next
		}
		i = j
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}
