package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/postgres/pgtest"
	"github.com/salesagent/salesagent/retrieval"
)

func TestShopCommandLoadsDemoSynonyms(t *testing.T) {
	ingestPaths(t, "shop-synonyms", demoShopDir(t))
	db := openDB(t)
	ctx := context.Background()
	shop, err := db.ShopBySlug(ctx, "shop-synonyms")
	if err != nil {
		t.Fatal(err)
	}
	headTorch := retrieval.Query{Text: "head torch", Kinds: []string{salesagent.KindProduct}}
	before, err := retrieval.NewSearcher(db).SearchFullText(ctx, shop, headTorch)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range before {
		if strings.Contains(h.Heading, "Headlamp") {
			t.Fatalf("head torch found %q before the synonyms were loaded, so the test proves nothing", h.Heading)
		}
	}

	file := filepath.Join(demoShopDir(t), "synonyms.txt")
	stdout, stderr, err := runCommand(t, "shop", "--database-url", pgtest.URL(t), "--shop", "shop-synonyms", "--synonyms", file)
	if err != nil {
		t.Fatalf("shop --synonyms: %v\n%s", err, stderr)
	}
	rules, err := db.ShopSynonyms(ctx, shop.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) < 5 {
		t.Fatalf("stored %d synonym rules of the demo file, want all of them", len(rules))
	}
	if !strings.Contains(stdout, "synonyms:        "+strconv.Itoa(len(rules))+" rules") {
		t.Errorf("shop output does not count %d rules:\n%s", len(rules), stdout)
	}
	if strings.Contains(stderr, "warning") {
		t.Errorf("the demo synonyms file drew a warning:\n%s", stderr)
	}
	after, err := retrieval.NewSearcher(db).SearchFullText(ctx, shop, headTorch)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) == 0 || after[0].Heading != "Beacon 400 Rechargeable Headlamp" {
		t.Errorf("head torch with the demo synonyms found %v, want the headlamp first", headings(after))
	}

	// A term that loses a stop word loads with a warning naming it.
	lossy := filepath.Join(t.TempDir(), "lossy.txt")
	if err := os.WriteFile(lossy, []byte("tee, t-shirt\npuffer => down jacket\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, stderr, err = runCommand(t, "shop", "--database-url", pgtest.URL(t), "--shop", "shop-synonyms", "--synonyms", lossy)
	if err != nil {
		t.Fatalf("shop --synonyms %s: %v\n%s", lossy, err, stderr)
	}
	if want := `line 2: search ignores the stop words "down" of "down jacket"`; !strings.Contains(stderr, want) {
		t.Errorf("loading %q warned:\n%s\nwant %q", "puffer => down jacket", stderr, want)
	}
	if _, _, err := runCommand(t, "shop", "--database-url", pgtest.URL(t), "--shop", "shop-synonyms", "--synonyms", file); err != nil {
		t.Fatal(err)
	}

	// A bad file changes nothing and names the line.
	bad := filepath.Join(t.TempDir(), "bad.txt")
	if err := os.WriteFile(bad, []byte("tee, t-shirt\nlockset =>\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err = runCommand(t, "shop", "--database-url", pgtest.URL(t), "--shop", "shop-synonyms", "--synonyms", bad)
	if err == nil || !strings.Contains(err.Error(), `line 2 "lockset =>"`) {
		t.Errorf("shop --synonyms with a bad line: err = %v, want one naming line 2", err)
	}
	stored, err := db.ShopSynonyms(ctx, shop.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != len(rules) {
		t.Errorf("a rejected file left %d rules, want the %d loaded before", len(stored), len(rules))
	}
}

func headings(hits []retrieval.Hit) []string {
	var out []string
	for _, h := range hits {
		out = append(out, h.Heading)
	}
	return out
}

func TestEvalRetrievalRejectsBadSynonyms(t *testing.T) {
	dir := t.TempDir()
	judged := filepath.Join(dir, "judged.csv")
	if err := os.WriteFile(judged, []byte("query,product_title,product_description,median_relevance\nhose,Garden Hose,Rubber,4\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "synonyms.txt")
	if err := os.WriteFile(bad, []byte("sneakers\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	before := benchShops(t)
	_, _, err := runCommand(t, "eval", "retrieval", "--database-url", pgtest.URL(t), "--synonyms", bad, judged)
	if err == nil || !strings.Contains(err.Error(), `line 1 "sneakers"`) {
		t.Errorf("eval retrieval --synonyms with a one-term line: err = %v, want one naming line 1", err)
	}
	if after := benchShops(t); after != before {
		t.Errorf("eval retrieval left %d throwaway shops after a bad synonyms file, had %d", after, before)
	}
}
