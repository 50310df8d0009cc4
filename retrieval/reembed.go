package retrieval

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/postgres"
)

// ReembedQueue is the River queue of re-embedding jobs. A River client
// that works jobs must list it in Config.Queues; its MaxWorkers bounds how
// many batches are embedded at once across all shops.
const ReembedQueue = "embeddings"

// DefaultReembedBatchSize is the number of chunks one re-embedding job
// embeds when ReembedWorker.BatchSize is 0.
const DefaultReembedBatchSize = 256

// reembedTimeout bounds one job. A batch takes a few embedding requests,
// each of which may wait out rate limits (see OpenAIConfig.MaxRetries).
const reembedTimeout = 10 * time.Minute

// ReembedArgs are the arguments of a job that embeds the next batch of a
// shop's chunks with the embedder the shop is switching to. Each job
// embeds the chunks after AfterChunkID that lack a current vector by
// Embedder, then queues the job for the rest or, when none are left,
// completes the switch.
type ReembedArgs struct {
	ShopID   int64  `json:"shop_id" river:"unique"`
	Embedder string `json:"embedder" river:"unique"`
	// AfterChunkID is the last chunk id that the previous job of the
	// switch looked at, 0 for the first job.
	AfterChunkID int64 `json:"after_chunk_id"`
}

// Kind returns "reembed_chunks", the job kind River stores.
func (ReembedArgs) Kind() string { return "reembed_chunks" }

// InsertOpts puts the job on ReembedQueue and allows one job per shop and
// embedder that has not finished yet, so that starting a switch twice
// runs it once.
func (ReembedArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		Queue: ReembedQueue,
		UniqueOpts: river.UniqueOpts{
			ByArgs: true,
			ByState: []rivertype.JobState{
				rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable,
				rivertype.JobStateRunning, rivertype.JobStateScheduled,
			},
		},
	}
}

// ReembedWorker works ReembedArgs jobs. A failed batch returns its error,
// and River retries the job with back-off, so the shop keeps searching
// with its active embedder until every chunk has a new vector.
type ReembedWorker struct {
	river.WorkerDefaults[ReembedArgs]

	db        *postgres.DB
	embedders map[string]Embedder
	logger    *slog.Logger

	// BatchSize is the number of chunks one job embeds. 0 means
	// DefaultReembedBatchSize.
	BatchSize int
}

// NewReembedWorker returns a worker that embeds with the embedders named
// in embedders, and with the local embedder. A nil logger discards logs.
// It panics when a key differs from its embedder's Name or a name is
// invalid, both programming errors.
func NewReembedWorker(db *postgres.DB, embedders map[string]Embedder, logger *slog.Logger) *ReembedWorker {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	list := make([]Embedder, 0, len(embedders))
	for name, e := range embedders {
		if name != e.Name() {
			panic(fmt.Sprintf("retrieval: embedder %q is listed under the name %q", e.Name(), name))
		}
		list = append(list, e)
	}
	return &ReembedWorker{db: db, embedders: embedderSet(list), logger: logger}
}

// AddWorkers registers the re-embedding worker and the vector index check
// with workers, the latter for the local embedder and those in embedders.
// The River client given those workers must also run ReembedQueue, and
// IndexCheckJob schedules the check.
func AddWorkers(workers *river.Workers, db *postgres.DB, embedders map[string]Embedder, logger *slog.Logger) error {
	if err := river.AddWorkerSafely(workers, NewReembedWorker(db, embedders, logger)); err != nil {
		return fmt.Errorf("register re-embedding worker: %w", err)
	}
	set := embedderSet(slices.Collect(maps.Values(embedders)))
	list := make([]Embedder, 0, len(set))
	for _, name := range slices.Sorted(maps.Keys(set)) {
		list = append(list, set[name])
	}
	if err := river.AddWorkerSafely(workers, NewIndexCheckWorker(db, list, logger)); err != nil {
		return fmt.Errorf("register vector index worker: %w", err)
	}
	return nil
}

// Timeout allows a job reembedTimeout instead of River's default minute.
func (w *ReembedWorker) Timeout(*river.Job[ReembedArgs]) time.Duration { return reembedTimeout }

