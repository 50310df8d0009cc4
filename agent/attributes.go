package agent

import "strings"

// Shoppers name a product's attributes in other words than its
// description uses. "Is it waterproof?" of a tent whose description lists
// a 1,500 mm coating and taped seams is one case, and "how warm is it?" of
// a sleeping bag with a comfort rating another. attributeCues maps a word
// of such a question to words that state the attribute, so that
// description lines using them count as an answer. The team wrote the
// lists from how outdoor and apparel catalogs describe these attributes.
var attributeCues = stemCues(map[string]string{
	"waterproof": "waterproof water-resistant water resistant coating coated mm seams taped membrane dwr rain",
	"rain":       "waterproof water-resistant coating mm seams taped membrane dwr rain",
	"wet":        "waterproof water-resistant coating membrane dwr wet damp",
	"warm":       "temperature comfort insulation insulated warmth warm degrees",
	"warmth":     "temperature comfort insulation insulated warmth warm",
	"cold":       "temperature comfort insulation insulated limit freezing",
	"heavy":      "weight weighs oz lb kg grams",
	"light":      "weight weighs oz lb kg grams",
	"weigh":      "weight weighs oz lb kg grams",
	"weight":     "weight weighs oz lb kg grams",
	"big":        "size dimensions floor height length capacity",
	"roomy":      "size dimensions floor height length capacity",
	"dimensions": "size dimensions floor height length",
	"made":       "materials material fabric nylon polyester cotton wool leather down shell",
	"material":   "materials material fabric nylon polyester cotton wool leather down shell",
	"fabric":     "materials material fabric nylon polyester cotton wool leather shell",
	"wash":       "care wash washing clean dry",
	"clean":      "care wash washing clean",
	"care":       "care wash washing clean dry store",
	"included":   "included includes comes",
	"people":     "capacity people person",
	"sleeps":     "capacity people person",
})

// stemCues stems the keys and the words of each value.
func stemCues(words map[string]string) map[string]map[string]bool {
	cues := make(map[string]map[string]bool, len(words))
	for question, stated := range words {
		set := setOf(stems(strings.ReplaceAll(stated, "-", " ")))
		for _, s := range stems(question) {
			cues[s] = set
		}
	}
	return cues
}

// matchedStems counts the question stems that sentence answers: those it
// contains, and attribute words whose cues it contains.
func matchedStems(query, sentence map[string]bool) int {
	n := 0
	for q := range query {
		if sentence[q] || overlap(attributeCues[q], sentence) > 0 {
			n++
		}
	}
	return n
}
