package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/salesagent/salesagent"
)

// Escalation is a conversation that has just started waiting for a person.
type Escalation struct {
	ShopID         int64
	ConversationID int64
	// Reason and Summary are the agent's, as in the escalated event.
	Reason  string
	Summary string
}

// EscalateConversation marks the conversation as waiting for a person,
// unless it is waiting already or an operator holds it. It reports whether
// the status changed; when it did, it runs db.OnEscalate in the same
// transaction.
func (db *DB) EscalateConversation(ctx context.Context, e Escalation) (bool, error) {
	changed := false
	err := db.InTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE conversations SET status = 'escalated', updated_at = now()
			WHERE shop_id = $1 AND id = $2 AND status NOT IN ('escalated', 'operator')`, e.ShopID, e.ConversationID)
		if err != nil {
			return translate(err, "conversation status")
		}
		changed = tag.RowsAffected() == 1
		if !changed || db.OnEscalate == nil {
			return nil
		}
		return db.OnEscalate(ctx, tx, e)
	})
	if err != nil {
		return false, fmt.Errorf("escalate conversation %d: %w", e.ConversationID, err)
	}
	return changed, nil
}

// AfterStore runs in the transaction that stores an operator's public
// message or notice, with the conversation it belongs to. The console uses
// it to queue the message's delivery on channels that send from jobs, such
// as WhatsApp, so that a delivery is queued if and only if its message is
// stored. Nil does nothing.
type AfterStore func(ctx context.Context, tx pgx.Tx, conv *salesagent.Conversation, msg salesagent.Message) error

func (f AfterStore) run(ctx context.Context, tx pgx.Tx, conv *salesagent.Conversation, msg salesagent.Message) error {
	if f == nil {
		return nil
	}
	return f(ctx, tx, conv, msg)
}

// ClaimConversation gives the conversation to the operator and stores
// notice, a public system message, in the same transaction. Only one
// operator holds a conversation. Claiming one that another operator holds
// is an ECONFLICT error, except for a shop admin, who takes it over.
// Claiming one that op holds already changes nothing and returns a zero
// Message. The returned conversation's LastSeq is the last seq before
// notice, so every agent message has a seq up to it.
func (db *DB) ClaimConversation(ctx context.Context, op *Operator, id int64, notice string, after AfterStore) (*salesagent.Conversation, salesagent.Message, error) {
	var conv *salesagent.Conversation
	var stored salesagent.Message
	err := db.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		conv, err = lockConversation(ctx, tx, op.ShopID, id)
		if err != nil {
			return err
		}
		var from *int64
		if conv.Status == salesagent.StatusOperator && conv.OwnerOperatorID != nil {
			switch {
			case *conv.OwnerOperatorID == op.ID:
				return nil
			case op.Role != OperatorRoleAdmin:
				return heldError(ctx, tx, op.ShopID, id)
			}
			from = conv.OwnerOperatorID
		}
		data := map[string]any{"operator_id": op.ID}
		if from != nil {
			data["from_operator_id"] = *from
		}
		stored, err = moveConversation(ctx, tx, op, conv, handoffStep{
			status: salesagent.StatusOperator, owner: &op.ID, event: salesagent.EventOperatorClaimed, data: data, notice: notice,
		}, after)
		return err
	})
	if err != nil {
		return nil, salesagent.Message{}, fmt.Errorf("claim conversation %d: %w", id, err)
	}
	return conv, stored, nil
}

// lockConversation reads the conversation and locks its row until tx ends.
func lockConversation(ctx context.Context, tx pgx.Tx, shopID, id int64) (*salesagent.Conversation, error) {
	conv, err := scanConversation(tx.QueryRow(ctx, `SELECT `+conversationColumns+` FROM conversations
		WHERE shop_id = $1 AND id = $2 FOR UPDATE`, shopID, id))
	if err != nil {
		return nil, translate(err, fmt.Sprintf("conversation %d", id))
	}
	return conv, nil
}

// handoffStep is one move of a conversation between the agent and the
// operators: its new status and owner (nil for none), the event recorded
// with data, and notice, the public system message the shopper sees.
type handoffStep struct {
	status string
	owner  *int64
	event  string
	data   map[string]any
	notice string
}

// moveConversation applies step to conv, whose row tx has locked, in the
// order every handoff needs: status and owner, the event, the notice, then
// after with the stored notice.
func moveConversation(ctx context.Context, tx pgx.Tx, op *Operator, conv *salesagent.Conversation, step handoffStep, after AfterStore) (salesagent.Message, error) {
	if _, err := tx.Exec(ctx, `UPDATE conversations SET status = $3, owner_operator_id = $4, updated_at = now()
		WHERE shop_id = $1 AND id = $2`, conv.ShopID, conv.ID, step.status, step.owner); err != nil {
		return salesagent.Message{}, fmt.Errorf("set status %s: %w", step.status, err)
	}
	conv.Status, conv.OwnerOperatorID = step.status, step.owner
	if err := recordHandoff(ctx, tx, conv, step.event, step.data); err != nil {
		return salesagent.Message{}, err
	}
	stored, _, err := appendMessage(ctx, tx, conv.ShopID, salesagent.Message{
		ConversationID: conv.ID, Role: salesagent.RoleSystem, Body: step.notice, OperatorID: op.ID,
	})
	if err != nil {
		return salesagent.Message{}, err
	}
	return stored, after.run(ctx, tx, conv, stored)
}

// recordHandoff appends an event of a handoff step to the conversation's
// outcomes, for the record of who did what.
func recordHandoff(ctx context.Context, tx pgx.Tx, conv *salesagent.Conversation, eventType string, data map[string]any) error {
	raw, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("encode %s event: %w", eventType, err)
	}
	return InsertEvents(ctx, tx, conv.ShopID, conv.CustomerID, []salesagent.Event{{
		ShopID: conv.ShopID, ConversationID: &conv.ID, Type: eventType, Data: raw,
	}})
}

// heldError explains why a claim changed no row: the conversation is
// missing, or an operator holds it.
func heldError(ctx context.Context, q Querier, shopID, id int64) error {
	var name string
	err := q.QueryRow(ctx, `SELECT coalesce(o.name, 'another operator') FROM conversations c
		LEFT JOIN operators o ON o.id = c.owner_operator_id
		WHERE c.shop_id = $1 AND c.id = $2`, shopID, id).Scan(&name)
	if err != nil {
		return translate(err, fmt.Sprintf("conversation %d", id))
	}
	return salesagent.Errorf(salesagent.ECONFLICT, "conversation %d is already held by %s", id, name)
}

// lockHeld locks the conversation row and checks that op holds it. With
// adminMay, a shop admin passes too, as when releasing a conversation that
// an operator left behind. action names what op tried, for the error.
func lockHeld(ctx context.Context, tx pgx.Tx, op *Operator, id int64, adminMay bool, action string) (*salesagent.Conversation, error) {
	conv, err := lockConversation(ctx, tx, op.ShopID, id)
	if err != nil {
		return nil, err
	}
	if conv.Status != salesagent.StatusOperator || conv.OwnerOperatorID == nil {
		return nil, salesagent.Errorf(salesagent.ECONFLICT, "conversation %d is not held by an operator: take it over first", id)
	}
	if *conv.OwnerOperatorID == op.ID || (adminMay && op.Role == OperatorRoleAdmin) {
		return conv, nil
	}
	if adminMay {
		return nil, salesagent.Errorf(salesagent.EFORBIDDEN, "conversation %d is held by another operator: only they or a shop admin can %s it", id, action)
	}
	if op.Role == OperatorRoleAdmin {
		return nil, salesagent.Errorf(salesagent.EFORBIDDEN, "conversation %d is held by another operator: take it over first to %s", id, action)
	}
	return nil, salesagent.Errorf(salesagent.EFORBIDDEN, "conversation %d is held by another operator: only they can %s", id, action)
}

// HandBackConversation returns a conversation that op holds to the agent
// (status open, no owner) and stores notice, a public system message.
func (db *DB) HandBackConversation(ctx context.Context, op *Operator, id int64, notice string, after AfterStore) (salesagent.Message, error) {
	var stored salesagent.Message
	err := db.InTx(ctx, func(tx pgx.Tx) error {
		conv, err := lockHeld(ctx, tx, op, id, true, "hand back")
		if err != nil {
			return err
		}
		stored, err = moveConversation(ctx, tx, op, conv, handoffStep{
			status: salesagent.StatusOpen, event: salesagent.EventHandedBack, data: map[string]any{"operator_id": op.ID}, notice: notice,
		}, after)
		return err
	})
	if err != nil {
		return salesagent.Message{}, fmt.Errorf("hand back conversation %d: %w", id, err)
	}
	return stored, nil
}

// ResolveConversation closes the conversation (status resolved, no owner)
// and stores notice, a public system message, unless it was resolved
// already. A conversation that an operator holds can be resolved by that
// operator or a shop admin. Any operator of the shop may resolve one that
// no operator holds. It returns the stored notice, or a zero Message.
func (db *DB) ResolveConversation(ctx context.Context, op *Operator, id int64, notice string, after AfterStore) (salesagent.Message, error) {
	var stored salesagent.Message
	err := db.InTx(ctx, func(tx pgx.Tx) error {
		conv, err := lockConversation(ctx, tx, op.ShopID, id)
		if err != nil {
			return err
		}
		if conv.Status == salesagent.StatusResolved {
			return nil
		}
		if conv.Status == salesagent.StatusOperator && conv.OwnerOperatorID != nil && *conv.OwnerOperatorID != op.ID && op.Role != OperatorRoleAdmin {
			return salesagent.Errorf(salesagent.EFORBIDDEN, "conversation %d is held by another operator: only they or a shop admin can resolve it", id)
		}
		stored, err = moveConversation(ctx, tx, op, conv, handoffStep{
			status: salesagent.StatusResolved, event: salesagent.EventResolved,
			data: map[string]any{"operator_id": op.ID, "from_status": conv.Status}, notice: notice,
		}, after)
		return err
	})
	if err != nil {
		return salesagent.Message{}, fmt.Errorf("resolve conversation %d: %w", id, err)
	}
	return stored, nil
}

// AppendOperatorReply stores a public operator message in a conversation
// that op holds. The new-message notification reaches the shopper's socket;
// after queues the delivery on other channels.
func (db *DB) AppendOperatorReply(ctx context.Context, op *Operator, id int64, body string, after AfterStore) (salesagent.Message, error) {
	var stored salesagent.Message
	err := db.InTx(ctx, func(tx pgx.Tx) error {
		conv, err := lockHeld(ctx, tx, op, id, false, "reply")
		if err != nil {
			return err
		}
		stored, _, err = appendMessage(ctx, tx, op.ShopID, salesagent.Message{
			ConversationID: id, Role: salesagent.RoleOperator, Body: body, OperatorID: op.ID,
		})
		if err != nil {
			return err
		}
		return after.run(ctx, tx, conv, stored)
	})
	if err != nil {
		return salesagent.Message{}, fmt.Errorf("reply in conversation %d: %w", id, err)
	}
	return stored, nil
}

// AppendOperatorNote stores an internal note, which only operators see. Any
// operator of the shop may add one, holding the conversation or not.
func (db *DB) AppendOperatorNote(ctx context.Context, op *Operator, id int64, body string) (salesagent.Message, error) {
	var stored salesagent.Message
	err := db.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		stored, _, err = appendMessage(ctx, tx, op.ShopID, salesagent.Message{
			ConversationID: id, Role: salesagent.RoleOperator, Body: body, OperatorID: op.ID, Internal: true,
		})
		return err
	})
	if err != nil {
		return salesagent.Message{}, fmt.Errorf("add note to conversation %d: %w", id, err)
	}
	return stored, nil
}

// QueueEntry is a conversation waiting for a person.
type QueueEntry struct {
	Conversation *salesagent.Conversation
	// EscalatedAt is when the latest escalation happened, or when the
	// conversation last changed if no escalation event was recorded.
	EscalatedAt time.Time
	// Reason and Summary come from the latest escalated event.
	Reason   string
	Summary  string
	Customer *salesagent.Customer
	// Cart is the conversation's latest saved cart, or nil.
	Cart *SavedCart
	// LastMessage is the latest public message.
	LastMessage *salesagent.Message
}

// SavedCart is a cart saved during a conversation.
type SavedCart struct {
	Token   string                `json:"token"`
	Items   []salesagent.CartItem `json:"items"`
	SavedAt time.Time             `json:"saved_at"`
}

// HandoffQueue returns the shop's conversations that wait for a person
// (status escalated) or that an operator holds (status operator): the
// waiting ones first, longest waiting first, then the held ones.
func (db *DB) HandoffQueue(ctx context.Context, shopID int64) ([]QueueEntry, error) {
	rows, err := db.Pool.Query(ctx, `
		SELECT c.id, c.shop_id, c.customer_id, c.channel, c.status, c.last_seq, c.owner_operator_id, c.created_at,
			coalesce(e.created_at, c.updated_at), coalesce(e.data->>'reason', ''), coalesce(e.data->>'summary', '')
		FROM conversations c
		LEFT JOIN LATERAL (SELECT created_at, data FROM events
			WHERE shop_id = c.shop_id AND conversation_id = c.id AND type = 'escalated' ORDER BY id DESC LIMIT 1) e ON true
		WHERE c.shop_id = $1 AND c.status IN ('escalated', 'operator')
		ORDER BY c.status = 'operator', 9, c.id`, shopID)
	if err != nil {
		return nil, fmt.Errorf("load handoff queue: %w", err)
	}
	var queue []QueueEntry
	for rows.Next() {
		var c salesagent.Conversation
		var entry QueueEntry
		if err := rows.Scan(&c.ID, &c.ShopID, &c.CustomerID, &c.Channel, &c.Status, &c.LastSeq, &c.OwnerOperatorID, &c.CreatedAt,
			&entry.EscalatedAt, &entry.Reason, &entry.Summary); err != nil {
			rows.Close()
			return nil, fmt.Errorf("load handoff queue: %w", err)
		}
		entry.Conversation = &c
		queue = append(queue, entry)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load handoff queue: %w", err)
	}

	if err := db.fillQueue(ctx, shopID, queue); err != nil {
		return nil, err
	}
	return queue, nil
}

// fillQueue sets each entry's customer, cart and last message, with one
// query for each of the three whatever the queue's length.
func (db *DB) fillQueue(ctx context.Context, shopID int64, queue []QueueEntry) error {
	if len(queue) == 0 {
		return nil
	}
	byConversation := make(map[int64]*QueueEntry, len(queue))
	convIDs := make([]int64, 0, len(queue))
	var customerIDs []int64
	for i := range queue {
		conv := queue[i].Conversation
		byConversation[conv.ID] = &queue[i]
		convIDs = append(convIDs, conv.ID)
		if conv.CustomerID != nil {
			customerIDs = append(customerIDs, *conv.CustomerID)
		}
	}

	if len(customerIDs) > 0 {
		rows, err := db.Pool.Query(ctx, `SELECT `+customerColumns+` FROM customers WHERE shop_id = $1 AND id = ANY($2)`, shopID, customerIDs)
		if err != nil {
			return fmt.Errorf("load customers of the handoff queue: %w", err)
		}
		customers, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*salesagent.Customer, error) { return scanCustomer(row) })
		if err != nil {
			return fmt.Errorf("load customers of the handoff queue: %w", err)
		}
		byID := make(map[int64]*salesagent.Customer, len(customers))
		for _, c := range customers {
			byID[c.ID] = c
		}
		for i := range queue {
			if id := queue[i].Conversation.CustomerID; id != nil {
				queue[i].Customer = byID[*id]
			}
		}
	}

	rows, err := db.Pool.Query(ctx, `
		SELECT DISTINCT ON (conversation_id) conversation_id, token, items, created_at FROM carts
		WHERE shop_id = $1 AND conversation_id = ANY($2) ORDER BY conversation_id, id DESC`, shopID, convIDs)
	if err != nil {
		return fmt.Errorf("load carts of the handoff queue: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var convID int64
		var cart SavedCart
		var raw []byte
		if err := rows.Scan(&convID, &cart.Token, &raw, &cart.SavedAt); err != nil {
			return fmt.Errorf("load carts of the handoff queue: %w", err)
		}
		if err := json.Unmarshal(raw, &cart.Items); err != nil {
			return fmt.Errorf("decode cart of conversation %d: %w", convID, err)
		}
		byConversation[convID].Cart = &cart
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load carts of the handoff queue: %w", err)
	}
	rows.Close()

	last, err := db.queryMessages(ctx, `
		SELECT m.* FROM unnest($2::bigint[]) AS q (id)
		CROSS JOIN LATERAL (SELECT `+messageColumns+` FROM messages
			WHERE shop_id = $1 AND conversation_id = q.id AND visibility = 'public' ORDER BY seq DESC LIMIT 1) m`,
		shopID, convIDs)
	if err != nil {
		return fmt.Errorf("load last messages of the handoff queue: %w", err)
	}
	for i := range last {
		byConversation[last[i].ConversationID].LastMessage = &last[i]
	}
	return nil
}

// ConversationCart returns the latest cart saved in the conversation, or
// nil when none was saved.
func (db *DB) ConversationCart(ctx context.Context, shopID, conversationID int64) (*SavedCart, error) {
	var cart SavedCart
	var raw []byte
	err := db.Pool.QueryRow(ctx, `SELECT token, items, created_at FROM carts
		WHERE shop_id = $1 AND conversation_id = $2 ORDER BY id DESC LIMIT 1`, shopID, conversationID).Scan(&cart.Token, &raw, &cart.SavedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load cart of conversation %d: %w", conversationID, err)
	}
	if err := json.Unmarshal(raw, &cart.Items); err != nil {
		return nil, fmt.Errorf("decode cart of conversation %d: %w", conversationID, err)
	}
	return &cart, nil
}
