package retrieval

import (
	"context"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/salesagent/salesagent/postgres/pgtest"
)

func TestFreshIndexBytes(t *testing.T) {
	t.Parallel()
	// Per-vector sizes measured on fresh pgvector builds (m = 16): four
	// 384-dimension vectors a page, one of 1,536, one halfvec of 3,072.
	for _, c := range []struct {
		dims    int
		vectors int64
		want    int64
	}{
		{384, 10000, 2048*10000 + pageBytes},
		{1536, 3000, 8192*3000 + pageBytes},
		{3072, 2000, 8192*2000 + pageBytes},
		{384, 0, pageBytes},
	} {
		if got := freshIndexBytes(c.vectors, c.dims); got != c.want {
			t.Errorf("freshIndexBytes(%d, %d) = %d, want %d", c.vectors, c.dims, got, c.want)
		}
	}
}

func TestIndexSizeBloated(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		bytes, fresh int64
		want         bool
	}{
		{bytes: 90 << 20, fresh: 1 << 20, want: true},
		{bytes: 2 << 20, fresh: 1 << 20, want: false},     // twice its size: kept
		{bytes: 4 << 20, fresh: 64 << 10, want: false},    // small waste: kept
		{bytes: 300 << 20, fresh: 100 << 20, want: false}, // three times: kept
		{bytes: 301 << 20, fresh: 100 << 20, want: true},
	} {
		s := IndexSize{Bytes: c.bytes, Fresh: c.fresh}
		if got := s.Bloated(DefaultMinIndexWaste); got != c.want {
			t.Errorf("IndexSize{Bytes: %d, Fresh: %d}.Bloated = %v, want %v", c.bytes, c.fresh, got, c.want)
		}
	}
}

// TestIndexCheckRebuildsBloatedIndex fills an embedder's index, deletes
// most of its vectors, and checks that the job rebuilds the index to a
// fraction of its size and leaves it alone on the next run.
func TestIndexCheckRebuildsBloatedIndex(t *testing.T) {
	t.Parallel()
	db := pgtest.DB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	e := sizedEmbedder{name: "test-bloat-64", dims: 64}
	if err := EnsureEmbedderIndex(ctx, db, e); err != nil {
		t.Fatalf("EnsureEmbedderIndex: %v", err)
	}
	shop, _, err := db.EnsureShop(ctx, "index-bloat", "")
	if err != nil {
		t.Fatalf("EnsureShop: %v", err)
	}
	// Each vector's subquery names chunk.id so that PostgreSQL runs it per
	// row rather than once.
	_, err = db.Pool.Exec(ctx, `
		WITH doc AS (
			INSERT INTO documents (shop_id, kind, source, key, title, body)
			VALUES ($1, 'faq', 'test', 'bloat', 'Bloat', 'x') RETURNING id),
		chunk AS (
			INSERT INTO chunks (shop_id, document_id, kind, content, position, content_hash)
			SELECT $1, doc.id, 'faq', 'x', n, 'h' FROM doc, generate_series(1, 4000) n RETURNING id)
		INSERT INTO embeddings (chunk_id, shop_id, embedder, content_hash, embedding)
		SELECT chunk.id, $1, $2, 'h', (SELECT array_agg(random() - 0.5) FROM generate_series(1, 64) WHERE chunk.id > 0)::vector
		FROM chunk`, shop.ID, e.name)
	if err != nil {
		t.Fatalf("insert vectors: %v", err)
	}
	full, err := ReadIndexSize(ctx, db, e)
	if err != nil {
		t.Fatalf("ReadIndexSize: %v", err)
	}
	if full.Vectors != 4000 || full.Bloated(1<<20) {
		t.Fatalf("after inserting 4,000 vectors: %+v, want 4,000 vectors and not bloated", full)
	}

	if _, err := db.Pool.Exec(ctx, `
		DELETE FROM chunks WHERE shop_id = $1 AND position > 100`, shop.ID); err != nil {
		t.Fatalf("delete vectors: %v", err)
	}
	bloated, err := ReadIndexSize(ctx, db, e)
	if err != nil {
		t.Fatalf("ReadIndexSize: %v", err)
	}
	if bloated.Vectors != 100 || bloated.Bytes != full.Bytes || !bloated.Bloated(1<<20) {
		t.Fatalf("after deleting 3,900 vectors: %+v, want 100 vectors in an index of %d bytes, bloated", bloated, full.Bytes)
	}

	w := NewIndexCheckWorker(db, []Embedder{e, sizedEmbedder{name: "test-bloat-no-index", dims: 8}}, nil)
	w.MinWaste = 1 << 20
	job := &river.Job[IndexCheckArgs]{JobRow: &rivertype.JobRow{ID: 1}}
	if err := w.Work(ctx, job); err != nil {
		t.Fatalf("Work: %v", err)
	}
	rebuilt, err := ReadIndexSize(ctx, db, e)
	if err != nil {
		t.Fatalf("ReadIndexSize: %v", err)
	}
	if rebuilt.Vectors != 100 || rebuilt.Bytes > bloated.Bytes/4 {
		t.Fatalf("after the check: %+v, want 100 vectors in at most a quarter of %d bytes", rebuilt, bloated.Bytes)
	}

	// The index's search still finds the vectors left.
	var found int
	err = db.Pool.QueryRow(ctx, `
		SELECT count(*) FROM (SELECT 1 FROM embeddings WHERE embedder = $1
		ORDER BY embedding::vector(64) <=> (SELECT embedding::vector(64) FROM embeddings WHERE embedder = $1 LIMIT 1) LIMIT 10) hits`,
		e.name).Scan(&found)
	if err != nil || found != 10 {
		t.Fatalf("search after the rebuild: %d hits, %v; want 10", found, err)
	}

	if err := w.Work(ctx, job); err != nil {
		t.Fatalf("second Work: %v", err)
	}
	again, err := ReadIndexSize(ctx, db, e)
	if err != nil {
		t.Fatalf("ReadIndexSize: %v", err)
	}
	if again.Bytes != rebuilt.Bytes {
		t.Errorf("second check changed the index from %d to %d bytes, want it left alone", rebuilt.Bytes, again.Bytes)
	}
}
