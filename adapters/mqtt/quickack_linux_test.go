package mqtt

import (
	"io"
	"net"
	"syscall"
	"testing"
)

// A quick-ack reader passes the bytes through and leaves TCP_QUICKACK set
// after each read; a connection that is not TCP is read as it is.
func TestQuickAckReader(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = c.Write([]byte("PUBACK"))
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := quickAcker(c)
	if _, ok := r.(*quickAckReader); !ok {
		t.Fatalf("a TCP connection got %T", r)
	}
	quickAck := func() int {
		var v int
		err := r.(*quickAckReader).raw.Control(func(fd uintptr) {
			v, err = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK)
		})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	got, err := io.ReadAll(io.LimitReader(r, 6))
	if err != nil || string(got) != "PUBACK" {
		t.Fatalf("read %q, %v", got, err)
	}
	if quickAck() != 1 {
		t.Fatal("TCP_QUICKACK is not set after a read")
	}

	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if r := quickAcker(a); r != io.Reader(a) {
		t.Fatalf("a pipe got %T", r)
	}
}
