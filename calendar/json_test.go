package calendar_test

import (
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/govkit/govkit/calendar"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// nationalDayJSON is a test calendar around National Day 2026, made up for
// these tests (not the State Council's notice): 1-7 October off, Sunday 27
// September and Saturday 10 October worked.
const nationalDayJSON = `{
  "location": "Asia/Shanghai",
  "weekend": ["Saturday", "Sunday"],
  "holidays": ["2026-10-01", "2026-10-02", "2026-10-03", "2026-10-04",
               "2026-10-05", "2026-10-06", "2026-10-07"],
  "working_weekends": ["2026-09-27", "2026-10-10"],
  "hours": [{"start": "09:00", "end": "12:00"}, {"start": "14:00", "end": "18:00"}]
}`

func TestParse(t *testing.T) {
	c, err := calendar.Parse([]byte(nationalDayJSON))
	require.NoError(t, err)
	cfg := c.Config()
	assert.Equal(t, "Asia/Shanghai", cfg.Location.String())
	assert.Len(t, cfg.Holidays, 7)
	assert.Equal(t, []calendar.Date{date(2026, 9, 27), date(2026, 10, 10)}, cfg.WorkingWeekends)
	assert.True(t, c.IsWorkingDate(date(2026, 9, 27)))
	assert.False(t, c.IsWorkingDate(date(2026, 10, 5)))
	assert.False(t, c.IsWorkingDate(date(2026, 2, 30)), "an invalid date is not a working day")

	// Everything optional: {} is the default calendar.
	c, err = calendar.Parse([]byte(`{}`))
	require.NoError(t, err)
	assert.Equal(t, calendar.Default().Config().Weekend, c.Config().Weekend)
	assert.Equal(t, calendar.DefaultHours(), c.Config().Hours)
	assert.Equal(t, "Asia/Shanghai", c.Location().String())

	// null members mean "default", like absent ones; weekday names ignore case.
	c, err = calendar.Parse([]byte(`{"weekend":null,"hours":null,"holidays":null}`))
	require.NoError(t, err)
	assert.Equal(t, calendar.DefaultHours(), c.Config().Hours)
	c, err = calendar.Parse([]byte(`{"location":"Europe/Berlin","weekend":["sunday","FRIDAY"],"hours":[{"start":"07:15:30","end":"24:00"}]}`))
	require.NoError(t, err)
	assert.Equal(t, "Europe/Berlin", c.Location().String())
	assert.Equal(t, []time.Weekday{time.Friday, time.Sunday}, c.Config().Weekend)
	assert.Equal(t, []calendar.Span{{Start: calendar.TimeOfDay(7*time.Hour + 15*time.Minute + 30*time.Second), End: calendar.EndOfDay}}, c.Config().Hours)

	// An empty weekend is a 7-day service.
	c, err = calendar.Parse([]byte(`{"weekend":[]}`))
	require.NoError(t, err)
	assert.True(t, c.IsWorkingDate(date(2026, 10, 10)))
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		name, doc, field, reason string
		cause                    error
	}{
		{"empty input", ``, "", "unexpected end", nil},
		{"truncated", `{"holidays":["2026-10-01"`, "", "unexpected end", nil},
		{"syntax", `{"holidays":[2026-10-01]}`, "", "malformed JSON at byte", nil},
		{"null document", `null`, "", "want a JSON object", nil},
		{"array document", `[]`, "", "want an object", nil},
		{"trailing data", `{} {}`, "", "trailing data", nil},
		{"trailing garbage", `{}x`, "", "trailing data", nil},
		{"unknown member", `{"holiday":["2026-10-01"]}`, "holiday", "unknown member", nil},
		{"unknown nested member", `{"hours":[{"start":"09:00","end":"12:00","note":"am"}]}`, "note", "unknown member", nil},
		{"wrong type", `{"holidays":"2026-10-01"}`, "holidays", "want an array", nil},
		{"wrong element type", `{"holidays":[20261001]}`, "holidays", "want a string", nil},
		{"wrong location type", `{"location":8}`, "location", "want a string", nil},
		{"wrong span type", `{"hours":["09:00-12:00"]}`, "hours", "want an object", nil},
		{"empty location", `{"location":""}`, "location", "empty zone name", nil},
		{"unknown location", `{"location":"Asia/Beijing"}`, "location", `unknown time zone "Asia/Beijing"`, nil},
		{"bad weekday", `{"weekend":["Sat"]}`, "weekend[0]", `"Sat" is not a day of the week`, nil},
		{"bad holiday", `{"holidays":["2026-10-01","2026-10-32"]}`, "holidays[1]", "bad date", calendar.ErrInvalidDate},
		{"bad working weekend", `{"working_weekends":["10/10/2026"]}`, "working_weekends[0]", "bad date", calendar.ErrInvalidDate},
		{"bad start", `{"hours":[{"start":"9:00","end":"12:00"}]}`, "hours[0].start", "bad time of day", calendar.ErrInvalidTimeOfDay},
		{"missing end", `{"hours":[{"start":"09:00"}]}`, "hours[0].end", "bad time of day", calendar.ErrInvalidTimeOfDay},
		{"empty hours", `{"hours":[]}`, "hours", "no working hours", nil},
		{"validation after decoding", `{"holidays":["2026-10-10"],"working_weekends":["2026-10-10"]}`,
			"working_weekends[0]", "also listed as a holiday", nil},
		{"all week off", `{"weekend":["Monday","Tuesday","Wednesday","Thursday","Friday","Saturday","Sunday"]}`,
			"weekend", "every day", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := calendar.Parse([]byte(tt.doc))
			assert.Nil(t, c)
			requireConfigError(t, err, tt.field, tt.reason)
			if tt.cause != nil {
				assert.ErrorIs(t, err, tt.cause)
			}
		})
	}

	// The JSON decoder's own error stays reachable.
	_, err := calendar.Parse([]byte(`{"holidays":[2026-10-01]}`))
	var syntax *json.SyntaxError
	assert.True(t, errors.As(err, &syntax))
}

