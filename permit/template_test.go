package permit_test

import (
	"errors"
	"testing"

	"github.com/cockroachdb/apd/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/govkit/govkit/permit"
)

func TestTemplateStagesRunInParallel(t *testing.T) {
	stages, err := newbornTemplate().Stages()
	require.NoError(t, err)
	assert.Equal(t, [][]string{
		{"birth-service", "hukou", "vaccination"},
		{"medical-insurance", "social-security-card"},
	}, stages, "items that need nothing of each other share a stage")
}

func TestTemplateFormIsTheDeduplicatedUnion(t *testing.T) {
	fields, docs, err := newbornTemplate().Form()
	require.NoError(t, err)
	ids := map[string]int{}
	for _, f := range fields {
		ids[f.ID]++
	}
	for id, n := range ids {
		assert.Equal(t, 1, n, "field %s asked once", id)
	}
	assert.Len(t, fields, len(newbornTemplate().Fields))
	assert.NotContains(t, ids, "child-id-number", "an output is never asked of the applicant")
	var childName permit.FormField
	for _, f := range fields {
		if f.ID == "child.name" {
			childName = f
		}
	}
	assert.Equal(t, []string{"hukou", "medical-insurance", "social-security-card", "vaccination"}, childName.Items,
		"one answer for four departments")
	assert.Equal(t, "mother.name", fields[0].ID, "the form follows the items in dependency order")
	require.Len(t, docs, 3)
	assert.Equal(t, "marriage-certificate", docs[0].ID)
	assert.Equal(t, []string{"birth-service", "hukou"}, docs[1].Items)
}

func TestTemplateValidation(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*permit.Template)
		path   string
	}{
		{"bad id", func(t *permit.Template) { t.ID = "New Born" }, "id"},
		{"version 0", func(t *permit.Template) { t.Version = 0 }, "version"},
		{"no name", func(t *permit.Template) { t.Name = " " }, "name"},
		{"no owner", func(t *permit.Template) { t.Owner = "" }, "owner"},
		{"bad jurisdiction", func(t *permit.Template) { t.Jurisdiction = "50" }, "jurisdiction"},
		{"negative sla", func(t *permit.Template) { t.SLA = permit.Days(-1) }, "sla"},
		{"negative fee", func(t *permit.Template) { t.Items[0].Fee = apd.New(-5, 0) }, "items[0].fee"},
		{"infinite fee", func(t *permit.Template) { t.Items[1].Fee = &apd.Decimal{Form: apd.Infinite} }, "items[1].fee"},
		{"duplicate field", func(t *permit.Template) { t.Fields = append(t.Fields, t.Fields[0]) }, "fields[13].id"},
		{"unknown kind", func(t *permit.Template) { t.Fields[0].Kind = 99 }, "fields[0].kind"},
		{"choice without choices", func(t *permit.Template) { t.Fields[5].Choices = nil }, "fields[5].choices"},
		{"choices on text", func(t *permit.Template) { t.Fields[7].Choices = []permit.Choice{{Value: "a", Label: "A"}} }, "fields[7].choices"},
		{"duplicate choice", func(t *permit.Template) { t.Fields[5].Choices[1].Value = "male" }, "fields[5].choices[1]"},
		{"max_len on a date", func(t *permit.Template) { t.Fields[6].MaxLen = 10 }, "fields[6].max_len"},
		{"unused field", func(t *permit.Template) {
			t.Fields = append(t.Fields, permit.Field{ID: "pet.name", Label: "宠物", Kind: permit.TextField})
		}, "fields[13]"},
		{"unused document", func(t *permit.Template) {
			t.Documents = append(t.Documents, permit.DocumentSpec{ID: "pet-licence", Name: "犬证"})
		}, "documents[3]"},
		{"no items", func(t *permit.Template) { t.Items = nil }, "items"},
		{"duplicate item", func(t *permit.Template) { t.Items[4].ID = "hukou" }, "items[4].id"},
		{"no department", func(t *permit.Template) { t.Items[1].Department = "" }, "items[1].department"},
		{"no sla", func(t *permit.Template) { t.Items[1].SLA = permit.WorkingTime{} }, "items[1].sla"},
		{"unknown field", func(t *permit.Template) { t.Items[1].Fields[0] = "child.nickname" }, "items[1].fields[0]"},
		{"field twice", func(t *permit.Template) { t.Items[1].Fields[1] = "child.name" }, "items[1].fields[1]"},
		{"unknown document", func(t *permit.Template) { t.Items[1].Documents[0] = "passport" }, "items[1].documents[0]"},
		{"output is a field", func(t *permit.Template) { t.Items[1].Outputs[0].ID = "child.name" }, "items[1].outputs[0].id"},
		{"output twice", func(t *permit.Template) { t.Items[2].Outputs[0].ID = "child-id-number" }, "items[2].outputs[0].id"},
		{"choice output", func(t *permit.Template) { t.Items[2].Outputs[0].Kind = permit.ChoiceField }, "items[2].outputs[0].kind"},
		{"need of nothing", func(t *permit.Template) { t.Items[2].Needs = []string{"passport-no"} }, "items[2].needs[0]"},
		{"need of itself", func(t *permit.Template) { t.Items[2].Needs = []string{"insurance-no"} }, "items[2].needs[0]"},
		{"required needs optional", func(t *permit.Template) { t.Items[2].Needs = append(t.Items[2].Needs, "vaccination-record") }, "items[2].needs[1]"},
		{"cycle", func(t *permit.Template) { t.Items[1].Needs = []string{"insurance-no"} }, "items[1].needs"},
		{"joint of one", func(t *permit.Template) { t.Items[0].Joint = "alone" }, "items[0].joint"},
		{"joint member needs another", func(t *permit.Template) {
			t.Items[1].Joint, t.Items[2].Joint = "police-and-insurance", "police-and-insurance"
		}, "items[2].joint"},
		{"duplicate checklist line", func(t *permit.Template) {
			t.Items[0].Checklist = append(t.Items[0].Checklist, t.Items[0].Checklist[0])
		}, "items[0].checklist[1]"},
		{"duplicate proxy", func(t *permit.Template) { t.Proxies = []string{"guardian", "guardian"} }, "proxies[1]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tpl := newbornTemplate()
			tc.mutate(&tpl)
			err := tpl.Validate()
			require.Error(t, err)
			assert.ErrorIs(t, err, permit.ErrInvalidTemplate)
			var te *permit.TemplateError
			require.True(t, errors.As(err, &te), "%T", err)
			assert.Equal(t, tc.path, te.Path, te.Error())
		})
	}
	require.NoError(t, newbornTemplate().Validate())
	require.NoError(t, rentalTemplate().Validate())
}

func TestTemplateCycleIsNamed(t *testing.T) {
	tpl := newbornTemplate()
	tpl.Items[1].Needs = []string{"insurance-no"}
	err := tpl.Validate()
	assert.ErrorContains(t, err, "cycle: hukou needs medical-insurance needs hukou")
}
