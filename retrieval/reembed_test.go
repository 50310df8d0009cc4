package retrieval_test

// The tests that run a River client are not parallel: every client of the
// test database works the same queue, so a test's jobs could otherwise be
// taken by another test's client, whose fake API may be set to fail.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/internal/openaitest"
	"github.com/salesagent/salesagent/postgres"
	"github.com/salesagent/salesagent/postgres/pgtest"
	"github.com/salesagent/salesagent/retrieval"
)

// fastRetries retries a failed job after 100 ms instead of River's
// seconds-to-days schedule.
type fastRetries struct{}

func (fastRetries) NextRetry(*rivertype.JobRow) time.Time {
	return time.Now().Add(100 * time.Millisecond)
}

// newRiverClient returns a River client with the re-embedding worker,
// which embeds batchSize chunks per job. With start it works
// retrieval.ReembedQueue until the test ends; otherwise it only inserts.
// The shop's jobs are deleted when the test ends.
func newRiverClient(t *testing.T, db *postgres.DB, shopID int64, e retrieval.Embedder, batchSize int, start bool) *river.Client[pgx.Tx] {
	t.Helper()
	workers := river.NewWorkers()
	worker := retrieval.NewReembedWorker(db, map[string]retrieval.Embedder{e.Name(): e}, nil)
	worker.BatchSize = batchSize
	river.AddWorker(workers, worker)

	config := &river.Config{
		Workers:           workers,
		FetchCooldown:     10 * time.Millisecond,
		FetchPollInterval: 50 * time.Millisecond,
		RetryPolicy:       fastRetries{},
		Logger:            slog.New(slog.DiscardHandler),
	}
	if start {
		config.Queues = map[string]river.QueueConfig{retrieval.ReembedQueue: {MaxWorkers: 2}}
	}
	client, err := river.NewClient(riverpgxv5.New(db.Pool), config)
	if err != nil {
		t.Fatalf("river.NewClient: %v", err)
	}
	if start {
		if err := client.Start(context.Background()); err != nil {
			t.Fatalf("start River client: %v", err)
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if start {
			if err := client.Stop(ctx); err != nil {
				t.Errorf("stop River client: %v", err)
			}
		}
		if _, err := db.Pool.Exec(ctx, `DELETE FROM river_job WHERE kind = 'reembed_chunks' AND (args->>'shop_id')::bigint = $1`, shopID); err != nil {
			t.Errorf("delete the test's jobs: %v", err)
		}
	})
	return client
}

// waitFor polls cond every 20 ms until it holds, failing the test after
// 15 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func progress(t *testing.T, db *postgres.DB, shopID int64) retrieval.EmbedderProgress {
	t.Helper()
	p, err := retrieval.ShopEmbedderProgress(context.Background(), db, shopID)
	if err != nil {
		t.Fatalf("ShopEmbedderProgress: %v", err)
	}
	return p
}

