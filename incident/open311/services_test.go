package open311_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/govkit/govkit/incident"
	"github.com/govkit/govkit/incident/open311"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestServicesGolden(t *testing.T) {
	got, err := open311.MarshalServices(catalogue(t))
	require.NoError(t, err)
	assert.JSONEq(t, `[
	  {"service_code": "construction-waste", "service_name": "Dumped construction waste",
	   "description": "Dumped construction waste", "metadata": true, "type": "realtime",
	   "keywords": "event, 0102", "group": "01"},
	  {"service_code": "manhole-cover", "service_name": "Missing manhole cover",
	   "description": "Missing manhole cover", "metadata": false, "type": "realtime",
	   "keywords": "asset, 0201", "group": "02"}
	]`, string(got))
}

func TestServiceDefinitionGolden(t *testing.T) {
	c := catalogue(t)
	got, err := open311.MarshalServiceDefinition(c, "construction-waste")
	require.NoError(t, err)
	// kinds (Order 1) comes before volume (Order 5), renumbered from 1.
	assert.JSONEq(t, `{
	  "service_code": "construction-waste",
	  "attributes": [
	    {"variable": true, "code": "kinds", "datatype": "multivaluelist", "required": false,
	     "datatype_description": "The keys of one or more of the values.", "order": 1,
	     "description": "What is in the pile",
	     "values": [{"key": "brick", "name": "Bricks"}, {"key": "soil", "name": "Soil"}]},
	    {"variable": true, "code": "volume", "datatype": "number", "required": true,
	     "datatype_description": "A decimal number, such as 2.5.", "order": 2,
	     "description": "Estimated volume in cubic metres"}
	  ]
	}`, string(got))

	got, err = open311.MarshalServiceDefinition(c, "manhole-cover")
	require.NoError(t, err)
	assert.JSONEq(t, `{"service_code": "manhole-cover", "attributes": []}`, string(got))
}

func TestServiceDefinitionEveryDatatype(t *testing.T) {
	types := []incident.AttributeType{incident.String, incident.Number, incident.Datetime, incident.Text, incident.SingleValueList, incident.MultiValueList}
	var attrs []incident.Attribute
	for i, ty := range types {
		a := incident.Attribute{Code: ty.String(), Type: ty, Order: i}
		if ty == incident.SingleValueList || ty == incident.MultiValueList {
			a.Values = []incident.AttributeValue{{Key: "k", Name: "K"}}
		}
		attrs = append(attrs, a)
	}
	c, err := incident.NewCatalogue([]incident.Category{{Code: "x", Name: "X", Kind: incident.Event, Attributes: attrs}})
	require.NoError(t, err)
	d, err := open311.ServiceDefinition(c, "x")
	require.NoError(t, err)
	require.Len(t, d.Attributes, len(types))
	for i, a := range d.Attributes {
		assert.Equal(t, types[i].String(), a.Datatype)
		assert.Equal(t, i+1, a.Order)
		assert.NotEmpty(t, a.DatatypeDescription, a.Datatype)
		assert.True(t, a.Variable)
	}
}

func TestServiceDefinitionUnknown(t *testing.T) {
	_, err := open311.ServiceDefinition(catalogue(t), "nope")
	assert.ErrorIs(t, err, incident.ErrUnknownCategory)
	_, err = open311.MarshalServiceDefinition(catalogue(t), "nope")
	assert.ErrorIs(t, err, incident.ErrUnknownCategory)
	_, err = open311.ServiceDefinition(nil, "construction-waste")
	assert.True(t, errors.Is(err, incident.ErrUnknownCategory))
}

func TestServicesEmpty(t *testing.T) {
	for _, c := range []*incident.Catalogue{nil, mustCatalogue(t, nil)} {
		got, err := open311.MarshalServices(c)
		require.NoError(t, err)
		assert.JSONEq(t, `[]`, string(got))
	}
	var v []map[string]any
	got, _ := open311.MarshalServices(catalogue(t))
	require.NoError(t, json.Unmarshal(got, &v))
	assert.Len(t, v, 2)
}

func mustCatalogue(t *testing.T, cats []incident.Category) *incident.Catalogue {
	c, err := incident.NewCatalogue(cats)
	require.NoError(t, err)
	return c
}
