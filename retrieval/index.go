package retrieval

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/pgvector/pgvector-go"

	"github.com/salesagent/salesagent/postgres"
)

// Batch sizes of the indexer. ownerBatch products or documents are chunked
// in one transaction. embedBatch texts go to the embedder in one call, which
// stays under the input limits of hosted embedding APIs.
const (
	ownerBatch = 200
	embedBatch = 64
)

// indexLockClass is the first key of the advisory lock that serialises
// indexing runs of one shop; the second key is the shop id.
const indexLockClass = 0x5A17

// IndexStats counts what an indexing run did.
type IndexStats struct {
	// ChunksWritten counts chunks inserted or rewritten because their text
	// changed.
	ChunksWritten int
	// ChunksUnchanged counts chunks whose text was already stored.
	ChunksUnchanged int
	// ChunksDeleted counts chunks removed because their product or
	// document became shorter.
	ChunksDeleted int
	// EmbeddingsComputed counts chunks sent to the embedder because their
	// embedding was missing or stale.
	EmbeddingsComputed int
}

func (s *IndexStats) add(other IndexStats) {
	s.ChunksWritten += other.ChunksWritten
	s.ChunksUnchanged += other.ChunksUnchanged
	s.ChunksDeleted += other.ChunksDeleted
	s.EmbeddingsComputed += other.EmbeddingsComputed
}

// Indexer keeps a shop's chunks and their embeddings in step with its
// products and documents. Only chunks whose text changed are rewritten, and
// only chunks without a current embedding for the indexer's embedder are
// embedded, so indexing unchanged content costs a few queries and no
// embedding calls.
type Indexer struct {
	db       *postgres.DB
	embedder Embedder
	logger   *slog.Logger
}

// NewIndexer returns an indexer that embeds with embedder. A nil logger
// discards logs.
func NewIndexer(db *postgres.DB, embedder Embedder, logger *slog.Logger) *Indexer {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Indexer{db: db, embedder: embedder, logger: logger}
}

// owner names the table whose rows a batch of chunks belongs to.
type owner struct {
	column string // chunks column: product_id or document_id
	noun   string // for messages
}

var (
	productOwner  = owner{column: "product_id", noun: "products"}
	documentOwner = owner{column: "document_id", noun: "documents"}
)

// IndexProducts rebuilds the chunks of the given products of the shop and
// embeds those that need it. Ids that are not products of the shop are
// skipped. On error, the batches already done stay indexed, and a later run
// picks up the rest.
func (ix *Indexer) IndexProducts(ctx context.Context, shopID int64, productIDs []int64) (IndexStats, error) {
	shop, err := ix.db.ShopByID(ctx, shopID)
	if err != nil {
		return IndexStats{}, fmt.Errorf("index products: %w", err)
	}
	build := func(ctx context.Context, ids []int64) ([]chunk, error) {
		products, err := ix.db.ProductsByIDs(ctx, shopID, ids)
		if err != nil {
			return nil, err
		}
		var chunks []chunk
		for _, p := range products {
			chunks = append(chunks, productChunks(p, shop.Currency)...)
		}
		return chunks, nil
	}
	return ix.index(ctx, shopID, productOwner, productIDs, build)
}

// IndexDocuments rebuilds the chunks of the given documents of the shop and
// embeds those that need it, as IndexProducts does for products.
func (ix *Indexer) IndexDocuments(ctx context.Context, shopID int64, documentIDs []int64) (IndexStats, error) {
	build := func(ctx context.Context, ids []int64) ([]chunk, error) {
		docs, err := ix.db.DocumentsByIDs(ctx, shopID, ids)
		if err != nil {
			return nil, err
		}
		var chunks []chunk
		for _, d := range docs {
			chunks = append(chunks, documentChunks(d)...)
		}
		return chunks, nil
	}
	return ix.index(ctx, shopID, documentOwner, documentIDs, build)
}

