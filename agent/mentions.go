package agent

import (
	"regexp"
	"sort"
	"strings"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/retrieval"
)

// typeSynonyms map words shoppers use for a kind of product to the word
// that shops use in product type names, as "sneakers" to "shoe".
var typeSynonyms = map[string]string{
	"coat": "jacket", "parka": "jacket", "anorak": "jacket", "windbreaker": "jacket", "raincoat": "jacket",
	"puffer": "jacket", "puffy": "jacket", "shell": "jacket",
	"sneaker": "shoe", "sneakers": "shoe", "trainer": "shoe", "trainers": "shoe", "footwear": "shoe",
	"trousers": "pants", "trouser": "pants", "joggers": "pants",
	"tee": "shirt", "tees": "shirt", "tshirt": "shirt", "tshirts": "shirt",
	"hoody": "hoodie", "sweatshirts": "sweatshirt",
	"rucksack": "backpack", "daypack": "backpack", "pack": "backpack", "packs": "backpack",
	"baselayer": "base layer", "baselayers": "base layer",
}

// typeSynonymStems holds the stems of typeSynonyms' keys and values, which
// name a kind of product rather than one product.
var typeSynonymStems = map[string]bool{}

func init() {
	for from, to := range typeSynonyms {
		typeSynonymStems[stem(from)] = true
		for _, w := range strings.Fields(to) {
			typeSynonymStems[stem(w)] = true
		}
	}
}

// expandedStems returns the stems of message's words with the stems of the
// type words their synonyms stand for.
func expandedStems(message string) map[string]bool {
	out := map[string]bool{}
	for _, w := range words(normalize(message)) {
		out[stem(w)] = true
		if to, ok := typeSynonyms[w]; ok {
			for _, t := range strings.Fields(to) {
				out[stem(t)] = true
			}
		}
	}
	return out
}

// typeSeparator joins the kinds of a product type, as "&" does in
// "Hoodies & Sweatshirts".
var typeSeparator = regexp.MustCompile(`\s*(?:&|,|/|\band\b)\s*`)

// typeAlternatives splits a product type into the kinds it joins, as
// "Hoodies & Sweatshirts" into hoodies and sweatshirts, each as stems.
func typeAlternatives(productType string) [][]string {
	var out [][]string
	for _, part := range typeSeparator.Split(productType, -1) {
		if s := contentStems(part); len(s) > 0 {
			out = append(out, s)
		}
	}
	return out
}

// productTypeNamed returns the one product type among types that message
// names by a word of it or a synonym, as "Boots" for "hiking boots" or
// "Jackets" for "a rain shell". It returns "" when message names none, or
// names several equally, as "fleece jacket" names Fleece and Jackets.
func productTypeNamed(message string, types []string) string {
	have := expandedStems(withoutExclusions(message))
	best, bestWords, tie := "", 0, false
	for _, t := range types {
		matched := 0
		for _, alternative := range typeAlternatives(t) {
			all := true
			for _, s := range alternative {
				if !have[s] {
					all = false
					break
				}
			}
			if all {
				matched = max(matched, len(alternative))
			}
		}
		switch {
		case matched == 0 || strings.EqualFold(t, best):
		case matched > bestWords:
			best, bestWords, tie = t, matched, false
		case matched == bestWords:
			tie = true
		}
	}
	if tie {
		return ""
	}
	return best
}

// hitProductTypes returns the distinct product types of the product hits.
func hitProductTypes(hits []retrieval.Hit) []string {
	var types []string
	for _, h := range hits {
		if h.Kind == salesagent.KindProduct && h.ProductType != "" && !containsFold(types, h.ProductType) {
			types = append(types, h.ProductType)
		}
	}
	return types
}

func containsFold(list []string, s string) bool {
	for _, item := range list {
		if strings.EqualFold(item, s) {
			return true
		}
	}
	return false
}

// titleCandidate is a product that a message may name by its title.
type titleCandidate struct {
	id          int64
	title       string
	productType string
}

// candidatesFromHits returns the distinct products of the product hits in
// rank order.
func candidatesFromHits(hits []retrieval.Hit) []titleCandidate {
	var out []titleCandidate
	seen := map[int64]bool{}
	for _, h := range hits {
		if h.Kind != salesagent.KindProduct || h.Source.ProductID == 0 || seen[h.Source.ProductID] {
			continue
		}
		seen[h.Source.ProductID] = true
		out = append(out, titleCandidate{id: h.Source.ProductID, title: h.Heading, productType: h.ProductType})
	}
	return out
}

