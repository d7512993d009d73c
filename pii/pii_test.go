package pii_test

import (
	"bytes"
	"context"
	"encoding/gob"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/pii"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// withCheck appends the GB 11643-1999 check character to 17 digits,
// computed here independently of the package.
func withCheck(s17 string) string {
	weights := []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i, w := range weights {
		sum += int(s17[i]-'0') * w
	}
	return s17 + string("10X98765432"[sum%11])
}

// reveal returns d's raw value, allowed by AllowAll.
func reveal(t testing.TB, d pii.Data) string {
	t.Helper()
	v, err := d.Reveal(context.Background(), access.AllowAll(), access.Resource{Kind: "incident", Jurisdiction: "500107"})
	require.NoError(t, err)
	return v
}

func mustPhone(t testing.TB, s string) pii.Data {
	t.Helper()
	d, err := pii.NewPhone(s)
	require.NoError(t, err)
	return d
}

func TestKindString(t *testing.T) {
	assert.Equal(t, "name", pii.Name.String())
	assert.Equal(t, "phone", pii.Phone.String())
	assert.Equal(t, "id-number", pii.IDNumber.String())
	assert.Equal(t, "address", pii.Address.String())
	assert.Equal(t, "Kind(0)", pii.Kind(0).String())
	assert.Equal(t, "Kind(9)", pii.Kind(9).String())
}

func TestNewPhone(t *testing.T) {
	for _, s := range []string{"13812345678", "138 1234 5678", "138-1234-5678", "+8613812345678",
		"+86 138 1234 5678", "8613812345678", "86-138-1234-5678", " 13812345678 "} {
		d, err := pii.NewPhone(s)
		require.NoError(t, err, s)
		assert.Equal(t, "13812345678", reveal(t, d), s)
		assert.Equal(t, pii.Phone, d.Kind())
	}
	for _, s := range []string{"19912345678", "13012345678", "15012345678"} {
		_, err := pii.NewPhone(s)
		assert.NoError(t, err, s)
	}
	for _, c := range []struct{ in, reason string }{
		{"1381234567", "11 digits expected, got 10"},
		{"138123456789", "11 digits expected, got 12"},
		{"", "11 digits expected, got 0"},
		{"+1 2025550123", "only the +86 country code is accepted"},
		{"+8", "only the +86 country code is accepted"},
		{"1381234567a", "non-digit at position 11"},
		{"138.1234.5678", "non-digit at position 4"},
		{"23812345678", "a mobile number starts with 1"},
		{"12812345678", "the second digit of a mobile number is 3 to 9"},
		{"01012345678", "a mobile number starts with 1"},
		{"8612812345678", "the second digit of a mobile number is 3 to 9"},
		{"１３８１２３４５６７８", "non-digit at position 1"}, // full-width digits
	} {
		_, err := pii.NewPhone(c.in)
		var pe *pii.Error
		require.ErrorAs(t, err, &pe, c.in)
		assert.Equal(t, pii.Phone, pe.Kind)
		assert.Equal(t, c.reason, pe.Reason, c.in)
		assert.ErrorIs(t, err, pii.ErrInvalidPhone)
		assert.ErrorIs(t, err, pii.ErrInvalid)
		assert.NotErrorIs(t, err, pii.ErrInvalidIDNumber)
		assert.Equal(t, "pii: invalid phone: "+c.reason, err.Error())
		assertNotIn(t, err.Error(), c.in)
	}
}

// assertNotIn fails if the value, or its digits, appear in msg.
func assertNotIn(t *testing.T, msg, value string) {
	t.Helper()
	if len(value) < 5 {
		return // too short to be told apart from words and counts
	}
	assert.NotContains(t, msg, value)
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, value)
	if len(digits) >= 5 {
		assert.NotContains(t, msg, digits)
	}
}

