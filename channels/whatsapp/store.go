package whatsapp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/postgres"
)

// Turn states of an inbound message.
const (
	turnNone    = "none"
	turnPending = "pending"
	turnDone    = "done"
	turnFailed  = "failed"
)

// inboundRow is a stored inbound message.
type inboundRow struct {
	ID             int64
	ShopID         int64
	WAMID          string
	WAID           string
	CustomerID     *int64
	ConversationID int64
	Seq            int
	Kind           string
	Intent         string
	ProductHandle  string
	TurnState      string
	SentAt         time.Time
}

// insertInbound stores an inbound message unless the shop already has its
// wamid, and reports whether it did. Concurrent copies of one message wait
// for the first to commit, then store nothing.
func insertInbound(ctx context.Context, q postgres.Querier, row *inboundRow, data map[string]any) (bool, error) {
	raw := []byte("{}")
	if len(data) > 0 {
		raw, _ = json.Marshal(data)
	}
	err := q.QueryRow(ctx, `
		INSERT INTO whatsapp_inbound (shop_id, wamid, wa_id, customer_id, conversation_id, type, intent, product_handle, data, sent_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (shop_id, wamid) DO NOTHING
		RETURNING id`,
		row.ShopID, row.WAMID, row.WAID, row.CustomerID, row.ConversationID, row.Kind, row.Intent, row.ProductHandle, raw, row.SentAt).Scan(&row.ID)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store whatsapp message %s: %w", row.WAMID, err)
	}
	return true, nil
}

// inboundExists reports whether the shop has stored the message wamid.
func inboundExists(ctx context.Context, q postgres.Querier, shopID int64, wamid string) (bool, error) {
	var exists bool
	err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM whatsapp_inbound WHERE shop_id = $1 AND wamid = $2)`, shopID, wamid).Scan(&exists)
	if err != nil {
		return false, fmt.Errorf("look up whatsapp message %s: %w", wamid, err)
	}
	return exists, nil
}

// setInboundTurn records the shopper message stored for an inbound message
// and its turn state.
func setInboundTurn(ctx context.Context, q postgres.Querier, id int64, seq int, state string) error {
	_, err := q.Exec(ctx, `UPDATE whatsapp_inbound SET message_seq = $2, turn_state = $3 WHERE id = $1`, id, seq, state)
	if err != nil {
		return fmt.Errorf("update whatsapp message %d: %w", id, err)
	}
	return nil
}

// setTurnState moves an inbound message's turn from pending to state.
func setTurnState(ctx context.Context, q postgres.Querier, id int64, state string) error {
	_, err := q.Exec(ctx, `UPDATE whatsapp_inbound SET turn_state = $2 WHERE id = $1 AND turn_state = 'pending'`, id, state)
	if err != nil {
		return fmt.Errorf("set turn state of whatsapp message %d: %w", id, err)
	}
	return nil
}

// loadInbound returns a stored inbound message of the shop.
func loadInbound(ctx context.Context, q postgres.Querier, shopID, id int64) (*inboundRow, error) {
	var r inboundRow
	var seq *int
	err := q.QueryRow(ctx, `
		SELECT id, shop_id, wamid, wa_id, customer_id, conversation_id, message_seq, type, intent, product_handle, turn_state, sent_at
		FROM whatsapp_inbound WHERE shop_id = $1 AND id = $2`, shopID, id).
		Scan(&r.ID, &r.ShopID, &r.WAMID, &r.WAID, &r.CustomerID, &r.ConversationID, &seq, &r.Kind, &r.Intent, &r.ProductHandle, &r.TurnState, &r.SentAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, salesagent.Errorf(salesagent.ENOTFOUND, "whatsapp message %d not found", id)
	}
	if err != nil {
		return nil, fmt.Errorf("load whatsapp message %d: %w", id, err)
	}
	if seq != nil {
		r.Seq = *seq
	}
	return &r, nil
}

// earlierTurnPending reports whether a message of the conversation before
// seq still waits for its turn. Turns older than staleAfter no longer
// count, so a turn whose job was lost cannot block the conversation.
func earlierTurnPending(ctx context.Context, q postgres.Querier, conversationID int64, seq int, staleAfter time.Duration) (bool, error) {
	var pending bool
	err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM whatsapp_inbound
		WHERE conversation_id = $1 AND turn_state = 'pending' AND message_seq < $2 AND received_at > now() - make_interval(secs => $3))`,
		conversationID, seq, staleAfter.Seconds()).Scan(&pending)
	if err != nil {
		return false, fmt.Errorf("look up earlier turns of conversation %d: %w", conversationID, err)
	}
	return pending, nil
}

// focusedProduct returns the handle of the product the shopper last chose
// in the conversation, up to the inbound message id, or "".
func focusedProduct(ctx context.Context, q postgres.Querier, conversationID, upToID int64) (string, error) {
	var handle string
	err := q.QueryRow(ctx, `SELECT product_handle FROM whatsapp_inbound
		WHERE conversation_id = $1 AND id <= $2 AND product_handle <> '' ORDER BY id DESC LIMIT 1`, conversationID, upToID).Scan(&handle)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("look up product in focus of conversation %d: %w", conversationID, err)
	}
	return handle, nil
}

