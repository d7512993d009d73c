package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/govkit/govkit/adapters/postgres"
	"github.com/govkit/govkit/adapters/postgres/pgtest"
	"github.com/govkit/govkit/bus"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recorder is a bus subscriber that remembers the first delivery of every
// message, in order.
type recorder struct {
	mu    sync.Mutex
	seen  map[string]bool
	order map[string][]int // key → message numbers in first-delivery order
	dups  int
}

func newRecorder() *recorder { return &recorder{seen: map[string]bool{}, order: map[string][]int{}} }

func (r *recorder) handle(_ context.Context, m bus.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen[m.ID] {
		r.dups++ // at least once: consumers deduplicate on the ID
		return nil
	}
	r.seen[m.ID] = true
	n, _ := strconv.Atoi(string(m.Data))
	r.order[m.Key] = append(r.order[m.Key], n)
	return nil
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen)
}

func (r *recorder) assertOrdered(t *testing.T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for key, ns := range r.order {
		for i := 1; i < len(ns); i++ {
			if ns[i] < ns[i-1] {
				t.Fatalf("key %s delivered out of order: %v", key, ns)
			}
		}
	}
}

func memoryBus(t *testing.T, r *recorder) *bus.Memory {
	b, err := bus.NewMemory(bus.MemoryOptions{Backoff: time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	_, err = b.Subscribe(context.Background(), "relay.>", "rec", r.handle)
	require.NoError(t, err)
	return b
}

// write commits one outbox message per transaction; n numbers it.
func write(ctx context.Context, db *postgres.DB, id uuid.UUID, n int) error {
	return db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		return postgres.WriteOutbox(ctx, tx, postgres.OutboxMessage{
			ID: id, Subject: "relay.test", Key: "k" + strconv.Itoa(n%5), Data: []byte(strconv.Itoa(n)),
		})
	})
}

func TestRelayDrainsInOrder(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	require.NoError(t, db.MigrateOutbox(ctx))
	rec := newRecorder()
	b := memoryBus(t, rec)
	for n := range 30 {
		require.NoError(t, write(ctx, db, uuid.Must(uuid.NewV7()), n))
	}
	r, err := postgres.NewRelay(db, b, postgres.RelayOptions{Batch: 7})
	require.NoError(t, err)
	n, err := r.Drain(ctx)
	require.NoError(t, err)
	assert.Equal(t, 30, n)
	n, err = r.Drain(ctx)
	require.NoError(t, err)
	assert.Zero(t, n, "published messages are not sent again")
	require.NoError(t, b.Drain(ctx))
	assert.Equal(t, 30, rec.count())
	rec.assertOrdered(t)

	_, err = postgres.NewRelay(nil, b, postgres.RelayOptions{})
	assert.ErrorIs(t, err, postgres.ErrInvalidArgument)
	_, err = postgres.NewRelay(db, b, postgres.RelayOptions{Batch: -1})
	assert.ErrorIs(t, err, postgres.ErrInvalidArgument)
}

// flaky refuses every message after the first few until healed.
type flaky struct {
	bus.Publisher
	left   atomic.Int64
	broken atomic.Bool
}

func (f *flaky) Publish(ctx context.Context, m bus.Message) error {
	if f.broken.Load() && f.left.Add(-1) < 0 {
		return errors.New("broker down")
	}
	return f.Publisher.Publish(ctx, m)
}

func TestRelayKeepsWhatTheBusRefused(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	require.NoError(t, db.MigrateOutbox(ctx))
	rec := newRecorder()
	f := &flaky{Publisher: memoryBus(t, rec)}
	f.left.Store(4)
	f.broken.Store(true)
	for n := range 10 {
		require.NoError(t, write(ctx, db, uuid.Must(uuid.NewV7()), n))
	}
	r, err := postgres.NewRelay(db, f, postgres.RelayOptions{})
	require.NoError(t, err)
	n, err := r.Drain(ctx)
	require.NoError(t, err)
	assert.Equal(t, 4, n, "what the bus took is marked, the rest waits")
	f.broken.Store(false)
	n, err = r.Drain(ctx)
	require.NoError(t, err)
	assert.Equal(t, 6, n)
}

func TestConcurrentRelaysKeepOrderPerKey(t *testing.T) {
	db := pgtest.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	require.NoError(t, db.MigrateOutbox(ctx))
	rec := newRecorder()
	b := memoryBus(t, rec)
	var wg sync.WaitGroup
	for range 3 { // three processes' relays on one database
		r, err := postgres.NewRelay(db, b, postgres.RelayOptions{Batch: 5, Poll: 20 * time.Millisecond, Backoff: 10 * time.Millisecond})
		require.NoError(t, err)
		wg.Add(1)
		go func() { defer wg.Done(); _ = r.Run(ctx) }()
	}
	for n := range 200 {
		require.NoError(t, write(ctx, db, uuid.Must(uuid.NewV7()), n))
	}
	require.Eventually(t, func() bool { return rec.count() == 200 }, 20*time.Second, 10*time.Millisecond)
	cancel()
	wg.Wait()
	rec.assertOrdered(t)
}

