package open311_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/incident"
	"github.com/govkit/govkit/incident/open311"
	"github.com/govkit/govkit/pii"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const fullBody = `{
	"api_key": "xyz", "jurisdiction_id": "cq.gov.cn", "something_else": {"nested": [1, 2]},
	"service_code": "construction-waste",
	"lat": 29.528, "long": "106.4896",
	"address_string": "科园一路3号",
	"address_id": 545483,
	"description": "rubble on the pavement\nnext to the bus stop",
	"email": "zhang@example.cn",
	"first_name": "三", "last_name": "张",
	"phone": "+86 138-1234-5678",
	"device_id": "dev-1", "account_id": 42,
	"request_id": "req-0001",
	"media_url": "https://media.example.cn/a.jpg",
	"media_sha256": "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
	"attribute": {"volume": 2.5, "kinds": ["brick", "soil"], "flag": true, "empty": "", "none": null},
	"attribute[kinds][]": "glass"
}`

func TestParseServiceRequestFull(t *testing.T) {
	r, err := open311.ParseServiceRequest([]byte(fullBody))
	require.NoError(t, err)
	assert.Equal(t, incident.CitizenApp, r.Channel)
	assert.Equal(t, geo.WGS84, r.CRS)
	assert.Equal(t, "construction-waste", r.Category)
	assert.Equal(t, geo.Point{Lat: 29.528, Lon: 106.4896}, r.Point)
	assert.Equal(t, "科园一路3号", r.Address)
	assert.Equal(t, "rubble on the pavement\nnext to the bus stop", r.Description)
	assert.Equal(t, map[string][]string{
		"volume": {"2.5"}, "kinds": {"brick", "soil", "glass"}, "flag": {"true"},
	}, r.Attributes)
	assert.Equal(t, "张三", reveal(t, r.Name), "two Han parts join family name first")
	assert.Equal(t, "13812345678", reveal(t, r.Phone))
	assert.True(t, strings.HasPrefix(r.Key, "open311:"))
	assert.Len(t, r.Key, len("open311:")+64)
	assert.Equal(t, open311.ExternalSystem, r.ExternalSystem)
	assert.Equal(t, "req-0001", r.ExternalID)
	assert.Equal(t, []incident.Evidence{{
		URI:    "https://media.example.cn/a.jpg",
		SHA256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	}}, r.Evidence)
	assert.False(t, r.Anonymous)
}

func TestParseServiceRequestMinimal(t *testing.T) {
	r, err := open311.ParseServiceRequest([]byte(`{"service_code": " manhole-cover ", "lat": "29.55", "long": 106.5}`))
	require.NoError(t, err)
	assert.Equal(t, "manhole-cover", r.Category)
	assert.Equal(t, geo.Point{Lat: 29.55, Lon: 106.5}, r.Point)
	assert.Nil(t, r.Attributes)
	assert.Empty(t, r.Key, "no client reference, no idempotency key")
	assert.Empty(t, r.ExternalSystem)
	assert.Empty(t, r.ExternalID)
	assert.True(t, r.Name.IsZero())
	assert.True(t, r.Phone.IsZero())
	assert.Nil(t, r.Evidence)
}

func TestParseServiceRequestNames(t *testing.T) {
	tests := []struct{ first, last, want string }{
		{"John", "Smith", "John Smith"},
		{"  John ", "", "John"},
		{"", "Smith", "Smith"},
		{"娜娜", "欧阳", "欧阳娜娜"},
		{"Nana", "欧阳", "Nana 欧阳"},
		{"买买提", "阿依古丽·", "阿依古丽·买买提"},
	}
	for _, tt := range tests {
		body, _ := json.Marshal(map[string]any{"service_code": "x", "lat": 29.5, "long": 106.5, "first_name": tt.first, "last_name": tt.last})
		r, err := open311.ParseServiceRequest(body)
		require.NoError(t, err)
		assert.Equal(t, tt.want, reveal(t, r.Name))
	}
}