func TestNewIDNumber(t *testing.T) {
	const sample = "11010519491231002X" // the standard's own example
	d, err := pii.NewIDNumber(sample)
	require.NoError(t, err)
	assert.Equal(t, sample, reveal(t, d))
	assert.Equal(t, sample, withCheck(sample[:17]), "the sample is valid by the algorithm")

	lower, err := pii.NewIDNumber("11010519491231002x")
	require.NoError(t, err)
	assert.Equal(t, sample, reveal(t, lower), "x is normalised to X")
	assert.True(t, d.Equal(lower))

	for _, s17 := range []string{"50010719850312123", "44030420000229001", "31011519000101123",
		"65010219991231456", "50010720240101007", "13010219990909999"} {
		id := withCheck(s17)
		d, err := pii.NewIDNumber(" " + id + "\n")
		require.NoError(t, err, id)
		assert.Equal(t, id, reveal(t, d))
	}

	good := withCheck("50010719850312123")
	wrong := good[:17] + string("0123456789X"[(strings.IndexByte("0123456789X", good[17])+1)%11])
	for _, c := range []struct{ in, reason string }{
		{wrong, "the check character does not match"},
		{withCheck("50010720230230123"), "the birth date is not a real date in 1900 or later"}, // Feb 30
		{withCheck("50010720230229123"), "the birth date is not a real date in 1900 or later"}, // not a leap year
		{withCheck("50010719000229123"), "the birth date is not a real date in 1900 or later"}, // 1900 was not either
		{withCheck("50010718991231123"), "the birth date is not a real date in 1900 or later"},
		{withCheck("50010719851301123"), "the birth date is not a real date in 1900 or later"},
		{withCheck("50010719850100123"), "the birth date is not a real date in 1900 or later"},
		{withCheck("50010719850431123"), "the birth date is not a real date in 1900 or later"},
		{withCheck("00010719850312123"), "the area code does not start with 0"},
		{"5001071985031212A" + "", "18 characters expected, got 17"},
		{"50010719850312123A", "the check character is a digit or X"},
		{"5001071985O312123X", "non-digit at position 11"},
		{good + "1", "18 characters expected, got 19"},
		{good[:17], "18 characters expected, got 17"},
		{"", "18 characters expected, got 0"},
		{"５0010719850312123X", "18 characters expected, got 18"}, // a full-width digit: 18 runes, 20 bytes
	} {
		_, err := pii.NewIDNumber(c.in)
		var pe *pii.Error
		require.ErrorAs(t, err, &pe, c.in)
		assert.Equal(t, pii.IDNumber, pe.Kind)
		assert.Equal(t, c.reason, pe.Reason, c.in)
		assert.ErrorIs(t, err, pii.ErrInvalidIDNumber)
		assert.ErrorIs(t, err, pii.ErrInvalid)
		assertNotIn(t, err.Error(), c.in)
	}
	// A leap day in a leap year is fine.
	_, err = pii.NewIDNumber(withCheck("50010720240229123"))
	assert.NoError(t, err)
}

func TestNewNameAndAddress(t *testing.T) {
	n, err := pii.NewName("  张三 ")
	require.NoError(t, err)
	assert.Equal(t, "张三", reveal(t, n))
	assert.Equal(t, pii.Name, n.Kind())

	a, err := pii.NewAddress("重庆市九龙坡区石桥铺街道科园一路3号")
	require.NoError(t, err)
	assert.Equal(t, pii.Address, a.Kind())

	_, err = pii.NewName(strings.Repeat("名", 64))
	assert.NoError(t, err)
	_, err = pii.NewAddress(strings.Repeat("路", 256))
	assert.NoError(t, err)

	for _, c := range []struct {
		k      pii.Kind
		in     string
		reason string
	}{
		{pii.Name, "", "empty"},
		{pii.Name, " \t ", "empty"},
		{pii.Name, strings.Repeat("名", 65), "at most 64 characters allowed, got 65"},
		{pii.Name, "张\x1b[2J三", "control character at rune 2"},
		{pii.Name, "张\n三", "control character at rune 2"},
		{pii.Name, "张\xff", "not valid UTF-8"},
		{pii.Address, "", "empty"},
		{pii.Address, strings.Repeat("路", 257), "at most 256 characters allowed, got 257"},
		{pii.Address, "科园一路\r\n3号", "control character at rune 5"},
	} {
		var err error
		if c.k == pii.Name {
			_, err = pii.NewName(c.in)
		} else {
			_, err = pii.NewAddress(c.in)
		}
		var pe *pii.Error
		require.ErrorAs(t, err, &pe, c.in)
		assert.Equal(t, c.k, pe.Kind)
		assert.Equal(t, c.reason, pe.Reason)
		assert.ErrorIs(t, err, pii.ErrInvalid)
		if c.k == pii.Name {
			assert.ErrorIs(t, err, pii.ErrInvalidName)
		} else {
			assert.ErrorIs(t, err, pii.ErrInvalidAddress)
		}
		assertNotIn(t, err.Error(), c.in)
	}
}

