package retrieval

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"
	"unicode"

	"github.com/salesagent/salesagent/postgres"
)

// maxLexicons bounds the shops whose lexicon is kept, dropping the least
// recently used one first. A shop's lexicon is read again in the
// background once it is LexiconMaxAge old, so only the first search of a
// shop waits for its lexicon.
const maxLexicons = 256

// LexiconMaxAge is the age at which a search starts a background read of
// the shop's lexicon, so a server's searches use a shop's new vocabulary
// and synonyms from about a minute after they change.
const LexiconMaxAge = time.Minute

// lexicon is the vocabulary of one shop's chunks, as PostgreSQL's english
// text search configuration stems it, with the number of chunks that
// contain each lexeme, and the shop's synonyms. Search takes term weights,
// spelling corrections, joined words and synonyms from it. It is read-only
// once built, except for the scan choices.
type lexicon struct {
	// df maps a lexeme to the number of chunks that contain it.
	df map[string]int
	// chunks is the number of the shop's chunks.
	chunks int
	// byLength lists the lexemes of letters only by their length in
	// runes, for spelling correction.
	byLength map[int][]string
	// synonyms is the shop's synonym rules, nil when it has none.
	synonyms *synonymSet
	// embedder is the shop's active embedder when the lexicon was read,
	// "" if the shop was not found. A query parsed in Go (see
	// parseTextQuery) searches with it, so for up to LexiconMaxAge after
	// a switch of embedder completes, such searches still use the previous
	// embedder's vectors, which the switch keeps.
	embedder string
	loaded   time.Time

	// scans caches, per filter (its SQL and arguments), whether vector
	// search ranks the chunks passing it exactly (see exactScan).
	scansMu sync.Mutex
	scans   map[string]bool
}

// idf returns the inverse document frequency of a lexeme found in df
// chunks, as BM25 weighs it: above zero even for a lexeme in every chunk.
func (l *lexicon) idf(df int) float64 {
	n := float64(max(l.chunks, df))
	return math.Log(1 + (n-float64(df)+0.5)/(float64(df)+0.5))
}

// scanChoice returns the cached choice of an exact scan for a filter.
func (l *lexicon) scanChoice(key string) (exact, ok bool) {
	l.scansMu.Lock()
	defer l.scansMu.Unlock()
	exact, ok = l.scans[key]
	return exact, ok
}

func (l *lexicon) setScanChoice(key string, exact bool) {
	l.scansMu.Lock()
	defer l.scansMu.Unlock()
	// Price filters make keys without bound; a full cache starts over.
	if len(l.scans) >= 1024 {
		clear(l.scans)
	}
	l.scans[key] = exact
}

// loadLexicon reads a shop's lexicon with ts_stat, which scans the tsvector
// of each of the shop's chunks, and its synonyms. The ts_stat scan took
// 37 ms for 18,115 product titles on a 2-core machine.
func loadLexicon(ctx context.Context, db *postgres.DB, shopID int64) (*lexicon, error) {
	lex := &lexicon{df: map[string]int{}, byLength: map[int][]string{}, loaded: time.Now(), scans: map[string]bool{}}
	// ts_stat takes its query as text; the shop id is an integer, so
	// formatting it in is safe.
	rows, err := db.Pool.Query(ctx, `SELECT word, ndoc FROM ts_stat('SELECT tsv FROM chunks WHERE shop_id = `+strconv.FormatInt(shopID, 10)+`')`)
	if err != nil {
		return nil, fmt.Errorf("read lexicon of shop %d: %w", shopID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var word string
		var ndoc int
		if err := rows.Scan(&word, &ndoc); err != nil {
			return nil, fmt.Errorf("read lexicon of shop %d: %w", shopID, err)
		}
		lex.df[word] = ndoc
		if isLetters(word) {
			n := len([]rune(word))
			lex.byLength[n] = append(lex.byLength[n], word)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read lexicon of shop %d: %w", shopID, err)
	}
	var embedder *string
	err = db.Pool.QueryRow(ctx, `SELECT count(*), (SELECT embedder FROM shops WHERE id = $1) FROM chunks WHERE shop_id = $1`, shopID).Scan(&lex.chunks, &embedder)
	if err != nil {
		return nil, fmt.Errorf("count chunks of shop %d: %w", shopID, err)
	}
	if embedder != nil {
		lex.embedder = *embedder
	}
	if lex.synonyms, err = loadSynonyms(ctx, db, shopID); err != nil {
		return nil, err
	}
	return lex, nil
}

// isLetters reports whether s is made of letters only.
func isLetters(s string) bool {
	for _, r := range s {
		if !unicode.IsLetter(r) {
			return false
		}
	}
	return s != ""
}

// lexiconCache keeps recent shops' lexicons in memory.
type lexiconCache struct {
	db *postgres.DB

	mu         sync.Mutex
	entries    map[int64]*lexiconEntry
	refreshing map[int64]bool
}

type lexiconEntry struct {
	lex  *lexicon
	used time.Time
}

func newLexiconCache(db *postgres.DB) *lexiconCache {
	return &lexiconCache{db: db, entries: map[int64]*lexiconEntry{}, refreshing: map[int64]bool{}}
}

// get returns the shop's lexicon, reading it on first use. An old lexicon
// is returned while a background refresh reads a new one, because a
// lexicon only steers term weights, spelling and which terms select
// candidates, so a stale one ranks a little worse but fails no search.
// Concurrent first searches of a shop each read the lexicon.
func (c *lexiconCache) get(ctx context.Context, shopID int64) (*lexicon, error) {
	c.mu.Lock()
	entry, ok := c.entries[shopID]
	if ok {
		entry.used = time.Now()
		if time.Since(entry.lex.loaded) > LexiconMaxAge && !c.refreshing[shopID] {
			c.refreshing[shopID] = true
			go c.refresh(shopID)
		}
		c.mu.Unlock()
		return entry.lex, nil
	}
	c.mu.Unlock()

	lex, err := loadLexicon(ctx, c.db, shopID)
	if err != nil {
		return nil, err
	}
	c.store(shopID, lex)
	return lex, nil
}

// refresh reads the shop's lexicon again, detached from any search. On
// failure the old lexicon stays, and the next search tries again.
func (c *lexiconCache) refresh(shopID int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	lex, err := loadLexicon(ctx, c.db, shopID)
	c.mu.Lock()
	delete(c.refreshing, shopID)
	c.mu.Unlock()
	if err == nil {
		c.store(shopID, lex)
	}
}

func (c *lexiconCache) store(shopID int64, lex *lexicon) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries[shopID] = &lexiconEntry{lex: lex, used: time.Now()}
	if len(c.entries) <= maxLexicons {
		return
	}
	var oldest int64
	var oldestUse time.Time
	for id, e := range c.entries {
		if oldestUse.IsZero() || e.used.Before(oldestUse) {
			oldest, oldestUse = id, e.used
		}
	}
	delete(c.entries, oldest)
}
