package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/govkit/govkit/adapters/nats/natstest"
	"github.com/govkit/govkit/adapters/postgres/pgtest"
	"github.com/govkit/govkit/examples/district/sim"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestProductionDay runs a short day of a one-street district on the
// machine's PostgreSQL and NATS, configured by the environment as the
// command is, in a fresh schema and a fresh stream. It needs
// GOVKIT_TEST_POSTGRES and GOVKIT_TEST_NATS; without them it is skipped,
// and fails when CI=true.
func TestProductionDay(t *testing.T) {
	db := pgtest.New(t) // a fresh schema, dropped at the end; run opens its own pool on it
	url := natstest.URL(t)
	stream := natstest.StreamName()
	t.Cleanup(func() { _ = natstest.DeleteStream(url, stream) })
	env := map[string]string{
		"DATABASE_URL": pgtest.DSN(t), "GOVKIT_SCHEMA": db.Schema(),
		"NATS_URL": url, "NATS_STREAM": stream,
	}

	cfg := sim.Defaults()
	cfg.Streets, cfg.Devices, cfg.Citizens, cfg.Hours = 1, 600, 60_000, 3
	cfg.Start = time.Date(2026, 3, 2, 9, 0, 0, 0, sim.CST)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var out bytes.Buffer
	s, err := run(ctx, cfg, func(k string) string { return env[k] }, &out)
	require.NoError(t, err, out.String())
	require.Empty(t, s.Errors)
	assert.Contains(t, out.String(), "throwaway keys")
	assert.Contains(t, out.String(), "Total")

	// Every report accounted for, as on the embedded defaults.
	assert.Positive(t, s.Reports)
	assert.Equal(t, s.Reports, s.Opened+s.AutoMerged+s.Replayed+s.Refused)
	assert.Equal(t, s.Opened, s.Open+s.Closed+s.Rejected+s.Duplicates)
	assert.Equal(t, s.Opened, s.Total.Reported+s.Total.Duplicates)
	assert.Positive(t, s.Total.Closed)
	assert.Greater(t, s.Total.ClosureRate, 0.0)
	assert.LessOrEqual(t, s.Total.ClosureRate, 1.0)
	assert.Positive(t, s.Total.BundlesStarted)

	// The state is in PostgreSQL, and every event left the outbox.
	count := func(sql string) int {
		var n int
		require.NoError(t, db.Pool().QueryRow(ctx, sql).Scan(&n), sql)
		return n
	}
	assert.Equal(t, s.Opened, count(`SELECT count(*) FROM govkit_incident`))
	assert.Equal(t, s.WorkOrders, count(`SELECT count(*) FROM govkit_dispatch_order`))
	assert.Equal(t, s.Total.BundlesStarted, count(`SELECT count(*) FROM govkit_permit_application`))
	assert.Equal(t, s.RiskPoints, count(`SELECT count(*) FROM govkit_risk_point`))
	assert.Equal(t, int(s.Readings), count(`SELECT count(*) FROM govkit_sensor_reading`))
	assert.Zero(t, count(`SELECT count(*) FROM govkit_outbox WHERE published_at IS NULL`))
	assert.Greater(t, count(`SELECT count(*) FROM govkit_outbox`), s.Opened, "every case announced its steps")
	assert.False(t, strings.Contains(out.String(), "unexpected errors"))
}

func TestConfiguration(t *testing.T) {
	_, err := run(context.Background(), sim.Defaults(), func(string) string { return "" }, &bytes.Buffer{})
	assert.ErrorContains(t, err, "DATABASE_URL")
	_, _, err = sealerFrom("zz", "00")
	assert.ErrorContains(t, err, "GOVKIT_PII_KEY")
	_, throwaway, err := sealerFrom(strings.Repeat("01", 32), strings.Repeat("02", 32))
	assert.NoError(t, err)
	assert.False(t, throwaway)
}
