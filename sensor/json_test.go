package sensor_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/govkit/govkit/sensor"
)

func TestDecodeJSON(t *testing.T) {
	reg := ingRegistry(t, 3)
	ms := time.UnixMilli(1718006130123).UTC()
	cases := []struct {
		name string
		msg  string
		want []sensor.Reading
	}{
		{"full", `{"device":"wb-1","seq":12,"ts":1718006130123,"readings":{"heart-rate":72.5,"fall":[1],"heartbeat":[1e3,""]}}`,
			[]sensor.Reading{
				{Device: 1, Resource: ingHR, Seq: 12, Value: 72.5, Observed: ms},
				{Device: 1, Resource: ingFall, Seq: 12, Value: 1, Observed: ms},
				{Device: 1, Resource: ingBeat, Seq: 12, Value: 1000, Observed: ms},
			}},
		{"unit, booleans, RFC 3339 with an offset", `{"device":"wb-0","ts":"2024-06-10T16:15:30.5+08:00","readings":{"heart-rate":[80,"bpm"],"fall":true,"heartbeat":false}}`,
			[]sensor.Reading{
				{Device: 0, Resource: ingHR, Value: 80, Unit: "bpm", Observed: time.Date(2024, 6, 10, 8, 15, 30, 5e8, time.UTC)},
				{Device: 0, Resource: ingFall, Value: 1, Observed: time.Date(2024, 6, 10, 8, 15, 30, 5e8, time.UTC)},
				{Device: 0, Resource: ingBeat, Value: 0, Observed: time.Date(2024, 6, 10, 8, 15, 30, 5e8, time.UTC)},
			}},
		{"readings before device, unknown keys, whitespace", " {\n\t\"readings\" : { \"fall\" : 0 } , \"fw\":{\"v\":[1,2,{\"x\":null}],\"ok\":true}, \"device\" : \"wb-2\" , \"seq\" : 18446744073709551615 }\r\n",
			[]sensor.Reading{{Device: 2, Resource: ingFall, Value: 0, Seq: math.MaxUint64}}},
		{"escapes", `{"device":"wb\u002d0","readings":{"heart\u002Drate":[-0.5e-1,"\u0062pm"]},"ts":"2024-02-29T23:59:59Z"}`,
			[]sensor.Reading{{Device: 0, Resource: ingHR, Value: -0.05, Unit: "bpm", Observed: time.Date(2024, 2, 29, 23, 59, 59, 0, time.UTC)}}},
		{"another unit (Ingest rejects it)", `{"device":"wb-0","readings":{"heart-rate":[1,"Hz"]}}`,
			[]sensor.Reading{{Device: 0, Resource: ingHR, Value: 1, Unit: "Hz"}}},
		{"no readings", `{"device":"wb-0","readings":{}}`, nil},
		{"a gateway's array", `[{"device":"wb-0","readings":{"fall":1}},{"device":"wb-1","seq":3,"readings":{"fall":0}}]`,
			[]sensor.Reading{{Device: 0, Resource: ingFall, Value: 1}, {Device: 1, Resource: ingFall, Seq: 3}}},
		{"an empty array", `[ ]`, nil},
	}
	for _, c := range cases {
		prefix := []sensor.Reading{{Value: -1}}
		got, err := sensor.DecodeJSON(reg, []byte(c.msg), prefix)
		require.NoError(t, err, c.name)
		assert.Equal(t, append([]sensor.Reading{{Value: -1}}, c.want...), got, c.name)
	}
}

