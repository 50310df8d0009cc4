package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

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
// Seq and CreatedAt; a trigger announces it on NotifyChannel. When
// msg.ClientID is set and a message with that client id exists, nothing is
// stored and the existing message is returned with duplicate set, so a
// resend is a no-op. A shopper message reopens a resolved conversation: its
// status goes back to open, so the agent replies again.
//
// It takes one statement, committed on its own, because it is the first
// step of every shopper turn and a transaction would add three round trips
// to the time before the agent can start.
func (db *DB) AppendMessage(ctx context.Context, shopID int64, msg salesagent.Message) (stored salesagent.Message, duplicate bool, err error) {
	stored, duplicate, err = appendMessageRule(ctx, db.Pool, shopID, msg, appendRule{reopen: msg.Role == salesagent.RoleShopper})
	if err != nil {
		return salesagent.Message{}, false, fmt.Errorf("append message to conversation %d: %w", msg.ConversationID, err)
	}
	return stored, duplicate, nil
}

// AppendAgentMessage stores the agent's reply like AppendMessage, unless an
// operator holds the conversation: then nothing is stored and it returns a
// zero Message (Seq 0). The statement checks the status after it has
// locked the conversation's row, and a claim updates the same row, so
// every agent message stored has a lower seq than the last_seq a
// successful claim returns.
func (db *DB) AppendAgentMessage(ctx context.Context, shopID int64, msg salesagent.Message) (salesagent.Message, error) {
	stored, _, err := appendMessageRule(ctx, db.Pool, shopID, msg, appendRule{unlessHeld: true})
	if err != nil {
		return salesagent.Message{}, fmt.Errorf("append agent message to conversation %d: %w", msg.ConversationID, err)
	}
	return stored, nil
}

// appendMessage stores msg in tx, as the conversation's next message,
// without changing its status. It returns the existing message with
// duplicate set when msg.ClientID was stored before.
func appendMessage(ctx context.Context, tx pgx.Tx, shopID int64, msg salesagent.Message) (stored salesagent.Message, duplicate bool, err error) {
	return appendMessageRule(ctx, tx, shopID, msg, appendRule{})
}

// appendRule is what else appendMessageRule does when it stores a message.
type appendRule struct {
	// reopen puts a resolved conversation back to open.
	reopen bool
	// unlessHeld stores nothing while an operator holds the conversation.
	unlessHeld bool
}

// appendSQL stores a message as its conversation's next one. Incrementing
// last_seq locks the conversation's row, which serialises appends, so seq
// has no gaps. The row is not updated, and no message stored, when the
// client id is already stored or, with $12, while an operator holds the
// conversation. The duplicate check reads the statement's snapshot: a copy
// committed while the statement waited for the row lock is caught by the
// unique index on client ids instead, and the whole statement rolls back.
const appendSQL = `
WITH conv AS (
	UPDATE conversations SET last_seq = last_seq + 1, updated_at = now(),
		status = CASE WHEN $11::boolean AND status = 'resolved' THEN 'open' ELSE status END
	WHERE shop_id = $1 AND id = $2
		AND NOT ($12::boolean AND status = 'operator')
		AND NOT EXISTS (SELECT 1 FROM messages WHERE conversation_id = $2 AND client_id = $7)
	RETURNING last_seq
)
INSERT INTO messages (shop_id, conversation_id, seq, role, body, cards, citations, client_id, reply_to, visibility, operator_id)
SELECT $1, $2, last_seq, $3, $4, $5, $6, $7, $8, $9, $10 FROM conv
RETURNING ` + messageColumns

