// Package web is the shopper-facing web channel: the WebSocket endpoint the
// chat widget talks to, the widget's script and style sheet, simple shop
// pages that embed the widget, and a Go client of the widget protocol.
//
// docs/widget-protocol.md describes the protocol frame by frame.
package web

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/agent"
	"github.com/salesagent/salesagent/postgres"
)

// TurnRunner runs the agent's turn for a shopper message that the channel
// has already stored. It streams the turn's output to out, stores the
// agent's reply and returns it. *agent.Service implements it.
type TurnRunner interface {
	HandleMessage(ctx context.Context, shop *salesagent.Shop, conv *salesagent.Conversation, msg salesagent.Message, page agent.PageContext, out agent.Emitter) (salesagent.Message, error)
}

// *agent.Service is the TurnRunner the server is wired with.
var _ TurnRunner = (*agent.Service)(nil)

// RateLimit is a token bucket applied to each visitor's messages.
type RateLimit struct {
	// Burst is the number of messages a visitor may send in a row.
	// Defaults to 5.
	Burst int
	// Every is the time in which a visitor earns one more message.
	// Defaults to 2s.
	Every time.Duration
}

// Config sets up a Server. DB and Turns are required; every other field has
// a default.
type Config struct {
	DB    *postgres.DB
	Turns TurnRunner
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Metrics registers the channel's collectors; nil leaves them
	// unregistered.
	Metrics prometheus.Registerer

	// PublicURL is the address shoppers reach this server at, such as
	// https://chat.example.com. Its origin is accepted on /ws besides the
	// request's own host. Optional.
	PublicURL string

	// MaxFrameBytes is the largest client frame handled. A larger frame
	// gets a too_large error and is skipped; a frame over four times the
	// size closes the socket. Defaults to 32 KiB.
	MaxFrameBytes int
	// MaxTextRunes is the longest shopper message in characters. Defaults
	// to 2000.
	MaxTextRunes int
	// RateLimit limits each visitor's messages.
	RateLimit RateLimit
	// SendQueue is the number of frames that may wait for a slow client
	// before the server drops it. Defaults to 128.
	SendQueue int

	// WriteTimeout bounds every write to a socket. Defaults to 10s.
	WriteTimeout time.Duration
	// PingInterval is the time between keepalive pings. Defaults to 25s.
	PingInterval time.Duration
	// PongTimeout is how long a socket may stay silent, pongs included,
	// before it is closed. Defaults to 60s.
	PongTimeout time.Duration
	// HelloTimeout is how long a new socket may take to send hello.
	// Defaults to 10s.
	HelloTimeout time.Duration
	// TurnTimeout bounds one agent turn. Defaults to 2m.
	TurnTimeout time.Duration
}

func (c *Config) setDefaults() {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.MaxFrameBytes <= 0 {
		c.MaxFrameBytes = 32 << 10
	}
	if c.MaxTextRunes <= 0 {
		c.MaxTextRunes = 2000
	}
	if c.RateLimit.Burst <= 0 {
		c.RateLimit.Burst = 5
	}
	if c.RateLimit.Every <= 0 {
		c.RateLimit.Every = 2 * time.Second
	}
	if c.SendQueue <= 0 {
		c.SendQueue = 128
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.PingInterval <= 0 {
		c.PingInterval = 25 * time.Second
	}
	if c.PongTimeout <= 0 {
		c.PongTimeout = 60 * time.Second
	}
	if c.HelloTimeout <= 0 {
		c.HelloTimeout = 10 * time.Second
	}
	if c.TurnTimeout <= 0 {
		c.TurnTimeout = 2 * time.Minute
	}
}

// Server serves the web channel. Build it with New, mount it with Register
// and stop it with Close.
type Server struct {
	cfg       Config
	db        *postgres.DB
	turns     TurnRunner
	log       *slog.Logger
	upgrader  websocket.Upgrader
	metrics   *metrics
	hub       *hub
	limits    *visitorLimits
	templates map[string]*template.Template

	// ctx bounds turns, fan-out reads and the listener. Close cancels it
	// once running turns had their time to finish.
	ctx    context.Context
	cancel context.CancelFunc
	// cutoff is closed when a shutdown nears its deadline, and turns
	// still waiting on a model then reply with the offline agent (see
	// agent.WithBrainCutoff).
	cutoff     chan struct{}
	cutoffOnce sync.Once

	mu      sync.Mutex
	sockets map[*socket]struct{}
	closing bool
	// resuming holds the messages whose resumed turns run, so that a
	// repeated Resume starts no second turn.
	resuming map[resumeKey]struct{}

	// queues holds each conversation's turns waiting to run here.
	qmu    sync.Mutex
	queues map[int64]*turnQueue

	// turnsWG and runningTurns both count turn goroutines: the group to
	// wait on, the counter to read.
	turnsWG      sync.WaitGroup
	runningTurns atomic.Int64
	socketWG     sync.WaitGroup
}

// New builds the web channel and starts its listener for new messages on
// postgres.NotifyChannel. It panics when cfg.DB or cfg.Turns is nil, as
// those are wiring mistakes.
// offlineReplyTime is the part of a shutdown's time left to the turns
// whose model is cut off, for the offline agent's reply. The offline agent
// replies in well under a second.
const offlineReplyTime = 5 * time.Second

func New(cfg Config) *Server {
	if cfg.DB == nil || cfg.Turns == nil {
		panic("web.New: Config.DB and Config.Turns are required")
	}
	cfg.setDefaults()

	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg:       cfg,
		db:        cfg.DB,
		turns:     cfg.Turns,
		log:       cfg.Logger.With("component", "web"),
		metrics:   newMetrics(cfg.Metrics, cfg.Logger),
		limits:    newVisitorLimits(cfg.RateLimit),
		templates: parseTemplates(),
		ctx:       ctx,
		cancel:    cancel,
		cutoff:    make(chan struct{}),
		queues:    map[int64]*turnQueue{},
		sockets:   map[*socket]struct{}{},
	}
	s.upgrader = websocket.Upgrader{
		// Small buffers keep idle sockets cheap: the read buffer stays
		// with the connection, write buffers return to the pool.
		ReadBufferSize:  1024,
		WriteBufferSize: 4096,
		WriteBufferPool: &sync.Pool{},
		// The origin is checked against the shop's allowed origins once
		// the hello frame names the shop.
		CheckOrigin: func(*http.Request) bool { return true },
		Error:       upgradeError,
	}
	s.hub = newHub(s)
	go s.hub.run(ctx)
	return s
}

