package whatsapp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/postgres"
)

// serviceWindow is how long after a shopper's last message WhatsApp
// delivers free-form messages. After it, only approved templates go out.
const serviceWindow = 24 * time.Hour

// sendTimeout bounds one send job: the wait for the number's throughput
// and the request.
const sendTimeout = 2 * time.Minute

// sendWorker sends one stored outbound message.
type sendWorker struct {
	river.WorkerDefaults[SendArgs]
	ch *Channel
}

// Timeout allows a send sendTimeout.
func (w *sendWorker) Timeout(*river.Job[SendArgs]) time.Duration { return sendTimeout }

// NextRetry doubles the delay from RetryBase on each attempt, up to
// RetryMax, with up to 20% jitter either way.
func (w *sendWorker) NextRetry(job *river.Job[SendArgs]) time.Time {
	return w.ch.cfg.Now().Add(backoff(w.ch.cfg.RetryBase, w.ch.cfg.RetryMax, job.Attempt))
}

func backoff(base, limit time.Duration, attempt int) time.Duration {
	delay := base
	for i := 1; i < attempt && delay < limit; i++ {
		delay *= 2
	}
	return jitter(min(delay, limit))
}

func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// Work sends the message unless it went out already, in order after the
// conversation's earlier messages, within the number's throughput. A
// free-form message outside the customer service window is not sent, and
// the shop's template goes out in its place.
func (w *sendWorker) Work(ctx context.Context, job *river.Job[SendArgs]) error {
	c := w.ch
	args := job.Args
	jobs, err := river.ClientFromContextSafely[pgx.Tx](ctx)
	if err != nil {
		return fmt.Errorf("whatsapp send job runs outside a River client: %w", err)
	}
	row, err := loadOutbound(ctx, c.db.Pool, args.ShopID, args.OutboundID)
	if salesagent.ErrorCode(err) == salesagent.ENOTFOUND {
		return nil
	}
	if err != nil {
		return err
	}
	if wamid, ok := c.unrecorded.take(row.ID); ok {
		// An earlier attempt sent the message but could not store its id.
		return c.recordSent(ctx, args.ShopID, row, wamid)
	}
	if row.settled() {
		return nil
	}
	waiting, err := earlierUnsent(ctx, c.db.Pool, row.ConversationID, row.ID, 3*c.cfg.RetryMax)
	if err != nil {
		return err
	}
	if waiting {
		return river.JobSnooze(c.cfg.OrderWait)
	}

	shop, err := c.db.ShopByID(ctx, args.ShopID)
	if salesagent.ErrorCode(err) == salesagent.ENOTFOUND {
		return nil
	}
	if err != nil {
		return err
	}
	s, err := settings(shop)
	if err != nil {
		c.log.ErrorContext(ctx, "whatsapp message not sent: the shop's settings are incomplete", "shop_id", shop.ID, "outbound_id", row.ID, "error", err)
		return c.fail(ctx, shop.ID, row, failure{Code: codeNotConfigured, Title: "WhatsApp is not set up for the shop", Detail: err.Error()}, "")
	}
	if ok, err := c.mayDeliver(ctx, jobs, shop, s, row); !ok || err != nil {
		return err
	}
	return c.send(ctx, jobs, job, shop, s, row)
}

// mayDeliver reports whether WhatsApp may take the message now. A
// free-form message outside the window is failed with the template queued
// in its place, and a template to a shopper who sent STOP is failed.
func (c *Channel) mayDeliver(ctx context.Context, jobs JobInserter, shop *salesagent.Shop, s *salesagent.WhatsAppSettings, row *outboundRow) (bool, error) {
	if row.Kind == outTemplate {
		customer, err := c.customer(ctx, shop.ID, row.CustomerID)
		if err != nil {
			return false, err
		}
		if optedOut(customer) {
			c.log.InfoContext(ctx, "whatsapp template not sent: the shopper opted out", "shop_id", shop.ID, "outbound_id", row.ID)
			return false, c.fail(ctx, shop.ID, row, failure{Code: codeOptedOut, Title: "the shopper opted out of proactive messages"}, "")
		}
		return true, nil
	}

	last, ok, err := lastInboundAt(ctx, c.db.Pool, shop.ID, row.WAID)
	if err != nil {
		return false, err
	}
	if ok && c.cfg.Now().Sub(last) < serviceWindow {
		return true, nil
	}
	return false, c.windowClosed(ctx, jobs, shop, s, row, failure{Code: codeOutsideWindow, Title: "outside the 24-hour customer service window"})
}