func TestParseServiceRequestKey(t *testing.T) {
	key := func(fields string) string {
		r, err := open311.ParseServiceRequest([]byte(`{"service_code": "x", "lat": 29.5, "long": 106.5` + fields + `}`))
		require.NoError(t, err)
		return r.Key
	}
	a := key(`, "device_id": "d", "account_id": "a", "request_id": "1"`)
	assert.Equal(t, a, key(`, "device_id": "d", "account_id": "a", "request_id": "1", "description": "again"`), "a retry has the same key")
	assert.NotEqual(t, a, key(`, "device_id": "d2", "account_id": "a", "request_id": "1"`))
	assert.NotEqual(t, a, key(`, "device_id": "d", "account_id": "a", "request_id": "2"`))
	assert.NotEqual(t, key(`, "device_id": "ab", "request_id": "c"`), key(`, "device_id": "a", "account_id": "b", "request_id": "c"`), "fields do not run into each other")
	assert.Equal(t, key(`, "request_id": "t"`), key(`, "token": "t"`), "token stands in for request_id")
	assert.NotContains(t, key(`, "device_id": "device-secret", "request_id": "1"`), "device-secret")
	assert.Empty(t, key(`, "device_id": "d", "account_id": "a"`))

	r, err := open311.ParseServiceRequest([]byte(`{"service_code": "x", "lat": 29.5, "long": 106.5, "service_request_id": 638344, "request_id": "r"}`))
	require.NoError(t, err)
	assert.Equal(t, "638344", r.ExternalID, "service_request_id comes before the client's reference")
	assert.Equal(t, open311.ExternalSystem, r.ExternalSystem)
}

// The spec's own example request, form-encoded.
func TestParseServiceRequestFormSpecExample(t *testing.T) {
	const example = "api_key=xyz&jurisdiction_id=city.gov&service_code=001&lat=37.76524078&long=-122.4212043&address_string=1234+5th+street&email=smit333%40sfgov.edu&device_id=tt222111&account_id=123456&first_name=john&last_name=smith&phone=111111111&description=A+large+sinkhole+is+destroying+the+street&media_url=http%3A%2F%2Ffarm3.static.flickr.com%2F2002%2F2212426634_5ed477a060.jpg&attribute[WHISPAWN]=123456&attribute[WHISDORN]=COISL001"
	v, err := url.ParseQuery(example)
	require.NoError(t, err)
	_, err = open311.ParseServiceRequestForm(v)
	var fe *open311.FieldError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "phone", fe.Field, "a US number is not a mainland mobile number")
	assert.ErrorIs(t, err, pii.ErrInvalidPhone)

	v.Del("phone")
	r, err := open311.ParseServiceRequestForm(v)
	require.NoError(t, err)
	assert.Equal(t, "001", r.Category)
	assert.Equal(t, geo.Point{Lat: 37.76524078, Lon: -122.4212043}, r.Point)
	assert.Equal(t, "1234 5th street", r.Address)
	assert.Equal(t, map[string][]string{"WHISPAWN": {"123456"}, "WHISDORN": {"COISL001"}}, r.Attributes)
	assert.Equal(t, "john smith", reveal(t, r.Name))
	assert.Nil(t, r.Evidence, "media_url without a hash is dropped")
}

// A form and its JSON equivalent give the same report.
func TestParseServiceRequestFormMatchesJSON(t *testing.T) {
	form := url.Values{
		"service_code": {"construction-waste"}, "lat": {"29.528"}, "long": {"106.4896"},
		"address_string": {"科园一路3号"}, "description": {"rubble"}, "first_name": {"三"}, "last_name": {"张"},
		"phone": {"13812345678"}, "device_id": {"d"}, "request_id": {"r"},
		"attribute[volume]": {"2.5"}, "attribute[kinds][]": {"brick", "soil"},
	}
	fromForm, err := open311.ParseServiceRequestForm(form)
	require.NoError(t, err)
	fromJSON, err := open311.ParseServiceRequest([]byte(`{"service_code": "construction-waste", "lat": 29.528, "long": 106.4896,
		"address_string": "科园一路3号", "description": "rubble", "first_name": "三", "last_name": "张",
		"phone": 13812345678, "device_id": "d", "request_id": "r",
		"attribute": {"volume": "2.5", "kinds": ["brick", "soil"]}}`))
	require.NoError(t, err)
	assertSameReport(t, fromJSON, fromForm)

	// attribute[code] repeated works as attribute[code][].
	form.Del("attribute[kinds][]")
	form["attribute[kinds]"] = []string{"brick", "soil"}
	again, err := open311.ParseServiceRequestForm(form)
	require.NoError(t, err)
	assertSameReport(t, fromJSON, again)
}

func assertSameReport(t *testing.T, want, got incident.Report) {
	t.Helper()
	assert.True(t, want.Name.Equal(got.Name), "name")
	assert.True(t, want.Phone.Equal(got.Phone), "phone")
	want.Name, want.Phone, got.Name, got.Phone = pii.Data{}, pii.Data{}, pii.Data{}, pii.Data{}
	assert.Equal(t, want, got)
}