// IndexShop indexes every product and document of the shop.
func (ix *Indexer) IndexShop(ctx context.Context, shopID int64) (IndexStats, error) {
	var total IndexStats
	for _, o := range []owner{productOwner, documentOwner} {
		ids, err := ix.ownerIDs(ctx, shopID, o)
		if err != nil {
			return total, err
		}
		var stats IndexStats
		if o == productOwner {
			stats, err = ix.IndexProducts(ctx, shopID, ids)
		} else {
			stats, err = ix.IndexDocuments(ctx, shopID, ids)
		}
		total.add(stats)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

func (ix *Indexer) ownerIDs(ctx context.Context, shopID int64, o owner) ([]int64, error) {
	table := "products"
	if o == documentOwner {
		table = "documents"
	}
	rows, err := ix.db.Pool.Query(ctx, `SELECT id FROM `+table+` WHERE shop_id = $1 ORDER BY id`, shopID)
	if err != nil {
		return nil, fmt.Errorf("list %s of shop %d: %w", o.noun, shopID, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("list %s of shop %d: %w", o.noun, shopID, err)
	}
	return ids, nil
}

// index runs build and store on batches of ids, then embeds what the
// batches left without a current embedding.
func (ix *Indexer) index(ctx context.Context, shopID int64, o owner, ids []int64,
	build func(context.Context, []int64) ([]chunk, error)) (IndexStats, error) {
	var total IndexStats
	if ix.embedder == nil {
		return total, errors.New("index: the indexer has no embedder; pass one to NewIndexer")
	}
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))

	for start := 0; start < len(ids); start += ownerBatch {
		batch := ids[start:min(start+ownerBatch, len(ids))]
		chunks, err := build(ctx, batch)
		if err != nil {
			return total, fmt.Errorf("index %s of shop %d: %w", o.noun, shopID, err)
		}
		stats, err := ix.storeChunks(ctx, shopID, o, batch, chunks)
		total.add(stats)
		if err != nil {
			return total, fmt.Errorf("index %s of shop %d: %w", o.noun, shopID, err)
		}
		embedded, err := ix.embedStale(ctx, shopID, o, batch)
		total.EmbeddingsComputed += embedded
		if err != nil {
			return total, fmt.Errorf("index %s of shop %d: %w", o.noun, shopID, err)
		}
	}

	level := slog.LevelDebug
	if total.ChunksWritten+total.ChunksDeleted+total.EmbeddingsComputed > 0 {
		level = slog.LevelInfo
	}
	ix.logger.Log(ctx, level, "indexed "+o.noun, "shop_id", shopID, "count", len(ids),
		"embedder", ix.embedder.Name(), "chunks_written", total.ChunksWritten,
		"chunks_unchanged", total.ChunksUnchanged, "chunks_deleted", total.ChunksDeleted,
		"embeddings_computed", total.EmbeddingsComputed)
	return total, nil
}

// storedChunk is the part of a stored chunk that decides whether to
// rewrite it.
type storedChunk struct {
	id       int64
	hash     string
	position int
	owner    int64
}

// storeChunks makes the stored chunks of the owners ownerIDs equal to
// chunks in one transaction: chunks with the same owner, position and hash
// stay, changed ones are updated in place, new ones inserted, and surplus
// positions deleted.
func (ix *Indexer) storeChunks(ctx context.Context, shopID int64, o owner, ownerIDs []int64, chunks []chunk) (IndexStats, error) {
	var stats IndexStats
	err := ix.db.InTx(ctx, func(tx pgx.Tx) error {
		stats = IndexStats{}
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2::int)`, indexLockClass, int32(shopID)); err != nil {
			return fmt.Errorf("lock shop for indexing: %w", err)
		}
		stored, err := loadStoredChunks(ctx, tx, shopID, o, ownerIDs)
		if err != nil {
			return err
		}

		batch := &pgx.Batch{}
		for _, c := range chunks {
			key := [2]int64{ownerOf(c, o), int64(c.Position)}
			old, ok := stored[key]
			delete(stored, key)
			switch {
			case ok && old.hash == c.Hash:
				stats.ChunksUnchanged++
			case ok:
				stats.ChunksWritten++
				batch.Queue(`UPDATE chunks SET kind = $2, heading = $3, content = $4, product_type = $5, sku = $6, content_hash = $7
					WHERE id = $1`, old.id, c.Kind, c.Heading, c.Content, c.ProductType, c.SKU, c.Hash)
			default:
				stats.ChunksWritten++
				batch.Queue(`INSERT INTO chunks (shop_id, product_id, document_id, kind, heading, content, product_type, sku, position, content_hash)
					VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
					shopID, nullID(c.ProductID), nullID(c.DocumentID), c.Kind, c.Heading, c.Content, c.ProductType, c.SKU, c.Position, c.Hash)
			}
		}
		surplus := make([]int64, 0, len(stored))
		for _, old := range stored {
			surplus = append(surplus, old.id)
		}
		if len(surplus) > 0 {
			stats.ChunksDeleted = len(surplus)
			batch.Queue(`DELETE FROM chunks WHERE shop_id = $1 AND id = ANY($2)`, shopID, surplus)
		}
		if batch.Len() == 0 {
			return nil
		}
		if err := tx.SendBatch(ctx, batch).Close(); err != nil {
			return fmt.Errorf("write chunks: %w", err)
		}
		return nil
	})
	return stats, err
}

