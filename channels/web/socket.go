package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"github.com/salesagent/salesagent"
)

// Limits on how fast one socket may send frames of any type, on top of the
// per-visitor message limit. They stop a client that loops on bad frames.
const (
	socketFrameRate  = 5
	socketFrameBurst = 20
)

// closeGrace is how long the writer waits for the client to reply to a
// close frame before it drops the connection.
const closeGrace = 2 * time.Second

// maxMergedDelta is the most text, in bytes, that deltas joined into one
// queued frame may carry. A single larger delta is sent as it is.
const maxMergedDelta = 16 << 10

// outFrame is one queued write: an encoded frame, a delta frame, or a close
// frame when closeCode is set.
type outFrame struct {
	data []byte
	// delta is set on a delta frame. It is encoded when the writer takes
	// it from the queue, so that later deltas of its turn can join it
	// while it waits.
	delta       *queuedDelta
	closeCode   int
	closeReason string
}

// queuedDelta is the turn and text of a delta frame waiting in the send
// queue.
type queuedDelta struct {
	turn int
	text []byte
}

// encode returns the frame's JSON.
func (f outFrame) encode() ([]byte, error) {
	if f.delta == nil {
		return f.data, nil
	}
	data, err := json.Marshal(DeltaFrame{Type: FrameDelta, Turn: f.delta.turn, Text: string(f.delta.text)})
	if err != nil {
		return nil, fmt.Errorf("encode delta frame of turn %d: %w", f.delta.turn, err)
	}
	return data, nil
}

// socket is one widget connection. A reader goroutine handles frames and a
// writer goroutine owns every write; other goroutines queue frames with send.
// Idle sockets hold no other goroutine.
type socket struct {
	srv    *Server
	conn   *websocket.Conn
	origin string
	host   string
	log    *slog.Logger
	frames *rate.Limiter

	// Send queue, drained by writeLoop.
	qmu    sync.Mutex
	queue  []outFrame
	wake   chan struct{}
	done   chan struct{}
	closed bool

	// Session state, set by hello on the reader goroutine before the socket
	// joins the hub, and only read afterwards.
	shop   *salesagent.Shop
	convID int64
	page   *Page
	cart   []salesagent.CartItem

	// Delivery state. dmu serialises every message frame, so they go out
	// in seq order. lastSent is the seq of the last message the client
	// has. pending holds the client ids of this socket's own messages,
	// which are acknowledged instead of echoed.
	dmu      sync.Mutex
	lastSent atomic.Int64
	pending  map[string]struct{}
	// turns contains the seqs of this socket's messages whose reply has
	// not been delivered yet. The reply's frame carries the turn.
	turns map[int]struct{}
}

func (s *Server) handleSocket(w http.ResponseWriter, r *http.Request) {
	if !websocket.IsWebSocketUpgrade(r) {
		http.Error(w, "this endpoint speaks the widget's WebSocket protocol; connect with a WebSocket client", http.StatusUpgradeRequired)
		return
	}
	conn, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		// The upgrader has already written an HTTP error.
		s.log.DebugContext(r.Context(), "websocket upgrade failed", "error", err)
		return
	}
	sock := &socket{
		srv:    s,
		conn:   conn,
		origin: r.Header.Get("Origin"),
		host:   r.Host,
		log:    s.log,
		frames: rate.NewLimiter(socketFrameRate, socketFrameBurst),
		wake:   make(chan struct{}, 1),
		done:   make(chan struct{}),
	}
	if !s.addSocket(sock) {
		deadline := time.Now().Add(s.cfg.WriteTimeout)
		_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "server shutting down"), deadline)
		conn.Close()
		return
	}

	// Returning from the handler lets net/http free the request and its
	// buffers, which would otherwise stay with every idle socket.
	go sock.writeLoop()
	go sock.readLoop()
}