func TestRelayWakesOnNotification(t *testing.T) {
	db := pgtest.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	require.NoError(t, db.MigrateOutbox(ctx))
	rec := newRecorder()
	b := memoryBus(t, rec)
	r, err := postgres.NewRelay(db, b, postgres.RelayOptions{Poll: time.Hour})
	require.NoError(t, err)
	go func() { _ = r.Run(ctx) }()
	time.Sleep(100 * time.Millisecond) // let it LISTEN
	require.NoError(t, write(ctx, db, uuid.Must(uuid.NewV7()), 1))
	require.Eventually(t, func() bool { return rec.count() == 1 }, 5*time.Second, 5*time.Millisecond,
		"with an hour's poll, only the notification can have woken it")
}

// TestRelayAcrossPostgresRestart starts its own PostgreSQL, writes a stream
// of outbox messages while a relay runs, kills the server mid-stream
// (immediate shutdown, as a crash), restarts it, and checks that every
// committed message is published, in order per key.
func TestRelayAcrossPostgresRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts its own PostgreSQL")
	}
	pg := startPostgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	db, err := postgres.Open(ctx, pg.dsn)
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.MigrateOutbox(ctx))

	rec := newRecorder()
	b := memoryBus(t, rec)
	r, err := postgres.NewRelay(db, b, postgres.RelayOptions{Batch: 10, Poll: 50 * time.Millisecond, Backoff: 50 * time.Millisecond})
	require.NoError(t, err)
	rctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(rctx) }()

	const total = 300
	acked := 0
	for n := 0; n < total; n++ {
		if n == 100 {
			pg.kill(t)
			time.Sleep(300 * time.Millisecond)
			pg.start(t)
		}
		id := uuid.Must(uuid.NewV7())
		for { // retry the same message until its commit is known
			err := write(ctx, db, id, n)
			if err == nil || isUniqueViolation(err) { // committed, perhaps by an attempt whose reply was lost
				acked++
				break
			}
			require.NoError(t, ctx.Err(), "gave up on message %d: %v", n, err)
			time.Sleep(50 * time.Millisecond)
		}
	}
	require.Eventually(t, func() bool { return rec.count() == acked }, time.Minute, 20*time.Millisecond,
		"every committed message is published: got %d of %d", rec.count(), acked)
	stop()
	<-done
	rec.assertOrdered(t)
	assert.Equal(t, total, acked)
}

func isUniqueViolation(err error) bool {
	var pgErr interface{ SQLState() string }
	return errors.As(err, &pgErr) && pgErr.SQLState() == "23505"
}

// testPostgres is a PostgreSQL server of the test's own, on a free port.
type testPostgres struct {
	bin, data, sock string
	port            int
	dsn             string
}

// startPostgres initialises and starts a server with the machine's
// PostgreSQL binaries, as the postgres user (initdb refuses root). Without
// the binaries the test skips, or fails when CI=true.
func startPostgres(t *testing.T) *testPostgres {
	t.Helper()
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	pgUser, uerr := user.Lookup("postgres")
	if len(matches) == 0 || uerr != nil || os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("the PostgreSQL fault test needs /usr/lib/postgresql/*/bin, a postgres user and root; CI must provide them")
		}
		t.Skip("no PostgreSQL binaries, postgres user or root here")
	}
	dir, err := os.MkdirTemp("", "govkit-pg-*")
	require.NoError(t, err)
	uid, _ := strconv.Atoi(pgUser.Uid)
	gid, _ := strconv.Atoi(pgUser.Gid)
	require.NoError(t, os.Chown(dir, uid, gid))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	pg := &testPostgres{bin: filepath.Dir(matches[0]), data: filepath.Join(dir, "data"), sock: dir, port: port,
		dsn: fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=2", port)}
	pg.run(t, "initdb", "-D", pg.data, "-A", "trust", "-U", "postgres", "--no-sync")
	pg.start(t)
	t.Cleanup(func() {
		_ = pg.cmd("pg_ctl", "-D", pg.data, "-m", "immediate", "stop").Run()
		_ = os.RemoveAll(dir)
	})
	return pg
}

func (pg *testPostgres) cmd(tool string, args ...string) *exec.Cmd {
	return exec.Command("runuser", append([]string{"-u", "postgres", "--", filepath.Join(pg.bin, tool)}, args...)...)
}

func (pg *testPostgres) run(t *testing.T, tool string, args ...string) {
	t.Helper()
	out, err := pg.cmd(tool, args...).CombinedOutput()
	require.NoError(t, err, "%s: %s", tool, out)
}

func (pg *testPostgres) start(t *testing.T) {
	pg.run(t, "pg_ctl", "-D", pg.data, "-w", "-l", filepath.Join(pg.sock, "log"),
		"-o", fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1", pg.port, pg.sock), "start")
}

// kill stops the server the way a crash would: no checkpoint, recovery
// from the write-ahead log on the next start.
func (pg *testPostgres) kill(t *testing.T) {
	pg.run(t, "pg_ctl", "-D", pg.data, "-m", "immediate", "stop")
}