func TestMasked(t *testing.T) {
	name := func(s string) pii.Data { d, err := pii.NewName(s); require.NoError(t, err); return d }
	addr := func(s string) pii.Data { d, err := pii.NewAddress(s); require.NoError(t, err); return d }
	id, err := pii.NewIDNumber("11010519491231002X")
	require.NoError(t, err)

	for _, c := range []struct {
		d    pii.Data
		want string
	}{
		{mustPhone(t, "13812345678"), "138****5678"},
		{id, "110***********002X"},
		{name("张三"), "张*"},
		{name("欧阳娜娜"), "欧***"},
		{name("李"), "*"},
		{name("Li Ming"), "L******"},
		{addr("重庆市九龙坡区石桥铺街道科园一路3号"), "重庆市九龙坡****"},
		{addr("北京市朝阳区"), "北京市****"},
		{addr("重庆市九龙坡区"), "重庆市****"},
		{addr("科园一路3号十二楼"), "科园一路****"},
		{addr("重庆市九龙坡区石桥铺"), "重庆市九龙****"},
		{addr("重庆市九龙坡区石桥铺街"), "重庆市九龙****"},
		{addr("重庆市九龙坡区石桥铺街道"), "重庆市九龙坡****"},
		{addr("3号"), "3****"},
		{addr("3"), "****"},
		{pii.Data{}, ""},
	} {
		assert.Equal(t, c.want, c.d.Masked())
	}
	assert.True(t, pii.Data{}.IsZero())
	assert.False(t, mustPhone(t, "13812345678").IsZero())
	assert.Equal(t, pii.Kind(0), pii.Data{}.Kind())
}

func TestEqual(t *testing.T) {
	a := mustPhone(t, "13812345678")
	b := mustPhone(t, "+86 138-1234-5678")
	c := mustPhone(t, "13812345679")
	n, err := pii.NewName("13812345678") // same text, another kind
	require.NoError(t, err)
	assert.True(t, a.Equal(b))
	assert.False(t, a.Equal(c))
	assert.False(t, a.Equal(n))
	assert.False(t, a.Equal(pii.Data{}))
	assert.False(t, pii.Data{}.Equal(a))
	assert.True(t, pii.Data{}.Equal(pii.Data{}))
}

// Every fmt verb prints the masked form.
func TestFormat(t *testing.T) {
	d := mustPhone(t, "13812345678")
	for _, c := range []struct{ format, want string }{
		{"%v", "138****5678"},
		{"%+v", "138****5678"},
		{"%#v", `pii.Data{phone:"138****5678"}`},
		{"%s", "138****5678"},
		{"%q", `"138****5678"`},
		{"%#q", "`138****5678`"},
		{"%x", "138****5678"},
		{"%X", "138****5678"},
		{"% x", "138****5678"},
		{"%d", "138****5678"},
		{"%t", "138****5678"},
		{"%f", "138****5678"},
		{"%c", "138****5678"},
		{"%U", "138****5678"},
		{"%b", "138****5678"},
		{"%o", "138****5678"},
		{"%e", "138****5678"},
		{"%15s|", "    138****5678|"},
		{"%-15v|", "138****5678    |"},
		{"%.3s", "138"},
		{"%[1]v %[1]s", "138****5678 138****5678"},
	} {
		assert.Equal(t, c.want, fmt.Sprintf(c.format, d), c.format)
		assert.Equal(t, c.want, fmt.Sprintf(c.format, &d), "pointer "+c.format)
	}
	assert.Equal(t, "pii.Data", fmt.Sprintf("%T", d))
	// %p is handled by fmt before any method; it prints addresses only.
	assert.Regexp(t, `^%!p\(pii.Data=\{0x[0-9a-f]+\}\)$`, fmt.Sprintf("%p", d))
	assert.Regexp(t, `^0x[0-9a-f]+$`, fmt.Sprintf("%p", &d))
	assert.Equal(t, "138****5678", d.String())
	assert.Equal(t, "138****5678", fmt.Sprint(d))
	assert.Equal(t, "138****5678\n", fmt.Sprintln(d))
	assert.Equal(t, `pii.Data{phone:"138****5678"}`, d.GoString())
	assert.Equal(t, "pii.Data{}", pii.Data{}.GoString())
	assert.Equal(t, `""`, fmt.Sprintf("%q", pii.Data{}))
	assert.Equal(t, "[138****5678 138****5678]", fmt.Sprint([]pii.Data{d, d}))
	assert.Equal(t, "map[phone:138****5678]", fmt.Sprint(map[string]pii.Data{"phone": d}))
}

