package agent

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/salesagent/salesagent/postgres"
	"github.com/salesagent/salesagent/retrieval"
)

func TestZZDebugHits(t *testing.T) {
	msg := os.Getenv("DEBUG_MSG")
	if msg == "" {
		t.Skip()
	}
	ctx := context.Background()
	db, err := postgres.Open(ctx, "postgres://salesagent:salesagent@127.0.0.1:5432/salesagent")
	if err != nil {
		t.Fatal(err)
	}
	shop, err := db.ShopBySlug(ctx, os.Getenv("DEBUG_SHOP"))
	if err != nil {
		t.Fatal(err)
	}
	s := retrieval.NewSearcher(db, retrieval.NewLocalEmbedder())
	hits, err := s.Search(ctx, shop, retrieval.Query{Text: msg, Limit: defaultHitLimit})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("needs:", Classify(msg))
	for _, h := range hits {
		fmt.Printf("%.4f %s | %s | %s | %q\n", h.Score, h.Kind, h.Heading, h.Source.DocumentTitle, shorten(h.Content, 120))
	}
}
