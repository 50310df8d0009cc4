package agent

import (
	"regexp"
	"strings"
	"unicode"

	"github.com/kljensen/snowball/english"

	"github.com/salesagent/salesagent/retrieval"
)

// contractions expands the English contractions that change how a message
// tokenizes, so that "don't" reads as "do not" and "i'm" as "i am".
var contractions = strings.NewReplacer(
	"can't", "can not", "won't", "will not", "n't", " not",
	"i'm", "i am", "'re", " are", "'ll", " will", "'ve", " have", "'d", " would",
	"it's", "it is", "what's", "what is", "where's", "where is", "that's", "that is",
	"there's", "there is", "how's", "how is", "when's", "when is",
)

// straightQuotes replaces typographic quotes with straight ones.
var straightQuotes = strings.NewReplacer("\u2019", "'", "\u2018", "'", "\u201c", `"`, "\u201d", `"`)

// normalize lowercases s and straightens typographic quotes.
func normalize(s string) string {
	return straightQuotes.Replace(strings.ToLower(s))
}

// words splits a normalized text into words: runs of letters and digits,
// with contractions expanded. Other characters separate words.
func words(s string) []string {
	s = contractions.Replace(s)
	return strings.FieldsFunc(s, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

// stem returns the Snowball English stem of a lowercase word.
func stem(word string) string {
	if s, ok := stemCache.Get(word); ok {
		return s
	}
	s := english.Stem(word, true)
	stemCache.Add(word, s)
	return s
}

// stems returns the stems of the words of s.
func stems(s string) []string {
	ws := words(normalize(s))
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = stem(w)
	}
	return out
}

// contentStems returns the stems of the words of s that carry meaning,
// leaving out English stop words and one-letter words.
func contentStems(s string) []string {
	var out []string
	for _, w := range words(normalize(s)) {
		if len(w) < 2 || (english.IsStopWord(w) && !meaningfulStopWords[w]) || extraStopWords[w] {
			continue
		}
		out = append(out, stem(w))
	}
	return out
}

// meaningfulStopWords are stop words that also name things a shop sells,
// as "down" does in "down jacket".
var meaningfulStopWords = map[string]bool{"down": true}

// extraStopWords are words a shopper uses in almost every question that
// carry nothing about its subject.
var extraStopWords = map[string]bool{
	"can": true, "could": true, "would": true, "please": true, "hi": true, "hello": true,
	"hey": true, "thanks": true, "thank": true, "much": true, "many": true, "get": true,
	"want": true, "need": true, "know": true, "tell": true, "like": true, "also": true,
	"us": true, "one": true, "ok": true, "okay": true, "yes": true, "will": true, "shall": true,
	"may": true, "might": true, "must": true, "let": true, "help": true,
}

// sentenceEnd finds the end of a sentence: terminal punctuation followed by
// white space, or a line break.
var sentenceEnd = regexp.MustCompile(`[.!?]+["')\]]*\s+|\n+`)

// splitSentences cuts text into sentences, keeping each sentence's own
// punctuation and dropping the white space between them.
func splitSentences(text string) []string {
	var out []string
	start := 0
	for _, loc := range sentenceEnd.FindAllStringIndex(text, -1) {
		if sentence := strings.TrimSpace(text[start:loc[1]]); sentence != "" && !abbreviationEnd(text[start:loc[0]]) {
			out = append(out, sentence)
			start = loc[1]
		}
	}
	if rest := strings.TrimSpace(text[start:]); rest != "" {
		out = append(out, rest)
	}
	return out
}

// abbreviationEnd reports whether a candidate sentence ends in an
// abbreviation such as "e.g" or "approx", after which a full stop does not
// end the sentence.
func abbreviationEnd(s string) bool {
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return false
	}
	last := strings.ToLower(fields[len(fields)-1])
	switch last {
	case "e.g", "i.e", "approx", "etc", "vs", "no", "incl", "st", "mr", "mrs", "ms", "dr", "a.m", "p.m":
		return true
	}
	return false
}

// streamParts cuts text into parts for streaming, one per sentence, such
// that the parts joined give text back unchanged.
func streamParts(text string) []string {
	var parts []string
	start := 0
	for _, loc := range sentenceEnd.FindAllStringIndex(text, -1) {
		if loc[1] > start {
			parts = append(parts, text[start:loc[1]])
			start = loc[1]
		}
	}
	if start < len(text) {
		parts = append(parts, text[start:])
	}
	return parts
}

// joinList joins items as English does: "a", "a and b", "a, b and c".
func joinList(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

// joinOr joins items as English does with "or": "a", "a or b", "a, b or c".
func joinOr(items []string) string {
	if len(items) < 2 {
		return joinList(items)
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}

// exclusions returns the terms of message that a leading "-" excludes from
// a product search, with their "-", as "-boots" in "hiking -boots".
func exclusions(message string) []string {
	_, excluded := retrieval.SplitExclusions(message)
	for i, word := range excluded {
		excluded[i] = "-" + word
	}
	return excluded
}

// withoutExclusions returns message without the terms that exclusions
// returns, so that an excluded word names no product or product type.
func withoutExclusions(message string) string {
	included, _ := retrieval.SplitExclusions(message)
	return strings.Join(included, " ")
}
