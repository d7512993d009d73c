// Command production runs the district demo's wiring (examples/district)
// on production backends: every store on PostgreSQL — incidents, work
// orders, bundles, risk points, codes, raw sensor readings — and every
// event on NATS JetStream, with the transactional outbox and
// postgres.Relay between them.
//
// Nothing in the wiring changes from the demo but the Backend: the stores
// and the bus. The services are the same, the desks subscribe to the same
// subjects, and several copies of this process could share the database
// and the stream, their consumer groups splitting the events.
//
// It is configured by the environment:
//
//	DATABASE_URL          PostgreSQL, e.g. postgres://app@db:5432/city?sslmode=verify-full (required)
//	NATS_URL              NATS with JetStream (default nats://127.0.0.1:4222; a cluster: comma-separated)
//	GOVKIT_SCHEMA         the schema govkit's tables live in (default govkit)
//	NATS_STREAM           the JetStream stream (default GOVKIT_DISTRICT)
//	GOVKIT_PII_KEY        32 bytes in hex: seals personal data at rest (AES-256-GCM)
//	GOVKIT_PII_INDEX_KEY  32 bytes in hex, another: blind indexes of personal data
//
// Without the two keys it seals with throwaway keys and says so: the
// personal data written by the run can then never be read back.
//
//	DATABASE_URL=postgres://postgres@127.0.0.1:5432/test?sslmode=disable go run ./examples/production
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/govkit/govkit/adapters/nats"
	"github.com/govkit/govkit/adapters/postgres"
	"github.com/govkit/govkit/examples/district/sim"
	"github.com/govkit/govkit/pii"
)

func main() {
	cfg := sim.Defaults()
	cfg.Streets, cfg.Devices, cfg.Citizens, cfg.Hours = 1, 2_000, 30_000, 4
	cfg.Start = time.Now().In(sim.CST).Truncate(time.Minute)
	flag.IntVar(&cfg.Streets, "streets", cfg.Streets, "streets")
	flag.IntVar(&cfg.Devices, "devices", cfg.Devices, "sensing devices")
	flag.IntVar(&cfg.Citizens, "citizens", cfg.Citizens, "citizens")
	flag.IntVar(&cfg.Hours, "hours", cfg.Hours, "simulated hours, from now")
	flag.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "seed of the world and the day")
	flag.Parse()
	// The stores persist: keys of this run must not replay an earlier one's.
	cfg.RunID = cfg.Start.Format("20060102T1504") + "/"

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if _, err := run(ctx, cfg, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "production:", err)
		os.Exit(1)
	}
}

// run simulates cfg on the backends the environment names and prints the
// summary to out.
func run(ctx context.Context, cfg sim.Config, getenv func(string) string, out io.Writer) (sim.Summary, error) {
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	dsn := getenv("DATABASE_URL")
	if dsn == "" {
		return sim.Summary{}, fmt.Errorf("DATABASE_URL is not set")
	}
	natsURL, schema, stream := env("NATS_URL", "nats://127.0.0.1:4222"), env("GOVKIT_SCHEMA", "govkit"), env("NATS_STREAM", "GOVKIT_DISTRICT")
	sealer, throwaway, err := sealerFrom(getenv("GOVKIT_PII_KEY"), getenv("GOVKIT_PII_INDEX_KEY"))
	if err != nil {
		return sim.Summary{}, err
	}
	if throwaway {
		fmt.Fprintln(out, "warning: GOVKIT_PII_KEY and GOVKIT_PII_INDEX_KEY are not set: personal data is sealed with throwaway keys")
	}

	// The services publish their own events after commit and the relay is
	// only the safety net, polling: no NOTIFY, which would serialise
	// every commit.
	db, err := postgres.Open(ctx, dsn, postgres.WithSchema(schema), postgres.WithoutOutboxNotify())
	if err != nil {
		return sim.Summary{}, err
	}
	defer db.Close()
	b, err := nats.Open(ctx, nats.Options{URL: natsURL, Stream: stream})
	if err != nil {
		return sim.Summary{}, err
	}
	defer b.Close()
	d, back, err := newDeployment(ctx, db, b, natsURL, stream, sealer)
	if err != nil {
		return sim.Summary{}, err
	}
	defer d.close()

	fmt.Fprintf(out, "govkit district on PostgreSQL (schema %s) and NATS JetStream (stream %s): %d streets, %d devices, %d citizens, %d hours\n",
		schema, stream, cfg.Streets, cfg.Devices, cfg.Citizens, cfg.Hours)
	calls := 0
	sum, err := sim.Run(ctx, cfg, back, func(p sim.Progress) { // every ten simulated minutes
		if calls%6 == 0 || p.Done >= 1 {
			fmt.Fprintln(out, p)
		}
		calls++
	})
	if err != nil {
		return sum, err
	}
	sum.WriteTable(out)
	return sum, nil
}

// sealerFrom builds the sealer of personal data from two hex keys, or from
// throwaway keys when both are empty.
func sealerFrom(encHex, indexHex string) (*pii.Sealer, bool, error) {
	if encHex == "" && indexHex == "" {
		enc, idx := make([]byte, pii.KeySize), make([]byte, pii.KeySize)
		_, _ = rand.Read(enc)
		_, _ = rand.Read(idx)
		s, err := pii.NewSealer(enc, idx)
		return s, true, err
	}
	enc, err := hex.DecodeString(encHex)
	if err != nil {
		return nil, false, fmt.Errorf("GOVKIT_PII_KEY: %w", err)
	}
	idx, err := hex.DecodeString(indexHex)
	if err != nil {
		return nil, false, fmt.Errorf("GOVKIT_PII_INDEX_KEY: %w", err)
	}
	s, err := pii.NewSealer(enc, idx)
	return s, false, err
}
