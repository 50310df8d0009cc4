package retrieval

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"

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
// only chunks without a current embedding are embedded, so indexing
// unchanged content costs a few queries and no embedding calls. Chunks are
// embedded with the shop's active embedder and, while the shop switches
// embedder (see SwitchEmbedder), with its pending one too.
type Indexer struct {
	db        *postgres.DB
	embedders map[string]Embedder
	logger    *slog.Logger
}

// NewIndexer returns an indexer that picks each shop's active and pending
// embedder by name from the local embedder, embedder and more. A nil
// embedder adds none, and one with the local embedder's name replaces it.
// A nil logger discards logs. It panics on an embedder name with
// characters other than letters, digits and "._:-", a programming error.
func NewIndexer(db *postgres.DB, embedder Embedder, logger *slog.Logger, more ...Embedder) *Indexer {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if embedder != nil {
		more = append([]Embedder{embedder}, more...)
	}
	return &Indexer{db: db, embedders: embedderSet(more), logger: logger}
}

// embedderSet returns the local embedder and list by name, later ones
// replacing earlier ones of the same name. It panics on an invalid name.
func embedderSet(list []Embedder) map[string]Embedder {
	set := map[string]Embedder{LocalEmbedderName: NewLocalEmbedder()}
	for _, e := range list {
		if !validEmbedderName.MatchString(e.Name()) {
			panic(fmt.Sprintf("retrieval: invalid embedder name %q: use letters, digits and ._:-", e.Name()))
		}
		set[e.Name()] = e
	}
	return set
}

// embedderNames lists the names in set, sorted, for messages.
func embedderNames(set map[string]Embedder) string {
	return strings.Join(slices.Sorted(maps.Keys(set)), ", ")
}

