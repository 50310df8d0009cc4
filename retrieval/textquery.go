package retrieval

import (
	"context"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/salesagent/salesagent"
)

// Full-text query settings.
const (
	// correctionWeight scales the weight of a term that the shopper
	// misspelt, matched through its correction: a guess counts a little
	// less than a word the shop uses.
	correctionWeight = 0.8
	// candidateBudget bounds the chunks that full-text search ranks. Terms
	// are added to the candidate query from the rarest up while their
	// chunk counts sum to at most this, so a common word such as "white" or
	// a number only ranks chunks found through the rarer words. The rarest
	// term is always added. Ranking took about 2.5 µs a chunk on a 2-core
	// machine (10 ms for 4,026 chunks).
	candidateBudget = 2000
	// titleShare is the part of a term's weight that a match in the
	// heading (a product's title) earns. A match anywhere earns the rest.
	titleShare = 0.5
)

// rowQuerier runs a query that returns one row: a pool, a connection or a
// transaction.
type rowQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// termGroup is one term of a query: the lexeme the shopper wrote and its
// spelling correction, if any, or the synonyms of a word or phrase of the
// query. A chunk matching any of them earns the group's weight.
type termGroup struct {
	// source is the query's own lexeme or phrase that the group stands
	// for, or the two words whose joined form the group matches.
	source string
	// lexemes are matched as tsQuery renders them. An entry with spaces
	// is a phrase (see phrase.tsText).
	lexemes []string
	weight  float64
	// df is the number of chunks that contain the group's last lexeme: the
	// correction when there is one, since the shopper's word has none.
	df int
	// corrected is set when the group's last lexeme is a spelling
	// correction of source.
	corrected bool
}

// textQuery is a shopper's query prepared for full-text ranking against a
// shop's lexicon.
type textQuery struct {
	groups  []termGroup
	exclude []string
	// embedder is the shop's active embedder, read in the same round trip
	// as the parse (see parseTextQuery).
	embedder string
}

// SplitExclusions splits text into the words that a search looks for and
// the words it excludes, those with a leading "-", which it returns without
// the "-": "hiking -boots" looks for "hiking" and excludes "boots". A lone
// "-" is a word to look for.
func SplitExclusions(text string) (included, excluded []string) {
	for _, field := range strings.Fields(text) {
		if rest, ok := strings.CutPrefix(field, "-"); ok && rest != "" {
			excluded = append(excluded, rest)
		} else {
			included = append(included, field)
		}
	}
	return included, excluded
}

// parseTextQuery turns text into weighted term groups. PostgreSQL's english
// configuration parses the words, as it parsed the chunks, so that tokens
// such as "1/2" or "t-shirt" match as stored. Words with a leading "-" are
// excluded, with their synonyms. Then, from the shop's lexicon:
//
//   - each term is weighted by its inverse document frequency, so rare words
//     count more than common ones, as in BM25;
//   - a word of four letters or more that no chunk contains gets the
//     closest lexeme within one edit (two from eight letters on), the more
//     frequent of equally close ones, as an alternative: "sprkinler" finds
//     "sprinkler";
//   - two neighbouring words whose joined form the shop uses add that form:
//     "deck over" finds "DeckOver";
//   - a word or phrase that the shop's synonyms list adds its synonyms at
//     a lower weight (see addSynonyms): "sneakers" finds "trainers".
//
// A query of plain words that are all in the lexeme cache, the usual case,
// is parsed in Go with the same result (see parsePlain), and the shop's
// embedder comes from its lexicon. Otherwise PostgreSQL parses it, which
// adds its words to the cache, and the same round trip reads the shop's
// active embedder, which hybrid search needs next. A missing shop is then
// an ENOTFOUND error.
func parseTextQuery(ctx context.Context, db rowQuerier, lexemes *lexemeCache, shopID int64, text string, lex *lexicon) (textQuery, error) {
	include, exclude := SplitExclusions(text)
	includeText, excludeText := strings.Join(include, " "), strings.Join(exclude, " ")
	if lex.embedder != "" {
		in, inOK := lexemes.parsePlain(includeText)
		out, outOK := lexemes.parsePlain(excludeText)
		if inOK && outOK {
			return newTextQuery(in, out.lexemes, lex.embedder, include, lex), nil
		}
	}

	// The third and fourth columns list the included lexemes again, in
	// order of position, for matching synonyms of several words.
	var in parsedText
	var excluded []string
	var embedder *string
	err := db.QueryRow(ctx, `SELECT tsvector_to_array(to_tsvector('english', $1)), tsvector_to_array(to_tsvector('english', $2)),
			ARRAY(SELECT u.lexeme FROM unnest(to_tsvector('english', $1)) u, unnest(u.positions) p ORDER BY p),
			ARRAY(SELECT p::int FROM unnest(to_tsvector('english', $1)) u, unnest(u.positions) p ORDER BY p),
			(SELECT embedder FROM shops WHERE id = $3)`,
		includeText, excludeText, shopID).Scan(&in.lexemes, &excluded, &in.ordered, &in.positions, &embedder)
	if err != nil {
		return textQuery{}, err
	}
	if embedder == nil {
		return textQuery{}, salesagent.Errorf(salesagent.ENOTFOUND, "shop %d not found", shopID)
	}
	lexemes.learn(includeText, in)
	return newTextQuery(in, excluded, *embedder, include, lex), nil
}