// readLoop reads frames until the connection fails or closes, then cleans
// up.
func (sock *socket) readLoop() {
	defer sock.finish()
	cfg := &sock.srv.cfg
	conn := sock.conn

	// Frames up to MaxFrameBytes are handled and larger ones get an error
	// frame; SetReadLimit is the hard cap that closes the socket with 1009.
	conn.SetReadLimit(int64(cfg.MaxFrameBytes) * 4)
	_ = conn.SetReadDeadline(time.Now().Add(cfg.HelloTimeout))
	conn.SetPongHandler(func(string) error {
		return sock.extendReadDeadline()
	})

	for {
		kind, r, err := conn.NextReader()
		if err != nil {
			sock.readFailed(err)
			return
		}
		data, err := io.ReadAll(io.LimitReader(r, int64(cfg.MaxFrameBytes)+1))
		if err != nil {
			sock.readFailed(err)
			return
		}
		if sock.convID != 0 {
			_ = sock.extendReadDeadline()
		}

		if !sock.frames.Allow() {
			sock.srv.metrics.frameIn("flood")
			sock.fail(salesagent.Errorf(salesagent.ERATELIMITED,
				"too many frames on this connection; wait a few seconds before reconnecting"), websocket.ClosePolicyViolation)
			return
		}
		if len(data) > cfg.MaxFrameBytes {
			// Reading the rest through r keeps the hard cap in force for
			// a message sent in fragments.
			if _, err := io.Copy(io.Discard, r); err != nil {
				sock.readFailed(err)
				return
			}
			sock.srv.metrics.frameIn("too_large")
			sock.sendError(salesagent.Errorf(salesagent.ETOOLARGE,
				"Your message is too large to send: with the page and cart it is over %d bytes. Shorten it and send it again.", cfg.MaxFrameBytes), leadingClientID(data), 0)
			continue
		}
		if kind != websocket.TextMessage {
			sock.srv.metrics.frameIn("invalid")
			sock.sendError(salesagent.Errorf(salesagent.EINVALID, "binary frames are not supported; send JSON in text frames"), "", 0)
			continue
		}
		if !sock.handleFrame(data) {
			return
		}
		// The hello deadline ends with a welcome: from then on the socket
		// lives as long as it answers pings, however idle the shopper is.
		if sock.convID != 0 {
			_ = sock.extendReadDeadline()
		}
	}
}

// clientIDPattern matches a "client_id" string member whose value has no
// escapes, as JSON encoders write a UUID.
var clientIDPattern = regexp.MustCompile(`"client_id"\s*:\s*"([!#-\[\]-~]{1,64})"`)

// clientIDSearchBytes is how much of an oversized frame leadingClientID
// searches. Clients write client_id before the text, so it falls within
// the first bytes of a frame made too large by its text or cart.
const clientIDSearchBytes = 512

// leadingClientID returns the client_id found near the start of an
// oversized frame, or "" when there is none. The frame is not decoded,
// because it is too large to handle.
func leadingClientID(data []byte) string {
	head := data[:min(len(data), clientIDSearchBytes)]
	m := clientIDPattern.FindSubmatch(head)
	if m == nil {
		return ""
	}
	return string(m[1])
}

func (sock *socket) extendReadDeadline() error {
	return sock.conn.SetReadDeadline(time.Now().Add(sock.srv.cfg.PongTimeout))
}

// readFailed logs why reading stopped and, where the client can still read,
// sends it an error frame.
func (sock *socket) readFailed(err error) {
	var netErr net.Error
	switch {
	case errors.Is(err, websocket.ErrReadLimit):
		// gorilla/websocket has already sent close code 1009.
		sock.srv.metrics.frameIn("too_large")
		sock.log.Debug("socket closed: frame over the hard limit", "conversation_id", sock.convID)
	case sock.convID == 0 && errors.As(err, &netErr) && netErr.Timeout():
		sock.fail(salesagent.Errorf(salesagent.EINVALID,
			"no hello frame within %s; send hello first", sock.srv.cfg.HelloTimeout), websocket.ClosePolicyViolation)
	case websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway, websocket.CloseNoStatusReceived):
		sock.log.Debug("socket closed by client", "conversation_id", sock.convID)
	default:
		sock.log.Debug("socket read failed", "conversation_id", sock.convID, "error", err)
	}
}

// finish leaves the hub and the server's socket set and stops the writer.
func (sock *socket) finish() {
	if sock.convID != 0 {
		sock.srv.hub.leave(sock)
	}
	sock.srv.removeSocket(sock)
	sock.qmu.Lock()
	if !sock.closed {
		sock.closed = true
		close(sock.done)
	}
	sock.qmu.Unlock()
}

// writeLoop owns every data write: queued frames, pings and the close
// frame. It ends when the socket is done or a write fails, and closes the
// connection, which also ends readLoop.
func (sock *socket) writeLoop() {
	cfg := &sock.srv.cfg
	ping := time.NewTicker(cfg.PingInterval)
	defer func() {
		ping.Stop()
		sock.conn.Close()
	}()

	for {
		select {
		case <-sock.wake:
			if !sock.flush() {
				return
			}
		case <-ping.C:
			deadline := time.Now().Add(cfg.WriteTimeout)
			if err := sock.conn.WriteControl(websocket.PingMessage, nil, deadline); err != nil {
				return
			}
		case <-sock.done:
			sock.flush()
			return
		}
	}
}

