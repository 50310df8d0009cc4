package retrieval

import (
	"slices"
	"strings"

	"github.com/salesagent/salesagent"
)

// accessoryFactor scales the full-text score of a product whose title
// names the query's words only as the thing it serves (see accessoryRule),
// so that "Case for iPhone 5" ranks below the phones for "iphone 5".
const accessoryFactor = 0.5

// servingConnectors are the title words that introduce what a product
// serves rather than what it is: "Case for iPhone 5", "Lamp compatible
// with Epson projectors". Connectors of several words match word by word.
var servingConnectors = [][]string{
	{"for"},
	{"fits"},
	{"to", "fit"},
	{"compatible", "with"},
	{"works", "with"},
}

// queryConnectorWords are the query words that turn accessoryRule off,
// because the shopper is looking for an accessory: "case for iphone".
var queryConnectorWords = []string{"for", "fits", "fit", "compatible", "works"}

// accessoryRule finds, for one query, the product titles that contain the
// query's words only after a serving connector, which describe an
// accessory of what the shopper named. For "iphone 5 case", "Case for
// iPhone 5" matches "case" before "for", so the rule leaves it alone.
//
// NOTE: a connector inside a name still counts, so the book "The Quest for
// the Diamond Sword" is demoted for "diamond sword".
type accessoryRule struct {
	lexemes map[string]bool
}

// newAccessoryRule returns the rule for a query, or nil when it does not
// apply: the query has a connector word itself, or no terms.
func newAccessoryRule(text string, tq textQuery) *accessoryRule {
	for _, w := range tokenize(includedText(text)) {
		if slices.Contains(queryConnectorWords, w.text) {
			return nil
		}
	}
	r := &accessoryRule{lexemes: map[string]bool{}}
	for _, g := range tq.groups {
		for _, l := range g.lexemes {
			r.lexemes[l] = true
		}
	}
	if len(r.lexemes) == 0 {
		return nil
	}
	return r
}

// serves reports whether title matches the query only after a connector:
// at least one query lexeme after the first connector that has a word
// before it, and none before that connector. A connector joined to its
// neighbours by a hyphen or slash is part of a name ("Tea-for-Two") and
// does not count.
func (r *accessoryRule) serves(title string) bool {
	if r == nil || !mayHaveConnector(title) {
		return false
	}
	words := tokenize(title)
	for i := 1; i < len(words); i++ {
		if connectorAt(words, i) {
			return !r.matchesAny(words[:i]) && r.matchesAny(words[i:])
		}
	}
	return false
}

// mayHaveConnector reports whether title contains the letters of a
// serving connector's first word, a quick test before serves tokenizes it.
func mayHaveConnector(title string) bool {
	lower := strings.ToLower(title)
	for _, c := range servingConnectors {
		if strings.Contains(lower, c[0]) {
			return true
		}
	}
	return false
}

// connectorAt reports whether a serving connector starts at words[i] as
// separate words, not joined to its neighbours by a hyphen or slash.
func connectorAt(words []word, i int) bool {
	for _, c := range servingConnectors {
		end := i + len(c)
		if end > len(words) || words[i].joined || (end < len(words) && words[end].joined) {
			continue
		}
		match := true
		for j, cw := range c {
			if words[i+j].text != cw {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}

// matchesAny reports whether one of words, stemmed as PostgreSQL's english
// configuration stems them, or two words joined by a hyphen or slash, is a
// lexeme of the query.
func (r *accessoryRule) matchesAny(words []word) bool {
	for i, w := range words {
		if r.lexemes[stem(w.text)] {
			return true
		}
		if w.joined && i > 0 && (r.lexemes[words[i-1].text+"-"+w.text] || r.lexemes[words[i-1].text+"/"+w.text]) {
			return true
		}
	}
	return false
}

// demote multiplies by accessoryFactor the score of each product hit whose
// title serves the query, then sorts the hits by score again, keeping the
// order of equal ones. Other kinds of chunk keep their score, because a
// policy titled "Returns for orders abroad" is no accessory.
//
// NOTE: it reorders only the hits it gets, so a full-text search for one
// page moves an accessory down the page but does not bring in the product
// that ranked just below it. Hybrid search ranks at least minCandidates.
func (r *accessoryRule) demote(hits []Hit) []Hit {
	if r == nil {
		return hits
	}

	// Hits come sorted by score, and scaling keeps the demoted ones in
	// order, so merging the two runs sorts them. Each run keeps the hits'
	// positions, which break ties as a stable sort would.
	var undemoted, demoted []int
	for i := range hits {
		if hits[i].Kind == salesagent.KindProduct && r.serves(hits[i].Heading) {
			hits[i].Score *= accessoryFactor
			demoted = append(demoted, i)
		} else {
			undemoted = append(undemoted, i)
		}
	}
	if len(demoted) == 0 {
		return hits
	}
	merged := make([]Hit, 0, len(hits))
	for len(undemoted) > 0 || len(demoted) > 0 {
		takeUndemoted := len(demoted) == 0
		if len(undemoted) > 0 && len(demoted) > 0 {
			k, d := hits[undemoted[0]], hits[demoted[0]]
			takeUndemoted = k.Score > d.Score || (k.Score == d.Score && undemoted[0] < demoted[0])
		}
		if takeUndemoted {
			merged = append(merged, hits[undemoted[0]])
			undemoted = undemoted[1:]
		} else {
			merged = append(merged, hits[demoted[0]])
			demoted = demoted[1:]
		}
	}
	return merged
}
