package retrieval

import (
	"slices"
	"testing"
)

// testLexicon builds a lexicon from chunk counts per lexeme, as loadLexicon
// reads them from a shop with the given number of chunks.
func testLexicon(chunks int, df map[string]int) *lexicon {
	lex := &lexicon{df: df, chunks: chunks, byLength: map[int][]string{}, scans: map[string]bool{}}
	for word := range df {
		if isLetters(word) {
			n := len([]rune(word))
			lex.byLength[n] = append(lex.byLength[n], word)
		}
	}
	return lex
}

func TestEditDistance(t *testing.T) {
	cases := []struct {
		a, b  string
		limit int
		want  int
	}{
		{"jacket", "jacket", 1, 0},
		{"jaket", "jacket", 1, 1},
		{"wayer", "water", 1, 1},
		{"flouresc", "fluoresc", 2, 1},
		{"sprkinler", "sprinkler", 2, 2},
		{"boot", "shirt", 2, 3},
		{"ab", "abcdef", 2, 3},
	}
	for _, c := range cases {
		if got := editDistance([]rune(c.a), []rune(c.b), c.limit); got != c.want {
			t.Errorf("editDistance(%q, %q, %d) = %d, want %d", c.a, c.b, c.limit, got, c.want)
		}
	}
}

func TestLexiconCorrect(t *testing.T) {
	lex := testLexicon(100, map[string]int{"water": 30, "wafer": 2, "sprinkler": 5, "fluoresc": 4, "heater": 12})
	cases := map[string]string{
		"wayer":     "water", // one edit from water and from wafer: the more frequent wins
		"sprkinler": "sprinkler",
		"flouresc":  "fluoresc",
		"heatr":     "heater",
		"boots":     "", // nothing within one edit
	}
	for word, want := range cases {
		if got := lex.correct(word); got != want {
			t.Errorf("correct(%q) = %q, want %q", word, got, want)
		}
	}
}

func TestLexiconGroup(t *testing.T) {
	lex := testLexicon(1000, map[string]int{"lawn": 40, "sprinkler": 8, "x": 900})
	known := lex.group("lawn")
	if !slices.Equal(known.lexemes, []string{"lawn"}) || known.df != 40 {
		t.Errorf("group(lawn) = %+v, want the lexeme alone with df 40", known)
	}
	common := lex.group("x")
	if common.weight >= known.weight {
		t.Errorf("weight of x (in 900 of 1000 chunks) %.3f is not below lawn's %.3f", common.weight, known.weight)
	}

	misspelt := lex.group("sprkinler")
	if !slices.Equal(misspelt.lexemes, []string{"sprkinler", "sprinkler"}) {
		t.Errorf("group(sprkinler) lexemes = %q, want the word and its correction", misspelt.lexemes)
	}
	if want := correctionWeight * lex.idf(8); misspelt.weight != want {
		t.Errorf("group(sprkinler) weight = %.3f, want %.3f", misspelt.weight, want)
	}

	// Numbers and short words are never corrected.
	if g := lex.group("1/2"); len(g.lexemes) != 1 {
		t.Errorf("group(1/2) = %q, want no correction", g.lexemes)
	}
}

func TestTextQueryJoinedWords(t *testing.T) {
	lex := testLexicon(100, map[string]int{"deckov": 3, "deck": 10})
	tq := textQuery{groups: []termGroup{{lexemes: []string{"deck"}}}}
	tq.addJoined([]string{"deck", "over"}, lex)
	if len(tq.groups) != 2 || !slices.Equal(tq.groups[1].lexemes, []string{"deckov"}) || tq.groups[1].df != 3 {
		t.Fatalf("groups after addJoined = %+v, want deck and the joined deckov", tq.groups)
	}
	tq.addJoined([]string{"deck", "over"}, lex)
	if len(tq.groups) != 2 {
		t.Errorf("joined lexeme added twice: %+v", tq.groups)
	}
}

func TestCandidateGroups(t *testing.T) {
	tq := textQuery{groups: []termGroup{
		{lexemes: []string{"white"}, df: 1800},
		{lexemes: []string{"vaniti"}, df: 150},
		{lexemes: []string{"36"}, df: 900},
	}}
	got := tq.candidateGroups()
	// vaniti (150) and 36 (900) fit the budget; white would pass it.
	if want := []int{1, 2}; !slices.Equal(got, want) {
		t.Errorf("candidateGroups() = %v, want %v", got, want)
	}

	common := textQuery{groups: []termGroup{{lexemes: []string{"x"}, df: 5000}}}
	if got := common.candidateGroups(); !slices.Equal(got, []int{0}) {
		t.Errorf("candidateGroups() of one common term = %v, want [0]", got)
	}
}

func TestTSQuery(t *testing.T) {
	cases := []struct {
		lexemes []string
		label   string
		want    string
	}{
		{[]string{"rain", "jacket"}, "", "'rain' | 'jacket'"},
		{[]string{"1/2"}, ":A", "'1/2':A"},
		{[]string{"o'neil", `back\slash`}, "", `'o''neil' | 'back\\slash'`},
	}
	for _, c := range cases {
		if got := tsQuery(c.lexemes, c.label); got != c.want {
			t.Errorf("tsQuery(%q, %q) = %s, want %s", c.lexemes, c.label, got, c.want)
		}
	}
}

func TestSplitExclusionsKeepsLoneDash(t *testing.T) {
	included, excluded := SplitExclusions("hiking -boots - and -socks for t-shirt weather")
	if want := []string{"hiking", "-", "and", "for", "t-shirt", "weather"}; !slices.Equal(included, want) {
		t.Errorf("included = %q, want %q", included, want)
	}
	if want := []string{"boots", "socks"}; !slices.Equal(excluded, want) {
		t.Errorf("excluded = %q, want %q", excluded, want)
	}
}
