package whatsapp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/postgres"
)

// Event types this channel records.
const (
	// EventReaction records a shopper's reaction to a message.
	EventReaction = "whatsapp_reaction"
	// EventSendFailed records a message that WhatsApp did not take or
	// did not deliver, with Meta's error code and title.
	EventSendFailed = "whatsapp_send_failed"
	// EventTemplateSent records a template sent in place of a reply.
	EventTemplateSent = "whatsapp_template_sent"
	// EventOptedOut and EventOptedIn record a shopper's STOP and START.
	EventOptedOut = "opted_out"
	EventOptedIn  = "opted_in"
	// EventTurnFailed records a message the agent failed to reply to.
	EventTurnFailed = "whatsapp_turn_failed"
)

// batchCounts sums up what one notification held, for the log.
type batchCounts struct {
	stored, duplicates, statuses, ignored int
}

// storeNotification stores every message and status of a notification
// within tx; now is when the webhook received it. Messages that do not
// decode, or are of types the channel does not handle, are logged and
// skipped.
func (c *Channel) storeNotification(ctx context.Context, tx pgx.Tx, jobs JobInserter, shop *salesagent.Shop, s *salesagent.WhatsAppSettings, n *webhookBody, now time.Time, counts *batchCounts) error {
	for _, entry := range n.Entry {
		for _, change := range entry.Changes {
			if change.Field != "messages" {
				counts.ignored++
				continue
			}
			value := change.Value
			if value.Metadata.PhoneNumberID != s.PhoneNumberID {
				// Another number of the same Meta app; its shop has its own
				// webhook.
				c.log.WarnContext(ctx, "whatsapp webhook for another phone number id ignored",
					"shop_id", shop.ID, "phone_number_id", value.Metadata.PhoneNumberID)
				counts.ignored += len(value.Messages) + len(value.Statuses)
				continue
			}

			names := map[string]string{}
			for _, contact := range value.Contacts {
				names[contact.WAID] = contact.Profile.Name
			}
			messages := c.decodeMessages(ctx, shop, value.Messages, now, counts)
			for _, in := range messages {
				stored, err := c.storeInbound(ctx, tx, jobs, shop, in, names[in.From])
				if err != nil {
					return err
				}
				if stored {
					counts.stored++
				} else {
					counts.duplicates++
				}
			}
			for _, raw := range value.Statuses {
				if err := c.storeStatus(ctx, tx, shop, raw, now); err != nil {
					return err
				}
				counts.statuses++
			}
		}
	}
	return nil
}

// decodeMessages decodes a change's messages, skipping the ones that do
// not decode, and orders them by sender, keeping each sender's order, so
// that concurrent notifications lock customers in the same order.
func (c *Channel) decodeMessages(ctx context.Context, shop *salesagent.Shop, raws []json.RawMessage, now time.Time, counts *batchCounts) []inbound {
	var messages []inbound
	for _, raw := range raws {
		in, err := decodeMessage(raw, now)
		var unknown errUnknownType
		switch {
		case errors.As(err, &unknown):
			// Warn, because a message of a new type may carry something
			// that the shopper expects a reply to.
			c.log.WarnContext(ctx, "whatsapp message of an unhandled type ignored",
				"shop_id", shop.ID, "wamid", unknown.wamid, "type", unknown.kind)
			counts.ignored++
			continue
		case err != nil:
			c.log.WarnContext(ctx, "whatsapp message ignored", "shop_id", shop.ID, "error", err)
			counts.ignored++
			continue
		}
		messages = append(messages, in)
	}
	sort.SliceStable(messages, func(i, j int) bool { return messages[i].From < messages[j].From })
	return messages
}