func loadStoredChunks(ctx context.Context, tx pgx.Tx, shopID int64, o owner, ownerIDs []int64) (map[[2]int64]storedChunk, error) {
	rows, err := tx.Query(ctx, `SELECT id, content_hash, position, `+o.column+` FROM chunks
		WHERE shop_id = $1 AND `+o.column+` = ANY($2) FOR UPDATE`, shopID, ownerIDs)
	if err != nil {
		return nil, fmt.Errorf("load stored chunks: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (storedChunk, error) {
		var s storedChunk
		err := row.Scan(&s.id, &s.hash, &s.position, &s.owner)
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("load stored chunks: %w", err)
	}
	stored := make(map[[2]int64]storedChunk, len(list))
	for _, s := range list {
		stored[[2]int64{s.owner, int64(s.position)}] = s
	}
	return stored, nil
}

func ownerOf(c chunk, o owner) int64 {
	if o == productOwner {
		return c.ProductID
	}
	return c.DocumentID
}

func nullID(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

// staleChunk is a chunk whose embedding is missing or was computed from
// other text.
type staleChunk struct {
	id      int64
	heading string
	content string
	hash    string
}

// embedStale embeds the owners' chunks that have no embedding by the
// indexer's embedder, or one computed from older text, and returns how
// many it embedded.
func (ix *Indexer) embedStale(ctx context.Context, shopID int64, o owner, ownerIDs []int64) (int, error) {
	name := ix.embedder.Name()
	rows, err := ix.db.Pool.Query(ctx, `
		SELECT c.id, c.heading, c.content, c.content_hash
		FROM chunks c LEFT JOIN embeddings e ON e.chunk_id = c.id AND e.embedder = $2
		WHERE c.shop_id = $1 AND c.`+o.column+` = ANY($3)
			AND (e.chunk_id IS NULL OR e.content_hash <> c.content_hash)
		ORDER BY c.id`, shopID, name, ownerIDs)
	if err != nil {
		return 0, fmt.Errorf("find chunks to embed: %w", err)
	}
	stale, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (staleChunk, error) {
		var s staleChunk
		err := row.Scan(&s.id, &s.heading, &s.content, &s.hash)
		return s, err
	})
	if err != nil {
		return 0, fmt.Errorf("find chunks to embed: %w", err)
	}

	done := 0
	for start := 0; start < len(stale); start += embedBatch {
		part := stale[start:min(start+embedBatch, len(stale))]
		if err := ix.embedAndStore(ctx, shopID, part); err != nil {
			return done, err
		}
		done += len(part)
	}
	return done, nil
}

func (ix *Indexer) embedAndStore(ctx context.Context, shopID int64, part []staleChunk) error {
	name, dims := ix.embedder.Name(), ix.embedder.Dimensions()
	texts := make([]string, len(part))
	for i, s := range part {
		texts[i] = embedText(s.heading, s.content)
	}
	vectors, err := ix.embedder.Embed(ctx, texts)
	if err != nil {
		return fmt.Errorf("embed %d chunks with %s: %w", len(texts), name, err)
	}
	if len(vectors) != len(texts) {
		return fmt.Errorf("embedder %s returned %d vectors for %d texts", name, len(vectors), len(texts))
	}

	batch := &pgx.Batch{}
	for i, s := range part {
		if len(vectors[i]) != dims {
			return fmt.Errorf("embedder %s returned a vector of %d dimensions, expected %d", name, len(vectors[i]), dims)
		}
		// The chunk may have been deleted since it was read; then there
		// is nothing to store.
		batch.Queue(`INSERT INTO embeddings (chunk_id, shop_id, embedder, content_hash, embedding)
			SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM chunks WHERE id = $1)
			ON CONFLICT (chunk_id, embedder) DO UPDATE
				SET content_hash = EXCLUDED.content_hash, embedding = EXCLUDED.embedding`,
			s.id, shopID, name, s.hash, pgvector.NewVector(vectors[i]))
	}
	if err := ix.db.Pool.SendBatch(ctx, batch).Close(); err != nil {
		return fmt.Errorf("store embeddings: %w", err)
	}
	return nil
}
