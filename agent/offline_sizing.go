package agent

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/salesagent/salesagent"
)

// measure is a body measurement or shoe size the shopper gave.
type measure struct {
	// part is "chest", "waist", "hip", "inseam", "foot", "height" or
	// "shoe".
	part  string
	value float64
	// unit is "in" or "cm" for body measurements, "" when not given. For
	// a shoe size it names the size system: "women", "men", "uk", "eu" or
	// "" for a bare size.
	unit string
	// text is the measurement as the reply writes it, as "39 in chest".
	text string
}

// Patterns of measurements in a sizing question, matched on the
// normalized message.
var (
	measureNumber = `(\d{1,3}(?:\.\d+)?)`
	measureUnit   = `(inches|inch|in\b|"|cm\b|centimeters|centimetres)?`
	measurePart   = `(chest|bust|waist|hips?|inseam|foot length|foot)`
	// partAfter is a number before the part, as "39 inch chest".
	partAfter = regexp.MustCompile(`\b` + measureNumber + `\s*` + measureUnit + `\.?\s*-?\s*` + measurePart + `\b`)
	// partBefore is a part before the number, as "my chest is 99 cm".
	partBefore = regexp.MustCompile(`\b` + measurePart + `\s*(?:size\s*)?(?:is|of|:|=|measures?|measurement is|is about|is around)?\s*` + measureNumber + `\s*` + measureUnit)
	// feetInches is a height such as 5'10, 5 ft 10 or 6 feet.
	feetInches = regexp.MustCompile(`\b([4-7])\s*(?:'|ft\b|feet\b|foot\b)\s*(\d{1,2})?`)
	// heightCM is a height in centimeters, as "178 cm".
	heightCM = regexp.MustCompile(`\b(1[4-9]\d|2[01]\d)\s*cm\b`)
	// bodyWeight is a weight such as 180lb or 80 kg.
	bodyWeight = regexp.MustCompile(`\b\d{2,3}\s?(lb|lbs|pounds|kg|kilos)\b`)
	// shoeSystemFirst is a shoe size after its system, as "women's 9.5".
	shoeSystemFirst = regexp.MustCompile(`\b(women'?s|womens|ladies|men'?s|mens|us|uk|eu)\s*(?:size\s*)?(\d{1,2}(?:\.5)?)\b`)
	// shoeSystemAfter is a shoe size before its system, as "9.5 women's".
	shoeSystemAfter = regexp.MustCompile(`\b(\d{1,2}(?:\.5)?)\s*(?:in\s*)?(women'?s|womens|ladies|men'?s|mens)\b`)
	// shoeBare is a shoe size without a system, as "I wear a 9.5". "Size
	// 10" alone names a size to buy, not the shopper's own size.
	shoeBare = regexp.MustCompile(`\b(?:wear(?: a| size)?|i am a|i am size)\s*(\d{1,2}(?:\.5)?)\b`)
)

