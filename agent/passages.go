package agent

import (
	"regexp"
	"sort"
	"strings"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/retrieval"
)

// topicWords name the subject of each policy-like need. A passage sentence
// quoted for a need must contain one, or sit under a heading that does.
var topicWords = map[Need][]string{
	NeedShipping: {"ship", "shipping", "delivery", "deliver", "postage", "courier", "dispatch", "arrive", "carrier", "express", "days"},
	NeedReturns:  {"return", "refund", "exchange", "reimburse", "unworn", "worn", "tags", "credit"},
	NeedPayment:  {"pay", "payment", "card", "paypal", "klarna", "afterpay", "checkout", "installments", "invoice"},
	NeedPrice:    {"discount", "code", "coupon", "promo", "promotion", "sale", "voucher", "offer", "price", "newsletter"},
}

var topicStems = map[Need]map[string]bool{}

// expansions add the words an answer uses to the words a question uses:
// "when will it arrive" is answered by "takes 5 to 8 business days".
var expansions = []struct{ triggers, adds []string }{
	{[]string{"when", "arrive", "long", "soon", "fast", "quick", "quickly"}, []string{"days", "weeks", "takes", "business"}},
	{[]string{"much", "cost", "price", "fee", "charge", "expensive"}, []string{"cost", "costs", "free", "fee", "price", "charge", "rate"}},
	{[]string{"option", "options", "method", "methods", "choice", "choices", "way", "ways"}, []string{"method", "methods", "option", "options", "standard", "express"}},
}

var expansionStems []struct{ triggers, adds map[string]bool }

func init() {
	for need, list := range topicWords {
		topicStems[need] = stemSet(list)
	}
	for _, list := range coreWords {
		for s := range stemSet(list) {
			allCoreStems[s] = true
		}
	}
	for _, e := range expansions {
		expansionStems = append(expansionStems, struct{ triggers, adds map[string]bool }{stemSet(e.triggers), stemSet(e.adds)})
	}
}

func stemSet(list []string) map[string]bool {
	set := map[string]bool{}
	for _, w := range list {
		set[stem(w)] = true
	}
	return set
}

// expand returns the stems that answers to a question with the given
// words tend to use, leaving out the question's own stems. Stop words
// count as triggers, so "when" expands.
func expand(question string) map[string]bool {
	words := setOf(stems(question))
	added := map[string]bool{}
	for _, e := range expansionStems {
		if overlap(e.triggers, words) == 0 {
			continue
		}
		for s := range e.adds {
			if !words[s] {
				added[s] = true
			}
		}
	}
	return added
}

// coreWords name each topic itself. A question made of them and of
// genericWords only, such as "what is your return policy", is broad, and
// none of them names a place, method or amount the answer must contain.
var coreWords = map[Need][]string{
	NeedShipping: {"ship", "shipping", "shipped", "delivery", "deliver", "deliveries", "postage", "send", "arrive", "arrival"},
	NeedReturns:  {"return", "returns", "refund", "refunds", "exchange", "exchanges"},
	NeedPayment:  {"pay", "payment", "payments", "paying"},
	NeedPrice:    {"discount", "discounts", "coupon", "coupons", "promo", "promotion", "promotions", "voucher", "sale", "sales", "deal", "deals", "code", "codes", "offers"},
}

// genericWords are question words that name no particular thing.
var genericWords = stemSet([]string{
	"how", "much", "cost", "costs", "price", "prices", "pricing", "fee", "fees", "charge", "charges",
	"rate", "rates", "long", "take", "takes", "soon", "fast", "quick", "quickly", "policy", "policies",
	"rule", "rules", "info", "information", "detail", "details", "term", "terms", "condition",
	"conditions", "option", "options", "work", "works", "available", "possible", "way", "ways",
	"kind", "kinds", "general", "explain", "mean", "happen", "order", "orders", "item", "items",
	"thing", "things", "question", "offer", "within", "inside",
})

