package agent

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/salesagent/salesagent"
)

// requestedOption is an option the shopper asked for, with the values
// they named, as Size = S or M.
type requestedOption struct {
	name   string
	values []string
}

// sizeWords are the words shoppers write for letter sizes.
var sizeWords = map[string][]string{
	"xs":  {"extra small", "x-small", "x small"},
	"s":   {"small"},
	"m":   {"medium"},
	"l":   {"large"},
	"xl":  {"extra large", "x-large", "x large"},
	"xxl": {"xx-large", "2xl"},
}

// leadWords may stand before a short option value such as "M" or "10",
// which counts as named only after one of them: "in M", "size 10".
var leadWords = map[string]bool{"in": true, "size": true, "sizes": true, "a": true, "an": true, "the": true, "or": true, "and": true, "us": true, "eu": true, "uk": true}

// requestedOptions returns the options of p's variants whose values the
// message names, in the order the product lists its options.
func requestedOptions(p *salesagent.Product, message string) []requestedOption {
	tokens := optionTokens(message)
	var out []requestedOption
	index := map[string]int{}
	seen := map[string]bool{}
	for _, v := range p.Variants {
		for _, o := range v.Options {
			key := strings.ToLower(o.Name + "\x00" + o.Value)
			if seen[key] || isDefaultOption(o) {
				continue
			}
			seen[key] = true
			if !namesValue(tokens, o.Value) {
				continue
			}
			i, ok := index[o.Name]
			if !ok {
				i = len(out)
				index[o.Name] = i
				out = append(out, requestedOption{name: o.Name})
			}
			out[i].values = append(out[i].values, o.Value)
		}
	}
	return out
}

// optionTokens splits a message into lowercase words for matching option
// values. Letters, digits and hyphens make up a word, and so does a point
// between two digits, so that "9.5" stays one size rather than becoming a
// 9 and a 5. A comma joins only a single last digit, as in the European
// "42,5", so that a list such as "9,10" stays two sizes.
func optionTokens(message string) []string {
	runes := []rune(strings.ToLower(message))
	digit := func(i int) bool { return i >= 0 && i < len(runes) && unicode.IsDigit(runes[i]) }
	inWord := func(i int) bool {
		r := runes[i]
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-':
			return true
		case r == '.':
			return digit(i-1) && digit(i+1)
		case r == ',':
			return digit(i-1) && digit(i+1) && !digit(i+2)
		}
		return false
	}
	var tokens []string
	start := -1
	for i := range runes {
		switch {
		case inWord(i) && start < 0:
			start = i
		case !inWord(i) && start >= 0:
			tokens = append(tokens, string(runes[start:i]))
			start = -1
		}
	}
	if start >= 0 {
		tokens = append(tokens, string(runes[start:]))
	}
	// Catalogs here write half sizes with a point, as in "42.5".
	for i, t := range tokens {
		tokens[i] = strings.ReplaceAll(t, ",", ".")
	}
	return tokens
}

// namesValue reports whether the message tokens name an option value.
func namesValue(tokens []string, value string) bool {
	want := strings.Fields(strings.ToLower(value))
	if len(want) == 0 {
		return false
	}
	phrases := [][]string{want}
	for _, synonym := range sizeWords[strings.ToLower(value)] {
		phrases = append(phrases, strings.Fields(synonym))
	}
	for _, phrase := range phrases {
		short := len(phrase) == 1 && (len(phrase[0]) <= 2 || isNumber(phrase[0]))
		for i := 0; i+len(phrase) <= len(tokens); i++ {
			if !equalTokens(tokens[i:i+len(phrase)], phrase) {
				continue
			}
			// A short message may start with the value, as in "M?" or
			// "S or L".
			if !short || (i > 0 && leadWords[tokens[i-1]]) || (i == 0 && len(tokens) <= 3) {
				return true
			}
		}
	}
	return false
}

func equalTokens(a, b []string) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// isDefaultOption reports whether o is the placeholder option of a product
// without options, as Shopify's "Title: Default Title".
func isDefaultOption(o salesagent.Option) bool {
	return strings.EqualFold(o.Value, "Default Title") || strings.EqualFold(o.Value, "Default")
}

