package mqtt

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// serverURL returns GOVKIT_TEST_MQTT, skipping the test without it (and
// failing when CI=true, so that CI never skips silently).
func serverURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("GOVKIT_TEST_MQTT")
	if u == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("GOVKIT_TEST_MQTT is not set and CI=true: the MQTT tests must run in CI")
		}
		t.Skip("GOVKIT_TEST_MQTT is not set (e.g. tcp://127.0.0.1:1883)")
	}
	return u
}

func randomToken() string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// testOptions returns options for a bus unique to this test, with short
// sessions and retries so that tests are quick and leave little behind.
func testOptions(t testing.TB, server string) Options {
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, t.Name())
	if len(name) > 40 {
		name = name[len(name)-40:]
	}
	return Options{
		Servers:        []string{server},
		ClientID:       "gkt-" + name + "-" + randomToken(),
		SessionExpiry:  2 * time.Minute,
		ConnectTimeout: 5 * time.Second,
		Backoff:        20 * time.Millisecond,
		MaxBackoff:     200 * time.Millisecond,
	}
}

// newTestBus returns a connected bus that is closed, and whose sessions
// are removed from the broker, when the test ends.
func newTestBus(t testing.TB, opts Options) *Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := New(ctx, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		_ = b.Close()
		purgeSessions(t, opts.Servers[0], b.sessionIDs()...)
	})
	return b
}

// sessionIDs returns the client IDs of every session the bus has used.
func (b *Bus) sessionIDs() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	ids := []string{b.pub.clientID}
	for id := range b.used {
		ids = append(ids, id)
	}
	return ids
}

// purgeSessions ends the broker's sessions for ids by connecting with
// clean start and a session expiry of zero.
func purgeSessions(t testing.TB, server string, ids ...string) {
	u, err := url.Parse(server)
	if err != nil {
		t.Errorf("purge: %v", err)
		return
	}
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			c, err := net.DialTimeout("tcp", u.Host, time.Second)
			if err != nil {
				return
			}
			cli := paho.NewClient(paho.ClientConfig{ClientID: id, Conn: c})
			zero := uint32(0)
			if _, err := cli.Connect(ctx, &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 10,
				Properties: &paho.ConnectProperties{SessionExpiryInterval: &zero}}); err != nil {
				return
			}
			_ = cli.Disconnect(&paho.Disconnect{ReasonCode: 0})
		}()
	}
	wg.Wait()
}

// broker is a private Mosquitto for fault tests: its own port, config
// and persistence directory, so that it can be killed and restarted
// without disturbing the shared one.
type broker struct {
	t    testing.TB
	dir  string
	port int
	conf string
	cmd  *exec.Cmd
	log  string
}

const mosquittoBin = "/usr/sbin/mosquitto"

// losslessConfig are the settings a lossless deployment needs (see the
// package documentation): no per-client queue or in-flight limits, and
// persistence.
const losslessConfig = `max_queued_messages 0
max_queued_bytes 0
max_inflight_messages 0
max_inflight_bytes 0
persistence true
`

// crashSafeConfig adds a snapshot after every change, which narrows what
// a crash (kill -9) of Mosquitto 2.0 can lose to about one event-loop
// iteration, at a large cost in throughput.
const crashSafeConfig = losslessConfig + `autosave_on_changes true
autosave_interval 1
`

// startBroker starts mosquitto with extra config lines (settings beyond
// the listener and persistence location).
func startBroker(t testing.TB, extra string) *broker {
	t.Helper()
	if _, err := os.Stat(mosquittoBin); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found: fault tests need it", mosquittoBin)
		}
		t.Skipf("%s not found", mosquittoBin)
	}
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	b := &broker{t: t, dir: dir, port: port, conf: filepath.Join(dir, "mosquitto.conf"), log: filepath.Join(dir, "mosquitto.log")}
	if os.Geteuid() == 0 {
		// Started as root, mosquitto switches to the user "mosquitto", which
		// cannot write the test's 0700 directory: it would run without its
		// log and, silently, without persistence.
		extra = "user root\n" + extra
	}
	conf := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\npersistence_location %s/\nlog_dest file %s\nlog_type error\nlog_type warning\nlog_type notice\n%s",
		port, dir, b.log, extra)
	if err := os.WriteFile(b.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	b.start()
	t.Cleanup(func() { b.stop(syscall.SIGKILL) })
	return b
}

func (b *broker) url() string { return fmt.Sprintf("tcp://127.0.0.1:%d", b.port) }

func (b *broker) start() {
	b.t.Helper()
	b.cmd = exec.Command(mosquittoBin, "-c", b.conf)
	if err := b.cmd.Start(); err != nil {
		b.t.Fatalf("start mosquitto: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", b.port), 100*time.Millisecond)
		if err == nil {
			_ = c.Close()
			return
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(b.log)
			b.t.Fatalf("mosquitto did not start: %v\n%s", err, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop stops the broker with sig (SIGKILL: a crash; SIGTERM: a clean
// shutdown, which saves its state) and waits for it to exit.
func (b *broker) stop(sig syscall.Signal) {
	if b.cmd == nil || b.cmd.Process == nil {
		return
	}
	_ = b.cmd.Process.Signal(sig)
	_ = b.cmd.Wait()
	b.cmd = nil
}

// cpuTime returns the CPU time the broker process has used (user and
// system, from /proc), or 0 if it cannot be read.
func (b *broker) cpuTime() time.Duration {
	if b.cmd == nil || b.cmd.Process == nil {
		return 0
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", b.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // clock ticks; USER_HZ is 100 on Linux
}