func TestDecodeJSONErrors(t *testing.T) {
	reg := ingRegistry(t, 2)
	require.NoError(t, reg.Remove("wb-1"))
	cases := []struct {
		msg    string
		err    error
		offset int
		reason string
	}{
		{``, sensor.ErrMalformed, 0, "end of message"},
		{`   `, sensor.ErrMalformed, 3, "end of message"},
		{`null`, sensor.ErrMalformed, 0, "expected '{' or '['"},
		{`{"device":"wb-0","readings":{"fall":1}} x`, sensor.ErrMalformed, 40, "data after"},
		{`{"device":"wb-0","readings":{"fall":1}`, sensor.ErrMalformed, 38, "end of message"},
		{`{"device":"wb-0"}`, sensor.ErrMalformed, 0, `no "readings"`},
		{`{"readings":{}}`, sensor.ErrMalformed, 0, `no "device"`},
		{`{"device":"wb-7","readings":{}}`, sensor.ErrUnknownDevice, 10, `"wb-7" is not registered`},
		{`{"device":"wb-1","readings":{}}`, sensor.ErrUnknownDevice, 10, "not registered"},
		{`{"device":"wb-0","readings":{"fall":1,"smell":2}}`, sensor.ErrUnknownResource, 38, `no resource "smell"`},
		{`{"readings":{"smell":2},"device":"wb-0"}`, sensor.ErrUnknownResource, 13, `no resource "smell"`},
		{`{"device":"wb-0","device":"wb-0","readings":{}}`, sensor.ErrMalformed, 17, "given twice"},
		{`{"device":7,"readings":{}}`, sensor.ErrMalformed, 10, "expected a string"},
		{`{"device":"wb-0","readings":[]}`, sensor.ErrMalformed, 28, "object of readings"},
		{`{"device":"wb-0","readings":{"fall":"1"}}`, sensor.ErrMalformed, 36, "a number, true or false"},
		{`{"device":"wb-0","readings":{"fall":01}}`, sensor.ErrMalformed, 37, "expected ',' or '}'"},
		{`{"device":"wb-0","readings":{"fall":1.}}`, sensor.ErrMalformed, 38, "no digit after '.'"},
		{`{"device":"wb-0","readings":{"fall":1e}}`, sensor.ErrMalformed, 38, "exponent"},
		{`{"device":"wb-0","readings":{"fall":-}}`, sensor.ErrMalformed, 37, "bad number"},
		{`{"device":"wb-0","readings":{"fall":1e999}}`, sensor.ErrMalformed, 36, "out of range"},
		{`{"device":"wb-0","readings":{"fall":[1,"",2]}}`, sensor.ErrMalformed, 41, "']'"},
		{`{"device":"wb-0","readings":{"fall":[1,2]}}`, sensor.ErrMalformed, 39, "expected a string"},
		{`{"device":"wb-0","readings":{"fall":nul}}`, sensor.ErrMalformed, 36, "a number"},
		{`{"device":"wb-0","seq":-1,"readings":{}}`, sensor.ErrMalformed, 23, "non-negative integer"},
		{`{"device":"wb-0","seq":1.5,"readings":{}}`, sensor.ErrMalformed, 23, "non-negative integer"},
		{`{"device":"wb-0","seq":18446744073709551616,"readings":{}}`, sensor.ErrMalformed, 23, "2^64-1"},
		{`{"device":"wb-0","ts":"yesterday","readings":{}}`, sensor.ErrMalformed, 22, "RFC 3339"},
		{`{"device":"wb-0","ts":"2023-02-29T00:00:00Z","readings":{}}`, sensor.ErrMalformed, 22, "RFC 3339"},
		{`{"device":"wb-0","ts":"2023-01-01T00:00:00+24:00","readings":{}}`, sensor.ErrMalformed, 22, "RFC 3339"},
		{`{"device":"wb-0","ts":"2023-01-01T00:00:00.Z","readings":{}}`, sensor.ErrMalformed, 22, "RFC 3339"},
		{`{"device":"wb-0","ts":99999999999999999,"readings":{}}`, sensor.ErrMalformed, 22, "out of range"},
		{`{"device":"wb-0","ts":true,"readings":{}}`, sensor.ErrMalformed, 22, "bad number"},
		{`{"device":"wb\x-0","readings":{}}`, sensor.ErrMalformed, 13, "bad escape"},
		{`{"device":"wb\u00","readings":{}}`, sensor.ErrMalformed, 13, `bad \u escape`},
		{"{\"device\":\"wb\n0\",\"readings\":{}}", sensor.ErrMalformed, 13, "control character"},
		{`{"device":"wb-0`, sensor.ErrMalformed, 10, "unterminated string"},
		{`{"device" "wb-0"}`, sensor.ErrMalformed, 10, "expected ':'"},
		{`{"device":"wb-0",}`, sensor.ErrMalformed, 17, "expected a string"},
		{`{"x":[1,}`, sensor.ErrMalformed, 8, "expected a value"},
		{`{"x":{"a" 1}}`, sensor.ErrMalformed, 10, "expected ':'"},
		{`{"x":[1 2]}`, sensor.ErrMalformed, 8, "expected ',' or ']'"},
		{`{"x":` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `}`, sensor.ErrMalformed, 70, "nested deeper than 64"},
		{`[{"device":"wb-0","readings":{}} {}]`, sensor.ErrMalformed, 33, "expected ',' or ']'"},
		{`[1]`, sensor.ErrMalformed, 1, "a message object"},
		{`[{"device":"wb-0","readings":{"fall":1}},{"device":"wb-9","readings":{}}]`, sensor.ErrUnknownDevice, 51, "not registered"},
	}
	for _, c := range cases {
		prefix := []sensor.Reading{{Value: -1}}
		got, err := sensor.DecodeJSON(reg, []byte(c.msg), prefix)
		var de *sensor.DecodeError
		if !assert.ErrorAs(t, err, &de, "%s", c.msg) {
			continue
		}
		assert.ErrorIs(t, err, c.err, c.msg)
		assert.Equal(t, c.offset, de.Offset, "%s: %v", c.msg, err)
		assert.Contains(t, err.Error(), c.reason, c.msg)
		assert.Contains(t, err.Error(), fmt.Sprintf("at byte %d", c.offset), c.msg)
		assert.Equal(t, prefix, got, "dst unchanged: %s", c.msg)
	}
}

