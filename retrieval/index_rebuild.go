package retrieval

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/salesagent/salesagent/postgres"
)

// An HNSW index does not give back the space of deleted vectors. VACUUM
// marks that space free for new vectors, so after a large shop is deleted,
// or a shop switches embedders, the index stays large. In one measurement
// a bloated index made vector search about ten times slower, and a
// rebuild restored the speed. The check below runs as a periodic River
// job on the server that leads River's scheduler.
const (
	// IndexCheckInterval is how often a server checks its embedders'
	// indexes.
	IndexCheckInterval = 30 * time.Minute

	// indexRebuildTimeout bounds one check. By estimate, rebuilding an
	// index of a million vectors takes many minutes.
	indexRebuildTimeout = 2 * time.Hour

	// bloatFactor is how many times larger than a fresh build an index
	// grows before it is rebuilt.
	bloatFactor = 3

	// DefaultMinIndexWaste is the space an index must waste, beyond a
	// fresh build's size, before it is rebuilt, so that small indexes are
	// left alone.
	DefaultMinIndexWaste = 16 << 20

	pageBytes = 8192
)

// IndexSize is the state of one embedder's HNSW index.
type IndexSize struct {
	Index    string
	Embedder string
	// Vectors counts the embedder's rows in the embeddings table.
	Vectors int64
	// Bytes is the index's size on disk and Fresh an estimate of its size
	// when built anew over Vectors vectors.
	Bytes, Fresh int64
}

// Waste returns the bytes that a rebuild would give back, by estimate.
func (s IndexSize) Waste() int64 { return max(s.Bytes-s.Fresh, 0) }

// freshIndexBytes estimates the size of a freshly built HNSW index (m =
// 16) over vectors of dims dimensions. pgvector stores a vector and its
// neighbour list as tuples of about 4 bytes a dimension (2 for halfvec)
// plus some 500, never split across 8 KiB pages: measured 2,048 bytes a
// vector for 384 dimensions and 8,192 for 1,536.
func freshIndexBytes(vectors int64, dims int) int64 {
	vectorBytes := 4 * dims
	if strings.HasPrefix(vectorType(dims), "halfvec") {
		vectorBytes = 2 * dims
	}
	perPage := max(int64(pageBytes/(vectorBytes+512)), 1)
	return ((vectors+perPage-1)/perPage + 1) * pageBytes
}

// ReadIndexSize reads the size of embedder e's index and counts its
// vectors. Bytes is 0 when the index does not exist.
func ReadIndexSize(ctx context.Context, db *postgres.DB, e Embedder) (IndexSize, error) {
	s := IndexSize{Index: EmbedderIndexName(e.Name()), Embedder: e.Name()}
	err := db.Pool.QueryRow(ctx, `
		SELECT coalesce(pg_relation_size(to_regclass($1)), 0), (SELECT count(*) FROM embeddings WHERE embedder = $2)`,
		pgx.Identifier{s.Index}.Sanitize(), e.Name()).Scan(&s.Bytes, &s.Vectors)
	if err != nil {
		return s, fmt.Errorf("read the size of index %s: %w", s.Index, err)
	}
	s.Fresh = freshIndexBytes(s.Vectors, e.Dimensions())
	return s, nil
}

// Bloated reports whether s is worth rebuilding: more than three times
// its fresh size, and wasting at least minWaste bytes.
func (s IndexSize) Bloated(minWaste int64) bool {
	return s.Bytes > bloatFactor*s.Fresh && s.Waste() >= minWaste
}

// RebuildIndex rebuilds the embedder's index with REINDEX INDEX
// CONCURRENTLY, which lets searches and writes go on. The copy that an
// interrupted rebuild leaves behind, invalid, is dropped first. It must
// not run inside a transaction. A rebuild that PostgreSQL cancels to end a
// deadlock with another build on the embeddings table is tried again, up
// to three times in all.
func RebuildIndex(ctx context.Context, db *postgres.DB, e Embedder) error {
	return retryDeadlock(func() error { return rebuildIndex(ctx, db, EmbedderIndexName(e.Name())) })
}