// storeInbound stores one inbound message, unless the shop has it already:
// the customer and their open conversation, the shopper's message, and the
// job for the agent's turn. It reports whether the message was new.
func (c *Channel) storeInbound(ctx context.Context, tx pgx.Tx, jobs JobInserter, shop *salesagent.Shop, in inbound, profileName string) (bool, error) {
	// Redeliveries after the first copy committed stop here without
	// touching the customer or conversation.
	exists, err := inboundExists(ctx, tx, shop.ID, in.WAMID)
	if err != nil || exists {
		return false, err
	}

	customer, created, err := postgres.EnsureWhatsAppCustomer(ctx, tx, shop.ID, in.From, profileName)
	if err != nil {
		return false, err
	}
	conv, _, err := postgres.OpenWhatsAppConversation(ctx, tx, shop.ID, customer.ID)
	if err != nil {
		return false, err
	}
	row := &inboundRow{
		ShopID: shop.ID, WAMID: in.WAMID, WAID: in.From, CustomerID: &customer.ID, ConversationID: conv.ID,
		Kind: in.Kind, Intent: in.Intent, ProductHandle: productOfIntent(in.Intent), SentAt: in.SentAt,
	}
	switch {
	case in.Kind == kindText && consentIntent(in.Text) != "":
		row.Intent = consentIntent(in.Text)
	case in.needsPerson() && in.Text == "":
		row.Intent = intentAttachment
	}
	var cart []salesagent.CartItem
	if in.Order != nil {
		cart = in.Order.cartItems()
		if len(cart) > 0 {
			in.Order.CartToken = postgres.NewCartToken()
		}
		in.Card = in.Order.card(shop)
	}
	inserted, err := insertInbound(ctx, tx, row, in.Data)
	if err != nil || !inserted {
		return false, err
	}
	logger := c.log.With("shop_id", shop.ID, "conversation_id", conv.ID, "wa_id", maskWAID(in.From), "type", in.Kind)
	if created {
		logger.InfoContext(ctx, "whatsapp customer created on first contact", "customer_id", customer.ID)
	}

	if in.Kind == kindReaction {
		// A reaction is recorded, and the agent does not reply to it.
		data, _ := json.Marshal(in.Data)
		return true, postgres.InsertEvents(ctx, tx, shop.ID, &customer.ID, []salesagent.Event{{
			ShopID: shop.ID, ConversationID: &conv.ID, Type: EventReaction, Data: data,
		}})
	}

	msg := salesagent.Message{ConversationID: conv.ID, Role: salesagent.RoleShopper, Body: in.body(), ClientID: in.WAMID}
	if in.Card != nil {
		msg.Cards = []salesagent.Card{*in.Card}
	}
	stored, _, err := postgres.AppendMessageTx(ctx, tx, shop.ID, msg)
	if err != nil {
		return false, err
	}
	if len(cart) > 0 {
		if err := saveOrderCart(ctx, tx, shop.ID, conv.ID, customer.ID, in.Order.CartToken, cart); err != nil {
			return false, err
		}
		logger.InfoContext(ctx, "whatsapp order saved as a cart", "lines", len(cart))
	}
	if row.Intent == intentOptOut || row.Intent == intentOptIn {
		if err := c.recordConsent(ctx, tx, shop.ID, conv.ID, customer.ID, row.Intent, in.Text); err != nil {
			return false, err
		}
		logger.InfoContext(ctx, "whatsapp consent changed", "intent", row.Intent)
	}
	if err := setInboundTurn(ctx, tx, row.ID, stored.Seq, turnPending); err != nil {
		return false, err
	}
	if _, err := jobs.InsertTx(ctx, tx, TurnArgs{ShopID: shop.ID, InboundID: row.ID}, &river.InsertOpts{MaxAttempts: c.cfg.TurnAttempts}); err != nil {
		return false, fmt.Errorf("queue turn for whatsapp message %d: %w", row.ID, err)
	}
	logger.DebugContext(ctx, "whatsapp message stored", "seq", stored.Seq, "inbound_id", row.ID)
	return true, nil
}