// send posts the message and records the outcome. Throttling waits and
// tries again without using up an attempt. Network errors and 5xx
// responses are retried until the last attempt, then recorded as failed.
func (c *Channel) send(ctx context.Context, jobs JobInserter, job *river.Job[SendArgs], shop *salesagent.Shop, s *salesagent.WhatsAppSettings, row *outboundRow) error {
	logger := c.log.With("shop_id", shop.ID, "conversation_id", row.ConversationID, "outbound_id", row.ID, "kind", row.Kind)
	if err := c.limiters.wait(ctx, s.PhoneNumberID, s.MessagesPerSecond); err != nil {
		return fmt.Errorf("wait for whatsapp throughput of %s: %w", Sender{PhoneNumberID: s.PhoneNumberID}, err)
	}
	if ok, err := markSending(ctx, c.db.Pool, row.ID); !ok || err != nil {
		return err
	}

	msg := *row.Payload
	msg.BizOpaqueCallbackData = tracker(row.ID)
	result, err := c.cfg.Client.Send(ctx, Sender{PhoneNumberID: s.PhoneNumberID, AccessToken: s.AccessToken}, &msg)
	if err == nil {
		logger.InfoContext(ctx, "whatsapp message sent", "attempt", job.Attempt)
		// The message is out, so recording it must not be cut short by
		// the job's deadline.
		recordCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finalWorkTimeout)
		defer cancel()
		return c.recordSent(recordCtx, shop.ID, row, result.MessageID())
	}

	f := failureOf(err)
	switch classify(err) {
	case outcomeThrottle:
		wait := jitter(c.cfg.ThrottleWait)
		logger.WarnContext(ctx, "whatsapp throughput exceeded; sending later", "error_code", f.Code, "wait_ms", wait.Milliseconds())
		return river.JobSnooze(wait)
	case outcomeRetry:
		if job.Attempt < job.MaxAttempts {
			logger.WarnContext(ctx, "whatsapp send failed; retrying", "attempt", job.Attempt, "error", err)
			return err
		}
		logger.ErrorContext(ctx, "whatsapp send failed on the last attempt", "attempt", job.Attempt, "error", err)
		if f.Code == 0 {
			f.Code = codeRetriesExhausted
		}
		return c.fail(ctx, shop.ID, row, f, fmt.Sprintf("It failed on all %d attempts.", job.Attempt))
	case outcomeWindowClosed:
		return c.windowClosed(ctx, jobs, shop, s, row, f)
	case outcomeOptedOut:
		if row.CustomerID != nil {
			if err := c.recordConsent(ctx, c.db.Pool, shop.ID, row.ConversationID, *row.CustomerID, intentOptOut, ""); err != nil {
				return err
			}
		}
	}
	logger.WarnContext(ctx, "whatsapp message rejected", "error_code", f.Code, "error", err)
	return c.fail(ctx, shop.ID, row, f, "")
}

// recordSent stores the wamid of a sent message, with an event for a
// template. When the database fails, the wamid is kept in memory, so the
// job's retry in this process records it instead of sending again.
func (c *Channel) recordSent(ctx context.Context, shopID int64, row *outboundRow, wamid string) error {
	err := c.db.InTx(ctx, func(tx pgx.Tx) error {
		if err := recordSent(ctx, tx, row.ID, wamid); err != nil {
			return err
		}
		if row.Kind != outTemplate {
			return nil
		}
		data, _ := json.Marshal(map[string]any{"outbound_id": row.ID, "template": row.Payload.Template.Name, "wamid": wamid})
		return postgres.InsertEvents(ctx, tx, shopID, row.CustomerID, []salesagent.Event{{
			ShopID: shopID, ConversationID: &row.ConversationID, Type: EventTemplateSent, Data: data,
		}})
	})
	if err != nil {
		c.unrecorded.put(row.ID, wamid)
		return fmt.Errorf("whatsapp message %d was sent, but recording it failed: %w", row.ID, err)
	}
	return nil
}

