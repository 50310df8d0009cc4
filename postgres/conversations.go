package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/salesagent/salesagent"
)

// NotifyChannel is the PostgreSQL LISTEN/NOTIFY channel on which every new
// message is announced, so that several server processes sharing one
// database can fan messages out to their own sockets.
const NotifyChannel = "salesagent_messages"

const conversationColumns = `id, shop_id, customer_id, channel, status, last_seq, owner_operator_id, created_at`

func scanConversation(row pgx.Row) (*salesagent.Conversation, error) {
	var c salesagent.Conversation
	err := row.Scan(&c.ID, &c.ShopID, &c.CustomerID, &c.Channel, &c.Status, &c.LastSeq, &c.OwnerOperatorID, &c.CreatedAt)
	return &c, err
}

// ConversationByVisitor returns the conversation tied to a visitor token's
// hash.
func (db *DB) ConversationByVisitor(ctx context.Context, shopID int64, tokenHash []byte) (*salesagent.Conversation, error) {
	c, err := scanConversation(db.Pool.QueryRow(ctx, `SELECT `+conversationColumns+` FROM conversations
		WHERE shop_id = $1 AND visitor_token_hash = $2`, shopID, tokenHash))
	if err != nil {
		return nil, translate(err, "conversation")
	}
	return c, nil
}

// ConversationByID returns a conversation of the shop.
func (db *DB) ConversationByID(ctx context.Context, shopID, id int64) (*salesagent.Conversation, error) {
	c, err := scanConversation(db.Pool.QueryRow(ctx, `SELECT `+conversationColumns+` FROM conversations
		WHERE shop_id = $1 AND id = $2`, shopID, id))
	if err != nil {
		return nil, translate(err, fmt.Sprintf("conversation %d", id))
	}
	return c, nil
}

// CreateConversation starts a conversation. tokenHash may be nil for
// channels that identify the shopper otherwise.
func (db *DB) CreateConversation(ctx context.Context, shopID int64, channel string, tokenHash []byte, customerID *int64) (*salesagent.Conversation, error) {
	c, err := scanConversation(db.Pool.QueryRow(ctx, `
		INSERT INTO conversations (shop_id, channel, visitor_token_hash, customer_id) VALUES ($1, $2, $3, $4)
		RETURNING `+conversationColumns, shopID, channel, tokenHash, customerID))
	if err != nil {
		return nil, translate(err, "conversation")
	}
	return c, nil
}

// SetConversationStatus changes a conversation's status.
func (db *DB) SetConversationStatus(ctx context.Context, shopID, id int64, status string) error {
	_, err := db.Pool.Exec(ctx, `UPDATE conversations SET status = $3, updated_at = now() WHERE shop_id = $1 AND id = $2`, shopID, id, status)
	return translate(err, "conversation status")
}

// SetConversationCustomer ties a conversation to a known customer, as when a
// shopper identifies with their email.
func (db *DB) SetConversationCustomer(ctx context.Context, shopID, id, customerID int64) error {
	_, err := db.Pool.Exec(ctx, `UPDATE conversations SET customer_id = $3, updated_at = now() WHERE shop_id = $1 AND id = $2`, shopID, id, customerID)
	return translate(err, "conversation customer")
}

// AppendMessage stores msg as the conversation's next message, setting its
// Seq and CreatedAt, and announces it on NotifyChannel. When msg.ClientID is
// set and a message with that client id exists, nothing is stored and the
// existing message is returned with duplicate set, so a resend is a no-op.
// A shopper message reopens a resolved conversation: its status goes back
// to open, so the agent answers again.
func (db *DB) AppendMessage(ctx context.Context, shopID int64, msg salesagent.Message) (stored salesagent.Message, duplicate bool, err error) {
	err = db.InTx(ctx, func(tx pgx.Tx) error {
		stored, duplicate, err = appendMessage(ctx, tx, shopID, msg)
		if duplicate {
			return errRollback
		}
		return err
	})
	if err == errRollback {
		err = nil
	}
	if err != nil {
		return salesagent.Message{}, false, fmt.Errorf("append message to conversation %d: %w", msg.ConversationID, err)
	}
	return stored, duplicate, nil
}

