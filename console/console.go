// Package console is the backend of the operator console, a JSON API under
// /console/api/. With it a shop's operators sign in and list the
// conversations waiting for a person. They take one over from the agent,
// reply, add internal notes, hand it back and resolve it.
//
// Every request after login is tied to one operator and one shop, and
// every query filters on that shop, so another shop's conversation is
// "not found".
package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/agent"
	"github.com/salesagent/salesagent/postgres"
)

// LoginLimit is a token bucket applied to login attempts per account and
// client IP address. The buckets live in the database, so every server
// process on it shares them.
type LoginLimit struct {
	// Burst is the number of attempts allowed in a row for one account
	// from one address. Defaults to 5.
	Burst int
	// Every is the time in which one more attempt is earned. Defaults to
	// 1 minute.
	Every time.Duration
	// AddressBurst and AddressEvery limit one address across every
	// account, so that trying one password on many accounts is slow too.
	// They default to 30 attempts and one more every 10 seconds.
	AddressBurst int
	AddressEvery time.Duration
}

// Config sets up a Console. DB is required; every other field has a
// default.
type Config struct {
	DB *postgres.DB
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// PublicURL is the address operators reach this server at. When it is
	// https, session cookies are Secure even behind a proxy that ends TLS.
	PublicURL string
	// SessionTTL is how long a session lasts after login. Defaults to 12h.
	SessionTTL time.Duration
	// LoginLimit limits login attempts per account and IP address.
	LoginLimit LoginLimit
	// MaxTextRunes is the longest reply or note in characters. Defaults to
	// 4000.
	MaxTextRunes int
	// Drafter writes suggested replies. Nil turns the draft route off.
	Drafter Drafter
	// Deliverers queue operators' public messages for the shopper on
	// channels that send from jobs, keyed by channel name, as in
	// "whatsapp". The web channel needs none: its sockets read new
	// messages from the database.
	Deliverers map[string]Deliverer
	// Resumers have the agent reply, after a handback, to the shopper
	// message that arrived while an operator held the conversation and got
	// no reply, keyed by channel name. On a channel without one, that
	// message gets no reply and the handback response reports "failed".
	Resumers map[string]Resumer
	// TrustedProxies are the addresses of reverse proxies in front of the
	// server. For a request from one of them, the client address used by
	// the login limit is the last X-Forwarded-For entry that is not a
	// trusted proxy. Without them, X-Forwarded-For is ignored, since
	// anyone can send it.
	TrustedProxies []netip.Prefix
}

// Drafter writes the agent's reply to a conversation's latest shopper
// message without sending or storing it. *agent.Service implements it.
type Drafter interface {
	Draft(ctx context.Context, shop *salesagent.Shop, convID int64) (*agent.Reply, string, error)
}

// Deliverer queues an operator's public message, or a joined or back
// notice, for the shopper on one channel. It runs inside the transaction
// that stores the message, so it must only queue work, never send.
type Deliverer interface {
	QueueDelivery(ctx context.Context, tx pgx.Tx, conv *salesagent.Conversation, msg salesagent.Message) error
}

// Resumer has the agent reply to a shopper message of one channel that
// arrived while an operator held the conversation, once the conversation
// is handed back. The console calls it after the handback is stored,
// outside that transaction, so it should only start or queue the turn and
// return.
type Resumer interface {
	Resume(ctx context.Context, shop *salesagent.Shop, conv *salesagent.Conversation, msg salesagent.Message) error
}

// Console serves the operator console's API. Build it with New and mount
// it with Register.
type Console struct {
	cfg Config
	db  *postgres.DB
	log *slog.Logger

	events    *broker
	closing   chan struct{}
	closeOnce sync.Once
}