// appendMessageRule runs appendSQL on q. When it stores nothing, one more
// query finds the reason: the client id's message exists (returned with duplicate
// set), an operator holds the conversation (a zero Message), or the
// conversation is missing (ENOTFOUND). On a pool, a copy stored
// concurrently is found the same way; in a transaction, the unique
// violation aborts it and is returned as ECONFLICT.
func appendMessageRule(ctx context.Context, q Querier, shopID int64, msg salesagent.Message, rule appendRule) (salesagent.Message, bool, error) {
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
	m, err := scanMessage(q.QueryRow(ctx, appendSQL,
		shopID, msg.ConversationID, msg.Role, msg.Body, marshalList(msg.Cards), marshalList(msg.Citations),
		clientID, replyTo, visibility, operatorID, rule.reopen, rule.unlessHeld))
	if err == nil {
		return *m, false, nil
	}
	_, inTx := q.(pgx.Tx)
	var pgErr *pgconn.PgError
	raced := errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == "messages_client_id" && !inTx
	if !errors.Is(err, pgx.ErrNoRows) && !raced {
		return salesagent.Message{}, false, translate(err, "message")
	}

	if msg.ClientID != "" {
		existing, err := scanMessage(q.QueryRow(ctx, `SELECT `+messageColumns+` FROM messages
			WHERE conversation_id = $1 AND client_id = $2`, msg.ConversationID, msg.ClientID))
		if err == nil {
			return *existing, true, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return salesagent.Message{}, false, fmt.Errorf("look up message %q: %w", msg.ClientID, err)
		}
	}
	var exists bool
	if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM conversations WHERE shop_id = $1 AND id = $2)`,
		shopID, msg.ConversationID).Scan(&exists); err != nil {
		return salesagent.Message{}, false, fmt.Errorf("look up conversation %d: %w", msg.ConversationID, err)
	}
	if !exists {
		return salesagent.Message{}, false, translate(pgx.ErrNoRows, fmt.Sprintf("conversation %d", msg.ConversationID))
	}
	if rule.unlessHeld {
		return salesagent.Message{}, false, nil
	}
	return salesagent.Message{}, false, fmt.Errorf("conversation %d: the message was neither stored nor found; send it again", msg.ConversationID)
}

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

// MessageByClientID returns the conversation's message with the client's
// id, or a not-found error.
func (db *DB) MessageByClientID(ctx context.Context, shopID, conversationID int64, clientID string) (*salesagent.Message, error) {
	m, err := scanMessage(db.Pool.QueryRow(ctx, `SELECT `+messageColumns+` FROM messages
		WHERE shop_id = $1 AND conversation_id = $2 AND client_id = $3`, shopID, conversationID, clientID))
	return m, translate(err, fmt.Sprintf("message %q", clientID))
}

// RecentMessages returns the conversation's last n public messages, oldest
// first. Operators' internal notes are left out.
func (db *DB) RecentMessages(ctx context.Context, shopID, conversationID int64, n int) ([]salesagent.Message, error) {
	return db.queryMessages(ctx, `SELECT * FROM (SELECT `+messageColumns+` FROM messages
		WHERE shop_id = $1 AND conversation_id = $2 AND visibility = 'public' ORDER BY seq DESC LIMIT $3) recent ORDER BY seq`, shopID, conversationID, n)
}

// LastPublicMessageBefore returns the conversation's last public message
// with a seq below seq, or a not-found error when there is none.
func (db *DB) LastPublicMessageBefore(ctx context.Context, shopID, conversationID int64, seq int) (*salesagent.Message, error) {
	m, err := scanMessage(db.Pool.QueryRow(ctx, `SELECT `+messageColumns+` FROM messages
		WHERE shop_id = $1 AND conversation_id = $2 AND visibility = 'public' AND seq < $3
		ORDER BY seq DESC LIMIT 1`, shopID, conversationID, seq))
	return m, translate(err, fmt.Sprintf("message before %d", seq))
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
	token := NewCartToken()
	return token, SaveCartAs(ctx, db.Pool, shopID, token, conversationID, customerID, items)
}

// NewCartToken returns a random token for a saved cart.
func NewCartToken() string {
	return strings.TrimPrefix(NewWidgetKey(), "pk_")
}

// SaveCartAs stores a shopper's cart under token with q, which may be a
// transaction, so that a cart is saved together with the message that
// brought it.
func SaveCartAs(ctx context.Context, q Querier, shopID int64, token string, conversationID, customerID *int64, items []salesagent.CartItem) error {
	body, err := json.Marshal(items)
	if err != nil {
		return fmt.Errorf("encode cart: %w", err)
	}
	_, err = q.Exec(ctx, `INSERT INTO carts (shop_id, token, conversation_id, customer_id, items) VALUES ($1, $2, $3, $4, $5)`,
		shopID, token, conversationID, customerID, body)
	return translate(err, "cart")
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

// UnansweredMessage is a shopper message without an agent reply.
type UnansweredMessage struct {
	ShopID  int64
	Message salesagent.Message
}

// UnansweredWebMessages returns up to limit public shopper messages stored
// since from that have no agent reply, in open or escalated web
// conversations where nothing was stored since quietSince, in order of
// conversation and seq. A message followed by an operator's message
// counts as replied to. The quiet rule leaves alone a conversation whose
// turns are still running somewhere, since each stores its reply within
// a turn's time.
func (db *DB) UnansweredWebMessages(ctx context.Context, from, quietSince time.Time, limit int) ([]UnansweredMessage, error) {
	rows, err := db.Pool.Query(ctx, `SELECT shop_id, `+messageColumns+` FROM messages WHERE id IN (
			SELECT m.id FROM conversations c JOIN messages m ON m.conversation_id = c.id
			WHERE c.channel = 'web' AND c.status IN ('open', 'escalated')
				AND c.updated_at >= $1 AND c.updated_at < $2
				AND m.role = 'shopper' AND m.visibility = 'public' AND m.created_at >= $1
				AND NOT EXISTS (SELECT 1 FROM messages r WHERE r.conversation_id = m.conversation_id
					AND ((r.role = 'agent' AND r.reply_to = m.seq) OR (r.role = 'operator' AND r.seq > m.seq)))
			ORDER BY m.conversation_id, m.seq LIMIT $3)
		ORDER BY conversation_id, seq`, from, quietSince, limit)
	if err != nil {
		return nil, fmt.Errorf("look up unanswered web messages: %w", err)
	}
	defer rows.Close()
	var found []UnansweredMessage
	for rows.Next() {
		var u UnansweredMessage
		m, err := scanMessage(leadingColumn{rows, &u.ShopID})
		if err != nil {
			return nil, fmt.Errorf("look up unanswered web messages: %w", err)
		}
		u.Message = *m
		found = append(found, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("look up unanswered web messages: %w", err)
	}
	return found, nil
}

// leadingColumn scans a row whose first column goes to first and the rest
// to the destinations its Scan is given.
type leadingColumn struct {
	row   pgx.Row
	first any
}

func (l leadingColumn) Scan(dest ...any) error {
	return l.row.Scan(append([]any{l.first}, dest...)...)
}
