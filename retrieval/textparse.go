package retrieval

import (
	"slices"
	"strings"
	"sync"
)

// maxLexemes bounds the words a lexemeCache keeps. A full cache starts over.
// 100,000 words take an estimated 5 MB.
const maxLexemes = 100_000

// maxPlainWords is the most words a query may have to be parsed in Go.
// PostgreSQL keeps at most 256 positions of one lexeme in a tsvector, so a
// longer text could differ.
const maxPlainWords = 256

// maxPlainWordLen is the longest word parsed in Go, far below the 2,047
// bytes past which PostgreSQL's parser drops a word.
const maxPlainWordLen = 64

// lexemeCache maps a word of ASCII letters, lowercased, to the lexeme that
// PostgreSQL's english configuration makes of it, or to "" for a stop
// word. A query made only of such words and numbers is then parsed
// without a round trip to the database (see parsePlain). Stemming a word
// does not depend on the shop, so one cache serves a searcher's shops.
type lexemeCache struct {
	mu    sync.RWMutex
	stems map[string]string
}

func newLexemeCache() *lexemeCache {
	return &lexemeCache{stems: map[string]string{}}
}

// parsedText is the parse of a text by to_tsvector('english', text): its
// distinct lexemes in the tsvector's order, and each lexeme at each of
// its positions, in order of position.
type parsedText struct {
	lexemes   []string
	ordered   []string
	positions []int
}

// parsePlain parses text as PostgreSQL's english configuration would, when
// plainWords accepts it and the cache contains every word of letters in it.
func (c *lexemeCache) parsePlain(text string) (parsedText, bool) {
	words, ok := plainWords(text)
	if !ok {
		return parsedText{}, false
	}
	var p parsedText
	c.mu.RLock()
	defer c.mu.RUnlock()
	for i, w := range words {
		lexeme := w
		if isASCIILetter(w[0]) {
			stem, known := c.stems[strings.ToLower(w)]
			if !known {
				return parsedText{}, false
			}
			lexeme = stem
		}
		if lexeme == "" {
			continue
		}
		p.ordered = append(p.ordered, lexeme)
		p.positions = append(p.positions, i+1)
	}
	// A tsvector orders its lexemes by their bytes, as Go compares
	// strings.
	p.lexemes = slices.Clone(p.ordered)
	slices.Sort(p.lexemes)
	p.lexemes = slices.Compact(p.lexemes)
	return p, true
}

// learn records the stems of text's words from PostgreSQL's own parse of
// it: the word at position i has the lexeme found there, and a word at a
// position with no lexeme is a stop word. It records nothing when the
// parse does not line up with the words, which plainWords should rule
// out.
func (c *lexemeCache) learn(text string, p parsedText) {
	words, ok := plainWords(text)
	if !ok || len(p.ordered) != len(p.positions) {
		return
	}
	stems := make([]string, len(words))
	found := make([]bool, len(words))
	for i, pos := range p.positions {
		if pos < 1 || pos > len(words) || found[pos-1] {
			return
		}
		stems[pos-1], found[pos-1] = p.ordered[i], true
	}

	for i, w := range words {
		if !isASCIILetter(w[0]) && (!found[i] || stems[i] != w) {
			return
		}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	for i, w := range words {
		if !isASCIILetter(w[0]) {
			continue
		}
		if len(c.stems) >= maxLexemes {
			clear(c.stems)
		}
		c.stems[strings.ToLower(w)] = stems[i]
	}
}

// plainWords splits text into the tokens that PostgreSQL's default text
// search parser finds in it, when text is made only of words of ASCII
// letters, numbers of ASCII digits, and characters that the parser
// always reads as blanks between them. It reports false for anything
// else, such as hyphenated words, "t-shirt", letters next to digits,
// "9am", decimals, "9.5", hosts, "shop.com", and non-ASCII letters, whose
// parse is left to PostgreSQL.
//
// Whitespace, ! ? " ( ) ; and apostrophes are always blanks. A full stop,
// comma or colon is one only before whitespace or the end of the text:
// "boots.Do" is one token for PostgreSQL.
func plainWords(text string) ([]string, bool) {
	var words []string
	start := -1
	for i := 0; i < len(text); i++ {
		b := text[i]
		if isASCIILetter(b) || isASCIIDigit(b) {
			if start >= 0 && isASCIIDigit(b) != isASCIIDigit(text[start]) {
				return nil, false
			}
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			if i-start > maxPlainWordLen {
				return nil, false
			}
			words = append(words, text[start:i])
			start = -1
		}
		switch b {
		case ' ', '\t', '\n', '\r', '!', '?', '"', '(', ')', ';', '\'':
		case '.', ',', ':':
			if i+1 < len(text) && !isSpace(text[i+1]) {
				return nil, false
			}
		case 0xE2:
			// U+2018 and U+2019, the curly apostrophes of phone
			// keyboards, are blanks too.
			if !strings.HasPrefix(text[i:], "\u2019") && !strings.HasPrefix(text[i:], "\u2018") {
				return nil, false
			}
			i += 2
		default:
			return nil, false
		}
	}
	if start >= 0 {
		if len(text)-start > maxPlainWordLen {
			return nil, false
		}
		words = append(words, text[start:])
	}
	if len(words) > maxPlainWords {
		return nil, false
	}
	return words, true
}

func isASCIILetter(b byte) bool { return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' }

func isASCIIDigit(b byte) bool { return b >= '0' && b <= '9' }

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }
