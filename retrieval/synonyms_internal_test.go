package retrieval

import (
	"slices"
	"testing"

	"github.com/salesagent/salesagent"
)

// parsedTerms is how PostgreSQL's english configuration parses the terms
// of the synonym tests.
var parsedTerms = map[string]phrase{
	"tee":             {lexemes: []string{"tee"}, offsets: []int{0}},
	"t-shirt":         {lexemes: []string{"t-shirt", "shirt"}, offsets: []int{0, 2}},
	"tees":            {lexemes: []string{"tee"}, offsets: []int{0}},
	"lockset":         {lexemes: []string{"lockset"}, offsets: []int{0}},
	"door knob":       {lexemes: []string{"door", "knob"}, offsets: []int{0, 1}},
	"handleset":       {lexemes: []string{"handleset"}, offsets: []int{0}},
	"sneakers":        {lexemes: []string{"sneaker"}, offsets: []int{0}},
	"trainers":        {lexemes: []string{"trainer"}, offsets: []int{0}},
	"chicken wire":    {lexemes: []string{"chicken", "wire"}, offsets: []int{0, 1}},
	"poultry netting": {lexemes: []string{"poultri", "net"}, offsets: []int{0, 1}},
}

func TestPhraseTSText(t *testing.T) {
	cases := map[string]string{"tee": "tee", "t-shirt": "t-shirt <2> shirt", "door knob": "door <-> knob"}
	for term, want := range cases {
		if got := parsedTerms[term].tsText(); got != want {
			t.Errorf("tsText of %q = %q, want %q", term, got, want)
		}
	}
	if got, want := tsQuery([]string{"handleset", "door <-> knob", "t-shirt <2> shirt"}, ":A"),
		"'handleset':A | ('door':A <-> 'knob':A) | ('t-shirt':A <2> 'shirt':A)"; got != want {
		t.Errorf("tsQuery with phrases = %s, want %s", got, want)
	}
}

func TestNewSynonymSet(t *testing.T) {
	rules := []salesagent.SynonymRule{
		{Line: 1, Inputs: []string{"tee", "t-shirt", "tees"}},
		{Line: 2, Inputs: []string{"lockset"}, Outputs: []string{"door knob", "handleset"}},
		{Line: 3, Inputs: []string{"lockset"}, Outputs: []string{"handleset", "tee"}},
	}
	set := newSynonymSet(rules, parsedTerms)
	alternatives := func(first string) [][]string {
		var out [][]string
		for _, e := range set.byFirst[first] {
			var alts []string
			for _, a := range e.alternatives {
				alts = append(alts, a.tsText())
			}
			out = append(out, alts)
		}
		return out
	}
	// "tees" stems to the input itself, so it adds nothing.
	if got := alternatives("tee"); len(got) != 1 || !slices.Equal(got[0], []string{"t-shirt <2> shirt"}) {
		t.Errorf("alternatives of tee = %q, want only the t-shirt phrase", got)
	}
	if got := alternatives("lockset"); len(got) != 1 || !slices.Equal(got[0], []string{"door <-> knob", "handleset", "tee"}) {
		t.Errorf("alternatives of lockset = %q, want both rules merged without repeats", got)
	}
	// One-way rules give their outputs nothing.
	if got := alternatives("handleset"); len(got) != 0 {
		t.Errorf("alternatives of handleset = %q, want none", got)
	}
	if newSynonymSet([]salesagent.SynonymRule{{Inputs: []string{"tee", "tees"}}}, parsedTerms) != nil {
		t.Error("newSynonymSet of a rule whose terms stem alike is not nil")
	}
}