// measuresIn returns the measurements of a message. weight is set when it
// gives a body weight, which size charts rarely have a column for.
func measuresIn(message string) (measures []measure, weight bool) {
	text := normalize(message)
	add := func(part string, value float64, unit, written string) {
		measures = append(measures, measure{part: part, value: value, unit: unit, text: written})
	}

	for _, re := range []*regexp.Regexp{partAfter, partBefore} {
		for _, m := range re.FindAllStringSubmatch(text, -1) {
			number, unit, part := m[1], m[2], m[3]
			if re == partBefore {
				part, number, unit = m[1], m[2], m[3]
			}
			value, _ := strconv.ParseFloat(number, 64)
			part = canonicalPart(part)
			unit = canonicalUnit(unit)
			add(part, value, unit, strings.TrimSpace(number+" "+unit+" "+part))
		}
		text = re.ReplaceAllString(text, " ")
	}

	if m := feetInches.FindStringSubmatch(text); m != nil {
		feet, _ := strconv.Atoi(m[1])
		inches, _ := strconv.Atoi(m[2])
		written := fmt.Sprintf("%d ft %d in", feet, inches)
		add("height", float64(feet*12+inches), "in", written)
	} else if m := heightCM.FindStringSubmatch(text); m != nil {
		value, _ := strconv.ParseFloat(m[1], 64)
		add("height", value, "cm", m[1]+" cm")
	}
	weight = bodyWeight.MatchString(text)

	switch m := shoeSystemFirst.FindStringSubmatch(text); {
	case m != nil:
		value, _ := strconv.ParseFloat(m[2], 64)
		add("shoe", value, shoeSystem(m[1]), m[2])
	default:
		if m := shoeSystemAfter.FindStringSubmatch(text); m != nil {
			value, _ := strconv.ParseFloat(m[1], 64)
			add("shoe", value, shoeSystem(m[2]), m[1])
		} else if m := shoeBare.FindStringSubmatch(text); m != nil {
			value, _ := strconv.ParseFloat(m[1], 64)
			add("shoe", value, "", m[1])
		}
	}
	return measures, weight
}

// phrase writes the measurement for a sentence, as "a 39 in chest" or "a
// height of 5 ft 10 in".
func (m measure) phrase() string {
	if m.part == "height" {
		return "a height of " + m.text
	}
	return "a " + m.text
}

func canonicalPart(part string) string {
	switch part {
	case "bust":
		return "chest"
	case "hips":
		return "hip"
	case "foot length":
		return "foot"
	}
	return part
}

func canonicalUnit(unit string) string {
	switch unit {
	case "":
		return ""
	case "cm", "centimeters", "centimetres":
		return "cm"
	}
	return "in"
}

func shoeSystem(word string) string {
	word = strings.ReplaceAll(word, "'", "")
	switch word {
	case "womens", "ladies":
		return "women"
	case "mens", "us":
		return "men"
	}
	return word
}

// sizeTable is a size guide's table with its numbers parsed.
type sizeTable struct {
	table *salesagent.Table
	// low and high hold each cell's range; a single number has low ==
	// high, and a cell that is not a number has ok false.
	low, high [][]float64
	ok        [][]bool
}

// cellRange matches a cell such as "38–40", "97 - 102" or "9.5".
var cellRange = regexp.MustCompile(`^\s*(\d+(?:\.\d+)?)\s*(?:(?:–|—|-|to)\s*(\d+(?:\.\d+)?))?\s*$`)

func parseSizeTable(t *salesagent.Table) sizeTable {
	st := sizeTable{table: t}
	for _, row := range t.Rows {
		lows, highs, oks := make([]float64, len(row)), make([]float64, len(row)), make([]bool, len(row))
		for j, cell := range row {
			m := cellRange.FindStringSubmatch(cell)
			if m == nil {
				continue
			}
			lows[j], _ = strconv.ParseFloat(m[1], 64)
			highs[j] = lows[j]
			if m[2] != "" {
				highs[j], _ = strconv.ParseFloat(m[2], 64)
			}
			oks[j] = true
		}
		st.low, st.high, st.ok = append(st.low, lows), append(st.high, highs), append(st.ok, oks)
	}
	return st
}

// columnUnit finds the unit of a column header, as "in" in "Chest (in)".
var columnUnit = regexp.MustCompile(`(?i)\((in|inches|cm)\)`)

