package agent

import (
	"regexp"
	"strings"
)

// unit is one quotable piece of a passage: a sentence, a list item or a
// table row. Its text is cleaned of Markdown, and a table row is written
// with its column headers, as in "Canada: Cost $19.95; Delivery time 5–8
// business days".
type unit struct {
	text  string
	index int
	// table numbers the passage's tables from 1; it is 0 for units that
	// are not table rows.
	table int
	stems map[string]bool
}

// Patterns that mark what a unit states.
var (
	// amountPattern finds a price, a percentage or the word "free".
	amountPattern = regexp.MustCompile(`(?i)[$€£¥]\s?\d|\d\s?(%|percent\b)|\b\d[\d,.]*\s?(usd|eur|gbp|dollars?|euros?|pounds)\b|\bfree\b`)
	digitPattern  = regexp.MustCompile(`\d`)
	// exceptionPattern finds the words of a limit or an exception, which a
	// broad question's answer leaves for later.
	exceptionPattern = regexp.MustCompile(`(?i)\b(cannot|can't|can not|unless|except|excluding|excluded|don't|doesn't|won't|isn't|aren't|refuse|however)\b`)
	// separatorRow is a Markdown table's line under the header.
	separatorRow = regexp.MustCompile(`^\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?$`)
	// listMarker starts a Markdown list item.
	listMarker = regexp.MustCompile(`^([-*+•]|\d{1,2}[.)])\s+`)
)

func (u unit) hasAmount() bool    { return amountPattern.MatchString(u.text) }
func (u unit) hasNumber() bool    { return digitPattern.MatchString(u.text) }
func (u unit) hasException() bool { return exceptionPattern.MatchString(normalize(u.text)) }

// passageUnits returns the units of a passage, as splitUnits cuts them.
// Turns quote from the same few passages again and again, so the units of
// recent passages are kept. The caller must not change them.
func passageUnits(content string) []unit {
	if units, ok := unitCache.Get(content); ok {
		return units
	}
	units := splitUnits(content)
	unitCache.Add(content, units)
	return units
}

// splitUnits cuts a passage into units. Consecutive lines with a "|"
// form a table whose first line is the header. A list item stays one unit,
// because its sentences share the item's subject, as in "Standard: $6.95.
// Delivery takes 3–5 days." Other lines are cut into sentences. A line
// that ends mid-sentence continues on the next line when that line starts
// in lower case, as hard-wrapped Markdown does.
func splitUnits(content string) []unit {
	var units []unit
	add := func(text string, table int) {
		if text = strings.TrimSpace(text); text == "" {
			return
		}
		units = append(units, unit{text: text, index: len(units), table: table, stems: setOf(stems(text))})
	}

	lines := strings.Split(strings.ReplaceAll(content, "\r\n", "\n"), "\n")
	var prose []string
	flush := func() {
		for _, s := range splitSentences(strings.Join(prose, " ")) {
			add(cleanMarkdown(s), 0)
		}
		prose = prose[:0]
	}
	tables := 0
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		switch {
		case line == "":
			flush()
		case strings.Contains(line, "|") && i+1 < len(lines) && strings.Contains(lines[i+1], "|"):
			flush()
			end := i
			for end < len(lines) && strings.Contains(lines[end], "|") {
				end++
			}
			tables++
			for _, row := range tableRows(lines[i:end]) {
				add(row, tables)
			}
			i = end - 1
		case listMarker.MatchString(line):
			flush()
			add(cleanMarkdown(line), 0)
		default:
			if len(prose) > 0 && !continuesLine(prose[len(prose)-1], line) {
				flush()
			}
			prose = append(prose, line)
		}
	}
	flush()
	return units
}

// continuesLine reports whether next carries on the sentence that prev
// started: prev lacks end punctuation and next starts in lower case.
func continuesLine(prev, next string) bool {
	prev = strings.TrimSpace(prev)
	if prev == "" || strings.ContainsAny(prev[len(prev)-1:], ".!?:") {
		return false
	}
	first := []rune(next)[0]
	return first >= 'a' && first <= 'z'
}

// tableRows writes each data row of a table as "first cell: Header value;
// Header value". The first line is the header. A first cell holding a
// number, as "Up to $200", keeps its header, as "Merchandise total Up to
// $200", because the number alone does not say what it measures.
func tableRows(lines []string) []string {
	var header []string
	var rows []string
	for i, line := range lines {
		line = strings.TrimSpace(line)
		if separatorRow.MatchString(line) {
			continue
		}
		cells := tableCells(line)
		if i == 0 {
			header = cells
			continue
		}
		if len(cells) == 0 {
			continue
		}
		first := cells[0]
		if len(header) > 0 && header[0] != "" && digitPattern.MatchString(first) {
			first = header[0] + " " + first
		}
		var parts []string
		for j := 1; j < len(cells); j++ {
			if cells[j] == "" {
				continue
			}
			if j < len(header) && header[j] != "" {
				parts = append(parts, header[j]+" "+cells[j])
			} else {
				parts = append(parts, cells[j])
			}
		}
		if len(parts) == 0 {
			rows = append(rows, first)
			continue
		}
		rows = append(rows, first+": "+strings.Join(parts, "; "))
	}
	return rows
}

// tableCells splits a table line at "|" and cleans each cell, dropping the
// empty cells that a leading or trailing "|" leaves.
func tableCells(line string) []string {
	line = strings.TrimSpace(line)
	line = strings.TrimPrefix(line, "|")
	line = strings.TrimSuffix(line, "|")
	cells := strings.Split(line, "|")
	for i, cell := range cells {
		cells[i] = cleanMarkdown(cell)
	}
	return cells
}

// Markdown marks that cleanMarkdown removes.
var (
	strongEmphasis = regexp.MustCompile(`\*\*|__`)
	// emphasis is a word or phrase in single asterisks or underscores.
	emphasis = regexp.MustCompile(`(^|[\s(])[*_]([^*_\s](?:[^*_]*[^*_\s])?)[*_]($|[\s).,;:!?])`)
	// footnoteMark is a run of asterisks at the start or end of a word, as
	// in "Merchandise total *" or "*before tax".
	footnoteMark = regexp.MustCompile(`(^|\s)\*+|\*+(\s|$)`)
	markdownLink = regexp.MustCompile(`\[([^\]]+)\]\([^)]*\)`)
	headingMark  = regexp.MustCompile(`^#{1,6}\s+`)
)

// cleanMarkdown returns text as it reads in chat: without emphasis marks,
// footnote asterisks, list markers, heading marks, link targets or code
// ticks. Every unit checked for quoting cleans its passage's heading and
// title, so recent results are kept.
func cleanMarkdown(text string) string {
	if clean, ok := cleanCache.Get(text); ok {
		return clean
	}
	clean := stripMarkdown(text)
	cleanCache.Add(text, clean)
	return clean
}

func stripMarkdown(text string) string {
	text = strings.TrimSpace(text)
	text = headingMark.ReplaceAllString(text, "")
	text = listMarker.ReplaceAllString(text, "")
	text = markdownLink.ReplaceAllString(text, "$1")
	text = strongEmphasis.ReplaceAllString(text, "")
	text = emphasis.ReplaceAllString(text, "$1$2$3")
	text = footnoteMark.ReplaceAllString(text, "$1$2")
	text = strings.ReplaceAll(text, "`", "")
	return strings.Join(strings.Fields(text), " ")
}