var allCoreStems = map[string]bool{}

// placeAliases map the short names of places to a word of the names
// passages use, as "UK" to "United Kingdom".
var placeAliases = map[string]string{
	"uk": "kingdom", "britain": "kingdom", "england": "kingdom", "scotland": "kingdom", "wales": "kingdom",
	"eu": "european", "europe": "european",
}

// costPattern finds a question about an amount of money.
var costPattern = regexp.MustCompile(`(?i)\bhow much\b|\bcosts?\b|\bpric(e|es|ing)\b|\bfees?\b|\bcharges?\b|\brates?\b|\bexpensive\b|\bcheap`)

// query is the parsed form of a shopper's question that bestPassage
// scores units against.
type query struct {
	// content holds the stems that carry meaning.
	content map[string]bool
	// specific holds the stems that name a place, method, amount or
	// product, as "canada" in "how much is shipping to Canada". Units
	// containing them are preferred.
	specific map[string]bool
	// extra holds the stems that answers to the question tend to use, as
	// expand returns them.
	extra map[string]bool
	// topic holds the stems of the topic need's topicWords, or is nil.
	topic map[string]bool
	// offTopic holds the core words of the other topics that the question
	// does not use.
	offTopic map[string]bool
	// cost is set for a question about an amount of money, whose answer
	// should state one.
	cost bool
	// broad is set for a question on a whole topic, as "what is your
	// return policy", whose answer is the summary at the start of an entry.
	broad bool
}

func newQuery(question string, topic Need) query {
	q := query{
		content:  setOf(contentStems(question)),
		specific: map[string]bool{},
		topic:    topicStems[topic],
		cost:     costPattern.MatchString(question),
	}
	if q.topic != nil {
		q.extra = expand(question)
	}
	core := stemSet(coreWords[topic])
	for s := range q.content {
		if !genericWords[s] && !core[s] {
			q.specific[s] = true
			if alias, ok := placeAliases[s]; ok {
				q.specific[stem(alias)] = true
			}
		}
	}
	// A country counts by the names passages use for it, as "European
	// Union" for Germany. The home country does not count, because its
	// rates are the default answer to a shipping question.
	for _, p := range foreignPlaces(question) {
		for _, k := range p.keywords {
			q.specific[stem(k)] = true
		}
	}
	// Words of other topics in a unit mean it answers another question,
	// as "Final Sale items cannot be returned" does beside "any sales?".
	if q.topic != nil {
		q.offTopic = map[string]bool{}
		for s := range allCoreStems {
			if !core[s] && !q.content[s] {
				q.offTopic[s] = true
			}
		}
	}
	// A cost question wants every amount, limits included, so it is never
	// broad.
	if q.topic != nil && !q.cost {
		q.broad = true
		for s := range q.specific {
			if !allCoreStems[s] {
				q.broad = false
				break
			}
		}
	}
	return q
}

// passage is the units of one hit chosen to quote.
type passage struct {
	hit   retrieval.Hit
	units []unit
	score float64
	// topic is the need the passage answers, or "".
	topic Need
}

// quote formats the passage as a quotation that names its source, as in
// `Our FAQ on shipping says: "..."`. The units are quoted word for word. A
// table row gets a full stop, and a unit that ends in a colon before no
// table row ends in a full stop instead.
// wholeShortAnswer reports whether text is the whole answer of an FAQ
// entry headed with a question, as "Yes, fully." under "Is the jacket
// waterproof?": too short to quote alone, but clear with its question.
func wholeShortAnswer(text string, hit retrieval.Hit) bool {
	return hit.Kind == salesagent.KindFAQ && strings.HasSuffix(strings.TrimSpace(hit.Heading), "?") &&
		strings.EqualFold(text, strings.TrimSpace(cleanMarkdown(hit.Content)))
}

