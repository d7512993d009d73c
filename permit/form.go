package permit

import (
	"context"
	"slices"
	"strconv"
)

// FormField is one question of the form: asked once, however many items
// need it.
type FormField struct {
	Field
	Items  []string // the items that need it
	Answer *Answer  // the current answer, if any
	// Offer is what a registry holds for the field, shown because the
	// applicant consented to the lookup; it is used only if accepted.
	Offer *Offer
	// Choices are what the applicant can pick instead of typing: the
	// field's own choices, or, for a field a registry offered several
	// values for, those values (Value is the index to accept, Label the
	// masked value).
	Choices []Choice
	Marked  string // why a reviewer wants it corrected
	Locked  bool   // it cannot change now
}

// FormDocument is one piece of evidence the form asks for.
type FormDocument struct {
	DocumentSpec
	Items    []string
	Attached *Document
	Marked   string
	Locked   bool
}

// formOf builds the form, filled from a if a is not nil.
func (c *compiled) formOf(a *Application) ([]FormField, []FormDocument) {
	marks := map[string]string{}
	if a != nil {
		if corr, ok := a.OpenCorrection(); ok {
			for _, m := range corr.Marks {
				if marks[m.Field] == "" {
					marks[m.Field] = m.Reason
				} else {
					marks[m.Field] += "; " + m.Reason
				}
			}
		}
	}
	locked := func(key string) bool {
		if a == nil {
			return false
		}
		switch a.Status {
		case Draft:
			return false
		case Returned:
			_, marked := marks[key]
			return !marked
		}
		return true
	}
	fields := make([]FormField, 0, len(c.form))
	for _, id := range c.form {
		f, _ := c.fieldSpec(id)
		ff := FormField{Field: *f, Marked: marks[id], Locked: locked(id)}
		ff.Field.Choices = slices.Clone(f.Choices)
		for _, i := range c.fieldsOf[id] {
			ff.Items = append(ff.Items, c.t.Items[i].ID)
		}
		ff.Choices = slices.Clone(f.Choices)
		if f.Kind == BoolField {
			ff.Choices = []Choice{{Value: "true", Label: "yes"}, {Value: "false", Label: "no"}}
		}
		if a != nil {
			if ans, ok := a.Answers[id]; ok {
				ans.Value = ans.Value.clone()
				ff.Answer = &ans
			}
			if o, ok := a.Offers[id]; ok {
				o.Values = cloneSlice(o.Values, Value.clone)
				ff.Offer = &o
				if len(o.Values) > 1 && len(ff.Choices) == 0 {
					for k, v := range o.Values {
						ff.Choices = append(ff.Choices, Choice{Value: strconv.Itoa(k), Label: v.String()})
					}
				}
			}
		}
		fields = append(fields, ff)
	}
	docs := make([]FormDocument, 0, len(c.forms))
	for _, id := range c.forms {
		key := "documents." + id
		fd := FormDocument{DocumentSpec: c.t.Documents[c.doc[id]], Marked: marks[key], Locked: locked(key)}
		for _, i := range c.docsOf[id] {
			fd.Items = append(fd.Items, c.t.Items[i].ID)
		}
		if a != nil {
			if d, ok := a.Documents[id]; ok {
				fd.Attached = &d
			}
		}
		docs = append(docs, fd)
	}
	return fields, docs
}

// Lookup asks a registry what it already holds about a person, so that
// the form can show it instead of asking again (the once-only principle).
// The service calls it only for sources the applicant consented to, and
// only for the fields the template says that source may fill.
type Lookup interface {
	Lookup(ctx context.Context, q LookupQuery) ([]Prefill, error)
}

// LookupFunc adapts a function to Lookup.
type LookupFunc func(ctx context.Context, q LookupQuery) ([]Prefill, error)

// Lookup calls f.
func (f LookupFunc) Lookup(ctx context.Context, q LookupQuery) ([]Prefill, error) { return f(ctx, q) }

// LookupQuery is what a Lookup is asked.
type LookupQuery struct {
	Source string
	// Subject is the pseudonymous ID of the person the application is for:
	// the principal when someone applies on their behalf, else the
	// applicant.
	Subject string
	Fields  []string
}

// Prefill is what a registry holds for one field. Several values (two
// registered addresses) are offered as choices.
type Prefill struct {
	Field  string
	Values []Value
}
