package console

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/postgres"
)

// Headers of a handoff notification.
const (
	// SignatureHeader carries "sha256=" and the hex HMAC-SHA256, keyed with
	// the shop's secret, of the timestamp header's value, a period, and the
	// raw body.
	SignatureHeader = "X-Salesagent-Signature"
	// TimestampHeader is the Unix time of the attempt in seconds. A
	// receiver should refuse one more than a few minutes old.
	TimestampHeader = "X-Salesagent-Timestamp"
	// DeliveryHeader is the same on every attempt of one notification, so a
	// receiver can drop repeats.
	DeliveryHeader = "X-Salesagent-Delivery"
	// EventHeader names the event, as in the body's type.
	EventHeader = "X-Salesagent-Event"
)

// EventEscalated is the type of the notification sent when a conversation
// enters the operators' queue.
const EventEscalated = "conversation.escalated"

// NotifyQueue is the River queue of handoff notifications.
const NotifyQueue = "notifications"

// HandoffArgs are the arguments of the job that posts one handoff
// notification.
type HandoffArgs struct {
	ShopID         int64     `json:"shop_id"`
	ConversationID int64     `json:"conversation_id"`
	Reason         string    `json:"reason"`
	Summary        string    `json:"summary"`
	EscalatedAt    time.Time `json:"escalated_at"`
}

// Kind names the job in River's table.
func (HandoffArgs) Kind() string { return "handoff_notification" }

// InsertOpts puts the job in NotifyQueue.
func (HandoffArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: NotifyQueue, MaxAttempts: 12}
}

