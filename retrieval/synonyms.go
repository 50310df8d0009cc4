package retrieval

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/postgres"
)

// Synonym settings.
const (
	// synonymWeight scales the weight of a group of synonyms that a query
	// term brings in, so that a chunk found only through a synonym ranks
	// below one with the shopper's own words. With 6,376 WordNet noun
	// synsets as synonyms, on the even-numbered queries of the CrowdFlower
	// and Home Depot judgements, 0.5 and 0.8 came within 0.002 nDCG@10 of
	// each other, and 0.5 lost less recall@10.
	synonymWeight = 0.5
	// maxSynonymAlternatives bounds the synonyms one query term adds, in
	// the order of the file's rules, so that a term listed in many rules
	// cannot make a query of hundreds of lexemes.
	maxSynonymAlternatives = 32
)

// phrase is a term as PostgreSQL's english configuration parses it: its
// lexemes in order, each with its position after the first lexeme's. A
// step of more than 1 is a dropped stop word, as in "door of house", or
// the parts of a hyphenated word, as in "t-shirt".
type phrase struct {
	lexemes []string
	offsets []int
}

// tsText writes the phrase as a termGroup lexeme: a lexeme alone, or the
// lexemes joined by tsquery distance operators, such as "door <-> knob"
// or "t-shirt <2> shirt", which tsQuery renders as a phrase. Lexemes from
// to_tsvector never contain spaces, so a space marks a phrase.
func (p phrase) tsText() string {
	if len(p.lexemes) == 1 {
		return p.lexemes[0]
	}
	var b strings.Builder
	for i, l := range p.lexemes {
		if i > 0 {
			step := p.offsets[i] - p.offsets[i-1]
			if step == 1 {
				b.WriteString(" <-> ")
			} else {
				b.WriteString(" <" + strconv.Itoa(step) + "> ")
			}
		}
		b.WriteString(l)
	}
	return b.String()
}

// synonymSet is a shop's synonym rules, indexed for matching a query.
type synonymSet struct {
	// byFirst maps a lexeme to the input terms that start with it.
	byFirst map[string][]*synonymEntry
}

// synonymEntry is one input term and every term it also finds, merged
// from all the rules that list it.
type synonymEntry struct {
	input        phrase
	alternatives []phrase
}

// newSynonymSet indexes rules whose terms parsed holds. A term missing
// from parsed has no lexeme and is skipped. It returns nil when no term
// finds another.
func newSynonymSet(rules []salesagent.SynonymRule, parsed map[string]phrase) *synonymSet {
	set := &synonymSet{byFirst: map[string][]*synonymEntry{}}
	entries := map[string]*synonymEntry{}
	add := func(input string, alternatives []string) {
		in, ok := parsed[input]
		if !ok {
			return
		}
		key := in.tsText()
		e := entries[key]
		if e == nil {
			e = &synonymEntry{input: in}
			entries[key] = e
		}
		for _, a := range alternatives {
			alt, ok := parsed[a]
			if !ok || alt.tsText() == key || slices.ContainsFunc(e.alternatives, func(p phrase) bool { return p.tsText() == alt.tsText() }) {
				continue
			}
			if len(e.alternatives) == 0 {
				set.byFirst[in.lexemes[0]] = append(set.byFirst[in.lexemes[0]], e)
			}
			e.alternatives = append(e.alternatives, alt)
		}
	}

	for _, r := range rules {
		alternatives := r.Outputs
		if len(alternatives) == 0 {
			alternatives = r.Inputs
		}
		for _, input := range r.Inputs {
			add(input, alternatives)
		}
	}
	if len(set.byFirst) == 0 {
		return nil
	}
	return set
}

// loadSynonyms reads the shop's synonym rules and parses their terms with
// PostgreSQL's english configuration, as chunks were parsed, so that
// "Trainers" matches the stored lexeme "trainer". It returns nil when the
// shop has no rules.
func loadSynonyms(ctx context.Context, db *postgres.DB, shopID int64) (*synonymSet, error) {
	rules, err := db.ShopSynonyms(ctx, shopID)
	if err != nil || len(rules) == 0 {
		return nil, err
	}
	var terms []string
	for _, r := range rules {
		terms = append(terms, r.Inputs...)
		terms = append(terms, r.Outputs...)
	}
	rows, err := db.Pool.Query(ctx, `SELECT t.term, array_agg(u.lexeme ORDER BY p.pos), array_agg(p.pos::int ORDER BY p.pos)
		FROM unnest($1::text[]) AS t (term),
			unnest(to_tsvector('english', t.term)) AS u,
			unnest(u.positions) AS p (pos)
		GROUP BY t.term`, terms)
	if err != nil {
		return nil, fmt.Errorf("parse synonyms of shop %d: %w", shopID, err)
	}
	defer rows.Close()
	parsed := map[string]phrase{}
	for rows.Next() {
		var term string
		var p phrase
		if err := rows.Scan(&term, &p.lexemes, &p.offsets); err != nil {
			return nil, fmt.Errorf("parse synonyms of shop %d: %w", shopID, err)
		}
		for i := len(p.offsets) - 1; i >= 0; i-- {
			p.offsets[i] -= p.offsets[0]
		}
		parsed[term] = p
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("parse synonyms of shop %d: %w", shopID, err)
	}
	return newSynonymSet(rules, parsed), nil
}

