package open311

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/govkit/govkit/incident"
)

// Service is one entry of the GET services response: a category of the
// catalogue as an Open311 service type.
type Service struct {
	ServiceCode string `json:"service_code"`
	ServiceName string `json:"service_name"`
	Description string `json:"description"`
	// Metadata is true when the service has attributes, so that a client
	// must fetch its Definition before posting a request.
	Metadata bool `json:"metadata"`
	// Type is "realtime": Service.Report returns the case ID at once.
	Type string `json:"type"`
	// Keywords is a comma-separated list, as the spec has it.
	Keywords string `json:"keywords"`
	Group    string `json:"group"`
}

// Definition is the GET service definition response: the questions asked
// when reporting in one category.
type Definition struct {
	ServiceCode string      `json:"service_code"`
	Attributes  []Attribute `json:"attributes"`
}

// Attribute is one question of a Definition.
type Attribute struct {
	// Variable is true: every govkit attribute asks for input.
	Variable bool   `json:"variable"`
	Code     string `json:"code"`
	// Datatype is string, number, datetime, text, singlevaluelist or
	// multivaluelist.
	Datatype            string `json:"datatype"`
	Required            bool   `json:"required"`
	DatatypeDescription string `json:"datatype_description"`
	// Order is the attribute's position, from 1, in the catalogue's order.
	Order       int     `json:"order"`
	Description string  `json:"description"`
	Values      []Value `json:"values,omitempty"` // for the list types
}

// Value is one choice of a list attribute.
type Value struct {
	Key  string `json:"key"`
	Name string `json:"name"`
}

// datatypeDescriptions help a client's user to type a valid value; they
// say what incident.Catalogue.Validate accepts.
var datatypeDescriptions = map[incident.AttributeType]string{
	incident.String:          "One line of text.",
	incident.Number:          "A decimal number, such as 2.5.",
	incident.Datetime:        "A date and time with its zone in RFC 3339 form, such as 2026-03-02T10:00:00+08:00.",
	incident.Text:            "Text; it may span several lines.",
	incident.SingleValueList: "The key of one of the values.",
	incident.MultiValueList:  "The keys of one or more of the values.",
}

// Services returns every category of c as an Open311 service, sorted by
// code: service_code is the category code, service_name and description
// its name (the catalogue has no separate description), metadata whether
// it has attributes, type "realtime", group its major class code, and
// keywords its kind (asset or event) followed by its minor class and
// standard code when set. A nil catalogue has no services.
func Services(c *incident.Catalogue) []Service {
	if c == nil {
		return []Service{}
	}
	out := make([]Service, 0, c.Len())
	for _, code := range c.Codes() {
		cat, err := c.Category(code)
		if err != nil {
			continue // cannot happen: the code came from the catalogue
		}
		keywords := []string{cat.Kind.String()}
		for _, k := range []string{cat.Minor, cat.StandardCode} {
			if k != "" {
				keywords = append(keywords, k)
			}
		}
		out = append(out, Service{
			ServiceCode: cat.Code, ServiceName: cat.Name, Description: cat.Name,
			Metadata: len(cat.Attributes) > 0, Type: "realtime",
			Keywords: strings.Join(keywords, ", "), Group: cat.Major,
		})
	}
	return out
}

// ServiceDefinition returns the attributes of category code. Order numbers
// the attributes from 1 in the catalogue's order (the catalogue's own Order
// values may repeat or be zero, which the spec forbids). An unknown code
// gives an error matching incident.ErrUnknownCategory.
func ServiceDefinition(c *incident.Catalogue, code string) (Definition, error) {
	if c == nil {
		return Definition{}, fmt.Errorf("open311: service definition: %w", incident.ErrUnknownCategory)
	}
	cat, err := c.Category(code)
	if err != nil {
		return Definition{}, fmt.Errorf("open311: service definition: %w", err)
	}
	d := Definition{ServiceCode: cat.Code, Attributes: make([]Attribute, 0, len(cat.Attributes))}
	for i, a := range cat.Attributes {
		attr := Attribute{
			Variable: true, Code: a.Code, Datatype: a.Type.String(), Required: a.Required,
			DatatypeDescription: datatypeDescriptions[a.Type], Order: i + 1, Description: a.Description,
		}
		for _, v := range a.Values {
			attr.Values = append(attr.Values, Value{Key: v.Key, Name: v.Name})
		}
		d.Attributes = append(d.Attributes, attr)
	}
	return d, nil
}

// MarshalServices returns the JSON of Services(c), the body of GET
// services.json.
func MarshalServices(c *incident.Catalogue) ([]byte, error) {
	return json.Marshal(Services(c))
}

// MarshalServiceDefinition returns the JSON of ServiceDefinition(c, code),
// the body of GET services/{code}.json.
func MarshalServiceDefinition(c *incident.Catalogue, code string) ([]byte, error) {
	d, err := ServiceDefinition(c, code)
	if err != nil {
		return nil, err
	}
	return json.Marshal(d)
}