// Work embeds one batch of the shop's chunks with the pending embedder.
// The vectors, the completion of this job and the job for the next batch
// are committed in one transaction, so a crash repeats at most this
// batch. A job whose shop is gone, or no longer switching to its
// embedder, does nothing.
func (w *ReembedWorker) Work(ctx context.Context, job *river.Job[ReembedArgs]) error {
	args := job.Args
	logger := w.logger.With("shop_id", args.ShopID, "embedder", args.Embedder, "job_id", job.ID)

	names, err := w.db.ShopEmbedders(ctx, args.ShopID)
	if salesagent.ErrorCode(err) == salesagent.ENOTFOUND {
		logger.InfoContext(ctx, "shop deleted, dropping its re-embedding job")
		return nil
	}
	if err != nil {
		return fmt.Errorf("re-embed shop %d: %w", args.ShopID, err)
	}
	if names.Pending != args.Embedder {
		logger.InfoContext(ctx, "shop no longer switching to this embedder, dropping the job", "pending_embedder", names.Pending)
		return nil
	}
	embedder, ok := w.embedders[args.Embedder]
	if !ok {
		return fmt.Errorf("re-embed shop %d: embedder %q is not configured in this process (it has %s): configure it on every server that runs the %s queue",
			args.ShopID, args.Embedder, embedderNames(w.embedders), ReembedQueue)
	}

	batchSize := w.BatchSize
	if batchSize <= 0 {
		batchSize = DefaultReembedBatchSize
	}
	stale, err := loadStaleChunks(ctx, w.db.Pool, `
		SELECT c.id, c.heading, c.content, c.content_hash
		FROM chunks c LEFT JOIN embeddings e ON e.chunk_id = c.id AND e.embedder = $2
		WHERE c.shop_id = $1 AND c.id > $3 AND `+staleCondition+`
		ORDER BY c.id
		LIMIT $4`, args.ShopID, args.Embedder, args.AfterChunkID, batchSize)
	if err != nil {
		return fmt.Errorf("re-embed shop %d: %w", args.ShopID, err)
	}
	var vectors [][]float32
	if len(stale) > 0 {
		// The embedding requests run before the transaction, so that no
		// transaction stays open while waiting for the API.
		vectors, err = embedChunks(ctx, embedder, stale)
		if err != nil {
			return fmt.Errorf("re-embed shop %d: %w", args.ShopID, err)
		}
	}

	client := river.ClientFromContext[pgx.Tx](ctx)
	err = pgx.BeginFunc(ctx, w.db.Pool, func(tx pgx.Tx) error {
		if len(stale) > 0 {
			batch := &pgx.Batch{}
			queueEmbeddings(batch, args.ShopID, args.Embedder, stale, vectors)
			if err := tx.SendBatch(ctx, batch).Close(); err != nil {
				return fmt.Errorf("store embeddings: %w", err)
			}
		}
		// Completing this job first frees its unique slot for the next.
		if _, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, job); err != nil {
			return fmt.Errorf("complete job: %w", err)
		}
		if len(stale) == batchSize {
			next := args
			next.AfterChunkID = stale[len(stale)-1].id
			return insertReembedJob(ctx, tx, client, next, logger)
		}
		return finishSwitch(ctx, tx, client, args.ShopID, args.Embedder, logger)
	})
	if err != nil {
		return fmt.Errorf("re-embed shop %d: %w", args.ShopID, err)
	}
	logger.DebugContext(ctx, "re-embedded chunks", "count", len(stale), "after_chunk_id", args.AfterChunkID)
	return nil
}

// insertReembedJob queues args in tx. River skips it when another job of
// the same switch is unfinished, as after SwitchEmbedder was called again
// while a job ran. That job carries the switch on, and finishSwitch checks
// every chunk before the switch completes, so no chunk is missed.
func insertReembedJob(ctx context.Context, tx pgx.Tx, client *river.Client[pgx.Tx], args ReembedArgs, logger *slog.Logger) error {
	result, err := client.InsertTx(ctx, tx, args, nil)
	if err != nil {
		return fmt.Errorf("queue re-embedding job: %w", err)
	}
	if result.UniqueSkippedAsDuplicate {
		logger.InfoContext(ctx, "another job carries on this switch", "other_job_id", result.Job.ID)
	}
	return nil
}