// windowClosed fails the unsent free-form messages of a reply that can no
// longer be delivered, and queues the shop's template in their place,
// unless the shop has none or the shopper sent STOP. One system message
// records the outcome.
func (c *Channel) windowClosed(ctx context.Context, jobs JobInserter, shop *salesagent.Shop, s *salesagent.WhatsAppSettings, row *outboundRow, f failure) error {
	customer, err := c.customer(ctx, shop.ID, row.CustomerID)
	if err != nil {
		return err
	}
	var note string
	var template *Message
	switch {
	case s.Template == nil:
		note = failureHint(codeNoTemplate)
	case optedOut(customer):
		note = "No template was sent in its place, because the shopper sent STOP."
	default:
		template = templateMessage(row.WAID, s.Template, customer, shop)
		note = fmt.Sprintf("The template %q was sent in its place, inviting the shopper to write again.", s.Template.Name)
	}

	err = c.db.InTx(ctx, func(tx pgx.Tx) error {
		if row.MessageID != nil {
			if err := failUnsentOfMessage(ctx, tx, shop.ID, *row.MessageID, f); err != nil {
				return err
			}
		} else if _, err := markFailed(ctx, tx, row.ID, f); err != nil {
			return err
		}
		if err := c.recordFailure(ctx, tx, shop.ID, row, f, note); err != nil {
			return err
		}
		if template == nil {
			return nil
		}
		key := "template:" + row.Key
		if row.MessageID != nil {
			key = fmt.Sprintf("template:%d", *row.MessageID)
		}
		return c.queueOutbound(ctx, tx, jobs, &outboundRow{
			ShopID: shop.ID, ConversationID: row.ConversationID, CustomerID: row.CustomerID, MessageID: row.MessageID,
			Key: key, WAID: row.WAID, Kind: outTemplate, Payload: template,
		})
	})
	if err != nil {
		return fmt.Errorf("handle closed window for whatsapp message %d: %w", row.ID, err)
	}
	c.log.WarnContext(ctx, "whatsapp reply outside the customer service window", "shop_id", shop.ID,
		"conversation_id", row.ConversationID, "outbound_id", row.ID, "template_queued", template != nil)
	return nil
}

// fail marks an unsent message failed and records the failure in its
// conversation, once.
func (c *Channel) fail(ctx context.Context, shopID int64, row *outboundRow, f failure, note string) error {
	return c.db.InTx(ctx, func(tx pgx.Tx) error {
		failed, err := markFailed(ctx, tx, row.ID, f)
		if err != nil || failed == nil {
			return err
		}
		return c.recordFailure(ctx, tx, shopID, failed, f, note)
	})
}

// customer returns the customer with the id, or nil for a nil id or a
// deleted customer.
func (c *Channel) customer(ctx context.Context, shopID int64, id *int64) (*salesagent.Customer, error) {
	if id == nil {
		return nil, nil
	}
	customer, err := c.db.CustomerByID(ctx, shopID, *id)
	if salesagent.ErrorCode(err) == salesagent.ENOTFOUND {
		return nil, nil
	}
	return customer, err
}

func optedOut(customer *salesagent.Customer) bool {
	return customer != nil && customer.Profile.Consent != nil && customer.Profile.Consent.OptedOut
}

// templateMessage fills the shop's template for the shopper.
func templateMessage(to string, t *salesagent.WhatsAppTemplate, customer *salesagent.Customer, shop *salesagent.Shop) *Message {
	name := ""
	if customer != nil {
		name = customer.Name
	}
	if name == "" {
		name = "there"
	}
	fill := strings.NewReplacer("{customer_name}", name, "{shop_name}", shop.Name)
	template := Template{Name: t.Name, Language: TemplateLanguage{Code: t.Language}}
	if len(t.BodyParameters) > 0 {
		body := TemplateComponent{Type: "body"}
		for _, p := range t.BodyParameters {
			body.Parameters = append(body.Parameters, TemplateParameter{Type: "text", Text: fill.Replace(p)})
		}
		template.Components = []TemplateComponent{body}
	}
	return &Message{MessagingProduct: "whatsapp", RecipientType: "individual", To: to, Type: "template", Template: &template}
}

// failureOf turns a send error into a failure with Meta's code and title.
func failureOf(err error) failure {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return failure{Code: apiErr.Code, Title: apiErr.Message, Detail: apiErr.Details}
	}
	return failure{Title: truncate(err.Error(), 300)}
}

// wamidCache holds wamids of sent messages that could not be stored yet.
type wamidCache struct {
	mu   sync.Mutex
	byID map[int64]string
}

func (w *wamidCache) put(id int64, wamid string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.byID == nil {
		w.byID = map[int64]string{}
	}
	w.byID[id] = wamid
}

func (w *wamidCache) take(id int64) (string, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	wamid, ok := w.byID[id]
	delete(w.byID, id)
	return wamid, ok
}
