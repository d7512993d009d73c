//go:build !linux

package mqtt

import (
	"io"
	"net"
)

// quickAcker returns c: TCP_QUICKACK is Linux's. Elsewhere a packing
// publisher needs Mosquitto's set_tcp_nodelay (see the package
// documentation, "Packs").
func quickAcker(c net.Conn) io.Reader { return c }