// New builds the console. It panics when cfg.DB is nil, as that is a wiring
// mistake.
func New(cfg Config) *Console {
	if cfg.DB == nil {
		panic("console.New: Config.DB is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.LoginLimit.Burst <= 0 {
		cfg.LoginLimit.Burst = 5
	}
	if cfg.LoginLimit.Every <= 0 {
		cfg.LoginLimit.Every = time.Minute
	}
	if cfg.LoginLimit.AddressBurst <= 0 {
		cfg.LoginLimit.AddressBurst = 30
	}
	if cfg.LoginLimit.AddressEvery <= 0 {
		cfg.LoginLimit.AddressEvery = 10 * time.Second
	}
	if cfg.MaxTextRunes <= 0 {
		cfg.MaxTextRunes = 4000
	}
	return &Console{
		cfg:     cfg,
		db:      cfg.DB,
		log:     cfg.Logger.With("component", "console"),
		events:  newBroker(),
		closing: make(chan struct{}),
	}
}

// Close ends the open event streams, which an HTTP server's Shutdown would
// otherwise wait for.
func (c *Console) Close() {
	c.closeOnce.Do(func() { close(c.closing) })
}

// Register mounts the console page at /console/ and its API routes on mux.
func (c *Console) Register(mux *http.ServeMux) {
	mux.Handle("GET /console", http.RedirectHandler("/console/", http.StatusMovedPermanently))
	mux.HandleFunc("GET /console/{$}", c.handlePage)
	mux.HandleFunc("GET /console/console.js", c.handlePage)
	mux.HandleFunc("GET /console/console.css", c.handlePage)
	mux.HandleFunc("POST /console/api/login", c.handleLogin)
	mux.HandleFunc("POST /console/api/logout", c.authed(c.handleLogout))
	mux.HandleFunc("GET /console/api/me", c.authed(c.handleMe))
	mux.HandleFunc("GET /console/api/queue", c.authed(c.handleQueue))
	mux.HandleFunc("GET /console/api/events", c.authed(c.handleEvents))
	mux.HandleFunc("GET /console/api/conversations/{id}", c.authed(c.handleConversation))
	mux.HandleFunc("POST /console/api/conversations/{id}/claim", c.authed(c.handleClaim))
	mux.HandleFunc("POST /console/api/conversations/{id}/reply", c.authed(c.handleReply))
	mux.HandleFunc("POST /console/api/conversations/{id}/note", c.authed(c.handleNote))
	mux.HandleFunc("POST /console/api/conversations/{id}/handback", c.authed(c.handleHandBack))
	mux.HandleFunc("POST /console/api/conversations/{id}/resolve", c.authed(c.handleResolve))
	mux.HandleFunc("POST /console/api/conversations/{id}/draft", c.authed(c.handleDraft))
	mux.HandleFunc("GET /console/api/operators", c.adminOnly(c.handleListOperators))
	mux.HandleFunc("POST /console/api/operators", c.adminOnly(c.handleAddOperator))
	mux.HandleFunc("DELETE /console/api/operators/{id}", c.adminOnly(c.handleDeleteOperator))
	mux.HandleFunc("/console/api/", func(w http.ResponseWriter, r *http.Request) {
		c.writeError(w, r, salesagent.Errorf(salesagent.ENOTFOUND, "no console API at %s %s: see the README's Operators section for the routes", r.Method, r.URL.Path))
	})
}

// deliver queues msg on the conversation's channel, if that channel has a
// Deliverer.
func (c *Console) deliver(ctx context.Context, tx pgx.Tx, conv *salesagent.Conversation, msg salesagent.Message) error {
	d, ok := c.cfg.Deliverers[conv.Channel]
	if !ok {
		return nil
	}
	if err := d.QueueDelivery(ctx, tx, conv, msg); err != nil {
		return fmt.Errorf("queue delivery on %s: %w", conv.Channel, err)
	}
	return nil
}

// errorBody is the JSON of every error response.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// writeError sends err as a JSON error with the status of its code.
// Internal errors are logged and shown with a generic message.
func (c *Console) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := salesagent.ErrorCode(err)
	if code == salesagent.EINTERNAL {
		c.log.ErrorContext(r.Context(), "console request failed", "method", r.Method, "path", r.URL.Path, "error", err)
	}
	var body errorBody
	body.Error.Code = code
	body.Error.Message = salesagent.ErrorMessage(err)
	writeJSON(w, salesagent.HTTPStatus(code), body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// maxBodyBytes bounds every request body.
const maxBodyBytes = 64 << 10

// decodeBody reads a JSON request body into v.
func decodeBody(r *http.Request, v any) error {
	mediaType, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";")
	if strings.TrimSpace(strings.ToLower(mediaType)) != "application/json" {
		return salesagent.Errorf(salesagent.EINVALID, "invalid Content-Type %q: send the body as application/json", r.Header.Get("Content-Type"))
	}
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooLarge *http.MaxBytesError
		var wrongType *json.UnmarshalTypeError
		switch {
		case errors.As(err, &tooLarge):
			return salesagent.Errorf(salesagent.ETOOLARGE, "request body is over %d bytes: send a shorter text", maxBodyBytes)
		case errors.As(err, &wrongType):
			return &salesagent.Error{Code: salesagent.EINVALID, Err: err,
				Message: fmt.Sprintf("invalid JSON body: field %q cannot be a JSON %s; send a %s", wrongType.Field, wrongType.Value, jsonKind(wrongType.Type.Kind().String()))}
		}
		return &salesagent.Error{Code: salesagent.EINVALID, Message: "invalid JSON body: " + strings.TrimPrefix(err.Error(), "json: "), Err: err}
	}
	if _, err := dec.Token(); err != io.EOF {
		return salesagent.Errorf(salesagent.EINVALID, "invalid JSON body: unexpected data after the first JSON object; send one object")
	}
	return nil
}

// jsonKind names a Go kind as the JSON type that decodes into it.
func jsonKind(kind string) string {
	switch kind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "slice", "array":
		return "array"
	case "struct", "map":
		return "object"
	}
	return "number"
}