// maxBareAnswerWords is the length below which a quoted FAQ answer is given
// with its question, since "Yes, in 5 days." alone does not say to what.
const maxBareAnswerWords = 6

func (p passage) quote() string {
	texts := make([]string, len(p.units))
	for i, u := range p.units {
		texts[i] = u.text
		nextIsRow := i+1 < len(p.units) && p.units[i+1].table > 0
		switch {
		case u.table > 0 && !strings.HasSuffix(u.text, "."):
			texts[i] += "."
		case strings.HasSuffix(u.text, ":") && !nextIsRow:
			texts[i] = strings.TrimSuffix(u.text, ":") + "."
		}
	}
	joined := strings.Join(texts, " ")
	heading := strings.TrimSpace(cleanMarkdown(p.hit.Heading))
	if p.hit.Kind == salesagent.KindFAQ && strings.HasSuffix(heading, "?") && len(strings.Fields(joined)) < maxBareAnswerWords {
		return p.source() + ` answers "` + heading + `" with: "` + joined + `"`
	}
	return p.source() + ` says: "` + joined + `"`
}

// source names where the passage comes from as a shopper would, as "Our
// FAQ on shipping", "Our Shipping Policy" or "Our Customer Service page".
func (p passage) source() string {
	title := cleanMarkdown(p.hit.Source.DocumentTitle)
	if title == "" {
		title = cleanMarkdown(p.hit.Heading)
	}
	lower := strings.ToLower(title)
	switch {
	case p.hit.Kind == salesagent.KindFAQ && topicNames[p.topic] != "":
		return "Our FAQ on " + topicNames[p.topic]
	case p.hit.Kind == salesagent.KindFAQ:
		return "Our FAQ"
	case title == "":
		return "Our shop's information"
	case p.hit.Kind == salesagent.KindPolicy && !strings.Contains(lower, "polic"):
		return "Our " + title + " policy"
	case p.hit.Kind == salesagent.KindPage && !strings.Contains(lower, "page"):
		return "Our " + title + " page"
	}
	return "Our " + title
}

// scoredUnit is a unit with its score for one question.
type scoredUnit struct {
	unit
	score    float64
	specific int
}

// maxQuoteUnits is how many sentences, list items or table rows a quote
// holds, except for a rate table quoted whole.
const maxQuoteUnits = 3

// maxTableRows is how many rows of a rate table a quote holds.
const maxTableRows = 8

