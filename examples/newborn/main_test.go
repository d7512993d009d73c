package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/govkit/govkit/permit"
	"github.com/govkit/govkit/pii"
)

func item(t *testing.T, a permit.Application, id string) permit.ItemState {
	t.Helper()
	for _, it := range a.Items {
		if it.Item == id {
			return it
		}
	}
	t.Fatalf("no item %s", id)
	return permit.ItemState{}
}

func TestNewborn(t *testing.T) {
	res, err := run(context.Background(), io.Discard)
	require.NoError(t, err)
	a := res.Final

	// Filled once, prefilled only after consent, from both registries.
	assert.Zero(t, res.LookupsBeforeConsent, "no registry is asked before consent")
	assert.Equal(t, 2, res.LookupsAfterConsent)
	require.Len(t, a.Consents, 2)
	assert.Equal(t, "registry:hukou", a.Answers["mother.id-number"].Source)
	assert.Equal(t, "registry:birth-cert", a.Answers["child.birth-date"].Source)
	want, err := pii.NewAddress("重庆市渝中区解放碑街道邹容路68号")
	require.NoError(t, err)
	assert.True(t, a.Answers["household.address"].Value.Personal.Equal(want), "the registered address he chose")

	// In parallel where possible, in order where needed.
	assert.Equal(t, [][]string{{"birth-service", "hukou", "vaccination"}, {"medical-insurance", "social-security-card"}}, res.Stages)
	hukou := item(t, a, "hukou")
	for _, id := range []string{"medical-insurance", "social-security-card"} {
		it := item(t, a, id)
		assert.Equal(t, permit.ItemApproved, it.Status, id)
		assert.False(t, it.Started.Before(hukou.Finished), "%s started before hukou gave the child's ID number", id)
	}
	assert.Equal(t, item(t, a, "birth-service").Started, item(t, a, "vaccination").Started, "first-stage items start together")

	// One item sent back with one marked field, corrected, reviewed again.
	require.Len(t, a.Corrections, 1)
	c := a.Corrections[0]
	assert.Equal(t, []string{"hukou"}, c.Items)
	require.Len(t, c.Marks, 1)
	assert.Equal(t, "child.name", c.Marks[0].Field)
	assert.False(t, c.Resolved.IsZero())
	assert.Contains(t, c.Previous, "child.name", "the replaced answer is kept")
	name, err := pii.NewName("王小满")
	require.NoError(t, err)
	assert.True(t, a.Answers["child.name"].Value.Personal.Equal(name))
	assert.Equal(t, 2, hukou.Round)

	// The applicant's tracking while he held the item.
	tr := res.Returned
	assert.Equal(t, permit.Returned, tr.Status)
	assert.Equal(t, "10.00", tr.Fees.Text('f'))
	assert.False(t, tr.ExpectedFinish.IsZero())
	require.NotNil(t, tr.Correction)
	held := map[string]permit.ItemTracking{}
	for _, it := range tr.Items {
		held[it.Item] = it
	}
	assert.Equal(t, "applicant", held["hukou"].HeldBy)
	assert.Equal(t, "cdc", held["vaccination"].HeldBy)
	assert.False(t, held["vaccination"].Deadline.IsZero())
	assert.Equal(t, []string{"hukou"}, held["medical-insurance"].WaitingFor)
	assert.Equal(t, permit.ItemApproved, held["birth-service"].Status)

	// All outputs issued together, in one event, personal data masked.
	assert.Equal(t, permit.Completed, a.Status)
	require.Len(t, res.Completed, 1)
	done := res.Completed[0]
	assert.Equal(t, a.ID, done.Application)
	assert.Len(t, done.Outputs, 5)
	for _, k := range []string{"birth-service-no", "child-id-number", "insurance-no", "card-no", "vaccination-record"} {
		assert.Contains(t, done.Outputs, k)
	}
	assert.NotContains(t, done.Outputs["child-id-number"], "202602", "the ID number is masked on the bus")
	id, err := pii.NewIDNumber("500103202602270023")
	require.NoError(t, err)
	assert.True(t, a.Outputs["child-id-number"].Personal.Equal(id), "kept whole in the application")
}

// The scenario end to end; its last line is the outcome.
func Example() {
	var buf strings.Builder
	if _, err := run(context.Background(), &buf); err != nil {
		fmt.Println(err)
		return
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	fmt.Println(lines[len(lines)-1])
	// Output: newborn bundle completed: 5 outputs in one event, 1 correction, 2 registry lookups
}
