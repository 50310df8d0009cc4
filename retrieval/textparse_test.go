package retrieval

import (
	"context"
	"encoding/csv"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/internal/shareddata"
	"github.com/salesagent/salesagent/postgres"
	"github.com/salesagent/salesagent/postgres/pgtest"
)

func TestPlainWords(t *testing.T) {
	cases := []struct {
		text string
		want []string
		ok   bool
	}{
		{"Do you ship to Canada?", []string{"Do", "you", "ship", "to", "Canada"}, true},
		{"size 9, please. Thanks!", []string{"size", "9", "please", "Thanks"}, true},
		{"I'm a 42 (EU); don’t know", []string{"I", "m", "a", "42", "EU", "don", "t", "know"}, true},
		{"", nil, true},
		{"boots.Do you", nil, false},
		{"9.5", nil, false},
		{"1,000", nil, false},
		{"t-shirt", nil, false},
		{"9am", nil, false},
		{"café", nil, false},
		{"shop.com", nil, false},
		{"50%", nil, false},
		{"1/2 in.", nil, false},
		{strings.Repeat("a", maxPlainWordLen+1), nil, false},
		{strings.Repeat("a ", maxPlainWords+1), nil, false},
	}
	for _, c := range cases {
		got, ok := plainWords(c.text)
		if ok != c.ok || !slices.Equal(got, c.want) {
			t.Errorf("plainWords(%q) = %q, %v; want %q, %v", c.text, got, ok, c.want, c.ok)
		}
	}
}

// parseInPostgres parses text as parseTextQuery's round trip does.
func parseInPostgres(t *testing.T, db *postgres.DB, text string) parsedText {
	t.Helper()
	var p parsedText
	err := db.Pool.QueryRow(context.Background(), `SELECT tsvector_to_array(to_tsvector('english', $1)),
			ARRAY(SELECT u.lexeme FROM unnest(to_tsvector('english', $1)) u, unnest(u.positions) p ORDER BY p),
			ARRAY(SELECT p::int FROM unnest(to_tsvector('english', $1)) u, unnest(u.positions) p ORDER BY p)`,
		text).Scan(&p.lexemes, &p.ordered, &p.positions)
	if err != nil {
		t.Fatalf("parse %q in PostgreSQL: %v", text, err)
	}
	return p
}

// checkParsesMatch teaches a cache every letter word of texts, each
// parsed alone by PostgreSQL, then checks that each text that parsePlain
// accepts parses as PostgreSQL parses it. Learning from single words keeps
// the check from agreeing with itself: a text whose tokens parsePlain
// split wrongly would still be parsed differently. It returns the number
// of texts parsed in Go.
func checkParsesMatch(t *testing.T, db *postgres.DB, texts []string) int {
	t.Helper()
	c := newLexemeCache()
	seen := map[string]bool{}
	for _, text := range texts {
		words, ok := plainWords(text)
		if !ok {
			continue
		}
		for _, w := range words {
			w = strings.ToLower(w)
			if isASCIILetter(w[0]) && !seen[w] {
				seen[w] = true
				c.learn(w, parseInPostgres(t, db, w))
			}
		}
	}

	plain := 0
	for _, text := range texts {
		got, ok := c.parsePlain(text)
		if !ok {
			continue
		}
		plain++
		want := parseInPostgres(t, db, text)
		if !slices.Equal(got.lexemes, want.lexemes) || !slices.Equal(got.ordered, want.ordered) || !slices.Equal(got.positions, want.positions) {
			t.Errorf("text %q parsed in Go as %v %v %v; PostgreSQL gives %v %v %v",
				text, got.lexemes, got.ordered, got.positions, want.lexemes, want.ordered, want.positions)
		}
	}
	return plain
}

