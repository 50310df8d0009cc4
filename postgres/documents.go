package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/salesagent/salesagent"
)

// UpsertDocuments stores FAQ entries, policies, size guides and pages,
// matched by kind and key. Unchanged documents are left alone.
func (db *DB) UpsertDocuments(ctx context.Context, shopID int64, docs []salesagent.Document) (UpsertResult, error) {
	var result UpsertResult
	for i := range docs {
		d := &docs[i]
		if d.Key == "" {
			d.Key = d.Title
		}
		content := *d
		content.ID, content.ShopID = 0, 0
		hash := ContentHash(content)
		var data []byte
		if d.Table != nil {
			data, _ = json.Marshal(map[string]any{"table": d.Table})
		} else {
			data = []byte("{}")
		}
		var id int64
		var inserted bool
		err := db.Pool.QueryRow(ctx, `
			INSERT INTO documents (shop_id, kind, source, key, title, product_type, body, data, content_hash)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
			ON CONFLICT (shop_id, kind, key) DO UPDATE SET source = EXCLUDED.source, title = EXCLUDED.title,
				product_type = EXCLUDED.product_type, body = EXCLUDED.body, data = EXCLUDED.data,
				content_hash = EXCLUDED.content_hash, updated_at = now()
			WHERE documents.content_hash <> EXCLUDED.content_hash
			RETURNING id, xmax = 0`,
			shopID, d.Kind, d.Source, d.Key, d.Title, d.ProductType, d.Body, data, hash).Scan(&id, &inserted)
		switch {
		case err == pgx.ErrNoRows:
			result.Unchanged++
			if err := db.Pool.QueryRow(ctx, `SELECT id FROM documents WHERE shop_id = $1 AND kind = $2 AND key = $3`,
				shopID, d.Kind, d.Key).Scan(&d.ID); err != nil {
				return result, fmt.Errorf("look up document %q: %w", d.Title, err)
			}
		case err != nil:
			return result, fmt.Errorf("store %s document %q from %s: %w", d.Kind, d.Title, d.Source, translate(err, "document"))
		default:
			d.ID = id
			if inserted {
				result.Inserted++
			} else {
				result.Updated++
			}
			result.ChangedIDs = append(result.ChangedIDs, id)
		}
	}
	return result, nil
}

func scanDocument(row pgx.Row) (*salesagent.Document, error) {
	var d salesagent.Document
	var data []byte
	if err := row.Scan(&d.ID, &d.ShopID, &d.Kind, &d.Source, &d.Key, &d.Title, &d.ProductType, &d.Body, &data); err != nil {
		return nil, err
	}
	var decoded struct {
		Table *salesagent.Table `json:"table"`
	}
	if err := json.Unmarshal(data, &decoded); err != nil {
		return nil, fmt.Errorf("decode data of document %d: %w", d.ID, err)
	}
	d.Table = decoded.Table
	return &d, nil
}

const documentColumns = `id, shop_id, kind, source, key, title, product_type, body, data`

// SizeGuide returns the size guide for a product type, matched
// case-insensitively.
func (db *DB) SizeGuide(ctx context.Context, shopID int64, productType string) (*salesagent.Document, error) {
	d, err := scanDocument(db.Pool.QueryRow(ctx, `SELECT `+documentColumns+` FROM documents
		WHERE shop_id = $1 AND kind = 'size_guide' AND lower(product_type) = lower($2)
		ORDER BY id LIMIT 1`, shopID, productType))
	return d, translate(err, fmt.Sprintf("size guide for %q", productType))
}

// DocumentsByIDs returns the documents with the given ids.
func (db *DB) DocumentsByIDs(ctx context.Context, shopID int64, ids []int64) ([]*salesagent.Document, error) {
	return db.queryDocuments(ctx, `SELECT `+documentColumns+` FROM documents WHERE shop_id = $1 AND id = ANY($2) ORDER BY id`, shopID, ids)
}

// DocumentsByKind returns the shop's documents of one kind ordered by title.
func (db *DB) DocumentsByKind(ctx context.Context, shopID int64, kind string) ([]*salesagent.Document, error) {
	return db.queryDocuments(ctx, `SELECT `+documentColumns+` FROM documents WHERE shop_id = $1 AND kind = $2 ORDER BY title`, shopID, kind)
}

func (db *DB) queryDocuments(ctx context.Context, sql string, args ...any) ([]*salesagent.Document, error) {
	rows, err := db.Pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("load documents: %w", err)
	}
	defer rows.Close()
	var docs []*salesagent.Document
	for rows.Next() {
		d, err := scanDocument(rows)
		if err != nil {
			return nil, fmt.Errorf("load documents: %w", err)
		}
		docs = append(docs, d)
	}
	return docs, rows.Err()
}
