//go:build !unix

package postgres

import "net"

// connBroken reports false: peeking at a socket without consuming it is
// implemented only on Unix systems, so elsewhere a terminated backend is
// found by the query that uses its connection.
func connBroken(net.Conn) bool { return false }
