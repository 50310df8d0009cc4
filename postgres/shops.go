package postgres

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/salesagent/salesagent"
)

const shopColumns = `id, slug, name, widget_key, allowed_origins, currency, embedder, settings, created_at`

func scanShop(row pgx.Row) (*salesagent.Shop, error) {
	var shop salesagent.Shop
	var settings []byte
	err := row.Scan(&shop.ID, &shop.Slug, &shop.Name, &shop.WidgetKey, &shop.AllowedOrigins,
		&shop.Currency, &shop.Embedder, &settings, &shop.CreatedAt)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(settings, &shop.Settings); err != nil {
		return nil, fmt.Errorf("decode settings of shop %s: %w", shop.Slug, err)
	}
	return &shop, nil
}

// NewWidgetKey returns a random public key for a shop's widget.
func NewWidgetKey() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return "pk_" + base64.RawURLEncoding.EncodeToString(b)
}

// EnsureShop returns the shop with the given slug, creating it with name
// when it does not exist yet. created reports whether it was created.
func (db *DB) EnsureShop(ctx context.Context, slug, name string) (shop *salesagent.Shop, created bool, err error) {
	if !salesagent.ValidSlug(slug) {
		return nil, false, salesagent.Errorf(salesagent.EINVALID,
			"invalid shop slug %q: use 1 to 63 lowercase letters, digits and hyphens, starting with a letter or digit", slug)
	}
	if name == "" {
		name = slug
	}
	row := db.Pool.QueryRow(ctx, `
		INSERT INTO shops (slug, name, widget_key) VALUES ($1, $2, $3)
		ON CONFLICT (slug) DO NOTHING
		RETURNING `+shopColumns, slug, name, NewWidgetKey())
	shop, err = scanShop(row)
	if err == nil {
		return shop, true, nil
	}
	if err != pgx.ErrNoRows {
		return nil, false, translate(err, "shop "+slug)
	}
	shop, err = db.ShopBySlug(ctx, slug)
	return shop, false, err
}

// DeleteShop deletes the shop and, through the schema's ON DELETE CASCADE
// foreign keys, every row it owns: catalog, chunks, embeddings,
// conversations, customers and events. It returns a not-found error when
// no shop has the id.
//
// The HNSW indexes keep the space of the deleted vectors until
// retrieval's index check rebuilds them.
func (db *DB) DeleteShop(ctx context.Context, id int64) error {
	tag, err := db.Pool.Exec(ctx, `DELETE FROM shops WHERE id = $1`, id)
	if err != nil {
		return translate(err, fmt.Sprintf("shop %d", id))
	}
	if tag.RowsAffected() == 0 {
		return salesagent.Errorf(salesagent.ENOTFOUND, "shop %d not found", id)
	}
	return nil
}

// ShopContents is the number of rows a shop owns, by kind, shown before
// the shop is deleted.
type ShopContents struct {
	Products, Documents, Conversations, Customers int
}

// CountShopContents counts the shop's products, documents (FAQ, policies,
// size guides, pages), conversations and customers.
func (db *DB) CountShopContents(ctx context.Context, id int64) (ShopContents, error) {
	var c ShopContents
	err := db.Pool.QueryRow(ctx, `
		SELECT (SELECT count(*) FROM products WHERE shop_id = $1),
		       (SELECT count(*) FROM documents WHERE shop_id = $1),
		       (SELECT count(*) FROM conversations WHERE shop_id = $1),
		       (SELECT count(*) FROM customers WHERE shop_id = $1)`, id).
		Scan(&c.Products, &c.Documents, &c.Conversations, &c.Customers)
	if err != nil {
		return c, fmt.Errorf("count the contents of shop %d: %w", id, err)
	}
	return c, nil
}

// ShopSummary is one line of the list of shops.
type ShopSummary struct {
	Slug, Name string
	CreatedAt  time.Time
	ShopContents
	// Waiting counts the conversations that wait for a person.
	Waiting int
}

