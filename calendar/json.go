package calendar

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// MaxConfigSize bounds what Load reads, so that a wrong file or a hostile
// upload cannot exhaust memory. A century of holidays takes about 50 KiB.
const MaxConfigSize = 1 << 20

// wireConfig is the JSON form documented in the package comment. Values are
// strings here so that each can be checked with its own field path.
type wireConfig struct {
	Location        *string    `json:"location,omitempty"`
	Weekend         []string   `json:"weekend"`
	Holidays        []string   `json:"holidays"`
	WorkingWeekends []string   `json:"working_weekends"`
	Hours           []wireSpan `json:"hours"`
}

type wireSpan struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// Load reads a JSON calendar (see the package documentation for the format)
// of at most MaxConfigSize bytes. Configuration problems are *ConfigError
// values matching ErrInvalidConfig; a failure to read r is returned wrapped
// as it is.
func Load(r io.Reader) (*Calendar, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("calendar: reading config: %w", err)
	}
	if len(data) > MaxConfigSize {
		return nil, &ConfigError{Reason: fmt.Sprintf("larger than %d bytes", MaxConfigSize)}
	}
	return Parse(data)
}

// Parse builds a Calendar from a JSON document in the format shown in the
// package documentation. Unknown members, trailing data and bad values are
// rejected; every error is a *ConfigError matching ErrInvalidConfig.
func Parse(data []byte) (*Calendar, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var w *wireConfig
	if err := dec.Decode(&w); err != nil {
		return nil, decodeError(err)
	}
	if w == nil {
		return nil, &ConfigError{Reason: "want a JSON object, got null"}
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &ConfigError{Reason: "trailing data after the JSON object"}
	}

	var cfg Config
	if w.Location != nil {
		if *w.Location == "" {
			return nil, &ConfigError{Field: "location", Reason: "empty zone name; omit the member for " + shanghaiName}
		}
		loc, err := loadLocation(*w.Location, time.LoadLocation)
		if err != nil {
			return nil, &ConfigError{Field: "location", Reason: fmt.Sprintf("unknown time zone %q", *w.Location), Err: err}
		}
		cfg.Location = loc
	}
	if w.Weekend != nil {
		cfg.Weekend = make([]time.Weekday, len(w.Weekend))
		for i, s := range w.Weekend {
			wd, ok := parseWeekday(s)
			if !ok {
				return nil, &ConfigError{Field: fmt.Sprintf("weekend[%d]", i), Reason: fmt.Sprintf("%q is not a day of the week; want an English name such as \"Saturday\"", s)}
			}
			cfg.Weekend[i] = wd
		}
	}
	var err error
	if cfg.Holidays, err = parseDates("holidays", w.Holidays); err != nil {
		return nil, err
	}
	if cfg.WorkingWeekends, err = parseDates("working_weekends", w.WorkingWeekends); err != nil {
		return nil, err
	}
	if w.Hours != nil {
		cfg.Hours = make([]Span, len(w.Hours))
		for i, ws := range w.Hours {
			if cfg.Hours[i].Start, err = parseTOD(fmt.Sprintf("hours[%d].start", i), ws.Start); err != nil {
				return nil, err
			}
			if cfg.Hours[i].End, err = parseTOD(fmt.Sprintf("hours[%d].end", i), ws.End); err != nil {
				return nil, err
			}
		}
	}
	c, err := New(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.Location != nil && *w.Location == shanghaiName {
		c.locName = shanghaiName // keep the name even if loading fell back to +08:00
	}
	return c, nil
}

// decodeError turns an encoding/json error into a *ConfigError that names
// the member where the decoder could tell.
func decodeError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return &ConfigError{Reason: fmt.Sprintf("malformed JSON at byte %d", syntax.Offset), Err: err}
	case errors.As(err, &typ):
		return &ConfigError{Field: typ.Field, Reason: fmt.Sprintf("want %s, got JSON %s", jsonKind(typ.Type.String()), typ.Value), Err: err}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return &ConfigError{Reason: "malformed JSON: unexpected end of input", Err: err}
	}
	// encoding/json reports unknown members only as text.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return &ConfigError{Field: strings.Trim(name, `"`), Reason: "unknown member", Err: err}
	}
	return &ConfigError{Reason: "malformed JSON", Err: err}
}

// jsonKind names the JSON shape of a wire type for error messages.
func jsonKind(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case goType == "string" || goType == "*string":
		return "a string"
	}
	return "an object"
}

func parseDates(field string, in []string) ([]Date, error) {
	if in == nil {
		return nil, nil
	}
	out := make([]Date, len(in))
	for i, s := range in {
		d, err := ParseDate(s)
		if err != nil {
			return nil, &ConfigError{Field: fmt.Sprintf("%s[%d]", field, i), Reason: "bad date", Err: err}
		}
		out[i] = d
	}
	return out, nil
}

func parseTOD(field, s string) (TimeOfDay, error) {
	t, err := ParseTimeOfDay(s)
	if err != nil {
		return 0, &ConfigError{Field: field, Reason: "bad time of day", Err: err}
	}
	return t, nil
}

// parseWeekday accepts English day names in any case: "Saturday", "sunday".
func parseWeekday(s string) (time.Weekday, bool) {
	for wd := time.Sunday; wd <= time.Saturday; wd++ {
		if strings.EqualFold(s, wd.String()) {
			return wd, true
		}
	}
	return 0, false
}

// MarshalJSON writes c in the format Parse reads, with every default
// spelled out and the lists sorted, so that Parse(MarshalJSON()) behaves
// exactly like c. The location is written by name; it fails for a
// location that time.LoadLocation cannot find by that name, such as a
// time.FixedZone, rather than write a file that would not load.
func (c *Calendar) MarshalJSON() ([]byte, error) {
	c.mustInit()
	if c.locName != shanghaiName {
		if _, err := time.LoadLocation(c.locName); err != nil {
			return nil, fmt.Errorf("calendar: location %q cannot be written by name: %w", c.locName, err)
		}
	}
	name := c.locName
	w := wireConfig{
		Location:        &name,
		Weekend:         make([]string, len(c.weekendList)),
		Holidays:        make([]string, len(c.holidays)),
		WorkingWeekends: make([]string, len(c.workingWeekends)),
		Hours:           make([]wireSpan, len(c.spans)),
	}
	for i, wd := range c.weekendList {
		w.Weekend[i] = wd.String()
	}
	for i, d := range c.holidays {
		w.Holidays[i] = d.String()
	}
	for i, d := range c.workingWeekends {
		w.WorkingWeekends[i] = d.String()
	}
	for i, sp := range c.spans {
		w.Hours[i] = wireSpan{Start: sp.Start.String(), End: sp.End.String()}
	}
	return json.Marshal(w)
}