// shopEmbedders returns the embedders to embed the shop's chunks with: the
// active one and, if this indexer has it, the pending one. missing names
// a pending embedder it does not have; the re-embedding jobs cover that
// embedder instead.
func (ix *Indexer) shopEmbedders(ctx context.Context, shopID int64) (targets []Embedder, missing string, err error) {
	names, err := ix.db.ShopEmbedders(ctx, shopID)
	if err != nil {
		return nil, "", fmt.Errorf("look up embedders of shop %d: %w", shopID, err)
	}
	active, ok := ix.embedders[names.Active]
	if !ok {
		return nil, "", fmt.Errorf("shop %d uses embedder %q, which this indexer does not have (it has %s): configure that embedder",
			shopID, names.Active, embedderNames(ix.embedders))
	}
	targets = []Embedder{active}
	if names.Pending != "" {
		if pending, ok := ix.embedders[names.Pending]; ok {
			targets = append(targets, pending)
		} else {
			missing = names.Pending
		}
	}
	return targets, missing, nil
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
	targets, missing, err := ix.shopEmbedders(ctx, shopID)
	if err != nil {
		return total, fmt.Errorf("index %s of shop %d: %w", o.noun, shopID, err)
	}
	if missing != "" {
		ix.logger.WarnContext(ctx, "indexer lacks the pending embedder, so the re-embedding jobs will embed new chunks with it",
			"shop_id", shopID, "embedder", missing)
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
		// The embedders are read again after the chunks are stored. A
		// switch completes under the shop's index lock, after checking
		// that every chunk has a vector by the new embedder, so chunks
		// stored after that get embedded here with it.
		targets, _, err = ix.shopEmbedders(ctx, shopID)
		if err != nil {
			return total, fmt.Errorf("index %s of shop %d: %w", o.noun, shopID, err)
		}
		for _, e := range targets {
			embedded, err := ix.embedStale(ctx, shopID, o, batch, e)
			total.EmbeddingsComputed += embedded
			if err != nil {
				return total, fmt.Errorf("index %s of shop %d: %w", o.noun, shopID, err)
			}
		}
	}

	level := slog.LevelDebug
	if total.ChunksWritten+total.ChunksDeleted+total.EmbeddingsComputed > 0 {
		level = slog.LevelInfo
	}
	ix.logger.Log(ctx, level, "indexed "+o.noun, "shop_id", shopID, "count", len(ids),
		"embedders", targetNames(targets), "chunks_written", total.ChunksWritten,
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

// embedStale embeds the owners' chunks that have no embedding by e, or
// one computed from older text, and returns how many it embedded.
func (ix *Indexer) embedStale(ctx context.Context, shopID int64, o owner, ownerIDs []int64, e Embedder) (int, error) {
	stale, err := loadStaleChunks(ctx, ix.db.Pool, `
		SELECT c.id, c.heading, c.content, c.content_hash
		FROM chunks c LEFT JOIN embeddings e ON e.chunk_id = c.id AND e.embedder = $2
		WHERE c.shop_id = $1 AND c.`+o.column+` = ANY($3) AND `+staleCondition+`
		ORDER BY c.id`, shopID, e.Name(), ownerIDs)
	if err != nil {
		return 0, err
	}

	done := 0
	for start := 0; start < len(stale); start += embedBatch {
		part := stale[start:min(start+embedBatch, len(stale))]
		vectors, err := embedChunks(ctx, e, part)
		if err != nil {
			return done, err
		}
		batch := &pgx.Batch{}
		queueEmbeddings(batch, shopID, e.Name(), part, vectors)
		if err := ix.db.Pool.SendBatch(ctx, batch).Close(); err != nil {
			return done, fmt.Errorf("store embeddings: %w", err)
		}
		done += len(part)
	}
	return done, nil
}

// staleCondition is true for a chunk c whose embedding e, joined on the
// chunk and one embedder, is missing or was computed from other text.
const staleCondition = `(e.chunk_id IS NULL OR e.content_hash <> c.content_hash)`

// loadStaleChunks runs sql, which selects id, heading, content and
// content_hash of chunks.
func loadStaleChunks(ctx context.Context, q postgres.Querier, sql string, args ...any) ([]staleChunk, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("find chunks to embed: %w", err)
	}
	stale, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (staleChunk, error) {
		var s staleChunk
		err := row.Scan(&s.id, &s.heading, &s.content, &s.hash)
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("find chunks to embed: %w", err)
	}
	return stale, nil
}

// embedChunks embeds the chunks' texts with e and checks the vectors'
// count and size.
func embedChunks(ctx context.Context, e Embedder, part []staleChunk) ([][]float32, error) {
	name, dims := e.Name(), e.Dimensions()
	texts := make([]string, len(part))
	for i, s := range part {
		texts[i] = embedText(s.heading, s.content)
	}
	vectors, err := e.Embed(ctx, texts)
	if err != nil {
		return nil, fmt.Errorf("embed %d chunks with %s: %w", len(texts), name, err)
	}
	if len(vectors) != len(texts) {
		return nil, fmt.Errorf("embedder %s returned %d vectors for %d texts", name, len(vectors), len(texts))
	}
	for _, v := range vectors {
		if len(v) != dims {
			return nil, fmt.Errorf("embedder %s returned a vector of %d dimensions, expected %d", name, len(v), dims)
		}
	}
	return vectors, nil
}

// queueEmbeddings adds to batch the statements that store the chunks'
// vectors by the embedder name.
func queueEmbeddings(batch *pgx.Batch, shopID int64, name string, part []staleChunk, vectors [][]float32) {
	for i, s := range part {
		// The chunk may have been deleted since it was read; then there
		// is nothing to store.
		batch.Queue(`INSERT INTO embeddings (chunk_id, shop_id, embedder, content_hash, embedding)
			SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM chunks WHERE id = $1)
			ON CONFLICT (chunk_id, embedder) DO UPDATE
				SET content_hash = EXCLUDED.content_hash, embedding = EXCLUDED.embedding`,
			s.id, shopID, name, s.hash, pgvector.NewVector(vectors[i]))
	}
}

// targetNames lists the embedders' names, for logs.
func targetNames(list []Embedder) []string {
	names := make([]string, len(list))
	for i, e := range list {
		names[i] = e.Name()
	}
	return names
}
