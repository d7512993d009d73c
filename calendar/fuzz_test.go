package calendar_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/govkit/govkit/calendar"
)

// FuzzParse feeds arbitrary bytes to Parse. It must never panic; whatever
// it rejects must be a *ConfigError; whatever it accepts must write back to
// JSON that parses to a calendar with the same configuration and the same
// answers, and writes back identically.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		nationalDayJSON,
		`{}`,
		`{"weekend":[]}`,
		`{"location":"Europe/Berlin","weekend":["sunday"],"hours":[{"start":"00:00","end":"03:30"},{"start":"09:00","end":"24:00"}]}`,
		`{"location":"UTC","holidays":["2024-02-29"],"working_weekends":["2024-03-02"],"hours":[{"start":"07:15:30","end":"11:00"}]}`,
		`{"holidays":["2026-10-01","2026-10-01"]}`,
		`{"hours":[]}`,
		`{"hours":[{"start":"12:00","end":"09:00"}]}`,
		`{"location":""}`,
		`{"weekend":["Monday","Tuesday","Wednesday","Thursday","Friday","Saturday","Sunday"]}`,
		`{"holidays":[2026]}`,
		`null`,
		`{"x":1}`,
		`{} []`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(fuzzParse)
}

func fuzzParse(t *testing.T, data []byte) {
	c, err := calendar.Parse(data)
	if err != nil {
		var ce *calendar.ConfigError
		if !errors.As(err, &ce) || !errors.Is(err, calendar.ErrInvalidConfig) {
			t.Fatalf("Parse error is not a *ConfigError matching ErrInvalidConfig: %T %v", err, err)
		}
		_ = err.Error()
		return
	}
	out, err := json.Marshal(c)
	if err != nil {
		t.Fatalf("accepted config does not marshal: %v", err)
	}
	again, err := calendar.Parse(out)
	if err != nil {
		t.Fatalf("marshalled config does not parse: %v\n%s", err, out)
	}
	out2, err := json.Marshal(again)
	if err != nil || string(out2) != string(out) {
		t.Fatalf("marshalling is not a fixed point: %v\n%s\n%s", err, out, out2)
	}
	assertSameConfig(t, c.Config(), again.Config())
	assertSameAnswers(t, c, again)
}

func assertSameConfig(t *testing.T, a, b calendar.Config) {
	t.Helper()
	if a.Location.String() != b.Location.String() {
		t.Fatalf("location %q != %q", a.Location, b.Location)
	}
	same := func(what string, x, y any) {
		xj, _ := json.Marshal(x)
		yj, _ := json.Marshal(y)
		if string(xj) != string(yj) {
			t.Fatalf("%s differ: %s != %s", what, xj, yj)
		}
	}
	same("weekend", a.Weekend, b.Weekend)
	same("holidays", a.Holidays, b.Holidays)
	same("working weekends", a.WorkingWeekends, b.WorkingWeekends)
	same("hours", a.Hours, b.Hours)
}

// assertSameAnswers probes both calendars around their configured dates
// and at fixed instants.
func assertSameAnswers(t *testing.T, a, b *calendar.Calendar) {
	t.Helper()
	probes := []time.Time{
		time.Date(2026, 9, 25, 19, 0, 0, 0, time.UTC),
		time.Date(2026, 10, 1, 3, 30, 0, 0, time.UTC),
		time.Date(2027, 3, 28, 0, 59, 59, 5, time.UTC),
		time.Date(2028, 12, 30, 23, 0, 0, 0, time.UTC), // see TestLeapYearEndPastLastTransition
	}
	cfg := a.Config()
	for i, d := range append(cfg.Holidays, cfg.WorkingWeekends...) {
		if i == 8 {
			break
		}
		probes = append(probes, d.In(a.Location()).Add(10*time.Hour))
	}
	for _, p := range probes {
		if a.IsWorkingTime(p) != b.IsWorkingTime(p) || a.IsWorkingDay(p) != b.IsWorkingDay(p) {
			t.Fatalf("IsWorkingTime/IsWorkingDay differ at %v", p)
		}
		if x, y := a.NextWorkingTime(p), b.NextWorkingTime(p); !x.Equal(y) {
			t.Fatalf("NextWorkingTime(%v): %v != %v", p, x, y)
		}
		x, _ := a.AddWorkingDuration(p, 20*time.Hour)
		y, _ := b.AddWorkingDuration(p, 20*time.Hour)
		if !x.Equal(y) {
			t.Fatalf("AddWorkingDuration(%v, 20h): %v != %v", p, x, y)
		}
		if a.WorkingDuration(p, x) != 20*time.Hour {
			t.Fatalf("WorkingDuration(%v, %v) != 20h", p, x)
		}
		x, _ = a.AddWorkingDays(p, 3)
		y, _ = b.AddWorkingDays(p, 3)
		if !x.Equal(y) {
			t.Fatalf("AddWorkingDays(%v, 3): %v != %v", p, x, y)
		}
	}
}
