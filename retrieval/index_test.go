package retrieval_test

import (
	"context"
	"strings"
	"testing"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/postgres"
	"github.com/salesagent/salesagent/retrieval"
)

// embeddingHashes returns chunk id to the content hash of its local
// embedding, for every chunk of the shop.
func embeddingHashes(t *testing.T, db *postgres.DB, shopID int64) map[int64]string {
	t.Helper()
	rows, err := db.Pool.Query(context.Background(), `SELECT chunk_id, content_hash FROM embeddings
		WHERE shop_id = $1 AND embedder = $2`, shopID, retrieval.LocalEmbedderName)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int64]string{}
	for rows.Next() {
		var id int64
		var hash string
		if err := rows.Scan(&id, &hash); err != nil {
			t.Fatal(err)
		}
		out[id] = hash
	}
	return out
}

func chunkCount(t *testing.T, db *postgres.DB, where string, args ...any) int {
	t.Helper()
	var n int
	if err := db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM chunks WHERE `+where, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestIndexShopEmbedsEveryChunk(t *testing.T) {
	t.Parallel()
	f := setup(t)

	total := chunkCount(t, f.db, "shop_id = $1", f.shop.ID)
	if f.first.ChunksWritten != total || f.first.EmbeddingsComputed != total {
		t.Errorf("first run wrote %d chunks and embedded %d, want %d of each", f.first.ChunksWritten, f.first.EmbeddingsComputed, total)
	}
	if got := len(embeddingHashes(t, f.db, f.shop.ID)); got != total {
		t.Errorf("stored %d embeddings for %d chunks", got, total)
	}
	// The backpack's long description needs more than one chunk.
	if n := chunkCount(t, f.db, "product_id = $1", f.products["ridgeline-45-backpack"]); n < 2 {
		t.Errorf("long product description gave %d chunks, want at least 2", n)
	}
	// The returns policy has a preamble and two sections.
	if n := chunkCount(t, f.db, "document_id = $1", f.docs["returns"]); n != 3 {
		t.Errorf("sectioned policy gave %d chunks, want 3", n)
	}
}

func TestIndexUnchangedEmbedsNothing(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	before := embeddingHashes(t, f.db, f.shop.ID)

	stats, err := f.indexer.IndexShop(ctx, f.shop.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stats.EmbeddingsComputed != 0 {
		t.Errorf("re-indexing unchanged content embedded %d chunks, want 0", stats.EmbeddingsComputed)
	}
	if stats.ChunksWritten != 0 || stats.ChunksDeleted != 0 {
		t.Errorf("re-indexing unchanged content wrote %d and deleted %d chunks, want 0", stats.ChunksWritten, stats.ChunksDeleted)
	}
	if stats.ChunksUnchanged != f.first.ChunksWritten {
		t.Errorf("re-indexing counted %d unchanged chunks, want %d", stats.ChunksUnchanged, f.first.ChunksWritten)
	}
	after := embeddingHashes(t, f.db, f.shop.ID)
	if len(after) != len(before) {
		t.Errorf("embeddings went from %d to %d", len(before), len(after))
	}
}

func TestIndexChangedProductReembedsOnlyItsChunks(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	before := embeddingHashes(t, f.db, f.shop.ID)

	// Cut the backpack's description to one paragraph and change the
	// jacket's description; the other products stay as they were.
	products := catalog()
	products[0].Description = "A lightweight waterproof shell with taped seams, now with pit zips for ventilation."
	products[6].Description = "A 45-litre trekking backpack with an adjustable back system."
	result, err := f.db.UpsertProducts(ctx, f.shop.ID, products)
	if err != nil {
		t.Fatal(err)
	}
	if len(result.ChangedIDs) != 2 {
		t.Fatalf("UpsertProducts changed %d products, want 2", len(result.ChangedIDs))
	}
	oldPackChunks := chunkCount(t, f.db, "product_id = $1", f.products["ridgeline-45-backpack"])

	stats, err := f.indexer.IndexProducts(ctx, f.shop.ID, result.ChangedIDs)
	if err != nil {
		t.Fatal(err)
	}
	if stats.ChunksWritten != 2 {
		t.Errorf("wrote %d chunks, want 2 (the summary of each changed product)", stats.ChunksWritten)
	}
	if stats.ChunksDeleted != oldPackChunks-1 {
		t.Errorf("deleted %d chunks, want %d (the backpack's old description chunks)", stats.ChunksDeleted, oldPackChunks-1)
	}
	if stats.EmbeddingsComputed != 2 {
		t.Errorf("embedded %d chunks, want 2", stats.EmbeddingsComputed)
	}

	after := embeddingHashes(t, f.db, f.shop.ID)
	changed := map[int64]bool{}
	rows, err := f.db.Pool.Query(ctx, `SELECT id FROM chunks WHERE product_id = ANY($1)`, result.ChangedIDs)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		changed[id] = true
	}
	rows.Close()
	for id, hash := range after {
		if changed[id] {
			if hash == before[id] {
				t.Errorf("chunk %d of a changed product kept its old embedding", id)
			}
			continue
		}
		if before[id] != hash {
			t.Errorf("chunk %d of an unchanged product was re-embedded", id)
		}
	}

	// The new text is searchable.
	hits := f.search(t, retrieval.Query{Text: "pit zips ventilation", Limit: 1})
	if len(hits) == 0 || hits[0].Source.ProductID != f.products["alpine-rain-shell"] {
		t.Errorf("search for the new description did not find the jacket first:%s", describe(hits))
	}
}

func TestIndexStaleEmbeddingIsRepaired(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()

	// An interrupted run leaves a chunk without its embedding and another
	// with an embedding of older text.
	var missing, stale int64
	err := f.db.Pool.QueryRow(ctx, `SELECT id FROM chunks WHERE document_id = $1`, f.docs["gift-cards"]).Scan(&missing)
	if err != nil {
		t.Fatal(err)
	}
	err = f.db.Pool.QueryRow(ctx, `SELECT id FROM chunks WHERE document_id = $1`, f.docs["shipping-time"]).Scan(&stale)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.Pool.Exec(ctx, `DELETE FROM embeddings WHERE chunk_id = $1`, missing); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.Pool.Exec(ctx, `UPDATE embeddings SET content_hash = 'old' WHERE chunk_id = $1`, stale); err != nil {
		t.Fatal(err)
	}

	stats, err := f.indexer.IndexShop(ctx, f.shop.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stats.EmbeddingsComputed != 2 || stats.ChunksWritten != 0 {
		t.Errorf("repair run embedded %d and wrote %d chunks, want 2 and 0", stats.EmbeddingsComputed, stats.ChunksWritten)
	}
	hashes := embeddingHashes(t, f.db, f.shop.ID)
	if hashes[missing] == "" || hashes[stale] == "old" {
		t.Errorf("after repair: missing chunk hash %q, stale chunk hash %q", hashes[missing], hashes[stale])
	}
}

func TestIndexDocumentsOfOtherShopIsNoop(t *testing.T) {
	t.Parallel()
	f := setup(t)
	other := newShop(t, f.db)

	stats, err := f.indexer.IndexDocuments(context.Background(), other.ID, []int64{f.docs["returns"]})
	if err != nil {
		t.Fatal(err)
	}
	if stats != (retrieval.IndexStats{}) {
		t.Errorf("indexing another shop's document did %+v, want nothing", stats)
	}
	if n := chunkCount(t, f.db, "shop_id = $1", other.ID); n != 0 {
		t.Errorf("other shop has %d chunks, want 0", n)
	}
	if n := chunkCount(t, f.db, "document_id = $1", f.docs["returns"]); n != 3 {
		t.Errorf("owner's document has %d chunks after another shop indexed it, want 3", n)
	}
}

func TestIndexUnknownShopFails(t *testing.T) {
	t.Parallel()
	f := setup(t)
	_, err := f.indexer.IndexProducts(context.Background(), -1, []int64{1})
	if salesagent.ErrorCode(err) != salesagent.ENOTFOUND {
		t.Errorf("IndexProducts for shop -1 = %v, want a not-found error", err)
	}
}

func TestIndexProductChunkText(t *testing.T) {
	t.Parallel()
	f := setup(t)
	var heading, content, sku string
	err := f.db.Pool.QueryRow(context.Background(), `SELECT heading, content, sku FROM chunks WHERE product_id = $1 AND position = 0`,
		f.products["alpine-rain-shell"]).Scan(&heading, &content, &sku)
	if err != nil {
		t.Fatal(err)
	}
	if heading != "Alpine Rain Shell Jacket" {
		t.Errorf("heading = %q, want the product title", heading)
	}
	for _, want := range []string{
		"Jackets by Northwind.",
		"Tags: rain, hiking.",
		"waterproof shell",
		"Fit: regular\nMaterial: recycled nylon",
		"Size: S, M, L",
		"Colour: Black, Navy",
		"Price: $129.00.",
		"In stock: Size M, L; Colour Black, Navy.",
	} {
		if !strings.Contains(content, want) {
			t.Errorf("product chunk lacks %q:\n%s", want, content)
		}
	}
	if sku != "" {
		t.Errorf("chunk of a product with three variants has SKU %q", sku)
	}

	err = f.db.Pool.QueryRow(context.Background(), `SELECT content FROM chunks WHERE product_id = $1 AND position = 0`,
		f.products["summit-down-parka"]).Scan(&content)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(content, "Out of stock.") {
		t.Errorf("sold-out product chunk lacks \"Out of stock.\":\n%s", content)
	}
}