// bestPassage picks the hit whose units best answer question and the
// units of it to quote, all from that one hit. With a topic need, a unit
// must mention the topic, or sit under a heading that does, and share a
// word with the question, its heading or its expansions. Without one, it
// must share at least half of the question's words. Questions in the
// passages are never quoted, only statements. ok is false when no unit
// qualifies.
//
// Units naming the question's specific terms rank first. A cost question
// prefers units with amounts, and table rows most, and a broad question
// gets the first units of its entry that state no exception.
func bestPassage(hits []retrieval.Hit, question string, topic Need, kinds ...string) (best passage, ok bool) {
	q := newQuery(question, topic)
	if len(q.content) == 0 {
		return passage{}, false
	}
	minOverlap := 1
	if q.topic == nil {
		minOverlap = max(1, (len(q.content)+1)/2)
	}
	first := firstChunks(hits)

	for _, hit := range hits {
		if len(kinds) > 0 && !containsString(kinds, hit.Kind) {
			continue
		}
		headingText := hit.Heading + " " + hit.Source.DocumentTitle + " " + hit.Source.Heading
		heading := setOf(stems(headingText))
		headingOverlap := overlap(q.content, heading)
		headingTopic := overlap(q.topic, heading) > 0
		headingSpecific := overlapSet(q.specific, heading)

		var candidates []scoredUnit
		for _, u := range passageUnits(hit.Content) {
			if !quotable(u.text, hit) {
				continue
			}
			questionOverlap := overlap(q.content, u.stems)
			extraOverlap := overlap(q.extra, u.stems)
			topicOverlap := overlap(q.topic, u.stems)
			if q.topic != nil && topicOverlap == 0 && !headingTopic {
				continue
			}
			// A place's other names, as "kingdom" for "UK", count as words
			// of the question.
			aliasOverlap := 0
			for s := range q.specific {
				if !q.content[s] && u.stems[s] {
					aliasOverlap++
				}
			}
			if questionOverlap+extraOverlap+headingOverlap+aliasOverlap < minOverlap {
				continue
			}
			specific := overlap(q.specific, u.stems)
			// A specific term in the heading counts for every unit under it,
			// a little less than in the unit itself. Generic question words,
			// as "take" in "how long does it take", count half.
			headingOnly := 0
			for s := range headingSpecific {
				if !u.stems[s] {
					headingOnly++
				}
			}
			specificScore := 5*float64(specific) + 3*float64(headingOnly)
			genericOverlap := overlap(genericWords, overlapSet(q.content, u.stems))
			score := 2*float64(questionOverlap) - float64(genericOverlap) + specificScore + float64(extraOverlap) +
				float64(min(topicOverlap, 2)) + float64(headingOverlap)
			score -= float64(overlap(q.offTopic, u.stems))
			if q.cost && u.hasAmount() {
				score += 3
				if u.table > 0 {
					score += 2
				}
			}
			if q.broad {
				score += max(0, 3-0.75*float64(u.index))
				if u.hasNumber() {
					score += 1.5
				}
				if u.hasException() {
					score -= 3
				}
			}
			candidates = append(candidates, scoredUnit{unit: u, score: score, specific: specific})
		}
		if len(candidates) == 0 {
			continue
		}

		// An entry that names more of the question's specific terms, in its
		// heading or any unit, is more likely the one that answers it.
		covered := map[string]bool{}
		for s := range q.specific {
			if heading[s] {
				covered[s] = true
			}
			for _, c := range candidates {
				if c.stems[s] {
					covered[s] = true
				}
			}
		}

		chosen, top := chooseUnits(candidates, q)
		if q.broad {
			// A broad question's answer is the whole summary, so every unit
			// of it counts: the best in full and the others half.
			top = summaryScore(chosen)
		}
		// A heading that repeats the question, as an FAQ entry's does,
		// marks the entry written to answer it.
		headingContent := setOf(contentStems(hit.Heading))
		similarity := float64(overlap(q.content, headingContent)) / float64(max(len(q.content), len(headingContent)))
		score := top + 5*similarity + 2*float64(len(covered))
		if q.broad && first[hit.ChunkID] {
			score += 2
		}
		if score > best.score {
			best = passage{hit: hit, score: score, topic: topic}
			for _, c := range chosen {
				best.units = append(best.units, c.unit)
			}
		}
	}
	return best, best.score > 0
}

// firstChunks returns the ids of the hits that are the first retrieved
// chunk of their document, whose start summarises it.
//
// NOTE: chunk ids stand in for positions, which hits do not carry. The
// indexer writes a document's chunks in order, so a lower id is an earlier
// chunk unless the document grew after it was first indexed.
func firstChunks(hits []retrieval.Hit) map[int64]bool {
	lowest := map[int64]int64{}
	for _, h := range hits {
		doc := h.Source.DocumentID
		if doc == 0 {
			continue
		}
		if id, ok := lowest[doc]; !ok || h.ChunkID < id {
			lowest[doc] = h.ChunkID
		}
	}
	first := map[int64]bool{}
	for _, id := range lowest {
		first[id] = true
	}
	return first
}

// summaryScore adds half the scores of units to the best one's full score.
func summaryScore(units []scoredUnit) float64 {
	top, sum := 0.0, 0.0
	for _, u := range units {
		top = max(top, u.score)
		sum += u.score
	}
	return top + 0.5*(sum-top)
}