// newTextQuery weighs the parsed words of a query against the shop's
// lexicon.
func newTextQuery(in parsedText, excluded []string, embedder string, include []string, lex *lexicon) textQuery {
	tq := textQuery{exclude: excluded, embedder: embedder}
	for _, l := range in.lexemes {
		tq.groups = append(tq.groups, lex.group(l))
	}
	tq.addSynonyms(newTokenSeq(in.ordered, in.positions), lex)
	tq.excludeSynonyms(lex)
	tq.addJoined(include, lex)
	return tq
}

// group weighs one lexeme of the query, with its correction when the shop
// does not use it.
func (l *lexicon) group(lexeme string) termGroup {
	g := l.uncorrected(lexeme)
	df := g.df
	if df > 0 || !isLetters(lexeme) || utf8.RuneCountInString(lexeme) < 4 {
		return g
	}
	if fix := l.correct(lexeme); fix != "" {
		g.lexemes = append(g.lexemes, fix)
		g.corrected = true
		g.df = l.df[fix]
		g.weight = correctionWeight * l.idf(g.df)
	}
	return g
}

// uncorrected weighs one lexeme of the query as the shopper wrote it.
func (l *lexicon) uncorrected(lexeme string) termGroup {
	df := l.df[lexeme]
	return termGroup{source: lexeme, lexemes: []string{lexeme}, weight: l.idf(df), df: df}
}

// addJoined adds a group for each pair of neighbouring words whose joined
// form is a lexeme of the shop. Stop words count, since "deck over" and
// "in door" join into words the shop may use.
func (tq *textQuery) addJoined(words []string, lex *lexicon) {
	var plain []string
	for _, w := range words {
		for _, t := range tokenize(w) {
			if isLetters(t.text) {
				plain = append(plain, t.text)
			}
		}
	}
	for i := 0; i+1 < len(plain); i++ {
		joined := stem(plain[i] + plain[i+1])
		df := lex.df[joined]
		if df == 0 || tq.has(joined) {
			continue
		}
		tq.groups = append(tq.groups, termGroup{source: plain[i] + " " + plain[i+1], lexemes: []string{joined}, weight: lex.idf(df), df: df})
	}
}

func (tq *textQuery) has(lexeme string) bool {
	for _, g := range tq.groups {
		if slices.Contains(g.lexemes, lexeme) {
			return true
		}
	}
	return false
}

// correct returns the lexeme of the shop closest to word by
// Damerau-Levenshtein distance, at most one edit for words up to seven
// letters and two for longer ones, preferring fewer edits and then the
// more frequent lexeme. It returns "" when none is that close.
func (l *lexicon) correct(word string) string {
	runes := []rune(word)
	maxEdits := 1
	if len(runes) >= 8 {
		maxEdits = 2
	}
	best, bestEdits, bestDF := "", maxEdits+1, 0
	for n := len(runes) - maxEdits; n <= len(runes)+maxEdits; n++ {
		for _, candidate := range l.byLength[n] {
			d := editDistance(runes, []rune(candidate), maxEdits)
			df := l.df[candidate]
			if d < bestEdits || (d == bestEdits && d <= maxEdits && (df > bestDF || (df == bestDF && candidate < best))) {
				best, bestEdits, bestDF = candidate, d, df
			}
		}
	}
	if bestEdits > maxEdits {
		return ""
	}
	return best
}

// editDistance returns the optimal string alignment distance between a and
// b (insertions, deletions, substitutions and swaps of neighbours), or
// limit+1 once it exceeds limit.
func editDistance(a, b []rune, limit int) int {
	if abs(len(a)-len(b)) > limit {
		return limit + 1
	}
	// Three rows of the dynamic programme: two back, one back, current.
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
			rowMin = min(rowMin, cur[j])
		}
		if rowMin > limit {
			return limit + 1
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// candidateGroups returns the indexes of the groups whose lexemes select
// the chunks to rank: from the rarest group up, within candidateBudget.
func (tq *textQuery) candidateGroups() []int {
	order := make([]int, len(tq.groups))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return tq.groups[a].df - tq.groups[b].df })
	var picked []int
	total := 0
	for _, i := range order {
		if len(picked) > 0 && total+tq.groups[i].df > candidateBudget {
			break
		}
		picked = append(picked, i)
		total += tq.groups[i].df
	}
	return picked
}

// tsQuery writes lexemes as a tsquery that matches any of them, with
// label appended to each (such as ":A" for headings), quoted so that
// PostgreSQL reads them as they are. An entry with spaces is a phrase of
// lexemes and distance operators, such as "door <-> knob", and is written
// in brackets with each of its lexemes labelled.
func tsQuery(lexemes []string, label string) string {
	parts := make([]string, len(lexemes))
	for i, l := range lexemes {
		if !strings.Contains(l, " ") {
			parts[i] = tsLexeme(l, label)
			continue
		}
		// Fields alternate: lexeme, operator, lexeme, ...
		fields := strings.Fields(l)
		for j := 0; j < len(fields); j += 2 {
			fields[j] = tsLexeme(fields[j], label)
		}
		parts[i] = "(" + strings.Join(fields, " ") + ")"
	}
	return strings.Join(parts, " | ")
}

func tsLexeme(lexeme, label string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(lexeme, `\`, `\\`), "'", "''") + "'" + label
}