// allVerbs are the fmt verbs and flags to try on values holding Data,
// including those invalid for pointers, which fmt handles differently.
var allVerbs = []string{"%v", "%+v", "%#v", "%s", "%+s", "%q", "%+q", "%#q", "%x", "%X", "% x", "%#x",
	"%d", "%t", "%f", "%F", "%e", "%E", "%g", "%G", "%c", "%U", "%b", "%o", "%O", "%p", "%T", "%w",
	"%10s", "%-x", "%.3v", "%z"}

// The case the pointer field exists for: a Data in an unexported field is
// printed by reflection, because fmt may not call methods on values it
// reached through unexported fields. Reflection finds a pointer and prints
// its address.
func TestUnexportedFieldPrintsPointer(t *testing.T) {
	type incident struct {
		id       string
		reporter pii.Data
		contacts []pii.Data
		byRole   map[string]pii.Data
		any      any
		ptr      *pii.Data
	}
	d := mustPhone(t, "13812345678")
	v := incident{id: "inc-7", reporter: d, contacts: []pii.Data{d}, byRole: map[string]pii.Data{"caller": d}, any: d, ptr: &d}
	for _, f := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%d", "%q"} {
		for _, arg := range []any{v, &v, []incident{v}} {
			out := fmt.Sprintf(f, arg)
			assert.NotContains(t, out, "13812345678", f)
			assert.NotContains(t, out, "12345678", f)
			assert.NotContains(t, out, "3133383132333435363738", f) // hex of the number
		}
	}
	// What fmt actually prints: the field's pointer, not the value.
	out := fmt.Sprintf("%+v", v)
	assert.Regexp(t, `^\{id:inc-7 reporter:\{p:0x[0-9a-f]+\} contacts:\[\{p:0x[0-9a-f]+\}\] byRole:map\[caller:\{p:0x[0-9a-f]+\}\] any:\{p:0x[0-9a-f]+\} ptr:0x[0-9a-f]+\}$`, out)
	assert.Contains(t, fmt.Sprintf("%#v", v), "reporter:pii.Data{p:(*pii.datum)(0x")
	// A verb invalid for pointers makes fmt print the pointer again at the
	// top level, dereferencing one level; the value is one pointer further.
	// (The verb is in a variable because vet rightly flags %s on a struct.)
	bad := "%s"
	assert.Regexp(t, `^\{inc-7 \{%!s\(\*pii.datum=&\{2 138\*\*\*\*5678 0x[0-9a-f]+\}\)\} `, fmt.Sprintf(bad, v))
}

func TestSlog(t *testing.T) {
	d := mustPhone(t, "13812345678")
	var buf bytes.Buffer
	drop := func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}
	slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{ReplaceAttr: drop})).Info("call", "phone", d)
	slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: drop})).Info("call", "phone", d)
	assert.Equal(t, `{"level":"INFO","msg":"call","phone":"138****5678"}`+"\n"+`level=INFO msg=call phone=138****5678`+"\n", buf.String())
	assert.Equal(t, slog.KindString, d.LogValue().Kind())
}

func TestJSON(t *testing.T) {
	d := mustPhone(t, "13812345678")
	b, err := json.Marshal(struct {
		Phone pii.Data
		Ptr   *pii.Data
		Nil   *pii.Data
		Zero  pii.Data
		Keyed map[pii.Data]int
	}{d, &d, nil, pii.Data{}, map[pii.Data]int{d: 1}})
	require.NoError(t, err)
	assert.JSONEq(t, `{"Phone":"138****5678","Ptr":"138****5678","Nil":null,"Zero":"","Keyed":{"138****5678":1}}`, string(b))

	var back struct{ Phone pii.Data }
	err = json.Unmarshal(b, &back)
	require.ErrorIs(t, err, pii.ErrNotSerializable)
	assert.Contains(t, err.Error(), "NewPhone")
	assert.True(t, back.Phone.IsZero())
	assert.ErrorIs(t, json.Unmarshal([]byte(`{"Phone":"13812345678"}`), &back), pii.ErrNotSerializable)
	// null leaves the field alone, as encoding/json expects of Unmarshalers.
	require.NoError(t, json.Unmarshal([]byte(`{"Phone":null}`), &back))
	assert.True(t, back.Phone.IsZero())

	text, err := d.MarshalText()
	require.NoError(t, err)
	assert.Equal(t, "138****5678", string(text))
	assert.ErrorIs(t, (&back.Phone).UnmarshalText([]byte("13812345678")), pii.ErrNotSerializable)

	x, err := xml.Marshal(struct {
		XMLName xml.Name `xml:"r"`
		Phone   pii.Data `xml:"phone"`
	}{Phone: d})
	require.NoError(t, err)
	assert.Equal(t, `<r><phone>138****5678</phone></r>`, string(x))
}

