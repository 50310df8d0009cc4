package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// PruneResult counts what a prune removed.
type PruneResult struct {
	Products, Documents int64
}

// DocumentKey names a document within its shop.
type DocumentKey struct {
	Kind, Key string
}

// PruneCatalog removes the shop's products whose external id is not in
// keepProducts, and its documents of the kinds in keepDocuments that are not
// listed there, with their variants, chunks and embeddings. It leaves
// products alone when keepProducts is empty, and documents of a kind with
// no listed document, so a load of FAQs alone never empties the catalog.
// Both removals run in one transaction.
func (db *DB) PruneCatalog(ctx context.Context, shopID int64, keepProducts []string, keepDocuments []DocumentKey) (PruneResult, error) {
	var result PruneResult
	err := db.InTx(ctx, func(tx pgx.Tx) error {
		if len(keepProducts) > 0 {
			tag, err := tx.Exec(ctx, `DELETE FROM products WHERE shop_id = $1 AND NOT (external_id = ANY($2))`, shopID, keepProducts)
			if err != nil {
				return fmt.Errorf("remove products: %w", err)
			}
			result.Products = tag.RowsAffected()
		}
		if len(keepDocuments) == 0 {
			return nil
		}
		kinds := make([]string, 0, len(keepDocuments))
		keys := make([]string, 0, len(keepDocuments))
		for _, d := range keepDocuments {
			kinds = append(kinds, d.Kind)
			keys = append(keys, d.Key)
		}
		tag, err := tx.Exec(ctx, `
			DELETE FROM documents d WHERE d.shop_id = $1
				AND d.kind IN (SELECT unnest($2::text[]))
				AND NOT EXISTS (SELECT 1 FROM unnest($2::text[], $3::text[]) AS k(kind, key) WHERE k.kind = d.kind AND k.key = d.key)`,
			shopID, kinds, keys)
		if err != nil {
			return fmt.Errorf("remove documents: %w", err)
		}
		result.Documents = tag.RowsAffected()
		return nil
	})
	if err != nil {
		return PruneResult{}, fmt.Errorf("prune catalog of shop %d: %w", shopID, err)
	}
	return result, nil
}
