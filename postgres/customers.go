package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/salesagent/salesagent"
)

// UpsertCustomers stores customers matched by external id and returns the
// database id of each external id.
func (db *DB) UpsertCustomers(ctx context.Context, shopID int64, customers []salesagent.Customer) (map[string]int64, error) {
	ids := make(map[string]int64, len(customers))
	batch := &pgx.Batch{}
	for _, c := range customers {
		var email *string
		if c.Email != "" {
			e := strings.ToLower(c.Email)
			email = &e
		}
		var phone *string
		if c.Phone != "" {
			phone = &c.Phone
		}
		batch.Queue(`
			INSERT INTO customers (shop_id, external_id, email, name, phone) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (shop_id, external_id) WHERE external_id IS NOT NULL
			DO UPDATE SET email = EXCLUDED.email, name = EXCLUDED.name, phone = EXCLUDED.phone, updated_at = now()
			RETURNING id`, shopID, c.ExternalID, email, c.Name, phone)
	}
	results := db.Pool.SendBatch(ctx, batch)
	defer results.Close()
	for _, c := range customers {
		var id int64
		if err := results.QueryRow().Scan(&id); err != nil {
			return ids, fmt.Errorf("store customer %q: %w", c.ExternalID, translate(err, "customer"))
		}
		ids[c.ExternalID] = id
	}
	return ids, nil
}

const customerColumns = `id, shop_id, coalesce(external_id, ''), coalesce(email, ''), name, coalesce(phone, ''), profile`

func scanCustomer(row pgx.Row) (*salesagent.Customer, error) {
	var c salesagent.Customer
	var profile []byte
	if err := row.Scan(&c.ID, &c.ShopID, &c.ExternalID, &c.Email, &c.Name, &c.Phone, &profile); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(profile, &c.Profile); err != nil {
		return nil, fmt.Errorf("decode profile of customer %d: %w", c.ID, err)
	}
	return &c, nil
}

// CustomerByID returns a customer of the shop.
func (db *DB) CustomerByID(ctx context.Context, shopID, id int64) (*salesagent.Customer, error) {
	c, err := scanCustomer(db.Pool.QueryRow(ctx, `SELECT `+customerColumns+` FROM customers WHERE shop_id = $1 AND id = $2`, shopID, id))
	return c, translate(err, "customer")
}

// CustomerByEmail returns the customer with the given email, compared
// case-insensitively.
func (db *DB) CustomerByEmail(ctx context.Context, shopID int64, email string) (*salesagent.Customer, error) {
	c, err := scanCustomer(db.Pool.QueryRow(ctx, `SELECT `+customerColumns+` FROM customers WHERE shop_id = $1 AND lower(email) = lower($2)`, shopID, strings.TrimSpace(email)))
	return c, translate(err, "customer with this email")
}

// CreateCustomer stores a new anonymous customer, as for a new widget visitor.
func (db *DB) CreateCustomer(ctx context.Context, shopID int64) (*salesagent.Customer, error) {
	c, err := scanCustomer(db.Pool.QueryRow(ctx, `INSERT INTO customers (shop_id) VALUES ($1) RETURNING `+customerColumns, shopID))
	return c, translate(err, "customer")
}

// UpsertOrders stores orders matched by number; each order's CustomerID
// must already name a stored customer or be nil.
func (db *DB) UpsertOrders(ctx context.Context, shopID int64, orders []salesagent.Order) error {
	batch := &pgx.Batch{}
	for _, o := range orders {
		items, _ := json.Marshal(o.Items)
		fulfillments, _ := json.Marshal(o.Fulfillments)
		var total *int64
		if o.Total != nil {
			t := int64(*o.Total)
			total = &t
		}
		batch.Queue(`
			INSERT INTO orders (shop_id, customer_id, number, status, items, fulfillments, total, placed_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7::numeric / 100, $8)
			ON CONFLICT (shop_id, number) DO UPDATE SET customer_id = EXCLUDED.customer_id, status = EXCLUDED.status,
				items = EXCLUDED.items, fulfillments = EXCLUDED.fulfillments, total = EXCLUDED.total, placed_at = EXCLUDED.placed_at`,
			shopID, o.CustomerID, o.Number, o.Status, items, fulfillments, total, o.PlacedAt)
	}
	results := db.Pool.SendBatch(ctx, batch)
	defer results.Close()
	for _, o := range orders {
		if _, err := results.Exec(); err != nil {
			return fmt.Errorf("store order %s: %w", o.Number, translate(err, "order"))
		}
	}
	return nil
}

// OrderByNumber returns an order of the shop by its number. A leading "#" is
// optional.
func (db *DB) OrderByNumber(ctx context.Context, shopID int64, number string) (*salesagent.Order, error) {
	number = strings.TrimSpace(number)
	var o salesagent.Order
	var items, fulfillments []byte
	var total *int64
	err := db.Pool.QueryRow(ctx, `
		SELECT id, shop_id, customer_id, number, status, items, fulfillments, (total * 100)::bigint, placed_at
		FROM orders WHERE shop_id = $1 AND (number = $2 OR number = '#' || $2)`, shopID, number).
		Scan(&o.ID, &o.ShopID, &o.CustomerID, &o.Number, &o.Status, &items, &fulfillments, &total, &o.PlacedAt)
	if err != nil {
		return nil, translate(err, fmt.Sprintf("order %s", number))
	}
	if total != nil {
		t := salesagent.Money(*total)
		o.Total = &t
	}
	if err := json.Unmarshal(items, &o.Items); err != nil {
		return nil, fmt.Errorf("decode items of order %s: %w", o.Number, err)
	}
	if err := json.Unmarshal(fulfillments, &o.Fulfillments); err != nil {
		return nil, fmt.Errorf("decode fulfillments of order %s: %w", o.Number, err)
	}
	return &o, nil
}

// CustomerIDsByEmail returns the ids of the shop's customers with the
// given emails, keyed by the email in lowercase.
func (db *DB) CustomerIDsByEmail(ctx context.Context, shopID int64, emails []string) (map[string]int64, error) {
	lower := make([]string, len(emails))
	for i, e := range emails {
		lower[i] = strings.ToLower(strings.TrimSpace(e))
	}
	rows, err := db.Pool.Query(ctx, `SELECT lower(email), id FROM customers WHERE shop_id = $1 AND lower(email) = ANY($2)`, shopID, lower)
	if err != nil {
		return nil, fmt.Errorf("look up customers by email: %w", err)
	}
	defer rows.Close()
	ids := make(map[string]int64)
	for rows.Next() {
		var email string
		var id int64
		if err := rows.Scan(&email, &id); err != nil {
			return nil, fmt.Errorf("look up customers by email: %w", err)
		}
		ids[email] = id
	}
	return ids, rows.Err()
}

// CustomerIDsByExternalID returns the database ids of the shop's customers
// with the given external ids; unknown ids are left out.
func (db *DB) CustomerIDsByExternalID(ctx context.Context, shopID int64, externalIDs []string) (map[string]int64, error) {
	rows, err := db.Pool.Query(ctx, `SELECT external_id, id FROM customers WHERE shop_id = $1 AND external_id = ANY($2)`, shopID, externalIDs)
	if err != nil {
		return nil, fmt.Errorf("look up customers: %w", err)
	}
	defer rows.Close()
	ids := make(map[string]int64)
	for rows.Next() {
		var ext string
		var id int64
		if err := rows.Scan(&ext, &id); err != nil {
			return nil, fmt.Errorf("look up customers: %w", err)
		}
		ids[ext] = id
	}
	return ids, rows.Err()
}