// requestedLabel writes requested options as "Blue, size M".
func requestedLabel(requested []requestedOption) string {
	parts := make([]string, len(requested))
	for i, r := range requested {
		values := strings.Join(r.values, " or ")
		if strings.EqualFold(r.name, "size") {
			values = "size " + values
		}
		parts[i] = values
	}
	return strings.Join(parts, ", ")
}

// variantsWith returns the variants that have one of the requested values
// for every requested option.
func variantsWith(variants []salesagent.Variant, requested []requestedOption) []salesagent.Variant {
	var out []salesagent.Variant
	for _, v := range variants {
		ok := true
		for _, r := range requested {
			value := v.Option(r.name)
			match := false
			for _, want := range r.values {
				if strings.EqualFold(value, want) {
					match = true
					break
				}
			}
			if !match {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, v)
		}
	}
	return out
}

func inStockVariants(variants []salesagent.Variant) []salesagent.Variant {
	var out []salesagent.Variant
	for _, v := range variants {
		if v.InStock() {
			out = append(out, v)
		}
	}
	return out
}

// optionSummary lists the option values of subset, as in " in size S, M
// and L, color Blue and Black", in the order the values first appear in
// all, the product's variants. It is empty for products without options.
func optionSummary(all, subset []salesagent.Variant) string {
	present := map[string]bool{}
	for _, v := range subset {
		for _, o := range v.Options {
			present[o.Name+"\x00"+o.Value] = true
		}
	}
	var names []string
	values := map[string][]string{}
	for _, v := range all {
		for _, o := range v.Options {
			if isDefaultOption(o) || !present[o.Name+"\x00"+o.Value] {
				continue
			}
			if _, ok := values[o.Name]; !ok {
				names = append(names, o.Name)
			}
			if !containsString(values[o.Name], o.Value) {
				values[o.Name] = append(values[o.Name], o.Value)
			}
		}
	}
	if len(names) == 0 {
		return ""
	}
	parts := make([]string, len(names))
	for i, name := range names {
		parts[i] = strings.ToLower(name) + " " + joinList(values[name])
	}
	return " in " + strings.Join(parts, ", ")
}

// fewLeft returns a sentence with the number left when the store tracks
// stock for every variant and five or fewer remain.
func fewLeft(variants []salesagent.Variant) string {
	total := 0
	for _, v := range variants {
		if v.Stock == nil {
			return ""
		}
		total += *v.Stock
	}
	if total <= 0 || total > 5 {
		return ""
	}
	return fmt.Sprintf(" Only %d left.", total)
}

// commonCompareAt returns the compare-at price shared by all variants when
// it is above each variant's price, or nil.
func commonCompareAt(variants []salesagent.Variant) *salesagent.Money {
	if len(variants) == 0 || variants[0].CompareAtPrice == nil {
		return nil
	}
	was := *variants[0].CompareAtPrice
	for _, v := range variants {
		if v.CompareAtPrice == nil || *v.CompareAtPrice != was || was <= v.Price {
			return nil
		}
	}
	return &was
}

// colourWords are the colour names a shopper may ask for. A named colour
// that no option value contains is one the product is not offered in.
var colourWords = []string{
	"black", "white", "grey", "gray", "silver", "charcoal", "red", "maroon", "burgundy", "pink",
	"orange", "yellow", "gold", "green", "olive", "khaki", "teal", "turquoise", "blue", "navy",
	"purple", "lavender", "violet", "brown", "tan", "beige", "cream", "ivory",
}

var colourStems = stemSet(colourWords)

// isColourOption reports whether an option's name is colour.
func isColourOption(name string) bool {
	switch strings.ToLower(name) {
	case "color", "colour", "colors", "colours":
		return true
	}
	return false
}

func isSizeOption(name string) bool { return strings.EqualFold(name, "size") }

// optionNamed returns the name of p's first option for which match returns
// true, as the product spells it, or "".
func optionNamed(p *salesagent.Product, match func(string) bool) string {
	for _, v := range p.Variants {
		for _, o := range v.Options {
			if match(o.Name) && !isDefaultOption(o) {
				return o.Name
			}
		}
	}
	return ""
}

// valuesOf returns the distinct values of an option over variants, in the
// order they first appear.
func valuesOf(variants []salesagent.Variant, option string) []string {
	var out []string
	for _, v := range variants {
		if value := v.Option(option); value != "" && !containsString(out, value) {
			out = append(out, value)
		}
	}
	return out
}