func TestParsePlainRandomTexts(t *testing.T) {
	db := pgtest.DB(t)
	texts := []string{
		"Do you ship to Canada?",
		"I usually wear a 9, is the Trail Runner true to size?",
		"what's your return policy for boots bought on sale",
		"Can I get these in blue? And the the the blue ones!",
		"I'm between sizes: 42 or 43",
		"\"waterproof\" (really)? Thanks; bye",
		"don’t have an order number yet",
		"Running RUNNING runs ran runner",
		"a an the of and or but",
		"007 1 22 333",
	}

	// Random texts from pieces that PostgreSQL's parser reads in
	// different ways, glued with and without blanks.
	pieces := []string{"boots", "Running", "the", "a", "9", "007", "don't", "I'm", "size", "is", "SHOES", "fits", "42",
		"boots", "Running", "the", "a", "9", "007", "don't", "I'm", "size", "is", "SHOES", "fits", "42", "t-shirt", "9.5",
		"shop.com", "café", "jackets", "x2", "é", "...", "1/2", "50%", "e.g.", "-", "/", "@", "#", "&"}
	glue := []string{" ", "", ". ", ",", ", ", "!", "?", ":", ": ", ";", "\"", "(", ")", "'", "\u2019", "\t", "\n", ".", "-"}
	r := rand.New(rand.NewPCG(1, 2))
	for range 3000 {
		var b strings.Builder
		for i := range 1 + r.IntN(6) {
			if i > 0 {
				b.WriteString(glue[r.IntN(len(glue))])
			}
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		if r.IntN(3) == 0 {
			b.WriteString(glue[r.IntN(len(glue))])
		}
		texts = append(texts, b.String())
	}

	plain := checkParsesMatch(t, db, texts)
	if plain < 500 {
		t.Errorf("only %d of %d texts were parsed in Go; the test checks too little", plain, len(texts))
	}
}

func TestParsePlainSearchTerms(t *testing.T) {
	db := pgtest.DB(t)
	var texts []string
	f, err := os.Open(filepath.Join(shareddata.Path(t, "homedepot-search-relevance"), "homedepot_train_subset.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("read Home Depot file: %v", err)
	}
	column := slices.Index(rows[0], "search_term")
	if column < 0 {
		t.Fatalf("Home Depot file has no search_term column: %q", rows[0])
	}
	seen := map[string]bool{}
	for _, row := range rows[1:] {
		if term := row[column]; !seen[term] {
			seen[term] = true
			texts = append(texts, term)
		}
	}

	plain := checkParsesMatch(t, db, texts)
	t.Logf("%d of %d search terms parsed in Go", plain, len(texts))
	if plain < len(texts)/2 {
		t.Errorf("only %d of %d search terms were parsed in Go", plain, len(texts))
	}
}

func TestLexemeCacheLearn(t *testing.T) {
	db := pgtest.DB(t)
	c := newLexemeCache()
	text := "The runners were running to the shops"
	if _, ok := c.parsePlain(text); ok {
		t.Fatal("an empty cache parsed a text of letter words")
	}
	want := parseInPostgres(t, db, text)
	c.learn(text, want)
	got, ok := c.parsePlain("shops running, the runners")
	if !ok {
		t.Fatal("the cache did not parse a text of the words it learned")
	}
	if wantLexemes := []string{"run", "runner", "shop"}; !slices.Equal(got.lexemes, wantLexemes) || !slices.Equal(got.positions, []int{1, 2, 4}) {
		t.Errorf("parsed %v at %v, want %v at 1, 2, 4", got.lexemes, got.positions, wantLexemes)
	}

	// A parse that does not line up with the words teaches nothing.
	c = newLexemeCache()
	c.learn("boots shoes", parsedText{lexemes: []string{"boot"}, ordered: []string{"boot"}, positions: []int{3}})
	if _, ok := c.parsePlain("boots"); ok {
		t.Error("the cache learned from a parse whose positions do not match the words")
	}
}

// failingQuerier fails the test when a query reaches the database.
type failingQuerier struct{ t *testing.T }

func (q failingQuerier) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	q.t.Fatalf("query sent to the database: %.60s", sql)
	return nil
}

func TestParseTextQueryWithoutRoundTrip(t *testing.T) {
	db := pgtest.DB(t)
	lexemes := newLexemeCache()
	lex := testLexicon(100, map[string]int{"boot": 10, "waterproof": 3})
	lex.embedder = LocalEmbedderName
	text := "Waterproof boots -leather"
	for _, part := range []string{"Waterproof boots", "leather"} {
		lexemes.learn(part, parseInPostgres(t, db, part))
	}

	tq, err := parseTextQuery(context.Background(), failingQuerier{t}, lexemes, 1, text, lex)
	if err != nil {
		t.Fatal(err)
	}
	var sources []string
	for _, g := range tq.groups {
		sources = append(sources, g.source)
	}
	if !slices.Equal(sources, []string{"boot", "waterproof"}) {
		t.Errorf("term groups %q, want boot and waterproof", sources)
	}
	if !slices.Equal(tq.exclude, []string{"leather"}) {
		t.Errorf("excluded %q, want leather", tq.exclude)
	}
	if tq.embedder != LocalEmbedderName {
		t.Errorf("embedder %q, want the lexicon's %q", tq.embedder, LocalEmbedderName)
	}

	// A shop that was not found when its lexicon was read has no
	// embedder there, so the parse goes to the database, which reports it.
	lex.embedder = ""
	_, err = parseTextQuery(context.Background(), db.Pool, lexemes, -1, text, lex)
	if salesagent.ErrorCode(err) != salesagent.ENOTFOUND {
		t.Errorf("parse for a missing shop: error %v, want not found", err)
	}
}
