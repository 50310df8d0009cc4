//go:build unix

package postgres

import (
	"errors"
	"net"
	"syscall"
)

// connBroken reports whether the server closed an idle connection or
// wrote to it unasked, which PostgreSQL does when it terminates a backend:
// it sends a FATAL message, then closes the socket. It peeks at the socket
// without blocking or consuming anything, one system call, so a pool can
// check every connection it hands out. A round trip (pgx's ping) would
// add a millisecond to each query.
func connBroken(c net.Conn) bool {
	if tc, ok := c.(interface{ NetConn() net.Conn }); ok {
		// Under TLS, a record waiting on an idle connection is most likely
		// the server's error or close_notify. Any other record costs only a
		// new connection.
		c = tc.NetConn()
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return true
	}

	// Control, unlike Read, does not wait for the descriptor's read lock,
	// which pgx's background reader may hold on an idle connection. Data
	// that reader takes goes unseen here, and the query then fails as it
	// would without this check.
	broken := false
	var buf [1]byte
	err = raw.Control(func(fd uintptr) {
		n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EWOULDBLOCK):
			// Nothing to read: the connection is idle, as it should be.
		case errors.Is(err, syscall.EINTR):
			// Interrupted before it could look: take it as alive, and
			// let the query find out.
		default:
			// Data waiting, the end of the stream (n == 0), or an error
			// such as a reset.
			broken = err != nil || n >= 0
		}
	})
	return broken || err != nil
}