func TestParseServiceRequestErrors(t *testing.T) {
	loc := `"service_code": "x", "lat": 29.5, "long": 106.5`
	attrs := func(n int) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = fmt.Sprintf(`"a%d": "v"`, i)
		}
		return strings.Join(parts, ",")
	}
	values := func(n int) string {
		return `[` + strings.TrimSuffix(strings.Repeat(`"v",`, n), ",") + `]`
	}
	tests := []struct {
		name, body, field, reason string
	}{
		{"oversize", `{"description": "` + strings.Repeat("x", open311.MaxBodyBytes) + `"}`, "body", "larger"},
		{"not JSON", `{"service_code": `, "body", "not valid JSON"},
		{"array", `[{"service_code": "x"}]`, "body", "object"},
		{"null", `null`, "body", "object"},
		{"string", `"x"`, "body", "object"},
		{"no service_code", `{"lat": 29.5, "long": 106.5}`, "service_code", "required"},
		{"empty service_code", `{"service_code": " ", "lat": 29.5, "long": 106.5}`, "service_code", "required"},
		{"null service_code", `{"service_code": null, "lat": 29.5, "long": 106.5}`, "service_code", "required"},
		{"number service_code", `{"service_code": 1, "lat": 29.5, "long": 106.5}`, "service_code", "must be a string"},
		{"bad service_code", `{"service_code": "a b", "lat": 29.5, "long": 106.5}`, "service_code", "letters"},
		{"long service_code", `{"service_code": "` + strings.Repeat("a", 65) + `", "lat": 29.5, "long": 106.5}`, "service_code", "letters"},
		{"no location", `{"service_code": "x"}`, "lat", "location is required"},
		{"address only", `{"service_code": "x", "address_string": "科园一路3号"}`, "lat", "does not geocode"},
		{"address_id only", `{"service_code": "x", "address_id": 545483}`, "lat", "does not geocode"},
		{"lat only", `{"service_code": "x", "lat": 29.5}`, "long", "required with lat"},
		{"long only", `{"service_code": "x", "long": 106.5}`, "lat", "required with long"},
		{"lat text", `{"service_code": "x", "lat": "north", "long": 106.5}`, "lat", "not a number"},
		{"lat NaN", `{"service_code": "x", "lat": "NaN", "long": 106.5}`, "lat", "not a number"},
		{"lat Inf", `{"service_code": "x", "lat": "Infinity", "long": 106.5}`, "lat", "not a number"},
		{"lat hex", `{"service_code": "x", "lat": "0x1p4", "long": 106.5}`, "lat", "not a number"},
		{"lat huge", `{"service_code": "x", "lat": 1e400, "long": 106.5}`, "lat", "finite"},
		{"lat bool", `{"service_code": "x", "lat": true, "long": 106.5}`, "lat", "must be a number"},
		{"lat object", `{"service_code": "x", "lat": {}, "long": 106.5}`, "lat", "must be a number"},
		{"lat out of range", `{"service_code": "x", "lat": 90.5, "long": 106.5}`, "lat", "outside"},
		{"long out of range", `{"service_code": "x", "lat": 29.5, "long": -180.01}`, "long", "outside"},
		{"description too long", `{` + loc + `, "description": "` + strings.Repeat("x", 4001) + `"}`, "description", "longer than 4000"},
		{"description number", `{` + loc + `, "description": 5}`, "description", "must be a string"},
		{"description escape", `{` + loc + `, "description": "a\u001b[2Jb"}`, "description", "control character"},
		{"address too long", `{` + loc + `, "address_string": "` + strings.Repeat("x", 513) + `"}`, "address_string", "longer than 512"},
		{"address newline", `{` + loc + `, "address_string": "a\nb"}`, "address_string", "control character"},
		{"address_id too long", `{` + loc + `, "address_id": "` + strings.Repeat("x", 257) + `"}`, "address_id", "longer"},
		{"email too long", `{` + loc + `, "email": "` + strings.Repeat("x", 255) + `"}`, "email", "longer"},
		{"email number", `{` + loc + `, "email": 5}`, "email", "must be a string"},
		{"device_id too long", `{` + loc + `, "device_id": "` + strings.Repeat("x", 257) + `"}`, "device_id", "longer"},
		{"account_id bool", `{` + loc + `, "account_id": false}`, "account_id", "string or a number"},
		{"request_id object", `{` + loc + `, "request_id": {"a": 1}}`, "request_id", "string or a number"},
		{"token too long", `{` + loc + `, "token": "` + strings.Repeat("x", 257) + `"}`, "token", "longer"},
		{"service_request_id array", `{` + loc + `, "service_request_id": [1]}`, "service_request_id", "string or a number"},
		{"phone invalid", `{` + loc + `, "phone": "1381234567"}`, "phone", "mobile"},
		{"phone landline", `{` + loc + `, "phone": "023-6386-1234"}`, "phone", "mobile"},
		{"phone bool", `{` + loc + `, "phone": true}`, "phone", "string or a number"},
		{"first_name control", `{` + loc + `, "first_name": "张\u0007三"}`, "first_name", "not a name"},
		{"last_name too long", `{` + loc + `, "last_name": "` + strings.Repeat("张", 65) + `"}`, "last_name", "not a name"},
		{"name too long together", `{` + loc + `, "first_name": "` + strings.Repeat("a", 40) + `", "last_name": "` + strings.Repeat("b", 40) + `"}`, "first_name", "with last_name"},
		{"first_name number", `{` + loc + `, "first_name": 7}`, "first_name", "must be a string"},
		{"attribute string", `{` + loc + `, "attribute": "volume=2"}`, "attribute", "object"},
		{"attribute array", `{` + loc + `, "attribute": [{"volume": 2}]}`, "attribute", "object"},
		{"attribute value object", `{` + loc + `, "attribute": {"volume": {"v": 2}}}`, "attribute[volume]", "must be a string, number or boolean"},
		{"attribute value null in array", `{` + loc + `, "attribute": {"kinds": ["a", null]}}`, "attribute[kinds]", "an array holds"},
		{"attribute value nested array", `{` + loc + `, "attribute": {"kinds": [["a"]]}}`, "attribute[kinds]", "an array holds"},
		{"attribute bad code", `{` + loc + `, "attribute": {"a b": "v"}}`, "attribute", "a code"},
		{"attribute empty code", `{` + loc + `, "attribute": {"": "v"}}`, "attribute", "a code"},
		{"attribute malformed key", `{` + loc + `, "attribute[volume": "v"}`, "attribute", "attribute[code]"},
		{"attribute key bad code", `{` + loc + `, "attribute[a/b]": "v"}`, "attribute", "attribute[code]"},
		{"attribute value too long", `{` + loc + `, "attribute": {"note": "` + strings.Repeat("x", 4001) + `"}}`, "attribute[note]", "longer"},
		{"attribute value control", `{` + loc + `, "attribute": {"note": "\u0000"}}`, "attribute[note]", "control"},
		{"too many attributes", `{` + loc + `, "attribute": {` + attrs(101) + `}}`, "attribute", "more than 100 attributes"},
		{"too many values", `{` + loc + `, "attribute": {"kinds": ` + values(101) + `}}`, "attribute[kinds]", "more than 100 values"},
		{"media_url script", `{` + loc + `, "media_url": "javascript:alert(1)"}`, "media_url", "http"},
		{"media_url relative", `{` + loc + `, "media_url": "/a.jpg"}`, "media_url", "http"},
		{"media_url number", `{` + loc + `, "media_url": 1}`, "media_url", "must be a string"},
		{"media_url too long", `{` + loc + `, "media_url": "https://x.cn/` + strings.Repeat("a", 2048) + `"}`, "media_url", "longer"},
		{"media_sha256 short", `{` + loc + `, "media_url": "https://x.cn/a", "media_sha256": "abcd"}`, "media_sha256", "64 hex"},
		{"media_sha256 alone", `{` + loc + `, "media_sha256": "` + strings.Repeat("ab", 32) + `"}`, "media_sha256", "without media_url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := open311.ParseServiceRequest([]byte(tt.body))
			require.Error(t, err)
			assert.Equal(t, incident.Report{}, r)
			assertFieldError(t, err, tt.field, tt.reason)
		})
	}
}