func TestLoad(t *testing.T) {
	c, err := calendar.Load(strings.NewReader(nationalDayJSON))
	require.NoError(t, err)
	assert.False(t, c.IsWorkingDate(date(2026, 10, 1)))

	big := `{"holidays":[` + strings.Repeat(" ", calendar.MaxConfigSize) + `]}`
	_, err = calendar.Load(strings.NewReader(big))
	requireConfigError(t, err, "", "larger than")

	boom := errors.New("disk on fire")
	_, err = calendar.Load(iotest.ErrReader(boom))
	require.ErrorIs(t, err, boom)
	assert.NotErrorIs(t, err, calendar.ErrInvalidConfig, "an I/O failure is not a config error")

	_, err = calendar.Load(io.LimitReader(strings.NewReader(nationalDayJSON), 40))
	requireConfigError(t, err, "", "unexpected end")
}

func TestMarshalJSONRoundTrip(t *testing.T) {
	c, err := calendar.Parse([]byte(nationalDayJSON))
	require.NoError(t, err)
	b, err := json.Marshal(c)
	require.NoError(t, err)
	assert.JSONEq(t, nationalDayJSON, string(b))

	again, err := calendar.Parse(b)
	require.NoError(t, err)
	b2, err := json.Marshal(again)
	require.NoError(t, err)
	assert.Equal(t, string(b), string(b2), "marshalling is canonical")

	// Defaults are written out explicitly; an empty weekend stays empty.
	c, err = calendar.New(calendar.Config{Weekend: []time.Weekday{}, Location: time.UTC})
	require.NoError(t, err)
	b, err = json.Marshal(c)
	require.NoError(t, err)
	assert.JSONEq(t, `{"location":"UTC","weekend":[],"holidays":[],"working_weekends":[],
		"hours":[{"start":"09:00","end":"12:00"},{"start":"14:00","end":"18:00"}]}`, string(b))

	// A zone that cannot be found by name is refused rather than written.
	c, err = calendar.New(calendar.Config{Location: time.FixedZone("UTC+8", 8*60*60)})
	require.NoError(t, err)
	_, err = json.Marshal(c)
	assert.ErrorContains(t, err, `location "UTC+8" cannot be written by name`)
}