// namedProducts returns the ids of the candidates that message names by
// title, the most title words matched first. A distinct word of a title is
// one that no other candidate's title has and that names no kind of
// product, colour or number. A candidate is named when the message has the
// first word of its title as a distinct word, as "Kestrel" in "Is the
// Kestrel sleeping bag available in Long?", or two distinct words of it,
// as "organic cotton" for the Everyday Organic Cotton Tee. So "a rain
// jacket" does not name the one product titled "Rain Jacket". A candidate
// whose type differs from a product type the message names is not named,
// so "an everyday jacket" does not name the Everyday Organic Cotton Tee.
func namedProducts(message string, candidates []titleCandidate) []int64 {
	if len(candidates) == 0 {
		return nil
	}
	var types []string
	kindWords := map[string]bool{}
	for s := range typeSynonymStems {
		kindWords[s] = true
	}
	for _, c := range candidates {
		for _, alternative := range typeAlternatives(c.productType) {
			for _, s := range alternative {
				kindWords[s] = true
			}
		}
		if c.productType != "" && !containsFold(types, c.productType) {
			types = append(types, c.productType)
		}
	}
	namedType := productTypeNamed(message, types)

	titles := make([]map[string]bool, len(candidates))
	firstWords := make([]string, len(candidates))
	frequency := map[string]int{}
	for i, c := range candidates {
		titles[i] = map[string]bool{}
		for _, s := range contentStems(c.title) {
			if isNumber(s) || genericWords[s] || colourStems[s] || queryNoise[s] {
				continue
			}
			if firstWords[i] == "" {
				firstWords[i] = s
			}
			if !titles[i][s] {
				titles[i][s] = true
				frequency[s]++
			}
		}
	}

	messageStems := contentStems(message)
	messageWords := setOf(messageStems)
	type scoredID struct {
		id    int64
		score int
		// position is the index in the message of the first title word
		// it names.
		position int
	}
	var named []scoredID
	for i, c := range candidates {
		if namedType != "" && c.productType != "" && !strings.EqualFold(c.productType, namedType) {
			continue
		}
		matched, distinct, firstNamed := 0, 0, false
		for s := range titles[i] {
			if !messageWords[s] {
				continue
			}
			matched++
			if frequency[s] == 1 && !kindWords[s] {
				distinct++
				firstNamed = firstNamed || s == firstWords[i]
			}
		}
		if !firstNamed && distinct < 2 {
			continue
		}
		position := len(messageStems)
		for k, s := range messageStems {
			if titles[i][s] {
				position = k
				break
			}
		}
		named = append(named, scoredID{id: c.id, score: matched, position: position})
	}
	// Products matching more title words come first, and products named
	// equally keep the order the message names them in.
	sort.SliceStable(named, func(a, b int) bool {
		if named[a].score != named[b].score {
			return named[a].score > named[b].score
		}
		return named[a].position < named[b].position
	})
	ids := make([]int64, len(named))
	for i, n := range named {
		ids[i] = n.id
	}
	return ids
}

// maxEarlierProducts is how many products of the agent's last reply a
// follow-up may refer to.
const maxEarlierProducts = 4

// earlierProductIDs returns the products a follow-up message may refer to:
// those the agent's last reply cited. When it cited several, the shopper
// message it answered narrows them to those it named by title, if any.
func earlierProductIDs(history []salesagent.Message) []int64 {
	last := -1
	for i := len(history) - 1; i >= 0; i-- {
		if history[i].Role == salesagent.RoleAgent {
			last = i
			break
		}
	}
	if last < 0 {
		return nil
	}
	var candidates []titleCandidate
	seen := map[int64]bool{}
	for _, ct := range history[last].Citations {
		if ct.ProductID == 0 || seen[ct.ProductID] {
			continue
		}
		seen[ct.ProductID] = true
		candidates = append(candidates, titleCandidate{id: ct.ProductID, title: ct.Title})
	}
	if len(candidates) <= 1 {
		return idsOf(candidates)
	}
	for i := last - 1; i >= 0; i-- {
		if history[i].Role != salesagent.RoleShopper {
			continue
		}
		if named := namedProducts(history[i].Body, candidates); len(named) > 0 {
			return named
		}
		break
	}
	return idsOf(candidates[:min(len(candidates), maxEarlierProducts)])
}

func idsOf(candidates []titleCandidate) []int64 {
	ids := make([]int64, len(candidates))
	for i, c := range candidates {
		ids[i] = c.id
	}
	return ids
}