// currentVectors counts the shop's chunks with a vector by the embedder
// name that was computed from the chunk's present text.
func currentVectors(t *testing.T, db *postgres.DB, shopID int64, name string) int {
	t.Helper()
	var n int
	err := db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM chunks c
		JOIN embeddings e ON e.chunk_id = c.id AND e.embedder = $2 AND e.content_hash = c.content_hash
		WHERE c.shop_id = $1`, shopID, name).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func activeEmbedder(t *testing.T, s *retrieval.Searcher, shop *salesagent.Shop) string {
	t.Helper()
	e, err := s.ActiveEmbedder(context.Background(), shop)
	if err != nil {
		t.Fatalf("ActiveEmbedder: %v", err)
	}
	return e.Name()
}

// assertEmbedderIndex checks that the embedder's partial HNSW index exists,
// is valid, and covers only that embedder's vectors at its size.
func assertEmbedderIndex(t *testing.T, db *postgres.DB, e retrieval.Embedder) {
	t.Helper()
	var def string
	var valid bool
	err := db.Pool.QueryRow(context.Background(), `SELECT i.indexdef, x.indisvalid
		FROM pg_indexes i JOIN pg_index x ON x.indexrelid = to_regclass(quote_ident(i.indexname))
		WHERE i.tablename = 'embeddings' AND i.indexname = $1`, retrieval.EmbedderIndexName(e.Name())).Scan(&def, &valid)
	if err != nil {
		t.Fatalf("index %s of embedder %s: %v", retrieval.EmbedderIndexName(e.Name()), e.Name(), err)
	}
	if !valid {
		t.Errorf("index %s is invalid", retrieval.EmbedderIndexName(e.Name()))
	}
	for _, want := range []string{"USING hnsw", fmt.Sprintf("vector(%d)", e.Dimensions()), "vector_cosine_ops", "'" + e.Name() + "'::text"} {
		if !strings.Contains(def, want) {
			t.Errorf("index definition %q lacks %q", def, want)
		}
	}
}

// gate holds every embeddings request after the first until it is opened.
type gate struct {
	open     chan struct{}
	requests atomic.Int32
}

func (g *gate) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.requests.Add(1) > 1 {
			// Reading the body first lets the server notice a client
			// that gives up.
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(strings.NewReader(string(body)))
			select {
			case <-g.open:
			case <-r.Context().Done():
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func TestSwitchEmbedderSearchesOldVectorsUntilDone(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	g := &gate{open: make(chan struct{})}
	fake, url := fakeOpenAI(t, g.wrap)
	openai := newOpenAIEmbedder(t, url, nil)
	const batchSize = 4
	client := newRiverClient(t, f.db, f.shop.ID, openai, batchSize, true)
	searcher := retrieval.NewSearcher(f.db, openai)
	chunks := chunkCount(t, f.db, "shop_id = $1", f.shop.ID)
	if chunks <= 2*batchSize {
		t.Fatalf("the shop has %d chunks, too few for several batches of %d", chunks, batchSize)
	}

	result, err := retrieval.SwitchEmbedder(ctx, f.db, client, f.shop, openai)
	if err != nil {
		t.Fatalf("SwitchEmbedder: %v", err)
	}
	if result != retrieval.SwitchStarted {
		t.Errorf("SwitchEmbedder = %s, want %s", result, retrieval.SwitchStarted)
	}
	assertEmbedderIndex(t, f.db, openai)

	// The first batch is stored; the second job waits at the gate.
	waitFor(t, "the first batch is embedded", func() bool {
		return progress(t, f.db, f.shop.ID).PendingEmbedded >= batchSize && g.requests.Load() >= 2
	})
	mid := progress(t, f.db, f.shop.ID)
	if mid.Active != retrieval.LocalEmbedderName || mid.Pending != openai.Name() {
		t.Errorf("during the switch: active %q, pending %q; want %q, %q", mid.Active, mid.Pending, retrieval.LocalEmbedderName, openai.Name())
	}
	if mid.PendingEmbedded >= mid.Chunks {
		t.Errorf("during the switch %d of %d chunks have new vectors, want fewer", mid.PendingEmbedded, mid.Chunks)
	}
	if got := activeEmbedder(t, searcher, f.shop); got != retrieval.LocalEmbedderName {
		t.Errorf("during the switch the searcher uses %s, want %s", got, retrieval.LocalEmbedderName)
	}
	requestsBefore := len(fake.Requests())
	hits, err := searcher.SearchVector(ctx, f.shop, retrieval.Query{Text: "waterproof rain jacket", Kinds: []string{salesagent.KindProduct}, Limit: 3})
	if err != nil {
		t.Fatalf("vector search during the switch: %v", err)
	}
	if len(hits) == 0 || hits[0].Source.ProductID != f.products["alpine-rain-shell"] {
		t.Errorf("vector search during the switch, want the rain shell first:%s", describe(hits))
	}
	if got := len(fake.Requests()); got != requestsBefore {
		t.Errorf("search during the switch sent %d embeddings requests, want none", got-requestsBefore)
	}

	close(g.open)
	waitFor(t, "the switch completes", func() bool {
		return progress(t, f.db, f.shop.ID).Active == openai.Name()
	})

	done := progress(t, f.db, f.shop.ID)
	if done.Pending != "" {
		t.Errorf("after the switch the pending embedder is %q, want none", done.Pending)
	}
	if got := currentVectors(t, f.db, f.shop.ID, openai.Name()); got != chunks {
		t.Errorf("%d of %d chunks have current vectors by %s", got, chunks, openai.Name())
	}
	// f.shop was loaded before the switch and still names the local
	// embedder; the searcher reads the shop row.
	if got := activeEmbedder(t, searcher, f.shop); got != openai.Name() {
		t.Errorf("after the switch the searcher uses %s, want %s", got, openai.Name())
	}
	hits, err = searcher.SearchVector(ctx, f.shop, retrieval.Query{Text: "waterproof rain jacket", Kinds: []string{salesagent.KindProduct}, Limit: 3})
	if err != nil {
		t.Fatalf("vector search after the switch: %v", err)
	}
	if len(hits) == 0 || hits[0].Source.ProductID != f.products["alpine-rain-shell"] {
		t.Errorf("vector search after the switch, want the rain shell first:%s", describe(hits))
	}
	requests := fake.Requests()
	if last := requests[len(requests)-1]; fmt.Sprint(last.Input) != "[waterproof rain jacket]" {
		t.Errorf("last embeddings request embedded %q, want the search query", last.Input)
	}

	var jobs, completed int
	err = f.db.Pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE state = 'completed') FROM river_job
		WHERE kind = 'reembed_chunks' AND (args->>'shop_id')::bigint = $1`, f.shop.ID).Scan(&jobs, &completed)
	if err != nil {
		t.Fatal(err)
	}
	if wantJobs := chunks/batchSize + 1; jobs < wantJobs || completed != jobs {
		t.Errorf("%d jobs, %d completed; want at least %d, all completed", jobs, completed, wantJobs)
	}
}