func TestGobAndSQLRefuse(t *testing.T) {
	d := mustPhone(t, "13812345678")
	var buf bytes.Buffer
	err := gob.NewEncoder(&buf).Encode(struct{ Phone pii.Data }{d})
	require.ErrorIs(t, err, pii.ErrNotSerializable)
	assert.NotContains(t, buf.String(), "13812345678")
	assert.NotContains(t, err.Error(), "13812345678")

	v, err := d.Value()
	assert.Nil(t, v)
	assert.ErrorIs(t, err, pii.ErrNotSerializable)
}

func TestReveal(t *testing.T) {
	p, err := access.ParsePolicy([]byte(`{"version": 1, "roles": {
		"street-officer": [{"action": "reveal-personal-data", "resource": "incident"}],
		"clerk": [{"action": "read", "resource": "incident"}]}}`))
	require.NoError(t, err)
	li := access.Actor{ID: "li", Kind: access.StreetStaff, Scope: "500107001", Roles: []string{"street-officer"}}
	clerk := access.Actor{ID: "zhou", Kind: access.StreetStaff, Scope: "500107001", Roles: []string{"clerk"}}
	mine := access.Resource{Kind: "incident", ID: "inc-7", Jurisdiction: "500107001002003"}
	next := access.Resource{Kind: "incident", ID: "inc-8", Jurisdiction: "500107002001004"}
	d := mustPhone(t, "13812345678")

	v, err := d.Reveal(access.WithActor(context.Background(), li), p, mine)
	require.NoError(t, err)
	assert.Equal(t, "13812345678", v)

	for _, c := range []struct {
		name   string
		ctx    context.Context
		az     access.Authorizer
		reason access.Reason
	}{
		{"out of jurisdiction", access.WithActor(context.Background(), li), p, access.OutOfJurisdiction},
		{"no grant", access.WithActor(context.Background(), clerk), p, access.NoGrant},
		{"no actor", context.Background(), p, access.NoActor},
		{"nil authorizer", access.WithActor(context.Background(), li), nil, access.NoGrant},
		{"nil authorizer, no actor", context.Background(), nil, access.NoActor},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := next
			if c.reason != access.OutOfJurisdiction {
				res = mine
			}
			v, err := d.Reveal(c.ctx, c.az, res)
			assert.Empty(t, v)
			require.ErrorIs(t, err, access.ErrDenied)
			var de *access.DeniedError
			require.ErrorAs(t, err, &de)
			assert.Equal(t, c.reason, de.Decision.Reason)
			assert.Equal(t, pii.ActionReveal, de.Decision.Action)
			assert.NotContains(t, err.Error(), "13812345678")
		})
	}

	v, err = pii.Data{}.Reveal(context.Background(), access.AllowAll(), mine)
	assert.NoError(t, err)
	assert.Empty(t, v)
}

func TestErrorMatching(t *testing.T) {
	for _, s := range []error{pii.ErrInvalidName, pii.ErrInvalidPhone, pii.ErrInvalidIDNumber, pii.ErrInvalidAddress} {
		assert.ErrorIs(t, s, pii.ErrInvalid)
	}
	assert.False(t, errors.Is(pii.ErrInvalidName, pii.ErrInvalidPhone))
	assert.ErrorIs(t, &pii.Error{Kind: 0, Reason: "x"}, pii.ErrInvalid)
}

func BenchmarkMask(b *testing.B) {
	d := mustPhone(b, "13812345678")
	var s string
	for b.Loop() {
		s = d.Masked()
	}
	_ = s
}

func BenchmarkNewPhone(b *testing.B) {
	for b.Loop() {
		if _, err := pii.NewPhone("+86 138-1234-5678"); err != nil {
			b.Fatal(err)
		}
	}
}
