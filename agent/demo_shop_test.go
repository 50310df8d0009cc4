package agent

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/salesagent/salesagent/retrieval"
	"github.com/salesagent/salesagent/retrieval/ingest"
)

// setupDemo builds a bundle whose shop has the demo shop's catalog, FAQ,
// policies and size guides, and its search synonyms when synonyms is set.
func setupDemo(t *testing.T, synonyms bool) *bundle {
	t.Helper()
	dir := filepath.Join("..", "demo", "shop")
	batch, _, err := ingest.ParsePaths([]string{dir}, "", nil)
	if err != nil {
		t.Fatalf("parse demo shop: %v", err)
	}
	b := setupCatalog(t, batch.Products, batch.Documents)
	if !synonyms {
		return b
	}

	f, err := os.Open(filepath.Join(dir, "synonyms.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rules, err := retrieval.ParseSynonyms(f)
	if err != nil {
		t.Fatalf("parse demo synonyms: %v", err)
	}
	if err := b.db.ReplaceSynonyms(context.Background(), b.shop.ID, rules); err != nil {
		t.Fatalf("load demo synonyms: %v", err)
	}
	return b
}