func assertFieldError(t *testing.T, err error, field, reason string) {
	t.Helper()
	require.ErrorIs(t, err, open311.ErrInvalidRequest)
	var fe *open311.FieldError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, field, fe.Field, err.Error())
	assert.Contains(t, err.Error(), reason)
}

func TestParseServiceRequestFormErrors(t *testing.T) {
	base := func() url.Values {
		return url.Values{"service_code": {"x"}, "lat": {"29.5"}, "long": {"106.5"}}
	}
	with := func(k string, v ...string) url.Values {
		u := base()
		u[k] = v
		return u
	}
	tests := []struct {
		name          string
		form          url.Values
		field, reason string
	}{
		{"oversize", with("description", strings.Repeat("x", open311.MaxBodyBytes)), "body", "larger"},
		{"no service_code", url.Values{"lat": {"29.5"}, "long": {"106.5"}}, "service_code", "required"},
		{"two service_codes", with("service_code", "x", "y"), "service_code", "more than once"},
		{"two lats", with("lat", "29.5", "29.6"), "lat", "more than once"},
		{"address only", url.Values{"service_code": {"x"}, "address_string": {"1234 5th street"}}, "lat", "does not geocode"},
		{"lat text", with("lat", "north"), "lat", "not a number"},
		{"long empty", with("long", ""), "long", "required with lat"},
		{"description not UTF-8", with("description", "a\xffb"), "description", "UTF-8"},
		{"attribute not UTF-8", with("attribute[note]", "a\xffb"), "attribute[note]", "UTF-8"},
		{"plain attribute key", with("attribute", "volume=2"), "attribute", "attribute[code]=value"},
		{"malformed attribute key", with("attribute[volume", "2"), "attribute", "attribute[code]"},
		{"attribute key with index", with("attribute[kinds][0]", "2"), "attribute", "attribute[code]"},
		{"phone", with("phone", "111111111"), "phone", "mobile"},
		{"media_url", with("media_url", "ftp://x.cn/a.jpg"), "media_url", "http"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := open311.ParseServiceRequestForm(tt.form)
			assertFieldError(t, err, tt.field, tt.reason)
		})
	}
}