// lastInboundAt returns when the shopper with waID last wrote to the shop,
// by Meta's timestamp. Reactions do not count, and ok is false when the
// shopper never wrote.
func lastInboundAt(ctx context.Context, q postgres.Querier, shopID int64, waID string) (at time.Time, ok bool, err error) {
	var last *time.Time
	err = q.QueryRow(ctx, `SELECT max(sent_at) FROM whatsapp_inbound WHERE shop_id = $1 AND wa_id = $2 AND type <> 'reaction'`,
		shopID, waID).Scan(&last)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("look up last message of a shopper: %w", err)
	}
	if last == nil {
		return time.Time{}, false, nil
	}
	return *last, true, nil
}

// Outbound statuses. They only move forward, in this order, except that
// failed may follow pending, sending or sent.
const (
	statusPending   = "pending"
	statusSending   = "sending"
	statusSent      = "sent"
	statusDelivered = "delivered"
	statusRead      = "read"
	statusFailed    = "failed"
)

// Outbound kinds.
const (
	outText        = "text"
	outInteractive = "interactive"
	outTemplate    = "template"
)

// outboundRow is a message the shop sends, or has sent.
type outboundRow struct {
	ID             int64
	ShopID         int64
	ConversationID int64
	CustomerID     *int64
	MessageID      *int64
	Key            string
	WAID           string
	Kind           string
	Payload        *Message
	Status         string
	WAMID          string
	Attempts       int
	ErrorCode      *int
	ErrorTitle     string
}

// settled reports whether the row needs no more sending.
func (r *outboundRow) settled() bool {
	return r.WAMID != "" || (r.Status != statusPending && r.Status != statusSending)
}

// insertOutbound stores a message to send under its key, unless the shop
// already has that key, and reports whether it did.
func insertOutbound(ctx context.Context, q postgres.Querier, row *outboundRow) (bool, error) {
	payload, err := json.Marshal(row.Payload)
	if err != nil {
		return false, fmt.Errorf("encode whatsapp message %s: %w", row.Key, err)
	}
	err = q.QueryRow(ctx, `
		INSERT INTO whatsapp_outbound (shop_id, conversation_id, customer_id, message_id, key, wa_id, kind, payload)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (shop_id, key) DO NOTHING
		RETURNING id`,
		row.ShopID, row.ConversationID, row.CustomerID, row.MessageID, row.Key, row.WAID, row.Kind, payload).Scan(&row.ID)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store whatsapp message %s: %w", row.Key, err)
	}
	return true, nil
}

const outboundColumns = `id, shop_id, conversation_id, customer_id, message_id, key, wa_id, kind, payload, status,
	coalesce(wamid, ''), attempts, error_code, error_title`

func scanOutbound(row pgx.Row) (*outboundRow, error) {
	var r outboundRow
	var payload []byte
	if err := row.Scan(&r.ID, &r.ShopID, &r.ConversationID, &r.CustomerID, &r.MessageID, &r.Key, &r.WAID, &r.Kind, &payload,
		&r.Status, &r.WAMID, &r.Attempts, &r.ErrorCode, &r.ErrorTitle); err != nil {
		return nil, err
	}
	r.Payload = &Message{}
	if err := json.Unmarshal(payload, r.Payload); err != nil {
		return nil, fmt.Errorf("decode whatsapp message %d: %w", r.ID, err)
	}
	return &r, nil
}

