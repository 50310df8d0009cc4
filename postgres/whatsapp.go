package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/salesagent/salesagent"
)

// AppendMessageTx stores msg as the conversation's next message within tx,
// setting its Seq and CreatedAt; a trigger announces it on NotifyChannel
// when tx commits. Like AppendMessage, a msg.ClientID that the
// conversation already holds stores nothing and returns the existing
// message with duplicate set. It never changes the conversation's status.
func AppendMessageTx(ctx context.Context, tx pgx.Tx, shopID int64, msg salesagent.Message) (stored salesagent.Message, duplicate bool, err error) {
	return appendMessage(ctx, tx, shopID, msg)
}

// MessageReplyingTo returns the conversation's first message of the given
// role whose ReplyTo is seq, as the agent's reply to a shopper message.
func MessageReplyingTo(ctx context.Context, q Querier, shopID, conversationID int64, seq int, role string) (*salesagent.Message, error) {
	m, err := scanMessage(q.QueryRow(ctx, `SELECT `+messageColumns+` FROM messages
		WHERE shop_id = $1 AND conversation_id = $2 AND reply_to = $3 AND role = $4 ORDER BY seq LIMIT 1`,
		shopID, conversationID, seq, role))
	if err != nil {
		return nil, translate(err, fmt.Sprintf("reply to message %d", seq))
	}
	return m, nil
}

// EnsureWhatsAppCustomer returns the shop's customer with the WhatsApp id
// waID, creating it with the profile name and the phone number +waID on
// first contact. A stored customer without a name gets name.
func EnsureWhatsAppCustomer(ctx context.Context, q Querier, shopID int64, waID, name string) (customer *salesagent.Customer, created bool, err error) {
	// Reading first keeps redeliveries and later messages from locking the
	// customer row.
	c, err := scanCustomer(q.QueryRow(ctx, `SELECT `+customerColumns+` FROM customers WHERE shop_id = $1 AND wa_id = $2`, shopID, waID))
	if err == nil && (c.Name != "" || name == "") {
		return c, false, nil
	}
	if err != nil && err != pgx.ErrNoRows {
		return nil, false, translate(err, "WhatsApp customer")
	}

	row := q.QueryRow(ctx, `
		INSERT INTO customers (shop_id, wa_id, name, phone) VALUES ($1, $2, $3, '+' || $2)
		ON CONFLICT (shop_id, wa_id) WHERE wa_id IS NOT NULL
		DO UPDATE SET name = CASE WHEN customers.name = '' THEN EXCLUDED.name ELSE customers.name END,
			updated_at = now()
		RETURNING `+customerColumns+`, (xmax = 0)`, shopID, waID, name)
	var stored salesagent.Customer
	var profile []byte
	if err := row.Scan(&stored.ID, &stored.ShopID, &stored.ExternalID, &stored.Email, &stored.Name, &stored.Phone, &profile, &created); err != nil {
		return nil, false, translate(err, "WhatsApp customer")
	}
	if err := json.Unmarshal(profile, &stored.Profile); err != nil {
		return nil, false, fmt.Errorf("decode profile of customer %d: %w", stored.ID, err)
	}
	return &stored, created, nil
}

// OpenWhatsAppConversation returns the customer's WhatsApp conversation
// that is not resolved, starting one when there is none.
func OpenWhatsAppConversation(ctx context.Context, q Querier, shopID, customerID int64) (conv *salesagent.Conversation, created bool, err error) {
	conv, err = scanConversation(q.QueryRow(ctx, `SELECT `+conversationColumns+` FROM conversations
		WHERE shop_id = $1 AND customer_id = $2 AND channel = 'whatsapp' AND status <> 'resolved'`, shopID, customerID))
	if err == nil {
		return conv, false, nil
	}
	if err != pgx.ErrNoRows {
		return nil, false, translate(err, "WhatsApp conversation")
	}

	row := q.QueryRow(ctx, `
		INSERT INTO conversations (shop_id, channel, customer_id) VALUES ($1, 'whatsapp', $2)
		ON CONFLICT (shop_id, customer_id) WHERE channel = 'whatsapp' AND status <> 'resolved' AND customer_id IS NOT NULL
		DO UPDATE SET updated_at = now()
		RETURNING `+conversationColumns+`, (xmax = 0)`, shopID, customerID)
	var c salesagent.Conversation
	if err := row.Scan(&c.ID, &c.ShopID, &c.CustomerID, &c.Channel, &c.Status, &c.LastSeq, &c.OwnerOperatorID, &c.CreatedAt, &created); err != nil {
		return nil, false, translate(err, "WhatsApp conversation")
	}
	return &c, created, nil
}

// SetConsent stores the customer's choice about proactive messages in the
// profile's consent key, leaving the rest of the profile as it is.
func SetConsent(ctx context.Context, q Querier, shopID, customerID int64, consent salesagent.Consent) error {
	raw, err := json.Marshal(consent)
	if err != nil {
		return fmt.Errorf("encode consent: %w", err)
	}
	tag, err := q.Exec(ctx, `UPDATE customers SET profile = jsonb_set(profile, '{consent}', $3::jsonb), updated_at = now()
		WHERE shop_id = $1 AND id = $2`, shopID, customerID, raw)
	if err != nil {
		return fmt.Errorf("store consent of customer %d: %w", customerID, err)
	}
	if tag.RowsAffected() == 0 {
		return salesagent.Errorf(salesagent.ENOTFOUND, "customer %d not found", customerID)
	}
	return nil
}

// InsertEvents appends outcome events with q, as within a transaction that
// stores what caused them. Unlike RecordEvents it leaves the profile alone.
func InsertEvents(ctx context.Context, q Querier, shopID int64, customerID *int64, events []salesagent.Event) error {
	for _, e := range events {
		data := e.Data
		if len(data) == 0 {
			data = json.RawMessage("{}")
		}
		if _, err := q.Exec(ctx, `INSERT INTO events (shop_id, conversation_id, customer_id, type, data) VALUES ($1, $2, $3, $4, $5)`,
			shopID, e.ConversationID, customerID, e.Type, []byte(data)); err != nil {
			return fmt.Errorf("record %s event: %w", e.Type, err)
		}
	}
	return nil
}
