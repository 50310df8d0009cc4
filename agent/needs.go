package agent

import (
	"regexp"
	"sort"
	"strings"
	"unicode"

	"github.com/hbollon/go-edlib"
	"github.com/kljensen/snowball/english"
)

// Need is a shopper's purpose behind a message, such as sizing help or an
// order's status. One message may carry several.
type Need string

// Needs the classifier recognises, which are also the keys of a profile's
// Needs counts.
const (
	NeedSizing        Need = "sizing"
	NeedShipping      Need = "shipping"
	NeedReturns       Need = "returns"
	NeedPrice         Need = "price"
	NeedStock         Need = "stock"
	NeedProductSearch Need = "product_search"
	NeedOrderStatus   Need = "order_status"
	NeedPayment       Need = "payment"
	NeedHuman         Need = "human"
	NeedSaveCart      Need = "save_cart"
	NeedGreeting      Need = "greeting"
	NeedThanks        Need = "thanks"
)

// AllNeeds lists every need in priority order: when two needs score the
// same, the earlier one ranks first.
var AllNeeds = []Need{
	NeedHuman, NeedOrderStatus, NeedSaveCart, NeedReturns, NeedShipping, NeedPayment,
	NeedSizing, NeedStock, NeedPrice, NeedProductSearch, NeedThanks, NeedGreeting,
}

// recogniseThreshold is the score at which a need counts as recognised.
// Cues of weight 1 suffice alone; weaker cues must add up.
const recogniseThreshold = 1.0

// maxGap is how many words a "*" in a phrase cue may stand for.
const maxGap = 4

// cue is one sign of a need: a phrase of stems, or a regular expression on
// the lowercased message, with the weight it adds to the need's score.
type cue struct {
	terms  []string
	re     *regexp.Regexp
	weight float64
}

// classifier scores messages against the lexicon of each need.
type classifier struct {
	cues map[Need][]cue
	// vocabulary holds the lexicon's words of four letters or more, to
	// which misspelt message words of five letters or more are corrected.
	vocabulary map[string]bool
	byLength   map[int][]string
	// lexiconStems holds the stems of the lexicon's words of four letters or
	// more, which a word run on to another ("udeliver") may end in.
	lexiconStems map[string]bool
}

// defaultClassifier is built once from the lexicon in lexicon.go.
var defaultClassifier = newClassifier(lexicon)

// Classify returns the needs recognised in a shopper's message, the
// strongest first. It returns nil when nothing is recognised.
func Classify(text string) []Need {
	return defaultClassifier.classify(text)
}

// lexiconEntry is a need's cue written as text: phrases are words separated
// by spaces, where "*" stands for up to four words and "#" for a number.
// Entries starting with "re:" are regular expressions.
type lexiconEntry struct {
	weight  float64
	phrases []string
}

func newClassifier(lex map[Need][]lexiconEntry) *classifier {
	c := &classifier{cues: map[Need][]cue{}, vocabulary: map[string]bool{}, byLength: map[int][]string{}, lexiconStems: map[string]bool{}}
	for need, entries := range lex {
		// Phrases that stem alike ("available", "availability") are one
		// cue, with the larger weight.
		byKey := map[string]int{}
		for _, entry := range entries {
			for _, phrase := range entry.phrases {
				cu := c.compile(phrase, entry.weight)
				key := phrase
				if cu.re == nil {
					key = strings.Join(cu.terms, " ")
				}
				if i, seen := byKey[key]; seen {
					c.cues[need][i].weight = max(c.cues[need][i].weight, cu.weight)
					continue
				}
				byKey[key] = len(c.cues[need])
				c.cues[need] = append(c.cues[need], cu)
			}
		}
	}
	for w := range c.vocabulary {
		c.byLength[len(w)] = append(c.byLength[len(w)], w)
	}
	for _, list := range c.byLength {
		sort.Strings(list)
	}
	return c
}

// compile turns one lexicon phrase into a cue and adds its words to the
// vocabulary for spelling correction.
func (c *classifier) compile(phrase string, weight float64) cue {
	if pattern, ok := strings.CutPrefix(phrase, "re:"); ok {
		return cue{re: regexp.MustCompile(pattern), weight: weight}
	}
	var terms []string
	for _, field := range strings.Fields(phrase) {
		if field == "*" || field == "#" {
			terms = append(terms, field)
			continue
		}
		for _, w := range words(field) {
			if len(w) >= 4 && !english.IsStopWord(w) {
				c.vocabulary[w] = true
			}
			if len(w) >= 4 {
				c.lexiconStems[stem(w)] = true
			}
			terms = append(terms, stem(w))
		}
	}
	return cue{terms: terms, weight: weight}
}

// scored is a need with its score for one message.
type scored struct {
	need  Need
	score float64
}

