package retrieval

import (
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/kljensen/snowball/english"
	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// word is one token of a text: a lowercase run of letters and digits with
// accents removed.
type word struct {
	text string
	// joined is true when a hyphen or slash joins the word to the one
	// before it, as in "t-shirt".
	joined bool
}

// tokenize splits text into words. An apostrophe inside a word is dropped
// ("don't" becomes "dont") and a trailing possessive "'s" is removed.
func tokenize(text string) []word {
	text = foldAccents(text)
	words := make([]word, 0, len(text)/6+1)
	var b strings.Builder
	joined, pendingJoin := false, false
	flush := func() {
		if b.Len() == 0 {
			return
		}
		words = append(words, word{text: b.String(), joined: joined})
		b.Reset()
	}

	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		i += size
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if b.Len() == 0 {
				joined = pendingJoin && len(words) > 0
			}
			pendingJoin = false
			b.WriteRune(unicode.ToLower(r))
		case (r == '\'' || r == '’') && b.Len() > 0:
			if possessive(text[i:]) {
				flush()
				pendingJoin = false
				i++ // skip the "s"
			}
			// Otherwise stay inside the word: "don't" reads as "dont".
		case (r == '-' || r == '/') && b.Len() > 0:
			flush()
			pendingJoin = true
		default:
			flush()
			pendingJoin = false
		}
	}
	flush()
	return words
}

// possessive reports whether rest, the text after an apostrophe, starts
// with an "s" that ends the word.
func possessive(rest string) bool {
	if len(rest) == 0 || (rest[0] != 's' && rest[0] != 'S') {
		return false
	}
	if len(rest) == 1 {
		return true
	}
	r, _ := utf8.DecodeRuneInString(rest[1:])
	return !unicode.IsLetter(r) && !unicode.IsDigit(r)
}

var accentFolder = sync.Pool{New: func() any {
	return transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
}}

// foldAccents removes diacritics, so "Café" and "cafe" match. ASCII text is
// returned unchanged without work.
func foldAccents(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	t := accentFolder.Get().(transform.Transformer)
	defer accentFolder.Put(t)
	folded, _, err := transform.String(t, s)
	if err != nil {
		return s
	}
	return folded
}

// isStopWord reports whether w is a common English function word that
// carries no meaning for search (the Snowball English list).
func isStopWord(w string) bool { return english.IsStopWord(w) }

// stemCache maps words to their stems. Stemming dominates the cost of
// embedding, and a catalog repeats a small vocabulary.
var stemCache = struct {
	sync.RWMutex
	m map[string]string
}{m: make(map[string]string)}

// maxStemCache bounds the cache, because queries can bring any words.
const maxStemCache = 50000

// stem returns the Snowball (Porter2) English stem of a lowercase word,
// the same algorithm as PostgreSQL's english text search configuration.
// Words with digits are returned unchanged.
func stem(w string) string {
	if len(w) <= 2 || strings.ContainsAny(w, "0123456789") {
		return w
	}
	stemCache.RLock()
	s, ok := stemCache.m[w]
	stemCache.RUnlock()
	if ok {
		return s
	}

	s = english.Stem(w, true)
	stemCache.Lock()
	if len(stemCache.m) >= maxStemCache {
		clear(stemCache.m)
	}
	stemCache.m[w] = s
	stemCache.Unlock()
	return s
}

// terms returns the stems of the content words of text, in order, for
// lexical scoring.
func terms(text string) []string {
	words := tokenize(text)
	out := make([]string, 0, len(words))
	for _, w := range words {
		if isStopWord(w.text) {
			continue
		}
		out = append(out, stem(w.text))
	}
	return out
}