// AppendAgentMessage stores the agent's reply like AppendMessage, unless an
// operator holds the conversation: then nothing is stored and it returns a
// zero Message (Seq 0). The status is read under the conversation's row
// lock in the same transaction as the insert, and a claim updates the same
// row, so every agent message stored has a lower seq than the last_seq a
// successful claim returns.
func (db *DB) AppendAgentMessage(ctx context.Context, shopID int64, msg salesagent.Message) (salesagent.Message, error) {
	var stored salesagent.Message
	err := db.InTx(ctx, func(tx pgx.Tx) error {
		var status string
		if err := tx.QueryRow(ctx, `SELECT status FROM conversations WHERE shop_id = $1 AND id = $2 FOR UPDATE`,
			shopID, msg.ConversationID).Scan(&status); err != nil {
			return translate(err, fmt.Sprintf("conversation %d", msg.ConversationID))
		}
		if status == salesagent.StatusOperator {
			return nil
		}
		var err error
		stored, _, err = appendMessage(ctx, tx, shopID, msg)
		return err
	})
	if err != nil {
		return salesagent.Message{}, fmt.Errorf("append agent message to conversation %d: %w", msg.ConversationID, err)
	}
	return stored, nil
}

// appendMessage stores msg in tx and notifies. It returns the existing
// message with duplicate set when msg.ClientID was stored before; the
// caller must then roll back, to undo the seq increment.
func appendMessage(ctx context.Context, tx pgx.Tx, shopID int64, msg salesagent.Message) (stored salesagent.Message, duplicate bool, err error) {
	// Locking the conversation row serialises appends, so seq has no gaps
	// and a concurrent resend sees the first copy.
	var seq int
	if err := tx.QueryRow(ctx, `UPDATE conversations SET last_seq = last_seq + 1, updated_at = now(),
			status = CASE WHEN $3 = 'shopper' AND status = 'resolved' THEN 'open' ELSE status END
		WHERE shop_id = $1 AND id = $2 RETURNING last_seq`, shopID, msg.ConversationID, msg.Role).Scan(&seq); err != nil {
		return stored, false, translate(err, fmt.Sprintf("conversation %d", msg.ConversationID))
	}
	if msg.ClientID != "" {
		existing, err := scanMessage(tx.QueryRow(ctx, `SELECT `+messageColumns+` FROM messages
			WHERE conversation_id = $1 AND client_id = $2`, msg.ConversationID, msg.ClientID))
		if err == nil {
			return *existing, true, nil
		}
		if err != pgx.ErrNoRows {
			return stored, false, err
		}
	}

	cards, citations := marshalList(msg.Cards), marshalList(msg.Citations)
	var clientID *string
	if msg.ClientID != "" {
		clientID = &msg.ClientID
	}
	var replyTo *int
	if msg.ReplyTo > 0 {
		replyTo = &msg.ReplyTo
	}
	visibility := "public"
	if msg.Internal {
		visibility = "internal"
	}
	var operatorID *int64
	if msg.OperatorID > 0 {
		operatorID = &msg.OperatorID
	}
	row := tx.QueryRow(ctx, `
		INSERT INTO messages (shop_id, conversation_id, seq, role, body, cards, citations, client_id, reply_to, visibility, operator_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING `+messageColumns,
		shopID, msg.ConversationID, seq, msg.Role, msg.Body, cards, citations, clientID, replyTo, visibility, operatorID)
	m, err := scanMessage(row)
	if err != nil {
		return stored, false, translate(err, "message")
	}

	// Internal notes are announced too, so that consoles can refresh; the
	// web channel's catch-up query skips them.
	payload, _ := json.Marshal(map[string]any{"shop_id": shopID, "conversation_id": msg.ConversationID, "seq": seq})
	if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, NotifyChannel, string(payload)); err != nil {
		return stored, false, fmt.Errorf("notify new message: %w", err)
	}
	return *m, false, nil
}

type rollbackError struct{}

func (rollbackError) Error() string { return "rolled back on purpose" }

var errRollback error = rollbackError{}

func marshalList[T any](items []T) []byte {
	if len(items) == 0 {
		return []byte("[]")
	}
	b, _ := json.Marshal(items)
	return b
}