// reembedJob is the state of a shop's re-embedding job.
type reembedJob struct {
	state    string
	attempts int
	errors   []string
}

func shopJob(t *testing.T, db *postgres.DB, shopID int64) (reembedJob, bool) {
	t.Helper()
	var job reembedJob
	var raw []byte
	err := db.Pool.QueryRow(context.Background(), `SELECT state, attempt, coalesce(to_json(errors), '[]') FROM river_job
		WHERE kind = 'reembed_chunks' AND (args->>'shop_id')::bigint = $1 ORDER BY id DESC LIMIT 1`, shopID).Scan(&job.state, &job.attempts, &raw)
	if err == pgx.ErrNoRows {
		return job, false
	}
	if err != nil {
		t.Fatal(err)
	}
	var errs []struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(raw, &errs); err != nil {
		t.Fatalf("decode job errors %s: %v", raw, err)
	}
	for _, e := range errs {
		job.errors = append(job.errors, e.Error)
	}
	return job, true
}

func TestSwitchEmbedderRetriesFailingAPI(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	fake, url := fakeOpenAI(t, nil)
	fake.FailAll(&openaitest.EmbeddingsFailure{Status: http.StatusInternalServerError})
	openai := newOpenAIEmbedder(t, url, func(c *retrieval.OpenAIConfig) { c.MaxRetries = -1 })
	client := newRiverClient(t, f.db, f.shop.ID, openai, 0, true)
	searcher := retrieval.NewSearcher(f.db, openai)
	chunks := chunkCount(t, f.db, "shop_id = $1", f.shop.ID)

	if _, err := retrieval.SwitchEmbedder(ctx, f.db, client, f.shop, openai); err != nil {
		t.Fatalf("SwitchEmbedder: %v", err)
	}
	var job reembedJob
	waitFor(t, "the job has failed twice", func() bool {
		var ok bool
		job, ok = shopJob(t, f.db, f.shop.ID)
		return ok && len(job.errors) >= 2
	})

	if job.state == "completed" || job.state == "discarded" {
		t.Errorf("job state = %s, want it still to be retried", job.state)
	}
	if !strings.Contains(job.errors[0], "500") {
		t.Errorf("job error = %q, want one naming status 500", job.errors[0])
	}
	p := progress(t, f.db, f.shop.ID)
	if p.Active != retrieval.LocalEmbedderName || p.Pending != openai.Name() {
		t.Errorf("with a failing API: active %q, pending %q; want %q, %q", p.Active, p.Pending, retrieval.LocalEmbedderName, openai.Name())
	}
	if got := currentVectors(t, f.db, f.shop.ID, openai.Name()); got != 0 {
		t.Errorf("%d chunks have vectors by the failing embedder, want 0", got)
	}
	if got := activeEmbedder(t, searcher, f.shop); got != retrieval.LocalEmbedderName {
		t.Errorf("with a failing API the searcher uses %s, want %s", got, retrieval.LocalEmbedderName)
	}
	if hits := f.search(t, retrieval.Query{Text: "rain jacket"}); len(hits) == 0 {
		t.Error("search with a failing API found nothing")
	}

	// Once the API recovers, a retry finishes the switch.
	fake.FailAll(nil)
	waitFor(t, "the switch completes after the API recovers", func() bool {
		return progress(t, f.db, f.shop.ID).Active == openai.Name()
	})
	if got := currentVectors(t, f.db, f.shop.ID, openai.Name()); got != chunks {
		t.Errorf("%d of %d chunks have current vectors after recovery", got, chunks)
	}
}

