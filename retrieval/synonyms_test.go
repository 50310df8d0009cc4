package retrieval_test

import (
	"context"
	"strings"
	"testing"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/postgres"
	"github.com/salesagent/salesagent/postgres/pgtest"
	"github.com/salesagent/salesagent/retrieval"
)

// hardwareCatalog is a catalog whose products each use one side of the
// synonyms in hardwareSynonyms only.
func hardwareCatalog() []salesagent.Product {
	product := func(handle, title, description string) salesagent.Product {
		return salesagent.Product{ExternalID: handle, Handle: handle, Title: title, Description: description,
			Variants: []salesagent.Variant{variant(strings.ToUpper(handle), "", "", "10.00", nil)}}
	}
	return []salesagent.Product{
		product("poultry-netting", "Galvanized Poultry Netting", "Hexagonal mesh for coops and garden fencing, 50 ft roll."),
		product("wire-staples", "Chicken Wire Staples", "U-shaped staples that fix mesh to wooden posts."),
		product("poultry-feeder", "Poultry Feeder", "Hanging feeder with a rain hood."),
		product("bird-netting", "Bird Netting", "Keeps birds off fruit trees."),
		product("canvas-trainers", "Canvas Trainers", "Lace-up low tops with a gum sole."),
		product("keyed-lockset", "Keyed Lockset Grade 2", "Entry lever with two keys."),
		product("brass-handleset", "Brass Handleset", "Front entry set in satin brass."),
		product("round-knob", "Round Door Knob", "Passage knob in satin nickel."),
		product("garden-hose", "Garden Hose 50 ft", "Kink-resistant rubber hose."),
	}
}

const hardwareSynonyms = `# test shop
sneakers, trainers
chicken wire, poultry netting
lockset => door knob, handleset
`

// synonymShop returns a shop with hardwareCatalog indexed, and with
// hardwareSynonyms loaded when withSynonyms is set.
func synonymShop(t *testing.T, db *postgres.DB, withSynonyms bool) *salesagent.Shop {
	t.Helper()
	ctx := context.Background()
	shop := newShop(t, db)
	if _, err := db.UpsertProducts(ctx, shop.ID, hardwareCatalog()); err != nil {
		t.Fatalf("UpsertProducts: %v", err)
	}
	if _, err := retrieval.NewIndexer(db, retrieval.NewLocalEmbedder(), nil).IndexShop(ctx, shop.ID); err != nil {
		t.Fatalf("IndexShop: %v", err)
	}
	if withSynonyms {
		rules, err := retrieval.ParseSynonyms(strings.NewReader(hardwareSynonyms))
		if err != nil {
			t.Fatalf("ParseSynonyms: %v", err)
		}
		if err := db.ReplaceSynonyms(ctx, shop.ID, rules); err != nil {
			t.Fatalf("ReplaceSynonyms: %v", err)
		}
	}
	return shop
}

