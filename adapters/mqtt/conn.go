package mqtt

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
)

// conn wraps a network connection for paho: reads are buffered, so that a
// packet costs one read system call per batch rather than three, and
// packets are coalesced into few writes by a flusher goroutine, so that
// many PUBLISH and PUBACK packets in flight share a system call (and a TCP
// segment) instead of one each. paho writes every packet between Lock and
// Unlock (it checks for sync.Locker), which keeps packets whole.
type conn struct {
	net.Conn
	r *bufio.Reader

	pkt sync.Mutex // held by paho while it writes one packet

	mu     sync.Mutex // guards buf, spare, err
	buf    []byte     // bytes written but not yet sent
	spare  []byte     // the buffer last sent, reused
	err    error      // the first write error
	wmu    sync.Mutex // serialises writes to the socket
	kick   chan struct{}
	done   chan struct{}
	closer sync.Once
}

// newConn wraps c; quick makes it acknowledge what it reads at once (see
// quickAcker), which a packing publisher needs.
func newConn(c net.Conn, quick bool) *conn {
	var r io.Reader = c
	if quick {
		r = quickAcker(c)
	}
	fc := &conn{Conn: c, r: bufio.NewReaderSize(r, 32<<10), kick: make(chan struct{}, 1), done: make(chan struct{})}
	go fc.flusher()
	return fc
}

// dial opens a connection to u ("tcp", "mqtt", "tls", "ssl", "mqtts"),
// with quick acknowledgements if quick.
func dial(ctx context.Context, u *url.URL, tlsConfig *tls.Config, quick bool) (net.Conn, error) {
	var c net.Conn
	var err error
	switch strings.ToLower(u.Scheme) {
	case "tls", "ssl", "mqtts":
		d := tls.Dialer{Config: tlsConfig}
		c, err = d.DialContext(ctx, "tcp", u.Host)
	default:
		var d net.Dialer
		c, err = d.DialContext(ctx, "tcp", u.Host)
	}
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	return newConn(c, quick), nil
}

func (c *conn) Read(p []byte) (int, error) { return c.r.Read(p) }

// Lock starts a packet.
func (c *conn) Lock() { c.pkt.Lock() }

// Unlock ends a packet and wakes the flusher.
func (c *conn) Unlock() {
	c.pkt.Unlock()
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// Write queues p for the flusher.
func (c *conn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, c.err
	}
	c.buf = append(c.buf, p...)
	return len(p), nil
}

func (c *conn) flusher() {
	for {
		select {
		case <-c.kick:
			c.flush()
		case <-c.done:
			return
		}
	}
}

// flush sends whatever is queued.
func (c *conn) flush() {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.mu.Lock()
	if len(c.buf) == 0 || c.err != nil {
		c.mu.Unlock()
		return
	}
	out := c.buf
	c.buf, c.spare = c.spare[:0], nil
	c.mu.Unlock()
	_, err := c.Conn.Write(out)
	c.mu.Lock()
	c.spare = out[:0]
	if err != nil && c.err == nil {
		c.err = err
	}
	c.mu.Unlock()
	if err != nil {
		_ = c.Conn.Close() // wakes paho's reader, which reports the loss
	}
}

// Close sends what is queued (acknowledgements, a DISCONNECT) and closes
// the connection.
func (c *conn) Close() error {
	err := net.ErrClosed
	c.closer.Do(func() {
		c.flush()
		close(c.done)
		err = c.Conn.Close()
	})
	return err
}