func TestSwitchEmbedderIndexerEmbedsWithBoth(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	_, url := fakeOpenAI(t, nil)
	openai := newOpenAIEmbedder(t, url, nil)
	// An insert-only client: the jobs wait, so the switch stays pending.
	client := newRiverClient(t, f.db, f.shop.ID, openai, 0, false)

	if _, err := retrieval.SwitchEmbedder(ctx, f.db, client, f.shop, openai); err != nil {
		t.Fatalf("SwitchEmbedder: %v", err)
	}
	again, err := retrieval.SwitchEmbedder(ctx, f.db, client, f.shop, openai)
	if err != nil || again != retrieval.SwitchStarted {
		t.Fatalf("second SwitchEmbedder = %s, %v; want %s", again, err, retrieval.SwitchStarted)
	}
	var jobs int
	if err := f.db.Pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'reembed_chunks' AND (args->>'shop_id')::bigint = $1`,
		f.shop.ID).Scan(&jobs); err != nil {
		t.Fatal(err)
	}
	if jobs != 1 {
		t.Errorf("two calls queued %d jobs, want 1", jobs)
	}

	parka := salesagent.Product{ExternalID: "parka-storm", Handle: "storm-parka", Title: "Storm Parka",
		ProductType: "Jackets", Description: "An insulated waterproof parka for winter storms.",
		Variants: []salesagent.Variant{variant("SP-M", "M", "", "180", nil)}}
	added := []salesagent.Product{parka}
	if _, err := f.db.UpsertProducts(ctx, f.shop.ID, added); err != nil {
		t.Fatal(err)
	}
	parkaID := added[0].ID
	indexer := retrieval.NewIndexer(f.db, retrieval.NewLocalEmbedder(), nil, openai)
	stats, err := indexer.IndexProducts(ctx, f.shop.ID, []int64{parkaID})
	if err != nil {
		t.Fatalf("IndexProducts during the switch: %v", err)
	}
	parkaChunks := chunkCount(t, f.db, "product_id = $1", parkaID)
	if stats.EmbeddingsComputed != 2*parkaChunks {
		t.Errorf("embedded %d vectors for %d new chunks, want one per chunk and embedder", stats.EmbeddingsComputed, parkaChunks)
	}
	for _, name := range []string{retrieval.LocalEmbedderName, openai.Name()} {
		var n int
		err := f.db.Pool.QueryRow(ctx, `SELECT count(*) FROM embeddings e JOIN chunks c ON c.id = e.chunk_id
			WHERE c.product_id = $1 AND e.embedder = $2 AND e.content_hash = c.content_hash`, parkaID, name).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n != parkaChunks {
			t.Errorf("%d of %d new chunks have vectors by %s", n, parkaChunks, name)
		}
	}

	// Naming the active embedder cancels the switch; the queued job then
	// finds nothing to do.
	result, err := retrieval.SwitchEmbedder(ctx, f.db, client, f.shop, retrieval.NewLocalEmbedder())
	if err != nil || result != retrieval.SwitchAlreadyActive {
		t.Fatalf("switch back = %s, %v; want %s", result, err, retrieval.SwitchAlreadyActive)
	}
	if p := progress(t, f.db, f.shop.ID); p.Pending != "" || p.Active != retrieval.LocalEmbedderName {
		t.Errorf("after cancelling: active %q, pending %q; want %q and none", p.Active, p.Pending, retrieval.LocalEmbedderName)
	}
	newRiverClient(t, f.db, f.shop.ID, openai, 0, true)
	waitFor(t, "the cancelled switch's job completes", func() bool {
		job, ok := shopJob(t, f.db, f.shop.ID)
		return ok && job.state == "completed"
	})
	if p := progress(t, f.db, f.shop.ID); p.Active != retrieval.LocalEmbedderName {
		t.Errorf("the cancelled switch's job made %s active", p.Active)
	}
	if got := currentVectors(t, f.db, f.shop.ID, openai.Name()); got != parkaChunks {
		t.Errorf("the cancelled switch's job embedded chunks: %d have vectors by %s, want the %d the indexer made", got, openai.Name(), parkaChunks)
	}
}

func TestSwitchEmbedderEmptyShopCompletesAtOnce(t *testing.T) {
	t.Parallel()
	db := pgtest.DB(t)
	ctx := context.Background()
	shop := newShop(t, db)
	_, url := fakeOpenAI(t, nil)
	openai := newOpenAIEmbedder(t, url, func(c *retrieval.OpenAIConfig) { c.Model = "text-embedding-3-large"; c.Dimensions = 32 })
	client, err := river.NewClient(riverpgxv5.New(db.Pool), &river.Config{})
	if err != nil {
		t.Fatal(err)
	}

	result, err := retrieval.SwitchEmbedder(ctx, db, client, shop, openai)
	if err != nil || result != retrieval.SwitchCompleted {
		t.Fatalf("SwitchEmbedder on an empty shop = %s, %v; want %s", result, err, retrieval.SwitchCompleted)
	}
	assertEmbedderIndex(t, db, openai)
	if p := progress(t, db, shop.ID); p.Active != openai.Name() || p.Pending != "" {
		t.Errorf("active %q, pending %q; want %q and none", p.Active, p.Pending, openai.Name())
	}

	// An indexer without the shop's embedder refuses to index rather than
	// store vectors that search would not use.
	_, err = retrieval.NewIndexer(db, nil, nil).IndexShop(ctx, shop.ID)
	if err == nil || !strings.Contains(err.Error(), openai.Name()) {
		t.Errorf("indexing without the active embedder: error = %v, want one naming %s", err, openai.Name())
	}
}

func TestSwitchEmbedderReembedsChunksChangedMidway(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	g := &gate{open: make(chan struct{})}
	_, url := fakeOpenAI(t, g.wrap)
	openai := newOpenAIEmbedder(t, url, nil)
	const batchSize = 4
	client := newRiverClient(t, f.db, f.shop.ID, openai, batchSize, true)

	if _, err := retrieval.SwitchEmbedder(ctx, f.db, client, f.shop, openai); err != nil {
		t.Fatalf("SwitchEmbedder: %v", err)
	}
	waitFor(t, "the first batch is embedded", func() bool {
		return progress(t, f.db, f.shop.ID).PendingEmbedded >= batchSize && g.requests.Load() >= 2
	})

	// The rain shell's chunks come first, so the jobs have passed them.
	// An indexer without the new embedder rewrites them, leaving their
	// new vectors stale.
	products := catalog()
	products[0].Description = "Now with recycled fabric and pit zips for airflow on steep climbs."
	if _, err := f.db.UpsertProducts(ctx, f.shop.ID, products[:1]); err != nil {
		t.Fatal(err)
	}
	if _, err := retrieval.NewIndexer(f.db, nil, nil).IndexProducts(ctx, f.shop.ID, []int64{products[0].ID}); err != nil {
		t.Fatalf("IndexProducts: %v", err)
	}
	if p := progress(t, f.db, f.shop.ID); p.PendingEmbedded >= batchSize {
		t.Fatalf("%d chunks have current new vectors after the rewrite, want the rewritten ones stale", p.PendingEmbedded)
	}

	close(g.open)
	waitFor(t, "the switch completes", func() bool {
		return progress(t, f.db, f.shop.ID).Active == openai.Name()
	})
	chunks := chunkCount(t, f.db, "shop_id = $1", f.shop.ID)
	if got := currentVectors(t, f.db, f.shop.ID, openai.Name()); got != chunks {
		t.Errorf("%d of %d chunks have current vectors by %s after the switch", got, chunks, openai.Name())
	}
}
