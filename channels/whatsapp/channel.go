// Package whatsapp is the WhatsApp channel on Meta's Cloud API. Each shop
// gets a webhook at /webhooks/whatsapp/{shop}. The webhook checks Meta's
// signature and that the body is JSON, queues the raw body in one River
// job, and responds with 200 without further database work. That inbound
// job stores each message once and queues a job for the agent's turn, in
// one transaction. The turn job runs the same agent as the web
// channel, turns its Markdown reply into WhatsApp messages, and queues one
// send job per message. Send jobs respect the 24-hour customer service
// window, the number's throughput and the shopper's opt-out. They retry
// transient errors, and a retry sends nothing once Meta's message id is
// recorded for the message.
//
// NOTE: when a request times out after Meta accepted it, the retry sends
// the message again unless the "sent" status webhook, which carries the
// message's row id in biz_opaque_callback_data, arrived first.
package whatsapp

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/agent"
	"github.com/salesagent/salesagent/postgres"
)

// TurnRunner runs the agent's turn for a shopper message that the channel
// has already stored. It streams the turn's output to out, stores the
// agent's reply and returns it. A zero Message means no reply, as while an
// operator holds the conversation. *agent.Service implements it.
type TurnRunner interface {
	HandleMessage(ctx context.Context, shop *salesagent.Shop, conv *salesagent.Conversation, msg salesagent.Message, page agent.PageContext, out agent.Emitter) (salesagent.Message, error)
}

var _ TurnRunner = (*agent.Service)(nil)

// JobInserter queues River jobs in a transaction. *river.Client[pgx.Tx]
// implements it.
type JobInserter interface {
	InsertTx(ctx context.Context, tx pgx.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

var _ JobInserter = (*river.Client[pgx.Tx])(nil)

// River queues of the channel's jobs. The River client that works them
// must list all three in Config.Queues, as Queues returns them.
const (
	QueueInbound = "whatsapp_inbound"
	QueueTurns   = "whatsapp_turns"
	QueueSends   = "whatsapp_sends"
)

// inboundWorkers is how many webhook bodies are stored at once, each in a
// short transaction on its own database connection.
const inboundWorkers = 8

// inboundFetchCooldown is the shortest time between two fetches of inbound
// jobs. River's default of 100ms lets a queue start at most MaxWorkers
// jobs per 100ms, 80 a second here, fewer than a busy number's webhooks.
const inboundFetchCooldown = 10 * time.Millisecond

// Queues returns the channel's River queues: inbound stores up to 8
// webhook bodies at once, turns runs up to turnWorkers agent turns at
// once, sends up to sendWorkers sends. Values below 1 mean 4 turns and 16
// sends. Inbound has a queue of its own, so the messages that arrive do
// not wait behind slow turns to be stored.
func Queues(turnWorkers, sendWorkers int) map[string]river.QueueConfig {
	if turnWorkers < 1 {
		turnWorkers = 4
	}
	if sendWorkers < 1 {
		sendWorkers = 16
	}
	return map[string]river.QueueConfig{
		QueueInbound: {MaxWorkers: inboundWorkers, FetchCooldown: inboundFetchCooldown},
		QueueTurns:   {MaxWorkers: turnWorkers},
		QueueSends:   {MaxWorkers: sendWorkers},
	}
}

// Config sets up a Channel. DB, Turns and Client are required; every other
// field has a default.
type Config struct {
	DB     *postgres.DB
	Turns  TurnRunner
	Client *Client
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// PublicURL is the address shoppers reach this server at, such as
	// https://chat.example.com. It makes relative links in replies, as to
	// a saved cart, absolute. Optional.
	PublicURL string

	// MaxBodyBytes caps a webhook body. Defaults to 1 MiB.
	MaxBodyBytes int64
	// WebhookTimeout bounds the database work of one webhook: queuing its
	// body, and the inbound job that stores it. Defaults to 10s.
	WebhookTimeout time.Duration
	// TurnTimeout bounds one agent turn. Defaults to 2m.
	TurnTimeout time.Duration
	// TurnAttempts is how many times a failed turn runs before the shopper
	// gets an apology. Defaults to 4.
	TurnAttempts int
	// StaleTurnAfter is the age after which a message still waiting for
	// its turn stops holding back the conversation's later messages.
	// Defaults to 1h.
	StaleTurnAfter time.Duration

	// SendAttempts is how many times a send that failed with a network
	// error or a 5xx response is tried before it is recorded as failed.
	// Defaults to 20, which spans about two hours with the default
	// back-off.
	SendAttempts int
	// RetryBase is the first retry delay of a failed send, doubled on each
	// attempt up to RetryMax, with up to 20% jitter. Defaults to 2s.
	RetryBase time.Duration
	// RetryMax caps a retry delay. Defaults to 10m.
	RetryMax time.Duration
	// ThrottleWait is how long a send waits after Meta reported too many
	// messages. Defaults to 5s.
	ThrottleWait time.Duration
	// OrderWait is how long a job waits before it looks again whether an
	// earlier message of its conversation is done. Defaults to 1s.
	OrderWait time.Duration
	// Now returns the current time. Defaults to time.Now.
	Now func() time.Time
}

func (c *Config) setDefaults() {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}

	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 1 << 20
	}
	if c.WebhookTimeout <= 0 {
		c.WebhookTimeout = 10 * time.Second
	}
	if c.TurnTimeout <= 0 {
		c.TurnTimeout = 2 * time.Minute
	}
	if c.TurnAttempts <= 0 {
		c.TurnAttempts = 4
	}
	if c.StaleTurnAfter <= 0 {
		c.StaleTurnAfter = time.Hour
	}

	if c.SendAttempts <= 0 {
		c.SendAttempts = 20
	}
	if c.RetryBase <= 0 {
		c.RetryBase = 2 * time.Second
	}
	if c.RetryMax <= 0 {
		c.RetryMax = 10 * time.Minute
	}
	if c.ThrottleWait <= 0 {
		c.ThrottleWait = 5 * time.Second
	}
	if c.OrderWait <= 0 {
		c.OrderWait = time.Second
	}

	if c.Now == nil {
		c.Now = time.Now
	}
}