const messageColumns = `id, conversation_id, seq, role, body, cards, citations, coalesce(client_id, ''), coalesce(reply_to, 0),
	visibility = 'internal', coalesce(operator_id, 0),
	CASE WHEN role = 'operator' THEN coalesce((SELECT o.name FROM operators o WHERE o.id = operator_id), '') ELSE '' END, created_at`

func scanMessage(row pgx.Row) (*salesagent.Message, error) {
	var m salesagent.Message
	var cards, citations []byte
	if err := row.Scan(&m.ID, &m.ConversationID, &m.Seq, &m.Role, &m.Body, &cards, &citations, &m.ClientID, &m.ReplyTo, &m.Internal, &m.OperatorID, &m.Author, &m.CreatedAt); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(cards, &m.Cards); err != nil {
		return nil, fmt.Errorf("decode cards of message %d: %w", m.ID, err)
	}
	if err := json.Unmarshal(citations, &m.Citations); err != nil {
		return nil, fmt.Errorf("decode citations of message %d: %w", m.ID, err)
	}
	return &m, nil
}

// MessagesAfter returns up to limit public messages with seq greater than
// afterSeq, in order. Operators' internal notes are left out, so seq may
// skip numbers.
func (db *DB) MessagesAfter(ctx context.Context, shopID, conversationID int64, afterSeq, limit int) ([]salesagent.Message, error) {
	return db.queryMessages(ctx, `SELECT `+messageColumns+` FROM messages
		WHERE shop_id = $1 AND conversation_id = $2 AND seq > $3 AND visibility = 'public' ORDER BY seq LIMIT $4`, shopID, conversationID, afterSeq, limit)
}

// RecentMessages returns the conversation's last n public messages, oldest
// first. Operators' internal notes are left out.
func (db *DB) RecentMessages(ctx context.Context, shopID, conversationID int64, n int) ([]salesagent.Message, error) {
	return db.queryMessages(ctx, `SELECT * FROM (SELECT `+messageColumns+` FROM messages
		WHERE shop_id = $1 AND conversation_id = $2 AND visibility = 'public' ORDER BY seq DESC LIMIT $3) recent ORDER BY seq`, shopID, conversationID, n)
}

// AllMessages returns every message of the conversation in order, internal
// notes included, for operators.
func (db *DB) AllMessages(ctx context.Context, shopID, conversationID int64) ([]salesagent.Message, error) {
	return db.queryMessages(ctx, `SELECT `+messageColumns+` FROM messages
		WHERE shop_id = $1 AND conversation_id = $2 ORDER BY seq`, shopID, conversationID)
}

func (db *DB) queryMessages(ctx context.Context, sql string, args ...any) ([]salesagent.Message, error) {
	rows, err := db.Pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("load messages: %w", err)
	}
	defer rows.Close()
	var messages []salesagent.Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, fmt.Errorf("load messages: %w", err)
		}
		messages = append(messages, *m)
	}
	return messages, rows.Err()
}

// SaveCart stores a shopper's cart under a new random token and returns it.
func (db *DB) SaveCart(ctx context.Context, shopID int64, conversationID, customerID *int64, items []salesagent.CartItem) (string, error) {
	token := NewWidgetKey()[3:]
	body, _ := json.Marshal(items)
	_, err := db.Pool.Exec(ctx, `INSERT INTO carts (shop_id, token, conversation_id, customer_id, items) VALUES ($1, $2, $3, $4, $5)`,
		shopID, token, conversationID, customerID, body)
	if err != nil {
		return "", translate(err, "cart")
	}
	return token, nil
}

// CartByToken returns a saved cart's items and when it was saved.
func (db *DB) CartByToken(ctx context.Context, shopID int64, token string) ([]salesagent.CartItem, time.Time, error) {
	var body []byte
	var at time.Time
	err := db.Pool.QueryRow(ctx, `SELECT items, created_at FROM carts WHERE shop_id = $1 AND token = $2`, shopID, token).Scan(&body, &at)
	if err != nil {
		return nil, at, translate(err, "saved cart")
	}
	var items []salesagent.CartItem
	if err := json.Unmarshal(body, &items); err != nil {
		return nil, at, fmt.Errorf("decode saved cart: %w", err)
	}
	return items, at, nil
}
