package agent

import (
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Kinds of checked claims in a reply.
const (
	claimPrice        = "price"
	claimStock        = "stock"
	claimDeliveryTime = "delivery_time"
	claimPolicyTerm   = "policy_term"
	claimPercent      = "percent"
)

// claim is a checkable term of a reply, such as "$12.34" or "3–5
// business days".
type claim struct {
	Kind string `json:"kind"`
	Text string `json:"text"`
	// start and end are the claim's byte offsets in the reply.
	start, end int
	// cents is set for prices, numbers for stock counts, percentages and
	// the ends of a duration, unit for durations.
	cents   int64
	numbers []float64
	unit    string
}

// Patterns of the terms the guard checks. A number is written with digits
// and optional thousands separators and decimals.
var (
	pricePattern = regexp.MustCompile(`(?i)[$€£]\s?\d[\d,]*(?:\.\d{1,2})?|\b\d[\d,]*(?:\.\d{1,2})?\s?(?:usd|eur|gbp|dollars?|euros?|pounds)\b`)
	// durationPattern matches "30 days", "30-day", "3–5 business days",
	// "5 to 8 working days" and "two weeks".
	durationPattern   = regexp.MustCompile(`(?i)\b(\d+|` + numberWordsAlternation + `)(?:\s*(?:-|–|—|to)\s*(\d+|` + numberWordsAlternation + `))?[\s-]*(?:(?:business|working|calendar)\s+)?(hour|day|week|month|year)s?\b`)
	stockCountPattern = regexp.MustCompile(`(?i)\b(\d+)\s+(?:(?:items?|units?|pieces?|pairs?)\s+)?(?:left|remaining|in stock|available)\b`)
	stockStatePattern = regexp.MustCompile(`(?i)\b(?:in stock|out of stock|sold out)\b`)
	percentPattern    = regexp.MustCompile(`(?i)\b(\d+(?:\.\d+)?)\s?(?:%|percent\b)`)
	deliveryWords     = regexp.MustCompile(`(?i)\b(?:ship|shipping|shipped|ships|deliver|delivery|delivered|arrive|arrives|dispatch|dispatched|transit)\b`)
	numberPattern     = regexp.MustCompile(`\d[\d,]*(?:\.\d+)?`)
	// Evidence of stock: counts as the tools and sources state them.
	evidenceStockCount = regexp.MustCompile(`(?i)\b(\d+)\s+(?:(?:items?|units?|pieces?|pairs?)\s+)?(?:left|remaining|in stock|available)\b|"?stock"?\s*[:=]\s*(\d+)`)
	evidenceInStock    = regexp.MustCompile(`(?i)\bin stock\b|"in_stock"\s*:\s*true|\bavailable\b|sizes_in_stock`)
	twoDecimals        = regexp.MustCompile(`\b\d[\d,]*\.\d{2}\b`)
	sizeBefore         = regexp.MustCompile(`(?i)\b(?:size|sizes|eu|us|uk)\s*$`)
	evidenceSoldOut    = regexp.MustCompile(`(?i)\bsold out\b|\bout of stock\b|"in_stock"\s*:\s*false|sizes_sold_out|\bunavailable\b`)
)

var numberWords = map[string]float64{
	"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
	"eleven": 11, "twelve": 12, "fourteen": 14, "fifteen": 15, "twenty": 20, "thirty": 30, "forty": 40,
	"forty-five": 45, "sixty": 60, "ninety": 90,
}

const numberWordsAlternation = `forty-five|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fourteen|fifteen|twenty|thirty|forty|sixty|ninety`

// parseCents parses a price term, as "$1,299.5", to cents.
func parseCents(s string) (int64, bool) {
	n := numberPattern.FindString(s)
	if n == "" {
		return 0, false
	}
	m, err := parseDecimal(strings.ReplaceAll(n, ",", ""))
	if err != nil {
		return 0, false
	}
	return int64(m*100 + 0.5), true
}

func parseDecimal(s string) (float64, error) {
	return strconv.ParseFloat(s, 64)
}

// parseQuantity parses digits or a number word.
func parseQuantity(s string) (float64, bool) {
	if v, ok := numberWords[strings.ToLower(s)]; ok {
		return v, true
	}
	v, err := strconv.ParseFloat(s, 64)
	return v, err == nil
}

// findClaims returns the checkable terms of text, in order. Stock counts
// take precedence over the stock states and numbers they contain.
func findClaims(text string) []claim {
	var claims []claim
	var spans [][2]int
	taken := func(start, end int) bool {
		for _, c := range claims {
			if start < c.end && c.start < end {
				return true
			}
		}
		return false
	}

	for _, m := range pricePattern.FindAllStringIndex(text, -1) {
		if cents, ok := parseCents(text[m[0]:m[1]]); ok {
			claims = append(claims, claim{Kind: claimPrice, Text: text[m[0]:m[1]], start: m[0], end: m[1], cents: cents})
		}
	}
	for _, m := range stockCountPattern.FindAllStringSubmatchIndex(text, -1) {
		// In "size 10 in stock" the number is a size, not a count, so only
		// the stock state is checked.
		if taken(m[0], m[1]) || sizeBefore.MatchString(text[:m[0]]) {
			continue
		}
		n, _ := strconv.ParseFloat(text[m[2]:m[3]], 64)
		claims = append(claims, claim{Kind: claimStock, Text: text[m[0]:m[1]], start: m[0], end: m[1], numbers: []float64{n}})
	}
	for _, m := range stockStatePattern.FindAllStringIndex(text, -1) {
		if !taken(m[0], m[1]) {
			claims = append(claims, claim{Kind: claimStock, Text: text[m[0]:m[1]], start: m[0], end: m[1]})
		}
	}
	for _, m := range durationPattern.FindAllStringSubmatchIndex(text, -1) {
		if taken(m[0], m[1]) {
			continue
		}
		c := claim{Kind: claimPolicyTerm, Text: text[m[0]:m[1]], start: m[0], end: m[1], unit: strings.ToLower(text[m[6]:m[7]])}
		for _, g := range [][2]int{{m[2], m[3]}, {m[4], m[5]}} {
			if g[0] < 0 {
				continue
			}
			if v, ok := parseQuantity(text[g[0]:g[1]]); ok {
				c.numbers = append(c.numbers, v)
			}
		}
		// Splitting once per text keeps this linear in the text's length;
		// evidence texts are long and hold many durations.
		if spans == nil {
			spans = sentenceSpans(text)
		}
		span := spanAround(spans, len(text), m[0], m[1])
		if deliveryWords.MatchString(text[span[0]:span[1]]) {
			c.Kind = claimDeliveryTime
		}
		claims = append(claims, c)
	}
	for _, m := range percentPattern.FindAllStringSubmatchIndex(text, -1) {
		if taken(m[0], m[1]) {
			continue
		}
		v, _ := strconv.ParseFloat(text[m[2]:m[3]], 64)
		claims = append(claims, claim{Kind: claimPercent, Text: text[m[0]:m[1]], start: m[0], end: m[1], numbers: []float64{v}})
	}
	return claims
}

// evidence indexes the terms that a turn's reply may state: those of the
// retrieved sources, the shop's rules and the turn's successful tool
// results.
type evidence struct {
	prices      map[int64]bool
	durations   map[string]map[float64]bool
	stockCounts map[float64]bool
	percents    map[float64]bool
	inStock     bool
	soldOut     bool
}

// newEvidence indexes the terms of the given texts.
func newEvidence(texts ...string) *evidence {
	e := &evidence{
		prices: map[int64]bool{}, durations: map[string]map[float64]bool{},
		stockCounts: map[float64]bool{}, percents: map[float64]bool{},
	}
	for _, text := range texts {
		e.index(text)
	}
	return e
}

func (e *evidence) index(text string) {
	for _, c := range findClaims(text) {
		switch c.Kind {
		case claimPrice:
			e.prices[c.cents] = true
		case claimDeliveryTime, claimPolicyTerm:
			if e.durations[c.unit] == nil {
				e.durations[c.unit] = map[float64]bool{}
			}
			for _, n := range c.numbers {
				e.durations[c.unit][n] = true
			}
		case claimPercent:
			e.percents[c.numbers[0]] = true
		}
	}
	// Prices in tool data and source lists appear with two decimals but
	// without a currency, as in "price": "89.00".
	for _, m := range twoDecimals.FindAllString(text, -1) {
		if cents, ok := parseCents(m); ok {
			e.prices[cents] = true
		}
	}
	for _, m := range evidenceStockCount.FindAllStringSubmatch(text, -1) {
		for _, g := range m[1:] {
			if v, err := strconv.ParseFloat(g, 64); err == nil {
				e.stockCounts[v] = true
				if v == 0 {
					e.soldOut = true
				} else {
					e.inStock = true
				}
			}
		}
	}
	e.inStock = e.inStock || evidenceInStock.MatchString(text)
	e.soldOut = e.soldOut || evidenceSoldOut.MatchString(text)
}

// supports reports whether the evidence states the claim's term.
func (e *evidence) supports(c claim) bool {
	switch c.Kind {
	case claimPrice:
		return e.prices[c.cents]
	case claimStock:
		if len(c.numbers) > 0 {
			return e.stockCounts[c.numbers[0]]
		}
		lower := strings.ToLower(c.Text)
		if lower == "in stock" {
			return e.inStock
		}
		return e.soldOut
	case claimDeliveryTime, claimPolicyTerm:
		for _, n := range c.numbers {
			if !e.durations[c.unit][n] {
				return false
			}
		}
		return len(c.numbers) > 0
	case claimPercent:
		return e.percents[c.numbers[0]]
	}
	return true
}

// unsupported returns the claims of text that the evidence does not state.
func (e *evidence) unsupported(text string) []claim {
	var out []claim
	for _, c := range findClaims(text) {
		if !e.supports(c) {
			out = append(out, c)
		}
	}
	return out
}

// claimSentenceEnd matches the end of a sentence: a full stop, question or
// exclamation mark before whitespace or the end, or a line break.
var claimSentenceEnd = regexp.MustCompile(`[.!?]+(?:["'”’)\]]*)(?:\s+|$)|\n+`)

// sentenceSpans returns the byte spans of text's sentences, each without
// the whitespace after it.
func sentenceSpans(text string) [][2]int {
	var spans [][2]int
	start := 0
	for _, m := range claimSentenceEnd.FindAllStringIndex(text, -1) {
		end := m[0] + len(strings.TrimRight(text[m[0]:m[1]], " \t\r\n"))
		if strings.TrimSpace(text[start:end]) != "" {
			spans = append(spans, [2]int{start, end})
		}
		start = m[1]
	}
	if strings.TrimSpace(text[start:]) != "" {
		spans = append(spans, [2]int{start, len(text)})
	}
	return spans
}

// spanAround returns the span among spans, the sentences of a text of
// length n, that holds [start, end), or the whole text when none does.
func spanAround(spans [][2]int, n, start, end int) [2]int {
	i := sort.Search(len(spans), func(i int) bool { return spans[i][1] >= end })
	if i < len(spans) && start >= spans[i][0] {
		return spans[i]
	}
	return [2]int{0, n}
}

// removeSentences returns text without the sentences that hold a claim,
// and the spans of the sentences kept.
func removeSentences(text string, claims []claim) (string, [][2]int) {
	var kept []string
	var spans [][2]int
	for _, s := range sentenceSpans(text) {
		bad := false
		for _, c := range claims {
			if c.start < s[1] && s[0] < c.end {
				bad = true
				break
			}
		}
		if !bad {
			kept = append(kept, text[s[0]:s[1]])
			spans = append(spans, s)
		}
	}
	return strings.Join(kept, " "), spans
}