// flush writes every queued frame. It reports false when the socket must
// stop: a write failed or a close frame went out.
func (sock *socket) flush() bool {
	cfg := &sock.srv.cfg
	for {
		sock.qmu.Lock()
		if len(sock.queue) == 0 {
			sock.queue = nil // release the backing array while idle
			sock.qmu.Unlock()
			return true
		}
		frame := sock.queue[0]
		sock.queue[0] = outFrame{}
		sock.queue = sock.queue[1:]
		sock.qmu.Unlock()

		deadline := time.Now().Add(cfg.WriteTimeout)
		if frame.closeCode != 0 {
			msg := websocket.FormatCloseMessage(frame.closeCode, frame.closeReason)
			_ = sock.conn.WriteControl(websocket.CloseMessage, msg, deadline)
			// Give the client a moment to reply to the close frame,
			// so that it sees a clean close, then drop the connection.
			select {
			case <-sock.done:
			case <-time.After(closeGrace):
			}
			return false
		}
		data, err := frame.encode()
		if err != nil {
			sock.log.Error("encode frame failed", "conversation_id", sock.convID, "error", err)
			continue
		}
		if err := sock.conn.SetWriteDeadline(deadline); err != nil {
			return false
		}
		if err := sock.conn.WriteMessage(websocket.TextMessage, data); err != nil {
			sock.log.Debug("socket write failed", "error", err)
			return false
		}
	}
}

// send encodes frame and queues it for the writer without waiting for the
// network. When SendQueue frames are already queued, the socket is dropped.
func (sock *socket) send(frameType string, frame any) {
	data, err := json.Marshal(frame)
	if err != nil {
		sock.log.Error("encode frame failed", "frame_type", frameType, "error", err)
		return
	}
	if sock.enqueue(outFrame{data: data}) {
		sock.srv.metrics.frameOut(frameType)
	}
}

// sendDelta queues a delta frame of turn. When the last frame waiting in
// the queue is a delta of the same turn with room left, text is appended
// to it instead. A burst of small deltas then reaches a slow client as a
// few larger frames rather than filling the queue.
func (sock *socket) sendDelta(turn int, text string) {
	sock.qmu.Lock()
	if n := len(sock.queue); n > 0 && !sock.closed {
		last := sock.queue[n-1].delta
		if last != nil && last.turn == turn && len(last.text)+len(text) <= maxMergedDelta {
			last.text = append(last.text, text...)
			sock.qmu.Unlock()
			sock.srv.metrics.deltasMerged.Inc()
			return
		}
	}
	sock.qmu.Unlock()

	delta := &queuedDelta{turn: turn, text: []byte(text)}
	if sock.enqueue(outFrame{delta: delta}) {
		sock.srv.metrics.frameOut(FrameDelta)
	}
}

// enqueue appends frame to the send queue and wakes the writer. It reports
// false when the socket is closed, or is dropped because SendQueue frames
// are already waiting.
func (sock *socket) enqueue(frame outFrame) bool {
	sock.qmu.Lock()
	if sock.closed {
		sock.qmu.Unlock()
		return false
	}
	if len(sock.queue) >= sock.srv.cfg.SendQueue {
		sock.qmu.Unlock()
		sock.srv.metrics.slowDropped.Inc()
		sock.log.Info("dropping slow client", "conversation_id", sock.convID, "queued_frames", sock.srv.cfg.SendQueue)
		// Closing the connection unblocks a writer stuck on the network
		// and ends the reader, which cleans up.
		sock.conn.Close()
		return false
	}
	sock.queue = append(sock.queue, frame)
	sock.qmu.Unlock()

	select {
	case sock.wake <- struct{}{}:
	default:
	}
	return true
}

// sendError queues an error frame for err. Internal errors are logged and
// reach the client as a generic message.
func (sock *socket) sendError(err error, clientID string, turn int) {
	code := salesagent.ErrorCode(err)
	if code == salesagent.EINTERNAL {
		sock.log.Error("web channel request failed", "conversation_id", sock.convID, "error", err)
	}
	sock.srv.metrics.errors.WithLabelValues(code).Inc()
	sock.send(FrameError, ErrorFrame{
		Type:     FrameError,
		Code:     code,
		Message:  salesagent.ErrorMessage(err),
		ClientID: clientID,
		Turn:     turn,
	})
}

// fail sends a fatal error frame followed by a close frame with code.
func (sock *socket) fail(err error, code int) {
	if salesagent.ErrorCode(err) == salesagent.EINTERNAL {
		sock.log.Error("web channel socket failed", "conversation_id", sock.convID, "error", err)
	}
	sock.srv.metrics.errors.WithLabelValues(salesagent.ErrorCode(err)).Inc()
	sock.send(FrameError, ErrorFrame{
		Type:    FrameError,
		Code:    salesagent.ErrorCode(err),
		Message: salesagent.ErrorMessage(err),
		Fatal:   true,
	})
	sock.enqueue(outFrame{closeCode: code, closeReason: salesagent.ErrorCode(err)})
}

// goAway closes the socket with the going-away code, for shutdown. It writes
// the close frame directly so that a full queue cannot delay it.
func (sock *socket) goAway() {
	deadline := time.Now().Add(sock.srv.cfg.WriteTimeout)
	msg := websocket.FormatCloseMessage(websocket.CloseGoingAway, "server shutting down")
	_ = sock.conn.WriteControl(websocket.CloseMessage, msg, deadline)
	sock.conn.Close()
}