// recordConsent stores a STOP or START on the customer's profile, with an
// event.
func (c *Channel) recordConsent(ctx context.Context, q postgres.Querier, shopID, conversationID, customerID int64, intent, keyword string) error {
	consent := salesagent.Consent{
		OptedOut: intent == intentOptOut, Channel: salesagent.ChannelWhatsApp,
		Keyword: strings.TrimSpace(keyword), At: c.cfg.Now().UTC(),
	}
	if err := postgres.SetConsent(ctx, q, shopID, customerID, consent); err != nil {
		return err
	}
	eventType := EventOptedIn
	if consent.OptedOut {
		eventType = EventOptedOut
	}
	data, _ := json.Marshal(map[string]string{"channel": consent.Channel, "keyword": consent.Keyword})
	return postgres.InsertEvents(ctx, q, shopID, &customerID, []salesagent.Event{{
		ShopID: shopID, ConversationID: &conversationID, Type: eventType, Data: data,
	}})
}

// storeStatus applies one status notification to the outbound message it
// names. A failure becomes a system message and an event in the
// conversation.
func (c *Channel) storeStatus(ctx context.Context, tx pgx.Tx, shop *salesagent.Shop, raw json.RawMessage, now time.Time) error {
	var st wireStatus
	if err := json.Unmarshal(raw, &st); err != nil || st.ID == "" {
		c.log.WarnContext(ctx, "whatsapp status ignored: no message id", "shop_id", shop.ID, "error", err)
		return nil
	}
	status := st.Status
	switch status {
	case statusSent, statusDelivered, statusRead, statusFailed:
	case "played":
		status = statusRead
	default:
		c.log.InfoContext(ctx, "whatsapp status of an unhandled kind ignored", "shop_id", shop.ID, "status", st.Status)
		return nil
	}

	var f *failure
	if status == statusFailed {
		f = &failure{Title: "failed"}
		if len(st.Errors) > 0 {
			e := st.Errors[0]
			f = &failure{Code: e.Code, Title: firstNonEmpty(e.Title, e.Message), Detail: e.ErrorData.Details}
		}
	}
	row, err := applyStatus(ctx, tx, shop.ID, st.ID, trackerID(st.BizOpaqueCallbackData), status, parseTimestamp(st.Timestamp, now), f)
	if err != nil {
		return err
	}
	if row == nil {
		c.log.DebugContext(ctx, "whatsapp status changed nothing", "shop_id", shop.ID, "status", status)
		return nil
	}
	if status != statusFailed {
		return nil
	}
	c.log.WarnContext(ctx, "whatsapp message not delivered", "shop_id", shop.ID, "conversation_id", row.ConversationID,
		"outbound_id", row.ID, "error_code", f.Code, "error_title", f.Title)
	if f.Code == codeMarketingStopped && row.CustomerID != nil {
		if err := c.recordConsent(ctx, tx, shop.ID, row.ConversationID, *row.CustomerID, intentOptOut, ""); err != nil {
			return err
		}
	}
	return c.recordFailure(ctx, tx, shop.ID, row, *f, "")
}

// trackerPrefix starts the biz_opaque_callback_data of every message sent,
// followed by its outbound id.
const trackerPrefix = "salesagent:"

func tracker(outboundID int64) string { return trackerPrefix + strconv.FormatInt(outboundID, 10) }

// trackerID returns the outbound id in a biz_opaque_callback_data value,
// or 0.
func trackerID(data string) int64 {
	rest, ok := strings.CutPrefix(data, trackerPrefix)
	if !ok {
		return 0
	}
	id, err := strconv.ParseInt(rest, 10, 64)
	if err != nil {
		return 0
	}
	return id
}

// recordFailure makes a failed outbound message visible in its
// conversation: a system message for the operator, which ends with note,
// and an event with Meta's error code and title.
func (c *Channel) recordFailure(ctx context.Context, tx pgx.Tx, shopID int64, row *outboundRow, f failure, note string) error {
	text := failureText(row, f)
	if note != "" {
		text += " " + note
	}
	if _, _, err := postgres.AppendMessageTx(ctx, tx, shopID, salesagent.Message{
		ConversationID: row.ConversationID, Role: salesagent.RoleSystem, Body: text,
	}); err != nil {
		return fmt.Errorf("record failure of whatsapp message %d: %w", row.ID, err)
	}
	data, _ := json.Marshal(map[string]any{
		"outbound_id": row.ID, "kind": row.Kind, "wamid": row.WAMID,
		"error_code": f.Code, "error_title": f.Title, "error_detail": f.Detail, "note": note,
	})
	return postgres.InsertEvents(ctx, tx, shopID, row.CustomerID, []salesagent.Event{{
		ShopID: shopID, ConversationID: &row.ConversationID, Type: EventSendFailed, Data: data,
	}})
}

