package pii_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"strconv"
	"strings"
	"testing"

	"github.com/govkit/govkit/pii"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The citizen of the leak test.
const (
	rawName    = "张三"
	rawPhone   = "13812345678"
	rawAddress = "重庆市九龙坡区石桥铺街道科园一路3号"
	birthDate  = "19850312"
)

var rawID = withCheck("500107" + birthDate + "471")

type contact struct {
	Name    pii.Data
	Phone   pii.Data
	phone   pii.Data // unexported, in an exported nested struct
	address pii.Data
}

// Report is an incident report as an application might define it, with
// personal data everywhere a struct can hold it.
type Report struct {
	ID       string
	Grid     string
	Reporter pii.Data
	Phone    *pii.Data
	IDNumber pii.Data
	Address  pii.Data
	Contact  contact
	Extra    map[string]pii.Data
	All      []pii.Data
	Any      any

	contact contact // unexported: printed by reflection
	secret  pii.Data
	extra   map[string]pii.Data
	all     []pii.Data
	anyv    any
	nested  *contact
}

// TestNothingLeaks runs a citizen's report through every output path an
// application is likely to use by accident and checks that the raw values
// appear nowhere, in any encoding.
func TestNothingLeaks(t *testing.T) {
	name, err := pii.NewName(rawName)
	require.NoError(t, err)
	phone, err := pii.NewPhone(rawPhone)
	require.NoError(t, err)
	idn, err := pii.NewIDNumber(rawID)
	require.NoError(t, err)
	addr, err := pii.NewAddress(rawAddress)
	require.NoError(t, err)

	c := contact{Name: name, Phone: phone, phone: phone, address: addr}
	all := []pii.Data{name, phone, idn, addr}
	m := map[string]pii.Data{"name": name, "phone": phone, "id": idn, "address": addr}
	r := Report{
		ID: "inc-7", Grid: "500107001002003",
		Reporter: name, Phone: &phone, IDNumber: idn, Address: addr,
		Contact: c, Extra: m, All: all, Any: phone,
		contact: c, secret: idn, extra: m, all: all, anyv: addr, nested: &c,
	}

	var out bytes.Buffer
	section := func(s string) { fmt.Fprintf(&out, "\n== %s\n", s) }

	// slog resolves LogValuers, at the top level and inside groups: record
	// the kind of value each personal-data attribute reached the handler
	// with, to show that LogValue, not fmt, produced it.
	resolved := map[string]slog.Kind{}
	opts := &slog.HandlerOptions{ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		switch a.Key {
		case "name", "phone", "id", "address":
			resolved[strings.Join(append(groups, a.Key), ".")] = a.Value.Kind()
		}
		return a
	}}
	loggers := map[string]*slog.Logger{
		"json": slog.New(slog.NewJSONHandler(&out, opts)),
		"text": slog.New(slog.NewTextHandler(&out, opts)),
	}
	cause := errors.New("no handler on duty")
	for _, hname := range []string{"json", "text"} {
		l := loggers[hname]
		section("slog " + hname)
		l.Info("report received", "name", name, "phone", phone, "id", idn, "address", addr)
		l.Info("grouped", slog.Group("citizen", "name", name, slog.Any("phone", phone),
			slog.Group("docs", "id", idn, "address", addr)))
		l.With("phone", phone).WithGroup("case").Info("with", "address", addr)
		l.LogAttrs(context.Background(), slog.LevelWarn, "attrs", slog.Any("id", idn), slog.Any("name", &name))
		l.Info("whole report", slog.Any("report", r))
		l.Info("pointer to report", "report", &r)
		l.Info("collections", "all", all, "map", m, "contact", c)
		err := fmt.Errorf("dispatch of %v failed: %w", r, cause)
		l.Error("dispatch failed", "err", err)
		l.Error(err.Error())
		l.Error("detailed", "err", fmt.Errorf("dispatch of %+v failed: %w", r, cause))
		_, perr := pii.NewPhone(rawPhone[:10]) // a near miss is personal data too
		l.Warn("rejected", "err", perr)
	}
	str := slog.KindString
	assert.Equal(t, map[string]slog.Kind{
		"name": str, "phone": str, "id": str, "address": str,
		"citizen.name": str, "citizen.phone": str, "citizen.docs.id": str, "citizen.docs.address": str,
		"case.address": str,
	}, resolved, "each attribute reaches the handler as LogValue's string")

	section("fmt")
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		fmt.Fprintf(&out, verb+"\n", r)
		fmt.Fprintf(&out, verb+"\n", &r)
		fmt.Fprintf(&out, verb+"\n", all)
		fmt.Fprintf(&out, verb+"\n", m)
	}
	fmt.Fprintln(&out, name, phone, idn, addr)

	section("json")
	b, err := json.Marshal(r)
	require.NoError(t, err)
	out.Write(b)
	b, err = json.MarshalIndent(map[string]any{"event": "incident.reported", "report": &r}, "", " ")
	require.NoError(t, err)
	out.Write(b)

	section("log")
	lg := log.New(&out, "govkit: ", log.Lmsgprefix)
	lg.Print(r)
	lg.Printf("%+v", r)
	lg.Println("caller", name, phone, idn, addr)

	text := out.String()
	defer func() {
		if t.Failed() {
			t.Log(text)
		}
	}()

	// Nothing of the values, in any form.
	secrets := []string{rawName, rawPhone, rawID, rawAddress, rawPhone[:10],
		"12345678",  // the phone's digits the mask hides, and more
		birthDate,   // the ID number's birth date
		rawID[3:14], // the ID number's masked middle
		"科园一路", "石桥铺", "九龙坡区"}
	for _, s := range secrets[:4] {
		secrets = append(secrets,
			hex.EncodeToString([]byte(s)), strings.ToUpper(hex.EncodeToString([]byte(s))),
			base64.StdEncoding.EncodeToString([]byte(s)),
			strings.Trim(strconv.QuoteToASCII(s), `"`), // \u5f20\u4e09
			strings.Trim(fmt.Sprint([]byte(s)), "[]"))  // 229 188 160 …
	}
	for _, s := range secrets {
		if i := strings.Index(text, s); i >= 0 {
			t.Errorf("%q leaked: …%s…", s, text[max(0, i-80):min(len(text), i+len(s)+40)])
		}
	}

	// The masked forms are there: the output is real, not empty.
	for _, s := range []string{"张*", "138****5678", "500***********" + rawID[14:], "重庆市九龙坡****"} {
		assert.Contains(t, text, s)
	}
	// The paths the handlers took, as documented: for slog.Any of a struct
	// the JSON handler uses encoding/json (MarshalJSON masks exported
	// fields and drops unexported ones) …
	assert.Contains(t, text, `"report":{"ID":"inc-7","Grid":"500107001002003","Reporter":"张*","Phone":"138****5678"`)
	// … and the text handler uses fmt's %+v: Format masks exported fields,
	// and unexported ones print as pointers.
	assert.Regexp(t, `report="\{ID:inc-7 Grid:500107001002003 Reporter:张\* Phone:138\*\*\*\*5678 `, text)
	assert.Regexp(t, `secret:\{p:0x[0-9a-f]+\}`, text)
	assert.Regexp(t, `Contact:\{Name:张\* Phone:138\*\*\*\*5678 phone:\{p:0x[0-9a-f]+\} address:\{p:0x[0-9a-f]+\}\}`, text)
}
