package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Discount is a discount code granted in a conversation.
type Discount struct {
	ConversationID int64
	Code           string
	Percent        float64
	Reason         string
	CreatedAt      time.Time
}

// CreateDiscount stores a discount code for a conversation. A conversation
// holds at most one: when it has one already, CreateDiscount stores
// nothing and returns the existing discount with created false. A code
// already used in the shop is an error with code conflict.
func (db *DB) CreateDiscount(ctx context.Context, shopID, conversationID int64, customerID *int64, code string, percent float64, reason string) (d *Discount, created bool, err error) {
	d = &Discount{}
	err = db.Pool.QueryRow(ctx, `
		INSERT INTO discounts (shop_id, conversation_id, customer_id, code, percent, reason)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (conversation_id) DO NOTHING
		RETURNING conversation_id, code, percent::float8, reason, created_at`,
		shopID, conversationID, customerID, code, percent, reason,
	).Scan(&d.ConversationID, &d.Code, &d.Percent, &d.Reason, &d.CreatedAt)
	if err == nil {
		return d, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return nil, false, translate(err, fmt.Sprintf("discount code %s", code))
	}
	existing, err := db.ConversationDiscount(ctx, shopID, conversationID)
	if err != nil {
		return nil, false, err
	}
	return existing, false, nil
}

// ConversationDiscount returns the discount granted in a conversation.
func (db *DB) ConversationDiscount(ctx context.Context, shopID, conversationID int64) (*Discount, error) {
	d := &Discount{}
	err := db.Pool.QueryRow(ctx, `SELECT conversation_id, code, percent::float8, reason, created_at FROM discounts
		WHERE shop_id = $1 AND conversation_id = $2`, shopID, conversationID,
	).Scan(&d.ConversationID, &d.Code, &d.Percent, &d.Reason, &d.CreatedAt)
	if err != nil {
		return nil, translate(err, fmt.Sprintf("discount of conversation %d", conversationID))
	}
	return d, nil
}

// CountDiscounts returns the number of discount codes of a shop.
func (db *DB) CountDiscounts(ctx context.Context, shopID int64) (int, error) {
	var n int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM discounts WHERE shop_id = $1`, shopID).Scan(&n); err != nil {
		return 0, fmt.Errorf("count discounts: %w", err)
	}
	return n, nil
}