// failureText is the system message for a failed outbound message.
func failureText(row *outboundRow, f failure) string {
	subject := "A WhatsApp message to the shopper"
	if row.Kind == outTemplate {
		subject = "The WhatsApp template " + templateName(row.Payload)
	}
	var b strings.Builder
	b.WriteString(subject + " was not delivered")
	switch {
	case f.Code > 0 && f.Title != "":
		fmt.Fprintf(&b, " (error %d: %s)", f.Code, f.Title)
	case f.Title != "":
		fmt.Fprintf(&b, " (%s)", f.Title)
	}
	b.WriteString(".")
	if f.Detail != "" {
		b.WriteString(" " + strings.TrimSuffix(f.Detail, ".") + ".")
	}
	if hint := failureHint(f.Code); hint != "" {
		b.WriteString(" " + hint)
	}
	return b.String()
}

func templateName(m *Message) string {
	if m == nil || m.Template == nil {
		return ""
	}
	return fmt.Sprintf("%q", m.Template.Name)
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// inboundWorker stores the notification that one webhook queued.
type inboundWorker struct {
	river.WorkerDefaults[InboundArgs]
	ch *Channel
}

// Timeout bounds the job's database work as it bounded the webhook's.
func (w *inboundWorker) Timeout(*river.Job[InboundArgs]) time.Duration {
	return w.ch.cfg.WebhookTimeout
}

// Work stores the notification's messages and statuses, and queues the
// new messages' turn jobs, in one transaction. A failed attempt stores
// nothing, and River tries the job again. Messages that are stored
// already, as from a redelivered body, are skipped by their wamid.
func (w *inboundWorker) Work(ctx context.Context, job *river.Job[InboundArgs]) error {
	c := w.ch
	args := job.Args
	logger := c.log.With("shop_id", args.ShopID, "job_id", job.ID)

	jobs, err := river.ClientFromContextSafely[pgx.Tx](ctx)
	if err != nil {
		return fmt.Errorf("whatsapp inbound job runs outside a River client: %w", err)
	}
	shop, err := c.db.ShopByID(ctx, args.ShopID)
	if salesagent.ErrorCode(err) == salesagent.ENOTFOUND {
		logger.WarnContext(ctx, "whatsapp notification dropped: its shop was deleted")
		return river.JobCancel(err)
	}
	if err != nil {
		return err
	}
	s, err := settings(shop)
	if err != nil {
		logger.WarnContext(ctx, "whatsapp notification dropped: the shop's WhatsApp settings were removed", "error", err)
		return river.JobCancel(err)
	}
	var n webhookBody
	if err := json.Unmarshal([]byte(args.Body), &n); err != nil {
		// The webhook decoded the same body, so only a changed row gets here.
		return river.JobCancel(fmt.Errorf("decode queued whatsapp notification: %w", err))
	}
	now := args.ReceivedAt
	if now.IsZero() {
		now = c.cfg.Now()
	}

	var counts batchCounts
	err = c.db.InTx(ctx, func(tx pgx.Tx) error {
		counts = batchCounts{}
		return c.storeNotification(ctx, tx, jobs, shop, s, &n, now, &counts)
	})
	if err != nil {
		return fmt.Errorf("store whatsapp notification: %w", err)
	}
	// Status notifications come up to three per message sent, so only new
	// messages are logged at info.
	level := slog.LevelDebug
	if counts.stored > 0 {
		level = slog.LevelInfo
	}
	logger.Log(ctx, level, "whatsapp webhook stored",
		"messages", counts.stored, "duplicates", counts.duplicates, "statuses", counts.statuses, "ignored", counts.ignored)
	return nil
}