// loadOutbound returns a stored outbound message of the shop.
func loadOutbound(ctx context.Context, q postgres.Querier, shopID, id int64) (*outboundRow, error) {
	r, err := scanOutbound(q.QueryRow(ctx, `SELECT `+outboundColumns+` FROM whatsapp_outbound WHERE shop_id = $1 AND id = $2`, shopID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, salesagent.Errorf(salesagent.ENOTFOUND, "whatsapp outbound message %d not found", id)
	}
	if err != nil {
		return nil, fmt.Errorf("load whatsapp outbound message %d: %w", id, err)
	}
	return r, nil
}

// earlierUnsent reports whether a message queued before id in the same
// conversation is not sent yet, so that messages arrive in order. A row
// untouched for staleAfter no longer counts, because its job is gone:
// a live row's attempts update it at least once per retry delay.
func earlierUnsent(ctx context.Context, q postgres.Querier, conversationID, id int64, staleAfter time.Duration) (bool, error) {
	var waiting bool
	err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM whatsapp_outbound
		WHERE conversation_id = $1 AND id < $2 AND status IN ('pending', 'sending') AND wamid IS NULL
			AND updated_at > now() - make_interval(secs => $3))`, conversationID, id, staleAfter.Seconds()).Scan(&waiting)
	if err != nil {
		return false, fmt.Errorf("look up earlier messages of conversation %d: %w", conversationID, err)
	}
	return waiting, nil
}

// markSending counts a send attempt. It reports false when the row was
// settled meanwhile.
func markSending(ctx context.Context, q postgres.Querier, id int64) (bool, error) {
	tag, err := q.Exec(ctx, `UPDATE whatsapp_outbound SET status = 'sending', attempts = attempts + 1, updated_at = now()
		WHERE id = $1 AND wamid IS NULL AND status IN ('pending', 'sending')`, id)
	if err != nil {
		return false, fmt.Errorf("mark whatsapp message %d as sending: %w", id, err)
	}
	return tag.RowsAffected() == 1, nil
}

// recordSent stores Meta's wamid of a sent message. A status webhook that
// matched the row first may have set the wamid and a later status already.
func recordSent(ctx context.Context, q postgres.Querier, id int64, wamid string) error {
	_, err := q.Exec(ctx, `UPDATE whatsapp_outbound SET wamid = coalesce(wamid, $2),
			status = CASE WHEN status IN ('pending', 'sending') THEN 'sent' ELSE status END,
			sent_at = coalesce(sent_at, now()), updated_at = now()
		WHERE id = $1`, id, wamid)
	if err != nil {
		return fmt.Errorf("record wamid of whatsapp message %d: %w", id, err)
	}
	return nil
}

// failure is the cause of a message not sent or not delivered, with
// Meta's error code and title where Meta gave them.
type failure struct {
	Code   int
	Title  string
	Detail string
}

// markFailed fails an unsent row and returns it, or returns nil when it
// was settled already.
func markFailed(ctx context.Context, q postgres.Querier, id int64, f failure) (*outboundRow, error) {
	r, err := scanOutbound(q.QueryRow(ctx, `UPDATE whatsapp_outbound
		SET status = 'failed', error_code = $2, error_title = $3, error_detail = $4, updated_at = now(), status_at = now()
		WHERE id = $1 AND wamid IS NULL AND status IN ('pending', 'sending')
		RETURNING `+outboundColumns, id, f.Code, f.Title, f.Detail))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("mark whatsapp message %d as failed: %w", id, err)
	}
	return r, nil
}

// failUnsentOfMessage fails every unsent free-form part of the stored
// message messageID, as when the window closed before they went out.
func failUnsentOfMessage(ctx context.Context, q postgres.Querier, shopID, messageID int64, f failure) error {
	_, err := q.Exec(ctx, `UPDATE whatsapp_outbound
		SET status = 'failed', error_code = $3, error_title = $4, error_detail = $5, updated_at = now(), status_at = now()
		WHERE shop_id = $1 AND message_id = $2 AND kind <> 'template' AND wamid IS NULL AND status IN ('pending', 'sending')`,
		shopID, messageID, f.Code, f.Title, f.Detail)
	if err != nil {
		return fmt.Errorf("fail unsent parts of message %d: %w", messageID, err)
	}
	return nil
}

// statusRank orders the statuses that a status webhook may move a row
// through.
const statusRank = `ARRAY['pending', 'sending', 'sent', 'delivered', 'read']`

// applyStatus moves the row with the wamid to a later delivery status. A
// row not yet matched to its wamid is matched through tracker, the
// outbound id that the request's biz_opaque_callback_data carried. It
// returns the row when it changed, or nil.
func applyStatus(ctx context.Context, q postgres.Querier, shopID int64, wamid string, trackerID int64, status string, at time.Time, f *failure) (*outboundRow, error) {
	if trackerID > 0 {
		if _, err := q.Exec(ctx, `UPDATE whatsapp_outbound SET wamid = $3, updated_at = now()
			WHERE shop_id = $1 AND id = $2 AND wamid IS NULL
				AND NOT EXISTS (SELECT 1 FROM whatsapp_outbound WHERE shop_id = $1 AND wamid = $3)`, shopID, trackerID, wamid); err != nil {
			return nil, fmt.Errorf("match status of whatsapp message %d: %w", trackerID, err)
		}
	}

	var row pgx.Row
	if status == statusFailed {
		row = q.QueryRow(ctx, `UPDATE whatsapp_outbound
			SET status = 'failed', error_code = $3, error_title = $4, error_detail = $5, status_at = $6, updated_at = now()
			WHERE shop_id = $1 AND wamid = $2 AND status IN ('pending', 'sending', 'sent')
			RETURNING `+outboundColumns, shopID, wamid, f.Code, f.Title, f.Detail, at)
	} else {
		row = q.QueryRow(ctx, `UPDATE whatsapp_outbound
			SET status = $3, status_at = $4, updated_at = now(), sent_at = coalesce(sent_at, $4)
			WHERE shop_id = $1 AND wamid = $2 AND status <> 'failed'
				AND array_position(`+statusRank+`, status) < array_position(`+statusRank+`, $3::text)
			RETURNING `+outboundColumns, shopID, wamid, status, at)
	}
	r, err := scanOutbound(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("apply %s status to whatsapp message %s: %w", status, wamid, err)
	}
	return r, nil
}