// chooseUnits picks the units of one hit to quote and returns them in
// passage order with the best candidate's score.
func chooseUnits(candidates []scoredUnit, q query) ([]scoredUnit, float64) {
	sort.SliceStable(candidates, func(a, b int) bool { return candidates[a].score > candidates[b].score })
	top := candidates[0]
	if top.score <= 0 {
		return nil, 0
	}

	var chosen []scoredUnit
	switch {
	case top.table > 0 && q.cost:
		// A rate table answers as a whole, unless the question names a
		// row, as "Canada" does.
		for _, c := range candidates {
			if c.table == top.table && (top.specific == 0 || c.specific > 0) && len(chosen) < maxTableRows {
				chosen = append(chosen, c)
			}
		}
	case q.broad:
		// The entry's first statements summarise it, and its exceptions
		// follow them.
		byIndex := append([]scoredUnit(nil), candidates...)
		sort.SliceStable(byIndex, func(a, b int) bool { return byIndex[a].index < byIndex[b].index })
		for _, c := range byIndex {
			if len(chosen) == maxQuoteUnits {
				break
			}
			if c.hasException() || (overlap(q.topic, c.stems) == 0 && !c.hasNumber()) {
				continue
			}
			chosen = append(chosen, c)
		}
		if len(chosen) == 0 {
			chosen = append(chosen, top)
		}
	default:
		// Other units of the entry often carry the rest of the facts, such
		// as the price after the countries. When the best unit names the
		// question's specific terms, the others must name one too, so a
		// question on Canada gets no rates of other places.
		for _, c := range candidates {
			if len(chosen) == maxQuoteUnits || c.score < 0.6*top.score {
				break
			}
			if len(chosen) > 0 && ((c.table > 0 && top.table != c.table) || (top.specific > 0 && c.specific == 0)) {
				continue
			}
			chosen = append(chosen, c)
		}
	}

	sort.SliceStable(chosen, func(a, b int) bool { return chosen[a].index < chosen[b].index })
	return chosen, top.score
}

// quotable reports whether a unit states something: not a question, not
// the passage's title line, and at least three words long.
func quotable(text string, hit retrieval.Hit) bool {
	trimmed := strings.TrimSpace(text)
	if strings.HasSuffix(trimmed, "?") {
		return false
	}
	if len(strings.Fields(trimmed)) < 3 && !wholeShortAnswer(trimmed, hit) {
		return false
	}
	return !strings.EqualFold(trimmed, cleanMarkdown(hit.Heading)) && !strings.EqualFold(trimmed, cleanMarkdown(hit.Source.DocumentTitle))
}

// descriptionSentences returns up to two sentences of a product's
// description that share at least half of the question's words.
func descriptionSentences(p *salesagent.Product, question string) []string {
	query := setOf(contentStems(question))
	for _, w := range contentStems(p.Title) {
		delete(query, w)
	}
	if len(query) == 0 {
		return nil
	}
	need := max(1, (len(query)+1)/2)
	var out []string
	for _, sentence := range splitSentences(p.Description) {
		if strings.HasSuffix(sentence, "?") {
			continue
		}
		if matchedStems(query, setOf(stems(sentence))) >= need {
			out = append(out, cleanMarkdown(sentence))
		}
		if len(out) == 2 {
			break
		}
	}
	return out
}

// overlapSet returns the keys that a and b share.
func overlapSet(a, b map[string]bool) map[string]bool {
	shared := map[string]bool{}
	for k := range a {
		if b[k] {
			shared[k] = true
		}
	}
	return shared
}

func setOf(items []string) map[string]bool {
	set := make(map[string]bool, len(items))
	for _, s := range items {
		set[s] = true
	}
	return set
}

func overlap(a, b map[string]bool) int {
	n := 0
	for k := range a {
		if b[k] {
			n++
		}
	}
	return n
}

func containsString(list []string, s string) bool {
	for _, item := range list {
		if item == s {
			return true
		}
	}
	return false
}
