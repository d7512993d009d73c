package sim

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// String is the progress line the demos show.
func (p Progress) String() string {
	return fmt.Sprintf("%s  %3.0f%%  readings %s  alarms %d  reports %d  closed %d  bundles %d  codes %d",
		p.Now.In(CST).Format("Mon 15:04"), 100*p.Done, human(p.Readings), p.Alarms, p.Reports, p.Closed, p.Bundles, p.Codes)
}

// human writes a large count briefly: 1.2M.
func human(n int64) string {
	switch {
	case n >= 1_000_000:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	case n >= 10_000:
		return fmt.Sprintf("%.0fk", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}

func pct(x float64) string { return fmt.Sprintf("%5.1f%%", 100*x) }

// maxRows is how many streets the table lists one by one; a city's are
// summed per district.
const maxRows = 30

// WriteTable writes the indicators table, a row per street (per district
// beyond 30 streets), and the day's totals.
func (s Summary) WriteTable(out io.Writer) {
	fmt.Fprintf(out, "\n%s to %s: %d districts, %d streets, %d grids, %d devices, %d responders, %d risk points, %d listed rooms\n\n",
		s.From.In(CST).Format("Mon 2 Jan 15:04"), s.To.In(CST).Format("Mon 2 Jan 15:04"),
		s.Districts, len(s.Streets), s.Grids, s.Devices, s.Responders, s.RiskPoints, s.Rooms)
	rows := s.Streets
	unit := "Street"
	if len(rows) > maxRows {
		rows, unit = byDistrict(s.Streets), "District"
	}
	header := fmt.Sprintf("%-28s %6s %6s %6s %8s %8s %6s %6s %6s %7s %6s", unit, "Cases", "Reg", "Closed", "Closure", "On-time", "Alarms", "Codes", "Delist", "Bundles", "Risk↑")
	fmt.Fprintln(out, header)
	fmt.Fprintln(out, strings.Repeat("-", len([]rune(header))))
	line := func(r StreetRow) {
		fmt.Fprintf(out, "%-28s %6d %6d %6d %8s %8s %6d %6d %6d %3d/%-3d %6d\n", r.Name, r.Reported, r.Registered, r.Closed,
			pct(r.ClosureRate), pct(r.OnTimeRate), r.Alarms, r.Codes, r.Delisted, r.BundlesDone, r.BundlesStarted, r.RiskRaised)
	}
	for _, r := range rows {
		line(r)
	}
	fmt.Fprintln(out, strings.Repeat("-", len([]rune(header))))
	line(s.Total)
	fmt.Fprintf(out, "\nCases: closed (结案) over registered (立案); on-time: closed with no phase late. Bundles: done/applied for.\n")
	fmt.Fprintf(out, "Reports %d: %d opened cases, %d merged on the same asset, %d replayed, %d refused; cases now %d open, %d closed, %d rejected, %d merged as duplicates.\n",
		s.Reports, s.Opened, s.AutoMerged, s.Replayed, s.Refused, s.Open, s.Closed, s.Rejected, s.Duplicates)
	fmt.Fprintf(out, "Sensors: %d readings, %d alarms. Dispatch: %d work orders, %d reminders and escalations, %d notices. Satisfied: %d of %d who rated.\n",
		s.Readings, s.Alarms, s.WorkOrders, s.Escalations, s.Notifications, s.Total.Satisfied, s.Total.Evaluated)
	fmt.Fprintf(out, "The city centre saw %d events on the bus under gov.%s.>.\n", s.Events, s.Total.Code)
	fmt.Fprintf(out, "Bodies by five-colour evaluation: green %d, blue %d, yellow %d, orange %d, red %d.\n",
		s.Bodies["green"], s.Bodies["blue"], s.Bodies["yellow"], s.Bodies["orange"], s.Bodies["red"])
	if s.ErrorCount > 0 {
		fmt.Fprintf(out, "%d unexpected errors, the first: %s\n", s.ErrorCount, s.Errors[0])
	}
	fmt.Fprintf(out, "Simulated %d hours in %s.\n", s.Config.Hours, s.Wall.Round(100*time.Millisecond))
}

// byDistrict sums the street rows of each district.
func byDistrict(streets []StreetRow) []StreetRow {
	var out []StreetRow
	for _, r := range streets {
		d := r.Code[:6]
		if len(out) == 0 || out[len(out)-1].Code != d {
			name, _, _ := strings.Cut(r.Name, " Street")
			out = append(out, StreetRow{Code: d, Name: name})
		}
		last := &out[len(out)-1]
		last.Reported += r.Reported
		last.Registered += r.Registered
		last.Closed += r.Closed
		last.ClosedOnTime += r.ClosedOnTime
		last.Alarms += r.Alarms
		last.Codes += r.Codes
		last.Delisted += r.Delisted
		last.BundlesStarted += r.BundlesStarted
		last.BundlesDone += r.BundlesDone
		last.RiskRaised += r.RiskRaised
	}
	for i := range out {
		out[i].ClosureRate = float64(out[i].Closed) / float64(max(out[i].Registered, 1))
		out[i].OnTimeRate = float64(out[i].ClosedOnTime) / float64(max(out[i].Closed, 1))
	}
	return out
}
