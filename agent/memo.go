package agent

import (
	lru "github.com/hashicorp/golang-lru/v2"
)

// Caches of pure text functions whose inputs recur from turn to turn: the
// passages a shop's questions retrieve, their headings and their words.
// Each keeps its most recently used entries. The sizes are estimates of a
// large shop's recurring passages and vocabulary. Full, the three take an
// estimated 15 MB.
var (
	// unitCache maps a passage's content to its units.
	unitCache = newMemo[[]unit](2048)
	// cleanCache maps a text to its Markdown-free form.
	cleanCache = newMemo[string](8192)
	// stemCache maps a lowercase word to its stem.
	stemCache = newMemo[string](50000)
)

// newMemo returns a cache of size entries keyed by string.
func newMemo[V any](size int) *lru.Cache[string, V] {
	cache, err := lru.New[string, V](size)
	if err != nil {
		// lru.New fails only for a size below 1, and the sizes above are
		// constants, so this is a programming error.
		panic(err)
	}
	return cache
}