// Channel is the WhatsApp channel. Build it with New, register its River
// workers with AddWorkers, then mount its webhook with Register.
type Channel struct {
	cfg      Config
	db       *postgres.DB
	log      *slog.Logger
	limiters *limiters
	// unrecorded holds wamids of sent messages whose rows could not be
	// updated, for the job's next attempt.
	unrecorded wamidCache
}

// New builds the channel. It panics when cfg.DB, cfg.Turns or cfg.Client
// is nil, as those are wiring mistakes.
func New(cfg Config) *Channel {
	if cfg.DB == nil || cfg.Turns == nil || cfg.Client == nil {
		panic("whatsapp.New: Config.DB, Config.Turns and Config.Client are required")
	}
	cfg.setDefaults()
	return &Channel{
		cfg:      cfg,
		db:       cfg.DB,
		log:      cfg.Logger.With("component", "whatsapp"),
		limiters: newLimiters(),
	}
}

// AddWorkers registers the channel's inbound, turn and send workers. The
// River client built with workers must run the queues that Queues
// returns.
func (c *Channel) AddWorkers(workers *river.Workers) error {
	if err := river.AddWorkerSafely(workers, &inboundWorker{ch: c}); err != nil {
		return fmt.Errorf("register whatsapp inbound worker: %w", err)
	}
	if err := river.AddWorkerSafely(workers, &turnWorker{ch: c}); err != nil {
		return fmt.Errorf("register whatsapp turn worker: %w", err)
	}
	if err := river.AddWorkerSafely(workers, &sendWorker{ch: c}); err != nil {
		return fmt.Errorf("register whatsapp send worker: %w", err)
	}
	return nil
}

// Register mounts the webhook on mux. jobs queues the inbound job of each
// notification.
func (c *Channel) Register(mux *http.ServeMux, jobs JobInserter) {
	h := &webhook{ch: c, jobs: jobs}
	mux.HandleFunc("GET /webhooks/whatsapp/{shop}", h.verify)
	mux.HandleFunc("POST /webhooks/whatsapp/{shop}", h.receive)
}

// InboundArgs are the arguments of the job that stores one webhook
// notification. The job row is the notification's durable record from the
// moment Meta gets its 200.
type InboundArgs struct {
	ShopID int64 `json:"shop_id"`
	// Body is the raw body whose signature the webhook checked, as text:
	// JSON escapes such as \u0000 that a jsonb value cannot hold stay as
	// they came.
	Body string `json:"body"`
	// ReceivedAt is when the webhook accepted the body. It replaces
	// missing or future timestamps in the body.
	ReceivedAt time.Time `json:"received_at"`
}

// Kind returns "whatsapp_inbound", the job kind River stores.
func (InboundArgs) Kind() string { return "whatsapp_inbound" }

// InsertOpts puts the job on QueueInbound. Redeliveries of a body are not
// made unique here: storing a notification skips the wamids it has, so a
// second job for the same body stores nothing new.
func (InboundArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueInbound}
}

// TurnArgs are the arguments of the job that runs the agent's turn for one
// inbound message.
type TurnArgs struct {
	ShopID    int64 `json:"shop_id"`
	InboundID int64 `json:"inbound_id" river:"unique"`
	// Resumed marks the second turn of a message that arrived while an
	// operator held the conversation, queued when it is handed back. It
	// is part of the unique key, so the completed first job does not
	// block it. Left out of the JSON when false, it leaves the key of
	// every other turn job as it was.
	Resumed bool `json:"resumed,omitempty" river:"unique"`
}

// Kind returns "whatsapp_turn", the job kind River stores.
func (TurnArgs) Kind() string { return "whatsapp_turn" }

// InsertOpts puts the job on QueueTurns, once per inbound message and
// once more per resume.
func (TurnArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueTurns, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// SendArgs are the arguments of the job that sends one stored outbound
// message.
type SendArgs struct {
	ShopID     int64 `json:"shop_id"`
	OutboundID int64 `json:"outbound_id" river:"unique"`
}

// Kind returns "whatsapp_send", the job kind River stores.
func (SendArgs) Kind() string { return "whatsapp_send" }

// InsertOpts puts the job on QueueSends, once per outbound message.
func (SendArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueSends, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// settings returns the shop's WhatsApp settings, or an error naming what
// to set when they are missing or incomplete.
func settings(shop *salesagent.Shop) (*salesagent.WhatsAppSettings, error) {
	s := shop.Settings.WhatsApp
	if s == nil {
		return nil, salesagent.Errorf(salesagent.ENOTFOUND, "shop %q has no WhatsApp settings; set them with the salesagent shop command", shop.Slug)
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("shop %q: %w", shop.Slug, err)
	}
	return s, nil
}

// maskWAID hides all but the last four digits of a WhatsApp id, for logs.
func maskWAID(waID string) string {
	if len(waID) <= 4 {
		return "****"
	}
	return "****" + waID[len(waID)-4:]
}
