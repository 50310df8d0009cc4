package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gorilla/websocket"

	"github.com/salesagent/salesagent/channels/web"
)

// IdleConfig describes a set of idle widget connections to open.
type IdleConfig struct {
	// URLs are server roots such as http://127.0.0.1:8080. Connections go
	// to them in turn. The kernel gives each local address and port of a
	// server its own range of ephemeral ports (28,232 by default on Linux),
	// so more than that many connections need more than one URL.
	URLs []string
	// ShopKey is the shop's widget key (pk_...).
	ShopKey string
	// Sockets is the number of connections to open, and Parallel the
	// number of handshakes in flight at once.
	Sockets, Parallel int
	// Timeout bounds the opening of all connections.
	Timeout time.Duration
	// Keepalive sends an unsolicited pong, which RFC 6455 allows as a
	// heartbeat, right after the welcome. The server's pong handler then
	// extends the socket's read deadline.
	// NOTE: without it the server closes an idle socket when its hello
	// deadline passes, 10 s after connecting by default, because a
	// successful hello does not extend the read deadline.
	Keepalive bool
}

// IdleSockets are open widget connections that have sent hello, received
// their welcome and now only reply to the server's pings.
type IdleSockets struct {
	// Opened counts the connections that got a welcome. Failed counts the
	// rest by cause, and FirstError is the first failure's message.
	Opened     int
	Failed     map[string]int
	FirstError string
	Elapsed    time.Duration

	mu    sync.Mutex
	conns []*websocket.Conn
	wg    sync.WaitGroup
}

// OpenIdle opens config.Sockets connections, each with a hello that starts
// a new conversation, and keeps them open until Close. Each client is a
// bare gorilla/websocket connection with a reader that discards frames, so
// the client process stays small. web.Dial would keep a buffer of 256
// frames for each connection.
func OpenIdle(ctx context.Context, config IdleConfig) (*IdleSockets, error) {
	if len(config.URLs) == 0 || config.Sockets < 1 || !strings.HasPrefix(config.ShopKey, "pk_") {
		return nil, fmt.Errorf("invalid idle socket settings: need server URLs (%d given), 1 or more sockets (%d given) and a widget key starting with pk_", len(config.URLs), config.Sockets)
	}
	targets := make([]idleTarget, len(config.URLs))
	for i, raw := range config.URLs {
		target, err := newIdleTarget(raw)
		if err != nil {
			return nil, err
		}
		targets[i] = target
	}

	ctx, cancel := context.WithTimeout(ctx, config.Timeout)
	defer cancel()
	s := &IdleSockets{Failed: map[string]int{}}
	start := time.Now()
	next := make(chan int)
	var dialers sync.WaitGroup
	for range max(config.Parallel, 1) {
		dialers.Go(func() {
			for i := range next {
				s.open(ctx, targets[i%len(targets)], config.ShopKey, config.Keepalive)
			}
		})
	}
	for i := range config.Sockets {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	dialers.Wait()
	s.Elapsed = time.Since(start)
	if skipped := config.Sockets - s.Opened - s.failures(); skipped > 0 {
		s.Failed[OutcomeTimeout] += skipped
	}
	return s, nil
}

// idleTarget is one server's WebSocket address and the origin its pages
// have.
type idleTarget struct {
	socketURL, origin string
}

func newIdleTarget(raw string) (idleTarget, error) {
	u, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return idleTarget{}, fmt.Errorf("invalid server URL %q: use http://HOST:PORT", raw)
	}
	origin := u.Scheme + "://" + u.Host
	u.Scheme = map[string]string{"http": "ws", "https": "wss"}[u.Scheme]
	u.Path += "/ws"
	return idleTarget{socketURL: u.String(), origin: origin}, nil
}

// idleDialer keeps client buffers small: the read buffer stays with each
// connection, write buffers go back to a pool.
var idleDialer = websocket.Dialer{
	HandshakeTimeout: 30 * time.Second,
	ReadBufferSize:   1024,
	WriteBufferSize:  1024,
	WriteBufferPool:  &sync.Pool{},
}

// open opens one connection and records the outcome.
func (s *IdleSockets) open(ctx context.Context, target idleTarget, key string, keepalive bool) {
	conn, err := dialIdle(ctx, target, key, keepalive)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.Failed[failureCause(err)]++
		if s.FirstError == "" {
			s.FirstError = err.Error()
		}
		return
	}
	s.Opened++
	s.conns = append(s.conns, conn)
	s.wg.Go(func() {
		// gorilla/websocket replies to pings while a reader runs. The loop
		// ends when the connection closes.
		for {
			if _, _, err := conn.NextReader(); err != nil {
				return
			}
		}
	})
}

func dialIdle(ctx context.Context, target idleTarget, key string, keepalive bool) (*websocket.Conn, error) {
	conn, resp, err := idleDialer.DialContext(ctx, target.socketURL, map[string][]string{"Origin": {target.origin}})
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("connect to %s: server responded %s: %w", target.socketURL, resp.Status, err)
		}
		return nil, fmt.Errorf("connect to %s: %w", target.socketURL, err)
	}

	hello, _ := json.Marshal(web.HelloFrame{Type: web.FrameHello, ShopKey: key})
	deadline := time.Now().Add(30 * time.Second)
	_ = conn.SetWriteDeadline(deadline)
	_ = conn.SetReadDeadline(deadline)
	if err := conn.WriteMessage(websocket.TextMessage, hello); err != nil {
		conn.Close()
		return nil, fmt.Errorf("send hello: %w", err)
	}
	_, data, err := conn.ReadMessage()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("read welcome: %w", err)
	}

	frame, err := web.DecodeServerFrame(data)
	if err == nil && frame.Type != web.FrameWelcome {
		err = fmt.Errorf("server sent %s frame %q instead of welcome: %w", frame.Type, frame.Code, frame.Err())
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	if keepalive {
		if err := conn.WriteControl(websocket.PongMessage, nil, deadline); err != nil {
			conn.Close()
			return nil, fmt.Errorf("send keepalive pong: %w", err)
		}
	}
	_ = conn.SetReadDeadline(time.Time{})
	return conn, nil
}

// failureCause names the cause of a failed connection for the report.
func failureCause(err error) string {
	var netErr net.Error
	switch {
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "no_free_local_port"
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return "too_many_open_files"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "reset"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return OutcomeTimeout
	case strings.Contains(err.Error(), "instead of welcome"):
		return "error_frame"
	}
	return "other"
}

func (s *IdleSockets) failures() int {
	n := 0
	for _, count := range s.Failed {
		n += count
	}
	return n
}

// Close closes every connection with a normal close frame and waits for
// their readers to end.
func (s *IdleSockets) Close() {
	s.mu.Lock()
	conns := s.conns
	s.conns = nil
	s.mu.Unlock()
	closing := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	for _, conn := range conns {
		_ = conn.WriteControl(websocket.CloseMessage, closing, time.Now().Add(time.Second))
		conn.Close()
	}
	s.wg.Wait()
}
