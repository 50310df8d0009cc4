package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/salesagent/salesagent"
)

// UpsertResult counts what an upsert changed.
type UpsertResult struct {
	Inserted  int
	Updated   int
	Unchanged int
	// ChangedIDs are the ids of inserted or updated rows, whose chunks need
	// indexing again.
	ChangedIDs []int64
	// Rejected are the rows the database refused, such as a product whose
	// handle another product already has. The other rows are stored.
	Rejected []error
}

// ContentHash returns a stable hash of v's JSON encoding.
func ContentHash(v any) string {
	b, _ := json.Marshal(v)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// UpsertProducts stores products and their variants, matched by external id.
// A product whose content is unchanged is left alone, so re-ingesting the same
// file changes nothing.
func (db *DB) UpsertProducts(ctx context.Context, shopID int64, products []salesagent.Product) (UpsertResult, error) {
	var result UpsertResult
	for i := range products {
		p := &products[i]
		err := db.InTx(ctx, func(tx pgx.Tx) error {
			status, id, err := upsertProduct(ctx, tx, shopID, p)
			if err != nil {
				return err
			}
			switch status {
			case "inserted":
				result.Inserted++
				result.ChangedIDs = append(result.ChangedIDs, id)
			case "updated":
				result.Updated++
				result.ChangedIDs = append(result.ChangedIDs, id)
			default:
				result.Unchanged++
			}
			return nil
		})
		if err != nil {
			err = fmt.Errorf("store product %q (%s): %w", p.Title, p.ExternalID, err)
			if code := salesagent.ErrorCode(err); code == salesagent.EINVALID || code == salesagent.ECONFLICT {
				result.Rejected = append(result.Rejected, err)
				continue
			}
			return result, err
		}
	}
	return result, nil
}

func upsertProduct(ctx context.Context, tx pgx.Tx, shopID int64, p *salesagent.Product) (status string, id int64, err error) {
	hash := productHash(*p)
	attrs, _ := json.Marshal(nonNilMap(p.Attributes))
	tags := p.Tags
	if tags == nil {
		tags = []string{}
	}

	var oldHash string
	err = tx.QueryRow(ctx, `SELECT id, content_hash FROM products WHERE shop_id = $1 AND external_id = $2`,
		shopID, p.ExternalID).Scan(&id, &oldHash)
	switch {
	case err == pgx.ErrNoRows:
		status = "inserted"
		err = tx.QueryRow(ctx, `
			INSERT INTO products (shop_id, external_id, handle, title, description, product_type, vendor, tags, image_url, attributes, content_hash)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
			shopID, p.ExternalID, p.Handle, p.Title, p.Description, p.ProductType, p.Vendor, tags, p.ImageURL, attrs, hash).Scan(&id)
		if err != nil {
			return "", 0, translate(err, fmt.Sprintf("product with handle %q", p.Handle))
		}
	case err != nil:
		return "", 0, err
	case oldHash == hash:
		p.ID = id
		return "unchanged", id, nil
	default:
		status = "updated"
		_, err = tx.Exec(ctx, `
			UPDATE products SET handle = $3, title = $4, description = $5, product_type = $6, vendor = $7,
				tags = $8, image_url = $9, attributes = $10, content_hash = $11, updated_at = now()
			WHERE shop_id = $1 AND id = $2`,
			shopID, id, p.Handle, p.Title, p.Description, p.ProductType, p.Vendor, tags, p.ImageURL, attrs, hash)
		if err != nil {
			return "", 0, translate(err, fmt.Sprintf("product with handle %q", p.Handle))
		}
	}
	p.ID = id

	skus := make([]string, 0, len(p.Variants))
	for pos, v := range p.Variants {
		options, _ := json.Marshal(v.Options)
		var compareAt *int64
		if v.CompareAtPrice != nil {
			c := int64(*v.CompareAtPrice)
			compareAt = &c
		}
		_, err := tx.Exec(ctx, `
			INSERT INTO variants (shop_id, product_id, external_id, sku, title, options, price, compare_at_price, stock, available, position)
			VALUES ($1, $2, $3, $4, $5, $6, $7::numeric / 100, $8::numeric / 100, $9, $10, $11)
			ON CONFLICT (shop_id, sku) DO UPDATE SET product_id = EXCLUDED.product_id, external_id = EXCLUDED.external_id,
				title = EXCLUDED.title, options = EXCLUDED.options, price = EXCLUDED.price,
				compare_at_price = EXCLUDED.compare_at_price, stock = EXCLUDED.stock,
				available = EXCLUDED.available, position = EXCLUDED.position`,
			shopID, id, v.ExternalID, v.SKU, v.Title, options, int64(v.Price), compareAt, v.Stock, v.Available, pos)
		if err != nil {
			return "", 0, translate(err, fmt.Sprintf("variant %q", v.SKU))
		}
		skus = append(skus, v.SKU)
	}
	_, err = tx.Exec(ctx, `DELETE FROM variants WHERE shop_id = $1 AND product_id = $2 AND NOT (sku = ANY($3))`, shopID, id, skus)
	if err != nil {
		return "", 0, fmt.Errorf("remove old variants: %w", err)
	}
	return status, id, nil
}

// productHash hashes a product's content, leaving out database ids so
// that the same file ingested twice hashes the same.
func productHash(p salesagent.Product) string {
	p.ID, p.ShopID = 0, 0
	variants := make([]salesagent.Variant, len(p.Variants))
	for i, v := range p.Variants {
		v.ID, v.ProductID = 0, 0
		variants[i] = v
	}
	p.Variants = variants
	return ContentHash(p)
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

const productColumns = `p.id, p.shop_id, p.external_id, p.handle, p.title, p.description, p.product_type, p.vendor, p.tags, p.image_url, p.attributes`

func scanProduct(row pgx.Row) (*salesagent.Product, error) {
	var p salesagent.Product
	var attrs []byte
	if err := row.Scan(&p.ID, &p.ShopID, &p.ExternalID, &p.Handle, &p.Title, &p.Description,
		&p.ProductType, &p.Vendor, &p.Tags, &p.ImageURL, &attrs); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(attrs, &p.Attributes); err != nil {
		return nil, fmt.Errorf("decode attributes of product %d: %w", p.ID, err)
	}
	return &p, nil
}

// ProductByHandle returns a product with its variants.
func (db *DB) ProductByHandle(ctx context.Context, shopID int64, handle string) (*salesagent.Product, error) {
	p, err := scanProduct(db.Pool.QueryRow(ctx, `SELECT `+productColumns+` FROM products p WHERE p.shop_id = $1 AND p.handle = $2`, shopID, handle))
	if err != nil {
		return nil, translate(err, fmt.Sprintf("product %q", handle))
	}
	return p, db.loadVariants(ctx, shopID, []*salesagent.Product{p})
}

// ProductBySKU returns the product that has a variant with the given SKU.
func (db *DB) ProductBySKU(ctx context.Context, shopID int64, sku string) (*salesagent.Product, error) {
	p, err := scanProduct(db.Pool.QueryRow(ctx, `
		SELECT `+productColumns+` FROM products p JOIN variants v ON v.product_id = p.id
		WHERE p.shop_id = $1 AND v.shop_id = $1 AND v.sku = $2`, shopID, sku))
	if err != nil {
		return nil, translate(err, fmt.Sprintf("product with SKU %q", sku))
	}
	return p, db.loadVariants(ctx, shopID, []*salesagent.Product{p})
}

// ProductByExternalID returns a product by the id it has in the store it
// was loaded from, such as a Magento parent SKU or a Shopify product id.
func (db *DB) ProductByExternalID(ctx context.Context, shopID int64, externalID string) (*salesagent.Product, error) {
	p, err := scanProduct(db.Pool.QueryRow(ctx, `SELECT `+productColumns+` FROM products p WHERE p.shop_id = $1 AND p.external_id = $2`, shopID, externalID))
	if err != nil {
		return nil, translate(err, fmt.Sprintf("product %q", externalID))
	}
	return p, db.loadVariants(ctx, shopID, []*salesagent.Product{p})
}

// ProductsByIDs returns the products with the given ids, with variants, in
// the order of ids. Ids that do not exist in the shop are left out.
func (db *DB) ProductsByIDs(ctx context.Context, shopID int64, ids []int64) ([]*salesagent.Product, error) {
	rows, err := db.Pool.Query(ctx, `SELECT `+productColumns+` FROM products p WHERE p.shop_id = $1 AND p.id = ANY($2)`, shopID, ids)
	if err != nil {
		return nil, fmt.Errorf("load products: %w", err)
	}
	byID := map[int64]*salesagent.Product{}
	for rows.Next() {
		p, err := scanProduct(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("load products: %w", err)
		}
		byID[p.ID] = p
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load products: %w", err)
	}
	products := make([]*salesagent.Product, 0, len(byID))
	for _, id := range ids {
		if p, ok := byID[id]; ok {
			products = append(products, p)
			delete(byID, id)
		}
	}
	return products, db.loadVariants(ctx, shopID, products)
}

// ListProducts returns a page of the shop's products ordered by title.
func (db *DB) ListProducts(ctx context.Context, shopID int64, limit, offset int) ([]*salesagent.Product, error) {
	rows, err := db.Pool.Query(ctx, `SELECT `+productColumns+` FROM products p WHERE p.shop_id = $1
		ORDER BY p.product_type, p.title LIMIT $2 OFFSET $3`, shopID, limit, offset)
	if err != nil {
		return nil, fmt.Errorf("list products: %w", err)
	}
	var products []*salesagent.Product
	for rows.Next() {
		p, err := scanProduct(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("list products: %w", err)
		}
		products = append(products, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list products: %w", err)
	}
	return products, db.loadVariants(ctx, shopID, products)
}

// CountProducts returns how many products the shop has.
func (db *DB) CountProducts(ctx context.Context, shopID int64) (int, error) {
	var n int
	err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM products WHERE shop_id = $1`, shopID).Scan(&n)
	return n, err
}

func (db *DB) loadVariants(ctx context.Context, shopID int64, products []*salesagent.Product) error {
	if len(products) == 0 {
		return nil
	}
	ids := make([]int64, len(products))
	byID := make(map[int64]*salesagent.Product, len(products))
	for i, p := range products {
		ids[i] = p.ID
		byID[p.ID] = p
		p.Variants = nil
	}
	rows, err := db.Pool.Query(ctx, `
		SELECT id, product_id, external_id, sku, title, options, (price * 100)::bigint,
			(compare_at_price * 100)::bigint, stock, available
		FROM variants WHERE shop_id = $1 AND product_id = ANY($2) ORDER BY product_id, position, id`, shopID, ids)
	if err != nil {
		return fmt.Errorf("load variants: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var v salesagent.Variant
		var options []byte
		var price int64
		var compareAt *int64
		if err := rows.Scan(&v.ID, &v.ProductID, &v.ExternalID, &v.SKU, &v.Title, &options, &price, &compareAt, &v.Stock, &v.Available); err != nil {
			return fmt.Errorf("load variants: %w", err)
		}
		v.Price = salesagent.Money(price)
		if compareAt != nil {
			c := salesagent.Money(*compareAt)
			v.CompareAtPrice = &c
		}
		if err := json.Unmarshal(options, &v.Options); err != nil {
			return fmt.Errorf("decode options of variant %s: %w", v.SKU, err)
		}
		byID[v.ProductID].Variants = append(byID[v.ProductID].Variants, v)
	}
	return rows.Err()
}
