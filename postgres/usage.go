package postgres

import (
	"context"
	"fmt"
)

// TurnUsage is the language model usage of one agent turn.
type TurnUsage struct {
	// MessageID is the agent reply the usage belongs to.
	MessageID        int64
	Model            string
	Requests         int
	PromptTokens     int
	CompletionTokens int
	Estimated        bool
	CostUSD          float64
}

// RecordTurnUsage stores the usage of the turn that produced the agent
// message u.MessageID.
func (db *DB) RecordTurnUsage(ctx context.Context, shopID, conversationID int64, u TurnUsage) error {
	_, err := db.Pool.Exec(ctx, `
		INSERT INTO turn_usage (shop_id, conversation_id, message_id, model, requests, prompt_tokens, completion_tokens, estimated, cost_usd)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		shopID, conversationID, u.MessageID, u.Model, u.Requests, u.PromptTokens, u.CompletionTokens, u.Estimated, u.CostUSD)
	return translate(err, fmt.Sprintf("usage of message %d", u.MessageID))
}

// ConversationUsage returns the usage of every turn of a conversation,
// oldest first.
func (db *DB) ConversationUsage(ctx context.Context, shopID, conversationID int64) ([]TurnUsage, error) {
	rows, err := db.Pool.Query(ctx, `SELECT message_id, model, requests, prompt_tokens, completion_tokens, estimated, cost_usd::float8
		FROM turn_usage WHERE shop_id = $1 AND conversation_id = $2 ORDER BY id`, shopID, conversationID)
	if err != nil {
		return nil, fmt.Errorf("load usage of conversation %d: %w", conversationID, err)
	}
	defer rows.Close()
	var out []TurnUsage
	for rows.Next() {
		var u TurnUsage
		if err := rows.Scan(&u.MessageID, &u.Model, &u.Requests, &u.PromptTokens, &u.CompletionTokens, &u.Estimated, &u.CostUSD); err != nil {
			return nil, fmt.Errorf("load usage of conversation %d: %w", conversationID, err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}
