package postgres_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/govkit/govkit/adapters/postgres"
	"github.com/govkit/govkit/adapters/postgres/pgtest"
)

// TestUUIDsEncodeAsBytes checks that the pool's connections encode a
// uuid.UUID, alone and in arrays, straight from its bytes rather than
// through its text form, and that a caller's own AfterConnect still runs.
func TestUUIDsEncodeAsBytes(t *testing.T) {
	ctx := context.Background()
	hooked := false
	db := pgtest.New(t, postgres.WithPoolConfig(func(c *pgxpool.Config) {
		c.AfterConnect = func(context.Context, *pgx.Conn) error { hooked = true; return nil }
	}))
	conn, err := db.Pool().Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if !hooked {
		t.Error("the caller's AfterConnect did not run")
	}

	id := uuid.MustParse("0192f0e4-6c1b-7c3a-9d2e-4f5a6b7c8d9e")
	plan := conn.Conn().TypeMap().PlanEncode(pgtype.UUIDOID, pgtype.BinaryFormatCode, id)
	if got := fmt.Sprintf("%T", plan); got != "*postgres.uuidEncodePlan" {
		t.Fatalf("a uuid.UUID is encoded by %s, not from its bytes", got)
	}
	buf, err := plan.Encode(id, nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(buf) != string(id[:]) {
		t.Fatalf("encoded %x, want the UUID's 16 bytes %x", buf, id[:])
	}
	if _, err := plan.Encode(uuid.Nil, nil); err != nil {
		t.Fatal(err)
	}

	ids := []uuid.UUID{id, uuid.New()}
	var one uuid.UUID
	var many []uuid.UUID
	var text string
	if err := conn.QueryRow(ctx, "SELECT $1::uuid, $2::uuid[], $1::uuid::text", id, ids).Scan(&one, &many, &text); err != nil {
		t.Fatal(err)
	}
	if one != id || len(many) != 2 || many[0] != ids[0] || many[1] != ids[1] || text != id.String() {
		t.Fatalf("round trip gave %v %v %q, want %v %v", one, many, text, id, ids)
	}
}