// JobInserter queues River jobs in a transaction. *river.Client[pgx.Tx]
// implements it.
type JobInserter interface {
	InsertTx(ctx context.Context, tx pgx.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

// NotifierConfig sets up a Notifier. DB is required.
type NotifierConfig struct {
	DB *postgres.DB
	// Client sends the requests. Defaults to a client with a 10-second
	// timeout that refuses link-local addresses (see CheckWebhookURL).
	Client *http.Client
	// PublicURL is the server's address as operators reach it, for the
	// link to the conversation in the console.
	PublicURL string
	Logger    *slog.Logger
	// RetryBase is the wait after the first failed attempt, doubled on each
	// later one up to RetryMax. Defaults to 10 seconds and 1 hour.
	RetryBase, RetryMax time.Duration
}

// Notifier posts a signed JSON notification to a shop's handoff webhook
// each time a conversation starts waiting for a person, from a River job
// that retries with back-off until the receiver responds with 2xx.
type Notifier struct {
	cfg NotifierConfig
	log *slog.Logger
}

// NewNotifier builds the notifier. It panics when cfg.DB is nil.
func NewNotifier(cfg NotifierConfig) *Notifier {
	if cfg.DB == nil {
		panic("console.NewNotifier: NotifierConfig.DB is required")
	}
	if cfg.Client == nil {
		cfg.Client = newWebhookClient()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = 10 * time.Second
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = time.Hour
	}
	return &Notifier{cfg: cfg, log: cfg.Logger.With("component", "handoff_webhook")}
}

// Queues returns the River queue the notifier's worker needs.
func (n *Notifier) Queues() map[string]river.QueueConfig {
	return map[string]river.QueueConfig{NotifyQueue: {MaxWorkers: 4}}
}

// AddWorkers registers the notification worker.
func (n *Notifier) AddWorkers(workers *river.Workers) error {
	if err := river.AddWorkerSafely(workers, &notifyWorker{n: n}); err != nil {
		return fmt.Errorf("register handoff notification worker: %w", err)
	}
	return nil
}

// OnEscalate returns the hook for postgres.DB.OnEscalate: it queues a
// notification with jobs in the escalation's transaction when the shop has
// a handoff webhook.
func (n *Notifier) OnEscalate(jobs JobInserter) func(context.Context, pgx.Tx, postgres.Escalation) error {
	return func(ctx context.Context, tx pgx.Tx, e postgres.Escalation) error {
		var configured bool
		err := tx.QueryRow(ctx, `SELECT coalesce(settings->'handoff_webhook'->>'url', '') <> '' FROM shops WHERE id = $1`, e.ShopID).Scan(&configured)
		if err != nil {
			return fmt.Errorf("look up handoff webhook of shop %d: %w", e.ShopID, err)
		}
		if !configured {
			return nil
		}
		args := HandoffArgs{ShopID: e.ShopID, ConversationID: e.ConversationID, Reason: e.Reason, Summary: e.Summary, EscalatedAt: time.Now().UTC()}
		if _, err := jobs.InsertTx(ctx, tx, args, nil); err != nil {
			return fmt.Errorf("queue handoff notification: %w", err)
		}
		return nil
	}
}

// handoffPayload is the JSON body of a notification. Text makes it a valid
// Slack incoming webhook message without changes.
type handoffPayload struct {
	Type         string           `json:"type"`
	Delivery     string           `json:"delivery"`
	Text         string           `json:"text"`
	Shop         shopSummary      `json:"shop"`
	Conversation conversationLink `json:"conversation"`
	Reason       string           `json:"reason"`
	Summary      string           `json:"summary,omitempty"`
	EscalatedAt  time.Time        `json:"escalated_at"`
}

type conversationLink struct {
	ID      int64  `json:"id"`
	Channel string `json:"channel"`
	URL     string `json:"url"`
}

type notifyWorker struct {
	river.WorkerDefaults[HandoffArgs]
	n *Notifier
}

// NextRetry doubles the wait from RetryBase on each attempt, up to
// RetryMax, with up to 20% jitter either way.
func (w *notifyWorker) NextRetry(job *river.Job[HandoffArgs]) time.Time {
	delay := w.n.cfg.RetryBase
	for i := 1; i < job.Attempt && delay < w.n.cfg.RetryMax; i++ {
		delay *= 2
	}
	delay = min(delay, w.n.cfg.RetryMax)
	return time.Now().Add(time.Duration(float64(delay) * (0.8 + 0.4*rand.Float64())))
}

// Work posts the notification. A 2xx response ends the job. A 4xx other
// than 408 and 429 cancels it, because the same request would get the same
// response again. Anything else is retried.
func (w *notifyWorker) Work(ctx context.Context, job *river.Job[HandoffArgs]) error {
	n, args := w.n, job.Args
	shop, err := n.cfg.DB.ShopByID(ctx, args.ShopID)
	if salesagent.ErrorCode(err) == salesagent.ENOTFOUND {
		return river.JobCancel(fmt.Errorf("shop %d no longer exists", args.ShopID))
	}
	if err != nil {
		return err
	}
	hook := shop.Settings.HandoffWebhook
	if hook == nil || hook.URL == "" {
		n.log.InfoContext(ctx, "handoff webhook removed before sending; notification dropped", "shop_id", shop.ID, "conversation_id", args.ConversationID)
		return nil
	}
	conv, err := n.cfg.DB.ConversationByID(ctx, shop.ID, args.ConversationID)
	if salesagent.ErrorCode(err) == salesagent.ENOTFOUND {
		return river.JobCancel(fmt.Errorf("conversation %d no longer exists", args.ConversationID))
	}
	if err != nil {
		return err
	}

	delivery := strconv.FormatInt(job.ID, 10)
	body, err := json.Marshal(n.payload(shop, conv, args, delivery))
	if err != nil {
		return fmt.Errorf("encode notification: %w", err)
	}
	status, err := n.post(ctx, hook, delivery, body)
	logger := n.log.With("shop_id", shop.ID, "conversation_id", conv.ID, "delivery", delivery, "attempt", job.Attempt)
	switch {
	case err != nil:
		logger.WarnContext(ctx, "handoff webhook failed; will retry", "error", err)
		return err
	case status >= 200 && status < 300:
		logger.InfoContext(ctx, "handoff webhook delivered", "status", status)
		return nil
	case status >= 400 && status < 500 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests:
		logger.WarnContext(ctx, "handoff webhook rejected the notification; giving up", "status", status)
		return river.JobCancel(fmt.Errorf("handoff webhook responded with status %d: check the URL and what the receiver expects", status))
	default:
		logger.WarnContext(ctx, "handoff webhook responded with an error; will retry", "status", status)
		return fmt.Errorf("handoff webhook responded with status %d", status)
	}
}

func (n *Notifier) payload(shop *salesagent.Shop, conv *salesagent.Conversation, args HandoffArgs, delivery string) handoffPayload {
	url := strings.TrimRight(n.cfg.PublicURL, "/") + "/console/?shop=" + shop.Slug + "#conversation/" + strconv.FormatInt(conv.ID, 10)
	reason := args.Reason
	if reason == "" {
		reason = "the shopper asked for a person"
	}
	return handoffPayload{
		Type: EventEscalated, Delivery: delivery,
		Text:         fmt.Sprintf("%s: a shopper on %s is waiting for a person (%s). Open the conversation: %s", shop.Name, conv.Channel, reason, url),
		Shop:         shopSummary{Slug: shop.Slug, Name: shop.Name},
		Conversation: conversationLink{ID: conv.ID, Channel: conv.Channel, URL: url},
		Reason:       args.Reason, Summary: args.Summary, EscalatedAt: args.EscalatedAt,
	}
}

// post sends one attempt and returns the response status.
func (n *Notifier) post(ctx context.Context, hook *salesagent.HandoffWebhookSettings, delivery string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hook.URL, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("build request to handoff webhook: %w", err)
	}
	timestamp := strconv.FormatInt(time.Now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "salesagent-handoff-webhook")
	req.Header.Set(EventHeader, EventEscalated)
	req.Header.Set(DeliveryHeader, delivery)
	req.Header.Set(TimestampHeader, timestamp)
	if hook.Secret != "" {
		req.Header.Set(SignatureHeader, Sign(hook.Secret, timestamp, body))
	}
	resp, err := n.cfg.Client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("post to handoff webhook: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode, nil
}

// Sign returns the SignatureHeader value for body sent at timestamp, as a
// receiver computes it to check a notification.
func Sign(secret, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(timestamp))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}
