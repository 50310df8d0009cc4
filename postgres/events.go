package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/salesagent/salesagent"
)

// RecordEvents appends outcome events and, when customerID is set, applies
// update to that customer's profile, in one transaction.
func (db *DB) RecordEvents(ctx context.Context, shopID int64, customerID *int64, events []salesagent.Event, update func(*salesagent.Profile)) error {
	return db.InTx(ctx, func(tx pgx.Tx) error {
		return RecordEventsIn(ctx, tx, shopID, customerID, events, update)
	})
}

// RecordEventsIn does what RecordEvents does within tx, so that the events
// are stored with the change they record.
func RecordEventsIn(ctx context.Context, tx pgx.Tx, shopID int64, customerID *int64, events []salesagent.Event, update func(*salesagent.Profile)) error {
	// The customer's row is locked before the events are inserted. Each
	// insert takes a key-share lock on the row, for the foreign key, so
	// two turns of one shopper that inserted first and then asked for the
	// row lock waited for each other: a deadlock. FOR NO KEY UPDATE does
	// not conflict with those key-share locks.
	var profile salesagent.Profile
	updating := customerID != nil && update != nil
	if updating {
		var raw []byte
		if err := tx.QueryRow(ctx, `SELECT profile FROM customers WHERE shop_id = $1 AND id = $2 FOR NO KEY UPDATE`, shopID, *customerID).Scan(&raw); err != nil {
			return translate(err, fmt.Sprintf("customer %d", *customerID))
		}
		if err := json.Unmarshal(raw, &profile); err != nil {
			return fmt.Errorf("decode profile of customer %d: %w", *customerID, err)
		}
	}

	if err := InsertEvents(ctx, tx, shopID, customerID, events); err != nil {
		return err
	}
	if !updating {
		return nil
	}

	update(&profile)
	now := time.Now().UTC()
	profile.LastSeenAt = &now
	raw, _ := json.Marshal(profile)
	if _, err := tx.Exec(ctx, `UPDATE customers SET profile = $3, updated_at = now() WHERE shop_id = $1 AND id = $2`, shopID, *customerID, raw); err != nil {
		return fmt.Errorf("update profile of customer %d: %w", *customerID, err)
	}
	return nil
}

// ConversationEvents returns a conversation's events, oldest first.
func (db *DB) ConversationEvents(ctx context.Context, shopID, conversationID int64) ([]salesagent.Event, error) {
	rows, err := db.Pool.Query(ctx, `SELECT shop_id, conversation_id, customer_id, type, data, created_at FROM events
		WHERE shop_id = $1 AND conversation_id = $2 ORDER BY id`, shopID, conversationID)
	if err != nil {
		return nil, fmt.Errorf("load events: %w", err)
	}
	defer rows.Close()
	var events []salesagent.Event
	for rows.Next() {
		var e salesagent.Event
		var data []byte
		if err := rows.Scan(&e.ShopID, &e.ConversationID, &e.CustomerID, &e.Type, &data, &e.CreatedAt); err != nil {
			return nil, fmt.Errorf("load events: %w", err)
		}
		e.Data = data
		events = append(events, e)
	}
	return events, rows.Err()
}