// tokenSeq is a query's lexemes in order of position, as to_tsvector
// numbers its words.
type tokenSeq struct {
	lexemes   []string
	positions []int
	at        map[int]string
}

func newTokenSeq(lexemes []string, positions []int) tokenSeq {
	s := tokenSeq{lexemes: lexemes, positions: positions, at: make(map[int]string, len(positions))}
	for i, pos := range positions {
		s.at[pos] = lexemes[i]
	}
	return s
}

// matchesAt reports whether p occurs in s starting at its i-th lexeme,
// with the same gaps between words.
func (s tokenSeq) matchesAt(i int, p phrase) bool {
	for k, l := range p.lexemes {
		if s.at[s.positions[i]+p.offsets[k]] != l {
			return false
		}
	}
	return true
}

func (s tokenSeq) contains(p phrase) bool {
	for i, l := range s.lexemes {
		if l == p.lexemes[0] && s.matchesAt(i, p) {
			return true
		}
	}
	return false
}

// addSynonyms adds a group for each term of the query that the shop's
// synonyms list. The group holds the term's alternatives that occur in
// the shop and not already in the query, and weighs as one term found in
// the sum of their chunks, scaled by synonymWeight. A phrase's chunks are
// estimated by its rarest lexeme's. A single word that no chunk contains
// gets its alternatives in its own group, in place of a spelling
// correction, because a listed word is no typo. The group adds to the
// groups of the term's own words, so a chunk with both the term and a
// synonym earns both.
func (tq *textQuery) addSynonyms(query tokenSeq, lex *lexicon) {
	if lex.synonyms == nil {
		return
	}
	matched := map[*synonymEntry]bool{}
	for i, first := range query.lexemes {
		for _, e := range lex.synonyms.byFirst[first] {
			if matched[e] || !query.matchesAt(i, e.input) {
				continue
			}
			matched[e] = true
			tq.addSynonymGroup(e, query, lex)
		}
	}
}

// excludeSynonyms adds the synonyms of each excluded word to the words
// excluded: with "sneakers, trainers" listed, "shoes -sneakers" leaves out
// trainers too.
func (tq *textQuery) excludeSynonyms(lex *lexicon) {
	if lex.synonyms == nil {
		return
	}
	for _, word := range slices.Clone(tq.exclude) {
		for _, e := range lex.synonyms.byFirst[word] {
			if len(e.input.lexemes) != 1 {
				continue
			}
			for _, alt := range e.alternatives {
				if text := alt.tsText(); !slices.Contains(tq.exclude, text) {
					tq.exclude = append(tq.exclude, text)
				}
			}
		}
	}
}

func (tq *textQuery) addSynonymGroup(e *synonymEntry, query tokenSeq, lex *lexicon) {
	var alternatives []string
	total := 0
	for _, alt := range e.alternatives {
		df := lex.phraseDF(alt)
		if df == 0 || query.contains(alt) {
			continue
		}
		alternatives = append(alternatives, alt.tsText())
		total += df
		if len(alternatives) == maxSynonymAlternatives {
			break
		}
	}
	if len(alternatives) == 0 {
		return
	}
	df := min(total, lex.chunks)
	group := termGroup{source: e.input.tsText(), lexemes: alternatives, weight: synonymWeight * lex.idf(df), df: df}

	// The words of a listed phrase are no typos either: "torch" in "head
	// torch" must not be corrected to another word of the shop.
	if len(e.input.lexemes) > 1 {
		for i, g := range tq.groups {
			if len(g.lexemes) > 1 && g.source == g.lexemes[0] && lex.df[g.source] == 0 && slices.Contains(e.input.lexemes, g.source) {
				tq.groups[i] = lex.uncorrected(g.source)
			}
		}
	}

	if word := e.input.lexemes[0]; len(e.input.lexemes) == 1 && lex.df[word] == 0 {
		for i, g := range tq.groups {
			if g.lexemes[0] == word {
				group.lexemes = append([]string{word}, alternatives...)
				tq.groups[i] = group
				return
			}
		}
	}
	tq.groups = append(tq.groups, group)
}

// phraseDF returns the number of chunks that contain p's rarest lexeme,
// at least as many as contain p.
func (l *lexicon) phraseDF(p phrase) int {
	df := l.df[p.lexemes[0]]
	for _, lexeme := range p.lexemes[1:] {
		df = min(df, l.df[lexeme])
	}
	return df
}
