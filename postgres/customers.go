package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/salesagent/salesagent"
)

// UpsertCustomers stores customers matched by external id and returns the
// database id of each external id. It is ImportCustomers for callers that
// expect no rejection: the first customer left out, whose email another
// customer of the shop has, is returned as an *EmailTakenError, and the
// others are still stored.
func (db *DB) UpsertCustomers(ctx context.Context, shopID int64, customers []salesagent.Customer) (map[string]int64, error) {
	result, err := db.ImportCustomers(ctx, shopID, customers)
	if err != nil {
		return result.IDs, err
	}
	if len(result.Rejected) > 0 {
		return result.IDs, result.Rejected[0]
	}
	return result.IDs, nil
}

// CustomerImport is the outcome of ImportCustomers: the customers stored
// and those rejected.
type CustomerImport struct {
	// IDs maps the external id of each stored customer to its database id.
	IDs map[string]int64
	// Rejected are the customers left out, in the order given.
	Rejected []*EmailTakenError
}

// EmailTakenError reports a customer that was not stored because another
// customer of the shop has its email: the shop keeps one customer per
// email, compared without case.
type EmailTakenError struct {
	// Index is the customer's position in the slice given to
	// ImportCustomers.
	Index      int
	ExternalID string
	Email      string
	// OwnerExternalID is the external id of the customer that has the
	// email, "" when that customer has none.
	OwnerExternalID string
}

// Error names both customers and the fix.
func (e *EmailTakenError) Error() string {
	if e.OwnerExternalID == "" {
		return fmt.Sprintf("customer %q not stored, so its orders are stored without a customer: email %q already belongs to a customer of this shop without an external id "+
			"(fix: correct the email, or delete the other customer)", e.ExternalID, e.Email)
	}
	return fmt.Sprintf("customer %q not stored, so its orders are stored without a customer: email %q already belongs to customer %q of this shop "+
		"(fix: if both are the same person, give this customer id %q; otherwise correct the email of one of them)",
		e.ExternalID, e.Email, e.OwnerExternalID, e.OwnerExternalID)
}

// ImportCustomers stores customers matched by external id, leaving out
// each one whose email another customer has, and returns the database id
// of each stored external id with an *EmailTakenError per customer left
// out. A customer that moves to an email a customer of the same call gives
// up is stored after that one, so such moves succeed unless they form a
// cycle. Each round of storing costs two round trips, and a call needs
// more than one round only for such moves.
func (db *DB) ImportCustomers(ctx context.Context, shopID int64, customers []salesagent.Customer) (CustomerImport, error) {
	result := CustomerImport{IDs: make(map[string]int64, len(customers))}
	byExternalID := make(map[string]int, len(customers))
	for i, c := range customers {
		byExternalID[c.ExternalID] = i
	}
	rejected := map[int]bool{}
	reject := func(i int, owner string) {
		c := customers[i]
		rejected[i] = true
		result.Rejected = append(result.Rejected, &EmailTakenError{Index: i, ExternalID: c.ExternalID, Email: c.Email, OwnerExternalID: owner})
	}

	pending := make([]int, len(customers))
	for i := range customers {
		pending[i] = i
	}
	for len(pending) > 0 {
		owners, err := db.emailOwners(ctx, shopID, customers, pending)
		if err != nil {
			return result, err
		}

		var ready, blocked []int
		claimed := map[string]string{} // email to the external id storing it in this round
		for _, i := range pending {
			c := customers[i]
			email := normalEmail(c.Email)
			if email == "" {
				ready = append(ready, i)
				continue
			}
			if first, taken := claimed[email]; taken {
				reject(i, first)
				continue
			}
			owner, stored := owners[email]
			if !stored || (owner != nil && *owner == c.ExternalID) {
				claimed[email] = c.ExternalID
				ready = append(ready, i)
				continue
			}
			// The owner may be in this call with another email, which
			// frees this one once the owner is stored.
			if owner != nil {
				if j, ok := byExternalID[*owner]; ok && !rejected[j] && normalEmail(customers[j].Email) != email {
					blocked = append(blocked, i)
					continue
				}
			}
			reject(i, derefString(owner))
		}
		if len(ready) == 0 {
			// The blocked customers wait for each other in a cycle.
			for _, i := range blocked {
				reject(i, derefString(owners[normalEmail(customers[i].Email)]))
			}
			break
		}
		if err := db.storeCustomers(ctx, shopID, customers, ready, result.IDs); err != nil {
			return result, err
		}
		pending = blocked
	}
	sort.Slice(result.Rejected, func(a, b int) bool { return result.Rejected[a].Index < result.Rejected[b].Index })
	return result, nil
}

// normalEmail returns an email as the customers_shop_email index compares
// it.
func normalEmail(email string) string {
	return strings.ToLower(strings.TrimSpace(email))
}

// derefString returns *s, or "" for nil.
func derefString(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// emailOwners returns the external id (nil for none) of the stored
// customer that has each email of customers[indexes], keyed by
// normalEmail.
func (db *DB) emailOwners(ctx context.Context, shopID int64, customers []salesagent.Customer, indexes []int) (map[string]*string, error) {
	emails := make([]string, 0, len(indexes))
	for _, i := range indexes {
		if email := normalEmail(customers[i].Email); email != "" {
			emails = append(emails, email)
		}
	}
	owners := map[string]*string{}
	if len(emails) == 0 {
		return owners, nil
	}
	rows, err := db.Pool.Query(ctx, `SELECT lower(email), external_id FROM customers WHERE shop_id = $1 AND lower(email) = ANY($2)`, shopID, emails)
	if err != nil {
		return nil, fmt.Errorf("look up customer emails: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var email string
		var owner *string
		if err := rows.Scan(&email, &owner); err != nil {
			return nil, fmt.Errorf("look up customer emails: %w", err)
		}
		owners[email] = owner
	}
	return owners, rows.Err()
}

// storeCustomers upserts customers[indexes] in one batch and adds their
// database ids to ids.
func (db *DB) storeCustomers(ctx context.Context, shopID int64, customers []salesagent.Customer, indexes []int, ids map[string]int64) error {
	batch := &pgx.Batch{}
	for _, i := range indexes {
		c := customers[i]
		var email *string
		if e := normalEmail(c.Email); e != "" {
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
	for _, i := range indexes {
		var id int64
		if err := results.QueryRow().Scan(&id); err != nil {
			return fmt.Errorf("store customer %q: %w", customers[i].ExternalID, translate(err, "customer"))
		}
		ids[customers[i].ExternalID] = id
	}
	return nil
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