func TestDecodeJSONLimits(t *testing.T) {
	reg := ingRegistry(t, 1)
	big := `{"device":"wb-0","readings":{` + strings.Repeat(`"fall":1,`, sensor.MaxMessageReadings) + `"fall":1}}`
	_, err := sensor.DecodeJSON(reg, []byte(big), nil)
	assert.ErrorIs(t, err, sensor.ErrMalformed)
	assert.Contains(t, err.Error(), "more than 8192 readings")
	huge := make([]byte, 1<<20+1)
	_, err = sensor.DecodeJSON(reg, huge, nil)
	assert.ErrorIs(t, err, sensor.ErrMalformed)
	assert.Contains(t, err.Error(), "exceeds")
}

func TestDecodeJSONDoesNotAllocate(t *testing.T) {
	if ingRace {
		t.Skip("allocation counts are meaningless under -race")
	}
	reg := ingRegistry(t, 3)
	msg := []byte(`{"device":"wb-2","seq":1234567,"ts":"2024-06-10T16:15:30.123+08:00","x":[null,{"y":"z"}],"readings":{"heart-rate":[72.25,"bpm"],"fall":false,"heartbeat":1}}`)
	dst := make([]sensor.Reading, 0, 8)
	allocs := testing.AllocsPerRun(200, func() {
		out, err := sensor.DecodeJSON(reg, msg, dst)
		if err != nil || len(out) != 3 {
			t.Fatal(err, out)
		}
	})
	assert.Zero(t, allocs)
}

func TestIngestJSON(t *testing.T) {
	reg := ingRegistry(t, 2)
	in := ingNew(t, reg, sensor.IngestOptions{})
	ctx := t.Context()
	res, err := in.IngestJSON(ctx, []byte(`{"device":"wb-1","seq":5,"readings":{"heart-rate":[75,"bpm"],"fall":3}}`))
	require.NoError(t, err)
	assert.Equal(t, 1, res.Accepted)
	require.Len(t, res.Rejected, 1)
	assert.ErrorIs(t, res.Err(), sensor.ErrOutOfRange)
	got, ok := in.Latest(1, ingHR)
	require.True(t, ok)
	assert.Equal(t, ingT0, got.Observed, "no ts: observed when received")
	assert.Equal(t, uint64(5), got.Seq)

	_, err = in.IngestJSON(ctx, []byte(`{"device":"wb-1"`))
	assert.ErrorIs(t, err, sensor.ErrMalformed)
	st := in.Stats()
	assert.Equal(t, int64(1), st.Messages)
	assert.Equal(t, int64(1), st.Malformed)
}

// FuzzDecodeJSON checks that the decoder never panics, that whatever it
// accepts is valid JSON whose readings name registered devices and
// resources, and that it leaves dst alone when it fails.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"device":"wb-1","seq":12,"ts":1718006130123,"readings":{"heart-rate":72.5,"fall":[1],"heartbeat":[1e3,""]}}`,
		`{"device":"wb-0","ts":"2024-06-10T16:15:30.5+08:00","readings":{"heart-rate":[80,"bpm"],"fall":true}}`,
		`[{"device":"wb-0","readings":{"fall":1}},{"device":"wb-1","seq":3,"readings":{"fall":0}}]`,
		`{"readings":{"fall":0},"fw":{"v":[1,2,{"x":null}]},"device":"wb\u002d2"}`,
		`{"device":"wb-0","readings":{"fall":1e999}}`,
		`{"device":"wb-0","ts":"2023-02-29T00:00:00Z","readings":{}}`,
		`{"device":"wb\ud83d\ude00","readings":{}}`,
		`[`, `{`, `"`, `-`, ``,
	} {
		f.Add([]byte(s))
	}
	reg := ingRegistry(f, 3)
	f.Fuzz(func(t *testing.T, data []byte) {
		prefix := []sensor.Reading{{Value: -1}}
		out, err := sensor.DecodeJSON(reg, data, prefix)
		if err != nil {
			var de *sensor.DecodeError
			if !errors.As(err, &de) || de.Offset < 0 || de.Offset > len(data) {
				t.Fatalf("error %v is not a *DecodeError with an offset in the message", err)
			}
			if len(out) != 1 || out[0].Value != -1 {
				t.Fatalf("dst changed on error: %v", out)
			}
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		for _, r := range out[1:] {
			if r.Device > 2 || r.Resource > 2 {
				t.Fatalf("reading %+v names no registered device or resource", r)
			}
		}
	})
}

func TestIngestJSONDoesNotAllocate(t *testing.T) {
	if ingRace {
		t.Skip("allocation counts are meaningless under -race")
	}
	reg := ingRegistry(t, 3)
	in := ingNew(t, reg, sensor.IngestOptions{Observers: []sensor.Observer{&ingCountObserver{}}})
	ctx := t.Context()
	msg := []byte(`{"device":"wb-2","readings":{"heart-rate":[72.25,"bpm"],"fall":false,"heartbeat":1}}`)
	_, err := in.IngestJSON(ctx, msg)
	require.NoError(t, err)
	assert.Zero(t, testing.AllocsPerRun(200, func() {
		if _, err := in.IngestJSON(ctx, msg); err != nil {
			t.Fatal(err)
		}
	}))
}