// Register mounts the channel's routes on mux.
func (s *Server) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /ws", s.handleSocket)
	mux.HandleFunc("GET /widget.js", s.handleAsset)
	mux.HandleFunc("GET /widget.css", s.handleAsset)
	mux.HandleFunc("GET /api/shops/{slug}/widget", s.handleWidgetInfo)
	mux.HandleFunc("GET /shop/{slug}", s.handleShop)
	mux.HandleFunc("GET /shop/{slug}/products/{handle}", s.handleProduct)
	mux.HandleFunc("GET /shop/{slug}/cart/{token}", s.handleCart)
}

// Close stops the channel: it refuses new sockets, closes open ones with
// the going-away code, waits for running turns until ctx ends, then cancels
// whatever still runs and stops the listener. It returns ctx's error when
// turns had to be cancelled.
func (s *Server) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	open := make([]*socket, 0, len(s.sockets))
	for sock := range s.sockets {
		open = append(open, sock)
	}
	s.mu.Unlock()

	for _, sock := range open {
		sock.goAway()
	}

	// Turns still waiting on a model offlineReplyTime before the deadline
	// reply with the offline agent, so they store a reply in time.
	if deadline, ok := ctx.Deadline(); ok {
		cut := time.AfterFunc(time.Until(deadline)-offlineReplyTime, func() {
			s.cutoffOnce.Do(func() { close(s.cutoff) })
		})
		defer cut.Stop()
	}

	// waitGroupCtx may give up on an expired ctx even when the group is
	// already empty, so the counts decide whether anything was cut short.
	var err error
	if !waitGroupCtx(ctx, &s.turnsWG) {
		if n := s.runningTurns.Load(); n > 0 {
			err = fmt.Errorf("close web channel: %d running turn(s) cancelled: %w", n, ctx.Err())
			s.log.WarnContext(ctx, "cancelling running turns at shutdown", "turns", n)
		}
	}
	s.cancel()
	s.hub.wait()
	if !waitGroupCtx(ctx, &s.socketWG) {
		if n := s.openSockets(); n > 0 {
			err = errors.Join(err, fmt.Errorf("close web channel: %d socket(s) still open: %w", n, ctx.Err()))
		}
	}
	s.log.InfoContext(ctx, "web channel closed", "sockets_closed", len(open))
	return err
}

// waitGroupCtx waits for wg until ctx ends and reports whether wg finished.
func waitGroupCtx(ctx context.Context, wg *sync.WaitGroup) bool {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}

// addSocket records an open socket, or reports false when the server is
// closing.
func (s *Server) addSocket(sock *socket) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.sockets[sock] = struct{}{}
	s.socketWG.Add(1)
	s.metrics.open.Inc()
	return true
}

func (s *Server) removeSocket(sock *socket) {
	s.mu.Lock()
	_, ok := s.sockets[sock]
	delete(s.sockets, sock)
	s.mu.Unlock()
	if ok {
		s.metrics.open.Dec()
		s.socketWG.Done()
	}
}

// startTurn counts a turn goroutine, or reports false when the server is
// closing.
func (s *Server) startTurn() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.turnsWG.Add(1)
	s.runningTurns.Add(1)
	return true
}

// turnEnded counts down a turn goroutine counted by startTurn.
func (s *Server) turnEnded() {
	s.runningTurns.Add(-1)
	s.turnsWG.Done()
}

// openSockets returns the number of sockets not yet cleaned up.
func (s *Server) openSockets() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sockets)
}

func upgradeError(w http.ResponseWriter, r *http.Request, status int, reason error) {
	http.Error(w, fmt.Sprintf("%s: connect with a WebSocket client (%v)", http.StatusText(status), reason), status)
}
