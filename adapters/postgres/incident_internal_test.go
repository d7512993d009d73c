package postgres

import (
	"strings"
	"testing"
)

// The partial index's predicate is Status.Open's list, as the queries
// name it; a status added to the lifecycle without a new index fails here.
func TestOpenIndexPredicateIsOpenStatuses(t *testing.T) {
	sql, err := incidentMigrationFS.ReadFile("migrations/incident/0003_index_open_incidents_nearby.sql")
	if err != nil {
		t.Fatal(err)
	}
	if want := "WHERE status IN " + openStatusSQL + ";\n"; !strings.Contains(string(sql), want) {
		t.Fatalf("migration 0003 lacks %q", want)
	}
}
