package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/salesagent/salesagent"
)

// maxUnsearchableShown bounds how many terms without a searchable word
// ReplaceSynonyms names in its error.
const maxUnsearchableShown = 10

// ReplaceSynonyms replaces all of the shop's synonym rules with rules, in
// one transaction, so searches see either the old list or the new one.
// An empty rules clears the list. Search parses terms with PostgreSQL's
// english configuration, so every term must keep a word once it drops stop
// words. Otherwise nothing is stored, and the error, with code invalid,
// names the lines and terms to fix. A missing shop is an error with code
// not_found.
func (db *DB) ReplaceSynonyms(ctx context.Context, shopID int64, rules []salesagent.SynonymRule) error {
	return db.InTx(ctx, func(tx pgx.Tx) error {
		// Locking the shop row orders concurrent replacements of one shop
		// and finds a missing shop before any work.
		var id int64
		err := tx.QueryRow(ctx, `SELECT id FROM shops WHERE id = $1 FOR NO KEY UPDATE`, shopID).Scan(&id)
		if err != nil {
			return translate(err, fmt.Sprintf("shop %d", shopID))
		}
		if err := checkSearchable(ctx, tx, rules); err != nil {
			return err
		}

		if _, err := tx.Exec(ctx, `DELETE FROM synonym_rules WHERE shop_id = $1`, shopID); err != nil {
			return fmt.Errorf("delete synonyms of shop %d: %w", shopID, err)
		}
		_, err = tx.CopyFrom(ctx, pgx.Identifier{"synonym_rules"}, []string{"shop_id", "line", "inputs", "outputs"},
			pgx.CopyFromSlice(len(rules), func(i int) ([]any, error) {
				outputs := rules[i].Outputs
				if outputs == nil {
					outputs = []string{}
				}
				return []any{shopID, rules[i].Line, rules[i].Inputs, outputs}, nil
			}))
		if err != nil {
			return translate(err, fmt.Sprintf("synonyms of shop %d", shopID))
		}
		return nil
	})
}

// ruleTerms returns every term of rules, inputs and outputs, with the
// line of each, as two parallel arrays for unnest.
func ruleTerms(rules []salesagent.SynonymRule) (lines []int32, terms []string) {
	for _, r := range rules {
		for _, term := range append(append([]string{}, r.Inputs...), r.Outputs...) {
			lines = append(lines, int32(r.Line))
			terms = append(terms, term)
		}
	}
	return lines, terms
}

// checkSearchable rejects rules with a term that PostgreSQL's english
// configuration reduces to no lexeme, such as "the" or "it", because
// search could never match it.
func checkSearchable(ctx context.Context, q Querier, rules []salesagent.SynonymRule) error {
	lines, terms := ruleTerms(rules)
	rows, err := q.Query(ctx, `SELECT t.line, t.term FROM unnest($1::int[], $2::text[]) AS t (line, term)
		WHERE to_tsvector('english', t.term) = ''::tsvector ORDER BY t.line`, lines, terms)
	if err != nil {
		return fmt.Errorf("parse synonym terms: %w", err)
	}
	type badTerm struct {
		line int
		term string
	}
	bad, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (badTerm, error) {
		var b badTerm
		err := row.Scan(&b.line, &b.term)
		return b, err
	})
	if err != nil {
		return fmt.Errorf("parse synonym terms: %w", err)
	}
	if len(bad) == 0 {
		return nil
	}

	var list []string
	for i, b := range bad {
		if i == maxUnsearchableShown {
			list = append(list, fmt.Sprintf("and %d more", len(bad)-maxUnsearchableShown))
			break
		}
		list = append(list, fmt.Sprintf("line %d %q", b.line, b.term))
	}
	return salesagent.Errorf(salesagent.EINVALID,
		"invalid synonyms: %s only stop words, which search ignores (%s): remove those terms or make them more specific, then load the file again",
		pluralHas(len(bad)), strings.Join(list, ", "))
}

func pluralHas(n int) string {
	if n == 1 {
		return "1 term has"
	}
	return fmt.Sprintf("%d terms have", n)
}

// DroppedWords is a term of a synonyms file that keeps some of its words
// and loses others to PostgreSQL's english stop words, as "down jacket"
// matches as "jacket".
type DroppedWords struct {
	Line  int
	Term  string
	Words []string
}

// SynonymStopWords returns the terms of rules with several words of which
// some are stop words, which search ignores. A term of stop words only is
// an error of ReplaceSynonyms instead.
func (db *DB) SynonymStopWords(ctx context.Context, rules []salesagent.SynonymRule) ([]DroppedWords, error) {
	lines, terms := ruleTerms(rules)
	rows, err := db.Pool.Query(ctx, `SELECT t.line, t.term, array_agg(w.word ORDER BY w.n)
		FROM unnest($1::int[], $2::text[]) AS t (line, term),
			regexp_split_to_table(t.term, '\s+') WITH ORDINALITY AS w (word, n)
		WHERE to_tsvector('english', t.term) <> ''::tsvector AND w.word <> ''
			AND to_tsvector('english', w.word) = ''::tsvector
		GROUP BY t.line, t.term
		ORDER BY t.line, t.term`, lines, terms)
	if err != nil {
		return nil, fmt.Errorf("find stop words in synonym terms: %w", err)
	}
	dropped, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (DroppedWords, error) {
		var d DroppedWords
		var line int32
		err := row.Scan(&line, &d.Term, &d.Words)
		d.Line = int(line)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("find stop words in synonym terms: %w", err)
	}
	return dropped, nil
}

// ShopSynonyms returns the shop's synonym rules in file order. A shop
// without any returns none and no error.
func (db *DB) ShopSynonyms(ctx context.Context, shopID int64) ([]salesagent.SynonymRule, error) {
	rows, err := db.Pool.Query(ctx, `SELECT line, inputs, outputs FROM synonym_rules WHERE shop_id = $1 ORDER BY line`, shopID)
	if err != nil {
		return nil, fmt.Errorf("read synonyms of shop %d: %w", shopID, err)
	}
	rules, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (salesagent.SynonymRule, error) {
		var r salesagent.SynonymRule
		err := row.Scan(&r.Line, &r.Inputs, &r.Outputs)
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("read synonyms of shop %d: %w", shopID, err)
	}
	return rules, nil
}