// rebuildIndex makes one attempt of RebuildIndex.
func rebuildIndex(ctx context.Context, db *postgres.DB, index string) error {

	// PostgreSQL names the copy after the index, cut to fit, with
	// "_ccnew" and perhaps a digit.
	rows, err := db.Pool.Query(ctx, `
		SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
		WHERE i.indrelid = 'embeddings'::regclass AND NOT i.indisvalid
		  AND starts_with(c.relname, left($1, 50)) AND c.relname LIKE '%\_ccnew%'`, index)
	if err != nil {
		return fmt.Errorf("look for leftovers of rebuilding index %s: %w", index, err)
	}
	leftovers, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("look for leftovers of rebuilding index %s: %w", index, err)
	}
	for _, name := range leftovers {
		if _, err := db.Pool.Exec(ctx, `DROP INDEX CONCURRENTLY IF EXISTS `+pgx.Identifier{name}.Sanitize()); err != nil {
			return fmt.Errorf("drop %s, left by an interrupted rebuild of %s: %w", name, index, err)
		}
	}

	if _, err := db.Pool.Exec(ctx, `REINDEX INDEX CONCURRENTLY `+pgx.Identifier{index}.Sanitize()); err != nil {
		return fmt.Errorf("rebuild index %s: %w", index, err)
	}
	return nil
}

// IndexCheckArgs are the arguments of the job that rebuilds the bloated
// indexes of the embedders the working server has.
type IndexCheckArgs struct{}

// Kind returns "vector_index_check", the job kind River stores.
func (IndexCheckArgs) Kind() string { return "vector_index_check" }

// InsertOpts allows one check at a time, so that two rebuilds of an index
// never race.
func (IndexCheckArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		Queue: ReembedQueue,
		UniqueOpts: river.UniqueOpts{
			ByState: []rivertype.JobState{
				rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable,
				rivertype.JobStateRunning, rivertype.JobStateScheduled,
			},
		},
	}
}

// IndexCheckWorker works IndexCheckArgs jobs.
type IndexCheckWorker struct {
	river.WorkerDefaults[IndexCheckArgs]

	db        *postgres.DB
	embedders []Embedder
	logger    *slog.Logger

	// MinWaste is the least waste that makes a rebuild worth it; 0 means
	// DefaultMinIndexWaste.
	MinWaste int64
}

// NewIndexCheckWorker returns a worker that checks the indexes of
// embedders. A nil logger discards logs.
func NewIndexCheckWorker(db *postgres.DB, embedders []Embedder, logger *slog.Logger) *IndexCheckWorker {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &IndexCheckWorker{db: db, embedders: embedders, logger: logger}
}

// Timeout allows a check indexRebuildTimeout instead of River's default
// minute.
func (w *IndexCheckWorker) Timeout(*river.Job[IndexCheckArgs]) time.Duration {
	return indexRebuildTimeout
}

// Work rebuilds each bloated index, one at a time. An embedder whose index
// does not exist yet is skipped.
func (w *IndexCheckWorker) Work(ctx context.Context, job *river.Job[IndexCheckArgs]) error {
	minWaste := w.MinWaste
	if minWaste <= 0 {
		minWaste = DefaultMinIndexWaste
	}
	for _, e := range w.embedders {
		logger := w.logger.With("embedder", e.Name(), "job_id", job.ID)
		before, err := ReadIndexSize(ctx, w.db, e)
		if err != nil {
			return err
		}
		if before.Bytes == 0 || !before.Bloated(minWaste) {
			continue
		}

		start := time.Now()
		if err := RebuildIndex(ctx, w.db, e); err != nil {
			return err
		}
		after, err := ReadIndexSize(ctx, w.db, e)
		if err != nil {
			return err
		}
		logger.InfoContext(ctx, "rebuilt a bloated vector index", "index", before.Index, "vectors", after.Vectors,
			"bytes_before", before.Bytes, "bytes_after", after.Bytes, "duration", time.Since(start))
	}
	return nil
}

// IndexCheckJob returns the periodic job that checks the indexes every
// IndexCheckInterval, and once when the server starts.
func IndexCheckJob() *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(IndexCheckInterval),
		func() (river.JobArgs, *river.InsertOpts) { return IndexCheckArgs{}, nil },
		&river.PeriodicJobOpts{ID: "vector_index_check", RunOnStart: true})
}
