package postgres_test

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/jackc/pgx/v5"

	"github.com/govkit/govkit/adapters/postgres"
)

//go:embed testdata/migrations/incident/*.sql
var incidentMigrations embed.FS

// The examples need a running PostgreSQL, so they are compiled but not run.

// Example connects, creates the base tables, and records a state change
// together with the event announcing it.
func Example() {
	ctx := context.Background()
	db, err := postgres.Open(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	if err := db.Setup(ctx); err != nil { // creates govkit_outbox
		log.Fatal(err)
	}

	err = db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "UPDATE incidents SET status = 'closed' WHERE id = $1", 7); err != nil {
			return err
		}
		return postgres.WriteOutbox(ctx, tx, postgres.OutboxMessage{
			Subject: "govkit.incident.closed",
			Key:     "7",
			Headers: map[string]string{"content-type": "application/json"},
			Data:    []byte(`{"id":7}`),
		})
	})
	if err != nil {
		log.Fatal(err)
	}
}

// ExampleDB_Migrate applies a component's embedded migrations.
func ExampleDB_Migrate() {
	ctx := context.Background()
	db, err := postgres.Open(ctx, os.Getenv("DATABASE_URL"), postgres.WithSchema("govkit"))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	migs, err := postgres.LoadMigrations(incidentMigrations, "testdata/migrations/incident")
	if err != nil {
		log.Fatal(err)
	}
	err = db.Migrate(ctx, "incident", migs)
	var changed *postgres.MigrationChangedError
	switch {
	case errors.As(err, &changed):
		log.Fatalf("migration %d was edited after being applied: add a new one instead", changed.Version)
	case err != nil:
		log.Fatal(err)
	}
}

// ExampleDB_InTx runs a check-then-write transaction under serializable
// isolation; InTx reruns it if PostgreSQL detects a conflict.
func ExampleDB_InTx() {
	ctx := context.Background()
	db, err := postgres.Open(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	var stats postgres.TxStats
	err = db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		var open int
		if err := tx.QueryRow(ctx,
			"SELECT count(*) FROM incidents WHERE district = $1 AND status = 'open'", "north").Scan(&open); err != nil {
			return err
		}
		if open >= 100 {
			return errors.New("district north is at capacity")
		}
		_, err := tx.Exec(ctx, "INSERT INTO incidents (title, district) VALUES ($1, $2)", "Fallen tree", "north")
		return err
	}, postgres.Serializable(), postgres.WithTxStats(&stats))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("attempts:", stats.Attempts)
}

// ExampleFetchUnpublished is one round of an outbox relay.
func ExampleFetchUnpublished() {
	ctx := context.Background()
	db, err := postgres.Open(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	publish := func(ctx context.Context, m postgres.OutboxMessage) error {
		fmt.Println("publish", m.Subject, m.ID)
		return nil
	}
	err = db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		batch, err := postgres.FetchUnpublished(ctx, tx, 100)
		if err != nil {
			return err
		}
		seqs := make([]int64, 0, len(batch))
		for _, m := range batch {
			if err := publish(ctx, m); err != nil {
				return err // roll back: the batch will be fetched again
			}
			seqs = append(seqs, m.Seq)
		}
		return postgres.MarkPublished(ctx, tx, seqs...)
	})
	if err != nil {
		log.Fatal(err)
	}
}