// column returns the index of the column that measure m reads, and the
// value in that column's unit, or -1. A measurement without a unit reads
// the column whose range holds it, inches first, and one in a unit the
// table lacks is converted.
func (st sizeTable) column(m measure) (index int, value float64) {
	if m.part == "shoe" {
		return st.shoeColumn(m.unit), m.value
	}
	byUnit := map[string]int{}
	for j, name := range st.table.Columns {
		lower := strings.ToLower(name)
		if j == 0 || !strings.Contains(lower, m.part) {
			continue
		}
		unit := ""
		if u := columnUnit.FindStringSubmatch(lower); u != nil {
			unit = canonicalUnit(u[1])
		}
		if _, seen := byUnit[unit]; !seen {
			byUnit[unit] = j
		}
	}
	if len(byUnit) == 0 {
		return -1, 0
	}
	if m.unit == "" {
		for _, unit := range []string{"in", "cm", ""} {
			if j, ok := byUnit[unit]; ok && st.spans(j, m.value) {
				return j, m.value
			}
		}
		return -1, 0
	}
	if j, ok := byUnit[m.unit]; ok {
		return j, m.value
	}
	if j, ok := byUnit[""]; ok {
		return j, m.value
	}
	for unit, j := range byUnit {
		switch {
		case m.unit == "cm" && unit == "in":
			return j, math.Round(m.value/2.54*10) / 10
		case m.unit == "in" && unit == "cm":
			return j, math.Round(m.value*2.54*10) / 10
		}
	}
	return -1, 0
}

// shoeColumn returns the column of a shoe size system, or the first
// column for a bare size when it is the US one.
func (st sizeTable) shoeColumn(system string) int {
	for j, name := range st.table.Columns {
		lower := strings.ToLower(strings.ReplaceAll(name, "'", ""))
		switch system {
		case "women":
			if strings.Contains(lower, "women") {
				return j
			}
		case "men":
			if lower == "us" || (strings.Contains(lower, "men") && !strings.Contains(lower, "women")) {
				return j
			}
		case "uk", "eu":
			if lower == system {
				return j
			}
		case "":
			if j == 0 && lower == "us" {
				return 0
			}
		}
	}
	return -1
}

// spans reports whether value lies within the lowest and highest values of
// column j.
func (st sizeTable) spans(j int, value float64) bool {
	low, high, any := math.Inf(1), math.Inf(-1), false
	for i := range st.low {
		if j < len(st.ok[i]) && st.ok[i][j] {
			low, high, any = min(low, st.low[i][j]), max(high, st.high[i][j]), true
		}
	}
	return any && value >= low-0.5 && value <= high+0.5
}

// sizeMatch is the place of a value in a column: the rows whose range
// contains it, or the two rows it falls between, or neither when it is off
// the chart.
type sizeMatch struct {
	rows    []int
	between [2]int
	isGap   bool
}

// match finds value in column j.
func (st sizeTable) match(j int, value float64) sizeMatch {
	var m sizeMatch
	for i := range st.low {
		if j < len(st.ok[i]) && st.ok[i][j] && value >= st.low[i][j] && value <= st.high[i][j] {
			m.rows = append(m.rows, i)
		}
	}
	if len(m.rows) > 0 {
		return m
	}
	previous := -1
	for i := range st.low {
		if j >= len(st.ok[i]) || !st.ok[i][j] {
			continue
		}
		if previous >= 0 && value > st.high[previous][j] && value < st.low[i][j] {
			m.between, m.isGap = [2]int{previous, i}, true
			return m
		}
		previous = i
	}
	return m
}

// label returns the size a row stands for, from the first column.
func (st sizeTable) label(row int) string { return st.table.Rows[row][0] }

// cell returns column j of a row as written.
func (st sizeTable) cell(row, j int) string { return st.table.Rows[row][j] }

// fitDirection finds in fit notes whether a product runs small or large.
// It returns +1 for a size up, -1 for a size down and 0 when the notes
// say neither, with the note that says it.
func fitDirection(notes []string) (int, string) {
	for _, note := range notes {
		lower := normalize(note)
		switch {
		case runsSmall.MatchString(lower):
			return 1, note
		case runsLarge.MatchString(lower):
			return -1, note
		}
	}
	return 0, ""
}