// resolveColours matches the colour words of message to p's colour values.
// A word that is part of values not named in full, as "blue" of "Navy
// Blue", adds those values to requested. It returns requested and the
// colour words that no value of p contains.
func resolveColours(p *salesagent.Product, message string, requested []requestedOption) ([]requestedOption, []string) {
	tokens := strings.FieldsFunc(strings.ToLower(message), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '-'
	})
	option := optionNamed(p, isColourOption)
	values := valuesOf(p.Variants, option)
	title := strings.Fields(strings.ToLower(p.Title))

	index := -1
	for i, r := range requested {
		if r.name == option {
			index = i
		}
	}
	var missing []string
	for _, word := range colourWords {
		if !containsString(tokens, word) || containsString(title, word) {
			continue
		}
		if index >= 0 && valuesContainWord(requested[index].values, word) {
			continue
		}
		var partial []string
		for _, value := range values {
			if valuesContainWord([]string{value}, word) {
				partial = append(partial, value)
			}
		}
		if len(partial) == 0 {
			missing = append(missing, word)
			continue
		}
		if index < 0 {
			index = len(requested)
			requested = append(requested, requestedOption{name: option})
		}
		for _, value := range partial {
			if !containsString(requested[index].values, value) {
				requested[index].values = append(requested[index].values, value)
			}
		}
	}
	return requested, missing
}

// valuesContainWord reports whether one of values has word among its words.
func valuesContainWord(values []string, word string) bool {
	for _, value := range values {
		for _, w := range strings.FieldsFunc(strings.ToLower(value), func(r rune) bool { return !unicode.IsLetter(r) }) {
			if w == word {
				return true
			}
		}
	}
	return false
}

// ColorSizes is a group of colours in which the same sizes are in stock.
type ColorSizes struct {
	Colors []string `json:"colors"`
	Sizes  []string `json:"sizes"`
}

// sizesByColour groups the in-stock sizes of variants by colour, merging
// colours whose in-stock sizes are the same. Colours and sizes keep the
// order they first appear in. Colours with no size in stock are left out.
// It returns nil unless the variants have a size option and a colour
// option with more than one value.
func sizesByColour(variants []salesagent.Variant) []ColorSizes {
	sizeName, colourName := "", ""
	for _, v := range variants {
		for _, o := range v.Options {
			switch {
			case sizeName == "" && isSizeOption(o.Name):
				sizeName = o.Name
			case colourName == "" && isColourOption(o.Name):
				colourName = o.Name
			}
		}
	}
	if sizeName == "" || colourName == "" || len(valuesOf(variants, colourName)) < 2 {
		return nil
	}

	sizeOrder := valuesOf(variants, sizeName)
	var groups []ColorSizes
	for _, colour := range valuesOf(variants, colourName) {
		var sizes []string
		for _, size := range sizeOrder {
			for _, v := range variants {
				if v.InStock() && v.Option(colourName) == colour && v.Option(sizeName) == size {
					sizes = append(sizes, size)
					break
				}
			}
		}
		if len(sizes) == 0 {
			continue
		}
		merged := false
		for i := range groups {
			if strings.Join(groups[i].Sizes, "\x00") == strings.Join(sizes, "\x00") {
				groups[i].Colors = append(groups[i].Colors, colour)
				merged = true
				break
			}
		}
		if !merged {
			groups = append(groups, ColorSizes{Colors: []string{colour}, Sizes: sizes})
		}
	}
	return groups
}

// describeSizesByColour writes groups as "Blue in sizes S and L; Black in
// size M", or as "sizes S, M and L in every color (Blue and Black)" when
// one group holds all of the product's colours.
func describeSizesByColour(groups []ColorSizes, allColours []string) string {
	if len(groups) == 1 && len(groups[0].Colors) == len(allColours) {
		return fmt.Sprintf("%s in every color (%s)", sizeWord(groups[0].Sizes), joinList(groups[0].Colors))
	}
	parts := make([]string, len(groups))
	for i, g := range groups {
		parts[i] = joinList(g.Colors) + " in " + sizeWord(g.Sizes)
	}
	return strings.Join(parts, "; ")
}

// sizeWord writes sizes as "size M" or "sizes S and L".
func sizeWord(sizes []string) string {
	return plural(len(sizes), "size", "sizes") + " " + joinList(sizes)
}