func TestAddSynonymsGroups(t *testing.T) {
	lex := testLexicon(100, map[string]int{"trainer": 4, "poultri": 3, "net": 6, "chicken": 2, "wire": 5, "lockset": 1, "handleset": 2})
	lex.synonyms = newSynonymSet([]salesagent.SynonymRule{
		{Inputs: []string{"sneakers", "trainers"}},
		{Inputs: []string{"chicken wire", "poultry netting"}},
		{Inputs: []string{"lockset"}, Outputs: []string{"door knob", "handleset"}},
	}, parsedTerms)

	// A word no chunk contains takes its synonyms in its own group.
	tq := textQuery{groups: []termGroup{lex.group("sneaker")}}
	tq.addSynonyms(newTokenSeq([]string{"sneaker"}, []int{1}), lex)
	if len(tq.groups) != 1 || !slices.Equal(tq.groups[0].lexemes, []string{"sneaker", "trainer"}) {
		t.Fatalf("groups of sneakers = %+v, want one group of sneaker and trainer", tq.groups)
	}
	if want := synonymWeight * lex.idf(4); tq.groups[0].weight != want || tq.groups[0].df != 4 {
		t.Errorf("sneakers group weight %.3f df %d, want %.3f and 4", tq.groups[0].weight, tq.groups[0].df, want)
	}

	// A phrase adds a group beside its words' groups; the door knob
	// phrase is in no chunk, so only handleset counts for lockset.
	tq = textQuery{groups: []termGroup{lex.group("chicken"), lex.group("lockset"), lex.group("wire")}}
	tq.addSynonyms(newTokenSeq([]string{"lockset", "chicken", "wire"}, []int{1, 3, 4}), lex)
	if len(tq.groups) != 5 {
		t.Fatalf("groups of lockset chicken wire = %+v, want the 3 words and 2 synonym groups", tq.groups)
	}
	if got := tq.groups[3].lexemes; !slices.Equal(got, []string{"handleset"}) {
		t.Errorf("lockset's synonym group = %q, want [handleset]", got)
	}
	if got := tq.groups[4]; !slices.Equal(got.lexemes, []string{"poultri <-> net"}) || got.df != 3 {
		t.Errorf("chicken wire's synonym group = %+v, want the poultry netting phrase with df 3 (its rarer word)", got)
	}
	if w := tq.groups[4].weight; w >= lex.idf(2) {
		t.Errorf("synonym weight %.3f is not below the weight %.3f of the query word chicken", w, lex.idf(2))
	}

	// Words of a phrase apart do not match it.
	tq = textQuery{groups: []termGroup{lex.group("chicken"), lex.group("wire")}}
	tq.addSynonyms(newTokenSeq([]string{"chicken", "wire"}, []int{1, 3}), lex)
	if len(tq.groups) != 2 {
		t.Errorf("groups of \"chicken and wire\" = %+v, want no synonym group", tq.groups)
	}
}

func TestAddSynonymsKeepsPhraseWordsUncorrected(t *testing.T) {
	terms := map[string]phrase{
		"head torch": {lexemes: []string{"head", "torch"}, offsets: []int{0, 1}},
		"headlamp":   {lexemes: []string{"headlamp"}, offsets: []int{0}},
	}
	lex := testLexicon(100, map[string]int{"head": 3, "touch": 9, "headlamp": 1})
	lex.synonyms = newSynonymSet([]salesagent.SynonymRule{{Inputs: []string{"head torch"}, Outputs: []string{"headlamp"}}}, terms)

	// Without the rule, "torch" would be corrected to "touch".
	if g := lex.group("torch"); !slices.Equal(g.lexemes, []string{"torch", "touch"}) {
		t.Fatalf("group of torch = %q, want the correction to touch", g.lexemes)
	}
	tq := textQuery{groups: []termGroup{lex.group("head"), lex.group("torch")}}
	tq.addSynonyms(newTokenSeq([]string{"head", "torch"}, []int{1, 2}), lex)
	if len(tq.groups) != 3 {
		t.Fatalf("groups of head torch = %+v, want the two words and the synonym group", tq.groups)
	}
	if got := tq.groups[1].lexemes; !slices.Equal(got, []string{"torch"}) {
		t.Errorf("torch's group = %q, want torch alone once the phrase matched a rule", got)
	}
	if got := tq.groups[2].lexemes; !slices.Equal(got, []string{"headlamp"}) {
		t.Errorf("synonym group = %q, want [headlamp]", got)
	}
}