var (
	runsSmall = regexp.MustCompile(`\bruns?\s+(?:about\s+|slightly\s+|a\s+|half\s+a\s+|half\s+)*(?:size\s+)?small\b|\bhalf\s+size\s+small\b`)
	runsLarge = regexp.MustCompile(`\bruns?\s+(?:about\s+|slightly\s+|a\s+|half\s+a\s+|half\s+)*(?:size\s+)?(?:large|big)\b`)
)

// onlyBetweenSizes reports whether the fit notes tell the shopper to size
// up or down only when between sizes, as in "Runs large. If you are
// between sizes, size down."
func onlyBetweenSizes(notes []string) bool {
	for _, note := range notes {
		if strings.Contains(strings.ToLower(note), "between sizes") {
			return true
		}
	}
	return false
}

// betweenNotes returns the sentences of the guide's notes and the fit
// notes that say what to do between sizes.
func betweenNotes(guideNotes string, fit []string) []string {
	var out []string
	for _, sentence := range append(splitSentences(guideNotes), fit...) {
		if strings.Contains(strings.ToLower(sentence), "between sizes") && !containsString(out, sentence) {
			out = append(out, sentence)
		}
	}
	return out
}

// recommendSize writes the steps from the shopper's measurements to a size
// by the guide's table: the row whose range holds the measurement, then
// one size up or down when the product's fit note says it runs small or
// large. It never goes beyond the table. It returns no sentences when the
// message gives no measurement, and usedFit is set when a sentence quoted
// the fit notes.
func recommendSize(message string, data SizeGuideData, product *salesagent.Product) (sentences []string, usedFit bool) {
	measures, weight := measuresIn(message)
	if data.Table == nil || (len(measures) == 0 && !weight) {
		return nil, false
	}
	st := parseSizeTable(data.Table)
	guide := data.Title
	if guide == "" {
		guide = "size guide"
	}

	for _, m := range measures {
		j, value := st.column(m)
		if j < 0 {
			continue
		}
		column := data.Table.Columns[j]
		written := m.phrase()
		if m.part == "shoe" {
			written = fmt.Sprintf("%s %s", column, m.text)
		} else if value != m.value {
			written = fmt.Sprintf("%s (about %s %s)", written, strconv.FormatFloat(value, 'f', -1, 64), columnUnitName(column))
		}
		// A shoe size reads as "US 8", the header of the size column
		// before the size.
		sizeOf := func(row int) string { return "size " + st.label(row) }
		if m.part == "shoe" {
			sizeOf = func(row int) string { return data.Table.Columns[0] + " " + st.label(row) }
		}
		match := st.match(j, value)
		direction, note := fitDirection(data.FitNotes)

		switch {
		case len(match.rows) > 0:
			row := match.rows[0]
			if len(match.rows) > 1 {
				labels := make([]string, len(match.rows))
				for i, r := range match.rows {
					labels[i] = st.label(r)
				}
				return append(sentences, fmt.Sprintf("In our %s, %s falls in the %s ranges of sizes %s.", guide, written, column, joinList(labels))), false
			}
			switch {
			case j == 0 && direction == 0:
				// The shopper gave a size of the chart's own column, so
				// the chart adds nothing to it.
				return nil, false
			case j == 0:
			case m.part == "shoe":
				sentences = append(sentences, fmt.Sprintf("In our %s, %s is %s.", guide, written, sizeOf(row)))
			default:
				sentences = append(sentences, fmt.Sprintf("In our %s, %s is %s (%s %s).", guide, written, sizeOf(row), column, st.cell(row, j)))
			}
			if direction == 0 || data.ProductTitle == "" {
				return sentences, false
			}
			if onlyBetweenSizes(data.FitNotes) {
				// The fit note moves only a size that falls between two
				// sizes, and this one sits on a row of the chart.
				return append(sentences, fmt.Sprintf("The %s description says: %q You are not between sizes, so take %s.%s",
					data.ProductTitle, strings.Join(data.FitNotes, " "), sizeOf(row), sizeStock(product, st.label(row)))), true
			}
			next := row + direction
			if next < 0 || next >= len(data.Table.Rows) {
				return append(sentences, fmt.Sprintf("The %s description says: %q %s is the %s size on the chart.", data.ProductTitle, note, capitalize(sizeOf(row)), extremeWord(direction))), true
			}
			return append(sentences, fmt.Sprintf("The %s description says: %q So go one size %s from %s, to %s.%s",
				data.ProductTitle, note, directionWord(direction), sizeOf(row), sizeOf(next), sizeStock(product, st.label(next)))), true
		case match.isGap:
			lower, upper := match.between[0], match.between[1]
			if j == 0 {
				sentences = append(sentences, fmt.Sprintf("In our %s, %s falls between %s and %s.", guide, written, sizeOf(lower), sizeOf(upper)))
			} else {
				sentences = append(sentences, fmt.Sprintf("In our %s, %s falls between %s (%s %s) and %s (%s %s).",
					guide, written, sizeOf(lower), column, st.cell(lower, j), sizeOf(upper), column, st.cell(upper, j)))
			}
			if direction != 0 && data.ProductTitle != "" {
				pick := upper
				if direction < 0 {
					pick = lower
				}
				if onlyBetweenSizes(data.FitNotes) {
					note = strings.Join(data.FitNotes, " ")
				}
				return append(sentences, fmt.Sprintf("The %s description says: %q So take %s.%s", data.ProductTitle, note, sizeOf(pick), sizeStock(product, st.label(pick)))), true
			}
			if notes := betweenNotes(data.Table.Notes, data.FitNotes); len(notes) > 0 {
				sentences = append(sentences, fmt.Sprintf("For between sizes, the guide says: %q", strings.Join(notes, " ")))
			}
			return sentences, false
		default:
			return append(sentences, fmt.Sprintf("%s is outside the %s range of our %s, so I can't match it to a size.", capitalize(written), column, guide)), false
		}
	}

	// Height, weight or a part the chart has no column for.
	parts := measuredParts(data.Table)
	if len(parts) == 0 {
		return nil, false
	}
	return []string{fmt.Sprintf("Our %s goes by %s, not by height or weight. What is your %s measurement? I'll match it to a size.", guide, joinList(parts), parts[0])}, false
}

