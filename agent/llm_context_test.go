package agent

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/salesagent/salesagent"
)

func TestPolicyTitlesCachedUntilStale(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	var cache policyTitleCache
	first := []string{"Returns and exchanges"}
	if got := cache.get(ctx, b.db, b.shop.ID); !slices.Equal(got, first) {
		t.Fatalf("titles = %q, want %q", got, first)
	}

	warranty := salesagent.Document{Kind: salesagent.KindPolicy, Source: "test", Key: "warranty", Title: "Warranty", Body: "Two years on every jacket."}
	if _, err := b.db.UpsertDocuments(ctx, b.shop.ID, []salesagent.Document{warranty}); err != nil {
		t.Fatal(err)
	}
	if got := cache.get(ctx, b.db, b.shop.ID); !slices.Equal(got, first) {
		t.Errorf("titles within the TTL = %q, want the cached %q", got, first)
	}

	cache.entries[b.shop.ID] = policyTitles{titles: first, loaded: time.Now().Add(-policyTitlesTTL)}
	want := []string{"Returns and exchanges", "Warranty"}
	if got := cache.get(ctx, b.db, b.shop.ID); !slices.Equal(got, want) {
		t.Errorf("titles after the TTL = %q, want %q", got, want)
	}
}