func (c *classifier) classify(text string) []Need {
	var needs []Need
	for _, s := range c.scores(text) {
		if s.score >= recogniseThreshold {
			needs = append(needs, s.need)
		}
	}
	return needs
}

// scores returns every need with a positive score, the highest first and
// ties in AllNeeds order.
func (c *classifier) scores(text string) []scored {
	lower := normalize(text)
	tokens := c.correct(c.splitRunOns(words(lower)))
	stemmed := make([]string, len(tokens))
	for i, t := range tokens {
		stemmed[i] = stem(t)
	}
	// Regular expressions see the corrected words too, after the raw text,
	// so both "5'10" and a corrected "shipping" can match.
	corrected := lower + " \n " + strings.Join(tokens, " ")

	var out []scored
	for rank, need := range AllNeeds {
		total := 0.0
		for _, cu := range c.cues[need] {
			if cu.matches(corrected, stemmed) {
				total += cu.weight
			}
		}
		if total > 0 {
			out = append(out, scored{need: need, score: total + float64(len(AllNeeds)-rank)*1e-6})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].score > out[j].score })
	return out
}

func (cu cue) matches(text string, stemmed []string) bool {
	if cu.re != nil {
		return cu.re.MatchString(text)
	}
	for start := range stemmed {
		if matchFrom(cu.terms, stemmed, start) {
			return true
		}
	}
	return false
}

// matchFrom reports whether terms match the stems starting at index i.
func matchFrom(terms, stemmed []string, i int) bool {
	if len(terms) == 0 {
		return true
	}
	switch terms[0] {
	case "*":
		for skip := 0; skip <= maxGap && i+skip <= len(stemmed); skip++ {
			if matchFrom(terms[1:], stemmed, i+skip) {
				return true
			}
		}
		return false
	case "#":
		if i < len(stemmed) && isNumber(stemmed[i]) {
			return matchFrom(terms[1:], stemmed, i+1)
		}
		return false
	}
	if i < len(stemmed) && stemmed[i] == terms[0] {
		return matchFrom(terms[1:], stemmed, i+1)
	}
	return false
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !unicode.IsDigit(r) {
			return false
		}
	}
	return true
}

// splitRunOns splits words run together, as in "udeliver", "withpayment"
// or "order1001": a lexicon word with a short word, stop word or number
// before or after it becomes two words.
func (c *classifier) splitRunOns(tokens []string) []string {
	out := make([]string, 0, len(tokens))
	for _, t := range tokens {
		out = append(out, c.splitRunOn(t)...)
	}
	return out
}

func (c *classifier) splitRunOn(w string) []string {
	if len(w) < 5 || c.vocabulary[w] || c.lexiconStems[stem(w)] {
		return []string{w}
	}
	for i := 1; i < len(w)-3; i++ {
		head, tail := w[:i], w[i:]
		if c.lexiconStems[stem(tail)] && (len(head) <= 2 || english.IsStopWord(head) || c.lexiconStems[stem(head)]) {
			return []string{head, tail}
		}
	}
	for i := len(w) - 1; i >= 4; i-- {
		head, tail := w[:i], w[i:]
		if c.lexiconStems[stem(head)] && (isNumber(tail) || english.IsStopWord(tail) || c.lexiconStems[stem(tail)]) {
			return []string{head, tail}
		}
	}
	return []string{w}
}

// correct replaces misspelt words with the one lexicon word closest to
// them in optimal string alignment distance. Words of five to seven letters
// may be one edit away and longer words two. The first letter must match,
// or be swapped with the second. A word with no single such neighbour is
// kept.
func (c *classifier) correct(tokens []string) []string {
	out := make([]string, len(tokens))
	for i, t := range tokens {
		out[i] = c.correctWord(t)
	}
	return out
}

func (c *classifier) correctWord(w string) string {
	if len(w) < 5 || c.vocabulary[w] || english.IsStopWord(w) || extraStopWords[w] || isNumber(w) {
		return w
	}
	maxEdits := 1
	if len(w) >= 8 {
		maxEdits = 2
	}
	best, bestDistance, ties := "", maxEdits+1, 0
	for n := len(w) - maxEdits; n <= len(w)+maxEdits; n++ {
		for _, candidate := range c.byLength[n] {
			if candidate[0] != w[0] && (candidate[0] != w[1] || candidate[1] != w[0]) {
				continue
			}
			d := edlib.OSADamerauLevenshteinDistance(w, candidate)
			switch {
			case d < bestDistance:
				best, bestDistance, ties = candidate, d, 1
			case d == bestDistance && stem(candidate) != stem(best):
				ties++
			}
		}
	}
	if best == "" || ties > 1 {
		return w
	}
	return best
}