// measuredParts returns the body parts a size table measures, as "chest"
// and "waist", in column order.
func measuredParts(t *salesagent.Table) []string {
	var parts []string
	for j, name := range t.Columns {
		if j == 0 {
			continue
		}
		part := strings.ToLower(strings.TrimSpace(columnUnit.ReplaceAllString(name, "")))
		if part != "" && !containsString(parts, part) {
			parts = append(parts, part)
		}
	}
	return parts
}

func columnUnitName(column string) string {
	if u := columnUnit.FindStringSubmatch(column); u != nil {
		return canonicalUnit(strings.ToLower(u[1]))
	}
	return ""
}

func directionWord(direction int) string {
	if direction > 0 {
		return "up"
	}
	return "down"
}

func extremeWord(direction int) string {
	if direction > 0 {
		return "largest"
	}
	return "smallest"
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// sizeStock writes where a size of the product is in stock, as " Size 9
// is in stock in Black and sold out in Tan.", or "" without a product.
func sizeStock(p *salesagent.Product, size string) string {
	if p == nil {
		return ""
	}
	requested := []requestedOption{{name: optionNamed(p, isSizeOption), values: []string{size}}}
	matching := variantsWith(p.Variants, requested)
	if len(matching) == 0 {
		return ""
	}
	if len(inStockVariants(matching)) == 0 {
		return fmt.Sprintf(" Size %s is sold out right now.", size)
	}
	if split, ok := splitByOtherOption(p, requested, matching); ok {
		if sentence := split.sentence(); sentence != "" {
			return " " + sentence
		}
	}
	return fmt.Sprintf(" Size %s is in stock.", size)
}