// fullTextHeadings returns the headings of the full-text hits of text.
func fullTextHeadings(t *testing.T, s *retrieval.Searcher, shop *salesagent.Shop, text string) []string {
	t.Helper()
	hits, err := s.SearchFullText(context.Background(), shop, retrieval.Query{Text: text, Kinds: []string{salesagent.KindProduct}})
	if err != nil {
		t.Fatalf("SearchFullText(%q): %v", text, err)
	}
	var headings []string
	for _, h := range hits {
		headings = append(headings, h.Heading)
	}
	return headings
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

func TestSearchSynonyms(t *testing.T) {
	t.Parallel()
	db := pgtest.DB(t)
	with := synonymShop(t, db, true)
	without := synonymShop(t, db, false)
	searcher := retrieval.NewSearcher(db)

	cases := []struct {
		name, query string
		// found is reached only through a synonym; mustMiss must stay out.
		found, mustMiss string
		// first, when set, is the hit that uses the shopper's own words
		// and must rank above found.
		first string
	}{
		{name: "two-way word", query: "sneakers", found: "Canvas Trainers"},
		{name: "two-way phrase", query: "chicken wire", found: "Galvanized Poultry Netting", mustMiss: "Poultry Feeder", first: "Chicken Wire Staples"},
		{name: "two-way phrase reversed", query: "poultry netting", found: "Chicken Wire Staples", first: "Galvanized Poultry Netting"},
		{name: "one-way to word", query: "lockset", found: "Brass Handleset", first: "Keyed Lockset Grade 2"},
		{name: "one-way to phrase", query: "lockset", found: "Round Door Knob", first: "Keyed Lockset Grade 2"},
		{name: "phrase inside query", query: "sturdy chicken wire", found: "Galvanized Poultry Netting", mustMiss: "Bird Netting"},
	}
	for _, c := range cases {
		got := fullTextHeadings(t, searcher, with, c.query)
		at := indexOf(got, c.found)
		if at < 0 {
			t.Errorf("%s: %q with synonyms found %q, want %q among them", c.name, c.query, got, c.found)
		}
		if c.mustMiss != "" && indexOf(got, c.mustMiss) >= 0 {
			t.Errorf("%s: %q with synonyms found %q, which has only part of a synonym phrase: %q", c.name, c.query, c.mustMiss, got)
		}
		if c.first != "" && indexOf(got, c.first) != 0 {
			t.Errorf("%s: %q with synonyms ranks %q, want %q, which has the query's own words, first", c.name, c.query, got, c.first)
		}
		if plain := fullTextHeadings(t, searcher, without, c.query); indexOf(plain, c.found) >= 0 {
			t.Errorf("%s: %q without synonyms found %q too (%q), so the case tests nothing", c.name, c.query, c.found, plain)
		}
	}

	// Hybrid search puts the synonym's product first when nothing has the
	// shopper's word.
	hits, err := searcher.Search(context.Background(), with, retrieval.Query{Text: "sneakers"})
	if err != nil {
		t.Fatalf("Search(sneakers): %v", err)
	}
	if len(hits) == 0 || hits[0].Heading != "Canvas Trainers" {
		t.Errorf("hybrid search for sneakers = %s, want Canvas Trainers first", describe(hits))
	}
}

func TestSearchSynonymsOneWayOnly(t *testing.T) {
	t.Parallel()
	db := pgtest.DB(t)
	shop := synonymShop(t, db, true)
	searcher := retrieval.NewSearcher(db)

	for _, query := range []string{"handleset", "door knob"} {
		if got := fullTextHeadings(t, searcher, shop, query); indexOf(got, "Keyed Lockset Grade 2") >= 0 {
			t.Errorf("%q found the lockset (%q), but lockset => %s is one-way", query, got, query)
		}
	}
	// The words of a phrase apart, or in another order, are not the phrase.
	for _, query := range []string{"chicken", "wire chicken"} {
		if got := fullTextHeadings(t, searcher, shop, query); indexOf(got, "Galvanized Poultry Netting") >= 0 {
			t.Errorf("%q found the poultry netting (%q), but only the phrase chicken wire has that synonym", query, got)
		}
	}
}

func TestSearchWithoutSynonymsUnchanged(t *testing.T) {
	t.Parallel()
	db := pgtest.DB(t)
	with := synonymShop(t, db, true)
	without := synonymShop(t, db, false)
	searcher := retrieval.NewSearcher(db)

	// Queries that touch no synonym rank the same in both shops, scores
	// included, since the catalogs are equal.
	for _, query := range []string{"garden hose", "brass entry", "bird netting fruit", "satin"} {
		q := retrieval.Query{Text: query, Kinds: []string{salesagent.KindProduct}}
		a, err := searcher.SearchFullText(context.Background(), with, q)
		if err != nil {
			t.Fatal(err)
		}
		b, err := searcher.SearchFullText(context.Background(), without, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(a) == 0 {
			t.Errorf("%q found nothing, so the comparison tests nothing", query)
		}
		if len(a) != len(b) {
			t.Errorf("%q: %d hits with synonyms, %d without:%s\nvs%s", query, len(a), len(b), describe(a), describe(b))
			continue
		}
		for i := range a {
			if a[i].Heading != b[i].Heading || a[i].Score != b[i].Score {
				t.Errorf("%q hit %d: %s (%.4f) with synonyms, %s (%.4f) without", query, i+1, a[i].Heading, a[i].Score, b[i].Heading, b[i].Score)
			}
		}
	}
}

func TestExcludedWordExcludesSynonyms(t *testing.T) {
	db := pgtest.DB(t)
	searcher := retrieval.NewSearcher(db)
	shop := synonymShop(t, db, true)

	headings := fullTextHeadings(t, searcher, shop, "canvas mesh -sneakers")
	if indexOf(headings, "Canvas Trainers") >= 0 {
		t.Errorf("canvas mesh -sneakers found the trainers: %q", headings)
	}
	if indexOf(headings, "Galvanized Poultry Netting") < 0 {
		t.Errorf("canvas mesh -sneakers lost the netting: %q", headings)
	}
}
