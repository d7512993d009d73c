package natstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/govkit/govkit/adapters/nats"
	"github.com/govkit/govkit/bus"
)

// EnvURL is the environment variable holding the test server's URL.
const EnvURL = "GOVKIT_TEST_NATS"

// StreamPrefix starts the name of every stream this package creates.
const StreamPrefix = "GKTEST_"

// staleAfter is the age past which a leftover test stream (from a test
// process that was killed before its cleanup ran) is deleted.
const staleAfter = time.Hour

// decision is what a test should do given the environment.
type decision int

const (
	useServer decision = iota
	skipTest
	failTest
)

// decide is the rule applied by [URL]: use the URL when set, otherwise
// skip, unless ci is "true" (CI=true), where a missing URL is a failure.
func decide(url, ci string) decision {
	switch {
	case strings.TrimSpace(url) != "":
		return useServer
	case strings.EqualFold(strings.TrimSpace(ci), "true"):
		return failTest
	default:
		return skipTest
	}
}

// URL returns the test server's URL from GOVKIT_TEST_NATS. When it is
// unset, URL skips the test, or fails it if CI=true.
func URL(t testing.TB) string {
	t.Helper()
	url := os.Getenv(EnvURL)
	switch decide(url, os.Getenv("CI")) {
	case failTest:
		t.Fatal(EnvURL + " must be set when CI=true")
	case skipTest:
		t.Skip(EnvURL + " is not set; skipping NATS test")
	}
	return strings.TrimSpace(url)
}

// StreamName returns a new stream name: StreamPrefix and 12 random
// hex digits.
func StreamName() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return StreamPrefix + strings.ToUpper(hex.EncodeToString(b[:]))
}

// Open opens a [nats.Bus] on the test server (see [URL]) with a new stream
// of its own, unless opts.Stream is set, and the given options otherwise.
// When the test ends the bus is closed and the stream deleted. Leftover
// test streams older than an hour are deleted too.
func Open(t testing.TB, opts nats.Options) *nats.Bus {
	t.Helper()
	opts.URL = URL(t)
	if opts.Stream == "" {
		opts.Stream = StreamName()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := nats.Open(ctx, opts)
	if err != nil {
		t.Fatalf("natstest: open stream %s on %s: %v", opts.Stream, opts.URL, err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil && !errors.Is(err, bus.ErrClosed) {
			t.Errorf("natstest: close: %v", err)
		}
		if err := DeleteStream(opts.URL, opts.Stream); err != nil {
			t.Errorf("natstest: delete stream %s: %v", opts.Stream, err)
		}
	})
	return b
}

// DeleteStream deletes a stream, and test streams left over from killed
// test processes; a stream already gone is not an error.
func DeleteStream(url, stream string) error {
	nc, err := natsgo.Connect(url)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := js.DeleteStream(ctx, stream); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return err
	}
	infos := js.ListStreams(ctx)
	var stale []string
	for info := range infos.Info() {
		if strings.HasPrefix(info.Config.Name, StreamPrefix) && time.Since(info.Created) > staleAfter {
			stale = append(stale, info.Config.Name)
		}
	}
	for _, name := range stale {
		_ = js.DeleteStream(ctx, name)
	}
	return nil
}