// ShopSummaries lists every shop, ordered by slug, with what it holds.
func (db *DB) ShopSummaries(ctx context.Context) ([]ShopSummary, error) {
	rows, err := db.Pool.Query(ctx, `
		SELECT s.slug, s.name, s.created_at,
		       (SELECT count(*) FROM products WHERE shop_id = s.id),
		       (SELECT count(*) FROM documents WHERE shop_id = s.id),
		       (SELECT count(*) FROM conversations WHERE shop_id = s.id),
		       (SELECT count(*) FROM customers WHERE shop_id = s.id),
		       (SELECT count(*) FROM conversations WHERE shop_id = s.id AND status = 'escalated')
		FROM shops s ORDER BY s.slug`)
	if err != nil {
		return nil, fmt.Errorf("list shops: %w", err)
	}
	defer rows.Close()
	var out []ShopSummary
	for rows.Next() {
		var s ShopSummary
		if err := rows.Scan(&s.Slug, &s.Name, &s.CreatedAt, &s.Products, &s.Documents, &s.Conversations, &s.Customers, &s.Waiting); err != nil {
			return nil, fmt.Errorf("list shops: %w", err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// ShopBySlug returns the shop with the given slug.
func (db *DB) ShopBySlug(ctx context.Context, slug string) (*salesagent.Shop, error) {
	shop, err := scanShop(db.Pool.QueryRow(ctx, `SELECT `+shopColumns+` FROM shops WHERE slug = $1`, slug))
	return shop, translate(err, fmt.Sprintf("shop %q", slug))
}

// ShopByWidgetKey returns the shop whose public widget key is key.
func (db *DB) ShopByWidgetKey(ctx context.Context, key string) (*salesagent.Shop, error) {
	shop, err := scanShop(db.Pool.QueryRow(ctx, `SELECT `+shopColumns+` FROM shops WHERE widget_key = $1`, key))
	return shop, translate(err, "shop for this widget key")
}

// ShopByID returns the shop with the given id.
func (db *DB) ShopByID(ctx context.Context, id int64) (*salesagent.Shop, error) {
	shop, err := scanShop(db.Pool.QueryRow(ctx, `SELECT `+shopColumns+` FROM shops WHERE id = $1`, id))
	return shop, translate(err, fmt.Sprintf("shop %d", id))
}

// ListShops returns every shop ordered by slug.
func (db *DB) ListShops(ctx context.Context) ([]*salesagent.Shop, error) {
	rows, err := db.Pool.Query(ctx, `SELECT `+shopColumns+` FROM shops ORDER BY slug`)
	if err != nil {
		return nil, fmt.Errorf("list shops: %w", err)
	}
	defer rows.Close()
	var shops []*salesagent.Shop
	for rows.Next() {
		shop, err := scanShop(rows)
		if err != nil {
			return nil, fmt.Errorf("list shops: %w", err)
		}
		shops = append(shops, shop)
	}
	return shops, rows.Err()
}

// UpdateShop stores a shop's name, allowed origins, currency and settings.
func (db *DB) UpdateShop(ctx context.Context, shop *salesagent.Shop) error {
	settings, err := json.Marshal(shop.Settings)
	if err != nil {
		return fmt.Errorf("encode shop settings: %w", err)
	}
	origins := shop.AllowedOrigins
	if origins == nil {
		origins = []string{}
	}
	_, err = db.Pool.Exec(ctx, `
		UPDATE shops SET name = $2, allowed_origins = $3, currency = $4, settings = $5, updated_at = now()
		WHERE id = $1`, shop.ID, shop.Name, origins, shop.Currency, settings)
	return translate(err, "shop "+shop.Slug)
}

// ShopEmbedders names the embedders of a shop's vectors.
type ShopEmbedders struct {
	// Active is the embedder that search uses.
	Active string
	// Pending is the embedder the shop is switching to, or "" when no
	// switch is running.
	Pending string
}

// ShopEmbedders returns the active and pending embedder of the shop.
func (db *DB) ShopEmbedders(ctx context.Context, shopID int64) (ShopEmbedders, error) {
	return LoadShopEmbedders(ctx, db.Pool, shopID, false)
}

// LoadShopEmbedders returns the active and pending embedder of the shop.
// With forUpdate, q must be a transaction, and the shop row stays locked
// until it ends, so that no other switch or promotion runs meanwhile.
func LoadShopEmbedders(ctx context.Context, q Querier, shopID int64, forUpdate bool) (ShopEmbedders, error) {
	sql := `SELECT embedder, coalesce(pending_embedder, '') FROM shops WHERE id = $1`
	if forUpdate {
		sql += ` FOR NO KEY UPDATE`
	}
	var e ShopEmbedders
	err := q.QueryRow(ctx, sql, shopID).Scan(&e.Active, &e.Pending)
	return e, translate(err, fmt.Sprintf("shop %d", shopID))
}

// SetPendingEmbedder records that the shop is switching to the embedder
// name. Naming the active embedder cancels a running switch instead.
func SetPendingEmbedder(ctx context.Context, q Querier, shopID int64, name string) error {
	tag, err := q.Exec(ctx, `UPDATE shops SET pending_embedder = nullif($2, embedder), updated_at = now() WHERE id = $1`,
		shopID, name)
	if err != nil {
		return translate(err, fmt.Sprintf("shop %d", shopID))
	}
	if tag.RowsAffected() == 0 {
		return salesagent.Errorf(salesagent.ENOTFOUND, "shop %d not found", shopID)
	}
	return nil
}

// PromoteEmbedder makes the shop's pending embedder active and clears the
// pending one, in one statement, when the pending embedder is still name.
// It reports whether it did; false means the switch was cancelled or
// replaced by a switch to another embedder.
func PromoteEmbedder(ctx context.Context, q Querier, shopID int64, name string) (bool, error) {
	tag, err := q.Exec(ctx, `UPDATE shops SET embedder = pending_embedder, pending_embedder = NULL, updated_at = now()
		WHERE id = $1 AND pending_embedder = $2`, shopID, name)
	if err != nil {
		return false, translate(err, fmt.Sprintf("shop %d", shopID))
	}
	return tag.RowsAffected() == 1, nil
}