// lockShopIndex takes, until tx ends, the lock that indexing runs of the
// shop take to store chunks.
func lockShopIndex(ctx context.Context, tx pgx.Tx, shopID int64) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2::int)`, indexLockClass, int32(shopID)); err != nil {
		return fmt.Errorf("lock shop %d for indexing: %w", shopID, err)
	}
	return nil
}

// countStale returns how many of the shop's chunks have no current vector
// by the embedder name.
func countStale(ctx context.Context, q postgres.Querier, shopID int64, name string) (int, error) {
	var n int
	err := q.QueryRow(ctx, `SELECT count(*)
		FROM chunks c LEFT JOIN embeddings e ON e.chunk_id = c.id AND e.embedder = $2
		WHERE c.shop_id = $1 AND `+staleCondition, shopID, name).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count chunks without vectors by %s: %w", name, err)
	}
	return n, nil
}

// finishSwitch makes name the shop's active embedder when every chunk has
// a current vector by it. Chunks that changed while earlier jobs ran, and
// so lack one, get another pass from the first chunk. It holds the shop's
// index lock, so no indexing run stores chunks between the check and the
// switch.
func finishSwitch(ctx context.Context, tx pgx.Tx, client *river.Client[pgx.Tx], shopID int64, name string, logger *slog.Logger) error {
	if err := lockShopIndex(ctx, tx, shopID); err != nil {
		return err
	}
	names, err := postgres.LoadShopEmbedders(ctx, tx, shopID, true)
	if err != nil {
		return err
	}
	if names.Pending != name {
		return nil
	}
	stale, err := countStale(ctx, tx, shopID, name)
	if err != nil {
		return err
	}
	if stale > 0 {
		logger.InfoContext(ctx, "chunks changed during the switch, embedding them in another pass", "count", stale)
		return insertReembedJob(ctx, tx, client, ReembedArgs{ShopID: shopID, Embedder: name}, logger)
	}
	if _, err := postgres.PromoteEmbedder(ctx, tx, shopID, name); err != nil {
		return err
	}
	// NOTE: the previous embedder's vectors stay in the table, so that
	// switching back re-embeds only the chunks that changed since. Nothing
	// deletes them yet.
	logger.InfoContext(ctx, "switched shop to new embedder", "previous_embedder", names.Active)
	return nil
}

// SwitchResult is the outcome of SwitchEmbedder.
type SwitchResult string

// Results of SwitchEmbedder.
const (
	// SwitchStarted means re-embedding jobs were queued (or were already
	// running). The shop searches with its previous embedder until they
	// finish.
	SwitchStarted SwitchResult = "started"
	// SwitchCompleted means every chunk already had a current vector by
	// the embedder, so it became active at once.
	SwitchCompleted SwitchResult = "completed"
	// SwitchAlreadyActive means the embedder was already active. A switch
	// to another embedder that was running is cancelled, and its jobs stop
	// at their next batch.
	SwitchAlreadyActive SwitchResult = "already_active"
)

// SwitchEmbedder starts moving the shop to the embedder e. It creates e's
// index (see EnsureEmbedderIndex), records e as the shop's pending
// embedder and, in the same transaction, queues the first ReembedArgs job
// with client, which may be an insert-only client. The jobs embed every
// chunk with e and then make e active. Until then, search uses the
// previous embedder's vectors, and indexing runs embed new chunks with
// both. Calling it again for the same embedder while the switch runs
// changes nothing.
func SwitchEmbedder(ctx context.Context, db *postgres.DB, client *river.Client[pgx.Tx], shop *salesagent.Shop, e Embedder) (SwitchResult, error) {
	name := e.Name()
	if !validEmbedderName.MatchString(name) {
		return "", fmt.Errorf("switch shop %s to embedder %q: invalid name: use letters, digits and ._:-", shop.Slug, name)
	}
	current, err := db.ShopEmbedders(ctx, shop.ID)
	if err != nil {
		return "", fmt.Errorf("switch shop %s to embedder %s: %w", shop.Slug, name, err)
	}
	if current.Active != name {
		if err := EnsureEmbedderIndex(ctx, db, e); err != nil {
			return "", fmt.Errorf("switch shop %s to embedder %s: %w", shop.Slug, name, err)
		}
	}

	var result SwitchResult
	err = db.InTx(ctx, func(tx pgx.Tx) error {
		if err := lockShopIndex(ctx, tx, shop.ID); err != nil {
			return err
		}
		names, err := postgres.LoadShopEmbedders(ctx, tx, shop.ID, true)
		if err != nil {
			return err
		}
		if names.Active == name {
			result = SwitchAlreadyActive
			return postgres.SetPendingEmbedder(ctx, tx, shop.ID, name)
		}

		stale, err := countStale(ctx, tx, shop.ID, name)
		if err != nil {
			return err
		}
		if err := postgres.SetPendingEmbedder(ctx, tx, shop.ID, name); err != nil {
			return err
		}
		if stale == 0 {
			result = SwitchCompleted
			_, err := postgres.PromoteEmbedder(ctx, tx, shop.ID, name)
			return err
		}
		result = SwitchStarted
		_, err = client.InsertTx(ctx, tx, ReembedArgs{ShopID: shop.ID, Embedder: name}, nil)
		if err != nil {
			return fmt.Errorf("queue re-embedding job: %w", err)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("switch shop %s to embedder %s: %w", shop.Slug, name, err)
	}
	return result, nil
}

// EmbedderProgress is the state of a shop's embedders.
type EmbedderProgress struct {
	Active string
	// Pending is the embedder being switched to, or "".
	Pending string
	// Chunks counts the shop's chunks.
	Chunks int
	// PendingEmbedded counts chunks with a current vector by Pending.
	PendingEmbedded int
}

// ShopEmbedderProgress returns the shop's active and pending embedder and
// how far a running switch has come.
func ShopEmbedderProgress(ctx context.Context, db *postgres.DB, shopID int64) (EmbedderProgress, error) {
	names, err := db.ShopEmbedders(ctx, shopID)
	if err != nil {
		return EmbedderProgress{}, err
	}
	p := EmbedderProgress{Active: names.Active, Pending: names.Pending}
	err = db.Pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE e.content_hash = c.content_hash)
		FROM chunks c LEFT JOIN embeddings e ON e.chunk_id = c.id AND e.embedder = $2
		WHERE c.shop_id = $1`, shopID, names.Pending).Scan(&p.Chunks, &p.PendingEmbedded)
	if err != nil {
		return p, fmt.Errorf("count embedded chunks of shop %d: %w", shopID, err)
	}
	return p, nil
}
