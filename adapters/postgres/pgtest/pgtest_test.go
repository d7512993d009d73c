package pgtest

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecide(t *testing.T) {
	t.Parallel()
	cases := []struct {
		dsn, ci string
		want    decision
	}{
		{"postgres://x", "", useDSN},
		{"postgres://x", "true", useDSN},
		{"", "", skipTest},
		{"", "false", skipTest},
		{"", "1", skipTest},
		{"   ", "", skipTest},
		{"", "true", failTest},
		{"", "TRUE", failTest},
		{"  ", " true ", failTest},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, decide(tc.dsn, tc.ci), "dsn=%q CI=%q", tc.dsn, tc.ci)
	}
}

// The environment-reading wrapper, with the environment set for this test
// only (t.Setenv forbids t.Parallel, which keeps it race-free).
func TestDSNSkipsWithoutEnv(t *testing.T) {
	t.Setenv(EnvDSN, "")
	t.Setenv("CI", "")
	ran := false
	t.Run("inner", func(t *testing.T) {
		DSN(t)
		ran = true
	})
	assert.False(t, ran, "DSN must stop the test")
}

// TestDSNFailsUnderCIWithoutEnv runs this test binary again, with CI=true
// and no DSN, on the helper test below, and expects it to fail.
func TestDSNFailsUnderCIWithoutEnv(t *testing.T) {
	t.Parallel()
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.CommandContext(t.Context(), exe, "-test.run=^TestHelperDSNUnderCI$", "-test.v")
	cmd.Env = append(os.Environ(), "GOVKIT_PGTEST_HELPER=1", "CI=true", EnvDSN+"=")
	out, err := cmd.CombinedOutput()
	var exitErr *exec.ExitError
	require.ErrorAs(t, err, &exitErr, "the helper must fail; output:\n%s", out)
	assert.Contains(t, string(out), EnvDSN+" must be set when CI=true")
	assert.NotContains(t, string(out), "not reached")
}

// TestHelperDSNUnderCI is run by TestDSNFailsUnderCIWithoutEnv only.
func TestHelperDSNUnderCI(t *testing.T) {
	if os.Getenv("GOVKIT_PGTEST_HELPER") != "1" {
		t.Skip("helper for TestDSNFailsUnderCIWithoutEnv")
	}
	DSN(t)
	t.Log("not reached")
}

func TestSchemaName(t *testing.T) {
	t.Parallel()
	valid := regexp.MustCompile(`^gk_[a-z0-9_]+_[0-9a-f]{12}$`)
	a, b := schemaName(t), schemaName(t)
	assert.Regexp(t, valid, a)
	assert.NotEqual(t, a, b)
	t.Run("Very/Long Sub-Test Name That Goes On And On And On And On", func(t *testing.T) {
		n := schemaName(t)
		assert.LessOrEqual(t, len(n), 63)
		assert.Regexp(t, valid, n)
	})
}

func TestNewIsolatesAndCleansUp(t *testing.T) {
	t.Parallel()
	dsn := DSN(t)
	ctx := t.Context()
	var schema1, schema2 string
	t.Run("first", func(t *testing.T) {
		db := New(t)
		schema1 = db.Schema()
		_, err := db.Pool().Exec(t.Context(), "CREATE TABLE t (x int)")
		require.NoError(t, err)
	})
	t.Run("second", func(t *testing.T) {
		db := New(t)
		schema2 = db.Schema()
		// Same table name, its own schema: no clash with "first".
		_, err := db.Pool().Exec(t.Context(), "CREATE TABLE t (x int)")
		require.NoError(t, err)
	})
	require.NotEqual(t, schema1, schema2)

	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	var n int
	require.NoError(t, conn.QueryRow(ctx,
		"SELECT count(*) FROM pg_namespace WHERE nspname = ANY($1)", []string{schema1, schema2}).Scan(&n))
	assert.Zero(t, n, "schemas dropped when the tests ended")
}