// No error repeats a phone number, a name or an email address, whatever
// field it was sent in.
func TestErrorsDoNotEchoPersonalData(t *testing.T) {
	secrets := []string{"1381234567", "13812345678", "张三丰", "Zhang", "zhang@example.cn", "5678"}
	bodies := []string{
		`{"service_code": "x", "lat": 29.5, "long": 106.5, "phone": "1381234567"}`,
		`{"service_code": "x", "lat": 29.5, "long": 106.5, "phone": "1381234567x"}`,
		`{"service_code": "x", "lat": 29.5, "long": 106.5, "phone": "+1 13812345678"}`,
		`{"service_code": "x", "lat": 29.5, "long": 106.5, "phone": 1381234567}`,
		`{"service_code": "x", "lat": 29.5, "long": 106.5, "first_name": "张三丰\u0000"}`,
		`{"service_code": "x", "lat": 29.5, "long": 106.5, "last_name": "Zhang\u001b"}`,
		`{"service_code": "x", "lat": 29.5, "long": 106.5, "first_name": "Zhang", "last_name": "` + strings.Repeat("z", 64) + `"}`,
		`{"service_code": "x", "lat": 29.5, "long": 106.5, "email": "zhang@example.cn` + strings.Repeat(" ", 250) + `"}`,
		`{"service_code": "x", "lat": 29.5, "long": 106.5, "email": "zhang@example.cn\u0000"}`,
		`{"service_code": "x", "lat": "13812345678", "long": 106.5}`,
		`{"service_code": "13812345678 张三丰", "lat": 29.5, "long": 106.5}`,
		`{"service_code": "x", "lat": 29.5, "long": 106.5, "attribute": {"张三丰": "13812345678"}}`,
		`{"service_code": "x", "lat": 29.5, "long": 106.5, "attribute[Zhang 13812345678]": "v"}`,
	}
	for _, body := range bodies {
		_, err := open311.ParseServiceRequest([]byte(body))
		require.Error(t, err, body)
		for _, s := range secrets {
			assert.NotContains(t, err.Error(), s, body)
		}
	}
}

func TestFieldErrorUnwrap(t *testing.T) {
	cause := errors.New("cause")
	err := &open311.FieldError{Field: "lat", Reason: "bad", Err: cause}
	assert.ErrorIs(t, err, open311.ErrInvalidRequest)
	assert.ErrorIs(t, err, cause)
	assert.Equal(t, "open311: invalid request: lat: bad: cause", err.Error())
	assert.Equal(t, "open311: invalid request: lat: bad", (&open311.FieldError{Field: "lat", Reason: "bad"}).Error())
}
