package pgtest_test

import (
	"context"
	"testing"

	"github.com/govkit/govkit/adapters/postgres/pgtest"
)

// A store's test gets a database pinned to a fresh schema, dropped when the
// test ends.
func ExampleNew() {
	_ = func(t *testing.T) {
		db := pgtest.New(t) // skips without GOVKIT_TEST_POSTGRES, fails under CI=true
		if err := db.Setup(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}
